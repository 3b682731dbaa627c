/* test_ip.c - IPv4 (fragments, padding, length beyond capture) and IPv6
 * (extension headers, routing header, fragment header). Values from tshark
 * (ip.*, ipv6.*; tshark prints fragment offsets in 8-byte units, we keep
 * bytes). */
#include "decode/decode_test.h"

Test(decode_ipv6, hop_by_hop_then_routing)
{
    struct td_frame f;

    /* tshark: 2001:4f8:4:7:2e0:81ff:fe52:ffff -> ...:9a6b (routed on to
     * 2001:78:1:32::2), nxt 0 (HBH), UDP 53 -> 53,
     * plen 59, hlim 64 */
    td_nth(&f, "pcap/ipv6/zeek_ipv6-hbh-routing0.pcap", 1, NULL);
    cr_assert_eq(f.p.err, PT_DEC_OK);
    struct pt_l3 *l = &f.p.l3[0];
    cr_assert_eq(l->ver, 6);
    cr_assert_eq(l->proto, 17);
    cr_assert_eq(l->ttl, 64);
    td_assert_addr(l->src, "2001:4f8:4:7:2e0:81ff:fe52:ffff");
    /* type 0 routing header, 1 segment left: dst is the final address */
    td_assert_addr(l->dst, "2001:78:1:32::2");
    cr_assert_eq(l->ip_len, 40 + 59);
    cr_assert_eq(l->sport, 53);
    cr_assert_eq(l->dport, 53);
    cr_assert(l->l4_off > l->l3_off + 40, "extension headers skipped");
    cr_assert_eq(l->l4_len, l->l3_off + l->ip_len - l->l4_off - 8);
    cr_assert_eq(l->flags, PT_L3_L4);
    free(f.buf);
}

Test(decode_ipv6, routing_header_icmpv6_and_udp)
{
    struct td_frame f;
    const char *rel = "pcap/ipv6/tcpdump_ipv6-routing-header.pcap";

    td_nth(&f, rel, 1, NULL);
    cr_assert_eq(f.p.err, PT_DEC_OK);
    cr_assert_eq(f.p.l3[0].proto, 58);
    cr_assert_eq(f.p.l3[0].icmp_type, 128);
    cr_assert_eq(f.p.l3[0].ip_len, 72);
    td_assert_addr(f.p.l3[0].src, "2200::244:212:3fff:feae:22f7");
    /* header dst 2200::240:2:0:0:4; routing header final (tshark udp conv) */
    td_assert_addr(f.p.l3[0].dst, "2200::210:2:0:0:4");
    free(f.buf);
    td_nth(&f, rel, 4, NULL);
    cr_assert_eq(f.p.err, PT_DEC_OK);
    cr_assert_eq(f.p.l3[0].proto, 17);
    cr_assert_eq(f.p.l3[0].sport, 5645);
    cr_assert_eq(f.p.l3[0].dport, 5642);
    cr_assert_eq(f.p.l3[0].ip_len, 40 + 48);
    /* header dst 2200::211:2:0:0:2; two segments, the last is final */
    td_assert_addr(f.p.l3[0].dst, "2200::240:2:0:0:4");
    free(f.buf);
}

Test(decode_ipv6, fragments)
{
    struct td_frame f;
    const char *rel = "pcap/ipv6/zeek_ipv6-fragmented-dns.pcap";

    /* #6: first fragment, id 2, M=1: UDP 53 -> 51851 decoded */
    td_nth(&f, rel, 6, NULL);
    cr_assert_eq(f.p.err, PT_DEC_OK);
    struct pt_l3 *l = &f.p.l3[0];
    cr_assert_eq(l->flags, PT_L3_L4 | PT_L3_FRAG | PT_L3_FRAG_HEAD | PT_L3_MF);
    cr_assert_eq(l->frag_id, 2);
    cr_assert_eq(l->frag_off, 0);
    cr_assert_eq(l->proto, 17);
    cr_assert_eq(l->sport, 53);
    cr_assert_eq(l->dport, 51851);
    cr_assert_eq(l->ip_len, 40 + 1440);
    cr_assert_eq(l->l4_len, 1440 - 8 - 8);
    free(f.buf);

    /* #7: offset 179*8, M=1: no transport */
    td_nth(&f, rel, 7, NULL);
    l = &f.p.l3[0];
    cr_assert_eq(l->flags, PT_L3_FRAG | PT_L3_MF);
    cr_assert_eq(l->frag_off, 1432);
    cr_assert_eq(l->frag_id, 2);
    cr_assert_eq(l->proto, 17);
    cr_assert_eq(l->sport, 0);
    free(f.buf);

    /* #4: last fragment of id 1, offset 362*8 */
    td_nth(&f, rel, 4, NULL);
    l = &f.p.l3[0];
    cr_assert_eq(l->flags, PT_L3_FRAG);
    cr_assert_eq(l->frag_off, 2896);
    cr_assert_eq(l->frag_id, 1);
    cr_assert_eq(l->ip_len, 40 + 350);
    free(f.buf);
}

Test(decode_ipv4, fragments_tcp)
{
    struct td_frame f;
    const char *rel = "pcap/reassembly/zeek_fragmented-4.pcap";
    static const struct {
        int n;
        uint16_t flags, off, len;
    } want[] = {
        {2, PT_L3_L4 | PT_L3_FRAG | PT_L3_FRAG_HEAD | PT_L3_MF, 0, 44},
        {3, PT_L3_FRAG | PT_L3_MF, 48, 44},
        {4, PT_L3_FRAG, 72, 37},
        {5, PT_L3_FRAG | PT_L3_MF, 24, 68},
        {6, PT_L3_L4, 0, 40},
    };

    for (unsigned i = 0; i < PT_ARRAY_LEN(want); i++) {
        td_nth(&f, rel, want[i].n, NULL);
        cr_assert_eq(f.p.err, PT_DEC_OK);
        struct pt_l3 *l = &f.p.l3[0];
        cr_assert_eq(l->flags, want[i].flags, "#%d flags %x", want[i].n, l->flags);
        cr_assert_eq(l->frag_off, want[i].off, "#%d", want[i].n);
        cr_assert_eq(l->ip_len, want[i].len, "#%d", want[i].n);
        td_assert_addr(l->src, "128.32.46.142");
        td_assert_addr(l->dst, "10.0.0.1");
        if (l->flags & PT_L3_L4) {
            cr_assert_eq(l->sport, 7790);
            cr_assert_eq(l->dport, 80);
        }
        free(f.buf);
    }
}

Test(decode_ipv4, fragments_udp_id)
{
    struct td_frame f;

    td_nth(&f, "pcap/reassembly/zeek_fragmented-1.pcap", 1, NULL);
    cr_assert_eq(f.p.l3[0].frag_id, 0xf2);
    cr_assert_eq(f.p.l3[0].flags, PT_L3_L4 | PT_L3_FRAG | PT_L3_FRAG_HEAD | PT_L3_MF);
    cr_assert_eq(f.p.l3[0].sport, 123);
    cr_assert_eq(f.p.l3[0].dport, 137);
    cr_assert_eq(f.p.l3[0].l4_len, 38 - 28);
    free(f.buf);
    td_nth(&f, "pcap/reassembly/zeek_fragmented-1.pcap", 2, NULL);
    cr_assert_eq(f.p.l3[0].frag_id, 0xf2);
    cr_assert_eq(f.p.l3[0].flags, PT_L3_FRAG);
    cr_assert_eq(f.p.l3[0].frag_off, 48);
    cr_assert_eq(f.p.l3[0].l4_len, 136 - 20);
    free(f.buf);
}

/* Ethernet pads to 60 bytes: the IP length wins, the padding is never payload. */
Test(decode_ipv4, ethernet_padding_ignored)
{
    uint8_t fr[60] = {0,    1,    2,    3,  4, 5,  6,   7,   8,           9,    10,   11,
                      0x08, 0x00, 0x45, 0,  0, 30, 0,   7,   0,           0,    64,   17,
                      0,    0,    10,   0,  0, 1,  10,  0,   0,           2,    0x04, 0x00,
                      0x00, 0x35, 0x00, 10, 0, 0,  'h', 'i', [44] = 0xee, 0xee, 0xee, 0xee};
    struct td_frame f;

    td_bytes(&f, PT_LINK_ETHERNET, fr, sizeof fr, &(struct pt_decode_stats){0});
    cr_assert_eq(f.p.err, PT_DEC_OK);
    struct pt_l3 *l = &f.p.l3[0];
    cr_assert_eq(l->ip_len, 30);
    cr_assert_eq(l->flags, PT_L3_L4);
    cr_assert_eq(l->sport, 1024);
    cr_assert_eq(l->l4_len, 2);
    cr_assert_eq(l->payload_caplen, 2);
    cr_assert_eq(memcmp(l->payload, "hi", 2), 0);
    free(f.buf);
}

/* IP length beyond the capture: flagged, counted, decoded anyway; l4_len
 * follows the IP (and UDP) length, payload_caplen what is there. */
Test(decode_ipv4, length_beyond_capture)
{
    struct pt_decode_stats st;
    struct td_frame f;

    pt_decode_stats_init(&st);
    td_nth(&f, "pcap/malformed/tcpdump_ipv4_invalid_total_length.pcap", 1, &st);
    cr_assert_eq(f.p.err, PT_DEC_IPV4_LEN_TRUNC);
    cr_assert_eq(st.err[PT_DEC_IPV4_LEN_TRUNC], 1);
    struct pt_l3 *l = &f.p.l3[0];
    cr_assert_eq(l->flags, PT_L3_L4 | PT_L3_TRUNC);
    cr_assert_eq(l->ip_len, 85);
    td_assert_addr(l->src, "140.211.9.206");
    cr_assert_eq(l->sport, 39095);
    cr_assert_eq(l->dport, 53);
    cr_assert_eq(l->l4_len, 56); /* UDP length 64 < IP payload 65 */
    cr_assert_eq(l->payload_caplen, f.p.caplen - 14 - 28);
    free(f.buf);
}

Test(decode_ipv4, options_and_bad_option)
{
    uint8_t fr[14 + 24 + 8] = {
        0,    1,    2,    3,    4,    5, 6, 7, 8,    9,    10,   11,   0x08,
        0x00, 0x46, 0,    0,    32,   0, 7, 0, 0,    64,   17,   0,    0,
        10,   0,    0,    1,    10,   0, 0, 2, 0x94, 0x04, 0x00, 0x00, /* router alert */
        0x00, 0x07, 0x00, 0x08, 0x00, 8, 0, 0};
    struct td_frame f;

    td_bytes(&f, PT_LINK_ETHERNET, fr, sizeof fr, &(struct pt_decode_stats){0});
    cr_assert_eq(f.p.err, PT_DEC_OK);
    cr_assert_eq(f.p.l3[0].l4_off, 14 + 24);
    cr_assert_eq(f.p.l3[0].dport, 8);
    free(f.buf);
    fr[35] = 0x09; /* option length beyond the header */
    td_bytes(&f, PT_LINK_ETHERNET, fr, sizeof fr, &(struct pt_decode_stats){0});
    cr_assert_eq(f.p.err, PT_DEC_IPV4_OPT_BAD);
    cr_assert_eq(f.p.l3[0].dport, 8, "decoding goes on after a bad option");
    free(f.buf);
}

/* A later IPv6 fragment whose data happens to look like a type 0 routing
 * header: the data must not be read as headers (no address rewrite, no
 * extension error), and the frame counts as a fragment. */
Test(decode_ipv6, later_fragment_data_is_not_headers)
{
    static const uint8_t frame[] = {
        0,    1,    2,    3,    4,    5,    6,    7,    8, 9, 10, 11, 0x86, 0xdd,
        0x60, 0,    0,    0,    0,    40,   44,   64, /* payload 40 (8 frag + 32 data), next:
                                                         fragment */
        0x20, 0x01, 0x0d, 0xb8, 0,    0,    0,    0,    0, 0, 0,  0,  0,    0,
        0,    1,    0x20, 0x01, 0x0d, 0xb8, 0,    0,    0, 0, 0,  0,  0,    0,
        0,    0,    0,    2,    43,   0,    0x00, 0xa0, 0, 0, 0,  7, /* fragment: next routing,
                                                                        offset 160, last */
        17,   2,    0,    1,    0,    0,    0,    0, /* data shaped like routing type 0, one segment
                                                        left */
        0x20, 0x01, 0x0d, 0xb8, 0,    0,    0,    0,    0, 0, 0,  0,  0xde, 0xad,
        0xbe, 0xef, 0,    0,    0,    0,    0,    0,    0, 0,
    };
    struct td_frame f;
    struct pt_decode_stats st;

    pt_decode_stats_init(&st);
    td_bytes(&f, PT_LINK_ETHERNET, frame, sizeof frame, &st);
    cr_assert_eq(f.p.err, PT_DEC_OK, "err %s", pt_decode_err_name(f.p.err));
    cr_assert_eq(f.p.n_l3, 1);
    td_assert_addr(f.p.l3[0].dst, "2001:db8::2");
    cr_assert_eq(f.p.l3[0].proto, 43, "the fragment header's next header");
    cr_assert_eq(f.p.l3[0].frag_off, 160);
    cr_assert_eq(f.p.l3[0].frag_id, 7);
    cr_assert_eq(f.p.l3[0].flags & (PT_L3_FRAG | PT_L3_FRAG_HEAD | PT_L3_L4), PT_L3_FRAG);
    cr_assert_eq(f.p.l3[0].payload_caplen, 32);
    free(f.buf);
}
