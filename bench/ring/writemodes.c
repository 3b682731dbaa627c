/* writemodes.c - the ring writer's I/O choice, measured without the ring:
 * buffered pwrite with writeback started in runs of 8 MiB and waited for
 * 16 MiB behind (sync_file_range, then POSIX_FADV_DONTNEED), as
 * src/ring/writer.c does, against O_DIRECT through an aligned bounce buffer (the partial last
 * 4 KiB block carried into the next write). Both write chunks of 1 MiB - 137
 * bytes (records never end on a block boundary) into 256 MiB segment files
 * preallocated with FALLOC_FL_KEEP_SIZE; a second thread fdatasyncs the
 * current segment every SYNC_MS milliseconds (a commit; 0: never, only the
 * closes) and, with "index", also rewrites and fdatasyncs 128 KiB of a small
 * file (the index's own sync); each segment is fdatasynced and cut at its
 * close.
 *
 * usage: writemodes DIRECT(0|1) GIB DIR [index] [SYNC_MS, default 1000]
 * (DIR is filled and not emptied: the caller removes the seg* and index
 * files). Prints MB/s. Environment: WM_REUSE=1 opens the segment files
 * without truncating them and does not cut them at the close, so a second
 * run overwrites the blocks the first one wrote (a ring after its first
 * fill rewrites recycled files in place); WM_NOPREALLOC=1 skips the
 * fallocate; WM_SUBMIT_MB=N starts writeback once N MiB are written since
 * the last start (0: chunk by chunk, as the ring did before), WM_LAG_MB=N
 * waits N MiB behind the write position.
 * Build: cc -O2 -o build/writemodes bench/ring/writemodes.c -lpthread */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SEG   (256ull << 20)
#define CHUNK ((1u << 20) - 137)

static uint64_t submit_run = 8ull << 20, lag = 16ull << 20;

static atomic_int cur_fd = -1, stop;
static int with_index, sync_ms = 1000;
static char dir[4096];

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void *syncer(void *arg)
{
    static char blk[131072];
    char path[4200];
    unsigned k = 0;
    int ix;

    (void)arg;
    snprintf(path, sizeof path, "%s/index", dir);
    ix = open(path, O_RDWR | O_CREAT, 0644);
    while (!stop && sync_ms > 0) {
        usleep((useconds_t)sync_ms * 1000);
        int fd = cur_fd;
        if (fd >= 0)
            fdatasync(fd);
        if (with_index && ix >= 0) {
            if (pwrite(ix, blk, sizeof blk, (off_t)(k++ % 64) * (off_t)sizeof blk) < 0)
                perror("index");
            fdatasync(ix);
        }
    }
    if (ix >= 0)
        close(ix);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: %s DIRECT(0|1) GIB DIR [index]\n", argv[0]);
        return 2;
    }
    int direct = atoi(argv[1]);
    bool reuse = getenv("WM_REUSE") != NULL, prealloc = getenv("WM_NOPREALLOC") == NULL;
    uint64_t total = (uint64_t)atoi(argv[2]) << 30, done = 0;
    const char *env;
    char *src = malloc(CHUNK);
    uint8_t *bounce = NULL;
    pthread_t th;
    int seg = 0;

    if ((env = getenv("WM_SUBMIT_MB")) != NULL && atoi(env) >= 0)
        submit_run = (uint64_t)atoi(env) << 20;
    if ((env = getenv("WM_LAG_MB")) != NULL && atoi(env) > 0)
        lag = (uint64_t)atoi(env) << 20;
    with_index = argc > 4 && !strcmp(argv[4], "index");
    if (argc > 4 + with_index)
        sync_ms = atoi(argv[4 + with_index]);
    snprintf(dir, sizeof dir, "%s", argv[3]);
    if (!src || posix_memalign((void **)&bounce, 4096, 2u << 20))
        return 1;
    memset(src, 0x5a, CHUNK);
    pthread_create(&th, NULL, syncer, NULL);
    double t0 = now();
    while (done < total) {
        char path[4200];
        snprintf(path, sizeof path, "%s/seg%d", dir, seg++);
        int fd =
            open(path, O_RDWR | O_CREAT | (reuse ? 0 : O_TRUNC) | (direct ? O_DIRECT : 0), 0644);
        int sfd = open(path, O_RDWR);
        uint64_t off = 0, pushed = 0, started = 0, carry = 0;
        if (fd < 0 || sfd < 0) {
            perror(path);
            return 1;
        }
        if (prealloc)
            fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, SEG);
        cur_fd = sfd;
        while (off + CHUNK <= SEG - 4096 && done < total) {
            ssize_t w;
            if (direct) {
                memcpy(bounce + carry, src, CHUNK);
                uint64_t have = carry + CHUNK, whole = have & ~4095ull;
                w = pwrite(fd, bounce, whole, (off_t)(off - carry));
                carry = have - whole;
                memmove(bounce, bounce + whole, carry);
            } else {
                w = pwrite(fd, src, CHUNK, (off_t)off);
                if (off + CHUNK - started >= submit_run) {
                    sync_file_range(fd, (off64_t)started, (off64_t)(off + CHUNK - started),
                                    SYNC_FILE_RANGE_WRITE);
                    started = off + CHUNK;
                }
            }
            if (w < 0) {
                perror("pwrite");
                return 1;
            }
            off += CHUNK;
            done += CHUNK;
            if (!direct && off > lag && off - lag > pushed) {
                uint64_t up = off - lag;
                sync_file_range(fd, (off64_t)pushed, (off64_t)(up - pushed),
                                SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
                                    SYNC_FILE_RANGE_WAIT_AFTER);
                posix_fadvise(fd, (off_t)pushed, (off_t)(up - pushed), POSIX_FADV_DONTNEED);
                pushed = up;
            }
        }
        if (direct && carry) {
            memset(bounce + carry, 0, 4096 - carry);
            if (pwrite(fd, bounce, 4096, (off_t)(off - carry)) < 0)
                perror("pwrite");
        }
        cur_fd = -1;
        fdatasync(sfd);
        if (!reuse && ftruncate(sfd, (off_t)off) < 0)
            perror("ftruncate");
        close(sfd);
        close(fd);
    }
    double t = now() - t0;
    stop = 1;
    pthread_join(th, NULL);
    printf("%s%s%s%s, writeback in runs of %llu MiB, %llu MiB behind, sync every %d ms: "
           "%.0f MB/s (%.2f s)\n",
           direct ? "direct  " : "buffered", with_index ? " +index sync" : "",
           reuse ? " reuse" : "", prealloc ? "" : " noprealloc",
           (unsigned long long)(submit_run >> 20), (unsigned long long)(lag >> 20), sync_ms,
           (double)done / t / 1e6, t);
    free(src);
    free(bounce);
    return 0;
}
