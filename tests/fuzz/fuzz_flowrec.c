/* fuzz_flowrec.c - libFuzzer target for the store's flow record codec
 * (src/store/flowenc.c).
 *
 * DESIGN: two uses of one input. (1) The input as a stored value, copied
 * to an exactly-sized heap buffer so ASan sees any read past it:
 * flow_decode() must refuse it or return a record that re-encodes and
 * decodes to itself. (2) The input as a struct pt_flow_record (bools made
 * 0/1, the health zeroed unless valid): encode, then the record must decode
 * to itself with its strings cut as the store cuts them, within
 * FLOW_ENC_MAX; and the encoding cut at a place the input picks must be
 * refused. Seeds (run.sh): capture packets, as for the decoders; (2)
 * reaches every field from any bytes. Links src/store/flowenc.c (Makefile
 * rule build/fuzz/%), which needs only lmdb.h, not the library. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/store/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void same_or_die(const struct pt_flow_record *a)
{
    static uint8_t buf[FLOW_ENC_MAX];
    struct pt_flow_record b;
    size_t n = flow_encode(buf, a, a->ifaces);

    if (n > FLOW_ENC_MAX || flow_decode(buf, n, &b) != 0 || memcmp(a, &b, sizeof b) != 0)
        abort();
}

/* A field of @cap bytes as the store keeps it: cut at cap - 1, NUL after. */
static void cut(char *s, size_t cap)
{
    size_t n = strnlen(s, cap - 1);
    memset(s + n, 0, cap - n);
}

static void as_record(const uint8_t *data, size_t size)
{
    static uint8_t buf[FLOW_ENC_MAX];
    struct pt_flow_record r, got;
    struct pt_flow_health *h = &r.health;

    memset(&r, 0, sizeof r);
    memcpy(&r, data, size < sizeof r ? size : sizeof r);
    bool *bools[] = {&h->valid,        &h->tcp,        &h->tcp_seen[0], &h->tcp_seen[1],
                     &h->ip_seen[0],   &h->ip_seen[1], &r.app_by_port,  &r.rtp[0].seen,
                     &r.rtp[0].jitter, &r.rtp[1].seen, &r.rtp[1].jitter};
    for (size_t i = 0; i < sizeof bools / sizeof bools[0]; i++)
        *(uint8_t *)bools[i] &= 1; /* as bytes: a bool holding 64 is not one */
    if (!h->valid)
        memset(h, 0, sizeof *h);
    for (int d = 0; d < 2; d++) { /* what the RTP group can say (flowenc.c rtp_put) */
        struct pt_rtp_result *x = &r.rtp[d];
        if (!x->seen)
            memset(x, 0, sizeof *x);
        else if (!x->jitter)
            x->jitter_ns = x->max_jitter_ns = 0;
    }
    size_t n = flow_encode(buf, &r, r.ifaces);
    if (n > FLOW_ENC_MAX || flow_decode(buf, n, &got) != 0)
        abort();
    /* what the decoder gives back: strings cut, no bytes after a NUL, an
     * unknown app as unknown, padding zero */
    struct pt_flow_record want = r;
    cut(want.uid, sizeof want.uid);
    cut(want.community_id, sizeof want.community_id);
    cut(want.parent_uid, sizeof want.parent_uid);
    cut(want.conn_state, sizeof want.conn_state);
    cut(want.history, sizeof want.history);
    cut(want.orig_fqdn, sizeof want.orig_fqdn);
    cut(want.resp_fqdn, sizeof want.resp_fqdn);
    cut(want.orig_cc, sizeof want.orig_cc);
    cut(want.resp_cc, sizeof want.resp_cc);
    if (want.app >= PT_APP_MAX)
        want.app = PT_APP_UNKNOWN;
    /* compare field by field through a second round trip: padding bytes of
     * the input are not the record's */
    same_or_die(&got);
    if (got.ts_ns != want.ts_ns || got.last_ns != want.last_ns || strcmp(got.uid, want.uid) ||
        strcmp(got.history, want.history) || strcmp(got.resp_fqdn, want.resp_fqdn) ||
        got.app != want.app || got.health.valid != want.health.valid ||
        got.health.rtt_ns != want.health.rtt_ns || got.health.wscale[1] != want.health.wscale[1] ||
        got.resp_asn != want.resp_asn || memcmp(got.orig_h, want.orig_h, 16) ||
        got.orig_bytes != want.orig_bytes || got.rtp[1].seen != want.rtp[1].seen ||
        got.rtp[1].lost != want.rtp[1].lost ||
        got.rtp[0].max_jitter_ns != want.rtp[0].max_jitter_ns)
        abort();
    if (size > sizeof r && n > 0) { /* a strict prefix is never a record */
        size_t k = data[sizeof r] * n / 256;
        if (flow_decode(buf, k, &got) == 0)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct pt_flow_record r;

    if (size > 4096)
        return 0;
    uint8_t *cp = malloc(size ? size : 1);
    if (!cp)
        return 0;
    memcpy(cp, data, size);
    if (flow_decode(cp, size, &r) == 0)
        same_or_die(&r);
    free(cp);
    as_record(data, size);
    return 0;
}
