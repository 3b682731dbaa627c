/* oui.c - MAC vendor lookup from the IEEE registry CSVs (Debian ieee-data).
 *
 * DESIGN
 * 1. Load. Each CSV is read whole, then parsed record by record with a
 *    small RFC 4180 reader (quoted fields, "" escapes, line breaks inside
 *    quotes, CRLF or LF). Only the first three columns are kept: Registry
 *    must name the file's registry and Assignment must be exactly 6 (MA-L),
 *    7 (MA-M) or 9 (MA-S, IAB) hex digits; other rows are counted and
 *    skipped. Names go into one string pool, NUL-terminated; a block is
 *    16 bytes (prefix value, pool offset, length).
 * 2. Each of the three arrays (24-, 28-, 36-bit prefixes) is sorted by
 *    (prefix, pool offset = file order) and duplicates dropped, so the first row of a
 *    block listed twice wins deterministically (the 2022 registry lists
 *    08:00:30 three times and 00:01:C8 twice).
 * 3. Lookup. Group and local bits first (no search), then the longest
 *    block: the MA-S/IAB array with mac >> 12, MA-M with mac >> 20, MA-L
 *    with mac >> 24. A MAC in a 36-bit block under a MA-L owned by the
 *    IEEE Registration Authority therefore names the block's owner. Three
 *    binary searches, nothing allocated. */
#include "pt/enrich.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OUI_FILE_MAX (64u << 20) /* refuse a registry file larger than this */

struct oui_ent {
    uint64_t key;      /* the prefix as a number: 24, 28 or 36 bits */
    uint32_t name_off; /* into pool; grows in file order, so it also orders duplicates */
    uint16_t name_len;
    uint16_t pad;
};

_Static_assert(sizeof(struct oui_ent) == 16, "16 bytes per block, as enrich.h says");

enum { TAB_L, TAB_M, TAB_S, TAB_MAX };

struct oui_tab {
    struct oui_ent *e;
    size_t n, cap;
};

struct pt_oui {
    struct oui_tab tab[TAB_MAX];
    char *pool;
    size_t pool_len, pool_cap;
    uint64_t st[PT_OUI_ST_MAX];
};

static const char *const stat_names[PT_OUI_ST_MAX] = {
    [PT_OUI_ST_MA_L] = "enrich.oui.ma_l",
    [PT_OUI_ST_MA_M] = "enrich.oui.ma_m",
    [PT_OUI_ST_MA_S] = "enrich.oui.ma_s",
    [PT_OUI_ST_BAD_ROW] = "enrich.oui.bad_row",
    [PT_OUI_ST_DUPLICATE] = "enrich.oui.duplicate",
    [PT_OUI_ST_NAME_TRUNC] = "enrich.oui.name_truncated",
};

const char *pt_oui_stat_name(unsigned st)
{
    if (st < PT_OUI_ST_MAX && stat_names[st])
        return stat_names[st];
    return "enrich.oui.unknown";
}

static const char *const kind_names[PT_OUI_KIND_MAX] = {
    [PT_OUI_VENDOR] = "vendor",       [PT_OUI_UNKNOWN] = "unknown",
    [PT_OUI_BROADCAST] = "broadcast", [PT_OUI_MULTICAST] = "multicast",
    [PT_OUI_LOCAL] = "local",
};

const char *pt_oui_kind_name(unsigned kind)
{
    if (kind < PT_OUI_KIND_MAX && kind_names[kind])
        return kind_names[kind];
    return "unknown";
}

/* ---- CSV reader ------------------------------------------------------ */

#define FIELDS 3 /* columns kept */
#define FIELD_CAP                                                                                  \
    (PT_OUI_NAME_MAX + 1) /* bytes stored per field: one past what a name keeps,                   \
                           * so the cut can see the next byte */

struct csv_field {
    char buf[FIELD_CAP];
    size_t len; /* full length; bytes past FIELD_CAP are not stored */
};

struct csv {
    const char *p, *end;
};

static void put(struct csv_field *f, char ch)
{
    if (!f)
        return;
    if (f->len < FIELD_CAP)
        f->buf[f->len] = ch;
    f->len++;
}

/* Parse the next record into @f (the first FIELDS columns). Returns the
 * number of fields, 0 at end of input, -1 for a quote left open at the end
 * of input (the rest of the input is consumed). */
static int csv_record(struct csv *c, struct csv_field f[FIELDS])
{
    int nf = 0;

    if (c->p >= c->end)
        return 0;
    for (;;) {
        struct csv_field *cur = nf < FIELDS ? &f[nf] : NULL;

        if (cur)
            cur->len = 0;
        if (c->p < c->end && *c->p == '"') {
            bool closed = false;

            for (c->p++; c->p < c->end;) {
                char ch = *c->p++;
                if (ch == '"' && c->p < c->end && *c->p == '"') {
                    c->p++;
                    put(cur, '"');
                } else if (ch == '"') {
                    closed = true;
                    break;
                } else {
                    put(cur, ch);
                }
            }
            if (!closed)
                return -1;
        }
        /* unquoted field, or anything between a closing quote and the delimiter */
        while (c->p < c->end && *c->p != ',' && *c->p != '\n' && *c->p != '\r')
            put(cur, *c->p++);
        nf++;
        if (c->p < c->end && *c->p == ',') {
            c->p++;
            continue;
        }
        if (c->p < c->end && *c->p == '\r')
            c->p++;
        if (c->p < c->end && *c->p == '\n')
            c->p++;
        return nf;
    }
}

/* ---- load ------------------------------------------------------------ */

struct reg {
    const char *registry; /* first column */
    unsigned digits;      /* hex digits of the assignment */
    int tab;
    enum pt_oui_stat count;
};

static const struct reg regs[4] = {
    {"MA-L", 6, TAB_L, PT_OUI_ST_MA_L},
    {"MA-M", 7, TAB_M, PT_OUI_ST_MA_M},
    {"MA-S", 9, TAB_S, PT_OUI_ST_MA_S},
    {"IAB", 9, TAB_S, PT_OUI_ST_MA_S},
};

static bool field_is(const struct csv_field *f, const char *s)
{
    size_t n = strlen(s);
    return f->len == n && !memcmp(f->buf, s, n);
}

static bool parse_hex(const struct csv_field *f, unsigned digits, uint64_t *v)
{
    if (f->len != digits)
        return false;
    *v = 0;
    for (unsigned i = 0; i < digits; i++) {
        char ch = f->buf[i];
        unsigned d;
        if (ch >= '0' && ch <= '9')
            d = (unsigned)(ch - '0');
        else if (ch >= 'A' && ch <= 'F')
            d = (unsigned)(ch - 'A' + 10);
        else if (ch >= 'a' && ch <= 'f')
            d = (unsigned)(ch - 'a' + 10);
        else
            return false;
        *v = *v << 4 | d;
    }
    return true;
}

/* Append @f to the pool, cut to PT_OUI_NAME_MAX - 1 bytes before a split
 * UTF-8 sequence. Returns 0 or -ENOMEM. */
static int pool_add(struct pt_oui *o, const struct csv_field *f, uint32_t *off, uint16_t *len)
{
    size_t n = f->len;

    if (n > PT_OUI_NAME_MAX - 1) {
        n = PT_OUI_NAME_MAX - 1;
        for (int back = 0; back < 4 && n > 0 && ((uint8_t)f->buf[n] & 0xc0) == 0x80; back++)
            n--;
        o->st[PT_OUI_ST_NAME_TRUNC]++;
    }
    if (o->pool_len + n + 1 > o->pool_cap) {
        size_t cap = o->pool_cap ? o->pool_cap * 2 : 1 << 20;
        char *p;
        if (cap > UINT32_MAX)
            return -ENOMEM;
        p = realloc(o->pool, cap);
        if (!p)
            return -ENOMEM;
        o->pool = p;
        o->pool_cap = cap;
    }
    memcpy(o->pool + o->pool_len, f->buf, n);
    o->pool[o->pool_len + n] = 0;
    *off = (uint32_t)o->pool_len;
    *len = (uint16_t)n;
    o->pool_len += n + 1;
    return 0;
}

static int tab_add(struct oui_tab *t, const struct oui_ent *e)
{
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 4096;
        struct oui_ent *p = realloc(t->e, cap * sizeof *p);
        if (!p)
            return -ENOMEM;
        t->e = p;
        t->cap = cap;
    }
    t->e[t->n++] = *e;
    return 0;
}

/* Parse one registry file's text. Returns rows kept, or -ENOMEM. */
static long parse_csv(struct pt_oui *o, const struct reg *r, const char *text, size_t len)
{
    struct csv c = {text, text + len};
    struct csv_field f[FIELDS];
    long kept = 0;
    bool first = true;
    int nf;

    while ((nf = csv_record(&c, f)) != 0) {
        struct oui_ent e = {0};
        bool header = first && nf >= 1 && field_is(&f[0], "Registry");

        first = false;
        if (header || (nf == 1 && f[0].len == 0))
            continue; /* header row, blank line */
        if (nf < FIELDS || !field_is(&f[0], r->registry) || !parse_hex(&f[1], r->digits, &e.key)) {
            o->st[PT_OUI_ST_BAD_ROW]++;
            continue;
        }
        if (pool_add(o, &f[2], &e.name_off, &e.name_len) < 0 || tab_add(&o->tab[r->tab], &e) < 0)
            return -ENOMEM;
        o->st[r->count]++;
        kept++;
    }
    return kept;
}

static int ent_cmp(const void *a, const void *b)
{
    const struct oui_ent *x = a, *y = b;

    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return (x->name_off > y->name_off) - (x->name_off < y->name_off);
}

/* Step 2 of DESIGN. */
static void tab_finish(struct pt_oui *o, struct oui_tab *t)
{
    size_t w = 0;

    if (!t->n)
        return;
    qsort(t->e, t->n, sizeof t->e[0], ent_cmp);
    for (size_t i = 0; i < t->n; i++) {
        if (w && t->e[w - 1].key == t->e[i].key) {
            o->st[PT_OUI_ST_DUPLICATE]++;
            continue;
        }
        t->e[w++] = t->e[i];
    }
    t->n = w;
}

static void err_set(char *err, const char *what, const char *why)
{
    if (err)
        snprintf(err, PT_OUI_ERR_MAX, "OUI registry %s: %s", what, why);
}

static const char *const mem_names[4] = {"MA-L CSV", "MA-M CSV", "MA-S CSV", "IAB CSV"};

/* Parse the four texts (@csv[3], IAB, optional) into a new handle; @names
 * say what each text is for the error line. */
static struct pt_oui *build(const char *const csv[4], const size_t len[4],
                            const char *const names[4], char *err)
{
    struct pt_oui *o = calloc(1, sizeof *o);

    if (!o) {
        err_set(err, names[0], "out of memory");
        return NULL;
    }
    for (int i = 0; i < 4; i++) {
        long kept = parse_csv(o, &regs[i], csv[i] ? csv[i] : "", csv[i] ? len[i] : 0);
        if (kept < 0) {
            err_set(err, names[i], "out of memory");
            goto err_free;
        }
        if (kept == 0 && i < 3) {
            err_set(err, names[i], "no usable rows");
            goto err_free;
        }
    }
    for (int t = 0; t < TAB_MAX; t++)
        tab_finish(o, &o->tab[t]);
    if (err)
        err[0] = 0;
    return o;

err_free:
    pt_oui_destroy(o);
    return NULL;
}

struct pt_oui *pt_oui_create_mem(const char *const csv[4], const size_t len[4], char *err)
{
    return build(csv, len, mem_names, err);
}

/* Read @path whole into a malloc'd buffer. Returns 0, or a negative errno
 * (-EFBIG past OUI_FILE_MAX). */
static int slurp(const char *path, char **out, size_t *outlen)
{
    FILE *f = fopen(path, "rb");
    size_t cap = 1 << 20, len = 0;
    char *buf;
    int rc;

    if (!f)
        return -errno;
    buf = malloc(cap);
    if (!buf) {
        rc = -ENOMEM;
        goto err_close;
    }
    for (;;) {
        size_t n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (len < cap) {
            if (ferror(f)) {
                rc = -EIO;
                goto err_free;
            }
            break;
        }
        if (cap >= OUI_FILE_MAX) {
            rc = -EFBIG;
            goto err_free;
        }
        char *p = realloc(buf, cap * 2);
        if (!p) {
            rc = -ENOMEM;
            goto err_free;
        }
        buf = p;
        cap *= 2;
    }
    fclose(f);
    *out = buf;
    *outlen = len;
    return 0;

err_free:
    free(buf);
err_close:
    fclose(f);
    return rc;
}

struct pt_oui *pt_oui_create(const char *dir, char *err)
{
    static const char *const files[4] = {"oui.csv", "mam.csv", "oui36.csv", "iab.csv"};
    char paths[4][4096];
    const char *names[4];
    char *text[4] = {0};
    size_t len[4] = {0};
    struct pt_oui *o = NULL;

    if (!dir || !*dir)
        dir = PT_OUI_DIR;
    for (int i = 0; i < 4; i++) {
        int rc;

        snprintf(paths[i], sizeof paths[i], "%s/%s", dir, files[i]);
        names[i] = paths[i];
        rc = slurp(paths[i], &text[i], &len[i]);
        if (rc == -ENOENT && i == 3)
            continue; /* iab.csv is optional */
        if (rc < 0) {
            char why[128];
            snprintf(why, sizeof why, "cannot read: %s", strerror(-rc));
            err_set(err, paths[i], why);
            goto out;
        }
    }
    o = build((const char *const *)text, len, names, err);
out:
    for (int i = 0; i < 4; i++)
        free(text[i]);
    return o;
}

void pt_oui_destroy(struct pt_oui *o)
{
    if (!o)
        return;
    for (int t = 0; t < TAB_MAX; t++)
        free(o->tab[t].e);
    free(o->pool);
    free(o);
}

const uint64_t *pt_oui_stats(const struct pt_oui *o)
{
    return o->st;
}

/* ---- lookup ---------------------------------------------------------- */

static const struct oui_ent *tab_find(const struct oui_tab *t, uint64_t key)
{
    size_t lo = 0, hi = t->n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (t->e[mid].key < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < t->n && t->e[lo].key == key ? &t->e[lo] : NULL;
}

enum pt_oui_kind pt_oui_lookup(const struct pt_oui *o, const uint8_t mac[6], struct pt_oui_match *m)
{
    static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    static const uint8_t shift[TAB_MAX] = {[TAB_S] = 12, [TAB_M] = 20, [TAB_L] = 24};
    static const uint8_t bits[TAB_MAX] = {[TAB_S] = 36, [TAB_M] = 28, [TAB_L] = 24};
    static const int order[TAB_MAX] = {TAB_S, TAB_M, TAB_L};
    uint64_t v = 0;

    m->vendor = "";
    m->vendor_len = 0;
    m->bits = 0;
    if (!memcmp(mac, bcast, 6))
        m->kind = PT_OUI_BROADCAST;
    else if (mac[0] & 0x01)
        m->kind = PT_OUI_MULTICAST;
    else if (mac[0] & 0x02)
        m->kind = PT_OUI_LOCAL;
    else
        m->kind = PT_OUI_UNKNOWN;
    if (m->kind != PT_OUI_UNKNOWN || !o)
        return (enum pt_oui_kind)m->kind;
    for (int i = 0; i < 6; i++)
        v = v << 8 | mac[i];
    for (int i = 0; i < TAB_MAX; i++) {
        const struct oui_ent *e = tab_find(&o->tab[order[i]], v >> shift[order[i]]);
        if (e) {
            m->kind = PT_OUI_VENDOR;
            m->vendor = o->pool + e->name_off;
            m->vendor_len = e->name_len;
            m->bits = bits[order[i]];
            break;
        }
    }
    return (enum pt_oui_kind)m->kind;
}
