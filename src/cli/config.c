/* config.c - one typed table of `packettracer run` settings, from YAML and the command line.
 *
 * DESIGN (after Redis config.c): every setting is one row of `table`: its
 * YAML key, the command-line option that also sets it (for messages), its
 * type, bounds, default (as text, parsed by the same code as a file value)
 * and the offset of the field it lands in, inside struct pt_config (mostly
 * inside the embedded struct pt_live_opts and its pt_flow_config). Nothing
 * else in the program knows a key's name, bounds or default.
 *
 * Types: bool (true/false, yes/no, on/off), uint (decimal, [min, max]),
 * size (bytes, optional K/M/G suffix, powers of 1024, [min, max], optionally
 * a multiple of some unit), duration (seconds, optional s/m/h suffix, stored
 * in nanoseconds, bounds in seconds), enum (a name from a list; the value is
 * the name's index), string (fixed buffer in struct pt_config), list of
 * interface names (a YAML sequence or one scalar; only `interfaces`).
 *
 * The file is read with libyaml's document API (yaml_parser_load), so every
 * node carries its start mark: each error names the file, the line and the
 * key. The precedence default < file < command line comes from the order
 * run.c calls pt_config_init/load/set; each call records the source of the
 * keys it sets, which pt_config_log() reports. */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "pt/app.h"
#include "pt/common.h"
#include "pt/enrich.h"
#include "pt/flow.h"

enum ctype { T_BOOL, T_UINT, T_SIZE, T_DURATION, T_ENUM, T_STRING, T_LIST, T_PERCENT };

struct centry {
    const char *name; /* YAML key */
    const char *opt;  /* command-line option that sets it; NULL: file only */
    enum ctype type;
    size_t off, width;        /* field in struct pt_config, its size */
    uint64_t min, max;        /* uint, size (bytes), duration (seconds); string: min length */
    uint64_t unit;            /* size: must be a multiple of this; 0 = any */
    const char *const *names; /* enum: NULL-terminated; value = index */
    const char *def;          /* default as text; NULL = zero / empty */
    const char *zero;         /* how a zero / empty value is shown */
};

#define FIELD(f)    offsetof(struct pt_config, f), sizeof(((struct pt_config *)0)->f)
#define SECONDS_1E9 1000000000ull
#define DAY         86400ull

static const char *const fanout_names[] = {"hash", "lb", "cpu", "qm", NULL};
static const char *const policy_names[] = {"refuse", "evict", NULL};

_Static_assert(PT_FANOUT_HASH == 0 && PT_FANOUT_LB == 1 && PT_FANOUT_CPU == 2 && PT_FANOUT_QM == 3,
               "fanout_names follows enum pt_fanout_mode");
_Static_assert(PT_FLOW_FULL_REFUSE == 0 && PT_FLOW_FULL_EVICT == 1,
               "policy_names follows enum pt_flow_full_policy");

static const struct centry table[] = {
    /* capture */
    {"interfaces", "-i", T_LIST, FIELD(ifname), .zero = "(none)"},
    {"workers", "--workers", T_UINT, FIELD(live.workers), 1, PT_LIVE_MAX_WORKERS, .def = "1"},
    {"filter", "--filter", T_STRING, FIELD(filter), .zero = "(none: every frame)"},
    {"datadir", "--datadir", T_STRING, FIELD(datadir), 1, .def = "/var/lib/packettracer"},
    {"fanout", "--fanout", T_ENUM, FIELD(live.fanout), .names = fanout_names, .def = "hash"},
    {"promisc", "--no-promisc", T_BOOL, FIELD(live.promisc), .def = "true"},
    {"block_size", "--block-size", T_SIZE, FIELD(live.block_size), 4096, 1u << 30, .unit = 4096,
     .def = "1M"},
    {"block_count", "--block-count", T_UINT, FIELD(live.block_count), 1, 65536, .def = "64"},
    {"cpu_pin", "--cpu-pin", T_BOOL, FIELD(live.cpu_pin), .def = "false"},
    {"quiet", "--quiet", T_BOOL, FIELD(quiet), .def = "false"},
    {"duration", "--duration", T_DURATION, FIELD(live.duration_ns), 1, 100 * 365 * DAY,
     .zero = "none (until SIGINT/SIGTERM)"},
    /* flow table */
    {"max_flows", NULL, T_UINT, FIELD(live.flow.max_flows), 64, 1u << 30, .def = "1000000"},
    {"shards", NULL, T_UINT, FIELD(live.flow.shards), 1, 4096, .def = "16"},
    {"full_policy", NULL, T_ENUM, FIELD(live.flow.full_policy), .names = policy_names,
     .def = "refuse"},
    {"idle_timeout_tcp", NULL, T_DURATION, FIELD(live.flow.idle_tcp_ns), 1, 7 * DAY, .def = "300s"},
    {"idle_timeout_udp", NULL, T_DURATION, FIELD(live.flow.idle_udp_ns), 1, 7 * DAY, .def = "60s"},
    {"idle_timeout_icmp", NULL, T_DURATION, FIELD(live.flow.idle_icmp_ns), 1, 7 * DAY,
     .def = "60s"},
    {"active_timeout", NULL, T_DURATION, FIELD(live.flow.active_ns), 0, 7 * DAY, .def = "3600s",
     .zero = "0 (never)"},
    /* store (DATADIR/store): series, top lists, flow records */
    {"store", "--no-store", T_BOOL, FIELD(store), .def = "true"},
    {"top_n", NULL, T_UINT, FIELD(top_n), 1, 1000, .def = "10"},
    {"retention_1s", NULL, T_DURATION, FIELD(keep_ns[0]), 60, 100 * 365 * DAY, .def = "48h"},
    {"retention_1m", NULL, T_DURATION, FIELD(keep_ns[1]), 3600, 100 * 365 * DAY, .def = "30d"},
    {"retention_1h", NULL, T_DURATION, FIELD(keep_ns[2]), DAY, 100 * 365 * DAY, .def = "2y"},
    {"retention_flows", NULL, T_DURATION, FIELD(keep_flows_ns), 60, 100 * 365 * DAY, .def = "30d"},
    {"store_max_size", NULL, T_SIZE, FIELD(store_max), 1u << 20, 1ull << 50, .def = "16G"},
    /* pcap ring (DATADIR/ring): every packet, indexed */
    {"ring", "--no-ring", T_BOOL, FIELD(ring), .def = "true"},
    {"ring_size", "--ring-size", T_SIZE, FIELD(ring_size), 0, 1ull << 60, .def = "0",
     .zero = "0 (bounded by ring_keep_free only)"},
    {"segment_size", "--segment-size", T_SIZE, FIELD(segment_size), 4u << 20, 1ull << 40,
     .def = "256M"},
    {"ring_keep_free", "--ring-keep-free", T_PERCENT, FIELD(ring_keep_free), 0, 90, .def = "10%",
     .zero = "0% (bounded by ring_size only)"},
    {"snaplen", "--snaplen", T_UINT, FIELD(snaplen), 64, 262144, .def = "262144"},
    {"flow_cutoff", "--flow-cutoff", T_SIZE, FIELD(flow_cutoff), 0, 1ull << 50, .def = "0",
     .zero = "0 (every packet of every flow)"},
    {"ring_buffer", "--ring-buffer", T_SIZE, FIELD(ring_buffer), 4u << 20, 1ull << 40,
     .def = "256M"},
    /* application layer and enrichment */
    {"app", "--no-app", T_BOOL, FIELD(app), .def = "true"},
    {"app_states", NULL, T_UINT, FIELD(live.flow.app_states), 16, 1u << 20, .def = "4096"},
    {"app_queue", NULL, T_UINT, FIELD(live.flow.app_queue), 16, 1u << 20, .def = "1024"},
    {"rtp_states", NULL, T_UINT, FIELD(live.flow.rtp_states), 16, 1u << 20, .def = "4096"},
    {"dns_names", NULL, T_UINT, FIELD(dns_names), 16, 1u << 24, .def = "65536"},
    {"devices", NULL, T_UINT, FIELD(devices), 4, 1u << 24, .def = "16384"},
    {"geoip", "--geoip", T_STRING, FIELD(geoip),
     .zero = "(default: " PT_GEOIP_DIR "/GeoLite2-City.mmdb when present)"},
    {"geoip_asn", "--geoip-asn", T_STRING, FIELD(geoip_asn),
     .zero = "(default: " PT_GEOIP_DIR "/GeoLite2-ASN.mmdb when present)"},
    {"oui_dir", NULL, T_STRING, FIELD(oui_dir), 1, .def = PT_OUI_DIR},
};
_Static_assert(PT_ARRAY_LEN(table) <= 64, "apply_pair's seen mask has 64 bits");

_Static_assert(PT_ARRAY_LEN(table) <= PT_CONFIG_MAX_KEYS, "PT_CONFIG_MAX_KEYS too small");

static const struct centry *find_key(const char *name)
{
    for (size_t i = 0; i < PT_ARRAY_LEN(table); i++)
        if (strcmp(table[i].name, name) == 0)
            return &table[i];
    return NULL;
}

static void *field(struct pt_config *cfg, const struct centry *e)
{
    return (char *)cfg + e->off;
}

static uint64_t load_uint(const struct pt_config *cfg, const struct centry *e)
{
    const char *p = (const char *)cfg + e->off;
    uint32_t v32;
    uint64_t v64;

    if (e->width == sizeof v64) {
        memcpy(&v64, p, sizeof v64);
        return v64;
    }
    memcpy(&v32, p, sizeof v32);
    return v32;
}

static void store_uint(struct pt_config *cfg, const struct centry *e, uint64_t v)
{
    uint32_t v32 = (uint32_t)v;

    if (e->width == sizeof v)
        memcpy(field(cfg, e), &v, sizeof v);
    else
        memcpy(field(cfg, e), &v32, sizeof v32);
}

/* ---- scalar parsing: 0, or false with the reason in @why ---- */

/* Decimal digits only, at least one, no overflow; *end after them. */
static bool parse_dec(const char *s, uint64_t *v, const char **end)
{
    uint64_t n = 0;
    const char *p = s;

    for (; *p >= '0' && *p <= '9'; p++) {
        if (n > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
            return false;
        n = n * 10 + (uint64_t)(*p - '0');
    }
    *v = n;
    *end = p;
    return p != s;
}

static void fmt_size(char *buf, size_t len, uint64_t v)
{
    if (v && v % (1u << 30) == 0)
        snprintf(buf, len, "%lluG", (unsigned long long)(v >> 30));
    else if (v && v % (1u << 20) == 0)
        snprintf(buf, len, "%lluM", (unsigned long long)(v >> 20));
    else if (v && v % 1024 == 0)
        snprintf(buf, len, "%lluK", (unsigned long long)(v >> 10));
    else
        snprintf(buf, len, "%llu", (unsigned long long)v);
}

static void fmt_secs(char *buf, size_t len, uint64_t s)
{
    if (s && s % 3600 == 0)
        snprintf(buf, len, "%lluh", (unsigned long long)(s / 3600));
    else if (s && s % 60 == 0)
        snprintf(buf, len, "%llum", (unsigned long long)(s / 60));
    else
        snprintf(buf, len, "%llus", (unsigned long long)s);
}

static int bad(char *why, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int bad(char *why, size_t len, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, len, fmt, ap);
    va_end(ap);
    return PT_E_BADARG;
}

static int parse_bool(const char *s, bool *b, char *why, size_t len)
{
    static const char *const yes[] = {"true", "yes", "on"}, *const no[] = {"false", "no", "off"};

    for (size_t i = 0; i < PT_ARRAY_LEN(yes); i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *b = true;
            return 0;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *b = false;
            return 0;
        }
    }
    return bad(why, len, "'%s' is not true or false", s);
}

/* uint, size and duration: the number in the key's own unit (bytes, seconds). */
static int parse_number(const struct centry *e, const char *s, uint64_t *out, char *why, size_t len)
{
    char lo[32], hi[32];
    const char *end;
    uint64_t v, mul = 1;

    if (!parse_dec(s, &v, &end))
        goto not_number;
    if (e->type == T_SIZE && *end) {
        switch (*end++) {
        case 'K':
        case 'k':
            mul = 1ull << 10;
            break;
        case 'M':
        case 'm':
            mul = 1ull << 20;
            break;
        case 'G':
        case 'g':
            mul = 1ull << 30;
            break;
        case 'T':
        case 't':
            mul = 1ull << 40;
            break;
        default:
            goto not_number;
        }
    } else if (e->type == T_PERCENT && *end == '%') {
        end++;
    } else if (e->type == T_DURATION && *end) {
        switch (*end++) {
        case 's':
            mul = 1;
            break;
        case 'm':
            mul = 60;
            break;
        case 'h':
            mul = 3600;
            break;
        case 'd':
            mul = DAY;
            break;
        case 'y':
            mul = 365 * DAY;
            break;
        default:
            goto not_number;
        }
    }
    if (*end)
        goto not_number;
    if (v > UINT64_MAX / mul)
        goto range;
    v *= mul;
    if (v < e->min || v > e->max)
        goto range;
    if (e->unit && v % e->unit)
        return bad(why, len, "'%s' is not a multiple of %llu", s, (unsigned long long)e->unit);
    *out = v;
    return 0;

range:
    if (e->type == T_SIZE) {
        fmt_size(lo, sizeof lo, e->min);
        fmt_size(hi, sizeof hi, e->max);
    } else if (e->type == T_DURATION) {
        fmt_secs(lo, sizeof lo, e->min);
        fmt_secs(hi, sizeof hi, e->max);
    } else {
        snprintf(lo, sizeof lo, "%llu", (unsigned long long)e->min);
        snprintf(hi, sizeof hi, "%llu", (unsigned long long)e->max);
    }
    return bad(why, len, "'%s' is out of range %s..%s", s, lo, hi);
not_number:
    if (e->type == T_SIZE)
        return bad(why, len, "'%s' is not a size (bytes, or with a K, M or G suffix)", s);
    if (e->type == T_DURATION)
        return bad(why, len, "'%s' is not a duration (seconds, or with an s, m or h suffix)", s);
    if (e->type == T_PERCENT)
        return bad(why, len, "'%s' is not a percentage in %llu..%llu (e.g. 10%%)", s,
                   (unsigned long long)e->min, (unsigned long long)e->max);
    return bad(why, len, "'%s' is not a number in %llu..%llu", s, (unsigned long long)e->min,
               (unsigned long long)e->max);
}

static int list_append(struct pt_config *cfg, const char *s, char *why, size_t len)
{
    if (cfg->live.n_ifaces >= PT_MAX_IFACES)
        return bad(why, len, "at most %d interfaces", PT_MAX_IFACES);
    if (!*s)
        return bad(why, len, "empty interface name");
    if (strlen(s) >= PT_CONFIG_IFNAME_LEN)
        return bad(why, len, "interface name '%s' is too long", s);
    strcpy(cfg->ifname[cfg->live.n_ifaces++], s);
    return 0;
}

/* Set a scalar-valued key from @s (for the list: append one name). */
static int set_scalar(struct pt_config *cfg, const struct centry *e, const char *s, char *why,
                      size_t len)
{
    uint64_t v = 0;
    bool b = false;
    int rc;

    switch (e->type) {
    case T_BOOL:
        if ((rc = parse_bool(s, &b, why, len)) < 0)
            return rc;
        memcpy(field(cfg, e), &b, sizeof b);
        return 0;
    case T_UINT:
    case T_PERCENT:
    case T_SIZE:
    case T_DURATION:
        if ((rc = parse_number(e, s, &v, why, len)) < 0)
            return rc;
        store_uint(cfg, e, e->type == T_DURATION ? v * SECONDS_1E9 : v);
        return 0;
    case T_ENUM:
        for (size_t i = 0; e->names[i]; i++)
            if (strcmp(s, e->names[i]) == 0) {
                store_uint(cfg, e, i);
                return 0;
            }
        {
            char all[128];
            size_t n = 0;
            all[0] = '\0';
            for (size_t i = 0; e->names[i] && n < sizeof all; i++)
                n += (size_t)snprintf(all + n, sizeof all - n, "%s%s", i ? ", " : "", e->names[i]);
            return bad(why, len, "'%s' is not one of %s", s, all);
        }
    case T_STRING:
        if (strlen(s) < e->min)
            return bad(why, len, "must not be empty");
        if (strlen(s) >= e->width)
            return bad(why, len, "value is too long (at most %zu bytes)", e->width - 1);
        strcpy(field(cfg, e), s);
        return 0;
    case T_LIST:
        return list_append(cfg, s, why, len);
    }
    return bad(why, len, "internal: unknown type");
}

void pt_config_init(struct pt_config *cfg)
{
    char why[256];

    memset(cfg, 0, sizeof *cfg);
    pt_flow_config_default(&cfg->live.flow); /* fields the table does not name */
    for (size_t i = 0; i < PT_ARRAY_LEN(table); i++)
        if (table[i].def)
            (void)set_scalar(cfg, &table[i], table[i].def, why, sizeof why); /* tested */
}

/* ---- YAML ---- */

static const char *type_name(const struct centry *e)
{
    switch (e->type) {
    case T_BOOL:
        return "true or false";
    case T_UINT:
        return "a number";
    case T_PERCENT:
        return "a percentage";
    case T_SIZE:
        return "a size";
    case T_DURATION:
        return "a duration";
    case T_ENUM:
        return "a name";
    case T_STRING:
        return "a string";
    case T_LIST:
        return "a list of interface names";
    }
    return "a value";
}

static const char *node_kind(const yaml_node_t *n)
{
    return n->type == YAML_SEQUENCE_NODE  ? "a list"
           : n->type == YAML_MAPPING_NODE ? "a mapping"
                                          : "a scalar";
}

/* Apply one `key: value` pair of the top-level mapping. */
static int apply_pair(struct pt_config *cfg, yaml_document_t *doc, yaml_node_pair_t *pair,
                      uint64_t *seen, const char *path, char *msg, size_t len)
{
    yaml_node_t *k = yaml_document_get_node(doc, pair->key);
    yaml_node_t *v = yaml_document_get_node(doc, pair->value);
    const struct centry *e;
    const char *key;
    char why[512];
    size_t idx, line;
    int rc;

    if (!k || !v)
        return bad(msg, len, "%s: malformed document", path);
    line = k->start_mark.line + 1;
    if (k->type != YAML_SCALAR_NODE)
        return bad(msg, len, "%s:%zu: a key must be a name, not %s", path, line, node_kind(k));
    key = (const char *)k->data.scalar.value;
    if (!(e = find_key(key)))
        return bad(msg, len, "%s:%zu: unknown key '%.64s'", path, line, key);
    idx = (size_t)(e - table);
    if (*seen & (1ull << idx))
        return bad(msg, len, "%s:%zu: key '%s' given twice (first on line %u)", path, line, key,
                   cfg->line[idx]);
    *seen |= 1ull << idx;
    line = v->start_mark.line + 1;

    if (e->type == T_LIST && v->type == YAML_SEQUENCE_NODE) {
        cfg->live.n_ifaces = 0;
        for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
             it++) {
            yaml_node_t *item = yaml_document_get_node(doc, *it);
            size_t iline = item ? item->start_mark.line + 1 : line;
            if (!item || item->type != YAML_SCALAR_NODE)
                return bad(msg, len, "%s:%zu: key '%s': expected an interface name, got %s", path,
                           iline, key, item ? node_kind(item) : "nothing");
            if ((rc = list_append(cfg, (const char *)item->data.scalar.value, why, sizeof why)) < 0)
                return bad(msg, len, "%s:%zu: key '%s': %s", path, iline, key, why);
        }
    } else if (v->type != YAML_SCALAR_NODE) {
        return bad(msg, len, "%s:%zu: key '%s': expected %s, got %s", path, line, key, type_name(e),
                   node_kind(v));
    } else {
        if (e->type == T_LIST)
            cfg->live.n_ifaces = 0;
        if (set_scalar(cfg, e, (const char *)v->data.scalar.value, why, sizeof why) < 0)
            return bad(msg, len, "%s:%zu: key '%s': %s", path, line, key, why);
    }
    cfg->src[idx] = PT_CONFIG_SRC_FILE;
    cfg->line[idx] = (unsigned)(k->start_mark.line + 1);
    return 0;
}

static int syntax_error(const yaml_parser_t *p, const char *path, char *msg, size_t len)
{
    if (p->error == YAML_MEMORY_ERROR) {
        snprintf(msg, len, "%s: out of memory", path);
        return -ENOMEM;
    }
    if (p->error == YAML_READER_ERROR)
        return bad(msg, len, "%s: byte %zu: %s", path, p->problem_offset,
                   p->problem ? p->problem : "unreadable");
    return bad(msg, len, "%s:%zu:%zu: YAML syntax error: %s%s%s", path, p->problem_mark.line + 1,
               p->problem_mark.column + 1, p->problem ? p->problem : "invalid",
               p->context ? " " : "", p->context ? p->context : "");
}

int pt_config_load(const char *path, struct pt_config *cfg, char *msg, size_t len)
{
    yaml_parser_t parser;
    yaml_document_t doc;
    yaml_node_t *root;
    uint64_t seen = 0;
    FILE *f;
    int rc = 0;

    if (!(f = fopen(path, "rb"))) {
        rc = -errno;
        snprintf(msg, len, "%s: %s", path, strerror(-rc));
        return rc;
    }
    if (!yaml_parser_initialize(&parser)) {
        snprintf(msg, len, "%s: out of memory", path);
        rc = -ENOMEM;
        goto err_close;
    }
    yaml_parser_set_input_file(&parser, f);
    if (!yaml_parser_load(&parser, &doc)) {
        rc = syntax_error(&parser, path, msg, len);
        goto err_parser;
    }
    snprintf(cfg->file, sizeof cfg->file, "%s", path);
    root = yaml_document_get_root_node(&doc);
    if (root && root->type == YAML_MAPPING_NODE) {
        for (yaml_node_pair_t *pr = root->data.mapping.pairs.start;
             pr < root->data.mapping.pairs.top && rc == 0; pr++)
            rc = apply_pair(cfg, &doc, pr, &seen, path, msg, len);
    } else if (root && !(root->type == YAML_SCALAR_NODE && !root->data.scalar.length)) {
        rc = bad(msg, len, "%s:%zu: expected a mapping of key: value, got %s", path,
                 root->start_mark.line + 1, node_kind(root));
    }
    if (rc == 0 && ferror(f)) {
        snprintf(msg, len, "%s: read error", path);
        rc = -EIO;
    }
    yaml_document_delete(&doc);
err_parser:
    yaml_parser_delete(&parser);
err_close:
    fclose(f);
    return rc;
}

int pt_config_set(struct pt_config *cfg, const char *key, const char *value, char *msg, size_t len)
{
    const struct centry *e = find_key(key);
    char why[512];
    size_t idx;

    if (!e)
        return bad(msg, len, "unknown key '%s'", key);
    idx = (size_t)(e - table);
    if (e->type == T_LIST && cfg->src[idx] != PT_CONFIG_SRC_CLI)
        cfg->live.n_ifaces = 0; /* the command line replaces the file's list */
    if (set_scalar(cfg, e, value, why, sizeof why) < 0)
        return bad(msg, len, "%s: %s", e->opt ? e->opt : e->name, why);
    cfg->src[idx] = PT_CONFIG_SRC_CLI;
    cfg->line[idx] = 0;
    return 0;
}

int pt_config_finish(struct pt_config *cfg, char *msg, size_t len)
{
    if (cfg->live.n_ifaces == 0)
        return bad(msg, len, "no interface given (-i IF, or interfaces: in the config file)");
    if (cfg->ring && cfg->ring_size && cfg->ring_size < 2 * cfg->segment_size)
        return bad(msg, len, "ring_size must hold at least two segments of segment_size");
    for (unsigned i = 0; i < cfg->live.n_ifaces; i++)
        cfg->ifname_ptrs[i] = cfg->ifname[i];
    cfg->live.ifaces = cfg->ifname_ptrs;
    cfg->live.filter = cfg->filter[0] ? cfg->filter : NULL;
    return 0;
}

int pt_config_source(const struct pt_config *cfg, const char *key)
{
    const struct centry *e = find_key(key);

    return e ? cfg->src[e - table] : -1;
}

static void fmt_value(const struct pt_config *cfg, const struct centry *e, char *buf, size_t len)
{
    const char *p = (const char *)cfg + e->off;
    uint64_t v;
    bool b;

    switch (e->type) {
    case T_BOOL:
        memcpy(&b, p, sizeof b);
        snprintf(buf, len, "%s", b ? "true" : "false");
        return;
    case T_UINT:
        snprintf(buf, len, "%llu", (unsigned long long)load_uint(cfg, e));
        return;
    case T_PERCENT:
        if (!(v = load_uint(cfg, e)) && e->zero)
            snprintf(buf, len, "%s", e->zero);
        else
            snprintf(buf, len, "%llu%%", (unsigned long long)v);
        return;
    case T_SIZE:
        if (!(v = load_uint(cfg, e)) && e->zero)
            snprintf(buf, len, "%s", e->zero);
        else
            fmt_size(buf, len, v);
        return;
    case T_DURATION:
        if (!(v = load_uint(cfg, e)) && e->zero)
            snprintf(buf, len, "%s", e->zero);
        else
            fmt_secs(buf, len, v / SECONDS_1E9);
        return;
    case T_ENUM:
        snprintf(buf, len, "%s", e->names[load_uint(cfg, e)]);
        return;
    case T_STRING:
        if (!*p && e->zero)
            snprintf(buf, len, "%s", e->zero);
        else
            snprintf(buf, len, "\"%s\"", p);
        return;
    case T_LIST: {
        size_t n = 0;
        snprintf(buf, len, "%s", cfg->live.n_ifaces ? "" : e->zero);
        for (unsigned i = 0; i < cfg->live.n_ifaces && n < len; i++)
            n += (size_t)snprintf(buf + n, len - n, "%s%s", i ? ", " : "", cfg->ifname[i]);
        return;
    }
    }
}

void pt_config_log(const struct pt_config *cfg)
{
    char val[512], src[4200];

    if (cfg->file[0])
        pt_log(PT_LOG_INFO, "config: file %s", cfg->file);
    else
        pt_log(PT_LOG_INFO, "config: no file (%s absent), defaults and command line",
               PT_CONFIG_DEFAULT_PATH);
    for (size_t i = 0; i < PT_ARRAY_LEN(table); i++) {
        fmt_value(cfg, &table[i], val, sizeof val);
        if (cfg->src[i] == PT_CONFIG_SRC_FILE)
            snprintf(src, sizeof src, "file %s line %u", cfg->file, cfg->line[i]);
        else
            snprintf(src, sizeof src, "%s",
                     cfg->src[i] == PT_CONFIG_SRC_CLI ? "command line" : "default");
        pt_log(PT_LOG_INFO, "config: %s = %s (%s)", table[i].name, val, src);
    }
}
