/* store_helpers.h - temporary store directories, synthetic records and
 * collectors for the store tests (test code only; included by
 * tests/store/test_*.c). */
#ifndef PT_TEST_STORE_HELPERS_H
#define PT_TEST_STORE_HELPERS_H

#include <criterion/criterion.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lmdb.h>

#include "pt/store.h"

#define NS 1000000000ull

static char st_dir[64];

static inline int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static inline void st_setup(void)
{
    strcpy(st_dir, "/tmp/pt-store-XXXXXX");
    cr_assert_not_null(mkdtemp(st_dir));
}

static inline void st_teardown(void)
{
    if (st_dir[0])
        nftw(st_dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Small, fast config for tests: no fsync. */
static inline struct pt_store_config st_cfg(void)
{
    struct pt_store_config c;
    pt_store_config_default(&c);
    c.nosync = true;
    c.map_size = 1ull << 20;
    c.map_max = 256ull << 20;
    return c;
}

static inline struct pt_store *st_open_w(const struct pt_store_config *cfg)
{
    char msg[256] = "";
    int err = 0;
    struct pt_store *s = pt_store_open(st_dir, cfg, false, &err, msg, sizeof msg);
    cr_assert_not_null(s, "writer open: %s (%s)", msg, pt_strerror(err));
    return s;
}

static inline struct pt_store *st_open_r(void)
{
    char msg[256] = "";
    int err = 0;
    struct pt_store *s = pt_store_open(st_dir, NULL, true, &err, msg, sizeof msg);
    cr_assert_not_null(s, "reader open: %s (%s)", msg, pt_strerror(err));
    return s;
}

static inline uint32_t st_sid(struct pt_store *s, const char *name)
{
    uint32_t id = 0;
    cr_assert_eq(pt_store_series_id(s, name, &id), 0, "series_id %s", name);
    return id;
}

/* Deterministic 64-bit generator (splitmix64). */
static inline uint64_t st_rand(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static inline void st_v4(uint8_t a[16], uint32_t ip)
{
    memset(a, 0, 16);
    a[10] = a[11] = 0xff;
    a[12] = (uint8_t)(ip >> 24);
    a[13] = (uint8_t)(ip >> 16);
    a[14] = (uint8_t)(ip >> 8);
    a[15] = (uint8_t)ip;
}

static inline void st_v6(uint8_t a[16], uint32_t low)
{
    memset(a, 0, 16);
    a[0] = 0x20;
    a[1] = 0x01;
    a[2] = 0x0d;
    a[3] = 0xb8;
    a[12] = (uint8_t)(low >> 24);
    a[13] = (uint8_t)(low >> 16);
    a[14] = (uint8_t)(low >> 8);
    a[15] = (uint8_t)low;
}

/* The fields encoding version 2 added (health, app, enrichment), from @i:
 * most records have a valid health, TCP ones with counters and RTTs;
 * every third one is enriched. */
static inline void st_rec_v2(struct pt_flow_record *r, uint64_t i, uint64_t *x)
{
    struct pt_flow_health *h = &r->health;

    r->app = (uint8_t)(i % PT_APP_MAX);
    r->app_by_port = i % 4 == 1;
    if (i % 7 != 6) {
        h->valid = true;
        h->tcp = r->proto == 6;
        for (int d = 0; d < 2; d++) {
            h->ip_seen[d] = i % 5 != 2 || d == 0;
            h->ttl[d] = h->ip_seen[d] ? (uint8_t)(64 - d * 7 + i % 3) : 0;
            h->dscp[d] = (uint8_t)(i % 9 == 0 ? 46 : 0);
            h->wscale[d] = -1;
            if (!h->tcp)
                continue;
            h->tcp_seen[d] = true;
            h->mss[d] = (uint16_t)(1460 - d * 20);
            h->init_win[d] = (uint16_t)(st_rand(x) % 65536);
            h->wscale[d] = (int8_t)(i % 3 == 0 ? -1 : (int)(i % 15));
            h->retrans[d] = i % 4 == (uint64_t)d ? (uint32_t)(st_rand(x) % 100000) : 0;
            h->ooo[d] = (uint16_t)(i % 5 == 0 ? 3 + d : 0);
            h->dup_acks[d] = (uint32_t)(i % 6 == 0 ? 70000 : 0);
            h->lost[d] = (uint16_t)(i % 8 == 0 ? 1 : 0);
            h->zero_win[d] = (uint16_t)(i % 10 == 0 ? 65535 : 0);
        }
        if (h->tcp && i % 3) {
            h->rtt_valid = PT_TCPH_HS_RTT | (i % 3 == 1 ? PT_TCPH_HS_SYNACK : 0);
            h->rtt_ns = (st_rand(x) % 2000000) * 1000;
            if (h->rtt_valid & PT_TCPH_HS_SYNACK) {
                h->synack_ack_ns = h->rtt_ns / 3 / 1000 * 1000;
                h->syn_synack_ns = h->rtt_ns - h->synack_ack_ns;
            }
        }
    }
    if (i % 3 == 0) {
        snprintf(r->resp_fqdn, sizeof r->resp_fqdn, "host%llu.example.org",
                 (unsigned long long)(i % 97));
        snprintf(r->resp_cc, sizeof r->resp_cc, "%s", i % 2 ? "DE" : "US");
        r->resp_asn = (uint32_t)(i % 2 ? 3320 : 4200000000u);
        if (i % 9 == 0) {
            snprintf(r->orig_fqdn, sizeof r->orig_fqdn, "client.lan");
            r->orig_asn = 64512;
        }
    }
    if (r->proto == 17 && i % 5 == 3) { /* RTP: one direction with a clock, one without */
        r->rtp[0] = (struct pt_rtp_result){.seen = true,
                                           .jitter = true,
                                           .jitter_ns = st_rand(x) % 50000000,
                                           .max_jitter_ns = 90000000,
                                           .lost = 3,
                                           .ssrcs = 1};
        if (i % 2)
            r->rtp[1] = (struct pt_rtp_result){.seen = true, .lost = -2, .ssrcs = 2};
    }
}

/* A record with every field set from @i (distinct uids), ending at @end_ns.
 * Odd @i: IPv6. Hosts come from a pool of 50 so queries match several. */
static inline void st_rec(struct pt_flow_record *r, uint64_t i, uint64_t end_ns)
{
    uint64_t x = i * 7919 + 1;

    memset(r, 0, sizeof *r);
    r->last_ns = end_ns;
    r->ts_ns = end_ns - (st_rand(&x) % (300 * NS));
    snprintf(r->uid, sizeof r->uid, "C%llu", (unsigned long long)(i * 1000003ull + 17));
    snprintf(r->community_id, sizeof r->community_id,
             "1:abcdefghijklmnopqrstuvwxyz%02u=", (unsigned)(i % 100));
    if (i % 5 == 0)
        snprintf(r->parent_uid, sizeof r->parent_uid, "Cparent%llu", (unsigned long long)i);
    if (i & 1) {
        st_v6(r->orig_h, (uint32_t)(i % 50));
        st_v6(r->resp_h, (uint32_t)(1000 + i % 7));
        r->ver = 6;
    } else {
        st_v4(r->orig_h, 0x0a000000u + (uint32_t)(i % 50));
        st_v4(r->resp_h, 0xc0a80000u + (uint32_t)(i % 7));
        r->ver = 4;
    }
    r->orig_p = (uint16_t)(1024 + i % 40000);
    r->resp_p = (uint16_t)(i % 3 == 0 ? 443 : i % 3 == 1 ? 53 : 80);
    r->proto = i % 3 == 1 ? 17 : 6;
    r->icmp_type = (uint8_t)(i % 7);
    r->icmp_code = (uint8_t)(i % 11);
    r->vlan = i % 4 ? (uint16_t)(i % 4095) : 0xffff;
    r->inner_vlan = i % 8 == 3 ? 42 : 0xffff;
    r->orig_bytes = st_rand(&x) % 100000;
    r->resp_bytes = i % 13 == 0 ? UINT64_MAX : st_rand(&x);
    r->orig_pkts = st_rand(&x) % 1000;
    r->resp_pkts = st_rand(&x) % 1000;
    r->orig_ip_bytes = st_rand(&x) % 10000000;
    r->resp_ip_bytes = st_rand(&x) % 10000000;
    r->missed_bytes = i % 9 == 0 ? 12345 : 0;
    snprintf(r->conn_state, sizeof r->conn_state, "%s", i % 2 ? "SF" : "RSTOS0");
    snprintf(r->history, sizeof r->history, "%s", i % 3 ? "ShADadFf" : "ShADadttttttttttFfRrrrr");
    r->orig_tcp_flags = (uint8_t)(i * 3);
    r->resp_tcp_flags = (uint8_t)(i * 5);
    r->ifaces = 1u << (i % 3);
    if (i % 4) {
        for (int k = 0; k < 6; k++) {
            r->orig_mac[k] = (uint8_t)(i + k);
            r->resp_mac[k] = (uint8_t)(i * 2 + k);
        }
    }
    r->end_reason = (uint8_t)(i % 5);
    st_rec_v2(r, i, &x);
}

/* The brute-force filter a query is checked against: @t is the record's
 * time the store selects by (end for flows, start for live flows). */
static inline bool st_match(const struct pt_flow_record *r, const struct pt_store_flow_query *q,
                            uint64_t t)
{
    if (t < q->from_ns || (q->to_ns && t >= q->to_ns))
        return false;
    if (q->by_host && memcmp(r->orig_h, q->host, 16) && memcmp(r->resp_h, q->host, 16))
        return false;
    if (q->by_port && r->orig_p != q->port && r->resp_p != q->port)
        return false;
    if (q->uid && strcmp(r->uid, q->uid))
        return false;
    return true;
}

/* Version 1, as builds before encoding version 2 wrote it (docs/STORE.md):
 * an IPv4 TCP record with MACs. */
static const uint8_t st_v1_rec[] = {
    1,    3,    4,    6,                            /* version, flags (addr4 | MACs), ver, proto */
    10,   0,    0,    1,    192,  168,  1,    2,    /* orig_h, resp_h */
    0xc3, 0x50, 0x01, 0xbb,                         /* ports 50000, 443 */
    0x17, 0x97, 0x9c, 0xfe, 0x3d, 0x85, 0xcd, 0x15, /* ts 1700000000123456789 */
    0x80, 0xe4, 0x97, 0xd0, 0x12,                   /* zigzag(2.5 s) */
    0,    0,    0xff, 0xff, 0xff, 0xff,             /* icmp type, code; no VLANs */
    0xe8, 0x07, 0xc0, 0x96, 0xb1, 0x02, 0x0a, 0x0c, /* bytes 1000, 5000000; pkts 10, 12 */
    0xf0, 0x0b, 0xb0, 0x9b, 0xb1, 0x02, 0x00,       /* ip bytes 1520, 5000624; missed 0 */
    0x1b, 0x1f, 0x01, 1,                            /* tcp flags; ifaces bit 0; CLOSED */
    0,    0x11, 0x22, 0x33, 0x44, 0x55,             /* orig_mac */
    0x02, 0x42, 0xac, 0x11, 0x00, 0x02,             /* resp_mac */
    7,    'C',  'A',  'b',  'c',  '1',  '2',  '3',  /* uid */
    6,    '1',  ':',  'x',  'y',  'z',  '=',        /* community_id */
    0,                                              /* parent_uid */
    2,    'S',  'F',                                /* conn_state */
    8,    'S',  'h',  'A',  'D',  'a',  'd',  'F',  'f'}; /* history */

/* The record st_v1_rec holds. */
static inline void st_v1_want(struct pt_flow_record *r)
{
    memset(r, 0, sizeof *r);
    r->ver = 4;
    r->proto = 6;
    st_v4(r->orig_h, 0x0a000001);
    st_v4(r->resp_h, 0xc0a80102);
    r->orig_p = 50000;
    r->resp_p = 443;
    r->ts_ns = 1700000000123456789ull;
    r->last_ns = r->ts_ns + 2500000000ull;
    r->vlan = r->inner_vlan = 0xffff;
    r->orig_bytes = 1000;
    r->resp_bytes = 5000000;
    r->orig_pkts = 10;
    r->resp_pkts = 12;
    r->orig_ip_bytes = 1520;
    r->resp_ip_bytes = 5000624;
    r->orig_tcp_flags = 0x1b;
    r->resp_tcp_flags = 0x1f;
    r->ifaces = 1;
    r->end_reason = PT_FLOW_END_CLOSED;
    memcpy(r->orig_mac, (const uint8_t[]){0, 0x11, 0x22, 0x33, 0x44, 0x55}, 6);
    memcpy(r->resp_mac, (const uint8_t[]){0x02, 0x42, 0xac, 0x11, 0x00, 0x02}, 6);
    strcpy(r->uid, "CAbc123");
    strcpy(r->community_id, "1:xyz=");
    strcpy(r->conn_state, "SF");
    strcpy(r->history, "ShADadFf");
}

static inline void st_health_eq(const struct pt_flow_health *a, const struct pt_flow_health *b,
                                const char *uid)
{
    cr_assert_eq(a->valid, b->valid, "%s health.valid", uid);
    cr_assert_eq(a->tcp, b->tcp, "%s health.tcp", uid);
    cr_assert_eq(a->rtt_valid, b->rtt_valid, "%s rtt_valid", uid);
    cr_assert_eq(a->rtt_ns, b->rtt_ns, "%s rtt_ns", uid);
    cr_assert_eq(a->syn_synack_ns, b->syn_synack_ns, "%s syn_synack_ns", uid);
    cr_assert_eq(a->synack_ack_ns, b->synack_ack_ns, "%s synack_ack_ns", uid);
    for (int d = 0; d < 2; d++) {
        cr_assert_eq(a->retrans[d], b->retrans[d], "%s retrans[%d]", uid, d);
        cr_assert_eq(a->ooo[d], b->ooo[d], "%s ooo[%d]", uid, d);
        cr_assert_eq(a->dup_acks[d], b->dup_acks[d], "%s dup_acks[%d]", uid, d);
        cr_assert_eq(a->lost[d], b->lost[d], "%s lost[%d]", uid, d);
        cr_assert_eq(a->zero_win[d], b->zero_win[d], "%s zero_win[%d]", uid, d);
        cr_assert_eq(a->mss[d], b->mss[d], "%s mss[%d]", uid, d);
        cr_assert_eq(a->init_win[d], b->init_win[d], "%s init_win[%d]", uid, d);
        cr_assert_eq(a->wscale[d], b->wscale[d], "%s wscale[%d]", uid, d);
        cr_assert_eq(a->tcp_seen[d], b->tcp_seen[d], "%s tcp_seen[%d]", uid, d);
        cr_assert_eq(a->ip_seen[d], b->ip_seen[d], "%s ip_seen[%d]", uid, d);
        cr_assert_eq(a->ttl[d], b->ttl[d], "%s ttl[%d]", uid, d);
        cr_assert_eq(a->dscp[d], b->dscp[d], "%s dscp[%d]", uid, d);
    }
}

/* Field-by-field equality, with a message naming the first difference. */
static inline void st_rec_eq(const struct pt_flow_record *a, const struct pt_flow_record *b)
{
    cr_assert_eq(a->ts_ns, b->ts_ns, "%s ts_ns", b->uid);
    cr_assert_eq(a->last_ns, b->last_ns, "%s last_ns", b->uid);
    cr_assert_str_eq(a->uid, b->uid);
    cr_assert_str_eq(a->community_id, b->community_id);
    cr_assert_str_eq(a->parent_uid, b->parent_uid);
    cr_assert_arr_eq(a->orig_h, b->orig_h, 16, "%s orig_h", b->uid);
    cr_assert_arr_eq(a->resp_h, b->resp_h, 16, "%s resp_h", b->uid);
    cr_assert_eq(a->orig_p, b->orig_p);
    cr_assert_eq(a->resp_p, b->resp_p);
    cr_assert_eq(a->proto, b->proto);
    cr_assert_eq(a->ver, b->ver);
    cr_assert_eq(a->icmp_type, b->icmp_type);
    cr_assert_eq(a->icmp_code, b->icmp_code);
    cr_assert_eq(a->vlan, b->vlan);
    cr_assert_eq(a->inner_vlan, b->inner_vlan);
    cr_assert_eq(a->orig_bytes, b->orig_bytes);
    cr_assert_eq(a->resp_bytes, b->resp_bytes);
    cr_assert_eq(a->orig_pkts, b->orig_pkts);
    cr_assert_eq(a->resp_pkts, b->resp_pkts);
    cr_assert_eq(a->orig_ip_bytes, b->orig_ip_bytes);
    cr_assert_eq(a->resp_ip_bytes, b->resp_ip_bytes);
    cr_assert_eq(a->missed_bytes, b->missed_bytes);
    cr_assert_str_eq(a->conn_state, b->conn_state);
    cr_assert_str_eq(a->history, b->history);
    cr_assert_eq(a->orig_tcp_flags, b->orig_tcp_flags);
    cr_assert_eq(a->resp_tcp_flags, b->resp_tcp_flags);
    cr_assert_eq(a->ifaces, b->ifaces, "%s ifaces %#x != %#x", b->uid, a->ifaces, b->ifaces);
    cr_assert_arr_eq(a->orig_mac, b->orig_mac, 6);
    cr_assert_arr_eq(a->resp_mac, b->resp_mac, 6);
    cr_assert_eq(a->end_reason, b->end_reason);
    st_health_eq(&a->health, &b->health, b->uid);
    cr_assert_eq(a->app, b->app, "%s app", b->uid);
    cr_assert_eq(a->app_by_port, b->app_by_port, "%s app_by_port", b->uid);
    cr_assert_str_eq(a->orig_fqdn, b->orig_fqdn);
    cr_assert_str_eq(a->resp_fqdn, b->resp_fqdn);
    cr_assert_str_eq(a->orig_cc, b->orig_cc);
    cr_assert_str_eq(a->resp_cc, b->resp_cc);
    cr_assert_eq(a->orig_asn, b->orig_asn, "%s orig_asn", b->uid);
    cr_assert_eq(a->resp_asn, b->resp_asn, "%s resp_asn", b->uid);
    cr_assert_eq(memcmp(a, b, sizeof *a), 0, "%s: records differ in padding or after a NUL",
                 b->uid);
}

/* Collects read records (malloc'd array). */
struct st_recs {
    struct pt_flow_record *r;
    size_t n, cap;
};

static inline int st_recs_add(const struct pt_flow_record *rec, void *arg)
{
    struct st_recs *c = arg;
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 64;
        c->r = realloc(c->r, c->cap * sizeof *c->r);
        cr_assert_not_null(c->r);
    }
    c->r[c->n++] = *rec;
    return 0;
}

/* Collects read series values. */
struct st_vals {
    struct pt_store_value v[8192];
    size_t n;
};

static inline int st_vals_add(const struct pt_store_value *v, void *arg)
{
    struct st_vals *c = arg;
    cr_assert_lt(c->n, PT_ARRAY_LEN(c->v));
    c->v[c->n++] = *v;
    return 0;
}

/* The 1 s value of series @id at @sec: true when stored. */
static inline bool st_point(struct pt_store *s, uint32_t id, uint64_t sec, uint64_t *v)
{
    static struct st_vals c;
    c.n = 0;
    cr_assert_eq(pt_store_series_read(s, id, PT_RES_1S, sec, sec + 1, st_vals_add, &c), 0);
    if (c.n)
        *v = c.v[0].sum;
    return c.n == 1;
}

static inline size_t st_count_flows(struct pt_store *s, const struct pt_store_flow_query *q)
{
    struct st_recs c = {0};
    cr_assert_eq(pt_store_flows_read(s, q, st_recs_add, &c), 0);
    free(c.r);
    return c.n;
}

/* Entries of database @db of the store in st_dir, read with raw LMDB (the
 * store must be closed in this process). */
static inline size_t st_raw_entries(const char *db)
{
    char path[128];
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_stat ms;

    snprintf(path, sizeof path, "%s/store", st_dir);
    cr_assert_eq(mdb_env_create(&env), 0);
    cr_assert_eq(mdb_env_set_maxdbs(env, 16), 0);
    cr_assert_eq(mdb_env_open(env, path, MDB_RDONLY, 0644), 0);
    cr_assert_eq(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
    cr_assert_eq(mdb_dbi_open(txn, db, 0, &dbi), 0, "db %s", db);
    cr_assert_eq(mdb_stat(txn, dbi, &ms), 0);
    mdb_txn_abort(txn);
    mdb_env_close(env);
    return ms.ms_entries;
}

/* The index databases hold exactly two keys per record (the records of
 * st_rec() have distinct endpoints and ports). */
static inline void st_check_indexes(void)
{
    size_t n = st_raw_entries("flows");
    cr_assert_eq(st_raw_entries("flow_host"), 2 * n, "flow_host keys for %zu records", n);
    cr_assert_eq(st_raw_entries("flow_port"), 2 * n, "flow_port keys for %zu records", n);
}

#endif
