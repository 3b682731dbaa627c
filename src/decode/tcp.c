/* tcp.c - TCP header and the options the flow table wants.
 *
 * DESIGN: the fixed 20 bytes make the layer usable (PT_L3_L4: ports, flags,
 * seq/ack, window) even when a short snaplen cuts into the options, which is
 * common with tcpdump -s 68; the cut is still counted as tcp.truncated. A data
 * offset below 5 words is tcp.bad_data_offset and leaves no transport. The
 * option walk stops at EOL or at the first malformed option (bad_option);
 * MSS, window scale, SACK-permitted and timestamps are kept, the rest
 * skipped. l4_len follows the IP length, payload_caplen what was captured. */
#include "internal.h"

#define OPT_EOL    0
#define OPT_NOP    1
#define OPT_MSS    2
#define OPT_WS     3
#define OPT_SACKOK 4
#define OPT_TS     8

/* Fill @o from the option bytes; false on a malformed option. */
static bool tcp_opts(struct pt_tcp_opt *o, const uint8_t *b, uint32_t len)
{
    uint32_t i = 0;

    while (i < len) {
        uint8_t kind = b[i], olen;

        if (kind == OPT_EOL)
            return true;
        if (kind == OPT_NOP) {
            i++;
            continue;
        }
        if (unlikely(i + 1 >= len || (olen = b[i + 1]) < 2 || olen > len - i))
            return false;
        switch (kind) {
        case OPT_MSS:
            if (unlikely(olen != 4))
                return false;
            o->mss = rd16(b + i + 2);
            break;
        case OPT_WS:
            if (unlikely(olen != 3))
                return false;
            o->wscale = b[i + 2];
            o->has_wscale = true;
            break;
        case OPT_SACKOK:
            if (unlikely(olen != 2))
                return false;
            o->sack_ok = true;
            break;
        case OPT_TS:
            if (unlikely(olen != 10))
                return false;
            o->tsval = rd32(b + i + 2);
            o->tsecr = rd32(b + i + 6);
            o->has_ts = true;
            break;
        default:
            break;
        }
        i += olen;
    }
    return true;
}

void pt_dec_tcp(struct pt_dec *d, struct pt_cur c, struct pt_l3 *l3)
{
    const uint8_t *h = pt_pkt_pull(&c, 20), *opt;
    uint32_t hlen;

    if (unlikely(!h)) {
        pt_dec_err(d, PT_DEC_TCP_TRUNC);
        return;
    }
    pt_dec_path(d, PT_P_TCP);
    hlen = (h[12] >> 4) * 4u;
    if (unlikely(hlen < 20)) {
        pt_dec_err(d, PT_DEC_TCP_BAD_OFF);
        return;
    }
    l3->sport = rd16(h);
    l3->dport = rd16(h + 2);
    l3->tcp_seq = rd32(h + 4);
    l3->tcp_ack = rd32(h + 8);
    l3->tcp_flags = h[13];
    l3->tcp_win = rd16(h + 14);
    l3->flags |= PT_L3_L4;
    if (unlikely(!(opt = pt_pkt_pull(&c, hlen - 20)))) {
        /* options cut off: no payload captured; l4_len still from the IP length */
        uint32_t claim_end = l3->l3_off + l3->ip_len, pay = l3->l4_off + hlen;

        pt_dec_err(d, PT_DEC_TCP_TRUNC);
        l3->payload = c.base + c.end;
        l3->payload_caplen = 0;
        l3->l4_len = claim_end > pay ? claim_end - pay : 0;
        return;
    }
    if (hlen > 20) {
        if (unlikely(!tcp_opts(&l3->tcp_opt, opt, hlen - 20)))
            pt_dec_err(d, PT_DEC_TCP_OPT_BAD);
        l3->flags |= PT_L3_TCP_OPTS;
    }
    pt_dec_payload(l3, &c);
}
