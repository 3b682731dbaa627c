/* test_extract.c - the ring's read side: pt_ring_extract(), pt_ring_status_read()
 * and the `extract` and `status` commands.
 *
 * DESIGN: each test writes a ring by hand (ring_fixture.h: segment files and
 * index entries per src/ring/format.h), closes the fixture's LMDB
 * environment (one per process), then extracts into a file in the test's
 * directory and reads it back with the project's capture reader (pcap and
 * pcapng, interface names included) or compares its bytes. Packets carry a
 * one-byte marker as their last byte, so a test names the packets it
 * expects, in order. --flow runs end to end: flow records made by the flow
 * table from the same frames go into a store, and the binary extracts by
 * their uids. */
#include <criterion/criterion.h>
#include <errno.h>
#include <pcap/pcap.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <urcu-qsbr.h>

#include "pt/capture.h"
#include "pt/store.h"
#include "ring/ring_fixture.h"
#include "support/support.h"

static struct rfx fx;

static void setup(void)
{
    rfx_init(&fx);
}

static void teardown(void)
{
    rfx_fini(&fx);
}

TestSuite(ring_extract, .init = setup, .fini = teardown);

/* ---- helpers ---- */

static struct pt_ring_query q_all(void)
{
    struct pt_ring_query q;
    memset(&q, 0, sizeof q);
    q.to_ns = UINT64_MAX;
    return q;
}

static const char *out_path(const char *name)
{
    static char p[160];
    snprintf(p, sizeof p, "%s/%s", fx.dir, name);
    return p;
}

/* Extract @q into out.pcap; the return code, with stats and message. */
static int extract(const struct pt_ring_query *q, enum pt_ring_out_format fmt,
                   struct pt_ring_extract_stats *st, char *msg, size_t msglen)
{
    FILE *f = fopen(out_path("out.pcap"), "wb");
    cr_assert_not_null(f);
    rfx_close_env(&fx);
    int rc = pt_ring_extract(fx.ring, q, fmt, f, st, msg, msglen);
    cr_assert_eq(fclose(f), 0);
    return rc;
}

static int extract_ok(const struct pt_ring_query *q, enum pt_ring_out_format fmt,
                      struct pt_ring_extract_stats *st)
{
    char msg[512] = "";
    int rc = extract(q, fmt, st, msg, sizeof msg);
    cr_assert_eq(rc, 0, "extract: %s (%s)", pt_strerror(rc), msg);
    return rc;
}

struct outrec {
    uint64_t ts;
    uint32_t caplen, wirelen;
    int linktype;
    char ifname[64];
    uint8_t mark;
};

/* Read a capture back: its records, at most @max. Returns the count. */
static unsigned read_back(const char *path, struct outrec *r, unsigned max)
{
    struct pt_reader_rec rec;
    char msg[256] = "";
    int err = 0, rc;
    unsigned n = 0;
    struct pt_reader *rd = pt_reader_open(path, &err, msg, sizeof msg);

    cr_assert_not_null(rd, "reader: %s", msg);
    while ((rc = pt_reader_next(rd, &rec, msg, sizeof msg)) == 1) {
        cr_assert_lt(n, max);
        r[n].ts = rec.ts_ns;
        r[n].caplen = rec.caplen;
        r[n].wirelen = rec.wirelen;
        r[n].linktype = rec.linktype;
        snprintf(r[n].ifname, sizeof r[n].ifname, "%s", pt_reader_ifname(rd, rec.ifidx));
        r[n].mark = rec.caplen ? rec.data[rec.caplen - 1] : 0;
        n++;
    }
    cr_assert_eq(rc, 0, "reading back: %s", msg);
    pt_reader_close(rd);
    return n;
}

/* The output's markers, in order, as a string of letters ("ABC"). */
static const char *marks(void)
{
    static char s[256];
    struct outrec r[200];
    unsigned n = read_back(out_path("out.pcap"), r, 200);
    for (unsigned i = 0; i < n; i++)
        s[i] = (char)r[i].mark;
    s[n] = '\0';
    return s;
}

static struct fx_pkt udp4(uint8_t a, uint8_t b, uint16_t sp, uint16_t dp, char mark)
{
    struct fx_pkt k = {.ver = 4, .proto = 17, .sp = sp, .dp = dp, .vlan = PT_VLAN_NONE};
    fx_v4(k.src, 10, 0, 0, a);
    fx_v4(k.dst, 10, 0, 0, b);
    k.mark = (uint8_t)mark;
    k.payload = 1;
    return k;
}

static struct fx_pkt tcp4(uint8_t a, uint8_t b, uint16_t sp, uint16_t dp, char mark)
{
    struct fx_pkt k = udp4(a, b, sp, dp, mark);
    k.proto = 6;
    return k;
}

/* ---- time ranges ---- */

/* seg 1: block 0 at 0,1,2 ms (A B C), block 1 at 10,11,12 ms (D E F);
 * seg 2: block 0 at 20,21,22 ms (G H I). */
static void ring_times(void)
{
    const char *m = "ABCDEFGHI";
    struct rfx_seg *s = rfx_seg_new(1, PT_LINK_ETHERNET, SNAP);
    for (int b = 0; b < 2; b++) {
        rfx_block(s, 0, 0);
        for (int i = 0; i < 3; i++) {
            struct fx_pkt k = udp4(1, 2, 1000, 53, m[3 * b + i]);
            rfx_pkt(&fx, s, T0 + (uint64_t)(10 * b + i) * MS, &k);
        }
        rfx_block_end(s);
    }
    rfx_seg_commit(&fx, s, true);
    s = rfx_seg_new(2, PT_LINK_ETHERNET, SNAP);
    rfx_block(s, 0, 0);
    for (int i = 0; i < 3; i++) {
        struct fx_pkt k = udp4(1, 2, 1000, 53, m[6 + i]);
        rfx_pkt(&fx, s, T0 + (uint64_t)(20 + i) * MS, &k);
    }
    rfx_block_end(s);
    rfx_seg_commit(&fx, s, false);
}

Test(ring_extract, everything_in_time_order)
{
    struct pt_ring_query q = q_all();
    struct pt_ring_extract_stats st;

    ring_times();
    extract_ok(&q, PT_RING_OUT_PCAP, &st);
    cr_assert_str_eq(marks(), "ABCDEFGHI");
    cr_assert_eq(st.packets, 9);
    cr_assert_eq(st.blocks_read, 3);
    cr_assert_eq(st.skipped_linktype, 0);
}

Test(ring_extract, time_range_cuts_exactly)
{
    struct pt_ring_query q = q_all();
    struct pt_ring_extract_stats st;

    ring_times();
    /* [1 ms, 21 ms): B C D E F G; every block meets it */
    q.from_ns = T0 + 1 * MS;
    q.to_ns = T0 + 21 * MS;
    extract_ok(&q, PT_RING_OUT_PCAP, &st);
    cr_assert_str_eq(marks(), "BCDEFG");
    cr_assert_eq(st.blocks_read, 3);

    /* [11 ms, 12 ms): E alone, from block 1 of seg 1 alone */
    q.from_ns = T0 + 11 * MS;
    q.to_ns = T0 + 12 * MS;
    extract_ok(&q, PT_RING_OUT_PCAP, &st);
    cr_assert_str_eq(marks(), "E");
    cr_assert_eq(st.blocks_read, 1);
    cr_assert_eq(st.packets, 1);

    /* [3 ms, 10 ms): between blocks: nothing read, an empty capture */
    q.from_ns = T0 + 3 * MS;
    q.to_ns = T0 + 10 * MS;
    extract_ok(&q, PT_RING_OUT_PCAP, &st);
    cr_assert_str_eq(marks(), "");
    cr_assert_eq(st.blocks_read, 0);
    cr_assert_eq(st.packets, 0);

    /* [22 ms, open): I, the last packet of all */
    q.from_ns = T0 + 22 * MS;
    q.to_ns = UINT64_MAX;
    extract_ok(&q, PT_RING_OUT_PCAP, &st);
    cr_assert_str_eq(marks(), "I");
    cr_assert_eq(st.blocks_read, 1);
}

Test(ring_extract, empty_range_is_einval)
{
    struct pt_ring_query q = q_all();
    char msg[256] = "";

    ring_times();
    q.from_ns = q.to_ns = T0;
    cr_assert_eq(extract(&q, PT_RING_OUT_PCAP, NULL, msg, sizeof msg), -EINVAL);
    cr_assert(strstr(msg, "time range"), "%s", msg);
}

/* ---- keys ---- */

/* seg 1: block 0: 10.0.0.1:1000 <-> 10.0.0.2:53 UDP on VLAN 100 (A B);
 *        block 1: 10.0.0.3:2000 <-> 10.0.0.4:80 TCP untagged (C D);
 *        block 2: the decoy: 10.0.0.3 <-> 10.0.0.4 TCP again (E F), which
 *        the key lists also name under host 10.0.0.1, port 53, VLAN 100
 *        and port 80... so only exact matching keeps its packets out;
 *        block 3: 2001:db8::1 <-> 2001:db8::2 UDP 5353 (G). */
static void ring_keys(void)
{
    struct rfx_seg *s = rfx_seg_new(1, PT_LINK_ETHERNET, SNAP);
    struct fx_pkt k;
    uint8_t h1[16];

    rfx_block(s, 0, 0);
    k = udp4(1, 2, 1000, 53, 'A');
    k.vlan = 100;
    rfx_pkt(&fx, s, T0 + 1 * MS, &k);
    k = udp4(2, 1, 53, 1000, 'B');
    k.vlan = 100;
    rfx_pkt(&fx, s, T0 + 2 * MS, &k);
    rfx_block_end(s);

    rfx_block(s, 0, 0);
    k = tcp4(3, 4, 2000, 80, 'C');
    rfx_pkt(&fx, s, T0 + 3 * MS, &k);
    k = tcp4(4, 3, 80, 2000, 'D');
    rfx_pkt(&fx, s, T0 + 4 * MS, &k);
    rfx_block_end(s);

    rfx_block(s, 0, 0);
    k = tcp4(3, 4, 2001, 80, 'E');
    rfx_pkt(&fx, s, T0 + 5 * MS, &k);
    k = tcp4(4, 3, 80, 2001, 'F');
    rfx_pkt(&fx, s, T0 + 6 * MS, &k);
    rfx_block_end(s);
    fx_v4(h1, 10, 0, 0, 1);
    rfx_key(s, RING_KEY_HOST, h1, 16, 2);
    rfx_key16(s, RING_KEY_PORT, 53, 2);
    rfx_key16(s, RING_KEY_VLAN, 100, 2);

    rfx_block(s, 0, 0);
    k = (struct fx_pkt){.ver = 6, .proto = 17, .sp = 5353, .dp = 5353, .vlan = PT_VLAN_NONE};
    fx_v6(k.src, 1);
    fx_v6(k.dst, 2);
    k.mark = 'G';
    k.payload = 1;
    rfx_pkt(&fx, s, T0 + 7 * MS, &k);
    rfx_block_end(s);
    rfx_seg_commit(&fx, s, true);
}

Test(ring_extract, host_selects_exactly_past_a_decoy)
{
    struct pt_ring_query q = q_all();
    struct pt_ring_extract_stats st;

    ring_keys();
    q.by_host = true;
    fx_v4(q.host, 10, 0, 0, 1);
    extract_ok(&q, PT_RING_OUT_PCAP, &st);
    cr_assert_str_eq(marks(), "AB");
    cr_assert_eq(st.blocks_read, 2, "block 0 and the decoy: %llu",
                 (unsigned long long)st.blocks_read);

    fx_v4(q.host, 10, 0, 0, 4); /* the TCP responder: blocks 1 and 2 */
    extract_ok(&q, PT_RING_OUT_PCAP, &st);
    cr_assert_str_eq(marks(), "CDEF");
    cr_assert_eq(st.blocks_read, 2);

    fx_v6(q.host, 2);
    extract_ok(&q, PT_RING_OUT_PCAP, &st);
    cr_assert_str_eq(marks(), "G");
    cr_assert_eq(st.blocks_read, 1);

    fx_v4(q.host, 10, 9, 9, 9); /* nobody: no key list, nothing read */
    extract_ok(&q, PT_RING_OUT_PCAP, &st);
    cr_assert_str_eq(marks(), "");
    cr_assert_eq(st.blocks_read, 0);
}

Test(ring_extract, port_and_vlan_select_exactly)
{
    struct pt_ring_query q = q_all();
    struct pt_ring_extract_stats st;

    ring_keys();
    q.by_port = true;
    q.port = 53;
    extract_ok(&q, PT_RING_OUT_PCAP, &st);
    cr_assert_str_eq(marks(), "AB");
    cr_assert_eq(st.blocks_read, 2);

    q.port = 80;
    extract_ok(&q, PT_RING_OUT_PCAP, &st);
    cr_assert_str_eq(marks(), "CDEF");

    q.port = 2000;
    extract_ok(&q, PT_RING_OUT_PCAP, &st);
    cr_assert_str_eq(marks(), "CD");
    cr_assert_eq(st.blocks_read, 1);

    q = q_all();
    q.by_vlan = true;
    q.vlan = 100;
    extract_ok(&q, PT_RING_OUT_PCAP, &st);
    cr_assert_str_eq(marks(), "AB");
    cr_assert_eq(st.blocks_read, 2);
}

Test(ring_extract, keys_intersect)
{
    struct pt_ring_query q = q_all();
    struct pt_ring_extract_stats st;

    ring_keys();
    /* host 10.0.0.1 names blocks {0, 2}, port 80 {1, 2}: only the decoy is
     * read, and none of its packets carries both */
    q.by_host = true;
    fx_v4(q.host, 10, 0, 0, 1);
    q.by_port = true;
    q.port = 80;
    extract_ok(&q, PT_RING_OUT_PCAP, &st);
    cr_assert_str_eq(marks(), "");
    cr_assert_eq(st.blocks_read, 1);

    /* host 10.0.0.3 and port 2001: block 2 alone, packets E F */
    fx_v4(q.host, 10, 0, 0, 3);
    q.port = 2001;
    extract_ok(&q, PT_RING_OUT_PCAP, &st);
    cr_assert_str_eq(marks(), "EF");
    cr_assert_eq(st.blocks_read, 1);

    /* and within a time range */
    q.from_ns = T0 + 6 * MS;
    extract_ok(&q, PT_RING_OUT_PCAP, &st);
    cr_assert_str_eq(marks(), "F");
}

Test(ring_extract, flow_selects_both_directions_past_a_collision)
{
    struct rfx_seg *s = rfx_seg_new(1, PT_LINK_ETHERNET, SNAP);
    struct pt_ring_query q = q_all();
    struct pt_ring_extract_stats st;
    struct pt_pkt p;
    uint8_t buf[256];
    struct fx_pkt k;
    bool sw;

    /* block 0: flow F (10.0.0.1:1000 <-> 10.0.0.2:53) both ways, and
     * flow G (10.0.0.1:1001 -> 10.0.0.2:53) in between */
    rfx_block(s, 0, 0);
    k = udp4(1, 2, 1000, 53, 'A');
    rfx_pkt(&fx, s, T0 + 1 * MS, &k);
    k = udp4(1, 2, 1001, 53, 'x');
    rfx_pkt(&fx, s, T0 + 2 * MS, &k);
    k = udp4(2, 1, 53, 1000, 'B');
    rfx_pkt(&fx, s, T0 + 3 * MS, &k);
    rfx_block_end(s);
    /* block 1: flow H only, but its list holds F's hash too (a collision) */
    rfx_block(s, 0, 0);
    k = udp4(5, 6, 7, 8, 'y');
    rfx_pkt(&fx, s, T0 + 4 * MS, &k);
    rfx_block_end(s);
    /* block 2: F again, tagged VLAN 7: another key (the VLAN is in it) */
    rfx_block(s, 0, 0);
    k = udp4(1, 2, 1000, 53, 'z');
    k.vlan = 7;
    rfx_pkt(&fx, s, T0 + 5 * MS, &k);
    rfx_block_end(s);

    /* F's key, as the flow table builds it from the first packet */
    k = udp4(1, 2, 1000, 53, 'A');
    memset(&p, 0, sizeof p);
    p.data = buf;
    p.caplen = p.wirelen = (uint32_t)fx_frame(buf, &k);
    p.linktype = PT_LINK_ETHERNET;
    p.hw_vlan = PT_VLAN_NONE;
    pt_decode(&p, &fx.dst);
    cr_assert(pt_flow_key_make(&q.flow, &p.l3[0], &sw));
    rfx_key_flow(s, &q.flow, 1);
    rfx_seg_commit(&fx, s, true);

    q.by_flow = true;
    extract_ok(&q, PT_RING_OUT_PCAP, &st);
    cr_assert_str_eq(marks(), "AB");
    cr_assert_eq(st.blocks_read, 2, "block 0 and the collision");
}

/* ---- BPF ---- */

/* seg 1 (Ethernet): UDP 53 (A), TCP 80 (B), UDP 53 on VLAN 5 (C);
 * seg 2 (LINKTYPE_RAW): UDP 53 (D), TCP 80 (E). */
static void ring_bpf(void)
{
    struct rfx_seg *s = rfx_seg_new(1, PT_LINK_ETHERNET, SNAP);
    struct fx_pkt k;

    rfx_block(s, 0, 0);
    k = udp4(1, 2, 1000, 53, 'A');
    rfx_pkt(&fx, s, T0 + 1 * MS, &k);
    k = tcp4(1, 2, 1000, 80, 'B');
    rfx_pkt(&fx, s, T0 + 2 * MS, &k);
    k = udp4(1, 2, 1000, 53, 'C');
    k.vlan = 5;
    rfx_pkt(&fx, s, T0 + 3 * MS, &k);
    rfx_block_end(s);
    rfx_seg_commit(&fx, s, true);
    s = rfx_seg_new(2, PT_LINK_RAW, SNAP);
    rfx_block(s, 1, 0);
    k = udp4(1, 2, 1000, 53, 'D');
    k.raw = true;
    rfx_pkt(&fx, s, T0 + 4 * MS, &k);
    k = tcp4(1, 2, 1000, 80, 'E');
    k.raw = true;
    rfx_pkt(&fx, s, T0 + 5 * MS, &k);
    rfx_block_end(s);
    rfx_seg_commit(&fx, s, true);
}

Test(ring_extract, bpf_filters_per_link_type)
{
    struct pt_ring_query q = q_all();
    struct pt_ring_extract_stats st;

    ring_bpf();
    q.bpf = "tcp port 80";
    extract_ok(&q, PT_RING_OUT_PCAPNG, &st);
    cr_assert_str_eq(marks(), "BE");
    cr_assert_eq(st.packets, 2);

    q.bpf = "udp";
    extract_ok(&q, PT_RING_OUT_PCAPNG, &st);
    cr_assert_str_eq(marks(), "AD", "VLAN-tagged C needs 'vlan and udp'");

    q.bpf = "vlan 5 and udp"; /* no "vlan" on raw IP: that segment gives nothing */
    extract_ok(&q, PT_RING_OUT_PCAPNG, &st);
    cr_assert_str_eq(marks(), "C");
    cr_assert_eq(st.blocks_read, 1);

    /* with keys too: port 53 and the filter */
    q.bpf = "src host 10.0.0.1";
    q.by_port = true;
    q.port = 53;
    extract_ok(&q, PT_RING_OUT_PCAPNG, &st);
    cr_assert_str_eq(marks(), "AD", "C is VLAN-tagged");
}

Test(ring_extract, bpf_that_cannot_match_a_link_type_is_no_error)
{
    struct rfx_seg *s = rfx_seg_new(3, PT_LINK_IPV4, SNAP);
    struct pt_ring_query q = q_all();
    struct pt_ring_extract_stats st;
    struct fx_pkt k = udp4(1, 2, 1, 2, 'F');

    ring_bpf();
    k.raw = true;
    rfx_block(s, 0, 0);
    rfx_pkt(&fx, s, T0 + 6 * MS, &k);
    rfx_block_end(s);
    rfx_seg_commit(&fx, s, true);
    /* libpcap refuses "ip6" on LINKTYPE_IPV4 ("rejects all packets") */
    q.bpf = "ip6";
    extract_ok(&q, PT_RING_OUT_PCAPNG, &st);
    cr_assert_str_eq(marks(), "");
    cr_assert_eq(st.blocks_read, 2, "the LINKTYPE_IPV4 segment is not read");
    q.bpf = "ip";
    extract_ok(&q, PT_RING_OUT_PCAPNG, &st);
    cr_assert_str_eq(marks(), "ABDEF", "C is VLAN-tagged");
}

Test(ring_extract, bad_bpf_is_einval_with_libpcap_message)
{
    struct pt_ring_query q = q_all();
    char msg[512] = "";

    ring_bpf();
    q.bpf = "tcp port";
    cr_assert_eq(extract(&q, PT_RING_OUT_PCAP, NULL, msg, sizeof msg), -EINVAL);
    cr_assert(strstr(msg, "tcp port") && strstr(msg, "syntax error"), "%s", msg);
    q.bpf = "ip proto nosuchproto";
    msg[0] = '\0';
    cr_assert_eq(extract(&q, PT_RING_OUT_PCAP, NULL, msg, sizeof msg), -EINVAL);
    cr_assert(msg[0]);
}

Test(ring_extract, bad_bpf_on_an_empty_ring)
{
    struct pt_ring_query q = q_all();
    char msg[512] = "";

    q.bpf = "port 99999";
    cr_assert_eq(extract(&q, PT_RING_OUT_PCAP, NULL, msg, sizeof msg), -EINVAL);
    cr_assert(strstr(msg, "99999"), "%s", msg);
}

/* ---- order ---- */

Test(ring_extract, ties_in_write_order)
{
    struct rfx_seg *s = rfx_seg_new(1, PT_LINK_ETHERNET, SNAP);
    struct pt_ring_query q = q_all();
    struct pt_ring_extract_stats st;
    struct fx_pkt k;
    const uint64_t t = T0 + 5 * MS;

    /* seg 1 block 0 (producer 0): c@t, d@t, g@t+2
     * seg 1 block 1 (producer 1, overlapping): a@t-3, e@t, h@t+4
     * seg 2 block 0: b@t-1 (a late producer's chunk: the next segment
     * holds an older packet), f@t, i@t+9 */
    rfx_block(s, 0, 0);
    k = udp4(1, 2, 1, 2, 'c');
    rfx_pkt(&fx, s, t, &k);
    k.mark = 'd';
    rfx_pkt(&fx, s, t, &k);
    k.mark = 'g';
    rfx_pkt(&fx, s, t + 2, &k);
    rfx_block_end(s);
    rfx_block(s, 1, 1);
    k.mark = 'a';
    rfx_pkt(&fx, s, t - 3, &k);
    k.mark = 'e';
    rfx_pkt(&fx, s, t, &k);
    k.mark = 'h';
    rfx_pkt(&fx, s, t + 4, &k);
    rfx_block_end(s);
    rfx_seg_commit(&fx, s, true);
    s = rfx_seg_new(2, PT_LINK_ETHERNET, SNAP);
    rfx_block(s, 0, 0);
    k.mark = 'b';
    rfx_pkt(&fx, s, t - 1, &k);
    k.mark = 'f';
    rfx_pkt(&fx, s, t, &k);
    k.mark = 'i';
    rfx_pkt(&fx, s, t + 9, &k);
    rfx_block_end(s);
    rfx_seg_commit(&fx, s, false);

    extract_ok(&q, PT_RING_OUT_PCAP, &st);
    cr_assert_str_eq(marks(), "abcdefghi");
    extract_ok(&q, PT_RING_OUT_PCAPNG, &st);
    cr_assert_str_eq(marks(), "abcdefghi");
    cr_assert_eq(st.blocks_read, 3);
}

/* ---- output formats ---- */

Test(ring_extract, pcap_bytes_exact)
{
    struct rfx_seg *s = rfx_seg_new(1, PT_LINK_ETHERNET, 1500);
    struct pt_ring_query q = q_all();
    struct pt_ring_extract_stats st;
    uint8_t f1[256], f2[256], want[1024];
    size_t n1, n2, wl = 0;
    struct fx_pkt k;

    k = udp4(1, 2, 1000, 53, 'A');
    n1 = fx_frame(f1, &k);
    k = tcp4(3, 4, 2000, 80, 'B');
    k.payload = 40;
    n2 = fx_frame(f2, &k);
    rfx_block(s, 0, 0);
    rfx_rec(&fx, s, T0 + 123456789, f1, (uint32_t)n1, (uint32_t)n1);
    rfx_rec(&fx, s, T0 + NSEC + 1, f2, 60, (uint32_t)n2); /* cut at 60 bytes */
    rfx_block_end(s);
    rfx_seg_commit(&fx, s, true);
    s = rfx_seg_new(2, PT_LINK_ETHERNET, 9000); /* its snaplen is the larger */
    rfx_block(s, 0, 0);
    rfx_rec(&fx, s, T0 + 5 * NSEC, f1, (uint32_t)n1, (uint32_t)n1);
    rfx_block_end(s);
    rfx_seg_commit(&fx, s, true);

    const uint32_t hdr[6] = {0xa1b23c4d, 0x00040002, 0, 0, 9000, 1};
    const uint32_t r1[4] = {1795420920, 123456789, (uint32_t)n1, (uint32_t)n1};
    const uint32_t r2[4] = {1795420921, 1, 60, (uint32_t)n2};
    const uint32_t r3[4] = {1795420925, 0, (uint32_t)n1, (uint32_t)n1};
    memcpy(want + wl, hdr, 24), wl += 24;
    memcpy(want + wl, r1, 16), wl += 16;
    memcpy(want + wl, f1, n1), wl += n1;
    memcpy(want + wl, r2, 16), wl += 16;
    memcpy(want + wl, f2, 60), wl += 60;
    memcpy(want + wl, r3, 16), wl += 16;
    memcpy(want + wl, f1, n1), wl += n1;

    extract_ok(&q, PT_RING_OUT_PCAP, &st);
    size_t len = 0;
    char *got = pt_test_slurp(out_path("out.pcap"), &len);
    cr_assert_not_null(got);
    cr_assert_eq(len, wl, "length %zu, want %zu", len, wl);
    cr_assert_eq(memcmp(got, want, wl), 0);
    free(got);
    cr_assert_eq(st.packets, 3);
    cr_assert_eq(st.blocks_read, 2);
    cr_assert_eq(st.bytes_read, (16 + n1) + (16 + 60) + (16 + n1));

    /* nothing matches: the header alone (link type of the first planned
     * segment) */
    q.bpf = "tcp port 9";
    extract_ok(&q, PT_RING_OUT_PCAP, &st);
    got = pt_test_slurp(out_path("out.pcap"), &len);
    cr_assert_eq(len, 24);
    cr_assert_eq(memcmp(got, want, 24), 0);
    free(got);
}

Test(ring_extract, pcap_skips_other_link_types_pcapng_keeps_them)
{
    struct pt_ring_query q = q_all();
    struct pt_ring_extract_stats st;
    struct outrec r[8];

    ring_bpf();
    rfx_iface_name(&fx, 0, "eth0");
    rfx_iface_name(&fx, 1, "mirror-1");
    extract_ok(&q, PT_RING_OUT_PCAP, &st);
    cr_assert_str_eq(marks(), "ABC");
    cr_assert_eq(st.packets, 3);
    cr_assert_eq(st.skipped_linktype, 2);

    extract_ok(&q, PT_RING_OUT_PCAPNG, &st);
    cr_assert_eq(st.packets, 5);
    cr_assert_eq(st.skipped_linktype, 0);
    cr_assert_eq(read_back(out_path("out.pcap"), r, 8), 5);
    for (int i = 0; i < 5; i++) {
        cr_assert_eq(r[i].ts, T0 + (uint64_t)(i + 1) * MS, "ns timestamps (if_tsresol 9)");
        cr_assert_eq(r[i].linktype, i < 3 ? PT_LINK_ETHERNET : PT_LINK_RAW);
        cr_assert_str_eq(r[i].ifname, i < 3 ? "eth0" : "mirror-1");
        cr_assert_eq(r[i].caplen, r[i].wirelen);
    }
}

Test(ring_extract, pcapng_opens_in_libpcap)
{
    struct rfx_seg *s = rfx_seg_new(1, PT_LINK_ETHERNET, SNAP);
    struct pt_ring_query q = q_all();
    struct pt_ring_extract_stats st;
    char err[PCAP_ERRBUF_SIZE];
    struct pcap_pkthdr *h;
    const u_char *data;
    struct fx_pkt k;
    int n = 0, rc;

    rfx_iface_name(&fx, 3, "eth3");
    for (uint16_t ifc = 3; ifc <= 4; ifc++) { /* two interfaces, one unnamed */
        rfx_block(s, ifc, 0);
        for (int i = 0; i < 3; i++) {
            k = udp4(1, 2, 1000, 53, (char)('A' + 3 * (ifc - 3) + i));
            k.payload = (uint16_t)(1 + i); /* odd lengths: EPB padding */
            k.mark = 0;
            rfx_pkt(&fx, s, T0 + (uint64_t)(ifc * 10 + i) * 1000 + 7, &k);
        }
        rfx_block_end(s);
    }
    rfx_seg_commit(&fx, s, true);
    extract_ok(&q, PT_RING_OUT_PCAPNG, &st);

    pcap_t *p = pcap_open_offline_with_tstamp_precision(out_path("out.pcap"),
                                                        PCAP_TSTAMP_PRECISION_NANO, err);
    cr_assert_not_null(p, "libpcap: %s", err);
    cr_assert_eq(pcap_datalink(p), DLT_EN10MB);
    while ((rc = pcap_next_ex(p, &h, &data)) == 1) {
        int ifc = 3 + n / 3, i = n % 3;
        uint64_t ts = T0 + (uint64_t)(ifc * 10 + i) * 1000 + 7;
        cr_assert_eq((uint64_t)h->ts.tv_sec, ts / NSEC);
        cr_assert_eq((uint64_t)h->ts.tv_usec, ts % NSEC, "nanoseconds");
        cr_assert_eq(h->caplen, 14 + 20 + 8 + 1 + i);
        cr_assert_eq(h->len, h->caplen);
        cr_assert_eq(data[12], 0x08);
        n++;
    }
    cr_assert_eq(rc, PCAP_ERROR_BREAK, "%s", pcap_geterr(p));
    cr_assert_eq(n, 6);
    pcap_close(p);

    struct outrec r[8];
    cr_assert_eq(read_back(out_path("out.pcap"), r, 8), 6);
    cr_assert_str_eq(r[0].ifname, "eth3");
    cr_assert_str_neq(r[5].ifname, "eth3"); /* no name stored: the reader names it */
}

/* ---- damaged rings ---- */

Test(ring_extract, truncated_segment_is_an_error)
{
    struct pt_ring_query q = q_all();
    char msg[512] = "", path[256];

    ring_times();
    rfx_seg_path(&fx, 2, path, sizeof path);
    struct stat sb;
    cr_assert_eq(stat(path, &sb), 0);
    cr_assert_eq(truncate(path, sb.st_size - 5), 0); /* inside the last record */
    cr_assert_eq(extract(&q, PT_RING_OUT_PCAP, NULL, msg, sizeof msg), PT_E_TRUNC);
    cr_assert(strstr(msg, "truncated") && strstr(msg, "seg-0000000000000002.pcap"), "%s", msg);

    /* a range that does not need the cut block still works */
    q.to_ns = T0 + 15 * MS;
    char m2[512] = "";
    cr_assert_eq(extract(&q, PT_RING_OUT_PCAP, NULL, m2, sizeof m2), 0, "%s", m2);
    cr_assert_str_eq(marks(), "ABCDEF");
}

/* Overwrite 4 bytes at @off of segment @seq's file. */
static void patch32(uint64_t seq, long off, uint32_t v)
{
    char path[256];
    FILE *f;

    rfx_seg_path(&fx, seq, path, sizeof path);
    cr_assert_not_null(f = fopen(path, "r+b"));
    cr_assert_eq(fseek(f, off, SEEK_SET), 0);
    cr_assert_eq(fwrite(&v, 4, 1, f), 1);
    cr_assert_eq(fclose(f), 0);
}

Test(ring_extract, malformed_records_are_errors)
{
    struct pt_ring_query q = q_all();
    struct fx_pkt k = udp4(1, 2, 1000, 53, 'A');
    uint8_t buf[256];
    uint32_t n = (uint32_t)fx_frame(buf, &k);
    char msg[512];

    ring_times();
    rfx_close_env(&fx);
    /* seg 1 block 0's second record claims more bytes than the block has */
    long rec2 = 24 + 16 + (long)n;
    patch32(1, rec2 + 8, 3 * (16 + n));
    msg[0] = '\0';
    cr_assert_eq(extract(&q, PT_RING_OUT_PCAP, NULL, msg, sizeof msg), PT_E_BADFILE);
    cr_assert(strstr(msg, "malformed record") && strstr(msg, "past the end"), "%s", msg);

    /* a caplen beyond anything: no read past the buffer either */
    patch32(1, rec2 + 8, 0xffffffffu);
    msg[0] = '\0';
    cr_assert_eq(extract(&q, PT_RING_OUT_PCAP, NULL, msg, sizeof msg), PT_E_BADFILE);

    /* shorter: the block then parses as a different number of records */
    patch32(1, rec2 + 8, n - 16);
    msg[0] = '\0';
    cr_assert_eq(extract(&q, PT_RING_OUT_PCAP, NULL, msg, sizeof msg), PT_E_BADFILE);
    cr_assert(msg[0]);

    /* a time outside the block's span */
    patch32(1, rec2 + 8, n);
    patch32(1, rec2, 1700000000);
    msg[0] = '\0';
    cr_assert_eq(extract(&q, PT_RING_OUT_PCAP, NULL, msg, sizeof msg), PT_E_BADFILE);
    cr_assert(strstr(msg, "span"), "%s", msg);
}

Test(ring_extract, index_beyond_valid_len_is_an_error)
{
    struct rfx_seg *s = rfx_seg_new(1, PT_LINK_ETHERNET, SNAP);
    struct pt_ring_query q = q_all();
    struct fx_pkt k = udp4(1, 2, 1000, 53, 'A');
    char msg[512] = "";

    rfx_block(s, 0, 0);
    rfx_pkt(&fx, s, T0, &k);
    rfx_block_end(s);
    s->blk[0].len += 100; /* the block claims bytes the segment never committed */
    rfx_seg_commit(&fx, s, false);
    cr_assert_eq(extract(&q, PT_RING_OUT_PCAP, NULL, msg, sizeof msg), PT_E_BADFILE);
    cr_assert(strstr(msg, "beyond the committed"), "%s", msg);
}

Test(ring_extract, no_ring_is_enoent)
{
    struct pt_ring_query q = q_all();
    struct pt_ring_status rs;
    char msg[512] = "", ring[128];

    snprintf(ring, sizeof ring, "%s/nothing", fx.dir);
    FILE *f = fopen(out_path("x"), "wb");
    cr_assert_eq(pt_ring_extract(ring, &q, PT_RING_OUT_PCAP, f, NULL, msg, sizeof msg), -ENOENT);
    fclose(f);
    cr_assert(strstr(msg, "no ring"), "%s", msg);
    cr_assert_eq(pt_ring_status_read(ring, &rs, msg, sizeof msg), -ENOENT);
}

Test(ring_extract, newer_index_version_is_refused)
{
    struct pt_ring_query q = q_all();
    uint8_t v[4] = {0, 0, 0, RING_INDEX_VERSION + 1};
    char msg[512] = "";

    rfx_meta_put(&fx, "version", 7, v, 4);
    cr_assert_eq(extract(&q, PT_RING_OUT_PCAP, NULL, msg, sizeof msg), PT_E_BADFILE);
    cr_assert(strstr(msg, "version"), "%s", msg);
}

/* A ring of the previous build (index version 1: u32 lists, 16-byte
 * hosts) is refused with a message naming both versions, not misread. */
Test(ring_extract, older_index_version_is_refused)
{
    struct pt_ring_query q = q_all();
    struct pt_ring_status rs;
    uint8_t v[4] = {0, 0, 0, 1};
    char msg[512] = "";

    ring_times();
    rfx_meta_put(&fx, "version", 7, v, 4);
    cr_assert_eq(extract(&q, PT_RING_OUT_PCAP, NULL, msg, sizeof msg), PT_E_BADFILE);
    cr_assert(strstr(msg, "version 1, of an older build"), "%s", msg);
    msg[0] = '\0';
    cr_assert_eq(pt_ring_status_read(fx.ring, &rs, msg, sizeof msg), PT_E_BADFILE);
    cr_assert(strstr(msg, "reads version 2"), "%s", msg);
}

/* ---- status ---- */

Test(ring_extract, status_figures)
{
    struct pt_ring_status rs;
    struct pt_ring_stats w = {0};
    char msg[256] = "", path[256];
    struct stat sb;
    uint64_t disk = 0;

    ring_times();
    w.packets = 9;
    w.bytes = 1234;
    w.lost_full_pkts = 3;
    w.lost_io_bytes = 77;
    w.cutoff_pkts = 5;
    w.segments_recycled = 2;
    w.segments_early = 1;
    w.reconciled_bytes = 99;
    w.degraded = true;
    rfx_stats(&fx, &w);
    rfx_close_env(&fx);
    cr_assert_eq(pt_ring_status_read(fx.ring, &rs, msg, sizeof msg), 0, "%s", msg);
    cr_assert_eq(rs.oldest_ns, T0);
    cr_assert_eq(rs.newest_ns, T0 + 22 * MS);
    cr_assert_eq(rs.segments, 2);
    cr_assert_eq(rs.packets, 9);
    for (uint64_t seq = 1; seq <= 2; seq++) {
        rfx_seg_path(&fx, seq, path, sizeof path);
        cr_assert_eq(stat(path, &sb), 0);
        disk += (uint64_t)sb.st_blocks * 512;
    }
    struct fx_pkt k = udp4(1, 2, 1000, 53, 'A');
    uint8_t buf[256];
    uint64_t n = fx_frame(buf, &k);
    cr_assert_eq(rs.bytes, 2 * 24 + 9 * (16 + n));
    cr_assert_eq(rs.disk_bytes, disk);
    snprintf(path, sizeof path, "%s/data.mdb", fx.index);
    cr_assert_eq(stat(path, &sb), 0);
    cr_assert_eq(rs.index_bytes, (uint64_t)sb.st_size);
    w.degraded = false; /* a state of the running writer, not stored */
    cr_assert_eq(memcmp(&rs.writer, &w, sizeof w), 0);
}

/* A ring written by an older build stored fewer counters: they read back,
 * the rest are 0; a newer build's extra ones are ignored. */
Test(ring_extract, status_counters_of_other_versions)
{
    struct pt_ring_status rs;
    char msg[256] = "";
    uint64_t v[RING_STATS_SLOTS + 3];

    ring_times();
    for (size_t i = 0; i < PT_ARRAY_LEN(v); i++)
        v[i] = 100 + i;
    rfx_meta_put(&fx, "stats", 5, v, 17 * sizeof v[0]); /* up to reconciled_bytes */
    rfx_close_env(&fx);
    cr_assert_eq(pt_ring_status_read(fx.ring, &rs, msg, sizeof msg), 0, "%s", msg);
    cr_assert_eq(rs.writer.packets, 100);
    cr_assert_eq(rs.writer.cutoff_bytes, 108);
    cr_assert_eq(rs.writer.reconciled_bytes, 115);
    cr_assert(!rs.writer.degraded, "slot 16 is not read");
    cr_assert_eq(rs.writer.bad_time_pkts, 0);
    cr_assert_eq(rs.writer.cutoff_resets, 0);
}

Test(ring_extract, status_counters_of_a_newer_version)
{
    struct pt_ring_status rs;
    char msg[256] = "";
    uint64_t v[RING_STATS_SLOTS + 3];

    for (size_t i = 0; i < PT_ARRAY_LEN(v); i++)
        v[i] = 100 + i;
    ring_times();
    rfx_meta_put(&fx, "stats", 5, v, sizeof v);
    rfx_close_env(&fx);
    cr_assert_eq(pt_ring_status_read(fx.ring, &rs, msg, sizeof msg), 0, "%s", msg);
    cr_assert_eq(rs.writer.bad_time_pkts, 117);
    cr_assert_eq(rs.writer.cutoff_resets, 118);
}

Test(ring_extract, status_of_an_empty_ring)
{
    struct pt_ring_status rs;
    char msg[256] = "";

    rfx_close_env(&fx);
    cr_assert_eq(pt_ring_status_read(fx.ring, &rs, msg, sizeof msg), 0, "%s", msg);
    cr_assert_eq(rs.segments, 0);
    cr_assert_eq(rs.oldest_ns, 0);
    cr_assert_eq(rs.newest_ns, 0);
    cr_assert_eq(rs.packets, 0);
    cr_assert_gt(rs.index_bytes, 0);
}

/* ---- the commands ---- */

static int run_cmd(char **out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int run_cmd(char **out, const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    char *o = NULL;
    int rc = pt_test_run(cmd, &o, NULL);
    if (out)
        *out = o;
    else
        free(o);
    return rc;
}

Test(ring_extract, cmd_extract_matches_the_library)
{
    struct pt_ring_query q = q_all();
    char *lib, *cmd, *err;
    size_t ll, cl;

    ring_keys();
    q.by_host = true;
    fx_v4(q.host, 10, 0, 0, 4);
    q.bpf = "tcp and src port 80";
    extract_ok(&q, PT_RING_OUT_PCAP, NULL);
    lib = pt_test_slurp(out_path("out.pcap"), &ll);
    cr_assert_str_eq(marks(), "DF");
    cr_assert_eq(run_cmd(NULL,
                         "%s extract -d %s --host 10.0.0.4 -w - tcp and src port 80 > %s "
                         "2>/dev/null",
                         pt_test_bin(), fx.dir, out_path("cmd.pcap")),
                 0);
    cmd = pt_test_slurp(out_path("cmd.pcap"), &cl);
    cr_assert_eq(cl, ll);
    cr_assert_eq(memcmp(cmd, lib, ll), 0);
    free(cmd);
    /* -w FILE, a time range, the summary on stderr */
    cr_assert_eq(run_cmd(&err,
                         "%s extract -d %s --from 2026-11-23T08:02:00.004Z --to 1795420920.0055 "
                         "--port 80 -w %s 2>&1",
                         pt_test_bin(), fx.dir, out_path("out.pcap")),
                 0);
    cr_assert(strstr(err, "2 packets written"), "%s", err);
    free(err);
    cr_assert_str_eq(marks(), "DE");
    free(lib);
}

Test(ring_extract, cmd_usage_and_errors)
{
    char *err;

    ring_times();
    rfx_close_env(&fx);
    /* no -w */
    cr_assert_eq(run_cmd(&err, "%s extract -d %s 2>&1", pt_test_bin(), fx.dir), 2);
    cr_assert(strstr(err, "-w"), "%s", err);
    free(err);
    /* a bad expression: usage, and no file left behind */
    cr_assert_eq(run_cmd(&err, "%s extract -d %s -w %s 'tcp port' 2>&1", pt_test_bin(), fx.dir,
                         out_path("bad.pcap")),
                 2);
    cr_assert(strstr(err, "syntax error"), "%s", err);
    free(err);
    struct stat sb;
    cr_assert_neq(stat(out_path("bad.pcap"), &sb), 0);
    /* bad option values */
    cr_assert_eq(
        run_cmd(NULL, "%s extract -d %s --vlan 4096 -w - >/dev/null 2>&1", pt_test_bin(), fx.dir),
        2);
    cr_assert_eq(
        run_cmd(NULL, "%s extract -d %s --host 10.0.0 -w - >/dev/null 2>&1", pt_test_bin(), fx.dir),
        2);
    cr_assert_eq(run_cmd(NULL, "%s extract -d %s --from -1h --to -2h -w - >/dev/null 2>&1",
                         pt_test_bin(), fx.dir),
                 2);
    /* no ring */
    cr_assert_eq(run_cmd(&err, "%s extract -d %s/none -w - 2>&1 >/dev/null", pt_test_bin(), fx.dir),
                 1);
    cr_assert(strstr(err, "no ring"), "%s", err);
    free(err);
    cr_assert_eq(run_cmd(NULL, "%s status -d %s/none >/dev/null 2>&1", pt_test_bin(), fx.dir), 1);
    cr_assert_eq(
        run_cmd(NULL, "%s status -d %s --format csv >/dev/null 2>&1", pt_test_bin(), fx.dir), 2);
    /* --flow without a store */
    cr_assert_eq(
        run_cmd(&err, "%s extract -d %s --flow CAbc -w - 2>&1 >/dev/null", pt_test_bin(), fx.dir),
        1);
    cr_assert(strstr(err, "store"), "%s", err);
    free(err);
}

Test(ring_extract, cmd_status)
{
    struct pt_ring_stats w = {0};
    char *out;

    ring_times();
    w.packets = 9;
    w.lost_full_pkts = 3;
    w.lost_full_bytes = 300;
    w.segments_recycled = 4;
    rfx_stats(&fx, &w);
    rfx_close_env(&fx);
    cr_assert_eq(run_cmd(&out, "%s status -d %s", pt_test_bin(), fx.dir), 0);
    cr_assert(strstr(out, "oldest     2026-11-23T08:02:00Z\n"), "%s", out);
    cr_assert(strstr(out, "newest     2026-11-23T08:02:00Z\n"), "%s", out);
    cr_assert(strstr(out, "span       0.022s\n"), "%s", out);
    cr_assert(strstr(out, "segments   2\n"), "%s", out);
    cr_assert(strstr(out, "packets    9\n"), "%s", out);
    cr_assert(strstr(out, "of the ring's bytes"), "%s", out);
    cr_assert(strstr(out, "lost_full         3    300"), "%s", out);
    cr_assert(strstr(out, "4 recycled"), "%s", out);
    free(out);
    cr_assert_eq(run_cmd(&out, "%s status -d %s --format json", pt_test_bin(), fx.dir), 0);
    cr_assert(strstr(out, "\"oldest\":\"2026-11-23T08:02:00Z\""), "%s", out);
    cr_assert(strstr(out, "\"segments\":2,"), "%s", out);
    cr_assert(strstr(out, "\"packets\":9,"), "%s", out);
    cr_assert(strstr(out, "\"lost_full_pkts\":3,\"lost_full_bytes\":300,"), "%s", out);
    cr_assert(strstr(out, "\"degraded\":false}}\n"), "%s", out);
    free(out);
}

/* ---- --flow, end to end ---- */

struct recs {
    struct pt_flow_record r[16];
    unsigned n;
};

static void collect(const struct pt_flow_record *rec, void *arg)
{
    struct recs *l = arg;
    cr_assert_lt(l->n, 16);
    l->r[l->n++] = *rec;
}

/* The flow table's records of @n frames. */
static void flows_of(const struct fx_pkt *k, const uint64_t *ts, unsigned n, struct recs *out)
{
    struct pt_flow_config c;
    struct pt_flow_table *t;
    uint8_t buf[256];
    int err = 0;

    pt_flow_config_default(&c);
    c.shards = 4;
    c.max_flows = 64;
    c.workers = 1;
    cr_assert_not_null(t = pt_flow_table_create(&c, &err), "%d", err);
    struct pt_flow_worker *w = pt_flow_worker_get(t, 0);
    for (unsigned i = 0; i < n; i++) {
        struct pt_pkt p;
        memset(&p, 0, sizeof p);
        p.data = buf;
        p.caplen = p.wirelen = (uint32_t)fx_frame(buf, &k[i]);
        p.ts_ns = ts[i];
        p.linktype = k[i].raw ? PT_LINK_RAW : PT_LINK_ETHERNET;
        p.hw_vlan = PT_VLAN_NONE;
        pt_decode(&p, &fx.dst);
        pt_flow_process(w, &p);
    }
    memset(out, 0, sizeof *out);
    pt_flow_table_expire(t, 0, true, collect, out);
    pt_flow_table_destroy(t);
}

static const struct pt_flow_record *rec_at(const struct recs *l, uint64_t first_ns)
{
    for (unsigned i = 0; i < l->n; i++)
        if (l->r[i].ts_ns == first_ns)
            return &l->r[i];
    cr_assert_fail("no record starting at %llu", (unsigned long long)first_ns);
    return NULL;
}

Test(ring_extract, cmd_flow_by_uid)
{
    /* flows, marks in order:
     *   TCP 10.0.0.9:40000 -> 10.0.0.2:80 (orig the higher address): a b e
     *   UDP 10.0.0.1:53 -> 10.0.0.2:53 (same port): c d
     *   ICMP echo 10.0.0.2 -> 10.0.0.1, id 77, and its reply: f g
     *   ICMP echo id 78: h
     *   UDP 2001:db8::5:1000 -> 2001:db8::1:999 on VLAN 300: i j
     *   TCP 10.0.0.9:40001 -> 10.0.0.2:80: k (same hosts, another flow) */
    struct fx_pkt k[12];
    uint64_t ts[12];
    unsigned n = 0;
    struct recs recs;

    k[n] = tcp4(9, 2, 40000, 80, 'a');
    k[n + 1] = tcp4(2, 9, 80, 40000, 'b');
    k[n + 2] = udp4(1, 2, 53, 53, 'c');
    k[n + 3] = udp4(2, 1, 53, 53, 'd');
    k[n + 4] = tcp4(9, 2, 40000, 80, 'e');
    n += 5;
    k[n] = (struct fx_pkt){.ver = 4, .proto = 1, .sp = 8, .dp = 77, .vlan = PT_VLAN_NONE};
    fx_v4(k[n].src, 10, 0, 0, 2);
    fx_v4(k[n].dst, 10, 0, 0, 1);
    k[n].mark = 'f';
    k[n].payload = 1;
    k[n + 1] = k[n];
    memcpy(k[n + 1].src, k[n].dst, 16);
    memcpy(k[n + 1].dst, k[n].src, 16);
    k[n + 1].sp = 0;
    k[n + 1].mark = 'g';
    k[n + 2] = k[n];
    k[n + 2].dp = 78;
    k[n + 2].mark = 'h';
    n += 3;
    k[n] = (struct fx_pkt){.ver = 6, .proto = 17, .sp = 1000, .dp = 999, .vlan = 300};
    fx_v6(k[n].src, 5);
    fx_v6(k[n].dst, 1);
    k[n].mark = 'i';
    k[n].payload = 1;
    k[n + 1] = k[n];
    memcpy(k[n + 1].src, k[n].dst, 16);
    memcpy(k[n + 1].dst, k[n].src, 16);
    k[n + 1].sp = 999;
    k[n + 1].dp = 1000;
    k[n + 1].mark = 'j';
    n += 2;
    k[n] = tcp4(9, 2, 40001, 80, 'k');
    n++;
    for (unsigned i = 0; i < n; i++)
        ts[i] = T0 + (uint64_t)(i + 1) * MS;

    /* the ring: two blocks */
    struct rfx_seg *s = rfx_seg_new(1, PT_LINK_ETHERNET, SNAP);
    for (unsigned i = 0; i < n; i++) {
        if (i == 0 || i == 6)
            rfx_block(s, 0, 0);
        rfx_pkt(&fx, s, ts[i], &k[i]);
        if (i == 5 || i == n - 1)
            rfx_block_end(s);
    }
    rfx_seg_commit(&fx, s, true);
    rfx_close_env(&fx);

    /* the store: the flow table's records; the second TCP flow as live */
    rcu_register_thread();
    flows_of(k, ts, n, &recs);
    rcu_unregister_thread();
    cr_assert_eq(recs.n, 6);
    struct pt_store_config cfg;
    pt_store_config_default(&cfg);
    cfg.nosync = true;
    cfg.map_size = 1u << 20;
    char msg[256] = "";
    int err = 0;
    struct pt_store *st = pt_store_open(fx.dir, &cfg, false, &err, msg, sizeof msg);
    cr_assert_not_null(st, "%s", msg);
    const struct pt_flow_record *live = rec_at(&recs, ts[10]);
    struct pt_flow_record finished[6], lrec = *live;
    unsigned nf = 0;
    for (unsigned i = 0; i < recs.n; i++)
        if (&recs.r[i] != live)
            finished[nf++] = recs.r[i];
    lrec.end_reason = PT_FLOW_END_LIVE;
    struct pt_store_batch b = {
        .sec = T0 / NSEC + 1, .flows = finished, .n_flows = nf, .live = &lrec, .n_live = 1};
    cr_assert_eq(pt_store_write(st, &b), 0);
    pt_store_close(st);

    /* each flow by its first packet */
    struct {
        unsigned first;
        const char *want;
    } cases[] = {
        {0, "abe"}, {2, "cd"}, {5, "fg"}, {7, "h"}, {8, "ij"}, {10, "k" /* live */},
    };
    for (size_t i = 0; i < PT_ARRAY_LEN(cases); i++) {
        const struct pt_flow_record *r = rec_at(&recs, ts[cases[i].first]);
        char *e = NULL;
        int rc = run_cmd(&e, "%s extract -d %s --flow %s -w %s 2>&1", pt_test_bin(), fx.dir, r->uid,
                         out_path("out.pcap"));
        cr_assert_eq(rc, 0, "flow %s: %s", r->uid, e);
        cr_assert_null(strstr(e, "warning"), "%s", e);
        free(e);
        cr_assert_str_eq(marks(), cases[i].want, "flow %s (first packet %u)", r->uid,
                         cases[i].first);
    }
    /* within --from/--to: the TCP flow's last packet alone */
    const struct pt_flow_record *tcp = rec_at(&recs, ts[0]);
    cr_assert_eq(run_cmd(NULL, "%s extract -d %s --flow %s --from 1795420920.004 -w %s 2>/dev/null",
                         pt_test_bin(), fx.dir, tcp->uid, out_path("out.pcap")),
                 0);
    cr_assert_str_eq(marks(), "e");
    /* outside its span; an unknown uid */
    cr_assert_eq(run_cmd(NULL,
                         "%s extract -d %s --flow %s --from 1795420921 -w - 2>/dev/null "
                         ">/dev/null",
                         pt_test_bin(), fx.dir, tcp->uid),
                 1);
    cr_assert_eq(run_cmd(NULL, "%s extract -d %s --flow CNoSuchFlow -w - 2>/dev/null >/dev/null",
                         pt_test_bin(), fx.dir),
                 1);
}

/* ---- through the writer ---- */

/* pt_ring_open/put/close write what the read side reads: two producers on
 * two named interfaces, their blocks overlapping in time, a stripped VLAN
 * tag written back, small chunks so there are many blocks. */
Test(ring_extract, round_trip_through_the_writer)
{
    struct pt_ring_config c;
    struct pt_ring_stats ws;
    struct pt_ring_extract_stats st;
    struct pt_ring_status rs;
    struct pt_ring_query q;
    char msg[512] = "", ring[128];
    uint8_t buf[128][256];
    struct fx_pkt k[128];
    int err = 0;
    const unsigned n = 120;

    rfx_close_env(&fx);
    snprintf(ring, sizeof ring, "%s/rt", fx.dir);
    pt_ring_config_default(&c);
    snprintf(c.dir, sizeof c.dir, "%s", ring);
    c.segment_size = PT_RING_MIN_SEGMENT;
    c.ring_size = 0;
    c.keep_free_pct = 0;
    c.snaplen = 256;
    c.chunk_size = 1024;
    c.chunks = 64;
    c.commit_ms = 20;
    c.sync = false;
    struct pt_ring *r = pt_ring_open(&c, 2, &err, msg, sizeof msg);
    cr_assert_not_null(r, "open: %s (%s)", msg, pt_strerror(err));
    pt_ring_iface_name(r, 0, "eth0");
    pt_ring_iface_name(r, 1, "eth1");
    /* even i: producer 0, eth0, UDP 10.0.0.1:1000 <-> 10.0.0.2:53, every
     * fourth one with a stripped tag (VLAN 100); odd i: producer 1, eth1,
     * TCP 10.0.0.3:2000 <-> 10.0.0.4:80. Times: producer 1 runs 1.5 ms
     * behind producer 0, so their blocks overlap. */
    for (unsigned i = 0; i < n; i++) {
        bool udp = i % 2 == 0;
        k[i] = udp ? udp4(i % 4 ? 2 : 1, i % 4 ? 1 : 2, i % 4 ? 53 : 1000, i % 4 ? 1000 : 53, 0)
                   : tcp4(3, 4, 2000, 80, 0);
        k[i].mark = (uint8_t)i;
        uint32_t len = (uint32_t)fx_frame(buf[i], &k[i]);
        struct pt_ring_pkt pk = {.data = buf[i],
                                 .caplen = len,
                                 .wirelen = len + (udp && i % 4 == 0 ? 4 : 0),
                                 .ts_ns = T0 + (uint64_t)i * MS + (udp ? 0 : 1500 * 1000),
                                 .linktype = PT_LINK_ETHERNET,
                                 .iface = udp ? 0 : 1,
                                 .hw_tag = udp && i % 4 == 0 ? 0x81000000u | 100 : 0};
        pt_ring_put(pt_ring_producer(r, udp ? 0 : 1), &pk);
    }
    pt_ring_flush(pt_ring_producer(r, 0), true);
    pt_ring_flush(pt_ring_producer(r, 1), true);
    pt_ring_close(r, &ws);
    cr_assert_eq(ws.packets, n);
    cr_assert_eq(ws.lost_full_pkts, 0);

    /* everything, in time order, with interface names */
    q = q_all();
    FILE *f = fopen(out_path("out.pcap"), "wb");
    cr_assert_eq(pt_ring_extract(ring, &q, PT_RING_OUT_PCAPNG, f, &st, msg, sizeof msg), 0, "%s",
                 msg);
    fclose(f);
    cr_assert_eq(st.packets, n);
    cr_assert_gt(st.blocks_read, 4, "small chunks: many blocks (%llu)",
                 (unsigned long long)st.blocks_read);
    static struct outrec o[128];
    uint8_t scratch[256];
    cr_assert_eq(read_back(out_path("out.pcap"), o, 128), n);
    for (unsigned j = 0; j < n; j++) {
        if (j)
            cr_assert_geq(o[j].ts, o[j - 1].ts, "time order at %u", j);
        unsigned i = o[j].mark;
        cr_assert_str_eq(o[j].ifname, i % 2 ? "eth1" : "eth0");
        cr_assert_eq(o[j].caplen, fx_frame(scratch, &k[i]) + (i % 4 == 0 ? 4 : 0),
                     "the stripped tag is back in packet %u", i);
    }

    /* by host, VLAN and flow through the writer's keys */
    q = q_all();
    q.by_host = true;
    fx_v4(q.host, 10, 0, 0, 4);
    f = fopen(out_path("out.pcap"), "wb");
    cr_assert_eq(pt_ring_extract(ring, &q, PT_RING_OUT_PCAP, f, &st, msg, sizeof msg), 0, "%s",
                 msg);
    fclose(f);
    cr_assert_eq(st.packets, n / 2);
    q = q_all();
    q.by_vlan = true;
    q.vlan = 100;
    q.bpf = "vlan 100 and udp port 53";
    f = fopen(out_path("out.pcap"), "wb");
    cr_assert_eq(pt_ring_extract(ring, &q, PT_RING_OUT_PCAP, f, &st, msg, sizeof msg), 0, "%s",
                 msg);
    fclose(f);
    cr_assert_eq(st.packets, n / 4);
    q = q_all();
    q.by_flow = true;
    {
        struct pt_pkt p;
        bool sw;
        memset(&p, 0, sizeof p);
        p.data = buf[2];
        p.caplen = p.wirelen = (uint32_t)fx_frame(buf[2], &k[2]); /* an untagged UDP one */
        p.linktype = PT_LINK_ETHERNET;
        p.hw_vlan = PT_VLAN_NONE;
        pt_decode(&p, &fx.dst);
        cr_assert(pt_flow_key_make(&q.flow, &p.l3[0], &sw));
    }
    f = fopen(out_path("out.pcap"), "wb");
    cr_assert_eq(pt_ring_extract(ring, &q, PT_RING_OUT_PCAP, f, &st, msg, sizeof msg), 0, "%s",
                 msg);
    fclose(f);
    cr_assert_eq(st.packets, n / 4, "the untagged UDP packets, both ways");

    cr_assert_eq(pt_ring_status_read(ring, &rs, msg, sizeof msg), 0, "%s", msg);
    cr_assert_eq(rs.packets, n);
    cr_assert_eq(rs.oldest_ns, T0);
    cr_assert_eq(rs.newest_ns, T0 + (uint64_t)(n - 1) * MS + 1500 * 1000);
    cr_assert_eq(rs.writer.packets, n);
    cr_assert_eq(rs.writer.bytes, ws.bytes);
    cr_assert_eq(rs.bytes, 24 * rs.segments + ws.bytes);
    cr_assert_geq(rs.segments, 1);
}

/* Another process reads while the writer writes: what is committed is
 * extracted, the open (preallocated) segment is read up to valid_len only. */
Test(ring_extract, reads_while_the_writer_writes)
{
    struct pt_ring_config c;
    struct pt_ring_stats ws;
    char msg[512] = "", *out = NULL;
    uint8_t buf[256];
    int err = 0;

    rfx_close_env(&fx);
    pt_ring_config_default(&c);
    snprintf(c.dir, sizeof c.dir, "%s/ring", fx.dir); /* replaces the fixture's empty ring */
    rfx_fini(&fx);
    cr_assert_eq(mkdir(fx.dir, 0755), 0);
    c.segment_size = PT_RING_MIN_SEGMENT;
    c.snaplen = 256;
    c.chunk_size = 1024;
    c.chunks = 16;
    c.commit_ms = 20;
    c.keep_free_pct = 0;
    struct pt_ring *r = pt_ring_open(&c, 1, &err, msg, sizeof msg);
    cr_assert_not_null(r, "open: %s (%s)", msg, pt_strerror(err));
    for (unsigned round = 1; round <= 2; round++) {
        for (unsigned i = 0; i < 40; i++) {
            struct fx_pkt k = udp4(1, 2, 1000, (uint16_t)(53 + round), (char)i);
            uint32_t len = (uint32_t)fx_frame(buf, &k);
            struct pt_ring_pkt pk = {.data = buf,
                                     .caplen = len,
                                     .wirelen = len,
                                     .ts_ns = T0 + (uint64_t)(40 * round + i) * MS,
                                     .linktype = PT_LINK_ETHERNET};
            pt_ring_put(pt_ring_producer(r, 0), &pk);
        }
        pt_ring_flush(pt_ring_producer(r, 0), true);
        for (int t = 0; t < 400; t++) { /* committed within a few commit intervals */
            pt_ring_stats(r, &ws);
            if (ws.packets == 40 * round)
                break;
            usleep(5000);
        }
        cr_assert_eq(ws.packets, 40 * round);
        cr_assert_eq(run_cmd(&out, "%s extract -d %s --port %u -w %s 2>&1", pt_test_bin(), fx.dir,
                             53 + round, out_path("out.pcap")),
                     0, "%s", out);
        free(out);
        struct outrec o[64];
        cr_assert_eq(read_back(out_path("out.pcap"), o, 64), 40, "round %u", round);
        cr_assert_eq(run_cmd(&out, "%s status -d %s --format json", pt_test_bin(), fx.dir), 0);
        char want[64];
        snprintf(want, sizeof want, "\"packets\":%u,", 40 * round);
        cr_assert(strstr(out, want), "%s", out);
        free(out);
    }
    pt_ring_close(r, NULL);
}
