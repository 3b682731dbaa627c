/* test_tcp_health.c - TCP health (src/flow/tcp_health.c): crafted segment
 * sequences for each tshark rule and each malformed case, the flow table's
 * orig/resp mapping, the record writers, and the real captures compared with
 * tshark 4.0.17 and Arkime.
 *
 * Suites:
 *   tcp_health        crafted sequences fed to pt_tcp_health_update() directly;
 *   tcp_health_table  the same through pt_flow_process() and the emitted record;
 *   tcp_health_format the JSON and CSV text of the new fields;
 *   tcp_health_ref    `packettracer read --format csv` on every shared capture that has
 *                     tests/expected/<cat>/<file>.tcp.tsv (tests/tools/gen-expected-tcp.sh):
 *                     per tshark stream and direction, retransmissions, out-of-order, dup
 *                     ACKs, lost segments, zero windows (summed over both directions, as the
 *                     record has them), initial RTT (to the microsecond), MSS, window scale,
 *                     first TTL, and the originator's DSCP; and with <file>.arkime-tcp.tsv,
 *                     Arkime's TTLs, initRTT and zero-window counts.
 * Matching: a tshark stream is one connection; the flow table may split one (a segment after
 * the Zeek-style close delay starts a new flow, as Zeek does), so the records of the same
 * address/port pair are assigned to the stream that started last at or before their first
 * packet; counts are summed over a stream's records, facts come from its first record. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/flow/internal.h"
#include "flow/flow_helpers.h"
#include "support/support.h"

/* ======================================================================== crafted sequences */

static struct pt_tcp_health H;
static struct pt_tcp_health_stats ST;

static void h_setup(void)
{
    pt_tcp_health_init(&H);
    memset(&ST, 0, sizeof ST);
}

/* One TCP segment of side @side at @t_us microseconds, window @win. */
static void seg_win(unsigned side, uint64_t t_us, uint8_t fl, uint32_t seq, uint32_t ack,
                    uint32_t len, uint16_t win)
{
    struct pt_pkt p;
    struct pt_l3 *l = &p.l3[0];

    memset(&p, 0, sizeof p);
    p.ts_ns = t_us * 1000;
    l->ver = 4;
    l->proto = 6;
    l->flags = PT_L3_L4;
    l->tcp_flags = fl;
    l->tcp_seq = seq;
    l->tcp_ack = ack;
    l->tcp_win = win;
    l->l4_len = len;
    pt_tcp_health_update(&H, &ST, side, &p, l);
}

static void seg(unsigned side, uint64_t t_us, uint8_t fl, uint32_t seq, uint32_t ack, uint32_t len)
{
    seg_win(side, t_us, fl, seq, ack, len, 1000);
}

/* A SYN (side 0) or SYN/ACK (side 1) with options. */
static void syn_opts(unsigned side, uint64_t t_us, uint32_t seq, uint32_t ack, uint16_t mss,
                     int wscale)
{
    struct pt_pkt p;
    struct pt_l3 *l = &p.l3[0];

    memset(&p, 0, sizeof p);
    p.ts_ns = t_us * 1000;
    l->proto = 6;
    l->flags = PT_L3_L4 | PT_L3_TCP_OPTS;
    l->tcp_flags = side ? F_SYN | F_ACK : F_SYN;
    l->tcp_seq = seq;
    l->tcp_ack = ack;
    l->tcp_win = 29200;
    l->tcp_opt.mss = mss;
    if (wscale >= 0) {
        l->tcp_opt.has_wscale = true;
        l->tcp_opt.wscale = (uint8_t)wscale;
    }
    pt_tcp_health_update(&H, &ST, side, &p, l);
}

/* SYN at 0, SYN/ACK at 10 ms, ACK at 12 ms; client ISN 1000, server 5000. */
static void handshake(void)
{
    syn_opts(0, 0, 1000, 0, 1460, 7);
    syn_opts(1, 10000, 5000, 1001, 1400, 8);
    seg(0, 12000, F_ACK, 1001, 5001, 0);
}

TestSuite(tcp_health, .init = h_setup);

Test(tcp_health, handshake_rtt_and_its_halves)
{
    struct pt_flow_health r;

    handshake();
    cr_assert_eq(H.hs, PT_TCPH_HS_SYN | PT_TCPH_HS_SYNACK | PT_TCPH_HS_RTT);
    cr_assert_eq(H.rtt_us, 12000);
    pt_tcp_health_fill(&r, &H, &(struct pt_ip_first){0}, 0);
    cr_assert_eq(r.rtt_valid, PT_TCPH_HS_RTT | PT_TCPH_HS_SYNACK);
    cr_assert_eq(r.rtt_ns, 12000000);
    cr_assert_eq(r.syn_synack_ns, 10000000);
    cr_assert_eq(r.synack_ack_ns, 2000000);
    cr_assert_eq(r.mss[0], 1460);
    cr_assert_eq(r.mss[1], 1400);
    cr_assert_eq(r.wscale[0], 7);
    cr_assert_eq(r.wscale[1], 8);
    cr_assert_eq(r.init_win[0], 29200);
    cr_assert_eq(r.retrans[0] + r.retrans[1] + r.ooo[0] + r.lost[0] + r.dup_acks[0], 0);
    /* a later ACK does not move the RTT */
    seg(1, 50000, F_ACK, 5001, 1001, 0);
    cr_assert_eq(H.rtt_us, 12000);
}

Test(tcp_health, rtt_from_the_last_syn_and_syn_retransmission)
{
    syn_opts(0, 0, 1000, 0, 1460, -1);
    syn_opts(0, 1000000, 1000, 0, 1460, -1); /* sent again after 1 s */
    syn_opts(1, 1010000, 5000, 1001, 1400, -1);
    seg(0, 1011000, F_ACK, 1001, 5001, 0);
    cr_assert_eq(H.rtt_us, 11000);
    cr_assert_eq(H.synack_ack_us, 1000);
    cr_assert_eq(H.d[0].retrans, 1, "the second SYN repeats sequence space");
    /* no window scale option on either SYN: scaling off both ways */
    cr_assert_eq(H.d[0].ws, -2);
    cr_assert_eq(H.d[1].ws, -2);
    cr_assert_eq(ST.err[PT_TCPH_SYN_OPTS_MISSING], 0);
}

Test(tcp_health, no_rtt_without_syn_and_ack_from_either_side_fixes_it)
{
    seg(0, 0, F_ACK, 1001, 5001, 0);
    cr_assert_eq(H.hs & PT_TCPH_HS_RTT, 0);
    syn_opts(0, 1000, 1000, 0, 0, -1);
    seg(1, 4000, F_ACK, 5001, 1001, 0); /* tshark: the first pure ACK, whoever sends it */
    cr_assert_eq(H.hs & PT_TCPH_HS_RTT, PT_TCPH_HS_RTT);
    cr_assert_eq(H.hs & PT_TCPH_HS_SYNACK, 0);
    cr_assert_eq(H.rtt_us, 3000);
}

Test(tcp_health, retransmission_after_the_rto)
{
    handshake();
    seg(0, 20000, F_ACK | F_PSH, 1001, 5001, 100);
    seg(0, 300000, F_ACK | F_PSH, 1001, 5001, 100);
    cr_assert_eq(H.d[0].retrans, 1);
    cr_assert_eq(H.d[0].ooo, 0);
    cr_assert_eq(H.d[0].lost, 0);
    cr_assert_eq(H.d[1].retrans, 0);
}

Test(tcp_health, spurious_retransmission_counts_as_retransmission)
{
    handshake();
    seg(0, 20000, F_ACK | F_PSH, 1001, 5001, 100);
    seg(1, 30000, F_ACK, 5001, 1101, 0); /* acknowledged */
    seg(0, 20100, F_ACK | F_PSH, 1001, 5001, 100);
    cr_assert_eq(H.d[0].retrans, 1);
    cr_assert_eq(H.d[0].ooo, 0, "spurious is checked before out-of-order");
}

Test(tcp_health, spurious_comes_before_out_of_order)
{
    handshake();
    seg(0, 20000, F_ACK, 1001, 5001, 100);
    seg(0, 20010, F_ACK, 1101, 5001, 100);
    seg(1, 20500, F_ACK, 5001, 1201, 0);
    seg(0, 20600, F_ACK, 1001, 5001, 100); /* within the RTT, but all of it acknowledged */
    cr_assert_eq(H.d[0].retrans, 1);
    cr_assert_eq(H.d[0].ooo, 0);
}

Test(tcp_health, data_already_acknowledged_is_spurious_even_when_new_to_us)
{
    handshake();
    seg(1, 20000, F_ACK, 5001, 1201, 0); /* ACKs 200 bytes we never saw */
    seg(0, 20100, F_ACK, 1001, 5001, 100);
    cr_assert_eq(H.d[0].retrans, 1, "tshark: spurious retransmission");
    cr_assert_eq(H.d[0].lost, 0);
}

Test(tcp_health, a_syn_sent_again_after_the_synack_restarts_the_handshake)
{
    syn_opts(0, 0, 1000, 0, 0, -1);
    syn_opts(1, 10000, 5000, 1001, 0, -1);
    syn_opts(0, 1000000, 1000, 0, 0, -1); /* the SYN/ACK was lost on the way back */
    seg(0, 1003000, F_ACK, 1001, 5001, 0);
    cr_assert_eq(H.rtt_us, 3000, "from the last SYN");
    cr_assert_eq(H.hs & PT_TCPH_HS_SYNACK, 0, "the SYN/ACK answered the earlier SYN");
    cr_assert_eq(ST.err[PT_TCPH_TIME_BACKWARDS], 0);
}

Test(tcp_health, out_of_order_within_the_rtt)
{
    handshake();                           /* RTT 12 ms */
    seg(0, 20000, F_ACK, 1101, 5001, 100); /* 1001..1101 not seen yet */
    cr_assert_eq(H.d[0].lost, 1);
    seg(0, 25000, F_ACK, 1001, 5001, 100); /* 5 ms later: within the RTT */
    cr_assert_eq(H.d[0].ooo, 1);
    cr_assert_eq(H.d[0].retrans, 0);
    cr_assert_eq(H.d[0].lost, 1);
}

Test(tcp_health, late_fill_of_a_hole_is_a_retransmission)
{
    handshake();
    seg(0, 20000, F_ACK, 1101, 5001, 100);
    seg(0, 40000, F_ACK, 1001, 5001, 100); /* 20 ms later: beyond the 12 ms RTT */
    cr_assert_eq(H.d[0].ooo, 0);
    cr_assert_eq(H.d[0].retrans, 1);
}

Test(tcp_health, out_of_order_threshold_is_3ms_without_rtt)
{
    seg(0, 0, F_ACK, 1101, 5001, 100);
    seg(0, 2000, F_ACK, 1001, 5001, 100);
    cr_assert_eq(H.d[0].ooo, 1);
    seg(0, 10000, F_ACK, 1301, 5001, 100);
    seg(0, 14000, F_ACK, 1201, 5001, 100); /* 4 ms */
    cr_assert_eq(H.d[0].ooo, 1);
    cr_assert_eq(H.d[0].retrans, 1);
}

Test(tcp_health, duplicate_acks_and_fast_retransmission)
{
    handshake();
    seg(0, 20000, F_ACK, 1001, 5001, 100);
    seg(0, 20010, F_ACK, 1201, 5001, 100); /* 1101..1201 lost */
    seg(1, 30000, F_ACK, 5001, 1101, 0);
    seg(1, 30100, F_ACK, 5001, 1101, 0);
    seg(1, 30200, F_ACK, 5001, 1101, 0);
    seg(1, 30300, F_ACK, 5001, 1101, 0);
    cr_assert_eq(H.d[1].dup_acks, 3);
    cr_assert_eq(H.d[1].dupacks, 3);
    seg(0, 31000, F_ACK, 1101, 5001, 100);
    cr_assert_eq(H.d[0].retrans, 1, "fast retransmission");
    cr_assert_eq(H.d[0].ooo, 0);
    seg(1, 32000, F_ACK, 5001, 1301, 0); /* new ACK ends the run */
    cr_assert_eq(H.d[1].dupacks, 0);
    cr_assert_eq(H.d[1].dup_acks, 3);
}

Test(tcp_health, window_update_is_not_a_duplicate_ack)
{
    handshake();
    seg_win(1, 30000, F_ACK, 5001, 1001, 0, 1000);
    seg_win(1, 30100, F_ACK, 5001, 1001, 0, 2000);
    cr_assert_eq(H.d[1].dup_acks, 0);
    seg_win(1, 30200, F_ACK, 5001, 1001, 0, 2000);
    cr_assert_eq(H.d[1].dup_acks, 1);
}

Test(tcp_health, keep_alive_is_not_a_retransmission_nor_its_ack_a_dup)
{
    handshake();
    seg(0, 20000, F_ACK, 1001, 5001, 100);
    seg(1, 21000, F_ACK, 5001, 1101, 0);
    seg(0, 60000000, F_ACK, 1100, 5001, 1); /* keep-alive with one garbage byte */
    seg(1, 60000100, F_ACK, 5001, 1101, 0); /* its ACK repeats the last one */
    seg(0, 120000000, F_ACK, 1100, 5001, 0);
    seg(1, 120000100, F_ACK, 5001, 1101, 0);
    cr_assert_eq(H.d[0].retrans, 0);
    cr_assert_eq(H.d[0].lost, 0);
    cr_assert_eq(H.d[1].dup_acks, 0);
}

Test(tcp_health, zero_window_probe_and_its_ack)
{
    handshake();
    seg_win(1, 20000, F_ACK, 5001, 1001, 0, 0); /* receiver full */
    cr_assert_eq(H.d[1].zero_win, 1);
    seg(0, 30000, F_ACK, 1001, 5001, 1); /* probe: not new data, not lost */
    seg_win(1, 30100, F_ACK, 5001, 1001, 0, 0);
    cr_assert_eq(H.d[1].zero_win, 2);
    cr_assert_eq(H.d[1].dup_acks, 0, "a probe's ACK is not a duplicate ACK");
    cr_assert_eq(H.d[0].nextseq, 1001, "a probe does not advance nextseq");
    seg(0, 40000, F_ACK, 1001, 5001, 1); /* probe again */
    cr_assert_eq(H.d[0].retrans, 0);
    cr_assert_eq(H.d[0].lost, 0);
}

Test(tcp_health, zero_window_not_counted_on_syn_fin_rst)
{
    seg_win(0, 0, F_RST, 1000, 0, 0, 0);
    seg_win(0, 10, F_FIN | F_ACK, 1000, 0, 0, 0);
    cr_assert_eq(H.d[0].zero_win, 0);
    seg_win(0, 20, F_ACK, 1001, 0, 0, 0);
    cr_assert_eq(H.d[0].zero_win, 1);
}

Test(tcp_health, lost_segment_but_not_on_rst)
{
    handshake();
    seg(0, 20000, F_ACK, 3001, 5001, 100);
    cr_assert_eq(H.d[0].lost, 1);
    seg(0, 20010, F_RST, 9001, 0, 0);
    cr_assert_eq(H.d[0].lost, 1);
}

Test(tcp_health, sequence_wrap_is_not_loss)
{
    uint32_t s = 0xffffff00u;
    seg(0, 0, F_ACK, s, 1, 0x80);
    seg(0, 10, F_ACK, s + 0x80, 1, 0x100); /* crosses 2^32 */
    seg(0, 20, F_ACK, s + 0x180, 1, 0x100);
    cr_assert_eq(H.d[0].lost, 0);
    cr_assert_eq(H.d[0].retrans, 0);
    cr_assert_eq(H.d[0].nextseq, (uint32_t)(s + 0x280));
    seg(0, 5000, F_ACK, s + 0x80, 1, 0x100); /* back across the wrap: a retransmission */
    cr_assert_eq(H.d[0].retrans, 1);
}

Test(tcp_health, window_scale_over_14_is_clamped_and_counted)
{
    syn_opts(0, 0, 1000, 0, 1460, 15);
    syn_opts(1, 10, 5000, 1001, 1460, 200);
    cr_assert_eq(ST.err[PT_TCPH_WSCALE_OVER_14], 2);
    cr_assert_eq(H.d[0].ws_opt, 14);
    cr_assert_eq(H.d[1].ws_opt, 14);
}

Test(tcp_health, synack_without_window_scale_turns_scaling_off)
{
    struct pt_flow_health r;

    syn_opts(0, 0, 1000, 0, 1460, 7);
    syn_opts(1, 10, 5000, 1001, 1460, -1);
    cr_assert_eq(H.d[0].ws, -2);
    cr_assert_eq(H.d[1].ws, -2);
    pt_tcp_health_fill(&r, &H, &(struct pt_ip_first){0}, 0);
    cr_assert_eq(r.wscale[0], 7, "the option as announced");
    cr_assert_eq(r.wscale[1], -1);
}

Test(tcp_health, windows_compared_after_scaling)
{
    handshake(); /* client shift 7 */
    /* the handshake ACK had window 1000 << 7; the same raw window is a dup */
    seg(0, 20000, F_ACK, 1001, 5001, 0);
    cr_assert_eq(H.d[0].window, 1000u << 7);
    cr_assert_eq(H.d[0].dup_acks, 1);
}

Test(tcp_health, syn_without_options_is_counted)
{
    seg(0, 0, F_SYN, 1000, 0, 0);
    cr_assert_eq(ST.err[PT_TCPH_SYN_OPTS_MISSING], 1);
    cr_assert_eq(H.d[0].mss, 0);
    cr_assert_eq(H.d[0].ws_opt, -1);
}

Test(tcp_health, frame_shorter_than_its_ip_length)
{
    struct pt_pkt p;
    struct pt_l3 *l = &p.l3[0];
    uint8_t frame[100] = {0};

    memset(&p, 0, sizeof p);
    p.data = frame;
    p.caplen = p.wirelen = sizeof frame; /* payload starts at 54: 46 bytes on the wire */
    p.ts_ns = 1000;
    l->proto = 6;
    l->flags = PT_L3_L4 | PT_L3_TRUNC;
    l->tcp_flags = F_ACK;
    l->tcp_seq = 1000;
    l->l4_len = 1448; /* the IP header's claim */
    l->payload = frame + 54;
    l->payload_caplen = 46;
    pt_tcp_health_update(&H, &ST, 0, &p, l);
    cr_assert_eq(H.d[0].nextseq, 1046);
    seg(0, 2, F_ACK, 1448 + 1000, 0, 10); /* tshark: previous segment not captured */
    cr_assert_eq(H.d[0].lost, 1);
}

Test(tcp_health, payload_pointer_outside_the_frame_falls_back_to_l4_len)
{
    struct pt_pkt p;
    struct pt_l3 *l = &p.l3[0];
    uint8_t frame[60] = {0};

    memset(&p, 0, sizeof p);
    p.data = frame;
    p.caplen = 10; /* payload pointer beyond caplen: ignored */
    p.wirelen = 10;
    l->proto = 6;
    l->flags = PT_L3_L4;
    l->tcp_seq = 7;
    l->l4_len = 20;
    l->payload = frame + 54;
    pt_tcp_health_update(&H, &ST, 0, &p, l);
    cr_assert_eq(H.d[0].nextseq, 27);
}

Test(tcp_health, fragments_and_other_protocols_are_not_analysed)
{
    struct pt_pkt p;
    struct pt_l3 *l = &p.l3[0];

    memset(&p, 0, sizeof p);
    l->proto = 6;
    l->flags = PT_L3_L4 | PT_L3_FRAG | PT_L3_FRAG_HEAD | PT_L3_MF;
    l->tcp_seq = 5;
    l->l4_len = 4;
    pt_tcp_health_update(&H, &ST, 0, &p, l);
    l->flags = PT_L3_L4;
    l->proto = 17;
    pt_tcp_health_update(&H, &ST, 0, &p, l);
    l->proto = 6;
    l->flags = 0; /* transport header not decoded */
    pt_tcp_health_update(&H, &ST, 0, &p, l);
    cr_assert_eq(H.d[0].fl & PT_TCPH_TCP_SEEN, 0);
    cr_assert_eq(H.d[0].nextseq, 0);
}

Test(tcp_health, ttl_and_dscp_first_seen_any_protocol)
{
    struct pt_ip_first ip = {0};
    struct pt_l3 l;
    struct pt_flow_health r;

    memset(&l, 0, sizeof l);
    l.proto = 17;
    l.ttl = 0; /* a TTL of 0 is a value, not "unset" */
    l.tos = 46 << 2 | 1;
    pt_ip_first_note(&ip, 1, &l);
    l.ttl = 64;
    l.tos = 0;
    pt_ip_first_note(&ip, 1, &l);
    pt_tcp_health_fill(&r, NULL, &ip, 1);
    cr_assert(r.valid);
    cr_assert_not(r.tcp);
    cr_assert(r.ip_seen[0]);
    cr_assert_not(r.ip_seen[1]);
    cr_assert_eq(r.ttl[0], 0);
    cr_assert_eq(r.dscp[0], 46);
    cr_assert_eq(r.wscale[0], -1);
}

Test(tcp_health, time_going_backwards_gives_no_rtt)
{
    syn_opts(0, 5000, 1000, 0, 0, -1);
    seg(0, 1000, F_ACK, 1001, 5001, 0); /* stamped before the SYN */
    cr_assert_eq(H.hs & PT_TCPH_HS_RTT, 0);
    cr_assert_eq(ST.err[PT_TCPH_TIME_BACKWARDS], 1);
    syn_opts(1, 9000, 5000, 1001, 0, -1);
    seg(0, 8000, F_ACK, 1001, 5001, 0); /* after the SYN, before the SYN/ACK */
    cr_assert_eq(H.rtt_us, 3000);
    cr_assert_eq(H.hs & PT_TCPH_HS_SYNACK, 0);
    cr_assert_eq(ST.err[PT_TCPH_TIME_BACKWARDS], 2);
}

Test(tcp_health, zero_rtt_is_not_yet_an_rtt)
{
    syn_opts(0, 5000, 1000, 0, 0, -1);
    seg(0, 5000, F_ACK, 1001, 5001, 0);
    cr_assert_eq(H.hs & PT_TCPH_HS_RTT, 0);
    seg(0, 5007, F_ACK, 1001, 5001, 0);
    cr_assert_eq(H.rtt_us, 7);
}

Test(tcp_health, sixteen_bit_counters_saturate_and_are_counted)
{
    for (uint32_t i = 0; i < 70000; i++)
        seg_win(0, i, F_ACK, 1000, 1, 0, 0);
    cr_assert_eq(H.d[0].zero_win, UINT16_MAX);
    cr_assert_eq(ST.err[PT_TCPH_SATURATED], 70000 - UINT16_MAX);
}

Test(tcp_health, null_stats_are_allowed)
{
    struct pt_pkt p;
    struct pt_l3 *l = &p.l3[0];

    memset(&p, 0, sizeof p);
    l->proto = 6;
    l->flags = PT_L3_L4;
    l->tcp_flags = F_SYN;
    pt_tcp_health_update(&H, NULL, 0, &p, l);
    cr_assert_eq(H.d[0].ws, -2);
}

Test(tcp_health, error_names_are_stable_and_distinct)
{
    cr_assert_str_eq(pt_tcp_health_err_name(PT_TCPH_WSCALE_OVER_14), "flow.tcp.wscale_over_14");
    cr_assert_str_eq(pt_tcp_health_err_name(PT_TCPH_SATURATED), "flow.tcp.counter_saturated");
    cr_assert_str_eq(pt_tcp_health_err_name(PT_TCPH_TIME_BACKWARDS), "flow.tcp.time_backwards");
    cr_assert_str_eq(pt_tcp_health_err_name(PT_TCPH_SYN_OPTS_MISSING),
                     "flow.tcp.syn_without_options");
    cr_assert_str_eq(pt_tcp_health_err_name(PT_TCPH_ERR_MAX), "flow.tcp.unknown");
    for (unsigned i = 0; i < PT_TCPH_ERR_MAX; i++)
        for (unsigned j = i + 1; j < PT_TCPH_ERR_MAX; j++)
            cr_assert_str_neq(pt_tcp_health_err_name(i), pt_tcp_health_err_name(j));
}

Test(tcp_health, state_sizes_as_documented)
{
    cr_assert_eq(sizeof(struct pt_tcp_health_dir), 44);
    cr_assert_eq(sizeof(struct pt_tcp_health), 100);
}

/* ======================================================================== through the table */

static struct pt_flow_table *tt;
static struct pt_flow_worker *tw;
static struct rec_list trecs;

static void t_setup(void)
{
    rcu_register_thread();
    tt = table_new(100, 1);
    cr_assert_not_null(tt);
    tw = pt_flow_worker_get(tt, 0);
    memset(&trecs, 0, sizeof trecs);
}

static void t_teardown(void)
{
    pt_flow_table_expire(tt, 0, true, NULL, NULL);
    pt_flow_table_destroy(tt);
    rcu_unregister_thread();
}

TestSuite(tcp_health_table, .init = t_setup, .fini = t_teardown);

Test(tcp_health_table, record_is_by_originator_and_stats_reach_the_worker)
{
    uint8_t c[16], s[16];
    struct pt_pkt p;

    v4(c, 10, 0, 0, 2); /* the client sorts higher: key side 1 */
    v4(s, 10, 0, 0, 1);
    /* SYN/ACK first: Zeek's flip makes its receiver the originator */
    pkt_tcp(&p, 1000 * SEC, s, 80, c, 40000, F_SYN | F_ACK, 5000, 1001, 0);
    p.l3[0].ttl = 50;
    p.l3[0].tos = 8 << 2;
    p.l3[0].flags |= PT_L3_TCP_OPTS;
    p.l3[0].tcp_opt.mss = 1380;
    p.l3[0].tcp_opt.has_wscale = true;
    p.l3[0].tcp_opt.wscale = 20;
    pt_flow_process(tw, &p);
    pkt_tcp(&p, 1000 * SEC + 1000, c, 40000, s, 80, F_ACK, 1001, 5001, 0);
    p.l3[0].ttl = 128;
    p.l3[0].tos = 0;
    pt_flow_process(tw, &p);
    pkt_tcp(&p, 1000 * SEC + 2000, c, 40000, s, 80, F_ACK, 3001, 5001, 10);
    pt_flow_process(tw, &p);
    pt_flow_table_expire(tt, 0, true, collect, &trecs);
    cr_assert_eq(trecs.n, 1);
    const struct pt_flow_record *r = &trecs.r[0];
    cr_assert_eq(r->orig_p, 40000);
    cr_assert(r->health.valid);
    cr_assert(r->health.tcp);
    cr_assert_eq(r->health.ttl[0], 128);
    cr_assert_eq(r->health.ttl[1], 50);
    cr_assert_eq(r->health.dscp[0], 0);
    cr_assert_eq(r->health.dscp[1], 8);
    cr_assert_eq(r->health.mss[1], 1380);
    cr_assert_eq(r->health.mss[0], 0);
    cr_assert_eq(r->health.wscale[1], 14);
    cr_assert_eq(r->health.lost[0], 1);
    cr_assert_eq(r->health.lost[1], 0);
    cr_assert_eq(r->health.rtt_valid, 0, "no SYN seen");
    const struct pt_flow_worker_stats *st = pt_flow_worker_stats(tw);
    cr_assert_eq(st->tcp_health.err[PT_TCPH_WSCALE_OVER_14], 1);
}

Test(tcp_health_table, a_new_flow_starts_with_fresh_health)
{
    uint8_t c[16], s[16];
    struct pt_pkt p;

    v4(c, 10, 0, 0, 1);
    v4(s, 10, 0, 0, 2);
    pkt_tcp(&p, 1000 * SEC, c, 40000, s, 80, F_ACK, 1001, 1, 0);
    p.l3[0].tcp_win = 0;
    pt_flow_process(tw, &p);
    pkt_tcp(&p, 1000 * SEC + 1, c, 40000, s, 80, F_RST, 1001, 1, 0);
    pt_flow_process(tw, &p);
    /* a SYN after the RST with a new ISN: a new connection */
    pkt_tcp(&p, 1001 * SEC, c, 40000, s, 80, F_SYN, 90000, 0, 0);
    pt_flow_process(tw, &p);
    pt_flow_table_expire(tt, 0, true, collect, &trecs);
    cr_assert_eq(trecs.n, 2);
    unsigned first = trecs.r[0].ts_ns < trecs.r[1].ts_ns ? 0 : 1;
    cr_assert_eq(trecs.r[first].health.zero_win[0], 1);
    cr_assert_eq(trecs.r[!first].health.zero_win[0], 0);
}

Test(tcp_health_table, udp_flows_carry_ttl_only)
{
    uint8_t a[16], b[16];
    struct pt_pkt p;

    v4(a, 10, 0, 0, 1);
    v4(b, 10, 0, 0, 2);
    pkt_init(&p, 1000 * SEC, 17, a, 5353, b, 5353, 10);
    p.l3[0].ttl = 255;
    p.l3[0].tos = 0xb8;
    pt_flow_process(tw, &p);
    pt_flow_table_expire(tt, 0, true, collect, &trecs);
    cr_assert_eq(trecs.n, 1);
    cr_assert(trecs.r[0].health.valid);
    cr_assert_not(trecs.r[0].health.tcp);
    cr_assert_eq(trecs.r[0].health.ttl[0], 255);
    cr_assert_eq(trecs.r[0].health.dscp[0], 46);
}

/* The TCP part of a flow lives in the table's side array (tcpx), which UDP
 * and ICMP flows never write: that keeps its pages untouched, and so a
 * table of small UDP flows at 200 bytes a flow. A TCP flow writes only the
 * entry at its own slot index. */
Test(tcp_health_table, only_tcp_flows_touch_the_tcp_side_array)
{
    uint8_t a[16], b[16];
    struct pt_pkt p;
    const uint8_t *x = (const uint8_t *)tt->tcpx;
    size_t one = sizeof *tt->tcpx, all = one * tt->per * tt->cfg.workers, nz = 0;

    v4(a, 10, 0, 0, 1);
    v4(b, 10, 0, 0, 2);
    for (uint16_t i = 0; i < 20; i++) {
        pkt_init(&p, 1000 * SEC + i, 17, a, (uint16_t)(1024 + i), b, 53, 10);
        pt_flow_process(tw, &p);
        uint8_t c[16];
        v4(c, 10, 0, 1, (uint8_t)i); /* one echo flow per peer */
        pkt_init(&p, 1000 * SEC + i, 1, a, 0, c, 0, 8);
        p.l3[0].icmp_type = 8;
        pt_flow_process(tw, &p);
    }
    for (size_t i = 0; i < all; i++)
        nz += x[i] != 0;
    cr_assert_eq(nz, 0, "%zu bytes of the TCP side array written by UDP/ICMP flows", nz);

    pkt_tcp(&p, 1001 * SEC, a, 40000, b, 80, 0x02, 1000, 0, 0);
    pt_flow_process(tw, &p);
    pt_flow_table_expire(tt, 0, true, collect, &trecs);
    size_t first = all, last = 0;
    for (size_t i = 0; i < all; i++)
        if (x[i]) {
            first = i < first ? i : first;
            last = i;
        }
    cr_assert_lt(first, all, "the TCP flow wrote its part");
    cr_assert_eq(first / one, last / one, "one entry written");
    cr_assert_eq(trecs.n, 41, "20 UDP, 20 ICMP and 1 TCP flows");
    unsigned tcp = 0;
    for (size_t i = 0; i < trecs.n; i++)
        if (trecs.r[i].proto == 6) {
            tcp++;
            cr_assert_str_eq(trecs.r[i].conn_state, "S0");
            cr_assert_str_eq(trecs.r[i].history, "S");
            cr_assert_eq(trecs.r[i].health.mss[0], 0);
        }
    cr_assert_eq(tcp, 1);
}

/* ======================================================================== record text */

static char *write_rec(const struct pt_flow_record *r, enum pt_record_format fmt)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    cr_assert_not_null(f);
    cr_assert_eq(pt_flow_record_write(f, fmt, r, NULL, 0), 0);
    fclose(f);
    return buf;
}

static void tcp_rec(struct pt_flow_record *r)
{
    memset(r, 0, sizeof *r);
    r->ts_ns = 1000000000;
    r->last_ns = 2000000000;
    r->proto = 6;
    r->ver = 4;
    r->vlan = r->inner_vlan = PT_VLAN_NONE;
    strcpy(r->conn_state, "SF");
    struct pt_flow_health *h = &r->health;
    h->valid = h->tcp = true;
    h->rtt_valid = PT_TCPH_HS_RTT;
    h->rtt_ns = 12345000;
    h->retrans[0] = 3, h->retrans[1] = 4, h->ooo[0] = 5, h->ooo[1] = 6;
    h->dup_acks[0] = 7, h->dup_acks[1] = 8, h->zero_win[0] = 9, h->zero_win[1] = 10;
    h->lost[0] = 11, h->lost[1] = 12, h->mss[0] = 1460, h->mss[1] = 0;
    h->wscale[0] = 0, h->wscale[1] = -1;
    h->ip_seen[0] = h->ip_seen[1] = true;
    h->ttl[0] = 64, h->ttl[1] = 0, h->dscp[0] = 46, h->dscp[1] = 10;
}

TestSuite(tcp_health_format);

Test(tcp_health_format, json_fields)
{
    struct pt_flow_record r;
    tcp_rec(&r);
    char *s = write_rec(&r, PT_FMT_JSON);
    cr_assert_not_null(strstr(s, ",\"tcp_rtt\":0.012345,\"orig_retrans\":3,\"resp_retrans\":4,"
                                 "\"orig_ooo\":5,\"resp_ooo\":6,\"orig_dup_acks\":7,"
                                 "\"resp_dup_acks\":8,\"zero_windows\":19,\"orig_lost\":11,"
                                 "\"resp_lost\":12,\"orig_mss\":1460,\"orig_wscale\":0,"
                                 "\"orig_ttl\":64,\"resp_ttl\":0,\"dscp\":46,\"community_id\""),
                       "%s", s);
    cr_assert_null(strstr(s, "resp_mss"), "MSS 0 = not seen");
    cr_assert_null(strstr(s, "resp_wscale"));
    free(s);
}

Test(tcp_health_format, json_omits_what_is_not_known)
{
    struct pt_flow_record r;
    tcp_rec(&r);
    r.health.rtt_valid = 0;
    r.health.ip_seen[0] = false;
    char *s = write_rec(&r, PT_FMT_JSON);
    cr_assert_null(strstr(s, "tcp_rtt"), "%s", s);
    cr_assert_null(strstr(s, "orig_ttl"), "%s", s);
    cr_assert_not_null(strstr(s, "\"dscp\":10"), "the responder's when the originator's is unseen");
    free(s);
    r.health.tcp = false; /* not TCP: only TTL and DSCP */
    s = write_rec(&r, PT_FMT_JSON);
    cr_assert_null(strstr(s, "retrans"), "%s", s);
    cr_assert_not_null(strstr(s, "\"resp_ttl\":0,\"dscp\":10,"), "%s", s);
    free(s);
    r.health.valid = false; /* read back from the store */
    s = write_rec(&r, PT_FMT_JSON);
    cr_assert_null(strstr(s, "ttl"), "%s", s);
    cr_assert_null(strstr(s, "dscp"), "%s", s);
    free(s);
}

Test(tcp_health_format, csv_header_and_row)
{
    struct pt_flow_record r;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    pt_flow_record_csv_header(f);
    fclose(f);
    const char *tail =
        "community_id,end_reason,tcp_rtt,orig_retrans,resp_retrans,orig_ooo,"
        "resp_ooo,orig_dup_acks,resp_dup_acks,zero_windows,orig_lost,resp_lost,"
        "orig_mss,resp_mss,orig_wscale,resp_wscale,orig_ttl,resp_ttl,dscp,service,app,"
        "orig_fqdn,resp_fqdn,orig_cc,resp_cc,orig_asn,resp_asn,orig_rtp_jitter,resp_rtp_jitter,"
        "orig_rtp_max_jitter,resp_rtp_max_jitter,orig_rtp_lost,resp_rtp_lost\n";
    cr_assert(len > strlen(tail) && strcmp(buf + len - strlen(tail), tail) == 0, "%s", buf);
    free(buf);

    tcp_rec(&r);
    char *s = write_rec(&r, PT_FMT_CSV);
    /* then service, app (a TCP flow: "unknown" when undetected), the enrichment and RTP */
    const char *row = ",idle,0.012345,3,4,5,6,7,8,19,11,12,1460,,0,,64,0,46,,unknown,,,,,,,,,,,,\n";
    cr_assert(strlen(s) > strlen(row) && strcmp(s + strlen(s) - strlen(row), row) == 0, "%s", s);
    free(s);
    r.health.valid = false;
    s = write_rec(&r, PT_FMT_CSV);
    row = ",idle,,,,,,,,,,,,,,,,,,,unknown,,,,,,,,,,,,\n";
    cr_assert(strcmp(s + strlen(s) - strlen(row), row) == 0, "%s", s);
    free(s);
}

/* ======================================================================== shared captures */

struct csv {
    char **cell; /* rows * cols, row 0 = header */
    size_t rows, cols;
    char *buf;
};

/* Parse our CSV (RFC 4180 quoting) in place. */
static void csv_parse(char *s, struct csv *c)
{
    size_t cap = 4096, n = 0, cols = 0, row_cells = 0;

    memset(c, 0, sizeof *c);
    c->buf = s;
    c->cell = malloc(cap * sizeof *c->cell);
    cr_assert_not_null(c->cell);
    while (*s) {
        char *out = s, *start = s;
        if (*s == '"') {
            s++;
            for (;;) {
                cr_assert(*s, "unterminated quote");
                if (*s == '"' && s[1] == '"') {
                    *out++ = '"';
                    s += 2;
                } else if (*s == '"') {
                    s++;
                    break;
                } else {
                    *out++ = *s++;
                }
            }
        } else {
            while (*s && *s != ',' && *s != '\n')
                out++, s++;
        }
        char sep = *s;
        *out = '\0';
        if (sep)
            s++;
        if (n == cap) {
            c->cell = realloc(c->cell, (cap *= 2) * sizeof *c->cell);
            cr_assert_not_null(c->cell);
        }
        c->cell[n++] = start;
        row_cells++;
        if (sep != ',') {
            if (!cols)
                cols = row_cells;
            cr_assert_eq(row_cells, cols, "ragged CSV row %zu", n / cols);
            row_cells = 0;
        }
    }
    c->cols = cols;
    c->rows = cols ? n / cols : 0;
}

static const char *cell(const struct csv *c, size_t row, const char *name)
{
    for (size_t i = 0; i < c->cols; i++)
        if (strcmp(c->cell[i], name) == 0)
            return c->cell[row * c->cols + i];
    cr_assert_fail("no column %s", name);
    return NULL;
}

/* Parameters: one per tests/expected/<cat>/<file><suffix>. */
struct ref_param {
    char tsv[512];     /* tests/expected/... relative to the checkout */
    char capture[512]; /* pcap/<cat>/<file> relative to the test data */
};

static struct ref_param *params_list(const char *suffix, size_t *n)
{
    char base[4096];
    size_t cap = 64, sl = strlen(suffix);
    struct ref_param *v = cr_malloc(cap * sizeof *v);
    DIR *top;
    struct dirent *c;

    *n = 0;
    snprintf(base, sizeof base, "%s", pt_test_src("tests/expected"));
    if (!v || !(top = opendir(base)))
        return v;
    while ((c = readdir(top))) {
        char path[8192];
        DIR *sub;
        struct dirent *f;
        if (c->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s", base, c->d_name);
        if (!(sub = opendir(path)))
            continue;
        while ((f = readdir(sub)) && *n < cap) {
            size_t fl = strlen(f->d_name);
            if (fl <= sl || strcmp(f->d_name + fl - sl, suffix))
                continue;
            snprintf(v[*n].tsv, sizeof v[*n].tsv, "tests/expected/%.100s/%.300s", c->d_name,
                     f->d_name);
            snprintf(v[*n].capture, sizeof v[*n].capture, "pcap/%.100s/%.*s", c->d_name,
                     (int)(fl - sl), f->d_name);
            (*n)++;
        }
        closedir(sub);
    }
    closedir(top);
    return v;
}

static void params_free(struct criterion_test_params *crp)
{
    cr_free(crp->params);
}

static void read_capture(const char *capture, struct csv *c)
{
    char cmd[8192], *out = NULL;

    snprintf(cmd, sizeof cmd, "'%s' read --format csv '%s' 2>/dev/null", pt_test_bin(),
             pt_test_data(capture));
    cr_assert_eq(pt_test_run(cmd, &out, NULL), 0, "%s failed", cmd);
    csv_parse(out, c);
    cr_assert_gt(c->rows, 0, "no CSV header from %s", cmd);
}

static bool addr_eq(const char *a, const char *b)
{
    uint8_t x[16], y[16];
    int fx = strchr(a, ':') ? AF_INET6 : AF_INET, fy = strchr(b, ':') ? AF_INET6 : AF_INET;
    if (fx != fy || inet_pton(fx, a, x) != 1 || inet_pton(fy, b, y) != 1)
        return false;
    return memcmp(x, y, fx == AF_INET ? 4 : 16) == 0;
}

/* One tshark row (stream and direction) of a .tcp.tsv. */
enum {
    T_STREAM,
    T_SRC,
    T_SPORT,
    T_DST,
    T_DPORT,
    T_PKTS,
    T_RETRANS,
    T_OOO,
    T_DUP,
    T_ZW,
    T_LOST,
    T_RTT,
    T_MSS,
    T_WS,
    T_TTL,
    T_DSCP,
    T_TS,
    T_NCOLS
};

struct trow {
    char *f[T_NCOLS];
    double ts;
};

static size_t tsv_rows(char *buf, struct trow *rows, size_t max, size_t ncols)
{
    size_t n = 0;
    for (char *save = NULL, *line = strtok_r(buf, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        if (line[0] == '#')
            continue;
        cr_assert_lt(n, max, "too many rows");
        size_t k = 0;
        for (char *s2 = NULL, *t = strtok_r(line, "\t", &s2); t && k < ncols;
             t = strtok_r(NULL, "\t", &s2))
            rows[n].f[k++] = t;
        cr_assert_eq(k, ncols, "short row");
        n++;
    }
    return n;
}

/* Known, explained differences from tshark: (capture, stream, field, ours, tshark, why). Each
 * excuses exactly that combination. */
struct exc {
    const char *capture, *stream, *field, *ours, *theirs, *why;
};
static const struct exc tshark_exceptions[] = {
    {"pcap/bench/mixed_merged_pcapplusplus.pcap", "134", "retrans", "6", "7",
     "the client's FIN is sent again 5 s after both FINs: past the close delay it starts a new "
     "flow (as Zeek does), whose first segment has nothing to repeat; tshark keeps one stream"},
    {NULL, NULL, NULL, NULL, NULL, NULL},
};

static bool excused(const char *capture, const char *stream, const char *field, const char *ours,
                    const char *theirs)
{
    for (const struct exc *e = tshark_exceptions; e->capture; e++)
        if (!strcmp(e->capture, capture) && !strcmp(e->stream, stream) &&
            !strcmp(e->field, field) && !strcmp(e->ours, ours) && !strcmp(e->theirs, theirs))
            return true;
    return false;
}

struct diffs {
    unsigned n;
    char first[512];
};

static void diff(struct diffs *d, const char *cap, const char *stream, const char *field,
                 const char *ours, const char *theirs)
{
    if (excused(cap, stream, field, ours, theirs))
        return;
    if (!d->n++)
        snprintf(d->first, sizeof d->first, "%.200s stream %.20s %.20s: ours %.40s, tshark %.40s",
                 cap, stream, field, ours, theirs);
}

static void diff_num(struct diffs *d, const char *cap, const char *stream, const char *field,
                     unsigned long long ours, const char *theirs)
{
    char o[32];
    snprintf(o, sizeof o, "%llu", ours);
    if (strcmp(o, theirs))
        diff(d, cap, stream, field, o, theirs);
}

static unsigned long long num(const char *s)
{
    return *s ? strtoull(s, NULL, 10) : 0;
}

/* Does record @i of @c join the two endpoints of tshark row @t? *@orig_is_src: the row's
 * sender is the record's originator. */
static bool rec_matches(const struct csv *c, size_t i, const struct trow *t, bool *orig_is_src)
{
    const char *oh = cell(c, i, "id.orig_h"), *op = cell(c, i, "id.orig_p");
    const char *rh = cell(c, i, "id.resp_h"), *rp = cell(c, i, "id.resp_p");

    if (strcmp(cell(c, i, "proto"), "tcp"))
        return false;
    if (addr_eq(oh, t->f[T_SRC]) && !strcmp(op, t->f[T_SPORT]) && addr_eq(rh, t->f[T_DST]) &&
        !strcmp(rp, t->f[T_DPORT])) {
        *orig_is_src = true;
        return true;
    }
    if (addr_eq(rh, t->f[T_SRC]) && !strcmp(rp, t->f[T_SPORT]) && addr_eq(oh, t->f[T_DST]) &&
        !strcmp(op, t->f[T_DPORT])) {
        *orig_is_src = false;
        return true;
    }
    return false;
}

#define MAX_ROWS 4096

/* The stream start of every row: the earlier first_ts of its stream's rows. */
static void stream_starts(struct trow *t, size_t n)
{
    for (size_t i = 0; i < n; i++)
        t[i].ts = strtod(t[i].f[T_TS], NULL);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++)
            if (!strcmp(t[i].f[T_STREAM], t[j].f[T_STREAM]) && t[j].ts < t[i].ts)
                t[i].ts = t[j].ts;
}

/* The stream record @i belongs to: among rows joining its endpoints, the one whose stream
 * started last at or before the record (1 us of slack: our times are rounded to the us). */
static const struct trow *rec_stream(const struct csv *c, size_t i, const struct trow *t, size_t n)
{
    const struct trow *best = NULL;
    double ts = strtod(cell(c, i, "ts"), NULL);
    bool o;

    for (size_t k = 0; k < n; k++)
        if (rec_matches(c, i, &t[k], &o) && t[k].ts <= ts + 1e-6 && (!best || t[k].ts > best->ts))
            best = &t[k];
    return best;
}

ParameterizedTestParameters(tcp_health_ref, tshark)
{
    size_t n = 0;
    struct ref_param *v = params_list(".tcp.tsv", &n);
    return cr_make_param_array(struct ref_param, v, n, params_free);
}

ParameterizedTest(struct ref_param *p, tcp_health_ref, tshark, .timeout = 120)
{
    struct csv c;
    struct diffs d = {0};
    char *tsv = pt_test_slurp(pt_test_src(p->tsv), NULL);
    struct trow *t = calloc(MAX_ROWS, sizeof *t);
    unsigned checked = 0;

    cr_assert_not_null(tsv, "%s", p->tsv);
    cr_assert_not_null(t);
    size_t n = tsv_rows(tsv, t, MAX_ROWS, T_NCOLS);
    cr_assert_gt(n, 0, "%s has no rows", p->tsv);
    stream_starts(t, n);
    read_capture(p->capture, &c);
    const struct trow **rs = calloc(c.rows, sizeof *rs);
    cr_assert_not_null(rs);
    for (size_t i = 1; i < c.rows; i++)
        rs[i] = rec_stream(&c, i, t, n);

    for (size_t k = 0; k < n; k++) {
        unsigned long long rx = 0, ooo = 0, dup = 0, lost = 0, zw = 0;
        size_t first = 0;
        double first_ts = 0;
        bool any = false, first_orig = false;

        for (size_t i = 1; i < c.rows; i++) {
            bool orig_is_src;
            if (!rs[i] || strcmp(rs[i]->f[T_STREAM], t[k].f[T_STREAM]) ||
                !rec_matches(&c, i, &t[k], &orig_is_src))
                continue;
            const char *dir = orig_is_src ? "orig" : "resp";
            char name[32];
            snprintf(name, sizeof name, "%s_retrans", dir);
            rx += num(cell(&c, i, name));
            snprintf(name, sizeof name, "%s_ooo", dir);
            ooo += num(cell(&c, i, name));
            snprintf(name, sizeof name, "%s_dup_acks", dir);
            dup += num(cell(&c, i, name));
            snprintf(name, sizeof name, "%s_lost", dir);
            lost += num(cell(&c, i, name));
            zw += num(cell(&c, i, "zero_windows"));
            double ts = strtod(cell(&c, i, "ts"), NULL);
            if (!any || ts < first_ts)
                first = i, first_ts = ts, first_orig = orig_is_src;
            any = true;
        }
        const char *cap = p->capture, *sid = t[k].f[T_STREAM];
        if (!any) {
            diff(&d, cap, sid, "record", "none", "a stream");
            continue;
        }
        checked++;
        diff_num(&d, cap, sid, "retrans", rx, t[k].f[T_RETRANS]);
        diff_num(&d, cap, sid, "ooo", ooo, t[k].f[T_OOO]);
        diff_num(&d, cap, sid, "dup_acks", dup, t[k].f[T_DUP]);
        diff_num(&d, cap, sid, "lost", lost, t[k].f[T_LOST]);
        /* zero_windows: the record's sum over both directions, the stream's rows summed */
        unsigned long long tzw = 0;
        for (size_t j = 0; j < n; j++)
            if (!strcmp(t[j].f[T_STREAM], sid))
                tzw += num(t[j].f[T_ZW]);
        char b[32];
        snprintf(b, sizeof b, "%llu", tzw);
        diff_num(&d, cap, sid, "zero_windows", zw, b);

        const char *dir = first_orig ? "orig" : "resp";
        char name[32];
        const char *v;
        snprintf(name, sizeof name, "%s_mss", dir);
        v = cell(&c, first, name);
        if (strcmp(*v ? v : "-", t[k].f[T_MSS]))
            diff(&d, cap, sid, "mss", *v ? v : "-", t[k].f[T_MSS]);
        snprintf(name, sizeof name, "%s_wscale", dir);
        v = cell(&c, first, name);
        if (strcmp(*v ? v : "-", t[k].f[T_WS]))
            diff(&d, cap, sid, "wscale", *v ? v : "-", t[k].f[T_WS]);
        snprintf(name, sizeof name, "%s_ttl", dir);
        v = cell(&c, first, name);
        if (strcmp(*v ? v : "-", t[k].f[T_TTL]))
            diff(&d, cap, sid, "ttl", *v ? v : "-", t[k].f[T_TTL]);
        if (first_orig && strcmp(cell(&c, first, "dscp"), t[k].f[T_DSCP]))
            diff(&d, cap, sid, "dscp", cell(&c, first, "dscp"), t[k].f[T_DSCP]);
        v = cell(&c, first, "tcp_rtt");
        const char *trtt = t[k].f[T_RTT];
        if (strcmp(trtt, "-") == 0 || !*v) {
            if (strcmp(trtt, "-") || *v)
                diff(&d, cap, sid, "tcp_rtt", *v ? v : "-", trtt);
        } else if (fabs(strtod(v, NULL) - strtod(trtt, NULL)) > 1.0e-6) {
            diff(&d, cap, sid, "tcp_rtt", v, trtt);
        }
    }
    cr_expect_gt(checked, 0);
    cr_expect_eq(d.n, 0, "%u differences from tshark; first: %s", d.n, d.first);
    free(rs);
    free(c.cell);
    free(c.buf);
    free(t);
    free(tsv);
}

/* Arkime: source = originator. TTL lists must contain our first TTL (and equal it when Arkime
 * saw one value, as it lists each TTL once); initRTT is half the handshake RTT in whole
 * milliseconds (Arkime's own convention, checked on these captures); Arkime counts zero-window
 * segments including FINs, which tshark's rule (and ours) excludes, so ours may only be lower. */
enum { A_SRC, A_SPORT, A_DST, A_DPORT, A_STTL, A_DTTL, A_SZERO, A_DZERO, A_RTT, A_NCOLS };

ParameterizedTestParameters(tcp_health_ref, arkime)
{
    size_t n = 0;
    struct ref_param *v = params_list(".arkime-tcp.tsv", &n);
    return cr_make_param_array(struct ref_param, v, n, params_free);
}

static bool ttl_in(const char *ours, const char *list)
{
    bool found = false;
    char tmp[256];
    snprintf(tmp, sizeof tmp, "%s", list);
    for (char *s = NULL, *x = strtok_r(tmp, ",", &s); x; x = strtok_r(NULL, ",", &s))
        found |= strcmp(x, ours) == 0;
    return found;
}

ParameterizedTest(struct ref_param *p, tcp_health_ref, arkime, .timeout = 60)
{
    struct csv c;
    char *tsv = pt_test_slurp(pt_test_src(p->tsv), NULL);
    struct trow t[64];

    cr_assert_not_null(tsv, "%s", p->tsv);
    size_t n = tsv_rows(tsv, t, 64, A_NCOLS);
    cr_assert_gt(n, 0);
    read_capture(p->capture, &c);
    for (size_t k = 0; k < n; k++) {
        char **a = t[k].f;
        size_t i;
        for (i = 1; i < c.rows; i++)
            if (!strcmp(cell(&c, i, "proto"), "tcp") &&
                addr_eq(cell(&c, i, "id.orig_h"), a[A_SRC]) &&
                !strcmp(cell(&c, i, "id.orig_p"), a[A_SPORT]) &&
                addr_eq(cell(&c, i, "id.resp_h"), a[A_DST]) &&
                !strcmp(cell(&c, i, "id.resp_p"), a[A_DPORT]))
                break;
        cr_assert_lt(i, c.rows, "%s: no record %s:%s -> %s:%s", p->capture, a[A_SRC], a[A_SPORT],
                     a[A_DST], a[A_DPORT]);
        const char *ot = cell(&c, i, "orig_ttl"), *rt = cell(&c, i, "resp_ttl");
        cr_expect(ttl_in(ot, a[A_STTL]), "%s orig_ttl %s vs %s", p->capture, ot, a[A_STTL]);
        cr_expect(ttl_in(rt, a[A_DTTL]), "%s resp_ttl %s vs %s", p->capture, rt, a[A_DTTL]);
        unsigned long long zw = num(cell(&c, i, "zero_windows"));
        cr_expect_leq(zw, num(a[A_SZERO]) + num(a[A_DZERO]), "%s zero_windows", p->capture);
        const char *rtt = cell(&c, i, "tcp_rtt");
        if (strcmp(a[A_RTT], "-") && *rtt) {
            unsigned long long half_ms = (unsigned long long)(strtod(rtt, NULL) * 1e6 + 0.5) / 2000;
            cr_expect_eq(half_ms, num(a[A_RTT]), "%s initRTT: ours %s s, Arkime %s ms", p->capture,
                         rtt, a[A_RTT]);
        }
    }
    free(c.cell);
    free(c.buf);
    free(tsv);
}
