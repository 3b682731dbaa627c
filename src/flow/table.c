/* table.c - the sharded RCU flow table, per-worker pools, per-packet update
 * and expiry.
 *
 * DESIGN
 * 1. Memory. Each worker owns a fixed pool of struct pt_flow, a slice of
 *    one calloc at create time for all workers (zero pages, touched as
 *    slots are first used). A TCP flow's connection state (struct flow_tcp,
 *    176 bytes) is in a second calloc'd array at the same slot index, which
 *    only TCP flows write, so UDP/ICMP flows cost 200 bytes, not 376. A
 *    slot comes from the worker's free list, else from the return stack
 *    (one exchange takes the whole stack), else from the never-used tail of
 *    the pool. An empty pool refuses the flow: counted, not fatal.
 * 2. Insert. Worker misses on lookup, fills a slot for the packet and calls
 *    cds_lfht_add_unique(); if another worker inserted the same key first, the
 *    slot (never published) goes straight back to the free list and the
 *    packet updates the winner.
 * 3. Update. A byte spin lock guards a flow's state. New flows are
 *    published already locked. After locking, a worker checks `state`: if
 *    the flow is no longer live (the remover deleted it, or another worker
 *    ended it) it looks the key up again, so no packet is ever counted into
 *    a record already emitted.
 * 4. Remove (the remover only). Walk each shard; lock each flow, and while
 *    holding the lock decide whether it has ended, cds_lfht_del() it (which
 *    never waits), copy its record and mark it dead; then unlock, emit, and
 *    call_rcu() it. Deciding and deleting under one lock hold means a worker
 *    can never slip a packet, or a restart, in between. The callback pushes
 *    the slot onto the owner's return stack (lock-free, multi-producer push,
 *    single consumer that takes all).
 * 5. End on arrival. A packet that finds its flow already over, by a new
 *    SYN on a closed connection (Zeek's connection reuse) or because the
 *    flow's idle, close or active timeout passed before this packet's time,
 *    marks it FLOW_ENDED + reason under its lock. key_match ignores flows
 *    that are not live, so the worker's next lookup misses and it inserts a
 *    new flow beside the ended one; the ended one waits, untouched, for the
 *    remover's sweep to take its record. Nothing is copied on the worker and
 *    nothing is bounded but the pool (an empty pool refuses the new flow,
 *    counted). So a flow ends exactly when its timeout says, however late
 *    the remover's sweep comes.
 * 6. Eviction (PT_FLOW_FULL_EVICT). Over 90 % of capacity after a pass, the
 *    remover builds a log2 histogram of idle ages, picks the age above which
 *    enough flows lie to get back to 85 %, and evicts those.
 * 7. Sweep. A non-flush expire sweeps only cfg.sweep_shards shards (default
 *    an eighth), the next ones each call, so the remover's cost per tick is
 *    a fraction of the table; with one call a second every flow is looked at
 *    every 8 s. Thanks to 5, this delays only when a quiet flow's record is
 *    written and its slot freed, never what the record says.
 * 8. Tick (pt_flow_table_tick, the aggregation thread). A walk of every
 *    worker pool in slot order, not of the hash tables: sequential
 *    memory the prefetcher follows, where a hash-order walk misses the
 *    cache on every flow (at 1 M flows about 2.5x slower). A slot is visited
 *    when its state (acquire load) is live or ended; then under its lock,
 *    state checked again. For this, a worker starting a flow fills the slot
 *    with the lock *taken* (not set: the walk may hold it on the slot's
 *    previous life), and stores FLOW_LIVE with release; a slot that lost the
 *    insert race goes FLOW_DEAD before its unlock. Slots are freed only
 *    through call_rcu, and the walk runs inside rcu_read_lock. The visitor
 *    sees each flow once a tick with the packets and bytes since its
 *    previous visit. The snapshots behind those deltas live outside the flow
 *    (24 bytes per pool slot, allocated by the first tick), so a run without
 *    the store pays neither the memory nor the walk. The walk also does
 *    the expire's sweep: a flow of the rotating share of shards that is
 *    over is not visited but noted, and after the walk the noted flows are
 *    removed (the visitor sees each with its last packets) in the order the
 *    hash walk of those shards would have met them, shard by shard and by
 *    reverse hash inside one, so records leave exactly as from an expire.
 *    A noted flow that a packet kept alive meanwhile is visited instead. At
 *    flush, the expire's own sweep of every shard runs first. Eviction (6)
 *    runs before the walk, which then sees evicted flows only as ended. A
 *    removed flow's snapshot is reset, so its slot's next flow is seen as
 *    new.
 * 9. Expire in pool order. A hash walk misses the cache on every node and
 *    cannot fetch ahead (the next address is in the node); on a busy box
 *    the expire's walk of an eighth of the table was the remover's largest
 *    cost. So each pool slot has its flow's shard number in a side array
 *    (2 bytes per slot, stored by the worker before the flow goes live).
 *    A non-flush expire scans that array, checks the flows of its shards in
 *    batches with their lines prefetched ahead, notes the ones that are
 *    over and removes them in the hash walk's order: shard, reverse hash,
 *    and among equal hashes (a flow ended on arrival and its successor)
 *    the newest first, as cds_lfht_add_unique() puts a node first among
 *    its equals. The lock settles a shard number read while a worker was
 *    starting the slot anew (such a flow has just begun: not over). The
 *    flush still walks the hash tables. */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define TH_SYN 0x02
#define TH_ACK 0x10

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __asm__ __volatile__("pause");
#endif
}

static inline void flow_lock(struct pt_flow *f, struct pt_flow_worker_stats *st)
{
    if (likely(!__atomic_test_and_set(&f->lock, __ATOMIC_ACQUIRE)))
        return;
    do {
        if (st)
            PT_CNT_INC(st->lock_spins);
        while (__atomic_load_n(&f->lock, __ATOMIC_RELAXED))
            cpu_relax();
    } while (__atomic_test_and_set(&f->lock, __ATOMIC_ACQUIRE));
}

static inline void flow_unlock(struct pt_flow *f)
{
    __atomic_clear(&f->lock, __ATOMIC_RELEASE);
}

void pt_flow_config_default(struct pt_flow_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->shards = 16;
    cfg->workers = 1;
    cfg->max_flows = 1000000;
    cfg->idle_tcp_ns = 300ull * 1000000000ull;
    cfg->idle_udp_ns = 60ull * 1000000000ull;
    cfg->idle_icmp_ns = 60ull * 1000000000ull;
    cfg->idle_other_ns = 60ull * 1000000000ull;
    cfg->active_ns = 3600ull * 1000000000ull;
    cfg->close_delay_ns = 5ull * 1000000000ull;
    cfg->full_policy = PT_FLOW_FULL_REFUSE;
    cfg->app_states = PT_FLOW_APP_STATES;
    cfg->app_queue = PT_FLOW_APP_QUEUE;
    cfg->rtp_states = PT_FLOW_RTP_STATES;
}

size_t pt_flow_slot_size(void)
{
    /* the slot, the TCP part of a TCP flow (the side array), its shard
     * number for the sweep (DESIGN 9) and one cds_lfht bucket (a node) per
     * flow at full load */
    return sizeof(struct pt_flow) + sizeof(struct flow_tcp) + sizeof(uint16_t) +
           sizeof(struct cds_lfht_node);
}

const char *pt_flow_end_name(unsigned reason)
{
    static const char *const names[] = {"idle", "closed", "active", "flush", "evict", "live"};
    return reason < PT_ARRAY_LEN(names) ? names[reason] : "unknown";
}

struct pt_flow_table *pt_flow_table_create(const struct pt_flow_config *cfg, int *err)
{
    struct pt_flow_table *t;
    unsigned i;
    int rc = -ENOMEM;

    if (!cfg || cfg->shards < 1 || cfg->workers < 1 || cfg->workers > 256 ||
        cfg->max_flows < cfg->workers || cfg->full_policy > PT_FLOW_FULL_EVICT) {
        if (err)
            *err = -EINVAL;
        return NULL;
    }
    if (!(t = calloc(1, sizeof *t)))
        goto err_out;
    t->cfg = *cfg;
    t->live_ticks = cfg->live_ticks ? cfg->live_ticks : 60;
    t->min_timeout_ns = cfg->close_delay_ns;
    uint64_t idle[] = {cfg->idle_tcp_ns, cfg->idle_udp_ns, cfg->idle_icmp_ns, cfg->idle_other_ns};
    for (i = 0; i < PT_ARRAY_LEN(idle); i++)
        if (idle[i] < t->min_timeout_ns)
            t->min_timeout_ns = idle[i];
    if (!(t->shard = calloc(cfg->shards, sizeof *t->shard)))
        goto err_table;
    if (!(t->w = aligned_alloc(PT_CACHELINE, sizeof *t->w * cfg->workers)))
        goto err_shards;
    memset(t->w, 0, sizeof *t->w * cfg->workers);
    for (i = 0; i < cfg->shards; i++) {
        t->shard[i] = cds_lfht_new(1024, 1024, 0, CDS_LFHT_AUTO_RESIZE | CDS_LFHT_ACCOUNTING, NULL);
        if (!t->shard[i])
            goto err_workers;
    }
    uint64_t per = (cfg->max_flows + cfg->workers - 1) / cfg->workers;
    t->per = per;
    t->pool = calloc(per * cfg->workers, sizeof *t->pool);
    t->tcpx = calloc(per * cfg->workers, sizeof *t->tcpx);
    if (!t->pool || !t->tcpx)
        goto err_workers;
    for (i = 0; i < cfg->workers; i++) {
        struct pt_flow_worker *w = &t->w[i];
        w->t = t;
        w->id = i;
        w->cap = per;
        w->pool = t->pool + i * per;
        w->shard_of = calloc(per, sizeof *w->shard_of);
        if (!w->shard_of)
            goto err_workers;
    }
    if ((rc = flow_app_table_init(t)) < 0 || (rc = flow_rtp_table_init(t)) < 0)
        goto err_workers;
    return t;

err_workers:
    flow_rtp_table_fini(t);
    flow_app_table_fini(t);
    for (i = 0; i < cfg->workers; i++)
        free(t->w[i].shard_of);
    free(t->pool);
    free(t->tcpx);
    for (i = 0; i < cfg->shards; i++)
        if (t->shard[i])
            cds_lfht_destroy(t->shard[i], NULL);
    free(t->w);
err_shards:
    free(t->shard);
err_table:
    free(t);
err_out:
    if (err)
        *err = rc;
    return NULL;
}

void pt_flow_table_destroy(struct pt_flow_table *t)
{
    if (!t)
        return;
    /* A QSBR thread that stays online here would deadlock: cds_lfht_destroy
     * waits for a pending resize, whose worker waits for a grace period,
     * which waits for this thread to go quiescent. */
    bool online = rcu_read_ongoing();
    if (online)
        rcu_thread_offline();
    rcu_barrier(); /* every pending call_rcu has pushed its flow home */
    PT_TSAN_ACQUIRE(t);
    for (unsigned i = 0; i < t->cfg.shards; i++)
        cds_lfht_destroy(t->shard[i], NULL);
    if (online)
        rcu_thread_online();
    flow_rtp_table_fini(t);
    flow_app_table_fini(t);
    for (unsigned i = 0; i < t->cfg.workers; i++) {
        free(t->w[i].shard_of);
        free(t->w[i].snap);
    }
    free(t->pool);
    free(t->tcpx);
    free(t->w);
    free(t->shard);
    free(t->cand);
    free(t);
}

struct pt_flow_worker *pt_flow_worker_get(struct pt_flow_table *t, unsigned id)
{
    return id < t->cfg.workers ? &t->w[id] : NULL;
}

const struct pt_flow_worker_stats *pt_flow_worker_stats(const struct pt_flow_worker *fw)
{
    return &fw->st;
}

uint64_t pt_flow_table_count(const struct pt_flow_table *t)
{
    uint64_t n = 0;
    for (unsigned i = 0; i < t->cfg.workers; i++)
        n += PT_CNT_GET(t->w[i].st.flows_created);
    return n - __atomic_load_n(&t->removed, __ATOMIC_RELAXED);
}

/* ---- pools ---------------------------------------------------------------- */

static struct pt_flow *slot_get(struct pt_flow_worker *w)
{
    struct pt_flow *f = w->free_list;

    if (!f && __atomic_load_n(&w->ret_head, __ATOMIC_RELAXED))
        f = w->free_list = __atomic_exchange_n(&w->ret_head, NULL, __ATOMIC_ACQUIRE);
    if (f) {
        w->free_list = (struct pt_flow *)f->node.next;
        PT_TSAN_ACQUIRE(f); /* after the grace period of its previous life */
        return f;
    }
    if (w->used < w->cap) { /* the tick's pool walk reads `used` (DESIGN 8) */
        __atomic_store_n(&w->used, w->used + 1, __ATOMIC_RELAXED);
        return &w->pool[w->used - 1];
    }
    return NULL;
}

static void slot_put(struct pt_flow_worker *w, struct pt_flow *f)
{
    f->node.next = (struct cds_lfht_node *)w->free_list;
    w->free_list = f;
}

/* call_rcu callback: a grace period has passed, no reader holds @h's flow. */
static void flow_free_cb(struct rcu_head *h)
{
    struct pt_flow *f = caa_container_of(h, struct pt_flow, rcu);
    PT_TSAN_ACQUIRE(f);
    struct pt_flow_worker *w = f->owner;
    struct pt_flow *old = __atomic_load_n(&w->ret_head, __ATOMIC_RELAXED);

    do
        f->node.next = (struct cds_lfht_node *)old;
    while (!__atomic_compare_exchange_n(&w->ret_head, &old, f, true, __ATOMIC_RELEASE,
                                        __ATOMIC_RELAXED));
    PT_TSAN_RELEASE(w->t); /* rcu_barrier() in destroy waits for this */
}

/* ---- per packet ------------------------------------------------------------ */

static int key_match(struct cds_lfht_node *node, const void *key)
{
    const struct pt_flow *f = caa_container_of(node, struct pt_flow, node);
    PT_TSAN_ACQUIRE(f);
    /* Ended flows stay in the table until swept but no longer match (DESIGN
     * 5); the racy read is settled by the state check under the lock. */
    int eq = __atomic_load_n(&f->state, __ATOMIC_RELAXED) == FLOW_LIVE &&
             memcmp(&f->key, key, sizeof f->key) == 0;
    PT_TSAN_RELEASE(f);
    return eq;
}

static bool is_v4_broadcast(const uint8_t a[16])
{
    static const uint8_t bc[16] = {0, 0, 0,    0,    0,    0,    0,    0,
                                   0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    return memcmp(a, bc, 16) == 0;
}

/* Set up a fresh flow for its first packet, sent by key side @side. Decides
 * the originator (see flow.h) and the ICMP identity. */
static void flow_start(struct pt_flow_table *t, struct pt_flow *f, const struct pt_l3 *l3,
                       unsigned side, uint64_t ts)
{
    const struct pt_flow_key *key = &f->key;
    unsigned orig = side;
    bool flip = false;

    /* Everything after the lock and the state, which the caller sets. */
    memset(&f->fl, 0, sizeof *f - offsetof(struct pt_flow, fl));
    if (key->proto == 6) { /* only TCP flows touch their part of the side array */
        struct flow_tcp *x = flow_tcpx(t, f);
        memset(x->ep, 0, sizeof x->ep);
        x->missed = 0;
        pt_tcp_health_init(&x->health);
    }
    f->first_ns = f->last_ns = ts;
    if (l3->flags & PT_L3_L4) {
        uint16_t sp = l3->sport, dp = l3->dport;
        if (l3->proto == 6) {
            uint8_t fl = l3->tcp_flags;
            if ((fl & (TH_SYN | TH_ACK)) == (TH_SYN | TH_ACK)) {
                flip = true; /* the SYN-ACK's receiver opened the connection */
            } else if (!(fl & TH_SYN) && flow_likely_server_port(6, sp)) {
                flip = !flow_likely_server_port(6, dp) || sp < dp;
            }
        } else if (l3->proto == 17) {
            flip = flow_likely_server_port(17, sp) && !flow_likely_server_port(17, dp) &&
                   !is_v4_broadcast(l3->dst);
        } else if (key->port[1] & 0x8000 || key->port[1] < 256) {
            /* ICMP (key.c puts a type class or a code in port[1]) */
            if ((l3->ver == 4 && l3->proto == 1) || (l3->ver == 6 && l3->proto == 58)) {
                f->icmp_type = l3->icmp_type;
                f->icmp_code = l3->icmp_code;
                if (flow_icmp_counterpart(l3->ver, l3->icmp_type) >= 0)
                    f->fl |= FL_ICMP_PAIR;
            }
        }
    }
    if (flip)
        orig = !side;
    if (orig)
        f->fl |= FL_ORIG1;
    if (flip)
        flow_hist_add(f, side, '^');
}

/* Account one IP layer to @f (locked). */
static void flow_account(struct pt_flow_worker *w, struct pt_flow *f, const struct pt_pkt *p,
                         const struct pt_l3 *l3, unsigned side, uint64_t parent)
{
    f->pkts[side]++;
    f->ip_bytes[side] += l3->ip_len;
    if (p->iface < 32)
        f->ifaces |= 1u << p->iface;
    if (p->flags & PT_PKT_ETH) {
        if (!(f->fl & (FL_MAC0 << side))) {
            memcpy(f->mac[side], p->eth_src, 6);
            f->fl |= FL_MAC0 << side;
        }
        if (!(f->fl & (FL_MAC0 << !side))) {
            memcpy(f->mac[!side], p->eth_dst, 6);
            f->fl |= FL_MAC0 << !side;
        }
    }
    if (parent && !f->parent_uid)
        f->parent_uid = parent;
    pt_ip_first_note(&f->ip, side, l3);
    if (l3->proto == 6 && (l3->flags & PT_L3_L4)) {
        struct flow_tcp *x = flow_tcpx(w->t, f);
        /* Zeek stops moving the last-packet time once both sides closed */
        if (!flow_tcp_both_closed(x) && p->ts_ns > f->last_ns)
            f->last_ns = p->ts_ns;
        flow_tcp_update(f, x, side, l3);
        pt_tcp_health_update(&x->health, &w->st.tcp_health, side, p, l3);
        if (!(f->app.fl & APP_F_OFF))
            flow_app_packet(w, f, p, l3, side);
        return;
    }
    if (p->ts_ns > f->last_ns)
        f->last_ns = p->ts_ns;
    f->bytes[side] += l3->l4_len;
    if (l3->proto == 17 && (l3->flags & PT_L3_L4)) {
        flow_hist_once(f, side, 7 /* UDP data */, 'D');
        if (!(f->app.fl & APP_F_OFF))
            flow_app_packet(w, f, p, l3, side);
    }
}

static bool needs_l4(const struct pt_l3 *l3)
{
    return l3->proto == 6 || l3->proto == 17 || (l3->ver == 4 && l3->proto == 1) ||
           (l3->ver == 6 && l3->proto == 58);
}

static uint64_t idle_of(const struct pt_flow_config *c, const struct pt_flow_key *k)
{
    if (k->proto == 6)
        return c->idle_tcp_ns;
    if (k->proto == 17)
        return c->idle_udp_ns;
    if ((k->ver == 4 && k->proto == 1) || (k->ver == 6 && k->proto == 58))
        return c->idle_icmp_ns;
    return c->idle_other_ns;
}

/* @f's TCP part for a TCP flow, NULL otherwise (flow_ended, flow_record_fill). */
static const struct flow_tcp *tcp_part(const struct pt_flow_table *t, const struct pt_flow *f)
{
    return f->key.proto == 6 ? flow_tcpx(t, f) : NULL;
}

/* Why @f (locked) has ended at @now, or -1. */
static int flow_ended(const struct pt_flow_table *t, const struct pt_flow *f, uint64_t now)
{
    const struct pt_flow_config *c = &t->cfg;

    const struct flow_tcp *x = tcp_part(t, f);

    if (x && f->pkts[0] + f->pkts[1] && flow_tcp_closed(x) && now >= f->last_ns + c->close_delay_ns)
        return PT_FLOW_END_CLOSED;
    if (now >= f->last_ns + idle_of(c, &f->key))
        return PT_FLOW_END_IDLE;
    if (c->active_ns && now >= f->first_ns + c->active_ns)
        return PT_FLOW_END_ACTIVE;
    if (f->pkts[0] >= (1u << 31) || f->pkts[1] >= (1u << 31))
        return PT_FLOW_END_ACTIVE; /* keep the 32-bit packet counters exact */
    if (x && (x->ep[0].last_wraps >= 250 || x->ep[0].ack_wraps >= 250 ||
              x->ep[1].last_wraps >= 250 || x->ep[1].ack_wraps >= 250))
        return PT_FLOW_END_ACTIVE; /* ~1 TB in one direction: keep sizes exact */
    return -1;
}

/* The shard of a flow: the high half of its table hash, so the shard and
 * the bucket (cds_lfht indexes by the low, bit-reversed end) use different
 * bits of one hash. */
static inline unsigned flow_shard(const struct pt_flow_table *t, uint64_t h)
{
    return (unsigned)((h >> 32) % t->cfg.shards);
}

/* Why live flow @f (locked) is over for a packet of key side @side at @ts
 * (DESIGN 5), or -1 to account the packet to it. */
static int flow_over_on_arrival(const struct pt_flow_table *t, const struct pt_flow *f,
                                const struct pt_l3 *l3, unsigned side, uint64_t ts)
{
    int why;

    if (f->pkts[0] + f->pkts[1] == 0)
        return -1;
    /* Most packets come well inside every timeout: before the shortest idle
     * or close timeout has passed, only the active split (and a new SYN) can
     * end the flow. The counter and sequence-wrap splits are left to the
     * sweep, which looks at every flow every few seconds, long before they
     * matter. */
    if (likely(ts < f->last_ns + t->min_timeout_ns &&
               (!t->cfg.active_ns || ts < f->first_ns + t->cfg.active_ns) &&
               f->pkts[0] < (1u << 30) && f->pkts[1] < (1u << 30)))
        why = -1;
    else
        why = flow_ended(t, f, ts);
    if (why < 0 && l3->proto == 6 && flow_tcp_is_reuse(flow_tcpx(t, f), side, l3))
        why = PT_FLOW_END_CLOSED;
    return why;
}

/* Find or create the live flow of @key for this packet, returned locked;
 * NULL when the pool is empty (refused). A flow this packet finds over is
 * marked ended and replaced (DESIGN 5). */
static struct pt_flow *flow_get(struct pt_flow_worker *w, const struct pt_flow_key *key,
                                unsigned long h, const struct pt_l3 *l3, unsigned side, uint64_t ts)
{
    struct pt_flow_table *t = w->t;
    struct cds_lfht *ht = t->shard[flow_shard(t, h)];
    struct cds_lfht_iter it;
    struct cds_lfht_node *n;
    struct pt_flow *f;

    for (;;) {
        cds_lfht_lookup(ht, h, key_match, key, &it);
        n = cds_lfht_iter_get_node(&it);
        if (!n) {
            struct pt_flow *s = slot_get(w);
            if (!s)
                return NULL;
            s->key = *key;
            __atomic_store_n(&w->shard_of[s - w->pool], (uint16_t)flow_shard(t, h),
                             __ATOMIC_RELAXED);
            /* Published locked: nobody sees it before its first packet. The
             * lock is taken, not just set: the tick's pool walk may be
             * holding it on the slot's previous life (DESIGN 8). */
            flow_lock(s, NULL);
            flow_start(t, s, l3, side, ts);
            flow_app_start(s, t->cfg.app_off);
            __atomic_store_n(&s->state, FLOW_LIVE, __ATOMIC_RELEASE);
            PT_TSAN_RELEASE(s); /* published by add_unique */
            n = cds_lfht_add_unique(ht, h, key_match, key, &s->node);
            if (n == &s->node) {
                PT_CNT_INC(w->st.flows_created);
                PT_TSAN_ACQUIRE(s);
                return s;
            }
            __atomic_store_n(&s->state, FLOW_DEAD, __ATOMIC_RELAXED);
            flow_unlock(s);
            slot_put(w, s); /* lost the race: never published */
        }
        f = caa_container_of(n, struct pt_flow, node);
        PT_TSAN_ACQUIRE(f);
        flow_lock(f, &w->st);
        if (likely(__atomic_load_n(&f->state, __ATOMIC_RELAXED) == FLOW_LIVE)) {
            int why = flow_over_on_arrival(t, f, l3, side, ts);
            if (likely(why < 0))
                return f;
            __atomic_store_n(&f->state, (uint8_t)(FLOW_ENDED + why), __ATOMIC_RELAXED);
            PT_CNT_INC(w->st.flows_restarted);
        }
        PT_TSAN_RELEASE(f);
        flow_unlock(f); /* not live: look again, and insert its successor */
    }
}

/* The innermost layer's pt_flow_pkt_hash() when it is not tracked (a
 * non-first fragment, a transport header not decoded): its portless key. */
static uint64_t untracked_hash(const struct pt_l3 *l3, uint64_t outer)
{
    struct pt_flow_key key;
    bool swapped;

    return pt_flow_key_make(&key, l3, &swapped) ? flow_key_hash64(&key) | 1 : outer;
}

uint64_t pt_flow_process(struct pt_flow_worker *w, const struct pt_pkt *p)
{
    uint64_t parent = 0, inner = 0;
    unsigned n = p->n_l3 < PT_MAX_LAYERS ? p->n_l3 : PT_MAX_LAYERS;

    if (n == 0) {
        PT_CNT_INC(w->st.no_flow_pkts);
        if (p->flags & PT_PKT_ARP)
            flow_app_arp(w, p);
        return 0;
    }
    for (unsigned i = 0; i < n; i++) {
        const struct pt_l3 *l3 = &p->l3[i];
        struct pt_flow_key key;
        bool swapped;

        PT_CNT_INC(w->st.pkts);
        if ((l3->flags & PT_L3_FRAG) && !(l3->flags & PT_L3_FRAG_HEAD)) {
            PT_CNT_INC(w->st.frag_pkts); /* no ports: the first fragment counted */
            parent = 0;
            if (i + 1 == n)
                inner = untracked_hash(l3, inner);
            continue;
        }
        if ((needs_l4(l3) && !(l3->flags & PT_L3_L4)) || !pt_flow_key_make(&key, l3, &swapped)) {
            PT_CNT_INC(w->st.no_l4_pkts);
            parent = 0;
            if (i + 1 == n)
                inner = untracked_hash(l3, inner);
            continue;
        }
        unsigned side = swapped ? 1 : 0;
        uint64_t h = flow_key_hash64(&key);
        inner = h | 1;
        struct pt_flow *f = flow_get(w, &key, (unsigned long)h, l3, side, p->ts_ns);
        if (!f) {
            uint64_t *slot = &w->refused[inner % PT_FLOW_REFUSED_SLOTS];
            if (*slot != inner) {
                *slot = inner;
                PT_CNT_INC(w->st.full_flows);
            }
            PT_CNT_INC(w->st.full_pkts);
            parent = 0;
            continue;
        }
        flow_account(w, f, p, l3, side, l3->encap != PT_ENCAP_NONE ? parent : 0);
        /* the next layer, if any, is tunnelled in this one */
        parent = i + 1 < n ? flow_uid64(&f->key, f->first_ns) : 0;
        flow_unlock(f);
    }
    return inner;
}

/* ---- removal --------------------------------------------------------------- */

static struct pt_flow_worker *slot_owner(struct pt_flow_table *t, const struct pt_flow *f)
{
    return &t->w[(uint64_t)(f - t->pool) / t->per];
}

static unsigned age_bucket(uint64_t now, uint64_t last)
{
    uint64_t age = now > last ? now - last : 0;
    return age ? 64 - (unsigned)__builtin_clzll(age) : 0;
}

/* What a sweep does with each live flow. */
enum sweep_mode {
    SWEEP_TIMEOUTS, /* remove it if its timeouts at @now say it has ended */
    SWEEP_FLUSH,    /* remove it */
    SWEEP_EVICT,    /* remove it if its idle age is in log2 bucket >= @cut */
};

/* One pass of the remover over the table. */
struct sweep {
    struct pt_flow_table *t;
    enum sweep_mode mode;
    uint64_t now;
    unsigned cut;
    pt_flow_emit_fn emit;
    pt_flow_visit_fn visit; /* tick walks only (DESIGN 8) */
    void *arg;
};

/* The tick's view of @f (caller holds the lock), from its snapshot, which it
 * then advances. With @live (a live flow of the pool walk), the flow's live
 * record goes there when one is due. */
static void view_take(const struct sweep *sw, struct pt_flow_worker *w, struct pt_flow *f,
                      struct pt_flow_view *v, struct pt_flow_record *live)
{
    struct flow_snap *sn = &w->snap[f - w->pool];
    uint64_t bytes = f->ip_bytes[0] + f->ip_bytes[1];
    uint32_t pkts = f->pkts[0] + f->pkts[1];

    v->key = &f->key;
    v->orig_side = flow_orig_side(f);
    v->first_ns = f->first_ns;
    v->ifaces = f->ifaces;
    v->app = (uint8_t)pt_appid_result(&f->app.id);
    v->is_new = sn->tick == 0;
    if (v->is_new) { /* the slot may still hold the snapshot of its previous flow */
        sn->pkts = 0;
        sn->bytes = 0;
    }
    v->pkts = pkts - sn->pkts;
    v->bytes = bytes - sn->bytes;
    v->ended = false;
    v->over = __atomic_load_n(&f->state, __ATOMIC_RELAXED) >= FLOW_ENDED;
    v->live = NULL;
    /* a live record at the first visit, then when the flow has carried
     * packets since its last one, at most every live_ticks ticks */
    if (live && !v->over &&
        (v->is_new ||
         (pkts != sn->live_pkts && sw->t->tick_no - sn->live_tick >= sw->t->live_ticks))) {
        flow_record_fill(live, f, tcp_part(sw->t, f), PT_FLOW_END_LIVE);
        flow_rtp_fill(live, sw->t, f);
        v->live = live;
        sn->live_tick = sw->t->tick_no;
        sn->live_pkts = pkts;
    }
    sn->pkts = pkts;
    sn->bytes = bytes;
    sn->tick = sw->t->tick_no;
}

/* Remove @f if it has ended (its state says so, or the sweep's mode at its
 * time decides). Decides, deletes and takes the record under one hold of
 * the flow lock (DESIGN 4); a tick's visitor then sees its last view.
 * Returns true when removed. Caller: the remover, inside rcu_read_lock. */
static bool flow_remove(const struct sweep *sw, struct cds_lfht *ht, struct pt_flow *f)
{
    struct pt_flow_table *t = sw->t;
    struct pt_flow_worker *w = slot_owner(t, f);
    struct pt_flow_record rec;
    struct pt_flow_view v;
    int why = -1;

    PT_TSAN_ACQUIRE(f);
    flow_lock(f, NULL);
    if (f->state == FLOW_DEAD) { /* removed by an earlier pass of this call */
        flow_unlock(f);
        return false;
    }
    if (f->state >= FLOW_ENDED)
        why = f->state - FLOW_ENDED; /* over on arrival: its own reason */
    else if (sw->mode == SWEEP_FLUSH)
        why = PT_FLOW_END_FLUSH;
    else if (sw->mode == SWEEP_TIMEOUTS)
        why = flow_ended(t, f, sw->now);
    else if (age_bucket(sw->now, f->last_ns) >= sw->cut)
        why = PT_FLOW_END_EVICT;
    if (why < 0 || cds_lfht_del(ht, &f->node) != 0) {
        flow_unlock(f);
        return false;
    }
    flow_app_end(t, f); /* its app records go out before its conn record */
    flow_record_fill(&rec, f, tcp_part(t, f), (unsigned)why);
    flow_rtp_fill(&rec, t, f);
    flow_rtp_end(t, f);
    if (sw->visit)
        view_take(sw, w, f, &v, NULL);
    __atomic_store_n(&f->state, FLOW_DEAD, __ATOMIC_RELAXED);
    flow_unlock(f);
    if (sw->emit)
        sw->emit(&rec, sw->arg);
    if (sw->visit) {
        v.ended = true;
        v.over = true;
        sw->visit(&v, sw->arg);
    }
    if (w->snap) /* also on a plain expire: the slot's next flow is a new one */
        w->snap[f - w->pool].tick = 0;
    f->owner = w;
    PT_TSAN_RELEASE(f);
    call_rcu(&f->rcu, flow_free_cb);
    __atomic_store_n(&t->removed, t->removed + 1, __ATOMIC_RELAXED);
    return true;
}

/* Evict the longest-idle flows until the table is back under 85 %. */
static uint64_t evict(struct sweep *sw)
{
    struct pt_flow_table *t = sw->t;
    uint64_t hist[65] = {0}, count = pt_flow_table_count(t), target, sum = 0, n = 0;
    struct cds_lfht_iter it;
    struct pt_flow *f;
    int cut;

    target = count - t->cfg.max_flows * 85 / 100;
    for (unsigned s = 0; s < t->cfg.shards; s++) {
        rcu_read_lock();
        cds_lfht_for_each_entry(t->shard[s], &it, f, node)
        {
            PT_TSAN_ACQUIRE(f);
            flow_lock(f, NULL);
            hist[age_bucket(sw->now, f->last_ns)]++;
            flow_unlock(f);
        }
        rcu_read_unlock();
    }
    for (cut = 64; cut > 0 && sum < target; cut--)
        sum += hist[cut];
    if (sum < target)
        cut = 0;
    else
        cut++;
    sw->mode = SWEEP_EVICT;
    sw->cut = (unsigned)cut;
    for (unsigned s = 0; s < t->cfg.shards && n < target; s++) {
        rcu_read_lock();
        cds_lfht_for_each_entry(t->shard[s], &it, f, node)
        {
            if (flow_remove(sw, t->shard[s], f))
                if (++n >= target)
                    break;
        }
        rcu_read_unlock();
    }
    __atomic_store_n(&t->evicted, t->evicted + n, __ATOMIC_RELAXED);
    return n;
}

/* Evict when a timeouts sweep leaves the table too full (DESIGN 6). */
static uint64_t evict_if_full(struct sweep *sw)
{
    struct pt_flow_table *t = sw->t;

    if (sw->mode == SWEEP_TIMEOUTS && t->cfg.full_policy == PT_FLOW_FULL_EVICT &&
        pt_flow_table_count(t) > t->cfg.max_flows * 9 / 10)
        return evict(sw);
    return 0;
}

/* Walk @count shards from @from with @sw, then evict if the table is too full. */
static uint64_t sweep_run(struct sweep *sw, unsigned from, unsigned count)
{
    struct pt_flow_table *t = sw->t;
    struct cds_lfht_iter it;
    struct pt_flow *f;
    uint64_t n = 0;

    for (unsigned i = 0; i < count; i++) {
        unsigned s = (from + i) % t->cfg.shards;
        rcu_read_lock();
        cds_lfht_for_each_entry(t->shard[s], &it, f, node)
        {
            if (flow_remove(sw, t->shard[s], f))
                n++;
        }
        rcu_read_unlock();
    }
    return n + evict_if_full(sw);
}

static uint64_t pool_sweep(const struct sweep *sw, unsigned from, unsigned count);

uint64_t pt_flow_table_expire(struct pt_flow_table *t, uint64_t now_ns, bool flush,
                              pt_flow_emit_fn emit, void *arg)
{
    struct sweep sw = {.t = t,
                       .mode = flush ? SWEEP_FLUSH : SWEEP_TIMEOUTS,
                       .now = now_ns,
                       .emit = emit,
                       .arg = arg};
    unsigned from = 0, count = t->cfg.shards;

    if (flush)
        return sweep_run(&sw, from, count);
    /* a rotating share of the shards per call (DESIGN 7), found in pool
     * order (DESIGN 9) */
    count = t->cfg.sweep_shards ? t->cfg.sweep_shards : (t->cfg.shards + 7) / 8;
    if (count > t->cfg.shards)
        count = t->cfg.shards;
    from = t->sweep_next;
    t->sweep_next = (from + count) % t->cfg.shards;
    rcu_read_lock(); /* slots are not freed under a reader: call_rcu waits */
    uint64_t n = pool_sweep(&sw, from, count);
    rcu_read_unlock();
    return n + evict_if_full(&sw);
}

/* Allocate the tick's snapshots on first use (DESIGN 8). */
int pt_flow_table_snaps_alloc(struct pt_flow_table *t)
{
    for (unsigned i = 0; i < t->cfg.workers; i++) {
        struct pt_flow_worker *w = &t->w[i];
        if (!w->snap && !(w->snap = calloc(w->cap, sizeof *w->snap))) {
            for (unsigned k = 0; k < t->cfg.workers; k++) { /* all or nothing */
                free(t->w[k].snap);
                t->w[k].snap = NULL;
            }
            return -ENOMEM;
        }
    }
    return 0;
}

/* The hash a node was added with, from the bit-reversed one cds_lfht keeps. */
static inline uint64_t unreverse_hash(unsigned long rh)
{
    uint64_t x = __builtin_bswap64((uint64_t)rh);

    x = ((x >> 4) & 0x0f0f0f0f0f0f0f0full) | ((x & 0x0f0f0f0f0f0f0f0full) << 4);
    x = ((x >> 2) & 0x3333333333333333ull) | ((x & 0x3333333333333333ull) << 2);
    return ((x >> 1) & 0x5555555555555555ull) | ((x & 0x5555555555555555ull) << 1);
}

static inline uint64_t node_hash(const struct cds_lfht_node *n)
{
    return unreverse_hash(n->reverse_hash);
}

/* Note @f (locked) for removal after the walk. False when the list cannot
 * grow: the caller then removes it at once (only the order changes). */
static bool cand_push(struct pt_flow_table *t, struct pt_flow *f, unsigned pos)
{
    if (t->cand_n == t->cand_cap) {
        size_t nc = t->cand_cap ? t->cand_cap * 2 : 1024;
        struct flow_cand *nv = realloc(t->cand, nc * sizeof *nv);
        if (!nv)
            return false;
        t->cand = nv;
        t->cand_cap = nc;
    }
    t->cand[t->cand_n++] = (struct flow_cand){.pos = pos, .rh = f->node.reverse_hash, .f = f};
    return true;
}

static int cand_cmp(const void *x, const void *y)
{
    const struct flow_cand *a = x, *b = y;

    if (a->pos != b->pos)
        return a->pos < b->pos ? -1 : 1;
    if (a->rh != b->rh)
        return a->rh < b->rh ? -1 : 1;
    /* Equal hashes: cds_lfht_add_unique() puts a node first among those
     * with its hash, so a successor comes before the flow with the same
     * key that ended on arrival (a new flow starts after the old one). */
    if (a->f->first_ns != b->f->first_ns)
        return a->f->first_ns > b->f->first_ns ? -1 : 1;
    return memcmp(&a->f->key, &b->f->key, sizeof a->f->key);
}

/* Lock @f, visit it if it is live or ended, unlock. */
static void visit_one(const struct sweep *sw, struct pt_flow_worker *w, struct pt_flow *f,
                      struct pt_flow_record *live)
{
    struct pt_flow_view v;
    uint8_t st;

    flow_lock(f, NULL);
    PT_TSAN_ACQUIRE(f);
    st = __atomic_load_n(&f->state, __ATOMIC_RELAXED);
    if (st != FLOW_LIVE && st < FLOW_ENDED) { /* lost an insert race, or removed */
        flow_unlock(f);
        return;
    }
    view_take(sw, w, f, &v, live);
    flow_unlock(f);
    sw->visit(&v, sw->arg);
}

/* Visit every flow in the table, pool by pool in slot order, and remove the
 * flows that are over in the @count shards from @from (DESIGN 8). Returns
 * the number removed. */
static uint64_t pool_walk(const struct sweep *sw, unsigned from, unsigned count)
{
    struct pt_flow_table *t = sw->t;
    struct pt_flow_record live;
    struct pt_flow_view v;
    unsigned shards = t->cfg.shards;
    uint64_t n = 0;

    t->cand_n = 0;
    for (unsigned i = 0; i < t->cfg.workers; i++) {
        struct pt_flow_worker *w = &t->w[i];
        uint64_t used = __atomic_load_n(&w->used, __ATOMIC_RELAXED);

        for (uint64_t k = 0; k < used; k++) {
            struct pt_flow *f = &w->pool[k];
            uint8_t st = __atomic_load_n(&f->state, __ATOMIC_ACQUIRE);

            if (st != FLOW_LIVE && st < FLOW_ENDED)
                continue; /* free, dead, or being started (not yet live) */
            flow_lock(f, NULL);
            PT_TSAN_ACQUIRE(f);
            st = __atomic_load_n(&f->state, __ATOMIC_RELAXED);
            if (st != FLOW_LIVE && st < FLOW_ENDED) { /* lost an insert race meanwhile */
                flow_unlock(f);
                continue;
            }
            unsigned pos =
                ((unsigned)((node_hash(&f->node) >> 32) % shards) + shards - from) % shards;
            if (pos < count && (st >= FLOW_ENDED || flow_ended(t, f, sw->now) >= 0)) {
                bool noted = cand_push(t, f, pos);
                flow_unlock(f);
                if (!noted && flow_remove(sw, t->shard[(from + pos) % shards], f))
                    n++;
                continue;
            }
            view_take(sw, w, f, &v, &live);
            flow_unlock(f);
            sw->visit(&v, sw->arg);
        }
    }
    /* remove in the sweep's hash order, so records leave in the same order
     * as from pt_flow_table_expire() */
    if (t->cand_n > 1)
        qsort(t->cand, t->cand_n, sizeof *t->cand, cand_cmp);
    for (size_t i = 0; i < t->cand_n; i++) {
        struct pt_flow *f = t->cand[i].f;
        if (flow_remove(sw, t->shard[(from + t->cand[i].pos) % shards], f))
            n++;
        else /* a packet came meanwhile and kept it alive */
            visit_one(sw, slot_owner(t, f), f, &live);
    }
    return n;
}

/* Flows of the sweep's shards that pool_sweep() checks per batch, and how
 * far ahead in a batch it prefetches. */
#define SWEEP_BATCH    64
#define SWEEP_PREFETCH 8

/* Note @f (a slot of pool_sweep's shards) for removal if it is over. Returns
 * true when it was removed at once (the list could not grow). */
static bool sweep_check(const struct sweep *sw, struct pt_flow *f, unsigned from, unsigned count)
{
    struct pt_flow_table *t = sw->t;
    unsigned shards = t->cfg.shards, pos;
    uint8_t st = __atomic_load_n(&f->state, __ATOMIC_ACQUIRE);
    bool over;

    if (st != FLOW_LIVE && st < FLOW_ENDED)
        return false; /* free, dead, or being started */
    flow_lock(f, NULL);
    PT_TSAN_ACQUIRE(f);
    st = __atomic_load_n(&f->state, __ATOMIC_RELAXED);
    /* under the lock the node's hash is the flow's own: it settles a
     * shard number read while a worker was starting the slot anew */
    pos = ((unsigned)((node_hash(&f->node) >> 32) % shards) + shards - from) % shards;
    over = (st == FLOW_LIVE || st >= FLOW_ENDED) && pos < count &&
           (st >= FLOW_ENDED || flow_ended(t, f, sw->now) >= 0);
    if (!over || cand_push(t, f, pos)) {
        flow_unlock(f);
        return false;
    }
    flow_unlock(f);
    return flow_remove(sw, t->shard[(from + pos) % shards], f);
}

/* The expire's sweep of the @count shards from @from (DESIGN 9): find the
 * flows of those shards from the pools' shard numbers, note those that are
 * over, then remove them in the order the hash walk would have met them.
 * Returns the number removed. */
static uint64_t pool_sweep(const struct sweep *sw, unsigned from, unsigned count)
{
    struct pt_flow_table *t = sw->t;
    unsigned shards = t->cfg.shards;
    struct pt_flow *batch[SWEEP_BATCH];
    uint64_t n = 0;

    t->cand_n = 0;
    for (unsigned i = 0; i < t->cfg.workers; i++) {
        struct pt_flow_worker *w = &t->w[i];
        uint64_t used = __atomic_load_n(&w->used, __ATOMIC_RELAXED);
        unsigned m = 0;

        for (uint64_t k = 0; k <= used; k++) {
            if (k < used) {
                unsigned s = __atomic_load_n(&w->shard_of[k], __ATOMIC_RELAXED);
                unsigned pos = s >= from ? s - from : s + shards - from;
                /* without a branch: which slots are in is random, and a
                 * mispredicted branch per slot cost more than this store */
                batch[m] = &w->pool[k];
                m += pos < count;
                if (m < SWEEP_BATCH)
                    continue;
            }
            /* a batch (or the last, partial one): the flows are far apart
             * in memory, so fetch the lines flow_ended() reads ahead: the
             * slot's first lines and the TCP endpoints. Whether the flow is
             * TCP is not known without its lock (a worker may be re-keying
             * the slot), so every slot's are fetched: a prefetch never
             * faults, so a UDP flow's untouched page stays untouched. */
            for (unsigned j = 0; j < m; j++) {
                if (j + SWEEP_PREFETCH < m) {
                    const char *a = (const char *)batch[j + SWEEP_PREFETCH];
                    const char *x = (const char *)flow_tcpx(t, batch[j + SWEEP_PREFETCH]);
                    for (size_t o = 0; o < offsetof(struct pt_flow, ip_bytes); o += 64)
                        __builtin_prefetch(a + o);
                    __builtin_prefetch(x);
                    __builtin_prefetch(x + sizeof(struct flow_tcp_ep) * 2 - 1);
                }
                if (sweep_check(sw, batch[j], from, count))
                    n++;
            }
            m = 0;
        }
    }
    if (t->cand_n > 1)
        qsort(t->cand, t->cand_n, sizeof *t->cand, cand_cmp);
    for (size_t i = 0; i < t->cand_n; i++)
        if (flow_remove(sw, t->shard[(from + t->cand[i].pos) % shards], t->cand[i].f))
            n++;
    return n;
}

uint64_t pt_flow_table_tick(struct pt_flow_table *t, uint64_t now_ns, bool flush,
                            pt_flow_emit_fn emit, pt_flow_visit_fn visit, void *arg)
{
    struct sweep sw = {.t = t,
                       .mode = flush ? SWEEP_FLUSH : SWEEP_TIMEOUTS,
                       .now = now_ns,
                       .emit = emit,
                       .visit = visit,
                       .arg = arg};
    unsigned from = 0, count = t->cfg.shards;
    uint64_t n;

    if (visit && pt_flow_table_snaps_alloc(t) < 0)
        sw.visit = NULL;
    if (++t->tick_no == 0) /* 0 means "never visited" */
        t->tick_no = 1;
    if (!flush) { /* the same rotating share as pt_flow_table_expire */
        count = t->cfg.sweep_shards ? t->cfg.sweep_shards : (t->cfg.shards + 7) / 8;
        if (count > t->cfg.shards)
            count = t->cfg.shards;
        from = t->sweep_next;
        t->sweep_next = (from + count) % t->cfg.shards;
    }
    if (!sw.visit || flush)
        n = sweep_run(&sw, from, count);
    else /* evict first: the walk then sees evicted flows only as ended */
        n = evict_if_full(&sw);
    if (sw.visit) {
        rcu_read_lock(); /* slots are not freed under a reader: call_rcu waits */
        n += pool_walk(&sw, from, flush ? 0 : count);
        rcu_read_unlock();
    }
    return n;
}

uint64_t pt_flow_table_evicted(const struct pt_flow_table *t)
{
    return __atomic_load_n(&t->evicted, __ATOMIC_RELAXED);
}
