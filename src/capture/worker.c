/* worker.c - the per-packet stage shared by live capture and offline reading.
 *
 * DESIGN: a worker is decode + flow accounting for one thread. It owns its
 * decode statistics (cache-line aligned, written with relaxed stores so the
 * summary or the aggregator can read them while it runs) and borrows its
 * pt_flow_worker handle from the table. Sources (a TPACKET_V3 ring, the
 * offline reader) call pt_worker_packet() for every frame of a block and
 * pt_worker_block_done() after the block: that is the QSBR quiescent state,
 * so no flow pointer may survive a block. */
#include "pt/capture.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <urcu-qsbr.h>

struct pt_worker {
    /* owned by the worker thread */
    struct pt_decode_stats dec;
    struct pt_flow_worker *fw;
    struct pt_agg_counters *agg; /* owned by the agg, written only here; NULL = no store */
    struct pt_ring_prod *ring;   /* this worker's pcap ring staging; NULL = no ring */
    unsigned id;
} __attribute__((aligned(PT_CACHELINE)));

int pt_iface_table_add(struct pt_iface_table *t, const char *name)
{
    for (unsigned i = 0; i < t->n; i++)
        if (strcmp(t->name[i], name) == 0)
            return (int)i;
    if (t->n >= PT_MAX_IFACES)
        return -1;
    snprintf(t->name[t->n], sizeof t->name[t->n], "%s", name);
    return (int)t->n++;
}

struct pt_worker *pt_worker_create(unsigned id, struct pt_flow_table *ft, int *err)
{
    struct pt_worker *w = aligned_alloc(PT_CACHELINE, sizeof *w);

    if (!w) {
        *err = -ENOMEM;
        return NULL;
    }
    memset(w, 0, sizeof *w);
    w->id = id;
    w->fw = pt_flow_worker_get(ft, id);
    if (!w->fw) {
        free(w);
        *err = -EINVAL;
        return NULL;
    }
    pt_decode_stats_init(&w->dec);
    return w;
}

void pt_worker_destroy(struct pt_worker *w)
{
    free(w);
}

void pt_worker_thread_enter(struct pt_worker *w)
{
    (void)w;
    rcu_register_thread();
}

void pt_worker_thread_leave(struct pt_worker *w)
{
    (void)w;
    rcu_unregister_thread();
}

void pt_worker_set_agg(struct pt_worker *w, struct pt_agg_counters *c)
{
    w->agg = c;
}

void pt_worker_set_ring(struct pt_worker *w, struct pt_ring_prod *prod)
{
    w->ring = prod;
}

void pt_worker_packet(struct pt_worker *w, struct pt_pkt *p)
{
    pt_decode(p, &w->dec);
    if (w->agg)
        pt_agg_count(w->agg, p);
    uint64_t flow_hash = pt_flow_process(w->fw, p);
    if (w->ring) {
        struct pt_ring_pkt rp = {.data = p->data,
                                 .caplen = p->caplen,
                                 .wirelen = p->hw_tag ? p->wirelen - 4 : p->wirelen,
                                 .ts_ns = p->ts_ns,
                                 .linktype = p->linktype,
                                 .iface = p->iface,
                                 .hw_tag = p->hw_tag,
                                 .flow_hash = flow_hash};
        pt_ring_put(w->ring, &rp);
    }
}

void pt_worker_idle(struct pt_worker *w)
{
    if (w->ring)
        pt_ring_flush(w->ring, false);
}

void pt_worker_block_done(struct pt_worker *w)
{
    if (w->ring)
        pt_ring_flush(w->ring, false);
    rcu_quiescent_state();
}

const struct pt_decode_stats *pt_worker_decode_stats(const struct pt_worker *w)
{
    return &w->dec;
}
