/* fuzz_appid.c - libFuzzer target for pt_appid_feed().
 *
 * DESIGN: input = the seed format of seed.c (2-byte big-endian link type +
 * frame), so the corpus run.sh builds from the shared captures serves as is.
 * The frame is decoded with pt_decode(); the transport payload of every TCP/UDP
 * layer is then fed, as an exactly-sized heap copy (ASan sees any overread),
 * to a fresh state several times: as both directions, with the real ports and
 * with well-known ports taken from the input's first byte (so the port-gated
 * checks and the malformed counters run too), and in every prefix length of
 * the first 64 bytes. Invariants: results and verdicts in range, and a DONE
 * state never changes. Only src/decode and src/common are linked. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pt/appid.h"
#include "pt/decode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint16_t well_known[] = {21,  22,  23,  25,   53,   67,   68,   80,   88,   110,
                                      123, 137, 138, 139,  143,  161,  389,  443,  445,  514,
                                      546, 547, 587, 1883, 1900, 3389, 3478, 5060, 5353, 5355};

static void feed_copy(struct pt_appid *a, struct pt_appid_stats *st, uint8_t proto, unsigned dir,
                      uint16_t op, uint16_t rp, const uint8_t *p, uint32_t len)
{
    uint8_t *b = malloc(len ? len : 1);
    struct pt_appid before;
    enum pt_appid_verdict v;

    if (!b)
        return;
    memcpy(b, p, len);
    before = *a;
    v = pt_appid_feed(a, st, proto, dir, op, rp, b, len);
    free(b);
    if (v != PT_APPID_MORE && v != PT_APPID_DONE)
        abort();
    if (pt_appid_done(&before) && memcmp(&before, a, sizeof before) != 0)
        abort();
    if ((unsigned)pt_appid_result(a) >= PT_APP_MAX)
        abort();
}

static void run(struct pt_appid_stats *st, uint8_t proto, uint16_t op, uint16_t rp,
                const uint8_t *p, uint32_t len)
{
    struct pt_appid a;

    pt_appid_init(&a, proto, op, rp);
    for (unsigned i = 0; i < 2 * PT_APPID_K + 2; i++)
        feed_copy(&a, st, proto, i & 1, op, rp, p, len);
    for (uint32_t n = 0; n <= len && n <= 64; n++) {
        pt_appid_init(&a, proto, op, rp);
        feed_copy(&a, st, proto, n & 1, op, rp, p, n);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct pt_decode_stats dst;
    static struct pt_appid_stats st;
    struct pt_pkt p;
    uint8_t *buf;

    if (size < 3 || size > 0x40000)
        return 0;
    pt_decode_stats_init(&dst);
    buf = malloc(size - 2);
    if (!buf)
        return 0;
    memcpy(buf, data + 2, size - 2);
    memset(&p, 0, sizeof p);
    p.data = buf;
    p.caplen = p.wirelen = (uint32_t)(size - 2);
    p.linktype = data[0] << 8 | data[1];
    p.hw_vlan = PT_VLAN_NONE;
    pt_decode(&p, &dst);
    if (p.n_l3 == 0) {
        /* not a frame we decode: use the bytes as a payload, TCP and UDP */
        uint16_t wk = well_known[data[2] % (sizeof well_known / sizeof well_known[0])];
        run(&st, 6, 50000, wk, buf, p.caplen);
        run(&st, 17, 50000, wk, buf, p.caplen);
    }
    for (unsigned i = 0; i < p.n_l3; i++) {
        const struct pt_l3 *l = &p.l3[i];
        uint16_t wk;

        if (!(l->flags & PT_L3_L4) || (l->proto != 6 && l->proto != 17) || !l->payload)
            continue;
        wk = well_known[(l->sport ^ l->dport ^ data[2]) %
                        (sizeof well_known / sizeof well_known[0])];
        run(&st, l->proto, l->sport, l->dport, l->payload, l->payload_caplen);
        run(&st, l->proto, 50000, wk, l->payload, l->payload_caplen);
    }
    free(buf);
    return 0;
}
