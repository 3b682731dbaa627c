/* test_table.c - counts, expiry, full policies, tunnels, ICMP, fragments,
 * record text and Community ID vectors. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include <pcap/pcap.h>

#include "decode/tunnel_frames.h"
#include "flow/flow_helpers.h"
#include "support/support.h"

static struct pt_flow_table *t;
static struct pt_flow_worker *w;
static struct rec_list recs;

static void setup(void)
{
    rcu_register_thread();
    memset(&recs, 0, sizeof recs);
    t = NULL;
}

static void teardown(void)
{
    if (t) {
        pt_flow_table_expire(t, 0, true, NULL, NULL);
        pt_flow_table_destroy(t);
    }
    rcu_unregister_thread();
}

static void open_table(uint64_t max, enum pt_flow_full_policy pol, uint64_t idle_udp)
{
    struct pt_flow_config c;
    int err = 0;
    pt_flow_config_default(&c);
    c.shards = 4;
    c.sweep_shards = 4; /* these tests time expiry: every call sweeps every shard */
    c.max_flows = max;
    c.full_policy = pol;
    if (idle_udp)
        c.idle_udp_ns = idle_udp;
    t = pt_flow_table_create(&c, &err);
    cr_assert_not_null(t, "create: %d", err);
    w = pt_flow_worker_get(t, 0);
}

static void udp(uint64_t ts, const uint8_t *s, uint16_t sp, const uint8_t *d, uint16_t dp,
                uint32_t len)
{
    struct pt_pkt p;
    pkt_init(&p, ts, 17, s, sp, d, dp, len);
    pt_flow_process(w, &p);
}

TestSuite(flow_table, .init = setup, .fini = teardown);

Test(flow_table, exact_counts_per_direction)
{
    uint8_t a[16], b[16];
    v4(a, 10, 1, 1, 1);
    v4(b, 10, 1, 1, 2);
    open_table(100, PT_FLOW_FULL_REFUSE, 0);
    for (int i = 0; i < 7; i++)
        udp(SEC + i, a, 3333, b, 4444, 10 + i);
    for (int i = 0; i < 3; i++)
        udp(2 * SEC + i, b, 4444, a, 3333, 100);
    cr_assert_eq(pt_flow_table_count(t), 1);
    pt_flow_table_expire(t, 3 * SEC, true, collect, &recs);
    cr_assert_eq(recs.n, 1);
    const struct pt_flow_record *r = &recs.r[0];
    cr_assert_eq(r->orig_pkts, 7);
    cr_assert_eq(r->resp_pkts, 3);
    cr_assert_eq(r->orig_bytes, 7 * 10 + 21);
    cr_assert_eq(r->resp_bytes, 300);
    cr_assert_eq(r->orig_ip_bytes, 7 * 28 + 91);
    cr_assert_eq(r->resp_ip_bytes, 3 * 128);
    cr_assert_str_eq(r->conn_state, "SF");
    cr_assert_str_eq(r->history, "Dd");
    cr_assert_eq(r->ts_ns, SEC);
    cr_assert_eq(r->last_ns, 2 * SEC + 2);
    cr_assert_eq(r->end_reason, PT_FLOW_END_FLUSH);
    cr_assert_eq(pt_flow_table_count(t), 0);
    cr_assert_eq(PT_CNT_GET(pt_flow_worker_stats(w)->pkts), 10);
}

Test(flow_table, idle_expiry_timing)
{
    uint8_t a[16], b[16];
    v4(a, 10, 1, 1, 1);
    v4(b, 10, 1, 1, 2);
    open_table(100, PT_FLOW_FULL_REFUSE, 0);
    udp(100 * SEC, a, 3333, b, 4444, 10);
    cr_assert_eq(pt_flow_table_expire(t, 159 * SEC, false, collect, &recs), 0);
    cr_assert_eq(pt_flow_table_expire(t, 160 * SEC, false, collect, &recs), 1);
    cr_assert_eq(recs.r[0].end_reason, PT_FLOW_END_IDLE);
}

Test(flow_table, close_delay_keeps_late_packets)
{
    uint8_t c[16], s[16];
    struct pt_pkt p;
    v4(c, 10, 0, 0, 1);
    v4(s, 10, 0, 0, 2);
    open_table(100, PT_FLOW_FULL_REFUSE, 0);
    pkt_tcp(&p, 10 * SEC, c, 5000, s, 80, F_SYN, 1, 0, 0);
    pt_flow_process(w, &p);
    pkt_tcp(&p, 10 * SEC + 1, s, 80, c, 5000, F_SYN | F_ACK, 9, 2, 0);
    pt_flow_process(w, &p);
    pkt_tcp(&p, 10 * SEC + 2, c, 5000, s, 80, F_FIN | F_ACK, 2, 10, 0);
    pt_flow_process(w, &p);
    pkt_tcp(&p, 10 * SEC + 3, s, 80, c, 5000, F_FIN | F_ACK, 10, 3, 0);
    pt_flow_process(w, &p);
    cr_assert_eq(pt_flow_table_expire(t, 12 * SEC, false, collect, &recs), 0);
    pkt_tcp(&p, 13 * SEC, c, 5000, s, 80, F_ACK, 3, 11, 0); /* late final ACK */
    pt_flow_process(w, &p);
    cr_assert_eq(pt_flow_table_expire(t, 15 * SEC + 2, false, collect, &recs), 0);
    cr_assert_eq(pt_flow_table_expire(t, 15 * SEC + 3, false, collect, &recs), 1);
    cr_assert_eq(recs.r[0].end_reason, PT_FLOW_END_CLOSED);
    cr_assert_eq(recs.r[0].orig_pkts, 3, "the late ACK counts");
    cr_assert_str_eq(recs.r[0].conn_state, "SF");
    cr_assert_eq(recs.r[0].last_ns, 10 * SEC + 3, "Zeek: time stops once both closed");
}

Test(flow_table, full_refuse_counts)
{
    uint8_t a[16], b[16];
    v4(a, 10, 1, 1, 1);
    v4(b, 10, 1, 1, 2);
    open_table(4, PT_FLOW_FULL_REFUSE, 0);
    for (int i = 0; i < 6; i++) {
        udp(SEC, a, (uint16_t)(1000 + i), b, 53, 10);
        udp(SEC + 1, b, 53, a, (uint16_t)(1000 + i), 10);
    }
    const struct pt_flow_worker_stats *st = pt_flow_worker_stats(w);
    cr_assert_eq(PT_CNT_GET(st->flows_created), 4);
    cr_assert_eq(PT_CNT_GET(st->full_flows), 2);
    cr_assert_eq(PT_CNT_GET(st->full_pkts), 4);
    cr_assert_eq(pt_flow_table_count(t), 4);
    /* freed slots are reused after a grace period */
    pt_flow_table_expire(t, 2 * SEC, true, collect, &recs);
    cr_assert_eq(recs.n, 4);
    rcu_barrier();
    udp(3 * SEC, a, 7, b, 53, 10);
    cr_assert_eq(PT_CNT_GET(st->flows_created), 5);
}

Test(flow_table, full_evict_longest_idle)
{
    uint8_t a[16], b[16];
    v4(a, 10, 1, 1, 1);
    v4(b, 10, 1, 1, 2);
    open_table(10, PT_FLOW_FULL_EVICT, 100000 * SEC);
    for (int i = 0; i < 10; i++)
        udp(i < 2 ? 10 * SEC : 1000 * SEC, a, (uint16_t)(1000 + i), b, 53, 10);
    cr_assert_eq(pt_flow_table_expire(t, 1001 * SEC, false, collect, &recs), 2);
    cr_assert_eq(recs.r[0].end_reason, PT_FLOW_END_EVICT);
    cr_assert_eq(recs.r[1].end_reason, PT_FLOW_END_EVICT);
    cr_assert(recs.r[0].orig_p < 1002 && recs.r[1].orig_p < 1002, "the oldest go first");
    cr_assert_eq(pt_flow_table_evicted(t), 2);
    cr_assert_eq(pt_flow_table_count(t), 8);
}

Test(flow_table, tunnel_parent_uid)
{
    uint8_t o1[16], o2[16], i1[16], i2[16];
    struct pt_pkt p;
    v4(o1, 192, 168, 0, 1);
    v4(o2, 192, 168, 0, 2);
    v4(i1, 10, 0, 0, 1);
    v4(i2, 10, 0, 0, 2);
    open_table(100, PT_FLOW_FULL_REFUSE, 0);
    pkt_init(&p, SEC, 17, o1, 40000, o2, 4789, 100);
    p.n_l3 = 2;
    struct pt_l3 *in = &p.l3[1];
    *in = p.l3[0];
    memcpy(in->src, i1, 16);
    memcpy(in->dst, i2, 16);
    in->proto = 6;
    in->encap = PT_ENCAP_VXLAN;
    in->sport = 5555;
    in->dport = 22;
    in->tcp_flags = F_SYN;
    in->l4_len = 0;
    pt_flow_process(w, &p);
    pt_flow_table_expire(t, 2 * SEC, true, collect, &recs);
    cr_assert_eq(recs.n, 2);
    const struct pt_flow_record *outer = recs.r[0].proto == 17 ? &recs.r[0] : &recs.r[1];
    const struct pt_flow_record *inner = recs.r[0].proto == 17 ? &recs.r[1] : &recs.r[0];
    cr_assert_str_eq(outer->parent_uid, "");
    cr_assert_str_eq(inner->parent_uid, outer->uid);
    cr_assert_str_eq(inner->conn_state, "S0");
    cr_assert_eq(PT_CNT_GET(pt_flow_worker_stats(w)->pkts), 2);
}

Test(flow_table, icmp_echo_is_one_flow)
{
    uint8_t h[16], g[16];
    struct pt_pkt p;
    v4(h, 192, 168, 0, 89);
    v4(g, 192, 168, 0, 1);
    open_table(100, PT_FLOW_FULL_REFUSE, 0);
    for (int i = 0; i < 3; i++) {
        pkt_init(&p, SEC + (uint64_t)i * 2, 1, h, 0, g, 0, 56);
        p.l3[0].icmp_type = 8;
        p.l3[0].icmp_id = 42;
        pt_flow_process(w, &p);
        pkt_init(&p, SEC + (uint64_t)i * 2 + 1, 1, g, 0, h, 0, 56);
        p.l3[0].icmp_type = 0;
        p.l3[0].icmp_id = 42;
        pt_flow_process(w, &p);
    }
    /* an unreachable from the gateway is a flow of its own; its quote never counts */
    pkt_init(&p, 2 * SEC, 1, g, 0, h, 0, 28);
    p.l3[0].icmp_type = 3;
    p.l3[0].icmp_code = 3;
    p.l3[0].flags |= PT_L3_ICMP_ERR;
    p.quote.valid = true;
    p.quote.ver = 4;
    p.quote.proto = 17;
    memcpy(p.quote.src, h, 16);
    memcpy(p.quote.dst, g, 16);
    pt_flow_process(w, &p);
    pt_flow_table_expire(t, 3 * SEC, true, collect, &recs);
    cr_assert_eq(recs.n, 2);
    const struct pt_flow_record *e = recs.r[0].icmp_type == 8 ? &recs.r[0] : &recs.r[1];
    const struct pt_flow_record *u = recs.r[0].icmp_type == 8 ? &recs.r[1] : &recs.r[0];
    cr_assert_eq(e->orig_pkts, 3);
    cr_assert_eq(e->resp_pkts, 3);
    cr_assert_eq(e->orig_bytes, 168);
    cr_assert_eq(e->orig_p, 8);
    cr_assert_eq(e->resp_p, 0);
    cr_assert_eq(memcmp(e->orig_h, h, 16), 0);
    cr_assert_str_eq(e->conn_state, "OTH");
    cr_assert_str_eq(e->community_id, "1:X0snYXpgwiv9TZtqg64sgzUn6Dk=");
    cr_assert_eq(u->orig_p, 3);
    cr_assert_eq(u->resp_p, 3);
    cr_assert_eq(u->orig_pkts, 1);
}

Test(flow_table, fragments_do_not_create_flows)
{
    uint8_t a[16], b[16];
    struct pt_pkt p;
    v4(a, 10, 1, 1, 1);
    v4(b, 10, 1, 1, 2);
    open_table(100, PT_FLOW_FULL_REFUSE, 0);
    pkt_init(&p, SEC, 17, a, 4000, b, 53, 1472);
    p.l3[0].flags |= PT_L3_FRAG | PT_L3_FRAG_HEAD | PT_L3_MF;
    pt_flow_process(w, &p);
    pkt_init(&p, SEC + 1, 17, a, 0, b, 0, 0);
    p.l3[0].flags = PT_L3_FRAG;
    p.l3[0].frag_off = 1480;
    pt_flow_process(w, &p);
    const struct pt_flow_worker_stats *st = pt_flow_worker_stats(w);
    cr_assert_eq(PT_CNT_GET(st->frag_pkts), 1);
    cr_assert_eq(PT_CNT_GET(st->flows_created), 1);
    pt_flow_table_expire(t, 2 * SEC, true, collect, &recs);
    cr_assert_eq(recs.n, 1);
    cr_assert_eq(recs.r[0].orig_pkts, 1);
}

Test(flow_table, no_ip_layer_is_counted)
{
    struct pt_pkt p;
    open_table(100, PT_FLOW_FULL_REFUSE, 0);
    memset(&p, 0, sizeof p);
    p.flags = PT_PKT_ARP;
    pt_flow_process(w, &p);
    cr_assert_eq(PT_CNT_GET(pt_flow_worker_stats(w)->no_flow_pkts), 1);
    cr_assert_eq(pt_flow_table_count(t), 0);
}

Test(flow_table, udp_flip_and_broadcast)
{
    uint8_t c[16], s[16], bc[16];
    v4(c, 128, 2, 6, 97);
    v4(s, 128, 2, 6, 152);
    v4(bc, 255, 255, 255, 255);
    open_table(100, PT_FLOW_FULL_REFUSE, 0);
    udp(SEC, s, 67, c, 68, 367);  /* server reply first: flipped */
    udp(SEC, s, 67, bc, 68, 300); /* to broadcast: not flipped */
    pt_flow_table_expire(t, 2 * SEC, true, collect, &recs);
    cr_assert_eq(recs.n, 2);
    for (unsigned i = 0; i < 2; i++) {
        const struct pt_flow_record *r = &recs.r[i];
        if (r->resp_h[15] == 255) {
            cr_assert_eq(r->orig_p, 67);
            cr_assert_str_eq(r->history, "D");
            cr_assert_str_eq(r->conn_state, "S0");
        } else {
            cr_assert_eq(r->orig_p, 68);
            cr_assert_str_eq(r->history, "^d");
            cr_assert_str_eq(r->conn_state, "SHR");
        }
    }
}

static void one_dns_flow(void)
{
    uint8_t c[16], s[16];
    struct pt_pkt p;
    v4(c, 192, 168, 1, 52);
    v4(s, 8, 8, 8, 8);
    open_table(100, PT_FLOW_FULL_REFUSE, 0);
    pkt_init(&p, 1500000000123456789ull, 17, c, 54585, s, 53, 40);
    p.flags = PT_PKT_ETH;
    p.iface = 1;
    memcpy(p.eth_src, "\x00\x11\x22\x33\x44\x55", 6);
    memcpy(p.eth_dst, "\x66\x77\x88\x99\xaa\xbb", 6);
    pt_flow_process(w, &p);
    pkt_init(&p, 1500000000124456789ull, 17, s, 53, c, 54585, 100);
    p.flags = PT_PKT_ETH;
    p.iface = 1;
    memcpy(p.eth_src, "\x66\x77\x88\x99\xaa\xbb", 6);
    memcpy(p.eth_dst, "\x00\x11\x22\x33\x44\x55", 6);
    pt_flow_process(w, &p);
    pt_flow_table_expire(t, 1600000000ull * SEC, false, collect, &recs);
    cr_assert_eq(recs.n, 1);
}

static char *write_rec(enum pt_record_format fmt, const struct pt_flow_record *r, bool header)
{
    static char buf[4096];
    static const char *const names[] = {"eth0", "eth1"};
    FILE *f = fmemopen(buf, sizeof buf, "w");
    cr_assert_not_null(f);
    if (header)
        pt_flow_record_csv_header(f);
    cr_assert_eq(pt_flow_record_write(f, fmt, r, names, 2), 0);
    fclose(f);
    return buf;
}

Test(flow_table, record_json_text)
{
    char want[2048];
    one_dns_flow();
    const struct pt_flow_record *r = &recs.r[0];
    cr_assert_eq(r->uid[0], 'C');
    snprintf(want, sizeof want,
             "{\"_path\":\"conn\",\"ts\":1500000000.123457,\"uid\":\"%s\","
             "\"id.orig_h\":\"192.168.1.52\",\"id.orig_p\":54585,\"id.resp_h\":\"8.8.8.8\","
             "\"id.resp_p\":53,\"proto\":\"udp\",\"app\":\"dns\",\"duration\":0.001000,\"orig_"
             "bytes\":40,"
             "\"resp_bytes\":100,\"conn_state\":\"SF\",\"missed_bytes\":0,\"history\":\"Dd\","
             "\"orig_pkts\":1,\"orig_ip_bytes\":68,\"resp_pkts\":1,\"resp_ip_bytes\":128,"
             "\"ip_proto\":17,\"interfaces\":[\"eth1\"],\"orig_l2_addr\":\"00:11:22:33:44:55\","
             "\"resp_l2_addr\":\"66:77:88:99:aa:bb\",\"orig_ttl\":0,\"resp_ttl\":0,\"dscp\":0,"
             "\"community_id\":\"1:d/FP5EW3wiY1vCndhwleRRKHowQ=\",\"end_reason\":\"idle\"}\n",
             r->uid);
    cr_assert_str_eq(write_rec(PT_FMT_JSON, r, false), want);
}

Test(flow_table, record_csv_text)
{
    char want[2048];
    one_dns_flow();
    const struct pt_flow_record *r = &recs.r[0];
    snprintf(want, sizeof want,
             "ts,uid,id.orig_h,id.orig_p,id.resp_h,id.resp_p,proto,duration,orig_bytes,"
             "resp_bytes,conn_state,missed_bytes,history,orig_pkts,orig_ip_bytes,resp_pkts,"
             "resp_ip_bytes,tunnel_parents,ip_proto,vlan,inner_vlan,icmp_type,icmp_code,"
             "orig_tcp_flags,resp_tcp_flags,interfaces,orig_l2_addr,resp_l2_addr,community_id,"
             "end_reason,tcp_rtt,orig_retrans,resp_retrans,orig_ooo,resp_ooo,orig_dup_acks,"
             "resp_dup_acks,zero_windows,orig_lost,resp_lost,orig_mss,resp_mss,orig_wscale,"
             "resp_wscale,orig_ttl,resp_ttl,dscp,service,app,orig_fqdn,resp_fqdn,orig_cc,resp_cc,"
             "orig_asn,resp_asn,orig_rtp_jitter,resp_rtp_jitter,orig_rtp_max_jitter,"
             "resp_rtp_max_jitter,orig_rtp_lost,resp_rtp_lost\n"
             "1500000000.123457,%s,192.168.1.52,54585,8.8.8.8,53,udp,0.001000,40,100,SF,0,Dd,1,68,"
             "1,128,,17,,,,,,,\"eth1\",00:11:22:33:44:55,66:77:88:99:aa:bb,"
             "1:d/FP5EW3wiY1vCndhwleRRKHowQ=,idle,,,,,,,,,,,,,,,0,0,0,,dns,,,,,,,,,,,,\n",
             r->uid);
    cr_assert_str_eq(write_rec(PT_FMT_CSV, r, true), want);
}

Test(flow_table, json_escapes_any_byte)
{
    static char buf[4096];
    struct pt_flow_record r;
    const char *const names[] = {"a\"b\\c\n\x01\xff\xc3\xa9"};
    memset(&r, 0, sizeof r);
    r.ver = 4;
    r.proto = 17;
    r.ifaces = 1;
    r.vlan = r.inner_vlan = PT_VLAN_NONE;
    FILE *f = fmemopen(buf, sizeof buf, "w");
    cr_assert_eq(pt_flow_record_write(f, PT_FMT_JSON, &r, names, 1), 0);
    fclose(f);
    cr_assert(strstr(buf, "\"interfaces\":[\"a\\\"b\\\\c\\n\\u0001\\u00ff\xc3\xa9\"]"), "%s", buf);
}

Test(flow_table, uid_is_deterministic)
{
    struct rec_list a;
    one_dns_flow();
    a = recs;
    pt_flow_table_expire(t, 0, true, NULL, NULL);
    pt_flow_table_destroy(t);
    memset(&recs, 0, sizeof recs);
    one_dns_flow();
    cr_assert_str_eq(a.r[0].uid, recs.r[0].uid);
    cr_assert(strlen(a.r[0].uid) >= 8);
}

struct cid_vec {
    uint8_t proto;
    const char *s, *d;
    int sp, dp;
    const char *want;
};

static void parse(uint8_t out[16], const char *txt, uint8_t *ver)
{
    memset(out, 0, 16);
    if (strchr(txt, ':')) {
        cr_assert_eq(inet_pton(AF_INET6, txt, out), 1);
        *ver = 6;
    } else {
        out[10] = out[11] = 0xff;
        cr_assert_eq(inet_pton(AF_INET, txt, out + 12), 1);
        *ver = 4;
    }
}

/* corelight/community-id-spec baseline/baseline_deflt.json */
Test(flow_table, community_id_vectors)
{
    static const struct cid_vec v[] = {
        {58, "fe80::200:86ff:fe05:80da", "fe80::260:97ff:fe07:69ea", 135, 136,
         "1:dGHyGvjMfljg6Bppwm3bg0LO8TY="},
        {58, "fe80::260:97ff:fe07:69ea", "fe80::200:86ff:fe05:80da", 136, 135,
         "1:dGHyGvjMfljg6Bppwm3bg0LO8TY="},
        {58, "fe80::260:97ff:fe07:69ea", "fe80::200:86ff:fe05:80da", 135, 136,
         "1:zavyT/cezQr1fmImYCwYnMXbgck="},
        {58, "3ffe:501:1800:2345::2", "3ffe:507:0:1:200:86ff:fe05:80da", 3, 0,
         "1:2ObVBgIn28oZvibYZhZMBgh7WdQ="},
        {58, "3ffe:501:410:0:2c0:dfff:fe47:33e", "3ffe:507:0:1:200:86ff:fe05:80da", 1, 4,
         "1:hLZd0XGWojozrvxqE0dWB1iM6R0="},
        {58, "3ffe:507:0:1:200:86ff:fe05:80da", "3ffe:501:0:1001::2", 128, 129,
         "1:+TW+HtLHvV1xnGhV1lv7XoJrqQg="},
        {58, "fe80::200:86ff:fe05:80da", "ff02::2", 133, 134, "1:hO+sN4H+MG5MY/8hIrXPqc4ZQz0="},
        {58, "fe80::260:97ff:fe07:69ea", "ff02::1", 134, 133, "1:pkvHqCL88/tg1k4cPigmZXUtL00="},
        {1, "192.168.0.89", "192.168.0.1", 8, 0, "1:X0snYXpgwiv9TZtqg64sgzUn6Dk="},
        {1, "192.168.0.1", "192.168.0.89", 0, 8, "1:X0snYXpgwiv9TZtqg64sgzUn6Dk="},
        {1, "10.0.0.1", "10.0.0.2", 11, 0, "1:YHxtAirCG//0OzkcVAukqKQN9xM="},
        {6, "2001:470:e5bf:dead:4957:2174:e82c:4887", "2607:f8b0:400c:c03::1a", 63943, 25,
         "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4="},
        {6, "2607:f8b0:400c:c03::1a", "2001:470:e5bf:dead:4957:2174:e82c:4887", 25, 63943,
         "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4="},
        {132, "192.168.170.8", "192.168.170.56", 7, 7, "1:MP2EtRCAUIZvTw6MxJHLV7N7JDs="},
        {6, "128.232.110.120", "66.35.250.204", 34855, 80, "1:LQU9qZlK+B5F3KDmev6m5PMibrg="},
        {6, "66.35.250.204", "128.232.110.120", 80, 34855, "1:LQU9qZlK+B5F3KDmev6m5PMibrg="},
        {17, "192.168.1.52", "8.8.8.8", 54585, 53, "1:d/FP5EW3wiY1vCndhwleRRKHowQ="},
        {17, "8.8.8.8", "192.168.1.52", 53, 54585, "1:d/FP5EW3wiY1vCndhwleRRKHowQ="},
        {46, "10.1.12.1", "10.1.12.2", -1, -1, "1:KHlLkgoJW7ifUTyTSgyVfkFHzKw="},
        {46, "10.1.12.2", "10.1.12.1", -1, -1, "1:KHlLkgoJW7ifUTyTSgyVfkFHzKw="},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        uint8_t s[16], d[16], ver;
        char out[36];
        parse(s, v[i].s, &ver);
        parse(d, v[i].d, &ver);
        bool icmp = v[i].proto == 1 || v[i].proto == 58;
        bool one_way = icmp && (v[i].sp == 3 || v[i].sp == 1 || v[i].sp == 11);
        pt_flow_community_id(out, 0, ver, v[i].proto, s, d, (uint16_t)v[i].sp, (uint16_t)v[i].dp,
                             v[i].sp >= 0, one_way);
        cr_assert_str_eq(out, v[i].want, "vector %zu", i);
    }
}

/* A packet after its flow's idle timeout starts a new flow at once, whether
 * or not the remover has swept: records do not depend on sweep timing. */
Test(flow_table, packet_after_idle_timeout_starts_a_new_flow)
{
    uint8_t a[16], b[16];
    v4(a, 10, 9, 0, 1);
    v4(b, 10, 9, 0, 2);
    open_table(100, PT_FLOW_FULL_REFUSE, 10 * SEC);
    udp(1 * SEC, a, 1000, b, 53, 20);
    udp(2 * SEC, b, 53, a, 1000, 40);
    udp(12 * SEC + 1, a, 1000, b, 53, 20); /* 10 s + 1 ns after the last packet */
    udp(12 * SEC + 2, a, 1000, b, 53, 20);
    cr_assert_eq(pt_flow_table_count(t), 2,
                 "the ended flow waits for the sweep beside its successor");
    cr_assert_eq(PT_CNT_GET(pt_flow_worker_stats(w)->flows_restarted), 1);
    cr_assert_eq(pt_flow_table_expire(t, 12 * SEC + 3, false, collect, &recs), 1,
                 "the sweep emits the ended flow, not its successor");
    cr_assert_eq(recs.r[0].end_reason, PT_FLOW_END_IDLE);
    cr_assert_eq(recs.r[0].orig_pkts, 1);
    cr_assert_eq(recs.r[0].resp_pkts, 1);
    cr_assert_eq(recs.r[0].ts_ns, 1 * SEC);
    cr_assert_eq(pt_flow_table_expire(t, 0, true, collect, &recs), 1);
    cr_assert_eq(recs.r[1].orig_pkts, 2, "the new flow holds the two late packets");
    cr_assert_eq(recs.r[1].ts_ns, 12 * SEC + 1);
    cr_assert_str_neq(recs.r[0].uid, recs.r[1].uid);
}

/* With the default sweep, each non-flush call walks an eighth of the shards,
 * the next ones each time: eight calls remove every ended flow. */
Test(flow_table, sweep_rotates_through_the_shards)
{
    struct pt_flow_config c;
    int err = 0;
    uint8_t a[16], b[16];

    pt_flow_config_default(&c);
    c.shards = 16;
    c.max_flows = 1000;
    c.idle_udp_ns = SEC;
    t = pt_flow_table_create(&c, &err);
    cr_assert_not_null(t);
    w = pt_flow_worker_get(t, 0);
    v4(b, 10, 8, 0, 254);
    for (unsigned i = 0; i < 200; i++) {
        v4(a, 10, 8, (uint8_t)(i >> 8), (uint8_t)i);
        udp(SEC, a, (uint16_t)(2000 + i), b, 53, 20);
    }
    cr_assert_eq(pt_flow_table_count(t), 200);
    uint64_t total = 0;
    for (int call = 0; call < 8; call++) {
        uint64_t n = pt_flow_table_expire(t, 5 * SEC, false, collect, &recs);
        cr_assert_lt(n, 200, "call %d swept the whole table", call);
        total += n;
    }
    cr_assert_eq(total, 200, "eight calls cover every shard");
    cr_assert_eq(pt_flow_table_count(t), 0);
}

/* An idle timeout shorter than the close delay still ends a flow on arrival
 * (the per-packet fast path must use the shortest timeout). */
Test(flow_table, short_idle_timeout_ends_on_arrival)
{
    uint8_t a[16], b[16];
    v4(a, 10, 7, 0, 1);
    v4(b, 10, 7, 0, 2);
    open_table(100, PT_FLOW_FULL_REFUSE, SEC); /* UDP idle 1 s; close delay stays 5 s */
    udp(1 * SEC, a, 1000, b, 53, 20);
    udp(2 * SEC + 500, a, 1000, b, 53, 20);
    cr_assert_eq(PT_CNT_GET(pt_flow_worker_stats(w)->flows_restarted), 1);
    cr_assert_eq(pt_flow_table_expire(t, 0, true, collect, &recs), 2);
    cr_assert_eq(recs.r[0].orig_pkts + recs.r[1].orig_pkts, 2);
    cr_assert_eq(recs.r[0].orig_pkts, 1);
}

/* ---- the aggregation thread's tick ---- */

struct tick_seen {
    unsigned visits, live, is_new, ended;
    uint64_t pkts, live_pkts;
};

static void tick_visit(const struct pt_flow_view *v, void *arg)
{
    struct tick_seen *s = arg;
    s->visits++;
    s->pkts += v->pkts;
    s->is_new += v->is_new;
    s->ended += v->ended;
    if (v->live) {
        s->live++;
        s->live_pkts = v->live->orig_pkts + v->live->resp_pkts;
        cr_assert_eq(v->live->end_reason, PT_FLOW_END_LIVE);
    }
}

/* One callback argument serves both: records go to `recs`. */
static void tick_emit(const struct pt_flow_record *rec, void *arg)
{
    (void)arg;
    collect(rec, &recs);
}

static struct tick_seen tick_at(uint64_t now)
{
    struct tick_seen s = {0};
    pt_flow_table_tick(t, now, false, tick_emit, tick_visit, &s);
    return s;
}

/* Live records: at the first visit, then once the flow carried packets since
 * its last one and live_ticks ticks have passed, even when those packets came
 * in an earlier tick than the one that is due. */
Test(flow_table, tick_live_records_follow_packets)
{
    struct pt_flow_config c;
    uint8_t a[16], b[16];
    int err = 0;

    pt_flow_config_default(&c);
    c.shards = 4;
    c.live_ticks = 3;
    t = pt_flow_table_create(&c, &err);
    cr_assert_not_null(t);
    w = pt_flow_worker_get(t, 0);
    v4(a, 10, 0, 0, 1);
    v4(b, 10, 0, 0, 2);

    udp(1000, a, 1111, b, 53, 10);
    struct tick_seen s = tick_at(2000); /* tick 1 */
    cr_assert_eq(s.visits, 1);
    cr_assert_eq(s.is_new, 1);
    cr_assert_eq(s.pkts, 1);
    cr_assert_eq(s.live, 1, "a live record at the first visit");
    cr_assert_eq(s.live_pkts, 1);

    udp(3000, b, 53, a, 1111, 10);
    s = tick_at(4000); /* tick 2: a packet, but only one tick since the record */
    cr_assert_eq(s.pkts, 1);
    cr_assert_eq(s.is_new, 0);
    cr_assert_eq(s.live, 0);
    s = tick_at(5000); /* tick 3 */
    cr_assert_eq(s.pkts, 0);
    cr_assert_eq(s.live, 0);
    s = tick_at(6000); /* tick 4: three ticks on, with a packet since the record */
    cr_assert_eq(s.pkts, 0);
    cr_assert_eq(s.live, 1, "the packet of tick 2 is in a live record at last");
    cr_assert_eq(s.live_pkts, 2);
    for (uint64_t k = 0; k < 5; k++) /* nothing new: no more live records */
        cr_assert_eq(tick_at(7000 + k * 1000).live, 0);

    struct tick_seen fin = {0};
    pt_flow_table_tick(t, 0, true, tick_emit, tick_visit, &fin);
    cr_assert_eq(fin.ended, 1);
    cr_assert_eq(fin.live, 0, "removed flows get their record, not a live one");
    cr_assert_eq(recs.n, 1);
    cr_assert_eq(recs.r[0].orig_pkts + recs.r[0].resp_pkts, 2);
}

/* Record uids in the order they are emitted. */
struct uid_seq {
    char (*uid)[24];
    unsigned n, cap;
    unsigned ended; /* views of removed flows (the tick's visitor) */
};

static void uid_push(const struct pt_flow_record *rec, void *arg)
{
    struct uid_seq *q = arg;
    cr_assert_lt(q->n, q->cap);
    snprintf(q->uid[q->n++], sizeof q->uid[0], "%s", rec->uid);
}

static void count_ended(const struct pt_flow_view *v, void *arg)
{
    struct uid_seq *q = arg;
    q->ended += v->ended;
}

/* The tick removes flows in its pool walk, yet records must leave in the
 * order of the expire's hash walk, whatever the number of workers and the
 * order in which flows arrived: `read` output depends on it. */
Test(flow_table, tick_removes_in_the_expire_order)
{
    enum { N = 3000 };
    struct pt_flow_config c;
    struct pt_flow_table *t1, *t2;
    struct uid_seq q1 = {0}, q2 = {0};
    uint8_t a[16], b[16];
    struct pt_pkt p;
    int err = 0;

    pt_flow_config_default(&c);
    c.shards = 16;
    c.max_flows = 2 * N;
    c.idle_udp_ns = 60 * SEC;
    t1 = pt_flow_table_create(&c, &err);
    c.workers = 3;
    t2 = pt_flow_table_create(&c, &err);
    cr_assert(t1 && t2);
    q1.cap = q2.cap = N;
    q1.uid = calloc(N, sizeof *q1.uid);
    q2.uid = calloc(N, sizeof *q2.uid);
    cr_assert(q1.uid && q2.uid);
    v4(b, 10, 9, 0, 254);
    for (unsigned i = 0; i < N; i++) { /* t1 in order on one worker, t2 backwards on three */
        unsigned j = N - 1 - i;
        uint64_t ts = (i % 3 ? 1 : 9) * SEC; /* a third stay alive at 65 s */
        v4(a, 10, 9, (uint8_t)(i >> 8), (uint8_t)i);
        pkt_init(&p, ts, 17, a, (uint16_t)(1024 + i), b, 53, 20);
        pt_flow_process(pt_flow_worker_get(t1, 0), &p);
        ts = (j % 3 ? 1 : 9) * SEC;
        v4(a, 10, 9, (uint8_t)(j >> 8), (uint8_t)j);
        pkt_init(&p, ts, 17, a, (uint16_t)(1024 + j), b, 53, 20);
        pt_flow_process(pt_flow_worker_get(t2, i % 3), &p);
    }
    for (int call = 0; call < 8; call++) {
        unsigned n1 = q1.n;
        pt_flow_table_expire(t1, 65 * SEC, false, uid_push, &q1);
        pt_flow_table_tick(t2, 65 * SEC, false, uid_push, count_ended, &q2);
        cr_assert_gt(q1.n, n1, "call %d removed nothing", call);
    }
    cr_assert_eq(q1.n, 2000);
    cr_assert_eq(q2.n, q1.n);
    cr_assert_eq(q2.ended, q2.n, "each removed flow is visited once as ended");
    for (unsigned i = 0; i < q1.n; i++)
        cr_assert_str_eq(q2.uid[i], q1.uid[i], "record %u", i);
    cr_assert_eq(pt_flow_table_count(t2), N - 2000);
    pt_flow_table_expire(t1, 0, true, NULL, NULL);
    pt_flow_table_expire(t2, 0, true, NULL, NULL);
    pt_flow_table_destroy(t1);
    pt_flow_table_destroy(t2);
    free(q1.uid);
    free(q2.uid);
}

/* The expire finds the flows of its shards in pool order (DESIGN 9), yet
 * must remove them in the order of the shards' hash walk, which the flush
 * still does: `read` output depends on it. Two tables get the same packets:
 * flows on three workers in scrambled order, slots freed and reused by
 * other keys, and flows ended on arrival beside a successor with the same
 * key (same hash: the older one first). At 100 s every flow is over; one
 * non-flush expire of every shard must give the flush's uids, in order. */
Test(flow_table, expire_removes_in_the_hash_walk_order)
{
    enum { N = 2000 };
    struct pt_flow_config c;
    struct pt_flow_table *tt[2];
    struct uid_seq q[2] = {{0}};
    uint8_t a[16], b[16];
    struct pt_pkt p;
    int err = 0;

    pt_flow_config_default(&c);
    c.shards = 16;
    c.sweep_shards = 16;
    c.workers = 3;
    c.max_flows = 3 * N;
    c.idle_udp_ns = 10 * SEC;
    v4(b, 10, 7, 0, 254);
    for (int k = 0; k < 2; k++) {
        cr_assert_not_null(tt[k] = pt_flow_table_create(&c, &err), "create: %d", err);
        q[k].cap = 2 * N;
        cr_assert_not_null(q[k].uid = calloc(q[k].cap, sizeof *q[k].uid));
        /* churn: flows that end at 12 s, so later ones reuse their slots */
        for (unsigned i = 0; i < N / 2; i++) {
            v4(a, 10, 6, (uint8_t)(i >> 8), (uint8_t)i);
            pkt_init(&p, SEC, 17, a, 5000, b, 53, 20);
            pt_flow_process(pt_flow_worker_get(tt[k], i % 3), &p);
        }
        cr_assert_eq(pt_flow_table_expire(tt[k], 12 * SEC, false, NULL, NULL), N / 2);
        rcu_barrier(); /* the freed slots are back on their workers */
        for (unsigned i = 0; i < N; i++) {
            unsigned j = (i * 7919u) % N; /* a scrambled arrival order */
            v4(a, 10, 9, (uint8_t)(j >> 8), (uint8_t)j);
            pkt_init(&p, 20 * SEC, 17, a, (uint16_t)(1024 + j), b, 53, 20);
            pt_flow_process(pt_flow_worker_get(tt[k], j % 3), &p);
            if (j % 5 == 0) { /* past the idle timeout: ends it, starts its successor */
                pkt_init(&p, 40 * SEC, 17, a, (uint16_t)(1024 + j), b, 53, 20);
                pt_flow_process(pt_flow_worker_get(tt[k], j % 3), &p);
            }
        }
    }
    cr_assert_eq(pt_flow_table_expire(tt[0], 100 * SEC, false, uid_push, &q[0]), N + N / 5);
    cr_assert_eq(pt_flow_table_expire(tt[1], 100 * SEC, true, uid_push, &q[1]), N + N / 5);
    for (unsigned i = 0; i < q[0].n; i++)
        cr_assert_str_eq(q[0].uid[i], q[1].uid[i], "record %u", i);
    for (int k = 0; k < 2; k++) {
        cr_assert_eq(pt_flow_table_count(tt[k]), 0);
        pt_flow_table_destroy(tt[k]);
        free(q[k].uid);
    }
}

/* pt_flow_process() returns what pt_flow_pkt_hash() computes (the ring's
 * cutoff relies on the two agreeing: workers use one, the offline reader the
 * other), for plain, VLAN, fragmented and tunnelled packets, on a full table
 * too; and two flows give two values. */
static size_t hashes_agree(const char *rel)
{
    char eb[PCAP_ERRBUF_SIZE];
    pcap_t *pc =
        pcap_open_offline_with_tstamp_precision(pt_test_data(rel), PCAP_TSTAMP_PRECISION_NANO, eb);
    struct pcap_pkthdr *h;
    const u_char *d;
    struct pt_decode_stats ds;
    size_t n = 0, distinct = 0;
    uint64_t prev = 0;

    cr_assert_not_null(pc, "%s: %s", rel, eb);
    pt_decode_stats_init(&ds);
    while (pcap_next_ex(pc, &h, &d) == 1) {
        struct pt_pkt p = {.data = d,
                           .caplen = h->caplen,
                           .wirelen = h->len,
                           .ts_ns =
                               (uint64_t)h->ts.tv_sec * 1000000000ull + (uint64_t)h->ts.tv_usec,
                           .linktype = pcap_datalink(pc),
                           .hw_vlan = PT_VLAN_NONE};
        pt_decode(&p, &ds);
        uint64_t got = pt_flow_process(w, &p);
        cr_assert_eq(got, pt_flow_pkt_hash(&p), "%s: packet %zu", rel, n + 1);
        cr_assert_eq(got != 0, p.n_l3 != 0, "%s: packet %zu", rel, n + 1);
        distinct += got && got != prev;
        prev = got;
        n++;
    }
    pcap_close(pc);
    cr_assert_gt(distinct, 1, "%s: more than one flow", rel);
    return n;
}

Test(flow_table, process_returns_the_packet_hash)
{
    static const char *const caps[] = {
        "pcap/bench/mixed_merged_pcapplusplus.pcap",
        "pcap/reassembly/zeek_fragmented-1.pcap",
        "pcap/reassembly/zeek_fragmented-4.pcap",
        "pcap/linktype/zeek_pcapng-multi-interface.pcapng",
        "pcap/mixed/zeek_wikipedia.pcap",
    };
    open_table(64, PT_FLOW_FULL_REFUSE, 0); /* most flows of the bench capture are refused */
    for (size_t i = 0; i < PT_ARRAY_LEN(caps); i++)
        cr_assert_gt(hashes_agree(caps[i]), 0);
    cr_assert_gt(PT_CNT_GET(pt_flow_worker_stats(w)->full_pkts), 0, "the full path was taken");
    cr_assert_gt(PT_CNT_GET(pt_flow_worker_stats(w)->frag_pkts), 0, "fragments were seen");

    for (int outer = 4; outer <= 6; outer += 2) { /* IP in IP: the inner flow's hash */
        struct tf f = {0};
        struct pt_decode_stats ds;
        struct pt_pkt p = {.linktype = PT_LINK_ETHERNET, .hw_vlan = PT_VLAN_NONE};
        tf_eth(&f, outer == 4 ? 0x0800 : 0x86dd);
        if (outer == 4)
            tf_ipv4(&f, 4, 1, 1, 2);
        else
            tf_ipv6(&f, 4, 1, 1, 2);
        tf_ipv4(&f, 17, 2, 3, 4);
        tf_udp(&f, 1111, 2222);
        tf_done(&f);
        p.data = f.b;
        p.caplen = p.wirelen = f.len;
        pt_decode_stats_init(&ds);
        pt_decode(&p, &ds);
        cr_assert_eq(p.n_l3, 2);
        uint64_t got = pt_flow_process(w, &p);
        cr_assert_eq(got, pt_flow_pkt_hash(&p));
        struct pt_pkt inner = p;
        inner.l3[0] = p.l3[1];
        inner.n_l3 = 1;
        cr_assert_eq(got, pt_flow_pkt_hash(&inner), "the innermost layer's flow");
    }
}
