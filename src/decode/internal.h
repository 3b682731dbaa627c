/* internal.h - private helpers shared by the decoder family (src/decode/).
 *
 * DESIGN: every decoder reads the frame through a struct pt_cur, a
 * bounds-checked pull cursor in the spirit of netsniff-ng's pkt_buff:
 * pt_pkt_pull() hands out a pointer to the next n bytes, or NULL when fewer
 * than n remain before cur->end. A layer that knows its own length (IP total
 * length, PPPoE length) narrows cur->end with pt_cur_limit() so padding never
 * reaches the next layer. Cursors are small and passed by value: a layer can
 * hand a copy to the next one without restoring anything.
 *
 * struct pt_dec is the per-frame state: the packet, the stats, the protocol
 * path for the hierarchy trie, the VLAN ids in force and the encapsulation
 * the next IP layer will be reached through. It lives on pt_decode()'s
 * stack; nothing here allocates. */
#ifndef PT_DECODE_INTERNAL_H
#define PT_DECODE_INTERNAL_H

#include <stdint.h>
#include <string.h>

#include "pt/common.h"
#include "pt/decode.h"

struct pt_cur {
    const uint8_t *base; /* start of the frame (p->data) */
    uint32_t off;        /* offset of the next byte to pull */
    uint32_t end;        /* one past the last byte this layer may read; <= caplen */
};

/* Pointer to the next @n bytes, advancing the cursor; NULL past the end. */
static inline const uint8_t *pt_pkt_pull(struct pt_cur *c, uint32_t n)
{
    const uint8_t *h;

    if (unlikely(n > c->end - c->off))
        return NULL;
    h = c->base + c->off;
    c->off += n;
    return h;
}

/* Like pt_pkt_pull() without advancing. */
static inline const uint8_t *pt_pkt_peek(const struct pt_cur *c, uint32_t n)
{
    if (unlikely(n > c->end - c->off))
        return NULL;
    return c->base + c->off;
}

static inline uint32_t pt_cur_left(const struct pt_cur *c)
{
    return c->end - c->off;
}

/* Narrow the readable region to @len bytes from the cursor (never widens). */
static inline void pt_cur_limit(struct pt_cur *c, uint32_t len)
{
    if (len < c->end - c->off)
        c->end = c->off + len;
}

static inline uint16_t rd16(const uint8_t *b)
{
    return (uint16_t)(b[0] << 8 | b[1]);
}

static inline uint32_t rd32(const uint8_t *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/* IPv4 address as IPv4-mapped IPv6 (::ffff:a.b.c.d). */
static inline void pt_addr_v4(uint8_t dst[16], const uint8_t *v4)
{
    memset(dst, 0, 10);
    dst[10] = 0xff;
    dst[11] = 0xff;
    memcpy(dst + 12, v4, 4);
}

#define PT_DEC_PATH_MAX   32 /* protocol path kept for the hierarchy trie */
#define PT_IPV6_MAX_EXT   8  /* extension headers walked before ext_too_many */
#define PT_MPLS_MAX_DEPTH 8  /* labels walked before mpls.too_deep */

struct pt_dec {
    struct pt_pkt *p;
    struct pt_decode_stats *st;
    uint64_t seen; /* errors already counted for this frame (bit per enum value) */
    uint8_t n_path;
    uint8_t path[PT_DEC_PATH_MAX];
    uint8_t n_vlan; /* VLAN ids in force for the next IP layer, outer first */
    uint16_t vlan[PT_MAX_VLAN];
    uint8_t encap; /* enum pt_encap of the next IP layer */
};

/* Record error @e: first one wins p->err, each counted once per frame. */
static inline void pt_dec_err(struct pt_dec *d, unsigned e)
{
    if (!d->p->err)
        d->p->err = (uint16_t)e;
    if (!(d->seen & (1ull << e))) {
        d->seen |= 1ull << e;
        PT_CNT_INC(d->st->err[e]);
    }
}

/* Append @proto to the frame's protocol path (kept short: deeper ones drop). */
static inline void pt_dec_path(struct pt_dec *d, unsigned proto)
{
    if (d->n_path < PT_DEC_PATH_MAX)
        d->path[d->n_path++] = (uint8_t)proto;
}

/* link.c */
void pt_dec_link(struct pt_dec *d, struct pt_cur c);
void pt_dec_eth(struct pt_dec *d, struct pt_cur c); /* Ethernet header at c.off */

/* l2.c: dispatch on an ethertype (VLAN, MPLS, PPPoE, ARP, IPv4, IPv6). */
void pt_dec_ethertype(struct pt_dec *d, struct pt_cur c, uint16_t type);
/* Guess IPv4/IPv6 from the first nibble (MPLS payload, raw IP). false: neither. */
bool pt_dec_ip_guess(struct pt_dec *d, struct pt_cur c);

/* ip.c: append a layer to p->l3[] (NULL + tunnel.too_deep when full). */
struct pt_l3 *pt_dec_l3_new(struct pt_dec *d, uint32_t l3_off);

/* ipv4.c / ipv6.c: decode an IP header at c.off as a new layer of p->l3[]. */
void pt_dec_ipv4(struct pt_dec *d, struct pt_cur c);
void pt_dec_ipv6(struct pt_dec *d, struct pt_cur c);
/* Walk IPv6 extension headers from @nh, advancing @c; returns the upper
 * protocol and fills l3->frag_off/frag_id/flags from a fragment header.
 * Counts nothing: returns PT_V6EXT_TRUNC or PT_V6EXT_TOO_MANY on failure. */
#define PT_V6EXT_TRUNC    (-1)
#define PT_V6EXT_TOO_MANY (-2)
int pt_dec_ipv6_ext(struct pt_cur *c, uint8_t nh, struct pt_l3 *l3);

/* Transport dispatch for layer @l3 (cursor at the end of the IP headers,
 * limited to the IP payload). A later fragment (frag_off != 0) has no
 * transport header: its payload is recorded as data (ipfrag). */
void pt_dec_l4(struct pt_dec *d, struct pt_cur c, struct pt_l3 *l3);
void pt_dec_tcp(struct pt_dec *d, struct pt_cur c, struct pt_l3 *l3);
void pt_dec_udp(struct pt_dec *d, struct pt_cur c, struct pt_l3 *l3);
void pt_dec_icmp(struct pt_dec *d, struct pt_cur c, struct pt_l3 *l3);
void pt_dec_icmpv6(struct pt_dec *d, struct pt_cur c, struct pt_l3 *l3);

/* tunnel.c */
void pt_dec_gre(struct pt_dec *d, struct pt_cur c);
void pt_dec_vxlan(struct pt_dec *d, struct pt_cur c);
void pt_dec_ipip(struct pt_dec *d, struct pt_cur c, uint8_t proto);

/* Set the transport payload fields of @l3 given the payload start in @c:
 * l4_len from the IP length, payload_caplen from what was captured. */
void pt_dec_payload(struct pt_l3 *l3, const struct pt_cur *c);

/* phs.c: count the frame's path in the trie. */
void pt_phs_add(struct pt_phs *phs, const uint8_t *path, unsigned n, uint64_t bytes);

#endif
