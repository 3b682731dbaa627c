/* tsv.h - test-only: the reference TSV files of tests/expected (first line
 * a '#' header naming the columns), read by column name. Static functions
 * for the enrich tests; never in the product. */
#ifndef PT_TEST_ENRICH_TSV_H
#define PT_TEST_ENRICH_TSV_H

#include <criterion/criterion.h>

#include <stdlib.h>
#include <string.h>

#include "support/support.h"

#define TSV_COLS 48

struct tsv {
    char *buf;
    char *hdr[TSV_COLS];
    size_t nh;
    char *(*row)[TSV_COLS];
    size_t n;
};

static size_t tsv_split(char *s, char sep, char **out, size_t max)
{
    size_t n = 0;

    while (n < max) {
        char *e = strchr(s, sep);

        out[n++] = s;
        if (!e)
            break;
        *e = '\0';
        s = e + 1;
    }
    return n;
}

/* Load tests/expected/@rel. */
static void tsv_load(struct tsv *t, const char *rel)
{
    char path[512], *line, *save = NULL;
    size_t cap = 0;

    memset(t, 0, sizeof *t);
    snprintf(path, sizeof path, "tests/expected/%s", rel);
    t->buf = pt_test_slurp(pt_test_src(path), NULL);
    cr_assert_not_null(t->buf, "cannot read %s", path);
    for (line = strtok_r(t->buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (line[0] == '#') {
            t->nh = tsv_split(line + 1, '\t', t->hdr, TSV_COLS);
            continue;
        }
        if (t->n == cap) {
            cap = cap ? 2 * cap : 64;
            t->row = realloc(t->row, cap * sizeof *t->row);
            cr_assert_not_null(t->row);
        }
        memset(t->row[t->n], 0, sizeof t->row[t->n]);
        size_t nf = tsv_split(line, '\t', t->row[t->n], TSV_COLS);
        for (size_t i = nf; i < TSV_COLS; i++)
            t->row[t->n][i] = "";
        t->n++;
    }
    cr_assert_gt(t->nh, 0, "%s has no header", path);
}

static void tsv_free(struct tsv *t)
{
    free(t->buf);
    free(t->row);
}

/* Index of column @name; fails the test when absent. */
static size_t tsv_col(const struct tsv *t, const char *name)
{
    for (size_t i = 0; i < t->nh; i++)
        if (strcmp(t->hdr[i], name) == 0)
            return i;
    cr_assert_fail("no column %s", name);
    return 0;
}

#endif
