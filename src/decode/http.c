/* http.c - incremental HTTP/1.x transaction parser (contract: include/pt/http.h).
 *
 * DESIGN. Each direction is a small state machine over its byte stream; the
 * two meet in a FIFO of requests (client side pushes, server side pops):
 *
 *  1. START: a request line (client) or status line (server) is awaited.
 *     Empty lines are skipped (RFC 9112 2.2). While the first line is still
 *     partial its prefix is checked (method token, or "HTTP/"), so a stream
 *     that is not HTTP fails on its first segment, not after 2 KiB.
 *  2. HEADERS: one header line at a time until the empty line. A line that
 *     starts with SP/HT continues the previous header (obs-fold). Names are
 *     compared case-insensitively; only the fields we log and the framing
 *     headers (Content-Length, Transfer-Encoding) are looked at.
 *  3. The body is framed as RFC 9112 6.3 says: none for HEAD, 1xx, 204, 304;
 *     101 or CONNECT 2xx end parsing (TUNNEL); chunked when the last
 *     transfer coding is chunked (CHUNK_SIZE -> CHUNK_DATA -> CHUNK_END ...
 *     then TRAILERS up to the empty line); else Content-Length (BODY); else a
 *     response runs until close (CLOSE) and a request has none.
 *  4. A request is pushed when its line parses. A final response pops the
 *     oldest request when its body ends and the pair is emitted; interim 1xx
 *     responses only set info_code and go back to START.
 *  5. A direction that cannot be parsed goes DEAD. Before any HTTP message
 *     was seen on the connection that makes the whole flow NOT_HTTP. After
 *     one, a DEAD direction comes back at a segment that starts like a
 *     message (resync), unless both directions are over (STOP).
 *
 * A line that arrives whole in one feed (and fits) is parsed where it is;
 * one split across feeds goes through line[] (copied, at most
 * PT_HTTP_LINE_MAX - 1 bytes; the rest is dropped and counted), and either
 * way it is parsed the same. Bodies are only counted. Every loop step
 * consumes at least one input byte, so work is linear in the input. */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "pt/http.h"

_Static_assert(sizeof(struct pt_http_state) <= 10 * 1024, "http.h promises <= 10 KiB per flow");
_Static_assert(PT_HTTP_PIPELINE < 256, "FIFO indices are uint8_t");
_Static_assert(PT_HTTP_LINE_MAX < 65536, "line_len is uint16_t");
_Static_assert(PT_HTTP_ERR_MAX <= 32, "keep the counter block small");

/* struct pt_http_dir.st */
enum {
    DS_START = 0,
    DS_HEADERS,
    DS_BODY,  /* Content-Length body: remain bytes left */
    DS_CLOSE, /* response body until the connection closes */
    DS_CHUNK_SIZE,
    DS_CHUNK_DATA, /* remain bytes of the chunk left */
    DS_CHUNK_END,  /* the CRLF after chunk data */
    DS_TRAILERS,
    DS_DEAD,   /* lost: nothing is parsed until a resync */
    DS_TUNNEL, /* after 101 / CONNECT 2xx */
};

/* struct pt_http_dir.flags (reset per message) */
#define DF_LINE_TRUNC 0x01 /* line[] lost bytes of the current line */
#define DF_CHUNKED    0x02 /* Transfer-Encoding ends in chunked */
#define DF_TE_OTHER   0x04 /* Transfer-Encoding present, not ending in chunked */
#define DF_INTERIM    0x08 /* server: headers of a 1xx response (ignored) */
#define DF_IN_MSG     0x10 /* server: a final status line was parsed */

/* struct pt_http_dir.fold: what a folded continuation line extends */
enum { FLD_NONE = 0, FLD_OTHER, FLD_HOST, FLD_UA, FLD_REFERRER, FLD_REQ_CTYPE, FLD_RESP_CTYPE };

/* struct pt_http_state.flags */
#define SF_HTTP     0x01 /* a valid request or status line was seen */
#define SF_NOT_HTTP 0x02
#define SF_DONE     0x04 /* flushed */

static const char *const err_names[PT_HTTP_ERR_MAX] = {
    [PT_HTTP_ERR_NOT_HTTP] = "app.http.not_http",
    [PT_HTTP_ERR_LINE_TOO_LONG] = "app.http.line_too_long",
    [PT_HTTP_ERR_FIELD_TRUNC] = "app.http.field_truncated",
    [PT_HTTP_ERR_BAD_REQUEST_LINE] = "app.http.bad_request_line",
    [PT_HTTP_ERR_BAD_STATUS_LINE] = "app.http.bad_status_line",
    [PT_HTTP_ERR_BAD_HEADER] = "app.http.bad_header",
    [PT_HTTP_ERR_BAD_CONTENT_LENGTH] = "app.http.bad_content_length",
    [PT_HTTP_ERR_CL_CONFLICT] = "app.http.content_length_conflict",
    [PT_HTTP_ERR_TE_AND_CL] = "app.http.te_and_content_length",
    [PT_HTTP_ERR_TE_UNKNOWN] = "app.http.te_unknown",
    [PT_HTTP_ERR_BAD_CHUNK_SIZE] = "app.http.bad_chunk_size",
    [PT_HTTP_ERR_BAD_CHUNK_END] = "app.http.bad_chunk_end",
    [PT_HTTP_ERR_BARE_LF] = "app.http.bare_lf",
    [PT_HTTP_ERR_OBS_FOLD] = "app.http.obs_fold",
    [PT_HTTP_ERR_PIPELINE_OVERFLOW] = "app.http.pipeline_overflow",
    [PT_HTTP_ERR_UNMATCHED_RESPONSE] = "app.http.response_without_request",
    [PT_HTTP_ERR_NO_RESPONSE] = "app.http.request_without_response",
    [PT_HTTP_ERR_GAP] = "app.http.gap",
    [PT_HTTP_ERR_DESYNC] = "app.http.desync",
    [PT_HTTP_ERR_RESYNC] = "app.http.resync",
};

const char *pt_http_err_name(unsigned err)
{
    if (err < PT_HTTP_ERR_MAX && err_names[err])
        return err_names[err];
    return "app.http.unknown";
}

void pt_http_stats_init(struct pt_http_stats *st)
{
    memset(st, 0, sizeof *st);
}

void pt_http_stats_merge(struct pt_http_stats *dst, const struct pt_http_stats *src)
{
    dst->flows += PT_CNT_GET(src->flows);
    dst->txns += PT_CNT_GET(src->txns);
    dst->requests += PT_CNT_GET(src->requests);
    dst->responses += PT_CNT_GET(src->responses);
    for (unsigned i = 0; i < PT_HTTP_ERR_MAX; i++)
        dst->err[i] += PT_CNT_GET(src->err[i]);
}

static void count(struct pt_http_state *s, enum pt_http_err e)
{
    if (s->stats)
        PT_CNT_INC(s->stats->err[e]);
}

static void msg_reset(struct pt_http_dir *d)
{
    d->st = DS_START;
    d->flags = 0;
    d->fold = FLD_NONE;
    d->clen = -1;
    d->remain = 0;
    d->body_len = 0;
}

void pt_http_init(struct pt_http_state *s, struct pt_http_stats *st)
{
    /* Not a memset of all 10 KB: a line buffer is read only up to line_len
     * and a pipeline entry is cleared when a request takes it, so only the
     * fields around them need zeroing (the rest would cost a cache line
     * written per 64 bytes, for every HTTP connection). */
    for (unsigned i = 0; i < 2; i++) {
        memset(&s->dir[i], 0, offsetof(struct pt_http_dir, line));
        msg_reset(&s->dir[i]);
    }
    memset(&s->resp, 0, sizeof s->resp);
    s->depth = 0;
    s->head = s->n = 0;
    s->flags = 0;
    s->stats = st;
    if (st)
        PT_CNT_INC(st->flows);
}

/* ---- small byte helpers (no locale, no NUL termination assumed) ---- */

static int lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

static bool ieq(const char *a, size_t n, const char *lit)
{
    size_t m = strlen(lit);

    if (n != m)
        return false;
    for (size_t i = 0; i < n; i++)
        if (lower((unsigned char)a[i]) != lit[i])
            return false;
    return true;
}

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

static bool method_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)lower((unsigned char)c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

static void trim(const char **p, size_t *n)
{
    while (*n && is_ows(**p)) {
        (*p)++;
        (*n)--;
    }
    while (*n && is_ows((*p)[*n - 1]))
        (*n)--;
}

/* Store @n bytes of @src in a field of @cap bytes (NUL-terminated after
 * them); cut and flag @bit in *@trunc when they do not fit. With @append,
 * add " " + @src after the current value (a folded line). */
static void fld_put(struct pt_http_state *s, char *dst, uint16_t *dlen, size_t cap, uint16_t *trunc,
                    uint16_t bit, const char *src, size_t n, bool append)
{
    size_t at = append ? *dlen : 0;

    if (append && at < cap - 1 && n)
        dst[at++] = ' ';
    if (n > cap - 1 - at || (append && at == cap - 1 && n)) {
        n = cap - 1 - at;
        if (!(*trunc & bit))
            count(s, PT_HTTP_ERR_FIELD_TRUNC);
        *trunc |= bit;
    }
    memcpy(dst + at, src, n);
    at += n;
    dst[at] = '\0';
    *dlen = (uint16_t)at;
}

#define FLD_SET(s, obj, f, bit, p, n, app)                                                         \
    fld_put((s), (obj)->f, &(obj)->f##_len, sizeof(obj)->f, &(obj)->trunc, (bit), (p), (n), (app))

/* ---- the request FIFO ---- */

/* The request the client direction is working on, if it still holds a slot:
 * always the newest entry (a request is pushed only when the previous one
 * ended), unless it was dropped (FIFO full) or already answered. */
static struct pt_http_req *cur_req(struct pt_http_state *s)
{
    if (!s->n)
        return NULL;
    struct pt_http_req *r = &s->fifo[(s->head + s->n - 1) % PT_HTTP_PIPELINE];
    return r->trans_depth == s->depth ? r : NULL;
}

static struct pt_http_req *head_req(struct pt_http_state *s)
{
    return s->n ? &s->fifo[s->head] : NULL;
}

static bool in_body(const struct pt_http_dir *d)
{
    return d->st == DS_BODY || d->st == DS_CHUNK_SIZE || d->st == DS_CHUNK_DATA ||
           d->st == DS_CHUNK_END || d->st == DS_TRAILERS;
}

/* Emit the oldest request with the response in s->resp (which may be empty)
 * and pop it; with an empty FIFO the response goes out alone. */
static void emit_head(struct pt_http_state *s, pt_http_emit_fn emit, void *arg)
{
    struct pt_http_txn t;

    memset(&t, 0, sizeof t);
    if (s->n) {
        t.req = s->fifo[s->head];
        /* answered while its body is still arriving: what was seen so far */
        if (t.req.trans_depth == s->depth && in_body(&s->dir[0]))
            t.req.body_len = s->dir[0].body_len;
        s->head = (uint8_t)((s->head + 1) % PT_HTTP_PIPELINE);
        s->n--;
    } else {
        count(s, PT_HTTP_ERR_UNMATCHED_RESPONSE);
    }
    t.resp = s->resp;
    memset(&s->resp, 0, sizeof s->resp);
    t.flags = t.req.flags | t.resp.flags;
    t.trunc = t.req.trunc | t.resp.trunc;
    if (s->stats)
        PT_CNT_INC(s->stats->txns);
    if (emit)
        emit(&t, arg);
}

/* A direction cannot be parsed any more. */
static void dir_lost(struct pt_http_state *s, struct pt_http_dir *d, enum pt_http_err why)
{
    if (!(s->flags & SF_HTTP)) {
        if (!(s->flags & SF_NOT_HTTP))
            count(s, PT_HTTP_ERR_NOT_HTTP);
        s->flags |= SF_NOT_HTTP;
    } else {
        count(s, why);
        count(s, PT_HTTP_ERR_DESYNC);
    }
    d->st = DS_DEAD;
}

/* The current message of direction @dir ended. */
static void msg_done(struct pt_http_state *s, unsigned dir, pt_http_emit_fn emit, void *arg)
{
    struct pt_http_dir *d = &s->dir[dir];

    if (dir == 0) {
        struct pt_http_req *r = cur_req(s);
        if (r) {
            r->body_len = d->body_len;
            r->flags |= PT_HTTP_TX_REQ_DONE;
        }
    } else {
        s->resp.body_len = d->body_len;
        s->resp.flags |= PT_HTTP_TX_RESP_DONE;
        emit_head(s, emit, arg);
    }
    msg_reset(d);
}

/* ---- start lines ---- */

#define METHOD_MAX_TOKEN 24 /* longer "methods" are taken as not HTTP */

/* "METHOD SP request-target SP HTTP/x.y". A line cut by the line buffer
 * lost its version: it is still accepted, the URI marked truncated. */
static bool request_line(struct pt_http_state *s, const char *l, size_t n, bool cut)
{
    size_t m = 0, u, e = n, v, ue;

    while (m < n && method_char(l[m]))
        m++;
    if (m == 0 || m > METHOD_MAX_TOKEN || m >= n || l[m] != ' ')
        return false;
    for (u = m; u < n && l[u] == ' '; u++)
        ;
    while (e > u && is_ows(l[e - 1]))
        e--;
    for (v = e; v > u && l[v - 1] != ' '; v--)
        ;
    bool simple = false; /* HTTP/0.9 "GET uri": no version, no headers */
    if (v > u && e - v >= 5 && memcmp(l + v, "HTTP/", 5) == 0) {
        for (ue = v; ue > u && l[ue - 1] == ' '; ue--)
            ;
    } else if (cut) {
        ue = e;
        v = e;
    } else if (m == 3 && memcmp(l, "GET", 3) == 0 && v == u) {
        ue = e;
        v = e;
        simple = true;
    } else {
        return false;
    }
    if (ue == u)
        return false;

    s->flags |= SF_HTTP;
    s->depth++;
    if (s->stats)
        PT_CNT_INC(s->stats->requests);
    if (s->n == PT_HTTP_PIPELINE) {
        count(s, PT_HTTP_ERR_PIPELINE_OVERFLOW);
        return true;
    }
    struct pt_http_req *r = &s->fifo[(s->head + s->n) % PT_HTTP_PIPELINE];
    s->n++;
    memset(r, 0, sizeof *r);
    r->ts_ns = s->dir[0].msg_ts;
    r->trans_depth = s->depth;
    r->flags = PT_HTTP_TX_REQUEST;
    FLD_SET(s, r, method, PT_HTTP_F_METHOD, l, m, false);
    FLD_SET(s, r, uri, PT_HTTP_F_URI, l + u, ue - u, false);
    if (cut)
        r->trunc |= PT_HTTP_F_URI; /* counted as line_too_long */
    if (v < e)
        FLD_SET(s, r, version, PT_HTTP_F_VERSION, l + v + 5, e - v - 5, false);
    else if (simple)
        FLD_SET(s, r, version, PT_HTTP_F_VERSION, "0.9", 3, false);
    return true;
}

static bool is_simple(const struct pt_http_req *r)
{
    return r && r->version_len == 3 && memcmp(r->version, "0.9", 3) == 0;
}

/* "HTTP/x.y SP 3DIGIT [SP reason-phrase]". */
static bool status_line(struct pt_http_state *s, struct pt_http_dir *d, const char *l, size_t n)
{
    size_t sp = 5, c;
    unsigned code;

    if (n < 5 || memcmp(l, "HTTP/", 5) != 0)
        return false;
    while (sp < n && l[sp] != ' ')
        sp++;
    for (c = sp; c < n && l[c] == ' '; c++)
        ;
    if (c == sp || n - c < 3)
        return false;
    for (unsigned i = 0; i < 3; i++)
        if (l[c + i] < '0' || l[c + i] > '9')
            return false;
    code =
        (unsigned)(l[c] - '0') * 100 + (unsigned)(l[c + 1] - '0') * 10 + (unsigned)(l[c + 2] - '0');
    if (code < 100 || (c + 3 < n && !is_ows(l[c + 3])))
        return false;
    const char *msg = l + c + 3;
    size_t msg_n = n - c - 3;
    if (msg_n) { /* the one SP (or HT) before the phrase */
        msg++;
        msg_n--;
    }

    s->flags |= SF_HTTP;
    if (code / 100 == 1 && code != 101) {
        s->resp.info_code = (uint16_t)code;
        FLD_SET(s, &s->resp, info_msg, PT_HTTP_F_INFO_MSG, msg, msg_n, false);
        d->flags |= DF_INTERIM;
        return true;
    }
    if (s->stats)
        PT_CNT_INC(s->stats->responses);
    s->resp.ts_ns = d->msg_ts;
    s->resp.status_code = (uint16_t)code;
    s->resp.flags |= PT_HTTP_TX_RESPONSE;
    FLD_SET(s, &s->resp, version, PT_HTTP_F_RESP_VERSION, l + 5, sp - 5, false);
    FLD_SET(s, &s->resp, status_msg, PT_HTTP_F_STATUS_MSG, msg, msg_n, false);
    d->flags |= DF_IN_MSG;
    return true;
}

/* Would the partial first line @l/@n still be a valid start? Lets a non-HTTP
 * stream fail on its first bytes. */
static bool start_plausible(unsigned dir, const char *l, size_t n)
{
    if (n == 1 && l[0] == '\r')
        return true; /* an empty line in the making */
    if (dir == 1)
        return memcmp(l, "HTTP/", n < 5 ? n : 5) == 0;
    for (size_t i = 0; i < n; i++) {
        if (l[i] == ' ')
            return i > 0;
        if (!method_char(l[i]) || i >= METHOD_MAX_TOKEN)
            return false;
    }
    return true;
}

/* ---- headers ---- */

static void content_length(struct pt_http_state *s, struct pt_http_dir *d, const char *v, size_t n)
{
    uint64_t x = 0;

    if (n == 0)
        goto bad;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9' || x > (UINT64_C(1) << 58))
            goto bad;
        x = x * 10 + (uint64_t)(v[i] - '0');
    }
    if (d->clen >= 0 && (uint64_t)d->clen != x)
        count(s, PT_HTTP_ERR_CL_CONFLICT); /* the first one stays */
    else
        d->clen = (int64_t)x;
    return;
bad:
    count(s, PT_HTTP_ERR_BAD_CONTENT_LENGTH);
}

static void transfer_encoding(struct pt_http_dir *d, const char *v, size_t n)
{
    size_t i = n;

    while (i > 0 && v[i - 1] != ',')
        i--;
    const char *last = v + i;
    size_t ln = n - i;
    trim(&last, &ln);
    if (ieq(last, ln, "chunked")) {
        d->flags |= DF_CHUNKED;
        d->flags &= (uint8_t)~DF_TE_OTHER;
    } else {
        d->flags |= DF_TE_OTHER;
        d->flags &= (uint8_t)~DF_CHUNKED;
    }
}

/* Set a logged field from a header (first occurrence wins) or extend it from
 * a folded line. */
static void fld_header(struct pt_http_state *s, unsigned fld, const char *v, size_t n, bool fold)
{
    struct pt_http_req *r = cur_req(s);

    switch (fld) {
    case FLD_HOST:
        if (r)
            FLD_SET(s, r, host, PT_HTTP_F_HOST, v, n, fold);
        break;
    case FLD_UA:
        if (r)
            FLD_SET(s, r, user_agent, PT_HTTP_F_USER_AGENT, v, n, fold);
        break;
    case FLD_REFERRER:
        if (r)
            FLD_SET(s, r, referrer, PT_HTTP_F_REFERRER, v, n, fold);
        break;
    case FLD_REQ_CTYPE:
        if (r)
            FLD_SET(s, r, ctype, PT_HTTP_F_REQ_CTYPE, v, n, fold);
        break;
    case FLD_RESP_CTYPE:
        FLD_SET(s, &s->resp, ctype, PT_HTTP_F_RESP_CTYPE, v, n, fold);
        break;
    default:
        break;
    }
}

/* Has the logged field @fld been set already in this message? */
static bool fld_isset(struct pt_http_state *s, unsigned fld)
{
    struct pt_http_req *r = cur_req(s);

    switch (fld) {
    case FLD_HOST:
        return r && r->host_len;
    case FLD_UA:
        return r && r->user_agent_len;
    case FLD_REFERRER:
        return r && r->referrer_len;
    case FLD_REQ_CTYPE:
        return r && r->ctype_len;
    case FLD_RESP_CTYPE:
        return s->resp.ctype_len;
    default:
        return false;
    }
}

static void header_line(struct pt_http_state *s, unsigned dir, const char *l, size_t n)
{
    struct pt_http_dir *d = &s->dir[dir];
    const char *colon, *name = l, *v;
    size_t nn, vn;
    unsigned fld = FLD_OTHER;

    if (is_ows(l[0])) { /* obs-fold: continues the previous header */
        if (d->fold == FLD_NONE) {
            count(s, PT_HTTP_ERR_BAD_HEADER);
            return;
        }
        count(s, PT_HTTP_ERR_OBS_FOLD);
        v = l;
        vn = n;
        trim(&v, &vn);
        if (vn)
            fld_header(s, d->fold, v, vn, true);
        return;
    }
    if (!(colon = memchr(l, ':', n))) {
        count(s, PT_HTTP_ERR_BAD_HEADER);
        d->fold = FLD_NONE;
        return;
    }
    nn = (size_t)(colon - l);
    while (nn && is_ows(name[nn - 1])) /* l[0] is not OWS: only the end needs trimming */
        nn--;
    d->fold = FLD_OTHER;
    if (nn == 0) {
        count(s, PT_HTTP_ERR_BAD_HEADER);
        return;
    }
    if (d->flags & DF_INTERIM)
        return; /* a 1xx's headers say nothing about the final response */
    /* Most headers are none of ours: their names' lengths already say so,
     * and their values are never looked at (bench/offline: a browsing
     * capture has ~20 header lines per transaction). */
    switch (nn) {
    case 4:
        if (dir == 0 && ieq(name, nn, "host"))
            fld = FLD_HOST;
        break;
    case 7:
        if (dir == 0 && ieq(name, nn, "referer"))
            fld = FLD_REFERRER;
        break;
    case 10:
        if (dir == 0 && ieq(name, nn, "user-agent"))
            fld = FLD_UA;
        break;
    case 12:
        if (ieq(name, nn, "content-type"))
            fld = dir == 0 ? FLD_REQ_CTYPE : FLD_RESP_CTYPE;
        break;
    case 14:
    case 16:
    case 17:
        break;
    default:
        return;
    }
    v = colon + 1;
    vn = (size_t)(l + n - v);
    trim(&v, &vn);
    if (nn == 14 && ieq(name, nn, "content-length")) {
        content_length(s, d, v, vn);
        return;
    }
    if (nn == 17 && ieq(name, nn, "transfer-encoding")) {
        transfer_encoding(d, v, vn);
        return;
    }
    if (nn == 16 && dir == 1 && ieq(name, nn, "content-encoding"))
        s->resp.flags |= PT_HTTP_TX_RESP_ENCODED;
    if (fld == FLD_OTHER || fld_isset(s, fld))
        return; /* folds of a repeated header extend nothing */
    d->fold = (uint8_t)fld;
    fld_header(s, fld, v, vn, false);
}

/* End of the header block: choose how the body is framed (DESIGN 3). */
static void headers_done(struct pt_http_state *s, unsigned dir, pt_http_emit_fn emit, void *arg)
{
    struct pt_http_dir *d = &s->dir[dir];
    bool chunked = d->flags & DF_CHUNKED;

    if (chunked && d->clen >= 0)
        count(s, PT_HTTP_ERR_TE_AND_CL);
    if (dir == 0) {
        struct pt_http_req *r = cur_req(s);
        if (chunked) {
            if (r)
                r->flags |= PT_HTTP_TX_REQ_CHUNK;
            d->st = DS_CHUNK_SIZE;
        } else if (d->flags & DF_TE_OTHER) {
            count(s, PT_HTTP_ERR_TE_UNKNOWN); /* a request cannot be framed: assume none */
            msg_done(s, dir, emit, arg);
        } else if (d->clen > 0) {
            d->remain = (uint64_t)d->clen;
            d->st = DS_BODY;
        } else {
            msg_done(s, dir, emit, arg);
        }
        return;
    }

    if (d->flags & DF_INTERIM) { /* 100-continue and friends: the final one follows */
        msg_reset(d);
        return;
    }
    const struct pt_http_req *h = head_req(s);
    unsigned code = s->resp.status_code;
    bool head = h && ieq(h->method, h->method_len, "head");
    bool connect = h && ieq(h->method, h->method_len, "connect");

    if (code == 101 || (connect && code / 100 == 2)) {
        s->resp.flags |= PT_HTTP_TX_TUNNEL;
        msg_done(s, dir, emit, arg);
        s->dir[0].st = DS_TUNNEL;
        s->dir[1].st = DS_TUNNEL;
    } else if (head || code == 204 || code == 304) {
        msg_done(s, dir, emit, arg);
    } else if (chunked) {
        s->resp.flags |= PT_HTTP_TX_RESP_CHUNK;
        d->st = DS_CHUNK_SIZE;
    } else if (!(d->flags & DF_TE_OTHER) && d->clen >= 0) {
        if (d->clen == 0) {
            msg_done(s, dir, emit, arg);
        } else {
            d->remain = (uint64_t)d->clen;
            d->st = DS_BODY;
        }
    } else {
        s->resp.flags |= PT_HTTP_TX_RESP_CLOSE;
        d->st = DS_CLOSE;
    }
}

/* "1*HEXDIG [ OWS ; extensions ]". */
static bool chunk_size_line(struct pt_http_dir *d, const char *l, size_t n)
{
    uint64_t x = 0;
    size_t i = 0;
    int h;

    while (i < n && (h = hexval(l[i])) >= 0) {
        if (x >> 56)
            return false; /* no real chunk is 2^60 bytes */
        x = x << 4 | (uint64_t)h;
        i++;
    }
    if (i == 0)
        return false;
    while (i < n && is_ows(l[i]))
        i++;
    if (i < n && l[i] != ';')
        return false;
    if (x == 0) {
        d->st = DS_TRAILERS;
    } else {
        d->remain = x;
        d->st = DS_CHUNK_DATA;
    }
    return true;
}

/* A whole line, @l/@n (in d->line, or in the input when it came in one
 * piece), without its LF: act on it. */
static void line_done(struct pt_http_state *s, unsigned dir, const char *l, size_t n,
                      pt_http_emit_fn emit, void *arg)
{
    struct pt_http_dir *d = &s->dir[dir];
    bool cut = d->flags & DF_LINE_TRUNC;

    d->line_len = 0;
    d->flags &= (uint8_t)~DF_LINE_TRUNC;
    if (cut)
        count(s, PT_HTTP_ERR_LINE_TOO_LONG);
    else if (n && l[n - 1] == '\r')
        n--;
    else
        count(s, PT_HTTP_ERR_BARE_LF);

    switch (d->st) {
    case DS_START:
        if (n == 0)
            return;
        if (dir == 0 ? !request_line(s, l, n, cut) : !status_line(s, d, l, n)) {
            dir_lost(s, d, dir == 0 ? PT_HTTP_ERR_BAD_REQUEST_LINE : PT_HTTP_ERR_BAD_STATUS_LINE);
            return;
        }
        d->st = DS_HEADERS;
        if (dir == 0 && is_simple(cur_req(s)))
            msg_done(s, dir, emit, arg); /* HTTP/0.9: the line is the request */
        return;
    case DS_HEADERS:
        if (n == 0)
            headers_done(s, dir, emit, arg);
        else
            header_line(s, dir, l, n);
        return;
    case DS_CHUNK_END:
        if (n == 0) {
            d->st = DS_CHUNK_SIZE;
            return;
        }
        count(s, PT_HTTP_ERR_BAD_CHUNK_END);
        /* fall through - take it as the next chunk-size line */
    case DS_CHUNK_SIZE:
        if (!chunk_size_line(d, l, n))
            dir_lost(s, d, PT_HTTP_ERR_BAD_CHUNK_SIZE);
        return;
    case DS_TRAILERS:
        if (n == 0)
            msg_done(s, dir, emit, arg);
        return;
    default:
        return;
    }
}

/* Append input up to and including the next LF to d->line (LF not kept);
 * when the LF is there, act on the line. Returns the bytes used (>= 1). */
static size_t line_step(struct pt_http_state *s, unsigned dir, uint64_t ts, const uint8_t *p,
                        size_t n, pt_http_emit_fn emit, void *arg)
{
    struct pt_http_dir *d = &s->dir[dir];
    const uint8_t *lf = memchr(p, '\n', n);
    size_t upto = lf ? (size_t)(lf - p) : n;
    size_t room = PT_HTTP_LINE_MAX - 1 - d->line_len;
    size_t c = upto < room ? upto : room;

    if (d->st == DS_START && d->line_len == 0)
        d->msg_ts = ts;
    if (lf && d->line_len == 0 && upto == c) {
        /* the whole line is in this segment and fits: parse it where it is
         * (the usual case), as it would be parsed from line[] */
        line_done(s, dir, (const char *)p, upto, emit, arg);
        return upto + 1;
    }
    memcpy(d->line + d->line_len, p, c);
    d->line_len = (uint16_t)(d->line_len + c);
    if (c < upto)
        d->flags |= DF_LINE_TRUNC;
    if (lf) {
        line_done(s, dir, d->line, d->line_len, emit, arg);
        return upto + 1;
    }
    if (d->st == DS_START && !start_plausible(dir, d->line, d->line_len))
        dir_lost(s, d, dir == 0 ? PT_HTTP_ERR_BAD_REQUEST_LINE : PT_HTTP_ERR_BAD_STATUS_LINE);
    return n;
}

static bool dir_over(const struct pt_http_dir *d)
{
    return d->st == DS_DEAD || d->st == DS_TUNNEL;
}

static int status_of(const struct pt_http_state *s)
{
    if (s->flags & SF_NOT_HTTP)
        return PT_HTTP_NOT_HTTP;
    if ((s->flags & SF_DONE) || (dir_over(&s->dir[0]) && dir_over(&s->dir[1])))
        return PT_HTTP_STOP;
    return PT_HTTP_OK;
}

/* @n body bytes (or a hole of @n bytes) of a counted body. */
static void body_take(struct pt_http_state *s, unsigned dir, uint64_t n, pt_http_emit_fn emit,
                      void *arg)
{
    struct pt_http_dir *d = &s->dir[dir];

    d->body_len += n;
    if (d->st == DS_CLOSE)
        return;
    d->remain -= n;
    if (d->remain)
        return;
    if (d->st == DS_BODY)
        msg_done(s, dir, emit, arg);
    else
        d->st = DS_CHUNK_END;
}

/* Does a segment start like a message? Only common methods, so that body
 * bytes rarely look like one. */
static bool resync_start(unsigned dir, const uint8_t *p, size_t n)
{
    static const char *const methods[] = {"GET ",     "POST ",    "HEAD ",  "PUT ",  "DELETE ",
                                          "OPTIONS ", "CONNECT ", "PATCH ", "TRACE "};

    if (dir == 1)
        return n >= 7 && memcmp(p, "HTTP/1.", 7) == 0;
    for (size_t i = 0; i < PT_ARRAY_LEN(methods); i++) {
        size_t m = strlen(methods[i]);
        if (n > m && memcmp(p, methods[i], m) == 0)
            return true;
    }
    return false;
}

static void resync(struct pt_http_state *s, unsigned dir, pt_http_emit_fn emit, void *arg)
{
    struct pt_http_dir *d = &s->dir[dir];

    count(s, PT_HTTP_ERR_RESYNC);
    if (dir == 1) {
        if ((s->resp.flags & PT_HTTP_TX_RESPONSE) || s->resp.info_code) {
            s->resp.body_len = d->body_len; /* the response we lost track of */
            emit_head(s, emit, arg);
        }
        while (s->n > 1) {
            count(s, PT_HTTP_ERR_NO_RESPONSE);
            emit_head(s, emit, arg);
        }
    }
    d->line_len = 0;
    msg_reset(d);
}

int pt_http_feed(struct pt_http_state *s, unsigned dir, uint64_t ts_ns, const uint8_t *data,
                 size_t len, pt_http_emit_fn emit, void *arg)
{
    int rc;

    if (dir > 1 || (!data && len))
        return -EINVAL;
    if ((rc = status_of(s)) != PT_HTTP_OK)
        return rc;
    struct pt_http_dir *d = &s->dir[dir];
    if (d->st == DS_DEAD && (s->flags & SF_HTTP) && resync_start(dir, data, len))
        resync(s, dir, emit, arg);
    while (len && !dir_over(d) && !(s->flags & SF_NOT_HTTP)) {
        size_t used;

        if (d->st == DS_BODY || d->st == DS_CHUNK_DATA) {
            used = len < d->remain ? len : (size_t)d->remain;
            body_take(s, dir, used, emit, arg);
        } else if (d->st == DS_CLOSE) {
            used = len;
            body_take(s, dir, used, emit, arg);
        } else if (dir == 1 && d->st == DS_START && !d->line_len && is_simple(head_req(s))) {
            /* HTTP/0.9 answer: no status line, the body runs until close */
            d->st = DS_CLOSE;
            d->flags |= DF_IN_MSG;
            s->resp.ts_ns = ts_ns;
            s->resp.flags |= PT_HTTP_TX_RESP_CLOSE;
            used = 0;
        } else {
            used = line_step(s, dir, ts_ns, data, len, emit, arg);
        }
        data += used;
        len -= used;
    }
    return status_of(s);
}

int pt_http_gap(struct pt_http_state *s, unsigned dir, uint64_t len, pt_http_emit_fn emit,
                void *arg)
{
    int rc;

    if (dir > 1)
        return -EINVAL;
    if ((rc = status_of(s)) != PT_HTTP_OK)
        return rc;
    struct pt_http_dir *d = &s->dir[dir];
    if (len == 0 || dir_over(d))
        return status_of(s);
    if (d->st == DS_CLOSE || ((d->st == DS_BODY || d->st == DS_CHUNK_DATA) && len <= d->remain))
        body_take(s, dir, len, emit, arg);
    else if (s->flags & SF_HTTP)
        dir_lost(s, d, PT_HTTP_ERR_GAP);
    else
        d->st = DS_DEAD; /* nothing seen yet: the flow is not known to be HTTP */
    return status_of(s);
}

bool pt_http_idle(const struct pt_http_state *s)
{
    static const struct pt_http_resp empty;

    if ((s->flags & (SF_HTTP | SF_NOT_HTTP | SF_DONE)) != SF_HTTP || s->n)
        return false;
    for (unsigned i = 0; i < 2; i++) {
        const struct pt_http_dir *d = &s->dir[i];
        /* what msg_reset() leaves (msg_ts is set again by the next
         * message's first byte) */
        if (d->st != DS_START || d->line_len || d->flags || d->fold != FLD_NONE || d->clen != -1 ||
            d->remain || d->body_len)
            return false;
    }
    return memcmp(&s->resp, &empty, sizeof empty) == 0;
}

void pt_http_resume(struct pt_http_state *s, struct pt_http_stats *st, uint32_t depth)
{
    pt_http_init(s, NULL); /* no st: the connection was counted once */
    s->stats = st;
    s->depth = depth;
    s->flags = SF_HTTP;
}

unsigned pt_http_flush(struct pt_http_state *s, pt_http_emit_fn emit, void *arg)
{
    struct pt_http_dir *sv = &s->dir[1];
    unsigned k = 0;

    if (s->flags & (SF_NOT_HTTP | SF_DONE)) {
        s->flags |= SF_DONE;
        return 0;
    }
    if ((sv->flags & DF_IN_MSG) || s->resp.info_code) {
        s->resp.body_len = sv->body_len;
        if (sv->st == DS_CLOSE)
            s->resp.flags |= PT_HTTP_TX_RESP_DONE;
        if (!(s->resp.flags & PT_HTTP_TX_RESPONSE) && s->n)
            count(s, PT_HTTP_ERR_NO_RESPONSE); /* only an interim answer */
        emit_head(s, emit, arg);
        k++;
    }
    while (s->n) {
        count(s, PT_HTTP_ERR_NO_RESPONSE);
        emit_head(s, emit, arg);
        k++;
    }
    s->flags |= SF_DONE;
    return k;
}
