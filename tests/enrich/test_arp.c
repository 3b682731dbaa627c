/* test_arp.c - the ARP table: real captures against tshark and Zeek, crafted sequences for
 * spoofing, gratuitous ARP, floods, eviction and the iterator.
 *
 * DESIGN:
 *   1. arp_tshark/<capture>  every frame is decoded (tests/decode/decode_test.h: exact-size
 *      buffers); each ARP frame is compared with tshark's row (tests/expected/<cat>/<file>.arp.tsv,
 *      tests/tools/gen-expected-arp.sh): opcode, sender MAC/IP, target MAC/IP, and our
 *      same-IP gratuitous event against arp.isgratuitous. After the capture the table must hold
 *      exactly the last sender binding of every sender IP tshark shows.
 *   2. arp_zeek/who_has      the arp events Zeek printed for zeek_arp-who-has.pcap.
 *   3. arp_table/...         crafted sequences, each checking the event stream. */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode/decode_test.h"
#include "pt/arp.h"
#include "support/support.h"

#define MAX_EV 256

struct evlog {
    struct pt_arp_event ev[MAX_EV];
    size_t n;
};

static void on_ev(const struct pt_arp_event *ev, void *arg)
{
    struct evlog *l = arg;

    cr_assert_lt(l->n, MAX_EV);
    l->ev[l->n++] = *ev;
}

static const char *mac_s(const uint8_t m[6], char *b)
{
    sprintf(b, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
    return b;
}

static const char *ip_s(const uint8_t a[4], char *b)
{
    sprintf(b, "%u.%u.%u.%u", a[0], a[1], a[2], a[3]);
    return b;
}

static size_t count_type(const struct evlog *l, size_t from, uint8_t type, uint8_t reason)
{
    size_t n = 0;

    for (size_t i = from; i < l->n; i++)
        n += l->ev[i].type == type && (!reason || l->ev[i].reason == reason);
    return n;
}

/* ------------------------------------------------------------ 1. tshark */

#define MAX_ROWS 64

struct row {
    unsigned frame, op;
    char f[7][48];
};

static size_t rows_load(const char *rel, struct row *rows)
{
    char path[512], *buf, *line, *save = NULL;
    size_t n = 0;

    snprintf(path, sizeof path, "tests/expected/%s.arp.tsv", rel);
    buf = pt_test_slurp(pt_test_src(path), NULL);
    cr_assert_not_null(buf, "cannot read %s", path);
    for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *p = line;

        if (line[0] == '#')
            continue;
        cr_assert_lt(n, MAX_ROWS);
        memset(&rows[n], 0, sizeof rows[n]);
        for (int k = 0; k < 7; k++) {
            char *e = strchr(p, '\t');

            snprintf(rows[n].f[k], sizeof rows[n].f[k], "%.*s", (int)(e ? e - p : (long)strlen(p)),
                     p);
            if (!e)
                break;
            p = e + 1;
        }
        rows[n].frame = (unsigned)atoi(rows[n].f[0]);
        rows[n].op = (unsigned)atoi(rows[n].f[1]);
        n++;
    }
    free(buf);
    return n;
}

static void tshark_check(const char *rel, size_t want_rows)
{
    static struct row rows[MAX_ROWS];
    static struct evlog log;
    struct pt_arp_config cfg = PT_ARP_CONFIG_DEFAULT;
    struct pt_decode_stats st;
    struct pcap_pkthdr *h;
    const u_char *data;
    char path[512], b[32];
    size_t n = rows_load(rel, rows), r = 0, learnt = 0;
    pt_arp_table *t;
    pcap_t *pc;
    int err = 0;

    cr_assert_eq(n, want_rows, "%s: %zu tshark rows", rel, n);
    memset(&log, 0, sizeof log);
    t = pt_arp_table_create(&cfg, on_ev, &log, &err);
    cr_assert_not_null(t);
    pt_decode_stats_init(&st);
    snprintf(path, sizeof path, "pcap/%s", rel);
    pc = td_open(path);
    for (unsigned frame = 1; pcap_next_ex(pc, &h, &data) == 1; frame++) {
        struct td_frame f;
        size_t before = log.n;

        td_load(&f, pcap_datalink(pc), h, data, &st);
        if (r < n && rows[r].frame == frame) {
            const struct row *w = &rows[r++];

            if (!(f.p.flags & PT_PKT_ARP)) {
                /* RARP (ethertype 0x8035, opcodes 3/4) is not ARP to the decoder, nor to the
                 * table; tshark shows what it can of a broken ARP header, the decoder counts it */
                if (w->op == 3 || w->op == 4)
                    cr_expect(f.p.err == 0 && f.p.ethertype == 0x8035,
                              "%s frame %u: RARP (ethertype %#x)", rel, frame, f.p.ethertype);
                else
                    cr_expect(f.p.err == PT_DEC_ARP_TRUNC || f.p.err == PT_DEC_ARP_BAD,
                              "%s frame %u: ARP not decoded (err %s)", rel, frame,
                              pt_decode_err_name(f.p.err));
                free(f.buf);
                continue;
            }
            cr_expect_eq(f.p.arp.op, w->op, "%s frame %u opcode", rel, frame);
            cr_expect_str_eq(mac_s(f.p.arp.sha, b), w->f[2], "%s frame %u sha", rel, frame);
            cr_expect_str_eq(ip_s(f.p.arp.spa, b), w->f[3], "%s frame %u spa", rel, frame);
            cr_expect_str_eq(mac_s(f.p.arp.tha, b), w->f[4], "%s frame %u tha", rel, frame);
            cr_expect_str_eq(ip_s(f.p.arp.tpa, b), w->f[5], "%s frame %u tpa", rel, frame);
            pt_arp_table_feed(t, &f.p.arp, f.p.ts_ns + frame);
            cr_expect_eq(count_type(&log, before, PT_ARP_EV_GRATUITOUS, PT_ARP_GRAT_SAME_IP),
                         w->f[6][0] == '1' && (w->op == 1 || w->op == 2),
                         "%s frame %u: same-IP gratuitous event vs arp.isgratuitous '%s'", rel,
                         frame, w->f[6]);
        } else {
            cr_expect(!(f.p.flags & PT_PKT_ARP), "%s frame %u: ARP that tshark does not show", rel,
                      frame);
        }
        free(f.buf);
    }
    pcap_close(pc);
    cr_expect_eq(r, n, "%s: tshark rows not matched to frames", rel);

    /* the table holds the last binding of every sender */
    for (size_t i = 0; i < n; i++) {
        bool last = true;
        struct pt_arp_entry e;
        uint8_t ip[4];

        if ((rows[i].op != 1 && rows[i].op != 2) || !strcmp(rows[i].f[3], "0.0.0.0") ||
            !rows[i].f[2][0])
            continue;
        for (size_t j = i + 1; j < n; j++)
            last &= strcmp(rows[j].f[3], rows[i].f[3]) || !rows[j].f[2][0] ||
                    (rows[j].op != 1 && rows[j].op != 2);
        if (!last)
            continue;
        learnt++;
        cr_assert_eq(sscanf(rows[i].f[3], "%hhu.%hhu.%hhu.%hhu", &ip[0], &ip[1], &ip[2], &ip[3]),
                     4);
        cr_assert(pt_arp_table_lookup(t, ip, &e), "%s: %s not in the table", rel, rows[i].f[3]);
        cr_expect_str_eq(mac_s(e.mac, b), rows[i].f[2], "%s: binding of %s", rel, rows[i].f[3]);
    }
    cr_expect_eq(pt_arp_table_count(t), learnt, "%s: %u bindings, tshark shows %zu senders", rel,
                 pt_arp_table_count(t), learnt);
    cr_expect_eq(count_type(&log, 0, PT_ARP_EV_NEW, 0), learnt);
    pt_arp_table_destroy(t);
}

Test(arp_tshark, arkime_cloudshark)
{
    tshark_check("arp/arkime_cloudshark-arp.pcap", 4);
}

Test(arp_tshark, zeek_who_has)
{
    tshark_check("arp/zeek_arp-who-has.pcap", 2);
}

Test(arp_tshark, sll2_with_rarp)
{
    tshark_check("linktype/zeek_linux_dlt_sll2.pcap", 2);
}

Test(arp_tshark, qinq)
{
    tshark_check("vlan/tcpdump_802.1ad_QinQ.pcap", 2);
}

Test(arp_tshark, dot1q_gratuitous)
{
    tshark_check("vlan/zeek_icmp_dot1q.pcap", 6);
}

Test(arp_tshark, q_in_q)
{
    tshark_check("vlan/zeek_q-in-q.pcap", 1);
}

Test(arp_tshark, wikipedia)
{
    tshark_check("mixed/zeek_wikipedia.pcap", 6);
}

Test(arp_tshark, too_long_tha)
{
    tshark_check("malformed/tcpdump_arp-too-long-tha.pcap", 1);
}

Test(arp_tshark, tls13_draft18)
{
    tshark_check("tls/sv_tls13_draft18.pcap", 2);
}

Test(arp_tshark, bench_merged)
{
    tshark_check("bench/mixed_merged_pcapplusplus.pcap", 4);
}

/* ------------------------------------------------------------ 2. Zeek */

Test(arp_zeek, who_has)
{
    char *out = pt_test_slurp(pt_test_data("pcap/arp/zeek_arp-who-has.zeek-stdout.txt"), NULL);
    char line[256], b[6][32];
    const char *p;
    struct evlog log = {0};
    struct pt_arp_config cfg = PT_ARP_CONFIG_DEFAULT;
    struct pt_decode_stats st;
    pt_arp_table *t;
    int err;

    cr_assert_not_null(out);
    t = pt_arp_table_create(&cfg, on_ev, &log, &err);
    cr_assert_not_null(t);
    pt_decode_stats_init(&st);
    p = strchr(out, '\n') + 1; /* the btest header line */
    for (int n = 1; n <= 2; n++) {
        struct td_frame f;
        const char *e = strchr(p, '\n');

        td_nth(&f, "pcap/arp/zeek_arp-who-has.pcap", n, &st);
        cr_assert(f.p.flags & PT_PKT_ARP);
        snprintf(line, sizeof line, "%s, %s, %s, %s, %s, %s", mac_s(f.p.eth_src, b[0]),
                 mac_s(f.p.eth_dst, b[1]), ip_s(f.p.arp.spa, b[2]), mac_s(f.p.arp.sha, b[3]),
                 ip_s(f.p.arp.tpa, b[4]), mac_s(f.p.arp.tha, b[5]));
        cr_expect(!strncmp(line, p, (size_t)(e - p)) && strlen(line) == (size_t)(e - p),
                  "packet %d: ours '%s', Zeek '%.*s'", n, line, (int)(e - p), p);
        pt_arp_table_feed(t, &f.p.arp, (uint64_t)n);
        free(f.buf);
        p = e + 1;
    }
    /* a request and the reply it asked for: two bindings, nothing gratuitous */
    cr_expect_eq(log.n, 2);
    cr_expect_eq(count_type(&log, 0, PT_ARP_EV_NEW, 0), 2);
    pt_arp_table_destroy(t);
    free(out);
}

/* ------------------------------------------------------------ 3. crafted */

static struct pt_arp mk(uint16_t op, uint8_t smac, uint8_t sip, uint8_t tip)
{
    struct pt_arp a;

    memset(&a, 0, sizeof a);
    a.op = op;
    a.sha[0] = 0x02, a.sha[5] = smac;
    a.spa[0] = 10, a.spa[3] = sip;
    if (tip)
        a.tpa[0] = 10, a.tpa[3] = tip;
    if (op == 2)
        a.tha[0] = 0x02;
    return a;
}

static pt_arp_table *mk_table(struct pt_arp_config cfg, struct evlog *log)
{
    int err = 0;
    pt_arp_table *t = pt_arp_table_create(&cfg, on_ev, log, &err);

    cr_assert_not_null(t, "create: %d", err);
    memset(log, 0, sizeof *log);
    return t;
}

#define MS(x) ((uint64_t)(x)*1000000ull)

Test(arp_table, spoof_changes_mac)
{
    static struct evlog log;
    pt_arp_table *t = mk_table(PT_ARP_CONFIG_DEFAULT, &log);
    struct pt_arp a = mk(1, 1, 5, 6);
    struct pt_arp_entry e;

    pt_arp_table_feed(t, &a, MS(1));
    pt_arp_table_feed(t, &a, MS(2));
    cr_expect_eq(log.n, 1, "a repeated binding is not news");
    a = mk(1, 9, 5, 6); /* 10.0.0.5 now claimed by 02:..:09 */
    pt_arp_table_feed(t, &a, MS(3));
    cr_assert_eq(log.n, 2);
    cr_expect_eq(log.ev[1].type, PT_ARP_EV_CHANGED);
    cr_expect_eq(log.ev[1].old_mac[5], 1);
    cr_expect_eq(log.ev[1].mac[5], 9);
    cr_expect_eq(log.ev[1].ip[3], 5);
    cr_assert(pt_arp_table_lookup(t, a.spa, &e));
    cr_expect_eq(e.mac[5], 9);
    cr_expect_eq(e.changes, 1);
    cr_expect_eq(e.packets, 3);
    cr_expect_eq(e.first_ns, MS(1));
    cr_expect_eq(e.last_ns, MS(3));
    cr_expect_eq(pt_arp_table_stats(t)->events[PT_ARP_EV_CHANGED], 1);
    pt_arp_table_destroy(t);
}

Test(arp_table, gratuitous_and_unsolicited)
{
    static struct evlog log;
    pt_arp_table *t = mk_table(PT_ARP_CONFIG_DEFAULT, &log);
    struct pt_arp req = mk(1, 1, 1, 2), rep = mk(2, 2, 2, 1), ann = mk(1, 3, 3, 3);

    pt_arp_table_feed(t, &req, MS(0));
    pt_arp_table_feed(t, &rep, MS(10));
    cr_expect_eq(count_type(&log, 0, PT_ARP_EV_GRATUITOUS, 0), 0, "an answered request");
    pt_arp_table_feed(t, &rep, MS(20));
    cr_expect_eq(count_type(&log, 0, PT_ARP_EV_GRATUITOUS, PT_ARP_GRAT_UNSOLICITED), 1,
                 "a second reply to one request is unsolicited");
    pt_arp_table_feed(t, &req, MS(100));
    pt_arp_table_feed(t, &rep, MS(100) + MS(2001));
    cr_expect_eq(count_type(&log, 0, PT_ARP_EV_GRATUITOUS, PT_ARP_GRAT_UNSOLICITED), 2,
                 "a reply after pending_ns is unsolicited");
    pt_arp_table_feed(t, &ann, MS(3000));
    cr_expect_eq(count_type(&log, 0, PT_ARP_EV_GRATUITOUS, PT_ARP_GRAT_SAME_IP), 1);
    cr_expect_eq(log.ev[log.n - 1].type, PT_ARP_EV_GRATUITOUS, "NEW comes before GRATUITOUS");
    cr_expect_eq(log.ev[log.n - 2].type, PT_ARP_EV_NEW);
    pt_arp_table_destroy(t);
}

Test(arp_table, probe_and_bad_sender_not_learnt)
{
    static struct evlog log;
    pt_arp_table *t = mk_table(PT_ARP_CONFIG_DEFAULT, &log);
    struct pt_arp probe = mk(1, 1, 0, 7), bcast = mk(1, 1, 8, 9), rarp = mk(3, 1, 8, 9);

    probe.spa[0] = 0;
    bcast.sha[0] = 0xff;
    pt_arp_table_feed(t, &probe, MS(1));
    pt_arp_table_feed(t, &bcast, MS(2));
    pt_arp_table_feed(t, &rarp, MS(3));
    cr_expect_eq(pt_arp_table_count(t), 0);
    cr_expect_eq(log.n, 0);
    cr_expect_eq(pt_arp_table_stats(t)->err[PT_ARP_E_PROBE], 1);
    cr_expect_eq(pt_arp_table_stats(t)->err[PT_ARP_E_BAD_SENDER], 1);
    cr_expect_eq(pt_arp_table_stats(t)->err[PT_ARP_E_OTHER_OP], 1);
    cr_expect_eq(pt_arp_table_stats(t)->packets, 3);
    cr_expect_str_eq(pt_arp_err_name(PT_ARP_E_PROBE), "enrich.arp.probe");
    cr_expect_str_eq(pt_arp_err_name(PT_ARP_ERR_MAX), "enrich.arp.unknown");
    pt_arp_table_destroy(t);
}

Test(arp_table, flood_per_window)
{
    static struct evlog log;
    struct pt_arp_config cfg = PT_ARP_CONFIG_DEFAULT;
    pt_arp_table *t;
    struct pt_arp g = mk(1, 4, 4, 4), other = mk(1, 5, 5, 5);

    cfg.flood_count = 3;
    cfg.flood_window_ns = MS(1000);
    t = mk_table(cfg, &log);
    for (int i = 0; i < 3; i++)
        pt_arp_table_feed(t, &g, MS(100 * i));
    pt_arp_table_feed(t, &other, MS(250));
    cr_expect_eq(count_type(&log, 0, PT_ARP_EV_FLOOD, 0), 0, "3 in a window is not more than 3");
    pt_arp_table_feed(t, &g, MS(300));
    cr_assert_eq(count_type(&log, 0, PT_ARP_EV_FLOOD, 0), 1);
    cr_expect_eq(log.ev[log.n - 1].type, PT_ARP_EV_FLOOD);
    cr_expect_eq(log.ev[log.n - 1].count, 4);
    cr_expect_eq(log.ev[log.n - 1].mac[5], 4);
    for (int i = 0; i < 10; i++)
        pt_arp_table_feed(t, &g, MS(400 + 10 * i));
    cr_expect_eq(count_type(&log, 0, PT_ARP_EV_FLOOD, 0), 1, "once per window");
    for (int i = 0; i < 4; i++)
        pt_arp_table_feed(t, &g, MS(1000 + 10 * i));
    cr_expect_eq(count_type(&log, 0, PT_ARP_EV_FLOOD, 0), 2, "a new window, a new flood");
    pt_arp_table_destroy(t);
}

Test(arp_table, evict_oldest)
{
    static struct evlog log;
    struct pt_arp_config cfg = PT_ARP_CONFIG_DEFAULT;
    pt_arp_table *t;
    struct pt_arp_entry e;

    cfg.capacity = 4;
    t = mk_table(cfg, &log);
    for (uint8_t i = 1; i <= 4; i++) {
        struct pt_arp a = mk(1, i, i, 200);

        pt_arp_table_feed(t, &a, MS(i));
    }
    struct pt_arp a1 = mk(1, 1, 1, 200), a5 = mk(1, 5, 5, 200);
    pt_arp_table_feed(t, &a1, MS(10)); /* 10.0.0.1 is fresh again: 10.0.0.2 is the oldest */
    pt_arp_table_feed(t, &a5, MS(11));
    cr_expect_eq(pt_arp_table_count(t), 4);
    cr_expect_eq(pt_arp_table_stats(t)->err[PT_ARP_E_EVICTED], 1);
    cr_expect(!pt_arp_table_lookup(t, mk(1, 2, 2, 0).spa, &e), "least recently seen evicted");
    for (uint8_t i = 1; i <= 5; i++)
        if (i != 2)
            cr_expect(pt_arp_table_lookup(t, mk(1, i, i, 0).spa, &e) && e.mac[5] == i,
                      "10.0.0.%u lost", i);
    pt_arp_table_destroy(t);
}

Test(arp_table, refuse_when_full)
{
    static struct evlog log;
    struct pt_arp_config cfg = PT_ARP_CONFIG_DEFAULT;
    pt_arp_table *t;
    struct pt_arp_entry e;

    cfg.capacity = 2;
    cfg.evict_oldest = false;
    t = mk_table(cfg, &log);
    for (uint8_t i = 1; i <= 3; i++) {
        struct pt_arp a = mk(1, i, i, 200);

        pt_arp_table_feed(t, &a, MS(i));
    }
    cr_expect_eq(pt_arp_table_count(t), 2);
    cr_expect_eq(pt_arp_table_stats(t)->err[PT_ARP_E_REFUSED], 1);
    cr_expect(pt_arp_table_lookup(t, mk(1, 1, 1, 0).spa, &e));
    cr_expect(!pt_arp_table_lookup(t, mk(1, 3, 3, 0).spa, &e));
    cr_expect_eq(count_type(&log, 0, PT_ARP_EV_NEW, 0), 3, "the event fires, the entry is refused");
    pt_arp_table_destroy(t);
}

/* Many evictions through a tiny, collision-heavy index, checked against a plain model. */
Test(arp_table, churn_matches_model)
{
    static struct evlog log;
    struct pt_arp_config cfg = PT_ARP_CONFIG_DEFAULT;
    enum { CAP = 8, IPS = 40 };
    uint64_t last[IPS] = {0};
    uint8_t mac[IPS] = {0};
    pt_arp_table *t;
    uint32_t seed = 12345;

    cfg.capacity = CAP;
    cfg.flood_window_ns = 0;
    t = mk_table(cfg, &log);
    for (unsigned step = 1; step <= 5000; step++) {
        unsigned ip, n = 0;
        struct pt_arp a;

        seed = seed * 1103515245u + 12345u;
        ip = (seed >> 16) % IPS;
        a = mk(1, (uint8_t)(1 + (seed >> 8) % 3), (uint8_t)(ip + 1), 250);
        log.n = 0;
        pt_arp_table_feed(t, &a, step);
        last[ip] = step;
        mac[ip] = a.sha[5];
        /* the model: the CAP most recently seen IPs */
        for (unsigned i = 0; i < IPS; i++) {
            struct pt_arp_entry e;
            unsigned newer = 0;

            for (unsigned j = 0; j < IPS; j++)
                newer += last[j] > last[i];
            bool want = last[i] && newer < CAP;
            bool have = pt_arp_table_lookup(t, mk(1, 0, (uint8_t)(i + 1), 0).spa, &e);

            cr_assert_eq(have, want, "step %u: 10.0.0.%u present %d, model %d", step, i + 1, have,
                         want);
            if (have)
                cr_assert_eq(e.mac[5], mac[i]);
            n += want;
        }
        cr_assert_eq(pt_arp_table_count(t), n);
    }
    pt_arp_table_destroy(t);
}

Test(arp_table, iterator_and_config)
{
    static struct evlog log;
    pt_arp_table *t = mk_table(PT_ARP_CONFIG_DEFAULT, &log);
    struct pt_arp_config bad = PT_ARP_CONFIG_DEFAULT;
    struct pt_arp_entry e;
    uint32_t cur = 0, seen = 0, n = 0;
    int err = 0;

    for (uint8_t i = 1; i <= 20; i++) {
        struct pt_arp a = mk(2, i, i, 100);

        pt_arp_table_feed(t, &a, MS(i));
    }
    while (pt_arp_table_next(t, &cur, &e)) {
        cr_expect_eq(e.ip[3], e.mac[5]);
        seen |= 1u << e.ip[3];
        n++;
    }
    cr_expect_eq(n, 20);
    cr_expect_eq(seen, 0x1ffffeu);
    cr_expect(!pt_arp_table_next(t, &cur, &e), "the end stays the end");
    pt_arp_table_destroy(t);
    pt_arp_table_destroy(NULL);

    bad.capacity = 0;
    cr_expect_null(pt_arp_table_create(&bad, NULL, NULL, &err));
    cr_expect_eq(err, -EINVAL);
    bad = PT_ARP_CONFIG_DEFAULT;
    bad.pending_slots = 0;
    err = 0;
    cr_expect_null(pt_arp_table_create(&bad, NULL, NULL, &err));
    cr_expect_eq(err, -EINVAL);
}
