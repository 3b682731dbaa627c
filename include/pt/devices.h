/* devices.h - the device table: what the sensor knows about each machine it
 * has seen, per MAC address and per IP address (docs/APP.md "Devices").
 *
 * Entries. Two kinds, in one bounded table:
 *   PT_DEV_MAC  a MAC address seen as the sender of an ARP packet, the
 *               client of a DHCP exchange, or an Ethernet endpoint of a
 *               conn record (every unicast source on the segment is a
 *               machine: a router's MAC too). Carries the OUI vendor, the
 *               DHCP host name and vendor class, the last IP bound to it;
 *   PT_DEV_IP   an IP address seen as the originator of a conn record, or
 *               as its responder when the responder sent a packet, bound
 *               by ARP or DHCP, or named by DNS. Carries the hostnames, the
 *               OS guess from its SYNs, the services seen answering, and
 *               the MAC bound to it.
 * Bindings IP <-> MAC come only from ARP senders and DHCP (the chaddr and
 * the assigned or client address): a conn record's Ethernet address is the
 * last hop's, the router's for every remote address.
 *
 * Which IP addresses get an entry: with cfg.all_addrs false (the default),
 * only addresses that are not external (pt_geo_addr_scope(): private,
 * CGNAT, link-local, ULA, ...) or that ARP or DHCP bound on the segment;
 * never unspecified, loopback, multicast or broadcast ones. So the table
 * holds the local network, not every server on the internet the clients
 * talked to; cfg.all_addrs tracks every unicast address.
 *
 * Hostnames: at most PT_DEV_NAMES per entry, each with its source (DHCP
 * option 12 host name, option 81 client FQDN, a DNS PTR answer, an mDNS
 * answer, a NetBIOS name registration). A name already known is refreshed;
 * a new name when the list is full replaces the oldest-seen one (counted).
 *
 * OS guess (pt_dev_os_guess()): from the originator's SYN of TCP conn
 * records (and, with less evidence, the responder's SYN/ACK): the initial
 * TTL (the TTL seen rounded up to 32, 64, 128 or 255), then window, MSS and
 * window scale against a small table; docs/APP.md ("OS guess") lists the
 * table and its limits.
 *
 * Device type: from the evidence, strongest first: the DHCP vendor class
 * ("MSFT 5.0" computer, "android-dhcp-*" phone, ...), the OUI vendor (printer,
 * network and VoIP makers, virtual NICs), services answering (9100/631/515:
 * printer), an initial TTL of 255 (network device). Unknown otherwise.
 *
 * Services: the TCP/UDP ports an IP answered on: the resp_p of conn records
 * whose responder sent a SYN/ACK (TCP) or any packet back (UDP, ports below
 * 49152), at most PT_DEV_SERVICES per entry (more counted).
 *
 * Bounds: cfg.capacity entries of sizeof(struct pt_device) (about 860
 * bytes) each, allocated at create; full: the least recently seen entry is
 * dropped (enrich.devices.evicted). Single thread: the record thread owns
 * the table; no allocation, syscall, lock or log after create.
 *
 * Persistence: entries changed since the last save are handed out in
 * batches (pt_devices_save_due(), pt_devices_take_changed()) for
 * pt_store_hosts_put(); at start, pt_devices_restore() puts back what the
 * store kept. */
#ifndef PT_DEVICES_H
#define PT_DEVICES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pt/app.h"
#include "pt/enrich.h"
#include "pt/flow.h"

#define PT_DEV_NAMES      4   /* hostnames kept per entry */
#define PT_DEV_NAME_MAX   128 /* bytes of a hostname kept, NUL included */
#define PT_DEV_SERVICES   16  /* services kept per IP */
#define PT_DEV_VENDOR_MAX 64  /* bytes of the OUI vendor and DHCP vendor class kept */
#define PT_DEV_DEFAULT    16384

enum pt_dev_kind {
    PT_DEV_MAC = 1,
    PT_DEV_IP = 2,
};

enum pt_dev_name_src {
    PT_DEV_SRC_DHCP = 1,  /* DHCP option 12 (host name) */
    PT_DEV_SRC_DHCP_FQDN, /* DHCP option 81 (client FQDN) */
    PT_DEV_SRC_DNS_PTR,   /* a PTR answer for the address's reverse name */
    PT_DEV_SRC_MDNS,      /* an mDNS (UDP 5353) A/AAAA or PTR answer */
    PT_DEV_SRC_NBNS,      /* a NetBIOS name service registration (UDP 137, opcode 5) */
    PT_DEV_SRC_MAX
};

/* "dhcp", "dhcp_fqdn", "dns_ptr", "mdns", "nbns"; "unknown". Static. */
const char *pt_dev_name_src_name(unsigned src);

enum pt_dev_os {
    PT_DEV_OS_UNKNOWN = 0,
    PT_DEV_OS_LINUX,   /* Linux, Android */
    PT_DEV_OS_WINDOWS, /* Windows */
    PT_DEV_OS_APPLE,   /* macOS, iOS (FreeBSD answers the same, see docs) */
    PT_DEV_OS_BSD,     /* OpenBSD and older BSD stacks */
    PT_DEV_OS_UNIX,    /* initial TTL 64, window matches none of the above */
    PT_DEV_OS_NETWORK, /* initial TTL 255: router, switch, firewall OS (Cisco IOS, ...) */
    PT_DEV_OS_MAX
};

/* "unknown", "Linux", "Windows", "macOS/iOS", "BSD", "Unix-like",
 * "network OS". Static. */
const char *pt_dev_os_name(unsigned os);

enum pt_dev_type {
    PT_DEV_TYPE_UNKNOWN = 0,
    PT_DEV_TYPE_COMPUTER,
    PT_DEV_TYPE_PHONE, /* smartphone or tablet */
    PT_DEV_TYPE_PRINTER,
    PT_DEV_TYPE_NETWORK, /* router, switch, access point, firewall */
    PT_DEV_TYPE_VOIP,    /* IP phone */
    PT_DEV_TYPE_CAMERA,
    PT_DEV_TYPE_EMBEDDED, /* small Linux box: BusyBox udhcpc, Raspberry Pi, ... */
    PT_DEV_TYPE_VM,       /* virtual NIC */
    PT_DEV_TYPE_MAX
};

/* "unknown", "computer", "phone", "printer", "network", "voip", "camera",
 * "embedded", "vm". Static. */
const char *pt_dev_type_name(unsigned type);

/* Where the type came from, weakest first: a stronger source replaces a
 * weaker one, never the reverse. */
enum pt_dev_type_src {
    PT_DEV_TSRC_NONE = 0,
    PT_DEV_TSRC_OS,      /* initial TTL 255 */
    PT_DEV_TSRC_SERVICE, /* a port that only that kind of device answers on */
    PT_DEV_TSRC_OUI,     /* the vendor makes only that kind of device */
    PT_DEV_TSRC_DHCP,    /* the DHCP vendor class */
    PT_DEV_TSRC_MAX
};

/* "", "os", "service", "oui", "dhcp". Static. */
const char *pt_dev_type_src_name(unsigned src);

struct pt_dev_name {
    uint64_t last_ns; /* last time a message gave it */
    uint8_t src;      /* enum pt_dev_name_src */
    uint8_t len;      /* bytes before the NUL */
    char name[PT_DEV_NAME_MAX];
};

struct pt_dev_service {
    uint16_t port;
    uint8_t proto; /* 6 or 17 */
    uint8_t pad;
    uint32_t conns; /* conn records seen answered (saturates) */
};

/* pt_device.flags */
#define PT_DEV_F_BOUND  0x01 /* bound_* is set (an IP for a MAC entry, a MAC for an IP entry) */
#define PT_DEV_F_OS     0x02 /* os_* fields are set */
#define PT_DEV_F_OS_SYN 0x04 /* ... from a SYN (else from a SYN/ACK) */

/* One entry, a self-contained copy (no pointers). Strings are
 * NUL-terminated byte strings from the wire (not necessarily UTF-8). */
struct pt_device {
    uint8_t kind;     /* enum pt_dev_kind */
    uint8_t flags;    /* PT_DEV_F_* */
    uint8_t oui_kind; /* MAC: enum pt_oui_kind */
    uint8_t type;     /* enum pt_dev_type */
    uint8_t type_src; /* enum pt_dev_type_src */
    uint8_t os;       /* enum pt_dev_os */
    uint8_t n_names, n_services;
    uint8_t addr[16];  /* MAC: the 6 bytes then zeros; IP: IPv4 as ::ffff:a.b.c.d */
    uint8_t bound[16]; /* MAC entry: last IP bound to it; IP entry: its MAC (6 bytes) */
    uint64_t first_ns, last_ns;
    /* OS evidence: the SYN (or SYN/ACK) the guess was made from */
    uint8_t os_ttl;   /* initial TTL (32, 64, 128, 255) */
    uint8_t os_hops;  /* initial TTL - TTL seen */
    int8_t os_wscale; /* -1 = no option */
    uint8_t pad;
    uint16_t os_mss; /* 0 = no option */
    uint16_t os_win;
    char vendor[PT_DEV_VENDOR_MAX];      /* MAC: OUI organisation name, "" unknown */
    char dhcp_vendor[PT_DEV_VENDOR_MAX]; /* MAC: DHCP option 60, "" when never seen */
    struct pt_dev_name names[PT_DEV_NAMES];
    struct pt_dev_service services[PT_DEV_SERVICES];
};

struct pt_devices_config {
    uint32_t capacity; /* entries, 4..2^24; 0 = PT_DEV_DEFAULT */
    bool all_addrs;    /* track every unicast IP, not only the local ones (above) */
};

enum pt_devices_stat {
    PT_DEV_ST_EVICTED = 0,   /* enrich.devices.evicted: full, least recently seen dropped */
    PT_DEV_ST_NAMES_FULL,    /* enrich.devices.names_replaced: a name list was full */
    PT_DEV_ST_SERVICES_FULL, /* enrich.devices.services_full: a new service not kept */
    PT_DEV_ST_NAME_TRUNC,    /* enrich.devices.name_truncated: cut to PT_DEV_NAME_MAX - 1 */
    PT_DEV_ST_OS_GUESSES,    /* enrich.devices.os_guesses: SYNs classified */
    PT_DEV_ST_SKIPPED,       /* enrich.devices.skipped_addr: external/multicast/... not tracked */
    PT_DEV_ST_BAD_NAME,      /* enrich.devices.bad_name: PTR/NBNS name not decodable */
    PT_DEV_ST_MAX
};

/* Stable dotted name of counter @st. Static string. */
const char *pt_devices_stat_name(unsigned st);

struct pt_devices; /* opaque */

/* A table per @cfg (NULL: defaults). @oui (borrowed, may be NULL: vendors
 * unknown) names the MAC vendors. NULL with *@err = -EINVAL or -ENOMEM.
 * Thread: the owner (record thread), at start. */
struct pt_devices *pt_devices_create(const struct pt_devices_config *cfg, const struct pt_oui *oui,
                                     int *err);
void pt_devices_destroy(struct pt_devices *t);

/* ---- feeding (thread: the owner) ---- */

/* A finished (or live) conn record: both ends' last seen, the Ethernet
 * endpoints as MAC entries, the OS guess of the originator from its SYN
 * (when the record saw it: history starts with 'S' and health.tcp_seen[0])
 * and of the responder from its SYN/ACK ('h' in history), and the
 * responder's service. */
void pt_devices_conn(struct pt_devices *t, const struct pt_flow_record *r);

/* One DHCP message seen at @ts_ns (the record thread's struct pt_app_dhcp,
 * before aggregation: the vendor class is only in the message). Client
 * messages (op 1) give the chaddr's MAC entry its host name, client FQDN
 * and vendor class; a server's ACK binds yiaddr <-> chaddr (and client
 * messages with ciaddr bind that). */
void pt_devices_dhcp(struct pt_devices *t, const struct pt_app_dhcp *d, uint64_t ts_ns);

/* A DNS transaction of the flow @c (for its ports: 5353 is mDNS, 137
 * NetBIOS) seen at @ts_ns: PTR answers for in-addr.arpa / ip6.arpa names
 * name that address (source dns_ptr, or mdns on 5353); mDNS A/AAAA answers
 * name their addresses (d->addr[] under d->txn.query, when it ends in
 * ".local"); a NetBIOS registration (opcode 5) names its sender, the
 * first-level encoded name decoded (RFC 1001 14.1). Other DNS is ignored:
 * what a client looked up says nothing about the client. */
void pt_devices_dns(struct pt_devices *t, const struct pt_app_conn *c, const struct pt_app_dns *d,
                    uint64_t ts_ns);

/* One ARP packet seen at @ts_ns: the sender binding spa <-> sha (not from
 * probes with spa 0.0.0.0, nor multicast/zero sender MACs). */
void pt_devices_arp(struct pt_devices *t, const struct pt_arp *a, uint64_t ts_ns);

/* ---- reading (thread: the owner) ---- */

/* Copy the entry of @kind and @addr (6 bytes for a MAC, 16 for an IP) into
 * @out; false when absent. Does not change recency. */
bool pt_devices_get(const struct pt_devices *t, unsigned kind, const uint8_t *addr,
                    struct pt_device *out);

/* Entries in use. */
uint32_t pt_devices_count(const struct pt_devices *t);

/* Iterate: *@cursor = 0 first; copies the next entry into @out, false at the
 * end. Order unspecified. */
bool pt_devices_next(const struct pt_devices *t, uint32_t *cursor, struct pt_device *out);

/* Counters (PT_DEV_ST_MAX): borrowed until destroy, PT_CNT_* written. */
const uint64_t *pt_devices_stats(const struct pt_devices *t);

/* ---- persistence (thread: the owner) ---- */

/* Whether a save is due at record time @now_ns: some entry changed since
 * the last save, and the last save is at least 1 s of record time ago (or
 * @force: the end of a run). When true the save counts as started at
 * @now_ns: take the changed entries now, until none is left. */
bool pt_devices_save_due(struct pt_devices *t, uint64_t now_ns, bool force);

/* Copy up to @max changed entries into @out and mark them saved; returns
 * how many (0: none left). */
size_t pt_devices_take_changed(struct pt_devices *t, struct pt_device *out, size_t max);

/* Put back an entry read from the store (at start, before feeding): it
 * is not marked changed. An entry of that key already present is replaced.
 * The table's bound applies (the least recently seen goes): restore the
 * oldest first. 0, or -EINVAL for a bad kind. */
int pt_devices_restore(struct pt_devices *t, const struct pt_device *d);

/* ---- pure helpers (thread: any) ---- */

/* The OS class of a SYN (@syn true) or SYN/ACK with TTL @ttl, window @win,
 * MSS @mss (0 = none) and window scale @wscale (-1 = none); *@init_ttl gets
 * the initial TTL (may be NULL). docs/APP.md "OS guess" has the table. */
enum pt_dev_os pt_dev_os_guess(bool syn, uint8_t ttl, uint16_t win, uint16_t mss, int wscale,
                               uint8_t *init_ttl);

/* The device type a DHCP vendor class (option 60, @len bytes) implies, or
 * PT_DEV_TYPE_UNKNOWN. */
enum pt_dev_type pt_dev_type_from_dhcp_vendor(const char *vc, size_t len);

/* The device type an OUI organisation name implies, or PT_DEV_TYPE_UNKNOWN. */
enum pt_dev_type pt_dev_type_from_vendor(const char *org);

/* Decode a NetBIOS first-level encoded name (32 letters 'A'..'P', RFC 1001
 * 14.1; the scope after a dot ignored) into @out (16 bytes max: the name
 * with its trailing spaces and suffix byte dropped, NUL-terminated); false
 * when @enc is not one. */
bool pt_dev_nbns_decode(const char *enc, size_t len, char out[16], uint8_t *suffix);

/* Parse a reverse-lookup name ("4.3.2.1.in-addr.arpa", the 32 nibbles of
 * "….ip6.arpa", trailing dot allowed, any case) into @addr (IPv4 as
 * ::ffff:a.b.c.d); false when @name is not a complete one. */
bool pt_dev_reverse_parse(const char *name, size_t len, uint8_t addr[16]);

#endif
