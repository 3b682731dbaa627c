/* hosts.c - the device table in the store: db "hosts", (u8 kind,
 * addr[16]) -> an explicit encoding of struct pt_device; its write and its
 * read.
 *
 * DESIGN
 * 1. One key per entry, the device table's own key: a save replaces the
 *    entry in place, and a read walks MACs then IPs in address order.
 *    Entries are few (the table's capacity, 16 k by default) and a save
 *    carries only the entries changed in the last second, so the put is a
 *    plain mdb_put per entry in one transaction.
 * 2. Nothing ages out here: the device table forgets (evicts) what it has
 *    not seen for longest, the store keeps the last saved state of every
 *    device ever seen, which is what `packettracer hosts` is for. A store
 *    grows by at most one entry per device.
 * 3. The encoding (version 1, big-endian, docs/STORE.md) stores strings and
 *    lists with their lengths, so an entry with one name and no services
 *    takes about 100 bytes, not sizeof(struct pt_device); the decoder checks
 *    every length against the value and the struct's bounds.
 * 4. Stores made before "hosts" have no such db: a writer creates it at
 *    open (no schema change: additive), a reader reads no entries until a
 *    writer has made it (store_hosts_dbi()). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define HOST_KEY_LEN 17
#define HOST_ENC_VER 1
#define HOST_ENC_MAX                                                                               \
    (64 + 2 * PT_DEV_VENDOR_MAX + PT_DEV_NAMES * (10 + PT_DEV_NAME_MAX) + PT_DEV_SERVICES * 7)

static void host_key(uint8_t k[HOST_KEY_LEN], const struct pt_device *d)
{
    k[0] = d->kind;
    memcpy(k + 1, d->addr, 16);
    if (d->kind == PT_DEV_MAC)
        memset(k + 7, 0, 10);
}

static uint8_t *put_str(uint8_t *p, const char *s, size_t cap)
{
    size_t n = strnlen(s, cap - 1);

    *p++ = (uint8_t)n;
    memcpy(p, s, n);
    return p + n;
}

/* Encode @d into @out (HOST_ENC_MAX bytes); returns the length. */
static size_t host_encode(uint8_t *out, const struct pt_device *d)
{
    unsigned nn = d->n_names < PT_DEV_NAMES ? d->n_names : PT_DEV_NAMES;
    unsigned ns = d->n_services < PT_DEV_SERVICES ? d->n_services : PT_DEV_SERVICES;
    uint8_t *p = out;

    *p++ = HOST_ENC_VER;
    *p++ = d->kind;
    *p++ = d->flags;
    *p++ = d->oui_kind;
    *p++ = d->type;
    *p++ = d->type_src;
    *p++ = d->os;
    *p++ = (uint8_t)nn;
    *p++ = (uint8_t)ns;
    memcpy(p, d->bound, 16);
    p += 16;
    be64_put(p, d->first_ns);
    be64_put(p + 8, d->last_ns);
    p += 16;
    *p++ = d->os_ttl;
    *p++ = d->os_hops;
    *p++ = (uint8_t)d->os_wscale;
    be16_put(p, d->os_mss);
    be16_put(p + 2, d->os_win);
    p += 4;
    p = put_str(p, d->vendor, sizeof d->vendor);
    p = put_str(p, d->dhcp_vendor, sizeof d->dhcp_vendor);
    for (unsigned i = 0; i < nn; i++) {
        be64_put(p, d->names[i].last_ns);
        p[8] = d->names[i].src;
        p = put_str(p + 9, d->names[i].name, sizeof d->names[i].name);
    }
    for (unsigned i = 0; i < ns; i++) {
        be16_put(p, d->services[i].port);
        p[2] = d->services[i].proto;
        be32_put(p + 3, d->services[i].conns);
        p += 7;
    }
    return (size_t)(p - out);
}

struct rd {
    const uint8_t *p, *end;
    bool bad;
};

static const uint8_t *take(struct rd *r, size_t n)
{
    const uint8_t *p = r->p;

    if (r->bad || (size_t)(r->end - r->p) < n) {
        r->bad = true;
        return NULL;
    }
    r->p += n;
    return p;
}

static void get_str(struct rd *r, char *dst, size_t cap)
{
    const uint8_t *l = take(r, 1), *s;

    dst[0] = '\0';
    if (!l || *l >= cap || !(s = take(r, *l))) {
        r->bad = true;
        return;
    }
    memcpy(dst, s, *l);
    dst[*l] = '\0';
}

/* Decode key @k and value @v into @d; -EBADMSG when they are not an entry. */
static int host_decode(const MDB_val *k, const MDB_val *v, struct pt_device *d)
{
    struct rd r = {.p = v->mv_data, .end = (const uint8_t *)v->mv_data + v->mv_size};
    const uint8_t *h, *kb = k->mv_data;

    memset(d, 0, sizeof *d);
    if (k->mv_size != HOST_KEY_LEN || !(h = take(&r, 9 + 16 + 16 + 7)) || h[0] != HOST_ENC_VER ||
        h[1] != kb[0] || (h[1] != PT_DEV_MAC && h[1] != PT_DEV_IP) || h[7] > PT_DEV_NAMES ||
        h[8] > PT_DEV_SERVICES)
        return -EBADMSG;
    d->kind = h[1];
    memcpy(d->addr, kb + 1, 16);
    d->flags = h[2];
    d->oui_kind = h[3];
    d->type = h[4];
    d->type_src = h[5];
    d->os = h[6];
    d->n_names = h[7];
    d->n_services = h[8];
    memcpy(d->bound, h + 9, 16);
    d->first_ns = be64_get(h + 25);
    d->last_ns = be64_get(h + 33);
    d->os_ttl = h[41];
    d->os_hops = h[42];
    d->os_wscale = (int8_t)h[43];
    d->os_mss = be16_get(h + 44);
    d->os_win = be16_get(h + 46);
    get_str(&r, d->vendor, sizeof d->vendor);
    get_str(&r, d->dhcp_vendor, sizeof d->dhcp_vendor);
    for (unsigned i = 0; i < d->n_names && !r.bad; i++) {
        const uint8_t *n = take(&r, 9);
        if (!n)
            break;
        d->names[i].last_ns = be64_get(n);
        d->names[i].src = n[8];
        get_str(&r, d->names[i].name, sizeof d->names[i].name);
        d->names[i].len = (uint8_t)strlen(d->names[i].name);
    }
    for (unsigned i = 0; i < d->n_services && !r.bad; i++) {
        const uint8_t *s = take(&r, 7);
        if (!s)
            break;
        d->services[i].port = be16_get(s);
        d->services[i].proto = s[2];
        d->services[i].conns = be32_get(s + 3);
    }
    return r.bad || r.p != r.end ? -EBADMSG : 0;
}

/* ---- writing ---- */

struct put_arg {
    const struct pt_device *d;
    size_t n;
};

static int put_body(struct store_wtxn *w, void *arg)
{
    const struct put_arg *a = arg;
    uint8_t k[HOST_KEY_LEN], buf[HOST_ENC_MAX];
    MDB_val kv, dv;
    int rc;

    for (size_t i = 0; i < a->n; i++) {
        host_key(k, &a->d[i]);
        kv = mval(k, sizeof k);
        dv = mval(buf, host_encode(buf, &a->d[i]));
        if ((rc = mdb_put(w->txn, w->s->e->dbi[DB_HOSTS], &kv, &dv, 0)) != 0)
            return store_err(rc);
    }
    w->hosts += a->n;
    return 0;
}

int pt_store_hosts_put(struct pt_store *s, const struct pt_device *d, size_t n)
{
    struct put_arg a = {.d = d, .n = n};

    if (s->readonly)
        return -EROFS;
    if (n && !d)
        return PT_E_BADARG;
    for (size_t i = 0; i < n; i++)
        if (d[i].kind != PT_DEV_MAC && d[i].kind != PT_DEV_IP)
            return PT_E_BADARG;
    if (!n)
        return 0;
    _Static_assert(HOST_ENC_MAX >= 9 + 16 + 16 + 7 + 2 * PT_DEV_VENDOR_MAX +
                                       PT_DEV_NAMES * (9 + PT_DEV_NAME_MAX) + PT_DEV_SERVICES * 7,
                   "HOST_ENC_MAX holds the largest entry");
    return store_write_run(s, put_body, &a, (uint64_t)n * (HOST_KEY_LEN + 200));
}

/* ---- reading ---- */

int pt_store_hosts_read(struct pt_store *s, int (*cb)(const struct pt_device *d, void *arg),
                        void *arg)
{
    struct pt_device d;
    MDB_cursor *c;
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_val k, v;
    uint64_t bad = 0;
    bool stopped = false;
    int rc;

    if ((rc = store_hosts_dbi(s, &dbi)) <= 0)
        return rc;
    if ((rc = store_rd_begin(s, &txn)) < 0)
        return rc;
    if ((rc = mdb_cursor_open(txn, dbi, &c)) != 0) {
        rc = store_err(rc);
        goto out;
    }
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        int r;
        if (host_decode(&k, &v, &d) < 0) {
            bad++;
            continue;
        }
        if ((r = cb(&d, arg)) != 0) {
            rc = r;
            stopped = true;
            break;
        }
    }
    if (!stopped)
        rc = rc == MDB_NOTFOUND ? 0 : store_err(rc);
    mdb_cursor_close(c);
out:
    store_rd_end(s, txn);
    if (bad)
        pt_log(PT_LOG_WARN, "store: %s: %llu device entries could not be decoded (skipped)", s->dir,
               (unsigned long long)bad);
    return rc;
}
