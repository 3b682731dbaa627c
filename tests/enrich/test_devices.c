/* test_devices.c - the device table (src/enrich/devices.c).
 *
 * DESIGN
 *  1. devices_dhcp/<capture>: every DHCP datagram of a shared capture is parsed
 *     (pt_dhcp_parse) and fed in frame order; the table is checked against tshark's
 *     fields of the same frames (tests/expected/<cat>/<file>.dhcp.tsv): each client's
 *     MAC entry holds every host name it sent (source dhcp) and its last vendor class;
 *     the last ACK yiaddr / client ciaddr of a MAC is bound both ways; the MAC's vendor
 *     is tshark's eth OUI name (…oui.tsv, tshark_vendor). Device types where the
 *     evidence is in the capture (MSFT 5.0, android- host name, a Routerboard OUI).
 *  2. devices_arp/<capture>: ARP frames decoded and fed; every sender IP tshark shows
 *     (…arp.tsv) is bound to its last sender MAC.
 *  3. devices_mdns/arkime_v6_http: the mDNS responses through the real DNS parser; every
 *     A/AAAA answer of a "<host>.local" owner and every reverse PTR answer tshark lists
 *     (…mdns.tsv, gen-expected-mdns.sh) names its address with that host (source mdns).
 *  4. devices_os: pt_dev_os_guess() on documented SYN signatures, and through conn
 *     records (SYN needed, SYN/ACK weaker, hops).
 *  5. devices_conn, devices_lru, devices_save, devices_names: services, what is tracked,
 *     exact eviction counts, the changed-entry hand-out and restore, NetBIOS and reverse
 *     name decoding, PTR answers. */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "decode/decode_test.h"
#include "pt/devices.h"
#include "pt/dhcp.h"
#include "support/appdns.h"
#include "support/streams.h"
#include "support/support.h"
#include "tsv.h"

#define SEC 1000000000ull

static struct pt_oui *oui;

static void oui_load(void)
{
    char err[PT_OUI_ERR_MAX];

    oui = pt_oui_create(NULL, err);
    cr_assert_not_null(oui, "%s", err);
}

static void oui_free(void)
{
    pt_oui_destroy(oui);
}

static void ip_parse(const char *s, uint8_t a[16])
{
    memset(a, 0, 16);
    if (inet_pton(AF_INET6, s, a) == 1)
        return;
    a[10] = a[11] = 0xff;
    cr_assert_eq(inet_pton(AF_INET, s, a + 12), 1, "bad address %s", s);
}

static void mac_parse(const char *s, uint8_t m[6])
{
    unsigned v[6];

    cr_assert_eq(sscanf(s, "%x:%x:%x:%x:%x:%x", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]), 6,
                 "bad MAC %s", s);
    for (int i = 0; i < 6; i++)
        m[i] = (uint8_t)v[i];
}

static bool has_name(const struct pt_device *d, unsigned src, const char *name)
{
    for (unsigned i = 0; i < d->n_names; i++)
        if (d->names[i].src == src && strcmp(d->names[i].name, name) == 0)
            return true;
    return false;
}

static struct pt_devices *mk(uint32_t cap, bool all)
{
    struct pt_devices_config cfg = {.capacity = cap, .all_addrs = all};
    struct pt_devices *t;
    int err;

    cr_assert_not_null(t = pt_devices_create(&cfg, oui, &err));
    return t;
}

/* ---- 1. DHCP against tshark ---- */

struct dmsg {
    uint32_t frame;
    uint64_t ts;
    uint8_t src[4], dst[4];
    const uint8_t *data;
    uint32_t len;
};

static int dmsg_cmp(const void *a, const void *b)
{
    const struct dmsg *x = a, *y = b;

    return x->frame < y->frame ? -1 : x->frame > y->frame;
}

struct bindexp {
    char mac[18], ip[16];
};

static void dhcp_check(const char *pcap, const char *dhcp_tsv, const char *oui_tsv,
                       struct pt_devices **out)
{
    struct pt_test_conns cs;
    struct dmsg *m = NULL;
    size_t nm = 0, cap = 0;
    struct tsv t, o;
    struct pt_devices *dt = mk(1024, false);
    struct pt_dhcp_stats st;
    static struct bindexp by_mac[64], by_ip[64];
    size_t nbm = 0, nbi = 0, checked = 0;

    memset(&st, 0, sizeof st);
    pt_test_conns_load(&cs, pcap);
    for (size_t i = 0; i < cs.n; i++) {
        const struct pt_test_conn *k = &cs.conn[i];
        bool p = k->port[0] == 67 || k->port[0] == 68 || k->port[1] == 67 || k->port[1] == 68;
        if (k->proto != 17 || k->ver != 4 || !p)
            continue;
        for (unsigned d = 0; d < 2; d++)
            for (size_t s = 0; s < k->n_seg[d]; s++) {
                if (nm == cap) {
                    cap = cap ? 2 * cap : 16;
                    cr_assert_not_null(m = realloc(m, cap * sizeof *m));
                }
                m[nm] = (struct dmsg){.frame = k->seg[d][s].frame,
                                      .ts = k->seg[d][s].ts_ns,
                                      .data = k->seg[d][s].data,
                                      .len = k->seg[d][s].len};
                memcpy(m[nm].src, k->addr[d] + 12, 4);
                memcpy(m[nm].dst, k->addr[!d] + 12, 4);
                nm++;
            }
    }
    qsort(m, nm, sizeof *m, dmsg_cmp);
    tsv_load(&t, dhcp_tsv);
    cr_assert_eq(nm, t.n, "%s: %zu datagrams, tshark %zu", pcap, nm, t.n);
    size_t cop = tsv_col(&t, "dhcp.type"), cmac = tsv_col(&t, "dhcp.hw.mac_addr"),
           chn = tsv_col(&t, "dhcp.option.hostname"),
           cvc = tsv_col(&t, "dhcp.option.vendor_class_id"), cty = tsv_col(&t, "dhcp.option.dhcp"),
           cyi = tsv_col(&t, "dhcp.ip.your"), cci = tsv_col(&t, "dhcp.ip.client");
    for (size_t i = 0; i < nm; i++) {
        struct pt_app_dhcp a;
        uint8_t *copy = malloc(m[i].len);
        char **r = t.row[i], mac[18];

        cr_assert_not_null(copy);
        memcpy(copy, m[i].data, m[i].len);
        cr_assert(pt_dhcp_parse(&a.msg, copy, m[i].len, &st), "%s frame %u", pcap, m[i].frame);
        free(copy);
        memcpy(a.src, m[i].src, 4);
        memcpy(a.dst, m[i].dst, 4);
        pt_devices_dhcp(dt, &a, m[i].ts);
        snprintf(mac, sizeof mac, "%.17s", r[cmac]);
        /* the model of what must be bound, from tshark's fields */
        const char *ip = NULL;
        if (strcmp(r[cop], "1") == 0 && strcmp(r[cci], "0.0.0.0") != 0)
            ip = r[cci];
        if (strcmp(r[cop], "2") == 0 && strcmp(r[cty], "5") == 0 && strcmp(r[cyi], "0.0.0.0"))
            ip = r[cyi];
        if (ip) {
            size_t j;
            for (j = 0; j < nbm && strcmp(by_mac[j].mac, mac); j++)
                ;
            if (j == nbm)
                nbm++;
            snprintf(by_mac[j].mac, 18, "%s", mac);
            snprintf(by_mac[j].ip, 16, "%s", ip);
            for (j = 0; j < nbi && strcmp(by_ip[j].ip, ip); j++)
                ;
            if (j == nbi)
                nbi++;
            snprintf(by_ip[j].mac, 18, "%s", mac);
            snprintf(by_ip[j].ip, 16, "%s", ip);
        }
    }
    /* names and vendor classes of client messages */
    for (size_t i = 0; i < t.n; i++) {
        char **r = t.row[i];
        struct pt_device d;
        uint8_t mac[6];

        if (strcmp(r[cop], "1") != 0)
            continue;
        mac_parse(r[cmac], mac);
        cr_assert(pt_devices_get(dt, PT_DEV_MAC, mac, &d), "%s: no entry for %s", pcap, r[cmac]);
        if (r[chn][0])
            cr_assert(has_name(&d, PT_DEV_SRC_DHCP, r[chn]), "%s: %s lacks name %s", pcap, r[cmac],
                      r[chn]);
        const char *last_vc = "";
        for (size_t j = 0; j < t.n; j++)
            if (strcmp(t.row[j][cop], "1") == 0 && strncmp(t.row[j][cmac], r[cmac], 17) == 0 &&
                t.row[j][cvc][0])
                last_vc = t.row[j][cvc];
        cr_assert_str_eq(d.dhcp_vendor, last_vc, "%s: %s vendor class", pcap, r[cmac]);
        checked++;
    }
    for (size_t j = 0; j < nbm; j++) {
        struct pt_device d;
        uint8_t mac[6], ip[16];
        mac_parse(by_mac[j].mac, mac);
        ip_parse(by_mac[j].ip, ip);
        cr_assert(pt_devices_get(dt, PT_DEV_MAC, mac, &d));
        cr_assert(d.flags & PT_DEV_F_BOUND);
        cr_assert_arr_eq(d.bound, ip, 16, "%s: %s bound", pcap, by_mac[j].mac);
        checked++;
    }
    for (size_t j = 0; j < nbi; j++) {
        struct pt_device d;
        uint8_t mac[6], ip[16];
        mac_parse(by_ip[j].mac, mac);
        ip_parse(by_ip[j].ip, ip);
        cr_assert(pt_devices_get(dt, PT_DEV_IP, ip, &d), "%s: no entry for %s", pcap, by_ip[j].ip);
        cr_assert(d.flags & PT_DEV_F_BOUND);
        cr_assert_arr_eq(d.bound, mac, 6, "%s: %s bound", pcap, by_ip[j].ip);
        checked++;
    }
    /* vendors of every MAC entry tshark names */
    tsv_load(&o, oui_tsv);
    size_t ctv = tsv_col(&o, "tshark_vendor");
    for (size_t i = 0; i < o.n; i++) {
        struct pt_device d;
        uint8_t mac[6];
        char want[PT_DEV_VENDOR_MAX];

        mac_parse(o.row[i][0], mac);
        if (!pt_devices_get(dt, PT_DEV_MAC, mac, &d))
            continue; /* not a DHCP client or server of the capture */
        snprintf(want, sizeof want, "%s", o.row[i][ctv]);
        /* tshark's manuf file spells some names in another case than the IEEE CSV */
        cr_assert_eq(strcasecmp(d.vendor, want), 0, "%s: %s vendor %s, tshark %s", pcap,
                     o.row[i][0], d.vendor, want);
        checked++;
    }
    cr_assert_gt(checked, 0);
    tsv_free(&o);
    tsv_free(&t);
    free(m);
    pt_test_conns_free(&cs);
    if (out)
        *out = dt;
    else
        pt_devices_destroy(dt);
}

Test(devices_dhcp, ndpi_1kxun, .init = oui_load, .fini = oui_free)
{
    struct pt_devices *t;
    struct pt_device d;
    uint8_t mac[6];

    dhcp_check("pcap/mixed/ndpi_1kxun.pcap", "mixed/ndpi_1kxun.pcap.dhcp.tsv",
               "mixed/ndpi_1kxun.pcap.oui.tsv", &t);
    mac_parse("48:d2:24:63:0a:de", mac); /* kevin-PC, MSFT 5.0 */
    cr_assert(pt_devices_get(t, PT_DEV_MAC, mac, &d));
    cr_assert_eq(d.type, PT_DEV_TYPE_COMPUTER);
    cr_assert_eq(d.type_src, PT_DEV_TSRC_DHCP);
    uint8_t ip[16];
    ip_parse("192.168.5.41", ip); /* its ACK: the IP entry gets the name and type */
    cr_assert(pt_devices_get(t, PT_DEV_IP, ip, &d));
    cr_assert(has_name(&d, PT_DEV_SRC_DHCP, "kevin-PC"));
    cr_assert_eq(d.type, PT_DEV_TYPE_COMPUTER);
    mac_parse("bc:ee:7b:0c:b3:de", mac); /* android-f7ca0f571270c52d */
    cr_assert(pt_devices_get(t, PT_DEV_MAC, mac, &d));
    cr_assert_eq(d.type, PT_DEV_TYPE_PHONE, "type %u src %u", d.type, d.type_src);
    mac_parse("4c:5e:0c:ea:03:65", mac); /* Routerboard.com (MikroTik) */
    cr_assert(pt_devices_get(t, PT_DEV_MAC, mac, &d));
    cr_assert_eq(d.type, PT_DEV_TYPE_NETWORK);
    cr_assert_eq(d.type_src, PT_DEV_TSRC_OUI);
    mac_parse("60:c5:47:05:bc:8c", mac); /* MacBook-Air: Apple says nothing of the type */
    cr_assert(pt_devices_get(t, PT_DEV_MAC, mac, &d));
    cr_assert_eq(d.type, PT_DEV_TYPE_UNKNOWN);
    pt_devices_destroy(t);
}

Test(devices_dhcp, zeek_dhcp, .init = oui_load, .fini = oui_free)
{
    struct pt_devices *t;
    struct pt_device d;
    uint8_t mac[6];

    dhcp_check("pcap/dhcp/zeek_dhcp.pcap", "dhcp/zeek_dhcp.pcap.dhcp.tsv",
               "dhcp/zeek_dhcp.pcap.oui.tsv", &t);
    /* "ArubaAP" is the server's vendor class: it says nothing of the client */
    mac_parse("90:b1:1c:99:49:29", mac);
    cr_assert(pt_devices_get(t, PT_DEV_MAC, mac, &d));
    cr_assert_str_eq(d.dhcp_vendor, "");
    cr_assert_eq(d.n_names, 1);
    pt_devices_destroy(t);
}

Test(devices_dhcp, arkime_wireshark_dhcp, .init = oui_load, .fini = oui_free)
{
    dhcp_check("pcap/dhcp/arkime_wireshark-dhcp.pcap", "dhcp/arkime_wireshark-dhcp.pcap.dhcp.tsv",
               "dhcp/arkime_wireshark-dhcp.pcap.oui.tsv", NULL);
}

Test(devices_dhcp, tcpdump_dhcp_rfc3004, .init = oui_load, .fini = oui_free)
{
    dhcp_check("pcap/dhcp/tcpdump_dhcp-rfc3004.pcap", "dhcp/tcpdump_dhcp-rfc3004.pcap.dhcp.tsv",
               "dhcp/tcpdump_dhcp-rfc3004.pcap.oui.tsv", NULL);
}

Test(devices_dhcp, zeek_discover_client_id, .init = oui_load, .fini = oui_free)
{
    dhcp_check("pcap/dhcp/zeek_dhcp_discover_param_req_and_client_id.pcap",
               "dhcp/zeek_dhcp_discover_param_req_and_client_id.pcap.dhcp.tsv",
               "dhcp/zeek_dhcp_discover_param_req_and_client_id.pcap.oui.tsv", NULL);
}

/* ---- 2. ARP against tshark ---- */

static void arp_check(const char *rel, const char *arp_tsv, size_t want_bound)
{
    struct pt_devices *dt = mk(1024, false);
    struct pt_decode_stats st;
    struct pcap_pkthdr *h;
    const u_char *data;
    struct tsv t;
    char path[256];
    pcap_t *pc;
    size_t bound = 0;

    pt_decode_stats_init(&st);
    snprintf(path, sizeof path, "pcap/%s", rel);
    pc = td_open(path);
    while (pcap_next_ex(pc, &h, &data) == 1) {
        struct td_frame f;
        td_load(&f, pcap_datalink(pc), h, data, &st);
        if (f.p.flags & PT_PKT_ARP)
            pt_devices_arp(dt, &f.p.arp, f.p.ts_ns);
        free(f.buf);
    }
    pcap_close(pc);
    tsv_load(&t, arp_tsv);
    size_t cop = tsv_col(&t, "arp.opcode"), cmac = tsv_col(&t, "arp.src.hw_mac"),
           cip = tsv_col(&t, "arp.src.proto_ipv4");
    for (size_t i = 0; i < t.n; i++) {
        const char *last = NULL;
        struct pt_device d;
        uint8_t ip[16], mac[6];

        if (strcmp(t.row[i][cop], "1") && strcmp(t.row[i][cop], "2"))
            continue;
        if (strcmp(t.row[i][cip], "0.0.0.0") == 0)
            continue;
        for (size_t j = i; j < t.n; j++)
            if (strcmp(t.row[j][cip], t.row[i][cip]) == 0)
                last = t.row[j][cmac];
        if (last != t.row[i][cmac])
            continue; /* checked at its last row */
        ip_parse(t.row[i][cip], ip);
        mac_parse(last, mac);
        cr_assert(pt_devices_get(dt, PT_DEV_IP, ip, &d), "%s: no entry for %s", rel, t.row[i][cip]);
        cr_assert_arr_eq(d.bound, mac, 6, "%s: %s", rel, t.row[i][cip]);
        cr_assert(pt_devices_get(dt, PT_DEV_MAC, mac, &d));
        cr_assert_arr_eq(d.bound, ip, 16);
        bound++;
    }
    cr_assert_eq(bound, want_bound);
    tsv_free(&t);
    pt_devices_destroy(dt);
}

Test(devices_arp, zeek_wikipedia, .init = oui_load, .fini = oui_free)
{
    arp_check("mixed/zeek_wikipedia.pcap", "mixed/zeek_wikipedia.pcap.arp.tsv", 3);
}

Test(devices_arp, arkime_cloudshark_arp, .init = oui_load, .fini = oui_free)
{
    arp_check("arp/arkime_cloudshark-arp.pcap", "arp/arkime_cloudshark-arp.pcap.arp.tsv", 2);
}

/* ---- 3. mDNS against tshark ---- */

Test(devices_mdns, arkime_v6_http, .init = oui_load, .fini = oui_free)
{
    struct pt_devices *dt = mk(1024, false);
    struct pt_test_dns *v;
    size_t nv, checked = 0;
    struct tsv t;

    pt_test_dns_load("pcap/ipv6/arkime_v6-http.pcap", 5353, &v, &nv);
    cr_assert_gt(nv, 0);
    for (size_t i = 0; i < nv; i++)
        pt_devices_dns(dt, &v[i].conn, &v[i].dns, v[i].ts_ns);
    tsv_load(&t, "ipv6/arkime_v6-http.pcap.mdns.tsv");
    size_t cr = tsv_col(&t, "dns.flags.response"), can = tsv_col(&t, "dns.count.answers"),
           cn = tsv_col(&t, "dns.resp.name"), cty = tsv_col(&t, "dns.resp.type"),
           c6 = tsv_col(&t, "dns.aaaa"), c4 = tsv_col(&t, "dns.a"),
           cp = tsv_col(&t, "dns.ptr.domain_name");
    for (size_t i = 0; i < t.n; i++) {
        char nb[2048], tb[512], ab6[2048], ab4[1024], pb[1024];
        char *nm[32], *ty[32], *a6[32], *a4[32], *pt[32];
        size_t nn, nt, n6 = 0, n4 = 0, np = 0, i6 = 0, i4 = 0, ip = 0;
        unsigned long an = strtoul(t.row[i][can], NULL, 10);

        if (strcmp(t.row[i][cr], "1") != 0)
            continue;
        snprintf(nb, sizeof nb, "%s", t.row[i][cn]);
        snprintf(tb, sizeof tb, "%s", t.row[i][cty]);
        snprintf(ab6, sizeof ab6, "%s", t.row[i][c6]);
        snprintf(ab4, sizeof ab4, "%s", t.row[i][c4]);
        snprintf(pb, sizeof pb, "%s", t.row[i][cp]);
        nn = tsv_split(nb, ',', nm, 32);
        nt = tsv_split(tb, ',', ty, 32);
        if (ab6[0])
            n6 = tsv_split(ab6, ',', a6, 32);
        if (ab4[0])
            n4 = tsv_split(ab4, ',', a4, 32);
        if (pb[0])
            np = tsv_split(pb, ',', pt, 32);
        cr_assert_eq(nn, nt);
        for (size_t k = 0; k < nt && k < an; k++) {
            struct pt_device d;
            uint8_t a[16];
            const char *host = NULL;

            if (strcmp(ty[k], "28") == 0 && i6 < n6) {
                ip_parse(a6[i6++], a);
                host = nm[k];
            } else if (strcmp(ty[k], "1") == 0 && i4 < n4) {
                ip_parse(a4[i4++], a);
                host = nm[k];
            } else if (strcmp(ty[k], "12") == 0 && ip < np) {
                host = pt[ip++];
                if (!pt_dev_reverse_parse(nm[k], strlen(nm[k]), a))
                    continue;
            } else {
                continue;
            }
            cr_assert(pt_devices_get(dt, PT_DEV_IP, a, &d), "frame %s: %s has no entry",
                      t.row[i][0], host);
            cr_assert(has_name(&d, PT_DEV_SRC_MDNS, host), "frame %s: %s not named", t.row[i][0],
                      host);
            checked++;
        }
    }
    cr_assert_eq(checked, 3 + 3 + 2 + 5 + 5); /* tshark's answer-section A/AAAA/PTR RRs */
    tsv_free(&t);
    free(v);
    pt_devices_destroy(dt);
}

/* ---- 4. OS guess ---- */

/* SYN signatures as the stacks send them (TTL, window, MSS, window scale), from
 * their defaults: Linux >= 4.19 (tcp_rmem 131072 gives 64240 = 44 x 1460, scale 7),
 * Linux 3.x (29200 = 20 x 1460), Windows 10/11 (64240, scale 8), Windows 7 (8192,
 * scale 2), macOS/iOS (65535, scale 6), OpenBSD (16384, scale 3), Cisco IOS (TTL 255,
 * 4128, MSS 536). */
Test(devices_os, documented_syn_signatures)
{
    uint8_t it;

    cr_assert_eq(pt_dev_os_guess(true, 64, 64240, 1460, 7, &it), PT_DEV_OS_LINUX);
    cr_assert_eq(it, 64);
    cr_assert_eq(pt_dev_os_guess(true, 61, 29200, 1460, 7, NULL), PT_DEV_OS_LINUX);
    cr_assert_eq(pt_dev_os_guess(true, 64, 28960, 1448, 7, NULL), PT_DEV_OS_LINUX); /* 20 x MSS */
    cr_assert_eq(pt_dev_os_guess(true, 128, 64240, 1460, 8, &it), PT_DEV_OS_WINDOWS);
    cr_assert_eq(it, 128);
    cr_assert_eq(pt_dev_os_guess(true, 113, 8192, 1460, 2, &it), PT_DEV_OS_WINDOWS);
    cr_assert_eq(it, 128);
    cr_assert_eq(pt_dev_os_guess(true, 64, 65535, 1460, 6, NULL), PT_DEV_OS_APPLE);
    cr_assert_eq(pt_dev_os_guess(true, 64, 16384, 1460, 3, NULL), PT_DEV_OS_BSD);
    cr_assert_eq(pt_dev_os_guess(true, 255, 4128, 536, -1, &it), PT_DEV_OS_NETWORK);
    cr_assert_eq(it, 255);
    cr_assert_eq(pt_dev_os_guess(true, 64, 12345, 1460, -1, NULL), PT_DEV_OS_UNIX);
    cr_assert_eq(pt_dev_os_guess(false, 64, 65535, 1460, 6, NULL), PT_DEV_OS_UNIX);
    cr_assert_eq(pt_dev_os_guess(true, 30, 65535, 1460, 6, &it), PT_DEV_OS_UNKNOWN);
    cr_assert_eq(it, 32);
    cr_assert_eq(pt_dev_os_guess(true, 0, 65535, 1460, 6, NULL), PT_DEV_OS_UNKNOWN);
}

static void rec_init(struct pt_flow_record *r, const char *orig, const char *resp, uint16_t rport)
{
    memset(r, 0, sizeof *r);
    ip_parse(orig, r->orig_h);
    ip_parse(resp, r->resp_h);
    r->orig_p = 50000;
    r->resp_p = rport;
    r->proto = 6;
    r->ver = 4;
    r->ts_ns = 100 * SEC;
    r->last_ns = 101 * SEC;
    r->health.valid = r->health.tcp = true;
    strcpy(r->history, "ShADadFf");
    r->resp_pkts = 3;
    for (int i = 0; i < 2; i++) {
        r->health.tcp_seen[i] = r->health.ip_seen[i] = true;
        r->health.wscale[i] = -1;
    }
}

Test(devices_os, from_conn_records, .init = oui_load, .fini = oui_free)
{
    struct pt_devices *t = mk(64, false);
    struct pt_flow_record r;
    struct pt_device d;

    rec_init(&r, "192.168.1.10", "10.0.0.1", 22);
    r.health.ttl[0] = 121; /* Windows 10, 7 hops away */
    r.health.init_win[0] = 64240;
    r.health.mss[0] = 1460;
    r.health.wscale[0] = 8;
    r.health.ttl[1] = 64; /* the server's SYN/ACK */
    r.health.init_win[1] = 65160;
    pt_devices_conn(t, &r);
    cr_assert(pt_devices_get(t, PT_DEV_IP, r.orig_h, &d));
    cr_assert_eq(d.os, PT_DEV_OS_WINDOWS);
    cr_assert_eq(d.os_ttl, 128);
    cr_assert_eq(d.os_hops, 7);
    cr_assert_eq(d.os_mss, 1460);
    cr_assert_eq(d.os_wscale, 8);
    cr_assert(d.flags & PT_DEV_F_OS_SYN);
    cr_assert(pt_devices_get(t, PT_DEV_IP, r.resp_h, &d));
    cr_assert_eq(d.os, PT_DEV_OS_UNIX); /* SYN/ACK only: the family, not the stack */
    cr_assert_not(d.flags & PT_DEV_F_OS_SYN);

    /* a record that did not see the SYN guesses nothing */
    rec_init(&r, "192.168.1.11", "10.0.0.1", 22);
    strcpy(r.history, "DadA");
    r.health.ttl[0] = 128;
    pt_devices_conn(t, &r);
    cr_assert(pt_devices_get(t, PT_DEV_IP, r.orig_h, &d));
    cr_assert_not(d.flags & PT_DEV_F_OS);
    cr_assert_eq(pt_devices_stats(t)[PT_DEV_ST_OS_GUESSES], 2);

    /* 10.0.0.1 later sends a SYN itself: the SYN's guess replaces the SYN/ACK's */
    rec_init(&r, "10.0.0.1", "192.168.1.12", 80);
    r.health.ttl[0] = 64;
    r.health.init_win[0] = 64240;
    r.health.mss[0] = 1460;
    r.health.wscale[0] = 7;
    pt_devices_conn(t, &r);
    cr_assert(pt_devices_get(t, PT_DEV_IP, r.orig_h, &d));
    cr_assert_eq(d.os, PT_DEV_OS_LINUX);
    /* ... and a later SYN/ACK does not replace it */
    rec_init(&r, "192.168.1.13", "10.0.0.1", 22);
    r.health.ttl[1] = 255;
    pt_devices_conn(t, &r);
    cr_assert(pt_devices_get(t, PT_DEV_IP, r.resp_h, &d));
    cr_assert_eq(d.os, PT_DEV_OS_LINUX);
    pt_devices_destroy(t);
}

/* ---- 5. conn records, bounds, saving, names ---- */

Test(devices_conn, services_macs_and_tracked_addresses, .init = oui_load, .fini = oui_free)
{
    struct pt_devices *t = mk(64, false);
    struct pt_flow_record r;
    struct pt_device d;

    rec_init(&r, "192.168.1.10", "192.168.1.20", 9100);
    mac_parse("00:1b:a9:00:00:01", r.orig_mac); /* Brother */
    mac_parse("ff:ff:ff:ff:ff:ff", r.resp_mac);
    pt_devices_conn(t, &r);
    pt_devices_conn(t, &r);
    cr_assert(pt_devices_get(t, PT_DEV_IP, r.resp_h, &d));
    cr_assert_eq(d.n_services, 1);
    cr_assert_eq(d.services[0].port, 9100);
    cr_assert_eq(d.services[0].conns, 2);
    cr_assert_eq(d.type, PT_DEV_TYPE_PRINTER);
    cr_assert_eq(d.type_src, PT_DEV_TSRC_SERVICE);
    cr_assert_eq(d.first_ns, 100 * SEC);
    cr_assert_eq(d.last_ns, 101 * SEC);
    cr_assert(pt_devices_get(t, PT_DEV_MAC, r.orig_mac, &d));
    cr_assert_eq(d.type, PT_DEV_TYPE_PRINTER);
    cr_assert_eq(d.type_src, PT_DEV_TSRC_OUI);
    cr_assert_not(pt_devices_get(t, PT_DEV_MAC, r.resp_mac, &d)); /* broadcast: no device */

    /* an unanswered SYN, a UDP flow without reply, UDP to an ephemeral port: no service */
    rec_init(&r, "192.168.1.10", "192.168.1.21", 443);
    strcpy(r.history, "S");
    pt_devices_conn(t, &r);
    rec_init(&r, "192.168.1.10", "192.168.1.21", 53);
    r.proto = 17;
    r.resp_pkts = 0;
    pt_devices_conn(t, &r);
    r.resp_pkts = 1;
    r.resp_p = 50001;
    pt_devices_conn(t, &r);
    cr_assert(pt_devices_get(t, PT_DEV_IP, r.resp_h, &d));
    cr_assert_eq(d.n_services, 0);
    r.resp_p = 53;
    pt_devices_conn(t, &r);
    cr_assert(pt_devices_get(t, PT_DEV_IP, r.resp_h, &d));
    cr_assert_eq(d.n_services, 1);
    cr_assert_eq(d.services[0].proto, 17);

    /* a responder that never sent a packet (a scan, a directed broadcast) is no device */
    uint64_t before = pt_devices_count(t);
    rec_init(&r, "192.168.1.10", "192.168.1.255", 137);
    r.proto = 17;
    r.resp_pkts = 0;
    pt_devices_conn(t, &r);
    cr_assert_not(pt_devices_get(t, PT_DEV_IP, r.resp_h, &d));
    cr_assert_eq(pt_devices_count(t), before);

    /* external and multicast addresses are not devices by default */
    rec_init(&r, "192.168.1.10", "8.8.8.8", 53);
    pt_devices_conn(t, &r);
    rec_init(&r, "192.168.1.10", "224.0.0.251", 5353);
    pt_devices_conn(t, &r);
    cr_assert_eq(pt_devices_count(t), before);
    cr_assert_eq(pt_devices_stats(t)[PT_DEV_ST_SKIPPED], 2);
    pt_devices_destroy(t);

    t = mk(64, true); /* all_addrs: the server is tracked, multicast still not */
    rec_init(&r, "192.168.1.10", "8.8.8.8", 53);
    pt_devices_conn(t, &r);
    cr_assert(pt_devices_get(t, PT_DEV_IP, r.resp_h, &d));
    pt_devices_destroy(t);
}

Test(devices_conn, service_list_is_bounded, .init = oui_load, .fini = oui_free)
{
    struct pt_devices *t = mk(64, false);
    struct pt_flow_record r;
    struct pt_device d;

    for (unsigned p = 1; p <= PT_DEV_SERVICES + 5; p++) {
        rec_init(&r, "10.1.1.1", "10.1.1.2", (uint16_t)p);
        pt_devices_conn(t, &r);
    }
    cr_assert(pt_devices_get(t, PT_DEV_IP, r.resp_h, &d));
    cr_assert_eq(d.n_services, PT_DEV_SERVICES);
    cr_assert_eq(pt_devices_stats(t)[PT_DEV_ST_SERVICES_FULL], 5);
    pt_devices_destroy(t);
}

Test(devices_lru, evicts_least_recently_seen_exactly, .init = oui_load, .fini = oui_free)
{
    struct pt_devices *t = mk(4, false);
    struct pt_flow_record r;
    struct pt_device d;

    rec_init(&r, "10.0.0.1", "10.0.0.2", 80); /* 2 entries */
    pt_devices_conn(t, &r);
    rec_init(&r, "10.0.0.3", "10.0.0.4", 80); /* 4 */
    pt_devices_conn(t, &r);
    rec_init(&r, "10.0.0.1", "10.0.0.4", 80); /* touch .1 and .4: .2 then .3 are oldest */
    pt_devices_conn(t, &r);
    cr_assert_eq(pt_devices_stats(t)[PT_DEV_ST_EVICTED], 0);
    rec_init(&r, "10.0.0.5", "10.0.0.6", 80);
    pt_devices_conn(t, &r);
    cr_assert_eq(pt_devices_stats(t)[PT_DEV_ST_EVICTED], 2);
    cr_assert_eq(pt_devices_count(t), 4);
    uint8_t a[16];
    ip_parse("10.0.0.2", a);
    cr_assert_not(pt_devices_get(t, PT_DEV_IP, a, &d));
    ip_parse("10.0.0.3", a);
    cr_assert_not(pt_devices_get(t, PT_DEV_IP, a, &d));
    ip_parse("10.0.0.1", a);
    cr_assert(pt_devices_get(t, PT_DEV_IP, a, &d));
    uint32_t cur = 0, n = 0;
    while (pt_devices_next(t, &cur, &d))
        n++;
    cr_assert_eq(n, 4);
    pt_devices_destroy(t);
    int err;
    struct pt_devices_config small = {.capacity = 3};
    cr_assert_null(pt_devices_create(&small, NULL, &err));
    cr_assert_eq(err, -EINVAL);
}

Test(devices_save, changed_entries_once_a_second, .init = oui_load, .fini = oui_free)
{
    struct pt_devices *t = mk(16, false), *u;
    struct pt_flow_record r;
    struct pt_device out[16], d;
    uint64_t t0 = 1000 * SEC;

    cr_assert_not(pt_devices_save_due(t, t0, false)); /* nothing changed */
    rec_init(&r, "10.0.0.1", "10.0.0.2", 80);
    pt_devices_conn(t, &r);
    pt_devices_conn(t, &r); /* the same two entries: handed out once */
    cr_assert(pt_devices_save_due(t, t0, false));
    cr_assert_eq(pt_devices_take_changed(t, out, 1), 1);
    cr_assert_eq(pt_devices_take_changed(t, out + 1, 16), 1);
    cr_assert_eq(pt_devices_take_changed(t, out, 16), 0);
    rec_init(&r, "10.0.0.3", "10.0.0.2", 80);
    pt_devices_conn(t, &r);
    cr_assert_not(pt_devices_save_due(t, t0 + SEC - 1, false));
    cr_assert(pt_devices_save_due(t, t0 + SEC - 1, true)); /* the end of a run */
    cr_assert_eq(pt_devices_take_changed(t, out, 16), 2);
    pt_devices_conn(t, &r);
    cr_assert_not(pt_devices_save_due(t, t0 + 2 * SEC - 2, false));
    cr_assert(pt_devices_save_due(t, t0 + 2 * SEC - 1, false));
    cr_assert_eq(pt_devices_take_changed(t, out, 16), 2);

    /* restore into a fresh table: same entries, nothing to save */
    u = mk(16, false);
    for (int i = 0; i < 2; i++)
        cr_assert_eq(pt_devices_restore(u, &out[i]), 0);
    cr_assert_eq(pt_devices_count(u), 2);
    cr_assert_not(pt_devices_save_due(u, t0, true));
    cr_assert(pt_devices_get(u, out[0].kind, out[0].addr, &d));
    cr_assert_eq(memcmp(&d, &out[0], sizeof d), 0);
    d.kind = 9;
    cr_assert_eq(pt_devices_restore(u, &d), -EINVAL);
    pt_devices_destroy(u);
    pt_devices_destroy(t);
}

static void nb_encode(const char *name, uint8_t sfx, char out[33])
{
    char raw[16];

    memset(raw, ' ', 15);
    memcpy(raw, name, strlen(name));
    raw[15] = (char)sfx;
    for (int i = 0; i < 16; i++) {
        out[2 * i] = (char)('A' + ((uint8_t)raw[i] >> 4));
        out[2 * i + 1] = (char)('A' + ((uint8_t)raw[i] & 15));
    }
    out[32] = '\0';
}

Test(devices_names, reverse_and_netbios_decoding)
{
    uint8_t a[16], w[16];
    char enc[40], nb[16];
    uint8_t sfx;
    const char *v6 = "b.9.e.1.e.5.7.e.c.4.c.0.3.3.0.1.0.0.0.0.d.2.0.1.8.f.6.0.1.0.0.2.ip6.arpa.";

    cr_assert(pt_dev_reverse_parse("4.3.2.1.in-addr.arpa", 20, a));
    ip_parse("1.2.3.4", w);
    cr_assert_arr_eq(a, w, 16);
    cr_assert(pt_dev_reverse_parse("10.0.168.192.IN-ADDR.ARPA.", 26, a));
    ip_parse("192.168.0.10", w);
    cr_assert_arr_eq(a, w, 16);
    cr_assert(pt_dev_reverse_parse(v6, strlen(v6), a));
    ip_parse("2001:6f8:102d:0:1033:c4c:e75e:1e9b", w);
    cr_assert_arr_eq(a, w, 16);
    cr_assert_not(pt_dev_reverse_parse("256.3.2.1.in-addr.arpa", 22, a));
    cr_assert_not(pt_dev_reverse_parse("3.2.1.in-addr.arpa", 18, a));
    cr_assert_not(pt_dev_reverse_parse("01.3.2.1.in-addr.arpa", 21, a));
    cr_assert_not(pt_dev_reverse_parse("x.in-addr.arpa", 14, a));
    cr_assert_not(pt_dev_reverse_parse("www.example.com", 15, a));

    nb_encode("BRWC0CB383D1F42", 0, enc); /* the name zeek_wikipedia's NBNS asks for */
    cr_assert(pt_dev_nbns_decode(enc, 32, nb, &sfx));
    cr_assert_str_eq(nb, "BRWC0CB383D1F42");
    cr_assert_eq(sfx, 0);
    nb_encode("WORKGROUP", 0x1d, enc);
    strcat(enc, ".scope");
    cr_assert(pt_dev_nbns_decode(enc, strlen(enc), nb, &sfx));
    cr_assert_str_eq(nb, "WORKGROUP");
    cr_assert_eq(sfx, 0x1d);
    cr_assert_not(pt_dev_nbns_decode("EBEB", 4, nb, &sfx));
    enc[3] = 'Z';
    cr_assert_not(pt_dev_nbns_decode(enc, 32, nb, &sfx));
}

static void dns_mk(struct pt_app_conn *c, struct pt_app_dns *d, const char *client,
                   const char *server, uint16_t port, const char *query, const char *answer)
{
    memset(c, 0, sizeof *c);
    memset(d, 0, sizeof *d);
    ip_parse(client, c->orig_h);
    ip_parse(server, c->resp_h);
    c->orig_p = 40000;
    c->resp_p = port;
    c->proto = 17;
    d->txn.has_query = true;
    snprintf(d->txn.query, sizeof d->txn.query, "%s", query);
    d->txn.query_len = (uint16_t)strlen(query);
    d->txn.saw_query = d->txn.saw_reply = true;
    d->txn.has_rcode = true;
    d->txn.has_qtype = true;
    d->txn.qtype = 12;
    if (answer) {
        d->txn.n_answers = 1;
        snprintf(d->txn.answers[0], PT_DNS_TEXT_MAX, "%s", answer);
        d->txn.answer_len[0] = (uint16_t)strlen(answer);
    }
}

Test(devices_names, ptr_and_netbios_registration, .init = oui_load, .fini = oui_free)
{
    struct pt_devices *t = mk(64, false);
    struct pt_app_conn c;
    struct pt_app_dns d;
    struct pt_device e;
    uint8_t a[16];
    char enc[40];

    dns_mk(&c, &d, "192.168.1.5", "192.168.1.1", 53, "7.1.168.192.in-addr.arpa", "nas.lan.");
    pt_devices_dns(t, &c, &d, 5 * SEC);
    ip_parse("192.168.1.7", a);
    cr_assert(pt_devices_get(t, PT_DEV_IP, a, &e));
    cr_assert(has_name(&e, PT_DEV_SRC_DNS_PTR, "nas.lan")); /* trailing dot dropped */
    /* a PTR for an external address is not a device; NXDOMAIN names nothing */
    dns_mk(&c, &d, "192.168.1.5", "192.168.1.1", 53, "8.8.8.8.in-addr.arpa", "dns.google");
    pt_devices_dns(t, &c, &d, 5 * SEC);
    dns_mk(&c, &d, "192.168.1.5", "192.168.1.1", 53, "9.1.168.192.in-addr.arpa", "x.lan");
    d.txn.rcode = 3;
    pt_devices_dns(t, &c, &d, 5 * SEC);
    /* a forward lookup says nothing about the client */
    dns_mk(&c, &d, "192.168.1.5", "192.168.1.1", 53, "www.example.com", "93.184.216.34");
    d.txn.qtype = 1;
    pt_devices_dns(t, &c, &d, 5 * SEC);
    cr_assert_eq(pt_devices_count(t), 1);

    nb_encode("KEVIN-PC", 0x00, enc);
    dns_mk(&c, &d, "192.168.1.41", "192.168.1.255", 137, enc, NULL);
    d.txn.opcode = 5;
    d.txn.saw_reply = false;
    pt_devices_dns(t, &c, &d, 6 * SEC);
    cr_assert(pt_devices_get(t, PT_DEV_IP, c.orig_h, &e));
    cr_assert(has_name(&e, PT_DEV_SRC_NBNS, "KEVIN-PC"));
    nb_encode("WORKGROUP", 0x1e, enc); /* a group name: not the host's */
    dns_mk(&c, &d, "192.168.1.42", "192.168.1.255", 137, enc, NULL);
    d.txn.opcode = 5;
    pt_devices_dns(t, &c, &d, 6 * SEC);
    cr_assert_not(pt_devices_get(t, PT_DEV_IP, c.orig_h, &e));

    /* names: refreshed, not repeated; a full list replaces the oldest */
    for (unsigned i = 0; i < PT_DEV_NAMES + 2; i++) {
        char n[32];
        snprintf(n, sizeof n, "name%u.lan", i % (PT_DEV_NAMES + 1));
        dns_mk(&c, &d, "192.168.1.5", "192.168.1.1", 53, "7.1.168.192.in-addr.arpa", n);
        pt_devices_dns(t, &c, &d, (10 + i) * SEC);
    }
    cr_assert(pt_devices_get(t, PT_DEV_IP, a, &e));
    cr_assert_eq(e.n_names, PT_DEV_NAMES);
    cr_assert(has_name(&e, PT_DEV_SRC_DNS_PTR, "name0.lan")); /* refreshed at 15 s */
    cr_assert_not(has_name(&e, PT_DEV_SRC_DNS_PTR, "name1.lan"));
    cr_assert_eq(pt_devices_stats(t)[PT_DEV_ST_NAMES_FULL], 3); /* nas.lan, name0, name1 */
    pt_devices_destroy(t);
}
