/* test_retention.c - retention keeps a long run in a small map; a full map
 * at map_max drops the oldest data, loses a batch that cannot fit, and grows
 * below map_max. */
#include "store_helpers.h"

TestSuite(store_retention, .init = st_setup, .fini = st_teardown);
TestSuite(store_map, .init = st_setup, .fini = st_teardown);

#define T0  1700006400ull /* a whole hour */
#define MIB (1ull << 20)

struct run {
    struct pt_store *s;
    uint32_t id[3];
    struct pt_flow_record *f;
    size_t nf;
    struct pt_top_host h[5];
};

static void run_init(struct run *r, struct pt_store *s, size_t nf)
{
    memset(r, 0, sizeof *r);
    r->s = s;
    r->id[0] = st_sid(s, "bytes");
    r->id[1] = st_sid(s, "packets");
    r->id[2] = st_sid(s, "flows_new");
    r->nf = nf;
    r->f = calloc(nf ? nf : 1, sizeof *r->f);
    cr_assert_not_null(r->f);
    for (int i = 0; i < 5; i++) {
        st_v4(r->h[i].addr, 0x0a0a0a00u + (uint32_t)i);
        r->h[i].bytes = 100 - (uint64_t)i;
    }
}

/* One second: 3 points, a host list, nf flows ending in it. */
static int run_second(struct run *r, uint64_t t)
{
    struct pt_store_point p[3];

    for (int j = 0; j < 3; j++)
        p[j] = (struct pt_store_point){.series = r->id[j], .value = t * 3 + (uint64_t)j};
    for (size_t i = 0; i < r->nf; i++)
        st_rec(&r->f[i], t * 1000 + i, t * NS + i);
    struct pt_store_batch b = {.sec = t,
                               .points = p,
                               .n_points = 3,
                               .hosts = r->h,
                               .n_hosts = 5,
                               .flows = r->f,
                               .n_flows = r->nf,
                               .top_n = 5};
    return pt_store_write(r->s, &b);
}

static size_t count_points(struct pt_store *s, uint32_t id, enum pt_store_res res, uint64_t from,
                           uint64_t to)
{
    static struct st_vals c;
    c.n = 0;
    cr_assert_eq(pt_store_series_read(s, id, res, from, to, st_vals_add, &c), 0);
    return c.n;
}

static int count_lists(uint64_t sec, const void *e, size_t n, void *arg)
{
    (void)sec;
    (void)e;
    (void)n;
    ++*(size_t *)arg;
    return 0;
}

Test(store_retention, long_run_stays_bounded, .timeout = 60)
{
    struct pt_store_config cfg = st_cfg();
    struct run r;
    uint64_t v, n = 20000, last = T0 + n - 1, max_file = 0;

    cfg.map_size = cfg.map_max = 2 * MIB;
    cfg.keep_s[PT_RES_1S] = 120;
    cfg.keep_s[PT_RES_1M] = 600;
    cfg.keep_s[PT_RES_1H] = 3600;
    cfg.keep_flows_s = 120;
    run_init(&r, st_open_w(&cfg), 10);
    for (uint64_t t = T0; t <= last; t++) {
        cr_assert_eq(run_second(&r, t), 0, "second %llu", (unsigned long long)t);
        if (t % 500 == 0) {
            uint64_t fs = pt_store_file_size(r.s);
            max_file = fs > max_file ? fs : max_file;
            cr_assert_leq(fs, 2 * MIB, "data file %llu bytes", (unsigned long long)fs);
            cr_assert(st_point(r.s, r.id[1], t, &v), "newest second readable");
            cr_assert_eq(v, t * 3 + 1);
        }
    }
    struct pt_store *s = r.s;
    struct pt_store_stats st;
    pt_store_stats(s, &st);
    cr_assert_eq(st.lost_batches, 0);
    cr_assert_eq(st.map_full, 0, "retention alone keeps the run in the map");
    cr_assert_gt(st.retention_dels, n * 10);
    cr_assert_leq(st.map_size, 2 * MIB);
    cr_assert_leq(pt_store_file_size(s), 2 * MIB);

    /* 1 s points and lists: the last keep_1s (+ up to a minute) are there,
     * older ones gone. */
    cr_assert(st_point(s, r.id[0], last, &v));
    cr_assert(st_point(s, r.id[0], last - 100, &v));
    cr_assert_eq(count_points(s, r.id[0], PT_RES_1S, 0, last - 300), 0);
    size_t lists = 0;
    cr_assert_eq(pt_store_top_read(s, PT_TOP_HOSTS, PT_RES_1S, 0, last - 300, count_lists, &lists),
                 0);
    cr_assert_eq(lists, 0);
    cr_assert_eq(pt_store_top_read(s, PT_TOP_HOSTS, PT_RES_1S, last, 0, count_lists, &lists), 0);
    cr_assert_eq(lists, 1);
    /* rollups: 1 m kept 600 s (and the pending hour), 1 h kept 3600 s */
    cr_assert_eq(count_points(s, r.id[0], PT_RES_1M, 0, last - 600 - 3600 - 60), 0);
    cr_assert_gt(count_points(s, r.id[0], PT_RES_1M, last - 600, 0), 5);
    cr_assert_eq(count_points(s, r.id[0], PT_RES_1H, 0, last - 3600 - 3600), 0);
    cr_assert_geq(count_points(s, r.id[0], PT_RES_1H, last - 2 * 3600, 0), 1);
    /* flows: by end time, the last keep_flows */
    struct pt_store_flow_query q = {.to_ns = (last - 120) * NS};
    cr_assert_eq(st_count_flows(s, &q), 0);
    q = (struct pt_store_flow_query){.from_ns = (last - 100) * NS};
    cr_assert_eq(st_count_flows(s, &q), 101 * 10);
    /* span reaches back past the 1 s points through the rollups */
    uint64_t first, lastp;
    cr_assert_eq(pt_store_span(s, &first, &lastp), 0);
    cr_assert_eq(lastp, last);
    cr_assert_lt(first, last - 300);
    cr_assert_eq(first % 60, 0);
    /* the indexes agree with the records: a query by port finds what a
     * scan finds, and no key outlives its record */
    struct st_recs all = {0};
    q = (struct pt_store_flow_query){0};
    cr_assert_eq(pt_store_flows_read(s, &q, st_recs_add, &all), 0);
    size_t p53 = 0;
    for (size_t i = 0; i < all.n; i++)
        p53 += all.r[i].resp_p == 53;
    free(all.r);
    q = (struct pt_store_flow_query){.by_port = true, .port = 53};
    cr_assert_eq(st_count_flows(s, &q), p53);
    cr_assert_gt(p53, 100);
    free(r.f);
    pt_store_close(s);
    st_check_indexes();
    cr_log_info("max data file %llu bytes", (unsigned long long)max_file);
}

Test(store_map, full_map_drops_oldest, .timeout = 60)
{
    struct pt_store_config cfg = st_cfg();
    struct run r;
    uint64_t last = T0 + 3999, v;

    cfg.map_size = cfg.map_max = 2 * MIB;
    run_init(&r, st_open_w(&cfg), 10);
    for (uint64_t t = T0; t <= last; t++)
        cr_assert_eq(run_second(&r, t), 0, "second %llu", (unsigned long long)t);
    struct pt_store *s = r.s;
    struct pt_store_stats st;
    pt_store_stats(s, &st);
    cr_assert_gt(st.map_full, 0);
    cr_assert_gt(st.dropped_old, 0);
    cr_assert_eq(st.lost_batches, 0);
    cr_assert_eq(st.map_grows, 0);
    cr_assert_leq(pt_store_file_size(s), 2 * MIB);
    /* the newest seconds are whole, the oldest gone */
    struct pt_store_flow_query q = {.from_ns = last * NS};
    cr_assert_eq(st_count_flows(s, &q), 10);
    q = (struct pt_store_flow_query){.to_ns = (T0 + 1) * NS};
    cr_assert_eq(st_count_flows(s, &q), 0);
    cr_assert(st_point(s, r.id[2], last, &v));
    cr_assert_eq(v, last * 3 + 2);
    cr_assert_not(st_point(s, r.id[2], T0, &v));
    free(r.f);
    pt_store_close(s);
    st_check_indexes();
}

Test(store_map, batch_larger_than_map_is_lost)
{
    struct pt_store_config cfg = st_cfg();
    struct pt_store_stats st;
    struct run r;
    uint64_t v;

    cfg.map_size = cfg.map_max = 2 * MIB;
    run_init(&r, st_open_w(&cfg), 5);
    for (uint64_t t = T0; t < T0 + 30; t++)
        cr_assert_eq(run_second(&r, t), 0);
    struct pt_store *s = r.s;
    struct run big;
    run_init(&big, s, 40000);
    cr_assert_eq(run_second(&big, T0 + 30), PT_E_FULL);
    pt_store_stats(s, &st);
    cr_assert_eq(st.lost_batches, 1);
    cr_assert_eq(st.dropped_old, 0, "nothing old was dropped for a batch that cannot fit");
    struct pt_store_flow_query q = {0};
    cr_assert_eq(st_count_flows(s, &q), 30 * 5, "earlier data intact");
    cr_assert_eq(count_points(s, r.id[0], PT_RES_1S, 0, 0), 30);
    cr_assert_not(st_point(s, r.id[0], T0 + 30, &v), "no part of the lost batch is stored");
    for (uint64_t t = T0 + 31; t < T0 + 41; t++)
        cr_assert_eq(run_second(&r, t), 0, "later small batches succeed");
    cr_assert_eq(st_count_flows(s, &q), 40 * 5);
    pt_store_stats(s, &st);
    cr_assert_eq(st.lost_batches, 1);
    free(big.f);
    free(r.f);
    pt_store_close(s);
}

Test(store_map, batch_that_does_not_fit_after_the_drop_is_lost)
{
    struct pt_store_config cfg = st_cfg();
    struct pt_store_stats st0, st;
    struct run r, big;

    cfg.map_size = cfg.map_max = 2 * MIB;
    run_init(&r, st_open_w(&cfg), 10);
    for (uint64_t t = T0; t < T0 + 300; t++)
        cr_assert_eq(run_second(&r, t), 0);
    struct pt_store *s = r.s;
    pt_store_stats(s, &st0);
    /* ~1.2 MB of flows: fits an empty map, not beside the data */
    run_init(&big, s, 3300);
    cr_assert_eq(run_second(&big, T0 + 300), PT_E_FULL);
    pt_store_stats(s, &st);
    cr_assert_eq(st.lost_batches, st0.lost_batches + 1);
    cr_assert_eq(st.map_full, st0.map_full + 1);
    cr_assert_gt(st.dropped_old, st0.dropped_old, "a tenth was dropped to try");
    struct pt_store_flow_query q = {.from_ns = (T0 + 250) * NS};
    cr_assert_eq(st_count_flows(s, &q), 50 * 10, "the newest data is intact");
    for (uint64_t t = T0 + 301; t < T0 + 304; t++)
        cr_assert_eq(run_second(&r, t), 0, "later small batches succeed");
    free(big.f);
    free(r.f);
    pt_store_close(s);
}

Test(store_map, map_grows_up_to_max)
{
    struct pt_store_config cfg = st_cfg();
    struct pt_store_stats st;
    struct run r;

    cfg.map_size = 256 * 1024;
    cfg.map_max = 64 * MIB;
    run_init(&r, st_open_w(&cfg), 20000);
    cr_assert_eq(run_second(&r, T0), 0);
    pt_store_stats(r.s, &st);
    cr_assert_geq(st.map_grows, 3);
    cr_assert_geq(st.map_size, 4 * MIB);
    cr_assert_leq(st.map_size, 64 * MIB);
    cr_assert_eq(st.lost_batches, 0);
    struct pt_store_flow_query q = {0};
    cr_assert_eq(st_count_flows(r.s, &q), 20000);
    free(r.f);
    pt_store_close(r.s);

    /* bad sizes */
    char msg[128];
    int err = 0;
    cfg.map_max = cfg.map_size / 2;
    cr_assert_null(pt_store_open(st_dir, &cfg, false, &err, msg, sizeof msg));
    cr_assert_eq(err, PT_E_BADARG);
}
