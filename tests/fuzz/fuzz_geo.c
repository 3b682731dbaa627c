/* fuzz_geo.c - libFuzzer target for opening a MaxMind DB and looking up in it.
 *
 * DESIGN: input = a database image. It is written to a memfd and opened
 * through /proc/self/fd/N in both slots (location and ASN), which runs
 * libmaxminddb's checks and our search-tree walk on it; then a fixed list
 * of addresses plus addresses taken from the image's first bytes are
 * looked up through a small cache. Every answer must be 0 or -EBADMSG with
 * bounded strings. Seeds (run.sh): the small databases of testdata/mmdb.
 * Links src/enrich and libmaxminddb (Makefile rule build/fuzz/%). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "pt/enrich.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
const char *__lsan_default_suppressions(void);

/* libmaxminddb 1.7.1 leaks its entry-data list when MMDB_open rejects a
 * metadata "languages" array holding a non-string (populate_languages_metadata
 * returns without freeing it): a few KiB per bad file opened at start-up,
 * not ours to fix. Found by this target; everything else stays checked. */
const char *__lsan_default_suppressions(void)
{
    return "leak:libmaxminddb.so\n";
}

static const uint8_t fixed[][16] = {
    {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 1, 128, 0, 0},
    {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 128, 128, 128, 128},
    {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 8, 8, 8, 8},
    {0x20, 0x01, 0x17, 0x00},
    {0x2a, 0x02, 0xd5},
    {0x20, 0x02, 0x01, 0x80},
};

static void check(const struct pt_geo *g, struct pt_geo_cache *c, const uint8_t a[16])
{
    struct pt_geo_info in;
    int rc = pt_geo_lookup(g, c, a, &in);

    if ((rc != 0 && rc != -EBADMSG) || in.city_len >= PT_GEO_CITY_MAX ||
        in.org_len >= PT_GEO_ORG_MAX || in.city[in.city_len] || in.org[in.org_len] ||
        strlen(in.cc) > 2 || strlen(in.reg_cc) > 2)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct pt_geo_cache *c;
    char path[64], e1[PT_GEO_ERR_MAX], e2[PT_GEO_ERR_MAX];
    struct pt_geo *g;
    int fd;

    if (size > 0x40000)
        return 0;
    if (!c && !(c = pt_geo_cache_create(16, NULL)))
        abort();
    fd = memfd_create("fuzz-mmdb", 0);
    if (fd < 0)
        abort();
    if (size && write(fd, data, size) != (ssize_t)size)
        abort();
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    g = pt_geo_create(path, path, e1, e2);
    if (!g)
        abort();
    if (pt_geo_has_loc(g) == !!e1[0] || pt_geo_has_asn(g) == !!e2[0])
        abort(); /* open, or an error string: exactly one */
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        check(g, c, fixed[i]);
    for (size_t i = 0; i + 16 <= size && i < 16 * 8; i += 16)
        check(g, c, data + i);
    pt_geo_destroy(g);
    close(fd);
    return 0;
}
