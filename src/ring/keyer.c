/* keyer.c - the ring's keyer thread: decodes the packets of written chunks
 * and adds their keys to the segments' key maps (index.c), off the writer
 * thread, so that the writer's time between two writes is the write and
 * the writeback, not the index. writer.c decides what is keyed and when it
 * reads the maps; docs/RING.md has the design.
 *
 * DESIGN
 * 1. Why. Keying (pt_decode of every record, then a key map lookup per
 *    host, port, VLAN and flow) was 40 % of the writer's CPU (perf, bench
 *    /ring): 0.25 s per GB. While the writer keyed a chunk it wrote
 *    nothing, and on a disk that takes writes in bursts between cache
 *    flushes the writer's speed in a burst is what the ring gets.
 * 2. Hand-over. The writer writes a chunk, cuts it into blocks (their
 *    offsets and numbers go into the chunk: c->blk, c->k_map) and submits
 *    it here instead of giving it back to its producer. The keyer keys each
 *    block into c->k_map and pushes the chunk onto its producer's free
 *    queue (c->home): the keyer is that queue's only producer (a lost
 *    chunk comes through here too, with nothing to key). The queue from
 *    the writer is single-producer single-consumer, with room for every
 *    chunk of every producer, so a submit never fails and never waits.
 * 3. Who may touch a key map. Between a submit and the next sync only the
 *    keyer does; the writer reads or changes a map (a commit takes its
 *    dirty keys, an answer marks them written, a rollback cuts them, a
 *    recycle frees them) only after ring_keyer_sync(), which waits until
 *    the keyer has finished every chunk submitted. The keyer's release
 *    store of `done` after a chunk and the writer's acquire load of it
 *    order the keyer's writes before the writer's reads; the queue's
 *    release and acquire order the writer's changes before the keyer's
 *    next chunk. Syncs come a few times a second (a batch, an answer), and
 *    the keyer is behind by the chunks written since the last one.
 * 4. Sleep. With nothing queued the keyer waits on a condition variable; a
 *    submit signals it only when it sleeps: no syscall per chunk while
 *    busy. The keyer stores sleeping, then loads submitted; the writer
 *    stores submitted (after the push), then loads sleeping; all four are
 *    seq_cst, so at least one of them sees the other's store: the keyer
 *    does not sleep on a queued chunk, or the writer wakes it. (Atomic
 *    operations rather than fences: TSan checks those.) The wait is bounded
 *    (100 ms) all the same.
 * 5. Memory: a key map that cannot grow counts the keys it lost; the
 *    keyer adds them to lost_keys, which the writer reads at its syncs
 *    (index_lost_keys, logged). */
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "internal.h"

#define SLEEP_MAX_NS 100000000L /* DESIGN 4 */
#define SYNC_POLL_NS 20000L     /* the writer's poll while it waits for the keyer */

static void key_chunk(struct ring_keyer *k, struct ring_chunk *c)
{
    uint64_t lost = 0;

    for (uint32_t i = 0; i < c->k_n; i++) {
        const struct ring_chunk_blk *b = &c->blk[i];
        uint64_t oom = c->k_map->oom;
        ring_keys_add_block(c->k_map, &k->dst, c->buf + b->off, b->len, c->linktype, c->iface,
                            b->no);
        lost += c->k_map->oom - oom;
    }
    if (lost)
        __atomic_add_fetch(&k->lost_keys, lost, __ATOMIC_RELAXED);
    (void)ring_spsc_push(c->home, c); /* room for every chunk: never fails */
    __atomic_store_n(&k->done, __atomic_load_n(&k->done, __ATOMIC_RELAXED) + 1, __ATOMIC_RELEASE);
}

static void *keyer_main(void *arg)
{
    struct ring_keyer *k = arg;

    for (;;) {
        struct ring_chunk *c = ring_spsc_pop(&k->q);
        if (c) {
            key_chunk(k, c);
            continue;
        }
        pthread_mutex_lock(&k->mu);
        __atomic_store_n(&k->sleeping, true, __ATOMIC_SEQ_CST); /* DESIGN 4 */
        if (__atomic_load_n(&k->submitted, __ATOMIC_SEQ_CST) == k->done) {
            if (k->stop) {
                pthread_mutex_unlock(&k->mu);
                break;
            }
            struct timespec until;
            clock_gettime(CLOCK_MONOTONIC, &until); /* the cv's clock (ring_keyer_start) */
            until.tv_nsec += SLEEP_MAX_NS;
            if (until.tv_nsec >= 1000000000L) {
                until.tv_sec++;
                until.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&k->cv, &k->mu, &until);
        }
        __atomic_store_n(&k->sleeping, false, __ATOMIC_SEQ_CST);
        pthread_mutex_unlock(&k->mu);
    }
    return NULL;
}

int ring_keyer_start(struct ring_keyer *k, uint32_t chunks)
{
    int rc;

    if ((rc = ring_spsc_init(&k->q, chunks)) < 0)
        return rc;
    k->stop = k->sleeping = false;
    k->submitted = k->done = k->lost_keys = 0;
    pt_decode_stats_init(&k->dst);
    if ((rc = pthread_mutex_init(&k->mu, NULL)) != 0)
        goto err_q;
    pthread_condattr_t ca;
    if ((rc = pthread_condattr_init(&ca)) != 0)
        goto err_mu;
    rc = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* a clock step does not stretch a wait */
    if (rc == 0)
        rc = pthread_cond_init(&k->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (rc != 0)
        goto err_mu;
    if ((rc = pthread_create(&k->thread, NULL, keyer_main, k)) != 0)
        goto err_cv;
    k->started = true;
    return 0;
err_cv:
    pthread_cond_destroy(&k->cv);
err_mu:
    pthread_mutex_destroy(&k->mu);
err_q:
    free(k->q.slot);
    k->q.slot = NULL;
    return -rc;
}

void ring_keyer_submit(struct ring_keyer *k, struct ring_chunk *c)
{
    (void)ring_spsc_push(&k->q, c);
    __atomic_store_n(&k->submitted, k->submitted + 1, __ATOMIC_SEQ_CST); /* DESIGN 4 */
    if (__atomic_load_n(&k->sleeping, __ATOMIC_SEQ_CST)) {
        pthread_mutex_lock(&k->mu);
        pthread_cond_signal(&k->cv);
        pthread_mutex_unlock(&k->mu);
    }
}

void ring_keyer_sync(struct ring_keyer *k)
{
    const struct timespec poll = {0, SYNC_POLL_NS};

    if (!k->started)
        return;
    while (__atomic_load_n(&k->done, __ATOMIC_ACQUIRE) != k->submitted)
        nanosleep(&poll, NULL);
}

void ring_keyer_stop(struct ring_keyer *k)
{
    if (!k->started)
        return;
    pthread_mutex_lock(&k->mu);
    k->stop = true;
    pthread_cond_signal(&k->cv);
    pthread_mutex_unlock(&k->mu);
    pthread_join(k->thread, NULL);
    pthread_cond_destroy(&k->cv);
    pthread_mutex_destroy(&k->mu);
    free(k->q.slot);
    k->q.slot = NULL;
    k->started = false;
}
