/* ipv6.c - IPv6 fixed header and extension headers.
 *
 * DESIGN: the fixed header is checked like IPv4's (truncated, bad_version,
 * payload length beyond the capture -> PT_L3_TRUNC and decode on; shorter
 * -> the cursor is narrowed past padding). ip_len is 40 + payload length.
 * Extension headers (hop-by-hop, routing, destination options, fragment,
 * AH) are walked by pt_dec_ipv6_ext(), at most PT_IPV6_MAX_EXT of them so a
 * crafted chain costs bounded time. The walker counts nothing itself: the
 * ICMPv6 quote decoder reuses it and books its failures as
 * icmp.quote_truncated instead of ipv6 errors. A fragment header with a
 * non-zero offset ends decoding at the IP layer (ipfrag); l3->proto is then
 * the fragment header's next header. ESP and "no next header" are data.
 * A type 0 or type 2 routing header with segments left replaces l3->dst by
 * its final address (Zeek and Wireshark conversations do the same). */
#include "internal.h"

#define NH_HOP   0
#define NH_ROUTE 43
#define NH_FRAG  44
#define NH_AH    51
#define NH_DEST  60

int pt_dec_ipv6_ext(struct pt_cur *c, uint8_t nh, struct pt_l3 *l3)
{
    for (unsigned n = 0;; n++) {
        const uint8_t *h;
        uint32_t len;

        if (nh != NH_HOP && nh != NH_ROUTE && nh != NH_FRAG && nh != NH_AH && nh != NH_DEST)
            return nh;
        if (unlikely(n == PT_IPV6_MAX_EXT))
            return PT_V6EXT_TOO_MANY;
        if (unlikely(!(h = pt_pkt_peek(c, 2))))
            return PT_V6EXT_TRUNC;
        if (nh == NH_FRAG)
            len = 8;
        else if (nh == NH_AH)
            len = (h[1] + 2u) * 4;
        else
            len = (h[1] + 1u) * 8;
        if (unlikely(!(h = pt_pkt_pull(c, len))))
            return PT_V6EXT_TRUNC;
        /* Type 0/2 routing with segments left: the flow goes to the final
         * address, as Zeek and Wireshark key it. */
        if (nh == NH_ROUTE && len >= 24 && h[3] && (h[2] == 0 || h[2] == 2))
            memcpy(l3->dst, h + len - 16, 16);
        if (nh == NH_FRAG) {
            uint16_t fo = rd16(h + 2);

            l3->frag_off = fo & 0xfff8;
            l3->frag_id = rd32(h + 4);
            l3->flags |= PT_L3_FRAG;
            if (!l3->frag_off)
                l3->flags |= PT_L3_FRAG_HEAD;
            if (fo & 1)
                l3->flags |= PT_L3_MF;
            if (l3->frag_off) /* what follows is a later fragment's data, not headers */
                return h[0];
        }
        nh = h[0];
    }
}

void pt_dec_ipv6(struct pt_dec *d, struct pt_cur c)
{
    uint32_t l3_off = c.off;
    const uint8_t *h = pt_pkt_pull(&c, 40);
    struct pt_l3 *l3;
    int nh;

    if (unlikely(!h)) {
        pt_dec_err(d, PT_DEC_IPV6_TRUNC);
        return;
    }
    pt_dec_path(d, PT_P_IPV6);
    if (unlikely(h[0] >> 4 != 6)) {
        pt_dec_err(d, PT_DEC_IPV6_BAD_VER);
        return;
    }
    if (unlikely(!(l3 = pt_dec_l3_new(d, l3_off))))
        return;
    l3->ver = 6;
    l3->tos = (uint8_t)(rd32(h) >> 20);
    l3->ttl = h[7];
    l3->proto = h[6];
    l3->ip_len = 40u + rd16(h + 4);
    memcpy(l3->src, h + 8, 16);
    memcpy(l3->dst, h + 24, 16);
    if (unlikely(l3->ip_len > c.end - l3_off)) {
        l3->flags |= PT_L3_TRUNC;
        pt_dec_err(d, PT_DEC_IPV6_LEN_TRUNC);
    } else {
        c.end = l3_off + l3->ip_len;
    }
    nh = pt_dec_ipv6_ext(&c, h[6], l3);
    if (unlikely(nh < 0)) {
        pt_dec_err(d, nh == PT_V6EXT_TRUNC ? PT_DEC_IPV6_EXT_TRUNC : PT_DEC_IPV6_EXT_TOO_MANY);
        return;
    }
    l3->proto = (uint8_t)nh;
    pt_dec_l4(d, c, l3);
}
