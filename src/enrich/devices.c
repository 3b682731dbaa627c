/* devices.c - the device table (include/pt/devices.h has the contract).
 *
 * DESIGN
 * 1. One bounded LRU index (lru.c) keyed by (kind, 16-byte address) holds
 *    both kinds of entries, so a MAC and an IP compete for the same room
 *    and the least recently seen of either goes first. The payload is the
 *    public struct pt_device itself, plus a changed flag and the place of
 *    the entry on the changed list.
 * 2. Changed entries are kept on a stack of entry numbers (at most one
 *    place per entry: the flag says whether it is on it), so a save walks
 *    only what changed. An entry evicted while on the stack keeps its place
 *    (its number is reused by the newcomer, which is then what gets saved:
 *    the store keeps the evicted one as it was last saved).
 * 3. Evidence only ever adds: a name is refreshed or added, a service
 *    added, a type replaced only by a stronger source (enum order), an OS
 *    guess from a SYN replaces one from a SYN/ACK, and a SYN guess is
 *    replaced by a later SYN's (the machine may have been reinstalled).
 * 4. Time is record time (the records' own timestamps); first/last seen
 *    only move outwards, so records arriving slightly out of order (several
 *    workers' queues) do not move them back. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"
#include "pt/devices.h"

#define NSEC     1000000000ull
#define KEY_LEN  17
#define ON_STACK 0x80 /* struct ent.changed: the entry number is on the stack */

struct ent {
    struct pt_device d;
    uint8_t changed; /* 1: changed since saved; | ON_STACK */
};

struct pt_devices {
    struct pt_devices_config cfg;
    const struct pt_oui *oui;
    struct lru lru;
    struct ent *ent;
    uint32_t *stack; /* changed entry numbers, DESIGN 2 */
    uint32_t n_stack;
    uint64_t last_save_ns;
    bool saved_once;
    uint64_t st[PT_DEV_ST_MAX];
};

/* ---- names of things ---- */

static const char *const src_names[PT_DEV_SRC_MAX] = {
    [PT_DEV_SRC_DHCP] = "dhcp",       [PT_DEV_SRC_DHCP_FQDN] = "dhcp_fqdn",
    [PT_DEV_SRC_DNS_PTR] = "dns_ptr", [PT_DEV_SRC_MDNS] = "mdns",
    [PT_DEV_SRC_NBNS] = "nbns",
};

const char *pt_dev_name_src_name(unsigned src)
{
    return src < PT_DEV_SRC_MAX && src_names[src] ? src_names[src] : "unknown";
}

static const char *const os_names[PT_DEV_OS_MAX] = {
    [PT_DEV_OS_UNKNOWN] = "unknown",
    [PT_DEV_OS_LINUX] = "Linux",
    [PT_DEV_OS_WINDOWS] = "Windows",
    [PT_DEV_OS_APPLE] = "macOS/iOS",
    [PT_DEV_OS_BSD] = "BSD",
    [PT_DEV_OS_UNIX] = "Unix-like",
    [PT_DEV_OS_NETWORK] = "network OS",
};

const char *pt_dev_os_name(unsigned os)
{
    return os < PT_DEV_OS_MAX ? os_names[os] : "unknown";
}

static const char *const type_names[PT_DEV_TYPE_MAX] = {
    [PT_DEV_TYPE_UNKNOWN] = "unknown", [PT_DEV_TYPE_COMPUTER] = "computer",
    [PT_DEV_TYPE_PHONE] = "phone",     [PT_DEV_TYPE_PRINTER] = "printer",
    [PT_DEV_TYPE_NETWORK] = "network", [PT_DEV_TYPE_VOIP] = "voip",
    [PT_DEV_TYPE_CAMERA] = "camera",   [PT_DEV_TYPE_EMBEDDED] = "embedded",
    [PT_DEV_TYPE_VM] = "vm",
};

const char *pt_dev_type_name(unsigned type)
{
    return type < PT_DEV_TYPE_MAX ? type_names[type] : "unknown";
}

static const char *const tsrc_names[PT_DEV_TSRC_MAX] = {
    [PT_DEV_TSRC_NONE] = "",   [PT_DEV_TSRC_OS] = "os",     [PT_DEV_TSRC_SERVICE] = "service",
    [PT_DEV_TSRC_OUI] = "oui", [PT_DEV_TSRC_DHCP] = "dhcp",
};

const char *pt_dev_type_src_name(unsigned src)
{
    return src < PT_DEV_TSRC_MAX ? tsrc_names[src] : "";
}

static const char *const stat_names[PT_DEV_ST_MAX] = {
    [PT_DEV_ST_EVICTED] = "enrich.devices.evicted",
    [PT_DEV_ST_NAMES_FULL] = "enrich.devices.names_replaced",
    [PT_DEV_ST_SERVICES_FULL] = "enrich.devices.services_full",
    [PT_DEV_ST_NAME_TRUNC] = "enrich.devices.name_truncated",
    [PT_DEV_ST_OS_GUESSES] = "enrich.devices.os_guesses",
    [PT_DEV_ST_SKIPPED] = "enrich.devices.skipped_addr",
    [PT_DEV_ST_BAD_NAME] = "enrich.devices.bad_name",
};

const char *pt_devices_stat_name(unsigned st)
{
    return st < PT_DEV_ST_MAX ? stat_names[st] : "enrich.devices.unknown";
}

/* ---- create / destroy ---- */

struct pt_devices *pt_devices_create(const struct pt_devices_config *cfg, const struct pt_oui *oui,
                                     int *err)
{
    struct pt_devices *t = calloc(1, sizeof *t);
    int rc;

    if (!t) {
        *err = -ENOMEM;
        return NULL;
    }
    if (cfg)
        t->cfg = *cfg;
    if (!t->cfg.capacity)
        t->cfg.capacity = PT_DEV_DEFAULT;
    if (t->cfg.capacity < 4) { /* a feed touches up to three entries at once */
        free(t);
        *err = -EINVAL;
        return NULL;
    }
    t->oui = oui;
    if ((rc = lru_init(&t->lru, t->cfg.capacity, KEY_LEN)) < 0) {
        free(t);
        *err = rc;
        return NULL;
    }
    t->ent = calloc(t->cfg.capacity, sizeof *t->ent);
    t->stack = malloc((size_t)t->cfg.capacity * sizeof *t->stack);
    if (!t->ent || !t->stack) {
        pt_devices_destroy(t);
        *err = -ENOMEM;
        return NULL;
    }
    return t;
}

void pt_devices_destroy(struct pt_devices *t)
{
    if (!t)
        return;
    lru_fini(&t->lru);
    free(t->ent);
    free(t->stack);
    free(t);
}

uint32_t pt_devices_count(const struct pt_devices *t)
{
    return t->lru.n;
}

const uint64_t *pt_devices_stats(const struct pt_devices *t)
{
    return t->st;
}

/* ---- entries ---- */

static void make_key(uint8_t k[KEY_LEN], unsigned kind, const uint8_t *addr)
{
    memset(k, 0, KEY_LEN);
    k[0] = (uint8_t)kind;
    memcpy(k + 1, addr, kind == PT_DEV_MAC ? 6 : 16);
}

static void mark(struct pt_devices *t, uint32_t e)
{
    struct ent *x = &t->ent[e];

    if (!(x->changed & ON_STACK))
        t->stack[t->n_stack++] = e; /* at most one place per entry: never overflows */
    x->changed = 1 | ON_STACK;
}

/* Copy @len bytes of @src into @dst (@cap bytes), cut to fit, NUL-terminated. */
static void str_copy(char *dst, size_t cap, const char *src, size_t len)
{
    if (len >= cap)
        len = cap - 1;
    memcpy(dst, src, len);
    dst[len] = '\0';
}

static void mac_vendor(struct pt_devices *t, struct pt_device *d)
{
    struct pt_oui_match m;
    enum pt_dev_type ty;

    d->oui_kind = (uint8_t)pt_oui_lookup(t->oui, d->addr, &m);
    if (m.kind != PT_OUI_VENDOR)
        return;
    str_copy(d->vendor, sizeof d->vendor, m.vendor, m.vendor_len);
    if ((ty = pt_dev_type_from_vendor(m.vendor)) != PT_DEV_TYPE_UNKNOWN &&
        d->type_src < PT_DEV_TSRC_OUI) {
        d->type = (uint8_t)ty;
        d->type_src = PT_DEV_TSRC_OUI;
    }
}

/* The entry of (@kind, @addr), created when absent; its last seen moved to
 * @ts. Marked changed. */
static struct pt_device *get(struct pt_devices *t, unsigned kind, const uint8_t *addr, uint64_t ts)
{
    uint8_t k[KEY_LEN];
    uint32_t e;
    bool ev;

    make_key(k, kind, addr);
    if ((e = lru_find(&t->lru, k)) != LRU_NONE) {
        lru_touch(&t->lru, e);
    } else {
        e = lru_insert(&t->lru, k, &ev);
        if (ev)
            PT_CNT_INC(t->st[PT_DEV_ST_EVICTED]);
        uint8_t ch = t->ent[e].changed & ON_STACK;
        memset(&t->ent[e], 0, sizeof t->ent[e]);
        t->ent[e].changed = ch;
        struct pt_device *d = &t->ent[e].d;
        d->kind = (uint8_t)kind;
        memcpy(d->addr, k + 1, 16);
        d->first_ns = d->last_ns = ts;
        d->os_wscale = -1;
        if (kind == PT_DEV_MAC)
            mac_vendor(t, d);
    }
    struct pt_device *d = &t->ent[e].d;
    if (ts && (ts < d->first_ns || !d->first_ns))
        d->first_ns = ts;
    if (ts > d->last_ns)
        d->last_ns = ts;
    mark(t, e);
    return d;
}

/* The entry of (@kind, @addr) or NULL; recency unchanged. */
static struct pt_device *find(const struct pt_devices *t, unsigned kind, const uint8_t *addr)
{
    uint8_t k[KEY_LEN];
    uint32_t e;

    make_key(k, kind, addr);
    e = lru_find(&t->lru, k);
    return e == LRU_NONE ? NULL : &t->ent[e].d;
}

static bool mac_ok(const uint8_t mac[6])
{
    static const uint8_t zero[6];

    return !(mac[0] & 1) && memcmp(mac, zero, 6) != 0;
}

/* Whether IP @a gets an entry: unicast, and local unless cfg.all_addrs or
 * @bound (ARP/DHCP put it on the segment). */
static bool ip_tracked(struct pt_devices *t, const uint8_t a[16], bool bound)
{
    switch (pt_geo_addr_scope(a)) {
    case PT_GEO_SCOPE_UNSPECIFIED:
    case PT_GEO_SCOPE_LOOPBACK:
    case PT_GEO_SCOPE_MULTICAST:
    case PT_GEO_SCOPE_BROADCAST:
        break;
    case PT_GEO_SCOPE_EXTERNAL:
        if (t->cfg.all_addrs || bound)
            return true;
        break;
    default:
        return true;
    }
    PT_CNT_INC(t->st[PT_DEV_ST_SKIPPED]);
    return false;
}

static void v4(uint8_t out[16], const uint8_t a[4])
{
    memset(out, 0, 10);
    out[10] = out[11] = 0xff;
    memcpy(out + 12, a, 4);
}

/* Add or refresh hostname @s (@len bytes) from @src on @d (DESIGN 3). */
static void name_add(struct pt_devices *t, struct pt_device *d, unsigned src, const char *s,
                     size_t len, uint64_t ts)
{
    struct pt_dev_name *n;
    unsigned old = 0;

    while (len && s[len - 1] == '.') /* "host.example." and "host.example" are one name */
        len--;
    if (!len || memchr(s, '\0', len))
        return;
    if (len >= PT_DEV_NAME_MAX) {
        len = PT_DEV_NAME_MAX - 1;
        PT_CNT_INC(t->st[PT_DEV_ST_NAME_TRUNC]);
    }
    for (unsigned i = 0; i < d->n_names; i++) {
        n = &d->names[i];
        if (n->src == src && n->len == len && strncasecmp(n->name, s, len) == 0) {
            if (ts > n->last_ns)
                n->last_ns = ts;
            return;
        }
        if (n->last_ns < d->names[old].last_ns)
            old = i;
    }
    if (d->n_names < PT_DEV_NAMES) {
        n = &d->names[d->n_names++];
    } else {
        n = &d->names[old];
        PT_CNT_INC(t->st[PT_DEV_ST_NAMES_FULL]);
    }
    n->src = (uint8_t)src;
    n->len = (uint8_t)len;
    n->last_ns = ts;
    memcpy(n->name, s, len);
    n->name[len] = '\0';
}

static void type_set(struct pt_device *d, enum pt_dev_type ty, enum pt_dev_type_src src)
{
    if (ty != PT_DEV_TYPE_UNKNOWN && src >= d->type_src) {
        d->type = (uint8_t)ty;
        d->type_src = (uint8_t)src;
    }
}

/* Bind IP @ip <-> MAC @mac (both entries, DESIGN: ARP and DHCP only). */
static void bind_addr(struct pt_devices *t, const uint8_t ip[16], const uint8_t mac[6], uint64_t ts)
{
    struct pt_device *m, *i;

    if (!mac_ok(mac))
        return;
    m = get(t, PT_DEV_MAC, mac, ts);
    memcpy(m->bound, ip, 16);
    m->flags |= PT_DEV_F_BOUND;
    if (!ip_tracked(t, ip, true))
        return;
    i = get(t, PT_DEV_IP, ip, ts);
    memset(i->bound, 0, 16);
    memcpy(i->bound, mac, 6);
    i->flags |= PT_DEV_F_BOUND;
}

/* ---- OS guess ---- */

enum pt_dev_os pt_dev_os_guess(bool syn, uint8_t ttl, uint16_t win, uint16_t mss, int wscale,
                               uint8_t *init_ttl)
{
    uint8_t it = ttl <= 32 ? 32 : ttl <= 64 ? 64 : ttl <= 128 ? 128 : 255;

    if (init_ttl)
        *init_ttl = it;
    if (!ttl)
        return PT_DEV_OS_UNKNOWN;
    switch (it) {
    case 255:
        return PT_DEV_OS_NETWORK;
    case 128:
        /* Only Windows starts at 128 among common stacks. */
        return PT_DEV_OS_WINDOWS;
    case 64:
        break;
    default:
        return PT_DEV_OS_UNKNOWN;
    }
    if (!syn) /* a SYN/ACK's window echoes the peer as much as the stack */
        return PT_DEV_OS_UNIX;
    /* macOS/iOS (and FreeBSD): 65535 with window scale 5 or 6. */
    if (win == 65535 && (wscale == 5 || wscale == 6))
        return PT_DEV_OS_APPLE;
    /* OpenBSD 16384 with scale 3 or none; old BSD 65535 with scale <= 3 or none. */
    if ((win == 16384 && wscale <= 3) || (win == 65535 && wscale <= 3))
        return PT_DEV_OS_BSD;
    /* Linux: 64240 (kernel >= 4.19, MSS 1460 x 44), 29200, 14600, 5840, or
     * in general a small multiple of the MSS (2.6: 4 x, 3.x: 10 x, 4.x: 20 x). */
    if (win == 64240 || win == 29200 || win == 14600 || win == 5840)
        return PT_DEV_OS_LINUX;
    if (mss && win % mss == 0 && win / mss >= 2 && win / mss <= 45 && wscale >= 0)
        return PT_DEV_OS_LINUX;
    return PT_DEV_OS_UNIX;
}

/* Guess from direction @dir of @r (0: the SYN, 1: the SYN/ACK). */
static void os_from(struct pt_devices *t, struct pt_device *d, const struct pt_flow_record *r,
                    unsigned dir)
{
    const struct pt_flow_health *h = &r->health;
    bool syn = dir == 0;
    uint8_t it;

    if (!syn && (d->flags & PT_DEV_F_OS_SYN))
        return; /* DESIGN 3: a SYN says more than a SYN/ACK */
    enum pt_dev_os os =
        pt_dev_os_guess(syn, h->ttl[dir], h->init_win[dir], h->mss[dir], h->wscale[dir], &it);
    PT_CNT_INC(t->st[PT_DEV_ST_OS_GUESSES]);
    d->os = (uint8_t)os;
    d->os_ttl = it;
    d->os_hops = (uint8_t)(it - h->ttl[dir]);
    d->os_win = h->init_win[dir];
    d->os_mss = h->mss[dir];
    d->os_wscale = h->wscale[dir];
    d->flags = (uint8_t)(d->flags | PT_DEV_F_OS | (syn ? PT_DEV_F_OS_SYN : 0));
    if (os == PT_DEV_OS_NETWORK)
        type_set(d, PT_DEV_TYPE_NETWORK, PT_DEV_TSRC_OS);
}

/* ---- device types ---- */

/* @s starts with @p, case-insensitive. */
static bool prefix(const char *s, size_t len, const char *p)
{
    size_t n = strlen(p);

    return len >= n && strncasecmp(s, p, n) == 0;
}

enum pt_dev_type pt_dev_type_from_dhcp_vendor(const char *vc, size_t len)
{
    static const struct {
        const char *p;
        enum pt_dev_type ty;
    } tab[] = {
        {"MSFT", PT_DEV_TYPE_COMPUTER},      /* Windows: "MSFT 5.0", "MSFT 98" */
        {"android-dhcp", PT_DEV_TYPE_PHONE}, /* Android's DHCP client */
        {"udhcp", PT_DEV_TYPE_EMBEDDED},     /* BusyBox udhcpc */
        {"Cisco", PT_DEV_TYPE_NETWORK},      /* "Cisco Systems, Inc. IP Phone" is caught below */
        {"Aruba", PT_DEV_TYPE_NETWORK},      /* "ArubaAP", "ArubaInstantAP" */
        {"ubnt", PT_DEV_TYPE_NETWORK},       {"Hewlett-Packard JetDirect", PT_DEV_TYPE_PRINTER},
        {"HP Printer", PT_DEV_TYPE_PRINTER}, {"Brother", PT_DEV_TYPE_PRINTER},
        {"Polycom", PT_DEV_TYPE_VOIP},       {"yealink", PT_DEV_TYPE_VOIP},
        {"AXIS", PT_DEV_TYPE_CAMERA},        {"PXEClient", PT_DEV_TYPE_COMPUTER},
    };

    if (!vc || !len)
        return PT_DEV_TYPE_UNKNOWN;
    /* Cisco IP phones announce "Cisco Systems, Inc. IP Phone ...". */
    if (prefix(vc, len, "Cisco") && len >= 8 && memmem(vc, len, "Phone", 5))
        return PT_DEV_TYPE_VOIP;
    for (size_t i = 0; i < PT_ARRAY_LEN(tab); i++)
        if (prefix(vc, len, tab[i].p))
            return tab[i].ty;
    return PT_DEV_TYPE_UNKNOWN;
}

enum pt_dev_type pt_dev_type_from_vendor(const char *org)
{
    /* Makers whose NICs go (nearly) only into one kind of device. General
     * makers (Apple, Samsung, Intel, HP, Dell, ...) say nothing. */
    static const struct {
        const char *p;
        enum pt_dev_type ty;
    } tab[] = {
        {"Cisco", PT_DEV_TYPE_NETWORK},
        {"Juniper", PT_DEV_TYPE_NETWORK},
        {"Aruba", PT_DEV_TYPE_NETWORK},
        {"Ubiquiti", PT_DEV_TYPE_NETWORK},
        {"Routerboard", PT_DEV_TYPE_NETWORK},
        {"MikroTik", PT_DEV_TYPE_NETWORK},
        {"NETGEAR", PT_DEV_TYPE_NETWORK},
        {"TP-LINK", PT_DEV_TYPE_NETWORK},
        {"Fortinet", PT_DEV_TYPE_NETWORK},
        {"Palo Alto", PT_DEV_TYPE_NETWORK},
        {"Arista", PT_DEV_TYPE_NETWORK},
        {"Extreme Networks", PT_DEV_TYPE_NETWORK},
        {"Ruckus", PT_DEV_TYPE_NETWORK},
        {"Brother", PT_DEV_TYPE_PRINTER},
        {"Canon", PT_DEV_TYPE_PRINTER},
        {"Seiko Epson", PT_DEV_TYPE_PRINTER},
        {"Lexmark", PT_DEV_TYPE_PRINTER},
        {"Xerox", PT_DEV_TYPE_PRINTER},
        {"KYOCERA", PT_DEV_TYPE_PRINTER},
        {"Ricoh", PT_DEV_TYPE_PRINTER},
        {"Polycom", PT_DEV_TYPE_VOIP},
        {"Yealink", PT_DEV_TYPE_VOIP},
        {"Grandstream", PT_DEV_TYPE_VOIP},
        {"Avaya", PT_DEV_TYPE_VOIP},
        {"Axis Communications", PT_DEV_TYPE_CAMERA},
        {"Hangzhou Hikvision", PT_DEV_TYPE_CAMERA},
        {"Raspberry Pi", PT_DEV_TYPE_EMBEDDED},
        {"VMware", PT_DEV_TYPE_VM},
        {"Parallels", PT_DEV_TYPE_VM},
    };

    if (!org || !*org)
        return PT_DEV_TYPE_UNKNOWN;
    for (size_t i = 0; i < PT_ARRAY_LEN(tab); i++)
        if (prefix(org, strlen(org), tab[i].p))
            return tab[i].ty;
    return PT_DEV_TYPE_UNKNOWN;
}

/* The type a default DHCP host name gives away: Android's
 * "android-<id>", Apple's "iPhone"/"iPad" names, or unknown. */
static enum pt_dev_type type_from_host_name(const char *s, size_t len)
{
    if (prefix(s, len, "android-") || memmem(s, len, "iPhone", 6) || memmem(s, len, "iPad", 4))
        return PT_DEV_TYPE_PHONE;
    return PT_DEV_TYPE_UNKNOWN;
}

/* The type a port answering says, or unknown. */
static enum pt_dev_type type_from_service(uint8_t proto, uint16_t port)
{
    if (proto == 6 && (port == 9100 || port == 631 || port == 515))
        return PT_DEV_TYPE_PRINTER; /* raw printing, IPP, LPD */
    return PT_DEV_TYPE_UNKNOWN;
}

/* ---- feeding ---- */

static void service_add(struct pt_devices *t, struct pt_device *d, uint8_t proto, uint16_t port)
{
    for (unsigned i = 0; i < d->n_services; i++)
        if (d->services[i].port == port && d->services[i].proto == proto) {
            if (d->services[i].conns < UINT32_MAX)
                d->services[i].conns++;
            return;
        }
    if (d->n_services >= PT_DEV_SERVICES) {
        PT_CNT_INC(t->st[PT_DEV_ST_SERVICES_FULL]);
        return;
    }
    d->services[d->n_services++] =
        (struct pt_dev_service){.port = port, .proto = proto, .conns = 1};
    type_set(d, type_from_service(proto, port), PT_DEV_TSRC_SERVICE);
}

/* Whether the responder of @r answered on its port (services). */
static bool answered(const struct pt_flow_record *r)
{
    if (r->proto == 6)
        return strchr(r->history, 'h') != NULL;
    if (r->proto == 17)
        return r->resp_pkts > 0 && r->resp_p < 49152;
    return false;
}

void pt_devices_conn(struct pt_devices *t, const struct pt_flow_record *r)
{
    const struct pt_flow_health *h = &r->health;
    uint64_t last = r->last_ns > r->ts_ns ? r->last_ns : r->ts_ns;
    struct pt_device *d;

    if (mac_ok(r->orig_mac))
        get(t, PT_DEV_MAC, r->orig_mac, last);
    if (mac_ok(r->resp_mac))
        get(t, PT_DEV_MAC, r->resp_mac, last);
    if (ip_tracked(t, r->orig_h, false)) {
        d = get(t, PT_DEV_IP, r->orig_h, last);
        if (d->first_ns > r->ts_ns)
            d->first_ns = r->ts_ns;
        if (r->proto == 6 && h->valid && r->history[0] == 'S' && h->tcp_seen[0] && h->ip_seen[0])
            os_from(t, d, r, 0);
    }
    /* a responder that never sent a packet is no evidence of a machine: a
     * scan of unused addresses or a directed broadcast makes no entry */
    if (r->resp_pkts && ip_tracked(t, r->resp_h, false)) {
        d = get(t, PT_DEV_IP, r->resp_h, last);
        if (d->first_ns > r->ts_ns)
            d->first_ns = r->ts_ns;
        if (r->proto == 6 && h->valid && strchr(r->history, 'h') && h->tcp_seen[1] && h->ip_seen[1])
            os_from(t, d, r, 1);
        if (answered(r))
            service_add(t, d, r->proto, r->resp_p);
    }
}

void pt_devices_dhcp(struct pt_devices *t, const struct pt_app_dhcp *a, uint64_t ts_ns)
{
    static const uint8_t zero4[4];
    const struct pt_dhcp_msg *m = &a->msg;
    struct pt_device *d;
    uint8_t ip[16];

    if (!(m->has & PT_DHCP_HAS_MAC) || !mac_ok(m->mac))
        return;
    if (m->op == 1) {
        d = get(t, PT_DEV_MAC, m->mac, ts_ns);
        if (m->has & PT_DHCP_HAS_HOST_NAME) {
            name_add(t, d, PT_DEV_SRC_DHCP, m->host_name.s, m->host_name.len, ts_ns);
            type_set(d, type_from_host_name(m->host_name.s, m->host_name.len), PT_DEV_TSRC_DHCP);
        }
        if (m->has & PT_DHCP_HAS_FQDN)
            name_add(t, d, PT_DEV_SRC_DHCP_FQDN, m->client_fqdn.s, m->client_fqdn.len, ts_ns);
        if ((m->has & PT_DHCP_HAS_VENDOR) && m->vendor_class.len &&
            !memchr(m->vendor_class.s, '\0', m->vendor_class.len)) {
            str_copy(d->dhcp_vendor, sizeof d->dhcp_vendor, m->vendor_class.s, m->vendor_class.len);
            type_set(d, pt_dev_type_from_dhcp_vendor(m->vendor_class.s, m->vendor_class.len),
                     PT_DEV_TSRC_DHCP);
        }
        if (memcmp(m->ciaddr, zero4, 4) != 0) {
            v4(ip, m->ciaddr);
            bind_addr(t, ip, m->mac, ts_ns);
        }
    } else if (m->op == 2 && m->type == PT_DHCP_ACK && memcmp(m->yiaddr, zero4, 4) != 0) {
        v4(ip, m->yiaddr);
        bind_addr(t, ip, m->mac, ts_ns);
    }
    /* The IP entry carries the MAC entry's DHCP names and type once bound. */
    struct pt_device *md = find(t, PT_DEV_MAC, m->mac), *id;
    if (md && (md->flags & PT_DEV_F_BOUND) && ip_tracked(t, md->bound, true)) {
        memcpy(ip, md->bound, 16);
        id = get(t, PT_DEV_IP, ip, ts_ns);
        for (unsigned i = 0; i < md->n_names; i++)
            name_add(t, id, md->names[i].src, md->names[i].name, md->names[i].len,
                     md->names[i].last_ns);
        type_set(id, md->type, md->type_src);
    }
}

/* ---- DNS names ---- */

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

bool pt_dev_reverse_parse(const char *name, size_t len, uint8_t addr[16])
{
    while (len && name[len - 1] == '.')
        len--;
    if (len > 13 && strncasecmp(name + len - 13, ".in-addr.arpa", 13) == 0) {
        unsigned oct[4], n = 0;
        size_t i = 0, end = len - 13;
        while (i < end && n < 4) {
            unsigned v = 0, digits = 0;
            while (i < end && name[i] >= '0' && name[i] <= '9' && digits < 4)
                v = v * 10 + (unsigned)(name[i++] - '0'), digits++;
            if (!digits || digits > 3 || v > 255 || (digits > 1 && name[i - digits] == '0'))
                return false;
            oct[n++] = v;
            if (i < end && name[i++] != '.')
                return false;
        }
        if (n != 4 || i != end || name[end - 1] == '.')
            return false;
        uint8_t a4[4] = {(uint8_t)oct[3], (uint8_t)oct[2], (uint8_t)oct[1], (uint8_t)oct[0]};
        v4(addr, a4);
        return true;
    }
    if (len == 64 + 8 && strncasecmp(name + 64, "ip6.arpa", 8) == 0) {
        for (unsigned i = 0; i < 32; i++) {
            int h = hexval((unsigned char)name[2 * i]);
            if (h < 0 || name[2 * i + 1] != '.')
                return false;
            unsigned b = 15 - i / 2; /* the first nibble is the last address nibble */
            if (i % 2 == 0)
                addr[b] = (uint8_t)h;
            else
                addr[b] = (uint8_t)(addr[b] | h << 4);
        }
        return true;
    }
    return false;
}

bool pt_dev_nbns_decode(const char *enc, size_t len, char out[16], uint8_t *suffix)
{
    const char *dot = memchr(enc, '.', len);
    size_t n = dot ? (size_t)(dot - enc) : len;
    char raw[16];

    if (n != 32)
        return false;
    for (unsigned i = 0; i < 16; i++) {
        int hi = toupper((unsigned char)enc[2 * i]) - 'A',
            lo = toupper((unsigned char)enc[2 * i + 1]) - 'A';
        if (hi < 0 || hi > 15 || lo < 0 || lo > 15)
            return false;
        raw[i] = (char)(hi << 4 | lo);
    }
    if (suffix)
        *suffix = (uint8_t)raw[15];
    n = 15;
    while (n && raw[n - 1] == ' ')
        n--;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)raw[i] < 0x20 || raw[i] == 0x7f)
            return false;
    memcpy(out, raw, n);
    out[n] = '\0';
    return n > 0;
}

/* Whether answer text @s is an address (an A/AAAA answer, not a name). */
static bool text_is_addr(const char *s)
{
    uint8_t b[16];

    return inet_pton(AF_INET, s, b) == 1 || inet_pton(AF_INET6, s, b) == 1;
}

/* Name @addr with @s from @src, when tracked; @local: the message itself
 * shows the address is on the segment (mDNS and NetBIOS are link-local
 * protocols), so it is tracked even when external. */
static void ip_name(struct pt_devices *t, const uint8_t addr[16], unsigned src, const char *s,
                    size_t len, uint64_t ts, bool local)
{
    if (ip_tracked(t, addr, local))
        name_add(t, get(t, PT_DEV_IP, addr, ts), src, s, len, ts);
}

/* Whether @s is an mDNS host name: one label (not a "_service" label)
 * then ".local", trailing dot allowed. Service instance names
 * ("Kitchen._googlecast._tcp.local") are not hosts. */
static bool mdns_host(const char *s, size_t len)
{
    while (len && s[len - 1] == '.')
        len--;
    if (len <= 6 || strncasecmp(s + len - 6, ".local", 6) != 0 || s[0] == '_')
        return false;
    return memchr(s, '.', len - 6) == NULL;
}

/* mDNS: the responder announces its own records, so every address of the
 * answer is named by the host name the message carries: the query when it
 * is one, else the first answer that is one (the target of a reverse PTR). */
static void dns_mdns(struct pt_devices *t, const struct pt_app_dns *d, size_t qlen, uint64_t ts)
{
    const struct pt_dns_txn *x = &d->txn;
    const char *host = NULL;
    size_t hlen = 0;
    uint8_t addr[16];

    if (mdns_host(x->query, qlen)) {
        host = x->query;
        hlen = qlen;
    }
    for (unsigned i = 0; !host && i < x->n_answers && i < PT_DNS_MAX_ANSWERS; i++)
        if (mdns_host(x->answers[i], x->answer_len[i])) {
            host = x->answers[i];
            hlen = x->answer_len[i];
        }
    if (!host)
        return;
    for (unsigned i = 0; i < d->n_addrs && i < PT_APP_DNS_ADDRS; i++)
        ip_name(t, d->addr[i], PT_DEV_SRC_MDNS, host, hlen, ts, true);
    if (host != x->query && pt_dev_reverse_parse(x->query, qlen, addr))
        ip_name(t, addr, PT_DEV_SRC_MDNS, host, hlen, ts, true);
}

void pt_devices_dns(struct pt_devices *t, const struct pt_app_conn *c, const struct pt_app_dns *d,
                    uint64_t ts_ns)
{
    const struct pt_dns_txn *x = &d->txn;
    size_t qlen = x->has_query ? strnlen(x->query, sizeof x->query) : 0;
    uint8_t addr[16], tmp[16];

    if (!qlen || x->query_trunc)
        return;
    if (c->resp_p == 137 && x->opcode == 5) { /* NetBIOS name registration */
        char nb[16];
        uint8_t sfx;
        if (!pt_dev_nbns_decode(x->query, qlen, nb, &sfx)) {
            PT_CNT_INC(t->st[PT_DEV_ST_BAD_NAME]);
            return;
        }
        if (sfx == 0x00 || sfx == 0x20) /* workstation / server names; not group names */
            ip_name(t, c->orig_h, PT_DEV_SRC_NBNS, nb, strlen(nb), ts_ns, true);
        return;
    }
    if (!x->saw_reply || (x->has_rcode && x->rcode != 0))
        return;
    if (c->resp_p == 5353 || c->orig_p == 5353) {
        dns_mdns(t, d, qlen, ts_ns);
        return;
    }
    if (!pt_dev_reverse_parse(x->query, qlen, addr))
        return;
    if (x->has_qtype && x->qtype != 12 && x->qtype != 255)
        return;
    /* answers[0] is the PTR target: the first answer to the reverse name */
    if (x->n_answers && !text_is_addr(x->answers[0]) &&
        !pt_dev_reverse_parse(x->answers[0], x->answer_len[0], tmp))
        ip_name(t, addr, PT_DEV_SRC_DNS_PTR, x->answers[0], x->answer_len[0], ts_ns, false);
}

void pt_devices_arp(struct pt_devices *t, const struct pt_arp *a, uint64_t ts_ns)
{
    static const uint8_t zero4[4];
    uint8_t ip[16];

    if ((a->op != 1 && a->op != 2) || !memcmp(a->spa, zero4, 4) || !mac_ok(a->sha))
        return;
    v4(ip, a->spa);
    bind_addr(t, ip, a->sha, ts_ns);
}

/* ---- reading ---- */

bool pt_devices_get(const struct pt_devices *t, unsigned kind, const uint8_t *addr,
                    struct pt_device *out)
{
    const struct pt_device *d;

    if ((kind != PT_DEV_MAC && kind != PT_DEV_IP) || !(d = find(t, kind, addr)))
        return false;
    *out = *d;
    return true;
}

bool pt_devices_next(const struct pt_devices *t, uint32_t *cursor, struct pt_device *out)
{
    while (*cursor <= t->lru.mask) {
        uint32_t e = t->lru.idx[(*cursor)++];
        if (e != LRU_NONE) {
            *out = t->ent[e].d;
            return true;
        }
    }
    return false;
}

/* ---- persistence ---- */

bool pt_devices_save_due(struct pt_devices *t, uint64_t now_ns, bool force)
{
    if (!t->n_stack)
        return false;
    if (!force && t->saved_once && now_ns < t->last_save_ns + NSEC)
        return false;
    t->saved_once = true;
    t->last_save_ns = now_ns;
    return true;
}

size_t pt_devices_take_changed(struct pt_devices *t, struct pt_device *out, size_t max)
{
    size_t n = 0;

    while (n < max && t->n_stack) {
        uint32_t e = t->stack[--t->n_stack];
        struct ent *x = &t->ent[e];
        bool live = x->changed & 1;

        x->changed = 0;
        /* An entry removed since (never by this table: eviction reuses the
         * number at once, DESIGN 2) or already saved is skipped. */
        if (live && x->d.kind)
            out[n++] = x->d;
    }
    return n;
}

int pt_devices_restore(struct pt_devices *t, const struct pt_device *d)
{
    uint8_t k[KEY_LEN];
    uint32_t e;
    bool ev;

    if (d->kind != PT_DEV_MAC && d->kind != PT_DEV_IP)
        return -EINVAL;
    make_key(k, d->kind, d->addr);
    if ((e = lru_find(&t->lru, k)) != LRU_NONE) {
        lru_touch(&t->lru, e);
    } else {
        e = lru_insert(&t->lru, k, &ev);
        if (ev)
            PT_CNT_INC(t->st[PT_DEV_ST_EVICTED]);
    }
    t->ent[e].d = *d;
    memcpy(t->ent[e].d.addr, k + 1, 16); /* a MAC's padding is zero */
    t->ent[e].changed &= ON_STACK;
    return 0;
}
