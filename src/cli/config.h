/* config.h - the typed configuration of `packettracer run` (internal to src/cli).
 *
 * One table of typed keys (config.c) gives each setting its YAML name, type,
 * bounds, default and the field of struct pt_config it lands in. A run builds
 * its config once, in this order, then only reads it through a const pointer:
 *
 *   pt_config_init()     every key at its default;
 *   pt_config_load()     a YAML file (a mapping of key: value) over that;
 *   pt_config_set()      command-line values over that (they win);
 *   pt_config_finish()   cross-key checks; fills cfg->live's pointers.
 *
 * Every setting records where it came from (default, file and line, command
 * line); pt_config_log() writes one line per setting.
 *
 * Thread: a config is built by one thread; once finished it is read-only and
 * may be read by any thread. Errors: 0, or PT_E_BADARG for a bad key or value
 * (message in @msg naming the file, line and key), or a negative errno when
 * the file cannot be read (-ENOENT: missing). No call exits or aborts. */
#ifndef PT_CLI_CONFIG_H
#define PT_CLI_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pt/capture.h"

#define PT_CONFIG_DEFAULT_PATH "/etc/packettracer/packettracer.yaml"
#define PT_CONFIG_MAX_KEYS     48
#define PT_CONFIG_IFNAME_LEN   64

/* Where a setting's value came from. */
enum pt_config_src {
    PT_CONFIG_SRC_DEFAULT = 0,
    PT_CONFIG_SRC_FILE,
    PT_CONFIG_SRC_CLI,
};

struct pt_config {
    /* What pt_live_run() takes: scalar fields are set by the table; after
     * pt_config_finish(), .ifaces and .filter point into this struct (so a
     * finished config is never copied or moved) and the callbacks are unset. */
    struct pt_live_opts live;
    char datadir[4096];
    bool quiet;
    bool store;              /* fill DATADIR/store (series, top lists, flow records) */
    unsigned top_n;          /* entries per top list */
    uint64_t keep_ns[3];     /* retention of 1 s, 1 min, 1 h points */
    uint64_t keep_flows_ns;  /* retention of flow records */
    uint64_t store_max;      /* largest map size, bytes */
    bool ring;               /* write the pcap ring DATADIR/ring */
    uint64_t ring_size;      /* its bound, bytes (0: ring_keep_free only) */
    uint64_t segment_size;   /* bytes per segment file */
    unsigned ring_keep_free; /* percent of the filesystem kept free */
    unsigned snaplen;        /* bytes kept per packet */
    uint64_t flow_cutoff;    /* keep the first N bytes of each flow in the ring; 0 = all */
    uint64_t ring_buffer;    /* staging bytes per capture worker, in 1 MiB chunks */
    bool app;                /* application layer: detection, parsers, app records */
    uint32_t dns_names;      /* IP -> name cache entries */
    uint32_t devices;        /* device table entries (with the store) */
    char geoip[4096];        /* location database; "" = the default path, "none" = off */
    char geoip_asn[4096];    /* ASN database; likewise */
    char oui_dir[4096];      /* IEEE registry CSVs (Debian ieee-data) */

    /* storage behind live.ifaces and live.filter */
    char ifname[PT_MAX_IFACES][PT_CONFIG_IFNAME_LEN];
    const char *ifname_ptrs[PT_MAX_IFACES];
    char filter[4096];

    /* provenance, per table entry */
    unsigned char src[PT_CONFIG_MAX_KEYS]; /* enum pt_config_src */
    unsigned line[PT_CONFIG_MAX_KEYS];     /* file line (1-based) for PT_CONFIG_SRC_FILE */
    char file[4096];                       /* file that was read; "" when none */
};

/* Set every key to its default; no file, every source PT_CONFIG_SRC_DEFAULT. */
void pt_config_init(struct pt_config *cfg);

/* Read the YAML file @path (one mapping of key: value; an empty file is
 * fine) and set each key it names, over what @cfg holds. Unknown key, wrong
 * type (e.g. a list where a number goes), out-of-range value, duplicate key
 * or a YAML syntax error: PT_E_BADARG with "PATH:LINE: ..." naming the key in
 * @msg. Unreadable file: a negative errno (-ENOENT when missing), message
 * naming @path. On error @cfg may hold some of the file's values. */
int pt_config_load(const char *path, struct pt_config *cfg, char *msg, size_t len);

/* Set key @key from the text @value, as given on the command line (source
 * PT_CONFIG_SRC_CLI), with the same parsing and bounds as the file. For the
 * list key `interfaces` each call appends one name; the first command-line
 * call replaces what the file or default gave. Errors as pt_config_load(),
 * the message naming the key's command-line option. */
int pt_config_set(struct pt_config *cfg, const char *key, const char *value, char *msg, size_t len);

/* Checks that need every key (at least one interface) and points
 * cfg->live.ifaces and cfg->live.filter at @cfg's own storage. After this
 * the config is read-only. PT_E_BADARG with a message when a check fails. */
int pt_config_finish(struct pt_config *cfg, char *msg, size_t len);

/* Where @key's value came from; -1 for an unknown key. */
int pt_config_source(const struct pt_config *cfg, const char *key);

/* Log each key's effective value and its source at PT_LOG_INFO, one line
 * per key ("config: workers = 2 (command line)"). */
void pt_config_log(const struct pt_config *cfg);

#endif
