/* internal.h - private to src/enrich: the bounded LRU index that the DNS
 * name cache (names.c) and the device table (devices.c) share. Nothing here
 * is part of the public contract. */
#ifndef PT_ENRICH_INTERNAL_H
#define PT_ENRICH_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#define LRU_NONE    UINT32_MAX
#define LRU_KEY_MAX 17 /* bytes of a key, at most */

/* A fixed set of @cap entry numbers (0..cap-1) keyed by byte strings of
 * klen bytes: an open-addressing index (linear probing, a power of two >=
 * 2 * cap slots, so the load stays <= 1/2; deletion by backward shift, so no
 * tombstones) and a doubly linked list by last use (head = least recently
 * used). The caller keeps the payload in its own array under the same entry
 * numbers. Every array is allocated by lru_init(); nothing afterwards.
 * Single thread. */
struct lru {
    uint32_t cap, n, mask;
    uint32_t head, tail;
    uint32_t klen;
    uint8_t *keys;      /* cap * klen */
    uint32_t *prev;     /* cap */
    uint32_t *next;     /* cap */
    uint32_t *idx;      /* mask + 1 slots of entry numbers, LRU_NONE = empty */
    uint32_t free_head; /* entries never used or removed, linked through next[] */
};

/* 0, -EINVAL (cap 0 or above 2^24, klen 0 or above LRU_KEY_MAX) or -ENOMEM. */
int lru_init(struct lru *l, uint32_t cap, uint32_t klen);
void lru_fini(struct lru *l);

/* The entry holding @key, or LRU_NONE. */
uint32_t lru_find(const struct lru *l, const void *key);

/* Make @e the most recently used. */
void lru_touch(struct lru *l, uint32_t e);

/* Add @key (not present) as the most recently used entry and return its
 * number. When all cap entries are in use, the least recently used one is
 * dropped first and its number reused: *@evicted is then true (the caller
 * counts it and overwrites the payload), else false. */
uint32_t lru_insert(struct lru *l, const void *key, bool *evicted);

/* Drop entry @e (in use); its number becomes free. */
void lru_remove(struct lru *l, uint32_t e);

/* The key of entry @e. */
static inline const uint8_t *lru_key(const struct lru *l, uint32_t e)
{
    return l->keys + (uint64_t)e * l->klen;
}

#endif
