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
 * docs/ACCURACY.md. The label mappings, the reference files and the tables
 * are tests/support/appid_ref.h's, shared with tests/cli/test_appid_pipeline.c
 * (the same comparisons on `packettracer read`'s conn records). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "pt/appid.h"
#include "pt/decode.h"
#include "support/appid_ref.h"
#include "support/streams.h"
#include "support/support.h"

/* The direct feed's answer for a reference row: @arg is the capture's
 * connections. */
static bool direct_ours(void *arg, const char *cap, const struct pt_test_appref_row *r,
                        unsigned *app)
{
    struct pt_test_conns *cs = arg;
    const struct pt_test_conn *k = pt_test_appref_conn_find(cs, r);
    struct pt_appid_stats st;

    (void)cap;
    if (!k)
        return false;
    pt_appid_stats_init(&st);
    *app = pt_test_appref_classify(k, &st, NULL);
    return true;
}

struct run {
    struct pt_test_appref_tally t;
    uint32_t (*mask)(const char *);
};

static void compare_capture(const char *cap, const struct pt_test_appref_row *rows, size_t n,
                            void *arg)
{
    struct run *run = arg;
    struct pt_test_conns cs;

    pt_test_conns_load(&cs, cap);
    pt_test_appref_compare(&run->t, cap, rows, n, run->mask, direct_ours, &cs);
    pt_test_conns_free(&cs);
}

Test(appid_ref, ndpi, .timeout = 120)
{
    static struct run r = {.mask = pt_test_appref_ndpi_mask};
    char list[2048];

    pt_test_appref_each(PT_TEST_APPREF_NDPI, compare_capture, &r, list, sizeof list);
    pt_test_appref_tally_write(&r.t, "ndpi",
                               "nDPI (`*.ndpi.out`, ndpiReader results shipped with the captures)",
                               list, r.mask);
    cr_assert_geq(r.t.compared, 150, "only %u flows compared", r.t.compared);
    cr_expect_eq(r.t.missing, 0, "%u nDPI flows not found among our connections:\n%s", r.t.missing,
                 r.t.disagree);
    cr_assert_geq(r.t.agreed * 100, r.t.compared * 90, "agreement %u/%u below 90%%:\n%s",
                  r.t.agreed, r.t.compared, r.t.disagree);
}

Test(appid_ref, tshark, .timeout = 300)
{
    static struct run r = {.mask = pt_test_appref_tshark_mask};
    unsigned files = pt_test_appref_each(PT_TEST_APPREF_TSHARK, compare_capture, &r, NULL, 0);
    char what[64];

    snprintf(what, sizeof what, "all %u captures under `pcap/` except `bench/`", files);
    pt_test_appref_tally_write(&r.t, "tshark",
                               "tshark 4.0.17 (first protocol above TCP/UDP in `frame.protocols`)",
                               what, r.mask);
    cr_assert_geq(files, 70);
    cr_expect_eq(r.t.missing, 0, "%u tshark conversations not found among ours:\n%s", r.t.missing,
                 r.t.disagree);
    cr_assert_geq(r.t.agreed * 100, r.t.compared * 90, "agreement %u/%u below 90%%:\n%s",
                  r.t.agreed, r.t.compared, r.t.disagree);
}

/* Zeek's service and Arkime's protocol list: every flow they name. */
struct named {
    bool arkime;
    unsigned checked;
};

static void named_capture(const char *cap, const struct pt_test_appref_row *rows, size_t n,
                          void *arg)
{
    struct named *nm = arg;
    struct pt_test_conns cs;
    struct pt_appid_stats st;

    pt_appid_stats_init(&st);
    pt_test_conns_load(&cs, cap);
    for (size_t r = 0; r < n; r++) {
        const struct pt_test_conn *k;
        enum pt_app ours;
        char want[170];

        if (nm->arkime) {
            /* labels other than the transport and Arkime's test tag */
            snprintf(want, sizeof want, ",%s,", rows[r].label);
            if (strcmp(rows[r].label, "tcp") == 0 || strcmp(rows[r].label, "udp") == 0)
                continue;
        } else if (strcmp(rows[r].label, "-") == 0) {
            continue;
        }
        k = pt_test_appref_conn_find(&cs, &rows[r]);
        cr_expect_not_null(k, "%s: port %u<->%u not found", cap, rows[r].ap, rows[r].bp);
        if (!k)
            continue;
        ours = pt_test_appref_classify(k, &st, NULL);
        nm->checked++;
        if (nm->arkime) {
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
}

static void compare_named(enum pt_test_appref_kind kind)
{
    struct named nm = {.arkime = kind == PT_TEST_APPREF_ARKIME};

    pt_test_appref_each(kind, named_capture, &nm, NULL, 0);
    cr_assert_geq(nm.checked, 10, "only %u flows checked", nm.checked);
}

Test(appid_ref, zeek, .timeout = 60)
{
    compare_named(PT_TEST_APPREF_ZEEK);
}

Test(appid_ref, arkime, .timeout = 60)
{
    compare_named(PT_TEST_APPREF_ARKIME);
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
        enum pt_app a = pt_test_appref_classify(&cs.conn[i], &st, &by_port);

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
