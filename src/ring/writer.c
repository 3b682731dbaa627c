/* writer.c - the ring's write side: producers' staging chunks, the writer
 * thread, segment files, the bound, faults and counters. index.c keeps the
 * key map and the LMDB side, keyer.c fills the key maps on its own thread;
 * docs/RING.md has the design.
 *
 * DESIGN
 * 1. Staging. Each producer owns `chunks` chunks of `chunk_size` bytes (one
 *    slab) and two SPSC queues of chunk pointers: full (producer -> writer)
 *    and free (the keyer gives chunks back: keyer.c), each able to hold
 *    every chunk, so a push never fails. pt_ring_put() appends one pcap
 *    record to the current chunk (a memcpy; no lock, no syscall, no
 *    allocation); a packet of another interface or link type, or one that
 *    does not fit, hands the chunk over first. Without a free chunk the
 *    packet is dropped from the ring and counted (lost_full).
 *    pt_ring_flush() reads the monotonic clock: the first flush that sees
 *    a chunk with packets stamps it, a later one hands it over once it is
 *    commit_ms / 4 old (force: at once).
 * 2. The writer thread takes full chunks from every producer in turn; idle,
 *    it sleeps 2 ms. Each chunk is written to the open segment and becomes
 *    one or more blocks of it:
 *    a. a chunk of another link type, or one that would take the segment
 *       past segment_size, closes the segment first;
 *    b. no open segment: make room (3), which usually hands over the
 *       recycled segment's file renamed to seg-<seq>.pcap (rewritten in
 *       place: the old bytes past what was written stay until the close
 *       cuts the file, behind RING_STALE_MARK, format.h; a write there
 *       that ends within the old length ends on a page boundary,
 *       stale_pad), else create it;
 *       preallocate segment_size (FALLOC_FL_KEEP_SIZE: the file stays a
 *       plain pcap of what was written; EOPNOTSUPP: go on without), write
 *       the header;
 *    c. pwritev() the chunk at the segment's end (the chunk is the large
 *       buffer: it is written as it is, not copied again), start writeback
 *       of what was written since the last start once that is PUSH_BATCH
 *       (8 MiB; sync_file_range WRITE), and wait for the ranges more than
 *       PUSH_LAG (16 MiB) behind it and drop them from the page cache
 *       (WAIT_BEFORE|WRITE|WAIT_AFTER, then POSIX_FADV_DONTNEED), so the
 *       disk has several MiB in flight while the writer goes on, and a big
 *       ring does not evict everything else. Idle, or at a close, the
 *       writer waits for the rest;
 *    d. index it: the chunk is cut at record boundaries into blocks of at
 *       most BLOCK_MAX (256 KiB), each in parts of 16 KiB (format.h:
 *       extraction reads the parts a key names); their blocks records wait
 *       for a commit; the chunk, with its blocks' offsets and numbers, goes
 *       to the keyer thread, which adds its packets' keys to the segment's
 *       key map (index.c) by part and gives the chunk back to its producer
 *       (keyer.c; the writer syncs with it before it touches a key map).
 *    Closing a segment (the writer's side) ends its writes and puts it on
 *    the done list; the cut (ftruncate, the rest of the preallocation
 *    punched out), the fdatasync and the commit that records it closed go
 *    to the closer thread with the next batch (5). A closed segment stays
 *    on the done list until a commit has recorded it.
 * 3. Bound. Before a segment is created the oldest segments are recycled
 *    while the segments' total (closed ones by their length, the open one by
 *    its preallocation) plus segment_size is over ring_size, or while the
 *    free space (statvfs) minus segment_size is under keep_free_pct.
 *    The files therefore never hold more than ring_size. The first
 *    segment recycled lends its file to the new one: renamed at once, its
 *    index entries deleted in one txn by the next batch, on the closer
 *    (recycle_reuse: no wait, no txn, no unlink, no new extents on the
 *    writer; bench/ring measured it, docs/PERFORMANCE.md). Any further one
 *    (a smaller bound, a short filesystem) loses its index entries in one
 *    txn, then its file, on the writer, after the answer to the batch in
 *    flight (the closer idle). The open segment is never recycled. A drop
 *    that fails in a batch is tried again with the next one.
 * 4. Faults. ENOSPC, EDQUOT or EIO at preallocation or write: recycle the
 *    oldest segment (segments_early) and try once more. When that fails
 *    too, or there was nothing to recycle, the chunk is dropped (lost_io),
 *    the ring is degraded, the open segment is closed (so that writing
 *    resumes in a new one), and for a second every chunk is dropped without
 *    trying; then the next chunk tries again. A write that succeeds clears
 *    degraded. Errors are logged at most once a minute with a count.
 *    A writeback error (the closer's fdatasync, or the writer's
 *    sync_file_range waiting on earlier ranges) gives up the segment's
 *    uncommitted blocks (seg_rollback, after the answer to a batch in
 *    flight): the index never names bytes that may not be on the disk.
 * 5. Commits: every commit_ms by the monotonic clock, at a segment's close
 *    and at the end, when anything changed (a block, a key, a record, a
 *    counter, a name), the writer builds a batch and hands it to the
 *    closer thread (closer.c), at most one in flight; it keeps writing
 *    chunks meanwhile and reads the answer between chunks. A batch names
 *    of the open segment only blocks whose writeback the writer has waited
 *    for (ring_seg.pushed); the closer fdatasyncs (with sync) before its
 *    txn. PT_E_FULL (the map at its limit) or ENOSPC recycles the oldest
 *    segment and the next batch, at once, tries again; any other failure
 *    counts index_errors and leaves everything pending for the next one
 *    (a closed segment the bound recycles meanwhile takes its unrecorded
 *    packets with it: lost_io, recycled()).
 *    pt_ring_commit() asks for one more at a known point: after the drain
 *    pass that follows the request, the writer waits for the open
 *    segment's writeback and for the batch in flight, commits, waits for
 *    that answer and wakes the caller (tests use it instead of sleeping).
 * 6. Counters. Producers' and the writer's are written by their owner with
 *    relaxed stores and read by pt_ring_stats() with relaxed loads. The
 *    index keeps the sum over every run ("stats"); packets, bytes and
 *    wire_bytes count records once a commit has recorded them. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

#define NSEC            1000000000ull
#define IDLE_SLEEP_NS   2000000L /* writer idle poll */
#define RETRY_NS        NSEC     /* degraded: try the disk again after this */
#define LOG_INTERVAL_NS (60ull * NSEC)
#define PUSH_BATCH      (8ull << 20)  /* writeback is started in runs of at least this */
#define PUSH_LAG        (16ull << 20) /* writeback in flight behind the write position */
#define BLOCK_MAX       (RING_PARTS * RING_PART_SIZE) /* bytes of an index block: 256 KiB */
#define ETH_MACS        12u
#define VLAN_TAG_LEN    4u
/* a page, and an ext4 block: writes within a reused file's old length end
 * on this boundary (stale_pad) */
#define RING_PAGE 4096u

/* One flow of a producer's cutoff table: 24 bytes. */
struct cut_slot {
    uint64_t tag; /* the flow's pt_flow_pkt_hash(), 0 = free */
    uint64_t bytes, last_ns;
};

/* Producer. Aligned to a cache line (aligned_alloc): the queues' indices
 * and the counters each sit on their own lines. */
struct pt_ring_prod {
    /* owned by the producer thread */
    struct ring_chunk *cur; /* NULL: take one from free at the next packet */
    uint32_t snaplen, chunk_size;
    uint64_t cutoff, age_ns;
    bool wait;            /* cfg.wait_when_full */
    struct cut_slot *cut; /* the per-flow cutoff's table (cutoff > 0); owned */
    uint64_t cut_mask, cut_idle_ns;
    /* set at open */
    uint16_t id;
    struct ring_chunk *chunk;   /* every chunk; owned */
    struct ring_chunk_blk *blk; /* their block lists for the keyer; owned */
    uint8_t *slab;              /* their buffers; owned */
    struct ring_spsc full, free;
    /* written by the producer (relaxed), read by pt_ring_stats() */
    alignas(PT_CACHELINE) uint64_t lost_full_pkts, lost_full_bytes;
    uint64_t cutoff_pkts, cutoff_bytes, cutoff_resets;
    uint64_t bad_time_pkts;
};

struct pt_ring {
    struct pt_ring_config cfg;
    unsigned nprod;
    struct pt_ring_prod **prod;
    int lock_fd;
    pthread_t thread;
    bool started;
    bool stop; /* atomic: set by pt_ring_close() */

    /* pt_ring_commit(): any thread asks (req, then waits on cv), the
     * writer answers (done, rc) */
    pthread_mutex_t cmu;
    pthread_cond_t ccv;
    uint64_t commit_req;  /* atomic: requests made */
    uint64_t commit_done; /* under cmu: requests answered */
    int commit_rc;        /* under cmu: the result of the last answered one */

    /* interface names: any thread, under iflock */
    pthread_mutex_t iflock;
    struct ring_ifname *ifn;
    unsigned n_if, cap_if;

    /* counters: base (earlier runs) fixed at open; run written by the writer */
    struct pt_ring_stats base, run;

    /* writer thread only (the opening thread before it starts) */
    struct ring_index ix;
    struct ring_seg *open;    /* the segment being written */
    struct ring_seg *done;    /* closed, not yet committed, oldest first */
    struct ring_segent *segs; /* every segment of the ring, by seq */
    size_t n_segs, cap_segs;
    uint64_t total; /* sum of segs[].size */
    uint64_t next_seq;
    uint64_t commit_ns, last_commit; /* interval; time of the last attempt */
    uint64_t fail_ns;                /* last failed write (degraded) */
    uint64_t log_ns, log_quiet;      /* rate-limited error log */
    uint64_t idx_log_ns, idx_quiet;
    uint64_t full_log_ns, full_quiet;
    struct pt_ring_stats committed; /* the counters as the last commit saw them */
    bool any_commit;
    bool commit_now;           /* a segment closed, or a retry: commit at the next chance */
    struct ring_batch *flight; /* handed to the closer, answer not taken (only a flag here:
                                * the closer owns it meanwhile) */
    int answer_rc;             /* the last answer: its txn's error, else a part's sync error */
    uint64_t *drops;           /* recycled seqs for the next batch to drop */
    unsigned n_drops, cap_drops;
    uint64_t lost_keys_seen; /* keyer.lost_keys already in run.index_lost_keys */

    struct ring_keyer keyer;   /* keys written chunks (keyer.c) */
    struct ring_closer closer; /* syncs, closes and commits (closer.c) */
};

/* ---- config ---- */

void pt_ring_config_default(struct pt_ring_config *c)
{
    memset(c, 0, sizeof *c);
    c->ring_size = 0;
    c->segment_size = PT_RING_SEGMENT_SIZE;
    c->keep_free_pct = 10;
    c->snaplen = PT_RING_SNAPLEN;
    c->chunk_size = PT_RING_CHUNK_SIZE;
    c->chunks = PT_RING_CHUNKS;
    c->flow_cutoff = 0;
    c->cutoff_flows = 1u << 18;
    c->cutoff_idle_ns = 60 * NSEC;
    c->commit_ms = 1000;
    c->sync = false;
    c->index_map_max = 4ull << 30;
}

static int config_check(const struct pt_ring_config *c, unsigned producers, char *msg,
                        size_t msglen)
{
    const char *why = NULL;

    if (!c->dir[0] || strnlen(c->dir, sizeof c->dir) >= sizeof c->dir - 64)
        why = "the ring directory is empty or too long";
    else if (c->segment_size < PT_RING_MIN_SEGMENT)
        why = "segment_size is under the minimum (1 MiB)";
    else if (c->ring_size && c->segment_size > c->ring_size / 2)
        why = "segment_size must be at most half of ring_size";
    else if (c->snaplen < 1 || c->snaplen > PT_RING_SNAPLEN)
        why = "snaplen must be 1 .. 262144";
    else if (c->chunk_size < c->snaplen + RING_REC_HDR)
        why = "chunk_size must hold one record of snaplen bytes";
    else if ((uint64_t)c->chunk_size + RING_PCAP_HDR > c->segment_size)
        why = "chunk_size must fit in a segment";
    else if (c->flow_cutoff && (c->cutoff_flows < 1 || c->cutoff_flows > (1u << 26)))
        why = "cutoff_flows must be 1 .. 67108864";
    else if (c->flow_cutoff && c->cutoff_idle_ns == 0)
        why = "cutoff_idle_ns must be more than 0 (0 would restart every flow's count)";
    else if (c->chunks < 2 || c->chunks > (1u << 20))
        why = "chunks must be 2 .. 1048576";
    else if (c->keep_free_pct >= 100)
        why = "keep_free_pct must be under 100";
    else if (c->commit_ms < 1)
        why = "commit_ms must be at least 1";
    else if (c->index_map_max < (1ull << 20))
        why = "index_map_max must be at least 1 MiB";
    else if (producers < 1 || producers > UINT16_MAX)
        why = "producers must be 1 .. 65535";
    else if ((uint64_t)producers * c->chunks > (1u << 24))
        why = "producers x chunks must be at most 16777216";
    if (!why)
        return 0;
    snprintf(msg, msglen, "ring: %s", why);
    return -EINVAL;
}

/* ---- producers (DESIGN 1) ---- */

static void hand_over(struct pt_ring_prod *p, struct ring_chunk *c)
{
    (void)ring_spsc_push(&p->full, c); /* never full: it can hold every chunk */
    p->cur = NULL;
}

/* The record's bytes: the packet, with a stripped 802.1Q tag written back
 * after the MAC addresses, cut to @cap bytes. */
static void rec_copy(uint8_t *d, const struct pt_ring_pkt *pkt, bool tag, uint32_t cap)
{
    uint8_t t[VLAN_TAG_LEN];
    uint32_t n, tpid = pkt->hw_tag >> 16;

    if (!tag) {
        memcpy(d, pkt->data, cap);
        return;
    }
    tpid = tpid ? tpid : 0x8100;
    t[0] = (uint8_t)(tpid >> 8);
    t[1] = (uint8_t)tpid;
    t[2] = (uint8_t)(pkt->hw_tag >> 8);
    t[3] = (uint8_t)pkt->hw_tag;
    n = cap < ETH_MACS ? cap : ETH_MACS;
    memcpy(d, pkt->data, n);
    if (cap > n) {
        uint32_t m = cap - n < VLAN_TAG_LEN ? cap - n : VLAN_TAG_LEN;
        memcpy(d + n, t, m);
        if (cap > n + m)
            memcpy(d + n + m, pkt->data + ETH_MACS, cap - n - m);
    }
}

/* The per-flow cutoff: true when @pkt's flow has carried cutoff bytes
 * before it (pt_ring_put() in ring.h has the rule). */
static bool cut_off(struct pt_ring_prod *p, const struct pt_ring_pkt *pkt)
{
    struct cut_slot *s = &p->cut[pkt->flow_hash & p->cut_mask];

    if (s->tag != pkt->flow_hash) {
        if (s->tag)
            PT_CNT_INC(p->cutoff_resets);
        s->tag = pkt->flow_hash;
        s->bytes = 0;
    } else if (pkt->ts_ns > s->last_ns && pkt->ts_ns - s->last_ns > p->cut_idle_ns) {
        s->bytes = 0; /* silent too long: a new connection on the same ports */
    }
    if (pkt->ts_ns > s->last_ns)
        s->last_ns = pkt->ts_ns;
    if (s->bytes >= p->cutoff)
        return true;
    s->bytes += pkt->wirelen;
    return false;
}

void pt_ring_put(struct pt_ring_prod *p, const struct pt_ring_pkt *pkt)
{
    struct ring_chunk *c = p->cur;
    uint32_t cap = pkt->caplen, wire = pkt->wirelen > cap ? pkt->wirelen : cap, need, h[4];
    bool tag = pkt->hw_tag && pkt->linktype == PT_LINK_ETHERNET && cap >= ETH_MACS;

    if (tag) {
        cap += VLAN_TAG_LEN;
        wire = wire > UINT32_MAX - VLAN_TAG_LEN ? UINT32_MAX : wire + VLAN_TAG_LEN;
    }
    cap = cap > p->snaplen ? p->snaplen : cap;
    need = RING_REC_HDR + cap;
    if (unlikely(pkt->ts_ns / NSEC > UINT32_MAX)) { /* a pcap record holds 32-bit seconds */
        PT_CNT_INC(p->bad_time_pkts);
        return;
    }
    if (p->cutoff && pkt->flow_hash && cut_off(p, pkt)) {
        PT_CNT_INC(p->cutoff_pkts);
        PT_CNT_ADD(p->cutoff_bytes, need);
        return;
    }
    if (c &&
        (c->iface != pkt->iface || c->linktype != pkt->linktype || c->len + need > p->chunk_size)) {
        hand_over(p, c);
        c = NULL;
    }
    if (!c) {
        while (unlikely(!(c = ring_spsc_pop(&p->free)))) {
            if (!p->wait) {
                PT_CNT_INC(p->lost_full_pkts);
                PT_CNT_ADD(p->lost_full_bytes, need);
                return;
            }
            /* offline: wait for a chunk back; the writer passes every
             * one on to the keyer, which gives it back (what the writer
             * cannot write it drops and counts) */
            struct timespec ts = {0, 200000};
            nanosleep(&ts, NULL);
        }
        c->len = c->packets = 0;
        c->wire = c->born_ns = 0;
        c->first_ns = UINT64_MAX;
        c->last_ns = 0;
        c->linktype = pkt->linktype;
        c->iface = pkt->iface;
        p->cur = c;
    }
    h[0] = (uint32_t)(pkt->ts_ns / NSEC);
    h[1] = (uint32_t)(pkt->ts_ns % NSEC);
    h[2] = cap;
    h[3] = wire;
    memcpy(c->buf + c->len, h, sizeof h);
    rec_copy(c->buf + c->len + RING_REC_HDR, pkt, tag, cap);
    c->len += need;
    c->packets++;
    c->wire += wire;
    c->first_ns = pkt->ts_ns < c->first_ns ? pkt->ts_ns : c->first_ns;
    c->last_ns = pkt->ts_ns > c->last_ns ? pkt->ts_ns : c->last_ns;
}

void pt_ring_flush(struct pt_ring_prod *p, bool force)
{
    struct ring_chunk *c = p->cur;
    uint64_t now;

    if (!c || !c->packets)
        return;
    if (!force) {
        now = pt_now_ns();
        if (!c->born_ns) {
            c->born_ns = now;
            return;
        }
        if (now - c->born_ns < p->age_ns)
            return;
    }
    hand_over(p, c);
}

static uint32_t pow2_at_least(uint32_t n)
{
    uint32_t v = 1;
    while (v < n)
        v <<= 1;
    return v;
}

/* Blocks of a chunk of @len bytes at most: block_add() cuts a block before
 * a record that would take it past BLOCK_MAX, so two blocks together hold
 * more than BLOCK_MAX. */
static uint32_t blocks_max(uint32_t len)
{
    return 2 * (len / BLOCK_MAX) + 1;
}

int ring_spsc_init(struct ring_spsc *q, uint32_t cap)
{
    uint32_t slots = pow2_at_least(cap);

    q->slot = calloc(slots, sizeof *q->slot);
    if (!q->slot)
        return -ENOMEM;
    q->cap = cap;
    q->mask = slots - 1;
    q->head = q->tail = 0;
    return 0;
}

static void prod_destroy(struct pt_ring_prod *p)
{
    if (!p)
        return;
    free(p->full.slot);
    free(p->free.slot);
    free(p->chunk);
    free(p->blk);
    free(p->slab);
    free(p->cut);
    free(p);
}

static struct pt_ring_prod *prod_create(const struct pt_ring_config *c, uint16_t id)
{
    size_t sz = (sizeof(struct pt_ring_prod) + PT_CACHELINE - 1) & ~(size_t)(PT_CACHELINE - 1);
    struct pt_ring_prod *p = aligned_alloc(PT_CACHELINE, sz);

    if (!p)
        return NULL;
    memset(p, 0, sz);
    p->id = id;
    p->snaplen = c->snaplen;
    p->chunk_size = c->chunk_size;
    p->cutoff = c->flow_cutoff;
    p->cut_idle_ns = c->cutoff_idle_ns;
    p->wait = c->wait_when_full;
    if (p->cutoff) {
        uint64_t n = pow2_at_least(c->cutoff_flows);
        p->cut = calloc(n, sizeof *p->cut);
        p->cut_mask = n - 1;
        if (!p->cut) {
            prod_destroy(p);
            return NULL;
        }
    }
    p->age_ns = (uint64_t)c->commit_ms * 1000000ull / 4;
    p->chunk = calloc(c->chunks, sizeof *p->chunk);
    p->blk = calloc((size_t)c->chunks * blocks_max(c->chunk_size), sizeof *p->blk);
    p->slab = malloc((size_t)c->chunks * (c->chunk_size + RING_CHUNK_SLACK));
    if (!p->chunk || !p->blk || !p->slab || ring_spsc_init(&p->full, c->chunks) < 0 ||
        ring_spsc_init(&p->free, c->chunks) < 0) {
        prod_destroy(p);
        return NULL;
    }
    for (unsigned i = 0; i < c->chunks; i++) {
        p->chunk[i].buf = p->slab + (size_t)i * (c->chunk_size + RING_CHUNK_SLACK);
        p->chunk[i].blk = p->blk + (size_t)i * blocks_max(c->chunk_size);
        p->chunk[i].home = &p->free;
        (void)ring_spsc_push(&p->free, &p->chunk[i]);
    }
    return p;
}

struct pt_ring_prod *pt_ring_producer(struct pt_ring *r, unsigned i)
{
    return i < r->nprod ? r->prod[i] : NULL;
}

bool pt_ring_prod_cuts(const struct pt_ring_prod *p)
{
    return p && p->cutoff;
}

/* ---- interface names ---- */

void pt_ring_iface_name(struct pt_ring *r, uint16_t iface, const char *name)
{
    struct ring_ifname *e = NULL;

    pthread_mutex_lock(&r->iflock);
    for (unsigned i = 0; i < r->n_if; i++)
        if (r->ifn[i].iface == iface)
            e = &r->ifn[i];
    if (!e && r->n_if == r->cap_if) {
        unsigned cap = r->cap_if ? r->cap_if * 2 : 8;
        struct ring_ifname *n = realloc(r->ifn, cap * sizeof *n);
        if (n) {
            r->ifn = n;
            r->cap_if = cap;
        }
    }
    if (!e && r->n_if < r->cap_if) {
        e = &r->ifn[r->n_if++];
        e->iface = iface;
    }
    if (e) {
        snprintf(e->name, sizeof e->name, "%s", name ? name : "");
        e->dirty = true;
    }
    pthread_mutex_unlock(&r->iflock);
}

/* ---- counters (DESIGN 6) ---- */

#define STATS_FIELDS(X)                                                                            \
    X(packets)                                                                                     \
    X(bytes)                                                                                       \
    X(wire_bytes)                                                                                  \
    X(lost_full_pkts)                                                                              \
    X(lost_full_bytes)                                                                             \
    X(lost_io_pkts)                                                                                \
    X(lost_io_bytes)                                                                               \
    X(cutoff_pkts)                                                                                 \
    X(cutoff_bytes)                                                                                \
    X(cutoff_resets)                                                                               \
    X(index_lost_keys)                                                                             \
    X(segments_created)                                                                            \
    X(segments_recycled)                                                                           \
    X(segments_early)                                                                              \
    X(index_commits)                                                                               \
    X(index_errors)                                                                                \
    X(write_errors)                                                                                \
    X(reconciled_bytes)                                                                            \
    X(bad_time_pkts)                                                                               \
    X(index_key_bytes)                                                                             \
    X(index_keys_put)                                                                              \
    X(index_txn_ns)                                                                                \
    X(index_txn_max_ns)

static void stats_add(struct pt_ring_stats *d, const struct pt_ring_stats *s)
{
#define ADD(f) d->f += PT_CNT_GET(s->f);
    STATS_FIELDS(ADD)
#undef ADD
}

static void stats_sum(const struct pt_ring *r, struct pt_ring_stats *st)
{
    memset(st, 0, sizeof *st);
    stats_add(st, &r->base);
    stats_add(st, &r->run);
    for (unsigned i = 0; i < r->nprod; i++) {
        const struct pt_ring_prod *p = r->prod[i];
        st->lost_full_pkts += PT_CNT_GET(p->lost_full_pkts);
        st->lost_full_bytes += PT_CNT_GET(p->lost_full_bytes);
        st->cutoff_pkts += PT_CNT_GET(p->cutoff_pkts);
        st->cutoff_bytes += PT_CNT_GET(p->cutoff_bytes);
        st->cutoff_resets += PT_CNT_GET(p->cutoff_resets);
        st->bad_time_pkts += PT_CNT_GET(p->bad_time_pkts);
    }
    st->degraded = __atomic_load_n(&r->run.degraded, __ATOMIC_RELAXED);
}

void pt_ring_stats(const struct pt_ring *r, struct pt_ring_stats *st)
{
    stats_sum(r, st);
}

static bool log_due(uint64_t *last_ns)
{
    uint64_t now = pt_now_ns();

    if (*last_ns && now - *last_ns < LOG_INTERVAL_NS)
        return false;
    *last_ns = now;
    return true;
}

static void set_degraded(struct pt_ring *r, bool on)
{
    __atomic_store_n(&r->run.degraded, on, __ATOMIC_RELAXED);
}

/* ---- the segment list and recycling (DESIGN 3) ---- */

static int segs_append(struct pt_ring *r, uint64_t seq, uint64_t size)
{
    if (r->n_segs == r->cap_segs) {
        size_t cap = r->cap_segs ? r->cap_segs * 2 : 64;
        struct ring_segent *n = realloc(r->segs, cap * sizeof *n);
        if (!n)
            return -ENOMEM;
        r->segs = n;
        r->cap_segs = cap;
    }
    r->segs[r->n_segs].seq = seq;
    r->segs[r->n_segs++].size = size;
    r->total += size;
    return 0;
}

static struct ring_segent *segs_find(struct pt_ring *r, uint64_t seq)
{
    for (size_t i = r->n_segs; i-- > 0;)
        if (r->segs[i].seq == seq)
            return &r->segs[i];
    return NULL;
}

static void segs_remove(struct pt_ring *r, uint64_t seq)
{
    struct ring_segent *e = segs_find(r, seq);

    if (!e)
        return;
    r->total -= e->size;
    memmove(e, e + 1, (size_t)(r->segs + r->n_segs - (e + 1)) * sizeof *e);
    r->n_segs--;
}

static void seg_free(struct ring_seg *s)
{
    if (!s)
        return;
    if (s->fd >= 0)
        close(s->fd);
    if (s->cfd >= 0)
        close(s->cfd);
    ring_keys_fini(&s->keys);
    free(s->pend);
    free(s);
}

static void index_failed(struct pt_ring *r, int rc, const char *what)
{
    PT_CNT_INC(r->run.index_errors);
    if (!log_due(&r->idx_log_ns)) {
        r->idx_quiet++;
        return;
    }
    pt_log(PT_LOG_ERR,
           "ring: %s: index %s failed: %s (%llu index errors, %llu since the last "
           "message)",
           r->cfg.dir, what, pt_strerror(rc), (unsigned long long)PT_CNT_GET(r->run.index_errors),
           (unsigned long long)r->idx_quiet);
    r->idx_quiet = 0;
}

/* keyer.c DESIGN 3: before the writer reads or changes a key map. Keys
 * the keyer could not record (no memory) are counted and logged here. */
static void keyer_sync(struct pt_ring *r)
{
    ring_keyer_sync(&r->keyer);
    uint64_t lost = __atomic_load_n(&r->keyer.lost_keys, __ATOMIC_RELAXED);
    if (unlikely(lost != r->lost_keys_seen)) {
        PT_CNT_ADD(r->run.index_lost_keys, lost - r->lost_keys_seen);
        r->lost_keys_seen = lost;
        index_failed(r, -ENOMEM, "indexing a block's keys");
    }
}

static void flight_wait(struct pt_ring *r);

static int drops_push(struct pt_ring *r, uint64_t seq)
{
    if (r->n_drops == r->cap_drops) {
        unsigned cap = r->cap_drops ? r->cap_drops * 2 : 8;
        uint64_t *n = realloc(r->drops, cap * sizeof *n);
        if (!n)
            return -ENOMEM;
        r->drops = n;
        r->cap_drops = cap;
    }
    r->drops[r->n_drops++] = seq;
    return 0;
}

/* Drop @seq's index entries in one txn, then its file, on this thread (the
 * closer idle: closer.c DESIGN 4). */
static int drop_now(struct pt_ring *r, uint64_t seq)
{
    char path[RING_PATH_MAX];
    int rc;

    flight_wait(r);
    if ((rc = ring_index_drop(&r->ix, seq)) < 0) {
        index_failed(r, rc, "delete of a recycled segment");
        return rc;
    }
    ring_seg_path(path, sizeof path, r->cfg.dir, seq);
    if (unlink(path) < 0 && errno != ENOENT)
        pt_log(PT_LOG_WARN, "ring: unlink %s: %s", path, strerror(errno));
    return 0;
}

/* The queued drops, now (their space is wanted). 0 when none failed. */
static int drops_flush(struct pt_ring *r)
{
    unsigned n = 0;
    int rc = 0;

    flight_wait(r);
    for (unsigned i = 0; i < r->n_drops; i++) {
        int e = drop_now(r, r->drops[i]);
        if (e < 0) {
            rc = e;
            r->drops[n++] = r->drops[i]; /* the next batch tries again */
        }
    }
    r->n_drops = n;
    return rc;
}

/* The oldest segment's seq into *@seq, once no batch in flight holds it
 * (waiting for the answer, which may free or forget it). -ENOENT: none, or
 * it is the open one (never recycled). */
static int oldest_settled(struct pt_ring *r, uint64_t *seq)
{
    struct ring_seg *s;

    for (;;) {
        if (!r->n_segs || (r->open && r->segs[0].seq == r->open->seq))
            return -ENOENT;
        *seq = r->segs[0].seq;
        for (s = r->done; s && s->seq != *seq; s = s->next)
            ;
        if (!s || !s->in_flight)
            return 0;
        flight_wait(r);
    }
}

/* Recycled segment @seq leaves the ring's list and the done list; counted.
 * A closed segment still on the done list may hold records no commit has
 * recorded (its txns failed): they go with it, counted as lost_io. */
static void recycled(struct pt_ring *r, uint64_t seq)
{
    struct ring_seg **pp, *s;

    segs_remove(r, seq);
    keyer_sync(r); /* no chunk of it is being keyed */
    for (pp = &r->done; *pp; pp = &(*pp)->next) {
        if ((*pp)->seq == seq) {
            s = *pp;
            *pp = s->next;
            PT_CNT_ADD(r->run.lost_io_pkts, s->packets - s->c_packets);
            PT_CNT_ADD(r->run.lost_io_bytes, s->bytes - s->c_bytes);
            seg_free(s);
            break;
        }
    }
    PT_CNT_INC(r->run.segments_recycled);
}

/* Remove the oldest segment (never the open one): its index entries in one
 * txn, then its file. @now: before returning (the space is wanted at once);
 * otherwise the next batch does it on the closer thread, and the bound
 * counts it gone already. 0, -ENOENT (nothing to remove) or the index
 * error. */
static int recycle_oldest(struct pt_ring *r, bool early, bool now)
{
    uint64_t seq;
    int rc;

    if (now && r->n_drops) /* queued drops free space first */
        return drops_flush(r);
    if ((rc = oldest_settled(r, &seq)) < 0)
        return rc;
    if (now || drops_push(r, seq) < 0) {
        if ((rc = drop_now(r, seq)) < 0)
            return rc;
    }
    recycled(r, seq);
    if (early)
        PT_CNT_INC(r->run.segments_early);
    return 0;
}

/* DESIGN 3: the oldest segment's file becomes the file of the new segment
 * @seq. It is renamed at once and rewritten in place (seg_create), and its
 * index entries go with the next batch, on the closer thread: the writer
 * neither waits for a batch in flight nor runs a txn, and the disk neither
 * frees nor allocates nor converts extents (docs/PERFORMANCE.md). Renaming
 * first is safe: the old seq's file is simply gone for a reader that still
 * sees its entries (extract skips it, DESIGN 6 there) and for reconcile
 * after a crash (its entries go). 0, -ENOENT (nothing to recycle) or the
 * failure (nothing taken). */
static int recycle_reuse(struct pt_ring *r, uint64_t seq)
{
    char from[RING_PATH_MAX], to[RING_PATH_MAX];
    uint64_t old;
    int rc;

    if ((rc = oldest_settled(r, &old)) < 0)
        return rc;
    if (drops_push(r, old) < 0)
        return -ENOMEM;
    ring_seg_path(from, sizeof from, r->cfg.dir, old);
    ring_seg_path(to, sizeof to, r->cfg.dir, seq);
    if (rename(from, to) < 0) {
        rc = -errno;
        r->n_drops--;
        return rc;
    }
    recycled(r, old);
    return 0;
}

/* keep_free_pct: would the filesystem be under it after one more segment,
 * @credit bytes of which a reused file holds already? */
static bool free_short(const struct pt_ring *r, uint64_t credit)
{
    struct statvfs sv;
    unsigned __int128 total, avail, need;

    if (!r->cfg.keep_free_pct || statvfs(r->cfg.dir, &sv) < 0)
        return false;
    total = (unsigned __int128)sv.f_blocks * sv.f_frsize;
    avail = (unsigned __int128)sv.f_bavail * sv.f_frsize + credit;
    need = total * r->cfg.keep_free_pct / 100 + r->cfg.segment_size;
    return avail < need;
}

/* DESIGN 3. Recycling is done here, before the new segment @seq is created,
 * so the files never hold more than ring_size. The first segment recycled
 * lends its file to @seq (recycle_reuse; *reused); any further one, which
 * only a smaller bound or a short filesystem asks for, is removed at once
 * (its index entries, then its file), the closer idle. */
static void make_room(struct pt_ring *r, uint64_t seq, bool *reused)
{
    uint64_t credit = 0;

    *reused = false;
    for (;;) {
        bool over = r->cfg.ring_size && r->total + r->cfg.segment_size > r->cfg.ring_size;
        if (!over && !free_short(r, credit))
            return;
        if (!*reused) {
            uint64_t size = r->n_segs ? r->segs[0].size : 0;
            if (recycle_reuse(r, seq) == 0) {
                *reused = true;
                credit = size;
                continue;
            }
        }
        if (!over && r->n_drops) {
            if (drops_flush(r) < 0)
                return;
            continue;
        }
        if (recycle_oldest(r, false, true) < 0)
            return;
    }
}

/* ---- commits (DESIGN 5): batches for the closer ---- */

static void degrade(struct pt_ring *r, int rc);
static void seg_rollback(struct pt_ring *r, struct ring_seg *s, int rc, const char *what);
static void seg_forget(struct pt_ring *r, struct ring_seg *s);
static void open_push_all(struct pt_ring *r);

static bool seg_pending(const struct ring_seg *s)
{
    return s->close_pending || s->rec_dirty || s->n_pend || ring_keys_dirty(&s->keys);
}

/* The interface names to store; under iflock. */
static struct ring_ifname *ifn_take(struct pt_ring *r, unsigned *n)
{
    struct ring_ifname *v = NULL;

    pthread_mutex_lock(&r->iflock);
    *n = 0;
    for (unsigned i = 0; i < r->n_if; i++)
        *n += r->ifn[i].dirty;
    if (*n && (v = malloc(*n * sizeof *v)) != NULL) {
        unsigned j = 0;
        for (unsigned i = 0; i < r->n_if; i++) {
            if (r->ifn[i].dirty) {
                v[j++] = r->ifn[i];
                r->ifn[i].dirty = false;
            }
        }
    }
    if (!v)
        *n = 0;
    pthread_mutex_unlock(&r->iflock);
    return v;
}

/* A failed commit: the names are stored next time (unless renamed since). */
static void ifn_untake(struct pt_ring *r, const struct ring_ifname *v, unsigned n)
{
    pthread_mutex_lock(&r->iflock);
    for (unsigned j = 0; j < n; j++)
        for (unsigned i = 0; i < r->n_if; i++)
            if (r->ifn[i].iface == v[j].iface)
                r->ifn[i].dirty = true;
    pthread_mutex_unlock(&r->iflock);
}

/* What the next batch does to @s (copies, but for a closed segment's key
 * map: the closer reads it while the part is in flight, nothing changes it). The
 * segment is marked in flight; its close, if due, goes with the part. Of
 * the open segment only the blocks whose writeback the writer has seen
 * finish go (ring_seg.pushed); a closed one has them all. */
static int part_fill(struct pt_ring *r, struct ring_seg *s, struct ring_part *p)
{
    uint32_t k = 0;

    memset(p, 0, sizeof *p);
    while (k < s->n_pend && s->pend[k].rec.off + s->pend[k].rec.len <= s->pushed)
        k++;
    if (k && !(p->blk = malloc(k * sizeof *p->blk)))
        return -ENOMEM;
    /* a key's list is named only up to the blocks this part commits. A
     * closed segment's whole map goes, borrowed (its keys never change
     * again; the writer leaves an in-flight segment alone): the txn writes
     * it once, sorted (index.c DESIGN 2). Of the open segment only the
     * keys that gained a part are copied, so a commit costs what changed
     * since the last one, not what the segment holds. */
    p->key_limit = (s->c_blocks + k) * RING_PARTS; /* the first part not committed */
    if (s->closed)
        p->all = &s->keys;
    else if (ring_keys_dirty(&s->keys) &&
             ring_keys_take(&s->keys, p->key_limit, &p->keys, &p->keys_len, &p->key_ids,
                            &p->n_keys) < 0) {
        free(p->blk);
        p->blk = NULL;
        return -ENOMEM;
    }
    PT_CNT_ADD(r->run.index_key_bytes, p->keys_len);
    p->packets = s->c_packets;
    p->bytes = s->c_bytes;
    p->wire = s->c_wire;
    p->rec.first_ns = s->c_first_ns;
    p->rec.last_ns = s->c_last_ns;
    p->rec.valid_len = s->c_len;
    for (uint32_t i = 0; i < k; i++) {
        const struct ring_blk_pend *b = &s->pend[i];
        p->blk[i] = *b;
        p->packets += b->rec.packets;
        p->bytes += b->rec.len;
        p->wire += b->wire;
        p->rec.first_ns = b->rec.first_ns < p->rec.first_ns ? b->rec.first_ns : p->rec.first_ns;
        p->rec.last_ns = b->rec.last_ns > p->rec.last_ns ? b->rec.last_ns : p->rec.last_ns;
        p->rec.valid_len = b->rec.off + b->rec.len;
    }
    p->n_blk = k;
    p->seg = s;
    p->seq = s->seq;
    p->fd = s->cfd;
    p->close = s->close_pending;
    p->sync = r->cfg.sync && (k || p->close);
    p->prealloc = r->cfg.segment_size;
    p->c_len = s->c_len;
    p->rec.packets = p->packets;
    p->rec.linktype = s->linktype;
    p->rec.blocks = s->c_blocks + k;
    p->rec.closed = s->closed;
    p->rec.snaplen = s->snaplen;
    p->d_packets = p->packets - s->c_packets;
    p->d_bytes = p->bytes - s->c_bytes;
    p->d_wire = p->wire - s->c_wire;
    p->blocks = s->c_blocks + k;
    if (p->close) { /* the descriptor is the batch's now */
        s->cfd = -1;
        s->close_pending = false;
    }
    if (k == s->n_pend)
        s->rec_dirty = false;
    s->in_flight = true;
    return 0;
}

/* The open segment has something a commit may name: a block already
 * committed (its record may change) or a pushed one. */
static bool open_committable(const struct pt_ring *r)
{
    const struct ring_seg *s = r->open;

    return s && s->blocks && seg_pending(s) &&
           (s->c_blocks || (s->n_pend && s->pend[0].rec.off + s->pend[0].rec.len <= s->pushed));
}

/* The next batch: every segment with something to commit (the closed ones
 * first, oldest first, then the open one), the queued drops, the names and
 * the counters. NULL when there is nothing to do (and not @force) or no
 * memory. */
static struct ring_batch *batch_build(struct pt_ring *r, bool force)
{
    struct ring_batch *b;
    struct pt_ring_stats now;
    unsigned n = 0, n_if = 0;
    struct ring_ifname *ifn;

    keyer_sync(r);
    for (struct ring_seg *s = r->done; s; s = s->next)
        n += seg_pending(s);
    n += open_committable(r);
    stats_sum(r, &now);
    ifn = ifn_take(r, &n_if);
    if (!n && !n_if && !r->n_drops && r->any_commit && !force &&
        !memcmp(&now, &r->committed, sizeof now)) {
        free(ifn);
        return NULL;
    }
    if (!(b = calloc(1, sizeof *b)) || (n && !(b->parts = calloc(n, sizeof *b->parts))) ||
        (r->n_drops && !(b->drop_rc = calloc(r->n_drops, sizeof *b->drop_rc))))
        goto err;
    for (struct ring_seg *s = r->done; s; s = s->next)
        if (seg_pending(s) && b->n_parts < n && part_fill(r, s, &b->parts[b->n_parts]) == 0)
            b->n_parts++;
    if (open_committable(r) && b->n_parts < n && part_fill(r, r->open, &b->parts[b->n_parts]) == 0)
        b->n_parts++;
    if (b->n_parts < n)
        index_failed(r, -ENOMEM, "commit (a segment waits for the next one)");
    b->drops = r->drops;
    b->n_drops = r->n_drops;
    r->drops = NULL;
    r->n_drops = r->cap_drops = 0;
    b->ifn = ifn;
    b->n_if = n_if;
    b->st = now;
    for (unsigned i = 0; i < b->n_parts; i++) {
        b->st.packets += b->parts[i].d_packets;
        b->st.bytes += b->parts[i].d_bytes;
        b->st.wire_bytes += b->parts[i].d_wire;
    }
    b->st.index_commits++;
    return b;
err:
    free(b ? b->parts : NULL);
    free(b);
    ifn_untake(r, ifn, n_if);
    free(ifn);
    index_failed(r, -ENOMEM, "commit");
    return NULL;
}

/* A part committed: its blocks, keys and counts are the segment's
 * committed state. */
static void part_committed(struct pt_ring *r, const struct ring_part *p)
{
    struct ring_seg *s = p->seg;

    PT_CNT_ADD(r->run.packets, p->packets - s->c_packets);
    PT_CNT_ADD(r->run.bytes, p->bytes - s->c_bytes);
    PT_CNT_ADD(r->run.wire_bytes, p->wire - s->c_wire);
    s->c_packets = p->packets;
    s->c_bytes = p->bytes;
    s->c_wire = p->wire;
    s->c_len = p->rec.valid_len;
    s->c_blocks = p->blocks;
    s->c_first_ns = p->rec.first_ns;
    s->c_last_ns = p->rec.last_ns;
    if (p->all)
        ring_keys_written(&s->keys, p->key_limit);
    /* blocks written after the capture stay pending */
    memmove(s->pend, s->pend + p->n_blk, (s->n_pend - p->n_blk) * sizeof *s->pend);
    s->n_pend -= p->n_blk;
}

/* The txn failed: everything the part held waits for the next commit. */
static void part_failed(const struct ring_part *p)
{
    p->seg->rec_dirty = true; /* a closed segment: its whole map goes again */
    if (p->keys)
        ring_keys_redirty(&p->seg->keys, p->key_ids, p->n_keys);
}

/* A txn that failed for another reason than room (commit_retry): counted
 * and logged; everything waits for the next batch. */
static void commit_failed(struct pt_ring *r, int rc)
{
    index_failed(r, rc, "commit");
}

/* A part whose segment was recycled while its txn waited for room. */
#define PART_GONE (-ESTALE)

/* The txn of @b found the map at its limit (PT_E_FULL) or the disk full:
 * recycle the oldest segment and run the same txn again, here (the closer
 * is idle: closer.c DESIGN 4), until it fits or nothing is left to
 * recycle. Done at once, as the batch stands, so that closed segments do
 * not pile up uncommitted until they are the oldest. */
static void commit_retry(struct pt_ring *r, struct ring_batch *b)
{
    while (b->rc == PT_E_FULL || b->rc == -ENOSPC) {
        uint64_t seq = r->n_segs ? r->segs[0].seq : 0;
        bool queued = r->n_drops > 0; /* then the queued drops go first */
        if (recycle_oldest(r, b->rc == -ENOSPC, true) < 0)
            return;
        for (unsigned i = 0; !queued && i < b->n_parts; i++)
            if (b->parts[i].seq == seq && b->parts[i].rc == 0)
                b->parts[i].rc = PART_GONE; /* freed with its segment */
        r->full_quiet++;
        if (log_due(&r->full_log_ns)) {
            pt_log(PT_LOG_WARN,
                   "ring: %s: %s: the oldest segment recycled early (%llu times since the last "
                   "message)",
                   r->cfg.dir, b->rc == PT_E_FULL ? "index map full" : "disk full",
                   (unsigned long long)r->full_quiet);
            r->full_quiet = 0;
        }
        uint64_t t0 = pt_now_ns();
        b->rc = ring_index_commit(&r->ix, b->parts, b->n_parts, &b->st, b->ifn, b->n_if, &b->put);
        b->txn_ns += pt_now_ns() - t0;
    }
}

/* The closer's answer to @b (closer.c DESIGN 2, 3). */
static void batch_answer(struct pt_ring *r, struct ring_batch *b)
{
    keyer_sync(r); /* part_committed() and part_failed() change the key maps */
    r->flight = NULL;
    for (unsigned i = 0; i < b->n_drops; i++) {
        if (b->drop_rc[i] < 0) {
            index_failed(r, b->drop_rc[i], "delete of a recycled segment");
            (void)drops_push(r, b->drops[i]); /* tried again with the next batch */
        }
    }
    for (unsigned i = 0; i < b->n_parts; i++)
        b->parts[i].seg->in_flight = false;
    commit_retry(r, b);
    r->answer_rc = b->rc;
    PT_CNT_ADD(r->run.index_keys_put, b->put);
    PT_CNT_ADD(r->run.index_txn_ns, b->txn_ns);
    if (b->txn_ns > PT_CNT_GET(r->run.index_txn_max_ns))
        __atomic_store_n(&r->run.index_txn_max_ns, b->txn_ns, __ATOMIC_RELAXED);
    for (unsigned i = 0; i < b->n_parts; i++) {
        const struct ring_part *p = &b->parts[i];
        struct ring_seg *s = p->seg;
        if (p->rc == PART_GONE)
            continue;
        if (p->rc < 0 && r->answer_rc == 0)
            r->answer_rc = p->rc;
        if (p->rc < 0) { /* not synced, so not committed: given up (DESIGN 4) */
            s->rec_dirty = true;
            seg_rollback(r, s, p->rc, "syncing");
            if (s->closed && !s->c_blocks)
                seg_forget(r, s);
        } else if (b->rc < 0) {
            part_failed(p);
        } else {
            part_committed(r, p);
        }
    }
    if (b->rc == 0) {
        PT_CNT_INC(r->run.index_commits);
        stats_sum(r, &r->committed);
        r->any_commit = true;
    } else {
        ifn_untake(r, b->ifn, b->n_if);
        commit_failed(r, b->rc);
    }
    for (struct ring_seg **pp = &r->done; *pp;) { /* closed and committed: done with */
        struct ring_seg *s = *pp;
        if (!s->in_flight && !seg_pending(s)) {
            *pp = s->next;
            seg_free(s);
        } else {
            pp = &s->next;
        }
    }
    ring_batch_free(b);
}

/* Take the answer to the batch in flight, waiting for it. */
static void flight_wait(struct pt_ring *r)
{
    if (r->flight)
        batch_answer(r, ring_closer_take(&r->closer, true));
}

/* Build and hand over the next batch (none in flight). */
static void commit_start(struct pt_ring *r, bool force)
{
    struct ring_batch *b;

    r->last_commit = pt_now_ns();
    r->commit_now = false;
    if ((b = batch_build(r, force)) != NULL) {
        r->flight = b;
        ring_closer_submit(&r->closer, b);
    } else if (force) {
        r->answer_rc = -ENOMEM; /* force builds a batch unless memory is short */
    }
}

/* pt_ring_commit() asked for commit @req (DESIGN 5): the chunks handed over
 * before it are written (the caller's drain pass took them), so wait for
 * the open segment's writeback, take the answer in flight, commit
 * everything and wait for that answer too, then wake the callers. */
static void commit_answer(struct pt_ring *r, uint64_t req)
{
    open_push_all(r);
    flight_wait(r);
    commit_start(r, true);
    flight_wait(r);
    pthread_mutex_lock(&r->cmu);
    r->commit_done = req;
    r->commit_rc = r->answer_rc;
    pthread_cond_broadcast(&r->ccv);
    pthread_mutex_unlock(&r->cmu);
}

int pt_ring_commit(struct pt_ring *r)
{
    uint64_t req;
    int rc;

    pthread_mutex_lock(&r->cmu);
    req = __atomic_add_fetch(&r->commit_req, 1, __ATOMIC_RELEASE);
    while (r->commit_done < req)
        pthread_cond_wait(&r->ccv, &r->cmu);
    rc = r->commit_rc;
    pthread_mutex_unlock(&r->cmu);
    return rc;
}

/* Between chunks: take an answer if there is one; start the next batch
 * when one is due and none is in flight. */
static void commit_tick(struct pt_ring *r)
{
    struct ring_batch *b;

    if (r->flight && (b = ring_closer_take(&r->closer, false)) != NULL)
        batch_answer(r, b);
    if (!r->flight && (r->commit_now || pt_now_ns() - r->last_commit >= r->commit_ns))
        commit_start(r, false);
}

/* ---- segments (DESIGN 2) ---- */

static bool space_err(int rc)
{
    return rc == -ENOSPC || rc == -EDQUOT || rc == -EIO;
}

int (*ring_fdatasync)(int fd) = fdatasync;
int (*ring_sync_range)(int fd, off64_t off, off64_t len, unsigned int flags) = sync_file_range;

static void write_failed(struct pt_ring *r, int rc, const char *what, const char *path)
{
    PT_CNT_INC(r->run.write_errors);
    if (!log_due(&r->log_ns)) {
        r->log_quiet++;
        return;
    }
    pt_log(PT_LOG_ERR, "ring: %s %s: %s (%llu write errors, %llu since the last message)", what,
           path, pt_strerror(rc), (unsigned long long)PT_CNT_GET(r->run.write_errors),
           (unsigned long long)r->log_quiet);
    r->log_quiet = 0;
}

/* Write @len bytes of @buf at @off, then @pad zero bytes (at most
 * RING_PAGE); short writes are resumed. */
static int pwrite_pad(int fd, const uint8_t *buf, size_t len, size_t pad, uint64_t off)
{
    static const uint8_t zeros[RING_PAGE];
    struct iovec iov[2] = {{(void *)buf, len}, {(void *)zeros, pad}};
    int n = pad ? 2 : 1, i = 0;

    while (i < n) {
        ssize_t w = pwritev(fd, iov + i, n - i, (off_t)off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (w == 0)
            return -EIO;
        off += (uint64_t)w;
        for (; i < n && (size_t)w >= iov[i].iov_len; i++)
            w -= (ssize_t)iov[i].iov_len;
        if (i < n) {
            iov[i].iov_base = (uint8_t *)iov[i].iov_base + w;
            iov[i].iov_len -= (size_t)w;
        }
    }
    return 0;
}

/* Zero bytes that take a write into a reused file ending at @end on to the
 * next page boundary, within the old bytes (@s->stale): a page written in
 * part, of a file that holds it, is read from the disk first, and that
 * read, once per chunk, cost a rewritten segment a fifth of its rate
 * (docs/PERFORMANCE.md). Past the stale mark the bytes are nobody's. None
 * where the old length is unknown (UINT64_MAX): the zeros could then go
 * past the preallocation. The old length's own last page, when it ends
 * inside one, is read once per segment. */
static size_t stale_pad(const struct ring_seg *s, uint64_t end)
{
    uint64_t to = (end + RING_PAGE - 1) & ~(uint64_t)(RING_PAGE - 1);

    return s->stale != UINT64_MAX && to <= s->stale ? (size_t)(to - end) : 0;
}

/* Preallocate; on a full disk recycle the oldest segment and try once
 * more. EOPNOTSUPP: the filesystem cannot, go on without. */
static int prealloc(struct pt_ring *r, int fd, const char *path)
{
    for (int tries = 0;; tries++) {
        int rc = fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, (off_t)r->cfg.segment_size) < 0 ? -errno : 0;
        if (rc == 0 || rc == -EOPNOTSUPP || rc == -ENOSYS)
            return 0;
        if (rc == -EINTR)
            continue;
        write_failed(r, rc, "preallocating", path);
        if (tries || !space_err(rc) || recycle_oldest(r, true, true) < 0)
            return rc;
    }
}

/* The pcap header; in a reused file, the stale mark after it (format.h). */
static int seg_header(struct ring_seg *s)
{
    uint32_t h[6 + RING_REC_HDR / 4] = {RING_PCAP_MAGIC_NS, 2u | 4u << 16, 0, 0,
                                        s->snaplen,         s->linktype};
    size_t n = s->stale > RING_PCAP_HDR ? sizeof h : RING_PCAP_HDR;

    for (unsigned i = 6; i < PT_ARRAY_LEN(h); i++)
        h[i] = RING_STALE_MARK;
    return pwrite_pad(s->fd, (const uint8_t *)h, n, n > RING_PCAP_HDR ? stale_pad(s, n) : 0, 0);
}

/* The file of a new segment: the recycled one renamed to it (*@stale: its
 * size), else a new one; @s->seq may move past names already taken. */
static int seg_file(struct pt_ring *r, struct ring_seg *s, char *path, size_t len)
{
    struct stat sb;
    bool reused;
    int fd;

    s->seq = r->next_seq++;
    make_room(r, s->seq, &reused);
    ring_seg_path(path, len, r->cfg.dir, s->seq);
    if (reused) {
        s->stale = UINT64_MAX; /* size unknown: mark after every write */
        if ((fd = open(path, O_RDWR | O_CLOEXEC)) < 0)
            return -errno;
        if (fstat(fd, &sb) == 0)
            s->stale = (uint64_t)sb.st_size;
        return fd;
    }
    while ((fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644)) < 0 && errno == EEXIST) {
        s->seq = r->next_seq++;
        ring_seg_path(path, len, r->cfg.dir, s->seq);
    }
    return fd < 0 ? -errno : fd;
}

static int seg_create(struct pt_ring *r, int linktype)
{
    char path[RING_PATH_MAX];
    struct ring_seg *s;
    int rc, fd;

    if (!(s = calloc(1, sizeof *s)))
        return -ENOMEM;
    s->cfd = -1;
    if ((fd = seg_file(r, s, path, sizeof path)) < 0) {
        write_failed(r, fd, s->stale ? "opening" : "creating", path);
        if (s->stale)
            unlink(path); /* no record names it; the queued drop removes the old entries */
        free(s);
        return fd;
    }
    s->fd = fd;
    /* the closer's own open file description: see ring_seg.cfd */
    if ((s->cfd = open(path, O_WRONLY | O_CLOEXEC)) < 0) {
        rc = -errno;
        write_failed(r, rc, "opening", path);
        goto err;
    }
    s->linktype = (uint32_t)linktype;
    s->snaplen = r->cfg.snaplen;
    s->first_ns = UINT64_MAX;
    if ((rc = prealloc(r, fd, path)) < 0)
        goto err;
    if ((rc = seg_header(s)) < 0) {
        write_failed(r, rc, "writing the header of", path);
        goto err;
    }
    if ((rc = segs_append(r, s->seq, r->cfg.segment_size)) < 0)
        goto err;
    s->len = s->c_len = s->pushed = s->started = RING_PCAP_HDR;
    s->c_first_ns = UINT64_MAX;
    r->open = s;
    PT_CNT_INC(r->run.segments_created);
    return 0;

err:
    seg_free(s);
    unlink(path);
    return rc;
}

/* Forget @s, which holds nothing committed (its blocks were given up): no
 * index entry names it, so its file simply goes. */
static void seg_forget(struct pt_ring *r, struct ring_seg *s)
{
    char path[RING_PATH_MAX];

    for (struct ring_seg **pp = &r->done; *pp; pp = &(*pp)->next) {
        if (*pp == s) {
            *pp = s->next;
            break;
        }
    }
    if (r->open == s)
        r->open = NULL;
    ring_seg_path(path, sizeof path, r->cfg.dir, s->seq);
    segs_remove(r, s->seq);
    keyer_sync(r);
    seg_free(s);
    unlink(path);
}

/* Close the open segment (DESIGN 2): no more writes to it. The cut, the
 * sync and the commit that marks it closed go to the closer with the next
 * batch, which starts as soon as none is in flight. */
static void seg_close(struct pt_ring *r)
{
    struct ring_seg *s = r->open, **pp;
    struct ring_segent *e;

    if (!s)
        return;
    open_push_all(r); /* a few MiB: the close then commits every block */
    if (!s->blocks) { /* nothing in it: not part of the ring (not in a batch) */
        seg_forget(r, s);
        return;
    }
    r->open = NULL;
    close(s->fd); /* the writer's; the closer drops the pages through its own */
    s->fd = -1;
    s->closed = true;
    s->close_pending = true;
    s->rec_dirty = true;
    if ((e = segs_find(r, s->seq)) != NULL) {
        r->total -= e->size;
        e->size = s->len;
        r->total += e->size;
    }
    for (pp = &r->done; *pp; pp = &(*pp)->next)
        ;
    *pp = s;
    r->commit_now = true;
}

/* Wait for the writeback of @s up to @upto and drop those pages from the
 * page cache (DESIGN 2c). Returns 0, or -errno when that writeback failed
 * (the pages may never reach the disk). */
static int push_wait(struct ring_seg *s, uint64_t upto)
{
    if (upto <= s->pushed)
        return 0;
    if (ring_sync_range(s->fd, (off64_t)s->pushed, (off64_t)(upto - s->pushed),
                        SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
                            SYNC_FILE_RANGE_WAIT_AFTER) < 0 &&
        errno != EINTR)
        return -errno;
    (void)posix_fadvise(s->fd, (off_t)s->pushed, (off_t)(upto - s->pushed), POSIX_FADV_DONTNEED);
    s->pushed = upto;
    if (s->started < upto)
        s->started = upto;
    return 0;
}

/* @s grew to @end: start writeback of what was written since the last
 * start once that is PUSH_BATCH, and wait for what lies more than PUSH_LAG
 * behind: the disk has several MiB in flight while the writer writes the
 * next chunks. Starting it chunk by chunk (1 MiB) made a new file's
 * writeback slower: each run of it becomes its own unwritten-extent
 * conversion when it completes (docs/PERFORMANCE.md, "Writeback in runs"). */
static int push_out(struct ring_seg *s, uint64_t end)
{
    if (end - s->started >= PUSH_BATCH) {
        if (ring_sync_range(s->fd, (off64_t)s->started, (off64_t)(end - s->started),
                            SYNC_FILE_RANGE_WRITE) < 0 &&
            errno == EIO)
            return -EIO;
        s->started = end;
    }
    return end > PUSH_LAG ? push_wait(s, end - PUSH_LAG) : 0;
}

/* Writeback of @s failed (DESIGN 4): what its file holds past the last
 * commit may never reach the disk. The uncommitted blocks are given up:
 * counted as lost_io, cut from the segment's length and from the key map,
 * so the index never names them; the next chunk is written over them. What
 * a commit already named stays (with sync, every commit follows an
 * fdatasync that succeeded). A batch in flight may commit some of them: its
 * answer comes first. */
static void seg_rollback(struct pt_ring *r, struct ring_seg *s, int rc, const char *what)
{
    char path[RING_PATH_MAX];
    struct ring_segent *e;

    if (s->in_flight)
        flight_wait(r);
    keyer_sync(r);
    ring_seg_path(path, sizeof path, r->cfg.dir, s->seq);
    write_failed(r, rc, what, path);
    degrade(r, rc);
    if (s->blocks == s->c_blocks)
        return;
    PT_CNT_ADD(r->run.lost_io_pkts, s->packets - s->c_packets);
    PT_CNT_ADD(r->run.lost_io_bytes, s->bytes - s->c_bytes);
    s->len = s->c_len;
    s->blocks = s->c_blocks;
    s->packets = s->c_packets;
    s->bytes = s->c_bytes;
    s->wire = s->c_wire;
    s->first_ns = s->c_first_ns;
    s->last_ns = s->c_last_ns;
    s->n_pend = 0;
    if (s->pushed > s->len)
        s->pushed = s->len;
    if (s->started > s->len)
        s->started = s->len;
    ring_keys_truncate(&s->keys, s->blocks);
    if (s->closed && (e = segs_find(r, s->seq)) != NULL) {
        r->total -= e->size;
        e->size = s->len;
        r->total += e->size;
    }
}

/* Room for @n more pending blocks. */
static int pend_reserve(struct ring_seg *s, uint32_t n)
{
    if (s->n_pend + n > s->cap_pend) {
        uint32_t cap = s->cap_pend ? s->cap_pend : 64;
        while (cap < s->n_pend + n)
            cap *= 2;
        struct ring_blk_pend *v = realloc(s->pend, cap * sizeof *v);
        if (!v)
            return -ENOMEM;
        s->pend = v;
        s->cap_pend = cap;
    }
    return 0;
}

/* Records [@off, @off + @len) of chunk @c, written at @foff: block
 * s->blocks of @s, listed in @c for the keyer. */
static void block_one(struct ring_seg *s, struct ring_chunk *c, uint32_t off, uint32_t len,
                      uint64_t foff, uint16_t producer)
{
    struct ring_blk_pend *b = &s->pend[s->n_pend++];

    memset(b, 0, sizeof *b);
    b->no = s->blocks++;
    b->rec.off = foff;
    b->rec.first_ns = UINT64_MAX;
    b->rec.len = len;
    b->rec.iface = c->iface;
    b->rec.producer = producer;
    b->rec.parts = 1;
    for (uint32_t o = off; o < off + len;) {
        uint32_t h[4];
        memcpy(h, c->buf + o, sizeof h);
        uint64_t ts = (uint64_t)h[0] * NSEC + h[1];
        /* format.h "Parts": parts up to this record's begin where it is */
        while (b->rec.parts <= (o - off) / RING_PART_SIZE && b->rec.parts < RING_PARTS)
            b->part_off[b->rec.parts++ - 1] = o - off;
        b->rec.first_ns = ts < b->rec.first_ns ? ts : b->rec.first_ns;
        b->rec.last_ns = ts > b->rec.last_ns ? ts : b->rec.last_ns;
        b->rec.packets++;
        b->wire += h[3];
        o += RING_REC_HDR + h[2];
    }
    c->blk[c->k_n++] = (struct ring_chunk_blk){.off = off, .len = len, .no = b->no};
}

/* Chunk @c, just written at the segment's end, becomes blocks of at most
 * BLOCK_MAX bytes cut at record boundaries: extraction reads a block
 * whole, so finer blocks read fewer bytes for a rare host or flow. */
static void block_add(struct ring_seg *s, struct ring_chunk *c, uint16_t producer)
{
    uint32_t start = 0, o = 0;

    while (o < c->len) {
        uint32_t caplen;
        memcpy(&caplen, c->buf + o + 8, sizeof caplen);
        uint32_t next = o + RING_REC_HDR + caplen;
        if (next - start > BLOCK_MAX && o > start) { /* the record does not fit: cut before it */
            block_one(s, c, start, o - start, s->len + start, producer);
            start = o;
        }
        o = next;
    }
    if (o > start)
        block_one(s, c, start, o - start, s->len + start, producer);
    c->k_map = &s->keys;
    s->len += c->len;
    s->packets += c->packets;
    s->bytes += c->len;
    s->wire += c->wire;
    s->first_ns = c->first_ns < s->first_ns ? c->first_ns : s->first_ns;
    s->last_ns = c->last_ns > s->last_ns ? c->last_ns : s->last_ns;
    s->rec_dirty = true;
}

/* A chunk dropped: @rc the failure, 0 when dropped untried (degraded, the
 * last failure less than RETRY_NS ago: that failure keeps its time). */
static void degrade(struct pt_ring *r, int rc)
{
    r->fail_ns = pt_now_ns();
    if (!__atomic_load_n(&r->run.degraded, __ATOMIC_RELAXED))
        pt_log(PT_LOG_ERR, "ring: %s: degraded, dropping packets: %s", r->cfg.dir, pt_strerror(rc));
    set_degraded(r, true);
}

static void chunk_lost(struct pt_ring *r, const struct ring_chunk *c, int rc)
{
    PT_CNT_ADD(r->run.lost_io_pkts, c->packets);
    PT_CNT_ADD(r->run.lost_io_bytes, c->len);
    if (rc)
        degrade(r, rc);
}

/* One chunk becomes one block of the open segment (DESIGN 2, 4). */
static void chunk_write(struct pt_ring *r, const struct pt_ring_prod *p, struct ring_chunk *c)
{
    char path[RING_PATH_MAX];
    struct ring_seg *s = r->open;
    uint32_t len;
    size_t pad;
    int rc;

    c->k_map = NULL; /* nothing for the keyer unless written */
    c->k_n = 0;
    if (!c->packets)
        return;
    if (r->run.degraded && pt_now_ns() - r->fail_ns < RETRY_NS) {
        chunk_lost(r, c, 0);
        return;
    }
    if (s && (s->linktype != (uint32_t)c->linktype || s->len + c->len > r->cfg.segment_size)) {
        seg_close(r);
        s = NULL;
    }
    if (!s) {
        if ((rc = seg_create(r, c->linktype)) < 0) {
            chunk_lost(r, c, rc);
            return;
        }
        s = r->open;
    }
    if ((rc = pend_reserve(s, blocks_max(c->len))) < 0) {
        chunk_lost(r, c, rc);
        return;
    }
    len = c->len;
    pad = 0;
    if (s->len + len < s->stale) { /* a reused file: the old bytes follow (format.h) */
        static const uint32_t mark[RING_REC_HDR / 4] = {RING_STALE_MARK, RING_STALE_MARK,
                                                        RING_STALE_MARK, RING_STALE_MARK};
        memcpy(c->buf + len, mark, sizeof mark);
        len += RING_REC_HDR;
        pad = stale_pad(s, s->len + len);
    }
    rc = pwrite_pad(s->fd, c->buf, len, pad, s->len);
    if (rc < 0) {
        ring_seg_path(path, sizeof path, r->cfg.dir, s->seq);
        write_failed(r, rc, "writing", path);
        if (space_err(rc) && recycle_oldest(r, true, true) == 0 &&
            (rc = pwrite_pad(s->fd, c->buf, len, pad, s->len)) < 0)
            write_failed(r, rc, "writing", path);
    }
    if (rc < 0) {
        chunk_lost(r, c, rc);
        seg_close(r); /* cut to what is good; writing resumes in a new one */
        return;
    }
    block_add(s, c, p->id);
    if ((rc = push_out(s, s->len)) < 0) {
        seg_rollback(r, s, rc, "writeback of");
        c->k_n = 0; /* its blocks are given up: nothing to key */
        return;
    }
    if (r->run.degraded) {
        set_degraded(r, false);
        pt_log(PT_LOG_INFO, "ring: %s: writing again", r->cfg.dir);
    }
}

/* ---- the writer thread ---- */

/* Wait for the open segment's writeback to its end; a failure gives up
 * what no commit named. */
static void open_push_all(struct pt_ring *r)
{
    struct ring_seg *s = r->open;
    int rc;

    if (s && (rc = push_wait(s, s->len)) < 0)
        seg_rollback(r, s, rc, "writeback of");
}

static unsigned drain(struct pt_ring *r)
{
    unsigned n = 0;

    for (unsigned i = 0; i < r->nprod; i++) {
        struct pt_ring_prod *p = r->prod[i];
        struct ring_chunk *c;

        for (unsigned k = 0; k < p->full.cap && (c = ring_spsc_pop(&p->full)) != NULL; k++) {
            chunk_write(r, p, c);
            ring_keyer_submit(&r->keyer, c); /* it gives the chunk back */
            n++;
            commit_tick(r);
        }
    }
    return n;
}

static void *writer_main(void *arg)
{
    struct pt_ring *r = arg;
    const struct timespec idle = {0, IDLE_SLEEP_NS};

    r->last_commit = pt_now_ns();
    for (;;) {
        bool stop = __atomic_load_n(&r->stop, __ATOMIC_ACQUIRE);
        /* read before the drain: a pass takes every chunk queued when it
         * starts (a queue holds at most cap), so after it the chunks handed
         * over before a pt_ring_commit() are written */
        uint64_t req = __atomic_load_n(&r->commit_req, __ATOMIC_ACQUIRE);
        unsigned n = drain(r);

        if (req != r->commit_done)
            commit_answer(r, req);
        if (!n && r->open && r->open->pushed < r->open->len)
            open_push_all(r); /* idle: let the next commit name everything */
        commit_tick(r);
        if (stop && !n)
            break;
        if (!n)
            nanosleep(&idle, NULL);
    }
    seg_close(r);
    flight_wait(r);
    commit_start(r, true);
    flight_wait(r);
    if (r->done || r->n_drops || r->commit_now) { /* a commit failed: try once more */
        commit_start(r, true);
        flight_wait(r);
    }
    pthread_mutex_lock(&r->cmu); /* a request after the last pass: answered by the end */
    r->commit_done = __atomic_load_n(&r->commit_req, __ATOMIC_ACQUIRE);
    r->commit_rc = r->answer_rc;
    pthread_cond_broadcast(&r->ccv);
    pthread_mutex_unlock(&r->cmu);
    return NULL;
}

/* ---- open and close ---- */

static int mkdir_p(const char *dir)
{
    char p[PATH_MAX];
    size_t n = strlen(dir);

    if (n >= sizeof p)
        return -ENAMETOOLONG;
    memcpy(p, dir, n + 1);
    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(p, 0755) < 0 && errno != EEXIST)
            return -errno;
        *s = '/';
    }
    if (mkdir(p, 0755) < 0 && errno != EEXIST)
        return -errno;
    return 0;
}

static int lock_take(struct pt_ring *r, char *msg, size_t msglen)
{
    char path[RING_PATH_MAX];
    int rc;

    snprintf(path, sizeof path, "%s/writer.lock", r->cfg.dir);
    if ((r->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644)) < 0) {
        rc = -errno;
        snprintf(msg, msglen, "%s: %s", path, strerror(-rc));
        return rc;
    }
    while (flock(r->lock_fd, LOCK_EX | LOCK_NB) < 0) {
        if (errno == EINTR)
            continue;
        rc = errno == EWOULDBLOCK ? -EBUSY : -errno;
        snprintf(msg, msglen, "%s: %s", path,
                 rc == -EBUSY ? "another writer has this ring open" : strerror(-rc));
        close(r->lock_fd);
        r->lock_fd = -1;
        return rc;
    }
    return 0;
}

static void ring_free(struct pt_ring *r)
{
    ring_keyer_stop(&r->keyer); /* it gives chunks back: before they go */
    if (r->prod)
        for (unsigned i = 0; i < r->nprod; i++)
            prod_destroy(r->prod[i]);
    free(r->prod);
    ring_closer_stop(&r->closer);
    ring_index_close(&r->ix);
    if (r->lock_fd >= 0)
        close(r->lock_fd);
    seg_free(r->open);
    while (r->done) {
        struct ring_seg *s = r->done;
        r->done = s->next;
        seg_free(s);
    }
    free(r->segs);
    free(r->drops);
    free(r->ifn);
    pthread_mutex_destroy(&r->iflock);
    pthread_cond_destroy(&r->ccv);
    pthread_mutex_destroy(&r->cmu);
    free(r);
}

struct pt_ring *pt_ring_open(const struct pt_ring_config *c, unsigned producers, int *err,
                             char *msg, size_t msglen)
{
    struct pt_ring *r;
    uint64_t cut = 0;
    int rc;

    if (msglen)
        msg[0] = '\0';
    if ((rc = config_check(c, producers, msg, msglen)) < 0)
        goto err_out;
    if (!(r = calloc(1, sizeof *r))) {
        rc = -ENOMEM;
        goto err_out;
    }
    r->cfg = *c;
    r->lock_fd = -1;
    r->commit_ns = (uint64_t)c->commit_ms * 1000000ull;
    pthread_mutex_init(&r->iflock, NULL);
    pthread_mutex_init(&r->cmu, NULL);
    pthread_cond_init(&r->ccv, NULL);
    if ((rc = mkdir_p(c->dir)) < 0) {
        snprintf(msg, msglen, "%s: %s", c->dir, strerror(-rc));
        goto err_free;
    }
    if ((rc = lock_take(r, msg, msglen)) < 0)
        goto err_free;
    if ((rc = ring_index_open(&r->ix, c->dir, c, &r->base, msg, msglen)) < 0)
        goto err_free;
    if ((rc = ring_index_reconcile(&r->ix, c->dir, &r->segs, &r->n_segs, &r->next_seq, &cut, msg,
                                   msglen)) < 0)
        goto err_free;
    r->cap_segs = r->n_segs;
    for (size_t i = 0; i < r->n_segs; i++)
        r->total += r->segs[i].size;
    r->run.reconciled_bytes = cut;
    rc = -ENOMEM;
    if (!(r->prod = calloc(producers, sizeof *r->prod)))
        goto err_free;
    r->nprod = producers;
    for (unsigned i = 0; i < producers; i++)
        if (!(r->prod[i] = prod_create(c, (uint16_t)i)))
            goto err_free;
    if ((rc = ring_keyer_start(&r->keyer, producers * c->chunks)) < 0) {
        snprintf(msg, msglen, "ring: starting the keyer thread: %s", strerror(-rc));
        goto err_free;
    }
    if ((rc = ring_closer_start(&r->closer, &r->ix, r->cfg.dir)) < 0) {
        snprintf(msg, msglen, "ring: starting the closer thread: %s", strerror(-rc));
        goto err_free;
    }
    if ((rc = -pthread_create(&r->thread, NULL, writer_main, r)) < 0) {
        snprintf(msg, msglen, "ring: starting the writer thread: %s", strerror(-rc));
        goto err_free;
    }
    r->started = true;
    pt_log(PT_LOG_INFO,
           "ring: %s: %zu segments (%llu MiB), next seq %llu; bound %llu MiB, segment %llu MiB, "
           "keep free %u%%, snaplen %u, %u producers x %u chunks of %u KiB, commit %u ms%s",
           c->dir, r->n_segs, (unsigned long long)(r->total >> 20), (unsigned long long)r->next_seq,
           (unsigned long long)(c->ring_size >> 20), (unsigned long long)(c->segment_size >> 20),
           c->keep_free_pct, c->snaplen, producers, c->chunks, c->chunk_size >> 10, c->commit_ms,
           c->sync ? ", sync" : "");
    if (c->flow_cutoff)
        pt_log(PT_LOG_INFO,
               "ring: per-flow cutoff %llu bytes, %u flows tracked per producer, idle reset %llu s",
               (unsigned long long)c->flow_cutoff, c->cutoff_flows,
               (unsigned long long)(c->cutoff_idle_ns / NSEC));
    return r;

err_free:
    if (rc == -ENOMEM && msglen && !msg[0])
        snprintf(msg, msglen, "ring: out of memory");
    ring_free(r);
err_out:
    if (err)
        *err = rc;
    return NULL;
}

void pt_ring_close(struct pt_ring *r, struct pt_ring_stats *st)
{
    if (!r) {
        if (st)
            memset(st, 0, sizeof *st);
        return;
    }
    /* The producers have stopped: their last partial chunks go too. */
    for (unsigned i = 0; i < r->nprod; i++)
        if (r->prod[i]->cur && r->prod[i]->cur->packets)
            hand_over(r->prod[i], r->prod[i]->cur);
    __atomic_store_n(&r->stop, true, __ATOMIC_RELEASE);
    if (r->started)
        pthread_join(r->thread, NULL);
    if (st)
        stats_sum(r, st);
    ring_free(r);
}
