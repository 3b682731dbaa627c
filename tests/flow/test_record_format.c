/* test_record_format.c - exact JSON and CSV text of hand-built records: unset
 * fields, counter extremes, ns-to-us rounding, IPv6 text forms, ICMP, tunnel
 * parents, escaping and quoting, interface names longer than the writer's
 * buffer. The expected strings were produced by the fprintf-based writer the
 * buffered one replaced; the outputs must stay byte-identical. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pt/appid.h"
#include "pt/flow.h"

/* ---- hand-built records ---------------------------------------------------- */

static void v4a(uint8_t a[16], uint8_t x, uint8_t y, uint8_t z, uint8_t w)
{
    memset(a, 0, 16);
    a[10] = a[11] = 0xff;
    a[12] = x, a[13] = y, a[14] = z, a[15] = w;
}

static void v6a(uint8_t a[16], const char *text)
{
    cr_assert_eq(inet_pton(AF_INET6, text, a), 1, "%s", text);
}

/* UDP over IPv4, nothing optional set. */
static void base_rec(struct pt_flow_record *r)
{
    memset(r, 0, sizeof *r);
    r->ts_ns = 1300475167096535000ull;
    r->last_ns = r->ts_ns;
    strcpy(r->uid, "CI62XIvB0H1x");
    strcpy(r->community_id, "1:gYWfKWq42Pxn3p8L1ZdPLXnJfjE=");
    v4a(r->orig_h, 141, 142, 220, 202);
    v4a(r->resp_h, 224, 0, 0, 251);
    r->orig_p = r->resp_p = 5353;
    r->proto = 17;
    r->ver = 4;
    r->vlan = r->inner_vlan = PT_VLAN_NONE;
    strcpy(r->conn_state, "S0");
}

/* Zero everything: ts 0, no duration, empty strings, 0.0.0.0, no VLAN. */
static void rec_zero(struct pt_flow_record *r)
{
    memset(r, 0, sizeof *r);
    r->ver = 4;
    r->vlan = r->inner_vlan = PT_VLAN_NONE;
}

/* Every counter at UINT64_MAX, TCP with all flags, 20 history letters,
 * VLAN 0 and 4095, an out-of-range end reason, duration wrapping. */
static void rec_max(struct pt_flow_record *r)
{
    base_rec(r);
    r->proto = 6;
    r->ts_ns = 1;
    r->last_ns = UINT64_MAX;
    r->orig_bytes = r->resp_bytes = r->orig_pkts = r->resp_pkts = UINT64_MAX;
    r->orig_ip_bytes = r->resp_ip_bytes = r->missed_bytes = UINT64_MAX;
    r->orig_p = r->resp_p = 65535;
    v4a(r->orig_h, 255, 255, 255, 255);
    v4a(r->resp_h, 0, 0, 0, 0);
    strcpy(r->conn_state, "RSTOS0");
    strcpy(r->history, "ShADadFfRrTtWwIiQqCc");
    r->orig_tcp_flags = r->resp_tcp_flags = 0xff;
    r->vlan = 0;
    r->inner_vlan = 4095;
    r->end_reason = 255;
}

/* ts near UINT64_MAX: the +500 rounding wraps (see the report). */
static void rec_ts_wrap(struct pt_flow_record *r)
{
    base_rec(r);
    r->ts_ns = UINT64_MAX;
    r->last_ns = UINT64_MAX;
}

static void rec_ts_top(struct pt_flow_record *r)
{
    base_rec(r);
    r->ts_ns = UINT64_MAX - 500;
    r->last_ns = UINT64_MAX;
    r->end_reason = PT_FLOW_END_CLOSED;
}

/* Rounding: .xxx499 down, duration 1 ns is "set" but prints 0.000000. */
static void rec_round_down(struct pt_flow_record *r)
{
    base_rec(r);
    r->ts_ns = 1300475167096535499ull;
    r->last_ns = r->ts_ns + 1;
    r->orig_bytes = 0;
    r->resp_bytes = 7;
    r->end_reason = PT_FLOW_END_ACTIVE;
}

/* .xxx500 up; duration 500 ns rounds to 0.000001. */
static void rec_round_up(struct pt_flow_record *r)
{
    base_rec(r);
    r->ts_ns = 1300475167096535500ull;
    r->last_ns = r->ts_ns + 500;
    r->end_reason = PT_FLOW_END_FLUSH;
}

/* .999999500 carries into the seconds; duration 499 ns -> 0.000000. */
static void rec_round_carry(struct pt_flow_record *r)
{
    base_rec(r);
    r->ts_ns = 1999999500ull;
    r->last_ns = r->ts_ns + 499;
    r->end_reason = PT_FLOW_END_EVICT;
}

/* Long duration, small ts (no leading zeros in the seconds). */
static void rec_long_dur(struct pt_flow_record *r)
{
    base_rec(r);
    r->ts_ns = 5000;
    r->last_ns = 123456789123456789ull;
    r->orig_bytes = 10;
    r->resp_bytes = 1000000;
}

static void rec_icmp4(struct pt_flow_record *r)
{
    base_rec(r);
    r->proto = 1;
    r->icmp_type = 8;
    r->icmp_code = 0;
    r->orig_p = 8;
    r->resp_p = 0;
    r->orig_tcp_flags = 0x12; /* not TCP: never printed */
    strcpy(r->conn_state, "OTH");
}

static void rec_icmp6(struct pt_flow_record *r)
{
    base_rec(r);
    r->ver = 6;
    r->proto = 58;
    r->icmp_type = 135;
    r->icmp_code = 255;
    r->orig_p = 135;
    r->resp_p = 136;
    v6a(r->orig_h, "fe80::217:f2ff:fed7:cf65");
    v6a(r->resp_h, "ff02::1:ff00:1");
    strcpy(r->conn_state, "OTH");
}

/* ICMP numbers under the other IP version are not ICMP. */
static void rec_icmp_wrong_ver(struct pt_flow_record *r)
{
    base_rec(r);
    r->proto = 58;
    r->icmp_type = 1;
}

static void rec_v6_proto1(struct pt_flow_record *r)
{
    base_rec(r);
    r->ver = 6;
    r->proto = 1;
    r->icmp_type = 1;
    v6a(r->orig_h, "::");
    v6a(r->resp_h, "::1");
}

/* TCP in a tunnel: only the set direction's flags, parent uid. */
static void rec_tunnel(struct pt_flow_record *r)
{
    base_rec(r);
    r->proto = 6;
    r->resp_tcp_flags = 0x12;
    strcpy(r->parent_uid, "CParentUid9z");
    strcpy(r->conn_state, "SH");
    strcpy(r->history, "^h");
    r->vlan = 10;
    r->ifaces = 1u << 2;
}

/* IPv6 text forms: embedded IPv4, zero-run ties, a single zero word. */
static const char *const v6_texts[][2] = {
    {"::ffff:1.2.3.4", "::1.2.3.4"},
    {"::ffff:0:1.2.3.4", "::2"},
    {"1::", "2001:db8:0:0:1:0:0:1"},
    {"2001:0:0:1:0:0:0:1", "2001:db8:1:2:3:4:5:6"},
    {"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "2001:db8::1:0:0:1"},
    {"::0.1.0.0", "0:1:0:1:0:1:0:1"},
};

static void rec_v6_forms(struct pt_flow_record *r, unsigned i)
{
    base_rec(r);
    r->ver = 6;
    r->proto = 47;
    strcpy(r->conn_state, "OTH");
    v6a(r->orig_h, v6_texts[i][0]);
    v6a(r->resp_h, v6_texts[i][1]);
}

/* Strings that need JSON escaping and CSV quoting, interface names too. */
static void rec_escapes(struct pt_flow_record *r)
{
    base_rec(r);
    strcpy(r->uid, "C\"a,b\\");
    strcpy(r->community_id, "1:x,y\"z\n");
    strcpy(r->conn_state, "S,\"F");
    strcpy(r->history, "h\t\"\r,\n\x01\x7f\xff\xc3\xa9/");
    strcpy(r->parent_uid, "Cp,q");
    r->ifaces = 0x8000001fu;
    r->last_ns = r->ts_ns + 1000000;
}

static const char *const esc_names[] = {"eth0", "a,b", "q\"x", NULL, "\xe2\x82\xac\\/\t\xc3"};

/* MACs: only one side set, bytes with leading zeros. */
static void rec_mac_orig(struct pt_flow_record *r)
{
    base_rec(r);
    memcpy(r->orig_mac, "\x00\x00\x00\x00\x00\x01", 6);
    r->ifaces = 1;
}

static void rec_mac_resp(struct pt_flow_record *r)
{
    base_rec(r);
    memcpy(r->resp_mac, "\xff\x0a\xb0\x00\x10\xfe", 6);
}

#define V6_FORM(i)                                                                                 \
    static void rec_v6_form##i(struct pt_flow_record *r)                                           \
    {                                                                                              \
        rec_v6_forms(r, i);                                                                        \
    }
V6_FORM(0)
V6_FORM(1)
V6_FORM(2)
V6_FORM(3)
V6_FORM(4)
V6_FORM(5)

struct fmt_case {
    const char *name;
    void (*build)(struct pt_flow_record *r);
    const char *const *ifnames;
    unsigned n_ifnames;
    const char *json, *csv;
};

static const struct fmt_case cases[] = {
    {"zero", rec_zero, NULL, 0,
     "{\"_path\":\"conn\",\"ts\":0.000000,\"uid\":\"\",\"id.orig_h\":\"0.0.0.0\",\"id.orig"
     "_p\":0,\"id.resp_h\":\"0.0.0.0\",\"id.resp_p\":0,\"proto\":\"unknown_transport\",\"c"
     "onn_state\":\"\",\"missed_bytes\":0,\"orig_pkts\":0,\"orig_ip_bytes\":0,\"resp_pkts"
     "\":0,\"resp_ip_bytes\":0,\"ip_proto\":0,\"community_id\":\"\",\"end_reason\":\"idle"
     "\"}\n",
     "0.000000,,0.0.0.0,0,0.0.0.0,0,unknown_transport,,,,,0,,0,0,0,0,,0,,,,,,,,,,,idle\n"},
    {"max", rec_max, NULL, 0,
     "{\"_path\":\"conn\",\"ts\":0.000000,\"uid\":\"CI62XIvB0H1x\",\"id.orig_h\":\"255.255"
     ".255.255\",\"id.orig_p\":65535,\"id.resp_h\":\"0.0.0.0\",\"id.resp_p\":65535,\"proto"
     "\":\"tcp\",\"duration\":0.000000,\"orig_bytes\":18446744073709551615,\"resp_bytes\":"
     "18446744073709551615,\"conn_state\":\"RSTOS0\",\"missed_bytes\":18446744073709551615"
     ",\"history\":\"ShADadFfRrTtWwIiQqCc\",\"orig_pkts\":18446744073709551615,\"orig_ip_b"
     "ytes\":18446744073709551615,\"resp_pkts\":18446744073709551615,\"resp_ip_bytes\":184"
     "46744073709551615,\"ip_proto\":6,\"vlan\":0,\"inner_vlan\":4095,\"orig_tcp_flags\":"
     "\"FSRPAUEC\",\"resp_tcp_flags\":\"FSRPAUEC\",\"community_id\":\"1:gYWfKWq42Pxn3p8L1Z"
     "dPLXnJfjE=\",\"end_reason\":\"unknown\"}\n",
     "0.000000,CI62XIvB0H1x,255.255.255.255,65535,0.0.0.0,65535,tcp,0.000000,1844674407370"
     "9551615,18446744073709551615,RSTOS0,18446744073709551615,ShADadFfRrTtWwIiQqCc,184467"
     "44073709551615,18446744073709551615,18446744073709551615,18446744073709551615,,6,0,4"
     "095,,,FSRPAUEC,FSRPAUEC,,,,1:gYWfKWq42Pxn3p8L1ZdPLXnJfjE=,unknown\n"},
    {"ts_wrap", rec_ts_wrap, NULL, 0,
     "{\"_path\":\"conn\",\"ts\":0.000000,\"uid\":\"CI62XIvB0H1x\",\"id.orig_h\":\"141.142"
     ".220.202\",\"id.orig_p\":5353,\"id.resp_h\":\"224.0.0.251\",\"id.resp_p\":5353,\"pro"
     "to\":\"udp\",\"conn_state\":\"S0\",\"missed_bytes\":0,\"orig_pkts\":0,\"orig_ip_byte"
     "s\":0,\"resp_pkts\":0,\"resp_ip_bytes\":0,\"ip_proto\":17,\"community_id\":\"1:gYWfK"
     "Wq42Pxn3p8L1ZdPLXnJfjE=\",\"end_reason\":\"idle\"}\n",
     "0.000000,CI62XIvB0H1x,141.142.220.202,5353,224.0.0.251,5353,udp,,,,S0,0,,0,0,0,0,,17"
     ",,,,,,,,,,1:gYWfKWq42Pxn3p8L1ZdPLXnJfjE=,idle\n"},
    {"ts_top", rec_ts_top, NULL, 0,
     "{\"_path\":\"conn\",\"ts\":18446744073.709551,\"uid\":\"CI62XIvB0H1x\",\"id.orig_h\""
     ":\"141.142.220.202\",\"id.orig_p\":5353,\"id.resp_h\":\"224.0.0.251\",\"id.resp_p\":"
     "5353,\"proto\":\"udp\",\"duration\":0.000001,\"orig_bytes\":0,\"resp_bytes\":0,\"con"
     "n_state\":\"S0\",\"missed_bytes\":0,\"orig_pkts\":0,\"orig_ip_bytes\":0,\"resp_pkts"
     "\":0,\"resp_ip_bytes\":0,\"ip_proto\":17,\"community_id\":\"1:gYWfKWq42Pxn3p8L1ZdPLX"
     "nJfjE=\",\"end_reason\":\"closed\"}\n",
     "18446744073.709551,CI62XIvB0H1x,141.142.220.202,5353,224.0.0.251,5353,udp,0.000001,0"
     ",0,S0,0,,0,0,0,0,,17,,,,,,,,,,1:gYWfKWq42Pxn3p8L1ZdPLXnJfjE=,closed\n"},
    {"round_down", rec_round_down, NULL, 0,
     "{\"_path\":\"conn\",\"ts\":1300475167.096535,\"uid\":\"CI62XIvB0H1x\",\"id.orig_h\":"
     "\"141.142.220.202\",\"id.orig_p\":5353,\"id.resp_h\":\"224.0.0.251\",\"id.resp_p\":5"
     "353,\"proto\":\"udp\",\"duration\":0.000000,\"orig_bytes\":0,\"resp_bytes\":7,\"conn"
     "_state\":\"S0\",\"missed_bytes\":0,\"orig_pkts\":0,\"orig_ip_bytes\":0,\"resp_pkts\""
     ":0,\"resp_ip_bytes\":0,\"ip_proto\":17,\"community_id\":\"1:gYWfKWq42Pxn3p8L1ZdPLXnJ"
     "fjE=\",\"end_reason\":\"active\"}\n",
     "1300475167.096535,CI62XIvB0H1x,141.142.220.202,5353,224.0.0.251,5353,udp,0.000000,0,"
     "7,S0,0,,0,0,0,0,,17,,,,,,,,,,1:gYWfKWq42Pxn3p8L1ZdPLXnJfjE=,active\n"},
    {"round_up", rec_round_up, NULL, 0,
     "{\"_path\":\"conn\",\"ts\":1300475167.096536,\"uid\":\"CI62XIvB0H1x\",\"id.orig_h\":"
     "\"141.142.220.202\",\"id.orig_p\":5353,\"id.resp_h\":\"224.0.0.251\",\"id.resp_p\":5"
     "353,\"proto\":\"udp\",\"duration\":0.000001,\"orig_bytes\":0,\"resp_bytes\":0,\"conn"
     "_state\":\"S0\",\"missed_bytes\":0,\"orig_pkts\":0,\"orig_ip_bytes\":0,\"resp_pkts\""
     ":0,\"resp_ip_bytes\":0,\"ip_proto\":17,\"community_id\":\"1:gYWfKWq42Pxn3p8L1ZdPLXnJ"
     "fjE=\",\"end_reason\":\"flush\"}\n",
     "1300475167.096536,CI62XIvB0H1x,141.142.220.202,5353,224.0.0.251,5353,udp,0.000001,0,"
     "0,S0,0,,0,0,0,0,,17,,,,,,,,,,1:gYWfKWq42Pxn3p8L1ZdPLXnJfjE=,flush\n"},
    {"round_carry", rec_round_carry, NULL, 0,
     "{\"_path\":\"conn\",\"ts\":2.000000,\"uid\":\"CI62XIvB0H1x\",\"id.orig_h\":\"141.142"
     ".220.202\",\"id.orig_p\":5353,\"id.resp_h\":\"224.0.0.251\",\"id.resp_p\":5353,\"pro"
     "to\":\"udp\",\"duration\":0.000000,\"orig_bytes\":0,\"resp_bytes\":0,\"conn_state\":"
     "\"S0\",\"missed_bytes\":0,\"orig_pkts\":0,\"orig_ip_bytes\":0,\"resp_pkts\":0,\"resp"
     "_ip_bytes\":0,\"ip_proto\":17,\"community_id\":\"1:gYWfKWq42Pxn3p8L1ZdPLXnJfjE=\",\""
     "end_reason\":\"evict\"}\n",
     "2.000000,CI62XIvB0H1x,141.142.220.202,5353,224.0.0.251,5353,udp,0.000000,0,0,S0,0,,0"
     ",0,0,0,,17,,,,,,,,,,1:gYWfKWq42Pxn3p8L1ZdPLXnJfjE=,evict\n"},
    {"long_dur", rec_long_dur, NULL, 0,
     "{\"_path\":\"conn\",\"ts\":0.000005,\"uid\":\"CI62XIvB0H1x\",\"id.orig_h\":\"141.142"
     ".220.202\",\"id.orig_p\":5353,\"id.resp_h\":\"224.0.0.251\",\"id.resp_p\":5353,\"pro"
     "to\":\"udp\",\"duration\":123456789.123452,\"orig_bytes\":10,\"resp_bytes\":1000000,"
     "\"conn_state\":\"S0\",\"missed_bytes\":0,\"orig_pkts\":0,\"orig_ip_bytes\":0,\"resp_"
     "pkts\":0,\"resp_ip_bytes\":0,\"ip_proto\":17,\"community_id\":\"1:gYWfKWq42Pxn3p8L1Z"
     "dPLXnJfjE=\",\"end_reason\":\"idle\"}\n",
     "0.000005,CI62XIvB0H1x,141.142.220.202,5353,224.0.0.251,5353,udp,123456789.123452,10,"
     "1000000,S0,0,,0,0,0,0,,17,,,,,,,,,,1:gYWfKWq42Pxn3p8L1ZdPLXnJfjE=,idle\n"},
    {"icmp4", rec_icmp4, NULL, 0,
     "{\"_path\":\"conn\",\"ts\":1300475167.096535,\"uid\":\"CI62XIvB0H1x\",\"id.orig_h\":"
     "\"141.142.220.202\",\"id.orig_p\":8,\"id.resp_h\":\"224.0.0.251\",\"id.resp_p\":0,\""
     "proto\":\"icmp\",\"conn_state\":\"OTH\",\"missed_bytes\":0,\"orig_pkts\":0,\"orig_ip"
     "_bytes\":0,\"resp_pkts\":0,\"resp_ip_bytes\":0,\"ip_proto\":1,\"icmp_type\":8,\"icmp"
     "_code\":0,\"community_id\":\"1:gYWfKWq42Pxn3p8L1ZdPLXnJfjE=\",\"end_reason\":\"idle"
     "\"}\n",
     "1300475167.096535,CI62XIvB0H1x,141.142.220.202,8,224.0.0.251,0,icmp,,,,OTH,0,,0,0,0,"
     "0,,1,,,8,0,,,,,,1:gYWfKWq42Pxn3p8L1ZdPLXnJfjE=,idle\n"},
    {"icmp6", rec_icmp6, NULL, 0,
     "{\"_path\":\"conn\",\"ts\":1300475167.096535,\"uid\":\"CI62XIvB0H1x\",\"id.orig_h\":"
     "\"fe80::217:f2ff:fed7:cf65\",\"id.orig_p\":135,\"id.resp_h\":\"ff02::1:ff00:1\",\"id"
     ".resp_p\":136,\"proto\":\"icmp\",\"conn_state\":\"OTH\",\"missed_bytes\":0,\"orig_pk"
     "ts\":0,\"orig_ip_bytes\":0,\"resp_pkts\":0,\"resp_ip_bytes\":0,\"ip_proto\":58,\"icm"
     "p_type\":135,\"icmp_code\":255,\"community_id\":\"1:gYWfKWq42Pxn3p8L1ZdPLXnJfjE=\","
     "\"end_reason\":\"idle\"}\n",
     "1300475167.096535,CI62XIvB0H1x,fe80::217:f2ff:fed7:cf65,135,ff02::1:ff00:1,136,icmp,"
     ",,,OTH,0,,0,0,0,0,,58,,,135,255,,,,,,1:gYWfKWq42Pxn3p8L1ZdPLXnJfjE=,idle\n"},
    {"icmp_wrong_ver", rec_icmp_wrong_ver, NULL, 0,
     "{\"_path\":\"conn\",\"ts\":1300475167.096535,\"uid\":\"CI62XIvB0H1x\",\"id.orig_h\":"
     "\"141.142.220.202\",\"id.orig_p\":5353,\"id.resp_h\":\"224.0.0.251\",\"id.resp_p\":5"
     "353,\"proto\":\"unknown_transport\",\"conn_state\":\"S0\",\"missed_bytes\":0,\"orig_"
     "pkts\":0,\"orig_ip_bytes\":0,\"resp_pkts\":0,\"resp_ip_bytes\":0,\"ip_proto\":58,\"c"
     "ommunity_id\":\"1:gYWfKWq42Pxn3p8L1ZdPLXnJfjE=\",\"end_reason\":\"idle\"}\n",
     "1300475167.096535,CI62XIvB0H1x,141.142.220.202,5353,224.0.0.251,5353,unknown_transpo"
     "rt,,,,S0,0,,0,0,0,0,,58,,,,,,,,,,1:gYWfKWq42Pxn3p8L1ZdPLXnJfjE=,idle\n"},
    {"v6_proto1", rec_v6_proto1, NULL, 0,
     "{\"_path\":\"conn\",\"ts\":1300475167.096535,\"uid\":\"CI62XIvB0H1x\",\"id.orig_h\":"
     "\"::\",\"id.orig_p\":5353,\"id.resp_h\":\"::1\",\"id.resp_p\":5353,\"proto\":\"unkno"
     "wn_transport\",\"conn_state\":\"S0\",\"missed_bytes\":0,\"orig_pkts\":0,\"orig_ip_by"
     "tes\":0,\"resp_pkts\":0,\"resp_ip_bytes\":0,\"ip_proto\":1,\"community_id\":\"1:gYWf"
     "KWq42Pxn3p8L1ZdPLXnJfjE=\",\"end_reason\":\"idle\"}\n",
     "1300475167.096535,CI62XIvB0H1x,::,5353,::1,5353,unknown_transport,,,,S0,0,,0,0,0,0,,"
     "1,,,,,,,,,,1:gYWfKWq42Pxn3p8L1ZdPLXnJfjE=,idle\n"},
    {"tunnel", rec_tunnel, NULL, 0,
     "{\"_path\":\"conn\",\"ts\":1300475167.096535,\"uid\":\"CI62XIvB0H1x\",\"id.orig_h\":"
     "\"141.142.220.202\",\"id.orig_p\":5353,\"id.resp_h\":\"224.0.0.251\",\"id.resp_p\":5"
     "353,\"proto\":\"tcp\",\"conn_state\":\"SH\",\"missed_bytes\":0,\"history\":\"^h\",\""
     "orig_pkts\":0,\"orig_ip_bytes\":0,\"resp_pkts\":0,\"resp_ip_bytes\":0,\"tunnel_paren"
     "ts\":[\"CParentUid9z\"],\"ip_proto\":6,\"vlan\":10,\"resp_tcp_flags\":\"SA\",\"inter"
     "faces\":[\"if2\"],\"community_id\":\"1:gYWfKWq42Pxn3p8L1ZdPLXnJfjE=\",\"end_reason\""
     ":\"idle\"}\n",
     "1300475167.096535,CI62XIvB0H1x,141.142.220.202,5353,224.0.0.251,5353,tcp,,,,SH,0,^h,"
     "0,0,0,0,CParentUid9z,6,10,,,,,SA,\"if2\",,,1:gYWfKWq42Pxn3p8L1ZdPLXnJfjE=,idle\n"},
    {"v6_form0", rec_v6_form0, NULL, 0,
     "{\"_path\":\"conn\",\"ts\":1300475167.096535,\"uid\":\"CI62XIvB0H1x\",\"id.orig_h\":"
     "\"::ffff:1.2.3.4\",\"id.orig_p\":5353,\"id.resp_h\":\"::1.2.3.4\",\"id.resp_p\":5353"
     ",\"proto\":\"unknown_transport\",\"conn_state\":\"OTH\",\"missed_bytes\":0,\"orig_pk"
     "ts\":0,\"orig_ip_bytes\":0,\"resp_pkts\":0,\"resp_ip_bytes\":0,\"ip_proto\":47,\"com"
     "munity_id\":\"1:gYWfKWq42Pxn3p8L1ZdPLXnJfjE=\",\"end_reason\":\"idle\"}\n",
     "1300475167.096535,CI62XIvB0H1x,::ffff:1.2.3.4,5353,::1.2.3.4,5353,unknown_transport,"
     ",,,OTH,0,,0,0,0,0,,47,,,,,,,,,,1:gYWfKWq42Pxn3p8L1ZdPLXnJfjE=,idle\n"},
    {"v6_form1", rec_v6_form1, NULL, 0,
     "{\"_path\":\"conn\",\"ts\":1300475167.096535,\"uid\":\"CI62XIvB0H1x\",\"id.orig_h\":"
     "\"::ffff:0:102:304\",\"id.orig_p\":5353,\"id.resp_h\":\"::2\",\"id.resp_p\":5353,\"p"
     "roto\":\"unknown_transport\",\"conn_state\":\"OTH\",\"missed_bytes\":0,\"orig_pkts\""
     ":0,\"orig_ip_bytes\":0,\"resp_pkts\":0,\"resp_ip_bytes\":0,\"ip_proto\":47,\"communi"
     "ty_id\":\"1:gYWfKWq42Pxn3p8L1ZdPLXnJfjE=\",\"end_reason\":\"idle\"}\n",
     "1300475167.096535,CI62XIvB0H1x,::ffff:0:102:304,5353,::2,5353,unknown_transport,,,,O"
     "TH,0,,0,0,0,0,,47,,,,,,,,,,1:gYWfKWq42Pxn3p8L1ZdPLXnJfjE=,idle\n"},
    {"v6_form2", rec_v6_form2, NULL, 0,
     "{\"_path\":\"conn\",\"ts\":1300475167.096535,\"uid\":\"CI62XIvB0H1x\",\"id.orig_h\":"
     "\"1::\",\"id.orig_p\":5353,\"id.resp_h\":\"2001:db8::1:0:0:1\",\"id.resp_p\":5353,\""
     "proto\":\"unknown_transport\",\"conn_state\":\"OTH\",\"missed_bytes\":0,\"orig_pkts"
     "\":0,\"orig_ip_bytes\":0,\"resp_pkts\":0,\"resp_ip_bytes\":0,\"ip_proto\":47,\"commu"
     "nity_id\":\"1:gYWfKWq42Pxn3p8L1ZdPLXnJfjE=\",\"end_reason\":\"idle\"}\n",
     "1300475167.096535,CI62XIvB0H1x,1::,5353,2001:db8::1:0:0:1,5353,unknown_transport,,,,"
     "OTH,0,,0,0,0,0,,47,,,,,,,,,,1:gYWfKWq42Pxn3p8L1ZdPLXnJfjE=,idle\n"},
    {"v6_form3", rec_v6_form3, NULL, 0,
     "{\"_path\":\"conn\",\"ts\":1300475167.096535,\"uid\":\"CI62XIvB0H1x\",\"id.orig_h\":"
     "\"2001:0:0:1::1\",\"id.orig_p\":5353,\"id.resp_h\":\"2001:db8:1:2:3:4:5:6\",\"id.res"
     "p_p\":5353,\"proto\":\"unknown_transport\",\"conn_state\":\"OTH\",\"missed_bytes\":0"
     ",\"orig_pkts\":0,\"orig_ip_bytes\":0,\"resp_pkts\":0,\"resp_ip_bytes\":0,\"ip_proto"
     "\":47,\"community_id\":\"1:gYWfKWq42Pxn3p8L1ZdPLXnJfjE=\",\"end_reason\":\"idle\"}\n",
     "1300475167.096535,CI62XIvB0H1x,2001:0:0:1::1,5353,2001:db8:1:2:3:4:5:6,5353,unknown_"
     "transport,,,,OTH,0,,0,0,0,0,,47,,,,,,,,,,1:gYWfKWq42Pxn3p8L1ZdPLXnJfjE=,idle\n"},
    {"v6_form4", rec_v6_form4, NULL, 0,
     "{\"_path\":\"conn\",\"ts\":1300475167.096535,\"uid\":\"CI62XIvB0H1x\",\"id.orig_h\":"
     "\"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff\",\"id.orig_p\":5353,\"id.resp_h\":\"2001:"
     "db8::1:0:0:1\",\"id.resp_p\":5353,\"proto\":\"unknown_transport\",\"conn_state\":\"O"
     "TH\",\"missed_bytes\":0,\"orig_pkts\":0,\"orig_ip_bytes\":0,\"resp_pkts\":0,\"resp_i"
     "p_bytes\":0,\"ip_proto\":47,\"community_id\":\"1:gYWfKWq42Pxn3p8L1ZdPLXnJfjE=\",\"en"
     "d_reason\":\"idle\"}\n",
     "1300475167.096535,CI62XIvB0H1x,ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff,5353,2001:db8"
     "::1:0:0:1,5353,unknown_transport,,,,OTH,0,,0,0,0,0,,47,,,,,,,,,,1:gYWfKWq42Pxn3p8L1Z"
     "dPLXnJfjE=,idle\n"},
    {"v6_form5", rec_v6_form5, NULL, 0,
     "{\"_path\":\"conn\",\"ts\":1300475167.096535,\"uid\":\"CI62XIvB0H1x\",\"id.orig_h\":"
     "\"::0.1.0.0\",\"id.orig_p\":5353,\"id.resp_h\":\"0:1:0:1:0:1:0:1\",\"id.resp_p\":535"
     "3,\"proto\":\"unknown_transport\",\"conn_state\":\"OTH\",\"missed_bytes\":0,\"orig_p"
     "kts\":0,\"orig_ip_bytes\":0,\"resp_pkts\":0,\"resp_ip_bytes\":0,\"ip_proto\":47,\"co"
     "mmunity_id\":\"1:gYWfKWq42Pxn3p8L1ZdPLXnJfjE=\",\"end_reason\":\"idle\"}\n",
     "1300475167.096535,CI62XIvB0H1x,::0.1.0.0,5353,0:1:0:1:0:1:0:1,5353,unknown_transport"
     ",,,,OTH,0,,0,0,0,0,,47,,,,,,,,,,1:gYWfKWq42Pxn3p8L1ZdPLXnJfjE=,idle\n"},
    {"escapes", rec_escapes, esc_names, 5,
     "{\"_path\":\"conn\",\"ts\":1300475167.096535,\"uid\":\"C\\\"a,b\\\\\",\"id.orig_h\":"
     "\"141.142.220.202\",\"id.orig_p\":5353,\"id.resp_h\":\"224.0.0.251\",\"id.resp_p\":5"
     "353,\"proto\":\"udp\",\"duration\":0.001000,\"orig_bytes\":0,\"resp_bytes\":0,\"conn"
     "_state\":\"S,\\\"F\",\"missed_bytes\":0,\"history\":\"h\\t\\\"\\r,\\n\\u0001\\u007f"
     "\\u00ff\xc3"
     "\xa9"
     "/\",\"orig_pkts\":0,\"orig_ip_bytes\":0,\"resp_pkts\":0,\"resp_ip"
     "_bytes\":0,\"tunnel_parents\":[\"Cp,q\"],\"ip_proto\":17,\"interfaces\":[\"eth0\",\""
     "a,b\",\"q\\\"x\",\"if3\",\"\xe2"
     "\x82"
     "\xac"
     "\\\\/\\t\\u00c3\",\"if31\"],\"community"
     "_id\":\"1:x,y\\\"z\\n\",\"end_reason\":\"idle\"}\n",
     "1300475167.096535,\"C\"\"a,b\\\",141.142.220.202,5353,224.0.0.251,5353,udp,0.001000,"
     "0,0,\"S,\"\"F\",0,\"h\t\"\"\r,\n\x01"
     "\x7f"
     "\xff"
     "\xc3"
     "\xa9"
     "/\",0,0,0,0,\"Cp,q\",1"
     "7,,,,,,,\"eth0,a,b,q\"\"x,if3,\xe2"
     "\x82"
     "\xac"
     "\\/\t\xc3"
     ",if31\",,,\"1:x,y\"\"z\n"
     "\",idle\n"},
    {"mac_orig", rec_mac_orig, esc_names, 0,
     "{\"_path\":\"conn\",\"ts\":1300475167.096535,\"uid\":\"CI62XIvB0H1x\",\"id.orig_h\":"
     "\"141.142.220.202\",\"id.orig_p\":5353,\"id.resp_h\":\"224.0.0.251\",\"id.resp_p\":5"
     "353,\"proto\":\"udp\",\"conn_state\":\"S0\",\"missed_bytes\":0,\"orig_pkts\":0,\"ori"
     "g_ip_bytes\":0,\"resp_pkts\":0,\"resp_ip_bytes\":0,\"ip_proto\":17,\"interfaces\":["
     "\"if0\"],\"orig_l2_addr\":\"00:00:00:00:00:01\",\"community_id\":\"1:gYWfKWq42Pxn3p8"
     "L1ZdPLXnJfjE=\",\"end_reason\":\"idle\"}\n",
     "1300475167.096535,CI62XIvB0H1x,141.142.220.202,5353,224.0.0.251,5353,udp,,,,S0,0,,0,"
     "0,0,0,,17,,,,,,,\"if0\",00:00:00:00:00:01,,1:gYWfKWq42Pxn3p8L1ZdPLXnJfjE=,idle\n"},
    {"mac_resp", rec_mac_resp, NULL, 0,
     "{\"_path\":\"conn\",\"ts\":1300475167.096535,\"uid\":\"CI62XIvB0H1x\",\"id.orig_h\":"
     "\"141.142.220.202\",\"id.orig_p\":5353,\"id.resp_h\":\"224.0.0.251\",\"id.resp_p\":5"
     "353,\"proto\":\"udp\",\"conn_state\":\"S0\",\"missed_bytes\":0,\"orig_pkts\":0,\"ori"
     "g_ip_bytes\":0,\"resp_pkts\":0,\"resp_ip_bytes\":0,\"ip_proto\":17,\"resp_l2_addr\":"
     "\"ff:0a:b0:00:10:fe\",\"community_id\":\"1:gYWfKWq42Pxn3p8L1ZdPLXnJfjE=\",\"end_reas"
     "on\":\"idle\"}\n",
     "1300475167.096535,CI62XIvB0H1x,141.142.220.202,5353,224.0.0.251,5353,udp,,,,S0,0,,0,"
     "0,0,0,,17,,,,,,,,,ff:0a:b0:00:10:fe,1:gYWfKWq42Pxn3p8L1ZdPLXnJfjE=,idle\n"},
};

/* The 17 empty TCP health columns of a record without health. */
#define HEALTH17 ",,,,,,,,,,,,,,,,,"

/* Write @r with open_memstream (any size); caller frees. */
static char *write_text(enum pt_record_format fmt, const struct pt_flow_record *r,
                        const char *const *ifn, unsigned n)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cr_assert_not_null(f);
    cr_assert_eq(pt_flow_record_write(f, fmt, r, ifn, n), 0);
    cr_assert_eq(fclose(f), 0);
    cr_assert_eq(strlen(buf), len, "no NUL inside the record");
    return buf;
}

Test(record_format, exact_text)
{
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const struct fmt_case *c = &cases[i];
        struct pt_flow_record r;
        c->build(&r);
        char *j = write_text(PT_FMT_JSON, &r, c->ifnames, c->n_ifnames);
        char *v = write_text(PT_FMT_CSV, &r, c->ifnames, c->n_ifnames);
        /* These records carry no TCP health (r.health.valid is false, as in a record read back
         * from the store) and no application or enrichment (app 0 = unknown): JSON gains only
         * "app":"unknown" after proto for TCP and UDP, and each CSV row ends in the 17 empty
         * health columns (test_tcp_health.c checks them filled), then service and app (set for
         * TCP/UDP), the 6 empty enrichment columns (app_fields below checks them filled) and the
         * 6 empty RTP columns (test_rtp.c checks them filled). */
        char want_csv[8192], want_json[8192];
        size_t cl = strlen(c->csv);
        bool tcpudp = r.proto == 6 || r.proto == 17;
        cr_assert(cl > 0 && cl < sizeof want_csv - 64 && c->csv[cl - 1] == '\n');
        snprintf(want_csv, sizeof want_csv, "%.*s" HEALTH17 ",,%s,,,,,,,,,,,,\n", (int)(cl - 1),
                 c->csv, tcpudp ? "unknown" : "");
        const char *pr = strstr(
            c->json, tcpudp ? (r.proto == 6 ? "\"proto\":\"tcp\"" : "\"proto\":\"udp\"") : "");
        cr_assert_not_null(pr);
        size_t at = tcpudp ? (size_t)(pr - c->json) + strlen("\"proto\":\"udp\"") : 0;
        snprintf(want_json, sizeof want_json, "%.*s%s%s", (int)at, c->json,
                 tcpudp ? ",\"app\":\"unknown\"" : "", c->json + at);
        cr_expect_str_eq(j, want_json, "%s json", c->name);
        cr_expect_str_eq(v, want_csv, "%s csv", c->name);
        free(j);
        free(v);
    }
}

/* Every IPv6 address shape (each word zero or not, 0xffff/1 in the words that
 * select the embedded IPv4 form) prints as inet_ntop prints it. */
Test(record_format, ipv6_matches_inet_ntop)
{
    static const uint16_t nz[] = {1, 0xffff, 0xabc, 0x10, 0x0101};
    struct pt_flow_record r;
    char want[INET6_ADDRSTRLEN], *got;

    base_rec(&r);
    r.ver = 6;
    for (unsigned mask = 0; mask < 256; mask++) {
        for (unsigned v = 0; v < sizeof nz / sizeof *nz; v++) {
            for (unsigned w = 0; w < 8; w++) {
                uint16_t x = (mask >> w) & 1 ? nz[(v + w) % 5] : 0;
                r.orig_h[2 * w] = (uint8_t)(x >> 8);
                r.orig_h[2 * w + 1] = (uint8_t)x;
            }
            cr_assert_not_null(inet_ntop(AF_INET6, r.orig_h, want, sizeof want));
            got = write_text(PT_FMT_CSV, &r, NULL, 0);
            char *h = strchr(got, ',') + 1;
            h = strchr(h, ',') + 1;
            cr_assert_eq(strncmp(h, want, strlen(want)), 0, "%s vs %.*s", want, (int)strlen(want),
                         h);
            cr_assert_eq(h[strlen(want)], ',');
            free(got);
        }
    }
}

/* Names far longer than any stack buffer: same text, JSON and CSV. */
Test(record_format, huge_interface_names)
{
    enum { N = 5000, M = 3000 };
    char *a = malloc(N + 1), *b = malloc(M + 1), *want = malloc(8 * (N + M) + 1024);
    const char *names[] = {a, b};
    struct pt_flow_record r;
    char *got, *p;

    memset(a, 'x', N), a[N] = '\0';
    memset(b, 1, M), b[M] = '\0';
    base_rec(&r);
    r.ifaces = 3;
    p = want +
        sprintf(want,
                "{\"_path\":\"conn\",\"ts\":1300475167.096535,\"uid\":\"CI62XIvB0H1x\","
                "\"id.orig_h\":\"141.142.220.202\",\"id.orig_p\":5353,"
                "\"id.resp_h\":\"224.0.0.251\",\"id.resp_p\":5353,\"proto\":\"udp\","
                "\"app\":\"unknown\",\"conn_state\":\"S0\",\"missed_bytes\":0,\"orig_pkts\":0,"
                "\"orig_ip_bytes\":0,\"resp_pkts\":0,\"resp_ip_bytes\":0,"
                "\"ip_proto\":17,\"interfaces\":[\"%s\",\"",
                a);
    for (int i = 0; i < M; i++)
        p += sprintf(p, "\\u0001");
    strcpy(p, "\"],\"community_id\":\"1:gYWfKWq42Pxn3p8L1ZdPLXnJfjE=\",\"end_reason\":\"idle\"}\n");
    got = write_text(PT_FMT_JSON, &r, names, 2);
    cr_assert_str_eq(got, want);
    free(got);

    sprintf(want,
            "1300475167.096535,CI62XIvB0H1x,141.142.220.202,5353,224.0.0.251,5353,udp,,,,S0,0,,0,"
            "0,0,0,,17,,,,,,,\"%s,%s\",,,1:gYWfKWq42Pxn3p8L1ZdPLXnJfjE=,idle" HEALTH17
            ",,unknown,,,,,,,,,,,,\n",
            a, b);
    got = write_text(PT_FMT_CSV, &r, names, 2);
    cr_assert_str_eq(got, want);
    free(got);
    free(a);
    free(b);
    free(want);
}

/* A stream error is reported as -EIO. */
Test(record_format, write_error_is_eio)
{
    struct pt_flow_record r;
    FILE *f = fopen("/dev/full", "w");
    cr_assert_not_null(f);
    setvbuf(f, NULL, _IONBF, 0);
    base_rec(&r);
    cr_assert_eq(pt_flow_record_write(f, PT_FMT_JSON, &r, NULL, 0), -EIO);
    fclose(f);
}

/* The application and enrichment fields: Zeek's service only for a payload
 * decision and only when Zeek names one, app for every TCP/UDP flow, the
 * enrichment fields when known (names are wire bytes: escaped, quoted). */
Test(record_format, app_fields)
{
    static const char head[] =
        "{\"_path\":\"conn\",\"ts\":1300475167.096535,\"uid\":\"CI62XIvB0H1x\","
        "\"id.orig_h\":\"141.142.220.202\",\"id.orig_p\":5353,\"id.resp_h\":\"224.0.0.251\","
        "\"id.resp_p\":5353,";
    static const char csv_head[] =
        "1300475167.096535,CI62XIvB0H1x,141.142.220.202,5353,224.0.0.251,5353,";
    static const char health17[] = HEALTH17;
    struct pt_flow_record r;
    char want[2048], *got;

    /* TLS decided by payload, both names, bytes in a name, one side's geo */
    base_rec(&r);
    r.proto = 6;
    r.app = PT_APP_TLS;
    strcpy(r.orig_fqdn, "a\"b,c\xff");
    strcpy(r.resp_fqdn, "www.example.com");
    strcpy(r.resp_cc, "DE");
    r.resp_asn = 3320;
    snprintf(want, sizeof want,
             "%s\"proto\":\"tcp\",\"service\":\"ssl\",\"app\":\"tls\",\"conn_state\":\"S0\","
             "\"missed_bytes\":0,\"orig_pkts\":0,\"orig_ip_bytes\":0,\"resp_pkts\":0,"
             "\"resp_ip_bytes\":0,\"ip_proto\":6,\"orig_fqdn\":\"a\\\"b,c\\u00ff\","
             "\"resp_fqdn\":\"www.example.com\",\"resp_cc\":\"DE\",\"resp_asn\":3320,"
             "\"community_id\":\"1:gYWfKWq42Pxn3p8L1ZdPLXnJfjE=\",\"end_reason\":\"idle\"}\n",
             head);
    got = write_text(PT_FMT_JSON, &r, NULL, 0);
    cr_expect_str_eq(got, want);
    free(got);
    snprintf(want, sizeof want,
             "%stcp,,,,S0,0,,0,0,0,0,,6,,,,,,,,,,1:gYWfKWq42Pxn3p8L1ZdPLXnJfjE=,idle%s,ssl,tls,"
             "\"a\"\"b,c\xff\",www.example.com,,DE,,3320,,,,,,\n",
             csv_head, health17);
    got = write_text(PT_FMT_CSV, &r, NULL, 0);
    cr_expect_str_eq(got, want);
    free(got);

    /* DNS named by the port only: no service; both sides' geo */
    base_rec(&r);
    r.app = PT_APP_DNS;
    r.app_by_port = true;
    strcpy(r.orig_cc, "US");
    r.orig_asn = 4294967295u;
    strcpy(r.resp_cc, "FR");
    r.resp_asn = 1;
    got = write_text(PT_FMT_JSON, &r, NULL, 0);
    cr_expect_not_null(strstr(got, "\"proto\":\"udp\",\"app\":\"dns\",\"conn_state\""), "%s", got);
    cr_expect_null(strstr(got, "service"), "%s", got);
    cr_expect_not_null(strstr(got, ",\"ip_proto\":17,\"orig_cc\":\"US\",\"resp_cc\":\"FR\","
                                   "\"orig_asn\":4294967295,\"resp_asn\":1,\"community_id\""),
                       "%s", got);
    free(got);
    got = write_text(PT_FMT_CSV, &r, NULL, 0);
    snprintf(want, sizeof want, "idle%s,,dns,,,US,FR,4294967295,1,,,,,,\n", health17);
    cr_expect(strlen(got) > strlen(want) && !strcmp(got + strlen(got) - strlen(want), want), "%s",
              got);
    free(got);

    /* a payload decision Zeek has no service for; an app number out of range */
    base_rec(&r);
    r.app = PT_APP_RTP;
    got = write_text(PT_FMT_JSON, &r, NULL, 0);
    cr_expect_not_null(strstr(got, "\"proto\":\"udp\",\"app\":\"rtp\",\"conn_state\""), "%s", got);
    free(got);
    r.app = 200;
    got = write_text(PT_FMT_CSV, &r, NULL, 0);
    snprintf(want, sizeof want, "idle%s,,unknown,,,,,,,,,,,,\n", health17);
    cr_expect(!strcmp(got + strlen(got) - strlen(want), want), "%s", got);
    free(got);

    /* not TCP/UDP: no app (detection never ran), whatever the field holds */
    rec_icmp4(&r);
    r.app = PT_APP_DNS;
    r.app_by_port = true;
    got = write_text(PT_FMT_JSON, &r, NULL, 0);
    cr_expect_null(strstr(got, "\"app\""), "%s", got);
    free(got);
    got = write_text(PT_FMT_CSV, &r, NULL, 0);
    snprintf(want, sizeof want, "idle%s,,,,,,,,,,,,,,\n", health17);
    cr_expect(!strcmp(got + strlen(got) - strlen(want), want), "%s", got);
    free(got);
}

/* The CSV header names the new columns last, so every earlier column keeps
 * its position; a row has as many fields as the header. */
Test(record_format, csv_header_appends_columns)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    struct pt_flow_record r;

    cr_assert_not_null(f);
    pt_flow_record_csv_header(f);
    fclose(f);
    cr_assert_eq(strncmp(buf, "ts,uid,id.orig_h,id.orig_p,id.resp_h,id.resp_p,proto,duration,", 62),
                 0);
    const char *tail = ",resp_ttl,dscp,service,app,orig_fqdn,resp_fqdn,orig_cc,resp_cc,orig_asn,"
                       "resp_asn,orig_rtp_jitter,resp_rtp_jitter,orig_rtp_max_jitter,"
                       "resp_rtp_max_jitter,orig_rtp_lost,resp_rtp_lost\n";
    cr_assert(len > strlen(tail) && !strcmp(buf + len - strlen(tail), tail), "%s", buf);
    size_t cols = 1;
    for (char *p = buf; *p; p++)
        cols += *p == ',';
    free(buf);
    base_rec(&r);
    char *row = write_text(PT_FMT_CSV, &r, NULL, 0);
    size_t rcols = 1;
    for (char *p = row; *p; p++)
        rcols += *p == ',';
    cr_expect_eq(rcols, cols, "%s", row);
    cr_expect_eq(cols, 61);
    free(row);
}
