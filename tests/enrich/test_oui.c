/* test_oui.c - MAC vendors from the IEEE registry (src/enrich/oui.c).
 *
 * References: rows of the registry CSVs themselves (read here line by line,
 * independently of the loader), the MACs of the shared captures with the
 * registry's answer computed by tests/tools/gen-expected-oui.sh (Python's
 * csv module; tshark 4.0.17 lists the MACs), and the OUI names of Arkime's
 * session files; crafted CSV text for the malformed cases. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pt/enrich.h"
#include "support/support.h"

static struct pt_oui *reg;

static void reg_load(void)
{
    char err[PT_OUI_ERR_MAX];

    reg = pt_oui_create(NULL, err);
    cr_assert_not_null(reg, "%s", err);
    cr_assert_str_empty(err);
}

static void reg_free(void)
{
    pt_oui_destroy(reg);
}

static void mac_of(uint64_t v, uint8_t mac[6])
{
    for (int i = 5; i >= 0; i--, v >>= 8)
        mac[i] = (uint8_t)v;
}

/* ---- rows of the CSVs --------------------------------------------------- */

struct row {
    uint64_t key;
    char name[PT_OUI_NAME_MAX];
};

/* The rows of @file whose name is not quoted (so a line split on commas
 * reads them), and every assignment of the file (quoted or not) into
 * @all/@n_all. Lines of multi-line addresses do not start with the
 * registry name and are skipped. */
static size_t read_rows(const char *file, const char *registry, struct row *out, size_t max,
                        uint64_t *all, size_t *n_all)
{
    char path[256], line[4096];
    size_t n = 0, rl = strlen(registry);
    FILE *f;

    snprintf(path, sizeof path, "%s/%s", PT_OUI_DIR, file);
    f = fopen(path, "r");
    cr_assert_not_null(f, "%s", path);
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, registry, rl) || line[rl] != ',')
            continue;
        char *asg = line + rl + 1, *name = strchr(asg, ',');
        cr_assert_not_null(name);
        *name++ = 0;
        uint64_t key = strtoull(asg, NULL, 16);
        if (all)
            all[(*n_all)++] = key;
        if (*name == '"' || n == max)
            continue;
        char *end = strchr(name, ',');
        cr_assert_not_null(end);
        *end = 0;
        out[n].key = key;
        snprintf(out[n].name, sizeof out[n].name, "%s", name);
        n++;
    }
    fclose(f);
    return n;
}

static bool listed_twice(const uint64_t *all, size_t n, uint64_t key)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += all[i] == key;
    return c > 1;
}

/* Every unquoted row of every file, looked up with a MAC inside its block. */
static void check_file(const char *file, const char *registry, unsigned bits)
{
    static struct row rows[40000];
    static uint64_t all[40000];
    size_t n_all = 0, n = read_rows(file, registry, rows, PT_ARRAY_LEN(rows), all, &n_all);
    size_t checked = 0;

    cr_assert_gt(n, 1000);
    for (size_t i = 0; i < n; i++) {
        struct pt_oui_match m;
        uint8_t mac[6];
        /* the top of the block, so a wrong shift lands elsewhere */
        uint64_t low = (1ull << (48 - bits)) - 1;

        if (bits == 24 && !strcmp(rows[i].name, "IEEE Registration Authority"))
            continue; /* its MACs belong to the MA-M/MA-S blocks under it */
        if (listed_twice(all, n_all, rows[i].key))
            continue; /* see duplicate_block_first_row_wins */
        mac_of(rows[i].key << (48 - bits) | (low & 0x5a5a5a5a5a5aull), mac);
        if (mac[0] & 3)
            continue; /* group or local bit: never a vendor */
        cr_assert_eq(pt_oui_lookup(reg, mac, &m), PT_OUI_VENDOR, "%s %09llx", file,
                     (unsigned long long)rows[i].key);
        cr_assert_eq(m.bits, bits);
        cr_assert_str_eq(m.vendor, rows[i].name);
        cr_assert_eq(m.vendor_len, strlen(rows[i].name));
        checked++;
    }
    cr_assert_gt(checked, n * 9 / 10);
}

Test(oui, ma_l_rows, .init = reg_load, .fini = reg_free)
{
    check_file("oui.csv", "MA-L", 24);
}

Test(oui, ma_m_rows, .init = reg_load, .fini = reg_free)
{
    check_file("mam.csv", "MA-M", 28);
}

Test(oui, ma_s_rows, .init = reg_load, .fini = reg_free)
{
    check_file("oui36.csv", "MA-S", 36);
}

Test(oui, iab_rows, .init = reg_load, .fini = reg_free)
{
    check_file("iab.csv", "IAB", 36);
}

/* A MAC inside a 36-bit block under 70:B3:D5 (a MA-L of the IEEE RA) names
 * the block's owner; a MAC of an unassigned 36-bit block there names the
 * MA-L owner; the same for a 28-bit block. */
Test(oui, longest_match, .init = reg_load, .fini = reg_free)
{
    static struct row s[8000], m28[8000];
    static uint64_t all_s[8000];
    size_t n_all = 0, ns = read_rows("oui36.csv", "MA-S", s, PT_ARRAY_LEN(s), all_s, &n_all);
    size_t nm = read_rows("mam.csv", "MA-M", m28, PT_ARRAY_LEN(m28), NULL, NULL);
    struct pt_oui_match m;
    uint8_t mac[6];
    size_t i;

    for (i = 0; i < ns && s[i].key >> 12 != 0x70b3d5; i++)
        ;
    cr_assert_lt(i, ns);
    mac_of(s[i].key << 12 | 0x123, mac);
    cr_assert_eq(pt_oui_lookup(reg, mac, &m), PT_OUI_VENDOR);
    cr_assert_eq(m.bits, 36);
    cr_assert_str_eq(m.vendor, s[i].name);

    uint64_t free36 = 0;
    for (uint64_t k = 0x70b3d5000ull; k <= 0x70b3d5fffull && !free36; k++) {
        bool used = false;
        for (size_t j = 0; j < n_all && !used; j++)
            used = all_s[j] == k;
        if (!used)
            free36 = k;
    }
    cr_assert_neq(free36, 0, "no unassigned 36-bit block under 70:B3:D5");
    mac_of(free36 << 12, mac);
    cr_assert_eq(pt_oui_lookup(reg, mac, &m), PT_OUI_VENDOR);
    cr_assert_eq(m.bits, 24);
    cr_assert_str_eq(m.vendor, "IEEE Registration Authority");

    cr_assert_gt(nm, 0);
    mac_of(m28[0].key << 20 | 0xabcde, mac);
    cr_assert_eq(pt_oui_lookup(reg, mac, &m), PT_OUI_VENDOR);
    cr_assert_eq(m.bits, 28);
    cr_assert_str_eq(m.vendor, m28[0].name);
}

/* 08:00:30 is listed three times in the 2022 registry: the first row wins. */
Test(oui, duplicate_block_first_row_wins, .init = reg_load, .fini = reg_free)
{
    static struct row rows[40000];
    size_t n = read_rows("oui.csv", "MA-L", rows, PT_ARRAY_LEN(rows), NULL, NULL);
    const uint8_t mac[6] = {0x08, 0x00, 0x30, 1, 2, 3};
    struct pt_oui_match m;
    size_t i;

    for (i = 0; i < n && rows[i].key != 0x080030; i++)
        ;
    cr_assert_lt(i, n);
    cr_assert_eq(pt_oui_lookup(reg, mac, &m), PT_OUI_VENDOR);
    cr_assert_str_eq(m.vendor, rows[i].name);
    cr_assert_geq(pt_oui_stats(reg)[PT_OUI_ST_DUPLICATE], 3);
    cr_assert_gt(pt_oui_stats(reg)[PT_OUI_ST_MA_L], 30000);
    cr_assert_gt(pt_oui_stats(reg)[PT_OUI_ST_MA_M], 4000);
    cr_assert_gt(pt_oui_stats(reg)[PT_OUI_ST_MA_S], 9000, "MA-S and IAB");
    cr_assert_eq(pt_oui_stats(reg)[PT_OUI_ST_BAD_ROW], 0);
    cr_assert_eq(pt_oui_stats(reg)[PT_OUI_ST_NAME_TRUNC], 0);
}

Test(oui, kinds, .init = reg_load, .fini = reg_free)
{
    static const struct {
        uint8_t mac[6];
        enum pt_oui_kind kind;
    } t[] = {
        {{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, PT_OUI_BROADCAST},
        {{0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb}, PT_OUI_MULTICAST},
        {{0x33, 0x33, 0x00, 0x00, 0x00, 0x01}, PT_OUI_MULTICAST},
        {{0xff, 0xff, 0xff, 0xff, 0xff, 0xfe}, PT_OUI_MULTICAST},
        {{0x02, 0x42, 0xac, 0x11, 0x00, 0x02}, PT_OUI_LOCAL},
        {{0x0a, 0x00, 0x27, 0x00, 0x00, 0x00}, PT_OUI_LOCAL},
        {{0x00, 0x1d, 0x09, 0xf0, 0x92, 0xab}, PT_OUI_VENDOR},
    };
    struct pt_oui_match m;

    for (size_t i = 0; i < PT_ARRAY_LEN(t); i++) {
        cr_assert_eq(pt_oui_lookup(reg, t[i].mac, &m), t[i].kind, "case %zu", i);
        cr_assert_eq(m.kind, t[i].kind);
        if (t[i].kind != PT_OUI_VENDOR) {
            cr_assert_str_empty(m.vendor);
            cr_assert_eq(m.bits, 0);
        }
    }
    /* a universally administered unicast MAC in no block */
    static struct row rows[40000];
    static uint64_t all[40000];
    size_t n_all = 0;
    read_rows("oui.csv", "MA-L", rows, PT_ARRAY_LEN(rows), all, &n_all);
    uint64_t k = 0;
    for (bool used = true; used; k += 4) {
        used = false;
        for (size_t j = 0; j < n_all && !used; j++)
            used = all[j] == k;
    }
    uint8_t mac[6];
    mac_of((k - 4) << 24 | 1, mac);
    cr_assert_eq(pt_oui_lookup(reg, mac, &m), PT_OUI_UNKNOWN, "%06llx",
                 (unsigned long long)(k - 4));
    cr_assert_str_empty(m.vendor);
    /* no registry loaded: unicast is unknown, the rest still classified */
    cr_assert_eq(pt_oui_lookup(NULL, t[6].mac, &m), PT_OUI_UNKNOWN);
    cr_assert_eq(pt_oui_lookup(NULL, t[1].mac, &m), PT_OUI_MULTICAST);
    cr_assert_str_eq(pt_oui_kind_name(PT_OUI_LOCAL), "local");
    cr_assert_str_eq(pt_oui_stat_name(PT_OUI_ST_DUPLICATE), "enrich.oui.duplicate");
}

/* ---- the MACs of the shared captures --------------------------------------- */

static unsigned check_capture_tsv(const char *path, unsigned *n_tshark, unsigned *same_tshark)
{
    char *buf = pt_test_slurp(path, NULL);
    unsigned n = 0;

    cr_assert_not_null(buf, "%s", path);
    for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
        char *f[5], *p = line;
        if (line[0] == '#')
            continue;
        for (int i = 0; i < 5; i++) {
            f[i] = p;
            p = strchr(p, '\t');
            if (i < 4) {
                cr_assert_not_null(p, "%s: %s", path, line);
                *p++ = 0;
            }
        }
        unsigned v[6];
        uint8_t mac[6];
        struct pt_oui_match m;
        cr_assert_eq(sscanf(f[0], "%x:%x:%x:%x:%x:%x", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]),
                     6);
        for (int i = 0; i < 6; i++)
            mac[i] = (uint8_t)v[i];
        pt_oui_lookup(reg, mac, &m);
        cr_assert_str_eq(pt_oui_kind_name(m.kind), f[1], "%s %s", path, f[0]);
        cr_assert_eq(m.bits, (unsigned)atoi(f[2]), "%s %s", path, f[0]);
        cr_assert_str_eq(m.kind == PT_OUI_VENDOR ? m.vendor : "-", f[3], "%s %s", path, f[0]);
        if (m.kind == PT_OUI_VENDOR && strcmp(f[4], "-")) {
            (*n_tshark)++;
            *same_tshark += !strcasecmp(m.vendor, f[4]);
        }
        n++;
    }
    free(buf);
    return n;
}

/* The expected TSVs of the shared captures: a malloc'd NUL-separated list. */
static size_t capture_tsvs(char ***paths)
{
    char cmd[512], *out = NULL;
    size_t n = 0;

    snprintf(cmd, sizeof cmd, "find '%s' -name '*.oui.tsv' | sort", pt_test_src("tests/expected"));
    cr_assert_eq(pt_test_run(cmd, &out, NULL), 0);
    *paths = calloc(1024, sizeof **paths);
    for (char *p = out, *nl; *p; p = nl + 1) {
        nl = strchr(p, '\n');
        cr_assert_not_null(nl);
        *nl = 0;
        cr_assert_lt(n, 1024);
        (*paths)[n++] = strdup(p);
    }
    free(out);
    return n;
}

Test(oui, shared_capture_macs, .init = reg_load, .fini = reg_free)
{
    char **paths;
    size_t files = capture_tsvs(&paths);
    unsigned macs = 0, n_tshark = 0, same_tshark = 0;

    cr_assert_gt(files, 50);
    for (size_t i = 0; i < files; i++) {
        macs += check_capture_tsv(paths[i], &n_tshark, &same_tshark);
        free(paths[i]);
    }
    free(paths);
    cr_assert_gt(macs, 200);
    /* Wireshark's manuf names are the registry's, re-cased or shortened for
     * some vendors (2023 run: 133 of 158 equal ignoring case) */
    cr_assert_gt(same_tshark * 10, n_tshark * 8, "%u of %u", same_tshark, n_tshark);
}

/* Arkime's session files name the OUI vendors of their captures (from
 * Wireshark's manuf). Each name must be, ignoring case, the registry vendor
 * of a MAC of that capture. */
/* Whether a line of expected TSV @tsv has vendor @want (ignoring case). */
static bool tsv_has_vendor(const char *tsv, const char *want)
{
    size_t n = strlen(want);

    for (const char *line = tsv; line && *line; line = strchr(line, '\n'), line += !!line) {
        const char *v = line;
        for (int k = 0; k < 3 && v; k++)
            v = strchr(v, '\t'), v += !!v;
        if (v && !strncasecmp(v, want, n) && v[n] == '\t')
            return true;
    }
    return false;
}

Test(oui, arkime_oui_names, .init = reg_load, .fini = reg_free)
{
    /* Arkime's name -> the registry's, where they differ by more than case */
    static const char *const renamed[][2] = {
        {"Fortinet Inc.", "Fortinet, Inc."},
    };
    static const char *const caps[] = {
        "arp/arkime_cloudshark-arp", "dhcp/arkime_wireshark-dhcp",
        "dns/arkime_dns-udp",        "http/arkime_http-simple-get",
        "ipv6/arkime_v6-http",       "tcp/arkime_wireshark-retrans",
        "tls/arkime_tls13",          "tls/arkime_tls-split-client-hello",
        "vlan/arkime_twovlan",
    };
    unsigned names = 0;

    for (size_t c = 0; c < PT_ARRAY_LEN(caps); c++) {
        char rel[256], *json, *tsv;

        snprintf(rel, sizeof rel, "pcap/%s.arkime.test.json", caps[c]);
        json = pt_test_slurp(pt_test_data(rel), NULL);
        cr_assert_not_null(json, "%s", rel);
        snprintf(rel, sizeof rel, "tests/expected/%s.pcap.oui.tsv", caps[c]);
        tsv = pt_test_slurp(pt_test_src(rel), NULL);
        cr_assert_not_null(tsv, "%s", rel);
        /* "srcOui" : [ "A", "B" ] and "dstOui" the same */
        for (char *p = json; (p = strstr(p, "Oui\" : [")) != NULL;) {
            char *end = strchr(p, ']');
            cr_assert_not_null(end);
            for (char *q = strchr(p, '"') + 1; (q = strchr(q + 1, '"')) && q < end;) {
                char *close = strchr(q + 1, '"'), want[256];
                snprintf(want, sizeof want, "%.*s", (int)(close - q - 1), q + 1);
                for (size_t k = 0; k < PT_ARRAY_LEN(renamed); k++)
                    if (!strcmp(want, renamed[k][0]))
                        snprintf(want, sizeof want, "%s", renamed[k][1]);
                cr_assert(tsv_has_vendor(tsv, want),
                          "%s: Arkime names '%s', which no MAC of it has", caps[c], want);
                names++;
                q = close;
            }
            p = end;
        }
        free(json);
        free(tsv);
    }
    cr_assert_gt(names, 15);
}

/* ---- load errors and malformed CSV ------------------------------------------ */

Test(oui, missing_files_are_errors)
{
    char err[PT_OUI_ERR_MAX], dir[64] = "/tmp/pt-oui-XXXXXX", cmd[256];

    cr_assert_null(pt_oui_create("/nonexistent", err));
    cr_assert_str_eq(err,
                     "OUI registry /nonexistent/oui.csv: cannot read: No such file or directory");
    /* the three required files present, iab.csv absent: loads */
    cr_assert_not_null(mkdtemp(dir));
    snprintf(cmd, sizeof cmd, "cp %s/oui.csv %s/mam.csv %s/oui36.csv %s/", PT_OUI_DIR, PT_OUI_DIR,
             PT_OUI_DIR, dir);
    cr_assert_eq(system(cmd), 0);
    struct pt_oui *o = pt_oui_create(dir, err);
    cr_assert_not_null(o, "%s", err);
    cr_assert_lt(pt_oui_stats(o)[PT_OUI_ST_MA_S], 6000, "no IAB rows");
    pt_oui_destroy(o);
    /* an empty mam.csv: no usable rows */
    snprintf(cmd, sizeof cmd, ": > %s/mam.csv", dir);
    cr_assert_eq(system(cmd), 0);
    cr_assert_null(pt_oui_create(dir, err));
    cr_assert(strstr(err, "/mam.csv: no usable rows"), "%s", err);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
    pt_oui_destroy(NULL);
}

static struct pt_oui *mem(const char *l, const char *m, const char *s, const char *iab)
{
    const char *csv[4] = {l, m, s, iab};
    size_t len[4] = {l ? strlen(l) : 0, m ? strlen(m) : 0, s ? strlen(s) : 0,
                     iab ? strlen(iab) : 0};
    char err[PT_OUI_ERR_MAX];
    struct pt_oui *o = pt_oui_create_mem(csv, len, err);

    cr_assert_not_null(o, "%s", err);
    return o;
}

static const char *vendor(const struct pt_oui *o, uint64_t mac48, unsigned *bits)
{
    static struct pt_oui_match m;
    uint8_t mac[6];

    mac_of(mac48, mac);
    pt_oui_lookup(o, mac, &m);
    if (bits)
        *bits = m.bits;
    return m.kind == PT_OUI_VENDOR ? m.vendor : NULL;
}

Test(oui, csv_quotes_newlines_and_line_ends)
{
    struct pt_oui *o = mem("Registry,Assignment,Organization Name,Organization Address\r\n"
                           "MA-L,001122,\"A \"\"B\"\", C\",\"street\r\ncity, land\"\r\n"
                           "\r\n"
                           "MA-L,001123,Plain,addr\n"
                           "MA-L,001124,Last row without newline,x",
                           "MA-M,0011223,CR only\r", "MA-S,001122334,S,x\n", NULL);
    unsigned bits;

    cr_assert_str_eq(vendor(o, 0x001122aabbccull, &bits), "A \"B\", C");
    cr_assert_eq(bits, 24);
    cr_assert_str_eq(vendor(o, 0x001123000000ull, NULL), "Plain");
    cr_assert_str_eq(vendor(o, 0x001124000000ull, NULL), "Last row without newline");
    cr_assert_str_eq(vendor(o, 0x0011223fffffull, &bits), "CR only");
    cr_assert_eq(bits, 28);
    cr_assert_str_eq(vendor(o, 0x001122334fffull, &bits), "S");
    cr_assert_eq(bits, 36);
    cr_assert_eq(pt_oui_stats(o)[PT_OUI_ST_BAD_ROW], 0);
    cr_assert_eq(pt_oui_stats(o)[PT_OUI_ST_MA_L], 3);
    pt_oui_destroy(o);
}

Test(oui, csv_bad_rows_counted)
{
    struct pt_oui *o = mem("MA-L,ZZZZZZ,bad hex\n"
                           "MA-L,00112,five digits\n"
                           "MA-L,0011223,seven digits\n"
                           "MA-M,001122,wrong registry for the file\n"
                           "MA-L,001122\n"
                           "garbage\n"
                           "MA-L,aabbcc,lower case hex is fine\n"
                           "MA-L,001199,\"quote never closed\n",
                           "MA-M,0011223,m\n", "MA-S,001122334,s\n", "IAB,12345678,eight\n");

    cr_assert_eq(pt_oui_stats(o)[PT_OUI_ST_BAD_ROW], 8);
    cr_assert_eq(pt_oui_stats(o)[PT_OUI_ST_MA_L], 1);
    cr_assert_str_eq(vendor(o, 0xa8bbcc000001ull & ~0x020000000000ull, NULL) ?: "-", "-");
    cr_assert_str_eq(vendor(o, 0xaabbcc000001ull & ~0x030000000000ull, NULL) ?: "-", "-");
    cr_assert_null(vendor(o, 0x001199000000ull, NULL));
    pt_oui_destroy(o);

    /* aa:bb:cc has the local bit: a row for it loads but never answers */
    o = mem("MA-L,A8BBCC,lower\nMA-L,a8bbcd,lower too\n", "MA-M,0011223,m\n", "MA-S,001122334,s\n",
            NULL);
    cr_assert_str_eq(vendor(o, 0xa8bbcd000000ull, NULL), "lower too");
    cr_assert_str_eq(vendor(o, 0xa8bbcc000000ull, NULL), "lower");
    pt_oui_destroy(o);
}

Test(oui, csv_long_names_duplicates_and_nul)
{
    char l[1024], name[300];
    unsigned bits;

    /* 126 'x' then U+00E9 across the 127-byte limit */
    memset(name, 'x', sizeof name - 1);
    name[sizeof name - 1] = 0;
    memcpy(name + 126, "\xc3\xa9", 2);
    snprintf(l, sizeof l, "MA-L,001122,%s\nMA-L,001133,first\nMA-L,001133,second\n", name);
    size_t n = strlen(l);
    memcpy(l + n, "MA-L,001144,a\0b\n", 16); /* a NUL inside a name */
    const char *csv[4] = {l, "MA-M,0011223,m\n", "MA-S,001122334,s\n", NULL};
    size_t len[4] = {n + 16, 15, 17, 0};
    char err[PT_OUI_ERR_MAX];
    struct pt_oui *o = pt_oui_create_mem(csv, len, err);
    struct pt_oui_match m;
    uint8_t mac[6];

    cr_assert_not_null(o, "%s", err);
    mac_of(0x001122000000ull, mac);
    cr_assert_eq(pt_oui_lookup(o, mac, &m), PT_OUI_VENDOR);
    cr_assert_eq(m.vendor_len, 126, "cut before the split UTF-8 sequence");
    cr_assert_eq(strlen(m.vendor), 126);
    cr_assert_eq(pt_oui_stats(o)[PT_OUI_ST_NAME_TRUNC], 1);
    cr_assert_str_eq(vendor(o, 0x001133000000ull, &bits), "first");
    cr_assert_eq(pt_oui_stats(o)[PT_OUI_ST_DUPLICATE], 1);
    mac_of(0x001144000000ull, mac);
    cr_assert_eq(pt_oui_lookup(o, mac, &m), PT_OUI_VENDOR);
    cr_assert_eq(m.vendor_len, 3);
    cr_assert_eq(memcmp(m.vendor, "a\0b", 4), 0);
    pt_oui_destroy(o);
}
