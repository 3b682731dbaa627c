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
#include "pt/flow.h"

struct pt_app_out {
    FILE *out; /* NULL: count only */
    const char (*ifnames)[64];
    unsigned n_ifnames;
    uint16_t arp_iface; /* interface of the ARP packet being fed */
    pt_arp_table *arp;
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

struct pt_app_out *pt_app_out_create(FILE *out, int *err)
{
    struct pt_arp_config ac = PT_ARP_CONFIG_DEFAULT;
    struct pt_dhcp_agg_config dc = PT_DHCP_AGG_ZEEK;
    struct pt_app_out *o = calloc(1, sizeof *o);

    if (!o) {
        *err = -ENOMEM;
        return NULL;
    }
    o->out = out;
    if (!(o->arp = pt_arp_table_create(&ac, arp_event, o, err))) {
        free(o);
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
    free(o);
}

void pt_app_out_rec(struct pt_app_out *o, const struct pt_app_rec *r)
{
    switch (r->kind) {
    case PT_REC_DNS:
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
        pt_dhcp_agg_add(&o->dhcp, &r->dhcp.msg, r->dhcp.src, r->dhcp.dst, r->ts_ns,
                        r->conn.uid64);
        break;
    case PT_REC_ARP:
        o->arp_iface = r->arp.iface;
        pt_arp_table_feed(o->arp, &r->arp.arp, r->ts_ns);
        break;
    }
}

void pt_app_out_conn(struct pt_app_out *o, struct pt_flow_record *r)
{
    (void)o;
    (void)r;
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
    *st = o->st;
}
