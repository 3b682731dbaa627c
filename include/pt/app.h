/* app.h - the application layer as the flow table runs it: the records the
 * analysers produce, the queues that carry them off the capture workers,
 * and how they are written (docs/APP.md has the design).
 *
 * Flow of a record:
 *  1. A capture worker, holding a flow's lock, feeds the flow's first
 *     payload packets to application detection (appid.h) and, once the
 *     protocol is known, the whole in-order stream to its parser (dns.h,
 *     http.h, tls.h; DHCP messages and ARP packets need no state). A
 *     finished transaction is copied into a slot of the worker's record
 *     queue (struct pt_app_queue): no allocation, no lock.
 *  2. When a flow ends, the remover (the thread that expires flows: the
 *     aggregation thread live, the offline driver in `read`) flushes what
 *     its parser still holds (a request without response, an unanswered
 *     query, a half handshake) through the table's app sink, on its own
 *     thread.
 *  3. The record thread (the same remover thread) drains every worker's
 *     queue, aggregates DHCP messages into exchanges, feeds the ARP table
 *     and the DNS name cache, and writes the records (pt_app_record_write).
 *
 * Records carry their flow by value (tuple, uid, first packet time), never a
 * pointer into the table: a record may outlive its flow. */
#ifndef PT_APP_H
#define PT_APP_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "pt/arp.h"
#include "pt/common.h"
#include "pt/decode.h"
#include "pt/dhcp.h"
#include "pt/dns.h"
#include "pt/http.h"
#include "pt/tls.h"

enum pt_app_rec_kind {
    PT_REC_DNS = 1, /* one dns.log transaction */
    PT_REC_HTTP,    /* one http.log transaction */
    PT_REC_SSL,     /* one ssl.log handshake */
    PT_REC_DHCP,    /* one DHCP message (the record thread aggregates them: dhcp.log) */
    PT_REC_ARP,     /* one ARP packet (the record thread's ARP table: arp events) */
};

/* The flow an app record belongs to, oriented as its conn record is
 * (originator first). Zero for ARP. */
struct pt_app_conn {
    uint64_t uid64;    /* the flow's uid as a number: pt_uid_format() gives "C..." */
    uint64_t first_ns; /* the flow's first packet */
    uint8_t orig_h[16], resp_h[16];
    uint16_t orig_p, resp_p;
    uint8_t proto, ver;
    uint16_t vlan, inner_vlan; /* PT_VLAN_NONE when absent */
};

#define PT_APP_DNS_ADDRS 16 /* A/AAAA answers kept per transaction for the name cache */

/* A DNS transaction, and the addresses its answers gave (for the IP -> name
 * cache; the name is txn.query, the name the client asked for). */
struct pt_app_dns {
    struct pt_dns_txn txn;
    uint8_t n_addrs;
    uint8_t addr_ver[PT_APP_DNS_ADDRS]; /* 4 or 6 */
    uint32_t addr_ttl[PT_APP_DNS_ADDRS];
    uint8_t addr[PT_APP_DNS_ADDRS][16]; /* IPv4 as ::ffff:a.b.c.d */
};

/* One DHCP message and the IPv4 addresses it travelled between. */
struct pt_app_dhcp {
    struct pt_dhcp_msg msg;
    uint8_t src[4], dst[4];
};

/* One ARP packet and the interface it came in on. */
struct pt_app_arp {
    struct pt_arp arp;
    uint16_t iface;
};

/* A record, as queued (fixed size: the largest member, a DNS transaction,
 * about 4.8 KiB). */
struct pt_app_rec {
    uint8_t kind;   /* enum pt_app_rec_kind */
    uint8_t at_end; /* 1 when flushed at flow end by the remover */
    uint16_t pad;
    uint32_t seq;   /* order among the records of one queue */
    uint64_t ts_ns; /* the record's time: the transaction's first message */
    struct pt_app_conn conn;
    union {
        struct pt_app_dns dns;
        struct pt_http_txn http;
        struct pt_tls_result ssl;
        struct pt_app_dhcp dhcp;
        struct pt_app_arp arp;
    };
};

/* ---- record queue: one producer (a worker), one consumer (the record thread) ----
 *
 * A ring of fixed slots allocated at creation. The producer reserves a slot,
 * fills it and commits it; the consumer peeks at the oldest committed slot
 * and releases it. Full ring: pt_app_queue_reserve() returns NULL and counts
 * the record as dropped (the capture never waits). With @grow (the offline
 * reader, where the consumer only drains while the producer is stopped at a
 * barrier), a full ring doubles instead, so nothing is dropped; growing is
 * only safe under that rule. */
struct pt_app_queue;

/* Create a queue of @slots slots (rounded up to a power of two, >= 2).
 * Returns NULL with *@err = -ENOMEM or -EINVAL. Thread: any. */
struct pt_app_queue *pt_app_queue_create(uint32_t slots, bool grow, int *err);
void pt_app_queue_destroy(struct pt_app_queue *q);

/* Producer: the next free slot (contents undefined), or NULL when full (and
 * growing failed or is off): counted in pt_app_queue_dropped(). */
struct pt_app_rec *pt_app_queue_reserve(struct pt_app_queue *q);
/* Producer: publish the slot the last reserve returned (sets its seq). */
void pt_app_queue_commit(struct pt_app_queue *q);

/* Consumer: the oldest published record, or NULL when empty. */
const struct pt_app_rec *pt_app_queue_peek(struct pt_app_queue *q);
/* Consumer: release the record the last peek returned. */
void pt_app_queue_pop(struct pt_app_queue *q);

/* Records dropped because the queue was full. Thread: any (approximate). */
uint64_t pt_app_queue_dropped(const struct pt_app_queue *q);

/* ---- writing ----
 *
 * JSON lines with Zeek's field names per log: "_path" first ("dns", "http",
 * "ssl", "dhcp", "arp"), then ts, uid, id.orig_h, id.orig_p, id.resp_h,
 * id.resp_p, proto (dns), the log's fields, and community_id. dhcp records
 * span flows (uids, no id.* or community_id); arp events belong to none.
 * Unset fields are omitted, as in the conn records; strings from the wire
 * are escaped as in the conn records (pt/obuf.h). docs/APP.md ("Records")
 * lists every field. Each writer formats into a buffer and makes one
 * fwrite. Returns 0 or -EIO. Thread: any. */

/* "C" + base62 of @uid64 (the conn record's uid). */
void pt_uid_format(char out[20], uint64_t uid64);

int pt_app_dns_write(FILE *out, const struct pt_app_conn *c, const struct pt_app_dns *d);
int pt_app_http_write(FILE *out, const struct pt_app_conn *c, const struct pt_http_txn *t);
int pt_app_ssl_write(FILE *out, const struct pt_app_conn *c, uint64_t ts_ns,
                     const struct pt_tls_result *r);
/* A dhcp.log record: uids are the uid64 of the flows of its messages. */
int pt_app_dhcp_write(FILE *out, const struct pt_dhcp_rec *r);
/* An ARP table event ("_path":"arp"): ts, interface (@ifname; left out
 * when NULL), event (new, changed, gratuitous, flood), reason, op, ip, mac,
 * old_mac, count. */
int pt_app_arp_write(FILE *out, const struct pt_arp_event *ev, const char *ifname);

/* ---- the record thread ----
 *
 * What happens to app records once off the workers: DNS, HTTP and SSL
 * records are written as they come; DHCP messages are joined into Zeek's
 * dhcp.log exchanges (pt_dhcp_agg, Zeek's timing) and written as those
 * complete; ARP packets feed the ARP table, whose events (new, changed,
 * gratuitous, flood bindings) are written. Conn records pass through
 * pt_app_out_conn() before they are written, for the facts only the record
 * thread knows. Single-threaded: the thread that expires flows. */
struct pt_flow_record;
struct pt_app_out;

struct pt_app_out_stats {
    uint64_t written[PT_REC_ARP + 1]; /* by enum pt_app_rec_kind (DHCP: dhcp.log records,
                                       * ARP: events) */
    uint64_t write_errors;
    uint64_t names_learned, names_hits, names_evicted; /* the DNS name cache */
    uint64_t geo_corrupt;                              /* lookups that met broken data */
    /* The device table (only with a store: pt_app_out_store_hook) */
    uint64_t devices;          /* entries now */
    uint64_t devices_restored; /* entries put back from the store at start */
    uint64_t devices_saved;    /* entries written to the store (each save counts) */
    uint64_t devices_lost;     /* changed entries a failed store write did not keep */
    uint64_t devices_evicted;  /* entries dropped, least recently seen, the table full */
    struct pt_dhcp_stats dhcp; /* the aggregation's counters */
};

/* Create the record thread's state. Records are written to @out when it is
 * not NULL (JSON lines); with NULL they are only counted (CSV output carries
 * conn records alone). Returns NULL with *@err set. */
struct pt_app_out_config {
    /* GeoIP: the Country-or-City and the ASN database (MaxMind MMDB). NULL:
     * PT_GEOIP_DIR's GeoLite2-City.mmdb / GeoLite2-ASN.mmdb when they exist,
     * "" for none. A configured database that cannot be used is one warning,
     * and the run goes on without it. */
    const char *geo_loc, *geo_asn;
    uint32_t dns_names;  /* IP -> name cache entries; 0 = PT_NAMES_DEFAULT */
    uint32_t devices;    /* device table entries; 0 = PT_DEV_DEFAULT */
    const char *oui_dir; /* the IEEE registry CSVs; NULL = PT_OUI_DIR. Missing: one
                          * warning, vendors unknown */
};

#define PT_GEOIP_DIR "/var/lib/GeoIP" /* where Debian's geoipupdate puts the databases */

struct pt_app_out *pt_app_out_create(FILE *out, const struct pt_app_out_config *cfg, int *err);

/* The interface names ARP events carry: @names[i] for interface i (borrowed
 * until the next call). */
void pt_app_out_set_ifnames(struct pt_app_out *o, const char (*names)[64], unsigned n);
void pt_app_out_destroy(struct pt_app_out *o);

/* One record from a worker queue or a flow-end flush, in time order as far
 * as the caller can give it. */
void pt_app_out_rec(struct pt_app_out *o, const struct pt_app_rec *r);

/* A conn record about to be written: fills what the record thread knows. */
void pt_app_out_conn(struct pt_app_out *o, struct pt_flow_record *r);

/* Time has passed (packet time): complete DHCP exchanges that timed out. */
void pt_app_out_tick(struct pt_app_out *o, uint64_t now_ns);

/* End of input: write every open DHCP exchange. */
void pt_app_out_finish(struct pt_app_out *o);

void pt_app_out_stats(const struct pt_app_out *o, struct pt_app_out_stats *st);

/* The device table lives with a store (devices.h, store.h db "hosts"):
 * fills @h (agg.h) so that, given to the agg, the table is created and
 * what earlier runs kept is restored when the store opens (the newest
 * entries first, up to the table's capacity), entries changed are saved
 * after each tick (at most once a second of record time) and every change
 * is saved at close. Without a store there is no device table. A failed
 * save is counted (devices_lost) and logged at most once a minute; the
 * entries are not retried (the next change of each saves it again). */
struct pt_agg_hook;
void pt_app_out_store_hook(struct pt_app_out *o, struct pt_agg_hook *h);

#endif
