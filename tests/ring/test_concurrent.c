/* test_concurrent.c - the ring's threads together: two producers, the
 * writer, the keyer that indexes what the writer wrote (src/ring/keyer.c)
 * and the closer that commits, while a third thread forces commits and the
 * bound recycles segments under them; in the second test, writeback and
 * fdatasync also fail for a while, so that the writer rolls segments back
 * and the closer's answers give parts up while chunks are being keyed; in
 * the third, the index's txns fail for a while, so that the answers put
 * the open segment's keys back on its dirty list while chunks are being
 * keyed into it. What must come out: every packet counted (stored or
 * lost), no key lost,
 * and for each host the blocks its key names hold exactly the packets a
 * filter over every stored block finds.
 *
 * Built into test-all and, as a '*concurrent*' suite, into `make tsan`
 * (tests/tsan/): only the Criterion macros the shim has are used here. */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../../src/ring/internal.h"
#include "pt/ring.h"
#include "support/netns.h"
#include "support/support.h"

#define CC_T0      1700000000000000000ull
#define CC_MIB     (1024ull * 1024ull)
#define CC_PER     6000 /* packets per producer */
#define CC_COMMITS 40   /* forced commits while they run */

struct cc_prod {
    struct pt_ring_prod *p;
    uint8_t host; /* source 10.77.0.host */
    uint64_t phase_ns;
};

static unsigned cc_done[2]; /* atomic: packets each producer has put */

static void *cc_prod_main(void *arg)
{
    const struct cc_prod *a = arg;
    const struct timespec pause = {0, 1000000L};
    uint8_t frame[1600];

    for (unsigned i = 0; i < CC_PER; i++) {
        struct pt_udp_spec s = {
            .src_ip = {10, 77, 0, a->host},
            .dst_ip = {10, 77, 1, (uint8_t)(i % 7)},
            .sport = (uint16_t)(20000 + i % 50),
            .dport = 53,
            .payload = (uint16_t)(60 + (i * 37) % 1200),
        };
        size_t len = pt_netns_udp_frame(frame, sizeof frame, &s);
        struct pt_ring_pkt pkt = {
            .data = frame,
            .caplen = (uint32_t)len,
            .wirelen = (uint32_t)len,
            .ts_ns = CC_T0 + (uint64_t)i * 100000ull + a->phase_ns,
            .linktype = 1, /* LINKTYPE_ETHERNET */
        };
        pt_ring_put(a->p, &pkt);
        __atomic_store_n(&cc_done[a->host - 1], i + 1, __ATOMIC_RELAXED);
        if (i % 400 == 399) {
            pt_ring_flush(a->p, true);
            nanosleep(&pause, NULL);
        }
    }
    pt_ring_flush(a->p, true);
    return NULL;
}

enum cc_fault {
    CC_NONE,
    CC_DISK,  /* writeback waits and fdatasync fail with EIO */
    CC_INDEX, /* the index's txn commits fail with EIO */
};

static int cc_fail; /* atomic: the enum cc_fault in force */

static int cc_fdatasync(int fd)
{
    if (__atomic_load_n(&cc_fail, __ATOMIC_RELAXED) == CC_DISK) {
        errno = EIO;
        return -1;
    }
    return fdatasync(fd);
}

static int cc_sync_range(int fd, off64_t off, off64_t len, unsigned int flags)
{
    if (__atomic_load_n(&cc_fail, __ATOMIC_RELAXED) == CC_DISK &&
        (flags & SYNC_FILE_RANGE_WAIT_AFTER)) {
        errno = EIO;
        return -1;
    }
    return sync_file_range(fd, off, len, flags);
}

static int cc_txn_commit(MDB_txn *txn)
{
    if (__atomic_load_n(&cc_fail, __ATOMIC_RELAXED) == CC_INDEX) {
        mdb_txn_abort(txn); /* mdb_txn_commit() frees it on failure too */
        return EIO;
    }
    return mdb_txn_commit(txn);
}

struct cc_committer {
    struct pt_ring *r;
    enum cc_fault fault; /* in force while both producers are between 1/3 and 2/3 */
    unsigned failed;
};

static unsigned cc_progress(void)
{
    unsigned a = __atomic_load_n(&cc_done[0], __ATOMIC_RELAXED);
    unsigned b = __atomic_load_n(&cc_done[1], __ATOMIC_RELAXED);
    return a < b ? a : b;
}

/* Commit until both producers have put @upto packets (at most about 3 s). */
static void cc_commit_until(struct cc_committer *a, unsigned upto)
{
    const struct timespec pause = {0, 1000000L};

    for (unsigned i = 0; i < 3000 && cc_progress() < upto; i++) {
        if (pt_ring_commit(a->r) != 0)
            a->failed++;
        nanosleep(&pause, NULL);
    }
}

static void *cc_commit_main(void *arg)
{
    struct cc_committer *a = arg;
    const struct timespec pause = {0, 3000000L};

    if (a->fault) {
        cc_commit_until(a, CC_PER / 3);
        __atomic_store_n(&cc_fail, a->fault, __ATOMIC_RELAXED);
        cc_commit_until(a, 2 * CC_PER / 3);
        __atomic_store_n(&cc_fail, CC_NONE, __ATOMIC_RELAXED);
    }
    for (unsigned i = 0; i < CC_COMMITS; i++) {
        if (pt_ring_commit(a->r) != 0)
            a->failed++;
        nanosleep(&pause, NULL);
    }
    return NULL;
}

/* The packets of @q from the ring in @dir, as a pcap in memory. */
static char *cc_extract(const char *dir, const struct pt_ring_query *q, size_t *len,
                        uint64_t *packets)
{
    struct pt_ring_extract_stats st;
    char msg[256] = "", *buf = NULL;
    FILE *f = open_memstream(&buf, len);
    int rc;

    cr_assert_not_null(f);
    rc = pt_ring_extract(dir, q, PT_RING_OUT_PCAP, f, &st, msg, sizeof msg);
    cr_assert_eq(rc, 0, "extract: %s", msg);
    cr_assert_eq(fclose(f), 0);
    *packets = st.packets;
    return buf;
}

static char cc_base[64];

/* After the test, passed or not (Criterion: .fini; the TSan shim, whose
 * failed assertion exits: atexit). */
static void cc_cleanup(void)
{
    if (cc_base[0])
        pt_test_rm_tree(cc_base);
    cc_base[0] = '\0';
}

TestSuite(ring_concurrent, .fini = cc_cleanup);

/* Two producers and a committer against a ring of 1 MiB segments bounded
 * at 3 MiB (about 8 MiB go through); @fault fails the disk or the index
 * for a while. Fills @c (its dir under cc_base) and @st. */
static void cc_run(struct pt_ring_config *c, struct pt_ring_stats *st, enum cc_fault fault)
{
    char msg[256] = "";
    struct cc_prod a[2];
    struct cc_committer cm = {.fault = fault};
    pthread_t th[3];
    int err = 0;

    strcpy(cc_base, "/tmp/pt-ringc-XXXXXX");
    cr_assert_not_null(mkdtemp(cc_base));
    atexit(cc_cleanup);
    ring_fdatasync = cc_fdatasync;
    ring_sync_range = cc_sync_range;
    ring_txn_commit = cc_txn_commit;
    pt_ring_config_default(c);
    snprintf(c->dir, sizeof c->dir, "%s/ring", cc_base);
    c->segment_size = 1 * CC_MIB;
    c->ring_size = 3 * CC_MIB;
    c->keep_free_pct = 0;
    c->snaplen = 2048;
    c->chunk_size = 64 * 1024;
    c->chunks = 8; /* few chunks: producers wait for the keyer to give them back */
    c->commit_ms = 5;
    c->sync = fault == CC_DISK; /* the closer's fdatasync runs (and fails) only with sync */
    c->wait_when_full = true;
    c->index_map_max = 64 * CC_MIB;
    struct pt_ring *r = pt_ring_open(c, 2, &err, msg, sizeof msg);
    cr_assert_not_null(r, "pt_ring_open: %s", msg);

    cm.r = r;
    for (unsigned i = 0; i < 2; i++)
        a[i] = (struct cc_prod){pt_ring_producer(r, i), (uint8_t)(i + 1), i * 50000ull};
    for (unsigned i = 0; i < 2; i++)
        cr_assert_eq(pthread_create(&th[i], NULL, cc_prod_main, &a[i]), 0);
    cr_assert_eq(pthread_create(&th[2], NULL, cc_commit_main, &cm), 0);
    for (unsigned i = 0; i < 3; i++)
        pthread_join(th[i], NULL);
    __atomic_store_n(&cc_fail, CC_NONE, __ATOMIC_RELAXED);
    pt_ring_close(r, st);
    if (fault == CC_NONE)
        cr_assert_eq(cm.failed, 0);
    cr_assert_eq(st->packets + st->lost_io_pkts, 2 * CC_PER, "%llu stored, %llu lost",
                 (unsigned long long)st->packets, (unsigned long long)st->lost_io_pkts);
    cr_assert_eq(st->lost_full_pkts, 0);
    cr_assert_eq(st->index_lost_keys, 0);
}

/* Every stored packet, then per host: the keyed blocks give what a filter
 * over every block gives, byte for byte. Returns the stored packets. */
static uint64_t cc_keys_match(const struct pt_ring_config *c)
{
    struct pt_ring_query q = {.to_ns = UINT64_MAX};
    uint64_t all = 0, sum = 0;
    size_t len;

    free(cc_extract(c->dir, &q, &len, &all));
    for (unsigned h = 1; h <= 2; h++) {
        char bpf[64];
        size_t klen, flen;
        uint64_t kn, fn;
        struct pt_ring_query kq = {.to_ns = UINT64_MAX, .by_host = true};
        struct pt_ring_query fq = {.to_ns = UINT64_MAX, .bpf = bpf};
        const uint8_t v4[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 77, 0, (uint8_t)h};

        memcpy(kq.host, v4, sizeof v4);
        snprintf(bpf, sizeof bpf, "src host 10.77.0.%u", h);
        char *kb = cc_extract(c->dir, &kq, &klen, &kn);
        char *fb = cc_extract(c->dir, &fq, &flen, &fn);
        cr_assert_eq(kn, fn, "host 10.77.0.%u: %llu keyed, %llu by filter", h,
                     (unsigned long long)kn, (unsigned long long)fn);
        cr_assert_eq(klen, flen);
        cr_assert_arr_eq(kb, fb, klen);
        sum += kn;
        free(kb);
        free(fb);
    }
    cr_assert_eq(sum, all);
    return all;
}

Test(ring_concurrent, keys_match_the_data_under_commits_and_recycling, .timeout = 300)
{
    struct pt_ring_config c;
    struct pt_ring_stats st;

    cc_run(&c, &st, CC_NONE);
    cr_assert_eq(st.packets, 2 * CC_PER);
    cr_assert_gt(st.segments_recycled, 0);
    uint64_t all = cc_keys_match(&c);
    cr_assert_gt(all, 0);
    cr_assert_lt(all, 2 * CC_PER);
}

Test(ring_concurrent, keys_match_the_data_after_write_faults, .timeout = 300)
{
    struct pt_ring_config c;
    struct pt_ring_stats st;

    cc_run(&c, &st, CC_DISK);
    cr_assert_gt(st.write_errors, 0);
    cr_assert_gt(st.lost_io_pkts, 0);
    cr_assert_gt(cc_keys_match(&c), 0);
}

/* Failed txns delay what they held: the keys go back on the dirty list
 * and a later commit records them, unless the bound recycles the segment
 * first, and then its unrecorded packets count as lost_io (cc_run: every
 * packet stored or lost). */
Test(ring_concurrent, keys_match_the_data_after_index_faults, .timeout = 300)
{
    struct pt_ring_config c;
    struct pt_ring_stats st;

    cc_run(&c, &st, CC_INDEX);
    cr_assert_gt(st.index_errors, 0);
    cr_assert_eq(st.write_errors, 0);
    uint64_t all = cc_keys_match(&c);
    cr_assert_gt(all, 0);
    cr_assert_lt(all, 2 * CC_PER);
}
