/* live.c - `packettracer run`: capture workers on TPACKET_V3 rings.
 *
 * DESIGN
 * Threads (docs/THREADS.md):
 * - Capture workers: per interface opts->workers threads, each owning one
 *   socket and ring (ring.c) in the interface's fanout group, and one
 *   pt_worker (worker.c, the code path `read` uses). Worker k of the run is
 *   flow-table worker k. The loop is: walk every ready block (a quiescent
 *   state after each), and when none is ready go offline for RCU and poll the
 *   socket for 100 ms. A worker reads only the run's stop flag besides its
 *   own state.
 * - The remover is the calling thread (the aggregation thread's role later):
 *   a registered QSBR reader, offline except while it expires flows once a
 *   second (CLOCK_REALTIME, the clock of the kernel's frame timestamps). It
 *   also owns the counter snapshot: it reads each worker's decode and flow
 *   counters (relaxed loads) and each socket's PACKET_STATISTICS (which
 *   resets on read, so it accumulates them) for the status callback.
 * Start: interfaces are resolved and the filter compiled before any socket
 * is opened; every socket is open, bound and in its group before the first
 * worker starts, so `ready` means every frame from now on is seen once.
 * Stop: *opts->stop or the duration. Every socket gets a drop-all filter
 * (no new frames, so the kernel's counts and ours agree at the end).
 * Workers leave their loop, then for
 * twice the block retire timeout keep walking blocks, so frames the kernel
 * holds in a partly filled block are handed over and counted; the remover
 * joins them, reads the kernel counters a last time, flushes every flow and
 * reports the final status. */
#include "internal.h"

#include <errno.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <urcu-qsbr.h>

#define POLL_MS  100
#define TICK_NS  1000000000ull
#define SLICE_NS 50000000ull /* the remover checks the stop flag this often */

struct lworker {
    /* owned by the worker thread while it runs */
    struct pt_ring ring;
    struct pt_worker *w;
    uint16_t iface;
    int cpu; /* -1 = not pinned */
    struct live *L;
    /* owned by the remover */
    pthread_t th;
    bool started;
    struct pt_ring_kstats ks;
};

struct live {
    const struct pt_live_opts *o;
    struct pt_live_result *res;
    struct pt_flow_table *ft;
    struct lworker *wk;
    unsigned nw;
    uint32_t retire_ms;
    int stop; /* atomic: set by the remover, read by workers */
    struct pt_live_worker_stats *st;
    uint64_t emitted;
};

static uint64_t realtime_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void *worker_main(void *arg)
{
    struct lworker *k = arg;
    struct live *L = k->L;
    uint64_t deadline;

    if (k->cpu >= 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(k->cpu, &set);
        pthread_setaffinity_np(pthread_self(), sizeof set, &set); /* best effort */
    }
    pt_worker_thread_enter(k->w);
    while (!__atomic_load_n(&L->stop, __ATOMIC_RELAXED)) {
        if (pt_ring_walk(&k->ring, k->w, k->iface))
            continue;
        rcu_thread_offline();
        pt_ring_wait(&k->ring, POLL_MS);
        rcu_thread_online();
    }
    /* Drain: a partly filled block is retired by the kernel's timer. */
    deadline = pt_now_ns() + 2ull * L->retire_ms * 1000000ull + 10000000ull;
    for (;;) {
        uint64_t now;

        pt_ring_walk(&k->ring, k->w, k->iface);
        now = pt_now_ns();
        if (now >= deadline)
            break;
        rcu_thread_offline();
        pt_ring_wait(&k->ring, (int)((deadline - now) / 1000000ull) + 1);
        rcu_thread_online();
    }
    pt_worker_thread_leave(k->w);
    return NULL;
}

static uint16_t fanout_type(enum pt_fanout_mode m)
{
    switch (m) {
    case PT_FANOUT_LB:
        return PACKET_FANOUT_LB;
    case PT_FANOUT_CPU:
        return PACKET_FANOUT_CPU;
    case PT_FANOUT_QM:
        return PACKET_FANOUT_QM;
    case PT_FANOUT_HASH:
    default:
        return PACKET_FANOUT_HASH | PACKET_FANOUT_FLAG_DEFRAG;
    }
}

/* CPU for worker @k: the k-th CPU of the process's allowed set, modulo its size. */
static int pick_cpu(unsigned k)
{
    cpu_set_t set;
    int n, seen = 0;

    if (sched_getaffinity(0, sizeof set, &set) < 0 || (n = CPU_COUNT(&set)) == 0)
        return -1;
    for (int c = 0; c < CPU_SETSIZE; c++) {
        if (!CPU_ISSET(c, &set))
            continue;
        if (seen++ == (int)(k % (unsigned)n))
            return c;
    }
    return -1;
}

static int check_opts(const struct pt_live_opts *o, struct pt_live_result *res)
{
    if (o->n_ifaces == 0 || o->n_ifaces > PT_MAX_IFACES) {
        snprintf(res->msg, sizeof res->msg, "between 1 and %d interfaces, got %u", PT_MAX_IFACES,
                 o->n_ifaces);
        return PT_E_BADARG;
    }
    if (o->workers == 0 || o->workers > PT_LIVE_MAX_WORKERS) {
        snprintf(res->msg, sizeof res->msg, "workers per interface: 1..%u, got %u",
                 PT_LIVE_MAX_WORKERS, o->workers);
        return PT_E_BADARG;
    }
    if (o->block_size % 4096u) {
        snprintf(res->msg, sizeof res->msg, "block size %u is not a multiple of 4096",
                 o->block_size);
        return PT_E_BADARG;
    }
    return 0;
}

/* Open every socket: interface by interface, the first socket of each
 * creating the fanout group the others join. */
static int open_rings(struct live *L, const struct sock_fprog *bpf, const int *ifindex)
{
    const struct pt_live_opts *o = L->o;
    char msg[200];
    int rc;

    for (unsigned i = 0; i < L->nw; i++) {
        struct lworker *k = &L->wk[i];
        unsigned ifi = i / o->workers;
        struct pt_ring_opts ro = {
            .ifindex = ifindex[ifi],
            .block_size = o->block_size ? o->block_size : PT_LIVE_BLOCK_SIZE,
            .block_count = o->block_count ? o->block_count : PT_LIVE_BLOCK_COUNT,
            .retire_ms = L->retire_ms,
            .promisc = o->promisc,
            .fanout_id = i % o->workers ? L->wk[i - 1].ring.fanout_id : 0,
            .fanout_type = fanout_type(o->fanout),
            .bpf = bpf,
        };

        rc = pt_ring_open(&k->ring, &ro, msg, sizeof msg);
        if (rc == -EPERM || rc == -EACCES) {
            snprintf(L->res->msg, sizeof L->res->msg,
                     "%s: capture sockets need CAP_NET_RAW (run as root or grant "
                     "cap_net_raw): %s",
                     o->ifaces[ifi], msg);
            return -EPERM;
        }
        if (rc < 0) {
            snprintf(L->res->msg, sizeof L->res->msg, "%s: %s", o->ifaces[ifi], msg);
            return rc;
        }
    }
    return 0;
}

/* Counter snapshot for the status callback. Thread: the remover. */
static void gather(struct live *L)
{
    for (unsigned i = 0; i < L->nw; i++) {
        struct lworker *k = &L->wk[i];
        struct pt_live_worker_stats *s = &L->st[i];
        const struct pt_decode_stats *d = pt_worker_decode_stats(k->w);
        const struct pt_flow_worker_stats *f = pt_flow_worker_stats(pt_flow_worker_get(L->ft, i));
        uint64_t errs = 0;

        for (unsigned e = 1; e < PT_DEC_ERR_MAX; e++)
            errs += PT_CNT_GET(d->err[e]);
        pt_ring_kstats_read(&k->ring, &k->ks);
        s->iface = k->iface;
        s->packets = PT_CNT_GET(d->frames);
        s->bytes = PT_CNT_GET(d->bytes);
        s->decode_errors = errs;
        s->kernel_packets = k->ks.packets;
        s->kernel_drops = k->ks.drops;
        s->freeze_q = k->ks.freeze_q;
        s->flows = PT_CNT_GET(f->flows_created);
        s->flows_refused = PT_CNT_GET(f->full_flows);
    }
}

static void report(struct live *L, bool final)
{
    struct pt_live_status st = {
        .now_ns = realtime_ns(),
        .final = final,
        .ifaces = &L->res->ifaces,
        .n_workers = L->nw,
        .worker = L->st,
        .active_flows = pt_flow_table_count(L->ft),
        .flows_emitted = L->emitted,
    };

    gather(L);
    if (L->o->status)
        L->o->status(&st, L->o->status_arg);
}

static void count_emit(const struct pt_flow_record *rec, void *arg)
{
    struct live *L = arg;

    L->emitted++;
    L->o->emit(rec, L->o->emit_arg);
}

static void expire(struct live *L, bool flush)
{
    rcu_thread_online();
    pt_flow_table_expire(L->ft, realtime_ns(), flush, count_emit, L);
    rcu_thread_offline();
}

static bool stop_requested(const struct live *L)
{
    return L->o->stop && __atomic_load_n(L->o->stop, __ATOMIC_RELAXED);
}

/* The remover's loop: a tick per second until stop or the duration. */
static void remover_loop(struct live *L)
{
    const uint64_t t0 = pt_now_ns();
    uint64_t next = t0 + TICK_NS;

    while (!stop_requested(L)) {
        uint64_t now = pt_now_ns();
        struct timespec ts = {0, (long)SLICE_NS};

        if (L->o->duration_ns && now - t0 >= L->o->duration_ns)
            break;
        if (now >= next) {
            expire(L, false);
            report(L, false);
            next += TICK_NS;
            if (next <= now) /* fell behind: no burst of catch-up ticks */
                next = now + TICK_NS;
            continue;
        }
        if (next - now < SLICE_NS)
            ts.tv_nsec = (long)(next - now);
        nanosleep(&ts, NULL); /* EINTR (a signal): look at the flag again */
    }
}

static int start_workers(struct live *L)
{
    sigset_t block, old;
    int rc = 0;

    /* Workers inherit a mask without SIGINT/SIGTERM: the caller's handler
     * runs on the calling thread. */
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    for (unsigned i = 0; i < L->nw; i++) {
        struct lworker *k = &L->wk[i];
        k->cpu = L->o->cpu_pin ? pick_cpu(i) : -1;
        if ((rc = pthread_create(&k->th, NULL, worker_main, k)) != 0) {
            snprintf(L->res->msg, sizeof L->res->msg, "starting worker %u: %s", i, strerror(rc));
            rc = -rc;
            break;
        }
        k->started = true;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}

static void stop_workers(struct live *L)
{
    for (unsigned i = 0; i < L->nw; i++) /* closes the door; workers drain what came in */
        if (L->wk[i].ring.fd >= 0)
            pt_ring_stop_input(&L->wk[i].ring);
    __atomic_store_n(&L->stop, 1, __ATOMIC_RELAXED);
    for (unsigned i = 0; i < L->nw; i++)
        if (L->wk[i].started) {
            pthread_join(L->wk[i].th, NULL);
            L->wk[i].started = false;
        }
}

static int resolve(struct live *L, int *ifindex, struct sock_fprog *bpf, bool *have_bpf)
{
    const struct pt_live_opts *o = L->o;
    char msg[200];
    int rc;

    for (unsigned i = 0; i < o->n_ifaces; i++) {
        if (!(ifindex[i] = (int)if_nametoindex(o->ifaces[i]))) {
            snprintf(L->res->msg, sizeof L->res->msg, "unknown interface '%s'", o->ifaces[i]);
            return PT_E_BADARG;
        }
        if (pt_iface_table_add(&L->res->ifaces, o->ifaces[i]) != (int)i) {
            snprintf(L->res->msg, sizeof L->res->msg, "interface '%s' named twice", o->ifaces[i]);
            return PT_E_BADARG;
        }
    }
    *have_bpf = false;
    if (o->filter && *o->filter) {
        if ((rc = pt_bpf_compile(o->filter, bpf, msg, sizeof msg)) < 0) {
            snprintf(L->res->msg, sizeof L->res->msg, "filter '%s': %s", o->filter, msg);
            return rc;
        }
        *have_bpf = true;
    }
    return 0;
}

static int setup(struct live *L, int *ifindex, const struct sock_fprog *bpf)
{
    struct pt_flow_config fc = L->o->flow;
    int rc = 0;

    L->nw = L->o->n_ifaces * L->o->workers;
    L->wk = calloc(L->nw, sizeof *L->wk);
    L->st = calloc(L->nw, sizeof *L->st);
    if (!L->wk || !L->st)
        return -ENOMEM;
    for (unsigned i = 0; i < L->nw; i++) {
        L->wk[i].ring.fd = -1;
        L->wk[i].L = L;
        L->wk[i].iface = (uint16_t)(i / L->o->workers);
    }
    if ((rc = open_rings(L, bpf, ifindex)) < 0)
        return rc;
    fc.workers = L->nw;
    if (!(L->ft = pt_flow_table_create(&fc, &rc))) {
        snprintf(L->res->msg, sizeof L->res->msg, "flow table: %s", pt_strerror(rc));
        return rc;
    }
    for (unsigned i = 0; i < L->nw; i++)
        if (!(L->wk[i].w = pt_worker_create(i, L->ft, &rc))) {
            snprintf(L->res->msg, sizeof L->res->msg, "worker %u: %s", i, pt_strerror(rc));
            return rc;
        }
    return 0;
}

static void teardown(struct live *L)
{
    for (unsigned i = 0; L->wk && i < L->nw; i++) {
        pt_worker_destroy(L->wk[i].w);
        pt_ring_close(&L->wk[i].ring);
    }
    if (L->ft) {
        pt_flow_table_destroy(L->ft); /* offline: rcu_barrier waits for call_rcu */
        L->ft = NULL;
    }
    free(L->wk);
    free(L->st);
    L->wk = NULL;
    L->st = NULL;
}

int pt_live_run(const struct pt_live_opts *opts, struct pt_live_result *res)
{
    struct live L = {.o = opts, .res = res, .retire_ms = PT_LIVE_RETIRE_MS};
    int ifindex[PT_MAX_IFACES];
    struct sock_fprog bpf = {0};
    bool have_bpf = false;
    int rc;

    memset(res, 0, sizeof *res);
    if ((rc = check_opts(opts, res)) < 0)
        return rc;
    if ((rc = resolve(&L, ifindex, &bpf, &have_bpf)) < 0)
        return rc;
    rcu_register_thread();
    rcu_thread_offline();
    rc = setup(&L, ifindex, have_bpf ? &bpf : NULL);
    if (have_bpf)
        pt_bpf_free(&bpf);
    if (rc == 0 && (rc = start_workers(&L)) == 0) {
        if (opts->ready)
            opts->ready(opts->ready_arg);
        remover_loop(&L);
    }
    stop_workers(&L);
    if (L.ft) {
        expire(&L, true); /* every flow, also after a failed start (none then) */
        if (rc == 0)
            report(&L, true);
    }
    teardown(&L);
    rcu_thread_online();
    rcu_unregister_thread();
    return rc;
}
