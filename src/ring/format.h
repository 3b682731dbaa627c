/* format.h - the ring index's on-disk layout, shared by the writer
 * (writer.c, index.c) and the read side (extract.c, status.c).
 *
 * One LMDB environment in DATADIR/ring/index/ (data.mdb, lock.mdb), written
 * by the ring writer only. Named databases:
 *
 *   meta    "version"      -> u32 BE (RING_INDEX_VERSION)
 *           "stats"        -> struct pt_ring_stats (host order), the writer's
 *                             counters as of its last commit, cumulative over
 *                             every run that wrote this ring
 *           "iface" u16 BE -> interface name (no NUL): names of blocks' iface
 *   segs    u64 BE seq     -> struct ring_seg_rec
 *   blocks  (u64 BE seq, u32 BE block number) -> struct ring_blk_rec
 *   keys    (u64 BE seq, u8 kind, value) -> the segment's block numbers that
 *           hold a packet with this key: u32 BE each, ascending, no repeats
 *
 * Key kinds and their value bytes:
 *   RING_KEY_HOST  16: the address (IPv4 as ::ffff:a.b.c.d), any IP layer's
 *                      source or destination
 *   RING_KEY_PORT   2: u16 BE, any TCP/UDP/SCTP layer's source or destination
 *   RING_KEY_VLAN   2: u16 BE VLAN id, any tag of the frame (hw_vlan included)
 *   RING_KEY_FLOW   4: u32 BE pt_flow_hash() of the normalised key of any IP
 *                      layer with a key (pt_flow_key_make())
 *
 * Keys lead with the segment so that recycling a segment deletes one key
 * range per database (in the same transaction as its segs record), and a
 * lookup costs one get per segment in the time range.
 *
 * Invariants after every commit: every block of blocks lies within its
 * segment's valid_len; every key's blocks exist in blocks; a segs record
 * exists for every segment file the index names. Files of a seq without a
 * segs record are not part of the ring (reconcile deletes them). */
#ifndef PT_RING_FORMAT_H
#define PT_RING_FORMAT_H

#include <stdint.h>

#define RING_INDEX_VERSION 1u
#define RING_PCAP_MAGIC_NS 0xa1b23c4du
#define RING_PCAP_HDR      24u /* file header */
#define RING_REC_HDR       16u /* record header: ts_sec, ts_nsec, caplen, wirelen (host order) */

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
    uint32_t pad;      /* zero */
};

#define RING_SEG_NAME_FMT "seg-%016llx.pcap"

#endif
