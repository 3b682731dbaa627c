/* test_link.c - link layers (Ethernet, SLL, SLL2, NULL, raw IP), TCP options,
 * UDP, ARP. Expected values read off tshark 4.0 on the same frames. */
#include "decode/decode_test.h"

Test(decode_link, ethernet_ipv4_tcp_options)
{
    struct td_frame f;

    /* zeek_vlan-qinqinq #2: SYN-ACK, tshark: mss 1460, wscale 7, ts 797524569/374005024 */
    td_nth(&f, "pcap/vlan/zeek_vlan-qinqinq.pcap", 2, NULL);
    cr_assert_eq(f.p.err, PT_DEC_OK);
    cr_assert(f.p.flags & PT_PKT_ETH);
    cr_assert_eq(f.p.n_l3, 1);
    struct pt_l3 *l = &f.p.l3[0];
    cr_assert_eq(l->ver, 4);
    cr_assert_eq(l->proto, 6);
    td_assert_addr(l->src, "192.150.187.43");
    td_assert_addr(l->dst, "141.142.228.5");
    cr_assert_eq(l->sport, 80);
    cr_assert_eq(l->dport, 59856);
    cr_assert_eq(l->tcp_flags, 0x12);
    cr_assert_eq(l->tcp_seq, 2779762238u);
    cr_assert_eq(l->tcp_ack, 4263588411u);
    cr_assert_eq(l->tcp_win, 14480);
    cr_assert_eq(l->flags, PT_L3_L4 | PT_L3_TCP_OPTS);
    cr_assert_eq(l->tcp_opt.mss, 1460);
    cr_assert(l->tcp_opt.has_wscale);
    cr_assert_eq(l->tcp_opt.wscale, 7);
    cr_assert(l->tcp_opt.sack_ok);
    cr_assert(l->tcp_opt.has_ts);
    cr_assert_eq(l->tcp_opt.tsval, 797524569u);
    cr_assert_eq(l->tcp_opt.tsecr, 374005024u);
    cr_assert_eq(l->ip_len, 60);
    cr_assert_eq(l->l4_len, 0);
    free(f.buf);
}

Test(decode_link, ethernet_tcp_payload_lengths)
{
    struct td_frame f;

    /* zeek_vlan-qinqinq #4: PSH/ACK with 136 bytes of HTTP request */
    td_nth(&f, "pcap/vlan/zeek_vlan-qinqinq.pcap", 4, NULL);
    struct pt_l3 *l = &f.p.l3[0];
    cr_assert_eq(l->tcp_flags, 0x18);
    cr_assert_eq(l->ip_len, 188);
    cr_assert_eq(l->l4_len, 136);
    cr_assert_eq(l->payload_caplen, 136);
    cr_assert_eq(l->l3_off, 14 + 12);
    cr_assert_eq(l->l4_off, 14 + 12 + 20);
    cr_assert_eq(l->payload, f.buf + 14 + 12 + 20 + 32);
    cr_assert_eq(memcmp(l->payload, "GET ", 4), 0);
    free(f.buf);
}

Test(decode_link, ethernet_udp)
{
    struct td_frame f;

    /* tshark: 10.180.156.141:62563 -> 10.2.95.39:53, ip.len 60, udp.length 40 */
    td_nth(&f, "pcap/dns/arkime_dns-udp.pcap", 1, NULL);
    cr_assert_eq(f.p.err, PT_DEC_OK);
    struct pt_l3 *l = &f.p.l3[0];
    cr_assert_eq(l->proto, 17);
    cr_assert_eq(l->flags, PT_L3_L4);
    td_assert_addr(l->src, "10.180.156.141");
    td_assert_addr(l->dst, "10.2.95.39");
    cr_assert_eq(l->sport, 62563);
    cr_assert_eq(l->dport, 53);
    cr_assert_eq(l->ip_len, 60);
    cr_assert_eq(l->l4_len, 32);
    cr_assert_eq(l->payload_caplen, 32);
    cr_assert_eq(l->payload, f.buf + 14 + 20 + 8);
    free(f.buf);
}

Test(decode_link, sll_handshake)
{
    struct td_frame f;

    /* tshark: 131.155.215.69:46656 -> 137.116.81.94:80 SYN, mss 1360 ws 7 */
    td_nth(&f, "pcap/tcp/tcpdump_tcp-handshake-nano.pcap", 1, NULL);
    cr_assert_eq(f.p.err, PT_DEC_OK);
    cr_assert_eq(f.p.ethertype, 0x0800);
    cr_assert_eq(f.p.n_l3, 1);
    struct pt_l3 *l = &f.p.l3[0];
    td_assert_addr(l->src, "131.155.215.69");
    td_assert_addr(l->dst, "137.116.81.94");
    cr_assert_eq(l->sport, 46656);
    cr_assert_eq(l->dport, 80);
    cr_assert_eq(l->tcp_flags, 0x02);
    cr_assert_eq(l->tcp_seq, 797190859u);
    cr_assert_eq(l->tcp_opt.mss, 1360);
    cr_assert_eq(l->tcp_opt.wscale, 7);
    cr_assert_eq(l->tcp_opt.tsval, 1131021154u);
    cr_assert_eq(l->l3_off, 16);
    free(f.buf);
}

Test(decode_link, sll2_icmp_icmpv6_arp)
{
    struct td_frame f;

    td_nth(&f, "pcap/linktype/zeek_linux_dlt_sll2.pcap", 1, NULL);
    cr_assert_eq(f.p.err, PT_DEC_OK);
    cr_assert_eq(f.p.l3[0].ver, 4);
    td_assert_addr(f.p.l3[0].src, "192.0.2.1");
    cr_assert_eq(f.p.l3[0].icmp_type, 8);
    cr_assert_eq(f.p.l3[0].icmp_id, 8);
    cr_assert_eq(f.p.l3[0].l3_off, 20);
    free(f.buf);

    td_nth(&f, "pcap/linktype/zeek_linux_dlt_sll2.pcap", 4, NULL);
    cr_assert_eq(f.p.l3[0].ver, 6);
    cr_assert_eq(f.p.l3[0].proto, 58);
    td_assert_addr(f.p.l3[0].src, "fe80::8c36:6ff:fe44:acaf");
    cr_assert_eq(f.p.l3[0].icmp_type, 129);
    cr_assert_eq(f.p.l3[0].icmp_id, 9);
    free(f.buf);

    td_nth(&f, "pcap/linktype/zeek_linux_dlt_sll2.pcap", 5, NULL);
    cr_assert_eq(f.p.n_l3, 0);
    cr_assert(f.p.flags & PT_PKT_ARP);
    cr_assert_eq(f.p.arp.op, 1);
    cr_assert_arr_eq(f.p.arp.spa, ((uint8_t[]){192, 0, 2, 1}), 4);
    cr_assert_arr_eq(f.p.arp.tpa, ((uint8_t[]){192, 0, 2, 2}), 4);
    free(f.buf);
}

Test(decode_link, null_loopback_ipv4)
{
    struct td_frame f;

    td_nth(&f, "pcap/tls/sv_tls-duplicate-hello.pcap", 1, NULL);
    cr_assert_eq(f.p.err, PT_DEC_OK);
    cr_assert_eq(f.p.n_l3, 1);
    struct pt_l3 *l = &f.p.l3[0];
    cr_assert_eq(l->l3_off, 4);
    td_assert_addr(l->src, "127.0.0.1");
    td_assert_addr(l->dst, "127.0.0.1");
    cr_assert_eq(l->sport, 49952);
    cr_assert_eq(l->dport, 8442);
    cr_assert_eq(l->tcp_flags, 0x02);
    free(f.buf);
}

Test(decode_link, null_family_byte_orders)
{
    /* family 30 (Darwin AF_INET6) little-endian, 24 (OpenBSD) big-endian on LOOP */
    static const uint8_t v6_le[44] = {0x1e, 0, 0, 0, 0x60, 0, 0, 0, 0, 0, 59, 64};
    static const uint8_t v6_be_loop[44] = {0, 0, 0, 24, 0x60, 0, 0, 0, 0, 0, 59, 64};
    static const uint8_t bad[] = {7, 0, 0, 0, 0x45};
    struct td_frame f;

    td_bytes(&f, PT_LINK_NULL, v6_le, sizeof v6_le, &(struct pt_decode_stats){0});
    cr_assert_eq(f.p.err, PT_DEC_OK);
    cr_assert_eq(f.p.n_l3, 1);
    cr_assert_eq(f.p.l3[0].ver, 6);
    cr_assert_eq(f.p.l3[0].proto, 59);
    free(f.buf);
    td_bytes(&f, PT_LINK_LOOP, v6_be_loop, sizeof v6_be_loop, &(struct pt_decode_stats){0});
    cr_assert_eq(f.p.n_l3, 1);
    cr_assert_eq(f.p.l3[0].ver, 6);
    free(f.buf);
    td_bytes(&f, PT_LINK_NULL, bad, sizeof bad, &(struct pt_decode_stats){0});
    cr_assert_eq(f.p.err, PT_DEC_NULL_FAMILY);
    free(f.buf);
}

Test(decode_link, raw_ipv6_udp)
{
    struct td_frame f;

    /* tshark: 2001:db8::1.12345 > 2620:fe::9.53 */
    td_nth(&f, "pcap/linktype/tcpdump_LINKTYPE_RAW_ipv6.pcap", 1, NULL);
    cr_assert_eq(f.p.err, PT_DEC_OK);
    cr_assert_eq(f.p.n_l3, 1);
    struct pt_l3 *l = &f.p.l3[0];
    cr_assert_eq(l->ver, 6);
    cr_assert_eq(l->l3_off, 0);
    td_assert_addr(l->src, "2001:db8::1");
    td_assert_addr(l->dst, "2620:fe::9");
    cr_assert_eq(l->sport, 12345);
    cr_assert_eq(l->dport, 53);
    cr_assert_eq(l->ip_len, 77);
    cr_assert_eq(l->l4_len, 29);
    free(f.buf);
}

Test(decode_link, raw_aliases_and_unsupported)
{
    static const uint8_t v4[] = {0x45, 0, 0,  20, 0, 1, 0,  0, 64, 253,
                                 0,    0, 10, 0,  0, 1, 10, 0, 0,  2};
    static const int types[] = {PT_LINK_RAW, PT_LINK_RAW_DLT, PT_LINK_RAW_DLT14, PT_LINK_IPV4};
    struct pt_decode_stats st;
    struct td_frame f;

    pt_decode_stats_init(&st);
    for (unsigned i = 0; i < 4; i++) {
        td_bytes(&f, types[i], v4, sizeof v4, &st);
        cr_assert_eq(f.p.err, PT_DEC_OK, "linktype %d", types[i]);
        cr_assert_eq(f.p.n_l3, 1);
        cr_assert_eq(f.p.l3[0].proto, 253);
        td_assert_addr(f.p.l3[0].dst, "10.0.0.2");
        free(f.buf);
    }
    td_bytes(&f, PT_LINK_IPV6, v4, sizeof v4, &st);
    cr_assert_eq(f.p.err, PT_DEC_IPV6_TRUNC);
    free(f.buf);
    td_bytes(&f, 105 /* 802.11 */, v4, sizeof v4, &st);
    cr_assert_eq(f.p.err, PT_DEC_LINK_UNSUPPORTED);
    cr_assert_eq(f.p.n_l3, 0);
    free(f.buf);
    td_bytes(&f, PT_LINK_RAW, (const uint8_t *)"\x25", 1, &st);
    cr_assert_eq(f.p.err, PT_DEC_RAW_BAD_VER);
    free(f.buf);
    cr_assert_eq(st.err[PT_DEC_LINK_UNSUPPORTED], 1);
    cr_assert_eq(st.frames, 7);
}

Test(decode_link, arp_request_reply)
{
    struct td_frame f;

    /* zeek_arp-who-has: who-has 10.0.0.1 tell 10.0.0.2 (tshark arp.*) */
    td_nth(&f, "pcap/arp/zeek_arp-who-has.pcap", 1, NULL);
    cr_assert_eq(f.p.err, PT_DEC_OK);
    cr_assert_eq(f.p.ethertype, 0x0806);
    cr_assert(f.p.flags & PT_PKT_ARP);
    cr_assert_eq(f.p.n_l3, 0);
    cr_assert_eq(f.p.arp.op, 1);
    cr_assert_arr_eq(f.p.arp.sha, ((uint8_t[]){0x78, 0x31, 0xc1, 0xc6, 0x3f, 0xc2}), 6);
    cr_assert_arr_eq(f.p.arp.spa, ((uint8_t[]){10, 0, 0, 2}), 4);
    cr_assert_arr_eq(f.p.arp.tha, ((uint8_t[]){0, 0, 0, 0, 0, 0}), 6);
    cr_assert_arr_eq(f.p.arp.tpa, ((uint8_t[]){10, 0, 0, 1}), 4);
    cr_assert_arr_eq(f.p.eth_src, ((uint8_t[]){0x78, 0x31, 0xc1, 0xc6, 0x3f, 0xc2}), 6);
    free(f.buf);
    td_nth(&f, "pcap/arp/zeek_arp-who-has.pcap", 2, NULL);
    cr_assert_eq(f.p.arp.op, 2);
    cr_assert_arr_eq(f.p.arp.sha, ((uint8_t[]){0xf8, 0xed, 0xa5, 0xc0, 0xa4, 0xf1}), 6);
    cr_assert_arr_eq(f.p.arp.spa, ((uint8_t[]){10, 0, 0, 1}), 4);
    cr_assert_arr_eq(f.p.arp.tha, ((uint8_t[]){0x78, 0x31, 0xc1, 0xc6, 0x3f, 0xc2}), 6);
    free(f.buf);
}
