/* flows.c - the flow store: record encoding, the flows database and its
 * host and port indexes, their retention, the interface table, and the
 * flow reads.
 *
 * DESIGN
 * 1. Records are encoded by flowenc.c (its DESIGN has the layout). The
 *    tuple sits at a fixed place so retention and the upgrade read the
 *    index keys of a record without decoding the rest (flow_tuple_peek).
 * 2. Index keys lead with the end second: (u32 end second, address or
 *    port, flows key). A batch's records end within the last few seconds
 *    to minutes (close delay, idle timeouts), so its index keys fall into a
 *    few small, recent stretches of each tree. With the address first they
 *    would fall all over it, and at 100k flows a second every write would
 *    copy (LMDB is copy-on-write) nearly every index page: the write time
 *    grew with the store, past a second after 20 s of data. A query pays
 *    one seek per second of its range that holds any key.
 * 3. Writing a batch: records are encoded, keyed and sorted outside the
 *    txn (flows_prepare; rows_sort, not qsort: it was half of the write),
 *    with the index keys sorted and deduplicated, so the txn is cursor puts
 *    in key order: keys beyond the newest stored one are MDB_APPENDed (no
 *    search, full pages); older ones are searched for, and a flow key that
 *    is already there replaces the record, first deleting the old record's
 *    index keys if its tuple differs.
 * 4. Retention and the drop at a full map delete records from the oldest
 *    end time, whole seconds at a time, so the index keys to delete are a
 *    prefix of each index tree, deleted in order with a cursor: no search,
 *    and few pages copied. (Deleting each record's four keys by search made
 *    the drop of a tenth of a 16 GiB store take 15-30 s.) */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "internal.h"

/* Index key (DESIGN 2): end second (u32, saturated), @prefix (address or
 * port), then the flows key. */
static void ikey(uint8_t *k, const uint8_t *prefix, size_t plen, const uint8_t *fkey)
{
    uint64_t sec = be64_get(fkey) / NSEC;

    be32_put(k, sec > UINT32_MAX ? UINT32_MAX : (uint32_t)sec);
    memcpy(k + 4, prefix, plen);
    memcpy(k + 4 + plen, fkey, KEY_FLOW_LEN);
}

static void host_key(uint8_t k[KEY_HOST_LEN], const uint8_t addr[16], const uint8_t *fkey)
{
    ikey(k, addr, 16, fkey);
}

static void port_key(uint8_t k[KEY_PORT_LEN], uint16_t port, const uint8_t *fkey)
{
    uint8_t p[2];

    be16_put(p, port);
    ikey(k, p, 2, fkey);
}

/* Delete the index keys of flow @fkey with tuple @t (absent keys are fine). */
static int index_del(MDB_txn *txn, const MDB_dbi *dbi, const uint8_t *fkey,
                     const struct flow_tuple *t)
{
    uint8_t hk[KEY_HOST_LEN], pk[KEY_PORT_LEN];
    MDB_val k;
    int rc;

    for (int i = 0; i < 2; i++) {
        host_key(hk, t->h[i], fkey);
        k = mval(hk, sizeof hk);
        if ((rc = mdb_del(txn, dbi[DB_FLOW_HOST], &k, NULL)) != 0 && rc != MDB_NOTFOUND)
            return store_err(rc);
        port_key(pk, t->p[i], fkey);
        k = mval(pk, sizeof pk);
        if ((rc = mdb_del(txn, dbi[DB_FLOW_PORT], &k, NULL)) != 0 && rc != MDB_NOTFOUND)
            return store_err(rc);
    }
    return 0;
}

/* ---- interfaces ---- */

int ifaces_load(struct pt_store *s, MDB_txn *txn)
{
    MDB_cursor *c;
    MDB_val k, d;
    int rc;

    memset(s->ifname, 0, sizeof s->ifname);
    s->n_if = 0;
    if ((rc = mdb_cursor_open(txn, s->e->dbi[DB_IFACES], &c)) != 0)
        return store_err(rc);
    for (rc = mdb_cursor_get(c, &k, &d, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &k, &d, MDB_NEXT)) {
        unsigned bit = d.mv_size == 1 ? *(uint8_t *)d.mv_data : STORE_IFACES;
        if (bit >= STORE_IFACES || k.mv_size == 0 || k.mv_size >= STORE_IFNAMLEN)
            continue;
        memcpy(s->ifname[bit], k.mv_data, k.mv_size);
        s->ifname[bit][k.mv_size] = '\0';
        if (bit + 1 > s->n_if)
            s->n_if = bit + 1;
    }
    mdb_cursor_close(c);
    return rc == MDB_NOTFOUND ? 0 : store_err(rc);
}

void ifaces_commit(struct pt_store *s)
{
    struct flow_prep *fp = &s->fp;

    for (unsigned i = 0; i < fp->n_new_if; i++) {
        memcpy(s->ifname[fp->new_bit[i]], fp->new_if[i], STORE_IFNAMLEN);
        if (fp->new_bit[i] + 1u > s->n_if)
            s->n_if = fp->new_bit[i] + 1u;
    }
    fp->n_new_if = 0;
}

/* Store bit of interface @name: known, new in this batch, or a new one. */
static unsigned iface_bit(struct pt_store *s, const char *name)
{
    struct flow_prep *fp = &s->fp;

    for (unsigned i = 0; i < s->n_if; i++)
        if (strcmp(s->ifname[i], name) == 0)
            return i;
    for (unsigned i = 0; i < fp->n_new_if; i++)
        if (strcmp(fp->new_if[i], name) == 0)
            return fp->new_bit[i];
    unsigned bit = s->n_if + fp->n_new_if;
    if (bit >= STORE_IFACES)
        return STORE_IFACES - 1;
    snprintf(fp->new_if[fp->n_new_if], STORE_IFNAMLEN, "%s", name);
    fp->new_bit[fp->n_new_if++] = (uint8_t)bit;
    return bit;
}

static void ifmap_build(struct pt_store *s, const struct pt_store_batch *b)
{
    struct flow_prep *fp = &s->fp;
    uint32_t all = 0;
    char nb[STORE_IFNAMLEN];

    fp->n_new_if = 0;
    for (size_t i = 0; i < b->n_flows; i++)
        all |= b->flows[i].ifaces;
    for (size_t i = 0; i < b->n_live; i++)
        all |= b->live[i].ifaces;
    for (unsigned i = 0; i < STORE_IFACES; i++) {
        fp->ifmap[i] = 0;
        if (!(all & (1u << i)))
            continue;
        if (i < b->n_ifnames && b->ifnames && b->ifnames[i] && b->ifnames[i][0])
            snprintf(nb, sizeof nb, "%s", b->ifnames[i]);
        else
            snprintf(nb, sizeof nb, "if%u", i);
        fp->ifmap[i] = 1u << iface_bit(s, nb);
    }
}

uint32_t ifaces_remap(const struct flow_prep *fp, uint32_t v)
{
    uint32_t o = 0;

    for (; v; v &= v - 1)
        o |= fp->ifmap[__builtin_ctz(v)];
    return o;
}

/* ---- preparing a batch ---- */

int prep_grow(void **p, size_t *cap, size_t want, size_t sz)
{
    if (want <= *cap)
        return 0;
    size_t nc = *cap ? *cap : 1024;
    while (nc < want)
        nc *= 2;
    void *np = realloc(*p, nc * sz);
    if (!np)
        return -ENOMEM;
    *p = np;
    *cap = nc;
    return 0;
}

/* memcmp order of the first @klen bytes, a word at a time. */
static inline int row_cmp(const uint8_t *a, const uint8_t *b, size_t klen)
{
    size_t i = 0;

    for (; i + 8 <= klen; i += 8) {
        uint64_t x, y;
        memcpy(&x, a + i, 8);
        memcpy(&y, b + i, 8);
        if (x != y)
            return __builtin_bswap64(x) < __builtin_bswap64(y) ? -1 : 1;
    }
    for (; i < klen; i++)
        if (a[i] != b[i])
            return a[i] < b[i] ? -1 : 1;
    return 0;
}

/* Word loops: memcpy() of a run-time size becomes `rep movs`, slow for
 * rows this short. */
static inline void row_swap(uint8_t *a, uint8_t *b, size_t size)
{
    size_t i = 0;

    for (; i + 8 <= size; i += 8) {
        uint64_t x, y;
        memcpy(&x, a + i, 8);
        memcpy(&y, b + i, 8);
        memcpy(a + i, &y, 8);
        memcpy(b + i, &x, 8);
    }
    for (; i < size; i++) {
        uint8_t t = a[i];
        a[i] = b[i];
        b[i] = t;
    }
}

static inline void row_copy(uint8_t *d, const uint8_t *a, size_t size)
{
    size_t i = 0;

    for (; i + 8 <= size; i += 8)
        memcpy(d + i, a + i, 8);
    for (; i < size; i++)
        d[i] = a[i];
}

/* Sort @n rows of @size (<= 64) bytes in place by their first @klen bytes.
 * Quicksort (median of three, the smaller side first, insertion sort for
 * short runs) on the rows themselves: no comparator calls, no indirection;
 * about three times faster than qsort() on these keys. */
void rows_sort(uint8_t *base, size_t n, size_t size, size_t klen)
{
    struct {
        size_t lo, hi;
    } stack[64];
    size_t sp = 0, lo = 0, hi = n;
    uint8_t pv[64];

    for (;;) {
        while (hi - lo > 16) {
            uint8_t *a = base + lo * size, *m = base + (lo + (hi - lo) / 2) * size,
                    *z = base + (hi - 1) * size;
            if (row_cmp(m, a, klen) < 0)
                row_swap(m, a, size);
            if (row_cmp(z, a, klen) < 0)
                row_swap(z, a, size);
            if (row_cmp(z, m, klen) < 0)
                row_swap(z, m, size);
            row_copy(pv, m, size);
            size_t i = lo, j = hi - 1;
            for (;;) {
                while (row_cmp(base + i * size, pv, klen) < 0)
                    i++;
                while (row_cmp(pv, base + j * size, klen) < 0)
                    j--;
                if (i >= j)
                    break;
                row_swap(base + i * size, base + j * size, size);
                i++;
                j--;
            }
            /* [lo, j] <= pivot <= [j + 1, hi) */
            if (j + 1 - lo < hi - j - 1) {
                stack[sp].lo = j + 1, stack[sp++].hi = hi;
                hi = j + 1;
            } else {
                stack[sp].lo = lo, stack[sp++].hi = j + 1;
                lo = j + 1;
            }
        }
        for (size_t i = lo + 1; i < hi; i++)
            for (size_t j = i; j > lo && row_cmp(base + j * size, base + (j - 1) * size, klen) < 0;
                 j--)
                row_swap(base + j * size, base + (j - 1) * size, size);
        if (!sp)
            return;
        sp--;
        lo = stack[sp].lo;
        hi = stack[sp].hi;
    }
}

/* Sort @n keys of @len bytes and drop repeats; returns the new count. */
size_t sort_uniq(uint8_t *keys, size_t n, size_t len)
{
    size_t o = 0;

    rows_sort(keys, n, len, len);
    for (size_t i = 0; i < n; i++) {
        if (o && memcmp(keys + (o - 1) * len, keys + i * len, len) == 0)
            continue;
        if (o != i)
            row_copy(keys + o * len, keys + i * len, len);
        o++;
    }
    return o;
}

void flow_prep_free(struct flow_prep *fp)
{
    free(fp->ent);
    free(fp->buf);
    free(fp->hkeys);
    free(fp->pkeys);
    memset(fp, 0, sizeof *fp);
}

int flows_prepare(struct pt_store *s, const struct pt_store_batch *b)
{
    struct flow_prep *fp = &s->fp;
    size_t n = b->n_flows, used = 0;
    int rc;

    fp->n = fp->n_h = fp->n_p = 0;
    fp->bytes = 0;
    ifmap_build(s, b);
    if (!n)
        return 0;
    if ((rc = prep_grow((void **)&fp->ent, &fp->cap, n, sizeof *fp->ent)) < 0 ||
        (rc = prep_grow((void **)&fp->hkeys, &fp->cap_h, 2 * n, KEY_HOST_LEN)) < 0 ||
        (rc = prep_grow((void **)&fp->pkeys, &fp->cap_p, 2 * n, KEY_PORT_LEN)) < 0)
        return rc;
    for (size_t i = 0; i < n; i++) {
        const struct pt_flow_record *r = &b->flows[i];
        struct flow_ent *e = &fp->ent[i];
        be64_put(e->key, r->last_ns);
        uid_pad(e->key + 8, r->uid);
        be32_put(e->seq, (uint32_t)i);
        /* Grown as records need it: FLOW_ENC_MAX is twice a long record's
         * FQDNs, and n of them would reserve ~90 MB at 100k a second. */
        if ((rc = prep_grow((void **)&fp->buf, &fp->buf_cap, used + FLOW_ENC_MAX, 1)) < 0)
            return rc;
        e->off = (uint32_t)used;
        e->len = (uint32_t)flow_encode(fp->buf + used, r, ifaces_remap(fp, r->ifaces));
        used += e->len;
    }
    /* The same key twice in one batch: the later record wins (seq sorts it
     * last), and only its index keys are made. */
    rows_sort((uint8_t *)fp->ent, n, sizeof *fp->ent, KEY_FLOW_LEN + 4);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (o && memcmp(fp->ent[o - 1].key, fp->ent[i].key, KEY_FLOW_LEN) == 0)
            o--;
        fp->ent[o++] = fp->ent[i];
    }
    fp->n = o;
    for (size_t i = 0; i < o; i++) {
        const struct flow_ent *e = &fp->ent[i];
        const struct pt_flow_record *r = &b->flows[be32_get(e->seq)];
        host_key(fp->hkeys + (2 * i) * KEY_HOST_LEN, r->orig_h, e->key);
        host_key(fp->hkeys + (2 * i + 1) * KEY_HOST_LEN, r->resp_h, e->key);
        port_key(fp->pkeys + (2 * i) * KEY_PORT_LEN, r->orig_p, e->key);
        port_key(fp->pkeys + (2 * i + 1) * KEY_PORT_LEN, r->resp_p, e->key);
    }
    fp->n_h = sort_uniq(fp->hkeys, 2 * o, KEY_HOST_LEN);
    fp->n_p = sort_uniq(fp->pkeys, 2 * o, KEY_PORT_LEN);
    fp->bytes = used + o * (KEY_FLOW_LEN + 10) + fp->n_h * (KEY_HOST_LEN + 10) +
                fp->n_p * (KEY_PORT_LEN + 10);
    return 0;
}

/* ---- writing ---- */

static int put_record(struct store_wtxn *w, MDB_cursor *c, const struct flow_ent *e, bool *append)
{
    const MDB_dbi *dbi = w->s->e->dbi;
    const uint8_t *val = w->s->fp.buf + e->off;
    MDB_val k = mval(e->key, KEY_FLOW_LEN), d = mval(val, e->len);
    struct flow_tuple old, nt;
    int rc;

    if (*append) {
        rc = mdb_cursor_put(c, &k, &d, MDB_APPEND);
        if (rc != MDB_KEYEXIST)
            return store_err(rc);
        *append = false; /* not beyond the newest key after all */
        d = mval(val, e->len);
    }
    rc = mdb_cursor_put(c, &k, &d, MDB_NOOVERWRITE);
    if (rc != MDB_KEYEXIST)
        return store_err(rc);
    /* Replacing (end, uid): drop the old record's index keys if its tuple
     * is not the new one's (the new keys are put later either way). */
    MDB_val nv = mval(val, e->len);
    if (flow_tuple_peek(d.mv_data, d.mv_size, &old) == 0 &&
        flow_tuple_peek(nv.mv_data, nv.mv_size, &nt) == 0 && memcmp(&old, &nt, sizeof old))
        if ((rc = index_del(w->txn, dbi, e->key, &old)) < 0)
            return rc;
    k = mval(e->key, KEY_FLOW_LEN);
    return store_err(mdb_cursor_put(c, &k, &nv, 0));
}

static int ifaces_put(struct store_wtxn *w)
{
    const struct flow_prep *fp = &w->s->fp;
    int rc;

    for (unsigned i = 0; i < fp->n_new_if; i++) {
        MDB_val k = mval(fp->new_if[i], strlen(fp->new_if[i])), d = mval(&fp->new_bit[i], 1);
        if ((rc = mdb_put(w->txn, w->s->e->dbi[DB_IFACES], &k, &d, 0)) != 0)
            return store_err(rc);
    }
    return 0;
}

/* Put @n sorted, distinct keys of @len bytes with empty values into @dbi:
 * the ones beyond the newest stored key are appended. */
static int keys_put(MDB_txn *txn, MDB_dbi dbi, const uint8_t *keys, size_t n, size_t len)
{
    MDB_cursor *c;
    MDB_val k, d, lk;
    size_t split = 0;
    int rc;

    if ((rc = mdb_cursor_open(txn, dbi, &c)) != 0)
        return store_err(rc);
    rc = mdb_cursor_get(c, &lk, &d, MDB_LAST);
    if (rc == 0) {
        size_t ln = lk.mv_size < len ? lk.mv_size : len;
        while (split < n && memcmp(keys + split * len, lk.mv_data, ln) <= 0)
            split++;
    } else if (rc != MDB_NOTFOUND) {
        goto out;
    }
    rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        k = mval(keys + i * len, len);
        d = mval(NULL, 0);
        rc = mdb_cursor_put(c, &k, &d, i >= split ? MDB_APPEND : 0);
    }
out:
    mdb_cursor_close(c);
    return store_err(rc);
}

int flows_put(struct store_wtxn *w)
{
    const struct flow_prep *fp = &w->s->fp;
    const MDB_dbi *dbi = w->s->e->dbi;
    MDB_cursor *c;
    MDB_val lk, ld;
    size_t split = 0;
    int rc;

    if ((rc = ifaces_put(w)) < 0 || !fp->n)
        return rc;
    if ((rc = mdb_cursor_open(w->txn, dbi[DB_FLOWS], &c)) != 0)
        return store_err(rc);
    /* The batch is sorted: the records beyond the newest stored key are a
     * suffix, appended; the others are searched for. */
    rc = mdb_cursor_get(c, &lk, &ld, MDB_LAST);
    if (rc == 0) {
        size_t ln = lk.mv_size < KEY_FLOW_LEN ? lk.mv_size : KEY_FLOW_LEN;
        while (split < fp->n && memcmp(fp->ent[split].key, lk.mv_data, ln) <= 0)
            split++;
    } else if (rc != MDB_NOTFOUND) {
        mdb_cursor_close(c);
        return store_err(rc);
    }
    rc = 0;
    for (size_t i = 0; i < fp->n && rc == 0; i++) {
        bool append = i >= split;
        rc = put_record(w, c, &fp->ent[i], &append);
    }
    mdb_cursor_close(c);
    if (rc < 0)
        return rc;
    if ((rc = keys_put(w->txn, dbi[DB_FLOW_HOST], fp->hkeys, fp->n_h, KEY_HOST_LEN)) < 0 ||
        (rc = keys_put(w->txn, dbi[DB_FLOW_PORT], fp->pkeys, fp->n_p, KEY_PORT_LEN)) < 0)
        return rc;
    w->flows += fp->n;
    return 0;
}

/* Delete the keys of index @dbi whose end second is before @cut_sec: a
 * prefix of the tree, deleted in order. */
static int index_del_before(MDB_txn *txn, MDB_dbi dbi, uint64_t cut_sec)
{
    MDB_cursor *c;
    MDB_val k, d;
    int rc;

    if ((rc = mdb_cursor_open(txn, dbi, &c)) != 0)
        return store_err(rc);
    for (rc = mdb_cursor_get(c, &k, &d, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &k, &d, MDB_NEXT)) {
        if (k.mv_size >= 4 && be32_get(k.mv_data) >= cut_sec)
            break;
        if ((rc = mdb_cursor_del(c, 0)) != 0)
            break;
    }
    mdb_cursor_close(c);
    return rc == 0 || rc == MDB_NOTFOUND ? 0 : store_err(rc);
}

/* Delete the records ending before second @cut_sec, oldest first, and
 * their index keys (DESIGN 4). After @max records it stops at the next
 * whole second, so the index keys to delete are always a prefix. Counts
 * the records into *@n. */
static int delete_before(struct store_wtxn *w, uint64_t cut_sec, uint64_t max, uint64_t *n)
{
    const MDB_dbi *dbi = w->s->e->dbi;
    uint64_t done = 0, prev = UINT64_MAX;
    MDB_cursor *c;
    MDB_val k, d;
    int rc;

    if ((rc = mdb_cursor_open(w->txn, dbi[DB_FLOWS], &c)) != 0)
        return store_err(rc);
    for (rc = mdb_cursor_get(c, &k, &d, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &k, &d, MDB_NEXT)) {
        uint64_t sec = k.mv_size == KEY_FLOW_LEN ? be64_get(k.mv_data) / NSEC : 0;
        if (sec >= cut_sec)
            break;
        if (done >= max && sec != prev) {
            cut_sec = sec;
            break;
        }
        if ((rc = mdb_cursor_del(c, 0)) != 0)
            break;
        prev = sec;
        done++;
    }
    mdb_cursor_close(c);
    *n += done;
    if (rc && rc != MDB_NOTFOUND)
        return store_err(rc);
    if (!done)
        return 0;
    if ((rc = index_del_before(w->txn, dbi[DB_FLOW_HOST], cut_sec)) < 0)
        return rc;
    return index_del_before(w->txn, dbi[DB_FLOW_PORT], cut_sec);
}

int flows_retain(struct store_wtxn *w, uint64_t cut_ns, uint64_t budget)
{
    return cut_ns ? delete_before(w, cut_ns / NSEC, budget, &w->ret_dels) : 0;
}

int flows_drop_oldest(struct store_wtxn *w, uint64_t n)
{
    return delete_before(w, UINT64_MAX, n, &w->dropped);
}

int flows_build_port_index(MDB_txn *txn, const MDB_dbi *dbi)
{
    uint8_t pk[KEY_PORT_LEN];
    MDB_cursor *c;
    MDB_val k, d, e = mval(NULL, 0);
    struct flow_tuple t;
    int rc;

    if ((rc = mdb_cursor_open(txn, dbi[DB_FLOWS], &c)) != 0)
        return store_err(rc);
    for (rc = mdb_cursor_get(c, &k, &d, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &k, &d, MDB_NEXT)) {
        if (k.mv_size != KEY_FLOW_LEN || flow_tuple_peek(d.mv_data, d.mv_size, &t) < 0)
            continue;
        for (int i = 0; i < 2; i++) {
            MDB_val pkv = mval(pk, sizeof pk);
            port_key(pk, t.p[i], k.mv_data);
            if ((rc = mdb_put(txn, dbi[DB_FLOW_PORT], &pkv, &e, 0)) != 0)
                goto out;
        }
    }
out:
    mdb_cursor_close(c);
    return rc == MDB_NOTFOUND ? 0 : store_err(rc);
}

/* ---- reads ---- */

struct fq {
    const struct pt_store_flow_query *q;
    uint8_t uid[UID_LEN];
    uint64_t to;
    int (*cb)(const struct pt_flow_record *rec, void *arg);
    void *arg;
    uint64_t bad;
};

/* Decode @d (the record of flow key @fk), filter, call back. */
static int fq_visit(struct fq *f, const uint8_t *fk, const MDB_val *d)
{
    struct pt_flow_record r;
    const struct pt_store_flow_query *q = f->q;

    if (q->uid && memcmp(fk + 8, f->uid, UID_LEN) != 0)
        return 0;
    if (flow_decode(d->mv_data, d->mv_size, &r) < 0) {
        f->bad++;
        return 0;
    }
    if (q->by_host && memcmp(r.orig_h, q->host, 16) && memcmp(r.resp_h, q->host, 16))
        return 0;
    if (q->by_port && r.orig_p != q->port && r.resp_p != q->port)
        return 0;
    return f->cb(&r, f->arg);
}

/* Walk index @dbi for @prefix over the end seconds of [from, to): one
 * seek per second that holds any key (an empty stretch is skipped in one
 * step), then the keys of @prefix in that second, in end-time order. */
static int fq_index(struct pt_store *s, MDB_txn *txn, struct fq *f, MDB_dbi dbi,
                    const uint8_t *prefix, size_t plen)
{
    const size_t klen = 4 + plen + KEY_FLOW_LEN;
    uint64_t from = f->q->from_ns, sec = from / NSEC, last;
    uint8_t kb[KEY_HOST_LEN];
    MDB_cursor *c;
    MDB_val k, d, fkv, fd;
    int rc, r = 0;

    if (f->to <= from)
        return 0;
    last = (f->to - 1) / NSEC;
    last = last > UINT32_MAX ? UINT32_MAX : last;
    if ((rc = mdb_cursor_open(txn, dbi, &c)) != 0)
        return store_err(rc);
    while (sec <= last) {
        uint8_t fk[KEY_FLOW_LEN] = {0};
        be64_put(fk, from > sec * NSEC ? from : sec * NSEC);
        ikey(kb, prefix, plen, fk);
        be32_put(kb, (uint32_t)sec);
        k = mval(kb, klen);
        for (rc = mdb_cursor_get(c, &k, &d, MDB_SET_RANGE); rc == 0;
             rc = mdb_cursor_get(c, &k, &d, MDB_NEXT)) {
            const uint8_t *kp = k.mv_data;
            if (k.mv_size != klen)
                continue;
            if (be32_get(kp) != sec || memcmp(kp + 4, prefix, plen) != 0)
                break;
            uint64_t end = be64_get(kp + 4 + plen);
            if (end >= f->to)
                goto out; /* later seconds end later still */
            if (end < from)
                continue;
            fkv = mval(kp + 4 + plen, KEY_FLOW_LEN);
            int g = mdb_get(txn, s->e->dbi[DB_FLOWS], &fkv, &fd);
            if (g == MDB_NOTFOUND)
                continue;
            if (g) {
                rc = g;
                goto out;
            }
            if ((r = fq_visit(f, kp + 4 + plen, &fd)) != 0)
                goto out;
        }
        if (rc)
            break;
        uint64_t ks = be32_get(k.mv_data);
        sec = ks > sec ? ks : sec + 1;
    }
out:
    mdb_cursor_close(c);
    return r ? r : rc == 0 || rc == MDB_NOTFOUND ? 0 : store_err(rc);
}

/* Walk @dbi, whose keys are (u64 BE time, uid), from the first key at or
 * after the query's from_ns, in key order, until its to. */
static int fq_scan(MDB_txn *txn, MDB_dbi dbi, struct fq *f)
{
    uint8_t kb[KEY_FLOW_LEN] = {0};
    MDB_cursor *c;
    MDB_val k = mval(kb, sizeof kb), d;
    int rc, r = 0;

    be64_put(kb, f->q->from_ns);
    if ((rc = mdb_cursor_open(txn, dbi, &c)) != 0)
        return store_err(rc);
    for (rc = mdb_cursor_get(c, &k, &d, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(c, &k, &d, MDB_NEXT)) {
        if (k.mv_size != KEY_FLOW_LEN)
            continue;
        if (be64_get(k.mv_data) >= f->to)
            break;
        if ((r = fq_visit(f, k.mv_data, &d)) != 0)
            break;
    }
    mdb_cursor_close(c);
    return r ? r : rc == MDB_NOTFOUND ? 0 : store_err(rc);
}

int pt_store_flows_read(struct pt_store *s, const struct pt_store_flow_query *q,
                        int (*cb)(const struct pt_flow_record *rec, void *arg), void *arg)
{
    struct fq f = {.q = q, .cb = cb, .arg = arg, .to = q->to_ns ? q->to_ns : UINT64_MAX};
    uint8_t pb[2];
    MDB_txn *txn;
    int rc;

    if (q->uid)
        uid_pad(f.uid, q->uid);
    if ((rc = store_rd_begin(s, &txn)) < 0)
        return rc;
    if (q->by_host) {
        rc = fq_index(s, txn, &f, s->e->dbi[DB_FLOW_HOST], q->host, 16);
    } else if (q->by_port) {
        be16_put(pb, q->port);
        rc = fq_index(s, txn, &f, s->e->dbi[DB_FLOW_PORT], pb, 2);
    } else {
        rc = fq_scan(txn, s->e->dbi[DB_FLOWS], &f);
    }
    store_rd_end(s, txn);
    if (f.bad)
        pt_log(PT_LOG_WARN, "store: %s: %llu flow records could not be decoded (skipped)", s->dir,
               (unsigned long long)f.bad);
    return rc;
}

int flow_query_walk(MDB_txn *txn, MDB_dbi dbi, const struct pt_store_flow_query *q,
                    int (*cb)(const struct pt_flow_record *rec, void *arg), void *arg,
                    uint64_t *bad)
{
    struct fq f = {.q = q, .cb = cb, .arg = arg, .to = q->to_ns ? q->to_ns : UINT64_MAX};
    int rc;

    if (q->uid)
        uid_pad(f.uid, q->uid);
    rc = fq_scan(txn, dbi, &f);
    *bad = f.bad;
    return rc;
}

int pt_store_ifnames(struct pt_store *s, char names[32][64], unsigned *n)
{
    MDB_cursor *c;
    MDB_txn *txn;
    MDB_val k, d;
    int rc;

    memset(names, 0, 32 * 64);
    *n = 0;
    if ((rc = store_rd_begin(s, &txn)) < 0)
        return rc;
    if ((rc = mdb_cursor_open(txn, s->e->dbi[DB_IFACES], &c)) != 0)
        goto out;
    for (rc = mdb_cursor_get(c, &k, &d, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &k, &d, MDB_NEXT)) {
        unsigned bit = d.mv_size == 1 ? *(uint8_t *)d.mv_data : 32;
        if (bit >= 32 || k.mv_size == 0 || k.mv_size >= 64)
            continue;
        memcpy(names[bit], k.mv_data, k.mv_size);
        names[bit][k.mv_size] = '\0';
        if (bit + 1 > *n)
            *n = bit + 1;
    }
    mdb_cursor_close(c);
    if (rc == MDB_NOTFOUND)
        rc = 0;
out:
    store_rd_end(s, txn);
    return store_err(rc);
}
