/* read_internal.h - private to the ring's read side (extract.c, status.c):
 * the index opened read-only in one read transaction, and the decoding of
 * its records (src/ring/format.h has the layout). The writer's files
 * (writer.c, index.c, internal.h) do not use it. */
#ifndef PT_RING_READ_INTERNAL_H
#define PT_RING_READ_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <lmdb.h>

#include "format.h"
#include "pt/ring.h"

/* The index as a reader has it: its own environment (MDB_RDONLY), one read
 * transaction, the four databases. Caller storage; ring_rd_open() fills it,
 * ring_rd_close() undoes it (safe on a zeroed or half-opened one). */
struct ring_rd {
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi meta, segs, blocks, keys;
    bool empty; /* the writer has not committed its first transaction: no databases */
};

/* Open @ring_dir/index read-only and begin the read transaction (retried
 * when the writer has grown the map since). Checks meta "version".
 * Returns 0 (rd->empty when there is no database yet), or -ENOENT (no
 * index: no ring in @ring_dir), PT_E_BADFILE (not a ring index, or a
 * newer version), -errno; @msg says which. Not in a process that has the
 * same ring open for writing (LMDB: one environment per process). */
int ring_rd_open(struct ring_rd *rd, const char *ring_dir, char *msg, size_t msglen);

/* End the transaction (ring_rd_close() does it too). */
void ring_rd_end(struct ring_rd *rd);

void ring_rd_close(struct ring_rd *rd);

/* An LMDB return code as a project error: MDB_NOTFOUND -ENOENT, the
 * corruption codes PT_E_BADFILE, an errno as -errno, the rest -EIO. */
int ring_rd_err(int rc);

/* Decode one segs entry (@k, @d): its seq and record. PT_E_BADFILE when a
 * size is wrong. */
int ring_rd_seg(const MDB_val *k, const MDB_val *d, uint64_t *seq, struct ring_seg_rec *r);

static inline uint64_t ring_rd_be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

static inline uint32_t ring_rd_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void ring_rd_put64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static inline void ring_rd_put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

#endif
