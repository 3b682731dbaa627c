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

enum { OPT_HOST = PT_CLI_OPT_OWN, OPT_PORT, OPT_UID, OPT_LIVE };

struct flows_opts {
    struct pt_cli_qopts base;
    struct pt_store_flow_query q;
    uint64_t limit; /* 0 = no limit */
    bool live;      /* the flows still open, not the finished ones */
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
          "      --live            the flows still open instead, as the sensor last saw them\n"
          "                        (a record at a flow's first second, then at most once a\n"
          "                        minute while it carries packets; end_reason \"live\");\n"
          "                        --from/--to then select by start time\n"
          "  -n, --limit N         stop after N records\n"
          "  -F, --format F        table (default): time, duration, protocol, endpoints,\n"
          "                        packets, IP bytes, conn_state and uid; json or csv: the\n"
          "                        records exactly as `packettracer read` prints them\n",
          out);
    pt_cli_usage_help_times(out);
    fputs("Exit status: 0 ok (also when nothing matches), 1 no store, 2 bad usage.\n", out);
}

static int flows_opt(void *ctx, int c, const char *arg)
{
    struct flows_opts *o = ctx;
    uint64_t v;

    switch (c) {
    case OPT_HOST:
        if (!pt_cli_parse_host("--host", arg, o->q.host))
            return 2;
        o->q.by_host = true;
        return 0;
    case OPT_PORT:
        if (!pt_cli_parse_u64("--port", arg, 0, 65535, &v))
            return 2;
        o->q.port = (uint16_t)v;
        o->q.by_port = true;
        return 0;
    case OPT_UID:
        if (!pt_cli_parse_uid("--uid", arg))
            return 2;
        o->q.uid = arg;
        return 0;
    case 'n':
        return pt_cli_parse_u64("--limit", arg, 1, UINT64_MAX, &o->limit) ? 0 : 2;
    case OPT_LIVE:
        o->live = true;
        return 0;
    default:
        return -1;
    }
}

static int flows_check(void *ctx)
{
    struct flows_opts *o = ctx;

    o->q.from_ns = o->base.from_set ? o->base.from_ns : 0;
    o->q.to_ns = o->base.to_set ? o->base.to_ns : UINT64_MAX;
    if (o->q.from_ns >= o->q.to_ns) {
        fputs("packettracer flows: --from must be before --to\n", stderr);
        return 2;
    }
    return 0;
}

static const struct option flows_longopts[] = {
    {"host", required_argument, NULL, OPT_HOST}, {"port", required_argument, NULL, OPT_PORT},
    {"uid", required_argument, NULL, OPT_UID},   {"limit", required_argument, NULL, 'n'},
    {"live", no_argument, NULL, OPT_LIVE},       {NULL, 0, NULL, 0},
};

static const struct pt_cli_qcmd flows_cmd = {"flows", flows_longopts, flows_usage, flows_opt,
                                             flows_check};

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
    struct flows_opts o = {0};
    struct flows_out out = {0};
    struct pt_store *st;
    int rc;

    if ((rc = pt_cli_query_begin(&flows_cmd, argc, argv, &o, &o.base, &st)) >= 0)
        return rc;
    out.fmt = o.base.fmt;
    out.limit = o.limit;
    if ((rc = pt_store_ifnames(st, names, &out.n_ifn)) < 0) {
        fprintf(stderr, "packettracer flows: reading interface names: %s\n", pt_strerror(rc));
        rc = 1;
        goto out;
    }
    for (unsigned i = 0; i < out.n_ifn && i < 32; i++)
        out.ifn[i] = names[i];
    if (out.fmt == PT_CLI_QFMT_TABLE && !(out.t = pt_cli_table_create(8, hdr, "lrllrrll"))) {
        rc = -ENOMEM;
        goto err;
    }
    if (out.fmt == PT_CLI_QFMT_CSV)
        pt_flow_record_csv_header(stdout);
    rc = o.live ? pt_store_live_read(st, &o.q, emit, &out)
                : pt_store_flows_read(st, &o.q, emit, &out);
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
