/* test_hosts.c - the device table in the store (src/store/hosts.c): every field round
 * trips, a save replaces, the walk order, bad arguments, the callback's stop, and stores
 * made before db "hosts" (readers see none, a writer creates it). */
#include <criterion/criterion.h>

#include <errno.h>
#include <sys/wait.h>

#include "store_helpers.h"

TestSuite(store_hosts, .init = st_setup, .fini = st_teardown);

/* An entry with every field set from @i; a MAC entry when @i is odd. */
static void dev(struct pt_device *d, unsigned i, unsigned names, unsigned services)
{
    memset(d, 0, sizeof *d);
    d->kind = i % 2 ? PT_DEV_MAC : PT_DEV_IP;
    if (d->kind == PT_DEV_MAC) {
        uint8_t m[6] = {0x00, 0x1b, 0xa9, 0x00, (uint8_t)(i >> 8), (uint8_t)i};
        memcpy(d->addr, m, 6);
        st_v4(d->bound, 0xc0a80000u + i);
        snprintf(d->vendor, sizeof d->vendor, "Brother Industries, LTD. %u", i);
        snprintf(d->dhcp_vendor, sizeof d->dhcp_vendor, "MSFT 5.0");
    } else {
        if (i % 4)
            st_v6(d->addr, i);
        else
            st_v4(d->addr, 0xc0a80000u + i);
        memcpy(d->bound, (uint8_t[6]){0x00, 0x1b, 0xa9, 0x00, 0x00, (uint8_t)i}, 6);
    }
    d->flags = PT_DEV_F_BOUND | PT_DEV_F_OS | PT_DEV_F_OS_SYN;
    d->oui_kind = (uint8_t)(i % PT_OUI_KIND_MAX);
    d->type = (uint8_t)(i % PT_DEV_TYPE_MAX);
    d->type_src = (uint8_t)(i % PT_DEV_TSRC_MAX);
    d->os = (uint8_t)(i % PT_DEV_OS_MAX);
    d->first_ns = 1700000000ull * NS + i;
    d->last_ns = UINT64_MAX - i;
    d->os_ttl = 128;
    d->os_hops = 7;
    d->os_wscale = i % 3 ? 8 : -1;
    d->os_mss = 1460;
    d->os_win = 65535;
    d->n_names = (uint8_t)names;
    for (unsigned k = 0; k < names; k++) {
        struct pt_dev_name *n = &d->names[k];
        n->last_ns = i * 1000ull + k;
        n->src = (uint8_t)(1 + k % (PT_DEV_SRC_MAX - 1));
        if (k == names - 1) /* the longest a name may be, with bytes above 0x7f */
            memset(n->name, 0xe9, PT_DEV_NAME_MAX - 1);
        else
            snprintf(n->name, sizeof n->name, "host-%u-%u.lan", i, k);
        n->len = (uint8_t)strlen(n->name);
    }
    d->n_services = (uint8_t)services;
    for (unsigned k = 0; k < services; k++)
        d->services[k] = (struct pt_dev_service){
            .port = (uint16_t)(k * 1000 + 1), .proto = k % 2 ? 17 : 6, .conns = UINT32_MAX - k};
}

struct coll {
    struct pt_device d[64];
    size_t n;
    size_t stop_at;
};

static int collect(const struct pt_device *d, void *arg)
{
    struct coll *c = arg;

    cr_assert_lt(c->n, 64);
    c->d[c->n++] = *d;
    return c->stop_at && c->n == c->stop_at ? 7 : 0;
}

/* The stored entry equal to @want. */
static const struct pt_device *find(const struct coll *c, const struct pt_device *want)
{
    for (size_t i = 0; i < c->n; i++)
        if (c->d[i].kind == want->kind && !memcmp(c->d[i].addr, want->addr, 16))
            return &c->d[i];
    return NULL;
}

Test(store_hosts, roundtrip_every_field)
{
    struct pt_store_config cfg = st_cfg();
    struct pt_store *s = st_open_w(&cfg);
    static struct pt_device in[20];
    static struct coll c;
    struct pt_store_stats st;

    for (unsigned i = 0; i < 20; i++)
        dev(&in[i], i, i % (PT_DEV_NAMES + 1), i % (PT_DEV_SERVICES + 1));
    cr_assert_eq(pt_store_hosts_put(s, in, 20), 0);
    pt_store_stats(s, &st);
    cr_assert_eq(st.hosts, 20);
    pt_store_close(s);

    struct pt_store *r = st_open_r();
    cr_assert_eq(pt_store_hosts_read(r, collect, &c), 0);
    cr_assert_eq(c.n, 20);
    for (unsigned i = 0; i < 20; i++) {
        const struct pt_device *o = find(&c, &in[i]);
        cr_assert_not_null(o, "entry %u", i);
        cr_assert_eq(memcmp(o, &in[i], sizeof *o), 0, "entry %u differs", i);
    }
    /* key order: MAC entries first, then IPs, each by address */
    for (size_t i = 1; i < c.n; i++) {
        int k = c.d[i - 1].kind - c.d[i].kind;
        cr_assert(k < 0 || (k == 0 && memcmp(c.d[i - 1].addr, c.d[i].addr, 16) < 0));
    }
    pt_store_close(r);
}

Test(store_hosts, save_replaces_and_callback_stops)
{
    struct pt_store_config cfg = st_cfg();
    struct pt_store *s = st_open_w(&cfg);
    struct pt_device a, b;
    static struct coll c;

    dev(&a, 2, 1, 1);
    cr_assert_eq(pt_store_hosts_put(s, &a, 1), 0);
    dev(&b, 2, 3, 0); /* the same key, changed */
    b.last_ns = 5;
    cr_assert_eq(pt_store_hosts_put(s, &b, 1), 0);
    cr_assert_eq(pt_store_hosts_read(s, collect, &c), 0);
    cr_assert_eq(c.n, 1);
    cr_assert_eq(memcmp(&c.d[0], &b, sizeof b), 0);
    for (unsigned i = 3; i < 9; i++) {
        dev(&a, i, 0, 0);
        cr_assert_eq(pt_store_hosts_put(s, &a, 1), 0);
    }
    memset(&c, 0, sizeof c);
    c.stop_at = 3;
    cr_assert_eq(pt_store_hosts_read(s, collect, &c), 7);
    cr_assert_eq(c.n, 3);
    a.kind = 0;
    cr_assert_eq(pt_store_hosts_put(s, &a, 1), PT_E_BADARG);
    cr_assert_eq(pt_store_hosts_put(s, NULL, 1), PT_E_BADARG);
    cr_assert_eq(pt_store_hosts_put(s, NULL, 0), 0);
    pt_store_close(s);
    struct pt_store *r = st_open_r();
    dev(&a, 1, 0, 0);
    cr_assert_eq(pt_store_hosts_put(r, &a, 1), -EROFS);
    pt_store_close(r);
}

Test(store_hosts, corrupt_entry_is_skipped)
{
    struct pt_store_config cfg = st_cfg();
    struct pt_store *s = st_open_w(&cfg);
    struct pt_device a;
    static struct coll c;
    char path[128];
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;

    dev(&a, 4, 2, 2);
    cr_assert_eq(pt_store_hosts_put(s, &a, 1), 0);
    dev(&a, 6, 2, 2);
    cr_assert_eq(pt_store_hosts_put(s, &a, 1), 0);
    pt_store_close(s);
    /* cut one value short behind the store's back */
    snprintf(path, sizeof path, "%s/store", st_dir);
    cr_assert_eq(mdb_env_create(&env), 0);
    cr_assert_eq(mdb_env_set_maxdbs(env, 16), 0);
    cr_assert_eq(mdb_env_open(env, path, 0, 0644), 0);
    cr_assert_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
    cr_assert_eq(mdb_dbi_open(txn, "hosts", 0, &dbi), 0);
    uint8_t k[17] = {PT_DEV_IP};
    memcpy(k + 1, a.addr, 16);
    MDB_val kv = {.mv_size = 17, .mv_data = k}, dv;
    cr_assert_eq(mdb_get(txn, dbi, &kv, &dv), 0);
    uint8_t cut[40];
    memcpy(cut, dv.mv_data, sizeof cut);
    dv = (MDB_val){.mv_size = sizeof cut, .mv_data = cut};
    cr_assert_eq(mdb_put(txn, dbi, &kv, &dv, 0), 0);
    cr_assert_eq(mdb_txn_commit(txn), 0);
    mdb_env_close(env);

    struct pt_store *r = st_open_r();
    cr_assert_eq(pt_store_hosts_read(r, collect, &c), 0);
    cr_assert_eq(c.n, 1);
    pt_store_close(r);
}

/* Drop db "hosts" as a store made before it would be; whether it existed. */
static bool raw_drop_hosts(void)
{
    char path[128];
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    bool had;

    snprintf(path, sizeof path, "%s/store", st_dir);
    cr_assert_eq(mdb_env_create(&env), 0);
    cr_assert_eq(mdb_env_set_maxdbs(env, 16), 0);
    cr_assert_eq(mdb_env_open(env, path, 0, 0644), 0);
    cr_assert_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
    had = mdb_dbi_open(txn, "hosts", 0, &dbi) == 0;
    if (had)
        cr_assert_eq(mdb_drop(txn, dbi, 1), 0);
    cr_assert_eq(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
    return had;
}

Test(store_hosts, store_without_hosts_db, .timeout = 60)
{
    struct pt_store_config cfg = st_cfg();
    struct pt_store *s = st_open_w(&cfg);
    struct pt_device a;
    static struct coll c;
    int status;

    dev(&a, 1, 1, 1);
    cr_assert_eq(pt_store_hosts_put(s, &a, 1), 0);
    pt_store_close(s);
    cr_assert(raw_drop_hosts());
    cr_assert_not(raw_drop_hosts(), "gone");

    struct pt_store *r = st_open_r(); /* opens, reads none, no error */
    cr_assert_eq(pt_store_hosts_read(r, collect, &c), 0);
    cr_assert_eq(c.n, 0);

    /* a writer in another process creates it; the open reader then sees it */
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        int err = 0;
        struct pt_store *w = pt_store_open(st_dir, &cfg, false, &err, NULL, 0);
        if (!w)
            _exit(1);
        int rc = pt_store_hosts_put(w, &a, 1);
        pt_store_close(w);
        _exit(rc == 0 ? 0 : 2);
    }
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child writer: %d", status);
    cr_assert_eq(pt_store_hosts_read(r, collect, &c), 0);
    cr_assert_eq(c.n, 1);
    cr_assert_eq(memcmp(&c.d[0], &a, sizeof a), 0);
    pt_store_close(r);
}

static int count_cb(const struct pt_device *d, void *arg)
{
    (void)d;
    (*(size_t *)arg)++;
    return 0;
}

Test(store_hosts, big_save_grows_map)
{
    struct pt_store_config cfg = st_cfg();
    cfg.map_size = 64 * 1024;
    struct pt_store *s = st_open_w(&cfg);
    static struct pt_device in[2000];
    struct pt_store_stats st;
    size_t n = 0;

    for (unsigned i = 0; i < 2000; i++)
        dev(&in[i], i * 2, PT_DEV_NAMES, PT_DEV_SERVICES); /* IPs, ~800 bytes each */
    cr_assert_eq(pt_store_hosts_put(s, in, 2000), 0);
    pt_store_stats(s, &st);
    cr_assert_gt(st.map_grows, 0);
    cr_assert_eq(pt_store_hosts_read(s, count_cb, &n), 0);
    cr_assert_eq(n, 2000);
    pt_store_close(s);
}
