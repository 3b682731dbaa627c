/* format.h - the ring index's on-disk layout, shared by the writer
 * (writer.c, index.c) and the read side (extract.c, status.c).
 *
 * One LMDB environment in DATADIR/ring/index/ (data.mdb, lock.mdb), written
 * by the ring writer only. Named databases:
 *
 *   meta    "version"      -> u32 BE (RING_INDEX_VERSION)
 *           "stats"        -> u64[] (host order): the writer's counters as of
 *                             its last commit, cumulative over every run that
 *                             wrote this ring, in ring_stats_slot[] order
 *           "iface" u16 BE -> interface name (no NUL): names of blocks' iface
 *   segs    u64 BE seq     -> struct ring_seg_rec
 *   blocks  (u64 BE seq, u32 BE block number) -> struct ring_blk_rec, then
 *           parts - 1 u32 (host order): where parts 1.. of the block begin
 *   keys    (u64 BE seq, u8 kind, value) -> the parts of the segment's
 *           blocks that hold a packet with this key, as part numbers
 *           (block * RING_PARTS + part), ascending, no repeats, as a list
 *           of unsigned LEB128 varints: the first number, then each
 *           difference to the previous one (>= 1)
 *
 * Parts. A block (at most RING_PARTS * RING_PART_SIZE bytes of whole
 * records) is cut into parts: a record belongs to part p when it begins
 * at an offset in [p * RING_PART_SIZE, (p + 1) * RING_PART_SIZE) of the
 * block. Part p's records are the bytes from its begin offset (0 for part
 * 0; an empty part begins where the next one does) to the next part's, or
 * to the block's end. A key names parts, so extraction reads 16 KiB where
 * the key's packets are rather than the whole block: bench/ring's host of
 * 1e-4 of the packets lay in 56 blocks (14.4 MB) but in 73 parts (1.2 MB),
 * for 0.05 % more of the ring in the index.
 *
 * Key kinds and their value bytes:
 *   RING_KEY_HOST  4 or 16: the address, any IP layer's source or
 *                      destination: an IPv4 address (and an IPv6
 *                      ::ffff:a.b.c.d) as its 4 bytes, any other IPv6
 *                      address as its 16 (ring_host_key())
 *   RING_KEY_PORT   2: u16 BE, any TCP/UDP/SCTP layer's source or destination
 *   RING_KEY_VLAN   2: u16 BE VLAN id, any tag of the frame (hw_vlan included)
 *   RING_KEY_FLOW   4: u32 BE pt_flow_hash() of the normalised key of any IP
 *                      layer with a key (pt_flow_key_make())
 *
 * Size (docs/PERFORMANCE.md): a commit replaces a segment's whole key
 * range with its keys in key order (MDB_APPEND when it is the last
 * range), so pages are full; the varint lists take 1-2 bytes a block
 * where a u32 took 4.
 *
 * Keys lead with the segment so that recycling a segment deletes one key
 * range per database (in the same transaction as its segs record), and a
 * lookup costs one get per segment in the time range.
 *
 * Reused files. A new segment usually takes the file of the segment the
 * bound recycles (renamed to the new seq, rewritten in place), so until it
 * is closed and cut to its length, the file may hold the old segment's
 * bytes past what was written. The writer keeps RING_STALE_MARK right
 * after its last record there: a record header no pcap reader accepts
 * (libpcap stops at it with "invalid packet capture length"), so reading
 * the open segment never runs into the old packets. Readers of the index
 * never read past valid_len.
 *
 * Invariants after every commit: every block of blocks lies within its
 * segment's valid_len; every key's blocks exist in blocks; a segs record
 * exists for every segment file the index names. Files of a seq without a
 * segs record are not part of the ring (reconcile deletes them). */
#ifndef PT_RING_FORMAT_H
#define PT_RING_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "pt/ring.h"

/* 2: varint lists of parts, 4-byte IPv4 host keys (1: u32 BE lists of
 * blocks, hosts of 16 bytes). A reader or writer of one version refuses the
 * others. */
#define RING_INDEX_VERSION 2u
#define RING_PCAP_MAGIC_NS 0xa1b23c4du
#define RING_PCAP_HDR      24u /* file header */
#define RING_REC_HDR       16u /* record header: ts_sec, ts_nsec, caplen, wirelen (host order) */
#define RING_PART_SIZE     (16u << 10) /* bytes of a block's part (see Parts) */
#define RING_PARTS         16u         /* parts of a block at most: blocks hold at most 256 KiB */
#define RING_STALE_MARK                                                                            \
    0xffffffffu /* every field of the record header after the last record                          \
                 * of a reused file (see Reused files) */

enum ring_key_kind {
    RING_KEY_HOST = 1,
    RING_KEY_PORT = 2,
    RING_KEY_VLAN = 3,
    RING_KEY_FLOW = 4,
};

struct ring_seg_rec {
    uint64_t first_ns, last_ns; /* packet time span (min, max) of its committed blocks */
    uint64_t valid_len;         /* committed bytes, pcap header included */
    uint64_t packets;           /* committed records */
    uint32_t linktype;          /* the pcap header's network field */
    uint32_t blocks;            /* committed blocks (numbered 0 .. blocks - 1) */
    uint32_t closed;            /* 1: complete, the file is cut to valid_len */
    uint32_t snaplen;           /* the pcap header's snaplen */
};

struct ring_blk_rec {
    uint64_t off;               /* file offset of its first record */
    uint64_t first_ns, last_ns; /* min and max packet time in it */
    uint32_t len;               /* bytes: whole records */
    uint32_t packets;
    uint16_t iface;    /* the run's interface index of its packets (one per block) */
    uint16_t producer; /* the staging area it came from */
    uint32_t parts;    /* 1 .. RING_PARTS (0 reads as 1); the value goes on with the
                        * begin offsets of parts 1 .. parts - 1 */
};

#define RING_SEG_NAME_FMT "seg-%016llx.pcap"

/* The key value of host address @a (16 bytes, IPv4 as ::ffff:a.b.c.d) into
 * @out: its length, 4 or 16. */
static inline uint8_t ring_host_key(const uint8_t a[16], uint8_t out[16])
{
    static const uint8_t v4[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

    if (!memcmp(a, v4, sizeof v4)) {
        memcpy(out, a + 12, 4);
        return 4;
    }
    memcpy(out, a, 16);
    return 16;
}

/* Bytes of the varint @v. */
static inline unsigned ring_varint_len(uint32_t v)
{
    unsigned n = 1;

    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

/* Write the varint @v at @p: the byte after it. */
static inline uint8_t *ring_varint_put(uint8_t *p, uint32_t v)
{
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

/* Read a varint from [*@p, @end) into @v, advancing *@p. False when it is
 * cut by @end or does not fit in 32 bits. */
static inline bool ring_varint_get(const uint8_t **p, const uint8_t *end, uint32_t *v)
{
    uint64_t x = 0;

    for (unsigned shift = 0; *p < end && shift < 35; shift += 7) {
        uint8_t b = *(*p)++;
        x |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = (uint32_t)x;
            return x <= UINT32_MAX;
        }
    }
    return false;
}

/* The stored counters: "stats" holds one u64 per slot, in this order. New
 * counters are appended, never inserted, so a ring written by an older
 * version reads back with its known slots and zeros for the rest. Slot 16
 * held the `degraded` flag (a bool then padding): it is not a counter and
 * is neither stored nor read. */
#define RING_STAT_NONE SIZE_MAX
static const size_t ring_stats_slot[] = {
    offsetof(struct pt_ring_stats, packets),
    offsetof(struct pt_ring_stats, bytes),
    offsetof(struct pt_ring_stats, wire_bytes),
    offsetof(struct pt_ring_stats, lost_full_pkts),
    offsetof(struct pt_ring_stats, lost_full_bytes),
    offsetof(struct pt_ring_stats, lost_io_pkts),
    offsetof(struct pt_ring_stats, lost_io_bytes),
    offsetof(struct pt_ring_stats, cutoff_pkts),
    offsetof(struct pt_ring_stats, cutoff_bytes),
    offsetof(struct pt_ring_stats, segments_created),
    offsetof(struct pt_ring_stats, segments_recycled),
    offsetof(struct pt_ring_stats, segments_early),
    offsetof(struct pt_ring_stats, index_commits),
    offsetof(struct pt_ring_stats, index_errors),
    offsetof(struct pt_ring_stats, write_errors),
    offsetof(struct pt_ring_stats, reconciled_bytes),
    RING_STAT_NONE,
    offsetof(struct pt_ring_stats, bad_time_pkts),
    offsetof(struct pt_ring_stats, cutoff_resets),
    offsetof(struct pt_ring_stats, index_lost_keys),
};
#define RING_STATS_SLOTS (sizeof ring_stats_slot / sizeof ring_stats_slot[0])

/* @st as the stored array @v (RING_STATS_SLOTS values). */
static inline void ring_stats_encode(const struct pt_ring_stats *st, uint64_t *v)
{
    for (size_t i = 0; i < RING_STATS_SLOTS; i++) {
        v[i] = 0;
        if (ring_stats_slot[i] != RING_STAT_NONE)
            memcpy(&v[i], (const char *)st + ring_stats_slot[i], sizeof v[i]);
    }
}

/* Counters from a stored value of @size bytes (any length: extra slots of
 * a newer version are ignored, missing ones read as 0); degraded = false. */
static inline void ring_stats_decode(struct pt_ring_stats *st, const void *data, size_t size)
{
    memset(st, 0, sizeof *st);
    for (size_t i = 0; i < RING_STATS_SLOTS && (i + 1) * sizeof(uint64_t) <= size; i++)
        if (ring_stats_slot[i] != RING_STAT_NONE)
            memcpy((char *)st + ring_stats_slot[i], (const char *)data + i * sizeof(uint64_t),
                   sizeof(uint64_t));
}

#endif
