/* appid.c - application detection from the first payloads of a flow.
 *
 * DESIGN: a flat list of signature checks, each a small function that reads
 * the payload through explicit length checks and answers one of:
 *   an application  - the payload carries that protocol's own framing: final;
 *   a hint          - weak evidence kept in a->hint, waiting for the other
 *                     side to confirm it (an SMTP/FTP "220" greeting that names
 *                     neither, a NetBIOS session request that SMB may follow);
 *   nothing         - try the next check.
 * The port only gates checks whose own framing is too thin to stand alone
 * (NTP's one header byte, DHCPv6's TLV walk, the MQTT CONNACK, RDP data
 * TPDUs) and names the protocol at the very end, in pt_appid_result(), when
 * no payload said anything. A port guess is stored apart (a->port_app) and is
 * read only when a->app and a->hint are empty, so it can never replace
 * payload evidence.
 *
 * Malformed input: a check that recognises a protocol's opening bytes and
 * then finds its lengths or structure broken counts the reason, but only on
 * that protocol's well-known port; elsewhere the same bytes are just "not
 * this protocol". Nothing here can loop on input: DNS name pointers must go
 * strictly backwards and are capped, TLV and varint walks are capped.
 *
 * RTP confirmation (numbered, since it spans packets):
 *   1. a UDP payload with RTP v2 shape on a flow with no port guess becomes
 *      the candidate: its direction, SSRC and sequence number are stored;
 *   2. the next packet of that direction with the same SSRC and a sequence
 *      number 1..64 ahead decides RTP;
 *   3. any other RTP-shaped packet of that direction replaces the candidate;
 *      packets of the other direction leave it alone. */
#include "pt/appid.h"

#include <stddef.h>
#include <string.h>

#include "pt/common.h"

_Static_assert(sizeof(struct pt_appid) == 12, "per-flow appid state is 12 bytes");
_Static_assert(PT_APP_MAX <= 255 && PT_APPID_K < 255, "state fields are bytes");

#define F_DONE     0x01
#define F_RTP      0x02 /* an RTP candidate is stored */
#define F_RTP_DIR1 0x04 /* ... and it came from direction 1 */
#define F_SRV220   0x08 /* a "220" greeting naming neither SMTP nor FTP was seen */

#define TEXT_SCAN 256 /* bytes of a first line searched for a keyword */

static const char *const app_names[PT_APP_MAX] = {
    [PT_APP_UNKNOWN] = "unknown",
    [PT_APP_HTTP] = "http",
    [PT_APP_TLS] = "tls",
    [PT_APP_QUIC] = "quic",
    [PT_APP_DNS] = "dns",
    [PT_APP_MDNS] = "mdns",
    [PT_APP_LLMNR] = "llmnr",
    [PT_APP_NETBIOS_NS] = "netbios-ns",
    [PT_APP_NETBIOS_DGM] = "netbios-dgm",
    [PT_APP_NETBIOS_SSN] = "netbios-ssn",
    [PT_APP_SSDP] = "ssdp",
    [PT_APP_SSH] = "ssh",
    [PT_APP_SMTP] = "smtp",
    [PT_APP_IMAP] = "imap",
    [PT_APP_POP3] = "pop3",
    [PT_APP_FTP] = "ftp",
    [PT_APP_NTP] = "ntp",
    [PT_APP_DHCP] = "dhcp",
    [PT_APP_DHCPV6] = "dhcpv6",
    [PT_APP_SNMP] = "snmp",
    [PT_APP_SIP] = "sip",
    [PT_APP_RTP] = "rtp",
    [PT_APP_RDP] = "rdp",
    [PT_APP_SMB] = "smb",
    [PT_APP_MQTT] = "mqtt",
    [PT_APP_BITTORRENT] = "bittorrent",
    [PT_APP_STUN] = "stun",
    [PT_APP_TELNET] = "telnet",
    [PT_APP_LDAP] = "ldap",
    [PT_APP_KERBEROS] = "kerberos",
    [PT_APP_SYSLOG] = "syslog",
};

/* Zeek's analyzer names as conn.log prints them; "" where Zeek has none. */
static const char *const zeek_services[PT_APP_MAX] = {
    [PT_APP_HTTP] = "http",      [PT_APP_TLS] = "ssl",   [PT_APP_QUIC] = "quic",
    [PT_APP_DNS] = "dns",        [PT_APP_MDNS] = "dns",  [PT_APP_LLMNR] = "dns",
    [PT_APP_NETBIOS_NS] = "dns", [PT_APP_SSH] = "ssh",   [PT_APP_SMTP] = "smtp",
    [PT_APP_IMAP] = "imap",      [PT_APP_POP3] = "pop3", [PT_APP_FTP] = "ftp",
    [PT_APP_NTP] = "ntp",        [PT_APP_DHCP] = "dhcp", [PT_APP_SNMP] = "snmp",
    [PT_APP_SIP] = "sip",        [PT_APP_RDP] = "rdp",   [PT_APP_SMB] = "smb",
    [PT_APP_MQTT] = "mqtt",      [PT_APP_LDAP] = "ldap", [PT_APP_KERBEROS] = "krb",
    [PT_APP_SYSLOG] = "syslog",
};

static const char *const err_names[PT_APPID_ERR_MAX] = {
    [PT_APPID_ERR_NONE] = "app.appid.none",
    [PT_APPID_ERR_TLS_RECORD_LEN] = "app.appid.tls.bad_record_length",
    [PT_APPID_ERR_DNS_TRUNC] = "app.appid.dns.truncated",
    [PT_APPID_ERR_DNS_BAD_LABEL] = "app.appid.dns.bad_label",
    [PT_APPID_ERR_DNS_PTR_LOOP] = "app.appid.dns.pointer_loop",
    [PT_APPID_ERR_DNS_NAME_LONG] = "app.appid.dns.name_too_long",
    [PT_APPID_ERR_QUIC_VERSION] = "app.appid.quic.unknown_version",
    [PT_APPID_ERR_MQTT_REMLEN] = "app.appid.mqtt.bad_remaining_length",
    [PT_APPID_ERR_DHCP_MAGIC] = "app.appid.dhcp.bad_magic",
    [PT_APPID_ERR_DHCPV6_OPT] = "app.appid.dhcpv6.bad_option_length",
    [PT_APPID_ERR_NTP_HEADER] = "app.appid.ntp.bad_header",
    [PT_APPID_ERR_SNMP_BER] = "app.appid.snmp.bad_ber",
    [PT_APPID_ERR_NBSS_LEN] = "app.appid.netbios.bad_session_length",
    [PT_APPID_ERR_TPKT_LEN] = "app.appid.rdp.bad_tpkt_length",
};

const char *pt_app_name(unsigned app)
{
    if (app < PT_APP_MAX && app_names[app])
        return app_names[app];
    return "unknown";
}

const char *pt_app_zeek_service(unsigned app)
{
    if (app < PT_APP_MAX && zeek_services[app])
        return zeek_services[app];
    return "";
}

const char *pt_appid_err_name(unsigned err)
{
    if (err < PT_APPID_ERR_MAX && err_names[err])
        return err_names[err];
    return "app.appid.unknown";
}

void pt_appid_stats_init(struct pt_appid_stats *st)
{
    memset(st, 0, sizeof *st);
}

/* ---- ports ------------------------------------------------------------ */

static enum pt_app tcp_port(uint16_t port)
{
    switch (port) {
    case 21:
        return PT_APP_FTP;
    case 22:
        return PT_APP_SSH;
    case 23:
        return PT_APP_TELNET;
    case 25:
    case 587:
        return PT_APP_SMTP;
    case 53:
        return PT_APP_DNS;
    case 80:
    case 8080:
        return PT_APP_HTTP;
    case 88:
        return PT_APP_KERBEROS;
    case 110:
        return PT_APP_POP3;
    case 139:
        return PT_APP_NETBIOS_SSN;
    case 143:
        return PT_APP_IMAP;
    case 389:
        return PT_APP_LDAP;
    case 443:
    case 465:
    case 993:
    case 995:
        return PT_APP_TLS;
    case 445:
        return PT_APP_SMB;
    case 1883:
        return PT_APP_MQTT;
    case 3389:
        return PT_APP_RDP;
    case 5060:
        return PT_APP_SIP;
    default:
        return PT_APP_UNKNOWN;
    }
}

static enum pt_app udp_port(uint16_t port)
{
    switch (port) {
    case 53:
        return PT_APP_DNS;
    case 67:
    case 68:
        return PT_APP_DHCP;
    case 88:
        return PT_APP_KERBEROS;
    case 123:
        return PT_APP_NTP;
    case 137:
        return PT_APP_NETBIOS_NS;
    case 138:
        return PT_APP_NETBIOS_DGM;
    case 161:
    case 162:
        return PT_APP_SNMP;
    case 389:
        return PT_APP_LDAP;
    case 443:
        return PT_APP_QUIC;
    case 514:
        return PT_APP_SYSLOG;
    case 546:
    case 547:
        return PT_APP_DHCPV6;
    case 1900:
        return PT_APP_SSDP;
    case 3478:
        return PT_APP_STUN;
    case 5060:
        return PT_APP_SIP;
    case 5353:
        return PT_APP_MDNS;
    case 5355:
        return PT_APP_LLMNR;
    default:
        return PT_APP_UNKNOWN;
    }
}

enum pt_app pt_appid_port_guess(uint8_t l4proto, uint16_t orig_port, uint16_t resp_port)
{
    enum pt_app (*f)(uint16_t);
    enum pt_app g;

    if (l4proto == 6)
        f = tcp_port;
    else if (l4proto == 17)
        f = udp_port;
    else
        return PT_APP_UNKNOWN;
    g = f(resp_port);
    return g != PT_APP_UNKNOWN ? g : f(orig_port);
}

/* ---- helpers ------------------------------------------------------------ */

struct ctx {
    const uint8_t *p;
    uint32_t len;
    uint8_t proto; /* 6 or 17 */
    unsigned dir;
    uint16_t oport, rport;
    struct pt_appid *a;
    struct pt_appid_stats *st;
};

static uint16_t be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static bool has_port(const struct ctx *c, uint16_t port)
{
    return c->oport == port || c->rport == port;
}

/* Count @err when the flow's port says @app (see DESIGN). */
static void bad(const struct ctx *c, enum pt_appid_err err, enum pt_app app)
{
    if (c->a->port_app == app)
        PT_CNT_INC(c->st->err[err]);
}

static bool starts(const uint8_t *p, uint32_t len, const char *s)
{
    size_t n = strlen(s);

    return len >= n && memcmp(p, s, n) == 0;
}

static uint8_t upper(uint8_t ch)
{
    return (ch >= 'a' && ch <= 'z') ? (uint8_t)(ch - 32) : ch;
}

/* Case-insensitive prefix. */
static bool starts_ci(const uint8_t *p, uint32_t len, const char *s)
{
    size_t n = strlen(s);

    if (len < n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (upper(p[i]) != (uint8_t)s[i])
            return false;
    return true;
}

/* Case-insensitive search for upper-case @word in the first line of @p
 * (up to TEXT_SCAN bytes). */
static bool line_has(const uint8_t *p, uint32_t len, const char *word)
{
    size_t n = strlen(word);
    uint32_t end = len < TEXT_SCAN ? len : TEXT_SCAN;

    for (uint32_t i = 0; i + n <= end; i++) {
        if (p[i] == '\r' || p[i] == '\n')
            return false;
        if (starts_ci(p + i, (uint32_t)(end - i), word))
            return true;
    }
    return false;
}

/* BER definite length at p[*off]; advances *off. False when cut short or not
 * a definite length of at most 4 bytes. */
static bool ber_len(const uint8_t *p, uint32_t len, uint32_t *off, uint32_t *out)
{
    uint32_t o = *off, v = 0, n;

    if (o >= len)
        return false;
    if (p[o] < 0x80) {
        *out = p[o];
        *off = o + 1;
        return true;
    }
    n = p[o] & 0x7f;
    if (n == 0 || n > 4 || o + 1 + n > len)
        return false;
    for (uint32_t i = 0; i < n; i++)
        v = v << 8 | p[o + 1 + i];
    *out = v;
    *off = o + 1 + n;
    return true;
}

/* ---- TLS ------------------------------------------------------------------ */

static enum pt_app check_tls(const struct ctx *c)
{
    const uint8_t *p = c->p;
    uint32_t rl;

    if (c->len >= 5 && p[0] >= 0x14 && p[0] <= 0x17 && p[1] == 3 && p[2] <= 4) {
        rl = be16(p + 3);
        if (rl == 0 || rl > 16384 + 2048) {
            bad(c, PT_APPID_ERR_TLS_RECORD_LEN, PT_APP_TLS);
            return PT_APP_UNKNOWN;
        }
        switch (p[0]) {
        case 0x16: /* handshake; may be encrypted (after CCS), so any type */
            return PT_APP_TLS;
        case 0x14: /* change cipher spec: one byte, value 1 */
            return (rl == 1 && (c->len < 6 || p[5] == 1)) ? PT_APP_TLS : PT_APP_UNKNOWN;
        default: /* alert, application data: TLS 1.0 and later */
            return p[2] >= 1 ? PT_APP_TLS : PT_APP_UNKNOWN;
        }
    }
    /* SSLv2-framed ClientHello (2-byte header, msg type 1, version 2 or 3.x) */
    if (c->len >= 5 && (p[0] & 0x80) && p[2] == 1 &&
        ((p[3] == 0 && p[4] == 2) || (p[3] == 3 && p[4] <= 4)) &&
        (((p[0] & 0x7f) << 8) | p[1]) >= 9)
        return PT_APP_TLS;
    return PT_APP_UNKNOWN;
}

/* ---- text start lines: HTTP, SIP, SSDP, RTSP -------------------------- */

static const char *const http_methods[] = {
    "GET",    "POST",     "HEAD",      "PUT",    "DELETE",    "OPTIONS",     "CONNECT", "PATCH",
    "TRACE",  "PROPFIND", "PROPPATCH", "MKCOL",  "COPY",      "MOVE",        "LOCK",    "UNLOCK",
    "REPORT", "SEARCH",   "M-SEARCH",  "NOTIFY", "SUBSCRIBE", "UNSUBSCRIBE",
};

static const char *const sip_methods[] = {
    "INVITE", "REGISTER", "OPTIONS", "ACK",   "BYE",    "CANCEL", "SUBSCRIBE",
    "NOTIFY", "MESSAGE",  "INFO",    "PRACK", "UPDATE", "REFER",  "PUBLISH",
};

static bool in_list(const uint8_t *tok, uint32_t n, const char *const *list, size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (strlen(list[i]) == n && memcmp(list[i], tok, n) == 0)
            return true;
    return false;
}

static enum pt_app check_text(const struct ctx *c)
{
    const uint8_t *p = c->p, *t;
    uint32_t len = c->len, n = 0, tl;

    if (starts(p, len, "HTTP/1.") && len >= 12 && p[8] == ' ' && p[9] >= '1' && p[9] <= '5')
        return c->proto == 6 ? PT_APP_HTTP : PT_APP_SSDP;
    if (starts(p, len, "SIP/2.0 "))
        return PT_APP_SIP;
    if (c->proto == 6 && starts(p, len, "PRI * HTTP/2.0\r\n"))
        return PT_APP_HTTP;

    /* request line: METHOD SP target */
    while (n < len && n < 12 && ((p[n] >= 'A' && p[n] <= 'Z') || p[n] == '-'))
        n++;
    if (n < 3 || n >= len || p[n] != ' ' || n + 1 >= len)
        return PT_APP_UNKNOWN;
    t = p + n + 1;
    tl = len - n - 1;
    if (*t == ' ' || *t < 0x21 || *t > 0x7e)
        return PT_APP_UNKNOWN;
    if (starts_ci(t, tl, "SIP:") || starts_ci(t, tl, "SIPS:") || starts_ci(t, tl, "TEL:"))
        return in_list(p, n, sip_methods, PT_ARRAY_LEN(sip_methods)) ? PT_APP_SIP : PT_APP_UNKNOWN;
    if (!in_list(p, n, http_methods, PT_ARRAY_LEN(http_methods)))
        return PT_APP_UNKNOWN;
    if (starts_ci(t, tl, "RTSP://"))
        return PT_APP_UNKNOWN;
    if (c->proto == 6)
        return PT_APP_HTTP;
    /* HTTP over UDP is SSDP's: M-SEARCH/NOTIFY *, or anything on 1900 */
    if ((starts(p, len, "M-SEARCH * ") || starts(p, len, "NOTIFY * ")) || has_port(c, 1900))
        return PT_APP_SSDP;
    return PT_APP_UNKNOWN;
}

/* ---- mail and file transfer: greetings and first commands --------------- */

static bool imap_client(const uint8_t *p, uint32_t len)
{
    static const char *const cmds[] = {"CAPABILITY",    "LOGIN ", "STARTTLS",
                                       "AUTHENTICATE ", "ID ",    "NOOP"};
    uint32_t n = 0;

    while (n < len && n < 16 &&
           ((p[n] >= '0' && p[n] <= '9') || (p[n] >= 'A' && p[n] <= 'Z') ||
            (p[n] >= 'a' && p[n] <= 'z') || p[n] == '.'))
        n++;
    if (n == 0 || n >= len || p[n] != ' ')
        return false;
    for (size_t i = 0; i < PT_ARRAY_LEN(cmds); i++)
        if (starts_ci(p + n + 1, len - n - 1, cmds[i]))
            return true;
    return false;
}

static enum pt_app check_mail(const struct ctx *c)
{
    const uint8_t *p = c->p;
    uint32_t len = c->len;
    struct pt_appid *a = c->a;

    /* server greetings */
    if (starts(p, len, "+OK"))
        return PT_APP_POP3;
    if (starts(p, len, "* OK") || starts(p, len, "* PREAUTH"))
        return PT_APP_IMAP;
    if (len >= 4 && starts(p, len, "220") && (p[3] == ' ' || p[3] == '-')) {
        if (line_has(p, len, "SMTP"))
            return PT_APP_SMTP;
        if (line_has(p, len, "FTP"))
            return PT_APP_FTP;
        a->flags |= F_SRV220;
        if (a->port_app == PT_APP_SMTP || a->port_app == PT_APP_FTP)
            a->hint = a->port_app;
        return PT_APP_UNKNOWN;
    }
    /* client commands */
    if (starts_ci(p, len, "EHLO ") || starts_ci(p, len, "HELO "))
        return PT_APP_SMTP;
    if (starts_ci(p, len, "FEAT") || starts_ci(p, len, "SYST") || starts_ci(p, len, "PASV") ||
        starts_ci(p, len, "EPSV") || starts_ci(p, len, "EPRT ") || starts_ci(p, len, "PORT "))
        return PT_APP_FTP;
    if (starts_ci(p, len, "CAPA") || starts_ci(p, len, "APOP ") || starts_ci(p, len, "STLS"))
        return PT_APP_POP3;
    if (starts_ci(p, len, "USER ") || starts_ci(p, len, "AUTH TLS") ||
        starts_ci(p, len, "AUTH SSL")) {
        if (a->flags & F_SRV220)
            return PT_APP_FTP; /* a 220 greeting, then USER: FTP (SMTP says EHLO) */
        if (a->port_app == PT_APP_FTP || a->port_app == PT_APP_POP3)
            a->hint = a->port_app;
        return PT_APP_UNKNOWN;
    }
    if (imap_client(p, len))
        return PT_APP_IMAP;
    return PT_APP_UNKNOWN;
}

/* ---- binary TCP framings -------------------------------------------------- */

static enum pt_app check_nbss(const struct ctx *c)
{
    const uint8_t *p = c->p;
    uint32_t len = c->len, nlen;

    if (len >= 8 && p[0] == 0x00 && p[5] == 'S' && p[6] == 'M' && p[7] == 'B' &&
        (p[4] == 0xff || p[4] == 0xfe || p[4] == 0xfd)) {
        nlen = (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
        if (nlen < 4) {
            bad(c, PT_APPID_ERR_NBSS_LEN, PT_APP_SMB);
            bad(c, PT_APPID_ERR_NBSS_LEN, PT_APP_NETBIOS_SSN);
            return PT_APP_UNKNOWN;
        }
        return PT_APP_SMB;
    }
    /* session request: two 34-byte encoded names; SMB should follow */
    if (len >= 5 && p[0] == 0x81 && p[1] <= 1) {
        if (be16(p + 2) == 68 && p[4] == 0x20)
            c->a->hint = PT_APP_NETBIOS_SSN;
        else
            bad(c, PT_APPID_ERR_NBSS_LEN, PT_APP_NETBIOS_SSN);
        return PT_APP_UNKNOWN;
    }
    /* positive/negative session response: only on the session port */
    if (len >= 4 && (p[0] == 0x82 || p[0] == 0x83) && p[1] == 0 && be16(p + 2) <= 1 &&
        c->a->port_app == PT_APP_NETBIOS_SSN)
        c->a->hint = PT_APP_NETBIOS_SSN;
    return PT_APP_UNKNOWN;
}

static enum pt_app check_rdp(const struct ctx *c)
{
    const uint8_t *p = c->p;
    uint32_t tl, li, code;

    if (c->len < 7 || p[0] != 3 || p[1] != 0)
        return PT_APP_UNKNOWN;
    tl = be16(p + 2);
    li = p[4];
    code = p[5] & 0xf0;
    if (tl < 7) {
        bad(c, PT_APPID_ERR_TPKT_LEN, PT_APP_RDP);
        return PT_APP_UNKNOWN;
    }
    if ((code == 0xe0 || code == 0xd0) && li >= 6 && li + 5 <= tl && !has_port(c, 102))
        return PT_APP_RDP; /* X.224 connection request/confirm (102 is ISO-TSAP, S7) */
    if (code == 0xf0 && li == 2 && c->a->port_app == PT_APP_RDP)
        return PT_APP_RDP; /* X.224 data, mid-connection */
    return PT_APP_UNKNOWN;
}

static enum pt_app check_mqtt(const struct ctx *c)
{
    const uint8_t *p = c->p;
    uint32_t len = c->len, i = 1, plen;

    if (len >= 4 && p[0] == 0x20 && p[1] == 2 && c->a->port_app == PT_APP_MQTT)
        return PT_APP_MQTT; /* CONNACK on the MQTT port */
    if (len < 2 || p[0] != 0x10)
        return PT_APP_UNKNOWN;
    while (i < len && (p[i] & 0x80)) {
        if (++i > 4) {
            bad(c, PT_APPID_ERR_MQTT_REMLEN, PT_APP_MQTT);
            return PT_APP_UNKNOWN;
        }
    }
    i++; /* last remaining-length byte */
    if (i + 2 > len)
        return PT_APP_UNKNOWN;
    plen = be16(p + i);
    i += 2;
    if (plen == 4 && i + 5 <= len && memcmp(p + i, "MQTT", 4) == 0 && p[i + 4] >= 3 &&
        p[i + 4] <= 5)
        return PT_APP_MQTT;
    if (plen == 6 && i + 7 <= len && memcmp(p + i, "MQIsdp", 6) == 0 && p[i + 6] == 3)
        return PT_APP_MQTT;
    return PT_APP_UNKNOWN;
}

/* ---- DNS family ----------------------------------------------------------- */

/* Walk the name at @off of message @p/@len. Sets *@end to the offset after
 * the name as stored at @off, and *@nbns when its first label is a NetBIOS
 * encoded name (32 letters A..P). Returns 0 or the error reason. */
static enum pt_appid_err dns_name(const uint8_t *p, uint32_t len, uint32_t off, uint32_t *end,
                                  bool *nbns)
{
    uint32_t pos = off, total = 0, jumps = 0;
    bool jumped = false, first = true;

    *nbns = false;
    for (;;) {
        uint8_t b;

        if (pos >= len)
            return PT_APPID_ERR_DNS_TRUNC;
        b = p[pos];
        if (b == 0) {
            if (!jumped)
                *end = pos + 1;
            return PT_APPID_ERR_NONE;
        }
        if ((b & 0xc0) == 0xc0) {
            uint32_t target;

            if (pos + 1 >= len)
                return PT_APPID_ERR_DNS_TRUNC;
            target = (uint32_t)(b & 0x3f) << 8 | p[pos + 1];
            if (!jumped)
                *end = pos + 2;
            /* strictly backwards, so pointer positions decrease: no loop */
            if (target >= pos || ++jumps > 16)
                return PT_APPID_ERR_DNS_PTR_LOOP;
            jumped = true;
            pos = target;
            continue;
        }
        if (b & 0xc0)
            return PT_APPID_ERR_DNS_BAD_LABEL;
        if (pos + 1 + b > len)
            return PT_APPID_ERR_DNS_TRUNC;
        if (first && b == 32) {
            *nbns = true;
            for (uint32_t i = 0; i < 32; i++)
                if (p[pos + 1 + i] < 'A' || p[pos + 1 + i] > 'P')
                    *nbns = false;
        }
        first = false;
        total += b + 1u;
        if (total > 255)
            return PT_APPID_ERR_DNS_NAME_LONG;
        pos += b + 1u;
    }
}

static bool dns_family(enum pt_app app)
{
    return app == PT_APP_DNS || app == PT_APP_MDNS || app == PT_APP_LLMNR ||
           app == PT_APP_NETBIOS_NS;
}

/* A DNS message: sane header and a first question (or, with no question, a
 * first record) whose name, type and class parse. */
static bool dns_shape(const struct ctx *c, const uint8_t *p, uint32_t len, bool *nbns)
{
    uint16_t flags, qd, an, ns, ar, type, cls;
    unsigned opcode;
    uint32_t end = 0;
    enum pt_appid_err e;

    if (len < 12)
        return false;
    flags = be16(p + 2);
    opcode = (flags >> 11) & 0xf;
    qd = be16(p + 4);
    an = be16(p + 6);
    ns = be16(p + 8);
    ar = be16(p + 10);
    if ((opcode != 0 && opcode != 1 && opcode != 2 && opcode != 4 && opcode != 5) || qd > 64 ||
        an > 512 || ns > 512 || ar > 512)
        return false;
    if ((flags & 0x8000) ? (qd + an + ns == 0) : (qd == 0)) {
        if (dns_family(c->a->port_app))
            PT_CNT_INC(c->st->err[PT_APPID_ERR_DNS_BAD_LABEL]);
        return false;
    }
    if (qd == 0 && an == 0)
        return false; /* only authority/additional: too little to check */
    e = dns_name(p, len, 12, &end, nbns);
    if (e == PT_APPID_ERR_NONE && end + (qd ? 4u : 10u) > len)
        e = PT_APPID_ERR_DNS_TRUNC;
    if (e != PT_APPID_ERR_NONE) {
        if (dns_family(c->a->port_app))
            PT_CNT_INC(c->st->err[e]);
        return false;
    }
    type = be16(p + end);
    cls = be16(p + end + 2) & 0x7fff; /* mDNS: top bit is unicast-response / cache-flush */
    return type != 0 && (cls == 1 || cls == 3 || cls == 4 || cls == 254 || cls == 255);
}

static enum pt_app check_dns_udp(const struct ctx *c)
{
    bool nbns;

    if (!dns_shape(c, c->p, c->len, &nbns))
        return PT_APP_UNKNOWN;
    if (nbns)
        return PT_APP_NETBIOS_NS;
    /* the responder's port first: a query from 5353 to 53 is plain DNS */
    if (c->rport == 53)
        return PT_APP_DNS;
    if (has_port(c, 5353))
        return PT_APP_MDNS;
    if (has_port(c, 5355))
        return PT_APP_LLMNR;
    return PT_APP_DNS;
}

static enum pt_app check_dns_tcp(const struct ctx *c)
{
    uint32_t mlen;
    bool nbns;

    if (c->len < 14)
        return PT_APP_UNKNOWN;
    mlen = be16(c->p);
    if (mlen < 12)
        return PT_APP_UNKNOWN;
    if (mlen > c->len - 2)
        mlen = c->len - 2; /* the rest of the message is in later segments */
    return dns_shape(c, c->p + 2, mlen, &nbns) ? PT_APP_DNS : PT_APP_UNKNOWN;
}

static enum pt_app check_nbdgm(const struct ctx *c)
{
    const uint8_t *p = c->p;

    /* direct/broadcast datagram: 14-byte header, then the encoded source name */
    if (c->len < 14 + 34 || p[0] < 0x10 || p[0] > 0x12 || p[14] != 0x20)
        return PT_APP_UNKNOWN;
    for (uint32_t i = 0; i < 32; i++)
        if (p[15 + i] < 'A' || p[15 + i] > 'P')
            return PT_APP_UNKNOWN;
    return PT_APP_NETBIOS_DGM;
}

/* ---- UDP binary protocols ------------------------------------------------- */

static enum pt_app check_dhcp(const struct ctx *c)
{
    const uint8_t *p = c->p;

    if (c->len >= 240 && (p[0] == 1 || p[0] == 2) && be32(p + 236) == 0x63825363)
        return PT_APP_DHCP;
    bad(c, PT_APPID_ERR_DHCP_MAGIC, PT_APP_DHCP);
    return PT_APP_UNKNOWN;
}

static enum pt_app check_stun(const struct ctx *c)
{
    const uint8_t *p = c->p;
    uint32_t ml;

    if (c->len < 20 || (p[0] & 0xc0))
        return PT_APP_UNKNOWN;
    ml = be16(p + 2);
    if (ml + 20 != c->len || (ml & 3))
        return PT_APP_UNKNOWN;
    if (be32(p + 4) == 0x2112a442)
        return PT_APP_STUN;
    /* RFC 3489 (no magic cookie): binding request/response/error on 3478 */
    if (has_port(c, 3478) && (be16(p) == 0x0001 || be16(p) == 0x0101 || be16(p) == 0x0111))
        return PT_APP_STUN;
    return PT_APP_UNKNOWN;
}

static bool quic_version_known(uint32_t v)
{
    return v == 0x00000001 || v == 0x6b3343cf || v == 0x709a50c4 ||
           ((v & 0xffffff00) == 0xff000000 && (v & 0xff) >= 1 && (v & 0xff) <= 0x22) ||
           (v & 0xfffffff0) == 0xfaceb000 ||
           ((v >> 16) == 0x5130 && ((v >> 8) & 0xff) >= '0' && ((v >> 8) & 0xff) <= '9' &&
            (v & 0xff) >= '0' && (v & 0xff) <= '9') || /* Google "Q0nn" */
           (v >> 16) == 0x5430;                        /* Google "T0nn" */
}

static enum pt_app check_quic(const struct ctx *c)
{
    const uint8_t *p = c->p;
    uint32_t v;

    if (c->len >= 7 && (p[0] & 0x80)) {
        v = be32(p + 1);
        if (v == 0) { /* version negotiation: CIDs, then whole 4-byte versions */
            uint32_t off = 5u + 1 + p[5];
            if (p[5] <= 20 && off < c->len && p[off] <= 20) {
                off += 1u + p[off];
                if (off >= c->len || ((c->len - off) & 3) != 0)
                    return PT_APP_UNKNOWN;
                /* and at least one version we know in the list */
                for (; off + 4 <= c->len; off += 4)
                    if (quic_version_known(be32(p + off)))
                        return PT_APP_QUIC;
            }
            return PT_APP_UNKNOWN;
        }
        /* the fixed bit must be set (RFC 9000 17.2; greasing it, RFC 9287, is
         * left out: a DNS id with the top bit set looks like it otherwise) */
        if (quic_version_known(v) && (p[0] & 0x40) && p[5] <= 20)
            return PT_APP_QUIC;
        if (quic_version_known(v) && (v >> 24) == 'Q')
            return PT_APP_QUIC; /* Google Q046+ long header: no CID length byte */
        if (p[0] & 0x40)
            bad(c, PT_APPID_ERR_QUIC_VERSION, PT_APP_QUIC);
        return PT_APP_UNKNOWN;
    }
    /* Google QUIC (<= Q043) public header: version flag, 8-byte CID, "Q0nn" */
    if (c->len >= 13 && (p[0] & 0x09) == 0x09 && !(p[0] & 0x80) && p[9] == 'Q' && p[10] == '0' &&
        p[11] >= '0' && p[11] <= '9' && p[12] >= '0' && p[12] <= '9')
        return PT_APP_QUIC;
    return PT_APP_UNKNOWN;
}

static enum pt_app check_ntp(const struct ctx *c)
{
    const uint8_t *p = c->p;
    unsigned vn, mode;

    if (!has_port(c, 123))
        return PT_APP_UNKNOWN;
    vn = (p[0] >> 3) & 7;
    mode = p[0] & 7;
    if (vn >= 1 && vn <= 4 &&
        ((c->len >= 48 && mode >= 1 && mode <= 5) || (c->len >= 12 && (mode == 6 || mode == 7))))
        return PT_APP_NTP;
    bad(c, PT_APPID_ERR_NTP_HEADER, PT_APP_NTP);
    return PT_APP_UNKNOWN;
}

static enum pt_app check_dhcpv6(const struct ctx *c)
{
    const uint8_t *p = c->p;
    uint32_t off, n = 0;

    if (!has_port(c, 546) && !has_port(c, 547))
        return PT_APP_UNKNOWN;
    if (p[0] >= 1 && p[0] <= 11)
        off = 4; /* type, transaction id */
    else if (p[0] == 12 || p[0] == 13)
        off = 34; /* relay: type, hop count, link and peer addresses */
    else
        return PT_APP_UNKNOWN;
    while (off + 4 <= c->len && n < 128) {
        off += 4u + be16(p + off + 2);
        n++;
    }
    if (off == c->len && n > 0)
        return PT_APP_DHCPV6;
    bad(c, PT_APPID_ERR_DHCPV6_OPT, PT_APP_DHCPV6);
    return PT_APP_UNKNOWN;
}

/* SNMP message: SEQUENCE { INTEGER version (0, 1, 3), then v1/v2c
 * OCTET STRING community + PDU [0..8], or v3 SEQUENCE msgGlobalData }. */
static enum pt_app check_snmp(const struct ctx *c)
{
    const uint8_t *p = c->p;
    uint32_t len = c->len, off = 1, l;

    if (len < 8 || p[0] != 0x30)
        return PT_APP_UNKNOWN;
    if (!ber_len(p, len, &off, &l) || off + 3 > len || p[off] != 0x02 || p[off + 1] != 1)
        goto no;
    if (p[off + 2] == 3)
        return (off + 3 < len && p[off + 3] == 0x30) ? PT_APP_SNMP : PT_APP_UNKNOWN;
    if (p[off + 2] > 1)
        goto no;
    off += 3;
    if (off >= len || p[off] != 0x04)
        goto no;
    off++;
    if (!ber_len(p, len, &off, &l) || l > len - off || off + l >= len)
        goto no;
    off += l;
    if (p[off] >= 0xa0 && p[off] <= 0xa8)
        return PT_APP_SNMP;
no:
    bad(c, PT_APPID_ERR_SNMP_BER, PT_APP_SNMP);
    return PT_APP_UNKNOWN;
}

/* LDAP message: SEQUENCE { INTEGER messageID, [APPLICATION n] protocolOp }. */
static enum pt_app check_ldap(const uint8_t *p, uint32_t len)
{
    uint32_t off = 1, l;
    uint8_t op;

    if (len < 7 || p[0] != 0x30 || !ber_len(p, len, &off, &l))
        return PT_APP_UNKNOWN;
    if (off + 2 > len || p[off] != 0x02 || p[off + 1] < 1 || p[off + 1] > 4)
        return PT_APP_UNKNOWN;
    off += 2u + p[off + 1];
    if (off >= len)
        return PT_APP_UNKNOWN;
    op = p[off];
    if ((op >= 0x60 && op <= 0x6f && op != 0x62) || op == 0x42 || op == 0x50 || op == 0x73 ||
        (op >= 0x77 && op <= 0x79))
        return PT_APP_LDAP;
    return PT_APP_UNKNOWN;
}

/* Kerberos: [APPLICATION 10..13, 30] { SEQUENCE { [0|1] INTEGER 5 (pvno) ... } } */
static enum pt_app check_krb(const uint8_t *p, uint32_t len)
{
    uint32_t off = 1, l;

    if (len < 12 || !(p[0] == 0x6a || p[0] == 0x6b || p[0] == 0x6c || p[0] == 0x6d || p[0] == 0x7e))
        return PT_APP_UNKNOWN;
    if (!ber_len(p, len, &off, &l) || off >= len || p[off] != 0x30)
        return PT_APP_UNKNOWN;
    off++;
    if (!ber_len(p, len, &off, &l) || off + 5 > len)
        return PT_APP_UNKNOWN;
    if ((p[off] == 0xa0 || p[off] == 0xa1) && p[off + 1] == 3 && p[off + 2] == 2 &&
        p[off + 3] == 1 && p[off + 4] == 5)
        return PT_APP_KERBEROS;
    return PT_APP_UNKNOWN;
}

static enum pt_app check_syslog(const struct ctx *c)
{
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    const uint8_t *p = c->p;
    uint32_t i = 1, pri = 0;

    if (c->len < 4 || p[0] != '<')
        return PT_APP_UNKNOWN;
    while (i < c->len && i <= 3 && p[i] >= '0' && p[i] <= '9')
        pri = pri * 10 + (p[i++] - '0');
    if (i == 1 || i >= c->len || p[i] != '>' || pri > 191)
        return PT_APP_UNKNOWN;
    i++;
    if (has_port(c, 514) || starts(p + i, c->len - i, "1 "))
        return PT_APP_SYSLOG;
    for (size_t m = 0; m < PT_ARRAY_LEN(months); m++)
        if (starts(p + i, c->len - i, months[m]) && i + 3 < c->len && p[i + 3] == ' ')
            return PT_APP_SYSLOG;
    return PT_APP_UNKNOWN;
}

static enum pt_app check_bittorrent(const struct ctx *c)
{
    if (c->proto == 6)
        return starts(c->p, c->len,
                      "\x13"
                      "BitTorrent protocol")
                   ? PT_APP_BITTORRENT
                   : PT_APP_UNKNOWN;
    if (starts(c->p, c->len, "d1:ad2:id20:") || starts(c->p, c->len, "d1:rd2:id20:"))
        return PT_APP_BITTORRENT;
    return PT_APP_UNKNOWN;
}

/* RTP: see the numbered narrative at the top. */
static enum pt_app check_rtp(const struct ctx *c)
{
    const uint8_t *p = c->p;
    struct pt_appid *a = c->a;
    uint32_t ssrc;
    uint16_t seq;
    uint8_t pt;

    if (a->port_app != PT_APP_UNKNOWN || c->len < 12 || (p[0] >> 6) != 2)
        return PT_APP_UNKNOWN;
    pt = p[1] & 0x7f;
    if ((pt >= 72 && pt <= 76) || c->len < 12u + 4u * (p[0] & 0x0f))
        return PT_APP_UNKNOWN; /* RTCP (200..204 with the marker bit), or CSRCs cut */
    ssrc = be32(p + 8);
    seq = be16(p + 2);
    if (a->flags & F_RTP) {
        bool cand_dir1 = (a->flags & F_RTP_DIR1) != 0;

        if (cand_dir1 != (c->dir == 1))
            return PT_APP_UNKNOWN; /* (3) the other direction leaves it alone */
        if (ssrc == a->rtp_ssrc && (uint16_t)(seq - a->rtp_seq) >= 1 &&
            (uint16_t)(seq - a->rtp_seq) <= 64)
            return PT_APP_RTP; /* (2) */
    }
    a->flags = (uint8_t)((a->flags & ~F_RTP_DIR1) | F_RTP | (c->dir ? F_RTP_DIR1 : 0)); /* (1) */
    a->rtp_ssrc = ssrc;
    a->rtp_seq = seq;
    return PT_APP_UNKNOWN;
}

/* ---- dispatch --------------------------------------------------------------- */

static enum pt_app classify_tcp(const struct ctx *c)
{
    enum pt_app r;

    if ((r = check_tls(c)) || (r = check_text(c)))
        return r;
    if (starts(c->p, c->len, "SSH-1.") || starts(c->p, c->len, "SSH-2."))
        return PT_APP_SSH;
    if ((r = check_mail(c)) || (r = check_nbss(c)) || (r = check_rdp(c)) || (r = check_mqtt(c)) ||
        (r = check_bittorrent(c)))
        return r;
    if (c->len >= 4 && c->p[0] == 0 && (r = check_krb(c->p + 4, c->len - 4)))
        return r;
    if ((r = check_ldap(c->p, c->len)) || (r = check_dns_tcp(c)) || (r = check_syslog(c)))
        return r;
    if (c->len >= 3 && c->p[0] == 0xff && c->p[1] >= 0xfb && c->p[1] <= 0xfe)
        return PT_APP_TELNET; /* IAC WILL/WONT/DO/DONT option */
    return PT_APP_UNKNOWN;
}

static enum pt_app classify_udp(const struct ctx *c)
{
    enum pt_app r;

    if (has_port(c, 67) || has_port(c, 68) || c->len >= 240) {
        if ((r = check_dhcp(c)))
            return r;
    }
    /* DNS before QUIC: a DNS id with the top bit set and zero flags reads as
     * a QUIC long header; a QUIC header never passes the DNS checks (its
     * QDCOUNT would be the version's low byte and the DCID length) */
    if ((r = check_stun(c)) || (r = check_text(c)) || (r = check_ntp(c)) || (r = check_dhcpv6(c)) ||
        (r = check_snmp(c)) || (r = check_krb(c->p, c->len)) || (r = check_ldap(c->p, c->len)) ||
        (r = check_bittorrent(c)) || (r = check_syslog(c)) || (r = check_nbdgm(c)) ||
        (r = check_dns_udp(c)) || (r = check_quic(c)))
        return r;
    return check_rtp(c);
}

void pt_appid_init(struct pt_appid *a, uint8_t l4proto, uint16_t orig_port, uint16_t resp_port)
{
    memset(a, 0, sizeof *a);
    a->port_app = (uint8_t)pt_appid_port_guess(l4proto, orig_port, resp_port);
}

static enum pt_appid_verdict finish(struct pt_appid *a, struct pt_appid_stats *st)
{
    a->flags |= F_DONE;
    if (a->app || a->hint)
        PT_CNT_INC(st->done_payload);
    else if (a->port_app)
        PT_CNT_INC(st->done_port);
    else
        PT_CNT_INC(st->done_unknown);
    return PT_APPID_DONE;
}

enum pt_appid_verdict pt_appid_feed(struct pt_appid *a, struct pt_appid_stats *st, uint8_t l4proto,
                                    unsigned dir, uint16_t orig_port, uint16_t resp_port,
                                    const uint8_t *payload, uint32_t len)
{
    struct ctx c;
    enum pt_app r;

    if (a->flags & F_DONE)
        return PT_APPID_DONE;
    if (l4proto != 6 && l4proto != 17)
        return finish(a, st);
    dir = dir ? 1 : 0;
    if (len == 0 || !payload || a->seen[dir] >= PT_APPID_K)
        return PT_APPID_MORE;
    a->seen[dir]++;
    PT_CNT_INC(st->calls);
    c = (struct ctx){.p = payload,
                     .len = len,
                     .proto = l4proto,
                     .dir = dir,
                     .oport = orig_port,
                     .rport = resp_port,
                     .a = a,
                     .st = st};
    r = l4proto == 6 ? classify_tcp(&c) : classify_udp(&c);
    if (r != PT_APP_UNKNOWN) {
        a->app = (uint8_t)r;
        return finish(a, st);
    }
    if (a->seen[0] >= PT_APPID_K && a->seen[1] >= PT_APPID_K)
        return finish(a, st);
    return PT_APPID_MORE;
}

enum pt_app pt_appid_result(const struct pt_appid *a)
{
    if (a->app)
        return (enum pt_app)a->app;
    if (a->hint)
        return (enum pt_app)a->hint;
    return (enum pt_app)a->port_app;
}

bool pt_appid_by_port(const struct pt_appid *a)
{
    return !a->app && !a->hint && a->port_app;
}

bool pt_appid_done(const struct pt_appid *a)
{
    return (a->flags & F_DONE) != 0;
}
