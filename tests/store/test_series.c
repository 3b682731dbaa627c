/* test_series.c - series ids, 1 s points, 1 m / 1 h rollups against values
 * computed here, rewrites, span. */
#include <errno.h>

#include "store_helpers.h"

TestSuite(store_series, .init = st_setup, .fini = st_teardown);

#define HOUR0 1699999200ull /* a whole hour */
#define NSER  3

/* The synthetic value of series @j at second @t; false when the series has
 * no point then (series 2 skips every 7th second, series 1 the seconds of
 * minute 5 of each hour). */
static bool val(unsigned j, uint64_t t, uint64_t *v)
{
    uint64_t x = t * 31 + j;

    if ((j == 2 && t % 7 == 0) || (j == 1 && (t % 3600) / 60 == 5))
        return false;
    *v = j == 0 ? st_rand(&x) % 1000000 : j == 1 ? st_rand(&x) % 17 : st_rand(&x);
    if (j == 2)
        *v >>= 4; /* sums stay below 2^64 */
    return true;
}

static void write_range(struct pt_store *s, const uint32_t *ids, uint64_t from, uint64_t to,
                        uint64_t salt)
{
    struct pt_store_point pts[NSER];

    for (uint64_t t = from; t < to; t++) {
        size_t n = 0;
        for (unsigned j = 0; j < NSER; j++) {
            uint64_t v;
            if (val(j, t, &v))
                pts[n++] = (struct pt_store_point){.series = ids[j], .value = v + salt};
        }
        struct pt_store_batch b = {.sec = t, .points = pts, .n_points = n};
        cr_assert_eq(pt_store_write(s, &b), 0, "write %llu", (unsigned long long)t);
    }
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Expected rollup of series @j over [b, b + w), values + @salt. */
static bool expect(unsigned j, uint64_t b, uint64_t w, uint64_t salt, struct pt_store_value *r)
{
    static uint64_t v[3600];
    size_t n = 0;

    memset(r, 0, sizeof *r);
    r->ts = b;
    r->min = UINT64_MAX;
    for (uint64_t t = b; t < b + w; t++) {
        uint64_t x;
        if (!val(j, t, &x))
            continue;
        x += salt;
        v[n++] = x;
        r->sum += x;
        r->min = x < r->min ? x : r->min;
        r->max = x > r->max ? x : r->max;
    }
    if (!n)
        return false;
    qsort(v, n, sizeof *v, cmp_u64);
    r->p95 = v[(95 * n + 99) / 100 - 1];
    r->n = (uint32_t)n;
    return true;
}

/* Read series' rollups at @res of the buckets starting in [from, to) (the
 * first bucket is the one holding @from) and compare with the 1 s values of
 * [from, to). */
static void check_rollups(struct pt_store *s, const uint32_t *ids, enum pt_store_res res,
                          uint64_t from, uint64_t to, uint64_t salt)
{
    static struct st_vals got;
    uint64_t w = res == PT_RES_1M ? 60 : 3600, b0 = from - from % w;

    for (unsigned j = 0; j < NSER; j++) {
        got.n = 0;
        cr_assert_eq(pt_store_series_read(s, ids[j], res, b0, to, st_vals_add, &got), 0);
        size_t k = 0;
        for (uint64_t b = b0; b < to; b += w) {
            uint64_t lo = b > from ? b : from, hi = b + w < to ? b + w : to;
            struct pt_store_value e;
            if (!expect(j, lo, hi - lo, salt, &e))
                continue;
            e.ts = b;
            cr_assert_lt(k, got.n, "series %u res %d: bucket %llu missing", j, res,
                         (unsigned long long)b);
            const struct pt_store_value *g = &got.v[k++];
            cr_assert_eq(g->ts, e.ts, "series %u bucket ts", j);
            cr_assert_eq(g->n, e.n, "series %u bucket %llu n", j, (unsigned long long)b);
            cr_assert_eq(g->sum, e.sum, "series %u bucket %llu sum", j, (unsigned long long)b);
            cr_assert_eq(g->min, e.min, "series %u bucket %llu min", j, (unsigned long long)b);
            cr_assert_eq(g->max, e.max, "series %u bucket %llu max", j, (unsigned long long)b);
            cr_assert_eq(g->p95, e.p95, "series %u bucket %llu p95", j, (unsigned long long)b);
        }
        cr_assert_eq(k, got.n, "series %u res %d: extra buckets", j, res);
        cr_assert_gt(k, 0);
    }
}

static void make_ids(struct pt_store *s, uint32_t *ids)
{
    ids[0] = st_sid(s, "bytes");
    ids[1] = st_sid(s, "packets{iface=eth0}");
    ids[2] = st_sid(s, "bytes{vlan=100}");
}

Test(store_series, points_roundtrip)
{
    struct pt_store_config cfg = st_cfg();
    struct pt_store *s = st_open_w(&cfg);
    static struct st_vals got;
    uint32_t ids[NSER];

    make_ids(s, ids);
    write_range(s, ids, HOUR0 + 10, HOUR0 + 610, 0);
    for (unsigned j = 0; j < NSER; j++) {
        got.n = 0;
        cr_assert_eq(
            pt_store_series_read(s, ids[j], PT_RES_1S, HOUR0 + 100, HOUR0 + 400, st_vals_add, &got),
            0);
        size_t k = 0;
        for (uint64_t t = HOUR0 + 100; t < HOUR0 + 400; t++) {
            uint64_t v;
            if (!val(j, t, &v))
                continue;
            cr_assert_lt(k, got.n);
            cr_assert_eq(got.v[k].ts, t);
            cr_assert_eq(got.v[k].sum, v, "series %u second %llu", j, (unsigned long long)t);
            cr_assert_eq(got.v[k].min, v);
            cr_assert_eq(got.v[k].max, v);
            cr_assert_eq(got.v[k].p95, v);
            cr_assert_eq(got.v[k].n, 1);
            k++;
        }
        cr_assert_eq(k, got.n);
    }
    /* to = 0: no upper bound */
    got.n = 0;
    cr_assert_eq(pt_store_series_read(s, ids[0], PT_RES_1S, HOUR0, 0, st_vals_add, &got), 0);
    cr_assert_eq(got.n, 600);
    struct pt_store_stats st;
    pt_store_stats(s, &st);
    cr_assert_eq(st.lost_batches, 0);
    cr_assert_eq(st.txns, 1 + NSER + 600); /* the open's schema txn, the names, the seconds */
    pt_store_close(s);

    /* Another handle sees the same after a reopen. */
    s = st_open_r();
    uint64_t v, want;
    cr_assert(st_point(s, ids[2], HOUR0 + 601, &v));
    cr_assert(val(2, HOUR0 + 601, &want));
    cr_assert_eq(v, want);
    cr_assert_not(st_point(s, ids[2], HOUR0 + 700, &v));
    pt_store_close(s);
}

Test(store_series, rollups_1m_1h, .timeout = 60)
{
    struct pt_store_config cfg = st_cfg();
    struct pt_store *s = st_open_w(&cfg);
    uint32_t ids[NSER];
    uint64_t from = HOUR0 + 30, to = HOUR0 + 2 * 3600 + 610;

    make_ids(s, ids);
    write_range(s, ids, from, to, 0);
    /* Before finish: every minute but the last is rolled, every hour but the
     * last. */
    check_rollups(s, ids, PT_RES_1M, from, to - to % 60, 0);
    check_rollups(s, ids, PT_RES_1H, from, to - to % 3600, 0);
    static struct st_vals got;
    got.n = 0;
    cr_assert_eq(pt_store_series_read(s, ids[0], PT_RES_1M, to - to % 60, to, st_vals_add, &got),
                 0);
    cr_assert_eq(got.n, 0, "the open minute is not rolled before finish");
    cr_assert_eq(pt_store_finish(s), 0);
    check_rollups(s, ids, PT_RES_1M, from, to, 0);
    check_rollups(s, ids, PT_RES_1H, from, to, 0);
    pt_store_close(s);
}

Test(store_series, rewrite_replaces_and_rerolls)
{
    struct pt_store_config cfg = st_cfg();
    struct pt_store *s = st_open_w(&cfg);
    uint32_t ids[NSER];
    uint64_t v;

    make_ids(s, ids);
    write_range(s, ids, HOUR0, HOUR0 + 180, 0);
    /* Second 70 again: series 0 gets 5, series 1 and 2 nothing. */
    struct pt_store_point p = {.series = ids[0], .value = 5};
    struct pt_store_batch b = {.sec = HOUR0 + 70, .points = &p, .n_points = 1};
    cr_assert_eq(pt_store_write(s, &b), 0);
    cr_assert(st_point(s, ids[0], HOUR0 + 70, &v));
    cr_assert_eq(v, 5);
    cr_assert_not(st_point(s, ids[1], HOUR0 + 70, &v), "the rewrite removed series 1");
    /* Minute 1 is re-rolled once the writes move on. */
    write_range(s, ids, HOUR0 + 180, HOUR0 + 181, 0);
    static struct st_vals got;
    struct pt_store_value e;
    got.n = 0;
    cr_assert_eq(
        pt_store_series_read(s, ids[0], PT_RES_1M, HOUR0 + 60, HOUR0 + 120, st_vals_add, &got), 0);
    cr_assert_eq(got.n, 1);
    cr_assert(expect(0, HOUR0 + 60, 60, 0, &e));
    uint64_t old;
    cr_assert(val(0, HOUR0 + 70, &old));
    cr_assert_eq(got.v[0].sum, e.sum - old + 5);
    cr_assert_eq(got.v[0].n, 60);
    got.n = 0;
    cr_assert_eq(
        pt_store_series_read(s, ids[1], PT_RES_1M, HOUR0 + 60, HOUR0 + 120, st_vals_add, &got), 0);
    cr_assert(expect(1, HOUR0 + 60, 60, 0, &e));
    cr_assert_eq(got.v[0].n, e.n - 1);
    cr_assert_eq(pt_store_finish(s), 0);
    got.n = 0;
    cr_assert_eq(pt_store_series_read(s, ids[0], PT_RES_1H, HOUR0, 0, st_vals_add, &got), 0);
    cr_assert_eq(got.n, 1);
    cr_assert(expect(0, HOUR0, 181, 0, &e));
    cr_assert_eq(got.v[0].sum, e.sum - old + 5);
    cr_assert_eq(got.v[0].n, 181);
    pt_store_close(s);
}

Test(store_series, reread_gives_the_same_store, .timeout = 60)
{
    struct pt_store_config cfg = st_cfg();
    struct pt_store *s = st_open_w(&cfg);
    uint32_t ids[NSER];

    make_ids(s, ids);
    write_range(s, ids, HOUR0 + 3000, HOUR0 + 4200, 0);
    cr_assert_eq(pt_store_finish(s), 0);
    check_rollups(s, ids, PT_RES_1M, HOUR0 + 3000, HOUR0 + 4200, 0);
    /* The same seconds again with other values (a second run of `read`). */
    write_range(s, ids, HOUR0 + 3000, HOUR0 + 4200, 1000);
    cr_assert_eq(pt_store_finish(s), 0);
    check_rollups(s, ids, PT_RES_1M, HOUR0 + 3000, HOUR0 + 4200, 1000);
    check_rollups(s, ids, PT_RES_1H, HOUR0 + 3000, HOUR0 + 4200, 1000);
    pt_store_close(s);
}

struct names {
    char n[8][PT_STORE_NAMELEN];
    uint32_t id[8];
    size_t k;
};

static int name_add(const char *name, uint32_t id, void *arg)
{
    struct names *c = arg;
    cr_assert_lt(c->k, 8);
    snprintf(c->n[c->k], PT_STORE_NAMELEN, "%s", name);
    c->id[c->k++] = id;
    return 0;
}

static int stop_at_two(const char *name, uint32_t id, void *arg)
{
    (void)name;
    (void)id;
    return ++*(int *)arg == 2 ? 77 : 0;
}

Test(store_series, ids_find_list)
{
    struct pt_store_config cfg = st_cfg();
    struct pt_store *s = st_open_w(&cfg);
    char long_name[PT_STORE_NAMELEN + 1];
    uint32_t a, b, c, x;

    a = st_sid(s, "packets");
    b = st_sid(s, "packets{iface=eth1}");
    c = st_sid(s, "bytes");
    cr_assert_eq(a, 1);
    cr_assert_eq(b, 2);
    cr_assert_eq(c, 3);
    cr_assert_eq(st_sid(s, "packets"), a);
    cr_assert_eq(pt_store_series_id(s, "", &x), PT_E_BADARG);
    memset(long_name, 'x', PT_STORE_NAMELEN);
    long_name[PT_STORE_NAMELEN] = '\0';
    cr_assert_eq(pt_store_series_id(s, long_name, &x), PT_E_BADARG);
    long_name[PT_STORE_NAMELEN - 1] = '\0';
    cr_assert_eq(pt_store_series_id(s, long_name, &x), 0);
    cr_assert_eq(x, 4);

    /* A point of an id the store never gave is a bad batch, counted. */
    struct pt_store_point p = {.series = 99, .value = 1};
    struct pt_store_batch bt = {.sec = HOUR0, .points = &p, .n_points = 1};
    struct pt_store_stats st;
    cr_assert_eq(pt_store_write(s, &bt), PT_E_BADARG);
    pt_store_stats(s, &st);
    cr_assert_eq(st.lost_batches, 1);
    pt_store_close(s);

    s = st_open_w(&cfg);
    cr_assert_eq(st_sid(s, "bytes"), c, "ids survive a reopen");
    cr_assert_eq(st_sid(s, "flows_new"), 5, "next id survives a reopen");
    pt_store_close(s);

    s = st_open_r();
    cr_assert_eq(pt_store_series_find(s, "packets{iface=eth1}", &x), 0);
    cr_assert_eq(x, b);
    cr_assert_eq(pt_store_series_find(s, "nope", &x), -ENOENT);
    cr_assert_eq(pt_store_series_id(s, "new", &x), -EROFS);
    struct names got = {0};
    cr_assert_eq(pt_store_series_list(s, "packets", name_add, &got), 0);
    cr_assert_eq(got.k, 2);
    cr_assert_str_eq(got.n[0], "packets");
    cr_assert_str_eq(got.n[1], "packets{iface=eth1}");
    cr_assert_eq(got.id[1], b);
    memset(&got, 0, sizeof got);
    cr_assert_eq(pt_store_series_list(s, "", name_add, &got), 0);
    cr_assert_eq(got.k, 5);
    cr_assert_str_eq(got.n[0], "bytes");
    int calls = 0;
    cr_assert_eq(pt_store_series_list(s, "", stop_at_two, &calls), 77);
    cr_assert_eq(calls, 2);
    pt_store_close(s);
}

Test(store_series, span)
{
    struct pt_store_config cfg = st_cfg();
    struct pt_store *s = st_open_w(&cfg);
    uint32_t ids[NSER];
    uint64_t first = 0, last = 0;

    cr_assert_eq(pt_store_span(s, &first, &last), -ENOENT);
    make_ids(s, ids);
    cr_assert_eq(pt_store_span(s, &first, &last), -ENOENT);
    write_range(s, ids, HOUR0 + 5, HOUR0 + 100, 0);
    cr_assert_eq(pt_store_span(s, &first, &last), 0);
    cr_assert_eq(first, HOUR0 + 5);
    cr_assert_eq(last, HOUR0 + 99);
    pt_store_close(s);
}
