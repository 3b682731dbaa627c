/* capture.h - capture workers and packet sources.
 *
 * A worker is the per-packet stage: it decodes a frame and accounts it to the
 * flow table. Live capture (TPACKET_V3 ring blocks) and offline reading
 * (`packettracer read`) drive the *same* worker code: a source hands the
 * worker a batch ("block") of frames, the worker walks it calling
 * pt_worker_packet() for each frame, then reports a quiescent state once per
 * block (pt_worker_block_done()).
 *
 * Ownership: a worker owns its decode statistics and its pt_flow_worker
 * handle; it is used by exactly one thread, which must be registered with
 * urcu-qsbr (pt_worker_thread_enter()/leave()).
 *
 * Offline input: pt_reader maps classic pcap files (micro- and nanosecond,
 * either byte order) and walks them in place, with libpcap's record checks;
 * it reads pcapng with its own block reader, because libpcap refuses pcapng
 * files whose interfaces have different link types and does not report the
 * interface of a packet. A pipe or device (not a regular file) is read by
 * libpcap as a stream, pcap or pcapng, under libpcap's limits. */
#ifndef PT_CAPTURE_H
#define PT_CAPTURE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "pt/common.h"
#include "pt/decode.h"
#include "pt/agg.h"
#include "pt/flow.h"
#include "pt/ring.h"

/* Interface names of a run; index = pt_pkt.iface. Owned by the run. */
struct pt_iface_table {
    unsigned n;
    char name[PT_MAX_IFACES][64];
};

/* Find or add @name; returns its index, or -1 when the table is full. */
int pt_iface_table_add(struct pt_iface_table *t, const char *name);

struct pt_worker;

/* Create worker @id attached to flow table @ft (pt_flow_worker_get(ft, id)).
 * Returns NULL and sets *@err on failure. Thread: any, before use. */
struct pt_worker *pt_worker_create(unsigned id, struct pt_flow_table *ft, int *err);
void pt_worker_destroy(struct pt_worker *w);

/* Register the calling thread as the worker's QSBR reader (once per thread),
 * and unregister it. */
void pt_worker_thread_enter(struct pt_worker *w);
void pt_worker_thread_leave(struct pt_worker *w);

/* Count every frame into @c (the agg's per-worker counters, owned by the
 * agg, written only by this worker) from now on; NULL stops counting.
 * Thread: before the worker thread starts. */
void pt_worker_set_agg(struct pt_worker *w, struct pt_agg_counters *c);

/* Decode @p (input fields set) and account it to the flow table.
 * Thread: the worker's own, online. No allocation, no syscall. */
void pt_worker_packet(struct pt_worker *w, struct pt_pkt *p);

/* Give the worker its staging area of the pcap ring (NULL: none): every
 * frame it handles is copied there, and each block done may hand over a
 * partial chunk. Call before its first packet. */
void pt_worker_set_ring(struct pt_worker *w, struct pt_ring_prod *prod);

/* The worker found nothing to do: hand over a partial ring chunk that is due
 * (so a quiet link's last packets reach the ring within about a second). */
void pt_worker_idle(struct pt_worker *w);

/* End of one block of frames: announce a quiescent state (no flow pointer is
 * held across this call). */
void pt_worker_block_done(struct pt_worker *w);

/* Decode statistics of the worker (borrowed; read with PT_CNT_GET). */
const struct pt_decode_stats *pt_worker_decode_stats(const struct pt_worker *w);

/* ---- offline capture files ---- */

struct pt_reader;

/* One record of a capture file. @data is borrowed until the next call. */
struct pt_reader_rec {
    const uint8_t *data;
    uint32_t caplen, wirelen;
    uint64_t ts_ns;
    int linktype;   /* of the interface the record belongs to */
    unsigned ifidx; /* pcapng interface id, 0 for pcap */
};

/* Open @path (pcap or pcapng, detected by magic). Returns NULL and sets *@err
 * (negative errno, PT_E_BADFILE) and a message in @msg on failure. */
struct pt_reader *pt_reader_open(const char *path, int *err, char *msg, size_t msglen);

/* Next record: 1 with @rec filled, 0 at a clean end of file, or a negative
 * error (PT_E_TRUNC for a file cut inside a record, PT_E_BADFILE for a
 * corrupt block) with a message in @msg. After an error the reader is done. */
int pt_reader_next(struct pt_reader *r, struct pt_reader_rec *rec, char *msg, size_t msglen);

/* Name of interface @ifidx: the pcapng if_name, else "FILE#N" (pcapng) or
 * the file name (classic pcap, one interface). Borrowed until the next call. */
const char *pt_reader_ifname(struct pt_reader *r, unsigned ifidx);

/* True when every record's data stays valid until pt_reader_close(), not
 * just until the next call (a mapped classic pcap file): the offline
 * pipeline then hands workers pointers instead of copies. */
bool pt_reader_data_stable(const struct pt_reader *r);

void pt_reader_close(struct pt_reader *r);

/* ---- offline pipeline (`packettracer read`) ---- */

struct pt_offline_opts {
    const char *const *files;
    unsigned n_files;
    unsigned workers;           /* >= 1; with > 1, frames go to workers by flow hash */
    struct pt_flow_config flow; /* .workers is set from @workers */
    pt_flow_record_fn emit;     /* receives every finished flow, in a deterministic order,
                                 * before the store keeps it (it may complete it) */
    void *emit_arg;
    /* Receives every app record (app.h), with @emit_arg, merged by time with
     * the flow records of each expiry round (deterministic too). NULL: app
     * records are counted and dropped. */
    pt_app_sink_fn emit_app;
    /* When not NULL: fill the store in agg->datadir, one second per tick of
     * packet time (pt_agg_tick), workers counting into the agg's counters.
     * .workers is set from @workers. */
    const struct pt_agg_config *agg;
    /* When not NULL: write every frame to the pcap ring (docs/RING.md), the
     * reader being its one producer, so the ring holds the files' order. */
    const struct pt_ring_config *ring;
};

struct pt_offline_result {
    uint64_t frames, bytes;           /* records read from the files */
    uint64_t flows;                   /* flow records emitted */
    uint64_t flows_evicted;           /* of those, evicted early (--full-policy evict) */
    struct pt_decode_stats decode;    /* summed over workers */
    struct pt_flow_worker_stats flow; /* summed over workers (lock_spins included) */
    struct pt_app_worker_stats app;   /* summed over workers and the flow-end flushes */
    uint64_t app_dropped; /* app records lost: a worker queue could not grow (no memory) */
    uint64_t app_records; /* app records handed to opts->emit_app */
    struct pt_iface_table ifaces;
    uint64_t ifaces_merged; /* records whose interface found no slot of its own (table full,
                             * or interface id >= 256): accounted to the last slot */
    int file_err;           /* first file error (0 when every file read cleanly) */
    char file_msg[256];
    bool agg_on;                   /* opts->agg was set: agg_stats is valid */
    struct pt_agg_stats agg_stats; /* the aggregation thread's and the store's counters */
    int agg_err;                   /* the store could not be opened (nothing was read) */
    char agg_msg[256];
    bool ring_on;                    /* opts->ring was set: ring_stats is valid */
    struct pt_ring_stats ring_stats; /* the ring writer's counters, final */
    int ring_err;                    /* the ring could not be opened (nothing was read) */
    char ring_msg[256];
};

/* Run the offline pipeline over every file in order. Flow records are
 * emitted through opts->emit as flows end (by packet time) and at the end.
 * Returns 0 when every file was read cleanly; otherwise the first error, with
 * res->file_msg set, after every complete record was processed and every
 * flow emitted. */
int pt_offline_run(const struct pt_offline_opts *opts, struct pt_offline_result *res);

/* ---- live capture (`packettracer run`) ---- */

/* PACKET_FANOUT modes a run may choose (how the kernel spreads an
 * interface's frames over its workers). */
enum pt_fanout_mode {
    PT_FANOUT_HASH = 0, /* by flow hash, IP fragments reassembled first (FLAG_DEFRAG) */
    PT_FANOUT_LB,       /* round robin */
    PT_FANOUT_CPU,      /* by the CPU that received the frame */
    PT_FANOUT_QM,       /* by the NIC's receive queue */
};

#define PT_LIVE_BLOCK_SIZE  (1u << 20) /* default ring block: 1 MiB */
#define PT_LIVE_BLOCK_COUNT 64u        /* default blocks per worker (64 MiB per worker) */
#define PT_LIVE_RETIRE_MS   60u        /* a partly filled block is handed over after 60 ms */
#define PT_LIVE_MAX_WORKERS 64u        /* capture workers per interface */

/* Counters of one capture worker (one socket), cumulative since start. */
struct pt_live_worker_stats {
    unsigned iface;          /* index into the run's interface table */
    uint64_t packets, bytes; /* frames decoded, their wire bytes */
    uint64_t kernel_packets; /* frames that passed the filter, as the kernel counts them */
    uint64_t kernel_drops;   /* frames the kernel dropped: ring full */
    uint64_t freeze_q;       /* times the kernel found the ring full (tp_freeze_q_cnt) */
    uint64_t decode_errors;  /* frames with a decode error (any kind) */
    uint64_t flows;          /* flows this worker created */
    uint64_t flows_refused;  /* new flows refused: table full */
};

/* Link state of one capture interface, cumulative since start. */
struct pt_live_iface_stats {
    bool attached;      /* its workers have sockets on it now (false: waiting for it) */
    int ifindex;        /* ifindex the sockets are bound to (0 while waiting) */
    uint64_t link_down; /* times it went down or disappeared (workers parked) */
    uint64_t reattach;  /* times its workers got new sockets after it came back */
};

/* What the status callback sees, once a second and once at the end.
 * Borrowed for the duration of the call. */
struct pt_live_status {
    uint64_t now_ns; /* CLOCK_REALTIME */
    bool final;      /* the last call: workers stopped, every flow flushed */
    const struct pt_iface_table *ifaces;
    unsigned n_workers; /* ifaces->n * workers per interface; worker i reads iface i / N */
    const struct pt_live_worker_stats *worker;
    const struct pt_live_iface_stats *iface; /* ifaces->n entries */
    uint64_t filter_reloads;                 /* filters swapped in on request (opts->reload) */
    uint64_t active_flows;            /* flows in the table now (approximate while running) */
    uint64_t flows_emitted;           /* records emitted so far */
    struct pt_app_worker_stats app;   /* app layer counters, summed over workers and the
                                       * flow-end flushes */
    uint64_t app_dropped;             /* app records lost to full worker queues */
    const struct pt_agg_stats *agg;   /* the store's side; NULL without a store */
    const struct pt_ring_stats *ring; /* the pcap ring's side; NULL without a ring */
};

typedef void (*pt_live_status_fn)(const struct pt_live_status *st, void *arg);

struct pt_live_opts {
    const char *const *ifaces; /* interface names, 1..PT_MAX_IFACES, borrowed */
    unsigned n_ifaces;
    unsigned workers;   /* per interface, 1..PT_LIVE_MAX_WORKERS */
    const char *filter; /* libpcap expression, NULL or "" = everything */
    enum pt_fanout_mode fanout;
    bool promisc;               /* PACKET_MR_PROMISC on each socket */
    bool cpu_pin;               /* pin worker k to the k-th CPU of the allowed set (mod count) */
    uint32_t block_size;        /* 0 = PT_LIVE_BLOCK_SIZE; else a multiple of 4096 */
    uint32_t block_count;       /* 0 = PT_LIVE_BLOCK_COUNT */
    uint64_t duration_ns;       /* stop by itself after this long; 0 = only on *stop */
    const int *stop;            /* may be NULL; the run stops when it reads non-zero. Set it with
                                 * __atomic_store_n (lock-free, so a signal handler may) */
    struct pt_flow_config flow; /* .workers is set from n_ifaces * workers */
    pt_flow_record_fn emit;     /* finished flows, on the remover thread, before the store
                                 * keeps them (it may complete them) */
    void *emit_arg;
    /* App records (app.h), with @emit_arg, on the remover thread: drained
     * from the workers' queues every 50 ms and before each expiry, and
     * flushed at flow end before the flow's record. NULL: dropped, counted. */
    pt_app_sink_fn emit_app;
    pt_live_status_fn status; /* once a second and at the end, on the remover thread; may be NULL */
    void *status_arg;
    void (*ready)(void *arg); /* every socket bound and in its fanout group; may be NULL */
    void *ready_arg;
    /* Filter reload (SIGHUP in `run`): when the remover reads *reload
     * non-zero (set it with __atomic_store_n, as *stop), it clears it and
     * calls reload_filter(), which writes the new libpcap expression ("" =
     * every frame) into @expr and returns 0, or returns a negative error with
     * a message in @expr. The remover compiles it and attaches it to every
     * socket (SO_ATTACH_FILTER); sockets opened later get it too. On any
     * error the old filter stays and one PT_LOG_ERR line says why; on success
     * one PT_LOG_INFO line "filter reloaded: 'EXPR'". Both may be NULL.
     * reload_filter runs on the remover thread. */
    const int *reload;
    int (*reload_filter)(char *expr, size_t len, void *arg);
    void *reload_arg;
    /* When not NULL, the remover is the aggregation thread: it fills the
     * store in agg->datadir once a second (pt_agg_tick), at about 100 ms past
     * each wall-clock second, and workers count into the agg's counters.
     * .workers is set from the worker count. An unopenable store fails the
     * start (res->msg names it). */
    const struct pt_agg_config *agg;
    /* When not NULL: every frame goes to the pcap ring (docs/RING.md), each
     * worker its own producer. An unopenable ring fails the start. */
    const struct pt_ring_config *ring;
};

struct pt_live_result {
    struct pt_iface_table ifaces; /* filled before the first emit/status call */
    char msg[512];                /* why pt_live_run failed */
};

/* Capture from every interface of @opts until *opts->stop is set or
 * opts->duration_ns has passed: per interface opts->workers threads, each
 * with its own TPACKET_V3 socket in the interface's fanout group, feeding one
 * shared flow table through pt_worker_packet(). The calling thread is the
 * remover: once a second it expires flows (opts->emit) and reports counters
 * (opts->status). On stop, workers hand over what the kernel still holds,
 * are joined, every flow is flushed, and status is called with final set.
 * An interface that goes down or disappears does not end the run: its
 * workers park (their sockets are closed) until an interface of the same
 * name is up again, possibly re-created with a new ifindex; then they get new
 * sockets (same options and filter, a new fanout group) and capture resumes.
 * Each event is logged (PT_LOG_WARN "link down on IF", PT_LOG_INFO
 * "reattached IF") and counted (pt_live_status.iface). Frames that arrive
 * while an interface is down or being re-attached are not captured.
 * Returns 0 after a clean stop; otherwise, before capture starts:
 * PT_E_BADARG (unknown interface, bad filter or option), -EPERM (no
 * CAP_NET_RAW), another negative errno; res->msg says what and names it.
 * Thread: any one thread; it must not be a registered RCU reader. SIGINT,
 * SIGTERM and SIGHUP are blocked in the worker threads so the caller's handler runs on
 * the calling thread. */
int pt_live_run(const struct pt_live_opts *opts, struct pt_live_result *res);

/* ---- interface facts (`packettracer ifaces`, warnings at `run` start) ----
 *
 * State, counters and MTU come from rtnetlink (libnl-route link cache); speed
 * and offloads from the ethtool ioctl (SIOCETHTOOL). Everything is read in
 * the network namespace of the calling *thread* (setns(2) is per thread). */

/* Operational state (RFC 2863), the kernel's IF_OPER_* values. */
enum pt_iface_oper {
    PT_IFACE_OPER_UNKNOWN = 0,
    PT_IFACE_OPER_NOTPRESENT = 1,
    PT_IFACE_OPER_DOWN = 2,
    PT_IFACE_OPER_LOWERLAYERDOWN = 3,
    PT_IFACE_OPER_TESTING = 4,
    PT_IFACE_OPER_DORMANT = 5,
    PT_IFACE_OPER_UP = 6,
};

/* One interface, as seen at the time of the call (a snapshot). */
struct pt_iface_info {
    char name[64];
    int index;               /* ifindex */
    bool admin_up;           /* IFF_UP: set by `ip link set IF up` */
    bool carrier;            /* IFF_LOWER_UP: a link partner is there */
    enum pt_iface_oper oper; /* operstate */
    uint32_t mtu;
    uint8_t mac[6];      /* valid when mac_len == 6 */
    unsigned mac_len;    /* 0: no link-layer address (lo, tun) */
    int64_t speed_mbps;  /* ethtool link speed, Mb/s; -1 when unknown (link down,
                          * no ethtool support). Note: veth reports 10000. */
    uint64_t rx_packets; /* frames received by the interface (rtnl stats64) */
    uint64_t rx_bytes;
    uint64_t rx_dropped; /* dropped by the interface/stack, not by a capture ring */
    uint64_t rx_errors;
};

/* List every interface of the calling thread's network namespace, by
 * ascending ifindex. On success *@out is a malloc'd array of *@n entries,
 * owned by the caller (free() it); *@out is NULL when *@n is 0.
 * Returns 0, -ENOMEM, -EPERM, or -EIO (netlink failure).
 * Thread: any; opens its own netlink and ioctl sockets. Not for the
 * per-packet path (several syscalls per interface). */
int pt_iface_list(struct pt_iface_info **out, unsigned *n);

/* Facts of one interface @name into @info (caller storage).
 * Returns 0, -ENODEV (no such interface), or as pt_iface_list(). Thread: any. */
int pt_iface_get(const char *name, struct pt_iface_info *info);

/* Name of @oper ("up", "down", "lowerlayerdown", ...). Static; never NULL. */
const char *pt_iface_oper_name(enum pt_iface_oper oper);

/* Offloads that merge or build large frames, so that a capture sees one
 * "super-frame" where the wire carried several: per-packet counts, sizes
 * and timing are wrong. */
enum pt_iface_offload {
    PT_OFFLOAD_GRO = 1u << 0,    /* generic-receive-offload (software, on receive) */
    PT_OFFLOAD_LRO = 1u << 1,    /* large-receive-offload (NIC, on receive) */
    PT_OFFLOAD_GRO_HW = 1u << 2, /* rx-gro-hw (NIC, on receive) */
    PT_OFFLOAD_GSO = 1u << 3,    /* generic-segmentation-offload (locally sent frames) */
    PT_OFFLOAD_TSO = 1u << 4,    /* tcp-segmentation-offload (locally sent frames) */
};
#define PT_OFFLOAD_ALL 0x1fu

/* ethtool's short name of one offload bit ("gro", "lro", "rx-gro-hw", "gso",
 * "tso": what `ethtool -K IF NAME off` takes). Static; "?" for others. */
const char *pt_iface_offload_name(unsigned bit);

/* Which PT_OFFLOAD_* are on for @ifname: *@on is their OR; *@fixed (when
 * @fixed is not NULL) the subset the driver does not let anyone turn off
 * ("[fixed]" in `ethtool -k`). An offload the driver does not know (veth
 * has no rx-gro-hw) counts as off. On error both are 0.
 * Returns 0, -ENODEV (no such interface), -EPERM, or another negative errno
 * from socket(2)/ioctl(2). Thread: any. */
int pt_iface_offloads(const char *ifname, unsigned *on, unsigned *fixed);

/* Log one PT_LOG_WARN line per PT_OFFLOAD_* that is on for @ifname, naming
 * the interface, the offload and the command that turns it off
 * (tuning/tune-capture-iface.sh, or ethtool -K), or that the driver keeps
 * it on when it is fixed. Logs one warning when the offloads cannot be read,
 * none for an interface that does not exist (capture setup reports that).
 * Thread: any; meant for `run` start. */
void pt_iface_warn_offloads(const char *ifname);

#endif
