/* gen.c - traffic generator for bench/capture: pre-built UDP frames blasted with sendmmsg.
 *
 * DESIGN: --flows frames are built once (deterministic: flow i is 10.98.(i/250).(i%250+1):
 * 1024+i -> 10.97.0.1:9000, IPv4 checksum correct, UDP checksum 0), each of exactly --size
 * bytes (Ethernet header to end of payload, no FCS: 60 is a minimum 64-byte frame on the wire,
 * 1514 a full 1500-byte IP packet). The destination MAC 02:99:00:00:00:01 belongs to no
 * interface, so the receiving namespace's stack ignores the frames, as a SPAN port's.
 * They go out of an AF_PACKET socket with PACKET_QDISC_BYPASS in sendmmsg batches of 64,
 * cycling through the flows. With --rate the sender paces itself per batch (sleeping when
 * ahead); without it, it sends as fast as the box allows. It stops after --seconds.
 *
 * On veth, the sender's CPU also does the receive side (netif_rx, then the capture
 * sockets' tpacket_rcv in the softirq), so the rate found here is "sender + kernel receive
 * path" on one core; the capture tool under test runs on the other.
 *
 * usage: gen -i IF [--size BYTES] [--flows N] [--rate PPS] [--seconds S]
 * Prints "sent N seconds T pps R size S flows F" on stdout. Exit 1 on a setup error. */
#include <errno.h>
#include <sched.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH     64
#define MAX_FLOWS 65536

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint16_t csum(const uint8_t *p, size_t len)
{
    uint32_t s = 0;
    for (size_t i = 0; i + 1 < len; i += 2)
        s += (uint32_t)(p[i] << 8 | p[i + 1]);
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (uint16_t)~s;
}

static void put16(uint8_t *p, unsigned v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void build(uint8_t *f, unsigned size, unsigned i)
{
    static const uint8_t dst[6] = {2, 0x99, 0, 0, 0, 1}, src[6] = {2, 0x99, 0, 0, 0, 2};
    uint8_t *ip = f + 14, *udp = ip + 20;

    memset(f, 0, size);
    memcpy(f, dst, 6);
    memcpy(f + 6, src, 6);
    put16(f + 12, 0x0800);
    ip[0] = 0x45;
    put16(ip + 2, size - 14);
    put16(ip + 4, i & 0xffff);
    ip[8] = 64;
    ip[9] = 17;
    ip[12] = 10, ip[13] = 98, ip[14] = (uint8_t)(i / 250), ip[15] = (uint8_t)(i % 250 + 1);
    ip[16] = 10, ip[17] = 97, ip[18] = 0, ip[19] = 1;
    put16(ip + 10, csum(ip, 20));
    put16(udp, 1024 + (i % 60000));
    put16(udp + 2, 9000);
    put16(udp + 4, size - 14 - 20);
    for (unsigned k = 42; k < size; k++)
        f[k] = (uint8_t)k;
}

int main(int argc, char **argv)
{
    const char *ifname = NULL;
    unsigned size = 60, flows = 4096;
    double rate = 0, seconds = 2;
    struct sockaddr_ll sll;
    struct mmsghdr msgs[BATCH];
    struct iovec iov[BATCH];
    uint8_t *frames;
    unsigned long long sent = 0;
    unsigned next = 0;
    int fd, one = 1, sndbuf = 4 << 20;
    double t0, t, end;

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-i") && i + 1 < argc)
            ifname = argv[++i];
        else if (!strcmp(argv[i], "--size") && i + 1 < argc)
            size = (unsigned)strtoul(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--flows") && i + 1 < argc)
            flows = (unsigned)strtoul(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--rate") && i + 1 < argc)
            rate = strtod(argv[++i], NULL);
        else if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
            seconds = strtod(argv[++i], NULL);
        else {
            fprintf(stderr,
                    "usage: gen -i IF [--size BYTES] [--flows N] [--rate PPS] [--seconds S]\n");
            return 2;
        }
    }
    if (!ifname || size < 60 || size > 9014 || flows < 1 || flows > MAX_FLOWS || seconds <= 0 ||
        seconds > 600) {
        fprintf(stderr,
                "gen: need -i IF, 60 <= size <= 9014, 1 <= flows <= %d, 0 < seconds <= 600\n",
                MAX_FLOWS);
        return 2;
    }
    if (!(frames = malloc((size_t)flows * size))) {
        perror("gen: malloc");
        return 1;
    }
    for (unsigned i = 0; i < flows; i++)
        build(frames + (size_t)i * size, size, i);

    if ((fd = socket(AF_PACKET, SOCK_RAW, 0)) < 0) {
        perror("gen: socket(AF_PACKET)");
        return 1;
    }
    memset(&sll, 0, sizeof sll);
    sll.sll_family = AF_PACKET;
    sll.sll_ifindex = (int)if_nametoindex(ifname);
    if (sll.sll_ifindex == 0) {
        fprintf(stderr, "gen: no interface %s\n", ifname);
        return 1;
    }
    if (bind(fd, (struct sockaddr *)&sll, sizeof sll) < 0) {
        perror("gen: bind");
        return 1;
    }
    if (setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof one) < 0)
        perror("gen: PACKET_QDISC_BYPASS (going on without)");
    setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof sndbuf);

    memset(msgs, 0, sizeof msgs);
    for (unsigned k = 0; k < BATCH; k++) {
        iov[k].iov_len = size;
        msgs[k].msg_hdr.msg_iov = &iov[k];
        msgs[k].msg_hdr.msg_iovlen = 1;
    }
    t0 = now();
    end = t0 + seconds;
    for (t = t0; t < end; t = now()) {
        int n;
        if (rate > 0) {
            double due = t0 + (double)sent / rate; /* when this batch is due */
            if (due > t) {
                if (due - t > 100e-6) {
                    struct timespec ts = {0, (long)((due - t) * 1e9)};
                    nanosleep(&ts, NULL);
                }
                continue;
            }
        }
        for (unsigned k = 0; k < BATCH; k++) {
            iov[k].iov_base = frames + (size_t)next * size;
            next = next + 1 == flows ? 0 : next + 1;
        }
        n = sendmmsg(fd, msgs, BATCH, 0);
        if (n < 0) {
            if (errno == ENOBUFS || errno == EAGAIN || errno == EINTR) {
                sched_yield();
                continue;
            }
            perror("gen: sendmmsg");
            return 1;
        }
        sent += (unsigned)n;
        /* frames of a short batch that were not sent are sent again next round:
         * step the cursor back so the flows stay evenly used */
        next = (unsigned)(((unsigned long long)next + flows * (unsigned long long)BATCH -
                           (unsigned)(BATCH - n)) %
                          flows);
    }
    t = now() - t0;
    printf("sent %llu seconds %.3f pps %.0f size %u flows %u\n", sent, t, (double)sent / t, size,
           flows);
    close(fd);
    free(frames);
    return 0;
}
