/* test_live.c - `packettracer run` on a veth test bed, with exact counts.
 *
 * Each test builds its own bed (tests/support/netns.h): two namespaces
 * pt<pid><tag>a/b joined by veth pairs, IPv6 off, addresses 10.99.x.y/24.
 * The sensor binary runs in namespace a; crafted frames are sent from b with
 * a foreign destination MAC, so namespace a's stack ignores them (as a
 * SPAN port's traffic is) and answers nothing. Every run is bounded
 * (--duration 2, then a 15 s reap limit), and .fini deletes the namespaces
 * (the veths go with them) even when an assertion failed. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "support/netns.h"
#include "support/support.h"

#define NSEND_MAX 512

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

static void make_bed(const char *tag, unsigned npairs)
{
    snprintf(dir, sizeof dir, "/tmp/pt-live-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    cr_assert(pt_netns_setup(&bed, tag, npairs), "cannot build the netns test bed '%s'", tag);
}

/* ---- frames ---- */

struct frames {
    uint8_t *f[NSEND_MAX];
    size_t len[NSEND_MAX];
    unsigned n;
};

static void add_udp(struct frames *fs, const struct pt_udp_spec *s, unsigned count)
{
    for (unsigned i = 0; i < count; i++) {
        cr_assert_lt(fs->n, NSEND_MAX);
        fs->f[fs->n] = malloc(1600);
        cr_assert_not_null(fs->f[fs->n]);
        fs->len[fs->n] = pt_netns_udp_frame(fs->f[fs->n], 1600, s);
        cr_assert_gt(fs->len[fs->n], 0);
        fs->n++;
    }
}

static struct pt_udp_spec udp(uint16_t sport, uint16_t dport)
{
    struct pt_udp_spec s = {.src_ip = {10, 99, 0, 2},
                            .dst_ip = {10, 99, 0, 1},
                            .sport = sport,
                            .dport = dport,
                            .payload = 64};
    return s;
}

static void send_frames(const char *ifname, struct frames *fs)
{
    int sent = pt_netns_send(&bed, ifname, fs->f, fs->len, fs->n);
    cr_assert_eq(sent, (int)fs->n, "sent %d of %u frames on %s", sent, fs->n, ifname);
    for (unsigned i = 0; i < fs->n; i++)
        free(fs->f[i]);
    fs->n = 0;
}

/* ---- the sensor ---- */

static char errpath[128];

/* Start `packettracer run --duration SECS -d DIR <args>` in namespace a and
 * wait until it is capturing (DIR/run.pid). */
static pid_t start_sensor_for(const char *secs, const char *const *args, unsigned nargs)
{
    char *argv[32];
    char pidpath[128];
    unsigned n = 0;
    pid_t pid;

    argv[n++] = (char *)pt_test_bin();
    argv[n++] = "run";
    argv[n++] = "--duration";
    argv[n++] = (char *)secs;
    argv[n++] = "-d";
    argv[n++] = dir;
    for (unsigned i = 0; i < nargs && n < 31; i++)
        argv[n++] = (char *)args[i];
    argv[n] = NULL;
    snprintf(errpath, sizeof errpath, "%s/stderr", dir);
    snprintf(pidpath, sizeof pidpath, "%s/run.pid", dir);
    pid = pt_netns_spawn(&bed, argv, errpath);
    cr_assert_gt(pid, 0);
    if (!pt_test_wait_file(pidpath, pid, 5000)) {
        char *err = NULL;
        int st = pt_test_wait_exit(pid, 1000);
        char cmd[160];
        snprintf(cmd, sizeof cmd, "cat '%s'", errpath);
        pt_test_run(cmd, &err, NULL);
        cr_assert_fail("sensor not ready (exit %d): %s", st, err);
    }
    return pid;
}

static pid_t start_sensor(const char *const *args, unsigned nargs)
{
    return start_sensor_for("2", args, nargs);
}

static char *slurp(const char *name)
{
    char path[160];

    snprintf(path, sizeof path, "%s/%s", dir, name);
    char *s = pt_test_slurp(path, NULL);
    return s ? s : strdup(""); /* not written yet: empty, as callers expect */
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Wait (bounded) until the sensor's stderr holds @what @count times or more:
 * the readiness signal of a re-attach or a filter reload. */
static void wait_stderr(const char *what, unsigned count, int timeout_ms)
{
    char *err = NULL;

    for (int t = 0; t < timeout_ms; t += 20) {
        unsigned seen = 0;
        free(err);
        err = slurp("stderr");
        for (const char *p = err; p && (p = strstr(p, what)); p++)
            seen++;
        if (seen >= count) {
            free(err);
            return;
        }
        sleep_ms(20);
    }
    cr_assert_fail("no '%s' (x%u) in the sensor's stderr within %d ms:\n%s", what, count,
                   timeout_ms, err);
}

static char *finish_sensor(pid_t pid)
{
    int st = pt_test_wait_exit(pid, 15000);
    char *err = slurp("stderr");
    cr_assert_eq(st, 0, "sensor exit status %d, stderr:\n%s", st, err);
    return err;
}

/* ---- records ---- */

struct rec {
    long sport, dport, orig_pkts, resp_pkts, vlan, inner_vlan;
    char ifaces[128];
};

static long jnum(const char *line, const char *key)
{
    char pat[64];
    const char *p;

    snprintf(pat, sizeof pat, "\"%s\":", key);
    if (!(p = strstr(line, pat)))
        return -1;
    return strtol(p + strlen(pat), NULL, 10);
}

static unsigned read_records(struct rec *v, unsigned max)
{
    char *all = slurp("flows.json"), *save = NULL;
    unsigned n = 0;

    for (char *line = strtok_r(all, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        const char *ifs = strstr(line, "\"interfaces\":[");
        if (!strstr(line, "\"_path\":\"conn\""))
            continue; /* app records (the test bed's ARP) */
        cr_assert_lt(n, max, "too many records");
        v[n].sport = jnum(line, "id.orig_p");
        v[n].dport = jnum(line, "id.resp_p");
        v[n].orig_pkts = jnum(line, "orig_pkts");
        v[n].resp_pkts = jnum(line, "resp_pkts");
        v[n].vlan = jnum(line, "vlan");
        v[n].inner_vlan = jnum(line, "inner_vlan");
        v[n].ifaces[0] = '\0';
        if (ifs)
            sscanf(ifs + 14, "%127[^]]", v[n].ifaces);
        n++;
    }
    free(all);
    return n;
}

static const struct rec *find_sport(const struct rec *v, unsigned n, long sport)
{
    for (unsigned i = 0; i < n; i++)
        if (v[i].sport == sport)
            return &v[i];
    return NULL;
}

/* "interface IF: packets N ..." from the final statistics. */
static long final_stat(const char *err, const char *ifname, const char *field)
{
    char pat[96];
    const char *p;

    snprintf(pat, sizeof pat, "interface %s: ", ifname);
    if (!(p = strstr(err, pat)))
        return -1;
    snprintf(pat, sizeof pat, " %s ", field);
    if (!(p = strstr(p, pat)))
        return -1;
    return strtol(p + strlen(pat), NULL, 10);
}

#define ONLY_GEN "ether src " PT_NETNS_SRC_MAC

TestSuite(live, .fini = fini, .timeout = 40);

Test(live, packets_per_interface_exact)
{
    static struct frames fs;
    struct rec v[16];
    const char *args[] = {"-i", "veth0", "-f", ONLY_GEN};
    unsigned n;
    pid_t pid;
    char *err;

    make_bed("cnt", 1);
    for (unsigned i = 0; i < 5; i++) {
        struct pt_udp_spec s = udp((uint16_t)(1000 + i), 7000);
        add_udp(&fs, &s, 40);
    }
    pid = start_sensor(args, 4);
    send_frames("veth1", &fs);
    err = finish_sensor(pid);
    cr_expect_eq(final_stat(err, "veth0", "packets"), 200, "%s", err);
    cr_expect_eq(final_stat(err, "veth0", "kernel_packets"), 200, "%s", err);
    cr_expect_eq(final_stat(err, "veth0", "kernel_drops"), 0, "%s", err);
    cr_expect_eq(final_stat(err, "veth0", "decode_errors"), 0, "%s", err);
    n = read_records(v, 16);
    cr_assert_eq(n, 5, "%u records", n);
    for (unsigned i = 0; i < 5; i++) {
        const struct rec *r = find_sport(v, n, 1000 + i);
        cr_assert_not_null(r, "no flow from port %u", 1000 + i);
        cr_expect_eq(r->orig_pkts, 40);
        cr_expect_eq(r->resp_pkts, 0);
        cr_expect_eq(r->dport, 7000);
        cr_expect_eq(r->vlan, -1, "untagged frames got vlan %ld", r->vlan);
        cr_expect_str_eq(r->ifaces, "\"veth0\"");
    }
    free(err);
}

Test(live, vlan_8021q_and_qinq)
{
    static struct frames fs;
    struct rec v[16];
    const char *args[] = {"-i", "veth0", "-q", "-f", ONLY_GEN};
    struct pt_udp_spec q = udp(2000, 7000), qinq = udp(2001, 7000), plain = udp(2002, 7000);
    const struct rec *r;
    unsigned n;
    pid_t pid;

    make_bed("vlan", 1);
    q.outer_tpid = 0x8100;
    q.outer_vid = 100;
    qinq.outer_tpid = 0x88a8;
    qinq.outer_vid = 200;
    qinq.inner_vid = 300;
    add_udp(&fs, &q, 30);
    add_udp(&fs, &qinq, 20);
    add_udp(&fs, &plain, 10);
    pid = start_sensor(args, 5);
    send_frames("veth1", &fs);
    free(finish_sensor(pid));
    n = read_records(v, 16);
    cr_assert_eq(n, 3, "%u records", n);
    cr_assert_not_null(r = find_sport(v, n, 2000));
    cr_expect_eq(r->orig_pkts, 30);
    cr_expect_eq(r->vlan, 100);
    cr_expect_eq(r->inner_vlan, -1);
    cr_assert_not_null(r = find_sport(v, n, 2001));
    cr_expect_eq(r->orig_pkts, 20);
    cr_expect_eq(r->vlan, 200);
    cr_expect_eq(r->inner_vlan, 300);
    cr_assert_not_null(r = find_sport(v, n, 2002));
    cr_expect_eq(r->orig_pkts, 10);
    cr_expect_eq(r->vlan, -1);
}

Test(live, bpf_filter_keeps_exactly_the_matching_packets)
{
    static struct frames fs;
    struct rec v[16];
    const char *args[] = {"-i", "veth0", "-f", "udp and dst port 5001"};
    struct pt_udp_spec yes = udp(3000, 5001), no = udp(3001, 5002), no2 = udp(5001, 3002);
    unsigned n;
    pid_t pid;
    char *err;

    make_bed("bpf", 1);
    add_udp(&fs, &yes, 25);
    add_udp(&fs, &no, 35);
    add_udp(&fs, &yes, 25);
    add_udp(&fs, &no2, 15); /* source port 5001: must not match "dst port" */
    pid = start_sensor(args, 4);
    send_frames("veth1", &fs);
    err = finish_sensor(pid);
    cr_expect_eq(final_stat(err, "veth0", "packets"), 50, "%s", err);
    cr_expect_eq(final_stat(err, "veth0", "kernel_packets"), 50, "%s", err);
    n = read_records(v, 16);
    cr_assert_eq(n, 1, "%u records", n);
    cr_expect_eq(v[0].sport, 3000);
    cr_expect_eq(v[0].dport, 5001);
    cr_expect_eq(v[0].orig_pkts, 50);
    free(err);
}

/* N workers in one fanout group: every frame seen exactly once. */
static void workers_see_each_packet_once(const char *tag, const char *nworkers)
{
    static struct frames fs;
    struct rec v[32];
    const char *args[] = {"-i", "veth0", "-w", nworkers, "-f", ONLY_GEN};
    long sum = 0, wsum = 0;
    const char *p;
    unsigned n;
    pid_t pid;
    char *err;

    make_bed(tag, 1);
    for (unsigned i = 0; i < 12; i++) {
        struct pt_udp_spec s = udp((uint16_t)(4000 + i), (uint16_t)(6000 + i));
        add_udp(&fs, &s, 25);
    }
    pid = start_sensor(args, 6);
    send_frames("veth1", &fs);
    err = finish_sensor(pid);
    cr_expect_eq(final_stat(err, "veth0", "packets"), 300, "%s", err);
    for (p = strstr(err, "  worker "); p; p = strstr(p + 1, "  worker ")) {
        const char *q = strstr(p, " packets ");
        cr_assert_not_null(q);
        wsum += strtol(q + 9, NULL, 10);
    }
    cr_expect_eq(wsum, 300, "per-worker packets sum to %ld:\n%s", wsum, err);
    n = read_records(v, 32);
    cr_assert_eq(n, 12, "%u records (a flow split or duplicated?)", n);
    for (unsigned i = 0; i < n; i++) {
        cr_expect_eq(v[i].orig_pkts, 25, "port %ld: %ld packets", v[i].sport, v[i].orig_pkts);
        sum += v[i].orig_pkts + v[i].resp_pkts;
    }
    cr_expect_eq(sum, 300);
    free(err);
}

Test(live, two_workers_see_every_packet_once)
{
    workers_see_each_packet_once("w2", "2");
}

Test(live, three_workers_see_every_packet_once)
{
    workers_see_each_packet_once("w3", "3");
}

/* Two mirror ports, one direction each: one flow with both directions. */
Test(live, conversation_mirrored_on_two_interfaces_is_one_flow)
{
    static struct frames a2b, b2a;
    struct rec v[8];
    const char *args[] = {"-i", "veth0", "-i", "veth2", "-q", "-f", "udp and net 10.99.0.0/24"};
    struct pt_udp_spec fwd = udp(40000, 53), rev = udp(53, 40000);
    unsigned n;
    pid_t pid;

    make_bed("mir", 2);
    memcpy(rev.src_ip, fwd.dst_ip, 4);
    memcpy(rev.dst_ip, fwd.src_ip, 4);
    rev.reverse_macs = true;
    add_udp(&a2b, &fwd, 15);
    add_udp(&b2a, &rev, 12);
    pid = start_sensor(args, 7);
    send_frames("veth1", &a2b); /* pair 0: originator -> responder */
    send_frames("veth3", &b2a); /* pair 1: responder -> originator */
    free(finish_sensor(pid));
    n = read_records(v, 8);
    cr_assert_eq(n, 1, "%u records", n);
    cr_expect_eq(v[0].sport, 40000);
    cr_expect_eq(v[0].dport, 53);
    cr_expect_eq(v[0].orig_pkts, 15);
    cr_expect_eq(v[0].resp_pkts, 12);
    cr_expect_str_eq(v[0].ifaces, "\"veth0\",\"veth2\"");
}

/* ---- errors before capture ---- */

static int run_failing(char *const *argv, char **err)
{
    pid_t pid;
    int st;

    snprintf(errpath, sizeof errpath, "%s/stderr", dir);
    pid = pt_netns_spawn(&bed, argv, errpath);
    cr_assert_gt(pid, 0);
    st = pt_test_wait_exit(pid, 10000);
    *err = slurp("stderr");
    return st;
}

Test(live, unknown_interface_is_named)
{
    char *argv[] = {
        (char *)pt_test_bin(), "run", "-q", "--duration", "1", "-d", dir, "-i", "veth0", "-i",
        "nosuchif7",           NULL};
    char *err;
    int st;

    make_bed("uif", 1);
    st = run_failing(argv, &err);
    cr_expect_neq(st, 0);
    cr_expect(strstr(err, "nosuchif7") != NULL, "stderr: %s", err);
    free(err);
}

Test(live, bad_filter_is_reported)
{
    char *argv[] = {
        (char *)pt_test_bin(), "run", "-q", "--duration", "1", "-d", dir, "-i", "veth0", "-f",
        "udp and and",         NULL};
    char *err;
    int st;

    make_bed("bf", 1);
    st = run_failing(argv, &err);
    cr_expect_neq(st, 0);
    cr_expect(strstr(err, "filter") != NULL, "stderr: %s", err);
    free(err);
}

Test(live, missing_cap_net_raw_is_named)
{
    char *argv[] = {"setpriv",
                    "--inh-caps=-all",
                    "--bounding-set=-all",
                    (char *)pt_test_bin(),
                    "run",
                    "-q",
                    "--duration",
                    "1",
                    "-d",
                    dir,
                    "-i",
                    "veth0",
                    NULL};
    char *err;
    int st;

    make_bed("cap", 1);
    st = run_failing(argv, &err);
    cr_expect_neq(st, 0);
    cr_expect(strstr(err, "CAP_NET_RAW") != NULL, "stderr: %s", err);
    free(err);
}

/* ---- link state and reload ---- */

static long sum_sport(const struct rec *v, unsigned n, long sport)
{
    long sum = 0;

    for (unsigned i = 0; i < n; i++)
        if (v[i].sport == sport)
            sum += v[i].orig_pkts + v[i].resp_pkts;
    return sum;
}

/* The veth pair is deleted and re-created (a new ifindex) mid-run: the
 * workers wait, get new sockets, and every frame sent while it is there is
 * counted once. */
Test(live, interface_recreated_resumes_capture)
{
    static struct frames fs;
    struct rec v[16];
    const char *args[] = {"-i", "veth0", "-w", "2", "-f", ONLY_GEN};
    struct pt_udp_spec s = udp(1100, 7100);
    unsigned n;
    pid_t pid;
    char *err;

    make_bed("re", 1);
    pid = start_sensor_for("6", args, 6);
    add_udp(&fs, &s, 50);
    send_frames("veth1", &fs);
    sleep_ms(300);
    cr_assert(pt_netns_pair_del(&bed, 0));
    wait_stderr("link down on veth0", 1, 3000);
    cr_assert(pt_netns_pair_add(&bed, 0), "cannot re-create veth0/veth1");
    wait_stderr("reattached veth0", 1, 3000);
    add_udp(&fs, &s, 30);
    send_frames("veth1", &fs);
    err = finish_sensor(pid);
    n = read_records(v, 16);
    cr_expect_eq(sum_sport(v, n, 1100), 80, "%u records:\n%s", n, err);
    cr_expect_eq(final_stat(err, "veth0", "packets"), 80, "%s", err);
    cr_expect_eq(final_stat(err, "veth0", "link_down"), 1, "%s", err);
    cr_expect_eq(final_stat(err, "veth0", "reattach"), 1, "%s", err);
    free(err);
}

/* ip link set down, then up: frames before and after are counted exactly;
 * those sent while it is down die in the veth (its peer is down). */
Test(live, interface_down_then_up_resumes_capture)
{
    static struct frames fs;
    struct rec v[16];
    const char *args[] = {"-i", "veth0", "-f", ONLY_GEN};
    struct pt_udp_spec before = udp(1200, 7200), during = udp(1201, 7200), after = udp(1202, 7200);
    unsigned n;
    pid_t pid;
    char *err;

    make_bed("du", 1);
    pid = start_sensor_for("6", args, 4);
    add_udp(&fs, &before, 40);
    send_frames("veth1", &fs);
    sleep_ms(300);
    cr_assert(pt_netns_link_set(&bed, "veth0", false));
    wait_stderr("link down on veth0", 1, 3000);
    add_udp(&fs, &during, 10);
    pt_netns_send(&bed, "veth1", fs.f, fs.len, fs.n); /* the veth drops them (ENOBUFS) */
    for (unsigned i = 0; i < fs.n; i++)
        free(fs.f[i]);
    fs.n = 0;
    cr_assert(pt_netns_link_set(&bed, "veth0", true));
    wait_stderr("reattached veth0", 1, 3000);
    add_udp(&fs, &after, 25);
    send_frames("veth1", &fs);
    err = finish_sensor(pid);
    n = read_records(v, 16);
    cr_expect_eq(sum_sport(v, n, 1200), 40, "%u records:\n%s", n, err);
    cr_expect_eq(sum_sport(v, n, 1202), 25, "%u records:\n%s", n, err);
    cr_expect_eq(final_stat(err, "veth0", "link_down"), 1, "%s", err);
    cr_expect_eq(final_stat(err, "veth0", "reattach"), 1, "%s", err);
    free(err);
}

static void write_config(const char *path, const char *filter)
{
    char tmp[160];
    FILE *f;

    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    cr_assert_not_null(f = fopen(tmp, "w"));
    fprintf(f, "# test config\nfilter: \"%s\"\n", filter);
    cr_assert_eq(fclose(f), 0);
    cr_assert_eq(rename(tmp, path), 0);
}

/* SIGHUP swaps in the config file's new filter, nothing else. */
Test(live, sighup_reloads_the_filter)
{
    static struct frames fs;
    struct rec v[16];
    char cfg[128];
    const char *args[] = {"-c", cfg, "-i", "veth0"};
    struct pt_udp_spec p1 = udp(3000, 5001), p2 = udp(3001, 5002);
    unsigned n;
    pid_t pid;
    char *err;

    make_bed("hup", 1);
    snprintf(cfg, sizeof cfg, "%s/pt.yaml", dir);
    write_config(cfg, "udp and dst port 5001");
    pid = start_sensor_for("5", args, 4);
    add_udp(&fs, &p1, 20);
    add_udp(&fs, &p2, 15);
    send_frames("veth1", &fs);
    write_config(cfg, "udp and dst port 5002");
    cr_assert_eq(kill(pid, SIGHUP), 0);
    wait_stderr("filter reloaded", 1, 3000);
    add_udp(&fs, &p1, 12);
    add_udp(&fs, &p2, 30);
    send_frames("veth1", &fs);
    /* a bad filter keeps the one in place */
    write_config(cfg, "udp and and");
    cr_assert_eq(kill(pid, SIGHUP), 0);
    wait_stderr("filter reload: ", 1, 3000);
    add_udp(&fs, &p2, 7);
    send_frames("veth1", &fs);
    err = finish_sensor(pid);
    n = read_records(v, 16);
    cr_expect_eq(sum_sport(v, n, 3000), 20, "port 5001 (before reload only):\n%s", err);
    cr_expect_eq(sum_sport(v, n, 3001), 37, "port 5002 (after reload only):\n%s", err);
    cr_expect(strstr(err, "filter reloads: 1\n") != NULL, "%s", err);
    free(err);
}

/* ---- the store while the sensor writes it ---- */

/* Sum of "value" over the JSON points `packettracer series` printed. */
static long series_json_sum(const char *out, unsigned *npoints)
{
    long sum = 0;
    *npoints = 0;
    for (const char *p = out; (p = strstr(p, "\"value\":")); p++) {
        sum += strtol(p + 8, NULL, 10);
        (*npoints)++;
    }
    return sum;
}

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A query from another process while `run` writes the store returns the
 * seconds already closed, quickly, and capture loses nothing. */
Test(live, store_query_while_capturing)
{
    static struct frames fs;
    const char *args[] = {"-i", "veth0", "-f", ONLY_GEN};
    char cmd[512], *out = NULL;
    unsigned npts = 0;
    long seen = 0;
    pid_t pid;
    char *err;

    make_bed("sto", 1);
    pid = start_sensor_for("6", args, 4);
    for (unsigned burst = 0; burst < 3; burst++) {
        struct pt_udp_spec s = udp((uint16_t)(4000 + burst), 7100);
        add_udp(&fs, &s, 100);
        send_frames("veth1", &fs);
        sleep_ms(1300); /* the burst's second closes (tick ~100 ms after each second) */
        snprintf(cmd, sizeof cmd,
                 "%s series -d %s --metric packets --from -5m --step 1s --format json",
                 pt_test_bin(), dir);
        double t0 = mono_s();
        free(out);
        int st = pt_test_run(cmd, &out, NULL);
        double dt = mono_s() - t0;
        cr_assert_eq(st, 0, "series during the run: exit %d\n%s", st, out);
        cr_expect_lt(dt, 2.0, "a query took %.2f s", dt);
        seen = series_json_sum(out, &npts);
        cr_assert_eq(seen, 100 * (long)(burst + 1),
                     "after burst %u the store holds %ld packets:\n%s", burst, seen, out);
        /* the flows still open are readable too */
        snprintf(cmd, sizeof cmd, "%s flows -d %s --live --format json", pt_test_bin(), dir);
        free(out);
        cr_assert_eq(pt_test_run(cmd, &out, NULL), 0);
        unsigned open_flows = 0;
        for (const char *p = out; (p = strstr(p, "\"end_reason\":\"live\"")); p++)
            open_flows++;
        cr_expect_eq(open_flows, burst + 1, "after burst %u, open flows:\n%s", burst, out);
        char port[32];
        snprintf(port, sizeof port, "\"id.orig_p\":%u", 4000 + burst);
        cr_expect(strstr(out, port) != NULL, "no open flow from port %u:\n%s", 4000 + burst, out);
    }
    err = finish_sensor(pid);
    cr_expect_eq(final_stat(err, "veth0", "packets"), 300, "%s", err);
    cr_expect_eq(final_stat(err, "veth0", "kernel_drops"), 0, "%s", err);
    cr_expect(strstr(err, "seconds_lost 0 ") != NULL, "store lost seconds:\n%s", err);
    /* after the run: every packet is in the series, the flows are stored */
    free(out);
    snprintf(cmd, sizeof cmd, "%s series -d %s --metric packets --from 0 --step 1s --format json",
             pt_test_bin(), dir);
    cr_assert_eq(pt_test_run(cmd, &out, NULL), 0);
    cr_expect_eq(series_json_sum(out, &npts), 300, "%s", out);
    free(out);
    snprintf(cmd, sizeof cmd, "%s flows -d %s --from 0 --format json", pt_test_bin(), dir);
    cr_assert_eq(pt_test_run(cmd, &out, NULL), 0);
    unsigned nflows = 0;
    for (const char *p = out; (p = strstr(p, "\"_path\":\"conn\"")); p++)
        nflows++;
    cr_expect_eq(nflows, 3, "stored flows:\n%s", out);
    free(out);
    snprintf(cmd, sizeof cmd, "%s flows -d %s --live --format json", pt_test_bin(), dir);
    cr_assert_eq(pt_test_run(cmd, &out, NULL), 0);
    cr_expect_eq(strstr(out, "\"_path\""), NULL, "flows still open after the run:\n%s", out);
    free(out);
    free(err);
}
