/* test_write.c - the app-layer record writers (src/app/write.c).
 *
 * DESIGN: records come from the real parsers run over the shared captures
 * (tests/support/streams.h, as the parser tests feed them), are written by
 * the writer under test into memory and read back with a strict JSON reader
 * (tests/support/json.h). Then:
 *   1. write_zeek/<log>    every field against the Zeek log shipped with the
 *                          capture (dns.log, http.log, dhcp.log): a value
 *                          Zeek has must be ours, as text; a field Zeek leaves
 *                          unset ("-") must be absent; every field we write
 *                          must be one of Zeek's names or a listed extra;
 *   2. write_ref/<log>     the ssl records against tshark + OpenSSL
 *                          (tests/expected/ *.tls.tsv) and Arkime (JA4,
 *                          community_id); the HTTP Content-Type against
 *                          tshark; the arp events against Zeek's output;
 *   3. write_escape/<...>  wire bytes that are not text (NUL, bytes >= 0x80,
 *                          quotes, controls, cut UTF-8) in a DNS name, an
 *                          HTTP URI, a DHCP host name, a TLS SNI/ALPN: the
 *                          exact escaped text, and the bytes read back;
 *   4. write_json/python   every record of the above through Python's json
 *                          module (strict UTF-8, no repeated keys), a reader
 *                          that is not ours. */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "decode/decode_test.h"
#include "pt/app.h"
#include "pt/flow.h"
#include "support/json.h"
#include "support/streams.h"
#include "support/support.h"

/* ---- output and reading back ---- */

struct mem {
    char *buf;
    size_t len;
    FILE *f;
};

static FILE *mem_open(struct mem *m)
{
    m->buf = NULL;
    m->len = 0;
    m->f = open_memstream(&m->buf, &m->len);
    cr_assert_not_null(m->f);
    return m->f;
}

/* Close @m and return its text (caller frees). */
static char *mem_close(struct mem *m)
{
    cr_assert_eq(fclose(m->f), 0);
    return m->buf;
}

/* When set, every record written through the helpers below is also appended
 * here (the Python check collects them all). */
static FILE *g_all;

static void keep(const char *text)
{
    if (g_all)
        fputs(text, g_all);
}

/* One record of kind @path: exactly one line, a JSON object, "_path" first
 * then "ts". */
static void parse_rec(const char *text, const char *path, struct pt_tj *o)
{
    size_t len = strlen(text), at = 0;
    const char *err = NULL;

    cr_assert(len > 0 && text[len - 1] == '\n', "record ends with a newline: %s", text);
    cr_assert_null(memchr(text, '\n', len - 1), "one line per record: %s", text);
    cr_assert(pt_tj_parse(text, len - 1, o, &err, &at), "not JSON (%s at %zu): %s", err, at, text);
    cr_assert_eq(o->t, PT_TJ_OBJ, "%s", text);
    cr_assert_geq(o->n, 2);
    cr_assert_str_eq(o->k[0], "_path");
    cr_assert_eq(o->v[0].t, PT_TJ_STR);
    cr_assert_str_eq(o->v[0].s, path);
    cr_assert_str_eq(o->k[1], "ts");
    cr_assert_eq(o->v[1].t, PT_TJ_NUM);
    keep(text);
}

/* Our time text, computed apart from the writer: seconds, 6 decimals, the
 * nanoseconds rounded half up. */
static const char *time_text(uint64_t ns, char buf[32])
{
    uint64_t us = (ns + 500) / 1000;
    snprintf(buf, 32, "%llu.%06llu", (unsigned long long)(us / 1000000),
             (unsigned long long)(us % 1000000));
    return buf;
}

static const char *addr_text(const uint8_t a[16], uint8_t ver, char buf[64])
{
    cr_assert_not_null(inet_ntop(ver == 4 ? AF_INET : AF_INET6, ver == 4 ? a + 12 : a, buf, 64));
    return buf;
}

/* The flow of connection @k as a record carries it (originator first). */
static struct pt_app_conn conn_of(const struct pt_test_conn *k, uint64_t uid64)
{
    struct pt_app_conn c;

    memset(&c, 0, sizeof c);
    c.uid64 = uid64;
    c.first_ns = k->n_seg[0] ? k->seg[0][0].ts_ns : 0;
    memcpy(c.orig_h, k->addr[0], 16);
    memcpy(c.resp_h, k->addr[1], 16);
    c.orig_p = k->port[0];
    c.resp_p = k->port[1];
    c.proto = k->proto;
    c.ver = k->ver;
    c.vlan = k->vlan;
    c.inner_vlan = PT_VLAN_NONE;
    return c;
}

static const char *num_field(const struct pt_tj *o, const char *key)
{
    const struct pt_tj *v = pt_tj_get(o, key);
    cr_assert_not_null(v, "no %s", key);
    cr_assert_eq(v->t, PT_TJ_NUM, "%s is not a number", key);
    return v->s;
}

static const char *str_field(const struct pt_tj *o, const char *key)
{
    const struct pt_tj *v = pt_tj_get(o, key);
    cr_assert_not_null(v, "no %s", key);
    cr_assert_eq(v->t, PT_TJ_STR, "%s is not a string", key);
    return v->s;
}

/* A flow's record: _path, ts, uid, id.* in that order, the flow's uid and
 * tuple, community_id last. */
static void check_flow_fields(const struct pt_tj *o, const struct pt_app_conn *c)
{
    static const char *const head[] = {"_path",     "ts",        "uid",      "id.orig_h",
                                       "id.orig_p", "id.resp_h", "id.resp_p"};
    char uid[20], a[64], p[8];

    cr_assert_gt(o->n, PT_ARRAY_LEN(head));
    for (unsigned i = 0; i < PT_ARRAY_LEN(head); i++)
        cr_assert_str_eq(o->k[i], head[i], "field %u", i);
    pt_uid_format(uid, c->uid64);
    cr_expect_str_eq(str_field(o, "uid"), uid);
    cr_expect_str_eq(str_field(o, "id.orig_h"), addr_text(c->orig_h, c->ver, a));
    snprintf(p, sizeof p, "%u", c->orig_p);
    cr_expect_str_eq(num_field(o, "id.orig_p"), p);
    cr_expect_str_eq(str_field(o, "id.resp_h"), addr_text(c->resp_h, c->ver, a));
    snprintf(p, sizeof p, "%u", c->resp_p);
    cr_expect_str_eq(num_field(o, "id.resp_p"), p);
    cr_assert_str_eq(o->k[o->n - 1], "community_id");
    const char *cid = str_field(o, "community_id");
    cr_expect(strlen(cid) == 30 && strncmp(cid, "1:", 2) == 0, "community_id %s", cid);
}

/* ---- Zeek logs ---- */

#define ZMAX_F 40
#define ZMAX_R 16

struct zlog {
    char *buf;
    char *field[ZMAX_F];
    size_t nf, nrows;
    char *row[ZMAX_R][ZMAX_F];
};

static size_t split_tabs(char *s, char **out, size_t max)
{
    size_t n = 0;
    while (n < max) {
        char *t = strchr(s, '\t');
        out[n++] = s;
        if (!t)
            break;
        *t = '\0';
        s = t + 1;
    }
    return n;
}

static void zlog_load(struct zlog *z, const char *rel)
{
    char *save = NULL;

    memset(z, 0, sizeof *z);
    z->buf = pt_test_slurp(pt_test_data(rel), NULL);
    cr_assert_not_null(z->buf, "%s", rel);
    for (char *l = strtok_r(z->buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        if (strncmp(l, "#fields\t", 8) == 0) {
            z->nf = split_tabs(l + 8, z->field, ZMAX_F);
        } else if (l[0] != '#') {
            cr_assert_lt(z->nrows, ZMAX_R);
            cr_assert_eq(split_tabs(l, z->row[z->nrows], ZMAX_F), z->nf, "%s: short row", rel);
            z->nrows++;
        }
    }
    cr_assert_gt(z->nf, 0, "%s: no #fields line", rel);
}

/* A value as Zeek's ASCII log prints it: T/F, numbers as they are, sets
 * and vectors joined with ',', an empty one as "(empty)". */
static void zeek_text(const struct pt_tj *v, char *out, size_t cap)
{
    size_t n = 0;

    switch (v->t) {
    case PT_TJ_BOOL:
        snprintf(out, cap, "%s", v->b ? "T" : "F");
        return;
    case PT_TJ_NUM:
    case PT_TJ_STR:
        snprintf(out, cap, "%s", v->s);
        return;
    case PT_TJ_ARR:
        out[0] = '\0';
        for (size_t i = 0; i < v->n; i++) {
            char item[1024];
            zeek_text(&v->v[i], item, sizeof item);
            n += (size_t)snprintf(out + n, cap - n, "%s%s", i ? "," : "", item);
            cr_assert_lt(n, cap);
        }
        if (!v->n)
            snprintf(out, cap, "(empty)");
        return;
    default:
        cr_assert_fail("unexpected JSON type %d", v->t);
    }
}

static bool listed(const char *name, const char *const *list)
{
    for (; list && *list; list++)
        if (strcmp(*list, name) == 0)
            return true;
    return false;
}

/* Compare record @o with row @r of @z. @skip: Zeek fields not compared
 * (ours differ by design, or Zeek's are not ours to have); @extra: the
 * fields we write that Zeek's log has not. ts and uid(s) are compared by the
 * callers (Zeek's are masked or its own). */
static void zeek_check(const struct pt_tj *o, const struct zlog *z, size_t r,
                       const char *const *skip, const char *const *extra, const char *what)
{
    static char ours[16384];

    for (size_t f = 0; f < z->nf; f++) {
        const char *name = z->field[f], *want = z->row[r][f];
        const struct pt_tj *v = pt_tj_get(o, name);

        if (!strcmp(name, "ts") || !strcmp(name, "uid") || !strcmp(name, "uids") ||
            listed(name, skip))
            continue;
        if (!strcmp(want, "-")) {
            cr_expect_null(v, "%s row %zu: %s is unset in Zeek's log but written", what, r, name);
            continue;
        }
        cr_expect_not_null(v, "%s row %zu: %s missing (Zeek: %s)", what, r, name, want);
        if (!v)
            continue;
        zeek_text(v, ours, sizeof ours);
        cr_expect_str_eq(ours, want, "%s row %zu %s: ours '%s', Zeek '%s'", what, r, name, ours,
                         want);
    }
    for (size_t i = 0; i < o->n; i++) {
        bool zeek = false;
        for (size_t f = 0; f < z->nf; f++)
            zeek |= !strcmp(o->k[i], z->field[f]);
        cr_expect(zeek || !strcmp(o->k[i], "_path") || listed(o->k[i], extra),
                  "%s row %zu: field %s is neither Zeek's nor a listed extra", what, r, o->k[i]);
    }
}

/* ---- DNS ---- */

struct dns_run {
    struct pt_test_conns c;
    struct pt_app_dns *v;
    size_t *conn, n, cur;
};

static void dns_collect(void *arg, const struct pt_dns_txn *t, const struct pt_dns_msg *resp)
{
    struct dns_run *x = arg;

    (void)resp;
    x->v = realloc(x->v, (x->n + 1) * sizeof *x->v);
    x->conn = realloc(x->conn, (x->n + 1) * sizeof *x->conn);
    cr_assert(x->v && x->conn);
    memset(&x->v[x->n], 0, sizeof x->v[x->n]);
    x->v[x->n].txn = *t;
    x->conn[x->n++] = x->cur;
}

/* Every port-53 connection of @rel through one pt_dns_flow each, both
 * directions merged in frame order, then flushed (as tests/decode/test_dns.c). */
static void dns_run(struct dns_run *x, const char *rel)
{
    static struct pt_dns_msg scratch;
    struct pt_dns_stats st;

    memset(x, 0, sizeof *x);
    pt_dns_stats_init(&st);
    pt_test_conns_load(&x->c, rel);
    for (size_t i = 0; i < x->c.n; i++) {
        const struct pt_test_conn *k = &x->c.conn[i];
        struct pt_dns_flow f;
        struct pt_dns_tcp tcp;
        size_t at[2] = {0, 0};

        if (k->port[0] != 53 && k->port[1] != 53)
            continue;
        x->cur = i;
        pt_dns_flow_init(&f);
        pt_dns_tcp_init(&tcp);
        while (at[0] < k->n_seg[0] || at[1] < k->n_seg[1]) {
            unsigned d = at[0] >= k->n_seg[0]                              ? 1
                         : at[1] >= k->n_seg[1]                            ? 0
                         : k->seg[0][at[0]].frame < k->seg[1][at[1]].frame ? 0
                                                                           : 1;
            const struct pt_test_seg *s = &k->seg[d][at[d]++];
            if (k->proto == 6)
                pt_dns_tcp_feed(&tcp, &f, &scratch, d, s->ts_ns, s->data, s->len, dns_collect, x,
                                &st);
            else
                pt_dns_flow_feed(&f, &scratch, d, s->ts_ns, s->data, s->len, dns_collect, x, &st);
        }
        pt_dns_flow_flush(&f, dns_collect, x, &st);
    }
}

static void dns_free(struct dns_run *x)
{
    free(x->v);
    free(x->conn);
    pt_test_conns_free(&x->c);
}

/* Write DNS transaction @i of @x as flow uid 1000 + its connection. */
static char *dns_text(const struct dns_run *x, size_t i, struct pt_app_conn *c)
{
    struct mem m;

    *c = conn_of(&x->c.conn[x->conn[i]], 1000 + x->conn[i]);
    cr_assert_eq(pt_app_dns_write(mem_open(&m), c, &x->v[i]), 0);
    return mem_close(&m);
}

static void dns_vs_zeek(const char *pcap, const char *log, size_t want, const char *const *skip2)
{
    static const char *const extra[] = {"community_id", NULL};
    struct dns_run x;
    struct zlog z;

    zlog_load(&z, log);
    dns_run(&x, pcap);
    cr_assert_eq(z.nrows, want);
    cr_assert_eq(x.n, z.nrows, "%zu transactions, Zeek logs %zu", x.n, z.nrows);
    for (size_t i = 0; i < x.n; i++) {
        struct pt_app_conn c;
        struct pt_tj o;
        char t[32], *text = dns_text(&x, i, &c);

        parse_rec(text, "dns", &o);
        check_flow_fields(&o, &c);
        cr_expect_str_eq(num_field(&o, "ts"), time_text(x.v[i].txn.ts_ns, t));
        zeek_check(&o, &z, i, i == 1 ? skip2 : NULL, extra, log);
        pt_tj_free(&o);
        free(text);
    }
    dns_free(&x);
    free(z.buf);
}

/* Two responses to one query: the second is a response-only record whose
 * qclass/qtype and rtt are unset, as in Zeek's baseline. */
Test(write_zeek, dns_two_responses)
{
    dns_vs_zeek("pcap/dns/zeek_dns-two-responses.pcap",
                "pcap/dns/zeek_dns-two-responses.zeek-dns.log", 2, NULL);
}

/* The second transaction's response is cut by IPv6 fragmentation (the
 * decoder does not reassemble): its answers and the flags that come with
 * them are not ours to match (tests/decode/test_dns.c says the same). */
Test(write_zeek, dns_ipv6_fragmented)
{
    static const char *const skip2[] = {"answers", "TTLs", "AA", "RA", "rtt", NULL};

    dns_vs_zeek("pcap/ipv6/zeek_ipv6-fragmented-dns.pcap",
                "pcap/ipv6/zeek_ipv6-fragmented-dns.zeek-dns.log", 3, skip2);
}

/* ---- HTTP ---- */

struct http_run {
    struct pt_test_conns c;
    struct pt_http_stats st;
    struct pt_http_txn *v;
    size_t *conn, n, cur;
};

static void http_collect(const struct pt_http_txn *t, void *arg)
{
    struct http_run *x = arg;

    x->v = realloc(x->v, (x->n + 1) * sizeof *x->v);
    x->conn = realloc(x->conn, (x->n + 1) * sizeof *x->conn);
    cr_assert(x->v && x->conn);
    x->v[x->n] = *t;
    x->conn[x->n++] = x->cur;
}

/* Every TCP connection of @rel to port 80 through the HTTP parser, both
 * directions merged in frame order, holes reported, then flushed. */
static void http_run(struct http_run *x, const char *rel)
{
    memset(x, 0, sizeof *x);
    pt_http_stats_init(&x->st);
    pt_test_conns_load(&x->c, rel);
    for (size_t i = 0; i < x->c.n; i++) {
        const struct pt_test_conn *k = &x->c.conn[i];
        struct pt_http_state *s;
        size_t at[2] = {0, 0};
        uint64_t next[2];

        if (k->proto != 6 || k->port[1] != 80)
            continue;
        x->cur = i;
        s = malloc(sizeof *s);
        cr_assert_not_null(s);
        pt_http_init(s, &x->st);
        for (unsigned d = 0; d < 2; d++)
            next[d] = k->n_seg[d] ? k->seg[d][0].off : 0;
        while (at[0] < k->n_seg[0] || at[1] < k->n_seg[1]) {
            unsigned d = at[0] >= k->n_seg[0]                              ? 1
                         : at[1] >= k->n_seg[1]                            ? 0
                         : k->seg[0][at[0]].frame < k->seg[1][at[1]].frame ? 0
                                                                           : 1;
            const struct pt_test_seg *g = &k->seg[d][at[d]++];
            if (g->off > next[d])
                pt_http_gap(s, d, g->off - next[d], http_collect, x);
            pt_http_feed(s, d, g->ts_ns, g->data, g->len, http_collect, x);
            next[d] = g->off + g->len;
        }
        pt_http_flush(s, http_collect, x);
        free(s);
    }
}

static void http_free(struct http_run *x)
{
    free(x->v);
    free(x->conn);
    pt_test_conns_free(&x->c);
}

static char *http_text(const struct http_run *x, size_t i, struct pt_app_conn *c)
{
    struct mem m;

    *c = conn_of(&x->c.conn[x->conn[i]], 2000 + x->conn[i]);
    cr_assert_eq(pt_app_http_write(mem_open(&m), c, &x->v[i]), 0);
    return mem_close(&m);
}

/* The response Content-Type of each response tshark saw, in order
 * (tests/expected/http/<file>.http.tsv, columns http.response.code and
 * http.content_type). */
static size_t tshark_ctypes(const char *file, char ***out, char **buf)
{
    char rel[256], *save = NULL;
    size_t n = 0;

    snprintf(rel, sizeof rel, "tests/expected/http/%s.http.tsv", file);
    *buf = pt_test_slurp(pt_test_src(rel), NULL);
    cr_assert_not_null(*buf, "%s", rel);
    *out = NULL;
    for (char *l = strtok_r(*buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        char *f[16];
        if (split_tabs(l, f, 16) < 12 || !strcmp(f[0], "frame.number") || !f[9][0])
            continue;
        *out = realloc(*out, (n + 1) * sizeof **out);
        cr_assert_not_null(*out);
        (*out)[n++] = f[11];
    }
    return n;
}

/* Zeek's http.log of five pipelined requests. Two responses are gzip: Zeek
 * counts their bodies decoded, we count wire bytes (docs/APP.md); the file
 * fields (fuids, mime types) come from Zeek's file analysis, which we do
 * not have. */
Test(write_zeek, http_pipelined)
{
    static const char *const skip[] = {"resp_fuids", "resp_mime_types", "tags", NULL};
    static const char *const skip_gz[] = {"resp_fuids", "resp_mime_types", "tags",
                                          "response_body_len", NULL};
    static const char *const extra[] = {"request_content_type", "response_content_type",
                                        "community_id", NULL};
    struct http_run x;
    struct zlog z;
    char **ct, *ctbuf;
    size_t nct = tshark_ctypes("zeek_pipelined-requests.pcap", &ct, &ctbuf), gz = 0;

    zlog_load(&z, "pcap/http/zeek_pipelined-requests.zeek-http.log");
    http_run(&x, "pcap/http/zeek_pipelined-requests.pcap");
    cr_assert_eq(z.nrows, 5);
    cr_assert_eq(x.n, z.nrows, "%zu transactions, Zeek logs %zu", x.n, z.nrows);
    cr_assert_eq(nct, x.n);
    for (size_t i = 0; i < x.n; i++) {
        struct pt_app_conn c;
        struct pt_tj o;
        char t[32], *text = http_text(&x, i, &c);
        bool enc = x.v[i].flags & PT_HTTP_TX_RESP_ENCODED;

        parse_rec(text, "http", &o);
        check_flow_fields(&o, &c);
        cr_expect_str_eq(num_field(&o, "ts"), time_text(x.v[i].req.ts_ns, t));
        zeek_check(&o, &z, i, enc ? skip_gz : skip, extra, "http.log");
        if (enc) {
            size_t col = 0;
            while (strcmp(z.field[col], "response_body_len"))
                col++;
            gz++;
            cr_expect_lt(strtoull(num_field(&o, "response_body_len"), NULL, 10),
                         strtoull(z.row[i][col], NULL, 10), "a gzip body is smaller on the wire");
        }
        cr_expect_str_eq(str_field(&o, "response_content_type"), ct[i], "tshark's content type");
        cr_expect_null(pt_tj_get(&o, "request_content_type"), "GETs carry no Content-Type");
        pt_tj_free(&o);
        free(text);
    }
    cr_expect_eq(gz, 2);
    http_free(&x);
    free(z.buf);
    free(ct);
    free(ctbuf);
}

/* First string value of "@key" in an Arkime session file. */
static bool arkime_str(const char *json, const char *key, char *out, size_t cap)
{
    char pat[64];
    const char *p, *e;

    snprintf(pat, sizeof pat, "\"%s\" : ", key);
    if (!(p = strstr(json, pat)))
        return false;
    p += strlen(pat);
    if (*p == '[')
        p = strchr(p, '"');
    if (!p || *p != '"' || !(e = strchr(p + 1, '"')) || (size_t)(e - p - 1) >= cap)
        return false;
    memcpy(out, p + 1, (size_t)(e - p - 1));
    out[e - p - 1] = '\0';
    return true;
}

/* Arkime's session for the same connection has the same Community ID, and
 * the request line fields it indexed. */
Test(write_ref, http_arkime_community_id)
{
    struct http_run x;
    struct pt_app_conn c;
    struct pt_tj o;
    char v[256];
    char *json =
        pt_test_slurp(pt_test_data("pcap/http/arkime_http-simple-get.arkime.test.json"), NULL);

    cr_assert_not_null(json);
    http_run(&x, "pcap/http/arkime_http-simple-get.pcap");
    cr_assert_geq(x.n, 1);
    char *text = http_text(&x, 0, &c);
    parse_rec(text, "http", &o);
    check_flow_fields(&o, &c);
    cr_assert(arkime_str(json, "community_id", v, sizeof v));
    cr_expect_str_eq(str_field(&o, "community_id"), v);
    cr_assert(arkime_str(json, "host", v, sizeof v));
    cr_expect_str_eq(str_field(&o, "host"), v);
    pt_tj_free(&o);
    free(text);
    free(json);
    http_free(&x);
}

/* ---- TLS ---- */

struct tls_run {
    struct pt_test_conns c;
    struct pt_tls_stats st;
    struct pt_tls_state *s; /* one per connection */
};

/* Every TCP connection of @rel through the TLS parser, directions merged in
 * frame order; the client is whoever sends a ClientHello first (as
 * tests/decode/test_tls.c). */
static void tls_run(struct tls_run *x, const char *rel)
{
    memset(x, 0, sizeof *x);
    pt_test_conns_load(&x->c, rel);
    x->s = calloc(x->c.n ? x->c.n : 1, sizeof *x->s);
    cr_assert_not_null(x->s);
    for (size_t i = 0; i < x->c.n; i++) {
        const struct pt_test_conn *k = &x->c.conn[i];
        size_t at[2] = {0, 0};
        uint64_t next[2] = {0, 0};
        bool seen[2] = {false, false};
        unsigned cdir = 0;

        pt_tls_init(&x->s[i], &x->st);
        if (k->proto != 6)
            continue;
        for (unsigned d = 0; d < 2; d++)
            if (k->n_seg[d] && k->seg[d][0].len > 5 && k->seg[d][0].data[0] == 22 &&
                k->seg[d][0].data[5] == 1)
                cdir = d;
        while (at[0] < k->n_seg[0] || at[1] < k->n_seg[1]) {
            unsigned d = at[0] >= k->n_seg[0]                               ? 1
                         : at[1] >= k->n_seg[1]                             ? 0
                         : k->seg[0][at[0]].frame <= k->seg[1][at[1]].frame ? 0
                                                                            : 1;
            const struct pt_test_seg *g = &k->seg[d][at[d]++];
            unsigned td = d == cdir ? 0 : 1;
            if (seen[d] && g->off > next[d])
                pt_tls_gap(&x->s[i], td);
            seen[d] = true;
            next[d] = g->off + g->len;
            pt_tls_feed(&x->s[i], td, g->ts_ns, g->data, g->len);
        }
    }
}

static void tls_free(struct tls_run *x)
{
    free(x->s);
    pt_test_conns_free(&x->c);
}

static char *tls_text(const struct tls_run *x, size_t i, struct pt_app_conn *c)
{
    struct mem m;

    *c = conn_of(&x->c.conn[i], 3000 + i);
    cr_assert_eq(pt_app_ssl_write(mem_open(&m), c, c->first_ns, &x->s[i].res), 0);
    return mem_close(&m);
}

/* "ip port" of side @d of @k, as the .tls.tsv files write endpoints. */
static void ep(const struct pt_test_conn *k, unsigned d, char *out, size_t cap)
{
    char a[64];
    snprintf(out, cap, "%s %u", addr_text(k->addr[d], k->ver, a), k->port[d]);
}

/* Items of JSON array @key joined with '|' ("-" when absent), numbers as
 * 0x%04x when @hex. */
static void joined(const struct pt_tj *o, const char *key, bool hex, char *out, size_t cap)
{
    const struct pt_tj *a = pt_tj_get(o, key);
    size_t n = 0;

    snprintf(out, cap, "-");
    if (!a)
        return;
    cr_assert_eq(a->t, PT_TJ_ARR, "%s is not an array", key);
    cr_assert_gt(a->n, 0, "%s: an empty array is written as absent", key);
    for (size_t i = 0; i < a->n; i++) {
        if (hex)
            n += (size_t)snprintf(out + n, cap - n, "%s0x%04lx", i ? "|" : "",
                                  strtoul(a->v[i].s, NULL, 10));
        else
            n += (size_t)snprintf(out + n, cap - n, "%s%s", i ? "|" : "", a->v[i].s);
        cr_assert_lt(n, cap);
    }
}

static const char *opt_str(const struct pt_tj *o, const char *key)
{
    const struct pt_tj *v = pt_tj_get(o, key);
    return v ? v->s : "-";
}

/* One row of a .tls.tsv (tshark + OpenSSL) against our ssl record. */
static void tls_row_check(const struct pt_tj *o, char **f, const char *who)
{
    char buf[1024], nb[24];

    cr_expect_str_eq(opt_str(o, "server_name"), f[2], "%s server_name", who);
    if (strcmp(f[7], "-")) {
        snprintf(buf, sizeof buf, "%lu", strtoul(f[3], NULL, 16));
        cr_expect_str_eq(num_field(o, "client_version"), buf, "%s client_version", who);
        joined(o, "client_supported_versions", true, buf, sizeof buf);
        cr_expect_str_eq(buf, f[4], "%s client_supported_versions", who);
        joined(o, "orig_alpn", false, buf, sizeof buf);
        cr_expect_str_eq(buf, f[5], "%s orig_alpn", who);
        cr_expect_str_eq(str_field(o, "ja3"), f[7], "%s ja3", who);
    } else {
        cr_expect_null(pt_tj_get(o, "ja3"), "%s: no ClientHello, no ja3", who);
    }
    if (strcmp(f[13], "-")) {
        unsigned long sh = strtoul(f[8], NULL, 16),
                      v = strcmp(f[9], "-") ? strtoul(f[9], NULL, 16) : sh;
        unsigned long cs = strtoul(f[10], NULL, 16);
        snprintf(buf, sizeof buf, "%lu", sh);
        cr_expect_str_eq(num_field(o, "server_version"), buf, "%s server_version", who);
        pt_tls_version_name((uint16_t)v, nb);
        cr_expect_str_eq(str_field(o, "version"), nb, "%s version", who);
        if (pt_tls_cipher_name((uint16_t)cs))
            snprintf(buf, sizeof buf, "%s", pt_tls_cipher_name((uint16_t)cs));
        else
            snprintf(buf, sizeof buf, "unknown-%lu", cs);
        cr_expect_str_eq(str_field(o, "cipher"), buf, "%s cipher", who);
        cr_expect_str_eq(opt_str(o, "next_protocol"), f[11], "%s next_protocol", who);
        cr_expect_str_eq(str_field(o, "ja3s"), f[13], "%s ja3s", who);
    } else {
        cr_expect_null(pt_tj_get(o, "version"), "%s: no ServerHello, no version", who);
    }
    cr_expect_str_eq(opt_str(o, "subject"), f[14], "%s subject", who);
    cr_expect_str_eq(opt_str(o, "issuer"), f[15], "%s issuer", who);
    if (strcmp(f[14], "-")) {
        snprintf(buf, sizeof buf, "%s.000000", f[16]);
        cr_expect_str_eq(num_field(o, "certificate.not_valid_before"), buf, "%s", who);
        snprintf(buf, sizeof buf, "%s.000000", f[17]);
        cr_expect_str_eq(num_field(o, "certificate.not_valid_after"), buf, "%s", who);
        joined(o, "san.dns", false, buf, sizeof buf);
        cr_expect_str_eq(buf, f[18], "%s san.dns", who);
        joined(o, "san.ip", false, buf, sizeof buf);
        cr_expect_str_eq(buf, f[19], "%s san.ip", who);
        const struct pt_tj *ss = pt_tj_get(o, "cert_self_signed");
        cr_assert(ss && ss->t == PT_TJ_BOOL, "%s cert_self_signed", who);
        cr_expect_eq(ss->b, strcmp(f[14], f[15]) == 0, "%s cert_self_signed", who);
    } else {
        cr_expect_null(pt_tj_get(o, "certificate.not_valid_after"), "%s", who);
    }
}

/* Every row of tests/expected/@cat/@file.tls.tsv; returns the rows seen. */
static size_t tls_vs_tshark(const char *cat, const char *file)
{
    static const char *const known[] = {"_path",
                                        "ts",
                                        "uid",
                                        "id.orig_h",
                                        "id.orig_p",
                                        "id.resp_h",
                                        "id.resp_p",
                                        "version",
                                        "cipher",
                                        "server_name",
                                        "next_protocol",
                                        "client_version",
                                        "client_supported_versions",
                                        "server_version",
                                        "orig_alpn",
                                        "ja3",
                                        "ja3s",
                                        "ja4",
                                        "subject",
                                        "issuer",
                                        "certificate.not_valid_before",
                                        "certificate.not_valid_after",
                                        "san.dns",
                                        "san.ip",
                                        "cert_self_signed",
                                        "cert_expired",
                                        "community_id"};
    char rel[256], *save = NULL;
    struct tls_run x;
    size_t rows = 0;

    snprintf(rel, sizeof rel, "tests/expected/%s/%s.tls.tsv", cat, file);
    char *text = pt_test_slurp(pt_test_src(rel), NULL);
    cr_assert_not_null(text, "%s", rel);
    snprintf(rel, sizeof rel, "pcap/%s/%s", cat, file);
    tls_run(&x, rel);
    strtok_r(text, "\n", &save); /* header */
    for (char *l = strtok_r(NULL, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        char *f[20], a[96], b[96];
        size_t i;

        cr_assert_eq(split_tabs(l, f, 20), 20);
        for (i = 0; i < x.c.n; i++) {
            ep(&x.c.conn[i], 0, a, sizeof a);
            ep(&x.c.conn[i], 1, b, sizeof b);
            if (x.c.conn[i].proto == 6 && !strcmp(a, f[0]) && !strcmp(b, f[1]))
                break;
        }
        cr_assert_lt(i, x.c.n, "%s: no connection %s -> %s", file, f[0], f[1]);
        struct pt_app_conn c;
        struct pt_tj o;
        char t[32], *rec = tls_text(&x, i, &c);
        parse_rec(rec, "ssl", &o);
        check_flow_fields(&o, &c);
        cr_expect_str_eq(num_field(&o, "ts"), time_text(c.first_ns, t));
        tls_row_check(&o, f, f[0]);
        for (size_t k = 0; k < o.n; k++)
            cr_expect(listed(o.k[k], known), "%s: unexpected field %s", file, o.k[k]);
        pt_tj_free(&o);
        free(rec);
        rows++;
    }
    free(text);
    tls_free(&x);
    return rows;
}

/* TLS 1.2 with the leaf certificate (subject, issuer, validity, SANs). */
Test(write_ref, ssl_cert_vs_tshark)
{
    cr_assert_eq(tls_vs_tshark("tls", "ndpi_443-curl.pcap"), 1);
}

/* TLS 1.3 drafts (supported_versions both ways) and IPv6 connections. */
Test(write_ref, ssl_versions_vs_tshark)
{
    cr_assert_eq(tls_vs_tshark("tls", "sv_tls13_draft28.pcap"), 2);
    cr_assert_eq(tls_vs_tshark("ipv6", "ndpi_http_ipv6.pcap"), 6);
    cr_assert_eq(tls_vs_tshark("mixed", "ndpi_1kxun.pcap"), 4);
}

/* JA4 and the Community ID against Arkime's session of the same
 * connection. */
Test(write_ref, ssl_arkime_ja4_community_id)
{
    const char *const stems[] = {"arkime_tls13", "arkime_tls-split-client-hello"};

    for (unsigned s = 0; s < PT_ARRAY_LEN(stems); s++) {
        char p[256], v[256];
        struct tls_run x;
        size_t i;

        snprintf(p, sizeof p, "pcap/tls/%s.arkime.test.json", stems[s]);
        char *json = pt_test_slurp(pt_test_data(p), NULL);
        cr_assert_not_null(json);
        snprintf(p, sizeof p, "pcap/tls/%s.pcap", stems[s]);
        tls_run(&x, p);
        for (i = 0; i < x.c.n; i++)
            if (x.s[i].res.flags & PT_TLS_F_CLIENT_HELLO)
                break;
        cr_assert_lt(i, x.c.n);
        struct pt_app_conn c;
        struct pt_tj o;
        char *rec = tls_text(&x, i, &c);
        parse_rec(rec, "ssl", &o);
        cr_assert(arkime_str(json, "ja4", v, sizeof v));
        cr_expect_str_eq(str_field(&o, "ja4"), v, "%s", stems[s]);
        cr_assert(arkime_str(json, "community_id", v, sizeof v));
        cr_expect_str_eq(str_field(&o, "community_id"), v, "%s", stems[s]);
        pt_tj_free(&o);
        free(rec);
        free(json);
        tls_free(&x);
    }
}

/* ---- DHCP ---- */

#define MAX_DHCP 16

struct dhcp_sink {
    struct pt_dhcp_rec r[MAX_DHCP];
    size_t n;
};

static void dhcp_collect(const struct pt_dhcp_rec *r, void *arg)
{
    struct dhcp_sink *s = arg;

    cr_assert_lt(s->n, MAX_DHCP);
    s->r[s->n++] = *r;
}

/* The DHCP datagrams of @rel in frame order through Zeek's grouping; a
 * message's flow id is its connection's index. */
static void dhcp_run(const char *rel, struct dhcp_sink *s)
{
    static struct pt_dhcp_agg a; /* 27 KB */
    struct pt_dhcp_stats st;
    struct pt_test_conns c;
    uint32_t last = 0;

    memset(&st, 0, sizeof st);
    memset(s, 0, sizeof *s);
    pt_test_conns_load(&c, rel);
    pt_dhcp_agg_init(&a, &PT_DHCP_AGG_ZEEK, dhcp_collect, s, &st);
    for (;;) { /* the next frame after @last, over every connection and direction */
        const struct pt_test_seg *best = NULL;
        size_t bk = 0;
        unsigned bd = 0;
        for (size_t k = 0; k < c.n; k++) {
            const struct pt_test_conn *cn = &c.conn[k];
            if (cn->proto != 17 || cn->ver != 4)
                continue;
            for (unsigned d = 0; d < 2; d++)
                for (size_t i = 0; i < cn->n_seg[d]; i++)
                    if (cn->seg[d][i].frame > last && (!best || cn->seg[d][i].frame < best->frame))
                        best = &cn->seg[d][i], bk = k, bd = d;
        }
        if (!best)
            break;
        last = best->frame;
        struct pt_dhcp_msg m;
        if (pt_dhcp_parse(&m, best->data, best->len, &st))
            pt_dhcp_agg_add(&a, &m, c.conn[bk].addr[bd] + 12, c.conn[bk].addr[!bd] + 12,
                            best->ts_ns, bk);
    }
    pt_dhcp_agg_flush(&a);
    pt_test_conns_free(&c);
}

static char *dhcp_text(const struct pt_dhcp_rec *r)
{
    struct mem m;

    cr_assert_eq(pt_app_dhcp_write(mem_open(&m), r), 0);
    return mem_close(&m);
}

static void dhcp_vs_zeek(const char *stem, size_t want)
{
    static const char *const extra[] = {NULL};
    char p[256];
    struct zlog z;
    static struct dhcp_sink s;

    snprintf(p, sizeof p, "pcap/dhcp/%s.zeek-dhcp.log", stem);
    zlog_load(&z, p);
    snprintf(p, sizeof p, "pcap/dhcp/%s.pcap", stem);
    dhcp_run(p, &s);
    cr_assert_eq(z.nrows, want);
    cr_assert_eq(s.n, z.nrows, "%s: %zu records, Zeek logs %zu", stem, s.n, z.nrows);
    for (size_t i = 0; i < s.n; i++) {
        struct pt_tj o;
        char t[32], *text = dhcp_text(&s.r[i]);
        size_t uc = 0;

        parse_rec(text, "dhcp", &o);
        cr_expect_str_eq(num_field(&o, "ts"), time_text(s.r[i].ts_ns, t));
        cr_expect_null(pt_tj_get(&o, "community_id"), "a dhcp record spans flows");
        zeek_check(&o, &z, i, NULL, extra, stem);
        /* uids: one per flow, ours (Zeek's are its own); as many as Zeek's */
        const struct pt_tj *u = pt_tj_get(&o, "uids");
        cr_assert(u && u->t == PT_TJ_ARR);
        while (strcmp(z.field[uc], "uids"))
            uc++;
        size_t nz = 1;
        for (const char *q = z.row[i][uc]; *q; q++)
            nz += *q == ',';
        cr_expect_eq(u->n, nz, "%s record %zu: %zu uids, Zeek %zu", stem, i, u->n, nz);
        for (size_t k = 0; k < u->n && k < s.r[i].n_uids; k++) {
            char uid[20];
            pt_uid_format(uid, s.r[i].uids[k]);
            cr_expect_str_eq(u->v[k].s, uid);
        }
        pt_tj_free(&o);
        free(text);
    }
    free(z.buf);
}

/* A DISCOVER .. DECLINE exchange over four flows, a RELEASE, an INFORM. */
Test(write_zeek, dhcp_exchanges)
{
    dhcp_vs_zeek("zeek_dhcp", 3);
}

Test(write_zeek, dhcp_discover_param_req)
{
    dhcp_vs_zeek("zeek_dhcp_discover_param_req_and_client_id", 1);
}

/* A message type Zeek has no name for gets Zeek's default name. */
Test(write_escape, dhcp_unknown_type_and_host_name_bytes)
{
    static struct pt_dhcp_rec r;
    struct pt_tj o;

    memset(&r, 0, sizeof r);
    r.ts_ns = 1;
    r.n_types = 2;
    r.msg_types[0] = PT_DHCP_ACK;
    r.msg_types[1] = 77;
    r.has = PT_DHCP_REC_HOST_NAME;
    memcpy(r.host_name.s, "pc\0\"\xfe", 5);
    r.host_name.len = 5;
    char *text = dhcp_text(&r);
    cr_expect_not_null(strstr(text, ",\"host_name\":\"pc\\u0000\\\"\\u00fe\","), "%s", text);
    cr_expect_not_null(strstr(text, "\"msg_types\":[\"ACK\",\"unknown-message-type-77\"]"), "%s",
                       text);
    cr_expect_not_null(strstr(text, "\"uids\":[]"), "%s", text);
    parse_rec(text, "dhcp", &o);
    const struct pt_tj *h = pt_tj_get(&o, "host_name");
    cr_assert(h && h->len == 5 && memcmp(h->s, "pc\0\"\xfe", 5) == 0);
    pt_tj_free(&o);
    free(text);
}

/* ---- ARP ---- */

struct arp_out {
    struct mem m;
    const char *ifname;
    size_t n;
};

static void arp_write_ev(const struct pt_arp_event *ev, void *arg)
{
    struct arp_out *a = arg;

    cr_assert_eq(pt_app_arp_write(a->m.f, ev, a->ifname), 0);
    a->n++;
}

/* Split @text into lines (modified in place). */
static size_t lines(char *text, char **out, size_t max)
{
    size_t n = 0;
    char *save = NULL;

    for (char *l = strtok_r(text, "\n", &save); l && n < max; l = strtok_r(NULL, "\n", &save))
        out[n++] = l;
    return n;
}

static void parse_line(char *line, struct pt_tj *o)
{
    char buf[1024];

    snprintf(buf, sizeof buf, "%s\n", line);
    parse_rec(buf, "arp", o);
}

/* Zeek's arp events of zeek_arp-who-has.pcap (a request and its reply):
 * two new bindings, sender IP and MAC as Zeek printed them. */
Test(write_ref, arp_zeek_who_has)
{
    char *zout = pt_test_slurp(pt_test_data("pcap/arp/zeek_arp-who-has.zeek-stdout.txt"), NULL);
    struct pt_arp_config cfg = PT_ARP_CONFIG_DEFAULT;
    struct pt_decode_stats st;
    struct arp_out a = {.ifname = "eth0"};
    char *zl[4], *ol[4];
    int err;

    cr_assert_not_null(zout);
    cr_assert_eq(lines(zout, zl, 4), 3); /* btest header + two events */
    mem_open(&a.m);
    pt_arp_table *t = pt_arp_table_create(&cfg, arp_write_ev, &a, &err);
    cr_assert_not_null(t);
    pt_decode_stats_init(&st);
    for (int n = 1; n <= 2; n++) {
        struct td_frame f;
        td_nth(&f, "pcap/arp/zeek_arp-who-has.pcap", n, &st);
        cr_assert(f.p.flags & PT_PKT_ARP);
        pt_arp_table_feed(t, &f.p.arp, f.p.ts_ns);
        free(f.buf);
    }
    pt_arp_table_destroy(t);
    char *text = mem_close(&a.m);
    cr_assert_eq(lines(text, ol, 4), 2, "%s", text);
    for (int i = 0; i < 2; i++) {
        struct pt_tj o;
        char *zf[6];
        parse_line(ol[i], &o);
        char *c = zl[i + 1];
        for (int k = 0; k < 6; k++) { /* "eth_src, eth_dst, spa, sha, tpa, tha" */
            zf[k] = c;
            c = strstr(c, ", ");
            if (c)
                *c = '\0', c += 2;
        }
        cr_expect_str_eq(str_field(&o, "event"), "new");
        cr_expect_str_eq(str_field(&o, "interface"), "eth0");
        cr_expect_str_eq(str_field(&o, "op"), i == 0 ? "request" : "reply");
        cr_expect_str_eq(str_field(&o, "ip"), zf[2]);
        cr_expect_str_eq(str_field(&o, "mac"), zf[3]);
        cr_expect_null(pt_tj_get(&o, "old_mac"));
        cr_expect_null(pt_tj_get(&o, "reason"));
        cr_expect_null(pt_tj_get(&o, "count"));
        pt_tj_free(&o);
    }
    free(text);
    free(zout);
}

static struct pt_arp mk_arp(uint16_t op, uint8_t smac, uint8_t sip, uint8_t tip)
{
    struct pt_arp a;

    memset(&a, 0, sizeof a);
    a.op = op;
    a.sha[0] = 0x02, a.sha[5] = smac;
    a.spa[0] = 10, a.spa[3] = sip;
    a.tpa[0] = 10, a.tpa[3] = tip;
    if (op == 2)
        a.tha[0] = 0x02;
    return a;
}

/* A changed binding carries old_mac; a gratuitous packet its reason; a
 * flood its count. The interface name is escaped like any string. */
Test(write_ref, arp_changed_gratuitous_flood)
{
    struct pt_arp_config cfg = PT_ARP_CONFIG_DEFAULT;
    struct arp_out a = {.ifname = "e\"th\xff"};
    char *l[32];
    int err;

    cfg.flood_count = 2;
    mem_open(&a.m);
    pt_arp_table *t = pt_arp_table_create(&cfg, arp_write_ev, &a, &err);
    cr_assert_not_null(t);
    struct pt_arp p = mk_arp(1, 1, 5, 6);
    pt_arp_table_feed(t, &p, 1000);
    p = mk_arp(1, 9, 5, 6); /* 10.0.0.5 moves to 02:00:00:00:00:09 */
    pt_arp_table_feed(t, &p, 2000);
    p = mk_arp(2, 7, 8, 0); /* reply nobody asked for */
    pt_arp_table_feed(t, &p, 3000);
    for (int i = 0; i < 3; i++) { /* announcements: sender IP == target IP */
        p = mk_arp(1, 3, 4, 4);
        pt_arp_table_feed(t, &p, 4000 + (uint64_t)i);
    }
    pt_arp_table_destroy(t);
    char *text = mem_close(&a.m);
    size_t n = lines(text, l, 32);
    size_t changed = 0, unsol = 0, same = 0, flood = 0;

    cr_assert_eq(n, a.n);
    for (size_t i = 0; i < n; i++) {
        struct pt_tj o;
        parse_line(l[i], &o);
        const struct pt_tj *ifn = pt_tj_get(&o, "interface");
        cr_assert(ifn && ifn->len == 5 && memcmp(ifn->s, "e\"th\xff", 5) == 0);
        cr_assert_not_null(strstr(l[i], "\"interface\":\"e\\\"th\\u00ff\""), "%s", l[i]);
        const char *ev = str_field(&o, "event");
        if (!strcmp(ev, "changed")) {
            changed++;
            cr_expect_str_eq(str_field(&o, "ip"), "10.0.0.5");
            cr_expect_str_eq(str_field(&o, "mac"), "02:00:00:00:00:09");
            cr_expect_str_eq(str_field(&o, "old_mac"), "02:00:00:00:00:01");
        } else if (!strcmp(ev, "gratuitous")) {
            const char *why = str_field(&o, "reason");
            unsol += !strcmp(why, "unsolicited");
            same += !strcmp(why, "same_ip");
            cr_expect(!strcmp(why, "unsolicited") || !strcmp(why, "same_ip"), "%s", why);
        } else if (!strcmp(ev, "flood")) {
            flood++;
            cr_expect_str_eq(num_field(&o, "count"), "3");
            cr_expect_str_eq(str_field(&o, "mac"), "02:00:00:00:00:03");
        } else {
            cr_expect_str_eq(ev, "new");
        }
        pt_tj_free(&o);
    }
    cr_expect_eq(changed, 1);
    cr_expect_eq(unsol, 1);
    cr_expect_eq(same, 3);
    cr_expect_eq(flood, 1);
    free(text);
}

/* ---- escaping ---- */

/* Wire bytes that are not text, and the JSON text they must become: NUL,
 * a byte >= 0x80 alone, a quote, a backslash, a control, a newline, a valid
 * two-byte UTF-8 sequence (kept), DEL, and a three-byte sequence cut short. */
static const char nasty[] = "a\0b\xff\"\\\x01\n\xc3\xa9\x7f\xe2\x82";
#define NASTY_LEN (sizeof nasty - 1)
static const char nasty_json[] =
    "\"a\\u0000b\\u00ff\\\"\\\\\\u0001\\n\xc3\xa9\\u007f\\u00e2\\u0082\"";

/* @key in @text is exactly the escaped nasty string, and reads back as the
 * nasty bytes. */
static void expect_nasty(const char *text, const struct pt_tj *o, const char *key)
{
    char pat[256];
    const struct pt_tj *v = pt_tj_get(o, key);

    snprintf(pat, sizeof pat, "\"%s\":%s", key, nasty_json);
    cr_expect_not_null(strstr(text, pat), "%s not escaped as %s in %s", key, pat, text);
    cr_assert_not_null(v, "no %s", key);
    cr_expect(v->len == NASTY_LEN && memcmp(v->s, nasty, NASTY_LEN) == 0, "%s bytes differ", key);
}

static struct pt_app_conn crafted_conn(uint8_t proto)
{
    struct pt_app_conn c;

    memset(&c, 0, sizeof c);
    c.uid64 = 0xffffffffffffffffull;
    c.orig_h[10] = c.orig_h[11] = c.resp_h[10] = c.resp_h[11] = 0xff;
    c.orig_h[12] = 10, c.orig_h[15] = 1;
    c.resp_h[12] = 10, c.resp_h[15] = 2;
    c.orig_p = 40000;
    c.resp_p = proto == 17 ? 53 : 80;
    c.proto = proto;
    c.ver = 4;
    c.vlan = c.inner_vlan = PT_VLAN_NONE;
    return c;
}

Test(write_escape, dns_query_and_answer)
{
    static struct pt_app_dns d;
    struct pt_app_conn c = crafted_conn(17);
    struct pt_tj o;
    struct mem m;

    memset(&d, 0, sizeof d);
    d.txn.has_query = true;
    memcpy(d.txn.query, nasty, NASTY_LEN);
    d.txn.query_len = NASTY_LEN;
    d.txn.n_answers = 1;
    memcpy(d.txn.answers[0], nasty, NASTY_LEN);
    d.txn.answer_len[0] = NASTY_LEN;
    d.txn.TTLs[0] = UINT32_MAX;
    cr_assert_eq(pt_app_dns_write(mem_open(&m), &c, &d), 0);
    char *text = mem_close(&m);
    parse_rec(text, "dns", &o);
    check_flow_fields(&o, &c);
    expect_nasty(text, &o, "query");
    const struct pt_tj *a = pt_tj_get(&o, "answers");
    cr_assert(a && a->t == PT_TJ_ARR && a->n == 1);
    cr_expect(a->v[0].len == NASTY_LEN && memcmp(a->v[0].s, nasty, NASTY_LEN) == 0);
    cr_expect_not_null(strstr(text, "\"TTLs\":[4294967295.000000]"), "%s", text);
    cr_expect_str_eq(str_field(&o, "uid"), "CLygHa16AHYF"); /* base62 of 2^64 - 1 (Python) */
    pt_tj_free(&o);
    free(text);
}

/* Lengths past their arrays (a corrupt record) are cut to the array: ASan
 * sees any read beyond it. */
Test(write_escape, lengths_clamped_to_arrays)
{
    static struct pt_app_dns d;
    static struct pt_http_txn h;
    struct pt_app_conn c = crafted_conn(17);
    struct pt_tj o;
    struct mem m;

    memset(&d, 0, sizeof d); /* no 'x' over the bools: UBSan checks them */
    memset(d.txn.query, 'x', sizeof d.txn.query);
    memset(d.txn.answers, 'x', sizeof d.txn.answers);
    d.txn.has_query = true;
    d.txn.query_len = 60000;
    d.txn.n_answers = 60000;
    for (unsigned i = 0; i < PT_DNS_MAX_ANSWERS; i++)
        d.txn.answer_len[i] = 60000;
    cr_assert_eq(pt_app_dns_write(mem_open(&m), &c, &d), 0);
    char *text = mem_close(&m);
    parse_rec(text, "dns", &o);
    const struct pt_tj *q = pt_tj_get(&o, "query");
    cr_assert(q);
    cr_expect_eq(q->len, PT_DNS_NAME_MAX - 1);
    cr_expect_eq(pt_tj_get(&o, "answers")->n, PT_DNS_MAX_ANSWERS);
    pt_tj_free(&o);
    free(text);

    memset(&h, 'y', sizeof h);
    h.flags = PT_HTTP_TX_REQUEST;
    h.req.uri_len = h.req.host_len = h.resp.status_msg_len = 65535;
    h.resp.status_code = 200;
    c = crafted_conn(6);
    cr_assert_eq(pt_app_http_write(mem_open(&m), &c, &h), 0);
    text = mem_close(&m);
    parse_rec(text, "http", &o);
    cr_expect_eq(pt_tj_get(&o, "uri")->len, PT_HTTP_URI_MAX - 1);
    cr_expect_eq(pt_tj_get(&o, "status_msg")->len, PT_HTTP_MSG_MAX - 1);
    pt_tj_free(&o);
    free(text);
}

Test(write_escape, http_uri_and_headers)
{
    static struct pt_http_txn h;
    struct pt_app_conn c = crafted_conn(6);
    struct pt_tj o;
    struct mem m;

    memset(&h, 0, sizeof h);
    h.flags = PT_HTTP_TX_REQUEST;
    h.req.trans_depth = 1;
    memcpy(h.req.method, "GET", 3);
    h.req.method_len = 3;
    memcpy(h.req.uri, nasty, NASTY_LEN);
    h.req.uri_len = NASTY_LEN;
    memcpy(h.req.user_agent, nasty, NASTY_LEN);
    h.req.user_agent_len = NASTY_LEN;
    memcpy(h.req.version, "1.1", 3);
    h.req.version_len = 3;
    cr_assert_eq(pt_app_http_write(mem_open(&m), &c, &h), 0);
    char *text = mem_close(&m);
    parse_rec(text, "http", &o);
    check_flow_fields(&o, &c);
    expect_nasty(text, &o, "uri");
    expect_nasty(text, &o, "user_agent");
    cr_expect_str_eq(str_field(&o, "version"), "1.1", "the request's without a response");
    cr_expect_null(pt_tj_get(&o, "status_code"), "no response");
    cr_expect_null(pt_tj_get(&o, "host"), "no Host header");
    cr_expect_str_eq(num_field(&o, "response_body_len"), "0");
    pt_tj_free(&o);
    free(text);
}

Test(write_escape, ssl_sni_alpn_san)
{
    static struct pt_tls_result r;
    struct pt_app_conn c = crafted_conn(6);
    struct pt_tj o;
    struct mem m;

    memset(&r, 0, sizeof r);
    r.flags = PT_TLS_F_CLIENT_HELLO | PT_TLS_F_SNI | PT_TLS_F_ALPN | PT_TLS_F_CERT;
    memcpy(r.server_name, nasty, NASTY_LEN);
    r.sni_len = NASTY_LEN;
    r.alpn[0] = 2, memcpy(r.alpn + 1, "h2", 2);
    r.alpn[3] = NASTY_LEN, memcpy(r.alpn + 4, nasty, NASTY_LEN);
    r.alpn_len = 4 + NASTY_LEN;
    strcpy(r.cert.subject, "CN=a\\,b");
    strcpy(r.cert.issuer, "CN=a\\,b");
    r.cert.not_before = -1;
    r.cert.not_after = 253402300799; /* 9999-12-31T23:59:59Z */
    r.cert.san_dns[0] = NASTY_LEN, memcpy(r.cert.san_dns + 1, nasty, NASTY_LEN);
    r.cert.san_dns_len = 1 + NASTY_LEN;
    r.cert.n_san_dns = 1;
    r.cert.n_san_ip = 2;
    r.cert.san_ip[0][10] = r.cert.san_ip[0][11] = 0xff, r.cert.san_ip[0][15] = 7;
    r.cert.san_ip[1][0] = 0x20, r.cert.san_ip[1][1] = 0x01, r.cert.san_ip[1][15] = 1;
    r.cert.self_signed = true;
    r.cert.expired = true;
    cr_assert_eq(pt_app_ssl_write(mem_open(&m), &c, 5, &r), 0);
    char *text = mem_close(&m);
    parse_rec(text, "ssl", &o);
    check_flow_fields(&o, &c);
    expect_nasty(text, &o, "server_name");
    cr_expect_not_null(strstr(text, "\"orig_alpn\":[\"h2\",\"a\\u0000b"), "%s", text);
    cr_expect_not_null(strstr(text, "\"san.dns\":[\"a\\u0000b"), "%s", text);
    cr_expect_not_null(strstr(text, "\"san.ip\":[\"0.0.0.7\",\"2001::1\"]"), "%s", text);
    cr_expect_not_null(strstr(text, "\"subject\":\"CN=a\\\\,b\""), "%s", text);
    cr_expect_str_eq(num_field(&o, "certificate.not_valid_before"), "-1.000000");
    cr_expect_str_eq(num_field(&o, "certificate.not_valid_after"), "253402300799.000000");
    cr_expect(pt_tj_get(&o, "cert_self_signed")->b && pt_tj_get(&o, "cert_expired")->b);
    cr_expect_null(pt_tj_get(&o, "version"), "no ServerHello");
    cr_expect_null(pt_tj_get(&o, "ja3"), "no hash computed");
    pt_tj_free(&o);
    free(text);
}

/* ---- a reader that is not ours ---- */

/* Every kind of record, from the tests above, through Python's json module:
 * strict UTF-8 decoding of the file, no repeated key, "_path" first. */
Test(write_json, python, .timeout = 60)
{
    char path[] = "/tmp/pt-write-XXXXXX", cmd[1024], *out = NULL;
    int fd = mkstemp(path);
    size_t n = 0;

    cr_assert_geq(fd, 0);
    g_all = fdopen(fd, "w");
    cr_assert_not_null(g_all);
    {
        struct dns_run x;
        dns_run(&x, "pcap/dns/zeek_dns-two-responses.pcap");
        for (size_t i = 0; i < x.n; i++, n++) {
            struct pt_app_conn c;
            struct pt_tj o;
            char *t = dns_text(&x, i, &c);
            parse_rec(t, "dns", &o);
            pt_tj_free(&o);
            free(t);
        }
        dns_free(&x);
    }
    {
        struct http_run x;
        http_run(&x, "pcap/http/zeek_pipelined-requests.pcap");
        for (size_t i = 0; i < x.n; i++, n++) {
            struct pt_app_conn c;
            struct pt_tj o;
            char *t = http_text(&x, i, &c);
            parse_rec(t, "http", &o);
            pt_tj_free(&o);
            free(t);
        }
        http_free(&x);
    }
    n += tls_vs_tshark("tls", "ndpi_443-curl.pcap");
    {
        static struct dhcp_sink s;
        dhcp_run("pcap/dhcp/zeek_dhcp.pcap", &s);
        for (size_t i = 0; i < s.n; i++, n++) {
            struct pt_tj o;
            char *t = dhcp_text(&s.r[i]);
            parse_rec(t, "dhcp", &o);
            pt_tj_free(&o);
            free(t);
        }
    }
    {
        static struct pt_app_dns d;
        static struct pt_http_txn h;
        struct pt_app_conn c = crafted_conn(17);
        struct pt_arp_event ev = {.type = PT_ARP_EV_CHANGED, .op = 2, .ts_ns = 9};
        struct pt_tj o;
        struct mem m;

        memset(&d, 0, sizeof d);
        d.txn.has_query = true;
        memcpy(d.txn.query, nasty, NASTY_LEN);
        d.txn.query_len = NASTY_LEN;
        cr_assert_eq(pt_app_dns_write(mem_open(&m), &c, &d), 0);
        char *t = mem_close(&m);
        parse_rec(t, "dns", &o);
        pt_tj_free(&o);
        free(t);
        memset(&h, 0, sizeof h);
        memcpy(h.req.uri, nasty, NASTY_LEN);
        h.req.uri_len = NASTY_LEN;
        c = crafted_conn(6);
        cr_assert_eq(pt_app_http_write(mem_open(&m), &c, &h), 0);
        t = mem_close(&m);
        parse_rec(t, "http", &o);
        pt_tj_free(&o);
        free(t);
        cr_assert_eq(pt_app_arp_write(mem_open(&m), &ev, "\xc3\x28"), 0);
        t = mem_close(&m);
        parse_rec(t, "arp", &o);
        pt_tj_free(&o);
        free(t);
        n += 3;
    }
    cr_assert_eq(fclose(g_all), 0);
    g_all = NULL;
    snprintf(cmd, sizeof cmd,
             "python3 -c 'import json, sys\n"
             "def pairs(kv):\n"
             "    keys = [k for k, _ in kv]\n"
             "    assert len(keys) == len(set(keys)), keys\n"
             "    return dict(kv)\n"
             "n = 0\n"
             "for line in open(sys.argv[1], encoding=\"utf-8\", errors=\"strict\"):\n"
             "    assert line.startswith(\"{\\\"_path\\\":\"), line\n"
             "    o = json.loads(line, object_pairs_hook=pairs)\n"
             "    assert isinstance(o, dict)\n"
             "    n += 1\n"
             "print(n)' %s",
             path);
    int rc = pt_test_run(cmd, &out, NULL);
    unlink(path);
    cr_assert_eq(rc, 0, "python3 rejected a record (see stderr)");
    cr_assert_not_null(out);
    cr_expect_eq(strtoul(out, NULL, 10), n, "python read %s lines, we wrote %zu", out, n);
    cr_expect_geq(n, 14);
    free(out);
}

/* A stream error is reported as -EIO by every writer. */
Test(write_json, write_error_is_eio)
{
    static struct pt_app_dns d;
    static struct pt_http_txn h;
    static struct pt_tls_result r;
    static struct pt_dhcp_rec x;
    struct pt_arp_event ev = {.type = PT_ARP_EV_NEW, .op = 1};
    struct pt_app_conn c = crafted_conn(17);
    FILE *f = fopen("/dev/full", "w");

    cr_assert_not_null(f);
    setvbuf(f, NULL, _IONBF, 0);
    cr_expect_eq(pt_app_dns_write(f, &c, &d), -EIO);
    cr_expect_eq(pt_app_http_write(f, &c, &h), -EIO);
    cr_expect_eq(pt_app_ssl_write(f, &c, 0, &r), -EIO);
    cr_expect_eq(pt_app_dhcp_write(f, &x), -EIO);
    cr_expect_eq(pt_app_arp_write(f, &ev, NULL), -EIO);
    fclose(f);
}

/* pt_uid_format() against the plain definition (base-62 digits of the
 * number, most significant first, after a 'C'), at every power of 62 and
 * either side of it, at the edges of the parts it converts separately
 * (62^5, 62^10), and at random values. */
static void uid_ref(char out[20], uint64_t v)
{
    static const char b62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    char tmp[16];
    int n = 0;

    do
        tmp[n++] = b62[v % 62];
    while ((v /= 62) != 0);
    out[0] = 'C';
    for (int i = 0; i < n; i++)
        out[1 + i] = tmp[n - 1 - i];
    out[1 + n] = '\0';
}

Test(write_uid, base62_every_length)
{
    char got[20], want[20];
    uint64_t p = 1, x = 0x853c49e6748fea9bull;

    for (unsigned k = 0; k <= 11; k++) {
        uint64_t vals[] = {p - 1, p, p + 1, 2 * p - 1, p * 61, UINT64_MAX - k};
        for (size_t i = 0; i < sizeof vals / sizeof *vals; i++) {
            pt_uid_format(got, vals[i]);
            uid_ref(want, vals[i]);
            cr_assert_str_eq(got, want, "%llu", (unsigned long long)vals[i]);
        }
        if (k < 10)
            p *= 62;
    }
    for (unsigned i = 0; i < 100000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        uint64_t v = x >> (x & 63);
        pt_uid_format(got, v);
        uid_ref(want, v);
        cr_assert_str_eq(got, want, "%llu", (unsigned long long)v);
    }
}
