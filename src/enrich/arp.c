/* arp.c - IPv4 -> MAC table with spoofing, gratuitous and flood events.
 *
 * DESIGN: bindings live in a fixed array (ent[], capacity entries, never
 * moved), found through an open-addressing index of entry numbers (idx[],
 * a power of two >= 2 * capacity slots, linear probing, so the load stays
 * <= 1/2 and a probe run stays short). Entries are also on a doubly linked
 * list by last use (head = least recently seen) so eviction is O(1):
 *   1. the victim is the list head;
 *   2. its index slot is emptied with backward-shift deletion (no
 *      tombstones: later members of the probe run move up when their home
 *      slot allows), so lookups never degrade;
 *   3. its entry number is reused for the newcomer.
 * Outstanding requests and per-MAC flood counters are small direct-mapped
 * tables: a collision overwrites (counted), which only costs accuracy. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pt/arp.h"
#include "pt/common.h"

#define NONE UINT32_MAX

struct ent {
    uint8_t ip[4];
    uint8_t mac[6];
    uint16_t pad;
    uint32_t packets, changes;
    uint32_t prev, next; /* last-use list */
    uint64_t first_ns, last_ns;
};

struct pend {
    uint8_t asker[4], asked[4];
    uint8_t used, pad[7];
    uint64_t ts_ns;
};

struct flood {
    uint8_t mac[6];
    uint8_t used, alerted;
    uint32_t count;
    uint64_t win_start;
};

struct pt_arp_table {
    struct pt_arp_config cfg;
    pt_arp_event_fn fn;
    void *arg;
    uint32_t n, mask; /* bindings used; idx slots - 1 */
    uint32_t head, tail;
    struct ent *ent;
    uint32_t *idx;
    struct pend *pend;
    struct flood *flood;
    struct pt_arp_stats st;
};

static const char *const err_names[PT_ARP_ERR_MAX] = {
    [PT_ARP_OK] = "enrich.arp.ok",
    [PT_ARP_E_OTHER_OP] = "enrich.arp.other_opcode",
    [PT_ARP_E_BAD_SENDER] = "enrich.arp.bad_sender",
    [PT_ARP_E_PROBE] = "enrich.arp.probe",
    [PT_ARP_E_EVICTED] = "enrich.arp.evicted",
    [PT_ARP_E_REFUSED] = "enrich.arp.refused",
    [PT_ARP_E_PENDING_REUSED] = "enrich.arp.pending_overwritten",
    [PT_ARP_E_FLOOD_REUSED] = "enrich.arp.flood_slot_reused",
};

const char *pt_arp_err_name(unsigned err)
{
    if (err < PT_ARP_ERR_MAX && err_names[err])
        return err_names[err];
    return "enrich.arp.unknown";
}

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

static uint32_t ip32(const uint8_t ip[4])
{
    return (uint32_t)ip[0] << 24 | (uint32_t)ip[1] << 16 | (uint32_t)ip[2] << 8 | ip[3];
}

static uint64_t mac64(const uint8_t mac[6])
{
    uint64_t v = 0;

    for (int i = 0; i < 6; i++)
        v = v << 8 | mac[i];
    return v;
}

static uint32_t home(const pt_arp_table *t, const uint8_t ip[4])
{
    return (uint32_t)mix(ip32(ip)) & t->mask;
}

pt_arp_table *pt_arp_table_create(const struct pt_arp_config *cfg, pt_arp_event_fn fn, void *arg,
                                  int *err)
{
    pt_arp_table *t;
    uint32_t slots = 2;

    if (!cfg || cfg->capacity < 1 || cfg->capacity > (1u << 24) || cfg->flood_slots < 1 ||
        cfg->flood_slots > (1u << 20) || cfg->pending_slots < 1 ||
        cfg->pending_slots > (1u << 20)) {
        *err = -EINVAL;
        return NULL;
    }
    while (slots < 2 * cfg->capacity)
        slots <<= 1;
    if (!(t = calloc(1, sizeof *t)))
        goto err_nomem;
    t->cfg = *cfg;
    t->fn = fn;
    t->arg = arg;
    t->mask = slots - 1;
    t->head = t->tail = NONE;
    t->ent = calloc(cfg->capacity, sizeof *t->ent);
    t->idx = malloc(slots * sizeof *t->idx);
    t->pend = calloc(cfg->pending_slots, sizeof *t->pend);
    t->flood = calloc(cfg->flood_slots, sizeof *t->flood);
    if (!t->ent || !t->idx || !t->pend || !t->flood)
        goto err_free;
    memset(t->idx, 0xff, slots * sizeof *t->idx);
    return t;

err_free:
    pt_arp_table_destroy(t);
err_nomem:
    *err = -ENOMEM;
    return NULL;
}

void pt_arp_table_destroy(pt_arp_table *t)
{
    if (!t)
        return;
    free(t->ent);
    free(t->idx);
    free(t->pend);
    free(t->flood);
    free(t);
}

const struct pt_arp_stats *pt_arp_table_stats(const pt_arp_table *t)
{
    return &t->st;
}

uint32_t pt_arp_table_count(const pt_arp_table *t)
{
    return t->n;
}

/* Index slot holding @ip, or the empty slot where it would go. */
static uint32_t find_slot(const pt_arp_table *t, const uint8_t ip[4])
{
    uint32_t s = home(t, ip);

    while (t->idx[s] != NONE && memcmp(t->ent[t->idx[s]].ip, ip, 4))
        s = (s + 1) & t->mask;
    return s;
}

static void list_unlink(pt_arp_table *t, uint32_t e)
{
    struct ent *x = &t->ent[e];

    if (x->prev != NONE)
        t->ent[x->prev].next = x->next;
    else
        t->head = x->next;
    if (x->next != NONE)
        t->ent[x->next].prev = x->prev;
    else
        t->tail = x->prev;
}

static void list_append(pt_arp_table *t, uint32_t e)
{
    struct ent *x = &t->ent[e];

    x->prev = t->tail;
    x->next = NONE;
    if (t->tail != NONE)
        t->ent[t->tail].next = e;
    else
        t->head = e;
    t->tail = e;
}

/* Empty index slot @s, shifting later members of its probe run back. */
static void slot_delete(pt_arp_table *t, uint32_t s)
{
    uint32_t j = s;

    t->idx[s] = NONE;
    for (;;) {
        uint32_t k;

        j = (j + 1) & t->mask;
        if (t->idx[j] == NONE)
            return;
        k = home(t, t->ent[t->idx[j]].ip);
        /* Move idx[j] into the hole unless its home lies cyclically in (s, j]. */
        if ((s < j) ? (k <= s || k > j) : (k <= s && k > j)) {
            t->idx[s] = t->idx[j];
            t->idx[j] = NONE;
            s = j;
        }
    }
}

static void raise_ev(pt_arp_table *t, struct pt_arp_event *ev)
{
    PT_CNT_INC(t->st.events[ev->type]);
    if (t->fn)
        t->fn(ev, t->arg);
}

/* Learn spa -> sha; raise NEW or CHANGED. */
static void learn(pt_arp_table *t, const struct pt_arp *a, uint64_t ts, struct pt_arp_event *ev)
{
    uint32_t s = find_slot(t, a->spa), e;
    struct ent *x;

    if (t->idx[s] != NONE) {
        e = t->idx[s];
        x = &t->ent[e];
        x->packets++;
        if (ts > x->last_ns)
            x->last_ns = ts;
        list_unlink(t, e);
        list_append(t, e);
        if (memcmp(x->mac, a->sha, 6)) {
            ev->type = PT_ARP_EV_CHANGED;
            memcpy(ev->old_mac, x->mac, 6);
            memcpy(x->mac, a->sha, 6);
            x->changes++;
            raise_ev(t, ev);
        }
        return;
    }
    if (t->n == t->cfg.capacity) {
        if (!t->cfg.evict_oldest) {
            PT_CNT_INC(t->st.err[PT_ARP_E_REFUSED]);
            goto event;
        }
        e = t->head;
        list_unlink(t, e);
        slot_delete(t, find_slot(t, t->ent[e].ip));
        s = find_slot(t, a->spa); /* the shift may have freed an earlier slot */
        PT_CNT_INC(t->st.err[PT_ARP_E_EVICTED]);
    } else {
        e = t->n++;
    }
    x = &t->ent[e];
    memset(x, 0, sizeof *x);
    memcpy(x->ip, a->spa, 4);
    memcpy(x->mac, a->sha, 6);
    x->packets = 1;
    x->first_ns = x->last_ns = ts;
    t->idx[s] = e;
    list_append(t, e);
event:
    ev->type = PT_ARP_EV_NEW;
    raise_ev(t, ev);
}

static uint32_t pend_slot(const pt_arp_table *t, const uint8_t asker[4], const uint8_t asked[4])
{
    return (uint32_t)(mix((uint64_t)ip32(asker) << 32 | ip32(asked)) % t->cfg.pending_slots);
}

/* Remember a request from spa for tpa. */
static void pend_put(pt_arp_table *t, const struct pt_arp *a, uint64_t ts)
{
    struct pend *p = &t->pend[pend_slot(t, a->spa, a->tpa)];

    if (p->used && (memcmp(p->asker, a->spa, 4) || memcmp(p->asked, a->tpa, 4)) &&
        ts - p->ts_ns <= t->cfg.pending_ns)
        PT_CNT_INC(t->st.err[PT_ARP_E_PENDING_REUSED]);
    memcpy(p->asker, a->spa, 4);
    memcpy(p->asked, a->tpa, 4);
    p->used = 1;
    p->ts_ns = ts;
}

/* A reply from spa to tpa answers a request from tpa for spa. */
static bool pend_take(pt_arp_table *t, const struct pt_arp *a, uint64_t ts)
{
    struct pend *p = &t->pend[pend_slot(t, a->tpa, a->spa)];

    if (!p->used || memcmp(p->asker, a->tpa, 4) || memcmp(p->asked, a->spa, 4))
        return false;
    p->used = 0;
    return ts < p->ts_ns || ts - p->ts_ns <= t->cfg.pending_ns;
}

static void flood_check(pt_arp_table *t, const struct pt_arp *a, uint64_t ts,
                        struct pt_arp_event *ev)
{
    struct flood *f;

    if (!t->cfg.flood_window_ns)
        return;
    f = &t->flood[mix(mac64(a->sha)) % t->cfg.flood_slots];
    if (!f->used || memcmp(f->mac, a->sha, 6)) {
        if (f->used)
            PT_CNT_INC(t->st.err[PT_ARP_E_FLOOD_REUSED]);
        memcpy(f->mac, a->sha, 6);
        f->used = 1;
        f->count = 0;
        f->alerted = 0;
        f->win_start = ts;
    } else if (ts > f->win_start && ts - f->win_start >= t->cfg.flood_window_ns) {
        f->count = 0;
        f->alerted = 0;
        f->win_start = ts;
    }
    f->count++;
    if (f->count > t->cfg.flood_count && !f->alerted) {
        f->alerted = 1;
        ev->type = PT_ARP_EV_FLOOD;
        ev->reason = 0;
        ev->count = f->count;
        raise_ev(t, ev);
    }
}

static bool mac_bad(const uint8_t mac[6])
{
    static const uint8_t zero[6];

    return (mac[0] & 1) || !memcmp(mac, zero, 6); /* group bit: broadcast/multicast */
}

void pt_arp_table_feed(pt_arp_table *t, const struct pt_arp *a, uint64_t ts_ns)
{
    static const uint8_t zero[4];
    struct pt_arp_event ev = {.op = a->op, .ts_ns = ts_ns};
    uint8_t reason = 0;

    PT_CNT_INC(t->st.packets);
    if (a->op != 1 && a->op != 2) {
        PT_CNT_INC(t->st.err[PT_ARP_E_OTHER_OP]);
        return;
    }
    if (mac_bad(a->sha)) {
        PT_CNT_INC(t->st.err[PT_ARP_E_BAD_SENDER]);
        return;
    }
    memcpy(ev.ip, a->spa, 4);
    memcpy(ev.mac, a->sha, 6);
    if (!memcmp(a->spa, zero, 4)) {
        PT_CNT_INC(t->st.err[PT_ARP_E_PROBE]);
        if (a->op == 1)
            pend_put(t, a, ts_ns);
        return;
    }
    learn(t, a, ts_ns, &ev);
    if (!memcmp(a->spa, a->tpa, 4))
        reason = PT_ARP_GRAT_SAME_IP;
    else if (a->op == 1)
        pend_put(t, a, ts_ns);
    else if (!pend_take(t, a, ts_ns))
        reason = PT_ARP_GRAT_UNSOLICITED;
    if (!reason)
        return;
    ev.type = PT_ARP_EV_GRATUITOUS;
    ev.reason = reason;
    memset(ev.old_mac, 0, 6);
    raise_ev(t, &ev);
    flood_check(t, a, ts_ns, &ev);
}

static void entry_out(const struct ent *x, struct pt_arp_entry *out)
{
    memcpy(out->ip, x->ip, 4);
    memcpy(out->mac, x->mac, 6);
    out->first_ns = x->first_ns;
    out->last_ns = x->last_ns;
    out->packets = x->packets;
    out->changes = x->changes;
}

bool pt_arp_table_lookup(const pt_arp_table *t, const uint8_t ip[4], struct pt_arp_entry *out)
{
    uint32_t s = find_slot(t, ip);

    if (t->idx[s] == NONE)
        return false;
    entry_out(&t->ent[t->idx[s]], out);
    return true;
}

bool pt_arp_table_next(const pt_arp_table *t, uint32_t *cursor, struct pt_arp_entry *out)
{
    /* Entries 0..n-1 are all in use: bindings are never removed, only reused. */
    if (*cursor >= t->n)
        return false;
    entry_out(&t->ent[(*cursor)++], out);
    return true;
}
