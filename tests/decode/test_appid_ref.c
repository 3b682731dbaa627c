/* test_appid_ref.c - pt_appid on the shared captures against other tools.
 *
 * Every TCP/UDP connection of a capture (tests/support/streams.h) is fed to
 * pt_appid the way the flow table will: segments of both directions in
 * capture (frame) order, until DONE, at most PT_APPID_K per direction; a
 * connection without payload gets its port guess. The result is compared
 * with the answers normalised by tests/tools/gen-expected-appid.sh:
 *   appid_ref/ndpi    nDPI's per-flow protocol (master of "TLS.Google"), every
 *                     capture with a *.ndpi.out: >= 90% agreement on the flows
 *                     whose nDPI protocol we name (unknown included);
 *   appid_ref/tshark  tshark's first protocol above TCP/UDP: >= 90% likewise;
 *   appid_ref/zeek    Zeek's conn.log `service` where Zeek set one: equal;
 *   appid_ref/arkime  Arkime's session `protocol` list: contains ours.
 * With PT_APPID_ACCURACY_DIR set, ndpi and tshark also write their confusion
 * tables (markdown) there; tests/tools/gen-appid-accuracy.sh puts them in
 * docs/ACCURACY.md. */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pt/appid.h"
#include "pt/decode.h"
#include "support/streams.h"
#include "support/support.h"

struct ref_row {
    uint8_t proto;
    uint8_t a[16], b[16];
    uint16_t ap, bp;
    char label[160];
};

static void addr_parse(const char *s, uint8_t out[16])
{
    memset(out, 0, 16);
    if (inet_pton(AF_INET, s, out + 12) == 1) {
        out[10] = out[11] = 0xff;
        return;
    }
    cr_assert_eq(inet_pton(AF_INET6, s, out), 1, "bad address %s", s);
}

/* Rows of a normalised reference file; NULL when it does not exist. */
static struct ref_row *rows_load(const char *path, size_t *n)
{
    FILE *f = fopen(path, "r");
    struct ref_row *v = NULL;
    size_t cap = 0;
    char line[512];

    *n = 0;
    if (!f)
        return NULL;
    while (fgets(line, sizeof line, f)) {
        char proto[8], a[64], b[64], label[160];
        unsigned ap, bp;

        if (line[0] == '#')
            continue;
        line[strcspn(line, "\n")] = 0;
        cr_assert_eq(
            sscanf(line, "%7s\t%63s\t%u\t%63s\t%u\t%159[^\n]", proto, a, &ap, b, &bp, label), 6,
            "%s: bad line %s", path, line);
        if (*n == cap) {
            cap = cap ? cap * 2 : 64;
            v = realloc(v, cap * sizeof *v);
            cr_assert_not_null(v);
        }
        v[*n].proto = strcmp(proto, "tcp") == 0 ? 6 : strcmp(proto, "udp") == 0 ? 17 : 1;
        addr_parse(a, v[*n].a);
        addr_parse(b, v[*n].b);
        v[*n].ap = (uint16_t)ap;
        v[*n].bp = (uint16_t)bp;
        snprintf(v[*n].label, sizeof v[*n].label, "%s", label);
        (*n)++;
    }
    fclose(f);
    if (!v)
        v = calloc(1, sizeof *v);
    return v;
}

static const struct pt_test_conn *conn_find(const struct pt_test_conns *cs, const struct ref_row *r)
{
    for (size_t i = 0; i < cs->n; i++) {
        const struct pt_test_conn *k = &cs->conn[i];

        if (k->proto != r->proto)
            continue;
        if ((memcmp(k->addr[0], r->a, 16) == 0 && k->port[0] == r->ap &&
             memcmp(k->addr[1], r->b, 16) == 0 && k->port[1] == r->bp) ||
            (memcmp(k->addr[0], r->b, 16) == 0 && k->port[0] == r->bp &&
             memcmp(k->addr[1], r->a, 16) == 0 && k->port[1] == r->ap))
            return k;
    }
    return NULL;
}

/* Classify one connection as the flow table will feed it. */
static enum pt_app conn_classify(const struct pt_test_conn *k, struct pt_appid_stats *st,
                                 bool *by_port)
{
    struct pt_appid a;
    size_t i[2] = {0, 0};

    pt_appid_init(&a, k->proto, k->port[0], k->port[1]);
    while (!pt_appid_done(&a) && (i[0] < k->n_seg[0] || i[1] < k->n_seg[1])) {
        unsigned d;
        const struct pt_test_seg *s;

        if (i[0] >= k->n_seg[0])
            d = 1;
        else if (i[1] >= k->n_seg[1])
            d = 0;
        else
            d = k->seg[0][i[0]].frame < k->seg[1][i[1]].frame ? 0 : 1;
        s = &k->seg[d][i[d]++];
        if (a.seen[d] < PT_APPID_K)
            pt_appid_feed(&a, st, k->proto, d, k->port[0], k->port[1], s->data, s->len);
    }
    if (by_port)
        *by_port = pt_appid_by_port(&a);
    return pt_appid_result(&a);
}

/* ---- label mappings ---------------------------------------------------------- */

/* Our apps a reference label stands for: a bitmask over enum pt_app; 0 when
 * the label is outside our list. */
#define M(x) (1u << (x))

static uint32_t ndpi_mask(const char *label)
{
    static const struct {
        const char *n;
        uint32_t m;
    } t[] = {
        {"Unknown", M(PT_APP_UNKNOWN)},
        {"HTTP", M(PT_APP_HTTP)},
        {"TLS", M(PT_APP_TLS)},
        {"QUIC", M(PT_APP_QUIC)},
        {"DNS", M(PT_APP_DNS)},
        {"MDNS", M(PT_APP_MDNS)},
        {"LLMNR", M(PT_APP_LLMNR)},
        {"NetBIOS", M(PT_APP_NETBIOS_NS) | M(PT_APP_NETBIOS_DGM) | M(PT_APP_NETBIOS_SSN)},
        {"SSDP", M(PT_APP_SSDP)},
        {"SSH", M(PT_APP_SSH)},
        {"SMTP", M(PT_APP_SMTP)},
        {"IMAP", M(PT_APP_IMAP)},
        {"POP3", M(PT_APP_POP3)},
        {"FTP_CONTROL", M(PT_APP_FTP)},
        {"NTP", M(PT_APP_NTP)},
        {"DHCP", M(PT_APP_DHCP)},
        {"DHCPV6", M(PT_APP_DHCPV6)},
        {"SNMP", M(PT_APP_SNMP)},
        {"SIP", M(PT_APP_SIP)},
        {"RTP", M(PT_APP_RTP)},
        {"RDP", M(PT_APP_RDP)},
        {"SMBv1", M(PT_APP_SMB)},
        {"SMBv23", M(PT_APP_SMB)},
        {"MQTT", M(PT_APP_MQTT)},
        {"BitTorrent", M(PT_APP_BITTORRENT)},
        {"STUN", M(PT_APP_STUN)},
        {"Telnet", M(PT_APP_TELNET)},
        {"LDAP", M(PT_APP_LDAP)},
        {"Kerberos", M(PT_APP_KERBEROS)},
        {"Syslog", M(PT_APP_SYSLOG)},
    };
    size_t n = strcspn(label, ".");

    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (strlen(t[i].n) == n && strncmp(t[i].n, label, n) == 0)
            return t[i].m;
    return 0;
}

static uint32_t tshark_mask(const char *chain)
{
    static const struct {
        const char *n;
        uint32_t m;
    } t[] = {
        {"http", M(PT_APP_HTTP)},
        {"tls", M(PT_APP_TLS)},
        {"ssl", M(PT_APP_TLS)},
        {"quic", M(PT_APP_QUIC)},
        {"gquic", M(PT_APP_QUIC)},
        {"dns", M(PT_APP_DNS)},
        {"mdns", M(PT_APP_MDNS)},
        {"llmnr", M(PT_APP_LLMNR)},
        {"nbns", M(PT_APP_NETBIOS_NS)},
        {"nbdgm", M(PT_APP_NETBIOS_DGM)},
        {"ssdp", M(PT_APP_SSDP)},
        {"ssh", M(PT_APP_SSH)},
        {"smtp", M(PT_APP_SMTP)},
        {"imap", M(PT_APP_IMAP)},
        {"pop", M(PT_APP_POP3)},
        {"ftp", M(PT_APP_FTP)},
        {"ntp", M(PT_APP_NTP)},
        {"dhcp", M(PT_APP_DHCP)},
        {"bootp", M(PT_APP_DHCP)},
        {"dhcpv6", M(PT_APP_DHCPV6)},
        {"snmp", M(PT_APP_SNMP)},
        {"sip", M(PT_APP_SIP)},
        {"rtp", M(PT_APP_RTP)},
        {"smb", M(PT_APP_SMB)},
        {"smb2", M(PT_APP_SMB)},
        {"mqtt", M(PT_APP_MQTT)},
        {"bittorrent", M(PT_APP_BITTORRENT)},
        {"stun", M(PT_APP_STUN)},
        {"telnet", M(PT_APP_TELNET)},
        {"ldap", M(PT_APP_LDAP)},
        {"cldap", M(PT_APP_LDAP)},
        {"kerberos", M(PT_APP_KERBEROS)},
        {"syslog", M(PT_APP_SYSLOG)},
    };
    size_t n = strcspn(chain, ":");

    if (strncmp(chain, "nbss", 4) == 0 && n == 4)
        return strstr(chain, ":smb") ? M(PT_APP_SMB) : M(PT_APP_NETBIOS_SSN);
    if (strncmp(chain, "tpkt", 4) == 0 && strstr(chain, ":rdp"))
        return M(PT_APP_RDP);
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (strlen(t[i].n) == n && strncmp(t[i].n, chain, n) == 0)
            return t[i].m;
    return 0;
}

/* ---- the comparison and its confusion table ---------------------------------- */

#define MAX_PAIRS 128

struct pair {
    char ref[32];
    unsigned ours;
    unsigned n;
};

struct tally {
    unsigned compared, agreed, outside, missing;
    struct pair pair[MAX_PAIRS];
    unsigned n_pair;
    char disagree[4096]; /* the first disagreements, for the failure message */
};

static void tally_add(struct tally *t, const char *ref, unsigned ours)
{
    char key[32];

    snprintf(key, sizeof key, "%.*s", (int)strcspn(ref, "."), ref);
    for (unsigned i = 0; i < t->n_pair; i++)
        if (t->pair[i].ours == ours && strcmp(t->pair[i].ref, key) == 0) {
            t->pair[i].n++;
            return;
        }
    cr_assert_lt(t->n_pair, MAX_PAIRS);
    snprintf(t->pair[t->n_pair].ref, sizeof t->pair[0].ref, "%s", key);
    t->pair[t->n_pair].ours = ours;
    t->pair[t->n_pair++].n = 1;
}

static int pair_cmp(const void *x, const void *y)
{
    const struct pair *a = x, *b = y;
    int c = strcmp(a->ref, b->ref);

    return c ? c : (int)a->ours - (int)b->ours;
}

/* Reference conversations that are not connections of ours, and why. */
static bool known_missing(const char *rel, const struct ref_row *r)
{
    /* tshark keys the conversation by the type 0 routing header's final
     * destination, streams.h by the IPv6 header's (docs/ACCURACY.md) */
    return strcmp(rel, "pcap/ipv6/zeek_ipv6-hbh-routing0.pcap") == 0 && r->ap == 53 && r->bp == 53;
}

/* Compare the flows of one capture (@rel under the test data) with @rows. */
static void compare_capture(struct tally *t, const char *rel, const struct ref_row *rows, size_t n,
                            uint32_t (*mask)(const char *))
{
    struct pt_test_conns cs;
    struct pt_appid_stats st;

    pt_appid_stats_init(&st);
    pt_test_conns_load(&cs, rel);
    for (size_t i = 0; i < n; i++) {
        const struct pt_test_conn *k = conn_find(&cs, &rows[i]);
        uint32_t m = mask(rows[i].label);
        enum pt_app ours;
        char ab[INET6_ADDRSTRLEN];

        if (!m || rows[i].proto == 1) { /* ICMP flows: not ours to classify */
            t->outside++;
            tally_add(t, rows[i].label, PT_APP_MAX);
            continue;
        }
        if (!k && known_missing(rel, &rows[i]))
            continue;
        t->compared++;
        if (!k) {
            t->missing++;
            snprintf(t->disagree + strlen(t->disagree), sizeof t->disagree - strlen(t->disagree),
                     "  %s: port %u<->%u (%s) not found\n", rel, rows[i].ap, rows[i].bp,
                     rows[i].label);
            continue;
        }
        ours = conn_classify(k, &st, NULL);
        tally_add(t, rows[i].label, ours);
        if (m & M(ours)) {
            t->agreed++;
        } else if (strlen(t->disagree) < sizeof t->disagree - 300) {
            inet_ntop(AF_INET6, rows[i].a, ab, sizeof ab);
            snprintf(t->disagree + strlen(t->disagree), sizeof t->disagree - strlen(t->disagree),
                     "  %s %s port %u<->%u: reference %s, ours %s\n", rel,
                     rows[i].proto == 6 ? "tcp" : "udp", rows[i].ap, rows[i].bp, rows[i].label,
                     pt_app_name(ours));
        }
    }
    pt_test_conns_free(&cs);
}

static void tally_write(const struct tally *t, const char *name, const char *title,
                        const char *captures)
{
    const char *dir = getenv("PT_APPID_ACCURACY_DIR");
    struct pair sorted[MAX_PAIRS];
    char path[4096];
    FILE *f;

    if (!dir)
        return;
    snprintf(path, sizeof path, "%s/%s.md", dir, name);
    f = fopen(path, "w");
    cr_assert_not_null(f, "%s", path);
    memcpy(sorted, t->pair, t->n_pair * sizeof sorted[0]);
    qsort(sorted, t->n_pair, sizeof sorted[0], pair_cmp);
    fprintf(f, "### %s\n\nCaptures: %s.\n\n", title, captures);
    fprintf(f,
            "Flows compared: %u; agreeing: %u (%.1f%%); reference flows not found among ours: "
            "%u; flows whose reference label is outside our list (not counted): %u.\n\n",
            t->compared, t->agreed, t->compared ? 100.0 * t->agreed / t->compared : 0.0, t->missing,
            t->outside);
    fprintf(f, "| reference label | ours | flows | agrees |\n|---|---|---|---|\n");
    for (unsigned i = 0; i < t->n_pair; i++) {
        uint32_t m =
            strcmp(name, "ndpi") == 0 ? ndpi_mask(sorted[i].ref) : tshark_mask(sorted[i].ref);
        fprintf(f, "| %s | %s | %u | %s |\n", sorted[i].ref,
                sorted[i].ours == PT_APP_MAX ? "(outside our list)" : pt_app_name(sorted[i].ours),
                sorted[i].n,
                sorted[i].ours == PT_APP_MAX ? "-"
                : (m & M(sorted[i].ours))    ? "yes"
                                             : "**no**");
    }
    fprintf(f, "\n");
    fclose(f);
}

Test(appid_ref, ndpi, .timeout = 120)
{
    static struct tally t;
    char pattern[4096], list[2048] = "";
    glob_t g;

    snprintf(pattern, sizeof pattern, "%s/*/*.ndpi.out", pt_test_data("pcap"));
    cr_assert_eq(glob(pattern, 0, NULL, &g), 0, "no *.ndpi.out under %s", pattern);
    for (size_t i = 0; i < g.gl_pathc; i++) {
        char rel[1024], cap[1100], exp[4096], *dot;
        const char *p = strstr(g.gl_pathv[i], "/pcap/");
        struct ref_row *rows;
        size_t n;

        cr_assert_not_null(p);
        snprintf(rel, sizeof rel, "%s", p + 1); /* pcap/<cat>/<stem>.ndpi.out */
        dot = strstr(rel, ".ndpi.out");
        *dot = 0;
        snprintf(cap, sizeof cap, "%s.pcap", rel);
        if (access(pt_test_data(cap), R_OK) != 0)
            snprintf(cap, sizeof cap, "%s.pcapng", rel);
        snprintf(exp, sizeof exp, "%s/tests/expected/%s.ndpi-appid.tsv", getenv("PT_SRCDIR"),
                 cap + strlen("pcap/"));
        rows = rows_load(exp, &n);
        cr_assert_not_null(rows, "%s: no %s (run tests/tools/gen-expected-appid.sh)", cap, exp);
        compare_capture(&t, cap, rows, n, ndpi_mask);
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s`%s` (%zu)", i ? ", " : "",
                 cap, n);
        free(rows);
    }
    globfree(&g);
    tally_write(&t, "ndpi", "nDPI (`*.ndpi.out`, ndpiReader results shipped with the captures)",
                list);
    cr_assert_geq(t.compared, 150, "only %u flows compared", t.compared);
    cr_expect_eq(t.missing, 0, "%u nDPI flows not found among our connections:\n%s", t.missing,
                 t.disagree);
    cr_assert_geq(t.agreed * 100, t.compared * 90, "agreement %u/%u below 90%%:\n%s", t.agreed,
                  t.compared, t.disagree);
}

Test(appid_ref, tshark, .timeout = 300)
{
    static struct tally t;
    char pattern[4096];
    unsigned files = 0;
    glob_t g;

    snprintf(pattern, sizeof pattern, "%s/*/*.appid.tsv", pt_test_src("tests/expected"));
    cr_assert_eq(glob(pattern, 0, NULL, &g), 0, "no %s", pattern);
    for (size_t i = 0; i < g.gl_pathc; i++) {
        const char *p = strstr(g.gl_pathv[i], "/tests/expected/");
        char cap[1024];
        struct ref_row *rows;
        size_t n;

        if (strstr(g.gl_pathv[i], "-appid.tsv"))
            continue; /* the other projects' answers, not tshark's */
        snprintf(cap, sizeof cap, "pcap/%s", p + strlen("/tests/expected/"));
        cap[strlen(cap) - strlen(".appid.tsv")] = 0;
        rows = rows_load(g.gl_pathv[i], &n);
        cr_assert_not_null(rows);
        compare_capture(&t, cap, rows, n, tshark_mask);
        free(rows);
        files++;
    }
    globfree(&g);
    {
        char what[64];
        snprintf(what, sizeof what, "all %u captures under `pcap/` except `bench/`", files);
        tally_write(&t, "tshark",
                    "tshark 4.0.17 (first protocol above TCP/UDP in `frame.protocols`)", what);
    }
    cr_assert_geq(files, 70);
    cr_expect_eq(t.missing, 0, "%u tshark conversations not found among ours:\n%s", t.missing,
                 t.disagree);
    cr_assert_geq(t.agreed * 100, t.compared * 90, "agreement %u/%u below 90%%:\n%s", t.agreed,
                  t.compared, t.disagree);
}

/* Zeek's service and Arkime's protocol list: every flow they name. */
static void compare_named(const char *suffix, bool arkime)
{
    char pattern[4096];
    unsigned checked = 0;
    glob_t g;

    snprintf(pattern, sizeof pattern, "%s/*/*.%s", pt_test_src("tests/expected"), suffix);
    cr_assert_eq(glob(pattern, 0, NULL, &g), 0, "no %s", pattern);
    for (size_t i = 0; i < g.gl_pathc; i++) {
        const char *p = strstr(g.gl_pathv[i], "/tests/expected/");
        struct pt_test_conns cs;
        struct pt_appid_stats st;
        struct ref_row *rows;
        char cap[1024];
        size_t n;

        snprintf(cap, sizeof cap, "pcap/%s", p + strlen("/tests/expected/"));
        cap[strlen(cap) - strlen(suffix) - 1] = 0;
        rows = rows_load(g.gl_pathv[i], &n);
        cr_assert_not_null(rows);
        pt_appid_stats_init(&st);
        pt_test_conns_load(&cs, cap);
        for (size_t r = 0; r < n; r++) {
            const struct pt_test_conn *k;
            enum pt_app ours;
            char want[170];

            if (arkime) {
                /* labels other than the transport and Arkime's test tag */
                snprintf(want, sizeof want, ",%s,", rows[r].label);
                if (strcmp(rows[r].label, "tcp") == 0 || strcmp(rows[r].label, "udp") == 0)
                    continue;
            } else if (strcmp(rows[r].label, "-") == 0) {
                continue;
            }
            k = conn_find(&cs, &rows[r]);
            cr_expect_not_null(k, "%s: port %u<->%u not found", cap, rows[r].ap, rows[r].bp);
            if (!k)
                continue;
            ours = conn_classify(k, &st, NULL);
            checked++;
            if (arkime) {
                char name[40];
                snprintf(name, sizeof name, ",%s,", pt_app_name(ours));
                cr_expect_not_null(strstr(want, name), "%s port %u<->%u: Arkime %s, ours %s", cap,
                                   rows[r].ap, rows[r].bp, rows[r].label, pt_app_name(ours));
            } else {
                cr_expect_str_eq(pt_app_zeek_service(ours), rows[r].label,
                                 "%s port %u<->%u: Zeek service %s, ours %s (%s)", cap, rows[r].ap,
                                 rows[r].bp, rows[r].label, pt_app_zeek_service(ours),
                                 pt_app_name(ours));
            }
        }
        pt_test_conns_free(&cs);
        free(rows);
    }
    globfree(&g);
    cr_assert_geq(checked, 10, "only %u flows checked", checked);
}

Test(appid_ref, zeek, .timeout = 60)
{
    compare_named("zeek-appid.tsv", false);
}

Test(appid_ref, arkime, .timeout = 60)
{
    compare_named("arkime-appid.tsv", true);
}

/* Bare flows: a capture's connections without payload still get a port
 * guess, and the guess is marked as such. */
Test(appid_ref, payload_decides_on_real_traffic, .timeout = 60)
{
    struct pt_test_conns cs;
    struct pt_appid_stats st;
    unsigned payload = 0, port = 0;

    pt_appid_stats_init(&st);
    pt_test_conns_load(&cs, "pcap/mixed/ndpi_1kxun.pcap");
    for (size_t i = 0; i < cs.n; i++) {
        bool by_port;
        enum pt_app a = conn_classify(&cs.conn[i], &st, &by_port);

        if (a == PT_APP_UNKNOWN)
            continue;
        if (by_port)
            port++;
        else
            payload++;
        if (cs.conn[i].n_seg[0] + cs.conn[i].n_seg[1] == 0)
            cr_expect(by_port, "conn %zu: no payload but not by port", i);
    }
    pt_test_conns_free(&cs);
    cr_expect_geq(payload, 150, "payload decisions: %u", payload);
    cr_expect_leq(port, 20, "port guesses: %u", port);
    for (unsigned r = 0; r < PT_APPID_ERR_MAX; r++)
        cr_expect_eq(st.err[r], 0, "%s on clean traffic", pt_appid_err_name(r));
}
