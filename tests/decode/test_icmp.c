/* test_icmp.c - ICMP/ICMPv6 type, code, echo id and the quoted header of
 * error messages (p->quote, never p->l3[]). Values from tshark. */
#include "decode/decode_test.h"

Test(decode_icmp, dest_unreach_quotes_udp)
{
    struct td_frame f;

    /* tshark: 192.168.1.102 -> 192.168.1.1 type 3 code 3, quoted
     * 192.168.1.1:53 -> 192.168.1.102:59207 UDP */
    td_nth(&f, "pcap/icmp/zeek_icmp-destunreach-udp.pcap", 1, NULL);
    cr_assert_eq(f.p.err, PT_DEC_OK);
    cr_assert_eq(f.p.n_l3, 1, "the quote is not a layer");
    struct pt_l3 *l = &f.p.l3[0];
    td_assert_addr(l->src, "192.168.1.102");
    td_assert_addr(l->dst, "192.168.1.1");
    cr_assert_eq(l->proto, 1);
    cr_assert_eq(l->icmp_type, 3);
    cr_assert_eq(l->icmp_code, 3);
    cr_assert_eq(l->flags, PT_L3_L4 | PT_L3_ICMP_ERR);
    cr_assert(f.p.quote.valid);
    cr_assert_eq(f.p.quote.ver, 4);
    cr_assert_eq(f.p.quote.proto, 17);
    td_assert_addr(f.p.quote.src, "192.168.1.1");
    td_assert_addr(f.p.quote.dst, "192.168.1.102");
    cr_assert_eq(f.p.quote.sport, 53);
    cr_assert_eq(f.p.quote.dport, 59207);
    free(f.buf);
}

Test(decode_icmp, time_exceeded_quotes_udp)
{
    struct td_frame f;

    td_nth(&f, "pcap/icmp/zeek_icmp-timeexceeded.pcap", 1, NULL);
    cr_assert_eq(f.p.err, PT_DEC_OK);
    cr_assert_eq(f.p.n_l3, 1);
    cr_assert_eq(f.p.l3[0].icmp_type, 11);
    cr_assert_eq(f.p.l3[0].icmp_code, 0);
    cr_assert(f.p.l3[0].flags & PT_L3_ICMP_ERR);
    cr_assert(f.p.quote.valid);
    td_assert_addr(f.p.quote.src, "10.0.0.2");
    td_assert_addr(f.p.quote.dst, "10.0.0.1");
    cr_assert_eq(f.p.quote.sport, 30000);
    cr_assert_eq(f.p.quote.dport, 13000);
    free(f.buf);
}

Test(decode_icmp, echo_ids)
{
    struct td_frame f;

    td_nth(&f, "pcap/icmp/zeek_icmp-ping.pcap", 1, NULL);
    cr_assert_eq(f.p.l3[0].icmp_type, 8);
    cr_assert_eq(f.p.l3[0].icmp_id, 34844);
    cr_assert_eq(f.p.l3[0].flags, PT_L3_L4);
    cr_assert_not(f.p.quote.valid);
    td_assert_addr(f.p.l3[0].dst, "74.125.225.99");
    free(f.buf);
    td_nth(&f, "pcap/icmp/zeek_icmp6-ping.pcap", 2, NULL);
    cr_assert_eq(f.p.l3[0].ver, 6);
    cr_assert_eq(f.p.l3[0].icmp_type, 129);
    cr_assert_eq(f.p.l3[0].icmp_id, 1);
    td_assert_addr(f.p.l3[0].src, "2001:4860:8006::63");
    free(f.buf);
}

Test(decode_icmp, icmpv6_hop_by_hop_mld)
{
    struct td_frame f;

    /* tcpdump_icmpv6 #2: MLDv2 report behind a hop-by-hop router alert */
    td_nth(&f, "pcap/icmp/tcpdump_icmpv6.pcap", 2, NULL);
    cr_assert_eq(f.p.err, PT_DEC_OK);
    cr_assert_eq(f.p.l3[0].proto, 58);
    cr_assert_eq(f.p.l3[0].icmp_type, 143);
    free(f.buf);
}

/* ICMPv6 packet too big quoting an IPv6 TCP header; then the same quote cut
 * inside the ports. */
Test(decode_icmp, icmpv6_error_quote_v6_tcp)
{
    uint8_t fr[40 + 8 + 40 + 4] = {0x60, 0, 0, 0, 0, 52, 58, 64};
    struct pt_decode_stats st;
    struct td_frame f;

    fr[8 + 15] = 1;       /* src ::1 */
    fr[24 + 15] = 2;      /* dst ::2 */
    fr[40] = 2;           /* packet too big */
    uint8_t *q = fr + 48; /* quoted IPv6: ::2 -> ::1 TCP 443 -> 50000 */
    q[0] = 0x60;
    q[6] = 6;
    q[8 + 15] = 2;
    q[24 + 15] = 1;
    q[40] = 0x01, q[41] = 0xbb, q[42] = 0xc3, q[43] = 0x50;
    pt_decode_stats_init(&st);
    td_bytes(&f, PT_LINK_IPV6, fr, sizeof fr, &st);
    cr_assert_eq(f.p.err, PT_DEC_OK);
    cr_assert_eq(f.p.n_l3, 1);
    cr_assert_eq(f.p.l3[0].icmp_type, 2);
    cr_assert(f.p.l3[0].flags & PT_L3_ICMP_ERR);
    cr_assert(f.p.quote.valid);
    cr_assert_eq(f.p.quote.ver, 6);
    cr_assert_eq(f.p.quote.proto, 6);
    td_assert_addr(f.p.quote.src, "::2");
    cr_assert_eq(f.p.quote.sport, 443);
    cr_assert_eq(f.p.quote.dport, 50000);
    free(f.buf);

    td_bytes(&f, PT_LINK_IPV6, fr, sizeof fr - 2, &st);
    cr_assert_eq(f.p.err, PT_DEC_IPV6_LEN_TRUNC);
    cr_assert(f.p.quote.valid);
    cr_assert_eq(f.p.quote.sport, 0);
    cr_assert_eq(st.err[PT_DEC_ICMP_QUOTE_TRUNC], 1);
    free(f.buf);

    td_bytes(&f, PT_LINK_IPV6, fr, 40 + 8 + 20, &st);
    cr_assert_not(f.p.quote.valid);
    cr_assert_eq(st.err[PT_DEC_ICMP_QUOTE_TRUNC], 2);
    free(f.buf);
}
