/* offline.c - `packettracer read`: capture files through the worker path.
 *
 * DESIGN
 * The reader thread (the caller of pt_offline_run) plays two roles that the
 * live sensor gives to two threads: the packet source (a ring, live) and the
 * remover (the aggregation thread, live). Workers are the same pt_worker the
 * live capture uses.
 *
 * 1. One worker: the reader thread is the worker. It decodes and accounts
 *    each record in place and announces a quiescent state every BATCH
 *    records, as a live worker does once per ring block.
 * 2. N workers: each worker thread owns NBLK blocks of BLK_SIZE bytes. The
 *    reader copies each record into the current block of the worker chosen
 *    by a symmetric hash of the frame's outermost IP address pair (so every
 *    packet of a connection, both directions and every fragment, goes to
 *    one worker, in file order, as PACKET_FANOUT_HASH does live), and hands full blocks over
 * through a mutex/condvar queue: one lock per block, never per packet. A worker waiting for a block
 * is offline for RCU. When the file is mapped, a record in a block is only a descriptor pointing
 * into the mapping (no copy); the reader then waits for the workers (barrier) before it unmaps the
 * file.
 * 3. Time: the clock is the highest packet timestamp read so far. Each time
 *    it passes a whole second, the reader hands over partial blocks, waits
 *    until every worker has finished every block (a barrier), and expires
 *    flows at that packet time. Expiry therefore happens at the same packet
 *    positions whatever the number of workers, and records are sorted by
 *    (start time, uid) within each expiry round: `--workers 4` prints exactly
 *    what `--workers 1` prints.
 * 4. End: the last round flushes every flow. A file error (truncation,
 *    corrupt block) ends reading of that file after its last complete record;
 *    later files are still read, every flow is still emitted, and the first
 *    error is returned. */
#include "pt/capture.h"
#include "pt/ring.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <urcu-qsbr.h>

#define BLK_SIZE     (1u << 20)
#define NBLK         4
#define BATCH        256
#define TICK_NS      1000000000ull
#define MAX_FILE_IFS 256 /* interfaces of one file with a slot map; later ones are merged */
#define IF_MERGED    0x7fff

/* A record in a block: the frame follows the header, or, when the reader's
 * data stays valid until it closes (a mapped file), @ext points at it and
 * nothing is copied. */
struct rec_hdr {
    uint64_t ts_ns;
    const uint8_t *ext;
    uint32_t caplen, wirelen;
    int32_t linktype;
    uint16_t iface;
    uint16_t pad;
};

#define BLK_MAX_RECS 4096 /* per block: keeps workers within a few MiB of the reader */

struct blk {
    uint32_t used, nrec;
    _Alignas(8) uint8_t data[BLK_SIZE]; /* records start 8-byte aligned */
};

struct wthread {
    struct pt_worker *w;
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    /* guarded by mu */
    struct blk *queue[NBLK]; /* full blocks for the worker, FIFO */
    unsigned qhead, qlen;
    struct blk *free[NBLK]; /* empty blocks for the reader */
    unsigned nfree;
    uint64_t pushed, done;
    bool stop;
    /* owned by the reader */
    struct blk *cur;
    struct blk *all[NBLK];
};

/* Records of one expiry round, sorted and emitted in chunks of at most
 * CHUNK records so a flush of a million flows does not hold a million
 * records: 8,192 records of ~950 bytes are 7.8 MB, against the 208 MB of
 * pool slots a million flows take (65,536 were 62 MB, 22 % of a million
 * held flows' memory). Determinism holds chunk by chunk: pt_flow_table_expire() emits
 * connection-reuse records first, then walks each shard's split-ordered
 * list, whose order depends only on the flows' key hashes, so the k-th chunk
 * holds the same records for any worker count. */
#define CHUNK 8192

struct recvec {
    struct pt_flow_record *v;
    size_t n, cap;
    int err;
    const struct pt_offline_opts *opts;
    uint64_t *emitted;
};

static int rec_cmp(const void *a, const void *b)
{
    const struct pt_flow_record *x = a, *y = b;

    if (x->ts_ns != y->ts_ns)
        return x->ts_ns < y->ts_ns ? -1 : 1;
    return strcmp(x->uid, y->uid);
}

/* One whole chunk: sorted, then emitted. */
static void emit_chunk(const struct pt_offline_opts *o, struct pt_flow_record *v, size_t n,
                       uint64_t *emitted)
{
    qsort(v, n, sizeof *v, rec_cmp);
    for (size_t i = 0; i < n; i++)
        o->emit(&v[i], o->emit_arg);
    *emitted += n;
}

static void emit_sorted(struct recvec *rv)
{
    if (rv->n == 0) /* v is NULL until the first record */
        return;
    emit_chunk(rv->opts, rv->v, rv->n, rv->emitted);
    rv->n = 0;
}

static void collect(const struct pt_flow_record *rec, void *arg)
{
    struct recvec *rv = arg;

    if (rv->n == CHUNK)
        emit_sorted(rv);
    if (rv->n == rv->cap) {
        size_t nc = rv->cap ? rv->cap * 2 : 1024;
        struct pt_flow_record *nv = realloc(rv->v, nc * sizeof *nv);
        if (!nv) { /* emit unsorted rather than lose the record */
            struct pt_flow_record tmp = *rec;
            rv->err = -ENOMEM;
            rv->opts->emit(&tmp, rv->opts->emit_arg);
            (*rv->emitted)++;
            return;
        }
        rv->v = nv;
        rv->cap = nc;
    }
    rv->v[rv->n++] = *rec;
}

/* App records of one expiry round: pointers into the workers' queues
 * (valid until the workers run again) and into `own`, the copies of what
 * the remover flushed at flow end. */
struct appvec {
    const struct pt_app_rec **v;
    size_t n, cap;
    struct pt_app_rec *own;
    size_t n_own, cap_own;
    int err;
};

static int app_cmp(const void *a, const void *b)
{
    const struct pt_app_rec *x = *(const struct pt_app_rec *const *)a;
    const struct pt_app_rec *y = *(const struct pt_app_rec *const *)b;
    int c;

    if (x->ts_ns != y->ts_ns)
        return x->ts_ns < y->ts_ns ? -1 : 1;
    if (x->conn.uid64 != y->conn.uid64)
        return x->conn.uid64 < y->conn.uid64 ? -1 : 1;
    if (x->kind != y->kind)
        return x->kind < y->kind ? -1 : 1;
    if (x->at_end != y->at_end)
        return x->at_end < y->at_end ? -1 : 1;
    /* ARP records have no flow: the packet itself orders them, whichever
     * worker had them */
    if (x->kind == PT_REC_ARP && (c = memcmp(&x->arp, &y->arp, sizeof x->arp)) != 0)
        return c;
    /* the same flow's records come from one queue: keep their order */
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static bool app_push(struct appvec *av, const struct pt_app_rec *r)
{
    if (av->n == av->cap) {
        size_t nc = av->cap ? av->cap * 2 : 256;
        const struct pt_app_rec **nv = realloc(av->v, nc * sizeof *nv);
        if (!nv) {
            av->err = -ENOMEM;
            return false;
        }
        av->v = nv;
        av->cap = nc;
    }
    av->v[av->n++] = r;
    return true;
}

/* Drain callback: a queued record, by pointer. */
static void app_take(const struct pt_app_rec *rec, void *arg)
{
    app_push(arg, rec);
}

/* The remover's sink: flow-end records are copied (its record buffer is
 * reused); pointers are taken once the round is complete (`own` may move). */
static void app_sink(const struct pt_app_rec *rec, void *arg)
{
    struct appvec *av = arg;

    if (av->n_own == av->cap_own) {
        size_t nc = av->cap_own ? av->cap_own * 2 : 64;
        struct pt_app_rec *nv = realloc(av->own, nc * sizeof *nv);
        if (!nv) {
            av->err = -ENOMEM;
            return;
        }
        av->own = nv;
        av->cap_own = nc;
    }
    av->own[av->n_own++] = *rec;
}

struct run {
    const struct pt_offline_opts *opts;
    struct pt_offline_result *res;
    struct pt_flow_table *ft;
    struct pt_agg *agg;         /* NULL without a store */
    struct pt_ring *ring;       /* NULL without a pcap ring */
    struct pt_ring_prod *rprod; /* the reader is the ring's one producer: file order */
    bool rcuts;                 /* it applies a per-flow cutoff */
    struct wthread *wt;
    unsigned nw;
    struct recvec recs;
    struct appvec apps;
    uint64_t clock_ns, next_tick;
    struct pt_pkt scratch;             /* dispatch decode (N > 1), ring cutoff */
    struct pt_decode_stats scratch_st; /* discarded */
};

/* Emit the round's flow records @v (its last chunk: sorted here) merged
 * by time with its app records (sorted), app records first on equal times;
 * then release the workers' queue slots. Caller: the reader, every worker
 * idle. */
static void emit_round(struct run *r, struct pt_flow_record *v, size_t n)
{
    const struct pt_offline_opts *o = r->opts;
    struct appvec *av = &r->apps;
    size_t i = 0, j = 0;

    av->n = 0;
    /* the slots stay intact until the workers run again */
    pt_flow_table_app_drain(r->ft, app_take, av);
    for (size_t k = 0; k < av->n_own; k++)
        app_push(av, &av->own[k]);
    if (av->n)
        qsort(av->v, av->n, sizeof *av->v, app_cmp);
    if (n)
        qsort(v, n, sizeof *v, rec_cmp);
    while (i < n || j < av->n) {
        if (j < av->n && (i == n || av->v[j]->ts_ns <= v[i].ts_ns)) {
            if (o->emit_app)
                o->emit_app(av->v[j], o->emit_arg);
            j++;
        } else {
            o->emit(&v[i++], o->emit_arg);
        }
    }
    r->res->flows += n;
    r->res->app_records += o->emit_app ? av->n : 0;
    av->n = av->n_own = 0;
}

/* A record the agg could not hold (no memory): emitted at once, unsorted,
 * rather than lost. */
static void emit_unheld(struct pt_flow_record *rec, void *arg)
{
    struct run *r = arg;

    r->opts->emit(rec, r->opts->emit_arg);
    r->res->flows++;
}

/* The records the agg holds for this second, emitted as collect() chunks
 * them (whole chunks sorted, the last merged with the app records), so
 * the output does not depend on -d; the record thread completes them in
 * place, then the agg writes the second with them. */
static void emit_held(struct run *r)
{
    size_t n, full;
    struct pt_flow_record *v = pt_agg_held(r->agg, &n);

    full = n ? (n - 1) / CHUNK : 0;
    for (size_t k = 0; k < full; k++)
        emit_chunk(r->opts, v + k * CHUNK, CHUNK, &r->res->flows);
    emit_round(r, v + full * CHUNK, n - full * CHUNK);
    pt_agg_write(r->agg);
}

/* Expire (or flush) and emit in deterministic order. Caller: the reader, with
 * every worker idle (barrier) or the reader being the only worker. */
static void expire_round(struct run *r, bool flush)
{
    if (r->nw > 1) /* the reader is offline while it only moves blocks */
        rcu_thread_online();
    if (r->agg && r->clock_ns) { /* (no packet, no second to write) */
        /* The second that ends: the packets so far are before next_tick,
         * or, at the end, in the clock's own second. */
        uint64_t sec = flush ? r->clock_ns / TICK_NS : r->next_tick / TICK_NS - 1;
        struct pt_agg_tick_in in = {.sec = sec,
                                    .now_ns = r->clock_ns,
                                    .flush = flush,
                                    .gap_fill = true,
                                    .ifnames = (const char(*)[64])r->res->ifaces.name,
                                    .n_ifnames = r->res->ifaces.n,
                                    .hold = true};
        pt_agg_tick(r->agg, &in, emit_unheld, r);
        if (r->nw > 1)
            rcu_thread_offline();
        emit_held(r);
        return;
    }
    pt_flow_table_expire(r->ft, r->clock_ns, flush, collect, &r->recs);
    if (r->nw > 1)
        rcu_thread_offline();
    emit_round(r, r->recs.v, r->recs.n);
    r->recs.n = 0;
}

/* The input fields of a frame, as a live ring fills them from a tpacket header. */
static void pkt_input(struct pt_pkt *p, const uint8_t *data, uint32_t caplen, uint32_t wirelen,
                      uint64_t ts_ns, int linktype, uint16_t iface)
{
    p->data = data;
    p->caplen = caplen;
    p->wirelen = wirelen;
    p->ts_ns = ts_ns;
    p->linktype = linktype;
    p->iface = iface;
    p->hw_vlan = PT_VLAN_NONE;
    p->hw_tag = 0;
}

/* ---- worker threads (N > 1) ---- */

static void walk_block(struct pt_worker *w, const struct blk *b)
{
    struct pt_pkt p;

    for (uint32_t off = 0; off < b->used;) {
        const struct rec_hdr *h = (const void *)(b->data + off);
        pkt_input(&p, h->ext ? h->ext : b->data + off + sizeof *h, h->caplen, h->wirelen, h->ts_ns,
                  h->linktype, h->iface);
        pt_worker_packet(w, &p);
        off += (uint32_t)((sizeof *h + (h->ext ? 0 : h->caplen) + 7u) & ~7u);
    }
    pt_worker_block_done(w);
}

static void *worker_main(void *arg)
{
    struct wthread *t = arg;

    pt_worker_thread_enter(t->w);
    for (;;) {
        struct blk *b;

        rcu_thread_offline();
        pthread_mutex_lock(&t->mu);
        while (t->qlen == 0 && !t->stop)
            pthread_cond_wait(&t->cv, &t->mu);
        if (t->qlen == 0) {
            pthread_mutex_unlock(&t->mu);
            rcu_thread_online();
            break;
        }
        b = t->queue[t->qhead];
        t->qhead = (t->qhead + 1) % NBLK;
        t->qlen--;
        pthread_mutex_unlock(&t->mu);
        rcu_thread_online();

        walk_block(t->w, b);

        pthread_mutex_lock(&t->mu);
        b->used = b->nrec = 0;
        t->free[t->nfree++] = b;
        t->done++;
        pthread_cond_broadcast(&t->cv);
        pthread_mutex_unlock(&t->mu);
    }
    pt_worker_thread_leave(t->w);
    return NULL;
}

/* Hand the reader's current block of @t to its worker (if it holds data) and
 * take an empty one. */
static void push_block(struct wthread *t)
{
    pthread_mutex_lock(&t->mu);
    if (t->cur && t->cur->used) {
        t->queue[(t->qhead + t->qlen) % NBLK] = t->cur;
        t->qlen++;
        t->pushed++;
        t->cur = NULL;
        pthread_cond_broadcast(&t->cv);
    }
    while (!t->cur) {
        if (t->nfree) {
            t->cur = t->free[--t->nfree];
            break;
        }
        pthread_cond_wait(&t->cv, &t->mu);
    }
    pthread_mutex_unlock(&t->mu);
}

static void barrier(struct run *r)
{
    for (unsigned i = 0; i < r->nw; i++)
        push_block(&r->wt[i]);
    for (unsigned i = 0; i < r->nw; i++) {
        struct wthread *t = &r->wt[i];
        pthread_mutex_lock(&t->mu);
        while (t->done != t->pushed)
            pthread_cond_wait(&t->cv, &t->mu);
        pthread_mutex_unlock(&t->mu);
    }
}

/* The outermost IP addresses of an Ethernet frame without decoding the rest
 * (802.1Q/802.1ad tags skipped); false when the frame is anything else. */
static bool eth_ip_addrs(const uint8_t *d, uint32_t len, uint8_t a[16], uint8_t b[16])
{
    uint32_t off = 12;
    uint16_t type;

    for (;;) {
        if (len < off + 2)
            return false;
        type = (uint16_t)(d[off] << 8 | d[off + 1]);
        if (type != 0x8100 && type != 0x88a8 && type != 0x9100)
            break;
        off += 4;
    }
    off += 2;
    if (type == 0x0800 && len >= off + 20 && d[off] >> 4 == 4) {
        static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        memcpy(a, mapped, 12);
        memcpy(b, mapped, 12);
        memcpy(a + 12, d + off + 12, 4);
        memcpy(b + 12, d + off + 16, 4);
        return true;
    }
    /* IPv6 with hop-by-hop, routing or destination options first: a routing
     * header changes the address the flow is keyed on; let the decoder say. */
    if (type == 0x86dd && len >= off + 40 && d[off] >> 4 == 6 && d[off + 6] != 0 &&
        d[off + 6] != 43 && d[off + 6] != 60) {
        memcpy(a, d + off + 8, 16);
        memcpy(b, d + off + 24, 16);
        return true;
    }
    return false;
}

/* Worker for a frame: a symmetric hash of its outermost IP address pair, so
 * every packet of a connection, fragments included, goes to one worker, in
 * file order. Ethernet frames with plain IP (the common case) are read
 * directly; anything else (MPLS, PPPoE, other link types) is decoded to find
 * the same addresses, so both ways agree on every frame of a connection. */
static unsigned pick_worker(struct run *r, const struct pt_reader_rec *rec, uint16_t iface)
{
    struct pt_pkt *p = &r->scratch;
    uint8_t a[16], b[16];

    if (rec->linktype == PT_LINK_ETHERNET && eth_ip_addrs(rec->data, rec->caplen, a, b))
        return (unsigned)((pt_addr_hash(a) + pt_addr_hash(b)) % r->nw);
    pkt_input(p, rec->data, rec->caplen, rec->wirelen, rec->ts_ns, rec->linktype, iface);
    pt_decode(p, &r->scratch_st);
    if (p->n_l3 == 0)
        return 0;
    return (unsigned)((pt_addr_hash(p->l3[0].src) + pt_addr_hash(p->l3[0].dst)) % r->nw);
}

static void dispatch(struct run *r, const struct pt_reader_rec *rec, uint16_t iface, bool stable)
{
    struct wthread *t = &r->wt[pick_worker(r, rec, iface)];
    uint32_t caplen = rec->caplen, copy = stable ? 0 : caplen;
    size_t need = (sizeof(struct rec_hdr) + copy + 7u) & ~(size_t)7u;
    struct rec_hdr *h;

    if (need > BLK_SIZE) { /* a record larger than a block: keep what fits */
        caplen = copy = BLK_SIZE - sizeof *h;
        need = BLK_SIZE;
    }
    if (t->cur->used + need > BLK_SIZE || t->cur->nrec == BLK_MAX_RECS)
        push_block(t);
    h = (void *)(t->cur->data + t->cur->used);
    h->ts_ns = rec->ts_ns;
    h->ext = stable ? rec->data : NULL;
    h->caplen = caplen;
    h->wirelen = rec->wirelen;
    h->linktype = rec->linktype;
    h->iface = iface;
    h->pad = 0;
    memcpy(h + 1, rec->data, copy);
    t->cur->used += (uint32_t)need;
    t->cur->nrec++;
}

static int start_workers(struct run *r)
{
    int err = 0;

    r->wt = calloc(r->nw, sizeof *r->wt);
    if (!r->wt)
        return -ENOMEM;
    for (unsigned i = 0; i < r->nw; i++) {
        struct wthread *t = &r->wt[i];
        pthread_mutex_init(&t->mu, NULL);
        pthread_cond_init(&t->cv, NULL);
        if (!(t->w = pt_worker_create(i, r->ft, &err)))
            return err;
        if (r->agg)
            pt_worker_set_agg(t->w, pt_agg_worker_counters(r->agg, i));
        for (unsigned b = 0; b < NBLK; b++) {
            if (!(t->all[b] = malloc(sizeof(struct blk))))
                return -ENOMEM;
            t->all[b]->used = t->all[b]->nrec = 0;
            t->free[t->nfree++] = t->all[b];
        }
        t->cur = t->free[--t->nfree];
        if ((err = pthread_create(&t->th, NULL, worker_main, t)) != 0) {
            t->th = 0; /* stop_workers() frees this slot without joining */
            return -err;
        }
    }
    return 0;
}

static void stop_workers(struct run *r)
{
    if (!r->wt)
        return;
    for (unsigned i = 0; i < r->nw; i++) {
        struct wthread *t = &r->wt[i];
        if (!t->w)
            continue;
        if (t->th) {
            pthread_mutex_lock(&t->mu);
            t->stop = true;
            pthread_cond_broadcast(&t->cv);
            pthread_mutex_unlock(&t->mu);
            pthread_join(t->th, NULL);
        }
        pt_decode_stats_merge(&r->res->decode, pt_worker_decode_stats(t->w));
        pt_worker_destroy(t->w);
        for (unsigned b = 0; b < NBLK; b++)
            free(t->all[b]);
        pthread_mutex_destroy(&t->mu);
        pthread_cond_destroy(&t->cv);
    }
    free(r->wt);
    r->wt = NULL;
}

/* Advance the packet clock; run an expiry round when a second has passed. */
static void tick(struct run *r, uint64_t ts_ns)
{
    if (ts_ns > r->clock_ns)
        r->clock_ns = ts_ns;
    if (r->next_tick == 0)
        r->next_tick = r->clock_ns - r->clock_ns % TICK_NS + TICK_NS;
    if (r->clock_ns < r->next_tick)
        return;
    if (r->nw > 1)
        barrier(r);
    expire_round(r, false);
    r->next_tick = r->clock_ns - r->clock_ns % TICK_NS + TICK_NS;
}

static int read_file(struct run *r, const char *path, struct pt_worker *solo, uint64_t *nrec)
{
    struct pt_offline_result *res = r->res;
    struct pt_reader_rec rec;
    int16_t ifmap[MAX_FILE_IFS];
    char msg[256];
    struct pt_reader *rd;
    bool stable;
    int err = 0, rc;

    rd = pt_reader_open(path, &err, msg, sizeof msg);
    if (!rd)
        goto fail;
    memset(ifmap, -1, sizeof ifmap);
    stable = pt_reader_data_stable(rd);
    while ((rc = pt_reader_next(rd, &rec, msg, sizeof msg)) == 1) {
        unsigned fi = rec.ifidx < MAX_FILE_IFS ? rec.ifidx : MAX_FILE_IFS - 1;
        uint16_t iface;

        if (ifmap[fi] < 0) {
            const char *name = pt_reader_ifname(rd, rec.ifidx);
            int idx = pt_iface_table_add(&res->ifaces, name);
            ifmap[fi] = (int16_t)(idx < 0 ? IF_MERGED : idx);
            if (r->ring && idx >= 0)
                pt_ring_iface_name(r->ring, (uint16_t)idx, name);
        }
        if (ifmap[fi] == IF_MERGED || rec.ifidx >= MAX_FILE_IFS)
            res->ifaces_merged++; /* no slot of its own: counted in the last one */
        iface = ifmap[fi] == IF_MERGED ? PT_MAX_IFACES - 1 : (uint16_t)ifmap[fi];
        res->frames++;
        res->bytes += rec.wirelen;
        tick(r, rec.ts_ns);
        if (r->rprod) {
            struct pt_ring_pkt rp = {.data = rec.data,
                                     .caplen = rec.caplen,
                                     .wirelen = rec.wirelen,
                                     .ts_ns = rec.ts_ns,
                                     .linktype = rec.linktype,
                                     .iface = iface};
            if (r->rcuts) { /* the flow of the frame, as a live worker finds it */
                pkt_input(&r->scratch, rec.data, rec.caplen, rec.wirelen, rec.ts_ns, rec.linktype,
                          iface);
                pt_decode(&r->scratch, &r->scratch_st);
                rp.flow_hash = pt_flow_pkt_hash(&r->scratch);
            }
            pt_ring_put(r->rprod, &rp);
        }
        if (solo) {
            struct pt_pkt p;
            pkt_input(&p, rec.data, rec.caplen, rec.wirelen, rec.ts_ns, rec.linktype, iface);
            pt_worker_packet(solo, &p);
            if (++*nrec % BATCH == 0)
                pt_worker_block_done(solo);
        } else {
            dispatch(r, &rec, iface, stable);
        }
    }
    if (stable && !solo)
        barrier(r); /* workers hold pointers into the mapping until then */
    pt_reader_close(rd);
    if (rc == 0)
        return 0;
    err = rc;
fail:
    if (!res->file_err) {
        res->file_err = err;
        snprintf(res->file_msg, sizeof res->file_msg, "%s", msg);
    }
    return err;
}

static void sum_flow_stats(struct pt_flow_worker_stats *dst, const struct pt_flow_worker_stats *s)
{
    dst->pkts += PT_CNT_GET(s->pkts);
    dst->flows_created += PT_CNT_GET(s->flows_created);
    dst->full_flows += PT_CNT_GET(s->full_flows);
    dst->full_pkts += PT_CNT_GET(s->full_pkts);
    dst->no_flow_pkts += PT_CNT_GET(s->no_flow_pkts);
    dst->lock_spins += PT_CNT_GET(s->lock_spins);
    dst->frag_pkts += PT_CNT_GET(s->frag_pkts);
    dst->no_l4_pkts += PT_CNT_GET(s->no_l4_pkts);
    dst->flows_restarted += PT_CNT_GET(s->flows_restarted);
}

int pt_offline_run(const struct pt_offline_opts *opts, struct pt_offline_result *res)
{
    struct pt_flow_config fc = opts->flow;
    struct pt_worker *solo = NULL;
    struct run r = {.opts = opts, .res = res, .recs = {.opts = opts, .emitted = &res->flows}};
    uint64_t nrec = 0;
    int err = 0;

    memset(res, 0, sizeof *res);
    pt_decode_stats_init(&res->decode);
    pt_decode_stats_init(&r.scratch_st);
    r.nw = opts->workers ? opts->workers : 1;
    fc.workers = r.nw;
    fc.app_queue_grow = true; /* drained at every round's barrier: nothing is dropped */
    r.ft = pt_flow_table_create(&fc, &err);
    if (!r.ft)
        return err;
    pt_flow_table_set_app_sink(r.ft, app_sink, &r.apps);
    if (opts->agg) {
        struct pt_agg_config ac = *opts->agg;
        ac.workers = r.nw;
        ac.store.nosync = true; /* a killed reader loses nothing committed; synced at close */
        r.agg = pt_agg_create(&ac, r.ft, &err, res->agg_msg, sizeof res->agg_msg);
        if (!r.agg) {
            res->agg_err = err;
            pt_flow_table_destroy(r.ft);
            return err;
        }
        res->agg_on = true;
    }
    if (opts->ring) {
        struct pt_ring_config rc = *opts->ring;
        rc.sync = false;          /* as the store: a killed reader loses nothing committed */
        rc.wait_when_full = true; /* a file can wait for the disk; a wire cannot */
        r.ring = pt_ring_open(&rc, 1, &err, res->ring_msg, sizeof res->ring_msg);
        if (!r.ring) {
            res->ring_err = err;
            pt_agg_destroy(r.agg);
            pt_flow_table_destroy(r.ft);
            return err;
        }
        r.rprod = pt_ring_producer(r.ring, 0);
        r.rcuts = pt_ring_prod_cuts(r.rprod);
        res->ring_on = true;
    }
    /* The reader is registered for the remover role. With one worker it is
     * the worker too and stays online; otherwise it is online only while it
     * expires flows. */
    rcu_register_thread();
    if (r.nw == 1) {
        if (!(solo = pt_worker_create(0, r.ft, &err)))
            goto out;
        if (r.agg)
            pt_worker_set_agg(solo, pt_agg_worker_counters(r.agg, 0));
    } else {
        rcu_thread_offline();
        err = start_workers(&r);
        if (err < 0)
            goto out;
    }
    for (unsigned i = 0; i < opts->n_files; i++)
        read_file(&r, opts->files[i], solo, &nrec);
    if (solo)
        pt_worker_block_done(solo);
    else
        barrier(&r);
    expire_round(&r, true);
    err = res->file_err;
    if (r.recs.err)
        err = r.recs.err;
    if (r.apps.err)
        err = r.apps.err;
out:
    if (solo) {
        pt_decode_stats_merge(&res->decode, pt_worker_decode_stats(solo));
        sum_flow_stats(&res->flow, pt_flow_worker_stats(pt_flow_worker_get(r.ft, 0)));
        pt_worker_destroy(solo);
    } else if (r.wt) {
        for (unsigned i = 0; i < r.nw; i++)
            sum_flow_stats(&res->flow, pt_flow_worker_stats(pt_flow_worker_get(r.ft, i)));
        stop_workers(&r);
    }
    if (r.nw > 1)
        rcu_thread_online();
    res->flows_evicted = pt_flow_table_evicted(r.ft);
    pt_flow_table_app_totals(r.ft, &res->app, &res->app_dropped);
    if (r.ring) {
        pt_ring_flush(r.rprod, true);
        pt_ring_close(r.ring, &res->ring_stats);
        r.ring = NULL;
    }
    if (r.agg) {
        pt_agg_stats(r.agg, &res->agg_stats);
        pt_agg_destroy(r.agg); /* final rollups, sync, close */
        r.agg = NULL;
    }
    pt_flow_table_destroy(r.ft);
    rcu_unregister_thread();
    free(r.recs.v);
    free(r.apps.v);
    free(r.apps.own);
    return err;
}
