/* errors.c - stable dotted names of decode errors and protocol ids.
 *
 * DESIGN: the names, not the enum numbers, are the API (counters, metrics,
 * logs). Tables are indexed by the enum with designated initialisers so a
 * reordering of the enum cannot misname a counter; a static assertion keeps
 * the per-frame "already counted" bitmask (one uint64_t) wide enough. */
#include "pt/decode.h"

_Static_assert(PT_DEC_ERR_MAX <= 64, "pt_dec.seen is a 64-bit mask");

static const char *const err_names[PT_DEC_ERR_MAX] = {
    [PT_DEC_OK] = "decode.ok",
    [PT_DEC_LINK_UNSUPPORTED] = "decode.link.unsupported",
    [PT_DEC_ETH_TRUNC] = "decode.eth.truncated",
    [PT_DEC_SLL_TRUNC] = "decode.sll.truncated",
    [PT_DEC_NULL_TRUNC] = "decode.null.truncated",
    [PT_DEC_NULL_FAMILY] = "decode.null.unknown_family",
    [PT_DEC_RAW_TRUNC] = "decode.raw.truncated",
    [PT_DEC_RAW_BAD_VER] = "decode.raw.unknown_version",
    [PT_DEC_VLAN_TRUNC] = "decode.vlan.truncated",
    [PT_DEC_VLAN_TOO_DEEP] = "decode.vlan.too_deep",
    [PT_DEC_MPLS_TRUNC] = "decode.mpls.truncated",
    [PT_DEC_MPLS_TOO_DEEP] = "decode.mpls.too_deep",
    [PT_DEC_MPLS_UNKNOWN] = "decode.mpls.unknown_payload",
    [PT_DEC_PPPOE_TRUNC] = "decode.pppoe.truncated",
    [PT_DEC_PPPOE_BAD] = "decode.pppoe.bad_header",
    [PT_DEC_ARP_TRUNC] = "decode.arp.truncated",
    [PT_DEC_ARP_BAD] = "decode.arp.bad_lengths",
    [PT_DEC_IPV4_TRUNC] = "decode.ipv4.truncated",
    [PT_DEC_IPV4_BAD_VER] = "decode.ipv4.bad_version",
    [PT_DEC_IPV4_BAD_IHL] = "decode.ipv4.bad_ihl",
    [PT_DEC_IPV4_BAD_LEN] = "decode.ipv4.bad_total_length",
    [PT_DEC_IPV4_LEN_TRUNC] = "decode.ipv4.length_beyond_capture",
    [PT_DEC_IPV4_OPT_BAD] = "decode.ipv4.bad_option",
    [PT_DEC_IPV6_TRUNC] = "decode.ipv6.truncated",
    [PT_DEC_IPV6_BAD_VER] = "decode.ipv6.bad_version",
    [PT_DEC_IPV6_LEN_TRUNC] = "decode.ipv6.length_beyond_capture",
    [PT_DEC_IPV6_EXT_TRUNC] = "decode.ipv6.ext_truncated",
    [PT_DEC_IPV6_EXT_TOO_MANY] = "decode.ipv6.ext_too_many",
    [PT_DEC_TCP_TRUNC] = "decode.tcp.truncated",
    [PT_DEC_TCP_BAD_OFF] = "decode.tcp.bad_data_offset",
    [PT_DEC_TCP_OPT_BAD] = "decode.tcp.bad_option",
    [PT_DEC_UDP_TRUNC] = "decode.udp.truncated",
    [PT_DEC_UDP_BAD_LEN] = "decode.udp.bad_length",
    [PT_DEC_ICMP_TRUNC] = "decode.icmp.truncated",
    [PT_DEC_ICMP_QUOTE_TRUNC] = "decode.icmp.quote_truncated",
    [PT_DEC_ICMPV6_TRUNC] = "decode.icmpv6.truncated",
    [PT_DEC_GRE_TRUNC] = "decode.gre.truncated",
    [PT_DEC_GRE_VERSION] = "decode.gre.unsupported_version",
    [PT_DEC_GRE_ROUTING] = "decode.gre.unsupported_routing",
    [PT_DEC_ERSPAN_TRUNC] = "decode.erspan.truncated",
    [PT_DEC_ERSPAN_BAD_VER] = "decode.erspan.bad_version",
    [PT_DEC_VXLAN_TRUNC] = "decode.vxlan.truncated",
    [PT_DEC_TUNNEL_TOO_DEEP] = "decode.tunnel.too_deep",
};

const char *pt_decode_err_name(unsigned err)
{
    if (err < PT_DEC_ERR_MAX && err_names[err])
        return err_names[err];
    return "decode.unknown";
}

static const char *const proto_names[PT_P_MAX] = {
    [PT_P_FRAME] = "frame",   [PT_P_ETH] = "eth",       [PT_P_SLL] = "sll",
    [PT_P_SLL2] = "sll2",     [PT_P_NULL] = "null",     [PT_P_RAW] = "raw",
    [PT_P_VLAN] = "vlan",     [PT_P_MPLS] = "mpls",     [PT_P_PPPOE] = "pppoe",
    [PT_P_PPP] = "ppp",       [PT_P_ARP] = "arp",       [PT_P_IPV4] = "ipv4",
    [PT_P_IPV6] = "ipv6",     [PT_P_TCP] = "tcp",       [PT_P_UDP] = "udp",
    [PT_P_ICMP] = "icmp",     [PT_P_ICMPV6] = "icmpv6", [PT_P_GRE] = "gre",
    [PT_P_ERSPAN] = "erspan", [PT_P_VXLAN] = "vxlan",   [PT_P_IPFRAG] = "ipfrag",
    [PT_P_DATA] = "data",
};

const char *pt_proto_name(unsigned id)
{
    if (id < PT_P_MAX && proto_names[id])
        return proto_names[id];
    return "unknown";
}
