/* write.c - app-layer records as JSON lines (include/pt/app.h, "writing").
 *
 * DESIGN: one writer per log, each formatting one record into a stack
 * struct pt_obuf with the same appenders as the conn records (pt/obuf.h), so
 * times, addresses and escaped strings read the same in every stream, then
 * one fwrite. Field names are Zeek's (dns.log, http.log, ssl.log, dhcp.log);
 * where Zeek has no field, the name comes from the Zeek package or policy
 * script that logs the fact (ja3/ja3s: salesforce/ja3, ja4: FoxIO's ja4,
 * client_version/orig_alpn/...: policy/protocols/ssl/ssl-log-ext.zeek, the
 * certificate's validity and SANs: x509.log's), and only then is ours
 * (docs/APP.md, "Records", lists every field).
 *
 * Records of a flow (dns, http, ssl) start with the flow's identity, in the
 * conn record's orientation (originator first), and end with its Community
 * ID, so every record pivots to the conn record and to other tools. dhcp
 * records span several flows (their uids) and arp events belong to none:
 * neither carries id.* nor community_id.
 *
 * Every string from the wire is bytes with an explicit length: it is
 * escaped by pt_obuf_put_json_str() (any byte, NUL included, gives valid
 * JSON) and its length is clamped to its array, so a corrupt length in a
 * record can only shorten a field, never read past it. The uid text lives
 * here because every record of a flow carries it: the conn record
 * (src/flow/record.c) and the app records. */
#include <errno.h>

#include "pt/app.h"
#include "pt/flow.h"
#include "pt/obuf.h"

/* The @k base-62 digits of @x (< 62^5: 32-bit arithmetic) ending at @e. */
static void b62_digits(char *e, uint32_t x, unsigned k)
{
    static const char b62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

    while (k--) {
        *--e = b62[x % 62];
        x /= 62;
    }
}

static unsigned b62_len(uint32_t x)
{
    unsigned n = 1;

    while (x >= 62)
        x /= 62, n++;
    return n;
}

void pt_uid_format(char out[20], uint64_t v)
{
    /* Every record carries a uid. The number is cut into three parts below
     * 62^5 (the top one below 22), each converted in 32-bit arithmetic,
     * instead of eleven 64-bit divisions and a pass to reverse the digits. */
    const uint64_t p5 = 916132832; /* 62^5 */
    uint32_t lo = (uint32_t)(v % p5), mid = (uint32_t)(v / p5 % p5), hi = (uint32_t)(v / p5 / p5);
    unsigned n;

    if (hi)
        n = 10 + b62_len(hi);
    else if (mid)
        n = 5 + b62_len(mid);
    else
        n = b62_len(lo);
    out[0] = 'C';
    out[1 + n] = '\0';
    b62_digits(out + 1 + n, lo, n < 5 ? n : 5);
    if (n > 5)
        b62_digits(out + 1 + n - 5, mid, n < 10 ? n - 5 : 5);
    if (n > 10)
        b62_digits(out + 1 + n - 10, hi, n - 10);
}

/* ---- shared pieces ---- */

static size_t clamp(size_t n, size_t max)
{
    return n < max ? n : max;
}

/* ,"@name": then @n bytes of @s as a JSON string. @name_lit is a literal
 * with the quotes and colon: ",\"query\":". */
#define PUT_FIELD_STR(b, name_lit, s, n)                                                           \
    do {                                                                                           \
        PT_OBUF_LIT(b, name_lit);                                                                  \
        pt_obuf_put_json_str(b, s, n);                                                             \
    } while (0)

#define PUT_FIELD_U64(b, name_lit, v)                                                              \
    do {                                                                                           \
        PT_OBUF_LIT(b, name_lit);                                                                  \
        pt_obuf_put_u64(b, v);                                                                     \
    } while (0)

#define PUT_FIELD_BOOL(b, name_lit, v)                                                             \
    do {                                                                                           \
        PT_OBUF_LIT(b, name_lit);                                                                  \
        pt_obuf_put_bool(b, v);                                                                    \
    } while (0)

/* A name of our own making (Zeek's names of numbers, "unknown-N"): plain
 * ASCII without quotes or backslashes, so it needs no escaping. */
static void put_name(struct pt_obuf *b, const char *s)
{
    pt_obuf_put_c(b, '"');
    pt_obuf_put_str(b, s);
    pt_obuf_put_c(b, '"');
}

static void put_ipv4(struct pt_obuf *b, const uint8_t a[4])
{
    pt_obuf_put_c(b, '"');
    b->p = pt_fmt_ipv4(pt_obuf_room(b, 16), a);
    pt_obuf_put_c(b, '"');
}

/* "_path", ts, uid and the four id.* fields of a flow's record. */
static void put_conn_head(struct pt_obuf *b, const char *path, uint64_t ts_ns,
                          const struct pt_app_conn *c)
{
    char uid[20];

    PT_OBUF_LIT(b, "{\"_path\":\"");
    pt_obuf_put_str(b, path);
    PT_OBUF_LIT(b, "\",\"ts\":");
    pt_obuf_put_time(b, ts_ns);
    pt_uid_format(uid, c->uid64);
    PT_OBUF_LIT(b, ",\"uid\":\"");
    pt_obuf_put_str(b, uid);
    PT_OBUF_LIT(b, "\",\"id.orig_h\":\"");
    pt_obuf_put_addr(b, c->orig_h, c->ver);
    PT_OBUF_LIT(b, "\",\"id.orig_p\":");
    pt_obuf_put_u64(b, c->orig_p);
    PT_OBUF_LIT(b, ",\"id.resp_h\":\"");
    pt_obuf_put_addr(b, c->resp_h, c->ver);
    PT_OBUF_LIT(b, "\",\"id.resp_p\":");
    pt_obuf_put_u64(b, c->resp_p);
}

/* community_id (as the conn record computes it: seed 0, ports for the
 * protocols that have them) and the end of the line. Without SHA-1 in
 * OpenSSL there is no Community ID, and the field is left out. */
static void put_conn_tail(struct pt_obuf *b, const struct pt_app_conn *c)
{
    char cid[36];
    bool ports = c->proto == 6 || c->proto == 17 || c->proto == 132;

    pt_flow_community_id(cid, 0, c->ver, c->proto, c->orig_h, c->resp_h, c->orig_p, c->resp_p,
                         ports, false);
    if (cid[0]) {
        PT_OBUF_LIT(b, ",\"community_id\":\"");
        pt_obuf_put_str(b, cid);
        pt_obuf_put_c(b, '"');
    }
    PT_OBUF_LIT(b, "}\n");
}

static int finish(struct pt_obuf *b, FILE *out)
{
    pt_obuf_flush(b);
    return ferror(out) ? -EIO : 0;
}

/* ---- dns.log ---- */

static void put_dns_answers(struct pt_obuf *b, const struct pt_dns_txn *t)
{
    unsigned n = (unsigned)clamp(t->n_answers, PT_DNS_MAX_ANSWERS);

    if (!n)
        return;
    PT_OBUF_LIT(b, ",\"answers\":[");
    for (unsigned i = 0; i < n; i++) {
        if (i)
            pt_obuf_put_c(b, ',');
        pt_obuf_put_json_str(b, t->answers[i], clamp(t->answer_len[i], PT_DNS_TEXT_MAX - 1));
    }
    PT_OBUF_LIT(b, "],\"TTLs\":[");
    for (unsigned i = 0; i < n; i++) {
        if (i)
            pt_obuf_put_c(b, ',');
        pt_obuf_put_time(b, (uint64_t)t->TTLs[i] * 1000000000u); /* an interval, as Zeek */
    }
    pt_obuf_put_c(b, ']');
}

int pt_app_dns_write(FILE *out, const struct pt_app_conn *c, const struct pt_app_dns *d)
{
    const struct pt_dns_txn *t = &d->txn;
    struct pt_obuf b;
    char nb[16];

    pt_obuf_init(&b, out);
    put_conn_head(&b, "dns", t->ts_ns, c);
    PT_OBUF_LIT(&b, ",\"proto\":");
    put_name(&b, c->proto == 6 ? "tcp" : "udp");
    PUT_FIELD_U64(&b, ",\"trans_id\":", t->trans_id);
    if (t->has_rtt) {
        PT_OBUF_LIT(&b, ",\"rtt\":");
        pt_obuf_put_time(&b, t->rtt_ns);
    }
    if (t->has_query)
        PUT_FIELD_STR(&b, ",\"query\":", t->query, clamp(t->query_len, PT_DNS_NAME_MAX - 1));
    if (t->has_qtype) {
        PUT_FIELD_U64(&b, ",\"qclass\":", t->qclass);
        PT_OBUF_LIT(&b, ",\"qclass_name\":");
        put_name(&b, pt_dns_qclass_name(t->qclass, nb));
        PUT_FIELD_U64(&b, ",\"qtype\":", t->qtype);
        PT_OBUF_LIT(&b, ",\"qtype_name\":");
        put_name(&b, pt_dns_qtype_name(t->qtype, nb));
    }
    if (t->has_rcode) {
        PUT_FIELD_U64(&b, ",\"rcode\":", t->rcode);
        PT_OBUF_LIT(&b, ",\"rcode_name\":");
        put_name(&b, pt_dns_rcode_name(t->rcode, nb));
    }
    PUT_FIELD_BOOL(&b, ",\"AA\":", t->AA);
    PUT_FIELD_BOOL(&b, ",\"TC\":", t->TC);
    PUT_FIELD_BOOL(&b, ",\"RD\":", t->RD);
    PUT_FIELD_BOOL(&b, ",\"RA\":", t->RA);
    PUT_FIELD_U64(&b, ",\"Z\":", t->Z);
    put_dns_answers(&b, t);
    PUT_FIELD_BOOL(&b, ",\"rejected\":", t->rejected);
    PUT_FIELD_U64(&b, ",\"opcode\":", t->opcode);
    PT_OBUF_LIT(&b, ",\"opcode_name\":");
    put_name(&b, pt_dns_opcode_name(t->opcode, nb));
    put_conn_tail(&b, c);
    return finish(&b, out);
}

/* ---- http.log ---- */

/* ,"@name":"..." when the field has bytes (Zeek leaves an absent header
 * unset; an empty one cannot be told from it here). */
#define PUT_HTTP_STR(b, name_lit, arr, len)                                                        \
    do {                                                                                           \
        size_t n_ = clamp((len), sizeof(arr) - 1);                                                 \
        if (n_)                                                                                    \
            PUT_FIELD_STR(b, name_lit, arr, n_);                                                   \
    } while (0)

int pt_app_http_write(FILE *out, const struct pt_app_conn *c, const struct pt_http_txn *t)
{
    const struct pt_http_req *q = &t->req;
    const struct pt_http_resp *r = &t->resp;
    bool req = t->flags & PT_HTTP_TX_REQUEST;
    struct pt_obuf b;

    pt_obuf_init(&b, out);
    /* Zeek's ts is the request's; a response without request has only its own */
    put_conn_head(&b, "http", req ? q->ts_ns : r->ts_ns, c);
    if (req)
        PUT_FIELD_U64(&b, ",\"trans_depth\":", q->trans_depth);
    PUT_HTTP_STR(&b, ",\"method\":", q->method, q->method_len);
    PUT_HTTP_STR(&b, ",\"host\":", q->host, q->host_len);
    PUT_HTTP_STR(&b, ",\"uri\":", q->uri, q->uri_len);
    PUT_HTTP_STR(&b, ",\"referrer\":", q->referrer, q->referrer_len);
    /* Zeek's version: the response's, else the request's */
    if (r->version_len)
        PUT_HTTP_STR(&b, ",\"version\":", r->version, r->version_len);
    else
        PUT_HTTP_STR(&b, ",\"version\":", q->version, q->version_len);
    PUT_HTTP_STR(&b, ",\"user_agent\":", q->user_agent, q->user_agent_len);
    PUT_FIELD_U64(&b, ",\"request_body_len\":", q->body_len);
    PUT_FIELD_U64(&b, ",\"response_body_len\":", r->body_len);
    if (r->status_code) {
        PUT_FIELD_U64(&b, ",\"status_code\":", r->status_code);
        PUT_FIELD_STR(&b, ",\"status_msg\":", r->status_msg,
                      clamp(r->status_msg_len, sizeof r->status_msg - 1));
    }
    if (r->info_code) {
        PUT_FIELD_U64(&b, ",\"info_code\":", r->info_code);
        PUT_FIELD_STR(&b, ",\"info_msg\":", r->info_msg,
                      clamp(r->info_msg_len, sizeof r->info_msg - 1));
    }
    /* ours: the Content-Type headers (Zeek's *_mime_types sniff the bodies) */
    PUT_HTTP_STR(&b, ",\"request_content_type\":", q->ctype, q->ctype_len);
    PUT_HTTP_STR(&b, ",\"response_content_type\":", r->ctype, r->ctype_len);
    put_conn_tail(&b, c);
    return finish(&b, out);
}

/* ---- ssl.log ---- */

/* The entries of a length-prefixed list (ALPN, SAN DNS names) as a JSON
 * array of strings. */
static void put_list(struct pt_obuf *b, const uint8_t *list, size_t len)
{
    const uint8_t *item;
    size_t off = 0, n, i = 0;

    pt_obuf_put_c(b, '[');
    while (pt_tls_list_next(list, len, &off, &item, &n)) {
        if (i++)
            pt_obuf_put_c(b, ',');
        pt_obuf_put_json_str(b, (const char *)item, n);
    }
    pt_obuf_put_c(b, ']');
}

static void put_cert(struct pt_obuf *b, const struct pt_tls_cert *x)
{
    unsigned nip = (unsigned)clamp(x->n_san_ip, PT_TLS_SAN_IP_MAX);

    PUT_FIELD_STR(b, ",\"subject\":", x->subject, PT_FIELD_LEN(x->subject));
    PUT_FIELD_STR(b, ",\"issuer\":", x->issuer, PT_FIELD_LEN(x->issuer));
    PT_OBUF_LIT(b, ",\"certificate.not_valid_before\":");
    pt_obuf_put_secs(b, x->not_before);
    PT_OBUF_LIT(b, ",\"certificate.not_valid_after\":");
    pt_obuf_put_secs(b, x->not_after);
    if (x->n_san_dns) {
        PT_OBUF_LIT(b, ",\"san.dns\":");
        put_list(b, x->san_dns, clamp(x->san_dns_len, sizeof x->san_dns));
    }
    if (nip) {
        PT_OBUF_LIT(b, ",\"san.ip\":[");
        for (unsigned i = 0; i < nip; i++) {
            if (i)
                pt_obuf_put_c(b, ',');
            pt_obuf_put_c(b, '"');
            pt_obuf_put_addr_any(b, x->san_ip[i]);
            pt_obuf_put_c(b, '"');
        }
        pt_obuf_put_c(b, ']');
    }
    PUT_FIELD_BOOL(b, ",\"cert_self_signed\":", x->self_signed);
    PUT_FIELD_BOOL(b, ",\"cert_expired\":", x->expired);
}

/* Zeek's base fields: version, cipher, server_name, next_protocol. */
static void put_ssl_base(struct pt_obuf *b, const struct pt_tls_result *r)
{
    char nb[24];

    if (r->flags & PT_TLS_F_SERVER_HELLO) {
        const char *cs = pt_tls_cipher_name(r->cipher);

        pt_tls_version_name(r->version, nb);
        PT_OBUF_LIT(b, ",\"version\":");
        put_name(b, nb);
        PT_OBUF_LIT(b, ",\"cipher\":\"");
        if (cs) {
            pt_obuf_put_str(b, cs);
        } else {
            PT_OBUF_LIT(b, "unknown-");
            pt_obuf_put_u64(b, r->cipher);
        }
        pt_obuf_put_c(b, '"');
    }
    if (r->flags & PT_TLS_F_SNI)
        PUT_FIELD_STR(b, ",\"server_name\":", r->server_name,
                      clamp(r->sni_len, PT_TLS_SNI_MAX - 1));
    if (r->next_protocol_len)
        PUT_FIELD_STR(b, ",\"next_protocol\":", r->next_protocol,
                      clamp(r->next_protocol_len, PT_TLS_PROTO_MAX - 1));
}

int pt_app_ssl_write(FILE *out, const struct pt_app_conn *c, uint64_t ts_ns,
                     const struct pt_tls_result *r)
{
    bool ch = r->flags & PT_TLS_F_CLIENT_HELLO, sh = r->flags & PT_TLS_F_SERVER_HELLO;
    struct pt_obuf b;

    pt_obuf_init(&b, out);
    put_conn_head(&b, "ssl", ts_ns, c);
    put_ssl_base(&b, r);
    /* ssl-log-ext.zeek */
    if (ch)
        PUT_FIELD_U64(&b, ",\"client_version\":", r->client_version);
    if (ch && (r->flags & PT_TLS_F_SV) && r->n_versions) {
        PT_OBUF_LIT(&b, ",\"client_supported_versions\":[");
        for (unsigned i = 0; i < clamp(r->n_versions, PT_TLS_VERS_MAX); i++) {
            if (i)
                pt_obuf_put_c(&b, ',');
            pt_obuf_put_u64(&b, r->versions[i]);
        }
        pt_obuf_put_c(&b, ']');
    }
    if (sh)
        PUT_FIELD_U64(&b, ",\"server_version\":", r->server_version);
    if (ch && (r->flags & PT_TLS_F_ALPN)) {
        PT_OBUF_LIT(&b, ",\"orig_alpn\":");
        put_list(&b, r->alpn, clamp(r->alpn_len, PT_TLS_ALPN_MAX));
    }
    /* the JA3 packages log the hashes; empty when libcrypto had no MD5/SHA-256 */
    if (ch && r->ja3_md5[0])
        PUT_FIELD_STR(&b, ",\"ja3\":", r->ja3_md5, PT_FIELD_LEN(r->ja3_md5));
    if (sh && r->ja3s_md5[0])
        PUT_FIELD_STR(&b, ",\"ja3s\":", r->ja3s_md5, PT_FIELD_LEN(r->ja3s_md5));
    if (ch && r->ja4[0])
        PUT_FIELD_STR(&b, ",\"ja4\":", r->ja4, PT_FIELD_LEN(r->ja4));
    if (r->flags & PT_TLS_F_CERT)
        put_cert(&b, &r->cert);
    put_conn_tail(&b, c);
    return finish(&b, out);
}

/* ---- dhcp.log ---- */

static void put_dhcp_str(struct pt_obuf *b, const char *name_lit_len, size_t name_n,
                         const struct pt_dhcp_str *s)
{
    pt_obuf_put_mem(b, name_lit_len, name_n);
    pt_obuf_put_json_str(b, s->s, clamp(s->len, PT_DHCP_STR_MAX));
}

#define PUT_DHCP_STR(b, r, flag, name_lit, field)                                                  \
    do {                                                                                           \
        if ((r)->has & (flag))                                                                     \
            put_dhcp_str(b, name_lit, sizeof(name_lit) - 1, &(r)->field);                          \
    } while (0)

#define PUT_DHCP_ADDR(b, r, flag, name_lit, field)                                                 \
    do {                                                                                           \
        if ((r)->has & (flag)) {                                                                   \
            PT_OBUF_LIT(b, name_lit);                                                              \
            put_ipv4(b, (r)->field);                                                               \
        }                                                                                          \
    } while (0)

static void put_dhcp_types(struct pt_obuf *b, const struct pt_dhcp_rec *r)
{
    unsigned n = (unsigned)clamp(r->n_types, PT_DHCP_AGG_MAX_TYPES);

    PT_OBUF_LIT(b, ",\"msg_types\":[");
    for (unsigned i = 0; i < n; i++) {
        const char *name = pt_dhcp_type_name(r->msg_types[i]);

        if (i)
            pt_obuf_put_c(b, ',');
        if (name) {
            put_name(b, name);
        } else { /* Zeek's DHCP::message_types default */
            PT_OBUF_LIT(b, "\"unknown-message-type-");
            pt_obuf_put_u64(b, r->msg_types[i]);
            pt_obuf_put_c(b, '"');
        }
    }
    pt_obuf_put_c(b, ']');
}

int pt_app_dhcp_write(FILE *out, const struct pt_dhcp_rec *r)
{
    unsigned nu = (unsigned)clamp(r->n_uids, PT_DHCP_AGG_MAX_UIDS);
    struct pt_obuf b;
    char uid[20];

    pt_obuf_init(&b, out);
    PT_OBUF_LIT(&b, "{\"_path\":\"dhcp\",\"ts\":");
    pt_obuf_put_time(&b, r->ts_ns);
    PT_OBUF_LIT(&b, ",\"uids\":[");
    for (unsigned i = 0; i < nu; i++) {
        if (i)
            pt_obuf_put_c(&b, ',');
        pt_uid_format(uid, r->uids[i]);
        put_name(&b, uid);
    }
    pt_obuf_put_c(&b, ']');
    PUT_DHCP_ADDR(&b, r, PT_DHCP_REC_CLIENT_ADDR, ",\"client_addr\":", client_addr);
    PUT_DHCP_ADDR(&b, r, PT_DHCP_REC_SERVER_ADDR, ",\"server_addr\":", server_addr);
    if (r->has & PT_DHCP_REC_MAC) {
        PT_OBUF_LIT(&b, ",\"mac\":\"");
        pt_obuf_put_mac(&b, r->mac);
        pt_obuf_put_c(&b, '"');
    }
    PUT_DHCP_STR(&b, r, PT_DHCP_REC_HOST_NAME, ",\"host_name\":", host_name);
    PUT_DHCP_STR(&b, r, PT_DHCP_REC_FQDN, ",\"client_fqdn\":", client_fqdn);
    PUT_DHCP_STR(&b, r, PT_DHCP_REC_DOMAIN, ",\"domain\":", domain);
    PUT_DHCP_ADDR(&b, r, PT_DHCP_REC_REQ_ADDR, ",\"requested_addr\":", requested_addr);
    PUT_DHCP_ADDR(&b, r, PT_DHCP_REC_ASSIGNED, ",\"assigned_addr\":", assigned_addr);
    if (r->has & PT_DHCP_REC_LEASE) {
        PT_OBUF_LIT(&b, ",\"lease_time\":");
        pt_obuf_put_time(&b, (uint64_t)r->lease_time * 1000000000u);
    }
    PUT_DHCP_STR(&b, r, PT_DHCP_REC_CLIENT_MSG, ",\"client_message\":", client_message);
    PUT_DHCP_STR(&b, r, PT_DHCP_REC_SERVER_MSG, ",\"server_message\":", server_message);
    put_dhcp_types(&b, r);
    PT_OBUF_LIT(&b, ",\"duration\":");
    pt_obuf_put_time(&b, r->duration_ns);
    PT_OBUF_LIT(&b, "}\n");
    return finish(&b, out);
}

/* ---- arp events ---- */

static const char *const arp_event_names[] = {
    [PT_ARP_EV_NEW] = "new",
    [PT_ARP_EV_CHANGED] = "changed",
    [PT_ARP_EV_GRATUITOUS] = "gratuitous",
    [PT_ARP_EV_FLOOD] = "flood",
};

static const char *const arp_reason_names[] = {
    [PT_ARP_GRAT_SAME_IP] = "same_ip",
    [PT_ARP_GRAT_UNSOLICITED] = "unsolicited",
};

int pt_app_arp_write(FILE *out, const struct pt_arp_event *ev, const char *ifname)
{
    struct pt_obuf b;

    pt_obuf_init(&b, out);
    PT_OBUF_LIT(&b, "{\"_path\":\"arp\",\"ts\":");
    pt_obuf_put_time(&b, ev->ts_ns);
    if (ifname)
        PUT_FIELD_STR(&b, ",\"interface\":", ifname, strlen(ifname));
    PT_OBUF_LIT(&b, ",\"event\":");
    if (ev->type < PT_ARRAY_LEN(arp_event_names) && arp_event_names[ev->type])
        put_name(&b, arp_event_names[ev->type]);
    else
        put_name(&b, "unknown");
    if (ev->reason < PT_ARRAY_LEN(arp_reason_names) && arp_reason_names[ev->reason]) {
        PT_OBUF_LIT(&b, ",\"reason\":");
        put_name(&b, arp_reason_names[ev->reason]);
    }
    PT_OBUF_LIT(&b, ",\"op\":");
    if (ev->op == 1 || ev->op == 2) {
        put_name(&b, ev->op == 1 ? "request" : "reply");
    } else { /* the table raises no events for other opcodes; keep the number */
        PT_OBUF_LIT(&b, "\"op-");
        pt_obuf_put_u64(&b, ev->op);
        pt_obuf_put_c(&b, '"');
    }
    PT_OBUF_LIT(&b, ",\"ip\":");
    put_ipv4(&b, ev->ip);
    PT_OBUF_LIT(&b, ",\"mac\":\"");
    pt_obuf_put_mac(&b, ev->mac);
    pt_obuf_put_c(&b, '"');
    if (ev->type == PT_ARP_EV_CHANGED) {
        PT_OBUF_LIT(&b, ",\"old_mac\":\"");
        pt_obuf_put_mac(&b, ev->old_mac);
        pt_obuf_put_c(&b, '"');
    }
    if (ev->type == PT_ARP_EV_FLOOD)
        PUT_FIELD_U64(&b, ",\"count\":", ev->count);
    PT_OBUF_LIT(&b, "}\n");
    return finish(&b, out);
}
