/* test_phs.c - protocol hierarchy counts against `tshark -q -z io,phs`
 * (values read off tshark 4.0 and hard-coded), merge, print, names. */
#include <stdio.h>

#include "decode/decode_test.h"

/* Node reached from the root by @path (PT_P_* ids, ended by PT_P_FRAME). */
static const struct pt_phs_node *node_at(const struct pt_phs *phs, const uint8_t *path)
{
    unsigned cur = 0;

    for (; *path != PT_P_FRAME; path++) {
        cur = phs->node[cur].child[*path];
        if (!cur)
            return NULL;
    }
    return &phs->node[cur];
}

#define P(...) ((const uint8_t[]){__VA_ARGS__, PT_P_FRAME})

static void expect(const struct pt_phs *phs, const uint8_t *path, uint64_t frames, uint64_t bytes)
{
    const struct pt_phs_node *n = node_at(phs, path);

    cr_assert_not_null(n, "missing node (leaf %s)", pt_proto_name(path[0]));
    cr_assert_eq(n->frames, frames, "%s frames %lu", pt_proto_name(n->proto),
                 (unsigned long)n->frames);
    cr_assert_eq(n->bytes, bytes, "%s bytes %lu", pt_proto_name(n->proto), (unsigned long)n->bytes);
}

Test(decode_phs, wikipedia_matches_tshark)
{
    static struct pt_decode_stats st;

    pt_decode_stats_init(&st);
    cr_assert_eq(td_all("pcap/mixed/zeek_wikipedia.pcap", &st), 136);
    cr_assert_eq(st.frames, 136);
    cr_assert_eq(st.bytes, 25260);
    expect(&st.phs, P(PT_P_ETH), 136, 25260);
    expect(&st.phs, P(PT_P_ETH, PT_P_IPV4), 121, 24067);
    expect(&st.phs, P(PT_P_ETH, PT_P_IPV4, PT_P_UDP), 43, 4988);
    expect(&st.phs, P(PT_P_ETH, PT_P_IPV4, PT_P_TCP), 78, 19079);
    expect(&st.phs, P(PT_P_ETH, PT_P_IPV6), 5, 593);
    expect(&st.phs, P(PT_P_ETH, PT_P_IPV6, PT_P_UDP), 5, 593);
    expect(&st.phs, P(PT_P_ETH, PT_P_ARP), 6, 360);
}

Test(decode_phs, mixed_vlan_mpls_matches_tshark)
{
    static struct pt_decode_stats st;

    pt_decode_stats_init(&st);
    td_all("pcap/vlan/zeek_mixed-vlan-mpls.pcap", &st);
    expect(&st.phs, P(PT_P_ETH), 47, 16403);
    expect(&st.phs, P(PT_P_ETH, PT_P_MPLS, PT_P_IPV4, PT_P_TCP), 11, 678);
    expect(&st.phs, P(PT_P_ETH, PT_P_IPV4, PT_P_TCP), 22, 10983);
    expect(&st.phs, P(PT_P_ETH, PT_P_VLAN, PT_P_IPV4, PT_P_TCP), 14, 4742);
}

Test(decode_phs, qinq_udp_arp_matches_tshark)
{
    static struct pt_decode_stats st;

    pt_decode_stats_init(&st);
    td_all("pcap/vlan/zeek_q-in-q.pcap", &st);
    expect(&st.phs, P(PT_P_ETH, PT_P_VLAN, PT_P_VLAN), 5, 856);
    expect(&st.phs, P(PT_P_ETH, PT_P_VLAN, PT_P_VLAN, PT_P_IPV4, PT_P_UDP), 4, 788);
    expect(&st.phs, P(PT_P_ETH, PT_P_VLAN, PT_P_VLAN, PT_P_ARP), 1, 68);
}

Test(decode_phs, merge_adds_and_print_indents)
{
    static struct pt_decode_stats a, b, sum;
    char *buf = NULL;
    size_t len = 0;
    FILE *out;

    pt_decode_stats_init(&a);
    pt_decode_stats_init(&b);
    pt_decode_stats_init(&sum);
    td_all("pcap/mixed/zeek_wikipedia.pcap", &a);
    td_all("pcap/vlan/zeek_q-in-q.pcap", &b);
    td_all("pcap/malformed/zeek_ip4-trunc.pcap", &b);
    pt_decode_stats_merge(&sum, &a);
    pt_decode_stats_merge(&sum, &b);
    cr_assert_eq(sum.frames, 136 + 5 + 1);
    cr_assert_eq(sum.bytes, a.bytes + b.bytes);
    cr_assert_eq(sum.err[PT_DEC_IPV4_TRUNC], 1);
    expect(&sum.phs, P(PT_P_ETH), 136 + 5 + 1, a.bytes + b.bytes);
    expect(&sum.phs, P(PT_P_ETH, PT_P_IPV4, PT_P_UDP), 43, 4988);
    expect(&sum.phs, P(PT_P_ETH, PT_P_VLAN, PT_P_VLAN, PT_P_IPV4, PT_P_UDP), 4, 788);

    out = open_memstream(&buf, &len);
    pt_phs_print(out, &b.phs);
    fclose(out);
    cr_assert_not_null(strstr(buf, "\neth "), "%s", buf);
    cr_assert_not_null(strstr(buf, "\n  vlan "), "%s", buf);
    cr_assert_not_null(strstr(buf, "\n        udp "), "%s", buf);
    cr_assert_not_null(strstr(buf, "frames:4 bytes:788"), "%s", buf);
    free(buf);
}

/* A path that does not fit in the trie is counted at the deepest node. */
Test(decode_phs, trie_full_counts_overflow)
{
    static struct pt_decode_stats st;
    uint8_t fr[14 + 4 * 8] = {0};

    pt_decode_stats_init(&st);
    st.phs.n_nodes = PT_PHS_MAX_NODES - 1; /* pretend the trie is nearly full */
    fr[12] = 0x81;
    for (int i = 0; i < 8; i++) {
        fr[14 + 4 * i + 2] = 0x81;
    }
    struct td_frame f;
    td_bytes(&f, PT_LINK_ETHERNET, fr, sizeof fr, &st);
    free(f.buf);
    cr_assert_eq(st.phs.n_nodes, PT_PHS_MAX_NODES);
    cr_assert_eq(st.phs.overflow, 1);
    cr_assert_eq(st.phs.node[0].frames, 1);
}

Test(decode_phs, names_are_stable)
{
    cr_assert_str_eq(pt_decode_err_name(PT_DEC_IPV4_BAD_IHL), "decode.ipv4.bad_ihl");
    cr_assert_str_eq(pt_decode_err_name(PT_DEC_IPV6_EXT_TOO_MANY), "decode.ipv6.ext_too_many");
    cr_assert_str_eq(pt_decode_err_name(PT_DEC_TUNNEL_TOO_DEEP), "decode.tunnel.too_deep");
    cr_assert_str_eq(pt_decode_err_name(PT_DEC_ERR_MAX), "decode.unknown");
    for (unsigned i = 1; i < PT_DEC_ERR_MAX; i++) {
        cr_assert_eq(strncmp(pt_decode_err_name(i), "decode.", 7), 0);
        for (unsigned j = 1; j < i; j++)
            cr_assert_str_neq(pt_decode_err_name(i), pt_decode_err_name(j));
    }
    cr_assert_str_eq(pt_proto_name(PT_P_IPV4), "ipv4");
    cr_assert_str_eq(pt_proto_name(PT_P_MAX), "unknown");
}
