/* test_top.c - top-N lists: 1 s round trip, the 1 m merge against one
 * computed here, rewrites. */
#include "store_helpers.h"

TestSuite(store_top, .init = st_setup, .fini = st_teardown);

#define MIN0   1700000040ull /* a whole minute */
#define NHOSTS 20
#define NFLOWS 15
#define PER_S  8
#define TOPN   4

static struct pt_top_host hl[120][PER_S];
static struct pt_top_flow fl[120][PER_S];

/* Second @t's lists: PER_S hosts / flows of the pools, with values unique
 * enough that no two sums tie. */
static void lists_make(void)
{
    memset(hl, 0, sizeof hl);
    memset(fl, 0, sizeof fl);
    for (unsigned t = 0; t < 120; t++) {
        for (unsigned k = 0; k < PER_S; k++) {
            unsigned h = (t * 3 + k * 5) % NHOSTS, f = (t * 2 + k * 7) % NFLOWS;
            st_v4(hl[t][k].addr, 0x0a000100u + h);
            hl[t][k].bytes = 1000000 * (h + 1) + t * 131 + k;
            hl[t][k].pkts = 1000 * ((h * 7) % NHOSTS + 1) + t;
            hl[t][k].flows = 10 * ((h * 13) % NHOSTS + 1) + (t % 3);
            snprintf(fl[t][k].uid, sizeof fl[t][k].uid, "Cflow%u", f);
            st_v6(fl[t][k].orig_h, f);
            st_v4(fl[t][k].resp_h, 0x08080800u + f);
            fl[t][k].orig_p = (uint16_t)(30000 + f);
            fl[t][k].resp_p = 443;
            fl[t][k].vlan = f % 2 ? 7 : 0xffff;
            fl[t][k].proto = 6;
            fl[t][k].ver = 6;
            fl[t][k].bytes = 5000000 * (f + 1) + t * 17 + k;
            fl[t][k].pkts = f + t;
        }
    }
}

static void write_lists(struct pt_store *s, unsigned from, unsigned to)
{
    for (unsigned t = from; t < to; t++) {
        struct pt_store_batch b = {.sec = MIN0 + t,
                                   .hosts = hl[t],
                                   .n_hosts = PER_S,
                                   .tflows = fl[t],
                                   .n_tflows = PER_S,
                                   .top_n = TOPN};
        cr_assert_eq(pt_store_write(s, &b), 0);
    }
}

static void flow_eq(const struct pt_top_flow *a, const struct pt_top_flow *b)
{
    cr_assert_str_eq(a->uid, b->uid);
    cr_assert_arr_eq(a->orig_h, b->orig_h, 16);
    cr_assert_arr_eq(a->resp_h, b->resp_h, 16);
    cr_assert_eq(a->orig_p, b->orig_p);
    cr_assert_eq(a->resp_p, b->resp_p);
    cr_assert_eq(a->vlan, b->vlan);
    cr_assert_eq(a->proto, b->proto);
    cr_assert_eq(a->ver, b->ver);
    cr_assert_eq(a->bytes, b->bytes);
    cr_assert_eq(a->pkts, b->pkts);
}

struct got {
    uint64_t sec[130];
    size_t n[130];
    struct pt_top_host h[130][64];
    struct pt_top_flow f[130][64];
    size_t k;
    unsigned kind;
};

static int got_add(uint64_t sec, const void *ents, size_t n, void *arg)
{
    struct got *g = arg;
    cr_assert_lt(g->k, 130);
    cr_assert_leq(n, 64);
    g->sec[g->k] = sec;
    g->n[g->k] = n;
    if (g->kind == PT_TOP_HOSTS)
        memcpy(g->h[g->k], ents, n * sizeof(struct pt_top_host));
    else
        memcpy(g->f[g->k], ents, n * sizeof(struct pt_top_flow));
    g->k++;
    return 0;
}

Test(store_top, roundtrip_1s)
{
    struct pt_store_config cfg = st_cfg();
    struct pt_store *s = st_open_w(&cfg);
    static struct got g;

    lists_make();
    write_lists(s, 0, 120);
    g = (struct got){.kind = PT_TOP_HOSTS};
    cr_assert_eq(pt_store_top_read(s, PT_TOP_HOSTS, PT_RES_1S, MIN0 + 10, MIN0 + 110, got_add, &g),
                 0);
    cr_assert_eq(g.k, 100);
    for (unsigned i = 0; i < 100; i++) {
        cr_assert_eq(g.sec[i], MIN0 + 10 + i);
        cr_assert_eq(g.n[i], PER_S);
        cr_assert_eq(memcmp(g.h[i], hl[10 + i], sizeof hl[0]), 0, "hosts of second %u", 10 + i);
    }
    g = (struct got){.kind = PT_TOP_FLOWS};
    cr_assert_eq(pt_store_top_read(s, PT_TOP_FLOWS, PT_RES_1S, MIN0, 0, got_add, &g), 0);
    cr_assert_eq(g.k, 120);
    for (unsigned i = 0; i < 120; i++)
        for (unsigned k = 0; k < PER_S; k++)
            flow_eq(&g.f[i][k], &fl[i][k]);
    cr_assert_eq(pt_store_top_read(s, PT_TOP_FLOWS, PT_RES_1H, MIN0, 0, got_add, &g), PT_E_BADARG);
    pt_store_close(s);
}

/* Descending, ties by address (store.h). */
static int host_cmp_bytes(const void *a, const void *b)
{
    const struct pt_top_host *x = a, *y = b;
    if (x->bytes != y->bytes)
        return x->bytes > y->bytes ? -1 : 1;
    return memcmp(x->addr, y->addr, 16);
}

static int host_cmp_pkts(const void *a, const void *b)
{
    const struct pt_top_host *x = a, *y = b;
    if (x->pkts != y->pkts)
        return x->pkts > y->pkts ? -1 : 1;
    return memcmp(x->addr, y->addr, 16);
}

static int host_cmp_flows(const void *a, const void *b)
{
    const struct pt_top_host *x = a, *y = b;
    if (x->flows != y->flows)
        return x->flows > y->flows ? -1 : 1;
    return memcmp(x->addr, y->addr, 16);
}

static int flow_cmp_bytes(const void *a, const void *b)
{
    const struct pt_top_flow *x = a, *y = b;
    return x->bytes > y->bytes ? -1 : x->bytes < y->bytes;
}

Test(store_top, merge_1m)
{
    struct pt_store_config cfg = st_cfg();
    struct pt_store *s = st_open_w(&cfg);
    static struct got g;
    struct pt_top_host sum[NHOSTS] = {0}, tmp[NHOSTS];
    struct pt_top_flow fsum[NFLOWS] = {0};
    bool keep[NHOSTS] = {false};

    lists_make();
    write_lists(s, 0, 61); /* minute 0 and the first second of minute 1 */
    /* expected: sums per host / flow over minute 0 */
    for (unsigned t = 0; t < 60; t++) {
        for (unsigned k = 0; k < PER_S; k++) {
            unsigned h = hl[t][k].addr[15];
            memcpy(sum[h].addr, hl[t][k].addr, 16);
            sum[h].bytes += hl[t][k].bytes;
            sum[h].pkts += hl[t][k].pkts;
            sum[h].flows += hl[t][k].flows;
            unsigned f = fl[t][k].orig_p - 30000;
            if (!fsum[f].uid[0])
                fsum[f] = fl[t][k], fsum[f].bytes = fsum[f].pkts = 0;
            fsum[f].bytes += fl[t][k].bytes;
            fsum[f].pkts += fl[t][k].pkts;
        }
    }
    int (*by[3])(const void *, const void *) = {host_cmp_bytes, host_cmp_pkts, host_cmp_flows};
    for (int m = 0; m < 3; m++) {
        memcpy(tmp, sum, sizeof tmp);
        qsort(tmp, NHOSTS, sizeof *tmp, by[m]);
        for (int i = 0; i < TOPN; i++)
            keep[tmp[i].addr[15]] = true;
    }
    size_t nk = 0;
    for (int h = 0; h < NHOSTS; h++)
        if (keep[h])
            tmp[nk++] = sum[h];
    qsort(tmp, nk, sizeof *tmp, host_cmp_bytes);
    cr_assert_gt(nk, TOPN, "the union is larger than one top list");

    g = (struct got){.kind = PT_TOP_HOSTS};
    cr_assert_eq(pt_store_top_read(s, PT_TOP_HOSTS, PT_RES_1M, MIN0, 0, got_add, &g), 0);
    cr_assert_eq(g.k, 1, "minute 1 is not merged yet");
    cr_assert_eq(g.sec[0], MIN0);
    cr_assert_eq(g.n[0], nk);
    for (size_t i = 0; i < nk; i++) {
        cr_assert_arr_eq(g.h[0][i].addr, tmp[i].addr, 16, "host %zu", i);
        cr_assert_eq(g.h[0][i].bytes, tmp[i].bytes);
        cr_assert_eq(g.h[0][i].pkts, tmp[i].pkts);
        cr_assert_eq(g.h[0][i].flows, tmp[i].flows);
    }

    qsort(fsum, NFLOWS, sizeof *fsum, flow_cmp_bytes);
    g = (struct got){.kind = PT_TOP_FLOWS};
    cr_assert_eq(pt_store_top_read(s, PT_TOP_FLOWS, PT_RES_1M, MIN0, 0, got_add, &g), 0);
    cr_assert_eq(g.k, 1);
    cr_assert_eq(g.n[0], TOPN);
    for (size_t i = 0; i < TOPN; i++)
        flow_eq(&g.f[0][i], &fsum[i]);

    /* finish merges the partial minute 1 (one second) */
    cr_assert_eq(pt_store_finish(s), 0);
    g = (struct got){.kind = PT_TOP_FLOWS};
    cr_assert_eq(pt_store_top_read(s, PT_TOP_FLOWS, PT_RES_1M, MIN0, 0, got_add, &g), 0);
    cr_assert_eq(g.k, 2);
    cr_assert_eq(g.sec[1], MIN0 + 60);
    cr_assert_eq(g.n[1], TOPN);
    struct pt_top_flow one[PER_S];
    memcpy(one, fl[60], sizeof one);
    qsort(one, PER_S, sizeof *one, flow_cmp_bytes);
    for (size_t i = 0; i < TOPN; i++)
        flow_eq(&g.f[1][i], &one[i]);
    pt_store_close(s);
}

Test(store_top, rewrite_replaces_lists)
{
    struct pt_store_config cfg = st_cfg();
    struct pt_store *s = st_open_w(&cfg);
    static struct got g;

    lists_make();
    write_lists(s, 0, 3);
    /* second 1 again: two hosts, no flows */
    struct pt_store_batch b = {.sec = MIN0 + 1, .hosts = hl[50], .n_hosts = 2, .top_n = TOPN};
    cr_assert_eq(pt_store_write(s, &b), 0);
    g = (struct got){.kind = PT_TOP_HOSTS};
    cr_assert_eq(pt_store_top_read(s, PT_TOP_HOSTS, PT_RES_1S, MIN0 + 1, MIN0 + 2, got_add, &g), 0);
    cr_assert_eq(g.k, 1);
    cr_assert_eq(g.n[0], 2);
    cr_assert_eq(memcmp(g.h[0], hl[50], 2 * sizeof hl[0][0]), 0);
    g = (struct got){.kind = PT_TOP_FLOWS};
    cr_assert_eq(pt_store_top_read(s, PT_TOP_FLOWS, PT_RES_1S, MIN0, 0, got_add, &g), 0);
    cr_assert_eq(g.k, 2, "second 1's flow list is gone");
    cr_assert_eq(g.sec[0], MIN0);
    cr_assert_eq(g.sec[1], MIN0 + 2);
    pt_store_close(s);
}
