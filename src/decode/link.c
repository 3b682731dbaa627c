/* link.c - link-layer decoders: Ethernet, Linux cooked v1/v2, BSD NULL/LOOP,
 * raw IP.
 *
 * DESIGN: pt_dec_link() switches on p->linktype and strips the link header;
 * everything that names an ethertype continues in pt_dec_ethertype() (l2.c),
 * raw IP goes straight to the IP decoders. Ethernet is also the entry for
 * frames found inside tunnels (GRE 0x6558, ERSPAN, VXLAN): only the
 * outermost Ethernet header fills p->eth_src/eth_dst. Frames with an 802.3
 * length in place of an ethertype (LLC/SNAP, STP, CDP) are counted as data,
 * without an error. */
#include "internal.h"

#define ETH_HLEN     14
#define SLL_HLEN     16
#define SLL2_HLEN    20
#define ARPHRD_ETHER 1

void pt_dec_eth(struct pt_dec *d, struct pt_cur c)
{
    const uint8_t *h = pt_pkt_pull(&c, ETH_HLEN);
    uint16_t type;

    if (unlikely(!h)) {
        pt_dec_err(d, PT_DEC_ETH_TRUNC);
        return;
    }
    pt_dec_path(d, PT_P_ETH);
    if (!(d->p->flags & PT_PKT_ETH)) {
        memcpy(d->p->eth_dst, h, 6);
        memcpy(d->p->eth_src, h + 6, 6);
        d->p->flags |= PT_PKT_ETH;
    }
    type = rd16(h + 12);
    if (type < 0x0600) { /* 802.3 length: LLC payload */
        pt_dec_path(d, PT_P_DATA);
        return;
    }
    pt_dec_ethertype(d, c, type);
}

/* Cooked captures: the link address is the sender's; keep it as eth_src when
 * it is an Ethernet address. Protocol values below 0x0600 are Linux
 * ETH_P_802_2/802_3/... pseudo types: data. */
static void sll_common(struct pt_dec *d, struct pt_cur c, uint16_t hatype, uint8_t halen,
                       const uint8_t *addr, uint16_t proto)
{
    if (hatype == ARPHRD_ETHER && halen == 6) {
        memcpy(d->p->eth_src, addr, 6);
        memset(d->p->eth_dst, 0, 6);
        d->p->flags |= PT_PKT_ETH;
    }
    if (proto < 0x0600) {
        pt_dec_path(d, PT_P_DATA);
        return;
    }
    pt_dec_ethertype(d, c, proto);
}

static void dec_sll(struct pt_dec *d, struct pt_cur c)
{
    const uint8_t *h = pt_pkt_pull(&c, SLL_HLEN);

    if (unlikely(!h)) {
        pt_dec_err(d, PT_DEC_SLL_TRUNC);
        return;
    }
    pt_dec_path(d, PT_P_SLL);
    /* pkttype(2) hatype(2) halen(2) addr(8) protocol(2) */
    sll_common(d, c, rd16(h + 2), (uint8_t)rd16(h + 4), h + 6, rd16(h + 14));
}

static void dec_sll2(struct pt_dec *d, struct pt_cur c)
{
    const uint8_t *h = pt_pkt_pull(&c, SLL2_HLEN);

    if (unlikely(!h)) {
        pt_dec_err(d, PT_DEC_SLL_TRUNC);
        return;
    }
    pt_dec_path(d, PT_P_SLL2);
    /* protocol(2) reserved(2) ifindex(4) hatype(2) pkttype(1) halen(1) addr(8) */
    sll_common(d, c, rd16(h + 8), h[11], h + 12, rd16(h));
}

/* NULL: the family is in the capturing host's byte order, which need not be
 * ours; a value with high bits set is the other order (tshark does the same).
 * LOOP: network order. */
static void dec_null(struct pt_dec *d, struct pt_cur c, bool loop)
{
    const uint8_t *h = pt_pkt_pull(&c, 4);
    uint32_t fam;

    if (unlikely(!h)) {
        pt_dec_err(d, PT_DEC_NULL_TRUNC);
        return;
    }
    pt_dec_path(d, PT_P_NULL);
    fam = rd32(h);
    if (!loop && (fam & 0xffff0000u))
        fam = __builtin_bswap32(fam);
    switch (fam) {
    case 2:
        pt_dec_ipv4(d, c);
        return;
    case 10: /* Linux */
    case 24: /* NetBSD, OpenBSD */
    case 28: /* FreeBSD */
    case 30: /* Darwin */
        pt_dec_ipv6(d, c);
        return;
    default:
        pt_dec_err(d, PT_DEC_NULL_FAMILY);
    }
}

static void dec_raw(struct pt_dec *d, struct pt_cur c, int linktype)
{
    pt_dec_path(d, PT_P_RAW);
    if (linktype == PT_LINK_IPV4) {
        pt_dec_ipv4(d, c);
        return;
    }
    if (linktype == PT_LINK_IPV6) {
        pt_dec_ipv6(d, c);
        return;
    }
    if (unlikely(!pt_pkt_peek(&c, 1))) {
        pt_dec_err(d, PT_DEC_RAW_TRUNC);
        return;
    }
    if (unlikely(!pt_dec_ip_guess(d, c)))
        pt_dec_err(d, PT_DEC_RAW_BAD_VER);
}

void pt_dec_link(struct pt_dec *d, struct pt_cur c)
{
    switch (d->p->linktype) {
    case PT_LINK_ETHERNET:
        pt_dec_eth(d, c);
        return;
    case PT_LINK_SLL:
        dec_sll(d, c);
        return;
    case PT_LINK_SLL2:
        dec_sll2(d, c);
        return;
    case PT_LINK_NULL:
        dec_null(d, c, false);
        return;
    case PT_LINK_LOOP:
        dec_null(d, c, true);
        return;
    case PT_LINK_RAW:
    case PT_LINK_RAW_DLT:
    case PT_LINK_RAW_DLT14:
    case PT_LINK_IPV4:
    case PT_LINK_IPV6:
        dec_raw(d, c, d->p->linktype);
        return;
    default:
        pt_dec_err(d, PT_DEC_LINK_UNSUPPORTED);
    }
}
