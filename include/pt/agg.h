/* agg.h - the aggregation thread: per-second counters, series, top-N lists
 * and the store.
 *
 * Threads and ownership (docs/THREADS.md, "Aggregation"):
 * - Each capture worker owns one struct pt_agg_counters (allocated by the
 *   agg, cache-line aligned, never shared between workers). It adds every
 *   frame to it with pt_agg_count(): relaxed stores, no lock prefix, no
 *   syscall. The counters are cumulative; nobody resets them.
 * - The aggregation thread (`run`'s remover thread; the reader in `read`)
 *   calls pt_agg_tick() once per second. A tick:
 *   1. walks the flow table (pt_flow_table_tick): expires flows, counts new,
 *      active and ended flows per interface, and sums each flow's bytes
 *      since the previous tick per host and per flow for the top-N lists;
 *   2. reads every worker's counters and subtracts what it read at the
 *      previous tick (the agg keeps that copy), so a second's points are
 *      exactly what the workers counted between two ticks and the points of
 *      a run sum to its totals;
 *   3. writes the second's points, top lists and finished flow records in
 *      one store transaction (pt_store_write).
 *   Offline the reader ticks at each whole second of packet time with every
 *   worker idle (a barrier), so a second holds exactly the packets of that
 *   second (file order). Live a second holds what the workers counted
 *   between two ticks, i.e. up to one ring block retire interval late.
 * - The store is written only by this thread.
 *
 * Series written each second (names as in store.h):
 *   total and per interface: packets, bytes, decode_errors, kernel_drops,
 *     flows_active, flows_new, flows_ended; total only: flows_refused;
 *   per VLAN (outer tag; "none" untagged) and per protocol (innermost IP
 *     layer's; "non-ip" for frames without IP): packets, bytes, only in
 *     seconds where they are not zero.
 *   per application (the flow's `app` label at the tick: a flow's packets of
 *     a second count for the label it has at the end of that second):
 *     packets{app=...}, bytes{app=...} (IP bytes), non-zero seconds only;
 *     they add up to the packets and IP bytes of flows, not of frames;
 *   DNS transactions as they complete (answered, or flushed unanswered at
 *     flow end), queued as records or not: dns_queries, and by
 *     pt_dns_series_* slot dns_queries{qtype=A}, dns_queries{rcode=NXDOMAIN}
 *     (qtype "none": no query seen; rcode "none": no answer); non-zero only;
 *   TCP health events of every flow, as the conn records count them:
 *     tcp_retransmissions, tcp_out_of_order, tcp_dup_acks, tcp_zero_windows,
 *     tcp_lost_segments; non-zero only.
 * Adding a series is adding a name and a value in agg.c (points_build). */
#ifndef PT_AGG_H
#define PT_AGG_H

#include <stdbool.h>
#include <stdint.h>

#include "pt/decode.h"
#include "pt/flow.h"
#include "pt/store.h"

#define PT_AGG_VLANS       4097 /* 802.1Q ids 0..4095, and PT_AGG_VLAN_NONE */
#define PT_AGG_VLAN_NONE   4096
#define PT_AGG_PROTOS      257 /* IP protocol numbers, and PT_AGG_PROTO_NONIP */
#define PT_AGG_PROTO_NONIP 256
#define PT_AGG_TOP_DEFAULT 10

struct pt_agg_pair {
    uint64_t pkts, bytes; /* frames, wire bytes */
};

/* One worker's cumulative counters. Written by the worker (PT_CNT_*), read
 * by the aggregation thread. */
struct pt_agg_counters {
    struct pt_agg_pair iface[PT_MAX_IFACES];
    uint64_t iface_errs[PT_MAX_IFACES]; /* frames with a decode error */
    struct pt_agg_pair proto[PT_AGG_PROTOS];
    struct pt_agg_pair vlan[PT_AGG_VLANS];
} __attribute__((aligned(PT_CACHELINE)));

/* Count decoded frame @p. Thread: the owning worker. No allocation. */
static inline void pt_agg_count(struct pt_agg_counters *c, const struct pt_pkt *p)
{
    unsigned i = p->iface < PT_MAX_IFACES ? p->iface : PT_MAX_IFACES - 1;
    unsigned v = p->vlan == PT_VLAN_NONE ? PT_AGG_VLAN_NONE : (p->vlan & 0x0fffu);
    unsigned pr = p->n_l3 ? p->l3[p->n_l3 - 1].proto : PT_AGG_PROTO_NONIP;

    PT_CNT_INC(c->iface[i].pkts);
    PT_CNT_ADD(c->iface[i].bytes, p->wirelen);
    if (unlikely(p->err))
        PT_CNT_INC(c->iface_errs[i]);
    PT_CNT_INC(c->proto[pr].pkts);
    PT_CNT_ADD(c->proto[pr].bytes, p->wirelen);
    PT_CNT_INC(c->vlan[v].pkts);
    PT_CNT_ADD(c->vlan[v].bytes, p->wirelen);
}

/* Series name of IP protocol @proto (PT_AGG_PROTO_NONIP: "non-ip"):
 * tcp, udp, icmp, icmpv6, gre, esp, ah, sctp, ipip, ipv6, ospf, pim, vrrp,
 * else "ip-N". Writes into @buf (>= 12 bytes); returns @buf. */
const char *pt_agg_proto_name(unsigned proto, char *buf);

/* The record thread's own use of the store (the device table, app/app.h):
 * the aggregation thread owns the only writable handle, so it lends it at
 * fixed points. Each function may be NULL; @arg is passed back.
 *   open   once, from pt_agg_create() once the store is open (the creating
 *          thread, before workers start): restore what an earlier run kept;
 *   tick   at the end of every pt_agg_tick(), after the second's write
 *          (@now_ns: the tick's expiry time; packet time offline);
 *   close  from pt_agg_destroy(), before the final rollup: the last save.
 * A failing write is the hook's to count and log; the agg goes on. */
struct pt_agg_hook {
    void (*open)(struct pt_store *s, void *arg);
    void (*tick)(struct pt_store *s, uint64_t now_ns, void *arg);
    void (*close)(struct pt_store *s, void *arg);
    void *arg;
};

struct pt_agg_config {
    const char *datadir; /* the store goes in DATADIR/store */
    struct pt_store_config store;
    unsigned top_n;          /* entries per top list (1..1000); 0 = PT_AGG_TOP_DEFAULT */
    unsigned workers;        /* workers whose counters the agg reads */
    uint32_t gap_fill_s;     /* offline: write zero points for up to this many seconds without
                              * packets between two ticks (dense series stay contiguous); 0 =
                              * 60. Longer gaps are left empty. */
    struct pt_agg_hook hook; /* optional: what the record thread keeps in the store */
};

struct pt_agg;

/* Open the store and allocate one counter block per worker. Returns NULL and
 * sets *@err and @msg (naming the path) on failure. Thread: any, before
 * workers start. */
struct pt_agg *pt_agg_create(const struct pt_agg_config *cfg, struct pt_flow_table *ft, int *err,
                             char *msg, size_t msglen);

/* Finish rollups, close the store, free everything. NULL ok. Thread: the
 * aggregation thread, after workers stopped and the last tick. */
void pt_agg_destroy(struct pt_agg *a);

/* Worker @i's counters (owned by the agg; the worker writes them). */
struct pt_agg_counters *pt_agg_worker_counters(struct pt_agg *a, unsigned i);

/* What the caller knows at a tick besides the counters. Borrowed. */
struct pt_agg_tick_in {
    uint64_t sec;    /* the epoch second the tick closes */
    uint64_t now_ns; /* expiry time (packet time offline, wall clock live) */
    bool flush;      /* remove every flow (end of the run) */
    bool gap_fill;   /* offline: zero points for short gaps of packet time (cfg.gap_fill_s);
                      * live, a skipped second gets no point rather than a false zero */
    const char (*ifnames)[64]; /* names of interface indices 0..n_ifnames-1 (grows offline) */
    unsigned n_ifnames;
    const uint64_t *kernel_drops; /* cumulative per interface; NULL when none */
    /* Offline: stop after the flow walk and keep the second's finished
     * records (not emitted: @emit is not called); the caller emits them
     * from pt_agg_held(), completing them in place, then pt_agg_write()
     * writes the second. So the records the store keeps are completed by the
     * record thread in the order it reads app records and conn records
     * together. The tick_in (and what it points to) must live until then. */
    bool hold;
};

/* Run one tick (see the top of this file). Finished flow records go to @emit
 * (may be NULL) as they are removed, and into the store. Returns the number
 * of records emitted. A store error never stops the tick: it is counted
 * (pt_agg_stats) and logged, at most once a minute. Thread: the aggregation
 * thread, registered QSBR reader, online. */
uint64_t pt_agg_tick(struct pt_agg *a, const struct pt_agg_tick_in *in, pt_flow_record_fn emit,
                     void *emit_arg);

/* After a tick with in->hold: the second's finished records, in the order
 * the walk removed them (the caller may reorder and complete them in place;
 * valid until pt_agg_write()), and *@n their number. */
struct pt_flow_record *pt_agg_held(struct pt_agg *a, size_t *n);

/* After a tick with in->hold: write the second (series, top lists, the held
 * records, the hook's tick). */
void pt_agg_write(struct pt_agg *a);

struct pt_agg_stats {
    uint64_t ticks;        /* seconds written (gap-filled ones included) */
    uint64_t points;       /* series points handed to the store */
    uint64_t store_errors; /* seconds the store did not take (map full, I/O) */
    uint64_t points_lost;  /* points, hosts of the top lists and flow records (finished or
                            * live) left out of a second for want of memory */
    uint64_t hosts_lost;
    uint64_t recs_lost;
    uint64_t late_ticks;   /* ticks asked for a second not after the previous one */
    uint64_t last_tick_ns; /* CPU time of the last tick (thread clock) */
    uint64_t max_tick_ns;  /* the longest so far */
    struct pt_store_stats store;
};

void pt_agg_stats(const struct pt_agg *a, struct pt_agg_stats *st);

#endif
