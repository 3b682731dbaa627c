/* fuzz_rtp.c - libFuzzer target for pt_rtp_parse() and pt_rtp_stream_update().
 *
 * DESIGN: the input is read as a sequence of packets, each one control byte,
 * one length byte L and L payload bytes (cut at the end of the input). The
 * control byte gives the direction (bit 0) and the arrival step: bits 1..6 in
 * milliseconds, bit 7 a jump of 2^35 ns (so both clock wraps of the
 * arithmetic and the |D| cap are reached). Each payload is parsed from an
 * exactly-sized heap copy (ASan sees any overread) and, when it parses,
 * updates its direction's stream. Every prefix of the first 40 bytes is
 * parsed too. Invariants, checked after each packet: the result's mean
 * jitter never exceeds the maximum, the maximum never exceeds the 2^40 ns cap
 * on |D|, the lost count is bounded by the packets and sequence space seen,
 * and a payload that does not parse changes nothing. The seed corpus run.sh
 * builds from the shared captures (link type + frame) is as good as any
 * bytes here. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pt/rtp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const struct pt_rtp_stream *s, uint64_t pkts)
{
    struct pt_rtp_result r;

    pt_rtp_stream_result(&r, s);
    if (!r.seen)
        return;
    if (r.jitter && r.jitter_ns > r.max_jitter_ns + 1)
        abort();
    if (r.max_jitter_ns > (1ull << 40))
        abort();
    /* each stream: lost >= -(its packets) and <= its wraps * 65536 + 65535 */
    if (r.lost < -(int64_t)pkts || r.lost > (int64_t)(pkts + 1) * 65536)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct pt_rtp_stats st;
    struct pt_rtp_stream s[2];
    struct pt_rtp_hdr h;
    uint64_t t = 1700000000ull * 1000000000ull, pkts[2] = {0, 0};
    size_t i = 0;

    for (size_t n = 0; n <= size && n <= 40; n++) {
        uint8_t *b = malloc(n ? n : 1);
        if (!b)
            return 0;
        memcpy(b, data, n);
        enum pt_rtp_err e = pt_rtp_parse(&h, b, (uint32_t)n);
        free(b);
        if ((unsigned)e >= PT_RTP_ERR_MAX || (e == PT_RTP_OK && n < 12))
            abort();
    }

    pt_rtp_stream_init(&s[0]);
    pt_rtp_stream_init(&s[1]);
    while (i + 2 <= size) {
        uint8_t ctl = data[i], len = data[i + 1];
        unsigned dir = ctl & 1;
        i += 2;
        if (len > size - i)
            len = (uint8_t)(size - i);
        t += (uint64_t)((ctl >> 1) & 0x3f) * 1000000ull + ((ctl & 0x80) ? (1ull << 35) : 0);
        uint8_t *b = malloc(len ? len : 1);
        if (!b)
            return 0;
        memcpy(b, data + i, len);
        i += len;
        struct pt_rtp_stream before = s[dir];
        if (pt_rtp_parse(&h, b, len) == PT_RTP_OK) {
            pt_rtp_stream_update(&s[dir], &st, t, &h);
            pkts[dir]++;
        } else if (memcmp(&before, &s[dir], sizeof before) != 0) {
            abort();
        }
        free(b);
        check(&s[dir], pkts[dir]);
    }
    return 0;
}
