/* read.c - `packettracer read FILE...`: the offline pipeline.
 *
 * DESIGN: parse options into a pt_offline_opts, run the pipeline, stream each
 * finished flow record to the output as it is emitted (JSON lines or CSV),
 * then print the summary on stderr. An input error still leaves every
 * complete record processed and every flow written; it only changes the exit
 * status (1) and adds the error line. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "cli.h"
#include "pt/app.h"
#include "pt/capture.h"
#include "pt/ring.h"

struct out_ctx {
    FILE *out;
    enum pt_record_format fmt;
    const struct pt_offline_result *res; /* interface names, filled as files are read */
    const char *ifname_ptrs[PT_MAX_IFACES];
    struct pt_app_out *app; /* the record thread's app layer */
    int err;
};

static void read_usage(FILE *out)
{
    fputs("usage: packettracer read [options] FILE...\n"
          "\n"
          "Decode pcap/pcapng files through the sensor's worker path and print one\n"
          "record per flow (Zeek conn.log field names), then a summary on stderr.\n"
          "\n"
          "  -F, --format json|csv    record format (default json: one object per line)\n"
          "  -o, --output FILE        write records to FILE instead of stdout\n"
          "  -w, --workers N          worker threads, 1..64 (default 1)\n"
          "      --shards N           flow table shards, 1..4096 (default 16)\n"
          "      --max-flows N        flow table capacity (default 1000000)\n"
          "      --full-policy P      when the table is full: refuse (default) or evict\n"
          "  -d, --datadir DIR        also fill the store in DIR/store with per-second series,\n"
          "                           top lists and flow records, by packet time (as `run`)\n"
          "      --top-n N            entries per top list and second (default 10)\n"
          "      --keep-1s D          keep 1 s points for D (default 48h; also --keep-1m 30d,\n"
          "                           --keep-1h 2y, --keep-flows 30d)\n"
          "      --store-max SIZE     largest the store's map may grow (default 16G)\n"
          "      --no-ring            with -d: do not write the pcap ring DIR/ring (by default\n"
          "                           every packet is kept there, indexed, as `run` does;\n"
          "                           see `extract`, `status`)\n"
          "      --ring-size SIZE     bound on the ring's files (default 0: none but\n"
          "                           --ring-keep-free)\n"
          "      --segment-size SIZE  bytes per ring segment file, 4M or more (default 256M)\n"
          "      --ring-keep-free P%  keep P% of the filesystem free (default 10%)\n"
          "      --snaplen N          bytes kept of each packet in the ring (default 262144)\n"
          "      --flow-cutoff SIZE   keep only the first SIZE bytes of each flow in the ring\n"
          "                           (the rest is counted; default 0: keep everything)\n"
          "      --no-app             no application layer: no detection, parsers or app\n"
          "                           records (dns, http, ssl, dhcp, arp)\n"
          "      --geoip FILE         GeoIP2/GeoLite2 Country or City database for orig_cc and\n"
          "                           resp_cc (default " PT_GEOIP_DIR "/GeoLite2-City.mmdb if\n"
          "                           present; \"\" for none)\n"
          "      --geoip-asn FILE     ASN database for orig_asn and resp_asn (default\n"
          "                           " PT_GEOIP_DIR "/GeoLite2-ASN.mmdb if present)\n"
          "  -q, --quiet              no summary\n"
          "  -h, --help               this text\n",
          out);
}

bool pt_cli_parse_u64(const char *opt, const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    char *end;
    unsigned long long v;

    errno = 0;
    if (!s || !*s || *s == '-') {
        fprintf(stderr, "packettracer: %s: expected a number, got '%s'\n", opt, s ? s : "");
        return false;
    }
    v = strtoull(s, &end, 10);
    if (errno || *end || v < min || v > max) {
        fprintf(stderr, "packettracer: %s: '%s' is not a number in %llu..%llu\n", opt, s,
                (unsigned long long)min, (unsigned long long)max);
        return false;
    }
    *out = v;
    return true;
}

/* Completed in place: with -d the store keeps the names and GeoIP too. */
static void emit(struct pt_flow_record *rec, void *arg)
{
    struct out_ctx *o = arg;
    unsigned n = o->res->ifaces.n;

    for (unsigned i = 0; i < n; i++)
        o->ifname_ptrs[i] = o->res->ifaces.name[i];
    pt_app_out_conn(o->app, rec);
    if (pt_flow_record_write(o->out, o->fmt, rec, o->ifname_ptrs, n) < 0 && !o->err)
        o->err = -EIO;
}

static void emit_app(const struct pt_app_rec *rec, void *arg)
{
    struct out_ctx *o = arg;

    pt_app_out_set_ifnames(o->app, o->res->ifaces.name, o->res->ifaces.n);
    pt_app_out_rec(o->app, rec);
}

void pt_cli_app_print(FILE *f, const struct pt_app_worker_stats *a, uint64_t queue_dropped,
                      const struct pt_app_out *app)
{
    struct pt_app_out_stats os;
    static const char *const kind[] = {"", "dns", "http", "ssl", "dhcp", "arp"};

    pt_app_out_stats(app, &os);
    fprintf(f, "app_records:");
    for (unsigned k = PT_REC_DNS; k <= PT_REC_ARP; k++)
        fprintf(f, " %s %llu", kind[k], (unsigned long long)os.written[k]);
    fprintf(f, "\n");
    if (queue_dropped)
        fprintf(f, "app_records_dropped_queue_full: %llu\n", (unsigned long long)queue_dropped);
    fprintf(f, "app_no_parser_state: %llu\n", (unsigned long long)a->no_state);
    if (a->parked_lost)
        fprintf(f, "app_http_parked_lost: %llu\n", (unsigned long long)a->parked_lost);
    fprintf(f, "dns_names: learned %llu hits %llu evicted %llu\n",
            (unsigned long long)os.names_learned, (unsigned long long)os.names_hits,
            (unsigned long long)os.names_evicted);
    if (os.geo_corrupt)
        fprintf(f, "geoip_corrupt_lookups: %llu\n", (unsigned long long)os.geo_corrupt);
    fprintf(f, "app_tcp_gaps: %llu\n", (unsigned long long)a->tcp_gap);
    if (a->rtp.pkts || a->rtp.no_state)
        fprintf(f,
                "rtp: packets %llu markers %llu ssrc_changes %llu late %llu no_clock %llu "
                "no_state %llu\n",
                (unsigned long long)a->rtp.pkts, (unsigned long long)a->rtp.markers,
                (unsigned long long)a->rtp.ssrc_changes, (unsigned long long)a->rtp.late,
                (unsigned long long)a->rtp.no_clock, (unsigned long long)a->rtp.no_state);
    fprintf(f, "app_errors:\n");
    for (unsigned i = 1; i < PT_APPID_ERR_MAX; i++)
        if (a->appid.err[i])
            fprintf(f, "  %s: %llu\n", pt_appid_err_name(i), (unsigned long long)a->appid.err[i]);
    for (unsigned i = 1; i < PT_DNS_ERR_MAX; i++)
        if (a->dns.err[i])
            fprintf(f, "  %s: %llu\n", pt_dns_err_name(i), (unsigned long long)a->dns.err[i]);
    for (unsigned i = 0; i < PT_HTTP_ERR_MAX; i++)
        if (a->http.err[i])
            fprintf(f, "  %s: %llu\n", pt_http_err_name(i), (unsigned long long)a->http.err[i]);
    for (unsigned i = 1; i < PT_TLS_E_MAX; i++)
        if (a->tls.err[i])
            fprintf(f, "  %s: %llu\n", pt_tls_err_name(i), (unsigned long long)a->tls.err[i]);
    for (unsigned i = 1; i < PT_RTP_ERR_MAX; i++)
        if (a->rtp.err[i])
            fprintf(f, "  %s: %llu\n", pt_rtp_err_name(i), (unsigned long long)a->rtp.err[i]);
    for (unsigned i = 1; i < PT_DHCP_ERR_MAX; i++)
        if (a->dhcp.err[i] + os.dhcp.err[i])
            fprintf(f, "  %s: %llu\n", pt_dhcp_err_name(i),
                    (unsigned long long)(a->dhcp.err[i] + os.dhcp.err[i]));
    if (os.write_errors)
        fprintf(f, "app_write_errors: %llu\n", (unsigned long long)os.write_errors);
}

void pt_cli_devices_print(FILE *f, const struct pt_app_out *app)
{
    struct pt_app_out_stats os;

    pt_app_out_stats(app, &os);
    fprintf(f, "devices: %llu restored %llu saved %llu lost %llu evicted %llu\n",
            (unsigned long long)os.devices, (unsigned long long)os.devices_restored,
            (unsigned long long)os.devices_saved, (unsigned long long)os.devices_lost,
            (unsigned long long)os.devices_evicted);
}

static void print_summary(const struct pt_offline_result *res, const struct pt_app_out *app,
                          bool app_off, double secs)
{
    const struct pt_decode_stats *d = &res->decode;
    struct rusage ru;
    bool any = false;

    fprintf(stderr, "packets: %llu\n", (unsigned long long)res->frames);
    fprintf(stderr, "bytes: %llu\n", (unsigned long long)res->bytes);
    fprintf(stderr, "flows: %llu\n", (unsigned long long)res->flows);
    fprintf(stderr, "flows_refused_table_full: %llu (packets %llu)\n",
            (unsigned long long)res->flow.full_flows, (unsigned long long)res->flow.full_pkts);
    fprintf(stderr, "flows_evicted: %llu\n", (unsigned long long)res->flows_evicted);
    fprintf(stderr, "flows_ended_on_arrival: %llu\n",
            (unsigned long long)res->flow.flows_restarted);
    fprintf(stderr, "frames_without_ip: %llu\n", (unsigned long long)res->flow.no_flow_pkts);
    fprintf(stderr, "ip_fragments_not_first: %llu\n", (unsigned long long)res->flow.frag_pkts);
    fprintf(stderr, "ip_without_transport_header: %llu\n",
            (unsigned long long)res->flow.no_l4_pkts);
    if (!app_off)
        pt_cli_app_print(stderr, &res->app, res->app_dropped, app);
    if (res->ifaces_merged)
        fprintf(stderr, "records_of_interfaces_beyond_%d: %llu\n", PT_MAX_IFACES,
                (unsigned long long)res->ifaces_merged);
    fprintf(stderr, "decode_errors:\n");
    for (unsigned i = 1; i < PT_DEC_ERR_MAX; i++) {
        if (!d->err[i])
            continue;
        fprintf(stderr, "  %s: %llu\n", pt_decode_err_name(i), (unsigned long long)d->err[i]);
        any = true;
    }
    if (!any)
        fprintf(stderr, "  none\n");
    fprintf(stderr, "protocol_hierarchy:\n");
    pt_phs_print(stderr, &d->phs);
    fprintf(stderr, "interfaces:");
    for (unsigned i = 0; i < res->ifaces.n; i++)
        fprintf(stderr, " %s", res->ifaces.name[i]);
    fprintf(stderr, "\n");
    if (res->agg_on) {
        const struct pt_agg_stats *a = &res->agg_stats;
        fprintf(stderr, "store_seconds: %llu\n", (unsigned long long)a->ticks);
        fprintf(stderr, "store_points: %llu\n", (unsigned long long)a->points);
        fprintf(stderr, "store_flows: %llu\n", (unsigned long long)a->store.flows);
        fprintf(stderr, "store_seconds_lost: %llu\n", (unsigned long long)a->store_errors);
        fprintf(stderr, "store_lost_no_memory: points %llu hosts %llu records %llu\n",
                (unsigned long long)a->points_lost, (unsigned long long)a->hosts_lost,
                (unsigned long long)a->recs_lost);
        fprintf(stderr, "store_map_bytes: %llu\n", (unsigned long long)a->store.map_size);
        fprintf(stderr, "agg_tick_cpu_max_ms: %.3f\n", (double)a->max_tick_ns / 1e6);
        pt_cli_devices_print(stderr, app);
    }
    if (res->ring_on)
        pt_cli_ring_stats_print(stderr, &res->ring_stats);
    fprintf(stderr, "elapsed_s: %.3f\n", secs);
    if (secs > 0)
        fprintf(stderr, "packets_per_s: %.0f\n", (double)res->frames / secs);
    if (getrusage(RUSAGE_SELF, &ru) == 0)
        fprintf(stderr, "peak_rss_bytes: %llu\n", (unsigned long long)ru.ru_maxrss * 1024ull);
}

/* The ring settings of `read` before they become a pt_ring_config. */
struct ring_opts {
    bool off;
    uint64_t size, segment;
    unsigned keep_free, snaplen;
    uint64_t cutoff;
};

static int parse_read_opts(int argc, char **argv, struct pt_offline_opts *o, struct out_ctx *oc,
                           const char **outpath, bool *quiet, struct pt_agg_config *ac,
                           struct ring_opts *ro, struct pt_app_out_config *appcfg)
{
    static const struct option lo[] = {
        {"format", required_argument, NULL, 'F'},
        {"output", required_argument, NULL, 'o'},
        {"workers", required_argument, NULL, 'w'},
        {"shards", required_argument, NULL, 'S'},
        {"max-flows", required_argument, NULL, 'M'},
        {"full-policy", required_argument, NULL, 'P'},
        {"quiet", no_argument, NULL, 'q'},
        {"datadir", required_argument, NULL, 'd'},
        {"top-n", required_argument, NULL, 'T'},
        {"keep-1s", required_argument, NULL, 1000},
        {"keep-1m", required_argument, NULL, 1001},
        {"keep-1h", required_argument, NULL, 1002},
        {"keep-flows", required_argument, NULL, 1003},
        {"store-max", required_argument, NULL, 1004},
        {"no-ring", no_argument, NULL, 1005},
        {"ring-size", required_argument, NULL, 1006},
        {"segment-size", required_argument, NULL, 1007},
        {"ring-keep-free", required_argument, NULL, 1008},
        {"snaplen", required_argument, NULL, 1009},
        {"flow-cutoff", required_argument, NULL, 1010},
        {"no-app", no_argument, NULL, 1011},
        {"geoip", required_argument, NULL, 1012},
        {"geoip-asn", required_argument, NULL, 1013},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    uint64_t v;
    int c;

    optind = 1;
    while ((c = getopt_long(argc, argv, "F:o:w:d:qh", lo, NULL)) != -1) {
        switch (c) {
        case 1011:
            o->flow.app_off = true;
            break;
        case 1012:
            appcfg->geo_loc = optarg;
            break;
        case 1013:
            appcfg->geo_asn = optarg;
            break;
        case 'd':
            ac->datadir = optarg;
            o->agg = ac;
            break;
        case 'T':
            if (!pt_cli_parse_u64("--top-n", optarg, 1, 1000, &v))
                return 2;
            ac->top_n = (unsigned)v;
            break;
        case 1000:
        case 1001:
        case 1002:
            if (!pt_cli_parse_duration(lo[c - 1000 + 9].name, optarg, &v))
                return 2;
            if (v == 0) {
                fprintf(stderr, "packettracer: --%s: must be more than 0\n", lo[c - 1000 + 9].name);
                return 2;
            }
            ac->store.keep_s[c - 1000] = v;
            break;
        case 1003:
            if (!pt_cli_parse_duration("--keep-flows", optarg, &v))
                return 2;
            ac->store.keep_flows_s = v;
            break;
        case 1004:
            if (!pt_cli_parse_size("--store-max", optarg, &v))
                return 2;
            if (v < (1u << 20)) {
                fputs("packettracer: --store-max: at least 1M\n", stderr);
                return 2;
            }
            ac->store.map_max = v;
            if (ac->store.map_size > v)
                ac->store.map_size = v;
            break;
        case 1005:
            ro->off = true;
            break;
        case 1006:
            if (!pt_cli_parse_size("--ring-size", optarg, &ro->size))
                return 2;
            break;
        case 1007:
            if (!pt_cli_parse_size("--segment-size", optarg, &ro->segment))
                return 2;
            if (ro->segment < (4u << 20)) { /* four staging chunks */
                fputs("packettracer: --segment-size: at least 4M\n", stderr);
                return 2;
            }
            break;
        case 1008: {
            char num[24];
            size_t n = strlen(optarg);
            if (n && optarg[n - 1] == '%')
                n--;
            if (n >= sizeof num) { /* never parse a cut copy */
                fprintf(stderr, "packettracer: --ring-keep-free: '%s' is not a percentage\n",
                        optarg);
                return 2;
            }
            memcpy(num, optarg, n);
            num[n] = '\0';
            if (!pt_cli_parse_u64("--ring-keep-free", num, 0, 90, &v))
                return 2;
            ro->keep_free = (unsigned)v;
            break;
        }
        case 1009:
            if (!pt_cli_parse_u64("--snaplen", optarg, 64, 262144, &v))
                return 2;
            ro->snaplen = (unsigned)v;
            break;
        case 1010:
            if (!pt_cli_parse_size("--flow-cutoff", optarg, &ro->cutoff))
                return 2;
            break;
        case 'F':
            if (strcmp(optarg, "json") == 0)
                oc->fmt = PT_FMT_JSON;
            else if (strcmp(optarg, "csv") == 0)
                oc->fmt = PT_FMT_CSV;
            else {
                fprintf(stderr, "packettracer: --format: unknown format '%s' (json, csv)\n",
                        optarg);
                return 2;
            }
            break;
        case 'o':
            *outpath = optarg;
            break;
        case 'w':
            if (!pt_cli_parse_u64("--workers", optarg, 1, 64, &v))
                return 2;
            o->workers = (unsigned)v;
            break;
        case 'S':
            if (!pt_cli_parse_u64("--shards", optarg, 1, 4096, &v))
                return 2;
            o->flow.shards = (uint32_t)v;
            break;
        case 'M':
            if (!pt_cli_parse_u64("--max-flows", optarg, 64, 1ull << 30, &v))
                return 2;
            o->flow.max_flows = v;
            break;
        case 'P':
            if (strcmp(optarg, "refuse") == 0)
                o->flow.full_policy = PT_FLOW_FULL_REFUSE;
            else if (strcmp(optarg, "evict") == 0)
                o->flow.full_policy = PT_FLOW_FULL_EVICT;
            else {
                fprintf(stderr, "packettracer: --full-policy: '%s' is not refuse or evict\n",
                        optarg);
                return 2;
            }
            break;
        case 'q':
            *quiet = true;
            break;
        case 'h':
            read_usage(stdout);
            return 0;
        default:
            read_usage(stderr);
            return 2;
        }
    }
    if (optind >= argc) {
        fputs("packettracer read: no capture file given\n", stderr);
        read_usage(stderr);
        return 2;
    }
    if (ro->size && ro->size < 2 * ro->segment) {
        fputs("packettracer: --ring-size must hold at least two segments of --segment-size\n",
              stderr);
        return 2;
    }
    o->files = (const char *const *)argv + optind;
    o->n_files = (unsigned)(argc - optind);
    return -1;
}

void pt_cli_ring_config(struct pt_ring_config *rc, const char *datadir, uint64_t ring_size,
                        uint64_t segment_size, unsigned keep_free_pct, unsigned snaplen,
                        uint64_t flow_cutoff)
{
    pt_ring_config_default(rc);
    snprintf(rc->dir, sizeof rc->dir, "%s/ring", datadir);
    rc->ring_size = ring_size;
    rc->segment_size = segment_size;
    rc->keep_free_pct = keep_free_pct;
    rc->snaplen = snaplen;
    rc->flow_cutoff = flow_cutoff;
}

void pt_cli_ring_stats_print(FILE *out, const struct pt_ring_stats *st)
{
    const struct {
        const char *name;
        uint64_t v;
    } f[] = {
        {"packets", st->packets},
        {"bytes", st->bytes},
        {"lost_full_packets", st->lost_full_pkts},
        {"lost_full_bytes", st->lost_full_bytes},
        {"lost_io_packets", st->lost_io_pkts},
        {"lost_io_bytes", st->lost_io_bytes},
        {"cutoff_packets", st->cutoff_pkts},
        {"cutoff_bytes", st->cutoff_bytes},
        {"cutoff_resets", st->cutoff_resets},
        {"index_lost_keys", st->index_lost_keys},
        {"segments_created", st->segments_created},
        {"segments_recycled", st->segments_recycled},
        {"segments_recycled_disk_full", st->segments_early},
        {"index_commits", st->index_commits},
        {"index_errors", st->index_errors},
        {"write_errors", st->write_errors},
        {"reconciled_bytes", st->reconciled_bytes},
        {"bad_time_packets", st->bad_time_pkts},
    };
    for (size_t i = 0; i < PT_ARRAY_LEN(f); i++)
        fprintf(out, "ring_%s: %llu\n", f[i].name, (unsigned long long)f[i].v);
}

int pt_cli_read(int argc, char **argv)
{
    static struct pt_offline_result res; /* large (decode stats): not on the stack */
    struct pt_offline_opts o = {.workers = 1};
    struct pt_agg_config ac = {0};
    struct ring_opts ro = {
        .segment = PT_RING_SEGMENT_SIZE, .keep_free = 10, .snaplen = PT_RING_SNAPLEN};
    struct pt_ring_config ring;
    struct out_ctx oc = {.out = stdout, .fmt = PT_FMT_JSON, .res = &res};
    struct pt_app_out_config appcfg = {0};
    const char *outpath = NULL;
    bool quiet = false;
    uint64_t t0;
    int rc;

    pt_flow_config_default(&o.flow);
    pt_store_config_default(&ac.store);
    if ((rc = parse_read_opts(argc, argv, &o, &oc, &outpath, &quiet, &ac, &ro, &appcfg)) >= 0)
        return rc;
    if (o.agg && !ro.off) {
        pt_cli_ring_config(&ring, ac.datadir, ro.size, ro.segment, ro.keep_free, ro.snaplen,
                           ro.cutoff);
        o.ring = &ring;
    }
    if (outpath && !(oc.out = fopen(outpath, "w"))) {
        fprintf(stderr, "packettracer: %s: %s\n", outpath, strerror(errno));
        return 1;
    }
    setvbuf(oc.out, NULL, _IOFBF, 1 << 20);
    if (oc.fmt == PT_FMT_CSV)
        pt_flow_record_csv_header(oc.out);
    o.emit = emit;
    o.emit_arg = &oc;
    /* app records go in the JSON stream; CSV carries conn records only */
    if (!(oc.app = pt_app_out_create(oc.fmt == PT_FMT_JSON ? oc.out : NULL, &appcfg, &rc))) {
        fprintf(stderr, "packettracer: %s\n", pt_strerror(rc));
        return 1;
    }
    o.emit_app = emit_app;
    if (o.agg)
        pt_app_out_store_hook(oc.app, &ac.hook);

    t0 = pt_now_ns();
    rc = pt_offline_run(&o, &res);
    pt_app_out_finish(oc.app);
    if (res.agg_err) {
        fprintf(stderr, "packettracer: %s\n", res.agg_msg);
        return 1;
    }
    if (res.ring_err) {
        fprintf(stderr, "packettracer: pcap ring: %s\n", res.ring_msg);
        return 1;
    }
    if (fflush(oc.out) != 0 || (outpath && fclose(oc.out) != 0))
        oc.err = -errno;
    if (!quiet)
        print_summary(&res, oc.app, o.flow.app_off, (double)(pt_now_ns() - t0) / 1e9);
    pt_app_out_destroy(oc.app);
    if (res.file_err)
        fprintf(stderr, "packettracer: error: %s\n", res.file_msg);
    else if (rc < 0)
        fprintf(stderr, "packettracer: error: %s\n", pt_strerror(rc));
    if (oc.err) {
        fprintf(stderr, "packettracer: error writing records: %s\n", pt_strerror(oc.err));
        return 1;
    }
    return rc < 0 ? 1 : 0;
}
