/* common.h - error codes, logging and small helpers shared by every module.
 *
 * Errors: functions return int, 0 on success or a negative value: either a
 * negative errno (-ENOMEM, -EINVAL, ...) or a project code from the reserved
 * range below. pt_strerror() names both.
 *
 * Logging: pt_log() checks the level before it formats anything, so a
 * disabled debug line costs one load and one compare. Logging is never done
 * per packet (see STYLE.md "Hot path"). Thread: any; lines are written with
 * one write(2) each so concurrent lines do not interleave. */
#ifndef PT_COMMON_H
#define PT_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define likely(x)   __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

#define PT_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define PT_CACHELINE    64
#define PT_MAX_IFACES   32 /* interfaces a run can name (flow records keep a 32-bit mask) */

/* Project error codes: a reserved range, far below any errno. */
enum {
    PT_E_BASE = -40000,
    PT_E_FULL = -40000,     /* a bounded table or pool has no room */
    PT_E_BADFILE = -40001,  /* input file is not a capture we can read */
    PT_E_TRUNC = -40002,    /* input file ends inside a record */
    PT_E_LINKTYPE = -40003, /* link-layer type not supported */
    PT_E_BADARG = -40004,   /* bad command-line or config value */
    PT_E_LAST = -40004,
};

/* Name of an error returned by any pt_ function: negative errno or PT_E_*.
 * Returns a static string; never NULL. Thread: any. */
const char *pt_strerror(int err);

enum pt_log_level {
    PT_LOG_ERR = 0,
    PT_LOG_WARN,
    PT_LOG_INFO,
    PT_LOG_DEBUG,
};

/* Current threshold; lines above it are not formatted. Set once at start. */
extern int pt_log_level;

void pt_log_write(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define pt_log(level, ...)                                                                         \
    do {                                                                                           \
        if ((level) <= pt_log_level)                                                               \
            pt_log_write((level), __VA_ARGS__);                                                    \
    } while (0)

/* 64-bit hash of two words: one 64x64->128 multiply, folded, then a final
 * mix, so every input bit reaches every output bit, the low ones included
 * (tables mask them). Thread: any. */
static inline uint64_t pt_hash_words(uint64_t lo, uint64_t hi)
{
    unsigned __int128 m =
        (unsigned __int128)(lo ^ 0xa0761d6478bd642full) * (hi ^ 0xe7037ed1a0b428dbull);
    uint64_t x = (uint64_t)(m >> 64) ^ (uint64_t)m;

    x ^= x >> 32;
    x *= 0xd6e8feb86659fd93ull;
    x ^= x >> 32;
    return x;
}

/* 64-bit hash of a 16-byte address (IPv4 as ::ffff:a.b.c.d): its two words
 * through pt_hash_words(). Thread: any. */
static inline uint64_t pt_addr_hash(const uint8_t a[16])
{
    uint64_t lo, hi;

    memcpy(&lo, a, 8);
    memcpy(&hi, a + 8, 8);
    return pt_hash_words(lo, hi);
}

/* Monotonic clock in nanoseconds. Thread: any. Not for the per-packet path. */
uint64_t pt_now_ns(void);

struct evp_md_st; /* OpenSSL's EVP_MD */

/* Digest @n bytes at @p (NULL only when @n is 0) with @md (an algorithm
 * fetched once with EVP_MD_fetch, borrowed for the call) into @out, which
 * has room for EVP_MAX_MD_SIZE bytes: the bytes EVP_Digest() gives, without
 * its allocations (MD5, SHA-1 and SHA-256 on a stack context; others with
 * one context per calling thread, freed when the thread exits). Returns the
 * digest's length in bytes, 0 when @md is NULL or OpenSSL fails (nothing
 * else is reported). Thread: any. */
unsigned pt_digest(const struct evp_md_st *md, const void *p, size_t n, uint8_t *out);

/* Per-worker counters are written by one thread and read by another (the
 * aggregator, the summary). Relaxed atomic load+store: no lock prefix on the
 * hot path, no data race for the reader. */
#define PT_CNT_ADD(var, n) __atomic_store_n(&(var), (var) + (n), __ATOMIC_RELAXED)
#define PT_CNT_INC(var)    PT_CNT_ADD(var, 1)
#define PT_CNT_GET(var)    __atomic_load_n(&(var), __ATOMIC_RELAXED)
#endif
