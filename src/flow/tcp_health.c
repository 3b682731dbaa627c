/* tcp_health.c - per-direction TCP health counters as tshark's tcp.analysis
 * flags them, handshake RTT, and the first IP/TCP facts of each side.
 *
 * DESIGN: one call per TCP segment, constant work, no lists. The rules are
 * tshark 4.0's sequence analysis (our own code, written from reading
 * Wireshark's packet-tcp.c and comparing with tshark on the shared
 * captures). For a segment from side F (the peer is R), with seglen the
 * payload length per the IP header:
 *  1. window scaling: a SYN's option sets F's shift (above 14 counts and is
 *     used as 14); a SYN without one, or a SYN/ACK without one answering a
 *     SYN without one, turns scaling off both ways; windows of segments
 *     other than SYNs are shifted when F's shift is known;
 *  2. handshake: a SYN without ACK (re)starts the clock, a SYN/ACK after it
 *     is noted, and the first segment with ACK and without SYN, in either
 *     direction, fixes the RTT (tshark's initial_rtt);
 *  3. zero-window probe: 1 byte at F.nextseq while R's window is 0 (ends
 *     the checks, step 9 skipped);
 *  4. zero window: window 0 without SYN/FIN/RST (counted);
 *  5. lost segment: seq beyond F.nextseq, not a RST (counted);
 *  6. keep-alive: 0 or 1 byte at F.nextseq - 1, no SYN/FIN/RST;
 *  7. a bare ACK repeating F's window, F.nextseq and F's last ACK is a
 *     keep-alive ACK or zero-window-probe ACK when R's previous segment was
 *     a keep-alive or probe; otherwise, with a non-zero window, it is a
 *     duplicate ACK (counted; the run length is kept for step 9). A change
 *     of the ACK number ends the run. A window update (same numbers, new
 *     window) is never a duplicate ACK;
 *  8. segments with data, SYN or FIN that do not advance F.nextseq (and are
 *     not keep-alives) are, in this order: spurious retransmissions (all
 *     their data was already acknowledged by R), fast retransmissions (R sent
 *     two or more duplicate ACKs for exactly this seq, within 20 ms), out of
 *     order (within the handshake RTT, or 3 ms without one, of the last
 *     advance of F.nextseq, and not ending at it), else retransmissions.
 *     All retransmission kinds count as retransmissions, as tshark shows
 *     tcp.analysis.retransmission on each;
 *  9. F.nextseq moves to the end of the segment (SYN and FIN count one) when
 *     that is beyond it or it was unset (0, as tshark), except for probes;
 *     F's window, last ACK and its time are remembered.
 * Times are microseconds modulo 2^32 (differences are taken modulo 2^32). */
#include <string.h>

#include "pt/flow.h"

#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_RST 0x04
#define TH_ACK 0x10

#define FAST_RXMT_US   20000u /* tshark: fast retransmission within 20 ms of the dup ACK */
#define OOO_DEFAULT_US 3000u  /* tshark: out-of-order threshold without a handshake RTT */
#define MAX_WSCALE     14

_Static_assert(sizeof(struct pt_tcp_health_dir) == 44, "flow.h documents 44 bytes");
_Static_assert(sizeof(struct pt_tcp_health) == 100, "flow.h documents 100 bytes");

static const char *const err_names[PT_TCPH_ERR_MAX] = {
    [PT_TCPH_OK] = "flow.tcp.ok",
    [PT_TCPH_WSCALE_OVER_14] = "flow.tcp.wscale_over_14",
    [PT_TCPH_SATURATED] = "flow.tcp.counter_saturated",
    [PT_TCPH_TIME_BACKWARDS] = "flow.tcp.time_backwards",
    [PT_TCPH_SYN_OPTS_MISSING] = "flow.tcp.syn_without_options",
};

const char *pt_tcp_health_err_name(unsigned err)
{
    if (err < PT_TCPH_ERR_MAX && err_names[err])
        return err_names[err];
    return "flow.tcp.unknown";
}

static inline void count(struct pt_tcp_health_stats *st, unsigned err)
{
    if (st)
        PT_CNT_INC(st->err[err]);
}

/* One event of any flow, for the series (the flow's own counter is separate). */
static inline void event(struct pt_tcp_health_stats *st, unsigned ev)
{
    if (st)
        PT_CNT_INC(st->ev[ev]);
}

static inline bool seq_lt(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b) < 0;
}

static inline bool seq_gt(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b) > 0;
}

static inline void inc16(uint16_t *c, struct pt_tcp_health_stats *st)
{
    if (*c == UINT16_MAX)
        count(st, PT_TCPH_SATURATED);
    else
        (*c)++;
}

static inline void inc32(uint32_t *c)
{
    if (*c != UINT32_MAX)
        (*c)++;
}

void pt_tcp_health_init(struct pt_tcp_health *h)
{
    memset(h, 0, sizeof *h);
    for (int i = 0; i < 2; i++) {
        h->d[i].window = UINT32_MAX; /* unknown: never a zero window */
        h->d[i].ws_opt = -1;
        h->d[i].ws = -1;
    }
}

void pt_ip_first_note(struct pt_ip_first *x, unsigned side, const struct pt_l3 *l3)
{
    side &= 1;
    if (!(x->seen & (1u << side))) {
        x->ttl[side] = l3->ttl;
        x->tos[side] = l3->tos;
        x->seen |= (uint8_t)(1u << side);
    }
}

/* Step 1: options of a SYN and tshark's verify_tcp_window_scaling(). */
static void syn_options(struct pt_tcp_health_dir *f, struct pt_tcp_health_dir *r,
                        struct pt_tcp_health_stats *st, const struct pt_l3 *l3)
{
    if (l3->flags & PT_L3_TCP_OPTS) {
        const struct pt_tcp_opt *o = &l3->tcp_opt;
        if (o->mss && !f->mss)
            f->mss = o->mss;
        if (o->has_wscale) {
            uint8_t w = o->wscale;
            if (w > MAX_WSCALE) {
                count(st, PT_TCPH_WSCALE_OVER_14);
                w = MAX_WSCALE;
            }
            if (f->ws_opt < 0)
                f->ws_opt = (int8_t)w;
            f->ws = (int8_t)w;
        }
    } else {
        count(st, PT_TCPH_SYN_OPTS_MISSING);
    }
    if (f->ws == -1) {
        f->ws = r->ws = -2;
    } else if ((l3->tcp_flags & TH_ACK) && r->ws == -2) {
        f->ws = -2;
    }
}

/* Step 2: the handshake clock. */
static void handshake(struct pt_tcp_health *h, struct pt_tcp_health_stats *st, uint8_t fl,
                      uint32_t now)
{
    uint8_t sa = fl & (TH_SYN | TH_ACK);

    if (h->hs & PT_TCPH_HS_RTT)
        return;
    if (sa == TH_SYN) {
        h->syn_us = now;
        h->hs = PT_TCPH_HS_SYN; /* a SYN/ACK before it no longer answers it */
    } else if (sa == (TH_SYN | TH_ACK) && (h->hs & PT_TCPH_HS_SYN)) {
        h->synack_us = now;
        h->hs |= PT_TCPH_HS_SYNACK;
    } else if (sa == TH_ACK && (h->hs & PT_TCPH_HS_SYN)) {
        uint32_t rtt = now - h->syn_us;
        if (rtt > INT32_MAX) {
            count(st, PT_TCPH_TIME_BACKWARDS);
            return;
        }
        if (rtt == 0)
            return; /* tshark takes a zero RTT for "not yet" */
        h->rtt_us = rtt;
        h->hs |= PT_TCPH_HS_RTT;
        if (h->hs & PT_TCPH_HS_SYNACK) {
            uint32_t half = now - h->synack_us;
            if (half > rtt) { /* SYN/ACK stamped after this ACK */
                count(st, PT_TCPH_TIME_BACKWARDS);
                h->hs &= (uint8_t)~PT_TCPH_HS_SYNACK;
            } else {
                h->synack_ack_us = half;
            }
        }
    }
}

/* Steps 3-7. Returns the PT_TCPH_LAST_* flags of this segment; sets *@ka
 * for a keep-alive (step 8 skips it). */
static uint8_t ack_checks(struct pt_tcp_health_dir *f, const struct pt_tcp_health_dir *r,
                          struct pt_tcp_health_stats *st, uint8_t fl, uint32_t seq, uint32_t ack,
                          uint32_t seglen, uint32_t win, bool *ka)
{
    bool sfr = (fl & (TH_SYN | TH_FIN | TH_RST)) != 0;

    if (seglen == 1 && seq == f->nextseq && r->window == 0)
        return PT_TCPH_LAST_ZWP;
    if (win == 0 && !sfr) {
        inc16(&f->zero_win, st);
        event(st, PT_TCPH_EV_ZERO_WIN);
    }
    if (f->nextseq && seq_gt(seq, f->nextseq) && !(fl & TH_RST)) {
        inc16(&f->lost, st);
        event(st, PT_TCPH_EV_LOST);
    }
    if (seglen <= 1 && seq == f->nextseq - 1 && !sfr) {
        *ka = true;
        return PT_TCPH_LAST_KA;
    }
    if (seglen == 0 && win == f->window && seq == f->nextseq && ack == f->lastack && !sfr) {
        if (win && (r->fl & PT_TCPH_LAST_KA))
            return 0; /* keep-alive ACK */
        if (!win && (r->fl & PT_TCPH_LAST_ZWP))
            return 0; /* zero-window-probe ACK */
        if (win) {
            inc32(&f->dup_acks);
            event(st, PT_TCPH_EV_DUP_ACK);
            if (f->dupacks != UINT8_MAX)
                f->dupacks++;
        }
    }
    return 0;
}

/* Step 8. */
static void rxmt_checks(struct pt_tcp_health *h, struct pt_tcp_health_dir *f,
                        const struct pt_tcp_health_dir *r, struct pt_tcp_health_stats *st,
                        uint8_t fl, uint32_t seq, uint32_t seglen, uint32_t now)
{
    bool not_adv = f->nextseq && seq_lt(seq, f->nextseq);
    uint32_t syn_fin = (fl & (TH_SYN | TH_FIN)) ? 1 : 0;

    if (seglen > 1 && f->nextseq - 1 == seq)
        not_adv = false;
    if (seglen > 0 && r->lastack && !seq_gt(seq + seglen, r->lastack)) {
        inc32(&f->retrans); /* spurious */
        event(st, PT_TCPH_EV_RETRANS);
        return;
    }
    if (!not_adv)
        return;
    if (r->dupacks >= 2 && r->lastack == seq && now - r->lastack_us < FAST_RXMT_US) {
        inc32(&f->retrans); /* fast */
        event(st, PT_TCPH_EV_RETRANS);
        return;
    }
    uint32_t thres = (h->hs & PT_TCPH_HS_RTT) ? h->rtt_us : OOO_DEFAULT_US;
    if (now - f->nextseq_us < thres && f->nextseq != seq + seglen + syn_fin) {
        inc16(&f->ooo, st);
        event(st, PT_TCPH_EV_OOO);
        return;
    }
    inc32(&f->retrans);
    event(st, PT_TCPH_EV_RETRANS);
}

/* The payload length tshark analyses: what the IP header claims, cut to the
 * bytes the frame had on the wire after the TCP header (a frame shorter
 * than its IP length carries less). */
static uint32_t seg_len(const struct pt_pkt *p, const struct pt_l3 *l3)
{
    uint32_t len = l3->l4_len;

    if (l3->payload && p->data && l3->payload >= p->data &&
        (size_t)(l3->payload - p->data) <= p->caplen) {
        uint32_t off = (uint32_t)(l3->payload - p->data);
        uint32_t wire = p->wirelen > off ? p->wirelen - off : 0;
        if (wire < len)
            len = wire;
    }
    return len;
}

void pt_tcp_health_update(struct pt_tcp_health *h, struct pt_tcp_health_stats *st, unsigned side,
                          const struct pt_pkt *p, const struct pt_l3 *l3)
{
    if (!(l3->flags & PT_L3_L4) || l3->proto != 6 || (l3->flags & PT_L3_FRAG))
        return; /* a first fragment's length is not the segment's: tshark skips it too */

    struct pt_tcp_health_dir *f = &h->d[side & 1], *r = &h->d[!(side & 1)];
    uint8_t fl = l3->tcp_flags;
    uint32_t seq = l3->tcp_seq, ack = l3->tcp_ack, seglen = seg_len(p, l3);
    uint32_t now = (uint32_t)(p->ts_ns / 1000), win = l3->tcp_win;
    uint8_t last = 0;
    bool ka = false;

    if (!(f->fl & PT_TCPH_TCP_SEEN)) {
        f->init_win = l3->tcp_win;
        f->fl |= PT_TCPH_TCP_SEEN;
    }
    if (fl & TH_SYN)
        syn_options(f, r, st, l3);
    else if (f->ws >= 0)
        win <<= f->ws;
    handshake(h, st, fl, now);

    last = ack_checks(f, r, st, fl, seq, ack, seglen, win, &ka);
    if (ack != f->lastack)
        f->dupacks = 0;
    if ((seglen > 0 || (fl & (TH_SYN | TH_FIN))) && !ka)
        rxmt_checks(h, f, r, st, fl, seq, seglen, now);

    /* step 9 */
    uint32_t next = seq + seglen + ((fl & (TH_SYN | TH_FIN)) ? 1 : 0);
    if ((seq_gt(next, f->nextseq) || !f->nextseq) && last != PT_TCPH_LAST_ZWP) {
        f->nextseq = next;
        f->nextseq_us = now;
    }
    f->window = win;
    f->lastack = ack;
    f->lastack_us = now;
    f->fl = (uint8_t)((f->fl & ~(PT_TCPH_LAST_KA | PT_TCPH_LAST_ZWP)) | last);
}

void pt_tcp_health_fill(struct pt_flow_health *out, const struct pt_tcp_health *h,
                        const struct pt_ip_first *ip, unsigned orig_side)
{
    bool tcp = h != NULL;

    memset(out, 0, sizeof *out);
    out->valid = true;
    out->tcp = tcp;
    for (unsigned i = 0; i < 2; i++) {
        unsigned ks = i ? !(orig_side & 1) : (orig_side & 1); /* key side of direction i */
        out->ip_seen[i] = (ip->seen >> ks) & 1;
        out->ttl[i] = ip->ttl[ks];
        out->dscp[i] = (uint8_t)(ip->tos[ks] >> 2);
        out->wscale[i] = -1;
        if (!tcp)
            continue;
        const struct pt_tcp_health_dir *d = &h->d[ks];
        out->tcp_seen[i] = (d->fl & PT_TCPH_TCP_SEEN) != 0;
        out->retrans[i] = d->retrans;
        out->ooo[i] = d->ooo;
        out->dup_acks[i] = d->dup_acks;
        out->lost[i] = d->lost;
        out->zero_win[i] = d->zero_win;
        out->mss[i] = d->mss;
        out->init_win[i] = d->init_win;
        out->wscale[i] = d->ws_opt;
    }
    if (tcp && (h->hs & PT_TCPH_HS_RTT)) {
        out->rtt_valid = PT_TCPH_HS_RTT;
        out->rtt_ns = (uint64_t)h->rtt_us * 1000;
        if (h->hs & PT_TCPH_HS_SYNACK) {
            out->rtt_valid |= PT_TCPH_HS_SYNACK;
            out->synack_ack_ns = (uint64_t)h->synack_ack_us * 1000;
            out->syn_synack_ns = (uint64_t)(h->rtt_us - h->synack_ack_us) * 1000;
        }
    }
}
