/* gen.c - deterministic benchmark capture generator for bench/offline.
 *
 * DESIGN: every byte of the output is a function of the seed (splitmix64; no clock, no
 * environment), so two runs give the same file. Output: classic pcap, nanosecond magic
 * 0xa1b23c4d, LINKTYPE_ETHERNET, snaplen 65535. IPv4 header checksums and TCP/UDP/ICMP
 * checksums are correct.
 *
 * Mixed mode (default): flows are added until there are at least --packets packets and
 * --flows flows. Each flow is a script of packets:
 *   1. TCP (IPv4 45 %, IPv6 10 %): SYN, SYN-ACK, ACK; a request; 0..19 further segments
 *      (80 % server data of 200..1460 bytes, 20 % bare client ACKs); FIN, FIN, ACK.
 *   2. UDP DNS (IPv4 25 %, IPv6 5 %): a well-formed A query and its answer (1..8 A records).
 *   3. UDP bulk (IPv4 10 %): 2..10 datagrams of 64..1400 bytes to port 443, both directions.
 *   4. ICMP echo (5 %): 1..4 request/reply pairs.
 *   15 % of flows carry an 802.1Q tag (VLAN 10..49). Flows start uniformly over 55 s of packet
 *   time; packets follow at RTT-scaled gaps (RTT 1..60 ms), and 20 % of TCP flows are slow
 *   (0.15 to 1.5 s between data segments, shorter when needed to end before 57 s), so thousands
 *   of flows are open at once. All packets are sorted by (time, flow, index) before
 *   writing.
 * Flows-held mode (--flows-held N): N distinct one-packet UDP flows spread over 1 s, for
 *   measuring memory per flow held.
 *
 * Flow i has client 10.h/16 (h = i % 40000) and port 1024 + (k * 40009 + h) % 64000 with
 * k = i / 40000, which is injective for k < 64000, so every flow has its own 5-tuple.
 *
 * usage: gen [--seed S] [--packets P] [--flows F] OUT.pcap
 *        gen [--seed S] --flows-held N OUT.pcap
 * Prints "packets N flows F bytes B" on stdout. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum ftype { F_TCP4, F_TCP6, F_DNS4, F_DNS6, F_UDP4, F_ICMP4 };

struct flow {
    uint8_t type, npk;
    uint16_t vlan; /* 0: untagged */
    uint32_t id;
    uint32_t cseq, sseq; /* TCP next sequence numbers, advanced while writing */
    uint64_t rnd;        /* per-flow random bits */
};

struct ev {
    uint64_t ts; /* ns since the start */
    uint32_t flow;
    uint32_t idx;
};

static uint64_t seed = 0x5eed0f5ca1ab1e11ull;

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Random value for (flow, idx, what): a pure function, so packet content can be rebuilt. */
static uint64_t rnd3(uint64_t flow, uint64_t idx, uint64_t what)
{
    return mix64(seed ^ mix64(flow * 0x9e3779b97f4a7c15ull + (idx << 8) + what));
}

static uint32_t range(uint64_t r, uint32_t lo, uint32_t hi) /* [lo, hi] */
{
    return lo + (uint32_t)(r % (uint64_t)(hi - lo + 1));
}

/* ------------------------------------------------------------------ output */

static FILE *out;
static uint64_t n_written, bytes_written;
static uint8_t payload_src[65536 + 2048];

static void put(const void *p, size_t n)
{
    if (fwrite(p, 1, n, out) != n) {
        perror("gen: write");
        exit(1);
    }
    bytes_written += n;
}

static void write_global_header(void)
{
    struct {
        uint32_t magic;
        uint16_t vmaj, vmin;
        int32_t zone;
        uint32_t sigfigs, snaplen, linktype;
    } h = {0xa1b23c4d, 2, 4, 0, 0, 65535, 1};
    put(&h, sizeof h);
}

static void write_record(uint64_t ts, const uint8_t *pkt, uint32_t len)
{
    uint32_t rh[4] = {(uint32_t)(ts / 1000000000ull), (uint32_t)(ts % 1000000000ull), len, len};
    put(rh, sizeof rh);
    put(pkt, len);
    n_written++;
}

/* ------------------------------------------------------------------ packet building */

static uint32_t sum16(const uint8_t *p, size_t n, uint32_t s)
{
    for (; n > 1; p += 2, n -= 2)
        s += (uint32_t)p[0] << 8 | p[1];
    if (n)
        s += (uint32_t)p[0] << 8;
    return s;
}

static uint16_t fold(uint32_t s)
{
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (uint16_t)~s;
}

static void be16(uint8_t *p, uint16_t v)
{
    p[0] = v >> 8;
    p[1] = v & 0xff;
}

static void be32(uint8_t *p, uint32_t v)
{
    be16(p, v >> 16);
    be16(p + 2, v & 0xffff);
}

struct l3 {
    bool v6;
    uint8_t src[16], dst[16];
};

static void addrs(const struct flow *f, bool c2s, struct l3 *a)
{
    uint32_t h = f->id % 40000, srv = (uint32_t)(f->rnd % 5000);
    uint8_t cl[16] = {0}, sv[16] = {0};

    a->v6 = f->type == F_TCP6 || f->type == F_DNS6;
    if (a->v6) {
        static const uint8_t pc[6] = {0x20, 0x01, 0x0d, 0xb8, 0x00, 0x01};
        static const uint8_t ps[6] = {0x20, 0x01, 0x0d, 0xb8, 0x00, 0x02};
        memcpy(cl, pc, 6);
        memcpy(sv, ps, 6);
        be32(cl + 12, h + 1);
        be32(sv + 12, srv + 1);
    } else {
        be32(cl, 0x0a000000u | (h + 1));
        be32(sv, 0xac100000u | (srv + 1)); /* 172.16/12 */
    }
    memcpy(a->src, c2s ? cl : sv, 16);
    memcpy(a->dst, c2s ? sv : cl, 16);
}

static uint16_t client_port(const struct flow *f)
{
    uint32_t h = f->id % 40000, k = f->id / 40000;
    return (uint16_t)(1024 + (k * 40009u + h) % 64000u);
}

/* Ethernet (+ 802.1Q) + IP header for an L4 segment of @l4len bytes at @buf; returns the
 * offset of the L4 header. */
static size_t put_l2l3(uint8_t *buf, const struct flow *f, const struct l3 *a, bool c2s,
                       uint8_t proto, size_t l4len)
{
    static const uint8_t mc[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01};
    static const uint8_t ms[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x02};
    size_t o = 12;

    memcpy(buf, c2s ? ms : mc, 6);
    memcpy(buf + 6, c2s ? mc : ms, 6);
    if (f->vlan) {
        be16(buf + o, 0x8100);
        be16(buf + o + 2, f->vlan);
        o += 4;
    }
    be16(buf + o, a->v6 ? 0x86dd : 0x0800);
    o += 2;
    if (a->v6) {
        be32(buf + o, 0x60000000u);
        be16(buf + o + 4, (uint16_t)l4len);
        buf[o + 6] = proto;
        buf[o + 7] = 64;
        memcpy(buf + o + 8, a->src, 16);
        memcpy(buf + o + 24, a->dst, 16);
        return o + 40;
    }
    memset(buf + o, 0, 20);
    buf[o] = 0x45;
    be16(buf + o + 2, (uint16_t)(20 + l4len));
    be16(buf + o + 4, (uint16_t)(f->id * 7 + (c2s ? 0 : 1))); /* IP id */
    be16(buf + o + 6, 0x4000);                                /* DF */
    buf[o + 8] = c2s ? 64 : 57;
    buf[o + 9] = proto;
    memcpy(buf + o + 12, a->src, 4);
    memcpy(buf + o + 16, a->dst, 4);
    be16(buf + o + 10, fold(sum16(buf + o, 20, 0)));
    return o + 20;
}

static uint32_t pseudo_sum(const struct l3 *a, uint8_t proto, size_t l4len)
{
    size_t al = a->v6 ? 16 : 4;
    uint32_t s = sum16(a->src, al, 0);

    s = sum16(a->dst, al, s);
    return s + proto + (uint32_t)l4len;
}

/* One packet: direction, TCP flags and payload length for packet @idx of flow @f. */
struct pdesc {
    bool c2s;
    uint8_t flags; /* TCP */
    uint16_t plen;
};

enum { FIN = 1, SYN = 2, PSH = 8, ACK = 16 };

static struct pdesc describe(const struct flow *f, uint32_t i)
{
    struct pdesc d = {true, 0, 0};
    uint64_t r = rnd3(f->id, i, 1);

    switch (f->type) {
    case F_TCP4:
    case F_TCP6:
        if (i == 0) {
            d.flags = SYN;
        } else if (i == 1) {
            d = (struct pdesc){false, SYN | ACK, 0};
        } else if (i == 2 || i == f->npk - 1u) {
            d.flags = ACK;
        } else if (i == f->npk - 3u) {
            d.flags = FIN | ACK;
        } else if (i == f->npk - 2u) {
            d = (struct pdesc){false, FIN | ACK, 0};
        } else if (i == 3) {
            d = (struct pdesc){true, PSH | ACK, (uint16_t)range(r, 100, 600)};
        } else if (r % 10 < 8) {
            d = (struct pdesc){false, ACK, (uint16_t)(r % 3 ? 1460 : range(r >> 8, 200, 1460))};
        } else {
            d.flags = ACK;
        }
        break;
    case F_DNS4:
    case F_DNS6:
        d.c2s = i == 0;
        d.plen = (uint16_t)(i == 0 ? range(r, 30, 80) : range(r, 60, 500));
        break;
    case F_UDP4:
        d.c2s = i % 2 == 0;
        d.plen = (uint16_t)range(r, 64, 1400);
        break;
    case F_ICMP4:
        d.c2s = i % 2 == 0;
        d.plen = (uint16_t)(56 + (f->rnd >> 40) % 200); /* same size in request and reply */
        break;
    }
    return d;
}

/* A well-formed DNS query (@i == 0) or its answer with 1..8 A records at @p; returns the
 * length. The name is h<id>.<domain>.<tld>, so DPI engines see real DNS. */
static uint16_t dns_payload(const struct flow *f, uint32_t i, uint8_t *p)
{
    static const char *const dom[] = {"example", "cdn-provider", "corp", "mail", "telemetry"};
    static const char *const tld[] = {"com", "net", "org"};
    const char *d = dom[(f->rnd >> 20) % 5], *t = tld[(f->rnd >> 24) % 3];
    uint32_t nans = i ? (uint32_t)range(f->rnd >> 28, 1, 8) : 0;
    size_t o = 12, l;

    memset(p, 0, 12);
    be16(p, (uint16_t)(f->rnd >> 4));
    be16(p + 2, i ? 0x8180 : 0x0100);
    be16(p + 4, 1);
    be16(p + 6, (uint16_t)nans);
    l = (size_t)snprintf((char *)p + o + 1, 16, "h%06x", f->id & 0xffffff);
    p[o] = (uint8_t)l;
    o += 1 + l;
    l = strlen(d);
    p[o] = (uint8_t)l;
    memcpy(p + o + 1, d, l);
    o += 1 + l;
    p[o] = 3;
    memcpy(p + o + 1, t, 3);
    o += 4;
    p[o++] = 0;
    be16(p + o, 1); /* A, IN */
    be16(p + o + 2, 1);
    o += 4;
    for (uint32_t k = 0; k < nans; k++, o += 16) {
        be16(p + o, 0xc00c);
        be16(p + o + 2, 1);
        be16(p + o + 4, 1);
        be32(p + o + 6, 300);
        be16(p + o + 10, 4);
        be32(p + o + 12, 0xc6336400u | ((f->id + k) & 0xff)); /* 198.51.100.x */
    }
    return (uint16_t)o;
}

static void emit(struct flow *f, uint32_t i, uint64_t ts)
{
    static uint8_t buf[2048];
    struct pdesc d = describe(f, i);
    struct l3 a;
    const uint8_t *pl = payload_src + rnd3(f->id, i, 2) % 65536;
    bool tcp = f->type == F_TCP4 || f->type == F_TCP6, icmp = f->type == F_ICMP4;
    size_t hl = tcp ? 20 : 8, l4len = hl + d.plen, o;
    uint8_t proto = tcp ? 6 : icmp ? 1 : 17;
    uint8_t *h;
    uint16_t cp = client_port(f), sp;
    uint32_t s;

    addrs(f, d.c2s, &a);
    o = put_l2l3(buf, f, &a, d.c2s, proto, l4len);
    h = buf + o;
    memset(h, 0, hl);
    memcpy(h + hl, pl, d.plen);
    if (f->type == F_DNS4 || f->type == F_DNS6) { /* rebuild with the real DNS length */
        uint8_t dns[512];
        d.plen = dns_payload(f, i, dns);
        l4len = hl + d.plen;
        o = put_l2l3(buf, f, &a, d.c2s, proto, l4len);
        h = buf + o;
        memset(h, 0, hl);
        memcpy(h + hl, dns, d.plen);
    }
    if (tcp) {
        uint32_t *seq = d.c2s ? &f->cseq : &f->sseq, *ack = d.c2s ? &f->sseq : &f->cseq;
        sp = (uint16_t)((f->rnd >> 16) % 4 == 0 ? 80 : 443);
        be16(h, d.c2s ? cp : sp);
        be16(h + 2, d.c2s ? sp : cp);
        be32(h + 4, *seq);
        be32(h + 8, (d.flags & ACK) ? *ack : 0);
        h[12] = 5 << 4;
        h[13] = d.flags;
        be16(h + 14, 64240);
        *seq += d.plen + ((d.flags & (SYN | FIN)) ? 1 : 0);
        s = pseudo_sum(&a, 6, l4len);
        be16(h + 16, fold(sum16(h, l4len, s)));
    } else if (icmp) {
        h[0] = d.c2s ? 8 : 0;
        be16(h + 4, (uint16_t)f->id);
        be16(h + 6, (uint16_t)(i / 2 + 1));
        be16(h + 2, fold(sum16(h, l4len, 0)));
    } else {
        sp = f->type == F_UDP4 ? 443 : 53;
        be16(h, d.c2s ? cp : sp);
        be16(h + 2, d.c2s ? sp : cp);
        be16(h + 4, (uint16_t)l4len);
        s = pseudo_sum(&a, 17, l4len);
        uint16_t c = fold(sum16(h, l4len, s));
        be16(h + 6, c ? c : 0xffff);
    }
    write_record(ts, buf, (uint32_t)(o + l4len));
}

/* ------------------------------------------------------------------ flows and timing */

static void flow_init(struct flow *f, uint32_t id)
{
    uint64_t r = rnd3(id, 0, 0);
    uint32_t t = (uint32_t)(r % 100);

    memset(f, 0, sizeof *f);
    f->id = id;
    f->rnd = rnd3(id, 0, 9);
    f->type = t < 45   ? F_TCP4
              : t < 55 ? F_TCP6
              : t < 80 ? F_DNS4
              : t < 85 ? F_DNS6
              : t < 95 ? F_UDP4
                       : F_ICMP4;
    f->vlan = (r >> 8) % 100 < 15 ? (uint16_t)(10 + (r >> 16) % 40) : 0;
    switch (f->type) {
    case F_TCP4:
    case F_TCP6:
        f->npk = (uint8_t)(7 + (r >> 24) % 20);
        break;
    case F_DNS4:
    case F_DNS6:
        f->npk = 2;
        break;
    case F_UDP4:
        f->npk = (uint8_t)range(r >> 24, 2, 10);
        break;
    case F_ICMP4:
        f->npk = (uint8_t)(2 * range(r >> 24, 1, 4));
        break;
    }
    f->cseq = (uint32_t)(f->rnd >> 32);
    f->sseq = (uint32_t)f->rnd;
}

static int ev_cmp(const void *x, const void *y)
{
    const struct ev *a = x, *b = y;
    if (a->ts != b->ts)
        return a->ts < b->ts ? -1 : 1;
    if (a->flow != b->flow)
        return a->flow < b->flow ? -1 : 1;
    return (a->idx > b->idx) - (a->idx < b->idx);
}

static int mixed(uint64_t want_pk, uint64_t want_flows)
{
    size_t fcap = 1 << 18, ecap = 1 << 22, nf = 0, ne = 0, open = 0, open_max = 0;
    uint64_t open_sum = 0;
    struct flow *fl = malloc(fcap * sizeof *fl);
    struct ev *ev = malloc(ecap * sizeof *ev);

    if (!fl || !ev)
        return -ENOMEM;
    while (ne < want_pk || nf < want_flows) {
        struct flow *f;
        uint64_t t, rtt, smax, r = rnd3(nf, 0, 3);
        bool slow;
        if (nf == fcap && !(fl = realloc(fl, (fcap *= 2) * sizeof *fl)))
            return -ENOMEM;
        f = &fl[nf];
        flow_init(f, (uint32_t)nf);
        rtt = 1000000ull + (r >> 40) % 59000000ull;
        slow = (f->type == F_TCP4 || f->type == F_TCP6) && (r >> 36) % 100 < 20;
        t = r % 55000000000ull;
        /* slow gaps: up to 1.5 s, but the flow must end before 57 s */
        smax = (57000000000ull - t) / f->npk;
        smax = smax < 1500000000ull ? smax : 1500000000ull;
        for (uint32_t i = 0; i < f->npk; i++) {
            uint64_t g = rnd3(nf, i, 4);
            if (ne == ecap && !(ev = realloc(ev, (ecap *= 2) * sizeof *ev)))
                return -ENOMEM;
            if (i > 0) {
                if (slow && i > 3)
                    t += smax / 10 + g % (smax - smax / 10 + 1);
                else
                    t += 1000 + (i < 3 ? rtt / 2 : 0) + g % (rtt / 2 + 1);
            }
            ev[ne++] = (struct ev){t, (uint32_t)nf, i};
        }
        nf++;
    }
    qsort(ev, ne, sizeof *ev, ev_cmp);
    write_global_header();
    for (size_t i = 0; i < ne; i++) {
        const struct flow *f = &fl[ev[i].flow];
        open += ev[i].idx == 0;
        open -= ev[i].idx == f->npk - 1u;
        open_max = open > open_max ? open : open_max;
        open_sum += open;
        emit(&fl[ev[i].flow], ev[i].idx, ev[i].ts);
    }
    printf("packets %llu flows %zu bytes %llu duration_s %.3f open_flows_max %zu open_flows_avg "
           "%.0f\n",
           (unsigned long long)n_written, nf, (unsigned long long)bytes_written,
           ne ? ev[ne - 1].ts / 1e9 : 0.0, open_max, ne ? (double)open_sum / ne : 0.0);
    free(fl);
    free(ev);
    return 0;
}

static int flows_held(uint64_t n)
{
    struct flow f;

    write_global_header();
    for (uint64_t i = 0; i < n; i++) {
        flow_init(&f, (uint32_t)i);
        f.type = F_DNS4;
        f.npk = 1;
        f.vlan = 0;
        emit(&f, 0, i * 1000000000ull / n); /* all within 1 s */
    }
    printf("packets %llu flows %llu bytes %llu\n", (unsigned long long)n_written,
           (unsigned long long)n, (unsigned long long)bytes_written);
    return 0;
}

static bool num_arg(const char *s, uint64_t *v)
{
    char *end;

    errno = 0;
    *v = strtoull(s, &end, 0);
    return !errno && end != s && !*end;
}

int main(int argc, char **argv)
{
    uint64_t pk = 2000000, fl = 200000, held = 0, v;
    const char *path = NULL;
    int rc;

    for (int i = 1; i < argc; i++) {
        if (i + 1 < argc && num_arg(argv[i + 1], &v) &&
            (!strcmp(argv[i], "--seed") || !strcmp(argv[i], "--packets") ||
             !strcmp(argv[i], "--flows") || !strcmp(argv[i], "--flows-held"))) {
            if (!strcmp(argv[i], "--seed"))
                seed = v;
            else if (!strcmp(argv[i], "--packets"))
                pk = v;
            else if (!strcmp(argv[i], "--flows"))
                fl = v;
            else
                held = v;
            i++;
        } else if (argv[i][0] != '-' && !path) {
            path = argv[i];
        } else {
            fprintf(stderr, "usage: gen [--seed S] [--packets P] [--flows F] OUT.pcap\n"
                            "       gen [--seed S] --flows-held N OUT.pcap\n");
            return 2;
        }
    }
    if (!path || held > 40000ull * 64000ull || fl > 40000ull * 64000ull) {
        fprintf(stderr, "gen: need OUT.pcap; at most %llu flows\n", 40000ull * 64000ull);
        return 2;
    }
    if (!(out = fopen(path, "wb"))) {
        perror(path);
        return 1;
    }
    setvbuf(out, NULL, _IOFBF, 1 << 22);
    for (size_t i = 0; i < sizeof payload_src; i++)
        payload_src[i] = (uint8_t)(mix64(seed + i) >> 56);
    rc = held ? flows_held(held) : mixed(pk, fl);
    if (rc < 0) {
        fprintf(stderr, "gen: out of memory\n");
        return 1;
    }
    if (fclose(out) != 0) {
        perror(path);
        return 1;
    }
    return 0;
}
