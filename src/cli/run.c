/* run.c - `packettracer run -i IF ...`: the live sensor.
 *
 * DESIGN: build the run's config once (config.c: defaults, then the YAML
 * file of -c FILE or, when it exists, /etc/packettracer/packettracer.yaml,
 * then the command line, which wins), log each setting unless -q, and from
 * then on read it through a const pointer. Create the data directory and
 * open DATADIR/flows.json (JSON lines, appended), then hand the config's
 * pt_live_opts (a copy, callbacks added) to pt_live_run(). Its callbacks run
 * on this thread: flow records are written as they finish; once a second the
 * file is flushed and, unless -q, one status line goes to stderr; the final
 * call prints the per-interface and per-worker statistics. When every socket
 * is in place, DATADIR/run.pid is written (the readiness signal scripts and
 * tests wait for) and, unless -q, "capturing on ..." is printed.
 * SIGINT/SIGTERM only set the stop flag. SIGHUP only sets the reload flag;
 * pt_live_run()'s remover then calls on_reload_filter() (this file), which
 * re-reads the same YAML file into a scratch config and hands back its
 * `filter` alone: nothing else of the running config changes, and there is
 * no log file to reopen (logs go to stderr). A filter given with -f wins
 * over the file at start, so it wins at reload too: the reload is refused
 * with an error and the filter kept. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "pt/app.h"
#include "config.h"
#include "pt/capture.h"

static int stop_flag;
static int reload_flag;

static void on_signal(int sig)
{
    __atomic_store_n(sig == SIGHUP ? &reload_flag : &stop_flag, 1, __ATOMIC_RELAXED);
}

struct run_ctx {
    const char *datadir;
    char pidpath[4096];
    FILE *out;
    struct pt_app_out *app; /* app records and enrichment (the remover's) */
    bool app_on;            /* the app layer runs (no --no-app) */
    bool quiet;
    int err;
    const struct pt_live_result *res;
    const char *cfgpath; /* the YAML file the config came from (reload re-reads it) */
    bool cfg_explicit;   /* given with -c (a missing default file is no error) */
    bool filter_cli;     /* -f given: it wins over the file, also at reload */
    const char *ifname_ptrs[PT_MAX_IFACES];
    unsigned workers; /* per interface */
    /* previous status, for per-second rates (per interface) */
    uint64_t prev_pkts[PT_MAX_IFACES], prev_bytes[PT_MAX_IFACES], prev_ns;
};

static void run_usage(FILE *out)
{
    fputs("usage: packettracer run [-c FILE] -i IF [-i IF ...] [options]\n"
          "\n"
          "Capture from network interfaces (TPACKET_V3 rings, PACKET_FANOUT workers) and\n"
          "write one record per flow to DATADIR/flows.json (JSON lines, appended).\n"
          "Needs CAP_NET_RAW. Stops on SIGINT/SIGTERM (or after --duration), flushing\n"
          "every flow. SIGHUP reloads the filter from the config file.\n"
          "\n"
          "  -c, --config FILE        YAML settings (default " PT_CONFIG_DEFAULT_PATH ",\n"
          "                           read if present); options below override it\n"
          "  -i, --interface IF       capture from IF (repeat for several, up to 32)\n"
          "  -w, --workers N          capture workers per interface, 1..64 (default 1)\n"
          "  -f, --filter BPF         libpcap filter expression applied in the kernel\n"
          "  -d, --datadir DIR        data directory (default /var/lib/packettracer)\n"
          "      --fanout MODE        hash (default, by flow, fragments reassembled),\n"
          "                           lb (round robin), cpu, qm (NIC queue)\n"
          "      --no-promisc         do not put the interfaces in promiscuous mode\n"
          "      --block-size BYTES   ring block size, a multiple of 4096, K/M/G suffix allowed\n"
          "                           (default 1M)\n"
          "      --block-count N      ring blocks per worker (default 64)\n"
          "      --cpu-pin            pin worker k to the k-th allowed CPU\n"
          "      --duration SECONDS   stop by itself after this long (s/m/h suffix allowed)\n"
          "      --no-store           do not fill DATADIR/store (per-second series, top lists,\n"
          "                           flow records; see `series`, `top`, `flows`)\n"
          "      --no-ring            do not keep packets in the pcap ring DATADIR/ring\n"
          "      --ring-size SIZE     bound on the ring's files (K/M/G/T; default 0: none but\n"
          "                           --ring-keep-free)\n"
          "      --segment-size SIZE  bytes per ring segment file, 4M or more (default 256M)\n"
          "      --ring-keep-free P%  keep P% of the filesystem free (default 10%)\n"
          "      --snaplen N          bytes kept of each packet in the ring (default 262144)\n"
          "      --flow-cutoff SIZE   keep only the first SIZE bytes of each flow in the ring\n"
          "                           (the rest is counted; default 0: keep everything)\n"
          "      --ring-buffer SIZE   staging per worker for the ring writer, 4M or more\n"
          "                           (default 256M: bridges a 0.25 s disk stall at 1 GB/s)\n"
          "      --no-app             no application layer: no detection, no dns/http/ssl/\n"
          "                           dhcp/arp records\n"
          "      --geoip FILE         GeoIP country or city database (MMDB; default\n"
          "                           " PT_GEOIP_DIR "/GeoLite2-City.mmdb when present; none)\n"
          "      --geoip-asn FILE     GeoIP ASN database (default GeoLite2-ASN.mmdb there; none)\n"
          "  -q, --quiet              no status line, no final statistics\n"
          "  -h, --help               this text\n",
          out);
}

/* A GeoIP database key: "" = the default path (NULL), "none" = no database. */
static const char *geo_cfg_path(const char *v)
{
    if (!*v)
        return NULL;
    return strcmp(v, "none") == 0 ? "" : v;
}

/* mkdir -p */
static int make_dirs(const char *path)
{
    char buf[4096];
    size_t n = strlen(path);

    if (n == 0 || n >= sizeof buf)
        return -ENAMETOOLONG;
    memcpy(buf, path, n + 1);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0755) < 0 && errno != EEXIST)
            return -errno;
        *p = '/';
    }
    if (mkdir(buf, 0755) < 0 && errno != EEXIST)
        return -errno;
    return 0;
}

/* Completed in place: the store keeps the names and GeoIP too. */
static void on_emit(struct pt_flow_record *rec, void *arg)
{
    struct run_ctx *c = arg;
    unsigned n = c->res->ifaces.n;

    for (unsigned i = 0; i < n; i++)
        c->ifname_ptrs[i] = c->res->ifaces.name[i];
    pt_app_out_conn(c->app, rec);
    if (pt_flow_record_write(c->out, PT_FMT_JSON, rec, c->ifname_ptrs, n) < 0 && !c->err)
        c->err = -EIO;
}

static void on_emit_app(const struct pt_app_rec *rec, void *arg)
{
    struct run_ctx *c = arg;

    pt_app_out_set_ifnames(c->app, c->res->ifaces.name, c->res->ifaces.n);
    pt_app_out_rec(c->app, rec);
}

static void on_ready(void *arg)
{
    struct run_ctx *c = arg;
    char tmp[4200];
    FILE *f;

    snprintf(c->pidpath, sizeof c->pidpath, "%s/run.pid", c->datadir);
    snprintf(tmp, sizeof tmp, "%s.tmp", c->pidpath);
    if ((f = fopen(tmp, "w"))) {
        fprintf(f, "%ld\n", (long)getpid());
        if (fclose(f) == 0 && rename(tmp, c->pidpath) == 0)
            goto done;
    }
    fprintf(stderr, "packettracer: warning: %s: %s\n", c->pidpath, strerror(errno));
    c->pidpath[0] = '\0';
done:
    if (!c->quiet) {
        fprintf(stderr, "capturing on");
        for (unsigned i = 0; i < c->res->ifaces.n; i++)
            fprintf(stderr, "%s %s", i ? "," : "", c->res->ifaces.name[i]);
        fprintf(stderr, " (%u worker%s per interface)\n", c->workers, c->workers > 1 ? "s" : "");
    }
}

/* pt_live_opts.reload_filter: the `filter` of the config file, read anew. */
static int on_reload_filter(char *expr, size_t len, void *arg)
{
    static struct pt_config tmp; /* large; only the remover thread calls this */
    struct run_ctx *c = arg;
    char msg[4608];
    int rc;

    if (c->filter_cli) {
        snprintf(expr, len, "the filter was given with -f, which wins over %s", c->cfgpath);
        return PT_E_BADARG;
    }
    pt_config_init(&tmp);
    rc = pt_config_load(c->cfgpath, &tmp, msg, sizeof msg);
    if (rc == -ENOENT && !c->cfg_explicit)
        rc = 0; /* no default file: the default filter (everything) */
    if (rc < 0) {
        snprintf(expr, len, "config: %s", msg);
        return rc;
    }
    if (strlen(tmp.filter) >= len) {
        snprintf(expr, len, "config: filter longer than %zu bytes", len - 1);
        return PT_E_BADARG;
    }
    snprintf(expr, len, "%s", tmp.filter);
    return 0;
}

static void print_final(const struct run_ctx *c, const struct pt_live_status *st)
{
    fprintf(stderr, "flows: %llu\n", (unsigned long long)st->flows_emitted);
    if (c->app_on)
        pt_cli_app_print(stderr, &st->app, st->app_dropped, c->app);
    if (st->agg)
        fprintf(
            stderr,
            "store: seconds %llu points %llu flows %llu seconds_lost %llu map_bytes %llu "
            "tick_cpu_max_ms %.3f lost_no_memory %llu\n",
            (unsigned long long)st->agg->ticks, (unsigned long long)st->agg->points,
            (unsigned long long)st->agg->store.flows, (unsigned long long)st->agg->store_errors,
            (unsigned long long)st->agg->store.map_size, (double)st->agg->max_tick_ns / 1e6,
            (unsigned long long)(st->agg->points_lost + st->agg->hosts_lost + st->agg->recs_lost));
    if (st->ring)
        pt_cli_ring_stats_print(stderr, st->ring);
    if (st->filter_reloads)
        fprintf(stderr, "filter reloads: %llu\n", (unsigned long long)st->filter_reloads);
    for (unsigned i = 0; i < st->ifaces->n; i++) {
        struct pt_live_worker_stats sum = {0};
        for (unsigned k = 0; k < st->n_workers; k++) {
            const struct pt_live_worker_stats *w = &st->worker[k];
            if (w->iface != i)
                continue;
            sum.packets += w->packets;
            sum.bytes += w->bytes;
            sum.kernel_packets += w->kernel_packets;
            sum.kernel_drops += w->kernel_drops;
            sum.freeze_q += w->freeze_q;
            sum.decode_errors += w->decode_errors;
            sum.flows += w->flows;
            sum.flows_refused += w->flows_refused;
        }
        fprintf(stderr,
                "interface %s: packets %llu bytes %llu kernel_packets %llu kernel_drops %llu "
                "freeze %llu decode_errors %llu flows %llu flows_refused %llu link_down %llu "
                "reattach %llu\n",
                st->ifaces->name[i], (unsigned long long)sum.packets, (unsigned long long)sum.bytes,
                (unsigned long long)sum.kernel_packets, (unsigned long long)sum.kernel_drops,
                (unsigned long long)sum.freeze_q, (unsigned long long)sum.decode_errors,
                (unsigned long long)sum.flows, (unsigned long long)sum.flows_refused,
                (unsigned long long)st->iface[i].link_down,
                (unsigned long long)st->iface[i].reattach);
        for (unsigned k = 0; k < st->n_workers; k++) {
            const struct pt_live_worker_stats *w = &st->worker[k];
            if (w->iface != i)
                continue;
            fprintf(stderr,
                    "  worker %u: packets %llu bytes %llu kernel_packets %llu kernel_drops %llu "
                    "freeze %llu decode_errors %llu flows %llu flows_refused %llu\n",
                    k, (unsigned long long)w->packets, (unsigned long long)w->bytes,
                    (unsigned long long)w->kernel_packets, (unsigned long long)w->kernel_drops,
                    (unsigned long long)w->freeze_q, (unsigned long long)w->decode_errors,
                    (unsigned long long)w->flows, (unsigned long long)w->flows_refused);
        }
    }
}

/* One line per second: per interface packets/s, bits/s, kernel drops (since
 * start), then the flows in the table. */
static void print_status(struct run_ctx *c, const struct pt_live_status *st)
{
    double dt = c->prev_ns ? (double)(st->now_ns - c->prev_ns) / 1e9 : 1.0;
    char line[2048];
    size_t n = 0;

    if (dt <= 0)
        dt = 1.0;
    for (unsigned i = 0; i < st->ifaces->n && n < sizeof line; i++) {
        uint64_t pk = 0, by = 0, dr = 0;
        for (unsigned k = 0; k < st->n_workers; k++)
            if (st->worker[k].iface == i) {
                pk += st->worker[k].packets;
                by += st->worker[k].bytes;
                dr += st->worker[k].kernel_drops;
            }
        n +=
            (size_t)snprintf(line + n, sizeof line - n, "%s: %.0f pkt/s %.0f bit/s drops %llu%s | ",
                             st->ifaces->name[i], (double)(pk - c->prev_pkts[i]) / dt,
                             (double)(by - c->prev_bytes[i]) * 8.0 / dt, (unsigned long long)dr,
                             st->iface[i].attached ? "" : " (link down, waiting)");
        c->prev_pkts[i] = pk;
        c->prev_bytes[i] = by;
    }
    if (n < sizeof line)
        n += (size_t)snprintf(line + n, sizeof line - n, "flows %llu",
                              (unsigned long long)st->active_flows);
    if (st->agg && st->agg->store_errors && n < sizeof line)
        n += (size_t)snprintf(line + n, sizeof line - n, " | store: %llu seconds lost",
                              (unsigned long long)st->agg->store_errors);
    if (st->ring && n < sizeof line &&
        (st->ring->lost_full_pkts || st->ring->lost_io_pkts || st->ring->degraded))
        snprintf(line + n, sizeof line - n, " | ring: lost %llu pkts (writer behind) %llu (disk)%s",
                 (unsigned long long)st->ring->lost_full_pkts,
                 (unsigned long long)st->ring->lost_io_pkts,
                 st->ring->degraded ? ", degraded" : "");
    c->prev_ns = st->now_ns;
    fprintf(stderr, "%s\n", line);
}

static void on_status(const struct pt_live_status *st, void *arg)
{
    struct run_ctx *c = arg;

    if (st->final)
        pt_app_out_finish(c->app); /* every open DHCP exchange */
    else
        pt_app_out_tick(c->app, st->now_ns);
    if (fflush(c->out) != 0 && !c->err)
        c->err = -errno;
    if (c->quiet)
        return;
    if (st->final)
        print_final(c, st);
    else
        print_status(c, st);
}

/* Command-line options; each sets one config key (config.c), except -c and -h. */
enum {
    O_FANOUT = 256,
    O_NOPROMISC,
    O_BSIZE,
    O_BCOUNT,
    O_PIN,
    O_DURATION,
    O_NOSTORE,
    O_NORING,
    O_RINGSIZE,
    O_SEGSIZE,
    O_KEEPFREE,
    O_SNAPLEN,
    O_CUTOFF,
    O_RINGBUF,
    O_NOAPP,
    O_GEOIP,
    O_GEOIP_ASN,
};
static const struct option run_lo[] = {
    {"interface", required_argument, NULL, 'i'},
    {"workers", required_argument, NULL, 'w'},
    {"filter", required_argument, NULL, 'f'},
    {"datadir", required_argument, NULL, 'd'},
    {"config", required_argument, NULL, 'c'},
    {"fanout", required_argument, NULL, O_FANOUT},
    {"no-promisc", no_argument, NULL, O_NOPROMISC},
    {"block-size", required_argument, NULL, O_BSIZE},
    {"block-count", required_argument, NULL, O_BCOUNT},
    {"cpu-pin", no_argument, NULL, O_PIN},
    {"duration", required_argument, NULL, O_DURATION},
    {"no-store", no_argument, NULL, O_NOSTORE},
    {"no-ring", no_argument, NULL, O_NORING},
    {"ring-size", required_argument, NULL, O_RINGSIZE},
    {"segment-size", required_argument, NULL, O_SEGSIZE},
    {"ring-keep-free", required_argument, NULL, O_KEEPFREE},
    {"snaplen", required_argument, NULL, O_SNAPLEN},
    {"flow-cutoff", required_argument, NULL, O_CUTOFF},
    {"ring-buffer", required_argument, NULL, O_RINGBUF},
    {"no-app", no_argument, NULL, O_NOAPP},
    {"geoip", required_argument, NULL, O_GEOIP},
    {"geoip-asn", required_argument, NULL, O_GEOIP_ASN},
    {"quiet", no_argument, NULL, 'q'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};
static const char run_so[] = "i:w:f:d:c:qh";

/* The config key option @ch sets, and its value (for flags, a constant). */
static const char *opt_key(int ch, const char **value)
{
    switch (ch) {
    case 'i':
        return "interfaces";
    case 'w':
        return "workers";
    case 'f':
        return "filter";
    case 'd':
        return "datadir";
    case O_FANOUT:
        return "fanout";
    case O_NOPROMISC:
        *value = "false";
        return "promisc";
    case O_BSIZE:
        return "block_size";
    case O_BCOUNT:
        return "block_count";
    case O_PIN:
        *value = "true";
        return "cpu_pin";
    case O_DURATION:
        return "duration";
    case O_NOSTORE:
        *value = "false";
        return "store";
    case O_NORING:
        *value = "false";
        return "ring";
    case O_RINGSIZE:
        return "ring_size";
    case O_SEGSIZE:
        return "segment_size";
    case O_KEEPFREE:
        return "ring_keep_free";
    case O_SNAPLEN:
        return "snaplen";
    case O_CUTOFF:
        return "flow_cutoff";
    case O_RINGBUF:
        return "ring_buffer";
    case O_NOAPP:
        *value = "false";
        return "app";
    case O_GEOIP:
        return "geoip";
    case O_GEOIP_ASN:
        return "geoip_asn";
    case 'q':
        *value = "true";
        return "quiet";
    }
    return NULL;
}

/* Pass 1 over argv: -h, -c FILE, unknown options and stray arguments.
 * Returns -1 to go on, else the exit status. */
static int scan_run_opts(int argc, char **argv, const char **cfgpath)
{
    int ch;

    optind = 1;
    while ((ch = getopt_long(argc, argv, run_so, run_lo, NULL)) != -1) {
        if (ch == 'h') {
            run_usage(stdout);
            return 0;
        }
        if (ch == 'c')
            *cfgpath = optarg;
        else if (ch == '?' || ch == ':') {
            run_usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "packettracer run: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    return -1;
}

/* Build the run's config: defaults, then the file (-c FILE, or the default
 * file when it exists), then pass 2 over argv. Returns -1 on success, else
 * the exit status (2: every config error). */
static int build_config(int argc, char **argv, struct pt_config *cfg, struct run_ctx *c)
{
    const char *cfgpath = NULL;
    char msg[4608];
    int ch, rc;

    if ((rc = scan_run_opts(argc, argv, &cfgpath)) >= 0)
        return rc;
    pt_config_init(cfg);
    rc = pt_config_load(cfgpath ? cfgpath : PT_CONFIG_DEFAULT_PATH, cfg, msg, sizeof msg);
    if (rc < 0 && !(rc == -ENOENT && !cfgpath)) {
        fprintf(stderr, "packettracer: config: %s\n", msg);
        return 2;
    }
    c->cfgpath = cfgpath ? cfgpath : PT_CONFIG_DEFAULT_PATH;
    c->cfg_explicit = cfgpath != NULL;
    optind = 1;
    while ((ch = getopt_long(argc, argv, run_so, run_lo, NULL)) != -1) {
        const char *value = optarg;
        const char *key = opt_key(ch, &value);
        if (key && pt_config_set(cfg, key, value, msg, sizeof msg) < 0) {
            fprintf(stderr, "packettracer: %s\n", msg);
            return 2;
        }
    }
    if (pt_config_finish(cfg, msg, sizeof msg) < 0) {
        fprintf(stderr, "packettracer run: %s\n", msg);
        run_usage(stderr);
        return 2;
    }
    return -1;
}

int pt_cli_run(int argc, char **argv)
{
    static struct pt_live_result res;
    static struct pt_config cfgbuf; /* built once, then read through cfg only */
    const struct pt_config *cfg = &cfgbuf;
    struct pt_live_opts o;
    struct pt_agg_config ac = {0};
    struct run_ctx c = {.res = &res};
    char path[4200];
    struct sigaction sa;
    int rc;

    if ((rc = build_config(argc, argv, &cfgbuf, &c)) >= 0)
        return rc;
    c.filter_cli = pt_config_source(cfg, "filter") == PT_CONFIG_SRC_CLI;
    if (!cfg->quiet)
        pt_config_log(cfg);
    o = cfg->live;                            /* borrows cfg's interface names and filter */
    for (unsigned i = 0; i < o.n_ifaces; i++) /* merged frames break per-packet counts */
        pt_iface_warn_offloads(o.ifaces[i]);
    c.datadir = cfg->datadir;
    c.quiet = cfg->quiet;
    c.workers = o.workers;
    if ((rc = make_dirs(c.datadir)) < 0) {
        fprintf(stderr, "packettracer: data directory %s: %s\n", c.datadir, pt_strerror(rc));
        return 1;
    }
    snprintf(path, sizeof path, "%s/flows.json", c.datadir);
    if (!(c.out = fopen(path, "a"))) {
        fprintf(stderr, "packettracer: %s: %s\n", path, strerror(errno));
        return 1;
    }
    setvbuf(c.out, NULL, _IOFBF, 1 << 20);
    struct pt_app_out_config appcfg = {
        .geo_loc = geo_cfg_path(cfg->geoip),
        .geo_asn = geo_cfg_path(cfg->geoip_asn),
        .dns_names = cfg->dns_names,
        .devices = cfg->devices,
        .oui_dir = cfg->oui_dir,
    };
    o.flow.app_off = !cfg->app;
    c.app_on = cfg->app;
    if (!(c.app = pt_app_out_create(c.out, &appcfg, &rc))) {
        fprintf(stderr, "packettracer: %s\n", pt_strerror(rc));
        fclose(c.out);
        return 1;
    }

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);

    o.stop = &stop_flag;
    o.emit = on_emit;
    o.emit_app = on_emit_app;
    o.emit_arg = &c;
    o.status = on_status;
    o.status_arg = &c;
    o.ready = on_ready;
    o.ready_arg = &c;
    o.reload = &reload_flag;
    o.reload_filter = on_reload_filter;
    o.reload_arg = &c;
    if (cfg->store) {
        pt_store_config_default(&ac.store);
        ac.datadir = cfg->datadir;
        ac.top_n = cfg->top_n;
        for (unsigned i = 0; i < PT_RES_N; i++)
            ac.store.keep_s[i] = cfg->keep_ns[i] / 1000000000ull;
        ac.store.keep_flows_s = cfg->keep_flows_ns / 1000000000ull;
        ac.store.map_max = cfg->store_max;
        if (ac.store.map_size > ac.store.map_max)
            ac.store.map_size = ac.store.map_max;
        pt_app_out_store_hook(c.app, &ac.hook);
        o.agg = &ac;
    }
    struct pt_ring_config ring;
    if (cfg->ring) {
        pt_cli_ring_config(&ring, cfg->datadir, cfg->ring_size, cfg->segment_size,
                           cfg->ring_keep_free, cfg->snaplen, cfg->flow_cutoff);
        ring.sync = true;
        /* staging per worker: what bridges the writer's stalls (RING.md "Overload") */
        ring.chunks = (unsigned)(cfg->ring_buffer / ring.chunk_size);
        o.ring = &ring;
    }
    rc = pt_live_run(&o, &res);
    if (rc >= 0 && !cfg->quiet && cfg->store)
        pt_cli_devices_print(stderr, c.app); /* the last save ran as the store closed */
    pt_app_out_destroy(c.app);
    if (fflush(c.out) != 0 && !c.err)
        c.err = -errno;
    if (fclose(c.out) != 0 && !c.err)
        c.err = -errno;
    if (c.pidpath[0])
        unlink(c.pidpath);
    if (rc < 0) {
        fprintf(stderr, "packettracer: %s\n", res.msg[0] ? res.msg : pt_strerror(rc));
        return rc == PT_E_BADARG ? 2 : 1;
    }
    if (c.err) {
        fprintf(stderr, "packettracer: error writing %s: %s\n", path, pt_strerror(c.err));
        return 1;
    }
    return 0;
}
