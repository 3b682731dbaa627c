/* decode.h - zero-copy, bounds-checked packet decoders.
 *
 * pt_decode() walks one captured frame from its link-layer header down to
 * the innermost transport header and fills a struct pt_pkt with what the
 * flow table and the application parsers need. It never copies payload and
 * never reads past p->caplen: every header is pulled through a cursor that
 * fails when the bytes are not there, and each failure is counted under a
 * stable dotted name (pt_decode_err_name()).
 *
 * Layers. A frame can carry several IP layers: an outer connection and, after
 * a tunnel (GRE, ERSPAN II/III, VXLAN, IP-in-IP), an inner one. Each IP layer
 * is one entry of p->l3[], outermost first; each is a flow of its own, and
 * the inner one names the outer one as its tunnel parent. The header quoted
 * inside an ICMP/ICMPv6 error is decoded into p->quote, never into p->l3[],
 * so it never creates or counts toward a flow.
 *
 * Thread: any; pt_decode() touches only @p and @st. No allocation, no
 * syscall, no logging: errors become counters in @st. */
#ifndef PT_DECODE_H
#define PT_DECODE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "pt/common.h"

#define PT_MAX_VLAN   3 /* VLAN tags kept per layer (outer first); deeper ones counted */
#define PT_MAX_LAYERS 4 /* IP layers kept per frame: outer + nested tunnels */
#define PT_VLAN_NONE  0xffff

/* Link-layer types accepted by pt_decode(): LINKTYPE_* values as stored in
 * pcap/pcapng files, plus the DLT_* aliases libpcap hands out for them. */
enum {
    PT_LINK_NULL = 0, /* BSD loopback, host-order 4-byte family */
    PT_LINK_ETHERNET = 1,
    PT_LINK_RAW_DLT = 12,   /* DLT_RAW on Linux */
    PT_LINK_RAW_DLT14 = 14, /* DLT_RAW on some BSDs */
    PT_LINK_RAW = 101,      /* LINKTYPE_RAW */
    PT_LINK_LOOP = 108,     /* OpenBSD loopback, network-order family */
    PT_LINK_SLL = 113,      /* Linux cooked v1 */
    PT_LINK_IPV4 = 228,
    PT_LINK_IPV6 = 229,
    PT_LINK_SLL2 = 276, /* Linux cooked v2 */
};

/* How an IP layer was reached (struct pt_l3.encap). */
enum pt_encap {
    PT_ENCAP_NONE = 0, /* outermost IP layer */
    PT_ENCAP_GRE,
    PT_ENCAP_ERSPAN, /* GRE carrying ERSPAN type II or III */
    PT_ENCAP_VXLAN,
    PT_ENCAP_IPIP, /* 4in4, 6in4, 4in6, 6in6 */
};

/* struct pt_l3.flags */
#define PT_L3_L4        0x0001 /* transport header decoded: ports/type/flags valid */
#define PT_L3_FRAG      0x0002 /* this packet is a fragment (v4 MF/offset, v6 frag hdr) */
#define PT_L3_FRAG_HEAD 0x0004 /* ... and it is the first one (offset 0) */
#define PT_L3_MF        0x0008 /* more fragments follow */
#define PT_L3_TRUNC     0x0010 /* IP length claims more bytes than were captured */
#define PT_L3_ICMP_ERR  0x0020 /* ICMP/ICMPv6 error message; p->quote holds the quoted header */
#define PT_L3_TCP_OPTS  0x0040 /* TCP options parsed into .tcp_opt */

struct pt_tcp_opt {
    uint16_t mss;   /* 0 when absent */
    uint8_t wscale; /* valid when has_wscale */
    bool has_wscale;
    bool sack_ok;
    bool has_ts;
    uint32_t tsval, tsecr;
};

/* One IP layer and its transport header. Addresses are 16 bytes; IPv4 is
 * stored as an IPv4-mapped IPv6 address (::ffff:a.b.c.d) so keys and
 * comparisons are uniform. */
struct pt_l3 {
    uint8_t src[16], dst[16];
    uint8_t ver;    /* 4 or 6 */
    uint8_t proto;  /* transport protocol after IPv6 extension headers */
    uint8_t ttl;    /* TTL / hop limit */
    uint8_t tos;    /* TOS / traffic class: DSCP << 2 | ECN */
    uint8_t encap;  /* enum pt_encap */
    uint8_t n_vlan; /* VLAN ids in force at this layer, outer first */
    uint16_t vlan[PT_MAX_VLAN];
    uint16_t flags;    /* PT_L3_* */
    uint16_t frag_off; /* fragment offset in bytes */
    uint32_t frag_id;  /* IPv4 id or IPv6 fragment identification */
    uint32_t ip_len;   /* length the IP header claims: v4 total length, v6 40 + payload length */
    uint32_t l3_off;   /* offset of the IP header in the frame */
    uint32_t l4_off;   /* offset of the transport header in the frame */

    /* Transport; valid when flags & PT_L3_L4. */
    uint16_t sport, dport; /* TCP/UDP ports; 0 for ICMP */
    uint8_t icmp_type, icmp_code;
    uint16_t icmp_id;  /* echo/info id, 0 when the type has none */
    uint8_t tcp_flags; /* FIN 0x01 SYN 0x02 RST 0x04 PSH 0x08 ACK 0x10 URG 0x20 ECE 0x40 CWR 0x80 */
    uint16_t tcp_win;  /* raw window field (unscaled) */
    uint32_t tcp_seq, tcp_ack;
    struct pt_tcp_opt tcp_opt;
    uint32_t l4_len;         /* transport payload length per the IP length (what Zeek counts) */
    const uint8_t *payload;  /* first payload byte in the frame (borrowed) */
    uint32_t payload_caplen; /* payload bytes actually captured (<= l4_len) */
};

/* Header quoted inside an ICMP error (valid when .valid). */
struct pt_quote {
    bool valid;
    uint8_t ver, proto;
    uint8_t src[16], dst[16];
    uint16_t sport, dport; /* 0 when the quote is too short for them */
};

struct pt_arp {
    uint16_t op;
    uint8_t sha[6], tha[6];
    uint8_t spa[4], tpa[4];
};

/* struct pt_pkt.flags */
#define PT_PKT_ETH 0x01 /* eth_src/eth_dst valid (outermost Ethernet or SLL source) */
#define PT_PKT_ARP 0x02 /* .arp valid */

struct pt_pkt {
    /* Input: set by the caller before pt_decode(). */
    const uint8_t *data; /* borrowed: a ring block or a reader buffer */
    uint32_t caplen;     /* bytes present at data */
    uint32_t wirelen;    /* bytes on the wire */
    uint64_t ts_ns;      /* capture time, ns since the epoch */
    int linktype;        /* PT_LINK_* */
    uint16_t iface;      /* index into the run's interface table */
    uint16_t hw_vlan;    /* VLAN TCI the kernel stripped (tp_vlan_tci), PT_VLAN_NONE if none */
    uint32_t hw_tag;     /* that tag whole, tpid << 16 | TCI, 0 if none: the pcap ring
                          * writes it back into the frame (wirelen already counts it) */

    /* Output. */
    uint8_t flags;      /* PT_PKT_* */
    uint8_t n_l3;       /* entries used in l3[] */
    uint16_t err;       /* first decode error (enum pt_decode_err), 0 when clean */
    uint16_t ethertype; /* last ethertype seen (innermost), 0 if none */
    uint16_t vlan;      /* the frame's outermost VLAN id (hw_vlan or the first in-band tag
                         * before any IP layer), PT_VLAN_NONE when untagged */
    uint8_t eth_src[6], eth_dst[6];
    struct pt_l3 l3[PT_MAX_LAYERS];
    struct pt_quote quote;
    struct pt_arp arp;
};

/* Decode errors. Stable names: pt_decode_err_name(). Add new reasons at the
 * end of their protocol's group; the names, not the numbers, are the API. */
enum pt_decode_err {
    PT_DEC_OK = 0,
    PT_DEC_LINK_UNSUPPORTED,  /* decode.link.unsupported */
    PT_DEC_ETH_TRUNC,         /* decode.eth.truncated */
    PT_DEC_SLL_TRUNC,         /* decode.sll.truncated */
    PT_DEC_NULL_TRUNC,        /* decode.null.truncated */
    PT_DEC_NULL_FAMILY,       /* decode.null.unknown_family */
    PT_DEC_RAW_TRUNC,         /* decode.raw.truncated (raw IP link, empty frame) */
    PT_DEC_RAW_BAD_VER,       /* decode.raw.unknown_version (first nibble not 4 or 6) */
    PT_DEC_VLAN_TRUNC,        /* decode.vlan.truncated */
    PT_DEC_VLAN_TOO_DEEP,     /* decode.vlan.too_deep */
    PT_DEC_MPLS_TRUNC,        /* decode.mpls.truncated */
    PT_DEC_MPLS_TOO_DEEP,     /* decode.mpls.too_deep */
    PT_DEC_MPLS_UNKNOWN,      /* decode.mpls.unknown_payload */
    PT_DEC_PPPOE_TRUNC,       /* decode.pppoe.truncated */
    PT_DEC_PPPOE_BAD,         /* decode.pppoe.bad_header */
    PT_DEC_ARP_TRUNC,         /* decode.arp.truncated */
    PT_DEC_ARP_BAD,           /* decode.arp.bad_lengths */
    PT_DEC_IPV4_TRUNC,        /* decode.ipv4.truncated */
    PT_DEC_IPV4_BAD_VER,      /* decode.ipv4.bad_version */
    PT_DEC_IPV4_BAD_IHL,      /* decode.ipv4.bad_ihl */
    PT_DEC_IPV4_BAD_LEN,      /* decode.ipv4.bad_total_length */
    PT_DEC_IPV4_LEN_TRUNC,    /* decode.ipv4.length_beyond_capture */
    PT_DEC_IPV4_OPT_BAD,      /* decode.ipv4.bad_option */
    PT_DEC_IPV6_TRUNC,        /* decode.ipv6.truncated */
    PT_DEC_IPV6_BAD_VER,      /* decode.ipv6.bad_version */
    PT_DEC_IPV6_LEN_TRUNC,    /* decode.ipv6.length_beyond_capture */
    PT_DEC_IPV6_EXT_TRUNC,    /* decode.ipv6.ext_truncated */
    PT_DEC_IPV6_EXT_TOO_MANY, /* decode.ipv6.ext_too_many */
    PT_DEC_TCP_TRUNC,         /* decode.tcp.truncated */
    PT_DEC_TCP_BAD_OFF,       /* decode.tcp.bad_data_offset */
    PT_DEC_TCP_OPT_BAD,       /* decode.tcp.bad_option */
    PT_DEC_UDP_TRUNC,         /* decode.udp.truncated */
    PT_DEC_UDP_BAD_LEN,       /* decode.udp.bad_length */
    PT_DEC_ICMP_TRUNC,        /* decode.icmp.truncated */
    PT_DEC_ICMP_QUOTE_TRUNC,  /* decode.icmp.quote_truncated */
    PT_DEC_ICMPV6_TRUNC,      /* decode.icmpv6.truncated */
    PT_DEC_GRE_TRUNC,         /* decode.gre.truncated */
    PT_DEC_GRE_VERSION,       /* decode.gre.unsupported_version */
    PT_DEC_GRE_ROUTING,       /* decode.gre.unsupported_routing (RFC 1701 R bit) */
    PT_DEC_ERSPAN_TRUNC,      /* decode.erspan.truncated */
    PT_DEC_ERSPAN_BAD_VER,    /* decode.erspan.bad_version (header version not 1/2) */
    PT_DEC_VXLAN_TRUNC,       /* decode.vxlan.truncated */
    PT_DEC_TUNNEL_TOO_DEEP,   /* decode.tunnel.too_deep */
    PT_DEC_ERR_MAX
};

/* Stable dotted name of @err ("decode.ipv4.bad_ihl"). Never NULL. */
const char *pt_decode_err_name(unsigned err);

/* Protocol hierarchy (like `tshark -z io,phs`): a trie of the protocol paths
 * seen, with frames and bytes at each node. Fixed size, no allocation; a path
 * that does not fit is counted at the deepest node that does. */
enum pt_proto_id {
    PT_P_FRAME = 0, /* the root */
    PT_P_ETH,
    PT_P_SLL,
    PT_P_SLL2,
    PT_P_NULL,
    PT_P_RAW,
    PT_P_VLAN,
    PT_P_MPLS,
    PT_P_PPPOE,
    PT_P_PPP,
    PT_P_ARP,
    PT_P_IPV4,
    PT_P_IPV6,
    PT_P_TCP,
    PT_P_UDP,
    PT_P_ICMP,
    PT_P_ICMPV6,
    PT_P_GRE,
    PT_P_ERSPAN,
    PT_P_VXLAN,
    PT_P_IPFRAG, /* non-first fragment: payload not decoded */
    PT_P_DATA,   /* anything else: unknown ethertype/protocol payload */
    PT_P_MAX
};

#define PT_PHS_MAX_NODES 256

struct pt_phs_node {
    uint64_t frames, bytes;
    uint16_t parent;
    uint8_t proto;            /* enum pt_proto_id */
    uint16_t child[PT_P_MAX]; /* node index, 0 = none (the root is never a child) */
};

struct pt_phs {
    uint32_t n_nodes;  /* node 0 is the root (PT_P_FRAME) */
    uint32_t overflow; /* paths cut short because the trie was full */
    struct pt_phs_node node[PT_PHS_MAX_NODES];
};

/* Per-worker decode statistics. Owned by one worker; counters are written with
 * PT_CNT_* so another thread may read them. */
struct pt_decode_stats {
    uint64_t frames, bytes; /* every frame handed to pt_decode(), wire bytes */
    uint64_t err[PT_DEC_ERR_MAX];
    struct pt_phs phs;
};

/* Initialise @st (caller storage). */
void pt_decode_stats_init(struct pt_decode_stats *st);

/* Add @src into @dst (for the end-of-run summary). Thread: caller owns @dst;
 * @src must be quiescent or tolerate a slightly stale read. */
void pt_decode_stats_merge(struct pt_decode_stats *dst, const struct pt_decode_stats *src);

/* Print the protocol hierarchy as an indented tree ("eth  frames:N bytes:M"),
 * tshark io,phs style. */
void pt_phs_print(FILE *out, const struct pt_phs *phs);

/* Short name of a protocol id ("ipv4", "tcp", ...). Never NULL. */
const char *pt_proto_name(unsigned id);

/* Decode the frame described by p->data/caplen/linktype/hw_vlan; fill the
 * output fields of @p. Always returns (no error return): a malformed header
 * stops decoding at that layer, sets p->err to the first error, and counts it
 * in st->err[]. Layers decoded before the error stay valid in p->l3[].
 * Counts the frame in st->frames/bytes and its path in st->phs.
 * Thread: the caller owns @p and @st. */
void pt_decode(struct pt_pkt *p, struct pt_decode_stats *st);

#endif
