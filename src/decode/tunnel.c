/* tunnel.c - GRE (with ERSPAN II/III), VXLAN and IP-in-IP.
 *
 * DESIGN: a tunnel decoder strips its own header, sets d->encap for the IP
 * layer it leads to, and hands the rest to the ordinary decoders:
 *   1. GRE (RFC 2784/2890): version 0 only; checksum, key and sequence words
 *      are skipped by their flag bits. The protocol field is an ethertype:
 *      0x6558 (transparent Ethernet), 0x88BE (ERSPAN II, or type I when the
 *      sequence bit is clear) and 0x22EB (ERSPAN III) continue in an inner
 *      Ethernet header; anything else (IPv4, IPv6, MPLS, ...) goes through
 *      pt_dec_ethertype() like a link payload.
 *   2. ERSPAN II: 8-byte header, version 1. ERSPAN III: 12-byte header,
 *      version 2, plus an 8-byte platform subheader when the O bit (last bit
 *      of the header) is set.
 *   3. VXLAN: UDP port 4789, 8-byte header whose I flag must be set, then
 *      Ethernet.
 *   4. IP-in-IP: protocol 4 (IPv4) or 41 (IPv6) under either IP version.
 * Behind an inner Ethernet header the VLAN ids in force restart empty: the
 * inner frame's own tags apply to the inner layer. IP carried directly (GRE
 * IP, IP-in-IP) keeps the outer tags in force. Depth is bounded by
 * PT_MAX_LAYERS (pt_dec_l3_new()). */
#include "internal.h"

#define GRE_C         0x8000
#define GRE_R         0x4000
#define GRE_K         0x2000
#define GRE_S         0x1000
#define GRE_VER       0x0007
#define GRE_P_TEB     0x6558
#define GRE_P_ERSPAN2 0x88be
#define GRE_P_ERSPAN3 0x22eb

static void inner_eth(struct pt_dec *d, struct pt_cur c, uint8_t encap)
{
    d->encap = encap;
    d->n_vlan = 0;
    pt_dec_eth(d, c);
}

static void dec_erspan(struct pt_dec *d, struct pt_cur c, bool type3)
{
    const uint8_t *h = pt_pkt_pull(&c, type3 ? 12 : 8);

    if (unlikely(!h)) {
        pt_dec_err(d, PT_DEC_ERSPAN_TRUNC);
        return;
    }
    pt_dec_path(d, PT_P_ERSPAN);
    if (unlikely(h[0] >> 4 != (type3 ? 2 : 1))) {
        pt_dec_err(d, PT_DEC_ERSPAN_BAD_VER);
        return;
    }
    if (type3 && (h[11] & 0x01) && unlikely(!pt_pkt_pull(&c, 8))) {
        pt_dec_err(d, PT_DEC_ERSPAN_TRUNC);
        return;
    }
    inner_eth(d, c, PT_ENCAP_ERSPAN);
}

void pt_dec_gre(struct pt_dec *d, struct pt_cur c)
{
    const uint8_t *h = pt_pkt_pull(&c, 4);
    uint16_t fl, proto;
    uint32_t opt;

    if (unlikely(!h)) {
        pt_dec_err(d, PT_DEC_GRE_TRUNC);
        return;
    }
    pt_dec_path(d, PT_P_GRE);
    fl = rd16(h);
    proto = rd16(h + 2);
    if (unlikely(fl & GRE_VER)) {
        pt_dec_err(d, PT_DEC_GRE_VERSION);
        return;
    }
    if (unlikely(fl & GRE_R)) {
        pt_dec_err(d, PT_DEC_GRE_ROUTING);
        return;
    }
    opt = (fl & GRE_C ? 4u : 0) + (fl & GRE_K ? 4u : 0) + (fl & GRE_S ? 4u : 0);
    if (unlikely(!pt_pkt_pull(&c, opt))) {
        pt_dec_err(d, PT_DEC_GRE_TRUNC);
        return;
    }
    switch (proto) {
    case GRE_P_TEB:
        inner_eth(d, c, PT_ENCAP_GRE);
        return;
    case GRE_P_ERSPAN2:
        if (fl & GRE_S) {
            dec_erspan(d, c, false);
        } else { /* ERSPAN type I: no header */
            pt_dec_path(d, PT_P_ERSPAN);
            inner_eth(d, c, PT_ENCAP_ERSPAN);
        }
        return;
    case GRE_P_ERSPAN3:
        dec_erspan(d, c, true);
        return;
    default:
        d->encap = PT_ENCAP_GRE;
        pt_dec_ethertype(d, c, proto);
        d->encap = PT_ENCAP_NONE;
    }
}

void pt_dec_vxlan(struct pt_dec *d, struct pt_cur c)
{
    const uint8_t *h = pt_pkt_pull(&c, 8);

    if (unlikely(!h)) {
        pt_dec_err(d, PT_DEC_VXLAN_TRUNC);
        return;
    }
    if (!(h[0] & 0x08)) /* I flag clear: not a VXLAN frame we can use */
        return;
    pt_dec_path(d, PT_P_VXLAN);
    inner_eth(d, c, PT_ENCAP_VXLAN);
}

void pt_dec_ipip(struct pt_dec *d, struct pt_cur c, uint8_t proto)
{
    d->encap = PT_ENCAP_IPIP;
    if (proto == 4)
        pt_dec_ipv4(d, c);
    else
        pt_dec_ipv6(d, c);
    d->encap = PT_ENCAP_NONE;
}
