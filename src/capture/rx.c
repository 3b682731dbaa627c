/* rx.c - one AF_PACKET capture socket with a TPACKET_V3 RX ring, and BPF
 * compilation with libpcap.
 *
 * DESIGN
 * The kernel (net/packet/af_packet.c) fills a ring of blocks; each block holds
 * many variable-length frames and is handed to user space whole:
 *
 * 1. The kernel writes frames into the current block. It closes ("retires")
 *    the block when the next frame does not fit or when the retire timer
 *    (tp_retire_blk_tov) fires on a block holding at least one frame, then
 *    sets block_status = TP_STATUS_USER (after a write barrier) and moves on
 *    to the next block.
 * 2. We read block_status with an acquire load. When TP_STATUS_USER is set,
 *    num_pkts frames start at offset_to_first_pkt, each chained by
 *    tp_next_offset; tp_mac is the frame's offset within its tpacket3_hdr,
 *    tp_snaplen the bytes present, tp_len the length on the wire. A VLAN tag
 *    the kernel removed from the frame (a NIC's or veth's tag offload, or the
 *    software untag in the receive path) is in hv1.tp_vlan_tci when
 *    TP_STATUS_VLAN_VALID is set.
 * 3. We give the block back with a release store of TP_STATUS_KERNEL, so every
 *    read of its frames happens before the kernel may reuse it.
 * 4. When the kernel reaches a block we still hold, it freezes the queue and
 *    drops frames (tp_drops) until we release it (tp_freeze_q_cnt counts the
 *    freezes): blocks are walked and released one at a time, promptly.
 *
 * Setup order (open): socket with protocol 0 (receives nothing yet) ->
 * PACKET_VERSION -> PACKET_RX_RING -> mmap -> a filter that drops everything
 * -> bind to the interface with ETH_P_ALL -> promiscuous membership -> join
 * the fanout group (it requires a bound socket) -> the run's filter. A socket
 * therefore never captures a frame before it is in its group: with N workers
 * no frame is seen twice at start-up. */
#include "internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#define FRAME_SIZE 2048u /* TPACKET_V3 ignores it except for validation */

int pt_bpf_compile(const char *expr, struct sock_fprog *prog, char *msg, size_t msglen)
{
    struct bpf_program bp;
    pcap_t *p = pcap_open_dead(DLT_EN10MB, 65535);
    size_t sz;

    memset(prog, 0, sizeof *prog);
    if (!p) {
        snprintf(msg, msglen, "pcap_open_dead failed");
        return -ENOMEM;
    }
    if (pcap_compile(p, &bp, expr, 1, PCAP_NETMASK_UNKNOWN) < 0) {
        snprintf(msg, msglen, "%s", pcap_geterr(p));
        pcap_close(p);
        return PT_E_BADARG;
    }
    pcap_close(p);
    /* struct bpf_insn and struct sock_filter have the same layout. */
    sz = (size_t)bp.bf_len * sizeof(struct sock_filter);
    prog->filter = malloc(sz ? sz : 1);
    if (!prog->filter) {
        pcap_freecode(&bp);
        snprintf(msg, msglen, "out of memory");
        return -ENOMEM;
    }
    memcpy(prog->filter, bp.bf_insns, sz);
    prog->len = (unsigned short)bp.bf_len;
    pcap_freecode(&bp);
    return 0;
}

void pt_bpf_free(struct sock_fprog *prog)
{
    free(prog->filter);
    prog->filter = NULL;
    prog->len = 0;
}

static int setopt(int fd, int level, int name, const void *v, socklen_t len)
{
    return setsockopt(fd, level, name, v, len) < 0 ? -errno : 0;
}

#define FAIL(step)                                                                                 \
    do {                                                                                           \
        snprintf(msg, msglen, "%s: %s", step, strerror(-rc));                                      \
        goto err_close;                                                                            \
    } while (0)

static struct sock_filter drop_all[] = {BPF_STMT(BPF_RET | BPF_K, 0)};

int pt_rx_stop_input(struct pt_rx *r)
{
    struct sock_fprog drop = {.len = 1, .filter = drop_all};

    return setopt(r->fd, SOL_SOCKET, SO_ATTACH_FILTER, &drop, sizeof drop);
}

int pt_rx_open(struct pt_rx *r, const struct pt_rx_opts *o, char *msg, size_t msglen)
{
    struct sock_fprog drop = {.len = 1, .filter = drop_all};
    struct tpacket_req3 req;
    struct sockaddr_ll sll;
    struct packet_mreq mr;
    int v3 = TPACKET_V3, rc = 0;
    uint32_t fanout; /* PACKET_FANOUT takes an int; the kernel reads the same 32 bits */

    memset(r, 0, sizeof *r);
    r->fd = socket(AF_PACKET, SOCK_RAW, 0);
    if (r->fd < 0) {
        rc = -errno;
        snprintf(msg, msglen, "socket(AF_PACKET): %s", strerror(errno));
        return rc;
    }
    if ((rc = setopt(r->fd, SOL_PACKET, PACKET_VERSION, &v3, sizeof v3)) < 0)
        FAIL("PACKET_VERSION TPACKET_V3");
    memset(&req, 0, sizeof req);
    req.tp_block_size = o->block_size;
    req.tp_block_nr = o->block_count;
    req.tp_frame_size = FRAME_SIZE;
    req.tp_frame_nr = (o->block_size / FRAME_SIZE) * o->block_count;
    req.tp_retire_blk_tov = o->retire_ms;
    req.tp_feature_req_word = 0;
    if ((rc = setopt(r->fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof req)) < 0)
        FAIL("PACKET_RX_RING");
    r->block_size = o->block_size;
    r->block_count = o->block_count;
    r->map_len = (size_t)o->block_size * o->block_count;
    r->map = mmap(NULL, r->map_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, r->fd, 0);
    if (r->map == MAP_FAILED) {
        r->map = NULL;
        rc = -errno;
        FAIL("mmap of the ring");
    }
    if ((rc = setopt(r->fd, SOL_SOCKET, SO_ATTACH_FILTER, &drop, sizeof drop)) < 0)
        FAIL("SO_ATTACH_FILTER");
    memset(&sll, 0, sizeof sll);
    sll.sll_family = AF_PACKET;
    sll.sll_protocol = htons(ETH_P_ALL);
    sll.sll_ifindex = o->ifindex;
    if (bind(r->fd, (struct sockaddr *)&sll, sizeof sll) < 0) {
        rc = -errno;
        FAIL("bind");
    }
    if (o->promisc) {
        memset(&mr, 0, sizeof mr);
        mr.mr_ifindex = o->ifindex;
        mr.mr_type = PACKET_MR_PROMISC;
        if ((rc = setopt(r->fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof mr)) < 0)
            FAIL("PACKET_ADD_MEMBERSHIP promiscuous");
    }
    /* id in the low 16 bits, type and flags above: unsigned, the defrag flag
     * (0x8000) reaches bit 31 */
    fanout = (uint32_t)o->fanout_id | (uint32_t)o->fanout_type << 16;
    if (o->fanout_id == 0)
        fanout |= (uint32_t)PACKET_FANOUT_FLAG_UNIQUEID << 16;
    if ((rc = setopt(r->fd, SOL_PACKET, PACKET_FANOUT, &fanout, sizeof fanout)) < 0)
        FAIL("PACKET_FANOUT");
    r->fanout_id = o->fanout_id;
    if (o->fanout_id == 0) {
        socklen_t len = sizeof fanout;
        if (getsockopt(r->fd, SOL_PACKET, PACKET_FANOUT, &fanout, &len) < 0) {
            rc = -errno;
            FAIL("reading the PACKET_FANOUT group id");
        }
        r->fanout_id = (uint16_t)(fanout & 0xffff);
    }
    if ((rc = pt_rx_set_filter(r, o->bpf)) < 0)
        FAIL("attaching the filter");
    return 0;

err_close:
    pt_rx_close(r);
    return rc;
}

void pt_rx_close(struct pt_rx *r)
{
    if (r->map)
        munmap(r->map, r->map_len);
    r->map = NULL;
    if (r->fd >= 0)
        close(r->fd);
    r->fd = -1;
}

/* Frames of one block that the kernel handed over (block_status read with
 * acquire). Offsets come from the kernel; they are checked against the block
 * anyway, so a surprise ends the block instead of reading past it. */
static void walk_block(struct pt_rx *r, struct tpacket_block_desc *bd, struct pt_worker *w,
                       uint16_t iface)
{
    uint32_t n = bd->hdr.bh1.num_pkts;
    uint32_t off = bd->hdr.bh1.offset_to_first_pkt;
    struct pt_pkt p;

    for (uint32_t i = 0; i < n; i++) {
        const struct tpacket3_hdr *h = (const void *)((const uint8_t *)bd + off);

        if (unlikely(off + sizeof *h > r->block_size ||
                     off + h->tp_mac + h->tp_snaplen > r->block_size))
            break;
        p.data = (const uint8_t *)h + h->tp_mac;
        p.caplen = h->tp_snaplen;
        p.wirelen = h->tp_len;
        if (h->tp_status & TP_STATUS_VLAN_VALID)
            p.wirelen += 4; /* the tag the kernel stripped was on the wire */
        p.ts_ns = (uint64_t)h->tp_sec * 1000000000ull + h->tp_nsec;
        p.linktype = PT_LINK_ETHERNET;
        p.iface = iface;
        p.hw_vlan = (h->tp_status & TP_STATUS_VLAN_VALID) ? (uint16_t)(h->hv1.tp_vlan_tci & 0x0fff)
                                                          : PT_VLAN_NONE;
        p.hw_tag = 0;
        if (h->tp_status & TP_STATUS_VLAN_VALID) {
            uint32_t tpid =
                (h->tp_status & TP_STATUS_VLAN_TPID_VALID) ? h->hv1.tp_vlan_tpid : 0x8100;
            p.hw_tag = tpid << 16 | (h->hv1.tp_vlan_tci & 0xffff);
        }
        pt_worker_packet(w, &p);
        if (h->tp_next_offset == 0)
            break;
        off += h->tp_next_offset;
    }
}

unsigned pt_rx_walk(struct pt_rx *r, struct pt_worker *w, uint16_t iface)
{
    unsigned done = 0;

    while (done < r->block_count) {
        struct tpacket_block_desc *bd = (void *)(r->map + (size_t)r->cur * r->block_size);

        if (!(__atomic_load_n(&bd->hdr.bh1.block_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER))
            break;
        walk_block(r, bd, w, iface);
        __atomic_store_n(&bd->hdr.bh1.block_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
        pt_worker_block_done(w);
        r->cur = (r->cur + 1) % r->block_count;
        done++;
    }
    return done;
}

int pt_rx_wait(struct pt_rx *r, int timeout_ms)
{
    struct pollfd pfd = {.fd = r->fd, .events = POLLIN | POLLERR};
    int n = poll(&pfd, 1, timeout_ms);

    if (n < 0)
        return errno == EINTR ? 0 : -errno;
    if (n > 0 && (pfd.revents & POLLERR)) { /* e.g. ENETDOWN: read it, or poll spins */
        int soerr = 0;
        socklen_t len = sizeof soerr;
        getsockopt(r->fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
        if (pfd.revents & POLLIN)
            return 1;
        return soerr == ENETDOWN || soerr == ENXIO || soerr == ENODEV ? -soerr : 0;
    }
    return n;
}

int pt_rx_set_filter(struct pt_rx *r, const struct sock_fprog *bpf)
{
    int unused = 0; /* the kernel wants an int-sized option even for detach */

    if (r->fd < 0)
        return -EBADF;
    if (bpf)
        return setopt(r->fd, SOL_SOCKET, SO_ATTACH_FILTER, bpf, sizeof *bpf);
    return setopt(r->fd, SOL_SOCKET, SO_DETACH_FILTER, &unused, sizeof unused);
}

int pt_rx_kstats_read(struct pt_rx *r, struct pt_rx_kstats *acc)
{
    struct tpacket_stats_v3 st;
    socklen_t len = sizeof st;

    if (r->fd < 0)
        return -EBADF;
    memset(&st, 0, sizeof st);
    if (getsockopt(r->fd, SOL_PACKET, PACKET_STATISTICS, &st, &len) < 0)
        return -errno;
    acc->packets += st.tp_packets;
    acc->drops += st.tp_drops;
    acc->freeze_q += st.tp_freeze_q_cnt;
    return 0;
}
