/* test_replay.c - a shared capture replayed live gives the records of `read`.
 *
 * DESIGN. Each test builds its own bed (tests/support/netns.h): namespaces
 * pt<pid><tag>a/b joined by one veth pair. The bed is then made a SPAN port:
 *   1. both veths lose their IPv4 addresses (IPv6 is already off), so
 *      namespace a owns none of the replayed addresses and answers nothing:
 *      no ARP reply, no TCP RST, no ICMP. Namespace b sends only tcpreplay's
 *      frames. Nothing else ever crosses the wire, so no BPF filter is needed
 *      and any stray frame would show up as an extra flow and fail the test;
 *   2. MTU 9000 on both ends, so no replayed frame is dropped as oversize
 *      (veth drops frames longer than the receiver's MTU + header);
 *   3. GRO off on veth0 (it is off by default; turned off anyway), so the
 *      kernel never merges replayed TCP segments.
 * `packettracer run -i veth0 --duration 20 -d DIR` runs in namespace a
 * (without -q: its final statistics are asserted); once DIR/run.pid exists,
 * `tcpreplay -i veth1 --topspeed FILE` runs in namespace b, then the sensor
 * is stopped with SIGTERM (the --duration is only a bound) and must flush
 * every flow. Its DIR/flows.json is compared with `packettracer read
 * --format json FILE`:
 *   - frames: tcpreplay sent every packet of the file, none failed; the
 *     sensor decoded exactly that many frames and the same bytes as `read`,
 *     with no kernel drop and no decode error;
 *   - records: the same number, one-to-one by (proto, id.orig_h, id.orig_p,
 *     id.resp_h, id.resp_p, vlan, inner_vlan), and in each pair every field
 *     equal except the four below, which cannot match:
 *       ts         the kernel's receive time, not the capture's;
 *       uid        random per run;
 *       duration   --topspeed compresses the capture's gaps;
 *       tcp_rtt    likewise (the handshake's gaps);
 *       interfaces "veth0" live, the file's name for `read`.
 *     The TCP health counters are compared: their time thresholds (RTT,
 *     3 ms) could split them under --topspeed, but on these captures they
 *     match; a new capture that breaks this needs them ignored too.
 *     So orig_pkts, resp_pkts, orig_ip_bytes, resp_ip_bytes, conn_state,
 *     history, orig/resp_bytes, TCP flags, L2 addresses, community_id and
 *     end_reason are all compared.
 * VLAN: on veth RX the kernel strips the outer 802.1Q tag and hands it over
 * as tp_vlan_tci; the sensor puts it back as the outer vlan, so vlan and
 * inner_vlan do match (zeek_q-in-q.pcap: vlan 13, inner_vlan 10) and are
 * part of the key. Every step is bounded (tcpreplay under timeout(1), a
 * 20 s sensor reap limit, the criterion timeout) and .fini deletes the
 * namespaces even when an assertion failed. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "support/netns.h"
#include "support/support.h"

static struct pt_netns bed;
static char dir[64];

static void fini(void)
{
    char cmd[128];

    pt_netns_teardown(&bed);
    if (dir[0]) {
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0)
            cr_log_warn("could not remove %s", dir);
    }
}

TestSuite(replay, .fini = fini, .timeout = 60);

__attribute__((noinline)) static char *sh_out(const char *cmd, int *status)
{
    char *out = NULL;
    int st = pt_test_run(cmd, &out, NULL);

    if (status)
        *status = st;
    return out;
}

static char *slurp(const char *name)
{
    char path[200];

    snprintf(path, sizeof path, "%s/%s", dir, name);
    char *s = pt_test_slurp(path, NULL);
    return s ? s : strdup(""); /* not written yet: empty, as callers expect */
}

/* Build the bed and turn it into a silent SPAN link (steps 1-3 above). */
static void make_bed(const char *tag)
{
    char cmd[512];
    int st;

    snprintf(dir, sizeof dir, "/tmp/pt-replay-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    cr_assert(pt_netns_setup(&bed, tag, 1), "cannot build the netns test bed '%s'", tag);
    snprintf(cmd, sizeof cmd,
             "ip -n %s addr flush dev veth0 && ip -n %s addr flush dev veth1 && "
             "ip -n %s link set veth0 mtu 9000 && ip -n %s link set veth1 mtu 9000 && "
             "{ ip netns exec %s ethtool -K veth0 gro off 2>/dev/null; true; }",
             bed.a, bed.b, bed.a, bed.b, bed.a);
    free(sh_out(cmd, &st));
    cr_assert_eq(st, 0, "cannot prepare the bed: %s", cmd);
}

static long stat_after(const char *text, const char *pat)
{
    const char *p = text ? strstr(text, pat) : NULL;

    return p ? strtol(p + strlen(pat), NULL, 10) : -1;
}

/* Length of the statistics line at @s with the indented lines under it. */
static size_t stat_block_len(const char *s)
{
    const char *p = strchr(s, '\n');

    p = p ? p + 1 : s + strlen(s);
    while (p[0] == ' ' && p[1] == ' ') {
        const char *e = strchr(p, '\n');
        p = e ? e + 1 : p + strlen(p);
    }
    return (size_t)(p - s);
}

/* ---- flat JSON records ---- */

#define MAXF 48

struct field {
    char key[32];
    char val[192];
};

struct rec {
    struct field f[MAXF];
    unsigned n;
    char id[320]; /* proto orig_h orig_p resp_h resp_p vlan inner_vlan */
    bool matched;
};

/* Length of the JSON value at @s: a string, an array (strings inside may
 * hold brackets) or a scalar up to the next ',' or '}'. */
static size_t value_len(const char *s)
{
    const char *p = s;
    int depth = 0;
    bool str = false;

    for (; *p; p++) {
        if (str) {
            if (*p == '\\' && p[1])
                p++;
            else if (*p == '"')
                str = false;
            if (!str && depth == 0)
                return (size_t)(p - s + 1);
            continue;
        }
        if (*p == '"')
            str = true;
        else if (*p == '[')
            depth++;
        else if (*p == ']' && --depth == 0)
            return (size_t)(p - s + 1);
        else if (depth == 0 && (*p == ',' || *p == '}'))
            break;
    }
    return (size_t)(p - s);
}

static const char *get(const struct rec *r, const char *key)
{
    for (unsigned i = 0; i < r->n; i++)
        if (strcmp(r->f[i].key, key) == 0)
            return r->f[i].val;
    return NULL;
}

static void parse_rec(const char *line, struct rec *r)
{
    static const char *const idk[] = {"proto",     "id.orig_h", "id.orig_p", "id.resp_h",
                                      "id.resp_p", "vlan",      "inner_vlan"};
    const char *p = line;

    memset(r, 0, sizeof *r);
    cr_assert_eq(*p, '{', "not a record: %s", line);
    p++;
    while (*p == '"') {
        const char *k = p + 1, *ke = strchr(k, '"');
        size_t vl;

        cr_assert_not_null(ke, "bad record: %s", line);
        cr_assert_eq(ke[1], ':', "bad record: %s", line);
        cr_assert_lt(r->n, MAXF, "too many fields: %s", line);
        cr_assert_lt((size_t)(ke - k), sizeof r->f[0].key, "long key: %s", line);
        memcpy(r->f[r->n].key, k, (size_t)(ke - k));
        p = ke + 2;
        vl = value_len(p);
        cr_assert_lt(vl, sizeof r->f[0].val, "long value: %s", line);
        memcpy(r->f[r->n].val, p, vl);
        r->n++;
        p += vl;
        if (*p == ',')
            p++;
    }
    cr_assert_eq(*p, '}', "bad record end: %s", line);
    for (unsigned i = 0; i < sizeof idk / sizeof idk[0]; i++) {
        const char *v = get(r, idk[i]);
        size_t l = strlen(r->id);
        snprintf(r->id + l, sizeof r->id - l, "%s%s", i ? " " : "", v ? v : "-");
    }
}

static unsigned parse_all(char *text, struct rec *v, unsigned max)
{
    char *save = NULL;
    unsigned n = 0;

    for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        if (!strstr(l, "\"_path\":\"conn\""))
            continue; /* app records: compared by count_path() */
        cr_assert_lt(n, max, "more than %u records", max);
        parse_rec(l, &v[n++]);
    }
    return n;
}

/* Records of log @path ("dns") in @text. */
static unsigned count_path(const char *text, const char *path)
{
    char pat[64];
    unsigned n = 0;

    snprintf(pat, sizeof pat, "\"_path\":\"%s\"", path);
    for (const char *p = text; (p = strstr(p, pat)) != NULL; p++)
        n++;
    return n;
}

/* Fields that cannot match between a replay and a read (see the top). */
static bool ignored(const char *key)
{
    return !strcmp(key, "ts") || !strcmp(key, "uid") || !strcmp(key, "duration") ||
           !strcmp(key, "tcp_rtt") || !strcmp(key, "interfaces");
}

/* Every non-ignored field of @a present in @b with the same value. */
static void expect_fields(const struct rec *a, const char *an, const struct rec *b, const char *bn)
{
    for (unsigned i = 0; i < a->n; i++) {
        const char *bv;
        if (ignored(a->f[i].key))
            continue;
        bv = get(b, a->f[i].key);
        cr_expect(bv && strcmp(bv, a->f[i].val) == 0, "flow [%s] field %s: %s %s, %s %s", a->id,
                  a->f[i].key, an, a->f[i].val, bn, bv ? bv : "(absent)");
    }
}

/* The device table the sensor saved in DIR/store lists the same IP
 * addresses as the one `read -d DIR/ref` saved (MAC entries may differ: the
 * bed's own neighbour discovery). Public addresses make no entry, so
 * zeek_missing-syn has none on either side. */
static void expect_same_ip_devices(const char *d)
{
    char cmd[512], *ips[2];
    int st;

    for (unsigned i = 0; i < 2; i++) {
        snprintf(cmd, sizeof cmd,
                 "'%s' hosts -d '%s%s' --kind ip --format csv | cut -d, -f2 | sort", pt_test_bin(),
                 d, i ? "/ref" : "");
        ips[i] = sh_out(cmd, &st);
        cr_assert_eq(st, 0, "%s", cmd);
    }
    cr_expect_str_eq(ips[0], ips[1], "IP devices, live:\n%s\nread:\n%s", ips[0], ips[1]);
    free(ips[0]);
    free(ips[1]);
}

/* ---- the run ---- */

#define MAXREC 256

static void replay_matches_read(const char *tag, const char *rel)
{
    const char *file = pt_test_data(rel);
    char path[4096], cmd[4608], pidpath[128], errpath[128], offerr[128];
    struct rec *off = calloc(MAXREC, sizeof *off), *live = calloc(MAXREC, sizeof *live);
    char *out, *err, *offsum, *offjson, *livejson;
    const char *final;
    char *argv[12];
    unsigned n_off, n_live;
    long file_pkts, file_bytes;
    int st;
    pid_t pid;

    cr_assert(off && live);
    snprintf(path, sizeof path, "%s", file);
    cr_assert_eq(access(path, R_OK), 0, "missing capture %s", path);
    make_bed(tag);

    /* The reference: read of the same file. */
    snprintf(offerr, sizeof offerr, "%s/read.err", dir);
    snprintf(cmd, sizeof cmd, "'%s' read --format json --no-ring -d '%s/ref' '%s' 2>'%s'",
             pt_test_bin(), dir, path, offerr);
    offjson = sh_out(cmd, &st);
    cr_assert_eq(st, 0, "read %s failed", path);
    offsum = slurp("read.err");
    file_pkts = stat_after(offsum, "packets: ");
    file_bytes = stat_after(offsum, "bytes: ");
    cr_assert_gt(file_pkts, 0, "read summary: %s", offsum);

    /* The sensor in namespace a. */
    snprintf(errpath, sizeof errpath, "%s/stderr", dir);
    snprintf(pidpath, sizeof pidpath, "%s/run.pid", dir);
    argv[0] = (char *)pt_test_bin();
    argv[1] = "run";
    argv[2] = "-i";
    argv[3] = "veth0";
    argv[4] = "--duration";
    argv[5] = "20";
    argv[6] = "-d";
    argv[7] = dir;
    argv[8] = NULL;
    pid = pt_netns_spawn(&bed, argv, errpath);
    cr_assert_gt(pid, 0);
    if (!pt_test_wait_file(pidpath, pid, 5000)) {
        st = pt_test_wait_exit(pid, 1000);
        cr_assert_fail("sensor not ready (exit %d): %s", st, slurp("stderr"));
    }

    /* The replay from namespace b. */
    snprintf(cmd, sizeof cmd, "timeout 30 ip netns exec %s tcpreplay -i veth1 --topspeed '%s' 2>&1",
             bed.b, path);
    out = sh_out(cmd, &st);
    if (st != 0) {
        kill(pid, SIGTERM);
        pt_test_wait_exit(pid, 20000);
        cr_assert_fail("tcpreplay exit %d:\n%s", st, out);
    }
    cr_expect_eq(stat_after(out, "Actual: "), file_pkts, "tcpreplay:\n%s", out);
    cr_expect_eq(stat_after(out, "Failed packets:"), 0, "tcpreplay:\n%s", out);

    /* Let the backlog drain, then stop: SIGTERM hands over what the ring holds. */
    nanosleep(&(struct timespec){0, 300 * 1000000L}, NULL);
    kill(pid, SIGTERM);
    st = pt_test_wait_exit(pid, 20000);
    err = slurp("stderr");
    cr_assert_eq(st, 0, "sensor exit status %d, stderr:\n%s", st, err);
    final = strstr(err, "\ninterface veth0: packets "); /* not the offload warnings */
    cr_assert_not_null(final, "no final statistics:\n%s", err);
    cr_expect_eq(stat_after(final, " packets "), file_pkts, "%s", err);
    /* `bytes` is the length on the wire: the sensor adds back the 4 bytes of
     * an outer tag the kernel stripped (zeek_q-in-q: 836 without them). */
    cr_expect_eq(stat_after(final, " bytes "), file_bytes, "%s", err);
    cr_expect_eq(stat_after(final, " kernel_packets "), file_pkts, "%s", err);
    cr_expect_eq(stat_after(final, " kernel_drops "), 0, "%s", err);
    cr_expect_eq(stat_after(final, " decode_errors "), 0, "%s", err);
    /* staging per worker as configured (ring_buffer 256M by default) */
    cr_expect_not_null(strstr(err, "1 producers x 256 chunks of 1024 KiB"), "%s", err);
    /* the pcap ring kept every one of them, and says so at the end */
    cr_expect_eq(stat_after(err, "\nring_packets: "), file_pkts, "%s", err);
    cr_expect_eq(stat_after(err, "\nring_lost_full_packets: "), 0, "%s", err);

    /* Records: one-to-one by flow id, every comparable field equal. */
    livejson = slurp("flows.json");
    /* The application layer saw the same transactions (ARP aside: the test
     * bed's own neighbour discovery adds to it). */
    static const char *const kinds[] = {"dns", "http", "ssl", "dhcp"};
    for (unsigned k = 0; k < sizeof kinds / sizeof kinds[0]; k++)
        cr_expect_eq(count_path(livejson, kinds[k]), count_path(offjson, kinds[k]),
                     "%s records: live %u, read %u", kinds[k], count_path(livejson, kinds[k]),
                     count_path(offjson, kinds[k]));
    /* ... and ends with the same app-layer statistics as `read`: parser
     * states refused, names learned, gaps, every error counter by name */
    static const char *const sums[] = {
        "app_no_parser_state: ", "dns_names: ", "app_tcp_gaps: ", "app_errors:\n"};
    for (unsigned k = 0; k < sizeof sums / sizeof sums[0]; k++) {
        const char *a = strstr(offsum, sums[k]), *b = strstr(err, sums[k]);
        cr_assert(a && b, "no '%s' in the final statistics:\nread:\n%s\nrun:\n%s", sums[k], offsum,
                  err);
        size_t la = stat_block_len(a), lb = stat_block_len(b);
        cr_expect(la == lb && !memcmp(a, b, la), "read and run differ:\n%.*s---\n%.*s", (int)la, a,
                  (int)lb, b);
    }
    n_off = parse_all(offjson, off, MAXREC);
    n_live = parse_all(livejson, live, MAXREC);
    cr_assert_gt(n_off, 0);
    cr_expect_eq(n_live, n_off, "live %u records, read %u", n_live, n_off);
    for (unsigned i = 0; i < n_off; i++) {
        struct rec *m = NULL;
        for (unsigned j = 0; j < n_live; j++) {
            if (strcmp(off[i].id, live[j].id) != 0)
                continue;
            cr_expect(m == NULL, "flow [%s] twice in the live records", off[i].id);
            m = &live[j];
        }
        if (!m) {
            cr_expect_fail("flow [%s] missing from the live records", off[i].id);
            continue;
        }
        m->matched = true;
        expect_fields(&off[i], "read", m, "live");
        expect_fields(m, "live", &off[i], "read");
    }
    for (unsigned j = 0; j < n_live; j++)
        cr_expect(live[j].matched, "live flow [%s] not in read's records", live[j].id);
    expect_same_ip_devices(dir);
    free(out);
    free(offjson);
    free(offsum);
    free(livejson);
    free(err);
    free(off);
    free(live);
}

/* 136 frames: HTTP/TCP (with and without handshakes), DNS, mDNS and NetBIOS
 * broadcasts, IPv6 multicast, ARP. */
Test(replay, zeek_wikipedia)
{
    replay_matches_read("rw", "pcap/mixed/zeek_wikipedia.pcap");
}

/* Double 802.1Q tags (13 outside, 10 inside): the kernel strips the outer. */
Test(replay, zeek_q_in_q)
{
    replay_matches_read("rq", "pcap/vlan/zeek_q-in-q.pcap");
}

/* A TCP connection without its SYN, with full 1514-byte frames. */
Test(replay, zeek_missing_syn)
{
    replay_matches_read("rs", "pcap/tcp/zeek_missing-syn.pcap");
}

/* DNS over TCP: handshake, data and FIN both ways. */
Test(replay, tcpdump_dns_tcp)
{
    replay_matches_read("rd", "pcap/dns/tcpdump_dns_tcp.pcap");
}
