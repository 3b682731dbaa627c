/* table.c - how the query commands print: human units, sparklines, aligned
 * tables, JSON and CSV strings, addresses.
 *
 * DESIGN: pure formatting functions writing into caller buffers, so the
 * tests pin exact strings. The table buffers rows until a flush, measures
 * cells in UTF-8 characters (the sparkline and the arrow are multi-byte),
 * and keeps its widths across flushes so long outputs can stream. */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "query.h"

/* ---- numbers ---- */

char *pt_cli_fmt_si(char *buf, size_t len, double v)
{
    static const char prefix[] = " kMGTPE";
    unsigned p = 0;

    if (!(v >= 0)) /* negative or NaN: not expected; print as is */
        v = v < 0 ? v : 0;
    if (v < 1000 && v == floor(v)) {
        snprintf(buf, len, "%.0f", v);
        return buf;
    }
    while (p + 1 < sizeof prefix - 1 && v >= 999.5) {
        v /= 1000;
        p++;
    }
    if (v < 99.95)
        snprintf(buf, len, "%.1f%.*s", v, p ? 1 : 0, &prefix[p]);
    else
        snprintf(buf, len, "%.0f%.*s", v, p ? 1 : 0, &prefix[p]);
    return buf;
}

char *pt_cli_fmt_unit(char *buf, size_t len, double v, enum pt_cli_unit u)
{
    static const char *const suffix[] = {"", " B", " b/s", "/s"};
    char num[32];
    const char *sfx = suffix[u <= PT_CLI_UNIT_RATE ? u : 0];

    pt_cli_fmt_si(num, sizeof num, v);
    if (sfx[0] == ' ') {
        /* "1.2 Mb/s", "500 b/s": the prefix joins the unit after the space */
        size_t n = strlen(num);
        char last = n ? num[n - 1] : '\0';
        if (last >= 'A' && last <= 'z') {
            num[n - 1] = '\0';
            snprintf(buf, len, "%s %c%s", num, last, sfx + 1);
            return buf;
        }
    }
    snprintf(buf, len, "%s%s", num, sfx);
    return buf;
}

char *pt_cli_fmt_num(char *buf, size_t len, double v)
{
    if (v == floor(v) && fabs(v) < 9007199254740992.0) {
        snprintf(buf, len, "%.0f", v);
        return buf;
    }
    snprintf(buf, len, "%.3f", v);
    char *dot = strchr(buf, '.');
    if (dot) {
        char *e = buf + strlen(buf);
        while (e > dot + 1 && e[-1] == '0')
            *--e = '\0';
        if (e == dot + 1)
            *dot = '\0';
    }
    return buf;
}

double pt_cli_p95_sorted(const double *v, size_t n)
{
    size_t k = (n * 95 + 99) / 100; /* ceil(0.95 n) */
    return v[k ? k - 1 : 0];
}

/* ---- sparkline ---- */

char *pt_cli_sparkline(char *out, size_t len, const double *v, size_t n, size_t width)
{
    static const char *const bars[8] = {"▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"};
    size_t groups = n < width ? n : width, pos = 0;
    double max = 0;

    if (len)
        out[0] = '\0';
    for (size_t i = 0; i < n; i++)
        if (!isnan(v[i]) && v[i] > max)
            max = v[i];
    for (size_t g = 0; g < groups; g++) {
        size_t a = g * n / groups, b = (g + 1) * n / groups, cnt = 0;
        double sum = 0;
        const char *ch = " ";

        for (size_t i = a; i < b; i++)
            if (!isnan(v[i]))
                sum += v[i], cnt++;
        if (cnt) {
            double avg = sum / (double)cnt;
            unsigned lvl = max > 0 ? (unsigned)floor(avg * 8 / max) : 0;
            ch = bars[lvl > 7 ? 7 : lvl];
        }
        size_t cl = strlen(ch);
        if (pos + cl + 1 > len)
            break;
        memcpy(out + pos, ch, cl);
        pos += cl;
        out[pos] = '\0';
    }
    return out;
}

/* ---- tables ---- */

struct pt_cli_table {
    unsigned ncols;
    char **headers;
    char *align;
    size_t *width;
    char **cells; /* rows * ncols, owned */
    size_t rows, cap;
    bool header_done;
};

size_t pt_cli_utf8_width(const char *s)
{
    size_t n = 0;

    for (; *s; s++)
        if (((unsigned char)*s & 0xc0) != 0x80)
            n++;
    return n;
}

static char *dup_str(const char *s)
{
    return strdup(s ? s : "");
}

void pt_cli_table_destroy(struct pt_cli_table *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->rows * t->ncols; i++)
        free(t->cells[i]);
    if (t->headers)
        for (unsigned c = 0; c < t->ncols; c++)
            free(t->headers[c]);
    free(t->cells);
    free(t->headers);
    free(t->align);
    free(t->width);
    free(t);
}

struct pt_cli_table *pt_cli_table_create(unsigned ncols, const char *const *headers,
                                         const char *align)
{
    struct pt_cli_table *t = calloc(1, sizeof *t);

    if (!t)
        return NULL;
    t->ncols = ncols;
    if (!(t->headers = calloc(ncols, sizeof *t->headers)) || !(t->align = calloc(ncols + 1, 1)) ||
        !(t->width = calloc(ncols, sizeof *t->width)))
        goto err_free;
    for (unsigned c = 0; c < ncols; c++) {
        if (!(t->headers[c] = dup_str(headers[c])))
            goto err_free;
        t->align[c] = align && align[c] == 'r' ? 'r' : 'l';
        t->width[c] = pt_cli_utf8_width(t->headers[c]);
    }
    return t;

err_free:
    pt_cli_table_destroy(t);
    return NULL;
}

int pt_cli_table_add(struct pt_cli_table *t, const char *const *cells)
{
    if (t->rows == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        char **c = realloc(t->cells, cap * t->ncols * sizeof *c);
        if (!c)
            return -ENOMEM;
        t->cells = c;
        t->cap = cap;
    }
    char **row = t->cells + t->rows * t->ncols;
    for (unsigned c = 0; c < t->ncols; c++) {
        if (!(row[c] = dup_str(cells[c]))) {
            while (c--)
                free(row[c]);
            return -ENOMEM;
        }
    }
    t->rows++;
    return 0;
}

static void print_row(const struct pt_cli_table *t, char *const *cells, FILE *out)
{
    for (unsigned c = 0; c < t->ncols; c++) {
        size_t w = pt_cli_utf8_width(cells[c]), pad = t->width[c] - w;
        bool last = c + 1 == t->ncols;

        if (c)
            fputs("  ", out);
        if (t->align[c] == 'r')
            fprintf(out, "%*s", (int)pad, "");
        fputs(cells[c], out);
        if (t->align[c] == 'l' && !last)
            fprintf(out, "%*s", (int)pad, "");
    }
    fputc('\n', out);
}

int pt_cli_table_flush(struct pt_cli_table *t, FILE *out)
{
    for (size_t r = 0; r < t->rows; r++)
        for (unsigned c = 0; c < t->ncols; c++) {
            size_t w = pt_cli_utf8_width(t->cells[r * t->ncols + c]);
            if (w > t->width[c])
                t->width[c] = w;
        }
    if (!t->header_done) {
        print_row(t, t->headers, out);
        t->header_done = true;
    }
    for (size_t r = 0; r < t->rows; r++) {
        print_row(t, t->cells + r * t->ncols, out);
        for (unsigned c = 0; c < t->ncols; c++)
            free(t->cells[r * t->ncols + c]);
    }
    t->rows = 0;
    return ferror(out) ? -EIO : 0;
}

/* ---- JSON / CSV ---- */

void pt_cli_json_str(FILE *out, const char *s)
{
    fputc('"', out);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c < 0x20)
            fprintf(out, "\\u%04x", c);
        else
            fputc(c, out);
    }
    fputc('"', out);
}

void pt_cli_csv_str(FILE *out, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, out);
        return;
    }
    fputc('"', out);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', out);
        fputc(*s, out);
    }
    fputc('"', out);
}

/* ---- addresses ---- */

static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

char *pt_cli_addr_text(char *buf, size_t len, const uint8_t addr[16])
{
    bool v4 = memcmp(addr, v4mapped, 12) == 0;

    if (!inet_ntop(v4 ? AF_INET : AF_INET6, v4 ? addr + 12 : addr, buf, (socklen_t)len))
        snprintf(buf, len, "?");
    return buf;
}

bool pt_cli_addr_parse(const char *s, uint8_t addr[16])
{
    if (inet_pton(AF_INET, s, addr + 12) == 1) {
        memcpy(addr, v4mapped, 12);
        return true;
    }
    return inet_pton(AF_INET6, s, addr) == 1;
}

bool pt_cli_parse_host(const char *opt, const char *s, uint8_t addr[16])
{
    if (pt_cli_addr_parse(s, addr))
        return true;
    fprintf(stderr, "packettracer: %s: '%s' is not an IPv4 or IPv6 address\n", opt, s);
    return false;
}

bool pt_cli_parse_uid(const char *opt, const char *s)
{
    if (s[0] && strlen(s) < sizeof(((struct pt_flow_record *)0)->uid))
        return true;
    fprintf(stderr, "packettracer: %s: '%s' is not a flow uid (like CHhAvVGS1DHFjwGM9)\n", opt, s);
    return false;
}
