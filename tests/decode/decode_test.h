/* decode_test.h - helpers for the decode tests: read one packet of a shared
 * capture into an exactly-sized heap buffer (so ASan flags any read past
 * caplen) and decode it; build synthetic frames. Test-only. */
#ifndef PT_DECODE_TEST_H
#define PT_DECODE_TEST_H

#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <pcap/pcap.h>
#include <stdlib.h>
#include <string.h>

#include "pt/decode.h"
#include "support/support.h"

struct td_frame {
    uint8_t *buf; /* malloc'd, exactly caplen bytes */
    struct pt_pkt p;
};

/* Open @rel under the shared test data. */
static inline pcap_t *td_open(const char *rel)
{
    char eb[PCAP_ERRBUF_SIZE];
    pcap_t *pc =
        pcap_open_offline_with_tstamp_precision(pt_test_data(rel), PCAP_TSTAMP_PRECISION_NANO, eb);

    cr_assert_not_null(pc, "%s: %s", rel, eb);
    return pc;
}

/* Copy packet @h/@data into @f (fresh exact-size buffer) and decode it. */
static inline void td_load(struct td_frame *f, int linktype, const struct pcap_pkthdr *h,
                           const uint8_t *data, struct pt_decode_stats *st)
{
    f->buf = malloc(h->caplen ? h->caplen : 1);
    cr_assert_not_null(f->buf);
    memcpy(f->buf, data, h->caplen);
    memset(&f->p, 0, sizeof f->p);
    f->p.data = f->buf;
    f->p.caplen = h->caplen;
    f->p.wirelen = h->len;
    f->p.linktype = linktype;
    f->p.hw_vlan = PT_VLAN_NONE;
    pt_decode(&f->p, st);
}

/* Decode packet number @n (1-based, as tshark numbers frames) of @rel. */
static inline void td_nth(struct td_frame *f, const char *rel, int n, struct pt_decode_stats *st)
{
    static struct pt_decode_stats scratch;
    pcap_t *pc = td_open(rel);
    struct pcap_pkthdr *h;
    const u_char *data;

    if (!st) {
        pt_decode_stats_init(&scratch);
        st = &scratch;
    }
    for (int i = 1;; i++) {
        cr_assert_eq(pcap_next_ex(pc, &h, &data), 1, "%s has no packet %d", rel, n);
        if (i == n)
            break;
    }
    td_load(f, pcap_datalink(pc), h, data, st);
    pcap_close(pc);
}

/* Decode every packet of @rel into @st (frames freed as they go). Returns
 * the number of packets. */
static inline int td_all(const char *rel, struct pt_decode_stats *st)
{
    pcap_t *pc = td_open(rel);
    struct pcap_pkthdr *h;
    const u_char *data;
    int n = 0;

    while (pcap_next_ex(pc, &h, &data) == 1) {
        struct td_frame f;

        td_load(&f, pcap_datalink(pc), h, data, st);
        free(f.buf);
        n++;
    }
    pcap_close(pc);
    return n;
}

/* Decode a byte array as a frame of @linktype (copied to an exact buffer). */
static inline void td_bytes(struct td_frame *f, int linktype, const uint8_t *b, uint32_t len,
                            struct pt_decode_stats *st)
{
    struct pcap_pkthdr h = {.caplen = len, .len = len};

    td_load(f, linktype, &h, b, st);
}

/* Expect an IPv4 address (stored v4-mapped) or an IPv6 address in text form. */
#define td_assert_addr(a16, text)                                                                  \
    do {                                                                                           \
        uint8_t exp_[16] = {0};                                                                    \
        if (inet_pton(AF_INET, (text), exp_ + 12) == 1) {                                          \
            exp_[10] = exp_[11] = 0xff;                                                            \
        } else {                                                                                   \
            cr_assert_eq(inet_pton(AF_INET6, (text), exp_), 1, "bad literal %s", (text));          \
        }                                                                                          \
        cr_assert_arr_eq((a16), exp_, 16, "address is not %s", (text));                            \
    } while (0)

#endif
