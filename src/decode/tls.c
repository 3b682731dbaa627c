/* tls.c - TLS handshake parser (see include/pt/tls.h for the contract).
 *
 * DESIGN: two layers per direction, both resumable at any byte.
 *   1. Record layer: a 5-byte header is collected (it may straddle
 *      segments), checked (content type 20..24, version 3.x with x <= 4,
 *      length <= 2^14 + 2048), then the body is either handed to the
 *      handshake layer (type 22), skipped (the ChangeCipherSpec that follows
 *      a HelloRetryRequest), or ends the direction (ChangeCipherSpec, alert,
 *      application data, heartbeat: what follows is encrypted or over).
 *   2. Handshake layer: handshake messages form their own byte stream
 *      across records. A 4-byte header is collected, then the message is
 *      either copied into the shared buffer (ClientHello, ServerHello),
 *      skipped by length, or, for a TLS <= 1.2 Certificate, read as a
 *      6-byte prefix (list length, first certificate length) followed by
 *      the leaf certificate alone into the buffer.
 * When a buffered message is complete it is parsed from the buffer, the
 * fingerprints are computed (once), and the direction either stops or goes
 * on to the next message it wants. Work per fed byte is constant; the parse
 * of a complete message is linear in its size (the JA4 sorts are shell
 * sorts over at most PT_TLS_BUF_SIZE / 2 entries). The JA3/JA4 strings are
 * built on the stack (about 20 KiB at most) so the hashes cover the whole
 * strings whatever the result arrays keep. */
#include <errno.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "pt/obuf.h"
#include "pt/tls.h"

_Static_assert(sizeof(struct pt_tls_result) == 2088, "update the size in tls.h");
_Static_assert(sizeof(struct pt_tls_state) == 6256, "update the size in tls.h");
_Static_assert(PT_TLS_BUF_SIZE <= 0xffff, "buf_len and buf_want are 16-bit");

#define REC_MAX_LEN (16384 + 2048) /* TLSCiphertext bound (RFC 5246 6.2.3) */

enum hs_phase { HS_HDR = 0, HS_BUF, HS_SKIP, HS_CERT_PREFIX, HS_CERT_BUF };

enum {
    CT_CCS = 20,
    CT_ALERT = 21,
    CT_HANDSHAKE = 22,
    CT_APPDATA = 23,
    CT_HEARTBEAT = 24,
};

enum {
    HT_HELLO_REQUEST = 0,
    HT_CLIENT_HELLO = 1,
    HT_SERVER_HELLO = 2,
    HT_HRR_DRAFT = 6, /* hello_retry_request, TLS 1.3 drafts before 22 */
    HT_CERTIFICATE = 11,
    HT_SERVER_KEY_EXCHANGE = 12,
    HT_CERTIFICATE_REQUEST = 13,
    HT_SERVER_HELLO_DONE = 14,
    HT_CERTIFICATE_STATUS = 22,
};

enum {
    EXT_SNI = 0,
    EXT_GROUPS = 10,
    EXT_POINT_FORMATS = 11,
    EXT_SIG_ALGS = 13,
    EXT_ALPN = 16,
    EXT_SUPPORTED_VERSIONS = 43,
};

static const char *const err_names[PT_TLS_E_MAX] = {
    [PT_TLS_E_NONE] = "app.tls.ok",
    [PT_TLS_E_NOT_TLS] = "app.tls.not_tls",
    [PT_TLS_E_SSLV2] = "app.tls.sslv2_hello",
    [PT_TLS_E_RECORD_BAD] = "app.tls.record.bad_header",
    [PT_TLS_E_HS_UNEXPECTED] = "app.tls.handshake.unexpected",
    [PT_TLS_E_TOO_BIG] = "app.tls.handshake.too_big",
    [PT_TLS_E_CH_TRUNC] = "app.tls.client_hello.truncated",
    [PT_TLS_E_SH_TRUNC] = "app.tls.server_hello.truncated",
    [PT_TLS_E_EXT_BAD] = "app.tls.extension.bad_length",
    [PT_TLS_E_INCOMPLETE] = "app.tls.handshake.incomplete",
    [PT_TLS_E_GAP] = "app.tls.gap",
    [PT_TLS_E_ALERT] = "app.tls.alert",
    [PT_TLS_E_SNI_TRUNC] = "app.tls.sni.truncated",
    [PT_TLS_E_ALPN_TRUNC] = "app.tls.alpn.truncated",
    [PT_TLS_E_VERS_TRUNC] = "app.tls.supported_versions.truncated",
    [PT_TLS_E_JA3_TRUNC] = "app.tls.ja3.truncated",
    [PT_TLS_E_HASH] = "app.tls.hash_unavailable",
    [PT_TLS_E_CERT_BAD] = "app.tls.cert.bad_der",
    [PT_TLS_E_CERT_TOO_BIG] = "app.tls.cert.too_big",
    [PT_TLS_E_CERT_TIME] = "app.tls.cert.bad_time",
    [PT_TLS_E_DN_TRUNC] = "app.tls.cert.name_truncated",
    [PT_TLS_E_SAN_TRUNC] = "app.tls.cert.san_truncated",
};

const char *pt_tls_err_name(unsigned err)
{
    if (err < PT_TLS_E_MAX && err_names[err])
        return err_names[err];
    return "app.tls.unknown";
}

void pt_tls_stats_merge(struct pt_tls_stats *dst, const struct pt_tls_stats *src)
{
    PT_CNT_ADD(dst->client_hellos, PT_CNT_GET(src->client_hellos));
    PT_CNT_ADD(dst->server_hellos, PT_CNT_GET(src->server_hellos));
    PT_CNT_ADD(dst->certs, PT_CNT_GET(src->certs));
    for (unsigned i = 0; i < PT_TLS_E_MAX; i++)
        PT_CNT_ADD(dst->err[i], PT_CNT_GET(src->err[i]));
}

void pt_tls_version_name(uint16_t v, char out[24])
{
    /* the names of every version seen in practice are copied, not printed:
     * one per ssl record (bench/offline) */
    const char *name = NULL;

    switch (v) {
    case 0x0002:
        name = "SSLv2";
        break;
    case 0x0300:
        name = "SSLv3";
        break;
    case 0x0301:
        name = "TLSv10";
        break;
    case 0x0302:
        name = "TLSv11";
        break;
    case 0x0303:
        name = "TLSv12";
        break;
    case 0x0304:
        name = "TLSv13";
        break;
    case 0xfeff:
        name = "DTLSv10";
        break;
    case 0xfefd:
        name = "DTLSv12";
        break;
    case 0xfefc:
        name = "DTLSv13";
        break;
    }
    if (name)
        memcpy(out, name, strlen(name) + 1);
    else if (v / 0xff == 0x7f) /* Zeek's test and arithmetic for TLS 1.3 drafts */
        snprintf(out, 24, "TLSv13-draft%u", (unsigned)(v % 0x7f));
    else
        snprintf(out, 24, "unknown-%u", (unsigned)v);
}

struct cipher_name {
    uint16_t id;
    const char *name;
};

/* The suites seen in practice, by IANA name (Zeek's cipher_desc uses the
 * same names). Sorted by id for the binary search. */
static const struct cipher_name cipher_names[] = {
    {0x0001, "TLS_RSA_WITH_NULL_MD5"},
    {0x0002, "TLS_RSA_WITH_NULL_SHA"},
    {0x0004, "TLS_RSA_WITH_RC4_128_MD5"},
    {0x0005, "TLS_RSA_WITH_RC4_128_SHA"},
    {0x000a, "TLS_RSA_WITH_3DES_EDE_CBC_SHA"},
    {0x0016, "TLS_DHE_RSA_WITH_3DES_EDE_CBC_SHA"},
    {0x002f, "TLS_RSA_WITH_AES_128_CBC_SHA"},
    {0x0032, "TLS_DHE_DSS_WITH_AES_128_CBC_SHA"},
    {0x0033, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA"},
    {0x0035, "TLS_RSA_WITH_AES_256_CBC_SHA"},
    {0x0038, "TLS_DHE_DSS_WITH_AES_256_CBC_SHA"},
    {0x0039, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA"},
    {0x003c, "TLS_RSA_WITH_AES_128_CBC_SHA256"},
    {0x003d, "TLS_RSA_WITH_AES_256_CBC_SHA256"},
    {0x0041, "TLS_RSA_WITH_CAMELLIA_128_CBC_SHA"},
    {0x0045, "TLS_DHE_RSA_WITH_CAMELLIA_128_CBC_SHA"},
    {0x0067, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256"},
    {0x006b, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA256"},
    {0x0084, "TLS_RSA_WITH_CAMELLIA_256_CBC_SHA"},
    {0x0088, "TLS_DHE_RSA_WITH_CAMELLIA_256_CBC_SHA"},
    {0x009c, "TLS_RSA_WITH_AES_128_GCM_SHA256"},
    {0x009d, "TLS_RSA_WITH_AES_256_GCM_SHA384"},
    {0x009e, "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256"},
    {0x009f, "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384"},
    {0x00ff, "TLS_EMPTY_RENEGOTIATION_INFO_SCSV"},
    {0x1301, "TLS_AES_128_GCM_SHA256"},
    {0x1302, "TLS_AES_256_GCM_SHA384"},
    {0x1303, "TLS_CHACHA20_POLY1305_SHA256"},
    {0x1304, "TLS_AES_128_CCM_SHA256"},
    {0x1305, "TLS_AES_128_CCM_8_SHA256"},
    {0x5600, "TLS_FALLBACK_SCSV"},
    {0xc007, "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA"},
    {0xc008, "TLS_ECDHE_ECDSA_WITH_3DES_EDE_CBC_SHA"},
    {0xc009, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA"},
    {0xc00a, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA"},
    {0xc011, "TLS_ECDHE_RSA_WITH_RC4_128_SHA"},
    {0xc012, "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA"},
    {0xc013, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"},
    {0xc014, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA"},
    {0xc023, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256"},
    {0xc024, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384"},
    {0xc027, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256"},
    {0xc028, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384"},
    {0xc02b, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"},
    {0xc02c, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"},
    {0xc02f, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"},
    {0xc030, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"},
    {0xc09c, "TLS_RSA_WITH_AES_128_CCM"},
    {0xc09d, "TLS_RSA_WITH_AES_256_CCM"},
    {0xc0ac, "TLS_ECDHE_ECDSA_WITH_AES_128_CCM"},
    {0xc0ad, "TLS_ECDHE_ECDSA_WITH_AES_256_CCM"},
    {0xcc13, "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256_OLD"},
    {0xcc14, "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256_OLD"},
    {0xcca8, "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"},
    {0xcca9, "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"},
    {0xccaa, "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256"},
};

const char *pt_tls_cipher_name(uint16_t cs)
{
    size_t lo = 0, hi = PT_ARRAY_LEN(cipher_names);

    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cipher_names[mid].id == cs)
            return cipher_names[mid].name;
        if (cipher_names[mid].id < cs)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

bool pt_tls_list_next(const uint8_t *list, size_t list_len, size_t *off, const uint8_t **item,
                      size_t *item_len)
{
    if (*off >= list_len || list[*off] > list_len - *off - 1)
        return false;
    *item = list + *off + 1;
    *item_len = list[*off];
    *off += 1 + (size_t)list[*off];
    return true;
}

/* ---- hashing: algorithms fetched once per process (see record.c) ---- */

static pthread_once_t md_once = PTHREAD_ONCE_INIT;
static EVP_MD *md5_md, *sha256_md;

static void md_fetch(void)
{
    md5_md = EVP_MD_fetch(NULL, "MD5", NULL);
    sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static void hex(char *out, const uint8_t *p, size_t n)
{
    static const char hx[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hx[p[i] >> 4];
        out[2 * i + 1] = hx[p[i] & 15];
    }
    out[2 * n] = '\0';
}

/* Hex digest of @s (@n bytes) with @md into @out, cut to @hexlen digits.
 * False (and @out empty) when the digest is unavailable. */
static bool digest_hex(const EVP_MD *md, const char *s, size_t n, char *out, size_t hexlen)
{
    uint8_t d[EVP_MAX_MD_SIZE];
    unsigned dl = 0;
    char h[2 * EVP_MAX_MD_SIZE + 1];

    out[0] = '\0';
    if (!(dl = pt_digest(md, s, n, d)) || 2 * (size_t)dl < hexlen)
        return false;
    hex(h, d, (hexlen + 1) / 2); /* only the digits kept (JA4: 12 of 64) */
    memcpy(out, h, hexlen);
    out[hexlen] = '\0';
    return true;
}

/* ---- bounds-checked reader over a complete message ---- */

struct rd {
    const uint8_t *p;
    size_t n;
};

static inline bool rd_u8(struct rd *r, unsigned *v)
{
    if (r->n < 1)
        return false;
    *v = r->p[0];
    r->p++;
    r->n--;
    return true;
}

static inline bool rd_u16(struct rd *r, unsigned *v)
{
    if (r->n < 2)
        return false;
    *v = (unsigned)r->p[0] << 8 | r->p[1];
    r->p += 2;
    r->n -= 2;
    return true;
}

/* Split off the next @len bytes as their own reader. */
static inline bool rd_sub(struct rd *r, size_t len, struct rd *sub)
{
    if (r->n < len)
        return false;
    sub->p = r->p;
    sub->n = len;
    r->p += len;
    r->n -= len;
    return true;
}

/* A vector with a @lb-byte length prefix. */
static inline bool rd_vec(struct rd *r, unsigned lb, struct rd *sub)
{
    unsigned len;

    if (!(lb == 1 ? rd_u8(r, &len) : rd_u16(r, &len)))
        return false;
    return rd_sub(r, len, sub);
}

static bool is_grease(unsigned v)
{
    return (v & 0x0f0f) == 0x0a0a && (v >> 8) == (v & 0xff);
}

/* ---- string building for the fingerprints ---- */

#define FP_CAP (3 * PT_TLS_BUF_SIZE + 64) /* bounds any JA3/JA4 string (see DESIGN) */

struct fp {
    char s[FP_CAP];
    size_t n;
};

static void fp_putc(struct fp *f, char c)
{
    if (f->n < FP_CAP - 1)
        f->s[f->n++] = c;
}

static void fp_puts(struct fp *f, const char *t)
{
    while (*t)
        fp_putc(f, *t++);
}

/* Is there room for @k more characters (and the NUL)? When there is, a
 * number and its separator are written in one go; only a string at FP_CAP
 * (a crafted hello) takes the character-by-character path, which cuts it
 * where it would have been cut anyway. */
static bool fp_room(const struct fp *f, size_t k)
{
    return f->n + k <= FP_CAP - 1;
}

/* @v in decimal, after @sep when not 0. With room for the longest (6
 * characters) it is written through a local cursor and f->n stored once (a
 * char store may alias f->n: writing through f reloads and stores it for
 * every character); else character by character, cut at FP_CAP. */
static void fp_dec(struct fp *f, char sep, unsigned v)
{
    if (v < 100000 && fp_room(f, 6)) {
        char *p = f->s + f->n;
        if (sep)
            *p++ = sep;
        f->n = (size_t)(pt_fmt_u64(p, v) - f->s);
        return;
    }
    char t[12], *p = t + sizeof t;
    *--p = '\0';
    do
        *--p = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    if (sep)
        fp_putc(f, sep);
    fp_puts(f, p);
}

/* @v as 4 lower-case hex digits, after @sep when not 0. */
static void fp_hex4(struct fp *f, char sep, unsigned v)
{
    static const char hex[] = "0123456789abcdef";

    if (fp_room(f, 5)) {
        char *d = f->s + f->n;
        if (sep)
            *d++ = sep;
        d[0] = hex[(v >> 12) & 15];
        d[1] = hex[(v >> 8) & 15];
        d[2] = hex[(v >> 4) & 15];
        d[3] = hex[v & 15];
        f->n = (size_t)(d + 4 - f->s);
        return;
    }
    if (sep)
        fp_putc(f, sep);
    fp_putc(f, hex[(v >> 12) & 15]);
    fp_putc(f, hex[(v >> 8) & 15]);
    fp_putc(f, hex[(v >> 4) & 15]);
    fp_putc(f, hex[v & 15]);
}

/* u16 values of @r (2 bytes each), GREASE dropped, '-' separated, decimal:
 * the cipher and group lists, the longest parts of a JA3 string, through a
 * local cursor while there is room for a whole entry. */
static void fp_dec_list16(struct fp *f, struct rd r)
{
    char *p = f->s + f->n, *lim = f->s + FP_CAP - 1;
    unsigned v;
    bool first = true;

    while (rd_u16(&r, &v)) {
        if (is_grease(v))
            continue;
        if (lim - p >= 6) {
            if (!first)
                *p++ = '-';
            p = pt_fmt_u64(p, v);
        } else {
            f->n = (size_t)(p - f->s);
            fp_dec(f, first ? 0 : '-', v);
            p = f->s + f->n;
        }
        first = false;
    }
    f->n = (size_t)(p - f->s);
}

/* Shell sort; a short list (the usual ClientHello has 10 to 40 entries)
 * goes straight to the final insertion pass, with the gap-1 loop written
 * out so that it compiles to a plain insertion sort. */
static void sort16(uint16_t *a, size_t n)
{
    static const size_t gaps[] = {701, 301, 132, 57, 23, 10, 4};

    for (size_t g = 0; n > 16 && g < PT_ARRAY_LEN(gaps); g++) {
        size_t gap = gaps[g];
        for (size_t i = gap; i < n; i++) {
            uint16_t t = a[i];
            size_t j = i;
            for (; j >= gap && a[j - gap] > t; j -= gap)
                a[j] = a[j - gap];
            a[j] = t;
        }
    }
    for (size_t i = 1; i < n; i++) {
        uint16_t t = a[i];
        size_t j = i;
        for (; j > 0 && a[j - 1] > t; j--)
            a[j] = a[j - 1];
        a[j] = t;
    }
}

/* ---- ClientHello ---- */

/* What the fingerprints need from a ClientHello, as views into the buffer. */
struct ch_view {
    unsigned version;
    struct rd ciphers, exts_all, groups, points, sigalgs, alpn_first;
    bool has_groups, has_points, has_sigalgs, has_sni, has_alpn;
    unsigned top_version; /* highest non-GREASE supported_versions entry, 0 if none */
};

static void count(struct pt_tls_state *s, unsigned e)
{
    if (s->stats)
        PT_CNT_INC(s->stats->err[e]);
}

static void ch_sni(struct pt_tls_state *s, struct rd body)
{
    struct rd list, name;
    unsigned type;
    struct pt_tls_result *r = &s->res;

    if (!rd_vec(&body, 2, &list)) {
        count(s, PT_TLS_E_EXT_BAD);
        return;
    }
    while (list.n) {
        if (!rd_u8(&list, &type) || !rd_vec(&list, 2, &name)) {
            count(s, PT_TLS_E_EXT_BAD);
            return;
        }
        if (type != 0 || (r->flags & PT_TLS_F_SNI))
            continue;
        size_t k = name.n;
        if (k > PT_TLS_SNI_MAX - 1) {
            k = PT_TLS_SNI_MAX - 1;
            count(s, PT_TLS_E_SNI_TRUNC);
        }
        memcpy(r->server_name, name.p, k);
        r->server_name[k] = '\0';
        r->sni_len = (uint16_t)k;
        r->flags |= PT_TLS_F_SNI;
    }
}

static void ch_alpn(struct pt_tls_state *s, struct rd body, struct ch_view *v)
{
    struct rd list, name;
    struct pt_tls_result *r = &s->res;
    bool first = true, cut = false;

    if (!rd_vec(&body, 2, &list)) {
        count(s, PT_TLS_E_EXT_BAD);
        return;
    }
    r->flags |= PT_TLS_F_ALPN;
    v->has_alpn = true;
    while (list.n) {
        if (!rd_vec(&list, 1, &name)) {
            count(s, PT_TLS_E_EXT_BAD);
            return;
        }
        if (first)
            v->alpn_first = name;
        first = false;
        if (cut || 1 + name.n > sizeof r->alpn - r->alpn_len) {
            cut = true;
            continue;
        }
        r->alpn[r->alpn_len] = (uint8_t)name.n;
        memcpy(r->alpn + r->alpn_len + 1, name.p, name.n);
        r->alpn_len = (uint16_t)(r->alpn_len + 1 + name.n);
    }
    if (cut)
        count(s, PT_TLS_E_ALPN_TRUNC);
}

static void ch_versions(struct pt_tls_state *s, struct rd body, struct ch_view *v)
{
    struct rd list;
    unsigned ver;
    struct pt_tls_result *r = &s->res;

    if (!rd_vec(&body, 1, &list) || (list.n & 1)) {
        count(s, PT_TLS_E_EXT_BAD);
        return;
    }
    r->flags |= PT_TLS_F_SV;
    while (rd_u16(&list, &ver)) {
        if (r->n_versions < PT_TLS_VERS_MAX)
            r->versions[r->n_versions++] = (uint16_t)ver;
        else if (r->n_versions++ == PT_TLS_VERS_MAX) /* count once */
            count(s, PT_TLS_E_VERS_TRUNC);
        if (!is_grease(ver) && ver > v->top_version)
            v->top_version = ver;
    }
    if (r->n_versions > PT_TLS_VERS_MAX)
        r->n_versions = PT_TLS_VERS_MAX;
}

/* Walk the extensions block, filling @v and the result. False when the
 * block's framing lies. */
static bool ch_extensions(struct pt_tls_state *s, struct rd exts, struct ch_view *v)
{
    while (exts.n) {
        unsigned type;
        struct rd body, tmp;

        if (!rd_u16(&exts, &type) || !rd_vec(&exts, 2, &body))
            return false;
        switch (type) {
        case EXT_SNI:
            v->has_sni = true;
            ch_sni(s, body);
            break;
        case EXT_GROUPS:
            if (rd_vec(&body, 2, &tmp) && !(tmp.n & 1)) {
                v->groups = tmp;
                v->has_groups = true;
            } else {
                count(s, PT_TLS_E_EXT_BAD);
            }
            break;
        case EXT_POINT_FORMATS:
            if (rd_vec(&body, 1, &tmp)) {
                v->points = tmp;
                v->has_points = true;
            } else {
                count(s, PT_TLS_E_EXT_BAD);
            }
            break;
        case EXT_SIG_ALGS:
            if (rd_vec(&body, 2, &tmp) && !(tmp.n & 1)) {
                v->sigalgs = tmp;
                v->has_sigalgs = true;
            } else {
                count(s, PT_TLS_E_EXT_BAD);
            }
            break;
        case EXT_ALPN:
            ch_alpn(s, body, v);
            break;
        case EXT_SUPPORTED_VERSIONS:
            ch_versions(s, body, v);
            break;
        }
    }
    return true;
}

/* JA3: SSLVersion,Ciphers,Extensions,EllipticCurves,EllipticCurvePointFormats
 * in decimal, GREASE (RFC 8701) values dropped from every list. */
static void ja3_make(struct pt_tls_state *s, const struct ch_view *v, struct fp *f)
{
    struct pt_tls_result *r = &s->res;
    struct rd e = v->exts_all;
    unsigned type, pf;
    bool first = true;

    f->n = 0;
    fp_dec(f, 0, v->version);
    fp_putc(f, ',');
    fp_dec_list16(f, v->ciphers);
    fp_putc(f, ',');
    while (e.n) {
        struct rd body;
        if (!rd_u16(&e, &type) || !rd_vec(&e, 2, &body))
            break;
        if (is_grease(type))
            continue;
        fp_dec(f, first ? 0 : '-', type);
        first = false;
    }
    fp_putc(f, ',');
    if (v->has_groups)
        fp_dec_list16(f, v->groups);
    fp_putc(f, ',');
    if (v->has_points) {
        struct rd p = v->points;
        first = true;
        while (rd_u8(&p, &pf)) {
            fp_dec(f, first ? 0 : '-', pf);
            first = false;
        }
    }
    f->s[f->n] = '\0';
    size_t k = f->n;
    if (k > sizeof r->ja3 - 1) {
        k = sizeof r->ja3 - 1;
        count(s, PT_TLS_E_JA3_TRUNC);
    }
    memcpy(r->ja3, f->s, k);
    r->ja3[k] = '\0';
    if (!digest_hex(md5_md, f->s, f->n, r->ja3_md5, 32))
        count(s, PT_TLS_E_HASH);
}

static bool is_alnum(uint8_t c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static void ja4_version(char out[3], unsigned v)
{
    const char *t;

    switch (v) {
    case 0x0304:
        t = "13";
        break;
    case 0x0303:
        t = "12";
        break;
    case 0x0302:
        t = "11";
        break;
    case 0x0301:
        t = "10";
        break;
    case 0x0300:
        t = "s3";
        break;
    case 0x0002:
        t = "s2";
        break;
    default:
        t = "00";
    }
    memcpy(out, t, 3);
}

/* First and last characters of the first ALPN value; hex digits of it when
 * either byte is not alphanumeric; "00" without ALPN. */
static void ja4_alpn(char out[3], const struct ch_view *v)
{
    static const char hx[] = "0123456789abcdef";
    const struct rd *a = &v->alpn_first;

    memcpy(out, "00", 3);
    if (!v->has_alpn || !a->p || a->n == 0)
        return;
    uint8_t f = a->p[0], l = a->p[a->n - 1];
    if (is_alnum(f) && is_alnum(l)) {
        out[0] = (char)f;
        out[1] = (char)l;
    } else {
        out[0] = hx[f >> 4];
        out[1] = hx[l & 15];
    }
}

/* The sorted, GREASE-free u16 values of @r (2 bytes each), at most @cap. */
static size_t collect16(struct rd r, uint16_t *out, size_t cap)
{
    unsigned v;
    size_t n = 0;

    while (n < cap && rd_u16(&r, &v))
        if (!is_grease(v))
            out[n++] = (uint16_t)v;
    return n;
}

/* FoxIO JA4 for TCP: a_b_c with a = t + version + d/i + ciphers (2 digits)
 * + extensions (2 digits) + ALPN chars; b = SHA-256 of the sorted cipher
 * list (4-hex, comma separated), 12 hex digits; c = the same of the sorted
 * extensions without SNI and ALPN, then "_" and the signature algorithms
 * in wire order. GREASE is dropped everywhere; an empty list hashes to
 * twelve zeros. */
static void ja4_make(struct pt_tls_state *s, const struct ch_view *v, struct fp *f)
{
    uint16_t a[PT_TLS_BUF_SIZE / 2];
    size_t n, n_ext = 0, n_ext_kept = 0;
    char ver[3], alpn[3], b_hash[13], c_hash[13];
    struct rd e = v->exts_all;
    unsigned type;

    ja4_version(ver, v->top_version ? v->top_version : v->version);
    ja4_alpn(alpn, v);

    n = collect16(v->ciphers, a, PT_ARRAY_LEN(a));
    size_t n_ciphers = n;
    sort16(a, n);
    f->n = 0;
    for (size_t i = 0; i < n; i++)
        fp_hex4(f, i ? ',' : 0, a[i]);
    f->s[f->n] = '\0';
    if (n == 0)
        memcpy(b_hash, "000000000000", 13);
    else if (!digest_hex(sha256_md, f->s, f->n, b_hash, 12))
        count(s, PT_TLS_E_HASH);

    while (e.n) {
        struct rd body;
        if (!rd_u16(&e, &type) || !rd_vec(&e, 2, &body))
            break;
        if (is_grease(type))
            continue;
        n_ext++;
        if (type != EXT_SNI && type != EXT_ALPN && n_ext_kept < PT_ARRAY_LEN(a))
            a[n_ext_kept++] = (uint16_t)type;
    }
    sort16(a, n_ext_kept);
    f->n = 0;
    for (size_t i = 0; i < n_ext_kept; i++)
        fp_hex4(f, i ? ',' : 0, a[i]);
    if (v->has_sigalgs) {
        size_t k = collect16(v->sigalgs, a, PT_ARRAY_LEN(a));
        if (k)
            fp_putc(f, '_');
        for (size_t i = 0; i < k; i++)
            fp_hex4(f, i ? ',' : 0, a[i]);
    }
    f->s[f->n] = '\0';
    if (n_ext_kept == 0)
        memcpy(c_hash, "000000000000", 13);
    else if (!digest_hex(sha256_md, f->s, f->n, c_hash, 12))
        count(s, PT_TLS_E_HASH);

    /* "t%s%c%02u%02u%s_%s_%s", by hand (snprintf was a tenth of the
     * ClientHello's cost); the hashes are empty when the digest failed */
    char *j = s->res.ja4;
    unsigned nc = (unsigned)(n_ciphers > 99 ? 99 : n_ciphers),
             ne = (unsigned)(n_ext > 99 ? 99 : n_ext);
    size_t bl = strlen(b_hash), cl = strlen(c_hash);
    _Static_assert(sizeof s->res.ja4 >= 1 + 2 + 1 + 4 + 2 + 1 + 12 + 1 + 12 + 1, "JA4 fits");
    *j++ = 't';
    memcpy(j, ver, 2), j += 2;
    *j++ = v->has_sni ? 'd' : 'i';
    *j++ = (char)('0' + nc / 10), *j++ = (char)('0' + nc % 10);
    *j++ = (char)('0' + ne / 10), *j++ = (char)('0' + ne % 10);
    memcpy(j, alpn, 2), j += 2;
    *j++ = '_';
    memcpy(j, b_hash, bl), j += bl;
    *j++ = '_';
    memcpy(j, c_hash, cl), j += cl;
    *j = '\0';
}

/* Parse the ClientHello body in the buffer. */
static void client_hello_parse(struct pt_tls_state *s)
{
    struct pt_tls_result *r = &s->res;
    struct rd m = {s->buf, s->buf_len}, tmp;
    struct ch_view v;
    unsigned ver;

    memset(&v, 0, sizeof v);
    if (!rd_u16(&m, &ver) || !rd_sub(&m, 32, &tmp) || !rd_vec(&m, 1, &tmp) ||
        !rd_vec(&m, 2, &v.ciphers) || (v.ciphers.n & 1) || !rd_vec(&m, 1, &tmp))
        goto trunc;
    v.version = ver;
    if (m.n) {
        if (!rd_vec(&m, 2, &v.exts_all) || !ch_extensions(s, v.exts_all, &v))
            goto trunc;
    }
    r->client_version = (uint16_t)ver;

    struct fp f;
    ja3_make(s, &v, &f);
    ja4_make(s, &v, &f);
    r->flags |= PT_TLS_F_CLIENT_HELLO;
    if (s->stats)
        PT_CNT_INC(s->stats->client_hellos);
    return;
trunc:
    count(s, PT_TLS_E_CH_TRUNC);
    r->flags &= (uint16_t) ~(PT_TLS_F_SNI | PT_TLS_F_ALPN | PT_TLS_F_SV);
    r->sni_len = r->alpn_len = 0;
    r->server_name[0] = '\0';
    r->n_versions = 0;
}

/* ---- ServerHello ---- */

static const uint8_t hrr_random[32] = {
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
};

/* Parse the ServerHello body in the buffer. Returns false when it was a
 * HelloRetryRequest (the real ServerHello is still to come). */
static bool server_hello_parse(struct pt_tls_state *s)
{
    struct pt_tls_result *r = &s->res;
    struct rd m = {s->buf, s->buf_len}, random, tmp, exts = {NULL, 0};
    unsigned ver, cipher, type, comp, sel = 0;
    bool draft = false;

    if (!rd_u16(&m, &ver) || !rd_sub(&m, 32, &random))
        goto trunc;
    /* TLS 1.3 drafts before 22 put their version here and dropped the
     * session id and compression fields. */
    draft = (ver >> 8) == 0x7f && (ver & 0xff) < 22;
    if (!draft && !rd_vec(&m, 1, &tmp))
        goto trunc;
    if (!rd_u16(&m, &cipher) || (!draft && !rd_u8(&m, &comp)))
        goto trunc;
    if (m.n && !rd_vec(&m, 2, &exts))
        goto trunc;
    if (memcmp(random.p, hrr_random, 32) == 0) {
        r->flags |= PT_TLS_F_HRR;
        return false;
    }

    struct fp f;
    struct rd e = exts;
    bool first = true;
    f.n = 0;
    fp_dec(&f, 0, ver);
    fp_putc(&f, ',');
    fp_dec(&f, 0, cipher);
    fp_putc(&f, ',');
    while (e.n) {
        struct rd body, list, name;
        if (!rd_u16(&e, &type) || !rd_vec(&e, 2, &body))
            goto trunc;
        if (type == EXT_SUPPORTED_VERSIONS) {
            if (!rd_u16(&body, &sel))
                count(s, PT_TLS_E_EXT_BAD);
        } else if (type == EXT_ALPN) {
            if (rd_vec(&body, 2, &list) && rd_vec(&list, 1, &name)) {
                size_t k = name.n;
                if (k > PT_TLS_PROTO_MAX - 1) {
                    k = PT_TLS_PROTO_MAX - 1;
                    count(s, PT_TLS_E_ALPN_TRUNC);
                }
                memcpy(r->next_protocol, name.p, k);
                r->next_protocol[k] = '\0';
                r->next_protocol_len = (uint16_t)k;
            } else {
                count(s, PT_TLS_E_EXT_BAD);
            }
        }
        if (is_grease(type))
            continue;
        fp_dec(&f, first ? 0 : '-', type);
        first = false;
    }
    f.s[f.n] = '\0';
    size_t k = f.n;
    if (k > sizeof r->ja3s - 1) {
        k = sizeof r->ja3s - 1;
        count(s, PT_TLS_E_JA3_TRUNC);
    }
    memcpy(r->ja3s, f.s, k);
    r->ja3s[k] = '\0';
    if (!digest_hex(md5_md, f.s, f.n, r->ja3s_md5, 32))
        count(s, PT_TLS_E_HASH);
    r->server_version = (uint16_t)ver;
    r->version = (uint16_t)(sel ? sel : ver);
    r->cipher = (uint16_t)cipher;
    r->flags |= PT_TLS_F_SERVER_HELLO;
    if (s->stats)
        PT_CNT_INC(s->stats->server_hellos);
    return true;
trunc:
    count(s, PT_TLS_E_SH_TRUNC);
    r->next_protocol_len = 0;
    r->next_protocol[0] = '\0';
    return true;
}

/* ---- framing ---- */

static void dir_stop(struct pt_tls_state *s, unsigned dir)
{
    s->dir[dir].done = true;
    if (s->buf_owner == (int8_t)dir)
        s->buf_owner = -1;
}

/* Take the buffer for @dir; a message the other direction had half read is
 * given up. */
static void buf_claim(struct pt_tls_state *s, unsigned dir, uint32_t want)
{
    unsigned other = !dir;

    if (s->buf_owner == (int8_t)other && !s->dir[other].done) {
        count(s, PT_TLS_E_INCOMPLETE);
        dir_stop(s, other);
    }
    s->buf_owner = (int8_t)dir;
    s->buf_len = 0;
    s->buf_want = (uint16_t)want;
}

/* A handshake header is complete: decide what to do with the message. */
static void hs_begin(struct pt_tls_state *s, unsigned dir)
{
    struct pt_tls_dir *d = &s->dir[dir];
    uint32_t len = (uint32_t)d->hs_hdr[1] << 16 | (uint32_t)d->hs_hdr[2] << 8 | d->hs_hdr[3];
    unsigned type = d->hs_hdr[0];

    d->msg_type = (uint8_t)type;
    d->msg_left = len;
    d->hs_got = 0;
    if (dir == 0) {
        if (type != HT_CLIENT_HELLO) {
            count(s, PT_TLS_E_HS_UNEXPECTED);
            dir_stop(s, dir);
        } else if (len > PT_TLS_BUF_SIZE) {
            count(s, PT_TLS_E_TOO_BIG);
            dir_stop(s, dir);
        } else {
            buf_claim(s, dir, len);
            d->hs_phase = HS_BUF;
        }
        return;
    }
    if (!d->want_cert) {
        if (type == HT_SERVER_HELLO && len <= PT_TLS_BUF_SIZE) {
            buf_claim(s, dir, len);
            d->hs_phase = HS_BUF;
        } else if (type == HT_SERVER_HELLO) {
            count(s, PT_TLS_E_TOO_BIG);
            dir_stop(s, dir);
        } else if (type == HT_HELLO_REQUEST || type == HT_HRR_DRAFT) {
            if (type == HT_HRR_DRAFT)
                s->res.flags |= PT_TLS_F_HRR;
            d->hs_phase = HS_SKIP;
        } else {
            count(s, PT_TLS_E_HS_UNEXPECTED);
            dir_stop(s, dir);
        }
        return;
    }
    switch (type) {
    case HT_CERTIFICATE:
        d->hs_phase = HS_CERT_PREFIX;
        break;
    case HT_SERVER_KEY_EXCHANGE:
    case HT_CERTIFICATE_REQUEST:
    case HT_SERVER_HELLO_DONE:
    case HT_CERTIFICATE_STATUS:
        dir_stop(s, dir); /* no certificate in this handshake (anonymous, PSK) */
        break;
    default:
        count(s, PT_TLS_E_HS_UNEXPECTED);
        dir_stop(s, dir);
    }
}

/* A buffered message (or the leaf certificate) is complete. */
static void hs_complete(struct pt_tls_state *s, unsigned dir, uint64_t ts_ns)
{
    struct pt_tls_dir *d = &s->dir[dir];

    if (d->hs_phase == HS_CERT_BUF) {
        if (pt_x509_parse(s->buf, s->buf_len, (int64_t)(ts_ns / 1000000000u), &s->res.cert,
                          s->stats) == 0) {
            s->res.flags |= PT_TLS_F_CERT;
            if (s->stats)
                PT_CNT_INC(s->stats->certs);
        }
        dir_stop(s, dir);
        return;
    }
    pthread_once(&md_once, md_fetch);
    if (dir == 0) {
        client_hello_parse(s);
        dir_stop(s, dir);
        return;
    }
    s->buf_owner = -1;
    d->hs_phase = HS_HDR;
    if (!server_hello_parse(s))
        return; /* HelloRetryRequest: wait for the ServerHello */
    uint16_t v = s->res.version;
    if (!(s->res.flags & PT_TLS_F_SERVER_HELLO) || v == 0x0304 || (v >> 8) == 0x7f || v > 0x0304)
        dir_stop(s, dir); /* TLS 1.3: the rest is encrypted */
    else
        d->want_cert = true;
}

/* Certificate prefix: 3-byte list length, 3-byte length of the first cert. */
static void cert_prefix_done(struct pt_tls_state *s, unsigned dir)
{
    struct pt_tls_dir *d = &s->dir[dir];
    uint32_t list = (uint32_t)d->hs_hdr[0] << 16 | (uint32_t)d->hs_hdr[1] << 8 | d->hs_hdr[2];
    uint32_t cert = (uint32_t)d->hs_hdr[3] << 16 | (uint32_t)d->hs_hdr[4] << 8 | d->hs_hdr[5];

    if (cert == 0 || cert + 3 > list || cert > d->msg_left) {
        count(s, PT_TLS_E_CERT_BAD);
        dir_stop(s, dir);
    } else if (cert > PT_TLS_BUF_SIZE) {
        count(s, PT_TLS_E_CERT_TOO_BIG);
        dir_stop(s, dir);
    } else {
        buf_claim(s, dir, cert);
        d->msg_left = cert;
        d->hs_phase = HS_CERT_BUF;
    }
}

/* Handshake-layer bytes of direction @dir. Returns bytes consumed (all of
 * them unless the direction stopped). */
static void hs_feed(struct pt_tls_state *s, unsigned dir, uint64_t ts_ns, const uint8_t *p,
                    size_t n)
{
    struct pt_tls_dir *d = &s->dir[dir];

    while (n && !d->done) {
        size_t k;

        switch (d->hs_phase) {
        case HS_HDR:
            d->hs_hdr[d->hs_got++] = *p++;
            n--;
            if (d->hs_got == 4)
                hs_begin(s, dir);
            break;
        case HS_CERT_PREFIX:
            if (d->msg_left < 6) {
                count(s, PT_TLS_E_CERT_BAD);
                dir_stop(s, dir);
                break;
            }
            d->hs_hdr[d->hs_got++] = *p++;
            n--;
            if (d->hs_got == 6) {
                d->msg_left -= 6;
                cert_prefix_done(s, dir);
            }
            break;
        case HS_SKIP:
            k = n < d->msg_left ? n : d->msg_left;
            p += k;
            n -= k;
            d->msg_left -= (uint32_t)k;
            break;
        case HS_BUF:
        case HS_CERT_BUF:
            k = n < d->msg_left ? n : d->msg_left;
            memcpy(s->buf + s->buf_len, p, k);
            s->buf_len = (uint16_t)(s->buf_len + k);
            p += k;
            n -= k;
            d->msg_left -= (uint32_t)k;
            break;
        }
        if (!d->done && d->msg_left == 0 && d->hs_phase != HS_HDR &&
            d->hs_phase != HS_CERT_PREFIX) {
            if (d->hs_phase == HS_SKIP)
                d->hs_phase = HS_HDR;
            else
                hs_complete(s, dir, ts_ns);
        }
    }
}

static bool record_header_ok(const uint8_t *h)
{
    unsigned len = (unsigned)h[3] << 8 | h[4];

    return h[0] >= CT_CCS && h[0] <= CT_HEARTBEAT && h[1] == 3 && h[2] <= 4 && len <= REC_MAX_LEN;
}

/* A record header is complete. False when the flow is not TLS at all. */
static bool record_begin(struct pt_tls_state *s, unsigned dir)
{
    struct pt_tls_dir *d = &s->dir[dir];
    const uint8_t *h = d->rec_hdr;

    d->rec_got = 0;
    if (!record_header_ok(h)) {
        if (!s->dir[0].started && !s->dir[1].started) {
            /* SSLv2 record header (2-byte length, high bit) + CLIENT-HELLO */
            count(s, (h[0] & 0x80) && h[2] == 1 ? PT_TLS_E_SSLV2 : PT_TLS_E_NOT_TLS);
            s->not_tls = true;
            return false;
        }
        count(s, PT_TLS_E_RECORD_BAD);
        dir_stop(s, dir);
        return true;
    }
    d->started = true;
    d->rec_left = (uint16_t)((unsigned)h[3] << 8 | h[4]);
    d->in_record = true;
    d->rec_skip = false;
    switch (h[0]) {
    case CT_HANDSHAKE:
        break;
    case CT_CCS:
        /* after a HelloRetryRequest the server's compatibility CCS comes
         * before the real ServerHello */
        if (dir == 1 && (s->res.flags & PT_TLS_F_HRR) && !(s->res.flags & PT_TLS_F_SERVER_HELLO))
            d->rec_skip = true;
        else
            dir_stop(s, dir);
        break;
    case CT_ALERT:
        /* a warning (unrecognized_name before a ServerHello) goes on; the
         * level byte is checked as the body arrives */
        count(s, PT_TLS_E_ALERT);
        d->rec_skip = true;
        break;
    default: /* application data, heartbeat: encrypted from here on */
        dir_stop(s, dir);
    }
    return true;
}

enum pt_tls_status pt_tls_status(const struct pt_tls_state *s)
{
    if (s->not_tls)
        return PT_TLS_NOT_TLS;
    return s->dir[0].done && s->dir[1].done ? PT_TLS_DONE : PT_TLS_NEED_MORE;
}

void pt_tls_init(struct pt_tls_state *s, struct pt_tls_stats *stats)
{
    memset(&s->res, 0, sizeof s->res);
    memset(s->dir, 0, sizeof s->dir);
    s->stats = stats;
    s->buf_owner = -1;
    s->not_tls = false;
    s->buf_len = s->buf_want = 0;
}

enum pt_tls_status pt_tls_feed(struct pt_tls_state *s, unsigned dir, uint64_t ts_ns,
                               const uint8_t *data, size_t len)
{
    struct pt_tls_dir *d;

    if (dir > 1 || pt_tls_status(s) != PT_TLS_NEED_MORE)
        return pt_tls_status(s);
    d = &s->dir[dir];
    while (len && !d->done) {
        if (!d->in_record) {
            d->rec_hdr[d->rec_got++] = *data++;
            len--;
            if (d->rec_got == 5 && !record_begin(s, dir))
                return PT_TLS_NOT_TLS;
            continue;
        }
        size_t k = len < d->rec_left ? len : d->rec_left;
        if (d->rec_hdr[0] == CT_ALERT && k &&
            d->rec_left == ((unsigned)d->rec_hdr[3] << 8 | d->rec_hdr[4]) && data[0] != 1) {
            dir_stop(s, dir); /* fatal (or encrypted) alert */
            break;
        }
        if (!d->rec_skip)
            hs_feed(s, dir, ts_ns, data, k);
        data += k;
        len -= k;
        d->rec_left = (uint16_t)(d->rec_left - k);
        if (d->rec_left == 0)
            d->in_record = false;
    }
    return pt_tls_status(s);
}

enum pt_tls_status pt_tls_gap(struct pt_tls_state *s, unsigned dir)
{
    if (dir > 1 || pt_tls_status(s) != PT_TLS_NEED_MORE)
        return pt_tls_status(s);
    if (!s->dir[dir].done) {
        count(s, PT_TLS_E_GAP);
        dir_stop(s, dir);
    }
    return pt_tls_status(s);
}
