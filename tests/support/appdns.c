/* appdns.c - see appdns.h. */
#include <criterion/criterion.h>

#include <stdlib.h>
#include <string.h>

#include "support/appdns.h"
#include "support/streams.h"

struct msg {
    uint32_t frame;
    uint64_t ts;
    size_t conn;
    unsigned dir;
    const uint8_t *data;
    uint32_t len;
};

struct ctx {
    struct pt_test_dns *v;
    size_t n, cap;
    const struct pt_test_conn *k;
    uint64_t now;
    uint32_t frame;
};

static int msg_cmp(const void *a, const void *b)
{
    const struct msg *x = a, *y = b;

    return x->frame < y->frame ? -1 : x->frame > y->frame;
}

static void collect(void *arg, const struct pt_dns_txn *txn, const struct pt_dns_msg *resp)
{
    struct ctx *c = arg;
    struct pt_test_dns *t;

    if (c->n == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 64;
        c->v = realloc(c->v, c->cap * sizeof *c->v);
        cr_assert_not_null(c->v);
    }
    t = &c->v[c->n++];
    memset(t, 0, sizeof *t);
    t->dns.txn = *txn;
    t->ts_ns = txn->ts_ns;
    t->done_ns = c->now;
    t->frame = c->frame;
    memcpy(t->conn.orig_h, c->k->addr[0], 16);
    memcpy(t->conn.resp_h, c->k->addr[1], 16);
    t->conn.orig_p = c->k->port[0];
    t->conn.resp_p = c->k->port[1];
    t->conn.proto = 17;
    t->conn.ver = c->k->ver;
    for (unsigned i = 0; resp && i < resp->n_rr && t->dns.n_addrs < PT_APP_DNS_ADDRS; i++) {
        const struct pt_dns_rr *rr = &resp->rr[i];
        if (rr->section != PT_DNS_SEC_ANSWER || !rr->addr_ver)
            continue;
        t->dns.addr_ver[t->dns.n_addrs] = rr->addr_ver;
        t->dns.addr_ttl[t->dns.n_addrs] = rr->ttl;
        memcpy(t->dns.addr[t->dns.n_addrs], rr->addr, 16);
        t->dns.n_addrs++;
    }
}

void pt_test_dns_load(const char *rel, uint16_t port, struct pt_test_dns **out, size_t *n)
{
    struct pt_test_conns cs;
    struct msg *m = NULL;
    size_t nm = 0, cap = 0;
    struct pt_dns_flow *fl;
    static struct pt_dns_msg scratch;
    struct pt_dns_stats st;
    struct ctx c = {0};

    pt_test_conns_load(&cs, rel);
    for (size_t i = 0; i < cs.n; i++) {
        const struct pt_test_conn *k = &cs.conn[i];
        if (k->proto != 17 || (k->port[0] != port && k->port[1] != port))
            continue;
        for (unsigned d = 0; d < 2; d++)
            for (size_t s = 0; s < k->n_seg[d]; s++) {
                if (nm == cap) {
                    cap = cap ? 2 * cap : 64;
                    m = realloc(m, cap * sizeof *m);
                    cr_assert_not_null(m);
                }
                m[nm++] = (struct msg){.frame = k->seg[d][s].frame,
                                       .ts = k->seg[d][s].ts_ns,
                                       .conn = i,
                                       .dir = d,
                                       .data = k->seg[d][s].data,
                                       .len = k->seg[d][s].len};
            }
    }
    qsort(m, nm, sizeof *m, msg_cmp);
    fl = calloc(cs.n ? cs.n : 1, sizeof *fl);
    cr_assert_not_null(fl);
    for (size_t i = 0; i < cs.n; i++)
        pt_dns_flow_init(&fl[i]);
    pt_dns_stats_init(&st);
    for (size_t i = 0; i < nm; i++) {
        uint8_t *copy = malloc(m[i].len ? m[i].len : 1); /* exact size: ASan sees over-reads */
        cr_assert_not_null(copy);
        memcpy(copy, m[i].data, m[i].len);
        c.k = &cs.conn[m[i].conn];
        c.now = m[i].ts;
        c.frame = m[i].frame;
        pt_dns_flow_feed(&fl[m[i].conn], &scratch, m[i].dir, m[i].ts, copy, m[i].len, collect, &c,
                         &st);
        free(copy);
    }
    for (size_t i = 0; i < cs.n; i++) {
        c.k = &cs.conn[i];
        c.frame = UINT32_MAX;
        pt_dns_flow_flush(&fl[i], collect, &c, &st);
    }
    free(fl);
    free(m);
    pt_test_conns_free(&cs);
    *out = c.v;
    *n = c.n;
}
