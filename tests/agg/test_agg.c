/* test_agg.c - the aggregation thread and the store, end to end through
 * the offline pipeline (`read -d`): the per-second series sum to the
 * capture's totals, per VLAN, protocol and interface too; the per-app, DNS
 * and TCP health series to what the conn and dns records say; 1 min rollups are
 * the sums of their 1 s points; the stored flows are the records `read`
 * prints; every second has its points at 100 k new flows per second; and
 * the store survives kill -9 of the writer. */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pt/agg.h"
#include "pt/capture.h"
#include "pt/store.h"
#include "support/pcapgen.h"
#include "support/support.h"

static char dir[64];

static void mk_dir(void)
{
    snprintf(dir, sizeof dir, "/tmp/pt-agg-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void rm_dir(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

/* Records as `read` prints them (JSON lines), in emission order. */
struct out {
    char *buf;
    size_t len;
    FILE *f;
};

/* What the records say, for the app, DNS and TCP health series. */
static struct rec_sums {
    uint64_t app_pkts[PT_APP_MAX], app_bytes[PT_APP_MAX];
    uint64_t tcp[PT_TCPH_EV_MAX];
    uint64_t dnsq[PT_DNS_SERIES_QTYPES], dnsr[PT_DNS_SERIES_RCODES], dns;
} rs;

static void sum_rec(const struct pt_flow_record *r)
{
    const struct pt_flow_health *h = &r->health;

    rs.app_pkts[r->app] += r->orig_pkts + r->resp_pkts;
    rs.app_bytes[r->app] += r->orig_ip_bytes + r->resp_ip_bytes;
    if (!h->valid)
        return;
    for (unsigned d = 0; d < 2; d++) {
        rs.tcp[PT_TCPH_EV_RETRANS] += h->retrans[d];
        rs.tcp[PT_TCPH_EV_OOO] += h->ooo[d];
        rs.tcp[PT_TCPH_EV_DUP_ACK] += h->dup_acks[d];
        rs.tcp[PT_TCPH_EV_ZERO_WIN] += h->zero_win[d];
        rs.tcp[PT_TCPH_EV_LOST] += h->lost[d];
    }
}

static void sum_app(const struct pt_app_rec *r, void *arg)
{
    (void)arg;
    if (r->kind != PT_REC_DNS)
        return;
    rs.dns++;
    rs.dnsq[pt_dns_series_qtype(&r->dns.txn)]++;
    rs.dnsr[pt_dns_series_rcode(&r->dns.txn)]++;
}

static void write_json(const struct pt_flow_record *rec, struct out *o)
{
    cr_assert_eq(pt_flow_record_write(o->f, PT_FMT_JSON, rec, NULL, 0), 0);
}

/* An emitted record: summed (rs) and printed. */
static void emitted(struct pt_flow_record *rec, void *arg)
{
    sum_rec(rec);
    write_json(rec, arg);
}

static int run_read(const char *path, unsigned workers, const char *datadir, struct out *o,
                    struct pt_offline_result *res)
{
    struct pt_offline_opts op = {.files = &path, .n_files = 1, .workers = workers};
    struct pt_agg_config ac = {.datadir = datadir};
    int rc;

    pt_flow_config_default(&op.flow);
    pt_store_config_default(&ac.store);
    /* The shared captures span years (merged files): keep everything, so the
     * sums cover the whole capture (retention is tested in tests/store). */
    for (unsigned i = 0; i < PT_RES_N; i++)
        ac.store.keep_s[i] = 200ull * 365 * 86400;
    ac.store.keep_flows_s = 200ull * 365 * 86400;
    op.agg = &ac;
    o->f = open_memstream(&o->buf, &o->len);
    cr_assert_not_null(o->f);
    op.emit = emitted;
    op.emit_app = sum_app;
    op.emit_arg = o;
    memset(&rs, 0, sizeof rs);
    rc = pt_offline_run(&op, res);
    cr_assert_eq(fclose(o->f), 0);
    return rc;
}

static struct pt_store *open_ro(void)
{
    char msg[256];
    int err = 0;
    struct pt_store *s = pt_store_open(dir, NULL, true, &err, msg, sizeof msg);
    cr_assert_not_null(s, "open %s: %s", dir, msg);
    return s;
}

struct sum {
    uint64_t total, n;
    uint64_t first, last;
};

static int add_point(const struct pt_store_value *v, void *arg)
{
    struct sum *s = arg;
    if (s->n == 0)
        s->first = v->ts;
    s->last = v->ts;
    s->total += v->sum;
    s->n++;
    return 0;
}

static uint64_t series_sum(struct pt_store *s, const char *name, enum pt_store_res res)
{
    struct sum acc = {0};
    uint32_t id;

    if (pt_store_series_find(s, name, &id) == -ENOENT)
        return 0;
    cr_assert_eq(pt_store_series_read(s, id, res, 0, UINT64_MAX, add_point, &acc), 0);
    return acc.total;
}

struct dim_sum {
    struct pt_store *s;
    uint64_t total;
    unsigned n;
};

static int add_series(const char *name, uint32_t id, void *arg)
{
    struct dim_sum *d = arg;
    struct sum acc = {0};
    (void)name;
    cr_assert_eq(pt_store_series_read(d->s, id, PT_RES_1S, 0, UINT64_MAX, add_point, &acc), 0);
    d->total += acc.total;
    d->n++;
    return 0;
}

/* Sum of every series whose name starts with @prefix. */
static uint64_t dim_total(struct pt_store *s, const char *prefix, unsigned *n)
{
    struct dim_sum d = {.s = s};
    cr_assert_eq(pt_store_series_list(s, prefix, add_series, &d), 0);
    if (n)
        *n = d.n;
    return d.total;
}

/* Every 1 m point of @id equals the sum, min, max of its 1 s points. */
struct roll_check {
    struct pt_store *s;
    uint32_t id;
    const char *name;
    unsigned minutes;
};

static int check_minute(const struct pt_store_value *m, void *arg)
{
    struct roll_check *c = arg;
    struct sum acc = {0};

    cr_assert_eq(pt_store_series_read(c->s, c->id, PT_RES_1S, m->ts, m->ts + 60, add_point, &acc),
                 0);
    cr_assert_eq(m->sum, acc.total, "%s minute %llu: rollup %llu, 1 s points sum to %llu", c->name,
                 (unsigned long long)m->ts, (unsigned long long)m->sum,
                 (unsigned long long)acc.total);
    cr_assert_eq(m->n, acc.n, "%s minute %llu", c->name, (unsigned long long)m->ts);
    cr_assert_leq(m->min, m->max);
    cr_assert_leq(m->p95, m->max);
    cr_assert_geq(m->p95, m->min);
    c->minutes++;
    return 0;
}

static int check_rollup(const char *name, uint32_t id, void *arg)
{
    struct roll_check *c = arg;
    c->id = id;
    c->name = name;
    return pt_store_series_read(c->s, id, PT_RES_1M, 0, UINT64_MAX, check_minute, c);
}

/* Every top flow of a second carried at most the second's packets and bytes
 * (IP bytes <= wire bytes), and at least one packet. */
struct top_check {
    struct pt_store *s;
    uint32_t pk, by;
    unsigned lists;
};

static int check_top(uint64_t sec, const void *entries, size_t n, void *arg)
{
    struct top_check *c = arg;
    const struct pt_top_flow *f = entries;
    struct sum pk = {0}, by = {0};

    cr_assert_eq(pt_store_series_read(c->s, c->pk, PT_RES_1S, sec, sec + 1, add_point, &pk), 0);
    cr_assert_eq(pt_store_series_read(c->s, c->by, PT_RES_1S, sec, sec + 1, add_point, &by), 0);
    for (size_t i = 0; i < n; i++) {
        cr_assert_geq(f[i].pkts, 1, "second %llu: %s", (unsigned long long)sec, f[i].uid);
        cr_assert_leq(f[i].pkts, pk.total, "second %llu: flow %s has %llu packets of %llu",
                      (unsigned long long)sec, f[i].uid, (unsigned long long)f[i].pkts,
                      (unsigned long long)pk.total);
        cr_assert_leq(f[i].bytes, by.total, "second %llu: flow %s has %llu bytes of %llu",
                      (unsigned long long)sec, f[i].uid, (unsigned long long)f[i].bytes,
                      (unsigned long long)by.total);
        if (i)
            cr_assert_geq(f[i - 1].bytes, f[i].bytes, "top flows sorted by bytes");
    }
    c->lists++;
    return 0;
}

/* Stored flow records, as JSON lines, sorted; and the printed ones, sorted. */
/* A stored record: printed only (now that the store keeps health and app,
 * summing it too would count each flow twice). */
static int keep_json(const struct pt_flow_record *rec, void *arg)
{
    write_json(rec, arg);
    return 0;
}

static int line_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static size_t sorted_lines(char *buf, char ***out)
{
    size_t n = 0, cap = 64;
    char **v = malloc(cap * sizeof *v);

    for (char *save = NULL, *l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        if (n == cap)
            v = realloc(v, (cap *= 2) * sizeof *v);
        v[n++] = l;
    }
    qsort(v, n, sizeof *v, line_cmp);
    *out = v;
    return n;
}

/* The app, DNS and TCP health series add up to what the records say: per
 * application exactly (no flow of these captures changes its label after
 * its first second), and the DNS transactions by qtype and by rcode. */
static void check_app_dns_tcp(struct pt_store *s, const char *rel)
{
    static const char *const tcp[PT_TCPH_EV_MAX] = {"tcp_retransmissions", "tcp_out_of_order",
                                                    "tcp_dup_acks", "tcp_zero_windows",
                                                    "tcp_lost_segments"};
    char name[PT_STORE_NAMELEN];
    uint64_t all = 0;

    for (unsigned i = 0; i < PT_APP_MAX; i++) {
        snprintf(name, sizeof name, "packets{app=%s}", pt_app_name(i));
        cr_assert_eq(series_sum(s, name, PT_RES_1S), rs.app_pkts[i], "%s: %s", rel, name);
        snprintf(name, sizeof name, "bytes{app=%s}", pt_app_name(i));
        cr_assert_eq(series_sum(s, name, PT_RES_1S), rs.app_bytes[i], "%s: %s", rel, name);
        all += rs.app_pkts[i];
    }
    cr_assert_eq(dim_total(s, "packets{app=", NULL), all, "%s: per app", rel);
    for (unsigned e = 0; e < PT_TCPH_EV_MAX; e++)
        cr_assert_eq(series_sum(s, tcp[e], PT_RES_1S), rs.tcp[e], "%s: %s", rel, tcp[e]);
    cr_assert_eq(series_sum(s, "dns_queries", PT_RES_1S), rs.dns, "%s: dns_queries", rel);
    for (unsigned i = 0; i < PT_DNS_SERIES_QTYPES; i++) {
        snprintf(name, sizeof name, "dns_queries{qtype=%s}", pt_dns_series_qtype_name(i));
        cr_assert_eq(series_sum(s, name, PT_RES_1S), rs.dnsq[i], "%s: %s", rel, name);
    }
    for (unsigned i = 0; i < PT_DNS_SERIES_RCODES; i++) {
        snprintf(name, sizeof name, "dns_queries{rcode=%s}", pt_dns_series_rcode_name(i));
        cr_assert_eq(series_sum(s, name, PT_RES_1S), rs.dnsr[i], "%s: %s", rel, name);
    }
}

static void check_capture(const char *rel, unsigned workers)
{
    static struct pt_offline_result res;
    struct out printed = {0}, stored = {0};
    struct pt_store *s;
    unsigned nv = 0, np = 0, ni = 0;
    char **a, **b;

    mk_dir();
    cr_assert_eq(run_read(pt_test_data(rel), workers, dir, &printed, &res), 0, "%s: %s", rel,
                 res.file_msg);
    cr_assert(res.agg_on);
    cr_assert_eq(res.agg_stats.store_errors, 0, "%s: seconds lost", rel);
    cr_assert_gt(res.frames, 0);
    s = open_ro();

    /* totals */
    cr_assert_eq(series_sum(s, "packets", PT_RES_1S), res.frames, "%s: packets", rel);
    cr_assert_eq(series_sum(s, "bytes", PT_RES_1S), res.bytes, "%s: bytes", rel);
    cr_assert_eq(series_sum(s, "packets", PT_RES_1M), res.frames, "%s: 1 m packets", rel);
    cr_assert_eq(series_sum(s, "packets", PT_RES_1H), res.frames, "%s: 1 h packets", rel);
    /* dimensions sum to the totals */
    cr_assert_eq(dim_total(s, "packets{vlan=", &nv), res.frames, "%s: per VLAN", rel);
    cr_assert_eq(dim_total(s, "bytes{vlan=", NULL), res.bytes, "%s: per VLAN bytes", rel);
    cr_assert_eq(dim_total(s, "packets{proto=", &np), res.frames, "%s: per protocol", rel);
    cr_assert_eq(dim_total(s, "bytes{proto=", NULL), res.bytes, "%s: per protocol bytes", rel);
    cr_assert_eq(dim_total(s, "packets{iface=", &ni), res.frames, "%s: per interface", rel);
    cr_assert_eq(ni, res.ifaces.n, "%s: one series per interface", rel);
    cr_assert_geq(nv, 1);
    cr_assert_geq(np, 1);
    /* every flow is new once and ends once */
    cr_assert_eq(series_sum(s, "flows_new", PT_RES_1S), res.flows, "%s: flows_new", rel);
    cr_assert_eq(series_sum(s, "flows_ended", PT_RES_1S), res.flows, "%s: flows_ended", rel);
    check_app_dns_tcp(s, rel);
    /* rollups */
    struct roll_check rc = {.s = s};
    cr_assert_eq(pt_store_series_list(s, "", check_rollup, &rc), 0);
    cr_assert_gt(rc.minutes, 0);
    /* top flow lists are consistent with the series */
    struct top_check tc = {.s = s};
    cr_assert_eq(pt_store_series_find(s, "packets", &tc.pk), 0);
    cr_assert_eq(pt_store_series_find(s, "bytes", &tc.by), 0);
    cr_assert_eq(pt_store_top_read(s, PT_TOP_FLOWS, PT_RES_1S, 0, UINT64_MAX, check_top, &tc), 0);
    cr_assert_gt(tc.lists, 0);
    /* stored flows = printed flows */
    stored.f = open_memstream(&stored.buf, &stored.len);
    struct pt_store_flow_query q = {.from_ns = 0, .to_ns = UINT64_MAX};
    cr_assert_eq(pt_store_flows_read(s, &q, keep_json, &stored), 0);
    fclose(stored.f);
    size_t na = sorted_lines(printed.buf, &a), nb = sorted_lines(stored.buf, &b);
    cr_assert_eq(na, res.flows, "%s", rel);
    cr_assert_eq(nb, na, "%s: %zu flows stored, %zu printed", rel, nb, na);
    for (size_t i = 0; i < na; i++)
        cr_assert_str_eq(b[i], a[i], "%s: stored flow differs", rel);
    free(a);
    free(b);
    free(printed.buf);
    free(stored.buf);
    pt_store_close(s);
    rm_dir();
}

Test(agg_store, series_sum_to_capture_totals_bench, .timeout = 120)
{
    check_capture("pcap/bench/mixed_merged_pcapplusplus.pcap", 1);
    /* the series checked above are not empty: the capture's 197 DNS
     * transactions (4 unanswered, flushed at flow end) and 58 retransmissions */
    cr_assert_eq(rs.dns, 197);
    cr_assert_eq(rs.dnsr[PT_DNS_SERIES_RCODES - 1], 4);
    cr_assert_eq(rs.tcp[PT_TCPH_EV_RETRANS], 58);
    cr_assert_gt(rs.app_pkts[PT_APP_TLS], 0);
}

Test(agg_concurrent, series_sum_to_capture_totals_two_workers, .timeout = 300)
{
    check_capture("pcap/bench/mixed_merged_pcapplusplus.pcap", 2);
}

Test(agg_store, series_sum_to_capture_totals_vlan_mpls)
{
    check_capture("pcap/vlan/zeek_mixed-vlan-mpls.pcap", 1);
}

Test(agg_store, series_sum_to_capture_totals_qinq)
{
    check_capture("pcap/vlan/arkime_dot1ad.pcap", 1);
}

Test(agg_store, series_sum_to_capture_totals_pcapng_interfaces)
{
    check_capture("pcap/linktype/zeek_pcapng-multi-interface.pcapng", 1);
}

Test(agg_store, series_sum_to_capture_totals_many_seconds)
{
    check_capture("pcap/mixed/ndpi_1kxun.pcap", 1);
}

/* ---- every second has its points at 100 k new flows per second ---- */

struct seconds {
    uint64_t t0;
    unsigned n;
    uint64_t v[16];
    bool seen[16];
};

static int mark_second(const struct pt_store_value *v, void *arg)
{
    struct seconds *s = arg;
    cr_assert_geq(v->ts, s->t0);
    cr_assert_lt(v->ts, s->t0 + s->n, "a point after the capture: %llu", (unsigned long long)v->ts);
    s->seen[v->ts - s->t0] = true;
    s->v[v->ts - s->t0] = v->sum;
    return 0;
}

static int check_dense(const char *name, uint32_t id, void *arg)
{
    struct pt_store *st = arg;
    struct seconds s = {.t0 = 1700000000, .n = 3};

    if (strchr(name, '{') && !strstr(name, "{iface="))
        return 0; /* per VLAN / protocol series are sparse */
    cr_assert_eq(pt_store_series_read(st, id, PT_RES_1S, 0, UINT64_MAX, mark_second, &s), 0);
    for (unsigned i = 0; i < s.n; i++)
        cr_assert(s.seen[i], "%s: no point for second %u", name, i);
    if (strcmp(name, "flows_new") == 0 || strcmp(name, "packets") == 0)
        for (unsigned i = 0; i < s.n; i++)
            cr_assert_eq(s.v[i], 100000, "%s second %u: %llu", name, i, (unsigned long long)s.v[i]);
    return 0;
}

Test(agg_store, no_gaps_at_100k_new_flows_per_second, .timeout = 300)
{
    static struct pt_offline_result res;
    struct out printed = {0};
    char path[128];
    struct pt_store *s;

    mk_dir();
    snprintf(path, sizeof path, "%s/flows.pcap", dir);
    cr_assert_eq(pt_gen_flows_file(path, 1700000000, 3, 100000), 300000);
    char *sub = strdup(dir);
    snprintf(dir, sizeof dir, "%s/data", sub);
    cr_assert_eq(run_read(path, 1, dir, &printed, &res), 0, "%s", res.file_msg);
    cr_assert_eq(res.frames, 300000);
    cr_assert_eq(res.agg_stats.store_errors, 0);
    s = open_ro();
    cr_assert_eq(pt_store_series_list(s, "", check_dense, s), 0);
    pt_store_close(s);
    free(printed.buf);
    snprintf(dir, sizeof dir, "%s", sub);
    free(sub);
    rm_dir();
}

/* ---- kill -9 of the writer ---- */

struct by_second {
    uint64_t *v;
    size_t n;
    uint64_t t0;
    struct sum *acc;
};

static int put_second(const struct pt_store_value *p, void *arg)
{
    struct by_second *c = arg;

    cr_assert_geq(p->ts, c->t0);
    cr_assert_lt(p->ts - c->t0, c->n);
    c->v[p->ts - c->t0] = p->sum;
    return add_point(p, c->acc);
}

/* The packets series of the store in @d, second by second from @t0 into
 * @v (UINT64_MAX where the store has no point). */
static void packets_by_second(const char *d, struct sum *acc, uint64_t *v, size_t n, uint64_t t0)
{
    struct by_second c = {v, n, t0, acc};
    char msg[256];
    int err = 0;
    uint32_t id;
    struct pt_store *s = pt_store_open(d, NULL, true, &err, msg, sizeof msg);

    memset(acc, 0, sizeof *acc);
    memset(v, 0xff, n * sizeof *v);
    if (!s && err == -ENOENT)
        return; /* killed before it created the store */
    cr_assert_not_null(s, "store in %s does not open after kill -9: %s", d, msg);
    if (pt_store_series_find(s, "packets", &id) == 0)
        cr_assert_eq(pt_store_series_read(s, id, PT_RES_1S, 0, UINT64_MAX, put_second, &c), 0);
    pt_store_close(s);
}

Test(agg_store, kill_9_leaves_every_committed_second, .timeout = 240)
{
    enum { SECS = 3000, PER = 40 };
    static uint64_t ref[SECS], got[SECS];
    char path[128], refdir[128], live[128], cmd[512];
    struct sum racc, acc;
    unsigned seed = (unsigned)time(NULL);

    mk_dir();
    snprintf(path, sizeof path, "%s/f.pcap", dir);
    snprintf(refdir, sizeof refdir, "%s/ref", dir);
    snprintf(live, sizeof live, "%s/live", dir);
    cr_assert_eq(pt_gen_flows_file(path, 1700000000, SECS, PER), (uint64_t)SECS * PER);
    snprintf(cmd, sizeof cmd, "%s read -q -d %s -o /dev/null %s", pt_test_bin(), refdir, path);
    cr_assert_eq(system(cmd), 0);
    packets_by_second(refdir, &racc, ref, SECS, 1700000000);
    cr_assert_eq(racc.n, SECS);
    cr_assert_eq(racc.total, (uint64_t)SECS * PER);

    srand(seed);
    unsigned killed = 0;
    for (int round = 0; round < 8; round++) {
        pid_t pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
            execl(pt_test_bin(), "packettracer", "read", "-q", "-d", live, "-o", "/dev/null", path,
                  (char *)NULL);
            _exit(127);
        }
        usleep(20000 + (useconds_t)(rand() % 400) * 1000);
        int st;
        if (kill(pid, SIGKILL) == 0)
            killed++;
        cr_assert_eq(waitpid(pid, &st, 0), pid);
        packets_by_second(live, &acc, got, SECS, 1700000000);
        /* every second the store holds is complete and equal to the reference */
        for (unsigned i = 0; i < SECS; i++)
            if (got[i] != UINT64_MAX)
                cr_assert_eq(got[i], ref[i], "seed %u round %d: second %u holds %llu, not %llu",
                             seed, round, i, (unsigned long long)got[i],
                             (unsigned long long)ref[i]);
    }
    cr_assert_gt(killed, 0, "the writer always finished before the kill; test is void");
    /* the next run resumes and completes the store */
    snprintf(cmd, sizeof cmd, "%s read -q -d %s -o /dev/null %s", pt_test_bin(), live, path);
    cr_assert_eq(system(cmd), 0);
    packets_by_second(live, &acc, got, SECS, 1700000000);
    cr_assert_eq(acc.n, SECS);
    for (unsigned i = 0; i < SECS; i++)
        cr_assert_eq(got[i], ref[i], "second %u after the resumed run", i);
    rm_dir();
}
