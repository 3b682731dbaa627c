/* series.c - `packettracer series`: per-second series from the store, as a
 * summary table with sparklines, or point by point (table, JSON, CSV).
 *
 * DESIGN:
 * 1. Options name a metric (a stored name, or the rate aliases bps and pps),
 *    one series (the total, or --iface) or a dimension (--by), a range and a
 *    step. auto picks the finest of 1 s / 1 m / 1 h giving <= 1500 points
 *    over the part of the range the store holds, and the next coarser one
 *    when that holds no point in the range (aged out); with a step above
 *    1 s the range rounds outward to whole steps.
 * 2. Each series' points are read at the step's resolution. The 1 m / 1 h
 *    point of the newest bucket is absent or stale until the writer moves on
 *    to a later bucket (store.h, "Rollups"), so that bucket is computed here
 *    from its 1 s points, as the store computes a rollup (nearest-rank p95).
 * 3. A point's value depends on the metric's kind:
 *      rate  (bps, pps): sum x mult / seconds of the bucket inside the data
 *            window [max(from, first), min(to, last + 1)), so partial first
 *            and last buckets are not diluted; min is 0 when the bucket
 *            misses seconds (a missing point is 0); max and p95 x mult;
 *      count (packets, bytes, flows_new, ...): the sum; min as above;
 *      gauge (flows_active): the average sum / n; min, max, p95 as stored.
 *    Missing buckets are 0 for rates and counts (the sparse VLAN and
 *    protocol series only store non-zero seconds) and "no data" for gauges.
 * 4. The summary row's min, max and p95 are over the step values, which the
 *    sparkline draws, and its avg lies between them: rates are time-weighted
 *    over the data window (sum x mult / its seconds), counts the mean step
 *    value (missing steps 0), gauges sum / n over the seconds with a point. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "query.h"

#define AUTO_POINTS    1500
#define MAX_BUCKETS    10000000ull
#define SPARK_WIDTH    60
#define PT_CLI_CMD     "series"
#define SERIES_MAX_LEN (PT_STORE_NAMELEN + 32)

enum kind { K_COUNT = 0, K_RATE, K_GAUGE };

struct metric {
    const char *name;   /* as asked */
    const char *stored; /* the stored metric it reads */
    enum kind kind;
    double mult;
    enum pt_cli_unit unit;
};

static const struct metric metrics[] = {
    {"bps", "bytes", K_RATE, 8, PT_CLI_UNIT_BITRATE},
    {"pps", "packets", K_RATE, 1, PT_CLI_UNIT_RATE},
    {"packets", "packets", K_COUNT, 1, PT_CLI_UNIT_NONE},
    {"bytes", "bytes", K_COUNT, 1, PT_CLI_UNIT_BYTES},
    {"decode_errors", "decode_errors", K_COUNT, 1, PT_CLI_UNIT_NONE},
    {"kernel_drops", "kernel_drops", K_COUNT, 1, PT_CLI_UNIT_NONE},
    {"flows_active", "flows_active", K_GAUGE, 1, PT_CLI_UNIT_NONE},
    {"flows_new", "flows_new", K_COUNT, 1, PT_CLI_UNIT_NONE},
    {"flows_ended", "flows_ended", K_COUNT, 1, PT_CLI_UNIT_NONE},
    {"flows_refused", "flows_refused", K_COUNT, 1, PT_CLI_UNIT_NONE},
    {"dns_queries", "dns_queries", K_COUNT, 1, PT_CLI_UNIT_NONE},
    {"tcp_retransmissions", "tcp_retransmissions", K_COUNT, 1, PT_CLI_UNIT_NONE},
    {"tcp_out_of_order", "tcp_out_of_order", K_COUNT, 1, PT_CLI_UNIT_NONE},
    {"tcp_dup_acks", "tcp_dup_acks", K_COUNT, 1, PT_CLI_UNIT_NONE},
    {"tcp_zero_windows", "tcp_zero_windows", K_COUNT, 1, PT_CLI_UNIT_NONE},
    {"tcp_lost_segments", "tcp_lost_segments", K_COUNT, 1, PT_CLI_UNIT_NONE},
};

struct series {
    char name[PT_STORE_NAMELEN]; /* stored name */
    char label[SERIES_MAX_LEN];  /* shown: the asked metric + the dimension */
    uint32_t id;
    struct pt_store_value *pts;
    size_t n, cap;
    /* summary */
    double avg, min, max, p95, total;
    bool has_stats;
    char spark[3 * SPARK_WIDTH + 1];
};

enum { OPT_STEP = PT_CLI_OPT_OWN };

struct series_opts {
    struct pt_cli_qopts base;
    const char *metric;
    const char *iface;
    const char *by;
    bool points;
    uint64_t step; /* 0 = auto */
};

struct query {
    struct metric m;
    uint64_t from0, to0;     /* the range asked for, seconds */
    bool have_span;          /* the store holds points: */
    uint64_t first, last;    /* its oldest and newest second */
    uint64_t from, to, step; /* seconds; from/to rounded out to whole steps */
    uint64_t ws, we;         /* data window [ws, we), empty when ws >= we */
    struct series *ser;
    size_t n_ser, cap_ser;
};

static void series_usage(FILE *out)
{
    fputs("usage: packettracer series -d DIR --metric M [options]\n"
          "\n"
          "Show the sensor's per-second series from the store in DIR/store: a table with one\n"
          "row per series (points, avg, min, max, p95, total for counts, and a sparkline of\n"
          "the range), or with --points one row per point. Works while the sensor writes.\n"
          "\n"
          "  -d, --datadir DIR     data directory (default " PT_CLI_DATADIR_DEFAULT ")\n"
          "  -m, --metric M        bps (bits/s), pps (packets/s), or a stored metric: packets,\n"
          "                        bytes, decode_errors, kernel_drops, flows_active (a gauge),\n"
          "                        flows_new, flows_ended, flows_refused, dns_queries,\n"
          "                        tcp_retransmissions, tcp_out_of_order, tcp_dup_acks,\n"
          "                        tcp_zero_windows, tcp_lost_segments\n"
          "  -i, --iface IF        the series of interface IF (default: the sensor total)\n"
          "  -b, --by D            every series of dimension D: iface, vlan or proto; app\n"
          "                        (packets, bytes, pps, bps); qtype or rcode (dns_queries)\n"
          "      --from T          start (default: --to minus 1 h)\n"
          "      --to T            end, exclusive (default: the newest second stored + 1)\n"
          "      --step S          1s, 1m, 1h or auto (default): the finest giving <= 1500\n"
          "                        points over the stored part of the range; above 1s the\n"
          "                        range rounds outward to whole steps,\n"
          "                        rates are averages over the step, counts are sums, and\n"
          "                        flows_active is the average (min/max/p95 in json and csv)\n"
          "  -p, --points          table: one row per point instead of one per series\n"
          "  -F, --format F        table (default), json (one object per point and line),\n"
          "                        csv (one row per point, with a header row)\n",
          out);
    pt_cli_usage_help_times(out);
    fputs("Series are named metric{dim=value}, e.g. bps{vlan=100}, pps{proto=udp},\n"
          "bps{app=tls}, dns_queries{rcode=NXDOMAIN}; a VLAN, protocol, application, DNS or\n"
          "TCP series has no point in a second without one, which counts as 0.\n"
          "Exit status: 0 ok, 1 no store or no such series, 2 bad usage.\n",
          out);
}

/* ---- options ---- */

static int parse_step(const char *s, uint64_t *step)
{
    if (strcmp(s, "auto") == 0)
        *step = 0;
    else if (strcmp(s, "1s") == 0 || strcmp(s, "1") == 0)
        *step = 1;
    else if (strcmp(s, "1m") == 0 || strcmp(s, "60") == 0 || strcmp(s, "60s") == 0)
        *step = 60;
    else if (strcmp(s, "1h") == 0 || strcmp(s, "3600") == 0 || strcmp(s, "60m") == 0)
        *step = 3600;
    else {
        fprintf(stderr, "packettracer: --step: '%s' is not 1s, 1m, 1h or auto\n", s);
        return 2;
    }
    return 0;
}

static int series_opt(void *ctx, int c, const char *arg)
{
    struct series_opts *o = ctx;

    switch (c) {
    case 'm':
        o->metric = arg;
        return 0;
    case 'i':
        o->iface = arg;
        return 0;
    case 'b':
        if (strcmp(arg, "iface") && strcmp(arg, "vlan") && strcmp(arg, "proto") &&
            strcmp(arg, "app") && strcmp(arg, "qtype") && strcmp(arg, "rcode")) {
            fprintf(stderr,
                    "packettracer: --by: '%s' is not iface, vlan, proto, app, qtype or rcode\n",
                    arg);
            return 2;
        }
        o->by = arg;
        return 0;
    case OPT_STEP:
        return parse_step(arg, &o->step);
    case 'p':
        o->points = true;
        return 0;
    default:
        return -1;
    }
}

static int series_check(void *ctx)
{
    const struct series_opts *o = ctx;

    if (!o->metric) {
        fputs("packettracer series: --metric is required (e.g. --metric bps)\n", stderr);
        return 2;
    }
    if (!o->metric[0] || strpbrk(o->metric, "{}=")) {
        fprintf(stderr, "packettracer: --metric: '%s' is not a metric name\n", o->metric);
        return 2;
    }
    if (o->iface && o->by) {
        fputs("packettracer series: --iface and --by cannot be combined (the VLAN, "
              "protocol, app and DNS series are sensor totals; --by iface lists every "
              "interface)\n",
              stderr);
        return 2;
    }
    return 0;
}

static const struct option series_longopts[] = {
    {"metric", required_argument, NULL, 'm'}, {"iface", required_argument, NULL, 'i'},
    {"by", required_argument, NULL, 'b'},     {"step", required_argument, NULL, OPT_STEP},
    {"points", no_argument, NULL, 'p'},       {NULL, 0, NULL, 0},
};

static const struct pt_cli_qcmd series_cmd = {PT_CLI_CMD, series_longopts, series_usage, series_opt,
                                              series_check};

/* ---- reading ---- */

static int push_point(const struct pt_store_value *v, void *arg)
{
    struct series *se = arg;
    struct pt_store_value *p = pt_cli_reserve(se->pts, se->n, &se->cap, sizeof *p, 256);

    if (!p)
        return -ENOMEM;
    se->pts = p;
    se->pts[se->n++] = *v;
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

struct secs {
    uint64_t *v;
    size_t n, cap;
};

static int push_sec(const struct pt_store_value *v, void *arg)
{
    struct secs *s = arg;
    uint64_t *p = pt_cli_reserve(s->v, s->n, &s->cap, sizeof *p, 64);

    if (!p)
        return -ENOMEM;
    s->v = p;
    s->v[s->n++] = v->sum;
    return 0;
}

/* DESIGN 2: the newest bucket from its 1 s points. */
static int fix_last_bucket(struct pt_store *st, struct series *se, const struct query *q,
                           uint64_t last)
{
    struct secs s = {0};
    struct pt_store_value agg = {0};
    uint64_t b;
    int rc;

    if (q->step == 1 || last < q->from || last >= q->to)
        return 0;
    b = last - last % q->step;
    if ((rc = pt_store_series_read(st, se->id, PT_RES_1S, b, b + q->step, push_sec, &s)) < 0)
        goto out;
    if (s.n == 0)
        goto out;
    agg.ts = b;
    agg.min = UINT64_MAX;
    for (size_t i = 0; i < s.n; i++) {
        agg.sum += s.v[i];
        agg.min = s.v[i] < agg.min ? s.v[i] : agg.min;
        agg.max = s.v[i] > agg.max ? s.v[i] : agg.max;
    }
    qsort(s.v, s.n, sizeof *s.v, cmp_u64);
    agg.p95 = s.v[(s.n * 95 + 99) / 100 - 1];
    agg.n = (uint32_t)s.n;
    if (se->n && se->pts[se->n - 1].ts == b) {
        se->pts[se->n - 1] = agg; /* the same figures, or newer than a stale rollup */
    } else {
        rc = push_point(&agg, se);
    }
out:
    free(s.v);
    return rc < 0 ? rc : 0;
}

/* ---- values ---- */

/* Seconds of bucket @v inside the data window, and never fewer than its 1 s
 * points (with no 1 s point left, the span ends at the newest bucket's
 * start: store.h, pt_store_span). */
static uint64_t bucket_secs(const struct query *q, const struct pt_store_value *v)
{
    uint64_t a = v->ts > q->ws ? v->ts : q->ws;
    uint64_t b = v->ts + q->step < q->we ? v->ts + q->step : q->we;
    uint64_t secs = b > a ? b - a : q->step;
    return secs < v->n ? v->n : secs;
}

struct shown {
    double value, min, max, p95;
};

/* DESIGN 3. */
static struct shown point_values(const struct query *q, const struct pt_store_value *v)
{
    const struct metric *m = &q->m;
    uint64_t secs = bucket_secs(q, v);
    struct shown s;

    s.min = (double)v->min * m->mult;
    s.max = (double)v->max * m->mult;
    s.p95 = (double)v->p95 * m->mult;
    if (m->kind != K_GAUGE && q->step > 1 && v->n < secs)
        s.min = 0;
    if (m->kind == K_RATE)
        s.value = (double)v->sum * m->mult / (double)(q->step > 1 ? secs : 1);
    else if (m->kind == K_GAUGE)
        s.value = v->n ? (double)v->sum / v->n : 0;
    else
        s.value = (double)v->sum;
    return s;
}

/* DESIGN 4: the summary row and the sparkline of one series. */
static int summarize(const struct query *q, struct series *se)
{
    uint64_t b0 = q->ws - q->ws % q->step, nb;
    double sum = 0, n = 0, *vals, *sorted;
    size_t k = 0;

    se->spark[0] = '\0';
    if (q->ws >= q->we)
        return 0;
    nb = (q->we - b0 + q->step - 1) / q->step;
    if (!(vals = malloc(nb * sizeof *vals)) || !(sorted = malloc(nb * sizeof *sorted))) {
        free(vals);
        return -ENOMEM;
    }
    for (uint64_t i = 0; i < nb; i++)
        vals[i] = q->m.kind == K_GAUGE ? NAN : 0;
    for (size_t i = 0; i < se->n; i++) {
        const struct pt_store_value *v = &se->pts[i];
        if (v->ts < b0 || v->ts >= q->we)
            continue;
        vals[(v->ts - b0) / q->step] = point_values(q, v).value;
        sum += (double)v->sum;
        n += v->n;
    }
    for (uint64_t i = 0; i < nb; i++)
        if (!isnan(vals[i]))
            sorted[k++] = vals[i];
    se->total = sum;
    if (q->m.kind == K_RATE)
        se->avg = sum * q->m.mult / (double)(q->we - q->ws);
    else if (q->m.kind == K_COUNT)
        se->avg = sum / (double)nb;
    else
        se->avg = n > 0 ? sum / n : NAN;
    if (k) {
        qsort(sorted, k, sizeof *sorted, cmp_double);
        se->min = sorted[0];
        se->max = sorted[k - 1];
        se->p95 = pt_cli_p95_sorted(sorted, k);
        se->has_stats = true;
    }
    pt_cli_sparkline(se->spark, sizeof se->spark, vals, nb, SPARK_WIDTH);
    free(sorted);
    free(vals);
    return 0;
}

/* ---- which series ---- */

static int add_series(const char *name, uint32_t id, void *arg)
{
    struct query *q = arg;
    struct series *p = pt_cli_reserve(q->ser, q->n_ser, &q->cap_ser, sizeof *p, 16), *se;

    if (!p)
        return -ENOMEM;
    q->ser = p;
    se = &q->ser[q->n_ser++];
    memset(se, 0, sizeof *se);
    snprintf(se->name, sizeof se->name, "%s", name);
    snprintf(se->label, sizeof se->label, "%s%s", q->m.name, name + strlen(q->m.stored));
    se->id = id;
    return 0;
}

/* Compare names with digit runs as numbers: vlan=2 before vlan=10. */
static int natural_cmp(const char *a, const char *b)
{
    while (*a && *b) {
        if (*a >= '0' && *a <= '9' && *b >= '0' && *b <= '9') {
            const char *ea = a, *eb = b;
            while (*a == '0' && a[1] >= '0' && a[1] <= '9')
                a++;
            while (*b == '0' && b[1] >= '0' && b[1] <= '9')
                b++;
            for (ea = a; *ea >= '0' && *ea <= '9'; ea++)
                ;
            for (eb = b; *eb >= '0' && *eb <= '9'; eb++)
                ;
            if (ea - a != eb - b)
                return ea - a < eb - b ? -1 : 1;
            int c = strncmp(a, b, (size_t)(ea - a));
            if (c)
                return c;
            a = ea, b = eb;
            continue;
        }
        if (*a != *b)
            return (unsigned char)*a < (unsigned char)*b ? -1 : 1;
        a++, b++;
    }
    return (unsigned char)*a - (unsigned char)*b;
}

static int cmp_name(const void *x, const void *y)
{
    return natural_cmp(((const struct series *)x)->name, ((const struct series *)y)->name);
}

/* Largest average first; no data last; then by name. */
static int cmp_avg(const void *x, const void *y)
{
    const struct series *a = x, *b = y;
    double va = a->has_stats ? a->avg : -1, vb = b->has_stats ? b->avg : -1;

    if (isnan(va))
        va = -1;
    if (isnan(vb))
        vb = -1;
    if (va != vb)
        return va > vb ? -1 : 1;
    return natural_cmp(a->name, b->name);
}

static int find_series(struct pt_store *st, const struct series_opts *o, struct query *q)
{
    char name[SERIES_MAX_LEN];
    uint32_t id;
    int rc;

    if (o->by) {
        snprintf(name, sizeof name, "%s{%s=", q->m.stored, o->by);
        if ((rc = pt_store_series_list(st, name, add_series, q)) < 0) {
            fprintf(stderr, "packettracer series: listing series: %s\n", pt_strerror(rc));
            return 1;
        }
        if (q->n_ser == 0) {
            fprintf(stderr, "packettracer series: no series %s...} in %s\n", name, o->base.dir);
            return 1;
        }
        qsort(q->ser, q->n_ser, sizeof *q->ser, cmp_name);
        return 0;
    }
    if (o->iface)
        snprintf(name, sizeof name, "%s{iface=%s}", q->m.stored, o->iface);
    else
        snprintf(name, sizeof name, "%s", q->m.stored);
    rc = pt_store_series_find(st, name, &id);
    if (rc == -ENOENT) {
        fprintf(stderr, "packettracer series: no series '%s' in %s%s\n", name, o->base.dir,
                o->iface ? " (check --iface)" : "");
        return 1;
    }
    if (rc < 0 || (rc = add_series(name, id, q)) < 0) {
        fprintf(stderr, "packettracer series: reading series '%s': %s\n", name, pt_strerror(rc));
        return 1;
    }
    return 0;
}

static int add_series_probe(const char *name, uint32_t id, void *arg)
{
    (void)name, (void)id, (void)arg;
    return 1; /* one is enough */
}

/* The metric of @name: a known one, else a stored metric read as a count. */
static int resolve_metric(struct pt_store *st, const char *name, struct metric *m)
{
    char prefix[SERIES_MAX_LEN];
    uint32_t id;

    for (size_t i = 0; i < PT_ARRAY_LEN(metrics); i++) {
        if (strcmp(metrics[i].name, name) == 0) {
            *m = metrics[i];
            return 0;
        }
    }
    *m = (struct metric){name, name, K_COUNT, 1, PT_CLI_UNIT_NONE};
    snprintf(prefix, sizeof prefix, "%s{", name);
    if (pt_store_series_find(st, name, &id) == 0 ||
        pt_store_series_list(st, prefix, add_series_probe, NULL) == 1)
        return 0;
    fputs("packettracer: --metric: unknown metric '", stderr);
    fputs(name, stderr);
    fputs("' (bps, pps", stderr);
    for (size_t i = 2; i < PT_ARRAY_LEN(metrics); i++)
        fprintf(stderr, ", %s", metrics[i].name);
    fputs(")\n", stderr);
    return 2;
}

/* ---- output ---- */

static enum pt_store_res step_res(uint64_t step)
{
    return step == 1 ? PT_RES_1S : step == 60 ? PT_RES_1M : PT_RES_1H;
}

static void print_heading(const struct query *q)
{
    char a[32], b[32], st[16];

    printf("%s  %s → %s UTC  step %s\n", q->m.name,
           pt_cli_time_text(a, sizeof a, q->from * PT_CLI_NS, false),
           pt_cli_time_text(b, sizeof b, q->to * PT_CLI_NS, false),
           pt_cli_step_text(st, sizeof st, q->step));
}

static int print_summary(const struct query *q)
{
    static const char *const hdr_count[] = {"SERIES", "POINTS", "TOTAL", "AVG",
                                            "MIN",    "MAX",    "P95",   "TREND"};
    static const char *const hdr_other[] = {"SERIES", "POINTS", "AVG",  "MIN",
                                            "MAX",    "P95",    "TREND"};
    bool count = q->m.kind == K_COUNT;
    unsigned nc = count ? 8 : 7;
    struct pt_cli_table *t =
        pt_cli_table_create(nc, count ? hdr_count : hdr_other, count ? "lrrrrrrl" : "lrrrrrl");
    char buf[6][32];
    int rc = 0;

    if (!t)
        return -ENOMEM;
    for (size_t i = 0; i < q->n_ser && rc == 0; i++) {
        const struct series *se = &q->ser[i];
        const char *cells[8];
        unsigned c = 0;
        double v[5] = {se->total, se->avg, se->min, se->max, se->p95};

        snprintf(buf[0], sizeof buf[0], "%zu", se->n);
        cells[c++] = se->label;
        cells[c++] = buf[0];
        for (unsigned j = count ? 0 : 1; j < 5; j++) {
            /* total and avg exist for any data window; min, max, p95 need a value */
            bool have = q->ws < q->we && !isnan(v[j]) && (j < 2 || se->has_stats);
            cells[c++] =
                have ? pt_cli_fmt_unit(buf[1 + j], sizeof buf[1 + j], v[j], q->m.unit) : "-";
        }
        cells[c++] = se->spark;
        rc = pt_cli_table_add(t, cells);
    }
    if (rc == 0) {
        print_heading(q);
        rc = pt_cli_table_flush(t, stdout);
    }
    pt_cli_table_destroy(t);
    return rc;
}

static int print_points_table(const struct query *q)
{
    static const char *const hdr[] = {"TIME (UTC)", "SERIES", "VALUE", "MIN", "MAX", "P95", "N"};
    bool rolled = q->step > 1;
    struct pt_cli_table *t = pt_cli_table_create(rolled ? 7 : 3, hdr, "llrrrrr");
    char buf[6][32];
    int rc = 0;

    if (!t)
        return -ENOMEM;
    print_heading(q);
    for (size_t i = 0; i < q->n_ser && rc == 0; i++) {
        const struct series *se = &q->ser[i];
        for (size_t j = 0; j < se->n && rc == 0; j++) {
            struct shown s = point_values(q, &se->pts[j]);
            const char *cells[7] = {
                pt_cli_time_text(buf[0], sizeof buf[0], se->pts[j].ts * PT_CLI_NS, false),
                se->label,
                pt_cli_fmt_unit(buf[1], sizeof buf[1], s.value, q->m.unit),
                pt_cli_fmt_unit(buf[2], sizeof buf[2], s.min, q->m.unit),
                pt_cli_fmt_unit(buf[3], sizeof buf[3], s.max, q->m.unit),
                pt_cli_fmt_unit(buf[4], sizeof buf[4], s.p95, q->m.unit),
                buf[5],
            };
            snprintf(buf[5], sizeof buf[5], "%u", se->pts[j].n);
            rc = pt_cli_table_add(t, cells);
            if (rc == 0 && t && (j + 1) % 4096 == 0)
                rc = pt_cli_table_flush(t, stdout);
        }
    }
    if (rc == 0)
        rc = pt_cli_table_flush(t, stdout);
    pt_cli_table_destroy(t);
    return rc;
}

static void print_points_data(const struct query *q, enum pt_cli_qformat fmt)
{
    bool rolled = q->step > 1, json = fmt == PT_CLI_QFMT_JSON;
    char ts[32], v[4][40];

    if (!json)
        fputs(rolled ? "ts,series,value,min,max,p95,n\n" : "ts,series,value\n", stdout);
    for (size_t i = 0; i < q->n_ser; i++) {
        const struct series *se = &q->ser[i];
        for (size_t j = 0; j < se->n; j++) {
            struct shown s = point_values(q, &se->pts[j]);
            pt_cli_time_rfc3339(ts, sizeof ts, se->pts[j].ts);
            pt_cli_fmt_num(v[0], sizeof v[0], s.value);
            if (json) {
                printf("{\"ts\":\"%s\",\"series\":", ts);
                pt_cli_json_str(stdout, se->label);
                printf(",\"value\":%s", v[0]);
            } else {
                printf("%s,", ts);
                pt_cli_csv_str(stdout, se->label);
                printf(",%s", v[0]);
            }
            if (rolled) {
                pt_cli_fmt_num(v[1], sizeof v[1], s.min);
                pt_cli_fmt_num(v[2], sizeof v[2], s.max);
                pt_cli_fmt_num(v[3], sizeof v[3], s.p95);
                if (json)
                    printf(",\"min\":%s,\"max\":%s,\"p95\":%s,\"n\":%u", v[1], v[2], v[3],
                           se->pts[j].n);
                else
                    printf(",%s,%s,%s,%u", v[1], v[2], v[3], se->pts[j].n);
            }
            fputs(json ? "}\n" : "\n", stdout);
        }
    }
}

/* ---- the command ---- */

static uint64_t auto_step(uint64_t from, uint64_t to)
{
    if (to - from <= AUTO_POINTS)
        return 1;
    if ((to - from) / 60 <= AUTO_POINTS)
        return 60;
    return 3600;
}

/* The range (unaligned, in q->from0/to0) and the store's span; 0 or an exit
 * status after a message. */
static int plan(struct pt_store *st, const struct series_opts *o, struct query *q)
{
    int rc;

    if ((rc = pt_cli_range_resolve(PT_CLI_CMD, st, &o->base, &q->from0, &q->to0)))
        return rc;
    rc = pt_store_span(st, &q->first, &q->last);
    if (rc < 0 && rc != -ENOENT) {
        fprintf(stderr, "packettracer series: reading the store: %s\n", pt_strerror(rc));
        return 1;
    }
    q->have_span = rc == 0;
    return 0;
}

/* Step @step: the range rounded out to whole steps and the data window
 * (DESIGN 1, 3). 0, or 2 after a message when the window holds too many
 * steps for a summary. */
static int set_step(struct query *q, uint64_t step)
{
    q->step = step;
    q->from = q->from0 - q->from0 % step;
    q->to = q->to0 % step ? q->to0 + step - q->to0 % step : q->to0;
    q->ws = q->we = q->from;
    if (q->have_span) {
        q->ws = q->from > q->first ? q->from : q->first;
        q->we = q->to < q->last + 1 ? q->to : q->last + 1;
    }
    if (q->ws >= q->we)
        q->ws = q->we = q->from;
    if ((q->we - q->ws) / step > MAX_BUCKETS) { /* the summary holds one double per step */
        fprintf(stderr,
                "packettracer: --step: %llu points over the stored part of the range is too "
                "many; use a larger step or a shorter range\n",
                (unsigned long long)((q->we - q->ws) / step));
        return 2;
    }
    return 0;
}

static int read_all(struct pt_store *st, const struct series_opts *o, struct query *q)
{
    int rc = 0;

    for (size_t i = 0; i < q->n_ser; i++) {
        struct series *se = &q->ser[i];
        se->n = 0;
        se->has_stats = false;
        rc = pt_store_series_read(st, se->id, step_res(q->step), q->from, q->to, push_point, se);
        if (rc >= 0 && q->have_span)
            rc = fix_last_bucket(st, se, q, q->last);
        if (rc >= 0 && o->base.fmt == PT_CLI_QFMT_TABLE && !o->points)
            rc = summarize(q, se);
        if (rc < 0) {
            fprintf(stderr, "packettracer series: reading '%s': %s\n", se->name, pt_strerror(rc));
            return 1;
        }
    }
    return 0;
}

/* Read at the step asked for; with auto, when the finer resolution holds
 * nothing in the range (its points aged out), the next coarser one. */
static int read_auto(struct pt_store *st, const struct series_opts *o, struct query *q)
{
    int rc;

    uint64_t a = q->from0, b = q->to0;

    if (q->have_span && q->first < b && q->last + 1 > a) {
        a = a > q->first ? a : q->first; /* auto counts the points there can be */
        b = b < q->last + 1 ? b : q->last + 1;
    }
    if ((rc = set_step(q, o->step ? o->step : auto_step(a, b))))
        return rc;
    for (;;) {
        size_t pts = 0;
        if ((rc = read_all(st, o, q)))
            return rc;
        for (size_t i = 0; i < q->n_ser; i++)
            pts += q->ser[i].n;
        if (pts || o->step || q->step == 3600)
            return 0;
        if ((rc = set_step(q, q->step == 1 ? 60 : 3600)))
            return rc;
    }
}

int pt_cli_series(int argc, char **argv)
{
    struct series_opts o = {0};
    struct query q = {0};
    struct pt_store *st;
    int rc;

    if ((rc = pt_cli_query_begin(&series_cmd, argc, argv, &o, &o.base, &st)) >= 0)
        return rc;
    if ((rc = resolve_metric(st, o.metric, &q.m)) || (rc = plan(st, &o, &q)) ||
        (rc = find_series(st, &o, &q)) || (rc = read_auto(st, &o, &q)))
        goto out;
    if (o.base.fmt != PT_CLI_QFMT_TABLE) {
        print_points_data(&q, o.base.fmt);
    } else if (o.points) {
        rc = print_points_table(&q);
    } else {
        qsort(q.ser, q.n_ser, sizeof *q.ser, cmp_avg);
        rc = print_summary(&q);
    }
    if (rc < 0) {
        fprintf(stderr, "packettracer series: %s\n", pt_strerror(rc));
        rc = 1;
    } else {
        rc = pt_cli_output_done(PT_CLI_CMD);
    }
out:
    for (size_t i = 0; i < q.n_ser; i++)
        free(q.ser[i].pts);
    free(q.ser);
    pt_store_close(st);
    return rc;
}
