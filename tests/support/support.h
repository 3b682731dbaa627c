/* support.h - helpers shared by the criterion tests (never in the product). */
#ifndef PT_TEST_SUPPORT_H
#define PT_TEST_SUPPORT_H

#include <stddef.h>

/* Absolute path of @rel under the shared test data (env PT_TESTDATA, set by
 * `make test`). Returns a static buffer overwritten by the next call. */
const char *pt_test_data(const char *rel);

/* Absolute path of @rel under the project checkout (env PT_SRCDIR). */
const char *pt_test_src(const char *rel);

/* Path of the packettracer binary under test (env PT_BIN). */
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
