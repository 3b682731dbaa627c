/* internal.h - private helpers of src/capture: the TPACKET_V3 ring of one
 * capture socket (rx.c) and BPF compilation, used by the live pipeline
 * (live.c). Not part of the public surface. */
#ifndef PT_CAPTURE_INTERNAL_H
#define PT_CAPTURE_INTERNAL_H

#include <linux/filter.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pt/capture.h"

/* Compile @expr (libpcap syntax, for Ethernet frames) into @prog (caller
 * storage; free with pt_bpf_free()). Returns 0, or PT_E_BADARG with libpcap's
 * message in @msg. Thread: any (libpcap's compiler is serialised inside
 * libpcap). */
int pt_bpf_compile(const char *expr, struct sock_fprog *prog, char *msg, size_t msglen);
void pt_bpf_free(struct sock_fprog *prog);

struct pt_rx_opts {
    int ifindex;
    uint32_t block_size;  /* bytes, a multiple of the page size */
    uint32_t block_count; /* >= 1 */
    uint32_t retire_ms;   /* block retire timeout */
    bool promisc;
    uint16_t fanout_id;           /* group to join; 0 = a new group with a kernel-chosen id */
    uint16_t fanout_type;         /* PACKET_FANOUT_* mode | PACKET_FANOUT_FLAG_* */
    const struct sock_fprog *bpf; /* borrowed during pt_rx_open(); NULL = everything */
};

/* Kernel statistics of one socket, accumulated (PACKET_STATISTICS resets on
 * every read). */
struct pt_rx_kstats {
    uint64_t packets; /* passed the filter (delivered + dropped), as the kernel counts */
    uint64_t drops;   /* no room in the ring */
    uint64_t freeze_q;
};

/* One capture socket and its mapped RX ring. Owned by one worker thread,
 * except fd, which the remover uses for getsockopt(PACKET_STATISTICS). */
struct pt_rx {
    int fd;
    uint8_t *map;
    size_t map_len;
    uint32_t block_size, block_count;
    uint32_t cur;       /* next block to look at */
    uint16_t fanout_id; /* the group joined (for the interface's other sockets) */
};

/* Open a capture socket on @o->ifindex: TPACKET_V3 ring, mapped, a
 * drop-everything filter while it binds and joins the fanout group, then the
 * run's filter (so no socket sees a frame before it is in the group). With
 * @o->fanout_id 0 the kernel picks an id no other group in the network
 * namespace uses (PACKET_FANOUT_FLAG_UNIQUEID), so two sensors on one
 * interface never share a group; r->fanout_id is the id joined.
 * Returns 0 or a negative errno; @msg names the step that failed.
 * -EPERM/-EACCES: the caller lacks CAP_NET_RAW. Thread: any. */
int pt_rx_open(struct pt_rx *r, const struct pt_rx_opts *o, char *msg, size_t msglen);

/* Walk every ready block (at most block_count per call): each frame goes to
 * pt_worker_packet() with p->iface = @iface, then the block goes back to the
 * kernel (release store) and pt_worker_block_done() is called. Returns the
 * number of blocks walked. Thread: the ring's worker, online. No syscall. */
unsigned pt_rx_walk(struct pt_rx *r, struct pt_worker *w, uint16_t iface);

/* Wait up to @timeout_ms for a ready block. Returns > 0 when one may be
 * ready, 0 on timeout or EINTR, negative errno on failure. -ENETDOWN,
 * -ENXIO or -ENODEV: the socket reported (POLLERR, SO_ERROR, which this
 * call reads and so clears) that its interface went down or away; the
 * socket captures nothing until it is reopened (see live.c). Thread: the
 * ring's worker, offline for RCU. */
int pt_rx_wait(struct pt_rx *r, int timeout_ms);

/* Replace the socket's filter with @bpf (borrowed during the call), or
 * remove it (every frame) when @bpf is NULL. The kernel swaps it atomically.
 * Returns 0 or a negative errno (-EBADF on a closed ring). Thread: any (the
 * remover: filter reload). */
int pt_rx_set_filter(struct pt_rx *r, const struct sock_fprog *bpf);

/* Swap in a filter that drops everything: no new frame enters the ring, so
 * after the retire timeout every frame the kernel counted is in a block we
 * can walk. Thread: any (the remover at stop). */
int pt_rx_stop_input(struct pt_rx *r);

/* Add the kernel's counters since the last call to @acc. Thread: one at a
 * time (the remover). */
int pt_rx_kstats_read(struct pt_rx *r, struct pt_rx_kstats *acc);

/* Unmap and close; safe on a closed ring (fd < 0, map NULL). */
void pt_rx_close(struct pt_rx *r);

#endif
