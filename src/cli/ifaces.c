/* ifaces.c - `packettracer ifaces`: interfaces and the facts a capture needs.
 *
 * DESIGN: one snapshot (pt_iface_list()) plus the merging offloads of each
 * interface, printed as an aligned table (default) or as JSON lines, one
 * object per interface, like the records of `read`. Named interfaces limit
 * the listing; an unknown name is an error naming it (exit 1). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "pt/capture.h"
#include "query.h"

static void ifaces_usage(FILE *out)
{
    fputs("usage: packettracer ifaces [--format table|json] [IF...]\n"
          "\n"
          "List network interfaces (all, or the ones named) with what matters for\n"
          "capture: admin and operational state, carrier, MTU, MAC, link speed (Mb/s,\n"
          "-1 unknown), RX packets/bytes/dropped/errors, and the offloads that merge\n"
          "frames (turn them off with tuning/tune-capture-iface.sh; '!' marks one the\n"
          "driver keeps on).\n"
          "\n"
          "  -F, --format table|json  table (default) or JSON lines, one object per interface\n"
          "  -h, --help               this text\n",
          out);
}

static void mac_str(const struct pt_iface_info *f, char *buf, size_t len)
{
    if (f->mac_len != 6) {
        snprintf(buf, len, "-");
        return;
    }
    snprintf(buf, len, "%02x:%02x:%02x:%02x:%02x:%02x", f->mac[0], f->mac[1], f->mac[2], f->mac[3],
             f->mac[4], f->mac[5]);
}

/* "gro,tso" or "-" (table) / "\"gro\",\"tso\"" or "" (json), of the bits
 * in @on; the table marks @fixed ones (the driver keeps them on) with '!'. */
static void offload_str(int rc, unsigned on, unsigned fixed, bool json, char *buf, size_t len)
{
    size_t n = 0;

    buf[0] = '\0';
    if (rc < 0) {
        snprintf(buf, len, json ? "" : "?");
        return;
    }
    for (unsigned bit = 1; bit <= PT_OFFLOAD_ALL && n < len; bit <<= 1) {
        if (!(on & bit))
            continue;
        n += (size_t)snprintf(buf + n, len - n, json ? "%s\"%s\"" : "%s%s%s", n ? "," : "",
                              pt_iface_offload_name(bit), !json && (fixed & bit) ? "!" : "");
    }
    if (!json && n == 0)
        snprintf(buf, len, "-");
}

static void print_json(FILE *out, const struct pt_iface_info *f, int orc, unsigned on,
                       unsigned fixed)
{
    char mac[24], offl[96], fx[96];

    mac_str(f, mac, sizeof mac);
    offload_str(orc, on, 0, true, offl, sizeof offl);
    offload_str(orc, fixed, 0, true, fx, sizeof fx);
    fputs("{\"name\":", out);
    pt_cli_json_str(out, f->name);
    fprintf(out,
            ",\"index\":%d,\"admin_up\":%s,\"oper\":\"%s\",\"carrier\":%s,\"mtu\":%u,"
            "\"mac\":%s%s%s,\"speed_mbps\":%lld,\"rx_packets\":%llu,\"rx_bytes\":%llu,"
            "\"rx_dropped\":%llu,\"rx_errors\":%llu,\"offloads\":",
            f->index, f->admin_up ? "true" : "false", pt_iface_oper_name(f->oper),
            f->carrier ? "true" : "false", f->mtu, f->mac_len ? "\"" : "",
            f->mac_len ? mac : "null", f->mac_len ? "\"" : "", (long long)f->speed_mbps,
            (unsigned long long)f->rx_packets, (unsigned long long)f->rx_bytes,
            (unsigned long long)f->rx_dropped, (unsigned long long)f->rx_errors);
    if (orc < 0)
        fputs("null}\n", out);
    else
        fprintf(out, "[%s],\"offloads_fixed\":[%s]}\n", offl, fx);
}

#define TABLE_FMT "%-16s %5s %-5s %-14s %-7s %5s %-17s %6s %12s %14s %10s %8s  %s\n"

static void print_row(FILE *out, const struct pt_iface_info *f, int orc, unsigned on,
                      unsigned fixed)
{
    char mac[24], offl[96], idx[16], mtu[16], speed[24], pk[24], by[24], dr[24], er[24];

    mac_str(f, mac, sizeof mac);
    offload_str(orc, on, fixed, false, offl, sizeof offl);
    snprintf(idx, sizeof idx, "%d", f->index);
    snprintf(mtu, sizeof mtu, "%u", f->mtu);
    if (f->speed_mbps < 0)
        snprintf(speed, sizeof speed, "-");
    else
        snprintf(speed, sizeof speed, "%lld", (long long)f->speed_mbps);
    snprintf(pk, sizeof pk, "%llu", (unsigned long long)f->rx_packets);
    snprintf(by, sizeof by, "%llu", (unsigned long long)f->rx_bytes);
    snprintf(dr, sizeof dr, "%llu", (unsigned long long)f->rx_dropped);
    snprintf(er, sizeof er, "%llu", (unsigned long long)f->rx_errors);
    fprintf(out, TABLE_FMT, f->name, idx, f->admin_up ? "up" : "down", pt_iface_oper_name(f->oper),
            f->carrier ? "yes" : "no", mtu, mac, speed, pk, by, dr, er, offl);
}

static bool wanted(const struct pt_iface_info *f, char **names, int n)
{
    if (n == 0)
        return true;
    for (int i = 0; i < n; i++)
        if (strcmp(names[i], f->name) == 0)
            return true;
    return false;
}

int pt_cli_ifaces(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"format", required_argument, NULL, 'F'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct pt_iface_info *v = NULL;
    bool json = false;
    unsigned n = 0;
    int c, rc, status = 0;

    optind = 1;
    while ((c = getopt_long(argc, argv, "F:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'F':
            if (strcmp(optarg, "json") == 0) {
                json = true;
            } else if (strcmp(optarg, "table") != 0) {
                fprintf(stderr, "packettracer: --format: '%s' is not table or json\n", optarg);
                return 2;
            }
            break;
        case 'h':
            ifaces_usage(stdout);
            return 0;
        default:
            ifaces_usage(stderr);
            return 2;
        }
    }
    if ((rc = pt_iface_list(&v, &n)) < 0) {
        fprintf(stderr, "packettracer: cannot list interfaces: %s\n", pt_strerror(rc));
        return 1;
    }
    for (int i = optind; i < argc; i++) {
        bool found = false;
        for (unsigned k = 0; k < n && !found; k++)
            found = strcmp(argv[i], v[k].name) == 0;
        if (!found) {
            fprintf(stderr, "packettracer: unknown interface '%s'\n", argv[i]);
            status = 1;
        }
    }
    if (!json)
        printf(TABLE_FMT, "NAME", "INDEX", "ADMIN", "OPER", "CARRIER", "MTU", "MAC", "SPEED",
               "RX_PACKETS", "RX_BYTES", "RX_DROPPED", "RX_ERRS", "OFFLOADS");
    for (unsigned k = 0; k < n; k++) {
        unsigned on = 0, fixed = 0;
        int orc;

        if (!wanted(&v[k], argv + optind, argc - optind))
            continue;
        orc = pt_iface_offloads(v[k].name, &on, &fixed);
        if (json)
            print_json(stdout, &v[k], orc, on, fixed);
        else
            print_row(stdout, &v[k], orc, on, fixed);
    }
    free(v);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "packettracer: writing output: %s\n", strerror(errno));
        return 1;
    }
    return status;
}
