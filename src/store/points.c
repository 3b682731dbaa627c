/* points.c - 1 s points in per-minute blocks, 1 m / 1 h rollups, and the
 * retention and dropping of points.
 *
 * DESIGN
 * 1. Blocks. s1 holds one entry per series and minute: key (id, minute
 *    start), value a u64 BE bitmap of the seconds present (bit i = second
 *    minute + i, i < 60) and then their values, u64 BE, in second order.
 *    One entry per point would cost about 60 bytes a point: every second
 *    appends to the end of each series' key range, in the middle of the
 *    tree, and LMDB splits a full page in half, so those pages stay half
 *    empty. A block costs about 13 bytes a point, and a minute's rollup is
 *    one lookup per series. Writing a point rewrites its block (< 500
 *    bytes), which LMDB does anyway when it copies the page.
 * 2. Keys are (id, time) big-endian, so one series is one key range:
 *    rollups, retention and reads are one seek and a walk per series. The
 *    passes over every series iterate the series_id database with their
 *    cursors held for the whole pass.
 * 3. A minute's rollup reads its block; an hour's reads its <= 60 1 m points
 *    and its <= 60 blocks for the p95 (nearest rank, by quickselect). When
 *    the hour's 1 s points are not all there any more (their count differs
 *    from the sum of the minutes' n), the hour's p95 is the largest of its
 *    minutes' p95. A bucket left with no point loses its rollup (a rewrite
 *    may remove a series from a second).
 * 4. Retention and dropping delete whole blocks (minutes). */
#include <errno.h>
#include <stdlib.h>

#include "internal.h"

#define BLK_MASK ((1ull << 60) - 1)

void point_key(uint8_t k[KEY_POINT_LEN], uint32_t id, uint64_t ts)
{
    be32_put(k, id);
    be64_put(k + 4, ts);
}

bool blk_ok(const MDB_val *d)
{
    if (d->mv_size < 8 || d->mv_size > BLK_MAX || d->mv_size % 8)
        return false;
    uint64_t bm = be64_get(d->mv_data);
    return !(bm & ~BLK_MASK) && (size_t)__builtin_popcountll(bm) == d->mv_size / 8 - 1;
}

size_t blk_values(const MDB_val *d, uint64_t m, uint64_t from, uint64_t to, uint64_t *secs,
                  uint64_t *vals)
{
    const uint8_t *p = d->mv_data;
    uint64_t bm = be64_get(p);
    size_t n = 0, k = 0;

    for (; bm; bm &= bm - 1, k++) {
        uint64_t t = m + (uint64_t)__builtin_ctzll(bm);
        if (t < from || t >= to)
            continue;
        if (secs)
            secs[n] = t;
        vals[n++] = be64_get(p + 8 + 8 * k);
    }
    return n;
}

/* The block @old (NULL: none) with second @i set to @v (@set) or cleared,
 * into @out; returns its size (8: no second left). */
static size_t blk_edit(uint8_t out[BLK_MAX], const MDB_val *old, unsigned i, bool set, uint64_t v)
{
    const uint8_t *p = old ? old->mv_data : NULL;
    uint64_t bm = p ? be64_get(p) : 0, bit = 1ull << i;
    size_t rank = (size_t)__builtin_popcountll(bm & (bit - 1)), n = p ? old->mv_size / 8 - 1 : 0;
    bool had = bm & bit;
    uint8_t *q = out + 8;

    if (n && rank)
        memcpy(q, p + 8, 8 * rank);
    if (set)
        be64_put(q + 8 * rank, v);
    size_t tail = n - rank - (had ? 1 : 0);
    if (tail)
        memcpy(q + 8 * (rank + set), p + 8 + 8 * (rank + had), 8 * tail);
    bm = set ? bm | bit : bm & ~bit;
    be64_put(out, bm);
    return 8 + 8 * (size_t)__builtin_popcountll(bm);
}

/* Set (@set) or clear second @sec of series @id through cursor @c. */
static int point_edit(MDB_cursor *c, uint32_t id, uint64_t sec, bool set, uint64_t v)
{
    uint8_t kb[KEY_POINT_LEN], out[BLK_MAX];
    uint64_t m = sec - sec % 60;
    MDB_val k = mval(kb, sizeof kb), d;
    int rc;

    point_key(kb, id, m);
    rc = mdb_cursor_get(c, &k, &d, MDB_SET_KEY);
    if (rc && rc != MDB_NOTFOUND)
        return store_err(rc);
    bool found = rc == 0 && blk_ok(&d);
    if (!set && (!found || !(be64_get(d.mv_data) & (1ull << (sec - m)))))
        return 0;
    size_t n = blk_edit(out, found ? &d : NULL, (unsigned)(sec - m), set, v);
    if (n == 8)
        return store_err(mdb_cursor_del(c, 0));
    k = mval(kb, sizeof kb);
    d = mval(out, n);
    return store_err(mdb_cursor_put(c, &k, &d, 0));
}

/* Walk the blocks of @id with minute in [@from, @to), calling @fn. */
static int blk_walk(MDB_cursor *c, uint32_t id, uint64_t from, uint64_t to,
                    int (*fn)(uint64_t m, const MDB_val *d, void *arg), void *arg)
{
    uint8_t kb[KEY_POINT_LEN];
    MDB_val k = mval(kb, sizeof kb), d;
    int rc;

    point_key(kb, id, from);
    for (rc = mdb_cursor_get(c, &k, &d, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(c, &k, &d, MDB_NEXT)) {
        if (k.mv_size != KEY_POINT_LEN || be32_get(k.mv_data) != id)
            break;
        uint64_t m = be64_get((uint8_t *)k.mv_data + 4);
        if (m >= to)
            break;
        if (!blk_ok(&d))
            continue;
        int r = fn(m, &d, arg);
        if (r)
            return r;
    }
    return rc == 0 || rc == MDB_NOTFOUND ? 0 : store_err(rc);
}

int series_points_put(struct store_wtxn *w, const struct pt_store_batch *b, bool rewrite)
{
    MDB_dbi *dbi = w->s->e->dbi;
    MDB_cursor *c, *ci = NULL;
    MDB_val ik, id;
    int rc = 0;

    if ((rc = mdb_cursor_open(w->txn, dbi[DB_S1], &c)) != 0)
        return store_err(rc);
    if (rewrite) { /* the second's points are replaced as a whole */
        if ((rc = store_err(mdb_cursor_open(w->txn, dbi[DB_SERIES_ID], &ci))) < 0)
            goto out;
        int r;
        for (r = mdb_cursor_get(ci, &ik, &id, MDB_FIRST); r == 0;
             r = mdb_cursor_get(ci, &ik, &id, MDB_NEXT))
            if (ik.mv_size == 4 && (rc = point_edit(c, be32_get(ik.mv_data), b->sec, false, 0)) < 0)
                goto out;
        if (r != MDB_NOTFOUND) {
            rc = store_err(r);
            goto out;
        }
    }
    for (size_t i = 0; i < b->n_points; i++)
        if ((rc = point_edit(c, b->points[i].series, b->sec, true, b->points[i].value)) < 0)
            goto out;
    w->points += b->n_points;
out:
    if (ci)
        mdb_cursor_close(ci);
    mdb_cursor_close(c);
    return rc;
}

/* ---- rollups ---- */

static void swap64(uint64_t *a, uint64_t *b)
{
    uint64_t t = *a;
    *a = *b;
    *b = t;
}

/* The k-th smallest of v[0..n) (k < n); reorders v. Quickselect with a
 * three-way partition: runs of equal values (idle series are all zero) cost
 * one pass, not n. */
static uint64_t select_kth(uint64_t *v, size_t n, size_t k)
{
    size_t lo = 0, hi = n;

    while (hi - lo > 1) {
        uint64_t a = v[lo], b = v[lo + (hi - lo) / 2], c = v[hi - 1];
        uint64_t pivot = a < b ? (b < c ? b : (a < c ? c : a)) : (a < c ? a : (b < c ? c : b));
        size_t lt = lo, i = lo, gt = hi;
        while (i < gt) {
            if (v[i] < pivot)
                swap64(&v[lt++], &v[i++]);
            else if (v[i] > pivot)
                swap64(&v[i], &v[--gt]);
            else
                i++;
        }
        if (k < lt)
            hi = lt;
        else if (k >= gt)
            lo = gt;
        else
            return pivot;
    }
    return v[lo];
}

/* p95 by nearest rank: the ceil(0.95 n)-th smallest value. */
static uint64_t p95(uint64_t *v, size_t n)
{
    return select_kth(v, n, (95 * n + 99) / 100 - 1);
}

void rollup_put(uint8_t b[ROLLUP_LEN], const struct pt_store_value *r)
{
    be64_put(b, r->sum);
    be64_put(b + 8, r->min);
    be64_put(b + 16, r->max);
    be64_put(b + 24, r->p95);
    be32_put(b + 32, r->n);
}

void rollup_get(const uint8_t b[ROLLUP_LEN], struct pt_store_value *r)
{
    r->sum = be64_get(b);
    r->min = be64_get(b + 8);
    r->max = be64_get(b + 16);
    r->p95 = be64_get(b + 24);
    r->n = be32_get(b + 32);
}

static int bucket_set(struct store_wtxn *w, MDB_cursor *c, MDB_dbi dbi, uint32_t id, uint64_t t,
                      const struct pt_store_value *r)
{
    uint8_t kb[KEY_POINT_LEN], vb[ROLLUP_LEN];
    MDB_val k = mval(kb, sizeof kb), d = mval(vb, sizeof vb);
    int rc;

    point_key(kb, id, t);
    if (!r) {
        rc = mdb_del(w->txn, dbi, &k, NULL);
        return rc == MDB_NOTFOUND ? 0 : store_err(rc);
    }
    rollup_put(vb, r);
    return store_err(mdb_cursor_put(c, &k, &d, 0));
}

/* Cursors of a pass over every series. */
struct pass {
    MDB_cursor *ids, *c[3];
};

static int pass_open(struct store_wtxn *w, struct pass *p, const int dbs[3])
{
    MDB_dbi *dbi = w->s->e->dbi;
    int rc;

    memset(p, 0, sizeof *p);
    if ((rc = mdb_cursor_open(w->txn, dbi[DB_SERIES_ID], &p->ids)) != 0)
        return store_err(rc);
    for (int i = 0; i < 3; i++)
        if (dbs[i] >= 0 && (rc = mdb_cursor_open(w->txn, dbi[dbs[i]], &p->c[i])) != 0)
            return store_err(rc);
    return 0;
}

static void pass_close(struct pass *p)
{
    for (int i = 0; i < 3; i++)
        if (p->c[i])
            mdb_cursor_close(p->c[i]);
    if (p->ids)
        mdb_cursor_close(p->ids);
}

/* Next series id of the pass: 1, or 0 at the end, or an error. */
static int pass_next(struct pass *p, bool first, uint32_t *id)
{
    MDB_val k, d;
    int rc;

    while ((rc = mdb_cursor_get(p->ids, &k, &d, first ? MDB_FIRST : MDB_NEXT)) == 0) {
        first = false;
        if (k.mv_size == 4) {
            *id = be32_get(k.mv_data);
            return 1;
        }
    }
    return rc == MDB_NOTFOUND ? 0 : store_err(rc);
}

static void stats_of(const uint64_t *v, size_t n, struct pt_store_value *r)
{
    r->n = (uint32_t)n;
    r->sum = r->max = 0;
    r->min = UINT64_MAX;
    for (size_t i = 0; i < n; i++) {
        r->sum += v[i];
        r->min = v[i] < r->min ? v[i] : r->min;
        r->max = v[i] > r->max ? v[i] : r->max;
    }
}

int series_roll_minute(struct store_wtxn *w, uint64_t m)
{
    static const int dbs[3] = {DB_S1, DB_M1, -1};
    uint64_t *v = w->s->scratch;
    uint8_t kb[KEY_POINT_LEN];
    struct pass p;
    uint32_t id;
    int rc;

    if ((rc = pass_open(w, &p, dbs)) < 0)
        goto out;
    for (bool first = true; (rc = pass_next(&p, first, &id)) == 1; first = false) {
        MDB_val k = mval(kb, sizeof kb), d;
        size_t n = 0;
        point_key(kb, id, m);
        int g = mdb_cursor_get(p.c[0], &k, &d, MDB_SET_KEY);
        if (g && g != MDB_NOTFOUND) {
            rc = store_err(g);
            goto out;
        }
        if (g == 0 && blk_ok(&d))
            n = blk_values(&d, m, m, m + 60, NULL, v);
        struct pt_store_value r;
        stats_of(v, n, &r);
        if (n)
            r.p95 = p95(v, n);
        if ((rc = bucket_set(w, p.c[1], w->s->e->dbi[DB_M1], id, m, n ? &r : NULL)) < 0)
            goto out;
    }
out:
    pass_close(&p);
    return rc;
}

struct gather {
    uint64_t *v;
    size_t n;
};

static int gather_blk(uint64_t m, const MDB_val *d, void *arg)
{
    struct gather *g = arg;
    g->n += blk_values(d, m, m, m + 60, NULL, g->v + g->n);
    return 0;
}

/* The hour's 1 m points of @id: sum, min, max, n into @r; largest p95 in
 * *@maxp; number of points in *@nm. */
static int minutes_read(MDB_cursor *c, uint32_t id, uint64_t h, struct pt_store_value *r,
                        uint64_t *maxp, size_t *nm)
{
    uint8_t kb[KEY_POINT_LEN];
    MDB_val k = mval(kb, sizeof kb), d;
    struct pt_store_value x;
    int rc;

    memset(r, 0, sizeof *r);
    r->min = UINT64_MAX;
    *maxp = 0;
    *nm = 0;
    point_key(kb, id, h);
    for (rc = mdb_cursor_get(c, &k, &d, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(c, &k, &d, MDB_NEXT)) {
        if (k.mv_size != KEY_POINT_LEN || be32_get(k.mv_data) != id ||
            be64_get((uint8_t *)k.mv_data + 4) >= h + 3600)
            break;
        if (d.mv_size != ROLLUP_LEN)
            continue;
        rollup_get(d.mv_data, &x);
        r->sum += x.sum;
        r->n += x.n;
        r->min = x.min < r->min ? x.min : r->min;
        r->max = x.max > r->max ? x.max : r->max;
        *maxp = x.p95 > *maxp ? x.p95 : *maxp;
        (*nm)++;
    }
    return rc == 0 || rc == MDB_NOTFOUND ? 0 : store_err(rc);
}

int series_roll_hour(struct store_wtxn *w, uint64_t h)
{
    static const int dbs[3] = {DB_S1, DB_M1, DB_H1};
    struct pass p;
    uint32_t id;
    int rc;

    if ((rc = pass_open(w, &p, dbs)) < 0)
        goto out;
    for (bool first = true; (rc = pass_next(&p, first, &id)) == 1; first = false) {
        struct pt_store_value r;
        struct gather g = {.v = w->s->scratch};
        uint64_t maxp;
        size_t nm;
        if ((rc = minutes_read(p.c[1], id, h, &r, &maxp, &nm)) < 0)
            goto out;
        if (nm) {
            if ((rc = blk_walk(p.c[0], id, h, h + 3600, gather_blk, &g)) < 0)
                goto out;
            r.p95 = g.n && g.n == r.n ? p95(g.v, g.n) : maxp;
        }
        if ((rc = bucket_set(w, p.c[2], w->s->e->dbi[DB_H1], id, h, nm ? &r : NULL)) < 0)
            goto out;
    }
out:
    pass_close(&p);
    return rc;
}

/* ---- retention ---- */

/* Delete @id's keys of @c's database with time < @cut; returns how many. */
static int64_t range_del(MDB_cursor *c, uint32_t id, uint64_t cut)
{
    uint8_t kb[KEY_POINT_LEN];
    MDB_val k = mval(kb, sizeof kb), d;
    int64_t n = 0;
    int rc;

    point_key(kb, id, 0);
    for (rc = mdb_cursor_get(c, &k, &d, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(c, &k, &d, MDB_NEXT)) {
        if (k.mv_size != KEY_POINT_LEN || be32_get(k.mv_data) != id ||
            be64_get((uint8_t *)k.mv_data + 4) >= cut)
            break;
        if ((rc = mdb_cursor_del(c, 0)) != 0)
            return store_err(rc);
        n++;
    }
    return rc == 0 || rc == MDB_NOTFOUND ? n : store_err(rc);
}

/* Delete, for every series, the keys of @dbs[i] before @cut[i] (0: none);
 * count into *@n. */
static int pass_del(struct store_wtxn *w, const int dbs[3], const uint64_t cut[3], uint64_t *n)
{
    struct pass p;
    uint32_t id;
    int rc;

    if ((rc = pass_open(w, &p, dbs)) < 0)
        goto out;
    for (bool first = true; (rc = pass_next(&p, first, &id)) == 1; first = false) {
        for (int i = 0; i < 3; i++) {
            if (dbs[i] < 0 || !cut[i])
                continue;
            int64_t k = range_del(p.c[i], id, cut[i]);
            if (k < 0) {
                rc = (int)k;
                goto out;
            }
            *n += (uint64_t)k;
        }
    }
out:
    pass_close(&p);
    return rc;
}

int series_retain(struct store_wtxn *w, uint64_t cut_s1, uint64_t cut_m1, uint64_t cut_h1)
{
    static const int dbs[3] = {DB_S1, DB_M1, DB_H1};
    /* a block goes when its last second is before cut_s1 */
    const uint64_t cut[3] = {cut_s1 >= 60 ? cut_s1 - 59 : 0, cut_m1, cut_h1};

    return pass_del(w, dbs, cut, &w->ret_dels);
}

int series_drop_before(struct store_wtxn *w, uint64_t cut)
{
    static const int dbs[3] = {DB_S1, -1, -1};
    const uint64_t c[3] = {cut, 0, 0};

    return pass_del(w, dbs, c, &w->dropped);
}

int series_first_s1(struct store_wtxn *w, uint64_t *first)
{
    static const int dbs[3] = {DB_S1, -1, -1};
    uint8_t kb[KEY_POINT_LEN];
    MDB_val k, d;
    struct pass p;
    uint32_t id;
    bool found = false;
    int rc;

    if ((rc = pass_open(w, &p, dbs)) < 0)
        goto out;
    for (bool f = true; (rc = pass_next(&p, f, &id)) == 1; f = false) {
        point_key(kb, id, 0);
        k = mval(kb, sizeof kb);
        int r = mdb_cursor_get(p.c[0], &k, &d, MDB_SET_RANGE);
        if (r == MDB_NOTFOUND)
            continue;
        if (r) {
            rc = store_err(r);
            goto out;
        }
        if (k.mv_size == KEY_POINT_LEN && be32_get(k.mv_data) == id && blk_ok(&d) &&
            be64_get(d.mv_data)) {
            uint64_t ts =
                be64_get((uint8_t *)k.mv_data + 4) + (uint64_t)__builtin_ctzll(be64_get(d.mv_data));
            if (!found || ts < *first)
                *first = ts;
            found = true;
        }
    }
out:
    pass_close(&p);
    return rc < 0 ? rc : found ? 0 : -ENOENT;
}
