/* rtp.c - RTP header parsing and per-direction jitter, maximum, mean and
 * loss (include/pt/rtp.h has the definitions).
 *
 * DESIGN
 * - Times are nanoseconds, J is kept in 1/16 ns: the RFC's appendix A.8
 *   keeps J scaled by 16 in integers ("J += |D| - ((J + 8) >> 4)") so the
 *   division by 16 loses nothing; we do the same with a finer unit than
 *   timestamp units, because tshark (the reference people compare with)
 *   works in milliseconds as doubles and a 90 kHz tick is 11111.1 ns.
 * - D = (arrival - reference arrival) - (timestamp - reference timestamp) *
 *   1e9 / clock, the timestamp difference taken as a signed 32-bit number
 *   (so timestamp wraps cost nothing) and converted with one 64-bit
 *   multiply and a rounded division. |D| is capped at 2^40 ns (18 minutes)
 *   so that J and the sums cannot overflow whatever the input.
 * - The mean follows tshark's recurrence (see rtp.h). It is kept as
 *   sum16 = mean * n_upd: a plain sum while every packet after the first is
 *   regular; when packets were skipped (marker, comfort noise, late) the sum
 *   is rescaled as the recurrence does, in 128 bits, which only happens at
 *   those packets.
 * - Sequence numbers: RFC 3550 A.1 reduced to what "lost" needs: the
 *   highest number seen and its wraps. A number ahead of the highest by less
 *   than 2^15 moves it (a smaller value means a wrap); anything else is late
 *   or a duplicate and only counts as received. */
#include "pt/rtp.h"

#include <string.h>

#include "pt/common.h"

_Static_assert(sizeof(struct pt_rtp_stream) == 80, "rtp.h says 80 bytes");

#define S_SEEN    0x01 /* a packet was measured */
#define S_PREV_CN 0x02 /* the previous packet was comfort noise */

#define D_MAX_NS (1ull << 40)

static const char *const err_names[PT_RTP_ERR_MAX] = {
    [PT_RTP_OK] = "app.rtp.ok",
    [PT_RTP_ERR_SHORT] = "app.rtp.short",
    [PT_RTP_ERR_VERSION] = "app.rtp.bad_version",
    [PT_RTP_ERR_CSRC] = "app.rtp.csrc_cut",
    [PT_RTP_ERR_RTCP] = "app.rtp.rtcp",
};

const char *pt_rtp_err_name(unsigned err)
{
    return err < PT_RTP_ERR_MAX ? err_names[err] : "app.rtp.unknown";
}

enum pt_rtp_err pt_rtp_parse(struct pt_rtp_hdr *h, const uint8_t *p, uint32_t len)
{
    uint8_t pt;

    if (len < 12)
        return PT_RTP_ERR_SHORT;
    if ((p[0] >> 6) != 2)
        return PT_RTP_ERR_VERSION;
    pt = p[1] & 0x7f;
    /* RTCP packet types 200..204 read as M=1 and PT 72..76 */
    if (pt >= 72 && pt <= 76)
        return PT_RTP_ERR_RTCP;
    if (len < 12u + 4u * (p[0] & 0x0f))
        return PT_RTP_ERR_CSRC;
    h->pt = pt;
    h->marker = (p[1] & 0x80) != 0;
    h->seq = (uint16_t)(p[2] << 8 | p[3]);
    h->ts = (uint32_t)p[4] << 24 | (uint32_t)p[5] << 16 | (uint32_t)p[6] << 8 | p[7];
    h->ssrc = (uint32_t)p[8] << 24 | (uint32_t)p[9] << 16 | (uint32_t)p[10] << 8 | p[11];
    return PT_RTP_OK;
}

uint32_t pt_rtp_clock_rate(unsigned pt)
{
    /* RFC 3551 tables 4 (audio) and 5 (video); 1 (FS-1016), 2 (G721) and
     * 19 (the old CN) are reserved there and still met, at 8000 Hz. */
    switch (pt) {
    case 0:  /* PCMU */
    case 1:  /* 1016 */
    case 2:  /* G721 */
    case 3:  /* GSM */
    case 4:  /* G723 */
    case 5:  /* DVI4 */
    case 7:  /* LPC */
    case 8:  /* PCMA */
    case 9:  /* G722: 8000 Hz RTP clock for 16 kHz audio (RFC 3551 4.5.2) */
    case 12: /* QCELP */
    case 13: /* CN */
    case 15: /* G728 */
    case 18: /* G729 */
    case 19: /* CN, old */
        return 8000;
    case 6: /* DVI4 */
        return 16000;
    case 10: /* L16 stereo */
    case 11: /* L16 mono */
        return 44100;
    case 16: /* DVI4 */
        return 11025;
    case 17: /* DVI4 */
        return 22050;
    case 14: /* MPA */
    case 25: /* CelB */
    case 26: /* JPEG */
    case 28: /* nv */
    case 31: /* H261 */
    case 32: /* MPV */
    case 33: /* MP2T */
    case 34: /* H263 */
        return 90000;
    default:
        return 0;
    }
}

void pt_rtp_stream_init(struct pt_rtp_stream *s)
{
    memset(s, 0, sizeof *s);
}

static bool is_cn(unsigned pt)
{
    return pt == 13 || pt == 19;
}

static int64_t stream_lost(const struct pt_rtp_stream *s)
{
    return ((int64_t)s->cycles << 16) + s->max_seq - s->base_seq + 1 - (int64_t)s->pkts;
}

static uint64_t sat_add(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* Start a new stream (first packet, or a new SSRC) with packet @h. */
static void stream_start(struct pt_rtp_stream *s, uint64_t ts_ns, const struct pt_rtp_hdr *h)
{
    if (s->fl & S_SEEN) {
        int64_t lost = (int64_t)s->done_lost + stream_lost(s);
        s->done_lost = lost > INT32_MAX ? INT32_MAX : lost < INT32_MIN ? INT32_MIN : (int32_t)lost;
        s->done_sum16 = sat_add(s->done_sum16, s->sum16);
        s->done_n = s->done_n + s->n_upd < s->done_n ? UINT32_MAX : s->done_n + s->n_upd;
    }
    s->ssrc = h->ssrc;
    s->last_ns = ts_ns;
    s->last_ts = h->ts;
    s->first_ts = h->ts;
    s->j16 = 0;
    s->sum16 = 0;
    s->pkts = 1;
    s->n_upd = 0;
    s->cycles = 0;
    s->base_seq = s->max_seq = h->seq;
    if (s->streams < UINT16_MAX)
        s->streams++;
    s->pt = h->pt;
    s->fl = (uint8_t)(S_SEEN | (is_cn(h->pt) ? S_PREV_CN : 0));
}

/* |D| in ns for packet @h against the reference packet, at @rate Hz. */
static uint64_t transit_diff(const struct pt_rtp_stream *s, uint64_t ts_ns,
                             const struct pt_rtp_hdr *h, uint32_t rate)
{
    int64_t dts = (int32_t)(h->ts - s->last_ts);
    int64_t arr = (int64_t)(ts_ns - s->last_ns);
    /* |dts| < 2^31, so dts * 1e9 fits in 63 bits; round to nearest */
    int64_t num = dts * 1000000000ll, half = rate / 2;
    int64_t nominal = (num >= 0 ? num + half : num - half) / (int64_t)rate;
    int64_t d = arr - nominal;
    uint64_t ad = d < 0 ? (uint64_t)0 - (uint64_t)d : (uint64_t)d;

    return ad > D_MAX_NS ? D_MAX_NS : ad;
}

/* tshark's mean recurrence at a regular packet, N = s->pkts before it. */
static void mean_add(struct pt_rtp_stream *s)
{
    uint32_t n = s->pkts; /* packets before this one */

    if (s->n_upd && s->n_upd != n - 1) {
        unsigned __int128 x = (unsigned __int128)s->sum16 * (n - 1) / s->n_upd;
        s->sum16 = x > UINT64_MAX ? UINT64_MAX : (uint64_t)x;
    }
    s->sum16 = sat_add(s->sum16, s->j16);
    s->n_upd = n;
}

void pt_rtp_stream_update(struct pt_rtp_stream *s, struct pt_rtp_stats *st, uint64_t ts_ns,
                          const struct pt_rtp_hdr *h)
{
    PT_CNT_INC(st->pkts);
    if (h->marker)
        PT_CNT_INC(st->markers);
    if (!(s->fl & S_SEEN) || h->ssrc != s->ssrc) {
        if (s->fl & S_SEEN)
            PT_CNT_INC(st->ssrc_changes);
        stream_start(s, ts_ns, h);
        return;
    }

    uint16_t ahead = (uint16_t)(h->seq - s->max_seq);
    if (ahead != 0 && ahead < 0x8000) {
        if (h->seq < s->max_seq)
            s->cycles++;
        s->max_seq = h->seq;
    }

    int32_t since_first = (int32_t)(h->ts - s->first_ts);
    bool in_order = since_first >= 0;
    bool regular = in_order && !h->marker && !is_cn(h->pt) && !(s->fl & S_PREV_CN);
    uint32_t rate = pt_rtp_clock_rate(h->pt);

    if (!in_order)
        PT_CNT_INC(st->late);
    else if (since_first > 0x40000000)
        s->first_ts = h->ts; /* slide, so hours-long streams never fall out of the window */
    if (!rate) {
        PT_CNT_INC(st->no_clock);
    } else if (in_order) {
        uint64_t ad = transit_diff(s, ts_ns, h, rate);
        s->j16 = s->j16 + ad - ((s->j16 + 8) >> 4); /* J += (|D| - J) / 16, J scaled by 16 */
        if (regular) {
            if (s->j16 > s->max16)
                s->max16 = s->j16;
            mean_add(s);
        }
    }
    if (in_order) {
        s->last_ns = ts_ns;
        s->last_ts = h->ts;
    }
    s->pt = h->pt;
    s->fl = (uint8_t)((s->fl & ~S_PREV_CN) | (is_cn(h->pt) ? S_PREV_CN : 0));
    if (s->pkts < UINT32_MAX)
        s->pkts++;
}

void pt_rtp_stream_result(struct pt_rtp_result *r, const struct pt_rtp_stream *s)
{
    uint64_t n = (uint64_t)s->done_n + s->n_upd;

    memset(r, 0, sizeof *r);
    if (!(s->fl & S_SEEN))
        return;
    r->seen = true;
    r->ssrcs = s->streams;
    r->lost = (int64_t)s->done_lost + stream_lost(s);
    if (n) {
        unsigned __int128 sum = (unsigned __int128)s->done_sum16 + s->sum16;
        r->jitter = true;
        r->jitter_ns = (uint64_t)((sum + 8 * n) / (16 * (unsigned __int128)n));
        r->max_jitter_ns = (s->max16 + 8) >> 4;
    }
}
