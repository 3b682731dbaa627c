/* support.c - see support.h. */
#include "support/support.h"

#include <criterion/criterion.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

/* @path made absolute in @out when it is relative and exists, so that a
 * command that changes directory first still finds it (make test passes
 * absolute paths; test-all run by hand from the checkout may not). */
static const char *absolute(const char *path, char out[PATH_MAX])
{
    return path[0] != '/' && realpath(path, out) ? out : path;
}

static const char *join(const char *env, const char *fallback, const char *rel)
{
    static __thread char buf[2 * PATH_MAX];
    char abs[PATH_MAX];
    const char *base = getenv(env);

    if (!base || !*base)
        base = fallback;
    snprintf(buf, sizeof buf, "%s/%s", absolute(base, abs), rel);
    return buf;
}

const char *pt_test_data(const char *rel)
{
    return join("PT_TESTDATA", "../shared/testdata", rel);
}

const char *pt_test_src(const char *rel)
{
    return join("PT_SRCDIR", ".", rel);
}

const char *pt_test_bin(void)
{
    static __thread char abs[PATH_MAX];
    const char *b = getenv("PT_BIN");

    return absolute(b && *b ? b : "build/release/packettracer", abs);
}

/* Everything @f yields, NUL-terminated, in a malloc'd buffer. */
static char *read_stream(FILE *f, size_t *outlen)
{
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);

    cr_assert_not_null(buf);
    for (;;) {
        size_t n;
        if (cap - len < 4096) {
            cap *= 2;
            buf = realloc(buf, cap);
            cr_assert_not_null(buf);
        }
        n = fread(buf + len, 1, cap - len - 1, f);
        if (n == 0)
            break;
        len += n;
    }
    buf[len] = '\0';
    if (outlen)
        *outlen = len;
    return buf;
}

char *pt_test_slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf;

    if (!f)
        return NULL;
    buf = read_stream(f, len);
    fclose(f);
    return buf;
}

int pt_test_run(const char *cmd, char **out, size_t *outlen)
{
    FILE *f = popen(cmd, "r");
    char *buf;
    int st;

    cr_assert_not_null(f, "popen(%s)", cmd);
    buf = read_stream(f, outlen);
    st = pclose(f);
    if (out)
        *out = buf;
    else
        free(buf);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

void pt_test_rm_tree(const char *path)
{
    nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}
