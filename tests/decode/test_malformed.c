/* test_malformed.c - every capture in pcap/malformed/ gives its expected
 * named error (ASan, under `make asan`, checks nothing reads past caplen:
 * frames are copied into exactly-sized heap buffers), and truncating good
 * frames at every byte never crashes and always yields an error. */
#include <dirent.h>

#include "decode/decode_test.h"
#include "decode/tunnel_frames.h"

static const struct {
    const char *file;
    int packets;
    unsigned err;  /* p->err of every packet */
    unsigned also; /* another error counted, 0 if none */
} cases[] = {
    /* application-layer damage only: the decoders have nothing to say */
    {"ndpi_dhcp-fuzz.pcapng", 1, PT_DEC_OK, 0},
    {"ndpi_malformed_dns.pcap", 6, PT_DEC_OK, 0},
    {"ndpi_malformed_icmp.pcap", 1, PT_DEC_OK, 0},
    {"tcpdump_dns-zlip-1.pcap", 1, PT_DEC_OK, 0},
    {"tcpdump_dns_fwdptr.pcap", 1, PT_DEC_OK, 0},
    {"tcpdump_empty.pcap", 0, PT_DEC_OK, 0},
    {"tcpdump_empty.pcapng", 0, PT_DEC_OK, 0},
    /* header damage */
    {"tcpdump_arp-too-long-tha.pcap", 1, PT_DEC_ARP_BAD, 0},
    {"tcpdump_bootp_asan.pcap", 1, PT_DEC_IPV4_LEN_TRUNC, 0},
    {"tcpdump_heapoverflow-tcp_print.pcap", 1, PT_DEC_IPV4_LEN_TRUNC, PT_DEC_TCP_TRUNC},
    {"tcpdump_icmp-cksum-oobr-3.pcapng", 1, PT_DEC_IPV4_LEN_TRUNC, 0},
    {"tcpdump_ipv4_invalid_total_length.pcap", 1, PT_DEC_IPV4_LEN_TRUNC, 0},
    {"tcpdump_ipv6_invalid_length.pcap", 1, PT_DEC_IPV6_TRUNC, 0},
    {"tcpdump_ipv6hdr-heapoverflow.pcap", 1, PT_DEC_IPV6_LEN_TRUNC, PT_DEC_IPV6_EXT_TRUNC},
    {"tcpdump_tcp_header_heapoverflow.pcap", 1, PT_DEC_IPV4_LEN_TRUNC, PT_DEC_TCP_TRUNC},
    /* MANIFEST says "IHL of zero"; the bytes are IHL 5, total length 0
     * (what Zeek calls ip_hdr_len_zero) */
    {"zeek_ip-bogus-header-len.pcap", 1, PT_DEC_IPV4_BAD_LEN, 0},
    {"zeek_ip4-trunc.pcap", 1, PT_DEC_IPV4_TRUNC, 0},
    {"zeek_ip6-ext-trunc.pcap", 1, PT_DEC_IPV6_LEN_TRUNC, PT_DEC_IPV6_EXT_TRUNC},
    {"zeek_ip6-trunc.pcap", 1, PT_DEC_IPV6_TRUNC, 0},
    {"zeek_trunc-hdr.pcap", 1, PT_DEC_ETH_TRUNC, 0},
};

Test(decode_malformed, every_file_gives_its_named_error)
{
    for (unsigned i = 0; i < PT_ARRAY_LEN(cases); i++) {
        char rel[256];
        static struct pt_decode_stats st;
        pcap_t *pc;
        struct pcap_pkthdr *h;
        const u_char *data;
        int n = 0;

        snprintf(rel, sizeof rel, "pcap/malformed/%s", cases[i].file);
        pt_decode_stats_init(&st);
        pc = td_open(rel);
        while (pcap_next_ex(pc, &h, &data) == 1) {
            struct td_frame f;

            td_load(&f, pcap_datalink(pc), h, data, &st);
            cr_assert_eq(f.p.err, cases[i].err, "%s #%d: %s", cases[i].file, n + 1,
                         pt_decode_err_name(f.p.err));
            free(f.buf);
            n++;
        }
        pcap_close(pc);
        cr_assert_eq(n, cases[i].packets, "%s", cases[i].file);
        if (cases[i].err)
            cr_assert_eq(st.err[cases[i].err], (uint64_t)n, "%s", cases[i].file);
        if (cases[i].also)
            cr_assert_eq(st.err[cases[i].also], 1, "%s: %s", cases[i].file,
                         pt_decode_err_name(cases[i].also));
    }
}

/* A new file in malformed/ must get a row above. */
Test(decode_malformed, table_covers_the_directory)
{
    DIR *dir = opendir(pt_test_data("pcap/malformed"));
    struct dirent *e;

    cr_assert_not_null(dir);
    while ((e = readdir(dir))) {
        const char *dot = strrchr(e->d_name, '.');
        bool found = false;

        if (!dot || (strcmp(dot, ".pcap") && strcmp(dot, ".pcapng")))
            continue;
        for (unsigned i = 0; i < PT_ARRAY_LEN(cases); i++)
            found |= !strcmp(cases[i].file, e->d_name);
        cr_assert(found, "%s has no expectation", e->d_name);
    }
    closedir(dir);
}

Test(decode_malformed, specific_values)
{
    struct td_frame f;

    /* the quoted UDP/SNMP header is there even though the outer IP lies */
    td_nth(&f, "pcap/malformed/tcpdump_icmp-cksum-oobr-3.pcapng", 1, NULL);
    cr_assert(f.p.l3[0].flags & PT_L3_TRUNC);
    cr_assert(f.p.quote.valid);
    cr_assert_eq(f.p.quote.proto, 17);
    cr_assert_eq(f.p.quote.dport, 162);
    free(f.buf);
    td_nth(&f, "pcap/malformed/ndpi_malformed_icmp.pcap", 1, NULL);
    cr_assert_eq(f.p.l3[0].icmp_type, 165);
    free(f.buf);
    /* TCP options cut by the capture: the fixed header is still usable */
    td_nth(&f, "pcap/malformed/tcpdump_heapoverflow-tcp_print.pcap", 1, NULL);
    cr_assert(f.p.l3[0].flags & PT_L3_L4);
    cr_assert_not(f.p.l3[0].flags & PT_L3_TCP_OPTS);
    cr_assert_eq(f.p.l3[0].sport, 12336);
    cr_assert_eq(f.p.l3[0].payload_caplen, 0);
    free(f.buf);
}

/* Decode @b cut at every length; the full frame must decode with @want_err,
 * and any cut before the end of the outer IP datagram must give an error
 * (bytes after it are link padding/trailer). */
static void sweep(const uint8_t *b, uint32_t len, int linktype, unsigned want_err)
{
    static struct pt_decode_stats st;
    struct td_frame full;
    uint32_t need = len;

    pt_decode_stats_init(&st);
    td_bytes(&full, linktype, b, len, &st);
    if (full.p.n_l3)
        need = full.p.l3[0].l3_off + full.p.l3[0].ip_len;
    free(full.buf);
    for (uint32_t cap = 0; cap <= len; cap++) {
        struct td_frame f;

        td_bytes(&f, linktype, b, cap, &st);
        if (cap == len)
            cr_assert_eq(f.p.err, want_err, "full frame: %s", pt_decode_err_name(f.p.err));
        else if (cap < need)
            cr_assert_neq(f.p.err, PT_DEC_OK, "cut at %u of %u decoded clean", cap, len);
        for (unsigned i = 0; i < f.p.n_l3; i++) {
            const struct pt_l3 *l = &f.p.l3[i];
            cr_assert_leq(l->l4_off, cap);
            if (l->payload)
                cr_assert_leq(l->payload + l->payload_caplen, f.buf + cap);
            cr_assert_leq(l->payload_caplen, l->l4_len);
        }
        free(f.buf);
    }
    cr_assert_eq(st.frames, len + 2);
}

Test(decode_malformed, truncate_real_frames_at_every_byte)
{
    static const struct {
        const char *file;
        int n;
    } frames[] = {
        {"pcap/vlan/zeek_vlan-qinqinq.pcap", 2},    /* 3 tags, TCP options */
        {"pcap/dns/ndpi_dns.pcap", 4},              /* QinQ PPPoE UDP */
        {"pcap/vlan/zeek_mixed-vlan-mpls.pcap", 1}, /* MPLS */
        {"pcap/icmp/zeek_icmp-destunreach-udp.pcap", 1},
        {"pcap/ipv6/zeek_ipv6-hbh-routing0.pcap", 1},
        {"pcap/ipv6/zeek_ipv6-fragmented-dns.pcap", 6},
        {"pcap/linktype/zeek_linux_dlt_sll2.pcap", 1},
        {"pcap/tcp/tcpdump_tcp-handshake-nano.pcap", 1},
        {"pcap/tls/sv_tls-duplicate-hello.pcap", 1},
        {"pcap/linktype/tcpdump_LINKTYPE_RAW_ipv6.pcap", 1},
    };

    for (unsigned i = 0; i < PT_ARRAY_LEN(frames); i++) {
        struct td_frame f;

        td_nth(&f, frames[i].file, frames[i].n, NULL);
        cr_assert_eq(f.p.err, PT_DEC_OK, "%s", frames[i].file);
        sweep(f.buf, f.p.caplen, f.p.linktype, PT_DEC_OK);
        free(f.buf);
    }
}

Test(decode_malformed, truncate_tunnel_frame_at_every_byte)
{
    struct tf t = {0};
    uint8_t gre[8] = {0x10, 0x00, 0x22, 0xeb, 0, 0, 0, 1};
    uint8_t ers[12] = {0x20, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0x01};
    uint8_t vx[8] = {0x08, 0, 0, 0, 0, 0, 1, 0};

    /* ERSPAN III (platform subheader) inside VXLAN, then 6in4 */
    tf_eth(&t, 0x0800);
    tf_ipv4(&t, 17, 1, 1, 2);
    tf_udp(&t, 1, 4789);
    tf_put(&t, vx, 8);
    tf_eth(&t, 0x86dd);
    tf_ipv6(&t, 47, 2, 1, 2);
    tf_put(&t, gre, 8);
    tf_put(&t, ers, 12);
    tf_put(&t, NULL, 8);
    tf_eth(&t, 0x0800);
    tf_ipv4(&t, 41, 3, 1, 2);
    tf_ipv6(&t, 6, 4, 1, 2);
    tf_tcp(&t, 1, 2);
    tf_done(&t);
    sweep(t.b, t.len, PT_LINK_ETHERNET, PT_DEC_OK);
}
