/* test_queue.c - the app record queue (src/app/queue.c): order, the full
 * ring's count, growing, and one producer and one consumer thread at once. */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "pt/app.h"

static void push(struct pt_app_queue *q, uint64_t v, bool expect_ok)
{
    struct pt_app_rec *r = pt_app_queue_reserve(q);
    if (!expect_ok) {
        cr_assert_null(r);
        return;
    }
    cr_assert_not_null(r);
    r->ts_ns = v;
    pt_app_queue_commit(q);
}

Test(app_queue, fifo_and_full_ring_counted)
{
    int err = 0;
    struct pt_app_queue *q = pt_app_queue_create(3, false, &err); /* rounded up to 4 */

    cr_assert_not_null(q);
    cr_assert_null(pt_app_queue_peek(q));
    for (uint64_t i = 0; i < 4; i++)
        push(q, i, true);
    push(q, 99, false);
    push(q, 98, false);
    cr_expect_eq(pt_app_queue_dropped(q), 2);
    for (uint64_t i = 0; i < 4; i++) {
        const struct pt_app_rec *r = pt_app_queue_peek(q);
        cr_assert_not_null(r);
        cr_expect_eq(r->ts_ns, i);
        cr_expect_eq(r->seq, i);
        pt_app_queue_pop(q);
    }
    cr_expect_null(pt_app_queue_peek(q));
    push(q, 7, true); /* room again */
    cr_expect_eq(pt_app_queue_peek(q)->ts_ns, 7);
    pt_app_queue_destroy(q);
}

Test(app_queue, grows_in_order_when_asked)
{
    int err = 0;
    struct pt_app_queue *q = pt_app_queue_create(2, true, &err);

    cr_assert_not_null(q);
    push(q, 0, true);
    cr_assert_not_null(pt_app_queue_peek(q));
    pt_app_queue_pop(q); /* head moves: the ring wraps before it grows */
    cr_assert_null(pt_app_queue_peek(q));
    for (uint64_t i = 1; i <= 1000; i++)
        push(q, i, true);
    cr_expect_eq(pt_app_queue_dropped(q), 0);
    for (uint64_t i = 1; i <= 1000; i++) {
        const struct pt_app_rec *r = pt_app_queue_peek(q);
        cr_assert_not_null(r, "record %llu missing", (unsigned long long)i);
        cr_expect_eq(r->ts_ns, i);
        pt_app_queue_pop(q);
    }
    cr_expect_null(pt_app_queue_peek(q));
    pt_app_queue_destroy(q);
}

Test(app_queue, bad_sizes_refused)
{
    int err = 0;
    cr_expect_null(pt_app_queue_create(0, false, &err));
    cr_expect_eq(err, -EINVAL);
    cr_expect_null(pt_app_queue_create(1u << 25, false, &err));
    cr_expect_eq(err, -EINVAL);
}

#define N_RECS 200000

static void *producer(void *arg)
{
    struct pt_app_queue *q = arg;
    for (uint64_t i = 0; i < N_RECS;) {
        struct pt_app_rec *r = pt_app_queue_reserve(q);
        if (!r)
            continue; /* full: counted as dropped; this test retries the same value */
        r->ts_ns = i++;
        pt_app_queue_commit(q);
    }
    return NULL;
}

/* One producer thread, one consumer: every record arrives once, in order,
 * its contents intact (also run under TSan: `make tsan`). */
Test(app_queue_concurrent, producer_and_consumer, .timeout = 60)
{
    int err = 0;
    struct pt_app_queue *q = pt_app_queue_create(64, false, &err);
    pthread_t th;
    uint64_t next = 0;

    cr_assert_not_null(q);
    cr_assert_eq(pthread_create(&th, NULL, producer, q), 0);
    while (next < N_RECS) {
        const struct pt_app_rec *r = pt_app_queue_peek(q);
        if (!r)
            continue;
        cr_assert_eq(r->ts_ns, next, "got %llu, expected %llu", (unsigned long long)r->ts_ns,
                     (unsigned long long)next);
        next++;
        pt_app_queue_pop(q);
    }
    pthread_join(th, NULL);
    cr_expect_null(pt_app_queue_peek(q));
    pt_app_queue_destroy(q);
}
