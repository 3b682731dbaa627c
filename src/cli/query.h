/* query.h - shared parts of the query subcommands (`series`, `flows`, `top`),
 * internal to src/cli: time arguments, human units, sparklines, aligned
 * tables, JSON/CSV string output (`ifaces` uses it too), the common options,
 * and opening the store read-only.
 *
 * Everything here is pure (no store, no clock) except pt_cli_now_ns(),
 * pt_cli_query_begin() and pt_cli_range_resolve(), so
 * tests/cli/test_query_units.c checks it directly with exact strings.
 * Thread: any (no shared state), except pt_cli_query_begin(): main (it
 * runs getopt_long()). Nothing here exits. */
#ifndef PT_CLI_QUERY_H
#define PT_CLI_QUERY_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "pt/store.h"

#define PT_CLI_DATADIR_DEFAULT "/var/lib/packettracer"
#define PT_CLI_NS              1000000000ull

/* ---- times ---- */

/* Parse a time argument into epoch nanoseconds:
 *   RFC 3339: "2026-11-23T08:02:00Z", "2026-11-23T09:02:00.25+01:00" ('t',
 *     ' ' and 'z' accepted too; a time needs "Z" or an offset), or a date
 *     alone, "2026-11-23" (midnight UTC);
 *   epoch seconds: "1700000000", "1700000000.5" (up to 9 decimals);
 *   relative to @now_ns: "now", "-30s", "-5m", "-2h", "-1d", "-1w", "-90"
 *     (seconds), also "now-5m".
 * Returns 0, or PT_E_BADARG when @s is none of these, names an impossible
 * date (2026-02-30), or a time before 1970 or past 2554 (u64 ns). */
int pt_cli_time_parse(const char *s, uint64_t now_ns, uint64_t *ns);

/* pt_cli_time_parse() for option @opt: false with a message on stderr naming
 * @opt and @s when it is not a time. */
bool pt_cli_parse_time(const char *opt, const char *s, uint64_t now_ns, uint64_t *ns);

/* Wall clock (CLOCK_REALTIME) in epoch nanoseconds. */
uint64_t pt_cli_now_ns(void);

/* Epoch second @sec as RFC 3339 UTC, "2026-11-23T08:02:00Z", into @buf
 * (>= 32 bytes). Returns @buf. */
char *pt_cli_time_rfc3339(char *buf, size_t len, uint64_t sec);

/* Epoch nanoseconds @ns for tables, UTC: "2026-11-23 08:02:00", or with
 * @millis "2026-11-23 08:02:00.123" (truncated). @buf >= 32 bytes. */
char *pt_cli_time_text(char *buf, size_t len, uint64_t ns, bool millis);

/* Duration @ns for tables: "0.250s", "59.999s" (below a minute, truncated to
 * milliseconds), "5m03s", "2h07m", "3d04h". @buf >= 24 bytes. */
char *pt_cli_duration_text(char *buf, size_t len, uint64_t ns);

/* A step as shown in headers: "1s", "1m", "1h", else "<n>s". */
char *pt_cli_step_text(char *buf, size_t len, uint64_t step_s);

/* ---- numbers and units ---- */

/* Units for pt_cli_fmt_unit(). */
enum pt_cli_unit {
    PT_CLI_UNIT_NONE = 0, /* "3.4k" */
    PT_CLI_UNIT_BYTES,    /* "1.2 MB", "512 B" */
    PT_CLI_UNIT_BITRATE,  /* "1.2 Mb/s", "500 b/s" */
    PT_CLI_UNIT_RATE,     /* "3.4k/s" (packets per second) */
};

/* @v (>= 0) with an SI prefix (k M G T P E, powers of 1000), about three
 * significant digits: "0", "999", "0.5", "12.3", "1.0k", "3.4k", "99.9k",
 * "100k", "999k", "1.0M". Integers below 1000 print exactly. Returns @buf. */
char *pt_cli_fmt_si(char *buf, size_t len, double v);

/* pt_cli_fmt_si() followed by the unit of @u (see enum pt_cli_unit). */
char *pt_cli_fmt_unit(char *buf, size_t len, double v, enum pt_cli_unit u);

/* @v for JSON and CSV: an integer when it is one (below 2^53), else with up
 * to 3 decimals, trailing zeros dropped: "12", "0.5", "164608.933". */
char *pt_cli_fmt_num(char *buf, size_t len, double v);

/* Nearest-rank 95th percentile of @n values sorted ascending (@n >= 1):
 * v[ceil(0.95 n) - 1]. */
double pt_cli_p95_sorted(const double *v, size_t n);

/* ---- sparkline ---- */

/* Draw @n values as at most @width characters of ▁▂▃▄▅▆▇█ (UTF-8, 3 bytes
 * each) into @out. When @n > @width the values are split into @width
 * consecutive groups (group i holds values [i*n/width, (i+1)*n/width)) and
 * each group shows the average of its values. NaN means "no data": it is
 * left out of the average, and a group without data is a space. Heights are
 * relative to 0..max: 0 is ▁, the maximum █, level = floor(8 v / max)
 * capped at 7. @out needs 3 * min(n, width) + 1 bytes; it is truncated to
 * whole characters when @len is smaller. Returns @out. */
char *pt_cli_sparkline(char *out, size_t len, const double *v, size_t n, size_t width);

/* ---- tables ---- */

struct pt_cli_table;

/* A table of @ncols columns with @headers (copied) and @align, one char per
 * column: 'l' left, 'r' right. Columns are separated by two spaces, widths
 * count UTF-8 characters, and the last column has no trailing padding.
 * Returns NULL on allocation failure. */
struct pt_cli_table *pt_cli_table_create(unsigned ncols, const char *const *headers,
                                         const char *align);

/* Add a row of ncols cells (copied; NULL prints as ""). 0 or -ENOMEM. */
int pt_cli_table_add(struct pt_cli_table *t, const char *const *cells);

/* Print the header (the first time) and the rows added since the last
 * flush, then forget those rows. Column widths only grow, so a long table
 * can be flushed every few thousand rows and stay (mostly) aligned.
 * Returns 0 or -EIO. */
int pt_cli_table_flush(struct pt_cli_table *t, FILE *out);

void pt_cli_table_destroy(struct pt_cli_table *t);

/* Number of UTF-8 characters in @s. */
size_t pt_cli_utf8_width(const char *s);

/* ---- JSON / CSV strings ---- */

/* @s as a JSON string, quotes included (", \ and control characters
 * escaped). */
void pt_cli_json_str(FILE *out, const char *s);

/* @s as a CSV field: quoted (RFC 4180) only when it holds a comma, a quote,
 * CR or LF. */
void pt_cli_csv_str(FILE *out, const char *s);

/* ---- common options and the store ---- */

enum pt_cli_qformat {
    PT_CLI_QFMT_TABLE = 0,
    PT_CLI_QFMT_JSON,
    PT_CLI_QFMT_CSV,
};

/* Parse --format's value (table, json, csv); false with a message. */
bool pt_cli_parse_qformat(const char *s, enum pt_cli_qformat *f);

/* Text form of a 16-byte address (IPv4 as ::ffff:a.b.c.d prints dotted).
 * @buf >= 48 bytes. Returns @buf. */
char *pt_cli_addr_text(char *buf, size_t len, const uint8_t addr[16]);

/* Parse an IPv4 or IPv6 address into 16 bytes (IPv4 as ::ffff:a.b.c.d). */
bool pt_cli_addr_parse(const char *s, uint8_t addr[16]);

/* The value of option @opt (e.g. "--host") as an address; false with a
 * message naming @opt when it is not one. */
bool pt_cli_parse_host(const char *opt, const char *s, uint8_t addr[16]);

/* Check that @s can be a flow uid (not empty, fits the record's field);
 * false with a message naming @opt when not. */
bool pt_cli_parse_uid(const char *opt, const char *s);

/* The options every query command takes, and their getopt_long() codes:
 *   -d, --datadir DIR   'd'
 *       --from T        PT_CLI_OPT_FROM
 *       --to T          PT_CLI_OPT_TO
 *   -F, --format F      'F'
 *   -h, --help          'h'
 * A command's own long-only options take codes from PT_CLI_OPT_OWN on. */
#define PT_CLI_OPT_FROM     1000
#define PT_CLI_OPT_TO       1001
#define PT_CLI_OPT_OWN      1002
#define PT_CLI_QOPTS_MAXOWN 16 /* options of a command's own, at most */

/* The lines of a query command's usage from -h to the end of the syntax of
 * times, to @out. */
void pt_cli_usage_help_times(FILE *out);

/* What the common options hold after pt_cli_query_begin(). */
struct pt_cli_qopts {
    const char *dir; /* borrowed from argv; default PT_CLI_DATADIR_DEFAULT */
    bool from_set, to_set;
    uint64_t from_ns, to_ns; /* epoch ns, when set */
    enum pt_cli_qformat fmt;
};

/* A query command, as pt_cli_query_begin() parses its options. */
struct pt_cli_qcmd {
    const char *name; /* "series": messages say "packettracer series: ..." */
    /* The command's own options for getopt_long(), at most
     * PT_CLI_QOPTS_MAXOWN, ending with a NULL name. One whose code is a
     * character is also that short option. The common ones follow them, so
     * an ambiguous abbreviation lists the command's own first. */
    const struct option *longopts;
    void (*usage)(FILE *out);
    /* The command's own option @c with argument @arg (NULL when it takes
     * none): 0, 2 after a message, or -1 when @c is not one of its options
     * (the usage goes to stderr, exit status 2). */
    int (*opt)(void *ctx, int c, const char *arg);
    /* Optional: checks once all options are in; 0, or 2 after a message. */
    int (*check)(void *ctx);
};

/* Start query command @cmd: parse @argv with getopt_long() (from optind 1;
 * times relative to one reading of the clock) into @o and, through
 * @cmd->opt, @ctx; refuse operands; run @cmd->check; then open the store in
 * @o->dir read-only. Returns -1 with *@st open (the caller closes it with
 * pt_store_close()), or else the exit status to return with *@st NULL: 0
 * after --help (usage on stdout); 2 after a message for a bad option, an
 * operand or a failed check; 1 after a message naming the directory and
 * what is wrong when the store cannot be opened (none there, not a store, a
 * schema to upgrade). */
int pt_cli_query_begin(const struct pt_cli_qcmd *cmd, int argc, char **argv, void *ctx,
                       struct pt_cli_qopts *o, struct pt_store **st);

/* The time range of a series/top query, in epoch seconds [from, to).
 * Defaults: to = the store's newest second + 1, from = to - 1 h. A given
 * time (@o->from_ns, @o->to_ns) rounds outward to whole seconds. Returns 0;
 * 1 after a message when --to was not given and the store has no points,
 * or none at or after --from (or reading the span failed); 2 after a
 * message when from >= to. */
int pt_cli_range_resolve(const char *cmd, struct pt_store *s, const struct pt_cli_qopts *o,
                         uint64_t *from, uint64_t *to);

/* Room for one more element in the array @v of @n used and *@cap allocated
 * elements of @size bytes: @v itself when it has room, else @v reallocated
 * to twice *@cap elements (@first when *@cap is 0), *@cap updated. NULL on
 * allocation failure, with @v still valid and *@cap unchanged. */
void *pt_cli_reserve(void *v, size_t n, size_t *cap, size_t size, size_t first);

/* Flush stdout; 0, or 1 after a message when writing failed. */
int pt_cli_output_done(const char *cmd);

#endif
