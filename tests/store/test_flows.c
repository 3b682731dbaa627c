/* test_flows.c - flow records: every field round trips, queries by host
 * (either endpoint, IPv4 and IPv6), port, uid and time range match a brute
 * force filter, interface bits are remapped to the store's table, and a
 * rewrite replaces a record and its index keys. */
#include <errno.h>
#include <fcntl.h>

#include "store_helpers.h"

TestSuite(store_flows, .init = st_setup, .fini = st_teardown);

#define SEC0 1700000000ull
#define NREC 3000

static struct pt_flow_record recs[NREC];

static const char *const ifn3[] = {"eth0", "eth1", "eth2"};

/* NREC records ending over 100 seconds, written one batch per second. */
static void write_recs(struct pt_store *s)
{
    for (size_t i = 0; i < NREC; i++)
        st_rec(&recs[i], i, (SEC0 + i % 100) * NS + (i * 7919) % NS);
    for (uint64_t t = 0; t < 100; t++) {
        static struct pt_flow_record batch[NREC];
        size_t n = 0;
        for (size_t i = 0; i < NREC; i++)
            if (recs[i].last_ns / NS == SEC0 + t)
                batch[n++] = recs[i];
        struct pt_store_batch b = {
            .sec = SEC0 + t, .flows = batch, .n_flows = n, .ifnames = ifn3, .n_ifnames = 3};
        cr_assert_eq(pt_store_write(s, &b), 0);
    }
}

static int by_end_uid(const void *a, const void *b)
{
    const struct pt_flow_record *x = a, *y = b;
    if (x->last_ns != y->last_ns)
        return x->last_ns < y->last_ns ? -1 : 1;
    return strcmp(x->uid, y->uid);
}

/* The store's flows are selected by end time. */
static bool match(const struct pt_flow_record *r, const struct pt_store_flow_query *q)
{
    return st_match(r, q, r->last_ns);
}

/* The query's result equals the brute force filter of recs, in order. */
static size_t check_query(struct pt_store *s, const struct pt_store_flow_query *q)
{
    static struct pt_flow_record want[NREC];
    struct st_recs got = {0};
    size_t n = 0;

    for (size_t i = 0; i < NREC; i++)
        if (match(&recs[i], q))
            want[n++] = recs[i];
    qsort(want, n, sizeof *want, by_end_uid);
    cr_assert_eq(pt_store_flows_read(s, q, st_recs_add, &got), 0);
    cr_assert_eq(got.n, n, "query returned %zu records, expected %zu", got.n, n);
    for (size_t i = 0; i < n; i++)
        st_rec_eq(&got.r[i], &want[i]);
    free(got.r);
    return n;
}

Test(store_flows, roundtrip_every_field)
{
    struct pt_store_config cfg = st_cfg();
    struct pt_store *s = st_open_w(&cfg);

    write_recs(s);
    struct pt_store_flow_query q = {0};
    cr_assert_eq(check_query(s, &q), NREC);
    struct pt_store_stats st;
    pt_store_stats(s, &st);
    cr_assert_eq(st.flows, NREC);
    pt_store_close(s);
    s = st_open_r();
    cr_assert_eq(check_query(s, &q), NREC, "a reader after close reads the same");
    pt_store_close(s);
}

Test(store_flows, edge_values_roundtrip)
{
    struct pt_store_config cfg = st_cfg();
    struct pt_store *s = st_open_w(&cfg);
    struct pt_flow_record r[3];

    st_rec(&r[0], 1, SEC0 * NS);
    memset(r[0].uid, 'U', sizeof r[0].uid - 1); /* longest strings */
    memset(r[0].community_id, 'c', sizeof r[0].community_id - 1);
    memset(r[0].parent_uid, 'P', sizeof r[0].parent_uid - 1);
    memset(r[0].conn_state, 'S', sizeof r[0].conn_state - 1);
    memset(r[0].history, 'h', sizeof r[0].history - 1);
    r[0].orig_bytes = r[0].resp_pkts = r[0].missed_bytes = UINT64_MAX;
    r[0].ts_ns = r[0].last_ns + 5; /* a record ending before it starts still round trips */
    st_rec(&r[1], 2, SEC0 * NS + 1);
    r[1].ts_ns = 0;
    memset(r[1].orig_h, 0, 16); /* "::" mixed with a v4-mapped address: 16-byte form */
    memset(r[1].uid, 0, sizeof r[1].uid);
    strcpy(r[1].uid, "Cx");
    memset(r[1].orig_mac, 0, 6);
    memset(r[1].resp_mac, 0, 6);
    r[1].resp_mac[5] = 1;
    st_rec(&r[2], 4, SEC0 * NS + 2);
    memset(r[2].community_id, 0, sizeof r[2].community_id);
    r[2].ifaces = 0;
    struct pt_store_batch b = {.sec = SEC0, .flows = r, .n_flows = 3};
    cr_assert_eq(pt_store_write(s, &b), 0);
    struct st_recs got = {0};
    struct pt_store_flow_query q = {0};
    cr_assert_eq(pt_store_flows_read(s, &q, st_recs_add, &got), 0);
    cr_assert_eq(got.n, 3);
    r[0].ifaces = 1u << 0; /* run bit 1 had no name: "if1", the store's first bit */
    r[1].ifaces = 1u << 1; /* "if2" */
    for (int i = 0; i < 3; i++)
        st_rec_eq(&got.r[i], &r[i]);
    free(got.r);
    char names[32][64];
    unsigned n;
    cr_assert_eq(pt_store_ifnames(s, names, &n), 0);
    cr_assert_eq(n, 2);
    cr_assert_str_eq(names[0], "if1");
    cr_assert_str_eq(names[1], "if2");
    pt_store_close(s);
}

Test(store_flows, queries)
{
    struct pt_store_config cfg = st_cfg();
    struct pt_store *s = st_open_w(&cfg);
    struct pt_store_flow_query q;

    write_recs(s);
    /* IPv4, originator side and responder side */
    q = (struct pt_store_flow_query){.by_host = true};
    st_v4(q.host, 0x0a000000u + 12);
    cr_assert_gt(check_query(s, &q), 10);
    st_v4(q.host, 0xc0a80000u + 4);
    cr_assert_gt(check_query(s, &q), 100);
    /* IPv6, both sides, and with a time range */
    st_v6(q.host, 7);
    cr_assert_gt(check_query(s, &q), 10);
    st_v6(q.host, 1003);
    cr_assert_gt(check_query(s, &q), 100);
    q.from_ns = (SEC0 + 20) * NS;
    q.to_ns = (SEC0 + 30) * NS + 5;
    size_t n = check_query(s, &q);
    cr_assert_gt(n, 10);
    cr_assert_lt(n, 200);
    /* an address no record has */
    st_v4(q.host, 0x01020304);
    cr_assert_eq(check_query(s, &q), 0);
    /* port: either side; host and port together */
    q = (struct pt_store_flow_query){.by_port = true, .port = 53};
    cr_assert_gt(check_query(s, &q), 500);
    q.port = 1024 + 77;
    cr_assert_eq(check_query(s, &q), 1);
    q = (struct pt_store_flow_query){.by_port = true, .port = 443, .by_host = true};
    st_v4(q.host, 0xc0a80000u + 3);
    cr_assert_gt(check_query(s, &q), 10);
    /* uid, alone and with a time range that excludes it */
    q = (struct pt_store_flow_query){.uid = recs[1234].uid};
    cr_assert_eq(check_query(s, &q), 1);
    q.to_ns = recs[1234].last_ns;
    cr_assert_eq(check_query(s, &q), 0);
    q.uid = "Cnosuchuid";
    q.to_ns = 0;
    cr_assert_eq(check_query(s, &q), 0);
    /* time range alone, [from, to) */
    q = (struct pt_store_flow_query){.from_ns = recs[10].last_ns, .to_ns = recs[20].last_ns};
    n = check_query(s, &q);
    cr_assert_gt(n, 100);
    cr_assert_lt(n, 1000);
    pt_store_close(s);
}

static int stop_after_3(const struct pt_flow_record *r, void *arg)
{
    (void)r;
    return ++*(int *)arg == 3 ? -7 : 0;
}

Test(store_flows, callback_stops_walk)
{
    struct pt_store_config cfg = st_cfg();
    struct pt_store *s = st_open_w(&cfg);
    struct pt_store_flow_query q = {.by_port = true, .port = 80};
    int calls = 0;

    write_recs(s);
    cr_assert_eq(pt_store_flows_read(s, &q, stop_after_3, &calls), -7);
    cr_assert_eq(calls, 3);
    pt_store_close(s);
}

Test(store_flows, ifaces_remapped_to_store_table)
{
    struct pt_store_config cfg = st_cfg();
    struct pt_store *s = st_open_w(&cfg);
    struct pt_flow_record r[2];
    static const char *const run1[] = {"eth0", "eth1"};
    static const char *const run2[] = {"wlan0", "eth1", "eth0"};

    st_rec(&r[0], 0, SEC0 * NS);
    r[0].ifaces = 3; /* eth0, eth1 */
    struct pt_store_batch b = {
        .sec = SEC0, .flows = r, .n_flows = 1, .ifnames = run1, .n_ifnames = 2};
    cr_assert_eq(pt_store_write(s, &b), 0);
    pt_store_close(s);

    /* A later run names its interfaces in another order. */
    s = st_open_w(&cfg);
    st_rec(&r[1], 2, (SEC0 + 1) * NS);
    r[1].ifaces = 1u << 0 | 1u << 2; /* wlan0, eth0 */
    b = (struct pt_store_batch){
        .sec = SEC0 + 1, .flows = &r[1], .n_flows = 1, .ifnames = run2, .n_ifnames = 3};
    cr_assert_eq(pt_store_write(s, &b), 0);
    struct st_recs got = {0};
    struct pt_store_flow_query q = {0};
    cr_assert_eq(pt_store_flows_read(s, &q, st_recs_add, &got), 0);
    cr_assert_eq(got.n, 2);
    cr_assert_eq(got.r[0].ifaces, 3u);
    cr_assert_eq(got.r[1].ifaces, 1u << 0 | 1u << 2, "eth0 keeps bit 0, wlan0 gets bit 2");
    free(got.r);
    char names[32][64];
    unsigned n;
    cr_assert_eq(pt_store_ifnames(s, names, &n), 0);
    cr_assert_eq(n, 3);
    cr_assert_str_eq(names[0], "eth0");
    cr_assert_str_eq(names[1], "eth1");
    cr_assert_str_eq(names[2], "wlan0");
    pt_store_close(s);
}

Test(store_flows, more_than_32_interfaces_share_bit_31)
{
    struct pt_store_config cfg = st_cfg();
    struct pt_store *s = st_open_w(&cfg);
    static char nb[40][16];
    const char *names[20];
    struct pt_flow_record r;

    for (unsigned i = 0; i < 40; i++)
        snprintf(nb[i], sizeof nb[i], "if-%u", i);
    /* Two runs of 20 interfaces each, every record on all 20. */
    for (unsigned run = 0; run < 2; run++) {
        for (unsigned i = 0; i < 20; i++)
            names[i] = nb[run * 20 + i];
        st_rec(&r, run, (SEC0 + run) * NS);
        r.ifaces = 0xfffff;
        struct pt_store_batch b = {
            .sec = SEC0 + run, .flows = &r, .n_flows = 1, .ifnames = names, .n_ifnames = 20};
        cr_assert_eq(pt_store_write(s, &b), 0);
    }
    struct st_recs got = {0};
    struct pt_store_flow_query q = {0};
    cr_assert_eq(pt_store_flows_read(s, &q, st_recs_add, &got), 0);
    cr_assert_eq(got.n, 2);
    cr_assert_eq(got.r[0].ifaces, 0xfffffu);
    cr_assert_eq(got.r[1].ifaces, 0xfff00000u, "if-20..if-31 get bits 20..31, if-32.. bit 31");
    free(got.r);
    char nm[32][64];
    unsigned n;
    cr_assert_eq(pt_store_ifnames(s, nm, &n), 0);
    cr_assert_eq(n, 32);
    cr_assert_str_eq(nm[0], "if-0");
    cr_assert_str_eq(nm[31], "if-31");
    pt_store_close(s);
}

Test(store_flows, rewrite_replaces_record_and_index)
{
    struct pt_store_config cfg = st_cfg();
    struct pt_store *s = st_open_w(&cfg);
    struct pt_flow_record r, r2;
    struct pt_store_flow_query q = {0};

    st_rec(&r, 10, SEC0 * NS + 5);
    struct pt_store_batch b = {.sec = SEC0, .flows = &r, .n_flows = 1};
    cr_assert_eq(pt_store_write(s, &b), 0);
    /* The same (end, uid) again with other counters and another responder. */
    r2 = r;
    r2.orig_bytes = 99;
    st_v4(r2.resp_h, 0x08080808);
    r2.resp_p = 8080;
    b.flows = &r2;
    cr_assert_eq(pt_store_write(s, &b), 0);
    struct st_recs got = {0};
    cr_assert_eq(pt_store_flows_read(s, &q, st_recs_add, &got), 0);
    cr_assert_eq(got.n, 1);
    r2.ifaces = 1; /* run bit 1, unnamed: "if1", the store's bit 0 */
    st_rec_eq(&got.r[0], &r2);
    free(got.r);
    q = (struct pt_store_flow_query){.by_host = true};
    memcpy(q.host, r.resp_h, 16);
    cr_assert_eq(st_count_flows(s, &q), 0, "the old responder's index key is gone");
    memcpy(q.host, r2.resp_h, 16);
    cr_assert_eq(st_count_flows(s, &q), 1);
    q = (struct pt_store_flow_query){.by_port = true, .port = r.resp_p};
    cr_assert_eq(st_count_flows(s, &q), 0);
    q.port = 8080;
    cr_assert_eq(st_count_flows(s, &q), 1);
    /* The same record in one batch twice: one record, the later one. */
    struct pt_flow_record two[2] = {r, r2};
    two[1].orig_pkts = 4242;
    b = (struct pt_store_batch){.sec = SEC0, .flows = two, .n_flows = 2};
    cr_assert_eq(pt_store_write(s, &b), 0);
    got = (struct st_recs){0};
    q = (struct pt_store_flow_query){0};
    cr_assert_eq(pt_store_flows_read(s, &q, st_recs_add, &got), 0);
    cr_assert_eq(got.n, 1);
    cr_assert_eq(got.r[0].orig_pkts, 4242);
    free(got.r);
    pt_store_close(s);
    st_check_indexes();
}

Test(store_flows, unterminated_strings_are_cut)
{
    struct pt_store_config cfg = st_cfg();
    struct pt_store *s = st_open_w(&cfg);
    struct pt_flow_record r, want;

    st_rec(&r, 3, SEC0 * NS);
    memset(r.uid, 'u', sizeof r.uid); /* no NUL at all */
    memset(r.history, 'h', sizeof r.history);
    memset(r.resp_fqdn, 'f', sizeof r.resp_fqdn);
    memset(r.orig_cc, 'x', sizeof r.orig_cc);
    struct pt_store_batch b = {.sec = SEC0, .flows = &r, .n_flows = 1};
    cr_assert_eq(pt_store_write(s, &b), 0);
    struct st_recs got = {0};
    struct pt_store_flow_query q = {.uid = "uuuuuuuuuuuuuuuuuuu"};
    cr_assert_eq(pt_store_flows_read(s, &q, st_recs_add, &got), 0);
    cr_assert_eq(got.n, 1);
    want = r;
    want.uid[sizeof want.uid - 1] = '\0';
    want.history[sizeof want.history - 1] = '\0';
    want.resp_fqdn[sizeof want.resp_fqdn - 1] = '\0';
    want.orig_cc[sizeof want.orig_cc - 1] = '\0';
    want.ifaces = 1; /* "if0", the store's bit 0 */
    st_rec_eq(&got.r[0], &want);
    free(got.r);
    pt_store_close(s);
}

/* Put (@t BE, @uid NUL-padded) -> @val into db @db of the closed store in
 * st_dir, behind the store's back (as an earlier build or a disk fault
 * left it). */
static void raw_put(const char *db, uint64_t t, const char *uid, const uint8_t *val, size_t n)
{
    char path[128];
    uint8_t k[28] = {0};
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;

    for (int i = 7; i >= 0; i--, t >>= 8)
        k[i] = (uint8_t)t;
    memcpy(k + 8, uid, strlen(uid));
    snprintf(path, sizeof path, "%s/store", st_dir);
    cr_assert_eq(mdb_env_create(&env), 0);
    cr_assert_eq(mdb_env_set_maxdbs(env, 16), 0);
    cr_assert_eq(mdb_env_open(env, path, 0, 0644), 0);
    cr_assert_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
    cr_assert_eq(mdb_dbi_open(txn, db, 0, &dbi), 0, "db %s", db);
    MDB_val kv = {.mv_size = sizeof k, .mv_data = k}, dv = {.mv_size = n, .mv_data = (void *)val};
    cr_assert_eq(mdb_put(txn, dbi, &kv, &dv, 0), 0);
    cr_assert_eq(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

static const struct pt_flow_record *find_uid(const struct st_recs *c, const char *uid)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->r[i].uid, uid) == 0)
            return &c->r[i];
    return NULL;
}

/* A store written by an earlier build holds version 1 records: they read
 * back (no health, app unknown, no enrichment) next to version 2 ones, in
 * "flows" and in "live". Records that do not decode are skipped and
 * counted in the reader's warning. */
Test(store_flows, v1_records_read_and_bad_ones_are_counted)
{
    struct pt_store_config cfg = st_cfg();
    struct pt_store *s = st_open_w(&cfg);
    struct pt_flow_record r, want;
    char log[128], text[4096];

    st_rec(&r, 3, SEC0 * NS); /* health, app and enrichment set */
    cr_assert(r.health.valid && r.resp_fqdn[0] && r.app);
    struct pt_store_batch b = {.sec = SEC0, .flows = &r, .n_flows = 1};
    cr_assert_eq(pt_store_write(s, &b), 0);
    pt_store_close(s);
    st_v1_want(&want);
    raw_put("flows", want.last_ns, want.uid, st_v1_rec, sizeof st_v1_rec);
    raw_put("flows", want.last_ns + 1, "Ccut", st_v1_rec, sizeof st_v1_rec - 1);
    raw_put("flows", want.last_ns + 2, "Cjunk", (const uint8_t[]){2, 0, 4, 6, 1}, 5);
    raw_put("live", want.ts_ns, want.uid, st_v1_rec, sizeof st_v1_rec);
    raw_put("live", want.ts_ns + 1, "Cjunk", (const uint8_t[]){9}, 1);

    snprintf(log, sizeof log, "%s/stderr", st_dir);
    int fd = open(log, O_CREAT | O_RDWR | O_TRUNC, 0600);
    cr_assert_geq(fd, 0);
    cr_assert_geq(dup2(fd, 2), 0);
    s = st_open_r();
    struct st_recs got = {0}, live = {0};
    struct pt_store_flow_query q = {0};
    cr_assert_eq(pt_store_flows_read(s, &q, st_recs_add, &got), 0);
    cr_assert_eq(pt_store_live_read(s, &q, st_recs_add, &live), 0);
    pt_store_close(s);
    ssize_t n = pread(fd, text, sizeof text - 1, 0);
    cr_assert_gt(n, 0);
    text[n] = '\0';
    close(fd);

    cr_assert_eq(got.n, 2);
    const struct pt_flow_record *v1 = find_uid(&got, want.uid), *v2 = find_uid(&got, r.uid);
    cr_assert_not_null(v1);
    cr_assert_not_null(v2);
    st_rec_eq(v1, &want);
    r.ifaces = 1; /* "if0", the store's bit 0 */
    st_rec_eq(v2, &r);
    cr_assert_eq(live.n, 1);
    st_rec_eq(&live.r[0], &want);
    cr_assert(strstr(text, ": 2 flow records could not be decoded (skipped)"), "%s", text);
    cr_assert(strstr(text, ": 1 live flow records could not be decoded (skipped)"), "%s", text);
    free(got.r);
    free(live.r);
}
