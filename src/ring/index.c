/* index.c - the ring index as its writer keeps it: the open segment's
 * in-memory key map, and the LMDB environment (DIR/index): open, reconcile,
 * commit, drop. src/ring/format.h has the layout; writer.c decides when.
 *
 * DESIGN
 * 1. Key map. Each segment the writer has open maps (kind, value) to the
 *    ascending list of the parts of its blocks (format.h "Parts") that hold
 *    a packet with that key. A block is keyed once it is written (by the
 *    keyer thread, keyer.c, which the writer syncs with first): every
 *    record is decoded (pt_decode, zero-copy over the chunk) and each host,
 *    TCP/UDP/SCTP port, VLAN id and flow-key hash of every IP layer adds the
 *    record's part number to its key. Part numbers only grow within a
 *    segment, so "already there" is a look at the list's last entry. A key
 *    that gains a part goes on the map's dirty list. The list's last entry
 *    is kept in the key itself too, so a key already in the part costs the
 *    slot and the entry, not a third miss on its list.
 * 2. One transaction per commit: blocks, keys, segs records, "stats",
 *    interface names, from a batch the writer built. The closer thread runs
 *    it only once the data it names is in the file (fdatasync first with
 *    sync), so the index never names bytes the file does not hold. Keys:
 *    a. open segment: the batch holds the dirty keys only (ring_keys_take()
 *       copies their lists, cut to the blocks the batch commits), and the
 *       txn replaces those keys' values. The work of a commit is what
 *       changed since the last one, whatever the segment holds: a flood of
 *       one-packet flows from spoofed sources puts millions of keys in a
 *       256 MiB segment, and rewriting all of them every second (as the
 *       previous version did) took seconds per commit (docs/PERFORMANCE.md).
 *       A failed txn marks its keys dirty again (the ids in the batch), so
 *       the next commit writes them;
 *    b. closed segment (the batch that closes it, or a retry of it): the
 *       txn deletes the segment's key range and writes its whole map once,
 *       sorted into LMDB's order and put one after the other with
 *       MDB_APPEND while the segment is the last one with keys (the next
 *       segment commits after it, so in practice always), the lists as
 *       varints. The batch borrows the map (a closed segment's keys never
 *       change, and the writer leaves a segment in flight alone); the sort
 *       runs on the closer. Why: lists grown in place split their pages
 *       into half-empty ones, and keys put in hash order do the same; the
 *       index was 0.84-1.4 % of the ring that way, 45 % of its pages empty
 *       space. Appended in order, every page is full. So the open segment's
 *       keys sit in such pages until its close, and a segment left open by
 *       a crash keeps them (reconcile does not rewrite it).
 * 3. Map size, as the store does it (src/store/env.c DESIGN 3): commits run
 *    with the map at most map_soft = map_max minus a headroom (map_max/16,
 *    128 KiB .. 64 MiB), doubling from the initial size; past map_soft a
 *    commit returns PT_E_FULL and the writer recycles the oldest segment.
 *    ring_index_drop() runs with the map at map_max, so the deletions that
 *    make room always find pages to copy into. mdb_env_set_mapsize() needs
 *    no txn of this process open: one thread at a time uses the env (the
 *    closer, or the writer while no batch is in flight).
 * 4. Reconcile (open, before the writer thread starts), one transaction:
 *    a. each segs record: the file missing (or shorter than valid_len, which
 *       only damage does) -> the record and its blocks and keys go; longer
 *       -> cut to valid_len (counted) and its preallocation released; not
 *       closed -> marked closed (a new run never appends to an old segment);
 *    b. blocks and keys of a seq without a segs record go (walked one seq at
 *       a time with MDB_SET_RANGE, so the cost is per segment, not per entry);
 *    c. after the commit, segment files without a record are deleted (after,
 *       so a crash in between leaves only files the next open deletes).
 *    The body only cuts files down to lengths the index names, so running it
 *    again after MDB_MAP_FULL is harmless. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

#define MIB      (1024ull * 1024ull)
#define MAP_INIT (8ull * MIB)
#define META_IFK "iface"

/* ---- small helpers ---- */

static void be64_put(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static void be32_put(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint64_t be64_get(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

static MDB_val mval(const void *p, size_t n)
{
    MDB_val v = {.mv_size = n, .mv_data = (void *)p};
    return v;
}

int ring_mdb_err(int rc)
{
    switch (rc) {
    case 0:
        return 0;
    case MDB_NOTFOUND:
        return -ENOENT;
    case MDB_MAP_FULL:
        return PT_E_FULL;
    case MDB_INVALID:
    case MDB_VERSION_MISMATCH:
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
    case MDB_INCOMPATIBLE:
        return PT_E_BADFILE;
    case MDB_TXN_FULL:
    case MDB_CURSOR_FULL:
    case MDB_PAGE_FULL:
        return -E2BIG;
    case MDB_READERS_FULL:
        return -EBUSY;
    default: /* the other LMDB codes; an errno; already one of ours */
        if (rc >= MDB_KEYEXIST && rc <= MDB_LAST_ERRCODE)
            return -EIO;
        return rc > 0 ? -rc : rc;
    }
}

void ring_seg_path(char *buf, size_t len, const char *dir, uint64_t seq)
{
    char name[32];

    snprintf(name, sizeof name, RING_SEG_NAME_FMT, (unsigned long long)seq);
    snprintf(buf, len, "%s/%s", dir, name);
}

/* ---- key map (DESIGN 1) ---- */

/* Slot hash of a key (in memory only: the index stores keys, not this).
 * Ports and IPv4 hosts, most keys, are read as one word. */
static uint64_t key_hash(uint8_t kind, const uint8_t *val, uint8_t vlen)
{
    uint64_t lo = 0, hi = (uint64_t)vlen << 8 | kind;

    if (vlen == 2) {
        lo = (uint64_t)val[0] << 8 | val[1];
    } else if (vlen == 4) {
        uint32_t v;
        memcpy(&v, val, 4);
        lo = v;
    } else {
        uint8_t b[16] = {0};
        memcpy(b, val, vlen < 16 ? vlen : 16);
        memcpy(&lo, b, 8);
        uint64_t t;
        memcpy(&t, b + 8, 8);
        hi ^= t;
    }
    /* the final mix matters: the fold alone leaves close values close
     * (linear probing then runs long on sequential ports) */
    return pt_hash_words(lo, hi);
}

static int km_rehash(struct ring_keymap *m, uint32_t nslot)
{
    uint32_t *slot = calloc(nslot, sizeof *slot);

    if (!slot)
        return -ENOMEM;
    for (uint32_t i = 0; i < m->n; i++) {
        const struct ring_key *e = &m->ent[i];
        uint32_t j = (uint32_t)key_hash(e->kind, e->val, e->vlen) & (nslot - 1);
        while (slot[j])
            j = (j + 1) & (nslot - 1);
        slot[j] = i + 1;
    }
    free(m->slot);
    m->slot = slot;
    m->nslot = nslot;
    return 0;
}

/* Key values of @vlen bytes; ports and IPv4 hosts without a call. */
static inline bool val_eq(const uint8_t *a, const uint8_t *b, uint8_t vlen)
{
    uint32_t x, y;

    switch (vlen) {
    case 2:
        return a[0] == b[0] && a[1] == b[1];
    case 4:
        memcpy(&x, a, 4);
        memcpy(&y, b, 4);
        return x == y;
    default:
        return !memcmp(a, b, vlen);
    }
}

/* The entry of (kind, value), created empty when absent. NULL: no memory. */
static struct ring_key *km_get(struct ring_keymap *m, uint8_t kind, const uint8_t *val,
                               uint8_t vlen)
{
    struct ring_key *e;
    uint32_t j;

    if (m->n == m->cap) {
        uint32_t cap = m->cap ? m->cap * 2 : 256, *d;
        if (!(e = realloc(m->ent, cap * sizeof *e)))
            return NULL;
        m->ent = e; /* cap grows once both have room */
        if (!(d = realloc(m->dirty, cap * sizeof *d)))
            return NULL;
        m->dirty = d;
        m->cap = cap;
    }
    if (2 * (uint64_t)(m->n + 1) > m->nslot &&
        km_rehash(m, m->nslot ? m->nslot * 2 : 2 * m->cap) < 0)
        return NULL;
    for (j = (uint32_t)key_hash(kind, val, vlen) & (m->nslot - 1); m->slot[j];
         j = (j + 1) & (m->nslot - 1)) {
        e = &m->ent[m->slot[j] - 1];
        if (e->kind == kind && e->vlen == vlen && val_eq(e->val, val, vlen))
            return e;
    }
    e = &m->ent[m->n];
    memset(e, 0, sizeof *e);
    e->kind = kind;
    e->vlen = vlen;
    memcpy(e->val, val, vlen);
    m->slot[j] = ++m->n;
    return e;
}

static void km_add(struct ring_keymap *m, uint8_t kind, const uint8_t *val, uint8_t vlen,
                   uint32_t bno)
{
    struct ring_key *e = km_get(m, kind, val, vlen);

    if (!e)
        goto oom;
    if (e->n && e->last == bno) /* e->last: one cache miss less per key */
        return;
    if (e->n == e->cap) {
        uint32_t cap = e->cap ? e->cap * 2 : 4;
        uint32_t *b = realloc(e->blk, cap * sizeof *b);
        if (!b)
            goto oom;
        e->blk = b;
        e->cap = cap;
    }
    e->blk[e->n++] = bno;
    e->last = bno;
    if (!e->dirty) {
        e->dirty = true;
        m->dirty[m->n_dirty++] = (uint32_t)(e - m->ent);
    }
    return;
oom:
    m->oom++;
}

static void km_add16(struct ring_keymap *m, uint8_t kind, uint16_t v, uint32_t bno)
{
    uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};

    km_add(m, kind, b, 2, bno);
}

static bool has_ports(const struct pt_l3 *l)
{
    return (l->flags & PT_L3_L4) && (l->proto == 6 || l->proto == 17 || l->proto == 132);
}

/* Every key of one decoded packet. */
static void pkt_keys(struct ring_keymap *m, const struct pt_pkt *p, uint32_t bno)
{
    if (p->vlan != PT_VLAN_NONE)
        km_add16(m, RING_KEY_VLAN, p->vlan, bno);
    for (unsigned i = 0; i < p->n_l3 && i < PT_MAX_LAYERS; i++) {
        const struct pt_l3 *l = &p->l3[i];
        struct pt_flow_key k;
        bool swapped;
        uint8_t h[4];

        uint8_t a[16];

        km_add(m, RING_KEY_HOST, a, ring_host_key(l->src, a), bno);
        km_add(m, RING_KEY_HOST, a, ring_host_key(l->dst, a), bno);
        if (has_ports(l)) {
            km_add16(m, RING_KEY_PORT, l->sport, bno);
            km_add16(m, RING_KEY_PORT, l->dport, bno);
        }
        for (unsigned j = 0; j < l->n_vlan && j < PT_MAX_VLAN; j++)
            km_add16(m, RING_KEY_VLAN, l->vlan[j], bno);
        if (pt_flow_key_make(&k, l, &swapped)) {
            be32_put(h, pt_flow_hash(&k));
            km_add(m, RING_KEY_FLOW, h, 4, bno);
        }
    }
}

void ring_keys_add_block(struct ring_keymap *m, struct pt_decode_stats *st, const uint8_t *buf,
                         uint32_t len, int linktype, uint16_t iface, uint32_t bno)
{
    struct pt_pkt p;

    memset(&p, 0, sizeof p);
    for (uint32_t off = 0; len - off >= RING_REC_HDR;) {
        uint32_t h[4];

        memcpy(h, buf + off, sizeof h);
        if (h[2] > len - off - RING_REC_HDR)
            break; /* never: chunks hold whole records */
        p.data = buf + off + RING_REC_HDR;
        p.caplen = h[2];
        p.wirelen = h[3];
        p.ts_ns = (uint64_t)h[0] * 1000000000ull + h[1];
        p.linktype = linktype;
        p.iface = iface;
        p.hw_vlan = PT_VLAN_NONE; /* a stripped tag was written back in band */
        pt_decode(&p, st);
        uint32_t part = off / RING_PART_SIZE; /* never past the last: blocks hold 256 KiB */
        pkt_keys(m, &p, bno * RING_PARTS + (part < RING_PARTS ? part : RING_PARTS - 1));
        off += RING_REC_HDR + h[2];
    }
}

/* The number of @e's blocks under @limit (the list is ascending). */
static uint32_t key_upto(const struct ring_key *e, uint32_t limit)
{
    uint32_t n = e->n;

    while (n && e->blk[n - 1] >= limit)
        n--;
    return n;
}

int ring_keys_take(struct ring_keymap *m, uint32_t limit, uint8_t **buf, size_t *len,
                   uint32_t **ids, uint32_t *n)
{
    size_t sz = 0, off = 0;
    uint32_t taken = 0, kept = 0, *v = NULL;
    uint8_t *b = NULL;

    *buf = NULL;
    *ids = NULL;
    *len = 0;
    *n = 0;
    for (uint32_t i = 0; i < m->n_dirty; i++) {
        const struct ring_key *e = &m->ent[m->dirty[i]];
        uint32_t k = key_upto(e, limit);
        sz += k ? 6u + e->vlen + 4ull * k : 0;
        taken += k > 0;
    }
    if (!taken)
        return 0;
    if (!(b = malloc(sz)) || !(v = malloc(taken * sizeof *v))) {
        free(b);
        return -ENOMEM;
    }
    taken = 0;
    for (uint32_t i = 0; i < m->n_dirty; i++) {
        struct ring_key *e = &m->ent[m->dirty[i]];
        uint32_t k = key_upto(e, limit);
        if (k) {
            b[off] = e->kind;
            b[off + 1] = e->vlen;
            memcpy(b + off + 2, &k, 4);
            memcpy(b + off + 6, e->val, e->vlen);
            off += 6u + e->vlen;
            memcpy(b + off, e->blk, 4ull * k);
            off += 4ull * k;
            v[taken++] = m->dirty[i];
        }
        if (k < e->n) /* parts past the limit: a later commit writes them */
            m->dirty[kept++] = m->dirty[i];
        else
            e->dirty = false;
    }
    m->n_dirty = kept;
    *buf = b;
    *len = sz;
    *ids = v;
    *n = taken;
    return 0;
}

void ring_keys_redirty(struct ring_keymap *m, const uint32_t *ids, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        struct ring_key *e;
        if (ids[i] >= m->n || (e = &m->ent[ids[i]])->dirty)
            continue;
        e->dirty = true;
        m->dirty[m->n_dirty++] = ids[i]; /* room for every entry: ring_keymap */
    }
}

void ring_keys_written(struct ring_keymap *m, uint32_t limit)
{
    uint32_t kept = 0;

    for (uint32_t i = 0; i < m->n_dirty; i++) {
        struct ring_key *e = &m->ent[m->dirty[i]];
        if (e->n && e->blk[e->n - 1] >= limit)
            m->dirty[kept++] = m->dirty[i];
        else
            e->dirty = false;
    }
    m->n_dirty = kept;
}

void ring_keys_truncate(struct ring_keymap *m, uint32_t bno)
{
    bno *= RING_PARTS; /* the first part to forget */
    for (uint32_t i = 0; i < m->n; i++) {
        struct ring_key *e = &m->ent[i];
        while (e->n && e->blk[e->n - 1] >= bno)
            e->n--;
        e->last = e->n ? e->blk[e->n - 1] : 0;
        e->dirty = false;
    }
    m->n_dirty = 0;
}

void ring_keys_fini(struct ring_keymap *m)
{
    for (uint32_t i = 0; i < m->n; i++)
        free(m->ent[i].blk);
    free(m->ent);
    free(m->slot);
    free(m->dirty);
    memset(m, 0, sizeof *m);
}

/* ---- transactions and map size (DESIGN 3) ---- */

typedef int (*ix_body_fn)(struct ring_index *ix, MDB_txn *txn, void *arg);

static uint64_t map_size(const struct ring_index *ix)
{
    MDB_envinfo ei;

    mdb_env_info(ix->env, &ei);
    return ei.me_mapsize;
}

/* Double the map, at most to @limit. PT_E_FULL when already there. */
static int map_grow(struct ring_index *ix, uint64_t limit)
{
    uint64_t cur = map_size(ix), n = cur * 2;

    if (cur >= limit)
        return PT_E_FULL;
    n = n > limit ? limit : n;
    pt_log(PT_LOG_INFO, "ring: index map grown to %llu KiB", (unsigned long long)(n >> 10));
    return ring_mdb_err(mdb_env_set_mapsize(ix->env, n));
}

int (*ring_txn_commit)(MDB_txn *txn) = mdb_txn_commit;

/* Run @body in one write txn; on MDB_MAP_FULL grow the map up to @limit and
 * run it again. @body returns an LMDB code or a negative error. */
static int ix_run(struct ring_index *ix, ix_body_fn body, void *arg, uint64_t limit)
{
    for (;;) {
        MDB_txn *txn;
        int rc = mdb_txn_begin(ix->env, NULL, 0, &txn);

        if (rc)
            return ring_mdb_err(rc);
        if ((rc = body(ix, txn, arg)) == 0)
            rc = ring_txn_commit(txn);
        else
            mdb_txn_abort(txn);
        if (rc != MDB_MAP_FULL && rc != PT_E_FULL)
            return ring_mdb_err(rc);
        if ((rc = map_grow(ix, limit)) < 0)
            return rc;
    }
}

/* Delete every entry of @dbi whose key starts with the 8 bytes @pre. */
static int del_prefix(MDB_txn *txn, MDB_dbi dbi, const uint8_t pre[8])
{
    MDB_cursor *c;
    MDB_val k = mval(pre, 8), d;
    int rc;

    if ((rc = mdb_cursor_open(txn, dbi, &c)) != 0)
        return rc;
    for (rc = mdb_cursor_get(c, &k, &d, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(c, &k, &d, MDB_NEXT)) {
        if (k.mv_size < 8 || memcmp(k.mv_data, pre, 8) != 0)
            break;
        if ((rc = mdb_cursor_del(c, 0)) != 0)
            break;
    }
    mdb_cursor_close(c);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* A segment's segs record, blocks and keys. */
static int drop_seq(struct ring_index *ix, MDB_txn *txn, uint64_t seq)
{
    uint8_t kb[8];
    MDB_val k = mval(kb, 8);
    int rc;

    be64_put(kb, seq);
    rc = mdb_del(txn, ix->segs, &k, NULL);
    if (rc && rc != MDB_NOTFOUND)
        return rc;
    if ((rc = del_prefix(txn, ix->blocks, kb)) != 0)
        return rc;
    return del_prefix(txn, ix->keys, kb);
}

static int drop_body(struct ring_index *ix, MDB_txn *txn, void *arg)
{
    return drop_seq(ix, txn, *(const uint64_t *)arg);
}

/* A txn that changes nothing but commits: LMDB reuses the pages a txn
 * frees only from the txn after next, so this one makes the drop's pages
 * available to the commit that follows. */
static int bump_body(struct ring_index *ix, MDB_txn *txn, void *arg)
{
    uint8_t vb[4];
    MDB_val k = mval("version", 7), d = mval(vb, 4);

    (void)arg;
    be32_put(vb, RING_INDEX_VERSION);
    return mdb_put(txn, ix->meta, &k, &d, 0);
}

int ring_index_drop(struct ring_index *ix, uint64_t seq)
{
    int rc, rc2;

    if ((rc = ring_mdb_err(mdb_env_set_mapsize(ix->env, ix->map_max))) < 0)
        return rc;
    rc = ix_run(ix, drop_body, &seq, ix->map_max);
    if (rc == 0)
        (void)ix_run(ix, bump_body, NULL, ix->map_max);
    /* back to the soft limit (LMDB keeps it at least the size in use) */
    if (map_size(ix) > ix->map_soft &&
        (rc2 = ring_mdb_err(mdb_env_set_mapsize(ix->env, ix->map_soft))) < 0 && !rc)
        rc = rc2;
    return rc;
}

/* ---- commit (DESIGN 2) ---- */

/* A part's keys in LMDB's order: entries of its ring_keys_take() buffer,
 * or, for a closed segment, the map's keys that list a part under the
 * limit. */
struct part_keys {
    const uint8_t **order;
    const struct ring_key **all;
    uint32_t n_all;
};

struct commit_arg {
    const struct ring_part *parts;
    unsigned n;
    const struct pt_ring_stats *st;
    const struct ring_ifname *ifn;
    unsigned n_if;
    struct part_keys *pk; /* per part: its keys in key order */
};

/* Two entries of ring_keys_take()'s format in LMDB's order of their keys
 * (seq, kind, value): mdb_cmp_memn, memcmp then the shorter first. */
static int key_cmp(const void *pa, const void *pb)
{
    const uint8_t *a = *(const uint8_t *const *)pa, *b = *(const uint8_t *const *)pb;
    int c;

    if (a[0] != b[0])
        return a[0] < b[0] ? -1 : 1;
    if ((c = memcmp(a + 6, b + 6, a[1] < b[1] ? a[1] : b[1])) != 0)
        return c;
    return (int)a[1] - (int)b[1];
}

/* @p's keys in key order (DESIGN 2): an array of pointers into p->keys,
 * malloc'd; NULL with -ENOMEM in *@rc. */
static const uint8_t **keys_order(const struct ring_part *p, int *rc)
{
    const uint8_t **v = malloc((p->n_keys ? p->n_keys : 1) * sizeof *v);
    size_t off = 0;

    if (!v) {
        *rc = -ENOMEM;
        return NULL;
    }
    for (uint32_t i = 0; i < p->n_keys; i++) {
        uint32_t n;
        v[i] = p->keys + off;
        memcpy(&n, v[i] + 2, 4);
        off += 6u + v[i][1] + 4ull * n;
    }
    qsort(v, p->n_keys, sizeof *v, key_cmp);
    return v;
}

static int rkey_cmp(const void *pa, const void *pb)
{
    const struct ring_key *a = *(const struct ring_key *const *)pa;
    const struct ring_key *b = *(const struct ring_key *const *)pb;
    int c;

    if (a->kind != b->kind)
        return a->kind < b->kind ? -1 : 1;
    if ((c = memcmp(a->val, b->val, a->vlen < b->vlen ? a->vlen : b->vlen)) != 0)
        return c;
    return (int)a->vlen - (int)b->vlen;
}

/* The keys of closed segment @p in key order (DESIGN 2) into @pk: those
 * that list a part under the limit. 0 or -ENOMEM. */
static int map_order(const struct ring_part *p, struct part_keys *pk)
{
    const struct ring_keymap *m = p->all;
    uint32_t n = 0;

    if (!(pk->all = malloc((m->n ? m->n : 1) * sizeof *pk->all)))
        return -ENOMEM;
    for (uint32_t i = 0; i < m->n; i++)
        if (m->ent[i].n && m->ent[i].blk[0] < p->key_limit)
            pk->all[n++] = &m->ent[i];
    qsort(pk->all, n, sizeof *pk->all, rkey_cmp);
    pk->n_all = n;
    return 0;
}

/* The varint list of @n ascending part numbers at @blk (host order,
 * unaligned) into @out, or its size when @out is NULL. */
static size_t list_encode(const uint8_t *blk, uint32_t n, uint8_t *out)
{
    uint32_t prev = 0, b;
    size_t sz = 0;

    for (uint32_t i = 0; i < n; i++) {
        memcpy(&b, blk + 4ull * i, 4);
        uint32_t v = i ? b - prev : b;
        if (out)
            out = ring_varint_put(out, v);
        else
            sz += ring_varint_len(v);
        prev = b;
    }
    return sz;
}

/* One key of segment @seq: its list of @n parts at @blk (host order,
 * maybe unaligned) as varints. */
static int key_put(struct ring_index *ix, MDB_txn *txn, uint64_t seq, uint8_t kind,
                   const uint8_t *val, uint8_t vlen, const uint8_t *blk, uint32_t n,
                   unsigned *flags)
{
    uint8_t kb[8 + 1 + RING_KEY_MAX];
    MDB_val k, d;
    int rc;

    be64_put(kb, seq);
    kb[8] = kind;
    memcpy(kb + 9, val, vlen);
    k = mval(kb, 9u + vlen);
    d = mval(NULL, list_encode(blk, n, NULL));
    rc = mdb_put(txn, ix->keys, &k, &d, *flags | MDB_RESERVE);
    if (rc == MDB_KEYEXIST && *flags) { /* a later segment has keys already */
        *flags = 0;
        rc = mdb_put(txn, ix->keys, &k, &d, MDB_RESERVE);
    }
    if (rc == 0)
        list_encode(blk, n, d.mv_data);
    return rc;
}

/* DESIGN 2: an open segment's dirty keys replace their values; a closed
 * segment's whole map replaces its key range, appended in key order. */
static int keys_put(struct ring_index *ix, MDB_txn *txn, const struct ring_part *p,
                    const struct part_keys *pk)
{
    uint8_t kb[8];
    unsigned flags = 0;
    int rc;

    if (p->all) {
        be64_put(kb, p->seq);
        if ((rc = del_prefix(txn, ix->keys, kb)) != 0)
            return rc;
        flags = MDB_APPEND;
        for (uint32_t i = 0; i < pk->n_all; i++) {
            const struct ring_key *e = pk->all[i];
            uint32_t n = key_upto(e, p->key_limit);
            if ((rc = key_put(ix, txn, p->seq, e->kind, e->val, e->vlen, (const uint8_t *)e->blk, n,
                              &flags)) != 0)
                return rc;
        }
        return 0;
    }
    for (uint32_t i = 0; i < p->n_keys; i++) {
        const uint8_t *e = pk->order[i];
        uint32_t n;
        memcpy(&n, e + 2, 4);
        if ((rc = key_put(ix, txn, p->seq, e[0], e + 6, e[1], e + 6 + e[1], n, &flags)) != 0)
            return rc;
    }
    return 0;
}

static int seg_put(struct ring_index *ix, MDB_txn *txn, const struct ring_part *p,
                   const struct part_keys *pk)
{
    uint8_t kb[8 + 4];
    MDB_val k, d;
    int rc;

    be64_put(kb, p->seq);
    for (uint32_t i = 0; i < p->n_blk; i++) {
        const struct ring_blk_pend *b = &p->blk[i];
        uint8_t v[sizeof b->rec + sizeof b->part_off];
        size_t np = b->rec.parts > 1 ? b->rec.parts - 1 : 0;
        memcpy(v, &b->rec, sizeof b->rec);
        memcpy(v + sizeof b->rec, b->part_off, 4 * np);
        be32_put(kb + 8, b->no);
        k = mval(kb, 12);
        d = mval(v, sizeof b->rec + 4 * np);
        if ((rc = mdb_put(txn, ix->blocks, &k, &d, 0)) != 0)
            return rc;
    }
    if ((p->keys || p->all) && (rc = keys_put(ix, txn, p, pk)) != 0)
        return rc;
    k = mval(kb, 8);
    d = mval(&p->rec, sizeof p->rec);
    return mdb_put(txn, ix->segs, &k, &d, 0);
}

static int commit_body(struct ring_index *ix, MDB_txn *txn, void *arg)
{
    const struct commit_arg *a = arg;
    MDB_val k, d;
    int rc;

    for (unsigned i = 0; i < a->n; i++)
        if (a->parts[i].rc == 0 && (rc = seg_put(ix, txn, &a->parts[i], &a->pk[i])) != 0)
            return rc;
    uint64_t sv[RING_STATS_SLOTS];
    ring_stats_encode(a->st, sv);
    k = mval("stats", 5);
    d = mval(sv, sizeof sv);
    if ((rc = mdb_put(txn, ix->meta, &k, &d, 0)) != 0)
        return rc;
    for (unsigned i = 0; i < a->n_if; i++) {
        uint8_t kb[sizeof META_IFK - 1 + 2];
        if (!a->ifn[i].dirty)
            continue;
        memcpy(kb, META_IFK, sizeof META_IFK - 1);
        kb[sizeof kb - 2] = (uint8_t)(a->ifn[i].iface >> 8);
        kb[sizeof kb - 1] = (uint8_t)a->ifn[i].iface;
        k = mval(kb, sizeof kb);
        d = mval(a->ifn[i].name, strlen(a->ifn[i].name));
        if ((rc = mdb_put(txn, ix->meta, &k, &d, 0)) != 0)
            return rc;
    }
    return 0;
}

int ring_index_commit(struct ring_index *ix, const struct ring_part *parts, unsigned n,
                      const struct pt_ring_stats *st, const struct ring_ifname *ifn, unsigned n_if,
                      uint64_t *put)
{
    struct commit_arg a = {.parts = parts, .n = n, .st = st, .ifn = ifn, .n_if = n_if};
    int rc = 0;

    *put = 0;
    if (n && !(a.pk = calloc(n, sizeof *a.pk)))
        return -ENOMEM;
    for (unsigned i = 0; i < n && rc == 0; i++) {
        if (parts[i].rc != 0)
            continue;
        if (parts[i].all && (rc = map_order(&parts[i], &a.pk[i])) == 0)
            *put += a.pk[i].n_all;
        else if (parts[i].keys && (a.pk[i].order = keys_order(&parts[i], &rc)) != NULL)
            *put += parts[i].n_keys;
    }
    if (rc == 0)
        rc = ix_run(ix, commit_body, &a, ix->map_soft);
    for (unsigned i = 0; i < n; i++) {
        free(a.pk[i].order);
        free(a.pk[i].all);
    }
    free(a.pk);
    return rc;
}

/* ---- open ---- */

struct open_arg {
    struct pt_ring_stats *base;
    char *msg;
    size_t msglen;
    const char *path;
};

static int open_body(struct ring_index *ix, MDB_txn *txn, void *arg)
{
    struct open_arg *a = arg;
    uint8_t vb[4];
    MDB_val k = mval("version", 7), d;
    int rc;

    if ((rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &ix->meta)) != 0 ||
        (rc = mdb_dbi_open(txn, "segs", MDB_CREATE, &ix->segs)) != 0 ||
        (rc = mdb_dbi_open(txn, "blocks", MDB_CREATE, &ix->blocks)) != 0 ||
        (rc = mdb_dbi_open(txn, "keys", MDB_CREATE, &ix->keys)) != 0)
        return rc;
    rc = mdb_get(txn, ix->meta, &k, &d);
    if (rc == 0) {
        const uint8_t *p = d.mv_data;
        uint32_t v = d.mv_size == 4 ? (uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3] : 0;
        if (v != RING_INDEX_VERSION) {
            snprintf(a->msg, a->msglen,
                     "%s: ring index version %u, of an %s build; this program writes version %u "
                     "(move the ring directory away to start a new ring)",
                     a->path, v, v < RING_INDEX_VERSION ? "older" : "newer", RING_INDEX_VERSION);
            return PT_E_BADFILE;
        }
    } else if (rc != MDB_NOTFOUND) {
        return rc;
    }
    be32_put(vb, RING_INDEX_VERSION);
    d = mval(vb, 4);
    if ((rc = mdb_put(txn, ix->meta, &k, &d, 0)) != 0)
        return rc;
    k = mval("stats", 5);
    memset(a->base, 0, sizeof *a->base);
    rc = mdb_get(txn, ix->meta, &k, &d);
    if (rc == 0)
        ring_stats_decode(a->base, d.mv_data, d.mv_size);
    else if (rc != MDB_NOTFOUND)
        return rc;
    return 0;
}

int ring_index_open(struct ring_index *ix, const char *dir, const struct pt_ring_config *c,
                    struct pt_ring_stats *base, char *msg, size_t msglen)
{
    char path[RING_PATH_MAX];
    uint64_t head = c->index_map_max / 16;
    struct open_arg a = {.base = base, .msg = msg, .msglen = msglen, .path = path};
    int rc;

    memset(ix, 0, sizeof *ix);
    head = head < 128 * 1024 ? 128 * 1024 : head > 64 * MIB ? 64 * MIB : head;
    ix->map_max = c->index_map_max;
    ix->map_soft = c->index_map_max - head;
    snprintf(path, sizeof path, "%s/index", dir);
    if (mkdir(path, 0755) < 0 && errno != EEXIST) {
        rc = -errno;
        snprintf(msg, msglen, "%s: %s", path, strerror(-rc));
        return rc;
    }
    if ((rc = mdb_env_create(&ix->env)) != 0)
        goto err;
    if ((rc = mdb_env_set_maxdbs(ix->env, 8)) != 0 ||
        (rc = mdb_env_set_mapsize(ix->env, MAP_INIT < ix->map_soft ? MAP_INIT : ix->map_soft)))
        goto err_env;
    if ((rc = mdb_env_open(ix->env, path, MDB_NOTLS | (c->sync ? 0 : MDB_NOSYNC), 0644)) != 0)
        goto err_env;
    if ((rc = ix_run(ix, open_body, &a, ix->map_soft)) < 0) {
        if (!msg[0])
            snprintf(msg, msglen, "%s: %s", path,
                     rc == PT_E_BADFILE ? "not a ring index" : pt_strerror(rc));
        mdb_env_close(ix->env);
        ix->env = NULL;
        return rc;
    }
    return 0;

err_env:
    mdb_env_close(ix->env);
    ix->env = NULL;
err:
    snprintf(msg, msglen, "%s: %s", path, mdb_strerror(rc));
    return ring_mdb_err(rc);
}

void ring_index_close(struct ring_index *ix)
{
    if (ix->env)
        mdb_env_close(ix->env);
    ix->env = NULL;
}

/* ---- reconcile (DESIGN 4) ---- */

struct rec_arg {
    const char *dir;
    struct ring_segent *list;
    size_t n, cap;
    uint64_t max_seq, cut;
    bool any;
};

static int list_add(struct rec_arg *a, uint64_t seq, uint64_t size)
{
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 64;
        struct ring_segent *l = realloc(a->list, cap * sizeof *l);
        if (!l)
            return -ENOMEM;
        a->list = l;
        a->cap = cap;
    }
    a->list[a->n].seq = seq;
    a->list[a->n++].size = size;
    return 0;
}

static bool list_has(const struct rec_arg *a, uint64_t seq)
{
    size_t lo = 0, hi = a->n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (a->list[mid].seq == seq)
            return true;
        if (a->list[mid].seq < seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

#define PUNCH_LEN (1ull << 40) /* past any preallocation a segment can have */

/* Cut @path to @valid and release what was preallocated past it: the bytes
 * cut, or a negative error. */
static int64_t file_cut(const char *path, uint64_t size, uint64_t valid)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    int64_t rc = (int64_t)(size - valid);

    if (fd < 0)
        return -errno;
    while (ftruncate(fd, (off_t)valid) < 0) {
        if (errno != EINTR) {
            rc = -errno;
            break;
        }
    }
    if (rc >= 0)
        (void)fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)valid,
                        (off_t)PUNCH_LEN);
    close(fd);
    return rc;
}

/* What 4a decided for one segs record. */
struct rec_fix {
    uint64_t seq;
    struct ring_seg_rec r;
    bool keep, put;
};

/* 4a for one record's file: fills @f->keep and @f->put. 0 or -errno. */
static int rec_file(struct rec_arg *a, struct rec_fix *f)
{
    char path[RING_PATH_MAX];
    struct stat sb;
    int64_t cut;

    ring_seg_path(path, sizeof path, a->dir, f->seq);
    if (stat(path, &sb) < 0) {
        if (errno != ENOENT)
            return -errno;
        pt_log(PT_LOG_WARN, "ring: %s is gone: its index entries are removed", path);
        return 0;
    }
    if ((uint64_t)sb.st_size < f->r.valid_len || f->r.valid_len < RING_PCAP_HDR) {
        pt_log(PT_LOG_WARN, "ring: %s holds %llu bytes, its index %llu: removed", path,
               (unsigned long long)sb.st_size, (unsigned long long)f->r.valid_len);
        unlink(path);
        return 0;
    }
    /* an unclosed segment also holds its preallocation past valid_len
     * (FALLOC_FL_KEEP_SIZE): cut and punch it even when the sizes agree */
    if ((uint64_t)sb.st_size > f->r.valid_len || !f->r.closed) {
        if ((cut = file_cut(path, (uint64_t)sb.st_size, f->r.valid_len)) < 0)
            return (int)cut;
        a->cut += (uint64_t)cut;
        pt_log(PT_LOG_INFO, "ring: %s: %lld bytes past the last commit cut off", path,
               (long long)cut);
    }
    f->keep = true;
    if (!f->r.closed) {
        f->r.closed = 1;
        f->put = true;
    }
    return 0;
}

/* 4b: blocks and keys of seqs that have no segs record. */
static int del_stale(MDB_txn *txn, MDB_dbi dbi, const struct rec_arg *a)
{
    MDB_cursor *c;
    uint8_t kb[8];
    uint64_t seq = 0;
    int rc;

    if ((rc = mdb_cursor_open(txn, dbi, &c)) != 0)
        return rc;
    for (;;) {
        MDB_val k = mval(kb, 8), d;
        uint64_t s;

        be64_put(kb, seq);
        if ((rc = mdb_cursor_get(c, &k, &d, MDB_SET_RANGE)) != 0)
            break;
        if (k.mv_size < 8) { /* not ours */
            if ((rc = mdb_cursor_del(c, 0)) != 0)
                break;
            continue;
        }
        s = be64_get(k.mv_data);
        if (!list_has(a, s)) {
            mdb_cursor_close(c);
            be64_put(kb, s);
            if ((rc = del_prefix(txn, dbi, kb)) != 0)
                return rc;
            if ((rc = mdb_cursor_open(txn, dbi, &c)) != 0)
                return rc;
        }
        if (s == UINT64_MAX) {
            rc = MDB_NOTFOUND;
            break;
        }
        seq = s + 1;
    }
    mdb_cursor_close(c);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* Walk segs, deciding each record (4a); the cursor only reads. */
static int rec_walk(struct ring_index *ix, MDB_txn *txn, struct rec_arg *a, struct rec_fix **fx,
                    size_t *nf)
{
    MDB_cursor *c;
    MDB_val k, d;
    size_t cap = 0;
    int rc, rc2 = 0;

    if ((rc = mdb_cursor_open(txn, ix->segs, &c)) != 0)
        return rc;
    for (rc = mdb_cursor_get(c, &k, &d, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &k, &d, MDB_NEXT)) {
        struct rec_fix f = {0};

        if (k.mv_size != 8) { /* not ours */
            if ((rc = mdb_cursor_del(c, 0)) != 0)
                break;
            continue;
        }
        f.seq = be64_get(k.mv_data);
        if (d.mv_size == sizeof f.r) {
            memcpy(&f.r, d.mv_data, sizeof f.r);
            if ((rc2 = rec_file(a, &f)) < 0)
                break;
        } else {
            pt_log(PT_LOG_WARN, "ring: segs record %llu malformed: removed",
                   (unsigned long long)f.seq);
        }
        if (!a->any || f.seq > a->max_seq)
            a->max_seq = f.seq;
        a->any = true;
        if (*nf == cap) {
            size_t ncap = cap ? cap * 2 : 64;
            struct rec_fix *n = realloc(*fx, ncap * sizeof *n);
            if (!n) {
                rc2 = -ENOMEM;
                break;
            }
            *fx = n;
            cap = ncap;
        }
        (*fx)[(*nf)++] = f;
    }
    mdb_cursor_close(c);
    if (rc2 < 0)
        return rc2;
    return rc == MDB_NOTFOUND ? 0 : rc;
}

static int rec_body(struct ring_index *ix, MDB_txn *txn, void *arg)
{
    struct rec_arg *a = arg;
    struct rec_fix *fx = NULL;
    size_t nf = 0;
    int rc;

    a->n = 0;
    a->max_seq = 0;
    a->any = false;
    rc = rec_walk(ix, txn, a, &fx, &nf);
    for (size_t i = 0; rc == 0 && i < nf; i++) {
        const struct rec_fix *f = &fx[i];
        uint8_t kb[8];
        MDB_val k = mval(kb, 8), d = mval(&f->r, sizeof f->r);

        be64_put(kb, f->seq);
        if (!f->keep)
            rc = drop_seq(ix, txn, f->seq);
        else if (!f->put || (rc = mdb_put(txn, ix->segs, &k, &d, 0)) == 0)
            rc = list_add(a, f->seq, f->r.valid_len);
    }
    free(fx);
    if (rc)
        return rc;
    if ((rc = del_stale(txn, ix->blocks, a)) != 0)
        return rc;
    return del_stale(txn, ix->keys, a);
}

/* 4c: files without a record; also the highest seq any file has. */
static int rec_files(struct rec_arg *a)
{
    DIR *dp = opendir(a->dir);
    struct dirent *de;

    if (!dp)
        return -errno;
    while ((de = readdir(dp)) != NULL) {
        unsigned long long seq;
        char tail[8];
        char path[RING_PATH_MAX];

        if (strlen(de->d_name) != 25 || sscanf(de->d_name, "seg-%16llx%5s", &seq, tail) != 2 ||
            strcmp(tail, ".pcap"))
            continue;
        if (!a->any || seq > a->max_seq)
            a->max_seq = seq;
        a->any = true;
        if (list_has(a, seq))
            continue;
        ring_seg_path(path, sizeof path, a->dir, seq);
        if (unlink(path) == 0)
            pt_log(PT_LOG_INFO, "ring: %s has no index record: deleted", path);
    }
    closedir(dp);
    return 0;
}

int ring_index_reconcile(struct ring_index *ix, const char *dir, struct ring_segent **list,
                         size_t *n, uint64_t *next_seq, uint64_t *cut, char *msg, size_t msglen)
{
    struct rec_arg a = {.dir = dir};
    int rc;

    if ((rc = ring_mdb_err(mdb_env_set_mapsize(ix->env, ix->map_max))) == 0)
        rc = ix_run(ix, rec_body, &a, ix->map_max);
    if (map_size(ix) > ix->map_soft)
        mdb_env_set_mapsize(ix->env, ix->map_soft);
    if (rc == 0)
        rc = rec_files(&a);
    if (rc < 0) {
        snprintf(msg, msglen, "%s: reconciling the ring with its index: %s", dir, pt_strerror(rc));
        free(a.list);
        return rc;
    }
    *list = a.list;
    *n = a.n;
    *next_seq = a.any ? a.max_seq + 1 : 1;
    *cut = a.cut;
    return 0;
}
