/* enrich.h - enrichment of addresses: GeoIP/ASN (libmaxminddb) and MAC
 * vendors (IEEE OUI registry).
 *
 * Both sources are loaded once at start into immutable handles that every
 * thread may read at the same time without locks:
 *
 *   struct pt_geo    Country/City and ASN databases, opened with
 *                    MMDB_MODE_MMAP (the kernel shares the pages). Read-only
 *                    after pt_geo_create(); shared by all threads.
 *   struct pt_geo_cache
 *                    a direct-mapped cache of lookup answers in front of a
 *                    pt_geo, with its counters. ONE PER THREAD: it is written
 *                    by every lookup, so it is never shared.
 *   struct pt_oui    the IEEE MA-L/MA-M/MA-S (+IAB) registry as sorted
 *                    arrays. Read-only after pt_oui_create(); shared.
 *
 * Lookups (pt_geo_lookup, pt_oui_lookup) do no malloc, no syscall, no lock
 * and no logging, and their work is bounded (a <= 128-step tree walk and a
 * few map walks in the mmdb file; three binary searches), so they may run
 * on capture workers. Opening, loading and destroying allocate, read files
 * and must not run there.
 *
 * Failure to load is never fatal: the constructors say why in a
 * caller-supplied string, which the sensor logs before running on without
 * that source. */
#ifndef PT_ENRICH_H
#define PT_ENRICH_H

#include <stdalign.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pt/common.h"
#include "pt/flow.h"

struct pt_app_dns;

/* ---------------------------------------------------------------------- */
/* GeoIP / ASN                                                             */
/* ---------------------------------------------------------------------- */

#define PT_GEO_CITY_MAX 64  /* bytes of city.names.en kept, NUL included */
#define PT_GEO_ORG_MAX  96  /* bytes of autonomous_system_organization kept, NUL included */
#define PT_GEO_ERR_MAX  320 /* size of the error strings pt_geo_create() fills */

/* Why an address is not looked up. PT_GEO_SCOPE_EXTERNAL (0) is the only
 * scope that reaches the databases; every other one is answered "internal"
 * at once. The ranges (IPv4 also when written ::ffff:a.b.c.d):
 *   UNSPECIFIED    0.0.0.0/8 ("this network", RFC 791/1122); ::/128
 *   LOOPBACK       127.0.0.0/8; ::1/128
 *   PRIVATE        10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16 (RFC 1918);
 *                  fec0::/10 (deprecated site-local)
 *   CGNAT          100.64.0.0/10 (RFC 6598 shared address space)
 *   LINK_LOCAL     169.254.0.0/16; fe80::/10
 *   ULA            fc00::/7 (RFC 4193)
 *   MULTICAST      224.0.0.0/4; ff00::/8
 *   BROADCAST      255.255.255.255
 *   DOCUMENTATION  192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24 (RFC 5737);
 *                  2001:db8::/32 (RFC 3849), 3fff::/20 (RFC 9637)
 *   BENCHMARK      198.18.0.0/15 (RFC 2544); 2001:2::/48 (RFC 5180)
 *   RESERVED       192.0.0.0/24 (IETF protocol assignments), 240.0.0.0/4
 *                  (less the broadcast address); the rest of ::/8 that is
 *                  not ::ffff:0:0/96 (IPv4-compatible and other reserved
 *                  forms), 100::/64 (discard-only), 64:ff9b:1::/48 (local
 *                  NAT64), 2001:10::/28 and 2001:20::/28 (ORCHID)
 * External on purpose: 6to4 (2002::/16), Teredo (2001::/32) and the
 * well-known NAT64 prefix 64:ff9b::/96, which MaxMind databases answer. */
enum pt_geo_scope {
    PT_GEO_SCOPE_EXTERNAL = 0,
    PT_GEO_SCOPE_UNSPECIFIED,
    PT_GEO_SCOPE_LOOPBACK,
    PT_GEO_SCOPE_PRIVATE,
    PT_GEO_SCOPE_CGNAT,
    PT_GEO_SCOPE_LINK_LOCAL,
    PT_GEO_SCOPE_ULA,
    PT_GEO_SCOPE_MULTICAST,
    PT_GEO_SCOPE_BROADCAST,
    PT_GEO_SCOPE_DOCUMENTATION,
    PT_GEO_SCOPE_BENCHMARK,
    PT_GEO_SCOPE_RESERVED,
    PT_GEO_SCOPE_MAX
};

/* Scope of the 16-byte address @a (IPv4 as ::ffff:a.b.c.d). Pure; a few
 * compares. Thread: any. */
enum pt_geo_scope pt_geo_addr_scope(const uint8_t a[16]);

/* Stable name of a scope ("external", "private", "cgnat", ...); "unknown"
 * out of range. Static string. Thread: any. */
const char *pt_geo_scope_name(unsigned scope);

/* pt_geo_info.flags */
#define PT_GEO_F_LOC     0x01 /* the Country/City database has a record for the address */
#define PT_GEO_F_ASN     0x02 /* the ASN database has a record for the address */
#define PT_GEO_F_CORRUPT 0x04 /* a database answered with broken data (see pt_geo_lookup) */

/* One answer. Strings are NUL-terminated fixed arrays, "" when absent,
 * with their length beside them (database strings are UTF-8 by the format,
 * but are kept as bytes: they may hold anything, NUL included; the JSON
 * writer escapes them). A string longer than its array is cut at the last
 * whole UTF-8 sequence that fits, and counted (enrich.geo.*_truncated).
 * sizeof == 176. */
struct pt_geo_info {
    uint32_t asn;               /* autonomous_system_number; 0 = none */
    uint8_t scope;              /* enum pt_geo_scope; not EXTERNAL = nothing looked up */
    uint8_t flags;              /* PT_GEO_F_* */
    uint8_t city_len;           /* bytes in city before the NUL */
    uint8_t org_len;            /* bytes in org before the NUL */
    char cc[3];                 /* country.iso_code ("GB"), "" if none */
    char reg_cc[3];             /* registered_country.iso_code, "" if none */
    char city[PT_GEO_CITY_MAX]; /* city.names.en (City databases only) */
    char org[PT_GEO_ORG_MAX];   /* autonomous_system_organization */
    uint8_t pad[2];             /* zero */
};

/* Counters of one pt_geo_cache (so: of one thread). Names are the API. */
enum pt_geo_stat {
    PT_GEO_ST_LOOKUPS = 0, /* enrich.geo.lookups: pt_geo_lookup() calls */
    PT_GEO_ST_INTERNAL,    /* enrich.geo.internal: answered by scope, no lookup */
    PT_GEO_ST_CACHE_HIT,   /* enrich.geo.cache.hit */
    PT_GEO_ST_CACHE_MISS,  /* enrich.geo.cache.miss: went to the databases */
    PT_GEO_ST_CACHE_FLUSH, /* enrich.geo.cache.flush: cache met a new pt_geo, emptied */
    PT_GEO_ST_LOC_FOUND,   /* enrich.geo.loc.found */
    PT_GEO_ST_LOC_MISSING, /* enrich.geo.loc.not_found */
    PT_GEO_ST_ASN_FOUND,   /* enrich.geo.asn.found */
    PT_GEO_ST_ASN_MISSING, /* enrich.geo.asn.not_found */
    PT_GEO_ST_CORRUPT,     /* enrich.geo.corrupt_data: broken tree or data in a database */
    PT_GEO_ST_BAD_VALUE,   /* enrich.geo.bad_value: a field of the wrong type or form */
    PT_GEO_ST_V6_IN_V4_DB, /* enrich.geo.ipv6_in_ipv4_db: not found, counted apart */
    PT_GEO_ST_CITY_TRUNC,  /* enrich.geo.city_truncated */
    PT_GEO_ST_ORG_TRUNC,   /* enrich.geo.org_truncated */
    PT_GEO_ST_MAX
};

/* Written by the owning thread with relaxed atomic stores (PT_CNT_INC);
 * other threads read them with PT_CNT_GET. */
struct pt_geo_stats {
    alignas(PT_CACHELINE) uint64_t c[PT_GEO_ST_MAX];
};

/* Stable dotted name of counter @st ("enrich.geo.cache.hit"); "enrich.geo.unknown"
 * out of range. Static string. Thread: any. */
const char *pt_geo_stat_name(unsigned st);

struct pt_geo;       /* opaque: the opened databases */
struct pt_geo_cache; /* opaque: one thread's cache and counters */

/* Open the Country-or-City database at @loc_path and the ASN database at
 * @asn_path (MMDB_MODE_MMAP). Either path may be NULL or "" (not
 * configured: no error). Each configured database is checked after
 * libmaxminddb accepts it: its whole search tree is walked once (O(nodes),
 * no allocation), and a record pointing outside the tree or the data section
 * rejects the file as corrupt (MaxMind-DB-test-broken-pointers-24 is
 * rejected so). Broken data inside the data section, and node numbers left
 * where the tree should end, are only found by the lookup that reads them
 * (counted, see pt_geo_lookup()).
 *
 * Returns a handle, even when no database could be opened (lookups then
 * answer nothing but scopes); NULL only when out of memory. For each path
 * that was configured but could not be used, @loc_err / @asn_err (each
 * PT_GEO_ERR_MAX bytes, may be NULL) receive one line such as
 *   "GeoIP ASN database /x/a.mmdb: cannot open: No such file or directory"
 *   "GeoIP location database /x/c.mmdb: corrupt: search tree record 1234 of node 55 points
 *    outside the data section"
 * and are set to "" otherwise. pt_geo_has_loc()/pt_geo_has_asn() say what
 * was opened. The handle owns the mappings; the paths are copied.
 * Thread: start-up (reads files, allocates). The handle is then immutable
 * and shared: any number of threads may look up at once. */
struct pt_geo *pt_geo_create(const char *loc_path, const char *asn_path, char *loc_err,
                             char *asn_err);

/* Unmap the databases and free @g. NULL is fine. Thread: after every thread
 * has stopped looking up through @g (no cache may be used with it again). */
void pt_geo_destroy(struct pt_geo *g);

/* Which databases are open. Thread: any. */
bool pt_geo_has_loc(const struct pt_geo *g);
bool pt_geo_has_asn(const struct pt_geo *g);

/* The metadata database_type of the open location / ASN database
 * ("GeoLite2-Country", "GeoIP2-City", ...), for the start-up log line;
 * "" when that database is not open. Borrowed until pt_geo_destroy().
 * Thread: any. */
const char *pt_geo_loc_type(const struct pt_geo *g);
const char *pt_geo_asn_type(const struct pt_geo *g);

/* A cache of @n_entries answers (a power of two, 0 = no caching: every
 * external lookup goes to the databases), direct-mapped; an entry answers
 * for the address cut to /16, /24 or /32 (IPv6: /32, /48, /128), the widest
 * of those inside the networks the databases answered for, so one entry
 * may serve a whole /24 of a provider; a colliding key replaces the previous
 * one. Size: 196 bytes per entry plus a 128-byte header and counters, e.g.
 * 4096 entries = 784 KiB, allocated here once and never grown.
 * The cache is not tied to one pt_geo: when it is used with a different
 * handle than before (a reload), it empties itself first (counted).
 * Returns NULL with *@err = -EINVAL (@n_entries not a power of two or above
 * 2^24) or -ENOMEM. Thread: start-up of the thread that will own it. */
struct pt_geo_cache *pt_geo_cache_create(uint32_t n_entries, int *err);

/* Free @c. NULL is fine. Thread: the owner. */
void pt_geo_cache_destroy(struct pt_geo_cache *c);

/* The counters of @c: borrowed, valid until pt_geo_cache_destroy(). The
 * owner writes them; any thread may read them with PT_CNT_GET. */
const struct pt_geo_stats *pt_geo_cache_stats(const struct pt_geo_cache *c);

/* Answer for the 16-byte address @addr (IPv4 as ::ffff:a.b.c.d; looked up
 * as IPv4, i.e. in the ::a.b.c.d subtree of an IPv6 database, or directly in
 * an IPv4 one) into *@out, which is always fully written:
 * - not external: out->scope says why, nothing else is set; counted
 *   enrich.geo.internal; the cache is not touched;
 * - external: the cache answers, or each open database is searched and the
 *   answer cached. Not in a database = its flag clear and its fields empty.
 *   An IPv6 address in an IPv4-only database is "not found" (counted).
 * Returns 0, or -EBADMSG when a database returned broken data (a tree
 * leaf or data pointer leading outside the data section, undecodable data;
 * e.g. 128.128.128.128 in MaxMind-DB-test-broken-search-tree-24):
 * then out->flags has PT_GEO_F_CORRUPT, what the other database answered is
 * kept, the failure is counted (enrich.geo.corrupt_data) and the answer is
 * not cached. No malloc, syscall, lock or log. Thread: the owner of @c;
 * @g may be shared with other threads. */
int pt_geo_lookup(const struct pt_geo *g, struct pt_geo_cache *c, const uint8_t addr[16],
                  struct pt_geo_info *out);

/* ---------------------------------------------------------------------- */
/* OUI vendors                                                             */
/* ---------------------------------------------------------------------- */

#define PT_OUI_DIR      "/usr/share/ieee-data" /* Debian package ieee-data */
#define PT_OUI_NAME_MAX 128 /* bytes of an organisation name kept, NUL included */
#define PT_OUI_ERR_MAX  320 /* size of the error string pt_oui_create() fills */

/* What a MAC address is, in the order pt_oui_lookup() decides it. */
enum pt_oui_kind {
    PT_OUI_VENDOR = 0, /* found in the registry: vendor set */
    PT_OUI_UNKNOWN,    /* universally administered unicast, not in the registry */
    PT_OUI_BROADCAST,  /* ff:ff:ff:ff:ff:ff */
    PT_OUI_MULTICAST,  /* I/G bit set (first octet & 0x01) */
    PT_OUI_LOCAL,      /* U/L bit set (first octet & 0x02): locally administered unicast */
    PT_OUI_KIND_MAX
};

/* Stable name of a kind: "vendor", "unknown", "broadcast", "multicast",
 * "local". Static string. Thread: any. */
const char *pt_oui_kind_name(unsigned kind);

struct pt_oui_match {
    const char *vendor;  /* Organization Name from the CSV, NUL-terminated; borrowed until
                          * pt_oui_destroy(); "" unless kind is PT_OUI_VENDOR */
    uint16_t vendor_len; /* bytes before the NUL (< PT_OUI_NAME_MAX) */
    uint8_t kind;        /* enum pt_oui_kind */
    uint8_t bits;        /* prefix length matched: 36 (MA-S, IAB), 28 (MA-M), 24 (MA-L); 0 */
};

/* Counters of loading (pt_oui_stats()); names are the API. */
enum pt_oui_stat {
    PT_OUI_ST_MA_L = 0,   /* enrich.oui.ma_l: MA-L (24-bit) blocks loaded */
    PT_OUI_ST_MA_M,       /* enrich.oui.ma_m: MA-M (28-bit) */
    PT_OUI_ST_MA_S,       /* enrich.oui.ma_s: MA-S and IAB (36-bit) */
    PT_OUI_ST_BAD_ROW,    /* enrich.oui.bad_row: unparsable row, skipped */
    PT_OUI_ST_DUPLICATE,  /* enrich.oui.duplicate: block listed again; the first row wins */
    PT_OUI_ST_NAME_TRUNC, /* enrich.oui.name_truncated */
    PT_OUI_ST_MAX
};

const char *pt_oui_stat_name(unsigned st);

struct pt_oui; /* opaque: the loaded registry */

/* Load the IEEE registry CSVs of directory @dir (NULL = PT_OUI_DIR):
 * oui.csv (MA-L), mam.csv (MA-M), oui36.csv (MA-S) are required; iab.csv
 * (the older 36-bit IAB blocks) is loaded when present. Format: RFC 4180
 * CSV with a header row, columns Registry,Assignment,Organization Name,
 * Organization Address (quoted fields may hold commas, "" and line breaks;
 * CRLF or LF). The name is kept byte for byte as the CSV field (cut at
 * PT_OUI_NAME_MAX - 1 bytes on a UTF-8 boundary, counted). A row whose
 * registry or assignment does not fit its file is skipped and counted; a
 * block listed twice keeps its first row.
 * Returns the handle, or NULL with one line in @err (PT_OUI_ERR_MAX bytes,
 * may be NULL), e.g. "OUI registry /usr/share/ieee-data/mam.csv: cannot
 * open: No such file or directory", or "...: no usable rows". Memory: one
 * string pool plus 16 bytes per block (about 1.5 MiB for the 2022 registry).
 * Thread: start-up (reads files, allocates). The handle is then immutable
 * and shared. */
struct pt_oui *pt_oui_create(const char *dir, char *err);

/* The same from CSV text in memory (@csv[i] of @len[i] bytes for MA-L,
 * MA-M, MA-S, IAB in that order; a NULL @csv[i] is an empty file). The
 * bytes are parsed, not kept. For tests and the fuzzer. Thread: any. */
struct pt_oui *pt_oui_create_mem(const char *const csv[4], const size_t len[4], char *err);

/* Free @o. NULL is fine. Thread: after every lookup through @o is done;
 * vendor pointers from it become invalid. */
void pt_oui_destroy(struct pt_oui *o);

/* Load counters of @o: borrowed until pt_oui_destroy(). Thread: any. */
const uint64_t *pt_oui_stats(const struct pt_oui *o);

/* Classify the 6-byte @mac into *@m (always fully written) and return
 * m->kind. Broadcast, multicast and locally administered addresses are
 * answered as such without a search. Otherwise the longest registered block
 * wins: 36-bit (MA-S, IAB), then 28-bit (MA-M), then 24-bit (MA-L), each a
 * binary search over a sorted array. @o NULL (no registry) answers
 * PT_OUI_UNKNOWN for unicast. No malloc, syscall, lock or log.
 * Thread: any. */
enum pt_oui_kind pt_oui_lookup(const struct pt_oui *o, const uint8_t mac[6],
                               struct pt_oui_match *m);

/* ---------------------------------------------------------------------- */
/* DNS names of addresses (src/enrich/names.c)                            */
/* ---------------------------------------------------------------------- */

/* The record thread's IP -> name cache: what DNS answered for an address,
 * so that a later conn record can say which name its client asked for.
 *
 * Entries: one per address (16 bytes, IPv4 as ::ffff:a.b.c.d), holding the
 * name of the query whose answer gave the address (txn.query: the name the
 * client asked for, not the CNAME target that owns the A record) and an
 * expiry in record time (packet time, never the wall clock): the answer's
 * TTL clamped to [PT_NAMES_TTL_MIN_S, PT_NAMES_TTL_MAX_S] after the
 * transaction's time. A later answer for the same address replaces the
 * name and the expiry (the newest answer is what the client used next).
 *
 * Bounds: @capacity entries of about 300 bytes each (65536: 19 MiB),
 * allocated by pt_names_create() and never again. Full: the least recently
 * learnt or looked-up entry is forgotten (enrich.dns_cache.evicted). An
 * entry found expired by a lookup is dropped then (enrich.dns_cache.expired);
 * expired entries nobody asks for go as the least recently used.
 *
 * Not learnt: transactions without a query name, names cut to the array
 * (query_trunc: a wrong name is worse than none), names under .arpa (a
 * reverse name is never what a client connects to; mDNS responses carry
 * reverse PTR and forward AAAA records in one message), and addresses that
 * are unspecified.
 *
 * Thread: single; all calls on one cache come from its owner (the record
 * thread). No allocation, syscall, lock or log after create. */
#define PT_NAMES_DEFAULT   65536
#define PT_NAMES_TTL_MIN_S 60
#define PT_NAMES_TTL_MAX_S 86400

enum pt_names_stat {
    PT_NAMES_ST_LEARNED = 0, /* enrich.dns_cache.learned: address answers taken in */
    PT_NAMES_ST_REPLACED,    /* enrich.dns_cache.replaced: ... that replaced an entry */
    PT_NAMES_ST_SKIPPED,     /* enrich.dns_cache.skipped: transactions not learnt (above) */
    PT_NAMES_ST_EVICTED,     /* enrich.dns_cache.evicted: full, least recently used dropped */
    PT_NAMES_ST_EXPIRED,     /* enrich.dns_cache.expired: found past its TTL, dropped */
    PT_NAMES_ST_LOOKUPS,     /* enrich.dns_cache.lookups */
    PT_NAMES_ST_HITS,        /* enrich.dns_cache.hits */
    PT_NAMES_ST_MAX
};

/* Stable dotted name of counter @st; "enrich.dns_cache.unknown" out of
 * range. Static string. Thread: any. */
const char *pt_names_stat_name(unsigned st);

struct pt_names; /* opaque */

/* A cache of @capacity entries (0 = PT_NAMES_DEFAULT; at most 2^24).
 * Returns NULL with *@err = -EINVAL or -ENOMEM. Thread: the owner. */
struct pt_names *pt_names_create(uint32_t capacity, int *err);

/* Free @c; NULL is fine. */
void pt_names_destroy(struct pt_names *c);

/* Learn the addresses of DNS transaction @d (d->addr[], d->addr_ttl[];
 * the name is d->txn.query) at record time @ts_ns (the transaction's time).
 * Returns how many addresses were learnt. Thread: the owner. */
unsigned pt_names_learn(struct pt_names *c, const struct pt_app_dns *d, uint64_t ts_ns);

/* The name of @addr at record time @now_ns into @out (NUL-terminated);
 * false (and @out "") when there is none or it expired (then dropped).
 * A hit makes the entry the most recently used. Thread: the owner. */
bool pt_names_lookup(struct pt_names *c, const uint8_t addr[16], uint64_t now_ns,
                     char out[PT_FQDN_MAX]);

/* Fill @r's orig_fqdn and resp_fqdn from the cache as of the flow's first
 * packet (r->ts_ns: the name the client had resolved when it connected);
 * "" when unknown. Thread: the owner. */
void pt_names_fill(struct pt_names *c, struct pt_flow_record *r);

/* Entries in use. Thread: the owner. */
uint32_t pt_names_count(const struct pt_names *c);

/* The counters (PT_NAMES_ST_MAX of them): borrowed until destroy, written
 * with PT_CNT_* so another thread may read them with PT_CNT_GET. */
const uint64_t *pt_names_stats(const struct pt_names *c);

/* Fill @r's orig_cc/resp_cc (country, else registered country) and
 * orig_asn/resp_asn from @g through the owner's cache @gc, for external
 * addresses only (pt_geo_addr_scope); other addresses get "" and 0, as do
 * addresses the databases do not know. @g NULL: all cleared. Returns the
 * number of lookups that met a corrupt database (counted in @gc's stats
 * too). Thread: the owner of @gc. */
int pt_geo_fill_record(const struct pt_geo *g, struct pt_geo_cache *gc, struct pt_flow_record *r);

#endif
