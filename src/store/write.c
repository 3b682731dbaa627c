/* write.c - one second's write: points, top lists, flows and live flows in
 * one txn, with the rollups it triggers and retention; making room at
 * map_max; the final rollup.
 *
 * DESIGN
 * 1. Pending rollups. meta pend_1m is the minute whose 1 s points have
 *    changed since its 1 m rollup; pend_1h the hour whose 1 m rollups have.
 *    Every other bucket's rollup is final. A write for second S (minute m,
 *    hour h):
 *      a. when pend_1m != m: roll pend_1m (series and top lists); its hour
 *         becomes pend_1h (rolling the previous pend_1h first if that is
 *         another hour);
 *      b. when pend_1h != h: roll pend_1h;
 *      c. write S, and pend_1m = m.
 *    In a run, writes go forward, so each minute is rolled once, in the
 *    txn that first writes the next minute, and each hour once, in the txn
 *    that first writes the next hour. Rewriting old seconds (reading a
 *    capture again) makes their minute pending again: it is rolled again
 *    when the writes move on, not once per rewritten second.
 *    pt_store_finish() rolls both. The pend keys are written in the same
 *    txn as the data, so after kill -9 the next write carries on.
 * 2. Retention runs in the txn that moves last_sec into a new minute. It
 *    never deletes what a pending rollup still needs: 1 s points from
 *    pend_1m on, 1 m points from pend_1h on. Flow records are trimmed in
 *    every write, at most max(10000, 2 x batch) of them.
 * 3. A full map. store_write_run() doubles the map up to map_soft. When it
 *    is full there: a batch larger than the whole map is lost at once
 *    (nothing old is dropped for it); otherwise, with the map at map_max
 *    (the headroom), the oldest tenth is dropped: 1 s points and 1 s lists
 *    by time (whole minutes, not the pending one) in one txn, then a tenth
 *    of the flow records in txns sized to the headroom (halved when one
 *    does not fit, doubled when it does); one more small txn records the count in meta (LMDB
 *    reuses the pages a txn frees only from the txn after next); and the
 *    batch is tried once more. The live flows (live.c) are part of the
 *    batch, so they grow the map and retry with it; the drop leaves them
 *    alone (they are only the flow table's open flows). */
#include <errno.h>

#include "internal.h"

#define FLOW_TRIM_MIN 10000

static int roll_minute(struct store_wtxn *w, uint64_t m)
{
    int rc = series_roll_minute(w, m);
    return rc < 0 ? rc : top_merge_minute(w, m);
}

/* DESIGN 1 a-b; @finish rolls whatever is pending. */
static int roll_pending(struct store_wtxn *w, uint64_t m_now, uint64_t h_now, bool finish)
{
    struct store_meta *m = &w->m;
    int rc;

    if (m->has_p1m && (finish || m->p1m != m_now)) {
        uint64_t hp = m->p1m - m->p1m % 3600;
        if ((rc = roll_minute(w, m->p1m)) < 0)
            return rc;
        if (m->has_p1h && m->p1h != hp && (rc = series_roll_hour(w, m->p1h)) < 0)
            return rc;
        m->has_p1m = false;
        m->has_p1h = true;
        m->p1h = hp;
    }
    if (m->has_p1h && (finish || m->p1h != h_now)) {
        if ((rc = series_roll_hour(w, m->p1h)) < 0)
            return rc;
        m->has_p1h = false;
    }
    return 0;
}

static int meta_opt_put(struct store_wtxn *w, const char *name, bool has, uint64_t v)
{
    MDB_dbi dbi = w->s->e->dbi[DB_META];
    return has ? meta_put_u64(w->txn, dbi, name, v) : meta_del(w->txn, dbi, name);
}

static int meta_save(struct store_wtxn *w)
{
    int rc;

    if ((rc = meta_opt_put(w, "last_sec", w->m.has_last, w->m.last_sec)) < 0 ||
        (rc = meta_opt_put(w, "pend_1m", w->m.has_p1m, w->m.p1m)) < 0)
        return rc;
    return meta_opt_put(w, "pend_1h", w->m.has_p1h, w->m.p1h);
}

static uint64_t keep_cut(uint64_t last, uint64_t keep)
{
    return keep ? sat_sub(last, keep) : 0;
}

/* Buckets of width @w are deleted once their end is before @cut: those that
 * start before cut - w + 1. */
static uint64_t bucket_cut(uint64_t cut, uint64_t w)
{
    return cut >= w ? cut - w + 1 : 0;
}

/* DESIGN 2: points and lists. */
static int retention(struct store_wtxn *w)
{
    const struct pt_store_config *c = &w->s->cfg;
    const struct store_meta *m = &w->m;
    uint64_t c1 = keep_cut(m->last_sec, c->keep_s[PT_RES_1S]);
    uint64_t cm = keep_cut(m->last_sec, c->keep_s[PT_RES_1M]);
    uint64_t ch = keep_cut(m->last_sec, c->keep_s[PT_RES_1H]);
    int rc;

    if (m->has_p1m) {
        c1 = c1 > m->p1m ? m->p1m : c1;
        uint64_t hp = m->p1m - m->p1m % 3600;
        cm = cm > hp ? hp : cm;
    }
    if (m->has_p1h && cm > m->p1h)
        cm = m->p1h;
    cm = bucket_cut(cm, 60);
    ch = bucket_cut(ch, 3600);
    if ((rc = series_retain(w, c1, cm, ch)) < 0)
        return rc;
    return top_retain(w, c1, cm);
}

static int write_body(struct store_wtxn *w, void *arg)
{
    const struct pt_store_batch *b = arg;
    const struct pt_store_config *c = &w->s->cfg;
    uint64_t sec = b->sec, mm = sec - sec % 60, hh = sec - sec % 3600;
    struct store_meta *m = &w->m;
    bool rewrite = m->has_last && sec <= m->last_sec;
    bool new_minute = !m->has_last || mm > m->last_sec - m->last_sec % 60;
    int rc;

    if ((rc = roll_pending(w, mm, hh, false)) < 0 || (rc = series_points_put(w, b, rewrite)) < 0 ||
        (rc = top_put(w, b, rewrite)) < 0 || (rc = flows_put(w)) < 0 || (rc = live_put(w)) < 0)
        return rc;
    m->has_p1m = true;
    m->p1m = mm;
    if (!m->has_last || sec > m->last_sec) {
        m->has_last = true;
        m->last_sec = sec;
    }
    if (new_minute && (rc = retention(w)) < 0)
        return rc;
    uint64_t fcut = keep_cut(m->last_sec, c->keep_flows_s);
    if (fcut) {
        uint64_t budget = 2 * (uint64_t)b->n_flows;
        if ((rc = flows_retain(w, fcut * 1000000000ull,
                               budget > FLOW_TRIM_MIN ? budget : FLOW_TRIM_MIN)) < 0)
            return rc;
    }
    return meta_save(w);
}

/* ---- making room at map_max ---- */

/* The oldest tenth of the 1 s points and lists, by time. */
static int drop_points_body(struct store_wtxn *w, void *arg)
{
    uint64_t f1 = 0, f2 = 0, first;
    bool h1, h2;
    int rc;

    (void)arg;
    if ((rc = series_first_s1(w, &f1)) < 0 && rc != -ENOENT)
        return rc;
    h1 = rc == 0;
    if ((rc = top_first_1s(w, &f2)) < 0 && rc != -ENOENT)
        return rc;
    h2 = rc == 0;
    if (!h1 && !h2)
        return 0;
    first = h1 && h2 ? (f1 < f2 ? f1 : f2) : h1 ? f1 : f2;
    uint64_t last = w->m.has_last && w->m.last_sec > first ? w->m.last_sec : first;
    uint64_t cut = first + (last - first) / 10 + 1;
    if (w->m.has_p1m && cut > w->m.p1m)
        cut = w->m.p1m;
    if (cut > first &&
        ((rc = series_drop_before(w, cut)) < 0 || (rc = top_drop_before(w, cut)) < 0))
        return rc;
    w->m.dropped += w->dropped;
    return 0;
}

struct drop_flows {
    uint64_t max, total; /* in: records to drop; out: flows in the store */
};

static int drop_flows_body(struct store_wtxn *w, void *arg)
{
    struct drop_flows *d = arg;
    MDB_stat st;
    int rc;

    if ((rc = mdb_stat(w->txn, w->s->e->dbi[DB_FLOWS], &st)) != 0)
        return store_err(rc);
    d->total = st.ms_entries;
    if (d->max && (rc = flows_drop_oldest(w, d->max)) < 0)
        return rc;
    w->m.dropped += w->dropped;
    return 0;
}

static int bump_body(struct store_wtxn *w, void *arg)
{
    (void)arg;
    return meta_put_u64(w->txn, w->s->e->dbi[DB_META], "dropped_old", w->m.dropped);
}

/* DESIGN 3, with the map at map_max. A flow's index keys sit anywhere in
 * their trees, so deleting n records may copy 4n pages: the flows go in
 * chunks that fit the headroom, halved when one does not. */
static int drop_run(struct pt_store *s)
{
    struct drop_flows d = {0};
    uint64_t chunk = store_headroom(s) / 4096 / 6, left;
    int rc;

    if ((rc = store_write_once(s, drop_points_body, NULL)) < 0)
        return rc;
    if ((rc = store_write_once(s, drop_flows_body, &d)) < 0) /* counts them */
        return rc;
    left = d.total / 10 ? d.total / 10 : d.total;
    chunk = chunk < 8 ? 8 : chunk;
    while (left) {
        d.max = chunk < left ? chunk : left;
        rc = store_write_once(s, drop_flows_body, &d);
        if (rc == PT_E_FULL && chunk > 1) {
            chunk /= 2;
            continue;
        }
        if (rc < 0)
            return rc;
        left -= d.max;
        /* The oldest records' index keys are mostly together at the start of
         * their trees: a chunk usually copies far fewer pages than feared. */
        chunk = chunk < (1u << 20) ? chunk * 2 : chunk;
    }
    return 0;
}

static int drop_oldest(struct pt_store *s)
{
    uint64_t before = s->st.dropped_old;
    int rc, rc2;

    if ((rc = store_map_hard(s, true)) < 0)
        return rc;
    rc = drop_run(s);
    if (s->st.dropped_old == before && rc == 0)
        rc = PT_E_FULL; /* nothing left to drop */
    /* LMDB reuses the pages a txn frees from the txn after next: one more */
    if (s->st.dropped_old != before && (rc2 = store_write_once(s, bump_body, NULL)) < 0 && !rc)
        rc = rc2;
    if ((rc2 = store_map_hard(s, false)) < 0 && !rc)
        rc = rc2;
    if (s->st.dropped_old != before) {
        s->drop_quiet += s->st.dropped_old - before;
        if (store_log_due(&s->drop_log_ns)) {
            pt_log(PT_LOG_WARN,
                   "store: map full at %llu MiB: dropped the oldest data (%llu entries since the "
                   "last message, %llu in all)",
                   (unsigned long long)(s->cfg.map_max >> 20), (unsigned long long)s->drop_quiet,
                   (unsigned long long)s->st.dropped_old);
            s->drop_quiet = 0;
        }
    }
    return s->st.dropped_old != before ? 0 : rc;
}

/* ---- the public calls ---- */

static int batch_check(const struct pt_store *s, const struct pt_store_batch *b)
{
    if ((b->n_points && !b->points) || (b->n_hosts && !b->hosts) || (b->n_tflows && !b->tflows) ||
        (b->n_flows && !b->flows) || (b->n_live && !b->live))
        return PT_E_BADARG;
    for (size_t i = 0; i < b->n_points; i++)
        if (!series_id_valid(s, b->points[i].series))
            return PT_E_BADARG;
    return 0;
}

int pt_store_write(struct pt_store *s, const struct pt_store_batch *b)
{
    const char *why = NULL;
    int rc;

    if (!b)
        return PT_E_BADARG;
    if (s->readonly)
        return -EROFS;
    if ((rc = batch_check(s, b)) < 0) {
        why = "bad batch (unknown series id or missing array)";
        goto lost;
    }
    if ((rc = flows_prepare(s, b)) < 0 || (rc = live_prepare(s, b)) < 0)
        goto lost;
    uint64_t est = s->fp.bytes + s->lp.bytes + b->n_points * (KEY_POINT_LEN + 8 + 10) +
                   b->n_hosts * 40 + b->n_tflows * 76 + 256;
    if (est > s->map_soft) {
        rc = PT_E_FULL;
        why = "larger than the whole map";
        goto lost;
    }
    rc = store_write_run(s, write_body, (void *)b, est);
    if (rc == PT_E_FULL) {
        s->st.map_full++;
        if ((rc = drop_oldest(s)) == 0)
            rc = store_write_run(s, write_body, (void *)b, est);
        if (rc == PT_E_FULL)
            why = "the map is full at its maximum";
    }
    if (rc < 0)
        goto lost;
    ifaces_commit(s);
    return 0;
lost:
    s->st.lost_batches++;
    store_log_lost(s, b->sec, rc, why ? why : store_mdb_msg());
    return rc;
}

static int finish_body(struct store_wtxn *w, void *arg)
{
    int rc;

    (void)arg;
    if ((rc = roll_pending(w, 0, 0, true)) < 0)
        return rc;
    return meta_save(w);
}

int pt_store_finish(struct pt_store *s)
{
    if (s->readonly)
        return -EROFS;
    if (!s->meta.has_p1m && !s->meta.has_p1h)
        return 0;
    return store_write_run(s, finish_body, NULL, 1 << 20);
}
