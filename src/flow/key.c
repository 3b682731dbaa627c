/* key.c - normalised flow keys, the symmetric Toeplitz hash, key hashes.
 *
 * DESIGN
 * 1. A key is direction-free: the (address, port) endpoint that sorts lower
 *    goes first, so both directions build the same bytes. ICMP keys order by
 *    address only and put direction-free values in the port slots: for
 *    request/response types (echo, timestamp, ...) the echo id and the
 *    request type (0x8000 | type), so a request and its reply meet; for
 *    other types (unreachable, time exceeded, ...) type and code, as Zeek.
 * 2. Toeplitz with the key 0x6d5a repeated has period 16 bits: the window
 *    used for input bit i depends only on i mod 16. The hash of any input
 *    made of whole 16-bit words is therefore the hash of the XOR of all its
 *    words, which is why swapping source and destination (addresses, ports)
 *    gives the same value. We compute it from that 16-bit fold with two
 *    256-entry tables. The fold has only 2^16 values, good enough to pick a
 *    shard or an RSS queue but not to index a table of a million flows, so
 *    cds_lfht uses flow_key_hash64(), a multiply-xorshift hash of the
 *    normalised key.
 * 3. uids hash the key with the first packet's time (flow_uid64), so they are
 *    the same whatever the number of workers and whichever worker saw the
 *    first packet. */
#include <string.h>

#include "internal.h"

static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

int flow_icmp_counterpart(uint8_t ver, uint8_t type)
{
    if (ver == 4) {
        switch (type) {
        case 8:
            return 0; /* echo -> echo reply */
        case 0:
            return 8;
        case 13:
            return 14; /* timestamp */
        case 14:
            return 13;
        case 15:
            return 16; /* information */
        case 16:
            return 15;
        case 10:
            return 9; /* router solicitation / advertisement */
        case 9:
            return 10;
        case 17:
            return 18; /* address mask */
        case 18:
            return 17;
        default:
            return -1;
        }
    }
    switch (type) {
    case 128:
        return 129; /* echo */
    case 129:
        return 128;
    case 133:
        return 134; /* router solicitation / advertisement */
    case 134:
        return 133;
    case 135:
        return 136; /* neighbor solicitation / advertisement */
    case 136:
        return 135;
    case 130:
        return 131; /* MLD query / report */
    case 131:
        return 130;
    case 139:
        return 140; /* node information */
    case 140:
        return 139;
    case 144:
        return 145; /* home agent address discovery */
    case 145:
        return 144;
    default:
        return -1;
    }
}

static bool is_icmp(uint8_t ver, uint8_t proto)
{
    return (ver == 4 && proto == 1) || (ver == 6 && proto == 58);
}

static bool has_ports(uint8_t proto)
{
    return proto == 6 || proto == 17 || proto == 132 || proto == 136; /* TCP UDP SCTP UDPLite */
}

bool pt_flow_key_make(struct pt_flow_key *key, const struct pt_l3 *l3, bool *swapped)
{
    uint16_t sp = 0, dp = 0;
    bool icmp = false;
    int c;

    if (l3->ver != 4 && l3->ver != 6)
        return false;
    memset(key, 0, sizeof *key);
    key->ver = l3->ver;
    key->proto = l3->proto;
    key->vlan[0] = l3->n_vlan > 0 ? l3->vlan[0] : PT_VLAN_NONE;
    key->vlan[1] = l3->n_vlan > 1 ? l3->vlan[1] : PT_VLAN_NONE;
    if (l3->flags & PT_L3_L4) {
        if (has_ports(l3->proto)) {
            sp = l3->sport;
            dp = l3->dport;
        } else if (is_icmp(l3->ver, l3->proto)) {
            icmp = true;
            c = flow_icmp_counterpart(l3->ver, l3->icmp_type);
            if (c >= 0) {
                sp = l3->icmp_id;
                dp = 0x8000 | (l3->icmp_type < c ? l3->icmp_type : (uint8_t)c);
            } else {
                sp = l3->icmp_type;
                dp = l3->icmp_code;
            }
        }
    }
    int cmp = memcmp(l3->src, l3->dst, 16);
    bool sw = cmp > 0 || (cmp == 0 && !icmp && sp > dp);
    memcpy(key->addr[0], sw ? l3->dst : l3->src, 16);
    memcpy(key->addr[1], sw ? l3->src : l3->dst, 16);
    if (icmp) {
        key->port[0] = sp;
        key->port[1] = dp;
    } else {
        key->port[0] = sw ? dp : sp;
        key->port[1] = sw ? sp : dp;
    }
    *swapped = sw;
    return true;
}

/* Toeplitz windows: win[j] is the 32-bit key window for bit j (MSB first) of
 * a 16-bit word; t_hi/t_lo fold a word's high/low byte. */
static uint32_t t_hi[256], t_lo[256];

__attribute__((constructor)) static void toeplitz_init(void)
{
    const uint64_t k = 0x6d5a6d5a6d5a6d5aull;
    uint32_t win[16];

    for (unsigned j = 0; j < 16; j++)
        win[j] = (uint32_t)(k >> (32 - j));
    for (unsigned b = 0; b < 256; b++) {
        uint32_t h = 0, l = 0;
        for (unsigned j = 0; j < 8; j++) {
            if (b & (0x80u >> j)) {
                h ^= win[j];
                l ^= win[8 + j];
            }
        }
        t_hi[b] = h;
        t_lo[b] = l;
    }
}

static uint16_t fold16(const uint8_t *p, size_t n, uint16_t acc)
{
    for (size_t i = 0; i + 1 < n; i += 2)
        acc ^= (uint16_t)(p[i] << 8 | p[i + 1]);
    return acc;
}

static uint32_t toeplitz_fold(uint16_t f)
{
    return t_hi[f >> 8] ^ t_lo[f & 0xff];
}

/* The hashed input is: addr, addr, port, port (16-bit big endian),
 * proto << 8 | ver, vlan, vlan. */
uint32_t pt_flow_hash(const struct pt_flow_key *key)
{
    uint16_t f = fold16(key->addr[0], 32, 0);
    f ^= key->port[0] ^ key->port[1];
    f ^= (uint16_t)(key->proto << 8 | key->ver);
    f ^= key->vlan[0] ^ key->vlan[1];
    return toeplitz_fold(f);
}

uint32_t pt_flow_hash_tuple(const uint8_t src[16], const uint8_t dst[16], uint16_t sport,
                            uint16_t dport, uint8_t proto)
{
    uint8_t ver = memcmp(src, v4mapped, 12) == 0 && memcmp(dst, v4mapped, 12) == 0 ? 4 : 6;
    uint16_t f = fold16(src, 16, 0);
    f = fold16(dst, 16, f);
    f ^= sport ^ dport;
    f ^= (uint16_t)(proto << 8 | ver);
    f ^= PT_VLAN_NONE ^ PT_VLAN_NONE;
    return toeplitz_fold(f);
}

static inline uint64_t mix64(uint64_t x)
{
    x ^= x >> 32;
    x *= 0xd6e8feb86659fd93ull;
    x ^= x >> 32;
    x *= 0xd6e8feb86659fd93ull;
    x ^= x >> 32;
    return x;
}

/* 64-bit hash of the normalised key (symmetric, as the key is): three
 * independent 64x64->128 multiplies of key words with fixed odd constants,
 * folded (hi ^ lo) and finished with mix64. A third of the time of a
 * word-by-word chain of mixes, and every key bit reaches every output bit. */
static inline uint64_t fold_mul(uint64_t a, uint64_t b)
{
    unsigned __int128 m = (unsigned __int128)a * b;
    return (uint64_t)(m >> 64) ^ (uint64_t)m;
}

uint64_t flow_key_hash64(const struct pt_flow_key *key)
{
    uint64_t w[6] = {0};

    _Static_assert(sizeof *key <= sizeof w, "the key fits six words");
    memcpy(w, key, sizeof *key);
    uint64_t h = fold_mul(w[0] ^ 0xa0761d6478bd642full, w[1] ^ 0xe7037ed1a0b428dbull) ^
                 fold_mul(w[2] ^ 0x8ebc6af09c88c6e3ull, w[3] ^ 0x589965cc75374cc3ull) ^
                 fold_mul(w[4] ^ 0x1d8e4e27c47d124full, w[5] ^ 0x9e3779b97f4a7c15ull);
    return mix64(h ^ sizeof *key);
}

uint64_t flow_uid64(const struct pt_flow_key *key, uint64_t first_ns)
{
    uint64_t u = mix64(flow_key_hash64(key) ^ mix64(first_ns + 0x2545f4914f6cdd1dull));
    return u ? u : 1; /* 0 means "no parent" */
}

uint64_t pt_flow_pkt_hash(const struct pt_pkt *p)
{
    for (unsigned i = p->n_l3 < PT_MAX_LAYERS ? p->n_l3 : PT_MAX_LAYERS; i-- > 0;) {
        struct pt_flow_key key;
        bool swapped;

        if (pt_flow_key_make(&key, &p->l3[i], &swapped))
            return flow_key_hash64(&key) | 1;
    }
    return 0;
}
