/* test_app_records.c - `packettracer read --format json` writes the app
 * records (dns, http, ssl, dhcp) beside the conn records, with the values
 * tshark shows for the same packets. The expected files are the decoder
 * tests' (tests/expected/<category>/<capture>.{dns,http,tls}.tsv, made by
 * tests/tools/gen-expected-{dns,http,tls}.sh, which show the tshark
 * commands); here every capture that has one goes through the whole product
 * (reader, decoder, flow table, app layer, record thread, writer). */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pt/http.h"
#include "support/support.h"

/* The value of "key" in JSON line @line, as text (strings unquoted, escapes
 * kept as written), into @out; false when absent. */
static bool jget(const char *line, const char *key, char *out, size_t cap)
{
    char pat[96];
    const char *p, *e;

    snprintf(pat, sizeof pat, "\"%s\":", key);
    if (!(p = strstr(line, pat)))
        return false;
    p += strlen(pat);
    if (*p == '"') {
        for (e = ++p; *e && *e != '"'; e++)
            if (*e == '\\' && e[1])
                e++;
    } else {
        for (e = p; *e && *e != ',' && *e != '}'; e++)
            ;
    }
    snprintf(out, cap, "%.*s", (int)(e - p), p);
    return true;
}

struct out {
    char **line; /* app records only */
    unsigned n;
    char *buf;
};

static void read_json(const char *capture, struct out *o)
{
    char cmd[1024];
    int st;

    snprintf(cmd, sizeof cmd, "%s read -q %s", pt_test_bin(), capture);
    st = pt_test_run(cmd, &o->buf, NULL);
    cr_assert_eq(st, 0, "%s: exit %d", cmd, st);
    o->n = 0;
    o->line = NULL;
    size_t cap = 0;
    char *save = NULL;
    for (char *l = strtok_r(o->buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        if (strstr(l, "\"_path\":\"conn\""))
            continue;
        if (o->n == cap) {
            cap = cap ? cap * 2 : 64;
            o->line = realloc(o->line, cap * sizeof *o->line);
        }
        o->line[o->n++] = l;
    }
}

static void out_free(struct out *o)
{
    free(o->line);
    free(o->buf);
}

static bool is_path(const char *line, const char *path)
{
    char v[16];
    return jget(line, "_path", v, sizeof v) && strcmp(v, path) == 0;
}

/* ---- parameters: every capture with an expected file of @ext ---- */

struct cap_param {
    char *pcap;     /* testdata path */
    char *expected; /* tests/expected path */
};

static char *cr_dup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = cr_malloc(n);
    memcpy(d, s, n);
    return d;
}

static struct cap_param *params(const char *ext, size_t *n)
{
    static const char *const cats[] = {"dns", "http", "tls", "mixed", "tcp", "dhcp", "vlan"};
    struct cap_param *v = cr_malloc(256 * sizeof *v);
    *n = 0;
    for (unsigned c = 0; c < sizeof cats / sizeof cats[0]; c++) {
        char dir[512];
        snprintf(dir, sizeof dir, "%s/%s", pt_test_src("tests/expected"), cats[c]);
        DIR *d = opendir(dir);
        struct dirent *e;
        if (!d)
            continue;
        while ((e = readdir(d)) != NULL && *n < 256) {
            size_t l = strlen(e->d_name), el = strlen(ext);
            if (l <= el || strcmp(e->d_name + l - el, ext) != 0)
                continue;
            char pcap[512], exp[1024];
            snprintf(pcap, sizeof pcap, "pcap/%s/%.*s", cats[c], (int)(l - el), e->d_name);
            snprintf(exp, sizeof exp, "%s/%s", dir, e->d_name);
            v[*n].pcap = cr_dup(pt_test_data(pcap));
            v[*n].expected = cr_dup(exp);
            (*n)++;
        }
        closedir(d);
    }
    return v;
}

static void params_free(struct criterion_test_params *crp)
{
    struct cap_param *v = crp->params;
    for (size_t i = 0; i < crp->length; i++) {
        cr_free(v[i].pcap);
        cr_free(v[i].expected);
    }
    cr_free(v);
}

/* Split a TSV line in place into at most @max fields. */
static unsigned tsv_split(char *l, char **f, unsigned max)
{
    unsigned n = 0;
    f[n++] = l;
    for (char *p = l; *p && n < max; p++)
        if (*p == '\t') {
            *p = '\0';
            f[n++] = p + 1;
        }
    return n;
}

static void lower(char *s)
{
    for (; *s; s++)
        *s = (char)tolower((unsigned char)*s);
}

/* ---- ssl: one record per connection with a hello, SNI and JA3/JA3S as tshark ---- */

ParameterizedTestParameters(app_records, ssl)
{
    size_t n;
    struct cap_param *v = params(".tls.tsv", &n);
    return cr_make_param_array(struct cap_param, v, n, params_free);
}

ParameterizedTest(struct cap_param *p, app_records, ssl, .timeout = 60)
{
    struct out o;
    char *tsv = pt_test_slurp(p->expected, NULL), *save = NULL;
    unsigned rows = 0;

    cr_assert_not_null(tsv);
    read_json(p->pcap, &o);
    for (char *l = strtok_r(tsv, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        char *f[32], cli[96], srv[96];
        if (strncmp(l, "client\t", 7) == 0)
            continue;
        cr_assert_geq(tsv_split(l, f, 32), 14, "%s: short row", p->expected);
        /* f: 0 client "ip port", 1 server, 2 sni, 7 ja3 md5, 13 ja3s md5 */
        rows++;
        bool found = false;
        for (unsigned i = 0; i < o.n && !found; i++) {
            char oh[64], op[16], rh[64], rp[16], v[256];
            if (!is_path(o.line[i], "ssl") || !jget(o.line[i], "id.orig_h", oh, sizeof oh) ||
                !jget(o.line[i], "id.orig_p", op, sizeof op) ||
                !jget(o.line[i], "id.resp_h", rh, sizeof rh) ||
                !jget(o.line[i], "id.resp_p", rp, sizeof rp))
                continue;
            snprintf(cli, sizeof cli, "%s %s", oh, op);
            snprintf(srv, sizeof srv, "%s %s", rh, rp);
            if (strcmp(cli, f[0]) != 0 || strcmp(srv, f[1]) != 0)
                continue;
            found = true;
            if (strcmp(f[2], "-") != 0) {
                cr_expect(jget(o.line[i], "server_name", v, sizeof v), "%s", o.line[i]);
                cr_expect_str_eq(v, f[2], "%s: %s", p->pcap, cli);
            }
            if (strcmp(f[7], "-") != 0) {
                cr_expect(jget(o.line[i], "ja3", v, sizeof v), "%s", o.line[i]);
                cr_expect_str_eq(v, f[7], "%s: %s ja3", p->pcap, cli);
            }
            if (strcmp(f[13], "-") != 0) {
                cr_expect(jget(o.line[i], "ja3s", v, sizeof v), "%s", o.line[i]);
                cr_expect_str_eq(v, f[13], "%s: %s ja3s", p->pcap, cli);
            }
        }
        cr_expect(found, "%s: no ssl record for %s -> %s", p->pcap, f[0], f[1]);
    }
    cr_expect_gt(rows, 0, "%s has no rows", p->expected);
    free(tsv);
    out_free(&o);
}

/* ---- http: every request tshark shows (TCP), once each; the status codes ---- */

ParameterizedTestParameters(app_records, http)
{
    size_t n;
    struct cap_param *v = params(".http.tsv", &n);
    return cr_make_param_array(struct cap_param, v, n, params_free);
}

ParameterizedTest(struct cap_param *p, app_records, http, .timeout = 60)
{
    struct out o;
    char *tsv = pt_test_slurp(p->expected, NULL), *save = NULL;
    unsigned reqs = 0, codes_tshark = 0, codes_ours = 0;
    bool seen_tshark[600] = {0}, seen_ours[600] = {0};

    cr_assert_not_null(tsv);
    read_json(p->pcap, &o);
    bool *used = calloc(o.n + 1, sizeof *used); /* each record answers one tshark request */
    for (char *l = strtok_r(tsv, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        char *f[32];
        if (strncmp(l, "frame.number", 12) == 0)
            continue;
        /* 0 frame, 1 stream, 2 method, 3 uri, 4 version, 5 host, 6 user_agent,
         * 9 response code */
        if (tsv_split(l, f, 32) < 10 || !*f[1])
            continue; /* no tcp.stream: HTTP over UDP (SSDP), which Zeek's http.log has not */
        long code = atol(f[9]);
        if (code >= 200 || code == 101) { /* final responses (1xx are Zeek's info_code) */
            codes_tshark++;
            seen_tshark[code < 600 ? code : 0] = true;
        }
        if (!*f[2])
            continue;
        reqs++;
        bool found = false;
        for (unsigned i = 0; i < o.n && !found; i++) {
            char m[32], u[512], h[256];
            if (used[i] || !is_path(o.line[i], "http") || !jget(o.line[i], "method", m, sizeof m) ||
                !jget(o.line[i], "uri", u, sizeof u))
                continue;
            /* a URI longer than the record keeps (PT_HTTP_URI_MAX - 1) is cut */
            size_t ul = strlen(u);
            if (strcmp(m, f[2]) != 0 ||
                (strcmp(u, f[3]) != 0 && !(ul == PT_HTTP_URI_MAX - 1 && !strncmp(u, f[3], ul))))
                continue;
            found = true;
            used[i] = true;
            if (*f[5]) {
                cr_expect(jget(o.line[i], "host", h, sizeof h));
                cr_expect_str_eq(h, f[5], "%s: %s", p->pcap, u);
            }
        }
        cr_expect(found, "%s: request %s %s not found", p->pcap, f[2], f[3]);
    }
    for (unsigned i = 0; i < o.n; i++) {
        char c[16];
        if (is_path(o.line[i], "http") && jget(o.line[i], "status_code", c, sizeof c)) {
            long code = atol(c);
            codes_ours++;
            seen_ours[code > 0 && code < 600 ? code : 0] = true;
        }
    }
    /* tshark lists a response per frame, so a retransmitted one twice
     * (arkime_wireshark-retrans: 6 frames, 4 responses), and misses some it
     * cannot reassemble; every status it shows is one of ours */
    for (unsigned c = 100; c < 600; c++)
        cr_expect(!seen_tshark[c] || seen_ours[c], "%s: tshark has status %u, we do not", p->pcap,
                  c);
    cr_expect(codes_tshark == 0 || codes_ours > 0, "%s: no response, tshark %u", p->pcap,
              codes_tshark);
    free(used);
    free(tsv);
    out_free(&o);
}

/* ---- dns: every query and response tshark shows belongs to a dns record ---- */

ParameterizedTestParameters(app_records, dns)
{
    size_t n;
    struct cap_param *v = params(".dns.tsv", &n);
    return cr_make_param_array(struct cap_param, v, n, params_free);
}

ParameterizedTest(struct cap_param *p, app_records, dns, .timeout = 60)
{
    struct out o;
    char *tsv = pt_test_slurp(p->expected, NULL), *save = NULL;
    unsigned msgs = 0, n_dns = 0;

    cr_assert_not_null(tsv);
    read_json(p->pcap, &o);
    /* the tshark fields cover DNS on port 53 (mDNS, LLMNR and NetBIOS are
     * dns records too, but not in the expected file) */
    for (unsigned i = 0; i < o.n; i++) {
        char rp[16], op[16];
        n_dns += is_path(o.line[i], "dns") && jget(o.line[i], "id.resp_p", rp, sizeof rp) &&
                 jget(o.line[i], "id.orig_p", op, sizeof op) &&
                 (strcmp(rp, "53") == 0 || strcmp(op, "53") == 0);
    }
    for (char *l = strtok_r(tsv, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        char *f[40], want[64];
        if (l[0] == '#')
            continue;
        /* 0 frame, 1 id (0x..), 2 response, 3 opcode, 16 qry.name */
        if (tsv_split(l, f, 40) < 17 || !*f[16] || strcmp(f[3], "0") != 0)
            continue;
        msgs++;
        snprintf(want, sizeof want, "%lu", strtoul(f[1], NULL, 16));
        char *name = f[16];
        char *comma = strchr(name, ',');
        if (comma)
            *comma = '\0'; /* the first question */
        lower(name);
        bool found = false;
        for (unsigned i = 0; i < o.n && !found; i++) {
            char id[16], q[300];
            if (!is_path(o.line[i], "dns") || !jget(o.line[i], "trans_id", id, sizeof id) ||
                strcmp(id, want) != 0)
                continue;
            /* a response-only transaction without answers carries no query */
            if (!jget(o.line[i], "query", q, sizeof q))
                found = strcmp(f[2], "1") == 0;
            else
                found = strcmp(q, name) == 0 || (strcmp(name, "<root>") == 0 && q[0] == '\0');
        }
        cr_expect(found, "%s: frame %s (id %s, %s) in no dns record", p->pcap, f[0], f[1], name);
    }
    /* a record is at least one message: never more records than messages */
    cr_expect_leq(n_dns, msgs, "%s: %u records for %u messages", p->pcap, n_dns, msgs);
    cr_expect_gt(msgs, 0);
    free(tsv);
    out_free(&o);
}
