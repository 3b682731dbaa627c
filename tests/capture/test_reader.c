/* test_reader.c - capture file input: pcapng blocks, several interfaces and
 * link types, timestamp resolutions, truncation at every byte. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pt/capture.h"
#include "support/support.h"

static char tmpdir[64];

static void setup(void)
{
    strcpy(tmpdir, "/tmp/pt-reader-XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir));
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    cr_assert_eq(system(cmd), 0);
}

/* A little pcapng writer for the tests (little-endian sections). */
struct ng {
    uint8_t b[4096];
    size_t n;
};

static void put(struct ng *g, const void *p, size_t n)
{
    cr_assert_leq(g->n + n, sizeof g->b);
    memcpy(g->b + g->n, p, n);
    g->n += n;
}

static void put32(struct ng *g, uint32_t v)
{
    put(g, &v, 4);
}

static void put16(struct ng *g, uint16_t v)
{
    put(g, &v, 2);
}

static void ng_shb(struct ng *g)
{
    put32(g, 0x0A0D0D0A);
    put32(g, 28);
    put32(g, 0x1A2B3C4D);
    put16(g, 1);
    put16(g, 0);
    put32(g, 0xffffffff); /* section length unknown */
    put32(g, 0xffffffff);
    put32(g, 28);
}

static void ng_idb(struct ng *g, uint16_t linktype, const char *name, int tsresol)
{
    size_t nl = strlen(name), npad = (nl + 3) & ~3u;
    uint32_t len = 20 + 4 + (uint32_t)npad + (tsresol >= 0 ? 8 : 0) + 4;
    static const uint8_t zero[4];

    put32(g, 1);
    put32(g, len);
    put16(g, linktype);
    put16(g, 0);
    put32(g, 0); /* snaplen */
    put16(g, 2); /* if_name */
    put16(g, (uint16_t)nl);
    put(g, name, nl);
    put(g, zero, npad - nl);
    if (tsresol >= 0) {
        uint8_t v[4] = {(uint8_t)tsresol, 0, 0, 0};
        put16(g, 9);
        put16(g, 1);
        put(g, v, 4);
    }
    put32(g, 0); /* opt_endofopt */
    put32(g, len);
}

static void ng_epb(struct ng *g, uint32_t ifid, uint64_t ts, const uint8_t *data, uint32_t caplen,
                   uint32_t wirelen)
{
    uint32_t pad = (caplen + 3) & ~3u, len = 32 + pad;
    static const uint8_t zero[4];

    put32(g, 6);
    put32(g, len);
    put32(g, ifid);
    put32(g, (uint32_t)(ts >> 32));
    put32(g, (uint32_t)ts);
    put32(g, caplen);
    put32(g, wirelen);
    put(g, data, caplen);
    put(g, zero, pad - caplen);
    put32(g, len);
}

static const char *write_file(const char *name, const void *b, size_t n)
{
    static char path[128];
    FILE *f;

    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    f = fopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(b, 1, n, f), n);
    fclose(f);
    return path;
}

static const uint8_t frame_eth[14] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x08, 0x00};
static const uint8_t frame_raw[5] = {0x45, 0, 0, 20, 0};

/* Block end offsets of the file build_two_links() writes. */
static size_t block_end[5];

static void build_two_links(struct ng *g)
{
    ng_shb(g);
    block_end[0] = g->n;
    ng_idb(g, 1, "mirror0", -1); /* Ethernet, microseconds */
    block_end[1] = g->n;
    ng_idb(g, 101, "tun0", 9); /* raw IP, nanoseconds */
    block_end[2] = g->n;
    ng_epb(g, 0, 1700000000123456ull, frame_eth, sizeof frame_eth, 60);
    block_end[3] = g->n;
    ng_epb(g, 1, 1700000000123456789ull, frame_raw, sizeof frame_raw, 5);
    block_end[4] = g->n;
}

TestSuite(reader, .init = setup, .fini = teardown);

Test(reader, pcapng_interfaces_with_different_link_types)
{
    struct ng g = {0};
    struct pt_reader_rec rec;
    char msg[256];
    int err;

    build_two_links(&g);
    struct pt_reader *r = pt_reader_open(write_file("two.pcapng", g.b, g.n), &err, msg, sizeof msg);
    cr_assert_not_null(r, "%s", msg);

    cr_assert_eq(pt_reader_next(r, &rec, msg, sizeof msg), 1, "%s", msg);
    cr_assert_eq(rec.linktype, 1);
    cr_assert_eq(rec.ifidx, 0);
    cr_assert_eq(rec.caplen, 14);
    cr_assert_eq(rec.wirelen, 60);
    cr_assert_eq(rec.ts_ns, 1700000000123456000ull);
    cr_assert_arr_eq(rec.data, frame_eth, 14);
    cr_assert_str_eq(pt_reader_ifname(r, 0), "mirror0");

    cr_assert_eq(pt_reader_next(r, &rec, msg, sizeof msg), 1, "%s", msg);
    cr_assert_eq(rec.linktype, 101);
    cr_assert_eq(rec.ifidx, 1);
    cr_assert_eq(rec.ts_ns, 1700000000123456789ull);
    cr_assert_str_eq(pt_reader_ifname(r, 1), "tun0");

    cr_assert_eq(pt_reader_next(r, &rec, msg, sizeof msg), 0);
    pt_reader_close(r);
}

/* Every cut of the file: no crash, the records wholly before the cut come
 * back, and the cut is reported as truncation (or a clean end exactly at a
 * block boundary). */
Test(reader, pcapng_truncated_at_every_byte)
{
    struct ng g = {0};

    build_two_links(&g);
    for (size_t cut = 0; cut < g.n; cut++) {
        struct pt_reader_rec rec;
        char msg[256];
        int err, rc, got = 0;
        struct pt_reader *r =
            pt_reader_open(write_file("cut.pcapng", g.b, cut), &err, msg, sizeof msg);
        if (cut < 4) {
            cr_assert_null(r, "cut %zu", cut);
            continue;
        }
        cr_assert_not_null(r, "cut %zu: %s", cut, msg);
        while ((rc = pt_reader_next(r, &rec, msg, sizeof msg)) == 1)
            got++;
        bool at_boundary = false;
        for (size_t i = 0; i < 4; i++)
            at_boundary |= cut == block_end[i];
        if (at_boundary)
            cr_assert_eq(rc, 0, "cut %zu at a block boundary: %d %s", cut, rc, msg);
        else
            cr_assert_eq(rc, PT_E_TRUNC, "cut %zu: rc %d (%s)", cut, rc, msg);
        cr_assert_eq(got, cut >= block_end[3] ? 1 : 0, "cut %zu: %d records", cut, got);
        pt_reader_close(r);
    }
}

Test(reader, pcapng_lying_block_length_is_corrupt)
{
    struct ng g = {0};
    struct pt_reader_rec rec;
    char msg[256];
    int err;

    build_two_links(&g);
    uint32_t bad = 6; /* the first EPB claims 6 bytes: less than a block header */
    memcpy(g.b + block_end[2] + 4, &bad, 4);
    struct pt_reader *r = pt_reader_open(write_file("bad.pcapng", g.b, g.n), &err, msg, sizeof msg);
    cr_assert_not_null(r);
    cr_assert_eq(pt_reader_next(r, &rec, msg, sizeof msg), PT_E_BADFILE);
    cr_assert(strstr(msg, "corrupt") != NULL, "%s", msg);
    pt_reader_close(r);
}

Test(reader, shared_pcapng_multi_interface)
{
    static const uint32_t want_len[] = {96, 214, 70, 166, 70, 182};
    struct pt_reader_rec rec;
    char msg[256];
    int err, n = 0;
    struct pt_reader *r = pt_reader_open(
        pt_test_data("pcap/linktype/zeek_pcapng-multi-interface.pcapng"), &err, msg, sizeof msg);

    cr_assert_not_null(r, "%s", msg);
    while (pt_reader_next(r, &rec, msg, sizeof msg) == 1) {
        cr_assert_lt(n, 6);
        cr_assert_eq(rec.wirelen, want_len[n]);
        cr_assert_eq(rec.ifidx, n < 2 ? 0u : 1u);
        n++;
    }
    cr_assert_eq(n, 6);
    /* values from tshark -T fields -e frame.interface_name -e frame.time_epoch */
    cr_assert_str_eq(pt_reader_ifname(r, 0), "eth0");
    cr_assert_str_eq(pt_reader_ifname(r, 1),
                     "\\Device\\NPF_{5AE6EDB4-EFF9-46B3-A3C2-EE50C688A9E6}");
    pt_reader_close(r);

    r = pt_reader_open(pt_test_data("pcap/linktype/zeek_pcapng-multi-interface.pcapng"), &err, msg,
                       sizeof msg);
    cr_assert_eq(pt_reader_next(r, &rec, msg, sizeof msg), 1);
    cr_assert_eq(rec.ts_ns, 1767663089500330493ull);
    pt_reader_close(r);
}

Test(reader, classic_pcap_nanosecond_and_truncated)
{
    struct pt_reader_rec rec;
    char msg[256], cmd[512];
    int err, n = 0, rc;
    const char *src = pt_test_data("pcap/tcp/tcpdump_tcp-handshake-nano.pcap");
    struct pt_reader *r = pt_reader_open(src, &err, msg, sizeof msg);

    cr_assert_not_null(r, "%s", msg);
    while ((rc = pt_reader_next(r, &rec, msg, sizeof msg)) == 1) {
        cr_assert_eq(rec.linktype, 113); /* Linux cooked */
        n++;
    }
    cr_assert_eq(rc, 0);
    cr_assert_eq(n, 3);
    pt_reader_close(r);

    /* Cut the last record in half: two records, then truncation. */
    snprintf(cmd, sizeof cmd, "head -c 250 '%s' > %s/t.pcap", src, tmpdir);
    cr_assert_eq(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "%s/t.pcap", tmpdir);
    r = pt_reader_open(cmd, &err, msg, sizeof msg);
    cr_assert_not_null(r, "%s", msg);
    n = 0;
    while ((rc = pt_reader_next(r, &rec, msg, sizeof msg)) == 1)
        n++;
    cr_assert_eq(n, 2);
    cr_assert_eq(rc, PT_E_TRUNC, "rc %d: %s", rc, msg);
    pt_reader_close(r);
}

Test(reader, not_a_capture_and_missing_file)
{
    char msg[256];
    int err = 0;

    cr_assert_null(pt_reader_open("/etc/passwd", &err, msg, sizeof msg));
    cr_assert_eq(err, PT_E_BADFILE);
    cr_assert_null(pt_reader_open("/nonexistent/x.pcap", &err, msg, sizeof msg));
    cr_assert_eq(err, -ENOENT);
    cr_assert(strstr(msg, "/nonexistent/x.pcap") != NULL);
}

/* Classic pcap written big-endian, microsecond magic: two records. */
static size_t build_be_pcap(uint8_t *b, uint32_t snaplen, uint32_t caplen2)
{
    size_t n = 0;
    uint32_t hdr[6] = {0xa1b2c3d4, 0x00020004, 0, 0, snaplen, 1};
    for (int i = 0; i < 6; i++) {
        uint32_t v = __builtin_bswap32(hdr[i]);
        if (i == 1) /* version: two big-endian 16-bit fields */
            v = __builtin_bswap32(0x00020004);
        memcpy(b + n, &v, 4);
        n += 4;
    }
    uint32_t recs[2][4] = {{1700000000, 250000, 14, 60}, {1700000001, 999999, caplen2, 1514}};
    for (int r = 0; r < 2; r++) {
        for (int i = 0; i < 4; i++) {
            uint32_t v = __builtin_bswap32(recs[r][i]);
            memcpy(b + n, &v, 4);
            n += 4;
        }
        memset(b + n, 0x40 + r, recs[r][2]);
        n += recs[r][2];
    }
    return n;
}

Test(reader, classic_pcap_big_endian_mapped)
{
    static uint8_t b[4096];
    struct pt_reader_rec rec;
    char msg[256];
    int err;
    size_t n = build_be_pcap(b, 65535, 100);
    struct pt_reader *r = pt_reader_open(write_file("be.pcap", b, n), &err, msg, sizeof msg);

    cr_assert_not_null(r, "%s", msg);
    cr_assert_eq(pt_reader_next(r, &rec, msg, sizeof msg), 1, "%s", msg);
    cr_assert_eq(rec.ts_ns, 1700000000250000000ull);
    cr_assert_eq(rec.caplen, 14);
    cr_assert_eq(rec.wirelen, 60);
    cr_assert_eq(rec.linktype, 1);
    cr_assert_eq(rec.data[0], 0x40);
    cr_assert_eq(pt_reader_next(r, &rec, msg, sizeof msg), 1, "%s", msg);
    cr_assert_eq(rec.ts_ns, 1700000001999999000ull);
    cr_assert_eq(rec.caplen, 100);
    cr_assert_eq(rec.data[99], 0x41);
    cr_assert_eq(pt_reader_next(r, &rec, msg, sizeof msg), 0);
    pt_reader_close(r);
}

/* libpcap's rules, which tcpdump's counts follow: bytes beyond the header's
 * snapshot length are skipped, a capture length above 262144 is corrupt. */
Test(reader, classic_pcap_snaplen_rules)
{
    static uint8_t b[4096];
    struct pt_reader_rec rec;
    char msg[256];
    int err;
    size_t n = build_be_pcap(b, 64, 100);
    struct pt_reader *r = pt_reader_open(write_file("snap.pcap", b, n), &err, msg, sizeof msg);

    cr_assert_not_null(r, "%s", msg);
    cr_assert_eq(pt_reader_next(r, &rec, msg, sizeof msg), 1);
    cr_assert_eq(pt_reader_next(r, &rec, msg, sizeof msg), 1);
    cr_assert_eq(rec.caplen, 64, "cut to the snapshot length");
    cr_assert_eq(rec.wirelen, 1514);
    cr_assert_eq(pt_reader_next(r, &rec, msg, sizeof msg), 0, "the skipped bytes are not a record");
    pt_reader_close(r);

    n = build_be_pcap(b, 64, 14);
    uint32_t huge = __builtin_bswap32(300000); /* second record's caplen */
    memcpy(b + 24 + 16 + 14 + 8, &huge, 4);
    r = pt_reader_open(write_file("huge.pcap", b, n), &err, msg, sizeof msg);
    cr_assert_not_null(r);
    cr_assert_eq(pt_reader_next(r, &rec, msg, sizeof msg), 1);
    cr_assert_eq(pt_reader_next(r, &rec, msg, sizeof msg), PT_E_BADFILE);
    cr_assert(strstr(msg, "300000") != NULL, "%s", msg);
    pt_reader_close(r);
}

/* A pipe cannot be mapped: libpcap reads it, with the same records. */
Test(reader, classic_pcap_from_a_pipe)
{
    char cmd[512], msg[256], fifo[128];
    struct pt_reader_rec rec;
    int err, n = 0, rc;

    snprintf(fifo, sizeof fifo, "%s/fifo", tmpdir);
    cr_assert_eq(mkfifo(fifo, 0600), 0);
    snprintf(cmd, sizeof cmd, "cat '%s' > %s &", pt_test_data("pcap/icmp/zeek_icmp-ping.pcap"),
             fifo);
    cr_assert_eq(system(cmd), 0);
    struct pt_reader *r = pt_reader_open(fifo, &err, msg, sizeof msg);
    cr_assert_not_null(r, "%s", msg);
    while ((rc = pt_reader_next(r, &rec, msg, sizeof msg)) == 1) {
        cr_assert_eq(rec.caplen, 98);
        n++;
    }
    cr_assert_eq(rc, 0, "%s", msg);
    cr_assert_eq(n, 4);
    pt_reader_close(r);
}

/* Two sections (two files concatenated): interface ids restart in each
 * section, so the reader numbers them across the file and keeps each name. */
Test(reader, pcapng_second_section_has_its_own_interfaces)
{
    struct ng g = {0};
    struct pt_reader_rec rec;
    char msg[256];
    int err;

    ng_shb(&g);
    ng_idb(&g, 1, "span-a", -1);
    ng_epb(&g, 0, 1, frame_eth, sizeof frame_eth, 60);
    ng_shb(&g);
    ng_idb(&g, 101, "span-b", -1);
    ng_epb(&g, 0, 2, frame_raw, sizeof frame_raw, 5);
    struct pt_reader *r =
        pt_reader_open(write_file("two-sections.pcapng", g.b, g.n), &err, msg, sizeof msg);
    cr_assert_not_null(r, "%s", msg);
    cr_assert_eq(pt_reader_next(r, &rec, msg, sizeof msg), 1, "%s", msg);
    cr_assert_eq(rec.ifidx, 0);
    cr_assert_eq(rec.linktype, 1);
    cr_assert_eq(pt_reader_next(r, &rec, msg, sizeof msg), 1, "%s", msg);
    cr_assert_eq(rec.ifidx, 1, "section 2's interface 0 is the file's interface 1");
    cr_assert_eq(rec.linktype, 101);
    cr_assert_str_eq(pt_reader_ifname(r, 0), "span-a");
    cr_assert_str_eq(pt_reader_ifname(r, 1), "span-b");
    cr_assert_eq(pt_reader_next(r, &rec, msg, sizeof msg), 0);
    pt_reader_close(r);
}
