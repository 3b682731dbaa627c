/* ring_fixture.h - test rings built by hand (test code only; included by
 * tests/ring/test_extract.c).
 *
 * DESIGN: the read side is tested against rings written here directly per
 * src/ring/format.h, not through the writer: segment files (pcap header,
 * then blocks of records, host order) and the index (an LMDB environment in
 * DIR/ring/index with meta, segs, blocks and keys), so these tests also pin
 * the on-disk format. Keys are derived as the writer derives them (every
 * IP layer's addresses, TCP/UDP/SCTP ports, VLAN ids and flow-key hashes of
 * each decoded packet); a test adds extra ones (decoys) with rfx_key().
 * Frames are built by fx_frame(): Ethernet (optionally 802.1Q) or raw IP,
 * IPv4 or IPv6, UDP, TCP or ICMP echo, with a one-byte marker as the first
 * payload byte so a test can tell packets apart in the output. */
#ifndef PT_TEST_RING_FIXTURE_H
#define PT_TEST_RING_FIXTURE_H

#include <criterion/criterion.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lmdb.h>

#include "../../src/ring/format.h"
#include "pt/decode.h"
#include "pt/flow.h"
#include "pt/ring.h"

#define NSEC 1000000000ull
/* 2026-11-23T08:02:00Z */
#define T0   (1795420920ull * NSEC)
#define MS   1000000ull
#define SNAP 65535u

/* ---- frames ---- */

struct fx_pkt {
    uint8_t ver;     /* 4 or 6 */
    uint8_t proto;   /* 6 TCP, 17 UDP, 1/58 ICMP echo */
    uint8_t src[16]; /* v4: ::ffff:a.b.c.d */
    uint8_t dst[16];
    uint16_t sp, dp;  /* ports; ICMP: type (sp) and echo id (dp) */
    uint16_t vlan;    /* PT_VLAN_NONE: untagged (Ethernet only) */
    bool raw;         /* no link header (LINKTYPE_RAW) */
    uint8_t mark;     /* first payload byte */
    uint16_t payload; /* payload bytes, >= 1 */
};

static inline void fx_v4(uint8_t a[16], uint8_t x, uint8_t y, uint8_t z, uint8_t w)
{
    memset(a, 0, 16);
    a[10] = a[11] = 0xff;
    a[12] = x, a[13] = y, a[14] = z, a[15] = w;
}

static inline void fx_v6(uint8_t a[16], uint16_t last)
{
    static const uint8_t pre[14] = {0x20, 0x01, 0x0d, 0xb8};
    memcpy(a, pre, 14);
    a[14] = (uint8_t)(last >> 8), a[15] = (uint8_t)last;
}

static inline uint8_t *fx_be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8), p[1] = (uint8_t)v;
    return p + 2;
}

static inline uint16_t fx_csum(const uint8_t *p, size_t n)
{
    uint32_t s = 0;
    for (size_t i = 0; i + 1 < n; i += 2)
        s += (uint32_t)(p[i] << 8 | p[i + 1]);
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (uint16_t)~s;
}

/* The frame of @k into @buf (>= 128 + payload bytes); returns its length. */
static inline size_t fx_frame(uint8_t *buf, const struct fx_pkt *k)
{
    uint8_t *p = buf, *ip, *l4;
    size_t l4len = (k->proto == 6 ? 20 : 8) + k->payload;

    if (!k->raw) {
        static const uint8_t macs[12] = {2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2};
        memcpy(p, macs, 12);
        p += 12;
        if (k->vlan != PT_VLAN_NONE) {
            p = fx_be16(p, 0x8100);
            p = fx_be16(p, k->vlan);
        }
        p = fx_be16(p, k->ver == 4 ? 0x0800 : 0x86dd);
    }
    ip = p;
    if (k->ver == 4) {
        memset(ip, 0, 20);
        ip[0] = 0x45;
        fx_be16(ip + 2, (uint16_t)(20 + l4len));
        ip[8] = 64;
        ip[9] = k->proto;
        memcpy(ip + 12, k->src + 12, 4);
        memcpy(ip + 16, k->dst + 12, 4);
        fx_be16(ip + 10, fx_csum(ip, 20));
        l4 = ip + 20;
    } else {
        memset(ip, 0, 40);
        ip[0] = 0x60;
        fx_be16(ip + 4, (uint16_t)l4len);
        ip[6] = k->proto;
        ip[7] = 64;
        memcpy(ip + 8, k->src, 16);
        memcpy(ip + 24, k->dst, 16);
        l4 = ip + 40;
    }
    memset(l4, 0, l4len);
    if (k->proto == 6) {
        fx_be16(l4, k->sp);
        fx_be16(l4 + 2, k->dp);
        l4[12] = 5 << 4;
        l4[13] = 0x18; /* PSH ACK */
        fx_be16(l4 + 14, 1000);
        l4[20] = k->mark;
    } else if (k->proto == 17) {
        fx_be16(l4, k->sp);
        fx_be16(l4 + 2, k->dp);
        fx_be16(l4 + 4, (uint16_t)l4len);
        l4[8] = k->mark;
    } else { /* ICMP echo: type sp, id dp */
        l4[0] = (uint8_t)k->sp;
        fx_be16(l4 + 4, k->dp);
        fx_be16(l4 + 6, 1);
        l4[8] = k->mark;
    }
    return (size_t)(l4 - buf) + l4len;
}

/* ---- the ring ---- */

#define RFX_MAX_BLK  64
#define RFX_MAX_KEYS 4096

struct rfx_key {
    uint8_t kind, vlen;
    uint8_t val[16];
    uint32_t blk;
};

struct rfx_seg {
    uint64_t seq;
    uint32_t linktype, snaplen;
    uint8_t *file;
    size_t len, cap;
    struct ring_blk_rec blk[RFX_MAX_BLK];
    uint32_t n_blk;
    bool open_blk; /* blk[n_blk] is being filled */
    struct rfx_key keys[RFX_MAX_KEYS];
    unsigned n_keys;
    struct ring_seg_rec rec;
};

struct rfx {
    char dir[64];  /* the data directory */
    char ring[96]; /* dir/ring */
    char index[112];
    MDB_env *env;
    MDB_dbi meta, segs, blocks, keys;
    struct pt_decode_stats dst;
};

static inline int rfx_rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

static inline void rfx_mdb_ok(int rc, const char *what)
{
    cr_assert_eq(rc, 0, "%s: %s", what, mdb_strerror(rc));
}

/* A new data directory with an empty ring index (version written). */
static inline void rfx_init(struct rfx *f)
{
    MDB_txn *txn;
    MDB_val k = {7, "version"}, d;
    uint8_t v[4] = {0, 0, 0, RING_INDEX_VERSION};

    memset(f, 0, sizeof *f);
    strcpy(f->dir, "/tmp/pt-ring-XXXXXX");
    cr_assert_not_null(mkdtemp(f->dir));
    snprintf(f->ring, sizeof f->ring, "%s/ring", f->dir);
    snprintf(f->index, sizeof f->index, "%s/index", f->ring);
    cr_assert_eq(mkdir(f->ring, 0755), 0);
    cr_assert_eq(mkdir(f->index, 0755), 0);
    rfx_mdb_ok(mdb_env_create(&f->env), "env create");
    rfx_mdb_ok(mdb_env_set_maxdbs(f->env, 8), "maxdbs");
    rfx_mdb_ok(mdb_env_set_mapsize(f->env, 16u << 20), "mapsize");
    rfx_mdb_ok(mdb_env_open(f->env, f->index, MDB_NOSYNC, 0644), "env open");
    rfx_mdb_ok(mdb_txn_begin(f->env, NULL, 0, &txn), "txn");
    rfx_mdb_ok(mdb_dbi_open(txn, "meta", MDB_CREATE, &f->meta), "meta");
    rfx_mdb_ok(mdb_dbi_open(txn, "segs", MDB_CREATE, &f->segs), "segs");
    rfx_mdb_ok(mdb_dbi_open(txn, "blocks", MDB_CREATE, &f->blocks), "blocks");
    rfx_mdb_ok(mdb_dbi_open(txn, "keys", MDB_CREATE, &f->keys), "keys");
    d.mv_size = 4;
    d.mv_data = v;
    rfx_mdb_ok(mdb_put(txn, f->meta, &k, &d, 0), "version");
    rfx_mdb_ok(mdb_txn_commit(txn), "commit");
    pt_decode_stats_init(&f->dst);
}

/* Close the index (the read side opens its own environment; LMDB wants
 * one per process, so tests close this one before reading). */
static inline void rfx_close_env(struct rfx *f)
{
    if (f->env)
        mdb_env_close(f->env);
    f->env = NULL;
}

static inline void rfx_fini(struct rfx *f)
{
    rfx_close_env(f);
    if (f->dir[0])
        nftw(f->dir, rfx_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static inline void rfx_seg_path(const struct rfx *f, uint64_t seq, char *buf, size_t len)
{
    char name[32];
    snprintf(name, sizeof name, RING_SEG_NAME_FMT, (unsigned long long)seq);
    snprintf(buf, len, "%s/%s", f->ring, name);
}

static inline void rfx_append(struct rfx_seg *s, const void *p, size_t n)
{
    if (s->len + n > s->cap) {
        s->cap = (s->len + n) * 2 + 4096;
        s->file = realloc(s->file, s->cap);
        cr_assert_not_null(s->file);
    }
    memcpy(s->file + s->len, p, n);
    s->len += n;
}

static inline struct rfx_seg *rfx_seg_new(uint64_t seq, uint32_t linktype, uint32_t snaplen)
{
    struct rfx_seg *s = calloc(1, sizeof *s);
    uint32_t h[6] = {RING_PCAP_MAGIC_NS, 2u | 4u << 16, 0, 0, snaplen, linktype};

    cr_assert_not_null(s);
    s->seq = seq;
    s->linktype = linktype;
    s->snaplen = snaplen;
    rfx_append(s, h, sizeof h);
    return s;
}

static inline void rfx_block(struct rfx_seg *s, uint16_t iface, uint16_t producer)
{
    cr_assert(!s->open_blk && s->n_blk < RFX_MAX_BLK);
    struct ring_blk_rec *b = &s->blk[s->n_blk];
    memset(b, 0, sizeof *b);
    b->off = s->len;
    b->iface = iface;
    b->producer = producer;
    s->open_blk = true;
}

/* Name block @blk under (@kind, @val): for decoys, or keys the decoder does
 * not see. A host is given as 16 bytes (IPv4 as ::ffff:a.b.c.d). */
static inline void rfx_key(struct rfx_seg *s, uint8_t kind, const void *val, uint8_t vlen,
                           uint32_t blk)
{
    static const uint8_t v4[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

    cr_assert(s->n_keys < RFX_MAX_KEYS && vlen <= 16);
    struct rfx_key *k = &s->keys[s->n_keys++];
    memset(k, 0, sizeof *k);
    k->kind = kind;
    k->blk = blk;
    if (kind == RING_KEY_HOST && vlen == 16 && !memcmp(val, v4, 12)) {
        k->vlen = 4; /* an IPv4 host key is its 4 address bytes */
        memcpy(k->val, (const uint8_t *)val + 12, 4);
        return;
    }
    k->vlen = vlen;
    memcpy(k->val, val, vlen);
}

static inline void rfx_key16(struct rfx_seg *s, uint8_t kind, uint16_t v, uint32_t blk)
{
    uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    rfx_key(s, kind, b, 2, blk);
}

static inline void rfx_key_flow(struct rfx_seg *s, const struct pt_flow_key *k, uint32_t blk)
{
    uint32_t h = pt_flow_hash(k);
    uint8_t b[4] = {(uint8_t)(h >> 24), (uint8_t)(h >> 16), (uint8_t)(h >> 8), (uint8_t)h};
    rfx_key(s, RING_KEY_FLOW, b, 4, blk);
}

/* The keys of one packet, as the writer derives them. */
static inline void rfx_keys_of(struct rfx *f, struct rfx_seg *s, const uint8_t *data,
                               uint32_t caplen, uint32_t blk)
{
    struct pt_pkt p;
    struct pt_flow_key k;
    bool sw;

    memset(&p, 0, sizeof p);
    p.data = data;
    p.caplen = p.wirelen = caplen;
    p.linktype = (int)s->linktype;
    p.hw_vlan = PT_VLAN_NONE;
    pt_decode(&p, &f->dst);
    if (p.vlan != PT_VLAN_NONE)
        rfx_key16(s, RING_KEY_VLAN, p.vlan, blk);
    for (unsigned i = 0; i < p.n_l3; i++) {
        const struct pt_l3 *l = &p.l3[i];
        rfx_key(s, RING_KEY_HOST, l->src, 16, blk);
        rfx_key(s, RING_KEY_HOST, l->dst, 16, blk);
        if ((l->flags & PT_L3_L4) && (l->proto == 6 || l->proto == 17 || l->proto == 132)) {
            rfx_key16(s, RING_KEY_PORT, l->sport, blk);
            rfx_key16(s, RING_KEY_PORT, l->dport, blk);
        }
        for (unsigned j = 0; j < l->n_vlan; j++)
            rfx_key16(s, RING_KEY_VLAN, l->vlan[j], blk);
        if (pt_flow_key_make(&k, l, &sw))
            rfx_key_flow(s, &k, blk);
    }
}

/* Append one record to the open block (indexed unless @no_keys). */
static inline void rfx_rec(struct rfx *f, struct rfx_seg *s, uint64_t ts, const uint8_t *data,
                           uint32_t caplen, uint32_t wirelen)
{
    uint32_t h[4] = {(uint32_t)(ts / NSEC), (uint32_t)(ts % NSEC), caplen, wirelen};
    struct ring_blk_rec *b = &s->blk[s->n_blk];

    cr_assert(s->open_blk);
    rfx_append(s, h, sizeof h);
    rfx_append(s, data, caplen);
    if (b->packets == 0 || ts < b->first_ns)
        b->first_ns = ts;
    if (b->packets == 0 || ts > b->last_ns)
        b->last_ns = ts;
    b->packets++;
    rfx_keys_of(f, s, data, caplen, s->n_blk);
}

static inline void rfx_pkt(struct rfx *f, struct rfx_seg *s, uint64_t ts, const struct fx_pkt *k)
{
    uint8_t buf[2048];
    size_t n = fx_frame(buf, k);
    rfx_rec(f, s, ts, buf, (uint32_t)n, (uint32_t)n);
}

static inline void rfx_block_end(struct rfx_seg *s)
{
    cr_assert(s->open_blk);
    struct ring_blk_rec *b = &s->blk[s->n_blk];
    b->len = (uint32_t)(s->len - b->off);
    s->open_blk = false;
    s->n_blk++;
}

static inline int rfx_key_cmp(const void *pa, const void *pb)
{
    const struct rfx_key *a = pa, *b = pb;
    if (a->kind != b->kind)
        return a->kind - b->kind;
    if (a->vlen != b->vlen)
        return a->vlen - b->vlen;
    int c = memcmp(a->val, b->val, a->vlen);
    if (c)
        return c;
    return a->blk < b->blk ? -1 : a->blk > b->blk;
}

/* Write the file and commit the segment's segs, blocks and keys in one
 * transaction, as the writer's commit does. Frees @s. Returns the record. */
static inline struct ring_seg_rec rfx_seg_commit(struct rfx *f, struct rfx_seg *s, bool closed)
{
    char path[256];
    MDB_txn *txn;
    uint8_t kb[8 + 1 + 16], lst[5 * RFX_MAX_BLK];
    MDB_val k, d;
    FILE *fp;

    cr_assert(!s->open_blk);
    rfx_seg_path(f, s->seq, path, sizeof path);
    cr_assert_not_null(fp = fopen(path, "wb"));
    cr_assert_eq(fwrite(s->file, 1, s->len, fp), s->len);
    cr_assert_eq(fclose(fp), 0);

    struct ring_seg_rec *r = &s->rec;
    memset(r, 0, sizeof *r);
    r->valid_len = s->len;
    r->linktype = s->linktype;
    r->snaplen = s->snaplen;
    r->blocks = s->n_blk;
    r->closed = closed;
    for (uint32_t i = 0; i < s->n_blk; i++) {
        const struct ring_blk_rec *b = &s->blk[i];
        if (r->packets == 0 || b->first_ns < r->first_ns)
            r->first_ns = b->first_ns;
        if (b->last_ns > r->last_ns)
            r->last_ns = b->last_ns;
        r->packets += b->packets;
    }
    rfx_mdb_ok(mdb_txn_begin(f->env, NULL, 0, &txn), "txn");
    for (int i = 7; i >= 0; i--)
        kb[7 - i] = (uint8_t)(s->seq >> (8 * i));
    k = (MDB_val){8, kb};
    d = (MDB_val){sizeof *r, r};
    rfx_mdb_ok(mdb_put(txn, f->segs, &k, &d, 0), "segs put");
    for (uint32_t i = 0; i < s->n_blk; i++) {
        uint8_t bk[12];
        memcpy(bk, kb, 8);
        bk[8] = (uint8_t)(i >> 24), bk[9] = (uint8_t)(i >> 16), bk[10] = (uint8_t)(i >> 8);
        bk[11] = (uint8_t)i;
        k = (MDB_val){12, bk};
        d = (MDB_val){sizeof s->blk[i], &s->blk[i]};
        rfx_mdb_ok(mdb_put(txn, f->blocks, &k, &d, 0), "blocks put");
    }
    qsort(s->keys, s->n_keys, sizeof *s->keys, rfx_key_cmp);
    for (unsigned i = 0, j; i < s->n_keys; i = j) {
        const struct rfx_key *g = &s->keys[i];
        size_t n = 0;
        for (j = i; j < s->n_keys && s->keys[j].kind == g->kind && s->keys[j].vlen == g->vlen &&
                    memcmp(s->keys[j].val, g->val, g->vlen) == 0;
             j++) {
            uint32_t b = s->keys[j].blk;
            if (j > i && s->keys[j - 1].blk == b)
                continue; /* no repeats */
            /* LEB128 part numbers (block * 16 + part; these blocks are one
             * part, part 0): the first, then the differences */
            uint32_t v = j > i ? 16 * (b - s->keys[j - 1].blk) : 16 * b;
            do {
                lst[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
                v >>= 7;
            } while (v);
        }
        kb[8] = g->kind;
        memcpy(kb + 9, g->val, g->vlen);
        k = (MDB_val){9u + g->vlen, kb};
        d = (MDB_val){n, lst};
        rfx_mdb_ok(mdb_put(txn, f->keys, &k, &d, 0), "keys put");
    }
    rfx_mdb_ok(mdb_txn_commit(txn), "commit");
    struct ring_seg_rec out = *r;
    free(s->file);
    free(s);
    return out;
}

static inline void rfx_meta_put(struct rfx *f, const void *key, size_t klen, const void *val,
                                size_t vlen)
{
    MDB_txn *txn;
    MDB_val k = {klen, (void *)key}, d = {vlen, (void *)val};

    rfx_mdb_ok(mdb_txn_begin(f->env, NULL, 0, &txn), "txn");
    rfx_mdb_ok(mdb_put(txn, f->meta, &k, &d, 0), "meta put");
    rfx_mdb_ok(mdb_txn_commit(txn), "commit");
}

static inline void rfx_iface_name(struct rfx *f, uint16_t iface, const char *name)
{
    uint8_t k[7] = {'i', 'f', 'a', 'c', 'e', (uint8_t)(iface >> 8), (uint8_t)iface};
    rfx_meta_put(f, k, sizeof k, name, strlen(name));
}

static inline void rfx_stats(struct rfx *f, const struct pt_ring_stats *st)
{
    uint64_t v[RING_STATS_SLOTS];

    ring_stats_encode(st, v);
    rfx_meta_put(f, "stats", 5, v, sizeof v);
}

#endif
