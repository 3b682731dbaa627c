/* dhcp.h - DHCPv4/BOOTP message parser and Zeek dhcp.log-style exchange
 * aggregation.
 *
 * Two layers:
 * 1. pt_dhcp_parse() reads one BOOTP/DHCP message (a UDP payload, ports
 *    67/68) into a struct pt_dhcp_msg: the fixed BOOTP header and the options
 *    the records need, including those carried in the file/sname fields when
 *    option 52 (overload) says so.
 * 2. struct pt_dhcp_agg joins the messages of one exchange (same xid and
 *    client hardware address) into one struct pt_dhcp_rec whose fields are
 *    Zeek's dhcp.log fields, and hands each finished record to a callback.
 *
 * Both run on the capture worker's hot path: no allocation, no syscall, no
 * lock, no logging, no mutable global. Every read is bounded by the length
 * given; the work per call is linear in that length (parse) or in
 * PT_DHCP_AGG_SLOTS (aggregation). Malformed input is counted in a struct
 * pt_dhcp_stats under a stable dotted name (pt_dhcp_err_name()), never fatal.
 *
 * Strings. Option bytes from the wire are arbitrary (not UTF-8, may contain
 * NUL). They are kept as struct pt_dhcp_str: .len bytes in .s, plus a NUL at
 * .s[len] for convenience; .len, not strlen(), is the length. A value longer
 * than PT_DHCP_STR_MAX is cut there and counted (app.dhcp.string_truncated).
 * Addresses are 4 bytes, network order. */
#ifndef PT_DHCP_H
#define PT_DHCP_H

#include <stdbool.h>
#include <stdint.h>

#define PT_DHCP_STR_MAX   127 /* bytes kept per string option */
#define PT_DHCP_ADDRS_MAX 8   /* routers / DNS servers kept per message */
#define PT_DHCP_PRL_MAX   64  /* parameter request list items kept */
#define PT_DHCP_MIN_LEN   236 /* fixed BOOTP header, without the magic cookie */

/* DHCP message types (option 53). */
enum pt_dhcp_type {
    PT_DHCP_NONE = 0, /* no option 53: plain BOOTP */
    PT_DHCP_DISCOVER = 1,
    PT_DHCP_OFFER,
    PT_DHCP_REQUEST,
    PT_DHCP_DECLINE,
    PT_DHCP_ACK,
    PT_DHCP_NAK,
    PT_DHCP_RELEASE,
    PT_DHCP_INFORM,
    PT_DHCP_FORCERENEW,
    PT_DHCP_LEASEQUERY,
    PT_DHCP_LEASEUNASSIGNED,
    PT_DHCP_LEASEUNKNOWN,
    PT_DHCP_LEASEACTIVE,
    PT_DHCP_BULKLEASEQUERY,
    PT_DHCP_LEASEQUERYDONE,
    PT_DHCP_ACTIVELEASEQUERY,
    PT_DHCP_LEASEQUERYSTATUS,
    PT_DHCP_TLS,
    PT_DHCP_TYPE_MAX
};

/* Zeek's name of message type @t ("DISCOVER", "ACK", ...); NULL when @t is
 * not a known type (0 included): the caller chooses how to print it. */
const char *pt_dhcp_type_name(unsigned t);

/* Malformed or unusual input. Stable names: pt_dhcp_err_name(). Add new
 * reasons at the end; the names, not the numbers, are the API. */
enum pt_dhcp_err {
    PT_DHCP_OK = 0,
    PT_DHCP_E_TRUNC,        /* app.dhcp.truncated: fewer than 236 bytes (not parsed) */
    PT_DHCP_E_BAD_OP,       /* app.dhcp.bad_op: op is neither 1 nor 2 (not parsed) */
    PT_DHCP_E_BAD_HLEN,     /* app.dhcp.bad_hlen: hlen > 16 (chaddr not a MAC) */
    PT_DHCP_E_NO_COOKIE,    /* app.dhcp.no_magic_cookie: BOOTP without DHCP options */
    PT_DHCP_E_OPT_TRUNC,    /* app.dhcp.option_truncated: an option's length runs past
                             * its field; the rest of the field is not read */
    PT_DHCP_E_OPT_BAD_LEN,  /* app.dhcp.option_bad_length: wrong length for its type
                             * (ignored) */
    PT_DHCP_E_NO_END,       /* app.dhcp.no_end_option: a field ends without option 255 */
    PT_DHCP_E_BAD_OVERLOAD, /* app.dhcp.bad_overload: option 52 value not 1..3, or
                             * found inside file/sname (ignored there: no loops) */
    PT_DHCP_E_STR_TRUNC,    /* app.dhcp.string_truncated: > PT_DHCP_STR_MAX bytes */
    PT_DHCP_E_LIST_TRUNC,   /* app.dhcp.list_truncated: more routers/DNS/PRL items than kept */
    PT_DHCP_E_BAD_TYPE,     /* app.dhcp.unknown_msg_type: option 53 outside 1..18 */
    PT_DHCP_E_BAD_FQDN,     /* app.dhcp.bad_fqdn: option 81 wire-format name malformed */
    PT_DHCP_E_AGG_FULL,     /* app.dhcp.agg.table_full: oldest open exchange emitted early */
    PT_DHCP_E_AGG_SPLIT,    /* app.dhcp.agg.split: an exchange reached PT_DHCP_AGG_MAX_UIDS
                             * flows or PT_DHCP_AGG_MAX_TYPES messages and was emitted */
    PT_DHCP_ERR_MAX
};

/* Stable dotted name of @err ("app.dhcp.truncated"). Never NULL. */
const char *pt_dhcp_err_name(unsigned err);

/* Per-worker counters; owned by one thread, written with PT_CNT_* so another
 * thread may read them. */
struct pt_dhcp_stats {
    uint64_t msgs;    /* messages parsed (pt_dhcp_parse() returned true) */
    uint64_t records; /* records emitted by the aggregation */
    uint64_t err[PT_DHCP_ERR_MAX];
};

/* Length-counted wire bytes; see "Strings" above. */
struct pt_dhcp_str {
    uint16_t len;
    char s[PT_DHCP_STR_MAX + 1];
};

/* struct pt_dhcp_msg.has: which options were present. */
#define PT_DHCP_HAS_COOKIE    0x0001 /* magic cookie 99.130.83.99: options were read */
#define PT_DHCP_HAS_TYPE      0x0002 /* 53 */
#define PT_DHCP_HAS_REQ_ADDR  0x0004 /* 50 */
#define PT_DHCP_HAS_LEASE     0x0008 /* 51 */
#define PT_DHCP_HAS_SERVER_ID 0x0010 /* 54 */
#define PT_DHCP_HAS_HOST_NAME 0x0020 /* 12 */
#define PT_DHCP_HAS_DOMAIN    0x0040 /* 15 */
#define PT_DHCP_HAS_MESSAGE   0x0080 /* 56 */
#define PT_DHCP_HAS_VENDOR    0x0100 /* 60 */
#define PT_DHCP_HAS_CLIENT_ID 0x0200 /* 61 */
#define PT_DHCP_HAS_FQDN      0x0400 /* 81 */
#define PT_DHCP_HAS_PRL       0x0800 /* 55 */
#define PT_DHCP_HAS_ROUTERS   0x1000 /* 3 */
#define PT_DHCP_HAS_DNS       0x2000 /* 6 */
#define PT_DHCP_HAS_OVERLOAD  0x4000 /* 52, valid value */
#define PT_DHCP_HAS_MAC       0x8000 /* htype 1 and hlen 6: .mac is chaddr's first 6 bytes */

/* One parsed message. Transient: caller storage (984 bytes), usually on
 * the stack; it holds no pointer into the packet. An option that occurs
 * more than once is concatenated (strings, lists: RFC 3396) or the last one
 * wins (fixed-size values). */
struct pt_dhcp_msg {
    /* BOOTP header */
    uint8_t op; /* 1 BOOTREQUEST (client or relay), 2 BOOTREPLY (server) */
    uint8_t htype, hlen, hops;
    uint32_t xid;
    uint16_t secs, flags;
    uint8_t ciaddr[4], yiaddr[4], siaddr[4], giaddr[4];
    uint8_t chaddr[16]; /* as on the wire, whatever hlen says */
    uint8_t mac[6];     /* chaddr[0..5] when has & PT_DHCP_HAS_MAC */

    /* options */
    uint16_t has;              /* PT_DHCP_HAS_* */
    uint8_t type;              /* option 53 (enum pt_dhcp_type value, or unknown), 0 if absent */
    uint8_t overload;          /* option 52: 1 file, 2 sname, 3 both; 0 if absent/invalid */
    uint8_t requested_addr[4]; /* 50 */
    uint8_t server_id[4];      /* 54 */
    uint32_t lease_time;       /* 51, seconds */
    uint8_t n_routers, n_dns;  /* entries used below */
    uint8_t prl_len;           /* entries used in prl[] */
    uint8_t fqdn_flags;        /* 81: flags byte (0x04 E: name was in DNS wire format) */
    uint8_t routers[PT_DHCP_ADDRS_MAX][4]; /* 3 */
    uint8_t dns[PT_DHCP_ADDRS_MAX][4];     /* 6 */
    uint8_t prl[PT_DHCP_PRL_MAX];          /* 55: parameter request list */
    struct pt_dhcp_str host_name;          /* 12 */
    struct pt_dhcp_str domain;             /* 15 */
    struct pt_dhcp_str message;            /* 56 */
    struct pt_dhcp_str vendor_class;       /* 60 */
    struct pt_dhcp_str client_id;          /* 61: type byte then identifier, raw */
    struct pt_dhcp_str client_fqdn;        /* 81: the name, dotted text (wire format decoded) */

    uint32_t errs; /* bit (1u << enum pt_dhcp_err) for each reason met in this message */
};

/* Parse the BOOTP/DHCP message in @data[0..@len) (a UDP payload; @len is
 * what was captured). Fills @m entirely (zeroing what is absent).
 * Returns true when @m holds a message: at least the 236-byte BOOTP header
 * with op 1 or 2 (anything malformed after that is counted in @st and noted
 * in m->errs, and the fields read so far stay valid). Returns false, counting
 * the reason, when the header is short or op is wrong; @m is then zeroed.
 * Never reads outside @data[0..@len); work is O(@len). @st must not be NULL;
 * each reason is counted at most once per message.
 * Thread: any; the caller owns @m and @st. */
bool pt_dhcp_parse(struct pt_dhcp_msg *m, const uint8_t *data, uint32_t len,
                   struct pt_dhcp_stats *st);

/* ---- Aggregation (Zeek dhcp.log) ----
 *
 * One record per exchange, keyed by (xid, chaddr[0..5]); Zeek keys by xid
 * alone, the MAC keeps two clients that pick the same xid apart. Fields
 * follow Zeek's base/protocols/dhcp/main.zeek, with the message's direction
 * taken from op (1 = client) where Zeek uses its connection direction:
 * - client messages set client_addr (IP source, when not 0.0.0.0 or
 *   255.255.255.255), host_name, client_fqdn, requested_addr, mac (from
 *   option 61 when it is type 1 and 7 bytes long) and client_message;
 * - server messages set server_addr (IP source, when yiaddr != 0),
 *   assigned_addr (yiaddr, when != 0; client_addr too if still unset),
 *   domain, lease_time, server_message, and mac from chaddr if still unset;
 * - every message appends its type to msg_types, its flow id to uids, and
 *   sets duration = its time - the first message's time;
 * - at emission a record without mac takes the client's chaddr.
 * A record is emitted (the callback runs) when:
 *   1. no message came for cfg.idle_ns, or cfg.max_ns passed since the first
 *      (checked on each pt_dhcp_agg_add() and pt_dhcp_agg_expire() call);
 *   2. it reaches PT_DHCP_AGG_MAX_UIDS flows or PT_DHCP_AGG_MAX_TYPES
 *      messages (app.dhcp.agg.split), as Zeek does;
 *   3. a new exchange finds the table full: the one with the oldest first
 *      message goes (app.dhcp.agg.table_full);
 *   4. cfg.close_on_reply is set and the message is an ACK or NAK;
 *   5. pt_dhcp_agg_flush().
 * Zeek's grouping is cfg = PT_DHCP_AGG_ZEEK (5 s idle, 30 s max, no close on
 * reply): its test log keeps a DECLINE that follows the ACK in the same
 * record, so closing on ACK/NAK is an option, off by default. */
#define PT_DHCP_AGG_SLOTS     32 /* open exchanges per aggregator */
#define PT_DHCP_AGG_MAX_UIDS  10 /* Zeek's DHCP::max_uids_per_log_entry */
#define PT_DHCP_AGG_MAX_TYPES 50 /* Zeek's DHCP::max_msg_types_per_log_entry */

/* struct pt_dhcp_rec.has */
#define PT_DHCP_REC_CLIENT_ADDR    0x0001
#define PT_DHCP_REC_SERVER_ADDR    0x0002
#define PT_DHCP_REC_MAC            0x0004
#define PT_DHCP_REC_REQ_ADDR       0x0008
#define PT_DHCP_REC_ASSIGNED       0x0010
#define PT_DHCP_REC_LEASE          0x0020
#define PT_DHCP_REC_HOST_NAME      0x0040
#define PT_DHCP_REC_FQDN           0x0080
#define PT_DHCP_REC_DOMAIN         0x0100
#define PT_DHCP_REC_CLIENT_MSG     0x0200
#define PT_DHCP_REC_SERVER_MSG     0x0400
#define PT_DHCP_REC_CLIENT_CHADDR_ 0x8000 /* internal: client_chaddr below is set */

/* One dhcp.log record (Zeek field names). sizeof is 840 bytes on x86-64
 * (five 130-byte strings, 10 uids, 50 types): bounded by the constants above. */
struct pt_dhcp_rec {
    uint64_t ts_ns;       /* first message */
    uint64_t duration_ns; /* last message - first */
    uint32_t xid;
    uint16_t has; /* PT_DHCP_REC_* */
    uint8_t n_uids, n_types;
    uint64_t uids[PT_DHCP_AGG_MAX_UIDS]; /* the callers' flow ids, a set, in order of first use */
    uint8_t msg_types[PT_DHCP_AGG_MAX_TYPES]; /* option 53 values in message order */
    uint8_t client_addr[4], server_addr[4], requested_addr[4], assigned_addr[4];
    uint8_t mac[6];
    uint8_t client_chaddr[6]; /* internal: a client message's chaddr */
    uint32_t lease_time;      /* seconds */
    struct pt_dhcp_str host_name, client_fqdn, domain, client_message, server_message;
};

/* Called for every finished record. @r is borrowed for the call only. Runs
 * on the thread that called the pt_dhcp_agg_* function; it must not call
 * back into the same aggregator. */
typedef void (*pt_dhcp_emit_fn)(const struct pt_dhcp_rec *r, void *arg);

struct pt_dhcp_agg_config {
    uint64_t idle_ns;    /* emit after this long without a message; 0 = never by idleness */
    uint64_t max_ns;     /* emit this long after the first message; 0 = no limit */
    bool close_on_reply; /* also emit right after an ACK or NAK */
};

#define PT_DHCP_AGG_ZEEK                                                                           \
    ((struct pt_dhcp_agg_config){                                                                  \
        .idle_ns = 5000000000ull, .max_ns = 30000000000ull, .close_on_reply = false})

/* Caller storage, 27384 bytes on x86-64 (PT_DHCP_AGG_SLOTS records of
 * 840): the whole per-worker DHCP state, fixed at compile time. Fields are
 * private. */
struct pt_dhcp_agg {
    struct pt_dhcp_agg_config cfg;
    pt_dhcp_emit_fn emit;
    void *arg;
    struct pt_dhcp_stats *st; /* borrowed */
    uint8_t key_mac[PT_DHCP_AGG_SLOTS][6];
    uint64_t last_ns[PT_DHCP_AGG_SLOTS];
    uint32_t used; /* bit i: slot i open */
    struct pt_dhcp_rec rec[PT_DHCP_AGG_SLOTS];
};

/* Initialise @a (caller storage; nothing to free). @emit gets each finished
 * record with @arg; @st (borrowed for @a's life) counts records and the
 * app.dhcp.agg.* reasons. Thread: the one that will own @a. */
void pt_dhcp_agg_init(struct pt_dhcp_agg *a, const struct pt_dhcp_agg_config *cfg,
                      pt_dhcp_emit_fn emit, void *arg, struct pt_dhcp_stats *st);

/* Add message @m (pt_dhcp_parse() returned true for it) seen at @ts_ns from
 * IPv4 @src to @dst (4 bytes each) on the flow the caller names @flow_id
 * (an opaque id, e.g. the flow's uid handle). First emits the exchanges
 * that timed out by @ts_ns, then joins @m to its exchange; may emit up to
 * PT_DHCP_AGG_SLOTS + 1 records. Times should not go backwards; if they do,
 * nothing times out. O(PT_DHCP_AGG_SLOTS). Thread: @a's owner. */
void pt_dhcp_agg_add(struct pt_dhcp_agg *a, const struct pt_dhcp_msg *m, const uint8_t src[4],
                     const uint8_t dst[4], uint64_t ts_ns, uint64_t flow_id);

/* Emit the exchanges that timed out by @now_ns (call it when time passes
 * without DHCP traffic, e.g. once a second). Thread: @a's owner. */
void pt_dhcp_agg_expire(struct pt_dhcp_agg *a, uint64_t now_ns);

/* Emit every open exchange, oldest first message first (end of input).
 * Thread: @a's owner. */
void pt_dhcp_agg_flush(struct pt_dhcp_agg *a);

#endif
