/* test_appid_pipeline.c - the application labels `packettracer read` writes
 * into its conn records, against other tools (issue 7, acceptance 3).
 *
 * tests/decode/test_appid_ref.c checks pt_appid fed directly from each
 * capture's reassembled streams; this checks what the product reports:
 * `read --format json` on the same captures (reader, decoder, flow table,
 * src/flow/app.c's in-order TCP feed, record writer), with the same
 * references, mappings and tables (tests/support/appid_ref.h):
 *   appid_pipeline/ndpi    `app` against nDPI: >= 90% agreement, none missing;
 *   appid_pipeline/tshark  `app` against tshark: likewise;
 *   appid_pipeline/zeek    `service` equal to Zeek's where Zeek set one.
 *
 * Matching. A reference row is an unordered 5-tuple (the outermost IP layer;
 * VLANs, MPLS labels and re-use of the tuple all fold into one row, as
 * tests/tools/gen-expected-appid.sh normalises them). Our records are
 * matched to it by the same unordered 5-tuple, in either direction; when
 * several records share it (two VLANs, a tuple re-used after a close, a flow
 * the table split after an idle gap) the one with the earliest `ts` stands
 * for the row: the references label a tuple by its first payload packets,
 * and the direct feed also takes the first connection of the tuple. Such
 * rows are counted in the tables ("rows with several records").
 *
 * For every compared row the direct feed's answer is computed too
 * (pt_test_appref_classify() on support/streams.h's connection), and with
 * PT_APPID_ACCURACY_DIR set each table lists the rows where the two differ,
 * which docs/ACCURACY.md explains one by one. A row where the direct feed
 * agrees with the reference and the pipeline does not is a fault in the
 * pipeline's feeding, not a difference of evidence: it fails the test. */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pt/appid.h"
#include "support/appid_ref.h"
#include "support/json.h"
#include "support/streams.h"
#include "support/support.h"

/* One conn record, as much of it as the comparison reads. */
struct rec {
    uint8_t proto;
    uint8_t h[2][16]; /* orig, resp; IPv4 as ::ffff:a.b.c.d */
    uint16_t p[2];
    double ts;
    unsigned app;     /* enum pt_app; PT_APP_MAX when the record has none we know */
    char service[32]; /* "" when the record has none */
};

struct recs {
    struct rec *v;
    size_t n;
};

static const char *str_of(const struct pt_tj *o, const char *key)
{
    const struct pt_tj *v = pt_tj_get(o, key);

    return v && (v->t == PT_TJ_STR || v->t == PT_TJ_NUM) ? v->s : NULL;
}

static bool addr_of(const char *s, uint8_t out[16])
{
    memset(out, 0, 16);
    if (s && inet_pton(AF_INET, s, out + 12) == 1) {
        out[10] = out[11] = 0xff;
        return true;
    }
    return s && inet_pton(AF_INET6, s, out) == 1;
}

static unsigned app_of(const char *name)
{
    for (unsigned a = 0; name && a < PT_APP_MAX; a++)
        if (strcmp(pt_app_name(a), name) == 0)
            return a;
    return PT_APP_MAX;
}

/* Fill @r from one conn record @o; false (and a test failure) when a field
 * the comparison needs is missing or unreadable. */
static bool rec_parse(const struct pt_tj *o, const char *cap, struct rec *r)
{
    const char *proto = str_of(o, "proto"), *op = str_of(o, "id.orig_p"),
               *rp = str_of(o, "id.resp_p"), *ts = str_of(o, "ts"), *app = str_of(o, "app"),
               *svc = str_of(o, "service");

    if (!proto || (strcmp(proto, "tcp") != 0 && strcmp(proto, "udp") != 0))
        return false; /* ICMP and other protocols: no reference row to match */
    r->proto = proto[0] == 't' ? 6 : 17;
    cr_expect(addr_of(str_of(o, "id.orig_h"), r->h[0]) && addr_of(str_of(o, "id.resp_h"), r->h[1]),
              "%s: conn record with unreadable addresses", cap);
    cr_expect(op && rp && ts, "%s: conn record without ports or ts", cap);
    if (!op || !rp || !ts)
        return false;
    r->p[0] = (uint16_t)strtoul(op, NULL, 10);
    r->p[1] = (uint16_t)strtoul(rp, NULL, 10);
    r->ts = strtod(ts, NULL);
    r->app = app_of(app);
    cr_expect_neq(r->app, PT_APP_MAX, "%s: %s record %u<->%u with app \"%s\"", cap, proto, r->p[0],
                  r->p[1], app ? app : "(none)");
    snprintf(r->service, sizeof r->service, "%s", svc ? svc : "");
    return true;
}

/* Run `packettracer read --format json` on @cap and keep its TCP/UDP conn records. */
static void recs_load(struct recs *rs, const char *cap)
{
    char cmd[8192], *out = NULL, *save = NULL;
    size_t cap_v = 0;
    int st;

    snprintf(cmd, sizeof cmd, "'%s' read -q --format json '%s'", pt_test_bin(), pt_test_data(cap));
    st = pt_test_run(cmd, &out, NULL);
    cr_assert_eq(st, 0, "%s: exit %d", cmd, st);
    rs->v = NULL;
    rs->n = 0;
    for (char *l = strtok_r(out, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        struct pt_tj o;
        const char *err, *path;
        size_t at;

        cr_assert(pt_tj_parse(l, strlen(l), &o, &err, &at), "%s: bad JSON (%s at %zu): %s", cap,
                  err, at, l);
        path = str_of(&o, "_path");
        if (path && strcmp(path, "conn") == 0) {
            if (rs->n == cap_v) {
                cap_v = cap_v ? cap_v * 2 : 64;
                rs->v = realloc(rs->v, cap_v * sizeof *rs->v);
                cr_assert_not_null(rs->v);
            }
            if (rec_parse(&o, cap, &rs->v[rs->n]))
                rs->n++;
        }
        pt_tj_free(&o);
    }
    free(out);
}

/* The record standing for reference row @r (see the top of the file), or
 * NULL; *@several is set when more than one record has its 5-tuple. */
static const struct rec *rec_find(const struct recs *rs, const struct pt_test_appref_row *r,
                                  bool *several)
{
    const struct rec *best = NULL;
    unsigned n = 0;

    for (size_t i = 0; i < rs->n; i++) {
        const struct rec *k = &rs->v[i];

        if (k->proto != r->proto)
            continue;
        if (!((memcmp(k->h[0], r->a, 16) == 0 && k->p[0] == r->ap &&
               memcmp(k->h[1], r->b, 16) == 0 && k->p[1] == r->bp) ||
              (memcmp(k->h[0], r->b, 16) == 0 && k->p[0] == r->bp &&
               memcmp(k->h[1], r->a, 16) == 0 && k->p[1] == r->ap)))
            continue;
        n++;
        if (!best || k->ts < best->ts)
            best = k;
    }
    *several = n > 1;
    return best;
}

/* ---- nDPI and tshark: agreement, and where the pipeline and the direct feed differ ---- */

#define MAX_DIFFS 64

struct diff {
    char cap[96];
    uint8_t proto;
    uint8_t a[16], b[16];
    uint16_t ap, bp;
    char ref[40];
    unsigned direct, pipeline;
};

struct run {
    struct pt_test_appref_tally t;
    uint32_t (*mask)(const char *);
    unsigned several;                  /* rows matched by more than one record */
    unsigned worse;                    /* direct feed agrees, pipeline does not */
    unsigned n_diff;                   /* rows where pipeline and direct feed differ */
    struct diff diff[MAX_DIFFS];       /* the first MAX_DIFFS of them */
    char worse_text[2048];             /* the rows counted in .worse, for the message */
    const struct recs *recs;           /* the current capture's records */
    const struct pt_test_conns *conns; /* ... and its connections (direct feed) */
};

static bool pipeline_ours(void *arg, const char *cap, const struct pt_test_appref_row *r,
                          unsigned *app)
{
    struct run *run = arg;
    bool several;
    const struct rec *k = rec_find(run->recs, r, &several);
    const struct pt_test_conn *c = pt_test_appref_conn_find(run->conns, r);
    struct pt_appid_stats st;
    unsigned direct;

    if (!k)
        return false;
    *app = k->app;
    run->several += several;
    if (!c)
        return true; /* nothing to compare with: counted missing by the direct test */
    pt_appid_stats_init(&st);
    direct = pt_test_appref_classify(c, &st, NULL);
    if (direct == k->app)
        return true;
    if (run->n_diff < MAX_DIFFS) {
        struct diff *d = &run->diff[run->n_diff];
        snprintf(d->cap, sizeof d->cap, "%.95s", cap);
        d->proto = r->proto;
        memcpy(d->a, r->a, 16);
        memcpy(d->b, r->b, 16);
        d->ap = r->ap;
        d->bp = r->bp;
        snprintf(d->ref, sizeof d->ref, "%.39s", r->label);
        d->direct = direct;
        d->pipeline = k->app;
    }
    run->n_diff++;
    if ((run->mask(r->label) & PT_TEST_APP_BIT(direct)) &&
        !(run->mask(r->label) & PT_TEST_APP_BIT(k->app))) {
        size_t used = strlen(run->worse_text);
        run->worse++;
        snprintf(run->worse_text + used, sizeof run->worse_text - used,
                 "  %s %s port %u<->%u: reference %s, direct feed %s, read %s\n", cap,
                 r->proto == 6 ? "tcp" : "udp", r->ap, r->bp, r->label, pt_app_name(direct),
                 pt_app_name(k->app));
    }
    return true;
}

static void pipeline_capture(const char *cap, const struct pt_test_appref_row *rows, size_t n,
                             void *arg)
{
    struct run *run = arg;
    struct recs rs;
    struct pt_test_conns cs;

    recs_load(&rs, cap);
    pt_test_conns_load(&cs, cap);
    run->recs = &rs;
    run->conns = &cs;
    pt_test_appref_compare(&run->t, cap, rows, n, run->mask, pipeline_ours, run);
    pt_test_conns_free(&cs);
    free(rs.v);
}

static const char *ep(const uint8_t a[16], uint16_t port, char *buf, size_t cap)
{
    static const uint8_t v4[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    char s[INET6_ADDRSTRLEN];

    if (memcmp(a, v4, 12) == 0) {
        inet_ntop(AF_INET, a + 12, s, sizeof s);
        snprintf(buf, cap, "%s:%u", s, port);
    } else {
        inet_ntop(AF_INET6, a, s, sizeof s);
        snprintf(buf, cap, "[%s]:%u", s, port);
    }
    return buf;
}

/* Append to @name.md (written by pt_test_appref_tally_write()) what is
 * particular to the pipeline: rows with several records, and every row
 * where `read` and the direct feed differ. */
static void run_write(const struct run *run, const char *name)
{
    const char *dir = getenv("PT_APPID_ACCURACY_DIR");
    char path[4096], ea[80], eb[80];
    FILE *f;

    if (!dir)
        return;
    snprintf(path, sizeof path, "%s/%s.md", dir, name);
    f = fopen(path, "a");
    cr_assert_not_null(f, "%s", path);
    fprintf(f,
            "Reference rows matched by several records of ours (the earliest stands for the "
            "row): %u. Rows where `read` and the direct feed differ: %u; of them, the direct "
            "feed agrees with the reference and `read` does not: %u.\n\n",
            run->several, run->n_diff, run->worse);
    if (run->n_diff) {
        fprintf(f, "| capture | proto | endpoints | reference | direct feed | `read` |\n"
                   "|---|---|---|---|---|---|\n");
        for (unsigned i = 0; i < run->n_diff && i < MAX_DIFFS; i++) {
            const struct diff *d = &run->diff[i];
            fprintf(f, "| `%s` | %s | %s ↔ %s | %s | %s | %s |\n", d->cap,
                    d->proto == 6 ? "tcp" : "udp", ep(d->a, d->ap, ea, sizeof ea),
                    ep(d->b, d->bp, eb, sizeof eb), d->ref, pt_app_name(d->direct),
                    pt_app_name(d->pipeline));
        }
        fprintf(f, "\n");
    }
    fclose(f);
}

static void run_check(const struct run *run, const char *who)
{
    cr_expect_eq(run->t.missing, 0, "%u %s flows without a conn record:\n%s", run->t.missing, who,
                 run->t.disagree);
    cr_expect_eq(run->worse, 0,
                 "%u flows the direct feed labels as %s does and `read` does not "
                 "(src/flow/app.c's feeding?):\n%s",
                 run->worse, who, run->worse_text);
    cr_assert_geq(run->t.agreed * 100, run->t.compared * 90, "agreement %u/%u below 90%%:\n%s",
                  run->t.agreed, run->t.compared, run->t.disagree);
}

Test(appid_pipeline, ndpi, .timeout = 240)
{
    static struct run run = {.mask = pt_test_appref_ndpi_mask};
    char list[2048];

    pt_test_appref_each(PT_TEST_APPREF_NDPI, pipeline_capture, &run, list, sizeof list);
    pt_test_appref_tally_write(&run.t, "pipeline-ndpi",
                               "nDPI against `packettracer read`'s conn records (`app`)", list,
                               run.mask);
    run_write(&run, "pipeline-ndpi");
    cr_assert_geq(run.t.compared, 150, "only %u flows compared", run.t.compared);
    run_check(&run, "nDPI");
}

Test(appid_pipeline, tshark, .timeout = 600)
{
    static struct run run = {.mask = pt_test_appref_tshark_mask};
    unsigned files = pt_test_appref_each(PT_TEST_APPREF_TSHARK, pipeline_capture, &run, NULL, 0);
    char what[64];

    snprintf(what, sizeof what, "all %u captures under `pcap/` except `bench/`", files);
    pt_test_appref_tally_write(&run.t, "pipeline-tshark",
                               "tshark 4.0.17 against `packettracer read`'s conn records (`app`)",
                               what, run.mask);
    run_write(&run, "pipeline-tshark");
    cr_assert_geq(files, 70);
    run_check(&run, "tshark");
}

/* ---- Zeek: the `service` column, equal wherever Zeek set one ---------------------------- */

static void zeek_capture(const char *cap, const struct pt_test_appref_row *rows, size_t n,
                         void *arg)
{
    unsigned *checked = arg;
    struct recs rs;

    recs_load(&rs, cap);
    for (size_t i = 0; i < n; i++) {
        const struct rec *k;
        bool several;

        if (strcmp(rows[i].label, "-") == 0)
            continue;
        k = rec_find(&rs, &rows[i], &several);
        cr_expect_not_null(k, "%s: port %u<->%u has no conn record", cap, rows[i].ap, rows[i].bp);
        if (!k)
            continue;
        (*checked)++;
        cr_expect_str_eq(k->service, rows[i].label,
                         "%s port %u<->%u: Zeek service %s, ours %s (%s)", cap, rows[i].ap,
                         rows[i].bp, rows[i].label, k->service,
                         k->app < PT_APP_MAX ? pt_app_name(k->app) : "?");
    }
    free(rs.v);
}

Test(appid_pipeline, zeek, .timeout = 120)
{
    unsigned checked = 0;

    pt_test_appref_each(PT_TEST_APPREF_ZEEK, zeek_capture, &checked, NULL, 0);
    cr_assert_geq(checked, 10, "only %u flows checked", checked);
}

/* ---- every connection: `read` labels it as the direct feed does ---------------------- */

/* The reference rows cover only the flows other tools name. This check
 * covers every TCP/UDP connection of every capture (pcap/bench/'s merge of
 * the others too, which has the most flows and the re-used tuples): the
 * flow table's feeding (in-order TCP from the SYN, trimmed retransmissions,
 * the first PT_APPID_K payload packets per direction) must give the same
 * label as streams.h's reassembled segments fed in frame order. */
struct every {
    unsigned conns, norec, differ;
    char text[4096]; /* the first differences, for the message */
};

static void every_capture(const char *cap, const struct pt_test_appref_row *rows, size_t n,
                          void *arg)
{
    struct every *e = arg;
    struct recs rs;
    struct pt_test_conns cs;

    (void)rows;
    (void)n;
    recs_load(&rs, cap);
    pt_test_conns_load(&cs, cap);
    for (size_t i = 0; i < cs.n; i++) {
        const struct pt_test_conn *c = &cs.conn[i];
        struct pt_test_appref_row r = {.proto = c->proto, .ap = c->port[0], .bp = c->port[1]};
        struct pt_appid_stats st;
        const struct rec *k;
        bool several;
        unsigned direct;
        char ea[80], eb[80];
        size_t used = strlen(e->text);

        memcpy(r.a, c->addr[0], 16);
        memcpy(r.b, c->addr[1], 16);
        e->conns++;
        k = rec_find(&rs, &r, &several);
        pt_appid_stats_init(&st);
        direct = pt_test_appref_classify(c, &st, NULL);
        if (k && k->app == direct)
            continue;
        if (k)
            e->differ++;
        else
            e->norec++;
        if (used < sizeof e->text - 300)
            snprintf(e->text + used, sizeof e->text - used,
                     "  %s %s %s - %s%s: direct %s, read %s\n", cap, c->proto == 6 ? "tcp" : "udp",
                     ep(r.a, r.ap, ea, sizeof ea), ep(r.b, r.bp, eb, sizeof eb),
                     several ? " (several records)" : "", pt_app_name(direct),
                     k ? pt_app_name(k->app) : "(no record)");
    }
    pt_test_conns_free(&cs);
    free(rs.v);
}

Test(appid_pipeline, every_connection_as_direct_feed, .timeout = 600)
{
    static struct every e;

    pt_test_appref_each(PT_TEST_APPREF_TSHARK, every_capture, &e, NULL, 0);
    every_capture("pcap/bench/mixed_merged_pcapplusplus.pcap", NULL, 0, &e);
    cr_assert_geq(e.conns, 1000, "only %u connections", e.conns);
    cr_expect_eq(
        e.norec + e.differ, 0,
        "of %u connections, %u without a conn record, %u labelled otherwise by `read`:\n%s",
        e.conns, e.norec, e.differ, e.text);
}
