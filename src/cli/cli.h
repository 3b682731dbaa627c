/* cli.h - subcommands of the packettracer binary (internal to src/cli). */
#ifndef PT_CLI_H
#define PT_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "pt/common.h"

/* Each returns the process exit status: 0 ok, 1 runtime/input error, 2 usage. */
int pt_cli_read(int argc, char **argv);
int pt_cli_run(int argc, char **argv);
int pt_cli_ifaces(int argc, char **argv);
/* Query commands over DIR/store, read-only (series.c, flows_cmd.c, top.c;
 * shared parts in query.h). */
int pt_cli_series(int argc, char **argv);
int pt_cli_flows(int argc, char **argv);
int pt_cli_top(int argc, char **argv);
/* The device table in the store (hosts_cmd.c). */
int pt_cli_hosts(int argc, char **argv);
/* The pcap ring of DIR/ring, read-only (extract.c). */
int pt_cli_extract(int argc, char **argv);
int pt_cli_status(int argc, char **argv);

/* Parse an unsigned decimal in [min, max]; false with a message on stderr
 * naming @opt when @s is not one. */
bool pt_cli_parse_u64(const char *opt, const char *s, uint64_t min, uint64_t max, uint64_t *out);

/* Parse a duration: seconds, or a number with s, m, h, d, w (week) or y
 * (365 d). false with a message naming @opt when @s is not one. */
bool pt_cli_parse_duration(const char *opt, const char *s, uint64_t *secs);

/* Parse a size: bytes, or a number with K, M, G, T (powers of 1024, "KiB" and
 * "KB" accepted alike). false with a message naming @opt. */
bool pt_cli_parse_size(const char *opt, const char *s, uint64_t *bytes);

/* The pcap ring's settings for DATADIR/ring (read.c; run and read). */
struct pt_ring_config;
void pt_cli_ring_config(struct pt_ring_config *rc, const char *datadir, uint64_t ring_size,
                        uint64_t segment_size, unsigned keep_free_pct, unsigned snaplen,
                        uint64_t flow_cutoff);

/* Print the ring writer's counters, one "ring_<name>: value" line each. */
struct pt_ring_stats;
void pt_cli_ring_stats_print(FILE *out, const struct pt_ring_stats *st);

/* Print the device table's line of a run with a store: "devices: N restored
 * R saved S lost L evicted E" (src/app/out.c). */
struct pt_app_out;
void pt_cli_devices_print(FILE *out, const struct pt_app_out *app);

/* Print the app layer's final statistics of a run, as `read` and `run` end:
 * records written by kind, records lost to full worker queues (when any),
 * parser states refused, DNS names, TCP gaps, RTP, and every error counter
 * by name. */
struct pt_app_worker_stats;
void pt_cli_app_print(FILE *out, const struct pt_app_worker_stats *a, uint64_t queue_dropped,
                      const struct pt_app_out *app);

#endif
