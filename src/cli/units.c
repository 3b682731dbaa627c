/* units.c - durations and sizes on the command line and in the config
 * ("48h", "30d", "2y"; "64M", "16G"). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* @s as an unsigned decimal, maybe followed by a suffix that @unit maps to
 * a multiplier (0: not a suffix; no suffix is 1), into *@out. false when @s
 * is not one or the product overflows. */
static bool parse_scaled(const char *s, uint64_t (*unit)(const char *sfx), uint64_t *out)
{
    unsigned long long v;
    uint64_t mult;
    char *end;

    errno = 0;
    if (!s || !*s || *s == '-' || *s == '+')
        return false;
    v = strtoull(s, &end, 10);
    if (errno || end == s)
        return false;
    mult = *end ? unit(end) : 1;
    if (mult == 0 || v > UINT64_MAX / mult)
        return false;
    *out = v * mult;
    return true;
}

/* s, m, h, d, w (week), y (365 d). */
static uint64_t duration_unit(const char *sfx)
{
    static const struct {
        char suffix;
        uint64_t mult;
    } units[] = {{'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}, {'w', 604800}, {'y', 31536000}};

    for (size_t i = 0; i < PT_ARRAY_LEN(units); i++)
        if (sfx[0] == units[i].suffix && sfx[1] == '\0')
            return units[i].mult;
    return 0;
}

/* K, M, G, T, alone or with "iB" or "B" (powers of 1024 alike). */
static uint64_t size_unit(const char *sfx)
{
    static const char suffixes[] = "KMGT";
    const char *p = strchr(suffixes, sfx[0]);

    if (!p || !*p || (strcmp(sfx + 1, "") && strcmp(sfx + 1, "iB") && strcmp(sfx + 1, "B")))
        return 0;
    return 1ull << (10u * (unsigned)(p - suffixes + 1));
}

bool pt_cli_parse_duration(const char *opt, const char *s, uint64_t *secs)
{
    if (parse_scaled(s, duration_unit, secs))
        return true;
    fprintf(stderr,
            "packettracer: %s: '%s' is not a duration (a number with s, m, h, d, w or y, "
            "e.g. 48h)\n",
            opt, s ? s : "");
    return false;
}

bool pt_cli_parse_size(const char *opt, const char *s, uint64_t *bytes)
{
    if (parse_scaled(s, size_unit, bytes))
        return true;
    fprintf(stderr, "packettracer: %s: '%s' is not a size (bytes, or a number with K, M, G or T)\n",
            opt, s ? s : "");
    return false;
}
