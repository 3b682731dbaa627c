/* test_hosts_cmd.c - `packettracer hosts` over a store filled from a real capture.
 *
 * DESIGN: the DHCP datagrams of ndpi_1kxun.pcap are parsed and fed to a device table in
 * frame order, its changed entries saved to a fresh store (pt_devices_save_due /
 * take_changed / pt_store_hosts_put, as the record thread does), and the binary's output
 * is checked: every client host name tshark shows (tests/expected/mixed/…dhcp.tsv) is on
 * its MAC's JSON line with source dhcp, one line per entry, --kind filters, the CSV
 * header and row count, the table's cells, and a missing store. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "enrich/tsv.h"
#include "pt/devices.h"
#include "pt/dhcp.h"
#include "pt/store.h"
#include "support/streams.h"
#include "support/support.h"

static char dir[64];
static uint32_t n_entries, n_macs;

static void teardown(void)
{
    if (dir[0])
        pt_test_rm_tree(dir);
}

struct dg {
    uint32_t frame;
    uint64_t ts;
    const struct pt_test_conn *k;
    unsigned d;
    size_t s;
};

static int dg_cmp(const void *a, const void *b)
{
    const struct dg *x = a, *y = b;

    return x->frame < y->frame ? -1 : x->frame > y->frame;
}

/* Fill a store in a fresh directory from the capture's DHCP, saving as a run would. */
static void setup(void)
{
    struct pt_test_conns cs;
    struct dg v[256];
    size_t n = 0;
    char err[PT_OUI_ERR_MAX], msg[256];
    struct pt_oui *oui = pt_oui_create(NULL, err);
    struct pt_devices *t;
    struct pt_dhcp_stats st = {0};
    static struct pt_device buf[64];
    struct pt_store *s;
    int e;

    strcpy(dir, "/tmp/pt-hosts-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    cr_assert_not_null(oui, "%s", err);
    cr_assert_not_null(t = pt_devices_create(NULL, oui, &e));
    cr_assert_not_null(s = pt_store_open(dir, NULL, false, &e, msg, sizeof msg), "%s", msg);
    pt_test_conns_load(&cs, "pcap/mixed/ndpi_1kxun.pcap");
    for (size_t i = 0; i < cs.n; i++) {
        const struct pt_test_conn *k = &cs.conn[i];
        if (k->proto != 17 || k->ver != 4 || (k->port[0] != 67 && k->port[0] != 68))
            continue;
        for (unsigned d = 0; d < 2; d++)
            for (size_t j = 0; j < k->n_seg[d] && n < 256; j++)
                v[n++] = (struct dg){k->seg[d][j].frame, k->seg[d][j].ts_ns, k, d, j};
    }
    qsort(v, n, sizeof *v, dg_cmp);
    for (size_t i = 0; i < n; i++) {
        const struct pt_test_seg *sg = &v[i].k->seg[v[i].d][v[i].s];
        struct pt_app_dhcp a;
        cr_assert(pt_dhcp_parse(&a.msg, sg->data, sg->len, &st));
        memcpy(a.src, v[i].k->addr[v[i].d] + 12, 4);
        memcpy(a.dst, v[i].k->addr[!v[i].d] + 12, 4);
        pt_devices_dhcp(t, &a, v[i].ts);
        if (pt_devices_save_due(t, v[i].ts, i + 1 == n)) {
            size_t got;
            while ((got = pt_devices_take_changed(t, buf, 64)) > 0)
                cr_assert_eq(pt_store_hosts_put(s, buf, got), 0);
        }
    }
    n_entries = pt_devices_count(t);
    n_macs = 0;
    struct pt_device d;
    for (uint32_t c = 0; pt_devices_next(t, &c, &d);)
        n_macs += d.kind == PT_DEV_MAC;
    pt_store_close(s);
    pt_devices_destroy(t);
    pt_oui_destroy(oui);
    pt_test_conns_free(&cs);
}

TestSuite(cli_hosts, .init = setup, .fini = teardown, .timeout = 60);

static size_t lines(const char *s)
{
    size_t n = 0;

    for (; *s; s++)
        n += *s == '\n';
    return n;
}

static char *run(const char *args, int *status)
{
    char cmd[512], *out = NULL;

    snprintf(cmd, sizeof cmd, "%s hosts -d %s %s", pt_test_bin(), dir, args);
    *status = pt_test_run(cmd, &out, NULL);
    cr_assert_not_null(out);
    return out;
}

Test(cli_hosts, json_has_every_dhcp_host_name)
{
    struct tsv t;
    int status;
    char *out = run("--format json", &status);
    size_t checked = 0;

    cr_assert_eq(status, 0);
    cr_assert_gt(n_entries, 10);
    cr_assert_eq(lines(out), n_entries);
    tsv_load(&t, "mixed/ndpi_1kxun.pcap.dhcp.tsv");
    size_t cop = tsv_col(&t, "dhcp.type"), cmac = tsv_col(&t, "dhcp.hw.mac_addr"),
           chn = tsv_col(&t, "dhcp.option.hostname");
    for (size_t i = 0; i < t.n; i++) {
        char want[96], name[160], *line, *end;

        if (strcmp(t.row[i][cop], "1") || !t.row[i][chn][0])
            continue;
        snprintf(want, sizeof want, "{\"kind\":\"mac\",\"addr\":\"%.17s\"", t.row[i][cmac]);
        cr_assert_not_null(line = strstr(out, want), "no line for %.17s", t.row[i][cmac]);
        end = strchr(line, '\n');
        snprintf(name, sizeof name, "{\"name\":\"%s\",\"source\":\"dhcp\"", t.row[i][chn]);
        char *hit = strstr(line, name);
        cr_assert(hit && hit < end, "%.17s: %s not on its line", t.row[i][cmac], t.row[i][chn]);
        checked++;
    }
    cr_assert_eq(checked, 7); /* tshark's client messages with option 12 */
    cr_assert_not_null(strstr(out, "\"dhcp_vendor_class\":\"MSFT 5.0\",\"type\":\"computer\","
                                   "\"type_source\":\"dhcp\""));
    tsv_free(&t);
    free(out);
}

Test(cli_hosts, kind_filter_csv_and_table)
{
    int status;
    char *out = run("--kind mac --format json", &status);

    cr_assert_eq(status, 0);
    cr_assert_eq(lines(out), n_macs);
    free(out);
    out = run("--kind ip --format csv", &status);
    cr_assert_eq(status, 0);
    cr_assert_eq(lines(out), 1 + n_entries - n_macs);
    cr_assert_eq(strncmp(out, "kind,addr,bound,vendor,", 23), 0);
    cr_assert_not_null(strstr(out, "\nip,192.168.5.41,48:d2:24:63:0a:de,"));
    free(out);
    out = run("-n 3", &status);
    cr_assert_eq(status, 0);
    cr_assert_eq(lines(out), 1 + 3);
    free(out);
    out = run("", &status);
    cr_assert_eq(lines(out), 1 + n_entries);
    cr_assert_not_null(strstr(out, "kevin-PC (dhcp)"));
    cr_assert_not_null(strstr(out, "Liteon Technology Corporation"));
    free(out);
}

Test(cli_hosts, exit_status)
{
    char cmd[512], *out = NULL;

    snprintf(cmd, sizeof cmd, "%s hosts -d %s --kind x 2>/dev/null", pt_test_bin(), dir);
    cr_assert_eq(pt_test_run(cmd, &out, NULL), 2);
    free(out);
    snprintf(cmd, sizeof cmd, "%s hosts -d %s/none 2>/dev/null", pt_test_bin(), dir);
    cr_assert_eq(pt_test_run(cmd, &out, NULL), 1);
    free(out);
    snprintf(cmd, sizeof cmd, "%s hosts --help", pt_test_bin());
    cr_assert_eq(pt_test_run(cmd, &out, NULL), 0);
    cr_assert_not_null(strstr(out, "--kind K"));
    free(out);
}
