/* rtp.c - RTP jitter and loss inside the flow table: which packets are
 * measured, where the per-direction state lives, and what the conn record
 * gets (docs/APP.md "RTP jitter"; the arithmetic is src/decode/rtp.c).
 *
 * DESIGN
 * 1. Which flows. Detection (src/decode/appid.c) decides RTP on the second
 *    packet of its candidate stream: an RTP-shaped UDP payload on a flow with
 *    no well-known port, confirmed by the next packet of that direction with
 *    the same SSRC and a following sequence number. To measure the stream
 *    from its first packet, as tshark does, a flow takes an RTP state at its
 *    first RTP-shaped packet while detection is still open for RTP, measures
 *    both directions from then on, and gives the state back as soon as RTP is
 *    ruled out: detection finished with something else, a well-known port, or
 *    the candidate's direction used its PT_APPID_K packets without a
 *    confirmation. So a non-RTP flow holds a state for at most PT_APPID_K
 *    packets of one direction, and only its RTP-shaped payloads are parsed.
 * 2. Where. struct pt_flow must not grow, and two directions need 160
 *    bytes: the states come from a per-worker pool (cfg.rtp_states, default
 *    4096 per worker, 168 bytes each, calloc'd so only used states are
 *    touched). The flow keeps the index and the owning worker in its app
 *    part, in the bytes TCP uses for next_seq (a UDP flow never does). Pool
 *    empty: the flow is not measured, counted once (app.rtp.no_state).
 * 3. Returning a state: the owning worker puts it on its own free list; any
 *    other thread (a second worker holding the flow, the remover at flow end)
 *    pushes it on the owner's lock-free return stack, which the owner takes
 *    whole when its free list runs dry (no ABA), as app.c does for parser
 *    states.
 * 4. The record: flow_rtp_fill() copies the two directions' results into the
 *    conn record (also for live snapshots) when the payload decided RTP;
 *    flow_rtp_end() frees the state after the final record is taken.
 * All of it runs under the flow's lock; per packet one header parse and a
 * few integer operations, no allocation. */
#include <errno.h>
#include <stdlib.h>

#include "internal.h"

/* The state is in a pool, not in the flow: struct pt_flow stays 200 bytes
 * (asserted in internal.h). */

struct flow_rtp {
    struct pt_rtp_stream d[2]; /* by direction, 0 = originator */
    uint32_t next;             /* free list / return stack: index + 1 of the next state */
};

int flow_rtp_table_init(struct pt_flow_table *t)
{
    const struct pt_flow_config *c = &t->cfg;
    uint32_t n = c->rtp_states ? c->rtp_states : PT_FLOW_RTP_STATES;

    if (c->app_off)
        return 0;
    for (unsigned i = 0; i < c->workers; i++) {
        struct flow_rtp_worker *r = &t->w[i].rtp;
        if (!(r->pool = calloc(n, sizeof *r->pool)))
            return -ENOMEM;
        r->n = n;
    }
    return 0;
}

void flow_rtp_table_fini(struct pt_flow_table *t)
{
    for (unsigned i = 0; i < t->cfg.workers; i++) {
        free(t->w[i].rtp.pool);
        t->w[i].rtp.pool = NULL;
    }
}

/* A state of worker @w's pool for @fa, or false (pool empty). */
static bool rtp_take(struct pt_flow_worker *w, struct flow_app *fa)
{
    struct flow_rtp_worker *r = &w->rtp;
    uint32_t i;

    if (!r->free)
        r->free = __atomic_exchange_n(&r->ret, 0, __ATOMIC_ACQUIRE);
    if (r->free) {
        i = r->free;
        r->free = r->pool[i - 1].next;
    } else if (r->used < r->n) {
        i = ++r->used;
    } else {
        return false;
    }
    pt_rtp_stream_init(&r->pool[i - 1].d[0]);
    pt_rtp_stream_init(&r->pool[i - 1].d[1]);
    fa->rtp = i;
    fa->rtp_owner = (uint8_t)w->id;
    return true;
}

/* Give @fa's state back; @w is the calling worker, NULL for the remover. */
static void rtp_release(struct pt_flow_table *t, const struct pt_flow_worker *w,
                        struct flow_app *fa)
{
    struct flow_rtp_worker *o = &t->w[fa->rtp_owner].rtp;
    uint32_t i = fa->rtp;

    if (w && w->id == fa->rtp_owner) {
        o->pool[i - 1].next = o->free;
        o->free = i;
    } else {
        uint32_t old = __atomic_load_n(&o->ret, __ATOMIC_RELAXED);
        do
            o->pool[i - 1].next = old;
        while (!__atomic_compare_exchange_n(&o->ret, &old, i, true, __ATOMIC_RELEASE,
                                            __ATOMIC_RELAXED));
    }
    fa->rtp = 0;
}

static inline struct flow_rtp *rtp_of(const struct pt_flow_table *t, const struct flow_app *fa)
{
    return &t->w[fa->rtp_owner].rtp.pool[fa->rtp - 1];
}

/* Can detection still decide RTP for this flow (DESIGN 1)? */
static bool rtp_possible(const struct flow_app *fa)
{
    const struct pt_appid *id = &fa->id;

    if (pt_appid_done(id) || id->port_app != PT_APP_UNKNOWN)
        return false;
    return !fa->rtp || id->seen[fa->rtp_dir] < PT_APPID_K;
}

bool flow_rtp_packet(struct pt_flow_worker *w, struct pt_flow *f, const struct pt_pkt *p,
                     const struct pt_l3 *l3, unsigned dir)
{
    struct flow_app *fa = &f->app;
    bool rtp = fa->id.app == PT_APP_RTP;
    struct pt_rtp_hdr h;
    enum pt_rtp_err e;

    if (fa->rtp_fl & RTP_F_NO_STATE)
        return false;
    if (!rtp && !rtp_possible(fa)) {
        if (fa->rtp)
            rtp_release(w->t, w, fa);
        return false;
    }
    e = pt_rtp_parse(&h, l3->payload, l3->payload_caplen);
    if (e != PT_RTP_OK) {
        if (rtp) /* before the decision it is only "not RTP yet" */
            PT_CNT_INC(w->app.st.rtp.err[e]);
        return true;
    }
    if (!fa->rtp) {
        if (!rtp_take(w, fa)) {
            PT_CNT_INC(w->app.st.rtp.no_state);
            fa->rtp_fl |= RTP_F_NO_STATE;
            return false;
        }
        fa->rtp_dir = (uint8_t)dir;
    }
    pt_rtp_stream_update(&rtp_of(w->t, fa)->d[dir], &w->app.st.rtp, p->ts_ns, &h);
    return true;
}

void flow_rtp_fill(struct pt_flow_record *r, const struct pt_flow_table *t, const struct pt_flow *f)
{
    const struct flow_app *fa = &f->app;

    if (f->key.proto != 17 || !fa->rtp || fa->id.app != PT_APP_RTP)
        return;
    for (unsigned d = 0; d < 2; d++)
        pt_rtp_stream_result(&r->rtp[d], &rtp_of(t, fa)->d[d]);
}

void flow_rtp_end(struct pt_flow_table *t, struct pt_flow *f)
{
    if (f->key.proto == 17 && f->app.rtp)
        rtp_release(t, NULL, &f->app);
}
