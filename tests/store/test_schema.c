/* test_schema.c - schema versions (upgrade of a version 1 store made with
 * raw LMDB calls, refusal of newer ones), files that are not stores, and
 * who may open a store while another handle has it. */
#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "store_helpers.h"

TestSuite(store_schema, .init = st_setup, .fini = st_teardown);

#define SEC0 1700000000ull
#define NREC 400

static struct pt_flow_record recs[NREC];

/* Raw LMDB on DIR/store; the store must not be open in this process. */
static MDB_env *raw_open(MDB_txn **txn)
{
    char path[128];
    MDB_env *env;

    snprintf(path, sizeof path, "%s/store", st_dir);
    cr_assert_eq(mdb_env_create(&env), 0);
    cr_assert_eq(mdb_env_set_maxdbs(env, 16), 0);
    cr_assert_eq(mdb_env_open(env, path, 0, 0644), 0);
    cr_assert_eq(mdb_txn_begin(env, NULL, 0, txn), 0);
    return env;
}

static void raw_close(MDB_env *env, MDB_txn *txn)
{
    cr_assert_eq(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

static void raw_set_version(uint32_t v)
{
    MDB_txn *txn;
    MDB_env *env = raw_open(&txn);
    MDB_dbi meta;
    uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    MDB_val k = {.mv_size = 14, .mv_data = "schema_version"}, d = {.mv_size = 4, .mv_data = b};

    cr_assert_eq(mdb_dbi_open(txn, "meta", 0, &meta), 0);
    cr_assert_eq(mdb_put(txn, meta, &k, &d, 0), 0);
    raw_close(env, txn);
}

/* Schema version, and whether flow_port exists. */
static uint32_t raw_version(bool *has_port)
{
    MDB_txn *txn;
    MDB_env *env = raw_open(&txn);
    MDB_dbi meta, port;
    MDB_val k = {.mv_size = 14, .mv_data = "schema_version"}, d;
    uint32_t v;

    cr_assert_eq(mdb_dbi_open(txn, "meta", 0, &meta), 0);
    cr_assert_eq(mdb_get(txn, meta, &k, &d), 0);
    cr_assert_eq(d.mv_size, 4);
    const uint8_t *p = d.mv_data;
    v = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
    *has_port = mdb_dbi_open(txn, "flow_port", 0, &port) == 0;
    raw_close(env, txn);
    return v;
}

static void make_store(void)
{
    struct pt_store_config cfg = st_cfg();
    struct pt_store *s = st_open_w(&cfg);

    for (size_t i = 0; i < NREC; i++)
        st_rec(&recs[i], i, (SEC0 + i / 40) * NS + i);
    for (unsigned t = 0; t < NREC / 40; t++) {
        struct pt_store_batch b = {.sec = SEC0 + t, .flows = recs + t * 40, .n_flows = 40};
        cr_assert_eq(pt_store_write(s, &b), 0);
    }
    pt_store_close(s);
}

static int open_err(bool readonly, char *msg, size_t msglen)
{
    struct pt_store_config cfg = st_cfg();
    int err = 0;
    struct pt_store *s = pt_store_open(st_dir, &cfg, readonly, &err, msg, msglen);

    if (s) {
        pt_store_close(s);
        return 0;
    }
    return err;
}

Test(store_schema, upgrade_from_v1)
{
    char msg[256];
    bool has_port;

    make_store();
    /* Make it version 1: no flow_port, schema_version 1. */
    MDB_txn *txn;
    MDB_env *env = raw_open(&txn);
    MDB_dbi port;
    cr_assert_eq(mdb_dbi_open(txn, "flow_port", 0, &port), 0);
    cr_assert_eq(mdb_drop(txn, port, 1), 0);
    raw_close(env, txn);
    raw_set_version(1);
    cr_assert_eq(raw_version(&has_port), 1);
    cr_assert_not(has_port);

    cr_assert_eq(open_err(true, msg, sizeof msg), PT_E_BADFILE, "a reader does not upgrade");
    cr_assert(strstr(msg, "upgrade"), "message: %s", msg);
    cr_assert_eq(raw_version(&has_port), 1);

    cr_assert_eq(open_err(false, msg, sizeof msg), 0, "the writer upgrades: %s", msg);
    cr_assert_eq(raw_version(&has_port), 2);
    cr_assert(has_port);

    struct pt_store *s = st_open_r();
    for (uint16_t port_q = 53; port_q <= 54; port_q++) {
        size_t want = 0;
        for (size_t i = 0; i < NREC; i++)
            want += recs[i].orig_p == port_q || recs[i].resp_p == port_q;
        struct pt_store_flow_query q = {.by_port = true, .port = port_q};
        cr_assert_eq(st_count_flows(s, &q), want, "port %u", port_q);
    }
    struct pt_store_flow_query q = {.by_port = true, .port = 443};
    cr_assert_gt(st_count_flows(s, &q), 100);
    pt_store_close(s);
}

Test(store_schema, newer_schema_is_refused_untouched)
{
    char msg[256];
    bool has_port;

    make_store();
    raw_set_version(99);
    cr_assert_eq(open_err(false, msg, sizeof msg), PT_E_BADFILE);
    cr_assert(strstr(msg, "99"), "message: %s", msg);
    cr_assert_eq(open_err(true, msg, sizeof msg), PT_E_BADFILE);
    cr_assert_eq(raw_version(&has_port), 99, "the writer changed nothing");
    cr_assert(has_port);
}

Test(store_schema, not_a_store)
{
    char path[128], msg[256];

    /* an LMDB environment holding something else */
    snprintf(path, sizeof path, "%s/store", st_dir);
    cr_assert_eq(mkdir(path, 0755), 0);
    MDB_txn *txn;
    MDB_env *env = raw_open(&txn);
    MDB_dbi other;
    cr_assert_eq(mdb_dbi_open(txn, "other", MDB_CREATE, &other), 0);
    raw_close(env, txn);
    cr_assert_eq(open_err(false, msg, sizeof msg), PT_E_BADFILE);
    cr_assert_eq(open_err(true, msg, sizeof msg), PT_E_BADFILE);

    /* a data file that is not LMDB at all */
    st_teardown();
    st_setup();
    snprintf(path, sizeof path, "%s/store", st_dir);
    cr_assert_eq(mkdir(path, 0755), 0);
    snprintf(path, sizeof path, "%s/store/data.mdb", st_dir);
    int fd = open(path, O_WRONLY | O_CREAT, 0644);
    cr_assert_geq(fd, 0);
    static uint8_t junk[16384];
    memset(junk, 0xab, sizeof junk);
    cr_assert_eq(write(fd, junk, sizeof junk), (ssize_t)sizeof junk);
    close(fd);
    cr_assert_eq(open_err(true, msg, sizeof msg), PT_E_BADFILE);
    cr_assert_eq(open_err(false, msg, sizeof msg), PT_E_BADFILE);
}

Test(store_schema, reader_without_store)
{
    char msg[256];

    cr_assert_eq(open_err(true, msg, sizeof msg), -ENOENT);
    cr_assert(strstr(msg, "store"), "message: %s", msg);
}

Test(store_schema, one_writer)
{
    struct pt_store_config cfg = st_cfg();
    char msg[256];
    int err = 0;
    struct pt_store *w = st_open_w(&cfg);

    cr_assert_null(pt_store_open(st_dir, &cfg, false, &err, msg, sizeof msg));
    cr_assert_eq(err, -EBUSY, "a second writer in this process");
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        int e = 0;
        struct pt_store *s = pt_store_open(st_dir, &cfg, false, &e, NULL, 0);
        _exit(s == NULL && e == -EBUSY ? 0 : 1);
    }
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "a writer in another process");
    struct pt_store *r = st_open_r();
    pt_store_close(r);
    pt_store_close(w);
    w = st_open_w(&cfg);
    pt_store_close(w);

    /* a read-only handle first, then a writer, in one process */
    r = st_open_r();
    cr_assert_null(pt_store_open(st_dir, &cfg, false, &err, msg, sizeof msg));
    cr_assert_eq(err, -EBUSY);
    cr_assert(strstr(msg, "read-only"), "message: %s", msg);
    pt_store_close(r);
    w = st_open_w(&cfg);
    uint32_t id;
    cr_assert_eq(pt_store_series_id(w, "x", &id), 0);
    pt_store_close(w);
}
