/* flows_cmd.c - `packettracer flows`: finished flow records from the store.
 *
 * DESIGN: the filters map one to one onto struct pt_store_flow_query (end
 * time range, host, port, uid; the store walks the matching index), and the
 * records stream out as the store hands them over, oldest end time first:
 * JSON and CSV through pt_flow_record_write() with the store's interface
 * names, so they equal `packettracer read` output for the same records; the
 * table through a pt_cli_table flushed every 1024 rows. --limit stops the
 * walk. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "pt/agg.h"
#include "query.h"

#define FLUSH_ROWS 1024

struct flows_opts {
    const char *dir;
    bool from_set, to_set;
    uint64_t from_ns, to_ns;
    struct pt_store_flow_query q;
    uint64_t limit; /* 0 = no limit */
    enum pt_cli_qformat fmt;
};

struct flows_out {
    enum pt_cli_qformat fmt;
    const char *ifn[32];
    unsigned n_ifn;
    struct pt_cli_table *t;
    uint64_t n, limit;
    int err;
};

static void flows_usage(FILE *out)
{
    fputs("usage: packettracer flows -d DIR [options]\n"
          "\n"
          "Print the finished flow records kept in DIR/store, oldest end first. Works while\n"
          "the sensor writes.\n"
          "\n"
          "  -d, --datadir DIR     data directory (default " PT_CLI_DATADIR_DEFAULT ")\n"
          "      --from T          flows that ended (last packet) at or after T (default: all)\n"
          "      --to T            ... and before T (default: all)\n"
          "      --host A          flows with IPv4/IPv6 address A at either end\n"
          "      --port P          flows with port P at either end\n"
          "      --uid UID         the flow with this uid\n"
          "  -n, --limit N         stop after N records\n"
          "  -F, --format F        table (default): time, duration, protocol, endpoints,\n"
          "                        packets, IP bytes, conn_state and uid; json or csv: the\n"
          "                        records exactly as `packettracer read` prints them\n"
          "  -h, --help            this text\n"
          "\n"
          "Times: RFC 3339 (2026-11-23T08:02:00Z, offsets and fractions allowed), epoch\n"
          "seconds (1700000000), or relative to now (-30s, -5m, -2h, -1d, now).\n"
          "Exit status: 0 ok (also when nothing matches), 1 no store, 2 bad usage.\n",
          out);
}

static int parse_flows_opts(int argc, char **argv, struct flows_opts *o)
{
    static const struct option lo[] = {
        {"datadir", required_argument, NULL, 'd'}, {"from", required_argument, NULL, 1000},
        {"to", required_argument, NULL, 1001},     {"host", required_argument, NULL, 1002},
        {"port", required_argument, NULL, 1003},   {"uid", required_argument, NULL, 1004},
        {"limit", required_argument, NULL, 'n'},   {"format", required_argument, NULL, 'F'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
    };
    uint64_t now = pt_cli_now_ns(), v;
    int c;

    optind = 1;
    while ((c = getopt_long(argc, argv, "d:n:F:h", lo, NULL)) != -1) {
        switch (c) {
        case 'd':
            o->dir = optarg;
            break;
        case 1000:
            if (!pt_cli_parse_time("--from", optarg, now, &o->from_ns))
                return 2;
            o->from_set = true;
            break;
        case 1001:
            if (!pt_cli_parse_time("--to", optarg, now, &o->to_ns))
                return 2;
            o->to_set = true;
            break;
        case 1002:
            if (!pt_cli_addr_parse(optarg, o->q.host)) {
                fprintf(stderr, "packettracer: --host: '%s' is not an IPv4 or IPv6 address\n",
                        optarg);
                return 2;
            }
            o->q.by_host = true;
            break;
        case 1003:
            if (!pt_cli_parse_u64("--port", optarg, 0, 65535, &v))
                return 2;
            o->q.port = (uint16_t)v;
            o->q.by_port = true;
            break;
        case 1004:
            if (!optarg[0] || strlen(optarg) >= sizeof(((struct pt_flow_record *)0)->uid)) {
                fprintf(stderr,
                        "packettracer: --uid: '%s' is not a flow uid (like CHhAvVGS1DHFjwGM9)\n",
                        optarg);
                return 2;
            }
            o->q.uid = optarg;
            break;
        case 'n':
            if (!pt_cli_parse_u64("--limit", optarg, 1, UINT64_MAX, &o->limit))
                return 2;
            break;
        case 'F':
            if (!pt_cli_parse_qformat(optarg, &o->fmt))
                return 2;
            break;
        case 'h':
            flows_usage(stdout);
            return 0;
        default:
            flows_usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "packettracer flows: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    o->q.from_ns = o->from_set ? o->from_ns : 0;
    o->q.to_ns = o->to_set ? o->to_ns : UINT64_MAX;
    if (o->q.from_ns >= o->q.to_ns) {
        fputs("packettracer flows: --from must be before --to\n", stderr);
        return 2;
    }
    return -1;
}

/* "10.0.0.1:80", "[2001:db8::1]:443", or the address alone for protocols
 * without ports. */
static char *endpoint(char *buf, size_t len, const uint8_t addr[16], uint16_t port, uint8_t ver,
                      bool ports)
{
    char a[48];

    pt_cli_addr_text(a, sizeof a, addr);
    if (!ports)
        snprintf(buf, len, "%s", a);
    else if (ver == 6)
        snprintf(buf, len, "[%s]:%u", a, port);
    else
        snprintf(buf, len, "%s:%u", a, port);
    return buf;
}

static int table_row(struct flows_out *o, const struct pt_flow_record *r)
{
    char ts[32], dur[24], proto[16], orig[64], resp[64], ends[140], pkts[32], bytes[32];
    bool ports = r->proto == 6 || r->proto == 17 || r->proto == 132;
    const char *cells[8];

    pt_agg_proto_name(r->proto, proto);
    endpoint(orig, sizeof orig, r->orig_h, r->orig_p, r->ver, ports);
    endpoint(resp, sizeof resp, r->resp_h, r->resp_p, r->ver, ports);
    snprintf(ends, sizeof ends, "%s → %s", orig, resp);
    cells[0] = pt_cli_time_text(ts, sizeof ts, r->ts_ns, true);
    cells[1] =
        pt_cli_duration_text(dur, sizeof dur, r->last_ns > r->ts_ns ? r->last_ns - r->ts_ns : 0);
    cells[2] = proto;
    cells[3] = ends;
    cells[4] = pt_cli_fmt_si(pkts, sizeof pkts, (double)(r->orig_pkts + r->resp_pkts));
    cells[5] = pt_cli_fmt_unit(bytes, sizeof bytes, (double)(r->orig_ip_bytes + r->resp_ip_bytes),
                               PT_CLI_UNIT_BYTES);
    cells[6] = r->conn_state[0] ? r->conn_state : "-";
    cells[7] = r->uid;
    return pt_cli_table_add(o->t, cells);
}

static int emit(const struct pt_flow_record *rec, void *arg)
{
    struct flows_out *o = arg;
    int rc;

    if (o->fmt == PT_CLI_QFMT_TABLE) {
        if ((rc = table_row(o, rec)) < 0 ||
            (++o->n % FLUSH_ROWS == 0 && (rc = pt_cli_table_flush(o->t, stdout)) < 0))
            goto err;
    } else {
        enum pt_record_format f = o->fmt == PT_CLI_QFMT_CSV ? PT_FMT_CSV : PT_FMT_JSON;
        if ((rc = pt_flow_record_write(stdout, f, rec, o->ifn, o->n_ifn)) < 0)
            goto err;
        o->n++;
    }
    return o->limit && o->n >= o->limit ? 1 : 0;
err:
    o->err = rc;
    return rc;
}

int pt_cli_flows(int argc, char **argv)
{
    static const char *const hdr[] = {"START (UTC)", "DURATION", "PROTO", "ORIG → RESP",
                                      "PKTS",        "BYTES",    "STATE", "UID"};
    static char names[32][64];
    struct flows_opts o = {.dir = PT_CLI_DATADIR_DEFAULT};
    struct flows_out out = {0};
    struct pt_store *st;
    int rc;

    if ((rc = parse_flows_opts(argc, argv, &o)) >= 0)
        return rc;
    if (!(st = pt_cli_store_open("flows", o.dir)))
        return 1;
    out.fmt = o.fmt;
    out.limit = o.limit;
    if ((rc = pt_store_ifnames(st, names, &out.n_ifn)) < 0) {
        fprintf(stderr, "packettracer flows: reading interface names: %s\n", pt_strerror(rc));
        rc = 1;
        goto out;
    }
    for (unsigned i = 0; i < out.n_ifn && i < 32; i++)
        out.ifn[i] = names[i];
    if (o.fmt == PT_CLI_QFMT_TABLE && !(out.t = pt_cli_table_create(8, hdr, "lrllrrll"))) {
        rc = -ENOMEM;
        goto err;
    }
    if (o.fmt == PT_CLI_QFMT_CSV)
        pt_flow_record_csv_header(stdout);
    rc = pt_store_flows_read(st, &o.q, emit, &out);
    if (rc < 0)
        goto err;
    if (out.t && (rc = pt_cli_table_flush(out.t, stdout)) < 0)
        goto err;
    rc = pt_cli_output_done("flows");
    goto out;
err:
    fprintf(stderr, "packettracer flows: %s: %s\n", out.err ? "writing the output" : "reading",
            pt_strerror(rc));
    rc = 1;
out:
    pt_cli_table_destroy(out.t);
    pt_store_close(st);
    return rc;
}
