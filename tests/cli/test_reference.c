/* test_reference.c - `packettracer read` against reference answers from other tools.
 *
 * DESIGN: the reference answers are committed files under tests/expected/, written by
 * tests/tools/gen-expected.sh (tshark conversation tables, tcpdump packet counts, Zeek
 * conn.log baselines), so no peer tool runs here. Each check runs the product binary
 * (pt_test_bin()) on one shared capture and compares:
 *   1. reference_count/packets  the summary line `packets: N` (stderr) with tcpdump's count;
 *   2. reference_conv/packets   per unordered TCP/UDP 5-tuple, the sum of orig_pkts+resp_pkts
 *                               over all our records of that 5-tuple (every VLAN, tunnel-inner
 *                               flows included) with tshark's conversation frames;
 *   3. reference_zeek/conn      per Zeek conn.log row, our record with the same directed
 *                               5-tuple: conn_state, history, packets and IP bytes per side;
 *   4. reference_workers/same   `--workers 4` output byte-identical to `--workers 1`;
 *   5. reference_errors/...     missing, non-capture and truncated inputs.
 * Known, explained differences are listed in the exceptions table of docs/ACCURACY.md; a row
 * there excuses exactly one (check, file, 5-tuple, field, ours, reference) combination ('*'
 * in "ours" or "reference" matches any value). Everything else fails, naming the first
 * difference with both numbers and how many differences there were in that file.
 *
 * Our CSV is read by column NAME (RFC 4180 quoting), addresses are compared in binary form. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "support/support.h"

/* ---------------------------------------------------------------- small helpers */

/* Split @s in place on @sep; at most @max fields. Returns the number of fields. */
static size_t split(char *s, char sep, char **fields, size_t max)
{
    size_t n = 0;

    while (n < max) {
        char *e = strchr(s, sep);
        fields[n++] = s;
        if (!e)
            break;
        *e = '\0';
        s = e + 1;
    }
    return n;
}

static char *trim(char *s)
{
    char *e;

    while (*s == ' ' || *s == '\t' || *s == '`')
        s++;
    e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '`' || e[-1] == '\r'))
        *--e = '\0';
    return s;
}

/* Shell-quote @s into @buf with single quotes. */
static const char *shq(const char *s, char *buf, size_t cap)
{
    size_t n = 0;

    buf[n++] = '\'';
    for (; *s && n + 5 < cap; s++) {
        if (*s == '\'') {
            memcpy(buf + n, "'\\''", 4);
            n += 4;
        } else {
            buf[n++] = *s;
        }
    }
    buf[n++] = '\'';
    buf[n] = '\0';
    return buf;
}

/* ---------------------------------------------------------------- endpoints and 5-tuples */

struct ep {
    uint8_t fam; /* 4 or 6 */
    uint8_t addr[16];
    uint16_t port;
};

struct tuple {
    char proto[8]; /* "tcp", "udp" */
    struct ep a, b;
};

static bool ep_parse(const char *addr, const char *port, struct ep *e)
{
    char *end;
    unsigned long p;

    memset(e, 0, sizeof *e);
    if (inet_pton(AF_INET, addr, e->addr) == 1)
        e->fam = 4;
    else if (inet_pton(AF_INET6, addr, e->addr) == 1)
        e->fam = 6;
    else
        return false;
    errno = 0;
    p = strtoul(port, &end, 10);
    if (errno || end == port || *end || p > 65535)
        return false;
    e->port = (uint16_t)p;
    return true;
}

/* The ordering gen-expected.sh uses: IPv4 before IPv6, address bytes, then port. */
static int ep_cmp(const struct ep *x, const struct ep *y)
{
    int c;

    if (x->fam != y->fam)
        return x->fam < y->fam ? -1 : 1;
    c = memcmp(x->addr, y->addr, x->fam == 4 ? 4 : 16);
    if (c)
        return c;
    return x->port < y->port ? -1 : x->port > y->port;
}

static void tuple_order(struct tuple *t)
{
    if (ep_cmp(&t->b, &t->a) < 0) {
        struct ep tmp = t->a;
        t->a = t->b;
        t->b = tmp;
    }
}

static bool tuple_eq(const struct tuple *x, const struct tuple *y)
{
    return strcmp(x->proto, y->proto) == 0 && ep_cmp(&x->a, &y->a) == 0 &&
           ep_cmp(&x->b, &y->b) == 0;
}

static const char *ep_str(const struct ep *e, char *buf, size_t cap)
{
    char a[INET6_ADDRSTRLEN];

    inet_ntop(e->fam == 4 ? AF_INET : AF_INET6, e->addr, a, sizeof a);
    snprintf(buf, cap, e->fam == 4 ? "%s:%u" : "[%s]:%u", a, e->port);
    return buf;
}

/* "tcp 10.0.0.1:80 <-> 10.0.0.2:1234" (or "->" for a directed tuple). */
static const char *tuple_str(const struct tuple *t, bool directed, char *buf, size_t cap)
{
    char a[64], b[64];

    snprintf(buf, cap, "%s %s %s %s", t->proto, ep_str(&t->a, a, sizeof a), directed ? "->" : "<->",
             ep_str(&t->b, b, sizeof b));
    return buf;
}

/* ---------------------------------------------------------------- RFC 4180 CSV */

struct csv {
    size_t nrows, ncols; /* rows exclude the header */
    char **hdr;          /* ncols names */
    char ***rows;        /* nrows x ncols cells ("" when a row is short) */
};

struct csv_cursor {
    const char *p, *end;
};

/* Read one field; returns a malloc'd string and sets *eol at the end of a record.
 * Returns NULL on an unterminated quote. */
static char *csv_field(struct csv_cursor *c, bool *eol)
{
    size_t cap = 32, n = 0;
    char *out = malloc(cap);
    bool quoted = c->p < c->end && *c->p == '"';

    cr_assert_not_null(out);
    if (quoted)
        c->p++;
    for (;;) {
        char ch;
        if (c->p >= c->end) {
            if (quoted) {
                free(out);
                return NULL;
            }
            *eol = true;
            break;
        }
        ch = *c->p;
        if (quoted && ch == '"') {
            if (c->p + 1 < c->end && c->p[1] == '"') {
                c->p += 2;
                ch = '"';
            } else {
                quoted = false;
                c->p++;
                continue;
            }
        } else if (!quoted && (ch == ',' || ch == '\n' || ch == '\r')) {
            if (ch == '\r' && c->p + 1 < c->end && c->p[1] == '\n')
                c->p++;
            c->p++;
            *eol = ch != ',';
            break;
        } else {
            c->p++;
        }
        if (n + 2 > cap) {
            cap *= 2;
            out = realloc(out, cap);
            cr_assert_not_null(out);
        }
        out[n++] = ch;
    }
    out[n] = '\0';
    return out;
}

/* Read one record into a malloc'd array; *n fields. NULL at end of input or on error
 * (then *err is set). */
static char **csv_record(struct csv_cursor *c, size_t *n, bool *err)
{
    size_t cap = 32;
    char **f;
    bool eol = false;

    *n = 0;
    if (c->p >= c->end)
        return NULL;
    f = malloc(cap * sizeof *f);
    cr_assert_not_null(f);
    while (!eol) {
        char *v = csv_field(c, &eol);
        if (!v) {
            *err = true;
            for (size_t i = 0; i < *n; i++)
                free(f[i]);
            free(f);
            return NULL;
        }
        if (*n == cap) {
            cap *= 2;
            f = realloc(f, cap * sizeof *f);
            cr_assert_not_null(f);
        }
        f[(*n)++] = v;
    }
    return f;
}

static void csv_free(struct csv *t)
{
    for (size_t r = 0; r < t->nrows; r++) {
        for (size_t i = 0; i < t->ncols; i++)
            free(t->rows[r][i]);
        free(t->rows[r]);
    }
    for (size_t i = 0; i < t->ncols; i++)
        free(t->hdr[i]);
    free(t->rows);
    free(t->hdr);
    memset(t, 0, sizeof *t);
}

/* Parse @len bytes of CSV with a header row. Empty lines are skipped. Returns 0, or -1 with a
 * reason in @why (unterminated quote, row wider than the header). */
static int csv_parse(const char *buf, size_t len, struct csv *t, char *why, size_t whylen)
{
    struct csv_cursor c = {buf, buf + len};
    size_t n, cap = 64;
    bool err = false;
    char **f;

    memset(t, 0, sizeof *t);
    t->hdr = csv_record(&c, &t->ncols, &err);
    if (!t->hdr) {
        snprintf(why, whylen, err ? "unterminated quote in header" : "no header row");
        return -1;
    }
    t->rows = malloc(cap * sizeof *t->rows);
    cr_assert_not_null(t->rows);
    while ((f = csv_record(&c, &n, &err))) {
        if (n == 1 && !f[0][0]) { /* empty line */
            free(f[0]);
            free(f);
            continue;
        }
        if (n > t->ncols) {
            snprintf(why, whylen, "record %zu has %zu fields, header has %zu", t->nrows + 1, n,
                     t->ncols);
            for (size_t i = 0; i < n; i++)
                free(f[i]);
            free(f);
            csv_free(t);
            return -1;
        }
        f = realloc(f, t->ncols * sizeof *f);
        cr_assert_not_null(f);
        for (; n < t->ncols; n++) {
            f[n] = strdup("");
            cr_assert_not_null(f[n]);
        }
        if (t->nrows == cap) {
            cap *= 2;
            t->rows = realloc(t->rows, cap * sizeof *t->rows);
            cr_assert_not_null(t->rows);
        }
        t->rows[t->nrows++] = f;
    }
    if (err) {
        snprintf(why, whylen, "unterminated quote after record %zu", t->nrows);
        csv_free(t);
        return -1;
    }
    return 0;
}

static int csv_col(const struct csv *t, const char *name)
{
    for (size_t i = 0; i < t->ncols; i++)
        if (strcmp(t->hdr[i], name) == 0)
            return (int)i;
    return -1;
}

Test(reference_csv, parses_quotes_crlf_and_short_rows)
{
    const char *in = "a,b,c\r\n1,\"x,y\",\"say \"\"hi\"\"\"\r\n\n2,,\n3\n\"multi\nline\",z,\n";
    struct csv t;
    char why[128] = "";

    cr_assert_eq(csv_parse(in, strlen(in), &t, why, sizeof why), 0, "%s", why);
    cr_assert_eq(t.ncols, 3);
    cr_assert_eq(t.nrows, 4);
    cr_assert_eq(csv_col(&t, "c"), 2);
    cr_assert_eq(csv_col(&t, "zz"), -1);
    cr_assert_str_eq(t.rows[0][1], "x,y");
    cr_assert_str_eq(t.rows[0][2], "say \"hi\"");
    cr_assert_str_eq(t.rows[1][1], "");
    cr_assert_str_eq(t.rows[2][0], "3");
    cr_assert_str_eq(t.rows[2][2], "");
    cr_assert_str_eq(t.rows[3][0], "multi\nline");
    cr_assert_str_eq(t.rows[3][1], "z");
    csv_free(&t);
}

Test(reference_csv, rejects_unterminated_quote_and_wide_rows)
{
    const char *bad1 = "a,b\n1,\"open\n";
    const char *bad2 = "a,b\n1,2,3\n";
    struct csv t;
    char why[128];

    cr_assert_eq(csv_parse(bad1, strlen(bad1), &t, why, sizeof why), -1);
    cr_assert_eq(csv_parse(bad2, strlen(bad2), &t, why, sizeof why), -1);
}

Test(reference_csv, endpoint_order_matches_gen_expected)
{
    struct tuple t = {.proto = "tcp"};
    struct ep v6;

    cr_assert(ep_parse("10.0.0.2", "80", &t.a));
    cr_assert(ep_parse("10.0.0.1", "5000", &t.b));
    tuple_order(&t);
    cr_assert_eq(t.a.port, 5000, "lower address first");
    cr_assert(ep_parse("::1", "1", &v6));
    cr_assert_lt(ep_cmp(&t.b, &v6), 0, "IPv4 sorts before IPv6");
    cr_assert(ep_parse("10.0.0.1", "79", &t.b));
    cr_assert_lt(ep_cmp(&t.b, &t.a), 0, "same address: lower port first");
    cr_assert_not(ep_parse("10.0.0.300", "1", &v6));
    cr_assert_not(ep_parse("10.0.0.3", "65536", &v6));
}

/* ---------------------------------------------------------------- exceptions (docs/ACCURACY.md) */

struct exc {
    char check[8]; /* conv, zeek, count */
    char file[192];
    bool has_tuple;
    struct tuple t; /* ordered for conv, orig->resp for zeek */
    char field[32], ours[32], ref[32];
};

struct exc_list {
    size_t n;
    struct exc *v;
};

/* One table row: | check | file | proto | addr_a | port_a | addr_b | port_b | field | ours |
 * reference | reason |. Returns false for rows that are not exception rows (header, rule,
 * other tables). */
static bool exc_parse_row(char *line, struct exc *e)
{
    char *c[16];
    size_t n;

    if (line[0] != '|')
        return false;
    n = split(line + 1, '|', c, 16);
    if (n < 11)
        return false;
    for (size_t i = 0; i < n; i++)
        c[i] = trim(c[i]);
    if (strcmp(c[0], "conv") && strcmp(c[0], "zeek") && strcmp(c[0], "count"))
        return false;
    memset(e, 0, sizeof *e);
    snprintf(e->check, sizeof e->check, "%s", c[0]);
    snprintf(e->file, sizeof e->file, "%s", c[1]);
    snprintf(e->t.proto, sizeof e->t.proto, "%s", c[2]);
    e->has_tuple = ep_parse(c[3], c[4], &e->t.a) && ep_parse(c[5], c[6], &e->t.b);
    if (e->has_tuple && strcmp(e->check, "conv") == 0)
        tuple_order(&e->t);
    snprintf(e->field, sizeof e->field, "%s", c[7]);
    snprintf(e->ours, sizeof e->ours, "%s", c[8]);
    snprintf(e->ref, sizeof e->ref, "%s", c[9]);
    return true;
}

static void exc_load(struct exc_list *l)
{
    char *buf = pt_test_slurp(pt_test_src("docs/ACCURACY.md"), NULL);
    char *line, *save = NULL;

    cr_assert_not_null(buf, "cannot read %s", pt_test_src("docs/ACCURACY.md"));
    l->n = 0;
    l->v = NULL;
    for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        struct exc e;
        if (!exc_parse_row(line, &e))
            continue;
        l->v = realloc(l->v, (l->n + 1) * sizeof *l->v);
        cr_assert_not_null(l->v);
        l->v[l->n++] = e;
    }
    free(buf);
}

static bool exc_val_eq(const char *pat, const char *v)
{
    return strcmp(pat, "*") == 0 || strcmp(pat, v) == 0;
}

static bool exc_match(const struct exc_list *l, const char *check, const char *file,
                      const struct tuple *t, const char *field, const char *ours, const char *ref)
{
    for (size_t i = 0; i < l->n; i++) {
        const struct exc *e = &l->v[i];
        if (strcmp(e->check, check) || strcmp(e->file, file) || strcmp(e->field, field))
            continue;
        if (t && (!e->has_tuple || !tuple_eq(&e->t, t)))
            continue;
        if (exc_val_eq(e->ours, ours) && exc_val_eq(e->ref, ref))
            return true;
    }
    return false;
}

Test(reference_csv, accuracy_md_exception_rows_parse)
{
    char row[] = "| conv | pcap/x/y.pcap | udp | 10.0.0.2 | 53 | 10.0.0.1 | 999 | packets | 3 | "
                 "2 | first fragment only |";
    char other[] = "| check | file | proto | addr_a | port_a | addr_b | port_b | field | ours | "
                   "reference | reason |";
    struct exc e;
    struct exc_list l = {1, &e};
    struct tuple t = {.proto = "udp"};

    cr_assert_not(exc_parse_row(other, &e));
    cr_assert(exc_parse_row(row, &e));
    cr_assert(e.has_tuple);
    cr_assert(ep_parse("10.0.0.2", "53", &t.b) && ep_parse("10.0.0.1", "999", &t.a));
    cr_assert(exc_match(&l, "conv", "pcap/x/y.pcap", &t, "packets", "3", "2"));
    cr_assert_not(exc_match(&l, "conv", "pcap/x/y.pcap", &t, "packets", "4", "2"));
    cr_assert_not(exc_match(&l, "zeek", "pcap/x/y.pcap", &t, "packets", "3", "2"));
}

/* ---------------------------------------------------------------- running the binary */

/* Run `BIN read --format csv [extra] CAPTURE`, stdout into *out, stderr into *err (both
 * malloc'd). Returns the exit status. */
static int run_read(const char *capture, const char *extra, char **out, char **err)
{
    char dir[] = "/tmp/pt-ref-XXXXXX", errpath[64], cmd[8192], qb[2048], qc[2048];
    int st;

    cr_assert_not_null(mkdtemp(dir));
    snprintf(errpath, sizeof errpath, "%s/stderr", dir);
    snprintf(cmd, sizeof cmd, "%s read --format csv %s %s 2>%s", shq(pt_test_bin(), qb, sizeof qb),
             extra ? extra : "", shq(capture, qc, sizeof qc), errpath);
    st = pt_test_run(cmd, out, NULL);
    *err = pt_test_slurp(errpath, NULL);
    if (!*err)
        *err = strdup("");
    unlink(errpath);
    rmdir(dir);
    return st;
}

/* The value of the summary line "packets: N" in @err; -1 if absent. */
static long long summary_packets(const char *err)
{
    for (const char *p = err; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
        if (strncmp(p, "packets: ", 9) == 0)
            return strtoll(p + 9, NULL, 10);
    return -1;
}

/* First line of @s (for messages). */
static const char *first_line(const char *s, char *buf, size_t cap)
{
    size_t n = strcspn(s, "\n");
    snprintf(buf, cap, "%.*s", (int)(n < cap ? n : cap - 1), s);
    return buf;
}

/* ---------------------------------------------------------------- parameters: one per capture */

struct ref_param {
    char name[520];    /* tests/expected/<name>.*  e.g. "vlan/zeek_q-in-q.pcap" */
    char capture[520]; /* relative to the test data, e.g. "pcap/vlan/zeek_q-in-q.pcap" */
};

static int param_cmp(const void *x, const void *y)
{
    return strcmp(((const struct ref_param *)x)->name, ((const struct ref_param *)y)->name);
}

/* "capture" value of an expected .count file. */
static bool count_capture(const char *path, char *capture, size_t cap)
{
    char *buf = pt_test_slurp(path, NULL), *line, *save = NULL;
    bool ok = false;

    if (!buf)
        return false;
    for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
        if (strncmp(line, "capture\t", 8) == 0) {
            snprintf(capture, cap, "%s", line + 8);
            ok = true;
        }
    free(buf);
    return ok;
}

/* Every tests/expected/<cat>/<file><suffix> (name = "<cat>/<file>"), sorted; malloc'd array, NULL
 * when none. */
static struct ref_param *params_collect(const char *suffix, size_t *n)
{
    char base[4096], path[8192];
    size_t cap = 16, sl = strlen(suffix);
    struct ref_param *v = malloc(cap * sizeof *v);
    DIR *top, *sub;
    struct dirent *c, *f;

    *n = 0;
    snprintf(base, sizeof base, "%s", pt_test_src("tests/expected"));
    if (!v || !(top = opendir(base))) {
        free(v);
        return NULL;
    }
    while ((c = readdir(top))) {
        if (c->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s", base, c->d_name);
        if (!(sub = opendir(path)))
            continue;
        while ((f = readdir(sub))) {
            size_t fl = strlen(f->d_name);
            struct ref_param p;
            char cpath[8192];
            if (fl <= sl || strcmp(f->d_name + fl - sl, suffix))
                continue;
            snprintf(p.name, sizeof p.name, "%s/%.*s", c->d_name, (int)(fl - sl), f->d_name);
            snprintf(cpath, sizeof cpath, "%s/%s.count", base, p.name);
            if (!count_capture(cpath, p.capture, sizeof p.capture))
                snprintf(p.capture, sizeof p.capture, "(no capture line in %.400s.count)", p.name);
            if (*n == cap)
                v = realloc(v, (cap *= 2) * sizeof *v);
            if (!v)
                break;
            v[(*n)++] = p;
        }
        closedir(sub);
    }
    closedir(top);
    if (!v || !*n) {
        free(v);
        *n = 0;
        return NULL;
    }
    qsort(v, *n, sizeof *v, param_cmp);
    return v;
}

/* params_collect() copied into cr_malloc memory, which criterion hands to the test processes. */
static struct ref_param *params_list(const char *suffix, size_t *n)
{
    struct ref_param *v = params_collect(suffix, n), *out = NULL;

    if (*n && (out = cr_malloc(*n * sizeof *out)))
        memcpy(out, v, *n * sizeof *out);
    else
        *n = 0;
    free(v);
    return out;
}

static void params_free(struct criterion_test_params *crp)
{
    cr_free(crp->params);
}

/* An empty list would make the parameterized tests silently run nothing, and a capture added to
 * the test data without `make expected` would go unchecked. */
Test(reference_files, expected_answers_match_the_shared_captures)
{
    size_t n = 0, missing = 0, unlisted = 0;
    struct ref_param *v = params_collect(".count", &n);
    char msg[4096] = "", msg2[4096] = "", cmd[4200], q[4096], *list, *line, *save = NULL;

    cr_assert_gt(n, 0, "no tests/expected/*/*.count under %s: run `make expected`",
                 pt_test_src("tests/expected"));
    for (size_t i = 0; i < n; i++) {
        if (access(pt_test_data(v[i].capture), R_OK) != 0 && ++missing)
            snprintf(msg + strlen(msg), sizeof msg - strlen(msg), " %s", v[i].capture);
    }
    snprintf(cmd, sizeof cmd,
             "cd %s && find pcap -type f \\( -name '*.pcap' -o -name '*.pcapng' \\) | sort",
             shq(pt_test_data(""), q, sizeof q));
    cr_assert_eq(pt_test_run(cmd, &list, NULL), 0, "%s failed", cmd);
    for (line = strtok_r(list, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        bool found = false;
        for (size_t i = 0; i < n && !found; i++)
            found = strcmp(v[i].capture, line) == 0;
        if (!found && ++unlisted)
            snprintf(msg2 + strlen(msg2), sizeof msg2 - strlen(msg2), " %s", line);
    }
    free(list);
    free(v);
    cr_expect_eq(missing, 0, "%zu expected answers name captures not in the test data:%s", missing,
                 msg);
    cr_expect_eq(unlisted, 0,
                 "%zu captures have no tests/expected answers (run `make expected`):%s", unlisted,
                 msg2);
}

/* ---------------------------------------------------------------- 1. packet counts */

static long long count_value(const struct ref_param *p, const char *key)
{
    char path[4096], *buf, *line, *save = NULL;
    size_t kl = strlen(key);
    long long v = -1;

    snprintf(path, sizeof path, "%s/%s.count", pt_test_src("tests/expected"), p->name);
    buf = pt_test_slurp(path, NULL);
    cr_assert_not_null(buf, "cannot read %s", path);
    for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
        if (strncmp(line, key, kl) == 0 && line[kl] == '\t')
            v = strtoll(line + kl + 1, NULL, 10);
    free(buf);
    return v;
}

ParameterizedTestParameters(reference_count, packets)
{
    size_t n;
    struct ref_param *v = params_list(".count", &n);
    return cr_make_param_array(struct ref_param, v, n, params_free);
}

ParameterizedTest(struct ref_param *p, reference_count, packets, .timeout = 120)
{
    struct exc_list ex;
    long long want = count_value(p, "packets"), got;
    long long td_exit = count_value(p, "tcpdump_exit");
    char *out, *err, l1[256], ours[32], ref[32];
    int st = run_read(pt_test_data(p->capture), NULL, &out, &err);

    exc_load(&ex);
    got = summary_packets(err);
    cr_assert_geq(want, 0, "%s: no packets line in tests/expected/%s.count", p->capture, p->name);
    cr_expect(td_exit != 0 || st == 0, "%s: exit status %d (tcpdump reads it cleanly); stderr: %s",
              p->capture, st, first_line(err, l1, sizeof l1));
    snprintf(ours, sizeof ours, "%lld", got);
    snprintf(ref, sizeof ref, "%lld", want);
    if (got != want && !exc_match(&ex, "count", p->capture, NULL, "packets", ours, ref))
        cr_expect_fail("%s: packets: ours %lld, tcpdump %lld%s", p->capture, got, want,
                       got < 0 ? " (no `packets: N` line on stderr)" : "");
    free(out);
    free(err);
    free(ex.v);
}

/* ---------------------------------------------------------------- our records by 5-tuple */

struct rec {
    struct tuple t; /* as printed: a = orig, b = resp */
    char conn_state[16], history[48];
    long long orig_pkts, resp_pkts, orig_ip_bytes, resp_ip_bytes;
    char ts[40];
};

struct recs {
    size_t n;
    struct rec *v;
};

static const char *const REC_COLS[] = {"id.orig_h", "id.orig_p",     "id.resp_h",     "id.resp_p",
                                       "proto",     "orig_pkts",     "resp_pkts",     "conn_state",
                                       "history",   "orig_ip_bytes", "resp_ip_bytes", "ts"};
enum { C_OH, C_OP, C_RH, C_RP, C_PROTO, C_OPK, C_RPK, C_STATE, C_HIST, C_OIB, C_RIB, C_TS, C_N };

static long long num(const char *s)
{
    return *s && strcmp(s, "-") ? strtoll(s, NULL, 10) : 0;
}

/* Parse our CSV; keeps TCP and UDP conn records only. Fails the test on a malformed table. */
static void recs_parse(const char *capture, const char *out, struct recs *r)
{
    struct csv t;
    char why[256];
    int col[C_N], path_col;

    cr_assert_eq(csv_parse(out, strlen(out), &t, why, sizeof why), 0,
                 "%s: our CSV does not parse: %s", capture, why);
    for (int i = 0; i < C_N; i++) {
        col[i] = csv_col(&t, REC_COLS[i]);
        cr_assert_geq(col[i], 0, "%s: our CSV header lacks column %s", capture, REC_COLS[i]);
    }
    path_col = csv_col(&t, "_path"); /* if records of several kinds share the stream */
    r->n = 0;
    r->v = calloc(t.nrows + 1, sizeof *r->v);
    cr_assert_not_null(r->v);
    for (size_t i = 0; i < t.nrows; i++) {
        char **f = t.rows[i];
        struct rec *e = &r->v[r->n];
        if (path_col >= 0 && strcmp(f[path_col], "conn") != 0)
            continue;
        if (strcmp(f[col[C_PROTO]], "tcp") && strcmp(f[col[C_PROTO]], "udp"))
            continue;
        snprintf(e->t.proto, sizeof e->t.proto, "%s", f[col[C_PROTO]]);
        cr_assert(ep_parse(f[col[C_OH]], f[col[C_OP]], &e->t.a) &&
                      ep_parse(f[col[C_RH]], f[col[C_RP]], &e->t.b),
                  "%s: record %zu: bad endpoint %s:%s or %s:%s", capture, i + 1, f[col[C_OH]],
                  f[col[C_OP]], f[col[C_RH]], f[col[C_RP]]);
        snprintf(e->conn_state, sizeof e->conn_state, "%s", f[col[C_STATE]]);
        snprintf(e->history, sizeof e->history, "%s", f[col[C_HIST]]);
        snprintf(e->ts, sizeof e->ts, "%s", f[col[C_TS]]);
        e->orig_pkts = num(f[col[C_OPK]]);
        e->resp_pkts = num(f[col[C_RPK]]);
        e->orig_ip_bytes = num(f[col[C_OIB]]);
        e->resp_ip_bytes = num(f[col[C_RIB]]);
        r->n++;
    }
    csv_free(&t);
}

/* Run read on @p and parse its records; the test fails if the run fails. */
static void recs_load(const struct ref_param *p, struct recs *r)
{
    char *out, *err, l1[256];
    int st = run_read(pt_test_data(p->capture), NULL, &out, &err);

    cr_assert(st == 0 || (count_value(p, "tcpdump_exit") != 0 && *out),
              "%s: `read --format csv` exit status %d; stderr: %s", p->capture, st,
              first_line(err, l1, sizeof l1));
    recs_parse(p->capture, out, r);
    free(out);
    free(err);
}

/* ---------------------------------------------------------------- 2. tshark conversations */

struct conv_row {
    struct tuple t;
    long long ref, ours;
};

struct conv_tab {
    size_t n, cap;
    struct conv_row *v;
};

static struct conv_row *conv_get(struct conv_tab *c, const struct tuple *t)
{
    for (size_t i = 0; i < c->n; i++)
        if (tuple_eq(&c->v[i].t, t))
            return &c->v[i];
    if (c->n == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 64;
        c->v = realloc(c->v, c->cap * sizeof *c->v);
        cr_assert_not_null(c->v);
    }
    memset(&c->v[c->n], 0, sizeof c->v[c->n]);
    c->v[c->n].t = *t;
    return &c->v[c->n++];
}

static void conv_load_expected(const struct ref_param *p, struct conv_tab *c)
{
    char path[4096], *buf, *line, *save = NULL;

    snprintf(path, sizeof path, "%s/%s.conv.tsv", pt_test_src("tests/expected"), p->name);
    buf = pt_test_slurp(path, NULL);
    cr_assert_not_null(buf, "cannot read %s", path);
    for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *f[8];
        struct tuple t;

        memset(&t, 0, sizeof t);
        if (line[0] == '#')
            continue;
        cr_assert_eq(split(line, '\t', f, 8), 6, "%s: bad line", path);
        snprintf(t.proto, sizeof t.proto, "%s", f[0]);
        cr_assert(ep_parse(f[1], f[2], &t.a) && ep_parse(f[3], f[4], &t.b), "%s: bad tuple", path);
        tuple_order(&t);
        conv_get(c, &t)->ref += strtoll(f[5], NULL, 10);
    }
    free(buf);
}

ParameterizedTestParameters(reference_conv, packets)
{
    size_t n;
    struct ref_param *v = params_list(".conv.tsv", &n);
    return cr_make_param_array(struct ref_param, v, n, params_free);
}

ParameterizedTest(struct ref_param *p, reference_conv, packets, .timeout = 120)
{
    struct conv_tab c = {0};
    struct recs r;
    struct exc_list ex;
    size_t ndiff = 0;
    char first[512] = "", ts[160], ours[32], ref[32];

    exc_load(&ex);
    conv_load_expected(p, &c);
    recs_load(p, &r);
    for (size_t i = 0; i < r.n; i++) {
        struct tuple t = r.v[i].t;
        tuple_order(&t);
        conv_get(&c, &t)->ours += r.v[i].orig_pkts + r.v[i].resp_pkts;
    }
    for (size_t i = 0; i < c.n; i++) {
        const struct conv_row *e = &c.v[i];
        if (e->ours == e->ref)
            continue;
        snprintf(ours, sizeof ours, "%lld", e->ours);
        snprintf(ref, sizeof ref, "%lld", e->ref);
        if (exc_match(&ex, "conv", p->capture, &e->t, "packets", ours, ref))
            continue;
        if (!ndiff++)
            snprintf(first, sizeof first, "%s: packets ours %lld, tshark %lld",
                     tuple_str(&e->t, false, ts, sizeof ts), e->ours, e->ref);
    }
    cr_expect_eq(ndiff, 0, "%s: %zu of %zu 5-tuples differ from tshark's conversations; first: %s",
                 p->capture, ndiff, c.n, first);
    free(c.v);
    free(r.v);
    free(ex.v);
}

/* ---------------------------------------------------------------- 3. Zeek conn.log */

struct zeek_row {
    struct tuple t; /* a = orig, b = resp */
    char conn_state[16], history[48];
    long long orig_pkts, resp_pkts, orig_ip_bytes, resp_ip_bytes;
};

static size_t zeek_load(const struct ref_param *p, struct zeek_row **rows)
{
    char path[4096], *buf, *line, *save = NULL;
    size_t n = 0;

    snprintf(path, sizeof path, "%s/%s.zeek-conn.tsv", pt_test_src("tests/expected"), p->name);
    buf = pt_test_slurp(path, NULL);
    cr_assert_not_null(buf, "cannot read %s", path);
    *rows = NULL;
    for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *f[16];
        struct zeek_row z;

        memset(&z, 0, sizeof z);
        if (line[0] == '#')
            continue;
        /* proto orig_h orig_p resp_h resp_p conn_state history orig_pkts resp_pkts
         * orig_ip_bytes resp_ip_bytes orig_bytes resp_bytes missed_bytes */
        cr_assert_eq(split(line, '\t', f, 16), 14, "%s: bad line", path);
        snprintf(z.t.proto, sizeof z.t.proto, "%s", f[0]);
        cr_assert(ep_parse(f[1], f[2], &z.t.a) && ep_parse(f[3], f[4], &z.t.b), "%s: bad tuple",
                  path);
        snprintf(z.conn_state, sizeof z.conn_state, "%s", f[5]);
        snprintf(z.history, sizeof z.history, "%s", f[6]);
        z.orig_pkts = num(f[7]);
        z.resp_pkts = num(f[8]);
        z.orig_ip_bytes = num(f[9]);
        z.resp_ip_bytes = num(f[10]);
        *rows = realloc(*rows, (n + 1) * sizeof **rows);
        cr_assert_not_null(*rows);
        (*rows)[n++] = z;
    }
    free(buf);
    return n;
}

static int rec_ts_cmp(const void *x, const void *y)
{
    double a = strtod(((const struct rec *)x)->ts, NULL);
    double b = strtod(((const struct rec *)y)->ts, NULL);
    return (a > b) - (a < b);
}

/* The @k-th (0-based, by ts) of our records with directed tuple @t, or NULL. */
static const struct rec *recs_find(const struct recs *r, const struct tuple *t, size_t k)
{
    for (size_t i = 0; i < r->n; i++)
        if (tuple_eq(&r->v[i].t, t) && k-- == 0)
            return &r->v[i];
    return NULL;
}

struct zeek_ctx {
    const struct ref_param *p;
    const struct exc_list *ex;
    size_t ndiff;
    char first[768];
};

static void zeek_diff(struct zeek_ctx *z, const struct tuple *t, const char *field,
                      const char *ours, const char *ref)
{
    char ts[160];

    if (strcmp(ours, ref) == 0 || exc_match(z->ex, "zeek", z->p->capture, t, field, ours, ref))
        return;
    if (!z->ndiff++)
        snprintf(z->first, sizeof z->first, "%s: %s ours '%s', zeek '%s'",
                 tuple_str(t, true, ts, sizeof ts), field, ours, ref);
}

static void zeek_diff_num(struct zeek_ctx *z, const struct tuple *t, const char *field,
                          long long ours, long long ref)
{
    char a[32], b[32];

    snprintf(a, sizeof a, "%lld", ours);
    snprintf(b, sizeof b, "%lld", ref);
    zeek_diff(z, t, field, a, b);
}

static void zeek_compare_row(struct zeek_ctx *z, const struct recs *r, const struct zeek_row *zr,
                             size_t k)
{
    const struct rec *o = recs_find(r, &zr->t, k);

    if (!o) {
        struct tuple rev;
        memset(&rev, 0, sizeof rev);
        snprintf(rev.proto, sizeof rev.proto, "%s", zr->t.proto);
        rev.a = zr->t.b;
        rev.b = zr->t.a;
        zeek_diff(z, &zr->t, "record",
                  recs_find(r, &rev, 0) ? "only resp->orig (direction flipped)" : "none",
                  "present");
        return;
    }
    zeek_diff(z, &zr->t, "conn_state", o->conn_state, zr->conn_state);
    zeek_diff(z, &zr->t, "history", o->history, zr->history);
    zeek_diff_num(z, &zr->t, "orig_pkts", o->orig_pkts, zr->orig_pkts);
    zeek_diff_num(z, &zr->t, "resp_pkts", o->resp_pkts, zr->resp_pkts);
    zeek_diff_num(z, &zr->t, "orig_ip_bytes", o->orig_ip_bytes, zr->orig_ip_bytes);
    zeek_diff_num(z, &zr->t, "resp_ip_bytes", o->resp_ip_bytes, zr->resp_ip_bytes);
}

ParameterizedTestParameters(reference_zeek, conn)
{
    size_t n;
    struct ref_param *v = params_list(".zeek-conn.tsv", &n);
    return cr_make_param_array(struct ref_param, v, n, params_free);
}

ParameterizedTest(struct ref_param *p, reference_zeek, conn, .timeout = 120)
{
    struct exc_list ex;
    struct zeek_row *rows;
    struct recs r;
    size_t n;
    struct zeek_ctx z = {.p = p, .ex = &ex};

    exc_load(&ex);
    n = zeek_load(p, &rows);
    cr_assert_gt(n, 0, "tests/expected/%s.zeek-conn.tsv has no rows", p->name);
    recs_load(p, &r);
    qsort(r.v, r.n, sizeof *r.v, rec_ts_cmp);
    for (size_t i = 0; i < n; i++) {
        size_t k = 0; /* earlier Zeek rows with the same tuple: match them in time order */
        for (size_t j = 0; j < i; j++)
            k += tuple_eq(&rows[j].t, &rows[i].t);
        zeek_compare_row(&z, &r, &rows[i], k);
    }
    cr_expect_eq(z.ndiff, 0, "%s: %zu differences from Zeek's conn.log (%zu rows); first: %s",
                 p->capture, z.ndiff, n, z.first);
    free(rows);
    free(r.v);
    free(ex.v);
}

/* ---------------------------------------------------------------- 4. workers */

ParameterizedTestParameters(reference_workers, same_output)
{
    size_t n;
    struct ref_param *v = params_list(".count", &n);
    return cr_make_param_array(struct ref_param, v, n, params_free);
}

ParameterizedTest(struct ref_param *p, reference_workers, same_output, .timeout = 180)
{
    char *o1, *e1, *o4, *e4, l1[512], l4[512];
    int s1 = run_read(pt_test_data(p->capture), "--workers 1", &o1, &e1);
    int s4 = run_read(pt_test_data(p->capture), "--workers 4", &o4, &e4);
    size_t i = 0, line = 1, bol = 0;

    cr_expect_eq(s1, s4, "%s: exit status --workers 1: %d, --workers 4: %d", p->capture, s1, s4);
    while (o1[i] && o1[i] == o4[i]) {
        if (o1[i++] == '\n') {
            line++;
            bol = i;
        }
    }
    cr_expect(o1[i] == o4[i],
              "%s: --workers 4 output differs from --workers 1 at line %zu:\n  1: %s\n  4: %s",
              p->capture, line, first_line(o1 + bol, l1, sizeof l1),
              first_line(o4 + bol, l4, sizeof l4));
    cr_expect_eq(summary_packets(e1), summary_packets(e4), "%s: packets: differ", p->capture);
    free(o1);
    free(e1);
    free(o4);
    free(e4);
}

/* ---------------------------------------------------------------- 5. bad input */

static void expect_failure(const char *what, const char *path, char *out, char *err, int st)
{
    cr_expect_neq(st, 0, "%s (%s): exit status 0", what, path);
    cr_expect(err[strspn(err, " \n")] != '\0', "%s (%s): nothing on stderr", what, path);
    free(out);
    free(err);
}

Test(reference_errors, nonexistent_file, .timeout = 30)
{
    char *out, *err;
    const char *path = "/nonexistent/pt-no-such-file.pcap";
    int st = run_read(path, NULL, &out, &err);

    expect_failure("nonexistent file", path, out, err, st);
}

Test(reference_errors, not_a_capture, .timeout = 30)
{
    char *out, *err;
    int st = run_read("/etc/passwd", NULL, &out, &err);

    expect_failure("not a capture", "/etc/passwd", out, err, st);
}

struct tmpfile {
    char dir[64], path[128];
};

static void tmp_write(struct tmpfile *tf, const char *name, const char *buf, size_t len)
{
    int fd;

    snprintf(tf->dir, sizeof tf->dir, "/tmp/pt-ref-XXXXXX");
    cr_assert_not_null(mkdtemp(tf->dir));
    snprintf(tf->path, sizeof tf->path, "%s/%s", tf->dir, name);
    fd = open(tf->path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, buf, len), (ssize_t)len);
    close(fd);
}

static void tmp_remove(struct tmpfile *tf)
{
    unlink(tf->path);
    rmdir(tf->dir);
}

Test(reference_errors, empty_file, .timeout = 30)
{
    struct tmpfile tf;
    char *out, *err;
    int st;

    tmp_write(&tf, "empty.pcap", "", 0);
    st = run_read(tf.path, NULL, &out, &err);
    tmp_remove(&tf);
    expect_failure("zero-byte file", "empty.pcap", out, err, st);
}

static uint32_t rd32(const uint8_t *p, bool swap)
{
    uint32_t v;

    memcpy(&v, p, 4);
    return swap ? __builtin_bswap32(v) : v;
}

/* Offsets of the records of a classic pcap: fills @off (record starts), returns the count. */
static size_t pcap_records(const uint8_t *b, size_t len, size_t *off, size_t max)
{
    uint32_t magic = rd32(b, false);
    bool swap = magic == 0xd4c3b2a1 || magic == 0x4d3cb2a1;
    size_t n = 0, pos = 24;

    cr_assert(swap || magic == 0xa1b2c3d4 || magic == 0xa1b23c4d, "not a classic pcap");
    while (pos + 16 <= len && n < max) {
        uint32_t incl = rd32(b + pos + 8, swap);
        if (pos + 16 + incl > len)
            break;
        off[n++] = pos;
        pos += 16 + incl;
    }
    return n;
}

/* Offsets of the packet blocks (EPB 6, SPB 3, PB 2) of a pcapng; returns the count. */
static size_t pcapng_packets(const uint8_t *b, size_t len, size_t *off, size_t max)
{
    size_t n = 0, pos = 0;
    bool swap = rd32(b + 8, false) == 0x4d3c2b1a;

    cr_assert_eq(rd32(b, false), 0x0a0d0d0a, "not a pcapng");
    while (pos + 12 <= len && n < max) {
        uint32_t type = rd32(b + pos, swap), blen = rd32(b + pos + 4, swap);
        if (blen < 12 || pos + blen > len)
            break;
        if (type == 6 || type == 3 || type == 2)
            off[n++] = pos;
        pos += blen;
    }
    return n;
}

/* Copy @rel cut at @cut bytes into a temp file, run read, and check: non-zero exit, a message,
 * and `packets: @whole`. */
static void check_truncated(const char *rel, size_t cut, size_t whole, const char *how)
{
    size_t len;
    char *buf = pt_test_slurp(pt_test_data(rel), &len), *out, *err, l1[256];
    struct tmpfile tf;
    long long got;
    int st;

    cr_assert_not_null(buf, "cannot read %s", pt_test_data(rel));
    cr_assert_lt(cut, len);
    tmp_write(&tf, strrchr(rel, '/') + 1, buf, cut);
    st = run_read(tf.path, NULL, &out, &err);
    tmp_remove(&tf);
    got = summary_packets(err);
    cr_expect_neq(st, 0, "%s cut %s (%zu of %zu bytes): exit status 0", rel, how, cut, len);
    cr_expect(err[strspn(err, " \n")] != '\0', "%s cut %s: nothing on stderr", rel, how);
    cr_expect_eq(got, (long long)whole,
                 "%s cut %s: packets: %lld, want the %zu whole records before the cut; "
                 "stderr: %s",
                 rel, how, got, whole, first_line(err, l1, sizeof l1));
    free(out);
    free(err);
    free(buf);
}

Test(reference_errors, pcap_truncated_mid_record_data, .timeout = 30)
{
    const char *rel = "pcap/tcp/zeek_missing-syn.pcap";
    size_t len, off[64], n, k;
    uint8_t *b = (uint8_t *)pt_test_slurp(pt_test_data(rel), &len);

    cr_assert_not_null(b);
    n = pcap_records(b, len, off, 64);
    cr_assert_geq(n, 4);
    k = n / 2; /* cut in the middle of record k's data: records 0..k-1 are whole */
    free(b);
    check_truncated(rel, off[k] + 16 + (off[k + 1] - off[k] - 16) / 2, k, "inside record data");
}

Test(reference_errors, pcap_truncated_mid_record_header, .timeout = 30)
{
    const char *rel = "pcap/tcp/zeek_missing-syn.pcap";
    size_t len, off[64], n;
    uint8_t *b = (uint8_t *)pt_test_slurp(pt_test_data(rel), &len);

    cr_assert_not_null(b);
    n = pcap_records(b, len, off, 64);
    cr_assert_geq(n, 4);
    free(b);
    check_truncated(rel, off[3] + 7, 3, "inside a record header");
}

Test(reference_errors, pcapng_truncated_mid_block, .timeout = 30)
{
    const char *rel = "pcap/linktype/zeek_pcapng-multi-interface.pcapng";
    size_t len, off[64], n;
    uint8_t *b = (uint8_t *)pt_test_slurp(pt_test_data(rel), &len);

    cr_assert_not_null(b);
    n = pcapng_packets(b, len, off, 64);
    cr_assert_geq(n, 4);
    free(b);
    check_truncated(rel, off[3] + 20, 3, "inside a packet block");
}
