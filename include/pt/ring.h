/* ring.h - the pcap ring: a bounded set of pcap segment files under
 * DATADIR/ring/, written by one writer thread from per-producer staging
 * chunks, with an LMDB index (DATADIR/ring/index/) for lookback by time,
 * host, port, VLAN and flow; and the read side (extract, status) that other
 * processes run while the writer writes. docs/RING.md has the design.
 *
 * Threads. A producer (a capture worker, or the offline reader) owns one
 * struct pt_ring_prod and calls pt_ring_put() per packet: a memcpy into its
 * current staging chunk, no lock, no syscall, no allocation. Full chunks (and,
 * through pt_ring_flush(), partial ones) go to the writer over a
 * single-producer single-consumer queue; a producer without a free chunk
 * drops the packet from the ring and counts it (the packet still goes to the
 * flow table and series: only its pcap copy is lost). The ring runs three
 * threads of its own: the writer writes the segment files, a keyer adds
 * each written chunk's keys to the index's key maps and gives the chunk
 * back to its producer, and a closer syncs, closes and commits the index
 * (the only writer of the index environment). Readers open the index
 * read-only (LMDB MVCC) and never block it.
 *
 * On disk (DATADIR/ring/):
 *   seg-<seq as 16 hex digits>.pcap  pcap, magic a1b23c4d (ns), version 2.4,
 *       one link type per segment; a sequence of blocks, each a run of
 *       complete records from one staging chunk. Only the first valid_len
 *       bytes (the index's segs record) are committed; anything after it is
 *       cut off at the next open (reconcile).
 *   index/   LMDB environment, see src/ring/format.h for the databases.
 *   writer.lock  flock'ed by the writer for its lifetime (a second writer
 *       gets -EBUSY). */
#ifndef PT_RING_H
#define PT_RING_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "pt/common.h"
#include "pt/flow.h"

#define PT_RING_SEGMENT_SIZE (256ull << 20) /* default segment: 256 MiB */
#define PT_RING_MIN_SEGMENT  (1ull << 20)
#define PT_RING_CHUNK_SIZE   (1u << 20) /* default staging chunk: 1 MiB */
#define PT_RING_CHUNKS                                                                             \
    64u /* default chunks per producer: 64 MiB absorbs a                                           \
         * writer stall of about 0.2 s at 300 MB/s per                                             \
         * producer (docs/RING.md "Overload") */
#define PT_RING_SNAPLEN 262144u

struct pt_ring_config {
    char dir[4096];          /* the ring's directory (DATADIR/ring), created if missing */
    uint64_t ring_size;      /* bound on the segment files' total size; 0 = keep_free only */
    uint64_t segment_size;   /* >= PT_RING_MIN_SEGMENT and <= ring_size / 2 when bounded */
    unsigned keep_free_pct;  /* keep this share of the filesystem free (0 = off) */
    uint32_t snaplen;        /* bytes kept of each packet, 1 .. PT_RING_SNAPLEN */
    uint32_t chunk_size;     /* staging chunk bytes, >= snaplen + 16 */
    unsigned chunks;         /* chunks per producer, >= 2; producers x chunks <= 2^24 */
    uint64_t flow_cutoff;    /* 0 = off; else keep only the first N bytes of each flow:
                              * see pt_ring_put() */
    uint32_t cutoff_flows;   /* flows each producer's cutoff table tracks (rounded up to a
                              * power of two; 24 bytes each; default 262144) */
    uint64_t cutoff_idle_ns; /* a flow silent this long counts from zero again (a new
                              * connection on the same ports; default 60 s) */
    unsigned commit_ms;      /* index commit interval (default 1000) */
    bool sync;               /* fdatasync data and index at each commit (run: true) */
    bool wait_when_full;     /* a producer without a free chunk waits for one to come back
                              * instead of dropping (offline: nothing there has a deadline) */
    uint64_t index_map_max;  /* LMDB map limit of the index (default 4 GiB) */
};

void pt_ring_config_default(struct pt_ring_config *c);

/* Counters, summed over every run of the ring (the index keeps the sum at
 * each commit; a reopened ring starts from it), but for the commit costs
 * marked "this run only". Producers' counters are summed. */
struct pt_ring_stats {
    uint64_t packets, bytes; /* records committed to segments, their file bytes */
    uint64_t wire_bytes;     /* the wire length of those packets */
    uint64_t lost_full_pkts; /* no free staging chunk (writer behind) */
    uint64_t lost_full_bytes;
    uint64_t lost_io_pkts; /* a write or writeback failed (ENOSPC, EIO) and nothing could be
                            * recycled, or the bound recycled them before a failing index
                            * could record them */
    uint64_t lost_io_bytes;
    uint64_t cutoff_pkts; /* skipped by the per-flow cutoff */
    uint64_t cutoff_bytes;
    uint64_t cutoff_resets;   /* cutoff slots taken over by another flow */
    uint64_t index_lost_keys; /* keys not indexed for lack of memory: extract by host, port,
                               * VLAN or flow may miss their blocks (time ranges do not) */
    uint64_t segments_created;
    uint64_t segments_recycled; /* the oldest removed to respect a bound */
    uint64_t segments_early;    /* of those, removed because the disk was full */
    uint64_t index_commits, index_errors;
    uint64_t write_errors;     /* failed writes and preallocations (logged, rate-limited) */
    uint64_t reconciled_bytes; /* cut off at open: past the last commit */
    bool degraded;             /* now dropping for lack of space */
    uint64_t bad_time_pkts;    /* not kept: a time pcap cannot hold (after 2106) */
    /* what commits cost, this run only (not stored in the index) */
    uint64_t index_key_bytes;  /* key lists the writer copied into batches */
    uint64_t index_keys_put;   /* keys the commits' transactions wrote */
    uint64_t index_txn_ns;     /* time in commit transactions (closer thread), summed */
    uint64_t index_txn_max_ns; /* the longest of them */
};

struct pt_ring;
struct pt_ring_prod;

/* Open (reconcile) the ring in c->dir and start its writer thread, with
 * @producers staging areas (one per producing thread). Errors: -EBUSY
 * another writer, -EINVAL bad config, -errno. @msg gets a reason. */
struct pt_ring *pt_ring_open(const struct pt_ring_config *c, unsigned producers, int *err,
                             char *msg, size_t msglen);

struct pt_ring_prod *pt_ring_producer(struct pt_ring *r, unsigned i);

/* True when @p applies a per-flow cutoff. A caller that must work for
 * pt_ring_pkt.flow_hash (the offline reader decodes each frame again) asks
 * first; a capture worker has it from pt_flow_process(). Thread: any. */
bool pt_ring_prod_cuts(const struct pt_ring_prod *p);

/* One packet for the ring, borrowed for the call. */
struct pt_ring_pkt {
    const uint8_t *data;
    uint32_t caplen, wirelen;
    uint64_t ts_ns;
    int linktype;       /* LINKTYPE_* of its link layer: the pcap header's network field */
    uint16_t iface;     /* the run's interface index */
    uint32_t hw_tag;    /* a VLAN tag the kernel stripped: tpid << 16 | tci, 0 = none;
                         * written back after the MAC addresses (Ethernet only), as
                         * libpcap does, so the file holds the frame as it was sent */
    uint64_t flow_hash; /* its flow, pt_flow_pkt_hash(); 0 = none (never cut) */
};

/* Producer thread. Copy one packet (at most snaplen bytes) into the staging
 * chunk. A chunk holds one interface and link type: a packet of another
 * starts a new chunk.
 *
 * Per-flow cutoff (cfg.flow_cutoff N > 0): a packet is kept while its flow
 * has carried fewer than N wire bytes before it, so a flow keeps its first N
 * bytes and the packet that crosses N; the rest is counted (cutoff_pkts,
 * cutoff_bytes) and not copied. Each producer counts in its own table of
 * cfg.cutoff_flows slots indexed by @flow_hash: no lock, no allocation. A
 * slot taken over by another flow (a hash collision while both are active)
 * or silent for cfg.cutoff_idle_ns starts from zero, which keeps more than
 * N bytes, never fewer (cutoff_resets counts it). A flow split over two
 * producers (two mirror ports on two workers) is counted per producer. */
void pt_ring_put(struct pt_ring_prod *p, const struct pt_ring_pkt *pkt);

/* Producer thread: hand over the current chunk if it holds packets and is
 * older than commit_ms / 4 by the monotonic clock (@force: in any case).
 * Call at least a few times a second (a live worker: after each ring
 * block; the offline reader: at the end). */
void pt_ring_flush(struct pt_ring_prod *p, bool force);

/* Any thread but the writer's (a producer may call it after its own
 * pt_ring_flush(p, true)); not concurrently with pt_ring_close(). Commit
 * now and wait for it: every chunk handed over before the call is written,
 * the open segment's writeback is waited for, and one commit that names all
 * of it (and any closed segment not committed yet) has run on the closer
 * thread. A producer's current chunk is not handed over by this call. For
 * tests and tools that need a commit at a known point; the writer commits
 * by itself every commit_ms. Blocks for a writeback and a transaction (with
 * sync, their fdatasyncs). Returns 0 or the commit's error (a failed sync,
 * -ENOMEM, an LMDB error: the next commit tries again, as for a timed one). */
int pt_ring_commit(struct pt_ring *r);

/* Any thread: name interface index @iface (stored in the index, used by
 * pcapng output). Call before its first packet; a later call renames. */
void pt_ring_iface_name(struct pt_ring *r, uint16_t iface, const char *name);

/* Any thread: the counters so far. */
void pt_ring_stats(const struct pt_ring *r, struct pt_ring_stats *st);

/* After every producer has stopped and flushed: write what is queued,
 * commit, close the open segment (cut to its valid length), stop the
 * ring's threads, give the final counters (when @st is not NULL), free. */
void pt_ring_close(struct pt_ring *r, struct pt_ring_stats *st);

/* ---- read side (any process; opens the index read-only) ---- */

struct pt_ring_query {
    uint64_t from_ns, to_ns; /* packet time range [from, to); 0 / UINT64_MAX = open */
    bool by_host;
    uint8_t host[16]; /* IPv4 as ::ffff:a.b.c.d; any IP layer's source or destination */
    bool by_port;
    uint16_t port; /* any TCP/UDP/SCTP layer's source or destination port */
    bool by_vlan;
    uint16_t vlan; /* any VLAN tag of the frame */
    bool by_flow;
    struct pt_flow_key flow; /* any IP layer whose normalised key equals it */
    const char *bpf;         /* libpcap expression, NULL = none (pcap_offline_filter) */
};

enum pt_ring_out_format {
    PT_RING_OUT_PCAP = 0, /* pcap, nanosecond magic, the link type of the packets */
    PT_RING_OUT_PCAPNG,   /* pcapng, one interface block per (interface, link type) */
};

struct pt_ring_extract_stats {
    uint64_t blocks_read, bytes_read; /* what the index led the extractor to read: reads (one
                                       * per run of adjacent parts or whole block) and bytes */
    uint64_t packets;                 /* packets written */
    uint64_t skipped_linktype;        /* pcap output: packets of another link type than the first */
};

/* Write every stored packet matching @q to @out in timestamp order (ties in
 * write order), reading only the blocks the index names. @ring_dir is
 * DATADIR/ring. pcap output: snaplen the largest of the segments read, the
 * link type of the first packet (the others are skipped and counted; with no
 * packet, the first segment's). @q->bpf is compiled per link type; a link
 * type it does not compile for (or can match nothing on) contributes no
 * packet. @st (may be NULL) and @msg (may be NULL) are filled either way.
 * Thread: any; not in a process that has this ring open for writing (LMDB
 * allows one environment per process). Errors: -ENOENT no ring, -EINVAL a
 * bad query, or a filter that compiles for none of the link types (@msg has
 * libpcap's message), PT_E_BADFILE a malformed record or index entry,
 * PT_E_TRUNC a segment shorter than the index says, -errno (reading, or
 * writing @out); @msg says which. Output written before an error stays. */
int pt_ring_extract(const char *ring_dir, const struct pt_ring_query *q,
                    enum pt_ring_out_format fmt, FILE *out, struct pt_ring_extract_stats *st,
                    char *msg, size_t msglen);

struct pt_ring_status {
    uint64_t oldest_ns, newest_ns; /* first and last packet stored (0 when empty) */
    uint64_t segments;             /* segment files in the index */
    uint64_t bytes;                /* their committed bytes */
    uint64_t packets;
    uint64_t index_bytes;        /* the index's data file size */
    uint64_t disk_bytes;         /* the segment files' allocated size on disk */
    struct pt_ring_stats writer; /* the last writer's counters as of its last commit */
};

/* Fill @st from the index of @ring_dir (DATADIR/ring) in one read
 * transaction, and the files' sizes (stat). Thread and process: as
 * pt_ring_extract(). Errors: -ENOENT no ring, PT_E_BADFILE not a ring index
 * (or a newer version), -errno; @msg says which. */
int pt_ring_status_read(const char *ring_dir, struct pt_ring_status *st, char *msg, size_t msglen);

#endif
