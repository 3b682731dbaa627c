/* json.c - test-only strict JSON reader (see json.h). Recursive descent over
 * a bounded input; allocation is plain malloc, freed by pt_tj_free(). */
#include "support/json.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct rd {
    const unsigned char *p, *s, *e;
    const char *err;
    int depth;
};

static bool fail(struct rd *r, const char *why)
{
    if (!r->err)
        r->err = why;
    return false;
}

static void ws(struct rd *r)
{
    while (r->p < r->e && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r'))
        r->p++;
}

/* Length of the valid UTF-8 sequence at @s (strict), 0 if invalid. */
static size_t utf8(const unsigned char *s, size_t avail)
{
    unsigned c = s[0];
    size_t n;
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
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
        cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

static size_t put_utf8(char *o, uint32_t cp)
{
    if (cp < 0x80)
        return o[0] = (char)cp, 1;
    if (cp < 0x800)
        return o[0] = (char)(0xc0 | cp >> 6), o[1] = (char)(0x80 | (cp & 0x3f)), 2;
    if (cp < 0x10000)
        return o[0] = (char)(0xe0 | cp >> 12), o[1] = (char)(0x80 | ((cp >> 6) & 0x3f)),
               o[2] = (char)(0x80 | (cp & 0x3f)), 3;
    o[0] = (char)(0xf0 | cp >> 18), o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3f)), o[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

static bool hex4(struct rd *r, uint32_t *v)
{
    *v = 0;
    if (r->e - r->p < 4)
        return fail(r, "short \\u escape");
    for (int i = 0; i < 4; i++) {
        unsigned c = *r->p++, d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            return fail(r, "bad hex digit in \\u escape");
        *v = *v << 4 | d;
    }
    return true;
}

/* A string at r->p (the opening quote), decoded into a malloc'd buffer. */
static bool str(struct rd *r, char **out, size_t *outlen)
{
    char *o;
    size_t n = 0;

    if (r->p >= r->e || *r->p != '"')
        return fail(r, "string expected");
    r->p++;
    o = malloc((size_t)(r->e - r->p) + 1); /* decoding never grows */
    if (!o)
        return fail(r, "out of memory");
    while (r->p < r->e && *r->p != '"') {
        unsigned c = *r->p;
        if (c < 0x20) {
            free(o);
            return fail(r, "raw control character in string");
        }
        if (c != '\\') {
            size_t k = utf8(r->p, (size_t)(r->e - r->p));
            if (!k) {
                free(o);
                return fail(r, "invalid UTF-8 in string");
            }
            memcpy(o + n, r->p, k);
            n += k, r->p += k;
            continue;
        }
        if (++r->p >= r->e) {
            free(o);
            return fail(r, "string ends in an escape");
        }
        c = *r->p++;
        const char *simple = strchr("\"\\/bfnrt", (int)c);
        if (c && simple) {
            static const char map[] = "\"\\/\b\f\n\r\t";
            o[n++] = map[simple - "\"\\/bfnrt"];
            continue;
        }
        uint32_t cp, lo;
        if (c != 'u' || !hex4(r, &cp)) {
            free(o);
            return fail(r, "bad escape");
        }
        if (cp < 0x100) { /* the writers' byte escape */
            o[n++] = (char)cp;
            continue;
        }
        if (cp >= 0xd800 && cp <= 0xdbff) {
            if (r->e - r->p < 6 || r->p[0] != '\\' || r->p[1] != 'u') {
                free(o);
                return fail(r, "lone high surrogate");
            }
            r->p += 2;
            if (!hex4(r, &lo) || lo < 0xdc00 || lo > 0xdfff) {
                free(o);
                return fail(r, "bad low surrogate");
            }
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        } else if (cp >= 0xdc00 && cp <= 0xdfff) {
            free(o);
            return fail(r, "lone low surrogate");
        }
        n += put_utf8(o + n, cp);
    }
    if (r->p >= r->e) {
        free(o);
        return fail(r, "unterminated string");
    }
    r->p++;
    o[n] = '\0';
    *out = o;
    *outlen = n;
    return true;
}

static bool digits(struct rd *r)
{
    const unsigned char *q = r->p;
    while (r->p < r->e && *r->p >= '0' && *r->p <= '9')
        r->p++;
    return r->p > q;
}

static bool num(struct rd *r, struct pt_tj *v)
{
    const unsigned char *q = r->p;

    if (r->p < r->e && *r->p == '-')
        r->p++;
    if (r->p < r->e && *r->p == '0')
        r->p++;
    else if (!digits(r))
        return fail(r, "bad number");
    if (r->p < r->e && *r->p == '.') {
        r->p++;
        if (!digits(r))
            return fail(r, "no digits after '.'");
    }
    if (r->p < r->e && (*r->p == 'e' || *r->p == 'E')) {
        r->p++;
        if (r->p < r->e && (*r->p == '+' || *r->p == '-'))
            r->p++;
        if (!digits(r))
            return fail(r, "no digits in exponent");
    }
    v->t = PT_TJ_NUM;
    v->len = (size_t)(r->p - q);
    v->s = malloc(v->len + 1);
    if (!v->s)
        return fail(r, "out of memory");
    memcpy(v->s, q, v->len);
    v->s[v->len] = '\0';
    return true;
}

static bool value(struct rd *r, struct pt_tj *v);

static bool push(struct rd *r, struct pt_tj *v, size_t *cap)
{
    if (v->n < *cap)
        return true;
    *cap = *cap ? 2 * *cap : 8;
    struct pt_tj *nv = realloc(v->v, *cap * sizeof *nv);
    char **nk = v->t == PT_TJ_OBJ ? realloc(v->k, *cap * sizeof *nk) : NULL;
    if (nv)
        v->v = nv;
    if (nk)
        v->k = nk;
    if (!nv || (v->t == PT_TJ_OBJ && !nk))
        return fail(r, "out of memory");
    return true;
}

static bool container(struct rd *r, struct pt_tj *v, bool obj)
{
    size_t cap = 0;

    v->t = obj ? PT_TJ_OBJ : PT_TJ_ARR;
    r->p++;
    ws(r);
    if (r->p < r->e && *r->p == (obj ? '}' : ']')) {
        r->p++;
        return true;
    }
    for (;;) {
        char *key = NULL;
        size_t klen;
        ws(r);
        if (obj) {
            if (!str(r, &key, &klen))
                return false;
            if (strlen(key) != klen || pt_tj_index(v, key) >= 0) {
                free(key);
                return fail(r, "key with NUL or repeated key");
            }
            ws(r);
            if (r->p >= r->e || *r->p++ != ':') {
                free(key);
                return fail(r, "':' expected");
            }
        }
        if (!push(r, v, &cap)) {
            free(key);
            return false;
        }
        memset(&v->v[v->n], 0, sizeof v->v[v->n]);
        if (obj)
            v->k[v->n] = key;
        v->n++; /* counted before parsing, so pt_tj_free() sees a half-built value */
        if (!value(r, &v->v[v->n - 1]))
            return false;
        ws(r);
        if (r->p < r->e && *r->p == ',') {
            r->p++;
            continue;
        }
        if (r->p < r->e && *r->p == (obj ? '}' : ']')) {
            r->p++;
            return true;
        }
        return fail(r, obj ? "',' or '}' expected" : "',' or ']' expected");
    }
}

static bool lit(struct rd *r, const char *w)
{
    size_t n = strlen(w);
    if ((size_t)(r->e - r->p) < n || memcmp(r->p, w, n) != 0)
        return fail(r, "unexpected character");
    r->p += n;
    return true;
}

static bool value(struct rd *r, struct pt_tj *v)
{
    bool ok;

    ws(r);
    if (r->p >= r->e)
        return fail(r, "value expected");
    if (++r->depth > 64)
        return fail(r, "nested too deep");
    switch (*r->p) {
    case '{':
    case '[':
        ok = container(r, v, *r->p == '{');
        break;
    case '"':
        v->t = PT_TJ_STR;
        ok = str(r, &v->s, &v->len);
        break;
    case 't':
    case 'f':
        v->t = PT_TJ_BOOL;
        v->b = *r->p == 't';
        ok = lit(r, v->b ? "true" : "false");
        break;
    case 'n':
        v->t = PT_TJ_NULL;
        ok = lit(r, "null");
        break;
    default:
        ok = num(r, v);
    }
    r->depth--;
    return ok;
}

bool pt_tj_parse(const char *text, size_t len, struct pt_tj *out, const char **err, size_t *at)
{
    struct rd r = {.p = (const unsigned char *)text,
                   .s = (const unsigned char *)text,
                   .e = (const unsigned char *)text + len};

    memset(out, 0, sizeof *out);
    bool ok = value(&r, out);
    ws(&r);
    if (ok && r.p != r.e)
        ok = fail(&r, "text after the value");
    if (!ok) {
        if (err)
            *err = r.err;
        if (at)
            *at = (size_t)(r.p - r.s);
        pt_tj_free(out);
        memset(out, 0, sizeof *out);
    }
    return ok;
}

void pt_tj_free(struct pt_tj *v)
{
    if (!v)
        return;
    for (size_t i = 0; i < v->n; i++) {
        pt_tj_free(&v->v[i]);
        if (v->k)
            free(v->k[i]);
    }
    free(v->v);
    free(v->k);
    free(v->s);
}

long pt_tj_index(const struct pt_tj *o, const char *key)
{
    if (o->t != PT_TJ_OBJ)
        return -1;
    for (size_t i = 0; i < o->n; i++)
        if (o->k[i] && strcmp(o->k[i], key) == 0)
            return (long)i;
    return -1;
}

const struct pt_tj *pt_tj_get(const struct pt_tj *o, const char *key)
{
    long i = pt_tj_index(o, key);
    return i < 0 ? NULL : &o->v[i];
}
