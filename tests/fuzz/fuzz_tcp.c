/* fuzz_tcp.c - libFuzzer target for the TCP health analysis
 * (pt_tcp_health_update, pt_ip_first_note, pt_tcp_health_fill).
 *
 * DESIGN: input = the seeds' format (2-byte big-endian link type + frame,
 * tests/fuzz/seed.c), decoded with pt_decode() into an exactly-sized heap
 * buffer as fuzz_decode.c does; every IP layer is fed to the analysis. Then
 * the same bytes, read again in 12-byte steps, drive up to 512 more segments
 * derived from the decoded TCP layer (or a blank one): per step the side,
 * the flags, sequence and ACK deltas from each side's last values (so
 * retransmissions, holes and dup ACKs happen), the length, the window, the
 * time step (including steps backwards), SYN options (MSS, window scale up
 * to 255), the fragment flag and the wire length. A state is analysed with
 * every call, so the whole sequence is one connection. After each call the
 * invariants the record writer relies on are checked; abort() on violation.
 * Links src/decode, src/common and src/flow/tcp_health.c only. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pt/flow.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const int links[] = {PT_LINK_ETHERNET, PT_LINK_RAW, PT_LINK_SLL, PT_LINK_NULL, PT_LINK_SLL2};

static int pick_link(unsigned sel)
{
    for (unsigned i = 0; i < sizeof links / sizeof links[0]; i++)
        if ((unsigned)links[i] == sel)
            return links[i];
    return links[sel % (sizeof links / sizeof links[0])];
}

static uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static void check(const struct pt_tcp_health *h, const struct pt_ip_first *ip, unsigned n_segs)
{
    struct pt_flow_health r;

    for (int i = 0; i < 2; i++) {
        const struct pt_tcp_health_dir *d = &h->d[i];
        if (d->ws < -2 || d->ws > 14 || d->ws_opt < -1 || d->ws_opt > 14)
            abort();
        if (d->retrans > n_segs || d->dup_acks > n_segs || d->ooo > n_segs || d->lost > n_segs ||
            d->zero_win > n_segs || d->dupacks > n_segs)
            abort();
    }
    pt_tcp_health_fill(&r, h, ip, n_segs & 1);
    if (!r.valid || !r.tcp)
        abort();
    if ((r.rtt_valid & PT_TCPH_HS_SYNACK) && r.syn_synack_ns + r.synack_ack_ns != r.rtt_ns)
        abort();
    if ((r.rtt_valid & PT_TCPH_HS_RTT) && (r.rtt_ns == 0 || r.rtt_ns > (uint64_t)INT32_MAX * 1000))
        abort();
    if (r.rtt_valid & ~(PT_TCPH_HS_RTT | PT_TCPH_HS_SYNACK))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct pt_decode_stats dst;
    static int init;
    struct pt_tcp_health_stats st;
    struct pt_tcp_health h;
    struct pt_ip_first ip = {0};
    struct pt_pkt p;
    struct pt_l3 base;
    uint8_t *buf;
    unsigned n = 0;

    if (size < 2 || size > 0x40000)
        return 0;
    if (!init) {
        pt_decode_stats_init(&dst);
        init = 1;
    }
    buf = malloc(size - 2 ? size - 2 : 1);
    if (!buf)
        return 0;
    memcpy(buf, data + 2, size - 2);
    memset(&p, 0, sizeof p);
    p.data = buf;
    p.caplen = p.wirelen = (uint32_t)(size - 2);
    p.ts_ns = 1000000000ull;
    p.linktype = pick_link(rd16(data));
    p.hw_vlan = PT_VLAN_NONE;
    pt_decode(&p, &dst);

    memset(&st, 0, sizeof st);
    pt_tcp_health_init(&h);
    memset(&base, 0, sizeof base);
    base.proto = 6;
    base.flags = PT_L3_L4;
    for (unsigned i = 0; i < p.n_l3 && i < PT_MAX_LAYERS; i++) {
        pt_ip_first_note(&ip, i & 1, &p.l3[i]);
        pt_tcp_health_update(&h, &st, i & 1, &p, &p.l3[i]);
        check(&h, &ip, ++n);
        if (p.l3[i].proto == 6 && (p.l3[i].flags & PT_L3_L4))
            base = p.l3[i];
    }

    uint32_t last_seq[2] = {base.tcp_seq, base.tcp_ack}, ts_us = 1000000;
    for (size_t off = 2; off + 12 <= size && n < 512; off += 12) {
        const uint8_t *c = data + off;
        struct pt_l3 l = base;
        struct pt_pkt q = p;
        unsigned side = c[0] & 1;

        l.tcp_flags = c[1];
        l.tcp_seq = last_seq[side] + (uint32_t)(int32_t)(int16_t)rd16(c + 2);
        l.tcp_ack = last_seq[!side] + (uint32_t)(int32_t)(int16_t)rd16(c + 4);
        l.l4_len = (uint32_t)(c[6] | (c[7] & 0x0f) << 8);
        l.payload_caplen = l.l4_len < base.payload_caplen ? l.l4_len : base.payload_caplen;
        l.tcp_win = (c[0] & 2) ? 0 : rd16(c + 8);
        l.flags = PT_L3_L4 | ((c[0] & 4) ? PT_L3_FRAG : 0);
        if (c[0] & 8) {
            l.flags |= PT_L3_TCP_OPTS;
            l.tcp_opt.mss = rd16(c + 8);
            l.tcp_opt.has_wscale = (c[7] & 0x80) != 0;
            l.tcp_opt.wscale = c[11];
        }
        if (c[0] & 0x10)
            q.wirelen = c[11] * 16u; /* a frame shorter (or longer) than its IP length */
        /* time: small steps, big ones, and sometimes backwards */
        uint32_t step = (uint32_t)c[10] * ((c[0] & 0x20) ? 100000u : 10u);
        ts_us = (c[0] & 0x40) ? ts_us - step : ts_us + step;
        q.ts_ns = (uint64_t)ts_us * 1000;
        if (c[0] & 0x80)
            pt_ip_first_note(&ip, side, &l);
        pt_tcp_health_update(&h, (c[7] & 0x40) ? NULL : &st, side, &q, &l);
        check(&h, &ip, ++n);
        last_seq[side] = l.tcp_seq + l.l4_len;
    }
    for (unsigned e = 0; e < PT_TCPH_ERR_MAX; e++)
        if (!pt_tcp_health_err_name(e)[0])
            abort();
    free(buf);
    return 0;
}
