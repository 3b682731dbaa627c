/* test_devices_store.c - the device table as `read -d DIR` feeds, saves and
 * restores it (src/app/out.c "the device table and the store"), seen through
 * `packettracer hosts`.
 *
 * DESIGN: each test runs the binary on shared captures into its own mkdtemp
 * store and checks the hosts it lists against tshark's fields
 * (tests/expected: DHCP client host names, ARP sender bindings), and the
 * summary's `devices:` line (entries, restored, saved) for the runs that
 * restore what an earlier run kept. One more test checks that the flow
 * records the store keeps are the ones `read` printed, completed by the
 * record thread (DNS names, app) and not the table's bare copies. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "enrich/tsv.h"
#include "support/support.h"

static char dir[64];

static void setup(void)
{
    strcpy(dir, "/tmp/pt-devstore-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void)
{
    if (dir[0])
        pt_test_rm_tree(dir);
}

TestSuite(app_devices, .init = setup, .fini = teardown, .timeout = 120);

/* `read CAPTURE -d dir`; returns the summary (stderr), caller frees. */
static char *read_into(const char *capture)
{
    char cmd[1024], errpath[128], *out = NULL, *err;

    snprintf(errpath, sizeof errpath, "%s/read.err", dir);
    snprintf(cmd, sizeof cmd, "%s read %s -d %s >/dev/null 2>%s", pt_test_bin(),
             pt_test_data(capture), dir, errpath);
    cr_assert_eq(pt_test_run(cmd, &out, NULL), 0, "%s", cmd);
    free(out);
    cr_assert_not_null(err = pt_test_slurp(errpath, NULL));
    return err;
}

static char *hosts_json(void)
{
    char cmd[512], *out = NULL;

    snprintf(cmd, sizeof cmd, "%s hosts -d %s --format json", pt_test_bin(), dir);
    cr_assert_eq(pt_test_run(cmd, &out, NULL), 0);
    cr_assert_not_null(out);
    return out;
}

static size_t lines(const char *s)
{
    size_t n = 0;

    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* The line of entry (@kind, @addr), or NULL; *@end gets its end. */
static const char *entry(const char *out, const char *kind, const char *addr, const char **end)
{
    char want[96];
    const char *l;

    snprintf(want, sizeof want, "{\"kind\":\"%s\",\"addr\":\"%s\"", kind, addr);
    if (!(l = strstr(out, want)))
        return NULL;
    *end = strchr(l, '\n');
    return l;
}

static bool on_line(const char *l, const char *end, const char *s)
{
    const char *h = strstr(l, s);

    return h && h < end;
}

/* Every ARP sender of @capture (tshark's rows) is a MAC entry bound to its
 * IP, and an IP entry bound to its MAC. */
static size_t check_arp(const char *out, const char *tsvpath)
{
    struct tsv t;
    size_t n = 0;

    tsv_load(&t, tsvpath);
    size_t cmac = tsv_col(&t, "arp.src.hw_mac"), cip = tsv_col(&t, "arp.src.proto_ipv4");
    for (size_t i = 0; i < t.n; i++) {
        const char *l, *end;
        char want[64];

        if (!strcmp(t.row[i][cip], "0.0.0.0"))
            continue; /* a probe binds nothing */
        cr_assert_not_null(l = entry(out, "mac", t.row[i][cmac], &end), "%s", t.row[i][cmac]);
        snprintf(want, sizeof want, "\"ip\":\"%s\"", t.row[i][cip]);
        cr_assert(on_line(l, end, want), "%s not bound to %s", t.row[i][cmac], t.row[i][cip]);
        cr_assert_not_null(l = entry(out, "ip", t.row[i][cip], &end), "%s", t.row[i][cip]);
        snprintf(want, sizeof want, "\"mac\":\"%s\"", t.row[i][cmac]);
        cr_assert(on_line(l, end, want), "%s not bound to %s", t.row[i][cip], t.row[i][cmac]);
        n++;
    }
    tsv_free(&t);
    return n;
}

Test(app_devices, dhcp_host_names_reach_the_store)
{
    char *err = read_into("pcap/mixed/ndpi_1kxun.pcap"), *out = hosts_json();
    struct tsv t;
    size_t checked = 0;
    unsigned long long n, restored, saved, lost;

    cr_assert_eq(sscanf(strstr(err, "\ndevices: "),
                        "\ndevices: %llu restored %llu saved %llu lost %llu", &n, &restored, &saved,
                        &lost),
                 4, "%s", err);
    cr_assert_eq(restored, 0);
    cr_assert_eq(lost, 0);
    cr_assert_eq(lines(out), n, "hosts lists every entry of the table");
    cr_assert_geq(saved, n);
    tsv_load(&t, "mixed/ndpi_1kxun.pcap.dhcp.tsv");
    size_t cop = tsv_col(&t, "dhcp.type"), cmac = tsv_col(&t, "dhcp.hw.mac_addr"),
           chn = tsv_col(&t, "dhcp.option.hostname");
    for (size_t i = 0; i < t.n; i++) {
        char mac[18], name[160];
        const char *l, *end;

        if (strcmp(t.row[i][cop], "1") || !t.row[i][chn][0])
            continue;
        snprintf(mac, sizeof mac, "%.17s", t.row[i][cmac]);
        cr_assert_not_null(l = entry(out, "mac", mac, &end), "no entry for %s", mac);
        snprintf(name, sizeof name, "{\"name\":\"%s\",\"source\":\"dhcp\"", t.row[i][chn]);
        cr_assert(on_line(l, end, name), "%s: %s not on its line", mac, t.row[i][chn]);
        checked++;
    }
    cr_assert_eq(checked, 7); /* tshark's client messages with option 12 */
    tsv_free(&t);
    free(out);
    free(err);
}

Test(app_devices, a_second_run_restores_and_adds)
{
    char *err = read_into("pcap/dhcp/zeek_dhcp.pcap"), *out = hosts_json();
    const char *l, *end;
    char first[64];

    cr_assert_not_null(strstr(err, "\ndevices: 3 restored 0 "), "%s", err);
    free(err);
    cr_assert_eq(lines(out), 3);
    cr_assert_not_null(l = entry(out, "mac", "90:b1:1c:99:49:29", &end));
    cr_assert(on_line(l, end, "\"ip\":\"128.2.6.189\""));
    cr_assert(on_line(l, end, "{\"name\":\"btest.is.cool\",\"source\":\"dhcp\""));
    const char *fs = strstr(l, "\"first_seen\":");
    cr_assert(fs && fs < end);
    snprintf(first, sizeof first, "%.*s", (int)strcspn(fs, ",}"), fs);
    free(out);

    /* another capture into the same store: the three come back, four are new */
    err = read_into("pcap/arp/zeek_arp-who-has.pcap");
    cr_assert_not_null(strstr(err, "\ndevices: 7 restored 3 "), "%s", err);
    free(err);
    out = hosts_json();
    cr_assert_eq(lines(out), 7);
    cr_assert_not_null(l = entry(out, "mac", "90:b1:1c:99:49:29", &end));
    cr_assert(on_line(l, end, "{\"name\":\"btest.is.cool\",\"source\":\"dhcp\""));
    cr_assert(on_line(l, end, first), "first seen kept: %s", first);
    cr_assert_eq(check_arp(out, "arp/zeek_arp-who-has.pcap.arp.tsv"), 2);
    free(out);

    /* the first capture again: nothing new, nothing doubled */
    err = read_into("pcap/dhcp/zeek_dhcp.pcap");
    cr_assert_not_null(strstr(err, "\ndevices: 7 restored 7 "), "%s", err);
    free(err);
    out = hosts_json();
    cr_assert_eq(lines(out), 7);
    cr_assert_not_null(l = entry(out, "mac", "90:b1:1c:99:49:29", &end));
    cr_assert(on_line(l, end, first), "first seen kept: %s", first);
    free(out);
}

static size_t count(const char *s, const char *pat)
{
    size_t n = 0;

    for (const char *p = s; (p = strstr(p, pat)) != NULL; p++)
        n++;
    return n;
}

Test(app_devices, stored_flows_are_the_completed_records)
{
    char cmd[1024], *printed = NULL, *stored = NULL;

    snprintf(cmd, sizeof cmd,
             "%s read %s -d %s --no-ring --keep-flows 100y --format json 2>/dev/null | "
             "grep '\"_path\":\"conn\"' | sed 's/\"interfaces\":\\[[^]]*\\],//' | sort",
             pt_test_bin(), pt_test_data("pcap/bench/mixed_merged_pcapplusplus.pcap"), dir);
    cr_assert_eq(pt_test_run(cmd, &printed, NULL), 0);
    snprintf(cmd, sizeof cmd,
             "%s flows -d %s --from 0 --format json | "
             "sed 's/\"interfaces\":\\[[^]]*\\],//' | sort",
             pt_test_bin(), dir);
    cr_assert_eq(pt_test_run(cmd, &stored, NULL), 0);
    /* the capture's 177 names looked up in its DNS answers, and its apps */
    cr_assert_eq(count(printed, "\"resp_fqdn\":"), 177, "%zu", count(printed, "\"resp_fqdn\":"));
    cr_assert_gt(count(printed, "\"app\":\"tls\""), 0);
    cr_assert_eq(lines(stored), lines(printed));
    cr_assert_str_eq(stored, printed);
    free(printed);
    free(stored);
}
