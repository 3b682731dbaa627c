/* test_concurrent.c - four workers update the same flows while a remover
 * expires them; every packet must end up in exactly one record. The same
 * with the aggregation thread's tick (pool walk while workers start and end
 * flows in the slots it walks): every packet is seen exactly once by its
 * visits. Run under ThreadSanitizer by `make tsan`. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "flow/flow_helpers.h"

#define N_WORKERS 4
#define N_FLOWS   64
#define PKTS      40000 /* per worker */

static struct pt_flow_table *t;
static uint64_t clock_ticks; /* shared packet clock: one tick per packet */
static int stop;
static uint64_t got[N_FLOWS], sent[N_WORKERS][N_FLOWS], records;

static void tally(const struct pt_flow_record *r, void *arg)
{
    (void)arg;
    unsigned p = r->orig_p >= 10000 && r->orig_p < 10000 + N_FLOWS ? r->orig_p : r->resp_p;
    cr_assert(p >= 10000 && p < 10000 + N_FLOWS, "ports %u %u", r->orig_p, r->resp_p);
    got[p - 10000] += r->orig_pkts + r->resp_pkts;
    records++;
}

static uint64_t passes; /* remover loops done (atomic) */

/* Wait (offline, at most 10 s) until the remover has looped @n times. */
static void wait_passes(uint64_t n)
{
    rcu_thread_offline();
    for (int i = 0; i < 10000 && __atomic_load_n(&passes, __ATOMIC_ACQUIRE) < n; i++)
        usleep(1000);
    rcu_thread_online();
}

static void *worker(void *arg)
{
    unsigned id = (unsigned)(uintptr_t)arg;
    struct pt_flow_worker *w = pt_flow_worker_get(t, id);
    uint8_t a[16], b[16];
    struct pt_pkt p;

    v4(a, 10, 0, 0, 1);
    v4(b, 10, 0, 0, 2);
    rcu_register_thread();
    for (unsigned i = 0; i < PKTS; i++) {
        /* half the packets hit flow 0 from every worker at once; the rest
         * come in bursts per flow, so flows go idle and get expired */
        unsigned f = (i & 1) ? 0 : 1 + ((i / 128) * 5 + id) % (N_FLOWS - 1);
        uint64_t ts = __atomic_add_fetch(&clock_ticks, 1, __ATOMIC_RELAXED);
        if ((i + id) & 1)
            pkt_init(&p, ts, 17, a, (uint16_t)(10000 + f), b, 20000, 10);
        else
            pkt_init(&p, ts, 17, b, 20000, a, (uint16_t)(10000 + f), 10);
        p.iface = (uint16_t)id;
        pt_flow_process(w, &p);
        sent[id][f]++;
        if (i % 64 == 63)
            rcu_quiescent_state();
        if (i == PKTS / 2) /* let the remover run at least twice meanwhile, on a busy host too */
            wait_passes(2);
    }
    rcu_unregister_thread();
    return NULL;
}

static uint64_t visited_pkts, visits_new, visits_ended, ticks;

static void seen(const struct pt_flow_view *v, void *arg)
{
    (void)arg;
    visited_pkts += v->pkts;
    visits_new += v->is_new;
    visits_ended += v->ended;
}

static void *remover(void *arg)
{
    bool tick = arg != NULL;

    rcu_register_thread();
    while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
        uint64_t now = __atomic_load_n(&clock_ticks, __ATOMIC_RELAXED);
        if (tick) {
            pt_flow_table_tick(t, now, false, tally, seen, NULL);
            ticks++;
        } else {
            pt_flow_table_expire(t, now, false, tally, NULL);
        }
        __atomic_add_fetch(&passes, 1, __ATOMIC_RELEASE);
        rcu_quiescent_state();
    }
    rcu_unregister_thread();
    return NULL;
}

static void run_shared_flows(bool tick)
{
    struct pt_flow_config c;
    pthread_t th[N_WORKERS], rm;
    int err;

    rcu_register_thread();
    pt_flow_config_default(&c);
    c.workers = N_WORKERS;
    c.shards = 4;
    c.max_flows = N_WORKERS * (uint64_t)PKTS; /* never full, even if every packet made a flow */
    c.idle_udp_ns = 150; /* ticks: flows expire and come back while workers run */
    t = pt_flow_table_create(&c, &err);
    cr_assert_not_null(t);

    rcu_thread_offline(); /* the main thread only waits */
    cr_assert_eq(pthread_create(&rm, NULL, remover, tick ? (void *)1 : NULL), 0);
    for (uintptr_t i = 0; i < N_WORKERS; i++)
        cr_assert_eq(pthread_create(&th[i], NULL, worker, (void *)i), 0);
    for (unsigned i = 0; i < N_WORKERS; i++)
        pthread_join(th[i], NULL);
    __atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
    pthread_join(rm, NULL);
    rcu_thread_online();

    if (tick)
        pt_flow_table_tick(t, 0, true, tally, seen, NULL);
    else
        pt_flow_table_expire(t, 0, true, tally, NULL);
    uint64_t total = 0, full = 0, created = 0;
    for (unsigned i = 0; i < N_WORKERS; i++) {
        const struct pt_flow_worker_stats *st = pt_flow_worker_stats(pt_flow_worker_get(t, i));
        full += PT_CNT_GET(st->full_pkts);
        created += PT_CNT_GET(st->flows_created);
        total += PT_CNT_GET(st->pkts);
    }
    cr_log_info("%lu records for %d flows", (unsigned long)records, N_FLOWS);
    cr_assert_eq(full, 0);
    cr_assert_gt(records, N_FLOWS, "flows were expired while workers ran");
    cr_assert_eq(total, (uint64_t)N_WORKERS * PKTS);
    cr_assert_eq(records, created, "one record per flow created");
    uint64_t sum = 0;
    for (unsigned f = 0; f < N_FLOWS; f++) {
        uint64_t want = 0;
        for (unsigned i = 0; i < N_WORKERS; i++)
            want += sent[i][f];
        cr_assert_eq(got[f], want, "flow %u: %lu records' packets, %lu sent", f,
                     (unsigned long)got[f], (unsigned long)want);
        sum += got[f];
    }
    cr_assert_eq(sum, (uint64_t)N_WORKERS * PKTS);
    cr_assert_eq(pt_flow_table_count(t), 0);
    if (tick) {
        cr_log_info("%lu ticks", (unsigned long)ticks);
        cr_assert_gt(ticks, 1);
        cr_assert_eq(visited_pkts, sum, "the ticks' visits saw %lu packets of %lu",
                     (unsigned long)visited_pkts, (unsigned long)sum);
        cr_assert_eq(visits_new, created, "each flow is new in exactly one visit");
        cr_assert_eq(visits_ended, records, "each record's flow ends in exactly one visit");
    }
    pt_flow_table_destroy(t);
    rcu_unregister_thread();
}

Test(flow_concurrent, shared_flows_exact_counts, .timeout = 120)
{
    run_shared_flows(false);
}

Test(flow_concurrent, tick_visits_every_packet_once, .timeout = 120)
{
    run_shared_flows(true);
}
