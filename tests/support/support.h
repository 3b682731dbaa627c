/* support.h - helpers shared by the criterion tests (never in the product). */
#ifndef PT_TEST_SUPPORT_H
#define PT_TEST_SUPPORT_H

#include <stddef.h>

/* Path of @rel under the shared test data (env PT_TESTDATA, set by `make
 * test`, else ../shared/testdata), absolute when that directory exists.
 * Returns a thread-local buffer overwritten by the next call of this or
 * pt_test_src() in the same thread. */
const char *pt_test_data(const char *rel);

/* Path of @rel under the project checkout (env PT_SRCDIR, else the current
 * directory), absolute as pt_test_data()'s, in the same buffer. */
const char *pt_test_src(const char *rel);

/* Path of the packettracer binary under test (env PT_BIN, else
 * build/release/packettracer), absolute when it exists (a thread-local
 * buffer). */
const char *pt_test_bin(void);

/* The contents of file @path, NUL-terminated, in a malloc'd buffer (caller
 * frees; *@len gets the length if @len is not NULL). NULL if it cannot be
 * opened. */
char *pt_test_slurp(const char *path, size_t *len);

/* Remove @path and everything under it (no symlink followed); a missing
 * @path is not an error. For a test's scratch directory. */
void pt_test_rm_tree(const char *path);

/* Run @cmd with /bin/sh, capture stdout into a malloc'd NUL-terminated buffer
 * (*out, caller frees) and return the exit status (-1 if it did not exit). */
int pt_test_run(const char *cmd, char **out, size_t *outlen);

#endif
