/* appid.h - application detection: which application protocol a flow carries.
 *
 * Payload first, port last. The classifier looks at the first few
 * payload-carrying packets of each direction of a TCP or UDP flow and
 * recognises a protocol from its own framing: TLS record + handshake header,
 * HTTP request/status lines, SSH banner, SMTP/FTP/POP3/IMAP greetings and
 * commands, a DNS header with a question or record that parses, QUIC long
 * headers with a known version, the DHCP magic cookie, SNMP BER, SIP start
 * lines, RTP v2 with the same SSRC and a following sequence number across two
 * packets, SMB over the NetBIOS session framing, RDP TPKT + X.224, MQTT
 * CONNECT, and so on (the table in src/decode/appid.c). Only when no payload
 * decided does a well-known port name the protocol (pt_appid_by_port() then
 * says so); a port guess never replaces a payload decision.
 *
 * Use, per flow:
 *   struct pt_appid a;          // 12 bytes, in the flow's own storage
 *   pt_appid_init(&a, proto, orig_port, resp_port);   // at flow creation
 *   for each TCP/UDP packet with len > 0, while pt_appid_feed() has not
 *   returned PT_APPID_DONE and its direction has given < PT_APPID_K packets:
 *       r = pt_appid_feed(&a, &stats, proto, dir, orig_port, resp_port, payload, len);
 *   at any time (the record at flow end): pt_appid_result(&a)
 *
 * TCP payloads are fed per segment in the order they arrive; the classifier
 * never needs reassembly (every signature fits in the first segment of its
 * direction, and a segment cut short only means "no match yet").
 *
 * Thread: the state belongs to its flow; feed it from the thread that holds
 * the flow (its capture worker, under the flow's lock). The stats belong to
 * that worker. No allocation, no syscall, no lock, no logging, no mutable
 * global; every read is bounded by @len; work per call is bounded (a fixed
 * number of signature checks, each over at most a few hundred bytes). */
#ifndef PT_APPID_H
#define PT_APPID_H

#include <stdbool.h>
#include <stdint.h>

/* Application protocols. Stable names: pt_app_name(). Add new ones at the
 * end; the names, not the numbers, are the API. */
enum pt_app {
    PT_APP_UNKNOWN = 0, /* "unknown" */
    PT_APP_HTTP,        /* "http"   HTTP/1.x (and the HTTP/2 preface) */
    PT_APP_TLS,         /* "tls"    TLS/SSL over TCP */
    PT_APP_QUIC,        /* "quic"   IETF QUIC v1/v2/drafts, Google QUIC */
    PT_APP_DNS,         /* "dns"    DNS over UDP or TCP */
    PT_APP_MDNS,        /* "mdns"   DNS-shaped on port 5353 */
    PT_APP_LLMNR,       /* "llmnr"  DNS-shaped on port 5355 */
    PT_APP_NETBIOS_NS,  /* "netbios-ns"  NetBIOS name service (DNS-shaped, encoded name) */
    PT_APP_NETBIOS_DGM, /* "netbios-dgm" NetBIOS datagram service */
    PT_APP_NETBIOS_SSN, /* "netbios-ssn" NetBIOS session service carrying no SMB seen */
    PT_APP_SSDP,        /* "ssdp"   HTTP over UDP: M-SEARCH, NOTIFY, replies on 1900 */
    PT_APP_SSH,         /* "ssh" */
    PT_APP_SMTP,        /* "smtp" */
    PT_APP_IMAP,        /* "imap" */
    PT_APP_POP3,        /* "pop3" */
    PT_APP_FTP,         /* "ftp"    control connection */
    PT_APP_NTP,         /* "ntp" */
    PT_APP_DHCP,        /* "dhcp"   BOOTP with the DHCP magic cookie */
    PT_APP_DHCPV6,      /* "dhcpv6" */
    PT_APP_SNMP,        /* "snmp"   v1, v2c, v3 */
    PT_APP_SIP,         /* "sip"    over UDP or TCP */
    PT_APP_RTP,         /* "rtp" */
    PT_APP_RDP,         /* "rdp" */
    PT_APP_SMB,         /* "smb"    SMB1/2/3, direct (445) or over NetBIOS (139) */
    PT_APP_MQTT,        /* "mqtt" */
    PT_APP_BITTORRENT,  /* "bittorrent" peer wire handshake, DHT */
    PT_APP_STUN,        /* "stun" */
    PT_APP_TELNET,      /* "telnet" */
    PT_APP_LDAP,        /* "ldap" */
    PT_APP_KERBEROS,    /* "kerberos" */
    PT_APP_SYSLOG,      /* "syslog" */
    PT_APP_MAX
};

/* Stable lower-case name of @app ("tls", "netbios-ns"); "unknown" for
 * PT_APP_UNKNOWN and for out-of-range values. Never NULL. Thread: any. */
const char *pt_app_name(unsigned app);

/* Zeek's conn.log `service` string for @app ("ssl" for TLS, "dns" for DNS,
 * mDNS, LLMNR and NetBIOS-NS, which Zeek's DNS analyzer handles, "krb" for
 * Kerberos), or "" when Zeek logs no service for it (unknown, NetBIOS DGM
 * and SSN, SSDP, DHCPv6, RTP, STUN, telnet, bittorrent). Never NULL. Thread: any. */
const char *pt_app_zeek_service(unsigned app);

/* Payload-carrying packets per direction the classifier may need. After a
 * direction has given K, further packets of it are ignored (one compare), so
 * the caller may stop feeding that direction. */
#define PT_APPID_K 4

/* Per-flow state: 12 bytes (static assertion in appid.c), all plain bytes, no
 * pointers; bounded because it holds one decision, one tentative hint, two
 * saturating packet counters and the one RTP stream candidate (SSRC and last
 * sequence number) that confirmation needs. Owned by the flow; set it up
 * with pt_appid_init() (all-zero bytes are valid too, but then a flow that
 * never carries payload has no port guess). */
struct pt_appid {
    uint8_t app;       /* payload decision (enum pt_app), PT_APP_UNKNOWN while none */
    uint8_t hint;      /* weak payload evidence waiting for confirmation, or 0 */
    uint8_t port_app;  /* well-known-port guess, used only while app and hint are 0 */
    uint8_t flags;     /* internal (done, RTP candidate direction, ...) */
    uint8_t seen[2];   /* payload packets fed per direction, saturating at PT_APPID_K */
    uint16_t rtp_seq;  /* RTP candidate: last sequence number */
    uint32_t rtp_ssrc; /* RTP candidate: SSRC */
};

/* What pt_appid_feed() tells the caller. */
enum pt_appid_verdict {
    PT_APPID_MORE = 0, /* undecided or not yet certain: feed the next payload packet */
    PT_APPID_DONE = 1, /* final: stop feeding this flow (further calls return DONE
                        * and change nothing) */
};

/* Malformed-input reasons, counted when a payload starts like a protocol
 * and its own lengths or structure then fail, *and* the flow's port says
 * that protocol (so random payloads on other ports do not inflate them).
 * Stable names: pt_appid_err_name(). Add new reasons at the end. */
enum pt_appid_err {
    PT_APPID_ERR_NONE = 0,       /* app.appid.none */
    PT_APPID_ERR_TLS_RECORD_LEN, /* app.appid.tls.bad_record_length */
    PT_APPID_ERR_DNS_TRUNC,      /* app.appid.dns.truncated (name or fixed part past the end) */
    PT_APPID_ERR_DNS_BAD_LABEL,  /* app.appid.dns.bad_label (label type 01/10, or 0 questions and
                                  * records) */
    PT_APPID_ERR_DNS_PTR_LOOP,   /* app.appid.dns.pointer_loop (forward/self pointer, too many) */
    PT_APPID_ERR_DNS_NAME_LONG,  /* app.appid.dns.name_too_long (> 255 bytes) */
    PT_APPID_ERR_QUIC_VERSION,   /* app.appid.quic.unknown_version */
    PT_APPID_ERR_MQTT_REMLEN,    /* app.appid.mqtt.bad_remaining_length (varint > 4 bytes) */
    PT_APPID_ERR_DHCP_MAGIC,     /* app.appid.dhcp.bad_magic (short, or no magic cookie) */
    PT_APPID_ERR_DHCPV6_OPT,     /* app.appid.dhcpv6.bad_option_length */
    PT_APPID_ERR_NTP_HEADER,     /* app.appid.ntp.bad_header */
    PT_APPID_ERR_SNMP_BER,       /* app.appid.snmp.bad_ber */
    PT_APPID_ERR_NBSS_LEN,       /* app.appid.netbios.bad_session_length */
    PT_APPID_ERR_TPKT_LEN,       /* app.appid.rdp.bad_tpkt_length */
    PT_APPID_ERR_MAX
};

/* Stable dotted name of @err ("app.appid.dns.pointer_loop"). Never NULL;
 * "app.appid.unknown" out of range. Thread: any. */
const char *pt_appid_err_name(unsigned err);

/* Per-worker classifier counters. Owned by one worker; written with
 * PT_CNT_* so another thread may read them with PT_CNT_GET. */
struct pt_appid_stats {
    uint64_t calls;                 /* pt_appid_feed() calls that looked at a payload */
    uint64_t done_payload;          /* flows finished by a payload decision */
    uint64_t done_port;             /* flows finished undecided, with a well-known-port guess */
    uint64_t done_unknown;          /* flows finished undecided, no port guess either */
    uint64_t err[PT_APPID_ERR_MAX]; /* malformed payloads, by reason */
};

/* Initialise @st (caller storage). Thread: the owner. */
void pt_appid_stats_init(struct pt_appid_stats *st);

/* Initialise the per-flow state @a (caller storage; no _fini needed) for a
 * flow of transport @l4proto (6 TCP, 17 UDP) between @orig_port and
 * @resp_port: records the well-known-port guess at once, so a flow that
 * never carries payload (a bare handshake) still has pt_appid_result().
 * Thread: the flow's holder. */
void pt_appid_init(struct pt_appid *a, uint8_t l4proto, uint16_t orig_port, uint16_t resp_port);

/* Look at one payload-carrying packet of the flow.
 * @l4proto: 6 (TCP) or 17 (UDP); anything else is not classified (returns
 *   PT_APPID_DONE at once, result unknown).
 * @dir: 0 = sent by the originator, 1 = by the responder.
 * @orig_port, @resp_port: the flow's ports (originator's, responder's), the
 *   same on every call (and as given to pt_appid_init()); some signatures
 *   need them (NTP, DHCPv6 and the weaker continuations are only accepted on
 *   their own ports).
 * @payload, @len: the transport payload as captured (borrowed for the call;
 *   never read beyond @len; may be cut short by the snap length). @len == 0
 *   is ignored (returns PT_APPID_MORE and counts nothing).
 * @st: the calling worker's counters (must not be NULL).
 * Returns PT_APPID_DONE when the answer is final: a certain payload decision,
 * or both directions have given PT_APPID_K payload packets (then the result
 * is the weak hint, else the port guess, else unknown). Never fails: a
 * malformed payload is counted (enum pt_appid_err) and classified as far as
 * its bytes allow. Thread: the flow's holder (see the top of this file). */
enum pt_appid_verdict pt_appid_feed(struct pt_appid *a, struct pt_appid_stats *st, uint8_t l4proto,
                                    unsigned dir, uint16_t orig_port, uint16_t resp_port,
                                    const uint8_t *payload, uint32_t len);

/* The flow's application as known now: the payload decision if any, else
 * the weak payload hint, else the well-known-port guess (pt_appid_init()),
 * else PT_APP_UNKNOWN. Thread: any reader of the flow. */
enum pt_app pt_appid_result(const struct pt_appid *a);

/* True when pt_appid_result() comes from the ports alone (no payload
 * evidence at all). Thread: any reader of the flow. */
bool pt_appid_by_port(const struct pt_appid *a);

/* True once pt_appid_feed() has returned PT_APPID_DONE for this flow. */
bool pt_appid_done(const struct pt_appid *a);

/* The well-known-port guess for a flow with these ports, alone (the table
 * pt_appid_feed() falls back on): the responder's port first, then the
 * originator's. PT_APP_UNKNOWN when neither is in the table. Thread: any. */
enum pt_app pt_appid_port_guess(uint8_t l4proto, uint16_t orig_port, uint16_t resp_port);

#endif
