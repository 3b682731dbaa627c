/* internal.h - private structures of the flow module (src/flow/ only).
 *
 * Ownership:
 * - struct pt_flow lives in exactly one worker's fixed pool for its whole
 *   life. While in the table its fields below `lock` are guarded by `lock`
 *   (one byte, test-and-set); `node` and `key` are immutable while published
 *   (readers match keys without the lock) and stay readable until a grace
 *   period after cds_lfht_del.
 * - `state` (written under the lock, read without it by key_match and by
 *   the tick's pool walk) is FLOW_LIVE, FLOW_ENDED + reason when a worker found the flow over by
 * the time its packet arrived (it stays in the table, invisible to lookups, until the remover's
 * sweep takes its record), or FLOW_DEAD once the remover has deleted it and taken its record. A
 * worker that finds a flow not live after locking drops it and looks up again.
 * - After death, `rcu` (overlaid on the timestamps, which nobody reads any
 *   more) carries the flow to the call_rcu callback, which pushes it on its
 *   owner's return stack.
 */
#ifndef PT_FLOW_INTERNAL_H
#define PT_FLOW_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include <urcu-qsbr.h>
#include <urcu/rculfhash.h>

#include "pt/flow.h"

/* liburcu publishes and retires nodes with atomics ThreadSanitizer does not
 * see (uatomic inline assembly, QSBR grace periods). These annotations state
 * the same ordering on the flow slot's address: publication (release before
 * cds_lfht_add_unique, acquire when a reader matches or walks it), and
 * retirement (each reader releases after its last access; call_rcu and the
 * slot's next owner acquire). They compile to nothing outside TSan builds. */
#if defined(__SANITIZE_THREAD__)
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
#define PT_TSAN_ACQUIRE(p) __tsan_acquire((void *)(p))
#define PT_TSAN_RELEASE(p) __tsan_release((void *)(p))
#else
#define PT_TSAN_ACQUIRE(p) ((void)(p))
#define PT_TSAN_RELEASE(p) ((void)(p))
#endif

/* Zeek TCP endpoint states (same order as Zeek's EndpointState). */
enum {
    TCP_INACTIVE = 0,
    TCP_SYN_SENT,
    TCP_SYN_ACK_SENT,
    TCP_PARTIAL,
    TCP_ESTABLISHED,
    TCP_CLOSED,
    TCP_RESET,
};

/* One TCP endpoint (one key side). Absolute sequence numbers as Zeek keeps
 * them; `rseq` is the relative point up to which contiguous, fully captured
 * data was seen and `ooo` the lowest relative start of captured data beyond
 * a hole (0 = none): our stand-in for Zeek's reassembler. 32 bytes. */
struct flow_tcp_ep {
    uint32_t start, last, ack; /* initial seq, one past the highest seq, highest ack from peer */
    uint32_t rseq, ooo;
    uint8_t last_wraps, ack_wraps; /* the remover splits the flow before they overflow */
    uint8_t h_syn, h_fin, h_rst;   /* low 8 bits of the rel. seq of the last S/F/R letter */
    uint8_t tcp_flags;             /* OR of the flags this side sent */
    uint16_t n_rxmt;               /* counts for the 1,10,100.. letters (saturate) */
    uint8_t n_win0, n_gap;
    uint8_t state : 4, prev_state : 4;
    uint8_t fin_seen : 1, did_close : 1, hist_syn : 1, hist_fin : 1, hist_rst : 1;
};

#define PT_FLOW_HIST_MAX 20

/* Flags in struct pt_flow.fl */
#define FL_ORIG1     0x01 /* the originator is key side 1 (addr[1]/port[1]) */
#define FL_ICMP_PAIR 0x02 /* ICMP request/response type: resp_p is the counterpart type */
#define FL_MAC0      0x04 /* mac[0] valid */
#define FL_MAC1      0x08 /* mac[1] valid */

/* A flow's application layer part (app.c), guarded by the flow's lock.
 * 32 bytes. */
struct flow_app {
    struct pt_appid id; /* detection (appid.h) */
    uint32_t st;        /* parser state: index + 1 in a pool of worker `owner` (the DNS
                         * pool for parser APP_P_DNS, else the big one); 0 = none */
    union {
        uint32_t next_seq[2];  /* TCP, by direction (0 = originator): next in-order byte */
        struct {               /* UDP (rtp.c): RTP measurement, the flow's only UDP use of it */
            uint32_t rtp;      /* index + 1 in the RTP pool of worker rtp_owner; 0 = none */
            uint8_t rtp_owner; /* worker whose RTP pool holds rtp */
            uint8_t rtp_dir;   /* direction of the flow's first RTP-shaped packet */
            uint8_t rtp_fl;    /* RTP_F_* */
            uint8_t rtp_pad;
        };
    };
    uint8_t parser; /* APP_P_*: the parser this flow runs (st may be 0 between
                     * DNS datagrams, and while HTTP is APP_F_PARKED) */
    uint8_t fl;     /* APP_F_* */
    uint8_t owner;  /* worker whose pool holds st */
    uint8_t pad;
};

#define APP_F_SEQ0  0x01 /* next_seq[0] valid */
#define APP_F_SEQ1  0x02 /* next_seq[1] valid */
#define APP_F_OFF   0x04 /* nothing more to do for this flow: detection done, no parser */
#define APP_F_SSL   0x08 /* the ssl record was emitted */
#define APP_F_TRIED 0x10 /* the TCP parser was started (or the pool was empty): never again */
/* HTTP between messages: its state was given back (st = 0); the parser and
 * flow_tcp.http_depth are kept and the next bytes resume it */
#define APP_F_PARKED 0x20

enum { APP_P_NONE = 0, APP_P_DNS, APP_P_DNS_TCP, APP_P_HTTP, APP_P_TLS, APP_P_DHCP };

/* struct flow_app.rtp_fl */
#define RTP_F_NO_STATE 0x01 /* the RTP pool was empty when the flow wanted a state */

_Static_assert(sizeof(struct flow_app) == 28, "the app part: 28 bytes");

/* A TCP flow's connection state: Zeek's endpoints, tshark's health analysis
 * and Zeek's missed bytes. It lives in the table's side array `tcpx`, at the
 * flow's slot index (flow_tcpx()), not in struct pt_flow: UDP, ICMP and other
 * flows never touch theirs, so their pages of the array stay unmapped and a
 * table of small UDP flows costs 176 bytes less per flow. Guarded by the
 * flow's lock, like the flow; set up by flow_start() of a TCP flow. */
struct flow_tcp {
    struct flow_tcp_ep ep[2];    /* by key side */
    struct pt_tcp_health health; /* tcp_health.c */
    uint32_t http_depth;         /* app.c: transactions of a parked HTTP parser (APP_F_PARKED) */
    uint64_t missed;             /* Zeek's missed_bytes */
};
_Static_assert(sizeof(struct flow_tcp) == 176, "struct flow_tcp: 176 bytes, see the docs");

struct pt_flow {
    struct cds_lfht_node node; /* free: node.next links the free list */
    struct pt_flow_key key;    /* immutable while published */
    uint8_t lock;              /* test-and-set byte lock, guards everything below */
    uint8_t state;             /* FLOW_FREE, FLOW_LIVE, FLOW_ENDED + enum pt_flow_end, FLOW_DEAD */
    uint8_t fl;                /* FL_* */
    uint8_t icmp_type;         /* first ICMP message */
    uint16_t hist_seen;        /* Zeek's once-only letters, bit i for side 0, bit 8+i side 1 */
    uint8_t icmp_code;
    struct pt_ip_first ip;       /* first TTL/TOS per side (tcp_health.c) */
    char hist[PT_FLOW_HIST_MAX]; /* NUL-padded: flow_hist_len() letters */
    uint8_t mac[2][6];           /* per key side, FL_MAC0/FL_MAC1 */
    uint32_t pkts[2];            /* per key side; the remover splits a flow before 2^31 */
    union {
        struct {
            uint64_t first_ns, last_ns;
        };
        struct rcu_head rcu; /* only after death */
    };
    uint64_t ip_bytes[2];
    union {
        uint64_t parent_uid;          /* 0 = not tunnelled */
        struct pt_flow_worker *owner; /* only after death: where call_rcu returns it */
    };
    uint64_t bytes[2];   /* UDP/ICMP/other: sum of l4_len per side (TCP: flow_tcp) */
    struct flow_app app; /* application layer (app.c) */
    uint32_t ifaces;     /* bit i: seen on interface i */
};

/* 200 bytes: the bench's million one-packet UDP flows are held in 200 MB of
 * slots (docs/PERFORMANCE.md, memory per flow held). */
_Static_assert(sizeof(struct pt_flow) == 200, "struct pt_flow: 200 bytes, see the docs");

/* struct pt_flow.state: written with atomic stores (under the lock), read
 * without the lock by key_match and the tick's pool walk (acquire). A slot
 * is FLOW_FREE until its first flow starts (never-used pool memory is zero). */
#define FLOW_FREE  0
#define FLOW_DEAD  1
#define FLOW_LIVE  2
#define FLOW_ENDED 3 /* + enum pt_flow_end */

/* Refused flows are counted once per key while they stay in this
 * direct-mapped set of key hashes (approximate distinct count). */
#define PT_FLOW_REFUSED_SLOTS 1024

/* What the remover's tick walk saw of a pool slot's flow at its last visit.
 * Remover only; reset when the flow is removed. */
struct flow_snap {
    uint64_t bytes;
    uint32_t pkts;
    uint32_t tick;      /* the walk that last visited it; 0 = never (a new flow) */
    uint32_t live_tick; /* the walk that last gave its live record */
    uint32_t live_pkts; /* its packets then */
};
_Static_assert(sizeof(struct flow_snap) == 24, "docs say 24 bytes per pool slot");

/* A flow the tick's pool walk found over in a shard of this tick's sweep,
 * removed after the walk in the order the sweep's hash walk would have met
 * it (DESIGN 8). Remover only. */
struct flow_cand {
    unsigned pos;     /* the shard's place in the sweep */
    unsigned long rh; /* its node's reverse hash: the order inside a shard */
    struct pt_flow *f;
};

struct app_state; /* app.c */

/* A pool of parser states of one size (app.c). The free list belongs to
 * the worker; the remover and other workers give states back through
 * `ret`, a lock-free stack of indices + 1 the worker takes whole when its
 * free list runs dry (so no ABA). Each state starts with its `next` link
 * (uint32_t: index + 1 of the next state, 0 = end). */
struct flow_app_pool {
    char *mem; /* n states of `stride` bytes, touched lazily */
    size_t stride;
    uint32_t n, used; /* used: states handed out at least once (bump index) */
    uint32_t free;    /* worker only: index + 1 of the first free state, 0 = none */
    uint32_t ret;     /* others push, the worker takes all (atomics) */
};

/* A worker's application layer: its parser state pools and record queue
 * (app.c). UDP DNS, the most frequent user (a state per flow while a query
 * waits for its answer), has a pool of its own small states (~2.2 KB);
 * the TCP parsers share the large ones (~10 KB). */
struct flow_app_worker {
    struct flow_app_pool big; /* TCP parsers: HTTP, TLS, DNS over TCP */
    struct flow_app_pool dns; /* UDP DNS */
    struct pt_app_queue *q;
    struct pt_dns_msg *scratch; /* worker only: DNS parse buffer */
    struct pt_app_worker_stats st;
};

struct flow_rtp; /* rtp.c */

/* A worker's pool of RTP stream states (rtp.c): the same free list and
 * lock-free return stack as struct flow_app_worker's. */
struct flow_rtp_worker {
    struct flow_rtp *pool; /* n states, touched lazily */
    uint32_t n, used;      /* used: states handed out at least once (bump index) */
    uint32_t free;         /* worker only: index + 1 of the first free state, 0 = none */
    uint32_t ret;          /* remover and other workers push, the owner takes all (atomics) */
};

struct pt_flow_worker {
    struct pt_flow_worker_stats st; /* owned by the worker; PT_CNT_* */
    struct flow_app_worker app;
    struct flow_rtp_worker rtp;
    struct pt_flow_table *t;
    unsigned id;
    struct pt_flow *pool; /* borrowed: its cap slots of the table's pool, touched lazily */
    /* owned: cap entries, by slot: the shard of the slot's flow, stored
     * (relaxed) by the worker before the flow goes live, read by the sweep
     * to find a shard's flows without walking its hash table */
    uint16_t *shard_of;
    uint64_t cap;
    uint64_t used;                           /* slots handed out at least once (bump index) */
    struct pt_flow *free_list;               /* worker only */
    struct pt_flow *ret_head;                /* lock-free stack pushed by the call_rcu callback */
    uint64_t refused[PT_FLOW_REFUSED_SLOTS]; /* key hashes of recently refused flows */
    struct flow_snap *snap; /* remover only: cap entries, by slot index (tick walk) */
} __attribute__((aligned(PT_CACHELINE)));

struct pt_flow_table {
    struct pt_flow_config cfg;
    struct cds_lfht **shard;
    struct pt_flow_worker *w; /* cfg.workers handles */
    /* The workers' pools, one allocation: worker i owns slots [i * per,
     * (i + 1) * per). tcpx has the TCP part of each slot's flow, at the same
     * index (struct flow_tcp). Both calloc'ed: pages are touched as used. */
    struct pt_flow *pool;
    struct flow_tcp *tcpx;
    uint64_t per;
    uint64_t removed;        /* remover only (read with __atomic by count()) */
    uint64_t evicted;        /* remover only, idem */
    unsigned sweep_next;     /* remover only: first shard of the next sweep */
    uint32_t tick_no;        /* remover only: number of the current tick walk */
    uint32_t live_ticks;     /* cfg.live_ticks, or its default (immutable) */
    uint64_t min_timeout_ns; /* shortest idle timeout or close delay (immutable) */
    struct flow_cand *cand;  /* remover only: the tick walk's flows to remove */
    size_t cand_n, cand_cap;
    /* remover only: what app.c flushes at flow end */
    pt_app_sink_fn app_sink;
    void *app_sink_arg;
    struct pt_app_rec *app_rec;        /* the record being built */
    struct pt_app_worker_stats app_st; /* flush counters */
    uint64_t app_no_sink;
};

/* The TCP part of @f (a slot of @t's pool). Only TCP flows use theirs. */
static inline struct flow_tcp *flow_tcpx(const struct pt_flow_table *t, const struct pt_flow *f)
{
    return &t->tcpx[f - t->pool];
}

/* app.c */
int flow_app_table_init(struct pt_flow_table *t);
void flow_app_table_fini(struct pt_flow_table *t);
void flow_app_start(struct pt_flow *f, bool off);
/* Caller: only for flows without APP_F_OFF (the test stays inline, on the
 * per-packet path). */
void flow_app_packet(struct pt_flow_worker *w, struct pt_flow *f, const struct pt_pkt *p,
                     const struct pt_l3 *l3, unsigned side);
void flow_app_arp(struct pt_flow_worker *w, const struct pt_pkt *p);
void flow_app_end(struct pt_flow_table *t, struct pt_flow *f);

/* rtp.c (caller holds f->lock) */
int flow_rtp_table_init(struct pt_flow_table *t);
void flow_rtp_table_fini(struct pt_flow_table *t);
/* Measure UDP packet @l3 of direction @dir (0 = originator) of @f, whose
 * detection was just fed with it. Returns true while the flow is RTP or may
 * still become RTP (the caller must then keep the flow's app part on). */
bool flow_rtp_packet(struct pt_flow_worker *w, struct pt_flow *f, const struct pt_pkt *p,
                     const struct pt_l3 *l3, unsigned dir);
/* Copy @f's RTP results into @r (after flow_record_fill). */
void flow_rtp_fill(struct pt_flow_record *r, const struct pt_flow_table *t,
                   const struct pt_flow *f);
/* Give @f's RTP state back (the remover, as the flow dies). */
void flow_rtp_end(struct pt_flow_table *t, struct pt_flow *f);

/* key.c */
uint64_t flow_key_hash64(const struct pt_flow_key *key);
uint64_t flow_uid64(const struct pt_flow_key *key, uint64_t first_ns);
int flow_icmp_counterpart(uint8_t ver, uint8_t type); /* -1 when one-way */

/* tcp.c (caller holds f->lock) */
void flow_tcp_update(struct pt_flow *f, struct flow_tcp *x, unsigned side, const struct pt_l3 *l3);
bool flow_tcp_closed(const struct flow_tcp *x);
bool flow_tcp_both_closed(const struct flow_tcp *x);
bool flow_tcp_is_reuse(const struct flow_tcp *x, unsigned side, const struct pt_l3 *l3);
const char *flow_tcp_conn_state(const struct pt_flow *f, const struct flow_tcp *x);
uint64_t flow_tcp_size(const struct flow_tcp *x, unsigned side);
void flow_hist_add(struct pt_flow *f, unsigned side, char code);
unsigned flow_hist_len(const struct pt_flow *f);
bool flow_hist_once(struct pt_flow *f, unsigned side, unsigned bit, char code);
bool flow_likely_server_port(uint8_t proto, uint16_t port);

/* record.c (caller holds f->lock) */
/* @x: @f's TCP part (flow_tcpx()) for a TCP flow, NULL otherwise. */
void flow_record_fill(struct pt_flow_record *r, const struct pt_flow *f, const struct flow_tcp *x,
                      unsigned end_reason);

static inline unsigned flow_orig_side(const struct pt_flow *f)
{
    return (f->fl & FL_ORIG1) ? 1 : 0;
}

#endif
