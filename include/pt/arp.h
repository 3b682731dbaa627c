/* arp.h - IPv4 -> MAC table fed by ARP packets, with events for new
 * bindings, changed bindings (possible spoofing), gratuitous ARP and
 * gratuitous-ARP floods.
 *
 * Input is the decoder's struct pt_arp (Ethernet/IPv4 ARP only), one packet
 * at a time with its capture time. The table learns the sender's binding
 * (spa -> sha) of requests and replies; it never learns from the target
 * fields, nor from a sender address of 0.0.0.0 (an RFC 5227 probe) or a
 * broadcast/multicast/zero sender MAC (counted as enrich.arp.bad_sender).
 *
 * Events, in the order they are raised for one packet:
 *   1. PT_ARP_EV_NEW      the sender IP was not in the table;
 *      PT_ARP_EV_CHANGED  it was, with another MAC (old_mac, mac);
 *   2. PT_ARP_EV_GRATUITOUS, reason PT_ARP_GRAT_SAME_IP: sender IP == target
 *      IP (request or reply; what tshark calls arp.isgratuitous), or reason
 *      PT_ARP_GRAT_UNSOLICITED: a reply that answers no request seen within
 *      cfg.pending_ns (requests are remembered in a small direct-mapped
 *      table; a request lost to a collision makes its reply look unsolicited,
 *      counted as enrich.arp.pending_overwritten);
 *   3. PT_ARP_EV_FLOOD: the gratuitous packet was the (cfg.flood_count+1)th
 *      from this sender MAC within one window of cfg.flood_window_ns (fixed
 *      windows starting at the MAC's first gratuitous packet); once per
 *      window. Per-MAC counters live in a direct-mapped table of
 *      cfg.flood_slots; a collision restarts the count (enrich.arp.flood_slot_reused).
 *
 * Full table: with cfg.evict_oldest the least recently seen binding makes
 * room (enrich.arp.evicted), else the new binding is refused
 * (enrich.arp.refused); either way the events above still fire.
 *
 * Threads: single-threaded. All calls on one table come from one thread
 * (the lead's choice), or are serialised by the caller. Memory is allocated
 * only by pt_arp_table_create(); feeding never allocates, never blocks and
 * does O(1) expected work (open addressing, load <= 1/2). */
#ifndef PT_ARP_H
#define PT_ARP_H

#include <stdbool.h>
#include <stdint.h>

#include "pt/decode.h"

struct pt_arp_config {
    uint32_t capacity;        /* bindings kept, 1..1<<24 */
    bool evict_oldest;        /* full: evict least recently seen (true) or refuse (false) */
    uint32_t flood_count;     /* flood: more than this many gratuitous packets ... */
    uint64_t flood_window_ns; /* ... from one MAC within this window; 0 disables */
    uint32_t flood_slots;     /* MACs tracked for floods, 1..1<<20 */
    uint32_t pending_slots;   /* outstanding requests remembered, 1..1<<20 */
    uint64_t pending_ns;      /* how long a request waits for its reply */
};

/* 4096 bindings, evict oldest, flood = more than 10 gratuitous per second
 * per MAC, 256 flood slots, 1024 pending requests for 2 s. */
#define PT_ARP_CONFIG_DEFAULT                                                                      \
    ((struct pt_arp_config){.capacity = 4096,                                                      \
                            .evict_oldest = true,                                                  \
                            .flood_count = 10,                                                     \
                            .flood_window_ns = 1000000000ull,                                      \
                            .flood_slots = 256,                                                    \
                            .pending_slots = 1024,                                                 \
                            .pending_ns = 2000000000ull})

enum pt_arp_event_type {
    PT_ARP_EV_NEW = 1,
    PT_ARP_EV_CHANGED,
    PT_ARP_EV_GRATUITOUS,
    PT_ARP_EV_FLOOD,
};

enum pt_arp_grat_reason {
    PT_ARP_GRAT_SAME_IP = 1,
    PT_ARP_GRAT_UNSOLICITED,
};

struct pt_arp_event {
    uint8_t type;   /* enum pt_arp_event_type */
    uint8_t reason; /* GRATUITOUS: enum pt_arp_grat_reason; else 0 */
    uint16_t op;    /* ARP opcode of the packet */
    uint32_t count; /* FLOOD: gratuitous packets from mac in this window */
    uint64_t ts_ns;
    uint8_t ip[4];      /* sender IP */
    uint8_t mac[6];     /* sender MAC */
    uint8_t old_mac[6]; /* CHANGED: the MAC the table had for ip */
};

/* Called for each event; @ev is borrowed for the call. It must not call
 * back into the table that raised it. */
typedef void (*pt_arp_event_fn)(const struct pt_arp_event *ev, void *arg);

/* Counter reasons; stable names: pt_arp_err_name(). */
enum pt_arp_err {
    PT_ARP_OK = 0,
    PT_ARP_E_OTHER_OP,       /* enrich.arp.other_opcode: not request/reply (RARP, InARP...) */
    PT_ARP_E_BAD_SENDER,     /* enrich.arp.bad_sender: zero/broadcast/multicast sender MAC */
    PT_ARP_E_PROBE,          /* enrich.arp.probe: sender IP 0.0.0.0, not learnt */
    PT_ARP_E_EVICTED,        /* enrich.arp.evicted: full, least recently seen dropped */
    PT_ARP_E_REFUSED,        /* enrich.arp.refused: full, new binding not kept */
    PT_ARP_E_PENDING_REUSED, /* enrich.arp.pending_overwritten */
    PT_ARP_E_FLOOD_REUSED,   /* enrich.arp.flood_slot_reused */
    PT_ARP_ERR_MAX
};

/* Stable dotted name of @err. Never NULL. */
const char *pt_arp_err_name(unsigned err);

struct pt_arp_stats {
    uint64_t packets;                     /* pt_arp_table_feed() calls */
    uint64_t events[PT_ARP_EV_FLOOD + 1]; /* by enum pt_arp_event_type */
    uint64_t err[PT_ARP_ERR_MAX];
};

/* One binding, as the iterator returns it (a copy). */
struct pt_arp_entry {
    uint8_t ip[4];
    uint8_t mac[6];
    uint64_t first_ns, last_ns; /* first and last packet from ip */
    uint32_t packets;           /* packets that carried this binding's ip as sender */
    uint32_t changes;           /* times ip's MAC changed */
};

typedef struct pt_arp_table pt_arp_table;

/* Create a table per @cfg (copied). @fn/@arg receive the events (@fn may
 * be NULL). Memory: 48 bytes per binding plus 4 per index slot (2..4
 * per binding), 24 per flood slot and 24 per pending slot; all of it here.
 * Returns NULL with *@err = -EINVAL (a bound out of range) or -ENOMEM.
 * Thread: any. */
pt_arp_table *pt_arp_table_create(const struct pt_arp_config *cfg, pt_arp_event_fn fn, void *arg,
                                  int *err);

/* Free @t; NULL is fine. */
void pt_arp_table_destroy(pt_arp_table *t);

/* Feed one ARP packet @a (decoded with PT_PKT_ARP set) seen at @ts_ns.
 * Raises events synchronously through the callback. Times may go
 * backwards (merged inputs): nothing breaks, windows just last longer.
 * Thread: @t's owner. */
void pt_arp_table_feed(pt_arp_table *t, const struct pt_arp *a, uint64_t ts_ns);

/* Look up @ip (4 bytes); copies the binding into @out. Thread: @t's owner. */
bool pt_arp_table_lookup(const pt_arp_table *t, const uint8_t ip[4], struct pt_arp_entry *out);

/* Bindings in the table. Thread: @t's owner. */
uint32_t pt_arp_table_count(const pt_arp_table *t);

/* Iterate: start with *@cursor = 0; each call copies the next binding into
 * @out and returns true, false at the end. Order is unspecified. Feeding
 * the table between calls is allowed but may skip or repeat bindings.
 * Thread: @t's owner. */
bool pt_arp_table_next(const pt_arp_table *t, uint32_t *cursor, struct pt_arp_entry *out);

/* The table's counters (borrowed, valid until destroy; written with
 * PT_CNT_* so another thread may read them). */
const struct pt_arp_stats *pt_arp_table_stats(const pt_arp_table *t);

#endif
