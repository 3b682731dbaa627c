/* test_writer.c - the ring's write side: what is put is what the segment
 * files hold (parsed by hand and by libpcap), the index agrees with the
 * data block by block and key by key, the bound holds while five times the
 * ring goes through it, reconcile cuts and deletes what the index does not
 * name, a crash loses only what was not committed, a stalled writer makes
 * producers drop and count, and a full disk degrades and recovers.
 *
 * The frames are UDP over IPv4 (support/netns.h builds them), some tagged
 * in band, some with a stripped tag (hw_tag) the ring must write back. The
 * expected index keys are computed here from the bytes of each block, not
 * from the writer's key map. */
#include <criterion/criterion.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <pcap/pcap.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../../src/ring/internal.h"
#include "pt/decode.h"
#include "pt/flow.h"
#include "pt/ring.h"
#include "support/netns.h"
#include "support/support.h"

#define T0  1700000000000000000ull
#define MIB (1024ull * 1024ull)

static char rw_base[64];
static char rw_dir[128]; /* rw_base/ring */

static void rw_setup(void)
{
    strcpy(rw_base, "/tmp/pt-ringw-XXXXXX");
    cr_assert_not_null(mkdtemp(rw_base));
    snprintf(rw_dir, sizeof rw_dir, "%s/ring", rw_base);
}

static void rw_teardown(void)
{
    if (rw_base[0]) {
        umount2(rw_dir, MNT_DETACH); /* the disk-full tests' tmpfs (own namespace anyway) */
        pt_test_rm_tree(rw_base);
    }
}

TestSuite(ring_writer, .init = rw_setup, .fini = rw_teardown, .timeout = 10);

static struct pt_ring_config rw_cfg(void)
{
    struct pt_ring_config c;

    pt_ring_config_default(&c);
    snprintf(c.dir, sizeof c.dir, "%s", rw_dir);
    c.segment_size = 1 * MIB;
    c.keep_free_pct = 0;
    c.snaplen = 65535;
    c.chunk_size = 64 * 1024 + 64;
    c.chunks = 128;
    c.commit_ms = 50;
    c.index_map_max = 64 * MIB;
    return c;
}

static struct pt_ring *rw_open(const struct pt_ring_config *c, unsigned nprod)
{
    char msg[256] = "";
    int err = 0;
    struct pt_ring *r = pt_ring_open(c, nprod, &err, msg, sizeof msg);

    cr_assert_not_null(r, "pt_ring_open: %s (%s)", msg, pt_strerror(err));
    return r;
}

/* ---- traffic ---- */

/* One packet as put, and as the file must hold it. */
struct xpkt {
    uint64_t ts;
    uint32_t caplen, wirelen; /* in the file */
    uint16_t iface;
    uint8_t *data; /* in the file (tag written back, cut to snaplen) */
};

struct traffic {
    struct xpkt *v;
    size_t n;
};

static void traffic_free(struct traffic *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->v[i].data);
    free(t->v);
    t->v = NULL;
    t->n = 0;
}

/* Packet @i of a deterministic mix: 7 sources, 5 destinations, 4 source
 * ports, 3 destination ports; every 4th tagged in band (VLAN 100/101),
 * every 4th + 2 with a stripped tag (VLAN 200 + i % 2); payload 20..1319;
 * interface 0, every 50th run of 10 on interface 1. Puts it through @p
 * (unless NULL) and records in @t (unless NULL) what the file must hold
 * with snaplen @snap. */
static void put_one(struct pt_ring_prod *p, struct traffic *t, size_t i, uint32_t snap,
                    uint16_t payload)
{
    uint8_t put[1600], want[1600];
    struct pt_udp_spec s = {
        .src_ip = {10, 1, (uint8_t)(i % 7), 1},
        .dst_ip = {10, 2, (uint8_t)(i % 5), 1},
        .sport = (uint16_t)(1000 + i % 4),
        .dport = (uint16_t)(80 + i % 3),
        .payload = payload,
    };
    struct pt_ring_pkt pk = {0};
    size_t n_put, n_want;

    if (i % 4 == 1) {
        s.outer_tpid = 0x8100;
        s.outer_vid = (uint16_t)(100 + i % 2);
    }
    n_put = pt_netns_udp_frame(put, sizeof put, &s);
    if (i % 4 == 2) {
        pk.hw_tag = 0x8100u << 16 | (uint32_t)(200 + i % 2);
        s.outer_tpid = 0x8100;
        s.outer_vid = (uint16_t)(200 + i % 2);
    }
    n_want = pt_netns_udp_frame(want, sizeof want, &s);
    cr_assert(n_put && n_want);
    pk.data = put;
    pk.caplen = pk.wirelen = (uint32_t)n_put;
    pk.ts_ns = T0 + i * 1000003ull;
    pk.linktype = 1;
    pk.iface = (i / 10) % 50 == 7 ? 1 : 0;
    if (p)
        pt_ring_put(p, &pk);
    if (!t)
        return;
    struct xpkt *x = &t->v[t->n++];
    x->ts = pk.ts_ns;
    x->wirelen = (uint32_t)n_want;
    x->caplen = n_want < snap ? (uint32_t)n_want : snap;
    x->iface = pk.iface;
    x->data = malloc(x->caplen);
    memcpy(x->data, want, x->caplen);
}

static uint16_t payload_of(size_t i)
{
    return (uint16_t)(20 + (i * 37) % 1300);
}

static void put_range(struct pt_ring_prod *p, struct traffic *t, size_t from, size_t to,
                      uint32_t snap)
{
    if (t)
        t->v = realloc(t->v, (t->n + (to - from) + 1) * sizeof *t->v);
    for (size_t i = from; i < to; i++)
        put_one(p, t, i, snap, payload_of(i));
}

/* ---- files ---- */

struct segfile {
    uint64_t seq;
    uint8_t *buf;
    size_t len;
};

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *b;
    long n;

    cr_assert_not_null(f, "open %s", path);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    b = malloc((size_t)n + 1);
    cr_assert_eq(fread(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return b;
}

static void seg_path(char *buf, size_t len, uint64_t seq)
{
    char name[32];

    snprintf(name, sizeof name, RING_SEG_NAME_FMT, (unsigned long long)seq);
    snprintf(buf, len, "%s/%s", rw_dir, name);
}

static int seq_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The seqs of the segment files in rw_dir, ascending. */
static size_t seg_list(uint64_t *seqs, size_t max)
{
    DIR *d = opendir(rw_dir);
    struct dirent *de;
    size_t n = 0;

    cr_assert_not_null(d, "opendir %s", rw_dir);
    while ((de = readdir(d)) != NULL) {
        unsigned long long s;
        char tail[8];
        if (strlen(de->d_name) == 25 && sscanf(de->d_name, "seg-%16llx%5s", &s, tail) == 2 &&
            !strcmp(tail, ".pcap") && n < max)
            seqs[n++] = s;
    }
    closedir(d);
    qsort(seqs, n, sizeof *seqs, seq_cmp);
    return n;
}

/* Total st_size and allocated bytes of the segment files. */
static void seg_sizes(uint64_t *size, uint64_t *alloc)
{
    uint64_t seqs[4096];
    size_t n = seg_list(seqs, 4096);

    *size = *alloc = 0;
    for (size_t i = 0; i < n; i++) {
        char p[256];
        struct stat sb;
        seg_path(p, sizeof p, seqs[i]);
        if (stat(p, &sb) == 0) {
            *size += (uint64_t)sb.st_size;
            *alloc += (uint64_t)sb.st_blocks * 512;
        }
    }
}

static uint32_t rd32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* Check the pcap header of a segment; its records must be exactly @x[0..n). */
static void file_check(const uint8_t *b, size_t len, uint32_t linktype, uint32_t snap,
                       const struct xpkt *x, size_t n)
{
    size_t off = RING_PCAP_HDR, k = 0;

    cr_assert_geq(len, RING_PCAP_HDR);
    cr_assert_eq(rd32(b), RING_PCAP_MAGIC_NS);
    cr_assert_eq(rd32(b + 4), 2u | 4u << 16, "version 2.4");
    cr_assert_eq(rd32(b + 16), snap);
    cr_assert_eq(rd32(b + 20), linktype);
    while (off < len) {
        cr_assert_leq(off + RING_REC_HDR, len, "torn record header at %zu", off);
        uint32_t cap = rd32(b + off + 8);
        cr_assert_lt(k, n, "more records than expected");
        cr_assert_eq((uint64_t)rd32(b + off) * 1000000000ull + rd32(b + off + 4), x[k].ts,
                     "record %zu time", k);
        cr_assert_eq(cap, x[k].caplen, "record %zu caplen", k);
        cr_assert_eq(rd32(b + off + 12), x[k].wirelen, "record %zu wirelen", k);
        cr_assert_leq(off + RING_REC_HDR + cap, len);
        cr_assert_eq(memcmp(b + off + RING_REC_HDR, x[k].data, cap), 0, "record %zu bytes", k);
        off += RING_REC_HDR + cap;
        k++;
    }
    cr_assert_eq(k, n, "records in the file");
}

/* Every segment file, in seq order, parsed by hand and by libpcap, must
 * hold exactly @x[0..n). Returns the number of files. */
static size_t files_hold(const struct xpkt *x, size_t n, uint32_t snap)
{
    uint64_t seqs[4096];
    size_t nf = seg_list(seqs, 4096), k = 0;

    for (size_t i = 0; i < nf; i++) {
        char p[256], eb[PCAP_ERRBUF_SIZE];
        size_t len, cnt = 0;
        uint8_t *b;
        struct pcap_pkthdr *h;
        const u_char *d;

        seg_path(p, sizeof p, seqs[i]);
        b = slurp(p, &len);
        /* count the records, then check them against the expected run */
        for (size_t off = RING_PCAP_HDR; off + RING_REC_HDR <= len; cnt++)
            off += RING_REC_HDR + rd32(b + off + 8);
        cr_assert_leq(k + cnt, n, "the files hold more packets than were put");
        file_check(b, len, 1, snap, x + k, cnt);
        free(b);

        pcap_t *pc = pcap_open_offline_with_tstamp_precision(p, PCAP_TSTAMP_PRECISION_NANO, eb);
        cr_assert_not_null(pc, "pcap_open_offline %s: %s", p, eb);
        cr_assert_eq(pcap_datalink(pc), DLT_EN10MB);
        for (size_t j = 0; j < cnt; j++) {
            cr_assert_eq(pcap_next_ex(pc, &h, &d), 1, "libpcap record %zu of %s", j, p);
            const struct xpkt *e = &x[k + j];
            cr_assert_eq((uint64_t)h->ts.tv_sec * 1000000000ull + (uint64_t)h->ts.tv_usec, e->ts);
            cr_assert_eq(h->caplen, e->caplen);
            cr_assert_eq(h->len, e->wirelen);
            cr_assert_eq(memcmp(d, e->data, e->caplen), 0);
        }
        cr_assert_eq(pcap_next_ex(pc, &h, &d), -2, "libpcap: nothing after the last record");
        pcap_close(pc);
        k += cnt;
    }
    cr_assert_eq(k, n, "packets in the files (%zu) vs put (%zu)", k, n);
    return nf;
}

/* ---- the index, read raw (the writer is closed) ---- */

struct ix {
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi meta, segs, blocks, keys;
};

static void ix_open(struct ix *x)
{
    char p[256];

    snprintf(p, sizeof p, "%s/index", rw_dir);
    cr_assert_eq(mdb_env_create(&x->env), 0);
    cr_assert_eq(mdb_env_set_maxdbs(x->env, 8), 0);
    cr_assert_eq(mdb_env_open(x->env, p, MDB_RDONLY | MDB_NOTLS, 0644), 0);
    cr_assert_eq(mdb_txn_begin(x->env, NULL, MDB_RDONLY, &x->txn), 0);
    cr_assert_eq(mdb_dbi_open(x->txn, "meta", 0, &x->meta), 0);
    cr_assert_eq(mdb_dbi_open(x->txn, "segs", 0, &x->segs), 0);
    cr_assert_eq(mdb_dbi_open(x->txn, "blocks", 0, &x->blocks), 0);
    cr_assert_eq(mdb_dbi_open(x->txn, "keys", 0, &x->keys), 0);
}

static void ix_close(struct ix *x)
{
    mdb_txn_abort(x->txn);
    mdb_env_close(x->env);
}

static uint64_t be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The segs records: seqs and records, ascending. */
static size_t ix_segs(struct ix *x, uint64_t *seqs, struct ring_seg_rec *recs, size_t max)
{
    MDB_cursor *c;
    MDB_val k, d;
    size_t n = 0;

    cr_assert_eq(mdb_cursor_open(x->txn, x->segs, &c), 0);
    for (int rc = mdb_cursor_get(c, &k, &d, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &k, &d, MDB_NEXT)) {
        cr_assert_eq(k.mv_size, 8);
        cr_assert_eq(d.mv_size, sizeof *recs);
        cr_assert_lt(n, max);
        seqs[n] = be64(k.mv_data);
        memcpy(&recs[n++], d.mv_data, sizeof *recs);
    }
    mdb_cursor_close(c);
    return n;
}

/* Every key of @dbi must name a seq among @seqs. Returns the entries. */
static size_t ix_all_named(struct ix *x, MDB_dbi dbi, const uint64_t *seqs, size_t n)
{
    MDB_cursor *c;
    MDB_val k, d;
    size_t cnt = 0;

    cr_assert_eq(mdb_cursor_open(x->txn, dbi, &c), 0);
    for (int rc = mdb_cursor_get(c, &k, &d, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &k, &d, MDB_NEXT)) {
        uint64_t s;
        bool found = false;
        cr_assert_geq(k.mv_size, 8);
        s = be64(k.mv_data);
        for (size_t i = 0; i < n; i++)
            found |= seqs[i] == s;
        cr_assert(found, "an index entry names seq %llu, which has no segs record",
                  (unsigned long long)s);
        cnt++;
    }
    mdb_cursor_close(c);
    return cnt;
}

/* A key's list (format.h: LEB128 varints, the first block number, then
 * the differences) into @out; the number of blocks. Decoded here, not with
 * the project's helpers, so that the test pins the format. */
static uint32_t ix_list(const MDB_val *d, uint32_t *out, uint32_t max)
{
    const uint8_t *p = d->mv_data;
    uint32_t n = 0, shift = 0;
    uint64_t v = 0;

    for (size_t i = 0; i < d->mv_size; i++) {
        v |= (uint64_t)(p[i] & 0x7f) << shift;
        shift += 7;
        if (p[i] & 0x80) {
            cr_assert_lt(shift, 35, "a varint of more than 5 bytes");
            continue;
        }
        cr_assert_lt(n, max);
        cr_assert(n == 0 || v > 0, "a difference of 0: a repeated block");
        out[n] = n ? out[n - 1] + (uint32_t)v : (uint32_t)v;
        n++;
        v = 0;
        shift = 0;
    }
    cr_assert_eq(shift, 0, "a list ends inside a varint");
    return n;
}

/* ---- expected keys, from the bytes ---- */

struct ekey {
    uint8_t kind, vlen;
    uint8_t val[16];
    uint32_t n;
    uint32_t blk[1024]; /* part numbers: block * 16 + part */
};

struct ekeys {
    struct ekey *v;
    size_t n, cap;
};

static void ek_add(struct ekeys *e, uint8_t kind, const uint8_t *val, uint8_t vlen, uint32_t bno)
{
    struct ekey *k = NULL;

    for (size_t i = 0; i < e->n && !k; i++)
        if (e->v[i].kind == kind && e->v[i].vlen == vlen && !memcmp(e->v[i].val, val, vlen))
            k = &e->v[i];
    if (!k) {
        if (e->n == e->cap) {
            e->cap = e->cap ? e->cap * 2 : 64;
            e->v = realloc(e->v, e->cap * sizeof *e->v);
        }
        k = &e->v[e->n++];
        memset(k, 0, sizeof *k);
        k->kind = kind;
        k->vlen = vlen;
        memcpy(k->val, val, vlen);
    }
    if (!k->n || k->blk[k->n - 1] != bno) {
        cr_assert_lt(k->n, 1024);
        k->blk[k->n++] = bno;
    }
}

static void ek_add16(struct ekeys *e, uint8_t kind, uint16_t v, uint32_t bno)
{
    uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    ek_add(e, kind, b, 2, bno);
}

/* The keys of one Ethernet frame of this test's traffic, parsed by hand
 * (Ethernet, at most one 802.1Q tag, IPv4, UDP); the flow hash comes from
 * the decoder's layer through pt_flow_key_make(). */
static void frame_keys(struct ekeys *e, const uint8_t *f, uint32_t len, uint32_t bno)
{
    uint32_t o = 12;
    uint16_t et = (uint16_t)(f[o] << 8 | f[o + 1]);
    uint8_t a[16] = {0};
    struct pt_decode_stats st;
    struct pt_pkt p = {0};

    if (et == 0x8100) {
        ek_add16(e, RING_KEY_VLAN, (uint16_t)((f[o + 2] << 8 | f[o + 3]) & 0xfff), bno);
        o += 4;
        et = (uint16_t)(f[o] << 8 | f[o + 1]);
    }
    cr_assert_eq(et, 0x0800);
    o += 2;
    memcpy(a, f + o + 12, 4); /* IPv4 host keys are the 4 address bytes */
    ek_add(e, RING_KEY_HOST, a, 4, bno);
    memcpy(a, f + o + 16, 4);
    ek_add(e, RING_KEY_HOST, a, 4, bno);
    ek_add16(e, RING_KEY_PORT, (uint16_t)(f[o + 20] << 8 | f[o + 21]), bno);
    ek_add16(e, RING_KEY_PORT, (uint16_t)(f[o + 22] << 8 | f[o + 23]), bno);

    pt_decode_stats_init(&st);
    p.data = f;
    p.caplen = p.wirelen = len;
    p.linktype = PT_LINK_ETHERNET;
    p.hw_vlan = PT_VLAN_NONE;
    pt_decode(&p, &st);
    cr_assert_eq(p.n_l3, 1);
    struct pt_flow_key fk;
    bool sw;
    cr_assert(pt_flow_key_make(&fk, &p.l3[0], &sw));
    uint32_t h = pt_flow_hash(&fk);
    uint8_t hb[4] = {(uint8_t)(h >> 24), (uint8_t)(h >> 16), (uint8_t)(h >> 8), (uint8_t)h};
    ek_add(e, RING_KEY_FLOW, hb, 4, bno);
}

/* Segment @seq: its blocks tile [24, valid_len) and describe their records;
 * its keys are exactly the keys of its blocks' packets. Returns packets. */
static uint64_t seg_check(struct ix *x, uint64_t seq, const struct ring_seg_rec *sr)
{
    char p[256];
    size_t len;
    uint8_t *b, kb[8];
    struct ekeys e = {0};
    MDB_cursor *c;
    MDB_val k, d;
    uint64_t off = RING_PCAP_HDR, pk = 0, first = UINT64_MAX, last = 0;
    uint32_t bno = 0;
    size_t nkeys = 0;

    seg_path(p, sizeof p, seq);
    b = slurp(p, &len);
    cr_assert_eq(len, sr->valid_len, "file size == valid_len");
    cr_assert_eq(sr->closed, 1);
    for (int i = 7; i >= 0; i--)
        kb[7 - i] = (uint8_t)(seq >> (8 * i));
    cr_assert_eq(mdb_cursor_open(x->txn, x->blocks, &c), 0);
    k.mv_size = 8;
    k.mv_data = kb;
    for (int rc = mdb_cursor_get(c, &k, &d, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(c, &k, &d, MDB_NEXT)) {
        struct ring_blk_rec br;
        if (be64(k.mv_data) != seq)
            break;
        cr_assert_eq(k.mv_size, 12);
        cr_assert_eq(be32((uint8_t *)k.mv_data + 8), bno, "blocks numbered 0, 1, ...");
        cr_assert_geq(d.mv_size, sizeof br);
        memcpy(&br, d.mv_data, sizeof br);
        cr_assert_eq(br.off, off, "blocks tile the file");
        cr_assert_leq(br.off + br.len, len);
        /* parts of 16 KiB: the value goes on with where parts 1.. begin */
        cr_assert(br.parts >= 1 && br.parts <= 16, "%u parts", br.parts);
        cr_assert_eq(d.mv_size, sizeof br + 4 * (br.parts - 1));
        uint32_t pbeg[17] = {0};
        memcpy(pbeg + 1, (uint8_t *)d.mv_data + sizeof br, 4 * (br.parts - 1));
        uint32_t np = 0, part = 0;
        uint64_t f = UINT64_MAX, l = 0;
        for (uint64_t o = br.off; o < br.off + br.len; np++) {
            uint64_t ts = (uint64_t)rd32(b + o) * 1000000000ull + rd32(b + o + 4);
            uint32_t cap = rd32(b + o + 8);
            f = ts < f ? ts : f;
            l = ts > l ? ts : l;
            for (; part < (o - br.off) / 16384; part++) /* parts up to this record begin here */
                cr_assert_eq(pbeg[part + 1], o - br.off, "part %u begins at the first record in it",
                             part + 1);
            frame_keys(&e, b + o + RING_REC_HDR, cap, bno * 16 + part);
            o += RING_REC_HDR + cap;
            cr_assert_leq(o, br.off + br.len, "a block holds whole records");
        }
        cr_assert_eq(part + 1, br.parts, "as many parts as the records reach");
        cr_assert_eq(np, br.packets);
        cr_assert_eq(br.first_ns, f);
        cr_assert_eq(br.last_ns, l);
        first = f < first ? f : first;
        last = l > last ? l : last;
        pk += np;
        off += br.len;
        bno++;
    }
    mdb_cursor_close(c);
    cr_assert_eq(off, len, "the blocks end at valid_len");
    cr_assert_eq(bno, sr->blocks);
    cr_assert_eq(pk, sr->packets);
    cr_assert_eq(sr->first_ns, first);
    cr_assert_eq(sr->last_ns, last);

    /* every key of the segment is expected, with exactly its blocks */
    cr_assert_eq(mdb_cursor_open(x->txn, x->keys, &c), 0);
    k.mv_size = 8;
    k.mv_data = kb;
    for (int rc = mdb_cursor_get(c, &k, &d, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(c, &k, &d, MDB_NEXT)) {
        const uint8_t *kk = k.mv_data;
        struct ekey *want = NULL;
        if (be64(kk) != seq)
            break;
        for (size_t i = 0; i < e.n && !want; i++)
            if (e.v[i].kind == kk[8] && e.v[i].vlen == k.mv_size - 9 &&
                !memcmp(e.v[i].val, kk + 9, e.v[i].vlen))
                want = &e.v[i];
        cr_assert_not_null(want, "seq %llu: a key (kind %u, %zu bytes) no packet has",
                           (unsigned long long)seq, kk[8], k.mv_size - 9);
        uint32_t got[1024];
        uint32_t ng = ix_list(&d, got, 1024);
        cr_assert_eq(ng, want->n, "kind %u: %u parts listed, %u hold it", kk[8], ng, want->n);
        for (uint32_t j = 0; j < want->n; j++)
            cr_assert_eq(got[j], want->blk[j]);
        nkeys++;
    }
    mdb_cursor_close(c);
    cr_assert_eq(nkeys, e.n, "seq %llu: %zu keys in the index, %zu in the data",
                 (unsigned long long)seq, nkeys, e.n);
    free(e.v);
    free(b);
    return pk;
}

/* ---- tests ---- */

Test(ring_writer, roundtrip)
{
    struct pt_ring_config c = rw_cfg();
    struct traffic t = {0};
    struct pt_ring_stats st;
    const size_t n = 6000;
    struct pt_ring *r = rw_open(&c, 1);

    put_range(pt_ring_producer(r, 0), &t, 0, n, c.snaplen);
    cr_assert_null(pt_ring_producer(r, 1));
    pt_ring_close(r, &st);
    cr_assert_eq(st.lost_full_pkts, 0);
    cr_assert_eq(st.packets, n);
    cr_assert_eq(st.lost_io_pkts + st.write_errors + st.index_errors, 0);
    size_t files = files_hold(t.v, t.n, c.snaplen);
    cr_assert_geq(files, 3, "about 4.4 MB in 1 MiB segments");
    cr_assert_eq(st.segments_created, files);
    uint64_t bytes = 0, wire = 0;
    for (size_t i = 0; i < t.n; i++) {
        bytes += RING_REC_HDR + t.v[i].caplen;
        wire += t.v[i].wirelen;
    }
    cr_assert_eq(st.bytes, bytes);
    cr_assert_eq(st.wire_bytes, wire);
    traffic_free(&t);
}

Test(ring_writer, snaplen_and_tag)
{
    struct pt_ring_config c = rw_cfg();
    struct traffic t = {0};
    struct pt_ring_stats st;
    struct pt_ring *r;

    c.snaplen = 64; /* cuts every frame; the written-back tag counts toward it */
    c.chunk_size = 4096;
    r = rw_open(&c, 1);
    put_range(pt_ring_producer(r, 0), &t, 0, 400, c.snaplen);
    pt_ring_close(r, &st);
    cr_assert_eq(st.packets, 400);
    files_hold(t.v, t.n, c.snaplen);
    /* a stripped tag is back after the MACs, and both lengths grew by 4 */
    cr_assert_eq(t.v[2].data[12], 0x81);
    cr_assert_eq(t.v[2].data[13], 0x00);
    cr_assert_eq(t.v[2].data[15], 200);
    cr_assert_eq(t.v[2].wirelen, 14 + 4 + 20 + 8 + payload_of(2));
    cr_assert_eq(t.v[2].caplen, 64);
    traffic_free(&t);
}

Test(ring_writer, index_matches_data)
{
    struct pt_ring_config c = rw_cfg();
    struct traffic t = {0};
    struct pt_ring_stats st;
    struct ix x;
    uint64_t seqs[64], total = 0;
    struct ring_seg_rec recs[64];
    struct pt_ring *r;
    MDB_val k, d;

    c.chunk_size = 8192; /* many blocks per segment */
    c.chunks = 1024;
    c.snaplen = 2048;
    r = rw_open(&c, 1);
    pt_ring_iface_name(r, 0, "eth0");
    pt_ring_iface_name(r, 1, "span-1");
    put_range(pt_ring_producer(r, 0), &t, 0, 3000, c.snaplen);
    pt_ring_close(r, &st);
    cr_assert_eq(st.packets, 3000);
    size_t files = files_hold(t.v, t.n, c.snaplen);

    ix_open(&x);
    size_t n = ix_segs(&x, seqs, recs, 64);
    cr_assert_eq(n, files, "one segs record per file");
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(recs[i].linktype, 1);
        cr_assert_eq(recs[i].snaplen, c.snaplen);
        total += seg_check(&x, seqs[i], &recs[i]);
    }
    cr_assert_eq(total, 3000);
    ix_all_named(&x, x.blocks, seqs, n);
    ix_all_named(&x, x.keys, seqs, n);

    /* meta: version, cumulative stats, interface names */
    k.mv_size = 7;
    k.mv_data = "version";
    cr_assert_eq(mdb_get(x.txn, x.meta, &k, &d), 0);
    cr_assert_eq(d.mv_size, 4);
    cr_assert_eq(be32(d.mv_data), RING_INDEX_VERSION);
    k.mv_size = 5;
    k.mv_data = "stats";
    cr_assert_eq(mdb_get(x.txn, x.meta, &k, &d), 0);
    cr_assert_eq(d.mv_size, RING_STATS_SLOTS * sizeof(uint64_t));
    uint64_t raw[RING_STATS_SLOTS];
    memcpy(raw, d.mv_data, sizeof raw);
    cr_assert_eq(raw[0], 3000, "slot 0: packets");
    cr_assert_eq(raw[9], files, "slot 9: segments_created");
    struct pt_ring_stats ms;
    ring_stats_decode(&ms, d.mv_data, d.mv_size);
    cr_assert_eq(ms.packets, 3000);
    cr_assert_eq(ms.bytes, st.bytes);
    cr_assert_eq(ms.segments_created, files);
    uint8_t ik[7] = {'i', 'f', 'a', 'c', 'e', 0, 1};
    k.mv_size = 7;
    k.mv_data = ik;
    cr_assert_eq(mdb_get(x.txn, x.meta, &k, &d), 0);
    cr_assert_eq(d.mv_size, 6);
    cr_assert_eq(memcmp(d.mv_data, "span-1", 6), 0);
    ix_close(&x);
    traffic_free(&t);
}

/* Chunks of 1 MiB become index blocks of at most 256 KiB, cut at record
 * boundaries (extract reads a block whole): the blocks still tile each
 * file, and every key names exactly the blocks that hold it (seg_check). */
Test(ring_writer, big_chunks_become_blocks_of_at_most_256_kib)
{
    struct pt_ring_config c = rw_cfg();
    struct traffic t = {0};
    struct pt_ring_stats st;
    struct ix x;
    uint64_t seqs[64], total = 0, blocks = 0, bytes = 0;
    struct ring_seg_rec recs[64];
    struct pt_ring *r;
    MDB_cursor *cur;
    MDB_val k, d;

    c.segment_size = 8 * MIB;
    c.chunk_size = 1 * MIB;
    c.chunks = 16;
    c.wait_when_full = true; /* the layout is under test, not the staging */
    r = rw_open(&c, 1);
    put_range(pt_ring_producer(r, 0), &t, 0, 6000, c.snaplen);
    pt_ring_close(r, &st);
    cr_assert_eq(st.packets, 6000,
                 "packets %llu lost_full %llu lost_io %llu write_errors %llu index_errors %llu",
                 (unsigned long long)st.packets, (unsigned long long)st.lost_full_pkts,
                 (unsigned long long)st.lost_io_pkts, (unsigned long long)st.write_errors,
                 (unsigned long long)st.index_errors);
    files_hold(t.v, t.n, c.snaplen);

    ix_open(&x);
    size_t n = ix_segs(&x, seqs, recs, 64);
    for (size_t i = 0; i < n; i++)
        total += seg_check(&x, seqs[i], &recs[i]);
    cr_assert_eq(total, 6000);
    cr_assert_eq(mdb_cursor_open(x.txn, x.blocks, &cur), 0);
    for (int rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
        struct ring_blk_rec br;
        memcpy(&br, d.mv_data, sizeof br);
        cr_assert_leq(br.len, 256 * 1024, "block of %u bytes", br.len);
        blocks++;
        bytes += br.len;
    }
    mdb_cursor_close(cur);
    ix_close(&x);
    cr_assert_eq(bytes, st.bytes);
    /* 1 MiB chunks unsplit would give about bytes / 1 MiB blocks */
    cr_assert_geq(blocks, 3 * (bytes / MIB), "%llu blocks for %llu bytes",
                  (unsigned long long)blocks, (unsigned long long)bytes);
    traffic_free(&t);
}

/* The packets put last, @k of them, must be what the files hold. */
static void files_hold_suffix(const struct traffic *t, uint32_t snap)
{
    uint64_t seqs[4096];
    size_t nf = seg_list(seqs, 4096), cnt = 0;

    for (size_t i = 0; i < nf; i++) {
        char p[256];
        size_t len;
        uint8_t *b;
        seg_path(p, sizeof p, seqs[i]);
        b = slurp(p, &len);
        for (size_t off = RING_PCAP_HDR; off + RING_REC_HDR <= len; cnt++)
            off += RING_REC_HDR + rd32(b + off + 8);
        free(b);
    }
    cr_assert_gt(cnt, 0);
    cr_assert_lt(cnt, t->n);
    files_hold(t->v + (t->n - cnt), cnt, snap);
}

Test(ring_writer, bound)
{
    struct pt_ring_config c = rw_cfg();
    struct traffic t = {0};
    struct pt_ring_stats st;
    struct ix x;
    uint64_t seqs[64], fseqs[64], size, alloc, max_size = 0, max_alloc = 0;
    struct ring_seg_rec recs[64];
    struct pt_ring *r;
    size_t i = 0, n = 0;

    c.ring_size = 4 * MIB;
    c.chunks = 64;           /* 4 MiB of staging, paced below */
    c.wait_when_full = true; /* and on a loaded machine the producer waits: nothing is lost */
    r = rw_open(&c, 1);
    t.v = calloc(40000, sizeof *t.v);
    /* >= 5 x ring_size of records (about 700 bytes each) */
    while (n < 5 * c.ring_size + c.segment_size) {
        put_one(pt_ring_producer(r, 0), &t, i, c.snaplen, payload_of(i));
        n += RING_REC_HDR + t.v[i].caplen;
        if (++i % 1000 == 0) {
            pt_ring_flush(pt_ring_producer(r, 0), true);
            struct timespec ts = {0, 20 * 1000000L};
            nanosleep(&ts, NULL);
            seg_sizes(&size, &alloc);
            max_size = size > max_size ? size : max_size;
            max_alloc = alloc > max_alloc ? alloc : max_alloc;
        }
    }
    pt_ring_close(r, &st);
    cr_assert_eq(st.lost_full_pkts, 0, "paced: no drops");
    cr_assert_eq(st.packets, i);
    seg_sizes(&size, &alloc);
    /* the promise: never over the bound by more than the segment being
     * written; the files' lengths alone stay within the bound itself */
    cr_assert_leq(max_size, c.ring_size, "file sizes during the run: %llu",
                  (unsigned long long)max_size);
    cr_assert_leq(max_alloc, c.ring_size + c.segment_size, "allocated during the run: %llu",
                  (unsigned long long)max_alloc);
    cr_assert_leq(size, c.ring_size);
    cr_assert_gt(st.segments_recycled, 0);
    cr_assert_eq(st.segments_early, 0);

    size_t nf = seg_list(fseqs, 64);
    cr_assert_geq(nf, 2);
    cr_assert_eq(st.segments_created - st.segments_recycled, nf);
    cr_assert_gt(fseqs[0], 1, "the oldest segments are gone");
    for (size_t j = 1; j < nf; j++)
        cr_assert_eq(fseqs[j], fseqs[j - 1] + 1, "the newest segments remain");
    cr_assert_eq(fseqs[nf - 1], st.segments_created);
    files_hold_suffix(&t, c.snaplen);
    for (size_t j = 0; j < nf; j++) { /* and tcpdump reads each one to its end */
        char path[256], cmd[512], *out = NULL;
        seg_path(path, sizeof path, fseqs[j]);
        snprintf(cmd, sizeof cmd, "tcpdump -n -r '%s' -w /dev/null 2>&1", path);
        int rc = pt_test_run(cmd, &out, NULL);
        cr_assert_eq(rc, 0, "tcpdump -r %s: %s", path, out ? out : "");
        cr_assert_null(strstr(out, "truncated"), "%s", out);
        free(out);
    }

    ix_open(&x);
    size_t ns = ix_segs(&x, seqs, recs, 64);
    cr_assert_eq(ns, nf);
    for (size_t j = 0; j < ns; j++) {
        cr_assert_eq(seqs[j], fseqs[j]);
        seg_check(&x, seqs[j], &recs[j]);
    }
    ix_all_named(&x, x.blocks, seqs, ns);
    ix_all_named(&x, x.keys, seqs, ns);
    ix_close(&x);
    traffic_free(&t);
}

/* One UDP frame of @len wire bytes for flow @hash at @ts. */
static void put_flow(struct pt_ring_prod *p, uint64_t hash, uint64_t ts, uint16_t len)
{
    uint8_t f[1600];
    struct pt_udp_spec s = {.src_ip = {10, 1, 0, 1},
                            .dst_ip = {10, 2, 0, 1},
                            .sport = (uint16_t)(1000 + hash % 100),
                            .dport = 53,
                            .payload = (uint16_t)(len - 42)};
    size_t n = pt_netns_udp_frame(f, sizeof f, &s);
    struct pt_ring_pkt pk = {.data = f,
                             .caplen = (uint32_t)n,
                             .wirelen = (uint32_t)n,
                             .ts_ns = ts,
                             .linktype = 1,
                             .flow_hash = hash};

    cr_assert_eq(n, len);
    pt_ring_put(p, &pk);
}

/* The per-flow cutoff keeps each flow's packets while it has carried fewer
 * than flow_cutoff bytes, counts the rest, starts again after an idle gap,
 * and never cuts a packet without a flow. */
Test(ring_writer, flow_cutoff)
{
    struct pt_ring_config c = rw_cfg();
    struct pt_ring_stats st;
    struct pt_ring *r;
    struct pt_ring_prod *p;
    uint64_t ts = T0;

    c.flow_cutoff = 2500;
    c.cutoff_idle_ns = 5000000000ull;
    c.cutoff_flows = 1024;
    r = rw_open(&c, 1);
    p = pt_ring_producer(r, 0);
    cr_assert(pt_ring_prod_cuts(p));
    for (int i = 0; i < 10; i++) { /* before: 0, 1000, 2000 kept; 3000.. cut */
        put_flow(p, 0x1111, ts += 1000, 1000);
        put_flow(p, 0x2222, ts += 1000, 1000);
        put_flow(p, 0, ts += 1000, 1000); /* no flow: always kept */
    }
    ts += 6000000000ull; /* idle past cutoff_idle_ns: 0x1111 starts again */
    for (int i = 0; i < 5; i++)
        put_flow(p, 0x1111, ts += 1000, 1000);
    pt_ring_close(r, &st);
    cr_assert_eq(st.packets, 3 + 3 + 10 + 3, "%llu", (unsigned long long)st.packets);
    cr_assert_eq(st.cutoff_pkts, 7 + 7 + 2);
    cr_assert_eq(st.cutoff_bytes, (7 + 7 + 2) * (RING_REC_HDR + 1000ull));
    cr_assert_eq(st.cutoff_resets, 0);

    /* one slot: two flows take it over from each other, and the cutoff then
     * keeps more than its bytes, never fewer */
    pt_test_rm_tree(rw_base);
    cr_assert_eq(mkdir(rw_base, 0700), 0);
    c.cutoff_flows = 1;
    r = rw_open(&c, 1);
    p = pt_ring_producer(r, 0);
    for (int i = 0; i < 6; i++)
        put_flow(p, i % 2 ? 0x3333 : 0x4444, ts += 1000, 1000);
    pt_ring_close(r, &st);
    cr_assert_eq(st.packets, 6);
    cr_assert_eq(st.cutoff_pkts, 0);
    cr_assert_eq(st.cutoff_resets, 5);
}

/* Remove the segs record of @seq with raw LMDB (the writer is closed). */
static void raw_del_seg(uint64_t seq)
{
    char p[256];
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    uint8_t kb[8];
    MDB_val k = {.mv_size = 8, .mv_data = kb};

    for (int i = 7; i >= 0; i--)
        kb[7 - i] = (uint8_t)(seq >> (8 * i));
    snprintf(p, sizeof p, "%s/index", rw_dir);
    cr_assert_eq(mdb_env_create(&env), 0);
    cr_assert_eq(mdb_env_set_maxdbs(env, 8), 0);
    cr_assert_eq(mdb_env_open(env, p, 0, 0644), 0);
    cr_assert_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
    cr_assert_eq(mdb_dbi_open(txn, "segs", 0, &dbi), 0);
    cr_assert_eq(mdb_del(txn, dbi, &k, NULL), 0);
    cr_assert_eq(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

static uint64_t file_size(uint64_t seq)
{
    char p[256];
    struct stat sb;

    seg_path(p, sizeof p, seq);
    return stat(p, &sb) == 0 ? (uint64_t)sb.st_size : UINT64_MAX;
}

Test(ring_writer, reconcile)
{
    struct pt_ring_config c = rw_cfg();
    struct traffic t = {0};
    struct pt_ring_stats st, st2;
    struct ix x;
    uint64_t fseqs[64], seqs[64];
    struct ring_seg_rec recs[64];
    char p[256];
    struct pt_ring *r = rw_open(&c, 1);

    put_range(pt_ring_producer(r, 0), &t, 0, 6000, c.snaplen);
    pt_ring_close(r, &st);
    size_t nf = seg_list(fseqs, 64);
    cr_assert_geq(nf, 4);

    /* garbage after the last segment's last record */
    uint64_t last = fseqs[nf - 1], last_len = file_size(last);
    seg_path(p, sizeof p, last);
    FILE *f = fopen(p, "ab");
    cr_assert_not_null(f);
    for (int i = 0; i < 1000; i++)
        fputc(0xa5, f);
    fclose(f);
    /* the first segment loses its record, the second its file */
    raw_del_seg(fseqs[0]);
    seg_path(p, sizeof p, fseqs[1]);
    cr_assert_eq(unlink(p), 0);

    r = rw_open(&c, 1);
    pt_ring_stats(r, &st2);
    cr_assert_eq(st2.reconciled_bytes, 1000);
    cr_assert_eq(st2.packets, st.packets, "counters are cumulative over runs");
    pt_ring_close(r, &st2);

    cr_assert_eq(file_size(last), last_len, "cut back to valid_len");
    cr_assert_eq(file_size(fseqs[0]), UINT64_MAX, "a file without a segs record is deleted");
    uint64_t now[64];
    size_t nn = seg_list(now, 64);
    cr_assert_eq(nn, nf - 2);
    ix_open(&x);
    size_t ns = ix_segs(&x, seqs, recs, 64);
    cr_assert_eq(ns, nn);
    uint64_t kept = 0;
    for (size_t j = 0; j < ns; j++) {
        cr_assert_eq(seqs[j], now[j]);
        cr_assert_eq(recs[j].closed, 1);
        kept += seg_check(&x, seqs[j], &recs[j]);
    }
    /* no entry names the two lost seqs */
    ix_all_named(&x, x.blocks, seqs, ns);
    ix_all_named(&x, x.keys, seqs, ns);
    ix_close(&x);
    cr_assert_eq(st2.reconciled_bytes, 1000);

    /* the remaining files hold the packets after the first two segments */
    files_hold(t.v + (t.n - kept), kept, c.snaplen);

    /* a third run writes on from the next seq */
    r = rw_open(&c, 1);
    put_range(pt_ring_producer(r, 0), NULL, 0, 10, c.snaplen);
    pt_ring_close(r, NULL);
    nn = seg_list(now, 64);
    cr_assert_eq(now[nn - 1], last + 1);
    traffic_free(&t);
}

static void wait_until(struct pt_ring *r, uint64_t packets, uint64_t lost_io)
{
    struct pt_ring_stats st;
    struct timespec ts = {0, 1000000L};

    for (int i = 0; i < 5000; i++) {
        pt_ring_stats(r, &st);
        if (st.packets >= packets && st.lost_io_pkts >= lost_io)
            return;
        nanosleep(&ts, NULL);
    }
    cr_assert_fail("timed out: packets %llu (want %llu), lost_io %llu (want %llu)",
                   (unsigned long long)st.packets, (unsigned long long)packets,
                   (unsigned long long)st.lost_io_pkts, (unsigned long long)lost_io);
}

/* Writeback errors (the fault tests make fdatasync or the waiting
 * sync_file_range fail with EIO, as a failing disk does): what no commit
 * named yet is given up and counted, the index names only data written
 * before or after the fault, and writing resumes once the disk is back. */
static int fail_wb; /* 1: fdatasync fails, 2: sync_file_range waits fail */

static int flaky_fdatasync(int fd)
{
    if (__atomic_load_n(&fail_wb, __ATOMIC_RELAXED) == 1) {
        errno = EIO;
        return -1;
    }
    return fdatasync(fd);
}

static int flaky_sync_range(int fd, off64_t off, off64_t len, unsigned int flags)
{
    if (__atomic_load_n(&fail_wb, __ATOMIC_RELAXED) == 2 && (flags & SYNC_FILE_RANGE_WAIT_AFTER)) {
        errno = EIO;
        return -1;
    }
    return sync_file_range(fd, off, len, flags);
}

static void writeback_fault(int mode)
{
    struct pt_ring_config c = rw_cfg();
    struct traffic t = {0};
    struct pt_ring_stats st;
    struct ix x;
    uint64_t seqs[64];
    struct ring_seg_rec recs[64];
    struct timespec past_retry = {1, 200000000L};
    uint64_t total = 0;
    struct pt_ring *r;

    ring_fdatasync = flaky_fdatasync;
    ring_sync_range = flaky_sync_range;
    c.sync = true;
    c.snaplen = 2048;
    c.chunk_size = 16384; /* several blocks per batch */
    r = rw_open(&c, 1);
    put_range(pt_ring_producer(r, 0), &t, 0, 500, c.snaplen); /* A: committed */
    pt_ring_flush(pt_ring_producer(r, 0), true);
    wait_until(r, 500, 0);
    __atomic_store_n(&fail_wb, mode, __ATOMIC_RELAXED);
    put_range(pt_ring_producer(r, 0), NULL, 500, 1000, c.snaplen); /* B: lost */
    pt_ring_flush(pt_ring_producer(r, 0), true);
    wait_until(r, 500, 500);
    __atomic_store_n(&fail_wb, 0, __ATOMIC_RELAXED);
    nanosleep(&past_retry, NULL); /* degraded drops untried for a second */
    put_range(pt_ring_producer(r, 0), &t, 1000, 1500, c.snaplen); /* C: committed */
    pt_ring_flush(pt_ring_producer(r, 0), true);
    wait_until(r, 1000, 500);
    pt_ring_close(r, &st);
    cr_assert_eq(st.packets, 1000);
    cr_assert_eq(st.lost_io_pkts, 500, "B, exactly: %llu", (unsigned long long)st.lost_io_pkts);
    cr_assert_gt(st.write_errors, 0);
    cr_assert(!st.degraded);
    files_hold(t.v, t.n, c.snaplen); /* A then C, nothing of B */

    ix_open(&x);
    size_t n = ix_segs(&x, seqs, recs, 64);
    for (size_t i = 0; i < n; i++)
        total += seg_check(&x, seqs[i], &recs[i]);
    cr_assert_eq(total, 1000, "the index names A and C only");
    ix_all_named(&x, x.blocks, seqs, n);
    ix_all_named(&x, x.keys, seqs, n);
    ix_close(&x);
    traffic_free(&t);
}

Test(ring_writer, fdatasync_error_gives_up_the_uncommitted)
{
    writeback_fault(1);
}

Test(ring_writer, writeback_wait_error_gives_up_the_uncommitted)
{
    writeback_fault(2);
}

Test(ring_writer, crash)
{
    struct pt_ring_config c = rw_cfg();
    struct traffic t = {0};
    struct pt_ring_stats st;
    uint64_t bytes_b = 0;
    int status;
    pid_t pid;

    c.commit_ms = 1000;
    /* the child puts A (and waits for a commit to record it), then B
     * (written, not committed), and is killed */
    pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        char msg[256];
        int err;
        struct pt_ring *r = pt_ring_open(&c, 1, &err, msg, sizeof msg);
        if (!r)
            _exit(2);
        put_range(pt_ring_producer(r, 0), NULL, 0, 300, c.snaplen);
        pt_ring_flush(pt_ring_producer(r, 0), true);
        struct pt_ring_stats s;
        for (int i = 0; i < 3000; i++) { /* the first commit records A */
            pt_ring_stats(r, &s);
            if (s.packets == 300)
                break;
            struct timespec ts = {0, 1000000L};
            nanosleep(&ts, NULL);
        }
        if (s.packets != 300)
            _exit(3);
        put_range(pt_ring_producer(r, 0), NULL, 300, 400, c.snaplen);
        pt_ring_flush(pt_ring_producer(r, 0), true);
        struct timespec ts = {0, 100 * 1000000L}; /* written, well before the next commit */
        nanosleep(&ts, NULL);
        kill(getpid(), SIGKILL);
        _exit(4);
    }
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "child status %d", status);

    for (size_t i = 300; i < 400; i++)
        bytes_b +=
            RING_REC_HDR + (14 + 20 + 8 + payload_of(i) + (i % 4 == 1 || i % 4 == 2 ? 4 : 0));
    struct pt_ring *r = rw_open(&c, 1);
    pt_ring_stats(r, &st);
    cr_assert_eq(st.reconciled_bytes, bytes_b, "B is cut off: %llu, want %llu",
                 (unsigned long long)st.reconciled_bytes, (unsigned long long)bytes_b);
    cr_assert_eq(st.packets, 300);
    pt_ring_close(r, NULL);
    /* every committed packet is there, nothing else */
    put_range(NULL, &t, 0, 300, c.snaplen);
    files_hold(t.v, t.n, c.snaplen);
    traffic_free(&t);
}

Test(ring_writer, lost_full)
{
    struct pt_ring_config c = rw_cfg();
    struct pt_ring_stats st;
    struct traffic t = {0};
    const size_t n = 20000;
    struct pt_ring *r;

    c.chunks = 2; /* the writer, polling every 2 ms, cannot keep up */
    c.chunk_size = 4096;
    c.snaplen = 1500;
    r = rw_open(&c, 1);
    t.v = calloc(n, sizeof *t.v);
    for (size_t i = 0; i < n; i++)
        put_one(pt_ring_producer(r, 0), &t, i, c.snaplen, 1000);
    pt_ring_close(r, &st);
    cr_assert_gt(st.lost_full_pkts, 0);
    cr_assert_eq(st.packets + st.lost_full_pkts, n, "every packet written or counted");
    cr_assert_eq(st.lost_full_bytes + st.bytes,
                 n * (RING_REC_HDR + 14 + 20 + 8 + 1000) + (n / 2) * 4,
                 "bytes too (half are tagged)");
    /* the files hold exactly the packets counted as written */
    uint64_t seqs[256], cnt = 0;
    size_t nf = seg_list(seqs, 256);
    for (size_t i = 0; i < nf; i++) {
        char p[256], eb[PCAP_ERRBUF_SIZE];
        struct pcap_pkthdr *h;
        const u_char *d;
        seg_path(p, sizeof p, seqs[i]);
        pcap_t *pc = pcap_open_offline_with_tstamp_precision(p, PCAP_TSTAMP_PRECISION_NANO, eb);
        cr_assert_not_null(pc, "%s", eb);
        while (pcap_next_ex(pc, &h, &d) == 1)
            cnt++;
        pcap_close(pc);
    }
    cr_assert_eq(cnt, st.packets);
    traffic_free(&t);
}

Test(ring_writer, flush_by_age)
{
    struct pt_ring_config c = rw_cfg();
    struct pt_ring_stats st;
    struct pt_ring *r;
    struct pt_ring_prod *p;
    struct timespec ts = {0, 60 * 1000000L};

    c.commit_ms = 100; /* chunks older than 25 ms go */
    r = rw_open(&c, 2);
    p = pt_ring_producer(r, 1);
    put_range(p, NULL, 0, 10, c.snaplen);
    pt_ring_flush(p, false); /* stamps the chunk */
    nanosleep(&ts, NULL);
    pt_ring_stats(r, &st);
    cr_assert_eq(st.packets, 0, "a partial chunk waits for its age");
    pt_ring_flush(p, false); /* now old enough */
    wait_until(r, 10, 0);
    pt_ring_close(r, &st);
    cr_assert_eq(st.packets, 10);
}

Test(ring_writer, linktype_and_iface)
{
    struct pt_ring_config c = rw_cfg();
    struct pt_ring_stats st;
    struct pt_ring *r = rw_open(&c, 1);
    struct pt_ring_prod *p = pt_ring_producer(r, 0);
    uint8_t ip[28] = {0x45, 0, 0,  28, 0, 0, 0,    0,    64, 17, 0, 0, 10, 0,
                      0,    1, 10, 0,  0, 2, 0x30, 0x39, 0,  53, 0, 8, 0,  0};
    struct pt_ring_pkt raw = {.data = ip, .caplen = 28, .wirelen = 28, .linktype = 228};
    uint64_t seqs[16];

    put_range(p, NULL, 0, 5, c.snaplen);
    for (int i = 0; i < 5; i++) {
        raw.ts_ns = T0 + 1000000000ull + (uint64_t)i;
        pt_ring_put(p, &raw);
    }
    put_range(p, NULL, 5, 10, c.snaplen);
    pt_ring_close(r, &st);
    cr_assert_eq(st.packets, 15);
    cr_assert_eq(seg_list(seqs, 16), 3, "a link type change closes the segment");
    for (int i = 0; i < 3; i++) {
        char path[256], eb[PCAP_ERRBUF_SIZE];
        seg_path(path, sizeof path, seqs[i]);
        pcap_t *pc = pcap_open_offline(path, eb);
        cr_assert_not_null(pc, "%s", eb);
        cr_assert_eq(pcap_datalink(pc), i == 1 ? DLT_IPV4 : DLT_EN10MB);
        pcap_close(pc);
    }

    /* the IPv4 segment is indexed through the raw link type */
    struct ix x;
    uint64_t s[16];
    struct ring_seg_rec rec[16];
    ix_open(&x);
    cr_assert_eq(ix_segs(&x, s, rec, 16), 3);
    cr_assert_eq(rec[1].linktype, 228);
    uint8_t kb[8 + 1 + 2] = {0};
    for (int i = 7; i >= 0; i--)
        kb[7 - i] = (uint8_t)(s[1] >> (8 * i));
    kb[8] = RING_KEY_PORT;
    kb[9] = 0;
    kb[10] = 53;
    MDB_val k = {.mv_size = sizeof kb, .mv_data = kb}, d;
    cr_assert_eq(mdb_get(x.txn, x.keys, &k, &d), 0, "port 53 in the raw IPv4 segment");
    uint32_t blk[4];
    cr_assert_eq(ix_list(&d, blk, 4), 1, "one block");
    ix_close(&x);
}

Test(ring_writer, busy_and_bad_config)
{
    struct pt_ring_config c = rw_cfg();
    char msg[256];
    int err = 0;
    struct pt_ring *r = rw_open(&c, 1);

    cr_assert_null(pt_ring_open(&c, 1, &err, msg, sizeof msg));
    cr_assert_eq(err, -EBUSY, "second writer: %s", msg);
    pt_ring_close(r, NULL);

    struct pt_ring_config b = c;
    b.ring_size = c.segment_size; /* segment must be at most half the ring */
    cr_assert_null(pt_ring_open(&b, 1, &err, msg, sizeof msg));
    cr_assert_eq(err, -EINVAL);
    b = c;
    b.chunk_size = b.snaplen; /* no room for a record header */
    cr_assert_null(pt_ring_open(&b, 1, &err, msg, sizeof msg));
    cr_assert_eq(err, -EINVAL);
    b = c;
    b.chunks = 1;
    cr_assert_null(pt_ring_open(&b, 1, &err, msg, sizeof msg));
    cr_assert_eq(err, -EINVAL);
    cr_assert_null(pt_ring_open(&c, 0, &err, msg, sizeof msg));
    cr_assert_eq(err, -EINVAL);
}

/* A ring whose index an older build wrote (version 1) is refused, the
 * versions and what to do in the message, and left as it was. */
Test(ring_writer, older_index_is_refused)
{
    struct pt_ring_config c = rw_cfg();
    struct traffic t = {0};
    char msg[512] = "", p[256];
    int err = 0;
    struct pt_ring *r = rw_open(&c, 1);
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    uint8_t v1[4] = {0, 0, 0, 1};
    MDB_val k = {7, "version"}, d = {4, v1};

    put_range(pt_ring_producer(r, 0), &t, 0, 100, c.snaplen);
    pt_ring_close(r, NULL);
    snprintf(p, sizeof p, "%s/index", rw_dir);
    cr_assert_eq(mdb_env_create(&env), 0);
    cr_assert_eq(mdb_env_set_maxdbs(env, 8), 0);
    cr_assert_eq(mdb_env_open(env, p, 0, 0644), 0);
    cr_assert_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
    cr_assert_eq(mdb_dbi_open(txn, "meta", 0, &dbi), 0);
    cr_assert_eq(mdb_put(txn, dbi, &k, &d, 0), 0);
    cr_assert_eq(mdb_txn_commit(txn), 0);
    mdb_env_close(env);

    cr_assert_null(pt_ring_open(&c, 1, &err, msg, sizeof msg));
    cr_assert_eq(err, PT_E_BADFILE, "%s", pt_strerror(err));
    cr_assert(strstr(msg, "version 1, of an older build; this program writes version 2"), "%s",
              msg);
    cr_assert(strstr(msg, "move the ring directory away"), "%s", msg);
    cr_assert_eq(files_hold(t.v, t.n, c.snaplen), 1, "the old segment is still there");
    traffic_free(&t);
}

/* A private tmpfs of @size at rw_dir (this test's own mount namespace). */
static bool small_disk(const char *size)
{
    char opt[64];

    if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        return false;
    mkdir(rw_dir, 0755);
    snprintf(opt, sizeof opt, "size=%s", size);
    return mount("tmpfs", rw_dir, "tmpfs", 0, opt) == 0;
}

Test(ring_writer, disk_full_recycles_early)
{
    struct pt_ring_config c = rw_cfg();
    struct pt_ring_stats st;
    struct ix x;
    uint64_t seqs[64], fseqs[64];
    struct ring_seg_rec recs[64];
    struct traffic t = {0};
    size_t i = 0;

    if (!small_disk("3584k"))
        cr_skip_test("no private tmpfs (needs CAP_SYS_ADMIN)");
    c.ring_size = 0; /* only the disk bounds it */
    struct pt_ring *r = rw_open(&c, 1);
    t.v = calloc(20000, sizeof *t.v);
    for (uint64_t n = 0; n < 10 * MIB;) {
        put_one(pt_ring_producer(r, 0), &t, i, c.snaplen, payload_of(i));
        n += RING_REC_HDR + t.v[i].caplen;
        if (++i % 1000 == 0) {
            struct timespec ts = {0, 10 * 1000000L};
            pt_ring_flush(pt_ring_producer(r, 0), true);
            nanosleep(&ts, NULL);
        }
    }
    pt_ring_close(r, &st);
    cr_assert_gt(st.segments_early, 0, "ENOSPC recycled the oldest");
    cr_assert_eq(st.packets + st.lost_io_pkts + st.lost_full_pkts, i);
    cr_assert_lt(st.lost_io_pkts, i / 2);

    /* the index and the files agree, and every file is a clean pcap */
    size_t nf = seg_list(fseqs, 64);
    ix_open(&x);
    size_t ns = ix_segs(&x, seqs, recs, 64);
    cr_assert_eq(ns, nf);
    for (size_t j = 0; j < ns; j++) {
        cr_assert_eq(seqs[j], fseqs[j]);
        seg_check(&x, seqs[j], &recs[j]);
    }
    ix_all_named(&x, x.blocks, seqs, ns);
    ix_all_named(&x, x.keys, seqs, ns);
    ix_close(&x);
    if (st.lost_io_pkts == 0)
        files_hold_suffix(&t, c.snaplen);
    traffic_free(&t);
}

Test(ring_writer, disk_full_degrades_and_recovers)
{
    struct pt_ring_config c = rw_cfg();
    struct pt_ring_stats st;
    struct traffic t = {0};
    struct timespec ts = {0, 50 * 1000000L};
    size_t i = 0;

    if (!small_disk("768k")) /* less than one segment */
        cr_skip_test("no private tmpfs (needs CAP_SYS_ADMIN)");
    struct pt_ring *r = rw_open(&c, 1);
    struct pt_ring_prod *p = pt_ring_producer(r, 0);
    put_range(p, &t, 0, 100, c.snaplen);
    i = 100;
    pt_ring_flush(p, true);
    wait_until(r, 0, 100);
    pt_ring_stats(r, &st);
    cr_assert(st.degraded);
    cr_assert_gt(st.write_errors, 0);
    cr_assert_eq(st.packets, 0);

    /* chunks keep coming while the disk is full, and after it has room */
    for (int k = 0; k < 6; k++, i += 10) {
        put_range(p, &t, i, i + 10, c.snaplen);
        pt_ring_flush(p, true);
        nanosleep(&ts, NULL);
    }
    cr_assert_eq(mount("tmpfs", rw_dir, "tmpfs", MS_REMOUNT, "size=16m"), 0);
    for (int k = 0; k < 60; k++) { /* the writer tries again within a second */
        put_range(p, &t, i, i + 10, c.snaplen);
        i += 10;
        pt_ring_flush(p, true);
        nanosleep(&ts, NULL);
        pt_ring_stats(r, &st);
        if (st.packets > 0 && k > 2)
            break;
    }
    cr_assert_gt(st.packets, 0, "writing resumed");
    cr_assert_not(st.degraded, "writing again");
    pt_ring_close(r, &st);
    cr_assert_eq(st.lost_io_pkts + st.packets, i, "every packet written or counted");
    cr_assert_geq(st.lost_io_pkts, 160);
    /* after the outage every packet is in the files */
    cr_assert_lt(st.packets, t.n);
    files_hold(t.v + (t.n - st.packets), st.packets, c.snaplen);
    traffic_free(&t);
}

struct prod_arg {
    struct pt_ring_prod *p;
    size_t from, to;
};

static void *prod_main(void *arg)
{
    struct prod_arg *a = arg;
    struct timespec ts = {0, 2 * 1000000L};

    for (size_t i = a->from; i < a->to; i++) {
        put_one(a->p, NULL, i, 0, payload_of(i));
        if (i % 500 == 499)
            nanosleep(&ts, NULL);
    }
    pt_ring_flush(a->p, true);
    return NULL;
}

Test(ring_writer, two_producers)
{
    struct pt_ring_config c = rw_cfg();
    struct traffic ta = {0}, tb = {0};
    struct pt_ring_stats st;
    struct pt_ring *r = rw_open(&c, 2);
    struct prod_arg a = {pt_ring_producer(r, 0), 0, 3000};
    struct prod_arg b = {pt_ring_producer(r, 1), 100000, 103000};
    const uint64_t split = T0 + 100000 * 1000003ull;
    pthread_t th[2];
    uint64_t seqs[64];
    size_t ia = 0, ib = 0;

    put_range(NULL, &ta, a.from, a.to, c.snaplen);
    put_range(NULL, &tb, b.from, b.to, c.snaplen);
    cr_assert_eq(pthread_create(&th[0], NULL, prod_main, &a), 0);
    cr_assert_eq(pthread_create(&th[1], NULL, prod_main, &b), 0);
    pthread_join(th[0], NULL);
    pthread_join(th[1], NULL);
    pt_ring_close(r, &st);
    cr_assert_eq(st.lost_full_pkts, 0);
    cr_assert_eq(st.packets, 6000);

    /* each producer's packets are in the files in its order */
    size_t nf = seg_list(seqs, 64);
    for (size_t i = 0; i < nf; i++) {
        char p[256];
        size_t len;
        uint8_t *buf;
        seg_path(p, sizeof p, seqs[i]);
        buf = slurp(p, &len);
        for (size_t off = RING_PCAP_HDR; off < len;) {
            uint64_t ts = (uint64_t)rd32(buf + off) * 1000000000ull + rd32(buf + off + 4);
            uint32_t cap = rd32(buf + off + 8);
            const struct xpkt *x = ts < split ? &ta.v[ia++] : &tb.v[ib++];
            cr_assert_leq(ia, ta.n);
            cr_assert_leq(ib, tb.n);
            cr_assert_eq(ts, x->ts);
            cr_assert_eq(cap, x->caplen);
            cr_assert_eq(memcmp(buf + off + RING_REC_HDR, x->data, cap), 0);
            off += RING_REC_HDR + cap;
        }
        free(buf);
    }
    cr_assert_eq(ia, 3000);
    cr_assert_eq(ib, 3000);

    /* blocks name the producer whose packets they hold */
    struct ix x;
    MDB_cursor *cu;
    MDB_val k, d;
    unsigned seen[2] = {0, 0};
    ix_open(&x);
    cr_assert_eq(mdb_cursor_open(x.txn, x.blocks, &cu), 0);
    for (int rc = mdb_cursor_get(cu, &k, &d, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cu, &k, &d, MDB_NEXT)) {
        struct ring_blk_rec br;
        memcpy(&br, d.mv_data, sizeof br);
        cr_assert_lt(br.producer, 2);
        cr_assert_eq(br.first_ns < split, br.producer == 0);
        cr_assert_eq(br.last_ns < split, br.producer == 0);
        seen[br.producer]++;
    }
    mdb_cursor_close(cu);
    ix_close(&x);
    cr_assert(seen[0] && seen[1]);
    traffic_free(&ta);
    traffic_free(&tb);
}

Test(ring_writer, index_map_limit_recycles)
{
    struct pt_ring_config c = rw_cfg();
    struct pt_ring_stats st;
    struct traffic t = {0};
    struct ix x;
    uint64_t seqs[256], fseqs[256];
    struct ring_seg_rec recs[256];
    const size_t n = 24000;
    struct pt_ring *r;

    c.index_map_max = 1 * MIB; /* the least: the index fills long before the disk */
    c.chunks = 512;
    r = rw_open(&c, 1);
    t.v = calloc(n, sizeof *t.v);
    for (size_t i = 0; i < n; i++) { /* every packet a new host and a new flow */
        uint8_t fr[1600];
        struct pt_udp_spec s = {.src_ip = {10, (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i},
                                .dst_ip = {10, 200, 0, 1},
                                .sport = 7,
                                .dport = 9,
                                .payload = 400};
        size_t len = pt_netns_udp_frame(fr, sizeof fr, &s);
        struct pt_ring_pkt pk = {.data = fr,
                                 .caplen = (uint32_t)len,
                                 .wirelen = (uint32_t)len,
                                 .ts_ns = T0 + i,
                                 .linktype = 1};
        pt_ring_put(pt_ring_producer(r, 0), &pk);
        struct xpkt *e = &t.v[t.n++];
        e->ts = pk.ts_ns;
        e->caplen = e->wirelen = (uint32_t)len;
        e->data = malloc(len);
        memcpy(e->data, fr, len);
        if (i % 2000 == 1999) {
            struct timespec ts = {0, 10 * 1000000L};
            pt_ring_flush(pt_ring_producer(r, 0), true);
            nanosleep(&ts, NULL);
        }
    }
    pt_ring_close(r, &st);
    cr_assert_eq(st.lost_full_pkts, 0);
    cr_assert_gt(st.segments_recycled, 0, "the full map recycled the oldest");
    cr_assert_eq(st.segments_early, 0, "not for a full disk");
    cr_assert_eq(st.index_errors, 0);
    cr_assert_eq(st.packets, n);

    size_t nf = seg_list(fseqs, 256);
    ix_open(&x);
    size_t ns = ix_segs(&x, seqs, recs, 256);
    cr_assert_eq(ns, nf);
    for (size_t j = 0; j < ns; j++)
        cr_assert_eq(seqs[j], fseqs[j]);
    ix_all_named(&x, x.blocks, seqs, ns);
    ix_all_named(&x, x.keys, seqs, ns);
    ix_close(&x);
    files_hold_suffix(&t, c.snaplen);
    traffic_free(&t);
}

Test(ring_writer, keep_free_pct)
{
    struct pt_ring_config c = rw_cfg();
    struct pt_ring_stats st;
    struct statvfs sv;
    size_t i = 0;

    if (!small_disk("8m"))
        cr_skip_test("no private tmpfs (needs CAP_SYS_ADMIN)");
    c.keep_free_pct = 25; /* keep 2 MiB free */
    struct pt_ring *r = rw_open(&c, 1);
    for (uint64_t n = 0; n < 16 * MIB; i++) {
        put_one(pt_ring_producer(r, 0), NULL, i, 0, payload_of(i));
        n += RING_REC_HDR + 14 + 20 + 8 + payload_of(i);
        if (i % 1000 == 999) {
            struct timespec ts = {0, 10 * 1000000L};
            pt_ring_flush(pt_ring_producer(r, 0), true);
            nanosleep(&ts, NULL);
            cr_assert_eq(statvfs(rw_dir, &sv), 0);
            /* the bound is checked before each new segment: never more
             * than that segment under it */
            cr_assert_geq((sv.f_bavail + 256) * sv.f_frsize, sv.f_blocks * sv.f_frsize / 4,
                          "free space kept during the run");
        }
    }
    pt_ring_close(r, &st);
    cr_assert_gt(st.segments_recycled, 0);
    cr_assert_eq(st.segments_early, 0, "the disk never filled");
    cr_assert_eq(st.lost_io_pkts, 0);
    cr_assert_eq(st.packets, i);
    cr_assert_eq(statvfs(rw_dir, &sv), 0);
    cr_assert_geq(sv.f_bavail * 4, sv.f_blocks, "a quarter of the disk is free");
}

/* ---- the index's size ---- */

/* A deterministic mix with many keys, as a sensor sees (unlike put_one's
 * few): 512 concurrent flows between 3000 hosts of skewed popularity in
 * 10.3/16, client ports at random, server ports 53, 80, 443 or random, a
 * quarter on VLANs 10-13; a flow sends trains of 1-16 packets of 40..1400
 * bytes of payload, either way, and after 4-400 packets a new flow takes
 * its place. */
struct mix {
    uint64_t rng;
    struct {
        struct pt_udp_spec s;
        uint32_t left;
    } f[512];
};

static uint64_t mix_rnd(struct mix *m)
{
    m->rng ^= m->rng << 13, m->rng ^= m->rng >> 7, m->rng ^= m->rng << 17;
    return m->rng;
}

static void mix_flow(struct mix *m, unsigned i)
{
    static const uint16_t srv[4] = {53, 80, 443, 0};
    struct pt_udp_spec *s = &m->f[i].s;
    uint64_t r = mix_rnd(m);
    uint32_t a = (uint32_t)(r % 3000), b = (uint32_t)((r >> 12) % 3000);

    a = a * a / 3000; /* popular low numbers */
    b = b * b / 3000;
    memset(s, 0, sizeof *s);
    s->src_ip[0] = 10, s->src_ip[1] = 3, s->src_ip[2] = (uint8_t)(a >> 8),
    s->src_ip[3] = (uint8_t)a;
    s->dst_ip[0] = 10, s->dst_ip[1] = 3, s->dst_ip[2] = (uint8_t)(b >> 8),
    s->dst_ip[3] = (uint8_t)b;
    s->sport = (uint16_t)(1024 + (r >> 24) % 60000);
    s->dport = srv[(r >> 40) % 4] ? srv[(r >> 40) % 4] : (uint16_t)(r >> 44);
    if ((r >> 62) == 3) {
        s->outer_tpid = 0x8100;
        s->outer_vid = (uint16_t)(10 + a % 4);
    }
    m->f[i].left = 4 + (uint32_t)((r >> 50) % 397);
}

static void mix_init(struct mix *m, uint64_t seed)
{
    m->rng = seed;
    for (unsigned i = 0; i < 512; i++)
        mix_flow(m, i);
}

/* The next train: up to 16 frames into @fr (1600 bytes each), @len set. */
static unsigned mix_train(struct mix *m, uint8_t (*fr)[1600], size_t *len)
{
    uint64_t r = mix_rnd(m);
    unsigned i = (unsigned)(r % 512), n = 1 + (unsigned)((r >> 10) % 16);
    struct pt_udp_spec s = m->f[i].s;

    if (n > m->f[i].left)
        n = m->f[i].left;
    if ((r >> 20) & 1) { /* the other way */
        memcpy(s.src_ip, m->f[i].s.dst_ip, 4);
        memcpy(s.dst_ip, m->f[i].s.src_ip, 4);
        s.sport = m->f[i].s.dport;
        s.dport = m->f[i].s.sport;
        s.reverse_macs = true;
    }
    for (unsigned k = 0; k < n; k++) {
        s.payload = (uint16_t)(40 + (mix_rnd(m) >> 20) % 1361);
        len[k] = pt_netns_udp_frame(fr[k], sizeof fr[k], &s);
    }
    if ((m->f[i].left -= n) == 0)
        mix_flow(m, i);
    return n;
}

/* The bytes of the parts (16 KiB, format.h) of segment @seq's blocks that
 * hold a packet of IPv4 host @h: what an extraction of the host reads. */
static uint64_t host_part_bytes(struct ix *x, uint64_t seq, const uint8_t h[4])
{
    char p[256];
    size_t len;
    uint8_t kb[8], *b;
    MDB_cursor *c;
    MDB_val k = {8, kb}, d;
    uint64_t sum = 0;

    seg_path(p, sizeof p, seq);
    b = slurp(p, &len);
    for (int i = 7; i >= 0; i--)
        kb[7 - i] = (uint8_t)(seq >> (8 * i));
    cr_assert_eq(mdb_cursor_open(x->txn, x->blocks, &c), 0);
    for (int rc = mdb_cursor_get(c, &k, &d, MDB_SET_RANGE); rc == 0 && be64(k.mv_data) == seq;
         rc = mdb_cursor_get(c, &k, &d, MDB_NEXT)) {
        struct ring_blk_rec br;
        uint32_t beg[17] = {0};
        memcpy(&br, d.mv_data, sizeof br);
        memcpy(beg + 1, (uint8_t *)d.mv_data + sizeof br, 4 * (br.parts - 1));
        beg[br.parts] = br.len;
        for (uint32_t q = 0; q < br.parts; q++) {
            bool has = false;
            for (uint64_t o = br.off + beg[q]; o < br.off + beg[q + 1];) {
                const uint8_t *f = b + o + RING_REC_HDR;
                uint32_t ipo = f[12] == 0x81 ? 18 : 14;
                has |= !memcmp(f + ipo + 12, h, 4) || !memcmp(f + ipo + 16, h, 4);
                o += RING_REC_HDR + rd32(b + o + 8);
            }
            sum += has ? beg[q + 1] - beg[q] : 0;
        }
    }
    mdb_cursor_close(c);
    free(b);
    return sum;
}

/* The index stays compact while a ring recycles and commits several times
 * per segment: commits come only where the test asks for them
 * (pt_ring_commit(), so the run does not depend on the machine's speed),
 * at each segment's close and at the end. Every key of every segment names
 * exactly its parts, the keys' leaf pages are nearly full once every
 * segment is closed (each closed segment's keys are written once, sorted,
 * at its close: index.c DESIGN 2), and an extraction after all those
 * commits of the open segment's keys is byte-exact. The index's share of
 * the ring depends on segment size and traffic, and is measured by
 * bench/ring (docs/PERFORMANCE.md), not here. */
Test(ring_writer, index_compact, .timeout = 60)
{
    struct pt_ring_config c = rw_cfg();
    struct pt_ring_status rs;
    struct pt_ring_stats st;
    static uint8_t fr[16][1600];
    size_t len[16];
    struct mix mx;
    struct traffic want = {0};
    const uint8_t host[4] = {10, 3, 0, 40};
    char msg[256] = "";
    size_t n = 0, trains = 0;
    uint64_t asked = 0;

    c.segment_size = 4 * MIB;
    c.ring_size = 24 * MIB;
    c.chunk_size = 1 * MIB;
    c.chunks = 16;
    c.commit_ms = 3600 * 1000; /* no commit by the clock: only those asked for, closes, end */
    c.wait_when_full = true;
    mix_init(&mx, 88172645463325252ull);
    struct pt_ring *r = rw_open(&c, 1);
    want.v = calloc(100000, sizeof *want.v);
    for (uint64_t bytes = 0; bytes < 48 * MIB; trains++) {
        unsigned nt = mix_train(&mx, fr, len);
        for (unsigned j = 0; j < nt; j++, n++) {
            struct pt_ring_pkt pk = {.data = fr[j], .caplen = (uint32_t)len[j]};
            pk.wirelen = pk.caplen;
            pk.ts_ns = T0 + n * 10000ull;
            pk.linktype = 1;
            pt_ring_put(pt_ring_producer(r, 0), &pk);
            bytes += RING_REC_HDR + len[j];
            uint32_t ipo = fr[j][12] == 0x81 ? 18 : 14;
            if (!memcmp(fr[j] + ipo + 12, host, 4) || !memcmp(fr[j] + ipo + 16, host, 4)) {
                cr_assert_lt(want.n, 100000);
                struct xpkt *x = &want.v[want.n++];
                x->ts = pk.ts_ns;
                x->caplen = x->wirelen = (uint32_t)len[j];
                x->data = malloc(len[j]);
                memcpy(x->data, fr[j], len[j]);
            }
        }
        if (trains % 100 == 99) { /* about 0.6 MB: several commits of each open segment */
            pt_ring_flush(pt_ring_producer(r, 0), true);
            cr_assert_eq(pt_ring_commit(r), 0);
            asked++;
            pt_ring_stats(r, &st);
            cr_assert_geq(st.index_commits, asked, "each pt_ring_commit() commits");
            cr_assert_eq(st.packets, n, "it names every packet handed over");
        }
    }
    pt_ring_close(r, &st);
    cr_assert_eq(st.packets, n);
    cr_assert_gt(st.segments_recycled, 0);
    cr_assert_gt(asked, 4 * st.segments_created,
                 "several commits of each open segment: %llu, %llu segments",
                 (unsigned long long)asked, (unsigned long long)st.segments_created);
    cr_assert_gt(st.index_commits, asked);
    cr_assert_eq(st.index_errors + st.index_lost_keys, 0);
    cr_assert_eq(pt_ring_status_read(rw_dir, &rs, msg, sizeof msg), 0, "%s", msg);

    /* the keys' leaf pages hold their entries (node header, key, list,
     * slot) with little slack */
    struct ix x;
    MDB_stat ks;
    MDB_cursor *cu;
    MDB_val k, d;
    uint64_t used = 0;
    ix_open(&x);
    cr_assert_eq(mdb_stat(x.txn, x.keys, &ks), 0);
    cr_assert_eq(mdb_cursor_open(x.txn, x.keys, &cu), 0);
    for (int rc = mdb_cursor_get(cu, &k, &d, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cu, &k, &d, MDB_NEXT))
        used += 8 + k.mv_size + d.mv_size + 2;
    mdb_cursor_close(cu);
    uint64_t seqs[16];
    struct ring_seg_rec recs[16];
    size_t ns = ix_segs(&x, seqs, recs, 16);
    uint64_t part_bytes = 0;
    cr_assert_geq(ns, 4);
    for (size_t j = 0; j < ns; j++) { /* every key of every segment names exactly its parts */
        seg_check(&x, seqs[j], &recs[j]);
        part_bytes += host_part_bytes(&x, seqs[j], host);
    }
    ix_close(&x);
    double fill = (double)used / ((double)ks.ms_leaf_pages * (ks.ms_psize - 16));
    cr_log_info("index_compact: %zu packets, %llu commits (%llu asked for), %llu segments; "
                "data.mdb %llu bytes = %.3f%% of %llu committed; keys %zu entries in %zu leaf "
                "pages, %.1f%% full",
                n, (unsigned long long)st.index_commits, (unsigned long long)asked,
                (unsigned long long)rs.segments, (unsigned long long)rs.index_bytes,
                100.0 * (double)rs.index_bytes / (double)rs.bytes, (unsigned long long)rs.bytes,
                ks.ms_entries, ks.ms_leaf_pages, 100 * fill);
    /* every segment is closed, its keys written once in key order: the
     * pages are full but for the last of each run and the first after a
     * recycled segment's range went (measured 9x.x %; lists grown in place
     * over the commits and keys put in hash order left them about 65 %) */
    cr_assert_geq(fill, 0.90, "keys' leaf pages %.1f%% full", 100 * fill);

    /* every packet of the host still in the ring, byte for byte */
    struct pt_ring_query q = {.to_ns = UINT64_MAX, .by_host = true};
    struct pt_ring_extract_stats xs;
    char out[192];
    q.host[10] = q.host[11] = 0xff;
    memcpy(q.host + 12, host, 4);
    snprintf(out, sizeof out, "%s/host.pcap", rw_base);
    FILE *f = fopen(out, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(pt_ring_extract(rw_dir, &q, PT_RING_OUT_PCAP, f, &xs, msg, sizeof msg), 0, "%s",
                 msg);
    cr_assert_eq(fclose(f), 0);
    char eb[PCAP_ERRBUF_SIZE];
    pcap_t *pc = pcap_open_offline_with_tstamp_precision(out, PCAP_TSTAMP_PRECISION_NANO, eb);
    cr_assert_not_null(pc, "%s", eb);
    struct pcap_pkthdr *h;
    const u_char *pd;
    size_t i = 0, got = 0;
    while (i < want.n && want.v[i].ts < rs.oldest_ns)
        i++;
    cr_assert_gt(want.n - i, 10, "the host is in the ring (%zu of its packets)", want.n - i);
    for (; pcap_next_ex(pc, &h, &pd) == 1; i++, got++) {
        cr_assert_lt(i, want.n, "more packets than the host has");
        cr_assert_eq((uint64_t)h->ts.tv_sec * 1000000000ull + (uint64_t)h->ts.tv_usec,
                     want.v[i].ts);
        cr_assert_eq(h->caplen, want.v[i].caplen);
        cr_assert_eq(memcmp(pd, want.v[i].data, h->caplen), 0, "packet %zu", got);
    }
    pcap_close(pc);
    cr_assert_eq(i, want.n, "every packet of the host (%zu extracted)", got);
    cr_assert_eq(xs.packets, got);
    /* only the 16 KiB parts that hold the host were read, not whole blocks */
    cr_assert_eq(xs.bytes_read, part_bytes, "read %llu bytes, its parts hold %llu",
                 (unsigned long long)xs.bytes_read, (unsigned long long)part_bytes);
    cr_log_info("index_compact: host 10.3.0.40: %zu packets, %llu reads, %llu bytes", got,
                (unsigned long long)xs.blocks_read, (unsigned long long)xs.bytes_read);
    traffic_free(&want);
}

/* Trains of mix @m until @bytes of records were put through @p (NULL:
 * only counted). Returns the packets. */
static size_t mix_put(struct mix *m, struct pt_ring_prod *p, uint64_t bytes, size_t n0)
{
    static uint8_t fr[16][1600];
    size_t len[16], n = 0;

    for (uint64_t b = 0; b < bytes;) {
        unsigned nt = mix_train(m, fr, len);
        for (unsigned j = 0; j < nt; j++, n++) {
            struct pt_ring_pkt pk = {.data = fr[j], .caplen = (uint32_t)len[j]};
            pk.wirelen = pk.caplen;
            pk.ts_ns = T0 + (n0 + n) * 10000ull;
            pk.linktype = 1;
            if (p)
                pt_ring_put(p, &pk);
            b += RING_REC_HDR + len[j];
        }
    }
    return n;
}

/* A crash after several commits of the open segment. Each of them wrote
 * only the keys that gained a part since the one before, in place (index.c
 * DESIGN 2), and reconcile keeps them as they are: every key must still
 * name exactly the parts of the committed blocks, none of the bytes
 * written after the last commit. */
Test(ring_writer, crash_after_commits_of_the_open_segment, .timeout = 30)
{
    struct pt_ring_config c = rw_cfg();
    struct pt_ring_stats st;
    struct mix mx;
    size_t n = 0;
    int status;
    pid_t pid;

    c.segment_size = 16 * MIB;
    c.commit_ms = 3600 * 1000; /* only the commits asked for */
    c.wait_when_full = true;
    pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        char msg[256];
        int err;
        struct pt_ring *r = pt_ring_open(&c, 1, &err, msg, sizeof msg);
        struct pt_ring_prod *p = r ? pt_ring_producer(r, 0) : NULL;
        if (!r)
            _exit(2);
        mix_init(&mx, 2463534242ull);
        for (int i = 0; i < 5; i++) { /* keys gain parts, new ones appear */
            n += mix_put(&mx, p, 2 * MIB, n);
            pt_ring_flush(p, true);
            if (pt_ring_commit(r) != 0)
                _exit(3);
            pt_ring_stats(r, &st);
            if (st.packets != n || st.segments_created != 1)
                _exit(4);
        }
        n += mix_put(&mx, p, 2 * MIB, n); /* written, never committed */
        pt_ring_flush(p, true);
        struct timespec ts = {0, 50 * 1000000L};
        nanosleep(&ts, NULL);
        kill(getpid(), SIGKILL);
        _exit(5);
    }
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "child status %d", status);
    mix_init(&mx, 2463534242ull);
    for (int i = 0; i < 5; i++)
        n += mix_put(&mx, NULL, 2 * MIB, n);

    struct pt_ring *r = rw_open(&c, 1);
    pt_ring_stats(r, &st);
    cr_assert_eq(st.packets, n, "the five commits' packets: %llu, want %zu",
                 (unsigned long long)st.packets, n);
    cr_assert_eq(st.index_commits, 5);
    pt_ring_close(r, NULL);
    struct ix x;
    uint64_t seqs[4];
    struct ring_seg_rec recs[4];
    ix_open(&x);
    cr_assert_eq(ix_segs(&x, seqs, recs, 4), 1);
    cr_assert_eq(seg_check(&x, seqs[0], &recs[0]), n, "every key exact, every packet there");
    ix_close(&x);
}

/* ---- recycled files rewritten in place ---- */

/* The inode of @seq's file; 0 when there is none. */
static ino_t seg_ino(uint64_t seq)
{
    char p[256];
    struct stat sb;

    seg_path(p, sizeof p, seq);
    return stat(p, &sb) == 0 ? sb.st_ino : 0;
}

/* Is @seq's file the one @fd holds open? (Held open, a file that was
 * deleted keeps its inode number, so a new file cannot take it.) */
static bool same_file(int fd, uint64_t seq)
{
    struct stat sb;

    cr_assert_eq(fstat(fd, &sb), 0);
    return seg_ino(seq) == sb.st_ino;
}

/* Put packets @*i, @*i + 1, ... until about @bytes of records. */
static void put_bytes(struct pt_ring_prod *p, struct traffic *t, size_t *i, uint64_t bytes,
                      uint32_t snap)
{
    for (uint64_t n = 0; n < bytes; (*i)++) {
        if (t)
            t->v = realloc(t->v, (t->n + 1) * sizeof *t->v);
        put_one(p, t, *i, snap, payload_of(*i));
        n += RING_REC_HDR + 14 + 20 + 8 + payload_of(*i) + 4;
    }
    if (p)
        pt_ring_flush(p, true);
}

/* The first run of the reuse tests: 3.5 segments into a ring of 4, so the
 * next segment must recycle seq 1. Returns the packets put; @fd[1..4] get
 * the files of seqs 1..4, held open. Seq 1's records are then zeroed: a
 * pcap reader would take those bytes for empty packets, so one that ran
 * past the new packets into them would show. */
static size_t ring_of_four(struct pt_ring_config *c, struct traffic *t, int fd[5])
{
    static const uint8_t zero[4096];
    char p[256];
    struct pt_ring_stats st;
    uint64_t seqs[64];
    size_t i = 0;

    c->ring_size = 4 * MIB;
    c->chunks = 64;
    c->wait_when_full = true;
    struct pt_ring *r = rw_open(c, 1);
    put_bytes(pt_ring_producer(r, 0), t, &i, 7 * MIB / 2, c->snaplen);
    pt_ring_close(r, &st);
    cr_assert_eq(st.packets, i);
    cr_assert_eq(seg_list(seqs, 64), 4);
    cr_assert_eq(seqs[3], 4);
    for (uint64_t s = 1; s <= 4; s++) {
        seg_path(p, sizeof p, s);
        cr_assert_geq(fd[s] = open(p, O_RDWR | O_CLOEXEC), 0);
    }
    uint64_t len1 = file_size(1);
    for (uint64_t off = RING_PCAP_HDR; off < len1; off += sizeof zero)
        cr_assert_gt(pwrite(fd[1], zero, sizeof zero, (off_t)off), 0);
    cr_assert_eq(ftruncate(fd[1], (off_t)len1), 0); /* the last pwrite went past */
    return i;
}

static void close_four(int fd[5])
{
    for (int s = 1; s <= 4; s++)
        close(fd[s]);
}

/* Read @seq's file with libpcap: the packets must be @x[0..n), then the
 * stale mark must stop the reader (the old segment's bytes follow). */
static void pcap_reads_then_stops(uint64_t seq, const struct xpkt *x, size_t n)
{
    char p[256], err[PCAP_ERRBUF_SIZE];
    struct pcap_pkthdr *h;
    const u_char *d;
    size_t k = 0;
    int rc;

    seg_path(p, sizeof p, seq);
    pcap_t *pc = pcap_open_offline_with_tstamp_precision(p, PCAP_TSTAMP_PRECISION_NANO, err);
    cr_assert_not_null(pc, "%s", err);
    while ((rc = pcap_next_ex(pc, &h, &d)) == 1) {
        cr_assert_lt(k, n, "a packet past the %zu written: the old segment's", n);
        cr_assert_eq((uint64_t)h->ts.tv_sec * 1000000000ull + (uint64_t)h->ts.tv_usec, x[k].ts);
        cr_assert_eq(h->caplen, x[k].caplen);
        cr_assert_eq(memcmp(d, x[k].data, h->caplen), 0, "packet %zu", k);
        k++;
    }
    cr_assert_eq(k, n, "packets read before the mark");
    cr_assert_eq(rc, -1, "libpcap stops with an error at the mark, not at the end (%d)", rc);
    cr_assert_not_null(strstr(pcap_geterr(pc), "invalid packet capture length"), "%s",
                       pcap_geterr(pc));
    pcap_close(pc);
}

/* A new segment takes the file of the segment the bound recycles, renamed
 * and rewritten in place (writer.c DESIGN 3). While it is open, a pcap
 * reader gets exactly the new packets and stops at the stale mark; once
 * closed, it is cut to its length: every file and the index then hold
 * exactly the newest packets, byte for byte. */
Test(ring_writer, recycled_file_is_rewritten_in_place)
{
    struct pt_ring_config c = rw_cfg();
    struct traffic t = {0};
    struct pt_ring_stats st;
    struct ix x;
    uint64_t seqs[64], fseqs[64];
    struct ring_seg_rec recs[64];
    int fd[5];
    size_t n1 = ring_of_four(&c, &t, fd), i = n1;

    struct pt_ring *r = rw_open(&c, 1);
    put_bytes(pt_ring_producer(r, 0), &t, &i, MIB / 3, c.snaplen);
    wait_until(r, i, 0);
    cr_assert_eq(seg_ino(1), 0, "seq 1 is recycled");
    cr_assert(same_file(fd[1], 5), "seq 5 is seq 1's file");
    cr_assert_gt(file_size(5), MIB / 2, "the old bytes are still in the open file");
    pcap_reads_then_stops(5, t.v + n1, i - n1);

    put_bytes(pt_ring_producer(r, 0), &t, &i, MIB, c.snaplen);
    pt_ring_close(r, &st);
    cr_assert_eq(st.packets, i);
    cr_assert_eq(st.segments_recycled, 2);
    cr_assert(same_file(fd[2], 6), "seq 6 is seq 2's file");
    size_t nf = seg_list(fseqs, 64);
    cr_assert_eq(nf, 4);
    cr_assert_eq(fseqs[0], 3);
    files_hold_suffix(&t, c.snaplen);
    for (size_t j = 0; j < nf; j++) { /* closed: cut, tcpdump reads each to its end */
        char path[256], cmd[512], *out = NULL;
        seg_path(path, sizeof path, fseqs[j]);
        snprintf(cmd, sizeof cmd, "tcpdump -n -r '%s' -w /dev/null 2>&1", path);
        cr_assert_eq(pt_test_run(cmd, &out, NULL), 0, "tcpdump -r %s: %s", path, out ? out : "");
        free(out);
    }
    ix_open(&x);
    size_t ns = ix_segs(&x, seqs, recs, 64);
    cr_assert_eq(ns, nf);
    for (size_t j = 0; j < ns; j++) {
        cr_assert_eq(seqs[j], fseqs[j]);
        cr_assert_eq(file_size(seqs[j]), recs[j].valid_len, "seq %llu cut to its length",
                     (unsigned long long)seqs[j]);
        seg_check(&x, seqs[j], &recs[j]);
    }
    ix_all_named(&x, x.blocks, seqs, ns);
    ix_all_named(&x, x.keys, seqs, ns);
    ix_close(&x);
    close_four(fd);
    traffic_free(&t);
}

/* Bytes this process has had read from the disk (/proc/self/io). */
static uint64_t disk_read_bytes(void)
{
    char line[128];
    unsigned long long v = UINT64_MAX;
    FILE *f = fopen("/proc/self/io", "r");

    cr_assert_not_null(f, "/proc/self/io: %s", strerror(errno));
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "read_bytes: %llu", &v) == 1)
            break;
    fclose(f);
    cr_assert_neq(v, UINT64_MAX, "no read_bytes in /proc/self/io");
    return v;
}

/* Rewriting a recycled file reads nothing back: a write that ended inside
 * a page of the old bytes made the kernel read that page from the disk
 * first, once per chunk (writer.c stale_pad). The old files are written
 * out and dropped from the page cache, so any such read goes to the disk. */
Test(ring_writer, rewriting_a_recycled_file_reads_nothing_back)
{
    struct pt_ring_config c = rw_cfg();
    struct traffic t = {0};
    struct pt_ring_stats st;
    int fd[5];
    size_t n1 = ring_of_four(&c, &t, fd), i = n1;

    for (int s = 1; s <= 4; s++) {
        cr_assert_eq(fdatasync(fd[s]), 0);
        cr_assert_eq(posix_fadvise(fd[s], 0, 0, POSIX_FADV_DONTNEED), 0);
    }
    /* the count must see a read of a dropped page, or the test proves
     * nothing (tmpfs, no task I/O accounting) */
    uint8_t page[4096];
    uint64_t before = disk_read_bytes();
    cr_assert_eq(pread(fd[4], page, sizeof page, 0), (ssize_t)sizeof page);
    if (disk_read_bytes() == before)
        cr_skip_test("reads from the disk are not counted here (/proc/self/io)");
    char mdb[256]; /* the index is read now, not while the ring writes */
    snprintf(mdb, sizeof mdb, "%s/index/data.mdb", rw_dir);
    int ifd = open(mdb, O_RDONLY | O_CLOEXEC);
    cr_assert_geq(ifd, 0, "%s: %s", mdb, strerror(errno));
    while (read(ifd, page, sizeof page) > 0)
        ;
    close(ifd);
    before = disk_read_bytes();
    struct pt_ring *r = rw_open(&c, 1);
    put_bytes(pt_ring_producer(r, 0), &t, &i, 3 * MIB / 2, c.snaplen);
    pt_ring_close(r, &st);
    uint64_t got = disk_read_bytes() - before;
    cr_assert_eq(st.packets, i);
    cr_assert_eq(st.segments_recycled, 2, "seqs 1 and 2 rewritten");
    files_hold_suffix(&t, c.snaplen);
    /* 24 chunks of 64 KiB went into the old files: a page read for each
     * would be 96 KiB; the index may read a few of its own pages */
    cr_assert_lt(got, 32 * 1024, "%llu bytes read from the disk", (unsigned long long)got);
    close_four(fd);
    traffic_free(&t);
}

/* kill -9 in a child that rewrites a recycled file: after A is committed
 * (@commit_a) and B is written, or before any commit (A only written).
 * Returns the packets the child put. */
static size_t crash_in_reused(const struct pt_ring_config *c, size_t from, bool commit_a)
{
    int status;
    pid_t pid = fork();

    cr_assert_geq(pid, 0);
    if (pid == 0) {
        char msg[256];
        int err;
        size_t i = from;
        struct pt_ring_stats s = {0};
        struct pt_ring *r = pt_ring_open(c, 1, &err, msg, sizeof msg);
        if (!r)
            _exit(2);
        put_bytes(pt_ring_producer(r, 0), NULL, &i, MIB / 3, c->snaplen); /* A */
        for (int k = 0; commit_a && k < 3000 && s.packets < i; k++) {
            struct timespec ts = {0, 1000000L};
            nanosleep(&ts, NULL);
            pt_ring_stats(r, &s);
        }
        if (commit_a && s.packets != i)
            _exit(3);
        if (commit_a)
            put_bytes(pt_ring_producer(r, 0), NULL, &i, MIB / 8, c->snaplen); /* B */
        struct timespec ts = {0, 100 * 1000000L}; /* written, well before the next commit */
        nanosleep(&ts, NULL);
        kill(getpid(), SIGKILL);
        _exit(4);
    }
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "child status %d", status);
    return 0;
}

/* Reconcile after a crash in a reused file: the file is cut to what the
 * index commits (A; B and the old segment's bytes go), the recycled seq's
 * entries are gone, and every committed packet is there byte for byte. */
Test(ring_writer, crash_while_rewriting_a_recycled_file)
{
    struct pt_ring_config c = rw_cfg();
    struct traffic t = {0};
    struct pt_ring_stats st;
    struct ix x;
    uint64_t seqs[64], fseqs[64];
    struct ring_seg_rec recs[64];
    int fd[5];

    c.commit_ms = 1000;
    size_t n1 = ring_of_four(&c, &t, fd), i = n1;
    crash_in_reused(&c, n1, true);
    cr_assert(same_file(fd[1], 5), "the child rewrote seq 1's file as seq 5");
    uint64_t crashed = file_size(5);

    struct pt_ring *r = rw_open(&c, 1);
    pt_ring_stats(r, &st);
    pt_ring_close(r, NULL);
    put_bytes(NULL, &t, &i, MIB / 3, c.snaplen); /* A, as the child put it */
    cr_assert_eq(st.packets, i, "run 1 and A are committed: %llu", (unsigned long long)st.packets);
    ix_open(&x);
    size_t ns = ix_segs(&x, seqs, recs, 64);
    cr_assert_eq(ns, 4);
    cr_assert_eq(seqs[0], 2, "seq 1's entries are gone");
    cr_assert_eq(seqs[3], 5);
    cr_assert_eq(file_size(5), recs[3].valid_len, "cut to the commit");
    cr_assert_eq(st.reconciled_bytes, crashed - recs[3].valid_len);
    for (size_t j = 0; j < ns; j++)
        seg_check(&x, seqs[j], &recs[j]);
    ix_all_named(&x, x.blocks, seqs, ns);
    ix_all_named(&x, x.keys, seqs, ns);
    ix_close(&x);
    cr_assert_eq(seg_list(fseqs, 64), 4);
    files_hold_suffix(&t, c.snaplen);
    close_four(fd);
    traffic_free(&t);
}

/* kill -9 after the recycled file was renamed and written, before any
 * commit: the new seq has no record (its file goes), the old seq has no
 * file (its entries go), the rest is intact. */
Test(ring_writer, crash_before_the_first_commit_of_a_reused_file)
{
    struct pt_ring_config c = rw_cfg();
    struct traffic t = {0};
    struct pt_ring_stats st;
    struct ix x;
    uint64_t seqs[64], fseqs[64];
    struct ring_seg_rec recs[64];
    int fd[5];

    c.commit_ms = 1000;
    size_t n1 = ring_of_four(&c, &t, fd);
    crash_in_reused(&c, n1, false);
    cr_assert_eq(seg_ino(1), 0);
    cr_assert(same_file(fd[1], 5), "renamed before the crash");

    struct pt_ring *r = rw_open(&c, 1);
    pt_ring_stats(r, &st);
    pt_ring_close(r, NULL);
    cr_assert_eq(st.packets, n1);
    cr_assert_eq(seg_ino(5), 0, "no record names seq 5: deleted");
    size_t nf = seg_list(fseqs, 64);
    cr_assert_eq(nf, 3);
    cr_assert_eq(fseqs[0], 2);
    ix_open(&x);
    size_t ns = ix_segs(&x, seqs, recs, 64);
    cr_assert_eq(ns, 3);
    for (size_t j = 0; j < ns; j++) {
        cr_assert_eq(seqs[j], fseqs[j]);
        seg_check(&x, seqs[j], &recs[j]);
    }
    ix_all_named(&x, x.blocks, seqs, ns);
    ix_all_named(&x, x.keys, seqs, ns);
    ix_close(&x);
    files_hold_suffix(&t, c.snaplen);
    close_four(fd);
    traffic_free(&t);
}
