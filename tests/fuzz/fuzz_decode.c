/* fuzz_decode.c - libFuzzer target for pt_decode().
 *
 * DESIGN: input = 2-byte big-endian link-type selector + frame. A selector
 * equal to a supported LINKTYPE_* value picks it (so seeds written by
 * seed.c carry their capture's real link type); any other value picks
 * supported[value % N]. The frame is copied to an exactly-sized heap buffer
 * so ASan sees any read past caplen. Only src/decode and src/common are
 * linked (Makefile rule build/fuzz/%). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pt/decode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const int supported[] = {
    PT_LINK_NULL, PT_LINK_ETHERNET, PT_LINK_RAW_DLT, PT_LINK_RAW_DLT14, PT_LINK_RAW,
    PT_LINK_LOOP, PT_LINK_SLL,      PT_LINK_IPV4,    PT_LINK_IPV6,      PT_LINK_SLL2,
};

static int pick_link(unsigned sel)
{
    for (unsigned i = 0; i < sizeof supported / sizeof supported[0]; i++)
        if ((unsigned)supported[i] == sel)
            return supported[i];
    return supported[sel % (sizeof supported / sizeof supported[0])];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct pt_decode_stats st;
    static int init;
    struct pt_pkt p;
    uint8_t *buf;

    if (size < 2 || size > 0x40000)
        return 0;
    if (!init) {
        pt_decode_stats_init(&st);
        init = 1;
    }
    buf = malloc(size - 2 ? size - 2 : 1);
    if (!buf)
        return 0;
    memcpy(buf, data + 2, size - 2);
    memset(&p, 0, sizeof p);
    p.data = buf;
    p.caplen = (uint32_t)(size - 2);
    p.wirelen = p.caplen;
    p.linktype = pick_link((unsigned)(data[0] << 8 | data[1]));
    p.hw_vlan = (data[1] & 0x80) ? (uint16_t)(data[0] << 4 | 0x1) : PT_VLAN_NONE;
    pt_decode(&p, &st);

    /* invariants the flow code relies on */
    if (p.n_l3 > PT_MAX_LAYERS || p.err >= PT_DEC_ERR_MAX)
        abort();
    for (unsigned i = 0; i < p.n_l3; i++) {
        const struct pt_l3 *l = &p.l3[i];
        if (l->n_vlan > PT_MAX_VLAN || l->payload_caplen > l->l4_len || l->l4_off > p.caplen)
            abort();
        if (l->payload && l->payload + l->payload_caplen > buf + p.caplen)
            abort();
    }
    free(buf);
    return 0;
}
