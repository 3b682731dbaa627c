/* top.c - `packettracer top`: the top hosts or flows over a time range,
 * merged from the store's per-second top lists.
 *
 * DESIGN:
 * 1. The store keeps, for each second, the top N hosts (the union of the top
 *    N by bytes, by packets and by flows) and the top N flows by bytes, and
 *    for each minute a merged list. A host or flow outside a second's list
 *    is not in the store for that second, so the sums here are lower bounds
 *    and hosts that are never in a top list do not appear (--help says so).
 * 2. The 1 s lists of the range are summed per host address / flow uid in an
 *    open-addressing hash table. Where 1 s lists have aged out (they are kept
 *    for less time than the minute lists), the minute lists fill in: every
 *    whole minute of the range that ends at or before the oldest 1 s list
 *    read (or, with no 1 s list at all, every minute of the range).
 * 3. Entries are ranked by the chosen field, ties broken by the other
 *    fields, then by address / uid, so the output is deterministic. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "pt/agg.h"
#include "query.h"

#define PT_CLI_CMD "top"

enum top_by { BY_BYTES = 0, BY_PACKETS, BY_FLOWS };

static const char *const by_name[] = {"bytes", "packets", "flows"};

enum { OPT_HOSTS = PT_CLI_OPT_OWN, OPT_FLOWS };

struct top_opts {
    struct pt_cli_qopts base;
    bool flows;
    enum top_by by;
    bool by_set;
    uint64_t n;
};

struct entry {
    bool used;
    uint8_t key[20]; /* host address (16 bytes) or flow uid */
    uint64_t v[3];   /* bytes, packets, flows (enum top_by) */
    struct pt_top_flow flow;
};

struct merge {
    struct entry *e;
    size_t n, cap; /* cap: a power of two */
    bool flows;
    uint64_t oldest; /* the oldest second of a 1 s list read */
    bool any;
};

static void top_usage(FILE *out)
{
    fputs("usage: packettracer top -d DIR [options]\n"
          "\n"
          "Rank the hosts (or flows) of a time range by bytes, packets or flows, summing the\n"
          "store's per-second top lists. Each second's list holds only that second's top N\n"
          "(N is `run --top-n`, default 10): traffic of hosts and flows outside a second's\n"
          "list is not counted, so the sums are lower bounds and quiet hosts are missing.\n"
          "Where 1 s lists have aged out, the per-minute lists are used.\n"
          "\n"
          "  -d, --datadir DIR     data directory (default " PT_CLI_DATADIR_DEFAULT ")\n"
          "      --hosts           rank hosts (default): IP bytes and packets sent and received\n"
          "      --flows           rank flows (by uid): bytes and packets, both directions\n"
          "  -b, --by F            bytes (default), packets, or flows (hosts only: the sum over\n"
          "                        seconds of the host's flows that carried packets in each)\n"
          "      --from T          start (default: --to minus 1 h)\n"
          "      --to T            end, exclusive (default: the newest second stored + 1)\n"
          "  -n, --count N         show the top N (default 10)\n"
          "  -F, --format F        table (default), json (one object per line), csv\n",
          out);
    pt_cli_usage_help_times(out);
    fputs("Exit status: 0 ok, 1 no store or an empty store, 2 bad usage.\n", out);
}

static int top_opt(void *ctx, int c, const char *arg)
{
    struct top_opts *o = ctx;
    size_t i;

    switch (c) {
    case OPT_HOSTS:
    case OPT_FLOWS:
        o->flows = c == OPT_FLOWS;
        return 0;
    case 'b':
        for (i = 0; i < PT_ARRAY_LEN(by_name) && strcmp(arg, by_name[i]); i++)
            ;
        if (i == PT_ARRAY_LEN(by_name)) {
            fprintf(stderr, "packettracer: --by: '%s' is not bytes, packets or flows\n", arg);
            return 2;
        }
        o->by = (enum top_by)i;
        o->by_set = true;
        return 0;
    case 'n':
        return pt_cli_parse_u64("-n", arg, 1, 1000000, &o->n) ? 0 : 2;
    default:
        return -1;
    }
}

static int top_check(void *ctx)
{
    const struct top_opts *o = ctx;

    if (o->by_set && o->flows && o->by == BY_FLOWS) {
        fputs("packettracer top: --by flows ranks hosts; with --flows use --by bytes or "
              "packets\n",
              stderr);
        return 2;
    }
    return 0;
}

static const struct option top_longopts[] = {
    {"hosts", no_argument, NULL, OPT_HOSTS},
    {"flows", no_argument, NULL, OPT_FLOWS},
    {"by", required_argument, NULL, 'b'},
    {"count", required_argument, NULL, 'n'},
    {NULL, 0, NULL, 0},
};

static const struct pt_cli_qcmd top_cmd = {PT_CLI_CMD, top_longopts, top_usage, top_opt, top_check};

/* ---- merging (DESIGN 2) ---- */

static uint64_t key_hash(const uint8_t *k, size_t len)
{
    uint64_t h = 1469598103934665603ull;

    for (size_t i = 0; i < len; i++)
        h = (h ^ k[i]) * 1099511628211ull;
    return h ^ (h >> 29);
}

static int grow(struct merge *m);

/* The entry of @key, inserted zeroed when new; NULL on -ENOMEM. */
static struct entry *lookup(struct merge *m, const uint8_t key[20])
{
    size_t i;

    if ((m->n + 1) * 2 > m->cap && grow(m) < 0)
        return NULL;
    for (i = key_hash(key, 20) & (m->cap - 1); m->e[i].used; i = (i + 1) & (m->cap - 1))
        if (memcmp(m->e[i].key, key, 20) == 0)
            return &m->e[i];
    m->e[i].used = true;
    memcpy(m->e[i].key, key, 20);
    m->n++;
    return &m->e[i];
}

static int grow(struct merge *m)
{
    struct merge bigger = *m;

    bigger.cap = m->cap ? m->cap * 2 : 1024;
    bigger.n = 0;
    if (!(bigger.e = calloc(bigger.cap, sizeof *bigger.e)))
        return -ENOMEM;
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->e[i].used)
            continue;
        size_t j = key_hash(m->e[i].key, 20) & (bigger.cap - 1);
        while (bigger.e[j].used)
            j = (j + 1) & (bigger.cap - 1);
        bigger.e[j] = m->e[i];
        bigger.n++;
    }
    free(m->e);
    *m = bigger;
    return 0;
}

static int add_list(uint64_t sec, const void *entries, size_t n, void *arg)
{
    struct merge *m = arg;
    uint8_t key[20] = {0};
    struct entry *e;

    if (!m->any || sec < m->oldest)
        m->oldest = sec;
    m->any = true;
    for (size_t i = 0; i < n; i++) {
        if (m->flows) {
            const struct pt_top_flow *f = (const struct pt_top_flow *)entries + i;
            memcpy(key, f->uid, sizeof f->uid);
            if (!(e = lookup(m, key)))
                return -ENOMEM;
            if (!e->flow.uid[0])
                e->flow = *f;
            e->v[BY_BYTES] += f->bytes;
            e->v[BY_PACKETS] += f->pkts;
        } else {
            const struct pt_top_host *h = (const struct pt_top_host *)entries + i;
            memcpy(key, h->addr, 16);
            if (!(e = lookup(m, key)))
                return -ENOMEM;
            e->v[BY_BYTES] += h->bytes;
            e->v[BY_PACKETS] += h->pkts;
            e->v[BY_FLOWS] += h->flows;
        }
    }
    return 0;
}

static int add_minutes(uint64_t sec, const void *entries, size_t n, void *arg)
{
    struct merge *m = arg;
    uint64_t oldest = m->oldest;
    bool any = m->any;
    int rc = add_list(sec, entries, n, arg);

    m->oldest = oldest; /* only 1 s lists move the boundary */
    m->any = any;
    return rc;
}

static int merge_range(struct pt_store *st, struct merge *m, uint64_t from, uint64_t to)
{
    enum pt_top_kind kind = m->flows ? PT_TOP_FLOWS : PT_TOP_HOSTS;
    uint64_t mfrom = from - from % 60, mto;
    int rc;

    if ((rc = pt_store_top_read(st, kind, PT_RES_1S, from, to, add_list, m)) < 0)
        return rc;
    mto = !m->any ? to : m->oldest >= 59 ? m->oldest - 59 : 0;
    if (mto > mfrom)
        rc = pt_store_top_read(st, kind, PT_RES_1M, mfrom, mto, add_minutes, m);
    return rc < 0 ? rc : 0;
}

/* ---- ranking (DESIGN 3) ---- */

static int cmp_entry(const void *x, const void *y, void *arg)
{
    const struct entry *a = x, *b = y;
    enum top_by by = *(const enum top_by *)arg;
    enum top_by order[3] = {by, by == BY_BYTES ? BY_PACKETS : BY_BYTES,
                            by == BY_FLOWS ? BY_PACKETS : BY_FLOWS};

    for (int i = 0; i < 3; i++)
        if (a->v[order[i]] != b->v[order[i]])
            return a->v[order[i]] > b->v[order[i]] ? -1 : 1;
    return memcmp(a->key, b->key, 20);
}

/* ---- output ---- */

static void flow_ends(const struct pt_top_flow *f, char *orig, char *resp, size_t len)
{
    pt_cli_addr_text(orig, len, f->orig_h);
    pt_cli_addr_text(resp, len, f->resp_h);
}

static int print_table(const struct top_opts *o, const struct entry *e, size_t n, uint64_t from,
                       uint64_t to)
{
    static const char *const hh[] = {"#", "HOST", "BYTES", "PACKETS", "FLOWS"};
    static const char *const fh[] = {"#",    "UID",   "PROTO",  "ORIG → RESP",
                                     "VLAN", "BYTES", "PACKETS"};
    struct pt_cli_table *t =
        o->flows ? pt_cli_table_create(7, fh, "rlllrrr") : pt_cli_table_create(5, hh, "rlrrr");
    char a[32], b[32], rank[24], c[4][160], orig[48], resp[48];
    int rc = 0;

    if (!t)
        return -ENOMEM;
    printf("top %llu %s by %s  %s → %s UTC\n", (unsigned long long)o->n,
           o->flows ? "flows" : "hosts", by_name[o->by],
           pt_cli_time_text(a, sizeof a, from * PT_CLI_NS, false),
           pt_cli_time_text(b, sizeof b, to * PT_CLI_NS, false));
    for (size_t i = 0; i < n && rc == 0; i++) {
        snprintf(rank, sizeof rank, "%zu", i + 1);
        pt_cli_fmt_unit(c[0], sizeof c[0], (double)e[i].v[BY_BYTES], PT_CLI_UNIT_BYTES);
        pt_cli_fmt_si(c[1], sizeof c[1], (double)e[i].v[BY_PACKETS]);
        if (o->flows) {
            const struct pt_top_flow *f = &e[i].flow;
            bool ports = f->proto == 6 || f->proto == 17 || f->proto == 132;
            char proto[16];
            flow_ends(f, orig, resp, sizeof orig);
            if (!ports)
                snprintf(c[2], sizeof c[2], "%s → %s", orig, resp);
            else if (f->ver == 6)
                snprintf(c[2], sizeof c[2], "[%s]:%u → [%s]:%u", orig, f->orig_p, resp, f->resp_p);
            else
                snprintf(c[2], sizeof c[2], "%s:%u → %s:%u", orig, f->orig_p, resp, f->resp_p);
            if (f->vlan == PT_VLAN_NONE)
                snprintf(c[3], sizeof c[3], "-");
            else
                snprintf(c[3], sizeof c[3], "%u", f->vlan);
            char uid[21];
            snprintf(uid, sizeof uid, "%.*s", (int)sizeof f->uid, f->uid);
            const char *cells[7] = {rank, uid, pt_agg_proto_name(f->proto, proto), c[2], c[3],
                                    c[0], c[1]};
            rc = pt_cli_table_add(t, cells);
        } else {
            pt_cli_fmt_si(c[2], sizeof c[2], (double)e[i].v[BY_FLOWS]);
            const char *cells[5] = {rank, pt_cli_addr_text(orig, sizeof orig, e[i].key), c[0], c[1],
                                    c[2]};
            rc = pt_cli_table_add(t, cells);
        }
    }
    if (rc == 0)
        rc = pt_cli_table_flush(t, stdout);
    pt_cli_table_destroy(t);
    return rc;
}

static void print_data(const struct top_opts *o, const struct entry *e, size_t n)
{
    bool json = o->base.fmt == PT_CLI_QFMT_JSON;
    char orig[48], resp[48], proto[16];

    if (!json)
        fputs(o->flows ? "uid,proto,id.orig_h,id.orig_p,id.resp_h,id.resp_p,vlan,bytes,packets\n"
                       : "host,bytes,packets,flows\n",
              stdout);
    for (size_t i = 0; i < n; i++) {
        unsigned long long by = e[i].v[BY_BYTES], pk = e[i].v[BY_PACKETS], fl = e[i].v[BY_FLOWS];
        if (!o->flows) {
            pt_cli_addr_text(orig, sizeof orig, e[i].key);
            if (json)
                printf("{\"host\":\"%s\",\"bytes\":%llu,\"packets\":%llu,\"flows\":%llu}\n", orig,
                       by, pk, fl);
            else
                printf("%s,%llu,%llu,%llu\n", orig, by, pk, fl);
            continue;
        }
        const struct pt_top_flow *f = &e[i].flow;
        char uid[21];
        snprintf(uid, sizeof uid, "%.*s", (int)sizeof f->uid, f->uid);
        flow_ends(f, orig, resp, sizeof orig);
        pt_agg_proto_name(f->proto, proto);
        if (json) {
            fputs("{\"uid\":", stdout);
            pt_cli_json_str(stdout, uid);
            printf(",\"proto\":\"%s\",\"id.orig_h\":\"%s\",\"id.orig_p\":%u,\"id.resp_h\":\"%s\","
                   "\"id.resp_p\":%u",
                   proto, orig, f->orig_p, resp, f->resp_p);
            if (f->vlan != PT_VLAN_NONE)
                printf(",\"vlan\":%u", f->vlan);
            printf(",\"bytes\":%llu,\"packets\":%llu}\n", by, pk);
        } else {
            pt_cli_csv_str(stdout, uid);
            printf(",%s,%s,%u,%s,%u,", proto, orig, f->orig_p, resp, f->resp_p);
            if (f->vlan != PT_VLAN_NONE)
                printf("%u", f->vlan);
            printf(",%llu,%llu\n", by, pk);
        }
    }
}

int pt_cli_top(int argc, char **argv)
{
    struct top_opts o = {.n = 10};
    struct merge m = {0};
    struct entry *sorted = NULL;
    struct pt_store *st;
    uint64_t from, to;
    size_t k = 0;
    int rc;

    if ((rc = pt_cli_query_begin(&top_cmd, argc, argv, &o, &o.base, &st)) >= 0)
        return rc;
    if ((rc = pt_cli_range_resolve(PT_CLI_CMD, st, &o.base, &from, &to)))
        goto out;
    m.flows = o.flows;
    if ((rc = merge_range(st, &m, from, to)) < 0)
        goto err;
    if (m.n && !(sorted = malloc(m.n * sizeof *sorted))) {
        rc = -ENOMEM;
        goto err;
    }
    for (size_t i = 0; i < m.cap; i++)
        if (m.e[i].used)
            sorted[k++] = m.e[i];
    qsort_r(sorted, k, sizeof *sorted, cmp_entry, &o.by);
    if (k > o.n)
        k = o.n;
    if (o.base.fmt == PT_CLI_QFMT_TABLE) {
        if ((rc = print_table(&o, sorted, k, from, to)) < 0)
            goto err;
    } else {
        print_data(&o, sorted, k);
    }
    rc = pt_cli_output_done(PT_CLI_CMD);
    goto out;
err:
    fprintf(stderr, "packettracer top: %s\n", pt_strerror(rc));
    rc = 1;
out:
    free(sorted);
    free(m.e);
    pt_store_close(st);
    return rc;
}
