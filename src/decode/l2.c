/* l2.c - what sits between the link header and IP: VLAN tags (802.1Q,
 * 802.1ad, the old 0x9100), MPLS label stacks, PPPoE session + PPP, ARP.
 *
 * DESIGN: pt_dec_ethertype() is a loop over "the next ethertype": a VLAN tag
 * consumes four bytes and yields the next type, so any stack depth costs no
 * recursion and ends when the bytes do. The first PT_MAX_VLAN ids (the
 * kernel-stripped hw_vlan counting as the outermost) are kept in d->vlan for
 * the next IP layer; deeper tags are counted once as vlan.too_deep and
 * skipped. MPLS walks labels to bottom-of-stack and then guesses IPv4/IPv6
 * from the first nibble, as Wireshark and Zeek do (no pseudowire control
 * word support: anything else is mpls.unknown_payload). */
#include "internal.h"

#define ETH_P_IP      0x0800
#define ETH_P_ARP     0x0806
#define ETH_P_8021Q   0x8100
#define ETH_P_IPV6    0x86dd
#define ETH_P_MPLS_UC 0x8847
#define ETH_P_MPLS_MC 0x8848
#define ETH_P_PPPOES  0x8864
#define ETH_P_8021AD  0x88a8
#define ETH_P_QINQ1   0x9100

bool pt_dec_ip_guess(struct pt_dec *d, struct pt_cur c)
{
    const uint8_t *h = pt_pkt_peek(&c, 1);

    if (!h)
        return false;
    switch (h[0] >> 4) {
    case 4:
        pt_dec_ipv4(d, c);
        return true;
    case 6:
        pt_dec_ipv6(d, c);
        return true;
    default:
        return false;
    }
}

static void dec_mpls(struct pt_dec *d, struct pt_cur c)
{
    pt_dec_path(d, PT_P_MPLS);
    for (unsigned depth = 0;; depth++) {
        const uint8_t *h;

        if (unlikely(depth == PT_MPLS_MAX_DEPTH)) {
            pt_dec_err(d, PT_DEC_MPLS_TOO_DEEP);
            return;
        }
        if (unlikely(!(h = pt_pkt_pull(&c, 4)))) {
            pt_dec_err(d, PT_DEC_MPLS_TRUNC);
            return;
        }
        if (h[2] & 0x01) /* bottom of stack */
            break;
    }
    if (unlikely(!pt_pkt_peek(&c, 1))) {
        pt_dec_err(d, PT_DEC_MPLS_TRUNC);
        return;
    }
    if (unlikely(!pt_dec_ip_guess(d, c))) {
        pt_dec_path(d, PT_P_DATA);
        pt_dec_err(d, PT_DEC_MPLS_UNKNOWN);
    }
}

/* PPPoE session header (RFC 2516): ver/type 0x11, code 0, session, length;
 * then the PPP protocol (one byte when protocol-field compressed). */
static void dec_pppoe(struct pt_dec *d, struct pt_cur c)
{
    const uint8_t *h = pt_pkt_pull(&c, 6);
    uint16_t proto;

    if (unlikely(!h)) {
        pt_dec_err(d, PT_DEC_PPPOE_TRUNC);
        return;
    }
    pt_dec_path(d, PT_P_PPPOE);
    if (unlikely(h[0] != 0x11 || h[1] != 0x00)) {
        pt_dec_err(d, PT_DEC_PPPOE_BAD);
        return;
    }
    pt_cur_limit(&c, rd16(h + 4));
    if (unlikely(!(h = pt_pkt_peek(&c, 1)))) {
        pt_dec_err(d, PT_DEC_PPPOE_TRUNC);
        return;
    }
    if (h[0] & 0x01) { /* compressed: odd first byte is the whole protocol */
        proto = h[0];
        pt_pkt_pull(&c, 1);
    } else if (likely((h = pt_pkt_pull(&c, 2)) != NULL)) {
        proto = rd16(h);
    } else {
        pt_dec_err(d, PT_DEC_PPPOE_TRUNC);
        return;
    }
    pt_dec_path(d, PT_P_PPP);
    if (proto == 0x0021)
        pt_dec_ipv4(d, c);
    else if (proto == 0x0057)
        pt_dec_ipv6(d, c);
    else
        pt_dec_path(d, PT_P_DATA);
}

/* ARP for Ethernet/IPv4 only; other hardware/protocol pairs are data. */
static void dec_arp(struct pt_dec *d, struct pt_cur c)
{
    const uint8_t *h = pt_pkt_pull(&c, 8);
    struct pt_arp *a = &d->p->arp;

    if (unlikely(!h)) {
        pt_dec_err(d, PT_DEC_ARP_TRUNC);
        return;
    }
    pt_dec_path(d, PT_P_ARP);
    if (rd16(h + 2) != ETH_P_IP)
        return;
    if (unlikely(h[4] != 6 || h[5] != 4)) {
        pt_dec_err(d, PT_DEC_ARP_BAD);
        return;
    }
    a->op = rd16(h + 6);
    if (unlikely(!(h = pt_pkt_pull(&c, 20)))) {
        pt_dec_err(d, PT_DEC_ARP_TRUNC);
        return;
    }
    memcpy(a->sha, h, 6);
    memcpy(a->spa, h + 6, 4);
    memcpy(a->tha, h + 10, 6);
    memcpy(a->tpa, h + 16, 4);
    d->p->flags |= PT_PKT_ARP;
}

/* One 802.1Q/802.1ad tag at the cursor; returns the next ethertype, 0 on
 * error. */
static uint16_t dec_vlan(struct pt_dec *d, struct pt_cur *c)
{
    const uint8_t *h = pt_pkt_pull(c, 4);

    if (unlikely(!h)) {
        pt_dec_err(d, PT_DEC_VLAN_TRUNC);
        return 0;
    }
    pt_dec_path(d, PT_P_VLAN);
    if (d->p->vlan == PT_VLAN_NONE && d->p->n_l3 == 0)
        d->p->vlan = rd16(h) & 0x0fff;
    if (d->n_vlan < PT_MAX_VLAN)
        d->vlan[d->n_vlan++] = rd16(h) & 0x0fff;
    else
        pt_dec_err(d, PT_DEC_VLAN_TOO_DEEP);
    return rd16(h + 2);
}

void pt_dec_ethertype(struct pt_dec *d, struct pt_cur c, uint16_t type)
{
    for (;;) {
        d->p->ethertype = type;
        switch (type) {
        case ETH_P_8021Q:
        case ETH_P_8021AD:
        case ETH_P_QINQ1:
            if (!(type = dec_vlan(d, &c)))
                return;
            continue;
        case ETH_P_IP:
            pt_dec_ipv4(d, c);
            return;
        case ETH_P_IPV6:
            pt_dec_ipv6(d, c);
            return;
        case ETH_P_ARP:
            dec_arp(d, c);
            return;
        case ETH_P_MPLS_UC:
        case ETH_P_MPLS_MC:
            dec_mpls(d, c);
            return;
        case ETH_P_PPPOES:
            dec_pppoe(d, c);
            return;
        default:
            pt_dec_path(d, PT_P_DATA);
            return;
        }
    }
}
