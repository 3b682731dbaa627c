/* tunnel_frames.h - builders for synthetic tunnel frames (no shared capture
 * carries GRE/ERSPAN/VXLAN/IP-in-IP). Test-only. */
#ifndef PT_TUNNEL_FRAMES_H
#define PT_TUNNEL_FRAMES_H

#include <stdint.h>
#include <string.h>

struct tf {
    uint8_t b[512];
    uint32_t len;
    uint32_t ip_off[8]; /* IP headers to patch with their lengths */
    uint8_t ip_ver[8];
    uint32_t udp_off[4];
    unsigned n_ip, n_udp;
};

static inline uint8_t *tf_put(struct tf *t, const void *src, uint32_t n)
{
    uint8_t *p = t->b + t->len;

    if (src)
        memcpy(p, src, n);
    else
        memset(p, 0, n);
    t->len += n;
    return p;
}

static inline void tf_eth(struct tf *t, uint16_t type)
{
    uint8_t h[14] = {2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, (uint8_t)(type >> 8), (uint8_t)type};

    tf_put(t, h, 14);
}

static inline void tf_vlan(struct tf *t, uint16_t id, uint16_t type)
{
    uint8_t h[4] = {(uint8_t)(id >> 8), (uint8_t)id, (uint8_t)(type >> 8), (uint8_t)type};

    tf_put(t, h, 4);
}

/* IPv4 a.b.c.s -> a.b.c.d with the given last octets of 10.<net>.0.x. */
static inline void tf_ipv4(struct tf *t, uint8_t proto, uint8_t net, uint8_t s, uint8_t d)
{
    uint8_t h[20] = {0x45, 0, 0, 0, 0, 1, 0, 0, 64, proto, 0, 0, 10, net, 0, s, 10, net, 0, d};

    t->ip_ver[t->n_ip] = 4;
    t->ip_off[t->n_ip++] = t->len;
    tf_put(t, h, 20);
}

/* IPv6 fd00::<net>:s -> fd00::<net>:d */
static inline void tf_ipv6(struct tf *t, uint8_t nh, uint8_t net, uint8_t s, uint8_t d)
{
    uint8_t h[40] = {0x60, 0, 0, 0, 0, 0, nh, 64, 0xfd};

    h[24] = 0xfd;
    h[21] = net, h[23] = s;
    h[37] = net, h[39] = d;
    t->ip_ver[t->n_ip] = 6;
    t->ip_off[t->n_ip++] = t->len;
    tf_put(t, h, 40);
}

static inline void tf_udp(struct tf *t, uint16_t sport, uint16_t dport)
{
    uint8_t h[8] = {(uint8_t)(sport >> 8), (uint8_t)sport, (uint8_t)(dport >> 8), (uint8_t)dport};

    t->udp_off[t->n_udp++] = t->len;
    tf_put(t, h, 8);
}

static inline void tf_tcp(struct tf *t, uint16_t sport, uint16_t dport)
{
    uint8_t h[20] = {(uint8_t)(sport >> 8),
                     (uint8_t)sport,
                     (uint8_t)(dport >> 8),
                     (uint8_t)dport,
                     0,
                     0,
                     0,
                     1,
                     0,
                     0,
                     0,
                     0,
                     0x50,
                     0x02,
                     0xff,
                     0xff};

    tf_put(t, h, 20);
}

/* Set every IP total/payload length and UDP length to reach the frame end. */
static inline void tf_done(struct tf *t)
{
    for (unsigned i = 0; i < t->n_ip; i++) {
        uint32_t o = t->ip_off[i], n = t->len - o;
        if (t->ip_ver[i] == 6)
            n -= 40, o += 4;
        else
            o += 2;
        t->b[o] = (uint8_t)(n >> 8);
        t->b[o + 1] = (uint8_t)n;
    }
    for (unsigned i = 0; i < t->n_udp; i++) {
        uint32_t o = t->udp_off[i], n = t->len - o;
        t->b[o + 4] = (uint8_t)(n >> 8);
        t->b[o + 5] = (uint8_t)n;
    }
}

#endif
