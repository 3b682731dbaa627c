/* test_dns.c - the DNS parser, transactions and TCP framing.
 *
 * dns_tshark: every DNS message of the shared captures listed in
 * tests/tools/gen-expected-dns.sh, parsed from the streams loader's
 * payloads, against tshark's fields (tests/expected/<cat>/<file>.dns.tsv),
 * frame by frame. dns_zeek: transactions against the Zeek dns.log
 * baselines shipped with the captures. dns_malformed: crafted messages
 * (truncation, lying lengths, pointer loops, overflowing tables). */
#include <criterion/criterion.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pt/dns.h"
#include "support/streams.h"
#include "support/support.h"

/* ---- helpers ---- */

struct my_msg {
    uint32_t frame;
    uint64_t ts_ns;
    unsigned dir;
    struct pt_dns_msg m;
};

struct my_msgs {
    struct my_msg *v;
    size_t n, cap;
    struct pt_dns_stats st;
};

static void parse_copy(struct my_msgs *out, uint32_t frame, uint64_t ts, unsigned dir,
                       const uint8_t *data, size_t len)
{
    uint8_t *copy = malloc(len ? len : 1); /* exact size: ASan sees any overread */

    cr_assert_not_null(copy);
    memcpy(copy, data, len);
    if (out->n == out->cap) {
        out->cap = out->cap ? out->cap * 2 : 64;
        out->v = realloc(out->v, out->cap * sizeof *out->v);
        cr_assert_not_null(out->v);
    }
    struct my_msg *mm = &out->v[out->n];
    mm->frame = frame;
    mm->ts_ns = ts;
    mm->dir = dir;
    if (pt_dns_msg_parse(&mm->m, copy, len, &out->st) == 0)
        out->n++;
    free(copy);
}

/* Split a TCP direction into messages by their 2-byte length; the frame of a
 * message is the one holding its last byte. */
static void tcp_msgs(struct my_msgs *out, const struct pt_test_conn *k, unsigned dir)
{
    size_t len, pos = 0;
    uint8_t *b = pt_test_conn_bytes(k, dir, &len);

    while (pos + 2 <= len) {
        size_t mlen = (size_t)b[pos] << 8 | b[pos + 1];
        size_t end = pos + 2 + mlen, acc = 0;
        uint32_t frame = 0;
        uint64_t ts = 0;

        if (end > len)
            break;
        for (size_t s = 0; s < k->n_seg[dir]; s++) {
            acc += k->seg[dir][s].len;
            if (acc >= end) {
                frame = k->seg[dir][s].frame;
                ts = k->seg[dir][s].ts_ns;
                break;
            }
        }
        parse_copy(out, frame, ts, dir, b + pos + 2, mlen);
        pos = end;
    }
    free(b);
}

/* Every DNS message (port 53, UDP or TCP) of capture @rel, in frame order. */
static void load_msgs(struct my_msgs *out, const char *rel)
{
    struct pt_test_conns c;

    memset(out, 0, sizeof *out);
    pt_dns_stats_init(&out->st);
    pt_test_conns_load(&c, rel);
    for (size_t i = 0; i < c.n; i++) {
        const struct pt_test_conn *k = &c.conn[i];

        if (k->port[0] != 53 && k->port[1] != 53)
            continue;
        for (unsigned d = 0; d < 2; d++) {
            if (k->proto == 6) {
                tcp_msgs(out, k, d);
                continue;
            }
            for (size_t s = 0; s < k->n_seg[d]; s++)
                parse_copy(out, k->seg[d][s].frame, k->seg[d][s].ts_ns, d, k->seg[d][s].data,
                           k->seg[d][s].len);
        }
    }
    pt_test_conns_free(&c);
}

static const struct my_msg *find_frame(const struct my_msgs *ms, uint32_t frame)
{
    for (size_t i = 0; i < ms->n; i++)
        if (ms->v[i].frame == frame)
            return &ms->v[i];
    return NULL;
}

enum {
    F_FRAME,
    F_ID,
    F_QR,
    F_OPCODE,
    F_AA,
    F_TC,
    F_RD,
    F_RA,
    F_Z,
    F_AD,
    F_CD,
    F_RCODE,
    F_QD,
    F_AN,
    F_NS,
    F_AR,
    F_QNAME,
    F_QTYPE,
    F_QCLASS,
    F_RNAME,
    F_RTYPE,
    F_RTTL,
    F_A,
    F_AAAA,
    F_CNAME,
    F_NSNAME,
    F_PTR,
    F_MX,
    F_NFIELDS
};

/* Split @line (modified) at tabs into @f. */
static void split_tabs(char *line, char *f[F_NFIELDS])
{
    for (int i = 0; i < F_NFIELDS; i++) {
        f[i] = line;
        char *t = line ? strchr(line, '\t') : NULL;
        if (t)
            *t = 0;
        line = t ? t + 1 : NULL;
        if (!f[i])
            f[i] = (char *)"";
    }
}

/* The @i-th comma-separated item of @list into @buf; false past the end. */
static bool item(const char *list, unsigned i, char *buf, size_t cap)
{
    const char *p = list;

    if (!*list)
        return false;
    for (unsigned k = 0; k < i; k++) {
        p = strchr(p, ',');
        if (!p)
            return false;
        p++;
    }
    size_t n = strcspn(p, ",");
    if (n >= cap)
        n = cap - 1;
    memcpy(buf, p, n);
    buf[n] = 0;
    return true;
}

static unsigned count_items(const char *list)
{
    unsigned n = 0;
    char tmp[8];

    while (item(list, n, tmp, 1))
        n++;
    return n;
}

static void check_flag(const char *field, bool mine, const char *what, uint32_t frame)
{
    if (!*field)
        return; /* tshark shows AA/RA only in responses */
    cr_expect_eq(atoi(field), mine, "frame %u: %s tshark %s mine %d", frame, what, field, mine);
}

/* Compare a name from tshark with ours: case-insensitive; "<Root>" is "". */
static void check_name(const char *ts, const char *mine, bool cut, const char *what, uint32_t frame)
{
    if (strcmp(ts, "<Name too long>") == 0) {
        cr_expect(cut, "frame %u: %s is too long for tshark, not cut by us", frame, what);
        return;
    }
    if (strcmp(ts, "<Root>") == 0)
        ts = "";
    cr_expect(strcasecmp(ts, mine) == 0, "frame %u: %s tshark '%s' mine '%s'", frame, what, ts,
              mine);
}

/* tshark list @col against the texts of our RRs of @type (all sections). */
static void check_typed(const char *col, const struct pt_dns_msg *m, uint16_t type,
                        const char *what, uint32_t frame)
{
    unsigned k = 0;
    char buf[1024];

    for (unsigned i = 0; i < m->n_rr; i++) {
        if (m->rr[i].type != type || (m->rr[i].flags & PT_DNS_RR_BAD_RDATA))
            continue;
        cr_expect(item(col, k, buf, sizeof buf), "frame %u: %s: tshark lacks #%u '%s'", frame, what,
                  k, m->rr[i].text);
        check_name(buf, m->rr[i].text, m->rr[i].flags & PT_DNS_RR_NAME_TRUNC, what, frame);
        k++;
    }
    if (m->n_rr < PT_DNS_MAX_RR)
        cr_expect_eq(count_items(col), k, "frame %u: %s: tshark has %u, we have %u", frame, what,
                     count_items(col), k);
}

static void check_header(char *f[F_NFIELDS], const struct pt_dns_msg *m)
{
    uint32_t fr = (uint32_t)atoi(f[F_FRAME]);

    cr_expect_eq(strtoul(f[F_ID], NULL, 16), m->id, "frame %u: id", fr);
    check_flag(f[F_QR], m->qr, "QR", fr);
    cr_expect_eq(atoi(f[F_OPCODE]), m->opcode, "frame %u: opcode", fr);
    check_flag(f[F_AA], m->aa, "AA", fr);
    check_flag(f[F_TC], m->tc, "TC", fr);
    check_flag(f[F_RD], m->rd, "RD", fr);
    check_flag(f[F_RA], m->ra, "RA", fr);
    check_flag(f[F_Z], (m->flags >> 6) & 1, "Z", fr);
    check_flag(f[F_AD], m->ad, "AD", fr);
    check_flag(f[F_CD], m->cd, "CD", fr);
    cr_expect_eq(atoi(f[F_RCODE]), m->rcode, "frame %u: rcode", fr);
    cr_expect_eq(atoi(f[F_QD]), m->qdcount, "frame %u: qdcount", fr);
    cr_expect_eq(atoi(f[F_AN]), m->ancount, "frame %u: ancount", fr);
    cr_expect_eq(atoi(f[F_NS]), m->nscount, "frame %u: nscount", fr);
    cr_expect_eq(atoi(f[F_AR]), m->arcount, "frame %u: arcount", fr);
}

static void check_row(char *f[F_NFIELDS], const struct pt_dns_msg *m)
{
    uint32_t fr = (uint32_t)atoi(f[F_FRAME]);
    char buf[1024];

    check_header(f, m);

    cr_expect_eq(*f[F_QNAME] != 0, m->has_question, "frame %u: question present", fr);
    if (m->has_question) {
        item(f[F_QNAME], 0, buf, sizeof buf);
        check_name(buf, m->qname, m->qname_trunc, "qname", fr);
        item(f[F_QTYPE], 0, buf, sizeof buf);
        cr_expect_eq(atoi(buf), m->qtype, "frame %u: qtype", fr);
        item(f[F_QCLASS], 0, buf, sizeof buf);
        cr_expect_eq(strtoul(buf, NULL, 16), m->qclass, "frame %u: qclass", fr);
    }

    /* RRs of all sections, in order; TTLs skip OPT as tshark does. */
    unsigned n_ttl = 0;
    for (unsigned i = 0; i < m->n_rr; i++) {
        const struct pt_dns_rr *rr = &m->rr[i];

        cr_expect(item(f[F_RNAME], i, buf, sizeof buf), "frame %u: tshark lacks RR %u", fr, i);
        check_name(buf, rr->owner, rr->flags & PT_DNS_RR_NAME_TRUNC, "owner", fr);
        cr_expect(item(f[F_RTYPE], i, buf, sizeof buf));
        cr_expect_eq(atoi(buf), rr->type, "frame %u: RR %u type", fr, i);
        if (rr->type != 41) {
            cr_expect(item(f[F_RTTL], n_ttl, buf, sizeof buf), "frame %u: ttl %u", fr, n_ttl);
            cr_expect_eq(strtoul(buf, NULL, 10), rr->ttl, "frame %u: RR %u ttl", fr, i);
            n_ttl++;
        }
    }
    if (m->complete && m->n_rr < PT_DNS_MAX_RR)
        cr_expect_eq(count_items(f[F_RTYPE]), m->n_rr, "frame %u: RR count", fr);
    check_typed(f[F_A], m, 1, "A", fr);
    check_typed(f[F_AAAA], m, 28, "AAAA", fr);
    check_typed(f[F_CNAME], m, 5, "CNAME", fr);
    check_typed(f[F_NSNAME], m, 2, "NS", fr);
    check_typed(f[F_PTR], m, 12, "PTR", fr);
    check_typed(f[F_MX], m, 15, "MX", fr);
}

/* Compare capture @rel with its expected file; returns the rows compared.
 * Frames in @absent (0-terminated) are tshark rows we cannot see. */
static unsigned compare_capture(const char *rel, const uint32_t *absent, struct my_msgs *ms)
{
    char path[512];
    const char *cat = strchr(rel, '/') + 1;
    size_t len;

    load_msgs(ms, rel);
    snprintf(path, sizeof path, "tests/expected/%s.dns.tsv", cat);
    char *text = pt_test_slurp(pt_test_src(path), &len);
    cr_assert_not_null(text, "missing %s (run tests/tools/gen-expected-dns.sh)", path);

    unsigned rows = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        char *f[F_NFIELDS];

        if (line[0] == '#')
            continue;
        split_tabs(line, f);
        uint32_t fr = (uint32_t)atoi(f[F_FRAME]);
        const struct my_msg *mm = find_frame(ms, fr);
        bool skip = false;

        for (const uint32_t *a = absent; a && *a; a++)
            skip |= *a == fr;
        if (skip) {
            cr_expect_null(mm, "%s frame %u was expected absent", rel, fr);
            continue;
        }
        cr_assert_not_null(mm, "%s: tshark frame %u has DNS, we parsed none", rel, fr);
        check_row(f, &mm->m);
        rows++;
    }
    free(text);
    cr_expect_eq(rows, ms->n, "%s: tshark rows %u, our messages %zu", rel, rows, ms->n);
    return rows;
}

static void free_msgs(struct my_msgs *ms)
{
    free(ms->v);
}

#define TSHARK_TEST(tname, rel, nrows, ...)                                                        \
    Test(dns_tshark, tname)                                                                        \
    {                                                                                              \
        static const uint32_t absent[] = {__VA_ARGS__ + 0, 0};                                     \
        struct my_msgs ms;                                                                         \
        unsigned rows = compare_capture(rel, absent, &ms);                                         \
        cr_expect_eq(rows, nrows, "%s: rows compared", rel);                                       \
        free_msgs(&ms);                                                                            \
    }

TSHARK_TEST(arkime_dns_udp, "pcap/dns/arkime_dns-udp.pcap", 5)
TSHARK_TEST(ndpi_dns, "pcap/dns/ndpi_dns.pcap", 5)
TSHARK_TEST(tcpdump_dns_tcp, "pcap/dns/tcpdump_dns_tcp.pcap", 2)
TSHARK_TEST(tcpdump_dns_udp, "pcap/dns/tcpdump_dns_udp.pcap", 2)
TSHARK_TEST(tcpdump_edns_opts, "pcap/dns/tcpdump_edns-opts.pcap", 42)
TSHARK_TEST(zeek_two_responses, "pcap/dns/zeek_dns-two-responses.pcap", 3)
TSHARK_TEST(zeek_ipv6_fragmented, "pcap/ipv6/zeek_ipv6-fragmented-dns.pcap", 5)
TSHARK_TEST(raw_ipv6, "pcap/linktype/tcpdump_LINKTYPE_RAW_ipv6.pcap", 1)
TSHARK_TEST(pcapng_multi_iface, "pcap/linktype/zeek_pcapng-multi-interface.pcapng", 6)
TSHARK_TEST(ndpi_malformed, "pcap/malformed/ndpi_malformed_dns.pcap", 6)
TSHARK_TEST(ipv4_bad_total_length, "pcap/malformed/tcpdump_ipv4_invalid_total_length.pcap", 1)
TSHARK_TEST(ndpi_1kxun, "pcap/mixed/ndpi_1kxun.pcap", 17)
TSHARK_TEST(zeek_wikipedia, "pcap/mixed/zeek_wikipedia.pcap", 28)
TSHARK_TEST(tls13_draft18, "pcap/tls/sv_tls13_draft18.pcap", 4)
TSHARK_TEST(bench_merged, "pcap/bench/mixed_merged_pcapplusplus.pcap", 390)

/* A fuzzed message: its first question name runs into a forward pointer
 * before 255 bytes. tshark prints "<Name too long>" names for it; we stop
 * at the pointer (counted) and keep the header, which must equal tshark's. */
Test(dns_tshark, tcpdump_fwdptr_header_only)
{
    struct my_msgs ms;
    size_t len;
    char *text = pt_test_slurp(
        pt_test_src("tests/expected/malformed/tcpdump_dns_fwdptr.pcap.dns.tsv"), &len);
    char *f[F_NFIELDS];

    cr_assert_not_null(text);
    load_msgs(&ms, "pcap/malformed/tcpdump_dns_fwdptr.pcap");
    cr_assert_eq(ms.n, 1);
    split_tabs(strchr(text, '\n') + 1, f);
    check_header(f, &ms.v[0].m);
    cr_expect_eq(ms.v[0].m.err, PT_DNS_ERR_PTR_FORWARD);
    cr_expect_eq(ms.st.err[PT_DNS_ERR_PTR_FORWARD], 1);
    cr_expect_not(ms.v[0].m.has_question);
    cr_expect_not(ms.v[0].m.complete);
    cr_expect_eq(ms.v[0].m.n_rr, 0);
    free(text);
    free_msgs(&ms);
}

Test(dns_tshark, malformed_counts)
{
    struct my_msgs ms;

    load_msgs(&ms, "pcap/malformed/ndpi_malformed_dns.pcap");
    /* 4 responses, each with a too-long second question and CNAME target */
    cr_expect_eq(ms.st.err[PT_DNS_ERR_NAME_LONG], 8);
    cr_expect_eq(ms.st.responses, 4);
    cr_expect_eq(ms.st.queries, 2);
    free_msgs(&ms);
    load_msgs(&ms, "pcap/malformed/tcpdump_dns-zlip-1.pcap");
    cr_expect_eq(ms.n, 0, "shorter than a header: no message");
    cr_expect_eq(ms.st.err[PT_DNS_ERR_SHORT], 1);
    free_msgs(&ms);
}

/* ---- transactions vs Zeek dns.log ---- */

struct txns {
    struct pt_dns_txn *v;
    size_t n;
};

static void collect(void *arg, const struct pt_dns_txn *t, const struct pt_dns_msg *resp)
{
    struct txns *x = arg;

    if (resp)
        cr_assert(resp->qr, "emitted with a response that is no response");
    x->v = realloc(x->v, (x->n + 1) * sizeof *x->v);
    cr_assert_not_null(x->v);
    x->v[x->n++] = *t;
}

/* Feed the UDP/TCP port-53 messages of @rel to one pt_dns_flow per
 * connection, in capture order, then flush each. */
static void run_txns(const char *rel, struct txns *out, struct pt_dns_stats *st)
{
    struct pt_test_conns c;
    static struct pt_dns_msg scratch;

    memset(out, 0, sizeof *out);
    pt_dns_stats_init(st);
    pt_test_conns_load(&c, rel);
    for (size_t i = 0; i < c.n; i++) {
        const struct pt_test_conn *k = &c.conn[i];
        struct pt_dns_flow f;
        struct pt_dns_tcp tcp;
        size_t at[2] = {0, 0};

        if (k->port[0] != 53 && k->port[1] != 53)
            continue;
        pt_dns_flow_init(&f);
        pt_dns_tcp_init(&tcp);
        /* merge the two directions by frame number */
        while (at[0] < k->n_seg[0] || at[1] < k->n_seg[1]) {
            unsigned d = at[0] >= k->n_seg[0]                              ? 1
                         : at[1] >= k->n_seg[1]                            ? 0
                         : k->seg[0][at[0]].frame < k->seg[1][at[1]].frame ? 0
                                                                           : 1;
            const struct pt_test_seg *s = &k->seg[d][at[d]++];
            uint8_t *copy = malloc(s->len ? s->len : 1);

            memcpy(copy, s->data, s->len);
            if (k->proto == 6)
                pt_dns_tcp_feed(&tcp, &f, &scratch, d, s->ts_ns, copy, s->len, collect, out, st);
            else
                pt_dns_flow_feed(&f, &scratch, d, s->ts_ns, copy, s->len, collect, out, st);
            free(copy);
        }
        pt_dns_flow_flush(&f, collect, out, st);
    }
    pt_test_conns_free(&c);
}

static void expect_str(const char *zeek, const char *mine, size_t mine_len, const char *what,
                       unsigned line)
{
    cr_expect(strlen(zeek) == mine_len && memcmp(zeek, mine, mine_len) == 0,
              "zeek line %u %s: '%s' vs ours '%.*s'", line, what, zeek, (int)mine_len, mine);
}

/* Compare one Zeek dns.log line (fields split at tabs) with @t. @full:
 * compare answers too (false for records whose response was fragmented). */
static void check_zeek(char **z, const struct pt_dns_txn *t, unsigned line, bool full)
{
    char buf[16], tmp[8192];

    cr_expect_eq(strtoul(z[7], NULL, 10), t->trans_id, "zeek line %u trans_id", line);
    expect_str(z[9], t->query, t->query_len, "query", line);
    cr_expect_eq(strcmp(z[10], "-") != 0, t->has_qtype, "zeek line %u qclass set", line);
    if (t->has_qtype) {
        cr_expect_eq(atoi(z[10]), t->qclass);
        cr_expect_str_eq(z[11], pt_dns_qclass_name(t->qclass, buf));
        cr_expect_eq(atoi(z[12]), t->qtype);
        cr_expect_str_eq(z[13], pt_dns_qtype_name(t->qtype, buf));
    }
    cr_expect_eq(strcmp(z[14], "-") != 0, t->has_rcode, "zeek line %u rcode set", line);
    if (t->has_rcode) {
        cr_expect_eq(atoi(z[14]), t->rcode);
        cr_expect_str_eq(z[15], pt_dns_rcode_name(t->rcode, buf));
    }
    cr_expect_eq(z[17][0] == 'T', t->TC, "zeek line %u TC", line);
    cr_expect_eq(z[18][0] == 'T', t->RD, "zeek line %u RD", line);
    cr_expect_eq(atoi(z[20]), t->Z, "zeek line %u Z", line);
    cr_expect_eq(z[23][0] == 'T', t->rejected, "zeek line %u rejected", line);
    cr_expect_eq(atoi(z[24]), t->opcode);
    cr_expect_str_eq(z[25], pt_dns_opcode_name(t->opcode, buf));
    if (!full)
        return;
    cr_expect_eq(z[16][0] == 'T', t->AA, "zeek line %u AA", line); /* set with an answer */
    cr_expect_eq(z[19][0] == 'T', t->RA, "zeek line %u RA", line);
    cr_expect_eq(strcmp(z[8], "-") != 0, t->has_rtt, "zeek line %u rtt set", line);
    if (t->has_rtt) /* Zeek prints microseconds */
        cr_expect_eq((uint64_t)(strtod(z[8], NULL) * 1e6 + 0.5), (t->rtt_ns + 500) / 1000,
                     "zeek line %u rtt %s vs %lu ns", line, z[8], (unsigned long)t->rtt_ns);
    size_t n = 0, m = 0;
    for (unsigned i = 0; i < t->n_answers; i++) {
        n += (size_t)snprintf(tmp + n, sizeof tmp - n, "%s%.*s", i ? "," : "",
                              (int)t->answer_len[i], t->answers[i]);
    }
    expect_str(t->n_answers ? z[21] : (strcmp(z[21], "-") ? "(answers expected)" : ""), tmp, n,
               "answers", line);
    char ttls[512];
    for (unsigned i = 0; i < t->n_answers; i++)
        m += (size_t)snprintf(ttls + m, sizeof ttls - m, "%s%u.000000", i ? "," : "", t->TTLs[i]);
    ttls[m] = 0;
    cr_expect_str_eq(t->n_answers ? z[22] : "-", t->n_answers ? ttls : z[22], "TTLs line %u", line);
}

/* Lines of a Zeek log (comments skipped), split at tabs. */
static unsigned zeek_lines(char *text, char *rows[][26], unsigned max)
{
    unsigned n = 0;

    for (char *line = strtok(text, "\n"); line && n < max; line = strtok(NULL, "\n")) {
        if (line[0] == '#')
            continue;
        for (int i = 0; i < 26; i++) {
            rows[n][i] = line ? line : (char *)"";
            char *t = line ? strchr(line, '\t') : NULL;
            if (t)
                *t = 0;
            line = t ? t + 1 : NULL;
        }
        n++;
    }
    return n;
}

Test(dns_zeek, two_responses)
{
    struct txns t;
    struct pt_dns_stats st;
    char *z[8][26];
    char *text = pt_test_slurp(pt_test_data("pcap/dns/zeek_dns-two-responses.zeek-dns.log"), NULL);

    cr_assert_not_null(text);
    run_txns("pcap/dns/zeek_dns-two-responses.pcap", &t, &st);
    unsigned n = zeek_lines(text, z, 8);
    cr_assert_eq(n, 2);
    cr_assert_eq(t.n, n, "zeek logs %u, we emit %zu", n, t.n);
    for (unsigned i = 0; i < n; i++)
        check_zeek(z[i], &t.v[i], i + 1, true);
    cr_expect_eq(st.txns, 2);
    free(t.v);
    free(text);
}

/* The second response (40849) is split by IPv6 fragmentation; the decoder
 * does not reassemble, so only its first fragment reaches the parser: its
 * header and question match Zeek, its answers are cut (not compared). */
Test(dns_zeek, ipv6_fragmented)
{
    struct txns t;
    struct pt_dns_stats st;
    char *z[8][26];
    char *text =
        pt_test_slurp(pt_test_data("pcap/ipv6/zeek_ipv6-fragmented-dns.zeek-dns.log"), NULL);

    cr_assert_not_null(text);
    run_txns("pcap/ipv6/zeek_ipv6-fragmented-dns.pcap", &t, &st);
    unsigned n = zeek_lines(text, z, 8);
    cr_assert_eq(n, 3);
    cr_assert_eq(t.n, n, "zeek logs %u, we emit %zu", n, t.n);
    check_zeek(z[0], &t.v[0], 1, true);
    check_zeek(z[1], &t.v[1], 2, false);
    check_zeek(z[2], &t.v[2], 3, true);
    free(t.v);
    free(text);
}

/* DNS over TCP: the same transaction whether the stream arrives in its
 * segments or one byte at a time. */
Test(dns_tcp, segments_and_bytes)
{
    struct txns t, b;
    struct pt_dns_stats st;
    struct pt_test_conns c;
    static struct pt_dns_msg scratch;

    run_txns("pcap/dns/tcpdump_dns_tcp.pcap", &t, &st);
    cr_assert_eq(t.n, 1);
    expect_str("www.tcpdump.org", t.v[0].query, t.v[0].query_len, "query", 0);
    cr_expect(t.v[0].has_rcode && t.v[0].has_rtt);
    cr_expect_eq(t.v[0].n_answers, 2, "two A records (tshark dns.a)");

    memset(&b, 0, sizeof b);
    pt_test_conns_load(&c, "pcap/dns/tcpdump_dns_tcp.pcap");
    const struct pt_test_conn *k = pt_test_conn_find(&c, 6, 53, 0);
    cr_assert_not_null(k);
    struct pt_dns_flow f;
    struct pt_dns_tcp tcp;
    pt_dns_flow_init(&f);
    pt_dns_tcp_init(&tcp);
    for (unsigned d = 0; d < 2; d++) {
        size_t len;
        uint8_t *all = pt_test_conn_bytes(k, d, &len);
        for (size_t i = 0; i < len; i++) {
            uint8_t one = all[i];
            pt_dns_tcp_feed(&tcp, &f, &scratch, d, 1000 * (d + 1), &one, 1, collect, &b, &st);
        }
        free(all);
    }
    cr_assert_eq(b.n, 1);
    cr_expect_eq(b.v[0].trans_id, t.v[0].trans_id);
    cr_expect_eq(b.v[0].n_answers, t.v[0].n_answers);
    for (unsigned i = 0; i < b.v[0].n_answers; i++)
        cr_expect_str_eq(b.v[0].answers[i], t.v[0].answers[i]);
    pt_test_conns_free(&c);
    free(t.v);
    free(b.v);
}

/* ---- crafted messages ---- */

struct mb {
    uint8_t b[4096];
    size_t n;
};

static void put(struct mb *m, const void *p, size_t n)
{
    cr_assert(m->n + n <= sizeof m->b);
    memcpy(m->b + m->n, p, n);
    m->n += n;
}

static void put16(struct mb *m, unsigned v)
{
    uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    put(m, b, 2);
}

static void hdr(struct mb *m, unsigned id, unsigned flags, unsigned qd, unsigned an, unsigned ns,
                unsigned ar)
{
    m->n = 0;
    put16(m, id);
    put16(m, flags);
    put16(m, qd);
    put16(m, an);
    put16(m, ns);
    put16(m, ar);
}

static void qname(struct mb *m, const char *dotted)
{
    while (*dotted) {
        size_t l = strcspn(dotted, ".");
        uint8_t c = (uint8_t)l;
        put(m, &c, 1);
        put(m, dotted, l);
        dotted += l + (dotted[l] == '.');
    }
    put(m, "", 1);
}

static void question(struct mb *m, const char *name, unsigned type)
{
    qname(m, name);
    put16(m, type);
    put16(m, 1);
}

/* An A record owned by a pointer to the question name (offset 12). */
static void a_rr(struct mb *m, uint32_t ttl, uint8_t last)
{
    uint8_t rr[] = {0xc0,
                    12,
                    0,
                    1,
                    0,
                    1,
                    (uint8_t)(ttl >> 24),
                    (uint8_t)(ttl >> 16),
                    (uint8_t)(ttl >> 8),
                    (uint8_t)ttl,
                    0,
                    4,
                    10,
                    0,
                    0,
                    last};
    put(m, rr, sizeof rr);
}

/* Parse @m from an exactly-sized copy. */
static int parse_mb(struct pt_dns_msg *out, const struct mb *m, struct pt_dns_stats *st)
{
    uint8_t *copy = malloc(m->n ? m->n : 1);
    memcpy(copy, m->b, m->n);
    int rc = pt_dns_msg_parse(out, copy, m->n, st);
    free(copy);
    return rc;
}

static struct pt_dns_msg cm;

Test(dns_malformed, names_table)
{
    for (unsigned i = 0; i < PT_DNS_ERR_MAX; i++)
        cr_expect(strncmp(pt_dns_err_name(i), "app.dns.", 8) == 0, "%u", i);
    cr_expect_str_eq(pt_dns_err_name(PT_DNS_ERR_PTR_LOOP), "app.dns.pointer_too_many");
    cr_expect_str_eq(pt_dns_err_name(PT_DNS_ERR_MAX), "app.dns.unknown");
    char b[16];
    cr_expect_str_eq(pt_dns_qtype_name(48, b), "DNSKEY");
    cr_expect_str_eq(pt_dns_qtype_name(52, b), "TLSA");
    cr_expect_str_eq(pt_dns_qtype_name(65, b), "HTTPS");
    cr_expect_str_eq(pt_dns_qtype_name(257, b), "CAA");
    cr_expect_str_eq(pt_dns_qtype_name(255, b), "*");
    cr_expect_str_eq(pt_dns_qtype_name(54, b), "query-54");
    cr_expect_str_eq(pt_dns_qclass_name(3, b), "C_CHAOS");
    cr_expect_str_eq(pt_dns_qclass_name(7, b), "qclass-7");
    cr_expect_str_eq(pt_dns_rcode_name(3, b), "NXDOMAIN");
    cr_expect_str_eq(pt_dns_rcode_name(3842, b), "BADSIG");
    cr_expect_str_eq(pt_dns_rcode_name(99, b), "rcode-99");
    cr_expect_str_eq(pt_dns_opcode_name(5, b), "dynamic-update");
}

Test(dns_malformed, short_header)
{
    struct pt_dns_stats st;
    struct mb m = {.n = 11};

    pt_dns_stats_init(&st);
    cr_expect_eq(parse_mb(&cm, &m, &st), -EBADMSG);
    cr_expect_eq(st.err[PT_DNS_ERR_SHORT], 1);
    m.n = 12;
    cr_expect_eq(parse_mb(&cm, &m, &st), 0);
    cr_expect(cm.complete);
}

Test(dns_malformed, pointer_to_itself_and_forward)
{
    struct pt_dns_stats st;
    struct mb m;

    pt_dns_stats_init(&st);
    hdr(&m, 1, 0, 1, 0, 0, 0);
    put16(&m, 0xc00c); /* the name at 12 points at 12 */
    put16(&m, 1);
    put16(&m, 1);
    cr_expect_eq(parse_mb(&cm, &m, &st), 0);
    cr_expect_eq(cm.err, PT_DNS_ERR_PTR_FORWARD);
    cr_expect_not(cm.has_question);
    /* a -> pointer to b (forward) ; b -> pointer back to a: a loop */
    hdr(&m, 1, 0, 2, 0, 0, 0);
    uint8_t q[] = {1, 'a', 0xc0, 20, 0, 1, 0, 1, 1, 'b', 0xc0, 12, 0, 1, 0, 1};
    put(&m, q, sizeof q);
    parse_mb(&cm, &m, &st);
    cr_expect_eq(cm.err, PT_DNS_ERR_PTR_FORWARD);
    cr_expect_eq(st.err[PT_DNS_ERR_PTR_FORWARD], 2);
}

/* A chain of names each pointing to the previous one, hidden in the RDATA
 * of an unknown-type RR; a second RR's owner points at chain link @k. */
static void jump_chain(struct mb *m, unsigned k)
{
    size_t at[64], rd;

    hdr(m, 7, 0x8000, 0, 2, 0, 0);
    uint8_t rr1[] = {0, 0x03, 0xe7, 0, 1, 0, 0, 0, 0, 0, 0};
    put(m, rr1, sizeof rr1);
    rd = m->n;
    uint8_t base[] = {1, 'x', 0};
    at[0] = m->n;
    put(m, base, 3);
    for (unsigned j = 1; j <= k; j++) {
        uint8_t lab[] = {1, 'y', (uint8_t)(0xc0 | at[j - 1] >> 8), (uint8_t)at[j - 1]};
        at[j] = m->n;
        put(m, lab, 4);
    }
    m->b[rd - 2] = (uint8_t)((m->n - rd) >> 8);
    m->b[rd - 1] = (uint8_t)(m->n - rd);
    uint8_t rr2[] = {
        (uint8_t)(0xc0 | at[k] >> 8), (uint8_t)at[k], 0, 1, 0, 1, 0, 0, 0, 9, 0, 4, 1, 2, 3, 4};
    put(m, rr2, sizeof rr2);
}

Test(dns_malformed, too_many_jumps)
{
    struct pt_dns_stats st;
    struct mb m;

    pt_dns_stats_init(&st);
    jump_chain(&m, PT_DNS_MAX_JUMPS - 1); /* owner pointer + 15 = 16 jumps: fine */
    cr_expect_eq(parse_mb(&cm, &m, &st), 0);
    cr_expect_eq(cm.err, PT_DNS_OK, "%s", pt_dns_err_name(cm.err));
    cr_assert_eq(cm.n_rr, 2);
    cr_expect_eq(cm.rr[1].owner_len, 2 * PT_DNS_MAX_JUMPS - 1);
    cr_expect_str_eq(cm.rr[1].text, "1.2.3.4");
    cr_expect_str_eq(cm.rr[0].text, "<unknown type=999>");
    jump_chain(&m, PT_DNS_MAX_JUMPS); /* 17 jumps */
    parse_mb(&cm, &m, &st);
    cr_expect_eq(cm.err, PT_DNS_ERR_PTR_LOOP);
    cr_expect_eq(cm.n_rr, 1);
    cr_expect_not(cm.complete);
    cr_expect_eq(st.err[PT_DNS_ERR_PTR_LOOP], 1);
}

Test(dns_malformed, bad_label_and_truncation)
{
    struct pt_dns_stats st;
    struct mb m;

    pt_dns_stats_init(&st);
    hdr(&m, 1, 0, 1, 0, 0, 0);
    uint8_t l40[] = {0x41, 'a', 0, 0, 1, 0, 1};
    put(&m, l40, sizeof l40);
    parse_mb(&cm, &m, &st);
    cr_expect_eq(cm.err, PT_DNS_ERR_LABEL);
    hdr(&m, 1, 0, 1, 0, 0, 0);
    qname(&m, "example.com"); /* no type/class */
    parse_mb(&cm, &m, &st);
    cr_expect_eq(cm.err, PT_DNS_ERR_TRUNC);
    cr_expect_not(cm.has_question);
    hdr(&m, 1, 0, 1, 0, 0, 0);
    uint8_t lying[] = {9, 'a', 'b'}; /* label longer than the message */
    put(&m, lying, sizeof lying);
    parse_mb(&cm, &m, &st);
    cr_expect_eq(cm.err, PT_DNS_ERR_TRUNC);
    cr_expect_eq(st.err[PT_DNS_ERR_TRUNC], 2);
}

Test(dns_malformed, lying_counts_and_rdlength)
{
    struct pt_dns_stats st;
    struct mb m;

    pt_dns_stats_init(&st);
    hdr(&m, 1, 0x8180, 1, 65535, 65535, 65535);
    question(&m, "a.example", 1);
    a_rr(&m, 60, 1);
    cr_expect_eq(parse_mb(&cm, &m, &st), 0);
    cr_expect_eq(cm.n_rr, 1);
    cr_expect_str_eq(cm.rr[0].text, "10.0.0.1");
    cr_expect_str_eq(cm.rr[0].owner, "a.example");
    cr_expect_eq(cm.err, PT_DNS_ERR_TRUNC);
    cr_expect_not(cm.complete);
    /* rdlength 100 with 4 bytes of RDATA */
    hdr(&m, 1, 0x8180, 1, 1, 0, 0);
    question(&m, "a.example", 1);
    a_rr(&m, 60, 1);
    m.b[m.n - 5] = 100;
    parse_mb(&cm, &m, &st);
    cr_expect_eq(cm.err, PT_DNS_ERR_RDLEN);
    cr_expect_eq(cm.n_rr, 0);
    /* A with 5 bytes: kept, flagged, not logged */
    hdr(&m, 1, 0x8180, 1, 1, 0, 0);
    question(&m, "a.example", 1);
    a_rr(&m, 60, 1);
    m.b[m.n - 5] = 5;
    put(&m, "", 1);
    parse_mb(&cm, &m, &st);
    cr_expect_eq(cm.err, PT_DNS_ERR_RDATA);
    cr_assert_eq(cm.n_rr, 1);
    cr_expect(cm.rr[0].flags & PT_DNS_RR_BAD_RDATA);
    cr_expect_not(cm.rr[0].flags & PT_DNS_RR_LOGGED);
    cr_expect_eq(cm.rr[0].addr_ver, 0);
    cr_expect(cm.complete);
    /* TXT whose string runs past the RDATA */
    hdr(&m, 1, 0x8180, 1, 1, 0, 0);
    question(&m, "t.example", 16);
    uint8_t txt[] = {0xc0, 12, 0, 16, 0, 1, 0, 0, 0, 1, 0, 4, 10, 'a', 'b', 'c'};
    put(&m, txt, sizeof txt);
    parse_mb(&cm, &m, &st);
    cr_expect_eq(cm.err, PT_DNS_ERR_RDATA);
    cr_expect_eq(cm.rr[0].text_len, 0);
}

Test(dns_malformed, long_name_and_overflowing_tables)
{
    struct pt_dns_stats st;
    struct mb m;
    char label[64];

    pt_dns_stats_init(&st);
    memset(label, 'q', 63);
    label[63] = 0;
    hdr(&m, 1, 0, 1, 0, 0, 0);
    for (int i = 0; i < 5; i++) { /* 5 * 64 = 320 wire bytes */
        uint8_t c = 63;
        put(&m, &c, 1);
        put(&m, label, 63);
    }
    put(&m, "", 1);
    put16(&m, 1);
    put16(&m, 1);
    parse_mb(&cm, &m, &st);
    cr_expect(cm.has_question);
    cr_expect(cm.qname_trunc);
    cr_expect_lt(cm.qname_len, PT_DNS_NAME_MAX);
    cr_expect_eq(cm.qname[cm.qname_len], 0);
    cr_expect_eq(st.err[PT_DNS_ERR_NAME_LONG], 1);
    cr_expect(cm.complete);

    /* 40 A answers: 32 kept, 16 logged, both overflows counted */
    hdr(&m, 9, 0x8180, 1, 40, 0, 0);
    question(&m, "many.example", 1);
    for (int i = 0; i < 40; i++)
        a_rr(&m, (uint32_t)i, (uint8_t)i);
    cr_expect_eq(parse_mb(&cm, &m, &st), 0);
    cr_expect_eq(cm.n_rr, PT_DNS_MAX_RR);
    cr_expect_eq(st.err[PT_DNS_ERR_RR_OVERFLOW], 1);
    cr_expect(cm.complete, "the RRs past the table are walked");

    struct pt_dns_flow f;
    struct txns t = {0};
    uint8_t *copy = malloc(m.n);
    memcpy(copy, m.b, m.n);
    pt_dns_flow_init(&f);
    pt_dns_flow_feed(&f, &cm, 1, 5, copy, m.n, collect, &t, &st);
    cr_assert_eq(t.n, 1);
    cr_expect_eq(t.v[0].n_answers, PT_DNS_MAX_ANSWERS);
    cr_expect(t.v[0].answers_trunc);
    cr_expect_str_eq(t.v[0].answers[15], "10.0.0.15");
    cr_expect_eq(t.v[0].TTLs[15], 15);
    cr_expect_eq(st.err[PT_DNS_ERR_ANSWERS_OVERFLOW], 1);
    free(copy);
    free(t.v);
}

/* ---- transaction table ---- */

static void feed_mb(struct pt_dns_flow *f, const struct mb *m, uint64_t ts, struct txns *t,
                    struct pt_dns_stats *st)
{
    uint8_t *copy = malloc(m->n);
    memcpy(copy, m->b, m->n);
    pt_dns_flow_feed(f, &cm, 0, ts, copy, m->n, collect, t, st);
    free(copy);
}

Test(dns_txn, pending_full_evicts_oldest)
{
    struct pt_dns_stats st;
    struct pt_dns_flow f;
    struct txns t = {0};
    struct mb m;

    pt_dns_stats_init(&st);
    pt_dns_flow_init(&f);
    for (unsigned i = 0; i < PT_DNS_MAX_PENDING + 1; i++) {
        hdr(&m, 100 + i, 0x0100, 1, 0, 0, 0);
        question(&m, "q.example", 1);
        feed_mb(&f, &m, 1000 + i, &t, &st);
    }
    cr_assert_eq(t.n, 1, "the oldest query was emitted");
    cr_expect_eq(t.v[0].trans_id, 100);
    cr_expect_not(t.v[0].has_rcode);
    cr_expect(t.v[0].RD);
    cr_expect_eq(st.err[PT_DNS_ERR_PENDING_FULL], 1);
    pt_dns_flow_flush(&f, collect, &t, &st);
    cr_assert_eq(t.n, PT_DNS_MAX_PENDING + 1);
    for (unsigned i = 1; i < t.n; i++)
        cr_expect_eq(t.v[i].trans_id, 100 + i, "flush in arrival order");
    pt_dns_flow_flush(&f, collect, &t, &st);
    cr_expect_eq(t.n, PT_DNS_MAX_PENDING + 1, "flush empties the table");
    free(t.v);
}

Test(dns_txn, match_prefers_same_name_then_oldest)
{
    struct pt_dns_stats st;
    struct pt_dns_flow f;
    struct txns t = {0};
    struct mb m;

    pt_dns_stats_init(&st);
    pt_dns_flow_init(&f);
    hdr(&m, 5, 0x0100, 1, 0, 0, 0);
    question(&m, "first.example", 1);
    feed_mb(&f, &m, 1000, &t, &st);
    hdr(&m, 5, 0x0100, 1, 0, 0, 0);
    question(&m, "second.example", 28);
    feed_mb(&f, &m, 2000, &t, &st);
    hdr(&m, 5, 0x8580, 1, 1, 0, 0);
    question(&m, "second.example", 28);
    a_rr(&m, 30, 7);
    feed_mb(&f, &m, 2500, &t, &st);
    cr_assert_eq(t.n, 1);
    expect_str("second.example", t.v[0].query, t.v[0].query_len, "query", 0);
    cr_expect_eq(t.v[0].qtype, 28);
    cr_expect(t.v[0].has_rtt);
    cr_expect_eq(t.v[0].rtt_ns, 500);
    cr_expect(t.v[0].AA && t.v[0].RA);
    cr_expect_str_eq(t.v[0].answers[0], "10.0.0.7");
    /* REFUSED without RRs: rejected; matches the remaining (older) query */
    hdr(&m, 5, 0x8105, 1, 0, 0, 0);
    question(&m, "other.example", 1);
    feed_mb(&f, &m, 3000, &t, &st);
    cr_assert_eq(t.n, 2);
    expect_str("first.example", t.v[1].query, t.v[1].query_len, "query", 0);
    cr_expect(t.v[1].rejected);
    cr_expect_eq(t.v[1].rcode, 5);
    cr_expect_not(t.v[1].has_rtt, "no answer, no rtt (Zeek)");
    cr_expect_not(t.v[1].AA);
    /* a response nobody asked for; then an untracked opcode */
    feed_mb(&f, &m, 4000, &t, &st);
    cr_assert_eq(t.n, 3);
    cr_expect_not(t.v[2].has_query, "no logged answer: no query (Zeek)");
    cr_expect_not(t.v[2].has_qtype);
    hdr(&m, 6, 0x1000, 1, 0, 0, 0); /* opcode 2 */
    question(&m, "x.example", 1);
    feed_mb(&f, &m, 5000, &t, &st);
    cr_expect_eq(st.err[PT_DNS_ERR_OPCODE], 1);
    pt_dns_flow_flush(&f, collect, &t, &st);
    cr_expect_eq(t.n, 3);
    free(t.v);
}

Test(dns_tcp, long_short_and_gap)
{
    struct pt_dns_stats st;
    struct pt_dns_flow f;
    struct pt_dns_tcp tcp;
    struct txns t = {0};
    struct mb m;
    static struct pt_dns_msg scratch;

    pt_dns_stats_init(&st);
    pt_dns_flow_init(&f);
    pt_dns_tcp_init(&tcp);
    /* a 3.2 KB response: 200 A records; cut to PT_DNS_TCP_BUF */
    hdr(&m, 77, 0x8180, 1, 200, 0, 0);
    question(&m, "big.example", 1);
    for (int i = 0; i < 200; i++)
        a_rr(&m, 1, (uint8_t)i);
    cr_assert_gt(m.n, PT_DNS_TCP_BUF);
    uint8_t *s = malloc(m.n + 2 + 2);
    s[0] = (uint8_t)(m.n >> 8);
    s[1] = (uint8_t)m.n;
    memcpy(s + 2, m.b, m.n);
    s[m.n + 2] = 0; /* then a 5-byte message: too short */
    s[m.n + 3] = 5;
    pt_dns_tcp_feed(&tcp, &f, &scratch, 1, 10, s, 1000, collect, &t, &st);
    cr_expect_eq(t.n, 0, "not complete yet");
    pt_dns_tcp_feed(&tcp, &f, &scratch, 1, 20, s + 1000, m.n + 4 - 1000, collect, &t, &st);
    cr_assert_eq(t.n, 1);
    cr_expect_eq(t.v[0].trans_id, 77);
    cr_expect_eq(t.v[0].n_answers, PT_DNS_MAX_ANSWERS);
    cr_expect_eq(st.err[PT_DNS_ERR_TCP_TOO_LONG], 1);
    cr_expect_eq(st.err[PT_DNS_ERR_TRUNC], 1, "the cut message ends inside an RR");
    uint8_t five[5] = {0};
    pt_dns_tcp_feed(&tcp, &f, &scratch, 1, 30, five, 5, collect, &t, &st);
    cr_expect_eq(st.err[PT_DNS_ERR_TCP_SHORT_MSG], 1);
    /* framing resumes after the short message */
    pt_dns_tcp_feed(&tcp, &f, &scratch, 1, 40, s, m.n + 2, collect, &t, &st);
    cr_expect_eq(t.n, 2);
    pt_dns_tcp_gap(&tcp, 1, &st);
    pt_dns_tcp_feed(&tcp, &f, &scratch, 1, 50, s, m.n + 2, collect, &t, &st);
    cr_expect_eq(t.n, 2, "a direction after a gap is not parsed");
    cr_expect_eq(st.err[PT_DNS_ERR_TCP_GAP], 1);
    free(s);
    free(t.v);
}
