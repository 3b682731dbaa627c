/* series.c - series names and ids, and the series reads.
 *
 * DESIGN
 * 1. Ids. A name gets the next id (meta next_series) in its own small txn,
 *    the first time; the writer keeps every name -> id in a hash table
 *    loaded at open, so the per-second path never looks a name up in LMDB.
 *    The txn is not fsync'd even without cfg.nosync: the batch that first
 *    uses the id is, and LMDB writes txns in order.
 * 2. Reads walk one series' key range (points.c has the layouts): 1 s
 *    points are expanded from their minute blocks. */
#include <errno.h>
#include <stdlib.h>

#include "internal.h"

/* ---- name -> id table ---- */

static uint64_t name_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull;

    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h;
}

static bool smap_get(const struct series_map *m, const char *name, uint32_t *id)
{
    if (!m->cap)
        return false;
    for (size_t i = name_hash(name) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        if (!m->name[i])
            return false;
        if (strcmp(m->name[i], name) == 0) {
            *id = m->id[i];
            return true;
        }
    }
}

static void smap_insert(struct series_map *m, char *name, uint32_t id)
{
    size_t i = name_hash(name) & (m->cap - 1);

    while (m->name[i])
        i = (i + 1) & (m->cap - 1);
    m->name[i] = name;
    m->id[i] = id;
}

static int smap_put(struct series_map *m, const char *name, uint32_t id)
{
    char *dup;

    if ((m->n + 1) * 2 > m->cap) {
        struct series_map g = {.cap = m->cap ? m->cap * 2 : 256};
        if (!(g.name = calloc(g.cap, sizeof *g.name)) || !(g.id = calloc(g.cap, sizeof *g.id))) {
            free(g.name);
            return -ENOMEM;
        }
        for (size_t i = 0; i < m->cap; i++)
            if (m->name[i])
                smap_insert(&g, m->name[i], m->id[i]);
        g.n = m->n;
        free(m->name);
        free(m->id);
        *m = g;
    }
    if (!(dup = strdup(name)))
        return -ENOMEM;
    smap_insert(m, dup, id);
    m->n++;
    return 0;
}

void series_map_free(struct series_map *m)
{
    for (size_t i = 0; i < m->cap; i++)
        free(m->name[i]);
    free(m->name);
    free(m->id);
    memset(m, 0, sizeof *m);
}

int series_map_load(struct pt_store *s, MDB_txn *txn)
{
    MDB_cursor *c;
    MDB_val k, d;
    char name[PT_STORE_NAMELEN];
    int rc;

    if ((rc = mdb_cursor_open(txn, s->e->dbi[DB_SERIES], &c)) != 0)
        return store_err(rc);
    for (rc = mdb_cursor_get(c, &k, &d, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &k, &d, MDB_NEXT)) {
        if (k.mv_size == 0 || k.mv_size >= sizeof name || d.mv_size != 4)
            continue;
        memcpy(name, k.mv_data, k.mv_size);
        name[k.mv_size] = '\0';
        if ((rc = smap_put(&s->smap, name, be32_get(d.mv_data))) < 0)
            break;
    }
    mdb_cursor_close(c);
    return rc == MDB_NOTFOUND ? 0 : rc < 0 ? rc : store_err(rc);
}

bool series_id_valid(const struct pt_store *s, uint32_t id)
{
    return id != 0 && id < s->meta.next_series;
}

static bool name_ok(const char *name)
{
    return name && name[0] && strlen(name) < PT_STORE_NAMELEN;
}

struct sid_arg {
    const char *name;
    uint32_t id;
};

static int sid_body(struct store_wtxn *w, void *arg)
{
    struct sid_arg *a = arg;
    MDB_dbi *dbi = w->s->e->dbi;
    MDB_val k = mval(a->name, strlen(a->name)), d;
    uint8_t b[4];
    int rc = mdb_get(w->txn, dbi[DB_SERIES], &k, &d);

    if (rc == 0 && d.mv_size == 4) {
        a->id = be32_get(d.mv_data);
        return 0;
    }
    if (rc && rc != MDB_NOTFOUND)
        return store_err(rc);
    if (w->m.next_series == UINT32_MAX)
        return -EOVERFLOW;
    a->id = w->m.next_series++;
    be32_put(b, a->id);
    d = mval(b, 4);
    if ((rc = mdb_put(w->txn, dbi[DB_SERIES], &k, &d, 0)) != 0 ||
        (rc = mdb_put(w->txn, dbi[DB_SERIES_ID], &d, &k, 0)) != 0)
        return store_err(rc);
    return meta_put_u32(w->txn, dbi[DB_META], "next_series", w->m.next_series);
}

int pt_store_series_id(struct pt_store *s, const char *name, uint32_t *id)
{
    struct sid_arg a = {.name = name};
    int rc;

    if (!name_ok(name))
        return PT_E_BADARG;
    if (s->readonly)
        return -EROFS;
    if (smap_get(&s->smap, name, id))
        return 0;
    store_sync_commits(s, false); /* DESIGN 1 */
    rc = store_write_run(s, sid_body, &a, 256);
    store_sync_commits(s, true);
    if (rc < 0)
        return rc;
    if ((rc = smap_put(&s->smap, name, a.id)) < 0)
        return rc;
    *id = a.id;
    return 0;
}

/* ---- reads ---- */

int pt_store_series_find(struct pt_store *s, const char *name, uint32_t *id)
{
    MDB_txn *txn;
    MDB_val k, d;
    int rc;

    if (!name_ok(name))
        return PT_E_BADARG;
    if ((rc = store_rd_begin(s, &txn)) < 0)
        return rc;
    k = mval(name, strlen(name));
    rc = mdb_get(txn, s->e->dbi[DB_SERIES], &k, &d);
    if (rc == 0 && d.mv_size != 4)
        rc = MDB_CORRUPTED;
    if (rc == 0)
        *id = be32_get(d.mv_data);
    store_rd_end(s, txn);
    return store_err(rc);
}

int pt_store_series_list(struct pt_store *s, const char *prefix,
                         int (*cb)(const char *name, uint32_t id, void *arg), void *arg)
{
    size_t plen = prefix ? strlen(prefix) : 0;
    char name[PT_STORE_NAMELEN];
    MDB_cursor *c;
    MDB_txn *txn;
    MDB_val k = mval(prefix, plen), d;
    int rc;

    if ((rc = store_rd_begin(s, &txn)) < 0)
        return rc;
    if ((rc = mdb_cursor_open(txn, s->e->dbi[DB_SERIES], &c)) != 0)
        goto out;
    for (rc = mdb_cursor_get(c, &k, &d, plen ? MDB_SET_RANGE : MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &k, &d, MDB_NEXT)) {
        if (k.mv_size < plen || memcmp(k.mv_data, prefix, plen) != 0)
            break;
        if (k.mv_size >= sizeof name || d.mv_size != 4)
            continue;
        memcpy(name, k.mv_data, k.mv_size);
        name[k.mv_size] = '\0';
        int r = cb(name, be32_get(d.mv_data), arg);
        if (r) {
            mdb_cursor_close(c);
            store_rd_end(s, txn);
            return r;
        }
    }
    mdb_cursor_close(c);
    if (rc == MDB_NOTFOUND)
        rc = 0;
out:
    store_rd_end(s, txn);
    return store_err(rc);
}

static const int res_db[PT_RES_N] = {DB_S1, DB_M1, DB_H1};

int pt_store_series_read(struct pt_store *s, uint32_t id, enum pt_store_res res, uint64_t from,
                         uint64_t to, int (*cb)(const struct pt_store_value *v, void *arg),
                         void *arg)
{
    uint8_t kb[KEY_POINT_LEN];
    uint64_t secs[60], vals[60];
    MDB_cursor *c;
    MDB_txn *txn;
    MDB_val k = mval(kb, sizeof kb), d;
    int rc, r = 0;

    if ((unsigned)res >= PT_RES_N)
        return PT_E_BADARG;
    if (to == 0)
        to = UINT64_MAX;
    if ((rc = store_rd_begin(s, &txn)) < 0)
        return rc;
    if ((rc = mdb_cursor_open(txn, s->e->dbi[res_db[res]], &c)) != 0)
        goto out;
    point_key(kb, id, res == PT_RES_1S ? from - from % 60 : from);
    for (rc = mdb_cursor_get(c, &k, &d, MDB_SET_RANGE); rc == 0 && !r;
         rc = mdb_cursor_get(c, &k, &d, MDB_NEXT)) {
        struct pt_store_value v;
        if (k.mv_size != KEY_POINT_LEN || be32_get(k.mv_data) != id)
            break;
        v.ts = be64_get((uint8_t *)k.mv_data + 4);
        if (v.ts >= to)
            break;
        if (res == PT_RES_1S) {
            if (!blk_ok(&d))
                continue;
            size_t n = blk_values(&d, v.ts, from, to, secs, vals);
            for (size_t i = 0; i < n && !r; i++) {
                v.ts = secs[i];
                v.sum = v.min = v.max = v.p95 = vals[i];
                v.n = 1;
                r = cb(&v, arg);
            }
        } else if (d.mv_size == ROLLUP_LEN) {
            rollup_get(d.mv_data, &v);
            r = cb(&v, arg);
        }
    }
    mdb_cursor_close(c);
    if (rc == MDB_NOTFOUND)
        rc = 0;
out:
    store_rd_end(s, txn);
    return r ? r : store_err(rc);
}

/* First and last second of @id in @c's database (@blocks: s1, whose
 * entries are minute blocks); *@found false when it has none. */
static int series_ends(MDB_cursor *c, uint32_t id, bool blocks, uint64_t *lo, uint64_t *hi,
                       bool *found)
{
    uint8_t kb[KEY_POINT_LEN];
    MDB_val k = mval(kb, sizeof kb), d;
    int rc;

    *found = false;
    point_key(kb, id, 0);
    rc = mdb_cursor_get(c, &k, &d, MDB_SET_RANGE);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc)
        return store_err(rc);
    if (k.mv_size != KEY_POINT_LEN || be32_get(k.mv_data) != id)
        return 0;
    *lo = be64_get((uint8_t *)k.mv_data + 4);
    if (blocks && blk_ok(&d) && be64_get(d.mv_data))
        *lo += (uint64_t)__builtin_ctzll(be64_get(d.mv_data));
    if (id == UINT32_MAX) {
        rc = mdb_cursor_get(c, &k, &d, MDB_LAST);
    } else {
        point_key(kb, id + 1, 0);
        k = mval(kb, sizeof kb);
        rc = mdb_cursor_get(c, &k, &d, MDB_SET_RANGE);
        rc = rc == MDB_NOTFOUND ? mdb_cursor_get(c, &k, &d, MDB_LAST)
             : rc               ? rc
                                : mdb_cursor_get(c, &k, &d, MDB_PREV);
    }
    if (rc)
        return store_err(rc);
    *hi = be64_get((uint8_t *)k.mv_data + 4);
    if (blocks && blk_ok(&d) && be64_get(d.mv_data))
        *hi += 63 - (uint64_t)__builtin_clzll(be64_get(d.mv_data));
    *found = true;
    return 0;
}

/* DESIGN: the span is the 1 s points' first and last second, extended back
 * by the 1 m buckets that lie wholly before the first 1 s point, then by the
 * 1 h buckets wholly before that (data whose 1 s points have aged out). */
int pt_store_span(struct pt_store *s, uint64_t *first, uint64_t *last)
{
    static const uint64_t width[PT_RES_N] = {1, 60, 3600};
    MDB_cursor *ci = NULL, *c[PT_RES_N] = {NULL};
    uint64_t lo[PT_RES_N], hi[PT_RES_N];
    bool any[PT_RES_N] = {false}, have = false;
    MDB_txn *txn;
    MDB_val k, d;
    int rc;

    if ((rc = store_rd_begin(s, &txn)) < 0)
        return rc;
    if ((rc = store_err(mdb_cursor_open(txn, s->e->dbi[DB_SERIES_ID], &ci))) < 0)
        goto out;
    for (int r = 0; r < PT_RES_N; r++)
        if ((rc = store_err(mdb_cursor_open(txn, s->e->dbi[res_db[r]], &c[r]))) < 0)
            goto out;
    for (rc = mdb_cursor_get(ci, &k, &d, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(ci, &k, &d, MDB_NEXT)) {
        if (k.mv_size != 4)
            continue;
        for (int r = 0; r < PT_RES_N; r++) {
            uint64_t l, h;
            bool f;
            int e = series_ends(c[r], be32_get(k.mv_data), r == PT_RES_1S, &l, &h, &f);
            if (e < 0) {
                rc = e;
                goto out;
            }
            if (!f)
                continue;
            lo[r] = any[r] && lo[r] < l ? lo[r] : l;
            hi[r] = any[r] && hi[r] > h ? hi[r] : h;
            any[r] = true;
        }
    }
    if (rc != MDB_NOTFOUND) {
        rc = store_err(rc);
        goto out;
    }
    for (int r = 0; r < PT_RES_N; r++) {
        if (!any[r])
            continue;
        if (!have || lo[r] + width[r] <= *first)
            *first = lo[r];
        if (!have || hi[r] > *last)
            *last = hi[r];
        have = true;
    }
    rc = have ? 0 : -ENOENT;
out:
    for (int r = 0; r < PT_RES_N; r++)
        if (c[r])
            mdb_cursor_close(c[r]);
    if (ci)
        mdb_cursor_close(ci);
    store_rd_end(s, txn);
    return rc;
}
