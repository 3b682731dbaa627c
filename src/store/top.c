/* top.c - per-second top-N lists, their 1 m merge, retention and reads.
 *
 * DESIGN
 * 1. A list is one value under (kind, res, second): a 4-byte header
 *    (encoding version 1, kind, N the list was cut at, u16 BE) and packed
 *    big-endian entries: hosts 40 bytes (addr, bytes, pkts, flows), flows
 *    76 bytes (uid, orig_h, resp_h, orig_p, resp_p, vlan, proto, ver, bytes,
 *    pkts). Values are written in place (MDB_RESERVE).
 * 2. A minute's list merges its 1 s lists: entries are summed per host (per
 *    uid for flows), then cut as the agg cuts a second's list: hosts, the
 *    union of the top K by bytes, by packets and by flows; flows, the top K
 *    by bytes; ties by address / uid. K is the largest N of the minute's
 *    lists (the longest list when the writer gave none). It is exact for
 *    what the 1 s lists hold; a host that never made a 1 s list is not in
 *    the minute's either. */
#include <errno.h>
#include <stdlib.h>

#include "internal.h"

#define TOP_ENC     1
#define TOP_HDR     4
#define TOP_HOST_SZ 40
#define TOP_FLOW_SZ 76

static const size_t ent_sz[PT_TOP_N_KINDS] = {TOP_HOST_SZ, TOP_FLOW_SZ};
static const size_t ent_struct[PT_TOP_N_KINDS] = {sizeof(struct pt_top_host),
                                                  sizeof(struct pt_top_flow)};

static void top_key(uint8_t k[KEY_TOP_LEN], unsigned kind, unsigned res, uint64_t sec)
{
    k[0] = (uint8_t)kind;
    k[1] = (uint8_t)res;
    be64_put(k + 2, sec);
}

static void host_enc(uint8_t *p, const struct pt_top_host *h)
{
    memcpy(p, h->addr, 16);
    be64_put(p + 16, h->bytes);
    be64_put(p + 24, h->pkts);
    be64_put(p + 32, h->flows);
}

static void host_dec(const uint8_t *p, struct pt_top_host *h)
{
    memset(h, 0, sizeof *h);
    memcpy(h->addr, p, 16);
    h->bytes = be64_get(p + 16);
    h->pkts = be64_get(p + 24);
    h->flows = be64_get(p + 32);
}

static void flow_enc(uint8_t *p, const struct pt_top_flow *f)
{
    memset(p, 0, UID_LEN);
    memcpy(p, f->uid, strnlen(f->uid, UID_LEN));
    memcpy(p + 20, f->orig_h, 16);
    memcpy(p + 36, f->resp_h, 16);
    be16_put(p + 52, f->orig_p);
    be16_put(p + 54, f->resp_p);
    be16_put(p + 56, f->vlan);
    p[58] = f->proto;
    p[59] = f->ver;
    be64_put(p + 60, f->bytes);
    be64_put(p + 68, f->pkts);
}

static void flow_dec(const uint8_t *p, struct pt_top_flow *f)
{
    memset(f, 0, sizeof *f);
    memcpy(f->uid, p, UID_LEN);
    f->uid[UID_LEN - 1] = '\0';
    memcpy(f->orig_h, p + 20, 16);
    memcpy(f->resp_h, p + 36, 16);
    f->orig_p = be16_get(p + 52);
    f->resp_p = be16_get(p + 54);
    f->vlan = be16_get(p + 56);
    f->proto = p[58];
    f->ver = p[59];
    f->bytes = be64_get(p + 60);
    f->pkts = be64_get(p + 68);
}

/* Write @n entries (structs) of @kind under (kind, res, sec); delete the key
 * when n is 0. */
static int list_put(MDB_txn *txn, MDB_dbi dbi, unsigned kind, unsigned res, uint64_t sec,
                    const void *ents, size_t n, unsigned top_n)
{
    uint8_t kb[KEY_TOP_LEN];
    MDB_val k = mval(kb, sizeof kb), d;
    int rc;

    top_key(kb, kind, res, sec);
    if (!n) {
        rc = mdb_del(txn, dbi, &k, NULL);
        return rc == MDB_NOTFOUND ? 0 : store_err(rc);
    }
    d.mv_size = TOP_HDR + n * ent_sz[kind];
    d.mv_data = NULL;
    if ((rc = mdb_put(txn, dbi, &k, &d, MDB_RESERVE)) != 0)
        return store_err(rc);
    uint8_t *p = d.mv_data;
    p[0] = TOP_ENC;
    p[1] = (uint8_t)kind;
    be16_put(p + 2, (uint16_t)(top_n > UINT16_MAX ? UINT16_MAX : top_n));
    p += TOP_HDR;
    for (size_t i = 0; i < n; i++, p += ent_sz[kind]) {
        if (kind == PT_TOP_HOSTS)
            host_enc(p, (const struct pt_top_host *)ents + i);
        else
            flow_enc(p, (const struct pt_top_flow *)ents + i);
    }
    return 0;
}

/* Entries of a stored list value; -EINVAL when it is not one. */
static int list_check(const MDB_val *d, unsigned kind, size_t *n, unsigned *top_n)
{
    const uint8_t *p = d->mv_data;

    if (d->mv_size < TOP_HDR || p[0] != TOP_ENC || p[1] != kind ||
        (d->mv_size - TOP_HDR) % ent_sz[kind])
        return -EINVAL;
    *n = (d->mv_size - TOP_HDR) / ent_sz[kind];
    *top_n = be16_get(p + 2);
    return 0;
}

int top_put(struct store_wtxn *w, const struct pt_store_batch *b, bool rewrite)
{
    MDB_dbi dbi = w->s->e->dbi[DB_TOP];
    int rc = 0;

    if (b->n_hosts || rewrite)
        rc = list_put(w->txn, dbi, PT_TOP_HOSTS, PT_RES_1S, b->sec, b->hosts, b->n_hosts, b->top_n);
    if (rc == 0 && (b->n_tflows || rewrite))
        rc = list_put(w->txn, dbi, PT_TOP_FLOWS, PT_RES_1S, b->sec, b->tflows, b->n_tflows,
                      b->top_n);
    return rc;
}

/* ---- the minute merge ---- */

struct merge {
    unsigned kind;
    void *ent; /* struct pt_top_host or struct pt_top_flow */
    size_t n, cap;
};

static int merge_add(struct merge *m, const uint8_t *p, size_t n)
{
    size_t sz = ent_struct[m->kind];

    if (m->n + n > m->cap) {
        size_t nc = m->cap ? m->cap : 256;
        while (nc < m->n + n)
            nc *= 2;
        void *ne = realloc(m->ent, nc * sz);
        if (!ne)
            return -ENOMEM;
        m->ent = ne;
        m->cap = nc;
    }
    for (size_t i = 0; i < n; i++, p += ent_sz[m->kind]) {
        if (m->kind == PT_TOP_HOSTS)
            host_dec(p, (struct pt_top_host *)m->ent + m->n++);
        else
            flow_dec(p, (struct pt_top_flow *)m->ent + m->n++);
    }
    return 0;
}

static int host_by_addr(const void *a, const void *b)
{
    return memcmp(((const struct pt_top_host *)a)->addr, ((const struct pt_top_host *)b)->addr, 16);
}

static int flow_by_uid(const void *a, const void *b)
{
    return strncmp(((const struct pt_top_flow *)a)->uid, ((const struct pt_top_flow *)b)->uid,
                   UID_LEN);
}

static int cmp_u64_desc(uint64_t a, uint64_t b)
{
    return a > b ? -1 : a < b;
}

static int host_by_bytes(const void *a, const void *b)
{
    const struct pt_top_host *x = a, *y = b;
    int c = cmp_u64_desc(x->bytes, y->bytes);
    return c ? c : memcmp(x->addr, y->addr, 16);
}

static int host_by_pkts(const void *a, const void *b)
{
    const struct pt_top_host *x = a, *y = b;
    int c = cmp_u64_desc(x->pkts, y->pkts);
    return c ? c : memcmp(x->addr, y->addr, 16);
}

static int host_by_flows(const void *a, const void *b)
{
    const struct pt_top_host *x = a, *y = b;
    int c = cmp_u64_desc(x->flows, y->flows);
    return c ? c : memcmp(x->addr, y->addr, 16);
}

static int flow_by_bytes(const void *a, const void *b)
{
    const struct pt_top_flow *x = a, *y = b;
    int c = cmp_u64_desc(x->bytes, y->bytes);
    return c ? c : strncmp(x->uid, y->uid, UID_LEN);
}

/* Sum equal entries (sorted by identity), in place. */
static void merge_sum(struct merge *m)
{
    size_t o = 0;

    if (!m->n)
        return;
    if (m->kind == PT_TOP_HOSTS) {
        struct pt_top_host *h = m->ent;
        qsort(h, m->n, sizeof *h, host_by_addr);
        for (size_t i = 0; i < m->n; i++) {
            if (o && memcmp(h[o - 1].addr, h[i].addr, 16) == 0) {
                h[o - 1].bytes += h[i].bytes;
                h[o - 1].pkts += h[i].pkts;
                h[o - 1].flows += h[i].flows;
            } else {
                h[o++] = h[i];
            }
        }
    } else {
        struct pt_top_flow *f = m->ent;
        qsort(f, m->n, sizeof *f, flow_by_uid);
        for (size_t i = 0; i < m->n; i++) {
            if (o && strncmp(f[o - 1].uid, f[i].uid, UID_LEN) == 0) {
                f[o - 1].bytes += f[i].bytes;
                f[o - 1].pkts += f[i].pkts;
            } else {
                f[o++] = f[i];
            }
        }
    }
    m->n = o;
}

/* Hosts: keep the union of the top @k by bytes, packets and flows, ordered
 * by bytes. */
static int merge_cut_hosts(struct merge *m, size_t k)
{
    int (*by[3])(const void *, const void *) = {host_by_bytes, host_by_pkts, host_by_flows};
    struct pt_top_host *h = m->ent, *sel;
    size_t ns = 0, o = 0;

    if (m->n > k) {
        if (!(sel = malloc(3 * k * sizeof *sel)))
            return -ENOMEM;
        for (int i = 0; i < 3; i++) {
            qsort(h, m->n, sizeof *h, by[i]);
            memcpy(sel + ns, h, k * sizeof *h);
            ns += k;
        }
        qsort(sel, ns, sizeof *sel, host_by_addr);
        for (size_t i = 0; i < ns; i++)
            if (!o || memcmp(sel[o - 1].addr, sel[i].addr, 16) != 0)
                sel[o++] = sel[i];
        memcpy(h, sel, o * sizeof *h);
        m->n = o;
        free(sel);
    }
    if (m->n)
        qsort(h, m->n, sizeof *h, host_by_bytes);
    return 0;
}

/* Merge the 1 s lists of @kind in minute @m into its 1 m list. */
static int merge_kind(struct store_wtxn *w, MDB_cursor *c, unsigned kind, uint64_t m)
{
    uint8_t kb[KEY_TOP_LEN];
    struct merge mg = {.kind = kind};
    MDB_val k = mval(kb, sizeof kb), d;
    size_t kmax = 0, lmax = 0, n;
    unsigned tn;
    int rc, err = 0;

    top_key(kb, kind, PT_RES_1S, m);
    for (rc = mdb_cursor_get(c, &k, &d, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(c, &k, &d, MDB_NEXT)) {
        const uint8_t *kp = k.mv_data;
        if (k.mv_size != KEY_TOP_LEN || kp[0] != kind || kp[1] != PT_RES_1S ||
            be64_get(kp + 2) >= m + 60)
            break;
        if (list_check(&d, kind, &n, &tn) < 0)
            continue;
        kmax = tn > kmax ? tn : kmax;
        lmax = n > lmax ? n : lmax;
        if ((err = merge_add(&mg, (const uint8_t *)d.mv_data + TOP_HDR, n)) < 0)
            goto out;
    }
    if (rc && rc != MDB_NOTFOUND) {
        err = store_err(rc);
        goto out;
    }
    size_t kk = kmax ? kmax : lmax;
    merge_sum(&mg);
    if (kind == PT_TOP_HOSTS) {
        if ((err = merge_cut_hosts(&mg, kk)) < 0)
            goto out;
    } else if (mg.n) {
        qsort(mg.ent, mg.n, sizeof(struct pt_top_flow), flow_by_bytes);
        if (mg.n > kk)
            mg.n = kk;
    }
    err = list_put(w->txn, w->s->e->dbi[DB_TOP], kind, PT_RES_1M, m, mg.ent, mg.n, (unsigned)kmax);
out:
    free(mg.ent);
    return err;
}

int top_merge_minute(struct store_wtxn *w, uint64_t m)
{
    MDB_cursor *c;
    int rc;

    if ((rc = mdb_cursor_open(w->txn, w->s->e->dbi[DB_TOP], &c)) != 0)
        return store_err(rc);
    for (unsigned kind = 0; kind < PT_TOP_N_KINDS && rc == 0; kind++)
        rc = merge_kind(w, c, kind, m);
    mdb_cursor_close(c);
    return rc;
}

/* ---- retention ---- */

/* Delete (kind, res, sec < cut); count into *n. */
static int list_del_before(MDB_cursor *c, unsigned kind, unsigned res, uint64_t cut, uint64_t *n)
{
    uint8_t kb[KEY_TOP_LEN];
    MDB_val k = mval(kb, sizeof kb), d;
    int rc;

    top_key(kb, kind, res, 0);
    for (rc = mdb_cursor_get(c, &k, &d, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(c, &k, &d, MDB_NEXT)) {
        const uint8_t *kp = k.mv_data;
        if (k.mv_size != KEY_TOP_LEN || kp[0] != kind || kp[1] != res || be64_get(kp + 2) >= cut)
            break;
        if ((rc = mdb_cursor_del(c, 0)) != 0)
            return store_err(rc);
        (*n)++;
    }
    return rc == 0 || rc == MDB_NOTFOUND ? 0 : store_err(rc);
}

int top_retain(struct store_wtxn *w, uint64_t cut_1s, uint64_t cut_1m)
{
    MDB_cursor *c;
    int rc = 0;

    if ((rc = mdb_cursor_open(w->txn, w->s->e->dbi[DB_TOP], &c)) != 0)
        return store_err(rc);
    for (unsigned kind = 0; kind < PT_TOP_N_KINDS && rc == 0; kind++) {
        if (cut_1s)
            rc = list_del_before(c, kind, PT_RES_1S, cut_1s, &w->ret_dels);
        if (rc == 0 && cut_1m)
            rc = list_del_before(c, kind, PT_RES_1M, cut_1m, &w->ret_dels);
    }
    mdb_cursor_close(c);
    return rc;
}

int top_drop_before(struct store_wtxn *w, uint64_t cut)
{
    MDB_cursor *c;
    int rc = 0;

    if ((rc = mdb_cursor_open(w->txn, w->s->e->dbi[DB_TOP], &c)) != 0)
        return store_err(rc);
    for (unsigned kind = 0; kind < PT_TOP_N_KINDS && rc == 0; kind++)
        rc = list_del_before(c, kind, PT_RES_1S, cut, &w->dropped);
    mdb_cursor_close(c);
    return rc;
}

int top_first_1s(struct store_wtxn *w, uint64_t *first)
{
    uint8_t kb[KEY_TOP_LEN];
    MDB_cursor *c;
    MDB_val k, d;
    bool found = false;
    int rc;

    if ((rc = mdb_cursor_open(w->txn, w->s->e->dbi[DB_TOP], &c)) != 0)
        return store_err(rc);
    for (unsigned kind = 0; kind < PT_TOP_N_KINDS; kind++) {
        top_key(kb, kind, PT_RES_1S, 0);
        k = mval(kb, sizeof kb);
        rc = mdb_cursor_get(c, &k, &d, MDB_SET_RANGE);
        if (rc == MDB_NOTFOUND)
            continue;
        if (rc)
            break;
        const uint8_t *kp = k.mv_data;
        if (k.mv_size == KEY_TOP_LEN && kp[0] == kind && kp[1] == PT_RES_1S) {
            uint64_t t = be64_get(kp + 2);
            if (!found || t < *first)
                *first = t;
            found = true;
        }
    }
    mdb_cursor_close(c);
    if (rc && rc != MDB_NOTFOUND)
        return store_err(rc);
    return found ? 0 : -ENOENT;
}

/* ---- reads ---- */

int pt_store_top_read(struct pt_store *s, enum pt_top_kind kind, enum pt_store_res res,
                      uint64_t from, uint64_t to,
                      int (*cb)(uint64_t sec, const void *entries, size_t n, void *arg), void *arg)
{
    uint8_t kb[KEY_TOP_LEN];
    struct merge mg = {.kind = kind};
    MDB_cursor *c;
    MDB_txn *txn;
    MDB_val k = mval(kb, sizeof kb), d;
    int rc, r = 0;

    if ((unsigned)kind >= PT_TOP_N_KINDS || (res != PT_RES_1S && res != PT_RES_1M))
        return PT_E_BADARG;
    if (to == 0)
        to = UINT64_MAX;
    if ((rc = store_rd_begin(s, &txn)) < 0)
        return rc;
    if ((rc = store_err(mdb_cursor_open(txn, s->e->dbi[DB_TOP], &c))) < 0)
        goto out;
    top_key(kb, kind, res, from);
    for (rc = mdb_cursor_get(c, &k, &d, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(c, &k, &d, MDB_NEXT)) {
        const uint8_t *kp = k.mv_data;
        size_t n;
        unsigned tn;
        if (k.mv_size != KEY_TOP_LEN || kp[0] != kind || kp[1] != res)
            break;
        uint64_t sec = be64_get(kp + 2);
        if (sec >= to)
            break;
        if (list_check(&d, kind, &n, &tn) < 0)
            continue;
        mg.n = 0;
        if ((r = merge_add(&mg, (const uint8_t *)d.mv_data + TOP_HDR, n)) < 0)
            break;
        if ((r = cb(sec, mg.ent, n, arg)) != 0)
            break;
    }
    mdb_cursor_close(c);
    rc = rc == MDB_NOTFOUND ? 0 : store_err(rc);
out:
    free(mg.ent);
    store_rd_end(s, txn);
    return r ? r : rc;
}
