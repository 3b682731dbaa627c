/* test_appid.c - application detection on crafted payloads: one signature per
 * protocol, port-only guesses never overriding payload, the DONE/K contract,
 * RTP confirmation, and malformed payloads counted by name. The tests on the
 * shared captures (nDPI, Zeek, Arkime, tshark) are in test_appid_ref.c. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "pt/appid.h"

#define TCP 6
#define UDP 17

/* A byte-string literal and its length (without the literal's NUL). */
#define B(s) (const uint8_t *)(s), (uint32_t)(sizeof(s) - 1)

struct feed_env {
    struct pt_appid a;
    struct pt_appid_stats st;
    uint8_t proto;
    uint16_t oport, rport;
};

static void env_init(struct feed_env *e, uint8_t proto, uint16_t oport, uint16_t rport)
{
    pt_appid_stats_init(&e->st);
    pt_appid_init(&e->a, proto, oport, rport);
    e->proto = proto;
    e->oport = oport;
    e->rport = rport;
}

/* Feed a copy in an exactly-sized heap buffer, so ASan sees any overread. */
static enum pt_appid_verdict env_feed(struct feed_env *e, unsigned dir, const uint8_t *p,
                                      uint32_t len)
{
    uint8_t *buf = malloc(len ? len : 1);
    enum pt_appid_verdict v;

    cr_assert_not_null(buf);
    memcpy(buf, p, len);
    v = pt_appid_feed(&e->a, &e->st, e->proto, dir, e->oport, e->rport, buf, len);
    free(buf);
    return v;
}

/* One packet, fresh flow: the result and whether it was final. */
static enum pt_app one(uint8_t proto, uint16_t oport, uint16_t rport, unsigned dir,
                       const uint8_t *p, uint32_t len, bool *done)
{
    struct feed_env e;
    enum pt_appid_verdict v;

    env_init(&e, proto, oport, rport);
    v = env_feed(&e, dir, p, len);
    if (done)
        *done = v == PT_APPID_DONE;
    return pt_appid_result(&e.a);
}

/* ---- crafted payloads, one per signature ------------------------------------ */

static const uint8_t tls_ch[] = {0x16, 0x03, 0x01, 0x00, 0x2f, 0x01, 0x00, 0x00, 0x2b, 0x03, 0x03};
static const uint8_t tls_appdata[] = {0x17, 0x03, 0x03, 0x00, 0x20, 0xde, 0xad, 0xbe, 0xef};
static const uint8_t sslv2_ch[] = {0x80, 0x2e, 0x01, 0x03, 0x01, 0x00, 0x15, 0x00, 0x00};
static const uint8_t dns_q[] = {0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
                                0x00, 0x00, 7,    'e',  'x',  'a',  'm',  'p',  'l',  'e',
                                3,    'c',  'o',  'm',  0,    0x00, 0x01, 0x00, 0x01};
/* mDNS announcement: response, no question, one answer with cache-flush class */
static const uint8_t mdns_ann[] = {0x00, 0x00, 0x84, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00,
                                   0x00, 0x00, 4,    'h',  'o',  's',  't',  5,    'l',  'o',
                                   'c',  'a',  'l',  0,    0x00, 0x01, 0x80, 0x01, 0x00, 0x00,
                                   0x00, 0x78, 0x00, 0x04, 10,   0,    0,    1};
static const uint8_t dns_tcp[] = {0x00, 0x1d, 0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
                                  0x00, 0x00, 0x00, 7,    'e',  'x',  'a',  'm',  'p',  'l',  'e',
                                  3,    'c',  'o',  'm',  0,    0x00, 0x01, 0x00, 0x01};
static const uint8_t quic_v1[] = {0xc3, 0x00, 0x00, 0x00, 0x01, 0x08, 1,    2,    3,
                                  4,    5,    6,    7,    8,    0x00, 0x00, 0x41, 0x00};
static const uint8_t gquic[] = {0x09, 1, 2, 3, 4, 5, 6, 7, 8, 'Q', '0', '4', '3', 0x01, 0x00};
static const uint8_t quic_vn[] = {0x80, 0,    0,    0,    0,    0x04, 1, 2, 3, 4,
                                  0x00, 0x1a, 0x2a, 0x3a, 0x4a, 0,    0, 0, 1};
static const uint8_t rdp_cr[] = {0x03, 0x00, 0x00, 0x13, 0x0e, 0xe0, 0x00, 0x00, 0x00, 0x00,
                                 0x00, 0x01, 0x00, 0x08, 0x00, 0x03, 0x00, 0x00, 0x00};
static const uint8_t smb1[] = {0x00, 0x00, 0x00, 0x2f, 0xff, 'S', 'M', 'B', 0x72, 0, 0, 0};
static const uint8_t smb2[] = {0x00, 0x00, 0x00, 0x44, 0xfe, 'S', 'M', 'B', 0x40, 0, 0, 0};
static const uint8_t mqtt_connect[] = {0x10, 0x10, 0x00, 0x04, 'M',  'Q', 'T', 'T', 0x04,
                                       0x02, 0x00, 0x3c, 0x00, 0x04, 't', 'e', 's', 't'};
static const uint8_t mqtt31[] = {0x10, 0x12, 0x00, 0x06, 'M', 'Q', 'I', 's', 'd', 'p', 0x03, 0x02};
static const uint8_t stun_req[] = {0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42, 1,  2,
                                   3,    4,    5,    6,    7,    8,    9,    10,   11, 12};
static const uint8_t telnet[] = {0xff, 0xfd, 0x18, 0xff, 0xfd, 0x20};
static const uint8_t ldap_bind[] = {0x30, 0x0c, 0x02, 0x01, 0x01, 0x60, 0x07,
                                    0x02, 0x01, 0x03, 0x04, 0x00, 0x80, 0x00};
static const uint8_t krb_asreq[] = {0x6a, 0x81, 0x20, 0x30, 0x81, 0x1d, 0xa1, 0x03, 0x02,
                                    0x01, 0x05, 0xa2, 0x03, 0x02, 0x01, 0x0a, 0x00, 0x00};
static const uint8_t snmp_get[] = {0x30, 0x1a, 0x02, 0x01, 0x01, 0x04, 0x06, 'p',  'u',
                                   'b',  'l',  'i',  'c',  0xa0, 0x0d, 0x02, 0x01, 0x01,
                                   0x02, 0x01, 0x00, 0x02, 0x01, 0x00, 0x30, 0x00};
static const uint8_t snmp_v3[] = {0x30, 0x3e, 0x02, 0x01, 0x03, 0x30, 0x11, 0x02, 0x04, 0x01};
static const uint8_t dhcpv6_sol[] = {0x01, 0xab, 0xcd, 0xef, 0x00, 0x01, 0x00, 0x0a,
                                     0x00, 0x03, 0x00, 0x01, 1,    2,    3,    4,
                                     5,    6,    0x00, 0x08, 0x00, 0x02, 0x00, 0x00};
static const uint8_t ntp_client[48] = {0x23};
static const uint8_t rtp1[] = {0x80, 0x00, 0x00, 0x01, 0,    0,    0,    160,
                               0xca, 0xfe, 0xba, 0xbe, 0xd5, 0xd5, 0xd5, 0xd5};
static const uint8_t rtp2[] = {0x80, 0x00, 0x00, 0x02, 0,    0,    1,    64,
                               0xca, 0xfe, 0xba, 0xbe, 0xd5, 0xd5, 0xd5, 0xd5};
static const uint8_t rtp_other[] = {0x80, 0x00, 0x00, 0x02, 0,    0,    1,    64,
                                    0x01, 0x02, 0x03, 0x04, 0xd5, 0xd5, 0xd5, 0xd5};

/* A DHCP DISCOVER: 236-byte BOOTP header, magic cookie, option 53. */
static uint32_t make_dhcp(uint8_t *b, bool magic)
{
    memset(b, 0, 300);
    b[0] = 1;
    b[1] = 1;
    b[2] = 6;
    if (magic) {
        b[236] = 0x63;
        b[237] = 0x82;
        b[238] = 0x53;
        b[239] = 0x63;
    }
    b[240] = 53;
    b[241] = 1;
    b[242] = 1;
    b[243] = 255;
    return 300;
}

/* NetBIOS encoded name "FRED" (32 letters A..P) after a 0x20 length byte. */
static void put_nbname(uint8_t *b)
{
    static const char n[] = "EGFCEFEECACACACACACACACACACACAAA";

    b[0] = 0x20;
    memcpy(b + 1, n, 32);
    b[33] = 0;
}

static uint32_t make_nbns(uint8_t *b)
{
    static const uint8_t h[] = {0x80, 0x01, 0x01, 0x10, 0x00, 0x01, 0, 0, 0, 0, 0, 0};

    memcpy(b, h, sizeof h);
    put_nbname(b + 12);
    b[46] = 0x00;
    b[47] = 0x20; /* NB */
    b[48] = 0x00;
    b[49] = 0x01;
    return 50;
}

static uint32_t make_nbdgm(uint8_t *b)
{
    static const uint8_t h[] = {0x11, 0x02, 0x12, 0x34, 192,  168,  1,
                                5,    0x00, 0x8a, 0x00, 0x60, 0x00, 0x00};

    memcpy(b, h, sizeof h);
    put_nbname(b + 14);
    put_nbname(b + 48);
    memcpy(b + 82, "\xffSMB\x25", 5);
    return 87;
}

static uint32_t make_nbss_req(uint8_t *b)
{
    b[0] = 0x81;
    b[1] = 0;
    b[2] = 0;
    b[3] = 68;
    put_nbname(b + 4);
    put_nbname(b + 38);
    return 72;
}

struct crafted {
    const char *what;
    uint8_t proto;
    uint16_t oport, rport; /* never the protocol's well-known port: payload must decide */
    unsigned dir;
    const uint8_t *p;
    uint32_t len;
    enum pt_app want;
};

#define R(a) (a), (uint32_t)sizeof(a)

static const struct crafted crafted[] = {
    {"tls client hello", TCP, 50000, 8443, 0, R(tls_ch), PT_APP_TLS},
    {"tls application data mid-stream", TCP, 50000, 9443, 1, R(tls_appdata), PT_APP_TLS},
    {"sslv2-framed client hello", TCP, 50000, 9443, 0, R(sslv2_ch), PT_APP_TLS},
    {"http request", TCP, 50000, 8081, 0, B("GET /index.html HTTP/1.1\r\nHost: a\r\n\r\n"),
     PT_APP_HTTP},
    {"http request, no version yet", TCP, 50000, 8081, 0, B("POST /upl"), PT_APP_HTTP},
    {"http status line", TCP, 50000, 8081, 1, B("HTTP/1.1 200 OK\r\n"), PT_APP_HTTP},
    {"http/2 preface", TCP, 50000, 8081, 0, B("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), PT_APP_HTTP},
    {"ssh banner", TCP, 50000, 2222, 1, B("SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n"), PT_APP_SSH},
    {"smtp greeting", TCP, 50000, 2525, 1, B("220 mx.example.org ESMTP Postfix\r\n"), PT_APP_SMTP},
    {"smtp ehlo", TCP, 50000, 2525, 0, B("EHLO client.example.org\r\n"), PT_APP_SMTP},
    {"ftp greeting", TCP, 50000, 2121, 1, B("220 (vsFTPd 3.0.3)\r\n"), PT_APP_FTP},
    {"ftp feat", TCP, 50000, 2121, 0, B("FEAT\r\n"), PT_APP_FTP},
    {"pop3 greeting", TCP, 50000, 1110, 1, B("+OK Dovecot ready.\r\n"), PT_APP_POP3},
    {"pop3 capa", TCP, 50000, 1110, 0, B("CAPA\r\n"), PT_APP_POP3},
    {"imap greeting", TCP, 50000, 1143, 1, B("* OK [CAPABILITY IMAP4rev1] ready\r\n"), PT_APP_IMAP},
    {"imap client", TCP, 50000, 1143, 0, B("a001 CAPABILITY\r\n"), PT_APP_IMAP},
    {"dns query over udp", UDP, 40000, 5300, 0, R(dns_q), PT_APP_DNS},
    {"dns over tcp", TCP, 40000, 5300, 0, R(dns_tcp), PT_APP_DNS},
    {"mdns query", UDP, 5353, 5353, 0, R(dns_q), PT_APP_MDNS},
    {"mdns announcement", UDP, 5353, 5353, 0, R(mdns_ann), PT_APP_MDNS},
    {"llmnr query", UDP, 51000, 5355, 0, R(dns_q), PT_APP_LLMNR},
    {"quic v1 initial", UDP, 50000, 4433, 0, R(quic_v1), PT_APP_QUIC},
    {"google quic q043", UDP, 50000, 4433, 0, R(gquic), PT_APP_QUIC},
    {"quic version negotiation", UDP, 4433, 50000, 1, R(quic_vn), PT_APP_QUIC},
    {"rdp connection request", TCP, 50000, 3390, 0, R(rdp_cr), PT_APP_RDP},
    {"smb1 over netbios framing", TCP, 50000, 1445, 0, R(smb1), PT_APP_SMB},
    {"smb2 direct", TCP, 50000, 1445, 0, R(smb2), PT_APP_SMB},
    {"mqtt 3.1.1 connect", TCP, 50000, 11883, 0, R(mqtt_connect), PT_APP_MQTT},
    {"mqtt 3.1 connect", TCP, 50000, 11883, 0, R(mqtt31), PT_APP_MQTT},
    {"bittorrent handshake", TCP, 50000, 6881, 0,
     B("\x13"
       "BitTorrent protocol\0\0\0\0\0\0\0\0"),
     PT_APP_BITTORRENT},
    {"bittorrent dht", UDP, 50000, 6881, 0, B("d1:ad2:id20:abcdefghij0123456789e1:q4:pinge"),
     PT_APP_BITTORRENT},
    {"stun binding request", UDP, 50000, 19302, 0, R(stun_req), PT_APP_STUN},
    {"telnet negotiation", TCP, 50000, 2323, 1, R(telnet), PT_APP_TELNET},
    {"ldap bind over tcp", TCP, 50000, 1389, 0, R(ldap_bind), PT_APP_LDAP},
    {"kerberos as-req over udp", UDP, 50000, 1088, 0, R(krb_asreq), PT_APP_KERBEROS},
    {"snmp v2c get", UDP, 50000, 1161, 0, R(snmp_get), PT_APP_SNMP},
    {"snmp v3", UDP, 50000, 1161, 0, R(snmp_v3), PT_APP_SNMP},
    {"sip invite over udp", UDP, 5070, 5070, 0, B("INVITE sip:bob@example.com SIP/2.0\r\n"),
     PT_APP_SIP},
    {"sip status over tcp", TCP, 50000, 5070, 1, B("SIP/2.0 180 Ringing\r\n"), PT_APP_SIP},
    {"sip options (not http)", UDP, 5070, 5070, 0, B("OPTIONS sip:a@b SIP/2.0\r\n"), PT_APP_SIP},
    {"ssdp m-search", UDP, 50000, 1901, 0, B("M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250\r\n"),
     PT_APP_SSDP},
    {"ssdp notify", UDP, 50000, 1901, 0, B("NOTIFY * HTTP/1.1\r\n"), PT_APP_SSDP},
    {"ssdp reply", UDP, 1900, 50000, 1, B("HTTP/1.1 200 OK\r\nST: upnp:rootdevice\r\n"),
     PT_APP_SSDP},
    {"syslog rfc5424", UDP, 50000, 5514, 0, B("<34>1 2003-10-11T22:14:15Z host su - - - hi"),
     PT_APP_SYSLOG},
    {"syslog rfc3164", UDP, 50000, 5514, 0, B("<13>Oct 11 22:14:15 host su: hi"), PT_APP_SYSLOG},
    {"ntp client (port 123 gates it)", UDP, 50000, 123, 0, R(ntp_client), PT_APP_NTP},
    {"dhcpv6 solicit (ports gate it)", UDP, 546, 547, 0, R(dhcpv6_sol), PT_APP_DHCPV6},
};

Test(appid_crafted, every_signature_decides_off_its_port)
{
    for (size_t i = 0; i < sizeof crafted / sizeof crafted[0]; i++) {
        const struct crafted *t = &crafted[i];
        struct feed_env e;
        enum pt_appid_verdict v;

        env_init(&e, t->proto, t->oport, t->rport);
        /* the names that need their port (DNS-shaped on 5353/5355, NTP,
         * DHCPv6, an SSDP reply) are the only ones tested on it */
        if (t->want != PT_APP_MDNS && t->want != PT_APP_LLMNR && t->want != PT_APP_NTP &&
            t->want != PT_APP_DHCPV6 && t->want != PT_APP_SSDP)
            cr_assert_eq(pt_appid_result(&e.a), PT_APP_UNKNOWN, "%s: ports %u/%u are in the table",
                         t->what, t->oport, t->rport);
        v = env_feed(&e, t->dir, t->p, t->len);
        cr_expect_eq(pt_appid_result(&e.a), t->want, "%s: got %s, want %s", t->what,
                     pt_app_name(pt_appid_result(&e.a)), pt_app_name(t->want));
        cr_expect_eq(v, PT_APPID_DONE, "%s: not final", t->what);
        cr_expect_not(pt_appid_by_port(&e.a), "%s", t->what);
        cr_expect_eq(e.st.done_payload, 1, "%s", t->what);
    }
}

Test(appid_crafted, built_payloads)
{
    uint8_t b[300];
    uint32_t n;
    bool done;

    n = make_dhcp(b, true);
    cr_expect_eq(one(UDP, 68, 67, 0, b, n, &done), PT_APP_DHCP);
    cr_expect_eq(one(UDP, 4068, 4067, 0, b, n, &done), PT_APP_DHCP, "magic decides, not ports");
    cr_expect(done);
    n = make_nbns(b);
    cr_expect_eq(one(UDP, 137, 137, 0, b, n, &done), PT_APP_NETBIOS_NS);
    cr_expect_eq(one(UDP, 50000, 5300, 0, b, n, &done), PT_APP_NETBIOS_NS, "the encoded name");
    n = make_nbdgm(b);
    cr_expect_eq(one(UDP, 138, 138, 0, b, n, &done), PT_APP_NETBIOS_DGM);
    cr_expect_eq(one(UDP, 50000, 50001, 0, b, n, &done), PT_APP_NETBIOS_DGM);
    b[20] = 'Z'; /* not an encoded name any more */
    cr_expect_eq(one(UDP, 50000, 50001, 0, b, n, &done), PT_APP_UNKNOWN);
}

Test(appid_crafted, netbios_session_then_smb)
{
    struct feed_env e;
    uint8_t b[80];
    uint32_t n = make_nbss_req(b);

    env_init(&e, TCP, 50000, 139);
    cr_assert_eq(env_feed(&e, 0, b, n), PT_APPID_MORE, "SMB may follow the session request");
    cr_expect_eq(pt_appid_result(&e.a), PT_APP_NETBIOS_SSN);
    cr_expect_not(pt_appid_by_port(&e.a));
    cr_assert_eq(env_feed(&e, 1, B("\x82\x00\x00\x00")), PT_APPID_MORE);
    cr_assert_eq(env_feed(&e, 0, smb1, sizeof smb1), PT_APPID_DONE);
    cr_expect_eq(pt_appid_result(&e.a), PT_APP_SMB);
}

Test(appid_crafted, ambiguous_220_greeting)
{
    struct feed_env e;

    /* neither SMTP nor FTP named, unknown port: wait for the client */
    env_init(&e, TCP, 50000, 4000);
    cr_assert_eq(env_feed(&e, 1, B("220 Welcome\r\n")), PT_APPID_MORE);
    cr_expect_eq(pt_appid_result(&e.a), PT_APP_UNKNOWN);
    cr_assert_eq(env_feed(&e, 0, B("USER anonymous\r\n")), PT_APPID_DONE);
    cr_expect_eq(pt_appid_result(&e.a), PT_APP_FTP);

    env_init(&e, TCP, 50000, 4000);
    env_feed(&e, 1, B("220 Welcome\r\n"));
    cr_assert_eq(env_feed(&e, 0, B("HELO me\r\n")), PT_APPID_DONE);
    cr_expect_eq(pt_appid_result(&e.a), PT_APP_SMTP);

    /* on port 25 the greeting is a hint: SMTP, not final, not "by port" */
    env_init(&e, TCP, 50000, 25);
    cr_assert_eq(env_feed(&e, 1, B("220 Welcome\r\n")), PT_APPID_MORE);
    cr_expect_eq(pt_appid_result(&e.a), PT_APP_SMTP);
    cr_expect_not(pt_appid_by_port(&e.a));
}

Test(appid_crafted, names_are_stable_and_complete)
{
    for (unsigned i = 0; i < PT_APP_MAX; i++) {
        cr_expect(i == PT_APP_UNKNOWN || strcmp(pt_app_name(i), "unknown") != 0, "app %u", i);
        for (unsigned j = 0; j < i; j++)
            cr_expect_str_neq(pt_app_name(i), pt_app_name(j));
        cr_expect_not_null(pt_app_zeek_service(i));
    }
    cr_expect_str_eq(pt_app_name(PT_APP_MAX), "unknown");
    cr_expect_str_eq(pt_app_name(PT_APP_TLS), "tls");
    cr_expect_str_eq(pt_app_name(PT_APP_NETBIOS_NS), "netbios-ns");
    cr_expect_str_eq(pt_app_zeek_service(PT_APP_TLS), "ssl");
    cr_expect_str_eq(pt_app_zeek_service(PT_APP_MDNS), "dns");
    cr_expect_str_eq(pt_app_zeek_service(PT_APP_HTTP), "http");
    cr_expect_str_eq(pt_app_zeek_service(PT_APP_RTP), "");
    cr_expect_str_eq(pt_app_zeek_service(PT_APP_UNKNOWN), "");
    for (unsigned i = 1; i < PT_APPID_ERR_MAX; i++) {
        cr_expect(strncmp(pt_appid_err_name(i), "app.appid.", 10) == 0, "err %u", i);
        cr_expect_str_neq(pt_appid_err_name(i), "app.appid.unknown", "err %u unnamed", i);
        for (unsigned j = 0; j < i; j++)
            cr_expect_str_neq(pt_appid_err_name(i), pt_appid_err_name(j));
    }
    cr_expect_str_eq(pt_appid_err_name(PT_APPID_ERR_MAX), "app.appid.unknown");
    cr_expect_eq(sizeof(struct pt_appid), 12);
}

/* ---- ports: last, and never over payload ------------------------------------ */

Test(appid_port, guess_only_without_payload_evidence)
{
    struct feed_env e;

    /* a bare handshake on 443: the port names it */
    env_init(&e, TCP, 50000, 443);
    cr_expect_eq(pt_appid_result(&e.a), PT_APP_TLS);
    cr_expect(pt_appid_by_port(&e.a));
    /* an HTTP request on 443 is HTTP */
    cr_expect_eq(env_feed(&e, 0, B("GET / HTTP/1.1\r\n")), PT_APPID_DONE);
    cr_expect_eq(pt_appid_result(&e.a), PT_APP_HTTP);
    cr_expect_not(pt_appid_by_port(&e.a));

    cr_expect_eq(one(TCP, 50000, 80, 1, B("SSH-2.0-x\r\n"), NULL), PT_APP_SSH);
    cr_expect_eq(one(TCP, 50000, 80, 0, R(tls_ch), NULL), PT_APP_TLS);
    cr_expect_eq(one(UDP, 50000, 53, 0, R(quic_v1), NULL), PT_APP_QUIC);
    cr_expect_eq(one(UDP, 50000, 443, 0, R(dns_q), NULL), PT_APP_DNS);
    cr_expect_eq(one(UDP, 50000, 123, 0, R(dns_q), NULL), PT_APP_DNS);
    cr_expect_eq(one(TCP, 50000, 22, 0, B("GET / HTTP/1.0\r\n"), NULL), PT_APP_HTTP);
    cr_expect_eq(one(TCP, 50000, 3389, 0, R(smb2), NULL), PT_APP_SMB);
}

Test(appid_port, undecided_flow_falls_back_after_k_each_way)
{
    static const uint8_t junk[] = {0x42, 0x99, 0x13, 0x37, 0x00, 0x01, 0x02, 0x03};
    struct feed_env e;
    unsigned i;

    env_init(&e, TCP, 50000, 443);
    for (i = 0; i < PT_APPID_K; i++)
        cr_assert_eq(env_feed(&e, 0, R(junk)), PT_APPID_MORE, "packet %u", i);
    /* direction 0 is exhausted: more of it is ignored */
    cr_assert_eq(env_feed(&e, 0, R(tls_ch)), PT_APPID_MORE);
    cr_expect_eq(e.a.seen[0], PT_APPID_K);
    for (i = 0; i + 1 < PT_APPID_K; i++)
        cr_assert_eq(env_feed(&e, 1, R(junk)), PT_APPID_MORE, "packet %u", i);
    cr_assert_eq(env_feed(&e, 1, R(junk)), PT_APPID_DONE);
    cr_expect_eq(pt_appid_result(&e.a), PT_APP_TLS);
    cr_expect(pt_appid_by_port(&e.a));
    cr_expect(pt_appid_done(&e.a));
    cr_expect_eq(e.st.done_port, 1);
    cr_expect_eq(e.st.calls, 2 * PT_APPID_K);
    /* after DONE nothing changes */
    cr_expect_eq(env_feed(&e, 0, B("GET / HTTP/1.1\r\n")), PT_APPID_DONE);
    cr_expect_eq(pt_appid_result(&e.a), PT_APP_TLS);

    env_init(&e, UDP, 40000, 40001);
    for (i = 0; i < PT_APPID_K; i++) {
        env_feed(&e, 0, R(junk));
        env_feed(&e, 1, R(junk));
    }
    cr_expect(pt_appid_done(&e.a));
    cr_expect_eq(pt_appid_result(&e.a), PT_APP_UNKNOWN);
    cr_expect_not(pt_appid_by_port(&e.a));
    cr_expect_eq(e.st.done_unknown, 1);
}

Test(appid_port, table)
{
    cr_expect_eq(pt_appid_port_guess(TCP, 50000, 22), PT_APP_SSH);
    cr_expect_eq(pt_appid_port_guess(TCP, 443, 50000), PT_APP_TLS, "originator's port second");
    cr_expect_eq(pt_appid_port_guess(UDP, 5353, 53), PT_APP_DNS, "responder's port first");
    cr_expect_eq(pt_appid_port_guess(UDP, 68, 67), PT_APP_DHCP);
    cr_expect_eq(pt_appid_port_guess(UDP, 50000, 443), PT_APP_QUIC);
    cr_expect_eq(pt_appid_port_guess(UDP, 50000, 1900), PT_APP_SSDP);
    cr_expect_eq(pt_appid_port_guess(TCP, 50000, 1900), PT_APP_UNKNOWN);
    cr_expect_eq(pt_appid_port_guess(1, 0, 0), PT_APP_UNKNOWN);
}

Test(appid_port, other_transports_are_done_at_once)
{
    struct pt_appid a;
    struct pt_appid_stats st;

    pt_appid_stats_init(&st);
    pt_appid_init(&a, 132, 5000, 5000);
    cr_expect_eq(pt_appid_feed(&a, &st, 132, 0, 5000, 5000, tls_ch, sizeof tls_ch), PT_APPID_DONE);
    cr_expect_eq(pt_appid_result(&a), PT_APP_UNKNOWN);
}

Test(appid_port, empty_payload_is_ignored)
{
    struct feed_env e;

    env_init(&e, TCP, 50000, 8081);
    cr_expect_eq(env_feed(&e, 0, (const uint8_t *)"", 0), PT_APPID_MORE);
    cr_expect_eq(e.a.seen[0], 0);
    cr_expect_eq(e.st.calls, 0);
}

/* ---- RTP: two packets of one stream ---------------------------------------- */

Test(appid_rtp, confirmed_by_second_packet)
{
    struct feed_env e;

    env_init(&e, UDP, 30000, 30002);
    cr_assert_eq(env_feed(&e, 0, R(rtp1)), PT_APPID_MORE);
    cr_expect_eq(pt_appid_result(&e.a), PT_APP_UNKNOWN, "one packet is not enough");
    cr_assert_eq(env_feed(&e, 1, R(rtp_other)), PT_APPID_MORE, "other direction, other stream");
    cr_assert_eq(env_feed(&e, 0, R(rtp2)), PT_APPID_DONE);
    cr_expect_eq(pt_appid_result(&e.a), PT_APP_RTP);
}

Test(appid_rtp, different_ssrc_or_seq_does_not_confirm)
{
    struct feed_env e;

    env_init(&e, UDP, 30000, 30002);
    env_feed(&e, 0, R(rtp1));
    cr_expect_eq(env_feed(&e, 0, R(rtp_other)), PT_APPID_MORE);
    cr_expect_eq(pt_appid_result(&e.a), PT_APP_UNKNOWN);
    env_init(&e, UDP, 30000, 30002);
    env_feed(&e, 0, R(rtp1));
    cr_expect_eq(env_feed(&e, 0, R(rtp1)), PT_APPID_MORE, "same sequence number");
    cr_expect_eq(pt_appid_result(&e.a), PT_APP_UNKNOWN);
    /* on a well-known port RTP is never guessed */
    env_init(&e, UDP, 50000, 53);
    env_feed(&e, 0, R(rtp1));
    env_feed(&e, 0, R(rtp2));
    cr_expect_eq(pt_appid_result(&e.a), PT_APP_DNS);
    cr_expect(pt_appid_by_port(&e.a));
}

/* ---- malformed payloads ------------------------------------------------------ */

struct bad_case {
    const char *what;
    uint8_t proto;
    uint16_t oport, rport;
    const uint8_t *p;
    uint32_t len;
    enum pt_appid_err err;
};

/* header of a one-question query, then the name bytes under test */
#define DNSH "\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"

static const struct bad_case bad_cases[] = {
    {"dns pointer to itself", UDP, 40000, 53, B(DNSH "\xc0\x0c\x00\x01\x00\x01"),
     PT_APPID_ERR_DNS_PTR_LOOP},
    {"dns forward pointer", UDP, 40000, 53, B(DNSH "\xc0\x20\x00\x01\x00\x01"),
     PT_APPID_ERR_DNS_PTR_LOOP},
    {"dns label type 01", UDP, 40000, 53, B(DNSH "\x41x\x00\x00\x01\x00\x01"),
     PT_APPID_ERR_DNS_BAD_LABEL},
    {"dns label past the end", UDP, 40000, 53,
     B(DNSH "\x07"
            "exa"),
     PT_APPID_ERR_DNS_TRUNC},
    {"dns no type/class", UDP, 40000, 53,
     B(DNSH "\x01"
            "a\x00\x00"),
     PT_APPID_ERR_DNS_TRUNC},
    {"dns query without question", UDP, 40000, 53,
     B("\x12\x34\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00"), PT_APPID_ERR_DNS_BAD_LABEL},
    {"dns name over 255", UDP, 40000, 5353,
     B(DNSH "\x3f"
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
            "\x3f"
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
            "\x3f"
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
            "\x3f"
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
            "\x3f"
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
            "\x00\x00\x01\x00\x01"),
     PT_APPID_ERR_DNS_NAME_LONG},
    {"tls record length 65535", TCP, 50000, 443, B("\x16\x03\x01\xff\xff\x01"),
     PT_APPID_ERR_TLS_RECORD_LEN},
    {"tls record length 0", TCP, 50000, 443, B("\x16\x03\x01\x00\x00"),
     PT_APPID_ERR_TLS_RECORD_LEN},
    {"mqtt 5-byte remaining length", TCP, 50000, 1883, B("\x10\xff\xff\xff\xff\x01\x00\x04MQTT"),
     PT_APPID_ERR_MQTT_REMLEN},
    {"dhcp without magic", UDP, 68, 67, B("\x01\x01\x06\x00 short"), PT_APPID_ERR_DHCP_MAGIC},
    {"dhcpv6 option longer than the packet", UDP, 546, 547,
     B("\x01\xab\xcd\xef\x00\x01\x00\xff\x00\x03"), PT_APPID_ERR_DHCPV6_OPT},
    {"ntp version 0", UDP, 123, 123, B("\x03\x00\x00\x00\x00\x00\x00\x00"),
     PT_APPID_ERR_NTP_HEADER},
    {"snmp 4-byte length beyond the packet", UDP, 50000, 161,
     B("\x30\x84\xff\xff\xff\xff\x02\x01\x01\x04\x06public"), PT_APPID_ERR_SNMP_BER},
    {"snmp community longer than the packet", UDP, 50000, 161,
     B("\x30\x20\x02\x01\x01\x04\x7fpublic"), PT_APPID_ERR_SNMP_BER},
    {"netbios session request of 5 bytes", TCP, 50000, 139, B("\x81\x00\x00\x05\x20"),
     PT_APPID_ERR_NBSS_LEN},
    {"smb with a netbios length under 4", TCP, 50000, 445, B("\x00\x00\x00\x02\xffSMB"),
     PT_APPID_ERR_NBSS_LEN},
    {"tpkt length 2", TCP, 50000, 3389, B("\x03\x00\x00\x02\x02\xf0\x80"), PT_APPID_ERR_TPKT_LEN},
    {"quic unknown version", UDP, 50000, 443, B("\xc0\x0a\x0a\x0a\x0a\x08\x01\x02"),
     PT_APPID_ERR_QUIC_VERSION},
};

Test(appid_malformed, counted_by_reason_and_classified_by_port)
{
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        const struct bad_case *t = &bad_cases[i];
        struct feed_env e;

        env_init(&e, t->proto, t->oport, t->rport);
        env_feed(&e, 0, t->p, t->len);
        for (unsigned r = 0; r < PT_APPID_ERR_MAX; r++)
            cr_expect_eq(e.st.err[r], r == t->err ? 1u : 0u, "%s: %s = %lu", t->what,
                         pt_appid_err_name(r), (unsigned long)e.st.err[r]);
        cr_expect(pt_appid_by_port(&e.a), "%s: %s", t->what, pt_app_name(pt_appid_result(&e.a)));
        cr_expect_neq(pt_appid_result(&e.a), PT_APP_UNKNOWN, "%s", t->what);
    }
}

Test(appid_malformed, same_bytes_off_port_are_not_counted)
{
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        const struct bad_case *t = &bad_cases[i];
        struct feed_env e;

        env_init(&e, t->proto, 40001, 40002);
        env_feed(&e, 0, t->p, t->len);
        for (unsigned r = 0; r < PT_APPID_ERR_MAX; r++)
            cr_expect_eq(e.st.err[r], 0, "%s: %s", t->what, pt_appid_err_name(r));
    }
}

/* Every prefix of every crafted payload, in both directions, on the
 * protocol's port and off it: exact-size buffers, so ASan/UBSan see any read
 * past the length; results stay in range. */
Test(appid_malformed, every_prefix)
{
    static const uint16_t ports[] = {53,  123, 137,  139,  161,  443,  445,
                                     546, 547, 1883, 3389, 5353, 40001};
    uint8_t b[300];

    for (size_t i = 0;
         i < sizeof crafted / sizeof crafted[0] + sizeof bad_cases / sizeof bad_cases[0]; i++) {
        const uint8_t *p;
        uint32_t len;
        uint8_t proto;

        if (i < sizeof crafted / sizeof crafted[0]) {
            p = crafted[i].p;
            len = crafted[i].len;
            proto = crafted[i].proto;
        } else {
            const struct bad_case *t = &bad_cases[i - sizeof crafted / sizeof crafted[0]];
            p = t->p;
            len = t->len;
            proto = t->proto;
        }
        for (size_t k = 0; k < sizeof ports / sizeof ports[0]; k++)
            for (uint32_t n = 0; n <= len; n++) {
                struct feed_env e;

                env_init(&e, proto, 50000, ports[k]);
                env_feed(&e, n & 1, p, n);
                env_feed(&e, 0, p, n);
                cr_assert_lt((unsigned)pt_appid_result(&e.a), PT_APP_MAX);
            }
    }
    for (uint32_t n = 0; n <= make_dhcp(b, true); n++)
        cr_assert_lt((unsigned)one(UDP, 68, 67, 0, b, n, NULL), PT_APP_MAX);
}

/* A backward pointer is fine: the question's name may point into bytes
 * before it (here the header's zero ARCOUNT, read as the root name). */
Test(appid_malformed, backward_pointer_is_valid)
{
    struct feed_env e;

    env_init(&e, UDP, 40000, 53);
    cr_expect_eq(env_feed(&e, 0, B(DNSH "\xc0\x0a\x00\x01\x00\x01")), PT_APPID_DONE);
    cr_expect_eq(pt_appid_result(&e.a), PT_APP_DNS);
    cr_expect_not(pt_appid_by_port(&e.a));
    for (unsigned r = 0; r < PT_APPID_ERR_MAX; r++)
        cr_expect_eq(e.st.err[r], 0, "%s", pt_appid_err_name(r));
}
