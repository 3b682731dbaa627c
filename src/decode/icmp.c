/* icmp.c - ICMP and ICMPv6: type, code, echo id, and the header quoted in
 * error messages.
 *
 * DESIGN: an error message (ICMP 3,4,5,11,12; ICMPv6 1-4) carries the start
 * of the datagram that caused it. That quote is decoded into p->quote only:
 * it is not a packet of the quoted flow and must never reach p->l3[] (it
 * would create flows and count bytes that never crossed the wire that way).
 * The quote is partial by design (RFC 792 guarantees only 8 bytes past the
 * IP header), so the quoted IP length is not checked against the capture;
 * a quoted IP header that is not all there, or ports that are cut off, are
 * icmp.quote_truncated. The quoted protocols are added to the hierarchy
 * path under icmp/icmpv6, as tshark shows them. */
#include "internal.h"

static bool is_err_v4(uint8_t type)
{
    return type == 3 || type == 4 || type == 5 || type == 11 || type == 12;
}

static bool has_id_v4(uint8_t type)
{
    return type == 0 || type == 8 || (type >= 13 && type <= 18);
}

/* Ports of the quoted transport (TCP, UDP, SCTP, UDP-Lite start alike). */
static void quote_ports(struct pt_dec *d, struct pt_cur *c, struct pt_quote *q)
{
    const uint8_t *h;

    if (q->proto == 6)
        pt_dec_path(d, PT_P_TCP);
    else if (q->proto == 17)
        pt_dec_path(d, PT_P_UDP);
    if (q->proto != 6 && q->proto != 17 && q->proto != 132 && q->proto != 136)
        return;
    if (unlikely(!(h = pt_pkt_pull(c, 4)))) {
        pt_dec_err(d, PT_DEC_ICMP_QUOTE_TRUNC);
        return;
    }
    q->sport = rd16(h);
    q->dport = rd16(h + 2);
}

static void quote_v4(struct pt_dec *d, struct pt_cur c)
{
    struct pt_quote *q = &d->p->quote;
    const uint8_t *h = pt_pkt_pull(&c, 20);
    uint32_t hlen;

    if (unlikely(!h || h[0] >> 4 != 4 || (hlen = (h[0] & 0x0fu) * 4) < 20 ||
                 !pt_pkt_pull(&c, hlen - 20))) {
        pt_dec_err(d, PT_DEC_ICMP_QUOTE_TRUNC);
        return;
    }
    pt_dec_path(d, PT_P_IPV4);
    q->valid = true;
    q->ver = 4;
    q->proto = h[9];
    q->sport = q->dport = 0;
    pt_addr_v4(q->src, h + 12);
    pt_addr_v4(q->dst, h + 16);
    if (!(rd16(h + 6) & 0x1fff)) /* a non-first fragment quotes no ports */
        quote_ports(d, &c, q);
}

static void quote_v6(struct pt_dec *d, struct pt_cur c)
{
    struct pt_quote *q = &d->p->quote;
    const uint8_t *h = pt_pkt_pull(&c, 40);
    struct pt_l3 scratch;
    int nh;

    if (unlikely(!h || h[0] >> 4 != 6)) {
        pt_dec_err(d, PT_DEC_ICMP_QUOTE_TRUNC);
        return;
    }
    pt_dec_path(d, PT_P_IPV6);
    q->valid = true;
    q->ver = 6;
    q->proto = h[6];
    q->sport = q->dport = 0;
    memcpy(q->src, h + 8, 16);
    memcpy(q->dst, h + 24, 16);
    scratch.frag_off = 0;
    scratch.flags = 0;
    nh = pt_dec_ipv6_ext(&c, h[6], &scratch);
    if (unlikely(nh < 0)) {
        pt_dec_err(d, PT_DEC_ICMP_QUOTE_TRUNC);
        return;
    }
    q->proto = (uint8_t)nh;
    if (!scratch.frag_off)
        quote_ports(d, &c, q);
}

/* Quote: IPv4 or IPv6 by the first nibble (a v4 error may quote 6in4). */
static void quote(struct pt_dec *d, struct pt_cur c)
{
    const uint8_t *h = pt_pkt_peek(&c, 1);

    if (h && h[0] >> 4 == 6)
        quote_v6(d, c);
    else
        quote_v4(d, c);
}

void pt_dec_icmp(struct pt_dec *d, struct pt_cur c, struct pt_l3 *l3)
{
    const uint8_t *h = pt_pkt_pull(&c, 8);

    if (unlikely(!h)) {
        pt_dec_err(d, PT_DEC_ICMP_TRUNC);
        return;
    }
    pt_dec_path(d, PT_P_ICMP);
    l3->icmp_type = h[0];
    l3->icmp_code = h[1];
    if (has_id_v4(h[0]))
        l3->icmp_id = rd16(h + 4);
    l3->flags |= PT_L3_L4;
    pt_dec_payload(l3, &c);
    if (is_err_v4(h[0])) {
        l3->flags |= PT_L3_ICMP_ERR;
        quote(d, c);
    }
}

void pt_dec_icmpv6(struct pt_dec *d, struct pt_cur c, struct pt_l3 *l3)
{
    const uint8_t *h = pt_pkt_pull(&c, 4);
    uint8_t type, code;

    if (unlikely(!h)) {
        pt_dec_err(d, PT_DEC_ICMPV6_TRUNC);
        return;
    }
    pt_dec_path(d, PT_P_ICMPV6);
    type = h[0];
    code = h[1];
    /* errors and echo have 4 more header bytes (unused/MTU/pointer, id+seq) */
    if (type <= 4 || type == 128 || type == 129) {
        if (unlikely(!(h = pt_pkt_pull(&c, 4)))) {
            pt_dec_err(d, PT_DEC_ICMPV6_TRUNC);
            return;
        }
        if (type >= 128)
            l3->icmp_id = rd16(h);
    }
    l3->icmp_type = type;
    l3->icmp_code = code;
    l3->flags |= PT_L3_L4;
    pt_dec_payload(l3, &c);
    if (type >= 1 && type <= 4) {
        l3->flags |= PT_L3_ICMP_ERR;
        quote(d, c);
    }
}
