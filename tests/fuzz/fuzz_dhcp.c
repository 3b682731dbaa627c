/* fuzz_dhcp.c - libFuzzer target for pt_dhcp_parse() and the dhcp.log aggregation.
 *
 * DESIGN: input = the seed format of tests/fuzz/seed.c (2-byte big-endian link type + frame),
 * so run.sh's per-packet seeds, DHCP captures included, are valid starting points. Two parses
 * per input, each from an exactly-sized heap copy so ASan sees any read past the length:
 *   1. the frame goes through pt_decode(); the UDP payload of every decoded IP layer is parsed
 *      as DHCP whatever its ports (the fuzzer need not find ports 67/68 first);
 *   2. the bytes after the selector are parsed as a DHCP message directly, so mutations reach
 *      the option walker without a valid frame around them.
 * Parsed messages feed one long-lived aggregator whose clock advances by the selector's low
 * byte in tenths of a second, so expiry, eviction and splitting run too; a selector of 0xffff
 * flushes it. Invariants checked: lengths within their arrays, NUL terminators in place. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pt/decode.h"
#include "pt/dhcp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct pt_dhcp_stats st;
static struct pt_dhcp_agg agg;
static uint64_t now_ns;
static uint64_t emitted;

static void check_str(const struct pt_dhcp_str *s)
{
    if (s->len > PT_DHCP_STR_MAX || s->s[s->len] != '\0')
        abort();
}

static void on_rec(const struct pt_dhcp_rec *r, void *arg)
{
    (void)arg;
    if (r->n_uids == 0 || r->n_uids > PT_DHCP_AGG_MAX_UIDS || r->n_types == 0 ||
        r->n_types > PT_DHCP_AGG_MAX_TYPES)
        abort();
    check_str(&r->host_name);
    check_str(&r->client_fqdn);
    check_str(&r->domain);
    check_str(&r->client_message);
    check_str(&r->server_message);
    emitted++;
}

static void parse_one(const uint8_t *p, size_t n, uint64_t flow)
{
    static const uint8_t src[4] = {10, 0, 0, 1}, dst[4] = {255, 255, 255, 255};
    struct pt_dhcp_msg m;
    uint8_t *buf = malloc(n ? n : 1);

    if (!buf)
        return;
    memcpy(buf, p, n);
    if (pt_dhcp_parse(&m, buf, (uint32_t)n, &st)) {
        if (m.n_routers > PT_DHCP_ADDRS_MAX || m.n_dns > PT_DHCP_ADDRS_MAX ||
            m.prl_len > PT_DHCP_PRL_MAX)
            abort();
        check_str(&m.host_name);
        check_str(&m.domain);
        check_str(&m.message);
        check_str(&m.vendor_class);
        check_str(&m.client_id);
        check_str(&m.client_fqdn);
        pt_dhcp_agg_add(&agg, &m, src, dst, now_ns, flow);
    }
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int init;
    static struct pt_decode_stats dst;
    struct pt_pkt p;
    uint8_t *frame;
    unsigned sel;

    if (size < 2 || size > 0x10000)
        return 0;
    if (!init) {
        pt_decode_stats_init(&dst);
        pt_dhcp_agg_init(&agg, &PT_DHCP_AGG_ZEEK, on_rec, NULL, &st);
        init = 1;
    }
    sel = (unsigned)(data[0] << 8 | data[1]);
    now_ns += (uint64_t)data[1] * 100000000ull;

    frame = malloc(size - 2 ? size - 2 : 1);
    if (!frame)
        return 0;
    memcpy(frame, data + 2, size - 2);
    memset(&p, 0, sizeof p);
    p.data = frame;
    p.caplen = p.wirelen = (uint32_t)(size - 2);
    p.linktype = sel < 300 ? (int)sel : PT_LINK_ETHERNET;
    p.hw_vlan = PT_VLAN_NONE;
    pt_decode(&p, &dst);
    for (unsigned i = 0; i < p.n_l3 && i < PT_MAX_LAYERS; i++) {
        const struct pt_l3 *l = &p.l3[i];

        if ((l->flags & PT_L3_L4) && l->proto == 17 && l->payload)
            parse_one(l->payload, l->payload_caplen, i);
    }
    free(frame);

    parse_one(data + 2, size - 2, 100 + (data[0] & 15));
    if (sel == 0xffff)
        pt_dhcp_agg_flush(&agg);
    return 0;
}
