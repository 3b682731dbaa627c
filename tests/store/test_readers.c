/* test_readers.c - readers while a writer writes: a second handle in the
 * same process, a reader thread while the map grows, a reader process that
 * must follow the grown map (MDB_MAP_RESIZED); and a writer killed with
 * SIGKILL mid-run. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>

#include "store_helpers.h"

TestSuite(store_readers, .init = st_setup, .fini = st_teardown);
TestSuite(store_crash, .init = st_setup, .fini = st_teardown);

#define T0 1700006400ull

static int write_sec(struct pt_store *s, uint32_t id, uint64_t t, size_t nflows)
{
    static struct pt_flow_record f[20000];
    struct pt_store_point p = {.series = id, .value = t * 2};

    cr_assert_leq(nflows, PT_ARRAY_LEN(f));
    for (size_t i = 0; i < nflows; i++)
        st_rec(&f[i], t * 100000 + i, t * NS + i);
    struct pt_store_batch b = {
        .sec = t, .points = &p, .n_points = 1, .flows = f, .n_flows = nflows};
    return pt_store_write(s, &b);
}

Test(store_readers, same_process_reader_sees_commits)
{
    struct pt_store_config cfg = st_cfg();
    struct pt_store *w = st_open_w(&cfg);
    uint32_t id = st_sid(w, "bytes"), rid, id2;
    uint64_t v;

    cr_assert_eq(write_sec(w, id, T0, 3), 0);
    struct pt_store *r = st_open_r();
    cr_assert(st_point(r, id, T0, &v));
    cr_assert_eq(v, T0 * 2);
    for (uint64_t t = T0 + 1; t < T0 + 20; t++) {
        cr_assert_not(st_point(r, id, t, &v));
        cr_assert_eq(write_sec(w, id, t, 3), 0);
        cr_assert(st_point(r, id, t, &v), "second %llu visible to the reader",
                  (unsigned long long)t);
        cr_assert_eq(v, t * 2);
    }
    id2 = st_sid(w, "packets");
    cr_assert_eq(pt_store_series_find(r, "packets", &rid), 0, "a series made after the open");
    cr_assert_eq(rid, id2);
    struct pt_store_flow_query q = {0};
    cr_assert_eq(st_count_flows(r, &q), 20 * 3);
    /* the writer's handle reads too */
    cr_assert_eq(st_count_flows(w, &q), 20 * 3);
    pt_store_close(w);
    cr_assert(st_point(r, id, T0 + 19, &v), "the reader outlives the writer handle");
    pt_store_close(r);
}

struct reader_arg {
    struct pt_store *r;
    uint32_t id;
    volatile int stop;
    uint64_t reads, errors, seen;
};

static int count_cb(const struct pt_store_value *v, void *arg)
{
    (void)v;
    ++*(uint64_t *)arg;
    return 0;
}

static int flow_cb(const struct pt_flow_record *rec, void *arg)
{
    (void)rec;
    ++*(uint64_t *)arg;
    return 0;
}

static void *reader_main(void *p)
{
    struct reader_arg *a = p;

    while (!__atomic_load_n(&a->stop, __ATOMIC_ACQUIRE)) {
        uint64_t n = 0, nf = 0;
        struct pt_store_flow_query q = {.by_port = true, .port = 443};
        if (pt_store_series_read(a->r, a->id, PT_RES_1S, 0, 0, count_cb, &n) != 0 ||
            pt_store_flows_read(a->r, &q, flow_cb, &nf) != 0 || n < a->seen)
            a->errors++;
        a->seen = n;
        a->reads++;
    }
    return NULL;
}

Test(store_readers, reader_thread_while_map_grows, .timeout = 60)
{
    struct pt_store_config cfg = st_cfg();
    struct reader_arg a = {0};
    pthread_t th;

    cfg.map_size = 256 * 1024;
    cfg.map_max = 512ull << 20;
    struct pt_store *w = st_open_w(&cfg);
    a.id = st_sid(w, "bytes");
    cr_assert_eq(write_sec(w, a.id, T0, 10), 0);
    a.r = st_open_r();
    cr_assert_eq(pthread_create(&th, NULL, reader_main, &a), 0);
    for (uint64_t t = T0 + 1; t < T0 + 30; t++)
        cr_assert_eq(write_sec(w, a.id, t, 2000), 0);
    __atomic_store_n(&a.stop, 1, __ATOMIC_RELEASE);
    pthread_join(th, NULL);
    struct pt_store_stats st;
    pt_store_stats(w, &st);
    cr_assert_geq(st.map_grows, 3);
    cr_assert_eq(a.errors, 0);
    cr_assert_gt(a.reads, 0);
    uint64_t v;
    cr_assert(st_point(a.r, a.id, T0 + 29, &v));
    pt_store_close(a.r);
    pt_store_close(w);
}

static bool pipe_read(int fd, char *c)
{
    return read(fd, c, 1) == 1;
}

/* Child: open a reader while the map is small, wait, then read what the
 * parent wrote after growing the map. */
static int child_reader(int in, int out, uint32_t id)
{
    int err = 0;
    char c;
    uint64_t n = 0;
    struct pt_store *r = pt_store_open(st_dir, NULL, true, &err, NULL, 0);

    if (!r)
        return 10;
    if (pt_store_series_read(r, id, PT_RES_1S, 0, 0, count_cb, &n) != 0 || n != 1)
        return 11;
    if (write(out, "r", 1) != 1 || !pipe_read(in, &c))
        return 12;
    n = 0;
    if (pt_store_series_read(r, id, PT_RES_1S, 0, 0, count_cb, &n) != 0 || n != 2)
        return 13;
    n = 0;
    struct pt_store_flow_query q = {0};
    if (pt_store_flows_read(r, &q, flow_cb, &n) != 0 || n != 20001)
        return 14;
    pt_store_close(r);
    return 0;
}

Test(store_readers, reader_process_follows_map_growth, .timeout = 60)
{
    struct pt_store_config cfg = st_cfg();
    int to_child[2], to_parent[2], status;
    char c;

    cfg.map_size = 256 * 1024;
    cfg.map_max = 256ull << 20;
    struct pt_store *w = st_open_w(&cfg);
    uint32_t id = st_sid(w, "bytes");
    cr_assert_eq(write_sec(w, id, T0, 1), 0);
    cr_assert_eq(pipe(to_child), 0);
    cr_assert_eq(pipe(to_parent), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0)
        _exit(child_reader(to_child[0], to_parent[1], id));
    cr_assert(pipe_read(to_parent[0], &c), "the child opened its reader");
    cr_assert_eq(write_sec(w, id, T0 + 1, 20000), 0);
    struct pt_store_stats st;
    pt_store_stats(w, &st);
    cr_assert_gt(st.map_grows, 0, "the map grew under the reader");
    cr_assert_eq(write(to_child[1], "g", 1), 1);
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status), "child did not exit");
    cr_assert_eq(WEXITSTATUS(status), 0, "child reader failed at step %d", WEXITSTATUS(status));
    pt_store_close(w);
}

/* Child: write seconds from T0 on, reporting each committed one. */
static void crash_child(int out)
{
    struct pt_store_config cfg = st_cfg();
    int err;
    uint32_t id;
    struct pt_store *s = pt_store_open(st_dir, &cfg, false, &err, NULL, 0);

    if (!s || pt_store_series_id(s, "bytes", &id) != 0)
        _exit(1);
    for (uint64_t t = T0;; t++) {
        static struct pt_flow_record f[50];
        struct pt_store_point p = {.series = id, .value = t % 1000};
        for (size_t i = 0; i < 50; i++)
            st_rec(&f[i], t * 100 + i, t * NS + i);
        struct pt_store_batch b = {
            .sec = t, .points = &p, .n_points = 1, .flows = f, .n_flows = 50};
        if (pt_store_write(s, &b) != 0)
            _exit(2);
        uint64_t tt = t;
        if (write(out, &tt, sizeof tt) != sizeof tt)
            _exit(3);
    }
}

Test(store_crash, kill9_keeps_every_committed_second, .timeout = 60)
{
    int p[2], status;
    uint64_t t, last = 0;

    cr_assert_eq(pipe(p), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        close(p[0]);
        crash_child(p[1]);
    }
    close(p[1]);
    while (read(p[0], &t, sizeof t) == sizeof t) {
        last = t;
        if (t >= T0 + 700)
            break;
    }
    kill(pid, SIGKILL);
    while (read(p[0], &t, sizeof t) == sizeof t)
        last = t;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFSIGNALED(status), "the writer was killed");
    cr_assert_geq(last, T0 + 700);

    struct pt_store_config cfg = st_cfg();
    struct pt_store *s = st_open_w(&cfg);
    uint32_t id;
    cr_assert_eq(pt_store_series_find(s, "bytes", &id), 0);
    static struct st_vals got;
    got.n = 0;
    cr_assert_eq(pt_store_series_read(s, id, PT_RES_1S, T0, last + 1, st_vals_add, &got), 0);
    cr_assert_eq(got.n, last - T0 + 1, "every reported second is there");
    for (size_t i = 0; i < got.n; i++)
        cr_assert_eq(got.v[i].sum, (T0 + i) % 1000);
    struct pt_store_flow_query q = {.to_ns = (last + 1) * NS};
    cr_assert_eq(st_count_flows(s, &q), (last - T0 + 1) * 50);

    /* The run goes on after the crash: the pending minute is rolled and
     * every minute's rollup equals its 1 s points. */
    uint64_t end = last - last % 60 + 125;
    for (t = last + 1; t <= end; t++) {
        struct pt_store_point pt = {.series = id, .value = t % 1000};
        struct pt_store_batch b = {.sec = t, .points = &pt, .n_points = 1};
        cr_assert_eq(pt_store_write(s, &b), 0);
    }
    cr_assert_eq(pt_store_finish(s), 0);
    static struct st_vals m;
    m.n = 0;
    cr_assert_eq(pt_store_series_read(s, id, PT_RES_1M, T0, 0, st_vals_add, &m), 0);
    cr_assert_eq(m.n, (end - T0) / 60 + 1);
    for (size_t i = 0; i < m.n; i++) {
        uint64_t b0 = m.v[i].ts, sum = 0, n = 0;
        for (uint64_t x = b0; x < b0 + 60 && x <= end; x++, n++)
            sum += x % 1000;
        cr_assert_eq(m.v[i].sum, sum, "minute %llu", (unsigned long long)b0);
        cr_assert_eq(m.v[i].n, n);
    }
    pt_store_close(s);
}
