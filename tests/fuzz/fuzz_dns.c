/* fuzz_dns.c - libFuzzer target for the DNS parser, transactions and TCP
 * framing.
 *
 * DESIGN: input = 2-byte big-endian link-type selector + frame, the format
 * run.sh seeds every fuzz target with (seed.c), so the corpus starts from
 * real DNS packets. Each input is used twice: (1) the bytes after the
 * selector are one DNS message, parsed and fed to a flow; (2) the frame is
 * decoded and every transport payload goes to the flow (UDP) or to the TCP
 * framer, cut in two at a point taken from the selector. Payloads are copied
 * to exactly-sized heap buffers so ASan sees any read past them. Invariants
 * of the results are checked with abort(). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pt/decode.h"
#include "pt/dns.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct pt_dns_stats st;
static struct pt_dns_msg scratch;

static void check_name(const char *s, uint16_t len)
{
    if (len >= PT_DNS_NAME_MAX || s[len] != 0)
        abort();
}

static void check_msg(const struct pt_dns_msg *m)
{
    if (m->n_rr > PT_DNS_MAX_RR || m->err >= PT_DNS_ERR_MAX)
        abort();
    if (m->has_question)
        check_name(m->qname, m->qname_len);
    for (unsigned i = 0; i < m->n_rr; i++) {
        const struct pt_dns_rr *rr = &m->rr[i];
        check_name(rr->owner, rr->owner_len);
        if (rr->text_len >= PT_DNS_TEXT_MAX || rr->text[rr->text_len] != 0)
            abort();
        if (rr->section < PT_DNS_SEC_ANSWER || rr->section > PT_DNS_SEC_ADDITIONAL)
            abort();
    }
}

static void on_txn(void *arg, const struct pt_dns_txn *t, const struct pt_dns_msg *resp)
{
    (void)arg;
    check_name(t->query, t->query_len);
    if (t->n_answers > PT_DNS_MAX_ANSWERS)
        abort();
    for (unsigned i = 0; i < t->n_answers; i++)
        if (!t->answer_len[i] || t->answer_len[i] >= PT_DNS_TEXT_MAX ||
            t->answers[i][t->answer_len[i]] != 0)
            abort();
    if (resp)
        check_msg(resp);
}

static uint8_t *dup_exact(const uint8_t *p, size_t n)
{
    uint8_t *b = malloc(n ? n : 1);

    if (b && n)
        memcpy(b, p, n);
    return b;
}

static void feed_payload(struct pt_dns_flow *f, struct pt_dns_tcp *t, const struct pt_l3 *l,
                         unsigned cut, uint64_t ts)
{
    uint8_t *b = dup_exact(l->payload, l->payload_caplen);
    size_t n = l->payload_caplen, c = n ? cut % (n + 1) : 0;

    if (!b)
        return;
    if (l->proto == 17) {
        pt_dns_flow_feed(f, &scratch, 0, ts, b, n, on_txn, NULL, &st);
        check_msg(&scratch);
    } else if (l->proto == 6) {
        pt_dns_tcp_feed(t, f, &scratch, 0, ts, b, c, on_txn, NULL, &st);
        pt_dns_tcp_feed(t, f, &scratch, 0, ts + 1, b + c, n - c, on_txn, NULL, &st);
        pt_dns_tcp_feed(t, f, &scratch, 1, ts + 2, b, n, on_txn, NULL, &st);
    }
    free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct pt_decode_stats dst;
    static struct pt_dns_flow flow;
    static struct pt_dns_tcp tcp;
    struct pt_pkt p;
    uint8_t *buf;

    if (size < 2 || size > 0x40000)
        return 0;
    pt_dns_flow_init(&flow);
    pt_dns_tcp_init(&tcp);

    /* 1: the bytes as one DNS message, twice (query table paths). */
    buf = dup_exact(data + 2, size - 2);
    if (!buf)
        return 0;
    for (int i = 0; i < 2; i++) {
        pt_dns_flow_feed(&flow, &scratch, 0, (uint64_t)i, buf, size - 2, on_txn, NULL, &st);
        check_msg(&scratch);
    }

    /* 2: as a frame, its payloads through UDP and TCP paths. */
    memset(&p, 0, sizeof p);
    p.data = buf;
    p.caplen = p.wirelen = (uint32_t)(size - 2);
    p.linktype = (data[0] << 8 | data[1]) == PT_LINK_RAW ? PT_LINK_RAW : PT_LINK_ETHERNET;
    p.hw_vlan = PT_VLAN_NONE;
    pt_decode(&p, &dst);
    for (unsigned i = 0; i < p.n_l3 && i < PT_MAX_LAYERS; i++)
        if (p.l3[i].payload && p.l3[i].payload_caplen)
            feed_payload(&flow, &tcp, &p.l3[i], data[1], 100 + i);
    pt_dns_flow_flush(&flow, on_txn, NULL, &st);
    free(buf);
    return 0;
}
