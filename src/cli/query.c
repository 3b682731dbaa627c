/* query.c - what the query commands share: --format, opening the store
 * read-only with a message that says what is wrong, the default time range,
 * and checking that the output was written.
 *
 * DESIGN: each command (series.c, flows_cmd.c, top.c) parses its own options
 * and calls these; they print their own message and return an exit status,
 * so a command's main path stays a straight line. */
#include <errno.h>
#include <stdio.h>
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

struct pt_store *pt_cli_store_open(const char *cmd, const char *dir)
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

int pt_cli_range_resolve(const char *cmd, struct pt_store *s, bool from_set, uint64_t from_ns,
                         bool to_set, uint64_t to_ns, uint64_t *from, uint64_t *to)
{
    uint64_t first, last;
    int rc;

    if (to_set) {
        *to = to_ns / PT_CLI_NS + (to_ns % PT_CLI_NS != 0);
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
    *from = from_set ? from_ns / PT_CLI_NS : (*to > 3600 ? *to - 3600 : 0);
    if (*from >= *to && !to_set) {
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

int pt_cli_output_done(const char *cmd)
{
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "packettracer %s: writing the output: %s\n", cmd, strerror(errno));
        return 1;
    }
    return 0;
}
