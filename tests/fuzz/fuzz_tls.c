/* fuzz_tls.c - libFuzzer target for the TLS handshake parser and the X.509
 * walk (src/decode/tls.c, x509.c).
 *
 * DESIGN: the input is a run.sh seed, 2-byte big-endian link type + frame
 * (seeds are every packet of the shared captures, so the TLS ones carry real
 * hellos and certificates). Three passes over it:
 *   1. the frame is decoded with pt_decode() and each IP layer's TCP/UDP
 *      payload is fed to a fresh state, in the direction its ports suggest
 *      (from port 443 or the lower port = server), then once more in pieces;
 *   2. the bytes after the selector are fed as one stream cut into pieces
 *      whose sizes and directions come from the selector, so record and
 *      message boundaries land everywhere and both directions interleave;
 *   3. the same bytes are parsed as a DER certificate.
 * Every piece is copied to an exactly-sized heap buffer so ASan sees any
 * read past the length given. Invariants on the result are checked with
 * abort(). Only src/decode and src/common are linked (Makefile). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pt/decode.h"
#include "pt/tls.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void feed(struct pt_tls_state *s, unsigned dir, const uint8_t *p, size_t n)
{
    uint8_t *b = malloc(n ? n : 1);

    if (!b)
        return;
    memcpy(b, p, n);
    enum pt_tls_status st = pt_tls_feed(s, dir, 1700000000ull * 1000000000ull, b, n);
    free(b);
    if (st != PT_TLS_NEED_MORE && st != PT_TLS_DONE && st != PT_TLS_NOT_TLS)
        abort();
}

static void check(const struct pt_tls_state *s)
{
    const struct pt_tls_result *r = &s->res;

    if (r->sni_len >= PT_TLS_SNI_MAX || r->server_name[r->sni_len] != '\0' ||
        r->alpn_len > PT_TLS_ALPN_MAX || r->next_protocol_len >= PT_TLS_PROTO_MAX ||
        r->n_versions > PT_TLS_VERS_MAX || memchr(r->ja3, 0, sizeof r->ja3) == NULL ||
        memchr(r->ja3s, 0, sizeof r->ja3s) == NULL || memchr(r->ja4, 0, sizeof r->ja4) == NULL ||
        memchr(r->cert.subject, 0, PT_TLS_DN_MAX) == NULL ||
        memchr(r->cert.issuer, 0, PT_TLS_DN_MAX) == NULL ||
        r->cert.san_dns_len > PT_TLS_SAN_DNS_MAX || r->cert.n_san_ip > PT_TLS_SAN_IP_MAX)
        abort();
    if ((r->flags & PT_TLS_F_CLIENT_HELLO) && s->stats &&
        (strlen(r->ja3_md5) != 32 && s->stats->err[PT_TLS_E_HASH] == 0))
        abort();
    /* the ALPN list must walk to its exact end */
    size_t off = 0, il;
    const uint8_t *item;
    while (pt_tls_list_next(r->alpn, r->alpn_len, &off, &item, &il))
        ;
    if (off != r->alpn_len)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct pt_decode_stats dst;
    static struct pt_tls_stats tst;
    static struct pt_tls_state s;
    static int init;
    struct pt_pkt p;

    if (size < 2 || size > 0x40000)
        return 0;
    if (!init) {
        pt_decode_stats_init(&dst);
        init = 1;
    }

    /* 1. a real frame's payload */
    uint8_t *frame = malloc(size - 2 ? size - 2 : 1);
    if (!frame)
        return 0;
    memcpy(frame, data + 2, size - 2);
    memset(&p, 0, sizeof p);
    p.data = frame;
    p.caplen = p.wirelen = (uint32_t)(size - 2);
    p.linktype = data[0] << 8 | data[1];
    p.hw_vlan = PT_VLAN_NONE;
    pt_decode(&p, &dst);
    for (unsigned i = 0; i < p.n_l3; i++) {
        const struct pt_l3 *l = &p.l3[i];
        if (!(l->flags & PT_L3_L4) || !l->payload || !l->payload_caplen)
            continue;
        unsigned dir = l->sport == 443 || (l->dport != 443 && l->sport < l->dport);
        pt_tls_init(&s, &tst);
        feed(&s, dir, l->payload, l->payload_caplen);
        check(&s);
        pt_tls_init(&s, &tst);
        for (uint32_t o = 0; o < l->payload_caplen; o += 3)
            feed(&s, dir, l->payload + o, l->payload_caplen - o < 3 ? l->payload_caplen - o : 3);
        check(&s);
    }
    free(frame);

    /* 2. the bytes as a two-way stream in pieces */
    const uint8_t *b = data + 2;
    size_t n = size - 2, piece = (data[0] & 0x3f) + 1;
    unsigned dir = data[1] & 1;
    pt_tls_init(&s, &tst);
    for (size_t o = 0; o < n; o += piece) {
        size_t k = n - o < piece ? n - o : piece;
        feed(&s, dir, b + o, k);
        if (data[1] & 2)
            dir ^= 1;
        if ((data[1] & 4) && o / piece == 3)
            pt_tls_gap(&s, dir);
    }
    check(&s);

    /* 3. the bytes as a certificate */
    struct pt_tls_cert c;
    uint8_t *der = malloc(n ? n : 1);
    if (!der)
        return 0;
    memcpy(der, b, n);
    pt_x509_parse(der, n, 1700000000, &c, &tst);
    free(der);
    if (memchr(c.subject, 0, sizeof c.subject) == NULL || c.san_dns_len > PT_TLS_SAN_DNS_MAX)
        abort();
    return 0;
}
