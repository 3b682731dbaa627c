/* out.c - the record thread's part of the application layer
 * (include/pt/app.h "the record thread"; docs/APP.md).
 *
 * DESIGN: one instance per run, used by the one thread that expires flows
 * (the offline driver, or the live aggregation thread), so nothing here is
 * shared: the DHCP aggregator and the ARP table are plain single-threaded
 * structures. A write error is counted and the run goes on (the conn
 * records' writer reports the output's failure). */
#include "pt/app.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pt/agg.h"
#include "pt/arp.h"
#include "pt/devices.h"
#include "pt/enrich.h"
#include "pt/flow.h"
#include "pt/store.h"

#include <unistd.h>

#define DEV_BATCH 256 /* device entries per store put */

struct pt_app_out {
    FILE *out; /* NULL: count only */
    const char (*ifnames)[64];
    unsigned n_ifnames;
    uint16_t arp_iface; /* interface of the ARP packet being fed */
    pt_arp_table *arp;
    struct pt_names *names;
    struct pt_geo *geo; /* NULL when no database is open */
    struct pt_geo_cache *geo_cache;
    struct pt_app_out_stats st;
    struct pt_dhcp_agg dhcp;
    /* the device table, from the store's open to the end (NULL without a store) */
    struct pt_devices *dev;
    struct pt_oui *oui;
    uint32_t dev_cap;
    const char *oui_dir;
    uint64_t dev_now_ns;       /* latest record time fed: the close's save time */
    uint64_t dev_err_log_ns;   /* wall clock of the last save error logged */
    struct pt_device *dev_buf; /* DEV_BATCH entries */
};

static void count_write(struct pt_app_out *o, unsigned kind, int rc)
{
    if (rc < 0)
        o->st.write_errors++;
    else
        o->st.written[kind]++;
}

static void dhcp_done(const struct pt_dhcp_rec *r, void *arg)
{
    struct pt_app_out *o = arg;

    count_write(o, PT_REC_DHCP, o->out ? pt_app_dhcp_write(o->out, r) : 0);
}

static void arp_event(const struct pt_arp_event *ev, void *arg)
{
    struct pt_app_out *o = arg;
    const char *name = o->ifnames && o->arp_iface < o->n_ifnames ? o->ifnames[o->arp_iface] : NULL;

    count_write(o, PT_REC_ARP, o->out ? pt_app_arp_write(o->out, ev, name) : 0);
}

void pt_app_out_set_ifnames(struct pt_app_out *o, const char (*names)[64], unsigned n)
{
    o->ifnames = names;
    o->n_ifnames = n;
}

/* @path, or the default one in PT_GEOIP_DIR when @path is NULL and it exists. */
static const char *geo_path(const char *path, const char *name, char *buf, size_t cap)
{
    if (path)
        return path;
    snprintf(buf, cap, "%s/%s", PT_GEOIP_DIR, name);
    return access(buf, R_OK) == 0 ? buf : "";
}

static int geo_open(struct pt_app_out *o, const struct pt_app_out_config *cfg)
{
    char lbuf[512], abuf[512], lerr[PT_GEO_ERR_MAX], aerr[PT_GEO_ERR_MAX];
    const char *loc = geo_path(cfg ? cfg->geo_loc : NULL, "GeoLite2-City.mmdb", lbuf, sizeof lbuf);
    const char *asn = geo_path(cfg ? cfg->geo_asn : NULL, "GeoLite2-ASN.mmdb", abuf, sizeof abuf);
    int err = 0;

    if (!*loc && !*asn)
        return 0;
    if (!(o->geo = pt_geo_create(loc, asn, lerr, aerr)))
        return -ENOMEM;
    if (lerr[0])
        pt_log(PT_LOG_WARN, "%s; running without it", lerr);
    if (aerr[0])
        pt_log(PT_LOG_WARN, "%s; running without it", aerr);
    if (!pt_geo_has_loc(o->geo) && !pt_geo_has_asn(o->geo)) {
        pt_geo_destroy(o->geo);
        o->geo = NULL;
        return 0;
    }
    pt_log(PT_LOG_INFO, "GeoIP: location %s, ASN %s",
           pt_geo_has_loc(o->geo) ? pt_geo_loc_type(o->geo) : "none",
           pt_geo_has_asn(o->geo) ? pt_geo_asn_type(o->geo) : "none");
    if (!(o->geo_cache = pt_geo_cache_create(4096, &err)))
        return err;
    return 0;
}

struct pt_app_out *pt_app_out_create(FILE *out, const struct pt_app_out_config *cfg, int *err)
{
    struct pt_arp_config ac = PT_ARP_CONFIG_DEFAULT;
    struct pt_dhcp_agg_config dc = PT_DHCP_AGG_ZEEK;
    struct pt_app_out *o = calloc(1, sizeof *o);

    if (!o) {
        *err = -ENOMEM;
        return NULL;
    }
    o->out = out;
    o->dev_cap = cfg && cfg->devices ? cfg->devices : PT_DEV_DEFAULT;
    o->oui_dir = cfg ? cfg->oui_dir : NULL;
    if (!(o->arp = pt_arp_table_create(&ac, arp_event, o, err)) ||
        !(o->names = pt_names_create(cfg ? cfg->dns_names : 0, err)) ||
        (*err = geo_open(o, cfg)) < 0) {
        pt_app_out_destroy(o);
        return NULL;
    }
    pt_dhcp_agg_init(&o->dhcp, &dc, dhcp_done, o, &o->st.dhcp);
    return o;
}

void pt_app_out_destroy(struct pt_app_out *o)
{
    if (!o)
        return;
    pt_arp_table_destroy(o->arp);
    pt_names_destroy(o->names);
    pt_geo_cache_destroy(o->geo_cache);
    pt_geo_destroy(o->geo);
    pt_devices_destroy(o->dev);
    pt_oui_destroy(o->oui);
    free(o->dev_buf);
    free(o);
}

/* The device table is fed (a store run): note @ts_ns as the latest record time. */
static bool dev_feed(struct pt_app_out *o, uint64_t ts_ns)
{
    if (!o->dev)
        return false;
    if (ts_ns > o->dev_now_ns)
        o->dev_now_ns = ts_ns;
    return true;
}

void pt_app_out_rec(struct pt_app_out *o, const struct pt_app_rec *r)
{
    bool dev = dev_feed(o, r->ts_ns);

    switch (r->kind) {
    case PT_REC_DNS:
        if (dev)
            pt_devices_dns(o->dev, &r->conn, &r->dns, r->ts_ns);
        pt_names_learn(o->names, &r->dns, r->ts_ns);
        count_write(o, PT_REC_DNS, o->out ? pt_app_dns_write(o->out, &r->conn, &r->dns) : 0);
        break;
    case PT_REC_HTTP:
        count_write(o, PT_REC_HTTP, o->out ? pt_app_http_write(o->out, &r->conn, &r->http) : 0);
        break;
    case PT_REC_SSL:
        count_write(o, PT_REC_SSL,
                    o->out ? pt_app_ssl_write(o->out, &r->conn, r->ts_ns, &r->ssl) : 0);
        break;
    case PT_REC_DHCP:
        if (dev)
            pt_devices_dhcp(o->dev, &r->dhcp, r->ts_ns);
        pt_dhcp_agg_add(&o->dhcp, &r->dhcp.msg, r->dhcp.src, r->dhcp.dst, r->ts_ns, r->conn.uid64);
        break;
    case PT_REC_ARP:
        if (dev)
            pt_devices_arp(o->dev, &r->arp.arp, r->ts_ns);
        o->arp_iface = r->arp.iface;
        pt_arp_table_feed(o->arp, &r->arp.arp, r->ts_ns);
        break;
    }
}

void pt_app_out_conn(struct pt_app_out *o, struct pt_flow_record *r)
{
    pt_names_fill(o->names, r);
    if (o->geo && pt_geo_fill_record(o->geo, o->geo_cache, r) > 0)
        o->st.geo_corrupt++;
    if (dev_feed(o, r->last_ns > r->ts_ns ? r->last_ns : r->ts_ns))
        pt_devices_conn(o->dev, r);
}

void pt_app_out_tick(struct pt_app_out *o, uint64_t now_ns)
{
    pt_dhcp_agg_expire(&o->dhcp, now_ns);
}

void pt_app_out_finish(struct pt_app_out *o)
{
    pt_dhcp_agg_flush(&o->dhcp);
}

void pt_app_out_stats(const struct pt_app_out *o, struct pt_app_out_stats *st)
{
    const uint64_t *n = pt_names_stats(o->names);

    *st = o->st;
    st->names_learned = PT_CNT_GET(n[PT_NAMES_ST_LEARNED]);
    st->names_hits = PT_CNT_GET(n[PT_NAMES_ST_HITS]);
    st->names_evicted = PT_CNT_GET(n[PT_NAMES_ST_EVICTED]);
    if (o->dev) {
        st->devices = pt_devices_count(o->dev);
        st->devices_evicted = PT_CNT_GET(pt_devices_stats(o->dev)[PT_DEV_ST_EVICTED]);
    }
}

/* ---- the device table and the store ---- */

struct dev_vec {
    struct pt_device *v;
    size_t n, cap;
};

static int dev_collect(const struct pt_device *d, void *arg)
{
    struct dev_vec *dv = arg;

    if (dv->n == dv->cap) {
        size_t nc = dv->cap ? dv->cap * 2 : 1024;
        struct pt_device *nv = realloc(dv->v, nc * sizeof *nv);
        if (!nv)
            return -ENOMEM; /* stops the walk: pt_store_hosts_read() returns it */
        dv->v = nv;
        dv->cap = nc;
    }
    dv->v[dv->n++] = *d;
    return 0;
}

static int dev_cmp_last(const void *x, const void *y)
{
    const struct pt_device *a = x, *b = y;

    return (a->last_ns > b->last_ns) - (a->last_ns < b->last_ns);
}

/* Put back what earlier runs saved: oldest first, so that the table keeps
 * the most recently seen when the store holds more than it can. */
static void dev_restore(struct pt_app_out *o, struct pt_store *s)
{
    struct dev_vec dv = {0};
    int rc = pt_store_hosts_read(s, dev_collect, &dv);
    size_t from;

    if (rc < 0) {
        pt_log(PT_LOG_WARN, "devices: cannot read the store's hosts: %s; starting empty",
               pt_strerror(rc));
        free(dv.v);
        return;
    }
    if (dv.n)
        qsort(dv.v, dv.n, sizeof *dv.v, dev_cmp_last);
    from = dv.n > o->dev_cap ? dv.n - o->dev_cap : 0;
    for (size_t i = from; i < dv.n; i++)
        if (pt_devices_restore(o->dev, &dv.v[i]) == 0)
            o->st.devices_restored++;
    if (dv.n)
        pt_log(PT_LOG_INFO, "devices: %llu restored from the store (%zu stored)",
               (unsigned long long)o->st.devices_restored, dv.n);
    free(dv.v);
}

static void hook_open(struct pt_store *s, void *arg)
{
    struct pt_app_out *o = arg;
    struct pt_devices_config dc = {.capacity = o->dev_cap};
    char err[PT_OUI_ERR_MAX];
    int rc;

    if (!(o->oui = pt_oui_create(o->oui_dir, err)))
        pt_log(PT_LOG_WARN, "%s; device vendors unknown", err);
    o->dev_buf = malloc(DEV_BATCH * sizeof *o->dev_buf);
    if (!o->dev_buf || !(o->dev = pt_devices_create(&dc, o->oui, &rc))) {
        pt_log(PT_LOG_ERR, "devices: cannot create the table of %u entries: %s; no device table",
               o->dev_cap, pt_strerror(o->dev_buf ? rc : -ENOMEM));
        return;
    }
    dev_restore(o, s);
}

static void dev_save(struct pt_app_out *o, struct pt_store *s, uint64_t now_ns, bool force)
{
    size_t n;
    int rc;

    if (!o->dev || !pt_devices_save_due(o->dev, now_ns, force))
        return;
    while ((n = pt_devices_take_changed(o->dev, o->dev_buf, DEV_BATCH)) > 0) {
        if ((rc = pt_store_hosts_put(s, o->dev_buf, n)) == 0) {
            o->st.devices_saved += n;
            continue;
        }
        o->st.devices_lost += n;
        uint64_t wall = pt_now_ns();
        if (!o->dev_err_log_ns || wall - o->dev_err_log_ns >= 60ull * 1000000000ull) {
            o->dev_err_log_ns = wall;
            pt_log(PT_LOG_ERR, "devices: %zu entries not saved: %s (%llu lost so far)", n,
                   pt_strerror(rc), (unsigned long long)o->st.devices_lost);
        }
    }
}

static void hook_tick(struct pt_store *s, uint64_t now_ns, void *arg)
{
    dev_save(arg, s, now_ns, false);
}

static void hook_close(struct pt_store *s, void *arg)
{
    struct pt_app_out *o = arg;

    dev_save(o, s, o->dev_now_ns, true);
}

void pt_app_out_store_hook(struct pt_app_out *o, struct pt_agg_hook *h)
{
    h->open = hook_open;
    h->tick = hook_tick;
    h->close = hook_close;
    h->arg = o;
}
