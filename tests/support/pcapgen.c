/* pcapgen.c - see pcapgen.h. */
#include "support/pcapgen.h"

#include <string.h>

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static uint16_t ip_csum(const uint8_t *h, size_t n)
{
    uint32_t s = 0;
    for (size_t i = 0; i < n; i += 2)
        s += (uint32_t)(h[i] << 8 | h[i + 1]);
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (uint16_t)~s;
}

FILE *pt_gen_open(const char *path)
{
    uint32_t hdr[6] = {0xa1b23c4d, 0x00040002, 0, 0, 65535, 1};
    FILE *f = fopen(path, "wb");

    if (!f)
        return NULL;
    if (fwrite(hdr, sizeof hdr, 1, f) != 1) {
        fclose(f);
        return NULL;
    }
    return f;
}

static void gen_frame(FILE *f, uint64_t ts_ns, uint32_t saddr, uint32_t daddr, uint16_t sport,
                      uint16_t dport, uint16_t vlan, const uint8_t *data, uint16_t payload);

void pt_gen_udp(FILE *f, uint64_t ts_ns, uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport,
                uint16_t vlan, uint16_t payload)
{
    gen_frame(f, ts_ns, 0x0a000000u | (src & 0xffffff), 0x0ac80000u | (dst & 0xffff), sport, dport,
              vlan, NULL, payload);
}

void pt_gen_udp4(FILE *f, uint64_t ts_ns, uint32_t saddr, uint32_t daddr, uint16_t sport,
                 uint16_t dport, const uint8_t *data, uint16_t len)
{
    gen_frame(f, ts_ns, saddr, daddr, sport, dport, 0xffff, data, len);
}

static void gen_frame(FILE *f, uint64_t ts_ns, uint32_t saddr, uint32_t daddr, uint16_t sport,
                      uint16_t dport, uint16_t vlan, const uint8_t *data, uint16_t payload)
{
    uint8_t fr[14 + 4 + 20 + 8 + 1500];
    size_t o = 12;
    uint32_t rh[4];

    if (payload > 1472)
        payload = 1472;
    memset(fr, 0, sizeof fr);
    memcpy(fr, "\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01", 12);
    if (vlan != 0xffff) {
        put16(fr + o, 0x8100);
        put16(fr + o + 2, vlan);
        o += 4;
    }
    put16(fr + o, 0x0800);
    o += 2;
    uint8_t *ip = fr + o;
    ip[0] = 0x45;
    put16(ip + 2, (uint16_t)(20 + 8 + payload));
    ip[8] = 64;
    ip[9] = 17;
    for (int i = 0; i < 4; i++) {
        ip[12 + i] = (uint8_t)(saddr >> (24 - 8 * i));
        ip[16 + i] = (uint8_t)(daddr >> (24 - 8 * i));
    }
    put16(ip + 10, ip_csum(ip, 20));
    uint8_t *udp = ip + 20;
    put16(udp, sport);
    put16(udp + 2, dport);
    put16(udp + 4, (uint16_t)(8 + payload));
    if (data)
        memcpy(udp + 8, data, payload);
    size_t len = o + 20 + 8 + payload;
    rh[0] = (uint32_t)(ts_ns / 1000000000ull);
    rh[1] = (uint32_t)(ts_ns % 1000000000ull);
    rh[2] = rh[3] = (uint32_t)len;
    fwrite(rh, sizeof rh, 1, f);
    fwrite(fr, len, 1, f);
}

uint64_t pt_gen_flows_file(const char *path, uint64_t t0, unsigned seconds, unsigned per_sec)
{
    FILE *f = pt_gen_open(path);
    uint64_t n = 0;

    if (!f)
        return 0;
    for (unsigned s = 0; s < seconds; s++) {
        for (unsigned i = 0; i < per_sec; i++) {
            uint64_t k = (uint64_t)s * per_sec + i;
            uint64_t ts = (t0 + s) * 1000000000ull + (uint64_t)i * (1000000000ull / per_sec);
            pt_gen_udp(f, ts, (uint32_t)(k & 0xffffff), (uint32_t)(k >> 24), 1024 + (k % 50000), 53,
                       k % 10 == 0 ? 100 : 0xffff, (uint16_t)(k % 200));
            n++;
        }
    }
    if (fclose(f) != 0)
        return 0;
    return n;
}
