/* test_tunnel.c - GRE, ERSPAN II/III, VXLAN and IP-in-IP on synthetic
 * frames: both layers, their encap, addresses, ports and VLANs. */
#include "decode/decode_test.h"
#include "decode/tunnel_frames.h"

static void decode_tf(struct td_frame *f, struct tf *t)
{
    tf_done(t);
    td_bytes(f, PT_LINK_ETHERNET, t->b, t->len, &(struct pt_decode_stats){0});
}

/* inner layer of the standard frames: 10.9.0.1:1234 -> 10.9.0.2:80 TCP */
static void assert_inner_tcp(const struct pt_l3 *l, uint8_t encap)
{
    cr_assert_eq(l->encap, encap);
    cr_assert_eq(l->ver, 4);
    td_assert_addr(l->src, "10.9.0.1");
    td_assert_addr(l->dst, "10.9.0.2");
    cr_assert_eq(l->proto, 6);
    cr_assert_eq(l->flags, PT_L3_L4);
    cr_assert_eq(l->sport, 1234);
    cr_assert_eq(l->dport, 80);
    cr_assert_eq(l->tcp_flags, 0x02);
}

Test(decode_tunnel, gre_ipv4)
{
    struct tf t = {0};
    struct td_frame f;
    uint8_t gre[4] = {0x00, 0x00, 0x08, 0x00};

    tf_eth(&t, 0x0800);
    tf_ipv4(&t, 47, 1, 1, 2);
    tf_put(&t, gre, 4);
    tf_ipv4(&t, 6, 9, 1, 2);
    tf_tcp(&t, 1234, 80);
    decode_tf(&f, &t);
    cr_assert_eq(f.p.err, PT_DEC_OK);
    cr_assert_eq(f.p.n_l3, 2);
    cr_assert_eq(f.p.l3[0].encap, PT_ENCAP_NONE);
    cr_assert_eq(f.p.l3[0].proto, 47);
    td_assert_addr(f.p.l3[0].src, "10.1.0.1");
    cr_assert_eq(f.p.l3[0].flags & PT_L3_L4, 0);
    assert_inner_tcp(&f.p.l3[1], PT_ENCAP_GRE);
    cr_assert_eq(f.p.l3[1].l3_off, 14 + 20 + 4);
    free(f.buf);
}

Test(decode_tunnel, gre_checksum_key_seq_ipv6)
{
    struct tf t = {0};
    struct td_frame f;
    uint8_t gre[16] = {0xb0, 0x00, 0x86, 0xdd, 0, 0, 0, 0, 0, 0, 0, 42, 0, 0, 0, 7};

    tf_eth(&t, 0x0800);
    tf_ipv4(&t, 47, 1, 1, 2);
    tf_put(&t, gre, 16);
    tf_ipv6(&t, 17, 5, 1, 2);
    tf_udp(&t, 5353, 53);
    decode_tf(&f, &t);
    cr_assert_eq(f.p.err, PT_DEC_OK);
    cr_assert_eq(f.p.n_l3, 2);
    struct pt_l3 *l = &f.p.l3[1];
    cr_assert_eq(l->encap, PT_ENCAP_GRE);
    cr_assert_eq(l->ver, 6);
    cr_assert_eq(l->l3_off, 14 + 20 + 16);
    td_assert_addr(l->src, "fd00::5:1");
    td_assert_addr(l->dst, "fd00::5:2");
    cr_assert_eq(l->sport, 5353);
    cr_assert_eq(l->dport, 53);
    free(f.buf);

    gre[1] = 0x01; /* version 1 (PPTP) */
    tf_done(&t);
    memcpy(t.b + 34, gre, 2);
    td_bytes(&f, PT_LINK_ETHERNET, t.b, t.len, &(struct pt_decode_stats){0});
    cr_assert_eq(f.p.err, PT_DEC_GRE_VERSION);
    cr_assert_eq(f.p.n_l3, 1);
    free(f.buf);
}

Test(decode_tunnel, erspan_type2)
{
    struct tf t = {0};
    struct td_frame f;
    uint8_t gre[8] = {0x10, 0x00, 0x88, 0xbe, 0, 0, 0, 1};
    uint8_t ers[8] = {0x10, 0x64, 0x00, 0x01, 0, 0, 0, 0};

    tf_eth(&t, 0x8100);
    tf_vlan(&t, 5, 0x0800);
    tf_ipv4(&t, 47, 1, 1, 2);
    tf_put(&t, gre, 8);
    tf_put(&t, ers, 8);
    tf_eth(&t, 0x8100);
    tf_vlan(&t, 100, 0x0800);
    tf_ipv4(&t, 6, 9, 1, 2);
    tf_tcp(&t, 1234, 80);
    decode_tf(&f, &t);
    cr_assert_eq(f.p.err, PT_DEC_OK);
    cr_assert_eq(f.p.n_l3, 2);
    cr_assert_eq(f.p.l3[0].n_vlan, 1);
    cr_assert_eq(f.p.l3[0].vlan[0], 5);
    assert_inner_tcp(&f.p.l3[1], PT_ENCAP_ERSPAN);
    cr_assert_eq(f.p.l3[1].n_vlan, 1);
    cr_assert_eq(f.p.l3[1].vlan[0], 100);
    cr_assert_eq(f.p.vlan, 5, "frame VLAN: the outer tag, not the tunnelled one");
    cr_assert_eq(f.p.l3[1].l3_off, 18 + 20 + 8 + 8 + 18);
    free(f.buf);
}

static void erspan3(bool platform)
{
    struct tf t = {0};
    struct td_frame f;
    uint8_t gre[8] = {0x10, 0x00, 0x22, 0xeb, 0, 0, 0, 1};
    uint8_t ers[12] = {0x20, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0, platform ? 0x01 : 0x00};
    uint8_t plat[8] = {0x08, 0, 0, 0, 0, 0, 0, 0};

    tf_eth(&t, 0x86dd);
    tf_ipv6(&t, 47, 1, 1, 2);
    tf_put(&t, gre, 8);
    tf_put(&t, ers, 12);
    if (platform)
        tf_put(&t, plat, 8);
    tf_eth(&t, 0x0800);
    tf_ipv4(&t, 6, 9, 1, 2);
    tf_tcp(&t, 1234, 80);
    decode_tf(&f, &t);
    cr_assert_eq(f.p.err, PT_DEC_OK, "%s", pt_decode_err_name(f.p.err));
    cr_assert_eq(f.p.n_l3, 2);
    cr_assert_eq(f.p.l3[0].ver, 6);
    assert_inner_tcp(&f.p.l3[1], PT_ENCAP_ERSPAN);
    cr_assert_eq(f.p.l3[1].n_vlan, 0);
    cr_assert_eq(f.p.l3[1].l3_off, 14 + 40 + 8 + 12 + (platform ? 8 : 0) + 14);
    free(f.buf);
}

Test(decode_tunnel, erspan_type3_without_platform_subheader)
{
    erspan3(false);
}

Test(decode_tunnel, erspan_type3_with_platform_subheader)
{
    erspan3(true);
}

Test(decode_tunnel, vxlan_inner_vlan)
{
    struct tf t = {0};
    struct td_frame f;
    uint8_t vx[8] = {0x08, 0, 0, 0, 0x00, 0x12, 0x34, 0x00};

    tf_eth(&t, 0x8100);
    tf_vlan(&t, 10, 0x0800);
    tf_ipv4(&t, 17, 1, 1, 2);
    tf_udp(&t, 40000, 4789);
    tf_put(&t, vx, 8);
    tf_eth(&t, 0x8100);
    tf_vlan(&t, 200, 0x0800);
    tf_ipv4(&t, 6, 9, 1, 2);
    tf_tcp(&t, 1234, 80);
    decode_tf(&f, &t);
    cr_assert_eq(f.p.err, PT_DEC_OK);
    cr_assert_eq(f.p.n_l3, 2);
    struct pt_l3 *o = &f.p.l3[0];
    cr_assert_eq(o->encap, PT_ENCAP_NONE);
    cr_assert_eq(o->proto, 17);
    cr_assert_eq(o->sport, 40000);
    cr_assert_eq(o->dport, 4789);
    cr_assert_eq(o->n_vlan, 1);
    cr_assert_eq(o->vlan[0], 10);
    assert_inner_tcp(&f.p.l3[1], PT_ENCAP_VXLAN);
    cr_assert_eq(f.p.l3[1].n_vlan, 1);
    cr_assert_eq(f.p.l3[1].vlan[0], 200);
    cr_assert_eq(f.p.ethertype, 0x0800);
    free(f.buf);

    td_bytes(&f, PT_LINK_ETHERNET, t.b, 18 + 20 + 8 + 4, &(struct pt_decode_stats){0});
    cr_assert_eq(f.p.err, PT_DEC_IPV4_LEN_TRUNC);
    cr_assert_eq(f.p.n_l3, 1);
    cr_assert(f.p.l3[0].flags & PT_L3_TRUNC);
    free(f.buf);
    struct pt_decode_stats st;
    pt_decode_stats_init(&st);
    td_bytes(&f, PT_LINK_ETHERNET, t.b, 18 + 20 + 8 + 4, &st);
    cr_assert_eq(st.err[PT_DEC_VXLAN_TRUNC], 1);
    cr_assert_eq(st.err[PT_DEC_IPV4_LEN_TRUNC], 1);
    free(f.buf);
}

/* 4in4, 6in4, 4in6, 6in6 */
Test(decode_tunnel, ip_in_ip_all_four)
{
    for (int outer = 4; outer <= 6; outer += 2) {
        for (int inner = 4; inner <= 6; inner += 2) {
            struct tf t = {0};
            struct td_frame f;
            uint8_t nh = inner == 4 ? 4 : 41;

            tf_eth(&t, outer == 4 ? 0x0800 : 0x86dd);
            if (outer == 4)
                tf_ipv4(&t, nh, 1, 1, 2);
            else
                tf_ipv6(&t, nh, 1, 1, 2);
            if (inner == 4)
                tf_ipv4(&t, 17, 2, 3, 4);
            else
                tf_ipv6(&t, 17, 2, 3, 4);
            tf_udp(&t, 1111, 2222);
            decode_tf(&f, &t);
            cr_assert_eq(f.p.err, PT_DEC_OK, "%din%d", inner, outer);
            cr_assert_eq(f.p.n_l3, 2, "%din%d", inner, outer);
            cr_assert_eq(f.p.l3[0].ver, outer);
            cr_assert_eq(f.p.l3[0].proto, nh);
            cr_assert_eq(f.p.l3[0].encap, PT_ENCAP_NONE);
            cr_assert_eq(f.p.l3[1].ver, inner);
            cr_assert_eq(f.p.l3[1].encap, PT_ENCAP_IPIP);
            if (inner == 4)
                td_assert_addr(f.p.l3[1].src, "10.2.0.3");
            else
                td_assert_addr(f.p.l3[1].dst, "fd00::2:4");
            cr_assert_eq(f.p.l3[1].sport, 1111);
            cr_assert_eq(f.p.l3[1].dport, 2222);
            cr_assert_eq(f.p.l3[1].l4_len, 0);
            free(f.buf);
        }
    }
}

Test(decode_tunnel, nesting_beyond_max_layers)
{
    struct tf t = {0};
    struct td_frame f;
    struct pt_decode_stats st;

    tf_eth(&t, 0x0800);
    for (int i = 0; i < PT_MAX_LAYERS + 2; i++)
        tf_ipv4(&t, 4, (uint8_t)i, 1, 2);
    decode_tf(&f, &t);
    cr_assert_eq(f.p.err, PT_DEC_TUNNEL_TOO_DEEP);
    cr_assert_eq(f.p.n_l3, PT_MAX_LAYERS);
    free(f.buf);
    pt_decode_stats_init(&st);
    td_bytes(&f, PT_LINK_ETHERNET, t.b, t.len, &st);
    cr_assert_eq(st.err[PT_DEC_TUNNEL_TOO_DEEP], 1);
    free(f.buf);
}
