/* obuf.h - the record writers' output buffer and text appenders (JSON, CSV).
 *
 * Every record writer (conn records in src/flow/record.c, app records in
 * src/app/write.c) formats one record into a struct pt_obuf on its stack and
 * hands it to stdio with one fwrite (pt_obuf_flush()). The appenders do no
 * printf-style formatting and no allocation: numbers, times, addresses and
 * escaped strings are produced byte by byte. Each appender first makes room
 * for what it may add, flushing the buffer when it is short, so only a field
 * without a length bound (an interface name, a very long string) can make a
 * record take more than one write; the text is the same either way.
 *
 * Text forms, shared by every record so that one stream reads the same:
 *  - times: seconds since the epoch with 6 decimals ("1300475167.096535"),
 *    rounded half up to the microsecond (Zeek's JSON time and interval);
 *  - IPv4 dotted; IPv6 exactly as glibc's inet_ntop() prints it;
 *  - MAC addresses lower-case "aa:bb:cc:dd:ee:ff";
 *  - JSON strings: bytes as they are when they form valid UTF-8; '"', '\'
 *    and \n \r \t escaped; other controls, DEL and every byte that is not
 *    part of valid UTF-8 as \u00XX (so NUL is \u0000 and a lone 0xff is
 *    \u00ff): any byte string becomes valid JSON;
 *  - CSV fields: as they are, or quoted (RFC 4180) when they hold , " CR LF.
 *
 * Thread: a struct pt_obuf belongs to the thread formatting into it; the
 * functions touch nothing else (the FILE is used only by the flushes). */
#ifndef PT_OBUF_H
#define PT_OBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define PT_OBUF_SIZE 4096

struct pt_obuf {
    FILE *out; /* borrowed: where flushes go */
    char *p;   /* next free byte in buf */
    char buf[PT_OBUF_SIZE];
};

/* Start an empty buffer writing to @out. */
static inline void pt_obuf_init(struct pt_obuf *b, FILE *out)
{
    b->out = out;
    b->p = b->buf;
}

/* Write what the buffer holds to its FILE (one fwrite) and empty it. Errors
 * stay in the FILE's error flag: the caller checks ferror() once per record. */
void pt_obuf_flush(struct pt_obuf *b);

/* Make room for @n bytes (n <= PT_OBUF_SIZE) and return the write position;
 * the caller writes at most @n bytes there and moves b->p past them. */
static inline char *pt_obuf_room(struct pt_obuf *b, size_t n)
{
    if ((size_t)(b->buf + sizeof b->buf - b->p) < n)
        pt_obuf_flush(b);
    return b->p;
}

/* Append @n bytes of @s verbatim. A block longer than half the buffer goes
 * straight to the FILE after a flush (same text, fewer copies). */
static inline void pt_obuf_put_mem(struct pt_obuf *b, const char *s, size_t n)
{
    if (n > sizeof b->buf / 2) {
        pt_obuf_flush(b);
        fwrite(s, 1, n, b->out);
        return;
    }
    memcpy(pt_obuf_room(b, n), s, n);
    b->p += n;
}

static inline void pt_obuf_put_c(struct pt_obuf *b, char c)
{
    *pt_obuf_room(b, 1) = c;
    b->p++;
}

/* Append a string literal (its length known at compile time). */
#define PT_OBUF_LIT(b, s) pt_obuf_put_mem((b), "" s, sizeof(s) - 1)

/* Append NUL-terminated @s verbatim. */
static inline void pt_obuf_put_str(struct pt_obuf *b, const char *s)
{
    pt_obuf_put_mem(b, s, strlen(s));
}

/* Append "true" or "false". */
static inline void pt_obuf_put_bool(struct pt_obuf *b, bool v)
{
    if (v)
        PT_OBUF_LIT(b, "true");
    else
        PT_OBUF_LIT(b, "false");
}

/* ---- text into caller memory: each writes at @p and returns the end ---- */

/* @v in decimal: at most 20 bytes. */
char *pt_fmt_u64(char *p, uint64_t v);
/* @a (4 bytes) dotted: at most 15 bytes. */
char *pt_fmt_ipv4(char *p, const uint8_t a[4]);
/* @a (16 bytes) as inet_ntop(AF_INET6) prints it: at most 45 bytes. */
char *pt_fmt_ipv6(char *p, const uint8_t a[16]);

/* ---- appenders ---- */

/* @v in decimal. */
void pt_obuf_put_u64(struct pt_obuf *b, uint64_t v);

/* @v in decimal, with a '-' when negative. */
void pt_obuf_put_i64(struct pt_obuf *b, int64_t v);

/* @ns nanoseconds as seconds with 6 decimals, rounded half up to the
 * microsecond in 64-bit arithmetic (so ns within 500 of UINT64_MAX wrap to
 * 0.000000). For times since the epoch and for intervals. */
void pt_obuf_put_time(struct pt_obuf *b, uint64_t ns);

/* Whole seconds @s (may be negative or beyond what nanoseconds in 64 bits
 * can hold, e.g. a certificate valid until 9999) in the same form as
 * pt_obuf_put_time(): "253402300799.000000". */
void pt_obuf_put_secs(struct pt_obuf *b, int64_t s);

/* Address @a (16 bytes, IPv4 as ::ffff:a.b.c.d) of IP version @ver: the last
 * 4 bytes dotted when @ver is 4, else the IPv6 text. */
void pt_obuf_put_addr(struct pt_obuf *b, const uint8_t a[16], uint8_t ver);

/* Address @a (16 bytes): dotted when it is an IPv4-mapped address
 * (::ffff:a.b.c.d), else IPv6 text. For addresses without a version of their
 * own (certificate SANs). */
void pt_obuf_put_addr_any(struct pt_obuf *b, const uint8_t a[16]);

/* MAC address @m (6 bytes), "aa:bb:cc:dd:ee:ff". */
void pt_obuf_put_mac(struct pt_obuf *b, const uint8_t m[6]);

/* True when @m (6 bytes) is not all zero (zero = unset in records). */
bool pt_mac_set(const uint8_t m[6]);

/* @n bytes of @s as a quoted JSON string (see the file comment). */
void pt_obuf_put_json_str(struct pt_obuf *b, const char *s, size_t n);

/* @n bytes of @s inside CSV quotes: every " doubled (the caller adds the
 * surrounding quotes). */
void pt_obuf_put_csv_quoted(struct pt_obuf *b, const char *s, size_t n);

/* A CSV field: @n bytes of @s as they are, or quoted when they hold , " CR
 * or LF. */
void pt_obuf_put_csv_str(struct pt_obuf *b, const char *s, size_t n);

/* A NUL-terminated char-array field of a record, never read past its array. */
#define PT_FIELD_LEN(a) strnlen((a), sizeof(a))

#endif
