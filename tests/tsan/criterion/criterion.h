/* criterion.h (shim) - just enough of Criterion's API to build the
 * '*concurrent*' suites as a plain program for `make tsan`.
 *
 * Why: Criterion 2.4 aborts under ThreadSanitizer before any test runs
 * ("Could not initialize inheritable arena", upstream Snaipe/Criterion#274).
 * The same test sources compile against this header instead; shim_main.c
 * runs each registered test in its own process, as Criterion does, and
 * prints "tsan: N passed, N failed". Only the macros those suites use exist
 * here: a test that needs more fails to compile, loudly. */
#ifndef PT_TSAN_CRITERION_SHIM_H
#define PT_TSAN_CRITERION_SHIM_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct shim_test {
    const char *suite, *name;
    void (*fn)(void);
    struct shim_test *next;
};
extern struct shim_test *shim_tests;
void shim_fail(const char *file, int line, const char *what, const char *fmt, ...)
    __attribute__((noreturn, format(printf, 4, 5)));

#define Test(s, n, ...)                                                                            \
    static void s##_##n(void);                                                                     \
    __attribute__((constructor)) static void s##_##n##_register(void)                              \
    {                                                                                              \
        static struct shim_test shim_t_ = {#s, #n, s##_##n, NULL};                                 \
        shim_t_.next = shim_tests;                                                                 \
        shim_tests = &shim_t_;                                                                     \
    }                                                                                              \
    static void s##_##n(void)
#define TestSuite(...) struct shim_unused_suite

#define SHIM_CHECK(cond, what, ...)                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            shim_fail(__FILE__, __LINE__, what, "" __VA_ARGS__);                                   \
    } while (0)
#define cr_assert(c, ...)           SHIM_CHECK((c), #c, __VA_ARGS__)
#define cr_assert_eq(a, b, ...)     SHIM_CHECK((a) == (b), #a " == " #b, __VA_ARGS__)
#define cr_assert_neq(a, b, ...)    SHIM_CHECK((a) != (b), #a " != " #b, __VA_ARGS__)
#define cr_assert_gt(a, b, ...)     SHIM_CHECK((a) > (b), #a " > " #b, __VA_ARGS__)
#define cr_assert_geq(a, b, ...)    SHIM_CHECK((a) >= (b), #a " >= " #b, __VA_ARGS__)
#define cr_assert_lt(a, b, ...)     SHIM_CHECK((a) < (b), #a " < " #b, __VA_ARGS__)
#define cr_assert_leq(a, b, ...)    SHIM_CHECK((a) <= (b), #a " <= " #b, __VA_ARGS__)
#define cr_assert_null(a, ...)      SHIM_CHECK((a) == NULL, #a " == NULL", __VA_ARGS__)
#define cr_assert_not_null(a, ...)  SHIM_CHECK((a) != NULL, #a " != NULL", __VA_ARGS__)
#define cr_assert_str_eq(a, b, ...) SHIM_CHECK(strcmp((a), (b)) == 0, #a " eq " #b, __VA_ARGS__)
/* the shim has no non-fatal checks: an expectation fails the program too */
#define cr_expect(c, ...)       cr_assert(c, __VA_ARGS__)
#define cr_expect_eq(a, b, ...) cr_assert_eq(a, b, __VA_ARGS__)
#define cr_expect_null(a, ...)  cr_assert_null(a, __VA_ARGS__)
#define cr_assert_arr_eq(a, b, n, ...)                                                             \
    SHIM_CHECK(memcmp((a), (b), (n)) == 0, #a " eq " #b, __VA_ARGS__)
#define cr_log_info(...) (fprintf(stderr, __VA_ARGS__), fputc('\n', stderr))

#endif
