/* rtp.h - RTP stream statistics per direction: interarrival jitter (RFC 3550
 * section 6.4.1 and appendix A.8), its maximum and mean as Wireshark's RTP
 * stream analysis reports them, and lost packets (appendix A.3).
 *
 * The flow table keeps one struct pt_rtp_stream per direction of a flow that
 * detection says is RTP (src/flow/rtp.c, docs/APP.md "RTP jitter"); this
 * header is the byte-level part: parsing the fixed RTP header and updating a
 * direction's state with one packet. Pure functions over caller storage: no
 * allocation, no syscall, no lock, no logging, integer arithmetic only.
 *
 * Definitions (so the numbers can be compared with
 * `tshark -q -z rtp,streams`, whose per-stream "Max Jitter", "Mean Jitter" and
 * "Lost" these reproduce):
 * - transit = arrival - RTP timestamp / clock rate; D = transit - the previous
 *   in-order packet's transit; J += (|D| - J) / 16. Kept in 1/16 ns (64 bits),
 *   so J is exact to a fraction of a nanosecond (the RFC's integer variant,
 *   with a finer unit than the RFC's timestamp units: arrival times are
 *   nanoseconds and a timestamp unit of a 90 kHz clock is not a whole number
 *   of them).
 * - The clock rate comes from the packet's static payload type (RFC 3551
 *   table; pt_rtp_clock_rate()). A dynamic type (96..127) or an unassigned one
 *   has no known clock: J is not updated and the direction has no jitter
 *   (tshark without the SDP does the same). The sequence numbers and the loss
 *   are still counted.
 * - "In order" means, as tshark 4.0 decides it, that the RTP timestamp is
 *   not before the stream's first one (signed 32-bit difference >= 0; the
 *   first one slides forward once a stream is 2^30 ticks long, 3.3 h at
 *   90 kHz, so a long stream never falls out of the window). Only in-order
 *   packets update J and become the reference for the next D: a packet that
 *   arrives after a later one (reordered) is still in order and is compared
 *   with that later one, as tshark 4.0 does. (Newer Wireshark sources
 *   compare with the last in-order packet instead; a reordered stream gets
 *   other numbers there.)
 * - Max and mean jitter are taken over "regular" packets only, as tshark
 *   does: not the first of a stream, no marker bit, not comfort noise (PT 13
 *   or 19), not right after comfort noise, timestamp in order. The mean
 *   follows tshark's recurrence mean = (mean * (N - 1) + J) / N, N the
 *   stream's packets before this one: the plain average of J over the regular
 *   packets when every packet but the first is regular, and tshark's own
 *   (different) figure otherwise.
 * - A new SSRC starts a new stream: J, the reference packet and the sequence
 *   base restart (counted, ssrc_changes). The maximum stays the largest of any
 *   stream of the direction; the mean is over the regular packets of all its
 *   streams; lost adds up every stream's.
 * - lost = expected - received, expected = highest extended sequence number -
 *   first + 1 (wraps counted when the number moves forward by less than
 *   2^15); negative when packets were duplicated, as in RFC 3550 A.3. */
#ifndef PT_RTP_H
#define PT_RTP_H

#include <stdbool.h>
#include <stdint.h>

/* The fixed header of one RTP packet. */
struct pt_rtp_hdr {
    uint32_t ts;   /* RTP timestamp */
    uint32_t ssrc; /* synchronisation source */
    uint16_t seq;  /* sequence number */
    uint8_t pt;    /* payload type (7 bits) */
    bool marker;   /* M bit */
};

/* Why a payload of an RTP flow was not measured. Stable names:
 * pt_rtp_err_name(). Add new reasons at the end. */
enum pt_rtp_err {
    PT_RTP_OK = 0,
    PT_RTP_ERR_SHORT,   /* app.rtp.short: fewer than 12 bytes */
    PT_RTP_ERR_VERSION, /* app.rtp.bad_version: version field is not 2 */
    PT_RTP_ERR_CSRC,    /* app.rtp.csrc_cut: the CSRC list runs past the payload */
    PT_RTP_ERR_RTCP,    /* app.rtp.rtcp: payload type 72..76, an RTCP packet (SR, RR, SDES,
                         * BYE, APP) multiplexed on the flow (RFC 5761) */
    PT_RTP_ERR_MAX
};

/* Stable dotted name of @err ("app.rtp.short"). Never NULL;
 * "app.rtp.unknown" out of range. Thread: any. */
const char *pt_rtp_err_name(unsigned err);

/* Per-worker counters (written with PT_CNT_*; every member a uint64_t so the
 * flow table can add them up as an array). */
struct pt_rtp_stats {
    uint64_t pkts;                /* packets measured */
    uint64_t markers;             /* ... with the marker bit (talkspurt or frame starts) */
    uint64_t ssrc_changes;        /* ... whose SSRC differed from the direction's previous one */
    uint64_t late;                /* ... stamped before the stream's first (not in order) */
    uint64_t no_clock;            /* ... whose payload type has no known clock (no jitter) */
    uint64_t no_state;            /* flows that looked like RTP when the worker's RTP pool was empty
                                   * (src/flow/rtp.c): not measured */
    uint64_t err[PT_RTP_ERR_MAX]; /* payloads not measured, by reason (err[0] unused) */
};

/* Parse the fixed header of @len bytes at @p (borrowed, never read past
 * @len) into @h. Returns PT_RTP_OK, or the reason the payload is not an RTP
 * packet (then @h is unspecified). The same shape detection requires
 * (pt/appid.h): version 2, 12 bytes plus the CSRC list, not an RTCP type.
 * Thread: any. */
enum pt_rtp_err pt_rtp_parse(struct pt_rtp_hdr *h, const uint8_t *p, uint32_t len);

/* RTP clock rate in Hz of static payload type @pt (RFC 3551 tables 4 and 5,
 * and the reserved types 1, 2 and 19 as Wireshark maps them), or 0 when
 * unknown (dynamic 96..127, unassigned). Thread: any. */
uint32_t pt_rtp_clock_rate(unsigned pt);

/* One direction of an RTP flow. 80 bytes, plain data: all-zero is the
 * "nothing seen" state (pt_rtp_stream_init() writes exactly that). */
struct pt_rtp_stream {
    uint64_t last_ns;    /* arrival of the reference packet (the last in-order one) */
    uint64_t j16;        /* current J, 1/16 ns */
    uint64_t max16;      /* largest J at a regular packet, any stream of the direction */
    uint64_t sum16;      /* tshark's mean * n_upd for the current stream, 1/16 ns */
    uint64_t done_sum16; /* sum16 of the direction's earlier streams (SSRCs) */
    uint32_t ssrc;
    uint32_t last_ts;  /* RTP timestamp of the reference packet */
    uint32_t first_ts; /* the stream's first timestamp (slides forward, see rtp.c) */
    uint32_t pkts;     /* packets of the current stream (tshark's total_nr) */
    uint32_t n_upd;    /* pkts before the last regular packet (the mean's divisor) */
    uint32_t done_n;   /* n_upd of the earlier streams */
    uint32_t cycles;   /* sequence number wraps of the current stream */
    int32_t done_lost; /* lost of the earlier streams */
    uint16_t base_seq, max_seq;
    uint16_t streams; /* SSRCs seen in turn (saturates) */
    uint8_t pt;       /* payload type of the last packet */
    uint8_t fl;       /* internal (PT_RTP_S_* in rtp.c) */
};

/* Reset @s to "nothing seen". Thread: the owner of @s. */
void pt_rtp_stream_init(struct pt_rtp_stream *s);

/* Account RTP packet @h of this direction, arrived at @ts_ns, in capture
 * order. Counts into @st (must not be NULL). Constant work, no allocation.
 * Thread: the owner of @s and @st (in the flow table: the worker holding the
 * flow's lock). */
void pt_rtp_stream_update(struct pt_rtp_stream *s, struct pt_rtp_stats *st, uint64_t ts_ns,
                          const struct pt_rtp_hdr *h);

/* What a record shows of one direction. */
struct pt_rtp_result {
    bool seen;              /* at least one packet measured */
    bool jitter;            /* jitter_ns/max_jitter_ns valid: a regular packet had a known clock */
    uint64_t jitter_ns;     /* mean jitter (tshark's "Mean Jitter"), rounded to the ns */
    uint64_t max_jitter_ns; /* tshark's "Max Jitter", likewise */
    int64_t lost;           /* tshark's "Lost", summed over the direction's SSRCs */
    uint32_t ssrcs;         /* streams (SSRCs in turn) the direction carried; 0 if none */
};

/* Fill @r from @s. Thread: any reader of @s. */
void pt_rtp_stream_result(struct pt_rtp_result *r, const struct pt_rtp_stream *s);

#endif
