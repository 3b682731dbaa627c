/* test_tcp.c - Zeek conn_state, history and sizes on crafted TCP sequences. */
#include <criterion/criterion.h>
#include <string.h>

#include "flow/flow_helpers.h"

static struct pt_flow_table *t;
static struct pt_flow_worker *w;
static struct rec_list recs;
static uint8_t C[16], S[16];
static uint64_t now;

static void setup(void)
{
    rcu_register_thread();
    t = table_new(1000, 1);
    cr_assert_not_null(t);
    w = pt_flow_worker_get(t, 0);
    memset(&recs, 0, sizeof recs);
    v4(C, 10, 0, 0, 1);
    v4(S, 10, 0, 0, 2);
    now = 1000 * SEC;
}

static void teardown(void)
{
    pt_flow_table_expire(t, 0, true, NULL, NULL);
    pt_flow_table_destroy(t);
    rcu_unregister_thread();
}

/* client -> server / server -> client segments, 1 ms apart */
static void c2s(uint8_t fl, uint32_t seq, uint32_t ack, uint32_t len)
{
    struct pt_pkt p;
    now += 1000000;
    pkt_tcp(&p, now, C, 40000, S, 80, fl, seq, ack, len);
    pt_flow_process(w, &p);
}

static void s2c(uint8_t fl, uint32_t seq, uint32_t ack, uint32_t len)
{
    struct pt_pkt p;
    now += 1000000;
    pkt_tcp(&p, now, S, 80, C, 40000, fl, seq, ack, len);
    pt_flow_process(w, &p);
}

static const struct pt_flow_record *finish(void)
{
    pt_flow_table_expire(t, now, true, collect, &recs);
    cr_assert_eq(recs.n, 1, "records: %u", recs.n);
    return &recs.r[0];
}

static void handshake(void)
{
    c2s(F_SYN, 1000, 0, 0);
    s2c(F_SYN | F_ACK, 5000, 1001, 0);
    c2s(F_ACK, 1001, 5001, 0);
}

TestSuite(flow_tcp, .init = setup, .fini = teardown);

Test(flow_tcp, s0_syn_only)
{
    c2s(F_SYN, 1000, 0, 0);
    const struct pt_flow_record *r = finish();
    cr_assert_str_eq(r->conn_state, "S0");
    cr_assert_str_eq(r->history, "S");
    cr_assert_eq(r->orig_pkts, 1);
    cr_assert_eq(r->resp_pkts, 0);
    cr_assert_eq(r->orig_p, 40000);
    cr_assert_eq(r->orig_bytes, 0);
}

Test(flow_tcp, sf_full_connection)
{
    handshake();
    c2s(F_ACK | F_PSH, 1001, 5001, 100);
    s2c(F_ACK, 5001, 1101, 0);
    s2c(F_ACK | F_PSH, 5001, 1101, 200);
    c2s(F_FIN | F_ACK, 1101, 5201, 0);
    s2c(F_FIN | F_ACK, 5201, 1102, 0);
    c2s(F_ACK, 1102, 5202, 0);
    const struct pt_flow_record *r = finish();
    cr_assert_str_eq(r->conn_state, "SF");
    cr_assert_str_eq(r->history, "ShADadFf");
    cr_assert_eq(r->orig_bytes, 100);
    cr_assert_eq(r->resp_bytes, 200);
    cr_assert_eq(r->orig_pkts, 5);
    cr_assert_eq(r->resp_pkts, 4);
    cr_assert_eq(r->orig_ip_bytes, 5 * 40 + 100);
    cr_assert_eq(r->resp_ip_bytes, 4 * 40 + 200);
    cr_assert_eq(r->missed_bytes, 0);
    cr_assert_eq(r->orig_tcp_flags, F_SYN | F_ACK | F_PSH | F_FIN);
}

Test(flow_tcp, rej)
{
    c2s(F_SYN, 1000, 0, 0);
    s2c(F_RST | F_ACK, 0, 1001, 0);
    const struct pt_flow_record *r = finish();
    cr_assert_str_eq(r->conn_state, "REJ");
    cr_assert_str_eq(r->history, "Sr");
}

Test(flow_tcp, rsto_and_rstr)
{
    handshake();
    c2s(F_RST, 1001, 0, 0);
    const struct pt_flow_record *r = finish();
    cr_assert_str_eq(r->conn_state, "RSTO");
    cr_assert_str_eq(r->history, "ShAR");
}

Test(flow_tcp, rstr)
{
    handshake();
    c2s(F_ACK | F_PSH, 1001, 5001, 10);
    s2c(F_RST | F_ACK, 5001, 1011, 0);
    const struct pt_flow_record *r = finish();
    cr_assert_str_eq(r->conn_state, "RSTR");
    cr_assert_str_eq(r->history, "ShADr");
    cr_assert_eq(r->orig_bytes, 10);
}

Test(flow_tcp, rstos0)
{
    c2s(F_SYN, 1000, 0, 0);
    c2s(F_RST, 1001, 0, 0);
    const struct pt_flow_record *r = finish();
    cr_assert_str_eq(r->conn_state, "RSTOS0");
    cr_assert_str_eq(r->history, "SR");
}

Test(flow_tcp, sh_syn_then_fin)
{
    c2s(F_SYN, 1000, 0, 0);
    c2s(F_FIN, 1001, 0, 0);
    const struct pt_flow_record *r = finish();
    cr_assert_str_eq(r->conn_state, "SH");
    cr_assert_str_eq(r->history, "SF");
}

Test(flow_tcp, s1_established)
{
    handshake();
    const struct pt_flow_record *r = finish();
    cr_assert_str_eq(r->conn_state, "S1");
    cr_assert_str_eq(r->history, "ShA");
}

Test(flow_tcp, oth_mid_stream)
{
    c2s(F_ACK | F_PSH, 7000, 9000, 10);
    s2c(F_ACK, 9000, 7010, 0);
    const struct pt_flow_record *r = finish();
    cr_assert_str_eq(r->conn_state, "OTH");
    cr_assert_str_eq(r->history, "Da");
    cr_assert_eq(r->orig_p, 40000);
    cr_assert_eq(r->resp_p, 80);
    cr_assert_eq(r->orig_bytes, 10);
}

Test(flow_tcp, mid_stream_from_server_port_flips)
{
    s2c(F_ACK | F_PSH, 9000, 7000, 50);
    c2s(F_ACK, 7000, 9050, 0);
    const struct pt_flow_record *r = finish();
    cr_assert_str_eq(r->history, "^dA");
    cr_assert_eq(r->orig_p, 40000, "client is the originator");
    cr_assert_eq(memcmp(r->orig_h, C, 16), 0);
    cr_assert_eq(r->resp_bytes, 50);
}

/* Zeek's missing-syn baseline: ^hADdFaf, SF */
Test(flow_tcp, flip_when_synack_first)
{
    s2c(F_SYN | F_ACK, 5000, 1001, 0);
    c2s(F_ACK, 1001, 5001, 0);
    c2s(F_ACK | F_PSH, 1001, 5001, 100);
    s2c(F_ACK | F_PSH, 5001, 1101, 200);
    c2s(F_FIN | F_ACK, 1101, 5201, 0);
    s2c(F_ACK, 5201, 1102, 0);
    s2c(F_FIN | F_ACK, 5201, 1102, 0);
    c2s(F_ACK, 1102, 5202, 0);
    const struct pt_flow_record *r = finish();
    cr_assert_str_eq(r->history, "^hADdFaf");
    cr_assert_str_eq(r->conn_state, "SF");
    cr_assert_eq(memcmp(r->orig_h, C, 16), 0);
    cr_assert_eq(r->orig_bytes, 100);
    cr_assert_eq(r->resp_bytes, 200);
}

Test(flow_tcp, retransmission)
{
    handshake();
    c2s(F_ACK | F_PSH, 1001, 5001, 100);
    c2s(F_ACK | F_PSH, 1001, 5001, 100);
    s2c(F_ACK, 5001, 1101, 0);
    const struct pt_flow_record *r = finish();
    cr_assert_str_eq(r->history, "ShADTa");
    cr_assert_eq(r->orig_bytes, 100, "a retransmission adds no sequence space");
}

Test(flow_tcp, retransmissions_scale_by_ten)
{
    handshake();
    c2s(F_ACK | F_PSH, 1001, 5001, 100);
    for (int i = 0; i < 10; i++)
        c2s(F_ACK | F_PSH, 1001, 5001, 100);
    const struct pt_flow_record *r = finish();
    cr_assert_str_eq(r->history, "ShADTT");
}

Test(flow_tcp, zero_window)
{
    struct pt_pkt p;
    handshake();
    now += 1000;
    pkt_tcp(&p, now, S, 80, C, 40000, F_ACK, 5001, 1001, 0);
    p.l3[0].tcp_win = 0;
    pt_flow_process(w, &p);
    const struct pt_flow_record *r = finish();
    cr_assert_str_eq(r->history, "ShAaw");
}

Test(flow_tcp, missed_bytes_on_gap)
{
    handshake();
    c2s(F_ACK | F_PSH, 1001, 5001, 100);
    /* 1101..1200 never captured */
    c2s(F_ACK | F_PSH, 1201, 5001, 100);
    s2c(F_ACK, 5001, 1301, 0);
    const struct pt_flow_record *r = finish();
    cr_assert_eq(r->missed_bytes, 100);
    cr_assert_eq(r->orig_bytes, 300);
    cr_assert_str_eq(r->history, "ShADaG");
}

Test(flow_tcp, reordered_segment_is_not_a_gap)
{
    handshake();
    c2s(F_ACK | F_PSH, 1101, 5001, 100);
    c2s(F_ACK | F_PSH, 1001, 5001, 100);
    s2c(F_ACK, 5001, 1201, 0);
    const struct pt_flow_record *r = finish();
    cr_assert_eq(r->missed_bytes, 0);
    cr_assert_eq(r->orig_bytes, 200);
}

Test(flow_tcp, header_only_capture_is_missed)
{
    struct pt_pkt p;
    handshake();
    now += 1000;
    pkt_tcp(&p, now, C, 40000, S, 80, F_ACK | F_PSH, 1001, 5001, 500);
    p.l3[0].payload_caplen = 0;
    pt_flow_process(w, &p);
    s2c(F_ACK, 5001, 1501, 0);
    const struct pt_flow_record *r = finish();
    cr_assert_eq(r->missed_bytes, 500);
    cr_assert_eq(r->orig_bytes, 500);
}

Test(flow_tcp, syn_on_closed_connection_starts_a_new_flow)
{
    handshake();
    c2s(F_FIN | F_ACK, 1001, 5001, 0);
    s2c(F_FIN | F_ACK, 5001, 1002, 0);
    c2s(F_ACK, 1002, 5002, 0);
    c2s(F_SYN, 90000, 0, 0); /* new ISN, same ports */
    c2s(F_SYN, 90000, 0, 0); /* its retransmission stays in the new flow */
    pt_flow_table_expire(t, now, true, collect, &recs);
    cr_assert_eq(recs.n, 2, "n=%u restarted=%lu", recs.n,
                 (unsigned long)PT_CNT_GET(pt_flow_worker_stats(w)->flows_restarted));
    if (recs.r[0].ts_ns > recs.r[1].ts_ns) { /* a sweep's order is the table's, not time's */
        struct pt_flow_record tmp = recs.r[0];
        recs.r[0] = recs.r[1];
        recs.r[1] = tmp;
    }
    cr_assert_str_eq(recs.r[0].conn_state, "SF");
    cr_assert_eq(recs.r[0].end_reason, PT_FLOW_END_CLOSED);
    cr_assert_str_eq(recs.r[1].conn_state, "S0");
    cr_assert_str_eq(recs.r[1].history, "S");
    cr_assert_eq(recs.r[1].orig_pkts, 2);
    cr_assert_str_neq(recs.r[0].uid, recs.r[1].uid);
    cr_assert_eq(PT_CNT_GET(pt_flow_worker_stats(w)->flows_restarted), 1);
}
