/* internal.h - private to src/store: the per-process environment, the
 * writer's state, key and value codecs, and the helpers the store files
 * share (env.c, series.c, top.c, flows.c, live.c, write.c). Nothing here is
 * part of the public contract; include/pt/store.h is. */
#ifndef PT_STORE_INTERNAL_H
#define PT_STORE_INTERNAL_H

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#include <lmdb.h>

#include "pt/store.h"

#define STORE_SCHEMA_V1 1 /* no flow_port */

/* Named databases, in this order in store_db_name[]. */
enum store_db {
    DB_META = 0,
    DB_SERIES,
    DB_SERIES_ID,
    DB_S1,
    DB_M1,
    DB_H1,
    DB_TOP,
    DB_FLOWS,
    DB_FLOW_HOST,
    DB_FLOW_PORT,
    DB_IFACES,
    DB_LIVE,  /* not in stores made before it: optional to readers (env.c) */
    DB_HOSTS, /* likewise (hosts.c) */
    DB_N,
};

extern const char *const store_db_name[DB_N];

/* Key and value sizes (store.h has the layouts). */
#define UID_LEN       20
#define KEY_POINT_LEN 12           /* id u32, ts u64 */
#define BLK_MAX       (8 + 60 * 8) /* s1 block: bitmap, up to 60 values */
#define ROLLUP_LEN    36           /* sum, min, max, p95 u64, n u32 */
#define KEY_TOP_LEN   10           /* kind u8, res u8, sec u64 */
#define KEY_FLOW_LEN  28           /* end ns u64, uid[20] */
#define KEY_HOST_LEN  48           /* end second u32, addr[16], end ns u64, uid[20] */
#define KEY_PORT_LEN  34           /* end second u32, port u16, end ns u64, uid[20] */
#define NSEC          1000000000ull
/* Room for one encoded flow record (flowenc.c); the longest is 956 bytes:
 * 262 of version 1 fields, 1 app, 92 health (mask 5, seven u8, three times
 * of 10, ten u16 varints of 3, four u32 varints of 5), 529 enrichment
 * (mask 1, two FQDNs of 256, two cc of 3, two ASNs of 5) and 72 RTP (per
 * direction: flags 1, ssrcs 5, lost 10, two jitters of 10). */
#define FLOW_ENC_MAX   1024
#define STORE_IFACES   32
#define STORE_IFNAMLEN 64

/* One LMDB environment as this process has it open. Handles of the same
 * store in one process share it (LMDB forbids opening an environment twice
 * in a process: the second open re-initialises the lock file under the
 * first). Registry and refs are guarded by the registry mutex in env.c. */
struct store_env {
    struct store_env *next;
    dev_t dev;
    ino_t ino;
    pid_t pid; /* entries inherited over fork() are never used */
    unsigned refs;
    bool rdonly;
    bool has_writer;
    MDB_env *env;
    MDB_dbi dbi[DB_N];
    /* dbi[DB_LIVE] / dbi[DB_HOSTS] are valid (atomic: a reader may open
     * them after the env) */
    bool has_live;
    bool has_hosts;
    /* Read txns and the writer's txns hold it shared; mdb_env_set_mapsize()
     * holds it exclusive (it needs no txn of this process open). */
    pthread_rwlock_t lock;
};

/* The writer's view of meta. A txn works on a copy; the copy replaces it
 * when the txn commits. */
struct store_meta {
    uint32_t next_series;
    bool has_last, has_p1m, has_p1h;
    uint64_t last_sec; /* newest second written */
    uint64_t p1m;      /* minute with 1 s points not rolled up yet */
    uint64_t p1h;      /* hour with 1 m points not rolled up yet */
    uint64_t dropped;  /* entries dropped at map_max, all time */
};

/* Series name -> id (open addressing, load <= 1/2). */
struct series_map {
    char **name;
    uint32_t *id;
    size_t cap, n;
};

/* One flow of a batch, encoded (flows.c). */
struct flow_ent {
    uint8_t key[KEY_FLOW_LEN];
    uint8_t seq[4];    /* position in the batch, big-endian: sorts after the key */
    uint32_t off, len; /* encoded record in the prep buffer */
};

/* A batch's flows prepared outside the txn (flows.c). */
struct flow_prep {
    struct flow_ent *ent;
    size_t n, cap;
    uint8_t *buf;
    size_t buf_cap;
    uint8_t *hkeys; /* KEY_HOST_LEN each, sorted, unique */
    size_t n_h, cap_h;
    uint8_t *pkeys; /* KEY_PORT_LEN each, sorted, unique */
    size_t n_p, cap_p;
    uint32_t ifmap[STORE_IFACES];              /* run bit -> store bit mask */
    char new_if[STORE_IFACES][STORE_IFNAMLEN]; /* names this batch adds ... */
    uint8_t new_bit[STORE_IFACES];             /* ... at these bits */
    unsigned n_new_if;
    uint64_t bytes; /* keys + values + node overhead, all dbs */
};

/* A live record of a batch (live.c): its key, its place in the batch, and
 * its encoding in the prep buffer once it survived the dedup. */
#define LIVE_KEY_LEN (8 + UID_LEN) /* "live" keys: u64 BE start ns, then the uid */

struct live_ent {
    uint8_t key[LIVE_KEY_LEN];
    uint8_t seq[4]; /* position in the batch, big-endian: sorts after the key */
    uint32_t off, len;
};

/* A batch's live records and ended uids prepared outside the txn (live.c). */
struct live_prep {
    struct live_ent *ent; /* sorted by key (start, uid), unique, none of them ended */
    size_t n, cap;
    uint8_t *buf;
    size_t buf_cap;
    uint8_t *dead; /* LIVE_KEY_LEN each: the keys of the batch's flows, sorted, unique */
    size_t n_dead, cap_dead;
    uint64_t bytes; /* keys + values + node overhead */
};

struct pt_store {
    struct store_env *e;
    bool readonly;
    char dir[PATH_MAX]; /* DIR/store */
    /* writer only */
    struct pt_store_config cfg;
    int lock_fd;
    struct store_meta meta;
    struct pt_store_stats st;
    uint64_t map_soft; /* writes run with the map at most this; the rest is headroom */
    struct series_map smap;
    char ifname[STORE_IFACES][STORE_IFNAMLEN];
    unsigned n_if;
    struct flow_prep fp;
    struct live_prep lp;
    uint64_t *scratch;                /* rollup values (3600) */
    uint64_t log_ns, log_quiet;       /* lost batches */
    uint64_t drop_log_ns, drop_quiet; /* drops at map_max */
};

/* One write transaction in progress. */
struct store_wtxn {
    struct pt_store *s;
    MDB_txn *txn;
    struct store_meta m; /* tentative */
    uint64_t points, flows, live, hosts, ret_dels, dropped;
};

/* ---- byte order ---- */
static inline void be16_put(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static inline void be32_put(uint8_t *p, uint32_t v)
{
    for (int i = 3; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}
static inline void be64_put(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}
static inline uint16_t be16_get(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}
static inline uint32_t be32_get(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline uint64_t be64_get(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

static inline MDB_val mval(const void *p, size_t n)
{
    MDB_val v = {.mv_size = n, .mv_data = (void *)p};
    return v;
}

static inline uint64_t sat_sub(uint64_t a, uint64_t b)
{
    return a > b ? a - b : 0;
}

/* A uid as the keys hold it: its bytes (at most UID_LEN - 1), NUL-padded. */
static inline void uid_pad(uint8_t out[UID_LEN], const char *uid)
{
    memset(out, 0, UID_LEN);
    memcpy(out, uid, strnlen(uid, UID_LEN - 1));
}

/* ---- env.c ---- */

/* Map an LMDB return code to 0 / -errno / PT_E_*: MDB_MAP_FULL is
 * PT_E_FULL, file problems PT_E_BADFILE, MDB_NOTFOUND -ENOENT. The LMDB
 * code is kept (per thread) for store_mdb_msg(). */
int store_err(int mdb_rc);
const char *store_mdb_msg(void);

/* Begin / end a read txn of @s (any handle, any thread): handles
 * MDB_MAP_RESIZED (the writer grew the map) by following the new size. */
int store_rd_begin(struct pt_store *s, MDB_txn **txn);
void store_rd_end(struct pt_store *s, MDB_txn *txn);

typedef int (*store_body_fn)(struct store_wtxn *w, void *arg);

/* Run @body in one write txn and commit; on a full map (PT_E_FULL from the
 * body or the commit) grow the map, by doubling, up to the soft limit and
 * run it again. @est: bytes the body will add (for the growth step).
 * Returns 0, PT_E_FULL (still full at the limit) or another error. */
int store_write_run(struct pt_store *s, store_body_fn body, void *arg, uint64_t est);

/* Run @body in one write txn and commit; no growth. */
int store_write_once(struct pt_store *s, store_body_fn body, void *arg);

/* Set the map to map_max (@hard: the deletions that make room use the
 * headroom) or back to map_soft (LMDB keeps it at least as large as the
 * pages in use). */
int store_map_hard(struct pt_store *s, bool hard);
uint64_t store_headroom(const struct pt_store *s);

/* The "live" db of @s's store: 1 and *@dbi when it exists, 0 when the
 * store has none (made before it; a reader opens it once a writer made it),
 * or an error. Any thread. */
int store_live_dbi(struct pt_store *s, MDB_dbi *dbi);

/* The same for the "hosts" db (hosts.c). */
int store_hosts_dbi(struct pt_store *s, MDB_dbi *dbi);

/* Whether @db is one of the databases stores made before it lack (live,
 * hosts): a writer creates it, a reader does without. */
static inline bool store_db_optional(int db)
{
    return db == DB_LIVE || db == DB_HOSTS;
}

/* Commits fsync'd (@on) or not, unless cfg.nosync made them never so. */
void store_sync_commits(struct pt_store *s, bool on);

/* Whether a rate-limited line is due (once a minute); updates *@last_ns. */
bool store_log_due(uint64_t *last_ns);

/* Log a lost batch (rate-limited: once a minute, with the number kept quiet). */
void store_log_lost(struct pt_store *s, uint64_t sec, int rc, const char *why);

int meta_get_u64(MDB_txn *txn, MDB_dbi dbi, const char *name, uint64_t *v, bool *found);
int meta_put_u64(MDB_txn *txn, MDB_dbi dbi, const char *name, uint64_t v);
int meta_put_u32(MDB_txn *txn, MDB_dbi dbi, const char *name, uint32_t v);
int meta_del(MDB_txn *txn, MDB_dbi dbi, const char *name);

/* ---- points.c ---- */
void point_key(uint8_t k[KEY_POINT_LEN], uint32_t id, uint64_t ts);
/* Whether @d is a well-formed s1 block. */
bool blk_ok(const MDB_val *d);
/* Values (and their seconds, when @secs) of block @d of minute @m with
 * second in [@from, @to), in second order; returns how many (<= 60). */
size_t blk_values(const MDB_val *d, uint64_t m, uint64_t from, uint64_t to, uint64_t *secs,
                  uint64_t *vals);
void rollup_put(uint8_t b[ROLLUP_LEN], const struct pt_store_value *r);
void rollup_get(const uint8_t b[ROLLUP_LEN], struct pt_store_value *r);

/* ---- series.c ---- */
int series_map_load(struct pt_store *s, MDB_txn *txn);
void series_map_free(struct series_map *m);
bool series_id_valid(const struct pt_store *s, uint32_t id);
int series_points_put(struct store_wtxn *w, const struct pt_store_batch *b, bool rewrite);
int series_roll_minute(struct store_wtxn *w, uint64_t m);
int series_roll_hour(struct store_wtxn *w, uint64_t h);
int series_retain(struct store_wtxn *w, uint64_t cut_s1, uint64_t cut_m1, uint64_t cut_h1);
/* Oldest second of any 1 s point; -ENOENT when none. */
int series_first_s1(struct store_wtxn *w, uint64_t *first);
int series_drop_before(struct store_wtxn *w, uint64_t cut);

/* ---- top.c ---- */
int top_put(struct store_wtxn *w, const struct pt_store_batch *b, bool rewrite);
int top_merge_minute(struct store_wtxn *w, uint64_t m);
int top_retain(struct store_wtxn *w, uint64_t cut_1s, uint64_t cut_1m);
int top_first_1s(struct store_wtxn *w, uint64_t *first);
int top_drop_before(struct store_wtxn *w, uint64_t cut);

/* ---- flowenc.c ---- */
/* Encode @r (version 2) into @out, which has room for FLOW_ENC_MAX bytes,
 * with @ifaces as its interface bits. Returns the length. Strings are cut
 * to their field size - 1; health is kept only when valid. */
size_t flow_encode(uint8_t *out, const struct pt_flow_record *r, uint32_t ifaces);
/* Decode the @n bytes at @p (version 1 or 2) into @r. 0, or PT_E_BADFILE
 * when they are not exactly one well-formed record (then @r is zeroed). */
int flow_decode(const uint8_t *p, size_t n, struct pt_flow_record *r);

/* The index-relevant part of an encoded record. */
struct flow_tuple {
    uint8_t h[2][16];
    uint16_t p[2];
};

/* Read the tuple of the encoded record at @p (@n bytes) without decoding
 * the rest. 0, or PT_E_BADFILE when it is not a record's head. */
int flow_tuple_peek(const uint8_t *p, size_t n, struct flow_tuple *t);

/* ---- flows.c ---- */
/* Make *@p hold at least @want elements of @sz bytes (doubling). */
int prep_grow(void **p, size_t *cap, size_t want, size_t sz);
/* Sort @n rows of @size (<= 64) bytes in place by their first @klen bytes. */
void rows_sort(uint8_t *base, size_t n, size_t size, size_t klen);
/* Sort @n keys of @len bytes and drop repeats; returns the new count. */
size_t sort_uniq(uint8_t *keys, size_t n, size_t len);
/* A run's ifaces bits as the store's (the map flows_prepare() built). */
uint32_t ifaces_remap(const struct flow_prep *fp, uint32_t v);
int flows_prepare(struct pt_store *s, const struct pt_store_batch *b);
void flow_prep_free(struct flow_prep *fp);
int flows_put(struct store_wtxn *w);
/* Delete the records ending before @cut_ns (a whole second; 0: none), at
 * most about @budget (it finishes the second it is in). */
int flows_retain(struct store_wtxn *w, uint64_t cut_ns, uint64_t budget);
/* Delete the @n oldest records (and the rest of the last one's second). */
int flows_drop_oldest(struct store_wtxn *w, uint64_t n);
int flows_build_port_index(MDB_txn *txn, const MDB_dbi *dbi);
int ifaces_load(struct pt_store *s, MDB_txn *txn);
void ifaces_commit(struct pt_store *s);

/* ---- live.c ---- */
/* Encode and sort the batch's live records, drop those whose uid ended in
 * the batch, and collect the ended uids. After flows_prepare() (it builds
 * the interface map). */
int live_prepare(struct pt_store *s, const struct pt_store_batch *b);
/* flows.c: walk @dbi, keyed (u64 BE time, uid[20]) -> encoded flow record
 * ("flows": end time; "live": start time), over q's [from_ns, to_ns) of the
 * key's time, in key order, keeping the records that match q's uid, host and
 * port. Returns @cb's non-zero return, 0, or an error; *@bad gets the number
 * of records that could not be decoded (skipped). Caller holds @txn. */
int flow_query_walk(MDB_txn *txn, MDB_dbi dbi, const struct pt_store_flow_query *q,
                    int (*cb)(const struct pt_flow_record *rec, void *arg), void *arg,
                    uint64_t *bad);

void live_prep_free(struct live_prep *lp);
/* Delete the ended uids from "live" and put the live records. */
int live_put(struct store_wtxn *w);
/* Empty "live" (a writer's open); *@n gets how many records it held. */
int live_clear(MDB_txn *txn, MDB_dbi dbi, uint64_t *n);

#endif
