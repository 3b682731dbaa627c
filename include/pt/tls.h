/* tls.h - TLS handshake parser: SNI, ALPN, versions, cipher, JA3/JA3S/JA4
 * and the leaf certificate, from the first bytes of a TCP connection.
 *
 * One struct pt_tls_state per TLS-looking flow. The caller feeds each
 * direction's TCP payload in stream order (retransmissions removed, overlaps
 * trimmed), segment by segment, with pt_tls_feed(); a hole in a direction is
 * reported with pt_tls_gap(). The parser follows the TLS record layer and the
 * handshake messages inside it, across record and segment boundaries, and
 * stops as soon as it has what the ssl record needs:
 *   - client (dir 0): the first ClientHello;
 *   - server (dir 1): the ServerHello (a HelloRetryRequest is noted and the
 *     real ServerHello awaited), then, when the negotiated version is TLS 1.2
 *     or older, the first certificate of the Certificate message (the leaf;
 *     the rest of the chain is never buffered).
 * A direction also stops at ChangeCipherSpec, application data, a fatal
 * alert (a warning alert is counted and skipped), or anything that looks
 * encrypted or malformed (counted).
 *
 * Memory: the state is fixed-size (sizeof(struct pt_tls_state) is 6256
 * bytes on x86-64, checked by a static assertion in tls.c) and holds one
 * message buffer of PT_TLS_BUF_SIZE bytes shared by both directions: a
 * well-formed handshake never has a ClientHello and a server message in
 * flight at the same time (the server answers a complete ClientHello). If it
 * happens anyway (lost client segment, reordered mirror ports) the direction
 * that already held the buffer gives up its message (counted). Once
 * pt_tls_feed() has returned PT_TLS_DONE or PT_TLS_NOT_TLS the state is
 * finished: the caller may copy out .res (sizeof(struct pt_tls_result) is
 * 2088 bytes) and give the state back to its pool.
 *
 * Work per call is linear in the bytes fed; hashing (MD5 for JA3/JA3S,
 * SHA-256 for JA4, through libcrypto EVP, fetched once per process) runs
 * once when a hello is complete, never per packet. OpenSSL allocates a
 * digest context for that; nothing else allocates, no syscall, no lock, no
 * logging. The fingerprint strings are built on the stack: a call that
 * completes a ClientHello uses about 20 KiB of it. Thread: a state belongs
 * to one thread at a time (the capture worker owning the flow); the stats
 * struct belongs to that worker.
 *
 * Strings from the wire are bytes: each has an explicit length, may hold
 * NUL, and is also NUL-terminated for convenience. Too long = truncated at a
 * whole entry or byte boundary and counted. */
#ifndef PT_TLS_H
#define PT_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pt/common.h"

#define PT_TLS_BUF_SIZE    4096 /* largest ClientHello / ServerHello / leaf certificate kept */
#define PT_TLS_SNI_MAX     256  /* server_name bytes kept + NUL (a DNS name is <= 253) */
#define PT_TLS_ALPN_MAX    128  /* offered ALPN list, wire format */
#define PT_TLS_PROTO_MAX   64   /* chosen ALPN protocol + NUL */
#define PT_TLS_VERS_MAX    8    /* supported_versions kept */
#define PT_TLS_JA3_MAX     512  /* JA3 string kept + NUL (the hash covers the whole string) */
#define PT_TLS_JA3S_MAX    128  /* JA3S string kept + NUL */
#define PT_TLS_DN_MAX      256  /* subject / issuer string + NUL */
#define PT_TLS_SAN_DNS_MAX 256  /* SAN DNS names, length-prefixed list */
#define PT_TLS_SAN_IP_MAX  4    /* SAN IP addresses kept */

/* pt_tls_feed() / pt_tls_gap() results. */
enum pt_tls_status {
    PT_TLS_NEED_MORE = 0, /* feed more of either direction */
    PT_TLS_DONE = 1,      /* both directions finished (with or without results) */
    PT_TLS_NOT_TLS = -1,  /* the first bytes seen are not a TLS record */
};

/* Reasons counted in struct pt_tls_stats.err[]. Stable names:
 * pt_tls_err_name(). Add new ones at the end. */
enum pt_tls_err {
    PT_TLS_E_NONE = 0,      /* app.tls.ok (never counted) */
    PT_TLS_E_NOT_TLS,       /* app.tls.not_tls: first bytes are no TLS record header */
    PT_TLS_E_SSLV2,         /* app.tls.sslv2_hello: SSLv2-format hello (not parsed) */
    PT_TLS_E_RECORD_BAD,    /* app.tls.record.bad_header: bad type/version/length later on */
    PT_TLS_E_HS_UNEXPECTED, /* app.tls.handshake.unexpected: message type out of order
                             * (or encrypted handshake) */
    PT_TLS_E_TOO_BIG,       /* app.tls.handshake.too_big: hello > PT_TLS_BUF_SIZE */
    PT_TLS_E_CH_TRUNC,      /* app.tls.client_hello.truncated: a length inside it lies */
    PT_TLS_E_SH_TRUNC,      /* app.tls.server_hello.truncated */
    PT_TLS_E_EXT_BAD,       /* app.tls.extension.bad_length: an extension's body lies */
    PT_TLS_E_INCOMPLETE,    /* app.tls.handshake.incomplete: a direction gave up its message
                             * to the other one (lost segment, reordering) */
    PT_TLS_E_GAP,           /* app.tls.gap: a hole in a direction before it finished */
    PT_TLS_E_ALERT,         /* app.tls.alert: alert record during the handshake */
    PT_TLS_E_SNI_TRUNC,     /* app.tls.sni.truncated */
    PT_TLS_E_ALPN_TRUNC,    /* app.tls.alpn.truncated */
    PT_TLS_E_VERS_TRUNC,    /* app.tls.supported_versions.truncated */
    PT_TLS_E_JA3_TRUNC,     /* app.tls.ja3.truncated: string cut (hash still whole) */
    PT_TLS_E_HASH,          /* app.tls.hash_unavailable: libcrypto lacks MD5/SHA-256 */
    PT_TLS_E_CERT_BAD,      /* app.tls.cert.bad_der */
    PT_TLS_E_CERT_TOO_BIG,  /* app.tls.cert.too_big: leaf > PT_TLS_BUF_SIZE, skipped */
    PT_TLS_E_CERT_TIME,     /* app.tls.cert.bad_time */
    PT_TLS_E_DN_TRUNC,      /* app.tls.cert.name_truncated */
    PT_TLS_E_SAN_TRUNC,     /* app.tls.cert.san_truncated */
    PT_TLS_E_MAX
};

/* Per-worker TLS counters. Owned by one worker, written with PT_CNT_*, so
 * another thread may read them with PT_CNT_GET. */
struct pt_tls_stats {
    uint64_t client_hellos, server_hellos, certs; /* parsed completely */
    uint64_t err[PT_TLS_E_MAX];
} __attribute__((aligned(PT_CACHELINE)));

/* struct pt_tls_result.flags */
#define PT_TLS_F_CLIENT_HELLO 0x0001 /* client fields and ja3/ja4 valid */
#define PT_TLS_F_SERVER_HELLO 0x0002 /* server fields and ja3s valid */
#define PT_TLS_F_CERT         0x0004 /* .cert valid */
#define PT_TLS_F_HRR          0x0008 /* the server sent a HelloRetryRequest first */
#define PT_TLS_F_SNI          0x0010 /* the ClientHello carried a host_name SNI */
#define PT_TLS_F_ALPN         0x0020 /* the ClientHello carried an ALPN extension */
#define PT_TLS_F_SV           0x0040 /* the ClientHello carried supported_versions */

struct pt_tls_cert {
    char subject[PT_TLS_DN_MAX]; /* RFC 2253 as Zeek's x509.log (OpenSSL XN_FLAG_RFC2253):
                                  * last RDN first, "CN=a,O=b,C=c", specials escaped,
                                  * bytes >= 0x80 and controls as \XX: printable ASCII */
    char issuer[PT_TLS_DN_MAX];
    int64_t not_before, not_after;         /* seconds since the epoch, UTC */
    uint8_t san_dns[PT_TLS_SAN_DNS_MAX];   /* dNSName entries, each a length byte + bytes
                                            * (pt_tls_list_next()) */
    uint16_t san_dns_len;                  /* bytes used in san_dns */
    uint8_t n_san_dns;                     /* entries in san_dns */
    uint8_t n_san_ip;                      /* entries in san_ip */
    uint8_t san_ip[PT_TLS_SAN_IP_MAX][16]; /* iPAddress entries; IPv4 as ::ffff:a.b.c.d */
    bool self_signed;                      /* subject == issuer (DER bytes) */
    bool expired;                          /* ts_ns of the packet completing it > not_after */
};

/* What the parser found. All of it is plain data (no pointers). */
struct pt_tls_result {
    uint16_t flags;                     /* PT_TLS_F_* */
    uint16_t client_version;            /* ClientHello legacy_version (0x0303 = TLS 1.2) */
    uint16_t versions[PT_TLS_VERS_MAX]; /* supported_versions offered, wire order, GREASE kept */
    uint8_t n_versions;
    uint16_t server_version; /* ServerHello legacy_version */
    uint16_t version; /* negotiated: the ServerHello's supported_versions if present, else its
                       * legacy_version; pt_tls_version_name() gives Zeek's "TLSv13" */
    uint16_t cipher;  /* chosen cipher suite; pt_tls_cipher_name() */
    uint16_t sni_len; /* bytes in server_name */
    char server_name[PT_TLS_SNI_MAX]; /* first host_name of the SNI extension */
    uint16_t alpn_len;                /* bytes in alpn */
    uint8_t alpn[PT_TLS_ALPN_MAX];    /* offered protocols, each a length byte + bytes */
    uint16_t next_protocol_len;       /* Zeek's next_protocol: the ALPN the server chose */
    char next_protocol[PT_TLS_PROTO_MAX];
    char ja3[PT_TLS_JA3_MAX];   /* "771,4865-4866,0-23-65281,29-23,0" (GREASE removed) */
    char ja3_md5[33];           /* lower-case hex MD5 of the whole JA3 string */
    char ja3s[PT_TLS_JA3S_MAX]; /* "771,49199,65281-0-11" */
    char ja3s_md5[33];
    char ja4[40];            /* FoxIO JA4 (TCP): "t13d1516h2_8daaf6152771_e5627efa2ab1" */
    struct pt_tls_cert cert; /* leaf certificate (TLS <= 1.2), valid with PT_TLS_F_CERT */
};

/* The parser's own progress for one direction. Private to tls.c. */
struct pt_tls_dir {
    uint8_t rec_hdr[5]; /* record header being collected */
    uint8_t rec_got;    /* bytes of it collected */
    uint8_t hs_hdr[6];  /* handshake header (4) or Certificate list prefix (6) */
    uint8_t hs_got;     /* bytes of it collected */
    uint8_t hs_phase;   /* what the next handshake byte is (tls.c enum hs_phase) */
    uint8_t msg_type;   /* handshake type being read */
    bool in_record;     /* inside a record body */
    bool rec_skip;      /* ... whose bytes are skipped */
    bool started;       /* a first record header was seen */
    bool done;          /* nothing more wanted from this direction */
    bool want_cert;     /* server: TLS <= 1.2 ServerHello seen, Certificate next */
    uint16_t rec_left;  /* body bytes left in the current record */
    uint32_t msg_left;  /* bytes left of the handshake message (or certificate) being read */
};

/* One flow's TLS parser. Caller storage (the lead's per-worker pool). */
struct pt_tls_state {
    struct pt_tls_result res; /* read by the caller once DONE (or any time: fields
                               * are filled as their message completes) */
    /* private */
    struct pt_tls_stats *stats; /* borrowed, the owning worker's */
    struct pt_tls_dir dir[2];
    int8_t buf_owner;  /* direction whose message is in buf, -1 when free */
    bool not_tls;      /* the first record header was not TLS */
    uint16_t buf_len;  /* bytes in buf */
    uint16_t buf_want; /* bytes the buffered message needs */
    uint8_t buf[PT_TLS_BUF_SIZE];
};

/* Initialise @s (caller storage, any contents) for a new flow; counters go
 * to @stats (borrowed until the state is finished or re-initialised).
 * Thread: the caller owns @s. No allocation. */
void pt_tls_init(struct pt_tls_state *s, struct pt_tls_stats *stats);

/* Feed @len bytes of direction @dir (0 = client, 1 = server) that follow the
 * bytes fed before in that direction. @ts_ns is the capture time of the
 * packet carrying them (used only for cert.expired). Reads exactly @len bytes
 * at @data (borrowed for the call; may be NULL when @len is 0); never keeps a
 * pointer to them. Returns PT_TLS_NEED_MORE, PT_TLS_DONE (both directions
 * finished: no more feeding needed; further calls return DONE and read
 * nothing) or PT_TLS_NOT_TLS (the first record header of the first direction
 * fed is not TLS; further calls return NOT_TLS). Malformed input is counted
 * in the stats and ends that direction; never fails otherwise.
 * Thread: the owner of @s. */
enum pt_tls_status pt_tls_feed(struct pt_tls_state *s, unsigned dir, uint64_t ts_ns,
                               const uint8_t *data, size_t len);

/* Report that bytes of direction @dir were never captured between the last
 * fed byte and the next one. A direction still reading a message gives up
 * (counted as app.tls.gap); one already finished is unaffected. Returns the
 * status as pt_tls_feed() would. Thread: the owner of @s. */
enum pt_tls_status pt_tls_gap(struct pt_tls_state *s, unsigned dir);

/* Current status without feeding. Thread: the owner of @s. */
enum pt_tls_status pt_tls_status(const struct pt_tls_state *s);

/* Iterate a length-prefixed list (res.alpn, cert.san_dns): on each call sets
 * *@item and *@item_len to the entry at *@off and advances *@off. Returns false
 * at the end (or on a malformed list). Thread: any. */
bool pt_tls_list_next(const uint8_t *list, size_t list_len, size_t *off, const uint8_t **item,
                      size_t *item_len);

/* Zeek's name of a TLS version ("SSLv3", "TLSv10" .. "TLSv13",
 * "TLSv13-draft18", "DTLSv12", else "unknown-<decimal>") into @out
 * (NUL-terminated). Thread: any. */
void pt_tls_version_name(uint16_t version, char out[24]);

/* IANA/Zeek name of cipher suite @cs ("TLS_AES_128_GCM_SHA256"), or NULL
 * when not in the table (Zeek then writes "unknown-<decimal>"). Static
 * string. Thread: any. */
const char *pt_tls_cipher_name(uint16_t cs);

/* Stable dotted name of @err ("app.tls.client_hello.truncated"). Never NULL. */
const char *pt_tls_err_name(unsigned err);

/* Add @src's counters into @dst. Thread: caller owns @dst. */
void pt_tls_stats_merge(struct pt_tls_stats *dst, const struct pt_tls_stats *src);

/* Parse DER certificate @der (@len bytes, borrowed for the call) into @out:
 * subject, issuer, validity, SANs, self_signed, and expired relative to
 * @now_s (seconds since the epoch). Bounds-checked walk, no allocation.
 * Returns 0, or -EINVAL when the DER is malformed (@out then holds what was
 * read before the fault); name/SAN truncations and bad times are counted in
 * @stats (may be NULL). Thread: any; touches only its arguments. */
int pt_x509_parse(const uint8_t *der, size_t len, int64_t now_s, struct pt_tls_cert *out,
                  struct pt_tls_stats *stats);

#endif
