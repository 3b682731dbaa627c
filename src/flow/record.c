/* record.c - finished-flow records: uid, Community ID, JSON and CSV output.
 *
 * DESIGN: a record is filled under the flow's lock (flow_record_fill) into a
 * self-contained struct, so formatting (SHA-1 aside, done at fill time)
 * happens outside any lock. Output follows Zeek's conn.log conventions:
 * field names, "_path":"conn" first, unset fields omitted in JSON and empty
 * in CSV; duration, orig_bytes and resp_bytes are unset when the duration is
 * zero, as Zeek leaves them. Extra fields use the names of Zeek's optional
 * scripts where one exists (vlan, inner_vlan, orig_l2_addr, resp_l2_addr,
 * community_id). The application comes as Zeek's `service` (after proto,
 * where Zeek has it; only for a payload decision, as Zeek only names a
 * service its analyzer confirmed) and our `app` (every TCP/UDP flow,
 * "unknown" included); the enrichment fields (orig_fqdn, resp_fqdn, orig_cc,
 * resp_cc, orig_asn, resp_asn) only when known. CSV appends these columns
 * after the existing ones, so earlier column positions never move. TCP flags
 * are letters in bit order F S R P A U E C. JSON
 * strings are escaped for any byte: invalid UTF-8 bytes become \u00XX.
 * The writers format a record into a stack buffer with the appenders of
 * pt/obuf.h (no printf), shared with the app-layer records so every stream
 * has the same text forms, and hand it to stdio with one fwrite; only a
 * record longer than the buffer (very long interface names) takes several
 * writes. The uid text is pt_uid_format()'s (src/app/write.c). */
#include <errno.h>
#include <stddef.h>
#include <pthread.h>
#include <string.h>

#include <openssl/evp.h>

#include "internal.h"
#include "pt/app.h"
#include "pt/appid.h"
#include "pt/obuf.h"

void pt_flow_uid(char out[20], const struct pt_flow_key *key, uint64_t first_ns)
{
    pt_uid_format(out, flow_uid64(key, first_ns));
}

/* @s into @dst (@cap bytes), cut to fit and NUL-terminated, as
 * snprintf("%s") would, without parsing a format once per record. */
static void set_str(char *dst, size_t cap, const char *s)
{
    size_t n = strnlen(s, cap - 1);

    memcpy(dst, s, n);
    dst[n] = '\0';
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
    if ((mdlen = pt_digest(sha1(), buf, n, md)) != 20) {
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

void flow_record_fill(struct pt_flow_record *r, const struct pt_flow *f, const struct flow_tcp *x,
                      unsigned end_reason)
{
    const struct pt_flow_key *k = &f->key;
    unsigned o = flow_orig_side(f), s = !o;
    bool icmp = is_icmp_key(k), pair = false;

    memset(r, 0, sizeof *r);
    r->app = (uint8_t)pt_appid_result(&f->app.id);
    r->app_by_port = pt_appid_by_port(&f->app.id);
    r->ts_ns = f->first_ns;
    r->last_ns = f->last_ns;
    pt_uid_format(r->uid, flow_uid64(k, f->first_ns));
    if (f->parent_uid)
        pt_uid_format(r->parent_uid, f->parent_uid);
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
    if (x) {
        r->missed_bytes = x->missed;
        r->orig_bytes = flow_tcp_size(x, o);
        r->resp_bytes = flow_tcp_size(x, s);
        set_str(r->conn_state, sizeof r->conn_state, flow_tcp_conn_state(f, x));
        r->orig_tcp_flags = x->ep[o].tcp_flags;
        r->resp_tcp_flags = x->ep[s].tcp_flags;
    } else {
        r->orig_bytes = f->bytes[o];
        r->resp_bytes = f->bytes[s];
        const char *st = "OTH";
        if (k->proto == 17)
            st = f->pkts[o] ? (f->pkts[s] ? "SF" : "S0") : (f->pkts[s] ? "SHR" : "OTH");
        set_str(r->conn_state, sizeof r->conn_state, st);
    }
    memcpy(r->history, f->hist, PT_FLOW_HIST_MAX); /* NUL-padded */
    r->history[PT_FLOW_HIST_MAX] = '\0';
    r->ifaces = f->ifaces;
    if (f->fl & (FL_MAC0 << o))
        memcpy(r->orig_mac, f->mac[o], 6);
    if (f->fl & (FL_MAC0 << s))
        memcpy(r->resp_mac, f->mac[s], 6);
    r->end_reason = (uint8_t)end_reason;
    pt_tcp_health_fill(&r->health, x ? &x->health : NULL, &f->ip, o);
    pt_flow_community_id(r->community_id, 0, k->ver, k->proto, r->orig_h, r->resp_h, r->orig_p,
                         r->resp_p, icmp || k->proto == 6 || k->proto == 17 || k->proto == 132,
                         icmp && !pair);
}

/* ---- formatting -------------------------------------------------------------- */

static void put_flags(struct pt_obuf *b, uint8_t fl)
{
    static const char letters[] = "FSRPAUEC";
    char *p = pt_obuf_room(b, 8);
    for (int i = 0; i < 8; i++)
        if (fl & (1u << i))
            *p++ = letters[i];
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

/* Interface @i's name: the caller's, else "if<i>". */
static const char *ifname(unsigned i, const char *const *names, unsigned n, char buf[16])
{
    if (names && i < n && names[i])
        return names[i];
    memcpy(buf, "if", 2);
    *pt_fmt_u64(buf + 2, i) = '\0';
    return buf;
}

/* The names of the interfaces in @mask, comma-separated: JSON strings, or
 * for CSV the raw names with quotes doubled (the caller adds the quotes). */
static void put_ifaces(struct pt_obuf *b, uint32_t mask, const char *const *ifn, unsigned nifn,
                       bool csv)
{
    char nb[16];
    bool first = true;

    for (uint32_t m = mask; m; m &= m - 1) { /* the set bits, lowest first */
        unsigned i = (unsigned)__builtin_ctz(m);
        if (!first)
            pt_obuf_put_c(b, ',');
        const char *s = ifname(i, ifn, nifn, nb);
        if (csv)
            pt_obuf_put_csv_quoted(b, s, strlen(s));
        else
            pt_obuf_put_json_str(b, s, strlen(s));
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

static void put_health_value(struct pt_obuf *b, unsigned i, uint64_t v)
{
    if (i == H_RTT)
        pt_obuf_put_time(b, v);
    else
        pt_obuf_put_u64(b, v);
}

static void json_health(struct pt_obuf *b, const struct pt_flow_record *r)
{
    uint64_t v;

    for (unsigned i = 0; i < H_FIELDS; i++) {
        if (!health_value(r, i, &v))
            continue;
        PT_OBUF_LIT(b, ",\"");
        pt_obuf_put_str(b, health_names[i]);
        PT_OBUF_LIT(b, "\":");
        put_health_value(b, i, v);
    }
}

static void csv_health(struct pt_obuf *b, const struct pt_flow_record *r)
{
    uint64_t v;

    for (unsigned i = 0; i < H_FIELDS; i++) {
        pt_obuf_put_c(b, ',');
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
          "orig_lost,resp_lost,orig_mss,resp_mss,orig_wscale,resp_wscale,orig_ttl,resp_ttl,dscp,"
          "service,app,orig_fqdn,resp_fqdn,orig_cc,resp_cc,orig_asn,resp_asn,orig_rtp_jitter,"
          "resp_rtp_jitter,orig_rtp_max_jitter,resp_rtp_max_jitter,orig_rtp_lost,resp_rtp_lost\n",
          out);
}

static bool rec_icmp(const struct pt_flow_record *r)
{
    return (r->ver == 4 && r->proto == 1) || (r->ver == 6 && r->proto == 58);
}

/* Zeek's service: the payload's decision only (a port guess is no service),
 * "" when Zeek names none for the application. */
static const char *rec_service(const struct pt_flow_record *r)
{
    return r->app_by_port ? "" : pt_app_zeek_service(r->app);
}

/* `app` is written for every TCP/UDP flow: the only ones detection runs on. */
static bool rec_has_app(const struct pt_flow_record *r)
{
    return r->proto == 6 || r->proto == 17;
}

static void json_app(struct pt_obuf *b, const struct pt_flow_record *r)
{
    const char *svc = rec_service(r);

    if (svc[0]) {
        PT_OBUF_LIT(b, ",\"service\":\"");
        pt_obuf_put_str(b, svc);
        pt_obuf_put_c(b, '"');
    }
    if (rec_has_app(r)) {
        PT_OBUF_LIT(b, ",\"app\":\"");
        pt_obuf_put_str(b, pt_app_name(r->app));
        pt_obuf_put_c(b, '"');
    }
}

/* RTP fields, in output order (CSV columns after resp_asn): mean and max
 * jitter in milliseconds, then lost packets, originator first. */
enum { R_JIT = 0, R_MAX = 2, R_LOST = 4, R_FIELDS = 6 };

static const char *const rtp_names[R_FIELDS] = {
    "orig_rtp_jitter",     "resp_rtp_jitter", "orig_rtp_max_jitter",
    "resp_rtp_max_jitter", "orig_rtp_lost",   "resp_rtp_lost",
};

/* @ns as milliseconds with 3 decimals, rounded half up to the microsecond:
 * the precision tshark's RTP statistics print. */
static void put_ms(struct pt_obuf *b, uint64_t ns)
{
    uint64_t us = ns / 1000 + (ns % 1000 >= 500);
    char *p = pt_obuf_room(b, 24);

    p = pt_fmt_u64(p, us / 1000);
    *p++ = '.';
    *p++ = (char)('0' + us % 1000 / 100);
    *p++ = (char)('0' + us % 100 / 10);
    *p++ = (char)('0' + us % 10);
    b->p = p;
}

/* Whether RTP field @i of @r is set: the direction carried RTP, and for the
 * jitter fields a regular packet with a known clock. */
static bool rtp_set(const struct pt_flow_record *r, unsigned i)
{
    const struct pt_rtp_result *x = &r->rtp[i % 2];

    return x->seen && (i >= R_LOST || x->jitter);
}

static void put_rtp_value(struct pt_obuf *b, const struct pt_flow_record *r, unsigned i)
{
    const struct pt_rtp_result *x = &r->rtp[i % 2];

    if (i < R_MAX)
        put_ms(b, x->jitter_ns);
    else if (i < R_LOST)
        put_ms(b, x->max_jitter_ns);
    else
        pt_obuf_put_i64(b, x->lost);
}

static void json_rtp(struct pt_obuf *b, const struct pt_flow_record *r)
{
    for (unsigned i = 0; i < R_FIELDS; i++) {
        if (!rtp_set(r, i))
            continue;
        PT_OBUF_LIT(b, ",\"");
        pt_obuf_put_str(b, rtp_names[i]);
        PT_OBUF_LIT(b, "\":");
        put_rtp_value(b, r, i);
    }
}

static void csv_rtp(struct pt_obuf *b, const struct pt_flow_record *r)
{
    for (unsigned i = 0; i < R_FIELDS; i++) {
        pt_obuf_put_c(b, ',');
        if (rtp_set(r, i))
            put_rtp_value(b, r, i);
    }
}

/* The enrichment fields that are known; names come from DNS answers, so
 * they are wire bytes and escaped like any. */
static void json_enrich(struct pt_obuf *b, const struct pt_flow_record *r)
{
    if (r->orig_fqdn[0]) {
        PT_OBUF_LIT(b, ",\"orig_fqdn\":");
        pt_obuf_put_json_str(b, r->orig_fqdn, PT_FIELD_LEN(r->orig_fqdn));
    }
    if (r->resp_fqdn[0]) {
        PT_OBUF_LIT(b, ",\"resp_fqdn\":");
        pt_obuf_put_json_str(b, r->resp_fqdn, PT_FIELD_LEN(r->resp_fqdn));
    }
    if (r->orig_cc[0]) {
        PT_OBUF_LIT(b, ",\"orig_cc\":");
        pt_obuf_put_json_str(b, r->orig_cc, PT_FIELD_LEN(r->orig_cc));
    }
    if (r->resp_cc[0]) {
        PT_OBUF_LIT(b, ",\"resp_cc\":");
        pt_obuf_put_json_str(b, r->resp_cc, PT_FIELD_LEN(r->resp_cc));
    }
    if (r->orig_asn) {
        PT_OBUF_LIT(b, ",\"orig_asn\":");
        pt_obuf_put_u64(b, r->orig_asn);
    }
    if (r->resp_asn) {
        PT_OBUF_LIT(b, ",\"resp_asn\":");
        pt_obuf_put_u64(b, r->resp_asn);
    }
}

/* CSV, the columns after dscp: service to resp_asn (0 ASN = empty). */
static void csv_app_enrich(struct pt_obuf *b, const struct pt_flow_record *r)
{
    const char *svc = rec_service(r);

    pt_obuf_put_c(b, ',');
    pt_obuf_put_str(b, svc);
    pt_obuf_put_c(b, ',');
    if (rec_has_app(r))
        pt_obuf_put_str(b, pt_app_name(r->app));
    pt_obuf_put_c(b, ',');
    pt_obuf_put_csv_str(b, r->orig_fqdn, PT_FIELD_LEN(r->orig_fqdn));
    pt_obuf_put_c(b, ',');
    pt_obuf_put_csv_str(b, r->resp_fqdn, PT_FIELD_LEN(r->resp_fqdn));
    pt_obuf_put_c(b, ',');
    pt_obuf_put_csv_str(b, r->orig_cc, PT_FIELD_LEN(r->orig_cc));
    pt_obuf_put_c(b, ',');
    pt_obuf_put_csv_str(b, r->resp_cc, PT_FIELD_LEN(r->resp_cc));
    pt_obuf_put_c(b, ',');
    if (r->orig_asn)
        pt_obuf_put_u64(b, r->orig_asn);
    pt_obuf_put_c(b, ',');
    if (r->resp_asn)
        pt_obuf_put_u64(b, r->resp_asn);
}

/* JSON, first part: "_path" to "resp_ip_bytes". */
static void json_head(struct pt_obuf *b, const struct pt_flow_record *r)
{
    PT_OBUF_LIT(b, "{\"_path\":\"conn\",\"ts\":");
    pt_obuf_put_time(b, r->ts_ns);
    PT_OBUF_LIT(b, ",\"uid\":");
    pt_obuf_put_json_str(b, r->uid, PT_FIELD_LEN(r->uid));
    PT_OBUF_LIT(b, ",\"id.orig_h\":\"");
    pt_obuf_put_addr(b, r->orig_h, r->ver);
    PT_OBUF_LIT(b, "\",\"id.orig_p\":");
    pt_obuf_put_u64(b, r->orig_p);
    PT_OBUF_LIT(b, ",\"id.resp_h\":\"");
    pt_obuf_put_addr(b, r->resp_h, r->ver);
    PT_OBUF_LIT(b, "\",\"id.resp_p\":");
    pt_obuf_put_u64(b, r->resp_p);
    PT_OBUF_LIT(b, ",\"proto\":\"");
    pt_obuf_put_str(b, proto_name(r));
    pt_obuf_put_c(b, '"');
    json_app(b, r);
    if (r->last_ns > r->ts_ns) {
        PT_OBUF_LIT(b, ",\"duration\":");
        pt_obuf_put_time(b, r->last_ns - r->ts_ns);
        PT_OBUF_LIT(b, ",\"orig_bytes\":");
        pt_obuf_put_u64(b, r->orig_bytes);
        PT_OBUF_LIT(b, ",\"resp_bytes\":");
        pt_obuf_put_u64(b, r->resp_bytes);
    }
    PT_OBUF_LIT(b, ",\"conn_state\":");
    pt_obuf_put_json_str(b, r->conn_state, PT_FIELD_LEN(r->conn_state));
    PT_OBUF_LIT(b, ",\"missed_bytes\":");
    pt_obuf_put_u64(b, r->missed_bytes);
    if (r->history[0]) {
        PT_OBUF_LIT(b, ",\"history\":");
        pt_obuf_put_json_str(b, r->history, PT_FIELD_LEN(r->history));
    }
    PT_OBUF_LIT(b, ",\"orig_pkts\":");
    pt_obuf_put_u64(b, r->orig_pkts);
    PT_OBUF_LIT(b, ",\"orig_ip_bytes\":");
    pt_obuf_put_u64(b, r->orig_ip_bytes);
    PT_OBUF_LIT(b, ",\"resp_pkts\":");
    pt_obuf_put_u64(b, r->resp_pkts);
    PT_OBUF_LIT(b, ",\"resp_ip_bytes\":");
    pt_obuf_put_u64(b, r->resp_ip_bytes);
}

/* JSON, second part: "tunnel_parents" to the end of the line. */
static void json_tail(struct pt_obuf *b, const struct pt_flow_record *r, const char *const *ifn,
                      unsigned nifn)
{
    if (r->parent_uid[0]) {
        PT_OBUF_LIT(b, ",\"tunnel_parents\":[");
        pt_obuf_put_json_str(b, r->parent_uid, PT_FIELD_LEN(r->parent_uid));
        pt_obuf_put_c(b, ']');
    }
    PT_OBUF_LIT(b, ",\"ip_proto\":");
    pt_obuf_put_u64(b, r->proto);
    if (r->vlan != PT_VLAN_NONE) {
        PT_OBUF_LIT(b, ",\"vlan\":");
        pt_obuf_put_u64(b, r->vlan);
    }
    if (r->inner_vlan != PT_VLAN_NONE) {
        PT_OBUF_LIT(b, ",\"inner_vlan\":");
        pt_obuf_put_u64(b, r->inner_vlan);
    }
    if (rec_icmp(r)) {
        PT_OBUF_LIT(b, ",\"icmp_type\":");
        pt_obuf_put_u64(b, r->icmp_type);
        PT_OBUF_LIT(b, ",\"icmp_code\":");
        pt_obuf_put_u64(b, r->icmp_code);
    }
    if (r->proto == 6 && r->orig_tcp_flags) {
        PT_OBUF_LIT(b, ",\"orig_tcp_flags\":\"");
        put_flags(b, r->orig_tcp_flags);
        pt_obuf_put_c(b, '"');
    }
    if (r->proto == 6 && r->resp_tcp_flags) {
        PT_OBUF_LIT(b, ",\"resp_tcp_flags\":\"");
        put_flags(b, r->resp_tcp_flags);
        pt_obuf_put_c(b, '"');
    }
    if (r->ifaces) {
        PT_OBUF_LIT(b, ",\"interfaces\":[");
        put_ifaces(b, r->ifaces, ifn, nifn, false);
        pt_obuf_put_c(b, ']');
    }
    if (pt_mac_set(r->orig_mac)) {
        PT_OBUF_LIT(b, ",\"orig_l2_addr\":\"");
        pt_obuf_put_mac(b, r->orig_mac);
        pt_obuf_put_c(b, '"');
    }
    if (pt_mac_set(r->resp_mac)) {
        PT_OBUF_LIT(b, ",\"resp_l2_addr\":\"");
        pt_obuf_put_mac(b, r->resp_mac);
        pt_obuf_put_c(b, '"');
    }
    json_enrich(b, r);
    json_health(b, r);
    json_rtp(b, r);
    PT_OBUF_LIT(b, ",\"community_id\":");
    pt_obuf_put_json_str(b, r->community_id, PT_FIELD_LEN(r->community_id));
    PT_OBUF_LIT(b, ",\"end_reason\":\"");
    pt_obuf_put_str(b, pt_flow_end_name(r->end_reason));
    PT_OBUF_LIT(b, "\"}\n");
}

/* CSV, first part: ts to tunnel_parents and the comma after it. */
static void csv_head(struct pt_obuf *b, const struct pt_flow_record *r)
{
    pt_obuf_put_time(b, r->ts_ns);
    pt_obuf_put_c(b, ',');
    pt_obuf_put_csv_str(b, r->uid, PT_FIELD_LEN(r->uid));
    pt_obuf_put_c(b, ',');
    pt_obuf_put_addr(b, r->orig_h, r->ver);
    pt_obuf_put_c(b, ',');
    pt_obuf_put_u64(b, r->orig_p);
    pt_obuf_put_c(b, ',');
    pt_obuf_put_addr(b, r->resp_h, r->ver);
    pt_obuf_put_c(b, ',');
    pt_obuf_put_u64(b, r->resp_p);
    pt_obuf_put_c(b, ',');
    pt_obuf_put_str(b, proto_name(r));
    pt_obuf_put_c(b, ',');
    if (r->last_ns > r->ts_ns) {
        pt_obuf_put_time(b, r->last_ns - r->ts_ns);
        pt_obuf_put_c(b, ',');
        pt_obuf_put_u64(b, r->orig_bytes);
        pt_obuf_put_c(b, ',');
        pt_obuf_put_u64(b, r->resp_bytes);
        pt_obuf_put_c(b, ',');
    } else {
        PT_OBUF_LIT(b, ",,,");
    }
    pt_obuf_put_csv_str(b, r->conn_state, PT_FIELD_LEN(r->conn_state));
    pt_obuf_put_c(b, ',');
    pt_obuf_put_u64(b, r->missed_bytes);
    pt_obuf_put_c(b, ',');
    pt_obuf_put_csv_str(b, r->history, PT_FIELD_LEN(r->history));
    pt_obuf_put_c(b, ',');
    pt_obuf_put_u64(b, r->orig_pkts);
    pt_obuf_put_c(b, ',');
    pt_obuf_put_u64(b, r->orig_ip_bytes);
    pt_obuf_put_c(b, ',');
    pt_obuf_put_u64(b, r->resp_pkts);
    pt_obuf_put_c(b, ',');
    pt_obuf_put_u64(b, r->resp_ip_bytes);
    pt_obuf_put_c(b, ',');
    pt_obuf_put_csv_str(b, r->parent_uid, PT_FIELD_LEN(r->parent_uid));
    pt_obuf_put_c(b, ',');
}

/* CSV, second part: ip_proto to the end of the line. The interfaces field is
 * always quoted, names joined with ',' and their quotes doubled. */
static void csv_tail(struct pt_obuf *b, const struct pt_flow_record *r, const char *const *ifn,
                     unsigned nifn)
{
    pt_obuf_put_u64(b, r->proto);
    pt_obuf_put_c(b, ',');
    if (r->vlan != PT_VLAN_NONE)
        pt_obuf_put_u64(b, r->vlan);
    pt_obuf_put_c(b, ',');
    if (r->inner_vlan != PT_VLAN_NONE)
        pt_obuf_put_u64(b, r->inner_vlan);
    pt_obuf_put_c(b, ',');
    if (rec_icmp(r)) {
        pt_obuf_put_u64(b, r->icmp_type);
        pt_obuf_put_c(b, ',');
        pt_obuf_put_u64(b, r->icmp_code);
        pt_obuf_put_c(b, ',');
    } else {
        PT_OBUF_LIT(b, ",,");
    }
    if (r->proto == 6)
        put_flags(b, r->orig_tcp_flags);
    pt_obuf_put_c(b, ',');
    if (r->proto == 6)
        put_flags(b, r->resp_tcp_flags);
    pt_obuf_put_c(b, ',');
    if (r->ifaces) {
        pt_obuf_put_c(b, '"');
        put_ifaces(b, r->ifaces, ifn, nifn, true);
        pt_obuf_put_c(b, '"');
    }
    pt_obuf_put_c(b, ',');
    if (pt_mac_set(r->orig_mac))
        pt_obuf_put_mac(b, r->orig_mac);
    pt_obuf_put_c(b, ',');
    if (pt_mac_set(r->resp_mac))
        pt_obuf_put_mac(b, r->resp_mac);
    pt_obuf_put_c(b, ',');
    pt_obuf_put_csv_str(b, r->community_id, PT_FIELD_LEN(r->community_id));
    pt_obuf_put_c(b, ',');
    pt_obuf_put_str(b, pt_flow_end_name(r->end_reason));
    csv_health(b, r);
    csv_app_enrich(b, r);
    csv_rtp(b, r);
    pt_obuf_put_c(b, '\n');
}

int pt_flow_record_write(FILE *out, enum pt_record_format fmt, const struct pt_flow_record *rec,
                         const char *const *ifnames, unsigned n_ifnames)
{
    struct pt_obuf b;

    pt_obuf_init(&b, out);
    if (fmt == PT_FMT_CSV) {
        csv_head(&b, rec);
        csv_tail(&b, rec, ifnames, n_ifnames);
    } else {
        json_head(&b, rec);
        json_tail(&b, rec, ifnames, n_ifnames);
    }
    pt_obuf_flush(&b);
    return ferror(out) ? -EIO : 0;
}
