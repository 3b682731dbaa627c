/* ceiling.c - the minimal TPACKET_V3 reader of bench/capture: it only counts.
 *
 * DESIGN: one AF_PACKET socket on -i IF, promiscuous (PACKET_ADD_MEMBERSHIP), with the same
 * ring as `packettracer run`'s defaults (1 MiB blocks x 64, 60 ms retire timeout), no fanout,
 * no filter. The loop polls (100 ms), walks every block the kernel handed over, adds its
 * num_pkts and hands it back with release semantics: the least work a TPACKET_V3 reader can
 * do, so its figures are the ceiling the sensor is compared with. It stops on SIGINT/SIGTERM
 * or after --seconds, drains what the ring still holds, and prints
 *   "packets N kernel_packets K kernel_drops D freeze F"
 * (PACKET_STATISTICS: K counts frames passed to the socket, drops included). Once capturing
 * it writes "ceiling: capturing on IF" to stderr.
 *
 * usage: ceiling -i IF [--seconds S] */
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <arpa/inet.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BLOCK_SIZE  (1u << 20)
#define BLOCK_COUNT 64u

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static unsigned long long drain(uint8_t *ring, unsigned *cur)
{
    unsigned long long n = 0;

    for (;;) {
        struct tpacket_block_desc *bd =
            (struct tpacket_block_desc *)(ring + (size_t)*cur * BLOCK_SIZE);
        if (!(__atomic_load_n(&bd->hdr.bh1.block_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER))
            return n;
        n += bd->hdr.bh1.num_pkts;
        __atomic_store_n(&bd->hdr.bh1.block_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
        *cur = (*cur + 1) % BLOCK_COUNT;
    }
}

int main(int argc, char **argv)
{
    const char *ifname = NULL;
    double seconds = 600;
    int fd, v = TPACKET_V3;
    struct tpacket_req3 req;
    struct sockaddr_ll sll;
    struct packet_mreq mr;
    struct tpacket_stats_v3 st;
    socklen_t sl = sizeof st;
    struct sigaction sa;
    struct timespec t0, t;
    unsigned long long packets = 0;
    unsigned cur = 0;
    uint8_t *ring;

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-i") && i + 1 < argc)
            ifname = argv[++i];
        else if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
            seconds = strtod(argv[++i], NULL);
        else {
            fprintf(stderr, "usage: ceiling -i IF [--seconds S]\n");
            return 2;
        }
    }
    if (!ifname) {
        fprintf(stderr, "usage: ceiling -i IF [--seconds S]\n");
        return 2;
    }
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    if ((fd = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL))) < 0) {
        perror("ceiling: socket");
        return 1;
    }
    if (setsockopt(fd, SOL_PACKET, PACKET_VERSION, &v, sizeof v) < 0) {
        perror("ceiling: PACKET_VERSION");
        return 1;
    }
    memset(&req, 0, sizeof req);
    req.tp_block_size = BLOCK_SIZE;
    req.tp_block_nr = BLOCK_COUNT;
    req.tp_frame_size = 2048;
    req.tp_frame_nr = BLOCK_SIZE / 2048 * BLOCK_COUNT;
    req.tp_retire_blk_tov = 60;
    if (setsockopt(fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof req) < 0) {
        perror("ceiling: PACKET_RX_RING");
        return 1;
    }
    ring = mmap(NULL, (size_t)BLOCK_SIZE * BLOCK_COUNT, PROT_READ | PROT_WRITE,
                MAP_SHARED | MAP_LOCKED, fd, 0);
    if (ring == MAP_FAILED) {
        perror("ceiling: mmap");
        return 1;
    }
    memset(&sll, 0, sizeof sll);
    sll.sll_family = AF_PACKET;
    sll.sll_protocol = htons(ETH_P_ALL);
    sll.sll_ifindex = (int)if_nametoindex(ifname);
    if (sll.sll_ifindex == 0 || bind(fd, (struct sockaddr *)&sll, sizeof sll) < 0) {
        fprintf(stderr, "ceiling: cannot bind to %s\n", ifname);
        return 1;
    }
    memset(&mr, 0, sizeof mr);
    mr.mr_ifindex = sll.sll_ifindex;
    mr.mr_type = PACKET_MR_PROMISC;
    setsockopt(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof mr);
    fprintf(stderr, "ceiling: capturing on %s\n", ifname);

    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (!stop) {
        struct pollfd p = {.fd = fd, .events = POLLIN | POLLERR};
        packets += drain(ring, &cur);
        poll(&p, 1, 100);
        clock_gettime(CLOCK_MONOTONIC, &t);
        if ((double)(t.tv_sec - t0.tv_sec) + (double)(t.tv_nsec - t0.tv_nsec) / 1e9 > seconds)
            break;
    }
    /* Hand over the partly filled block: wait one retire period, then drain. */
    usleep(100 * 1000);
    packets += drain(ring, &cur);
    if (getsockopt(fd, SOL_PACKET, PACKET_STATISTICS, &st, &sl) < 0) {
        perror("ceiling: PACKET_STATISTICS");
        return 1;
    }
    printf("packets %llu kernel_packets %u kernel_drops %u freeze %u\n", packets, st.tp_packets,
           st.tp_drops, st.tp_freeze_q_cnt);
    munmap(ring, (size_t)BLOCK_SIZE * BLOCK_COUNT);
    close(fd);
    return 0;
}
