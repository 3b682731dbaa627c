/* appdns.h - test-only: the DNS transactions of a shared capture as the
 * record thread receives them (struct pt_app_dns with its flow), for the
 * name cache and device table tests. Never in the product. */
#ifndef PT_TEST_APPDNS_H
#define PT_TEST_APPDNS_H

#include <stddef.h>
#include <stdint.h>

#include "pt/app.h"

struct pt_test_dns {
    struct pt_app_conn conn; /* orig/resp as the capture's connection */
    struct pt_app_dns dns;
    uint64_t ts_ns;   /* the transaction's time (its first message) */
    uint64_t done_ns; /* the time of the message that finished it */
    uint32_t frame;   /* frame of that message */
};

/* Run the DNS parser over every UDP message to or from port @port of
 * capture @rel (a path under the shared test data), all connections
 * together in frame order, and return the transactions in the order they
 * finished (unanswered queries at the end, flushed). Each one's addresses
 * are the A/AAAA records of the answer section of the response that
 * completed it, with their TTLs (at most PT_APP_DNS_ADDRS), as the record
 * thread takes them. Caller frees *@out. Fails the calling test when the
 * capture cannot be read. */
void pt_test_dns_load(const char *rel, uint16_t port, struct pt_test_dns **out, size_t *n);

#endif
