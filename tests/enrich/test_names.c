/* test_names.c - the DNS IP -> name cache (src/enrich/names.c).
 *
 * DESIGN
 *  1. names_tshark/<capture>: the shared captures' DNS transactions
 *     (tests/support/appdns.h: the real parser, frame order) are learnt one
 *     by one; right after each response, every address tshark lists in that
 *     response's answer section (tests/expected/<cat>/<file>.dns.tsv,
 *     gen-expected-dns.sh: the first count.answers of resp.type, taking
 *     dns.a / dns.aaaa in order) must look up to tshark's qry.name, and the
 *     number of checked addresses must equal tshark's.
 *  2. names_lru, names_ttl, names_skip: hand-built transactions with exact
 *     counts for eviction, expiry at the clamped TTL in record time, and
 *     what is not learnt.
 *  3. names_geo: pt_geo_fill_record() against the MaxMind test databases'
 *     source JSON answers (2.125.160.216 -> GB; 1.128.0.0 -> AS1221). */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pt/app.h"
#include "pt/enrich.h"
#include "support/appdns.h"
#include "support/support.h"
#include "tsv.h"

#define SEC 1000000000ull

static void addr_parse(const char *s, uint8_t a[16])
{
    memset(a, 0, 16);
    if (inet_pton(AF_INET6, s, a) == 1)
        return;
    a[10] = a[11] = 0xff;
    cr_assert_eq(inet_pton(AF_INET, s, a + 12), 1, "bad address %s", s);
}

/* ---- 1. against tshark ---- */

/* The answer-section addresses of tshark row @r into @out; returns how many. */
static size_t tshark_answers(const struct tsv *t, char **r, char out[][64], size_t max)
{
    char types[2048], as[4096], aaaas[4096], *ty[64], *a4[64], *a6[64];
    size_t nt, n4 = 0, n6 = 0, i4 = 0, i6 = 0, n = 0;
    unsigned long an = strtoul(r[tsv_col(t, "dns.count.answers")], NULL, 10);

    snprintf(types, sizeof types, "%s", r[tsv_col(t, "dns.resp.type")]);
    snprintf(as, sizeof as, "%s", r[tsv_col(t, "dns.a")]);
    snprintf(aaaas, sizeof aaaas, "%s", r[tsv_col(t, "dns.aaaa")]);
    nt = types[0] ? tsv_split(types, ',', ty, 64) : 0;
    if (as[0])
        n4 = tsv_split(as, ',', a4, 64);
    if (aaaas[0])
        n6 = tsv_split(aaaas, ',', a6, 64);
    for (size_t i = 0; i < nt && i < an && n < max; i++) {
        if (strcmp(ty[i], "1") == 0 && i4 < n4)
            snprintf(out[n++], 64, "%s", a4[i4++]);
        else if (strcmp(ty[i], "28") == 0 && i6 < n6)
            snprintf(out[n++], 64, "%s", a6[i6++]);
    }
    return n;
}

static void check_capture(const char *pcap, const char *tsvrel)
{
    struct pt_test_dns *v;
    size_t nv, checked = 0, expected = 0;
    struct tsv t;
    struct pt_names *c;
    int err;

    pt_test_dns_load(pcap, 53, &v, &nv);
    tsv_load(&t, tsvrel);
    cr_assert_not_null(c = pt_names_create(0, &err));
    size_t cf = tsv_col(&t, "frame.number"), cr = tsv_col(&t, "dns.flags.response"),
           cc = tsv_col(&t, "dns.flags.rcode"), cq = tsv_col(&t, "dns.qry.name");
    for (size_t i = 0; i < t.n; i++) {
        char addrs[PT_APP_DNS_ADDRS][64];
        char **r = t.row[i];
        size_t na;

        if (strcmp(r[cr], "1") != 0 || (r[cc][0] && strcmp(r[cc], "0") != 0))
            continue;
        na = tshark_answers(&t, r, addrs, PT_APP_DNS_ADDRS);
        if (!na)
            continue;
        expected += na;
        /* the transaction the response at this frame finished */
        uint32_t frame = (uint32_t)strtoul(r[cf], NULL, 10);
        const struct pt_test_dns *x = NULL;
        for (size_t j = 0; j < nv; j++)
            if (v[j].frame == frame)
                x = &v[j];
        cr_assert_not_null(x, "%s: no transaction finished at frame %u", pcap, frame);
        cr_assert_eq(pt_names_learn(c, &x->dns, x->ts_ns), na, "%s frame %u", pcap, frame);
        for (size_t k = 0; k < na; k++) {
            uint8_t a[16];
            char name[PT_FQDN_MAX];

            addr_parse(addrs[k], a);
            cr_assert(pt_names_lookup(c, a, x->done_ns, name), "%s frame %u: %s not found", pcap,
                      frame, addrs[k]);
            cr_assert_eq(strcasecmp(name, r[cq]), 0, "%s frame %u: %s is %s, tshark %s", pcap,
                         frame, addrs[k], name, r[cq]);
            checked++;
        }
    }
    cr_assert_gt(expected, 0, "%s: no answers to check", pcap);
    cr_assert_eq(checked, expected);
    cr_assert_eq(pt_names_stats(c)[PT_NAMES_ST_EVICTED], 0);
    pt_names_destroy(c);
    tsv_free(&t);
    free(v);
}

Test(names_tshark, tcpdump_dns_udp)
{
    check_capture("pcap/dns/tcpdump_dns_udp.pcap", "dns/tcpdump_dns_udp.pcap.dns.tsv");
}

Test(names_tshark, arkime_dns_udp)
{
    check_capture("pcap/dns/arkime_dns-udp.pcap", "dns/arkime_dns-udp.pcap.dns.tsv");
}

Test(names_tshark, zeek_dns_two_responses)
{
    check_capture("pcap/dns/zeek_dns-two-responses.pcap",
                  "dns/zeek_dns-two-responses.pcap.dns.tsv");
}

Test(names_tshark, zeek_wikipedia)
{
    check_capture("pcap/mixed/zeek_wikipedia.pcap", "mixed/zeek_wikipedia.pcap.dns.tsv");
}

Test(names_tshark, ndpi_1kxun)
{
    check_capture("pcap/mixed/ndpi_1kxun.pcap", "mixed/ndpi_1kxun.pcap.dns.tsv");
}

/* ---- 2. hand-built ---- */

static void mk(struct pt_app_dns *d, const char *name, unsigned n, uint8_t first, uint32_t ttl)
{
    memset(d, 0, sizeof *d);
    d->txn.has_query = true;
    snprintf(d->txn.query, sizeof d->txn.query, "%s", name);
    d->txn.query_len = (uint16_t)strlen(name);
    d->n_addrs = (uint8_t)n;
    for (unsigned i = 0; i < n; i++) {
        uint8_t a4[4] = {192, 0, 2, (uint8_t)(first + i)};
        d->addr_ver[i] = 4;
        d->addr_ttl[i] = ttl;
        d->addr[i][10] = d->addr[i][11] = 0xff;
        memcpy(d->addr[i] + 12, a4, 4);
    }
}

static bool has(struct pt_names *c, uint8_t last, uint64_t now, char *name)
{
    uint8_t a[16] = {[10] = 0xff, [11] = 0xff, [12] = 192, [13] = 0, [14] = 2, [15] = last};
    char buf[PT_FQDN_MAX];

    return pt_names_lookup(c, a, now, name ? name : buf);
}

Test(names_lru, evicts_least_recently_used_exactly)
{
    struct pt_app_dns d;
    struct pt_names *c;
    int err;

    cr_assert_not_null(c = pt_names_create(4, &err));
    mk(&d, "a.example", 4, 1, 300); /* .1 .. .4 */
    cr_assert_eq(pt_names_learn(c, &d, 0), 4);
    cr_assert(has(c, 1, 1, NULL));  /* .1 used: .2 is now the oldest */
    mk(&d, "b.example", 2, 5, 300); /* .5 .6 evict .2 then .3 */
    cr_assert_eq(pt_names_learn(c, &d, 2), 2);
    cr_assert_eq(pt_names_count(c), 4);
    cr_assert_eq(pt_names_stats(c)[PT_NAMES_ST_EVICTED], 2);
    cr_assert(has(c, 1, 3, NULL));
    cr_assert_not(has(c, 2, 3, NULL));
    cr_assert_not(has(c, 3, 3, NULL));
    cr_assert(has(c, 4, 3, NULL));
    char name[PT_FQDN_MAX];
    cr_assert(has(c, 6, 3, name));
    cr_assert_str_eq(name, "b.example");
    /* relearning a known address replaces, never evicts */
    mk(&d, "c.example", 1, 4, 300);
    cr_assert_eq(pt_names_learn(c, &d, 4), 1);
    cr_assert_eq(pt_names_stats(c)[PT_NAMES_ST_EVICTED], 2);
    cr_assert_eq(pt_names_stats(c)[PT_NAMES_ST_REPLACED], 1);
    cr_assert(has(c, 4, 5, name));
    cr_assert_str_eq(name, "c.example");
    pt_names_destroy(c);
}

Test(names_lru, many_evictions_keep_lookups_exact)
{
    struct pt_names *c;
    struct pt_app_dns d;
    int err;

    /* 1000 addresses through 64 entries: the index must survive 936
     * backward-shift deletions and still find exactly the newest 64. */
    cr_assert_not_null(c = pt_names_create(64, &err));
    for (unsigned i = 0; i < 1000; i++) {
        memset(&d, 0, sizeof d);
        d.txn.has_query = true;
        snprintf(d.txn.query, sizeof d.txn.query, "h%u.example", i);
        d.n_addrs = 1;
        d.addr_ttl[0] = 300;
        d.addr[0][10] = d.addr[0][11] = 0xff;
        d.addr[0][12] = 10;
        d.addr[0][13] = (uint8_t)(i >> 8);
        d.addr[0][14] = (uint8_t)i;
        d.addr[0][15] = 1;
        pt_names_learn(c, &d, 0);
    }
    cr_assert_eq(pt_names_stats(c)[PT_NAMES_ST_EVICTED], 1000 - 64);
    for (unsigned i = 0; i < 1000; i++) {
        uint8_t a[16] = {[10] = 0xff,       [11] = 0xff, [12] = 10, [13] = (uint8_t)(i >> 8),
                         [14] = (uint8_t)i, [15] = 1};
        char name[PT_FQDN_MAX], want[32];
        bool hit = pt_names_lookup(c, a, 1, name);
        cr_assert_eq(hit, i >= 1000 - 64, "address %u", i);
        snprintf(want, sizeof want, "h%u.example", i);
        if (hit)
            cr_assert_str_eq(name, want);
    }
    pt_names_destroy(c);
}

Test(names_ttl, expires_at_clamped_ttl_in_record_time)
{
    struct pt_app_dns d;
    struct pt_names *c;
    uint64_t t0 = 1700000000ull * SEC;
    int err;

    cr_assert_not_null(c = pt_names_create(16, &err));
    mk(&d, "short.example", 1, 1, 5); /* TTL 5 s: kept 60 s */
    pt_names_learn(c, &d, t0);
    mk(&d, "long.example", 1, 2, 7 * 86400); /* 7 days: kept 24 h */
    pt_names_learn(c, &d, t0);
    mk(&d, "mid.example", 1, 3, 300);
    pt_names_learn(c, &d, t0);
    cr_assert(has(c, 1, t0 + 60 * SEC - 1, NULL));
    cr_assert_not(has(c, 1, t0 + 60 * SEC, NULL));
    cr_assert_eq(pt_names_stats(c)[PT_NAMES_ST_EXPIRED], 1);
    cr_assert(has(c, 3, t0 + 300 * SEC - 1, NULL));
    cr_assert(has(c, 2, t0 + 86400 * SEC - 1, NULL));
    cr_assert_not(has(c, 2, t0 + 86400 * SEC, NULL));
    cr_assert_not(has(c, 3, t0 + 86400 * SEC, NULL));
    cr_assert_eq(pt_names_stats(c)[PT_NAMES_ST_EXPIRED], 3);
    cr_assert_eq(pt_names_count(c), 0);
    /* a miss on a dropped entry is a plain miss, not a second expiry */
    cr_assert_not(has(c, 1, t0, NULL));
    cr_assert_eq(pt_names_stats(c)[PT_NAMES_ST_EXPIRED], 3);
    pt_names_destroy(c);
}

Test(names_skip, reverse_truncated_and_nameless_are_not_learnt)
{
    struct pt_app_dns d;
    struct pt_names *c;
    int err;

    cr_assert_not_null(c = pt_names_create(16, &err));
    mk(&d, "1.2.0.192.in-addr.arpa", 1, 1, 300);
    cr_assert_eq(pt_names_learn(c, &d, 0), 0);
    mk(&d, "1.e.6.0.ip6.ARPA.", 1, 1, 300);
    cr_assert_eq(pt_names_learn(c, &d, 0), 0);
    mk(&d, "cut.example", 1, 1, 300);
    d.txn.query_trunc = true;
    cr_assert_eq(pt_names_learn(c, &d, 0), 0);
    mk(&d, "", 1, 1, 300);
    d.txn.has_query = false;
    cr_assert_eq(pt_names_learn(c, &d, 0), 0);
    cr_assert_eq(pt_names_stats(c)[PT_NAMES_ST_SKIPPED], 4);
    mk(&d, "notarpa.example", 1, 1, 300); /* ends in "arpa" but not the label */
    cr_assert_eq(pt_names_learn(c, &d, 0), 1);
    cr_assert_eq(pt_names_count(c), 1);
    pt_names_destroy(c);
}

Test(names_fill, conn_record_gets_both_names_as_of_its_start)
{
    struct pt_app_dns d;
    struct pt_names *c;
    struct pt_flow_record r;
    uint64_t t0 = 1000 * SEC;
    int err;

    cr_assert_not_null(c = pt_names_create(16, &err));
    mk(&d, "server.example", 1, 9, 60);
    pt_names_learn(c, &d, t0);
    memset(&r, 0, sizeof r);
    r.orig_h[10] = r.orig_h[11] = 0xff;
    r.orig_h[12] = 10;
    r.orig_h[15] = 5;
    memcpy(r.resp_h, d.addr[0], 16);
    r.ts_ns = t0 + 59 * SEC;
    r.last_ns = t0 + 3600 * SEC; /* ended long after the TTL: still named */
    strcpy(r.orig_fqdn, "stale");
    pt_names_fill(c, &r);
    cr_assert_str_eq(r.resp_fqdn, "server.example");
    cr_assert_str_eq(r.orig_fqdn, "");
    r.ts_ns = t0 + 61 * SEC;
    pt_names_fill(c, &r);
    cr_assert_str_eq(r.resp_fqdn, "");
    pt_names_destroy(c);
}

/* ---- 3. GeoIP fill ---- */

Test(names_geo, fill_record_external_only)
{
    char le[PT_GEO_ERR_MAX], ae[PT_GEO_ERR_MAX];
    char loc[512], asn[512];
    struct pt_geo *g;
    struct pt_geo_cache *gc;
    struct pt_flow_record r;
    int err;

    snprintf(loc, sizeof loc, "%s", pt_test_data("mmdb/GeoLite2-Country-Test.mmdb"));
    snprintf(asn, sizeof asn, "%s", pt_test_data("mmdb/GeoLite2-ASN-Test.mmdb"));
    cr_assert_not_null(g = pt_geo_create(loc, asn, le, ae));
    cr_assert(pt_geo_has_loc(g) && pt_geo_has_asn(g), "%s %s", le, ae);
    cr_assert_not_null(gc = pt_geo_cache_create(16, &err));
    memset(&r, 0, sizeof r);
    addr_parse("2.125.160.216", r.orig_h);
    addr_parse("1.128.0.0", r.resp_h);
    cr_assert_eq(pt_geo_fill_record(g, gc, &r), 0);
    cr_assert_str_eq(r.orig_cc, "GB");
    cr_assert_eq(r.resp_asn, 1221);
    addr_parse("192.168.1.1", r.orig_h);
    pt_geo_fill_record(g, gc, &r);
    cr_assert_str_eq(r.orig_cc, "");
    cr_assert_eq(r.orig_asn, 0);
    pt_geo_fill_record(NULL, gc, &r);
    cr_assert_eq(r.resp_asn, 0);
    pt_geo_cache_destroy(gc);
    pt_geo_destroy(g);
}
