/* fuzz_http.c - libFuzzer target for the HTTP parser (pt_http_feed/gap/flush).
 *
 * DESIGN: the input is a script of records: 1 control byte then data. The
 * control byte's bit 0 is the direction, bit 1 asks for a gap (the next two
 * bytes, big-endian, are its length) instead of data, and bits 2-7 + 1 give
 * the data length (1..64; the rest of the input when it is shorter). So one
 * input drives both directions with arbitrary segment boundaries and holes.
 * A seed that is a raw capture packet (seed.c's corpus) reads as a script
 * too. Each data record is copied to an exactly-sized heap buffer so ASan
 * sees a read past the length. Invariants checked on every transaction:
 * lengths within their arrays and NUL-terminated, depth and flags
 * consistent. Only src/decode and src/common are linked. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pt/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK_STR(obj, f)                                                                          \
    do {                                                                                           \
        if ((obj).f##_len >= sizeof(obj).f || (obj).f[(obj).f##_len] != '\0')                      \
            abort();                                                                               \
    } while (0)

static void check(const struct pt_http_txn *t, void *arg)
{
    uint32_t *last_depth = arg;

    CHECK_STR(t->req, method);
    CHECK_STR(t->req, host);
    CHECK_STR(t->req, uri);
    CHECK_STR(t->req, referrer);
    CHECK_STR(t->req, user_agent);
    CHECK_STR(t->req, version);
    CHECK_STR(t->req, ctype);
    CHECK_STR(t->resp, version);
    CHECK_STR(t->resp, status_msg);
    CHECK_STR(t->resp, ctype);
    CHECK_STR(t->resp, info_msg);
    if (t->flags != (t->req.flags | t->resp.flags) || t->trunc != (t->req.trunc | t->resp.trunc))
        abort();
    if (t->flags & PT_HTTP_TX_REQUEST) {
        /* requests come out in order */
        if (t->req.trans_depth <= *last_depth)
            abort();
        *last_depth = t->req.trans_depth;
    } else if (t->req.trans_depth || t->req.method_len) {
        abort();
    }
    if ((t->flags & PT_HTTP_TX_RESPONSE) &&
        (t->resp.status_code < 100 || t->resp.status_code > 999))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct pt_http_stats st;
    struct pt_http_state *s = malloc(sizeof *s);
    uint32_t last_depth = 0;
    size_t i = 0;
    int rc = PT_HTTP_OK;

    if (!s)
        return 0;
    pt_http_init(s, &st);
    while (i < size && rc == PT_HTTP_OK) {
        uint8_t c = data[i++];
        unsigned dir = c & 1;

        if (c & 2) {
            uint64_t g = 0;
            for (unsigned k = 0; k < 2 && i < size; k++)
                g = g << 8 | data[i++];
            rc = pt_http_gap(s, dir, g, check, &last_depth);
            continue;
        }
        size_t n = (size_t)(c >> 2) + 1;
        if (n > size - i)
            n = size - i;
        uint8_t *b = malloc(n ? n : 1);
        if (!b)
            break;
        memcpy(b, data + i, n);
        rc = pt_http_feed(s, dir, i, b, n, check, &last_depth);
        free(b);
        i += n;
        if (rc < 0)
            abort(); /* arguments are always valid here */
    }
    pt_http_flush(s, check, &last_depth);
    if (s->n > PT_HTTP_PIPELINE || s->dir[0].line_len >= PT_HTTP_LINE_MAX ||
        s->dir[1].line_len >= PT_HTTP_LINE_MAX)
        abort();
    free(s);
    return 0;
}
