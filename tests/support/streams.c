/* streams.c - test-only connection and stream loader (see streams.h).
 *
 * DESIGN: load everything, then order. Frames are decoded with pt_decode()
 * and grouped by (version, protocol, outer VLAN, endpoint pair) with a linear
 * search: the shared captures hold at most a few thousand connections. TCP
 * segments keep their raw sequence number until the whole file is read, so
 * a SYN seen late (reordered capture) still sets the stream origin. */
#include "support/streams.h"

#include <criterion/criterion.h>
#include <pcap/pcap.h>
#include <stdlib.h>
#include <string.h>

#include "pt/decode.h"
#include "support/support.h"

struct raw {
    struct pt_test_seg s;
    uint32_t seq;
    int64_t rel;
};

struct build {
    struct pt_test_conn c;
    struct raw *raw[2];
    size_t n_raw[2], cap_raw[2];
    bool syn_seen[2];
    uint32_t isn[2];
};

static int same_ep(const uint8_t a[16], uint16_t ap, const uint8_t b[16], uint16_t bp)
{
    return ap == bp && memcmp(a, b, 16) == 0;
}

static struct build *find_or_add(struct build **v, size_t *n, size_t *cap, const struct pt_l3 *l3,
                                 uint16_t vlan, unsigned *dir)
{
    for (size_t i = 0; i < *n; i++) {
        struct build *b = &(*v)[i];

        if (b->c.ver != l3->ver || b->c.proto != l3->proto || b->c.vlan != vlan)
            continue;
        if (same_ep(b->c.addr[0], b->c.port[0], l3->src, l3->sport) &&
            same_ep(b->c.addr[1], b->c.port[1], l3->dst, l3->dport)) {
            *dir = 0;
            return b;
        }
        if (same_ep(b->c.addr[1], b->c.port[1], l3->src, l3->sport) &&
            same_ep(b->c.addr[0], b->c.port[0], l3->dst, l3->dport)) {
            *dir = 1;
            return b;
        }
    }
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 64;
        *v = realloc(*v, *cap * sizeof **v);
        cr_assert_not_null(*v);
    }
    struct build *b = &(*v)[(*n)++];
    bool swap = l3->proto == 6 && (l3->tcp_flags & 0x12) == 0x12; /* SYN-ACK first: flip */

    memset(b, 0, sizeof *b);
    b->c.ver = l3->ver;
    b->c.proto = l3->proto;
    b->c.vlan = vlan;
    memcpy(b->c.addr[swap], l3->src, 16);
    memcpy(b->c.addr[!swap], l3->dst, 16);
    b->c.port[swap] = l3->sport;
    b->c.port[!swap] = l3->dport;
    *dir = swap;
    return b;
}

static void add_raw(struct build *b, unsigned dir, const struct pt_l3 *l3, uint64_t ts,
                    uint32_t frame)
{
    if (b->n_raw[dir] == b->cap_raw[dir]) {
        b->cap_raw[dir] = b->cap_raw[dir] ? b->cap_raw[dir] * 2 : 16;
        b->raw[dir] = realloc(b->raw[dir], b->cap_raw[dir] * sizeof *b->raw[dir]);
        cr_assert_not_null(b->raw[dir]);
    }
    struct raw *r = &b->raw[dir][b->n_raw[dir]++];
    uint8_t *d = malloc(l3->payload_caplen ? l3->payload_caplen : 1);

    cr_assert_not_null(d);
    if (l3->payload_caplen)
        memcpy(d, l3->payload, l3->payload_caplen);
    r->s = (struct pt_test_seg){.ts_ns = ts, .len = l3->payload_caplen, .frame = frame, .data = d};
    r->seq = l3->tcp_seq;
}

static int by_rel(const void *a, const void *b)
{
    const struct raw *x = a, *y = b;

    if (x->rel != y->rel)
        return x->rel < y->rel ? -1 : 1;
    return x->s.frame < y->s.frame ? -1 : x->s.frame > y->s.frame;
}

/* Order one TCP direction and cut what was already seen. */
static void order_tcp(struct build *b, unsigned dir)
{
    size_t n = b->n_raw[dir];
    struct raw *r = b->raw[dir];
    uint32_t ref = b->syn_seen[dir] ? b->isn[dir] + 1 : (n ? r[0].seq : 0);
    int64_t min = 0;

    for (size_t i = 0; i < n; i++) {
        r[i].rel = (int32_t)(r[i].seq - ref);
        if (r[i].rel < min)
            min = r[i].rel;
    }
    for (size_t i = 0; i < n; i++)
        r[i].rel -= min;
    if (n) /* r is NULL for a direction that sent nothing: qsort(NULL, 0) is UB */
        qsort(r, n, sizeof *r, by_rel);

    struct pt_test_seg *out = calloc(n ? n : 1, sizeof *out);
    size_t k = 0;
    uint64_t next = 0;

    cr_assert_not_null(out);
    for (size_t i = 0; i < n; i++) {
        uint64_t off = (uint64_t)r[i].rel, end = off + r[i].s.len;

        if (r[i].s.len == 0 || end <= next) {
            free((void *)r[i].s.data);
            continue;
        }
        out[k] = r[i].s;
        out[k].off = off;
        if (off < next) { /* overlap: keep the new bytes only */
            out[k].data += next - off;
            out[k].len -= (uint32_t)(next - off);
            out[k].off = next;
            /* data no longer points at the malloc'd start: keep a copy */
            uint8_t *d = malloc(out[k].len);
            cr_assert_not_null(d);
            memcpy(d, out[k].data, out[k].len);
            free((void *)r[i].s.data);
            out[k].data = d;
        }
        next = end;
        k++;
    }
    b->c.seg[dir] = out;
    b->c.n_seg[dir] = k;
}

static void order_udp(struct build *b, unsigned dir)
{
    size_t n = b->n_raw[dir];
    struct pt_test_seg *out = calloc(n ? n : 1, sizeof *out);

    cr_assert_not_null(out);
    for (size_t i = 0; i < n; i++)
        out[i] = b->raw[dir][i].s;
    b->c.seg[dir] = out;
    b->c.n_seg[dir] = n;
}

void pt_test_conns_load(struct pt_test_conns *c, const char *rel)
{
    char eb[PCAP_ERRBUF_SIZE];
    pcap_t *pc =
        pcap_open_offline_with_tstamp_precision(pt_test_data(rel), PCAP_TSTAMP_PRECISION_NANO, eb);
    struct pcap_pkthdr *h;
    const u_char *data;
    struct build *v = NULL;
    size_t n = 0, cap = 0;
    uint32_t frame = 0;
    struct pt_decode_stats st;

    cr_assert_not_null(pc, "%s: %s", rel, eb);
    pt_decode_stats_init(&st);
    while (pcap_next_ex(pc, &h, &data) == 1) {
        struct pt_pkt p = {.data = data,
                           .caplen = h->caplen,
                           .wirelen = h->len,
                           .ts_ns = (uint64_t)h->ts.tv_sec * 1000000000u + (uint64_t)h->ts.tv_usec,
                           .linktype = pcap_datalink(pc),
                           .hw_vlan = PT_VLAN_NONE};
        unsigned dir;

        frame++;
        pt_decode(&p, &st);
        if (p.n_l3 == 0)
            continue;
        const struct pt_l3 *l3 = &p.l3[0];

        if (!(l3->flags & PT_L3_L4) || (l3->proto != 6 && l3->proto != 17))
            continue;
        struct build *b = find_or_add(&v, &n, &cap, l3, p.vlan, &dir);

        if (l3->proto == 6 && (l3->tcp_flags & 0x02) && !b->syn_seen[dir]) {
            b->syn_seen[dir] = true;
            b->isn[dir] = l3->tcp_seq;
        }
        add_raw(b, dir, l3, p.ts_ns, frame);
    }
    pcap_close(pc);

    c->conn = calloc(n ? n : 1, sizeof *c->conn);
    cr_assert_not_null(c->conn);
    c->n = n;
    for (size_t i = 0; i < n; i++) {
        for (unsigned d = 0; d < 2; d++) {
            if (v[i].c.proto == 6)
                order_tcp(&v[i], d);
            else
                order_udp(&v[i], d);
            free(v[i].raw[d]);
        }
        c->conn[i] = v[i].c;
    }
    free(v);
}

void pt_test_conns_free(struct pt_test_conns *c)
{
    for (size_t i = 0; i < c->n; i++)
        for (unsigned d = 0; d < 2; d++) {
            for (size_t k = 0; k < c->conn[i].n_seg[d]; k++)
                free((void *)c->conn[i].seg[d][k].data);
            free(c->conn[i].seg[d]);
        }
    free(c->conn);
    c->conn = NULL;
    c->n = 0;
}

const struct pt_test_conn *pt_test_conn_find(const struct pt_test_conns *c, uint8_t proto,
                                             uint16_t port, unsigned nth)
{
    for (size_t i = 0; i < c->n; i++)
        if (c->conn[i].proto == proto && c->conn[i].port[1] == port && nth-- == 0)
            return &c->conn[i];
    return NULL;
}

uint8_t *pt_test_conn_bytes(const struct pt_test_conn *k, unsigned dir, size_t *len)
{
    size_t n = 0;

    for (size_t i = 0; i < k->n_seg[dir]; i++)
        n += k->seg[dir][i].len;
    uint8_t *out = malloc(n ? n : 1), *p = out;

    cr_assert_not_null(out);
    for (size_t i = 0; i < k->n_seg[dir]; i++) {
        memcpy(p, k->seg[dir][i].data, k->seg[dir][i].len);
        p += k->seg[dir][i].len;
    }
    *len = n;
    return out;
}
