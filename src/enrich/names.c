/* names.c - the record thread's DNS IP -> name cache, and the GeoIP fill
 * of conn records.
 *
 * DESIGN
 * 1. Storage: the shared LRU index (lru.c) keyed by the 16-byte address,
 *    and beside it one fixed slot per entry: expiry, name length, name.
 *    Everything is allocated at create; learning and looking up only copy.
 * 2. Time is record time. The record thread sees DNS transactions and conn
 *    records in roughly packet order (several workers' queues are merged,
 *    so not exactly); an entry expires at the transaction's time + TTL,
 *    and a lookup compares with the time the caller gives, so the answer
 *    does not depend on how late the record thread runs.
 * 3. Expiry is lazy: a lookup that finds an expired entry drops it. No
 *    sweep is needed for correctness, and the LRU order makes an expired
 *    entry nobody asks for the first to go when room is needed.
 * 4. The TTL clamp: below 60 s a CDN's short TTL would lose the name
 *    before a long flow ends (its conn record is filled as of its first
 *    packet anyway, see pt_names_fill); above 24 h an address may well
 *    have moved to another name. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"
#include "pt/app.h"
#include "pt/enrich.h"

#define NSEC 1000000000ull

struct slot {
    uint64_t expire_ns;
    uint16_t len;
    char name[PT_FQDN_MAX];
};

struct pt_names {
    struct lru lru;
    struct slot *slot;
    uint64_t st[PT_NAMES_ST_MAX];
};

static const char *const stat_names[PT_NAMES_ST_MAX] = {
    [PT_NAMES_ST_LEARNED] = "enrich.dns_cache.learned",
    [PT_NAMES_ST_REPLACED] = "enrich.dns_cache.replaced",
    [PT_NAMES_ST_SKIPPED] = "enrich.dns_cache.skipped",
    [PT_NAMES_ST_EVICTED] = "enrich.dns_cache.evicted",
    [PT_NAMES_ST_EXPIRED] = "enrich.dns_cache.expired",
    [PT_NAMES_ST_LOOKUPS] = "enrich.dns_cache.lookups",
    [PT_NAMES_ST_HITS] = "enrich.dns_cache.hits",
};

const char *pt_names_stat_name(unsigned st)
{
    return st < PT_NAMES_ST_MAX ? stat_names[st] : "enrich.dns_cache.unknown";
}

struct pt_names *pt_names_create(uint32_t capacity, int *err)
{
    struct pt_names *c;
    int rc;

    if (!capacity)
        capacity = PT_NAMES_DEFAULT;
    if (capacity > (1u << 24)) {
        *err = -EINVAL;
        return NULL;
    }
    if (!(c = calloc(1, sizeof *c))) {
        *err = -ENOMEM;
        return NULL;
    }
    if ((rc = lru_init(&c->lru, capacity, 16)) < 0) {
        free(c);
        *err = rc;
        return NULL;
    }
    if (!(c->slot = malloc((size_t)capacity * sizeof *c->slot))) {
        pt_names_destroy(c);
        *err = -ENOMEM;
        return NULL;
    }
    return c;
}

void pt_names_destroy(struct pt_names *c)
{
    if (!c)
        return;
    lru_fini(&c->lru);
    free(c->slot);
    free(c);
}

uint32_t pt_names_count(const struct pt_names *c)
{
    return c->lru.n;
}

const uint64_t *pt_names_stats(const struct pt_names *c)
{
    return c->st;
}

/* Whether @name (length @len) ends with the label "arpa". */
static bool is_arpa(const char *name, size_t len)
{
    while (len && name[len - 1] == '.')
        len--;
    if (len < 4 || strncasecmp(name + len - 4, "arpa", 4) != 0)
        return false;
    return len == 4 || name[len - 5] == '.';
}

static bool addr_zero(const uint8_t a[16])
{
    static const uint8_t v4zero[16] = {[10] = 0xff, [11] = 0xff};
    static const uint8_t zero[16];

    return !memcmp(a, zero, 16) || !memcmp(a, v4zero, 16);
}

unsigned pt_names_learn(struct pt_names *c, const struct pt_app_dns *d, uint64_t ts_ns)
{
    const struct pt_dns_txn *t = &d->txn;
    size_t len = t->has_query ? strnlen(t->query, sizeof t->query - 1) : 0;
    unsigned n = 0, na = d->n_addrs < PT_APP_DNS_ADDRS ? d->n_addrs : PT_APP_DNS_ADDRS;

    if (!na)
        return 0;
    if (!len || t->query_trunc || len >= PT_FQDN_MAX || is_arpa(t->query, len)) {
        PT_CNT_INC(c->st[PT_NAMES_ST_SKIPPED]);
        return 0;
    }
    for (unsigned i = 0; i < na; i++) {
        uint64_t ttl = d->addr_ttl[i];
        uint32_t e;
        bool ev;

        if (addr_zero(d->addr[i]))
            continue;
        if (ttl < PT_NAMES_TTL_MIN_S)
            ttl = PT_NAMES_TTL_MIN_S;
        if (ttl > PT_NAMES_TTL_MAX_S)
            ttl = PT_NAMES_TTL_MAX_S;
        if ((e = lru_find(&c->lru, d->addr[i])) != LRU_NONE) {
            lru_touch(&c->lru, e);
            PT_CNT_INC(c->st[PT_NAMES_ST_REPLACED]);
        } else {
            e = lru_insert(&c->lru, d->addr[i], &ev);
            if (ev)
                PT_CNT_INC(c->st[PT_NAMES_ST_EVICTED]);
        }
        c->slot[e].expire_ns = ts_ns + ttl * NSEC;
        c->slot[e].len = (uint16_t)len;
        memcpy(c->slot[e].name, t->query, len);
        c->slot[e].name[len] = '\0';
        PT_CNT_INC(c->st[PT_NAMES_ST_LEARNED]);
        n++;
    }
    return n;
}

bool pt_names_lookup(struct pt_names *c, const uint8_t addr[16], uint64_t now_ns,
                     char out[PT_FQDN_MAX])
{
    uint32_t e;

    out[0] = '\0';
    PT_CNT_INC(c->st[PT_NAMES_ST_LOOKUPS]);
    if ((e = lru_find(&c->lru, addr)) == LRU_NONE)
        return false;
    if (now_ns >= c->slot[e].expire_ns) { /* DESIGN 3 */
        lru_remove(&c->lru, e);
        PT_CNT_INC(c->st[PT_NAMES_ST_EXPIRED]);
        return false;
    }
    lru_touch(&c->lru, e);
    memcpy(out, c->slot[e].name, (size_t)c->slot[e].len + 1);
    PT_CNT_INC(c->st[PT_NAMES_ST_HITS]);
    return true;
}

void pt_names_fill(struct pt_names *c, struct pt_flow_record *r)
{
    pt_names_lookup(c, r->orig_h, r->ts_ns, r->orig_fqdn);
    pt_names_lookup(c, r->resp_h, r->ts_ns, r->resp_fqdn);
}

/* Country (else registered country) and ASN of one address. */
static int geo_one(const struct pt_geo *g, struct pt_geo_cache *gc, const uint8_t a[16], char cc[3],
                   uint32_t *asn)
{
    struct pt_geo_info gi;
    int rc;

    cc[0] = '\0';
    *asn = 0;
    if (!g || pt_geo_addr_scope(a) != PT_GEO_SCOPE_EXTERNAL)
        return 0;
    rc = pt_geo_lookup(g, gc, a, &gi);
    memcpy(cc, gi.cc[0] ? gi.cc : gi.reg_cc, 3);
    cc[2] = '\0';
    *asn = gi.asn;
    return rc < 0 ? 1 : 0;
}

int pt_geo_fill_record(const struct pt_geo *g, struct pt_geo_cache *gc, struct pt_flow_record *r)
{
    return geo_one(g, gc, r->orig_h, r->orig_cc, &r->orig_asn) +
           geo_one(g, gc, r->resp_h, r->resp_cc, &r->resp_asn);
}
