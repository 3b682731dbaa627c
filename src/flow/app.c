/* app.c - the application layer inside the flow table: detection, the
 * in-order TCP feed, the parser state pool and the app records
 * (docs/APP.md; the records and queue are include/pt/app.h).
 *
 * DESIGN
 * - Everything here runs under the flow's lock: on the capture worker
 *   holding it (flow_app_packet, flow_app_arp without a flow), or on the
 *   remover as it takes a flow's record (flow_app_end).
 * - Cost is bounded per flow. Detection looks at the first PT_APPID_K
 *   payload packets of each direction. A parser is started only on a
 *   payload decision for a protocol we parse (HTTP, TLS, DNS over TCP or
 *   UDP); DHCP is parsed per datagram on ports 67/68. Once detection is done
 *   and no parser runs, the flow is marked APP_F_OFF and its packets cost one
 *   test.
 * - TCP order: per direction the next expected sequence number (from the
 *   SYN, else the first segment seen). A segment at or before it is trimmed
 *   (retransmissions, overlaps); one past it tells the parser how many bytes
 *   are missing (app.tcp_gap), and the parser decides: HTTP counts them
 *   into a body of known length and loses sync elsewhere, TLS and DNS over
 *   TCP give that direction up. No out-of-order buffering.
 * - Parser states come from the worker's two pools (allocated at start,
 *   touched as used): small states for UDP DNS, large ones for the TCP
 *   parsers; the flow's parser says which pool its state is in. A worker
 *   gives a state back to its own free list; a state of another worker's
 *   pool (the same flow on two workers: two mirror ports) and every state
 *   the remover frees go back through the owner's lock-free return stack.
 *   Pool empty: the flow gets detection only (app.no_state). An HTTP
 *   connection between transactions parks (gives its state back, keeps its
 *   transaction count in the flow's TCP part) and takes a state again with
 *   its next bytes: see http_park().
 * - Records are copied into the current worker's queue (full: dropped,
 *   counted by the queue). At flow end the remover flushes the parser into
 *   the table's app sink, counting on its own stats (never a worker's). A
 *   parser that keeps a pointer to the worker's stats (HTTP, TLS) is pointed
 *   at the stats of whoever feeds it before each call. */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define TH_SYN 0x02

struct app_state {
    uint32_t next; /* struct flow_app_pool: the free list link */
    union {
        struct pt_tls_state tls;
        struct pt_http_state http;
        struct {
            struct pt_dns_flow f;
            struct pt_dns_tcp tcp;
        } dns;
    };
};

/* A UDP DNS flow's state: pending queries only. */
struct dns_state {
    uint32_t next; /* struct flow_app_pool: the free list link */
    struct pt_dns_flow f;
};

/* ---- setup ------------------------------------------------------------------ */

int flow_app_table_init(struct pt_flow_table *t)
{
    const struct pt_flow_config *c = &t->cfg;
    uint32_t n = c->app_states ? c->app_states : PT_FLOW_APP_STATES;
    uint32_t qn = c->app_queue ? c->app_queue : PT_FLOW_APP_QUEUE;
    int err = -ENOMEM;

    if (c->app_off)
        return 0;
    if (!(t->app_rec = malloc(sizeof *t->app_rec)))
        return -ENOMEM;
    for (unsigned i = 0; i < c->workers; i++) {
        struct flow_app_worker *a = &t->w[i].app;
        /* calloc: pools of 4096 states are 41 + 9 MB of address space, but
         * only the pages of states in use are ever touched */
        a->big.mem = calloc(n, sizeof(struct app_state));
        a->dns.mem = calloc(n, sizeof(struct dns_state));
        a->scratch = malloc(sizeof *a->scratch);
        if (!a->big.mem || !a->dns.mem || !a->scratch)
            return -ENOMEM;
        a->big.stride = sizeof(struct app_state);
        a->dns.stride = sizeof(struct dns_state);
        a->big.n = a->dns.n = n;
        if (!(a->q = pt_app_queue_create(qn, c->app_queue_grow, &err)))
            return err;
    }
    return 0;
}

void flow_app_table_fini(struct pt_flow_table *t)
{
    for (unsigned i = 0; i < t->cfg.workers; i++) {
        struct flow_app_worker *a = &t->w[i].app;
        free(a->big.mem);
        free(a->dns.mem);
        free(a->scratch);
        pt_app_queue_destroy(a->q);
    }
    free(t->app_rec);
}

void pt_flow_table_set_app_sink(struct pt_flow_table *t, pt_app_sink_fn fn, void *arg)
{
    t->app_sink = fn;
    t->app_sink_arg = arg;
}

const struct pt_app_worker_stats *pt_flow_worker_app_stats(const struct pt_flow_worker *fw)
{
    return &fw->app.st;
}

void pt_flow_table_app_totals(const struct pt_flow_table *t, struct pt_app_worker_stats *out,
                              uint64_t *dropped)
{
    for (unsigned i = 0; i < t->cfg.workers; i++) {
        pt_app_worker_stats_add(out, &t->w[i].app.st);
        if (dropped && t->w[i].app.q)
            *dropped += pt_app_queue_dropped(t->w[i].app.q);
    }
    pt_app_worker_stats_add(out, &t->app_st);
    if (dropped)
        *dropped += t->app_no_sink;
}

uint64_t pt_flow_table_app_drain(struct pt_flow_table *t, pt_app_sink_fn fn, void *arg)
{
    uint64_t n = 0;

    for (unsigned i = 0; i < t->cfg.workers; i++) {
        struct pt_app_queue *q = t->w[i].app.q;
        const struct pt_app_rec *a;
        if (!q)
            continue;
        while ((a = pt_app_queue_peek(q)) != NULL) {
            fn(a, arg);
            pt_app_queue_pop(q);
            n++;
        }
    }
    return n;
}

static void add_n(uint64_t *dst, const uint64_t *src, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] += PT_CNT_GET(src[i]);
}

#define ADD_STRUCT(d, s) add_n((uint64_t *)(d), (const uint64_t *)(s), sizeof(*(s)) / 8)

void pt_app_worker_stats_add(struct pt_app_worker_stats *dst, const struct pt_app_worker_stats *src)
{
    dst->no_state += PT_CNT_GET(src->no_state);
    dst->parked_lost += PT_CNT_GET(src->parked_lost);
    dst->tcp_gap += PT_CNT_GET(src->tcp_gap);
    dst->records += PT_CNT_GET(src->records);
    dst->arp_pkts += PT_CNT_GET(src->arp_pkts);
    for (unsigned i = 0; i < PT_DNS_SERIES_QTYPES; i++)
        dst->dns_qtype[i] += PT_CNT_GET(src->dns_qtype[i]);
    for (unsigned i = 0; i < PT_DNS_SERIES_RCODES; i++)
        dst->dns_rcode[i] += PT_CNT_GET(src->dns_rcode[i]);
    /* every member of these is a uint64_t counter (padding of the aligned
     * ones is zero and stays zero) */
    ADD_STRUCT(&dst->appid, &src->appid);
    ADD_STRUCT(&dst->dns, &src->dns);
    ADD_STRUCT(&dst->http, &src->http);
    ADD_STRUCT(&dst->tls, &src->tls);
    ADD_STRUCT(&dst->dhcp, &src->dhcp);
    ADD_STRUCT(&dst->rtp, &src->rtp);
}

/* ---- the state pool ----------------------------------------------------------- */

/* State @i (index + 1) of pool @a. */
static inline void *state_at(const struct flow_app_pool *a, uint32_t i)
{
    return a->mem + (size_t)(i - 1) * a->stride;
}

/* Its free list link: every state starts with it. */
static inline uint32_t *state_next(struct flow_app_pool *a, uint32_t i)
{
    return state_at(a, i);
}

static uint32_t state_get(struct flow_app_pool *a)
{
    uint32_t i;

    if (!a->free)
        a->free = __atomic_exchange_n(&a->ret, 0, __ATOMIC_ACQUIRE);
    if (a->free) {
        i = a->free;
        a->free = *state_next(a, i);
    } else if (a->used < a->n) {
        i = ++a->used;
    } else {
        return 0;
    }
    return i;
}

/* Give state @i back to pool @o of another worker (or from the remover). */
static void state_return(struct flow_app_pool *o, uint32_t i)
{
    uint32_t old = __atomic_load_n(&o->ret, __ATOMIC_RELAXED);

    do
        *state_next(o, i) = old;
    while (
        !__atomic_compare_exchange_n(&o->ret, &old, i, true, __ATOMIC_RELEASE, __ATOMIC_RELAXED));
}

/* The pool of @fa's state: the parser decides (set before the state is
 * taken, never changed while it is held). */
static inline struct flow_app_pool *pool_of(struct flow_app_worker *a, const struct flow_app *fa)
{
    return fa->parser == APP_P_DNS ? &a->dns : &a->big;
}

/* Give @fa a state from worker @w's pool for its parser (fa->parser set):
 * the state's address, or NULL when the pool is empty (counted:
 * app.no_state). */
static void *state_take(struct pt_flow_worker *w, struct flow_app *fa)
{
    struct flow_app_pool *a = pool_of(&w->app, fa);
    uint32_t i = state_get(a);

    if (!i) {
        PT_CNT_INC(w->app.st.no_state);
        return NULL;
    }
    fa->st = i;
    fa->owner = (uint8_t)w->id;
    return state_at(a, i);
}

static inline void *state_of(struct pt_flow_table *t, const struct flow_app *fa)
{
    return state_at(pool_of(&t->w[fa->owner].app, fa), fa->st);
}

/* Release @f's state; @w is the worker calling, NULL for the remover. */
static void state_release(struct pt_flow_table *t, struct pt_flow_worker *w, struct flow_app *fa)
{
    struct flow_app_pool *o = pool_of(&t->w[fa->owner].app, fa);

    if (w && w->id == fa->owner) {
        *state_next(o, fa->st) = o->free;
        o->free = fa->st;
    } else {
        state_return(o, fa->st);
    }
    fa->st = 0;
}

/* ---- records ------------------------------------------------------------------ */

struct emit_ctx {
    struct pt_flow_table *t;
    struct pt_flow_worker *w; /* NULL: the remover, at flow end */
    const struct pt_flow *f;
    struct pt_app_rec *r; /* the record being built */
};

static bool rec_begin(struct emit_ctx *c, unsigned kind, uint64_t ts_ns)
{
    const struct pt_flow *f = c->f;
    const struct pt_flow_key *k = &f->key;
    unsigned o = flow_orig_side(f);
    struct pt_app_rec *r;

    r = c->w ? pt_app_queue_reserve(c->w->app.q) : c->t->app_rec;
    if (!r)
        return false; /* counted by the queue */
    r->kind = (uint8_t)kind;
    r->at_end = c->w == NULL;
    r->pad = 0;
    r->ts_ns = ts_ns;
    r->conn.uid64 = flow_uid64(k, f->first_ns);
    r->conn.first_ns = f->first_ns;
    memcpy(r->conn.orig_h, k->addr[o], 16);
    memcpy(r->conn.resp_h, k->addr[!o], 16);
    r->conn.orig_p = k->port[o];
    r->conn.resp_p = k->port[!o];
    r->conn.proto = k->proto;
    r->conn.ver = k->ver;
    r->conn.vlan = k->vlan[0];
    r->conn.inner_vlan = k->vlan[1];
    c->r = r;
    return true;
}

static void rec_end(struct emit_ctx *c)
{
    if (c->w) {
        pt_app_queue_commit(c->w->app.q);
        PT_CNT_INC(c->w->app.st.records);
    } else if (c->t->app_sink) {
        c->r->seq = 0;
        c->t->app_sink(c->r, c->t->app_sink_arg);
    } else {
        c->t->app_no_sink++;
    }
}

static void dns_emit(void *arg, const struct pt_dns_txn *txn, const struct pt_dns_msg *resp)
{
    struct emit_ctx *c = arg;
    struct pt_app_worker_stats *st = c->w ? &c->w->app.st : &c->t->app_st;
    struct pt_app_dns *d;

    /* the series count every transaction, whether its record finds a slot or not */
    PT_CNT_INC(st->dns_qtype[pt_dns_series_qtype(txn)]);
    PT_CNT_INC(st->dns_rcode[pt_dns_series_rcode(txn)]);
    if (!rec_begin(c, PT_REC_DNS, txn->ts_ns))
        return;
    d = &c->r->dns;
    /* The answers' texts are 16 x 256 bytes of which a record uses a few
     * dozen: copy each used one with its NUL, not the 4 KiB (the rest of
     * the arrays is undefined in @txn too; readers stop at answer_len). */
    memcpy(&d->txn, txn, offsetof(struct pt_dns_txn, answers));
    for (unsigned i = 0; i < txn->n_answers && i < PT_DNS_MAX_ANSWERS; i++)
        memcpy(d->txn.answers[i], txn->answers[i],
               txn->answer_len[i] < PT_DNS_TEXT_MAX ? txn->answer_len[i] + 1u : PT_DNS_TEXT_MAX);
    d->n_addrs = 0;
    for (unsigned i = 0; resp && i < resp->n_rr && d->n_addrs < PT_APP_DNS_ADDRS; i++) {
        const struct pt_dns_rr *rr = &resp->rr[i];
        if (rr->section != PT_DNS_SEC_ANSWER || !rr->addr_ver)
            continue;
        d->addr_ver[d->n_addrs] = rr->addr_ver;
        d->addr_ttl[d->n_addrs] = rr->ttl;
        memcpy(d->addr[d->n_addrs], rr->addr, 16);
        d->n_addrs++;
    }
    rec_end(c);
}

static void http_emit(const struct pt_http_txn *txn, void *arg)
{
    struct emit_ctx *c = arg;
    uint64_t ts = (txn->flags & PT_HTTP_TX_REQUEST) ? txn->req.ts_ns : txn->resp.ts_ns;

    if (!rec_begin(c, PT_REC_HTTP, ts))
        return;
    memcpy(&c->r->http, txn, sizeof *txn);
    rec_end(c);
}

/* The ssl record: Zeek stamps it with the connection's start. */
static void ssl_emit(struct emit_ctx *c, struct pt_flow *f, const struct pt_tls_result *res)
{
    if (f->app.fl & APP_F_SSL || !(res->flags & (PT_TLS_F_CLIENT_HELLO | PT_TLS_F_SERVER_HELLO)))
        return;
    f->app.fl |= APP_F_SSL;
    if (!rec_begin(c, PT_REC_SSL, f->first_ns))
        return;
    memcpy(&c->r->ssl, res, sizeof *res);
    rec_end(c);
}

/* ---- per flow ------------------------------------------------------------------ */

void flow_app_start(struct pt_flow *f, bool off)
{
    const struct pt_flow_key *k = &f->key;
    unsigned o = flow_orig_side(f);

    /* flow_start() zeroed f->app */
    if (off || (k->proto != 6 && k->proto != 17)) {
        f->app.fl = APP_F_OFF;
        return;
    }
    pt_appid_init(&f->app.id, k->proto, k->port[o], k->port[!o]);
}

static bool is_dns_family(unsigned app)
{
    return app == PT_APP_DNS || app == PT_APP_MDNS || app == PT_APP_LLMNR ||
           app == PT_APP_NETBIOS_NS;
}

/* Start the parser the detection asks for on a TCP flow, once. */
static void tcp_parser_start(struct pt_flow_worker *w, struct pt_flow *f)
{
    struct flow_app *fa = &f->app;
    unsigned app = fa->id.app;
    uint8_t parser = app == PT_APP_HTTP   ? APP_P_HTTP
                     : app == PT_APP_TLS  ? APP_P_TLS
                     : is_dns_family(app) ? APP_P_DNS_TCP
                                          : APP_P_NONE;
    struct app_state *s;

    if (parser == APP_P_NONE)
        return;
    fa->fl |= APP_F_TRIED;
    fa->parser = parser; /* picks the pool */
    if (!(s = state_take(w, fa))) {
        fa->parser = APP_P_NONE;
        return;
    }
    if (parser == APP_P_HTTP) {
        pt_http_init(&s->http, &w->app.st.http);
    } else if (parser == APP_P_TLS) {
        pt_tls_init(&s->tls, &w->app.st.tls);
    } else {
        pt_dns_flow_init(&s->dns.f);
        pt_dns_tcp_init(&s->dns.tcp);
    }
}

/* Stop parsing @f: flush what the parser holds (HTTP) and free its state. */
static void tcp_parser_stop(struct emit_ctx *c, struct pt_flow *f, struct app_state *s, bool flush)
{
    if (flush && f->app.parser == APP_P_HTTP)
        pt_http_flush(&s->http, http_emit, c);
    state_release(c->t, c->w, &f->app);
    f->app.parser = APP_P_NONE;
}

/* Between two transactions an HTTP connection needs nothing of its 10 KB
 * state but the transaction count: keep that in the flow's TCP part and give
 * the state back, so keep-alive connections idle for minutes (browsers hold
 * them open) do not use up the pool. */
static void http_park(struct emit_ctx *c, struct pt_flow *f, struct app_state *s)
{
    flow_tcpx(c->t, f)->http_depth = pt_http_depth(&s->http);
    state_release(c->t, c->w, &f->app);
    f->app.fl |= APP_F_PARKED;
}

/* The parked connection @f carries bytes again: a state set up as the
 * parked one was. When the pool is empty (counted: app.no_state, and
 * parked_lost) the connection is not parsed any more, as a new connection
 * would not be: resuming later, in the middle of whatever it sent
 * meanwhile, would parse garbage. */
static void http_unpark(struct pt_flow_worker *w, struct pt_flow *f)
{
    struct flow_app *fa = &f->app;
    struct app_state *s;

    fa->fl &= (uint8_t)~APP_F_PARKED;
    if (!(s = state_take(w, fa))) {
        PT_CNT_INC(w->app.st.parked_lost);
        fa->parser = APP_P_NONE;
        return;
    }
    pt_http_resume(&s->http, &w->app.st.http, flow_tcpx(w->t, f)->http_depth);
}

/* Feed @cap captured bytes of the @len new stream bytes of direction @dir
 * (the rest, len - cap, were cut by the snap length), after @gap missing
 * bytes, to @f's TCP parser. */
static void tcp_parser_feed(struct emit_ctx *c, struct pt_flow *f, unsigned dir, uint64_t ts,
                            uint32_t gap, const uint8_t *d, uint32_t cap, uint32_t len)
{
    struct pt_flow_worker *w = c->w;
    struct app_state *s = state_of(c->t, &f->app);
    int st;

    switch (f->app.parser) {
    case APP_P_HTTP:
        s->http.stats = &w->app.st.http;
        st = PT_HTTP_OK;
        if (gap)
            st = pt_http_gap(&s->http, dir, gap, http_emit, c);
        if (st == PT_HTTP_OK && cap)
            st = pt_http_feed(&s->http, dir, ts, d, cap, http_emit, c);
        if (st == PT_HTTP_OK && len > cap)
            st = pt_http_gap(&s->http, dir, len - cap, http_emit, c);
        if (st != PT_HTTP_OK)
            tcp_parser_stop(c, f, s, st == PT_HTTP_STOP);
        else if (pt_http_idle(&s->http))
            http_park(c, f, s);
        break;
    case APP_P_TLS:
        s->tls.stats = &w->app.st.tls;
        st = PT_TLS_NEED_MORE;
        if (gap)
            st = pt_tls_gap(&s->tls, dir);
        if (st == PT_TLS_NEED_MORE && cap)
            st = pt_tls_feed(&s->tls, dir, ts, d, cap);
        if (st == PT_TLS_NEED_MORE && len > cap)
            st = pt_tls_gap(&s->tls, dir);
        if (st == PT_TLS_DONE)
            ssl_emit(c, f, &s->tls.res);
        if (st != PT_TLS_NEED_MORE)
            tcp_parser_stop(c, f, s, false);
        break;
    case APP_P_DNS_TCP:
        if (gap)
            pt_dns_tcp_gap(&s->dns.tcp, dir, &w->app.st.dns);
        if (cap)
            pt_dns_tcp_feed(&s->dns.tcp, &s->dns.f, w->app.scratch, dir, ts, d, cap, dns_emit, c,
                            &w->app.st.dns);
        if (len > cap)
            pt_dns_tcp_gap(&s->dns.tcp, dir, &w->app.st.dns);
        break;
    }
}

static void tcp_packet(struct emit_ctx *c, struct pt_flow *f, const struct pt_pkt *p,
                       const struct pt_l3 *l3, unsigned dir)
{
    struct flow_app *fa = &f->app;
    struct pt_flow_worker *w = c->w;
    uint8_t bit = dir ? APP_F_SEQ1 : APP_F_SEQ0;
    uint32_t seq = l3->tcp_seq, len = l3->l4_len, cap = l3->payload_caplen, gap = 0;
    const uint8_t *d = l3->payload;
    int32_t rel;

    if (l3->tcp_flags & TH_SYN)
        seq++; /* the SYN takes one sequence number; data (TFO) follows it */
    if (!(fa->fl & bit)) {
        fa->next_seq[dir] = seq;
        fa->fl |= bit;
    }
    rel = (int32_t)(seq - fa->next_seq[dir]);
    if (rel > 0) {
        gap = (uint32_t)rel;
    } else if (rel < 0) {
        uint32_t skip = (uint32_t)-rel;
        if (skip >= len)
            return; /* nothing new: a retransmission, a keep-alive */
        d += skip;
        cap = cap > skip ? cap - skip : 0;
        len -= skip;
        seq += skip;
    }
    if (len == 0)
        return;
    fa->next_seq[dir] = seq + len;
    if (cap > len)
        cap = len;
    if (fa->fl & APP_F_PARKED)
        http_unpark(w, f);
    if (gap && fa->st)
        PT_CNT_INC(w->app.st.tcp_gap);
    if (!pt_appid_done(&fa->id) && cap) {
        const struct pt_flow_key *k = &f->key;
        unsigned o = flow_orig_side(f);
        pt_appid_feed(&fa->id, &w->app.st.appid, 6, dir, k->port[o], k->port[!o], d, cap);
    }
    if (!fa->st && !(fa->fl & APP_F_TRIED))
        tcp_parser_start(w, f);
    if (fa->st)
        tcp_parser_feed(c, f, dir, p->ts_ns, gap, d, cap, len);
    if (!fa->st && !(fa->fl & APP_F_PARKED) && pt_appid_done(&fa->id))
        fa->fl |= APP_F_OFF;
}

static bool is_dhcp_ports(uint16_t a, uint16_t b)
{
    return (a == 67 || a == 68) && (b == 67 || b == 68);
}

static void dhcp_datagram(struct emit_ctx *c, const struct pt_l3 *l3, uint64_t ts)
{
    struct pt_dhcp_msg m;

    if (l3->ver != 4 || !pt_dhcp_parse(&m, l3->payload, l3->payload_caplen, &c->w->app.st.dhcp))
        return;
    if (!rec_begin(c, PT_REC_DHCP, ts))
        return;
    memcpy(&c->r->dhcp.msg, &m, sizeof m);
    memcpy(c->r->dhcp.src, l3->src + 12, 4);
    memcpy(c->r->dhcp.dst, l3->dst + 12, 4);
    rec_end(c);
}

static void udp_packet(struct emit_ctx *c, struct pt_flow *f, const struct pt_pkt *p,
                       const struct pt_l3 *l3, unsigned dir)
{
    struct flow_app *fa = &f->app;
    struct pt_flow_worker *w = c->w;
    const struct pt_flow_key *k = &f->key;
    unsigned o = flow_orig_side(f);

    if (!l3->payload_caplen)
        return;
    if (!pt_appid_done(&fa->id))
        pt_appid_feed(&fa->id, &w->app.st.appid, 17, dir, k->port[o], k->port[!o], l3->payload,
                      l3->payload_caplen);
    if (fa->parser == APP_P_NONE) {
        if (is_dhcp_ports(k->port[0], k->port[1]))
            fa->parser = APP_P_DHCP;
        else if (is_dns_family(fa->id.app))
            fa->parser = APP_P_DNS;
    }
    if (fa->parser == APP_P_DHCP) {
        dhcp_datagram(c, l3, p->ts_ns);
        return;
    }
    if (fa->parser == APP_P_DNS) {
        /* A state only while a query waits for its answer: most DNS flows
         * are one query and one response, done within the datagram pair. */
        if (!fa->st) {
            struct dns_state *n = state_take(w, fa);
            if (!n)
                return;
            pt_dns_flow_init(&n->f);
        }
        struct dns_state *s = state_of(c->t, fa);
        pt_dns_flow_feed(&s->f, w->app.scratch, dir, p->ts_ns, l3->payload, l3->payload_caplen,
                         dns_emit, c, &w->app.st.dns);
        if (s->f.n_used == 0)
            state_release(c->t, w, fa);
        return;
    }
    if (flow_rtp_packet(w, f, p, l3, dir))
        return; /* RTP, or it may still be: stays on */
    if (pt_appid_done(&fa->id))
        fa->fl |= APP_F_OFF;
}

void flow_app_packet(struct pt_flow_worker *w, struct pt_flow *f, const struct pt_pkt *p,
                     const struct pt_l3 *l3, unsigned side)
{
    struct emit_ctx c = {.t = w->t, .w = w, .f = f};
    unsigned dir = side == flow_orig_side(f) ? 0 : 1;

    if (l3->proto == 6)
        tcp_packet(&c, f, p, l3, dir);
    else
        udp_packet(&c, f, p, l3, dir);
}

void flow_app_arp(struct pt_flow_worker *w, const struct pt_pkt *p)
{
    struct pt_app_rec *r;

    if (w->t->cfg.app_off || !(r = pt_app_queue_reserve(w->app.q)))
        return;
    memset(&r->conn, 0, sizeof r->conn);
    r->kind = PT_REC_ARP;
    r->at_end = 0;
    r->ts_ns = p->ts_ns;
    r->arp.arp = p->arp;
    r->arp.iface = p->iface;
    pt_app_queue_commit(w->app.q);
    PT_CNT_INC(w->app.st.arp_pkts);
}

void flow_app_end(struct pt_flow_table *t, struct pt_flow *f)
{
    struct flow_app *fa = &f->app;
    struct emit_ctx c = {.t = t, .w = NULL, .f = f};
    struct app_state *s;

    if (!fa->st)
        return;
    if (fa->parser == APP_P_DNS) { /* a state of the DNS pool */
        struct dns_state *d = state_of(t, fa);
        pt_dns_flow_flush(&d->f, dns_emit, &c, &t->app_st.dns);
        state_release(t, NULL, fa);
        return;
    }
    s = state_of(t, fa);
    switch (fa->parser) {
    case APP_P_DNS_TCP:
        pt_dns_flow_flush(&s->dns.f, dns_emit, &c, &t->app_st.dns);
        break;
    case APP_P_HTTP:
        s->http.stats = &t->app_st.http;
        pt_http_flush(&s->http, http_emit, &c);
        break;
    case APP_P_TLS:
        ssl_emit(&c, f, &s->tls.res);
        break;
    }
    state_release(t, NULL, fa);
}
