/* record.c - finished-flow records: uid, Community ID, JSON and CSV output.
 *
 * DESIGN: a record is filled under the flow's lock (flow_record_fill) into a
 * self-contained struct, so formatting (SHA-1 aside, done at fill time)
 * happens outside any lock. Output follows Zeek's conn.log conventions:
 * field names, "_path":"conn" first, unset fields omitted in JSON and empty
 * in CSV; duration, orig_bytes and resp_bytes are unset when the duration is
 * zero, as Zeek leaves them. Extra fields use the names of Zeek's optional
 * scripts where one exists (vlan, inner_vlan, orig_l2_addr, resp_l2_addr,
 * community_id). TCP flags are letters in bit order F S R P A U E C. JSON
 * strings are escaped for any byte: invalid UTF-8 bytes become \u00XX.
 * The writers format a record into a stack buffer with small appenders (no
 * printf) and hand it to stdio with one fwrite; only a record longer than
 * the buffer (very long interface names) takes several writes. */
#include <errno.h>
#include <stddef.h>
#include <pthread.h>
#include <string.h>

#include <openssl/evp.h>

#include "internal.h"

static void uid_format(char out[20], uint64_t v)
{
    static const char b62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    char tmp[16];
    int n = 0;

    do {
        tmp[n++] = b62[v % 62];
        v /= 62;
    } while (v);
    out[0] = 'C';
    for (int i = 0; i < n; i++)
        out[1 + i] = tmp[n - 1 - i];
    out[1 + n] = '\0';
}

void pt_flow_uid(char out[20], const struct pt_flow_key *key, uint64_t first_ns)
{
    uid_format(out, flow_uid64(key, first_ns));
}

static void base64(char *out, const uint8_t *in, size_t n)
{
    static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t i, o = 0;

    for (i = 0; i + 2 < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = t[v >> 18];
        out[o++] = t[(v >> 12) & 63];
        out[o++] = t[(v >> 6) & 63];
        out[o++] = t[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0);
        out[o++] = t[v >> 18];
        out[o++] = t[(v >> 12) & 63];
        out[o++] = i + 1 < n ? t[(v >> 6) & 63] : '=';
        out[o++] = '=';
    }
    out[o] = '\0';
}

/* SHA-1, fetched from OpenSSL's provider once: EVP_sha1() makes OpenSSL 3
 * look the algorithm up again on every digest, which was most of the cost
 * of a Community ID. NULL if OpenSSL has no SHA-1 (then no community_id). */
static pthread_once_t sha1_once = PTHREAD_ONCE_INIT;
static EVP_MD *sha1_md;

static void sha1_fetch(void)
{
    sha1_md = EVP_MD_fetch(NULL, "SHA1", NULL);
}

static const EVP_MD *sha1(void)
{
    pthread_once(&sha1_once, sha1_fetch);
    return sha1_md;
}

void pt_flow_community_id(char out[36], uint16_t seed, uint8_t ver, uint8_t proto,
                          const uint8_t saddr[16], const uint8_t daddr[16], uint16_t sport,
                          uint16_t dport, bool with_ports, bool one_way)
{
    unsigned alen = ver == 4 ? 4 : 16, off = ver == 4 ? 12 : 0;
    const uint8_t *a = saddr + off, *b = daddr + off;
    uint8_t buf[2 + 32 + 2 + 4], md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0, n = 0;

    int cmp = memcmp(a, b, alen);
    if (!one_way && (cmp > 0 || (cmp == 0 && with_ports && sport > dport))) {
        const uint8_t *x = a;
        uint16_t y = sport;
        a = b;
        b = x;
        sport = dport;
        dport = y;
    }
    buf[n++] = (uint8_t)(seed >> 8);
    buf[n++] = (uint8_t)seed;
    memcpy(buf + n, a, alen);
    n += alen;
    memcpy(buf + n, b, alen);
    n += alen;
    buf[n++] = proto;
    buf[n++] = 0;
    if (with_ports) {
        buf[n++] = (uint8_t)(sport >> 8);
        buf[n++] = (uint8_t)sport;
        buf[n++] = (uint8_t)(dport >> 8);
        buf[n++] = (uint8_t)dport;
    }
    if (!sha1() || !EVP_Digest(buf, n, md, &mdlen, sha1(), NULL) || mdlen != 20) {
        out[0] = '\0';
        return;
    }
    memcpy(out, "1:", 2);
    base64(out + 2, md, 20); /* 28 characters */
}

static bool is_icmp_key(const struct pt_flow_key *k)
{
    return (k->ver == 4 && k->proto == 1) || (k->ver == 6 && k->proto == 58);
}

void flow_record_fill(struct pt_flow_record *r, const struct pt_flow *f, unsigned end_reason)
{
    const struct pt_flow_key *k = &f->key;
    unsigned o = flow_orig_side(f), s = !o;
    bool icmp = is_icmp_key(k), pair = false;

    memset(r, 0, sizeof *r);
    r->app = (uint8_t)pt_appid_result(&f->app.id);
    r->app_by_port = pt_appid_by_port(&f->app.id);
    r->ts_ns = f->first_ns;
    r->last_ns = f->last_ns;
    uid_format(r->uid, flow_uid64(k, f->first_ns));
    if (f->parent_uid)
        uid_format(r->parent_uid, f->parent_uid);
    memcpy(r->orig_h, k->addr[o], 16);
    memcpy(r->resp_h, k->addr[s], 16);
    r->proto = k->proto;
    r->ver = k->ver;
    if (icmp) {
        int c = flow_icmp_counterpart(k->ver, f->icmp_type);
        pair = c >= 0;
        r->icmp_type = f->icmp_type;
        r->icmp_code = f->icmp_code;
        r->orig_p = f->icmp_type;
        r->resp_p = pair ? (uint16_t)c : f->icmp_code;
    } else {
        r->orig_p = k->port[o];
        r->resp_p = k->port[s];
    }
    r->vlan = k->vlan[0];
    r->inner_vlan = k->vlan[1];
    r->orig_pkts = f->pkts[o];
    r->resp_pkts = f->pkts[s];
    r->orig_ip_bytes = f->ip_bytes[o];
    r->resp_ip_bytes = f->ip_bytes[s];
    r->missed_bytes = f->missed;
    if (k->proto == 6) {
        r->orig_bytes = flow_tcp_size(f, o);
        r->resp_bytes = flow_tcp_size(f, s);
        snprintf(r->conn_state, sizeof r->conn_state, "%s", flow_tcp_conn_state(f));
        r->orig_tcp_flags = f->tcp[o].tcp_flags;
        r->resp_tcp_flags = f->tcp[s].tcp_flags;
    } else {
        r->orig_bytes = f->bytes[o];
        r->resp_bytes = f->bytes[s];
        const char *st = "OTH";
        if (k->proto == 17)
            st = f->pkts[o] ? (f->pkts[s] ? "SF" : "S0") : (f->pkts[s] ? "SHR" : "OTH");
        snprintf(r->conn_state, sizeof r->conn_state, "%s", st);
    }
    memcpy(r->history, f->hist, f->hist_len);
    r->history[f->hist_len] = '\0';
    r->ifaces = f->ifaces;
    if (f->fl & (FL_MAC0 << o))
        memcpy(r->orig_mac, f->mac[o], 6);
    if (f->fl & (FL_MAC0 << s))
        memcpy(r->resp_mac, f->mac[s], 6);
    r->end_reason = (uint8_t)end_reason;
    pt_tcp_health_fill(&r->health, &f->health, o, k->proto == 6);
    pt_flow_community_id(r->community_id, 0, k->ver, k->proto, r->orig_h, r->resp_h, r->orig_p,
                         r->resp_p, icmp || k->proto == 6 || k->proto == 17 || k->proto == 132,
                         icmp && !pair);
}

/* ---- formatting -------------------------------------------------------------- */

/* A record is formatted into this stack buffer and written with one fwrite.
 * Every appender first makes room for what it may add (flushing the buffer
 * when short); only interface names, whose length has no bound, can make a
 * record take more than one write, and the text is the same either way. */
struct obuf {
    FILE *out;
    char *p;
    char buf[4096];
};

#define PUT_LIT(b, s) put_mem((b), "" s, sizeof(s) - 1)

static const char digits2[] = "00010203040506070809101112131415161718192021222324252627282930313233"
                              "34353637383940414243444546474849505152535455565758596061626364656667"
                              "6869707172737475767778798081828384858687888990919293949596979899";
static const char hexd[] = "0123456789abcdef";

static void ob_flush(struct obuf *b)
{
    if (b->p > b->buf)
        fwrite(b->buf, 1, (size_t)(b->p - b->buf), b->out);
    b->p = b->buf;
}

/* Make room for @n bytes (n <= sizeof buf) and return the write position. */
static inline char *ob_room(struct obuf *b, size_t n)
{
    if ((size_t)(b->buf + sizeof b->buf - b->p) < n)
        ob_flush(b);
    return b->p;
}

static inline void put_mem(struct obuf *b, const char *s, size_t n)
{
    if (n > sizeof b->buf / 2) {
        ob_flush(b);
        fwrite(s, 1, n, b->out);
        return;
    }
    memcpy(ob_room(b, n), s, n);
    b->p += n;
}

static inline void put_c(struct obuf *b, char c)
{
    *ob_room(b, 1) = c;
    b->p++;
}

static char *dec_u64(char *p, uint64_t v)
{
    char tmp[20], *q = tmp + sizeof tmp;
    while (v >= 100) {
        q -= 2;
        memcpy(q, digits2 + (v % 100) * 2, 2);
        v /= 100;
    }
    if (v >= 10) {
        q -= 2;
        memcpy(q, digits2 + v * 2, 2);
    } else {
        *--q = (char)('0' + v);
    }
    memcpy(p, q, (size_t)(tmp + sizeof tmp - q));
    return p + (tmp + sizeof tmp - q);
}

static void put_u64(struct obuf *b, uint64_t v)
{
    b->p = dec_u64(ob_room(b, 20), v);
}

/* Seconds with 6 decimals, rounded half up to the microsecond in 64-bit
 * arithmetic (so ns within 500 of UINT64_MAX wrap to 0.000000). */
static void put_time(struct obuf *b, uint64_t ns)
{
    uint64_t us = (ns + 500) / 1000;
    unsigned frac = (unsigned)(us % 1000000);
    char *p = dec_u64(ob_room(b, 28), us / 1000000);

    *p++ = '.';
    memcpy(p, digits2 + (frac / 10000) * 2, 2);
    memcpy(p + 2, digits2 + (frac / 100 % 100) * 2, 2);
    memcpy(p + 4, digits2 + (frac % 100) * 2, 2);
    b->p = p + 6;
}

static char *ipv4_text(char *p, const uint8_t a[4])
{
    for (int i = 0; i < 4; i++) {
        unsigned v = a[i];
        if (i)
            *p++ = '.';
        if (v >= 100) {
            *p++ = (char)('0' + v / 100);
            v %= 100;
            memcpy(p, digits2 + v * 2, 2), p += 2;
        } else if (v >= 10) {
            memcpy(p, digits2 + v * 2, 2), p += 2;
        } else {
            *p++ = (char)('0' + v);
        }
    }
    return p;
}

static char *hex16(char *p, unsigned x)
{
    if (x >= 0x1000)
        *p++ = hexd[x >> 12];
    if (x >= 0x100)
        *p++ = hexd[(x >> 8) & 15];
    if (x >= 0x10)
        *p++ = hexd[(x >> 4) & 15];
    *p++ = hexd[x & 15];
    return p;
}

/* IPv6 text exactly as glibc's inet_ntop prints it: the first longest run
 * of two or more zero words becomes "::"; ::a.b.c.d and ::ffff:a.b.c.d keep
 * the IPv4 tail in dotted form. */
static char *ipv6_text(char *p, const uint8_t a[16])
{
    unsigned w[8], best = 0, best_len = 0, run = 0, i;

    for (i = 0; i < 8; i++) {
        w[i] = (unsigned)a[2 * i] << 8 | a[2 * i + 1];
        run = w[i] ? 0 : run + 1;
        if (run > best_len)
            best_len = run, best = i + 1 - run;
    }
    if (best_len < 2)
        best_len = 0, best = 8;
    for (i = 0; i < 8; i++) {
        if (i >= best && i < best + best_len) {
            if (i == best)
                *p++ = ':';
            continue;
        }
        if (i)
            *p++ = ':';
        if (i == 6 && best == 0 && (best_len == 6 || (best_len == 5 && w[5] == 0xffff)))
            return ipv4_text(p, a + 12);
        p = hex16(p, w[i]);
    }
    if (best_len && best + best_len == 8)
        *p++ = ':';
    return p;
}

static void put_addr(struct obuf *b, const uint8_t a[16], uint8_t ver)
{
    char *p = ob_room(b, 48);
    b->p = ver == 4 ? ipv4_text(p, a + 12) : ipv6_text(p, a);
}

static void put_flags(struct obuf *b, uint8_t fl)
{
    static const char letters[] = "FSRPAUEC";
    char *p = ob_room(b, 8);
    for (int i = 0; i < 8; i++)
        if (fl & (1u << i))
            *p++ = letters[i];
    b->p = p;
}

static bool mac_set(const uint8_t m[6])
{
    static const uint8_t zero[6];
    return memcmp(m, zero, 6) != 0;
}

static void put_mac(struct obuf *b, const uint8_t m[6])
{
    char *p = ob_room(b, 17);
    for (int i = 0; i < 6; i++) {
        if (i)
            *p++ = ':';
        *p++ = hexd[m[i] >> 4];
        *p++ = hexd[m[i] & 15];
    }
    b->p = p;
}

static const char *proto_name(const struct pt_flow_record *r)
{
    if (r->proto == 6)
        return "tcp";
    if (r->proto == 17)
        return "udp";
    if ((r->ver == 4 && r->proto == 1) || (r->ver == 6 && r->proto == 58))
        return "icmp";
    return "unknown_transport";
}

static void put_str(struct obuf *b, const char *s)
{
    put_mem(b, s, strlen(s));
}

/* Length of the valid UTF-8 sequence at @s (1..4, within @avail bytes), 0 if
 * invalid or cut short. */
static size_t utf8_len(const unsigned char *s, size_t avail)
{
    unsigned c = s[0];
    size_t n, i;
    uint32_t cp;

    if (c < 0x80)
        return 1;
    if ((c & 0xe0) == 0xc0)
        n = 2, cp = c & 0x1f;
    else if ((c & 0xf0) == 0xe0)
        n = 3, cp = c & 0x0f;
    else if ((c & 0xf8) == 0xf0)
        n = 4, cp = c & 0x07;
    else
        return 0;
    if (n > avail)
        return 0;
    for (i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
        cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

/* @n bytes of @str as a quoted JSON string: " \ and \n \r \t escaped, other
 * controls, DEL and bytes that are not valid UTF-8 as \u00XX. */
static void put_json_str(struct obuf *b, const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str, *e = s + n;

    put_c(b, '"');
    while (s < e) {
        unsigned c = *s;
        char *p = ob_room(b, 6);
        size_t k = 1;
        if (c == '"' || c == '\\')
            *p++ = '\\', *p++ = (char)c;
        else if (c == '\n')
            *p++ = '\\', *p++ = 'n';
        else if (c == '\r')
            *p++ = '\\', *p++ = 'r';
        else if (c == '\t')
            *p++ = '\\', *p++ = 't';
        else if (c < 0x20 || c == 0x7f || (k = utf8_len(s, (size_t)(e - s))) == 0)
            memcpy(p, "\\u00", 4), p[4] = hexd[c >> 4], p[5] = hexd[c & 15], p += 6, k = 1;
        else
            memcpy(p, s, k), p += k;
        b->p = p;
        s += k;
    }
    put_c(b, '"');
}

/* A NUL-terminated field of a record, never read past its array. */
#define FIELD_LEN(a) strnlen((a), sizeof(a))

/* @n bytes of @s inside CSV quotes: every " doubled. */
static void put_csv_quoted(struct obuf *b, const char *s, size_t n)
{
    const char *q;

    while ((q = memchr(s, '"', n)) != NULL) {
        put_mem(b, s, (size_t)(q - s) + 1);
        put_c(b, '"');
        n -= (size_t)(q - s) + 1;
        s = q + 1;
    }
    put_mem(b, s, n);
}

/* A CSV field: as is, or quoted when it holds , " CR or LF. */
static void put_csv_str(struct obuf *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] == ',' || s[i] == '"' || s[i] == '\r' || s[i] == '\n') {
            put_c(b, '"');
            put_csv_quoted(b, s, n);
            put_c(b, '"');
            return;
        }
    }
    put_mem(b, s, n);
}

/* Interface @i's name: the caller's, else "if<i>". */
static const char *ifname(unsigned i, const char *const *names, unsigned n, char buf[16])
{
    if (names && i < n && names[i])
        return names[i];
    memcpy(buf, "if", 2);
    *dec_u64(buf + 2, i) = '\0';
    return buf;
}

/* The names of the interfaces in @mask, comma-separated: JSON strings, or
 * for CSV the raw names with quotes doubled (the caller adds the quotes). */
static void put_ifaces(struct obuf *b, uint32_t mask, const char *const *ifn, unsigned nifn,
                       bool csv)
{
    char nb[16];
    bool first = true;

    for (unsigned i = 0; i < 32; i++) {
        if (!(mask & (1u << i)))
            continue;
        if (!first)
            put_c(b, ',');
        const char *s = ifname(i, ifn, nifn, nb);
        if (csv)
            put_csv_quoted(b, s, strlen(s));
        else
            put_json_str(b, s, strlen(s));
        first = false;
    }
}

/* The health fields, in output order: tcp_rtt, then the counters, MSS, window
 * scales, TTLs and DSCP. A value is unset when the record has no health
 * (read back from the store), the flow is not TCP (for the TCP fields), or
 * the fact was not seen. */
enum {
    H_RTT = 0,
    H_N_COUNTS = 9,
    H_COUNT0 = 1,
    H_MSS0 = 10,
    H_WS0 = 12,
    H_TTL0 = 14,
    H_DSCP = 16,
    H_FIELDS = 17
};

static const char *const health_names[H_FIELDS] = {
    "tcp_rtt",       "orig_retrans", "resp_retrans", "orig_ooo",  "resp_ooo", "orig_dup_acks",
    "resp_dup_acks", "zero_windows", "orig_lost",    "resp_lost", "orig_mss", "resp_mss",
    "orig_wscale",   "resp_wscale",  "orig_ttl",     "resp_ttl",  "dscp",
};

/* Value of health field @i of @r, false when unset. */
static bool health_value(const struct pt_flow_record *r, unsigned i, uint64_t *v)
{
    const struct pt_flow_health *h = &r->health;

    if (!h->valid)
        return false;
    if (i == H_RTT) {
        *v = h->rtt_ns;
        return h->tcp && (h->rtt_valid & PT_TCPH_HS_RTT);
    }
    if (i < H_MSS0) {
        static const size_t off[H_N_COUNTS] = {
            offsetof(struct pt_flow_health, retrans[0]),
            offsetof(struct pt_flow_health, retrans[1]),
            offsetof(struct pt_flow_health, ooo[0]),
            offsetof(struct pt_flow_health, ooo[1]),
            offsetof(struct pt_flow_health, dup_acks[0]),
            offsetof(struct pt_flow_health, dup_acks[1]),
            0, /* zero_windows: both directions */
            offsetof(struct pt_flow_health, lost[0]),
            offsetof(struct pt_flow_health, lost[1]),
        };
        uint32_t x;
        if (i - H_COUNT0 == 6) {
            *v = (uint64_t)h->zero_win[0] + h->zero_win[1];
        } else {
            memcpy(&x, (const char *)h + off[i - H_COUNT0], sizeof x);
            *v = x;
        }
        return h->tcp;
    }
    if (i < H_WS0) {
        *v = h->mss[i - H_MSS0];
        return h->tcp && *v;
    }
    if (i < H_TTL0) {
        *v = (uint64_t)h->wscale[i - H_WS0];
        return h->tcp && h->wscale[i - H_WS0] >= 0;
    }
    if (i < H_DSCP) {
        *v = h->ttl[i - H_TTL0];
        return h->ip_seen[i - H_TTL0];
    }
    /* dscp: the originator's first packet's, else the responder's */
    unsigned s = h->ip_seen[0] ? 0 : 1;
    *v = h->dscp[s];
    return h->ip_seen[s];
}

static void put_health_value(struct obuf *b, unsigned i, uint64_t v)
{
    if (i == H_RTT)
        put_time(b, v);
    else
        put_u64(b, v);
}

static void json_health(struct obuf *b, const struct pt_flow_record *r)
{
    uint64_t v;

    for (unsigned i = 0; i < H_FIELDS; i++) {
        if (!health_value(r, i, &v))
            continue;
        PUT_LIT(b, ",\"");
        put_str(b, health_names[i]);
        PUT_LIT(b, "\":");
        put_health_value(b, i, v);
    }
}

static void csv_health(struct obuf *b, const struct pt_flow_record *r)
{
    uint64_t v;

    for (unsigned i = 0; i < H_FIELDS; i++) {
        put_c(b, ',');
        if (health_value(r, i, &v))
            put_health_value(b, i, v);
    }
}

void pt_flow_record_csv_header(FILE *out)
{
    fputs("ts,uid,id.orig_h,id.orig_p,id.resp_h,id.resp_p,proto,duration,orig_bytes,resp_bytes,"
          "conn_state,missed_bytes,history,orig_pkts,orig_ip_bytes,resp_pkts,resp_ip_bytes,"
          "tunnel_parents,ip_proto,vlan,inner_vlan,icmp_type,icmp_code,orig_tcp_flags,"
          "resp_tcp_flags,interfaces,orig_l2_addr,resp_l2_addr,community_id,end_reason,tcp_rtt,"
          "orig_retrans,resp_retrans,orig_ooo,resp_ooo,orig_dup_acks,resp_dup_acks,zero_windows,"
          "orig_lost,resp_lost,orig_mss,resp_mss,orig_wscale,resp_wscale,orig_ttl,resp_ttl,dscp\n",
          out);
}

static bool rec_icmp(const struct pt_flow_record *r)
{
    return (r->ver == 4 && r->proto == 1) || (r->ver == 6 && r->proto == 58);
}

/* JSON, first part: "_path" to "resp_ip_bytes". */
static void json_head(struct obuf *b, const struct pt_flow_record *r)
{
    PUT_LIT(b, "{\"_path\":\"conn\",\"ts\":");
    put_time(b, r->ts_ns);
    PUT_LIT(b, ",\"uid\":");
    put_json_str(b, r->uid, FIELD_LEN(r->uid));
    PUT_LIT(b, ",\"id.orig_h\":\"");
    put_addr(b, r->orig_h, r->ver);
    PUT_LIT(b, "\",\"id.orig_p\":");
    put_u64(b, r->orig_p);
    PUT_LIT(b, ",\"id.resp_h\":\"");
    put_addr(b, r->resp_h, r->ver);
    PUT_LIT(b, "\",\"id.resp_p\":");
    put_u64(b, r->resp_p);
    PUT_LIT(b, ",\"proto\":\"");
    put_str(b, proto_name(r));
    put_c(b, '"');
    if (r->last_ns > r->ts_ns) {
        PUT_LIT(b, ",\"duration\":");
        put_time(b, r->last_ns - r->ts_ns);
        PUT_LIT(b, ",\"orig_bytes\":");
        put_u64(b, r->orig_bytes);
        PUT_LIT(b, ",\"resp_bytes\":");
        put_u64(b, r->resp_bytes);
    }
    PUT_LIT(b, ",\"conn_state\":");
    put_json_str(b, r->conn_state, FIELD_LEN(r->conn_state));
    PUT_LIT(b, ",\"missed_bytes\":");
    put_u64(b, r->missed_bytes);
    if (r->history[0]) {
        PUT_LIT(b, ",\"history\":");
        put_json_str(b, r->history, FIELD_LEN(r->history));
    }
    PUT_LIT(b, ",\"orig_pkts\":");
    put_u64(b, r->orig_pkts);
    PUT_LIT(b, ",\"orig_ip_bytes\":");
    put_u64(b, r->orig_ip_bytes);
    PUT_LIT(b, ",\"resp_pkts\":");
    put_u64(b, r->resp_pkts);
    PUT_LIT(b, ",\"resp_ip_bytes\":");
    put_u64(b, r->resp_ip_bytes);
}

/* JSON, second part: "tunnel_parents" to the end of the line. */
static void json_tail(struct obuf *b, const struct pt_flow_record *r, const char *const *ifn,
                      unsigned nifn)
{
    if (r->parent_uid[0]) {
        PUT_LIT(b, ",\"tunnel_parents\":[");
        put_json_str(b, r->parent_uid, FIELD_LEN(r->parent_uid));
        put_c(b, ']');
    }
    PUT_LIT(b, ",\"ip_proto\":");
    put_u64(b, r->proto);
    if (r->vlan != PT_VLAN_NONE) {
        PUT_LIT(b, ",\"vlan\":");
        put_u64(b, r->vlan);
    }
    if (r->inner_vlan != PT_VLAN_NONE) {
        PUT_LIT(b, ",\"inner_vlan\":");
        put_u64(b, r->inner_vlan);
    }
    if (rec_icmp(r)) {
        PUT_LIT(b, ",\"icmp_type\":");
        put_u64(b, r->icmp_type);
        PUT_LIT(b, ",\"icmp_code\":");
        put_u64(b, r->icmp_code);
    }
    if (r->proto == 6 && r->orig_tcp_flags) {
        PUT_LIT(b, ",\"orig_tcp_flags\":\"");
        put_flags(b, r->orig_tcp_flags);
        put_c(b, '"');
    }
    if (r->proto == 6 && r->resp_tcp_flags) {
        PUT_LIT(b, ",\"resp_tcp_flags\":\"");
        put_flags(b, r->resp_tcp_flags);
        put_c(b, '"');
    }
    if (r->ifaces) {
        PUT_LIT(b, ",\"interfaces\":[");
        put_ifaces(b, r->ifaces, ifn, nifn, false);
        put_c(b, ']');
    }
    if (mac_set(r->orig_mac)) {
        PUT_LIT(b, ",\"orig_l2_addr\":\"");
        put_mac(b, r->orig_mac);
        put_c(b, '"');
    }
    if (mac_set(r->resp_mac)) {
        PUT_LIT(b, ",\"resp_l2_addr\":\"");
        put_mac(b, r->resp_mac);
        put_c(b, '"');
    }
    json_health(b, r);
    PUT_LIT(b, ",\"community_id\":");
    put_json_str(b, r->community_id, FIELD_LEN(r->community_id));
    PUT_LIT(b, ",\"end_reason\":\"");
    put_str(b, pt_flow_end_name(r->end_reason));
    PUT_LIT(b, "\"}\n");
}

/* CSV, first part: ts to tunnel_parents and the comma after it. */
static void csv_head(struct obuf *b, const struct pt_flow_record *r)
{
    put_time(b, r->ts_ns);
    put_c(b, ',');
    put_csv_str(b, r->uid, FIELD_LEN(r->uid));
    put_c(b, ',');
    put_addr(b, r->orig_h, r->ver);
    put_c(b, ',');
    put_u64(b, r->orig_p);
    put_c(b, ',');
    put_addr(b, r->resp_h, r->ver);
    put_c(b, ',');
    put_u64(b, r->resp_p);
    put_c(b, ',');
    put_str(b, proto_name(r));
    put_c(b, ',');
    if (r->last_ns > r->ts_ns) {
        put_time(b, r->last_ns - r->ts_ns);
        put_c(b, ',');
        put_u64(b, r->orig_bytes);
        put_c(b, ',');
        put_u64(b, r->resp_bytes);
        put_c(b, ',');
    } else {
        PUT_LIT(b, ",,,");
    }
    put_csv_str(b, r->conn_state, FIELD_LEN(r->conn_state));
    put_c(b, ',');
    put_u64(b, r->missed_bytes);
    put_c(b, ',');
    put_csv_str(b, r->history, FIELD_LEN(r->history));
    put_c(b, ',');
    put_u64(b, r->orig_pkts);
    put_c(b, ',');
    put_u64(b, r->orig_ip_bytes);
    put_c(b, ',');
    put_u64(b, r->resp_pkts);
    put_c(b, ',');
    put_u64(b, r->resp_ip_bytes);
    put_c(b, ',');
    put_csv_str(b, r->parent_uid, FIELD_LEN(r->parent_uid));
    put_c(b, ',');
}

/* CSV, second part: ip_proto to the end of the line. The interfaces field is
 * always quoted, names joined with ',' and their quotes doubled. */
static void csv_tail(struct obuf *b, const struct pt_flow_record *r, const char *const *ifn,
                     unsigned nifn)
{
    put_u64(b, r->proto);
    put_c(b, ',');
    if (r->vlan != PT_VLAN_NONE)
        put_u64(b, r->vlan);
    put_c(b, ',');
    if (r->inner_vlan != PT_VLAN_NONE)
        put_u64(b, r->inner_vlan);
    put_c(b, ',');
    if (rec_icmp(r)) {
        put_u64(b, r->icmp_type);
        put_c(b, ',');
        put_u64(b, r->icmp_code);
        put_c(b, ',');
    } else {
        PUT_LIT(b, ",,");
    }
    if (r->proto == 6)
        put_flags(b, r->orig_tcp_flags);
    put_c(b, ',');
    if (r->proto == 6)
        put_flags(b, r->resp_tcp_flags);
    put_c(b, ',');
    if (r->ifaces) {
        put_c(b, '"');
        put_ifaces(b, r->ifaces, ifn, nifn, true);
        put_c(b, '"');
    }
    put_c(b, ',');
    if (mac_set(r->orig_mac))
        put_mac(b, r->orig_mac);
    put_c(b, ',');
    if (mac_set(r->resp_mac))
        put_mac(b, r->resp_mac);
    put_c(b, ',');
    put_csv_str(b, r->community_id, FIELD_LEN(r->community_id));
    put_c(b, ',');
    put_str(b, pt_flow_end_name(r->end_reason));
    csv_health(b, r);
    put_c(b, '\n');
}

int pt_flow_record_write(FILE *out, enum pt_record_format fmt, const struct pt_flow_record *rec,
                         const char *const *ifnames, unsigned n_ifnames)
{
    struct obuf b;

    b.out = out;
    b.p = b.buf;
    if (fmt == PT_FMT_CSV) {
        csv_head(&b, rec);
        csv_tail(&b, rec, ifnames, n_ifnames);
    } else {
        json_head(&b, rec);
        json_tail(&b, rec, ifnames, n_ifnames);
    }
    ob_flush(&b);
    return ferror(out) ? -EIO : 0;
}
