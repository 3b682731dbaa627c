/* flow_helpers.h - packet builders and a record collector for the flow tests
 * (test code only; included by tests/flow/test_*.c). */
#ifndef PT_TEST_FLOW_HELPERS_H
#define PT_TEST_FLOW_HELPERS_H

#include <stdlib.h>
#include <string.h>

#include <pcap/pcap.h>
#include <urcu-qsbr.h>

#include "pt/flow.h"

#define SEC 1000000000ull

#define F_FIN 0x01
#define F_SYN 0x02
#define F_RST 0x04
#define F_PSH 0x08
#define F_ACK 0x10

static inline void v4(uint8_t a[16], uint8_t x, uint8_t y, uint8_t z, uint8_t w)
{
    memset(a, 0, 16);
    a[10] = a[11] = 0xff;
    a[12] = x, a[13] = y, a[14] = z, a[15] = w;
}

/* Payload bytes of the synthetic packets: zeros (which no analyser takes
 * for a protocol), so a test packet carries the payload it claims. */
static const uint8_t pkt_zero_payload[65536];

/* One IPv4 layer from @src:@sp to @dst:@dp. */
static inline void pkt_init(struct pt_pkt *p, uint64_t ts, uint8_t proto, const uint8_t src[16],
                            uint16_t sp, const uint8_t dst[16], uint16_t dp, uint32_t l4_len)
{
    memset(p, 0, sizeof *p);
    p->ts_ns = ts;
    p->hw_vlan = PT_VLAN_NONE;
    p->n_l3 = 1;
    struct pt_l3 *l = &p->l3[0];
    memcpy(l->src, src, 16);
    memcpy(l->dst, dst, 16);
    l->ver = (src[10] == 0xff && src[11] == 0xff) ? 4 : 6;
    l->proto = proto;
    l->flags = PT_L3_L4;
    l->sport = sp;
    l->dport = dp;
    l->l4_len = l4_len;
    l->payload = pkt_zero_payload;
    l->payload_caplen = l4_len < sizeof pkt_zero_payload ? l4_len : sizeof pkt_zero_payload;
    l->tcp_win = 1000;
    uint32_t hdr = proto == 6 ? 20 : 8;
    l->ip_len = (l->ver == 4 ? 20 : 40) + hdr + l4_len;
    l->vlan[0] = l->vlan[1] = l->vlan[2] = PT_VLAN_NONE;
}

static inline void pkt_tcp(struct pt_pkt *p, uint64_t ts, const uint8_t src[16], uint16_t sp,
                           const uint8_t dst[16], uint16_t dp, uint8_t flags, uint32_t seq,
                           uint32_t ack, uint32_t len)
{
    pkt_init(p, ts, 6, src, sp, dst, dp, len);
    p->l3[0].tcp_flags = flags;
    p->l3[0].tcp_seq = seq;
    p->l3[0].tcp_ack = ack;
}

/* Records emitted by pt_flow_table_expire, copied. */
struct rec_list {
    struct pt_flow_record r[64];
    unsigned n;
};

static inline void collect(const struct pt_flow_record *rec, void *arg)
{
    struct rec_list *l = arg;
    if (l->n < 64)
        l->r[l->n] = *rec;
    l->n++;
}

/* @p for the frame @h/@d read from @pc, not yet decoded. @sub_ns: nanoseconds
 * per unit of h->ts.tv_usec (1000, or 1 for a capture opened with
 * nanosecond precision). */
static inline void pkt_from_pcap(struct pt_pkt *p, pcap_t *pc, const struct pcap_pkthdr *h,
                                 const u_char *d, uint64_t sub_ns)
{
    memset(p, 0, sizeof *p);
    p->data = d;
    p->caplen = h->caplen;
    p->wirelen = h->len;
    p->ts_ns = (uint64_t)h->ts.tv_sec * SEC + (uint64_t)h->ts.tv_usec * sub_ns;
    p->linktype = pcap_datalink(pc);
    p->hw_vlan = PT_VLAN_NONE;
}

static inline struct pt_flow_table *table_new(uint64_t max_flows, unsigned workers)
{
    struct pt_flow_config c;
    int err = 0;
    pt_flow_config_default(&c);
    c.max_flows = max_flows;
    c.workers = workers;
    c.shards = 4;
    return pt_flow_table_create(&c, &err);
}

#endif
