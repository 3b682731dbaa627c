/* ipv4.c - IPv4 header, options and fragments.
 *
 * DESIGN: the order of checks follows what a reader of the header needs:
 *   1. the fixed 20 bytes must be there (ipv4.truncated), version 4
 *      (bad_version), IHL >= 5 (bad_ihl), options captured (truncated);
 *   2. total length >= IHL (bad_total_length, stops: nothing after it can be
 *      trusted);
 *   3. total length beyond the capture: flag PT_L3_TRUNC, count
 *      length_beyond_capture and decode what is there (tcpdump and tshark
 *      do); total length shorter than the link payload: the rest is padding,
 *      the cursor is narrowed so no layer ever sees it;
 *   4. options are walked for well-formedness only (bad_option is counted,
 *      decoding goes on: the header length is known regardless);
 *   5. a non-first fragment carries no transport header: counted as ipfrag
 *      in the hierarchy and left for a reassembler. */
#include "internal.h"

#define IP_MF     0x2000
#define IP_OFFSET 0x1fff

/* true when the option list in [o, o + len) is well formed. */
static bool opts_ok(const uint8_t *o, uint32_t len)
{
    uint32_t i = 0;

    while (i < len) {
        if (o[i] == 0) /* end of list */
            return true;
        if (o[i] == 1) { /* no-op */
            i++;
            continue;
        }
        if (i + 1 >= len || o[i + 1] < 2 || o[i + 1] > len - i)
            return false;
        i += o[i + 1];
    }
    return true;
}

static void set_frag(struct pt_l3 *l3, uint16_t field)
{
    l3->frag_off = (uint16_t)((field & IP_OFFSET) * 8);
    if ((field & IP_MF) || l3->frag_off) {
        l3->flags |= PT_L3_FRAG;
        if (!l3->frag_off)
            l3->flags |= PT_L3_FRAG_HEAD;
        if (field & IP_MF)
            l3->flags |= PT_L3_MF;
    }
}

void pt_dec_ipv4(struct pt_dec *d, struct pt_cur c)
{
    uint32_t l3_off = c.off, hlen, tot;
    const uint8_t *h = pt_pkt_pull(&c, 20), *opt;
    struct pt_l3 *l3;

    if (unlikely(!h)) {
        pt_dec_err(d, PT_DEC_IPV4_TRUNC);
        return;
    }
    pt_dec_path(d, PT_P_IPV4);
    if (unlikely(h[0] >> 4 != 4)) {
        pt_dec_err(d, PT_DEC_IPV4_BAD_VER);
        return;
    }
    hlen = (h[0] & 0x0fu) * 4;
    if (unlikely(hlen < 20)) {
        pt_dec_err(d, PT_DEC_IPV4_BAD_IHL);
        return;
    }
    if (unlikely(!(opt = pt_pkt_pull(&c, hlen - 20)))) {
        pt_dec_err(d, PT_DEC_IPV4_TRUNC);
        return;
    }
    tot = rd16(h + 2);
    if (unlikely(tot < hlen)) {
        pt_dec_err(d, PT_DEC_IPV4_BAD_LEN);
        return;
    }
    if (unlikely(!(l3 = pt_dec_l3_new(d, l3_off))))
        return;
    l3->ver = 4;
    l3->tos = h[1];
    l3->ttl = h[8];
    l3->proto = h[9];
    l3->ip_len = tot;
    l3->frag_id = rd16(h + 4);
    pt_addr_v4(l3->src, h + 12);
    pt_addr_v4(l3->dst, h + 16);
    set_frag(l3, rd16(h + 6));
    if (unlikely(tot > c.end - l3_off)) {
        l3->flags |= PT_L3_TRUNC;
        pt_dec_err(d, PT_DEC_IPV4_LEN_TRUNC);
    } else {
        c.end = l3_off + tot;
    }
    if (unlikely(hlen > 20 && !opts_ok(opt, hlen - 20)))
        pt_dec_err(d, PT_DEC_IPV4_OPT_BAD);
    pt_dec_l4(d, c, l3);
}
