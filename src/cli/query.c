/* query.c - what the query commands share: the common options (-d, --from,
 * --to, --format, --help), opening the store read-only with a message that
 * says what is wrong, the default time range, growing arrays, and checking
 * that the output was written.
 *
 * DESIGN: each command (series.c, flows_cmd.c, top.c) describes its options
 * in a struct pt_cli_qcmd; pt_cli_query_begin() runs the getopt loop, hands
 * the command its own options and opens the store. These print their own
 * message and return an exit status, so a command's main path stays a
 * straight line. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "query.h"

bool pt_cli_parse_qformat(const char *s, enum pt_cli_qformat *f)
{
    if (strcmp(s, "table") == 0)
        *f = PT_CLI_QFMT_TABLE;
    else if (strcmp(s, "json") == 0)
        *f = PT_CLI_QFMT_JSON;
    else if (strcmp(s, "csv") == 0)
        *f = PT_CLI_QFMT_CSV;
    else {
        fprintf(stderr, "packettracer: --format: unknown format '%s' (table, json, csv)\n", s);
        return false;
    }
    return true;
}

/* Open the store in @dir read-only. NULL on failure, after a message on
 * stderr naming @dir and what is wrong. */
static struct pt_store *store_open(const char *cmd, const char *dir)
{
    char path[4200], msg[512] = "";
    struct pt_store *s;
    struct stat st;
    int err = 0;

    if (stat(dir, &st) != 0) {
        fprintf(stderr, "packettracer %s: data directory %s: %s\n", cmd, dir, strerror(errno));
        return NULL;
    }
    snprintf(path, sizeof path, "%s/store", dir);
    if (stat(path, &st) != 0) {
        fprintf(stderr,
                "packettracer %s: no store in %s (%s: %s; `packettracer run -d %s` or "
                "`packettracer read -d %s FILE` creates it)\n",
                cmd, dir, path, strerror(errno), dir, dir);
        return NULL;
    }
    if (!(s = pt_store_open(dir, NULL, true, &err, msg, sizeof msg))) {
        fprintf(stderr, "packettracer %s: cannot open the store in %s: %s\n", cmd, dir,
                msg[0] ? msg : pt_strerror(err));
        return NULL;
    }
    return s;
}

/* getopt_long()'s tables: the command's own options, then the common ones,
 * and the short options among them ("n:d:F:h"). */
static void opt_tables(const struct pt_cli_qcmd *cmd, struct option *lo, char *so)
{
    static const struct option common[] = {
        {"datadir", required_argument, NULL, 'd'},
        {"from", required_argument, NULL, PT_CLI_OPT_FROM},
        {"to", required_argument, NULL, PT_CLI_OPT_TO},
        {"format", required_argument, NULL, 'F'},
        {"help", no_argument, NULL, 'h'},
    };
    size_t n = 0;

    for (; cmd->longopts[n].name && n < PT_CLI_QOPTS_MAXOWN; n++)
        lo[n] = cmd->longopts[n];
    memcpy(lo + n, common, sizeof common);
    n += PT_ARRAY_LEN(common);
    lo[n] = (struct option){0};
    for (size_t i = 0; i < n; i++) {
        if (lo[i].val > 0 && lo[i].val < 128) {
            *so++ = (char)lo[i].val;
            if (lo[i].has_arg == required_argument)
                *so++ = ':';
        }
    }
    *so = '\0';
}

/* The options (DESIGN): -1 to go on, else the exit status. */
static int parse_opts(const struct pt_cli_qcmd *cmd, int argc, char **argv, void *ctx,
                      struct pt_cli_qopts *o)
{
    struct option lo[PT_CLI_QOPTS_MAXOWN + 6];
    char so[2 * (PT_CLI_QOPTS_MAXOWN + 6) + 1];
    uint64_t now = pt_cli_now_ns();
    int c, rc;

    opt_tables(cmd, lo, so);
    optind = 1;
    while ((c = getopt_long(argc, argv, so, lo, NULL)) != -1) {
        switch (c) {
        case 'd':
            o->dir = optarg;
            break;
        case PT_CLI_OPT_FROM:
            if (!pt_cli_parse_time("--from", optarg, now, &o->from_ns))
                return 2;
            o->from_set = true;
            break;
        case PT_CLI_OPT_TO:
            if (!pt_cli_parse_time("--to", optarg, now, &o->to_ns))
                return 2;
            o->to_set = true;
            break;
        case 'F':
            if (!pt_cli_parse_qformat(optarg, &o->fmt))
                return 2;
            break;
        case 'h':
            cmd->usage(stdout);
            return 0;
        default:
            rc = c == '?' ? -1 : cmd->opt(ctx, c, optarg);
            if (rc < 0) {
                cmd->usage(stderr);
                return 2;
            }
            if (rc)
                return rc;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "packettracer %s: unexpected argument '%s'\n", cmd->name, argv[optind]);
        return 2;
    }
    if (cmd->check && (rc = cmd->check(ctx)))
        return rc;
    return -1;
}

void pt_cli_usage_help_times(FILE *out)
{
    fputs("  -h, --help            this text\n"
          "\n"
          "Times: RFC 3339 (2026-11-23T08:02:00Z, offsets and fractions allowed), epoch\n"
          "seconds (1700000000), or relative to now (-30s, -5m, -2h, -1d, now).\n",
          out);
}

int pt_cli_query_begin(const struct pt_cli_qcmd *cmd, int argc, char **argv, void *ctx,
                       struct pt_cli_qopts *o, struct pt_store **st)
{
    int rc;

    *o = (struct pt_cli_qopts){.dir = PT_CLI_DATADIR_DEFAULT};
    *st = NULL;
    if ((rc = parse_opts(cmd, argc, argv, ctx, o)) >= 0)
        return rc;
    return (*st = store_open(cmd->name, o->dir)) ? -1 : 1;
}

int pt_cli_range_resolve(const char *cmd, struct pt_store *s, const struct pt_cli_qopts *o,
                         uint64_t *from, uint64_t *to)
{
    uint64_t first, last;
    int rc;

    if (o->to_set) {
        *to = o->to_ns / PT_CLI_NS + (o->to_ns % PT_CLI_NS != 0);
    } else {
        if ((rc = pt_store_span(s, &first, &last)) < 0) {
            if (rc == -ENOENT)
                fprintf(stderr, "packettracer %s: the store holds no data yet (give --to)\n", cmd);
            else
                fprintf(stderr, "packettracer %s: reading the store: %s\n", cmd, pt_strerror(rc));
            return 1;
        }
        *to = last + 1;
    }
    *from = o->from_set ? o->from_ns / PT_CLI_NS : (*to > 3600 ? *to - 3600 : 0);
    if (*from >= *to && !o->to_set) {
        char t[32];
        fprintf(stderr,
                "packettracer %s: nothing stored at or after --from: the newest second stored "
                "is %s UTC\n",
                cmd, pt_cli_time_text(t, sizeof t, (*to - 1) * PT_CLI_NS, false));
        return 1;
    }
    if (*from >= *to) {
        fprintf(stderr, "packettracer %s: --from must be before --to\n", cmd);
        return 2;
    }
    return 0;
}

void *pt_cli_reserve(void *v, size_t n, size_t *cap, size_t size, size_t first)
{
    size_t want = *cap ? *cap * 2 : first;

    if (n < *cap)
        return v;
    if (!(v = realloc(v, want * size)))
        return NULL;
    *cap = want;
    return v;
}

int pt_cli_output_done(const char *cmd)
{
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "packettracer %s: writing the output: %s\n", cmd, strerror(errno));
        return 1;
    }
    return 0;
}
