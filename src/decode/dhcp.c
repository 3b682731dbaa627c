/* dhcp.c - DHCPv4/BOOTP parser and dhcp.log exchange aggregation.
 *
 * DESIGN: the message is a fixed 236-byte BOOTP header, a 4-byte magic
 * cookie, then options (RFC 2131/2132). Options are walked in up to three
 * fields, in the order RFC 2131 section 4.1 gives: the options field, then
 * `file` (108 bytes at offset 108) if option 52 says 1 or 3, then `sname`
 * (64 bytes at offset 44) if it says 2 or 3. Option 52 is only honoured in
 * the options field, so overloaded fields cannot point at each other: the
 * walk is at most three linear passes over bytes that exist. In each field:
 *   1. 0 is one byte of padding; 255 ends the field;
 *   2. any other code needs a length byte and that many value bytes inside
 *      the field; when they are not there the length lies: counted, and the
 *      rest of the field is dropped (nothing after a lie can be trusted);
 *   3. a field without 255 is counted, what it held is kept.
 * Values are copied into the message (fixed arrays, cut and counted when too
 * long), so nothing points into the packet once pt_dhcp_parse() returns.
 *
 * The aggregation is a 32-slot table scanned linearly (cheaper than hashing
 * at that size); its rules are narrated in include/pt/dhcp.h. */
#include <string.h>

#include "pt/common.h"
#include "pt/dhcp.h"

_Static_assert(PT_DHCP_ERR_MAX <= 32, "pt_dhcp_msg.errs is a 32-bit mask");
_Static_assert(PT_DHCP_AGG_SLOTS <= 32, "pt_dhcp_agg.used is a 32-bit mask");
_Static_assert(sizeof(struct pt_dhcp_rec) <= 1024, "bounded per-exchange state");

#define OFF_SNAME  44
#define LEN_SNAME  64
#define OFF_FILE   108
#define LEN_FILE   128
#define OFF_COOKIE 236
#define OPT_PAD    0
#define OPT_END    255

static const char *const err_names[PT_DHCP_ERR_MAX] = {
    [PT_DHCP_OK] = "app.dhcp.ok",
    [PT_DHCP_E_TRUNC] = "app.dhcp.truncated",
    [PT_DHCP_E_BAD_OP] = "app.dhcp.bad_op",
    [PT_DHCP_E_BAD_HLEN] = "app.dhcp.bad_hlen",
    [PT_DHCP_E_NO_COOKIE] = "app.dhcp.no_magic_cookie",
    [PT_DHCP_E_OPT_TRUNC] = "app.dhcp.option_truncated",
    [PT_DHCP_E_OPT_BAD_LEN] = "app.dhcp.option_bad_length",
    [PT_DHCP_E_NO_END] = "app.dhcp.no_end_option",
    [PT_DHCP_E_BAD_OVERLOAD] = "app.dhcp.bad_overload",
    [PT_DHCP_E_STR_TRUNC] = "app.dhcp.string_truncated",
    [PT_DHCP_E_LIST_TRUNC] = "app.dhcp.list_truncated",
    [PT_DHCP_E_BAD_TYPE] = "app.dhcp.unknown_msg_type",
    [PT_DHCP_E_BAD_FQDN] = "app.dhcp.bad_fqdn",
    [PT_DHCP_E_AGG_FULL] = "app.dhcp.agg.table_full",
    [PT_DHCP_E_AGG_SPLIT] = "app.dhcp.agg.split",
};

const char *pt_dhcp_err_name(unsigned err)
{
    if (err < PT_DHCP_ERR_MAX && err_names[err])
        return err_names[err];
    return "app.dhcp.unknown";
}

static const char *const type_names[PT_DHCP_TYPE_MAX] = {
    [PT_DHCP_DISCOVER] = "DISCOVER",
    [PT_DHCP_OFFER] = "OFFER",
    [PT_DHCP_REQUEST] = "REQUEST",
    [PT_DHCP_DECLINE] = "DECLINE",
    [PT_DHCP_ACK] = "ACK",
    [PT_DHCP_NAK] = "NAK",
    [PT_DHCP_RELEASE] = "RELEASE",
    [PT_DHCP_INFORM] = "INFORM",
    [PT_DHCP_FORCERENEW] = "FORCERENEW",
    [PT_DHCP_LEASEQUERY] = "LEASEQUERY",
    [PT_DHCP_LEASEUNASSIGNED] = "LEASEUNASSIGNED",
    [PT_DHCP_LEASEUNKNOWN] = "LEASEUNKNOWN",
    [PT_DHCP_LEASEACTIVE] = "LEASEACTIVE",
    [PT_DHCP_BULKLEASEQUERY] = "BULKLEASEQUERY",
    [PT_DHCP_LEASEQUERYDONE] = "LEASEQUERYDONE",
    [PT_DHCP_ACTIVELEASEQUERY] = "ACTIVELEASEQUERY",
    [PT_DHCP_LEASEQUERYSTATUS] = "LEASEQUERYSTATUS",
    [PT_DHCP_TLS] = "TLS",
};

const char *pt_dhcp_type_name(unsigned t)
{
    return t < PT_DHCP_TYPE_MAX ? type_names[t] : NULL;
}

/* ---- parser ---- */

struct ctx {
    struct pt_dhcp_msg *m;
    struct pt_dhcp_stats *st;
};

/* Note reason @e; counted once per message however often it recurs. */
static void bad(struct ctx *c, enum pt_dhcp_err e)
{
    if (c->m->errs & (1u << e))
        return;
    c->m->errs |= 1u << e;
    PT_CNT_INC(c->st->err[e]);
}

static uint32_t rd32(const uint8_t *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/* Append @n bytes to @s (RFC 3396: repeated options concatenate). */
static void str_add(struct ctx *c, struct pt_dhcp_str *s, const uint8_t *v, uint32_t n)
{
    uint32_t room = PT_DHCP_STR_MAX - s->len;

    if (n > room) {
        bad(c, PT_DHCP_E_STR_TRUNC);
        n = room;
    }
    memcpy(s->s + s->len, v, n);
    s->len = (uint16_t)(s->len + n);
    s->s[s->len] = '\0';
}

static void addrs_add(struct ctx *c, uint8_t (*list)[4], uint8_t *n, const uint8_t *v, uint32_t len)
{
    if (len == 0 || len % 4) {
        bad(c, PT_DHCP_E_OPT_BAD_LEN);
        len -= len % 4;
    }
    for (uint32_t i = 0; i < len; i += 4) {
        if (*n == PT_DHCP_ADDRS_MAX) {
            bad(c, PT_DHCP_E_LIST_TRUNC);
            return;
        }
        memcpy(list[(*n)++], v + i, 4);
    }
}

/* Option 81 (RFC 4702): flags, rcode1, rcode2, name. With the E flag the
 * name is DNS wire format (labels, no compression): made dotted here. */
static void fqdn(struct ctx *c, const uint8_t *v, uint32_t len)
{
    struct pt_dhcp_str *s = &c->m->client_fqdn;
    uint32_t i = 3;

    if (len < 3) {
        bad(c, PT_DHCP_E_OPT_BAD_LEN);
        return;
    }
    c->m->has |= PT_DHCP_HAS_FQDN;
    c->m->fqdn_flags = v[0];
    s->len = 0;
    s->s[0] = '\0';
    if (!(v[0] & 0x04)) {
        str_add(c, s, v + 3, len - 3);
        return;
    }
    while (i < len) {
        uint8_t l = v[i++];

        if (l == 0)
            return; /* root label: done */
        if (l > 63 || l > len - i) {
            bad(c, PT_DHCP_E_BAD_FQDN);
            return;
        }
        if (s->len)
            str_add(c, s, (const uint8_t *)".", 1);
        str_add(c, s, v + i, l);
        i += l;
    }
    /* A name without its root label is what RFC 4702 calls a partial name:
     * legal, nothing to count. */
}

static void addr4(struct ctx *c, uint8_t dst[4], uint16_t bit, const uint8_t *v, uint32_t len)
{
    if (len != 4) {
        bad(c, PT_DHCP_E_OPT_BAD_LEN);
        return;
    }
    memcpy(dst, v, 4);
    c->m->has |= bit;
}

static void option(struct ctx *c, uint8_t code, const uint8_t *v, uint32_t len, bool main_field)
{
    struct pt_dhcp_msg *m = c->m;

    switch (code) {
    case 53:
        if (len != 1) {
            bad(c, PT_DHCP_E_OPT_BAD_LEN);
            break;
        }
        m->type = v[0];
        m->has |= PT_DHCP_HAS_TYPE;
        if (v[0] == 0 || v[0] >= PT_DHCP_TYPE_MAX)
            bad(c, PT_DHCP_E_BAD_TYPE);
        break;
    case 50:
        addr4(c, m->requested_addr, PT_DHCP_HAS_REQ_ADDR, v, len);
        break;
    case 54:
        addr4(c, m->server_id, PT_DHCP_HAS_SERVER_ID, v, len);
        break;
    case 51:
        if (len != 4) {
            bad(c, PT_DHCP_E_OPT_BAD_LEN);
            break;
        }
        m->lease_time = rd32(v);
        m->has |= PT_DHCP_HAS_LEASE;
        break;
    case 52:
        if (!main_field || len != 1 || v[0] < 1 || v[0] > 3) {
            bad(c, len != 1 ? PT_DHCP_E_OPT_BAD_LEN : PT_DHCP_E_BAD_OVERLOAD);
            break;
        }
        m->overload = v[0];
        m->has |= PT_DHCP_HAS_OVERLOAD;
        break;
    case 3:
        m->has |= PT_DHCP_HAS_ROUTERS;
        addrs_add(c, m->routers, &m->n_routers, v, len);
        break;
    case 6:
        m->has |= PT_DHCP_HAS_DNS;
        addrs_add(c, m->dns, &m->n_dns, v, len);
        break;
    case 55:
        m->has |= PT_DHCP_HAS_PRL;
        for (uint32_t i = 0; i < len; i++) {
            if (m->prl_len == PT_DHCP_PRL_MAX) {
                bad(c, PT_DHCP_E_LIST_TRUNC);
                break;
            }
            m->prl[m->prl_len++] = v[i];
        }
        break;
    case 12:
        m->has |= PT_DHCP_HAS_HOST_NAME;
        str_add(c, &m->host_name, v, len);
        break;
    case 15:
        m->has |= PT_DHCP_HAS_DOMAIN;
        str_add(c, &m->domain, v, len);
        break;
    case 56:
        m->has |= PT_DHCP_HAS_MESSAGE;
        str_add(c, &m->message, v, len);
        break;
    case 60:
        m->has |= PT_DHCP_HAS_VENDOR;
        str_add(c, &m->vendor_class, v, len);
        break;
    case 61:
        m->has |= PT_DHCP_HAS_CLIENT_ID;
        str_add(c, &m->client_id, v, len);
        break;
    case 81:
        fqdn(c, v, len);
        break;
    default:
        break;
    }
}

/* Walk the options in @f[0..@len); see the DESIGN comment. */
static void walk(struct ctx *c, const uint8_t *f, uint32_t len, bool main_field)
{
    uint32_t i = 0;

    while (i < len) {
        uint8_t code = f[i];
        uint32_t olen;

        if (code == OPT_PAD) {
            i++;
            continue;
        }
        if (code == OPT_END)
            return;
        if (len - i < 2) {
            bad(c, PT_DHCP_E_OPT_TRUNC);
            return;
        }
        olen = f[i + 1];
        if (olen > len - i - 2) {
            bad(c, PT_DHCP_E_OPT_TRUNC);
            return;
        }
        option(c, code, f + i + 2, olen, main_field);
        i += 2 + olen;
    }
    bad(c, PT_DHCP_E_NO_END);
}

bool pt_dhcp_parse(struct pt_dhcp_msg *m, const uint8_t *data, uint32_t len,
                   struct pt_dhcp_stats *st)
{
    struct ctx c = {.m = m, .st = st};

    memset(m, 0, sizeof *m);
    if (len < PT_DHCP_MIN_LEN) {
        bad(&c, PT_DHCP_E_TRUNC);
        m->errs = 0;
        return false;
    }
    if (data[0] != 1 && data[0] != 2) {
        bad(&c, PT_DHCP_E_BAD_OP);
        m->errs = 0;
        return false;
    }
    PT_CNT_INC(st->msgs);
    m->op = data[0];
    m->htype = data[1];
    m->hlen = data[2];
    m->hops = data[3];
    m->xid = rd32(data + 4);
    m->secs = (uint16_t)(data[8] << 8 | data[9]);
    m->flags = (uint16_t)(data[10] << 8 | data[11]);
    memcpy(m->ciaddr, data + 12, 4);
    memcpy(m->yiaddr, data + 16, 4);
    memcpy(m->siaddr, data + 20, 4);
    memcpy(m->giaddr, data + 24, 4);
    memcpy(m->chaddr, data + 28, 16);
    if (m->hlen > 16)
        bad(&c, PT_DHCP_E_BAD_HLEN);
    else if (m->htype == 1 && m->hlen == 6) {
        memcpy(m->mac, m->chaddr, 6);
        m->has |= PT_DHCP_HAS_MAC;
    }
    if (len < OFF_COOKIE + 4 || rd32(data + OFF_COOKIE) != 0x63825363) {
        bad(&c, PT_DHCP_E_NO_COOKIE);
        return true;
    }
    m->has |= PT_DHCP_HAS_COOKIE;
    walk(&c, data + OFF_COOKIE + 4, len - OFF_COOKIE - 4, true);
    if (m->overload & 1)
        walk(&c, data + OFF_FILE, LEN_FILE, false);
    if (m->overload & 2)
        walk(&c, data + OFF_SNAME, LEN_SNAME, false);
    return true;
}

/* ---- aggregation ---- */

static void rec_emit(struct pt_dhcp_agg *a, unsigned i)
{
    struct pt_dhcp_rec *r = &a->rec[i];

    if (!(r->has & PT_DHCP_REC_MAC) && (r->has & PT_DHCP_REC_CLIENT_CHADDR_)) {
        memcpy(r->mac, r->client_chaddr, 6);
        r->has |= PT_DHCP_REC_MAC;
    }
    a->used &= ~(1u << i);
    PT_CNT_INC(a->st->records);
    a->emit(r, a->arg);
}

static bool timed_out(const struct pt_dhcp_agg *a, unsigned i, uint64_t now)
{
    const struct pt_dhcp_rec *r = &a->rec[i];

    if (a->cfg.idle_ns && now > a->last_ns[i] && now - a->last_ns[i] > a->cfg.idle_ns)
        return true;
    return a->cfg.max_ns && now > r->ts_ns && now - r->ts_ns > a->cfg.max_ns;
}

void pt_dhcp_agg_init(struct pt_dhcp_agg *a, const struct pt_dhcp_agg_config *cfg,
                      pt_dhcp_emit_fn emit, void *arg, struct pt_dhcp_stats *st)
{
    memset(a, 0, sizeof *a);
    a->cfg = *cfg;
    a->emit = emit;
    a->arg = arg;
    a->st = st;
}

void pt_dhcp_agg_expire(struct pt_dhcp_agg *a, uint64_t now_ns)
{
    /* Oldest first, so records come out in the order their exchanges began. */
    for (;;) {
        int pick = -1;

        for (unsigned i = 0; i < PT_DHCP_AGG_SLOTS; i++)
            if ((a->used & (1u << i)) && timed_out(a, i, now_ns) &&
                (pick < 0 || a->rec[i].ts_ns < a->rec[pick].ts_ns))
                pick = (int)i;
        if (pick < 0)
            return;
        rec_emit(a, (unsigned)pick);
    }
}

void pt_dhcp_agg_flush(struct pt_dhcp_agg *a)
{
    while (a->used) {
        unsigned pick = (unsigned)__builtin_ctz(a->used);

        for (unsigned i = pick + 1; i < PT_DHCP_AGG_SLOTS; i++)
            if ((a->used & (1u << i)) && a->rec[i].ts_ns < a->rec[pick].ts_ns)
                pick = i;
        rec_emit(a, pick);
    }
}

/* The slot of (@xid, @mac), opening one (evicting the oldest if need be). */
static unsigned slot_get(struct pt_dhcp_agg *a, uint32_t xid, const uint8_t mac[6], uint64_t ts)
{
    unsigned oldest = 0;

    for (unsigned i = 0; i < PT_DHCP_AGG_SLOTS; i++)
        if ((a->used & (1u << i)) && a->rec[i].xid == xid && !memcmp(a->key_mac[i], mac, 6))
            return i;
    if (a->used == (uint32_t)((1ull << PT_DHCP_AGG_SLOTS) - 1)) {
        for (unsigned i = 1; i < PT_DHCP_AGG_SLOTS; i++)
            if (a->rec[i].ts_ns < a->rec[oldest].ts_ns)
                oldest = i;
        PT_CNT_INC(a->st->err[PT_DHCP_E_AGG_FULL]);
        rec_emit(a, oldest);
    } else {
        oldest = (unsigned)__builtin_ctz(~a->used);
    }
    memset(&a->rec[oldest], 0, sizeof a->rec[oldest]);
    a->rec[oldest].xid = xid;
    a->rec[oldest].ts_ns = ts;
    memcpy(a->key_mac[oldest], mac, 6);
    a->used |= 1u << oldest;
    return oldest;
}

static void rec_str(struct pt_dhcp_rec *r, uint16_t bit, struct pt_dhcp_str *dst,
                    const struct pt_dhcp_str *src)
{
    *dst = *src;
    r->has |= bit;
}

static bool is_unspec_or_bcast(const uint8_t a[4])
{
    static const uint8_t zero[4], ones[4] = {255, 255, 255, 255};

    return !memcmp(a, zero, 4) || !memcmp(a, ones, 4);
}

static void join_client(struct pt_dhcp_rec *r, const struct pt_dhcp_msg *m, const uint8_t src[4])
{
    if (!is_unspec_or_bcast(src)) {
        memcpy(r->client_addr, src, 4);
        r->has |= PT_DHCP_REC_CLIENT_ADDR;
    }
    if (m->has & PT_DHCP_HAS_HOST_NAME)
        rec_str(r, PT_DHCP_REC_HOST_NAME, &r->host_name, &m->host_name);
    if (m->has & PT_DHCP_HAS_FQDN)
        rec_str(r, PT_DHCP_REC_FQDN, &r->client_fqdn, &m->client_fqdn);
    if (m->has & PT_DHCP_HAS_MESSAGE)
        rec_str(r, PT_DHCP_REC_CLIENT_MSG, &r->client_message, &m->message);
    if ((m->has & PT_DHCP_HAS_CLIENT_ID) && m->client_id.len == 7 && m->client_id.s[0] == 1) {
        memcpy(r->mac, m->client_id.s + 1, 6);
        r->has |= PT_DHCP_REC_MAC;
    } else if (m->has & PT_DHCP_HAS_MAC) {
        memcpy(r->client_chaddr, m->mac, 6);
        r->has |= PT_DHCP_REC_CLIENT_CHADDR_;
    }
    if (m->has & PT_DHCP_HAS_REQ_ADDR) {
        memcpy(r->requested_addr, m->requested_addr, 4);
        r->has |= PT_DHCP_REC_REQ_ADDR;
    }
}

static void join_server(struct pt_dhcp_rec *r, const struct pt_dhcp_msg *m, const uint8_t src[4])
{
    static const uint8_t zero[4];
    bool assigned = memcmp(m->yiaddr, zero, 4) != 0;

    if (m->has & PT_DHCP_HAS_MESSAGE)
        rec_str(r, PT_DHCP_REC_SERVER_MSG, &r->server_message, &m->message);
    if (assigned) {
        memcpy(r->server_addr, src, 4);
        memcpy(r->assigned_addr, m->yiaddr, 4);
        r->has |= PT_DHCP_REC_SERVER_ADDR | PT_DHCP_REC_ASSIGNED;
        if (!(r->has & PT_DHCP_REC_CLIENT_ADDR)) {
            memcpy(r->client_addr, m->yiaddr, 4);
            r->has |= PT_DHCP_REC_CLIENT_ADDR;
        }
    }
    if ((m->has & PT_DHCP_HAS_MAC) && !(r->has & PT_DHCP_REC_MAC)) {
        memcpy(r->mac, m->mac, 6);
        r->has |= PT_DHCP_REC_MAC;
    }
    if (m->has & PT_DHCP_HAS_DOMAIN)
        rec_str(r, PT_DHCP_REC_DOMAIN, &r->domain, &m->domain);
    if (m->has & PT_DHCP_HAS_LEASE) {
        r->lease_time = m->lease_time;
        r->has |= PT_DHCP_REC_LEASE;
    }
}

void pt_dhcp_agg_add(struct pt_dhcp_agg *a, const struct pt_dhcp_msg *m, const uint8_t src[4],
                     const uint8_t dst[4], uint64_t ts_ns, uint64_t flow_id)
{
    struct pt_dhcp_rec *r;
    unsigned i, u;

    (void)dst; /* Zeek reads the server's address from the source alone */
    pt_dhcp_agg_expire(a, ts_ns);
    i = slot_get(a, m->xid, m->chaddr, ts_ns);
    r = &a->rec[i];
    if (ts_ns > r->ts_ns)
        r->duration_ns = ts_ns - r->ts_ns;
    a->last_ns[i] = ts_ns;
    for (u = 0; u < r->n_uids && r->uids[u] != flow_id; u++)
        ;
    if (u == r->n_uids)
        r->uids[r->n_uids++] = flow_id;
    r->msg_types[r->n_types++] = m->type;
    if (m->op == 1)
        join_client(r, m, src);
    else
        join_server(r, m, src);
    if (r->n_uids == PT_DHCP_AGG_MAX_UIDS || r->n_types == PT_DHCP_AGG_MAX_TYPES) {
        PT_CNT_INC(a->st->err[PT_DHCP_E_AGG_SPLIT]);
        rec_emit(a, i);
    } else if (a->cfg.close_on_reply && (m->type == PT_DHCP_ACK || m->type == PT_DHCP_NAK)) {
        rec_emit(a, i);
    }
}
