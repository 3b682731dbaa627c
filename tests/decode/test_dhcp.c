/* test_dhcp.c - DHCP parser and dhcp.log aggregation against reference answers.
 *
 * DESIGN: the DHCP messages of a shared capture are its UDP datagrams on port 67 or 68
 * (tests/support/streams.h, each payload in an exactly-sized buffer so ASan sees any
 * over-read), taken in frame order. Checks:
 *   1. dhcp_tshark/<capture>  every message field by field against tshark
 *      (tests/expected/<cat>/<file>.dhcp.tsv, tests/tools/gen-expected-dhcp.sh);
 *   2. dhcp_zeek/<capture>    the aggregation (Zeek's timing) against the Zeek dhcp.log shipped
 *      with the capture, every field, uids mapped through Zeek's conn.log where shipped;
 *   3. dhcp_arkime, dhcp_tcpdump  the Arkime session JSON and `tcpdump -v` answers;
 *   4. dhcp_malformed/..., dhcp_agg/...  crafted input: short, lying lengths, overload,
 *      long strings, table limits and timing. */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pt/dhcp.h"
#include "support/streams.h"
#include "support/support.h"

/* ------------------------------------------------------------ capture messages */

struct dm {
    uint32_t frame;
    uint64_t ts;
    size_t conn;
    uint8_t src[4], dst[4];
    const uint8_t *data;
    uint32_t len;
};

static int dm_cmp(const void *a, const void *b)
{
    const struct dm *x = a, *y = b;

    return x->frame < y->frame ? -1 : x->frame > y->frame;
}

static bool dhcp_port(uint16_t p)
{
    return p == 67 || p == 68;
}

/* The DHCP datagrams of @c in frame order; caller frees. */
static struct dm *dhcp_msgs(const struct pt_test_conns *c, size_t *n)
{
    struct dm *v = NULL;
    size_t cap = 0;

    *n = 0;
    for (size_t i = 0; i < c->n; i++) {
        const struct pt_test_conn *k = &c->conn[i];

        if (k->proto != 17 || k->ver != 4 || !(dhcp_port(k->port[0]) || dhcp_port(k->port[1])))
            continue;
        for (unsigned d = 0; d < 2; d++)
            for (size_t s = 0; s < k->n_seg[d]; s++) {
                if (*n == cap) {
                    cap = cap ? 2 * cap : 16;
                    v = realloc(v, cap * sizeof *v);
                    cr_assert_not_null(v);
                }
                v[*n] = (struct dm){.frame = k->seg[d][s].frame,
                                    .ts = k->seg[d][s].ts_ns,
                                    .conn = i,
                                    .data = k->seg[d][s].data,
                                    .len = k->seg[d][s].len};
                memcpy(v[*n].src, k->addr[d] + 12, 4);
                memcpy(v[*n].dst, k->addr[!d] + 12, 4);
                (*n)++;
            }
    }
    qsort(v, *n, sizeof *v, dm_cmp);
    return v;
}

/* ------------------------------------------------------------ text helpers */

#define MAX_FIELDS 24
#define MAX_ROWS   64

struct tsv {
    char *buf;
    size_t n;
    char *f[MAX_ROWS][MAX_FIELDS];
    size_t nf[MAX_ROWS];
};

static size_t split(char *s, char sep, char **out, size_t max)
{
    size_t n = 0;

    while (n < max) {
        char *e = strchr(s, sep);

        out[n++] = s;
        if (!e)
            break;
        *e = '\0';
        s = e + 1;
    }
    return n;
}

/* Rows of a file of tab-separated lines; '#' lines skipped. */
static void tsv_load(struct tsv *t, const char *path)
{
    char *line, *save = NULL;

    memset(t, 0, sizeof *t);
    t->buf = pt_test_slurp(path, NULL);
    cr_assert_not_null(t->buf, "cannot read %s", path);
    for (line = strtok_r(t->buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (line[0] == '#')
            continue;
        cr_assert_lt(t->n, MAX_ROWS);
        t->nf[t->n] = split(line, '\t', t->f[t->n], MAX_FIELDS);
        t->n++;
    }
}

static const char *ip_s(const uint8_t a[4], char *b)
{
    sprintf(b, "%u.%u.%u.%u", a[0], a[1], a[2], a[3]);
    return b;
}

static const char *mac_s(const uint8_t m[6], char *b)
{
    sprintf(b, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
    return b;
}

static void cat(char *b, size_t sz, const char *s)
{
    size_t l = strlen(b);

    snprintf(b + l, sz - l, "%s%s", l ? "," : "", s);
}

/* ------------------------------------------------------------ 1. tshark */

/* Our value of tshark column @col for @m, as tshark prints it ("" = absent). */
static void field(const struct pt_dhcp_msg *m, int col, char *o, size_t sz)
{
    char b[32];

    o[0] = '\0';
    switch (col) {
    case 1:
        snprintf(o, sz, "%u", m->op);
        break;
    case 2:
        snprintf(o, sz, "0x%08x", m->xid);
        break;
    case 3:
        if (m->has & PT_DHCP_HAS_MAC)
            cat(o, sz, mac_s(m->mac, b));
        if ((m->has & PT_DHCP_HAS_CLIENT_ID) && m->client_id.len == 7 && m->client_id.s[0] == 1)
            cat(o, sz, mac_s((const uint8_t *)m->client_id.s + 1, b));
        break;
    case 4:
        if (m->has & PT_DHCP_HAS_TYPE)
            snprintf(o, sz, "%u", m->type);
        break;
    case 5:
        if (m->has & PT_DHCP_HAS_HOST_NAME)
            snprintf(o, sz, "%s", m->host_name.s);
        break;
    case 6:
        if (m->has & PT_DHCP_HAS_REQ_ADDR)
            snprintf(o, sz, "%s", ip_s(m->requested_addr, b));
        break;
    case 7:
        snprintf(o, sz, "%s", ip_s(m->yiaddr, b));
        break;
    case 8:
        if (m->has & PT_DHCP_HAS_SERVER_ID)
            snprintf(o, sz, "%s", ip_s(m->server_id, b));
        break;
    case 9:
        if (m->has & PT_DHCP_HAS_LEASE)
            snprintf(o, sz, "%u", m->lease_time);
        break;
    case 10:
        for (unsigned i = 0; i < m->n_routers; i++)
            cat(o, sz, ip_s(m->routers[i], b));
        break;
    case 11:
        for (unsigned i = 0; i < m->n_dns; i++)
            cat(o, sz, ip_s(m->dns[i], b));
        break;
    case 12:
        if (m->has & PT_DHCP_HAS_VENDOR)
            snprintf(o, sz, "%s", m->vendor_class.s);
        break;
    case 13:
        for (unsigned i = 0; i < m->prl_len; i++) {
            snprintf(b, sizeof b, "%u", m->prl[i]);
            cat(o, sz, b);
        }
        break;
    case 14:
        if (m->has & PT_DHCP_HAS_FQDN)
            snprintf(o, sz, "%s", m->client_fqdn.s);
        break;
    case 15:
        if (m->has & PT_DHCP_HAS_DOMAIN)
            snprintf(o, sz, "%s", m->domain.s);
        break;
    case 16:
        if (m->has & PT_DHCP_HAS_MESSAGE)
            snprintf(o, sz, "%s", m->message.s);
        break;
    case 17:
        if (m->has & PT_DHCP_HAS_OVERLOAD)
            snprintf(o, sz, "%u", m->overload);
        break;
    case 18:
        snprintf(o, sz, "%s", ip_s(m->ciaddr, b));
        break;
    }
}

static const char *const colname[] = {
    "frame",  "op",     "xid",     "mac",      "msg_type", "host_name", "requested",
    "yiaddr", "srv_id", "lease",   "routers",  "dns",      "vendor",    "prl",
    "fqdn",   "domain", "message", "overload", "ciaddr",
};

/* Compare every message of @rel with tshark's. Returns the messages parsed. */
static int tshark_check(const char *rel, struct pt_dhcp_stats *st)
{
    char path[512], ours[1024];
    struct pt_test_conns c;
    struct tsv t;
    struct dm *v;
    size_t n, row = 0;
    int parsed = 0;

    snprintf(path, sizeof path, "tests/expected/%s.dhcp.tsv", rel);
    tsv_load(&t, pt_test_src(path));
    snprintf(path, sizeof path, "pcap/%s", rel);
    pt_test_conns_load(&c, path);
    v = dhcp_msgs(&c, &n);
    cr_assert_gt(t.n, 0, "%s: no tshark rows", rel);
    for (size_t i = 0; i < n; i++) {
        struct pt_dhcp_msg m;
        bool ok = pt_dhcp_parse(&m, v[i].data, v[i].len, st);

        /* tshark shows every datagram on 67/68 as DHCP, so rows and datagrams pair up */
        cr_assert_lt(row, t.n, "%s: frame %u has no tshark row", rel, v[i].frame);
        cr_assert_eq(strtoul(t.f[row][0], NULL, 10), v[i].frame, "%s: row %zu is frame %s not %u",
                     rel, row, t.f[row][0], v[i].frame);
        cr_assert_eq(t.nf[row], 19, "%s: frame %u: %zu columns", rel, v[i].frame, t.nf[row]);
        if (!t.f[row][1][0]) {
            cr_expect(!ok, "%s: frame %u: tshark could not dissect it, we did", rel, v[i].frame);
            row++;
            continue;
        }
        cr_assert(ok, "%s: frame %u: not parsed", rel, v[i].frame);
        parsed++;
        for (int col = 1; col < 19; col++) {
            field(&m, col, ours, sizeof ours);
            cr_expect_str_eq(ours, t.f[row][col], "%s: frame %u %s: ours '%s' tshark '%s'", rel,
                             v[i].frame, colname[col], ours, t.f[row][col]);
        }
        row++;
    }
    cr_expect_eq(row, t.n, "%s: %zu tshark rows, %zu datagrams", rel, t.n, row);
    free(v);
    pt_test_conns_free(&c);
    free(t.buf);
    return parsed;
}

Test(dhcp_tshark, arkime_wireshark_dhcp)
{
    struct pt_dhcp_stats st = {0};

    cr_expect_eq(tshark_check("dhcp/arkime_wireshark-dhcp.pcap", &st), 4);
    cr_expect_eq(st.msgs, 4);
}

Test(dhcp_tshark, tcpdump_rfc3004)
{
    struct pt_dhcp_stats st = {0};

    cr_expect_eq(tshark_check("dhcp/tcpdump_dhcp-rfc3004.pcap", &st), 4);
}

Test(dhcp_tshark, zeek_dhcp)
{
    struct pt_dhcp_stats st = {0};

    cr_expect_eq(tshark_check("dhcp/zeek_dhcp.pcap", &st), 9);
    for (unsigned e = 1; e < PT_DHCP_ERR_MAX; e++)
        cr_expect_eq(st.err[e], 0, "%s counted on a clean capture", pt_dhcp_err_name(e));
}

Test(dhcp_tshark, zeek_discover_param_req)
{
    struct pt_dhcp_stats st = {0};

    cr_expect_eq(tshark_check("dhcp/zeek_dhcp_discover_param_req_and_client_id.pcap", &st), 1);
}

Test(dhcp_tshark, ndpi_1kxun)
{
    struct pt_dhcp_stats st = {0};

    cr_expect_eq(tshark_check("mixed/ndpi_1kxun.pcap", &st), 24);
}

Test(dhcp_tshark, ndpi_dhcp_fuzz)
{
    struct pt_dhcp_stats st = {0};

    cr_expect_eq(tshark_check("malformed/ndpi_dhcp-fuzz.pcapng", &st), 1);
    cr_expect_eq(st.err[PT_DHCP_E_BAD_TYPE], 1, "message type 106 is not counted");
}

Test(dhcp_tshark, tcpdump_bootp_asan)
{
    struct pt_dhcp_stats st = {0};

    cr_expect_eq(tshark_check("malformed/tcpdump_bootp_asan.pcap", &st), 0);
    cr_expect_eq(st.err[PT_DHCP_E_TRUNC], 1, "the cut-short BOOTP header is not counted");
}

/* ------------------------------------------------------------ 2. Zeek dhcp.log */

#define MAX_RECS 40

struct sink {
    struct pt_dhcp_rec r[MAX_RECS];
    size_t n;
};

static void sink_emit(const struct pt_dhcp_rec *r, void *arg)
{
    struct sink *s = arg;

    cr_assert_lt(s->n, MAX_RECS);
    s->r[s->n++] = *r;
}

/* Feed every DHCP message of @c through an aggregator with @cfg. */
static void agg_run(const struct pt_test_conns *c, const struct pt_dhcp_agg_config *cfg,
                    struct sink *s, struct pt_dhcp_stats *st)
{
    static struct pt_dhcp_agg a; /* 27 KB: off the stack */
    struct dm *v;
    size_t n;

    pt_dhcp_agg_init(&a, cfg, sink_emit, s, st);
    v = dhcp_msgs(c, &n);
    for (size_t i = 0; i < n; i++) {
        struct pt_dhcp_msg m;

        if (pt_dhcp_parse(&m, v[i].data, v[i].len, st))
            pt_dhcp_agg_add(&a, &m, v[i].src, v[i].dst, v[i].ts, v[i].conn);
    }
    pt_dhcp_agg_flush(&a);
    free(v);
}

static void opt_s(char *o, size_t sz, bool have, const char *v)
{
    snprintf(o, sz, "%s", have ? v : "-");
}

/* Our record as Zeek prints column @col (2..14; 1 = uids handled apart). */
static void zfield(const struct pt_dhcp_rec *r, int col, char *o, size_t sz)
{
    char b[32];

    switch (col) {
    case 2:
        opt_s(o, sz, r->has & PT_DHCP_REC_CLIENT_ADDR, ip_s(r->client_addr, b));
        break;
    case 3:
        opt_s(o, sz, r->has & PT_DHCP_REC_SERVER_ADDR, ip_s(r->server_addr, b));
        break;
    case 4:
        opt_s(o, sz, r->has & PT_DHCP_REC_MAC, mac_s(r->mac, b));
        break;
    case 5:
        opt_s(o, sz, r->has & PT_DHCP_REC_HOST_NAME, r->host_name.s);
        break;
    case 6:
        opt_s(o, sz, r->has & PT_DHCP_REC_FQDN, r->client_fqdn.s);
        break;
    case 7:
        opt_s(o, sz, r->has & PT_DHCP_REC_DOMAIN, r->domain.s);
        break;
    case 8:
        opt_s(o, sz, r->has & PT_DHCP_REC_REQ_ADDR, ip_s(r->requested_addr, b));
        break;
    case 9:
        opt_s(o, sz, r->has & PT_DHCP_REC_ASSIGNED, ip_s(r->assigned_addr, b));
        break;
    case 10:
        snprintf(b, sizeof b, "%u.000000", r->lease_time);
        opt_s(o, sz, r->has & PT_DHCP_REC_LEASE, b);
        break;
    case 11:
        opt_s(o, sz, r->has & PT_DHCP_REC_CLIENT_MSG, r->client_message.s);
        break;
    case 12:
        opt_s(o, sz, r->has & PT_DHCP_REC_SERVER_MSG, r->server_message.s);
        break;
    case 13:
        o[0] = '\0';
        for (unsigned i = 0; i < r->n_types; i++) {
            const char *nm = pt_dhcp_type_name(r->msg_types[i]);

            cat(o, sz, nm ? nm : "?");
        }
        break;
    case 14:
        snprintf(o, sz, "%llu.%06llu", (unsigned long long)(r->duration_ns / 1000000000u),
                 (unsigned long long)(r->duration_ns % 1000000000u / 1000u));
        break;
    }
}

static const char *const zname[] = {
    "ts",         "uids",           "client_addr",    "server_addr",    "mac",
    "host_name",  "client_fqdn",    "domain",         "requested_addr", "assigned_addr",
    "lease_time", "client_message", "server_message", "msg_types",      "duration",
};

/* Zeek's uid of connection @k, from conn.log rows @cl (either direction). */
static const char *zeek_uid(const struct tsv *cl, const struct pt_test_conn *k)
{
    char a[2][32];

    ip_s(k->addr[0] + 12, a[0]);
    ip_s(k->addr[1] + 12, a[1]);
    for (size_t i = 0; i < cl->n; i++)
        for (unsigned d = 0; d < 2; d++)
            if (!strcmp(cl->f[i][2], a[d]) && atoi(cl->f[i][3]) == k->port[d] &&
                !strcmp(cl->f[i][4], a[!d]) && atoi(cl->f[i][5]) == k->port[!d])
                return cl->f[i][1];
    return NULL;
}

static void zeek_check(const char *stem, bool with_conn)
{
    char path[512], ours[512];
    struct pt_test_conns c;
    struct pt_dhcp_stats st = {0};
    static struct sink s;
    struct tsv z, cl;

    snprintf(path, sizeof path, "pcap/dhcp/%s.zeek-dhcp.log", stem);
    tsv_load(&z, pt_test_data(path));
    if (with_conn) {
        snprintf(path, sizeof path, "pcap/dhcp/%s.zeek-conn.log", stem);
        tsv_load(&cl, pt_test_data(path));
    }
    snprintf(path, sizeof path, "pcap/dhcp/%s.pcap", stem);
    pt_test_conns_load(&c, path);
    memset(&s, 0, sizeof s);
    agg_run(&c, &PT_DHCP_AGG_ZEEK, &s, &st);
    cr_assert_eq(s.n, z.n, "%s: %zu records, Zeek has %zu", stem, s.n, z.n);
    cr_expect_eq(st.records, s.n);
    for (size_t i = 0; i < s.n; i++) {
        const struct pt_dhcp_rec *r = &s.r[i];
        char *zu[PT_DHCP_AGG_MAX_UIDS + 1];
        size_t nzu;

        cr_assert_eq(z.nf[i], 15, "%s: Zeek row %zu has %zu columns", stem, i, z.nf[i]);
        for (int col = 2; col < 15; col++) {
            zfield(r, col, ours, sizeof ours);
            cr_expect_str_eq(ours, z.f[i][col], "%s record %zu %s: ours '%s' Zeek '%s'", stem, i,
                             zname[col], ours, z.f[i][col]);
        }
        nzu = split(z.f[i][1], ',', zu, PT_DHCP_AGG_MAX_UIDS + 1);
        cr_expect_eq(r->n_uids, nzu, "%s record %zu: %u uids, Zeek %zu", stem, i, r->n_uids, nzu);
        for (unsigned u = 0; with_conn && u < r->n_uids; u++) {
            const char *uid = zeek_uid(&cl, &c.conn[r->uids[u]]);
            bool found = false;

            cr_assert_not_null(uid, "%s: connection %llu not in Zeek's conn.log", stem,
                               (unsigned long long)r->uids[u]);
            for (size_t k = 0; k < nzu; k++)
                found |= !strcmp(zu[k], uid);
            cr_expect(found, "%s record %zu: uid %s is not Zeek's", stem, i, uid);
        }
    }
    pt_test_conns_free(&c);
    free(z.buf);
    if (with_conn)
        free(cl.buf);
}

Test(dhcp_zeek, zeek_dhcp)
{
    zeek_check("zeek_dhcp", true);
}

Test(dhcp_zeek, discover_param_req_and_client_id)
{
    zeek_check("zeek_dhcp_discover_param_req_and_client_id", false);
}

/* ------------------------------------------------------------ 3. Arkime and tcpdump */

/* The strings of the JSON array @key inside the "dhcp" object, sorted, comma-joined. */
static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void sorted_join(char **v, size_t n, char *o, size_t sz)
{
    o[0] = '\0';
    qsort(v, n, sizeof *v, str_cmp);
    for (size_t i = 0; i < n; i++)
        if (!i || strcmp(v[i], v[i - 1]))
            cat(o, sz, v[i]);
}

static void arkime_list(const char *json, const char *key, char *o, size_t sz)
{
    char pat[64], *items[16], tmp[16][64];
    const char *p = strstr(json, "\"dhcp\" : {"), *end;
    size_t n = 0;

    cr_assert_not_null(p);
    snprintf(pat, sizeof pat, "\"%s\" : [", key);
    p = strstr(p, pat);
    cr_assert_not_null(p, "arkime: no %s", key);
    end = strchr(p, ']');
    p += strlen(pat);
    while ((p = strchr(p, '"')) && p < end && n < 16) {
        const char *q = strchr(p + 1, '"');

        snprintf(tmp[n], sizeof tmp[n], "%.*s", (int)(q - p - 1), p + 1);
        items[n] = tmp[n];
        n++;
        p = q + 1;
    }
    sorted_join(items, n, o, sz);
}

Test(dhcp_arkime, wireshark_dhcp)
{
    char *json =
        pt_test_slurp(pt_test_data("pcap/dhcp/arkime_wireshark-dhcp.arkime.test.json"), NULL);
    char theirs[256], ours[256], buf[4][16][64], *v[4][16];
    size_t nv[4] = {0}, n;
    struct pt_test_conns c;
    struct pt_dhcp_stats st = {0};
    struct dm *d;

    cr_assert_not_null(json);
    pt_test_conns_load(&c, "pcap/dhcp/arkime_wireshark-dhcp.pcap");
    d = dhcp_msgs(&c, &n);
    cr_assert_eq(n, 4);
    for (size_t i = 0; i < n; i++) {
        struct pt_dhcp_msg m;

        cr_assert(pt_dhcp_parse(&m, d[i].data, d[i].len, &st));
        snprintf(buf[0][nv[0]], 64, "%x", m.xid);
        v[0][nv[0]] = buf[0][nv[0]], nv[0]++;
        mac_s(m.mac, buf[1][nv[1]]);
        v[1][nv[1]] = buf[1][nv[1]], nv[1]++;
        snprintf(buf[2][nv[2]], 64, "%s", pt_dhcp_type_name(m.type));
        v[2][nv[2]] = buf[2][nv[2]], nv[2]++;
        if (m.has & PT_DHCP_HAS_REQ_ADDR) {
            ip_s(m.requested_addr, buf[3][nv[3]]);
            v[3][nv[3]] = buf[3][nv[3]], nv[3]++;
        }
    }
    static const char *const keys[] = {"id", "mac", "type", "requestIp"};
    for (int k = 0; k < 4; k++) {
        arkime_list(json, keys[k], theirs, sizeof theirs);
        sorted_join(v[k], nv[k], ours, sizeof ours);
        cr_expect_str_eq(ours, theirs, "arkime dhcp.%s: ours %s, arkime %s", keys[k], ours, theirs);
    }
    free(d);
    pt_test_conns_free(&c);
    free(json);
}

/* The text after @key up to the end of its line, in packet block @blk, or "". */
static void td_value(const char *blk, const char *blk_end, const char *key, char *o, size_t sz)
{
    const char *p = strstr(blk, key), *e;

    o[0] = '\0';
    if (!p || p >= blk_end)
        return;
    p += strlen(key);
    e = strchr(p, '\n');
    snprintf(o, sz, "%.*s", (int)(e ? e - p : (long)strlen(p)), p);
}

Test(dhcp_tcpdump, rfc3004)
{
    char *out = pt_test_slurp(pt_test_data("pcap/dhcp/tcpdump_dhcp-rfc3004.tcpdump-v.out"), NULL);
    struct pt_test_conns c;
    struct pt_dhcp_stats st = {0};
    struct dm *d;
    size_t n;

    cr_assert_not_null(out);
    pt_test_conns_load(&c, "pcap/dhcp/tcpdump_dhcp-rfc3004.pcap");
    d = dhcp_msgs(&c, &n);
    cr_assert_eq(n, 4);
    for (size_t i = 0; i < n; i++) {
        char head[16], next[16], t[256], o[256], b[32];
        const char *blk, *end;
        struct pt_dhcp_msg m;

        cr_assert(pt_dhcp_parse(&m, d[i].data, d[i].len, &st));
        snprintf(head, sizeof head, "    %u  ", d[i].frame);
        snprintf(next, sizeof next, "    %u  ", d[i].frame + 1);
        blk = strstr(out, head);
        cr_assert_not_null(blk, "tcpdump: no packet %u", d[i].frame);
        end = strstr(blk, next);
        if (!end)
            end = blk + strlen(blk);
        td_value(blk, end, "xid ", t, sizeof t);
        snprintf(o, sizeof o, "0x%x, Flags [none]", m.xid);
        cr_expect_str_eq(o, t, "frame %u xid", d[i].frame);
        td_value(blk, end, "Client-Ethernet-Address ", t, sizeof t);
        cr_expect_str_eq(mac_s(m.mac, b), t, "frame %u chaddr", d[i].frame);
        td_value(blk, end, "DHCP-Message (53), length 1: ", t, sizeof t);
        cr_expect(!strcasecmp(pt_dhcp_type_name(m.type), t), "frame %u type %s vs %s", d[i].frame,
                  pt_dhcp_type_name(m.type), t);
        td_value(blk, end, "Requested-IP (50), length 4: ", t, sizeof t);
        cr_expect_str_eq((m.has & PT_DHCP_HAS_REQ_ADDR) ? ip_s(m.requested_addr, b) : "", t,
                         "frame %u requested", d[i].frame);
        td_value(blk, end, "Your-IP ", t, sizeof t);
        cr_expect_str_eq(m.yiaddr[0] ? ip_s(m.yiaddr, b) : "", t, "frame %u yiaddr", d[i].frame);
        td_value(blk, end, "Server-ID (54), length 4: ", t, sizeof t);
        cr_expect_str_eq((m.has & PT_DHCP_HAS_SERVER_ID) ? ip_s(m.server_id, b) : "", t,
                         "frame %u server id", d[i].frame);
        td_value(blk, end, "Lease-Time (51), length 4: ", t, sizeof t);
        snprintf(o, sizeof o, "%u", m.lease_time);
        cr_expect_str_eq((m.has & PT_DHCP_HAS_LEASE) ? o : "", t, "frame %u lease", d[i].frame);
        td_value(blk, end, "Default-Gateway (3), length 4: ", t, sizeof t);
        cr_expect_str_eq(m.n_routers ? ip_s(m.routers[0], b) : "", t, "frame %u router",
                         d[i].frame);
        td_value(blk, end, "Domain-Name-Server (6), length 4: ", t, sizeof t);
        cr_expect_str_eq(m.n_dns ? ip_s(m.dns[0], b) : "", t, "frame %u dns", d[i].frame);
        td_value(blk, end, "Domain-Name (15), length 4: ", t, sizeof t);
        snprintf(o, sizeof o, "\"%s\"", m.domain.s);
        cr_expect_str_eq((m.has & PT_DHCP_HAS_DOMAIN) ? o : "", t, "frame %u domain", d[i].frame);
        td_value(blk, end, "Parameter-Request (55), length ", t, sizeof t);
        snprintf(o, sizeof o, "%u: ", m.prl_len);
        cr_expect_str_eq((m.has & PT_DHCP_HAS_PRL) ? o : "", t, "frame %u prl length", d[i].frame);
    }
    free(d);
    pt_test_conns_free(&c);
    free(out);
}

/* ------------------------------------------------------------ 4. crafted input */

/* A BOOTP header (op, xid 0x01020304, Ethernet chaddr 02:00:00:00:00:01), the cookie,
 * then @opts. Returns the length. */
static uint32_t build(uint8_t *b, uint8_t op, const uint8_t *opts, uint32_t n)
{
    memset(b, 0, 240);
    b[0] = op;
    b[1] = 1;
    b[2] = 6;
    b[4] = 1, b[5] = 2, b[6] = 3, b[7] = 4;
    b[28] = 2, b[33] = 1;
    b[236] = 99, b[237] = 130, b[238] = 83, b[239] = 99;
    memcpy(b + 240, opts, n);
    return 240 + n;
}

/* Parse @n bytes from an exactly-sized heap copy, so ASan sees any over-read. */
static bool parse_exact(struct pt_dhcp_msg *m, const uint8_t *b, uint32_t n,
                        struct pt_dhcp_stats *st)
{
    uint8_t *h = malloc(n ? n : 1);
    bool ok;

    cr_assert_not_null(h);
    memcpy(h, b, n);
    ok = pt_dhcp_parse(m, h, n, st);
    free(h);
    return ok;
}

#define ERR(m, e) (((m).errs >> (e)) & 1)

Test(dhcp_malformed, short_header)
{
    uint8_t b[600];
    struct pt_dhcp_msg m;
    struct pt_dhcp_stats st = {0};
    uint32_t n = build(b, 1, (const uint8_t[]){53, 1, 1, 255}, 4);

    for (uint32_t len = 0; len < PT_DHCP_MIN_LEN; len++)
        cr_assert(!parse_exact(&m, b, len, &st), "%u bytes parsed", len);
    cr_expect_eq(st.err[PT_DHCP_E_TRUNC], PT_DHCP_MIN_LEN);
    cr_expect_eq(st.msgs, 0);
    /* from the header on, every cut parses and never reads past the cut */
    for (uint32_t len = PT_DHCP_MIN_LEN; len <= n; len++)
        cr_assert(parse_exact(&m, b, len, &st));
    cr_expect_eq(m.type, PT_DHCP_DISCOVER);
    cr_expect_eq(m.errs, 0);
}

Test(dhcp_malformed, bad_op_and_hlen)
{
    uint8_t b[600];
    struct pt_dhcp_msg m;
    struct pt_dhcp_stats st = {0};
    uint32_t n = build(b, 3, (const uint8_t[]){255}, 1);

    cr_expect(!parse_exact(&m, b, n, &st));
    cr_expect_eq(st.err[PT_DHCP_E_BAD_OP], 1);
    b[0] = 2;
    b[2] = 17;
    cr_expect(parse_exact(&m, b, n, &st));
    cr_expect(ERR(m, PT_DHCP_E_BAD_HLEN));
    cr_expect(!(m.has & PT_DHCP_HAS_MAC), "a 17-byte hardware address is not a MAC");
}

Test(dhcp_malformed, no_cookie_is_bootp)
{
    uint8_t b[600];
    struct pt_dhcp_msg m;
    struct pt_dhcp_stats st = {0};
    uint32_t n = build(b, 1, (const uint8_t[]){53, 1, 1, 255}, 4);

    b[239] = 98;
    cr_expect(parse_exact(&m, b, n, &st));
    cr_expect(ERR(m, PT_DHCP_E_NO_COOKIE));
    cr_expect_eq(m.has & (PT_DHCP_HAS_COOKIE | PT_DHCP_HAS_TYPE), 0);
    cr_expect(parse_exact(&m, b, 238, &st), "header without a whole cookie");
    cr_expect(ERR(m, PT_DHCP_E_NO_COOKIE));
    cr_expect_eq(st.err[PT_DHCP_E_NO_COOKIE], 2);
}

Test(dhcp_malformed, lying_option_length)
{
    uint8_t b[600];
    struct pt_dhcp_msg m;
    struct pt_dhcp_stats st = {0};
    /* type, then host name claiming 200 bytes where 5 remain */
    uint32_t n = build(b, 1, (const uint8_t[]){53, 1, 3, 12, 200, 'a', 'b', 'c', 'd', 'e'}, 10);

    cr_expect(parse_exact(&m, b, n, &st));
    cr_expect_eq(m.type, PT_DHCP_REQUEST, "options before the lie are kept");
    cr_expect(!(m.has & PT_DHCP_HAS_HOST_NAME));
    cr_expect(ERR(m, PT_DHCP_E_OPT_TRUNC));
    cr_expect(!ERR(m, PT_DHCP_E_NO_END), "a lie is counted once, not also as no end");
    /* a code in the last byte, with no length byte */
    n = build(b, 1, (const uint8_t[]){53, 1, 3, 12}, 4);
    cr_expect(parse_exact(&m, b, n, &st));
    cr_expect(ERR(m, PT_DHCP_E_OPT_TRUNC));
    cr_expect_eq(st.err[PT_DHCP_E_OPT_TRUNC], 2);
}

Test(dhcp_malformed, no_end_and_padding)
{
    uint8_t b[600];
    struct pt_dhcp_msg m;
    struct pt_dhcp_stats st = {0};
    uint32_t n = build(b, 1, (const uint8_t[]){0, 0, 53, 1, 8, 0, 0}, 7);

    cr_expect(parse_exact(&m, b, n, &st));
    cr_expect_eq(m.type, PT_DHCP_INFORM);
    cr_expect(ERR(m, PT_DHCP_E_NO_END));
    n = build(b, 1, (const uint8_t[]){53, 1, 8, 255, 12, 200}, 6);
    cr_expect(parse_exact(&m, b, n, &st));
    cr_expect_eq(m.errs, 0, "bytes after END are padding, not options");
}

Test(dhcp_malformed, bad_fixed_lengths)
{
    uint8_t b[600];
    struct pt_dhcp_msg m;
    struct pt_dhcp_stats st = {0};
    uint32_t n = build(
        b, 2,
        (const uint8_t[]){53, 2, 5, 5, 50, 3, 1, 2, 3, 51, 2, 0, 1, 3, 5, 10, 0, 0, 1, 9, 255}, 21);

    cr_expect(parse_exact(&m, b, n, &st));
    cr_expect(!(m.has & (PT_DHCP_HAS_TYPE | PT_DHCP_HAS_REQ_ADDR | PT_DHCP_HAS_LEASE)));
    cr_expect_eq(m.n_routers, 1, "whole addresses of a ragged list are kept");
    cr_expect(ERR(m, PT_DHCP_E_OPT_BAD_LEN));
    cr_expect_eq(st.err[PT_DHCP_E_OPT_BAD_LEN], 1, "counted once per message");
}

Test(dhcp_malformed, unknown_type)
{
    uint8_t b[600];
    struct pt_dhcp_msg m;
    struct pt_dhcp_stats st = {0};
    uint32_t n = build(b, 1, (const uint8_t[]){53, 1, 0, 255}, 4);

    cr_expect(parse_exact(&m, b, n, &st));
    cr_expect(ERR(m, PT_DHCP_E_BAD_TYPE));
    cr_expect_null(pt_dhcp_type_name(m.type));
    cr_expect_str_eq(pt_dhcp_type_name(PT_DHCP_TLS), "TLS");
    cr_expect_null(pt_dhcp_type_name(PT_DHCP_TYPE_MAX));
}

Test(dhcp_malformed, overload_file_and_sname)
{
    uint8_t b[600];
    struct pt_dhcp_msg m;
    struct pt_dhcp_stats st = {0};
    uint32_t n = build(b, 1, (const uint8_t[]){53, 1, 1, 52, 1, 3, 255}, 7);

    memcpy(b + 108, (const uint8_t[]){12, 4, 'f', 'i', 'l', 'e', 255}, 7);
    memcpy(b + 44, (const uint8_t[]){15, 3, 'd', 'o', 'm', 255}, 6);
    cr_expect(parse_exact(&m, b, n, &st));
    cr_expect_eq(m.overload, 3);
    cr_expect_str_eq(m.host_name.s, "file");
    cr_expect_str_eq(m.domain.s, "dom");
    cr_expect_eq(m.errs, 0);
    /* only file (1): sname is not read */
    b[245] = 1;
    cr_expect(parse_exact(&m, b, n, &st));
    cr_expect(!(m.has & PT_DHCP_HAS_DOMAIN));
    /* bad value */
    b[245] = 4;
    cr_expect(parse_exact(&m, b, n, &st));
    cr_expect(ERR(m, PT_DHCP_E_BAD_OVERLOAD));
    cr_expect(!(m.has & PT_DHCP_HAS_HOST_NAME));
}

Test(dhcp_malformed, overload_cannot_loop)
{
    uint8_t b[600];
    struct pt_dhcp_msg m;
    struct pt_dhcp_stats st = {0};
    uint32_t n = build(b, 1, (const uint8_t[]){52, 1, 3, 255}, 4);

    /* file says "overload sname"; sname says "overload file"; both lie about a length */
    memcpy(b + 108, (const uint8_t[]){52, 1, 3, 12, 2, 'h', 'i', 55, 120}, 9);
    memcpy(b + 44, (const uint8_t[]){52, 1, 3, 60, 90, 'x'}, 6);
    cr_expect(parse_exact(&m, b, n, &st));
    cr_expect_str_eq(m.host_name.s, "hi");
    cr_expect(ERR(m, PT_DHCP_E_BAD_OVERLOAD));
    cr_expect(ERR(m, PT_DHCP_E_OPT_TRUNC));
    cr_expect_eq(st.err[PT_DHCP_E_BAD_OVERLOAD], 1);
}

Test(dhcp_malformed, long_and_binary_strings)
{
    uint8_t opts[600], b[900];
    struct pt_dhcp_msg m;
    struct pt_dhcp_stats st = {0};
    uint32_t k = 0, n;

    /* RFC 3396: two host-name options concatenate; 200 + 100 bytes is cut at the maximum */
    opts[k++] = 12, opts[k++] = 200;
    memset(opts + k, 'a', 200), k += 200;
    opts[k++] = 12, opts[k++] = 100;
    memset(opts + k, 'b', 100), k += 100;
    opts[k++] = 60, opts[k++] = 4;
    memcpy(opts + k, "a\0b\xff", 4), k += 4;
    opts[k++] = 255;
    n = build(b, 1, opts, k);
    cr_expect(parse_exact(&m, b, n, &st));
    cr_expect_eq(m.host_name.len, PT_DHCP_STR_MAX);
    cr_expect_eq(m.host_name.s[PT_DHCP_STR_MAX], '\0');
    cr_expect(ERR(m, PT_DHCP_E_STR_TRUNC));
    cr_expect_eq(m.vendor_class.len, 4, "bytes kept with their length, NUL included");
    cr_expect(!memcmp(m.vendor_class.s, "a\0b\xff", 5));
}

Test(dhcp_malformed, list_limits)
{
    uint8_t opts[600], b[900];
    struct pt_dhcp_msg m;
    struct pt_dhcp_stats st = {0};
    uint32_t k = 0, n;

    opts[k++] = 6, opts[k++] = 4 * (PT_DHCP_ADDRS_MAX + 1);
    for (unsigned i = 0; i < PT_DHCP_ADDRS_MAX + 1; i++)
        opts[k++] = 10, opts[k++] = 0, opts[k++] = 0, opts[k++] = (uint8_t)i;
    opts[k++] = 55, opts[k++] = PT_DHCP_PRL_MAX + 3;
    for (unsigned i = 0; i < PT_DHCP_PRL_MAX + 3; i++)
        opts[k++] = (uint8_t)(i + 1);
    opts[k++] = 255;
    n = build(b, 1, opts, k);
    cr_expect(parse_exact(&m, b, n, &st));
    cr_expect_eq(m.n_dns, PT_DHCP_ADDRS_MAX);
    cr_expect_eq(m.dns[PT_DHCP_ADDRS_MAX - 1][3], PT_DHCP_ADDRS_MAX - 1);
    cr_expect_eq(m.prl_len, PT_DHCP_PRL_MAX);
    cr_expect(ERR(m, PT_DHCP_E_LIST_TRUNC));
}

Test(dhcp_malformed, client_fqdn)
{
    uint8_t b[600];
    struct pt_dhcp_msg m;
    struct pt_dhcp_stats st = {0};
    uint32_t n =
        build(b, 1, (const uint8_t[]){81,  20,  0x05, 0,   0,   3, 'w', 'w', 'w', 7, 'e', 'x',
                                      'a', 'm', 'p',  'l', 'e', 3, 'c', 'o', 'm', 0, 255},
              23);

    cr_expect(parse_exact(&m, b, n, &st));
    cr_expect_str_eq(m.client_fqdn.s, "www.example.com");
    cr_expect_eq(m.fqdn_flags, 0x05);
    cr_expect_eq(m.errs, 0);
    /* ASCII form (E clear) */
    n = build(b, 1, (const uint8_t[]){81, 8, 0x01, 0, 0, 'h', '.', 'l', 'a', 'n', 255}, 11);
    cr_expect(parse_exact(&m, b, n, &st));
    cr_expect_str_eq(m.client_fqdn.s, "h.lan");
    /* a label running past the option; a compression pointer */
    n = build(b, 1, (const uint8_t[]){81, 6, 0x04, 0, 0, 1, 'a', 9, 255}, 9);
    cr_expect(parse_exact(&m, b, n, &st));
    cr_expect(ERR(m, PT_DHCP_E_BAD_FQDN));
    cr_expect_str_eq(m.client_fqdn.s, "a");
    n = build(b, 1, (const uint8_t[]){81, 5, 0x04, 0, 0, 0xc0, 0x0c, 255}, 8);
    cr_expect(parse_exact(&m, b, n, &st));
    cr_expect(ERR(m, PT_DHCP_E_BAD_FQDN));
    n = build(b, 1, (const uint8_t[]){81, 2, 0x04, 0, 255}, 5);
    cr_expect(parse_exact(&m, b, n, &st));
    cr_expect(ERR(m, PT_DHCP_E_OPT_BAD_LEN));
    cr_expect(!(m.has & PT_DHCP_HAS_FQDN));
}

Test(dhcp_malformed, names)
{
    cr_expect_str_eq(pt_dhcp_err_name(PT_DHCP_E_TRUNC), "app.dhcp.truncated");
    cr_expect_str_eq(pt_dhcp_err_name(PT_DHCP_E_AGG_SPLIT), "app.dhcp.agg.split");
    for (unsigned e = 0; e < PT_DHCP_ERR_MAX; e++)
        cr_expect(strncmp(pt_dhcp_err_name(e), "app.dhcp.", 9) == 0 &&
                      strcmp(pt_dhcp_err_name(e), "app.dhcp.unknown"),
                  "reason %u has no name", e);
    cr_expect_str_eq(pt_dhcp_err_name(PT_DHCP_ERR_MAX), "app.dhcp.unknown");
}

/* ------------------------------------------------------------ aggregation, crafted */

#define S(x) ((uint64_t)(x)*1000000000ull)

static struct pt_dhcp_msg mk(uint8_t op, uint8_t type, uint32_t xid, uint8_t macb)
{
    struct pt_dhcp_msg m;

    memset(&m, 0, sizeof m);
    m.op = op;
    m.type = type;
    m.xid = xid;
    m.htype = 1, m.hlen = 6;
    m.chaddr[0] = 2, m.chaddr[5] = macb;
    memcpy(m.mac, m.chaddr, 6);
    m.has = PT_DHCP_HAS_MAC | PT_DHCP_HAS_TYPE | PT_DHCP_HAS_COOKIE;
    if (op == 2)
        m.yiaddr[0] = 10, m.yiaddr[3] = macb;
    return m;
}

static const uint8_t ZERO[4], BCAST[4] = {255, 255, 255, 255}, SRV[4] = {10, 0, 0, 1};

static void dora(struct pt_dhcp_agg *a, uint32_t xid, uint8_t macb, uint64_t t0)
{
    struct pt_dhcp_msg m = mk(1, PT_DHCP_DISCOVER, xid, macb);

    pt_dhcp_agg_add(a, &m, ZERO, BCAST, t0, 1);
    m = mk(2, PT_DHCP_OFFER, xid, macb);
    pt_dhcp_agg_add(a, &m, SRV, BCAST, t0 + 1000, 2);
    m = mk(1, PT_DHCP_REQUEST, xid, macb);
    pt_dhcp_agg_add(a, &m, ZERO, BCAST, t0 + 2000, 1);
    m = mk(2, PT_DHCP_ACK, xid, macb);
    pt_dhcp_agg_add(a, &m, SRV, BCAST, t0 + 3000, 2);
}

static struct pt_dhcp_agg A;
static struct sink K;

Test(dhcp_agg, close_on_reply)
{
    struct pt_dhcp_stats st = {0};
    struct pt_dhcp_agg_config cfg = PT_DHCP_AGG_ZEEK;
    struct pt_dhcp_msg m = mk(1, PT_DHCP_DECLINE, 7, 1);

    cfg.close_on_reply = true;
    memset(&K, 0, sizeof K);
    pt_dhcp_agg_init(&A, &cfg, sink_emit, &K, &st);
    dora(&A, 7, 1, S(100));
    cr_assert_eq(K.n, 1, "ACK closes the exchange");
    cr_expect_eq(K.r[0].n_types, 4);
    cr_expect_eq(K.r[0].n_uids, 2);
    cr_expect_eq(K.r[0].duration_ns, 3000);
    cr_expect(K.r[0].has & PT_DHCP_REC_ASSIGNED);
    cr_expect_eq(K.r[0].assigned_addr[3], 1);
    cr_expect(!memcmp(K.r[0].server_addr, SRV, 4));
    pt_dhcp_agg_add(&A, &m, ZERO, BCAST, S(101), 1);
    pt_dhcp_agg_flush(&A);
    cr_expect_eq(K.n, 2, "a DECLINE after the ACK is a record of its own");
    cr_expect_eq(st.records, 2);
}

Test(dhcp_agg, zeek_timing)
{
    struct pt_dhcp_stats st = {0};
    struct pt_dhcp_msg m;

    memset(&K, 0, sizeof K);
    pt_dhcp_agg_init(&A, &PT_DHCP_AGG_ZEEK, sink_emit, &K, &st);
    dora(&A, 7, 1, S(100));
    cr_expect_eq(K.n, 0, "Zeek keeps the exchange open after the ACK");
    pt_dhcp_agg_expire(&A, S(105) + 3000);
    cr_expect_eq(K.n, 0, "exactly 5 s idle is not more than 5 s");
    pt_dhcp_agg_expire(&A, S(106));
    cr_expect_eq(K.n, 1);
    /* a message every 4 s: never idle, cut 30 s after the first */
    for (unsigned i = 0; i <= 10; i++) {
        m = mk(1, PT_DHCP_REQUEST, 9, 2);
        pt_dhcp_agg_add(&A, &m, ZERO, BCAST, S(200 + 4 * i), 1);
    }
    cr_expect_eq(K.n, 2);
    cr_expect_eq(K.r[1].n_types, 8, "messages at 200..228 s; the one at 232 s opens a new one");
    pt_dhcp_agg_flush(&A);
    cr_expect_eq(K.n, 3);
    cr_expect_eq(K.r[2].n_types, 3);
}

Test(dhcp_agg, key_is_xid_and_mac)
{
    struct pt_dhcp_stats st = {0};
    struct pt_dhcp_msg m1 = mk(1, PT_DHCP_DISCOVER, 5, 1), m2 = mk(1, PT_DHCP_DISCOVER, 5, 2);

    memset(&K, 0, sizeof K);
    pt_dhcp_agg_init(&A, &PT_DHCP_AGG_ZEEK, sink_emit, &K, &st);
    pt_dhcp_agg_add(&A, &m1, ZERO, BCAST, S(1), 1);
    pt_dhcp_agg_add(&A, &m2, ZERO, BCAST, S(2), 1);
    pt_dhcp_agg_flush(&A);
    cr_assert_eq(K.n, 2, "same xid, two clients: two records");
    cr_expect_eq(K.r[0].mac[5], 1, "flush emits oldest first");
    cr_expect_eq(K.r[1].mac[5], 2);
}

Test(dhcp_agg, table_full_evicts_oldest)
{
    struct pt_dhcp_stats st = {0};

    memset(&K, 0, sizeof K);
    pt_dhcp_agg_init(&A, &PT_DHCP_AGG_ZEEK, sink_emit, &K, &st);
    for (uint32_t i = 0; i <= PT_DHCP_AGG_SLOTS; i++) {
        struct pt_dhcp_msg m = mk(1, PT_DHCP_DISCOVER, 1000 + i, 1);

        pt_dhcp_agg_add(&A, &m, ZERO, BCAST, S(1) + i, 1);
    }
    cr_assert_eq(K.n, 1);
    cr_expect_eq(K.r[0].xid, 1000, "the oldest exchange goes");
    cr_expect_eq(st.err[PT_DHCP_E_AGG_FULL], 1);
    pt_dhcp_agg_flush(&A);
    cr_expect_eq(K.n, PT_DHCP_AGG_SLOTS + 1);
    for (size_t i = 1; i < K.n; i++)
        cr_expect_eq(K.r[i].xid, 1000 + i, "flush order");
}

Test(dhcp_agg, split_on_uids)
{
    struct pt_dhcp_stats st = {0};

    memset(&K, 0, sizeof K);
    pt_dhcp_agg_init(&A, &PT_DHCP_AGG_ZEEK, sink_emit, &K, &st);
    for (uint64_t f = 0; f < 20; f++) {
        struct pt_dhcp_msg m = mk(1, PT_DHCP_REQUEST, 3, 1);

        pt_dhcp_agg_add(&A, &m, ZERO, BCAST, S(1) + f, f % 2 ? f : 0);
    }
    cr_assert_eq(K.n, 1);
    cr_expect_eq(K.r[0].n_uids, PT_DHCP_AGG_MAX_UIDS);
    cr_expect_eq(K.r[0].n_types, 18, "ids 0,1,0,3,..,0,17: the 18th message is the 10th id");
    cr_expect_eq(st.err[PT_DHCP_E_AGG_SPLIT], 1);
}

Test(dhcp_agg, client_id_mac_and_fields)
{
    struct pt_dhcp_stats st = {0};
    struct pt_dhcp_msg m = mk(1, PT_DHCP_REQUEST, 3, 1);
    const uint8_t cli[4] = {10, 0, 0, 9};

    memset(&K, 0, sizeof K);
    pt_dhcp_agg_init(&A, &PT_DHCP_AGG_ZEEK, sink_emit, &K, &st);
    m.has |= PT_DHCP_HAS_CLIENT_ID | PT_DHCP_HAS_HOST_NAME | PT_DHCP_HAS_MESSAGE;
    memcpy(m.client_id.s, "\x01\xaa\xbb\xcc\xdd\xee\xff", 7);
    m.client_id.len = 7;
    strcpy(m.host_name.s, "h");
    m.host_name.len = 1;
    strcpy(m.message.s, "why");
    m.message.len = 3;
    pt_dhcp_agg_add(&A, &m, cli, SRV, S(1), 1);
    m = mk(2, PT_DHCP_ACK, 3, 1);
    pt_dhcp_agg_add(&A, &m, SRV, cli, S(2), 1);
    pt_dhcp_agg_flush(&A);
    cr_assert_eq(K.n, 1);
    cr_expect_eq(K.r[0].mac[0], 0xaa, "option 61 type 1 gives the MAC, the server's chaddr not");
    cr_expect(!memcmp(K.r[0].client_addr, cli, 4), "unicast client source is client_addr");
    cr_expect_str_eq(K.r[0].host_name.s, "h");
    cr_expect_str_eq(K.r[0].client_message.s, "why");
    cr_expect(!(K.r[0].has & PT_DHCP_REC_SERVER_MSG));
    cr_expect(!memcmp(K.r[0].server_addr, SRV, 4));
    cr_expect(!memcmp(K.r[0].client_addr, cli, 4), "yiaddr does not replace a seen client");
}
