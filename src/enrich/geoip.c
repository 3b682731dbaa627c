/* geoip.c - GeoIP/ASN lookups over libmaxminddb, with a per-thread cache.
 *
 * DESIGN
 * 1. Open. Each configured database is opened with MMDB_MODE_MMAP; the
 *    MMDB_s is then only read, and libmaxminddb's lookup calls take it
 *    const, so one handle serves every thread. After MMDB_open accepts a
 *    file, its search tree is walked once: every record must be a node
 *    number, the "empty" marker, or an offset inside the data section.
 *    MMDB_open only checks the metadata and that the tree fits in the file,
 *    so this walk is what turns a broken tree into a clear error at start
 *    rather than a failure on some lookup later. It checks ranges, not
 *    depths: a node number left in a record at the last bit (the fault of
 *    MaxMind-DB-test-broken-search-tree-24) reads as a data offset below the
 *    section and fails when that lookup decodes it. The data section is not
 *    decoded in advance (that would cost seconds on a City database); a
 *    broken pointer there is found by the lookup that follows it.
 * 2. Lookup. Internal scopes never reach the databases. External addresses
 *    go through the calling thread's direct-mapped cache, then
 *    MMDB_lookup_sockaddr (IPv4 as sockaddr_in, which libmaxminddb walks
 *    from its ::a.b.c.d start node in an IPv6 database) and MMDB_aget_value
 *    with NULL-terminated path arrays (MMDB_get_value would calloc the path
 *    on each call). No allocation, syscall or lock.
 * 3. Cache. Every database answer holds for a whole network (the netmask
 *    MMDB_lookup_sockaddr returns), so an answer is kept for the widest
 *    network that lies inside both databases' networks and is one of three
 *    levels: /16, /24 or the full address for IPv4, /32, /48 or the full
 *    address for IPv6. The key is the address cut to that level, with the
 *    level beside it; slot = hash of both & mask. A lookup probes the three
 *    levels; since an address's networks are fixed for one pt_geo, at most
 *    one level can hold it. So one miss answers a whole /24 of a provider
 *    and the slots cover far more addresses than there are slots. Level 0
 *    marks an empty slot.
 *    Each cache remembers the id of the pt_geo it last served and empties
 *    itself when used with another one, so a reload cannot serve stale
 *    answers. Failed (corrupt) answers are not cached. */
#include "pt/enrich.h"

#include <errno.h>
#include <maxminddb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

_Static_assert(sizeof(struct pt_geo_info) == 176, "pt_geo_info size is documented in enrich.h");

struct geo_db {
    MMDB_s mmdb;
    bool open;
    char type[64]; /* metadata database_type, cut to fit */
};

struct pt_geo {
    uint64_t id; /* identifies this handle to the caches */
    struct geo_db loc;
    struct geo_db asn;
};

struct cache_ent {
    uint8_t addr[16]; /* the address cut to @bits */
    uint8_t bits;     /* the level, in bits of the 128-bit form (IPv4: 96 + n); 0 = empty;
                       * beside addr: a probe reads the entry's first bytes only */
    struct pt_geo_info info;
};

_Static_assert(sizeof(struct cache_ent) == 196, "cache entry size is documented in enrich.h");

/* Cache levels of DESIGN 3, in bits of the 128-bit form, widest first. */
static const uint8_t v4_levels[] = {96 + 16, 96 + 24, 128};
static const uint8_t v6_levels[] = {32, 48, 128};
enum { N_LEVELS = 3 };

struct pt_geo_cache {
    /* owned by the thread that looks up */
    uint64_t geo_id; /* the pt_geo whose answers the entries hold; 0 = none yet */
    uint32_t mask;   /* n_entries - 1 */
    uint32_t n;      /* n_entries; 0 = no caching */
    /* written by the owner, read by anyone with PT_CNT_GET */
    struct pt_geo_stats st;
    struct cache_ent e[];
};

static const char *const stat_names[PT_GEO_ST_MAX] = {
    [PT_GEO_ST_LOOKUPS] = "enrich.geo.lookups",
    [PT_GEO_ST_INTERNAL] = "enrich.geo.internal",
    [PT_GEO_ST_CACHE_HIT] = "enrich.geo.cache.hit",
    [PT_GEO_ST_CACHE_MISS] = "enrich.geo.cache.miss",
    [PT_GEO_ST_CACHE_FLUSH] = "enrich.geo.cache.flush",
    [PT_GEO_ST_LOC_FOUND] = "enrich.geo.loc.found",
    [PT_GEO_ST_LOC_MISSING] = "enrich.geo.loc.not_found",
    [PT_GEO_ST_ASN_FOUND] = "enrich.geo.asn.found",
    [PT_GEO_ST_ASN_MISSING] = "enrich.geo.asn.not_found",
    [PT_GEO_ST_CORRUPT] = "enrich.geo.corrupt_data",
    [PT_GEO_ST_BAD_VALUE] = "enrich.geo.bad_value",
    [PT_GEO_ST_V6_IN_V4_DB] = "enrich.geo.ipv6_in_ipv4_db",
    [PT_GEO_ST_CITY_TRUNC] = "enrich.geo.city_truncated",
    [PT_GEO_ST_ORG_TRUNC] = "enrich.geo.org_truncated",
};

const char *pt_geo_stat_name(unsigned st)
{
    if (st < PT_GEO_ST_MAX && stat_names[st])
        return stat_names[st];
    return "enrich.geo.unknown";
}

/* ---- scopes ---------------------------------------------------------- */

static const char *const scope_names[PT_GEO_SCOPE_MAX] = {
    [PT_GEO_SCOPE_EXTERNAL] = "external",
    [PT_GEO_SCOPE_UNSPECIFIED] = "unspecified",
    [PT_GEO_SCOPE_LOOPBACK] = "loopback",
    [PT_GEO_SCOPE_PRIVATE] = "private",
    [PT_GEO_SCOPE_CGNAT] = "cgnat",
    [PT_GEO_SCOPE_LINK_LOCAL] = "link_local",
    [PT_GEO_SCOPE_ULA] = "ula",
    [PT_GEO_SCOPE_MULTICAST] = "multicast",
    [PT_GEO_SCOPE_BROADCAST] = "broadcast",
    [PT_GEO_SCOPE_DOCUMENTATION] = "documentation",
    [PT_GEO_SCOPE_BENCHMARK] = "benchmark",
    [PT_GEO_SCOPE_RESERVED] = "reserved",
};

const char *pt_geo_scope_name(unsigned scope)
{
    if (scope < PT_GEO_SCOPE_MAX && scope_names[scope])
        return scope_names[scope];
    return "unknown";
}

/* One prefix of the table in enrich.h: @bits leading bits of @net. */
struct prefix {
    uint8_t net[16];
    uint8_t bits;
    uint8_t scope;
};

static bool prefix_match(const uint8_t *a, const uint8_t *net, unsigned bits)
{
    unsigned whole = bits / 8, rest = bits % 8;

    if (memcmp(a, net, whole))
        return false;
    return !rest || ((a[whole] ^ net[whole]) & (uint8_t)(0xff00 >> rest)) == 0;
}

static enum pt_geo_scope v4_scope(const uint8_t *a)
{
    static const struct prefix v4[] = {
        {{0}, 8, PT_GEO_SCOPE_UNSPECIFIED},
        {{10}, 8, PT_GEO_SCOPE_PRIVATE},
        {{100, 64}, 10, PT_GEO_SCOPE_CGNAT},
        {{127}, 8, PT_GEO_SCOPE_LOOPBACK},
        {{169, 254}, 16, PT_GEO_SCOPE_LINK_LOCAL},
        {{172, 16}, 12, PT_GEO_SCOPE_PRIVATE},
        {{192, 0, 0}, 24, PT_GEO_SCOPE_RESERVED},
        {{192, 0, 2}, 24, PT_GEO_SCOPE_DOCUMENTATION},
        {{192, 168}, 16, PT_GEO_SCOPE_PRIVATE},
        {{198, 18}, 15, PT_GEO_SCOPE_BENCHMARK},
        {{198, 51, 100}, 24, PT_GEO_SCOPE_DOCUMENTATION},
        {{203, 0, 113}, 24, PT_GEO_SCOPE_DOCUMENTATION},
        {{224}, 4, PT_GEO_SCOPE_MULTICAST},
        {{255, 255, 255, 255}, 32, PT_GEO_SCOPE_BROADCAST},
        {{240}, 4, PT_GEO_SCOPE_RESERVED}, /* after the broadcast address */
    };

    for (size_t i = 0; i < PT_ARRAY_LEN(v4); i++)
        if (prefix_match(a, v4[i].net, v4[i].bits))
            return (enum pt_geo_scope)v4[i].scope;
    return PT_GEO_SCOPE_EXTERNAL;
}

enum pt_geo_scope pt_geo_addr_scope(const uint8_t a[16])
{
    static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    static const uint8_t zero[16], one[16] = {[15] = 1};
    /* the more specific prefixes first */
    static const struct prefix v6[] = {
        {{0x00, 0x64, 0xff, 0x9b, 0x00, 0x01}, 48, PT_GEO_SCOPE_RESERVED},
        {{0x00, 0x64, 0xff, 0x9b}, 96, PT_GEO_SCOPE_EXTERNAL}, /* before ::/8 */
        {{0x01, 0x00}, 64, PT_GEO_SCOPE_RESERVED},
        {{0x20, 0x01, 0x00, 0x02, 0x00, 0x00}, 48, PT_GEO_SCOPE_BENCHMARK},
        {{0x20, 0x01, 0x00, 0x10}, 28, PT_GEO_SCOPE_RESERVED},
        {{0x20, 0x01, 0x00, 0x20}, 28, PT_GEO_SCOPE_RESERVED},
        {{0x20, 0x01, 0x0d, 0xb8}, 32, PT_GEO_SCOPE_DOCUMENTATION},
        {{0x3f, 0xff}, 20, PT_GEO_SCOPE_DOCUMENTATION},
        {{0xfc}, 7, PT_GEO_SCOPE_ULA},
        {{0xfe, 0x80}, 10, PT_GEO_SCOPE_LINK_LOCAL},
        {{0xfe, 0xc0}, 10, PT_GEO_SCOPE_PRIVATE},
        {{0xff}, 8, PT_GEO_SCOPE_MULTICAST},
        {{0x00}, 8, PT_GEO_SCOPE_RESERVED}, /* after ::, ::1 and ::ffff:0:0/96 */
    };

    if (!memcmp(a, v4mapped, 12))
        return v4_scope(a + 12);
    if (!memcmp(a, zero, 16))
        return PT_GEO_SCOPE_UNSPECIFIED;
    if (!memcmp(a, one, 16))
        return PT_GEO_SCOPE_LOOPBACK;
    for (size_t i = 0; i < PT_ARRAY_LEN(v6); i++)
        if (prefix_match(a, v6[i].net, v6[i].bits))
            return (enum pt_geo_scope)v6[i].scope;
    return PT_GEO_SCOPE_EXTERNAL;
}

/* ---- open ------------------------------------------------------------ */

/* Record @side (0 left, 1 right) of the node at @p, for record size @rs
 * (24, 28 or 32 bits; the spec's layouts: big-endian, and for 28 bits the
 * middle byte holds the top nibble of each record, the left one high). */
static inline uint32_t tree_record(const uint8_t *p, unsigned rs, int side)
{
    switch (rs) {
    case 24:
        p += 3 * side;
        return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
    case 28:
        if (side)
            return (uint32_t)(p[3] & 0x0f) << 24 | (uint32_t)p[4] << 16 | (uint32_t)p[5] << 8 |
                   p[6];
        return (uint32_t)(p[3] & 0xf0) << 20 | (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
    default:
        p += 4 * side;
        return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
    }
}

/* A record that is neither a node, the "empty" marker (== @nodes), nor
 * @nodes + 16 + an offset inside the data section (below that wraps). */
static inline bool record_bad(uint64_t rec, uint64_t nodes, uint64_t dss)
{
    return (rec > nodes) & (rec - nodes - 16 >= dss);
}

/* Whether any record of nodes [@from, @to) is bad, with no branch per
 * record (opening both 2018 databases, this check and its page faults
 * included, costs about 3.4 ms of CPU). */
static bool span_bad(const uint8_t *tree, unsigned rs, uint64_t from, uint64_t to, uint64_t nodes,
                     uint64_t dss)
{
    bool bad = false;

    switch (rs) {
    case 24:
        for (uint64_t i = from; i < to; i++) {
            const uint8_t *p = tree + i * 6;
            bad |= record_bad(tree_record(p, 24, 0), nodes, dss) |
                   record_bad(tree_record(p, 24, 1), nodes, dss);
        }
        break;
    case 28:
        for (uint64_t i = from; i < to; i++) {
            const uint8_t *p = tree + i * 7;
            bad |= record_bad(tree_record(p, 28, 0), nodes, dss) |
                   record_bad(tree_record(p, 28, 1), nodes, dss);
        }
        break;
    default:
        for (uint64_t i = from; i < to; i++) {
            const uint8_t *p = tree + i * 8;
            bad |= record_bad(tree_record(p, 32, 0), nodes, dss) |
                   record_bad(tree_record(p, 32, 1), nodes, dss);
        }
    }
    return bad;
}

/* Step 1 of DESIGN: every record of every node must be a node, empty, or
 * point into the data section. The tree is read in place, in spans of 4,096
 * nodes; a span with a bad record is walked again to name it (MMDB_read_node
 * per node took 13 ms on the 6 MB ASN database, most of a short run's
 * start). Returns 0 or fills @why. */
static int verify_tree(const MMDB_s *m, char *why, size_t whylen)
{
    uint64_t nodes = m->metadata.node_count, dss = m->data_section_size;
    unsigned rs = m->metadata.record_size, nb = rs / 4;
    /* libmaxminddb's data_section_size runs to the end of the file; the
     * data ends where the metadata marker (14 bytes) begins */
    const size_t marker = 14;
    const uint8_t *tree = m->file_content;

    if (m->metadata_section >= m->data_section + marker &&
        (uint64_t)(m->metadata_section - marker - m->data_section) < dss)
        dss = (uint64_t)(m->metadata_section - marker - m->data_section);
    if (rs != 24 && rs != 28 && rs != 32) {
        snprintf(why, whylen, "corrupt: record size %u", rs);
        return -1;
    }
    /* MMDB_open placed the data section after the tree and its separator */
    if (nodes * nb + 16 > (uint64_t)(m->data_section - tree)) {
        snprintf(why, whylen, "corrupt: search tree of %llu nodes overlaps the data section",
                 (unsigned long long)nodes);
        return -1;
    }
    for (uint64_t from = 0; from < nodes; from += 4096) {
        uint64_t to = nodes - from > 4096 ? from + 4096 : nodes;

        if (likely(!span_bad(tree, rs, from, to, nodes, dss)))
            continue;
        for (uint64_t i = from; i < to; i++) {
            for (int side = 0; side < 2; side++) {
                uint64_t rec = tree_record(tree + i * nb, rs, side);
                if (!record_bad(rec, nodes, dss))
                    continue;
                snprintf(why, whylen,
                         "corrupt: search tree record %llu of node %llu points outside the "
                         "data section",
                         (unsigned long long)rec, (unsigned long long)i);
                return -1;
            }
        }
    }
    return 0;
}

static void db_open(struct geo_db *d, const char *path, const char *what, char *err)
{
    char why[PT_GEO_ERR_MAX / 2];
    int rc, e;

    if (!path || !*path)
        return;
    errno = 0;
    rc = MMDB_open(path, MMDB_MODE_MMAP, &d->mmdb);
    e = errno;
    if (rc != MMDB_SUCCESS) {
        struct stat sb;
        if (!stat(path, &sb) && S_ISDIR(sb.st_mode))
            snprintf(why, sizeof why, "cannot open: %s", strerror(EISDIR));
        else if ((rc == MMDB_FILE_OPEN_ERROR || rc == MMDB_IO_ERROR) && e)
            snprintf(why, sizeof why, "cannot open: %s", strerror(e));
        else
            snprintf(why, sizeof why, "%s", MMDB_strerror(rc));
        goto fail; /* MMDB_open has released what it took */
    }
    if (d->mmdb.metadata.ip_version != 4 && d->mmdb.metadata.ip_version != 6) {
        snprintf(why, sizeof why, "corrupt: ip_version %u", d->mmdb.metadata.ip_version);
        goto err_close;
    }
    if (verify_tree(&d->mmdb, why, sizeof why) < 0)
        goto err_close;
    snprintf(d->type, sizeof d->type, "%s",
             d->mmdb.metadata.database_type ? d->mmdb.metadata.database_type : "");
    d->open = true;
    return;

err_close:
    MMDB_close(&d->mmdb);
fail:
    if (err)
        snprintf(err, PT_GEO_ERR_MAX, "GeoIP %s database %s: %s", what, path, why);
}

struct pt_geo *pt_geo_create(const char *loc_path, const char *asn_path, char *loc_err,
                             char *asn_err)
{
    struct pt_geo *g = calloc(1, sizeof *g);

    if (loc_err)
        loc_err[0] = 0;
    if (asn_err)
        asn_err[0] = 0;
    if (!g)
        return NULL;
    /* monotonic time, never 0: distinct for every handle a process makes */
    g->id = pt_now_ns() | 1;
    db_open(&g->loc, loc_path, "location", loc_err);
    db_open(&g->asn, asn_path, "ASN", asn_err);
    return g;
}

void pt_geo_destroy(struct pt_geo *g)
{
    if (!g)
        return;
    if (g->loc.open)
        MMDB_close(&g->loc.mmdb);
    if (g->asn.open)
        MMDB_close(&g->asn.mmdb);
    free(g);
}

bool pt_geo_has_loc(const struct pt_geo *g)
{
    return g && g->loc.open;
}

bool pt_geo_has_asn(const struct pt_geo *g)
{
    return g && g->asn.open;
}

const char *pt_geo_loc_type(const struct pt_geo *g)
{
    return g && g->loc.open ? g->loc.type : "";
}

const char *pt_geo_asn_type(const struct pt_geo *g)
{
    return g && g->asn.open ? g->asn.type : "";
}

/* ---- cache ----------------------------------------------------------- */

struct pt_geo_cache *pt_geo_cache_create(uint32_t n_entries, int *err)
{
    struct pt_geo_cache *c;
    size_t sz;

    if ((n_entries & (n_entries - 1)) || n_entries > (1u << 24)) {
        if (err)
            *err = -EINVAL;
        return NULL;
    }
    sz = sizeof *c + (size_t)n_entries * sizeof c->e[0];
    sz = (sz + PT_CACHELINE - 1) & ~(size_t)(PT_CACHELINE - 1);
    c = aligned_alloc(PT_CACHELINE, sz);
    if (!c) {
        if (err)
            *err = -ENOMEM;
        return NULL;
    }
    memset(c, 0, sz);
    c->n = n_entries;
    c->mask = n_entries ? n_entries - 1 : 0;
    return c;
}

void pt_geo_cache_destroy(struct pt_geo_cache *c)
{
    free(c);
}

const struct pt_geo_stats *pt_geo_cache_stats(const struct pt_geo_cache *c)
{
    return &c->st;
}

/* ---- lookup ---------------------------------------------------------- */

/* Copy @len bytes of @src into @dst (@cap bytes, NUL added). When it does
 * not fit, cut before a UTF-8 sequence that would be split (continuation
 * bytes 10xxxxxx are skipped back to their lead byte). Returns the length
 * kept; *@cut says whether bytes were dropped. */
static size_t copy_bounded(char *dst, size_t cap, const char *src, size_t len, bool *cut)
{
    size_t n = len;

    *cut = false;
    if (n > cap - 1) {
        *cut = true;
        n = cap - 1;
        for (int back = 0; back < 4 && n > 0 && ((uint8_t)src[n] & 0xc0) == 0x80; back++)
            n--;
    }
    memcpy(dst, src, n);
    dst[n] = 0;
    return n;
}

enum { GET_FOUND, GET_ABSENT, GET_BAD, GET_CORRUPT };

/* Value at @path below @e; its type must be @type (or either UINT16/UINT32
 * when @type is UINT32). */
static int get_value(MMDB_entry_s *e, const char *const *path, int type, MMDB_entry_data_s *d)
{
    int rc = MMDB_aget_value(e, d, path);

    /* libmaxminddb answers a key missing from a map like a path through a
     * non-map value, so both read as "absent"; a leaf of the wrong type is
     * caught below. */
    if (rc == MMDB_LOOKUP_PATH_DOES_NOT_MATCH_DATA_ERROR || rc == MMDB_INVALID_LOOKUP_PATH_ERROR)
        return GET_ABSENT;
    if (rc != MMDB_SUCCESS)
        return GET_CORRUPT;
    if (!d->has_data)
        return GET_ABSENT;
    if (d->type == (uint32_t)type)
        return GET_FOUND;
    if (type == MMDB_DATA_TYPE_UINT32 && d->type == MMDB_DATA_TYPE_UINT16)
        return GET_FOUND;
    return GET_BAD;
}

static const char *const path_cc[] = {"country", "iso_code", NULL};
static const char *const path_reg_cc[] = {"registered_country", "iso_code", NULL};
static const char *const path_city[] = {"city", "names", "en", NULL};
static const char *const path_asn[] = {"autonomous_system_number", NULL};
static const char *const path_org[] = {"autonomous_system_organization", NULL};

/* A GET_* outcome that is not a value: count it; true when corrupt. */
static bool note_failure(struct pt_geo_cache *c, int got)
{
    if (got == GET_BAD)
        PT_CNT_INC(c->st.c[PT_GEO_ST_BAD_VALUE]);
    return got == GET_CORRUPT;
}

static bool get_iso(struct pt_geo_cache *c, MMDB_entry_s *e, const char *const *path, char cc[3])
{
    MMDB_entry_data_s d;
    int got = get_value(e, path, MMDB_DATA_TYPE_UTF8_STRING, &d);

    if (got == GET_FOUND && d.data_size == 2) {
        memcpy(cc, d.utf8_string, 2);
        cc[2] = 0;
        return false;
    }
    if (got == GET_FOUND)
        got = GET_BAD; /* not a two-letter code */
    return note_failure(c, got);
}

/* Fill the location part of @out from @e. Returns true when corrupt. */
static bool fill_loc(struct pt_geo_cache *c, MMDB_entry_s *e, struct pt_geo_info *out)
{
    MMDB_entry_data_s d;
    bool corrupt = false, cut;
    int got;

    corrupt |= get_iso(c, e, path_cc, out->cc);
    corrupt |= get_iso(c, e, path_reg_cc, out->reg_cc);
    got = get_value(e, path_city, MMDB_DATA_TYPE_UTF8_STRING, &d);
    if (got == GET_FOUND) {
        out->city_len =
            (uint8_t)copy_bounded(out->city, sizeof out->city, d.utf8_string, d.data_size, &cut);
        if (cut)
            PT_CNT_INC(c->st.c[PT_GEO_ST_CITY_TRUNC]);
    } else {
        corrupt |= note_failure(c, got);
    }
    return corrupt;
}

static bool fill_asn(struct pt_geo_cache *c, MMDB_entry_s *e, struct pt_geo_info *out)
{
    MMDB_entry_data_s d;
    bool corrupt = false, cut;
    int got;

    got = get_value(e, path_asn, MMDB_DATA_TYPE_UINT32, &d);
    if (got == GET_FOUND)
        out->asn = d.type == MMDB_DATA_TYPE_UINT16 ? d.uint16 : d.uint32;
    else
        corrupt |= note_failure(c, got);
    got = get_value(e, path_org, MMDB_DATA_TYPE_UTF8_STRING, &d);
    if (got == GET_FOUND) {
        out->org_len =
            (uint8_t)copy_bounded(out->org, sizeof out->org, d.utf8_string, d.data_size, &cut);
        if (cut)
            PT_CNT_INC(c->st.c[PT_GEO_ST_ORG_TRUNC]);
    } else {
        corrupt |= note_failure(c, got);
    }
    return corrupt;
}

/* Search one database. Returns 1 found, 0 not found, -1 corrupt. Raises
 * *@net_bits to the prefix length, in the 128-bit form, of the network the
 * answer (found or not) holds for. */
static int db_search(const struct geo_db *db, struct pt_geo_cache *c, const struct sockaddr *sa,
                     MMDB_entry_s *entry, unsigned *net_bits)
{
    int mmdb_err = MMDB_SUCCESS;
    MMDB_lookup_result_s r = MMDB_lookup_sockaddr(&db->mmdb, sa, &mmdb_err);
    unsigned bits;

    if (mmdb_err == MMDB_IPV6_LOOKUP_IN_IPV4_DATABASE_ERROR) {
        /* holds for all of IPv6 outside ::ffff:0:0/96; keep it exact */
        *net_bits = 128;
        PT_CNT_INC(c->st.c[PT_GEO_ST_V6_IN_V4_DB]);
        return 0;
    }
    if (mmdb_err != MMDB_SUCCESS)
        return -1;
    /* IPv4 in an IPv6 tree: libmaxminddb counts from ::/0, so 96 + n
     * (less when the tree ends above ::a.b.c.d); in an IPv4 tree: n */
    bits = r.netmask;
    if (sa->sa_family == AF_INET)
        bits = db->mmdb.metadata.ip_version == 6 ? (bits > 96 ? bits : 96) : 96 + bits;
    if (bits > 128)
        bits = 128;
    if (bits > *net_bits)
        *net_bits = bits;
    if (!r.found_entry)
        return 0;
    *entry = r.entry;
    return 1;
}

/* Step 2 of DESIGN, without the cache. *@net_bits: as db_search(), over
 * both databases. Returns true when corrupt. */
static bool lookup_dbs(const struct pt_geo *g, struct pt_geo_cache *c, const uint8_t a[16],
                       struct pt_geo_info *out, unsigned *net_bits)
{
    static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    struct sockaddr_in sin;
    struct sockaddr_in6 sin6;
    const struct sockaddr *sa;
    MMDB_entry_s e;
    bool corrupt = false;
    int hit;

    if (!memcmp(a, v4mapped, 12)) {
        memset(&sin, 0, sizeof sin);
        sin.sin_family = AF_INET;
        memcpy(&sin.sin_addr, a + 12, 4);
        sa = (const struct sockaddr *)&sin;
    } else {
        memset(&sin6, 0, sizeof sin6);
        sin6.sin6_family = AF_INET6;
        memcpy(&sin6.sin6_addr, a, 16);
        sa = (const struct sockaddr *)&sin6;
    }
    if (g->loc.open) {
        hit = db_search(&g->loc, c, sa, &e, net_bits);
        if (hit > 0) {
            out->flags |= PT_GEO_F_LOC;
            PT_CNT_INC(c->st.c[PT_GEO_ST_LOC_FOUND]);
            corrupt |= fill_loc(c, &e, out);
        } else if (hit == 0) {
            PT_CNT_INC(c->st.c[PT_GEO_ST_LOC_MISSING]);
        }
        corrupt |= hit < 0;
    }
    if (g->asn.open) {
        hit = db_search(&g->asn, c, sa, &e, net_bits);
        if (hit > 0) {
            out->flags |= PT_GEO_F_ASN;
            PT_CNT_INC(c->st.c[PT_GEO_ST_ASN_FOUND]);
            corrupt |= fill_asn(c, &e, out);
        } else if (hit == 0) {
            PT_CNT_INC(c->st.c[PT_GEO_ST_ASN_MISSING]);
        }
        corrupt |= hit < 0;
    }
    return corrupt;
}

/* Two 16-byte keys, as two word compares (memcmp was a call per probe). */
static inline bool key_eq(const uint8_t *a, const uint8_t *b)
{
    uint64_t a0, a1, b0, b1;

    memcpy(&a0, a, 8);
    memcpy(&a1, a + 8, 8);
    memcpy(&b0, b, 8);
    memcpy(&b1, b + 8, 8);
    return ((a0 ^ b0) | (a1 ^ b1)) == 0;
}

/* @a cut to its first @bits bits into @key; the slot of that key at that
 * level. */
static struct cache_ent *cache_slot(struct pt_geo_cache *c, const uint8_t a[16], unsigned bits,
                                    uint8_t key[16])
{
    unsigned whole = bits / 8, rest = bits % 8;

    memcpy(key, a, 16);
    if (whole < 16) {
        key[whole] &= (uint8_t)(0xff00 >> rest);
        memset(key + whole + 1, 0, 15 - whole);
    }
    return &c->e[(pt_addr_hash(key) + bits * 0x9e3779b97f4a7c15ull) & c->mask];
}

int pt_geo_lookup(const struct pt_geo *g, struct pt_geo_cache *c, const uint8_t addr[16],
                  struct pt_geo_info *out)
{
    static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    const uint8_t *levels;
    unsigned net_bits = 0;
    uint8_t key[16];

    memset(out, 0, sizeof *out);
    PT_CNT_INC(c->st.c[PT_GEO_ST_LOOKUPS]);
    out->scope = (uint8_t)pt_geo_addr_scope(addr);
    if (out->scope != PT_GEO_SCOPE_EXTERNAL) {
        PT_CNT_INC(c->st.c[PT_GEO_ST_INTERNAL]);
        return 0;
    }
    if (!g || (!g->loc.open && !g->asn.open))
        return 0;
    levels = memcmp(addr, v4mapped, 12) ? v6_levels : v4_levels;
    if (c->n) {
        if (unlikely(c->geo_id != g->id)) {
            if (c->geo_id)
                PT_CNT_INC(c->st.c[PT_GEO_ST_CACHE_FLUSH]);
            memset(c->e, 0, (size_t)c->n * sizeof c->e[0]);
            c->geo_id = g->id;
        }
        for (int l = 0; l < N_LEVELS; l++) {
            struct cache_ent *slot = cache_slot(c, addr, levels[l], key);
            if (slot->bits == levels[l] && key_eq(slot->addr, key)) {
                PT_CNT_INC(c->st.c[PT_GEO_ST_CACHE_HIT]);
                *out = slot->info;
                return 0;
            }
        }
    }
    PT_CNT_INC(c->st.c[PT_GEO_ST_CACHE_MISS]);
    if (unlikely(lookup_dbs(g, c, addr, out, &net_bits))) {
        out->flags |= PT_GEO_F_CORRUPT;
        PT_CNT_INC(c->st.c[PT_GEO_ST_CORRUPT]);
        return -EBADMSG;
    }
    if (c->n) {
        int l = 0;
        while (levels[l] < net_bits) /* the last level is 128: always ends */
            l++;
        struct cache_ent *slot = cache_slot(c, addr, levels[l], key);
        memcpy(slot->addr, key, 16);
        slot->bits = levels[l];
        slot->info = *out;
    }
    return 0;
}
