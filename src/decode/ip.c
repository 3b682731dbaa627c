/* ip.c - what IPv4 and IPv6 share: appending a layer to p->l3[], the
 * transport dispatch and the payload bookkeeping.
 *
 * DESIGN: a layer is appended only once its fixed header has been pulled and
 * checked, so p->l3[] never holds a half-decoded header. The layer takes the
 * encapsulation the decoder is in (d->encap, set by the tunnel that led
 * here, then reset) and a copy of the VLAN ids in force. When p->l3[] is
 * full the frame is counted as tunnel.too_deep and decoding stops: this is
 * also what bounds recursion through nested tunnels. */
#include "internal.h"

struct pt_l3 *pt_dec_l3_new(struct pt_dec *d, uint32_t l3_off)
{
    struct pt_pkt *p = d->p;
    struct pt_l3 *l3;

    if (unlikely(p->n_l3 >= PT_MAX_LAYERS)) {
        pt_dec_err(d, PT_DEC_TUNNEL_TOO_DEEP);
        return NULL;
    }
    l3 = &p->l3[p->n_l3++];
    memset(l3, 0, sizeof *l3);
    l3->encap = d->encap;
    d->encap = PT_ENCAP_NONE;
    l3->n_vlan = d->n_vlan;
    memcpy(l3->vlan, d->vlan, sizeof l3->vlan);
    for (unsigned i = d->n_vlan; i < PT_MAX_VLAN; i++)
        l3->vlan[i] = PT_VLAN_NONE;
    l3->l3_off = l3_off;
    return l3;
}

void pt_dec_payload(struct pt_l3 *l3, const struct pt_cur *c)
{
    uint32_t claim_end = l3->l3_off + l3->ip_len;
    uint32_t left = pt_cur_left(c);

    l3->payload = c->base + c->off;
    l3->l4_len = claim_end > c->off ? claim_end - c->off : 0;
    l3->payload_caplen = l3->l4_len < left ? l3->l4_len : left;
}

void pt_dec_l4(struct pt_dec *d, struct pt_cur c, struct pt_l3 *l3)
{
    l3->l4_off = c.off;
    if (l3->frag_off) { /* a later fragment: its payload is data, not a transport header */
        pt_dec_payload(l3, &c);
        pt_dec_path(d, PT_P_IPFRAG);
        return;
    }
    switch (l3->proto) {
    case 6:
        pt_dec_tcp(d, c, l3);
        return;
    case 17:
        pt_dec_udp(d, c, l3);
        return;
    case 1:
        if (l3->ver == 4) {
            pt_dec_icmp(d, c, l3);
            return;
        }
        break;
    case 58:
        if (l3->ver == 6) {
            pt_dec_icmpv6(d, c, l3);
            return;
        }
        break;
    case 47:
        pt_dec_payload(l3, &c);
        pt_dec_gre(d, c);
        return;
    case 4:
    case 41:
        pt_dec_payload(l3, &c);
        pt_dec_ipip(d, c, l3->proto);
        return;
    default:
        break;
    }
    pt_dec_payload(l3, &c);
    pt_dec_path(d, PT_P_DATA);
}
