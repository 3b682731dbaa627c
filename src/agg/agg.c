/* agg.c - the aggregation thread's tick: counters to series points, flow
 * walk to new/active/ended counts and top-N lists, one store write.
 *
 * DESIGN
 * 1. Counters. Workers only add to their own cumulative counters. A tick
 *    reads each (relaxed loads) and subtracts the copy it took at the
 *    previous tick; the differences, summed over workers, are the second's
 *    points. Nothing is reset, so nothing is lost between two reads, and the
 *    points of a run telescope to its totals.
 * 2. Flows. pt_flow_table_tick() shows every flow with its packets and bytes
 *    since its previous visit. New flows (first visit) and ended ones
 *    (removed now) are counted per interface bit; active = visited and not
 *    ended. Bytes go to a per-tick host table (both endpoints) and to a
 *    bounded min-heap of the top flows. The host table is a dense array in
 *    order of arrival, found through an index of (position, hash tag)
 *    slots: at a million hosts the index (16 MB) is what inserts miss on,
 *    and the top-N scan reads only the hosts there are, not a sparse table.
 * 3. Top lists. Hosts: the union of the top N by bytes, by packets and by
 *    flows. Flows: the top N by bytes. Ties are broken by address / key so
 *    that a capture gives the same lists for any number of workers.
 * 4. Series ids are resolved once per name (pt_store_series_id) and cached
 *    by dimension index; interface names are checked at every tick, since
 *    the offline interface table grows as files are read.
 * 5. Seconds. Each tick writes one second. A tick for a second not after the
 *    previous one (the wall clock stepped back) is written as the next
 *    second and counted (late_ticks): a second is never overwritten by a
 *    later tick of the same run. Offline, short gaps without packets get
 *    zero points for the dense series.
 * 6. Failure. A store error loses that second's batch (the store counts and
 *    logs it); the tick itself, expiry and record emission go on. */
#include "pt/agg.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Dense metrics: written every second for the total and every interface. */
enum {
    M_PACKETS = 0,
    M_BYTES,
    M_DECODE_ERRORS,
    M_KERNEL_DROPS,
    M_FLOWS_ACTIVE,
    M_FLOWS_NEW,
    M_FLOWS_ENDED,
    M_FLOWS_REFUSED, /* total only */
    M_DENSE,
};

static const char *const metric_name[M_DENSE] = {
    "packets",      "bytes",     "decode_errors", "kernel_drops",
    "flows_active", "flows_new", "flows_ended",   "flows_refused",
};

/* Cached series id: 0 = not resolved yet, else id + 1. */
typedef uint64_t sid_t;

struct host_ent { /* 40 bytes, dense: this tick's hosts in order of arrival */
    uint8_t addr[16];
    uint64_t bytes, pkts;
    uint32_t flows;
};

/* A host index slot: 0, or the dense index + 1 and the address hash's high
 * half, which settles most mismatches without touching the dense entry. */
struct host_slot {
    uint32_t idx1, tag;
};

#define HOST_PEND 16 /* inserts in flight (host_add) */

struct host_pend {
    uint8_t addr[16];
    uint64_t hash, bytes, pkts;
};

struct flow_ent {
    struct pt_flow_key key;
    unsigned orig_side;
    uint64_t first_ns, bytes, pkts;
};

struct pt_agg {
    struct pt_agg_config cfg;
    struct pt_flow_table *ft;
    struct pt_store *store;
    unsigned nw, top_n;

    /* owned by workers (one each), read here */
    struct pt_agg_counters *ctr;
    /* aggregation thread only */
    struct pt_agg_counters *prev; /* what the previous tick read, per worker */
    struct pt_agg_counters sum;   /* this tick's differences, all workers */
    uint64_t prev_refused;
    uint64_t prev_kdrops[PT_MAX_IFACES];

    sid_t total_id[M_DENSE];
    sid_t iface_id[PT_MAX_IFACES][M_DENSE];
    char iface_name[PT_MAX_IFACES][64]; /* name the cached ids belong to */
    sid_t vlan_id[PT_AGG_VLANS][2];
    sid_t proto_id[PT_AGG_PROTOS][2];
    sid_t app_id[PT_APP_MAX][2];
    sid_t dns_id, dnsq_id[PT_DNS_SERIES_QTYPES], dnsr_id[PT_DNS_SERIES_RCODES];
    sid_t tcp_id[PT_TCPH_EV_MAX];
    /* cumulative event counters as the previous tick read them */
    uint64_t prev_dnsq[PT_DNS_SERIES_QTYPES], prev_dnsr[PT_DNS_SERIES_RCODES];
    uint64_t prev_tcp[PT_TCPH_EV_MAX];
    struct pt_app_worker_stats app_tot; /* scratch of events_points() */

    /* per tick, from the flow walk */
    uint64_t f_new[PT_MAX_IFACES + 1], f_active[PT_MAX_IFACES + 1], f_ended[PT_MAX_IFACES + 1];
    struct pt_agg_pair app[PT_APP_MAX]; /* by the flow's label */
    struct host_ent *hosts;             /* host_used of host_max */
    struct host_slot *hslot;            /* host_cap (a power of two), load <= 1/2 */
    size_t host_cap, host_used, host_max;
    struct host_pend pend[HOST_PEND];
    unsigned pend_head, pend_n;
    struct flow_ent *fheap; /* min-heap by (bytes, key) of top_n */
    size_t fheap_n;
    struct pt_top_host *th; /* 3 * top_n: the batch's host list */
    struct pt_top_flow *tf; /* top_n */
    size_t *idx;            /* 3 * top_n: the rankings' heaps of host table indices */

    /* the batch */
    struct pt_store_point *pts;
    size_t n_pts, cap_pts;
    struct pt_flow_record *recs;
    size_t n_recs, cap_recs;
    struct pt_flow_record *live; /* records of open flows due this tick */
    size_t n_live, cap_live;
    pt_flow_record_fn emit;
    struct pt_flow_record spare; /* a record emitted but not held (no memory) */
    struct pt_agg_tick_in in;    /* the tick being written (hold: until pt_agg_write) */
    uint64_t tick_t0;            /* its start, thread CPU time */
    void *emit_arg;

    uint64_t last_sec;
    uint64_t last_err_log_ns;
    struct pt_agg_stats st;
};

const char *pt_agg_proto_name(unsigned proto, char *buf)
{
    static const struct {
        uint8_t p;
        const char *n;
    } names[] = {{1, "icmp"},  {2, "igmp"},  {4, "ipip"},   {6, "tcp"},   {17, "udp"},
                 {41, "ipv6"}, {47, "gre"},  {50, "esp"},   {51, "ah"},   {58, "icmpv6"},
                 {89, "ospf"}, {103, "pim"}, {112, "vrrp"}, {132, "sctp"}};

    if (proto == PT_AGG_PROTO_NONIP) {
        strcpy(buf, "non-ip");
        return buf;
    }
    for (size_t i = 0; i < PT_ARRAY_LEN(names); i++)
        if (names[i].p == proto) {
            strcpy(buf, names[i].n);
            return buf;
        }
    snprintf(buf, 12, "ip-%u", proto & 0xffu);
    return buf;
}

struct pt_agg *pt_agg_create(const struct pt_agg_config *cfg, struct pt_flow_table *ft, int *err,
                             char *msg, size_t msglen)
{
    struct pt_agg *a;
    size_t csz = sizeof(struct pt_agg_counters);

    *err = -ENOMEM;
    snprintf(msg, msglen, "out of memory");
    if (!cfg->datadir || !*cfg->datadir || cfg->workers < 1 || cfg->top_n > 1000) {
        *err = PT_E_BADARG;
        snprintf(msg, msglen, "aggregation: bad configuration");
        return NULL;
    }
    if (!(a = aligned_alloc(PT_CACHELINE, sizeof *a)))
        return NULL;
    memset(a, 0, sizeof *a);
    a->cfg = *cfg;
    a->ft = ft;
    a->nw = cfg->workers;
    a->top_n = cfg->top_n ? cfg->top_n : PT_AGG_TOP_DEFAULT;
    if (!a->cfg.gap_fill_s)
        a->cfg.gap_fill_s = 60;
    a->ctr = aligned_alloc(PT_CACHELINE, csz * a->nw);
    a->prev = aligned_alloc(PT_CACHELINE, csz * a->nw);
    a->fheap = malloc(sizeof *a->fheap * a->top_n);
    a->th = malloc(sizeof *a->th * 3 * a->top_n);
    a->tf = malloc(sizeof *a->tf * a->top_n);
    a->idx = malloc(sizeof *a->idx * 3 * a->top_n);
    if (!a->ctr || !a->prev || !a->fheap || !a->th || !a->tf || !a->idx)
        goto err_free;
    memset(a->ctr, 0, csz * a->nw);
    memset(a->prev, 0, csz * a->nw);
    if (pt_flow_table_snaps_alloc(ft) < 0) {
        snprintf(msg, msglen, "out of memory for the flow snapshots (24 bytes per flow)");
        goto err_free;
    }
    a->store = pt_store_open(cfg->datadir, &cfg->store, false, err, msg, msglen);
    if (!a->store)
        goto err_free;
    if (cfg->hook.open)
        cfg->hook.open(a->store, cfg->hook.arg);
    return a;

err_free:
    pt_agg_destroy(a); /* the store is not open: nothing to finish */
    return NULL;
}

void pt_agg_destroy(struct pt_agg *a)
{
    if (!a)
        return;
    if (a->store) {
        if (a->cfg.hook.close)
            a->cfg.hook.close(a->store, a->cfg.hook.arg);
        int rc = pt_store_finish(a->store);
        if (rc < 0)
            pt_log(PT_LOG_ERR, "store: final rollup failed: %s", pt_strerror(rc));
        pt_store_close(a->store);
    }
    free(a->ctr);
    free(a->prev);
    free(a->fheap);
    free(a->th);
    free(a->tf);
    free(a->idx);
    free(a->hosts);
    free(a->hslot);
    free(a->pts);
    free(a->recs);
    free(a->live);
    free(a);
}

struct pt_agg_counters *pt_agg_worker_counters(struct pt_agg *a, unsigned i)
{
    return i < a->nw ? &a->ctr[i] : NULL;
}

void pt_agg_stats(const struct pt_agg *a, struct pt_agg_stats *st)
{
    *st = a->st;
    pt_store_stats(a->store, &st->store);
}

/* ---- series ids and points ---- */

static bool series_resolve(struct pt_agg *a, sid_t *slot, const char *name, uint32_t *id)
{
    int rc;

    if (*slot) {
        *id = (uint32_t)(*slot - 1);
        return true;
    }
    if ((rc = pt_store_series_id(a->store, name, id)) < 0) {
        pt_log(PT_LOG_ERR, "store: cannot create series %s: %s", name, pt_strerror(rc));
        return false;
    }
    *slot = (sid_t)*id + 1;
    return true;
}

static void point_add(struct pt_agg *a, sid_t *slot, const char *name, uint64_t value)
{
    uint32_t id;

    if (!series_resolve(a, slot, name, &id))
        return;
    if (a->n_pts == a->cap_pts) {
        size_t nc = a->cap_pts ? a->cap_pts * 2 : 256;
        struct pt_store_point *np = realloc(a->pts, nc * sizeof *np);
        if (!np) {
            a->st.points_lost++; /* the tick's batch is short by it */
            return;
        }
        a->pts = np;
        a->cap_pts = nc;
    }
    a->pts[a->n_pts].series = id;
    a->pts[a->n_pts].value = value;
    a->n_pts++;
}

/* Interface @i is now called @name: forget ids cached for another name. */
static void iface_check(struct pt_agg *a, unsigned i, const char *name)
{
    if (strcmp(a->iface_name[i], name) == 0)
        return;
    snprintf(a->iface_name[i], sizeof a->iface_name[i], "%s", name);
    memset(a->iface_id[i], 0, sizeof a->iface_id[i]);
}

/* ---- counters (DESIGN 1) ---- */

static inline uint64_t take(const uint64_t *cur, uint64_t *prev)
{
    uint64_t v = __atomic_load_n(cur, __ATOMIC_RELAXED), d = v - *prev;
    *prev = v;
    return d;
}

static void counters_collect(struct pt_agg *a)
{
    struct pt_agg_counters *s = &a->sum;

    memset(s, 0, sizeof *s);
    for (unsigned w = 0; w < a->nw; w++) {
        struct pt_agg_counters *c = &a->ctr[w], *p = &a->prev[w];
        for (unsigned i = 0; i < PT_MAX_IFACES; i++) {
            s->iface[i].pkts += take(&c->iface[i].pkts, &p->iface[i].pkts);
            s->iface[i].bytes += take(&c->iface[i].bytes, &p->iface[i].bytes);
            s->iface_errs[i] += take(&c->iface_errs[i], &p->iface_errs[i]);
        }
        for (unsigned i = 0; i < PT_AGG_PROTOS; i++) {
            s->proto[i].pkts += take(&c->proto[i].pkts, &p->proto[i].pkts);
            s->proto[i].bytes += take(&c->proto[i].bytes, &p->proto[i].bytes);
        }
        for (unsigned i = 0; i < PT_AGG_VLANS; i++) {
            s->vlan[i].pkts += take(&c->vlan[i].pkts, &p->vlan[i].pkts);
            s->vlan[i].bytes += take(&c->vlan[i].bytes, &p->vlan[i].bytes);
        }
    }
}

/* ---- flow walk (DESIGN 2, 3) ---- */

/* Double the index (and rehash this tick's hosts into it). */
static int hosts_index_grow(struct pt_agg *a)
{
    size_t nc = a->host_cap ? a->host_cap * 2 : 65536;
    struct host_slot *ns = calloc(nc, sizeof *ns);

    if (!ns)
        return -ENOMEM;
    for (size_t i = 0; i < a->host_used; i++) {
        uint64_t h = pt_addr_hash(a->hosts[i].addr);
        size_t j = h & (nc - 1);
        while (ns[j].idx1)
            j = (j + 1) & (nc - 1);
        ns[j] = (struct host_slot){.idx1 = (uint32_t)i + 1, .tag = (uint32_t)(h >> 32)};
    }
    free(a->hslot);
    a->hslot = ns;
    a->host_cap = nc;
    return 0;
}

/* Room for one more host: the dense array and the index (load <= 1/2). */
static bool hosts_room(struct pt_agg *a)
{
    if (a->host_used == a->host_max) {
        size_t nm = a->host_max ? a->host_max * 2 : 32768;
        struct host_ent *nh = nm < UINT32_MAX ? realloc(a->hosts, nm * sizeof *nh) : NULL;
        if (!nh)
            return false;
        a->hosts = nh;
        a->host_max = nm;
    }
    return a->host_used * 2 < a->host_cap || hosts_index_grow(a) == 0;
}

static void host_insert(struct pt_agg *a, const struct host_pend *p)
{
    uint32_t tag = (uint32_t)(p->hash >> 32);
    size_t j = p->hash & (a->host_cap - 1);

    for (;;) {
        struct host_slot *sl = &a->hslot[j];
        if (!sl->idx1)
            break;
        if (sl->tag == tag) {
            struct host_ent *e = &a->hosts[sl->idx1 - 1];
            if (memcmp(e->addr, p->addr, 16) == 0) {
                e->bytes += p->bytes;
                e->pkts += p->pkts;
                e->flows++;
                return;
            }
        }
        j = (j + 1) & (a->host_cap - 1);
    }
    size_t cap = a->host_cap;
    if (!hosts_room(a)) {
        a->st.hosts_lost++; /* this tick's host list misses the host */
        return;
    }
    if (a->host_cap != cap) { /* the index was rebuilt: find the free slot again */
        j = p->hash & (a->host_cap - 1);
        while (a->hslot[j].idx1)
            j = (j + 1) & (a->host_cap - 1);
    }
    struct host_ent *e = &a->hosts[a->host_used++];
    memcpy(e->addr, p->addr, 16);
    e->bytes = p->bytes;
    e->pkts = p->pkts;
    e->flows = 1;
    a->hslot[j] = (struct host_slot){.idx1 = (uint32_t)a->host_used, .tag = tag};
}

/* Add @bytes and @pkts to host @addr. The index is far larger than the
 * cache at a million hosts, so inserts go through a short queue: the slot
 * of each address is prefetched when it is queued and looked at HOST_PEND
 * visits later, when its line has arrived. */
static void host_add(struct pt_agg *a, const uint8_t addr[16], uint64_t bytes, uint64_t pkts)
{
    struct host_pend *p;

    if (a->host_cap == 0 && hosts_index_grow(a) < 0) {
        a->st.hosts_lost++;
        return;
    }
    if (a->pend_n == HOST_PEND) {
        host_insert(a, &a->pend[a->pend_head]);
        a->pend_head = (a->pend_head + 1) % HOST_PEND;
        a->pend_n--;
    }
    p = &a->pend[(a->pend_head + a->pend_n) % HOST_PEND];
    memcpy(p->addr, addr, 16);
    p->hash = pt_addr_hash(addr);
    p->bytes = bytes;
    p->pkts = pkts;
    a->pend_n++;
    __builtin_prefetch(&a->hslot[p->hash & (a->host_cap - 1)], 1);
}

static void hosts_drain(struct pt_agg *a)
{
    while (a->pend_n) {
        host_insert(a, &a->pend[a->pend_head]);
        a->pend_head = (a->pend_head + 1) % HOST_PEND;
        a->pend_n--;
    }
}

/* Empty the host table for a new tick. An index grown by a busy second
 * shrinks again when later ones are quiet, so clearing it stays
 * proportional to the hosts of a second. */
static void hosts_reset(struct pt_agg *a)
{
    size_t want = 65536;

    if (a->host_cap > want && a->host_used * 8 < a->host_cap) {
        while (want < a->host_used * 2)
            want *= 2;
        struct host_slot *ns = calloc(want, sizeof *ns);
        if (ns) {
            free(a->hslot);
            a->hslot = ns;
            a->host_cap = want;
            a->host_used = 0;
            return;
        }
    }
    if (a->host_used)
        memset(a->hslot, 0, a->host_cap * sizeof *a->hslot);
    a->host_used = 0;
}

/* Byte order of two 16-byte addresses, as memcmp() would give it, inline:
 * the top-N rankings compare addresses on every tie. */
static inline int addr_cmp(const uint8_t *x, const uint8_t *y)
{
    uint64_t a, b;

    memcpy(&a, x, 8);
    memcpy(&b, y, 8);
    if (a != b)
        return __builtin_bswap64(a) < __builtin_bswap64(b) ? -1 : 1;
    memcpy(&a, x + 8, 8);
    memcpy(&b, y + 8, 8);
    if (a != b)
        return __builtin_bswap64(a) < __builtin_bswap64(b) ? -1 : 1;
    return 0;
}

/* Flow heap order: smaller bytes first; on a tie the larger key first, so
 * that the smaller key stays in the list. */
static bool flow_less(const struct flow_ent *x, const struct flow_ent *y)
{
    if (x->bytes != y->bytes)
        return x->bytes < y->bytes;
    int c = addr_cmp(x->key.addr[0], y->key.addr[0]);
    if (c == 0)
        c = memcmp(&x->key.addr[1], &y->key.addr[1], sizeof x->key - 16);
    return c > 0;
}

static void fheap_sift(struct flow_ent *h, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        if (l < n && flow_less(&h[l], &h[m]))
            m = l;
        if (l + 1 < n && flow_less(&h[l + 1], &h[m]))
            m = l + 1;
        if (m == i)
            return;
        struct flow_ent t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

static void fheap_offer(struct pt_agg *a, const struct flow_ent *e)
{
    struct flow_ent *h = a->fheap;

    if (a->fheap_n < a->top_n) {
        size_t i = a->fheap_n++;
        h[i] = *e;
        while (i > 0 && flow_less(&h[i], &h[(i - 1) / 2])) {
            struct flow_ent t = h[i];
            h[i] = h[(i - 1) / 2];
            h[(i - 1) / 2] = t;
            i = (i - 1) / 2;
        }
        return;
    }
    if (flow_less(&h[0], e)) {
        h[0] = *e;
        fheap_sift(h, a->fheap_n, 0);
    }
}

static void count_bits(uint64_t *v, uint32_t ifaces, uint64_t d)
{
    v[PT_MAX_IFACES] += d;
    while (ifaces) {
        unsigned i = (unsigned)__builtin_ctz(ifaces);
        v[i] += d;
        ifaces &= ifaces - 1;
    }
}

/* Append @rec to the vector @v (@n used of @cap); false when out of memory. */
static bool rec_push(struct pt_flow_record **v, size_t *n, size_t *cap,
                     const struct pt_flow_record *rec)
{
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 1024;
        struct pt_flow_record *nv = realloc(*v, nc * sizeof *nv);
        if (!nv)
            return false;
        *v = nv;
        *cap = nc;
    }
    (*v)[(*n)++] = *rec;
    return true;
}

static void visit(const struct pt_flow_view *v, void *arg)
{
    struct pt_agg *a = arg;

    if (v->live && !rec_push(&a->live, &a->n_live, &a->cap_live, v->live))
        a->st.recs_lost++; /* the live view misses it until its next refresh */

    if (v->is_new)
        count_bits(a->f_new, v->ifaces, 1);
    if (v->ended)
        count_bits(a->f_ended, v->ifaces, 1);
    else if (!v->over)
        count_bits(a->f_active, v->ifaces, 1);
    if (v->pkts == 0)
        return;
    if (v->app < PT_APP_MAX) {
        a->app[v->app].pkts += v->pkts;
        a->app[v->app].bytes += v->bytes;
    }
    host_add(a, v->key->addr[0], v->bytes, v->pkts);
    if (memcmp(v->key->addr[0], v->key->addr[1], 16) != 0)
        host_add(a, v->key->addr[1], v->bytes, v->pkts);
    if (a->fheap_n == a->top_n && v->bytes < a->fheap[0].bytes)
        return; /* below the smallest of a full list: no need to build the entry */
    struct flow_ent e = {.key = *v->key,
                         .orig_side = v->orig_side,
                         .first_ns = v->first_ns,
                         .bytes = v->bytes,
                         .pkts = v->pkts};
    fheap_offer(a, &e);
}

/* Held first, then emitted from where it is held, so what the consumer
 * completes (enrichment) is what the store keeps. With in.hold the caller
 * emits the held records itself; @emit gets only those that could not be
 * held. */
static void emit_rec(const struct pt_flow_record *rec, void *arg)
{
    struct pt_agg *a = arg;
    struct pt_flow_record *r;

    if (rec_push(&a->recs, &a->n_recs, &a->cap_recs, rec)) {
        if (a->in.hold)
            return;
        r = &a->recs[a->n_recs - 1];
    } else {
        a->st.recs_lost++; /* emitted, but not stored */
        a->spare = *rec;
        r = &a->spare;
    }
    if (a->emit)
        a->emit(r, a->emit_arg);
}

/* ---- top lists ---- */

enum { BY_BYTES, BY_PKTS, BY_FLOWS };

static uint64_t host_val(const struct host_ent *e, int by)
{
    return by == BY_BYTES ? e->bytes : by == BY_PKTS ? e->pkts : e->flows;
}

/* true when x ranks below y (smaller value; on a tie, larger address) */
static bool host_less(const struct host_ent *x, const struct host_ent *y, int by)
{
    uint64_t vx = host_val(x, by), vy = host_val(y, by);
    if (vx != vy)
        return vx < vy;
    return addr_cmp(x->addr, y->addr) > 0;
}

/* Offer host table entry @j to the min-heap @heap (@k entries of at most @n)
 * of the ranking @by. */
static void heap_offer(const struct pt_agg *a, size_t *heap, size_t *k, size_t n, size_t j, int by)
{
    const struct host_ent *h = a->hosts;
    size_t i;

    if (*k < n) {
        i = (*k)++;
        heap[i] = j;
        while (i > 0 && host_less(&h[heap[i]], &h[heap[(i - 1) / 2]], by)) {
            size_t t = heap[i];
            heap[i] = heap[(i - 1) / 2];
            heap[(i - 1) / 2] = t;
            i = (i - 1) / 2;
        }
        return;
    }
    if (!host_less(&h[heap[0]], &h[j], by))
        return;
    heap[0] = j;
    for (i = 0;;) {
        size_t l = 2 * i + 1, m = i;
        if (l < *k && host_less(&h[heap[l]], &h[heap[m]], by))
            m = l;
        if (l + 1 < *k && host_less(&h[heap[l + 1]], &h[heap[m]], by))
            m = l + 1;
        if (m == i)
            return;
        size_t t = heap[i];
        heap[i] = heap[m];
        heap[m] = t;
        i = m;
    }
}

static int top_host_cmp(const void *x, const void *y)
{
    const struct pt_top_host *a = x, *b = y;
    if (a->bytes != b->bytes)
        return a->bytes > b->bytes ? -1 : 1;
    return addr_cmp(a->addr, b->addr);
}

static int top_flow_cmp(const void *x, const void *y)
{
    const struct pt_top_flow *a = x, *b = y;
    if (a->bytes != b->bytes)
        return a->bytes > b->bytes ? -1 : 1;
    return strcmp(a->uid, b->uid);
}

/* Fill @th (3 * top_n entries) with the union of the three host rankings;
 * returns the count, sorted by bytes. */
static size_t top_hosts_build(const struct pt_agg *a, struct pt_top_host *th, size_t *idx)
{
    size_t n = 0, k[3] = {0}, tn = a->top_n;

    /* one scan of the table feeds the three rankings' heaps */
    for (size_t j = 0; j < a->host_used; j++) {
        for (int by = BY_BYTES; by <= BY_FLOWS; by++)
            heap_offer(a, idx + (size_t)by * tn, &k[by], tn, j, by);
    }
    for (int by = BY_BYTES; by <= BY_FLOWS; by++) {
        for (size_t i = 0; i < k[by]; i++) {
            const struct host_ent *e = &a->hosts[idx[(size_t)by * tn + i]];
            size_t j;
            for (j = 0; j < n; j++)
                if (memcmp(th[j].addr, e->addr, 16) == 0)
                    break;
            if (j < n)
                continue;
            memcpy(th[n].addr, e->addr, 16);
            th[n].bytes = e->bytes;
            th[n].pkts = e->pkts;
            th[n].flows = e->flows;
            n++;
        }
    }
    qsort(th, n, sizeof *th, top_host_cmp);
    return n;
}

static size_t top_flows_build(const struct pt_agg *a, struct pt_top_flow *tf)
{
    for (size_t i = 0; i < a->fheap_n; i++) {
        const struct flow_ent *e = &a->fheap[i];
        unsigned o = e->orig_side, r = 1 - o;
        struct pt_top_flow *t = &tf[i];

        memset(t, 0, sizeof *t);
        pt_flow_uid(t->uid, &e->key, e->first_ns);
        memcpy(t->orig_h, e->key.addr[o], 16);
        memcpy(t->resp_h, e->key.addr[r], 16);
        t->orig_p = e->key.port[o];
        t->resp_p = e->key.port[r];
        t->vlan = e->key.vlan[0];
        t->proto = e->key.proto;
        t->ver = e->key.ver;
        t->bytes = e->bytes;
        t->pkts = e->pkts;
    }
    qsort(tf, a->fheap_n, sizeof *tf, top_flow_cmp);
    return a->fheap_n;
}

/* ---- points ---- */

/* The dense points of the total (@i == PT_MAX_IFACES) or interface @i. */
static void dense_points(struct pt_agg *a, unsigned i, const uint64_t v[M_DENSE])
{
    char name[PT_STORE_NAMELEN];
    sid_t *ids = i == PT_MAX_IFACES ? a->total_id : a->iface_id[i];

    for (unsigned m = 0; m < M_DENSE; m++) {
        if (i != PT_MAX_IFACES && m == M_FLOWS_REFUSED)
            continue;
        if (i == PT_MAX_IFACES)
            snprintf(name, sizeof name, "%s", metric_name[m]);
        else
            snprintf(name, sizeof name, "%s{iface=%s}", metric_name[m], a->iface_name[i]);
        point_add(a, &ids[m], name, v[m]);
    }
}

static void sparse_points(struct pt_agg *a, sid_t ids[2], const char *dim, const char *val,
                          const struct pt_agg_pair *p)
{
    char name[PT_STORE_NAMELEN];

    if (!p->pkts)
        return;
    snprintf(name, sizeof name, "packets{%s=%s}", dim, val);
    point_add(a, &ids[0], name, p->pkts);
    snprintf(name, sizeof name, "bytes{%s=%s}", dim, val);
    point_add(a, &ids[1], name, p->bytes);
}

static void count_point(struct pt_agg *a, sid_t *slot, const char *name, uint64_t v)
{
    if (v)
        point_add(a, slot, name, v);
}

/* The DNS and TCP health series: the workers' (and the remover's)
 * cumulative counters since the previous tick (DESIGN 1). */
static void events_points(struct pt_agg *a)
{
    static const char *const tcp_name[PT_TCPH_EV_MAX] = {
        [PT_TCPH_EV_RETRANS] = "tcp_retransmissions", [PT_TCPH_EV_OOO] = "tcp_out_of_order",
        [PT_TCPH_EV_DUP_ACK] = "tcp_dup_acks",        [PT_TCPH_EV_ZERO_WIN] = "tcp_zero_windows",
        [PT_TCPH_EV_LOST] = "tcp_lost_segments",
    };
    struct pt_app_worker_stats *t = &a->app_tot;
    char name[PT_STORE_NAMELEN];
    uint64_t all = 0, v;

    memset(t, 0, sizeof *t);
    pt_flow_table_app_totals(a->ft, t, NULL);
    for (unsigned i = 0; i < PT_DNS_SERIES_QTYPES; i++) {
        v = take(&t->dns_qtype[i], &a->prev_dnsq[i]);
        all += v;
        snprintf(name, sizeof name, "dns_queries{qtype=%s}", pt_dns_series_qtype_name(i));
        count_point(a, &a->dnsq_id[i], name, v);
    }
    for (unsigned i = 0; i < PT_DNS_SERIES_RCODES; i++) {
        v = take(&t->dns_rcode[i], &a->prev_dnsr[i]);
        snprintf(name, sizeof name, "dns_queries{rcode=%s}", pt_dns_series_rcode_name(i));
        count_point(a, &a->dnsr_id[i], name, v);
    }
    count_point(a, &a->dns_id, "dns_queries", all);
    for (unsigned e = 0; e < PT_TCPH_EV_MAX; e++) {
        uint64_t cur = 0;
        for (unsigned w = 0; w < a->nw; w++)
            cur += PT_CNT_GET(pt_flow_worker_stats(pt_flow_worker_get(a->ft, w))->tcp_health.ev[e]);
        count_point(a, &a->tcp_id[e], tcp_name[e], take(&cur, &a->prev_tcp[e]));
    }
}

/* Every point of this tick (DESIGN 4): counters in a->sum, flow counts. */
static void points_build(struct pt_agg *a, const struct pt_agg_tick_in *in, uint64_t refused)
{
    const struct pt_agg_counters *s = &a->sum;
    uint64_t tot[M_DENSE] = {0}, v[M_DENSE];
    unsigned nif = in->n_ifnames < PT_MAX_IFACES ? in->n_ifnames : PT_MAX_IFACES;
    char buf[16];

    for (unsigned i = 0; i < PT_MAX_IFACES; i++) {
        uint64_t kd = 0;
        if (in->kernel_drops && i < nif) {
            kd = in->kernel_drops[i] - a->prev_kdrops[i];
            a->prev_kdrops[i] = in->kernel_drops[i];
        }
        v[M_PACKETS] = s->iface[i].pkts;
        v[M_BYTES] = s->iface[i].bytes;
        v[M_DECODE_ERRORS] = s->iface_errs[i];
        v[M_KERNEL_DROPS] = kd;
        v[M_FLOWS_ACTIVE] = a->f_active[i];
        v[M_FLOWS_NEW] = a->f_new[i];
        v[M_FLOWS_ENDED] = a->f_ended[i];
        for (unsigned m = 0; m < M_FLOWS_ACTIVE; m++)
            tot[m] += v[m];
        if (i < nif) {
            iface_check(a, i, in->ifnames[i]);
            dense_points(a, i, v);
        }
    }
    tot[M_FLOWS_ACTIVE] = a->f_active[PT_MAX_IFACES];
    tot[M_FLOWS_NEW] = a->f_new[PT_MAX_IFACES];
    tot[M_FLOWS_ENDED] = a->f_ended[PT_MAX_IFACES];
    tot[M_FLOWS_REFUSED] = refused;
    dense_points(a, PT_MAX_IFACES, tot);
    for (unsigned i = 0; i < PT_AGG_VLANS; i++) {
        if (i == PT_AGG_VLAN_NONE)
            strcpy(buf, "none");
        else
            snprintf(buf, sizeof buf, "%u", i);
        sparse_points(a, a->vlan_id[i], "vlan", buf, &s->vlan[i]);
    }
    for (unsigned i = 0; i < PT_AGG_PROTOS; i++)
        sparse_points(a, a->proto_id[i], "proto", pt_agg_proto_name(i, buf), &s->proto[i]);
    for (unsigned i = 0; i < PT_APP_MAX; i++)
        sparse_points(a, a->app_id[i], "app", pt_app_name(i), &a->app[i]);
    events_points(a);
}

static uint64_t thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void store_batch(struct pt_agg *a, struct pt_store_batch *b)
{
    int rc = pt_store_write(a->store, b);

    a->st.ticks++;
    if (rc == 0) {
        a->st.points += b->n_points;
        return;
    }
    a->st.store_errors++;
    uint64_t now = pt_now_ns();
    if (a->last_err_log_ns == 0 || now - a->last_err_log_ns >= 60ull * 1000000000ull) {
        a->last_err_log_ns = now;
        pt_log(PT_LOG_ERR, "store: second %llu not stored: %s (%llu seconds lost so far)",
               (unsigned long long)b->sec, pt_strerror(rc), (unsigned long long)a->st.store_errors);
    }
}

/* Zero points of the dense series for the seconds between the previous
 * tick and @sec, when the gap is short (DESIGN 5). */
static void gap_fill(struct pt_agg *a, const struct pt_agg_tick_in *in, uint64_t sec)
{
    uint64_t zero[M_DENSE] = {0};
    unsigned nif = in->n_ifnames < PT_MAX_IFACES ? in->n_ifnames : PT_MAX_IFACES;

    if (!a->last_sec || sec <= a->last_sec + 1 || sec - a->last_sec - 1 > a->cfg.gap_fill_s)
        return;
    for (uint64_t s = a->last_sec + 1; s < sec; s++) {
        struct pt_store_batch b = {.sec = s};
        a->n_pts = 0;
        for (unsigned i = 0; i < nif; i++) {
            iface_check(a, i, in->ifnames[i]);
            dense_points(a, i, zero);
        }
        dense_points(a, PT_MAX_IFACES, zero);
        b.points = a->pts;
        b.n_points = a->n_pts;
        store_batch(a, &b);
    }
}

uint64_t pt_agg_tick(struct pt_agg *a, const struct pt_agg_tick_in *in, pt_flow_record_fn emit,
                     void *emit_arg)
{
    uint64_t n;

    a->tick_t0 = thread_cpu_ns();
    a->in = *in;

    /* DESIGN 2: the flow walk */
    memset(a->f_new, 0, sizeof a->f_new);
    memset(a->f_active, 0, sizeof a->f_active);
    memset(a->f_ended, 0, sizeof a->f_ended);
    memset(a->app, 0, sizeof a->app);
    hosts_reset(a);
    a->fheap_n = 0;
    a->n_recs = 0;
    a->n_live = 0;
    a->emit = emit;
    a->emit_arg = emit_arg;
    n = pt_flow_table_tick(a->ft, in->now_ns, in->flush, emit_rec, visit, a);
    hosts_drain(a);
    if (!in->hold)
        pt_agg_write(a);
    return n;
}

struct pt_flow_record *pt_agg_held(struct pt_agg *a, size_t *n)
{
    *n = a->n_recs;
    return a->recs;
}

void pt_agg_write(struct pt_agg *a)
{
    const struct pt_agg_tick_in *in = &a->in;
    const char *ifn[PT_MAX_IFACES];
    uint64_t sec = in->sec, refused = 0;

    /* DESIGN 1: the counters */
    counters_collect(a);
    for (unsigned w = 0; w < a->nw; w++)
        refused += PT_CNT_GET(pt_flow_worker_stats(pt_flow_worker_get(a->ft, w))->full_flows);
    uint64_t d_refused = refused - a->prev_refused;
    a->prev_refused = refused;

    if (a->last_sec && sec <= a->last_sec) {
        a->st.late_ticks++;
        sec = a->last_sec + 1;
    }
    if (in->gap_fill)
        gap_fill(a, in, sec);
    a->n_pts = 0;
    points_build(a, in, d_refused);

    struct pt_store_batch b = {.sec = sec, .points = a->pts, .n_points = a->n_pts};
    b.hosts = a->th;
    b.n_hosts = top_hosts_build(a, a->th, a->idx);
    b.tflows = a->tf;
    b.n_tflows = top_flows_build(a, a->tf);
    b.top_n = a->top_n;
    b.flows = a->recs;
    b.n_flows = a->n_recs;
    b.live = a->live;
    b.n_live = a->n_live;
    b.n_ifnames = in->n_ifnames < PT_MAX_IFACES ? in->n_ifnames : PT_MAX_IFACES;
    for (unsigned i = 0; i < b.n_ifnames; i++)
        ifn[i] = in->ifnames[i];
    b.ifnames = ifn;
    store_batch(a, &b);
    a->last_sec = sec;
    if (a->cfg.hook.tick)
        a->cfg.hook.tick(a->store, in->now_ns, a->cfg.hook.arg);

    a->st.last_tick_ns = thread_cpu_ns() - a->tick_t0;
    if (a->st.last_tick_ns > a->st.max_tick_ns)
        a->st.max_tick_ns = a->st.last_tick_ns;
}
