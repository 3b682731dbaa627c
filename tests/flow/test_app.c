/* test_app.c - the application layer inside the flow table (src/flow/app.c):
 * which packets reach the parsers, in which order, the state pool, the
 * record queue and the flow-end flush. Real captures go through the decoder
 * and pt_flow_process on one worker, as `read` does; the records are taken
 * from the worker's queue and the remover's sink. The parsers' own fields are
 * compared with tshark in tests/decode; here the question is whether the
 * wiring hands them the right bytes: the transaction counts and values are
 * those tshark shows for the same captures. */
#include <criterion/criterion.h>
#include <pcap/pcap.h>
#include <stdlib.h>
#include <string.h>
#include <urcu-qsbr.h>

#include "flow_helpers.h"
#include "pt/app.h"
#include "support/support.h"

#define MAXREC 256

struct got {
    struct pt_app_rec *r; /* MAXREC */
    unsigned n, n_end;
};

static void sink(const struct pt_app_rec *rec, void *arg)
{
    struct got *g = arg;
    cr_assert_lt(g->n, MAXREC);
    g->r[g->n++] = *rec;
    g->n_end++;
}

struct run_opts {
    uint32_t app_states;  /* 0 = default */
    uint32_t snaplen;     /* cut every frame to this many bytes; 0 = as captured */
    bool drop_first_data; /* drop the first TCP segment with payload (a capture hole) */
    uint16_t drop_sport;  /* drop the UDP datagrams from this port (responses lost) */
};

/* Read capture @rel through decode + one flow worker; flush at the end.
 * Returns the records (worker queue first, then the flushes at flow end) in
 * @g and the worker's app counters in @st. */
static void run_capture(const char *rel, const struct run_opts *o, struct got *g,
                        struct pt_app_worker_stats *st)
{
    char errbuf[PCAP_ERRBUF_SIZE];
    pcap_t *pc = pcap_open_offline(pt_test_data(rel), errbuf);
    struct pt_flow_config c;
    struct pt_decode_stats ds;
    struct pcap_pkthdr *h;
    const u_char *d;
    struct rec_list recs = {0};
    bool dropped = false;
    int err = 0;

    cr_assert_not_null(pc, "%s: %s", rel, errbuf);
    pt_flow_config_default(&c);
    c.max_flows = 1000;
    c.app_states = o ? o->app_states : 0;
    c.app_queue_grow = true;
    struct pt_flow_table *tab = pt_flow_table_create(&c, &err);
    cr_assert_not_null(tab, "%d", err);
    struct pt_flow_worker *fw = pt_flow_worker_get(tab, 0);
    g->r = calloc(MAXREC, sizeof *g->r);
    g->n = g->n_end = 0;
    pt_flow_table_set_app_sink(tab, sink, g);
    pt_decode_stats_init(&ds);
    rcu_register_thread();
    while (pcap_next_ex(pc, &h, &d) == 1) {
        struct pt_pkt p;
        pkt_from_pcap(&p, pc, h, d, 1000);
        if (o && o->snaplen && p.caplen > o->snaplen)
            p.caplen = o->snaplen;
        pt_decode(&p, &ds);
        if (o && o->drop_first_data && !dropped && p.n_l3 && p.l3[0].proto == 6 &&
            p.l3[0].l4_len > 0) {
            dropped = true;
            continue;
        }
        if (o && o->drop_sport && p.n_l3 && p.l3[0].proto == 17 && p.l3[0].sport == o->drop_sport)
            continue;
        pt_flow_process(fw, &p);
    }
    pt_flow_table_app_drain(tab, sink, g); /* the workers' records */
    g->n_end = 0;
    pt_flow_table_expire(tab, UINT64_MAX / 2, true, collect, &recs);
    rcu_quiescent_state();
    *st = *pt_flow_worker_app_stats(fw);
    pt_flow_table_destroy(tab);
    rcu_unregister_thread();
    pcap_close(pc);
}

static unsigned count_kind(const struct got *g, unsigned kind)
{
    unsigned n = 0;
    for (unsigned i = 0; i < g->n; i++)
        n += g->r[i].kind == kind;
    return n;
}

/* tshark -r zeek_pipelined-requests.pcap -Y http.request -T fields -e http.request.uri:
 * five pipelined GETs on one connection, each answered 200. */
Test(flow_app, http_pipelined_requests_in_order)
{
    static const char *const uris[] = {"/style/enhanced.css", "/script/urchin.js",
                                       "/images/template/screen/bullet_utility.png",
                                       "/images/template/screen/key-point-top.png",
                                       "/projects/calendar/images/header-sunbird.png"};
    struct pt_app_worker_stats st;
    struct got g;

    run_capture("pcap/http/zeek_pipelined-requests.pcap", NULL, &g, &st);
    cr_assert_eq(count_kind(&g, PT_REC_HTTP), 5);
    for (unsigned i = 0; i < 5; i++) {
        const struct pt_http_txn *t = &g.r[i].http;
        cr_expect_str_eq(t->req.uri, uris[i]);
        cr_expect_str_eq(t->req.method, "GET");
        cr_expect_str_eq(t->req.host, "www.mozilla.org");
        cr_expect_eq(t->resp.status_code, 200);
        cr_expect_eq(g.r[i].conn.orig_p, g.r[0].conn.orig_p);
        cr_expect_eq(g.r[i].conn.resp_p, 80);
        cr_expect_eq(g.r[i].at_end, 0);
    }
    cr_expect_eq(st.no_state, 0);
    cr_expect_eq(st.tcp_gap, 0);
    free(g.r);
}

/* tshark -r tcpdump_dns_udp.pcap -T fields -e dns.id -e dns.count.answers
 * -e dns.a: one query (0x5934, www.tcpdump.org A) and its response with 2
 * answers, 192.139.46.66 and 198.199.88.104 (the other addresses are in the
 * additional section). tcpdump_dns_tcp.pcap: the same exchange over TCP with
 * id 0x4319. */
Test(flow_app, dns_udp_and_tcp_one_transaction_each)
{
    static const char *const files[] = {"pcap/dns/tcpdump_dns_udp.pcap",
                                        "pcap/dns/tcpdump_dns_tcp.pcap"};
    for (unsigned f = 0; f < 2; f++) {
        struct pt_app_worker_stats st;
        struct got g;
        run_capture(files[f], NULL, &g, &st);
        cr_assert_eq(g.n, 1, "%s: %u records", files[f], g.n);
        const struct pt_app_dns *d = &g.r[0].dns;
        cr_expect_eq(g.r[0].kind, PT_REC_DNS);
        cr_expect_eq(d->txn.trans_id, f == 0 ? 0x5934 : 0x4319);
        cr_expect_str_eq(d->txn.query, "www.tcpdump.org");
        cr_expect_eq(d->txn.qtype, 1);
        cr_expect_eq(d->txn.n_answers, 2);
        cr_expect_eq(d->n_addrs, 2);
        cr_expect_eq(d->addr_ver[0], 4);
        cr_expect_eq(d->addr[0][12], 192);
        cr_expect_eq(d->addr[0][15], 66);
        cr_expect_eq(d->addr[1][12], 198);
        cr_expect_eq(g.r[0].conn.resp_p, 53);
        cr_expect_eq(g.r[0].conn.proto, f == 0 ? 17 : 6);
        cr_expect_eq(st.no_state, 0);
        free(g.r);
    }
}

/* tshark -r ndpi_dns.pcap -T fields -e udp.srcport -e udp.dstport
 * -e dns.flags.response -e dns.id -e dns.qry.name:
 *   53 -> 32795 response 0xdca2 www.l.google.com (its query was not captured)
 *   32795 -> 53 query 0xbc1f www.example.com, then its response
 *   47255 -> 53 query 0x7843 e7.whatsapp.net, then its response
 * Zeek logs three transactions: a response-only one and two pairs. */
Test(flow_app, dns_response_only_and_pairs)
{
    struct pt_app_worker_stats st;
    struct got g;

    run_capture("pcap/dns/ndpi_dns.pcap", NULL, &g, &st);
    cr_assert_eq(g.n, 3);
    cr_expect_eq(g.r[0].dns.txn.trans_id, 0xdca2);
    cr_expect(!g.r[0].dns.txn.saw_query && g.r[0].dns.txn.saw_reply);
    cr_expect_eq(g.r[1].dns.txn.trans_id, 0xbc1f);
    cr_expect_str_eq(g.r[1].dns.txn.query, "www.example.com");
    cr_expect(g.r[1].dns.txn.saw_query && g.r[1].dns.txn.saw_reply);
    cr_expect_eq(g.r[2].dns.txn.trans_id, 0x7843);
    cr_expect_str_eq(g.r[2].dns.txn.query, "e7.whatsapp.net");
    for (unsigned i = 0; i < 3; i++)
        cr_expect_eq(g.r[i].at_end, 0);
    cr_expect_eq(st.no_state, 0);
    free(g.r);
    /* each state goes back once its query is answered: one state is enough
     * for the whole capture */
    struct run_opts o = {.app_states = 1};
    run_capture("pcap/dns/ndpi_dns.pcap", &o, &g, &st);
    cr_expect_eq(g.n, 3);
    cr_expect_eq(st.no_state, 0);
    free(g.r);
}

/* The same capture without its responses: both queries wait; they come out
 * when their flows end, from the remover, as unanswered transactions. */
Test(flow_app, unanswered_queries_flushed_at_flow_end)
{
    struct run_opts o = {.drop_sport = 53};
    struct pt_app_worker_stats st;
    struct got g;

    run_capture("pcap/dns/ndpi_dns.pcap", &o, &g, &st);
    cr_assert_eq(g.n, 2);
    cr_expect_eq(g.n_end, 2);
    for (unsigned i = 0; i < 2; i++) {
        cr_expect_eq(g.r[i].at_end, 1);
        cr_expect(g.r[i].dns.txn.saw_query && !g.r[i].dns.txn.saw_reply);
    }
    cr_expect_eq(g.r[0].dns.txn.trans_id + g.r[1].dns.txn.trans_id, 0xbc1f + 0x7843);
    free(g.r);
}

/* One parser state for the worker: the first waiting query holds it, the
 * second flow's query finds the pool empty: counted, not parsed. */
Test(flow_app, empty_state_pool_is_counted)
{
    struct run_opts o = {.drop_sport = 53, .app_states = 1};
    struct pt_app_worker_stats st;
    struct got g;

    run_capture("pcap/dns/ndpi_dns.pcap", &o, &g, &st);
    cr_expect_eq(st.no_state, 1);
    cr_assert_eq(g.n, 1);
    cr_expect_eq(g.r[0].dns.txn.trans_id, 0xbc1f);
    free(g.r);
}

/* UDP DNS has a pool of its own: queries left waiting for an answer (here
 * every response is dropped, so each DNS flow holds its state until it
 * ends) do not take the states the TCP parsers need. With 4 states per
 * pool, HTTP gives the same 10 transactions (of the 15 requests tshark -r
 * zeek_wikipedia.pcap -Y http.request shows; the connections that find the
 * pool empty are counted and not parsed) whether or not the capture's DNS
 * flows sit on their states. With one shared pool, 4. */
Test(flow_app, waiting_dns_queries_leave_the_tcp_states_alone)
{
    struct run_opts with = {.app_states = 4}, without = {.drop_sport = 53, .app_states = 4};
    struct pt_app_worker_stats st_a, st_b;
    struct got a, b;

    run_capture("pcap/mixed/zeek_wikipedia.pcap", &with, &a, &st_a);
    run_capture("pcap/mixed/zeek_wikipedia.pcap", &without, &b, &st_b);
    unsigned ha = count_kind(&a, PT_REC_HTTP), hb = count_kind(&b, PT_REC_HTTP);
    cr_expect_eq(ha, 10);
    cr_expect_eq(hb, 10);
    cr_expect_gt(st_b.no_state, st_a.no_state, "the waiting queries fill the DNS pool");
    free(a.r);
    free(b.r);
}

/* An HTTP connection between transactions gives its state back (parks)
 * and takes one again for its next request. zeek_wikipedia.pcap: 8
 * keep-alive connections to the same servers, 15 requests (tshark -Y
 * http.request); with a single state per worker, a connection that held its
 * state until it closed let 1 transaction through; parked between
 * transactions, the one state serves 4. Each of them equals the record of
 * a run with states to spare (trans_depth included, which the parked
 * connection carries over). */
Test(flow_app, idle_http_connection_parks_its_state)
{
    struct run_opts one = {.app_states = 1};
    struct pt_app_worker_stats st_one, st_all;
    struct got g1, ga;
    unsigned n = 0;

    run_capture("pcap/mixed/zeek_wikipedia.pcap", &one, &g1, &st_one);
    run_capture("pcap/mixed/zeek_wikipedia.pcap", NULL, &ga, &st_all);
    cr_assert_eq(count_kind(&ga, PT_REC_HTTP), 15);
    cr_expect_eq(st_all.no_state, 0);
    for (unsigned i = 0; i < g1.n; i++) {
        const struct pt_app_rec *a = &g1.r[i], *m = NULL;
        if (a->kind != PT_REC_HTTP)
            continue;
        n++;
        for (unsigned j = 0; j < ga.n && !m; j++)
            if (ga.r[j].kind == PT_REC_HTTP && ga.r[j].conn.uid64 == a->conn.uid64 &&
                ga.r[j].http.req.trans_depth == a->http.req.trans_depth)
                m = &ga.r[j];
        cr_assert_not_null(m, "transaction %u of a connection not in the full run",
                           a->http.req.trans_depth);
        cr_expect_str_eq(a->http.req.uri, m->http.req.uri);
        cr_expect_eq(a->http.req.ts_ns, m->http.req.ts_ns);
        cr_expect_eq(a->http.resp.status_code, m->http.resp.status_code);
        cr_expect_eq(a->http.resp.body_len, m->http.resp.body_len);
        cr_expect_str_eq(a->http.req.host, m->http.req.host);
        cr_expect_str_eq(a->http.req.user_agent, m->http.req.user_agent);
        cr_expect_str_eq(a->http.resp.status_msg, m->http.resp.status_msg);
        cr_expect_eq(a->http.flags, m->http.flags);
    }
    cr_expect_eq(n, 4);
    cr_expect_eq(st_one.parked_lost, 0, "each parked connection found the state free");
    /* and the full run numbers each connection's requests 1, 2, ... in
     * order, parked between them or not (tshark: 9 connections, 6 of them
     * with a second request) */
    unsigned second = 0;
    for (unsigned i = 0; i < ga.n; i++) {
        const struct pt_app_rec *a = &ga.r[i];
        unsigned before = 0;
        if (a->kind != PT_REC_HTTP)
            continue;
        for (unsigned j = 0; j < i; j++)
            before += ga.r[j].kind == PT_REC_HTTP && ga.r[j].conn.uid64 == a->conn.uid64;
        cr_expect_eq(a->http.req.trans_depth, before + 1, "%s", a->http.req.uri);
        second += a->http.req.trans_depth == 2;
    }
    cr_expect_eq(second, 6);
    free(g1.r);
    free(ga.r);
}

/* One HTTP segment of connection @cport (client 10.0.0.1:@cport, server
 * 10.0.0.2:80) from the client (@to_server) or the server, at @t ms. */
static void http_seg(struct pt_flow_worker *fw, unsigned t, uint16_t cport, bool to_server,
                     uint32_t seq, uint32_t ack, const char *text)
{
    uint8_t c[16], sv[16];
    struct pt_pkt p;
    size_t n = strlen(text);

    v4(c, 10, 0, 0, 1);
    v4(sv, 10, 0, 0, 2);
    if (to_server)
        pkt_tcp(&p, 1000 * SEC + t * 1000000ull, c, cport, sv, 80, F_ACK | F_PSH, seq, ack,
                (uint32_t)n);
    else
        pkt_tcp(&p, 1000 * SEC + t * 1000000ull, sv, 80, c, cport, F_ACK | F_PSH, seq, ack,
                (uint32_t)n);
    p.l3[0].payload = (const uint8_t *)text;
    p.l3[0].payload_caplen = (uint32_t)n;
    pt_flow_process(fw, &p);
}

/* A parked connection that finds the only state taken when it sends its
 * next request is not parsed any more, and says so: parked_lost (and
 * no_state). Connection A (port 1001) parks after /a; B (1002) takes the
 * state with /b and holds it, waiting for its response; A's /c then finds
 * the pool empty. Records: /a and /b, each trans_depth 1. */
Test(flow_app, parked_connection_without_a_state_is_counted)
{
    static const char req_a[] = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n";
    static const char req_b[] = "GET /b HTTP/1.1\r\nHost: x\r\n\r\n";
    static const char req_c[] = "GET /c HTTP/1.1\r\nHost: x\r\n\r\n";
    static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    uint32_t la = sizeof req_a - 1, lb = sizeof req_b - 1, lok = sizeof ok - 1;
    struct pt_flow_config cfg;
    struct got g = {0};
    int err = 0;

    pt_flow_config_default(&cfg);
    cfg.max_flows = 100;
    cfg.shards = 4;
    cfg.app_states = 1;
    cfg.app_queue_grow = true;
    rcu_register_thread();
    struct pt_flow_table *tab = pt_flow_table_create(&cfg, &err);
    cr_assert_not_null(tab, "%d", err);
    struct pt_flow_worker *fw = pt_flow_worker_get(tab, 0);
    g.r = calloc(MAXREC, sizeof *g.r);

    http_seg(fw, 0, 1001, true, 100, 500, req_a);
    http_seg(fw, 1, 1001, false, 500, 100 + la, ok);         /* A parks */
    http_seg(fw, 2, 1002, true, 200, 700, req_b);            /* B takes the state */
    http_seg(fw, 3, 1001, true, 100 + la, 500 + lok, req_c); /* A: pool empty */
    http_seg(fw, 4, 1002, false, 700, 200 + lb, ok);         /* B completes, parks */
    http_seg(fw, 5, 1001, false, 500 + lok, 100 + la + lb, ok);

    const struct pt_app_worker_stats *st = pt_flow_worker_app_stats(fw);
    cr_expect_eq(st->parked_lost, 1);
    cr_expect_eq(st->no_state, 1);
    pt_flow_table_app_drain(tab, sink, &g);
    pt_flow_table_expire(tab, UINT64_MAX / 2, true, NULL, NULL);
    cr_assert_eq(count_kind(&g, PT_REC_HTTP), 2);
    cr_expect_str_eq(g.r[0].http.req.uri, "/a");
    cr_expect_str_eq(g.r[1].http.req.uri, "/b");
    cr_expect_eq(g.r[0].http.req.trans_depth, 1);
    cr_expect_eq(g.r[1].http.req.trans_depth, 1);
    rcu_quiescent_state();
    pt_flow_table_destroy(tab);
    rcu_unregister_thread();
    free(g.r);
}

/* tshark -r zeek_pipelined-requests.pcap -T fields -e frame.number
 * -e tcp.srcport -e tcp.len -e http.request.uri: frame 4 is the first request
 * (394 bytes, /style/enhanced.css), frame 5 its response. Dropping frame 4
 * makes a hole of 394 bytes before frame 6 (the second request): detection
 * then decides on the response (frame 5), the parser starts there, and the
 * client direction resumes at the next request line. */
Test(flow_app, tcp_hole_is_counted_and_reported_to_the_parser)
{
    struct run_opts o = {.drop_first_data = true};
    struct pt_app_worker_stats st;
    struct got g;

    run_capture("pcap/http/zeek_pipelined-requests.pcap", &o, &g, &st);
    cr_expect_eq(st.tcp_gap, 1);
    for (unsigned i = 0; i < g.n; i++) {
        cr_assert_eq(g.r[i].kind, PT_REC_HTTP);
        if (g.r[i].http.flags & PT_HTTP_TX_REQUEST)
            cr_expect_neq(strcmp(g.r[i].http.req.uri, "/style/enhanced.css"), 0);
    }
    unsigned reqs = 0;
    for (unsigned i = 0; i < g.n; i++)
        reqs += (g.r[i].http.flags & PT_HTTP_TX_REQUEST) != 0;
    cr_expect_eq(reqs, 4, "%u records", g.n);
    free(g.r);
}

/* ---- DNS answers in reused queue slots ---- */

struct dns_got {
    struct pt_app_dns *v;
    unsigned n, cap;
};

static void dns_sink(const struct pt_app_rec *rec, void *arg)
{
    struct dns_got *g = arg;

    if (rec->kind != PT_REC_DNS)
        return;
    if (g->n == g->cap) {
        g->cap = g->cap ? 2 * g->cap : 64;
        g->v = realloc(g->v, g->cap * sizeof *g->v);
        cr_assert_not_null(g->v);
    }
    g->v[g->n++] = rec->dns;
}

/* The DNS records of @rel through one worker whose queue has @slots slots,
 * drained after every packet when @drain (as the record thread would), so
 * the slots are reused over and over. */
static void run_dns(const char *rel, uint32_t slots, bool drain, struct dns_got *g)
{
    char errbuf[PCAP_ERRBUF_SIZE];
    pcap_t *pc = pcap_open_offline(pt_test_data(rel), errbuf);
    struct pt_flow_config c;
    struct pt_decode_stats ds;
    struct pcap_pkthdr *h;
    const u_char *d;
    struct rec_list *recs = calloc(1, sizeof *recs);
    int err = 0;

    cr_assert_not_null(pc, "%s: %s", rel, errbuf);
    cr_assert_not_null(recs);
    pt_flow_config_default(&c);
    c.max_flows = 10000;
    c.app_queue = slots;
    c.app_queue_grow = !drain;
    struct pt_flow_table *tab = pt_flow_table_create(&c, &err);
    cr_assert_not_null(tab, "%d", err);
    struct pt_flow_worker *fw = pt_flow_worker_get(tab, 0);
    pt_flow_table_set_app_sink(tab, dns_sink, g);
    pt_decode_stats_init(&ds);
    rcu_register_thread();
    while (pcap_next_ex(pc, &h, &d) == 1) {
        struct pt_pkt p;
        pkt_from_pcap(&p, pc, h, d, 1000);
        pt_decode(&p, &ds);
        pt_flow_process(fw, &p);
        if (drain)
            pt_flow_table_app_drain(tab, dns_sink, g);
    }
    pt_flow_table_app_drain(tab, dns_sink, g);
    pt_flow_table_expire(tab, UINT64_MAX / 2, true, collect, recs);
    rcu_quiescent_state();
    uint64_t dropped = 0;
    struct pt_app_worker_stats tot = {0};
    pt_flow_table_app_totals(tab, &tot, &dropped);
    cr_assert_eq(dropped, 0);
    pt_flow_table_destroy(tab);
    rcu_unregister_thread();
    pcap_close(pc);
    free(recs);
}

/* A DNS record carries only the used part of each answer text, with its
 * NUL. In a slot reused by record after record, an answer shorter than the
 * slot's earlier one must still end where its length says, and read as it
 * does from a fresh slot. The bench capture has 197 transactions with
 * answers from 7 to 60-odd characters. */
Test(flow_app, dns_answers_in_reused_slots)
{
    const char *rel = "pcap/bench/mixed_merged_pcapplusplus.pcap";
    struct dns_got fresh = {0}, reused = {0};
    unsigned texts = 0;

    run_dns(rel, 0, false, &fresh);
    run_dns(rel, 2, true, &reused);
    cr_assert_gt(fresh.n, 150, "%u", fresh.n);
    cr_assert_eq(reused.n, fresh.n);
    for (unsigned i = 0; i < fresh.n; i++) {
        const struct pt_dns_txn *a = &fresh.v[i].txn, *b = &reused.v[i].txn;
        cr_assert_eq(b->n_answers, a->n_answers, "record %u", i);
        cr_assert_str_eq(b->query, a->query, "record %u", i);
        for (unsigned k = 0; k < a->n_answers && k < PT_DNS_MAX_ANSWERS; k++) {
            cr_assert_eq(b->answer_len[k], a->answer_len[k], "record %u answer %u", i, k);
            cr_assert_eq(strlen(b->answers[k]), b->answer_len[k], "record %u answer %u: %s", i, k,
                         b->answers[k]);
            cr_assert_str_eq(b->answers[k], a->answers[k], "record %u answer %u", i, k);
            texts++;
        }
    }
    cr_assert_gt(texts, 300, "%u answers compared", texts);
    free(fresh.v);
    free(reused.v);
}
