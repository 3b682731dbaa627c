/* hosts_cmd.c - `packettracer hosts`: the device table kept in the store.
 *
 * DESIGN: one read transaction walks db "hosts" (MAC entries, then IP
 * entries, by address) and each entry that passes the filters streams out:
 * a table row (flushed every 1024 rows), one JSON object per line, or one
 * CSV row. --from/--to select entries seen in the range (last seen at or
 * after --from, first seen before --to). Lists (names, services) are JSON
 * arrays, and in CSV and the table one field joined with ';'. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "pt/devices.h"
#include "query.h"

#define FLUSH_ROWS 1024

enum { OPT_KIND = PT_CLI_OPT_OWN };

struct hosts_opts {
    struct pt_cli_qopts base;
    unsigned kind;  /* 0 = both */
    uint64_t limit; /* 0 = none */
};

struct hosts_out {
    const struct hosts_opts *o;
    struct pt_cli_table *t;
    uint64_t n;
};

static void hosts_usage(FILE *out)
{
    fputs("usage: packettracer hosts -d DIR [options]\n"
          "\n"
          "Print the devices the sensor has seen (DIR/store, db \"hosts\"): per MAC address\n"
          "and per IP address, the OUI vendor, hostnames and where they came from (dhcp,\n"
          "dhcp_fqdn, dns_ptr, mdns, nbns), the device type and its evidence, the OS guess\n"
          "from SYNs, the services seen answering, and first/last seen. Works while the\n"
          "sensor writes (it saves changed entries at most once a second).\n"
          "\n"
          "  -d, --datadir DIR     data directory (default " PT_CLI_DATADIR_DEFAULT ")\n"
          "      --from T          entries last seen at or after T (default: all)\n"
          "      --to T            ... and first seen before T (default: all)\n"
          "      --kind K          mac or ip (default: both)\n"
          "  -n, --limit N         stop after N entries\n"
          "  -F, --format F        table (default), json (one object per line) or csv\n",
          out);
    pt_cli_usage_help_times(out);
    fputs("Exit status: 0 ok (also when nothing matches), 1 no store, 2 bad usage.\n", out);
}

static int hosts_opt(void *ctx, int c, const char *arg)
{
    struct hosts_opts *o = ctx;

    switch (c) {
    case OPT_KIND:
        if (strcmp(arg, "mac") == 0)
            o->kind = PT_DEV_MAC;
        else if (strcmp(arg, "ip") == 0)
            o->kind = PT_DEV_IP;
        else {
            fprintf(stderr, "packettracer hosts: --kind: '%s' is not mac or ip\n", arg);
            return 2;
        }
        return 0;
    case 'n':
        return pt_cli_parse_u64("--limit", arg, 1, UINT64_MAX, &o->limit) ? 0 : 2;
    default:
        return -1;
    }
}

static const struct option hosts_longopts[] = {
    {"kind", required_argument, NULL, OPT_KIND},
    {"limit", required_argument, NULL, 'n'},
    {NULL, 0, NULL, 0},
};

static const struct pt_cli_qcmd hosts_cmd = {"hosts", hosts_longopts, hosts_usage, hosts_opt, NULL};

static char *mac_text(char *buf, size_t len, const uint8_t m[6])
{
    snprintf(buf, len, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
    return buf;
}

/* The entry's address and the one bound to it, as text. */
static void addrs(const struct pt_device *d, char a[48], char b[48])
{
    b[0] = '\0';
    if (d->kind == PT_DEV_MAC) {
        mac_text(a, 48, d->addr);
        if (d->flags & PT_DEV_F_BOUND)
            pt_cli_addr_text(b, 48, d->bound);
    } else {
        pt_cli_addr_text(a, 48, d->addr);
        if (d->flags & PT_DEV_F_BOUND)
            mac_text(b, 48, d->bound);
    }
}

/* "name (src);name (src)" and "443/tcp;53/udp" */
static void lists(const struct pt_device *d, char *names, size_t nlen, char *svc, size_t slen)
{
    size_t o = 0;

    names[0] = svc[0] = '\0';
    for (unsigned i = 0; i < d->n_names && i < PT_DEV_NAMES; i++)
        o += (size_t)snprintf(names + o, o < nlen ? nlen - o : 0, "%s%s (%s)", i ? ";" : "",
                              d->names[i].name, pt_dev_name_src_name(d->names[i].src));
    o = 0;
    for (unsigned i = 0; i < d->n_services && i < PT_DEV_SERVICES; i++)
        o += (size_t)snprintf(svc + o, o < slen ? slen - o : 0, "%s%u/%s", i ? ";" : "",
                              d->services[i].port, d->services[i].proto == 17 ? "udp" : "tcp");
}

static const char *os_text(const struct pt_device *d)
{
    return (d->flags & PT_DEV_F_OS) ? pt_dev_os_name(d->os) : "";
}

static int table_row(struct hosts_out *h, const struct pt_device *d)
{
    char a[48], b[48], first[32], last[32], names[PT_DEV_NAMES * (PT_DEV_NAME_MAX + 16)],
        svc[PT_DEV_SERVICES * 12];
    const char *cells[10];

    addrs(d, a, b);
    lists(d, names, sizeof names, svc, sizeof svc);
    cells[0] = d->kind == PT_DEV_MAC ? "mac" : "ip";
    cells[1] = a;
    cells[2] = b;
    cells[3] = d->vendor;
    cells[4] = d->type ? pt_dev_type_name(d->type) : "";
    cells[5] = os_text(d);
    cells[6] = names;
    cells[7] = svc;
    cells[8] = pt_cli_time_text(first, sizeof first, d->first_ns, false);
    cells[9] = pt_cli_time_text(last, sizeof last, d->last_ns, false);
    return pt_cli_table_add(h->t, cells);
}

static void json_ts(FILE *out, const char *key, uint64_t ns)
{
    fprintf(out, ",\"%s\":%llu.%06llu", key, (unsigned long long)(ns / PT_CLI_NS),
            (unsigned long long)(ns % PT_CLI_NS / 1000));
}

static void json_row(const struct pt_device *d)
{
    char a[48], b[48];

    addrs(d, a, b);
    printf("{\"kind\":\"%s\",\"addr\":\"%s\"", d->kind == PT_DEV_MAC ? "mac" : "ip", a);
    if (b[0])
        printf(",\"%s\":\"%s\"", d->kind == PT_DEV_MAC ? "ip" : "mac", b);
    if (d->vendor[0]) {
        fputs(",\"vendor\":", stdout);
        pt_cli_json_str(stdout, d->vendor);
    }
    if (d->dhcp_vendor[0]) {
        fputs(",\"dhcp_vendor_class\":", stdout);
        pt_cli_json_str(stdout, d->dhcp_vendor);
    }
    if (d->type)
        printf(",\"type\":\"%s\",\"type_source\":\"%s\"", pt_dev_type_name(d->type),
               pt_dev_type_src_name(d->type_src));
    if (d->flags & PT_DEV_F_OS) {
        printf(",\"os\":\"%s\",\"os_from\":\"%s\",\"os_ttl\":%u,\"os_hops\":%u,\"os_window\":%u",
               pt_dev_os_name(d->os), (d->flags & PT_DEV_F_OS_SYN) ? "syn" : "synack", d->os_ttl,
               d->os_hops, d->os_win);
        if (d->os_mss)
            printf(",\"os_mss\":%u", d->os_mss);
        if (d->os_wscale >= 0)
            printf(",\"os_wscale\":%d", d->os_wscale);
    }
    if (d->n_names) {
        fputs(",\"names\":[", stdout);
        for (unsigned i = 0; i < d->n_names && i < PT_DEV_NAMES; i++) {
            fputs(i ? ",{\"name\":" : "{\"name\":", stdout);
            pt_cli_json_str(stdout, d->names[i].name);
            printf(",\"source\":\"%s\"", pt_dev_name_src_name(d->names[i].src));
            json_ts(stdout, "last_seen", d->names[i].last_ns);
            fputs("}", stdout);
        }
        fputs("]", stdout);
    }
    if (d->n_services) {
        fputs(",\"services\":[", stdout);
        for (unsigned i = 0; i < d->n_services && i < PT_DEV_SERVICES; i++)
            printf("%s{\"port\":%u,\"proto\":\"%s\",\"conns\":%u}", i ? "," : "",
                   d->services[i].port, d->services[i].proto == 17 ? "udp" : "tcp",
                   d->services[i].conns);
        fputs("]", stdout);
    }
    json_ts(stdout, "first_seen", d->first_ns);
    json_ts(stdout, "last_seen", d->last_ns);
    fputs("}\n", stdout);
}

static void csv_row(const struct pt_device *d)
{
    char a[48], b[48], first[32], last[32], names[PT_DEV_NAMES * (PT_DEV_NAME_MAX + 16)],
        svc[PT_DEV_SERVICES * 12];

    addrs(d, a, b);
    lists(d, names, sizeof names, svc, sizeof svc);
    printf("%s,%s,%s,", d->kind == PT_DEV_MAC ? "mac" : "ip", a, b);
    pt_cli_csv_str(stdout, d->vendor);
    putchar(',');
    pt_cli_csv_str(stdout, d->dhcp_vendor);
    printf(",%s,%s,%s,", d->type ? pt_dev_type_name(d->type) : "",
           pt_dev_type_src_name(d->type_src), os_text(d));
    pt_cli_csv_str(stdout, names);
    printf(",%s,%s,%s\n", svc, pt_cli_time_rfc3339(first, sizeof first, d->first_ns / PT_CLI_NS),
           pt_cli_time_rfc3339(last, sizeof last, d->last_ns / PT_CLI_NS));
}

static int emit(const struct pt_device *d, void *arg)
{
    struct hosts_out *h = arg;
    const struct hosts_opts *o = h->o;
    int rc;

    if (o->kind && d->kind != o->kind)
        return 0;
    if ((o->base.from_set && d->last_ns < o->base.from_ns) ||
        (o->base.to_set && d->first_ns >= o->base.to_ns))
        return 0;
    switch (o->base.fmt) {
    case PT_CLI_QFMT_TABLE:
        if ((rc = table_row(h, d)) < 0)
            return rc;
        if ((h->n + 1) % FLUSH_ROWS == 0 && (rc = pt_cli_table_flush(h->t, stdout)) < 0)
            return rc;
        break;
    case PT_CLI_QFMT_JSON:
        json_row(d);
        break;
    case PT_CLI_QFMT_CSV:
        csv_row(d);
        break;
    }
    h->n++;
    return o->limit && h->n >= o->limit ? 1 : 0;
}

int pt_cli_hosts(int argc, char **argv)
{
    static const char *const hdr[] = {
        "KIND", "ADDRESS", "BOUND",    "VENDOR",           "TYPE",
        "OS",   "NAMES",   "SERVICES", "FIRST SEEN (UTC)", "LAST SEEN (UTC)"};
    struct hosts_opts o = {0};
    struct hosts_out h = {.o = &o};
    struct pt_store *st;
    int rc;

    if ((rc = pt_cli_query_begin(&hosts_cmd, argc, argv, &o, &o.base, &st)) >= 0)
        return rc;
    if (o.base.fmt == PT_CLI_QFMT_TABLE && !(h.t = pt_cli_table_create(10, hdr, "llllllllll"))) {
        rc = -ENOMEM;
        goto err;
    }
    if (o.base.fmt == PT_CLI_QFMT_CSV)
        fputs("kind,addr,bound,vendor,dhcp_vendor_class,type,type_source,os,names,services,"
              "first_seen,last_seen\n",
              stdout);
    if ((rc = pt_store_hosts_read(st, emit, &h)) < 0)
        goto err;
    if (h.t && (rc = pt_cli_table_flush(h.t, stdout)) < 0)
        goto err;
    rc = pt_cli_output_done("hosts");
    goto out;
err:
    fprintf(stderr, "packettracer hosts: %s\n", pt_strerror(rc));
    rc = 1;
out:
    pt_cli_table_destroy(h.t);
    pt_store_close(st);
    return rc;
}
