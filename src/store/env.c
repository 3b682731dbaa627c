/* env.c - the store's LMDB environment: open and close, the per-process
 * registry, the schema check and upgrade, map growth, read and write
 * transactions, error mapping, meta helpers and stats.
 *
 * DESIGN
 * 1. One environment per process. LMDB must not open one environment twice
 *    in a process (the second open re-initialises the lock file under the
 *    first, and fcntl locks are per process). A registry keyed by the store
 *    directory's (dev, inode) and the pid lets every handle of one store in
 *    a process share one MDB_env and its DBI handles. A writer opening after
 *    a read-only handle in the same process gets -EBUSY (the env is
 *    read-only); a reader after a writer shares the writer's env. After
 *    fork() the child ignores the parent's entries.
 * 2. One writer across processes: DIR/store/writer.lock, flock(LOCK_EX).
 * 3. Map size. Writes run with the map at most map_soft = map_max minus a
 *    headroom (map_max/16, 128 KiB .. 64 MiB): when the map is full at
 *    map_soft, the deletions that make room (write.c) run with the map at
 *    map_max, so they always find pages to copy-on-write into.
 *    mdb_env_set_mapsize() needs no txn of this process open on the env:
 *    it runs under the env's rwlock held exclusive, which every read txn
 *    and every write txn hold shared.
 * 4. Readers (MDB_RDONLY | MDB_NOTLS) follow the writer's map: a txn that
 *    finds MDB_MAP_RESIZED calls mdb_env_set_mapsize(env, 0) (the size in
 *    the file) under the exclusive lock and begins again.
 * 5. Schema. A writer opens (or creates) every database in one txn: a new
 *    store gets PT_STORE_SCHEMA; version 1 gets its flow_port index built
 *    from the flows and version 2, in that same txn; a newer version is
 *    PT_E_BADFILE and nothing is written. The same txn creates "live" when
 *    the store has none (it is additive: no new version) and empties it
 *    (live.c DESIGN 3). Readers need every database but "live" (env's
 *    has_live; store_live_dbi() looks again for one a writer made since),
 *    and likewise "hosts" (has_hosts, store_hosts_dbi()). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

const char *const store_db_name[DB_N] = {
    [DB_META] = "meta",
    [DB_SERIES] = "series",
    [DB_SERIES_ID] = "series_id",
    [DB_S1] = "s1",
    [DB_M1] = "m1",
    [DB_H1] = "h1",
    [DB_TOP] = "top",
    [DB_FLOWS] = "flows",
    [DB_FLOW_HOST] = "flow_host",
    [DB_FLOW_PORT] = "flow_port",
    [DB_IFACES] = "ifaces",
    [DB_LIVE] = "live",
    [DB_HOSTS] = "hosts",
};

#define MIB             (1024ull * 1024ull)
#define MAP_MIN         (64ull * 1024ull)
#define MAP_MAX_MIN     (1ull * MIB)
#define LOG_INTERVAL_NS (60ull * 1000000000ull)

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct store_env *reg_head;
static _Thread_local int last_mdb_rc;

void pt_store_config_default(struct pt_store_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->map_size = 64ull * MIB;
    cfg->map_max = 16ull * 1024ull * MIB;
    cfg->keep_s[PT_RES_1S] = 48ull * 3600;
    cfg->keep_s[PT_RES_1M] = 30ull * 86400;
    cfg->keep_s[PT_RES_1H] = 730ull * 86400;
    cfg->keep_flows_s = 30ull * 86400;
}

int store_err(int rc)
{
    if (rc == 0)
        return 0;
    last_mdb_rc = rc;
    switch (rc) {
    case MDB_NOTFOUND:
        return -ENOENT;
    case MDB_MAP_FULL:
        return PT_E_FULL;
    case MDB_KEYEXIST:
        return -EEXIST;
    case MDB_TXN_FULL:
    case MDB_CURSOR_FULL:
    case MDB_PAGE_FULL:
        return -E2BIG;
    case MDB_MAP_RESIZED:
        return -EAGAIN;
    case MDB_READERS_FULL:
        return -EBUSY;
    case MDB_INVALID:
    case MDB_VERSION_MISMATCH:
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
    case MDB_INCOMPATIBLE:
        return PT_E_BADFILE;
    case MDB_PANIC:
        return -EIO;
    case MDB_DBS_FULL:
    case MDB_TLS_FULL:
    case MDB_BAD_RSLOT:
    case MDB_BAD_TXN:
    case MDB_BAD_VALSIZE:
    case MDB_BAD_DBI:
        return -EINVAL;
    default:
        return rc > 0 ? -rc : -EIO;
    }
}

const char *store_mdb_msg(void)
{
    return last_mdb_rc ? mdb_strerror(last_mdb_rc) : "";
}

/* ---- meta ---- */

int meta_get_u64(MDB_txn *txn, MDB_dbi dbi, const char *name, uint64_t *v, bool *found)
{
    MDB_val k = mval(name, strlen(name)), d;
    int rc = mdb_get(txn, dbi, &k, &d);

    *found = false;
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc)
        return store_err(rc);
    if (d.mv_size == 8)
        *v = be64_get(d.mv_data);
    else if (d.mv_size == 4)
        *v = be32_get(d.mv_data);
    else
        return PT_E_BADFILE;
    *found = true;
    return 0;
}

int meta_put_u64(MDB_txn *txn, MDB_dbi dbi, const char *name, uint64_t v)
{
    uint8_t b[8];
    MDB_val k = mval(name, strlen(name)), d = mval(b, 8);

    be64_put(b, v);
    return store_err(mdb_put(txn, dbi, &k, &d, 0));
}

int meta_put_u32(MDB_txn *txn, MDB_dbi dbi, const char *name, uint32_t v)
{
    uint8_t b[4];
    MDB_val k = mval(name, strlen(name)), d = mval(b, 4);

    be32_put(b, v);
    return store_err(mdb_put(txn, dbi, &k, &d, 0));
}

int meta_del(MDB_txn *txn, MDB_dbi dbi, const char *name)
{
    MDB_val k = mval(name, strlen(name));
    int rc = mdb_del(txn, dbi, &k, NULL);

    return rc == MDB_NOTFOUND ? 0 : store_err(rc);
}

/* ---- registry ---- */

static struct store_env *reg_find(dev_t dev, ino_t ino)
{
    pid_t pid = getpid();

    for (struct store_env *e = reg_head; e; e = e->next)
        if (e->dev == dev && e->ino == ino && e->pid == pid)
            return e;
    return NULL;
}

/* Create and open the env of @path. Caller holds reg_lock. */
static int env_new(const char *path, const struct stat *st, bool rdonly, bool nosync,
                   uint64_t mapsize, struct store_env **out)
{
    struct store_env *e = calloc(1, sizeof *e);
    unsigned flags = MDB_NOTLS | (rdonly ? MDB_RDONLY : 0) | (nosync ? MDB_NOSYNC : 0);
    int rc;

    if (!e)
        return -ENOMEM;
    if ((rc = pthread_rwlock_init(&e->lock, NULL)) != 0) {
        free(e);
        return -rc;
    }
    if ((rc = mdb_env_create(&e->env)) != 0)
        goto err_lock;
    if ((rc = mdb_env_set_maxdbs(e->env, 16)) != 0 ||
        (mapsize && (rc = mdb_env_set_mapsize(e->env, mapsize)) != 0))
        goto err_env;
    if ((rc = mdb_env_open(e->env, path, flags, 0644)) != 0)
        goto err_env;
    e->dev = st->st_dev;
    e->ino = st->st_ino;
    e->pid = getpid();
    e->rdonly = rdonly;
    e->refs = 1;
    e->next = reg_head;
    reg_head = e;
    *out = e;
    return 0;

err_env:
    mdb_env_close(e->env);
err_lock:
    pthread_rwlock_destroy(&e->lock);
    free(e);
    return store_err(rc);
}

static void env_unref(struct store_env *e)
{
    pthread_mutex_lock(&reg_lock);
    if (--e->refs == 0) {
        for (struct store_env **pp = &reg_head; *pp; pp = &(*pp)->next) {
            if (*pp == e) {
                *pp = e->next;
                break;
            }
        }
        mdb_env_close(e->env);
        pthread_rwlock_destroy(&e->lock);
        free(e);
    }
    pthread_mutex_unlock(&reg_lock);
}

/* ---- transactions ---- */

int store_rd_begin(struct pt_store *s, MDB_txn **txn)
{
    for (int tries = 0; tries < 4; tries++) {
        pthread_rwlock_rdlock(&s->e->lock);
        int rc = mdb_txn_begin(s->e->env, NULL, MDB_RDONLY, txn);
        if (rc == 0)
            return 0;
        pthread_rwlock_unlock(&s->e->lock);
        if (rc != MDB_MAP_RESIZED)
            return store_err(rc);
        pthread_rwlock_wrlock(&s->e->lock);
        rc = mdb_env_set_mapsize(s->e->env, 0);
        pthread_rwlock_unlock(&s->e->lock);
        if (rc)
            return store_err(rc);
    }
    return -EAGAIN;
}

void store_rd_end(struct pt_store *s, MDB_txn *txn)
{
    if (txn)
        mdb_txn_abort(txn);
    pthread_rwlock_unlock(&s->e->lock);
}

int store_write_once(struct pt_store *s, store_body_fn body, void *arg)
{
    struct store_wtxn w = {.s = s, .m = s->meta};
    int rc;

    pthread_rwlock_rdlock(&s->e->lock);
    if ((rc = store_err(mdb_txn_begin(s->e->env, NULL, 0, &w.txn))) < 0)
        goto out;
    if ((rc = body(&w, arg)) < 0) {
        mdb_txn_abort(w.txn);
        goto out;
    }
    if ((rc = store_err(mdb_txn_commit(w.txn))) < 0)
        goto out;
    s->meta = w.m;
    s->st.txns++;
    s->st.points += w.points;
    s->st.flows += w.flows;
    s->st.live += w.live;
    s->st.hosts += w.hosts;
    s->st.retention_dels += w.ret_dels;
    s->st.dropped_old += w.dropped;
out:
    pthread_rwlock_unlock(&s->e->lock);
    return rc;
}

static int map_set(struct pt_store *s, uint64_t size)
{
    int rc;

    pthread_rwlock_wrlock(&s->e->lock);
    rc = mdb_env_set_mapsize(s->e->env, size);
    pthread_rwlock_unlock(&s->e->lock);
    return store_err(rc);
}

static uint64_t map_cur(const struct pt_store *s, uint64_t *used)
{
    MDB_envinfo ei;
    MDB_stat ms;

    mdb_env_info(s->e->env, &ei);
    mdb_env_stat(s->e->env, &ms);
    if (used)
        *used = ((uint64_t)ei.me_last_pgno + 1) * ms.ms_psize;
    return ei.me_mapsize;
}

/* Double the map (more than once when @est says one doubling cannot hold
 * the batch), up to map_soft. PT_E_FULL when already there. */
static int map_grow(struct pt_store *s, uint64_t est)
{
    uint64_t used, cur = map_cur(s, &used), n = cur;

    if (cur >= s->map_soft)
        return PT_E_FULL;
    do {
        n *= 2;
        s->st.map_grows++;
    } while (n < used + 2 * est && n < s->map_soft);
    if (n > s->map_soft)
        n = s->map_soft;
    pt_log(PT_LOG_INFO, "store: map grown to %llu KiB", (unsigned long long)(n >> 10));
    return map_set(s, n);
}

int store_write_run(struct pt_store *s, store_body_fn body, void *arg, uint64_t est)
{
    for (;;) {
        int rc = store_write_once(s, body, arg);
        if (rc != PT_E_FULL)
            return rc;
        if ((rc = map_grow(s, est)) < 0)
            return rc;
    }
}

/* The optional db @db (store_db_optional()) of @s, flagged by *@has. */
static int opt_dbi(struct pt_store *s, int db, bool *has, MDB_dbi *dbi)
{
    struct store_env *e = s->e;
    MDB_txn *txn;
    MDB_dbi d;
    int rc = 0;

    if (__atomic_load_n(has, __ATOMIC_ACQUIRE)) {
        *dbi = e->dbi[db];
        return 1;
    }
    /* Only a read-only env of a store made before @db gets here. Every
     * mdb_dbi_open() of the process runs under reg_lock (LMDB: one txn at a
     * time may open databases), and the handle outlives the txn that opened
     * it only once that txn commits. */
    pthread_mutex_lock(&reg_lock);
    if (!__atomic_load_n(has, __ATOMIC_ACQUIRE)) {
        if ((rc = store_rd_begin(s, &txn)) < 0)
            goto out;
        rc = mdb_dbi_open(txn, store_db_name[db], 0, &d);
        if (rc == 0) {
            rc = mdb_txn_commit(txn);
            txn = NULL;
        }
        store_rd_end(s, txn);
        if (rc) {
            rc = rc == MDB_NOTFOUND ? 0 : store_err(rc);
            goto out;
        }
        e->dbi[db] = d;
        __atomic_store_n(has, true, __ATOMIC_RELEASE);
    }
    *dbi = e->dbi[db];
    rc = 1;
out:
    pthread_mutex_unlock(&reg_lock);
    return rc;
}

int store_live_dbi(struct pt_store *s, MDB_dbi *dbi)
{
    return opt_dbi(s, DB_LIVE, &s->e->has_live, dbi);
}

int store_hosts_dbi(struct pt_store *s, MDB_dbi *dbi)
{
    return opt_dbi(s, DB_HOSTS, &s->e->has_hosts, dbi);
}

void store_sync_commits(struct pt_store *s, bool on)
{
    if (s->cfg.nosync)
        return;
    pthread_rwlock_wrlock(&s->e->lock); /* readers of this process read me_flags */
    mdb_env_set_flags(s->e->env, MDB_NOSYNC, on ? 0 : 1);
    pthread_rwlock_unlock(&s->e->lock);
}

int store_map_hard(struct pt_store *s, bool hard)
{
    return map_set(s, hard ? s->cfg.map_max : s->map_soft);
}

uint64_t store_headroom(const struct pt_store *s)
{
    return s->cfg.map_max - s->map_soft;
}

bool store_log_due(uint64_t *last_ns)
{
    uint64_t now = pt_now_ns();

    if (*last_ns && now - *last_ns < LOG_INTERVAL_NS)
        return false;
    *last_ns = now;
    return true;
}

void store_log_lost(struct pt_store *s, uint64_t sec, int rc, const char *why)
{
    if (!store_log_due(&s->log_ns)) {
        s->log_quiet++;
        return;
    }
    pt_log(PT_LOG_ERR,
           "store: batch of second %llu lost: %s%s%s (%llu batches lost in all, %llu since the "
           "last message)",
           (unsigned long long)sec, pt_strerror(rc), why ? ": " : "", why ? why : "",
           (unsigned long long)s->st.lost_batches, (unsigned long long)s->log_quiet);
    s->log_quiet = 0;
}

/* ---- schema ---- */

struct schema_arg {
    MDB_dbi dbi[DB_N];
    char *msg;
    size_t msglen;
    bool upgraded;
    uint64_t live_cleared; /* live records of the previous writer */
};

static int schema_create(struct store_wtxn *w, struct schema_arg *a)
{
    MDB_dbi main;
    MDB_cursor *c;
    MDB_val k, d;
    int rc;

    if ((rc = mdb_dbi_open(w->txn, NULL, 0, &main)) != 0)
        return store_err(rc);
    if ((rc = mdb_cursor_open(w->txn, main, &c)) != 0)
        return store_err(rc);
    rc = mdb_cursor_get(c, &k, &d, MDB_FIRST);
    mdb_cursor_close(c);
    if (rc != MDB_NOTFOUND) {
        snprintf(a->msg, a->msglen, "%s: an LMDB environment, but not a store (no meta)",
                 w->s->dir);
        return rc ? store_err(rc) : PT_E_BADFILE;
    }
    for (int i = 0; i < DB_N; i++)
        if ((rc = mdb_dbi_open(w->txn, store_db_name[i], MDB_CREATE, &a->dbi[i])) != 0)
            return store_err(rc);
    memset(&w->m, 0, sizeof w->m);
    w->m.next_series = 1;
    if ((rc = meta_put_u32(w->txn, a->dbi[DB_META], "schema_version", PT_STORE_SCHEMA)) < 0)
        return rc;
    return meta_put_u32(w->txn, a->dbi[DB_META], "next_series", 1);
}

static int meta_load(MDB_txn *txn, MDB_dbi dbi, struct store_meta *m)
{
    uint64_t v;
    bool f;
    int rc;

    memset(m, 0, sizeof *m);
    if ((rc = meta_get_u64(txn, dbi, "next_series", &v, &f)) < 0)
        return rc;
    m->next_series = f ? (uint32_t)v : 1;
    if ((rc = meta_get_u64(txn, dbi, "last_sec", &m->last_sec, &m->has_last)) < 0 ||
        (rc = meta_get_u64(txn, dbi, "pend_1m", &m->p1m, &m->has_p1m)) < 0 ||
        (rc = meta_get_u64(txn, dbi, "pend_1h", &m->p1h, &m->has_p1h)) < 0 ||
        (rc = meta_get_u64(txn, dbi, "dropped_old", &m->dropped, &f)) < 0)
        return rc;
    return 0;
}

/* The schema version of an open txn's store: 0 and a message when it is not
 * a store we can use. */
static int version_check(MDB_txn *txn, MDB_dbi meta, const char *dir, bool reader, char *msg,
                         size_t msglen, uint64_t *ver)
{
    bool f;
    int rc = meta_get_u64(txn, meta, "schema_version", ver, &f);

    if (rc < 0 || !f) {
        snprintf(msg, msglen, "%s: not a store (no schema version)", dir);
        return PT_E_BADFILE;
    }
    if (*ver > PT_STORE_SCHEMA || *ver < STORE_SCHEMA_V1) {
        snprintf(msg, msglen, "%s: store schema version %llu; this program reads %u", dir,
                 (unsigned long long)*ver, PT_STORE_SCHEMA);
        return PT_E_BADFILE;
    }
    if (reader && *ver < PT_STORE_SCHEMA) {
        snprintf(msg, msglen,
                 "%s: store schema version %llu is older than %u; run the sensor (run or read "
                 "-d) once to upgrade it",
                 dir, (unsigned long long)*ver, PT_STORE_SCHEMA);
        return PT_E_BADFILE;
    }
    return 0;
}

static int schema_body(struct store_wtxn *w, void *arg)
{
    struct schema_arg *a = arg;
    uint64_t ver;
    int rc;

    a->upgraded = false;
    a->live_cleared = 0;
    rc = mdb_dbi_open(w->txn, store_db_name[DB_META], 0, &a->dbi[DB_META]);
    if (rc == MDB_NOTFOUND)
        return schema_create(w, a);
    if (rc) {
        snprintf(a->msg, a->msglen, "%s: not a store (%s)", w->s->dir, mdb_strerror(rc));
        return store_err(rc);
    }
    if ((rc = version_check(w->txn, a->dbi[DB_META], w->s->dir, false, a->msg, a->msglen, &ver)) <
        0)
        return rc;
    for (int i = 1; i < DB_N; i++) {
        unsigned fl = (store_db_optional(i) || (i == DB_FLOW_PORT && ver == STORE_SCHEMA_V1))
                          ? MDB_CREATE
                          : 0;
        if ((rc = mdb_dbi_open(w->txn, store_db_name[i], fl, &a->dbi[i])) != 0) {
            snprintf(a->msg, a->msglen, "%s: database %s: %s", w->s->dir, store_db_name[i],
                     mdb_strerror(rc));
            return rc == MDB_NOTFOUND ? PT_E_BADFILE : store_err(rc);
        }
    }
    if (ver == STORE_SCHEMA_V1) {
        if ((rc = mdb_drop(w->txn, a->dbi[DB_FLOW_PORT], 0)) != 0)
            return store_err(rc);
        if ((rc = flows_build_port_index(w->txn, a->dbi)) < 0) {
            snprintf(a->msg, a->msglen, "%s: upgrading to schema %u: %s", w->s->dir,
                     PT_STORE_SCHEMA, pt_strerror(rc));
            return rc;
        }
        if ((rc = meta_put_u32(w->txn, a->dbi[DB_META], "schema_version", PT_STORE_SCHEMA)) < 0)
            return rc;
        a->upgraded = true;
    }
    if ((rc = live_clear(w->txn, a->dbi[DB_LIVE], &a->live_cleared)) < 0)
        return rc;
    return meta_load(w->txn, a->dbi[DB_META], &w->m);
}

/* ---- open / close ---- */

static int open_writer(struct pt_store *s, const struct stat *st, char *msg, size_t msglen)
{
    char path[PATH_MAX + 32];
    struct stat fst;
    uint64_t init, head;
    int rc;

    head = s->cfg.map_max / 16;
    if (head < 128 * 1024)
        head = 128 * 1024;
    if (head > 64 * MIB)
        head = 64 * MIB;
    s->map_soft = (s->cfg.map_max - head) & ~4095ull;
    init = s->cfg.map_size;
    snprintf(path, sizeof path, "%s/data.mdb", s->dir);
    if (stat(path, &fst) == 0 && (uint64_t)fst.st_size > init)
        init = (uint64_t)fst.st_size;
    if (init > s->map_soft)
        init = s->map_soft;
    init = (init + 4095) & ~4095ull;

    snprintf(path, sizeof path, "%s/writer.lock", s->dir);
    if ((s->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644)) < 0) {
        rc = -errno;
        snprintf(msg, msglen, "%s: %s", path, strerror(-rc));
        return rc;
    }
    while ((rc = flock(s->lock_fd, LOCK_EX | LOCK_NB)) < 0 && errno == EINTR)
        ;
    if (rc < 0) {
        rc = errno == EWOULDBLOCK ? -EBUSY : -errno;
        snprintf(msg, msglen, "%s: another process writes this store", s->dir);
        return rc;
    }

    pthread_mutex_lock(&reg_lock);
    struct store_env *e = reg_find(st->st_dev, st->st_ino);
    if (e && (e->rdonly || e->has_writer)) {
        pthread_mutex_unlock(&reg_lock);
        snprintf(msg, msglen, "%s: already open %s in this process", s->dir,
                 e->has_writer ? "for writing" : "read-only (open the writer first)");
        return -EBUSY;
    }
    if (e) {
        e->refs++;
    } else if ((rc = env_new(s->dir, st, false, s->cfg.nosync, init, &e)) < 0) {
        pthread_mutex_unlock(&reg_lock);
        snprintf(msg, msglen, "%s: %s", s->dir,
                 rc == PT_E_BADFILE ? "not an LMDB store" : store_mdb_msg());
        return rc;
    }
    e->has_writer = true;
    s->e = e;

    struct schema_arg a = {.msg = msg, .msglen = msglen};
    rc = store_write_run(s, schema_body, &a, 0);
    if (rc == 0) {
        memcpy(e->dbi, a.dbi, sizeof e->dbi);
        __atomic_store_n(&e->has_live, true, __ATOMIC_RELEASE);
        __atomic_store_n(&e->has_hosts, true, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&reg_lock);
    if (rc < 0) {
        if (!msg[0])
            snprintf(msg, msglen, "%s: %s", s->dir, pt_strerror(rc));
        return rc;
    }
    if (a.upgraded)
        pt_log(PT_LOG_INFO, "store: %s upgraded to schema version %u", s->dir, PT_STORE_SCHEMA);
    if (a.live_cleared)
        pt_log(PT_LOG_INFO, "store: %s: cleared %llu live flows left by the previous writer",
               s->dir, (unsigned long long)a.live_cleared);

    MDB_txn *txn;
    if ((rc = store_rd_begin(s, &txn)) < 0)
        return rc;
    if ((rc = series_map_load(s, txn)) == 0)
        rc = ifaces_load(s, txn);
    store_rd_end(s, txn);
    if (rc < 0)
        snprintf(msg, msglen, "%s: reading series and interfaces: %s", s->dir, pt_strerror(rc));
    if (!(s->scratch = malloc(3600 * sizeof *s->scratch)))
        rc = -ENOMEM;
    return rc;
}

static int open_dbis_ro(struct store_env *e, const char *dir, char *msg, size_t msglen)
{
    MDB_txn *txn;
    MDB_dbi dbi[DB_N];
    uint64_t ver;
    bool live = true, hosts = true;
    int rc;

    if ((rc = mdb_txn_begin(e->env, NULL, MDB_RDONLY, &txn)) != 0) {
        snprintf(msg, msglen, "%s: %s", dir, mdb_strerror(rc));
        return store_err(rc);
    }
    if ((rc = mdb_dbi_open(txn, store_db_name[DB_META], 0, &dbi[DB_META])) != 0) {
        snprintf(msg, msglen, "%s: not a store (no meta)", dir);
        rc = (rc == MDB_NOTFOUND || rc == MDB_INCOMPATIBLE) ? PT_E_BADFILE : store_err(rc);
        goto out;
    }
    if ((rc = version_check(txn, dbi[DB_META], dir, true, msg, msglen, &ver)) < 0)
        goto out;
    for (int i = 1; i < DB_N; i++) {
        if ((rc = mdb_dbi_open(txn, store_db_name[i], 0, &dbi[i])) == MDB_NOTFOUND &&
            store_db_optional(i)) {
            /* a store made before it: no live flows, no hosts */
            *(i == DB_LIVE ? &live : &hosts) = false;
            continue;
        }
        if (rc != 0) {
            snprintf(msg, msglen, "%s: database %s: %s", dir, store_db_name[i], mdb_strerror(rc));
            rc = rc == MDB_NOTFOUND ? PT_E_BADFILE : store_err(rc);
            goto out;
        }
    }
    if ((rc = mdb_txn_commit(txn)) != 0) /* keeps the DBI handles */
        return store_err(rc);
    memcpy(e->dbi, dbi, sizeof e->dbi);
    __atomic_store_n(&e->has_live, live, __ATOMIC_RELEASE);
    __atomic_store_n(&e->has_hosts, hosts, __ATOMIC_RELEASE);
    return 0;
out:
    mdb_txn_abort(txn);
    return rc;
}

static int open_reader(struct pt_store *s, const struct stat *st, char *msg, size_t msglen)
{
    char path[PATH_MAX + 32];
    struct stat fst;
    int rc;

    snprintf(path, sizeof path, "%s/data.mdb", s->dir);
    if (stat(path, &fst) != 0) {
        rc = -errno;
        snprintf(msg, msglen, "%s: %s", path, strerror(errno));
        return rc;
    }
    pthread_mutex_lock(&reg_lock);
    struct store_env *e = reg_find(st->st_dev, st->st_ino);
    if (e) {
        e->refs++;
        s->e = e;
        pthread_mutex_unlock(&reg_lock);
        MDB_txn *txn;
        uint64_t ver;
        if ((rc = store_rd_begin(s, &txn)) < 0)
            return rc;
        rc = version_check(txn, e->dbi[DB_META], s->dir, true, msg, msglen, &ver);
        store_rd_end(s, txn);
        return rc;
    }
    if ((rc = env_new(s->dir, st, true, false, 0, &e)) < 0) {
        pthread_mutex_unlock(&reg_lock);
        snprintf(msg, msglen, "%s: %s", s->dir,
                 rc == PT_E_BADFILE ? "not an LMDB store" : store_mdb_msg());
        return rc;
    }
    s->e = e;
    rc = open_dbis_ro(e, s->dir, msg, msglen);
    pthread_mutex_unlock(&reg_lock);
    return rc;
}

struct pt_store *pt_store_open(const char *dir, const struct pt_store_config *cfg, bool readonly,
                               int *err, char *msg, size_t msglen)
{
    struct pt_store *s;
    struct stat st;
    char dummy[8];
    int rc;

    if (!msg || !msglen) {
        msg = dummy;
        msglen = sizeof dummy;
    }
    msg[0] = '\0';
    if (!dir || !*dir || strlen(dir) + 16 >= PATH_MAX) {
        snprintf(msg, msglen, "bad store directory");
        *err = PT_E_BADARG;
        return NULL;
    }
    if (!(s = calloc(1, sizeof *s))) {
        *err = -ENOMEM;
        return NULL;
    }
    s->lock_fd = -1;
    s->readonly = readonly;
    if (cfg)
        s->cfg = *cfg;
    else
        pt_store_config_default(&s->cfg);
    snprintf(s->dir, sizeof s->dir, "%s/store", dir);
    if (!readonly) {
        if (s->cfg.map_size < MAP_MIN || s->cfg.map_max < MAP_MAX_MIN ||
            s->cfg.map_max < s->cfg.map_size) {
            snprintf(msg, msglen,
                     "store map size %llu..%llu: need 64 KiB <= size <= max, max >= "
                     "1 MiB",
                     (unsigned long long)s->cfg.map_size, (unsigned long long)s->cfg.map_max);
            rc = PT_E_BADARG;
            goto err;
        }
        if ((mkdir(dir, 0755) < 0 && errno != EEXIST) ||
            (mkdir(s->dir, 0755) < 0 && errno != EEXIST)) {
            rc = -errno;
            snprintf(msg, msglen, "%s: %s", s->dir, strerror(errno));
            goto err;
        }
    }
    if (stat(s->dir, &st) != 0) {
        rc = -errno;
        snprintf(msg, msglen, "%s: %s", s->dir, strerror(errno));
        goto err;
    }
    rc = readonly ? open_reader(s, &st, msg, msglen) : open_writer(s, &st, msg, msglen);
    if (rc < 0)
        goto err;
    s->st.map_size = map_cur(s, NULL);
    return s;
err:
    pt_store_close(s);
    *err = rc;
    return NULL;
}

void pt_store_close(struct pt_store *s)
{
    if (!s)
        return;
    if (s->e) {
        if (!s->readonly) {
            int rc = mdb_env_sync(s->e->env, 1);
            if (rc)
                pt_log(PT_LOG_ERR, "store: %s: sync at close: %s", s->dir, mdb_strerror(rc));
            pthread_mutex_lock(&reg_lock);
            s->e->has_writer = false;
            pthread_mutex_unlock(&reg_lock);
        }
        env_unref(s->e);
    }
    if (s->lock_fd >= 0)
        close(s->lock_fd);
    series_map_free(&s->smap);
    flow_prep_free(&s->fp);
    live_prep_free(&s->lp);
    free(s->scratch);
    free(s);
}

void pt_store_stats(const struct pt_store *s, struct pt_store_stats *st)
{
    *st = s->st;
    st->map_size = map_cur(s, NULL);
}

uint64_t pt_store_file_size(const struct pt_store *s)
{
    char path[PATH_MAX + 32];
    struct stat st;

    snprintf(path, sizeof path, "%s/data.mdb", s->dir);
    return stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
}
