/* decode.c - pt_decode() entry point and per-worker decode statistics.
 *
 * DESIGN: pt_decode() resets the output fields of the packet, builds a
 * struct pt_dec on its stack and hands a cursor over [0, caplen) to the link
 * decoder, which calls down the layers (link -> l2 -> ip -> l4 -> tunnel ->
 * link ...). Each layer pulls its header through the cursor, so a short
 * frame ends in a counted error, never in a read past caplen. Recursion
 * through tunnels is bounded by PT_MAX_LAYERS (every tunnel step appends an
 * IP layer first). At the end the protocol path collected on the way is
 * counted in the hierarchy trie. */
#include <string.h>

#include "internal.h"

void pt_decode_stats_init(struct pt_decode_stats *st)
{
    memset(st, 0, sizeof *st);
    st->phs.n_nodes = 1;
    st->phs.node[0].proto = PT_P_FRAME;
}

static void phs_merge(struct pt_phs *dst, uint32_t dn, const struct pt_phs *src, uint32_t sn)
{
    const struct pt_phs_node *s = &src->node[sn];

    PT_CNT_ADD(dst->node[dn].frames, PT_CNT_GET(s->frames));
    PT_CNT_ADD(dst->node[dn].bytes, PT_CNT_GET(s->bytes));
    for (unsigned proto = 0; proto < PT_P_MAX; proto++) {
        uint16_t sc = s->child[proto], dc;

        if (!sc || sc >= PT_PHS_MAX_NODES)
            continue;
        dc = dst->node[dn].child[proto];
        if (!dc) {
            if (dst->n_nodes >= PT_PHS_MAX_NODES) {
                dst->overflow++;
                continue;
            }
            dc = (uint16_t)dst->n_nodes;
            memset(&dst->node[dc], 0, sizeof dst->node[dc]);
            dst->node[dc].parent = (uint16_t)dn;
            dst->node[dc].proto = (uint8_t)proto;
            dst->node[dn].child[proto] = dc;
            dst->n_nodes++;
        }
        phs_merge(dst, dc, src, sc);
    }
}

void pt_decode_stats_merge(struct pt_decode_stats *dst, const struct pt_decode_stats *src)
{
    PT_CNT_ADD(dst->frames, PT_CNT_GET(src->frames));
    PT_CNT_ADD(dst->bytes, PT_CNT_GET(src->bytes));
    for (unsigned i = 0; i < PT_DEC_ERR_MAX; i++)
        PT_CNT_ADD(dst->err[i], PT_CNT_GET(src->err[i]));
    if (dst->phs.n_nodes == 0) { /* zeroed but never initialised */
        dst->phs.n_nodes = 1;
        dst->phs.node[0].proto = PT_P_FRAME;
    }
    dst->phs.overflow += PT_CNT_GET(src->phs.overflow);
    phs_merge(&dst->phs, 0, &src->phs, 0);
}

void pt_decode(struct pt_pkt *p, struct pt_decode_stats *st)
{
    struct pt_dec d;
    struct pt_cur c = {.base = p->data, .off = 0, .end = p->caplen};

    p->flags = 0;
    p->n_l3 = 0;
    p->err = PT_DEC_OK;
    p->ethertype = 0;
    p->quote.valid = false;

    d.p = p;
    d.st = st;
    d.seen = 0;
    d.n_path = 0;
    d.n_vlan = 0;
    d.encap = PT_ENCAP_NONE;
    p->vlan = PT_VLAN_NONE;
    if (p->hw_vlan != PT_VLAN_NONE)
        p->vlan = d.vlan[d.n_vlan++] = p->hw_vlan & 0x0fff;

    PT_CNT_INC(st->frames);
    PT_CNT_ADD(st->bytes, p->wirelen);
    pt_dec_link(&d, c);
    pt_phs_add(&st->phs, d.path, d.n_path, p->wirelen);
}
