/* x509.c - the leaf certificate fields the ssl/x509 records need, by a
 * bounds-checked DER walk.
 *
 * DESIGN: a DER element is read into a (pointer, length) view whose length
 * was checked against its parent's, so every later read stays inside the
 * certificate; nothing is copied but the output strings. Only what the
 * record needs is visited: tbsCertificate's issuer, validity, subject and
 * the subjectAltName extension. Names are printed the way Zeek's x509.log
 * prints them, which is OpenSSL's X509_NAME_print_ex(XN_FLAG_RFC2253):
 *   1. attributes in reverse order (last RDN first), ',' between RDNs and
 *      '+' between the attributes of one multi-valued RDN;
 *   2. short names for known attribute types (CN, O, ...); an unknown type
 *      is its dotted OID and its value "#" + hex of the value's DER;
 *   3. string values converted to UTF-8 (T61 read as Latin-1, BMP as
 *      UCS-2, Universal as UCS-4), then ,+"\<>; escaped with a backslash, a
 *      leading '#' or space and a trailing space likewise, and control
 *      bytes and bytes >= 0x80 as \XX; other value types as "#" + hex DER.
 * The name bounds: at most 64 attributes per name are printed (more:
 * counted as truncated), each string is cut at a whole escape. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "pt/tls.h"

struct der {
    const uint8_t *p;
    size_t len;
};

/* Read one element from @c into @val (its contents) and @whole (tag and
 * length included); advance @c. False when malformed or past the end. */
static bool der_next(struct der *c, uint8_t *tag, struct der *val, struct der *whole)
{
    size_t n, hl = 2;

    if (c->len < 2 || (c->p[0] & 0x1f) == 0x1f)
        return false;
    n = c->p[1];
    if (n & 0x80) {
        unsigned k = n & 0x7f;

        if (k == 0 || k > 4 || c->len < 2 + k)
            return false;
        n = 0;
        for (unsigned i = 0; i < k; i++)
            n = n << 8 | c->p[2 + i];
        hl += k;
    }
    if (n > c->len - hl)
        return false;
    *tag = c->p[0];
    val->p = c->p + hl;
    val->len = n;
    if (whole) {
        whole->p = c->p;
        whole->len = hl + n;
    }
    c->p += hl + n;
    c->len -= hl + n;
    return true;
}

/* Read an element that must have tag @want. */
static bool der_expect(struct der *c, uint8_t want, struct der *val)
{
    uint8_t tag;

    return der_next(c, &tag, val, NULL) && tag == want;
}

static void count(struct pt_tls_stats *st, unsigned e)
{
    if (st)
        PT_CNT_INC(st->err[e]);
}

/* ---- names ---- */

struct oid_name {
    uint8_t len;
    uint8_t der[10];
    const char *name;
};

/* Attribute types OpenSSL has short names for, as DER OID contents. */
static const struct oid_name oid_names[] = {
    {3, {0x55, 0x04, 0x03}, "CN"},
    {3, {0x55, 0x04, 0x04}, "SN"},
    {3, {0x55, 0x04, 0x05}, "serialNumber"},
    {3, {0x55, 0x04, 0x06}, "C"},
    {3, {0x55, 0x04, 0x07}, "L"},
    {3, {0x55, 0x04, 0x08}, "ST"},
    {3, {0x55, 0x04, 0x09}, "street"},
    {3, {0x55, 0x04, 0x0a}, "O"},
    {3, {0x55, 0x04, 0x0b}, "OU"},
    {3, {0x55, 0x04, 0x0c}, "title"},
    {3, {0x55, 0x04, 0x0d}, "description"},
    {3, {0x55, 0x04, 0x0f}, "businessCategory"},
    {3, {0x55, 0x04, 0x10}, "postalAddress"},
    {3, {0x55, 0x04, 0x11}, "postalCode"},
    {3, {0x55, 0x04, 0x29}, "name"},
    {3, {0x55, 0x04, 0x2a}, "GN"},
    {3, {0x55, 0x04, 0x2b}, "initials"},
    {3, {0x55, 0x04, 0x2c}, "generationQualifier"},
    {3, {0x55, 0x04, 0x2d}, "x500UniqueIdentifier"},
    {3, {0x55, 0x04, 0x2e}, "dnQualifier"},
    {3, {0x55, 0x04, 0x41}, "pseudonym"},
    {3, {0x55, 0x04, 0x48}, "role"},
    {3, {0x55, 0x04, 0x61}, "organizationIdentifier"},
    {9, {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01}, "emailAddress"},
    {9, {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x02}, "unstructuredName"},
    {10, {0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x19}, "DC"},
    {10, {0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x01}, "UID"},
};

static const char *oid_short_name(const struct der *oid)
{
    static const uint8_t jur[] = {0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x3c, 0x02, 0x01};
    static const char *const jur_names[] = {NULL, "jurisdictionL", "jurisdictionST",
                                            "jurisdictionC"};

    for (size_t i = 0; i < PT_ARRAY_LEN(oid_names); i++)
        if (oid->len == oid_names[i].len && memcmp(oid->p, oid_names[i].der, oid->len) == 0)
            return oid_names[i].name;
    if (oid->len == sizeof jur + 1 && memcmp(oid->p, jur, sizeof jur) == 0 && oid->p[10] >= 1 &&
        oid->p[10] <= 3)
        return jur_names[oid->p[10]];
    return NULL;
}

/* Bounded string writer: keeps room for the NUL, records a cut. */
struct sbuf {
    char *s;
    size_t cap, n;
    bool cut;
};

static void sb_put(struct sbuf *b, const char *t, size_t n)
{
    if (b->cut || n > b->cap - 1 - b->n) {
        b->cut = true;
        return;
    }
    memcpy(b->s + b->n, t, n);
    b->n += n;
    b->s[b->n] = '\0';
}

static void sb_hex(struct sbuf *b, const uint8_t *p, size_t n)
{
    static const char hx[] = "0123456789ABCDEF";

    for (size_t i = 0; i < n; i++) {
        char t[2] = {hx[p[i] >> 4], hx[p[i] & 15]};
        sb_put(b, t, 2);
    }
}

/* Dotted decimal of an OID's contents; false when malformed. */
static bool sb_oid(struct sbuf *b, const struct der *oid)
{
    uint64_t v = 0;
    bool first = true;
    char t[24];

    if (oid->len == 0 || (oid->p[oid->len - 1] & 0x80))
        return false;
    for (size_t i = 0; i < oid->len; i++) {
        if (v >> 56)
            return false;
        v = v << 7 | (oid->p[i] & 0x7f);
        if (oid->p[i] & 0x80)
            continue;
        int k;
        if (first) {
            unsigned a = v < 40 ? 0 : v < 80 ? 1 : 2;
            k = snprintf(t, sizeof t, "%u.%llu", a, (unsigned long long)(v - 40ull * a));
            first = false;
        } else {
            k = snprintf(t, sizeof t, ".%llu", (unsigned long long)v);
        }
        sb_put(b, t, (size_t)k);
        v = 0;
    }
    return true;
}

/* One code point, UTF-8 encoded, each byte escaped as RFC 2253 wants. */
static void put_char(struct sbuf *b, uint32_t c, bool first, bool last)
{
    static const char hx[] = "0123456789ABCDEF";
    uint8_t u[4];
    unsigned n;

    if (c < 0x80) {
        char ch = (char)c;
        if (strchr(",+\"\\<>;", ch) && c != 0) {
            char t[2] = {'\\', ch};
            sb_put(b, t, 2);
        } else if ((first && (c == '#' || c == ' ')) || (last && c == ' ')) {
            char t[2] = {'\\', ch};
            sb_put(b, t, 2);
        } else if (c < 0x20 || c == 0x7f) {
            char t[3] = {'\\', hx[c >> 4], hx[c & 15]};
            sb_put(b, t, 3);
        } else {
            sb_put(b, &ch, 1);
        }
        return;
    }
    if (c < 0x800) {
        u[0] = (uint8_t)(0xc0 | c >> 6);
        u[1] = (uint8_t)(0x80 | (c & 0x3f));
        n = 2;
    } else if (c < 0x10000) {
        u[0] = (uint8_t)(0xe0 | c >> 12);
        u[1] = (uint8_t)(0x80 | ((c >> 6) & 0x3f));
        u[2] = (uint8_t)(0x80 | (c & 0x3f));
        n = 3;
    } else {
        u[0] = (uint8_t)(0xf0 | (c >> 18 & 0x07));
        u[1] = (uint8_t)(0x80 | ((c >> 12) & 0x3f));
        u[2] = (uint8_t)(0x80 | ((c >> 6) & 0x3f));
        u[3] = (uint8_t)(0x80 | (c & 0x3f));
        n = 4;
    }
    for (unsigned i = 0; i < n; i++) {
        char t[3] = {'\\', hx[u[i] >> 4], hx[u[i] & 15]};
        sb_put(b, t, 3);
    }
}

/* Decode one UTF-8 sequence at @p (@n bytes left); on a malformed sequence
 * take one byte as Latin-1 so nothing is lost. Returns bytes used. */
static size_t utf8_get(const uint8_t *p, size_t n, uint32_t *c)
{
    unsigned k;
    uint32_t v;

    if (p[0] < 0x80) {
        *c = p[0];
        return 1;
    }
    if ((p[0] & 0xe0) == 0xc0) {
        k = 1;
        v = p[0] & 0x1f;
    } else if ((p[0] & 0xf0) == 0xe0) {
        k = 2;
        v = p[0] & 0x0f;
    } else if ((p[0] & 0xf8) == 0xf0) {
        k = 3;
        v = p[0] & 0x07;
    } else {
        *c = p[0];
        return 1;
    }
    if (n < 1 + k) {
        *c = p[0];
        return 1;
    }
    for (unsigned i = 1; i <= k; i++) {
        if ((p[i] & 0xc0) != 0x80) {
            *c = p[0];
            return 1;
        }
        v = v << 6 | (p[i] & 0x3f);
    }
    *c = v;
    return 1 + k;
}

/* Print an attribute value: strings per their type, anything else as #hex. */
static void put_value(struct sbuf *b, uint8_t tag, const struct der *val, const struct der *whole)
{
    unsigned width; /* 0 = UTF-8, 1 = Latin-1, 2 = UCS-2, 4 = UCS-4 */

    switch (tag) {
    case 0x0c: /* UTF8String */
        width = 0;
        break;
    case 0x12: /* NumericString */
    case 0x13: /* PrintableString */
    case 0x14: /* T61String */
    case 0x16: /* IA5String */
    case 0x1a: /* VisibleString */
        width = 1;
        break;
    case 0x1c: /* UniversalString */
        width = 4;
        break;
    case 0x1e: /* BMPString */
        width = 2;
        break;
    default:
        sb_put(b, "#", 1);
        sb_hex(b, whole->p, whole->len);
        return;
    }
    if (width > 1 && val->len % width) {
        sb_put(b, "#", 1);
        sb_hex(b, whole->p, whole->len);
        return;
    }
    for (size_t i = 0; i < val->len;) {
        uint32_t c;
        size_t used;

        if (width == 0) {
            used = utf8_get(val->p + i, val->len - i, &c);
        } else {
            c = 0;
            for (unsigned k = 0; k < width; k++)
                c = c << 8 | val->p[i + k];
            used = width;
        }
        if (c > 0x10ffff)
            c = 0xfffd;
        put_char(b, c, i == 0, i + used == val->len);
        i += used;
    }
}

#define NAME_MAX_ATTRS 64

/* Format Name @name (contents of the SEQUENCE) into @out. False when the
 * DER is malformed. */
static bool name_format(const struct der *name, char *out, size_t cap, struct pt_tls_stats *st)
{
    struct der atv[NAME_MAX_ATTRS];
    uint16_t set[NAME_MAX_ATTRS];
    unsigned n = 0, nset = 0;
    bool over = false;
    struct der c = *name, rdn, seq;
    struct sbuf b = {out, cap, 0, false};

    out[0] = '\0';
    while (c.len) {
        if (!der_expect(&c, 0x31, &rdn))
            return false;
        while (rdn.len) {
            if (!der_expect(&rdn, 0x30, &seq))
                return false;
            if (n < NAME_MAX_ATTRS) {
                atv[n] = seq;
                set[n++] = (uint16_t)nset;
            } else {
                over = true;
            }
        }
        nset++;
    }
    for (unsigned i = n; i-- > 0;) {
        struct der a = atv[i], oid, val, whole;
        uint8_t tag;
        const char *sn;

        if (!der_expect(&a, 0x06, &oid) || !der_next(&a, &tag, &val, &whole))
            return false;
        if (i != n - 1)
            sb_put(&b, set[i] == set[i + 1] ? "+" : ",", 1);
        if ((sn = oid_short_name(&oid))) {
            sb_put(&b, sn, strlen(sn));
            sb_put(&b, "=", 1);
            put_value(&b, tag, &val, &whole);
        } else {
            if (!sb_oid(&b, &oid))
                return false;
            sb_put(&b, "=#", 2);
            sb_hex(&b, whole.p, whole.len);
        }
    }
    if (over || b.cut)
        count(st, PT_TLS_E_DN_TRUNC);
    return true;
}

/* ---- time ---- */

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static bool digits(const uint8_t *p, unsigned n, unsigned *v)
{
    *v = 0;
    for (unsigned i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        *v = *v * 10 + (p[i] - '0');
    }
    return true;
}

/* UTCTime YYMMDDHHMMSSZ or GeneralizedTime YYYYMMDDHHMMSSZ (seconds
 * required, 'Z' required, as RFC 5280 says). */
static bool der_time(uint8_t tag, const struct der *v, int64_t *out)
{
    unsigned y, mo, d, h, mi, s, yl = tag == 0x17 ? 2 : 4;

    if ((tag != 0x17 && tag != 0x18) || v->len != yl + 11 || v->p[v->len - 1] != 'Z')
        return false;
    if (!digits(v->p, yl, &y) || !digits(v->p + yl, 2, &mo) || !digits(v->p + yl + 2, 2, &d) ||
        !digits(v->p + yl + 4, 2, &h) || !digits(v->p + yl + 6, 2, &mi) ||
        !digits(v->p + yl + 8, 2, &s))
        return false;
    if (tag == 0x17)
        y += y < 50 ? 2000 : 1900;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60)
        return false;
    *out = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
    return true;
}

/* ---- extensions ---- */

static void san_parse(const struct der *ext, struct pt_tls_cert *out, struct pt_tls_stats *st)
{
    struct der c = *ext, seq, gn;
    uint8_t tag;
    bool cut = false, ip_cut = false;

    if (!der_expect(&c, 0x30, &seq)) {
        count(st, PT_TLS_E_CERT_BAD);
        return;
    }
    while (seq.len) {
        if (!der_next(&seq, &tag, &gn, NULL)) {
            count(st, PT_TLS_E_CERT_BAD);
            break;
        }
        if (tag == 0x82) { /* dNSName */
            if (cut || gn.len > 255 || gn.len + 1 > sizeof out->san_dns - out->san_dns_len ||
                out->n_san_dns == 255) {
                cut = true;
                continue;
            }
            out->san_dns[out->san_dns_len] = (uint8_t)gn.len;
            memcpy(out->san_dns + out->san_dns_len + 1, gn.p, gn.len);
            out->san_dns_len = (uint16_t)(out->san_dns_len + 1 + gn.len);
            out->n_san_dns++;
        } else if (tag == 0x87 && (gn.len == 4 || gn.len == 16)) { /* iPAddress */
            if (out->n_san_ip == PT_TLS_SAN_IP_MAX) {
                ip_cut = true;
                continue;
            }
            uint8_t *a = out->san_ip[out->n_san_ip++];
            memset(a, 0, 16);
            if (gn.len == 4) {
                a[10] = a[11] = 0xff;
                memcpy(a + 12, gn.p, 4);
            } else {
                memcpy(a, gn.p, 16);
            }
        }
    }
    if (cut || ip_cut)
        count(st, PT_TLS_E_SAN_TRUNC);
}

static const uint8_t oid_san[] = {0x55, 0x1d, 0x11};

static void extensions_parse(const struct der *exts, struct pt_tls_cert *out,
                             struct pt_tls_stats *st)
{
    struct der c = *exts, seq, ext, oid, val;
    uint8_t tag;

    if (!der_expect(&c, 0x30, &seq)) {
        count(st, PT_TLS_E_CERT_BAD);
        return;
    }
    while (seq.len) {
        if (!der_expect(&seq, 0x30, &ext) || !der_expect(&ext, 0x06, &oid)) {
            count(st, PT_TLS_E_CERT_BAD);
            return;
        }
        if (!der_next(&ext, &tag, &val, NULL))
            goto bad;
        if (tag == 0x01 && !der_next(&ext, &tag, &val, NULL)) /* critical */
            goto bad;
        if (tag != 0x04)
            goto bad;
        if (oid.len == sizeof oid_san && memcmp(oid.p, oid_san, sizeof oid_san) == 0)
            san_parse(&val, out, st);
    }
    return;
bad:
    count(st, PT_TLS_E_CERT_BAD);
}

int pt_x509_parse(const uint8_t *der, size_t len, int64_t now_s, struct pt_tls_cert *out,
                  struct pt_tls_stats *stats)
{
    struct der c = {der, len}, cert, tbs, v, issuer, subject, validity;
    uint8_t tag;

    memset(out, 0, sizeof *out);
    if (!der_expect(&c, 0x30, &cert) || !der_expect(&cert, 0x30, &tbs))
        goto bad;
    if (!der_next(&tbs, &tag, &v, NULL))
        goto bad;
    if (tag == 0xa0 && !der_next(&tbs, &tag, &v, NULL)) /* [0] version, then serial */
        goto bad;
    if (tag != 0x02)
        goto bad;
    if (!der_expect(&tbs, 0x30, &v) || !der_expect(&tbs, 0x30, &issuer) ||
        !der_expect(&tbs, 0x30, &validity) || !der_expect(&tbs, 0x30, &subject))
        goto bad;
    if (!name_format(&issuer, out->issuer, sizeof out->issuer, stats) ||
        !name_format(&subject, out->subject, sizeof out->subject, stats))
        goto bad;
    out->self_signed = issuer.len == subject.len && memcmp(issuer.p, subject.p, issuer.len) == 0;

    struct der t;
    if (!der_next(&validity, &tag, &t, NULL) || !der_time(tag, &t, &out->not_before) ||
        !der_next(&validity, &tag, &t, NULL) || !der_time(tag, &t, &out->not_after)) {
        count(stats, PT_TLS_E_CERT_TIME);
    } else {
        out->expired = now_s > out->not_after;
    }

    if (!der_expect(&tbs, 0x30, &v)) /* subjectPublicKeyInfo */
        goto bad;
    while (tbs.len) {
        if (!der_next(&tbs, &tag, &v, NULL))
            goto bad;
        if (tag == 0xa3)
            extensions_parse(&v, out, stats);
    }
    return 0;
bad:
    count(stats, PT_TLS_E_CERT_BAD);
    return -EINVAL;
}
