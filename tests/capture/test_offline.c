/* test_offline.c - the offline pipeline: determinism across worker counts
 * (run under TSan by `make tsan`: suite name contains "concurrent"), and
 * input errors that still account every complete record and flow. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pt/capture.h"
#include "support/support.h"

struct recs {
    struct pt_flow_record *v;
    size_t n, cap;
};

static void keep(struct pt_flow_record *rec, void *arg)
{
    struct recs *r = arg;

    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 256;
        r->v = realloc(r->v, r->cap * sizeof *r->v);
        cr_assert_not_null(r->v);
    }
    r->v[r->n++] = *rec;
}

static int run(const char *const *files, unsigned n, unsigned workers, struct recs *out,
               struct pt_offline_result *res)
{
    struct pt_offline_opts o = {.files = files, .n_files = n, .workers = workers};

    pt_flow_config_default(&o.flow);
    o.emit = keep;
    o.emit_arg = out;
    return pt_offline_run(&o, res);
}

static uint64_t total_pkts(const struct recs *r)
{
    uint64_t n = 0;
    for (size_t i = 0; i < r->n; i++)
        n += r->v[i].orig_pkts + r->v[i].resp_pkts;
    return n;
}

static void same_records(const char *rel)
{
    static struct pt_offline_result r1, r4;
    struct recs a = {0}, b = {0};
    const char *path = strdup(pt_test_data(rel));

    cr_assert_eq(run(&path, 1, 1, &a, &r1), 0, "%s", r1.file_msg);
    cr_assert_eq(run(&path, 1, 4, &b, &r4), 0, "%s", r4.file_msg);
    cr_assert_gt(a.n, 0, "%s: no flows", rel);
    cr_assert_eq(a.n, b.n, "%s: %zu flows with 1 worker, %zu with 4", rel, a.n, b.n);
    for (size_t i = 0; i < a.n; i++) {
        const struct pt_flow_record *x = &a.v[i], *y = &b.v[i];
        cr_assert_str_eq(x->uid, y->uid, "%s: record %zu", rel, i);
        cr_assert_eq(x->orig_pkts, y->orig_pkts, "%s: %s orig_pkts", rel, x->uid);
        cr_assert_eq(x->resp_pkts, y->resp_pkts, "%s: %s resp_pkts", rel, x->uid);
        cr_assert_eq(x->orig_ip_bytes, y->orig_ip_bytes, "%s: %s", rel, x->uid);
        cr_assert_eq(x->resp_ip_bytes, y->resp_ip_bytes, "%s: %s", rel, x->uid);
        cr_assert_str_eq(x->history, y->history, "%s: %s", rel, x->uid);
        cr_assert_str_eq(x->conn_state, y->conn_state, "%s: %s", rel, x->uid);
    }
    cr_assert_eq(r1.frames, r4.frames);
    cr_assert_eq(r1.decode.frames, r4.decode.frames, "every frame decoded exactly once");
    cr_assert_eq(r1.decode.frames, r1.frames);
    cr_assert_eq(total_pkts(&a), total_pkts(&b));
    free(a.v);
    free(b.v);
    free((void *)path);
}

Test(offline_concurrent, four_workers_give_the_records_of_one, .timeout = 120)
{
    same_records("pcap/bench/mixed_merged_pcapplusplus.pcap");
    same_records("pcap/mixed/ndpi_1kxun.pcap");
    same_records("pcap/vlan/zeek_mixed-vlan-mpls.pcap");
}

Test(offline, truncated_file_keeps_every_complete_record)
{
    static struct pt_offline_result res;
    struct recs r = {0};
    char dir[] = "/tmp/pt-offline-XXXXXX", cmd[512], path[128];

    cr_assert_not_null(mkdtemp(dir));
    /* zeek_icmp-ping.pcap: 24-byte header + 4 records of 16 + 98 bytes.
     * Cutting at 24 + 3*114 + 50 leaves three whole records. */
    snprintf(path, sizeof path, "%s/cut.pcap", dir);
    snprintf(cmd, sizeof cmd, "head -c %d '%s' > %s", 24 + 3 * 114 + 50,
             pt_test_data("pcap/icmp/zeek_icmp-ping.pcap"), path);
    cr_assert_eq(system(cmd), 0);
    const char *files[] = {path};
    cr_assert_eq(run(files, 1, 1, &r, &res), PT_E_TRUNC);
    cr_assert_eq(res.frames, 3);
    cr_assert_eq(total_pkts(&r), 3, "the three whole records are in the flows");
    cr_assert(strstr(res.file_msg, "truncated") != NULL, "%s", res.file_msg);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
    free(r.v);
}

Test(offline, later_files_are_read_after_a_bad_one)
{
    static struct pt_offline_result res;
    struct recs r = {0};
    const char *ping = strdup(pt_test_data("pcap/icmp/zeek_icmp-ping.pcap"));
    const char *files[] = {"/nonexistent.pcap", ping};

    cr_assert_eq(run(files, 2, 1, &r, &res), -ENOENT);
    cr_assert_eq(res.frames, 4);
    cr_assert_eq(total_pkts(&r), 4);
    free(r.v);
    free((void *)ping);
}

/* Write a pcap of @n one-packet UDP flows at t = 1 s and the same @n again
 * at t = 200 s: past the 60 s UDP idle timeout, so 2 * @n flows. */
static void write_gap_pcap(const char *path, unsigned n)
{
    FILE *f = fopen(path, "wb");
    uint32_t gh[6] = {0xa1b2c3d4, 0x00040002, 0, 0, 65535, 1};
    uint8_t frame[60] = {0};

    cr_assert_not_null(f);
    gh[1] = 2 | 4u << 16; /* version 2.4 as two 16-bit fields */
    fwrite(gh, 4, 6, f);
    memcpy(frame + 12, "\x08\x00", 2);
    frame[14] = 0x45;
    frame[17] = 46; /* IP total length: 20 + 8 + 18 */
    frame[22] = 64;
    frame[23] = 17;
    memcpy(frame + 26, "\x0a\x63\x00\x01", 4);
    memcpy(frame + 30, "\x0a\x63\x01\x01", 4);
    frame[39] = 53;
    frame[41] = 26;
    for (unsigned round = 0; round < 2; round++)
        for (unsigned i = 0; i < n; i++) {
            uint32_t rh[4] = {round ? 200 : 1, i, sizeof frame, sizeof frame};
            frame[34] = (uint8_t)((1024 + i) >> 8); /* source port: one flow per i */
            frame[35] = (uint8_t)(1024 + i);
            fwrite(rh, 4, 4, f);
            fwrite(frame, 1, sizeof frame, f);
        }
    cr_assert_eq(fclose(f), 0);
}

/* A burst of flows that all time out at once, then all come back: every
 * one is two records, whatever the worker count and however the sweep is
 * spread (a bounded hand-off from workers once merged them silently). */
Test(offline_concurrent, flows_back_after_a_gap_are_new_flows, .timeout = 120)
{
    static struct pt_offline_result res;
    char dir[] = "/tmp/pt-gap-XXXXXX", path[128], cmd[160];
    const unsigned n = 6000;

    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/gap.pcap", dir);
    write_gap_pcap(path, n);
    const char *files[] = {path};
    for (unsigned workers = 1; workers <= 4; workers += 3) {
        struct recs r = {0};
        cr_assert_eq(run(files, 1, workers, &r, &res), 0, "%s", res.file_msg);
        cr_assert_eq(res.frames, 2 * n);
        cr_assert_eq(r.n, 2 * n, "%u workers: %zu records for %u flows", workers, r.n, 2 * n);
        for (size_t i = 0; i < r.n; i++)
            cr_assert_eq(r.v[i].orig_pkts + r.v[i].resp_pkts, 1, "record %zu", i);
        free(r.v);
    }
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}
