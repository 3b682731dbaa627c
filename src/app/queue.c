/* queue.c - the app record queue: one capture worker produces, the record
 * thread consumes (include/pt/app.h).
 *
 * DESIGN: a power-of-two ring of fixed slots, indexed by two free-running
 * 64-bit counters. `tail` is written only by the producer (release, after
 * the slot is filled), `head` only by the consumer (release, after it is
 * done with the slot); each reads the other's with acquire. They sit on
 * separate cache lines, and each side keeps a private copy of the other's
 * counter that it refreshes only when the ring looks full or empty, so a
 * record costs no shared cache line traffic beyond its own slot. Growing
 * (offline only) copies the ring in order into one twice the size; the
 * caller guarantees the consumer is not running then. */
#include "pt/app.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct pt_app_queue {
    struct pt_app_rec *slot;
    uint64_t mask;
    bool grow;
    _Alignas(PT_CACHELINE) uint64_t tail; /* producer: next slot to publish */
    uint64_t head_seen;                   /* producer's copy of head */
    uint64_t dropped;                     /* producer, PT_CNT_* */
    uint32_t seq;                         /* producer: next record's seq */
    _Alignas(PT_CACHELINE) uint64_t head; /* consumer: next slot to read */
    uint64_t tail_seen;                   /* consumer's copy of tail */
};

struct pt_app_queue *pt_app_queue_create(uint32_t slots, bool grow, int *err)
{
    struct pt_app_queue *q;
    uint64_t n = 2;

    if (slots == 0 || slots > (1u << 24)) {
        *err = -EINVAL;
        return NULL;
    }
    while (n < slots)
        n <<= 1;
    q = aligned_alloc(PT_CACHELINE, sizeof *q);
    if (!q) {
        *err = -ENOMEM;
        return NULL;
    }
    memset(q, 0, sizeof *q);
    /* calloc: pages are touched as slots are first used */
    q->slot = calloc(n, sizeof *q->slot);
    if (!q->slot) {
        free(q);
        *err = -ENOMEM;
        return NULL;
    }
    q->mask = n - 1;
    q->grow = grow;
    return q;
}

void pt_app_queue_destroy(struct pt_app_queue *q)
{
    if (!q)
        return;
    free(q->slot);
    free(q);
}

/* Double the ring, keeping the records in order. Producer only, with the
 * consumer stopped (the offline barrier). */
static bool queue_grow(struct pt_app_queue *q)
{
    uint64_t n = q->mask + 1, used = q->tail - q->head;
    struct pt_app_rec *ns;

    if (n >= (1u << 24))
        return false;
    ns = malloc(2 * n * sizeof *ns);
    if (!ns)
        return false;
    for (uint64_t i = 0; i < used; i++)
        memcpy(&ns[i], &q->slot[(q->head + i) & q->mask], sizeof *ns);
    free(q->slot);
    q->slot = ns;
    q->mask = 2 * n - 1;
    q->tail = used;
    q->head = q->head_seen = q->tail_seen = 0;
    return true;
}

struct pt_app_rec *pt_app_queue_reserve(struct pt_app_queue *q)
{
    if (q->tail - q->head_seen > q->mask) {
        q->head_seen = __atomic_load_n(&q->head, __ATOMIC_ACQUIRE);
        if (q->tail - q->head_seen > q->mask && !(q->grow && queue_grow(q))) {
            PT_CNT_INC(q->dropped);
            return NULL;
        }
    }
    return &q->slot[q->tail & q->mask];
}

void pt_app_queue_commit(struct pt_app_queue *q)
{
    q->slot[q->tail & q->mask].seq = q->seq++;
    __atomic_store_n(&q->tail, q->tail + 1, __ATOMIC_RELEASE);
}

const struct pt_app_rec *pt_app_queue_peek(struct pt_app_queue *q)
{
    if (q->head == q->tail_seen) {
        q->tail_seen = __atomic_load_n(&q->tail, __ATOMIC_ACQUIRE);
        if (q->head == q->tail_seen)
            return NULL;
    }
    return &q->slot[q->head & q->mask];
}

void pt_app_queue_pop(struct pt_app_queue *q)
{
    __atomic_store_n(&q->head, q->head + 1, __ATOMIC_RELEASE);
}

uint64_t pt_app_queue_dropped(const struct pt_app_queue *q)
{
    return PT_CNT_GET(q->dropped);
}
