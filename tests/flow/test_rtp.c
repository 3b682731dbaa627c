/* test_rtp.c - RTP jitter and loss per flow and direction (src/decode/rtp.c,
 * src/flow/rtp.c, the conn record fields).
 *
 * The shared test data holds no RTP capture, so each case writes one: RTP
 * streams with known timing (pcapgen), between 10.0.0.1:40000 (originator)
 * and 10.0.0.2:50000, ports no well-known-port guess claims, so detection
 * decides RTP from the payload. The expected values are computed here, in
 * doubles and milliseconds, by a model of the definitions in pt/rtp.h (the
 * way tshark's RTP analysis computes them), never by the code under test;
 * tests/tools/gen-expected-rtp.sh ran `tshark -z rtp,streams` on the same
 * files and tests/expected/rtp/<case>.txt keeps what it printed: each case
 * also checks that tshark's Max Jitter, Mean Jitter and Lost per stream
 * equal the model's, so the model is tshark's. The captures go through
 * decode and one flow worker as `read` does, and once through the binary
 * (`packettracer read`) to check the JSON fields. */
#include <criterion/criterion.h>
#include <math.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <urcu-qsbr.h>

#include "flow_helpers.h"
#include "pt/rtp.h"
#include "support/json.h"
#include "support/pcapgen.h"
#include "support/support.h"

#define T0      (1700000000ull * SEC)
#define MS      1000000ull
#define ORIG_IP 0x0a000001u
#define RESP_IP 0x0a000002u
#define MAXPKT  512
#define MAXSTR  8

struct rtp_pkt {
    uint64_t t; /* arrival, ns */
    unsigned dir, pt;
    bool marker;
    uint16_t seq;
    uint32_t ts, ssrc;
    unsigned order; /* insertion order: ties in time keep it */
};

struct scen {
    const char *name;
    struct rtp_pkt p[MAXPKT];
    unsigned n;
};

/* One direction's stream: @n packets, one every @step_ns with timestamps
 * @ts_step apart, arrival moved by +@jit_ns on odd packets and -@jit_ns on
 * even ones (so |D| = 2 * jit_ns from the second packet on). */
struct spec {
    unsigned dir, pt, n;
    uint32_t ssrc, ts0, ts_step;
    uint16_t seq0;
    uint64_t start, step_ns;
    int64_t jit_ns;
};

static void add(struct scen *s, const struct rtp_pkt *p)
{
    cr_assert_lt(s->n, MAXPKT);
    s->p[s->n] = *p;
    s->p[s->n].order = s->n;
    s->n++;
}

static void stream(struct scen *s, const struct spec *sp)
{
    for (unsigned k = 0; k < sp->n; k++) {
        int64_t off = (k & 1) ? sp->jit_ns : -sp->jit_ns;
        struct rtp_pkt p = {.t = (uint64_t)((int64_t)(sp->start + k * sp->step_ns) + off),
                            .dir = sp->dir,
                            .pt = sp->pt,
                            .seq = (uint16_t)(sp->seq0 + k),
                            .ts = sp->ts0 + k * sp->ts_step,
                            .ssrc = sp->ssrc};
        add(s, &p);
    }
}

static int by_time(const void *a, const void *b)
{
    const struct rtp_pkt *x = a, *y = b;
    if (x->t != y->t)
        return x->t < y->t ? -1 : 1;
    return x->order < y->order ? -1 : 1;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Write @s as a pcap at @path: 12-byte RTP header + 160 bytes of PCMU
 * silence. */
static void write_pcap(struct scen *s, const char *path)
{
    FILE *f = pt_gen_open(path);
    uint8_t b[172];

    cr_assert_not_null(f, "%s", path);
    qsort(s->p, s->n, sizeof s->p[0], by_time);
    memset(b, 0xd5, sizeof b);
    for (unsigned i = 0; i < s->n; i++) {
        const struct rtp_pkt *p = &s->p[i];
        b[0] = 0x80;
        b[1] = (uint8_t)((p->marker ? 0x80 : 0) | p->pt);
        b[2] = (uint8_t)(p->seq >> 8), b[3] = (uint8_t)p->seq;
        put32(b + 4, p->ts);
        put32(b + 8, p->ssrc);
        if (p->dir == 0)
            pt_gen_udp4(f, p->t, ORIG_IP, RESP_IP, 40000, 50000, b, sizeof b);
        else
            pt_gen_udp4(f, p->t, RESP_IP, ORIG_IP, 50000, 40000, b, sizeof b);
    }
    cr_assert_eq(fclose(f), 0);
}

/* ---- the model: the definitions of pt/rtp.h in doubles, milliseconds ---- */

static double clock_khz(unsigned pt)
{
    switch (pt) {
    case 0:
    case 8:
    case 13:
        return 8.0;
    case 26:
        return 90.0;
    default:
        return 0; /* the cases use no other type */
    }
}

struct mstream { /* one SSRC stream */
    uint32_t ssrc;
    double time;  /* arrival of the reference packet, ms since T0 */
    uint32_t rts; /* its RTP timestamp */
    uint32_t first_ts;
    double j, max, mean;
    unsigned total, n_upd;
    bool prev_cn, any;
    uint16_t base, top;
    unsigned cycles;
    long lost;
};

struct mdir {
    struct mstream s[MAXSTR];
    unsigned n;
};

static void model_pkt(struct mdir *d, const struct rtp_pkt *p)
{
    struct mstream *s = d->n ? &d->s[d->n - 1] : NULL;
    double now = (double)(int64_t)(p->t - T0) / 1e6;

    if (!s || s->ssrc != p->ssrc) {
        cr_assert_lt(d->n, MAXSTR);
        s = &d->s[d->n++];
        memset(s, 0, sizeof *s);
        s->ssrc = p->ssrc;
        s->time = now;
        s->rts = p->ts;
        s->first_ts = p->ts;
        s->total = 1;
        s->base = s->top = p->seq;
        s->prev_cn = p->pt == 13;
        return;
    }
    uint16_t ahead = (uint16_t)(p->seq - s->top);
    if (ahead && ahead < 0x8000) {
        s->cycles += p->seq < s->top;
        s->top = p->seq;
    }
    double dts = (double)(int32_t)(p->ts - s->rts), khz = clock_khz(p->pt);
    bool in_order = (int32_t)(p->ts - s->first_ts) >= 0;
    bool regular = in_order && !p->marker && p->pt != 13 && !s->prev_cn;
    if (khz > 0 && in_order) {
        double diff = fabs(now - (s->time + dts / khz));
        s->j = (15 * s->j + diff) / 16;
        if (regular) {
            if (s->j > s->max)
                s->max = s->j;
            s->mean = (s->mean * (s->total - 1) + s->j) / s->total;
            s->n_upd = s->total;
            s->any = true;
        }
    }
    if (in_order) {
        s->time = now;
        s->rts = p->ts;
    }
    s->prev_cn = p->pt == 13;
    s->total++;
}

struct expect {
    bool seen, jitter;
    double mean_ms, max_ms;
    long lost;
};

static void model_dir(const struct scen *sc, unsigned dir, struct mdir *d, struct expect *e)
{
    double tsum = 0;
    unsigned nsum = 0;

    memset(d, 0, sizeof *d);
    memset(e, 0, sizeof *e);
    for (unsigned i = 0; i < sc->n; i++)
        if (sc->p[i].dir == dir)
            model_pkt(d, &sc->p[i]);
    for (unsigned i = 0; i < d->n; i++) {
        struct mstream *s = &d->s[i];
        s->lost = (long)s->cycles * 65536 + s->top - s->base + 1 - (long)s->total;
        e->seen = true;
        e->lost += s->lost;
        if (s->any) {
            e->jitter = true;
            tsum += s->mean * s->n_upd;
            nsum += s->n_upd;
            if (s->max > e->max_ms)
                e->max_ms = s->max;
        }
    }
    if (nsum)
        e->mean_ms = tsum / nsum;
}

/* ---- the cases ---- */

static void case_const(struct scen *s)
{
    s->name = "const";
    stream(s, &(struct spec){.dir = 0,
                             .pt = 0,
                             .n = 50,
                             .ssrc = 0x11111111,
                             .ts0 = 0,
                             .ts_step = 160,
                             .seq0 = 1000,
                             .start = T0,
                             .step_ns = 20 * MS});
    stream(s, &(struct spec){.dir = 1,
                             .pt = 8,
                             .n = 50,
                             .ssrc = 0x22222222,
                             .ts0 = 123456,
                             .ts_step = 160,
                             .seq0 = 7000,
                             .start = T0 + 5 * MS,
                             .step_ns = 20 * MS});
}

/* +-5 ms on 20 ms PCMU; +-(2 ms + 333 ns) on 40 ms JPEG at 90 kHz (a
 * timestamp unit is 11111.1 ns there, so the arithmetic is not exact). */
static void case_alt(struct scen *s)
{
    s->name = "alt";
    stream(s, &(struct spec){.dir = 0,
                             .pt = 0,
                             .n = 60,
                             .ssrc = 0x0a0b0c0d,
                             .ts0 = 5000,
                             .ts_step = 160,
                             .seq0 = 300,
                             .start = T0 + 10 * MS,
                             .step_ns = 20 * MS,
                             .jit_ns = 5 * MS});
    stream(s, &(struct spec){.dir = 1,
                             .pt = 26,
                             .n = 30,
                             .ssrc = 0x5a5a5a5a,
                             .ts0 = 4294900000u,
                             .ts_step = 3600,
                             .seq0 = 9,
                             .start = T0 + 17 * MS,
                             .step_ns = 40 * MS,
                             .jit_ns = 2 * MS + 333});
}

/* 80 packets from sequence 65500 (wrapping through 0), three lost:
 * 65510, 65511 and 3; +-1 ms. */
static void case_loss(struct scen *s)
{
    struct scen all = {0};

    s->name = "loss";
    stream(&all, &(struct spec){.dir = 0,
                                .pt = 0,
                                .n = 80,
                                .ssrc = 0xdeadbeef,
                                .ts0 = 77,
                                .ts_step = 160,
                                .seq0 = 65500,
                                .start = T0,
                                .step_ns = 20 * MS,
                                .jit_ns = 1 * MS});
    for (unsigned i = 0; i < all.n; i++) {
        uint16_t q = all.p[i].seq;
        if (q != 65510 && q != 65511 && q != 3)
            add(s, &all.p[i]);
    }
}

/* The originator's SSRC changes after 30 packets (new sequence and
 * timestamp bases): +-5 ms before, constant after. */
static void case_ssrc(struct scen *s)
{
    s->name = "ssrc";
    stream(s, &(struct spec){.dir = 0,
                             .pt = 0,
                             .n = 30,
                             .ssrc = 0x01020304,
                             .ts0 = 0,
                             .ts_step = 160,
                             .seq0 = 100,
                             .start = T0,
                             .step_ns = 20 * MS,
                             .jit_ns = 5 * MS});
    stream(s, &(struct spec){.dir = 0,
                             .pt = 0,
                             .n = 30,
                             .ssrc = 0x0a0a0a0a,
                             .ts0 = 999999,
                             .ts_step = 160,
                             .seq0 = 40000,
                             .start = T0 + 600 * MS,
                             .step_ns = 20 * MS});
}

/* Dynamic payload type 96 (no known clock) +-5 ms from the originator,
 * PCMU +-1 ms back. */
static void case_dynamic(struct scen *s)
{
    s->name = "dynamic";
    stream(s, &(struct spec){.dir = 0,
                             .pt = 96,
                             .n = 40,
                             .ssrc = 0x96969696,
                             .ts0 = 0,
                             .ts_step = 960,
                             .seq0 = 1,
                             .start = T0,
                             .step_ns = 20 * MS,
                             .jit_ns = 5 * MS});
    stream(s, &(struct spec){.dir = 1,
                             .pt = 0,
                             .n = 40,
                             .ssrc = 0x00000001,
                             .ts0 = 0,
                             .ts_step = 160,
                             .seq0 = 1,
                             .start = T0 + 3 * MS,
                             .step_ns = 20 * MS,
                             .jit_ns = 1 * MS});
}

/* +-3 ms PCMU with two talkspurts after 1 s of silence (marker bit on
 * their first packet, timestamps and arrivals both 1 s later) and one
 * comfort noise packet (PT 13): tshark's "regular packet" rules and its
 * mean recurrence with skipped packets. */
static void case_marker(struct scen *s)
{
    s->name = "marker";
    stream(s, &(struct spec){.dir = 0,
                             .pt = 0,
                             .n = 60,
                             .ssrc = 0x12345678,
                             .ts0 = 1000,
                             .ts_step = 160,
                             .seq0 = 20,
                             .start = T0,
                             .step_ns = 20 * MS,
                             .jit_ns = 3 * MS});
    for (unsigned i = 0; i < s->n; i++) {
        unsigned k = i;
        if (k >= 20) {
            s->p[i].t += SEC;
            s->p[i].ts += 8000;
        }
        if (k >= 40) {
            s->p[i].t += SEC;
            s->p[i].ts += 8000;
        }
        s->p[i].marker = k == 20 || k == 40;
        if (k == 30)
            s->p[i].pt = 13;
    }
}

/* +-2 ms PCMU; the packet with sequence 10 arrives twice (1 ms apart), 21
 * arrives before 20 (its timestamp goes back, but not before the stream's
 * first: tshark 4.0 takes it as in order), and a stray packet numbered and
 * stamped just before the first one arrives at the 4th slot (before the
 * first timestamp: not in order, not regular). */
static void case_reorder(struct scen *s)
{
    s->name = "reorder";
    stream(s, &(struct spec){.dir = 0,
                             .pt = 0,
                             .n = 40,
                             .ssrc = 0x0badcafe,
                             .ts0 = 160,
                             .ts_step = 160,
                             .seq0 = 0,
                             .start = T0,
                             .step_ns = 20 * MS,
                             .jit_ns = 2 * MS});
    for (unsigned i = 0; i < 40; i++) {
        if (s->p[i].seq == 10) {
            struct rtp_pkt d = s->p[i];
            d.t += MS;
            add(s, &d);
        }
        if (s->p[i].seq == 20)
            s->p[i].t += 25 * MS; /* after 21, which arrives at +/-2 ms of its slot */
    }
    struct rtp_pkt stray = {.t = T0 + 61 * MS, .pt = 0, .seq = 65535, .ts = 0, .ssrc = 0x0badcafe};
    add(s, &stray);
}

/* ---- running it ---- */

/* Where the captures go: $PT_RTP_PCAP_DIR (gen-expected-rtp.sh keeps them
 * for tshark), else a fresh temporary directory. */
static char pcap_dir[256];

static const char *pcap_path(const char *name)
{
    static char path[512];
    const char *keep = getenv("PT_RTP_PCAP_DIR");

    if (keep) {
        snprintf(pcap_dir, sizeof pcap_dir, "%s", keep);
    } else if (!pcap_dir[0]) {
        snprintf(pcap_dir, sizeof pcap_dir, "/tmp/pt-rtp-XXXXXX");
        cr_assert_not_null(mkdtemp(pcap_dir));
    }
    snprintf(path, sizeof path, "%s/%s.pcap", pcap_dir, name);
    return path;
}

/* Remove this test's captures (kept when $PT_RTP_PCAP_DIR names the place). */
static void remove_pcaps(void)
{
    char cmd[300];

    if (getenv("PT_RTP_PCAP_DIR") || !pcap_dir[0])
        return;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", pcap_dir);
    cr_expect_eq(system(cmd), 0);
}

TestSuite(flow_rtp, .fini = remove_pcaps);

/* Decode @path and feed one flow worker; the records at the flush go to
 * @recs, the worker's RTP counters to @st. */
static void run_table(const char *path, struct rec_list *recs, struct pt_rtp_stats *st,
                      uint32_t rtp_states)
{
    char eb[PCAP_ERRBUF_SIZE];
    pcap_t *pc = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_NANO, eb);
    struct pt_flow_config c;
    struct pt_decode_stats ds;
    struct pcap_pkthdr *h;
    const u_char *d;
    int err = 0;

    cr_assert_not_null(pc, "%s: %s", path, eb);
    pt_flow_config_default(&c);
    c.max_flows = 100;
    c.app_queue_grow = true;
    c.rtp_states = rtp_states;
    struct pt_flow_table *tab = pt_flow_table_create(&c, &err);
    cr_assert_not_null(tab, "%d", err);
    struct pt_flow_worker *fw = pt_flow_worker_get(tab, 0);
    pt_decode_stats_init(&ds);
    rcu_register_thread();
    memset(recs, 0, sizeof *recs);
    while (pcap_next_ex(pc, &h, &d) == 1) {
        struct pt_pkt p;
        pkt_from_pcap(&p, pc, h, d, 1); /* opened with nanosecond precision */
        pt_decode(&p, &ds);
        pt_flow_process(fw, &p);
    }
    pt_flow_table_expire(tab, UINT64_MAX / 2, true, collect, recs);
    rcu_quiescent_state();
    *st = pt_flow_worker_app_stats(fw)->rtp;
    pt_flow_table_destroy(tab);
    rcu_unregister_thread();
    pcap_close(pc);
}

/* Our result for direction @dir against the model's. Jitter: the record
 * keeps nanoseconds, the model is exact in doubles: within 2 ns. */
static void check_dir(const char *name, unsigned dir, const struct pt_rtp_result *r,
                      const struct expect *e)
{
    cr_expect_eq(r->seen, e->seen, "%s dir %u: seen", name, dir);
    cr_expect_eq(r->jitter, e->jitter, "%s dir %u: jitter set", name, dir);
    cr_expect_eq(r->lost, e->lost, "%s dir %u: lost %lld, expected %ld", name, dir,
                 (long long)r->lost, e->lost);
    if (!e->jitter)
        return;
    cr_expect_leq(fabs((double)r->jitter_ns - e->mean_ms * 1e6), 2.0,
                  "%s dir %u: mean jitter %llu ns, expected %.3f ns", name, dir,
                  (unsigned long long)r->jitter_ns, e->mean_ms * 1e6);
    cr_expect_leq(fabs((double)r->max_jitter_ns - e->max_ms * 1e6), 2.0,
                  "%s dir %u: max jitter %llu ns, expected %.3f ns", name, dir,
                  (unsigned long long)r->max_jitter_ns, e->max_ms * 1e6);
}

/* tshark's row for one stream, as printed. */
struct trow {
    char lost[16], mean[16], max[16];
};

/* tshark's row for the stream of @ssrc sent from port @sport, as
 * tests/expected/rtp/<case>.txt keeps it: false if absent. Columns (tshark
 * 4.0): Start time, End time, Src IP addr, Port, Dest IP addr, Port, SSRC,
 * Payload (may be several words), Pkts, Lost, "(percent)", Min, Mean and Max
 * Delta, Min, Mean and Max Jitter, Problems? ("X" or nothing): so the ones
 * we read count from the end. */
static bool tshark_row(const char *name, unsigned sport, uint32_t ssrc, struct trow *r)
{
    char rel[128], want[16], line[512];
    bool found = false;

    snprintf(rel, sizeof rel, "tests/expected/rtp/%s.txt", name);
    FILE *f = fopen(pt_test_src(rel), "r");
    cr_assert_not_null(f, "%s (run tests/tools/gen-expected-rtp.sh)", rel);
    snprintf(want, sizeof want, "0x%08X", ssrc);
    while (fgets(line, sizeof line, f)) {
        char *tok[32], *save = NULL;
        unsigned n = 0;
        for (char *t = strtok_r(line, " \t\n", &save); t && n < 32;
             t = strtok_r(NULL, " \t\n", &save))
            tok[n++] = t;
        if (n < 17 || strcmp(tok[6], want) != 0 || (unsigned)atoi(tok[3]) != sport)
            continue;
        unsigned e = strcmp(tok[n - 1], "X") == 0 ? n - 1 : n;
        snprintf(r->max, sizeof r->max, "%s", tok[e - 1]);
        snprintf(r->mean, sizeof r->mean, "%s", tok[e - 2]);
        snprintf(r->lost, sizeof r->lost, "%s", tok[e - 8]);
        cr_assert(!found, "%s: one row per stream", rel);
        found = true;
    }
    fclose(f);
    return found;
}

/* The model's streams equal tshark's rows. */
static void check_tshark(const char *name, unsigned dir, const struct mdir *d)
{
    for (unsigned i = 0; i < d->n; i++) {
        const struct mstream *s = &d->s[i];
        struct trow r;
        cr_assert(tshark_row(name, dir ? 50000 : 40000, s->ssrc, &r),
                  "%s: no tshark row for SSRC 0x%08X", name, s->ssrc);
        long lost = atol(r.lost);
        double mean = atof(r.mean), max = atof(r.max);
        cr_expect_eq(lost, s->lost, "%s 0x%08X: tshark lost %ld, model %ld", name, s->ssrc, lost,
                     s->lost);
        cr_expect_leq(fabs(mean - s->mean), 0.0005 + 1e-9,
                      "%s 0x%08X: tshark mean %.3f, model %.6f", name, s->ssrc, mean, s->mean);
        cr_expect_leq(fabs(max - s->max), 0.0005 + 1e-9, "%s 0x%08X: tshark max %.3f, model %.6f",
                      name, s->ssrc, max, s->max);
    }
}

static const struct pt_flow_record *rtp_record(const struct rec_list *l)
{
    const struct pt_flow_record *found = NULL;
    for (unsigned i = 0; i < l->n && i < 64; i++)
        if (l->r[i].proto == 17 && l->r[i].orig_p == 40000) {
            cr_assert_null(found, "one flow");
            found = &l->r[i];
        }
    cr_assert_not_null(found, "the RTP flow's record");
    return found;
}

static void run_case(void (*make)(struct scen *), struct expect e[2], struct pt_rtp_stats *st)
{
    static struct scen s;
    struct rec_list recs;
    struct mdir d;

    memset(&s, 0, sizeof s);
    make(&s);
    const char *path = pcap_path(s.name);
    write_pcap(&s, path);
    for (unsigned dir = 0; dir < 2; dir++) {
        model_dir(&s, dir, &d, &e[dir]);
        check_tshark(s.name, dir, &d);
    }
    run_table(path, &recs, st, 0);
    const struct pt_flow_record *r = rtp_record(&recs);
    cr_expect_eq(r->app, PT_APP_RTP, "%s: app %s", s.name, pt_app_name(r->app));
    for (unsigned dir = 0; dir < 2; dir++)
        check_dir(s.name, dir, &r->rtp[dir], &e[dir]);
}

Test(flow_rtp, constant_spacing_has_zero_jitter)
{
    struct expect e[2];
    struct pt_rtp_stats st;

    run_case(case_const, e, &st);
    cr_assert(e[0].jitter && e[0].max_ms == 0 && e[1].jitter && e[1].max_ms == 0);
    cr_assert_eq(st.pkts, 100);
    cr_assert_eq(st.ssrc_changes + st.late + st.no_clock + st.no_state, 0);
}

Test(flow_rtp, alternating_offsets_converge_to_rfc_value)
{
    struct expect e[2];
    struct pt_rtp_stats st;

    run_case(case_alt, e, &st);
    /* |D| = 10 ms from the 2nd packet: J_k = 10 (1 - (15/16)^(k-1)) */
    cr_assert_float_eq(e[0].max_ms, 10.0 * (1 - pow(15.0 / 16, 59)), 1e-9);
    cr_assert_float_eq(e[1].max_ms, 4.000666 * (1 - pow(15.0 / 16, 29)), 1e-9);
}

Test(flow_rtp, loss_across_sequence_wrap)
{
    struct expect e[2];
    struct pt_rtp_stats st;

    run_case(case_loss, e, &st);
    cr_assert_eq(e[0].lost, 3);
    cr_assert(!e[1].seen);
}

Test(flow_rtp, ssrc_change_restarts_the_stream)
{
    struct expect e[2];
    struct pt_rtp_stats st;

    run_case(case_ssrc, e, &st);
    cr_assert_eq(st.ssrc_changes, 1);
    cr_assert_eq(e[0].lost, 0);
}

Test(flow_rtp, dynamic_payload_type_has_no_jitter)
{
    struct expect e[2];
    struct pt_rtp_stats st;

    run_case(case_dynamic, e, &st);
    cr_assert(e[0].seen && !e[0].jitter && e[1].jitter);
    cr_assert_eq(st.no_clock, 39); /* every packet of the PT 96 stream but its first */
}

Test(flow_rtp, duplicate_and_late_packets)
{
    struct expect e[2];
    struct pt_rtp_stats st;

    run_case(case_reorder, e, &st);
    cr_assert_eq(e[0].lost, -2); /* 42 received, 40 expected */
    cr_assert_eq(st.late, 1);
}

Test(flow_rtp, markers_and_comfort_noise_follow_tshark)
{
    struct expect e[2];
    struct pt_rtp_stats st;

    run_case(case_marker, e, &st);
    cr_assert_eq(st.markers, 2);
}

/* ---- through the binary: `packettracer read` writes what tshark prints ---- */

/* The conn record of the RTP flow in `packettracer read` JSON output of
 * @path, parsed into @o (free with pt_tj_free). */
static void read_conn(const char *path, struct pt_tj *o)
{
    char cmd[1024], *out = NULL;
    bool found = false;

    snprintf(cmd, sizeof cmd, "%s read -q %s", pt_test_bin(), path);
    cr_assert_eq(pt_test_run(cmd, &out, NULL), 0, "%s", cmd);
    for (char *line = out, *nl; line && *line; line = nl ? nl + 1 : NULL) {
        struct pt_tj v;
        const char *err;
        size_t at;
        nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        cr_assert(pt_tj_parse(line, len, &v, &err, &at), "%s at %zu", err, at);
        const struct pt_tj *p = pt_tj_get(&v, "_path"), *op = pt_tj_get(&v, "id.orig_p");
        if (p && strcmp(p->s, "conn") == 0 && op && strcmp(op->s, "40000") == 0) {
            cr_assert(!found, "one RTP conn record");
            *o = v;
            found = true;
        } else {
            pt_tj_free(&v);
        }
    }
    free(out);
    cr_assert(found, "no conn record for port 40000 in the output of %s", cmd);
}

static void expect_num(const struct pt_tj *o, const char *key, const char *want, const char *name)
{
    const struct pt_tj *v = pt_tj_get(o, key);

    if (!want) {
        cr_expect_null(v, "%s: %s should be absent, is %s", name, key, v ? v->s : "");
        return;
    }
    cr_assert_not_null(v, "%s: %s missing (tshark: %s)", name, key, want);
    cr_expect_eq(v->t, PT_TJ_NUM, "%s: %s is a number", name, key);
    cr_expect_str_eq(v->s, want, "%s: %s is %s, tshark prints %s", name, key, v->s, want);
}

/* For every case whose directions carry one SSRC each: the JSON fields are
 * tshark's Mean Jitter, Max Jitter and Lost as it prints them (3 decimals);
 * a direction without a known clock (PT 96) has lost and no jitter fields
 * (tshark prints 0.000 there: it has no jitter either); a direction without
 * RTP has none. */
Test(flow_rtp, read_json_equals_tshark)
{
    static void (*const cases[])(struct scen *) = {case_const,   case_alt,    case_loss,
                                                   case_dynamic, case_marker, case_reorder};
    static struct scen s;
    static const char *const keys[2][3] = {
        {"orig_rtp_jitter", "orig_rtp_max_jitter", "orig_rtp_lost"},
        {"resp_rtp_jitter", "resp_rtp_max_jitter", "resp_rtp_lost"},
    };

    for (unsigned c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        struct pt_tj o;
        memset(&s, 0, sizeof s);
        cases[c](&s);
        const char *path = pcap_path(s.name);
        write_pcap(&s, path);
        read_conn(path, &o);
        cr_expect_str_eq(pt_tj_get(&o, "app")->s, "rtp", "%s", s.name);
        for (unsigned dir = 0; dir < 2; dir++) {
            uint32_t ssrc = 0;
            for (unsigned i = 0; i < s.n; i++)
                if (s.p[i].dir == dir)
                    ssrc = s.p[i].ssrc;
            struct trow r;
            bool has = ssrc && tshark_row(s.name, dir ? 50000 : 40000, ssrc, &r);
            bool clock = has && !(s.name[0] == 'd' && dir == 0); /* dynamic: PT 96 */
            expect_num(&o, keys[dir][0], clock ? r.mean : NULL, s.name);
            expect_num(&o, keys[dir][1], clock ? r.max : NULL, s.name);
            expect_num(&o, keys[dir][2], has ? r.lost : NULL, s.name);
        }
        pt_tj_free(&o);
    }
}

/* CSV: the six columns come last, in the header's order. */
Test(flow_rtp, csv_columns_at_the_end)
{
    static struct scen s;
    char cmd[1024], *out = NULL;

    memset(&s, 0, sizeof s);
    case_alt(&s);
    const char *path = pcap_path(s.name);
    write_pcap(&s, path);
    snprintf(cmd, sizeof cmd, "%s read -q --format csv %s", pt_test_bin(), path);
    cr_assert_eq(pt_test_run(cmd, &out, NULL), 0, "%s", cmd);
    cr_assert_not_null(strstr(out, ",orig_asn,resp_asn,orig_rtp_jitter,resp_rtp_jitter,"
                                   "orig_rtp_max_jitter,resp_rtp_max_jitter,orig_rtp_lost,"
                                   "resp_rtp_lost\n"),
                       "%s", out);
    /* tshark: g711U 40000->50000 7.514 / 9.778, JPEG back 2.250 / 3.385, none lost */
    cr_assert_not_null(strstr(out, ",rtp,,,,,,,7.514,2.250,9.778,3.385,0,0\n"), "%s", out);
    free(out);
}

/* ---- the state pool ---- */

/* An RTP-shaped first packet takes a state; when the flow turns out not to
 * be RTP (its candidate direction gives PT_APPID_K packets without a
 * confirming sequence number) the state goes back, so a pool of one still
 * serves the real RTP flow that follows. */
Test(flow_rtp, state_released_when_rtp_ruled_out)
{
    static struct scen s;
    struct rec_list recs;
    struct pt_rtp_stats st;
    const char *path;

    memset(&s, 0, sizeof s);
    s.name = "pool";
    /* port 40001: RTP-shaped, but every packet a new SSRC: never confirmed */
    for (unsigned k = 0; k < 6; k++) {
        struct rtp_pkt p = {
            .t = T0 + k * 20 * MS, .pt = 0, .seq = (uint16_t)k, .ts = k * 160, .ssrc = 0x100 + k};
        add(&s, &p);
    }
    path = pcap_path("pool");
    /* write the decoy on port 40001, then an RTP stream on 40000 */
    FILE *f = pt_gen_open(path);
    uint8_t b[172];
    memset(b, 0xd5, sizeof b);
    for (unsigned i = 0; i < s.n; i++) {
        b[0] = 0x80, b[1] = 0, b[2] = 0, b[3] = (uint8_t)s.p[i].seq;
        put32(b + 4, s.p[i].ts);
        put32(b + 8, s.p[i].ssrc);
        pt_gen_udp4(f, s.p[i].t, ORIG_IP, RESP_IP, 40001, 50000, b, sizeof b);
    }
    for (unsigned k = 0; k < 20; k++) {
        b[0] = 0x80, b[1] = 0, b[2] = 0, b[3] = (uint8_t)k;
        put32(b + 4, k * 160);
        put32(b + 8, 0x77);
        pt_gen_udp4(f, T0 + SEC + k * 20 * MS + (k & 1) * MS, ORIG_IP, RESP_IP, 40000, 50000, b,
                    sizeof b);
    }
    cr_assert_eq(fclose(f), 0);

    run_table(path, &recs, &st, 1);
    cr_assert_eq(st.no_state, 0);
    const struct pt_flow_record *r = rtp_record(&recs);
    cr_assert_eq(r->app, PT_APP_RTP);
    cr_assert(r->rtp[0].seen && r->rtp[0].jitter);
    /* |D| = 1 ms from the 2nd packet: max J = 1 - (15/16)^19 ms */
    cr_assert_float_eq((double)r->rtp[0].max_jitter_ns, 1e6 * (1 - pow(15.0 / 16, 19)), 2.0);
    for (unsigned i = 0; i < recs.n; i++)
        if (recs.r[i].orig_p == 40001)
            cr_assert(recs.r[i].app != PT_APP_RTP && !recs.r[i].rtp[0].seen);
}

/* Pool of one, two RTP flows at once: the second is not measured, counted
 * once; its record has no RTP fields. */
Test(flow_rtp, pool_empty_is_counted)
{
    struct rec_list recs;
    struct pt_rtp_stats st;
    const char *path = pcap_path("pool2");
    FILE *f = pt_gen_open(path);
    uint8_t b[172];

    memset(b, 0xd5, sizeof b);
    for (unsigned k = 0; k < 20; k++) {
        for (unsigned fl = 0; fl < 2; fl++) {
            b[0] = 0x80, b[1] = 0, b[2] = 0, b[3] = (uint8_t)k;
            put32(b + 4, k * 160);
            put32(b + 8, 0x50 + fl);
            pt_gen_udp4(f, T0 + k * 20 * MS + fl * MS, ORIG_IP, RESP_IP, (uint16_t)(40000 + 2 * fl),
                        50000, b, sizeof b);
        }
    }
    cr_assert_eq(fclose(f), 0);
    run_table(path, &recs, &st, 1);
    cr_assert_eq(st.no_state, 1);
    cr_assert_eq(recs.n, 2);
    for (unsigned i = 0; i < 2; i++) {
        cr_assert_eq(recs.r[i].app, PT_APP_RTP);
        cr_assert_eq(recs.r[i].rtp[0].seen, recs.r[i].orig_p == 40000, "port %u", recs.r[i].orig_p);
    }
}

/* Not RTP-shaped payloads of an RTP flow are counted by reason, never
 * measured; RTCP multiplexed on the flow (RFC 5761) is one of them. */
Test(flow_rtp, odd_payloads_counted)
{
    struct rec_list recs;
    struct pt_rtp_stats st;
    const char *path = pcap_path("odd");
    FILE *f = pt_gen_open(path);
    uint8_t b[172];

    memset(b, 0xd5, sizeof b);
    for (unsigned k = 0; k < 10; k++) {
        b[0] = 0x80, b[1] = 0, b[2] = 0, b[3] = (uint8_t)k;
        put32(b + 4, k * 160);
        put32(b + 8, 0x99);
        pt_gen_udp4(f, T0 + k * 20 * MS, ORIG_IP, RESP_IP, 40000, 50000, b, sizeof b);
        if (k == 5) {
            uint8_t rtcp[28] = {0x80, 200, 0, 6}; /* a sender report */
            uint8_t bad[20] = {0x40};             /* version 1 */
            uint8_t csrc[16] = {0x8f};            /* 15 CSRCs announced */
            pt_gen_udp4(f, T0 + k * 20 * MS + 1, ORIG_IP, RESP_IP, 40000, 50000, rtcp, sizeof rtcp);
            pt_gen_udp4(f, T0 + k * 20 * MS + 2, ORIG_IP, RESP_IP, 40000, 50000, bad, sizeof bad);
            pt_gen_udp4(f, T0 + k * 20 * MS + 3, ORIG_IP, RESP_IP, 40000, 50000, csrc, sizeof csrc);
            pt_gen_udp4(f, T0 + k * 20 * MS + 4, ORIG_IP, RESP_IP, 40000, 50000, b, 8);
        }
    }
    cr_assert_eq(fclose(f), 0);
    run_table(path, &recs, &st, 0);
    cr_assert_eq(st.err[PT_RTP_ERR_RTCP], 1);
    cr_assert_eq(st.err[PT_RTP_ERR_VERSION], 1);
    cr_assert_eq(st.err[PT_RTP_ERR_CSRC], 1);
    cr_assert_eq(st.err[PT_RTP_ERR_SHORT], 1);
    cr_assert_eq(st.pkts, 10);
    const struct pt_flow_record *r = rtp_record(&recs);
    cr_assert(r->rtp[0].jitter && r->rtp[0].max_jitter_ns == 0 && r->rtp[0].lost == 0);
}
