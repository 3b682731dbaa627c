/* status.c - the ring's read side, part one: opening the index read-only
 * (shared with extract.c through read_internal.h) and pt_ring_status_read().
 *
 * DESIGN
 * 1. A reader opens its own LMDB environment on DIR/ring/index with
 *    MDB_RDONLY and reads everything it needs in one read transaction: a
 *    consistent snapshot of the last commit (MVCC), which never blocks the
 *    writer. The writer may have grown the map since the file was sized:
 *    mdb_txn_begin() then says MDB_MAP_RESIZED, and mdb_env_set_mapsize(env,
 *    0) adopts the file's size before trying again.
 * 2. An index whose environment exists but holds no database yet (a writer
 *    between mdb_env_open() and its first commit) reads as an empty ring.
 *    A "version" other than RING_INDEX_VERSION is refused with both
 *    versions in the message: its records do not mean what format.h says
 *    (an older build's lists are u32 arrays, its host keys 16 bytes).
 * 3. Status sums the segs records (span, bytes, packets) of the snapshot;
 *    the files' allocated size comes from stat() (st_blocks), so a segment
 *    recycled after the snapshot simply counts 0 there. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "read_internal.h"

#define RD_MAXDBS 8

int ring_rd_err(int rc)
{
    switch (rc) {
    case 0:
        return 0;
    case MDB_NOTFOUND:
        return -ENOENT;
    case MDB_INVALID:
    case MDB_VERSION_MISMATCH:
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
    case MDB_INCOMPATIBLE:
        return PT_E_BADFILE;
    case MDB_READERS_FULL:
        return -EBUSY;
    case MDB_MAP_RESIZED:
        return -EAGAIN;
    default:
        return rc > 0 ? -rc : -EIO;
    }
}

static int txn_begin(struct ring_rd *rd)
{
    int rc = 0;

    for (int tries = 0; tries < 4; tries++) {
        rc = mdb_txn_begin(rd->env, NULL, MDB_RDONLY, &rd->txn);
        if (rc != MDB_MAP_RESIZED)
            break;
        rd->txn = NULL;
        if ((rc = mdb_env_set_mapsize(rd->env, 0)) != 0)
            break;
        rc = MDB_MAP_RESIZED;
    }
    if (rc)
        rd->txn = NULL;
    return rc;
}

/* The databases and the version (DESIGN 2). */
static int open_dbis(struct ring_rd *rd, const char *path, char *msg, size_t msglen)
{
    static const char *const names[] = {"segs", "blocks", "keys"};
    MDB_dbi *dbi[] = {&rd->segs, &rd->blocks, &rd->keys};
    MDB_val k = {7, "version"}, d;
    int rc;

    rc = mdb_dbi_open(rd->txn, "meta", 0, &rd->meta);
    if (rc == MDB_NOTFOUND) {
        rd->empty = true;
        return 0;
    }
    for (size_t i = 0; rc == 0 && i < PT_ARRAY_LEN(names); i++)
        if ((rc = mdb_dbi_open(rd->txn, names[i], 0, dbi[i])) == MDB_NOTFOUND)
            snprintf(msg, msglen, "%s: not a ring index (no \"%s\" database)", path, names[i]);
    if (rc == MDB_INCOMPATIBLE)
        snprintf(msg, msglen, "%s: not a ring index", path);
    if (rc)
        return rc == MDB_NOTFOUND ? PT_E_BADFILE : ring_rd_err(rc);
    if ((rc = mdb_get(rd->txn, rd->meta, &k, &d)) != 0 || d.mv_size != 4) {
        snprintf(msg, msglen, "%s: not a ring index (no version)", path);
        return rc && rc != MDB_NOTFOUND ? ring_rd_err(rc) : PT_E_BADFILE;
    }
    uint32_t v = ring_rd_be32(d.mv_data);
    if (v != RING_INDEX_VERSION) {
        snprintf(msg, msglen,
                 "%s: ring index version %u, of an %s build; this program reads version %u", path,
                 v, v < RING_INDEX_VERSION ? "older" : "newer", RING_INDEX_VERSION);
        return PT_E_BADFILE;
    }
    return 0;
}

int ring_rd_open(struct ring_rd *rd, const char *ring_dir, char *msg, size_t msglen)
{
    char path[PATH_MAX];
    struct stat st;
    int rc;

    memset(rd, 0, sizeof *rd);
    if ((size_t)snprintf(path, sizeof path, "%s/index", ring_dir) >= sizeof path - 16) {
        snprintf(msg, msglen, "%s: path too long", ring_dir);
        return -ENAMETOOLONG;
    }
    if (stat(path, &st) != 0) {
        rc = -errno;
        snprintf(msg, msglen, "no ring in %s (%s: %s)", ring_dir, path, strerror(errno));
        return rc == -ENOTDIR ? -ENOENT : rc;
    }
    if (!S_ISDIR(st.st_mode)) {
        snprintf(msg, msglen, "no ring in %s (%s is not a directory)", ring_dir, path);
        return -ENOENT;
    }
    if ((rc = mdb_env_create(&rd->env)) != 0 || (rc = mdb_env_set_maxdbs(rd->env, RD_MAXDBS)) ||
        (rc = mdb_env_open(rd->env, path, MDB_RDONLY | MDB_NOTLS, 0644)) != 0) {
        if (rc == ENOENT)
            snprintf(msg, msglen, "no ring in %s (%s holds no index)", ring_dir, path);
        else
            snprintf(msg, msglen, "%s: %s", path, mdb_strerror(rc));
        rc = ring_rd_err(rc);
        goto err;
    }
    if ((rc = txn_begin(rd)) != 0) {
        snprintf(msg, msglen, "%s: read transaction: %s", path, mdb_strerror(rc));
        rc = ring_rd_err(rc);
        goto err;
    }
    if ((rc = open_dbis(rd, path, msg, msglen)) < 0)
        goto err;
    return 0;
err:
    ring_rd_close(rd);
    return rc;
}

void ring_rd_end(struct ring_rd *rd)
{
    if (rd->txn)
        mdb_txn_abort(rd->txn);
    rd->txn = NULL;
}

void ring_rd_close(struct ring_rd *rd)
{
    ring_rd_end(rd);
    if (rd->env)
        mdb_env_close(rd->env);
    rd->env = NULL;
}

int ring_rd_seg(const MDB_val *k, const MDB_val *d, uint64_t *seq, struct ring_seg_rec *r)
{
    if (k->mv_size != 8 || d->mv_size != sizeof *r)
        return PT_E_BADFILE;
    *seq = ring_rd_be64(k->mv_data);
    memcpy(r, d->mv_data, sizeof *r);
    return 0;
}

/* ---- status ---- */

/* Allocated bytes of segment @seq's file; 0 when it is gone. */
static uint64_t seg_disk_bytes(const char *ring_dir, uint64_t seq)
{
    char path[PATH_MAX + 32], name[32];
    struct stat st;

    snprintf(name, sizeof name, RING_SEG_NAME_FMT, (unsigned long long)seq);
    snprintf(path, sizeof path, "%s/%s", ring_dir, name);
    return stat(path, &st) == 0 ? (uint64_t)st.st_blocks * 512u : 0;
}

static int status_segs(struct ring_rd *rd, const char *ring_dir, struct pt_ring_status *st,
                       char *msg, size_t msglen)
{
    struct ring_seg_rec r;
    MDB_cursor *c;
    MDB_val k, d;
    uint64_t seq;
    int rc;

    if ((rc = mdb_cursor_open(rd->txn, rd->segs, &c)) != 0)
        return ring_rd_err(rc);
    for (rc = mdb_cursor_get(c, &k, &d, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &k, &d, MDB_NEXT)) {
        if (ring_rd_seg(&k, &d, &seq, &r) < 0) {
            snprintf(msg, msglen, "%s: a segs record of %zu bytes (expected %zu)", ring_dir,
                     d.mv_size, sizeof r);
            mdb_cursor_close(c);
            return PT_E_BADFILE;
        }
        st->segments++;
        st->bytes += r.valid_len;
        st->packets += r.packets;
        st->disk_bytes += seg_disk_bytes(ring_dir, seq);
        if (r.packets == 0)
            continue;
        if (st->oldest_ns == 0 || r.first_ns < st->oldest_ns)
            st->oldest_ns = r.first_ns;
        if (r.last_ns > st->newest_ns)
            st->newest_ns = r.last_ns;
    }
    mdb_cursor_close(c);
    return rc == MDB_NOTFOUND ? 0 : ring_rd_err(rc);
}

int pt_ring_status_read(const char *ring_dir, struct pt_ring_status *st, char *msg, size_t msglen)
{
    char path[PATH_MAX + 32], dummy[8];
    struct ring_rd rd;
    struct stat sb;
    MDB_val k = {5, "stats"}, d;
    int rc;

    if (!msg || !msglen) {
        msg = dummy;
        msglen = sizeof dummy;
    }
    msg[0] = '\0';
    memset(st, 0, sizeof *st);
    if ((rc = ring_rd_open(&rd, ring_dir, msg, msglen)) < 0)
        return rc;
    snprintf(path, sizeof path, "%s/index/data.mdb", ring_dir);
    if (stat(path, &sb) == 0)
        st->index_bytes = (uint64_t)sb.st_size;
    if (rd.empty)
        goto out;
    if ((rc = status_segs(&rd, ring_dir, st, msg, msglen)) < 0)
        goto out;
    rc = mdb_get(rd.txn, rd.meta, &k, &d);
    if (rc == 0) {
        /* a record of another version gives the counters the two share */
        ring_stats_decode(&st->writer, d.mv_data, d.mv_size);
    } else if (rc != MDB_NOTFOUND) {
        snprintf(msg, msglen, "%s: reading the counters: %s", ring_dir, mdb_strerror(rc));
        rc = ring_rd_err(rc);
        goto out;
    }
    rc = 0;
out:
    ring_rd_close(&rd);
    return rc;
}
