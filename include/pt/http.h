/* http.h - incremental HTTP/1.x transaction parser for one TCP connection.
 *
 * The caller (a capture worker, on the first packets of a flow that looks
 * like HTTP) feeds each direction's in-order stream bytes as they arrive:
 * direction 0 is the client (the connection's originator), 1 the server.
 * The parser splits request/status lines and header lines across segments,
 * accepts obsolete line folding and bare-LF line ends, matches pipelined
 * requests to responses in order (a FIFO of PT_HTTP_PIPELINE pending
 * requests), lets interim 1xx responses (100-continue) pass without ending
 * the transaction, and skips bodies by counting (Content-Length, chunked
 * with extensions and trailers, or until close); HEAD requests and 1xx, 204
 * and 304 responses carry no body. Body bytes are never copied.
 *
 * One struct pt_http_txn is handed to the emit callback per transaction, with
 * Zeek http.log's field meanings: when its response completes, or at
 * pt_http_flush() for what is still pending (a request without response, a
 * response delimited by the connection's close).
 *
 * Strings. Every string field is bytes from the wire, kept verbatim (no
 * unescaping, not necessarily UTF-8, may hold NUL): a fixed char array with
 * an explicit length (<name>_len), always NUL-terminated after those bytes.
 * A value longer than its array is cut, its PT_HTTP_F_* bit set in
 * txn->trunc and counted (app.http.field_truncated). Surrounding white space
 * (SP, HT) of header values is trimmed; a folded continuation is appended
 * after one SP.
 *
 * Limits. A line (request, status, header, chunk-size or trailer line) is
 * buffered up to PT_HTTP_LINE_MAX - 1 bytes per direction; the rest of a
 * longer line is dropped and counted (app.http.line_too_long), its field
 * truncated. A request that finds the FIFO full is counted
 * (app.http.pipeline_overflow) and not logged.
 *
 * HTTP/0.9. A request line "GET uri" without version is a simple request
 * (version "0.9", no headers); its answer is a body without status line,
 * delimited by the close (status_code 0, PT_HTTP_TX_RESPONSE not set).
 *
 * Resync. A direction lost after HTTP was seen (bytes missing from the
 * capture, garbage) picks up again at a segment, i.e. a pt_http_feed() call,
 * that starts with "HTTP/1." (server) or a common method and SP (client),
 * as tshark does. On a server resync the requests waiting longer than the
 * newest one are emitted without response (their answers were lost), so the
 * new response pairs with the newest request (app.http.resync).
 *
 * Not HTTP. The first bytes of each direction are checked as they arrive: a
 * client must start with a method token ([A-Z0-9_-], at most 24 bytes, then
 * SP), a server with "HTTP/". When that fails before any HTTP message was
 * seen on the connection, pt_http_feed() returns PT_HTTP_NOT_HTTP at once
 * (usually on the first segment) and the caller should stop feeding.
 *
 * Threads and memory: no allocation, no syscall, no lock, no logging, no
 * global state. A struct pt_http_state belongs to one flow and is used by one
 * thread at a time (the worker holding the flow); the stats it points to
 * belong to that worker and are written with PT_CNT_* so another thread may
 * read them. */
#ifndef PT_HTTP_H
#define PT_HTTP_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

#include "pt/common.h"

#define PT_HTTP_LINE_MAX     2048 /* line buffer per direction, bytes (incl. a spare byte) */
#define PT_HTTP_PIPELINE     8    /* pending requests awaiting their response */
#define PT_HTTP_METHOD_MAX   16   /* array sizes: at most size - 1 bytes + NUL */
#define PT_HTTP_HOST_MAX     64
#define PT_HTTP_URI_MAX      256
#define PT_HTTP_REFERRER_MAX 128
#define PT_HTTP_UA_MAX       128
#define PT_HTTP_VERSION_MAX  8
#define PT_HTTP_CTYPE_MAX    64
#define PT_HTTP_MSG_MAX      64
#define PT_HTTP_INFO_MAX     32

/* struct pt_http_txn.trunc: the field was cut to its array. */
#define PT_HTTP_F_METHOD       0x0001
#define PT_HTTP_F_HOST         0x0002
#define PT_HTTP_F_URI          0x0004
#define PT_HTTP_F_REFERRER     0x0008
#define PT_HTTP_F_USER_AGENT   0x0010
#define PT_HTTP_F_VERSION      0x0020 /* request version */
#define PT_HTTP_F_REQ_CTYPE    0x0040
#define PT_HTTP_F_RESP_VERSION 0x0080
#define PT_HTTP_F_STATUS_MSG   0x0100
#define PT_HTTP_F_RESP_CTYPE   0x0200
#define PT_HTTP_F_INFO_MSG     0x0400

/* struct pt_http_txn.flags */
#define PT_HTTP_TX_REQUEST    0x0001 /* a request line was parsed (else: response without request) */
#define PT_HTTP_TX_REQ_DONE   0x0002 /* ... and its whole body was seen */
#define PT_HTTP_TX_RESPONSE   0x0004 /* a final (non-1xx, or 101) status line was parsed */
#define PT_HTTP_TX_RESP_DONE  0x0008 /* ... and its body ended (close-delimited: at flush) */
#define PT_HTTP_TX_REQ_CHUNK  0x0010 /* request body was chunked */
#define PT_HTTP_TX_RESP_CHUNK 0x0020 /* response body was chunked */
#define PT_HTTP_TX_RESP_CLOSE 0x0040 /* response body delimited by the connection's close */
#define PT_HTTP_TX_RESP_ENCODED                                                                    \
    0x0080                       /* response had Content-Encoding: response_body_len               \
                                  * counts the encoded bytes (Zeek counts decoded ones) */
#define PT_HTTP_TX_TUNNEL 0x0100 /* 101 Switching Protocols or CONNECT 2xx: parsing stopped */

/* The request half of a transaction (also the FIFO entry). */
struct pt_http_req {
    uint64_t ts_ns;       /* capture time of the segment holding the request line's first byte */
    uint64_t body_len;    /* request_body_len: entity bytes after de-chunking */
    uint32_t trans_depth; /* 1-based position of the request on the connection */
    uint16_t method_len, host_len, uri_len, referrer_len, user_agent_len, version_len;
    uint16_t ctype_len;
    uint16_t trunc; /* PT_HTTP_F_* of this half */
    uint16_t flags; /* PT_HTTP_TX_* of this half */
    char method[PT_HTTP_METHOD_MAX];
    char host[PT_HTTP_HOST_MAX];         /* Host header, verbatim (port kept) */
    char uri[PT_HTTP_URI_MAX];           /* request-target, verbatim (not unescaped) */
    char referrer[PT_HTTP_REFERRER_MAX]; /* Referer header */
    char user_agent[PT_HTTP_UA_MAX];
    char version[PT_HTTP_VERSION_MAX]; /* "1.1": the digits after "HTTP/" */
    char ctype[PT_HTTP_CTYPE_MAX];     /* Content-Type header, whole ("text/html; charset=x") */
};

/* The response half. */
struct pt_http_resp {
    uint64_t ts_ns;       /* capture time of the final status line's first byte */
    uint64_t body_len;    /* response_body_len: entity bytes after de-chunking */
    uint16_t status_code; /* 0 when no final response */
    uint16_t info_code;   /* last interim 1xx code (Zeek info_code), 0 if none */
    uint16_t version_len, status_msg_len, ctype_len, info_msg_len;
    uint16_t trunc; /* PT_HTTP_F_* of this half */
    uint16_t flags; /* PT_HTTP_TX_* of this half */
    char version[PT_HTTP_VERSION_MAX];
    char status_msg[PT_HTTP_MSG_MAX]; /* reason phrase, may be empty */
    char ctype[PT_HTTP_CTYPE_MAX];
    char info_msg[PT_HTTP_INFO_MAX]; /* reason phrase of info_code */
};

/* One transaction, as handed to the emit callback. Zeek's `version` is the
 * response's (resp.version), or the request's when there is no response. */
struct pt_http_txn {
    struct pt_http_req req;   /* zero unless flags & PT_HTTP_TX_REQUEST */
    struct pt_http_resp resp; /* zero unless a status line was seen */
    uint16_t flags;           /* PT_HTTP_TX_*: req.flags | resp.flags */
    uint16_t trunc;           /* PT_HTTP_F_*: req.trunc | resp.trunc */
};

/* Called for each transaction, on the thread calling pt_http_feed(),
 * pt_http_gap() or pt_http_flush(). @txn is borrowed for the call only. */
typedef void (*pt_http_emit_fn)(const struct pt_http_txn *txn, void *arg);

/* Malformed or unusual input, counted by reason. Stable names:
 * pt_http_err_name(). New reasons go at the end; the names are the API. */
enum pt_http_err {
    PT_HTTP_ERR_NOT_HTTP = 0,       /* app.http.not_http: first bytes are not HTTP (per flow) */
    PT_HTTP_ERR_LINE_TOO_LONG,      /* app.http.line_too_long */
    PT_HTTP_ERR_FIELD_TRUNC,        /* app.http.field_truncated */
    PT_HTTP_ERR_BAD_REQUEST_LINE,   /* app.http.bad_request_line */
    PT_HTTP_ERR_BAD_STATUS_LINE,    /* app.http.bad_status_line */
    PT_HTTP_ERR_BAD_HEADER,         /* app.http.bad_header: no colon, or fold without header */
    PT_HTTP_ERR_BAD_CONTENT_LENGTH, /* app.http.bad_content_length: not digits, or too big */
    PT_HTTP_ERR_CL_CONFLICT,        /* app.http.content_length_conflict: differing repeats */
    PT_HTTP_ERR_TE_AND_CL,          /* app.http.te_and_content_length (TE wins) */
    PT_HTTP_ERR_TE_UNKNOWN,     /* app.http.te_unknown: Transfer-Encoding not ending in chunked */
    PT_HTTP_ERR_BAD_CHUNK_SIZE, /* app.http.bad_chunk_size (stream lost) */
    PT_HTTP_ERR_BAD_CHUNK_END,  /* app.http.bad_chunk_end: chunk data not followed by CRLF */
    PT_HTTP_ERR_BARE_LF,        /* app.http.bare_lf: line ended by LF alone (accepted) */
    PT_HTTP_ERR_OBS_FOLD,       /* app.http.obs_fold: folded header line (accepted) */
    PT_HTTP_ERR_PIPELINE_OVERFLOW,  /* app.http.pipeline_overflow: request not logged */
    PT_HTTP_ERR_UNMATCHED_RESPONSE, /* app.http.response_without_request */
    PT_HTTP_ERR_NO_RESPONSE,        /* app.http.request_without_response (at flush) */
    PT_HTTP_ERR_GAP,                /* app.http.gap: bytes missing outside a counted body */
    PT_HTTP_ERR_DESYNC,             /* app.http.desync: a direction lost after valid messages */
    PT_HTTP_ERR_RESYNC,             /* app.http.resync: a lost direction found a message start */
    PT_HTTP_ERR_MAX
};

/* Per-worker HTTP counters. Owned by the worker; written with PT_CNT_*. */
struct pt_http_stats {
    uint64_t flows;     /* pt_http_init() calls */
    uint64_t txns;      /* transactions emitted */
    uint64_t requests;  /* request lines parsed */
    uint64_t responses; /* final status lines parsed */
    uint64_t err[PT_HTTP_ERR_MAX];
} __attribute__((aligned(PT_CACHELINE)));

/* Per-direction parser state (private: use through the functions below). */
struct pt_http_dir {
    uint64_t remain;   /* bytes left in the body or the current chunk */
    uint64_t body_len; /* entity bytes of the current message so far */
    uint64_t msg_ts;   /* ts_ns of the current message's first byte */
    int64_t clen;      /* Content-Length of the current message, -1 when absent */
    uint16_t line_len; /* bytes in line[] */
    uint8_t st;        /* parser state (http.c) */
    uint8_t flags;     /* per-message flags (http.c) */
    uint8_t fold;      /* field the previous header line set, for obs-fold (http.c) */
    char line[PT_HTTP_LINE_MAX];
};

/* Per-flow state: sizeof is 10024 bytes on x86-64 (http.c asserts <= 10 KiB):
 * two line buffers (2 x 2088 B with their direction state), PT_HTTP_PIPELINE
 * request entries (8 x 704 B) and the response being parsed (200 B).
 * Bounded by construction: nothing grows with the input; longer lines and
 * fields and deeper pipelines are cut and counted. Caller storage (the
 * lead's pool); no pointer into it survives a call. */
struct pt_http_state {
    struct pt_http_stats *stats; /* borrowed from the worker, set by pt_http_init() */
    struct pt_http_dir dir[2];   /* 0 client, 1 server */
    struct pt_http_req fifo[PT_HTTP_PIPELINE];
    struct pt_http_resp resp; /* the response being parsed */
    uint32_t depth;           /* requests seen (trans_depth of the last one) */
    uint8_t head, n;          /* FIFO: oldest entry and entries used */
    uint8_t flags;            /* http.c */
};

/* pt_http_feed() / pt_http_gap() result. */
enum pt_http_status {
    PT_HTTP_OK = 0,       /* keep feeding */
    PT_HTTP_NOT_HTTP = 1, /* the connection is not HTTP: stop feeding (nothing was emitted;
                           * pt_http_flush() is not needed) */
    PT_HTTP_STOP = 2,     /* both directions finished (tunnel after 101 / CONNECT, or both
                           * lost sync): stop feeding, call pt_http_flush() for what is pending */
};

/* Initialise @s (caller storage, any alignment of the struct) for a new
 * connection. @st (borrowed: must outlive @s) receives the counters; it is
 * not reset here (pt_http_stats_init()). Counts st->flows. Thread: owner of
 * @s and @st. */
void pt_http_init(struct pt_http_state *s, struct pt_http_stats *st);

/* Zero @st. Thread: its owner, before use. */
void pt_http_stats_init(struct pt_http_stats *st);

/* Add @src into @dst (end-of-run totals). Thread: caller owns @dst. */
void pt_http_stats_merge(struct pt_http_stats *dst, const struct pt_http_stats *src);

/* Feed @len in-order stream bytes of direction @dir (0 client, 1 server)
 * captured at @ts_ns. @data is borrowed for the call and read only within
 * [data, data + len). Calls @emit (may be NULL) for each transaction whose
 * response completes. Work is O(len) plus O(PT_HTTP_LINE_MAX) per line.
 * Returns enum pt_http_status (>= 0), or -EINVAL when @dir > 1 or @data is
 * NULL with @len > 0 (nothing counted). After PT_HTTP_NOT_HTTP or
 * PT_HTTP_STOP further calls do nothing and return the same value. */
int pt_http_feed(struct pt_http_state *s, unsigned dir, uint64_t ts_ns, const uint8_t *data,
                 size_t len, pt_http_emit_fn emit, void *arg);

/* Tell the parser that @len bytes of direction @dir were never captured
 * (a hole in the sequence space). Inside a body of known length they are
 * counted as body; anywhere else the direction is lost (app.http.gap) and
 * parses nothing more. Returns as pt_http_feed(). */
int pt_http_gap(struct pt_http_state *s, unsigned dir, uint64_t len, pt_http_emit_fn emit,
                void *arg);

/* End of the connection: emit the response in progress (a close-delimited
 * body completes here), then every request still waiting for its response
 * (counted as app.http.request_without_response), oldest first. Afterwards
 * @s is finished: pt_http_feed() returns PT_HTTP_STOP. Returns the number of
 * transactions emitted. Thread: owner of @s. */
unsigned pt_http_flush(struct pt_http_state *s, pt_http_emit_fn emit, void *arg);

/* True when @s holds nothing but its transaction count: a connection known
 * to be HTTP, between messages in both directions (no partial line, no
 * body, no request waiting for its response). Its owner may then keep only
 * pt_http_depth() and give the 10 KB state back, to pt_http_resume() it
 * when the connection carries bytes again: keep-alive connections idle for
 * minutes then hold no state. Thread: owner of @s. */
bool pt_http_idle(const struct pt_http_state *s);

/* Transactions seen so far on the connection of @s (the trans_depth of its
 * last request). Thread: owner of @s. */
static inline uint32_t pt_http_depth(const struct pt_http_state *s)
{
    return s->depth;
}

/* Set @s up for a connection that was pt_http_idle() after @depth
 * transactions: it then parses the next message exactly as the idle state
 * would have. Unlike pt_http_init(), counts no new flow. @st as for
 * pt_http_init() (borrowed). Thread: owner of @s and @st. */
void pt_http_resume(struct pt_http_state *s, struct pt_http_stats *st, uint32_t depth);

/* Stable dotted name of @err ("app.http.bad_chunk_size"). Never NULL. */
const char *pt_http_err_name(unsigned err);

#endif
