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

#include "pt/arp.h"
#include "pt/enrich.h"
#include "pt/flow.h"

#include <unistd.h>

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
    free(o);
}

void pt_app_out_rec(struct pt_app_out *o, const struct pt_app_rec *r)
{
    switch (r->kind) {
    case PT_REC_DNS:
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
        pt_dhcp_agg_add(&o->dhcp, &r->dhcp.msg, r->dhcp.src, r->dhcp.dst, r->ts_ns, r->conn.uid64);
        break;
    case PT_REC_ARP:
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
}
