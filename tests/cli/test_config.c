/* test_config.c - the typed config of `packettracer run` (src/cli/config.c).
 *
 * DESIGN: each test writes YAML into its own mkdtemp directory and loads it
 * through the module's API (pt_config_init/load/set/finish), checking the
 * typed fields that land in struct pt_live_opts and its pt_flow_config, the
 * source of each key, and that every kind of error gives PT_E_BADARG (or
 * -ENOENT) with the file, line and key in the message. The config_cli suite runs the
 * binary: a bad config exits 2 before any socket is opened. */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../src/cli/config.h"
#include "pt/common.h"
#include "pt/flow.h"
#include "support/support.h"

static char dir[64];
static char msg[4608];

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/pt-config-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void)
{
    char cmd[128];

    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    pt_test_run(cmd, NULL, NULL);
}

/* Write @text to DIR/@name; returns the path (static buffer). */
static const char *write_yaml(const char *name, const char *text)
{
    static char path[128];
    FILE *f;

    snprintf(path, sizeof path, "%s/%s", dir, name);
    cr_assert_not_null(f = fopen(path, "w"));
    fputs(text, f);
    cr_assert_eq(fclose(f), 0);
    return path;
}

/* Load @text; returns pt_config_load's code, @cfg initialised first. */
static int load_text(struct pt_config *cfg, const char *text)
{
    pt_config_init(cfg);
    msg[0] = '\0';
    return pt_config_load(write_yaml("c.yaml", text), cfg, msg, sizeof msg);
}

TestSuite(config, .init = setup, .fini = teardown);

Test(config, defaults)
{
    static struct pt_config cfg;
    struct pt_flow_config fd;

    pt_config_init(&cfg);
    pt_flow_config_default(&fd);
    cr_expect_eq(cfg.live.n_ifaces, 0);
    cr_expect_eq(cfg.live.workers, 1);
    cr_expect_str_eq(cfg.filter, "");
    cr_expect_str_eq(cfg.datadir, "/var/lib/packettracer");
    cr_expect_eq(cfg.live.fanout, PT_FANOUT_HASH);
    cr_expect(cfg.live.promisc);
    cr_expect_eq(cfg.live.block_size, PT_LIVE_BLOCK_SIZE);
    cr_expect_eq(cfg.live.block_count, PT_LIVE_BLOCK_COUNT);
    cr_expect_not(cfg.live.cpu_pin);
    cr_expect_not(cfg.quiet);
    cr_expect_eq(cfg.live.duration_ns, 0);
    /* the table's flow defaults agree with the flow module's */
    cr_expect(memcmp(&cfg.live.flow, &fd, sizeof fd) == 0);
    cr_expect_eq(cfg.live.flow.max_flows, 1000000);
    cr_expect_eq(cfg.live.flow.idle_tcp_ns, 300ull * 1000000000ull);
    cr_expect_eq(pt_config_source(&cfg, "workers"), PT_CONFIG_SRC_DEFAULT);
    cr_expect_eq(pt_config_source(&cfg, "nosuchkey"), -1);
    cr_expect_str_eq(cfg.file, "");
}

Test(config, app_layer_keys)
{
    static struct pt_config cfg;
    int rc = load_text(&cfg, "app: false\n"
                             "app_states: 100\n"
                             "app_queue: 64\n"
                             "dns_names: 1000\n"
                             "devices: 50\n"
                             "geoip: none\n"
                             "geoip_asn: /srv/asn.mmdb\n"
                             "oui_dir: /srv/ieee\n");

    cr_assert_eq(rc, 0, "%s", msg);
    cr_expect_not(cfg.app);
    cr_expect_eq(cfg.live.flow.app_states, 100);
    cr_expect_eq(cfg.live.flow.app_queue, 64);
    cr_expect_eq(cfg.dns_names, 1000);
    cr_expect_eq(cfg.devices, 50);
    cr_expect_str_eq(cfg.geoip, "none");
    cr_expect_str_eq(cfg.geoip_asn, "/srv/asn.mmdb");
    cr_expect_str_eq(cfg.oui_dir, "/srv/ieee");
    pt_config_init(&cfg);
    cr_expect(cfg.app);
    cr_expect_eq(cfg.devices, 16384);
    cr_expect_str_eq(cfg.geoip, "");
    cr_expect_eq(pt_config_set(&cfg, "app", "false", msg, sizeof msg), 0, "%s", msg);
    cr_expect_not(cfg.app);
    cr_expect_lt(load_text(&cfg, "devices: 2\n"), 0); /* below the table's minimum */
    cr_expect_not_null(strstr(msg, "devices"), "%s", msg);
}

Test(config, every_type_parses)
{
    static struct pt_config cfg;
    int rc = load_text(&cfg, "# comment\n"
                             "interfaces: [eth1, \"eth2\"]\n"
                             "workers: 8\n"
                             "filter: 'udp and port 53'\n"
                             "datadir: /srv/pt\n"
                             "fanout: qm\n"
                             "promisc: no\n"
                             "block_size: 4M\n"
                             "block_count: 128\n"
                             "cpu_pin: true\n"
                             "quiet: On\n"
                             "duration: 2h\n"
                             "max_flows: 5000\n"
                             "shards: 64\n"
                             "full_policy: evict\n"
                             "idle_timeout_tcp: 10m\n"
                             "idle_timeout_udp: 30s\n"
                             "idle_timeout_icmp: 5\n"
                             "active_timeout: 0\n");

    cr_assert_eq(rc, 0, "%s", msg);
    cr_expect_eq(cfg.live.n_ifaces, 2);
    cr_expect_str_eq(cfg.ifname[0], "eth1");
    cr_expect_str_eq(cfg.ifname[1], "eth2");
    cr_expect_eq(cfg.live.workers, 8);
    cr_expect_str_eq(cfg.filter, "udp and port 53");
    cr_expect_str_eq(cfg.datadir, "/srv/pt");
    cr_expect_eq(cfg.live.fanout, PT_FANOUT_QM);
    cr_expect_not(cfg.live.promisc);
    cr_expect_eq(cfg.live.block_size, 4u << 20);
    cr_expect_eq(cfg.live.block_count, 128);
    cr_expect(cfg.live.cpu_pin);
    cr_expect(cfg.quiet);
    cr_expect_eq(cfg.live.duration_ns, 7200ull * 1000000000ull);
    cr_expect_eq(cfg.live.flow.max_flows, 5000);
    cr_expect_eq(cfg.live.flow.shards, 64);
    cr_expect_eq(cfg.live.flow.full_policy, PT_FLOW_FULL_EVICT);
    cr_expect_eq(cfg.live.flow.idle_tcp_ns, 600ull * 1000000000ull);
    cr_expect_eq(cfg.live.flow.idle_udp_ns, 30ull * 1000000000ull);
    cr_expect_eq(cfg.live.flow.idle_icmp_ns, 5ull * 1000000000ull);
    cr_expect_eq(cfg.live.flow.active_ns, 0);
    cr_expect_eq(pt_config_source(&cfg, "shards"), PT_CONFIG_SRC_FILE);
    cr_expect_eq(cfg.line[0], 2); /* interfaces, the table's first key */
    cr_expect_eq(pt_config_finish(&cfg, msg, sizeof msg), 0, "%s", msg);
    cr_expect_eq(cfg.live.ifaces[1], cfg.ifname[1]);
    cr_expect_str_eq(cfg.live.filter, "udp and port 53");
}

static void expect_bad(const char *text, unsigned line, const char *needle);

Test(config, store_keys)
{
    static struct pt_config cfg;

    pt_config_init(&cfg);
    cr_expect(cfg.store, "the store is on by default");
    cr_expect_eq(cfg.top_n, 10);
    cr_expect_eq(cfg.keep_ns[0], 48ull * 3600 * 1000000000ull);
    cr_expect_eq(cfg.keep_ns[1], 30ull * 86400 * 1000000000ull);
    cr_expect_eq(cfg.keep_ns[2], 2ull * 365 * 86400 * 1000000000ull);
    cr_expect_eq(cfg.store_max, 16ull << 30);
    cr_assert_eq(load_text(&cfg, "store: off\ntop_n: 25\nretention_1s: 6h\nretention_1m: 7d\n"
                                 "retention_1h: 1y\nretention_flows: 12h\nstore_max_size: 2T\n"),
                 0, "%s", msg);
    cr_expect_not(cfg.store);
    cr_expect_eq(cfg.top_n, 25);
    cr_expect_eq(cfg.keep_ns[0], 6ull * 3600 * 1000000000ull);
    cr_expect_eq(cfg.keep_ns[1], 7ull * 86400 * 1000000000ull);
    cr_expect_eq(cfg.keep_ns[2], 365ull * 86400 * 1000000000ull);
    cr_expect_eq(cfg.keep_flows_ns, 12ull * 3600 * 1000000000ull);
    cr_expect_eq(cfg.store_max, 2ull << 40);
    expect_bad("retention_1s: 10s\n", 1, "retention_1s");
    expect_bad("top_n: 0\n", 1, "top_n");
    expect_bad("store_max_size: 1K\n", 1, "store_max_size");
}

Test(config, ring_keys)
{
    static struct pt_config cfg;

    pt_config_init(&cfg);
    cr_expect(cfg.ring, "the pcap ring is on by default");
    cr_expect_eq(cfg.ring_size, 0);
    cr_expect_eq(cfg.segment_size, 256ull << 20);
    cr_expect_eq(cfg.ring_keep_free, 10);
    cr_expect_eq(cfg.snaplen, 262144);
    cr_expect_eq(cfg.ring_buffer, 256ull << 20);
    cr_assert_eq(load_text(&cfg, "ring: no\nring_size: 200G\nsegment_size: 64M\n"
                                 "ring_keep_free: 25%\nsnaplen: 128\nring_buffer: 1G\n"),
                 0, "%s", msg);
    cr_expect_not(cfg.ring);
    cr_expect_eq(cfg.ring_size, 200ull << 30);
    cr_expect_eq(cfg.segment_size, 64ull << 20);
    cr_expect_eq(cfg.ring_keep_free, 25);
    cr_expect_eq(cfg.snaplen, 128);
    cr_expect_eq(cfg.ring_buffer, 1ull << 30);
    cr_assert_eq(load_text(&cfg, "ring_keep_free: 5\n"), 0, "%s", msg);
    cr_expect_eq(cfg.ring_keep_free, 5, "the % sign is optional");
    expect_bad("ring_keep_free: 95%\n", 1, "ring_keep_free");
    expect_bad("ring_keep_free: ten\n", 1, "ring_keep_free");
    expect_bad("segment_size: 2M\n", 1, "segment_size");
    expect_bad("snaplen: 10\n", 1, "snaplen");
    expect_bad("ring_buffer: 1M\n", 1, "ring_buffer");

    /* a bound that cannot hold two segments is refused at finish */
    char why[512];
    cr_assert_eq(load_text(&cfg, "interfaces: eth0\nring_size: 300M\n"), 0, "%s", msg);
    cr_expect_lt(pt_config_finish(&cfg, why, sizeof why), 0);
    cr_expect_not_null(strstr(why, "two segments"), "%s", why);
    cr_assert_eq(load_text(&cfg, "interfaces: eth0\nring_size: 512M\n"), 0, "%s", msg);
    cr_expect_eq(pt_config_finish(&cfg, why, sizeof why), 0, "%s", why);
}

Test(config, sizes_and_scalar_list)
{
    static struct pt_config cfg;

    cr_assert_eq(load_text(&cfg, "block_size: 8192\ninterfaces: eth9\n"), 0, "%s", msg);
    cr_expect_eq(cfg.live.block_size, 8192);
    cr_expect_eq(cfg.live.n_ifaces, 1);
    cr_expect_str_eq(cfg.ifname[0], "eth9");
    cr_assert_eq(load_text(&cfg, "block_size: 64k\n"), 0, "%s", msg);
    cr_expect_eq(cfg.live.block_size, 65536);
    cr_assert_eq(load_text(&cfg, "block_size: 1G\n"), 0, "%s", msg);
    cr_expect_eq(cfg.live.block_size, 1u << 30);
    cr_assert_eq(load_text(&cfg, "interfaces:\n  - a\n  - b\n  - c\n"), 0, "%s", msg);
    cr_expect_eq(cfg.live.n_ifaces, 3);
    cr_expect_str_eq(cfg.ifname[2], "c");
}

Test(config, empty_file_keeps_defaults)
{
    static struct pt_config cfg;

    cr_assert_eq(load_text(&cfg, "# only a comment\n"), 0, "%s", msg);
    cr_expect_eq(cfg.live.workers, 1);
    cr_expect_eq(pt_config_source(&cfg, "workers"), PT_CONFIG_SRC_DEFAULT);
    cr_expect_neq(cfg.file[0], '\0');
}

Test(config, command_line_wins)
{
    static struct pt_config cfg;

    cr_assert_eq(load_text(&cfg, "workers: 4\ninterfaces: [eth1, eth2]\nfanout: cpu\n"), 0);
    cr_assert_eq(pt_config_set(&cfg, "workers", "2", msg, sizeof msg), 0, "%s", msg);
    cr_assert_eq(pt_config_set(&cfg, "interfaces", "veth0", msg, sizeof msg), 0, "%s", msg);
    cr_assert_eq(pt_config_set(&cfg, "interfaces", "veth1", msg, sizeof msg), 0, "%s", msg);
    cr_assert_eq(pt_config_set(&cfg, "duration", "90", msg, sizeof msg), 0, "%s", msg);
    cr_expect_eq(cfg.live.workers, 2);
    cr_expect_eq(pt_config_source(&cfg, "workers"), PT_CONFIG_SRC_CLI);
    cr_expect_eq(pt_config_source(&cfg, "fanout"), PT_CONFIG_SRC_FILE);
    cr_expect_eq(cfg.live.fanout, PT_FANOUT_CPU);
    /* the command line's -i list replaces the file's */
    cr_expect_eq(cfg.live.n_ifaces, 2);
    cr_expect_str_eq(cfg.ifname[0], "veth0");
    cr_expect_str_eq(cfg.ifname[1], "veth1");
    cr_expect_eq(cfg.live.duration_ns, 90ull * 1000000000ull);
}

Test(config, command_line_errors_name_the_option)
{
    static struct pt_config cfg;

    pt_config_init(&cfg);
    cr_expect_eq(pt_config_set(&cfg, "workers", "0", msg, sizeof msg), PT_E_BADARG);
    cr_expect(strstr(msg, "--workers") != NULL, "%s", msg);
    cr_expect_eq(pt_config_set(&cfg, "block_size", "5000", msg, sizeof msg), PT_E_BADARG);
    cr_expect(strstr(msg, "--block-size") && strstr(msg, "4096"), "%s", msg);
    cr_expect_eq(pt_config_set(&cfg, "duration", "0", msg, sizeof msg), PT_E_BADARG);
    cr_expect_eq(pt_config_set(&cfg, "fanout", "rr", msg, sizeof msg), PT_E_BADARG);
    cr_expect(strstr(msg, "'rr'") != NULL, "%s", msg);
    cr_expect_eq(pt_config_set(&cfg, "interfaces",
                               "0123456789012345678901234567890123456789"
                               "012345678901234567890123",
                               msg, sizeof msg),
                 PT_E_BADARG);
    cr_expect_eq(pt_config_finish(&cfg, msg, sizeof msg), PT_E_BADARG);
    cr_expect(strstr(msg, "interface") != NULL, "%s", msg);
    cr_expect_eq(cfg.live.workers, 1, "a refused value leaves the old one");
}

/* One bad file: code PT_E_BADARG, message with "c.yaml:LINE" and @needle. */
static void expect_bad(const char *text, unsigned line, const char *needle)
{
    static struct pt_config cfg;
    char where[32];
    int rc = load_text(&cfg, text);

    snprintf(where, sizeof where, "c.yaml:%u:", line);
    cr_expect_eq(rc, PT_E_BADARG, "rc %d for:\n%s", rc, text);
    cr_expect(strstr(msg, where) != NULL, "no '%s' in: %s", where, msg);
    if (needle)
        cr_expect(strstr(msg, needle) != NULL, "no '%s' in: %s", needle, msg);
}

Test(config, unknown_key)
{
    expect_bad("workers: 2\n\nwrokers: 3\n", 3, "wrokers");
}

Test(config, wrong_type)
{
    expect_bad("filter: x\nworkers: [1, 2]\n", 2, "workers");
    expect_bad("promisc: maybe\n", 1, "promisc");
    expect_bad("workers: four\n", 1, "workers");
    expect_bad("duration: 5x\n", 1, "duration");
    expect_bad("block_size: 1T\n", 1, "block_size");
    expect_bad("fanout: roundrobin\n", 1, "fanout");
    expect_bad("interfaces:\n  - eth0\n  - {name: eth1}\n", 3, "interfaces");
    expect_bad("datadir: {a: 1}\n", 1, "datadir");
    expect_bad("[1, 2]\n", 1, "mapping");
}

Test(config, out_of_range)
{
    expect_bad("workers: 65\n", 1, "workers");
    expect_bad("# c\nblock_size: 5000\n", 2, "block_size");
    expect_bad("block_size: 2G\n", 1, "block_size");
    expect_bad("block_count: 0\n", 1, "block_count");
    expect_bad("max_flows: 10\n", 1, "max_flows");
    expect_bad("idle_timeout_udp: 0\n", 1, "idle_timeout_udp");
    expect_bad("shards: 99999999999999999999999\n", 1, "shards");
    expect_bad("workers: -1\n", 1, "workers");
    expect_bad("workers: 2\nworkers: 3\n", 2, "workers");
}

Test(config, syntax_error)
{
    expect_bad("workers: 2\nfanout: [hash\n", 3, NULL);
    expect_bad("workers: 2\n  bad: : x\n", 2, NULL);
    expect_bad("filter: \"unterminated\n", 2, NULL);
}

Test(config, missing_explicit_file)
{
    static struct pt_config cfg;
    char path[128];

    snprintf(path, sizeof path, "%s/nope.yaml", dir);
    pt_config_init(&cfg);
    cr_expect_eq(pt_config_load(path, &cfg, msg, sizeof msg), -ENOENT);
    cr_expect(strstr(msg, "nope.yaml") != NULL, "%s", msg);
}

/* deploy/packettracer.yaml loads as shipped (all commented out), and with
 * every "#key: value" line uncommented it gives the defaults it documents. */
Test(config, sample_file_documents_the_defaults)
{
    static struct pt_config def, cfg;
    char text[8192], line[512];
    size_t n = 0;
    FILE *f;

    pt_config_init(&def);
    pt_config_init(&cfg);
    cr_assert_eq(pt_config_load(pt_test_src("deploy/packettracer.yaml"), &cfg, msg, sizeof msg), 0,
                 "%s", msg);
    cr_assert_not_null(f = fopen(pt_test_src("deploy/packettracer.yaml"), "r"));
    while (fgets(line, sizeof line, f)) {
        const char *l = line;
        if (line[0] == '#' && line[1] >= 'a' && line[1] <= 'z')
            l++;
        n += (size_t)snprintf(text + n, sizeof text - n, "%s", l);
        cr_assert_lt(n, sizeof text);
    }
    fclose(f);
    cr_assert_eq(load_text(&cfg, text), 0, "%s", msg);
    cr_expect_eq(cfg.live.n_ifaces, 2);                         /* the example list */
    cr_expect_eq(cfg.live.duration_ns, 600ull * 1000000000ull); /* the example, no default */
    cfg.live.n_ifaces = 0;
    memset(cfg.ifname, 0, sizeof cfg.ifname);
    cfg.live.duration_ns = 0;
    cr_expect(memcmp(&cfg.live, &def.live, sizeof def.live) == 0);
    cr_expect_str_eq(cfg.datadir, def.datadir);
    cr_expect_str_eq(cfg.filter, def.filter);
    cr_expect_eq(cfg.quiet, def.quiet);
    cr_expect_eq(pt_config_source(&cfg, "active_timeout"), PT_CONFIG_SRC_FILE);
}

/* ---- the binary: config errors come before any socket ---- */

static int run_bin(const char *args, char **err)
{
    char cmd[512];

    snprintf(cmd, sizeof cmd, "'%s' run %s 2>&1 >/dev/null", pt_test_bin(), args);
    return pt_test_run(cmd, err, NULL);
}

TestSuite(config_cli, .init = setup, .fini = teardown);

Test(config_cli, bad_key_exits_2)
{
    char args[256];
    char *err;
    const char *p = write_yaml("bad.yaml", "interfaces: [lo]\nwrokers: 2\n");

    snprintf(args, sizeof args, "-c '%s' -d '%s/data'", p, dir);
    cr_expect_eq(run_bin(args, &err), 2);
    cr_expect(strstr(err, "wrokers") && strstr(err, "bad.yaml:2"), "stderr: %s", err);
    cr_expect_eq(access(p, F_OK), 0);
    free(err);
}

Test(config_cli, bad_value_exits_2)
{
    char args[256];
    char *err;
    const char *p = write_yaml("bad.yaml", "block_count: 0\n");

    snprintf(args, sizeof args, "--config '%s' -i lo -d '%s/data'", p, dir);
    cr_expect_eq(run_bin(args, &err), 2);
    cr_expect(strstr(err, "block_count") && strstr(err, "bad.yaml:1"), "stderr: %s", err);
    free(err);
}

Test(config_cli, missing_explicit_file_exits_2)
{
    char args[256];
    char *err;

    snprintf(args, sizeof args, "-c '%s/nope.yaml' -i lo -d '%s/data'", dir, dir);
    cr_expect_eq(run_bin(args, &err), 2);
    cr_expect(strstr(err, "nope.yaml") != NULL, "stderr: %s", err);
    free(err);
}

Test(config_cli, command_line_error_exits_2)
{
    char *err;

    cr_expect_eq(run_bin("-i lo -w 0", &err), 2);
    cr_expect(strstr(err, "--workers") != NULL, "stderr: %s", err);
    free(err);
}
