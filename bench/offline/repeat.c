/* repeat.c - a large benchmark input with real application payloads, made from a real capture.
 *
 * DESIGN: gen.c's flows carry DNS but random bytes on TCP 80/443, so they never exercise the
 * HTTP and TLS parsers. No public mixed capture of >= 1 M packets is available here, so this
 * tool repeats a small real one (../shared/testdata/pcap/bench/mixed_merged_pcapplusplus.pcap:
 * browsing with DNS, HTTP, TLS over IPv4/IPv6, VLAN) as many times as needed. Every byte of the
 * output is a function of the input and the options (no clock, no randomness).
 *
 *  1. Time. Each copy keeps the input's packet order and its real gaps between consecutive
 *     packets (so RTTs and bursts stay real), except that a gap is clamped to [0, --max-gap]:
 *     the input spans 2010-2021 and is not strictly ordered, which would otherwise put years
 *     between packets. Copy k starts k * --stagger after copy 0, and the copies are merged in
 *     time order (ties: copy, then input order), as if as many hosts browsed side by side
 *     behind one sensor. Played one after the other instead, 1 M packets would span about
 *     three hours of packet time at ~100 packets/s, and the once-a-second work of `read`
 *     (expiry sweep) would weigh ~100x more per packet than on any real link. The default
 *     stagger, 10 s, keeps ~17 copies side by side: with 1 s (all 60 at once) the parser
 *     state pool of `read` (4096 per worker) ran dry, because HTTP connections whose end the
 *     capture does not show hold their state until the 300 s TCP idle timeout, and 16,144 of
 *     the 43,620 flows got detection only; the bench is meant to time the parsers.
 *  2. Addresses. Copy k XORs k into the third octet of every IPv4 address and into byte 10 of
 *     every IPv6 address (outer header, after any 802.1Q/802.1ad tags), so copies are distinct
 *     flows with the same payloads. Copy 0 is the input itself. Private addresses stay private
 *     and public ones stay in their /16, so GeoIP answers are mostly the input's.
 *  3. Checksums. The IPv4 header checksum and the TCP, UDP and ICMPv6 checksums (whose pseudo
 *     header holds the addresses) are updated incrementally (RFC 1624), on the first fragment
 *     only, where the L4 header is; a UDP/IPv4 checksum of 0 (none) stays 0. Anything the tool
 *     does not know (ARP, CDP, tunnels' inner headers, DNS answer addresses) is copied as is.
 *
 * Input: classic pcap, little-endian, microsecond or nanosecond magic; the output keeps the
 * input's magic, snaplen and link type (Ethernet only).
 *
 * usage: repeat [--packets P] [--max-gap-ms G] [--stagger-ms S] IN.pcap OUT.pcap
 *   P: at least this many packets (default 1000000), in whole copies (at most 256 copies).
 *   G: the clamp of a gap between packets (default 1000).
 *   S: the offset between the starts of consecutive copies (default 10000).
 * Prints "packets N copies C bytes B duration_s D" on stdout. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_COPIES 256

struct ev {
    uint64_t ts;   /* ns */
    uint32_t copy; /* ties: copy, then input order */
    uint32_t idx;
};

struct pkt {
    uint64_t rel_ns; /* time since the copy's first packet, after clamping */
    size_t off;      /* of the record's data in the input */
    uint32_t caplen, len;
};

static uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static void wr16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* RFC 1624 eqn. 3: the checksum at @c after a 16-bit word of the summed data went from @old to
 * @new. */
static void csum_fix(uint8_t *c, uint16_t old, uint16_t new)
{
    uint32_t s = (uint16_t)~rd16(c) + (uint32_t)(uint16_t)~old + new;

    s = (s & 0xffff) + (s >> 16);
    s = (s & 0xffff) + (s >> 16);
    wr16(c, (uint16_t)~s);
}

/* XOR @x into the 16-bit word at @w; returns its old value through @old, new through @new. */
static void xor_word(uint8_t *w, uint16_t x, uint16_t *old, uint16_t *new)
{
    *old = rd16(w);
    *new = *old ^ x;
    wr16(w, *new);
}

/* Apply the two word changes of (src, dst) to the L4 checksum at @c if it is inside the frame. */
static void l4_fix(uint8_t *c, const uint8_t *end, const uint16_t o[2], const uint16_t n[2],
                   bool zero_is_none)
{
    if (c + 2 > end || (zero_is_none && rd16(c) == 0))
        return;
    csum_fix(c, o[0], n[0]);
    csum_fix(c, o[1], n[1]);
    if (zero_is_none && rd16(c) == 0) /* UDP sends a computed 0 as 0xffff */
        wr16(c, 0xffff);
}

static void shift_ipv4(uint8_t *ip, const uint8_t *end, unsigned k)
{
    uint16_t o[2], n[2];
    size_t ihl;

    if (ip + 20 > end || ip[0] >> 4 != 4 || (ihl = (size_t)(ip[0] & 15) * 4) < 20)
        return;
    xor_word(ip + 14, (uint16_t)(k << 8), &o[0], &n[0]); /* src octets 3-4 */
    xor_word(ip + 18, (uint16_t)(k << 8), &o[1], &n[1]); /* dst octets 3-4 */
    csum_fix(ip + 10, o[0], n[0]);
    csum_fix(ip + 10, o[1], n[1]);
    if (rd16(ip + 6) & 0x1fff) /* not the first fragment: no L4 header here */
        return;
    if (ip[9] == 6)
        l4_fix(ip + ihl + 16, end, o, n, false);
    else if (ip[9] == 17)
        l4_fix(ip + ihl + 6, end, o, n, true);
}

static void shift_ipv6(uint8_t *ip, const uint8_t *end, unsigned k)
{
    uint16_t o[2], n[2];
    uint8_t nh;
    size_t off = 40;

    if (ip + 40 > end || ip[0] >> 4 != 6)
        return;
    xor_word(ip + 8 + 10, (uint16_t)(k << 8), &o[0], &n[0]);
    xor_word(ip + 24 + 10, (uint16_t)(k << 8), &o[1], &n[1]);
    nh = ip[6];
    /* hop-by-hop, routing, destination options, fragment: skip to the L4 header */
    for (;;) {
        if (nh == 0 || nh == 43 || nh == 60) {
            if (ip + off + 2 > end)
                return;
            nh = ip[off];
            off += ((size_t)ip[off + 1] + 1) * 8;
        } else if (nh == 44) {
            if (ip + off + 8 > end || (rd16(ip + off + 2) & 0xfff8))
                return;
            nh = ip[off];
            off += 8;
        } else {
            break;
        }
    }
    if (nh == 6)
        l4_fix(ip + off + 16, end, o, n, false);
    else if (nh == 17)
        l4_fix(ip + off + 6, end, o, n, false);
    else if (nh == 58)
        l4_fix(ip + off + 2, end, o, n, false);
}

static void shift_frame(uint8_t *f, uint32_t caplen, unsigned k)
{
    const uint8_t *end = f + caplen;
    size_t o = 12;
    uint16_t et;

    if (k == 0 || caplen < 14)
        return;
    et = rd16(f + o);
    while ((et == 0x8100 || et == 0x88a8 || et == 0x9100) && o + 6 <= caplen) {
        o += 4;
        et = rd16(f + o);
    }
    o += 2;
    if (et == 0x0800)
        shift_ipv4(f + o, end, k);
    else if (et == 0x86dd)
        shift_ipv6(f + o, end, k);
}

static uint8_t *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    uint8_t *b = NULL;
    long sz;

    if (!f)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (sz = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (b = malloc((size_t)sz)) && fread(b, 1, (size_t)sz, f) == (size_t)sz) {
        *n = (size_t)sz;
    } else {
        free(b);
        b = NULL;
        if (!errno)
            errno = EIO;
    }
    fclose(f);
    return b;
}

/* Index the input's records and clamp their gaps; returns the number of packets, or 0 with
 * a message on stderr. */
static size_t index_input(const uint8_t *in, size_t n, bool nsec, uint64_t max_gap,
                          struct pkt **out)
{
    size_t cap = 1024, np = 0, o = 24;
    struct pkt *p = malloc(cap * sizeof *p);
    uint64_t prev = 0, rel = 0;

    if (!p)
        return 0;
    while (o + 16 <= n) {
        uint64_t ts =
            (uint64_t)le32(in + o) * 1000000000ull + (uint64_t)le32(in + o + 4) * (nsec ? 1 : 1000);
        uint32_t cl = le32(in + o + 8), len = le32(in + o + 12);
        if (cl > n - o - 16 || cl > 262144) {
            fprintf(stderr, "repeat: record %zu: bad length %u\n", np + 1, cl);
            free(p);
            return 0;
        }
        if (np == cap) {
            struct pkt *q = realloc(p, (cap *= 2) * sizeof *p);
            if (!q) {
                free(p);
                return 0;
            }
            p = q;
        }
        if (np > 0)
            rel += ts <= prev ? 0 : ts - prev > max_gap ? max_gap : ts - prev;
        prev = ts;
        p[np++] = (struct pkt){rel, o + 16, cl, len};
        o += 16 + cl;
    }
    *out = p;
    return np;
}

static int ev_cmp(const void *x, const void *y)
{
    const struct ev *a = x, *b = y;

    if (a->ts != b->ts)
        return a->ts < b->ts ? -1 : 1;
    if (a->copy != b->copy)
        return a->copy < b->copy ? -1 : 1;
    return (a->idx > b->idx) - (a->idx < b->idx);
}

static bool num_arg(const char *s, uint64_t *v)
{
    char *end;

    errno = 0;
    *v = strtoull(s, &end, 10);
    return !errno && end != s && !*end;
}

int main(int argc, char **argv)
{
    uint64_t want = 1000000, gap_ms = 1000, stagger_ms = 10000, v, start, bytes = 24;
    const char *ipath = NULL, *opath = NULL;
    uint8_t *in, buf[262144];
    struct pkt *p;
    struct ev *ev;
    size_t n, np, ne;
    unsigned copies;
    bool nsec;
    FILE *out;

    for (int i = 1; i < argc; i++) {
        if (i + 1 < argc && !strcmp(argv[i], "--packets") && num_arg(argv[i + 1], &v) && v) {
            want = v;
            i++;
        } else if (i + 1 < argc && !strcmp(argv[i], "--max-gap-ms") && num_arg(argv[i + 1], &v) &&
                   v) {
            gap_ms = v;
            i++;
        } else if (i + 1 < argc && !strcmp(argv[i], "--stagger-ms") && num_arg(argv[i + 1], &v)) {
            stagger_ms = v;
            i++;
        } else if (argv[i][0] != '-' && !ipath) {
            ipath = argv[i];
        } else if (argv[i][0] != '-' && !opath) {
            opath = argv[i];
        } else {
            ipath = NULL;
            break;
        }
    }
    if (!ipath || !opath) {
        fprintf(stderr, "usage: repeat [--packets P] [--max-gap-ms G] [--stagger-ms S] IN.pcap "
                        "OUT.pcap\n");
        return 2;
    }
    if (!(in = slurp(ipath, &n))) {
        perror(ipath);
        return 1;
    }
    if (n < 24 || (le32(in) != 0xa1b2c3d4 && le32(in) != 0xa1b23c4d) || le32(in + 20) != 1) {
        fprintf(stderr, "repeat: %s: not a little-endian classic pcap of Ethernet\n", ipath);
        return 1;
    }
    nsec = le32(in) == 0xa1b23c4d;
    if (!(np = index_input(in, n, nsec, gap_ms * 1000000ull, &p))) {
        fprintf(stderr, "repeat: %s: no packets read\n", ipath);
        return 1;
    }
    copies = (unsigned)((want + np - 1) / np);
    if (copies > MAX_COPIES) {
        fprintf(stderr, "repeat: %llu packets need %u copies of %zu, at most %d\n",
                (unsigned long long)want, copies, np, MAX_COPIES);
        return 2;
    }
    start = (uint64_t)le32(in + 24) * 1000000000ull + (uint64_t)le32(in + 28) * (nsec ? 1 : 1000);
    ne = np * copies;
    if (!(ev = malloc(ne * sizeof *ev))) {
        fprintf(stderr, "repeat: out of memory\n");
        return 1;
    }
    for (unsigned k = 0; k < copies; k++)
        for (size_t j = 0; j < np; j++)
            ev[k * np + j] = (struct ev){k * stagger_ms * 1000000ull + p[j].rel_ns, k, (uint32_t)j};
    qsort(ev, ne, sizeof *ev, ev_cmp);
    if (!(out = fopen(opath, "wb"))) {
        perror(opath);
        return 1;
    }
    setvbuf(out, NULL, _IOFBF, 1 << 22);
    fwrite(in, 1, 24, out);
    for (size_t e = 0; e < ne; e++) {
        const struct pkt *q = &p[ev[e].idx];
        uint64_t t = start + ev[e].ts;
        uint32_t rh[4] = {(uint32_t)(t / 1000000000ull),
                          (uint32_t)(t % 1000000000ull / (nsec ? 1 : 1000)), q->caplen, q->len};
        memcpy(buf, in + q->off, q->caplen);
        shift_frame(buf, q->caplen, ev[e].copy);
        fwrite(rh, 1, sizeof rh, out);
        fwrite(buf, 1, q->caplen, out);
        bytes += sizeof rh + q->caplen;
    }
    if (ferror(out) | (fclose(out) != 0)) {
        perror(opath);
        return 1;
    }
    printf("packets %zu copies %u bytes %llu duration_s %.3f\n", ne, copies,
           (unsigned long long)bytes, (double)(ev[ne - 1].ts - ev[0].ts) / 1e9);
    free(ev);
    free(p);
    free(in);
    return 0;
}
