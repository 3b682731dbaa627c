/* lru.c - the bounded LRU index shared by names.c and devices.c.
 *
 * DESIGN (the arp.c table, with the key generalised to a byte string):
 *  1. Keys live in one array beside the list links, so an entry's payload
 *     stays wherever its owner wants it (names.c keeps 256-byte names,
 *     devices.c kilobyte records) and the probe loop touches only keys.
 *  2. A full set evicts the head of the last-use list: its index slot is
 *     emptied by backward shift (later members of the probe run move into
 *     the hole unless their home lies cyclically between hole and them), so
 *     lookups never degrade however many evictions happen.
 *  3. Free entry numbers (never used, or removed because a name expired)
 *     are a stack through next[], so insertion is O(1) without a scan. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* FNV-1a over the key, then a 64-bit finaliser: keys are short (6..17
 * bytes) and the low bits pick the slot, so they must mix well. */
static uint64_t key_hash(const uint8_t *k, uint32_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;

    for (uint32_t i = 0; i < n; i++)
        h = (h ^ k[i]) * 0x100000001b3ull;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

static uint32_t home(const struct lru *l, const uint8_t *k)
{
    return (uint32_t)key_hash(k, l->klen) & l->mask;
}

int lru_init(struct lru *l, uint32_t cap, uint32_t klen)
{
    uint32_t slots = 2;

    memset(l, 0, sizeof *l);
    if (cap < 1 || cap > (1u << 24) || klen < 1 || klen > LRU_KEY_MAX)
        return -EINVAL;
    while (slots < 2 * cap)
        slots <<= 1;
    l->cap = cap;
    l->klen = klen;
    l->mask = slots - 1;
    l->head = l->tail = LRU_NONE;
    l->keys = calloc(cap, klen);
    l->prev = malloc(cap * sizeof *l->prev);
    l->next = malloc(cap * sizeof *l->next);
    l->idx = malloc(slots * sizeof *l->idx);
    if (!l->keys || !l->prev || !l->next || !l->idx) {
        lru_fini(l);
        return -ENOMEM;
    }
    memset(l->idx, 0xff, slots * sizeof *l->idx);
    for (uint32_t i = 0; i < cap; i++)
        l->next[i] = i + 1 < cap ? i + 1 : LRU_NONE;
    l->free_head = 0;
    return 0;
}

void lru_fini(struct lru *l)
{
    free(l->keys);
    free(l->prev);
    free(l->next);
    free(l->idx);
    memset(l, 0, sizeof *l);
}

/* Index slot holding @k, or the empty slot where it would go. */
static uint32_t find_slot(const struct lru *l, const uint8_t *k)
{
    uint32_t s = home(l, k);

    while (l->idx[s] != LRU_NONE && memcmp(lru_key(l, l->idx[s]), k, l->klen))
        s = (s + 1) & l->mask;
    return s;
}

uint32_t lru_find(const struct lru *l, const void *key)
{
    return l->idx[find_slot(l, key)];
}

static void list_unlink(struct lru *l, uint32_t e)
{
    if (l->prev[e] != LRU_NONE)
        l->next[l->prev[e]] = l->next[e];
    else
        l->head = l->next[e];
    if (l->next[e] != LRU_NONE)
        l->prev[l->next[e]] = l->prev[e];
    else
        l->tail = l->prev[e];
}

static void list_append(struct lru *l, uint32_t e)
{
    l->prev[e] = l->tail;
    l->next[e] = LRU_NONE;
    if (l->tail != LRU_NONE)
        l->next[l->tail] = e;
    else
        l->head = e;
    l->tail = e;
}

void lru_touch(struct lru *l, uint32_t e)
{
    if (l->tail == e)
        return;
    list_unlink(l, e);
    list_append(l, e);
}

/* Empty index slot @s, shifting later members of its probe run back
 * (DESIGN 2). */
static void slot_delete(struct lru *l, uint32_t s)
{
    uint32_t j = s;

    l->idx[s] = LRU_NONE;
    for (;;) {
        uint32_t k;

        j = (j + 1) & l->mask;
        if (l->idx[j] == LRU_NONE)
            return;
        k = home(l, lru_key(l, l->idx[j]));
        if ((s < j) ? (k <= s || k > j) : (k <= s && k > j)) {
            l->idx[s] = l->idx[j];
            l->idx[j] = LRU_NONE;
            s = j;
        }
    }
}

void lru_remove(struct lru *l, uint32_t e)
{
    slot_delete(l, find_slot(l, lru_key(l, e)));
    list_unlink(l, e);
    l->next[e] = l->free_head;
    l->free_head = e;
    l->n--;
}

uint32_t lru_insert(struct lru *l, const void *key, bool *evicted)
{
    uint32_t e;

    *evicted = false;
    if (l->free_head == LRU_NONE) {
        e = l->head;
        lru_remove(l, e);
        *evicted = true;
    }
    e = l->free_head;
    l->free_head = l->next[e];
    memcpy(l->keys + (uint64_t)e * l->klen, key, l->klen);
    l->idx[find_slot(l, key)] = e;
    list_append(l, e);
    l->n++;
    return e;
}
