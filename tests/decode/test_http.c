/* test_http.c - the HTTP/1.x parser (src/decode/http.c).
 *
 * http_tshark: every TCP connection of the shared captures that hold HTTP is
 * fed segment by segment, both directions interleaved in frame order, and
 * each transaction is compared field by field with tshark's messages
 * (tests/expected/<cat>/<file>.http.tsv, tests/tools/gen-expected-http.sh).
 * http_ref: the same against Zeek's http.log, Arkime's session JSON and
 * tcpdump's -v output where the test data has them. http_crafted: hand-made
 * streams (splits at every byte, folding, pipelining, 100-continue, chunked
 * with extensions and trailers, lying lengths, bare LF, huge lines, not
 * HTTP). Every input goes through an exactly-sized heap copy so ASan sees a
 * read past the length. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pt/http.h"
#include "support/streams.h"
#include "support/support.h"

/* ---- collecting transactions ---- */

struct txlist {
    struct pt_http_txn *v;
    size_t n, cap;
};

static void collect(const struct pt_http_txn *t, void *arg)
{
    struct txlist *l = arg;

    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 8;
        l->v = realloc(l->v, l->cap * sizeof *l->v);
        cr_assert_not_null(l->v);
    }
    l->v[l->n++] = *t;
}

/* Feed @n bytes through an exact heap copy. */
static int feed(struct pt_http_state *s, unsigned dir, const void *b, size_t n, struct txlist *l)
{
    uint8_t *c = malloc(n ? n : 1);
    int rc;

    cr_assert_not_null(c);
    memcpy(c, b, n);
    rc = pt_http_feed(s, dir, 1000 + dir, c, n, collect, l);
    free(c);
    return rc;
}

static int feed_str(struct pt_http_state *s, unsigned dir, const char *str, struct txlist *l)
{
    return feed(s, dir, str, strlen(str), l);
}

#define expect_str(field, lit)                                                                     \
    cr_expect(field##_len == strlen(lit) && memcmp(field, lit, strlen(lit)) == 0 &&                \
                  field[field##_len] == '\0',                                                      \
              #field " is '%.*s', expected '%s'", (int)field##_len, field, lit)

/* ---- tshark comparison on the shared captures ---- */

enum {
    C_FRAME,
    C_STREAM,
    C_METHOD,
    C_URI,
    C_REQVER,
    C_HOST,
    C_UA,
    C_REF,
    C_RESPVER,
    C_CODE,
    C_PHRASE,
    C_CTYPE,
    C_CLEN,
    C_TE,
    C_CENC,
    C_CHUNKS,
    C_N
};

struct row {
    unsigned frame;
    const char *col[C_N];
};

struct tsv {
    char *buf;
    struct row *r;
    size_t n;
};

static void tsv_load(struct tsv *t, const char *capture)
{
    char rel[512];
    size_t cap = 0;
    char *line, *save = NULL;

    snprintf(rel, sizeof rel, "tests/expected/%s.http.tsv", capture);
    t->buf = pt_test_slurp(pt_test_src(rel), NULL);
    cr_assert_not_null(t->buf, "cannot read %s", rel);
    t->r = NULL;
    t->n = 0;
    line = strtok_r(t->buf, "\n", &save); /* the header row */
    cr_assert_not_null(line);
    cr_assert(strncmp(line, "frame.number\ttcp.stream\thttp.request.method", 42) == 0);
    while ((line = strtok_r(NULL, "\n", &save))) {
        struct row *r;
        char *p = line;

        if (t->n == cap) {
            cap = cap ? 2 * cap : 64;
            t->r = realloc(t->r, cap * sizeof *t->r);
            cr_assert_not_null(t->r);
        }
        r = &t->r[t->n++];
        for (unsigned c = 0; c < C_N; c++) {
            char *tab = strchr(p, '\t');
            r->col[c] = p;
            if (tab) {
                *tab = '\0';
                p = tab + 1;
            } else {
                cr_assert_eq(c, C_N - 1, "%s: short row", rel);
            }
        }
        r->frame = (unsigned)strtoul(r->col[C_FRAME], NULL, 10);
    }
}

struct cap_run {
    struct pt_test_conns c;
    struct pt_http_stats st;
    struct txlist *tx; /* per connection */
    int *last;         /* last status per connection */
    size_t nframes;
    int *frame_conn;   /* frame number -> connection index, -1 */
    size_t keepalives; /* keep-alive probes skipped */
};

static void seg_feed(struct pt_http_state *s, unsigned dir, const struct pt_test_seg *g,
                     uint64_t *next, struct txlist *l, int *rc)
{
    if (*rc != PT_HTTP_OK)
        return;
    if (g->off > *next)
        *rc = pt_http_gap(s, dir, g->off - *next, collect, l);
    if (*rc != PT_HTTP_OK)
        return;
    uint8_t *c = malloc(g->len ? g->len : 1);
    cr_assert_not_null(c);
    memcpy(c, g->data, g->len);
    *rc = pt_http_feed(s, dir, g->ts_ns, c, g->len, collect, l);
    free(c);
    *next = g->off + g->len;
}

/* Feed every TCP connection of @rel, both directions merged in frame order.
 * The client is direction 0 unless the originator's first bytes are a status
 * line (a capture that starts mid-connection). */
static void run_capture(struct cap_run *r, const char *rel)
{
    pt_test_conns_load(&r->c, rel);
    pt_http_stats_init(&r->st);
    r->keepalives = 0;
    r->tx = calloc(r->c.n, sizeof *r->tx);
    r->last = calloc(r->c.n, sizeof *r->last);
    cr_assert(r->tx && r->last);
    r->nframes = 0;
    for (size_t k = 0; k < r->c.n; k++)
        for (unsigned d = 0; d < 2; d++)
            for (size_t i = 0; i < r->c.conn[k].n_seg[d]; i++)
                if (r->c.conn[k].seg[d][i].frame >= r->nframes)
                    r->nframes = r->c.conn[k].seg[d][i].frame + 1;
    r->frame_conn = malloc((r->nframes + 1) * sizeof *r->frame_conn);
    cr_assert_not_null(r->frame_conn);
    for (size_t i = 0; i <= r->nframes; i++)
        r->frame_conn[i] = -1;

    for (size_t k = 0; k < r->c.n; k++) {
        const struct pt_test_conn *cn = &r->c.conn[k];
        struct pt_http_state *s;
        size_t i[2] = {0, 0};
        uint64_t next[2] = {0, 0};
        unsigned client = 0;
        int rc = PT_HTTP_OK;

        for (unsigned d = 0; d < 2; d++)
            for (size_t j = 0; j < cn->n_seg[d]; j++)
                r->frame_conn[cn->seg[d][j].frame] = (int)k;
        if (cn->proto != 6)
            continue;
        /* A connection caught without its SYN (first offset 0) may start with a
         * keep-alive probe: one old byte just before the next segment. tshark
         * ignores it (tcp.analysis.keep_alive); so does this harness. */
        for (unsigned d = 0; d < 2; d++)
            if (cn->n_seg[d] > 1 && cn->seg[d][0].off == 0 && cn->seg[d][0].len == 1 &&
                cn->seg[d][1].off == 1) {
                i[d] = 1;
                r->keepalives++;
            }
        if (cn->n_seg[0] > i[0] && cn->seg[0][i[0]].len >= 5 &&
            memcmp(cn->seg[0][i[0]].data, "HTTP/", 5) == 0)
            client = 1;
        for (unsigned d = 0; d < 2; d++)
            if (cn->n_seg[d] > i[d])
                next[d] = cn->seg[d][i[d]].off;
        s = malloc(sizeof *s);
        cr_assert_not_null(s);
        pt_http_init(s, &r->st);
        while (i[0] < cn->n_seg[0] || i[1] < cn->n_seg[1]) {
            unsigned d;
            if (i[0] >= cn->n_seg[0])
                d = 1;
            else if (i[1] >= cn->n_seg[1])
                d = 0;
            else
                d = cn->seg[0][i[0]].frame < cn->seg[1][i[1]].frame ? 0 : 1;
            seg_feed(s, d == client ? 0 : 1, &cn->seg[d][i[d]], &next[d], &r->tx[k], &rc);
            i[d]++;
        }
        pt_http_flush(s, collect, &r->tx[k]);
        r->last[k] = rc;
        free(s);
    }
}

static void run_free(struct cap_run *r)
{
    for (size_t k = 0; k < r->c.n; k++)
        free(r->tx[k].v);
    free(r->tx);
    free(r->last);
    free(r->frame_conn);
    pt_test_conns_free(&r->c);
}

/* Our value @v/@n (cut when @cut) against tshark's @exp. tshark joins the
 * values of a repeated header with ','; we keep the first. */
static bool same(const char *v, size_t n, bool cut, const char *exp)
{
    size_t e = strlen(exp);

    if (cut)
        return e >= n && memcmp(exp, v, n) == 0;
    if (e == n && memcmp(exp, v, n) == 0)
        return true;
    return e > n && memcmp(exp, v, n) == 0 && exp[n] == ',';
}

#define expect_same(what, v, n, cut, exp, frame)                                                   \
    cr_expect(same((v), (n), (cut), (exp)), "%s frame %u: ours '%.*s', tshark '%s'", (what),       \
              (frame), (int)(n), (v), (exp))

static void cmp_request(const struct pt_http_req *q, const struct row *w)
{
    char ver[PT_HTTP_VERSION_MAX + 8];

    expect_same("method", q->method, q->method_len, q->trunc & PT_HTTP_F_METHOD, w->col[C_METHOD],
                w->frame);
    expect_same("uri", q->uri, q->uri_len, q->trunc & PT_HTTP_F_URI, w->col[C_URI], w->frame);
    snprintf(ver, sizeof ver, "HTTP/%s", q->version);
    if (strcmp(q->version, "0.9") == 0)
        ver[0] = '\0'; /* tshark shows no version for a simple request */
    if (q->version_len || !(q->trunc & PT_HTTP_F_URI)) /* else lost with the cut line */
        expect_same("version", ver, strlen(ver), false, w->col[C_REQVER], w->frame);
    expect_same("host", q->host, q->host_len, q->trunc & PT_HTTP_F_HOST, w->col[C_HOST], w->frame);
    expect_same("user_agent", q->user_agent, q->user_agent_len, q->trunc & PT_HTTP_F_USER_AGENT,
                w->col[C_UA], w->frame);
    expect_same("referrer", q->referrer, q->referrer_len, q->trunc & PT_HTTP_F_REFERRER,
                w->col[C_REF], w->frame);
    expect_same("request ctype", q->ctype, q->ctype_len, q->trunc & PT_HTTP_F_REQ_CTYPE,
                w->col[C_CTYPE], w->frame);
    if (*w->col[C_CLEN] && !(q->flags & PT_HTTP_TX_REQ_CHUNK) && (q->flags & PT_HTTP_TX_REQ_DONE))
        cr_expect_eq(q->body_len, strtoull(w->col[C_CLEN], NULL, 10),
                     "request_body_len frame %u: %llu vs Content-Length %s", w->frame,
                     (unsigned long long)q->body_len, w->col[C_CLEN]);
}

static uint64_t chunk_sum(const char *list)
{
    uint64_t sum = 0;

    for (const char *p = list; *p;) {
        char *end;
        sum += strtoull(p, &end, 10);
        p = *end == ',' ? end + 1 : end;
        if (end == p && *p)
            break;
    }
    return sum;
}

/* Is the body of @x framed by its Content-Length? */
static bool framed_by_cl(const struct pt_http_txn *x)
{
    unsigned code = x->resp.status_code;

    return (x->resp.flags & PT_HTTP_TX_RESP_DONE) &&
           !(x->resp.flags & (PT_HTTP_TX_RESP_CHUNK | PT_HTTP_TX_RESP_CLOSE)) && code != 204 &&
           code != 304 && !(x->req.method_len == 4 && memcmp(x->req.method, "HEAD", 4) == 0);
}

static void cmp_response(const struct pt_http_txn *t, const struct row *w)
{
    const struct pt_http_resp *a = &t->resp;
    char ver[PT_HTTP_VERSION_MAX + 8];
    unsigned code = (unsigned)strtoul(w->col[C_CODE], NULL, 10);

    cr_expect_eq(a->status_code, code, "status frame %u: %u vs %u", w->frame, a->status_code, code);
    snprintf(ver, sizeof ver, "HTTP/%s", a->version);
    expect_same("resp version", ver, strlen(ver), false, w->col[C_RESPVER], w->frame);
    expect_same("status_msg", a->status_msg, a->status_msg_len, a->trunc & PT_HTTP_F_STATUS_MSG,
                w->col[C_PHRASE], w->frame);
    expect_same("resp ctype", a->ctype, a->ctype_len, a->trunc & PT_HTTP_F_RESP_CTYPE,
                w->col[C_CTYPE], w->frame);
    cr_expect_eq(!!(a->flags & PT_HTTP_TX_RESP_ENCODED), !!*w->col[C_CENC],
                 "content-encoding flag frame %u", w->frame);
    if (!(a->flags & PT_HTTP_TX_RESP_DONE))
        return;
    if (a->flags & PT_HTTP_TX_RESP_CHUNK) {
        cr_expect_eq(a->body_len, chunk_sum(w->col[C_CHUNKS]),
                     "chunked body frame %u: %llu vs chunks %s", w->frame,
                     (unsigned long long)a->body_len, w->col[C_CHUNKS]);
    } else if (*w->col[C_CLEN] && framed_by_cl(t)) {
        cr_expect_eq(a->body_len, strtoull(w->col[C_CLEN], NULL, 10),
                     "response_body_len frame %u: %llu vs Content-Length %s", w->frame,
                     (unsigned long long)a->body_len, w->col[C_CLEN]);
    }
}

/* Is tshark row @w a copy of an earlier row? tshark dissects a fully
 * retransmitted segment again; the stream loader drops it. */
static bool dup_row(const struct tsv *t, size_t w)
{
    for (size_t o = 0; o < w; o++) {
        bool eq = true;
        for (unsigned c = C_METHOD; c < C_N && eq; c++)
            eq = strcmp(t->r[o].col[c], t->r[w].col[c]) == 0;
        if (eq)
            return true;
    }
    return false;
}

static bool req_key(const struct pt_http_txn *x, const struct row *w)
{
    return (x->flags & PT_HTTP_TX_REQUEST) &&
           same(x->req.method, x->req.method_len, false, w->col[C_METHOD]) &&
           same(x->req.uri, x->req.uri_len, x->req.trunc & PT_HTTP_F_URI, w->col[C_URI]);
}

static bool resp_key(const struct pt_http_txn *x, const struct row *w)
{
    if (!(x->flags & PT_HTTP_TX_RESPONSE) ||
        x->resp.status_code != strtoul(w->col[C_CODE], NULL, 10) ||
        !same(x->resp.ctype, x->resp.ctype_len, x->resp.trunc & PT_HTTP_F_RESP_CTYPE,
              w->col[C_CTYPE]))
        return false;
    return !*w->col[C_CLEN] || !framed_by_cl(x) ||
           x->resp.body_len == strtoull(w->col[C_CLEN], NULL, 10);
}

struct vs_result {
    size_t compared;      /* tshark messages found among ours and compared field by field */
    size_t tshark_missed; /* our complete messages tshark does not show (its reassembly gave up) */
    size_t retrans_rows;  /* tshark rows on retransmitted frames, copies of earlier rows */
    size_t unfinished;    /* our responses whose body never ended (tshark shows none) */
    size_t udp_rows;      /* HTTP over UDP (SSDP): not this parser's job */
    size_t keepalives;    /* keep-alive probes the harness skipped */
    size_t interim_rows;  /* 1xx responses (our info_code) */
};

/* Find the tshark message @w among ours from *@at on (at most 4 ahead: what
 * we skip, tshark missed). */
static const struct pt_http_txn *align(const struct txlist *l, size_t *at, const struct row *w,
                                       bool req, struct vs_result *res)
{
    uint16_t want = req ? PT_HTTP_TX_REQUEST : PT_HTTP_TX_RESPONSE;

    for (size_t i = *at, seen = 0; i < l->n && seen < 5; i++) {
        const struct pt_http_txn *x = &l->v[i];
        if (!(x->flags & want))
            continue;
        if (req ? req_key(x, w) : resp_key(x, w)) {
            for (size_t j = *at; j < i; j++)
                if (l->v[j].flags & want)
                    res->tshark_missed++;
            *at = i + 1;
            return x;
        }
        seen++;
    }
    return NULL;
}

/* Run @capture (path under pcap/) and compare with tshark. */
static struct vs_result vs_tshark(const char *capture)
{
    char rel[512];
    struct cap_run r;
    struct tsv t;
    struct vs_result res = {0};
    size_t rows_seen = 0;

    snprintf(rel, sizeof rel, "pcap/%s", capture);
    run_capture(&r, rel);
    tsv_load(&t, capture);
    for (size_t w = 0; w < t.n; w++) {
        if (t.r[w].frame < r.nframes && r.frame_conn[t.r[w].frame] >= 0)
            continue;
        cr_expect(dup_row(&t, w), "%s: tshark frame %u is in no loaded segment", capture,
                  t.r[w].frame);
        res.retrans_rows++;
        rows_seen++;
    }

    for (size_t k = 0; k < r.c.n; k++) {
        const struct txlist *l = &r.tx[k];
        size_t qi = 0, ai = 0; /* next of our transactions to look at for a request / response */

        for (size_t w = 0; w < t.n; w++) {
            const struct row *row = &t.r[w];
            const struct pt_http_txn *x;
            if (row->frame >= r.nframes || r.frame_conn[row->frame] != (int)k)
                continue;
            rows_seen++;
            if (r.c.conn[k].proto != 6) {
                res.udp_rows++;
                continue;
            }
            if (*row->col[C_METHOD]) {
                x = align(l, &qi, row, true, &res);
                cr_expect_not_null(x, "%s frame %u: request %s not found", capture, row->frame,
                                   row->col[C_URI]);
                if (x) {
                    cmp_request(&x->req, row);
                    res.compared++;
                }
            } else if (*row->col[C_CODE]) {
                unsigned code = (unsigned)strtoul(row->col[C_CODE], NULL, 10);
                if (code / 100 == 1 && code != 101) {
                    res.interim_rows++; /* only info_code keeps it */
                    continue;
                }
                x = align(l, &ai, row, false, &res);
                cr_expect_not_null(x, "%s frame %u: response %u not found", capture, row->frame,
                                   code);
                if (x) {
                    cmp_response(x, row);
                    res.compared++;
                }
            }
        }
        for (; qi < l->n; qi++)
            if (l->v[qi].flags & PT_HTTP_TX_REQUEST)
                res.tshark_missed++;
        for (; ai < l->n; ai++) {
            if (!(l->v[ai].flags & PT_HTTP_TX_RESPONSE))
                continue;
            if (l->v[ai].flags & PT_HTTP_TX_RESP_DONE)
                res.tshark_missed++;
            else
                res.unfinished++;
        }
    }
    cr_expect_eq(rows_seen, t.n, "%s: %zu of %zu tshark rows matched a connection", capture,
                 rows_seen, t.n);
    res.keepalives = r.keepalives;
    free(t.r);
    free(t.buf);
    run_free(&r);
    return res;
}

#define expect_vs(cap, n_compared, n_missed, n_retrans, n_unfinished, n_udp, n_keepalive)          \
    do {                                                                                           \
        struct vs_result r_ = vs_tshark(cap);                                                      \
        cr_expect_eq(r_.udp_rows, (n_udp), "%s: UDP rows %zu", (cap), r_.udp_rows);                \
        cr_expect_eq(r_.keepalives, (n_keepalive), "%s: keep-alives %zu", (cap), r_.keepalives);   \
        cr_expect_eq(r_.compared, (n_compared), "%s: compared %zu", (cap), r_.compared);           \
        cr_expect_eq(r_.tshark_missed, (n_missed), "%s: tshark missed %zu", (cap),                 \
                     r_.tshark_missed);                                                            \
        cr_expect_eq(r_.retrans_rows, (n_retrans), "%s: retransmitted rows %zu", (cap),            \
                     r_.retrans_rows);                                                             \
        cr_expect_eq(r_.unfinished, (n_unfinished), "%s: unfinished %zu", (cap), r_.unfinished);   \
    } while (0)

Test(http_tshark, pipelined_requests)
{
    expect_vs("http/zeek_pipelined-requests.pcap", 10, 0, 0, 0, 0, 0);
}

Test(http_tshark, simple_get)
{
    expect_vs("http/arkime_http-simple-get.pcap", 2, 0, 0, 0, 0, 0);
}

/* one segment: a response seen without its connection's start */
Test(http_tshark, xml_response_midstream)
{
    expect_vs("http/tcpdump_ipv4_tcp_http_xml.pcap", 1, 0, 0, 0, 0, 0);
}

Test(http_tshark, ipv6)
{
    expect_vs("ipv6/arkime_v6-http.pcap", 2, 0, 0, 0, 0, 0);
}

Test(http_tshark, wikipedia)
{
    expect_vs("mixed/zeek_wikipedia.pcap", 30, 0, 0, 0, 0, 0);
}

/* 111 rows are SSDP (HTTP over UDP); 7 responses never finish in the capture
 * (tshark shows a response only once its body is complete) */
Test(http_tshark, ndpi_1kxun)
{
    expect_vs("mixed/ndpi_1kxun.pcap", 247, 0, 0, 7, 111, 0);
}

/* 14 SSDP rows; one connection caught without SYN starts with a keep-alive
 * probe; 5 complete responses tshark never shows: its reassembly stalls where
 * lost segments come back as retransmissions out of order (e.g. frame 1254,
 * "HTTP/1.1 200 OK [TCP segment of a reassembled PDU]", never completed),
 * while the stream loader orders segments by sequence number */
Test(http_tshark, bench_merged, .timeout = 60)
{
    expect_vs("bench/mixed_merged_pcapplusplus.pcap", 979, 5, 0, 0, 14, 1);
}

/* tshark shows the two fully retransmitted responses a second time */
Test(http_tshark, retransmissions)
{
    expect_vs("tcp/arkime_wireshark-retrans.pcap", 8, 0, 2, 0, 0, 0);
}

Test(http_tshark, handshake_reorder)
{
    expect_vs("tcp/zeek_handshake-reorder.pcap", 2, 0, 0, 0, 0, 0);
}

Test(http_tshark, missing_syn)
{
    expect_vs("tcp/zeek_missing-syn.pcap", 2, 0, 0, 0, 0, 0);
}

Test(http_tshark, vlan)
{
    expect_vs("vlan/arkime_twovlan.pcap", 1, 0, 0, 1, 0, 0); /* capture ends mid-body */
    expect_vs("vlan/zeek_mixed-vlan-mpls.pcap", 3, 0, 0, 0, 0, 0);
    expect_vs("vlan/zeek_vlan-qinqinq.pcap", 2, 0, 0, 0, 0, 0);
}

/* ---- crafted streams ---- */

struct fx {
    struct pt_http_state *s;
    struct pt_http_stats st;
    struct txlist l;
};

static void fx_init(struct fx *f)
{
    memset(f, 0, sizeof *f);
    f->s = malloc(sizeof *f->s);
    cr_assert_not_null(f->s);
    pt_http_stats_init(&f->st);
    pt_http_init(f->s, &f->st);
}

static void fx_fini(struct fx *f)
{
    free(f->s);
    free(f->l.v);
}

static uint64_t err(const struct fx *f, enum pt_http_err e)
{
    return f->st.err[e];
}

static const char REQ[] = "GET /a/b?c=d HTTP/1.1\r\n"
                          "Host: example.org:8080\r\n"
                          "User-Agent: test/1.0 (x, y)\r\n"
                          "Referer: http://example.org/\r\n"
                          "Accept: */*\r\n"
                          "\r\n";
static const char RESP[] = "HTTP/1.1 200 OK\r\n"
                           "Content-Type: text/html; charset=utf-8\r\n"
                           "Content-Length: 5\r\n"
                           "\r\n"
                           "hello";

static void check_basic(const struct pt_http_txn *t)
{
    expect_str(t->req.method, "GET");
    expect_str(t->req.uri, "/a/b?c=d");
    expect_str(t->req.version, "1.1");
    expect_str(t->req.host, "example.org:8080");
    expect_str(t->req.user_agent, "test/1.0 (x, y)");
    expect_str(t->req.referrer, "http://example.org/");
    expect_str(t->resp.version, "1.1");
    expect_str(t->resp.status_msg, "OK");
    expect_str(t->resp.ctype, "text/html; charset=utf-8");
    cr_expect_eq(t->req.trans_depth, 1);
    cr_expect_eq(t->resp.status_code, 200);
    cr_expect_eq(t->resp.body_len, 5);
    cr_expect_eq(t->req.body_len, 0);
    cr_expect_eq(t->flags, PT_HTTP_TX_REQUEST | PT_HTTP_TX_REQ_DONE | PT_HTTP_TX_RESPONSE |
                               PT_HTTP_TX_RESP_DONE);
    cr_expect_eq(t->trunc, 0);
}

Test(http_crafted, whole)
{
    struct fx f;

    fx_init(&f);
    cr_assert_eq(feed_str(f.s, 0, REQ, &f.l), PT_HTTP_OK);
    cr_assert_eq(f.l.n, 0, "nothing before the response");
    cr_assert_eq(feed_str(f.s, 1, RESP, &f.l), PT_HTTP_OK);
    cr_assert_eq(f.l.n, 1);
    check_basic(&f.l.v[0]);
    cr_expect_eq(f.l.v[0].req.ts_ns, 1000);
    cr_expect_eq(f.l.v[0].resp.ts_ns, 1001);
    cr_expect_eq(pt_http_flush(f.s, collect, &f.l), 0);
    for (unsigned e = 0; e < PT_HTTP_ERR_MAX; e++)
        cr_expect_eq(f.st.err[e], 0, "%s counted", pt_http_err_name(e));
    cr_expect_eq(f.st.txns, 1);
    cr_expect_eq(f.st.requests, 1);
    cr_expect_eq(f.st.responses, 1);
    cr_expect_eq(feed_str(f.s, 0, REQ, &f.l), PT_HTTP_STOP, "finished after flush");
    fx_fini(&f);
}

/* The request and the response split in two at every byte position, and fed
 * one byte at a time. */
Test(http_crafted, split_at_every_byte)
{
    size_t nq = strlen(REQ), na = strlen(RESP);

    for (size_t i = 0; i <= nq + na; i++) {
        struct fx f;

        fx_init(&f);
        if (i <= nq) {
            feed(f.s, 0, REQ, i, &f.l);
            feed(f.s, 0, REQ + i, nq - i, &f.l);
            feed(f.s, 1, RESP, na, &f.l);
        } else {
            feed(f.s, 0, REQ, nq, &f.l);
            feed(f.s, 1, RESP, i - nq, &f.l);
            feed(f.s, 1, RESP + i - nq, na - (i - nq), &f.l);
        }
        cr_assert_eq(f.l.n, 1, "split at %zu", i);
        check_basic(&f.l.v[0]);
        fx_fini(&f);
    }
    struct fx f;
    fx_init(&f);
    for (size_t i = 0; i < nq; i++)
        cr_assert_eq(feed(f.s, 0, REQ + i, 1, &f.l), PT_HTTP_OK);
    for (size_t i = 0; i < na; i++)
        cr_assert_eq(feed(f.s, 1, RESP + i, 1, &f.l), PT_HTTP_OK);
    cr_assert_eq(f.l.n, 1);
    check_basic(&f.l.v[0]);
    fx_fini(&f);
}

Test(http_crafted, folded_and_case_insensitive)
{
    struct fx f;

    fx_init(&f);
    feed_str(f.s, 0,
             "GET / HTTP/1.0\r\nhOsT:   a.example  \r\nuser-AGENT: one\r\n \t two\r\n"
             "X-Other: z\r\n  folded other\r\nREFERER:r\r\n\r\n",
             &f.l);
    feed_str(f.s, 1, "HTTP/1.0 404 Not Found\r\ncontent-length: 0\r\n\r\n", &f.l);
    cr_assert_eq(f.l.n, 1);
    expect_str(f.l.v[0].req.host, "a.example");
    expect_str(f.l.v[0].req.user_agent, "one two");
    expect_str(f.l.v[0].req.referrer, "r");
    expect_str(f.l.v[0].req.version, "1.0");
    expect_str(f.l.v[0].resp.status_msg, "Not Found");
    cr_expect_eq(f.l.v[0].resp.status_code, 404);
    cr_expect_eq(err(&f, PT_HTTP_ERR_OBS_FOLD), 2);
    fx_fini(&f);
}

Test(http_crafted, pipelining)
{
    struct fx f;

    fx_init(&f);
    feed_str(f.s, 0,
             "GET /1 HTTP/1.1\r\nHost: h\r\n\r\nHEAD /2 HTTP/1.1\r\nHost: h\r\n\r\n"
             "POST /3 HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Type: a/b\r\n\r\nxyz",
             &f.l);
    cr_assert_eq(f.l.n, 0);
    feed_str(f.s, 1,
             "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nab"
             "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" /* HEAD: no body */
             "HTTP/1.1 201 Created\r\nContent-Length: 1\r\n\r\nc",
             &f.l);
    cr_assert_eq(f.l.n, 3);
    for (unsigned i = 0; i < 3; i++) {
        char uri[4];
        snprintf(uri, sizeof uri, "/%u", i + 1);
        expect_str(f.l.v[i].req.uri, uri);
        cr_expect_eq(f.l.v[i].req.trans_depth, i + 1);
    }
    expect_str(f.l.v[1].req.method, "HEAD");
    cr_expect_eq(f.l.v[0].resp.body_len, 2);
    cr_expect_eq(f.l.v[1].resp.body_len, 0);
    cr_expect_eq(f.l.v[2].resp.body_len, 1);
    cr_expect_eq(f.l.v[2].req.body_len, 3);
    expect_str(f.l.v[2].req.ctype, "a/b");
    cr_expect_eq(f.l.v[2].resp.status_code, 201);
    fx_fini(&f);
}

Test(http_crafted, pipeline_overflow)
{
    struct fx f;

    fx_init(&f);
    for (unsigned i = 0; i < PT_HTTP_PIPELINE + 2; i++)
        cr_assert_eq(feed_str(f.s, 0, "GET /x HTTP/1.1\r\n\r\n", &f.l), PT_HTTP_OK);
    cr_expect_eq(err(&f, PT_HTTP_ERR_PIPELINE_OVERFLOW), 2);
    cr_expect_eq(pt_http_flush(f.s, collect, &f.l), PT_HTTP_PIPELINE);
    cr_expect_eq(err(&f, PT_HTTP_ERR_NO_RESPONSE), PT_HTTP_PIPELINE);
    cr_assert_eq(f.l.n, PT_HTTP_PIPELINE);
    cr_expect_eq(f.l.v[PT_HTTP_PIPELINE - 1].req.trans_depth, PT_HTTP_PIPELINE);
    cr_expect_eq(f.l.v[0].flags, PT_HTTP_TX_REQUEST | PT_HTTP_TX_REQ_DONE);
    fx_fini(&f);
}

Test(http_crafted, continue_100)
{
    struct fx f;

    fx_init(&f);
    feed_str(f.s, 0, "PUT /up HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n", &f.l);
    feed_str(f.s, 1, "HTTP/1.1 100 Continue\r\nX: y\r\n\r\n", &f.l);
    cr_assert_eq(f.l.n, 0, "an interim response does not complete the transaction");
    feed_str(f.s, 0, "data", &f.l);
    feed_str(f.s, 1, "HTTP/1.1 204 No Content\r\nContent-Type: x/y\r\n\r\n", &f.l);
    cr_assert_eq(f.l.n, 1);
    cr_expect_eq(f.l.v[0].resp.info_code, 100);
    expect_str(f.l.v[0].resp.info_msg, "Continue");
    cr_expect_eq(f.l.v[0].resp.status_code, 204);
    expect_str(f.l.v[0].resp.ctype, "x/y");
    cr_expect_eq(f.l.v[0].req.body_len, 4);
    cr_expect_eq(f.l.v[0].resp.body_len, 0);
    fx_fini(&f);
}

Test(http_crafted, chunked_extensions_trailers)
{
    static const char r[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n"
                            "5;name=value\r\nhello\r\n"
                            "6 ; a=\"b;c\"\r\n world\r\n"
                            "A\r\n0123456789\r\n"
                            "0;last\r\nTrailer-One: 1\r\nTrailer-Two: 2\r\n\r\n"
                            "HTTP/1.1 304 Not Modified\r\n\r\n";
    size_t n = strlen(r);

    for (size_t cut = 0; cut <= n; cut++) {
        struct fx f;

        fx_init(&f);
        feed_str(f.s, 0, "GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\n", &f.l);
        feed(f.s, 1, r, cut, &f.l);
        feed(f.s, 1, r + cut, n - cut, &f.l);
        cr_assert_eq(f.l.n, 2, "cut %zu", cut);
        cr_expect_eq(f.l.v[0].resp.body_len, 21, "cut %zu", cut);
        cr_expect(f.l.v[0].flags & PT_HTTP_TX_RESP_CHUNK);
        cr_expect(f.l.v[0].flags & PT_HTTP_TX_RESP_DONE);
        cr_expect_eq(f.l.v[1].resp.status_code, 304);
        for (unsigned e = 0; e < PT_HTTP_ERR_MAX; e++)
            cr_expect_eq(f.st.err[e], 0, "%s counted", pt_http_err_name(e));
        fx_fini(&f);
    }
}

Test(http_crafted, chunked_request_and_te_with_cl)
{
    struct fx f;

    fx_init(&f);
    feed_str(f.s, 0,
             "POST / HTTP/1.1\r\nContent-Length: 99\r\nTransfer-Encoding: chunked\r\n\r\n"
             "3\r\nabc\r\n0\r\n\r\nGET /next HTTP/1.1\r\n\r\n",
             &f.l);
    feed_str(
        f.s, 1,
        "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
        &f.l);
    cr_assert_eq(f.l.n, 2);
    cr_expect_eq(f.l.v[0].req.body_len, 3);
    cr_expect(f.l.v[0].flags & PT_HTTP_TX_REQ_CHUNK);
    expect_str(f.l.v[1].req.uri, "/next");
    cr_expect_eq(err(&f, PT_HTTP_ERR_TE_AND_CL), 1);
    fx_fini(&f);
}

Test(http_crafted, bad_chunks)
{
    struct fx f;

    fx_init(&f);
    feed_str(f.s, 0, "GET / HTTP/1.1\r\n\r\n", &f.l);
    cr_assert_eq(feed_str(f.s, 1,
                          "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                          "3\r\nabcXYZ\r\n",
                          &f.l),
                 PT_HTTP_OK);
    cr_expect_eq(err(&f, PT_HTTP_ERR_BAD_CHUNK_END), 1, "missing CRLF after chunk data");
    cr_expect_eq(err(&f, PT_HTTP_ERR_BAD_CHUNK_SIZE), 1, "XYZ is no chunk size");
    cr_expect_eq(err(&f, PT_HTTP_ERR_DESYNC), 1);
    cr_expect_eq(feed_str(f.s, 1, "more body\r\n", &f.l), PT_HTTP_OK, "client still alive");
    cr_expect_eq(f.l.n, 0);
    pt_http_flush(f.s, collect, &f.l);
    cr_assert_eq(f.l.n, 1);
    cr_expect_eq(f.l.v[0].resp.body_len, 3);
    cr_expect_not(f.l.v[0].flags & PT_HTTP_TX_RESP_DONE);
    fx_fini(&f);

    fx_init(&f);
    feed_str(f.s, 0, "GET / HTTP/1.1\r\n\r\n", &f.l);
    feed_str(f.s, 1, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFFF\r\n",
             &f.l);
    cr_expect_eq(err(&f, PT_HTTP_ERR_BAD_CHUNK_SIZE), 1, "chunk size overflow");
    fx_fini(&f);
}

/* Content-Length larger than what follows: the body swallows the rest and
 * ends at flush, not done; smaller: the extra bytes break the next status
 * line. */
Test(http_crafted, lying_content_length)
{
    struct fx f;

    fx_init(&f);
    feed_str(f.s, 0, "GET / HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\n", &f.l);
    feed_str(f.s, 1, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort", &f.l);
    feed_str(f.s, 1, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", &f.l);
    cr_expect_eq(f.l.n, 0);
    cr_expect_eq(pt_http_flush(f.s, collect, &f.l), 2);
    cr_assert_eq(f.l.n, 2);
    cr_expect_eq(f.l.v[0].resp.body_len, 5 + 38);
    cr_expect_not(f.l.v[0].flags & PT_HTTP_TX_RESP_DONE);
    cr_expect_not(f.l.v[1].flags & PT_HTTP_TX_RESPONSE);
    fx_fini(&f);

    fx_init(&f);
    feed_str(f.s, 0, "GET / HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\n", &f.l);
    feed_str(f.s, 1, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nlonger body\r\n", &f.l);
    cr_assert_eq(f.l.n, 1);
    cr_expect_eq(f.l.v[0].resp.body_len, 2);
    cr_expect_eq(err(&f, PT_HTTP_ERR_BAD_STATUS_LINE), 1);
    cr_expect_eq(err(&f, PT_HTTP_ERR_DESYNC), 1);
    fx_fini(&f);

    fx_init(&f);
    feed_str(f.s, 0, "GET / HTTP/1.1\r\n\r\n", &f.l);
    feed_str(f.s, 1,
             "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\nContent-Length: 1x\r\n"
             "Content-Length: 3\r\nContent-Length: 4\r\n\r\nabc",
             &f.l);
    cr_expect_eq(err(&f, PT_HTTP_ERR_BAD_CONTENT_LENGTH), 2);
    cr_expect_eq(err(&f, PT_HTTP_ERR_CL_CONFLICT), 1);
    cr_assert_eq(f.l.n, 1, "the first valid length (3) frames the body");
    cr_expect_eq(f.l.v[0].resp.body_len, 3);
    fx_fini(&f);
}

Test(http_crafted, bare_lf_and_missing_crlf)
{
    struct fx f;

    fx_init(&f);
    feed_str(f.s, 0, "GET /lf HTTP/1.1\nHost: h\n\n", &f.l);
    feed_str(f.s, 1, "HTTP/1.1 200 OK\nContent-Length: 1\n\nx", &f.l);
    cr_assert_eq(f.l.n, 1);
    expect_str(f.l.v[0].req.host, "h");
    cr_expect_eq(err(&f, PT_HTTP_ERR_BARE_LF), 6);
    /* headers never ended: flushed as an unfinished response */
    feed_str(f.s, 0, "GET /2 HTTP/1.1\r\n\r\n", &f.l);
    feed_str(f.s, 1, "HTTP/1.1 500 Oops\r\nContent-Type: t", &f.l);
    cr_expect_eq(pt_http_flush(f.s, collect, &f.l), 1);
    cr_assert_eq(f.l.n, 2);
    cr_expect_eq(f.l.v[1].resp.status_code, 500);
    cr_expect_eq(f.l.v[1].resp.ctype_len, 0, "a line without its end is not used");
    cr_expect_not(f.l.v[1].flags & PT_HTTP_TX_RESP_DONE);
    fx_fini(&f);
}

Test(http_crafted, huge_header_line)
{
    struct fx f;
    size_t n = 3 * PT_HTTP_LINE_MAX;
    char *big = malloc(n + 64);

    cr_assert_not_null(big);
    fx_init(&f);
    feed_str(f.s, 0, "GET / HTTP/1.1\r\nUser-Agent: ", &f.l);
    memset(big, 'u', n);
    feed(f.s, 0, big, n, &f.l);
    feed_str(f.s, 0, "\r\nHost: after\r\n\r\n", &f.l);
    feed_str(f.s, 1, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", &f.l);
    cr_assert_eq(f.l.n, 1);
    cr_expect_eq(f.l.v[0].req.user_agent_len, PT_HTTP_UA_MAX - 1);
    cr_expect_eq(f.l.v[0].req.user_agent[PT_HTTP_UA_MAX - 1], '\0');
    cr_expect(f.l.v[0].trunc & PT_HTTP_F_USER_AGENT);
    expect_str(f.l.v[0].req.host, "after");
    cr_expect_eq(err(&f, PT_HTTP_ERR_LINE_TOO_LONG), 1);
    cr_expect_eq(err(&f, PT_HTTP_ERR_FIELD_TRUNC), 1);
    fx_fini(&f);

    /* a URI longer than the line buffer: the version is lost, the request kept */
    fx_init(&f);
    feed_str(f.s, 0, "GET /", &f.l);
    feed(f.s, 0, big, n, &f.l);
    feed_str(f.s, 0, " HTTP/1.1\r\nHost: h\r\n\r\n", &f.l);
    pt_http_flush(f.s, collect, &f.l);
    cr_assert_eq(f.l.n, 1);
    cr_expect_eq(f.l.v[0].req.uri_len, PT_HTTP_URI_MAX - 1);
    cr_expect_eq(f.l.v[0].req.uri[0], '/');
    cr_expect(f.l.v[0].trunc & PT_HTTP_F_URI);
    expect_str(f.l.v[0].req.host, "h");
    fx_fini(&f);
    free(big);
}

/* The same streams fed whole (a line that arrives in one piece is parsed
 * where it is) and one byte at a time (every line goes through the line
 * buffer) give the same transactions and counters, for lines either side of
 * the longest the buffer keeps (PT_HTTP_LINE_MAX - 1 bytes before the LF),
 * ended by CRLF or by a bare LF. */
Test(http_crafted, whole_lines_as_buffered)
{
    static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc";
    size_t cap = PT_HTTP_LINE_MAX + 256;
    char *req = malloc(cap);

    cr_assert_not_null(req);
    for (int crlf = 0; crlf < 2; crlf++) {
        for (size_t len = PT_HTTP_LINE_MAX - 4; len <= PT_HTTP_LINE_MAX + 2; len++) {
            /* "User-Agent: uuu...[\r]": len bytes before its LF */
            size_t ua = len - strlen("User-Agent: ") - (size_t)crlf;
            int n = snprintf(req, cap, "GET / HTTP/1.1\r\nUser-Agent: %*s%s\nHost: h\r\n\r\n",
                             (int)ua, "", crlf ? "\r" : "");
            cr_assert_lt((size_t)n, cap);
            memset(strstr(req, "User-Agent: ") + 12, 'u', ua);

            struct fx a, b;
            fx_init(&a);
            fx_init(&b);
            feed(a.s, 0, req, (size_t)n, &a.l);
            feed(a.s, 1, resp, strlen(resp), &a.l);
            for (int i = 0; i < n; i++)
                feed(b.s, 0, req + i, 1, &b.l);
            for (size_t i = 0; i < strlen(resp); i++)
                feed(b.s, 1, resp + i, 1, &b.l);
            cr_assert_eq(a.l.n, 1, "len %zu", len);
            cr_assert_eq(b.l.n, 1, "len %zu", len);
            cr_assert_eq(memcmp(&a.l.v[0], &b.l.v[0], sizeof a.l.v[0]), 0, "len %zu crlf %d", len,
                         crlf);
            cr_assert_eq(memcmp(&a.st, &b.st, sizeof a.st), 0, "len %zu crlf %d", len, crlf);
            expect_str(a.l.v[0].req.host, "h");
            cr_assert_eq(err(&a, PT_HTTP_ERR_LINE_TOO_LONG), len > PT_HTTP_LINE_MAX - 1, "len %zu",
                         len);
            cr_assert_eq(err(&a, PT_HTTP_ERR_BARE_LF), !crlf && len <= PT_HTTP_LINE_MAX - 1,
                         "len %zu crlf %d (a cut line is counted as too long only)", len, crlf);
            fx_fini(&a);
            fx_fini(&b);
        }
    }
    free(req);
}

Test(http_crafted, wire_bytes_kept)
{
    static const char req[] = "GET /\x00\xff HTTP/1.1\r\nHost: a\x00z\r\n\r\n";
    struct fx f;

    fx_init(&f);
    feed(f.s, 0, req, sizeof req - 1, &f.l);
    pt_http_flush(f.s, collect, &f.l);
    cr_assert_eq(f.l.n, 1);
    cr_expect_eq(f.l.v[0].req.uri_len, 3);
    cr_expect_arr_eq(f.l.v[0].req.uri, "/\x00\xff", 3);
    cr_expect_eq(f.l.v[0].req.host_len, 3);
    cr_expect_arr_eq(f.l.v[0].req.host, "a\x00z", 3);
    fx_fini(&f);
}

Test(http_crafted, not_http)
{
    static const uint8_t tls[] = {0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03};
    struct fx f;

    fx_init(&f);
    cr_expect_eq(feed(f.s, 0, tls, sizeof tls, &f.l), PT_HTTP_NOT_HTTP);
    cr_expect_eq(feed_str(f.s, 1, "HTTP/1.1 200 OK\r\n\r\n", &f.l), PT_HTTP_NOT_HTTP);
    cr_expect_eq(pt_http_flush(f.s, collect, &f.l), 0);
    cr_expect_eq(err(&f, PT_HTTP_ERR_NOT_HTTP), 1);
    fx_fini(&f);

    fx_init(&f); /* fails within the first partial line */
    cr_expect_eq(feed_str(f.s, 0, "SSH-2.0-Open", &f.l), PT_HTTP_NOT_HTTP);
    fx_fini(&f);
    fx_init(&f);
    cr_expect_eq(feed_str(f.s, 1, "220 mail ESMTP", &f.l), PT_HTTP_NOT_HTTP);
    fx_fini(&f);
    fx_init(&f);
    cr_expect_eq(feed_str(f.s, 0, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", &f.l), PT_HTTP_NOT_HTTP);
    fx_fini(&f);
    fx_init(&f); /* a whole line that is no request line */
    cr_expect_eq(feed_str(f.s, 0, "HELLO world\r\n", &f.l), PT_HTTP_NOT_HTTP);
    fx_fini(&f);
    fx_init(&f);
    cr_expect_eq(feed_str(f.s, 0, "\r\n\r\nGET", &f.l), PT_HTTP_OK, "leading CRLFs are fine");
    cr_expect_eq(feed_str(f.s, 1, "HTTP/1.1 200 OK\r\nContent-Length: x", &f.l), PT_HTTP_OK);
    fx_fini(&f);
}

Test(http_crafted, bodyless_and_close)
{
    struct fx f;

    fx_init(&f);
    feed_str(f.s, 0, "GET /a HTTP/1.0\r\n\r\n", &f.l);
    feed_str(f.s, 1, "HTTP/1.0 200 OK\r\n\r\nuntil", &f.l);
    feed_str(f.s, 1, " the end", &f.l);
    cr_expect_eq(pt_http_gap(f.s, 1, 10, collect, &f.l), PT_HTTP_OK);
    cr_assert_eq(f.l.n, 0);
    cr_expect_eq(pt_http_flush(f.s, collect, &f.l), 1);
    cr_assert_eq(f.l.n, 1);
    cr_expect_eq(f.l.v[0].resp.body_len, 23);
    cr_expect(f.l.v[0].flags & PT_HTTP_TX_RESP_CLOSE);
    cr_expect(f.l.v[0].flags & PT_HTTP_TX_RESP_DONE);
    cr_expect_eq(err(&f, PT_HTTP_ERR_NO_RESPONSE), 0);
    fx_fini(&f);
}

Test(http_crafted, tunnels)
{
    struct fx f;

    fx_init(&f);
    feed_str(f.s, 0, "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\n\r\n", &f.l);
    cr_expect_eq(feed_str(f.s, 1, "HTTP/1.1 101 Switching Protocols\r\n\r\n\x81\x05", &f.l),
                 PT_HTTP_STOP);
    cr_assert_eq(f.l.n, 1);
    cr_expect_eq(f.l.v[0].resp.status_code, 101);
    cr_expect(f.l.v[0].flags & PT_HTTP_TX_TUNNEL);
    cr_expect_eq(feed_str(f.s, 0, "\x81\x85", &f.l), PT_HTTP_STOP);
    fx_fini(&f);

    fx_init(&f);
    feed_str(f.s, 0, "CONNECT h:443 HTTP/1.1\r\n\r\n", &f.l);
    cr_expect_eq(feed_str(f.s, 1, "HTTP/1.1 200 Connection established\r\n\r\n", &f.l),
                 PT_HTTP_STOP);
    cr_assert_eq(f.l.n, 1);
    expect_str(f.l.v[0].req.uri, "h:443");
    fx_fini(&f);
}

Test(http_crafted, gaps_and_unmatched)
{
    struct fx f;

    fx_init(&f);
    feed_str(f.s, 0, "POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nab", &f.l);
    cr_expect_eq(pt_http_gap(f.s, 0, 5, collect, &f.l), PT_HTTP_OK);
    feed_str(f.s, 0, "cde", &f.l);
    cr_expect_eq(pt_http_gap(f.s, 0, 1, collect, &f.l), PT_HTTP_OK);
    cr_expect_eq(err(&f, PT_HTTP_ERR_GAP), 1, "a hole past the body end");
    feed_str(f.s, 1, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", &f.l);
    feed_str(f.s, 1, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", &f.l);
    cr_assert_eq(f.l.n, 2);
    cr_expect_eq(f.l.v[0].req.body_len, 10);
    cr_expect_not(f.l.v[1].flags & PT_HTTP_TX_REQUEST);
    cr_expect_eq(err(&f, PT_HTTP_ERR_UNMATCHED_RESPONSE), 1);
    cr_expect_eq(pt_http_gap(f.s, 1, 3, collect, &f.l), PT_HTTP_STOP, "both sides lost");
    fx_fini(&f);
}

Test(http_crafted, bad_arguments_and_names)
{
    struct fx f;

    fx_init(&f);
    cr_expect_eq(pt_http_feed(f.s, 2, 0, (const uint8_t *)"x", 1, NULL, NULL), -EINVAL);
    cr_expect_eq(pt_http_feed(f.s, 0, 0, NULL, 1, NULL, NULL), -EINVAL);
    cr_expect_eq(pt_http_feed(f.s, 0, 0, NULL, 0, NULL, NULL), PT_HTTP_OK);
    cr_expect_eq(pt_http_gap(f.s, 7, 1, NULL, NULL), -EINVAL);
    cr_expect_eq(f.st.flows, 1);
    fx_fini(&f);
    for (unsigned e = 0; e < PT_HTTP_ERR_MAX; e++) {
        cr_expect(strncmp(pt_http_err_name(e), "app.http.", 9) == 0);
        cr_expect_str_neq(pt_http_err_name(e), "app.http.unknown", "%u unnamed", e);
        for (unsigned o = 0; o < e; o++)
            cr_expect_str_neq(pt_http_err_name(e), pt_http_err_name(o));
    }
    cr_expect_str_eq(pt_http_err_name(PT_HTTP_ERR_MAX), "app.http.unknown");
    cr_expect_str_eq(pt_http_err_name(PT_HTTP_ERR_BAD_CHUNK_SIZE), "app.http.bad_chunk_size");

    struct pt_http_stats a, b;
    pt_http_stats_init(&a);
    pt_http_stats_init(&b);
    b.txns = 3;
    b.err[PT_HTTP_ERR_GAP] = 2;
    pt_http_stats_merge(&a, &b);
    pt_http_stats_merge(&a, &b);
    cr_expect_eq(a.txns, 6);
    cr_expect_eq(a.err[PT_HTTP_ERR_GAP], 4);
}

/* ---- other projects' answers for the same captures ---- */

/* The transactions of the first connection with responder port @port. */
static const struct txlist *conn_txns(const struct cap_run *r, uint16_t port)
{
    for (size_t k = 0; k < r->c.n; k++)
        if (r->c.conn[k].proto == 6 && r->c.conn[k].port[1] == port)
            return &r->tx[k];
    cr_assert_fail("no connection to port %u", port);
    return NULL;
}

static void expect_num(const char *what, uint64_t ours, const char *exp)
{
    cr_expect(strcmp(exp, "-") != 0 && ours == strtoull(exp, NULL, 10), "%s: ours %llu, ref %s",
              what, (unsigned long long)ours, exp);
}

#define expect_ref(what, v, n, exp)                                                                \
    cr_expect((n) == strlen(exp) && memcmp((v), (exp), (n)) == 0, "%s: ours '%.*s', ref '%s'",     \
              (what), (int)(n), (v), (exp))

/* Zeek's http.log baseline: every field we share with it. Zeek counts a
 * gzip body after decompression; we count wire bytes and flag the
 * transaction (the wire size is checked against tshark above). */
Test(http_ref, zeek_pipelined)
{
    struct cap_run r;
    char *log =
        pt_test_slurp(pt_test_data("pcap/http/zeek_pipelined-requests.zeek-http.log"), NULL);
    const char *want[] = {"trans_depth",       "method",      "host",       "uri",
                          "referrer",          "version",     "user_agent", "request_body_len",
                          "response_body_len", "status_code", "status_msg"};
    int col[11];
    size_t row = 0, encoded = 0;
    char *line, *save = NULL;

    cr_assert_not_null(log);
    run_capture(&r, "pcap/http/zeek_pipelined-requests.pcap");
    const struct txlist *l = conn_txns(&r, 80);
    for (line = strtok_r(log, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *f[40], *p = line;
        int nf = 0;
        for (char *tab; nf < 40; p = tab + 1) {
            f[nf++] = p;
            if (!(tab = strchr(p, '\t')))
                break;
            *tab = '\0';
        }
        if (strcmp(f[0], "#fields") == 0) {
            for (unsigned w = 0; w < 11; w++) {
                col[w] = -1;
                for (int i = 1; i < nf; i++)
                    if (strcmp(f[i], want[w]) == 0)
                        col[w] = i - 1;
                cr_assert_geq(col[w], 0, "no %s column", want[w]);
            }
            continue;
        }
        if (f[0][0] == '#')
            continue;
        cr_assert_lt(row, l->n, "zeek has more transactions");
        const struct pt_http_txn *t = &l->v[row++];
        expect_num("trans_depth", t->req.trans_depth, f[col[0]]);
        expect_ref("method", t->req.method, t->req.method_len, f[col[1]]);
        expect_ref("host", t->req.host, t->req.host_len, f[col[2]]);
        expect_ref("uri", t->req.uri, t->req.uri_len, f[col[3]]);
        expect_ref("referrer", t->req.referrer, t->req.referrer_len, f[col[4]]);
        expect_ref("version", t->resp.version, t->resp.version_len, f[col[5]]);
        expect_ref("user_agent", t->req.user_agent, t->req.user_agent_len, f[col[6]]);
        expect_num("request_body_len", t->req.body_len, f[col[7]]);
        if (t->flags & PT_HTTP_TX_RESP_ENCODED) {
            encoded++;
            cr_expect_lt(t->resp.body_len, strtoull(f[col[8]], NULL, 10), "gzip expands");
        } else {
            expect_num("response_body_len", t->resp.body_len, f[col[8]]);
        }
        expect_num("status_code", t->resp.status_code, f[col[9]]);
        expect_ref("status_msg", t->resp.status_msg, t->resp.status_msg_len, f[col[10]]);
    }
    cr_expect_eq(row, 5);
    cr_expect_eq(l->n, 5);
    cr_expect_eq(encoded, 2, "the css and the js are gzip-encoded");
    free(log);
    run_free(&r);
}

/* The first value of "key" inside the "http" object of an Arkime session
 * file (a string, or a number as text). Test-only scanning, no JSON parser:
 * the file has one key per line, written as "key" : [. */
static void arkime_http(const char *buf, const char *key, char *out, size_t cap)
{
    char pat[64];
    const char *h = strstr(buf, "\"http\" : {"), *p;
    size_t n = 0;

    cr_assert_not_null(h, "no http object");
    snprintf(pat, sizeof pat, "\"%s\" : [", key);
    p = strstr(h, pat);
    cr_assert_not_null(p, "no http.%s", key);
    p += strlen(pat);
    while (*p == ' ' || *p == '\n')
        p++;
    if (*p == '"')
        p++;
    while (p[n] && p[n] != '"' && p[n] != '\n' && n + 1 < cap)
        n++;
    memcpy(out, p, n);
    out[n] = '\0';
}

static void vs_arkime(const char *pcap, const char *json, size_t nconn_http)
{
    struct cap_run r;
    char *buf = pt_test_slurp(pt_test_data(json), NULL);
    char v[512], host_uri[512];
    size_t found = 0;

    cr_assert_not_null(buf);
    run_capture(&r, pcap);
    for (size_t k = 0; k < r.c.n; k++) {
        const struct txlist *l = &r.tx[k];
        if (!l->n)
            continue;
        found++;
        const struct pt_http_txn *t = &l->v[0];
        cr_assert_eq(l->n, 1);
        arkime_http(buf, "method", v, sizeof v);
        expect_ref("method", t->req.method, t->req.method_len, v);
        arkime_http(buf, "host", v, sizeof v);
        expect_ref("host", t->req.host, t->req.host_len, v);
        arkime_http(buf, "path", v, sizeof v);
        expect_ref("path", t->req.uri, t->req.uri_len, v);
        arkime_http(buf, "uri", v, sizeof v);
        snprintf(host_uri, sizeof host_uri, "%s%s", t->req.host, t->req.uri);
        cr_expect_str_eq(host_uri, v, "uri = host + path");
        arkime_http(buf, "useragent", v, sizeof v);
        expect_ref("useragent", t->req.user_agent, t->req.user_agent_len, v);
        arkime_http(buf, "clientVersion", v, sizeof v);
        expect_ref("clientVersion", t->req.version, t->req.version_len, v);
        arkime_http(buf, "serverVersion", v, sizeof v);
        expect_ref("serverVersion", t->resp.version, t->resp.version_len, v);
        arkime_http(buf, "statuscode", v, sizeof v);
        expect_num("statuscode", t->resp.status_code, v);
    }
    cr_expect_eq(found, nconn_http);
    free(buf);
    run_free(&r);
}

Test(http_ref, arkime_simple_get)
{
    vs_arkime("pcap/http/arkime_http-simple-get.pcap",
              "pcap/http/arkime_http-simple-get.arkime.test.json", 1);
}

Test(http_ref, arkime_v6)
{
    vs_arkime("pcap/ipv6/arkime_v6-http.pcap", "pcap/ipv6/arkime_v6-http.arkime.test.json", 1);
}

/* tcpdump -v prints the headers of the one response segment. */
Test(http_ref, tcpdump_xml)
{
    struct cap_run r;
    char *out =
        pt_test_slurp(pt_test_data("pcap/http/tcpdump_ipv4_tcp_http_xml.tcpdump-v.out"), NULL);

    cr_assert_not_null(out);
    run_capture(&r, "pcap/http/tcpdump_ipv4_tcp_http_xml.pcap");
    cr_assert_eq(r.c.n, 1);
    cr_assert_eq(r.tx[0].n, 1);
    const struct pt_http_txn *t = &r.tx[0].v[0];
    char line[256];
    snprintf(line, sizeof line, "\tHTTP/%s %u %s\n", t->resp.version, t->resp.status_code,
             t->resp.status_msg);
    cr_expect_not_null(strstr(out, line), "no '%s'", line);
    snprintf(line, sizeof line, "\tContent-Type: %s\n", t->resp.ctype);
    cr_expect_not_null(strstr(out, line), "no '%s'", line);
    snprintf(line, sizeof line, "\tContent-Length: %llu\n", (unsigned long long)t->resp.body_len);
    cr_expect_not_null(strstr(out, line), "no '%s'", line);
    cr_expect_not(t->flags & PT_HTTP_TX_REQUEST, "the request is not in the capture");
    cr_expect(t->flags & PT_HTTP_TX_RESP_DONE);
    cr_expect_eq(r.st.err[PT_HTTP_ERR_UNMATCHED_RESPONSE], 1);
    free(out);
    run_free(&r);
}

/* The server side loses its place (bytes missing from the capture), then a
 * segment starts with a status line: the requests answered in the hole go
 * out without response and the new response pairs with the newest request. */
Test(http_crafted, resync)
{
    struct fx f;

    fx_init(&f);
    feed_str(f.s, 0, "GET /1 HTTP/1.1\r\n\r\n", &f.l);
    cr_expect_eq(feed_str(f.s, 1, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc", &f.l),
                 PT_HTTP_OK);
    feed_str(f.s, 0, "GET /2 HTTP/1.1\r\n\r\nGET /3 HTTP/1.1\r\n\r\n", &f.l);
    cr_expect_eq(feed_str(f.s, 1, "\x89PNG body of /2 whose head was not captured", &f.l),
                 PT_HTTP_OK);
    cr_expect_eq(err(&f, PT_HTTP_ERR_DESYNC), 1);
    cr_expect_eq(feed_str(f.s, 1, "more body", &f.l), PT_HTTP_OK, "no resync mid-segment");
    cr_expect_eq(feed_str(f.s, 1, "HTTP/1.1 404 No\r\nContent-Length: 0\r\n\r\n", &f.l),
                 PT_HTTP_OK);
    cr_expect_eq(err(&f, PT_HTTP_ERR_RESYNC), 1);
    cr_assert_eq(f.l.n, 3);
    expect_str(f.l.v[1].req.uri, "/2");
    cr_expect_not(f.l.v[1].flags & PT_HTTP_TX_RESPONSE);
    expect_str(f.l.v[2].req.uri, "/3");
    cr_expect_eq(f.l.v[2].resp.status_code, 404);
    cr_expect_eq(err(&f, PT_HTTP_ERR_NO_RESPONSE), 1);
    fx_fini(&f);
}

Test(http_crafted, http09)
{
    struct fx f;

    fx_init(&f);
    feed_str(f.s, 0, "GET /old\r\n", &f.l);
    cr_expect_eq(feed_str(f.s, 1, "<html>no status line</html>", &f.l), PT_HTTP_OK);
    cr_expect_eq(pt_http_flush(f.s, collect, &f.l), 1);
    cr_assert_eq(f.l.n, 1);
    expect_str(f.l.v[0].req.version, "0.9");
    expect_str(f.l.v[0].req.uri, "/old");
    cr_expect_eq(f.l.v[0].resp.body_len, 27);
    cr_expect_eq(f.l.v[0].resp.status_code, 0);
    cr_expect_eq(f.l.v[0].flags, PT_HTTP_TX_REQUEST | PT_HTTP_TX_REQ_DONE | PT_HTTP_TX_RESP_CLOSE |
                                     PT_HTTP_TX_RESP_DONE);
    fx_fini(&f);
}
