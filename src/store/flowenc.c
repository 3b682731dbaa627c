/* flowenc.c - the encoding of a flow record as the store keeps it (db
 * "flows" and "live"): flow_encode(), flow_decode(), flow_tuple_peek().
 * Apart from flows.c so the fuzz target links the codec without LMDB.
 *
 * DESIGN
 * 1. Version 2 (written), big-endian, first the version 1 body unchanged:
 *      u8 version, u8 flags (1: addresses as 4 bytes, 2: MACs follow,
 *      4: health follows, 8: enrichment follows), u8 ver, u8 proto,
 *      orig_h, resp_h (4 or 16 bytes), u16 orig_p, resp_p, u64 ts_ns,
 *      varint zigzag(last_ns - ts_ns), u8 icmp_type, icmp_code, u16 vlan,
 *      inner_vlan, varint orig_bytes, resp_bytes, orig_pkts, resp_pkts,
 *      orig_ip_bytes, resp_ip_bytes, missed_bytes, u8 orig_tcp_flags,
 *      resp_tcp_flags, varint ifaces (the store's bits), u8 end_reason,
 *      [orig_mac, resp_mac], then uid, community_id, parent_uid,
 *      conn_state, history as u8 length + bytes;
 *    then what version 2 adds:
 *      u8 app | app_by_port << 7;
 *      [health: varint field mask, then each field whose bit is set]
 *      [enrichment: u8 field mask, then each field whose bit is set].
 *    The tuple keeps its fixed place (flow_tuple_peek), so retention and
 *    the index upkeep read both versions without decoding.
 * 2. Optional parts cost nothing when empty, because the store takes ~100k
 *    records a second: health only when valid (every flow of the table has
 *    it, TCP or not: TTL and DSCP), enrichment only when a field is set.
 *    Inside health, a mask bit per field says it differs from its default
 *    (0; -1 for a window scale), and the booleans are the bits themselves.
 *    The fields a UDP flow has (ip_seen, ttl, dscp) are the low seven bits,
 *    so its mask is one byte; the TCP counters, often 0, come last. A UDP
 *    record grows by 1 (app) + 1 (mask) + 2 (TTLs) bytes, TCP by ~30.
 * 3. Handshake times are microseconds in ns (the analysis keeps us): a
 *    time is varint(us << 1 | has_rest), then varint(ns % 1000) only when
 *    it is not a whole us: a byte shorter than the ns for typical RTTs,
 *    and exact for any value.
 * 4. The decoder takes nothing on trust: every length is checked against
 *    what is left and the field's size, a present field must not hold its
 *    default, unknown flag or mask bits are refused, and the record must
 *    end where its last field does. So every strict prefix of a record,
 *    and nearly every byte flip, is refused. Version 1 (earlier builds)
 *    decodes to no health, app unknown, no enrichment. An app number this
 *    build does not know (a newer build's) reads as unknown: readers index
 *    tables by it. */
#include <stddef.h>

#include "internal.h"

#define ENC_V1    1
#define ENC_V2    2
#define F_ADDR4   1
#define F_MACS    2
#define F_HEALTH  4
#define F_ENRICH  8
#define F_RTP     16
#define F_V1_MASK (F_ADDR4 | F_MACS)
#define F_V2_MASK (F_ADDR4 | F_MACS | F_HEALTH | F_ENRICH | F_RTP)
#define R_SEEN    0x01 /* RTP group, per direction: measured */
#define R_JITTER  0x02 /* ... with jitter (a known clock) */
#define APP_PORT  0x80

_Static_assert(PT_APP_MAX <= APP_PORT, "app and app_by_port share one byte");
_Static_assert(PT_FQDN_MAX <= 256, "an FQDN's length fits a u8");

/* Health fields in mask-bit order (DESIGN 2). */
enum hkind { HK_BOOL, HK_U8, HK_I8, HK_U16, HK_U32, HK_TIME };

struct hfield {
    uint8_t kind;
    uint8_t off;
};

#define HF(k, f)                                                                                   \
    {                                                                                              \
        k, (uint8_t)offsetof(struct pt_flow_health, f)                                             \
    }
static const struct hfield hfields[] = {
    HF(HK_BOOL, ip_seen[0]),    HF(HK_BOOL, ip_seen[1]),  HF(HK_U8, ttl[0]),
    HF(HK_U8, ttl[1]),          HF(HK_U8, dscp[0]),       HF(HK_U8, dscp[1]),
    HF(HK_BOOL, tcp),           HF(HK_BOOL, tcp_seen[0]), HF(HK_BOOL, tcp_seen[1]),
    HF(HK_U8, rtt_valid),       HF(HK_TIME, rtt_ns),      HF(HK_TIME, syn_synack_ns),
    HF(HK_TIME, synack_ack_ns), HF(HK_U16, mss[0]),       HF(HK_U16, mss[1]),
    HF(HK_U16, init_win[0]),    HF(HK_U16, init_win[1]),  HF(HK_I8, wscale[0]),
    HF(HK_I8, wscale[1]),       HF(HK_U32, retrans[0]),   HF(HK_U32, retrans[1]),
    HF(HK_U16, ooo[0]),         HF(HK_U16, ooo[1]),       HF(HK_U32, dup_acks[0]),
    HF(HK_U32, dup_acks[1]),    HF(HK_U16, lost[0]),      HF(HK_U16, lost[1]),
    HF(HK_U16, zero_win[0]),    HF(HK_U16, zero_win[1]),
};
#define N_HFIELDS ((unsigned)PT_ARRAY_LEN(hfields))
_Static_assert(PT_ARRAY_LEN(hfields) <= 32, "the health mask is a 32-bit varint");

/* Enrichment mask bits. */
#define E_ORIG_FQDN 0x01
#define E_RESP_FQDN 0x02
#define E_ORIG_CC   0x04
#define E_RESP_CC   0x08
#define E_ORIG_ASN  0x10
#define E_RESP_ASN  0x20
#define E_ALL       0x3f

/* ---- writing ---- */

static bool is_v4mapped(const uint8_t a[16])
{
    static const uint8_t pre[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    return memcmp(a, pre, 12) == 0;
}

static uint8_t *varint_put(uint8_t *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

/* A string field of @cap bytes: at most cap - 1 of them (a field with no
 * NUL is cut, as the decoder and the other writers read it). */
static uint8_t *str_put(uint8_t *p, const char *s, size_t cap)
{
    size_t n = strnlen(s, cap - 1);
    *p++ = (uint8_t)n;
    memcpy(p, s, n);
    return p + n;
}

static bool nonzero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return true;
    return false;
}

/* Field @f of @h as a number that is 0 exactly when the field holds its
 * default (a window scale of -1 is 0, 0 is 1, ...: w + 1 mod 256). */
static uint64_t hf_get(const struct pt_flow_health *h, const struct hfield *f)
{
    const uint8_t *p = (const uint8_t *)h + f->off;
    uint16_t v16;
    uint32_t v32;
    uint64_t v64;

    switch (f->kind) {
    case HK_BOOL:
        return *(const bool *)p;
    case HK_U8:
        return *p;
    case HK_I8:
        return (uint8_t)(*p + 1);
    case HK_U16:
        memcpy(&v16, p, 2);
        return v16;
    case HK_U32:
        memcpy(&v32, p, 4);
        return v32;
    default:
        memcpy(&v64, p, 8);
        return v64;
    }
}

static uint8_t *health_put(uint8_t *p, const struct pt_flow_health *h)
{
    uint64_t v[32];
    uint32_t mask = 0;

    for (unsigned i = 0; i < N_HFIELDS; i++)
        if ((v[i] = hf_get(h, &hfields[i])) != 0)
            mask |= 1u << i;
    p = varint_put(p, mask);
    for (unsigned i = 0; i < N_HFIELDS; i++) {
        if (!(mask & (1u << i)))
            continue;
        switch (hfields[i].kind) {
        case HK_BOOL:
            break;
        case HK_U8:
        case HK_I8:
            *p++ = (uint8_t)v[i];
            break;
        case HK_TIME: /* DESIGN 3 */
            p = varint_put(p, (v[i] / 1000) << 1 | (v[i] % 1000 != 0));
            if (v[i] % 1000)
                p = varint_put(p, v[i] % 1000);
            break;
        default:
            p = varint_put(p, v[i]);
        }
    }
    return p;
}

static uint8_t enrich_mask(const struct pt_flow_record *r)
{
    return (uint8_t)((r->orig_fqdn[0] ? E_ORIG_FQDN : 0) | (r->resp_fqdn[0] ? E_RESP_FQDN : 0) |
                     (r->orig_cc[0] ? E_ORIG_CC : 0) | (r->resp_cc[0] ? E_RESP_CC : 0) |
                     (r->orig_asn ? E_ORIG_ASN : 0) | (r->resp_asn ? E_RESP_ASN : 0));
}

static uint8_t *enrich_put(uint8_t *p, const struct pt_flow_record *r, uint8_t m)
{
    *p++ = m;
    if (m & E_ORIG_FQDN)
        p = str_put(p, r->orig_fqdn, sizeof r->orig_fqdn);
    if (m & E_RESP_FQDN)
        p = str_put(p, r->resp_fqdn, sizeof r->resp_fqdn);
    if (m & E_ORIG_CC)
        p = str_put(p, r->orig_cc, sizeof r->orig_cc);
    if (m & E_RESP_CC)
        p = str_put(p, r->resp_cc, sizeof r->resp_cc);
    if (m & E_ORIG_ASN)
        p = varint_put(p, r->orig_asn);
    if (m & E_RESP_ASN)
        p = varint_put(p, r->resp_asn);
    return p;
}

/* RTP (after the enrichment): per direction u8 R_* flags; when seen,
 * varint ssrcs, varint zigzag lost; with jitter, varint jitter_ns,
 * max_jitter_ns. */
static uint8_t *rtp_put(uint8_t *p, const struct pt_rtp_result rtp[2])
{
    for (unsigned d = 0; d < 2; d++) {
        const struct pt_rtp_result *x = &rtp[d];
        *p++ = (uint8_t)((x->seen ? R_SEEN : 0) | (x->seen && x->jitter ? R_JITTER : 0));
        if (!x->seen)
            continue;
        p = varint_put(p, x->ssrcs);
        p = varint_put(p, ((uint64_t)x->lost << 1) ^ (uint64_t)(x->lost >> 63));
        if (x->jitter) {
            p = varint_put(p, x->jitter_ns);
            p = varint_put(p, x->max_jitter_ns);
        }
    }
    return p;
}

size_t flow_encode(uint8_t *out, const struct pt_flow_record *r, uint32_t ifaces)
{
    bool a4 = is_v4mapped(r->orig_h) && is_v4mapped(r->resp_h);
    bool macs = nonzero(r->orig_mac, 6) || nonzero(r->resp_mac, 6);
    uint8_t em = enrich_mask(r);
    uint64_t d = r->last_ns - r->ts_ns;
    uint8_t *p = out;

    *p++ = ENC_V2;
    bool rtp = r->rtp[0].seen || r->rtp[1].seen;

    *p++ = (uint8_t)((a4 ? F_ADDR4 : 0) | (macs ? F_MACS : 0) | (r->health.valid ? F_HEALTH : 0) |
                     (em ? F_ENRICH : 0) | (rtp ? F_RTP : 0));
    *p++ = r->ver;
    *p++ = r->proto;
    memcpy(p, a4 ? r->orig_h + 12 : r->orig_h, a4 ? 4 : 16);
    p += a4 ? 4 : 16;
    memcpy(p, a4 ? r->resp_h + 12 : r->resp_h, a4 ? 4 : 16);
    p += a4 ? 4 : 16;
    be16_put(p, r->orig_p);
    be16_put(p + 2, r->resp_p);
    be64_put(p + 4, r->ts_ns);
    p = varint_put(p + 12, (d << 1) ^ (uint64_t)((int64_t)d >> 63));
    *p++ = r->icmp_type;
    *p++ = r->icmp_code;
    be16_put(p, r->vlan);
    be16_put(p + 2, r->inner_vlan);
    p += 4;
    const uint64_t cnt[7] = {r->orig_bytes,    r->resp_bytes,    r->orig_pkts,   r->resp_pkts,
                             r->orig_ip_bytes, r->resp_ip_bytes, r->missed_bytes};
    for (int i = 0; i < 7; i++)
        p = varint_put(p, cnt[i]);
    *p++ = r->orig_tcp_flags;
    *p++ = r->resp_tcp_flags;
    p = varint_put(p, ifaces);
    *p++ = r->end_reason;
    if (macs) {
        memcpy(p, r->orig_mac, 6);
        memcpy(p + 6, r->resp_mac, 6);
        p += 12;
    }
    p = str_put(p, r->uid, sizeof r->uid);
    p = str_put(p, r->community_id, sizeof r->community_id);
    p = str_put(p, r->parent_uid, sizeof r->parent_uid);
    p = str_put(p, r->conn_state, sizeof r->conn_state);
    p = str_put(p, r->history, sizeof r->history);
    /* Out-of-range app numbers are not written as some other app. */
    *p++ = (uint8_t)((r->app < PT_APP_MAX ? r->app : PT_APP_UNKNOWN) |
                     (r->app_by_port ? APP_PORT : 0));
    if (r->health.valid)
        p = health_put(p, &r->health);
    if (em)
        p = enrich_put(p, r, em);
    if (rtp)
        p = rtp_put(p, r->rtp);
    return (size_t)(p - out);
}

/* ---- reading ---- */

struct rd {
    const uint8_t *p, *end;
    bool bad;
};

static const uint8_t *rd_take(struct rd *r, size_t n)
{
    if (r->bad || (size_t)(r->end - r->p) < n) {
        r->bad = true;
        return NULL;
    }
    const uint8_t *p = r->p;
    r->p += n;
    return p;
}

static uint8_t rd_u8(struct rd *r)
{
    const uint8_t *p = rd_take(r, 1);
    return p ? *p : 0;
}

static uint16_t rd_u16(struct rd *r)
{
    const uint8_t *p = rd_take(r, 2);
    return p ? be16_get(p) : 0;
}

static uint64_t rd_varint(struct rd *r)
{
    uint64_t v = 0;

    for (unsigned sh = 0; sh < 70; sh += 7) {
        const uint8_t *p = rd_take(r, 1);
        if (!p)
            return 0;
        if (sh == 63 && *p > 1) /* bits past 64 */
            break;
        v |= (uint64_t)(*p & 0x7f) << sh;
        if (!(*p & 0x80))
            return v;
    }
    r->bad = true;
    return 0;
}

/* A varint that must fit in @max. */
static uint64_t rd_varint_max(struct rd *r, uint64_t max)
{
    uint64_t v = rd_varint(r);

    if (v > max) {
        r->bad = true;
        return 0;
    }
    return v;
}

/* u8 length + bytes into @dst of @cap bytes; @min is the shortest length
 * allowed (1 for an optional field: it is written only when not empty).
 * A NUL inside is refused: the encoder writes up to the first one. */
static void rd_str(struct rd *r, char *dst, size_t cap, size_t min)
{
    size_t n = rd_u8(r);
    const uint8_t *p;

    if (n >= cap || n < min || !(p = rd_take(r, n)) || memchr(p, 0, n)) {
        r->bad = true;
        return;
    }
    memcpy(dst, p, n);
    dst[n] = '\0';
}

static void rd_addr(struct rd *r, uint8_t dst[16], bool a4)
{
    const uint8_t *p = rd_take(r, a4 ? 4 : 16);

    if (!p)
        return;
    if (a4) {
        memset(dst, 0, 10);
        dst[10] = dst[11] = 0xff;
        memcpy(dst + 12, p, 4);
    } else {
        memcpy(dst, p, 16);
    }
}

/* Set field @f of @h from its non-default number @v (hf_get's inverse). */
static void hf_set(struct pt_flow_health *h, const struct hfield *f, uint64_t v)
{
    uint8_t *p = (uint8_t *)h + f->off;
    uint16_t v16 = (uint16_t)v;
    uint32_t v32 = (uint32_t)v;

    switch (f->kind) {
    case HK_BOOL:
        *(bool *)p = true;
        break;
    case HK_U8:
        *p = (uint8_t)v;
        break;
    case HK_I8:
        *(int8_t *)p = (int8_t)(uint8_t)(v - 1);
        break;
    case HK_U16:
        memcpy(p, &v16, 2);
        break;
    case HK_U32:
        memcpy(p, &v32, 4);
        break;
    default:
        memcpy(p, &v, 8);
    }
}

/* A handshake time (DESIGN 3): whole microseconds, and the rest of the
 * nanoseconds (1..999) only when there is a rest. */
static uint64_t time_get(struct rd *c)
{
    uint64_t v = rd_varint(c), us = v >> 1, ns = 0;

    if (v & 1 && ((ns = rd_varint(c)) == 0 || ns > 999))
        c->bad = true;
    if (us > (UINT64_MAX - ns) / 1000) {
        c->bad = true;
        return 0;
    }
    return us * 1000 + ns;
}

static void health_get(struct rd *c, struct pt_flow_health *h)
{
    uint64_t mask = rd_varint_max(c, (1ull << N_HFIELDS) - 1);

    for (unsigned i = 0; i < 2; i++)
        h->wscale[i] = -1; /* the default when its bit is clear */
    for (unsigned i = 0; i < N_HFIELDS && !c->bad; i++) {
        uint64_t v = 1;
        if (!(mask & (1ull << i)))
            continue;
        switch (hfields[i].kind) {
        case HK_BOOL:
            break;
        case HK_U8:
        case HK_I8:
            v = rd_u8(c);
            break;
        case HK_U16:
            v = rd_varint_max(c, UINT16_MAX);
            break;
        case HK_U32:
            v = rd_varint_max(c, UINT32_MAX);
            break;
        default:
            v = time_get(c);
        }
        if (v == 0) /* a present field holds its default: not ours */
            c->bad = true;
        hf_set(h, &hfields[i], v);
    }
    h->valid = true;
}

static void enrich_get(struct rd *c, struct pt_flow_record *r)
{
    uint8_t m = rd_u8(c);

    if (m == 0 || (m & ~E_ALL)) {
        c->bad = true;
        return;
    }
    if (m & E_ORIG_FQDN)
        rd_str(c, r->orig_fqdn, sizeof r->orig_fqdn, 1);
    if (m & E_RESP_FQDN)
        rd_str(c, r->resp_fqdn, sizeof r->resp_fqdn, 1);
    if (m & E_ORIG_CC)
        rd_str(c, r->orig_cc, sizeof r->orig_cc, 1);
    if (m & E_RESP_CC)
        rd_str(c, r->resp_cc, sizeof r->resp_cc, 1);
    if (m & E_ORIG_ASN)
        r->orig_asn = (uint32_t)rd_varint_max(c, UINT32_MAX);
    if (m & E_RESP_ASN)
        r->resp_asn = (uint32_t)rd_varint_max(c, UINT32_MAX);
    if ((m & E_ORIG_ASN && !r->orig_asn) || (m & E_RESP_ASN && !r->resp_asn))
        c->bad = true;
}

static void rtp_get(struct rd *c, struct pt_rtp_result rtp[2])
{
    for (unsigned d = 0; d < 2; d++) {
        struct pt_rtp_result *x = &rtp[d];
        uint8_t f = rd_u8(c);
        if (f & ~(R_SEEN | R_JITTER) || (f & R_JITTER && !(f & R_SEEN))) {
            c->bad = true;
            return;
        }
        if (!(f & R_SEEN))
            continue;
        x->seen = true;
        x->ssrcs = (uint32_t)rd_varint_max(c, UINT32_MAX);
        uint64_t z = rd_varint(c);
        x->lost = (int64_t)((z >> 1) ^ (0 - (z & 1)));
        if (f & R_JITTER) {
            x->jitter = true;
            x->jitter_ns = rd_varint(c);
            x->max_jitter_ns = rd_varint(c);
        }
    }
    if (!rtp[0].seen && !rtp[1].seen)
        c->bad = true; /* the group is written only when a direction was measured */
}

/* The version 1 body (DESIGN 1), shared by both versions. */
static void body_get(struct rd *c, struct pt_flow_record *r, uint8_t fl)
{
    r->ver = rd_u8(c);
    r->proto = rd_u8(c);
    rd_addr(c, r->orig_h, fl & F_ADDR4);
    rd_addr(c, r->resp_h, fl & F_ADDR4);
    r->orig_p = rd_u16(c);
    r->resp_p = rd_u16(c);
    const uint8_t *t = rd_take(c, 8);
    r->ts_ns = t ? be64_get(t) : 0;
    uint64_t z = rd_varint(c);
    r->last_ns = r->ts_ns + ((z >> 1) ^ (0 - (z & 1)));
    r->icmp_type = rd_u8(c);
    r->icmp_code = rd_u8(c);
    r->vlan = rd_u16(c);
    r->inner_vlan = rd_u16(c);
    uint64_t *cnt[7] = {&r->orig_bytes,    &r->resp_bytes,    &r->orig_pkts,   &r->resp_pkts,
                        &r->orig_ip_bytes, &r->resp_ip_bytes, &r->missed_bytes};
    for (int i = 0; i < 7; i++)
        *cnt[i] = rd_varint(c);
    r->orig_tcp_flags = rd_u8(c);
    r->resp_tcp_flags = rd_u8(c);
    r->ifaces = (uint32_t)rd_varint_max(c, UINT32_MAX);
    r->end_reason = rd_u8(c);
    if (fl & F_MACS) {
        const uint8_t *m = rd_take(c, 12);
        if (m) {
            memcpy(r->orig_mac, m, 6);
            memcpy(r->resp_mac, m + 6, 6);
        }
    }
    rd_str(c, r->uid, sizeof r->uid, 0);
    rd_str(c, r->community_id, sizeof r->community_id, 0);
    rd_str(c, r->parent_uid, sizeof r->parent_uid, 0);
    rd_str(c, r->conn_state, sizeof r->conn_state, 0);
    rd_str(c, r->history, sizeof r->history, 0);
}

int flow_decode(const uint8_t *p, size_t n, struct pt_flow_record *r)
{
    struct rd c = {.p = p, .end = p + n};
    uint8_t v, fl;

    memset(r, 0, sizeof *r);
    v = rd_u8(&c);
    fl = rd_u8(&c);
    if (c.bad || (v != ENC_V1 && v != ENC_V2) || (fl & ~(v == ENC_V1 ? F_V1_MASK : F_V2_MASK)))
        return PT_E_BADFILE;
    body_get(&c, r, fl);
    if (v == ENC_V2) {
        uint8_t a = rd_u8(&c);
        r->app = (uint8_t)(a & ~APP_PORT);
        r->app_by_port = (a & APP_PORT) != 0;
        if (r->app >= PT_APP_MAX) { /* DESIGN 4 */
            r->app = PT_APP_UNKNOWN;
            r->app_by_port = false;
        }
        if (fl & F_HEALTH)
            health_get(&c, &r->health);
        if (fl & F_ENRICH)
            enrich_get(&c, r);
        if (fl & F_RTP)
            rtp_get(&c, r->rtp);
    }
    if (c.bad || c.p != c.end) {
        memset(r, 0, sizeof *r); /* nothing half-decoded reaches a caller */
        return PT_E_BADFILE;
    }
    return 0;
}

int flow_tuple_peek(const uint8_t *p, size_t n, struct flow_tuple *t)
{
    if (n < 4 + 4 + 4 + 4 || (p[0] != ENC_V1 && p[0] != ENC_V2))
        return PT_E_BADFILE;
    bool a4 = p[1] & F_ADDR4;
    struct rd c = {.p = p + 4, .end = p + n};
    rd_addr(&c, t->h[0], a4);
    rd_addr(&c, t->h[1], a4);
    t->p[0] = rd_u16(&c);
    t->p[1] = rd_u16(&c);
    return c.bad ? PT_E_BADFILE : 0;
}
