/* shim_main.c - runner for the Criterion shim (see criterion/criterion.h):
 * every registered test whose suite name contains "concurrent", each in a
 * forked child, with a time limit. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/wait.h>
#include <unistd.h>

struct shim_test *shim_tests;

void shim_fail(const char *file, int line, const char *what, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "%s:%d: assertion failed: %s", file, line, what);
    if (*fmt) {
        fputs(": ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
    }
    fputc('\n', stderr);
    exit(1);
}

int main(void)
{
    unsigned pass = 0, fail = 0;

    for (struct shim_test *t = shim_tests; t; t = t->next) {
        pid_t pid;
        int st;

        if (!strstr(t->suite, "concurrent"))
            continue;
        fflush(NULL);
        pid = fork();
        if (pid == 0) {
            alarm(600);
            t->fn();
            exit(0);
        }
        if (pid < 0 || waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            fprintf(stderr, "[FAIL] %s::%s\n", t->suite, t->name);
            fail++;
        } else {
            fprintf(stderr, "[PASS] %s::%s\n", t->suite, t->name);
            pass++;
        }
    }
    printf("tsan: %u passed, %u failed\n", pass, fail);
    return fail || pass == 0 ? 1 : 0;
}
