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
 * strings are escaped for any byte: invalid UTF-8 bytes become \u00XX. */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
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
    if (!EVP_Digest(buf, n, md, &mdlen, EVP_sha1(), NULL) || mdlen != 20) {
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
    pt_flow_community_id(r->community_id, 0, k->ver, k->proto, r->orig_h, r->resp_h, r->orig_p,
                         r->resp_p, icmp || k->proto == 6 || k->proto == 17 || k->proto == 132,
                         icmp && !pair);
}

/* ---- formatting -------------------------------------------------------------- */

static void addr_text(char *out, size_t n, const uint8_t a[16], uint8_t ver)
{
    if (ver == 4)
        snprintf(out, n, "%u.%u.%u.%u", a[12], a[13], a[14], a[15]);
    else if (!inet_ntop(AF_INET6, a, out, (socklen_t)n))
        snprintf(out, n, "::");
}

static void time_text(char *out, size_t n, uint64_t ns)
{
    uint64_t us = (ns + 500) / 1000;
    snprintf(out, n, "%" PRIu64 ".%06" PRIu64, us / 1000000, us % 1000000);
}

static void flags_text(char *out, uint8_t fl)
{
    static const char letters[] = "FSRPAUEC";
    int n = 0;
    for (int i = 0; i < 8; i++)
        if (fl & (1u << i))
            out[n++] = letters[i];
    out[n] = '\0';
}

static bool mac_set(const uint8_t m[6])
{
    static const uint8_t zero[6];
    return memcmp(m, zero, 6) != 0;
}

static void mac_text(char *out, size_t n, const uint8_t m[6])
{
    snprintf(out, n, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
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

static const char *ifname(unsigned i, const char *const *names, unsigned n, char *buf, size_t len)
{
    if (names && i < n && names[i])
        return names[i];
    snprintf(buf, len, "if%u", i);
    return buf;
}

/* Length of the valid UTF-8 sequence at @s (1..4), 0 if invalid. */
static size_t utf8_len(const unsigned char *s)
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

static void json_str(FILE *out, const char *str)
{
    const unsigned char *s = (const unsigned char *)str;

    fputc('"', out);
    while (*s) {
        unsigned c = *s;
        size_t n;
        if (c == '"' || c == '\\') {
            fputc('\\', out);
            fputc((int)c, out);
            s++;
        } else if (c == '\n') {
            fputs("\\n", out), s++;
        } else if (c == '\r') {
            fputs("\\r", out), s++;
        } else if (c == '\t') {
            fputs("\\t", out), s++;
        } else if (c < 0x20 || c == 0x7f) {
            fprintf(out, "\\u%04x", c), s++;
        } else if ((n = utf8_len(s)) == 0) {
            fprintf(out, "\\u%04x", c), s++; /* not UTF-8: the byte as a code point */
        } else {
            fwrite(s, 1, n, out);
            s += n;
        }
    }
    fputc('"', out);
}

static void csv_str(FILE *out, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, out);
        return;
    }
    fputc('"', out);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', out);
        fputc(*s, out);
    }
    fputc('"', out);
}

void pt_flow_record_csv_header(FILE *out)
{
    fputs("ts,uid,id.orig_h,id.orig_p,id.resp_h,id.resp_p,proto,duration,orig_bytes,resp_bytes,"
          "conn_state,missed_bytes,history,orig_pkts,orig_ip_bytes,resp_pkts,resp_ip_bytes,"
          "tunnel_parents,ip_proto,vlan,inner_vlan,icmp_type,icmp_code,orig_tcp_flags,"
          "resp_tcp_flags,interfaces,orig_l2_addr,resp_l2_addr,community_id,end_reason\n",
          out);
}

struct rec_text {
    char ts[32], dur[32], oh[INET6_ADDRSTRLEN], rh[INET6_ADDRSTRLEN];
    char of[9], rf[9], om[18], rm[18];
    bool has_dur, icmp, tcp;
};

static void rec_text(struct rec_text *x, const struct pt_flow_record *r)
{
    time_text(x->ts, sizeof x->ts, r->ts_ns);
    x->has_dur = r->last_ns > r->ts_ns;
    time_text(x->dur, sizeof x->dur, x->has_dur ? r->last_ns - r->ts_ns : 0);
    addr_text(x->oh, sizeof x->oh, r->orig_h, r->ver);
    addr_text(x->rh, sizeof x->rh, r->resp_h, r->ver);
    flags_text(x->of, r->orig_tcp_flags);
    flags_text(x->rf, r->resp_tcp_flags);
    mac_text(x->om, sizeof x->om, r->orig_mac);
    mac_text(x->rm, sizeof x->rm, r->resp_mac);
    x->icmp = (r->ver == 4 && r->proto == 1) || (r->ver == 6 && r->proto == 58);
    x->tcp = r->proto == 6;
}

static void write_json(FILE *out, const struct pt_flow_record *r, const char *const *ifn,
                       unsigned nifn)
{
    struct rec_text x;
    char nb[16];

    rec_text(&x, r);
    fprintf(out, "{\"_path\":\"conn\",\"ts\":%s,\"uid\":", x.ts);
    json_str(out, r->uid);
    fprintf(out, ",\"id.orig_h\":\"%s\",\"id.orig_p\":%u,\"id.resp_h\":\"%s\",\"id.resp_p\":%u",
            x.oh, r->orig_p, x.rh, r->resp_p);
    fprintf(out, ",\"proto\":\"%s\"", proto_name(r));
    if (x.has_dur)
        fprintf(out, ",\"duration\":%s,\"orig_bytes\":%" PRIu64 ",\"resp_bytes\":%" PRIu64, x.dur,
                r->orig_bytes, r->resp_bytes);
    fputs(",\"conn_state\":", out);
    json_str(out, r->conn_state);
    fprintf(out, ",\"missed_bytes\":%" PRIu64, r->missed_bytes);
    if (r->history[0]) {
        fputs(",\"history\":", out);
        json_str(out, r->history);
    }
    fprintf(out,
            ",\"orig_pkts\":%" PRIu64 ",\"orig_ip_bytes\":%" PRIu64 ",\"resp_pkts\":%" PRIu64
            ",\"resp_ip_bytes\":%" PRIu64,
            r->orig_pkts, r->orig_ip_bytes, r->resp_pkts, r->resp_ip_bytes);
    if (r->parent_uid[0]) {
        fputs(",\"tunnel_parents\":[", out);
        json_str(out, r->parent_uid);
        fputc(']', out);
    }
    fprintf(out, ",\"ip_proto\":%u", r->proto);
    if (r->vlan != PT_VLAN_NONE)
        fprintf(out, ",\"vlan\":%u", r->vlan);
    if (r->inner_vlan != PT_VLAN_NONE)
        fprintf(out, ",\"inner_vlan\":%u", r->inner_vlan);
    if (x.icmp)
        fprintf(out, ",\"icmp_type\":%u,\"icmp_code\":%u", r->icmp_type, r->icmp_code);
    if (x.tcp && x.of[0])
        fprintf(out, ",\"orig_tcp_flags\":\"%s\"", x.of);
    if (x.tcp && x.rf[0])
        fprintf(out, ",\"resp_tcp_flags\":\"%s\"", x.rf);
    if (r->ifaces) {
        bool first = true;
        fputs(",\"interfaces\":[", out);
        for (unsigned i = 0; i < 32; i++) {
            if (!(r->ifaces & (1u << i)))
                continue;
            if (!first)
                fputc(',', out);
            json_str(out, ifname(i, ifn, nifn, nb, sizeof nb));
            first = false;
        }
        fputc(']', out);
    }
    if (mac_set(r->orig_mac))
        fprintf(out, ",\"orig_l2_addr\":\"%s\"", x.om);
    if (mac_set(r->resp_mac))
        fprintf(out, ",\"resp_l2_addr\":\"%s\"", x.rm);
    fputs(",\"community_id\":", out);
    json_str(out, r->community_id);
    fprintf(out, ",\"end_reason\":\"%s\"}\n", pt_flow_end_name(r->end_reason));
}

static void write_csv(FILE *out, const struct pt_flow_record *r, const char *const *ifn,
                      unsigned nifn)
{
    struct rec_text x;
    char nb[16];

    rec_text(&x, r);
    fprintf(out, "%s,", x.ts);
    csv_str(out, r->uid);
    fprintf(out, ",%s,%u,%s,%u,%s,", x.oh, r->orig_p, x.rh, r->resp_p, proto_name(r));
    if (x.has_dur)
        fprintf(out, "%s,%" PRIu64 ",%" PRIu64 ",", x.dur, r->orig_bytes, r->resp_bytes);
    else
        fputs(",,,", out);
    csv_str(out, r->conn_state);
    fprintf(out, ",%" PRIu64 ",", r->missed_bytes);
    csv_str(out, r->history);
    fprintf(out, ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",", r->orig_pkts,
            r->orig_ip_bytes, r->resp_pkts, r->resp_ip_bytes);
    csv_str(out, r->parent_uid);
    fprintf(out, ",%u,", r->proto);
    if (r->vlan != PT_VLAN_NONE)
        fprintf(out, "%u", r->vlan);
    fputc(',', out);
    if (r->inner_vlan != PT_VLAN_NONE)
        fprintf(out, "%u", r->inner_vlan);
    fputc(',', out);
    if (x.icmp)
        fprintf(out, "%u,%u,", r->icmp_type, r->icmp_code);
    else
        fputs(",,", out);
    fprintf(out, "%s,%s,", x.tcp ? x.of : "", x.tcp ? x.rf : "");
    if (r->ifaces) {
        bool first = true;
        fputc('"', out);
        for (unsigned i = 0; i < 32; i++) {
            if (!(r->ifaces & (1u << i)))
                continue;
            const char *s = ifname(i, ifn, nifn, nb, sizeof nb);
            if (!first)
                fputc(',', out);
            for (; *s; s++) {
                if (*s == '"')
                    fputc('"', out);
                fputc(*s, out);
            }
            first = false;
        }
        fputc('"', out);
    }
    fprintf(out, ",%s,%s,", mac_set(r->orig_mac) ? x.om : "", mac_set(r->resp_mac) ? x.rm : "");
    csv_str(out, r->community_id);
    fprintf(out, ",%s\n", pt_flow_end_name(r->end_reason));
}

int pt_flow_record_write(FILE *out, enum pt_record_format fmt, const struct pt_flow_record *rec,
                         const char *const *ifnames, unsigned n_ifnames)
{
    if (fmt == PT_FMT_CSV)
        write_csv(out, rec, ifnames, n_ifnames);
    else
        write_json(out, rec, ifnames, n_ifnames);
    return ferror(out) ? -EIO : 0;
}
