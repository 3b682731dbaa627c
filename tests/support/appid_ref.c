/* appid_ref.c - see appid_ref.h. Moved here from tests/decode/test_appid_ref.c
 * when the pipeline test needed the same mappings and tables. */
#include "support/appid_ref.h"

#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "support/support.h"

#define M(x) PT_TEST_APP_BIT(x)

static void addr_parse(const char *s, uint8_t out[16])
{
    memset(out, 0, 16);
    if (inet_pton(AF_INET, s, out + 12) == 1) {
        out[10] = out[11] = 0xff;
        return;
    }
    cr_assert_eq(inet_pton(AF_INET6, s, out), 1, "bad address %s", s);
}

struct pt_test_appref_row *pt_test_appref_load(const char *path, size_t *n)
{
    FILE *f = fopen(path, "r");
    struct pt_test_appref_row *v = NULL;
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

/* nDPI: the captures come with *.ndpi.out; each must have been normalised. */
static unsigned each_ndpi(void (*fn)(const char *, const struct pt_test_appref_row *, size_t,
                                     void *),
                          void *arg, char *list, size_t listcap)
{
    char pattern[4096];
    glob_t g;
    unsigned files = 0;

    snprintf(pattern, sizeof pattern, "%s/*/*.ndpi.out", pt_test_data("pcap"));
    cr_assert_eq(glob(pattern, 0, NULL, &g), 0, "no *.ndpi.out under %s", pattern);
    for (size_t i = 0; i < g.gl_pathc; i++) {
        char rel[1024], cap[1100], exp[4096], *dot;
        const char *p = strstr(g.gl_pathv[i], "/pcap/");
        struct pt_test_appref_row *rows;
        size_t n;

        cr_assert_not_null(p);
        snprintf(rel, sizeof rel, "%s", p + 1); /* pcap/<cat>/<stem>.ndpi.out */
        dot = strstr(rel, ".ndpi.out");
        *dot = 0;
        snprintf(cap, sizeof cap, "%s.pcap", rel);
        if (access(pt_test_data(cap), R_OK) != 0)
            snprintf(cap, sizeof cap, "%s.pcapng", rel);
        snprintf(exp, sizeof exp, "tests/expected/%s.ndpi-appid.tsv", cap + strlen("pcap/"));
        rows = pt_test_appref_load(pt_test_src(exp), &n);
        cr_assert_not_null(rows, "%s: no %s (run tests/tools/gen-expected-appid.sh)", cap, exp);
        fn(cap, rows, n, arg);
        if (list)
            snprintf(list + strlen(list), listcap - strlen(list), "%s`%s` (%zu)", files ? ", " : "",
                     cap, n);
        files++;
        free(rows);
    }
    globfree(&g);
    return files;
}

unsigned pt_test_appref_each(enum pt_test_appref_kind kind,
                             void (*fn)(const char *cap, const struct pt_test_appref_row *rows,
                                        size_t n, void *arg),
                             void *arg, char *list, size_t listcap)
{
    static const char *const suffix[] = {
        [PT_TEST_APPREF_TSHARK] = "appid.tsv",
        [PT_TEST_APPREF_ZEEK] = "zeek-appid.tsv",
        [PT_TEST_APPREF_ARKIME] = "arkime-appid.tsv",
    };
    char pattern[4096];
    unsigned files = 0;
    glob_t g;

    if (list)
        list[0] = 0;
    if (kind == PT_TEST_APPREF_NDPI)
        return each_ndpi(fn, arg, list, listcap);
    snprintf(pattern, sizeof pattern, "%s/*/*.%s", pt_test_src("tests/expected"), suffix[kind]);
    cr_assert_eq(glob(pattern, 0, NULL, &g), 0, "no %s", pattern);
    for (size_t i = 0; i < g.gl_pathc; i++) {
        const char *p = strstr(g.gl_pathv[i], "/tests/expected/");
        struct pt_test_appref_row *rows;
        char cap[1024];
        size_t n;

        if (kind == PT_TEST_APPREF_TSHARK && strstr(g.gl_pathv[i], "-appid.tsv"))
            continue; /* the other projects' answers, not tshark's */
        snprintf(cap, sizeof cap, "pcap/%s", p + strlen("/tests/expected/"));
        cap[strlen(cap) - strlen(suffix[kind]) - 1] = 0;
        rows = pt_test_appref_load(g.gl_pathv[i], &n);
        cr_assert_not_null(rows);
        fn(cap, rows, n, arg);
        if (list)
            snprintf(list + strlen(list), listcap - strlen(list), "%s`%s` (%zu)", files ? ", " : "",
                     cap, n);
        files++;
        free(rows);
    }
    globfree(&g);
    return files;
}

/* ---- label mappings ---------------------------------------------------------- */

uint32_t pt_test_appref_ndpi_mask(const char *label)
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

uint32_t pt_test_appref_tshark_mask(const char *chain)
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

bool pt_test_appref_known_missing(const char *cap, const struct pt_test_appref_row *r)
{
    /* tshark keys the conversation by the type 0 routing header's final
     * destination, we (streams.h and the flow table) by the IPv6 header's
     * (docs/ACCURACY.md) */
    return strcmp(cap, "pcap/ipv6/zeek_ipv6-hbh-routing0.pcap") == 0 && r->ap == 53 && r->bp == 53;
}

/* ---- the direct feed ----------------------------------------------------------- */

const struct pt_test_conn *pt_test_appref_conn_find(const struct pt_test_conns *cs,
                                                    const struct pt_test_appref_row *r)
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

enum pt_app pt_test_appref_classify(const struct pt_test_conn *k, struct pt_appid_stats *st,
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

/* ---- the comparison and its confusion table ---------------------------------- */

static void tally_add(struct pt_test_appref_tally *t, const char *ref, unsigned ours)
{
    char key[32];

    snprintf(key, sizeof key, "%.*s", (int)strcspn(ref, "."), ref);
    for (unsigned i = 0; i < t->n_pair; i++)
        if (t->pair[i].ours == ours && strcmp(t->pair[i].ref, key) == 0) {
            t->pair[i].n++;
            return;
        }
    cr_assert_lt(t->n_pair, PT_TEST_APPREF_PAIRS);
    snprintf(t->pair[t->n_pair].ref, sizeof t->pair[0].ref, "%s", key);
    t->pair[t->n_pair].ours = ours;
    t->pair[t->n_pair++].n = 1;
}

static int pair_cmp(const void *x, const void *y)
{
    const struct pt_test_appref_pair *a = x, *b = y;
    int c = strcmp(a->ref, b->ref);

    return c ? c : (int)a->ours - (int)b->ours;
}

void pt_test_appref_compare(struct pt_test_appref_tally *t, const char *cap,
                            const struct pt_test_appref_row *rows, size_t n,
                            uint32_t (*mask)(const char *), pt_test_appref_ours_fn ours_fn,
                            void *arg)
{
    for (size_t i = 0; i < n; i++) {
        const struct pt_test_appref_row *r = &rows[i];
        uint32_t m = mask(r->label);
        size_t used = strlen(t->disagree);
        unsigned ours;
        char ab[INET6_ADDRSTRLEN];

        if (!m || r->proto == 1) { /* ICMP flows: not ours to classify */
            t->outside++;
            tally_add(t, r->label, PT_APP_MAX);
            continue;
        }
        if (!ours_fn(arg, cap, r, &ours)) {
            if (pt_test_appref_known_missing(cap, r))
                continue;
            t->compared++;
            t->missing++;
            snprintf(t->disagree + used, sizeof t->disagree - used,
                     "  %s: port %u<->%u (%s) not found\n", cap, r->ap, r->bp, r->label);
            continue;
        }
        t->compared++;
        tally_add(t, r->label, ours);
        if (m & M(ours)) {
            t->agreed++;
        } else if (used < sizeof t->disagree - 300) {
            inet_ntop(AF_INET6, r->a, ab, sizeof ab);
            snprintf(t->disagree + used, sizeof t->disagree - used,
                     "  %s %s %s port %u<->%u: reference %s, ours %s\n", cap,
                     r->proto == 6 ? "tcp" : "udp", ab, r->ap, r->bp, r->label, pt_app_name(ours));
        }
    }
}

void pt_test_appref_tally_write(const struct pt_test_appref_tally *t, const char *name,
                                const char *title, const char *captures,
                                uint32_t (*mask)(const char *))
{
    const char *dir = getenv("PT_APPID_ACCURACY_DIR");
    struct pt_test_appref_pair sorted[PT_TEST_APPREF_PAIRS];
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
        uint32_t m = mask(sorted[i].ref);
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
