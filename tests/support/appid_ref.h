/* appid_ref.h - test-only: other tools' per-flow application labels and the
 * comparison of ours with them, shared by the two accuracy tests (never in
 * the product):
 *   tests/decode/test_appid_ref.c   pt_appid fed directly from the capture's
 *                                   reassembled streams (support/streams.h);
 *   tests/cli/test_appid_pipeline.c the `app` of `packettracer read`'s conn
 *                                   records (flow table, src/flow/app.c).
 * Both compare against the same normalised reference files,
 * tests/expected/<category>/<file>.*appid.tsv (tests/tools/gen-expected-appid.sh),
 * with the same label mappings, tallies and confusion tables, so their
 * figures in docs/ACCURACY.md mean the same thing. */
#ifndef PT_TEST_APPID_REF_H
#define PT_TEST_APPID_REF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pt/appid.h"
#include "support/streams.h"

/* One line of a normalised reference file: an unordered 5-tuple, lower
 * endpoint first, and the other tool's label for it. Addresses are
 * 16 bytes, IPv4 as ::ffff:a.b.c.d. proto: 6, 17, or 1 for ICMP/ICMPv6. */
struct pt_test_appref_row {
    uint8_t proto;
    uint8_t a[16], b[16];
    uint16_t ap, bp;
    char label[160];
};

/* The rows of the normalised reference file @path, malloc'd (caller frees;
 * never NULL when the file exists, even when it has no rows), *@n their
 * number. NULL when the file does not exist. A malformed line fails the
 * calling criterion test. */
struct pt_test_appref_row *pt_test_appref_load(const char *path, size_t *n);

/* The reference kinds, and the file suffix each one's rows are in. */
enum pt_test_appref_kind {
    PT_TEST_APPREF_NDPI,   /* <file>.ndpi-appid.tsv, one per *.ndpi.out under the test data */
    PT_TEST_APPREF_TSHARK, /* <file>.appid.tsv, every capture except pcap/bench/ */
    PT_TEST_APPREF_ZEEK,   /* <file>.zeek-appid.tsv, Zeek conn.log `service` */
    PT_TEST_APPREF_ARKIME, /* <file>.arkime-appid.tsv, Arkime's `protocol` list */
};

/* Call @fn once per capture that has a reference of @kind, in path order,
 * with the capture's path under the test data ("pcap/<category>/<file>")
 * and its reference rows (borrowed for the call). For NDPI every
 * *.ndpi.out beside a capture must have its normalised file (the test
 * fails otherwise). Returns the number of captures; @list, when not NULL,
 * gets "`capture` (rows), ..." for the confusion table's header. */
unsigned pt_test_appref_each(enum pt_test_appref_kind kind,
                             void (*fn)(const char *cap, const struct pt_test_appref_row *rows,
                                        size_t n, void *arg),
                             void *arg, char *list, size_t listcap);

/* Our apps a reference label stands for: a bitmask over enum pt_app
 * (PT_TEST_APP_BIT), 0 when the label is outside our list. nDPI labels are
 * read by their master protocol ("TLS.Google" is TLS, "NetBIOS.SMBv1" any of
 * our NetBIOS apps); tshark chains by their first protocol above TCP/UDP
 * ("nbss:smb" is SMB, "tpkt:...:rdp" RDP). */
#define PT_TEST_APP_BIT(x) (1u << (x))
uint32_t pt_test_appref_ndpi_mask(const char *label);
uint32_t pt_test_appref_tshark_mask(const char *chain);

/* Reference rows that have no connection of ours on purpose (the reason is
 * in the function and in docs/ACCURACY.md). */
bool pt_test_appref_known_missing(const char *cap, const struct pt_test_appref_row *r);

/* The connection of @cs with @r's unordered 5-tuple (any VLAN: the first in
 * order of first packet), or NULL. */
const struct pt_test_conn *pt_test_appref_conn_find(const struct pt_test_conns *cs,
                                                    const struct pt_test_appref_row *r);

/* The direct feed: classify one connection the way the flow table feeds
 * pt_appid (both directions' stream segments in frame order, until DONE, at
 * most PT_APPID_K per direction). *@by_port (if not NULL) gets
 * pt_appid_by_port(). */
enum pt_app pt_test_appref_classify(const struct pt_test_conn *k, struct pt_appid_stats *st,
                                    bool *by_port);

/* ---- tallies and confusion tables ------------------------------------------- */

#define PT_TEST_APPREF_PAIRS 128

struct pt_test_appref_pair {
    char ref[32];  /* the reference label (nDPI: master protocol only) */
    unsigned ours; /* enum pt_app, PT_APP_MAX when the label is outside our list */
    unsigned n;
};

/* What one comparison found: zero it before use (static storage: it is
 * large). */
struct pt_test_appref_tally {
    unsigned compared, agreed, outside, missing;
    struct pt_test_appref_pair pair[PT_TEST_APPREF_PAIRS];
    unsigned n_pair;
    char disagree[4096]; /* the first disagreements and missing flows, for failure messages */
};

/* Our answer for reference row @r of capture @cap: true with *@app set, or
 * false when we have no flow with that 5-tuple. */
typedef bool (*pt_test_appref_ours_fn)(void *arg, const char *cap,
                                       const struct pt_test_appref_row *r, unsigned *app);

/* Compare @n rows of capture @cap with our answers, into @t: a row whose
 * label @mask does not know, or an ICMP row, counts as outside; a row
 * without our flow is missing (unless pt_test_appref_known_missing(), then
 * skipped); otherwise compared, and agreed when @mask has our app. */
void pt_test_appref_compare(struct pt_test_appref_tally *t, const char *cap,
                            const struct pt_test_appref_row *rows, size_t n,
                            uint32_t (*mask)(const char *), pt_test_appref_ours_fn ours, void *arg);

/* With PT_APPID_ACCURACY_DIR set, write @t as markdown to DIR/@name.md: a
 * "### @title" heading, the captures line, the totals, then one table row
 * per (reference label, ours) pair. Nothing when the variable is unset. */
void pt_test_appref_tally_write(const struct pt_test_appref_tally *t, const char *name,
                                const char *title, const char *captures,
                                uint32_t (*mask)(const char *));

#endif
