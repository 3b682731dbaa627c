/* test_tls.c - the TLS handshake parser (src/decode/tls.c, x509.c) on the
 * shared captures against tshark 4.0.17 + OpenSSL (tests/expected/ *.tls.tsv,
 * made by tests/tools/gen-expected-tls.sh), suricata-verify's JA3/SNI
 * checks, nDPI's and Arkime's outputs; then crafted malformed input.
 *
 * Each connection is fed as the sensor would: both directions' segments
 * merged in capture (frame) order, a hole reported with pt_tls_gap(). */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "pt/tls.h"
#include "support/streams.h"
#include "support/support.h"

/* ---- helpers ---- */

static void ep_text(char *out, size_t cap, const uint8_t a[16], uint16_t port)
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    char t[INET6_ADDRSTRLEN];

    if (memcmp(a, mapped, 12) == 0)
        inet_ntop(AF_INET, a + 12, t, sizeof t);
    else
        inet_ntop(AF_INET6, a, t, sizeof t);
    snprintf(out, cap, "%s %u", t, port);
}

/* Feed connection @k to @s, direction @cdir of the conn being the client.
 * @chunk > 0 splits every segment into pieces of that many bytes. */
static enum pt_tls_status feed_conn(struct pt_tls_state *s, const struct pt_test_conn *k,
                                    unsigned cdir, size_t chunk, bool *server_gap)
{
    size_t i[2] = {0, 0};
    uint64_t next[2] = {0, 0};
    bool seen[2] = {false, false};
    enum pt_tls_status st = PT_TLS_NEED_MORE;

    while (i[0] < k->n_seg[0] || i[1] < k->n_seg[1]) {
        unsigned d;
        if (i[0] == k->n_seg[0])
            d = 1;
        else if (i[1] == k->n_seg[1])
            d = 0;
        else
            d = k->seg[0][i[0]].frame <= k->seg[1][i[1]].frame ? 0 : 1;
        const struct pt_test_seg *g = &k->seg[d][i[d]++];
        unsigned td = d == cdir ? 0 : 1;
        if (seen[d] && g->off > next[d]) {
            st = pt_tls_gap(s, td);
            if (td == 1)
                *server_gap = true;
        }
        seen[d] = true;
        next[d] = g->off + g->len;
        if (!chunk) {
            st = pt_tls_feed(s, td, g->ts_ns, g->data, g->len);
            continue;
        }
        for (size_t o = 0; o < g->len; o += chunk) {
            size_t n = g->len - o < chunk ? g->len - o : chunk;
            uint8_t *copy = malloc(n); /* exact size: ASan sees any over-read */
            memcpy(copy, g->data + o, n);
            st = pt_tls_feed(s, td, g->ts_ns, copy, n);
            free(copy);
        }
    }
    return st;
}

static char *hex16(char *out, unsigned v)
{
    sprintf(out, "0x%04x", v);
    return out;
}

/* '|'-joined entries of a length-prefixed list. */
static void list_join(char *out, size_t cap, const uint8_t *list, size_t len)
{
    size_t off = 0, n = 0;
    const uint8_t *item;
    size_t il;

    out[0] = '\0';
    while (pt_tls_list_next(list, len, &off, &item, &il)) {
        n += (size_t)snprintf(out + n, cap - n, "%s%.*s", n ? "|" : "", (int)il, item);
        cr_assert_lt(n, cap);
    }
}

static void split_tabs(char *line, char **f, int nf)
{
    for (int i = 0; i < nf; i++) {
        f[i] = line;
        char *t = line ? strchr(line, '\t') : NULL;
        if (t) {
            *t = '\0';
            line = t + 1;
        } else {
            line = NULL;
        }
    }
}

static bool dash(const char *v)
{
    return !v || strcmp(v, "-") == 0;
}

/* Result of the connection whose client/server endpoints are @cl/@sv. */
struct run {
    struct pt_test_conns conns;
    struct pt_tls_stats stats;
    struct pt_tls_state *st; /* one per conn */
    unsigned *cdir;
    bool *server_gap; /* bytes of the server direction were never captured */
};

static void run_capture(struct run *r, const char *rel, size_t chunk)
{
    memset(r, 0, sizeof *r);
    pt_test_conns_load(&r->conns, rel);
    r->st = calloc(r->conns.n ? r->conns.n : 1, sizeof *r->st);
    r->cdir = calloc(r->conns.n ? r->conns.n : 1, sizeof *r->cdir);
    r->server_gap = calloc(r->conns.n ? r->conns.n : 1, sizeof *r->server_gap);
    cr_assert(r->st && r->cdir && r->server_gap);
    for (size_t i = 0; i < r->conns.n; i++) {
        const struct pt_test_conn *k = &r->conns.conn[i];
        pt_tls_init(&r->st[i], &r->stats);
        if (k->proto != 6)
            continue;
        /* the client is whoever sends the first TLS handshake record with a
         * ClientHello; else the originator */
        r->cdir[i] = 0;
        for (unsigned d = 0; d < 2; d++)
            if (k->n_seg[d] && k->seg[d][0].len > 5 && k->seg[d][0].data[0] == 22 &&
                k->seg[d][0].data[5] == 1)
                r->cdir[i] = d;
        feed_conn(&r->st[i], k, r->cdir[i], chunk, &r->server_gap[i]);
    }
}

static void run_free(struct run *r)
{
    free(r->st);
    free(r->cdir);
    free(r->server_gap);
    pt_test_conns_free(&r->conns);
}

static const struct pt_tls_result *find_res_gap(const struct run *r, const char *cl, const char *sv,
                                                bool *gap)
{
    for (size_t i = 0; i < r->conns.n; i++) {
        const struct pt_test_conn *k = &r->conns.conn[i];
        char a[80], b[80];
        if (k->proto != 6)
            continue;
        ep_text(a, sizeof a, k->addr[r->cdir[i]], k->port[r->cdir[i]]);
        ep_text(b, sizeof b, k->addr[!r->cdir[i]], k->port[!r->cdir[i]]);
        if (strcmp(a, cl) == 0 && strcmp(b, sv) == 0) {
            if (gap)
                *gap = r->server_gap[i];
            return &r->st[i].res;
        }
    }
    return NULL;
}

static const struct pt_tls_result *find_res(const struct run *r, const char *cl, const char *sv)
{
    return find_res_gap(r, cl, sv, NULL);
}

/* Compare every row of the capture's .tls.tsv; returns rows compared. */
static int compare_expected(const char *cat, const char *file, size_t chunk)
{
    char rel[256], exp[256];
    struct run r;
    size_t len;
    int rows = 0;

    snprintf(rel, sizeof rel, "pcap/%s/%s", cat, file);
    snprintf(exp, sizeof exp, "tests/expected/%s/%s.tls.tsv", cat, file);
    char *text = pt_test_slurp(pt_test_src(exp), &len);
    cr_assert_not_null(text, "%s missing: run tests/tools/gen-expected-tls.sh", exp);
    run_capture(&r, rel, chunk);

    char *save = NULL, *line = strtok_r(text, "\n", &save);
    cr_assert_not_null(line);
    while ((line = strtok_r(NULL, "\n", &save))) {
        char *f[20], t[16], buf[1024];
        split_tabs(line, f, 20);
        bool gap = false;
        const struct pt_tls_result *res = find_res_gap(&r, f[0], f[1], &gap);
        cr_assert_not_null(res, "%s: no connection %s -> %s", file, f[0], f[1]);
        const char *who = f[0];

        if (dash(f[7])) {
            cr_assert_not(res->flags & PT_TLS_F_CLIENT_HELLO, "%s %s: unexpected hello", file, who);
        } else {
            cr_assert(res->flags & PT_TLS_F_CLIENT_HELLO, "%s %s: no ClientHello", file, who);
            if (dash(f[2]))
                cr_assert_not(res->flags & PT_TLS_F_SNI, "%s %s", file, who);
            else
                cr_assert_str_eq(res->server_name, f[2], "%s %s", file, who);
            cr_assert_str_eq(hex16(t, res->client_version), f[3], "%s %s", file, who);
            buf[0] = '\0';
            for (unsigned i = 0; i < res->n_versions; i++)
                sprintf(buf + strlen(buf), "%s0x%04x", i ? "|" : "", res->versions[i]);
            cr_assert_str_eq(buf[0] ? buf : "-", f[4], "%s %s versions", file, who);
            list_join(buf, sizeof buf, res->alpn, res->alpn_len);
            cr_assert_str_eq(buf[0] ? buf : "-", f[5], "%s %s alpn", file, who);
            if (strlen(f[6]) < PT_TLS_JA3_MAX)
                cr_assert_str_eq(res->ja3, f[6], "%s %s ja3", file, who);
            else
                cr_assert(strncmp(res->ja3, f[6], PT_TLS_JA3_MAX - 1) == 0 &&
                              strlen(res->ja3) == PT_TLS_JA3_MAX - 1,
                          "%s %s ja3 prefix", file, who);
            cr_assert_str_eq(res->ja3_md5, f[7], "%s %s ja3 hash", file, who);
        }
        if (dash(f[13])) {
            cr_assert_not(res->flags & PT_TLS_F_SERVER_HELLO, "%s %s", file, who);
        } else {
            cr_assert(res->flags & PT_TLS_F_SERVER_HELLO, "%s %s: no ServerHello", file, who);
            cr_assert_str_eq(hex16(t, res->server_version), f[8], "%s %s", file, who);
            cr_assert_str_eq(hex16(t, res->version), dash(f[9]) ? f[8] : f[9], "%s %s", file, who);
            cr_assert_str_eq(hex16(t, res->cipher), f[10], "%s %s cipher", file, who);
            cr_assert_str_eq(res->next_protocol_len ? res->next_protocol : "-", f[11], "%s %s",
                             file, who);
            cr_assert_str_eq(res->ja3s, f[12], "%s %s ja3s", file, who);
            cr_assert_str_eq(res->ja3s_md5, f[13], "%s %s ja3s hash", file, who);
        }
        if (dash(f[14])) {
            /* tshark shows no certificate when the Certificate message has a
             * hole; we still have the leaf when it came before the hole */
            cr_assert(!(res->flags & PT_TLS_F_CERT) || gap, "%s %s", file, who);
        } else {
            const struct pt_tls_cert *c = &res->cert;
            cr_assert(res->flags & PT_TLS_F_CERT, "%s %s: no certificate", file, who);
            cr_assert_str_eq(c->subject, f[14], "%s %s subject", file, who);
            cr_assert_str_eq(c->issuer, f[15], "%s %s issuer", file, who);
            cr_assert_eq(c->not_before, atoll(f[16]), "%s %s", file, who);
            cr_assert_eq(c->not_after, atoll(f[17]), "%s %s", file, who);
            list_join(buf, sizeof buf, c->san_dns, c->san_dns_len);
            if (strcmp(buf[0] ? buf : "-", f[18]) != 0) {
                /* cut at a whole name: ours is a prefix and the next one did not fit */
                size_t n = strlen(buf);
                cr_assert(n && strncmp(f[18], buf, n) == 0 && f[18][n] == '|', "%s %s san_dns %s",
                          file, who, buf);
                size_t next = strcspn(f[18] + n + 1, "|");
                cr_assert_gt(c->san_dns_len + 1 + next, PT_TLS_SAN_DNS_MAX, "%s %s", file, who);
            }
            buf[0] = '\0';
            for (unsigned i = 0; i < c->n_san_ip; i++) {
                char a[80];
                ep_text(a, sizeof a, c->san_ip[i], 0);
                a[strlen(a) - 2] = '\0'; /* drop " 0" */
                sprintf(buf + strlen(buf), "%s%s", i ? "|" : "", a);
            }
            cr_assert_str_eq(buf[0] ? buf : "-", f[19], "%s %s san_ip", file, who);
            cr_assert_eq(c->self_signed, strcmp(f[14], f[15]) == 0, "%s %s", file, who);
        }
        rows++;
    }
    free(text);
    run_free(&r);
    return rows;
}

/* ---- against tshark + OpenSSL ---- */

Test(tls_tshark, tls_category)
{
    static const char *const files[] = {
        "arkime_tls-split-client-hello.pcap",
        "arkime_tls13.pcap",
        "ndpi_443-curl.pcap",
        "ndpi_ja3_lots_of_cipher_suites.pcap",
        "ndpi_tls_missing_ch_frag.pcap",
        "sv_tls-duplicate-hello.pcap",
        "sv_tls13_draft18.pcap",
        "sv_tls13_draft22.pcap",
        "sv_tls13_draft28.pcap",
    };
    int rows = 0;

    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        rows += compare_expected("tls", files[i], 0);
    cr_assert_eq(rows, 10);
}

Test(tls_tshark, other_categories)
{
    cr_assert_eq(compare_expected("ipv6", "ndpi_http_ipv6.pcap", 0), 6);
    cr_assert_eq(compare_expected("mixed", "ndpi_1kxun.pcap", 0), 4);
}

Test(tls_tshark, bench_merged, .timeout = 120)
{
    cr_assert_eq(compare_expected("bench", "mixed_merged_pcapplusplus.pcap", 0), 345);
}

/* The same answers when every segment arrives one byte at a time, or in
 * 7-byte pieces (headers and lengths straddle every boundary). */
Test(tls_tshark, byte_by_byte)
{
    cr_assert_eq(compare_expected("tls", "ndpi_443-curl.pcap", 1), 1);
    cr_assert_eq(compare_expected("tls", "arkime_tls-split-client-hello.pcap", 1), 1);
    cr_assert_eq(compare_expected("ipv6", "ndpi_http_ipv6.pcap", 7), 6);
}

/* ---- the split and missing-fragment captures ---- */

Test(tls_capture, split_client_hello_done)
{
    struct run r;

    run_capture(&r, "pcap/tls/arkime_tls-split-client-hello.pcap", 0);
    const struct pt_tls_result *res = find_res(&r, "10.1.17.215 49927", "142.250.114.100 443");
    cr_assert_not_null(res);
    cr_assert_eq(pt_tls_status(&r.st[0]), PT_TLS_DONE);
    cr_assert(res->flags & PT_TLS_F_CLIENT_HELLO);
    cr_assert_eq(r.stats.client_hellos, 1);
    for (unsigned e = 1; e < PT_TLS_E_MAX; e++)
        cr_assert_eq(r.stats.err[e], 0, "%s counted", pt_tls_err_name(e));
    run_free(&r);
}

Test(tls_capture, missing_fragment_counted)
{
    struct run r;

    run_capture(&r, "pcap/tls/ndpi_tls_missing_ch_frag.pcap", 0);
    cr_assert_eq(r.conns.n, 1);
    const struct pt_tls_result *res = &r.st[0].res;
    cr_assert_not(res->flags & PT_TLS_F_CLIENT_HELLO);
    cr_assert(res->flags & PT_TLS_F_SERVER_HELLO);
    cr_assert_str_eq(res->ja3s_md5, "907bf3ecef1c987c889946b737b43de8"); /* nDPI's JA3S */
    cr_assert_str_eq(pt_tls_cipher_name(res->cipher), "TLS_AES_256_GCM_SHA384");
    cr_assert_eq(r.stats.err[PT_TLS_E_INCOMPLETE], 1);
    cr_assert_eq(pt_tls_status(&r.st[0]), PT_TLS_DONE);
    run_free(&r);
}

/* ---- suricata-verify ---- */

/* Every tls.ja3.hash/string and tls.sni a YAML expects is produced by a
 * connection of its capture (the string and hash by the same one). */
static void check_suricata(const char *stem, int want_checks)
{
    char p[256];
    struct run r;
    int checks = 0;

    snprintf(p, sizeof p, "pcap/tls/%s.suricata-test.yaml", stem);
    char *y = pt_test_slurp(pt_test_data(p), NULL);
    cr_assert_not_null(y);
    snprintf(p, sizeof p, "pcap/tls/%s.pcap", stem);
    run_capture(&r, p, 0);
    char *save = NULL, hash[64] = "";
    for (char *l = strtok_r(y, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        char v[1024];
        const char *key;
        if ((key = strstr(l, "tls.ja3.hash: \"")) && sscanf(key + 15, "%63[^\"]", hash) == 1)
            continue;
        bool is_str = (key = strstr(l, "tls.ja3.string: \"")) != NULL;
        bool is_sni = !is_str && (key = strstr(l, "tls.sni: \"")) != NULL;
        if (!is_str && !is_sni)
            continue;
        if (sscanf(strchr(key, '"') + 1, "%1023[^\"]", v) != 1)
            continue;
        bool found = false;
        for (size_t i = 0; i < r.conns.n; i++) {
            const struct pt_tls_result *res = &r.st[i].res;
            if (is_sni && strcmp(res->server_name, v) == 0)
                found = true;
            if (is_str && strcmp(res->ja3, v) == 0 && (!hash[0] || !strcmp(res->ja3_md5, hash)))
                found = true;
        }
        cr_assert(found, "%s: nothing gave %s", stem, v);
        if (is_str)
            hash[0] = '\0';
        checks++;
    }
    cr_assert_eq(checks, want_checks, "%s: %d checks", stem, checks);
    free(y);
    run_free(&r);
}

Test(tls_reference, suricata_verify)
{
    check_suricata("sv_tls-duplicate-hello", 1);
    check_suricata("sv_tls13_draft18", 1);
    check_suricata("sv_tls13_draft22", 3);
    check_suricata("sv_tls13_draft28", 5);
}

Test(tls_reference, suricata_draft_versions)
{
    struct run r;
    char name[24];

    run_capture(&r, "pcap/tls/sv_tls13_draft22.pcap", 0);
    bool seen = false;
    for (size_t i = 0; i < r.conns.n; i++)
        if (r.st[i].res.flags & PT_TLS_F_SERVER_HELLO) {
            pt_tls_version_name(r.st[i].res.version, name);
            cr_assert_str_eq(name, "TLSv13-draft22"); /* suricata: "TLS 1.3 draft-22" */
            seen = true;
        }
    cr_assert(seen);
    run_free(&r);
    run_capture(&r, "pcap/tls/sv_tls13_draft18.pcap", 0);
    seen = false;
    for (size_t i = 0; i < r.conns.n; i++)
        if (r.st[i].res.flags & PT_TLS_F_SERVER_HELLO) {
            pt_tls_version_name(r.st[i].res.version, name);
            cr_assert_str_eq(name, "TLSv13-draft18");
            seen = true;
        }
    cr_assert(seen);
    run_free(&r);
}

/* ---- nDPI ---- */

/* Text after "[@key: " up to the next ']' (or NULL). */
static bool bracket(const char *line, const char *key, char *out, size_t cap)
{
    char pat[64];
    snprintf(pat, sizeof pat, "[%s: ", key);
    const char *p = strstr(line, pat);
    if (!p)
        return false;
    p += strlen(pat);
    const char *e = strchr(p, ']');
    size_t n = e ? (size_t)(e - p) : strlen(p);
    cr_assert_lt(n, cap);
    memcpy(out, p, n);
    out[n] = '\0';
    return true;
}

/* nDPI prints names forward, ", " separated: turn ours (RFC 2253, reversed). */
static void forward_dn(char *out, size_t cap, const char *dn)
{
    char tmp[PT_TLS_DN_MAX];
    char *part[64];
    int n = 0;

    snprintf(tmp, sizeof tmp, "%s", dn);
    for (char *s = strtok(tmp, ","); s && n < 64; s = strtok(NULL, ","))
        part[n++] = s;
    out[0] = '\0';
    for (int i = n - 1; i >= 0; i--)
        snprintf(out + strlen(out), cap - strlen(out), "%s%s", i == n - 1 ? "" : ", ", part[i]);
}

static void check_ndpi(const char *cat, const char *stem, int want_flows)
{
    char p[256];
    struct run r;
    int flows = 0;

    snprintf(p, sizeof p, "pcap/%s/%s.ndpi.out", cat, stem);
    char *text = pt_test_slurp(pt_test_data(p), NULL);
    cr_assert_not_null(text);
    snprintf(p, sizeof p, "pcap/%s/%s.pcap", cat, stem);
    run_capture(&r, p, 0);
    char *save = NULL;
    for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        char a[80], v[512], mine[512];
        const struct pt_tls_result *res = NULL;
        if (!strstr(l, "TCP ") || !strstr(l, "[JA3"))
            continue;
        /* "TCP 1.2.3.4:5 <-> 6.7.8.9:443" or "[v6]:port" */
        const char *t = strstr(l, "TCP ") + 4;
        char ea[2][80];
        if (sscanf(t, "%79s <-> %79s", ea[0], ea[1]) != 2)
            continue;
        for (int k = 0; k < 2; k++) {
            char *c = strrchr(ea[k], ':'), addr[160];
            *c = '\0';
            snprintf(addr, sizeof addr, "%s", ea[k][0] == '[' ? ea[k] + 1 : ea[k]);
            if (ea[k][0] == '[')
                addr[strlen(addr) - 1] = '\0';
            cr_assert_lt(strlen(addr) + 1 + strlen(c + 1), sizeof a);
            strcpy(a, addr);
            strcat(a, " ");
            strcat(a, c + 1);
            memcpy(ea[k], a, sizeof a);
        }
        /* nDPI may list the server first */
        if (!(res = find_res(&r, ea[0], ea[1])))
            res = find_res(&r, ea[1], ea[0]);
        cr_assert_not_null(res, "%s: no connection %s %s", stem, ea[0], ea[1]);
        if (bracket(l, "JA3C", v, sizeof v))
            cr_assert_str_eq(res->ja3_md5, v, "%s %s", stem, ea[0]);
        if (bracket(l, "JA3S", v, sizeof v)) {
            *strchrnul(v, ' ') = '\0'; /* " (WEAK)" */
            cr_assert_str_eq(res->ja3s_md5, v, "%s %s", stem, ea[0]);
        }
        if (bracket(l, "JA4", v, sizeof v)) {
            /* The nDPI that wrote these outputs takes the first two characters
             * of the first ALPN ("ht" for http/1.1); FoxIO's spec and Arkime
             * take the first and the last ("h1"). Everything else must agree. */
            const uint8_t *a1 = res->alpn + 1;
            if (res->alpn_len > 2 && res->alpn[0] > 2 && v[8] == (char)a1[0] &&
                v[9] == (char)a1[1]) {
                cr_assert_eq(res->ja4[8], (char)a1[0]);
                cr_assert_eq(res->ja4[9], (char)a1[res->alpn[0] - 1]);
                v[9] = res->ja4[9];
            }
            /* ... and it writes 'i' for an SNI that is an IP literal, where
             * the spec's test is the presence of the SNI extension. */
            uint8_t ip[16];
            if (v[3] == 'i' && res->ja4[3] == 'd' &&
                (inet_pton(AF_INET, res->server_name, ip) == 1 ||
                 inet_pton(AF_INET6, res->server_name, ip) == 1))
                v[3] = 'd';
            cr_assert_str_eq(res->ja4, v, "%s %s ja4 %s", stem, ea[0], res->ja4);
        }
        if (bracket(l, "Cipher", v, sizeof v))
            cr_assert_str_eq(pt_tls_cipher_name(res->cipher), v, "%s %s", stem, ea[0]);
        if (bracket(l, "(Negotiated) ALPN", v, sizeof v))
            cr_assert_str_eq(res->next_protocol, v, "%s %s", stem, ea[0]);
        if (bracket(l, "(Advertised) ALPNs", v, sizeof v)) {
            list_join(mine, sizeof mine, res->alpn, res->alpn_len);
            for (char *c = mine; *c; c++)
                if (*c == '|')
                    *c = ';';
            cr_assert_str_eq(mine, v, "%s %s", stem, ea[0]);
        }
        if (bracket(l, "Issuer", v, sizeof v)) {
            forward_dn(mine, sizeof mine, res->cert.issuer);
            cr_assert_str_eq(mine, v, "%s %s issuer", stem, ea[0]);
        }
        if (bracket(l, "Validity", v, sizeof v)) {
            char nb[32], na[32];
            time_t t0 = (time_t)res->cert.not_before, t1 = (time_t)res->cert.not_after;
            struct tm tm;
            strftime(nb, sizeof nb, "%Y-%m-%d %H:%M:%S", gmtime_r(&t0, &tm));
            strftime(na, sizeof na, "%Y-%m-%d %H:%M:%S", gmtime_r(&t1, &tm));
            snprintf(mine, sizeof mine, "%s - %s", nb, na);
            cr_assert_str_eq(mine, v, "%s %s validity", stem, ea[0]);
        }
        flows++;
    }
    cr_assert_eq(flows, want_flows, "%s: %d flows", stem, flows);
    free(text);
    run_free(&r);
}

Test(tls_reference, ndpi)
{
    check_ndpi("tls", "ndpi_443-curl", 1);
    check_ndpi("tls", "ndpi_ja3_lots_of_cipher_suites", 1);
    check_ndpi("tls", "ndpi_tls_missing_ch_frag", 1);
    check_ndpi("ipv6", "ndpi_http_ipv6", 6);
    check_ndpi("mixed", "ndpi_1kxun", 4);
}

/* ---- Arkime ---- */

/* First string of the JSON array under "@key": [ ... ]. */
static bool arkime_field(const char *json, const char *key, char *out, size_t cap)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\"", key);
    const char *p = strstr(json, pat);
    if (!p)
        return false;
    p += strlen(pat);
    p += strspn(p, " :\n");
    if (*p != '[' || !(p = strchr(p, '"')))
        return false;
    const char *e = strchr(p + 1, '"');
    cr_assert_not_null(e);
    cr_assert_lt((size_t)(e - p - 1), cap);
    memcpy(out, p + 1, (size_t)(e - p - 1));
    out[e - p - 1] = '\0';
    return true;
}

static void check_arkime(const char *stem)
{
    char p[256], v[1024];
    struct run r;

    snprintf(p, sizeof p, "pcap/tls/%s.arkime.test.json", stem);
    char *json = pt_test_slurp(pt_test_data(p), NULL);
    cr_assert_not_null(json);
    snprintf(p, sizeof p, "pcap/tls/%s.pcap", stem);
    run_capture(&r, p, 0);
    const struct pt_tls_result *res = NULL;
    for (size_t i = 0; i < r.conns.n; i++)
        if (r.st[i].res.flags & PT_TLS_F_CLIENT_HELLO)
            res = &r.st[i].res;
    cr_assert_not_null(res);
    cr_assert(arkime_field(json, "ja3", v, sizeof v));
    cr_assert_str_eq(res->ja3_md5, v, "%s", stem);
    cr_assert(arkime_field(json, "ja3string", v, sizeof v));
    cr_assert_str_eq(res->ja3, v, "%s", stem);
    cr_assert(arkime_field(json, "ja3s", v, sizeof v));
    cr_assert_str_eq(res->ja3s_md5, v, "%s", stem);
    cr_assert(arkime_field(json, "ja3sstring", v, sizeof v));
    cr_assert_str_eq(res->ja3s, v, "%s", stem);
    cr_assert(arkime_field(json, "ja4", v, sizeof v));
    cr_assert_str_eq(res->ja4, v, "%s", stem);
    cr_assert(arkime_field(json, "cipher", v, sizeof v));
    cr_assert_str_eq(pt_tls_cipher_name(res->cipher), v, "%s", stem);
    cr_assert(arkime_field(json, "host", v, sizeof v));
    cr_assert_str_eq(res->server_name, v, "%s", stem);
    free(json);
    run_free(&r);
}

Test(tls_reference, arkime)
{
    check_arkime("arkime_tls-split-client-hello");
    check_arkime("arkime_tls13");
}

/* ---- crafted input ---- */

struct msg {
    uint8_t b[8192];
    size_t n;
};

static void put(struct msg *m, const void *p, size_t n)
{
    cr_assert_leq(m->n + n, sizeof m->b);
    if (n)
        memcpy(m->b + m->n, p, n);
    m->n += n;
}

static void put8(struct msg *m, unsigned v)
{
    uint8_t b = (uint8_t)v;
    put(m, &b, 1);
}

static void put16(struct msg *m, unsigned v)
{
    put8(m, v >> 8);
    put8(m, v);
}

static void put24(struct msg *m, unsigned v)
{
    put8(m, v >> 16);
    put16(m, v & 0xffff);
}

/* A ClientHello body: version 0x0303, ciphers, and @ext (already framed). */
static void client_hello(struct msg *m, const uint16_t *cs, size_t ncs, const struct msg *ext)
{
    uint8_t rnd[32] = {0};

    m->n = 0;
    put16(m, 0x0303);
    put(m, rnd, 32);
    put8(m, 0);
    put16(m, (unsigned)(2 * ncs));
    for (size_t i = 0; i < ncs; i++)
        put16(m, cs[i]);
    put8(m, 1);
    put8(m, 0);
    if (ext) {
        put16(m, (unsigned)ext->n);
        put(m, ext->b, ext->n);
    }
}

static void ext_add(struct msg *e, unsigned type, const void *body, size_t n)
{
    put16(e, type);
    put16(e, (unsigned)n);
    put(e, body, n);
}

/* Wrap handshake message @type/@body into records of at most @frag bytes. */
static void records(struct msg *out, unsigned type, const struct msg *body, size_t frag)
{
    struct msg hs = {.n = 0};

    put8(&hs, type);
    put24(&hs, (unsigned)body->n);
    put(&hs, body->b, body->n);
    out->n = 0;
    for (size_t o = 0; o < hs.n; o += frag) {
        size_t k = hs.n - o < frag ? hs.n - o : frag;
        put8(out, 22);
        put16(out, 0x0301);
        put16(out, (unsigned)k);
        put(out, hs.b + o, k);
    }
}

static enum pt_tls_status feed(struct pt_tls_state *s, unsigned dir, const struct msg *m)
{
    uint8_t *copy = malloc(m->n ? m->n : 1);
    memcpy(copy, m->b, m->n);
    enum pt_tls_status st = pt_tls_feed(s, dir, 0, copy, m->n);
    free(copy);
    return st;
}

static const uint16_t grease_cs[] = {0x1a1a, 0x1301, 0xc02f, 0x002f};

static void grease_hello(struct msg *m)
{
    struct msg e = {.n = 0};
    static const uint8_t sni[] = {0,   14,  0,   0,   11,  'e', 'x', 'a',
                                  'm', 'p', 'l', 'e', '.', 'o', 'r', 'g'};
    static const uint8_t groups[] = {0, 6, 0x2a, 0x2a, 0, 29, 0, 23};
    static const uint8_t pf[] = {1, 0};
    static const uint8_t sig[] = {0, 4, 0x04, 0x03, 0x08, 0x04};
    static const uint8_t alpn[] = {0, 12, 2, 'h', '2', 8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
    static const uint8_t sv[] = {6, 0x3a, 0x3a, 0x03, 0x04, 0x03, 0x03};

    ext_add(&e, 0x0a0a, NULL, 0);
    ext_add(&e, 0, sni, sizeof sni);
    ext_add(&e, 10, groups, sizeof groups);
    ext_add(&e, 11, pf, sizeof pf);
    ext_add(&e, 13, sig, sizeof sig);
    ext_add(&e, 16, alpn, sizeof alpn);
    ext_add(&e, 43, sv, sizeof sv);
    client_hello(m, grease_cs, 4, &e);
}

/* GREASE dropped from JA3 and JA4; the same hello through 1-byte records
 * fed one byte at a time gives the same answer. */
Test(tls_crafted, grease_and_fragmented_records)
{
    struct msg body, rec;
    struct pt_tls_stats stats = {0};
    struct pt_tls_state s;

    grease_hello(&body);
    records(&rec, 1, &body, 1 << 14);
    pt_tls_init(&s, &stats);
    cr_assert_eq(feed(&s, 0, &rec), PT_TLS_NEED_MORE);
    cr_assert(s.res.flags & PT_TLS_F_CLIENT_HELLO);
    cr_assert_str_eq(s.res.ja3, "771,4865-49199-47,0-10-11-13-16-43,29-23,0");
    cr_assert_str_eq(s.res.server_name, "example.org");
    cr_assert_eq(s.res.n_versions, 3);
    cr_assert_eq(s.res.versions[0], 0x3a3a); /* kept as offered */
    /* JA4: TLS 1.3 from supported_versions, 3 ciphers, 6 extensions */
    cr_assert_eq(strncmp(s.res.ja4, "t13d0306h2_", 11), 0, "%s", s.res.ja4);
    char ja4[40];
    strcpy(ja4, s.res.ja4);

    records(&rec, 1, &body, 1); /* one handshake byte per record */
    pt_tls_init(&s, &stats);
    for (size_t i = 0; i < rec.n; i++) {
        struct msg one = {.n = 0};
        put(&one, rec.b + i, 1);
        feed(&s, 0, &one);
    }
    cr_assert(s.res.flags & PT_TLS_F_CLIENT_HELLO);
    cr_assert_str_eq(s.res.ja3, "771,4865-49199-47,0-10-11-13-16-43,29-23,0");
    cr_assert_str_eq(s.res.ja4, ja4);
    cr_assert_eq(stats.client_hellos, 2);
    for (unsigned e = 1; e < PT_TLS_E_MAX; e++)
        cr_assert_eq(stats.err[e], 0, "%s", pt_tls_err_name(e));
}

/* JA4 c part: SHA-256 of "000a,000b,000d,002b_0403,0804" (SNI and ALPN out,
 * GREASE out, sorted), b part of "002f,1301,c02f". */
Test(tls_crafted, ja4_hash_input)
{
    struct msg body, rec;
    struct pt_tls_stats stats = {0};
    struct pt_tls_state s;
    char cmd[256], *out = NULL;

    grease_hello(&body);
    records(&rec, 1, &body, 1 << 14);
    pt_tls_init(&s, &stats);
    feed(&s, 0, &rec);
    snprintf(cmd, sizeof cmd,
             "printf '%%s' '002f,1301,c02f' | sha256sum | cut -c1-12;"
             "printf '%%s' '000a,000b,000d,002b_0403,0804' | sha256sum | cut -c1-12");
    cr_assert_eq(pt_test_run(cmd, &out, NULL), 0);
    char b[13], c[13];
    cr_assert_eq(sscanf(out, "%12s %12s", b, c), 2);
    char want[40];
    snprintf(want, sizeof want, "t13d0306h2_%s_%s", b, c);
    cr_assert_str_eq(s.res.ja4, want);
    free(out);
}

Test(tls_crafted, not_tls)
{
    struct pt_tls_stats stats = {0};
    struct pt_tls_state s;
    struct msg m = {.n = 0};

    put(&m, "GET / HTTP/1.1\r\n", 16);
    pt_tls_init(&s, &stats);
    cr_assert_eq(feed(&s, 0, &m), PT_TLS_NOT_TLS);
    cr_assert_eq(feed(&s, 1, &m), PT_TLS_NOT_TLS);
    cr_assert_eq(stats.err[PT_TLS_E_NOT_TLS], 1);

    uint8_t v2[] = {0x80, 0x2e, 0x01, 0x00, 0x02, 0x00, 0x15};
    m.n = 0;
    put(&m, v2, sizeof v2);
    pt_tls_init(&s, &stats);
    cr_assert_eq(feed(&s, 0, &m), PT_TLS_NOT_TLS);
    cr_assert_eq(stats.err[PT_TLS_E_SSLV2], 1);
}

/* Lying lengths inside the hello: counted, no fields, the direction ends. */
Test(tls_crafted, lying_lengths)
{
    struct msg body, rec;
    struct pt_tls_stats stats = {0};
    struct pt_tls_state s;

    grease_hello(&body);
    body.b[2 + 32 + 1] = 0xff; /* cipher vector length high byte */
    records(&rec, 1, &body, 1 << 14);
    pt_tls_init(&s, &stats);
    feed(&s, 0, &rec);
    cr_assert_not(s.res.flags & PT_TLS_F_CLIENT_HELLO);
    cr_assert_eq(stats.err[PT_TLS_E_CH_TRUNC], 1);
    cr_assert(s.dir[0].done);

    /* extension block claims 2 more bytes than there are */
    grease_hello(&body);
    size_t eoff = 2 + 32 + 1 + 2 + 8 + 2;
    unsigned el = (unsigned)body.b[eoff] << 8 | body.b[eoff + 1];
    body.b[eoff] = (uint8_t)((el + 2) >> 8);
    body.b[eoff + 1] = (uint8_t)(el + 2);
    records(&rec, 1, &body, 1 << 14);
    pt_tls_init(&s, &stats);
    feed(&s, 0, &rec);
    cr_assert_not(s.res.flags & PT_TLS_F_CLIENT_HELLO);
    cr_assert_eq(stats.err[PT_TLS_E_CH_TRUNC], 2);
    cr_assert_eq(s.res.sni_len, 0);

    /* SNI list length lies: counted, the hello still parsed */
    struct msg e = {.n = 0};
    static const uint8_t bad_sni[] = {0, 40, 0, 0, 3, 'a', '.', 'b'};
    ext_add(&e, 0, bad_sni, sizeof bad_sni);
    client_hello(&body, grease_cs, 4, &e);
    records(&rec, 1, &body, 1 << 14);
    pt_tls_init(&s, &stats);
    feed(&s, 0, &rec);
    cr_assert(s.res.flags & PT_TLS_F_CLIENT_HELLO);
    cr_assert_not(s.res.flags & PT_TLS_F_SNI);
    cr_assert_eq(stats.err[PT_TLS_E_EXT_BAD], 1);

    /* record length beyond the TLS bound after a good first record */
    struct msg m = {.n = 0};
    uint8_t hdr[] = {22, 3, 1, 0x50, 0x00, 0};
    put(&m, hdr, sizeof hdr);
    pt_tls_init(&s, &stats);
    struct msg ok = {.n = 0};
    uint8_t empty_req[] = {22, 3, 3, 0, 4, 0, 0, 0, 0}; /* HelloRequest */
    put(&ok, empty_req, sizeof empty_req);
    cr_assert_eq(feed(&s, 1, &ok), PT_TLS_NEED_MORE);
    cr_assert_eq(feed(&s, 1, &m), PT_TLS_NEED_MORE);
    cr_assert_eq(stats.err[PT_TLS_E_RECORD_BAD], 1);
    cr_assert(s.dir[1].done);
}

Test(tls_crafted, too_big_and_truncated_strings)
{
    struct msg body = {.n = 0}, rec = {.n = 0};
    struct pt_tls_stats stats = {0};
    struct pt_tls_state s;

    /* handshake header claiming more than the buffer */
    uint8_t big[] = {22, 3, 1, 0, 4, 1, 0, 0x20, 0x00};
    put(&rec, big, sizeof big);
    pt_tls_init(&s, &stats);
    feed(&s, 0, &rec);
    cr_assert_eq(stats.err[PT_TLS_E_TOO_BIG], 1);
    cr_assert(s.dir[0].done);

    /* a 300-byte SNI and a 200-byte ALPN list */
    struct msg e = {.n = 0}, sni = {.n = 0}, alpn = {.n = 0};
    put16(&sni, 303);
    put8(&sni, 0);
    put16(&sni, 300);
    for (int i = 0; i < 300; i++)
        put8(&sni, 'a');
    ext_add(&e, 0, sni.b, sni.n);
    put16(&alpn, 10 * 21);
    for (int i = 0; i < 10; i++) {
        put8(&alpn, 20);
        for (int j = 0; j < 20; j++)
            put8(&alpn, 'a' + i);
    }
    ext_add(&e, 16, alpn.b, alpn.n);
    client_hello(&body, grease_cs, 4, &e);
    records(&rec, 1, &body, 1 << 14);
    pt_tls_init(&s, &stats);
    feed(&s, 0, &rec);
    cr_assert(s.res.flags & PT_TLS_F_CLIENT_HELLO);
    cr_assert_eq(s.res.sni_len, PT_TLS_SNI_MAX - 1);
    cr_assert_eq(strlen(s.res.server_name), PT_TLS_SNI_MAX - 1);
    cr_assert_eq(stats.err[PT_TLS_E_SNI_TRUNC], 1);
    cr_assert_eq(s.res.alpn_len, 6 * 21); /* whole entries only */
    cr_assert_eq(stats.err[PT_TLS_E_ALPN_TRUNC], 1);
    cr_assert_eq(s.res.ja4[8], 'a', "%s", s.res.ja4); /* first ALPN "aaa...a" */
    cr_assert_eq(s.res.ja4[9], 'a');
}

/* The longest JA3 strings: a ClientHello filling the buffer with 5-digit
 * ciphers and 3-digit point formats makes a string longer than the 12,351
 * characters (3 * PT_TLS_BUF_SIZE + 63) the parser builds, so the MD5 covers
 * its first 12,351 characters. Making 0 to 7 of the ciphers 4-digit moves
 * the cut across every place of a "-ddd" point: the writer's fast path
 * (whole numbers while there is room) must hand over to its
 * character-by-character path at exactly that length. */
Test(tls_crafted, ja3_longest_string_cut)
{
    enum { CUT = 3 * PT_TLS_BUF_SIZE + 64 - 1, NCS = 1897, NP = 255 };
    static uint16_t cs[NCS];
    static char want[16384];
    struct pt_tls_stats stats = {0};
    struct pt_tls_state s;
    struct msg body, rec, e = {.n = 0}, pts = {.n = 0};

    put8(&pts, NP);
    for (unsigned i = 0; i < NP; i++)
        put8(&pts, 255 - i % 3 * 50); /* 255, 205, 155 */
    ext_add(&e, 11, pts.b, pts.n);
    for (unsigned shift = 0; shift < 8; shift++) {
        for (size_t i = 0; i < NCS; i++)
            cs[i] = i < shift ? 0x1001 : 0xfefe; /* 4097, 65278: neither is GREASE */
        client_hello(&body, cs, NCS, &e);
        cr_assert_leq(body.n, PT_TLS_BUF_SIZE);
        records(&rec, 1, &body, 1 << 14);
        pt_tls_init(&s, &stats);
        feed(&s, 0, &rec);
        cr_assert(s.res.flags & PT_TLS_F_CLIENT_HELLO, "shift %u", shift);

        size_t n = (size_t)snprintf(want, sizeof want, "771,");
        for (size_t i = 0; i < NCS; i++)
            n += (size_t)snprintf(want + n, sizeof want - n, "%s%u", i ? "-" : "", cs[i]);
        n += (size_t)snprintf(want + n, sizeof want - n, ",11,,");
        for (unsigned i = 0; i < NP; i++)
            n +=
                (size_t)snprintf(want + n, sizeof want - n, "%s%u", i ? "-" : "", 255 - i % 3 * 50);
        cr_assert_gt(n, CUT + 8, "shift %u: %zu", shift, n);
        uint8_t md[EVP_MAX_MD_SIZE];
        unsigned ml = 0;
        char hexd[33];
        cr_assert(EVP_Digest(want, CUT, md, &ml, EVP_md5(), NULL));
        for (unsigned i = 0; i < 16; i++)
            snprintf(hexd + 2 * i, 3, "%02x", md[i]);
        cr_assert_str_eq(s.res.ja3_md5, hexd, "shift %u", shift);
        cr_assert_eq(strncmp(s.res.ja3, want, sizeof s.res.ja3 - 1), 0, "shift %u", shift);
    }
}

/* Loops: thousands of empty records and empty skipped messages make
 * progress and end nowhere bad; the ClientHello after them still counts. */
Test(tls_crafted, empty_records_loop)
{
    struct pt_tls_stats stats = {0};
    struct pt_tls_state s;
    struct msg m = {.n = 0}, body, rec;
    uint8_t empty[] = {22, 3, 3, 0, 0};
    uint8_t hello_req[] = {22, 3, 3, 0, 4, 0, 0, 0, 0};

    pt_tls_init(&s, &stats);
    for (int i = 0; i < 600; i++)
        put(&m, empty, sizeof empty);
    for (int i = 0; i < 300; i++)
        put(&m, hello_req, sizeof hello_req);
    cr_assert_eq(feed(&s, 1, &m), PT_TLS_NEED_MORE);
    cr_assert_not(s.dir[1].done);
    grease_hello(&body);
    records(&rec, 1, &body, 1 << 14);
    m.n = 0;
    for (int i = 0; i < 1000; i++)
        put(&m, empty, sizeof empty);
    put(&m, rec.b, rec.n);
    feed(&s, 0, &m);
    cr_assert(s.res.flags & PT_TLS_F_CLIENT_HELLO);
}

/* A server handshake: HelloRetryRequest, CCS, ServerHello(1.3). */
Test(tls_crafted, hello_retry_request)
{
    struct pt_tls_stats stats = {0};
    struct pt_tls_state s;
    struct msg sh = {.n = 0}, rec, all = {.n = 0};
    static const uint8_t hrr[32] = {
        0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c,
        0x02, 0x1e, 0x65, 0xb8, 0x91, 0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb,
        0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
    };
    uint8_t rnd[32] = {1};
    uint8_t ccs[] = {20, 3, 3, 0, 1, 1};

    put16(&sh, 0x0303);
    put(&sh, hrr, 32);
    put8(&sh, 0);
    put16(&sh, 0x1302);
    put8(&sh, 0);
    put16(&sh, 6);
    put16(&sh, 43);
    put16(&sh, 2);
    put16(&sh, 0x0304);
    records(&rec, 2, &sh, 1 << 14);
    put(&all, rec.b, rec.n);
    put(&all, ccs, sizeof ccs);
    memcpy(sh.b + 2, rnd, 32);
    sh.b[2 + 32 + 1 + 1] = 0x01; /* cipher 0x1301 in the real one */
    records(&rec, 2, &sh, 1 << 14);
    put(&all, rec.b, rec.n);

    pt_tls_init(&s, &stats);
    cr_assert_eq(feed(&s, 1, &all), PT_TLS_NEED_MORE); /* client still to come */
    cr_assert(s.res.flags & PT_TLS_F_HRR);
    cr_assert(s.res.flags & PT_TLS_F_SERVER_HELLO);
    cr_assert_eq(s.res.cipher, 0x1301);
    cr_assert_eq(s.res.version, 0x0304);
    cr_assert_str_eq(s.res.ja3s, "771,4865,43");
    cr_assert(s.dir[1].done);
    cr_assert_eq(pt_tls_gap(&s, 0), PT_TLS_DONE);
    cr_assert_eq(stats.err[PT_TLS_E_GAP], 1);
}

/* ---- certificates ---- */

static void tlv(struct msg *m, unsigned tag, const struct msg *c)
{
    put8(m, tag);
    if (c->n < 128) {
        put8(m, (unsigned)c->n);
    } else {
        put8(m, 0x82);
        put16(m, (unsigned)c->n);
    }
    put(m, c->b, c->n);
}

static void tlv_raw(struct msg *m, unsigned tag, const void *p, size_t n)
{
    struct msg c = {.n = 0};
    put(&c, p, n);
    tlv(m, tag, &c);
}

/* AttributeTypeAndValue SEQUENCE {OID, value} appended to @set. */
static void atv(struct msg *set, const uint8_t *oid, size_t oidn, unsigned vtag, const void *v,
                size_t vn)
{
    struct msg a = {.n = 0};
    tlv_raw(&a, 0x06, oid, oidn);
    tlv_raw(&a, vtag, v, vn);
    tlv(set, 0x30, &a);
}

static const uint8_t OID_CN[] = {0x55, 4, 3}, OID_O[] = {0x55, 4, 10}, OID_C[] = {0x55, 4, 6},
                     OID_OU[] = {0x55, 4, 11}, OID_X[] = {0x2a, 3, 4};

/* Name: C=US / O="A, B+C" (UTF8 with é) / OU=T61 latin-1 + unknown OID
 * (multi-valued) / CN=" #x " */
static void crafted_name(struct msg *name)
{
    struct msg seq = {.n = 0}, set;

    set.n = 0;
    atv(&set, OID_C, 3, 0x13, "US", 2);
    tlv(&seq, 0x31, &set);
    set.n = 0;
    atv(&set, OID_O, 3, 0x0c, "A, B+C \xc3\xa9", 9);
    tlv(&seq, 0x31, &set);
    set.n = 0;
    atv(&set, OID_OU, 3, 0x14, "caf\xe9", 4);
    atv(&set, OID_X, 3, 0x13, "z", 1);
    tlv(&seq, 0x31, &set);
    set.n = 0;
    atv(&set, OID_CN, 3, 0x0c, " #x ", 4);
    tlv(&seq, 0x31, &set);
    name->n = 0;
    tlv(name, 0x30, &seq);
}

static void crafted_cert(struct msg *cert, bool self, const char *nb, const char *na)
{
    struct msg tbs = {.n = 0}, t = {.n = 0}, name, issuer = {.n = 0}, validity = {.n = 0};
    struct msg san = {.n = 0}, gn = {.n = 0}, ext = {.n = 0}, exts = {.n = 0}, wrap = {.n = 0};
    static const uint8_t v3[] = {0x02, 0x01, 0x02};
    static const uint8_t sha256rsa[] = {0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86,
                                        0xf7, 0x0d, 0x01, 0x01, 0x0b, 0x05, 0x00};
    static const uint8_t spki[] = {0x30, 0x12, 0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86,
                                   0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00, 0x03, 0x01, 0x00};
    static const uint8_t oid_san[] = {0x55, 0x1d, 0x11}, ip4[] = {192, 0, 2, 1};

    tlv_raw(&tbs, 0xa0, v3, 3);
    tlv_raw(&tbs, 0x02, "\x01", 1);
    put(&tbs, sha256rsa, sizeof sha256rsa);
    crafted_name(&name);
    if (self) {
        issuer = name;
    } else {
        struct msg set = {.n = 0}, seq = {.n = 0};
        atv(&set, OID_CN, 3, 0x13, "Test CA", 7);
        tlv(&seq, 0x31, &set);
        tlv(&issuer, 0x30, &seq);
    }
    put(&tbs, issuer.b, issuer.n);
    tlv_raw(&validity, 0x17, nb, strlen(nb));
    tlv_raw(&validity, strlen(na) == 13 ? 0x17 : 0x18, na, strlen(na));
    tlv(&tbs, 0x30, &validity);
    put(&tbs, name.b, name.n);
    put(&tbs, spki, sizeof spki);
    tlv_raw(&gn, 0x82, "a.example", 9);
    tlv_raw(&gn, 0x87, ip4, 4);
    tlv_raw(&gn, 0x82, "b.example", 9);
    tlv(&san, 0x30, &gn);
    tlv_raw(&ext, 0x06, oid_san, 3);
    tlv(&ext, 0x04, &san);
    tlv(&exts, 0x30, &ext);
    tlv(&wrap, 0x30, &exts);
    tlv(&tbs, 0xa3, &wrap);
    tlv(&t, 0x30, &tbs);
    put(&t, sha256rsa, sizeof sha256rsa);
    tlv_raw(&t, 0x03, "\x00", 1);
    cert->n = 0;
    tlv(cert, 0x30, &t);
}

Test(tls_x509, rfc2253_names_sans_times)
{
    struct msg cert;
    struct pt_tls_cert c;
    struct pt_tls_stats stats = {0};

    crafted_cert(&cert, false, "200101000000Z", "20491231235959Z");
    cr_assert_eq(pt_x509_parse(cert.b, cert.n, 1700000000, &c, &stats), 0);
    cr_assert_str_eq(c.subject,
                     "CN=\\ #x\\ ,1.2.3.4=#13017A+OU=caf\\C3\\A9,O=A\\, B\\+C \\C3\\A9,C=US");
    cr_assert_str_eq(c.issuer, "CN=Test CA");
    cr_assert_eq(c.not_before, 1577836800);
    cr_assert_eq(c.not_after, 2524607999);
    cr_assert_eq(c.n_san_dns, 2);
    char buf[64];
    list_join(buf, sizeof buf, c.san_dns, c.san_dns_len);
    cr_assert_str_eq(buf, "a.example|b.example");
    cr_assert_eq(c.n_san_ip, 1);
    cr_assert_eq(c.san_ip[0][10], 0xff);
    cr_assert_eq(c.san_ip[0][12], 192);
    cr_assert_eq(c.san_ip[0][15], 1);
    cr_assert_not(c.self_signed);
    cr_assert_not(c.expired);

    crafted_cert(&cert, true, "200101000000Z", "210101000000Z");
    cr_assert_eq(pt_x509_parse(cert.b, cert.n, 1700000000, &c, &stats), 0);
    cr_assert(c.self_signed);
    cr_assert(c.expired);
    cr_assert_str_eq(c.issuer, c.subject);
    for (unsigned e = 1; e < PT_TLS_E_MAX; e++)
        cr_assert_eq(stats.err[e], 0, "%s", pt_tls_err_name(e));
}

/* The crafted names agree with OpenSSL's own RFC 2253 printer. */
Test(tls_x509, names_match_openssl)
{
    struct msg cert;
    struct pt_tls_cert c;
    char path[] = "/tmp/pt-tls-XXXXXX", cmd[256], *out = NULL;

    crafted_cert(&cert, false, "200101000000Z", "20491231235959Z");
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    FILE *f = fdopen(fd, "wb");
    fwrite(cert.b, 1, cert.n, f);
    fclose(f);
    snprintf(cmd, sizeof cmd,
             "openssl x509 -inform DER -in %s -noout -subject -nameopt RFC2253 2>/dev/null", path);
    int rc = pt_test_run(cmd, &out, NULL);
    unlink(path);
    cr_assert_eq(rc, 0);
    cr_assert_eq(pt_x509_parse(cert.b, cert.n, 0, &c, NULL), 0);
    char want[512];
    snprintf(want, sizeof want, "subject=%s\n", c.subject);
    cr_assert_str_eq(out, want);
    free(out);
}

/* Every prefix of a real and of a crafted certificate, and every one-byte
 * corruption of the crafted one: never a crash, prefixes always rejected. */
Test(tls_x509, truncated_and_corrupted)
{
    struct msg cert;
    struct pt_tls_cert c;
    struct pt_tls_stats stats = {0};

    crafted_cert(&cert, false, "200101000000Z", "20491231235959Z");
    for (size_t n = 0; n < cert.n; n++) {
        uint8_t *p = malloc(n ? n : 1);
        memcpy(p, cert.b, n);
        cr_assert_eq(pt_x509_parse(p, n, 0, &c, &stats), -EINVAL, "prefix %zu accepted", n);
        free(p);
    }
    cr_assert_eq(stats.err[PT_TLS_E_CERT_BAD], cert.n);
    for (size_t i = 0; i < cert.n; i++)
        for (unsigned v = 0; v < 256; v += 51) {
            uint8_t *p = malloc(cert.n);
            memcpy(p, cert.b, cert.n);
            p[i] = (uint8_t)v;
            pt_x509_parse(p, cert.n, 0, &c, &stats);
            cr_assert_lt(strlen(c.subject), PT_TLS_DN_MAX);
            free(p);
        }
}

/* A certificate fed through a TLS 1.2 server flight: Certificate message
 * with the crafted leaf then a second (skipped) certificate. */
Test(tls_x509, through_certificate_message)
{
    struct msg cert, sh = {.n = 0}, cm = {.n = 0}, rec, all = {.n = 0};
    struct pt_tls_stats stats = {0};
    struct pt_tls_state s;
    uint8_t rnd[32] = {2};

    crafted_cert(&cert, false, "200101000000Z", "210101000000Z");
    put16(&sh, 0x0303);
    put(&sh, rnd, 32);
    put8(&sh, 0);
    put16(&sh, 0xc02f);
    put8(&sh, 0);
    records(&rec, 2, &sh, 1 << 14);
    put(&all, rec.b, rec.n);
    put24(&cm, (unsigned)(2 * (3 + cert.n)));
    put24(&cm, (unsigned)cert.n);
    put(&cm, cert.b, cert.n);
    put24(&cm, (unsigned)cert.n);
    put(&cm, cert.b, cert.n);
    records(&rec, 11, &cm, 100);
    put(&all, rec.b, rec.n);

    pt_tls_init(&s, &stats);
    uint8_t *copy = malloc(all.n);
    memcpy(copy, all.b, all.n);
    pt_tls_feed(&s, 1, 1700000000ull * 1000000000ull, copy, all.n);
    free(copy);
    cr_assert(s.res.flags & PT_TLS_F_CERT);
    cr_assert_str_eq(s.res.cert.issuer, "CN=Test CA");
    cr_assert(s.res.cert.expired);
    cr_assert_str_eq(s.res.ja3s, "771,49199,");
    cr_assert_eq(stats.certs, 1);
    cr_assert(s.dir[1].done);

    /* the same with the leaf's length lying past the message */
    size_t at = all.n - rec.n + 5 + 4 + 3;
    all.b[at] = 0x7f;
    pt_tls_init(&s, &stats);
    copy = malloc(all.n);
    memcpy(copy, all.b, all.n);
    pt_tls_feed(&s, 1, 0, copy, all.n);
    free(copy);
    cr_assert_not(s.res.flags & PT_TLS_F_CERT);
    cr_assert_eq(stats.err[PT_TLS_E_CERT_BAD], 1);
}

/* ---- names ---- */

Test(tls_names, errors_versions_ciphers)
{
    for (unsigned e = 0; e < PT_TLS_E_MAX; e++) {
        cr_assert_eq(strncmp(pt_tls_err_name(e), "app.tls.", 8), 0);
        for (unsigned f = 0; f < e; f++)
            cr_assert_str_neq(pt_tls_err_name(e), pt_tls_err_name(f));
    }
    cr_assert_str_eq(pt_tls_err_name(PT_TLS_E_MAX), "app.tls.unknown");
    char v[24];
    pt_tls_version_name(0x0303, v);
    cr_assert_str_eq(v, "TLSv12");
    pt_tls_version_name(0x0304, v);
    cr_assert_str_eq(v, "TLSv13");
    pt_tls_version_name(0x0301, v);
    cr_assert_str_eq(v, "TLSv10");
    pt_tls_version_name(0x0300, v);
    cr_assert_str_eq(v, "SSLv3");
    pt_tls_version_name(0x7f1c, v);
    cr_assert_str_eq(v, "TLSv13-draft28");
    pt_tls_version_name(0x1234, v);
    cr_assert_str_eq(v, "unknown-4660");
    cr_assert_str_eq(pt_tls_cipher_name(0x1301), "TLS_AES_128_GCM_SHA256");
    cr_assert_str_eq(pt_tls_cipher_name(0xc02f), "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256");
    cr_assert_str_eq(pt_tls_cipher_name(0x002f), "TLS_RSA_WITH_AES_128_CBC_SHA");
    cr_assert_null(pt_tls_cipher_name(0x0a0a));

    struct pt_tls_stats a = {0}, b = {0};
    b.err[PT_TLS_E_GAP] = 3;
    b.certs = 2;
    pt_tls_stats_merge(&a, &b);
    pt_tls_stats_merge(&a, &b);
    cr_assert_eq(a.err[PT_TLS_E_GAP], 6);
    cr_assert_eq(a.certs, 4);
}
