/* test_query_cmds.c - `packettracer series`, `flows` and `top` end to end.
 *
 * DESIGN: each test builds a store in its own mkdtemp directory with the
 * write API (pt_store_open as writer, pt_store_series_id, pt_store_write of
 * synthetic seconds: points, top lists and flow records), then runs the
 * product binary on it (pt_test_bin) and compares its whole output with an
 * exact expected text. The expected numbers are worked out in the comments
 * next to them. JSON/CSV flow output is compared with pt_flow_record_write()
 * of the same records, which is what `packettracer read` prints. One test
 * keeps the writer open while the binary reads (the live case: the newest
 * minute has no rollup yet). Errors: the exit status (2 usage, 1 store) and
 * a message naming the option or path. */
#include <criterion/criterion.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../src/cli/query.h"
#include "pt/decode.h"
#include "pt/store.h"
#include "support/support.h"

/* 2026-11-23T08:02:00Z, a whole minute */
#define B    1795420920ull
#define NSEC 1000000000ull

static char dir[64];
static struct pt_store *w;

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/pt-query-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    w = NULL;
}

static void teardown(void)
{
    char cmd[128];

    pt_store_close(w);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    pt_test_run(cmd, NULL, NULL);
}

TestSuite(query_series, .init = setup, .fini = teardown);
TestSuite(query_flows, .init = setup, .fini = teardown);
TestSuite(query_top, .init = setup, .fini = teardown);
TestSuite(query_cli, .init = setup, .fini = teardown);

/* ---- building a store ---- */

static void writer_open(void)
{
    struct pt_store_config cfg;
    char msg[256] = "";
    int err = 0;

    pt_store_config_default(&cfg);
    cfg.nosync = true;
    cfg.map_size = 8u << 20;
    w = pt_store_open(dir, &cfg, false, &err, msg, sizeof msg);
    cr_assert_not_null(w, "pt_store_open(%s): %d %s", dir, err, msg);
}

static void writer_close(void)
{
    cr_assert_eq(pt_store_finish(w), 0);
    pt_store_close(w);
    w = NULL;
}

static uint32_t sid(const char *name)
{
    uint32_t id;

    cr_assert_eq(pt_store_series_id(w, name, &id), 0, "series_id(%s)", name);
    return id;
}

static const char *const ifnames[] = {"eth0", "eth1"};

static void write_batch(struct pt_store_batch *b)
{
    b->ifnames = ifnames;
    b->n_ifnames = 2;
    cr_assert_eq(pt_store_write(w, b), 0, "pt_store_write(%llu)", (unsigned long long)b->sec);
}

/* Ten seconds B..B+9, i = 0..9:
 *   bytes = 1000 (i+1), packets = 10 (i+1), flows_active = 5 + i
 *   bytes{iface=eth0} = 600 (i+1), bytes{iface=eth1} = 400 (i+1)
 *   bytes{vlan=100} = 500 at even i only (sparse), bytes{vlan=none} = the rest
 *   packets{proto=tcp} = 10 (i+1) at i < 5 only */
static void build_small(void)
{
    writer_open();
    uint32_t by = sid("bytes"), pk = sid("packets"), fa = sid("flows_active"),
             e0 = sid("bytes{iface=eth0}"), e1 = sid("bytes{iface=eth1}"),
             v100 = sid("bytes{vlan=100}"), vn = sid("bytes{vlan=none}"),
             tcp = sid("packets{proto=tcp}");
    for (uint64_t i = 0; i < 10; i++) {
        struct pt_store_point p[8];
        size_t n = 0;
        uint64_t v100b = i % 2 == 0 ? 500 : 0;
        p[n++] = (struct pt_store_point){by, 1000 * (i + 1)};
        p[n++] = (struct pt_store_point){pk, 10 * (i + 1)};
        p[n++] = (struct pt_store_point){fa, 5 + i};
        p[n++] = (struct pt_store_point){e0, 600 * (i + 1)};
        p[n++] = (struct pt_store_point){e1, 400 * (i + 1)};
        if (v100b)
            p[n++] = (struct pt_store_point){v100, v100b};
        p[n++] = (struct pt_store_point){vn, 1000 * (i + 1) - v100b};
        if (i < 5)
            p[n++] = (struct pt_store_point){tcp, 10 * (i + 1)};
        struct pt_store_batch b = {.sec = B + i, .points = p, .n_points = n};
        write_batch(&b);
    }
}

/* 151 seconds B..B+150 (two whole minutes and 31 s of a third):
 *   packets = 100 at the first second of each minute, else 10
 *   flows_active = 1, 2, 3 in the three minutes */
static void build_minutes(bool finish)
{
    writer_open();
    uint32_t pk = sid("packets"), fa = sid("flows_active");
    for (uint64_t i = 0; i <= 150; i++) {
        struct pt_store_point p[2] = {{pk, i % 60 == 0 ? 100 : 10}, {fa, i / 60 + 1}};
        struct pt_store_batch b = {.sec = B + i, .points = p, .n_points = 2};
        write_batch(&b);
    }
    if (finish)
        writer_close();
}

/* ---- running the binary ---- */

/* Run `packettracer ARGS` (stderr too when @with_stderr); its output in *@out. */
static int run_args(const char *args, bool with_stderr, char **out)
{
    char cmd[1400];

    snprintf(cmd, sizeof cmd, "'%s' %s%s", pt_test_bin(), args, with_stderr ? " 2>&1" : "");
    return pt_test_run(cmd, out, NULL);
}

#define FORMAT_ARGS(buf, fmt)                                                                      \
    do {                                                                                           \
        va_list ap;                                                                                \
        va_start(ap, fmt);                                                                         \
        vsnprintf(buf, sizeof buf, fmt, ap);                                                       \
        va_end(ap);                                                                                \
    } while (0)

/* The whole output (stdout and stderr) must be @want, the exit status @want_rc. */
static void expect(int want_rc, const char *want, const char *fmt, ...)
{
    char args[1024], *out = NULL;
    int rc;

    FORMAT_ARGS(args, fmt);
    rc = run_args(args, true, &out);
    cr_expect_eq(rc, want_rc, "%s: exit %d, want %d; output:\n%s", args, rc, want_rc, out);
    cr_expect_str_eq(out, want, "%s:\n--- got ---\n%s--- want ---\n%s", args, out, want);
    free(out);
}

/* The output must hold @needle. */
static void expect_has(int want_rc, const char *needle, const char *fmt, ...)
{
    char args[1024], *out = NULL;
    int rc;

    FORMAT_ARGS(args, fmt);
    rc = run_args(args, true, &out);
    cr_expect_eq(rc, want_rc, "%s: exit %d, want %d; output:\n%s", args, rc, want_rc, out);
    cr_expect(strstr(out, needle) != NULL, "%s: no '%s' in:\n%s", args, needle, out);
    free(out);
}

/* ---- series ---- */

Test(query_series, json_1s)
{
    build_small();
    writer_close();
    expect(0,
           "{\"ts\":\"2026-11-23T08:02:00Z\",\"series\":\"bytes\",\"value\":1000}\n"
           "{\"ts\":\"2026-11-23T08:02:01Z\",\"series\":\"bytes\",\"value\":2000}\n"
           "{\"ts\":\"2026-11-23T08:02:02Z\",\"series\":\"bytes\",\"value\":3000}\n",
           "series -d %s --metric bytes --from 2026-11-23T08:02:00Z --to %llu --format json", dir,
           B + 3);
}

Test(query_series, csv_bps_iface)
{
    build_small();
    writer_close();
    /* bps = bytes x 8; the alias names the series */
    expect(0,
           "ts,series,value\n"
           "2026-11-23T08:02:08Z,bps{iface=eth1},28800\n"
           "2026-11-23T08:02:09Z,bps{iface=eth1},32000\n",
           "series -d %s -m bps --iface eth1 --from %llu --format csv", dir, B + 8);
}

Test(query_series, by_iface_points)
{
    build_small();
    writer_close();
    /* pps of two seconds per interface; --by iface lists both */
    expect(0,
           "ts,series,value\n"
           "2026-11-23T08:02:00Z,bytes{iface=eth0},600\n"
           "2026-11-23T08:02:01Z,bytes{iface=eth0},1200\n"
           "2026-11-23T08:02:00Z,bytes{iface=eth1},400\n"
           "2026-11-23T08:02:01Z,bytes{iface=eth1},800\n",
           "series -d %s --metric bytes --by iface --from %llu --to %llu --format csv", dir, B,
           B + 2);
}

Test(query_series, by_vlan_summary)
{
    build_small();
    writer_close();
    /* bps over 10 s, step 1s, sorted by average:
     * vlan=none: bytes 500 2000 2500 4000 4500 6000 6500 8000 8500 10000 = 52500;
     *   avg 52500*8/10 = 42000 b/s, min 4000, max = p95 = 80000; sparkline levels
     *   floor(8 v / 80000) = 0 1 2 3 3 4 5 6 6 7
     * vlan=100: 500 bytes at even seconds only (odd ones count 0): avg 2000 b/s,
     *   min 0, max = p95 = 4000 (rank 10 of 10) */
    expect(0,
           "bps  2026-11-23 08:02:00 → 2026-11-23 08:02:10 UTC  step 1s\n"
           "SERIES          POINTS        AVG       MIN        MAX        P95  TREND\n"
           "bps{vlan=none}      10  42.0 kb/s  4.0 kb/s  80.0 kb/s  80.0 kb/s  ▁▂▃▄▄▅▆▇▇█\n"
           "bps{vlan=100}        5   2.0 kb/s     0 b/s   4.0 kb/s   4.0 kb/s  █▁█▁█▁█▁█▁\n",
           "series -d %s --metric bps --by vlan --from %llu --to %llu", dir, B, B + 10);
}

Test(query_series, count_summary_and_default_range)
{
    build_small();
    writer_close();
    /* Default range: --to = newest second + 1 = B+10, --from = --to - 1 h. The
     * store holds [B, B+10) of it, so auto picks 1 s steps. tcp has 5 points
     * (10 20 30 40 50 = 150 packets) and 5 missing seconds (0): avg 15, min 0,
     * max = p95 = 50 (rank 10 of 10); sparkline floor(8 v / 50) = 1 3 4 6 7(8)
     * then 0 x 5. */
    expect(0,
           "packets  2026-11-23 07:02:10 → 2026-11-23 08:02:10 UTC  step 1s\n"
           "SERIES              POINTS  TOTAL  AVG  MIN  MAX  P95  TREND\n"
           "packets{proto=tcp}       5    150   15    0   50   50  ▂▄▅▇█▁▁▁▁▁\n",
           "series -d %s --metric packets --by proto", dir);
}

/* auto: the finest step giving <= 1500 points over the stored part of the range */
Test(query_series, auto_step)
{
    writer_open();
    uint32_t pk = sid("packets");
    for (uint64_t s = 0; s <= 1600; s += 1600) {
        struct pt_store_point p = {pk, s ? 7 : 5};
        struct pt_store_batch b = {.sec = B + s, .points = &p, .n_points = 1};
        write_batch(&b);
    }
    /* [B, B+1601): 1601 s, so 1 m steps; the last minute (08:28, 41 s of data, one
     * point) comes from its 1 s points, the writer still open; min 0: missing seconds */
    expect(0,
           "ts,series,value,min,max,p95,n\n"
           "2026-11-23T08:02:00Z,packets,5,0,5,5,1\n"
           "2026-11-23T08:28:00Z,packets,7,0,7,7,1\n",
           "series -d %s -m packets --from %llu --format csv", dir, B - 86400);
    /* [B, B+1400): 1 s steps */
    expect(0, "ts,series,value\n2026-11-23T08:02:00Z,packets,5\n",
           "series -d %s -m packets --from %llu --to %llu --format csv", dir, B, B + 1400);
}

/* auto: once the 1 s points have aged out, the 1 m points answer */
Test(query_series, auto_coarser_after_retention)
{
    struct pt_store_config cfg;
    char msg[256] = "";
    int err = 0;

    build_small();
    writer_close();
    pt_store_config_default(&cfg);
    cfg.nosync = true;
    cfg.keep_s[PT_RES_1S] = 60;
    w = pt_store_open(dir, &cfg, false, &err, msg, sizeof msg);
    cr_assert_not_null(w, "%s", msg);
    uint32_t by = sid("bytes");
    for (uint64_t s = B + 200; s <= B + 330; s += 65) {
        struct pt_store_point p = {by, 1};
        struct pt_store_batch b = {.sec = s, .points = &p, .n_points = 1};
        write_batch(&b);
    }
    writer_close();
    /* minute B: 1000 + ... + 10000 = 55000 over 10 points of 60 s */
    expect(0,
           "ts,series,value,min,max,p95,n\n"
           "2026-11-23T08:02:00Z,bytes,55000,0,10000,10000,10\n",
           "series -d %s -m bytes --from %llu --to %llu --format csv", dir, B, B + 10);
}

Test(query_series, gauge_points_table)
{
    build_small();
    writer_close();
    expect(0,
           "flows_active  2026-11-23 08:02:07 → 2026-11-23 08:02:10 UTC  step 1s\n"
           "TIME (UTC)           SERIES        VALUE\n"
           "2026-11-23 08:02:07  flows_active     12\n"
           "2026-11-23 08:02:08  flows_active     13\n"
           "2026-11-23 08:02:09  flows_active     14\n",
           "series -d %s --metric flows_active --from %llu --points", dir, B + 7);
}

Test(query_series, rollup_1m_json)
{
    build_minutes(true);
    /* pps with 1 m steps over [B, B+180); data window [B, B+151):
     * minutes 0 and 1: 100 + 59 x 10 = 690 packets / 60 s = 11.5/s, min 10, max 100,
     *   p95 = the 57th of 60 sorted values = 10, n = 60;
     * minute 2 (31 s of data): 100 + 30 x 10 = 400 / 31 s = 12.903/s, n = 31. */
    expect(0,
           "{\"ts\":\"2026-11-23T08:02:00Z\",\"series\":\"pps\",\"value\":11.5,\"min\":10,"
           "\"max\":100,\"p95\":10,\"n\":60}\n"
           "{\"ts\":\"2026-11-23T08:03:00Z\",\"series\":\"pps\",\"value\":11.5,\"min\":10,"
           "\"max\":100,\"p95\":10,\"n\":60}\n"
           "{\"ts\":\"2026-11-23T08:04:00Z\",\"series\":\"pps\",\"value\":12.903,\"min\":10,"
           "\"max\":100,\"p95\":10,\"n\":31}\n",
           "series -d %s --metric pps --from %llu --to %llu --step 1m --format json", dir, B,
           B + 151);
}

Test(query_series, rollup_live_writer_open)
{
    build_minutes(false); /* the writer stays open: the last minute has no 1 m point */
    /* counts are sums per step; gauges are averages (sum / n) */
    expect(0,
           "ts,series,value,min,max,p95,n\n"
           "2026-11-23T08:02:00Z,packets,690,10,100,10,60\n"
           "2026-11-23T08:03:00Z,packets,690,10,100,10,60\n"
           "2026-11-23T08:04:00Z,packets,400,10,100,10,31\n",
           "series -d %s --metric packets --from %llu --to %llu --step 1m --format csv", dir, B,
           B + 3600);
    expect(0,
           "ts,series,value,min,max,p95,n\n"
           "2026-11-23T08:02:00Z,flows_active,1,1,1,1,60\n"
           "2026-11-23T08:03:00Z,flows_active,2,2,2,2,60\n"
           "2026-11-23T08:04:00Z,flows_active,3,3,3,3,31\n",
           "series -d %s --metric flows_active --from %llu --step 1m --format csv", dir, B - 1800);
}

Test(query_series, rollup_summary)
{
    build_minutes(true);
    /* pps, 1 m steps over the data window [B, B+151): avg = 1780 packets / 151 s =
     * 11.788/s; the step values are 11.5, 11.5, 12.903: min 11.5, max = p95 = 12.9;
     * sparkline levels floor(8 v / 12.903) = 7 (capped), 7, 7 */
    expect(0,
           "pps  2026-11-23 08:02:00 → 2026-11-23 08:05:00 UTC  step 1m\n"
           "SERIES  POINTS     AVG     MIN     MAX     P95  TREND\n"
           "pps          3  11.8/s  11.5/s  12.9/s  12.9/s  ███\n",
           "series -d %s --metric pps --from %llu --to %llu --step 1m", dir, B, B + 151);
}

Test(query_series, errors)
{
    build_small();
    writer_close();
    expect_has(2, "--metric is required", "series -d %s", dir);
    expect_has(2, "--metric: unknown metric 'nosuch'", "series -d %s --metric nosuch", dir);
    expect_has(2, "--from: 'yesterday' is not a time", "series -d %s -m bps --from yesterday", dir);
    expect_has(2, "--to: '2026-11-23T08:02:00' is not a time",
               "series -d %s -m bps --to 2026-11-23T08:02:00", dir);
    expect_has(2, "--step: '5m' is not 1s, 1m, 1h or auto", "series -d %s -m bps --step 5m", dir);
    expect_has(2, "--by: 'host' is not iface, vlan, proto, app, qtype or rcode",
               "series -d %s -m bps --by host", dir);
    expect_has(2, "--iface and --by cannot be combined",
               "series -d %s -m bps --by vlan --iface eth0", dir);
    expect_has(2, "--from must be before --to", "series -d %s -m bps --from %llu --to %llu", dir,
               B + 5, B + 5);
    expect_has(2, "--format: unknown format 'xml'", "series -d %s -m bps --format xml", dir);
    expect_has(2, "unrecognized option '--nope'", "series -d %s -m bps --nope", dir);
    expect_has(1, "no series 'bytes{iface=eth9}'", "series -d %s -m bps --iface eth9", dir);
    expect_has(1,
               "nothing stored at or after --from: the newest second stored is 2026-11-23 "
               "08:02:09 UTC",
               "series -d %s -m bps --from %llu", dir, B + 10);
    expect_has(1, "data directory /nonexistent/pt", "series -d /nonexistent/pt -m bps");
    char empty[96];
    snprintf(empty, sizeof empty, "%s/empty", dir);
    cr_assert_eq(mkdir(empty, 0700), 0);
    expect_has(1, "no store in", "series -d %s -m bps", empty);
    expect_has(0, "--metric M", "series --help");
}

/* An empty store has no span: without --to there is no range. */
Test(query_series, empty_store)
{
    writer_open();
    pt_store_close(w);
    w = NULL;
    expect_has(1, "the store holds no data yet", "series -d %s -m bps", dir);
    expect_has(1, "no series 'bytes'", "series -d %s -m bps --to now", dir);
}

/* ---- flows ---- */

static void addr4(uint8_t a[16], uint8_t x, uint8_t y, uint8_t z, uint8_t t)
{
    memset(a, 0, 16);
    a[10] = a[11] = 0xff;
    a[12] = x, a[13] = y, a[14] = z, a[15] = t;
}

static void addr6(uint8_t a[16], uint8_t last)
{
    static const uint8_t db8[16] = {0x20, 0x01, 0x0d, 0xb8};
    memcpy(a, db8, 16);
    a[15] = last;
}

/* r[0]: tcp 10.0.0.1:51000 -> 10.0.0.2:80 on eth0, B+1.25 .. B+3.5
 * r[1]: udp 10.0.0.3:5353 -> 10.0.0.1:53 on eth1, VLAN 100, one packet at B+2
 * r[2]: tcp [2001:db8::2]:50000 -> [2001:db8::1]:443 on both, B+4 .. B+70.5
 * End-time order: r[1], r[0], r[2]. */
static struct pt_flow_record recs[3];

static void make_records(void)
{
    struct pt_flow_record *r = recs;

    memset(recs, 0, sizeof recs);
    for (int i = 0; i < 3; i++) {
        r[i].vlan = r[i].inner_vlan = PT_VLAN_NONE;
        r[i].end_reason = PT_FLOW_END_IDLE;
        snprintf(r[i].uid, sizeof r[i].uid, "CUid%d", i + 1);
        snprintf(r[i].community_id, sizeof r[i].community_id, "1:community%d=", i + 1);
    }
    r[0].ts_ns = (B + 1) * NSEC + 250000000, r[0].last_ns = (B + 3) * NSEC + 500000000;
    addr4(r[0].orig_h, 10, 0, 0, 1), addr4(r[0].resp_h, 10, 0, 0, 2);
    r[0].orig_p = 51000, r[0].resp_p = 80, r[0].proto = 6, r[0].ver = 4;
    r[0].orig_pkts = 5, r[0].resp_pkts = 4, r[0].orig_ip_bytes = 400, r[0].resp_ip_bytes = 3000;
    r[0].orig_bytes = 140, r[0].resp_bytes = 2800;
    snprintf(r[0].conn_state, sizeof r[0].conn_state, "SF");
    snprintf(r[0].history, sizeof r[0].history, "ShADadFf");
    r[0].orig_tcp_flags = 0x1b, r[0].resp_tcp_flags = 0x13, r[0].ifaces = 1;
    r[0].end_reason = PT_FLOW_END_CLOSED;

    r[1].ts_ns = r[1].last_ns = (B + 2) * NSEC;
    addr4(r[1].orig_h, 10, 0, 0, 3), addr4(r[1].resp_h, 10, 0, 0, 1);
    r[1].orig_p = 5353, r[1].resp_p = 53, r[1].proto = 17, r[1].ver = 4, r[1].vlan = 100;
    r[1].orig_pkts = 1, r[1].orig_ip_bytes = 70, r[1].ifaces = 2;
    snprintf(r[1].conn_state, sizeof r[1].conn_state, "S0");
    r[1].orig_mac[0] = 2, r[1].orig_mac[5] = 1;

    r[2].ts_ns = (B + 4) * NSEC, r[2].last_ns = (B + 70) * NSEC + 500000000;
    addr6(r[2].orig_h, 2), addr6(r[2].resp_h, 1);
    r[2].orig_p = 50000, r[2].resp_p = 443, r[2].proto = 6, r[2].ver = 6;
    r[2].orig_pkts = 1200, r[2].resp_pkts = 1500;
    r[2].orig_ip_bytes = 90000, r[2].resp_ip_bytes = 1800000, r[2].ifaces = 3;
    snprintf(r[2].conn_state, sizeof r[2].conn_state, "RSTO");
    snprintf(r[2].history, sizeof r[2].history, "ShADadR");
}

static void build_flows(void)
{
    make_records();
    writer_open();
    uint32_t pk = sid("packets");
    struct pt_store_point p = {pk, 1};
    struct pt_store_batch b1 = {
        .sec = B + 4, .points = &p, .n_points = 1, .flows = recs, .n_flows = 2};
    struct pt_store_batch b2 = {
        .sec = B + 71, .points = &p, .n_points = 1, .flows = recs + 2, .n_flows = 1};
    write_batch(&b1);
    write_batch(&b2);
    writer_close();
}

/* What `packettracer read` prints for records @idx (a header first for CSV). */
static char *records_text(enum pt_record_format fmt, const int *idx, size_t n)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    cr_assert_not_null(f);
    if (fmt == PT_FMT_CSV)
        pt_flow_record_csv_header(f);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(pt_flow_record_write(f, fmt, &recs[idx[i]], ifnames, 2), 0);
    fclose(f);
    return buf;
}

/* stdout of the command must equal pt_flow_record_write() of records @idx. */
static void expect_records(enum pt_record_format fmt, const int *idx, size_t n,
                           const char *fmt_args, ...)
{
    char args[1024], *out = NULL, *want = records_text(fmt, idx, n);
    int rc;

    FORMAT_ARGS(args, fmt_args);
    rc = run_args(args, false, &out);
    cr_expect_eq(rc, 0, "%s: exit %d", args, rc);
    cr_expect_str_eq(out, want, "%s:\n--- got ---\n%s--- want ---\n%s", args, out, want);
    free(out);
    free(want);
}

Test(query_flows, json_and_csv_equal_read)
{
    static const int all[] = {1, 0, 2};

    build_flows();
    expect_records(PT_FMT_JSON, all, 3, "flows -d %s --format json", dir);
    expect_records(PT_FMT_CSV, all, 3, "flows -d %s --format csv", dir);
}

Test(query_flows, filters)
{
    static const int host1[] = {1, 0}, v6[] = {2}, uid1[] = {0}, dns[] = {1};

    build_flows();
    expect_records(PT_FMT_JSON, host1, 2, "flows -d %s -F json --host 10.0.0.1", dir);
    expect_records(PT_FMT_JSON, v6, 1, "flows -d %s -F json --host 2001:db8::2", dir);
    expect_records(PT_FMT_JSON, v6, 1, "flows -d %s -F json --port 443", dir);
    expect_records(PT_FMT_JSON, dns, 1, "flows -d %s -F json --port 53 --limit 5", dir);
    expect_records(PT_FMT_JSON, uid1, 1, "flows -d %s -F json --uid CUid1", dir);
    expect_records(PT_FMT_JSON, host1, 2, "flows -d %s -F json --limit 2", dir);
    /* by end time: r[0] ends at B+3.5 */
    expect_records(PT_FMT_JSON, uid1, 1, "flows -d %s -F json --from %llu --to %llu", dir, B + 3,
                   B + 4);
    expect_records(PT_FMT_CSV, NULL, 0, "flows -d %s -F csv --host 10.9.9.9", dir);
}

Test(query_flows, table)
{
    build_flows();
    /* packets and IP bytes of both directions: 9 and 3400; 1 and 70; 2700 and 1890000 */
    expect(0,
           "START (UTC)              DURATION  PROTO  ORIG → RESP                              "
           "PKTS   BYTES  STATE  UID\n"
           "2026-11-23 08:02:02.000    0.000s  udp    10.0.0.3:5353 → 10.0.0.1:53              "
           "   1    70 B  S0     CUid2\n"
           "2026-11-23 08:02:01.250    2.250s  tcp    10.0.0.1:51000 → 10.0.0.2:80             "
           "   9  3.4 kB  SF     CUid1\n"
           "2026-11-23 08:02:04.000     1m06s  tcp    [2001:db8::2]:50000 → [2001:db8::1]:443  "
           "2.7k  1.9 MB  RSTO   CUid3\n",
           "flows -d %s", dir);
    expect(0, "START (UTC)  DURATION  PROTO  ORIG → RESP  PKTS  BYTES  STATE  UID\n",
           "flows -d %s --uid Cnone", dir);
}

Test(query_flows, errors)
{
    build_flows();
    expect_has(2, "--host: '10.0.0' is not an IPv4 or IPv6 address", "flows -d %s --host 10.0.0",
               dir);
    expect_has(2, "--port: '70000' is not a number in 0..65535", "flows -d %s --port 70000", dir);
    expect_has(2, "--limit", "flows -d %s --limit 0", dir);
    expect_has(2, "--uid: 'C0123456789012345678901' is not a flow uid",
               "flows -d %s --uid C0123456789012345678901", dir);
    expect_has(2, "--from: '-5q' is not a time", "flows -d %s --from -5q", dir);
    expect_has(2, "--from must be before --to", "flows -d %s --from %llu --to %llu", dir, B, B);
    expect_has(2, "unexpected argument 'extra'", "flows -d %s extra", dir);
    expect_has(1, "data directory /nonexistent/pt", "flows -d /nonexistent/pt");
    expect_has(0, "--host A", "flows --help");
}

/* ---- top ---- */

/* Three seconds of top lists (and a packets point each, for the span):
 *   hosts  B:   10.0.0.1 1000 B/10 p/2 f, 10.0.0.2 500/20/1
 *          B+1: 10.0.0.1 1000/10/2, 2001:db8::1 3000/5/1
 *          B+2: 10.0.0.2 600/30/3, 2001:db8::1 100/1/1
 *   sums:  10.0.0.1 2000/20/4, 10.0.0.2 1100/50/4, 2001:db8::1 3100/6/2
 *   flows  B:   CUid1 1000 B/10 p, CUid2 300/3;  B+1: CUid1 500/5, CUid3 2000/2
 *   sums:  CUid1 1500/15, CUid2 300/3, CUid3 2000/2 */
static void build_top(void)
{
    struct pt_top_host h[3][2];
    struct pt_top_flow f[2][2];
    uint8_t a1[16], a2[16], a6[16];

    addr4(a1, 10, 0, 0, 1), addr4(a2, 10, 0, 0, 2), addr6(a6, 1);
    memset(h, 0, sizeof h);
    memset(f, 0, sizeof f);
#define HOST(e, a, b, p, n) (memcpy((e).addr, a, 16), (e).bytes = b, (e).pkts = p, (e).flows = n)
    HOST(h[0][0], a1, 1000, 10, 2), HOST(h[0][1], a2, 500, 20, 1);
    HOST(h[1][0], a1, 1000, 10, 2), HOST(h[1][1], a6, 3000, 5, 1);
    HOST(h[2][0], a2, 600, 30, 3), HOST(h[2][1], a6, 100, 1, 1);
#undef HOST
    make_records();
    for (int s = 0; s < 2; s++)
        for (int j = 0; j < 2; j++) {
            const struct pt_flow_record *r = &recs[s == 0 ? j : 2 * j];
            struct pt_top_flow *e = &f[s][j];
            memcpy(e->uid, r->uid, sizeof e->uid);
            memcpy(e->orig_h, r->orig_h, 16), memcpy(e->resp_h, r->resp_h, 16);
            e->orig_p = r->orig_p, e->resp_p = r->resp_p, e->vlan = r->vlan;
            e->proto = r->proto, e->ver = r->ver;
        }
    f[0][0].bytes = 1000, f[0][0].pkts = 10, f[0][1].bytes = 300, f[0][1].pkts = 3;
    f[1][0].bytes = 500, f[1][0].pkts = 5, f[1][1].bytes = 2000, f[1][1].pkts = 2;
    writer_open();
    uint32_t pk = sid("packets");
    for (int s = 0; s < 3; s++) {
        struct pt_store_point p = {pk, 1};
        struct pt_store_batch b = {.sec = B + (uint64_t)s,
                                   .points = &p,
                                   .n_points = 1,
                                   .hosts = h[s],
                                   .n_hosts = 2,
                                   .tflows = s < 2 ? f[s] : NULL,
                                   .n_tflows = s < 2 ? 2 : 0};
        write_batch(&b);
    }
}

Test(query_top, hosts)
{
    build_top();
    writer_close();
    expect(0,
           "{\"host\":\"2001:db8::1\",\"bytes\":3100,\"packets\":6,\"flows\":2}\n"
           "{\"host\":\"10.0.0.1\",\"bytes\":2000,\"packets\":20,\"flows\":4}\n"
           "{\"host\":\"10.0.0.2\",\"bytes\":1100,\"packets\":50,\"flows\":4}\n",
           "top -d %s --format json", dir);
    expect(0,
           "host,bytes,packets,flows\n"
           "10.0.0.2,1100,50,4\n"
           "10.0.0.1,2000,20,4\n",
           "top -d %s --by packets -n 2 --format csv --from %llu --to %llu", dir, B, B + 3);
    /* a tie on flows (4 and 4) goes to the larger byte count */
    expect(0,
           "top 10 hosts by flows  2026-11-23 08:02:00 → 2026-11-23 08:02:03 UTC\n"
           "#  HOST          BYTES  PACKETS  FLOWS\n"
           "1  10.0.0.1     2.0 kB       20      4\n"
           "2  10.0.0.2     1.1 kB       50      4\n"
           "3  2001:db8::1  3.1 kB        6      2\n",
           "top -d %s --hosts --by flows --from %llu", dir, B);
}

Test(query_top, flows)
{
    build_top();
    writer_close();
    expect(0,
           "uid,proto,id.orig_h,id.orig_p,id.resp_h,id.resp_p,vlan,bytes,packets\n"
           "CUid1,tcp,10.0.0.1,51000,10.0.0.2,80,,1500,15\n"
           "CUid2,udp,10.0.0.3,5353,10.0.0.1,53,100,300,3\n"
           "CUid3,tcp,2001:db8::2,50000,2001:db8::1,443,,2000,2\n",
           "top -d %s --flows --by packets --format csv", dir);
    expect(0,
           "{\"uid\":\"CUid3\",\"proto\":\"tcp\",\"id.orig_h\":\"2001:db8::2\",\"id.orig_p\":50000,"
           "\"id.resp_h\":\"2001:db8::1\",\"id.resp_p\":443,\"bytes\":2000,\"packets\":2}\n",
           "top -d %s --flows -n 1 --format json", dir);
    expect(0,
           "top 10 flows by bytes  2026-11-23 07:02:03 → 2026-11-23 08:02:03 UTC\n"
           "#  UID    PROTO  ORIG → RESP                              VLAN   BYTES  PACKETS\n"
           "1  CUid3  tcp    [2001:db8::2]:50000 → [2001:db8::1]:443     -  2.0 kB        2\n"
           "2  CUid1  tcp    10.0.0.1:51000 → 10.0.0.2:80                -  1.5 kB       15\n"
           "3  CUid2  udp    10.0.0.3:5353 → 10.0.0.1:53               100   300 B        3\n",
           "top -d %s --flows", dir);
}

/* Once the 1 s lists have aged out, the minute's merged list answers. */
Test(query_top, minute_lists_after_retention)
{
    build_top();
    pt_store_close(w);
    w = NULL;
    struct pt_store_config cfg;
    char msg[256] = "";
    int err = 0;
    pt_store_config_default(&cfg);
    cfg.nosync = true;
    cfg.keep_s[PT_RES_1S] = 60;
    w = pt_store_open(dir, &cfg, false, &err, msg, sizeof msg);
    cr_assert_not_null(w, "%s", msg);
    uint32_t pk = sid("packets");
    for (uint64_t s = B + 200; s <= B + 330; s += 65) {
        struct pt_store_point p = {pk, 1};
        struct pt_store_batch b = {.sec = s, .points = &p, .n_points = 1};
        write_batch(&b);
    }
    writer_close();
    expect(0,
           "host,bytes,packets,flows\n"
           "2001:db8::1,3100,6,2\n"
           "10.0.0.1,2000,20,4\n"
           "10.0.0.2,1100,50,4\n",
           "top -d %s --format csv --from %llu --to %llu", dir, B, B + 3);
}

Test(query_top, errors)
{
    build_top();
    writer_close();
    expect_has(2, "--by flows ranks hosts", "top -d %s --flows --by flows", dir);
    expect_has(2, "--by: 'bits' is not bytes, packets or flows", "top -d %s --by bits", dir);
    expect_has(2, "-n: '0' is not a number", "top -d %s -n 0", dir);
    expect_has(2, "--to: 'later' is not a time", "top -d %s --to later", dir);
    char empty[96];
    snprintf(empty, sizeof empty, "%s/empty", dir);
    cr_assert_eq(mkdir(empty, 0700), 0);
    expect_has(1, "no store in", "top -d %s", empty);
    expect_has(0, "not counted", "top --help");
}

/* ---- shared ---- */

/* A store directory that is not an LMDB store: exit 1, naming the path. */
Test(query_cli, not_a_store)
{
    char path[128];
    FILE *f;

    snprintf(path, sizeof path, "%s/store", dir);
    cr_assert_eq(mkdir(path, 0700), 0);
    snprintf(path, sizeof path, "%s/store/data.mdb", dir);
    cr_assert_not_null(f = fopen(path, "w"));
    fputs("not a store\n", f);
    fclose(f);
    expect_has(1, "cannot open the store in", "flows -d %s", dir);
    expect_has(1, "/store: not an LMDB store", "series -d %s -m bps", dir);
    expect_has(1, "cannot open the store in", "top -d %s", dir);
}

Test(query_cli, listed_in_help)
{
    expect_has(0, "  series ", "--help");
    expect_has(0, "  flows ", "--help");
    expect_has(0, "  top ", "--help");
}
