/* phs.c - protocol hierarchy statistics (tshark -z io,phs) as a fixed trie.
 *
 * DESIGN: node 0 is the root (the frame); a node's child[proto] is the index
 * of the node for "this path followed by proto", 0 when absent. A frame adds
 * its wire length and one frame to every node on its path, root included.
 * Nodes are allocated from the fixed array in first-seen order; when it is
 * full the frame is counted at the deepest node that exists and the overflow
 * counter goes up. The writer is the owning worker only: a new node is filled
 * in before its index is published (release store), so a reader walking the
 * trie concurrently sees either no child or a complete one. */
#include <inttypes.h>

#include "internal.h"

static uint16_t node_new(struct pt_phs *phs, uint16_t parent, uint8_t proto)
{
    uint32_t n = phs->n_nodes;
    struct pt_phs_node *nd;

    if (unlikely(n >= PT_PHS_MAX_NODES)) {
        PT_CNT_INC(phs->overflow);
        return 0;
    }
    nd = &phs->node[n];
    memset(nd, 0, sizeof *nd);
    nd->parent = parent;
    nd->proto = proto;
    __atomic_store_n(&phs->n_nodes, n + 1, __ATOMIC_RELEASE);
    __atomic_store_n(&phs->node[parent].child[proto], (uint16_t)n, __ATOMIC_RELEASE);
    return (uint16_t)n;
}

void pt_phs_add(struct pt_phs *phs, const uint8_t *path, unsigned n, uint64_t bytes)
{
    uint16_t cur = 0;

    if (unlikely(phs->n_nodes == 0)) { /* zeroed stats: make the root */
        phs->n_nodes = 1;
        phs->node[0].proto = PT_P_FRAME;
    }
    PT_CNT_INC(phs->node[0].frames);
    PT_CNT_ADD(phs->node[0].bytes, bytes);
    for (unsigned i = 0; i < n; i++) {
        uint16_t next = phs->node[cur].child[path[i]];

        if (!next && !(next = node_new(phs, cur, path[i])))
            return;
        cur = next;
        PT_CNT_INC(phs->node[cur].frames);
        PT_CNT_ADD(phs->node[cur].bytes, bytes);
    }
}

static void print_node(FILE *out, const struct pt_phs *phs, uint16_t idx, int depth)
{
    const struct pt_phs_node *nd = &phs->node[idx];

    if (depth >= 0)
        fprintf(out, "%*s%-*s frames:%" PRIu64 " bytes:%" PRIu64 "\n", depth * 2, "",
                40 - depth * 2, pt_proto_name(nd->proto), PT_CNT_GET(nd->frames),
                PT_CNT_GET(nd->bytes));
    if (depth > 2 * PT_DEC_PATH_MAX)
        return;
    for (unsigned proto = 0; proto < PT_P_MAX; proto++) {
        uint16_t c = __atomic_load_n(&nd->child[proto], __ATOMIC_ACQUIRE);

        if (c && c < PT_PHS_MAX_NODES)
            print_node(out, phs, c, depth + 1);
    }
}

void pt_phs_print(FILE *out, const struct pt_phs *phs)
{
    fprintf(out, "Protocol Hierarchy Statistics\n");
    if (phs->n_nodes == 0)
        return;
    fprintf(out, "frames:%" PRIu64 " bytes:%" PRIu64 "\n", PT_CNT_GET(phs->node[0].frames),
            PT_CNT_GET(phs->node[0].bytes));
    print_node(out, phs, 0, -1);
    if (phs->overflow)
        fprintf(out, "(%" PRIu32 " paths cut short: trie full)\n", phs->overflow);
}
