/* streams.h - test-only: the TCP and UDP payloads of a shared capture,
 * grouped by connection and direction, for the application parsers' tests.
 *
 * Each TCP direction is its payload segments in sequence order: a segment
 * whose bytes were all seen before (a retransmission) is dropped, one that
 * overlaps is trimmed to its new bytes, so feeding the segments in order
 * gives the byte stream exactly once. A hole (bytes never captured) is kept
 * as a jump in .off, so a parser test can see it. UDP datagrams are kept in
 * capture order. Direction 0 is the originator: the sender of the first SYN
 * without ACK, else of the first packet. Only the outermost IP layer of each
 * frame is used; frames without TCP/UDP are skipped. Never in the product. */
#ifndef PT_TEST_STREAMS_H
#define PT_TEST_STREAMS_H

#include <stddef.h>
#include <stdint.h>

struct pt_test_seg {
    uint64_t ts_ns;      /* capture time of the frame */
    uint64_t off;        /* TCP: stream offset of data[0] (from the first sequence number
                          * seen in this direction); UDP: 0 */
    uint32_t len;        /* bytes at data (captured payload only) */
    uint32_t frame;      /* 1-based frame number, as tshark numbers them */
    const uint8_t *data; /* owned by the pt_test_conns */
};

struct pt_test_conn {
    uint8_t ver, proto;  /* 4 or 6; 6 = TCP, 17 = UDP */
    uint8_t addr[2][16]; /* [0] originator, [1] responder (IPv4 as ::ffff:a.b.c.d) */
    uint16_t port[2];
    uint16_t vlan;              /* outermost VLAN id, PT_VLAN_NONE when untagged */
    struct pt_test_seg *seg[2]; /* per direction, in stream order (TCP) or capture order */
    size_t n_seg[2];
};

struct pt_test_conns {
    struct pt_test_conn *conn; /* in order of first packet */
    size_t n;
};

/* Load every TCP/UDP connection of @rel (a path under the shared test data).
 * Fails the calling criterion test when the file cannot be read. Free with
 * pt_test_conns_free(). */
void pt_test_conns_load(struct pt_test_conns *c, const char *rel);
void pt_test_conns_free(struct pt_test_conns *c);

/* The connection with responder port @port (and protocol @proto), the
 * @nth (0-based) one of them in order of first packet; NULL if none. */
const struct pt_test_conn *pt_test_conn_find(const struct pt_test_conns *c, uint8_t proto,
                                             uint16_t port, unsigned nth);

/* One direction's stream bytes concatenated (holes skipped), malloc'd;
 * caller frees. *@len gets the length. */
uint8_t *pt_test_conn_bytes(const struct pt_test_conn *k, unsigned dir, size_t *len);

#endif
