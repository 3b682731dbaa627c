/* test_lookback.c - the pcap ring end to end: `packettracer read FILE -d DIR`
 * writes the ring and its index, `packettracer extract` reads it back, and
 * the result must hold exactly the packets `tcpdump -r FILE -w - FILTER`
 * holds, restricted to the same time range and put in timestamp order
 * (stable: ties keep file order), byte for byte: timestamp to the
 * nanosecond, both lengths, and every captured byte.
 *
 * DESIGN: shared captures (plain, VLAN and MPLS, a merged file whose
 * timestamps go backwards, one spanning six years), time ranges cut from
 * each capture's own span, and the selections `extract` offers: a BPF
 * expression (compared with the same expression in tcpdump), --host and
 * --port (the index path; compared with tcpdump's `host`/`port` on captures
 * without tags or tunnels, where the two mean the same), --vlan, and --flow
 * with a uid taken from `read`'s own records. Every case also asserts how
 * many packets it expects at least, so an empty result cannot pass. */
#include <criterion/criterion.h>

#include <errno.h>
#include <pcap/pcap.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pt/decode.h"
#include "pt/flow.h"
#include "pt/ring.h"
#include "support/support.h"

#define NS 1000000000ull

struct pk {
    uint64_t ts;
    uint32_t caplen, len;
    size_t seq; /* file order */
    uint8_t *data;
};

struct pks {
    struct pk *v;
    size_t n;
    int linktype;
};

static char dir[64];

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/pt-lookback-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void)
{
    char cmd[128];

    snprintf(cmd, sizeof cmd, "%s/data", dir);
    umount2(cmd, MNT_DETACH); /* the disk-full test's tmpfs; fails harmlessly elsewhere */
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    pt_test_run(cmd, NULL, NULL);
}

TestSuite(ring_lookback, .init = setup, .fini = teardown, .timeout = 120);

static void pks_free(struct pks *p)
{
    for (size_t i = 0; i < p->n; i++)
        free(p->v[i].data);
    free(p->v);
    memset(p, 0, sizeof *p);
}

/* Every packet of @path, nanosecond timestamps, file order. */
static struct pks load(const char *path)
{
    char err[PCAP_ERRBUF_SIZE];
    struct pcap_pkthdr *h;
    const u_char *d;
    struct pks p = {0};
    size_t cap = 0;
    pcap_t *pc = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_NANO, err);
    int rc;

    cr_assert_not_null(pc, "%s: %s", path, err);
    p.linktype = pcap_datalink(pc);
    while ((rc = pcap_next_ex(pc, &h, &d)) == 1) {
        if (p.n == cap) {
            cap = cap ? cap * 2 : 256;
            p.v = realloc(p.v, cap * sizeof *p.v);
            cr_assert_not_null(p.v);
        }
        struct pk *k = &p.v[p.n];
        k->ts = (uint64_t)h->ts.tv_sec * NS + (uint64_t)h->ts.tv_usec;
        k->caplen = h->caplen;
        k->len = h->len;
        k->seq = p.n;
        k->data = malloc(h->caplen ? h->caplen : 1);
        cr_assert_not_null(k->data);
        memcpy(k->data, d, h->caplen);
        p.n++;
    }
    cr_assert_eq(rc, PCAP_ERROR_BREAK, "%s: %s", path, pcap_geterr(pc));
    pcap_close(pc);
    return p;
}

static int by_time(const void *x, const void *y)
{
    const struct pk *a = x, *b = y;

    if (a->ts != b->ts)
        return a->ts < b->ts ? -1 : 1;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

static void run_ok(const char *cmd)
{
    char *out = NULL;
    int rc = pt_test_run(cmd, &out, NULL);

    cr_assert_eq(rc, 0, "exit %d: %s\n%s", rc, cmd, out ? out : "");
    free(out);
}

/* Fill DIR with @capture through `read -d` (store and ring). */
static void fill(const char *capture)
{
    char cmd[4096];

    snprintf(cmd, sizeof cmd, "%s read -q -d %s/data %s >/dev/null", pt_test_bin(), dir,
             pt_test_data(capture));
    run_ok(cmd);
}

/* Extract [from, to) with @sel (extract options) and @bpf, compare with
 * tcpdump's @tcpdump_bpf over the same capture and range; return the number
 * of packets (at least @min_expected). */
static size_t check(const char *capture, uint64_t from, uint64_t to, const char *sel,
                    const char *bpf, const char *tcpdump_bpf, size_t min_expected)
{
    char cmd[8192], ours[256], ref[256];
    struct pks a, b;
    size_t k = 0;

    snprintf(ours, sizeof ours, "%s/ours.pcap", dir);
    snprintf(ref, sizeof ref, "%s/ref.pcap", dir);
    snprintf(cmd, sizeof cmd,
             "%s extract -d %s/data --from %llu.%09llu --to %llu.%09llu %s -w %s -- '%s' 2>&1",
             pt_test_bin(), dir, (unsigned long long)(from / NS), (unsigned long long)(from % NS),
             (unsigned long long)(to / NS), (unsigned long long)(to % NS), sel, ours, bpf);
    run_ok(cmd);
    snprintf(cmd, sizeof cmd, "tcpdump -r %s -w %s '%s' 2>&1", pt_test_data(capture), ref,
             tcpdump_bpf);
    run_ok(cmd);
    a = load(ours);
    b = load(ref);
    for (size_t i = 0; i < b.n; i++) /* the reference restricted to the range */
        if (b.v[i].ts >= from && b.v[i].ts < to)
            b.v[k++] = b.v[i];
        else
            free(b.v[i].data);
    b.n = k;
    qsort(b.v, b.n, sizeof *b.v, by_time);
    cr_assert_eq(a.linktype, b.linktype, "%s: link type", capture);
    cr_assert_eq(a.n, b.n, "%s [%s %s]: %zu packets extracted, tcpdump has %zu", capture, sel, bpf,
                 a.n, b.n);
    for (size_t i = 0; i < a.n; i++) {
        const struct pk *x = &a.v[i], *y = &b.v[i];
        cr_assert(x->ts == y->ts && x->caplen == y->caplen && x->len == y->len &&
                      memcmp(x->data, y->data, x->caplen) == 0,
                  "%s [%s %s]: packet %zu differs (ts %llu/%llu caplen %u/%u len %u/%u)", capture,
                  sel, bpf, i, (unsigned long long)x->ts, (unsigned long long)y->ts, x->caplen,
                  y->caplen, x->len, y->len);
    }
    cr_assert_geq(a.n, min_expected, "%s [%s %s]: only %zu packets", capture, sel, bpf, a.n);
    size_t n = a.n;
    pks_free(&a);
    pks_free(&b);
    return n;
}

/* The capture's first and last timestamps (ns). */
static void span(const char *capture, uint64_t *first, uint64_t *last)
{
    struct pks p = load(pt_test_data(capture));

    *first = UINT64_MAX;
    *last = 0;
    for (size_t i = 0; i < p.n; i++) {
        if (p.v[i].ts < *first)
            *first = p.v[i].ts;
        if (p.v[i].ts > *last)
            *last = p.v[i].ts;
    }
    pks_free(&p);
}

/* Every packet, then thirds of the span, then the middle with a filter
 * (at least @min_mid packets). */
static void ranges(const char *capture, size_t total, const char *bpf, size_t min_mid)
{
    uint64_t f, l;

    span(capture, &f, &l);
    cr_assert_eq(check(capture, f, l + 1, "", "", "", total), total);
    uint64_t third = (l - f) / 3;
    size_t sum = 0;
    for (int i = 0; i < 3; i++) {
        uint64_t a = f + (uint64_t)i * third, b = i == 2 ? l + 1 : f + (uint64_t)(i + 1) * third;
        sum += check(capture, a, b, "", "", "", 0);
    }
    cr_assert_eq(sum, total, "the thirds hold every packet once");
    check(capture, f + third / 2, l - third / 2, "", bpf, bpf, min_mid);
}

Test(ring_lookback, plain_capture_ranges_and_filters)
{
    const char *cap = "pcap/mixed/zeek_wikipedia.pcap";

    fill(cap);
    ranges(cap, 136, "tcp", 1);
    uint64_t f, l;
    span(cap, &f, &l);
    check(cap, f, l + 1, "", "udp and port 53", "udp and port 53", 1);
    check(cap, f, l + 1, "--host 208.80.152.2", "", "host 208.80.152.2", 10);
    check(cap, f, l + 1, "--port 80", "", "port 80", 10);
    check(cap, f, l + 1, "--host 208.80.152.2 --port 80", "tcp[tcpflags] & tcp-syn != 0",
          "host 208.80.152.2 and port 80 and tcp[tcpflags] & tcp-syn != 0", 1);
    check(cap, f, l + 1, "", "net 141.142.0.0/16 and not icmp6", "net 141.142.0.0/16 and not icmp6",
          10);
}

Test(ring_lookback, six_year_capture)
{
    const char *cap = "pcap/mixed/ndpi_1kxun.pcap";

    fill(cap);
    ranges(cap, 1723, "ip", 0); /* its middle years are empty */
}

/* Timestamps that go backwards: extraction sorts, ties in file order. */
Test(ring_lookback, merged_capture_is_sorted)
{
    const char *cap = "pcap/bench/mixed_merged_pcapplusplus.pcap";

    fill(cap);
    ranges(cap, 16791, "tcp port 443", 1);
}

Test(ring_lookback, vlan_and_mpls)
{
    const char *cap = "pcap/vlan/zeek_mixed-vlan-mpls.pcap";
    uint64_t f, l;

    fill(cap);
    span(cap, &f, &l);
    check(cap, f, l + 1, "", "", "", 47);
    check(cap, f, l + 1, "", "vlan", "vlan", 1);
    check(cap, f, l + 1, "", "mpls", "mpls", 1);
    check(cap, f, l + 1, "--vlan 4093", "", "vlan 4093", 1);
}

Test(ring_lookback, two_vlans)
{
    const char *cap = "pcap/vlan/arkime_twovlan.pcap";
    uint64_t f, l;

    fill(cap);
    span(cap, &f, &l);
    check(cap, f, l + 1, "--vlan 200", "", "vlan and vlan 200", 6); /* the inner tag */
    check(cap, f, l + 1, "--vlan 201", "", "vlan 201", 6);
}

/* --flow with a uid from read's own records, against tcpdump's 5-tuple
 * over the flow's [start, end]. */
Test(ring_lookback, flow_by_uid)
{
    const char *cap = "pcap/mixed/zeek_wikipedia.pcap";
    char cmd[4096], *out = NULL;
    int n_flows = 0;

    fill(cap);
    snprintf(cmd, sizeof cmd, "%s read -q -F csv %s", pt_test_bin(), pt_test_data(cap));
    cr_assert_eq(pt_test_run(cmd, &out, NULL), 0);
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
        char ts[32], uid[32], oh[64], rh[64], proto[8], dur[32];
        unsigned op, rp;
        /* ts,uid,id.orig_h,id.orig_p,id.resp_h,id.resp_p,proto,duration,... */
        if (sscanf(line, "%31[^,],%31[^,],%63[^,],%u,%63[^,],%u,%7[^,],%31[^,],", ts, uid, oh, &op,
                   rh, &rp, proto, dur) != 8 ||
            strcmp(proto, "tcp") != 0)
            continue;
        unsigned long long s, us, ds = 0, dus = 0;
        cr_assert_eq(sscanf(ts, "%llu.%6llu", &s, &us), 2, "%s", ts);
        cr_assert_eq(sscanf(dur, "%llu.%6llu", &ds, &dus), 2, "%s", dur);
        uint64_t from = s * NS + us * 1000, to = from + ds * NS + dus * 1000 + 1000;
        char sel[64], ref[512];
        snprintf(sel, sizeof sel, "--flow %s", uid);
        snprintf(ref, sizeof ref, "tcp and host %s and host %s and port %u and port %u", oh, rh, op,
                 rp);
        check(cap, from, to, sel, "", ref, 1);
        if (++n_flows == 4)
            break;
    }
    free(out);
    cr_assert_eq(n_flows, 4, "four TCP flows checked");
}

/* `status` counts what `read` put in the ring. */
Test(ring_lookback, status_counts_every_packet)
{
    char cmd[4096], *out = NULL;

    fill("pcap/bench/mixed_merged_pcapplusplus.pcap");
    snprintf(cmd, sizeof cmd, "%s status -d %s/data --format json", pt_test_bin(), dir);
    cr_assert_eq(pt_test_run(cmd, &out, NULL), 0, "%s", out ? out : "");
    cr_assert_not_null(strstr(out, "\"packets\":16791"), "%s", out);
    free(out);
}

/* `read --flow-cutoff N` keeps each flow's packets while the flow has
 * carried fewer than N wire bytes (pt_ring_put() in ring.h): the reference
 * replays that rule over the capture in file order with the documented
 * table (pt_ring_config_default()'s cutoff_flows slots indexed by
 * pt_flow_pkt_hash(), a slot taken over or idle for cutoff_idle_ns counting
 * from zero), and extract must return exactly the packets it keeps; status
 * counts the others. */
Test(ring_lookback, flow_cutoff_keeps_the_first_bytes_of_each_flow)
{
    const char *cap = "pcap/bench/mixed_merged_pcapplusplus.pcap";
    const uint64_t cutoff = 3000;
    struct pt_ring_config rc;
    char cmd[4096], ours[256], *out = NULL;
    struct pks a, b = load(pt_test_data(cap));
    struct pt_decode_stats ds;
    size_t k = 0, cut = 0, resets = 0;
    uint64_t cut_bytes = 0;

    pt_ring_config_default(&rc);
    uint64_t mask = 1;
    while (mask < rc.cutoff_flows)
        mask <<= 1;
    struct slot {
        uint64_t tag, bytes, last;
    } *t = calloc(mask--, sizeof *t);
    cr_assert_not_null(t);
    pt_decode_stats_init(&ds);
    for (size_t i = 0; i < b.n; i++) {
        struct pk *x = &b.v[i];
        struct pt_pkt p = {.data = x->data,
                           .caplen = x->caplen,
                           .wirelen = x->len,
                           .ts_ns = x->ts,
                           .linktype = b.linktype,
                           .hw_vlan = PT_VLAN_NONE};
        pt_decode(&p, &ds);
        uint64_t h = pt_flow_pkt_hash(&p);
        bool keep = true;
        if (h) {
            struct slot *s = &t[h & mask];
            if (s->tag != h) {
                resets += s->tag != 0;
                *s = (struct slot){.tag = h};
            } else if (x->ts > s->last && x->ts - s->last > rc.cutoff_idle_ns) {
                s->bytes = 0;
            }
            if (x->ts > s->last)
                s->last = x->ts;
            keep = s->bytes < cutoff;
            if (keep)
                s->bytes += x->len;
        }
        if (keep) {
            b.v[k++] = *x;
        } else {
            cut++;
            cut_bytes += 16 + x->caplen;
            free(x->data);
        }
    }
    b.n = k;
    free(t);
    qsort(b.v, b.n, sizeof *b.v, by_time);
    cr_assert_gt(cut, b.n, "the cutoff skips most of this capture");

    snprintf(cmd, sizeof cmd, "%s read -q -d %s/data --flow-cutoff %llu %s >/dev/null",
             pt_test_bin(), dir, (unsigned long long)cutoff, pt_test_data(cap));
    run_ok(cmd);
    snprintf(ours, sizeof ours, "%s/ours.pcap", dir);
    snprintf(cmd, sizeof cmd, "%s extract -d %s/data -w %s 2>&1", pt_test_bin(), dir, ours);
    run_ok(cmd);
    a = load(ours);
    cr_assert_eq(a.n, b.n, "%zu packets extracted, the rule keeps %zu", a.n, b.n);
    for (size_t i = 0; i < a.n; i++)
        cr_assert(a.v[i].ts == b.v[i].ts && a.v[i].caplen == b.v[i].caplen &&
                      memcmp(a.v[i].data, b.v[i].data, a.v[i].caplen) == 0,
                  "packet %zu differs", i);
    pks_free(&a);
    pks_free(&b);

    snprintf(cmd, sizeof cmd, "%s status -d %s/data --format json", pt_test_bin(), dir);
    cr_assert_eq(pt_test_run(cmd, &out, NULL), 0, "%s", out ? out : "");
    char want[160];
    snprintf(want, sizeof want, "\"cutoff_pkts\":%zu,\"cutoff_bytes\":%llu,\"cutoff_resets\":%zu,",
             cut, (unsigned long long)cut_bytes, resets);
    cr_assert_not_null(strstr(out, want), "want %s in %s", want, out);
    free(out);
}

/* ---- faults under the whole pipeline ---- */

TestSuite(ring_faults, .init = setup, .fini = teardown, .timeout = 120);

static size_t count_lines(const char *path)
{
    size_t n = 0, len = 0;
    char *s = pt_test_slurp(path, &len);

    cr_assert_not_null(s, "%s", path);
    for (size_t i = 0; i < len; i++)
        n += s[i] == '\n';
    free(s);
    return n;
}

/* The value of "NAME: N" in @text (read's summary), or -1. */
static long long summary_value(const char *text, const char *name)
{
    const char *p = strstr(text, name);

    return p ? strtoll(p + strlen(name) + 2, NULL, 10) : -1;
}

/* A data directory on an 8 MiB tmpfs (this test's own mount namespace: the
 * commands it runs see it too), nearly full: the ring cannot get a segment.
 * read still emits every flow and counts the ring's loss; once space is back,
 * the next run writes the ring again, byte-exact. */
Test(ring_faults, disk_full_keeps_flows_and_recovers)
{
    const char *cap = "pcap/bench/mixed_merged_pcapplusplus.pcap";
    const char *cap2 = "pcap/mixed/zeek_wikipedia.pcap";
    char data[128], cmd[4096], *err = NULL;

    if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        cr_skip_test("no mount namespace here: %s", strerror(errno));
    snprintf(data, sizeof data, "%s/data", dir);
    cr_assert_eq(mkdir(data, 0755), 0);
    cr_assert_eq(mount("tmpfs", data, "tmpfs", 0, "size=8m"), 0, "%s", strerror(errno));
    snprintf(cmd, sizeof cmd, "dd if=/dev/zero of=%s/filler bs=64k count=120 2>/dev/null", data);
    run_ok(cmd); /* 7.5 of 8 MiB */

    snprintf(cmd, sizeof cmd,
             "%s read -d %s --segment-size 4M --ring-keep-free 0 %s > %s/full.json 2>%s/err; "
             "echo rc=$?; cat %s/err",
             pt_test_bin(), data, pt_test_data(cap), dir, dir, dir);
    cr_assert_eq(pt_test_run(cmd, &err, NULL), 0, "%s", err ? err : "");
    cr_assert_eq(strncmp(err, "rc=0\n", 5), 0, "read failed:\n%s", err);
    snprintf(cmd, sizeof cmd, "%s read -q %s > %s/plain.json", pt_test_bin(), pt_test_data(cap),
             dir);
    run_ok(cmd);
    snprintf(cmd, sizeof cmd, "%s/full.json", dir);
    size_t flows = count_lines(cmd);
    snprintf(cmd, sizeof cmd, "%s/plain.json", dir);
    cr_assert_eq(flows, count_lines(cmd), "every flow, disk full or not");
    cr_assert_gt(flows, 100);
    long long lost = summary_value(err, "ring_lost_io_packets");
    long long kept = summary_value(err, "ring_packets");
    cr_assert_gt(lost, 0, "the ring's loss is counted:\n%s", err);
    cr_assert_eq(lost + kept, 16791, "every packet kept or counted lost:\n%s", err);
    free(err);

    snprintf(cmd, sizeof cmd, "rm %s/filler", data);
    run_ok(cmd);
    snprintf(cmd, sizeof cmd, /* the next run, with space: the ring works again */
             "%s read -q -d %s --segment-size 4M --ring-keep-free 0 %s >/dev/null", pt_test_bin(),
             data, pt_test_data(cap2));
    run_ok(cmd);
    uint64_t f, l;
    span(cap2, &f, &l);
    check(cap2, f, l + 1, "", "", "", 136);
}

/* kill -9 while the reader writes (it waits on a FIFO after 5 MB of a
 * capture); a restart reconciles, and what was committed extracts exactly:
 * a file-order prefix of the capture, in time order. */
Test(ring_faults, kill_9_then_restart_extracts_the_committed_prefix)
{
    const char *cap = "pcap/bench/mixed_merged_pcapplusplus.pcap";
    const char *cap2 = "pcap/mixed/zeek_wikipedia.pcap";
    char cmd[8192], path[256];

    snprintf(cmd, sizeof cmd,
             "cd %s && mkfifo fifo && { %s read -q -d data fifo >/dev/null 2>&1 & rp=$!; "
             "{ head -c 5000000 %s; sleep 6; } > fifo & fp=$!; sleep 3; kill -9 $rp; "
             "wait $rp; kill $fp; wait $fp; } 2>/dev/null; true",
             dir, pt_test_bin(), pt_test_data(cap));
    run_ok(cmd);
    fill(cap2); /* restart: reconcile, then write */
    snprintf(path, sizeof path, "%s/all.pcap", dir);
    snprintf(cmd, sizeof cmd, "%s extract -d %s/data -w %s 2>&1", pt_test_bin(), dir, path);
    run_ok(cmd);

    struct pks all = load(path), c1 = load(pt_test_data(cap)), c2 = load(pt_test_data(cap2));
    size_t k = 0;
    for (size_t i = 0; i < all.n; i++) { /* drop the restart's own packets */
        bool theirs = false;
        for (size_t j = 0; j < c2.n && !theirs; j++)
            theirs = all.v[i].ts == c2.v[j].ts && all.v[i].caplen == c2.v[j].caplen &&
                     memcmp(all.v[i].data, c2.v[j].data, all.v[i].caplen) == 0;
        if (theirs)
            free(all.v[i].data);
        else
            all.v[k++] = all.v[i];
    }
    cr_assert_eq(all.n - k, 136, "the restart's capture is all there");
    all.n = k;
    cr_assert_gt(all.n, 0, "something was committed before the kill");
    cr_assert_lt(all.n, c1.n, "not everything: the reader was killed half way");
    for (size_t i = all.n; i < c1.n; i++)
        free(c1.v[i].data);
    c1.n = all.n; /* the committed prefix, in file order */
    qsort(c1.v, c1.n, sizeof *c1.v, by_time);
    for (size_t i = 0; i < all.n; i++)
        cr_assert(all.v[i].ts == c1.v[i].ts && all.v[i].caplen == c1.v[i].caplen &&
                      all.v[i].len == c1.v[i].len &&
                      memcmp(all.v[i].data, c1.v[i].data, all.v[i].caplen) == 0,
                  "packet %zu of %zu differs from the capture's prefix", i, all.n);
    pks_free(&all);
    pks_free(&c1);
    pks_free(&c2);
}
