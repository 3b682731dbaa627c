/* dns.c - DNS message parser, Zeek-style transactions, DNS-over-TCP framing.
 *
 * DESIGN. The parser walks a message with plain offsets into the caller's
 * buffer and checks every read against the message length; nothing is
 * copied except into the fixed arrays of struct pt_dns_msg.
 *
 * Names (read_name) are the only place where input could make work grow:
 *  1. a label is 1..63 bytes; type bits 01/10 are rejected (bad_label);
 *  2. a compression pointer must point strictly before the start of the
 *     run of labels it ends (the name start, or the previous pointer's
 *     target), so successive targets decrease and a loop is impossible
 *     (pointer_forward otherwise);
 *  3. at most PT_DNS_MAX_JUMPS pointers per name (pointer_too_many);
 *  4. text beyond 255 wire bytes or beyond the output array is not kept
 *     (name_too_long); the labels are still walked up to the terminating
 *     zero or the next pointer, which then ends the name without being
 *     followed (so the RR after it is found, as tshark finds it, and a
 *     compression bomb costs nothing more); each run reads at most len
 *     bytes, so a name costs at most (PT_DNS_MAX_JUMPS + 1) * len.
 * A fault in a name, a question or an RR stops the message there (the
 * sections after it cannot be located); what was decoded stays.
 *
 * Answer texts follow Zeek's base/protocols/dns/main.zeek (see dns.h). The
 * transaction layer follows its set_session/do_reply logic, with a fixed
 * pending table instead of Zeek's unbounded queues (dns.h says where the
 * output differs). */
#include <errno.h>
#include <stdio.h>

#include "pt/dns.h"
#include "pt/obuf.h"

_Static_assert(sizeof(struct pt_dns_flow) <= 2304, "per-flow DNS state stays small");
_Static_assert(PT_DNS_TCP_BUF <= 65535, "tcp buffer offsets are uint16_t");

static const char *const err_names[PT_DNS_ERR_MAX] = {
    [PT_DNS_OK] = "app.dns.ok",
    [PT_DNS_ERR_SHORT] = "app.dns.short_header",
    [PT_DNS_ERR_TRUNC] = "app.dns.truncated",
    [PT_DNS_ERR_RDLEN] = "app.dns.bad_rdlength",
    [PT_DNS_ERR_RDATA] = "app.dns.bad_rdata",
    [PT_DNS_ERR_LABEL] = "app.dns.bad_label",
    [PT_DNS_ERR_PTR_FORWARD] = "app.dns.pointer_forward",
    [PT_DNS_ERR_PTR_LOOP] = "app.dns.pointer_too_many",
    [PT_DNS_ERR_NAME_LONG] = "app.dns.name_too_long",
    [PT_DNS_ERR_TEXT_TRUNC] = "app.dns.text_truncated",
    [PT_DNS_ERR_RR_OVERFLOW] = "app.dns.rr_overflow",
    [PT_DNS_ERR_ANSWERS_OVERFLOW] = "app.dns.answers_overflow",
    [PT_DNS_ERR_TRAILING] = "app.dns.trailing_bytes",
    [PT_DNS_ERR_OPCODE] = "app.dns.opcode_untracked",
    [PT_DNS_ERR_PENDING_FULL] = "app.dns.pending_full",
    [PT_DNS_ERR_TCP_TOO_LONG] = "app.dns.tcp_msg_too_long",
    [PT_DNS_ERR_TCP_GAP] = "app.dns.tcp_gap",
    [PT_DNS_ERR_TCP_SHORT_MSG] = "app.dns.tcp_short_msg",
};

const char *pt_dns_err_name(unsigned err)
{
    if (err < PT_DNS_ERR_MAX && err_names[err])
        return err_names[err];
    return "app.dns.unknown";
}

void pt_dns_stats_init(struct pt_dns_stats *st)
{
    memset(st, 0, sizeof *st);
}

void pt_dns_stats_merge(struct pt_dns_stats *dst, const struct pt_dns_stats *src)
{
    PT_CNT_ADD(dst->msgs, PT_CNT_GET(src->msgs));
    PT_CNT_ADD(dst->queries, PT_CNT_GET(src->queries));
    PT_CNT_ADD(dst->responses, PT_CNT_GET(src->responses));
    PT_CNT_ADD(dst->txns, PT_CNT_GET(src->txns));
    for (unsigned i = 0; i < PT_DNS_ERR_MAX; i++)
        PT_CNT_ADD(dst->err[i], PT_CNT_GET(src->err[i]));
}

/* ---- names tables (Zeek's consts.zeek) ---- */

static const char *const qtype_low[] = {
    [1] = "A",           [2] = "NS",      [3] = "MD",        [4] = "MF",       [5] = "CNAME",
    [6] = "SOA",         [7] = "MB",      [8] = "MG",        [9] = "MR",       [10] = "NULL",
    [11] = "WKS",        [12] = "PTR",    [13] = "HINFO",    [14] = "MINFO",   [15] = "MX",
    [16] = "TXT",        [17] = "RP",     [18] = "AFSDB",    [19] = "X25",     [20] = "ISDN",
    [21] = "RT",         [22] = "NSAP",   [23] = "NSAP-PTR", [24] = "SIG",     [25] = "KEY",
    [26] = "PX",         [27] = "GPOS",   [28] = "AAAA",     [29] = "LOC",     [30] = "NXT",
    [31] = "EID",        [32] = "NIMLOC", [33] = "SRV",      [34] = "ATMA",    [35] = "NAPTR",
    [36] = "KX",         [37] = "CERT",   [38] = "A6",       [39] = "DNAME",   [40] = "SINK",
    [41] = "OPT",        [42] = "APL",    [43] = "DS",       [44] = "SSHFP",   [45] = "IPSECKEY",
    [46] = "RRSIG",      [47] = "NSEC",   [48] = "DNSKEY",   [49] = "DHCID",   [50] = "NSEC3",
    [51] = "NSEC3PARAM", [52] = "TLSA",   [53] = "SMIMEA",   [55] = "HIP",     [56] = "NINFO",
    [57] = "RKEY",       [58] = "TALINK", [59] = "CDS",      [60] = "CDNSKEY", [61] = "OPENPGPKEY",
    [62] = "CSYNC",      [63] = "ZONEMD", [64] = "SVCB",     [65] = "HTTPS",   [99] = "SPF",
    [100] = "UINFO",     [101] = "UID",   [102] = "GID",     [103] = "UNSPEC", [104] = "NID",
    [105] = "L32",       [106] = "L64",   [107] = "LP",      [108] = "EUI48",  [109] = "EUI64",
};

static const struct {
    uint16_t code;
    const char *name;
} qtype_high[] = {
    {249, "TKEY"},  {250, "TSIG"},   {251, "IXFR"},     {252, "AXFR"},  {253, "MAILB"},
    {254, "MAILA"}, {255, "*"},      {256, "URI"},      {257, "CAA"},   {32768, "TA"},
    {32769, "DLV"}, {65281, "WINS"}, {65282, "WINS-R"}, {65422, "XPF"}, {65521, "INTEGRITY"},
};

const char *pt_dns_qtype_name(uint16_t qtype, char buf[16])
{
    if (qtype < PT_ARRAY_LEN(qtype_low) && qtype_low[qtype])
        return qtype_low[qtype];
    for (unsigned i = 0; i < PT_ARRAY_LEN(qtype_high); i++)
        if (qtype_high[i].code == qtype)
            return qtype_high[i].name;
    snprintf(buf, 16, "query-%u", (unsigned)qtype);
    return buf;
}

const char *pt_dns_qclass_name(uint16_t qclass, char buf[16])
{
    switch (qclass) {
    case 1:
        return "C_INTERNET";
    case 2:
        return "C_CSNET";
    case 3:
        return "C_CHAOS";
    case 4:
        return "C_HESIOD";
    case 254:
        return "C_NONE";
    case 255:
        return "C_ANY";
    }
    snprintf(buf, 16, "qclass-%u", (unsigned)qclass);
    return buf;
}

static const char *const rcode_names[] = {
    [0] = "NOERROR",        [1] = "FORMERR",        [2] = "SERVFAIL",       [3] = "NXDOMAIN",
    [4] = "NOTIMP",         [5] = "REFUSED",        [6] = "YXDOMAIN",       [7] = "YXRRSET",
    [8] = "NXRRSet",        [9] = "NOTAUTH",        [10] = "NOTZONE",       [11] = "unassigned-11",
    [12] = "unassigned-12", [13] = "unassigned-13", [14] = "unassigned-14", [15] = "unassigned-15",
    [16] = "BADVERS",       [17] = "BADKEY",        [18] = "BADTIME",       [19] = "BADMODE",
    [20] = "BADNAME",       [21] = "BADALG",        [22] = "BADTRUNC",      [23] = "BADCOOKIE",
};

const char *pt_dns_rcode_name(uint16_t rcode, char buf[16])
{
    if (rcode < PT_ARRAY_LEN(rcode_names))
        return rcode_names[rcode];
    if (rcode == 3842)
        return "BADSIG";
    snprintf(buf, 16, "rcode-%u", (unsigned)rcode);
    return buf;
}

const char *pt_dns_opcode_name(uint8_t opcode, char buf[16])
{
    switch (opcode) {
    case 0:
        return "query";
    case 1:
        return "iquery";
    case 2:
        return "server-status";
    case 4:
        return "notify";
    case 5:
        return "dynamic-update";
    case 6:
        return "dso";
    }
    snprintf(buf, 16, "opcode-%u", (unsigned)opcode);
    return buf;
}

size_t pt_dns_escape(char *out, size_t cap, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;

    if (!cap)
        return 0;
    for (size_t i = 0; i < len; i++) {
        uint8_t c = (uint8_t)s[i];

        if (c >= 0x20 && c < 0x7f && c != '\\') {
            if (o + 1 >= cap)
                break;
            out[o++] = (char)c;
        } else {
            if (o + 4 >= cap)
                break;
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        }
    }
    out[o] = 0;
    return o;
}

/* ---- parser ---- */

struct rd {
    const uint8_t *b; /* the whole message */
    size_t len;
    struct pt_dns_msg *m;
    struct pt_dns_stats *st;
    bool overflow; /* rr_overflow already counted */
};

static void fault(struct rd *r, unsigned err)
{
    if (r->m->err == PT_DNS_OK)
        r->m->err = (uint16_t)err;
    PT_CNT_INC(r->st->err[err]);
}

static inline uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Bounded text builder over a fixed array; cut text sets .trunc. */
struct txt {
    char *b;
    size_t cap; /* array size, NUL included */
    size_t n;
    bool trunc;
};

static void txt_put(struct txt *t, const void *s, size_t n)
{
    size_t room = t->cap - 1 - t->n;

    if (n > room) {
        n = room;
        t->trunc = true;
    }
    memcpy(t->b + t->n, s, n);
    t->n += n;
    t->b[t->n] = 0;
}

static void txt_str(struct txt *t, const char *s)
{
    txt_put(t, s, strlen(s));
}

static void txt_fmt_u(struct txt *t, unsigned v)
{
    char tmp[24];
    size_t n = (size_t)(pt_fmt_u64(tmp, v) - tmp);

    txt_put(t, tmp, n < sizeof tmp ? n : sizeof tmp); /* n <= 10: the bound is for gcc */
}

/* @n bytes of @in into @out with ASCII upper case lowered (names are kept
 * lower-cased). */
static void lower_copy(char *out, const uint8_t *in, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        out[i] = (char)(in[i] >= 'A' && in[i] <= 'Z' ? in[i] + 32 : in[i]);
}

/* Read the name at @off. The first run of labels must end before @limit
 * (the RDATA end, or the message end); runs reached through pointers may use
 * the whole message. Writes the text form into @out (PT_DNS_NAME_MAX bytes,
 * NUL-terminated), lower-cased. Returns the offset just past the name where
 * it was read (after the first pointer, if any), or 0 on a fault that makes
 * the rest of the RR unreadable (counted). *@cut is set when the text was
 * not kept whole (too long, counted as name_too_long). */
static size_t read_name(struct rd *r, size_t off, size_t limit, char *out, uint16_t *out_len,
                        bool *cut)
{
    struct txt t = {.b = out, .cap = PT_DNS_NAME_MAX};
    size_t pos = off, run_start = off, end = 0, wire = 0;
    unsigned jumps = 0;

    out[0] = 0;
    *cut = false;
    for (;;) {
        if (pos >= limit) {
            fault(r, PT_DNS_ERR_TRUNC);
            return 0;
        }
        uint8_t c = r->b[pos];

        if (c == 0) {
            pos++;
            break;
        }
        if ((c & 0xc0) == 0xc0) {
            if (pos + 1 >= limit) {
                fault(r, PT_DNS_ERR_TRUNC);
                return 0;
            }
            size_t target = (size_t)(c & 0x3f) << 8 | r->b[pos + 1];

            if (*cut) {
                /* Already too long: the rest would not be kept, and where
                 * the name ends in the message is known now. */
                if (!end)
                    end = pos + 2;
                break;
            }
            if (target >= run_start) {
                fault(r, PT_DNS_ERR_PTR_FORWARD);
                return 0;
            }
            if (++jumps > PT_DNS_MAX_JUMPS) {
                fault(r, PT_DNS_ERR_PTR_LOOP);
                return 0;
            }
            if (!end)
                end = pos + 2;
            pos = run_start = target;
            limit = r->len;
            continue;
        }
        if (c & 0xc0) {
            fault(r, PT_DNS_ERR_LABEL);
            return 0;
        }
        if (c > limit - pos - 1) {
            fault(r, PT_DNS_ERR_TRUNC);
            return 0;
        }
        wire += (size_t)c + 1;
        if (wire > 255 && !*cut) {
            *cut = true;
            fault(r, PT_DNS_ERR_NAME_LONG);
        }
        if (!*cut && t.n + 1 + c <= t.cap - 1) {
            /* the label and its dot fit: lower-case it straight into place */
            char *o = t.b + t.n;
            const uint8_t *in = r->b + pos + 1;

            if (t.n)
                *o++ = '.';
            lower_copy(o, in, c);
            o[c] = 0;
            t.n = (size_t)(o + c - t.b);
        } else if (!*cut) {
            char lab[63];

            lower_copy(lab, r->b + pos + 1, c);
            if (t.n)
                txt_put(&t, ".", 1);
            txt_put(&t, lab, c);
            if (t.trunc) {
                *cut = true;
                fault(r, PT_DNS_ERR_NAME_LONG);
            }
        }
        pos += (size_t)c + 1;
    }
    *out_len = (uint16_t)t.n;
    return end ? end : pos;
}

static void fmt_addr(struct pt_dns_rr *rr, struct txt *t)
{
    char buf[64], *e;
    size_t n;

    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

    /* Zeek keeps IPv4 as v4-mapped IPv6 and prints any such address as
     * IPv4, an AAAA ::ffff:a.b.c.d included. The record writers' formatters
     * print what printf and inet_ntop() print, without their cost (an
     * answer of every A/AAAA record). */
    if (rr->addr_ver == 4 || memcmp(rr->addr, mapped, 12) == 0)
        e = pt_fmt_ipv4(buf, rr->addr + 12);
    else
        e = pt_fmt_ipv6(buf, rr->addr);
    n = (size_t)(e - buf);
    txt_put(t, buf, n < sizeof buf ? n : sizeof buf); /* n <= 45: the bound is for gcc */
}

/* A name inside RDATA [off, end), appended to @t. Returns the offset past
 * it, 0 on a fault (counted by read_name). */
static size_t rdata_name(struct rd *r, struct pt_dns_rr *rr, size_t off, size_t end, struct txt *t,
                         bool root_mark)
{
    char name[PT_DNS_NAME_MAX];
    uint16_t n = 0;
    bool cut;
    size_t next = read_name(r, off, end, name, &n, &cut);

    if (!next)
        return 0;
    if (cut)
        rr->flags |= PT_DNS_RR_NAME_TRUNC;
    if (root_mark && n == 0)
        txt_str(t, "<Root>");
    else
        txt_put(t, name, n);
    return next;
}

/* One <character-string> at @off inside [.., end): appends "<TAG> <len> <bytes>".
 * Returns the offset past it, 0 when it overruns the RDATA. */
static size_t rdata_charstr(struct rd *r, size_t off, size_t end, struct txt *t, const char *tag)
{
    uint8_t n = r->b[off];

    if ((size_t)n > end - off - 1)
        return 0;
    if (tag) {
        txt_str(t, tag);
        txt_fmt_u(t, n);
        txt_put(t, " ", 1);
    }
    txt_put(t, r->b + off + 1, n);
    return off + 1 + n;
}

static bool fmt_txt(struct rd *r, size_t off, size_t end, struct txt *t, const char *tag)
{
    for (bool first = true; off < end; first = false) {
        if (!first)
            txt_put(t, " ", 1);
        off = rdata_charstr(r, off, end, t, tag);
        if (!off)
            return false;
    }
    return true;
}

/* NAPTR: order, preference, flags, service, regexp, replacement. */
static bool fmt_naptr(struct rd *r, struct pt_dns_rr *rr, size_t off, size_t end, struct txt *t)
{
    char tmp[PT_DNS_TEXT_MAX];
    struct txt part = {.b = tmp, .cap = sizeof tmp};

    if (end - off < 7)
        return false;
    txt_str(t, "NAPTR ");
    txt_fmt_u(t, get16(r->b + off));
    txt_put(t, " ", 1);
    txt_fmt_u(t, get16(r->b + off + 2));
    off += 4;
    for (int i = 0; i < 2; i++) { /* flags, service */
        txt_put(t, " ", 1);
        if (off >= end || !(off = rdata_charstr(r, off, end, t, NULL)))
            return false;
    }
    txt_put(t, " ", 1);
    size_t re_start = t->n;
    if (off >= end || !(off = rdata_charstr(r, off, end, t, NULL))) /* regexp */
        return false;
    if (!rdata_name(r, rr, off, end, &part, false)) /* replacement */
        return false;
    if (part.n) {
        if (t->n > re_start)
            txt_put(t, " ", 1);
        txt_put(t, tmp, part.n);
    }
    return true;
}

static void hex_bytes(struct txt *t, const uint8_t *p, size_t n)
{
    static const char hex[] = "0123456789abcdef";

    for (size_t i = 0; i < n && !t->trunc; i++) {
        char h[2] = {hex[p[i] >> 4], hex[p[i] & 15]};
        txt_put(t, h, 2);
    }
}

/* Fill rr->text/flags/addr from RDATA [off, off + rr->rdlen). Returns false
 * when the RDATA is malformed for its type (the RR is kept, not logged). */
static bool fmt_rdata(struct rd *r, struct pt_dns_rr *rr, size_t off, struct txt *t)
{
    const uint8_t *p = r->b + off;
    size_t n = rr->rdlen, end = off + n;

    rr->flags |= PT_DNS_RR_LOGGED;
    switch (rr->type) {
    case 1: /* A */
        if (n != 4)
            return false;
        memset(rr->addr, 0, 10);
        rr->addr[10] = rr->addr[11] = 0xff;
        memcpy(rr->addr + 12, p, 4);
        rr->addr_ver = 4;
        fmt_addr(rr, t);
        return true;
    case 28: /* AAAA */
    case 38: /* A6, which Zeek reads as AAAA */
        if (n != 16)
            return false;
        memcpy(rr->addr, p, 16);
        rr->addr_ver = 6;
        fmt_addr(rr, t);
        return true;
    case 2:  /* NS */
    case 5:  /* CNAME */
    case 12: /* PTR */
        return rdata_name(r, rr, off, end, t, false) != 0;
    case 15: /* MX */
        return n >= 3 && rdata_name(r, rr, off + 2, end, t, false) != 0;
    case 33: /* SRV */
        return n >= 7 && rdata_name(r, rr, off + 6, end, t, false) != 0;
    case 6: { /* SOA: Zeek logs mname */
        char rname[PT_DNS_NAME_MAX];
        uint16_t rl;
        bool cut;
        size_t next = rdata_name(r, rr, off, end, t, false);

        if (!next || !(next = read_name(r, next, end, rname, &rl, &cut)))
            return false;
        return end - next >= 20;
    }
    case 16: /* TXT */
        return fmt_txt(r, off, end, t, "TXT ");
    case 99: /* SPF */
        return fmt_txt(r, off, end, t, "SPF ");
    case 35:
        return fmt_naptr(r, rr, off, end, t);
    case 46: /* RRSIG */
        if (n < 19)
            return false;
        txt_str(t, "RRSIG ");
        txt_fmt_u(t, get16(p));
        txt_put(t, " ", 1);
        return rdata_name(r, rr, off + 18, end, t, true) != 0;
    case 48: /* DNSKEY */
        if (n < 4)
            return false;
        txt_str(t, "DNSKEY ");
        txt_fmt_u(t, p[3]);
        return true;
    case 43: /* DS */
        if (n < 4)
            return false;
        txt_str(t, "DS ");
        txt_fmt_u(t, p[2]);
        txt_put(t, " ", 1);
        txt_fmt_u(t, p[3]);
        return true;
    case 47: /* NSEC */
        txt_str(t, "NSEC ");
        txt_put(t, rr->owner, rr->owner_len);
        txt_put(t, " ", 1);
        return rdata_name(r, rr, off, end, t, false) != 0;
    case 50:
        txt_str(t, "NSEC3");
        return n >= 5;
    case 51:
        txt_str(t, "NSEC3PARAM");
        return n >= 5;
    case 65534:
        txt_str(t, "BIND9 signing signal");
        return true;
    case 44: /* SSHFP */
        if (n < 2)
            return false;
        txt_str(t, "SSHFP: ");
        hex_bytes(t, p + 2, n - 2);
        return true;
    case 29: /* LOC */
        if (n < 16)
            return false;
        txt_str(t, "LOC:  ");
        txt_fmt_u(t, p[1]);
        txt_put(t, " ", 1);
        txt_fmt_u(t, p[2]);
        txt_put(t, " ", 1);
        txt_fmt_u(t, p[3]);
        return true;
    case 11: /* WKS: Zeek calls do_reply with "" */
        return true;
    case 13:                                     /* HINFO */
    case 41:                                     /* OPT */
    case 64:                                     /* SVCB */
    case 65:                                     /* HTTPS */
    case 250:                                    /* TSIG */
    case 257:                                    /* CAA */
        rr->flags &= (uint8_t)~PT_DNS_RR_LOGGED; /* parsed by Zeek, not logged */
        return true;
    default:
        txt_str(t, "<unknown type=");
        txt_fmt_u(t, rr->type);
        txt_str(t, ">");
        return true;
    }
}

/* One RR at *@off. Returns false when the message cannot be read further. */
static bool parse_rr(struct rd *r, size_t *off, uint8_t section)
{
    struct pt_dns_msg *m = r->m;
    bool keep = m->n_rr < PT_DNS_MAX_RR;
    struct pt_dns_rr scratch, *rr = keep ? &m->rr[m->n_rr] : &scratch;
    bool cut;
    size_t pos;

    memset(rr, 0, offsetof(struct pt_dns_rr, owner));
    rr->section = section;
    pos = read_name(r, *off, r->len, rr->owner, &rr->owner_len, &cut);
    if (!pos)
        return false;
    if (cut)
        rr->flags |= PT_DNS_RR_NAME_TRUNC;
    if (r->len - pos < 10) {
        fault(r, PT_DNS_ERR_TRUNC);
        return false;
    }
    rr->type = get16(r->b + pos);
    rr->rclass = get16(r->b + pos + 2);
    rr->ttl = get32(r->b + pos + 4);
    rr->rdlen = get16(r->b + pos + 8);
    pos += 10;
    if (rr->rdlen > r->len - pos) {
        fault(r, PT_DNS_ERR_RDLEN);
        return false;
    }
    if (!keep) {
        /* Not kept (counted once per message); OPT still sets the extended rcode. */
        if (!r->overflow) {
            r->overflow = true;
            fault(r, PT_DNS_ERR_RR_OVERFLOW);
        }
    } else {
        struct txt t = {.b = rr->text, .cap = PT_DNS_TEXT_MAX};

        rr->text[0] = 0;
        if (!fmt_rdata(r, rr, pos, &t)) {
            fault(r, PT_DNS_ERR_RDATA);
            rr->flags = (uint8_t)((rr->flags & ~PT_DNS_RR_LOGGED) | PT_DNS_RR_BAD_RDATA);
            rr->addr_ver = 0;
            t.n = 0;
            rr->text[0] = 0;
        } else if (t.trunc) {
            rr->flags |= PT_DNS_RR_TEXT_TRUNC;
            fault(r, PT_DNS_ERR_TEXT_TRUNC);
        }
        rr->text_len = (uint16_t)t.n;
    }
    if (keep)
        m->n_rr++;
    if (rr->type == 41 && section == PT_DNS_SEC_ADDITIONAL && !m->has_opt) {
        m->has_opt = true;
        m->ext_rcode = (uint16_t)(m->rcode | (rr->ttl >> 24) << 4);
    }
    *off = pos + rr->rdlen;
    return true;
}

static bool parse_question(struct rd *r, size_t *off, bool first)
{
    struct pt_dns_msg *m = r->m;
    char scratch[PT_DNS_NAME_MAX];
    uint16_t n;
    bool cut;
    size_t pos =
        read_name(r, *off, r->len, first ? m->qname : scratch, first ? &m->qname_len : &n, &cut);

    if (!pos)
        return false;
    if (r->len - pos < 4) {
        fault(r, PT_DNS_ERR_TRUNC);
        return false;
    }
    if (first) {
        m->has_question = true;
        m->qname_trunc = cut;
        m->qtype = get16(r->b + pos);
        m->qclass = get16(r->b + pos + 2);
    }
    *off = pos + 4;
    return true;
}

int pt_dns_msg_parse(struct pt_dns_msg *m, const uint8_t *data, size_t len, struct pt_dns_stats *st)
{
    struct rd r = {.b = data, .len = len, .m = m, .st = st};
    size_t off = PT_DNS_HDR_LEN;

    memset(m, 0, offsetof(struct pt_dns_msg, qname));
    m->qname[0] = 0;
    m->n_rr = 0;
    m->err = PT_DNS_OK;
    m->complete = false;
    PT_CNT_INC(st->msgs);
    if (len < PT_DNS_HDR_LEN) {
        fault(&r, PT_DNS_ERR_SHORT);
        return -EBADMSG;
    }
    m->id = get16(data);
    m->flags = get16(data + 2);
    m->qr = m->flags >> 15;
    m->opcode = (m->flags >> 11) & 15;
    m->aa = (m->flags >> 10) & 1;
    m->tc = (m->flags >> 9) & 1;
    m->rd = (m->flags >> 8) & 1;
    m->ra = (m->flags >> 7) & 1;
    m->ad = (m->flags >> 5) & 1;
    m->cd = (m->flags >> 4) & 1;
    m->z = (m->flags >> 4) & 7;
    m->rcode = m->ext_rcode = m->flags & 15;
    m->qdcount = get16(data + 4);
    m->ancount = get16(data + 6);
    m->nscount = get16(data + 8);
    m->arcount = get16(data + 10);
    PT_CNT_INC(*(m->qr ? &st->responses : &st->queries));

    /* Each question takes >= 5 bytes and each RR >= 11, so the loops end
     * with the data even when the counts lie. */
    for (unsigned i = 0; i < m->qdcount; i++)
        if (!parse_question(&r, &off, i == 0))
            return 0;
    static const uint8_t sec[3] = {PT_DNS_SEC_ANSWER, PT_DNS_SEC_AUTHORITY, PT_DNS_SEC_ADDITIONAL};
    const uint16_t cnt[3] = {m->ancount, m->nscount, m->arcount};
    for (unsigned s = 0; s < 3; s++)
        for (unsigned i = 0; i < cnt[s]; i++)
            if (!parse_rr(&r, &off, sec[s]))
                return 0;
    if (off < len)
        fault(&r, PT_DNS_ERR_TRAILING);
    m->complete = true;
    return 0;
}

/* ---- transactions ----
 *
 * Zeek's main.zeek pairs messages by trans_id with queues per id; here:
 *  1. a query (QR = 0) takes a free slot of f->p[] with a new sequence
 *     number; when none is free the slot with the lowest sequence number
 *     (the oldest query) is emitted unanswered and reused (pending_full);
 *  2. a response (QR = 1) looks for the used slot with its trans_id and the
 *     lowest sequence number, preferring one whose query name equals the
 *     response's question; found: the transaction is built from the slot,
 *     completed with the response, emitted, and the slot freed; not found:
 *     a response-only transaction is emitted;
 *  3. flush emits the used slots in sequence order, as unanswered queries.
 * Every step touches at most PT_DNS_MAX_PENDING slots. */

void pt_dns_flow_init(struct pt_dns_flow *f)
{
    memset(f, 0, sizeof *f);
}

static bool opcode_tracked(uint8_t op)
{
    return op == 0 || op == 4 || op == 5; /* query, notify, dynamic update */
}

/* Clear @t except the big arrays (their used parts are always written). */
static void txn_reset(struct pt_dns_txn *t)
{
    memset(t, 0, offsetof(struct pt_dns_txn, query));
    t->query[0] = 0;
    t->n_answers = 0;
    t->answers_trunc = false;
}

static void txn_from_pending(struct pt_dns_txn *t, const struct pt_dns_pending *p)
{
    txn_reset(t);
    t->ts_ns = p->ts_ns;
    t->trans_id = p->trans_id;
    t->opcode = p->opcode;
    t->saw_query = true;
    t->RD = p->flags & PT_DNS_PEND_RD;
    t->TC = p->flags & PT_DNS_PEND_TC;
    t->Z = p->Z;
    if (p->flags & PT_DNS_PEND_HAS_Q) {
        t->has_query = t->has_qtype = true;
        t->qtype = p->qtype;
        t->qclass = p->qclass;
        t->query_trunc = p->flags & PT_DNS_PEND_QUERY_TRUNC;
        t->query_len = p->query_len;
        memcpy(t->query, p->query, p->query_len);
    }
    t->query[t->query_len] = 0;
}

static void emit_slot(struct pt_dns_flow *f, unsigned i, pt_dns_emit_fn emit, void *arg,
                      struct pt_dns_stats *st)
{
    struct pt_dns_txn t;

    txn_from_pending(&t, &f->p[i]);
    f->p[i].used = 0;
    f->n_used--;
    PT_CNT_INC(st->txns);
    emit(arg, &t, NULL);
}

static int oldest_slot(const struct pt_dns_flow *f)
{
    int best = -1;

    for (unsigned i = 0; i < PT_DNS_MAX_PENDING; i++)
        if (f->p[i].used && (best < 0 || f->p[i].seq - f->p[best].seq > UINT32_MAX / 2))
            best = (int)i;
    return best;
}

static void add_query(struct pt_dns_flow *f, const struct pt_dns_msg *m, uint64_t ts_ns,
                      pt_dns_emit_fn emit, void *arg, struct pt_dns_stats *st)
{
    struct pt_dns_pending *p = NULL;

    if (f->n_used == PT_DNS_MAX_PENDING) {
        int old = oldest_slot(f);

        PT_CNT_INC(st->err[PT_DNS_ERR_PENDING_FULL]);
        emit_slot(f, (unsigned)old, emit, arg, st);
    }
    for (unsigned i = 0; i < PT_DNS_MAX_PENDING && !p; i++)
        if (!f->p[i].used)
            p = &f->p[i];
    memset(p, 0, offsetof(struct pt_dns_pending, query));
    p->used = 1;
    p->seq = f->seq++;
    p->ts_ns = ts_ns;
    p->trans_id = m->id;
    p->opcode = m->opcode;
    p->Z = m->z;
    p->flags = (uint8_t)((m->rd ? PT_DNS_PEND_RD : 0) | (m->tc ? PT_DNS_PEND_TC : 0));
    if (m->has_question) {
        p->flags |= PT_DNS_PEND_HAS_Q | (m->qname_trunc ? PT_DNS_PEND_QUERY_TRUNC : 0);
        p->qtype = m->qtype;
        p->qclass = m->qclass;
        p->query_len = m->qname_len;
        memcpy(p->query, m->qname, m->qname_len);
    }
    p->query[p->query_len] = 0;
    f->n_used++;
}

static int match_slot(const struct pt_dns_flow *f, const struct pt_dns_msg *m)
{
    int best = -1, best_name = -1;

    for (unsigned i = 0; i < PT_DNS_MAX_PENDING; i++) {
        const struct pt_dns_pending *p = &f->p[i];

        if (!p->used || p->trans_id != m->id)
            continue;
        if (best < 0 || p->seq - f->p[best].seq > UINT32_MAX / 2)
            best = (int)i;
        if (m->has_question && (p->flags & PT_DNS_PEND_HAS_Q) && p->query_len == m->qname_len &&
            memcmp(p->query, m->qname, p->query_len) == 0 &&
            (best_name < 0 || p->seq - f->p[best_name].seq > UINT32_MAX / 2))
            best_name = (int)i;
    }
    return best_name >= 0 ? best_name : best;
}

/* Complete @t with response @m (Zeek's set_session and do_reply). */
static void txn_apply_response(struct pt_dns_txn *t, const struct pt_dns_msg *m, uint64_t ts_ns,
                               struct pt_dns_stats *st)
{
    unsigned n_ans = 0;

    t->saw_reply = true;
    t->has_rcode = true;
    t->rcode = m->rcode;
    if ((m->rcode != 0 && m->qdcount == 0) ||
        (m->has_question && !m->ancount && !m->nscount && !m->arcount))
        t->rejected = true;
    for (unsigned i = 0; i < m->n_rr; i++) {
        const struct pt_dns_rr *rr = &m->rr[i];

        if (rr->section != PT_DNS_SEC_ANSWER)
            continue;
        n_ans++;
        if (!(rr->flags & PT_DNS_RR_LOGGED))
            continue;
        if (!t->has_query) {
            t->has_query = true;
            t->query_len = rr->owner_len;
            t->query_trunc = rr->flags & PT_DNS_RR_NAME_TRUNC;
            memcpy(t->query, rr->owner, rr->owner_len + 1u);
        }
        t->AA = m->aa;
        t->RA = m->ra;
        if (!t->has_rtt && ts_ns > t->ts_ns) {
            t->has_rtt = true;
            t->rtt_ns = ts_ns - t->ts_ns;
        }
        if (!rr->text_len)
            continue;
        if (t->n_answers == PT_DNS_MAX_ANSWERS) {
            t->answers_trunc = true;
            continue;
        }
        t->TTLs[t->n_answers] = rr->ttl;
        t->answer_len[t->n_answers] = rr->text_len;
        memcpy(t->answers[t->n_answers], rr->text, rr->text_len + 1u);
        t->n_answers++;
    }
    if (n_ans < m->ancount && m->n_rr == PT_DNS_MAX_RR)
        t->answers_trunc = true; /* answers past rr[] were not even kept */
    if (t->answers_trunc)
        PT_CNT_INC(st->err[PT_DNS_ERR_ANSWERS_OVERFLOW]);
}

int pt_dns_flow_feed(struct pt_dns_flow *f, struct pt_dns_msg *scratch, unsigned dir,
                     uint64_t ts_ns, const uint8_t *msg, size_t len, pt_dns_emit_fn emit, void *arg,
                     struct pt_dns_stats *st)
{
    struct pt_dns_msg *m = scratch;
    int rc = pt_dns_msg_parse(m, msg, len, st);

    (void)dir;
    if (rc < 0)
        return rc;
    if (!opcode_tracked(m->opcode)) {
        PT_CNT_INC(st->err[PT_DNS_ERR_OPCODE]);
        return 0;
    }
    if (!m->qr) {
        add_query(f, m, ts_ns, emit, arg, st);
        return 0;
    }

    struct pt_dns_txn t;
    int i = match_slot(f, m);

    if (i >= 0) {
        txn_from_pending(&t, &f->p[i]);
        f->p[i].used = 0;
        f->n_used--;
    } else {
        txn_reset(&t);
        t.ts_ns = ts_ns;
        t.trans_id = m->id;
        t.opcode = m->opcode;
    }
    txn_apply_response(&t, m, ts_ns, st);
    PT_CNT_INC(st->txns);
    emit(arg, &t, m);
    return 0;
}

void pt_dns_flow_flush(struct pt_dns_flow *f, pt_dns_emit_fn emit, void *arg,
                       struct pt_dns_stats *st)
{
    int i;

    while ((i = oldest_slot(f)) >= 0)
        emit_slot(f, (unsigned)i, emit, arg, st);
}

/* ---- DNS over TCP ---- */

void pt_dns_tcp_init(struct pt_dns_tcp *t)
{
    for (unsigned d = 0; d < 2; d++) {
        struct pt_dns_tcp_dir *x = &t->d[d];
        x->need = x->have = 0;
        x->pfx_n = x->dead = 0;
    }
}

void pt_dns_tcp_gap(struct pt_dns_tcp *t, unsigned dir, struct pt_dns_stats *st)
{
    if (dir > 1 || t->d[dir].dead)
        return;
    t->d[dir].dead = 1;
    PT_CNT_INC(st->err[PT_DNS_ERR_TCP_GAP]);
}

/* A whole message has arrived in @x: hand it on and reset the framing. */
static void tcp_deliver(struct pt_dns_tcp_dir *x, struct pt_dns_flow *f, struct pt_dns_msg *scratch,
                        unsigned dir, uint64_t ts_ns, pt_dns_emit_fn emit, void *arg,
                        struct pt_dns_stats *st)
{
    if (x->need < PT_DNS_HDR_LEN) {
        PT_CNT_INC(st->err[PT_DNS_ERR_TCP_SHORT_MSG]);
    } else {
        size_t n = x->need;

        if (n > PT_DNS_TCP_BUF) {
            PT_CNT_INC(st->err[PT_DNS_ERR_TCP_TOO_LONG]);
            n = PT_DNS_TCP_BUF;
        }
        pt_dns_flow_feed(f, scratch, dir, ts_ns, x->buf, n, emit, arg, st);
    }
    x->pfx_n = 0;
    x->need = x->have = 0;
}

void pt_dns_tcp_feed(struct pt_dns_tcp *t, struct pt_dns_flow *f, struct pt_dns_msg *scratch,
                     unsigned dir, uint64_t ts_ns, const uint8_t *data, size_t len,
                     pt_dns_emit_fn emit, void *arg, struct pt_dns_stats *st)
{
    struct pt_dns_tcp_dir *x;

    if (dir > 1)
        return;
    x = &t->d[dir];
    while (len && !x->dead) {
        if (x->pfx_n < 2) {
            x->pfx[x->pfx_n++] = *data++;
            len--;
            if (x->pfx_n == 2) {
                x->need = get16(x->pfx);
                x->have = 0;
                if (!x->need)
                    tcp_deliver(x, f, scratch, dir, ts_ns, emit, arg, st);
            }
            continue;
        }
        size_t take = (size_t)(x->need - x->have);

        if (take > len)
            take = len;
        if (x->have < PT_DNS_TCP_BUF) {
            size_t keep = PT_DNS_TCP_BUF - x->have;
            memcpy(x->buf + x->have, data, take < keep ? take : keep);
        }
        x->have = (uint16_t)(x->have + take);
        data += take;
        len -= take;
        if (x->have == x->need)
            tcp_deliver(x, f, scratch, dir, ts_ns, emit, arg, st);
    }
}

/* ---- the per-second series' slots ---- */

static const uint16_t series_qtypes[] = {1,  28, 5,  15, 2,  12, 6,  16,
                                         33, 35, 64, 65, 43, 46, 48, 255};
static const char *const series_qtype_names[PT_DNS_SERIES_QTYPES] = {
    "A",     "AAAA", "CNAME", "MX", "NS",    "PTR",    "SOA", "TXT",   "SRV",
    "NAPTR", "SVCB", "HTTPS", "DS", "RRSIG", "DNSKEY", "ANY", "other", "none",
};
_Static_assert(PT_ARRAY_LEN(series_qtypes) + 2 == PT_DNS_SERIES_QTYPES, "qtype slots");

static const char *const series_rcode_names[PT_DNS_SERIES_RCODES] = {
    "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "other", "none",
};

unsigned pt_dns_series_qtype(const struct pt_dns_txn *txn)
{
    if (!txn->has_qtype)
        return PT_DNS_SERIES_QTYPES - 1;
    for (unsigned i = 0; i < PT_ARRAY_LEN(series_qtypes); i++)
        if (series_qtypes[i] == txn->qtype)
            return i;
    return PT_DNS_SERIES_QTYPES - 2;
}

unsigned pt_dns_series_rcode(const struct pt_dns_txn *txn)
{
    if (!txn->has_rcode)
        return PT_DNS_SERIES_RCODES - 1;
    return txn->rcode <= 5 ? txn->rcode : PT_DNS_SERIES_RCODES - 2;
}

const char *pt_dns_series_qtype_name(unsigned slot)
{
    return slot < PT_DNS_SERIES_QTYPES ? series_qtype_names[slot] : "other";
}

const char *pt_dns_series_rcode_name(unsigned slot)
{
    return slot < PT_DNS_SERIES_RCODES ? series_rcode_names[slot] : "other";
}
