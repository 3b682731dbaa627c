/* live.c - `packettracer run`: capture workers on TPACKET_V3 rings.
 *
 * DESIGN
 * Threads (docs/THREADS.md):
 * - Capture workers: per interface opts->workers threads, each owning one
 *   socket and ring (rx.c) in the interface's fanout group, and one
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
 * reports the final status.
 *
 * Link state (the remover's job; workers never touch netlink):
 * The remover holds a NETLINK_ROUTE socket subscribed to RTNLGRP_LINK and
 * polls it, with the slice as timeout, in its loop. A link message naming
 * one of our interfaces (or a worker's socket reporting ENETDOWN/ENXIO,
 * which the worker only flags, or the once-a-second tick, which covers lost
 * events) makes it probe the interface: ifindex by name and IFF_UP
 * (SIOCGIFINDEX, SIOCGIFFLAGS). Per interface:
 * 1. ATTACHED, and the probe finds it gone, down, or under a new ifindex
 *    (deleted and re-created): count link_down, log, give each of its
 *    sockets the drop-all filter and set each worker's `park` (release).
 *    -> DETACHING.
 * 2. A worker that reads `park` (acquire) drains its ring as at stop (the
 *    kernel still retires the last partly filled block), then stores
 *    `parked` (release), goes offline and sleeps until `park` is cleared or
 *    the run stops. From then on the remover owns its ring.
 * 3. DETACHING, and every worker of the interface is parked: the remover
 *    reads each socket's kernel counters a last time and closes socket and
 *    ring. -> DETACHED.
 * 4. DETACHED, and the probe finds the name present and up (same or new
 *    ifindex): the remover opens the workers' sockets as at start (same ring
 *    and fanout options, the current filter, a new fanout group), then
 *    clears each `park` (release): the worker reads its new ring after that
 *    acquire, so it sees it whole. Count reattach, log "reattached IF".
 *    -> ATTACHED. A failed open is logged once and retried at every probe.
 * So a ring is touched by one thread at a time, handed over by park/parked.
 * The kernel would re-hook a still-bound socket when the same ifindex comes
 * back up; the drop-all filter of step 1 keeps such a socket from seeing
 * a frame the new sockets also see.
 *
 * Filter reload (opts->reload, SIGHUP in `run`): the remover asks
 * opts->reload_filter() for the expression, compiles it, and attaches it to
 * every socket of an ATTACHED interface; the others get it when they are
 * reopened. A bad expression changes nothing. */
#include "internal.h"

#include <errno.h>
#include <linux/if_packet.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <urcu-qsbr.h>

#define POLL_MS  100
#define TICK_NS  1000000000ull
#define SLICE_NS 50000000ull /* the remover checks the stop flag this often */

struct lworker {
    /* owned by the worker thread while it runs, by the remover while the
     * worker is parked (the DESIGN comment's handover) */
    struct pt_rx ring;
    struct pt_worker *w;
    uint16_t iface;
    int cpu; /* -1 = not pinned */
    struct live *L;
    /* handover, atomics */
    int park;     /* set/cleared by the remover: let go of the ring / take the new one */
    int parked;   /* set by the worker: it no longer touches the ring */
    int link_err; /* set by the worker: its socket said ENETDOWN/ENXIO */
    /* owned by the remover */
    pthread_t th;
    bool started;
    struct pt_rx_kstats ks;
};

enum link_state { LINK_ATTACHED = 0, LINK_DETACHING, LINK_DETACHED };

/* One capture interface, as the remover tracks it. */
struct liface {
    enum link_state state;
    bool open_failed; /* a reopen failed and was logged (once per outage) */
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
    struct pt_flow_record rec; /* count_emit_copy's */
    /* owned by the remover */
    struct sock_fprog bpf; /* the current filter (for reopened sockets) */
    bool have_bpf;
    char filter[4096]; /* its expression, for the log */
    uint64_t filter_reloads;
    int nl_fd;  /* NETLINK_ROUTE, RTNLGRP_LINK; -1 when it could not be opened */
    int ctl_fd; /* AF_INET datagram socket for SIOCGIFINDEX/SIOCGIFFLAGS */
    struct liface link[PT_MAX_IFACES];
    struct pt_live_iface_stats ifst[PT_MAX_IFACES];
    struct pt_agg *agg; /* NULL without a store */
    struct pt_agg_stats agg_st;
    struct pt_ring *ring; /* the pcap ring, NULL without one; worker k is producer k */
    struct pt_ring_stats ring_st;
    bool ring_closed; /* ring_st holds the closed ring's final figures */
};

static uint64_t realtime_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Walk what the ring holds for twice the block retire timeout: the kernel
 * retires a partly filled block by its timer. The socket must already have
 * the drop-all filter. Thread: the ring's worker, online. */
static void drain(struct lworker *k)
{
    uint64_t deadline = pt_now_ns() + 2ull * k->L->retire_ms * 1000000ull + 10000000ull;

    if (!k->ring.map) /* closed while parked */
        return;
    for (;;) {
        uint64_t now;

        pt_rx_walk(&k->ring, k->w, k->iface);
        now = pt_now_ns();
        if (now >= deadline)
            break;
        rcu_thread_offline();
        pt_rx_wait(&k->ring, (int)((deadline - now) / 1000000ull) + 1);
        rcu_thread_online();
    }
}

/* Step 2 of the DESIGN comment: drain, hand the ring to the remover, wait
 * offline until it hands a new one back (or the run stops). */
static void park(struct lworker *k)
{
    struct timespec ts = {0, 10000000L};

    drain(k);
    rcu_thread_offline();
    __atomic_store_n(&k->parked, 1, __ATOMIC_RELEASE);
    while (__atomic_load_n(&k->park, __ATOMIC_ACQUIRE) &&
           !__atomic_load_n(&k->L->stop, __ATOMIC_ACQUIRE))
        nanosleep(&ts, NULL);
    __atomic_store_n(&k->parked, 0, __ATOMIC_RELAXED);
    rcu_thread_online();
}

static void *worker_main(void *arg)
{
    struct lworker *k = arg;
    struct live *L = k->L;

    if (k->cpu >= 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(k->cpu, &set);
        pthread_setaffinity_np(pthread_self(), sizeof set, &set); /* best effort */
    }
    pt_worker_thread_enter(k->w);
    while (!__atomic_load_n(&L->stop, __ATOMIC_ACQUIRE)) {
        int rc;

        if (pt_rx_walk(&k->ring, k->w, k->iface))
            continue;
        if (__atomic_load_n(&k->park, __ATOMIC_ACQUIRE)) {
            park(k);
            continue;
        }
        pt_worker_idle(k->w); /* a quiet link's last packets still reach the ring */
        rcu_thread_offline();
        rc = pt_rx_wait(&k->ring, POLL_MS);
        rcu_thread_online();
        if (rc == -ENETDOWN || rc == -ENXIO || rc == -ENODEV)
            __atomic_store_n(&k->link_err, 1, __ATOMIC_RELAXED); /* the remover looks */
    }
    drain(k);
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

/* Open the sockets of interface @ifi's workers on @ifindex, the first one
 * creating a new fanout group the others join, with the current filter. On
 * failure every socket of the interface is closed again. Thread: the remover
 * (its workers not started, or parked). */
static int open_iface_rings(struct live *L, unsigned ifi, int ifindex, char *msg, size_t len)
{
    const struct pt_live_opts *o = L->o;
    int rc = 0;

    for (unsigned j = 0; j < o->workers; j++) {
        unsigned i = ifi * o->workers + j;
        struct pt_rx_opts ro = {
            .ifindex = ifindex,
            .block_size = o->block_size ? o->block_size : PT_LIVE_BLOCK_SIZE,
            .block_count = o->block_count ? o->block_count : PT_LIVE_BLOCK_COUNT,
            .retire_ms = L->retire_ms,
            .promisc = o->promisc,
            .fanout_id = j ? L->wk[i - 1].ring.fanout_id : 0,
            .fanout_type = fanout_type(o->fanout),
            .bpf = L->have_bpf ? &L->bpf : NULL,
        };

        if ((rc = pt_rx_open(&L->wk[i].ring, &ro, msg, len)) < 0)
            break;
    }
    if (rc < 0)
        for (unsigned j = 0; j < o->workers; j++)
            pt_rx_close(&L->wk[ifi * o->workers + j].ring);
    return rc;
}

/* Open every socket at start. */
static int open_rings(struct live *L, const int *ifindex)
{
    const struct pt_live_opts *o = L->o;
    char msg[200];
    int rc;

    for (unsigned ifi = 0; ifi < o->n_ifaces; ifi++) {
        rc = open_iface_rings(L, ifi, ifindex[ifi], msg, sizeof msg);
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
        L->ifst[ifi].attached = true;
        L->ifst[ifi].ifindex = ifindex[ifi];
    }
    return 0;
}

/* ---- link state (the remover; the DESIGN comment's numbered steps) ---- */

/* Subscribe to link events. Returns the socket or -1 (then the remover
 * probes once a second and on workers' errors only). */
static int link_watch_open(void)
{
    struct sockaddr_nl sa = {.nl_family = AF_NETLINK, .nl_groups = RTMGRP_LINK};
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);

    if (fd < 0)
        return -1;
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Does link message @h concern one of our interfaces (by name, or by the
 * ifindex our sockets are bound to)? */
static bool link_msg_ours(const struct live *L, const struct nlmsghdr *h)
{
    const struct ifinfomsg *ifi = NLMSG_DATA(h);
    int alen = (int)h->nlmsg_len - (int)NLMSG_LENGTH(sizeof *ifi);

    if (alen < 0)
        return true; /* odd message: probe anyway */
    for (unsigned i = 0; i < L->o->n_ifaces; i++)
        if (L->ifst[i].ifindex == ifi->ifi_index)
            return true;
    for (const struct rtattr *a = IFLA_RTA(ifi); RTA_OK(a, alen); a = RTA_NEXT(a, alen)) {
        if (a->rta_type != IFLA_IFNAME)
            continue;
        for (unsigned i = 0; i < L->o->n_ifaces; i++)
            if (strncmp(RTA_DATA(a), L->o->ifaces[i], RTA_PAYLOAD(a)) == 0)
                return true;
    }
    return false;
}

/* Wait up to @ms for link events; true when one may concern us (or some
 * were lost: ENOBUFS). Without a netlink socket, just sleep. */
static bool link_watch_wait(struct live *L, int ms)
{
    struct pollfd pfd = {.fd = L->nl_fd, .events = POLLIN};
    char buf[16384] __attribute__((aligned(4)));
    bool ours = false;

    if (L->nl_fd < 0) {
        struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
        nanosleep(&ts, NULL); /* EINTR (a signal): look at the flags again */
        return false;
    }
    if (poll(&pfd, 1, ms) <= 0)
        return false;
    for (;;) {
        ssize_t n = recv(L->nl_fd, buf, sizeof buf, MSG_DONTWAIT);

        if (n < 0) {
            if (errno == EINTR)
                continue;
            return ours || errno == ENOBUFS;
        }
        for (struct nlmsghdr *h = (void *)buf; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n))
            if ((h->nlmsg_type == RTM_NEWLINK || h->nlmsg_type == RTM_DELLINK) &&
                link_msg_ours(L, h))
                ours = true;
    }
}

/* Current ifindex of @name (0: no such interface) and whether it is up.
 * False when it cannot tell (no ioctl socket, or an error other than
 * ENODEV): then nothing changes. */
static bool link_probe(struct live *L, const char *name, int *ifindex, bool *up)
{
    struct ifreq ifr;

    *ifindex = 0;
    *up = false;
    if (L->ctl_fd < 0)
        return false;
    memset(&ifr, 0, sizeof ifr);
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", name);
    if (ioctl(L->ctl_fd, SIOCGIFINDEX, &ifr) < 0)
        return errno == ENODEV;
    *ifindex = ifr.ifr_ifindex;
    if (ioctl(L->ctl_fd, SIOCGIFFLAGS, &ifr) < 0) {
        *ifindex = 0;
        return errno == ENODEV; /* deleted in between: gone */
    }
    *up = (ifr.ifr_flags & IFF_UP) != 0;
    return true;
}

static void link_detach(struct live *L, unsigned ifi, int now_index, bool up)
{
    struct pt_live_iface_stats *st = &L->ifst[ifi];
    unsigned W = L->o->workers;

    st->link_down++;
    pt_log(PT_LOG_WARN, "link down on %s (%s); its %u worker%s wait for it", L->o->ifaces[ifi],
           !now_index ? "gone"
           : !up      ? "down"
                      : "re-created",
           W, W > 1 ? "s" : "");
    for (unsigned j = 0; j < W; j++) {
        struct lworker *k = &L->wk[ifi * W + j];
        pt_rx_stop_input(&k->ring);
        __atomic_store_n(&k->park, 1, __ATOMIC_RELEASE);
    }
    L->link[ifi].state = LINK_DETACHING;
}

/* Step 3: once every worker of @ifi is parked, close its sockets. */
static bool link_release(struct live *L, unsigned ifi)
{
    unsigned W = L->o->workers;

    for (unsigned j = 0; j < W; j++)
        if (!__atomic_load_n(&L->wk[ifi * W + j].parked, __ATOMIC_ACQUIRE))
            return false;
    for (unsigned j = 0; j < W; j++) {
        struct lworker *k = &L->wk[ifi * W + j];
        pt_rx_kstats_read(&k->ring, &k->ks);
        pt_rx_close(&k->ring);
    }
    L->ifst[ifi].attached = false;
    L->ifst[ifi].ifindex = 0;
    L->link[ifi].state = LINK_DETACHED;
    return true;
}

/* Step 4: new sockets on @ifindex, then hand them to the parked workers. */
static void link_reattach(struct live *L, unsigned ifi, int ifindex)
{
    struct liface *li = &L->link[ifi];
    unsigned W = L->o->workers;
    char msg[200];
    int rc;

    if ((rc = open_iface_rings(L, ifi, ifindex, msg, sizeof msg)) < 0) {
        if (!li->open_failed)
            pt_log(PT_LOG_ERR, "%s is back but capture cannot resume yet: %s (retrying)",
                   L->o->ifaces[ifi], msg);
        li->open_failed = true;
        return;
    }
    for (unsigned j = 0; j < W; j++)
        __atomic_store_n(&L->wk[ifi * W + j].park, 0, __ATOMIC_RELEASE);
    li->open_failed = false;
    li->state = LINK_ATTACHED;
    L->ifst[ifi].attached = true;
    L->ifst[ifi].ifindex = ifindex;
    L->ifst[ifi].reattach++;
    pt_log(PT_LOG_INFO, "reattached %s (ifindex %d, fanout group %u, %u worker%s)",
           L->o->ifaces[ifi], ifindex, (unsigned)L->wk[ifi * W].ring.fanout_id, W,
           W > 1 ? "s" : "");
}

/* Probe interface @ifi and move its state machine as far as it goes now. */
static void link_check(struct live *L, unsigned ifi)
{
    int idx;
    bool up;

    if (!link_probe(L, L->o->ifaces[ifi], &idx, &up))
        return;
    switch (L->link[ifi].state) {
    case LINK_ATTACHED:
        if (idx == L->ifst[ifi].ifindex && up)
            return;
        link_detach(L, ifi, idx, up);
        /* fall through */
    case LINK_DETACHING:
        if (!link_release(L, ifi))
            return;
        /* fall through */
    case LINK_DETACHED:
        if (idx && up)
            link_reattach(L, ifi, idx);
        return;
    }
}

/* Probe the interfaces that need it: all when @all (an event, the tick),
 * else those in transition or whose worker saw ENETDOWN/ENXIO. */
static void link_check_all(struct live *L, bool all)
{
    for (unsigned ifi = 0; ifi < L->o->n_ifaces; ifi++) {
        bool need = all || L->link[ifi].state != LINK_ATTACHED;

        for (unsigned j = 0; j < L->o->workers; j++)
            if (__atomic_exchange_n(&L->wk[ifi * L->o->workers + j].link_err, 0, __ATOMIC_RELAXED))
                need = true;
        if (need)
            link_check(L, ifi);
    }
}

/* ---- filter reload ---- */

/* Attach @bpf (NULL: everything) to every socket of an attached interface.
 * On a failure, put @old back on the sockets already changed. */
static int attach_all(struct live *L, const struct sock_fprog *bpf, const struct sock_fprog *old)
{
    int rc = 0;
    unsigned i;

    for (i = 0; i < L->nw; i++) {
        if (L->link[L->wk[i].iface].state != LINK_ATTACHED)
            continue;
        if ((rc = pt_rx_set_filter(&L->wk[i].ring, bpf)) < 0)
            break;
    }
    if (rc < 0)
        while (i-- > 0)
            if (L->link[L->wk[i].iface].state == LINK_ATTACHED)
                pt_rx_set_filter(&L->wk[i].ring, old);
    return rc;
}

static void filter_reload(struct live *L)
{
    char expr[sizeof L->filter], msg[256];
    struct sock_fprog bpf = {0};
    bool have = false;
    int rc;

    if (!L->o->reload_filter)
        return;
    expr[0] = '\0';
    if ((rc = L->o->reload_filter(expr, sizeof expr, L->o->reload_arg)) < 0) {
        pt_log(PT_LOG_ERR, "filter reload: %s; keeping '%s'", expr, L->filter);
        return;
    }
    if (expr[0]) {
        if ((rc = pt_bpf_compile(expr, &bpf, msg, sizeof msg)) < 0) {
            pt_log(PT_LOG_ERR, "filter reload: '%s': %s; keeping '%s'", expr, msg, L->filter);
            return;
        }
        have = true;
    }
    if ((rc = attach_all(L, have ? &bpf : NULL, L->have_bpf ? &L->bpf : NULL)) < 0) {
        pt_log(PT_LOG_ERR, "filter reload: attaching '%s': %s; keeping '%s'", expr, pt_strerror(rc),
               L->filter);
        pt_bpf_free(&bpf);
        return;
    }
    if (L->have_bpf)
        pt_bpf_free(&L->bpf);
    L->bpf = bpf;
    L->have_bpf = have;
    snprintf(L->filter, sizeof L->filter, "%s", expr);
    L->filter_reloads++;
    pt_log(PT_LOG_INFO, "filter reloaded: '%s'", expr);
}

/* Counter snapshot for the agg and the status callback, once a tick (in
 * expire()). Thread: the remover. */
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
        pt_rx_kstats_read(&k->ring, &k->ks);
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
        .iface = L->ifst,
        .filter_reloads = L->filter_reloads,
        .active_flows = pt_flow_table_count(L->ft),
        .flows_emitted = L->emitted,
        .agg = L->agg ? &L->agg_st : NULL,
        .ring = L->ring || L->ring_closed ? &L->ring_st : NULL,
    };

    pt_flow_table_app_totals(L->ft, &st.app, &st.app_dropped);
    /* the counters gathered by the expire() that precedes every report() */
    if (L->o->status)
        L->o->status(&st, L->o->status_arg);
}

/* Hand every queued app record to the caller. Thread: the remover. */
static void app_drop(const struct pt_app_rec *rec, void *arg)
{
    (void)rec;
    (void)arg;
}

static void app_drain(struct live *L)
{
    pt_flow_table_app_drain(L->ft, L->o->emit_app ? L->o->emit_app : app_drop, L->o->emit_arg);
}

/* A record the agg holds for the store: the consumer completes it there. */
static void count_emit(struct pt_flow_record *rec, void *arg)
{
    struct live *L = arg;

    L->emitted++;
    L->o->emit(rec, L->o->emit_arg);
}

/* Without a store: the table's record, copied so the consumer may complete it. */
static void count_emit_copy(const struct pt_flow_record *rec, void *arg)
{
    struct live *L = arg;

    L->rec = *rec;
    count_emit(&L->rec, L);
}

static void expire(struct live *L, bool flush)
{
    uint64_t now = realtime_ns();

    gather(L);    /* the counters of this tick: kernel drops for the agg, then the status line */
    app_drain(L); /* a flow's transactions before its record */
    if (L->ring)
        pt_ring_stats(L->ring, &L->ring_st);
    rcu_thread_online();
    if (L->agg) {
        uint64_t kdrops[PT_MAX_IFACES] = {0};
        for (unsigned i = 0; i < L->nw; i++)
            kdrops[L->wk[i].iface] = kdrops[L->wk[i].iface] + L->wk[i].ks.drops;
        /* A tick runs 100 ms after a wall-clock second ends and closes it;
         * the last one, at stop, closes the second the data since the
         * previous tick mostly belongs to (that of 100 ms ago). */
        struct pt_agg_tick_in in = {.sec =
                                        flush ? (now - 100000000ull) / TICK_NS : now / TICK_NS - 1,
                                    .now_ns = now,
                                    .flush = flush,
                                    .ifnames = (const char(*)[64])L->res->ifaces.name,
                                    .n_ifnames = L->res->ifaces.n,
                                    .kernel_drops = kdrops};
        pt_agg_tick(L->agg, &in, count_emit, L);
        pt_agg_stats(L->agg, &L->agg_st);
    } else {
        pt_flow_table_expire(L->ft, now, flush, count_emit_copy, L);
    }
    rcu_thread_offline();
}

/* Monotonic time of the next tick: every second, or, with a store, ~100 ms
 * after the next wall-clock second begins (late ring blocks are in by then:
 * the retire timeout is 60 ms), so each tick closes one wall-clock second. */
static uint64_t next_tick(const struct live *L, uint64_t mono_now)
{
    uint64_t rt = realtime_ns(), to_edge;

    if (!L->agg)
        return mono_now + TICK_NS;
    to_edge = TICK_NS - rt % TICK_NS + 100000000ull;
    if (to_edge > TICK_NS) /* less than 100 ms into a second: that second's tick */
        to_edge -= TICK_NS;
    return mono_now + to_edge;
}

static bool stop_requested(const struct live *L)
{
    return L->o->stop && __atomic_load_n(L->o->stop, __ATOMIC_RELAXED);
}

/* The remover's loop: a tick per second until stop or the duration; in
 * between, slices spent waiting for link events. */
static void remover_loop(struct live *L)
{
    const uint64_t t0 = pt_now_ns();
    uint64_t next = next_tick(L, t0);

    while (!stop_requested(L)) {
        uint64_t now = pt_now_ns(), slice = SLICE_NS;

        if (L->o->duration_ns && now - t0 >= L->o->duration_ns)
            break;
        if (now >= next) {
            expire(L, false);
            link_check_all(L, true); /* also catches events the socket lost */
            report(L, false);
            next = next_tick(L, pt_now_ns()); /* after a slow tick: no burst of catch-ups */
            continue;
        }
        if (next - now < slice)
            slice = next - now;
        link_check_all(L, link_watch_wait(L, (int)(slice / 1000000ull) + 1));
        app_drain(L);
        if (L->o->reload && __atomic_exchange_n((int *)L->o->reload, 0, __ATOMIC_RELAXED))
            filter_reload(L);
    }
}

static int start_workers(struct live *L)
{
    sigset_t block, old;
    int rc = 0;

    /* Workers inherit a mask without SIGINT/SIGTERM/SIGHUP: the caller's handler
     * runs on the calling thread. */
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGHUP);
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
            pt_rx_stop_input(&L->wk[i].ring);
    __atomic_store_n(&L->stop, 1, __ATOMIC_RELEASE); /* parked workers: rings settled */
    for (unsigned i = 0; i < L->nw; i++)
        if (L->wk[i].started) {
            pthread_join(L->wk[i].th, NULL);
            L->wk[i].started = false;
        }
}

static int resolve(struct live *L, int *ifindex)
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
    if (o->filter && *o->filter) {
        if ((rc = pt_bpf_compile(o->filter, &L->bpf, msg, sizeof msg)) < 0) {
            snprintf(L->res->msg, sizeof L->res->msg, "filter '%s': %s", o->filter, msg);
            return rc;
        }
        L->have_bpf = true;
        snprintf(L->filter, sizeof L->filter, "%s", o->filter);
    }
    return 0;
}

static int setup(struct live *L, int *ifindex)
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
    if ((rc = open_rings(L, ifindex)) < 0)
        return rc;
    if ((L->nl_fd = link_watch_open()) < 0)
        pt_log(PT_LOG_WARN, "link events: netlink: %s; checking interfaces once a second",
               strerror(errno));
    L->ctl_fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    fc.workers = L->nw;
    if (!(L->ft = pt_flow_table_create(&fc, &rc))) {
        snprintf(L->res->msg, sizeof L->res->msg, "flow table: %s", pt_strerror(rc));
        return rc;
    }
    if (L->o->emit_app)
        pt_flow_table_set_app_sink(L->ft, L->o->emit_app, L->o->emit_arg);
    if (L->o->agg) {
        struct pt_agg_config ac = *L->o->agg;
        char msg[300];
        ac.workers = L->nw;
        if (!(L->agg = pt_agg_create(&ac, L->ft, &rc, msg, sizeof msg))) {
            snprintf(L->res->msg, sizeof L->res->msg, "store: %s", msg);
            return rc;
        }
    }
    if (L->o->ring) {
        char msg[300];
        if (!(L->ring = pt_ring_open(L->o->ring, L->nw, &rc, msg, sizeof msg))) {
            snprintf(L->res->msg, sizeof L->res->msg, "pcap ring: %s", msg);
            return rc;
        }
        for (unsigned i = 0; i < L->res->ifaces.n; i++)
            pt_ring_iface_name(L->ring, (uint16_t)i, L->res->ifaces.name[i]);
    }
    for (unsigned i = 0; i < L->nw; i++) {
        if (!(L->wk[i].w = pt_worker_create(i, L->ft, &rc))) {
            snprintf(L->res->msg, sizeof L->res->msg, "worker %u: %s", i, pt_strerror(rc));
            return rc;
        }
        if (L->agg)
            pt_worker_set_agg(L->wk[i].w, pt_agg_worker_counters(L->agg, i));
        if (L->ring)
            pt_worker_set_ring(L->wk[i].w, pt_ring_producer(L->ring, i));
    }
    return 0;
}

/* After the workers are joined: hand over their last partial chunks (the
 * join orders their writes before ours), write and close the ring. */
static void ring_close(struct live *L)
{
    if (!L->ring)
        return;
    for (unsigned i = 0; i < L->nw; i++)
        pt_ring_flush(pt_ring_producer(L->ring, i), true);
    pt_ring_close(L->ring, &L->ring_st);
    L->ring = NULL;
    L->ring_closed = true; /* the final report prints them */
}

static void teardown(struct live *L)
{
    for (unsigned i = 0; L->wk && i < L->nw; i++) {
        pt_worker_destroy(L->wk[i].w);
        pt_rx_close(&L->wk[i].ring);
    }
    pt_agg_destroy(L->agg); /* last rollups; closes the store */
    L->agg = NULL;
    if (L->ft) {
        pt_flow_table_destroy(L->ft); /* offline: rcu_barrier waits for call_rcu */
        L->ft = NULL;
    }
    free(L->wk);
    free(L->st);
    L->wk = NULL;
    L->st = NULL;
    if (L->nl_fd >= 0)
        close(L->nl_fd);
    if (L->ctl_fd >= 0)
        close(L->ctl_fd);
    L->nl_fd = L->ctl_fd = -1;
    if (L->have_bpf)
        pt_bpf_free(&L->bpf);
    L->have_bpf = false;
}

int pt_live_run(const struct pt_live_opts *opts, struct pt_live_result *res)
{
    struct live L = {
        .o = opts, .res = res, .retire_ms = PT_LIVE_RETIRE_MS, .nl_fd = -1, .ctl_fd = -1};
    int ifindex[PT_MAX_IFACES];
    int rc;

    memset(res, 0, sizeof *res);
    if ((rc = check_opts(opts, res)) < 0)
        return rc;
    if ((rc = resolve(&L, ifindex)) < 0) {
        teardown(&L);
        return rc;
    }
    rcu_register_thread();
    rcu_thread_offline();
    rc = setup(&L, ifindex);
    if (rc == 0 && (rc = start_workers(&L)) == 0) {
        if (opts->ready)
            opts->ready(opts->ready_arg);
        remover_loop(&L);
    }
    stop_workers(&L);
    ring_close(&L);
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
