/* test_obuf.c - pt_obuf_put_json_str() against a byte-at-a-time reference
 * written from the contract in pt/obuf.h: its word-at-a-time fast path and
 * its long-string path must give the same text for every byte, at every
 * position relative to the 8-byte words, and on both sides of the length
 * where the fast path stops. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pt/obuf.h"

/* Length of the strict UTF-8 sequence at @s (within @n bytes), 0 if none. */
static size_t ref_utf8(const unsigned char *s, size_t n)
{
    size_t len;
    uint32_t cp, min;

    if (s[0] >= 0xc2 && s[0] <= 0xdf)
        len = 2, cp = s[0] & 0x1fu, min = 0x80;
    else if (s[0] >= 0xe0 && s[0] <= 0xef)
        len = 3, cp = s[0] & 0x0fu, min = 0x800;
    else if (s[0] >= 0xf0 && s[0] <= 0xf4)
        len = 4, cp = s[0] & 0x07u, min = 0x10000;
    else
        return 0;
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3fu);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

/* The contract, one byte at a time, into @out (6 * n + 3 bytes). */
static size_t ref_json(char *out, const unsigned char *s, size_t n)
{
    char *p = out;

    *p++ = '"';
    for (size_t i = 0; i < n;) {
        unsigned c = s[i];
        size_t k;
        if (c == '"' || c == '\\') {
            p += sprintf(p, "\\%c", c);
        } else if (c == '\n') {
            p += sprintf(p, "\\n");
        } else if (c == '\r') {
            p += sprintf(p, "\\r");
        } else if (c == '\t') {
            p += sprintf(p, "\\t");
        } else if (c >= 0x20 && c < 0x7f) {
            *p++ = (char)c;
        } else if (c >= 0x80 && (k = ref_utf8(s + i, n - i)) != 0) {
            memcpy(p, s + i, k);
            p += k;
            i += k;
            continue;
        } else {
            p += sprintf(p, "\\u00%02x", c);
        }
        i++;
    }
    *p++ = '"';
    return (size_t)(p - out);
}

/* pt_obuf_put_json_str() of @s, after @pre bytes already in the buffer (so
 * the flushes fall at different places), compared with the reference. */
static void check(const unsigned char *s, size_t n, size_t pre)
{
    char *buf = NULL, *want = malloc(6 * n + 3);
    size_t len = 0, wn;
    FILE *f = open_memstream(&buf, &len);
    struct pt_obuf b;

    cr_assert_not_null(f);
    cr_assert_not_null(want);
    pt_obuf_init(&b, f);
    for (size_t i = 0; i < pre; i++)
        pt_obuf_put_c(&b, 'x');
    pt_obuf_put_json_str(&b, (const char *)s, n);
    pt_obuf_flush(&b);
    cr_assert_eq(fclose(f), 0);
    wn = ref_json(want, s, n);
    cr_assert_eq(len, pre + wn, "length %zu (pre %zu): %zu bytes, want %zu", n, pre, len - pre, wn);
    cr_assert_eq(memcmp(buf + pre, want, wn), 0, "length %zu (pre %zu): %.*s vs %.*s", n, pre,
                 (int)(len - pre), buf + pre, (int)wn, want);
    free(buf);
    free(want);
}

/* Every byte value at every offset of the first two 8-byte words of a plain
 * string, and as the last byte: each must leave the fast path exactly when
 * the contract says. */
Test(obuf, json_every_byte_at_every_offset)
{
    unsigned char s[24];

    for (unsigned c = 0; c < 256; c++) {
        for (size_t at = 0; at < sizeof s; at++) {
            memset(s, 'a', sizeof s);
            s[at] = (unsigned char)c;
            check(s, sizeof s, 0);
            check(s, at + 1, 0);
        }
    }
}

/* UTF-8 sequences (valid, overlong, surrogate, too high, cut short)
 * straddling the 8-byte words and the end of the string. */
Test(obuf, json_utf8_across_words)
{
    static const char *const seq[] = {
        "\xc3\xa9",
        "\xe2\x82\xac",
        "\xf0\x9f\x98\x80",
        "\xc0\xaf",
        "\xe0\x80\xaf",
        "\xed\xa0\x80",
        "\xf4\x90\x80\x80",
        "\xf0\x9f\x98",
        "\xe2\x82",
        "\xc3",
        "\x80",
        "\xff",
        "\xef\xbf\xbf",
        "\xf4\x8f\xbf\xbf",
        "\xc2\x80",
        "\x7f\x1f\"\\",
    };
    unsigned char s[32];

    for (size_t q = 0; q < sizeof seq / sizeof *seq; q++) {
        size_t k = strlen(seq[q]);
        for (size_t at = 0; at + k <= sizeof s; at++) {
            memset(s, 'b', sizeof s);
            memcpy(s + at, seq[q], k);
            check(s, sizeof s, 0);
            check(s, at + k, 0);
        }
    }
}

/* Random strings, mostly plain with some of everything, of every length
 * around the fast path's limit ((PT_OBUF_SIZE - 2) / 6 = 682) and longer
 * than the buffer, written after 0 to PT_OBUF_SIZE - 1 bytes already held. */
Test(obuf, json_random_lengths_and_flushes)
{
    size_t cap = 3 * PT_OBUF_SIZE;
    unsigned char *s = malloc(cap);
    uint64_t x = 0x9e3779b97f4a7c15ull;

    cr_assert_not_null(s);
    for (unsigned round = 0; round < 1500; round++) {
        size_t n = round < 1000 ? round % 700 : 600 + (round * 37) % (cap - 600);
        for (size_t i = 0; i < n; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            unsigned r = (unsigned)(x >> 32);
            s[i] = (r & 7) ? (unsigned char)(0x20 + r % 95) : (unsigned char)(r >> 8);
        }
        check(s, n, (round * 131) % PT_OBUF_SIZE);
    }
    free(s);
}

/* pt_fmt_u64() and its digit count at every power of ten, either side of
 * it, and at random values, against printf. */
Test(obuf, fmt_u64_every_length)
{
    char got[32], want[32];
    uint64_t x = 0x2545f4914f6cdd1dull, p = 1;

    for (unsigned k = 0; k <= 20; k++) {
        uint64_t vals[] = {p - 1, p, p + 1, p * 2 - 1, UINT64_MAX - k, x};
        for (size_t i = 0; i < sizeof vals / sizeof *vals; i++) {
            char *e = pt_fmt_u64(got, vals[i]);
            *e = '\0';
            snprintf(want, sizeof want, "%llu", (unsigned long long)vals[i]);
            cr_assert_str_eq(got, want);
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            vals[5] = x >> (x & 63);
        }
        if (k < 19)
            p *= 10;
    }
}
