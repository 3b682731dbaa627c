/* internal.h - private to the ring's write side (writer.c, index.c,
 * closer.c, keyer.c): the staging chunks and their queues, the open
 * segment and its in-memory key map, and the index environment as the
 * writer has it. Nothing here is part
 * of the public contract; include/pt/ring.h is. The read side (extract.c,
 * status.c) has its own read_internal.h and shares only format.h. */
#ifndef PT_RING_INTERNAL_H
#define PT_RING_INTERNAL_H

#include <pthread.h>
#include <stdalign.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <lmdb.h>

#include "format.h"
#include "pt/decode.h"
#include "pt/ring.h"

#define RING_KEY_MAX    16          /* longest key value (a host address) */
#define RING_IFNAME_MAX 256         /* bytes kept of an interface name, NUL included */
#define RING_PATH_MAX   (4096 + 64) /* the ring's directory, a file name in it */

/* ---- staging ---- */

/* A staging chunk: complete pcap records (16-byte header, then the bytes)
 * of one interface and one link type. Owned by its producer while it is
 * the producer's current chunk or in the free queue, by the writer while it
 * is in the full queue or being written, by the keyer (keyer.c) from the
 * writer's ring_keyer_submit() until it pushes it onto the free queue. */
/* Bytes after each chunk's buffer: the writer appends RING_STALE_MARK
 * there when it writes the chunk into a reused file (format.h), so that one
 * pwrite() carries both. A cache line, so buffers stay aligned. */
#define RING_CHUNK_SLACK 64u

struct ring_chunk {
    uint8_t *buf;               /* chunk_size bytes, part of the producer's slab, then
                                 * RING_CHUNK_SLACK that only the writer uses */
    uint32_t len;               /* bytes used: whole records */
    uint32_t packets;           /* records in it */
    uint64_t first_ns, last_ns; /* min and max packet time */
    uint64_t wire;              /* sum of the records' wire lengths */
    uint64_t born_ns;           /* monotonic time of the first pt_ring_flush() that saw
                                 * it holding packets; 0 = none yet */
    int linktype;
    uint16_t iface;
    /* set by the writer for the keyer (keyer.c), read by it */
    struct ring_keymap *k_map;  /* the segment whose blocks these are; NULL: none */
    struct ring_chunk_blk *blk; /* k_n of the chunk's blocks (room for writer.c blocks_max()) */
    uint32_t k_n;
    struct ring_spsc *home; /* its producer's free queue: the keyer gives it back */
};

/* One block of a chunk for the keyer: records [off, off + len) of the
 * chunk, block @no of the segment. */
struct ring_chunk_blk {
    uint32_t off, len, no;
};

/* Single-producer single-consumer queue of chunk pointers, at most cap
 * entries. head and tail are free-running counters (only tail - head and
 * their low bits are used, so wrapping is harmless); entry i is in
 * slot[i & mask], mask + 1 a power of two >= cap. The consumer reads a slot
 * before it release-stores head; the producer acquire-loads head before it
 * overwrites a slot, and release-stores tail after filling it. */
struct ring_spsc {
    struct ring_chunk **slot;
    uint32_t cap, mask;
    alignas(PT_CACHELINE) uint32_t head; /* written by the consumer only */
    alignas(PT_CACHELINE) uint32_t tail; /* written by the producer only */
};

/* writer.c: an empty queue of at most @cap entries (slots allocated; the
 * owner frees q->slot). 0 or -ENOMEM. */
int ring_spsc_init(struct ring_spsc *q, uint32_t cap);

/* Producer side. False when the queue is full. */
static inline bool ring_spsc_push(struct ring_spsc *q, struct ring_chunk *c)
{
    uint32_t t = __atomic_load_n(&q->tail, __ATOMIC_RELAXED);
    uint32_t h = __atomic_load_n(&q->head, __ATOMIC_ACQUIRE);

    if (t - h >= q->cap)
        return false;
    q->slot[t & q->mask] = c;
    __atomic_store_n(&q->tail, t + 1, __ATOMIC_RELEASE);
    return true;
}

/* Consumer side. NULL when the queue is empty. */
static inline struct ring_chunk *ring_spsc_pop(struct ring_spsc *q)
{
    uint32_t h = __atomic_load_n(&q->head, __ATOMIC_RELAXED);
    uint32_t t = __atomic_load_n(&q->tail, __ATOMIC_ACQUIRE);
    struct ring_chunk *c;

    if (h == t)
        return NULL;
    c = q->slot[h & q->mask];
    __atomic_store_n(&q->head, h + 1, __ATOMIC_RELEASE);
    return c;
}

/* ---- a segment's key map (the writer's; the keyer's between a submit and
 * the writer's next ring_keyer_sync(), keyer.c DESIGN 3) ---- */

/* One key of a segment: the parts of blocks holding a packet with it
 * (part numbers, format.h: block * RING_PARTS + part). */
struct ring_key {
    uint8_t kind; /* enum ring_key_kind */
    uint8_t vlen; /* value bytes */
    bool dirty;   /* on the map's dirty list */
    uint8_t val[RING_KEY_MAX];
    uint32_t n, cap;
    uint32_t last; /* blk[n - 1] when n: read without touching blk */
    uint32_t *blk; /* ascending part numbers, no repeats; owned */
};

/* Open addressing over a dense array: slot[] holds 0 or an index + 1.
 * dirty[] lists the entries that gained a part since a commit took them
 * (index.c DESIGN 1); it has room for every entry (cap), so marking a key
 * dirty again never allocates. */
struct ring_keymap {
    struct ring_key *ent;
    uint32_t n, cap;
    uint32_t *slot;
    uint32_t nslot;  /* power of two, >= 2 * cap */
    uint32_t *dirty; /* indices into ent, cap of them allocated */
    uint32_t n_dirty;
    uint64_t oom; /* keys that could not be recorded (no memory) */
};

/* Some key gained a part that no commit has taken yet. */
static inline bool ring_keys_dirty(const struct ring_keymap *m)
{
    return m->n_dirty > 0;
}

/* A block written to the file but not committed to the index yet. */
struct ring_blk_pend {
    uint32_t no;
    struct ring_blk_rec rec;
    uint32_t part_off[RING_PARTS - 1]; /* begin of parts 1 .. rec.parts - 1 */
    uint64_t wire;                     /* its packets' wire bytes */
};

/* A segment the writer has open, or has closed but not yet committed.
 * Writer thread only, but for its keys, which the keyer fills between a
 * submit and the writer's next ring_keyer_sync() (keyer.c DESIGN 3); the
 * closer sees copies of its fields (ring_part). */
struct ring_seg {
    struct ring_seg *next; /* the writer's list of closed, uncommitted segments */
    uint64_t seq;
    int fd;  /* the writer's: pwrite, writeback; -1 once closed */
    int cfd; /* the closer's own open file description (fdatasync, the close): its
              * writeback errors are its own, whatever the writer's waits consumed;
              * -1 once handed over with the close */
    uint32_t linktype, snaplen;
    uint64_t len;     /* bytes written, the pcap header included */
    uint64_t stale;   /* a reused file: its size when taken (the old segment's bytes lie in
                       * [len, stale)); 0 for a new file */
    uint64_t pushed;  /* bytes whose writeback the writer has waited for (without error) and
                       * dropped from the page cache: what a commit of the open segment
                       * may name */
    uint64_t started; /* bytes whose writeback the writer has started (sync_file_range
                       * WRITE): at least pushed, at most len */
    uint32_t blocks;  /* blocks written (numbered 0 .. blocks - 1) */
    uint64_t packets, bytes, wire;       /* written: records, their file bytes, wire bytes */
    uint64_t first_ns, last_ns;          /* written span */
    uint64_t c_packets, c_bytes, c_wire; /* of those, committed */
    uint64_t c_len;                      /* committed bytes (valid_len of the last commit) */
    uint32_t c_blocks;                   /* committed blocks */
    uint64_t c_first_ns, c_last_ns;      /* committed span */
    bool closed;                         /* no more writes: the writer closed it */
    bool close_pending;                  /* closed, the closer has not been handed the close yet */
    bool in_flight;                      /* part of the batch the closer is working on */
    bool rec_dirty;                      /* the segs record must be (re)written */
    struct ring_blk_pend *pend;          /* the blocks not committed yet, in order */
    uint32_t n_pend, cap_pend;
    struct ring_keymap keys;
};

/* ---- the index environment (writer thread; open/close in the caller's) ---- */

struct ring_index {
    MDB_env *env;
    MDB_dbi meta, segs, blocks, keys;
    uint64_t map_soft; /* commits run with the map at most this */
    uint64_t map_max;  /* deletions that make room may use up to this */
};

/* A segment of the ring as the bound sees it: seq and bytes on disk (the
 * open segment counts its whole preallocation). Kept sorted by seq. */
struct ring_segent {
    uint64_t seq;
    uint64_t size;
};

/* An interface name to store in meta. */
struct ring_ifname {
    uint16_t iface;
    bool dirty;
    char name[RING_IFNAME_MAX];
};

/* ---- the closer thread (closer.c) ---- */

/* What one batch does to one segment. Built by the writer from its
 * ring_seg: copies, but for a closed segment's key map, which the part
 * borrows (it never changes again, and the writer leaves a segment in
 * flight alone). */
struct ring_part {
    struct ring_seg *seg; /* the writer's, for the answer; the closer does not use it */
    uint64_t seq;
    int fd;            /* the segment's cfd: borrowed, or the batch's with close */
    bool sync;         /* fdatasync(fd) before the txn (new blocks, with cfg.sync) */
    bool close;        /* cut to rec.valid_len, punch the preallocation, sync, drop the
                        * pages, close(fd) */
    uint64_t prealloc; /* bytes preallocated: the punch's end */
    uint64_t c_len;    /* valid_len of the last commit: a failed sync at close cuts back */
    struct ring_seg_rec rec;
    struct ring_blk_pend *blk; /* the uncommitted blocks; owned */
    uint32_t n_blk;
    /* the keys (index.c DESIGN 2), one of: */
    uint8_t *keys;     /* open segment: the dirty keys' lists, ring_keys_take() format;
                        * owned; NULL: none, the txn leaves the keys as they are */
    uint32_t *key_ids; /* their entries in the segment's map (re-marked if the txn fails) */
    size_t keys_len;
    uint32_t n_keys;
    const struct ring_keymap *all;       /* closed segment: its whole map, borrowed (the writer
                                          * leaves an in-flight closed segment's map alone);
                                          * the txn rewrites its key range, sorted */
    uint32_t key_limit;                  /* the first part number the txn may not name */
    uint64_t packets, bytes, wire;       /* the segment's written totals at capture */
    uint64_t d_packets, d_bytes, d_wire; /* of those, not committed before */
    uint32_t blocks;                     /* blocks at capture */
    int rc;                              /* out: the sync (0 or -errno); not 0: not committed */
};

/* One hand-over to the closer: recycled segments to drop (their index
 * entries, then their files), then the segments' syncs and closes, then one
 * LMDB txn with what synced, the counters and the interface names. */
struct ring_batch {
    uint64_t *drops; /* seqs; owned */
    int *drop_rc;    /* out, one per drop */
    unsigned n_drops;
    struct ring_part *parts; /* owned */
    unsigned n_parts;
    struct pt_ring_stats st; /* to store; the closer moves what failed to sync to lost_io */
    struct ring_ifname *ifn; /* owned */
    unsigned n_if;
    int rc;          /* out: the txn's result */
    uint64_t txn_ns; /* out: time in ring_index_commit() */
    uint64_t put;    /* out: keys it wrote */
};

/* The keyer thread (keyer.c): keys the blocks of written chunks into their
 * segments' key maps, then gives each chunk back to its producer. */
struct ring_keyer {
    struct ring_spsc q; /* written chunks: writer -> keyer, room for every chunk */
    pthread_t thread;
    bool started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop;                  /* under mu */
    bool sleeping;              /* atomic: the keyer waits on cv */
    uint64_t submitted;         /* atomic, written by the writer: chunks handed over */
    uint64_t done;              /* atomic, written by the keyer: chunks keyed and given back */
    uint64_t lost_keys;         /* atomic, written by the keyer: keys not recorded (no memory) */
    struct pt_decode_stats dst; /* the keyer's */
};

/* keyer.c. Thread: the writer for all but the keyer's own loop. */
int ring_keyer_start(struct ring_keyer *k, uint32_t chunks);
/* Hand chunk @c over: c->k_map and c->blk name what to key (k_n may be 0:
 * only give it back). The queue has room for every chunk: never fails. */
void ring_keyer_submit(struct ring_keyer *k, struct ring_chunk *c);
/* Wait until every chunk handed over is keyed and given back: after it,
 * the writer may read and change any key map until its next submit. */
void ring_keyer_sync(struct ring_keyer *k);
/* After the last sync: stop and join the thread, free the queue. */
void ring_keyer_stop(struct ring_keyer *k);

/* The closer thread and its hand-over: at most one batch at a time, under
 * mu (a few times a second, never per packet). */
struct ring_closer {
    pthread_t thread;
    bool started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct ring_batch *job; /* under mu: submitted, until the writer takes the answer */
    bool busy;              /* under mu: job is not finished */
    bool stop;              /* under mu */
    bool done;              /* atomic: job is finished (the writer polls it without mu) */
    /* set before the thread starts */
    struct ring_index *ix;
    const char *dir;
};

/* closer.c. Thread: the writer for all but the closer's own loop. */
int ring_closer_start(struct ring_closer *c, struct ring_index *ix, const char *dir);
/* Hand @b over (ownership moves until it comes back). At most one in flight. */
void ring_closer_submit(struct ring_closer *c, struct ring_batch *b);
/* The finished batch, or NULL (not finished, or nothing in flight). @wait:
 * block until the batch in flight is finished. */
struct ring_batch *ring_closer_take(struct ring_closer *c, bool wait);
/* After the last batch was taken: stop and join the thread. */
void ring_closer_stop(struct ring_closer *c);
void ring_batch_free(struct ring_batch *b);

/* index.c: LMDB. */

/* Open (create) DIR/index and its databases, check and set the version,
 * and load the previous writers' counters into @base. Returns 0 or
 * PT_E_BADFILE (not a ring index, newer version), -errno; @msg says why. */
int ring_index_open(struct ring_index *ix, const char *dir, const struct pt_ring_config *c,
                    struct pt_ring_stats *base, char *msg, size_t msglen);

void ring_index_close(struct ring_index *ix);

/* Reconcile the index with the files of @dir (docs/RING.md "Crash"): cut
 * every segment file to its committed valid_len and mark it closed, delete
 * files without a segs record and the entries of seqs without a file or
 * without a segs record. Fills @list (malloc'd, sorted by seq; caller
 * frees) with the surviving segments, @next_seq with the seq the next
 * segment gets, @cut with the bytes cut off. Returns 0 or -errno. */
int ring_index_reconcile(struct ring_index *ix, const char *dir, struct ring_segent **list,
                         size_t *n, uint64_t *next_seq, uint64_t *cut, char *msg, size_t msglen);

/* One transaction: the blocks, keys and segs record of each of the @n
 * parts whose rc is 0, the counters @st and the dirty interface names. A
 * part's dirty keys replace those keys' values; a closed segment's whole
 * map replaces its key range (sorted here, appended in key order).
 * *@put gets the number of keys written (the last try's).
 * Changes nothing in memory. Returns 0, PT_E_FULL (the map is at its
 * limit), or another error (-ENOSPC, -EIO, ...). */
int ring_index_commit(struct ring_index *ix, const struct ring_part *parts, unsigned n,
                      const struct pt_ring_stats *st, const struct ring_ifname *ifn, unsigned n_if,
                      uint64_t *put);

/* One transaction deleting @seq's segs record, blocks and keys (run with
 * the map at its hard limit, so it finds pages to copy into when the map is
 * full). Returns 0 or an error. */
int ring_index_drop(struct ring_index *ix, uint64_t seq);

/* index.c: the key map. */

/* Decode each record of @buf (a block: whole records) and add its part of
 * block @bno (format.h: by the record's offset in @buf) to the key of every
 * host, port, VLAN and flow hash it carries. Thread: the keyer (keyer.c),
 * or whoever owns @m when no keyer runs (tests). */
void ring_keys_add_block(struct ring_keymap *m, struct pt_decode_stats *st, const uint8_t *buf,
                         uint32_t len, int linktype, uint16_t iface, uint32_t bno);

/* The dirty keys' lists, cut to the parts under @limit (a part number;
 * keys with none there left out), serialized into @buf (malloc'd, *@len
 * bytes; NULL when none): per key u8 kind, u8 vlen, u32 n (host order),
 * vlen value bytes, n u32 part numbers (host order, ascending); @ids
 * (malloc'd) their entries, *@n of them. A key stays dirty only if it
 * lists a part at or over @limit. -ENOMEM leaves the map as it was. */
int ring_keys_take(struct ring_keymap *m, uint32_t limit, uint8_t **buf, size_t *len,
                   uint32_t **ids, uint32_t *n);

/* A commit of what ring_keys_take() gave failed: keys @ids are dirty
 * again (never allocates). */
void ring_keys_redirty(struct ring_keymap *m, const uint32_t *ids, uint32_t n);

/* A commit wrote the whole map up to part @limit: every key that lists no
 * part at or over it is clean. */
void ring_keys_written(struct ring_keymap *m, uint32_t limit);

/* Forget the parts of blocks @bno and later: every list loses them, and
 * every key is clean, since what stays is what the last commit wrote
 * (blocks @bno.. were the uncommitted ones). */
void ring_keys_truncate(struct ring_keymap *m, uint32_t bno);

void ring_keys_fini(struct ring_keymap *m);

/* Writeback calls, through pointers so that the fault tests can make them
 * fail (no device-mapper in a test bed): fdatasync(2) and
 * sync_file_range(2), and the index's mdb_txn_commit() (index.c: a
 * replacement that fails must free the txn, as mdb_txn_commit() does). Set
 * only before a ring opens. */
extern int (*ring_fdatasync)(int fd);
extern int (*ring_sync_range)(int fd, off64_t off, off64_t len, unsigned int flags);
extern int (*ring_txn_commit)(MDB_txn *txn);

/* Segment file name of @seq under @dir. */
void ring_seg_path(char *buf, size_t len, const char *dir, uint64_t seq);

/* An LMDB return code as a project error (-errno, PT_E_FULL, PT_E_BADFILE);
 * an errno passes as -errno, a negative error of ours as it is. */
int ring_mdb_err(int rc);

#endif
