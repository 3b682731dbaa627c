/* obuf.c - text appenders of the record writers (include/pt/obuf.h).
 *
 * DESIGN: records are written by the thousand per second on the record
 * thread, so formatting avoids printf (a format string parsed per field)
 * and works two digits at a time from a table. The text forms are the
 * contract of every record stream (conn, dns, http, ...): changing one here
 * changes them all, and tests/flow/test_record_format.c pins them byte for
 * byte. */
#include "pt/obuf.h"

static const char digits2[] = "00010203040506070809101112131415161718192021222324252627282930313233"
                              "34353637383940414243444546474849505152535455565758596061626364656667"
                              "6869707172737475767778798081828384858687888990919293949596979899";
static const char hexd[] = "0123456789abcdef";

void pt_obuf_flush(struct pt_obuf *b)
{
    if (b->p > b->buf)
        fwrite(b->buf, 1, (size_t)(b->p - b->buf), b->out);
    b->p = b->buf;
}

char *pt_fmt_u64(char *p, uint64_t v)
{
    unsigned n = 3;
    char *e;

    /* Most numbers in a record are small (ports, counts, flags): one or two
     * digits are stored straight away. Otherwise the length comes first, so
     * that the digits go in place, two at a time, with no copy (a memcpy of
     * a variable length was a libc call per number). */
    if (v < 10) {
        *p = (char)('0' + v);
        return p + 1;
    }
    if (v < 100) {
        memcpy(p, digits2 + v * 2, 2);
        return p + 2;
    }
    for (uint64_t t = 1000; n < 20 && v >= t; n++)
        if (n < 19)
            t *= 10; /* 10^19 is the last power of ten in 64 bits */
    e = p + n;
    p = e;
    while (v >= 100) {
        p -= 2;
        memcpy(p, digits2 + (v % 100) * 2, 2);
        v /= 100;
    }
    if (v >= 10)
        memcpy(p - 2, digits2 + v * 2, 2);
    else
        p[-1] = (char)('0' + v);
    return e;
}

void pt_obuf_put_u64(struct pt_obuf *b, uint64_t v)
{
    b->p = pt_fmt_u64(pt_obuf_room(b, 20), v);
}

void pt_obuf_put_i64(struct pt_obuf *b, int64_t v)
{
    char *p = pt_obuf_room(b, 21);

    if (v < 0) {
        *p++ = '-';
        /* negate in unsigned arithmetic: INT64_MIN has no positive twin */
        b->p = pt_fmt_u64(p, 0 - (uint64_t)v);
        return;
    }
    b->p = pt_fmt_u64(p, (uint64_t)v);
}

void pt_obuf_put_time(struct pt_obuf *b, uint64_t ns)
{
    uint64_t us = (ns + 500) / 1000;
    unsigned frac = (unsigned)(us % 1000000);
    char *p = pt_fmt_u64(pt_obuf_room(b, 28), us / 1000000);

    *p++ = '.';
    memcpy(p, digits2 + (frac / 10000) * 2, 2);
    memcpy(p + 2, digits2 + (frac / 100 % 100) * 2, 2);
    memcpy(p + 4, digits2 + (frac % 100) * 2, 2);
    b->p = p + 6;
}

void pt_obuf_put_secs(struct pt_obuf *b, int64_t s)
{
    pt_obuf_put_i64(b, s);
    PT_OBUF_LIT(b, ".000000");
}

char *pt_fmt_ipv4(char *p, const uint8_t a[4])
{
    for (int i = 0; i < 4; i++) {
        unsigned v = a[i];
        if (i)
            *p++ = '.';
        if (v >= 100) {
            *p++ = (char)('0' + v / 100);
            v %= 100;
            memcpy(p, digits2 + v * 2, 2), p += 2;
        } else if (v >= 10) {
            memcpy(p, digits2 + v * 2, 2), p += 2;
        } else {
            *p++ = (char)('0' + v);
        }
    }
    return p;
}

static char *hex16(char *p, unsigned x)
{
    if (x >= 0x1000)
        *p++ = hexd[x >> 12];
    if (x >= 0x100)
        *p++ = hexd[(x >> 8) & 15];
    if (x >= 0x10)
        *p++ = hexd[(x >> 4) & 15];
    *p++ = hexd[x & 15];
    return p;
}

/* The first longest run of two or more zero words becomes "::"; ::a.b.c.d
 * and ::ffff:a.b.c.d keep the IPv4 tail in dotted form (glibc's rules). */
char *pt_fmt_ipv6(char *p, const uint8_t a[16])
{
    unsigned w[8], best = 0, best_len = 0, run = 0, i;

    for (i = 0; i < 8; i++) {
        w[i] = (unsigned)a[2 * i] << 8 | a[2 * i + 1];
        run = w[i] ? 0 : run + 1;
        if (run > best_len)
            best_len = run, best = i + 1 - run;
    }
    if (best_len < 2)
        best_len = 0, best = 8;
    for (i = 0; i < 8; i++) {
        if (i >= best && i < best + best_len) {
            if (i == best)
                *p++ = ':';
            continue;
        }
        if (i)
            *p++ = ':';
        if (i == 6 && best == 0 && (best_len == 6 || (best_len == 5 && w[5] == 0xffff)))
            return pt_fmt_ipv4(p, a + 12);
        p = hex16(p, w[i]);
    }
    if (best_len && best + best_len == 8)
        *p++ = ':';
    return p;
}

void pt_obuf_put_addr(struct pt_obuf *b, const uint8_t a[16], uint8_t ver)
{
    char *p = pt_obuf_room(b, 48);
    b->p = ver == 4 ? pt_fmt_ipv4(p, a + 12) : pt_fmt_ipv6(p, a);
}

void pt_obuf_put_addr_any(struct pt_obuf *b, const uint8_t a[16])
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

    pt_obuf_put_addr(b, a, memcmp(a, mapped, sizeof mapped) == 0 ? 4 : 6);
}

bool pt_mac_set(const uint8_t m[6])
{
    static const uint8_t zero[6];
    return memcmp(m, zero, 6) != 0;
}

void pt_obuf_put_mac(struct pt_obuf *b, const uint8_t m[6])
{
    char *p = pt_obuf_room(b, 17);
    for (int i = 0; i < 6; i++) {
        if (i)
            *p++ = ':';
        *p++ = hexd[m[i] >> 4];
        *p++ = hexd[m[i] & 15];
    }
    b->p = p;
}

/* Length of the valid UTF-8 sequence at @s (1..4, within @avail bytes), 0 if
 * invalid or cut short: overlong forms, surrogates and code points past
 * U+10FFFF are invalid, so what passes through unescaped is strict UTF-8
 * that any JSON reader accepts. */
static size_t utf8_len(const unsigned char *s, size_t avail)
{
    unsigned c = s[0];
    size_t n, i;
    uint32_t cp;

    if (c < 0x80)
        return 1;
    if ((c & 0xe0) == 0xc0)
        n = 2, cp = c & 0x1f;
    else if ((c & 0xf0) == 0xe0)
        n = 3, cp = c & 0x0f;
    else if ((c & 0xf8) == 0xf0)
        n = 4, cp = c & 0x07;
    else
        return 0;
    if (n > avail)
        return 0;
    for (i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
        cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

/* The byte at @s (before @e) as JSON string text, written at *@pp: as it is
 * when printable ASCII, an escape, or the whole valid UTF-8 sequence it
 * starts. At most 6 bytes out; returns the input bytes used and moves *@pp
 * past the output. */
static size_t json_esc(char **pp, const unsigned char *s, const unsigned char *e)
{
    unsigned c = *s;
    char *p = *pp;
    size_t k = 1;

    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
        *p++ = (char)c;
    else if (c == '"' || c == '\\')
        *p++ = '\\', *p++ = (char)c;
    else if (c == '\n')
        *p++ = '\\', *p++ = 'n';
    else if (c == '\r')
        *p++ = '\\', *p++ = 'r';
    else if (c == '\t')
        *p++ = '\\', *p++ = 't';
    else if (c < 0x20 || c == 0x7f || (k = utf8_len(s, (size_t)(e - s))) == 0)
        memcpy(p, "\\u00", 4), p[4] = hexd[c >> 4], p[5] = hexd[c & 15], p += 6, k = 1;
    else
        memcpy(p, s, k), p += k;
    *pp = p;
    return k;
}

/* Are the 8 bytes of @x all printable ASCII other than '"' and '\\' (the
 * bytes a JSON string takes as they are)? Word-at-a-time tests (each exact
 * as a yes/no over the 8 bytes): a byte below 0x20, a byte with the top bit
 * set, or a byte equal to 0x7f, '"' or '\\'. */
static bool json_plain8(uint64_t x)
{
    const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
#define HAS_ZERO(v) (((v)-ones) & ~(v)&high)
    uint64_t bad = ((x - ones * 0x20) & ~x & high) | (x & high) | HAS_ZERO(x ^ (ones * 0x7f)) |
                   HAS_ZERO(x ^ (ones * '"')) | HAS_ZERO(x ^ (ones * '\\'));
#undef HAS_ZERO
    return bad == 0;
}

void pt_obuf_put_json_str(struct pt_obuf *b, const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str, *e = s + n;

    /* Fast path, every string of a usual record: room for the worst case
     * (6 bytes out per byte in, and the quotes) is made once, then plain
     * text is copied 8 bytes at a time (bench/offline: escaping was the
     * largest cost of writing the app records). */
    if (n <= (PT_OBUF_SIZE - 2) / 6) {
        char *p = pt_obuf_room(b, 6 * n + 2);

        *p++ = '"';
        while (s < e) {
            uint64_t x;
            if (e - s >= 8 && (memcpy(&x, s, 8), json_plain8(x))) {
                memcpy(p, &x, 8);
                p += 8, s += 8;
            } else if (*s >= 0x20 && *s < 0x7f && *s != '"' && *s != '\\') {
                *p++ = (char)*s++;
            } else {
                s += json_esc(&p, s, e);
            }
        }
        *p++ = '"';
        b->p = p;
        return;
    }
    pt_obuf_put_c(b, '"');
    while (s < e) {
        /* a long string: copy each run of printable ASCII with one put */
        const unsigned char *r = s;
        while (r < e && *r >= 0x20 && *r < 0x7f && *r != '"' && *r != '\\')
            r++;
        if (r > s) {
            pt_obuf_put_mem(b, (const char *)s, (size_t)(r - s));
            s = r;
            continue;
        }
        char *p = pt_obuf_room(b, 6);
        s += json_esc(&p, s, e);
        b->p = p;
    }
    pt_obuf_put_c(b, '"');
}

void pt_obuf_put_csv_quoted(struct pt_obuf *b, const char *s, size_t n)
{
    const char *q;

    while ((q = memchr(s, '"', n)) != NULL) {
        pt_obuf_put_mem(b, s, (size_t)(q - s) + 1);
        pt_obuf_put_c(b, '"');
        n -= (size_t)(q - s) + 1;
        s = q + 1;
    }
    pt_obuf_put_mem(b, s, n);
}

void pt_obuf_put_csv_str(struct pt_obuf *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] == ',' || s[i] == '"' || s[i] == '\r' || s[i] == '\n') {
            pt_obuf_put_c(b, '"');
            pt_obuf_put_csv_quoted(b, s, n);
            pt_obuf_put_c(b, '"');
            return;
        }
    }
    pt_obuf_put_mem(b, s, n);
}
