/* test_query_units.c - the pure parts of the query commands (src/cli/query.h):
 * time arguments, times and durations as printed, human units, numbers for
 * JSON/CSV, p95, sparklines, aligned tables, JSON/CSV strings, addresses.
 *
 * DESIGN: every check compares an exact string or number, so a change in a
 * format shows up here before it shows up in a command's output. */
#include <criterion/criterion.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/cli/query.h"

#define NS 1000000000ull

/* 2026-11-23T08:02:00Z */
#define T0 1795420920ull

static uint64_t parse_ok(const char *s, uint64_t now)
{
    uint64_t ns = 0;
    int rc = pt_cli_time_parse(s, now, &ns);
    cr_assert_eq(rc, 0, "'%s' should parse (rc %d)", s, rc);
    return ns;
}

static void parse_bad(const char *s)
{
    uint64_t ns = 12345;
    cr_assert_eq(pt_cli_time_parse(s, 2000000000ull * NS, &ns), PT_E_BADARG, "'%s' parsed", s);
    cr_assert_eq(ns, 12345, "'%s' wrote a result", s);
}

Test(query_time, rfc3339)
{
    cr_assert_eq(parse_ok("2026-11-23T08:02:00Z", 0), T0 * NS);
    cr_assert_eq(parse_ok("2026-11-23t08:02:00z", 0), T0 * NS);
    cr_assert_eq(parse_ok("2026-11-23 08:02:00Z", 0), T0 * NS);
    cr_assert_eq(parse_ok("2026-11-23T09:02:00+01:00", 0), T0 * NS);
    cr_assert_eq(parse_ok("2026-11-23T02:32:00-05:30", 0), T0 * NS);
    cr_assert_eq(parse_ok("2026-11-23T08:02:00.25Z", 0), T0 * NS + 250000000);
    cr_assert_eq(parse_ok("2026-11-23T08:02:00.123456789123Z", 0), T0 * NS + 123456789);
    cr_assert_eq(parse_ok("2026-11-23", 0), (T0 - 8 * 3600 - 120) * NS);
    cr_assert_eq(parse_ok("1970-01-01T00:00:00Z", 0), 0);
    cr_assert_eq(parse_ok("2024-02-29T00:00:00Z", 0), 1709164800ull * NS);
    cr_assert_eq(parse_ok("2000-03-01T00:00:00Z", 0), 951868800ull * NS);
}

Test(query_time, rfc3339_bad)
{
    parse_bad("2026-11-23T08:02:00");  /* no zone */
    parse_bad("2026-02-29T00:00:00Z"); /* not a leap year */
    parse_bad("2026-13-01T00:00:00Z");
    parse_bad("2026-11-31");
    parse_bad("2026-11-23T24:00:00Z");
    parse_bad("2026-11-23T08:60:00Z");
    parse_bad("2026-11-23T08:02Z");
    parse_bad("2026-11-23T08:02:00.Z");
    parse_bad("2026-11-23T08:02:00Z junk");
    parse_bad("2026-11-23T08:02:00+0100");
    parse_bad("1969-12-31T23:59:59Z");
    parse_bad("1970-01-01T00:30:00+01:00"); /* before the epoch */
    parse_bad("2026/11/23");
}

Test(query_time, epoch_and_relative)
{
    uint64_t now = 2000000000ull * NS + 5;

    cr_assert_eq(parse_ok("1700000000", now), 1700000000ull * NS);
    cr_assert_eq(parse_ok("1700000000.5", now), 1700000000ull * NS + 500000000);
    cr_assert_eq(parse_ok("0", now), 0);
    cr_assert_eq(parse_ok("now", now), now);
    cr_assert_eq(parse_ok("-30s", now), now - 30 * NS);
    cr_assert_eq(parse_ok("-5m", now), now - 300 * NS);
    cr_assert_eq(parse_ok("-2h", now), now - 7200 * NS);
    cr_assert_eq(parse_ok("-1d", now), now - 86400 * NS);
    cr_assert_eq(parse_ok("-1w", now), now - 604800 * NS);
    cr_assert_eq(parse_ok("-90", now), now - 90 * NS);
    cr_assert_eq(parse_ok("now-5m", now), now - 300 * NS);
}

Test(query_time, epoch_and_relative_bad)
{
    parse_bad("");
    parse_bad("-");
    parse_bad("-5x");
    parse_bad("-5mm");
    parse_bad("5m");
    parse_bad("+5m");
    parse_bad("-m");
    parse_bad("nowish");
    parse_bad("now+5m");
    parse_bad("1700000000.");
    parse_bad("1700000000x");
    parse_bad("99999999999999999999");
    parse_bad("-100000d"); /* before 1970 */
    parse_bad("yesterday");
}

Test(query_time, formatting)
{
    char b[64];

    cr_assert_str_eq(pt_cli_time_rfc3339(b, sizeof b, T0), "2026-11-23T08:02:00Z");
    cr_assert_str_eq(pt_cli_time_rfc3339(b, sizeof b, 0), "1970-01-01T00:00:00Z");
    cr_assert_str_eq(pt_cli_time_text(b, sizeof b, T0 * NS + 999999999, false),
                     "2026-11-23 08:02:00");
    cr_assert_str_eq(pt_cli_time_text(b, sizeof b, T0 * NS + 123999999, true),
                     "2026-11-23 08:02:00.123");
    cr_assert_str_eq(pt_cli_duration_text(b, sizeof b, 0), "0.000s");
    cr_assert_str_eq(pt_cli_duration_text(b, sizeof b, 250000000), "0.250s");
    cr_assert_str_eq(pt_cli_duration_text(b, sizeof b, 59999999999ull), "59.999s");
    cr_assert_str_eq(pt_cli_duration_text(b, sizeof b, 303 * NS), "5m03s");
    cr_assert_str_eq(pt_cli_duration_text(b, sizeof b, (2 * 3600 + 7 * 60 + 59) * NS), "2h07m");
    cr_assert_str_eq(pt_cli_duration_text(b, sizeof b, (3 * 86400 + 4 * 3600) * NS), "3d04h");
    cr_assert_str_eq(pt_cli_step_text(b, sizeof b, 1), "1s");
    cr_assert_str_eq(pt_cli_step_text(b, sizeof b, 60), "1m");
    cr_assert_str_eq(pt_cli_step_text(b, sizeof b, 3600), "1h");
}

static const char *si(double v)
{
    static char b[32];
    return pt_cli_fmt_si(b, sizeof b, v);
}

Test(query_units, si)
{
    cr_assert_str_eq(si(0), "0");
    cr_assert_str_eq(si(7), "7");
    cr_assert_str_eq(si(999), "999");
    cr_assert_str_eq(si(0.5), "0.5");
    cr_assert_str_eq(si(12.34), "12.3");
    cr_assert_str_eq(si(123.4), "123");
    cr_assert_str_eq(si(999.7), "1.0k");
    cr_assert_str_eq(si(1000), "1.0k");
    cr_assert_str_eq(si(1234), "1.2k");
    cr_assert_str_eq(si(3400), "3.4k");
    cr_assert_str_eq(si(99940), "99.9k");
    cr_assert_str_eq(si(99960), "100k");
    cr_assert_str_eq(si(999400), "999k");
    cr_assert_str_eq(si(999600), "1.0M");
    cr_assert_str_eq(si(1.2e6), "1.2M");
    cr_assert_str_eq(si(45.6e9), "45.6G");
    cr_assert_str_eq(si(7e12), "7.0T");
    cr_assert_str_eq(si(2e18), "2.0E");
    cr_assert_str_eq(si(5e21), "5000E");
}

Test(query_units, units)
{
    char b[32];

    cr_assert_str_eq(pt_cli_fmt_unit(b, sizeof b, 1.2e6, PT_CLI_UNIT_BITRATE), "1.2 Mb/s");
    cr_assert_str_eq(pt_cli_fmt_unit(b, sizeof b, 500, PT_CLI_UNIT_BITRATE), "500 b/s");
    cr_assert_str_eq(pt_cli_fmt_unit(b, sizeof b, 3400, PT_CLI_UNIT_RATE), "3.4k/s");
    cr_assert_str_eq(pt_cli_fmt_unit(b, sizeof b, 12.5, PT_CLI_UNIT_RATE), "12.5/s");
    cr_assert_str_eq(pt_cli_fmt_unit(b, sizeof b, 1536, PT_CLI_UNIT_BYTES), "1.5 kB");
    cr_assert_str_eq(pt_cli_fmt_unit(b, sizeof b, 512, PT_CLI_UNIT_BYTES), "512 B");
    cr_assert_str_eq(pt_cli_fmt_unit(b, sizeof b, 3400, PT_CLI_UNIT_NONE), "3.4k");
}

Test(query_units, num_and_p95)
{
    char b[40];
    double v100[100], one = 42;

    cr_assert_str_eq(pt_cli_fmt_num(b, sizeof b, 12), "12");
    cr_assert_str_eq(pt_cli_fmt_num(b, sizeof b, 0), "0");
    cr_assert_str_eq(pt_cli_fmt_num(b, sizeof b, 0.5), "0.5");
    cr_assert_str_eq(pt_cli_fmt_num(b, sizeof b, 1234567.0 * 8 / 60), "164608.933");
    cr_assert_str_eq(pt_cli_fmt_num(b, sizeof b, 1.0 / 3), "0.333");
    cr_assert_str_eq(pt_cli_fmt_num(b, sizeof b, 2.0004), "2");
    cr_assert_str_eq(pt_cli_fmt_num(b, sizeof b, 18446744073709551615.0), "18446744073709551616");
    for (int i = 0; i < 100; i++)
        v100[i] = i + 1;
    cr_assert_eq(pt_cli_p95_sorted(v100, 100), 95); /* rank ceil(95) */
    cr_assert_eq(pt_cli_p95_sorted(v100, 20), 19);  /* rank ceil(19) */
    cr_assert_eq(pt_cli_p95_sorted(v100, 10), 10);  /* rank ceil(9.5) */
    cr_assert_eq(pt_cli_p95_sorted(v100, 2), 2);    /* rank ceil(1.9) */
    cr_assert_eq(pt_cli_p95_sorted(&one, 1), 42);
}

Test(query_spark, levels)
{
    double v[9] = {0, 1, 2, 3, 4, 5, 6, 7, 8};
    char out[200];

    cr_assert_str_eq(pt_cli_sparkline(out, sizeof out, v, 9, 60), "▁▂▃▄▅▆▇██");
    cr_assert_str_eq(pt_cli_sparkline(out, sizeof out, v, 0, 60), "");
    double z[3] = {0, 0, 0};
    cr_assert_str_eq(pt_cli_sparkline(out, sizeof out, z, 3, 60), "▁▁▁");
    double g[4] = {10, NAN, 5, 0};
    cr_assert_str_eq(pt_cli_sparkline(out, sizeof out, g, 4, 60), "█ ▅▁");
}

Test(query_spark, buckets_averaged)
{
    double v[120];
    char out[400];

    /* 120 values into 60 groups of two: (16, 0) averages to 8 = max / 2 -> level 4 */
    for (int i = 0; i < 120; i++)
        v[i] = i < 60 ? 0 : 16;
    v[0] = 16;
    pt_cli_sparkline(out, sizeof out, v, 120, 60);
    cr_assert_eq(pt_cli_utf8_width(out), 60);
    cr_assert_eq(strncmp(out, "▅▁▁", strlen("▅▁▁")), 0, "%s", out);
    cr_assert_eq(strcmp(out + strlen(out) - strlen("██"), "██"), 0, "%s", out);
    /* 7 values into 3 groups: [0,2) [2,4) [4,7) */
    double w[7] = {8, 8, 4, 4, NAN, NAN, 0};
    cr_assert_str_eq(pt_cli_sparkline(out, sizeof out, w, 7, 3), "█▅▁");
    /* truncated to whole characters */
    cr_assert_str_eq(pt_cli_sparkline(out, 8, w, 7, 3), "█▅");
}

static char *table_text(struct pt_cli_table *t)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    cr_assert_not_null(f);
    cr_assert_eq(pt_cli_table_flush(t, f), 0);
    fclose(f);
    return buf;
}

Test(query_table, aligned)
{
    static const char *const hdr[] = {"NAME", "N", "TREND"};
    struct pt_cli_table *t = pt_cli_table_create(3, hdr, "lrl");
    const char *r1[] = {"bps{vlan=100}", "3", "▁█"};
    const char *r2[] = {"bps", "1234", NULL};
    char *s;

    cr_assert_not_null(t);
    cr_assert_eq(pt_cli_table_add(t, r1), 0);
    cr_assert_eq(pt_cli_table_add(t, r2), 0);
    s = table_text(t);
    cr_assert_str_eq(s, "NAME              N  TREND\n"
                        "bps{vlan=100}     3  ▁█\n"
                        "bps            1234  \n");
    free(s);
    /* a later flush keeps the widths and prints no second header */
    const char *r3[] = {"x", "12345", "▁"};
    cr_assert_eq(pt_cli_table_add(t, r3), 0);
    s = table_text(t);
    cr_assert_str_eq(s, "x              12345  ▁\n");
    free(s);
    pt_cli_table_destroy(t);
    pt_cli_table_destroy(NULL);
}

Test(query_table, header_only)
{
    static const char *const hdr[] = {"A", "→"};
    struct pt_cli_table *t = pt_cli_table_create(2, hdr, "ll");
    char *s = table_text(t);

    cr_assert_str_eq(s, "A  →\n");
    free(s);
    pt_cli_table_destroy(t);
}

Test(query_table, strings_and_addresses)
{
    char *buf = NULL, a[48];
    size_t len = 0;
    uint8_t addr[16];
    FILE *f = open_memstream(&buf, &len);

    pt_cli_json_str(f, "a\"b\\c\n");
    fputc('|', f);
    pt_cli_csv_str(f, "plain{x=1}");
    fputc('|', f);
    pt_cli_csv_str(f, "a,\"b\"");
    fclose(f);
    cr_assert_str_eq(buf, "\"a\\\"b\\\\c\\u000a\"|plain{x=1}|\"a,\"\"b\"\"\"");
    free(buf);

    cr_assert(pt_cli_addr_parse("10.0.0.1", addr));
    cr_assert_str_eq(pt_cli_addr_text(a, sizeof a, addr), "10.0.0.1");
    cr_assert_eq(addr[10], 0xff);
    cr_assert(pt_cli_addr_parse("2001:db8::1", addr));
    cr_assert_str_eq(pt_cli_addr_text(a, sizeof a, addr), "2001:db8::1");
    cr_assert_not(pt_cli_addr_parse("10.0.0", addr));
    cr_assert_not(pt_cli_addr_parse("example.com", addr));
}
