/* test_hash.c - symmetric keys and Toeplitz hash, property tests. */
#include <criterion/criterion.h>
#include <string.h>

#include "flow/flow_helpers.h"

static uint64_t rng_state = 0x243f6a8885a308d3ull;

static uint32_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}

static void rnd_addr(uint8_t a[16], bool is_v4)
{
    for (int i = 0; i < 16; i++)
        a[i] = (uint8_t)rnd();
    if (is_v4) {
        memset(a, 0, 10);
        a[10] = a[11] = 0xff;
    }
}

/* Bit-by-bit Toeplitz with the 0x6d5a key, as a NIC computes it. */
static uint32_t toeplitz_ref(const uint8_t *in, size_t n)
{
    uint32_t h = 0;
    uint64_t win = 0x6d5a6d5a6d5a6d5aull; /* window = top 32 bits */
    for (size_t i = 0; i < n; i++) {
        for (int b = 7; b >= 0; b--) {
            if (in[i] & (1u << b))
                h ^= (uint32_t)(win >> 32);
            win = (win << 1) | (win >> 63); /* the key repeats every 16 bits */
        }
    }
    return h;
}

Test(flow_hash, both_directions_equal_100k)
{
    for (int i = 0; i < 120000; i++) {
        bool is_v4 = i % 2;
        uint8_t proto = (i % 3 == 0) ? 17 : 6;
        uint8_t s[16], d[16];
        uint16_t sp = (uint16_t)rnd(), dp = (uint16_t)rnd();
        struct pt_l3 a, b;
        struct pt_flow_key ka, kb;
        bool swa, swb;

        rnd_addr(s, is_v4);
        if (i % 17 == 0)
            memcpy(d, s, 16); /* same host both ends: ports decide */
        else
            rnd_addr(d, is_v4);
        memset(&a, 0, sizeof a);
        memcpy(a.src, s, 16);
        memcpy(a.dst, d, 16);
        a.ver = is_v4 ? 4 : 6;
        a.proto = proto;
        a.flags = PT_L3_L4;
        a.sport = sp;
        a.dport = dp;
        a.n_vlan = (uint8_t)(i % 3);
        a.vlan[0] = (uint16_t)(rnd() & 0xfff);
        a.vlan[1] = (uint16_t)(rnd() & 0xfff);
        b = a;
        memcpy(b.src, d, 16);
        memcpy(b.dst, s, 16);
        b.sport = dp;
        b.dport = sp;

        cr_assert(pt_flow_key_make(&ka, &a, &swa));
        cr_assert(pt_flow_key_make(&kb, &b, &swb));
        cr_assert_eq(memcmp(&ka, &kb, sizeof ka), 0, "keys differ at %d", i);
        if (memcmp(s, d, 16) != 0 || sp != dp)
            cr_assert_neq(swa, swb);
        cr_assert_eq(pt_flow_hash(&ka), pt_flow_hash(&kb));
        cr_assert_eq(pt_flow_hash_tuple(s, d, sp, dp, proto),
                     pt_flow_hash_tuple(d, s, dp, sp, proto));
        if (a.n_vlan == 0) /* the key hash is the raw tuple's RSS hash */
            cr_assert_eq(pt_flow_hash(&ka), pt_flow_hash_tuple(s, d, sp, dp, proto));
    }
}

Test(flow_hash, matches_bitwise_toeplitz)
{
    for (int i = 0; i < 2000; i++) {
        uint8_t s[16], d[16], in[40];
        uint16_t sp = (uint16_t)rnd(), dp = (uint16_t)rnd();
        bool is_v4 = i % 2;
        rnd_addr(s, is_v4);
        rnd_addr(d, is_v4);
        memcpy(in, s, 16);
        memcpy(in + 16, d, 16);
        in[32] = (uint8_t)(sp >> 8), in[33] = (uint8_t)sp;
        in[34] = (uint8_t)(dp >> 8), in[35] = (uint8_t)dp;
        in[36] = 6, in[37] = is_v4 ? 4 : 6;
        in[38] = in[39] = 0xff; /* vlan none ^ vlan none folds to 0: two words */
        uint8_t full[42];
        memcpy(full, in, 40);
        full[40] = full[41] = 0xff;
        cr_assert_eq(pt_flow_hash_tuple(s, d, sp, dp, 6), toeplitz_ref(full, 42));
    }
}

Test(flow_hash, icmp_echo_pairs)
{
    struct pt_l3 req, rep;
    struct pt_flow_key kq, kp;
    bool sw;

    memset(&req, 0, sizeof req);
    v4(req.src, 10, 0, 0, 2);
    v4(req.dst, 10, 0, 0, 1);
    req.ver = 4;
    req.proto = 1;
    req.flags = PT_L3_L4;
    req.icmp_type = 8;
    req.icmp_id = 77;
    rep = req;
    memcpy(rep.src, req.dst, 16);
    memcpy(rep.dst, req.src, 16);
    rep.icmp_type = 0;
    cr_assert(pt_flow_key_make(&kq, &req, &sw));
    cr_assert(sw);
    cr_assert(pt_flow_key_make(&kp, &rep, &sw));
    cr_assert(!sw);
    cr_assert_eq(memcmp(&kq, &kp, sizeof kq), 0);
    rep.icmp_id = 78; /* another ping session is another flow */
    cr_assert(pt_flow_key_make(&kp, &rep, &sw));
    cr_assert_neq(memcmp(&kq, &kp, sizeof kq), 0);
}

Test(flow_hash, not_ip_is_refused)
{
    struct pt_l3 l;
    struct pt_flow_key k;
    bool sw;
    memset(&l, 0, sizeof l);
    cr_assert(!pt_flow_key_make(&k, &l, &sw));
}
