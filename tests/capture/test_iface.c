/* test_iface.c - interface facts, offload checks and the tuning script on a
 * veth test bed.
 *
 * Each test builds its own bed (tests/support/netns.h; namespaces
 * pt<pid><tag>a/b, IPv6 off) and .fini deletes it. The C API reads the
 * namespace of the calling thread, so a test enters namespace a with
 * setns(2) around each call and returns to its own namespace at once (the
 * test process must not stay in a namespace it is about to delete). The CLI
 * and the tuning script run under `ip netns exec`. Bounded: a handful of
 * ip/ethtool commands and 50 frames per test. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pt/capture.h"
#include "support/netns.h"
#include "support/support.h"

static struct pt_netns bed;
static int home_fd = -1;

static void fini(void)
{
    if (home_fd >= 0) {
        setns(home_fd, CLONE_NEWNET);
        close(home_fd);
        home_fd = -1;
    }
    pt_netns_teardown(&bed);
}

static void make_bed(const char *tag)
{
    cr_assert(pt_netns_setup(&bed, tag, 1), "cannot build the netns test bed '%s'", tag);
}

static void enter_a(void)
{
    char path[96];
    int fd;

    if (home_fd < 0)
        cr_assert_geq(home_fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC), 0);
    snprintf(path, sizeof path, "/run/netns/%s", bed.a);
    cr_assert_geq(fd = open(path, O_RDONLY | O_CLOEXEC), 0, "open %s", path);
    cr_assert_eq(setns(fd, CLONE_NEWNET), 0, "setns %s", path);
    close(fd);
}

static void leave(void)
{
    cr_assert_eq(setns(home_fd, CLONE_NEWNET), 0);
}

static int sh(const char *cmd, char **out)
{
    char full[1024];
    snprintf(full, sizeof full, "%s 2>&1", cmd);
    return pt_test_run(full, out, NULL);
}

/* Run the command @fmt... and require exit status 0. */
static void run_ok(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void run_ok(const char *fmt, ...)
{
    char cmd[512], *out = NULL;
    va_list ap;
    int st;

    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    st = sh(cmd, &out);
    cr_assert_eq(st, 0, "%s: exit %d: %s", cmd, st, out);
    free(out);
}

static struct pt_iface_info get_a(const char *name)
{
    struct pt_iface_info f;
    int rc;

    enter_a();
    rc = pt_iface_get(name, &f);
    leave();
    cr_assert_eq(rc, 0, "pt_iface_get(%s): %s", name, pt_strerror(rc));
    return f;
}

static unsigned offloads_a(const char *name)
{
    unsigned on = 0;
    int rc;

    enter_a();
    rc = pt_iface_offloads(name, &on, NULL);
    leave();
    cr_assert_eq(rc, 0, "pt_iface_offloads(%s): %s", name, pt_strerror(rc));
    return on;
}

/* A second veth pair inside namespace a with a known MTU and MACs; only
 * vt0 is up, so its peer has no carrier and vt0 is admin up, oper down. */
static void add_known_pair(void)
{
    run_ok("ip -n %s link add vt0 mtu 1400 address 02:42:ac:11:00:07 type veth "
           "peer name vt1 mtu 1400 address 02:42:ac:11:00:08",
           bed.a);
    run_ok("ip netns exec %s sysctl -qw net.ipv6.conf.vt0.disable_ipv6=1", bed.a);
    run_ok("ip -n %s link set vt0 up", bed.a);
}

TestSuite(iface, .fini = fini, .timeout = 20);

Test(iface, list_reports_name_mtu_mac_and_state)
{
    static const uint8_t mac[6] = {0x02, 0x42, 0xac, 0x11, 0x00, 0x07};
    struct pt_iface_info *v = NULL, *vt0 = NULL, *vt1 = NULL;
    unsigned n = 0, named = 0;
    int rc;

    make_bed("ifl");
    add_known_pair();
    enter_a();
    rc = pt_iface_list(&v, &n);
    leave();
    cr_assert_eq(rc, 0, "%s", pt_strerror(rc));
    /* lo, veth0 (the bed's), vt0, vt1: nothing else in a fresh namespace */
    cr_assert_eq(n, 4, "%u interfaces", n);
    for (unsigned i = 0; i < n; i++) {
        if (i > 0)
            cr_expect_gt(v[i].index, v[i - 1].index, "not sorted by ifindex");
        if (strcmp(v[i].name, "vt0") == 0)
            vt0 = &v[i], named++;
        else if (strcmp(v[i].name, "vt1") == 0)
            vt1 = &v[i], named++;
    }
    cr_assert_eq(named, 2);
    cr_expect_eq(vt0->mtu, 1400);
    cr_expect_eq(vt0->mac_len, 6);
    cr_expect_arr_eq(vt0->mac, mac, 6);
    cr_expect(vt0->admin_up);
    cr_expect_not(vt0->carrier, "vt0 has carrier although its peer is down");
    cr_expect_eq(vt0->oper, PT_IFACE_OPER_LOWERLAYERDOWN, "oper %s", pt_iface_oper_name(vt0->oper));
    cr_expect_not(vt1->admin_up);
    cr_expect_eq(vt1->oper, PT_IFACE_OPER_DOWN, "oper %s", pt_iface_oper_name(vt1->oper));
    cr_expect_eq(vt1->mac[5], 0x08);
    free(v);

    /* peer up: carrier and oper up on both ends. The kernel's link watch
     * sets the operational state asynchronously (up to about a second
     * later), so wait for it, bounded: 50 tries 50 ms apart. */
    run_ok("ip -n %s link set vt1 up", bed.a);
    {
        struct pt_iface_info f = get_a("vt0");
        for (int i = 0; i < 50 && f.oper != PT_IFACE_OPER_UP; i++) {
            nanosleep(&(struct timespec){0, 50 * 1000000L}, NULL);
            f = get_a("vt0");
        }
        cr_expect(f.carrier);
        cr_expect_eq(f.oper, PT_IFACE_OPER_UP, "oper %s", pt_iface_oper_name(f.oper));
    }
}

Test(iface, speed_matches_sysfs_and_unknown_name_is_enodev)
{
    struct pt_iface_info f;
    char cmd[256], *out = NULL;
    long sysfs;
    int rc;

    make_bed("ifs");
    f = get_a("veth0");
    /* `ip netns exec` mounts the namespace's own sysfs; reading speed fails
     * (EINVAL) when the driver does not know it, which the API reports as -1 */
    snprintf(cmd, sizeof cmd,
             "ip netns exec %s cat /sys/class/net/veth0/speed 2>/dev/null || echo -1", bed.a);
    pt_test_run(cmd, &out, NULL);
    sysfs = strtol(out, NULL, 10);
    free(out);
    cr_expect_eq(f.speed_mbps, sysfs <= 0 ? -1 : sysfs, "api %lld, sysfs %ld",
                 (long long)f.speed_mbps, sysfs);
    enter_a();
    rc = pt_iface_get("nosuch0", &f);
    leave();
    cr_expect_eq(rc, -ENODEV, "%s", pt_strerror(rc));
    enter_a();
    rc = pt_iface_offloads("nosuch0", &(unsigned){0}, NULL);
    leave();
    cr_expect_eq(rc, -ENODEV, "%s", pt_strerror(rc));
}

/* veth0 in a receives exactly the frames sent from veth1 in b (IPv6 is off
 * on both, so no neighbour discovery adds frames of its own). */
Test(iface, rx_counters_count_exactly_the_frames_sent)
{
    enum { K = 50 };
    static uint8_t buf[K][256];
    uint8_t *frames[K];
    size_t lens[K];
    struct pt_udp_spec s = {.src_ip = {10, 99, 0, 2},
                            .dst_ip = {10, 99, 0, 1},
                            .sport = 1234,
                            .dport = 4321,
                            .payload = 64};
    struct pt_iface_info before, after;
    int sent;

    make_bed("ifr");
    for (unsigned i = 0; i < K; i++) {
        frames[i] = buf[i];
        lens[i] = pt_netns_udp_frame(buf[i], sizeof buf[i], &s);
        cr_assert_gt(lens[i], 0);
    }
    before = get_a("veth0");
    sent = pt_netns_send(&bed, "veth1", frames, lens, K);
    cr_assert_eq(sent, K);
    /* the peer's counters are updated in its transmit path, but give the
     * backlog a moment anyway */
    for (int t = 0; t < 100; t++) {
        struct timespec ts = {0, 10000000};
        after = get_a("veth0");
        if (after.rx_packets - before.rx_packets >= K)
            break;
        nanosleep(&ts, NULL);
    }
    cr_expect_eq(after.rx_packets - before.rx_packets, K, "rx_packets %llu -> %llu",
                 (unsigned long long)before.rx_packets, (unsigned long long)after.rx_packets);
    cr_expect_eq(after.rx_bytes - before.rx_bytes, (uint64_t)K * lens[0]);
    cr_expect_eq(after.rx_errors, before.rx_errors);
}

Test(iface, offload_check_follows_ethtool)
{
    make_bed("ifo");
    run_ok("ip netns exec %s ethtool -K veth0 gro on", bed.a);
    cr_expect(offloads_a("veth0") & PT_OFFLOAD_GRO, "GRO on but not reported");
    run_ok("ip netns exec %s ethtool -K veth0 gro off", bed.a);
    cr_expect_not(offloads_a("veth0") & PT_OFFLOAD_GRO, "GRO off but reported");
    run_ok("ip netns exec %s ethtool -K veth0 tso off gso off", bed.a);
    cr_expect_eq(offloads_a("veth0") & (PT_OFFLOAD_TSO | PT_OFFLOAD_GSO), 0);
    run_ok("ip netns exec %s ethtool -K veth0 tso on", bed.a);
    cr_expect(offloads_a("veth0") & PT_OFFLOAD_TSO, "TSO on but not reported");
    /* veth has no LRO and no hardware GRO */
    cr_expect_eq(offloads_a("veth0") & (PT_OFFLOAD_LRO | PT_OFFLOAD_GRO_HW), 0);
}

Test(iface, cli_json_lists_the_known_pair)
{
    char cmd[512], *out = NULL, *line;
    int st;

    make_bed("ifj");
    add_known_pair();
    run_ok("ip netns exec %s ethtool -K vt0 gro on", bed.a);
    snprintf(cmd, sizeof cmd, "ip netns exec %s '%s' ifaces --format json vt0", bed.a,
             pt_test_bin());
    st = sh(cmd, &out);
    cr_assert_eq(st, 0, "%s", out);
    line = strstr(out, "{\"name\":\"vt0\",");
    cr_assert_not_null(line, "%s", out);
    cr_expect_null(strstr(out, "\"name\":\"vt1\""), "vt1 listed although not asked for");
    cr_expect_not_null(strstr(line, "\"mtu\":1400,"), "%s", out);
    cr_expect_not_null(strstr(line, "\"mac\":\"02:42:ac:11:00:07\""), "%s", out);
    cr_expect_not_null(strstr(line, "\"admin_up\":true"), "%s", out);
    cr_expect_not_null(strstr(line, "\"oper\":\"lowerlayerdown\""), "%s", out);
    cr_expect_not_null(strstr(line, "\"carrier\":false"), "%s", out);
    cr_expect_not_null(strstr(line, "\"offloads\":[\"gro\""), "%s", out);
    free(out);

    snprintf(cmd, sizeof cmd, "ip netns exec %s '%s' ifaces nosuch0", bed.a, pt_test_bin());
    st = sh(cmd, &out);
    cr_expect_eq(st, 1);
    cr_expect_not_null(strstr(out, "unknown interface 'nosuch0'"), "%s", out);
    free(out);
}

Test(iface, warn_offloads_names_interface_offload_and_command)
{
    char cmd[512], *out = NULL;

    make_bed("ifw");
    run_ok("ip netns exec %s ethtool -K veth0 gro on tso off gso off", bed.a);
    /* pt_iface_warn_offloads() writes to stderr: capture it in a child */
    fflush(NULL);
    {
        char path[] = "/tmp/pt-iface-warn-XXXXXX";
        int fd = mkstemp(path), saved = dup(2);
        cr_assert_geq(fd, 0);
        dup2(fd, 2);
        enter_a();
        pt_iface_warn_offloads("veth0");
        leave();
        dup2(saved, 2);
        close(saved);
        close(fd);
        snprintf(cmd, sizeof cmd, "cat %s; rm -f %s", path, path);
        pt_test_run(cmd, &out, NULL);
    }
    cr_expect_not_null(strstr(out, "warning: interface veth0: offload gro is on"), "%s", out);
    cr_expect_not_null(strstr(out, "tuning/tune-capture-iface.sh veth0"), "%s", out);
    cr_expect_not_null(strstr(out, "ethtool -K veth0 gro off"), "%s", out);
    cr_expect_null(strstr(out, "offload tso"), "tso is off: %s", out);
    cr_expect_eq(strchr(out, '\n') - out + 1, (long)strlen(out), "one line expected: %s", out);
    free(out);
}

static bool gro_on(void)
{
    char cmd[256], *out = NULL;
    bool on;

    snprintf(cmd, sizeof cmd, "ip netns exec %s ethtool -k veth0", bed.a);
    cr_assert_eq(sh(cmd, &out), 0, "%s", out);
    cr_assert_not_null(strstr(out, "generic-receive-offload: "), "%s", out);
    on = strstr(out, "generic-receive-offload: on") != NULL;
    free(out);
    return on;
}

Test(iface, tuning_script_dry_run_changes_nothing_then_real_run_turns_gro_off)
{
    char cmd[512], *out = NULL;
    int st;

    make_bed("ift");
    run_ok("ip netns exec %s ethtool -K veth0 gro on", bed.a);
    cr_assert(gro_on());

    snprintf(cmd, sizeof cmd, "ip netns exec %s '%s' veth0 --dry-run --worker-cpus 0", bed.a,
             pt_test_src("tuning/tune-capture-iface.sh"));
    st = sh(cmd, &out);
    cr_assert_eq(st, 0, "%s", out);
    cr_expect_not_null(strstr(out, "would run: ethtool -K veth0 gro off"), "%s", out);
    cr_expect_not_null(strstr(out, "no ring settings (skipped)"), "%s", out);
    cr_expect_not_null(strstr(out, "no IRQ of veth0"), "%s", out);
    cr_expect_null(strstr(out, "\nrun: "), "dry run ran something: %s", out);
    free(out);
    cr_expect(gro_on(), "--dry-run changed GRO");
    cr_expect(offloads_a("veth0") & PT_OFFLOAD_GRO);

    /* for real; --no-sysctl: on kernels where net.core sysctls are not per
     * namespace they would change the host */
    snprintf(cmd, sizeof cmd, "ip netns exec %s '%s' veth0 --no-sysctl", bed.a,
             pt_test_src("tuning/tune-capture-iface.sh"));
    st = sh(cmd, &out);
    cr_assert_eq(st, 0, "%s", out);
    cr_expect_not_null(strstr(out, "run: ethtool -K veth0 gro off"), "%s", out);
    free(out);
    cr_expect_not(gro_on(), "GRO still on after the script");
    cr_expect_eq(offloads_a("veth0") & (PT_OFFLOAD_GRO | PT_OFFLOAD_GSO | PT_OFFLOAD_TSO), 0);

    /* idempotent: a second run changes nothing */
    st = sh(cmd, &out);
    cr_assert_eq(st, 0, "%s", out);
    cr_expect_not_null(strstr(out, "offloads: nothing to change"), "%s", out);
    cr_expect_null(strstr(out, "run: ethtool"), "%s", out);
    free(out);
}
