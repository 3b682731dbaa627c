/* test_geoip.c - GeoIP/ASN lookups (src/enrich/geoip.c).
 *
 * References: MaxMind's source records of its test databases, flattened by
 * tests/tools/gen-expected-geo.sh into tests/expected/mmdb/ (one .geo.tsv per database) (every
 * network's first and last address and the addresses just outside); the
 * MANIFEST answers for the 2018 GeoLite2 databases; the deliberately broken
 * databases; truncated and corrupted copies made here in a mkdtemp dir; and
 * a tiny database written here byte by byte for bounds and types. */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <maxminddb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pt/enrich.h"
#include "support/support.h"

/* A test-data path that survives the next pt_test_data() call (a few of
 * them are alive at once, e.g. both arguments of pt_geo_create()). */
static const char *mmdb_path(const char *name)
{
    static char ring[4][512];
    static unsigned next;
    char *p = ring[next++ % 4];

    snprintf(p, sizeof ring[0], "%s", pt_test_data(name));
    return p;
}

#define MMDB(name) mmdb_path("mmdb/" name)

static const char *mmdb_path_src(const char *rel)
{
    static char p[512];
    snprintf(p, sizeof p, "%s", pt_test_src(rel));
    return p;
}

static void addr_of(const char *s, uint8_t a[16])
{
    struct in_addr v4;

    memset(a, 0, 16);
    if (inet_pton(AF_INET, s, &v4) == 1) {
        a[10] = a[11] = 0xff;
        memcpy(a + 12, &v4, 4);
        return;
    }
    cr_assert_eq(inet_pton(AF_INET6, s, a), 1, "bad address %s", s);
}

static uint64_t stat_of(const struct pt_geo_cache *c, enum pt_geo_stat st)
{
    return PT_CNT_GET(pt_geo_cache_stats(c)->c[st]);
}

static struct pt_geo *open_ok(const char *loc, const char *asn)
{
    char e1[PT_GEO_ERR_MAX], e2[PT_GEO_ERR_MAX];
    struct pt_geo *g = pt_geo_create(loc, asn, e1, e2);

    cr_assert_not_null(g);
    cr_assert_str_empty(e1, "%s", e1);
    cr_assert_str_empty(e2, "%s", e2);
    return g;
}

/* ---- the MaxMind source records ---------------------------------------- */

struct probe {
    char *f[7]; /* address edge network cc reg_cc asn org */
};

/* Split the expected TSV (comment lines skipped) into probes; returns the
 * count. @buf is modified and must outlive the probes. */
static size_t load_probes(char *buf, struct probe *out, size_t max)
{
    size_t n = 0;

    for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
        if (line[0] == '#')
            continue;
        cr_assert_lt(n, max);
        char *p = line;
        for (int i = 0; i < 7; i++) {
            out[n].f[i] = p;
            p = strchr(p, '\t');
            if (i < 6) {
                cr_assert_not_null(p, "short line %s", line);
                *p++ = 0;
            }
        }
        n++;
    }
    return n;
}

static bool dash(const char *s)
{
    return !strcmp(s, "-");
}

/* Look every probe of @tsv up through a database opened in the @asn slot
 * (or the location slot) and compare field by field. */
static void check_source(const char *tsv, const char *db, bool asn)
{
    char *buf = pt_test_slurp(mmdb_path_src(tsv), NULL);
    static struct probe pr[8192];
    struct pt_geo *g;
    struct pt_geo_cache *c = pt_geo_cache_create(256, NULL);
    size_t n, found = 0, outside = 0, internal = 0;

    cr_assert_not_null(buf, "%s missing: run tests/tools/gen-expected-geo.sh", tsv);
    n = load_probes(buf, pr, PT_ARRAY_LEN(pr));
    cr_assert_gt(n, 900);
    g = asn ? open_ok(NULL, db) : open_ok(db, NULL);
    for (size_t i = 0; i < n; i++) {
        const struct probe *p = &pr[i];
        struct pt_geo_info in;
        uint8_t a[16];

        addr_of(p->f[0], a);
        cr_assert_eq(pt_geo_lookup(g, c, a, &in), 0, "%s", p->f[0]);
        if (in.scope != PT_GEO_SCOPE_EXTERNAL) {
            /* only addresses outside every network may be internal */
            cr_assert(dash(p->f[2]), "%s (%s) answered %s", p->f[0], p->f[2],
                      pt_geo_scope_name(in.scope));
            internal++;
            continue;
        }
        unsigned flag = asn ? PT_GEO_F_ASN : PT_GEO_F_LOC;
        cr_assert_eq(in.flags & PT_GEO_F_CORRUPT, 0);
        if (dash(p->f[2])) {
            cr_assert_eq(in.flags & flag, 0, "%s should not be found", p->f[0]);
            outside++;
            continue;
        }
        cr_assert_eq(in.flags & flag, flag, "%s (%s) not found", p->f[0], p->f[2]);
        found++;
        if (asn) {
            cr_assert_eq(in.asn, dash(p->f[5]) ? 0 : strtoul(p->f[5], NULL, 10), "%s", p->f[0]);
            cr_assert_str_eq(in.org, dash(p->f[6]) ? "" : p->f[6], "%s", p->f[0]);
            cr_assert_eq(in.org_len, strlen(in.org));
            cr_assert_str_empty(in.cc);
        } else {
            cr_assert_str_eq(in.cc, dash(p->f[3]) ? "" : p->f[3], "%s", p->f[0]);
            cr_assert_str_eq(in.reg_cc, dash(p->f[4]) ? "" : p->f[4], "%s", p->f[0]);
            cr_assert_eq(in.asn, 0);
        }
    }
    /* the four edges of every network were compared, not skipped */
    cr_assert_gt(found, n / 3);
    cr_assert_gt(outside, 0);
    cr_assert_eq(found + outside + internal, n);
    cr_assert_eq(stat_of(c, PT_GEO_ST_LOOKUPS), n);
    cr_assert_eq(stat_of(c, PT_GEO_ST_INTERNAL), internal);
    cr_assert_eq(stat_of(c, PT_GEO_ST_CORRUPT), 0);
    pt_geo_cache_destroy(c);
    pt_geo_destroy(g);
    free(buf);
}

Test(geoip, source_asn_test_db)
{
    check_source("tests/expected/mmdb/GeoLite2-ASN-Test.mmdb.geo.tsv",
                 MMDB("GeoLite2-ASN-Test.mmdb"), true);
}

Test(geoip, source_country_test_db)
{
    check_source("tests/expected/mmdb/GeoLite2-Country-Test.mmdb.geo.tsv",
                 MMDB("GeoLite2-Country-Test.mmdb"), false);
}

/* Both slots at once: each answers for itself. */
Test(geoip, both_databases)
{
    struct pt_geo *g = open_ok(MMDB("GeoLite2-Country-Test.mmdb"), MMDB("GeoLite2-ASN-Test.mmdb"));
    struct pt_geo_cache *c = pt_geo_cache_create(16, NULL);
    struct pt_geo_info in;
    uint8_t a[16];

    cr_assert(pt_geo_has_loc(g));
    cr_assert(pt_geo_has_asn(g));
    cr_assert_str_eq(pt_geo_loc_type(g), "GeoLite2-Country");
    cr_assert_str_eq(pt_geo_asn_type(g), "GeoLite2-ASN");
    addr_of("2.125.160.217", a); /* Country only */
    cr_assert_eq(pt_geo_lookup(g, c, a, &in), 0);
    cr_assert_eq(in.flags, PT_GEO_F_LOC);
    cr_assert_str_eq(in.cc, "GB");
    cr_assert_str_eq(in.reg_cc, "FR");
    addr_of("1.128.0.1", a); /* ASN only */
    cr_assert_eq(pt_geo_lookup(g, c, a, &in), 0);
    cr_assert_eq(in.flags, PT_GEO_F_ASN);
    cr_assert_eq(in.asn, 1221);
    cr_assert_str_eq(in.org, "Telstra Pty Ltd");
    cr_assert_str_empty(in.cc);
    cr_assert_str_empty(in.city); /* a Country database has no city */
    cr_assert_eq(stat_of(c, PT_GEO_ST_LOC_FOUND), 1);
    cr_assert_eq(stat_of(c, PT_GEO_ST_LOC_MISSING), 1);
    cr_assert_eq(stat_of(c, PT_GEO_ST_ASN_FOUND), 1);
    cr_assert_eq(stat_of(c, PT_GEO_ST_ASN_MISSING), 1);
    pt_geo_cache_destroy(c);
    pt_geo_destroy(g);
}

/* The 2018 GeoLite2 databases: the answers MANIFEST.tsv records. */
Test(geoip, geolite2_manifest_answers)
{
    struct pt_geo *g = open_ok(MMDB("GeoLite2-Country.mmdb"), MMDB("GeoLite2-ASN.mmdb"));
    struct pt_geo_cache *c = pt_geo_cache_create(0, NULL);
    struct pt_geo_info in;
    uint8_t a[16];

    addr_of("8.8.8.8", a);
    cr_assert_eq(pt_geo_lookup(g, c, a, &in), 0);
    cr_assert_str_eq(in.cc, "US");
    cr_assert_eq(in.asn, 15169);
    cr_assert_str_eq(in.org, "Google LLC");
    addr_of("1.1.1.1", a);
    cr_assert_eq(pt_geo_lookup(g, c, a, &in), 0);
    cr_assert_str_eq(in.cc, "AU");
    cr_assert_eq(in.flags, PT_GEO_F_LOC, "1.1.1.1 has no ASN record in this build");
    cr_assert_eq(in.asn, 0);
    cr_assert_str_empty(in.org);
    pt_geo_cache_destroy(c);
    pt_geo_destroy(g);
}

/* ---- scopes -------------------------------------------------------------- */

Test(geoip, scopes_and_their_edges)
{
    static const struct {
        const char *a;
        enum pt_geo_scope s;
    } t[] = {
        {"0.0.0.0", PT_GEO_SCOPE_UNSPECIFIED},
        {"0.255.255.255", PT_GEO_SCOPE_UNSPECIFIED},
        {"1.0.0.0", PT_GEO_SCOPE_EXTERNAL},
        {"9.255.255.255", PT_GEO_SCOPE_EXTERNAL},
        {"10.0.0.0", PT_GEO_SCOPE_PRIVATE},
        {"10.255.255.255", PT_GEO_SCOPE_PRIVATE},
        {"11.0.0.0", PT_GEO_SCOPE_EXTERNAL},
        {"100.63.255.255", PT_GEO_SCOPE_EXTERNAL},
        {"100.64.0.0", PT_GEO_SCOPE_CGNAT},
        {"100.127.255.255", PT_GEO_SCOPE_CGNAT},
        {"100.128.0.0", PT_GEO_SCOPE_EXTERNAL},
        {"127.0.0.1", PT_GEO_SCOPE_LOOPBACK},
        {"169.254.0.1", PT_GEO_SCOPE_LINK_LOCAL},
        {"169.255.0.1", PT_GEO_SCOPE_EXTERNAL},
        {"172.15.255.255", PT_GEO_SCOPE_EXTERNAL},
        {"172.16.0.0", PT_GEO_SCOPE_PRIVATE},
        {"172.31.255.255", PT_GEO_SCOPE_PRIVATE},
        {"172.32.0.0", PT_GEO_SCOPE_EXTERNAL},
        {"192.0.0.8", PT_GEO_SCOPE_RESERVED},
        {"192.0.2.1", PT_GEO_SCOPE_DOCUMENTATION},
        {"192.0.3.0", PT_GEO_SCOPE_EXTERNAL},
        {"192.167.255.255", PT_GEO_SCOPE_EXTERNAL},
        {"192.168.1.1", PT_GEO_SCOPE_PRIVATE},
        {"198.17.255.255", PT_GEO_SCOPE_EXTERNAL},
        {"198.18.0.0", PT_GEO_SCOPE_BENCHMARK},
        {"198.19.255.255", PT_GEO_SCOPE_BENCHMARK},
        {"198.20.0.0", PT_GEO_SCOPE_EXTERNAL},
        {"198.51.100.7", PT_GEO_SCOPE_DOCUMENTATION},
        {"203.0.113.255", PT_GEO_SCOPE_DOCUMENTATION},
        {"223.255.255.255", PT_GEO_SCOPE_EXTERNAL},
        {"224.0.0.1", PT_GEO_SCOPE_MULTICAST},
        {"239.255.255.255", PT_GEO_SCOPE_MULTICAST},
        {"240.0.0.0", PT_GEO_SCOPE_RESERVED},
        {"255.255.255.254", PT_GEO_SCOPE_RESERVED},
        {"255.255.255.255", PT_GEO_SCOPE_BROADCAST},
        {"::", PT_GEO_SCOPE_UNSPECIFIED},
        {"::1", PT_GEO_SCOPE_LOOPBACK},
        {"::2", PT_GEO_SCOPE_RESERVED},
        {"::8.8.8.8", PT_GEO_SCOPE_RESERVED},
        {"::ffff:8.8.8.8", PT_GEO_SCOPE_EXTERNAL},
        {"::ffff:10.1.2.3", PT_GEO_SCOPE_PRIVATE},
        {"64:ff9b::8.8.8.8", PT_GEO_SCOPE_EXTERNAL},
        {"64:ff9b:1::1", PT_GEO_SCOPE_RESERVED},
        {"100::1", PT_GEO_SCOPE_RESERVED},
        {"100:0:0:1::", PT_GEO_SCOPE_EXTERNAL},
        {"2001::1", PT_GEO_SCOPE_EXTERNAL},
        {"2001:2::1", PT_GEO_SCOPE_BENCHMARK},
        {"2001:2:1::", PT_GEO_SCOPE_EXTERNAL},
        {"2001:10::1", PT_GEO_SCOPE_RESERVED},
        {"2001:2f:ffff::", PT_GEO_SCOPE_RESERVED},
        {"2001:30::", PT_GEO_SCOPE_EXTERNAL},
        {"2001:db7:ffff::", PT_GEO_SCOPE_EXTERNAL},
        {"2001:db8::1", PT_GEO_SCOPE_DOCUMENTATION},
        {"2001:db9::", PT_GEO_SCOPE_EXTERNAL},
        {"2002:c000:201::1", PT_GEO_SCOPE_EXTERNAL},
        {"2a00:1450::1", PT_GEO_SCOPE_EXTERNAL},
        {"3fff::1", PT_GEO_SCOPE_DOCUMENTATION},
        {"3fff:fff:ffff::", PT_GEO_SCOPE_DOCUMENTATION},
        {"3fff:1000::", PT_GEO_SCOPE_EXTERNAL},
        {"fbff:ffff::", PT_GEO_SCOPE_EXTERNAL},
        {"fc00::1", PT_GEO_SCOPE_ULA},
        {"fdff:ffff::1", PT_GEO_SCOPE_ULA},
        {"fe80::1", PT_GEO_SCOPE_LINK_LOCAL},
        {"febf:ffff::", PT_GEO_SCOPE_LINK_LOCAL},
        {"fec0::1", PT_GEO_SCOPE_PRIVATE},
        {"ff02::1", PT_GEO_SCOPE_MULTICAST},
    };
    uint8_t a[16];

    for (size_t i = 0; i < PT_ARRAY_LEN(t); i++) {
        addr_of(t[i].a, a);
        cr_expect_eq(pt_geo_addr_scope(a), t[i].s, "%s: %s, want %s", t[i].a,
                     pt_geo_scope_name(pt_geo_addr_scope(a)), pt_geo_scope_name(t[i].s));
    }
    cr_assert_str_eq(pt_geo_scope_name(PT_GEO_SCOPE_CGNAT), "cgnat");
    cr_assert_str_eq(pt_geo_scope_name(PT_GEO_SCOPE_MAX), "unknown");
}

/* An internal address is answered without the cache or the databases. */
Test(geoip, internal_not_looked_up)
{
    struct pt_geo *g = open_ok(MMDB("GeoLite2-Country.mmdb"), NULL);
    struct pt_geo_cache *c = pt_geo_cache_create(8, NULL);
    struct pt_geo_info in;
    uint8_t a[16];

    addr_of("10.1.2.3", a);
    memset(&in, 0x55, sizeof in);
    cr_assert_eq(pt_geo_lookup(g, c, a, &in), 0);
    cr_assert_eq(in.scope, PT_GEO_SCOPE_PRIVATE);
    cr_assert_eq(in.flags, 0);
    cr_assert_str_empty(in.cc);
    cr_assert_eq(stat_of(c, PT_GEO_ST_INTERNAL), 1);
    cr_assert_eq(stat_of(c, PT_GEO_ST_CACHE_MISS), 0);
    cr_assert_eq(stat_of(c, PT_GEO_ST_LOC_FOUND) + stat_of(c, PT_GEO_ST_LOC_MISSING), 0);
    pt_geo_cache_destroy(c);
    pt_geo_destroy(g);
}

/* ---- cache --------------------------------------------------------------- */

Test(geoip, cache_hits_collisions_and_reload)
{
    struct pt_geo *g = open_ok(MMDB("GeoLite2-Country-Test.mmdb"), MMDB("GeoLite2-ASN-Test.mmdb"));
    struct pt_geo *g2 = open_ok(NULL, MMDB("GeoLite2-ASN-Test.mmdb"));
    struct pt_geo_cache *c = pt_geo_cache_create(4, NULL), *one = pt_geo_cache_create(1, NULL);
    struct pt_geo_info x, y;
    uint8_t a[16], b[16];
    int err = 0;

    cr_assert_null(pt_geo_cache_create(3, &err));
    cr_assert_eq(err, -EINVAL);
    cr_assert_null(pt_geo_cache_create(1u << 25, &err));
    cr_assert_eq(err, -EINVAL);

    addr_of("2.125.160.216", a);
    cr_assert_eq(pt_geo_lookup(g, c, a, &x), 0);
    cr_assert_eq(pt_geo_lookup(g, c, a, &y), 0);
    cr_assert_eq(memcmp(&x, &y, sizeof x), 0);
    cr_assert_str_eq(y.cc, "GB");
    cr_assert_eq(stat_of(c, PT_GEO_ST_CACHE_MISS), 1);
    cr_assert_eq(stat_of(c, PT_GEO_ST_CACHE_HIT), 1);
    cr_assert_eq(stat_of(c, PT_GEO_ST_LOC_FOUND), 1, "a hit must not search again");

    /* a new handle empties the cache: the answer is g2's (no location) */
    cr_assert_eq(pt_geo_lookup(g2, c, a, &y), 0);
    cr_assert_eq(stat_of(c, PT_GEO_ST_CACHE_FLUSH), 1);
    cr_assert_eq(stat_of(c, PT_GEO_ST_CACHE_MISS), 2);
    cr_assert_eq(y.flags & PT_GEO_F_LOC, 0);

    /* one slot, two addresses: every lookup misses, every answer right */
    addr_of("1.128.0.0", b);
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(pt_geo_lookup(g, one, i & 1 ? b : a, &x), 0);
        cr_assert_str_eq(x.cc, i & 1 ? "" : "GB");
        cr_assert_eq(x.asn, i & 1 ? 1221u : 0u);
    }
    /* addresses that differ only in their last byte are different keys */
    addr_of("2.125.160.223", a);
    addr_of("2.125.160.224", b);
    cr_assert_eq(pt_geo_lookup(g, one, a, &x), 0);
    cr_assert_str_eq(x.cc, "GB");
    cr_assert_eq(pt_geo_lookup(g, one, b, &x), 0);
    cr_assert_str_empty(x.cc);
    cr_assert_eq(stat_of(one, PT_GEO_ST_CACHE_MISS), 6);
    cr_assert_eq(stat_of(one, PT_GEO_ST_CACHE_HIT), 0);
    cr_assert_str_eq(pt_geo_stat_name(PT_GEO_ST_CACHE_HIT), "enrich.geo.cache.hit");
    cr_assert_str_eq(pt_geo_stat_name(PT_GEO_ST_MAX), "enrich.geo.unknown");
    pt_geo_cache_destroy(one);
    pt_geo_cache_destroy(c);
    pt_geo_destroy(g2);
    pt_geo_destroy(g);
}

/* An address, the ASN it must get, and whether the cache must answer. */
struct lookup {
    const char *addr;
    uint32_t asn;
    bool hit;
};

/* Look @seq up in order through @c: each answer's ASN, and the cache's
 * hits and misses after each. */
static void check_lookups(const struct pt_geo *g, struct pt_geo_cache *c, const struct lookup *seq,
                          size_t n)
{
    uint64_t hits = 0;

    for (size_t i = 0; i < n; i++) {
        struct pt_geo_info in;
        uint8_t a[16];
        addr_of(seq[i].addr, a);
        cr_assert_eq(pt_geo_lookup(g, c, a, &in), 0);
        cr_assert_eq(in.asn, seq[i].asn, "%s: %u", seq[i].addr, in.asn);
        hits += seq[i].hit;
        cr_assert_eq(stat_of(c, PT_GEO_ST_CACHE_HIT), hits, "%s", seq[i].addr);
        cr_assert_eq(stat_of(c, PT_GEO_ST_CACHE_MISS), i + 1 - hits, "%s", seq[i].addr);
    }
}

/* One miss answers the network it found, cut to /16 or /24 (IPv4), /32 or
 * /48 (IPv6): ASN-Test has 1.128.0.0/11, 71.134.76.0/23 (AS7018) beside
 * 71.134.78.0/23 (AS7132), and 2001:1700::/27. */
Test(geoip, cache_answers_whole_networks)
{
    struct pt_geo *g = open_ok(NULL, MMDB("GeoLite2-ASN-Test.mmdb"));
    struct pt_geo_cache *c = pt_geo_cache_create(4096, NULL);
    static const struct lookup seq[] = {
        {"1.130.0.1", 1221, false},     {"1.130.200.7", 1221, true},   /* same /16 */
        {"1.140.0.1", 1221, false},     {"1.140.9.9", 1221, true},     /* next /16 */
        {"71.134.78.1", 7132, false},   {"71.134.78.200", 7132, true}, /* /23: kept per /24 */
        {"71.134.79.1", 7132, false},   {"71.134.76.1", 7018, false},  /* the /23 beside */
        {"71.134.77.255", 7018, false}, {"71.134.76.9", 7018, true},
        {"2001:1700::1", 6730, false},  {"2001:1700:ffff::1", 6730, true}, /* same /32 */
        {"2001:1710::1", 6730, false},  {"2001:1710:0:1::", 6730, true},
    };
    check_lookups(g, c, seq, PT_ARRAY_LEN(seq));
    pt_geo_cache_destroy(c);
    pt_geo_destroy(g);
}

/* On the full 2018 databases (dense trees, networks of every size, both
 * at once so the narrower network decides): clusters of addresses in
 * random /16s and IPv6 /32s, each answer through the cache equal to the
 * answer without one, and most answers from the cache. */
Test(geoip, cached_answers_equal_uncached_on_full_databases)
{
    struct pt_geo *g = open_ok(MMDB("GeoLite2-Country.mmdb"), MMDB("GeoLite2-ASN.mmdb"));
    struct pt_geo_cache *c = pt_geo_cache_create(4096, NULL), *none = pt_geo_cache_create(0, NULL);
    uint64_t x = 0x9e3779b97f4a7c15ull, found = 0;
    const unsigned clusters = 600, per = 40;

    for (unsigned k = 0; k < clusters; k++) {
        uint8_t base[16] = {0};
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        bool v6 = k % 4 == 3;
        if (v6) {
            base[0] = (uint8_t)(0x20 | ((x >> 60) & 0x1)); /* 2000::/7 */
            base[1] = (uint8_t)(x >> 40);
            base[2] = (uint8_t)(x >> 32);
            base[3] = (uint8_t)(x >> 24);
        } else {
            base[10] = base[11] = 0xff;
            base[12] = (uint8_t)(1 + (x >> 56) % 223);
            base[13] = (uint8_t)(x >> 48);
        }
        for (unsigned j = 0; j < per; j++) {
            uint8_t a[16];
            struct pt_geo_info in, ref;
            x = x * 6364136223846793005ull + 1442695040888963407ull;
            memcpy(a, base, 16);
            if (v6) {
                a[4] = (uint8_t)(x >> 56);
                a[5] = j % 2 ? (uint8_t)(x >> 48) : 0; /* inside and across /48s */
                a[15] = (uint8_t)x;
            } else {
                a[14] = (uint8_t)(x >> 56);
                a[15] = (uint8_t)(x >> 48);
            }
            int rc = pt_geo_lookup(g, c, a, &in);
            cr_assert_eq(rc, pt_geo_lookup(g, none, a, &ref));
            cr_assert_eq(memcmp(&in, &ref, sizeof in), 0, "cluster %u address %u: %s/%u vs %s/%u",
                         k, j, in.cc, in.asn, ref.cc, ref.asn);
            found += (ref.flags & (PT_GEO_F_LOC | PT_GEO_F_ASN)) != 0;
        }
    }
    cr_assert_gt(found, clusters * per / 2, "%llu", (unsigned long long)found);
    cr_assert_gt(stat_of(c, PT_GEO_ST_CACHE_HIT), stat_of(c, PT_GEO_ST_LOOKUPS) / 2, "%llu of %llu",
                 (unsigned long long)stat_of(c, PT_GEO_ST_CACHE_HIT),
                 (unsigned long long)stat_of(c, PT_GEO_ST_LOOKUPS));
    pt_geo_cache_destroy(none);
    pt_geo_cache_destroy(c);
    pt_geo_destroy(g);
}

/* ---- missing, unreadable, broken ------------------------------------------ */

Test(geoip, missing_and_unreadable_are_errors)
{
    char e1[PT_GEO_ERR_MAX], e2[PT_GEO_ERR_MAX];
    struct pt_geo *g = pt_geo_create("/nonexistent/GeoIP2-City.mmdb", pt_test_data("mmdb"), e1, e2);
    struct pt_geo_cache *c = pt_geo_cache_create(8, NULL);
    struct pt_geo_info in;
    uint8_t a[16];

    cr_assert_not_null(g);
    cr_assert_not(pt_geo_has_loc(g));
    cr_assert_not(pt_geo_has_asn(g));
    cr_assert_str_eq(e1, "GeoIP location database /nonexistent/GeoIP2-City.mmdb: cannot open: "
                         "No such file or directory");
    cr_assert(strstr(e2, "GeoIP ASN database ") && strstr(e2, "Is a directory"), "%s", e2);
    addr_of("8.8.8.8", a);
    cr_assert_eq(pt_geo_lookup(g, c, a, &in), 0);
    cr_assert_eq(in.flags, 0);
    cr_assert_eq(in.scope, PT_GEO_SCOPE_EXTERNAL);
    pt_geo_destroy(g);

    /* not an mmdb at all */
    g = pt_geo_create(pt_test_data("mmdb/GeoLite2-ASN-Test.source.json"), "", e1, e2);
    cr_assert_not(pt_geo_has_loc(g));
    cr_assert(strstr(e1, "invalid metadata"), "%s", e1);
    cr_assert_str_empty(e2, "an empty path is 'not configured', not an error");
    pt_geo_destroy(g);
    pt_geo_destroy(NULL);
    pt_geo_cache_destroy(c);
}

Test(geoip, broken_pointers_db_rejected_at_open)
{
    char e1[PT_GEO_ERR_MAX], e2[PT_GEO_ERR_MAX];
    const char *db = MMDB("MaxMind-DB-test-broken-pointers-24.mmdb");
    struct pt_geo *g = pt_geo_create(db, db, e1, e2);

    cr_assert_not_null(g);
    cr_assert_not(pt_geo_has_loc(g));
    cr_assert_not(pt_geo_has_asn(g));
    cr_assert(strstr(e1, "corrupt: search tree record") && strstr(e1, "outside the data section"),
              "%s", e1);
    cr_assert(strstr(e2, "GeoIP ASN database"), "%s", e2);
    pt_geo_destroy(g);
}

Test(geoip, broken_search_tree_lookup_fails_counted)
{
    struct pt_geo *g = open_ok(NULL, MMDB("MaxMind-DB-test-broken-search-tree-24.mmdb"));
    struct pt_geo_cache *c = pt_geo_cache_create(8, NULL);
    struct pt_geo_info in;
    uint8_t a[16];

    addr_of("128.128.128.128", a);
    for (int i = 1; i <= 2; i++) {
        cr_assert_eq(pt_geo_lookup(g, c, a, &in), -EBADMSG);
        cr_assert(in.flags & PT_GEO_F_CORRUPT);
        cr_assert_eq(stat_of(c, PT_GEO_ST_CORRUPT), (uint64_t)i);
        cr_assert_eq(stat_of(c, PT_GEO_ST_CACHE_MISS), (uint64_t)i, "failures are not cached");
    }
    addr_of("1.1.1.1", a); /* a sound part of the same file */
    cr_assert_eq(pt_geo_lookup(g, c, a, &in), 0);
    cr_assert_eq(in.flags & PT_GEO_F_CORRUPT, 0);
    pt_geo_cache_destroy(c);
    pt_geo_destroy(g);
}

/* Temporary directory per test (criterion runs tests in parallel). */
static char tmpdir[64];

static void tmp_init(void)
{
    strcpy(tmpdir, "/tmp/pt-geo-XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir));
}

static void tmp_fini(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    cr_assert_eq(system(cmd), 0);
}

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "%s", path);
    cr_assert_eq(fwrite(data, 1, len, f), len);
    cr_assert_eq(fclose(f), 0);
}

/* Every truncation of the ASN test database (in steps, plus the last bytes)
 * gives an error string or, if accepted, lookups that never crash. */
Test(geoip, truncated_copies, .init = tmp_init, .fini = tmp_fini)
{
    size_t len;
    char *img = pt_test_slurp(MMDB("GeoLite2-ASN-Test.mmdb"), &len);
    char path[128], e1[PT_GEO_ERR_MAX];
    struct pt_geo_cache *c = pt_geo_cache_create(0, NULL);
    unsigned rejected = 0, tried = 0;
    static const char *const probes[] = {"1.128.0.0", "12.81.92.1", "2001:1700::1", "8.8.8.8"};

    cr_assert_not_null(img);
    snprintf(path, sizeof path, "%s/cut.mmdb", tmpdir);
    for (size_t cut = 0; cut < len; cut += cut + 64 < len ? 61 : 1) {
        write_file(path, img, cut);
        struct pt_geo *g = pt_geo_create(path, NULL, e1, NULL);
        tried++;
        if (!pt_geo_has_loc(g)) {
            cr_assert(strstr(e1, path) && strlen(e1) > strlen(path) + 30, "cut %zu: '%s'", cut, e1);
            rejected++;
        }
        for (size_t i = 0; i < PT_ARRAY_LEN(probes); i++) {
            struct pt_geo_info in;
            uint8_t a[16];
            addr_of(probes[i], a);
            int rc = pt_geo_lookup(g, c, a, &in);
            cr_assert(rc == 0 || rc == -EBADMSG);
        }
        pt_geo_destroy(g);
    }
    /* the metadata sits at the end: no cut copy is usable */
    cr_assert_eq(rejected, tried);
    cr_assert_gt(tried, 200, "%u", tried);
    pt_geo_cache_destroy(c);
    free(img);
}

/* A pointer to nowhere written into the data of 1.128.0.0/11 in a copy of
 * the ASN test database: the file opens (its tree is sound), that lookup
 * fails and is counted, others still answer. */
Test(geoip, corrupt_data_pointer_counted, .init = tmp_init, .fini = tmp_fini)
{
    size_t len;
    char *img = pt_test_slurp(MMDB("GeoLite2-ASN-Test.mmdb"), &len);
    char path[128];
    MMDB_s m;
    int gai, merr;

    cr_assert_not_null(img);
    cr_assert_eq(MMDB_open(MMDB("GeoLite2-ASN-Test.mmdb"), MMDB_MODE_MMAP, &m), MMDB_SUCCESS);
    MMDB_lookup_result_s r = MMDB_lookup_string(&m, "1.128.0.0", &gai, &merr);
    cr_assert(r.found_entry);
    size_t at = (size_t)m.metadata.node_count * m.full_record_byte_size + 16 + r.entry.offset;
    MMDB_close(&m);
    cr_assert_lt(at + 5, len);
    /* control byte 001 11 000: a pointer with a 4-byte value; 0xffffffff */
    memcpy(img + at, "\x38\xff\xff\xff\xff", 5);
    snprintf(path, sizeof path, "%s/bad.mmdb", tmpdir);
    write_file(path, img, len);

    struct pt_geo *g = open_ok(NULL, path);
    struct pt_geo_cache *c = pt_geo_cache_create(8, NULL);
    struct pt_geo_info in;
    uint8_t a[16];

    addr_of("1.130.0.1", a);
    cr_assert_eq(pt_geo_lookup(g, c, a, &in), -EBADMSG);
    cr_assert_eq(in.flags, PT_GEO_F_ASN | PT_GEO_F_CORRUPT);
    cr_assert_eq(in.asn, 0);
    cr_assert_eq(stat_of(c, PT_GEO_ST_CORRUPT), 1);
    addr_of("12.81.92.1", a);
    cr_assert_eq(pt_geo_lookup(g, c, a, &in), 0);
    cr_assert_eq(in.asn, 7018);
    cr_assert_eq(stat_of(c, PT_GEO_ST_CORRUPT), 1);
    pt_geo_cache_destroy(c);
    pt_geo_destroy(g);
    free(img);
}

/* ---- a database written here: bounds and types ----------------------------- */

struct img {
    uint8_t b[4096];
    size_t n;
};

static void put(struct img *im, const void *p, size_t n)
{
    cr_assert_leq(im->n + n, sizeof im->b);
    memcpy(im->b + im->n, p, n);
    im->n += n;
}

static void put_byte(struct img *im, uint8_t v)
{
    put(im, &v, 1);
}

/* MaxMind DB data: control byte type<<5 | size (size < 29, or 29 + one
 * extra byte); types above 7 go in a second byte as type - 7. */
static void put_ctrl(struct img *im, unsigned type, size_t size)
{
    uint8_t t = type <= 7 ? (uint8_t)(type << 5) : 0;

    cr_assert_lt(size, 29 + 256);
    put_byte(im, (uint8_t)(t | (size < 29 ? size : 29)));
    if (size >= 29)
        put_byte(im, (uint8_t)(size - 29));
    if (type > 7)
        put_byte(im, (uint8_t)(type - 7));
}

static void put_str(struct img *im, const char *s)
{
    put_ctrl(im, 2, strlen(s));
    put(im, s, strlen(s));
}

static void put_uint(struct img *im, unsigned type, uint64_t v, size_t bytes)
{
    put_ctrl(im, type, bytes);
    for (size_t i = bytes; i-- > 0;)
        put_byte(im, (uint8_t)(v >> (8 * i)));
}

/* An IPv4 database of @n nodes, node i with records rec[i][0] (left) and
 * rec[i][1] (right), records of @rs bits laid out as the spec says: a
 * record below @n is a node, @n is "empty", @n + 16 + offset points into
 * @data. */
static void write_db_nodes(const char *path, const struct img *data, unsigned rs,
                           const uint32_t (*rec)[2], unsigned n)
{
    struct img im = {.n = 0};

    for (unsigned k = 0; k < n; k++) {
        uint32_t left = rec[k][0], right = rec[k][1];
        switch (rs) {
        case 24:
            for (int i = 2; i >= 0; i--)
                put_byte(&im, (uint8_t)(left >> (8 * i)));
            for (int i = 2; i >= 0; i--)
                put_byte(&im, (uint8_t)(right >> (8 * i)));
            break;
        case 28:
            for (int i = 2; i >= 0; i--)
                put_byte(&im, (uint8_t)(left >> (8 * i)));
            put_byte(&im, (uint8_t)((left >> 24 & 0x0f) << 4 | (right >> 24 & 0x0f)));
            for (int i = 2; i >= 0; i--)
                put_byte(&im, (uint8_t)(right >> (8 * i)));
            break;
        default:
            for (int i = 3; i >= 0; i--)
                put_byte(&im, (uint8_t)(left >> (8 * i)));
            for (int i = 3; i >= 0; i--)
                put_byte(&im, (uint8_t)(right >> (8 * i)));
        }
    }
    for (int i = 0; i < 16; i++)
        put_byte(&im, 0);
    put(&im, data->b, data->n);
    put(&im, "\xab\xcd\xefMaxMind.com", 14);
    put_ctrl(&im, 7, 9);
    put_str(&im, "node_count");
    put_uint(&im, 6, n, 1);
    put_str(&im, "record_size");
    put_uint(&im, 5, rs, 1);
    put_str(&im, "ip_version");
    put_uint(&im, 5, 4, 1);
    put_str(&im, "database_type");
    put_str(&im, "PT-Test");
    put_str(&im, "languages");
    put_ctrl(&im, 11, 0);
    put_str(&im, "binary_format_major_version");
    put_uint(&im, 5, 2, 1);
    put_str(&im, "binary_format_minor_version");
    put_uint(&im, 5, 0, 0);
    put_str(&im, "build_epoch");
    put_uint(&im, 9, 1, 1); /* libmaxminddb 1.7.1 refuses a zero-length build_epoch */
    put_str(&im, "description");
    put_ctrl(&im, 7, 0);
    write_file(path, im.b, im.n);
}

/* One node with records @left and @right (node_count 1, so 17 + offset
 * points into @data). */
static void write_db_tree(const char *path, const struct img *data, unsigned rs, uint32_t left,
                          uint32_t right)
{
    const uint32_t rec[1][2] = {{left, right}};

    write_db_nodes(path, data, rs, rec, 1);
}

/* Both records lead to @data: every IPv4 address finds it. */
static void write_db(const char *path, const struct img *data)
{
    write_db_tree(path, data, 24, 17, 17);
}

/* An IPv4 tree (not IPv6, as every other cached test's): 11.0.0.0/24 is
 * AS64501 and 11.0.1.0/24 AS64502, nothing else is in it. libmaxminddb
 * answers with a netmask of 24 here, not 96 + 24: an answer kept as if for
 * a /16 would give 11.0.1.5 the first /24's. */
Test(geoip, cache_levels_in_an_ipv4_tree, .init = tmp_init, .fini = tmp_fini)
{
    enum { DEPTH = 23, NODES = DEPTH + 1 };
    static const uint32_t net = 0x0b0000; /* 11.0.0, 24 bits; bit 24 picks the /24 */
    uint32_t rec[NODES][2];
    struct img d = {.n = 0};
    char path[128];
    size_t b_off;

    put_ctrl(&d, 7, 1);
    put_str(&d, "autonomous_system_number");
    put_uint(&d, 6, 64501, 2);
    b_off = d.n;
    put_ctrl(&d, 7, 1);
    put_str(&d, "autonomous_system_number");
    put_uint(&d, 6, 64502, 2);
    for (unsigned i = 0; i < DEPTH; i++) { /* follow the first 23 bits of 11.0.0.0 */
        unsigned bit = (net >> (23 - i)) & 1;
        rec[i][bit] = i + 1;
        rec[i][!bit] = NODES; /* empty */
    }
    rec[DEPTH][0] = NODES + 16;                   /* 11.0.0.0/24 */
    rec[DEPTH][1] = NODES + 16 + (uint32_t)b_off; /* 11.0.1.0/24 */
    snprintf(path, sizeof path, "%s/v4tree.mmdb", tmpdir);
    write_db_nodes(path, &d, 24, (const uint32_t(*)[2])rec, NODES);

    struct pt_geo *g = open_ok(NULL, path);
    struct pt_geo_cache *c = pt_geo_cache_create(4096, NULL);
    static const struct lookup seq[] = {
        {"11.0.0.5", 64501, false}, {"11.0.1.5", 64502, false}, {"11.0.0.200", 64501, true},
        {"11.0.1.9", 64502, true},  {"11.0.2.1", 0, false},     {"11.1.0.1", 0, false},
    };
    check_lookups(g, c, seq, PT_ARRAY_LEN(seq));
    pt_geo_cache_destroy(c);
    pt_geo_destroy(g);
}

/* The search tree is read in place for each record size: a record inside
 * the data section opens, one past it, one between the node count and the
 * data (17 = 1 + 16 is the first data offset), and one whose top nibble is
 * set (28 bits: kept in the shared middle byte) are named in the error. */
Test(geoip, tree_records_checked_for_each_record_size, .init = tmp_init, .fini = tmp_fini)
{
    static const unsigned sizes[] = {24, 28, 32};
    struct img d = {.n = 0};
    char path[128], e1[PT_GEO_ERR_MAX], want[128];

    put_ctrl(&d, 7, 1);
    put_str(&d, "autonomous_system_number");
    put_uint(&d, 6, 64500, 2);
    snprintf(path, sizeof path, "%s/rs.mmdb", tmpdir);
    for (size_t i = 0; i < PT_ARRAY_LEN(sizes); i++) {
        unsigned rs = sizes[i];
        /* high bits set over a valid low part: lost high bits would open */
        uint32_t top = rs == 24 ? 0xabcdefu : 0xabcdef1u,
                 hi = (rs == 24 ? 0x800000u : 0x1000000u) | 17;
        struct {
            uint32_t left, right, bad; /* bad: the record named, 0 = opens */
        } cases[] = {
            {17, 1, 0},
            {1, (uint32_t)(17 + d.n - 1), 0},
            {17, (uint32_t)(17 + d.n), (uint32_t)(17 + d.n)},
            {5, 17, 5},
            {top, 17, top},
            {17, top, top},
            {hi, 17, hi},
            {17, hi, hi},
        };
        for (size_t k = 0; k < PT_ARRAY_LEN(cases); k++) {
            write_db_tree(path, &d, rs, cases[k].left, cases[k].right);
            struct pt_geo *g = pt_geo_create(NULL, path, NULL, e1);
            if (!cases[k].bad) {
                cr_assert(pt_geo_has_asn(g), "rs %u case %zu: %s", rs, k, e1);
            } else {
                cr_assert_not(pt_geo_has_asn(g), "rs %u case %zu", rs, k);
                snprintf(want, sizeof want, "corrupt: search tree record %u of node 0 points",
                         cases[k].bad);
                cr_assert(strstr(e1, want), "rs %u case %zu: %s", rs, k, e1);
            }
            pt_geo_destroy(g);
        }
        /* and the sound one answers on its data side only */
        write_db_tree(path, &d, rs, 1, 17);
        struct pt_geo *g = pt_geo_create(NULL, path, NULL, e1);
        struct pt_geo_cache *c = pt_geo_cache_create(0, NULL);
        struct pt_geo_info in;
        uint8_t a[16];
        addr_of("8.8.8.8", a);
        cr_assert_eq(pt_geo_lookup(g, c, a, &in), 0);
        cr_assert_eq(in.flags, 0, "rs %u: left half is empty", rs);
        addr_of("200.1.2.3", a);
        cr_assert_eq(pt_geo_lookup(g, c, a, &in), 0);
        cr_assert_eq(in.asn, 64500, "rs %u", rs);
        pt_geo_cache_destroy(c);
        pt_geo_destroy(g);
    }
}

Test(geoip, long_strings_cut_on_utf8_and_bad_types, .init = tmp_init, .fini = tmp_fini)
{
    char org[200], city[120], path[128];
    struct img d = {.n = 0};

    /* org: 94 'a' then U+00E9 (2 bytes) across the 95-byte limit, then more */
    memset(org, 'a', sizeof org - 1);
    org[sizeof org - 1] = 0;
    memcpy(org + 94, "\xc3\xa9", 2);
    /* city: 62 'b' then U+20AC (3 bytes) across the 63-byte limit */
    memset(city, 'b', sizeof city - 1);
    city[sizeof city - 1] = 0;
    memcpy(city + 62, "\xe2\x82\xac", 3);

    put_ctrl(&d, 7, 5);
    put_str(&d, "autonomous_system_number");
    put_uint(&d, 5, 64512, 2); /* uint16 is accepted */
    put_str(&d, "autonomous_system_organization");
    put_str(&d, org);
    put_str(&d, "country");
    put_ctrl(&d, 7, 1);
    put_str(&d, "iso_code");
    put_str(&d, "USA"); /* not two letters */
    put_str(&d, "registered_country");
    put_ctrl(&d, 7, 1);
    put_str(&d, "iso_code");
    put_uint(&d, 6, 7, 1); /* not a string */
    put_str(&d, "city");
    put_ctrl(&d, 7, 1);
    put_str(&d, "names");
    put_ctrl(&d, 7, 1);
    put_str(&d, "en");
    put_str(&d, city);
    snprintf(path, sizeof path, "%s/crafted.mmdb", tmpdir);
    write_db(path, &d);

    struct pt_geo *g = open_ok(path, path);
    struct pt_geo_cache *c = pt_geo_cache_create(8, NULL);
    struct pt_geo_info in;
    uint8_t a[16];

    cr_assert_str_eq(pt_geo_loc_type(g), "PT-Test");
    addr_of("8.8.8.8", a);
    cr_assert_eq(pt_geo_lookup(g, c, a, &in), 0);
    cr_assert_eq(in.flags, PT_GEO_F_LOC | PT_GEO_F_ASN);
    cr_assert_eq(in.asn, 64512);
    cr_assert_eq(in.org_len, 94, "cut before the split 2-byte sequence");
    cr_assert_eq(strlen(in.org), 94);
    cr_assert_eq(memcmp(in.org, org, 94), 0);
    cr_assert_eq(in.city_len, 62, "cut before the split 3-byte sequence");
    cr_assert_eq(memcmp(in.city, city, 62), 0);
    cr_assert_eq(in.city[62], 0);
    cr_assert_str_empty(in.cc);
    cr_assert_str_empty(in.reg_cc);
    cr_assert_eq(stat_of(c, PT_GEO_ST_ORG_TRUNC), 1);
    cr_assert_eq(stat_of(c, PT_GEO_ST_CITY_TRUNC), 1);
    cr_assert_eq(stat_of(c, PT_GEO_ST_BAD_VALUE), 2);

    /* an IPv6 address in this IPv4-only database: not found, counted */
    addr_of("2a00:1450::1", a);
    cr_assert_eq(pt_geo_lookup(g, c, a, &in), 0);
    cr_assert_eq(in.flags, 0);
    cr_assert_eq(stat_of(c, PT_GEO_ST_V6_IN_V4_DB), 2);
    pt_geo_cache_destroy(c);
    pt_geo_destroy(g);
}
