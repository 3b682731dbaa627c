/* agg_bench.c - the aggregation thread and the store under load.
 *
 * usage: agg_bench DIR [N...]      (default N: 10000 100000 1000000)
 *
 * 1. Tick cost. For each N: a flow table holding N UDP flows (one worker,
 *    the bench thread), then 5 rounds of "one packet on every flow, then one
 *    tick". Prints the aggregation tick's thread CPU time (median of the 5)
 *    and, as the peer in the same run, a hash-order walk of the whole table
 *    (eight pt_flow_table_expire calls), and their ratio; also the tick's
 *    flow walk and sweep alone (pt_flow_table_tick with a visitor that only
 *    counts). Every flow carries bytes in every tick: the worst case for the
 *    top-N lists.
 * 2. Points per second: 600 seconds of 2,000 points each through
 *    pt_store_write (synced per commit, as `run` does), wall time.
 * 3. Bytes per stored flow record: the data file's growth for 100,000
 *    records written in batches of 10,000, divided by 100,000.
 * 4. Query: 24 h of 1 s points of one series (86,400 points) read with
 *    pt_store_series_read, best of 5 wall times; the peer is LMDB's own
 *    `mdb_dump -s s1` of the same store (it dumps that database: the same
 *    points plus the other series'), when mdb_dump is installed.
 *
 * Deterministic inputs; timings are not. Nothing here runs in `make test`. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <urcu-qsbr.h>

#include "pt/agg.h"
#include "pt/capture.h"
#include "pt/store.h"

#define T0 1700000000ull

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* An Ethernet/IPv4/UDP frame of flow @k (distinct 5-tuple per k). */
static uint32_t frame(uint8_t *f, uint64_t k)
{
    memset(f, 0, 64);
    f[12] = 0x08;
    uint8_t *ip = f + 14;
    ip[0] = 0x45;
    ip[3] = 20 + 8 + 18;
    ip[8] = 64;
    ip[9] = 17;
    ip[12] = 10;
    ip[13] = (uint8_t)(k >> 16);
    ip[14] = (uint8_t)(k >> 8);
    ip[15] = (uint8_t)k;
    ip[16] = 10;
    ip[17] = 200;
    ip[18] = (uint8_t)(k >> 24);
    ip[19] = 1;
    uint8_t *u = ip + 20;
    u[0] = (uint8_t)(4000 >> 8);
    u[1] = (uint8_t)(4000 & 0xff);
    u[3] = 53;
    u[5] = 8 + 18;
    return 14 + 20 + 8 + 18;
}

static void packets(struct pt_worker *w, uint64_t n, uint64_t ts)
{
    uint8_t f[64];
    struct pt_pkt p;

    for (uint64_t k = 0; k < n; k++) {
        memset(&p, 0, sizeof p);
        p.caplen = p.wirelen = frame(f, k);
        p.data = f;
        p.ts_ns = ts + k;
        p.linktype = PT_LINK_ETHERNET;
        p.hw_vlan = PT_VLAN_NONE;
        pt_worker_packet(w, &p);
        if ((k & 255) == 255)
            pt_worker_block_done(w);
    }
}

static void noop_visit(const struct pt_flow_view *v, void *arg)
{
    (void)v;
    (*(uint64_t *)arg)++;
}

static int bench_tick(const char *dir, uint64_t n)
{
    struct pt_flow_config fc;
    struct pt_agg_config ac = {.datadir = dir, .workers = 1};
    struct pt_iface_table ifs = {.n = 1};
    char msg[256];
    int err = 0;
    double agg[5], bare[5], walk[5];
    uint64_t visits = 0;

    pt_flow_config_default(&fc);
    fc.max_flows = n + n / 4 + 64;
    fc.shards = 64; /* a tick sweeps 8 of them (the default eighth) */
    pt_store_config_default(&ac.store);
    ac.store.nosync = true;
    strcpy(ifs.name[0], "bench0");
    struct pt_flow_table *ft = pt_flow_table_create(&fc, &err);
    struct pt_agg *a = ft ? pt_agg_create(&ac, ft, &err, msg, sizeof msg) : NULL;
    struct pt_worker *w = a ? pt_worker_create(0, ft, &err) : NULL;
    if (!w) {
        fprintf(stderr, "agg_bench: setup: %s %s\n", pt_strerror(err), a ? "" : msg);
        return 1;
    }
    pt_worker_set_agg(w, pt_agg_worker_counters(a, 0));
    pt_worker_thread_enter(w);
    packets(w, n, T0 * 1000000000ull);
    for (int r = 0; r < 5; r++) {
        uint64_t sec = T0 + 1 + (uint64_t)r;
        struct pt_agg_tick_in in = {.sec = sec,
                                    .now_ns = (sec + 1) * 1000000000ull,
                                    .ifnames = (const char(*)[64])ifs.name,
                                    .n_ifnames = 1};
        struct pt_agg_stats st;
        packets(w, n, sec * 1000000000ull);
        pt_worker_block_done(w);
        pt_agg_tick(a, &in, NULL, NULL);
        pt_agg_stats(a, &st);
        agg[r] = (double)st.last_tick_ns / 1e9;
        double c0 = cpu_s();
        pt_flow_table_tick(ft, in.now_ns, false, NULL, noop_visit, &visits);
        walk[r] = cpu_s() - c0;
        c0 = cpu_s();
        for (int k = 0; k < 8; k++) /* eight eighths: every shard, in hash order */
            pt_flow_table_expire(ft, in.now_ns, false, NULL, NULL);
        bare[r] = cpu_s() - c0;
    }
    qsort(agg, 5, sizeof agg[0], cmp_d);
    qsort(bare, 5, sizeof bare[0], cmp_d);
    qsort(walk, 5, sizeof walk[0], cmp_d);
    printf(
        "tick  flows %8llu  agg tick CPU %8.2f ms (target < 100 ms at 1 M)  "
        "peer: hash-order expiry walk %8.2f ms, ratio %.2f; of which the flow walk and sweep alone "
        "%.2f ms\n",
        (unsigned long long)n, agg[2] * 1e3, bare[2] * 1e3, agg[2] / bare[2], walk[2] * 1e3);
    struct pt_agg_tick_in fin = {.sec = T0 + 10,
                                 .now_ns = (T0 + 10) * 1000000000ull,
                                 .flush = true,
                                 .ifnames = (const char(*)[64])ifs.name,
                                 .n_ifnames = 1};
    pt_agg_tick(a, &fin, NULL, NULL);
    pt_worker_thread_leave(w);
    pt_worker_destroy(w);
    pt_agg_destroy(a);
    rcu_register_thread();
    pt_flow_table_destroy(ft);
    rcu_unregister_thread();
    return 0;
}

static struct pt_store *store_open(const char *dir, bool nosync)
{
    struct pt_store_config sc;
    char msg[256];
    int err = 0;

    pt_store_config_default(&sc);
    sc.nosync = nosync;
    for (unsigned i = 0; i < PT_RES_N; i++)
        sc.keep_s[i] = 10ull * 365 * 86400;
    struct pt_store *s = pt_store_open(dir, &sc, false, &err, msg, sizeof msg);
    if (!s)
        fprintf(stderr, "agg_bench: %s: %s\n", dir, msg);
    return s;
}

static int bench_points(const char *dir)
{
    enum { SERIES = 2000, SECS = 600 };
    static struct pt_store_point pts[SERIES];
    struct pt_store *s = store_open(dir, false);
    char name[64];

    if (!s)
        return 1;
    for (unsigned i = 0; i < SERIES; i++) {
        snprintf(name, sizeof name, "bench{n=%u}", i);
        if (pt_store_series_id(s, name, &pts[i].series) < 0)
            return 1;
    }
    double t0 = now_s();
    for (unsigned t = 0; t < SECS; t++) {
        for (unsigned i = 0; i < SERIES; i++)
            pts[i].value = (uint64_t)t * 7 + i;
        struct pt_store_batch b = {.sec = T0 + t, .points = pts, .n_points = SERIES};
        if (pt_store_write(s, &b) < 0)
            return 1;
    }
    double dt = now_s() - t0;
    printf("points  %u seconds x %u series, fsync per commit: %.2f s, %.0f points/s, "
           "%.1f ms per second written\n",
           SECS, SERIES, dt, SECS * (double)SERIES / dt, dt / SECS * 1e3);
    pt_store_close(s);
    return 0;
}

static int bench_flow_bytes(const char *dir)
{
    enum { N = 100000, BATCH = 10000 };
    static struct pt_flow_record recs[BATCH];
    struct pt_store *s = store_open(dir, true);

    if (!s)
        return 1;
    uint64_t before = pt_store_file_size(s);
    for (unsigned b = 0; b < N / BATCH; b++) {
        for (unsigned i = 0; i < BATCH; i++) {
            struct pt_flow_record *r = &recs[i];
            uint64_t k = (uint64_t)b * BATCH + i;
            memset(r, 0, sizeof *r);
            r->ts_ns = (T0 + b) * 1000000000ull + k;
            r->last_ns = r->ts_ns + 1000000;
            snprintf(r->uid, sizeof r->uid, "C%llu", (unsigned long long)(k * 2654435761u));
            snprintf(r->community_id, sizeof r->community_id, "1:%026llu=", (unsigned long long)k);
            r->orig_h[10] = r->orig_h[11] = r->resp_h[10] = r->resp_h[11] = 0xff;
            r->orig_h[12] = 10;
            r->orig_h[13] = (uint8_t)(k >> 16);
            r->orig_h[14] = (uint8_t)(k >> 8);
            r->orig_h[15] = (uint8_t)k;
            r->resp_h[12] = 10;
            r->resp_h[13] = 200;
            r->orig_p = (uint16_t)(1024 + k % 60000);
            r->resp_p = 443;
            r->proto = 6;
            r->ver = 4;
            r->vlan = r->inner_vlan = PT_VLAN_NONE;
            r->orig_pkts = 10;
            r->resp_pkts = 12;
            r->orig_ip_bytes = 1000;
            r->resp_ip_bytes = 15000;
            strcpy(r->conn_state, "SF");
            strcpy(r->history, "ShADadFf");
            r->ifaces = 1;
        }
        const char *ifn[1] = {"bench0"};
        struct pt_store_batch bt = {
            .sec = T0 + b, .flows = recs, .n_flows = BATCH, .ifnames = ifn, .n_ifnames = 1};
        double t0 = now_s();
        if (pt_store_write(s, &bt) < 0)
            return 1;
        if (b == 0)
            printf("flows  %u records in one second's transaction: %.1f ms\n", BATCH,
                   (now_s() - t0) * 1e3);
    }
    pt_store_close(s);
    s = store_open(dir, true);
    if (!s)
        return 1;
    printf("flows  store bytes per flow record (data file growth / %u): %.0f\n", N,
           (double)(pt_store_file_size(s) - before) / N);
    pt_store_close(s);
    return 0;
}

static int count_pt(const struct pt_store_value *v, void *arg)
{
    (void)v;
    (*(uint64_t *)arg)++;
    return 0;
}

static int bench_query(const char *dir)
{
    struct pt_store *s = store_open(dir, true);
    struct pt_store_point p[3];
    double best = 1e9;
    uint64_t n = 0;

    if (!s)
        return 1;
    pt_store_series_id(s, "packets", &p[0].series);
    pt_store_series_id(s, "bytes", &p[1].series);
    pt_store_series_id(s, "flows_active", &p[2].series);
    for (uint64_t t = 0; t < 86400; t++) {
        p[0].value = t % 1000;
        p[1].value = t * 1500 % 100000;
        p[2].value = t % 77;
        struct pt_store_batch b = {.sec = T0 + t, .points = p, .n_points = 3};
        if (pt_store_write(s, &b) < 0)
            return 1;
    }
    pt_store_close(s);
    char msg[256];
    int err;
    if (!(s = pt_store_open(dir, NULL, true, &err, msg, sizeof msg)))
        return 1;
    for (int r = 0; r < 5; r++) {
        n = 0;
        double t0 = now_s();
        pt_store_series_read(s, p[0].series, PT_RES_1S, T0, T0 + 86400, count_pt, &n);
        double dt = now_s() - t0;
        if (dt < best)
            best = dt;
    }
    pt_store_close(s);
    printf("query  24 h of 1 s points of one series: %llu points in %.2f ms (best of 5; "
           "target < 50 ms)\n",
           (unsigned long long)n, best * 1e3);
    char cmd[512];
    snprintf(cmd, sizeof cmd,
             "command -v mdb_dump >/dev/null && mdb_dump -s s1 '%s/store' > /dev/null", dir);
    double pbest = 1e9;
    int ok = 1;
    for (int r = 0; r < 5 && ok; r++) {
        double t0 = now_s();
        ok = system(cmd) == 0;
        double dt = now_s() - t0;
        if (ok && dt < pbest)
            pbest = dt;
    }
    if (ok)
        printf("query  peer: mdb_dump -s s1 of the same store (3 series, process start "
               "included): %.2f ms; ratio ours/peer %.2f\n",
               pbest * 1e3, best / pbest);
    else
        printf("query  peer: mdb_dump not installed (lmdb-utils): skipped\n");
    return 0;
}

int main(int argc, char **argv)
{
    static const uint64_t def[] = {10000, 100000, 1000000};
    char sub[4200];
    int rc = 0;

    if (argc < 2) {
        fprintf(stderr, "usage: agg_bench DIR [N...]\n");
        return 2;
    }
    pt_log_level = PT_LOG_WARN;
    if (argc > 2) {
        for (int i = 2; i < argc && !rc; i++) {
            snprintf(sub, sizeof sub, "%s/tick-%d", argv[1], i);
            rc = bench_tick(sub, strtoull(argv[i], NULL, 10));
        }
    } else {
        for (size_t i = 0; i < 3 && !rc; i++) {
            snprintf(sub, sizeof sub, "%s/tick-%zu", argv[1], i);
            rc = bench_tick(sub, def[i]);
        }
    }
    snprintf(sub, sizeof sub, "%s/points", argv[1]);
    rc = rc ? rc : bench_points(sub);
    snprintf(sub, sizeof sub, "%s/flows", argv[1]);
    rc = rc ? rc : bench_flow_bytes(sub);
    snprintf(sub, sizeof sub, "%s/query", argv[1]);
    rc = rc ? rc : bench_query(sub);
    return rc;
}
