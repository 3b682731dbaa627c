/* ring_bench.c - the pcap ring (include/pt/ring.h) under a synthetic traffic
 * mix: writer throughput against dd, drops of never-blocking producers,
 * index size, and extraction of one host against tcpdump.
 *
 * usage: ring_bench [-w GIB] [-r ROUNDS] [-p PRODUCERS] [-f FLOWS] [-c CHUNKS] [-s SEED]
 *                   [-L] [-D MBPS] [-t SECONDS] [-x FRACTION] [-F] [-n] DIR PACKETTRACER
 * Defaults: -w 5 (GiB per ring run), -r 5, -p 2, -f 2048, -c 256 (the
 * staging chunks of 1 MiB per producer, as `run` has them: ring_buffer
 * 256M), -s 1, -t 6.
 * -L runs the live part only (2): ROUNDS dd runs give its rate, or -D
 * gives it (no dd at all), so that two builds can be compared at the same
 * offered rate on a machine whose disk speed varies. -t sets the seconds
 * of each live run, -x one rate (a fraction of dd) instead of 1.0, 0.5 and
 * 0.25. -F replaces the mix with a flood (below) in every ring run. -n
 * turns sync off in every ring run (no fdatasync, as `read` writes).
 *
 * Everything runs in DIR (one filesystem), which the caller removes. With
 * the defaults it takes 3 to 7 minutes (the disk decides) and at most
 * about 16 GB of disk (the ring of round 1 and the steady ring, plus the
 * dd file or one more ring).
 *
 * Traffic (deterministic for a seed; generated in the producer threads).
 *   50,000 IPv4 hosts, Zipf popularity (s = 1): 40,000 in 10/8 (six in ten
 *   untagged, the rest on VLANs 10, 20, 30, 100), 10,000 in 198.18/15. Each
 *   producer keeps FLOWS concurrent flows; a flow's client and server are
 *   drawn by popularity, its VLAN is its client's. 60 % of flows are TCP
 *   (server port 443, 80, a few others or a random one; 60 % of them 2-12
 *   packets of 60-800 bytes, the others 12 to 100,000 packets, log-uniform
 *   in three tiers, sent as trains (mean 8) of segments, 92 % of them
 *   1500 bytes, each train followed by an ACK); 40 % UDP (DNS pairs, QUIC trains of 1250-1392
 *   bytes, other small flows). The producer picks a flow at random and sends
 *   its next train; an ended flow is replaced at once. Ethernet/[802.1Q]/
 *   IPv4 (header checksum)/TCP or UDP (checksum 0), random payload bytes.
 *   -F, a flood (a scan or a DNS flood from spoofed sources): every packet
 *   is a new one-packet flow from a random source address and port, a TCP
 *   SYN to port 80 or a DNS query to port 53 of one of the ten most popular
 *   hosts, 60-120 bytes: each adds a host key and a flow key to its
 *   segment, the worst case of the index's work per commit.
 *   Packet times advance at 1 Gbit/s per producer. The first lines of the
 *   output give the resulting mix.
 *
 * 1. write: ROUNDS rounds (interleaved, so that the disk's busy spells fall
 *    on both), each `dd if=/dev/zero of=DIR/dd bs=1M count=N
 *    oflag=direct` (N MiB = GIB GiB), then the same bytes of records
 *    through pt_ring_open/put/flush/close (segment 256 MiB, ring_size
 *    GIB - 0.5 GiB, so the last segments recycle the oldest; sync as `run`
 *    has it; producers wait for a free chunk, so this is the writer's
 *    capacity). MB/s = committed segment record bytes (pt_ring_stats.bytes)
 *    / wall time from open to the end of close. Writer CPU = the process's
 *    getrusage (user + sys) over the run minus the producer threads' and the
 *    main thread's own CPU clocks: the ring's writer, keyer and closer
 *    threads together. The ring of round 1 is kept for 3 and 4. Each round
 *    then also writes the same bytes into a steady ring of the same size,
 *    filled once before round 1: every segment it writes is a recycled
 *    file rewritten in place, as in a sensor's ring after its first fill
 *    (the first rounds' rings mostly allocate new files, as dd does). Its
 *    like-for-like peer is each round's dd run again over its own file
 *    (conv=notrunc) before the file is removed. Two more runs per round
 *    split the ring's cost from the flushes its durability asks of the disk:
 *    dd with a flush of the device every second (a 4 KiB pwrite and
 *    fdatasync of another file in DIR, from a thread: durable at the ring's
 *    commit interval), and the same ring traffic without fdatasync (sync
 *    off, as `read` writes; the index's LMDB then does not sync either).
 *    The verdicts use the medians. Each run also prints what the block
 *    device under DIR did (/sys/dev/block/MAJ:MIN/stat): bytes and
 *    requests written, flushes and the milliseconds they took, reads,
 *    busy time.
 * 2. live: producers that never block (wait_when_full = false, as capture
 *    workers), paced to 1.0, 0.5 and 0.25 x the median dd rate, for about
 *    6 s each, into a new 2 GiB ring, then the same again into the ring
 *    that run left (at 1.0 x it is full: every segment a recycled file):
 *    committed MB/s and lost_full packets.
 * 3. index: data.mdb size / committed bytes (pt_ring_status_read), the
 *    pages the databases use (the rest is LMDB free pages), and, for the
 *    ring of round 1, the keys by kind.
 * 4. extract: a host with about 1e-4 of the packets: `packettracer extract
 *    -d DIR --host X -w F` against `tcpdump -r SEG -w /dev/null 'host X or
 *    (vlan and host X)'` over every segment in turn (sum of wall times;
 *    tcpdump's 'host X' alone does not look inside 802.1Q), once with the
 *    ring's files dropped from the page cache (posix_fadvise DONTNEED), then
 *    warm (best of 3 / best of 2). Packet counts: extract's output against
 *    one more tcpdump pass written to a file.
 * Each ring run also prints what its commits cost (pt_ring_stats): the
 * time in commit transactions per second of the run, the mean and the
 * longest, the keys they wrote and the key lists the writer copied.
 *
 * Nothing here runs in `make test`. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <lmdb.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pt/decode.h"
#include "pt/ring.h"

#define NHOSTS       50000u
#define SEGMENT      (256ull << 20)
#define MIB          (1ull << 20)
#define GIB          (1ull << 30)
#define T0_NS        (1700000000ull * 1000000000ull)
#define LIVE_S       6.0 /* default seconds of a live run (-t) */
#define LIVE_RING    (2ull << 30)
#define FLUSH_EVERY  256u /* packets between pt_ring_flush() calls ("a ring block") */
#define MAX_ROUNDS   9
#define FRAME_MAX    2048u
#define TCP_SYN      0x02
#define TCP_FIN      0x01
#define TCP_PSH      0x08
#define TCP_ACK      0x10
#define TARGET_SHARE 1e-4 /* the extracted host's share of the packets */

struct opts {
    const char *dir, *ptbin;
    uint64_t write_bytes;
    unsigned rounds, producers, flows, chunks;
    uint64_t seed;
    bool live_only;         /* -L */
    double dd_rate, live_s; /* -D (MB/s; 0: measure), -t */
    double fraction;        /* -x: the one live rate (x dd), 0: 1.0, 0.5 and 0.25 */
    bool flood;             /* -F */
    bool nosync;            /* -n */
};

/* ---- clocks and processes ---- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static double thread_cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double tv_s(struct timeval tv)
{
    return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

static double proc_cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return tv_s(ru.ru_utime) + tv_s(ru.ru_stime);
}

/* Run @argv, stdout and stderr to /dev/null; its wall and CPU seconds.
 * Returns its exit status, or -1. */
static int run_cmd(char *const argv[], double *wall, double *cpu)
{
    struct rusage ru;
    int status;
    double t0 = now_s();
    pid_t pid = fork();

    if (pid < 0)
        return -1;
    if (pid == 0) {
        int fd = open("/dev/null", O_RDWR);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execvp(argv[0], argv);
        _exit(127);
    }
    while (wait4(pid, &status, 0, &ru) < 0)
        if (errno != EINTR)
            return -1;
    *wall = now_s() - t0;
    if (cpu)
        *cpu = tv_s(ru.ru_utime) + tv_s(ru.ru_stime);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path) < 0 && errno != ENOENT ? -1 : 0;
}

static void rm_tree(const char *path)
{
    (void)nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Flush the filesystem, so that one run's writeback (or discard of a
 * deleted file) does not land in the next run's time. */
static void fs_sync(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        syncfs(fd);
        close(fd);
    }
}

/* ---- the device under DIR (/sys/dev/block/MAJ:MIN/stat) ---- */

/* What the block device did over a run: a virtual disk's flush is where
 * a ring that syncs and a dd that does not part ways. */
struct disk {
    uint64_t writes, sectors, write_ms, flushes, flush_ms, busy_ms, reads, rsectors;
};

static char disk_path[128]; /* empty: not found, nothing printed */

static void disk_init(const char *dir)
{
    struct stat sb;
    if (stat(dir, &sb) == 0)
        snprintf(disk_path, sizeof disk_path, "/sys/dev/block/%u:%u/stat", major(sb.st_dev),
                 minor(sb.st_dev));
    if (access(disk_path, R_OK) != 0)
        disk_path[0] = '\0';
}

static void disk_read(struct disk *d)
{
    unsigned long long v[17] = {0};
    FILE *f = disk_path[0] ? fopen(disk_path, "r") : NULL;

    memset(d, 0, sizeof *d);
    if (!f)
        return;
    for (int i = 0; i < 17 && fscanf(f, "%llu", &v[i]) == 1; i++)
        ;
    fclose(f);
    /* fields: 0 reads, 2 sectors read, 4 writes, 6 sectors written, 7 ms
     * writing, 9 ms busy, 15 flushes, 16 ms flushing
     * (Documentation/admin-guide/iostats.rst) */
    *d = (struct disk){v[4], v[6], v[7], v[15], v[16], v[9], v[0], v[2]};
}

/* @d becomes what happened since @d0. */
static void disk_since(struct disk *d, const struct disk *d0)
{
    d->writes -= d0->writes;
    d->sectors -= d0->sectors;
    d->write_ms -= d0->write_ms;
    d->flushes -= d0->flushes;
    d->flush_ms -= d0->flush_ms;
    d->busy_ms -= d0->busy_ms;
    d->reads -= d0->reads;
    d->rsectors -= d0->rsectors;
}

static void disk_line(const char *what, const struct disk *d, double wall)
{
    if (!disk_path[0])
        return;
    printf(
        "disk     %s: %.2f GB in %llu writes (%.0f KiB each), %llu flushes (%.1f per second, "
        "%llu ms in them, %.0f ms each), %llu reads (%.1f MB), busy %.0f%%\n",
        what, (double)d->sectors * 512 / 1e9, (unsigned long long)d->writes,
        d->writes ? (double)d->sectors / 2 / (double)d->writes : 0.0,
        (unsigned long long)d->flushes, (double)d->flushes / wall, (unsigned long long)d->flush_ms,
        d->flushes ? (double)d->flush_ms / (double)d->flushes : 0.0, (unsigned long long)d->reads,
        (double)d->rsectors * 512 / 1e6, 100.0 * (double)d->busy_ms / 1e3 / wall);
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(const double *v, unsigned n)
{
    double s[MAX_ROUNDS];
    memcpy(s, v, n * sizeof *s);
    qsort(s, n, sizeof *s, cmp_d);
    return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

static double best(const double *v, unsigned n)
{
    double b = 0;
    for (unsigned i = 0; i < n; i++)
        b = v[i] > b ? v[i] : b;
    return b;
}

/* ---- traffic ---- */

static uint32_t host_ip[NHOSTS];
static uint16_t host_vlan[NHOSTS];
static double zipf_cdf[NHOSTS];

static inline uint64_t rnd(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static inline double rnd01(uint64_t *s)
{
    return (double)(rnd(s) >> 11) * 0x1.0p-53;
}

static inline uint32_t rnd_in(uint64_t *s, uint32_t lo, uint32_t hi)
{
    return lo + (uint32_t)(rnd(s) % (hi - lo + 1));
}

static uint32_t log_uniform(uint64_t *s, double lo, double hi)
{
    return (uint32_t)(lo * exp(rnd01(s) * log(hi / lo)));
}

static uint32_t zipf_pick(uint64_t *s)
{
    double u = rnd01(s);
    uint32_t lo = 0, hi = NHOSTS - 1;

    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (zipf_cdf[mid] < u)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void hosts_init(void)
{
    double sum = 0;

    for (uint32_t r = 0; r < NHOSTS; r++) {
        uint32_t h = r * 2654435761u; /* odd multiplier: distinct low bits per r */
        uint64_t v = r + 1;
        if (r % 5 == 4) { /* every fifth host is outside: 198.18.0.0/15 */
            host_ip[r] = 0xc6120000u | (h & 0x1ffffu);
            host_vlan[r] = 0;
        } else {
            static const uint16_t vl[10] = {0, 0, 0, 0, 0, 0, 10, 20, 30, 100};
            host_ip[r] = 0x0a000000u | (h & 0xffffffu);
            host_vlan[r] = vl[rnd(&v) % 10];
        }
        sum += 1.0 / (double)(r + 1);
        zipf_cdf[r] = sum;
    }
    for (uint32_t r = 0; r < NHOSTS; r++)
        zipf_cdf[r] /= sum;
    zipf_cdf[NHOSTS - 1] = 1.0;
}

enum fkind { F_TCP_SMALL, F_TCP_BULK, F_DNS, F_QUIC, F_UDP };

struct flow {
    uint32_t a, b;   /* host ranks: a the client */
    uint16_t pa, pb; /* ports */
    uint16_t vlan;   /* 0 = untagged */
    uint8_t proto, kind;
    uint32_t left, sent; /* packets still to send, sent */
    uint32_t seq_a, seq_b;
    uint32_t ip_a; /* not 0: a's address (a flood's spoofed source), not host_ip[a] */
};

struct gen {
    uint64_t rng;
    struct flow *slot;
    unsigned nslot;
    uint8_t *frame;
    uint64_t ts;
    struct pt_ring_prod *p;
    uint32_t *host_pkts; /* NULL: not counted */
    uint64_t packets, bytes, large, flows;
};

static uint16_t tcp_port(uint64_t *s)
{
    static const uint16_t other[] = {22, 25, 993, 3306, 8080, 8443, 445, 3389};
    double u = rnd01(s);

    if (u < 0.5)
        return 443;
    if (u < 0.65)
        return 80;
    if (u < 0.9)
        return other[rnd(s) % PT_ARRAY_LEN(other)];
    return (uint16_t)rnd_in(s, 1024, 65535);
}

static void flow_new(struct gen *g, struct flow *f)
{
    static const uint16_t udp_other[] = {123, 161, 514, 5353};
    uint64_t *s = &g->rng;
    double u = rnd01(s), v = rnd01(s);

    memset(f, 0, sizeof *f);
    f->a = zipf_pick(s);
    do
        f->b = zipf_pick(s);
    while (f->b == f->a);
    f->vlan = host_vlan[f->a];
    f->pa = (uint16_t)rnd_in(s, 32768, 60999);
    f->seq_a = (uint32_t)rnd(s);
    f->seq_b = (uint32_t)rnd(s);
    if (u < 0.6) {
        f->proto = 6;
        f->pb = tcp_port(s);
        if (v < 0.6) {
            f->kind = F_TCP_SMALL;
            f->left = rnd_in(s, 2, 12);
        } else {
            f->kind = F_TCP_BULK;
            v = (v - 0.6) / 0.4;
            f->left = v < 0.925   ? log_uniform(s, 12, 200)
                      : v < 0.997 ? log_uniform(s, 200, 5000)
                                  : log_uniform(s, 5000, 100000);
        }
    } else {
        f->proto = 17;
        if (v < 0.7) {
            f->kind = F_DNS;
            f->pb = 53;
            f->left = 2;
        } else if (v < 0.9) {
            f->kind = F_UDP;
            f->pb = v < 0.85 ? udp_other[rnd(s) % PT_ARRAY_LEN(udp_other)]
                             : (uint16_t)rnd_in(s, 1024, 65535);
            f->left = rnd_in(s, 1, 4);
        } else {
            f->kind = F_QUIC;
            f->pb = 443;
            f->left = log_uniform(s, 10, 1000);
        }
    }
    g->flows++;
}

static inline void put16(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static inline void put32(uint8_t *p, uint32_t v)
{
    put16(p, v >> 16);
    put16(p + 2, v);
}

static void mac(uint8_t *m, uint32_t ip)
{
    m[0] = 0x02;
    m[1] = 0x00;
    put32(m + 2, ip);
}

/* Build a frame of flow @f into g->frame: @len the untagged frame length
 * (60 .. 1514), direction a -> b when @from_a. Returns its length. */
static uint32_t frame_build(struct gen *g, struct flow *f, bool from_a, uint32_t len, uint8_t flags)
{
    uint8_t *e = g->frame, *ip, *l4;
    uint32_t ipa = f->ip_a ? f->ip_a : host_ip[f->a];
    uint32_t src = from_a ? ipa : host_ip[f->b], dst = from_a ? host_ip[f->b] : ipa;
    uint32_t l2 = f->vlan ? 18 : 14, hdr = f->proto == 6 ? 40 : 28, iplen, sum = 0;
    uint32_t *seq = from_a ? &f->seq_a : &f->seq_b;

    mac(e, dst);
    mac(e + 6, src);
    if (f->vlan) {
        put16(e + 12, 0x8100);
        put16(e + 14, f->vlan);
    }
    put16(e + l2 - 2, 0x0800);
    iplen = len - 14 < hdr ? hdr : len - 14;
    ip = e + l2;
    ip[0] = 0x45;
    ip[1] = 0;
    put16(ip + 2, iplen);
    put16(ip + 4, f->sent);
    put16(ip + 6, 0x4000);
    ip[8] = 64;
    ip[9] = f->proto;
    put16(ip + 10, 0);
    put32(ip + 12, src);
    put32(ip + 16, dst);
    for (int i = 0; i < 20; i += 2)
        sum += (uint32_t)ip[i] << 8 | ip[i + 1];
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    put16(ip + 10, ~sum & 0xffff);
    l4 = ip + 20;
    put16(l4, from_a ? f->pa : f->pb);
    put16(l4 + 2, from_a ? f->pb : f->pa);
    if (f->proto == 6) {
        put32(l4 + 4, *seq);
        put32(l4 + 8, from_a ? f->seq_b : f->seq_a);
        l4[12] = 0x50;
        l4[13] = flags;
        put16(l4 + 14, 65535);
        put32(l4 + 16, 0);
        *seq += iplen - hdr + ((flags & (TCP_SYN | TCP_FIN)) != 0);
    } else {
        put16(l4 + 4, iplen - 20);
        put16(l4 + 6, 0);
    }
    return l2 + iplen < l2 + 46 ? l2 + 46 : l2 + iplen;
}

static void emit(struct gen *g, struct flow *f, bool from_a, uint32_t len, uint8_t flags)
{
    uint32_t n = frame_build(g, f, from_a, len, flags);
    struct pt_ring_pkt pk = {
        .data = g->frame, .caplen = n, .wirelen = n, .ts_ns = g->ts, .linktype = PT_LINK_ETHERNET};

    pt_ring_put(g->p, &pk);
    g->ts += (uint64_t)(n + 20) * 8; /* 1 Gbit/s, preamble and gap included */
    g->packets++;
    g->bytes += 16 + n;
    g->large += n >= 1400;
    if (g->host_pkts) {
        g->host_pkts[f->a] += !f->ip_a;
        g->host_pkts[f->b]++;
    }
    f->left--;
    f->sent++;
}

static unsigned train(uint64_t *s, double p)
{
    unsigned k = 1;
    while (k < 64 && rnd01(s) < p)
        k++;
    return k;
}

/* The flow's next train of packets. */
static void visit(struct gen *g, struct flow *f)
{
    uint64_t *s = &g->rng;
    unsigned n;

    switch (f->kind) {
    case F_TCP_SMALL:
        emit(g, f, !(f->sent & 1), rnd_in(s, 60, 800),
             f->sent == 0   ? TCP_SYN
             : f->left == 1 ? TCP_FIN | TCP_ACK
                            : TCP_PSH | TCP_ACK);
        break;
    case F_TCP_BULK:
        if (f->sent == 0) {
            emit(g, f, true, 66, TCP_SYN);
            break;
        }
        n = train(s, 0.875);
        for (unsigned i = 0; i < n && f->left; i++)
            emit(g, f, false, rnd01(s) < 0.92 ? 1514 : rnd_in(s, 60, 1514),
                 f->left == 1 ? TCP_FIN | TCP_ACK
                 : i + 1 == n ? TCP_PSH | TCP_ACK
                              : TCP_ACK);
        if (f->left)
            emit(g, f, true, 66, TCP_ACK);
        break;
    case F_DNS:
        emit(g, f, !(f->sent & 1), f->sent & 1 ? rnd_in(s, 100, 400) : rnd_in(s, 70, 120), 0);
        break;
    case F_QUIC:
        n = train(s, 0.67);
        for (unsigned i = 0; i < n && f->left; i++)
            emit(g, f, false, rnd_in(s, 1250, 1392), 0);
        if (f->left)
            emit(g, f, true, rnd_in(s, 60, 100), 0);
        break;
    default:
        emit(g, f, !(f->sent & 1), rnd_in(s, 60, 1400), 0);
        break;
    }
    if (!f->left)
        flow_new(g, f);
}

/* -F: one packet of a flood, a flow of its own (the header has the mix). */
static void flood_one(struct gen *g)
{
    uint64_t r = rnd(&g->rng);
    struct flow f;

    memset(&f, 0, sizeof f);
    f.ip_a = (uint32_t)r | 1;
    f.a = f.b = (uint32_t)((r >> 32) % 10);
    f.pa = (uint16_t)(1024 + (r >> 40) % 64512);
    f.seq_a = (uint32_t)(r >> 8);
    f.left = 1;
    if (r >> 63) {
        f.proto = 6;
        f.pb = 80;
        emit(g, &f, true, 66, TCP_SYN);
    } else {
        f.proto = 17;
        f.pb = 53;
        emit(g, &f, true, rnd_in(&g->rng, 70, 120), 0);
    }
    g->flows++;
}

/* ---- producers and one ring run ---- */

struct prod {
    pthread_t th;
    struct pt_ring_prod *p;
    uint64_t seed, budget; /* record bytes to offer */
    double rate;           /* bytes/s to offer; 0 = as fast as the ring takes them */
    unsigned flows;
    bool flood;
    uint32_t *host_pkts;
    uint64_t packets, bytes, large, nflows;
    double cpu;
    int err;
};

static void *prod_main(void *arg)
{
    struct prod *pr = arg;
    struct gen g = {
        .rng = pr->seed, .nslot = pr->flows, .ts = T0_NS, .p = pr->p, .host_pkts = pr->host_pkts};
    uint64_t t0 = now_ns(), mark = 0;

    g.slot = calloc(g.nslot, sizeof *g.slot);
    g.frame = malloc(FRAME_MAX);
    if (!g.slot || !g.frame) {
        pr->err = -ENOMEM;
        goto out;
    }
    for (unsigned i = 0; i < FRAME_MAX; i++)
        g.frame[i] = (uint8_t)rnd(&g.rng);
    for (unsigned i = 0; i < g.nslot; i++)
        flow_new(&g, &g.slot[i]);
    while (g.bytes < pr->budget) {
        if (pr->flood)
            flood_one(&g);
        else
            visit(&g, &g.slot[rnd(&g.rng) % g.nslot]);
        if (g.packets - mark < FLUSH_EVERY)
            continue;
        mark = g.packets;
        pt_ring_flush(g.p, false);
        if (pr->rate > 0) {
            uint64_t due = t0 + (uint64_t)((double)g.bytes * 1e9 / pr->rate), now = now_ns();
            if (due > now) {
                struct timespec ts = {(time_t)((due - now) / 1000000000ull),
                                      (long)((due - now) % 1000000000ull)};
                nanosleep(&ts, NULL);
            }
        }
    }
    pt_ring_flush(g.p, true);
out:
    pr->packets = g.packets;
    pr->bytes = g.bytes;
    pr->large = g.large;
    pr->nflows = g.flows;
    pr->cpu = thread_cpu_s();
    free(g.slot);
    free(g.frame);
    return NULL;
}

struct run {
    /* in */
    char datadir[2048];
    uint64_t ring_size, bytes;
    double rate;
    bool wait, nosync;
    uint32_t *host_pkts; /* NHOSTS counters, or NULL */
    /* out */
    double wall, writer_cpu, prod_cpu;
    struct disk io;
    struct pt_ring_stats st;
    struct pt_ring_status status;
    uint64_t packets, bytes_offered, large, flows;
};

/* @st less what @st0 (taken at open) held: this run's share of the
 * counters the index sums over every run of a ring. */
static void stats_since(struct pt_ring_stats *st, const struct pt_ring_stats *st0)
{
    st->packets -= st0->packets;
    st->bytes -= st0->bytes;
    st->wire_bytes -= st0->wire_bytes;
    st->lost_full_pkts -= st0->lost_full_pkts;
    st->lost_full_bytes -= st0->lost_full_bytes;
    st->lost_io_pkts -= st0->lost_io_pkts;
    st->lost_io_bytes -= st0->lost_io_bytes;
    st->segments_created -= st0->segments_created;
    st->segments_recycled -= st0->segments_recycled;
    st->index_commits -= st0->index_commits;
}

static int ring_run(const struct opts *o, struct run *rn)
{
    struct pt_ring_config c;
    struct prod pr[16];
    char msg[256];
    int err = 0;
    uint32_t *counts[16] = {0};

    pt_ring_config_default(&c);
    snprintf(c.dir, sizeof c.dir, "%s/ring", rn->datadir);
    c.ring_size = rn->ring_size;
    c.segment_size = SEGMENT;
    c.sync = !rn->nosync && !o->nosync; /* as `run` has it, unless told */
    c.wait_when_full = rn->wait;
    if (o->chunks)
        c.chunks = o->chunks;

    disk_read(&rn->io);
    double cpu0 = proc_cpu_s(), main0 = thread_cpu_s(), t0 = now_s();
    struct pt_ring *r = pt_ring_open(&c, o->producers, &err, msg, sizeof msg);
    if (!r) {
        fprintf(stderr, "ring_bench: pt_ring_open %s: %s\n", c.dir,
                msg[0] ? msg : pt_strerror(err));
        return -1;
    }
    struct pt_ring_stats st0;
    pt_ring_stats(r, &st0); /* a reopened ring's counters include its earlier runs */
    pt_ring_iface_name(r, 0, "bench0");
    for (unsigned i = 0; i < o->producers; i++) {
        memset(&pr[i], 0, sizeof pr[i]);
        pr[i].p = pt_ring_producer(r, i);
        pr[i].seed = o->seed * 1000003u + i;
        pr[i].budget = rn->bytes / o->producers;
        pr[i].rate = rn->rate / o->producers;
        pr[i].flows = o->flows;
        pr[i].flood = o->flood;
        if (rn->host_pkts)
            pr[i].host_pkts = counts[i] = calloc(NHOSTS, sizeof(uint32_t));
        if (pthread_create(&pr[i].th, NULL, prod_main, &pr[i]) != 0) {
            fprintf(stderr, "ring_bench: cannot start a producer thread\n");
            exit(1);
        }
    }
    rn->prod_cpu = 0;
    rn->packets = rn->bytes_offered = rn->large = rn->flows = 0;
    for (unsigned i = 0; i < o->producers; i++) {
        pthread_join(pr[i].th, NULL);
        if (pr[i].err)
            err = pr[i].err;
        rn->prod_cpu += pr[i].cpu;
        rn->packets += pr[i].packets;
        rn->bytes_offered += pr[i].bytes;
        rn->large += pr[i].large;
        rn->flows += pr[i].nflows;
    }
    pt_ring_close(r, &rn->st);
    rn->wall = now_s() - t0;
    struct disk io0 = rn->io;
    disk_read(&rn->io);
    disk_since(&rn->io, &io0);
    stats_since(&rn->st, &st0);
    rn->writer_cpu = proc_cpu_s() - cpu0 - rn->prod_cpu - (thread_cpu_s() - main0);
    for (unsigned i = 0; i < o->producers; i++) {
        if (rn->host_pkts && counts[i])
            for (uint32_t h = 0; h < NHOSTS; h++)
                rn->host_pkts[h] += counts[i][h];
        free(counts[i]);
    }
    if (err) {
        fprintf(stderr, "ring_bench: producer: %s\n", pt_strerror(err));
        return -1;
    }
    if ((err = pt_ring_status_read(c.dir, &rn->status, msg, sizeof msg)) < 0) {
        fprintf(stderr, "ring_bench: pt_ring_status_read: %s\n", msg[0] ? msg : pt_strerror(err));
        return -1;
    }
    return 0;
}

/* ---- dd ---- */

/* A flush of the device every @ms while dd runs: pwrite + fdatasync of a
 * 4 KiB file in DIR, so that dd pays what the ring's per-second durability
 * costs the disk (a flush writes out whatever the device caches, whoever
 * wrote it). */
struct flusher {
    pthread_t th;
    int fd;
    unsigned ms;
    bool stop; /* atomic */
};

static void *flusher_main(void *arg)
{
    struct flusher *f = arg;
    static const uint8_t page[4096];

    while (!__atomic_load_n(&f->stop, __ATOMIC_ACQUIRE)) {
        for (unsigned t = 0; t < f->ms && !__atomic_load_n(&f->stop, __ATOMIC_ACQUIRE); t += 10)
            nanosleep(&(struct timespec){0, 10000000L}, NULL);
        if (pwrite(f->fd, page, sizeof page, 0) < 0 || fdatasync(f->fd) < 0) {
            fprintf(stderr, "ring_bench: flusher: %s\n", strerror(errno));
            break;
        }
    }
    return NULL;
}

/* One dd of the run's bytes into DIR/dd.bin (@notrunc: over the file the
 * last one left, as a ring rewrites a recycled file), with a flush every
 * @flush_ms (0: none). Its wall and CPU seconds, and what the device did. */
static int dd_once(const struct opts *o, bool notrunc, unsigned flush_ms, double *wall, double *cpu,
                   struct disk *io)
{
    char of[4200], count[64], fl[4200];
    char *argv[] = {"dd", "if=/dev/zero", of, "bs=1M", count, "oflag=direct", NULL, NULL};
    struct flusher f = {.fd = -1, .ms = flush_ms};
    struct disk d0;
    int rc;

    snprintf(of, sizeof of, "of=%s/dd.bin", o->dir);
    snprintf(count, sizeof count, "count=%llu", (unsigned long long)(o->write_bytes / MIB));
    if (notrunc)
        argv[6] = "conv=notrunc";
    if (flush_ms) {
        snprintf(fl, sizeof fl, "%s/flush.bin", o->dir);
        if ((f.fd = open(fl, O_WRONLY | O_CREAT | O_TRUNC, 0644)) < 0 ||
            pthread_create(&f.th, NULL, flusher_main, &f) != 0) {
            fprintf(stderr, "ring_bench: %s: cannot start the flusher\n", fl);
            exit(1);
        }
    }
    disk_read(&d0);
    rc = run_cmd(argv, wall, cpu);
    disk_read(io);
    disk_since(io, &d0);
    if (flush_ms) {
        __atomic_store_n(&f.stop, true, __ATOMIC_RELEASE);
        pthread_join(f.th, NULL);
        close(f.fd);
        unlink(fl);
    }
    if (rc != 0)
        fprintf(stderr, "ring_bench: dd exited with %d\n", rc);
    return rc;
}

static void dd_remove(const struct opts *o)
{
    char of[4200];
    snprintf(of, sizeof of, "%s/dd.bin", o->dir);
    unlink(of);
    fs_sync(o->dir);
}

/* ---- index ---- */

/* Bytes of the pages the index's databases use (the rest of data.mdb is
 * free pages); with @verbose, print them by database and the keys by kind. */
static uint64_t index_detail(const char *ringdir, bool verbose)
{
    static const char *const names[] = {"keys", "blocks", "segs", "meta"};
    char path[4300];
    MDB_env *env;
    MDB_txn *txn;
    MDB_envinfo info;
    MDB_stat es, s;
    uint64_t used;
    int rc;

    snprintf(path, sizeof path, "%s/index", ringdir);
    if ((rc = mdb_env_create(&env)) != 0)
        return 0;
    if ((rc = mdb_env_set_maxdbs(env, 8)) != 0 ||
        (rc = mdb_env_open(env, path, MDB_RDONLY | MDB_NOTLS, 0644)) != 0 ||
        (rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn)) != 0) {
        fprintf(stderr, "ring_bench: %s: %s\n", path, mdb_strerror(rc));
        mdb_env_close(env);
        return 0;
    }
    mdb_env_info(env, &info);
    mdb_env_stat(env, &es);
    used = (es.ms_branch_pages + es.ms_leaf_pages + es.ms_overflow_pages + 2) * es.ms_psize;
    if (verbose)
        printf("index    pages: %.1f MB up to the last page used",
               (double)(info.me_last_pgno + 1) * es.ms_psize / 1e6);
    for (size_t i = 0; i < PT_ARRAY_LEN(names); i++) {
        MDB_dbi dbi;
        if (mdb_dbi_open(txn, names[i], 0, &dbi) != 0 || mdb_stat(txn, dbi, &s) != 0)
            continue;
        used += (s.ms_branch_pages + s.ms_leaf_pages + s.ms_overflow_pages) * s.ms_psize;
        if (!verbose)
            continue;
        printf("; %s %.2f MB in %zu entries (%zu leaf, %zu overflow pages)", names[i],
               (double)(s.ms_branch_pages + s.ms_leaf_pages + s.ms_overflow_pages) * s.ms_psize /
                   1e6,
               s.ms_entries, s.ms_leaf_pages, s.ms_overflow_pages);
    }
    /* what the keys hold, by kind: entries, blocks listed, key and list bytes */
    MDB_dbi kdbi;
    MDB_cursor *cur;
    MDB_val k, d;
    uint64_t ent[5] = {0}, blk[5] = {0}, kbytes[5] = {0};
    if (verbose)
        printf(" (the meta pages included, the rest is free pages)\n");
    if (verbose && mdb_dbi_open(txn, "keys", 0, &kdbi) == 0 &&
        mdb_cursor_open(txn, kdbi, &cur) == 0) {
        for (rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST); rc == 0;
             rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
            unsigned kind = k.mv_size > 8 ? ((const uint8_t *)k.mv_data)[8] : 0;
            kind = kind < 5 ? kind : 0;
            ent[kind]++;
            for (size_t i = 0; i < d.mv_size; i++) /* varints: one byte without the high bit each */
                blk[kind] += !(((const uint8_t *)d.mv_data)[i] & 0x80);
            kbytes[kind] += k.mv_size + d.mv_size;
        }
        mdb_cursor_close(cur);
        static const char *const kn[5] = {"other", "host", "port", "vlan", "flow"};
        printf("index    keys by kind (entries, mean parts listed, key + list bytes):");
        for (int i = 1; i < 5; i++)
            printf(" %s %llu, %.1f, %.2f MB;", kn[i], (unsigned long long)ent[i],
                   ent[i] ? (double)blk[i] / (double)ent[i] : 0.0, (double)kbytes[i] / 1e6);
        printf("\n");
    }
    mdb_txn_abort(txn);
    mdb_env_close(env);
    return used;
}

/* ---- extraction ---- */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The ring's segment files, sorted (by seq). */
static unsigned seg_list(const char *ringdir, char ***out)
{
    DIR *d = opendir(ringdir);
    struct dirent *de;
    char **v = NULL;
    unsigned n = 0, cap = 0;

    if (!d)
        return 0;
    while ((de = readdir(d)) != NULL) {
        if (strncmp(de->d_name, "seg-", 4) != 0)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            v = realloc(v, cap * sizeof *v);
        }
        v[n] = malloc(strlen(ringdir) + strlen(de->d_name) + 2);
        sprintf(v[n++], "%s/%s", ringdir, de->d_name);
    }
    closedir(d);
    if (n)
        qsort(v, n, sizeof *v, cmp_str);
    *out = v;
    return n;
}

static void drop_cache(const char *path)
{
    int fd = open(path, O_RDONLY);
    if (fd >= 0) {
        (void)fdatasync(fd);
        (void)posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
        close(fd);
    }
}

static void ring_drop_cache(const char *ringdir, char **segs, unsigned n)
{
    char p[4200];

    for (unsigned i = 0; i < n; i++)
        drop_cache(segs[i]);
    snprintf(p, sizeof p, "%s/index/data.mdb", ringdir);
    drop_cache(p);
}

/* Records in a pcap file (either magic, host order); -1 if unreadable. */
static long long pcap_count(const char *path)
{
    FILE *f = fopen(path, "rb");
    uint32_t h[6], r[4];
    long long n = 0;

    if (!f)
        return -1;
    if (fread(h, 4, 6, f) != 6) {
        fclose(f);
        return -1;
    }
    while (fread(r, 4, 4, f) == 4) {
        if (fseeko(f, r[2], SEEK_CUR) != 0)
            break;
        n++;
    }
    fclose(f);
    return n;
}

static char *ip_str(uint32_t ip, char *buf)
{
    sprintf(buf, "%u.%u.%u.%u", ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255, ip & 255);
    return buf;
}

/* `packettracer extract` of one host: wall seconds, packets in its output. */
static double pt_extract(const struct opts *o, const char *datadir, const char *host,
                         long long *pkts)
{
    char out[4200];
    char *argv[] = {(char *)o->ptbin,
                    "extract",
                    "-d",
                    (char *)datadir,
                    "--host",
                    (char *)host,
                    "-w",
                    out,
                    NULL};
    double wall = -1;

    snprintf(out, sizeof out, "%s/extract.pcap", o->dir);
    if (run_cmd(argv, &wall, NULL) != 0) {
        fprintf(stderr, "ring_bench: %s extract failed\n", o->ptbin);
        *pkts = -1;
        return -1;
    }
    *pkts = pcap_count(out);
    unlink(out);
    return wall;
}

/* tcpdump over every segment in turn, to /dev/null (sum of the wall
 * times), or with @count to a file whose records are counted. */
static double tcpdump_all(const struct opts *o, char **segs, unsigned n, const char *filter,
                          long long *count)
{
    char out[4200];
    double sum = 0, w;

    snprintf(out, sizeof out, "%s/tcpdump.pcap", o->dir);
    if (count)
        *count = 0;
    for (unsigned i = 0; i < n; i++) {
        char *argv[] = {"tcpdump",      "-r", segs[i], "-w", count ? out : "/dev/null",
                        (char *)filter, NULL};
        if (run_cmd(argv, &w, NULL) != 0) {
            fprintf(stderr, "ring_bench: tcpdump -r %s failed\n", segs[i]);
            return -1;
        }
        sum += w;
        if (count) {
            long long c = pcap_count(out);
            *count = c < 0 || *count < 0 ? -1 : *count + c;
            unlink(out);
        }
    }
    return sum;
}

static uint32_t host_near(const uint32_t *cnt, uint64_t target)
{
    uint32_t best = 0;
    uint64_t bd = UINT64_MAX;

    for (uint32_t h = 0; h < NHOSTS; h++) {
        uint64_t d = cnt[h] > target ? cnt[h] - target : target - cnt[h];
        if (d < bd) {
            bd = d;
            best = h;
        }
    }
    return best;
}

static void bench_extract(const struct opts *o, const char *datadir, const uint32_t *cnt,
                          uint64_t total_pkts)
{
    char ringdir[4200], host[32], filter[128];
    char **segs = NULL;
    uint32_t h = host_near(cnt, (uint64_t)((double)total_pkts * TARGET_SHARE));
    unsigned n;
    long long pe = -1, pt = -1, pw = -1;
    double pe_cold, pe_warm = 1e9, td_cold, td_warm = 1e9, w;
    struct pt_ring_query q;
    struct pt_ring_extract_stats xs;
    struct pt_ring_status rs;
    char msg[256];

    snprintf(ringdir, sizeof ringdir, "%s/ring", datadir);
    n = seg_list(ringdir, &segs);
    ip_str(host_ip[h], host);
    snprintf(filter, sizeof filter, "host %s or (vlan and host %s)", host, host);
    if (pt_ring_status_read(ringdir, &rs, msg, sizeof msg) < 0) {
        fprintf(stderr, "ring_bench: %s\n", msg);
        return;
    }
    printf("extract  ring %.2f GB in %u segments, %llu packets; host %s (popularity rank %u, "
           "VLAN %u, %u packets generated, %.1e of them)\n",
           (double)rs.bytes / 1e9, n, (unsigned long long)rs.packets, host, h + 1, host_vlan[h],
           cnt[h], (double)cnt[h] / (double)total_pkts);

    /* cold: the ring's files out of the page cache before each tool */
    ring_drop_cache(ringdir, segs, n);
    pe_cold = pt_extract(o, datadir, host, &pe);
    ring_drop_cache(ringdir, segs, n);
    td_cold = tcpdump_all(o, segs, n, filter, NULL);
    /* warm */
    for (int i = 0; i < 2; i++)
        if ((w = tcpdump_all(o, segs, n, filter, NULL)) >= 0 && w < td_warm)
            td_warm = w;
    for (int i = 0; i < 3; i++)
        if ((w = pt_extract(o, datadir, host, &pw)) >= 0 && w < pe_warm)
            pe_warm = w;
    (void)tcpdump_all(o, segs, n, filter, &pt);

    memset(&q, 0, sizeof q);
    q.to_ns = UINT64_MAX;
    q.by_host = true;
    q.host[10] = q.host[11] = 0xff;
    q.host[12] = (uint8_t)(host_ip[h] >> 24);
    q.host[13] = (uint8_t)(host_ip[h] >> 16);
    q.host[14] = (uint8_t)(host_ip[h] >> 8);
    q.host[15] = (uint8_t)host_ip[h];
    FILE *null = fopen("/dev/null", "w");
    memset(&xs, 0, sizeof xs);
    if (null) {
        (void)pt_ring_extract(ringdir, &q, PT_RING_OUT_PCAP, null, &xs, msg, sizeof msg);
        fclose(null);
    }
    printf("extract  packettracer extract --host: cold %.3f s, warm %.3f s (best of 3); read %llu "
           "blocks, %.1f MB (%.2f%% of the ring)\n",
           pe_cold, pe_warm, (unsigned long long)xs.blocks_read, (double)xs.bytes_read / 1e6,
           100.0 * (double)xs.bytes_read / (double)rs.bytes);
    printf("extract  peer: tcpdump -r SEG -w /dev/null '%s', %u segments in turn: cold %.2f s, "
           "warm %.2f s (best of 2)\n",
           filter, n, td_cold, td_warm);
    printf("extract  tcpdump / extract: cold %.0fx, warm %.0fx (target >= 100x and extract < 1 s: "
           "%s)\n",
           td_cold / pe_cold, td_warm / pe_warm,
           td_cold / pe_cold >= 100 && td_warm / pe_warm >= 100 && pe_cold < 1 ? "met"
           : td_warm / pe_warm >= 100 && pe_warm < 1 ? "met warm, not cold"
                                                     : "NOT met");
    printf("extract  packets: extract %lld, tcpdump %lld: %s\n", pe, pt,
           pe == pt && pe == pw ? "same" : "DIFFERENT");

    /* other rarities: extract alone, warm */
    static const double shares[] = {1e-5, 1e-3};
    for (size_t i = 0; i < PT_ARRAY_LEN(shares); i++) {
        uint32_t k = host_near(cnt, (uint64_t)((double)total_pkts * shares[i]));
        char hs[32];
        long long c;
        ip_str(host_ip[k], hs);
        double best = 1e9;
        for (int j = 0; j < 3; j++)
            if ((w = pt_extract(o, datadir, hs, &c)) >= 0 && w < best)
                best = w;
        q.host[12] = (uint8_t)(host_ip[k] >> 24);
        q.host[13] = (uint8_t)(host_ip[k] >> 16);
        q.host[14] = (uint8_t)(host_ip[k] >> 8);
        q.host[15] = (uint8_t)host_ip[k];
        memset(&xs, 0, sizeof xs);
        if ((null = fopen("/dev/null", "w")) != NULL) {
            (void)pt_ring_extract(ringdir, &q, PT_RING_OUT_PCAP, null, &xs, msg, sizeof msg);
            fclose(null);
        }
        printf("extract  other host %s (%.0e of the packets): %lld packets, %llu blocks "
               "(%.2f%% of the ring), warm %.3f s\n",
               hs, shares[i], c, (unsigned long long)xs.blocks_read,
               100.0 * (double)xs.bytes_read / (double)rs.bytes, best);
    }
    for (unsigned i = 0; i < n; i++)
        free(segs[i]);
    free(segs);
}

/* ---- main ---- */

static void loadavg(char *buf, size_t len)
{
    FILE *f = fopen("/proc/loadavg", "r");
    buf[0] = '\0';
    if (f) {
        if (fgets(buf, (int)len, f))
            buf[strcspn(buf, "\n")] = '\0';
        fclose(f);
    }
}

static void index_line(const char *what, const struct run *rn)
{
    char ringdir[4200];
    uint64_t used;

    snprintf(ringdir, sizeof ringdir, "%s/ring", rn->datadir);
    used = index_detail(ringdir, false);
    printf("index    %s: data.mdb %.2f MB / %.2f GB committed = %.3f%% (target <= 1%%: %s); "
           "pages in use %.2f MB = %.3f%%; %llu segments\n",
           what, (double)rn->status.index_bytes / 1e6, (double)rn->status.bytes / 1e9,
           100.0 * (double)rn->status.index_bytes / (double)rn->status.bytes,
           rn->status.index_bytes * 100 <= rn->status.bytes ? "met" : "NOT met", (double)used / 1e6,
           100.0 * (double)used / (double)rn->status.bytes,
           (unsigned long long)rn->status.segments);
}

/* What the run's commits cost (pt_ring_stats). */
static void commit_line(const struct run *rn)
{
    const struct pt_ring_stats *s = &rn->st;
    double n = s->index_commits ? (double)s->index_commits : 1;

    printf("commit   %llu commits in %.1f s: transactions %.0f ms per second of the run, mean "
           "%.1f ms, longest %.1f ms; %.0f keys written per second, key lists copied %.2f MB "
           "per second\n",
           (unsigned long long)s->index_commits, rn->wall, (double)s->index_txn_ns / 1e6 / rn->wall,
           (double)s->index_txn_ns / 1e6 / n, (double)s->index_txn_max_ns / 1e6,
           (double)s->index_keys_put / rn->wall, (double)s->index_key_bytes / 1e6 / rn->wall);
}

static void live_line(const char *what, const struct run *rn, double fr)
{
    printf("live     %s offered %.0f MB/s (%.2f x dd median) for %.1f s, producers never block: "
           "committed %.0f MB/s, lost_full %llu of %llu packets (%.3f%%) (target 0: %s), "
           "writer CPU %.2f s/GB, segments recycled %llu\n",
           what, rn->rate / 1e6, fr, rn->wall, (double)rn->st.bytes / rn->wall / 1e6,
           (unsigned long long)rn->st.lost_full_pkts, (unsigned long long)rn->packets,
           100.0 * (double)rn->st.lost_full_pkts / (double)rn->packets,
           rn->st.lost_full_pkts ? "NOT met" : "met", rn->writer_cpu / ((double)rn->st.bytes / 1e9),
           (unsigned long long)rn->st.segments_recycled);
}

/* 2. live: producers that never block (as capture workers), paced at 1.0,
 * 0.5 and 0.25 x @dd_mbps, into a new ring, then the same traffic again
 * into the ring the first run left (once that ring is full, its segments
 * are recycled files rewritten in place): lost_full and the index. */
static int bench_live(const struct opts *o, double dd_mbps)
{
    static const double all[] = {1.0, 0.5, 0.25};
    const double *fr = o->fraction > 0 ? &o->fraction : all;
    size_t n = o->fraction > 0 ? 1 : PT_ARRAY_LEN(all);
    char la[128];

    for (size_t i = 0; i < n; i++) {
        struct run rn;
        memset(&rn, 0, sizeof rn);
        snprintf(rn.datadir, sizeof rn.datadir, "%s/live", o->dir);
        rn.ring_size = LIVE_RING;
        rn.rate = dd_mbps * 1e6 * fr[i];
        rn.bytes = (uint64_t)(rn.rate * o->live_s);
        rn.wait = false;
        if (ring_run(o, &rn) < 0)
            return -1;
        live_line("new ring   ", &rn, fr[i]);
        commit_line(&rn);
        disk_line("new ring", &rn.io, rn.wall);
        struct run again = rn; /* the same traffic into the ring it filled */
        if (ring_run(o, &again) < 0)
            return -1;
        live_line("same ring  ", &again, fr[i]);
        disk_line("same ring", &again.io, again.wall);
        loadavg(la, sizeof la);
        printf("live     load average %s after the run\n", la);
        char what[64];
        snprintf(what, sizeof what, "live ring at %.2f x dd, after both runs", fr[i]);
        index_line(what, &again); /* its status: the index as both runs left it */
        rm_tree(rn.datadir);
        fs_sync(o->dir);
    }
    return 0;
}

static int usage(void)
{
    fprintf(
        stderr,
        "usage: ring_bench [-w GIB] [-r ROUNDS] [-p PRODUCERS] [-f FLOWS] [-c CHUNKS] [-s SEED] "
        "[-L] [-D MBPS] [-t SECONDS] [-x FRACTION] [-F] [-n] DIR PACKETTRACER\n");
    return 2;
}

int main(int argc, char **argv)
{
    struct opts o = {.write_bytes = 5 * GIB,
                     .rounds = 5,
                     .producers = 2,
                     .flows = 2048,
                     .seed = 1,
                     .chunks = 256, /* run's ring_buffer default */
                     .live_s = LIVE_S};
    double dd_w[MAX_ROUNDS], dd_c[MAX_ROUNDS], rg_w[MAX_ROUNDS], rg_c[MAX_ROUNDS];
    double sd_w[MAX_ROUNDS], sd_c[MAX_ROUNDS], do_w[MAX_ROUNDS], df_w[MAX_ROUNDS];
    double ns_w[MAX_ROUNDS];
    static uint32_t host_pkts[NHOSTS];
    struct run keep;
    uint64_t keep_pkts = 0;
    char la[128];
    int c;

    while ((c = getopt(argc, argv, "w:r:p:f:c:s:LD:t:x:Fn")) != -1) {
        switch (c) {
        case 'w':
            o.write_bytes = (uint64_t)(atof(optarg) * (double)GIB) / MIB * MIB;
            break;
        case 'r':
            o.rounds = (unsigned)atoi(optarg);
            break;
        case 'p':
            o.producers = (unsigned)atoi(optarg);
            break;
        case 'f':
            o.flows = (unsigned)atoi(optarg);
            break;
        case 'c':
            o.chunks = (unsigned)atoi(optarg);
            break;
        case 's':
            o.seed = strtoull(optarg, NULL, 0);
            break;
        case 'L':
            o.live_only = true;
            break;
        case 'D':
            o.dd_rate = atof(optarg);
            break;
        case 't':
            o.live_s = atof(optarg);
            break;
        case 'x':
            o.fraction = atof(optarg);
            break;
        case 'F':
            o.flood = true;
            break;
        case 'n':
            o.nosync = true;
            break;
        default:
            return usage();
        }
    }
    if (argc - optind != 2 || o.rounds < 1 || o.rounds > MAX_ROUNDS || o.producers < 1 ||
        o.producers > 16 || o.flows < 1 || o.write_bytes < 2 * SEGMENT + GIB / 2 || o.dd_rate < 0 ||
        o.live_s <= 0)
        return usage();
    o.dir = argv[optind];
    o.ptbin = argv[optind + 1];
    pt_log_level = PT_LOG_WARN;
    disk_init(o.dir);
    hosts_init();
    setvbuf(stdout, NULL, _IOLBF, 0);

    loadavg(la, sizeof la);
    printf("setup    %ld cores, load average %s at start; %u producers x %u concurrent flows, "
           "50000 hosts (Zipf s=1), seed %llu; segment 256 MiB, %u staging chunks of 1 MiB per "
           "producer, %s, commit 1000 ms%s\n",
           sysconf(_SC_NPROCESSORS_ONLN), la, o.producers, o.flows, (unsigned long long)o.seed,
           o.chunks ? o.chunks : PT_RING_CHUNKS, o.nosync ? "NO SYNC (-n)" : "sync",
           o.flood ? "; FLOOD (-F): every packet a new flow from a random source" : "");

    if (o.live_only) {
        double dd_med = o.dd_rate;
        if (!dd_med) {
            for (unsigned i = 0; i < o.rounds; i++) {
                struct disk io;
                int rc = dd_once(&o, false, 0, &dd_w[i], &dd_c[i], &io);
                dd_remove(&o);
                if (rc != 0)
                    return 1;
                dd_w[i] = (double)o.write_bytes / dd_w[i] / 1e6;
                printf("write    dd round %u: %.0f MB/s\n", i + 1, dd_w[i]);
            }
            dd_med = median(dd_w, o.rounds);
        }
        printf("write    dd rate for the live runs: %.0f MB/s (%s)\n", dd_med,
               o.dd_rate ? "given with -D" : "median of the dd rounds");
        if (bench_live(&o, dd_med) < 0)
            return 1;
        loadavg(la, sizeof la);
        printf("setup    load average %s at the end\n", la);
        return 0;
    }

    /* 1. write: dd, then a new ring (fill), then the steady ring, round by
     * round. The steady ring is filled once first, so that every segment
     * its rounds write is a recycled file rewritten in place. */
    struct run sr;
    memset(&sr, 0, sizeof sr);
    snprintf(sr.datadir, sizeof sr.datadir, "%s/steady", o.dir);
    sr.ring_size = o.write_bytes - GIB / 2;
    sr.bytes = o.write_bytes;
    sr.wait = true;
    if (ring_run(&o, &sr) < 0)
        return 1;
    printf("write    steady ring filled first (not compared): %.2f GB in %.2f s, %llu segments\n",
           (double)sr.st.bytes / 1e9, sr.wall, (unsigned long long)sr.status.segments);
    fs_sync(o.dir);
    for (unsigned i = 0; i < o.rounds; i++) {
        struct run rn;
        memset(&rn, 0, sizeof rn);
        snprintf(rn.datadir, sizeof rn.datadir, "%s/w%u", o.dir, i);
        rn.ring_size = o.write_bytes - GIB / 2;
        rn.bytes = o.write_bytes;
        rn.wait = true;
        rn.host_pkts = i == 0 ? host_pkts : NULL;
        struct disk dd_io, do_io, df_io;
        double ocpu;
        int rc = dd_once(&o, false, 0, &dd_w[i], &dd_c[i], &dd_io);
        if (rc == 0) {
            fs_sync(o.dir);
            rc = dd_once(&o, true, 0, &do_w[i], &ocpu, &do_io);
        }
        dd_remove(&o);
        if (rc == 0) {
            rc = dd_once(&o, false, 1000, &df_w[i], &ocpu, &df_io);
            dd_remove(&o);
        }
        if (rc != 0 || ring_run(&o, &rn) < 0)
            return 1;
        struct run ns = rn; /* the same traffic, as `read` writes it: no fdatasync */
        snprintf(ns.datadir, sizeof ns.datadir, "%s/nosync", o.dir);
        ns.nosync = true;
        ns.host_pkts = NULL;
        if (ring_run(&o, &ns) < 0)
            return 1;
        rm_tree(ns.datadir);
        fs_sync(o.dir);
        double dd_wall = dd_w[i], do_wall = do_w[i], df_wall = df_w[i];
        ns_w[i] = (double)ns.st.bytes / ns.wall / 1e6;
        df_w[i] = (double)o.write_bytes / df_w[i] / 1e6;
        double gb = (double)rn.st.bytes / 1e9;
        rg_w[i] = (double)rn.st.bytes / rn.wall / 1e6;
        rg_c[i] = rn.writer_cpu / gb;
        dd_c[i] /= (double)o.write_bytes / 1e9;
        dd_w[i] = (double)o.write_bytes / dd_w[i] / 1e6;
        do_w[i] = (double)o.write_bytes / do_w[i] / 1e6;
        if (i == 0) {
            printf("traffic  %llu packets, %llu flows, mean %.0f B per record, %.1f%% of "
                   "packets >= 1400 B\n",
                   (unsigned long long)rn.packets, (unsigned long long)rn.flows,
                   (double)rn.bytes_offered / (double)rn.packets,
                   100.0 * (double)rn.large / (double)rn.packets);
            keep = rn;
            keep_pkts = rn.packets;
        }
        printf("write    round %u: dd %.0f MB/s (CPU %.2f s/GB) | ring %.0f MB/s: %.2f GB "
               "committed in %.2f s, writer CPU %.2f s/GB, producers' CPU %.2f s, "
               "lost_full %llu, segments created %llu, recycled %llu\n",
               i + 1, dd_w[i], dd_c[i], rg_w[i], gb, rn.wall, rg_c[i], rn.prod_cpu,
               (unsigned long long)rn.st.lost_full_pkts, (unsigned long long)rn.st.segments_created,
               (unsigned long long)rn.st.segments_recycled);
        commit_line(&rn);
        printf("write    round %u peers: dd with a flush every second %.0f MB/s (ring %.2f x); "
               "ring without fdatasync (as `read` writes) %.0f MB/s (%.2f x dd)\n",
               i + 1, df_w[i], rg_w[i] / df_w[i], ns_w[i], ns_w[i] / dd_w[i]);
        disk_line("dd new file", &dd_io, dd_wall);
        disk_line("dd overwrite", &do_io, do_wall);
        disk_line("dd, flush each s", &df_io, df_wall);
        disk_line("ring", &rn.io, rn.wall);
        disk_line("ring, no sync", &ns.io, ns.wall);
        if (i > 0) {
            rm_tree(rn.datadir);
            fs_sync(o.dir);
        }
        if (ring_run(&o, &sr) < 0)
            return 1;
        sd_w[i] = (double)sr.st.bytes / sr.wall / 1e6;
        sd_c[i] = sr.writer_cpu / ((double)sr.st.bytes / 1e9);
        printf("write    round %u steady: ring %.0f MB/s (%.2f x this round's dd, %.2f x its dd "
               "overwrite at %.0f MB/s): %.2f GB committed in %.2f s, writer CPU %.2f s/GB, "
               "lost_full %llu, segments created %llu, recycled %llu\n",
               i + 1, sd_w[i], sd_w[i] / dd_w[i], sd_w[i] / do_w[i], do_w[i],
               (double)sr.st.bytes / 1e9, sr.wall, sd_c[i],
               (unsigned long long)sr.st.lost_full_pkts, (unsigned long long)sr.st.segments_created,
               (unsigned long long)sr.st.segments_recycled);
        disk_line("steady ring", &sr.io, sr.wall);
        fs_sync(o.dir);
    }
    double dd_med = median(dd_w, o.rounds), rg_med = median(rg_w, o.rounds);
    double dd_best = best(dd_w, o.rounds), rg_best = best(rg_w, o.rounds);
    printf("write    ring / dd: best %.0f / %.0f MB/s = %.2f, median %.0f / %.0f = %.2f "
           "(target >= 0.95: %s)\n",
           rg_best, dd_best, rg_best / dd_best, rg_med, dd_med, rg_med / dd_med,
           rg_med / dd_med >= 0.95 ? "met" : "NOT met");
    printf("write    writer CPU per GB committed: %.2f s (median; process getrusage minus the "
           "producer and main threads' CPU clocks); dd: %.2f s\n",
           median(rg_c, o.rounds), median(dd_c, o.rounds));
    double sd_best = best(sd_w, o.rounds), sd_med = median(sd_w, o.rounds);
    printf("write    steady ring / dd: best %.0f / %.0f MB/s = %.2f, median %.0f / %.0f = %.2f "
           "(target >= 0.95: %s); writer CPU %.2f s/GB (median)\n",
           sd_best, dd_best, sd_best / dd_best, sd_med, dd_med, sd_med / dd_med,
           sd_med / dd_med >= 0.95 ? "met" : "NOT met", median(sd_c, o.rounds));
    double df_med = median(df_w, o.rounds), ns_med = median(ns_w, o.rounds);
    printf("write    ring / dd with a flush every second (durable at the ring's commit interval): "
           "median %.0f / %.0f = %.2f\n",
           rg_med, df_med, rg_med / df_med);
    printf("write    ring without fdatasync (as `read` writes it) / dd: median %.0f / %.0f = %.2f "
           "(%s 0.95)\n",
           ns_med, dd_med, ns_med / dd_med, ns_med / dd_med >= 0.95 ? ">=" : "<");
    double do_med = median(do_w, o.rounds);
    printf("write    steady ring / dd overwriting its file (conv=notrunc), like for like: median "
           "%.0f / %.0f = %.2f (%s 0.95)\n",
           sd_med, do_med, sd_med / do_med, sd_med / do_med >= 0.95 ? ">=" : "<");
    rm_tree(sr.datadir);
    fs_sync(o.dir);

    /* 2. live: producers that never block, paced */
    if (bench_live(&o, dd_med) < 0)
        return 1;

    /* 3. index of the round-1 ring */
    char ringdir[4200];
    snprintf(ringdir, sizeof ringdir, "%s/ring", keep.datadir);
    index_line("ring of write round 1", &keep);
    (void)index_detail(ringdir, true);

    /* 4. extraction from the round-1 ring */
    bench_extract(&o, keep.datadir, host_pkts, keep_pkts);
    loadavg(la, sizeof la);
    printf("setup    load average %s at the end\n", la);
    return 0;
}
