/* timespec.c - time arguments of the query commands, and times and
 * durations as the tables show them.
 *
 * DESIGN: one parser for every --from/--to, with the clock passed in so it is
 * testable: RFC 3339 (date, time, fraction, zone), epoch seconds with an
 * optional fraction, and "-5m"-style offsets from now. Dates become days with
 * the proleptic Gregorian days-from-civil formula (no timegm, no TZ
 * environment), and everything is checked for u64 nanosecond overflow. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "query.h"

#define MAX_SEC (UINT64_MAX / PT_CLI_NS - 1)

/* Read exactly @n decimal digits at *@p. */
static bool fixed_digits(const char **p, unsigned n, unsigned *v)
{
    unsigned x = 0;

    for (unsigned i = 0; i < n; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9')
            return false;
        x = x * 10 + (unsigned)(c - '0');
    }
    *p += n;
    *v = x;
    return true;
}

/* Read one or more digits as a u64 (false on none or overflow). */
static bool u64_digits(const char **p, uint64_t *v)
{
    const char *s = *p;
    uint64_t x = 0;

    if (*s < '0' || *s > '9')
        return false;
    for (; *s >= '0' && *s <= '9'; s++) {
        unsigned d = (unsigned)(*s - '0');
        if (x > (UINT64_MAX - d) / 10)
            return false;
        x = x * 10 + d;
    }
    *p = s;
    *v = x;
    return true;
}

/* ".ddd": up to 9 digits kept as nanoseconds, more are truncated. */
static bool fraction(const char **p, uint64_t *ns)
{
    const char *s = *p;
    uint64_t x = 0;
    unsigned i = 0;

    if (*s != '.')
        return true;
    s++;
    if (*s < '0' || *s > '9')
        return false;
    for (; *s >= '0' && *s <= '9'; s++, i++)
        if (i < 9)
            x = x * 10 + (uint64_t)(*s - '0');
    for (; i < 9; i++)
        x *= 10;
    *p = s;
    *ns = x;
    return true;
}

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static unsigned days_in_month(unsigned y, unsigned m)
{
    static const unsigned dm[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : dm[m - 1];
}

static int to_ns(int64_t sec, uint64_t frac, uint64_t *ns)
{
    if (sec < 0 || (uint64_t)sec > MAX_SEC)
        return PT_E_BADARG;
    *ns = (uint64_t)sec * PT_CLI_NS + frac;
    return 0;
}

/* "YYYY-MM-DD" ["T" "HH:MM:SS" [".frac"] ("Z" | "+HH:MM" | "-HH:MM")] */
static int parse_rfc3339(const char *s, uint64_t *ns)
{
    unsigned y, mo, d, h = 0, mi = 0, se = 0, oh, om;
    uint64_t frac = 0;
    int64_t sec, off = 0;

    if (!fixed_digits(&s, 4, &y) || *s++ != '-' || !fixed_digits(&s, 2, &mo) || *s++ != '-' ||
        !fixed_digits(&s, 2, &d))
        return PT_E_BADARG;
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo))
        return PT_E_BADARG;
    if (*s) {
        if (*s != 'T' && *s != 't' && *s != ' ')
            return PT_E_BADARG;
        s++;
        if (!fixed_digits(&s, 2, &h) || *s++ != ':' || !fixed_digits(&s, 2, &mi) || *s++ != ':' ||
            !fixed_digits(&s, 2, &se) || !fraction(&s, &frac))
            return PT_E_BADARG;
        if (h > 23 || mi > 59 || se > 60) /* 60: a leap second, counted as the next one */
            return PT_E_BADARG;
        if (*s == 'Z' || *s == 'z') {
            s++;
        } else if (*s == '+' || *s == '-') {
            int sign = *s++ == '-' ? -1 : 1;
            if (!fixed_digits(&s, 2, &oh) || *s++ != ':' || !fixed_digits(&s, 2, &om) || oh > 23 ||
                om > 59)
                return PT_E_BADARG;
            off = sign * (int64_t)(oh * 3600 + om * 60);
        } else {
            return PT_E_BADARG; /* a time of day needs its zone */
        }
        if (*s)
            return PT_E_BADARG;
    }
    sec = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - off;
    return to_ns(sec, frac, ns);
}

/* "-N[smhdw]" from @now_ns. */
static int parse_relative(const char *s, uint64_t now_ns, uint64_t *ns)
{
    static const char units[] = "smhdw";
    static const uint64_t mult[] = {1, 60, 3600, 86400, 604800};
    uint64_t n, m = 1;

    if (*s++ != '-' || !u64_digits(&s, &n))
        return PT_E_BADARG;
    if (*s) {
        const char *u = strchr(units, *s);
        if (!u || s[1])
            return PT_E_BADARG;
        m = mult[u - units];
    }
    if (n > MAX_SEC / m || n * m * PT_CLI_NS > now_ns)
        return PT_E_BADARG;
    *ns = now_ns - n * m * PT_CLI_NS;
    return 0;
}

int pt_cli_time_parse(const char *s, uint64_t now_ns, uint64_t *ns)
{
    uint64_t sec, frac = 0;

    if (!s || !*s)
        return PT_E_BADARG;
    if (strncmp(s, "now", 3) == 0) {
        if (!s[3]) {
            *ns = now_ns;
            return 0;
        }
        return parse_relative(s + 3, now_ns, ns);
    }
    if (s[0] == '-')
        return parse_relative(s, now_ns, ns);
    if (strlen(s) >= 10 && s[4] == '-')
        return parse_rfc3339(s, ns);
    if (!u64_digits(&s, &sec) || !fraction(&s, &frac) || *s || sec > MAX_SEC)
        return PT_E_BADARG;
    return to_ns((int64_t)sec, frac, ns);
}

bool pt_cli_parse_time(const char *opt, const char *s, uint64_t now_ns, uint64_t *ns)
{
    if (pt_cli_time_parse(s, now_ns, ns) == 0)
        return true;
    fprintf(stderr,
            "packettracer: %s: '%s' is not a time (RFC 3339 like 2026-11-23T08:02:00Z, "
            "epoch seconds, or relative like -5m, -2h, -1d, now)\n",
            opt, s ? s : "");
    return false;
}

uint64_t pt_cli_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * PT_CLI_NS + (uint64_t)ts.tv_nsec;
}

static bool utc(uint64_t sec, struct tm *tm)
{
    time_t t = (time_t)sec;
    return gmtime_r(&t, tm) != NULL;
}

char *pt_cli_time_rfc3339(char *buf, size_t len, uint64_t sec)
{
    struct tm tm;

    if (!utc(sec, &tm) || !strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm))
        snprintf(buf, len, "%llu", (unsigned long long)sec);
    return buf;
}

char *pt_cli_time_text(char *buf, size_t len, uint64_t ns, bool millis)
{
    struct tm tm;
    size_t n;

    if (!utc(ns / PT_CLI_NS, &tm) || !(n = strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm))) {
        snprintf(buf, len, "%llu", (unsigned long long)(ns / PT_CLI_NS));
        return buf;
    }
    if (millis)
        snprintf(buf + n, len - n, ".%03u", (unsigned)(ns % PT_CLI_NS / 1000000));
    return buf;
}

char *pt_cli_duration_text(char *buf, size_t len, uint64_t ns)
{
    uint64_t s = ns / PT_CLI_NS;

    if (s < 60)
        snprintf(buf, len, "%u.%03us", (unsigned)s, (unsigned)(ns % PT_CLI_NS / 1000000));
    else if (s < 3600)
        snprintf(buf, len, "%um%02us", (unsigned)(s / 60), (unsigned)(s % 60));
    else if (s < 86400)
        snprintf(buf, len, "%uh%02um", (unsigned)(s / 3600), (unsigned)(s % 3600 / 60));
    else
        snprintf(buf, len, "%llud%02uh", (unsigned long long)(s / 86400),
                 (unsigned)(s % 86400 / 3600));
    return buf;
}

char *pt_cli_step_text(char *buf, size_t len, uint64_t step_s)
{
    if (step_s == 60)
        snprintf(buf, len, "1m");
    else if (step_s == 3600)
        snprintf(buf, len, "1h");
    else
        snprintf(buf, len, "%llus", (unsigned long long)step_s);
    return buf;
}
