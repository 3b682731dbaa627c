/* dns.h - DNS message parser, Zeek-style transactions, DNS-over-TCP framing.
 *
 * Three layers, each usable alone:
 *  1. pt_dns_msg_parse(): one DNS message (a UDP datagram, or one TCP
 *     message without its 2-byte length) into a struct pt_dns_msg: header,
 *     flags, the first question, and up to PT_DNS_MAX_RR resource records of
 *     all sections with their Zeek dns.log `answers` text and, for A/AAAA,
 *     the address in binary (for the IP -> FQDN cache).
 *  2. struct pt_dns_flow: per-flow transaction state. pt_dns_flow_feed()
 *     pairs queries with responses as Zeek's base/protocols/dns/main.zeek
 *     does and emits one struct pt_dns_txn per dns.log line;
 *     pt_dns_flow_flush() emits what is still pending at flow end.
 *  3. struct pt_dns_tcp: the 2-byte length framing of DNS over TCP across
 *     segments, feeding complete messages to layer 2.
 *
 * Threads: everything here runs on the capture worker that owns the flow
 * and the stats; nothing allocates, locks, logs or makes a syscall, and all
 * work per call is bounded by the input length and the constants below.
 * Malformed input never fails hard: it is counted in struct pt_dns_stats
 * under a stable dotted name (pt_dns_err_name()) and parsing keeps what it
 * had decoded before the fault.
 *
 * Strings. Names and answer texts are byte arrays copied from the wire:
 * they may hold any byte, NUL included, so each comes with its length
 * (*_len); the array is also NUL-terminated after that length so plain
 * ASCII names can be printed directly. Zeek's rules apply: labels are
 * joined with '.', no trailing dot, the root is "" (empty), answer names are
 * lower-cased (ASCII only), the query keeps the case it had on the wire
 * lower-cased too (Zeek's `query`). Escaping for output is the writer's job;
 * pt_dns_escape() gives Zeek's ASCII-log form (\xNN) when one is wanted.
 * A name or text longer than its array is cut at the array size, counted
 * (app.dns.name_too_long / app.dns.text_truncated) and flagged. */
#ifndef PT_DNS_H
#define PT_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pt/common.h"

#define PT_DNS_NAME_MAX    256  /* bytes of a name kept, NUL included (wire max is 253) */
#define PT_DNS_TEXT_MAX    256  /* bytes of one formatted answer kept, NUL included */
#define PT_DNS_MAX_RR      32   /* RRs kept per message, all sections; more are counted */
#define PT_DNS_MAX_ANSWERS 16   /* answers kept per transaction (Zeek `answers`/`TTLs`) */
#define PT_DNS_MAX_PENDING 8    /* unmatched queries/responses kept per flow */
#define PT_DNS_MAX_JUMPS   16   /* compression pointers followed per name */
#define PT_DNS_TCP_BUF     2048 /* bytes of one TCP DNS message kept per direction */
#define PT_DNS_HDR_LEN     12

/* Malformed-input and limit counters. The names, not the numbers, are the
 * API; new reasons go before PT_DNS_ERR_MAX. */
enum pt_dns_err {
    PT_DNS_OK = 0,
    PT_DNS_ERR_SHORT,            /* app.dns.short_header: fewer than 12 bytes */
    PT_DNS_ERR_TRUNC,            /* app.dns.truncated: a question or RR runs past the end */
    PT_DNS_ERR_RDLEN,            /* app.dns.bad_rdlength: RDLENGTH beyond the message */
    PT_DNS_ERR_RDATA,            /* app.dns.bad_rdata: RDATA too short for its type, or a
                                  * name inside it overruns RDLENGTH */
    PT_DNS_ERR_LABEL,            /* app.dns.bad_label: label type 0x40/0x80, or length > 63 */
    PT_DNS_ERR_PTR_FORWARD,      /* app.dns.pointer_forward: pointer not strictly backwards */
    PT_DNS_ERR_PTR_LOOP,         /* app.dns.pointer_too_many: more than PT_DNS_MAX_JUMPS */
    PT_DNS_ERR_NAME_LONG,        /* app.dns.name_too_long: over 255 wire bytes or the array */
    PT_DNS_ERR_TEXT_TRUNC,       /* app.dns.text_truncated: answer text cut to the array */
    PT_DNS_ERR_RR_OVERFLOW,      /* app.dns.rr_overflow: RRs past PT_DNS_MAX_RR not kept */
    PT_DNS_ERR_ANSWERS_OVERFLOW, /* app.dns.answers_overflow: answers past PT_DNS_MAX_ANSWERS */
    PT_DNS_ERR_TRAILING,         /* app.dns.trailing_bytes: bytes after the last RR */
    PT_DNS_ERR_OPCODE,           /* app.dns.opcode_untracked: opcode not 0/4/5, no txn */
    PT_DNS_ERR_PENDING_FULL,     /* app.dns.pending_full: table full, oldest entry emitted */
    PT_DNS_ERR_TCP_TOO_LONG,     /* app.dns.tcp_msg_too_long: TCP message > PT_DNS_TCP_BUF */
    PT_DNS_ERR_TCP_GAP,          /* app.dns.tcp_gap: stream hole, direction resynchronised */
    PT_DNS_ERR_TCP_SHORT_MSG,    /* app.dns.tcp_short_msg: length prefix < 12 */
    PT_DNS_ERR_MAX
};

/* Stable dotted name of @err ("app.dns.truncated"). Never NULL. Thread: any. */
const char *pt_dns_err_name(unsigned err);

/* Per-worker DNS counters. Owned by one worker, written with PT_CNT_*. */
struct pt_dns_stats {
    uint64_t msgs;      /* messages handed to pt_dns_msg_parse() */
    uint64_t queries;   /* ... with QR = 0 */
    uint64_t responses; /* ... with QR = 1 */
    uint64_t txns;      /* transactions emitted */
    uint64_t err[PT_DNS_ERR_MAX];
};

/* Zero @st (caller storage). Thread: the owner. */
void pt_dns_stats_init(struct pt_dns_stats *st);

/* Add @src into @dst. Thread: caller owns @dst; @src may be live. */
void pt_dns_stats_merge(struct pt_dns_stats *dst, const struct pt_dns_stats *src);

enum pt_dns_section {
    PT_DNS_SEC_ANSWER = 1,
    PT_DNS_SEC_AUTHORITY = 2,
    PT_DNS_SEC_ADDITIONAL = 3,
};

/* struct pt_dns_rr.flags */
#define PT_DNS_RR_LOGGED     0x01 /* Zeek logs it in `answers` (text may still be "") */
#define PT_DNS_RR_NAME_TRUNC 0x02 /* owner or a name in the text was cut or malformed */
#define PT_DNS_RR_TEXT_TRUNC 0x04 /* text cut to PT_DNS_TEXT_MAX - 1 */
#define PT_DNS_RR_BAD_RDATA  0x08 /* RDATA malformed: text empty, not logged */

/* One resource record (548 bytes). */
struct pt_dns_rr {
    uint8_t section;  /* enum pt_dns_section */
    uint8_t flags;    /* PT_DNS_RR_* */
    uint8_t addr_ver; /* 4 (A) or 6 (AAAA) when .addr is valid, else 0 */
    uint16_t type;
    uint16_t rclass; /* OPT: the requestor's UDP payload size */
    uint32_t ttl;    /* OPT: extended rcode, version, DO bit, as on the wire */
    uint16_t rdlen;
    uint16_t owner_len; /* bytes in owner (NUL not counted) */
    uint16_t text_len;  /* bytes in text */
    uint8_t addr[16];   /* A as ::ffff:a.b.c.d, AAAA as is */
    char owner[PT_DNS_NAME_MAX];
    /* Zeek's `answers` entry: A/AAAA address text; NS/CNAME/PTR/MX/SRV
     * target; SOA mname; "TXT <len> <bytes>" per string (SPF likewise);
     * "NAPTR order pref flags service regexp replacement"; "RRSIG <type
     * covered> <signer|<Root>>"; "DNSKEY <alg>"; "DS <alg> <digest type>";
     * "NSEC <owner> <next>"; "NSEC3"; "NSEC3PARAM"; "SSHFP: <hex>";
     * "LOC:  <size> <hp> <vp>"; "BIND9 signing signal"; unknown types
     * "<unknown type=N>". Types Zeek parses but does not log (OPT, TSIG,
     * HINFO, CAA, SVCB, HTTPS, WKS) leave PT_DNS_RR_LOGGED clear (WKS sets
     * it with an empty text, as Zeek's do_reply("") does). */
    char text[PT_DNS_TEXT_MAX];
};

/* One parsed message (17832 bytes: keep one per worker, not per flow). */
struct pt_dns_msg {
    uint16_t id;
    uint16_t flags; /* raw header flags word */
    bool qr, aa, tc, rd, ra, ad, cd;
    uint8_t opcode;
    uint8_t z;          /* Zeek's Z: the three bits Z|AD|CD ((flags >> 4) & 7) */
    uint8_t rcode;      /* header RCODE, 4 bits (Zeek's rcode) */
    uint16_t ext_rcode; /* RCODE with the OPT extended bits (rcode | ext << 4) */
    bool has_opt;
    uint16_t qdcount, ancount, nscount, arcount; /* as on the wire */

    /* First question; valid when has_question. */
    bool has_question;
    bool qname_trunc; /* the name was cut or malformed */
    uint16_t qtype, qclass;
    uint16_t qname_len;
    char qname[PT_DNS_NAME_MAX]; /* lower-cased as Zeek logs `query` */

    uint16_t n_rr; /* RRs kept in rr[] (all sections, wire order) */
    uint16_t err;  /* first enum pt_dns_err met, PT_DNS_OK when clean */
    bool complete; /* every counted question and RR was parsed */
    struct pt_dns_rr rr[PT_DNS_MAX_RR];
};

/* Parse the DNS message @data/@len into @m (caller storage, overwritten).
 * Reads only data[0..len). Names follow compression pointers only strictly
 * backwards, at most PT_DNS_MAX_JUMPS per name and 255 wire bytes in all, so
 * a name costs at most 255 + 2 * PT_DNS_MAX_JUMPS byte reads; RRs past
 * PT_DNS_MAX_RR are still walked (to count them and reach the end) but not
 * kept, so the whole call is O(len).
 * Returns 0 when the 12-byte header was read (m->err/m->complete say whether
 * the rest was clean; what parsed before the first fault stays in @m), or
 * -EBADMSG when @len < 12 (counted as app.dns.short_header; @m zeroed).
 * Counts the message, its direction and every fault in @st. Thread: the
 * caller owns @m and @st. */
int pt_dns_msg_parse(struct pt_dns_msg *m, const uint8_t *data, size_t len,
                     struct pt_dns_stats *st);

/* Zeek names. Unknown values give Zeek's defaults "query-N", "qclass-N",
 * "rcode-N", "opcode-N" written into @buf (which must hold 16 bytes) and
 * return @buf; known values return a static string. Thread: any. */
const char *pt_dns_qtype_name(uint16_t qtype, char buf[16]);
const char *pt_dns_qclass_name(uint16_t qclass, char buf[16]);
const char *pt_dns_rcode_name(uint16_t rcode, char buf[16]);

/* The slots of the per-second DNS series (dns_queries{qtype=...},
 * dns_queries{rcode=...}): the common query types and response codes each
 * have one, every other value shares "other", and a transaction without a
 * query ("none" qtype) or without a response ("none" rcode) has its own. */
#define PT_DNS_SERIES_QTYPES 18
#define PT_DNS_SERIES_RCODES 8
struct pt_dns_txn;
unsigned pt_dns_series_qtype(const struct pt_dns_txn *txn);
unsigned pt_dns_series_rcode(const struct pt_dns_txn *txn);
/* Names of the slots: "A", "AAAA", ..., "other", "none"; "NOERROR", ...,
 * "other", "none". Static strings. */
const char *pt_dns_series_qtype_name(unsigned slot);
const char *pt_dns_series_rcode_name(unsigned slot);
const char *pt_dns_opcode_name(uint8_t opcode, char buf[16]);

/* Write @len bytes of @s into @out (@cap bytes, NUL-terminated, cut to fit)
 * as Zeek's ASCII log does: printable ASCII as is, every other byte and '\'
 * as \xNN. Returns the length written. Thread: any. */
size_t pt_dns_escape(char *out, size_t cap, const char *s, size_t len);

/* One dns.log line (4496 bytes; passed to the callback by pointer, never kept
 * by this module). Fields are those of Zeek's DNS::Info; has_* say whether
 * an &optional field is set (Zeek writes "-" otherwise). */
struct pt_dns_txn {
    uint64_t ts_ns;  /* first message of the transaction */
    uint64_t rtt_ns; /* valid when has_rtt: first logged answer - ts */
    uint16_t trans_id;
    bool has_query, has_qtype, has_rcode, has_rtt;
    bool AA, TC, RD, RA, rejected;
    uint8_t Z;
    uint8_t opcode;
    uint16_t qclass, qtype; /* valid when has_qtype (set only from a query, as Zeek) */
    uint16_t rcode;         /* valid when has_rcode (set from a response) */
    bool saw_query, saw_reply;
    bool query_trunc; /* query name was cut or malformed */
    uint16_t query_len;
    char query[PT_DNS_NAME_MAX];
    uint16_t n_answers; /* entries in answers[]/TTLs[] */
    bool answers_trunc; /* more answers were seen than kept (counted) */
    uint32_t TTLs[PT_DNS_MAX_ANSWERS];
    uint16_t answer_len[PT_DNS_MAX_ANSWERS];
    char answers[PT_DNS_MAX_ANSWERS][PT_DNS_TEXT_MAX];
};

/* Called once per finished transaction. @txn is borrowed for the call only.
 * @resp is the response message that completed it (its rr[] carries the
 * binary A/AAAA answers with owner names and TTLs for the IP -> FQDN
 * cache), or NULL when the transaction ends without a response (flush,
 * eviction). Runs on the caller's thread, inside feed/flush. */
typedef void (*pt_dns_emit_fn)(void *arg, const struct pt_dns_txn *txn,
                               const struct pt_dns_msg *resp);

/* A query waiting for its response (280 bytes). */
struct pt_dns_pending {
    uint64_t ts_ns;
    uint32_t seq; /* arrival order: FIFO matching, eviction and flush order */
    uint16_t trans_id;
    uint8_t used;  /* 0 free, 1 query waiting */
    uint8_t flags; /* PT_DNS_PEND_* */
    uint8_t Z, opcode;
    uint16_t qtype, qclass;
    uint16_t query_len;
    char query[PT_DNS_NAME_MAX];
};

#define PT_DNS_PEND_RD          0x01
#define PT_DNS_PEND_TC          0x02
#define PT_DNS_PEND_HAS_Q       0x04 /* a question was parsed: query/qtype/qclass valid */
#define PT_DNS_PEND_QUERY_TRUNC 0x08

/* Per-flow transaction state, caller storage (the lead's flow). sizeof ==
 * 8 + PT_DNS_MAX_PENDING * 280 = 2248 bytes on x86-64; a static assertion
 * in dns.c keeps it at or below 2304. Bounded because the table is fixed:
 *  - a query that finds all PT_DNS_MAX_PENDING entries used evicts the
 *    oldest one, which is emitted as an unanswered query (what Zeek logs at
 *    flow end) and counted as app.dns.pending_full;
 *  - a response is never stored: with a matching query it completes the
 *    transaction, without one it is emitted at once as a response-only
 *    transaction (Zeek keeps it until the flow ends and logs the same
 *    fields; the difference is only when it is emitted, and that a query
 *    arriving after its own response is not merged with it).
 * pt_dns_flow_init() before the first feed; nothing is owned, so there is
 * no _fini, but call pt_dns_flow_flush() at flow end. */
struct pt_dns_flow {
    uint32_t seq;
    uint32_t n_used;
    struct pt_dns_pending p[PT_DNS_MAX_PENDING];
};

void pt_dns_flow_init(struct pt_dns_flow *f);

/* Feed one DNS message of the flow. @dir: 0 = from the originator, 1 = from
 * the responder; queries and responses are told apart by the QR bit, as
 * Zeek does, so @dir is informational only. @ts_ns: capture time.
 * @scratch: a struct pt_dns_msg the caller owns (one per worker) used to
 * parse into; after the call it holds the parsed message.
 * Behaviour (Zeek main.zeek, opcodes 0 query, 4 notify, 5 update):
 *  - a query is stored as pending (Zeek's pending_queries);
 *  - a response is matched to the oldest pending query with its trans_id,
 *    preferring one whose query name equals the response's question, and
 *    the transaction is emitted with the query's fields (query, qclass,
 *    qtype, RD, TC, Z) and the response's (rcode, rejected; AA, RA, rtt,
 *    answers, TTLs once an answer-section RR Zeek logs is seen); without
 *    a pending query it is emitted as a response-only transaction (query
 *    = the first logged answer's owner, no qclass/qtype, RD/TC/Z unset);
 *    a second response to one query is therefore a second, response-only
 *    record, as in Zeek's dns-two-responses baseline;
 *  - a query with several questions keeps the first (Zeek keeps the last);
 *  - other opcodes only count (app.dns.opcode_untracked); for opcode 5
 *    (update) the answers are formatted as for a query, without Zeek's
 *    "pre:/add:/del:" prefixes.
 * Returns 0, or -EBADMSG when @len < 12 (nothing else happens).
 * Thread: the flow's owner (caller holds the flow). */
int pt_dns_flow_feed(struct pt_dns_flow *f, struct pt_dns_msg *scratch, unsigned dir,
                     uint64_t ts_ns, const uint8_t *msg, size_t len, pt_dns_emit_fn emit, void *arg,
                     struct pt_dns_stats *st);

/* Emit every pending query as an unanswered transaction (in arrival order)
 * and empty the table. Call at flow end. Thread: the flow's owner. */
void pt_dns_flow_flush(struct pt_dns_flow *f, pt_dns_emit_fn emit, void *arg,
                       struct pt_dns_stats *st);

/* DNS over TCP, one direction: the 2-byte length prefix and the message
 * bytes, assembled across segments. sizeof == 2056 bytes. */
struct pt_dns_tcp_dir {
    uint16_t need;  /* length of the message being assembled (0 = reading the prefix) */
    uint16_t have;  /* bytes of it received so far (kept: min(have, PT_DNS_TCP_BUF)) */
    uint8_t pfx[2]; /* length prefix bytes */
    uint8_t pfx_n;  /* prefix bytes received (0..2) */
    uint8_t dead;   /* after a gap: this direction is no longer parsed */
    uint8_t buf[PT_DNS_TCP_BUF];
};

/* Both directions: sizeof == 4112 bytes per DNS-over-TCP flow. */
struct pt_dns_tcp {
    struct pt_dns_tcp_dir d[2];
};

void pt_dns_tcp_init(struct pt_dns_tcp *t);

/* Feed @len in-order stream bytes of direction @dir (0 originator, 1
 * responder). Each complete message is passed to pt_dns_flow_feed() with
 * @ts_ns (the time of the segment that completed it). A message longer than
 * PT_DNS_TCP_BUF: its first PT_DNS_TCP_BUF bytes are parsed as a cut message
 * (header, question and whichever RRs fit; the rest counted as truncated)
 * when its last byte arrives, the remainder is skipped, and
 * app.dns.tcp_msg_too_long is counted. A length prefix below 12 is counted
 * (app.dns.tcp_short_msg) and its bytes skipped. Work is O(@len).
 * Thread: the flow's owner. */
void pt_dns_tcp_feed(struct pt_dns_tcp *t, struct pt_dns_flow *f, struct pt_dns_msg *scratch,
                     unsigned dir, uint64_t ts_ns, const uint8_t *data, size_t len,
                     pt_dns_emit_fn emit, void *arg, struct pt_dns_stats *st);

/* The stream of @dir lost bytes (a hole): framing cannot be trusted any
 * more, so the direction stops being parsed; counted as app.dns.tcp_gap.
 * Thread: the flow's owner. */
void pt_dns_tcp_gap(struct pt_dns_tcp *t, unsigned dir, struct pt_dns_stats *st);

#endif
