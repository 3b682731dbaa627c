/* main.c - the packettracer binary: git-style subcommands.
 *
 * DESIGN: main() only picks the subcommand; each lives in its own file
 * (read.c, ...) and returns the exit status. exit() is called nowhere else. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

#define PT_VERSION "0.1.0"

static void usage(FILE *out)
{
    fputs("usage: packettracer <command> [options]\n"
          "\n"
          "commands:\n"
          "  read FILE...   decode capture files (pcap, pcapng) and print flow records\n"
          "  run -i IF...   capture live from interfaces, write flow records to DATADIR\n"
          "  ifaces         list interfaces: state, MTU, MAC, speed, RX counters, offloads\n"
          "  series         per-second series from the store (bps, pps, ... by iface/vlan/proto)\n"
          "  flows          flow records from the store, by time, host, port or uid\n"
          "  top            top hosts or flows over a time range, from the store\n"
          "  hosts          devices seen: MAC/IP, vendor, hostnames, type, OS guess, services\n"
          "  extract        packets from the ring as pcap/pcapng, by time, host, port, flow, BPF\n"
          "  status         the ring: time span, size, segments, counters by cause\n"
          "  version        print the version\n"
          "\n"
          "`packettracer <command> --help` describes a command's options.\n",
          out);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "read") == 0)
        return pt_cli_read(argc - 1, argv + 1);
    if (strcmp(argv[1], "run") == 0)
        return pt_cli_run(argc - 1, argv + 1);
    if (strcmp(argv[1], "ifaces") == 0)
        return pt_cli_ifaces(argc - 1, argv + 1);
    if (strcmp(argv[1], "series") == 0)
        return pt_cli_series(argc - 1, argv + 1);
    if (strcmp(argv[1], "flows") == 0)
        return pt_cli_flows(argc - 1, argv + 1);
    if (strcmp(argv[1], "top") == 0)
        return pt_cli_top(argc - 1, argv + 1);
    if (strcmp(argv[1], "hosts") == 0)
        return pt_cli_hosts(argc - 1, argv + 1);
    if (strcmp(argv[1], "extract") == 0)
        return pt_cli_extract(argc - 1, argv + 1);
    if (strcmp(argv[1], "status") == 0)
        return pt_cli_status(argc - 1, argv + 1);
    if (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0) {
        printf("packettracer %s\n", PT_VERSION);
        return 0;
    }
    if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "-h") == 0) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "packettracer: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
