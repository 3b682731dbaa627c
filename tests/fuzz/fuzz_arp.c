/* fuzz_arp.c - libFuzzer target for the ARP table (src/enrich/arp.c).
 *
 * DESIGN: the input is cut into 24-byte records, each one ARP packet as the decoder would hand
 * it over (opcode, sender MAC/IP, target MAC/IP: 22 bytes) plus a 2-byte time step in
 * milliseconds. The high bit of the first byte of the input picks evict or refuse. A fresh
 * table of 4 bindings (2 flood slots, 2 pending slots: collisions everywhere) takes them all;
 * the IP's last byte is folded to 0..7 so bindings collide, change MAC and get evicted. After
 * each packet: count <= capacity, and every binding the iterator returns is found by lookup
 * with the same MAC. Seeds: run.sh's per-packet seeds (any bytes do). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pt/arp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void on_ev(const struct pt_arp_event *ev, void *arg)
{
    (void)arg;
    if (ev->type < PT_ARP_EV_NEW || ev->type > PT_ARP_EV_FLOOD)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct pt_arp_config cfg = PT_ARP_CONFIG_DEFAULT;
    pt_arp_table *t;
    uint64_t ts = 0;
    int err = 0;

    if (size < 1 || size > 24 * 512)
        return 0;
    cfg.capacity = 4;
    cfg.flood_slots = 2;
    cfg.pending_slots = 2;
    cfg.flood_count = 2;
    cfg.evict_oldest = !(data[0] & 0x80);
    if (!(t = pt_arp_table_create(&cfg, on_ev, NULL, &err)))
        return 0;
    for (size_t off = 1; off + 24 <= size; off += 24) {
        const uint8_t *r = data + off;
        struct pt_arp a;
        struct pt_arp_entry e, f;
        uint32_t cur = 0, n = 0;

        a.op = (uint16_t)(r[0] << 8 | r[1]);
        memcpy(a.sha, r + 2, 6);
        memcpy(a.spa, r + 8, 4);
        memcpy(a.tha, r + 12, 6);
        memcpy(a.tpa, r + 18, 4);
        a.spa[3] &= 7;
        a.tpa[3] &= 7;
        ts += (uint64_t)(r[22] << 8 | r[23]) * 1000000ull;
        pt_arp_table_feed(t, &a, ts);
        if (pt_arp_table_count(t) > cfg.capacity)
            abort();
        while (pt_arp_table_next(t, &cur, &e)) {
            if (!pt_arp_table_lookup(t, e.ip, &f) || memcmp(e.mac, f.mac, 6))
                abort();
            n++;
        }
        if (n != pt_arp_table_count(t))
            abort();
    }
    pt_arp_table_destroy(t);
    return 0;
}
