/* udp.c - UDP header; VXLAN hand-off.
 *
 * DESIGN: l4_len is the payload per the IP length, narrowed to the UDP
 * length when that is shorter (trailing bytes inside the IP datagram are not
 * payload, as Zeek counts it). A UDP length below 8, or above the IP payload
 * of an unfragmented datagram, is udp.bad_length; the header stays usable.
 * A first fragment legitimately has a UDP length beyond its own payload.
 * Destination port 4789 is VXLAN (tunnel.c). */
#include "internal.h"

#define VXLAN_PORT 4789

void pt_dec_udp(struct pt_dec *d, struct pt_cur c, struct pt_l3 *l3)
{
    const uint8_t *h = pt_pkt_pull(&c, 8);
    uint32_t ulen;

    if (unlikely(!h)) {
        pt_dec_err(d, PT_DEC_UDP_TRUNC);
        return;
    }
    pt_dec_path(d, PT_P_UDP);
    l3->sport = rd16(h);
    l3->dport = rd16(h + 2);
    l3->flags |= PT_L3_L4;
    ulen = rd16(h + 4);
    pt_dec_payload(l3, &c);
    if (unlikely(ulen < 8)) {
        pt_dec_err(d, PT_DEC_UDP_BAD_LEN);
    } else if (ulen - 8 < l3->l4_len) {
        l3->l4_len = ulen - 8;
        if (l3->payload_caplen > l3->l4_len)
            l3->payload_caplen = l3->l4_len;
        c.end = c.off + l3->payload_caplen;
    } else if (unlikely(ulen - 8 > l3->l4_len && !(l3->flags & PT_L3_FRAG))) {
        pt_dec_err(d, PT_DEC_UDP_BAD_LEN);
    }
    if (l3->dport == VXLAN_PORT)
        pt_dec_vxlan(d, c);
}
