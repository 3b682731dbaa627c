/* test_index.c - the open segment's key map (src/ring/index.c DESIGN 1).
 *
 * The keys ring_keys_add_block() records for blocks of records equal, key by
 * key and part by part, the keys tests/ring/ring_fixture.h derives for each
 * packet on its own (rfx_keys_of). The blocks hold packets that repeat a
 * conversation within a part next to packets that differ from one in a
 * single field, over several parts, and blocks written again after
 * ring_keys_truncate() (part numbers reused, each key's kept last part
 * rewound). Blocks of 260 conversations that differ in one field only make
 * the map grow and rehash with sequential ports and addresses. */
#include <stdlib.h>
#include <string.h>

#include "../../src/ring/internal.h"
#include "ring_fixture.h"

struct kp {
    uint8_t kind, vlen;
    uint8_t val[16];
    uint32_t part;
};

static int kp_cmp(const void *pa, const void *pb)
{
    const struct kp *a = pa, *b = pb;

    if (a->kind != b->kind)
        return a->kind < b->kind ? -1 : 1;
    if (a->vlen != b->vlen)
        return a->vlen < b->vlen ? -1 : 1;
    int c = memcmp(a->val, b->val, a->vlen);
    if (c)
        return c;
    return a->part < b->part ? -1 : a->part > b->part;
}

/* Sort and drop repeats; returns the count left. */
static size_t kp_unique(struct kp *v, size_t n)
{
    size_t k = 0;

    qsort(v, n, sizeof *v, kp_cmp);
    for (size_t i = 0; i < n; i++)
        if (!k || kp_cmp(&v[k - 1], &v[i]))
            v[k++] = v[i];
    return k;
}

#define MAXKP 65536

struct bench {
    uint8_t buf[96 * 1024]; /* one block of records */
    uint32_t len;
    struct kp *want;
    size_t n_want;
    struct rfx f;        /* only its decode statistics are used */
    struct rfx_seg *seg; /* scratch for rfx_keys_of() */
};

/* The packets of the block: a base UDP conversation, and variants that
 * differ from it in one field each, interleaved and repeated; ICMP and
 * IPv6 ones too. Payloads of 900 bytes spread them over three parts. */
static void build_block(struct bench *b)
{
    struct fx_pkt base = {
        .ver = 4, .proto = 17, .sp = 1000, .dp = 53, .vlan = PT_VLAN_NONE, .payload = 900};
    struct fx_pkt v[10];
    static const uint8_t order[] = {0, 0, 1, 0, 1, 2, 2, 0, 3, 3, 0, 4, 4, 0, 5, 6, 5, 6, 0, 7,
                                    7, 0, 8, 8, 9, 9, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 5, 0, 6,
                                    1, 1, 2, 2, 3, 3, 4, 4, 0, 0, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0};
    uint8_t frame[2048];

    fx_v4(base.src, 10, 0, 0, 1);
    fx_v4(base.dst, 10, 0, 0, 2);
    for (int i = 0; i < 10; i++)
        v[i] = base;
    v[1].dp = 54;                 /* destination port */
    v[2].sp = 1001;               /* source port */
    fx_v4(v[3].dst, 10, 0, 0, 3); /* destination host */
    fx_v4(v[4].src, 10, 0, 0, 4); /* source host */
    v[5].vlan = 7;                /* a tag */
    v[6].vlan = 8;                /* another tag */
    v[7].proto = 6;               /* TCP, same ports */
    v[8].ver = 6;                 /* IPv6 */
    fx_v6(v[8].src, 1);
    fx_v6(v[8].dst, 2);
    v[9].proto = 1; /* ICMP echo: no signature */
    v[9].sp = 8;
    v[9].dp = 77;
    b->len = 0;
    for (size_t i = 0; i < sizeof order; i++) {
        size_t n = fx_frame(frame, &v[order[i]]);
        uint32_t h[4] = {(uint32_t)(T0 / NSEC), (uint32_t)i, (uint32_t)n, (uint32_t)n};
        cr_assert_leq(b->len + RING_REC_HDR + n, sizeof b->buf);
        memcpy(b->buf + b->len, h, sizeof h);
        memcpy(b->buf + b->len + RING_REC_HDR, frame, n);
        b->len += RING_REC_HDR + (uint32_t)n;
    }
    cr_assert_gt(b->len, 2 * RING_PART_SIZE, "the block spans three parts");
}

/* What the map must hold once block @bno is added: each record's keys at
 * its part, as the fixture derives them. */
static void expect_block(struct bench *b, uint32_t bno)
{
    for (uint32_t off = 0; off < b->len;) {
        uint32_t h[4], part = bno * RING_PARTS + off / RING_PART_SIZE;
        memcpy(h, b->buf + off, sizeof h);
        b->seg->n_keys = 0;
        rfx_keys_of(&b->f, b->seg, b->buf + off + RING_REC_HDR, h[2], part);
        for (unsigned k = 0; k < b->seg->n_keys; k++) {
            struct kp *w = &b->want[b->n_want++];
            cr_assert_lt(b->n_want, MAXKP);
            memset(w, 0, sizeof *w);
            w->kind = b->seg->keys[k].kind;
            w->vlen = b->seg->keys[k].vlen;
            memcpy(w->val, b->seg->keys[k].val, w->vlen);
            w->part = part;
        }
        off += RING_REC_HDR + h[2];
    }
}

/* Every (key, part) the map holds, from ring_keys_take() with every key
 * marked dirty first (a truncate leaves none dirty). */
static size_t map_pairs(struct ring_keymap *m, struct kp *out)
{
    uint8_t *buf;
    size_t len, n = 0;
    uint32_t *ids, nk, *all = calloc(m->n + 1, sizeof *all);

    cr_assert_not_null(all);
    for (uint32_t i = 0; i < m->n; i++)
        all[i] = i;
    ring_keys_redirty(m, all, m->n);
    free(all);
    cr_assert_eq(ring_keys_take(m, UINT32_MAX, &buf, &len, &ids, &nk), 0);
    for (size_t off = 0; off < len;) {
        uint8_t kind = buf[off], vlen = buf[off + 1];
        uint32_t cnt;
        memcpy(&cnt, buf + off + 2, 4);
        cr_assert_leq(vlen, 16);
        for (uint32_t i = 0; i < cnt; i++) {
            struct kp *o = &out[n++];
            cr_assert_lt(n, MAXKP);
            memset(o, 0, sizeof *o);
            o->kind = kind;
            o->vlen = vlen;
            memcpy(o->val, buf + off + 6, vlen);
            memcpy(&o->part, buf + off + 6 + vlen + 4 * i, 4);
        }
        off += 6u + vlen + 4ull * cnt;
    }
    ring_keys_redirty(m, ids, nk); /* leave the map as it was */
    free(buf);
    free(ids);
    return kp_unique(out, n);
}

static void check_map(struct bench *b, struct ring_keymap *m)
{
    struct kp *got = calloc(MAXKP, sizeof *got);
    size_t n_want, n_got;

    cr_assert_not_null(got);
    n_want = kp_unique(b->want, b->n_want);
    n_got = map_pairs(m, got);
    for (size_t i = 0, j = 0; i < n_want || j < n_got;) {
        int c = i == n_want ? 1 : j == n_got ? -1 : kp_cmp(&b->want[i], &got[j]);
        cr_assert_eq(c, 0, "%s key kind %u vlen %u part %u", c < 0 ? "missing" : "extra",
                     c < 0 ? b->want[i].kind : got[j].kind, c < 0 ? b->want[i].vlen : got[j].vlen,
                     c < 0 ? b->want[i].part : got[j].part);
        i++, j++;
    }
    cr_assert_gt(n_got, 3 * 20, "%zu", n_got);
    free(got);
}

static struct bench *bench_new(void)
{
    struct bench *b = calloc(1, sizeof *b);

    cr_assert_not_null(b);
    b->want = calloc(MAXKP, sizeof *b->want);
    b->seg = calloc(1, sizeof *b->seg);
    cr_assert(b->want && b->seg);
    b->seg->linktype = PT_LINK_ETHERNET;
    return b;
}

static void bench_free(struct bench *b)
{
    free(b->seg);
    free(b->want);
    free(b);
}

Test(ring_index, keys_of_every_packet_in_every_part)
{
    struct bench *b = bench_new();
    struct ring_keymap *m = calloc(1, sizeof *m);
    struct pt_decode_stats st;

    cr_assert_not_null(m);
    memset(&st, 0, sizeof st);
    build_block(b);

    /* blocks 0 and 1: the same records, so the same signatures, new parts */
    ring_keys_add_block(m, &st, b->buf, b->len, PT_LINK_ETHERNET, 0, 0);
    ring_keys_add_block(m, &st, b->buf, b->len, PT_LINK_ETHERNET, 0, 1);
    expect_block(b, 0);
    expect_block(b, 1);
    check_map(b, m);

    /* a rollback forgets block 1; written again, its parts come again */
    ring_keys_truncate(m, 1);
    b->n_want = 0;
    expect_block(b, 0);
    check_map(b, m);
    ring_keys_add_block(m, &st, b->buf, b->len, PT_LINK_ETHERNET, 0, 1);
    ring_keys_add_block(m, &st, b->buf, b->len, PT_LINK_ETHERNET, 0, 2);
    expect_block(b, 1);
    expect_block(b, 2);
    check_map(b, m);
    cr_assert_eq(m->oom, 0);

    ring_keys_fini(m);
    free(m);
    bench_free(b);
}

/* One part's worth of records: @n conversations that differ from a base
 * only in @field (0 dport, 1 sport, 2 dst, 3 src, 4 VLAN). */
static void build_variants(struct bench *b, int field, unsigned n)
{
    struct fx_pkt k = {
        .ver = 4, .proto = 17, .sp = 1000, .dp = 53, .vlan = PT_VLAN_NONE, .payload = 1};
    uint8_t frame[256];

    b->len = 0;
    for (unsigned i = 0; i < n; i++) {
        fx_v4(k.src, 10, 0, 0, 1);
        fx_v4(k.dst, 10, 0, 0, 2);
        k.dp = 53;
        k.sp = 1000;
        k.vlan = PT_VLAN_NONE;
        switch (field) {
        case 0:
            k.dp = (uint16_t)(2000 + i);
            break;
        case 1:
            k.sp = (uint16_t)(3000 + i);
            break;
        case 2:
            fx_v4(k.dst, 10, 1, (uint8_t)(i >> 8), (uint8_t)i);
            break;
        case 3:
            fx_v4(k.src, 10, 2, (uint8_t)(i >> 8), (uint8_t)i);
            break;
        default:
            k.vlan = (uint16_t)(100 + i);
        }
        size_t len = fx_frame(frame, &k);
        uint32_t h[4] = {(uint32_t)(T0 / NSEC), i, (uint32_t)len, (uint32_t)len};
        memcpy(b->buf + b->len, h, sizeof h);
        memcpy(b->buf + b->len + RING_REC_HDR, frame, len);
        b->len += RING_REC_HDR + (uint32_t)len;
    }
    cr_assert_lt(b->len, RING_PART_SIZE, "one part");
}

Test(ring_index, signature_fields_each_tell_packets_apart)
{
    struct bench *b = bench_new();
    struct ring_keymap *m = calloc(1, sizeof *m);
    struct pt_decode_stats st;

    cr_assert_not_null(m);
    memset(&st, 0, sizeof st);
    for (int field = 0; field < 5; field++) {
        uint32_t bno = (uint32_t)field;
        build_variants(b, field, 260);
        ring_keys_add_block(m, &st, b->buf, b->len, PT_LINK_ETHERNET, 0, bno);
        expect_block(b, bno);
        check_map(b, m);
        /* forgotten and written again: the same single part number */
        ring_keys_truncate(m, bno);
        b->n_want = 0;
        for (int f = 0; f < field; f++) {
            build_variants(b, f, 260);
            expect_block(b, (uint32_t)f);
        }
        build_variants(b, field, 260);
        ring_keys_add_block(m, &st, b->buf, b->len, PT_LINK_ETHERNET, 0, bno);
        expect_block(b, bno);
        check_map(b, m);
    }
    cr_assert_eq(m->oom, 0);
    ring_keys_fini(m);
    free(m);
    bench_free(b);
}
