/* tcp.c - Zeek-compatible TCP endpoint state, history letters, sizes and
 * conn_state.
 *
 * DESIGN: we follow the order of Zeek's TCP session analysis for every
 * segment (our own code, written from reading Zeek's behaviour):
 *  1. the segment length counts SYN and FIN as one sequence byte each and
 *     drops the payload of a RST;
 *  2. the sending endpoint's sequence space is initialised by its first
 *     segment (a partial connection is numbered as if a SYN preceded it) and
 *     re-initialised by a new SYN;
 *  3. history letters (see flow_hist_*): once-only letters per side (D A I Q
 *     and the first S H F R), S/H/F/R again when their sequence number moves,
 *     and T W G at the 1st, 10th, 100th... occurrence;
 *  4. an ACK moves the peer's acknowledged point (initialising a peer never
 *     seen); a segment ending at or below what was already seen with payload
 *     is a retransmission (T);
 *  5. the endpoint state machine (INACTIVE, SYN_SENT, SYN_ACK_SENT, PARTIAL,
 *     ESTABLISHED, CLOSED, RESET), including Zeek's SYN/SYN-ACK reversal flip;
 *  6. the ACK then tells the peer's "reassembler" (here only the point up to
 *     which contiguous, fully captured data was seen) that data was
 *     acknowledged: acknowledged bytes never seen are missed bytes and a G
 *     letter, counted only while both sides are ESTABLISHED, as Zeek does;
 *  7. fully captured payload extends the sender's contiguous point.
 * Sizes (orig_bytes/resp_bytes) come from the sequence space: the higher of
 * the last sequence and the acknowledged one, minus the initial sequence,
 * minus one for the SYN and one for a FIN. Out-of-order data is not
 * buffered: a hole filled later is not a gap, but acknowledged data that
 * arrived out of order before the hole was filled counts as missed. */
#include <string.h>

#include "internal.h"

#define TOO_LARGE_SEQ_DELTA 1048576

#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_RST 0x04
#define TH_ACK 0x10

/* once-only history bits (per side; side 1 uses bit + 8) */
enum { HB_DATA = 0, HB_ACK, HB_SYN, HB_FIN, HB_RST, HB_FINRST, HB_MULTI, HB_UDPDATA };
_Static_assert(HB_UDPDATA < 8, "struct pt_flow.hist_seen has 8 bits per side");

static inline int32_t seq_delta(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b);
}

/* Letters in the history: it is NUL-padded (zeroed at flow start), so no
 * length byte is kept; letters are rare (a few per connection). */
unsigned flow_hist_len(const struct pt_flow *f)
{
    return (unsigned)strnlen(f->hist, PT_FLOW_HIST_MAX);
}

void flow_hist_add(struct pt_flow *f, unsigned side, char code)
{
    if (side != flow_orig_side(f) && code >= 'A' && code <= 'Z')
        code = (char)(code - 'A' + 'a');
    unsigned n = flow_hist_len(f);
    if (n < PT_FLOW_HIST_MAX)
        f->hist[n] = code;
}

/* Zeek's CheckHistory: add @code the first time @bit is seen on @side.
 * Returns true when the bit had been seen before. */
bool flow_hist_once(struct pt_flow *f, unsigned side, unsigned bit, char code)
{
    uint16_t m = (uint16_t)(1u << (bit + 8 * side));
    if (f->hist_seen & m)
        return true;
    f->hist_seen |= m;
    flow_hist_add(f, side, code);
    return false;
}

/* Letters logged at the 1st, 10th, 100th, ... occurrence. */
static bool scaled_hit(unsigned n)
{
    return n == 1 || n == 10 || n == 100 || n == 1000 || n == 10000;
}

static void hist_rxmt(struct pt_flow *f, struct flow_tcp_ep *e, unsigned side)
{
    if (e->n_rxmt != UINT16_MAX && scaled_hit(++e->n_rxmt))
        flow_hist_add(f, side, 'T');
}

/* W and G counters are 8-bit: their letters stop at the 100th. */
static void hist_scaled8(struct pt_flow *f, unsigned side, uint8_t *cnt, char code)
{
    if (*cnt != UINT8_MAX && scaled_hit(++*cnt))
        flow_hist_add(f, side, code);
}

static void set_state(struct flow_tcp_ep *e, uint8_t st)
{
    if (e->state != st) {
        e->prev_state = e->state;
        e->state = st;
    }
}

static void init_endpoint(struct flow_tcp_ep *e, uint8_t fl, uint32_t seq, uint32_t end)
{
    switch (e->state) {
    case TCP_INACTIVE:
        if (fl & TH_SYN) {
            e->start = e->ack = seq;
            e->last = end;
        } else {
            e->start = e->ack = seq - 1;
            e->last = seq;
        }
        e->rseq = 1;
        e->ooo = 0;
        break;
    case TCP_SYN_SENT:
    case TCP_SYN_ACK_SENT:
    case TCP_ESTABLISHED:
    case TCP_PARTIAL:
        if ((fl & TH_SYN) && (seq != e->start || e->state >= TCP_PARTIAL)) {
            e->start = e->ack = seq;
            e->last = end;
            e->last_wraps = e->ack_wraps = 0;
            e->rseq = 1;
            e->ooo = 0;
        }
        break;
    case TCP_RESET:
        if ((fl & TH_SYN) && e->prev_state == TCP_INACTIVE) {
            e->start = e->ack = seq;
            e->last = end;
            e->last_wraps = e->ack_wraps = 0;
            e->rseq = 1;
            e->ooo = 0;
        }
        break;
    default:
        break;
    }
}

static void update_history(struct pt_flow *f, struct flow_tcp_ep *e, unsigned side, uint8_t fl,
                           uint32_t rel, uint32_t len)
{
    int bits = !!(fl & TH_SYN) + !!(fl & TH_FIN) + !!(fl & TH_RST);

    if (bits > 1) {
        if ((fl & TH_FIN) && (fl & TH_RST))
            flow_hist_once(f, side, HB_FINRST, 'I');
        else
            flow_hist_once(f, side, HB_MULTI, 'Q');
    } else if (fl & TH_SYN) {
        char c = (fl & TH_ACK) ? 'H' : 'S';
        if (flow_hist_once(f, side, HB_SYN, c) && (!e->hist_syn || (uint8_t)rel != e->h_syn))
            flow_hist_add(f, side, c);
        e->h_syn = (uint8_t)rel;
        e->hist_syn = 1;
    } else if (fl & TH_FIN) {
        /* a FIN's sequence is the end of its data */
        if (flow_hist_once(f, side, HB_FIN, 'F') &&
            (!e->hist_fin || (uint8_t)(rel + len) != e->h_fin))
            flow_hist_add(f, side, 'F');
        e->h_fin = (uint8_t)(rel + len);
        e->hist_fin = 1;
    } else if (fl & TH_RST) {
        if (flow_hist_once(f, side, HB_RST, 'R') && (!e->hist_rst || (uint8_t)rel != e->h_rst))
            flow_hist_add(f, side, 'R');
        e->h_rst = (uint8_t)rel;
        e->hist_rst = 1;
    } else if (len) {
        flow_hist_once(f, side, HB_DATA, 'D');
    } else if (fl & TH_ACK) {
        flow_hist_once(f, side, HB_ACK, 'A');
    }
}

static void update_last_seq(struct pt_flow *f, struct flow_tcp_ep *e, unsigned side, uint32_t end,
                            uint8_t fl, uint32_t len)
{
    int32_t d = seq_delta(end, e->last);

    if ((fl & (TH_SYN | TH_RST)) && (d > TOO_LARGE_SEQ_DELTA || d < -TOO_LARGE_SEQ_DELTA))
        return;
    if ((fl & TH_FIN) && e->last == e->start + 1) {
        if (end < e->last && d > 0)
            e->last_wraps++;
        e->last = end;
    } else if (e->state == TCP_RESET) {
        return;
    } else if (d > 0) {
        if (end < e->last)
            e->last_wraps++;
        e->last = end;
    } else if (len > 0) {
        hist_rxmt(f, e, side);
    }
}

/* Zeek's state machine for one segment from @side. Returns true when the
 * segment closes (FIN) or resets that endpoint. */
static bool state_machine(struct pt_flow *f, struct flow_tcp_ep *ep, unsigned side, uint8_t fl,
                          uint32_t seq, uint32_t len)
{
    struct flow_tcp_ep *e = &ep[side], *p = &ep[!side];
    bool is_orig = side == flow_orig_side(f);
    bool do_close = false;

    switch (e->state) {
    case TCP_INACTIVE:
        if (fl & TH_SYN) {
            if (is_orig) {
                set_state(e, (fl & TH_ACK) ? TCP_SYN_ACK_SENT : TCP_SYN_SENT);
            } else {
                if (!(fl & TH_ACK) && p->state == TCP_SYN_ACK_SENT && seq == e->start) {
                    /* SYN and SYN-ACK seen reversed: the SYN sender originates */
                    f->fl ^= FL_ORIG1;
                    flow_hist_add(f, side, '^');
                    set_state(p, TCP_ESTABLISHED);
                }
                if (p->state == TCP_SYN_SENT)
                    set_state(p, TCP_ESTABLISHED);
                set_state(e, TCP_ESTABLISHED);
            }
        }
        if (fl & TH_FIN) {
            set_state(e, TCP_CLOSED);
            do_close = true;
        }
        if (fl & TH_RST) {
            set_state(e, TCP_RESET);
            do_close = true;
        }
        if (e->state == TCP_INACTIVE) {
            const struct flow_tcp_ep *o = &ep[flow_orig_side(f)];
            if (!is_orig && len == 0 && o->state == TCP_SYN_SENT)
                ; /* an ACK of the SYN before the SYN-ACK: not partial */
            else if ((fl & TH_ACK) && p->state == TCP_ESTABLISHED)
                set_state(e, TCP_ESTABLISHED); /* missed the SYN only */
            else
                set_state(e, TCP_PARTIAL);
        }
        break;
    case TCP_SYN_SENT:
    case TCP_SYN_ACK_SENT:
        if (fl & TH_FIN) {
            set_state(e, TCP_CLOSED);
            do_close = true;
        }
        if (fl & TH_RST) {
            set_state(e, TCP_RESET);
            do_close = true;
        }
        break;
    case TCP_ESTABLISHED:
    case TCP_PARTIAL:
        if ((fl & TH_SYN) && e->state == TCP_PARTIAL && p->state == TCP_INACTIVE && !(fl & TH_ACK))
            set_state(e, TCP_SYN_SENT);
        if ((fl & TH_FIN) && !(fl & TH_RST)) {
            set_state(e, TCP_CLOSED);
            if (p->state == TCP_RESET && p->prev_state == TCP_CLOSED)
                set_state(p, TCP_CLOSED); /* FIN then RST from the peer: a normal close */
            do_close = true;
        }
        if (fl & TH_RST) {
            set_state(e, TCP_RESET);
            do_close = true;
        }
        break;
    case TCP_CLOSED:
        if ((fl & TH_RST) && p->state != TCP_CLOSED) {
            set_state(e, TCP_RESET);
            if (!e->did_close)
                do_close = true;
        }
        break;
    default:
        break;
    }
    return do_close;
}

void flow_tcp_update(struct pt_flow *f, struct flow_tcp *x, unsigned side, const struct pt_l3 *l3)
{
    struct flow_tcp_ep *e = &x->ep[side], *p = &x->ep[!side];
    uint8_t fl = l3->tcp_flags;
    uint32_t len = l3->l4_len, seq = l3->tcp_seq, ack = l3->tcp_ack;
    uint32_t seg = len + !!(fl & TH_SYN) + !!(fl & TH_FIN);
    uint32_t rel_ack = 0;
    bool have_ack = false;

    if (fl & TH_RST)
        seg -= len;
    init_endpoint(e, fl, seq, seq + seg);

    uint32_t rel = seq - e->start;
    bool underflow = e->last_wraps == 0 && seq_delta(seq, e->start) < 0;

    update_history(f, e, side, fl, rel, len);
    if (l3->tcp_win == 0 && !(fl & TH_RST) && p->state != TCP_CLOSED && e->state != TCP_RESET)
        hist_scaled8(f, side, &e->n_win0, 'W');
    if (fl & TH_FIN)
        e->fin_seen = 1;
    e->tcp_flags |= fl;

    if (fl & TH_ACK) {
        if (p->state == TCP_INACTIVE) {
            /* number the silent peer as if we had seen its SYN */
            p->start = p->ack = p->last = ack - 1;
            p->rseq = 1;
            rel_ack = 1;
            have_ack = true;
        } else if (!(p->ack_wraps == 0 && seq_delta(ack, p->start) < 0)) {
            rel_ack = ack - p->start;
            have_ack = true;
            if (!(fl & TH_RST) && seq_delta(ack, p->ack) > 0 &&
                !(ack == 0 && seq_delta(ack, p->ack) > TOO_LARGE_SEQ_DELTA)) {
                if (ack < p->ack)
                    p->ack_wraps++;
                p->ack = ack;
            }
        }
    }

    update_last_seq(f, e, side, seq + seg, fl, len);

    bool do_close = state_machine(f, x->ep, side, fl, seq, len);

    if (have_ack && seq_delta(rel_ack, p->rseq) > 0) {
        /* Acknowledged data the peer's reassembler never saw: up to the
         * out-of-order data it holds, if any, which it then delivers (we
         * assume that data runs up to the highest sequence seen). */
        bool held = p->ooo && seq_delta(rel_ack, p->ooo) >= 0;
        uint32_t miss = (held ? p->ooo : rel_ack) - p->rseq;
        if (e->state == TCP_ESTABLISHED && p->state == TCP_ESTABLISHED) {
            x->missed += miss;
            hist_scaled8(f, !side, &p->n_gap, 'G');
        }
        p->rseq = rel_ack;
        if (held) {
            uint32_t top = p->last - p->start;
            if (seq_delta(top, p->rseq) > 0)
                p->rseq = top;
            p->ooo = 0;
        }
    }

    if (len > 0 && !(fl & TH_RST) && !underflow && l3->payload_caplen >= len) {
        uint32_t dseq = (fl & TH_SYN) ? rel + 1 : rel;
        if (seq_delta(dseq, e->rseq) <= 0 && seq_delta(dseq + len, e->rseq) > 0) {
            e->rseq = dseq + len;
            if (e->ooo && seq_delta(e->rseq, e->ooo) >= 0) { /* the hole is filled */
                uint32_t top = e->last - e->start;
                if (seq_delta(top, e->rseq) > 0)
                    e->rseq = top;
                e->ooo = 0;
            }
        } else if (seq_delta(dseq, e->rseq) > 0 && (!e->ooo || seq_delta(dseq, e->ooo) < 0)) {
            e->ooo = dseq;
        }
    }

    if (do_close)
        e->did_close = 1;
}

bool flow_tcp_both_closed(const struct flow_tcp *x)
{
    return x->ep[0].did_close && x->ep[1].did_close;
}

/* Ended for expiry purposes: FIN both ways, or a RST. */
bool flow_tcp_closed(const struct flow_tcp *x)
{
    return flow_tcp_both_closed(x) || x->ep[0].state == TCP_RESET || x->ep[1].state == TCP_RESET;
}

/* A pure SYN with a new initial sequence on a connection that has ended
 * starts a new connection (Zeek's connection reuse). A repeated SYN with the
 * same ISN is a retransmission, not a reuse. */
bool flow_tcp_is_reuse(const struct flow_tcp *x, unsigned side, const struct pt_l3 *l3)
{
    if ((l3->tcp_flags & (TH_SYN | TH_ACK | TH_RST | TH_FIN)) != TH_SYN)
        return false;
    if (!flow_tcp_closed(x))
        return false;
    return x->ep[side].state == TCP_INACTIVE || l3->tcp_seq != x->ep[side].start;
}

uint64_t flow_tcp_size(const struct flow_tcp *x, unsigned side)
{
    const struct flow_tcp_ep *e = &x->ep[side], *p = &x->ep[!side];
    uint64_t last = (uint64_t)e->last_wraps << 32 | e->last;
    uint64_t ack = (uint64_t)e->ack_wraps << 32 | e->ack;
    uint64_t start = e->start, size;

    if (e->state == TCP_INACTIVE && p->state == TCP_INACTIVE)
        return 0;
    if (e->prev_state == TCP_SYN_SENT && e->state == TCP_RESET && p->state == TCP_INACTIVE &&
        !(ack == start || ack == start + 1))
        return 0; /* half-open connection discovered and aborted */
    if (last < start && ack < start)
        return 0;
    size = (last > ack ? last : ack) - start;
    if (size)
        size--;
    if (e->fin_seen && size)
        size--;
    return size;
}

/* Zeek's /^\^?S[^HAFGIQ]*R.*$/ on the history. */
static bool hist_rstos0(const struct pt_flow *f)
{
    unsigned i = 0, n = flow_hist_len(f);
    if (i < n && f->hist[i] == '^')
        i++;
    if (i >= n || f->hist[i] != 'S')
        return false;
    for (i++; i < n; i++) {
        char c = f->hist[i];
        if (c == 'R')
            return true;
        if (strchr("HAFGIQ", c))
            return false;
    }
    return false;
}

const char *flow_tcp_conn_state(const struct pt_flow *f, const struct flow_tcp *x)
{
    unsigned o = flow_orig_side(f);
    uint8_t os = x->ep[o].state, rs = x->ep[!o].state;
    bool o_inact = os == TCP_INACTIVE || os == TCP_PARTIAL;
    bool r_inact = rs == TCP_INACTIVE || rs == TCP_PARTIAL;

    if (rs == TCP_RESET) {
        if (os == TCP_SYN_SENT || os == TCP_SYN_ACK_SENT ||
            (os == TCP_RESET && flow_tcp_size(x, o) == 0 && flow_tcp_size(x, !o) == 0))
            return "REJ";
        return o_inact ? "RSTRH" : "RSTR";
    }
    if (os == TCP_RESET) {
        if (r_inact)
            return hist_rstos0(f) ? "RSTOS0" : "OTH";
        return "RSTO";
    }
    if (rs == TCP_CLOSED && os == TCP_CLOSED)
        return "SF";
    if (os == TCP_CLOSED)
        return r_inact ? "SH" : "S2";
    if (rs == TCP_CLOSED)
        return o_inact ? "SHR" : "S3";
    if (os == TCP_SYN_SENT && rs == TCP_INACTIVE)
        return "S0";
    if (os == TCP_ESTABLISHED && rs == TCP_ESTABLISHED)
        return "S1";
    return "OTH";
}

/* A small stand-in for Zeek's likely_server_ports (the ports its default
 * scripts register): used to pick the originator of a connection whose first
 * packet is not a SYN (TCP) and of UDP flows. Sorted. */
static const uint16_t tcp_servers[] = {
    21,   22,   23,   25,   53,   80,   88,   110,  135,  139,  143,  179,  389,   443,   445,
    465,  502,  587,  636,  993,  995,  1080, 1433, 1521, 1723, 1883, 2049, 3128,  3306,  3389,
    5060, 5061, 5222, 5432, 5900, 6379, 6667, 8000, 8080, 8443, 8888, 9200, 11211, 27017,
};
static const uint16_t udp_servers[] = {
    53,   67,   69,   123,  137,  161,  162,  500,  514,  1812,
    1813, 1900, 2152, 3478, 4500, 4789, 5060, 5353, 5355, 6081,
};

static bool in_sorted(const uint16_t *v, size_t n, uint16_t x)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (v[mid] == x)
            return true;
        if (v[mid] < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

bool flow_likely_server_port(uint8_t proto, uint16_t port)
{
    if (proto == 6)
        return in_sorted(tcp_servers, PT_ARRAY_LEN(tcp_servers), port);
    if (proto == 17)
        return in_sorted(udp_servers, PT_ARRAY_LEN(udp_servers), port);
    return false;
}
