/* test_live.c - live flows (db "live"): every field round trips, a uid's
 * later record replaces it, a finished flow deletes it, queries by host,
 * port, uid and start time match a brute force filter, a writer's open
 * empties it (after a clean close and after kill -9), and a store made
 * before the db existed reads as no live flows until a writer makes it. */
#include <errno.h>
#include <signal.h>
#include <sys/wait.h>

#include "store_helpers.h"

TestSuite(store_live, .init = st_setup, .fini = st_teardown);

#define SEC0  1700000000ull
#define NLIVE 3000

static struct pt_flow_record recs[NLIVE];

static const char *const ifn3[] = {"eth0", "eth1", "eth2"};

/* The start of flow @i: fixed for the flow's life, as a real flow's first
 * packet is (its uid is made from it). "live" keys are (start, uid). */
static uint64_t live_start(uint64_t i)
{
    return (SEC0 - 1000) * NS + i * 1000 + 7;
}

/* st_rec() as a live record: open since live_start(@i), refreshed at @now_ns. */
static void live_rec(struct pt_flow_record *r, uint64_t i, uint64_t now_ns)
{
    st_rec(r, i, now_ns);
    r->ts_ns = live_start(i);
    r->end_reason = PT_FLOW_END_LIVE;
}

/* st_rec() as the finished record of live flow @i, ending at @end_ns. */
static void fin_rec(struct pt_flow_record *r, uint64_t i, uint64_t end_ns)
{
    st_rec(r, i, end_ns);
    r->ts_ns = live_start(i);
}

/* The store's order: start time, then uid. */
static int by_key(const void *a, const void *b)
{
    const struct pt_flow_record *x = a, *y = b;
    if (x->ts_ns != y->ts_ns)
        return x->ts_ns < y->ts_ns ? -1 : 1;
    return strcmp(x->uid, y->uid);
}

/* Live flows are selected by start time. */
static bool match(const struct pt_flow_record *r, const struct pt_store_flow_query *q)
{
    return st_match(r, q, r->ts_ns);
}

/* Interface names of the run that wrote the records a test compares with
 * (NULL: none given, "if<i>"): check_query() turns their ifaces into the
 * store's bits. */
static const char *const *run_ifn = ifn3;

static void to_store_bits(struct pt_store *s, struct pt_flow_record *r, size_t n)
{
    char names[32][64], nb[64];
    unsigned nn;

    cr_assert_eq(pt_store_ifnames(s, names, &nn), 0);
    for (size_t i = 0; i < n; i++) {
        uint32_t o = 0;
        for (unsigned b = 0; b < 32; b++) {
            if (!(r[i].ifaces & (1u << b)))
                continue;
            if (run_ifn)
                snprintf(nb, sizeof nb, "%s", run_ifn[b]);
            else
                snprintf(nb, sizeof nb, "if%u", b);
            unsigned k = 0;
            while (k < nn && strcmp(names[k], nb))
                k++;
            cr_assert_lt(k, nn, "interface %s not in the store's table", nb);
            o |= 1u << k;
        }
        r[i].ifaces = o;
    }
}

static size_t count_live(struct pt_store *s, const struct pt_store_flow_query *q)
{
    struct st_recs c = {0};
    cr_assert_eq(pt_store_live_read(s, q, st_recs_add, &c), 0);
    free(c.r);
    return c.n;
}

static size_t count_all(struct pt_store *s)
{
    struct pt_store_flow_query q = {0};
    return count_live(s, &q);
}

/* The query's result equals the brute force filter of the @n records in
 * @want_all, in (start, uid) order. */
static size_t check_query(struct pt_store *s, const struct pt_store_flow_query *q,
                          const struct pt_flow_record *want_all, size_t n_all)
{
    static struct pt_flow_record want[NLIVE];
    struct st_recs got = {0};
    size_t n = 0;

    for (size_t i = 0; i < n_all; i++)
        if (match(&want_all[i], q))
            want[n++] = want_all[i];
    qsort(want, n, sizeof *want, by_key);
    to_store_bits(s, want, n);
    cr_assert_eq(pt_store_live_read(s, q, st_recs_add, &got), 0);
    cr_assert_eq(got.n, n, "query returned %zu records, expected %zu", got.n, n);
    for (size_t i = 0; i < n; i++)
        st_rec_eq(&got.r[i], &want[i]);
    free(got.r);
    return n;
}

/* NLIVE live records refreshed at SEC0 + 1000, started at live_start(i);
 * written in two batches. */
static void write_live(struct pt_store *s)
{
    for (size_t i = 0; i < NLIVE; i++)
        live_rec(&recs[i], i, (SEC0 + 1000) * NS + i);
    for (size_t h = 0; h < 2; h++) {
        struct pt_store_batch b = {.sec = SEC0 + 1000 + h,
                                   .live = recs + h * (NLIVE / 2),
                                   .n_live = NLIVE / 2,
                                   .ifnames = ifn3,
                                   .n_ifnames = 3};
        cr_assert_eq(pt_store_write(s, &b), 0);
    }
}

Test(store_live, roundtrip_every_field)
{
    struct pt_store_config cfg = st_cfg();
    struct pt_store *s = st_open_w(&cfg);
    struct pt_store_flow_query q = {0};
    struct pt_store_stats st;

    write_live(s);
    cr_assert_eq(check_query(s, &q, recs, NLIVE), NLIVE);
    pt_store_stats(s, &st);
    cr_assert_eq(st.live, NLIVE);
    cr_assert_eq(st.flows, 0);
    q.to_ns = 0;
    cr_assert_eq(st_count_flows(s, &q), 0, "live records are not in the flows db");
    pt_store_close(s);
    s = st_open_r();
    cr_assert_eq(check_query(s, &q, recs, NLIVE), NLIVE, "a reader after close reads the same");
    pt_store_close(s);
}

Test(store_live, edge_values_roundtrip)
{
    struct pt_store_config cfg = st_cfg();
    struct pt_store *s = st_open_w(&cfg);
    struct pt_flow_record r[3];

    live_rec(&r[0], 1, SEC0 * NS);
    memset(r[0].uid, 'U', sizeof r[0].uid - 1); /* longest strings */
    memset(r[0].community_id, 'c', sizeof r[0].community_id - 1);
    memset(r[0].history, 'h', sizeof r[0].history - 1);
    r[0].orig_bytes = r[0].resp_pkts = r[0].missed_bytes = UINT64_MAX;
    r[0].ts_ns = r[0].last_ns + 5;
    live_rec(&r[1], 2, SEC0 * NS + 1);
    r[1].ts_ns = 0;
    memset(r[1].orig_h, 0, 16); /* "::" with a v4-mapped address */
    memset(r[1].orig_mac, 0, 6);
    memset(r[1].resp_mac, 0, 6);
    live_rec(&r[2], 4, SEC0 * NS + 2);
    r[2].ifaces = 0;
    struct pt_store_batch b = {
        .sec = SEC0, .live = r, .n_live = 3, .ifnames = ifn3, .n_ifnames = 3};
    cr_assert_eq(pt_store_write(s, &b), 0);
    struct pt_store_flow_query q = {0};
    cr_assert_eq(check_query(s, &q, r, 3), 3);
    pt_store_close(s);
}

Test(store_live, ifaces_remapped_to_store_table)
{
    struct pt_store_config cfg = st_cfg();
    struct pt_store *s = st_open_w(&cfg);
    static const char *const run1[] = {"a", "b"}, *const run2[] = {"b", "c", "a"};
    struct pt_flow_record f, l;
    char names[32][64];
    unsigned n;

    fin_rec(&f, 1, SEC0 * NS);
    f.ifaces = 3; /* a and b: store bits 0 and 1 */
    struct pt_store_batch b1 = {
        .sec = SEC0, .flows = &f, .n_flows = 1, .ifnames = run1, .n_ifnames = 2};
    cr_assert_eq(pt_store_write(s, &b1), 0);
    live_rec(&l, 2, (SEC0 + 1) * NS);
    l.ifaces = 1u << 0 | 1u << 1; /* b and c in run 2: store bits 1 and 2 (c is new) */
    struct pt_store_batch b2 = {
        .sec = SEC0 + 1, .live = &l, .n_live = 1, .ifnames = run2, .n_ifnames = 3};
    cr_assert_eq(pt_store_write(s, &b2), 0);
    struct st_recs got = {0};
    struct pt_store_flow_query q = {0};
    cr_assert_eq(pt_store_live_read(s, &q, st_recs_add, &got), 0);
    cr_assert_eq(got.n, 1);
    cr_assert_eq(got.r[0].ifaces, 1u << 1 | 1u << 2, "ifaces %#x", got.r[0].ifaces);
    free(got.r);
    cr_assert_eq(pt_store_ifnames(s, names, &n), 0);
    cr_assert_eq(n, 3);
    cr_assert_str_eq(names[0], "a");
    cr_assert_str_eq(names[1], "b");
    cr_assert_str_eq(names[2], "c", "a name only live records use is in the table");
    pt_store_close(s);
}

Test(store_live, later_record_replaces_uid)
{
    struct pt_store_config cfg = st_cfg();
    struct pt_store *s = st_open_w(&cfg);
    struct pt_flow_record r[4];
    struct pt_store_stats st;

    run_ifn = NULL;
    live_rec(&r[0], 7, SEC0 * NS);
    live_rec(&r[1], 8, SEC0 * NS);
    struct pt_store_batch b = {.sec = SEC0, .live = r, .n_live = 2};
    cr_assert_eq(pt_store_write(s, &b), 0);

    /* A refresh of uid 7 with other counts and even another tuple, and
     * uid 8 twice in one batch: the later wins. */
    r[2] = r[0];
    r[2].orig_bytes += 1000;
    r[2].last_ns += NS;
    r[2].resp_p = 9999;
    st_v4(r[2].resp_h, 0x01020304);
    r[3] = r[1];
    r[3].orig_pkts = 1;
    struct pt_flow_record batch2[3] = {r[1], r[2], r[3]};
    batch2[0].orig_pkts = 77;
    b = (struct pt_store_batch){.sec = SEC0 + 1, .live = batch2, .n_live = 3};
    cr_assert_eq(pt_store_write(s, &b), 0);

    struct pt_flow_record want[2] = {r[2], r[3]};
    struct pt_store_flow_query q = {0};
    cr_assert_eq(check_query(s, &q, want, 2), 2);
    pt_store_stats(s, &st);
    cr_assert_eq(st.live, 4, "2 + 2 written (the earlier duplicate is not)");
    pt_store_close(s);
}

Test(store_live, finished_flow_deletes_uid)
{
    struct pt_store_config cfg = st_cfg();
    struct pt_store *s = st_open_w(&cfg);
    struct pt_flow_record l[4], f[3];

    run_ifn = NULL;
    for (size_t i = 0; i < 3; i++)
        live_rec(&l[i], 100 + i, SEC0 * NS);
    struct pt_store_batch b = {.sec = SEC0, .live = l, .n_live = 3};
    cr_assert_eq(pt_store_write(s, &b), 0);
    cr_assert_eq(count_all(s), 3);

    /* uid 100 ends; uid 101 ends and is refreshed in the same batch (it
     * ended: not written); uid 103 is new; uid 999 ended without ever
     * being live. */
    f[0] = l[0];
    f[1] = l[1];
    f[0].end_reason = PT_FLOW_END_CLOSED;
    f[1].end_reason = PT_FLOW_END_IDLE;
    f[0].last_ns = f[1].last_ns = (SEC0 + 1) * NS;
    fin_rec(&f[2], 999, (SEC0 + 1) * NS);
    struct pt_flow_record live2[2] = {l[1], {0}};
    live_rec(&live2[1], 103, (SEC0 + 1) * NS);
    l[3] = live2[1];
    b = (struct pt_store_batch){
        .sec = SEC0 + 1, .flows = f, .n_flows = 3, .live = live2, .n_live = 2};
    cr_assert_eq(pt_store_write(s, &b), 0);

    struct pt_flow_record want[2] = {l[2], l[3]};
    struct pt_store_flow_query q = {0};
    cr_assert_eq(check_query(s, &q, want, 2), 2);
    cr_assert_eq(st_count_flows(s, &q), 3, "the finished records are in the flows db");

    /* the rest end in a batch with no live records */
    f[0] = l[2];
    f[1] = l[3];
    f[0].last_ns = f[1].last_ns = (SEC0 + 2) * NS;
    b = (struct pt_store_batch){.sec = SEC0 + 2, .flows = f, .n_flows = 2};
    cr_assert_eq(pt_store_write(s, &b), 0);
    cr_assert_eq(count_all(s), 0);
    pt_store_close(s);
    cr_assert_eq(st_raw_entries("live"), 0);
}

Test(store_live, queries)
{
    struct pt_store_config cfg = st_cfg();
    struct pt_store *s = st_open_w(&cfg);
    struct pt_store_flow_query q;
    size_t total = 0;

    write_live(s);
    for (uint32_t h = 0; h < 50; h += 7) {
        q = (struct pt_store_flow_query){.by_host = true};
        st_v4(q.host, 0x0a000000u + h); /* an originator (even i) */
        total += check_query(s, &q, recs, NLIVE);
        st_v6(q.host, h); /* an IPv6 originator (odd i) */
        total += check_query(s, &q, recs, NLIVE);
    }
    q = (struct pt_store_flow_query){.by_host = true};
    st_v4(q.host, 0xc0a80003u); /* a responder */
    cr_assert_gt(check_query(s, &q, recs, NLIVE), 100);
    st_v4(q.host, 0x08080808u);
    cr_assert_eq(check_query(s, &q, recs, NLIVE), 0);

    q = (struct pt_store_flow_query){.by_port = true, .port = 53};
    cr_assert_gt(check_query(s, &q, recs, NLIVE), 500);
    q.port = recs[42].orig_p; /* an originator's port */
    cr_assert_geq(check_query(s, &q, recs, NLIVE), 1);

    q = (struct pt_store_flow_query){.by_host = true, .by_port = true, .port = 443};
    st_v4(q.host, 0x0a000000u + 12);
    total += check_query(s, &q, recs, NLIVE);

    q = (struct pt_store_flow_query){.uid = recs[1234].uid};
    cr_assert_eq(check_query(s, &q, recs, NLIVE), 1);
    q.uid = "Cnosuch";
    cr_assert_eq(check_query(s, &q, recs, NLIVE), 0);
    q = (struct pt_store_flow_query){.uid = recs[1234].uid, .by_port = true, .port = 1};
    cr_assert_eq(check_query(s, &q, recs, NLIVE), 0, "uid and a port it does not have");

    /* start time: [from, to), to 0 = no bound */
    uint64_t mid = live_start(NLIVE / 2);
    q = (struct pt_store_flow_query){.from_ns = mid};
    size_t late = check_query(s, &q, recs, NLIVE);
    q = (struct pt_store_flow_query){.to_ns = mid};
    size_t early = check_query(s, &q, recs, NLIVE);
    cr_assert(late > 0 && early > 0);
    cr_assert_eq(late + early, NLIVE);
    q = (struct pt_store_flow_query){.from_ns = recs[5].ts_ns, .to_ns = recs[5].ts_ns + 1};
    cr_assert_geq(check_query(s, &q, recs, NLIVE), 1);
    q = (struct pt_store_flow_query){.from_ns = mid, .to_ns = mid};
    cr_assert_eq(check_query(s, &q, recs, NLIVE), 0, "an empty range");
    q = (struct pt_store_flow_query){.by_port = true, .port = 80, .from_ns = mid};
    total += check_query(s, &q, recs, NLIVE);
    cr_assert_gt(total, 100);
    pt_store_close(s);
}

static int stop_at_3(const struct pt_flow_record *r, void *arg)
{
    size_t *n = arg;
    (void)r;
    return ++*n == 3 ? 42 : 0;
}

Test(store_live, callback_stops_walk)
{
    struct pt_store_config cfg = st_cfg();
    struct pt_store *s = st_open_w(&cfg);
    struct pt_store_flow_query q = {0};
    size_t n = 0;

    write_live(s);
    cr_assert_eq(pt_store_live_read(s, &q, stop_at_3, &n), 42);
    cr_assert_eq(n, 3);
    pt_store_close(s);
}

Test(store_live, writer_open_clears)
{
    struct pt_store_config cfg = st_cfg();
    struct pt_store *s = st_open_w(&cfg);
    struct pt_flow_record f;

    write_live(s);
    fin_rec(&f, NLIVE + 5, (SEC0 + 1002) * NS); /* a uid that was never live */
    struct pt_store_batch b = {.sec = SEC0 + 1002, .flows = &f, .n_flows = 1};
    cr_assert_eq(pt_store_write(s, &b), 0);
    pt_store_close(s);

    s = st_open_r();
    cr_assert_eq(count_all(s), NLIVE, "after the writer closed, its last view stays readable");
    pt_store_close(s);

    s = st_open_w(&cfg);
    cr_assert_eq(count_all(s), 0, "a new writer starts with no live flows");
    struct pt_store_flow_query q = {0};
    cr_assert_eq(st_count_flows(s, &q), 1, "the flows db is not touched");
    struct pt_flow_record l;
    live_rec(&l, 6, (SEC0 + 2000) * NS);
    b = (struct pt_store_batch){
        .sec = SEC0 + 2000, .live = &l, .n_live = 1, .ifnames = ifn3, .n_ifnames = 3};
    cr_assert_eq(pt_store_write(s, &b), 0);
    cr_assert_eq(check_query(s, &q, &l, 1), 1);
    pt_store_close(s);
    cr_assert_eq(st_raw_entries("live"), 1);
}

/* A writer that refreshes 100 live flows a second (a fifth of them new, a
 * fifth ending) until killed; reports each committed second on @out. */
static _Noreturn void live_child(int out)
{
    struct pt_store_config cfg = st_cfg();
    int err = 0;
    struct pt_store *s = pt_store_open(st_dir, &cfg, false, &err, NULL, 0);

    if (!s)
        _exit(1);
    for (uint64_t t = 0;; t++) {
        static struct pt_flow_record l[100], f[20];
        for (size_t i = 0; i < 100; i++)
            live_rec(&l[i], t * 20 + i, (SEC0 + t) * NS + i);
        for (size_t i = 0; i < 20 && t; i++)
            fin_rec(&f[i], (t - 1) * 20 + i, (SEC0 + t) * NS + i);
        struct pt_store_batch b = {
            .sec = SEC0 + t, .live = l, .n_live = 100, .flows = f, .n_flows = t ? 20 : 0};
        if (pt_store_write(s, &b) != 0)
            _exit(2);
        if (write(out, &t, sizeof t) != sizeof t)
            _exit(3);
    }
}

Test(store_live, killed_writer_leaves_nothing_live, .timeout = 60)
{
    int p[2], status;
    uint64_t t, last = 0;

    cr_assert_eq(pipe(p), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        close(p[0]);
        live_child(p[1]);
    }
    close(p[1]);
    while (read(p[0], &t, sizeof t) == sizeof t) {
        last = t;
        if (t >= 200)
            break;
    }
    kill(pid, SIGKILL);
    while (read(p[0], &t, sizeof t) == sizeof t)
        last = t;
    close(p[0]);
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFSIGNALED(status), "the writer was killed");
    cr_assert_geq(last, 200);

    /* Each second ended the 20 oldest of the previous one's 100: after
     * second t, uids t*20 .. t*20 + 99 are live. */
    struct pt_store *s = st_open_r();
    size_t n = count_all(s);
    cr_assert_eq(n, 100, "the killed writer's live flows: %zu", n);
    pt_store_close(s);

    struct pt_store_config cfg = st_cfg();
    s = st_open_w(&cfg);
    cr_assert_eq(count_all(s), 0, "the next writer clears them");
    struct pt_store_flow_query q = {0};
    cr_assert_geq(st_count_flows(s, &q), last * 20, "its finished flows stay");
    pt_store_close(s);
    s = st_open_r();
    cr_assert_eq(count_all(s), 0);
    pt_store_close(s);
}

/* Delete db "live" from the store in st_dir with raw LMDB, as a store made
 * before it looks; whether it was there. */
static bool raw_drop_live(void)
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
    had = mdb_dbi_open(txn, "live", 0, &dbi) == 0;
    if (had)
        cr_assert_eq(mdb_drop(txn, dbi, 1), 0);
    cr_assert_eq(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
    return had;
}

Test(store_live, store_without_live_db, .timeout = 60)
{
    struct pt_store_config cfg = st_cfg();
    struct pt_store *s = st_open_w(&cfg);
    struct pt_store_flow_query q = {0};
    struct pt_flow_record f;
    int status;

    write_live(s);
    fin_rec(&f, NLIVE + 1, (SEC0 + 1002) * NS);
    struct pt_store_batch b = {.sec = SEC0 + 1002, .flows = &f, .n_flows = 1};
    cr_assert_eq(pt_store_write(s, &b), 0);
    pt_store_close(s);
    cr_assert(raw_drop_live());
    cr_assert_not(raw_drop_live(), "gone");

    /* A reader opens it and reads no live flow, without an error. */
    struct pt_store *r = st_open_r();
    cr_assert_eq(count_all(r), 0);
    q.uid = f.uid;
    cr_assert_eq(count_live(r, &q), 0);
    q.uid = NULL;
    cr_assert_eq(st_count_flows(r, &q), 1, "the rest of the store reads as before");

    /* A writer in another process creates the db and writes to it; the
     * reader opened before sees its records. */
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        int err = 0;
        struct pt_store *w = pt_store_open(st_dir, &cfg, false, &err, NULL, 0);
        if (!w)
            _exit(1);
        struct pt_store_batch lb = {
            .sec = SEC0 + 2000, .live = recs, .n_live = 10, .ifnames = ifn3, .n_ifnames = 3};
        int rc = pt_store_write(w, &lb);
        pt_store_close(w);
        _exit(rc == 0 ? 0 : 2);
    }
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child writer: %d", status);
    cr_assert_eq(check_query(r, &q, recs, 10), 10);
    pt_store_close(r);
    cr_assert_eq(st_raw_entries("live"), 10);

    /* A writer in this process creates it too, empty. */
    cr_assert(raw_drop_live());
    s = st_open_w(&cfg);
    cr_assert_eq(count_all(s), 0);
    pt_store_close(s);
    cr_assert_eq(st_raw_entries("live"), 0, "the writer made it");
}

Test(store_live, big_batch_grows_map)
{
    struct pt_store_config cfg = st_cfg();
    static struct pt_flow_record l[20000];
    struct pt_store_stats st;

    cfg.map_size = 64 * 1024;
    struct pt_store *s = st_open_w(&cfg);
    for (size_t i = 0; i < PT_ARRAY_LEN(l); i++)
        live_rec(&l[i], i, SEC0 * NS + i);
    struct pt_store_batch b = {.sec = SEC0, .live = l, .n_live = PT_ARRAY_LEN(l)};
    cr_assert_eq(pt_store_write(s, &b), 0);
    pt_store_stats(s, &st);
    cr_assert_gt(st.map_grows, 0);
    cr_assert_eq(st.live, PT_ARRAY_LEN(l));
    cr_assert_eq(st.lost_batches, 0);
    cr_assert_eq(count_all(s), PT_ARRAY_LEN(l));
    pt_store_close(s);
}

Test(store_live, missing_array_is_bad_batch)
{
    struct pt_store_config cfg = st_cfg();
    struct pt_store *s = st_open_w(&cfg);
    struct pt_store_stats st;

    struct pt_store_batch b = {.sec = SEC0, .live = NULL, .n_live = 1};
    cr_assert_eq(pt_store_write(s, &b), PT_E_BADARG);
    pt_store_stats(s, &st);
    cr_assert_eq(st.lost_batches, 1);
    cr_assert_eq(count_all(s), 0);
    pt_store_close(s);
}
