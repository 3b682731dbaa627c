/* closer.c - the ring's closer thread: everything that waits for the disk
 * or the index, off the writer thread, so that writing a chunk never waits
 * for a journal commit or a device cache flush. writer.c decides what goes
 * into a batch and what its answer means; docs/RING.md has the design.
 *
 * DESIGN
 * 1. Why. Closing a 256 MiB segment (cut, punch, fdatasync) took about
 *    190 ms, a commit's fdatasync of the open segment 15-80 ms, and every
 *    LMDB txn with sync two more flushes. On the writer thread each of
 *    them stopped the chunk path; producers without a free chunk dropped.
 * 2. Hand-over. The writer builds a batch (ring_batch: copies of the
 *    blocks, the open segment's dirty keys and segs records to commit, a
 *    closed segment's key map borrowed (index.c DESIGN 2b), descriptors
 *    to sync or close, seqs to drop) and submits it; at most one is in flight, under
 *    one mutex and condition variable. The closer answers in the same
 *    batch (per-part sync results, per-drop results, the txn's result)
 *    and sets `done`, which the writer polls between chunks without the
 *    lock. The writer never changes what it handed over: while a batch is
 *    in flight its segments are marked in_flight and are neither freed nor
 *    rolled back (the writer waits for the answer first).
 * 3. Order within a batch, which keeps the index from naming bytes that
 *    may not be on the disk:
 *    a. drops: each recycled segment's index entries in one txn
 *       (ring_index_drop), then its file is unlinked (a file the writer
 *       took for a new segment was renamed already: nothing to unlink);
 *    b. each part: a close cuts the file to its valid length and punches
 *       the rest of the preallocation; with sync the file is fdatasync'ed
 *       (through the closer's own open file description, so a writeback
 *       error is reported here even when the writer's sync_file_range
 *       already saw it on its descriptor); a close then drops the pages
 *       and closes the descriptor. A failed sync at a close cuts the file
 *       back to the last commit's length (synced again) before closing;
 *    c. one txn with the parts that synced, the counters and the
 *       interface names. A part whose sync failed is left out; its
 *       packets move from `packets` to `lost_io` in the stored counters
 *       (the writer counts them the same way when it reads the answer).
 * 4. The closer is the only user of the index environment while a batch
 *    is in flight; the writer uses it itself (early recycling when the
 *    disk is full) only after taking the answer, when the closer is idle.
 *    The mutex orders the two. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

void ring_batch_free(struct ring_batch *b)
{
    if (!b)
        return;
    for (unsigned i = 0; i < b->n_parts; i++) {
        struct ring_part *p = &b->parts[i];
        if (p->close && p->fd >= 0) /* never run: the descriptor is still ours */
            close(p->fd);
        free(p->blk);
        free(p->keys);
        free(p->key_ids);
    }
    free(b->parts);
    free(b->drops);
    free(b->drop_rc);
    free(b->ifn);
    free(b);
}

/* fdatasync through the test hook: 0 or -errno. */
static int part_sync(int fd)
{
    while (ring_fdatasync(fd) < 0)
        if (errno != EINTR)
            return -errno;
    return 0;
}

static void file_cut(int fd, uint64_t len, uint64_t prealloc)
{
    while (ftruncate(fd, (off_t)len) < 0 && errno == EINTR)
        ;
    if (prealloc > len)
        (void)fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)len,
                        (off_t)(prealloc - len));
}

/* DESIGN 3b for one part. */
static void part_run(struct ring_part *p)
{
    p->rc = 0;
    if (p->close)
        file_cut(p->fd, p->rec.valid_len, p->prealloc);
    if (p->sync && (p->rc = part_sync(p->fd)) < 0 && p->close) {
        file_cut(p->fd, p->c_len, 0);
        (void)part_sync(p->fd); /* the new length; the error is reported once */
    }
    if (p->close) {
        (void)posix_fadvise(p->fd, 0, 0, POSIX_FADV_DONTNEED);
        close(p->fd);
        p->fd = -1;
    }
}

static void batch_run(struct ring_closer *c, struct ring_batch *b)
{
    char path[RING_PATH_MAX];

    for (unsigned i = 0; i < b->n_drops; i++) {
        if ((b->drop_rc[i] = ring_index_drop(c->ix, b->drops[i])) < 0)
            continue;
        ring_seg_path(path, sizeof path, c->dir, b->drops[i]);
        if (unlink(path) < 0 && errno != ENOENT)
            pt_log(PT_LOG_WARN, "ring: unlink %s: %s", path, strerror(errno));
    }
    for (unsigned i = 0; i < b->n_parts; i++) {
        struct ring_part *p = &b->parts[i];
        part_run(p);
        if (p->rc < 0) { /* left out of the txn: its packets are lost, not stored */
            b->st.packets -= p->d_packets;
            b->st.bytes -= p->d_bytes;
            b->st.wire_bytes -= p->d_wire;
            b->st.lost_io_pkts += p->d_packets;
            b->st.lost_io_bytes += p->d_bytes;
            b->st.write_errors++;
        }
    }
    uint64_t t0 = pt_now_ns();
    b->rc = ring_index_commit(c->ix, b->parts, b->n_parts, &b->st, b->ifn, b->n_if, &b->put);
    b->txn_ns = pt_now_ns() - t0;
}

static void *closer_main(void *arg)
{
    struct ring_closer *c = arg;

    pthread_mutex_lock(&c->mu);
    for (;;) {
        while (!c->stop && !(c->job && c->busy))
            pthread_cond_wait(&c->cv, &c->mu);
        if (!(c->job && c->busy))
            break; /* stop, nothing left */
        struct ring_batch *b = c->job;
        pthread_mutex_unlock(&c->mu);
        batch_run(c, b);
        pthread_mutex_lock(&c->mu);
        c->busy = false;
        __atomic_store_n(&c->done, true, __ATOMIC_RELEASE);
        pthread_cond_broadcast(&c->cv);
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

int ring_closer_start(struct ring_closer *c, struct ring_index *ix, const char *dir)
{
    int rc;

    c->ix = ix;
    c->dir = dir;
    c->job = NULL;
    c->busy = c->stop = c->done = false;
    if ((rc = pthread_mutex_init(&c->mu, NULL)) != 0)
        return -rc;
    if ((rc = pthread_cond_init(&c->cv, NULL)) != 0) {
        pthread_mutex_destroy(&c->mu);
        return -rc;
    }
    if ((rc = pthread_create(&c->thread, NULL, closer_main, c)) != 0) {
        pthread_cond_destroy(&c->cv);
        pthread_mutex_destroy(&c->mu);
        return -rc;
    }
    c->started = true;
    return 0;
}

void ring_closer_submit(struct ring_closer *c, struct ring_batch *b)
{
    pthread_mutex_lock(&c->mu);
    c->job = b;
    c->busy = true;
    __atomic_store_n(&c->done, false, __ATOMIC_RELAXED);
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

struct ring_batch *ring_closer_take(struct ring_closer *c, bool wait)
{
    struct ring_batch *b = NULL;

    if (!c->started || (!wait && !__atomic_load_n(&c->done, __ATOMIC_ACQUIRE)))
        return NULL;
    pthread_mutex_lock(&c->mu);
    while (wait && c->job && c->busy)
        pthread_cond_wait(&c->cv, &c->mu);
    if (c->job && !c->busy) {
        b = c->job;
        c->job = NULL;
        __atomic_store_n(&c->done, false, __ATOMIC_RELAXED);
    }
    pthread_mutex_unlock(&c->mu);
    return b;
}

void ring_closer_stop(struct ring_closer *c)
{
    if (!c->started)
        return;
    pthread_mutex_lock(&c->mu);
    c->stop = true;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    pthread_join(c->thread, NULL);
    ring_batch_free(ring_closer_take(c, false));
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
    c->started = false;
}
