/* test_l2.c - VLAN stacks (802.1Q, 802.1ad, triple), hw_vlan, MPLS, PPPoE.
 * VLAN ids and addresses read off tshark (vlan.id, ieee8021ad.id, ip.*). */
#include "decode/decode_test.h"

Test(decode_l2, qinq_two_8100_tags)
{
    struct td_frame f;

    td_nth(&f, "pcap/vlan/zeek_q-in-q.pcap", 3, NULL);
    cr_assert_eq(f.p.err, PT_DEC_OK);
    struct pt_l3 *l = &f.p.l3[0];
    cr_assert_eq(l->n_vlan, 2);
    cr_assert_eq(l->vlan[0], 13);
    cr_assert_eq(l->vlan[1], 10);
    cr_assert_eq(l->vlan[2], PT_VLAN_NONE);
    td_assert_addr(l->src, "193.1.186.60");
    td_assert_addr(l->dst, "224.2.127.254");
    cr_assert_eq(l->sport, 9875);
    cr_assert_eq(l->dport, 9875);
    cr_assert_eq(l->l3_off, 22);
    free(f.buf);
}

Test(decode_l2, dot1ad_then_dot1q)
{
    struct td_frame f;

    /* tshark: ieee8021ad.id 1525, vlan.id 30; ICMP 47.245.159.156 -> 92.104.109.0 */
    td_nth(&f, "pcap/vlan/arkime_dot1ad.pcap", 1, NULL);
    cr_assert_eq(f.p.err, PT_DEC_OK);
    struct pt_l3 *l = &f.p.l3[0];
    cr_assert_eq(l->n_vlan, 2);
    cr_assert_eq(l->vlan[0], 1525);
    cr_assert_eq(l->vlan[1], 30);
    cr_assert_eq(f.p.vlan, 1525, "frame VLAN is the outer tag");
    td_assert_addr(l->src, "47.245.159.156");
    td_assert_addr(l->dst, "92.104.109.0");
    cr_assert_eq(l->proto, 1);
    free(f.buf);
    td_nth(&f, "pcap/vlan/arkime_dot1ad.pcap", 2, NULL);
    cr_assert_eq(f.p.l3[0].vlan[0], 1535);
    cr_assert_eq(f.p.l3[0].vlan[1], 40);
    free(f.buf);
}

Test(decode_l2, dot1ad_qinq_arp)
{
    struct td_frame f;

    td_nth(&f, "pcap/vlan/tcpdump_802.1ad_QinQ.pcap", 1, NULL);
    cr_assert_eq(f.p.err, PT_DEC_OK);
    cr_assert(f.p.flags & PT_PKT_ARP);
    cr_assert_eq(f.p.ethertype, 0x0806);
    free(f.buf);
}

Test(decode_l2, triple_tag)
{
    struct td_frame f;

    td_nth(&f, "pcap/vlan/zeek_vlan-qinqinq.pcap", 1, NULL);
    cr_assert_eq(f.p.err, PT_DEC_OK);
    struct pt_l3 *l = &f.p.l3[0];
    cr_assert_eq(l->n_vlan, 3);
    cr_assert_eq(l->vlan[0], 30);
    cr_assert_eq(l->vlan[1], 20);
    cr_assert_eq(l->vlan[2], 10);
    td_assert_addr(l->src, "141.142.228.5");
    cr_assert_eq(l->sport, 59856);
    cr_assert_eq(l->l3_off, 26);
    free(f.buf);
}

/* 4 tags is one too many: the 4th is counted, decoding goes on. The kernel
 * tag (hw_vlan) counts as the outermost. */
Test(decode_l2, too_deep_and_hw_vlan)
{
    uint8_t fr[14 + 16 + 28] = {
        0,    1,   2,    3,    4,    5,    6,    7,    8,    9,    10,   11, 0x81, 0x00, /* eth */
        0x00, 101, 0x81, 0x00, 0x00, 102,  0x81, 0x00, /* tags 101, 102 */
        0x00, 103, 0x81, 0x00, 0x00, 104,  0x08, 0x00, /* tags 103, 104 */
        0x45, 0,   0,    28,   0,    0,    0,    0,    64,   17,   0,    0,  10,   0,    0,
        1,    10,  0,    0,    2,    0x00, 0x35, 0x00, 0x35, 0x00, 0x08, 0,  0, /* udp 53 -> 53 */
    };
    struct pt_decode_stats st;
    struct td_frame f;

    pt_decode_stats_init(&st);
    td_bytes(&f, PT_LINK_ETHERNET, fr, sizeof fr, &st);
    cr_assert_eq(f.p.err, PT_DEC_VLAN_TOO_DEEP);
    cr_assert_eq(st.err[PT_DEC_VLAN_TOO_DEEP], 1, "counted once per frame");
    cr_assert_eq(f.p.n_l3, 1);
    cr_assert_eq(f.p.l3[0].n_vlan, 3);
    cr_assert_eq(f.p.l3[0].vlan[0], 101);
    cr_assert_eq(f.p.l3[0].vlan[2], 103);
    cr_assert_eq(f.p.l3[0].dport, 53);
    free(f.buf);

    /* hw_vlan 0x2007 (PCP 1, id 7) then the in-band tags: 7, 101, 102 kept */
    struct pcap_pkthdr h = {.caplen = sizeof fr, .len = sizeof fr};
    f.buf = malloc(sizeof fr);
    memcpy(f.buf, fr, sizeof fr);
    memset(&f.p, 0, sizeof f.p);
    f.p.data = f.buf;
    f.p.caplen = h.caplen;
    f.p.wirelen = h.len;
    f.p.linktype = PT_LINK_ETHERNET;
    f.p.hw_vlan = 0x2007;
    pt_decode(&f.p, &st);
    cr_assert_eq(f.p.l3[0].n_vlan, 3);
    cr_assert_eq(f.p.l3[0].vlan[0], 7);
    cr_assert_eq(f.p.vlan, 7, "the kernel-stripped tag is the outermost");
    cr_assert_eq(f.p.l3[0].vlan[1], 101);
    cr_assert_eq(f.p.l3[0].vlan[2], 102);
    cr_assert_eq(st.err[PT_DEC_VLAN_TOO_DEEP], 2);
    free(f.buf);
}

Test(decode_l2, mpls_and_vlan_mixed)
{
    struct td_frame f;

    /* #1: MPLS label 29, telnet SYN 10.1.2.1:11001 -> 10.34.0.1:23, mss 536 */
    td_nth(&f, "pcap/vlan/zeek_mixed-vlan-mpls.pcap", 1, NULL);
    cr_assert_eq(f.p.err, PT_DEC_OK);
    cr_assert_eq(f.p.ethertype, 0x8847);
    struct pt_l3 *l = &f.p.l3[0];
    cr_assert_eq(l->n_vlan, 0);
    td_assert_addr(l->src, "10.1.2.1");
    td_assert_addr(l->dst, "10.34.0.1");
    cr_assert_eq(l->sport, 11001);
    cr_assert_eq(l->dport, 23);
    cr_assert_eq(l->tcp_opt.mss, 536);
    cr_assert_eq(l->l3_off, 18);
    free(f.buf);

    /* #34: 802.1Q 4093, 10.20.80.1:50343 -> 10.0.0.15:80 */
    td_nth(&f, "pcap/vlan/zeek_mixed-vlan-mpls.pcap", 34, NULL);
    cr_assert_eq(f.p.err, PT_DEC_OK);
    l = &f.p.l3[0];
    cr_assert_eq(l->n_vlan, 1);
    cr_assert_eq(l->vlan[0], 4093);
    td_assert_addr(l->src, "10.20.80.1");
    cr_assert_eq(l->sport, 50343);
    cr_assert_eq(l->dport, 80);
    free(f.buf);

    /* #12: untagged 141.42.64.125:56730 -> 125.190.109.199:80 */
    td_nth(&f, "pcap/vlan/zeek_mixed-vlan-mpls.pcap", 12, NULL);
    cr_assert_eq(f.p.l3[0].n_vlan, 0);
    cr_assert_eq(f.p.vlan, PT_VLAN_NONE);
    td_assert_addr(f.p.l3[0].src, "141.42.64.125");
    cr_assert_eq(f.p.l3[0].sport, 56730);
    free(f.buf);
}

Test(decode_l2, mpls_stack_ipv6_and_errors)
{
    /* two labels (second bottom-of-stack), then an IPv6 header */
    uint8_t fr[14 + 8 + 40] = {0,    1,    2,    3,    4,    5,  6,    7,    8,    9,  10,  11,
                               0x88, 0x47, 0x00, 0x01, 0x00, 64, 0x00, 0x02, 0x01, 64, 0x60};
    uint8_t bad[14 + 8] = {0,  1,    2,    3,    4,    5,    6,  7,    8,    9,    10,
                           11, 0x88, 0x47, 0x00, 0x01, 0x01, 64, 0x00, 0x00, 0x00, 0x00};
    struct td_frame f;

    fr[22 + 6] = 59;
    td_bytes(&f, PT_LINK_ETHERNET, fr, sizeof fr, &(struct pt_decode_stats){0});
    cr_assert_eq(f.p.err, PT_DEC_OK);
    cr_assert_eq(f.p.n_l3, 1);
    cr_assert_eq(f.p.l3[0].ver, 6);
    cr_assert_eq(f.p.l3[0].l3_off, 22);
    free(f.buf);
    td_bytes(&f, PT_LINK_ETHERNET, bad, sizeof bad, &(struct pt_decode_stats){0});
    cr_assert_eq(f.p.err, PT_DEC_MPLS_UNKNOWN); /* control word 0 is not IP */
    free(f.buf);
    td_bytes(&f, PT_LINK_ETHERNET, bad, 16, &(struct pt_decode_stats){0});
    cr_assert_eq(f.p.err, PT_DEC_MPLS_TRUNC);
    free(f.buf);
}

Test(decode_l2, pppoe_in_qinq)
{
    struct td_frame f;

    /* ndpi_dns #4: vlan 421/785, PPPoE session, PPP IPv4, DNS query
     * 82.178.113.245:47255 -> 82.178.158.181:53 */
    td_nth(&f, "pcap/dns/ndpi_dns.pcap", 4, NULL);
    cr_assert_eq(f.p.err, PT_DEC_OK);
    cr_assert_eq(f.p.n_l3, 1);
    struct pt_l3 *l = &f.p.l3[0];
    cr_assert_eq(l->n_vlan, 2);
    cr_assert_eq(l->vlan[0], 421);
    cr_assert_eq(l->vlan[1], 785);
    td_assert_addr(l->src, "82.178.113.245");
    td_assert_addr(l->dst, "82.178.158.181");
    cr_assert_eq(l->sport, 47255);
    cr_assert_eq(l->dport, 53);
    cr_assert_eq(l->ip_len, 61);
    cr_assert_eq(l->l3_off, 14 + 8 + 6 + 2);
    free(f.buf);
    td_nth(&f, "pcap/dns/ndpi_dns.pcap", 5, NULL);
    cr_assert_eq(f.p.l3[0].sport, 53);
    cr_assert_eq(f.p.l3[0].ip_len, 189);
    free(f.buf);
}

Test(decode_l2, pppoe_bad_header)
{
    uint8_t fr[14 + 8 + 20] = {0,  1,    2,    3,    4,    5,    6,    7,    8,  9,    10,
                               11, 0x88, 0x64, 0x12, 0x00, 0x00, 0x01, 0x00, 22, 0x00, 0x21};
    struct td_frame f;

    td_bytes(&f, PT_LINK_ETHERNET, fr, sizeof fr, &(struct pt_decode_stats){0});
    cr_assert_eq(f.p.err, PT_DEC_PPPOE_BAD);
    cr_assert_eq(f.p.n_l3, 0);
    free(f.buf);
    td_bytes(&f, PT_LINK_ETHERNET, fr, 17, &(struct pt_decode_stats){0});
    cr_assert_eq(f.p.err, PT_DEC_PPPOE_TRUNC);
    free(f.buf);
}
