/* test_flowenc.c - the flow record codec (src/store/flowenc.c) on its
 * own: every field round trips, with the longest values and with none;
 * a version 1 record as an earlier build wrote it decodes byte-exactly;
 * every strict prefix, a trailing byte and each kind of malformed field is
 * refused; flipped bytes never crash the decoder; the sizes the docs give. */
#include "store_helpers.h"

#include "../../src/store/internal.h"

TestSuite(store_flowenc);

/* A record with every field at its longest or largest value. */
static void rec_max(struct pt_flow_record *r)
{
    struct pt_flow_health *h = &r->health;

    st_rec(r, 6, 1700000000ull * NS); /* IPv4, MACs, TCP */
    memset(r->orig_h, 0xfe, 16);      /* 16-byte addresses */
    memset(r->uid, 'U', sizeof r->uid - 1);
    memset(r->community_id, 'c', sizeof r->community_id - 1);
    memset(r->parent_uid, 'P', sizeof r->parent_uid - 1);
    memset(r->conn_state, 'S', sizeof r->conn_state - 1);
    memset(r->history, 'h', sizeof r->history - 1);
    r->ts_ns = UINT64_MAX;
    r->last_ns = UINT64_MAX / 2; /* a zigzag delta of 10 bytes */
    r->orig_bytes = r->resp_bytes = r->orig_pkts = r->resp_pkts = UINT64_MAX;
    r->orig_ip_bytes = r->resp_ip_bytes = r->missed_bytes = UINT64_MAX;
    r->ifaces = UINT32_MAX;
    r->app = PT_APP_MAX - 1;
    r->app_by_port = true;
    memset(h, 0, sizeof *h);
    h->valid = h->tcp = true;
    h->rtt_valid = 0xff;
    h->rtt_ns = UINT64_MAX; /* not a whole us: the rest follows */
    h->syn_synack_ns = UINT64_MAX - 1;
    h->synack_ack_ns = UINT64_MAX / 1000 * 1000 - 1;
    for (int d = 0; d < 2; d++) {
        h->retrans[d] = h->dup_acks[d] = UINT32_MAX;
        h->ooo[d] = h->lost[d] = h->zero_win[d] = h->mss[d] = h->init_win[d] = UINT16_MAX;
        h->wscale[d] = d ? 127 : -128;
        h->tcp_seen[d] = h->ip_seen[d] = true;
        h->ttl[d] = h->dscp[d] = 255;
    }
    memset(r->orig_fqdn, 'o', sizeof r->orig_fqdn - 1); /* 255 bytes */
    memset(r->resp_fqdn, 'r', sizeof r->resp_fqdn - 1);
    strcpy(r->orig_cc, "NL");
    strcpy(r->resp_cc, "JP");
    r->orig_asn = r->resp_asn = UINT32_MAX;
    for (int d = 0; d < 2; d++)
        r->rtp[d] = (struct pt_rtp_result){.seen = true,
                                           .jitter = true,
                                           .jitter_ns = UINT64_MAX,
                                           .max_jitter_ns = UINT64_MAX,
                                           .lost = INT64_MIN,
                                           .ssrcs = UINT32_MAX};
}

static size_t enc_dec_eq(const struct pt_flow_record *r, uint8_t *buf)
{
    struct pt_flow_record got;
    size_t n = flow_encode(buf, r, r->ifaces);

    cr_assert_leq(n, FLOW_ENC_MAX);
    cr_assert_eq(flow_decode(buf, n, &got), 0, "%s does not decode", r->uid);
    st_rec_eq(&got, r);
    return n;
}

Test(store_flowenc, longest_record_roundtrips)
{
    static struct pt_flow_record r;
    uint8_t buf[FLOW_ENC_MAX];

    rec_max(&r);
    /* The bound internal.h derives: every part at its longest. */
    cr_assert_eq(enc_dec_eq(&r, buf), 956);
}

/* Every field of struct pt_flow_health but valid. */
#define HFIELD(f)                                                                                  \
    {                                                                                              \
        offsetof(struct pt_flow_health, f), sizeof(((struct pt_flow_health *)0)->f)                \
    }
static const struct {
    size_t off, size;
} hfield_at[] = {
    HFIELD(tcp),           HFIELD(rtt_valid),   HFIELD(rtt_ns),      HFIELD(syn_synack_ns),
    HFIELD(synack_ack_ns), HFIELD(retrans[0]),  HFIELD(retrans[1]),  HFIELD(ooo[0]),
    HFIELD(ooo[1]),        HFIELD(dup_acks[0]), HFIELD(dup_acks[1]), HFIELD(lost[0]),
    HFIELD(lost[1]),       HFIELD(zero_win[0]), HFIELD(zero_win[1]), HFIELD(mss[0]),
    HFIELD(mss[1]),        HFIELD(init_win[0]), HFIELD(init_win[1]), HFIELD(wscale[0]),
    HFIELD(wscale[1]),     HFIELD(tcp_seen[0]), HFIELD(tcp_seen[1]), HFIELD(ip_seen[0]),
    HFIELD(ip_seen[1]),    HFIELD(ttl[0]),      HFIELD(ttl[1]),      HFIELD(dscp[0]),
    HFIELD(dscp[1]),
};

Test(store_flowenc, every_field_roundtrips)
{
    static struct pt_flow_record r;
    uint8_t buf[FLOW_ENC_MAX];

    for (uint64_t i = 0; i < 2000; i++) {
        st_rec(&r, i, (1700000000ull + i) * NS + i);
        enc_dec_eq(&r, buf);
    }
    /* each health field alone, at its largest (or its extreme) value */
    static struct pt_flow_record m;
    rec_max(&m);
    for (size_t f = 0; f < PT_ARRAY_LEN(hfield_at); f++) {
        st_rec(&r, 3, 1700000000ull * NS);
        memset(&r.health, 0, sizeof r.health);
        r.health.valid = true;
        r.health.wscale[0] = r.health.wscale[1] = -1;
        memcpy((uint8_t *)&r.health + hfield_at[f].off, (uint8_t *)&m.health + hfield_at[f].off,
               hfield_at[f].size);
        enc_dec_eq(&r, buf);
    }
}

Test(store_flowenc, minimal_records_roundtrip)
{
    static struct pt_flow_record r;
    uint8_t buf[FLOW_ENC_MAX];

    memset(&r, 0, sizeof r); /* all zero: no health, app unknown, nothing */
    /* head, "::" addresses, ports, ts, delta, icmp, VLANs, 7 counters,
     * flags, ifaces, end_reason, 5 empty strings, app */
    const size_t bare = 4 + 32 + 4 + 8 + 1 + 2 + 4 + 7 + 2 + 1 + 1 + 5 + 1;
    cr_assert_eq(enc_dec_eq(&r, buf), bare);
    /* a record whose health holds only its defaults: the mask byte */
    r.health.valid = true;
    r.health.wscale[0] = r.health.wscale[1] = -1;
    cr_assert_eq(enc_dec_eq(&r, buf), bare + 1);
}

/* A UDP record as the flow table fills it: version 2 adds the app byte,
 * the health mask and the two TTLs, and nothing for enrichment it lacks. */
Test(store_flowenc, udp_record_grows_by_four_bytes)
{
    static struct pt_flow_record r;
    uint8_t buf[FLOW_ENC_MAX];

    st_rec(&r, 1, 1700000000ull * NS); /* UDP, port 53 */
    memset(&r.health, 0, sizeof r.health);
    r.app = PT_APP_UNKNOWN;
    size_t bare = flow_encode(buf, &r, r.ifaces);
    r.app = PT_APP_DNS;
    r.health.valid = true;
    r.health.ip_seen[0] = r.health.ip_seen[1] = true;
    r.health.ttl[0] = 64;
    r.health.ttl[1] = 57;
    r.health.wscale[0] = r.health.wscale[1] = -1;
    cr_assert_eq(enc_dec_eq(&r, buf), bare + 3);
}

Test(store_flowenc, v1_record_decodes_byte_exact)
{
    struct pt_flow_record r, want;
    struct flow_tuple t;

    st_v1_want(&want);
    cr_assert_eq(flow_decode(st_v1_rec, sizeof st_v1_rec, &r), 0);
    st_rec_eq(&r, &want); /* health invalid, app unknown, no enrichment */
    cr_assert_not(r.health.valid);
    cr_assert_eq(flow_tuple_peek(st_v1_rec, sizeof st_v1_rec, &t), 0);
    cr_assert_arr_eq(t.h[0], want.orig_h, 16);
    cr_assert_arr_eq(t.h[1], want.resp_h, 16);
    cr_assert_eq(t.p[0], 50000);
    cr_assert_eq(t.p[1], 443);

    /* version 1 knows no health or enrichment flag, and has no app byte */
    uint8_t b[sizeof st_v1_rec + 1];
    memcpy(b, st_v1_rec, sizeof st_v1_rec);
    b[1] |= 4;
    cr_assert_eq(flow_decode(b, sizeof st_v1_rec, &r), PT_E_BADFILE);
    memcpy(b, st_v1_rec, sizeof st_v1_rec);
    b[sizeof st_v1_rec] = PT_APP_TLS;
    cr_assert_eq(flow_decode(b, sizeof b, &r), PT_E_BADFILE);
    /* the same bytes as version 2 lack the app byte; with it they decode */
    b[0] = 2;
    cr_assert_eq(flow_decode(b, sizeof st_v1_rec, &r), PT_E_BADFILE);
    cr_assert_eq(flow_decode(b, sizeof b, &r), 0);
    cr_assert_eq(r.app, PT_APP_TLS);
}

Test(store_flowenc, every_prefix_and_a_trailing_byte_are_refused)
{
    static struct pt_flow_record r, got;
    uint8_t buf[FLOW_ENC_MAX + 1];

    for (uint64_t i = 0; i < 40; i++) {
        if (i == 39)
            rec_max(&r);
        else
            st_rec(&r, i, (1700000000ull + i) * NS);
        size_t n = flow_encode(buf, &r, r.ifaces);
        for (size_t k = 0; k < n; k++)
            cr_assert_eq(flow_decode(buf, k, &got), PT_E_BADFILE, "record %llu cut to %zu of %zu",
                         (unsigned long long)i, k, n);
        buf[n] = 0;
        cr_assert_eq(flow_decode(buf, n + 1, &got), PT_E_BADFILE);
        cr_assert_eq(flow_decode(buf, n, &got), 0);
    }
    cr_assert_eq(flow_decode(st_v1_rec, sizeof st_v1_rec - 1, &got), PT_E_BADFILE);
}

/* Encode @r, then find where its app byte is (right after the history). */
static size_t enc_app_at(const struct pt_flow_record *r, uint8_t *buf, size_t *app_at)
{
    struct pt_flow_record bare = *r;
    memset(&bare.health, 0, sizeof bare.health);
    bare.orig_fqdn[0] = bare.resp_fqdn[0] = bare.orig_cc[0] = bare.resp_cc[0] = '\0';
    bare.orig_asn = bare.resp_asn = 0;
    uint8_t tmp[FLOW_ENC_MAX];
    *app_at = flow_encode(tmp, &bare, bare.ifaces) - 1;
    return flow_encode(buf, r, r->ifaces);
}

Test(store_flowenc, malformed_fields_are_refused)
{
    static struct pt_flow_record r, got;
    uint8_t b[FLOW_ENC_MAX];
    size_t n, app;

    memset(&r, 0, sizeof r);
    strcpy(r.uid, "Cx");
    n = flow_encode(b, &r, 0);
    cr_assert_eq(flow_decode(b, n, &got), 0);
    b[0] = 3; /* a version this build does not know */
    cr_assert_eq(flow_decode(b, n, &got), PT_E_BADFILE);
    b[0] = 0;
    cr_assert_eq(flow_decode(b, n, &got), PT_E_BADFILE);
    b[0] = 2;
    b[1] = 0x10; /* an unknown flag */
    cr_assert_eq(flow_decode(b, n, &got), PT_E_BADFILE);
    b[1] = 0;
    cr_assert_eq(flow_decode(NULL, 0, &got), PT_E_BADFILE);
    cr_assert_eq(flow_decode(b, 1, &got), PT_E_BADFILE);

    /* health: one field, ttl[0] = 64 (mask bits 0 and 2) */
    r.health.valid = true;
    r.health.wscale[0] = r.health.wscale[1] = -1;
    r.health.ip_seen[0] = true;
    r.health.ttl[0] = 64;
    n = enc_app_at(&r, b, &app);
    cr_assert_eq(n, app + 1 + 1 + 1);
    cr_assert_eq(b[app + 1], 0x05);
    cr_assert_eq(flow_decode(b, n, &got), 0);
    cr_assert_eq(got.health.ttl[0], 64);
    b[app + 2] = 0; /* a present field holding its default */
    cr_assert_eq(flow_decode(b, n, &got), PT_E_BADFILE);
    cr_assert_not(got.health.valid, "a refused record is zeroed");
    b[app + 2] = 64;
    b[app + 1] = 0x81; /* a mask continued into the TTL (bits 0, 13): mss[0] missing */
    cr_assert_eq(flow_decode(b, n, &got), PT_E_BADFILE);
    /* a mask bit past the last field (bit 29) */
    uint8_t m[] = {0x80 | 0x05, 0x80, 0x80, 0x80, 0x02, 64};
    memcpy(b + app + 1, m, sizeof m);
    cr_assert_eq(flow_decode(b, app + 1 + sizeof m, &got), PT_E_BADFILE);
    m[4] = 0x00; /* the same mask, overlong but in range: fine */
    memcpy(b + app + 1, m, sizeof m);
    cr_assert_eq(flow_decode(b, app + 1 + sizeof m, &got), 0);
    /* an overlong varint of 11 bytes */
    uint8_t ov[12];
    memset(ov, 0x80, 11);
    ov[11] = 0;
    memcpy(b + app + 1, ov, sizeof ov);
    cr_assert_eq(flow_decode(b, app + 1 + sizeof ov, &got), PT_E_BADFILE);

    /* a u16 field past 65535: mss[0] (bit 13) = 65536 */
    memset(&r.health, 0, sizeof r.health);
    r.health.valid = true;
    r.health.wscale[0] = r.health.wscale[1] = -1;
    r.health.mss[0] = 1460;
    n = enc_app_at(&r, b, &app);
    uint8_t mss[] = {0x80, 0x40, 0x80, 0x80, 0x04}; /* mask 1 << 13; 65536 */
    memcpy(b + app + 1, mss, sizeof mss);
    cr_assert_eq(flow_decode(b, app + 1 + sizeof mss, &got), PT_E_BADFILE);
    mss[4] = 0x03; /* 3 << 14 */
    memcpy(b + app + 1, mss, sizeof mss);
    cr_assert_eq(flow_decode(b, app + 1 + sizeof mss, &got), 0);
    cr_assert_eq(got.health.mss[0], 3u << 14);
    /* a time: whole microseconds with a rest of 0, and a rest of 1000 */
    memset(&r.health, 0, sizeof r.health);
    r.health.valid = true;
    r.health.wscale[0] = r.health.wscale[1] = -1;
    r.health.rtt_ns = 1001;
    n = enc_app_at(&r, b, &app);
    uint8_t tm[] = {0x80, 0x08, 0x03, 0x01}; /* mask 1 << 10; us 1 + rest; rest 1 */
    cr_assert_eq(n, app + 1 + sizeof tm);
    cr_assert_arr_eq(b + app + 1, tm, sizeof tm);
    tm[3] = 0;
    memcpy(b + app + 1, tm, sizeof tm);
    cr_assert_eq(flow_decode(b, n, &got), PT_E_BADFILE);
    uint8_t tm2[] = {0x80, 0x08, 0x03, 0xe8, 0x07}; /* rest 1000 */
    memcpy(b + app + 1, tm2, sizeof tm2);
    cr_assert_eq(flow_decode(b, app + 1 + sizeof tm2, &got), PT_E_BADFILE);
    uint8_t tm3[] = {0x80, 0x08, 0x00}; /* 0 us, no rest: the default */
    memcpy(b + app + 1, tm3, sizeof tm3);
    cr_assert_eq(flow_decode(b, app + 1 + sizeof tm3, &got), PT_E_BADFILE);

    /* enrichment: resp_cc "DE" */
    memset(&r.health, 0, sizeof r.health);
    strcpy(r.resp_cc, "DE");
    n = enc_app_at(&r, b, &app);
    uint8_t en[] = {0x08, 2, 'D', 'E'};
    cr_assert_eq(n, app + 1 + sizeof en);
    cr_assert_arr_eq(b + app + 1, en, sizeof en);
    cr_assert_eq(flow_decode(b, n, &got), 0);
    b[app + 1] = 0; /* an empty enrichment mask */
    cr_assert_eq(flow_decode(b, app + 2, &got), PT_E_BADFILE);
    b[app + 1] = 0x48; /* an unknown enrichment bit */
    cr_assert_eq(flow_decode(b, n, &got), PT_E_BADFILE);
    uint8_t cc3[] = {0x08, 3, 'D', 'E', 'U'}; /* longer than the field */
    memcpy(b + app + 1, cc3, sizeof cc3);
    cr_assert_eq(flow_decode(b, app + 1 + sizeof cc3, &got), PT_E_BADFILE);
    uint8_t cc0[] = {0x08, 0}; /* present but empty */
    memcpy(b + app + 1, cc0, sizeof cc0);
    cr_assert_eq(flow_decode(b, app + 1 + sizeof cc0, &got), PT_E_BADFILE);
    uint8_t asn[] = {0x10, 0x80, 0x80, 0x80, 0x80, 0x10}; /* orig_asn 2^32 */
    memcpy(b + app + 1, asn, sizeof asn);
    cr_assert_eq(flow_decode(b, app + 1 + sizeof asn, &got), PT_E_BADFILE);
    uint8_t asn0[] = {0x10, 0x00}; /* orig_asn present but 0 */
    memcpy(b + app + 1, asn0, sizeof asn0);
    cr_assert_eq(flow_decode(b, app + 1 + sizeof asn0, &got), PT_E_BADFILE);
    uint8_t fq[] = {0x01, 9, 'a', 'b'}; /* a length past the end */
    memcpy(b + app + 1, fq, sizeof fq);
    cr_assert_eq(flow_decode(b, app + 1 + sizeof fq, &got), PT_E_BADFILE);

    /* an app number this build does not know reads as unknown */
    memset(r.resp_cc, 0, sizeof r.resp_cc);
    n = enc_app_at(&r, b, &app);
    b[app] = 0x80 | 0x7f;
    cr_assert_eq(flow_decode(b, n, &got), 0);
    cr_assert_eq(got.app, PT_APP_UNKNOWN);
    cr_assert_not(got.app_by_port);
    b[app] = 0x80 | PT_APP_SSH;
    cr_assert_eq(flow_decode(b, n, &got), 0);
    cr_assert_eq(got.app, PT_APP_SSH);
    cr_assert(got.app_by_port);
}

/* Any byte of a record flipped to any value: the decoder never reads
 * outside the record (ASan) and what it accepts re-encodes to itself. */
Test(store_flowenc, flipped_bytes_never_crash)
{
    static struct pt_flow_record r, got, again;
    uint8_t buf[FLOW_ENC_MAX], b2[FLOW_ENC_MAX];
    uint64_t x = 42, accepted = 0, tried = 0;

    for (uint64_t i = 0; i < 12; i++) {
        if (i == 11)
            rec_max(&r);
        else
            st_rec(&r, i * 5, (1700000000ull + i) * NS);
        size_t n = flow_encode(buf, &r, r.ifaces);
        for (size_t k = 0; k < n; k++) {
            for (int j = 0; j < 8; j++) {
                uint8_t *cp = malloc(n); /* exact size, so ASan sees any overread */
                cr_assert_not_null(cp);
                memcpy(cp, buf, n);
                cp[k] = j < 7 ? (uint8_t)(cp[k] ^ (1u << j)) : (uint8_t)st_rand(&x);
                tried++;
                if (flow_decode(cp, n, &got) == 0) {
                    accepted++;
                    size_t n2 = flow_encode(b2, &got, got.ifaces);
                    cr_assert_eq(flow_decode(b2, n2, &again), 0);
                    cr_assert_eq(memcmp(&got, &again, sizeof got), 0, "byte %zu of record %llu", k,
                                 (unsigned long long)i);
                }
                free(cp);
            }
        }
    }
    cr_assert_gt(tried, 10000);
    cr_assert_lt(accepted, tried); /* flips are caught, not all waved through */
}
