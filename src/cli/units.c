/* units.c - durations and sizes on the command line and in the config
 * ("48h", "30d", "2y"; "64M", "16G"). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

bool pt_cli_parse_duration(const char *opt, const char *s, uint64_t *secs)
{
    static const struct {
        char suffix;
        uint64_t mult;
    } units[] = {{'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}, {'w', 604800}, {'y', 31536000}};
    unsigned long long v;
    char *end;

    errno = 0;
    if (!s || !*s || *s == '-' || *s == '+')
        goto bad;
    v = strtoull(s, &end, 10);
    if (errno || end == s)
        goto bad;
    if (*end == '\0') {
        *secs = v;
        return true;
    }
    for (size_t i = 0; i < PT_ARRAY_LEN(units); i++) {
        if (end[0] == units[i].suffix && end[1] == '\0') {
            if (v > UINT64_MAX / units[i].mult)
                goto bad;
            *secs = v * units[i].mult;
            return true;
        }
    }
bad:
    fprintf(stderr,
            "packettracer: %s: '%s' is not a duration (a number with s, m, h, d, w or y, "
            "e.g. 48h)\n",
            opt, s ? s : "");
    return false;
}

bool pt_cli_parse_size(const char *opt, const char *s, uint64_t *bytes)
{
    static const char suffixes[] = "KMGT";
    unsigned long long v;
    char *end;

    errno = 0;
    if (!s || !*s || *s == '-' || *s == '+')
        goto bad;
    v = strtoull(s, &end, 10);
    if (errno || end == s)
        goto bad;
    if (*end == '\0') {
        *bytes = v;
        return true;
    }
    const char *p = strchr(suffixes, *end);
    if (p && *p &&
        (end[1] == '\0' || (end[1] == 'i' && end[2] == 'B' && end[3] == '\0') ||
         (end[1] == 'B' && end[2] == '\0'))) {
        unsigned shift = 10u * (unsigned)(p - suffixes + 1);
        if (v > (UINT64_MAX >> shift))
            goto bad;
        *bytes = (uint64_t)v << shift;
        return true;
    }
bad:
    fprintf(stderr, "packettracer: %s: '%s' is not a size (bytes, or a number with K, M, G or T)\n",
            opt, s ? s : "");
    return false;
}
