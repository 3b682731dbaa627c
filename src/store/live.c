/* live.c - the live flows: db "live", (u64 BE start ns, uid[20]) -> the encoded record (the
 * flows db's encoding, flows.c) of each flow still open as the writer last
 * saw it; its upkeep in the batch's transaction, its clearing when a writer
 * opens the store, and its read.
 *
 * DESIGN
 * 1. One key per open flow: its start time (the first packet, which never
 *    changes) then its uid (NUL-padded as in the flows keys). A refresh
 *    replaces the value in place, and a flow's end deletes it by the start
 *    and uid its finished record carries, with no other index to keep. The
 *    time prefix keeps writes local: new flows append at the end of the
 *    tree, and the flows that end in one second mostly started close
 *    together (an idle timeout ago), where uid keys (hashes) would touch a
 *    page per record once a million flows are open. Readers seek to --from
 *    and filter the rest while they walk: the db holds the flow table's
 *    open flows, not 30 days of them.
 * 2. A batch, prepared outside the txn like the flows (live_prepare): the
 *    live records sorted by key, a later one of the same key winning; the
 *    keys of the batch's finished flows sorted; a live record whose key is
 *    among them is left out, since the flow has ended (otherwise nothing
 *    would ever delete it again). The txn then deletes the ended keys and
 *    puts the records in key order with one cursor; records beyond the
 *    newest stored key are MDB_APPENDed (the first batch of a run, into an
 *    empty db, is all appends).
 * 3. A writer empties the db in its open txn (env.c, live_clear): a run
 *    starts with an empty flow table, and after kill -9 the last run's
 *    open flows would otherwise stay "live" for ever. Nothing else ages
 *    records out: retention and the drop at a full map leave "live" alone.
 * 4. Stores made before "live" have no such db. The writer creates it
 *    (no schema change: the db is additive); a reader of such a store reads
 *    no live flow until a writer has made it (store_live_dbi()). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* ---- preparing a batch ---- */

void live_prep_free(struct live_prep *lp)
{
    free(lp->ent);
    free(lp->buf);
    free(lp->dead);
    memset(lp, 0, sizeof *lp);
}

/* The "live" key of @r: start time, then uid. */
static void live_key(uint8_t k[LIVE_KEY_LEN], const struct pt_flow_record *r)
{
    be64_put(k, r->ts_ns);
    uid_pad(k + 8, r->uid);
}

/* Whether key @k is among the @n sorted @dead keys, moving *@j (a cursor
 * into them) forward: @k come in increasing order. */
static bool dead_has(const uint8_t *dead, size_t n, size_t *j, const uint8_t *k)
{
    int c = 1;

    while (*j < n && (c = memcmp(dead + *j * LIVE_KEY_LEN, k, LIVE_KEY_LEN)) < 0)
        (*j)++;
    return *j < n && c == 0;
}

/* The ended keys: those of every one of the batch's finished flows. */
static int dead_prepare(struct live_prep *lp, const struct pt_store_batch *b)
{
    int rc;

    if ((rc = prep_grow((void **)&lp->dead, &lp->cap_dead, b->n_flows, LIVE_KEY_LEN)) < 0)
        return rc;
    for (size_t i = 0; i < b->n_flows; i++)
        live_key(lp->dead + i * LIVE_KEY_LEN, &b->flows[i]);
    lp->n_dead = sort_uniq(lp->dead, b->n_flows, LIVE_KEY_LEN);
    return 0;
}

int live_prepare(struct pt_store *s, const struct pt_store_batch *b)
{
    struct live_prep *lp = &s->lp;
    size_t n = b->n_live, o = 0, j = 0, used = 0;
    int rc;

    lp->n = lp->n_dead = 0;
    lp->bytes = 0;
    if (b->n_flows && (rc = dead_prepare(lp, b)) < 0)
        return rc;
    if (!n)
        return 0;
    if ((rc = prep_grow((void **)&lp->ent, &lp->cap, n, sizeof *lp->ent)) < 0)
        return rc;
    for (size_t i = 0; i < n; i++) {
        live_key(lp->ent[i].key, &b->live[i]);
        be32_put(lp->ent[i].seq, (uint32_t)i);
    }
    rows_sort((uint8_t *)lp->ent, n, sizeof *lp->ent, LIVE_KEY_LEN + 4);
    /* DESIGN 2: the later of a key wins (seq sorts it last); ended keys go */
    for (size_t i = 0; i < n; i++) {
        if (i + 1 < n && memcmp(lp->ent[i].key, lp->ent[i + 1].key, LIVE_KEY_LEN) == 0)
            continue;
        if (dead_has(lp->dead, lp->n_dead, &j, lp->ent[i].key))
            continue;
        lp->ent[o++] = lp->ent[i];
    }
    /* Encode the survivors in key order: the txn reads the buffer forward. */
    for (size_t i = 0; i < o; i++) {
        struct live_ent *e = &lp->ent[i];
        const struct pt_flow_record *r = &b->live[be32_get(e->seq)];
        if ((rc = prep_grow((void **)&lp->buf, &lp->buf_cap, used + FLOW_ENC_MAX, 1)) < 0)
            return rc;
        e->off = (uint32_t)used;
        e->len = (uint32_t)flow_encode(lp->buf + used, r, ifaces_remap(&s->fp, r->ifaces));
        used += e->len;
    }
    lp->n = o;
    lp->bytes = used + o * (LIVE_KEY_LEN + 10);
    return 0;
}

/* ---- writing ---- */

static int dead_del(MDB_cursor *c, const struct live_prep *lp)
{
    MDB_val k, d;
    int rc;

    for (size_t i = 0; i < lp->n_dead; i++) {
        k = mval(lp->dead + i * LIVE_KEY_LEN, LIVE_KEY_LEN);
        rc = mdb_cursor_get(c, &k, &d, MDB_SET);
        if (rc == MDB_NOTFOUND) /* a flow that ended before any refresh */
            continue;
        if (rc || (rc = mdb_cursor_del(c, 0)) != 0)
            return store_err(rc);
    }
    return 0;
}

int live_put(struct store_wtxn *w)
{
    const struct live_prep *lp = &w->s->lp;
    MDB_cursor *c;
    MDB_stat st;
    MDB_val k, d;
    size_t split = 0;
    int rc;

    if (!lp->n && !lp->n_dead)
        return 0;
    if ((rc = mdb_stat(w->txn, w->s->e->dbi[DB_LIVE], &st)) != 0)
        return store_err(rc);
    if (!lp->n && !st.ms_entries)
        return 0; /* nothing open: no lookup per ended uid */
    if ((rc = mdb_cursor_open(w->txn, w->s->e->dbi[DB_LIVE], &c)) != 0)
        return store_err(rc);
    if (st.ms_entries && (rc = dead_del(c, lp)) < 0)
        goto out;
    /* The records beyond the newest stored key are a suffix: appended. */
    rc = mdb_cursor_get(c, &k, &d, MDB_LAST);
    if (rc == 0) {
        size_t ln = k.mv_size < LIVE_KEY_LEN ? k.mv_size : LIVE_KEY_LEN;
        while (split < lp->n && memcmp(lp->ent[split].key, k.mv_data, ln) <= 0)
            split++;
    } else if (rc != MDB_NOTFOUND) {
        rc = store_err(rc);
        goto out;
    }
    rc = 0;
    for (size_t i = 0; i < lp->n && rc == 0; i++) {
        k = mval(lp->ent[i].key, LIVE_KEY_LEN);
        d = mval(lp->buf + lp->ent[i].off, lp->ent[i].len);
        rc = store_err(mdb_cursor_put(c, &k, &d, i >= split ? MDB_APPEND : 0));
    }
    if (rc == 0)
        w->live += lp->n;
out:
    mdb_cursor_close(c);
    return rc;
}

int live_clear(MDB_txn *txn, MDB_dbi dbi, uint64_t *n)
{
    MDB_stat st;
    int rc;

    *n = 0;
    if ((rc = mdb_stat(txn, dbi, &st)) != 0)
        return store_err(rc);
    if (!st.ms_entries)
        return 0;
    *n = st.ms_entries;
    return store_err(mdb_drop(txn, dbi, 0));
}

/* ---- reading ---- */

_Static_assert(LIVE_KEY_LEN == KEY_FLOW_LEN, "live keys are laid out as the flows keys");

int pt_store_live_read(struct pt_store *s, const struct pt_store_flow_query *q,
                       int (*cb)(const struct pt_flow_record *rec, void *arg), void *arg)
{
    uint64_t to = q->to_ns ? q->to_ns : UINT64_MAX, bad = 0;
    MDB_dbi dbi;
    MDB_txn *txn;
    int rc;

    if ((rc = store_live_dbi(s, &dbi)) <= 0 || to <= q->from_ns)
        return rc < 0 ? rc : 0;
    if ((rc = store_rd_begin(s, &txn)) < 0)
        return rc;
    rc = flow_query_walk(txn, dbi, q, cb, arg, &bad); /* DESIGN 1: the key is (start, uid) */
    store_rd_end(s, txn);
    if (bad)
        pt_log(PT_LOG_WARN, "store: %s: %llu live flow records could not be decoded (skipped)",
               s->dir, (unsigned long long)bad);
    return rc;
}
