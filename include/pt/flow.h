/* flow.h - bidirectional flow key, symmetric hash, sharded RCU flow table,
 * TCP state, and the finished-flow record.
 *
 * Threads and ownership (docs/THREADS.md has the whole picture):
 * - Capture workers are QSBR readers of the table (urcu-qsbr flavour). Each
 *   owns a struct pt_flow_worker: its flow pool (fixed at start), its free
 *   list and its counters. A worker inserts flows (cds_lfht_add_unique) and
 *   updates them; it never removes one.
 * - Exactly one thread, the remover (the aggregation thread live, the offline
 *   driver in `read`), calls pt_flow_table_expire(): it is the only caller of
 *   cds_lfht_del, and frees flows with call_rcu back to the owning worker's
 *   pool (a lock-free return stack the owner drains when its free list runs
 *   dry).
 * - A flow's mutable state is guarded by a one-byte spin lock in the flow.
 *   It is uncontended unless the same flow arrives on two workers at once
 *   (two mirror ports carrying the two directions): one atomic exchange per
 *   packet on a cache line the worker touches anyway.
 *
 * Keys are direction-free: (VLAN ids, IP version, L4 protocol, address pair,
 * port pair) with the lower (address, port) endpoint first, so both
 * directions of a connection find the same flow. ICMP/ICMPv6 use
 * (type class, echo id) in place of ports; see pt_flow_key_make(). The
 * interface is not part of the key: one connection seen on several
 * interfaces is one flow whose record lists every interface.
 *
 * Originator follows Zeek: the sender of a SYN without ACK; otherwise the
 * sender of the first packet seen (with Zeek's flip when the first packet
 * seen is a SYN-ACK). */
#ifndef PT_FLOW_H
#define PT_FLOW_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "pt/app.h"
#include "pt/appid.h"
#include "pt/common.h"
#include "pt/decode.h"
#include "pt/rtp.h"

struct pt_flow_key {
    uint8_t addr[2][16]; /* IPv4 as ::ffff:a.b.c.d; addr[0]/port[0] is the lower endpoint */
    uint16_t port[2];
    uint16_t vlan[2]; /* outer, inner VLAN id; PT_VLAN_NONE when absent */
    uint8_t proto;    /* IP protocol number */
    uint8_t ver;      /* 4 or 6 */
    uint8_t pad[2];   /* always zero, so keys compare with memcmp */
};

/* Build the normalised key of IP layer @l3. Sets *@swapped to true when the
 * packet travels from addr[1]/port[1] to addr[0]/port[0]. TCP/UDP/SCTP: the
 * ports. ICMP/ICMPv6 (addresses ordered alone, ports direction-free):
 * request/response types (echo, timestamp, information, address mask, router
 * and neighbor discovery, MLD, node information) give port[0] = echo id and
 * port[1] = 0x8000 | request type, so a request and its reply share a flow;
 * other types give port[0] = type, port[1] = code, as Zeek keys them. Other
 * protocols, and layers without a decoded transport header: ports 0.
 * Returns false only when @l3 is not IPv4/IPv6. pt_flow_process() does not
 * build keys for non-first fragments (PT_L3_FRAG without PT_L3_FRAG_HEAD):
 * they carry no ports and are only counted (frag_pkts). Thread: any. */
bool pt_flow_key_make(struct pt_flow_key *key, const struct pt_l3 *l3, bool *swapped);

/* The flow of decoded packet @p for per-flow accounting outside the table
 * (the ring's cutoff): a 64-bit hash, never 0, of the normalised key of its
 * innermost IP layer (the conversation inside any tunnel); equal for both
 * directions. A non-first fragment has no ports: it hashes as the address
 * pair's portless flow. 0 when @p has no IP layer. A capture worker gets it
 * from pt_flow_process(); this is for a thread without the table (the
 * offline reader writing the ring). Thread: any. */
uint64_t pt_flow_pkt_hash(const struct pt_pkt *p);

/* Symmetric Toeplitz hash of @key: equal for both directions of a
 * connection (the key is normalised, and the hash key is the symmetric
 * 0x6d5a pattern, so the raw tuple hashes the same either way too). Input:
 * addr[0], addr[1], port[0], port[1], proto << 8 | ver, vlan[0], vlan[1], as
 * big-endian 16-bit words; for a key without VLANs it equals
 * pt_flow_hash_tuple() of the key's fields. It is what a NIC's symmetric
 * RSS computes, and the offline reader dispatches frames to workers with it.
 * The table does not use it: the symmetric Toeplitz hash depends only on the
 * XOR of the input's 16-bit words (2^16 values), too few to spread a million
 * flows, so the table hashes the normalised key (symmetric because the key
 * is) with one 64-bit hash whose high half picks the shard and whose low end
 * picks the cds_lfht bucket. Thread: any. */
uint32_t pt_flow_hash(const struct pt_flow_key *key);

/* The same hash over a raw, not normalised tuple (src, dst, sport, dport),
 * as a NIC's symmetric RSS would compute it. For tests and dispatch. */
uint32_t pt_flow_hash_tuple(const uint8_t src[16], const uint8_t dst[16], uint16_t sport,
                            uint16_t dport, uint8_t proto);

enum pt_flow_full_policy {
    PT_FLOW_FULL_REFUSE = 0, /* a new flow finding no free slot is not tracked; counted */
    PT_FLOW_FULL_EVICT,      /* the remover expires the longest-idle flows early when
                              * the table passes 90% of its capacity; counted */
};

#define PT_FLOW_APP_STATES 4096 /* default parser states per worker */
#define PT_FLOW_APP_QUEUE  1024 /* default app record queue slots per worker */
#define PT_FLOW_RTP_STATES 4096 /* default RTP stream states per worker */

struct pt_flow_config {
    uint32_t shards;    /* number of cds_lfht shards (>= 1) */
    uint32_t workers;   /* number of pt_flow_worker that will attach (1..256) */
    uint64_t max_flows; /* total capacity, split evenly into per-worker pools */
    uint64_t idle_tcp_ns, idle_udp_ns, idle_icmp_ns, idle_other_ns;
    uint64_t active_ns;      /* split a flow still active after this long; 0 = never */
    uint64_t close_delay_ns; /* after FIN both ways or RST, keep the flow this long after its
                              * last packet (Zeek: 5 s) */
    enum pt_flow_full_policy full_policy;
    uint32_t sweep_shards; /* shards one non-flush expire walks, in rotation; 0 = an eighth */
    uint32_t live_ticks;   /* pt_flow_table_tick: ticks between two live records of a flow
                            * that carries packets; 0 = 60 */
    /* Application layer (docs/APP.md). */
    bool app_off;        /* no detection, no parsers, no app records */
    uint32_t app_states; /* parser states (HTTP, TLS, DNS) per worker; 0 = PT_FLOW_APP_STATES */
    uint32_t app_queue;  /* app record queue slots per worker; 0 = PT_FLOW_APP_QUEUE */
    uint32_t rtp_states; /* RTP stream states (168 bytes) per worker; 0 = PT_FLOW_RTP_STATES */
    bool app_queue_grow; /* a full queue grows instead of dropping: only when the
                          * consumer drains with every worker stopped (`read`) */
};

/* Defaults: 16 shards, 1 worker, 1 M flows, idle TCP 300 s, UDP 60 s, ICMP
 * 60 s, other 60 s, active 3600 s, close delay 5 s, refuse when full. */
void pt_flow_config_default(struct pt_flow_config *cfg);

/* ---- TCP health (src/flow/tcp_health.c) -------------------------------------
 *
 * Per flow and direction: retransmissions, out-of-order segments, duplicate
 * ACKs, zero-window segments and lost segments ("previous segment not
 * captured") as tshark 4.0's tcp.analysis.* flags them; the handshake times
 * (SYN -> SYN/ACK, SYN/ACK -> ACK, and their sum as tshark's
 * tcp.analysis.initial_rtt); the first window, window scale and MSS each side
 * announced; and the first TTL/hop limit and DSCP seen each way (any IP
 * protocol).
 *
 * Bounded state, no per-segment lists: tshark keeps every unacknowledged
 * segment; we keep per direction only the scalars its flag decisions read
 * (next expected sequence, last ACK, window, their times, the dup-ACK run,
 * two flags of the previous segment). Not kept, so not reproduced: tshark's
 * "ACKed segment that wasn't captured" bookkeeping (maxseqtobeacked, which
 * can reset a dup-ACK run), its 1000-segment cap on the unacked list (past
 * which a FIN no longer advances nextseq), and nanosecond times: times are
 * kept in microseconds modulo 2^32 (71 minutes; the flow table's idle and
 * active timeouts split flows well before). docs/ACCURACY.md ("TCP health")
 * lists the measured differences on the shared captures. */

/* Direction state, one per key side. 44 bytes. */
struct pt_tcp_health_dir {
    uint32_t nextseq;    /* tshark's nextseq: one past the highest sequence sent (0 = unset) */
    uint32_t lastack;    /* ACK field of this side's last segment */
    uint32_t window;     /* this side's last window, scaled as tshark scales it */
    uint32_t nextseq_us; /* time nextseq last moved, us mod 2^32 */
    uint32_t lastack_us; /* time of this side's last segment, us mod 2^32 */
    uint32_t retrans;    /* segments flagged retransmission (incl. fast and spurious) */
    uint32_t dup_acks;   /* segments flagged duplicate ACK */
    uint16_t ooo;        /* out-of-order; the 16-bit counters saturate (counted) */
    uint16_t lost;       /* previous segment not captured */
    uint16_t zero_win;   /* window 0 on a segment without SYN/FIN/RST */
    uint16_t mss;        /* MSS option of this side's SYN, 0 = none */
    uint16_t init_win;   /* raw window of this side's first segment */
    uint8_t dupacks;     /* current run of duplicate ACKs (saturates at 255) */
    int8_t ws_opt;       /* window-scale option of this side's SYN, -1 = none */
    int8_t ws;           /* tshark's win_scale: -1 unknown, -2 not used, else the shift */
    uint8_t fl;          /* PT_TCPH_* */
};

#define PT_TCPH_TCP_SEEN 0x02 /* a TCP segment of this side was analysed */
#define PT_TCPH_LAST_KA  0x04 /* this side's last segment was a keep-alive */
#define PT_TCPH_LAST_ZWP 0x08 /* ... a zero-window probe */

/* Whole-connection state: both directions and the handshake. 100 bytes, in
 * the flow table's TCP side array (only TCP flows touch theirs): no lists,
 * every field a scalar, whatever the traffic. The handshake times are overwritten
 * by the RTTs once the RTT is known (nothing reads them after). */
struct pt_tcp_health {
    struct pt_tcp_health_dir d[2]; /* by key side */
    union {
        uint32_t syn_us; /* before PT_TCPH_HS_RTT: latest SYN without ACK, us mod 2^32 */
        uint32_t rtt_us; /* after: SYN -> first segment with ACK and without SYN */
    };
    union {
        uint32_t synack_us;     /* before PT_TCPH_HS_RTT: latest SYN/ACK after that SYN */
        uint32_t synack_ack_us; /* after (with PT_TCPH_HS_SYNACK): SYN/ACK -> that ACK */
    };
    uint8_t hs; /* PT_TCPH_HS_* */
};

#define PT_TCPH_HS_SYN    0x01
#define PT_TCPH_HS_SYNACK 0x02
#define PT_TCPH_HS_RTT    0x04

/* Odd input the analysis met: counted, never fatal. Stable names:
 * pt_tcp_health_err_name(). */
enum pt_tcp_health_err {
    PT_TCPH_OK = 0,
    PT_TCPH_WSCALE_OVER_14,   /* flow.tcp.wscale_over_14: shift > 14 in a SYN, used as 14 */
    PT_TCPH_SATURATED,        /* flow.tcp.counter_saturated: a 16-bit counter hit its max */
    PT_TCPH_TIME_BACKWARDS,   /* flow.tcp.time_backwards: handshake packet older than the SYN */
    PT_TCPH_SYN_OPTS_MISSING, /* flow.tcp.syn_without_options: SYN with no option parsed */
    PT_TCPH_ERR_MAX
};

/* Per-worker counters of the analysis (in struct pt_flow_worker_stats). */
/* Events of every flow, as the per-flow counters count them (the
 * aggregation thread's series tcp_retransmissions, ...). */
enum pt_tcph_ev {
    PT_TCPH_EV_RETRANS = 0, /* tcp.analysis.retransmission (fast and spurious included) */
    PT_TCPH_EV_OOO,         /* tcp.analysis.out_of_order */
    PT_TCPH_EV_DUP_ACK,     /* tcp.analysis.duplicate_ack */
    PT_TCPH_EV_ZERO_WIN,    /* tcp.analysis.zero_window */
    PT_TCPH_EV_LOST,        /* tcp.analysis.lost_segment */
    PT_TCPH_EV_MAX
};

struct pt_tcp_health_stats {
    uint64_t err[PT_TCPH_ERR_MAX];
    uint64_t ev[PT_TCPH_EV_MAX]; /* PT_CNT_*: read by the aggregation thread */
};

/* Stable dotted name of @err ("flow.tcp.wscale_over_14"). Never NULL. */
const char *pt_tcp_health_err_name(unsigned err);

/* Reset @h for a new flow (all counters zero, nothing seen). Thread: the
 * owner of @h. */
void pt_tcp_health_init(struct pt_tcp_health *h);

/* The first TTL/hop limit and TOS/traffic class byte of each key side, for
 * every IP protocol (kept apart from struct pt_tcp_health, which only TCP
 * flows have). 5 bytes. */
struct pt_ip_first {
    uint8_t ttl[2];
    uint8_t tos[2];
    uint8_t seen; /* bit i: side i's ttl[i] and tos[i] are set */
};

/* Note the IP facts of a packet from key side @side (0 or 1): the first
 * TTL/hop limit and TOS are kept. Thread: the owner of @x (in the flow
 * table: the worker holding the flow's lock). No allocation. */
void pt_ip_first_note(struct pt_ip_first *x, unsigned side, const struct pt_l3 *l3);

/* Analyse the TCP segment of layer @l3 of packet @p (PT_L3_L4 set, proto 6;
 * otherwise ignored), sent by key side @side, in capture order; the time is
 * p->ts_ns. The segment length is l3->l4_len cut to the bytes p->wirelen
 * says were on the wire after the TCP header (as tshark does with a frame
 * shorter than its IP length); @p may be a bare struct with only ts_ns set
 * (then data NULL: l4_len is used). Reads header fields only, never payload
 * bytes. Counts odd input in @st (may be NULL). Constant work: a few dozen
 * compares, no allocation, no syscall. Thread: the owner of @h and @st. */
void pt_tcp_health_update(struct pt_tcp_health *h, struct pt_tcp_health_stats *st, unsigned side,
                          const struct pt_pkt *p, const struct pt_l3 *l3);

/* What a record carries of struct pt_tcp_health, by direction of the
 * connection ([0] originator, [1] responder), not by key side. */
struct pt_flow_health {
    bool valid;             /* filled by the flow table; false in records read back from
                             * version 1 store records (earlier builds) */
    bool tcp;               /* the counters, MSS, window scale and RTTs apply */
    uint8_t rtt_valid;      /* PT_TCPH_HS_RTT: rtt_ns; with PT_TCPH_HS_SYNACK also the halves */
    uint64_t rtt_ns;        /* tcp_rtt: SYN -> ACK (tshark initial_rtt), us resolution */
    uint64_t syn_synack_ns; /* SYN -> SYN/ACK */
    uint64_t synack_ack_ns; /* SYN/ACK -> ACK */
    uint32_t retrans[2], ooo[2], dup_acks[2], lost[2], zero_win[2];
    uint16_t mss[2];      /* 0 = no MSS option seen */
    uint16_t init_win[2]; /* raw first window, valid when tcp_seen[i] */
    int8_t wscale[2];     /* -1 = no window-scale option seen */
    bool tcp_seen[2];     /* a segment of that direction was seen */
    bool ip_seen[2];      /* ttl[i], dscp[i] valid */
    uint8_t ttl[2];
    uint8_t dscp[2]; /* TOS >> 2 */
};

/* Fill @out from @h (NULL: not a TCP flow) and @ip; @orig_side is the key
 * side of the originator. Thread: any reader that may read @h and @ip (the
 * flow table: under the flow's lock). */
void pt_tcp_health_fill(struct pt_flow_health *out, const struct pt_tcp_health *h,
                        const struct pt_ip_first *ip, unsigned orig_side);

#define PT_FQDN_MAX 256 /* bytes of a DNS name kept in a record, NUL included */

/* Finished flow record: a self-contained copy (no pointers into the table),
 * owned by whoever receives it. Field names follow Zeek's conn.log. */
struct pt_flow_record {
    uint64_t ts_ns;        /* first packet */
    uint64_t last_ns;      /* last packet */
    char uid[20];          /* "C" + base62, deterministic from key and first packet time */
    char community_id[36]; /* "1:" + base64 SHA-1 (Community ID v1, seed 0) */
    char parent_uid[20];   /* tunnel parent's uid, "" when not tunnelled */
    uint8_t orig_h[16], resp_h[16];
    uint16_t orig_p, resp_p; /* ICMP: type and code, as Zeek logs them */
    uint8_t proto, ver;
    uint8_t icmp_type, icmp_code;    /* first ICMP message seen (ICMP flows) */
    uint16_t vlan, inner_vlan;       /* PT_VLAN_NONE when absent */
    uint64_t orig_bytes, resp_bytes; /* payload bytes (TCP: by sequence space, as Zeek) */
    uint64_t orig_pkts, resp_pkts;
    uint64_t orig_ip_bytes, resp_ip_bytes; /* from the IP length field */
    uint64_t missed_bytes;
    char conn_state[8]; /* S0 S1 SF REJ S2 S3 RSTO RSTR RSTOS0 RSTRH SH SHR OTH */
    char history[24];   /* Zeek history letters, upper case = originator */
    uint8_t orig_tcp_flags, resp_tcp_flags; /* OR of flags seen per direction */
    uint32_t ifaces;                        /* bit i: seen on interface i of the run's table */
    uint8_t orig_mac[6], resp_mac[6];       /* first Ethernet addresses seen, zero if none */
    uint8_t end_reason;                     /* enum pt_flow_end */
    struct pt_flow_health health;           /* TCP health, TTL and DSCP (see above) */
    /* Application (appid.h), filled by the flow table: `app` is enum pt_app,
     * PT_APP_UNKNOWN when nothing was recognised; `app_by_port` when only the
     * well-known port named it. Zeek's `service` is pt_app_zeek_service(app),
     * written only for a payload decision. */
    uint8_t app;
    bool app_by_port;
    /* Enrichment, filled by the record thread as it writes the record (empty
     * strings and 0 when unknown): the names DNS answers gave the addresses
     * (the name the client asked for), and GeoIP country code and ASN of
     * external addresses. */
    char orig_fqdn[PT_FQDN_MAX], resp_fqdn[PT_FQDN_MAX];
    char orig_cc[3], resp_cc[3];
    uint32_t orig_asn, resp_asn;
    /* RTP jitter and loss (rtp.h), by direction of the connection ([0]
     * originator): filled by the flow table when the payload decided RTP;
     * seen false otherwise, and in records read back from the store. */
    struct pt_rtp_result rtp[2];
};

enum pt_flow_end {
    PT_FLOW_END_IDLE = 0, /* idle timeout */
    PT_FLOW_END_CLOSED,   /* FIN/RST, after the close delay */
    PT_FLOW_END_ACTIVE,   /* active timeout split */
    PT_FLOW_END_FLUSH,    /* end of input / shutdown */
    PT_FLOW_END_EVICT,    /* evicted because the table was nearly full */
    PT_FLOW_END_LIVE,     /* not ended: a snapshot of a flow still open (the store's "live") */
};

const char *pt_flow_end_name(unsigned reason);

struct pt_flow_table;
struct pt_flow_worker;

/* Per-worker application layer counters (docs/APP.md "Overload and
 * failure"); owned by the worker, PT_CNT_* for readers. The remover keeps
 * one more set for what it flushes at flow end (pt_flow_table_app_totals). */
struct pt_app_worker_stats {
    /* DNS transactions by query type and by response code (pt_dns_series_*
     * slots), counted as each completes or is flushed, queued or not */
    uint64_t dns_qtype[PT_DNS_SERIES_QTYPES];
    uint64_t dns_rcode[PT_DNS_SERIES_RCODES];
    uint64_t no_state;    /* app.no_state: a parser was wanted, the state pool was empty */
    uint64_t parked_lost; /* of those: a parked HTTP connection found its pool empty when it
                           * carried bytes again, and is not parsed from then on */
    uint64_t tcp_gap;     /* app.tcp_gap: a parsed direction skipped sequence space */
    uint64_t records;     /* app records queued */
    uint64_t arp_pkts;    /* ARP packets handed to the record thread */
    struct pt_appid_stats appid;
    struct pt_dns_stats dns;
    struct pt_http_stats http;
    struct pt_tls_stats tls;
    struct pt_dhcp_stats dhcp;
    struct pt_rtp_stats rtp;
};

/* Add @src into @dst (both with every field). Thread: caller owns @dst. */
void pt_app_worker_stats_add(struct pt_app_worker_stats *dst,
                             const struct pt_app_worker_stats *src);

/* Per-worker flow counters; owned by the worker, PT_CNT_* for readers. */
struct pt_flow_worker_stats {
    uint64_t pkts;            /* IP layers handed to pt_flow_process */
    uint64_t flows_created;   /* flows inserted into the table by this worker */
    uint64_t full_flows;      /* new flows refused: pool empty (each key counted once while
                               * it stays in a 1024-entry set of recent refusals) */
    uint64_t full_pkts;       /* packets of refused flows */
    uint64_t no_flow_pkts;    /* frames with no IP layer (ARP, other L2) */
    uint64_t lock_spins;      /* times the per-flow lock was found taken */
    uint64_t frag_pkts;       /* non-first fragments: no ports, no flow (the first one counts) */
    uint64_t no_l4_pkts;      /* TCP/UDP/ICMP layers whose transport header was not decoded */
    uint64_t flows_restarted; /* flows ended on arrival (new SYN on a closed connection, or a
                               * packet after the idle/close/active timeout) and followed by a
                               * new flow; the new one is also in flows_created */
    struct pt_tcp_health_stats tcp_health; /* odd input met by the TCP health analysis */
} __attribute__((aligned(PT_CACHELINE)));

/* Create the table and its per-worker pools (memory reserved at once, pages
 * touched as flows are used). Returns NULL and sets *@err (-EINVAL, -ENOMEM)
 * on failure. Thread: any, before workers start. The calling program must
 * have linked urcu-qsbr and must register each thread that uses the table. */
struct pt_flow_table *pt_flow_table_create(const struct pt_flow_config *cfg, int *err);

/* Destroy the table. Every flow must have been expired (pt_flow_table_expire
 * with @flush) and every worker detached; waits for pending call_rcu. NULL ok.
 * Thread: the remover, after workers stopped. */
void pt_flow_table_destroy(struct pt_flow_table *t);

/* Per-worker handle for worker @id (0 <= id < cfg.workers). Owned by the
 * table; valid until pt_flow_table_destroy(). */
struct pt_flow_worker *pt_flow_worker_get(struct pt_flow_table *t, unsigned id);

/* Stats of one worker handle (borrowed; read with PT_CNT_GET). */
const struct pt_flow_worker_stats *pt_flow_worker_stats(const struct pt_flow_worker *fw);

/* The worker's application layer counters. Borrowed. */
const struct pt_app_worker_stats *pt_flow_worker_app_stats(const struct pt_flow_worker *fw);

/* App records the remover flushes when a flow ends (a request without
 * response, an unanswered query, a handshake cut short) go to @fn on the
 * remover's thread, during pt_flow_table_expire()/pt_flow_table_tick(),
 * before the flow's conn record is emitted. Without a sink they are counted
 * as dropped. Thread: before workers start. */
typedef void (*pt_app_sink_fn)(const struct pt_app_rec *rec, void *arg);
void pt_flow_table_set_app_sink(struct pt_flow_table *t, pt_app_sink_fn fn, void *arg);

/* Add the app layer counters of every worker and of the remover's flushes
 * into @out, and the records lost (full worker queues, flushes without a
 * sink) into *@dropped (may be NULL). Thread: the remover. */
void pt_flow_table_app_totals(const struct pt_flow_table *t, struct pt_app_worker_stats *out,
                              uint64_t *dropped);

/* Hand every record waiting in the workers' queues to @fn, worker by
 * worker, oldest first, and release it. A released slot stays intact until
 * its worker reserves it again, so a caller whose workers are stopped (the
 * offline barrier) may keep the pointers until they run again. Returns the
 * records handed over. Thread: the remover (the queues' one consumer). */
uint64_t pt_flow_table_app_drain(struct pt_flow_table *t, pt_app_sink_fn fn, void *arg);

/* Account decoded packet @p to its flows: one flow per IP layer, the inner
 * layers naming the outer one as tunnel parent. No allocation, no syscall.
 * Thread: the worker owning @fw, registered as a QSBR reader and online; the
 * caller calls rcu_quiescent_state() between batches (never inside).
 * Returns pt_flow_pkt_hash(@p), from the hash the table lookup computed
 * anyway (the ring's per-flow cutoff uses it); 0 when @p has no IP layer. */
uint64_t pt_flow_process(struct pt_flow_worker *fw, const struct pt_pkt *p);

typedef void (*pt_flow_emit_fn)(const struct pt_flow_record *rec, void *arg);

/* A consumer of finished records that may complete @rec before it is kept
 * (the record thread's enrichment: names, GeoIP); what @rec holds after the
 * call is what the store keeps. @rec is valid only during the call. */
typedef void (*pt_flow_record_fn)(struct pt_flow_record *rec, void *arg);

/* Remove the flows that have ended, in the next cfg.sweep_shards shards of
 * the rotation: those a packet found over on arrival, and those whose idle,
 * active or close timeout has passed by @now_ns; or every flow of every
 * shard when @flush. @emit is called on this thread; @rec is
 * valid only during the call. A flow's record never depends on when it is
 * swept: a packet arriving after the flow ended starts a new flow. Flows are
 * freed with call_rcu. Returns the number of records emitted. With
 * PT_FLOW_FULL_EVICT, also evicts the longest-idle flows while the table is
 * over 90% full. Thread: the single remover, registered QSBR reader. */
uint64_t pt_flow_table_expire(struct pt_flow_table *t, uint64_t now_ns, bool flush,
                              pt_flow_emit_fn emit, void *arg);

/* What the per-second walk (pt_flow_table_tick) shows of one flow. Borrowed
 * for the duration of the visit callback. */
struct pt_flow_view {
    const struct pt_flow_key *key;
    unsigned orig_side; /* key side of the originator: 0 (addr[0]/port[0]) or 1 */
    uint64_t first_ns;  /* first packet (with the key: the flow's uid, pt_flow_uid()) */
    uint32_t ifaces;    /* bit i: seen on interface i */
    uint64_t pkts;      /* packets, both directions, since this flow's previous visit */
    uint64_t bytes;     /* IP bytes (IP length field), both directions, likewise */
    uint8_t app;        /* its application label now (enum pt_app, as the record's `app`) */
    bool is_new;        /* the first visit of this flow */
    bool ended;         /* removed by this call: its record was emitted */
    bool over;          /* not live any more: ended, or ended on arrival and waiting
                         * for the sweep to take its record */
    /* When not NULL, the flow's record as of now (end_reason PT_FLOW_END_LIVE):
     * at a live flow's first visit, then at most every cfg.live_ticks ticks
     * while it carries packets. NULL for removed flows (their record went to
     * @emit). Borrowed for the call. */
    const struct pt_flow_record *live;
};

typedef void (*pt_flow_visit_fn)(const struct pt_flow_view *v, void *arg);

/* Allocate the snapshots pt_flow_table_tick() needs (24 bytes per pool
 * slot), all or none: 0 or -ENOMEM. Calling it before workers start lets the
 * aggregation thread fail at start rather than run ticks without visits.
 * Thread: the remover, or any thread before workers start. */
int pt_flow_table_snaps_alloc(struct pt_flow_table *t);

/* The aggregation thread's once-a-second pass: pt_flow_table_expire() (the
 * same rotating share of the shards), then @visit for every flow in the
 * table, and for each flow the expiry removed, with the packets and bytes
 * it carried since its previous visit; each flow is visited once per call,
 * so the visits of one call sum to what the table counted since the
 * previous call. The first call allocates 24 bytes per pool slot for these
 * snapshots unless pt_flow_table_snaps_alloc() did (-ENOMEM: nothing is
 * visited; expiry still runs). pt_flow_table_expire() may be mixed with it:
 * a flow it removes is then never shown to a visitor. @emit sees a
 * removed flow's record before @visit sees its last view. Returns the
 * records emitted. Thread: the single remover, registered QSBR reader,
 * online. */
uint64_t pt_flow_table_tick(struct pt_flow_table *t, uint64_t now_ns, bool flush,
                            pt_flow_emit_fn emit, pt_flow_visit_fn visit, void *arg);

/* The uid a record of the flow with @key and first packet @first_ns carries
 * ("C" + base62). Thread: any. */
void pt_flow_uid(char out[20], const struct pt_flow_key *key, uint64_t first_ns);

/* Flows currently in the table (approximate while workers run). */
uint64_t pt_flow_table_count(const struct pt_flow_table *t);

/* Bytes of memory reserved per flow slot at most: the pool entry, the TCP
 * part a TCP flow also uses, its shard number and the table node share. */
size_t pt_flow_slot_size(void);

/* Flows evicted by PT_FLOW_FULL_EVICT so far. Thread: any (approximate). */
uint64_t pt_flow_table_evicted(const struct pt_flow_table *t);

/* Community ID v1 of a tuple: SHA-1 over seed (16-bit big endian), source
 * address, destination address (4 bytes for IPv4, 16 for IPv6), proto, a zero
 * byte, and when @with_ports the source and destination ports (big endian),
 * base64, prefixed "1:". The endpoints are ordered lower (address, port)
 * first unless @one_way (ICMP types without a counterpart, whose "ports" are
 * type and code). For ICMP pass sport = type and dport = the counterpart type
 * or the code. Writes a NUL-terminated string into @out. Thread: any. */
void pt_flow_community_id(char out[36], uint16_t seed, uint8_t ver, uint8_t proto,
                          const uint8_t saddr[16], const uint8_t daddr[16], uint16_t sport,
                          uint16_t dport, bool with_ports, bool one_way);

/* Output formats for records. The interface names table maps bit i of
 * rec->ifaces to a name; @ifnames may be NULL (then "if<i>"). */
enum pt_record_format { PT_FMT_JSON = 0, PT_FMT_CSV };

/* Write the CSV header row (once, before the first record). */
void pt_flow_record_csv_header(FILE *out);

/* Write @rec as one JSON object (Zeek JSON field names, "_path":"conn") or one
 * CSV row, followed by '\n'. Returns 0 or -EIO. Thread: any. */
int pt_flow_record_write(FILE *out, enum pt_record_format fmt, const struct pt_flow_record *rec,
                         const char *const *ifnames, unsigned n_ifnames);

#endif
