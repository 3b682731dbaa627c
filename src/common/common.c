/* common.c - error names, leveled logging, clock.
 *
 * DESIGN: logging formats into a stack buffer and emits the line with one
 * write(2) to stderr, so lines from several threads never interleave and no
 * lock is needed. pt_log() (the macro) skips formatting entirely for lines
 * above pt_log_level. */
#include "pt/common.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int pt_log_level = PT_LOG_INFO;

static const char *const pt_err_names[] = {
    [0] = "table or pool full",
    [1] = "not a capture file we can read",
    [2] = "capture file truncated inside a record",
    [3] = "link-layer type not supported",
    [4] = "bad argument",
};

const char *pt_strerror(int err)
{
    if (err == 0)
        return "success";
    if (err <= PT_E_BASE && err >= PT_E_LAST)
        return pt_err_names[PT_E_BASE - err];
    if (err < 0)
        return strerror(-err);
    return "unknown error";
}

void pt_log_write(int level, const char *fmt, ...)
{
    static const char *const tag[] = {"error", "warning", "info", "debug"};
    char line[1024];
    int n;
    va_list ap;

    if (level < 0 || level > PT_LOG_DEBUG)
        level = PT_LOG_ERR;
    n = snprintf(line, sizeof line, "packettracer: %s: ", tag[level]);
    va_start(ap, fmt);
    n += vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (n > (int)sizeof line - 2)
        n = (int)sizeof line - 2;
    line[n++] = '\n';
    for (ssize_t off = 0; off < n;) {
        ssize_t w = write(STDERR_FILENO, line + off, (size_t)(n - off));
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        off += w;
    }
}

uint64_t pt_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}
