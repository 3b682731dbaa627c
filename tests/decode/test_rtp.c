/* test_rtp.c - the RTP header parse and the per-direction arithmetic alone
 * (src/decode/rtp.c). The jitter values against tshark are checked end to
 * end in tests/flow/test_rtp.c; here: the clock table against RFC 3551, the
 * header fields, and what captures cannot show cheaply (a stream hours
 * long, the cap on |D|). */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "pt/rtp.h"

/* RFC 3551 tables 4 and 5 (clock rates of the static payload types), with
 * the reserved 1, 2 and 19 at 8000 Hz as Wireshark has them. */
Test(decode_rtp, clock_rates_are_rfc3551)
{
    unsigned want[128] = {0};
    static const unsigned k8[] = {0, 1, 2, 3, 4, 5, 7, 8, 9, 12, 13, 15, 18, 19};
    static const unsigned k90[] = {14, 25, 26, 28, 31, 32, 33, 34};

    for (unsigned i = 0; i < sizeof k8 / sizeof *k8; i++)
        want[k8[i]] = 8000;
    for (unsigned i = 0; i < sizeof k90 / sizeof *k90; i++)
        want[k90[i]] = 90000;
    want[6] = 16000;
    want[10] = want[11] = 44100;
    want[16] = 11025;
    want[17] = 22050;
    for (unsigned pt = 0; pt < 128; pt++)
        cr_expect_eq(pt_rtp_clock_rate(pt), want[pt], "PT %u", pt);
    cr_expect_eq(pt_rtp_clock_rate(200), 0);
}

Test(decode_rtp, header_fields)
{
    /* V=2, X=1, CC=2, M=1, PT=96, seq 0xbeef, ts 0x01020304, SSRC 0xa0b0c0d0 */
    uint8_t p[20] = {0x92, 0xe0, 0xbe, 0xef, 1, 2, 3, 4, 0xa0, 0xb0, 0xc0, 0xd0};
    struct pt_rtp_hdr h;

    cr_assert_eq(pt_rtp_parse(&h, p, sizeof p), PT_RTP_OK);
    cr_assert_eq(h.pt, 96);
    cr_assert(h.marker);
    cr_assert_eq(h.seq, 0xbeef);
    cr_assert_eq(h.ts, 0x01020304);
    cr_assert_eq(h.ssrc, 0xa0b0c0d0);
    cr_assert_eq(pt_rtp_parse(&h, p, 19), PT_RTP_ERR_CSRC, "two CSRCs need 20 bytes");
    cr_assert_eq(pt_rtp_parse(&h, p, 11), PT_RTP_ERR_SHORT);
    p[1] = 0xc8; /* RTCP SR: 200 */
    cr_assert_eq(pt_rtp_parse(&h, p, sizeof p), PT_RTP_ERR_RTCP);
    p[0] = 0x52;
    cr_assert_eq(pt_rtp_parse(&h, p, sizeof p), PT_RTP_ERR_VERSION);
    cr_assert_str_eq(pt_rtp_err_name(PT_RTP_ERR_CSRC), "app.rtp.csrc_cut");
    cr_assert_str_eq(pt_rtp_err_name(99), "app.rtp.unknown");
}

/* 7.5 hours of 90 kHz video at 25 frames/s, +-0.5 ms: the timestamps pass
 * 2^31 ticks after the first (6.6 h). The stream must stay "in order" (no
 * late packet) and J must keep its value, 1 - (15/16)^k ms -> 1 ms. */
Test(decode_rtp, hours_long_stream_stays_in_order)
{
    struct pt_rtp_stream s;
    struct pt_rtp_stats st;
    struct pt_rtp_result r;
    const unsigned n = 675000;

    memset(&st, 0, sizeof st);
    pt_rtp_stream_init(&s);
    for (unsigned k = 0; k < n; k++) {
        struct pt_rtp_hdr h = {.ts = 12345 + k * 3600u, .ssrc = 1, .seq = (uint16_t)k, .pt = 26};
        uint64_t t = 1000000000000ull + k * 40000000ull + ((k & 1) ? 1000000 : 0);
        pt_rtp_stream_update(&s, &st, t - 500000, &h);
    }
    pt_rtp_stream_result(&r, &s);
    cr_assert_eq(st.late, 0);
    cr_assert_eq(st.pkts, n);
    cr_assert(r.jitter);
    /* the float value approaches 1 ms from below; the integer J (1/16 ns,
     * rounded shift) settles within a nanosecond of it */
    cr_assert_geq(r.max_jitter_ns, 999999, "%llu", (unsigned long long)r.max_jitter_ns);
    cr_assert_leq(r.max_jitter_ns, 1000000, "%llu", (unsigned long long)r.max_jitter_ns);
    cr_assert_eq(r.lost, 0, "%lld (sequence wrapped 10 times)", (long long)r.lost);
    /* the mean over 674999 regular packets of 1 - (15/16)^k ms */
    double sum = 0, j = 0;
    for (unsigned k = 1; k < n; k++)
        sum += (j = (15 * j + 1.0) / 16);
    cr_assert_leq(fabs((double)r.jitter_ns - sum / (n - 1) * 1e6), 2.0, "%llu vs %.3f",
                  (unsigned long long)r.jitter_ns, sum / (n - 1) * 1e6);
}

/* A jump of a day between two packets: |D| is capped at 2^40 ns, so J and
 * the mean stay finite and the state usable. */
Test(decode_rtp, huge_gap_is_capped)
{
    struct pt_rtp_stream s;
    struct pt_rtp_stats st;
    struct pt_rtp_result r;
    struct pt_rtp_hdr h = {.ts = 0, .ssrc = 9, .seq = 0, .pt = 0};

    memset(&st, 0, sizeof st);
    pt_rtp_stream_init(&s);
    pt_rtp_stream_update(&s, &st, 0, &h);
    h.seq = 1;
    h.ts = 160;
    pt_rtp_stream_update(&s, &st, 86400ull * 1000000000ull, &h);
    pt_rtp_stream_result(&r, &s);
    cr_assert_eq(r.max_jitter_ns, (1ull << 40) / 16);
    cr_assert_eq(r.jitter_ns, r.max_jitter_ns);
}
