/* store.h - the sensor's LMDB store: per-second series with rollups and
 * retention, per-second top-N lists, the flow store, and the schema meta.
 * docs/STORE.md has the design, the figures and the reasons.
 *
 * One LMDB environment in DATADIR/store/ (data.mdb, lock.mdb, writer.lock).
 * One process writes it (the aggregation thread of `run`, or `read -d`); any
 * number of processes read it at the same time (`series`, `flows`, `top`),
 * each read in its own short read transaction, so readers never block the
 * writer and the writer never blocks them (LMDB MVCC). A second writer gets
 * -EBUSY (writer.lock is held with flock for the writer's lifetime).
 *
 * Databases (named, in one environment):
 *   meta      "schema_version" -> u32 BE; "next_series" -> u32 BE;
 *             "last_sec" -> u64 BE (newest second written);
 *             "pend_1m" -> u64 BE: the minute whose 1 s points changed since
 *             its 1 m rollup (absent: none); "pend_1h" -> u64 BE: likewise
 *             the hour whose 1 m rollups changed since its 1 h rollup; every
 *             other bucket's rollup is final. "dropped_old" -> u64 BE
 *             (entries dropped at map_max, all time).
 *   series    name (UTF-8, no NUL) -> u32 BE id      (find a series by name)
 *   series_id u32 BE id -> name                      (list series)
 *   s1        (u32 BE id, u64 BE minute start second) -> the minute's 1 s
 *             points: u64 BE bitmap of the seconds present (bit i: second
 *             minute + i, i < 60), then their values, u64 BE, in second
 *             order (one entry a point would leave LMDB's pages half empty)
 *   m1, h1    (u32 BE id, u64 BE bucket start second) -> struct rollup
 *             (sum, min, max, p95 u64 BE, n u32 BE: number of 1 s points)
 *   top       (u8 kind, u8 res, u64 BE second) -> u8 encoding (1), u8 kind,
 *             u16 BE N (the batch's top_n), then packed BE entries: hosts 40
 *             bytes (addr, bytes, pkts, flows), flows 76 bytes (uid[20],
 *             orig_h, resp_h, orig_p, resp_p, vlan, proto, ver, bytes, pkts)
 *   flows     (u64 BE end time ns, uid[20]) -> encoded flow record
 *   flow_host (u32 BE end second, addr[16], u64 BE end ns, uid[20]) -> empty
 *             (both endpoints)
 *   flow_port (u32 BE end second, u16 BE port, u64 BE end ns, uid[20]) ->
 *             empty (both ports)
 *   ifaces    interface name -> u8 bit (the bits of stored records' ifaces)
 *   live      (u64 BE start ns, uid[20]) -> encoded flow record: the flows still open, as of
 *             their last refresh (struct pt_store_batch.live); emptied when
 *             a writer opens the store; absent in stores made before it (no
 *             schema change: a writer creates it)
 *   hosts     (u8 kind, addr[16]) -> encoded struct pt_device: the device
 *             table (devices.h), each entry as last saved; absent in stores
 *             made before it (no schema change: a writer creates it)
 * Big-endian keys: a range of one series is one cursor walk. The indexes
 * lead with the end second (saturated at 2^32 - 1) so that a second's
 * records land together: with the address or port first, every write would
 * copy nearly every page of both index trees (a query by host or port pays
 * instead one seek per second of its range that holds any flow). uid[20] is
 * the uid's bytes, NUL-padded. A flow record is an explicit versioned
 * encoding (first byte 1) of every field of struct pt_flow_record, IPv4
 * addresses in 4 bytes and counters as varints (docs/STORE.md has the
 * layout); the index keys of a record whose two endpoints (or ports) are
 * equal are one key.
 *
 * Series names: "<metric>" for the sensor total, "<metric>{<dim>=<value>}"
 * for one interface, VLAN or protocol, e.g. "bytes", "packets{iface=eth0}",
 * "bytes{vlan=100}", "bytes{vlan=none}", "packets{proto=tcp}". A new series
 * is only a new name: pt_store_series_id() creates it on first use.
 *
 * Writing a second again replaces what was stored for it (points, top lists,
 * and flows with the same end time and uid), so reading the same capture
 * twice into one store gives the same store as reading it once.
 *
 * Rollups: a minute's 1 m point per series is computed from its 1 s points
 * (sum, min, max, p95 over the 1 s values; n = number of 1 s points; p95 is
 * the nearest rank: the ceil(0.95 n)-th smallest value). It is computed in
 * the transaction that first writes another minute after it was written
 * (in a run: the first write of the next minute), and so again after one of
 * its seconds is rewritten, once the writes have moved on; until then its
 * 1 m point is absent or stale (meta pend_1m names it). An hour's 1 h point
 * is computed from its 1 m points the same way, in the transaction that
 * first writes another hour (sum, min, max and n of the minutes; p95 from the
 * hour's 1 s points while all of them are kept, else the max of the minutes'
 * p95). A bucket left with no point loses its rollup. The 1 m top lists are
 * merged the same way (pt_store_top_read()). pt_store_finish() rolls up the
 * last, partial, minute and hour.
 *
 * Retention: data older than the newest second written minus the retention
 * of its resolution is deleted (1 s points and 1 s top lists: keep_s[1S];
 * 1 m points and lists: keep_s[1M]; 1 h: keep_s[1H]) in the transaction that
 * moves the newest second into a new minute: 1 s points a whole minute at a
 * time, once its last second is that old; a 1 m / 1 h bucket once its end
 * is. Flow records go by end time (keep_flows_s) in every write, at most
 * max(10000, 2 x the batch's flows) records per write, so a backlog is
 * worked off without one long write. Retention never deletes points a
 * pending rollup still needs (1 s from pend_1m on, 1 m from pend_1h on). A
 * retention of 0 keeps that data forever. Live records are not aged: a flow's
 * finished record deletes its live one, and a writer's open empties "live".
 *
 * Map size: the map starts at map_size and doubles when a write finds it
 * full (several times at once when the batch needs it), up to map_max less
 * a headroom of map_max / 16 (at least 128 KiB, at most 64 MiB), kept for
 * the deletions below. When it is full there, a batch larger than the whole
 * map is lost at once, dropping nothing; otherwise the oldest tenth of the
 * 1 s points and 1 s top lists (by time, whole minutes, never the pending
 * minute) and of the flow records (by count, in transactions sized to the
 * headroom) is dropped, and the batch is tried once more. A batch that still
 * does not fit is lost as a whole (counted, logged at most once per minute);
 * what was committed before is never touched except by that drop. Nothing
 * here exits or aborts. The data file never grows beyond map_max.
 *
 * Crash safety: every write is one LMDB transaction, with the meta keys it
 * changes; after kill -9 the store opens with every committed second intact
 * and the next write carries on the pending rollups. With cfg.nosync commits
 * are not fsync'd (safe against a killed process, not against power loss);
 * pt_store_close() syncs.
 *
 * Threads: a writer handle is used by one thread at a time for the write
 * calls; the read calls may be made on any handle (the writer's too) from
 * any thread (each call uses its own read transaction; MDB_NOTLS). Handles
 * of one store in one process share one LMDB environment (LMDB forbids
 * opening an environment twice in a process): open the writer first; a
 * writer opened while a read-only handle of the store is open in the same
 * process gets -EBUSY. While the writer grows the map it waits for the
 * read transactions of its own process to end, so keep read callbacks short
 * and never call a write function from one.
 *
 * Errors: 0 or a negative errno (-ENOMEM, -EIO, -ENOENT, -ENOSPC, -EBUSY:
 * another writer, or too many readers; -EROFS: a write call on a read-only
 * handle; -E2BIG: one transaction too large for LMDB), or PT_E_BADFILE (not
 * a store, or a newer schema), PT_E_FULL (map full and the batch lost),
 * PT_E_BADARG; LMDB's own codes are mapped to these and the LMDB message
 * goes in the store's log line. */
#ifndef PT_STORE_H
#define PT_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pt/devices.h"
#include "pt/flow.h"

#define PT_STORE_SCHEMA  2 /* current schema version; see pt_store_open() */
#define PT_STORE_NAMELEN 96

enum pt_store_res {
    PT_RES_1S = 0,
    PT_RES_1M,
    PT_RES_1H,
    PT_RES_N,
};

struct pt_store_config {
    uint64_t map_size; /* initial map size, bytes (default 64 MiB; >= 64 KiB) */
    uint64_t map_max;  /* the map grows up to this (default 16 GiB); >= map_size, >= 1 MiB */
    uint64_t keep_s[PT_RES_N]; /* retention per resolution, seconds (48 h, 30 d, 730 d); 0 =
                                * forever */
    uint64_t keep_flows_s;     /* flow records, by end time (default 30 d); 0 = forever */
    bool nosync;               /* no fsync per commit (offline `read -d`) */
};

void pt_store_config_default(struct pt_store_config *cfg);

struct pt_store;

/* Open the store in @dir/store (created, with @dir, when @readonly is false).
 * A writer upgrades an older schema in place, in one transaction, before it
 * returns (version 1 had no flow_port index: it is built from the flows).
 * A reader of an older schema gets PT_E_BADFILE ("run the sensor once to
 * upgrade"); any opener of a newer schema gets PT_E_BADFILE and the file is
 * not changed. @cfg may be NULL (defaults); readers ignore it (they map what
 * the writer made). Returns NULL and sets *@err and @msg (may be NULL) on
 * failure: -ENOENT (a reader and no store), -EBUSY (another writer; see
 * Threads above), PT_E_BADFILE, PT_E_BADARG (bad map sizes), -errno. */
struct pt_store *pt_store_open(const char *dir, const struct pt_store_config *cfg, bool readonly,
                               int *err, char *msg, size_t msglen);

/* Sync (writer) and close. NULL ok. */
void pt_store_close(struct pt_store *s);

/* ---- writing (one thread: the aggregation thread) ---- */

/* Id of series @name, created on first use (its own small transaction; the
 * writer caches every name, so a known name costs no LMDB call). Ids start
 * at 1. PT_E_BADARG when @name is empty or longer than PT_STORE_NAMELEN - 1;
 * -EROFS on a read-only handle. */
int pt_store_series_id(struct pt_store *s, const char *name, uint32_t *id);

struct pt_store_point {
    uint32_t series;
    uint64_t value;
};

/* Top-N lists, one per kind and second. */
enum pt_top_kind {
    PT_TOP_HOSTS = 0, /* hosts: the union of the top N by bytes, by packets and by flows */
    PT_TOP_FLOWS,     /* flows: the top N by bytes */
    PT_TOP_N_KINDS,
};

struct pt_top_host {
    uint8_t addr[16]; /* IPv4 as ::ffff:a.b.c.d */
    uint64_t bytes;   /* IP bytes sent and received in the second */
    uint64_t pkts;
    uint64_t flows; /* flows of the host that carried packets in the second */
};

struct pt_top_flow {
    char uid[20];
    uint8_t orig_h[16], resp_h[16];
    uint16_t orig_p, resp_p;
    uint16_t vlan; /* PT_VLAN_NONE when untagged */
    uint8_t proto, ver;
    uint64_t bytes, pkts; /* both directions, in the second */
};

/* Everything the aggregation thread has for one second. Arrays are borrowed
 * for the call. */
struct pt_store_batch {
    uint64_t sec; /* epoch second the points and lists belong to */
    const struct pt_store_point *points;
    size_t n_points;
    const struct pt_top_host *hosts;
    size_t n_hosts;
    const struct pt_top_flow *tflows;
    size_t n_tflows;
    const struct pt_flow_record *flows; /* finished flows (any end time) */
    size_t n_flows;
    /* Interface names of the run: bit i of a record's ifaces names
     * ifnames[i]. The store keeps its own table of interface names (db
     * "ifaces": name -> bit, at most 32, first come) and stores each record
     * with its bits remapped to it; an interface beyond 32 maps to bit 31.
     * A bit with no name here (i >= n_ifnames, NULL or "") is named "if<i>";
     * names are kept to 63 bytes. */
    const char *const *ifnames;
    unsigned n_ifnames;
    /* N the top lists were cut at (the agg's top_n): stored with each list,
     * and the 1 m merge keeps as many. 0: the merge keeps as many as the
     * longest 1 s list of the minute. */
    unsigned top_n;
    /* Flows still open: their record as of this second (end_reason
     * PT_FLOW_END_LIVE), written to db "live" under (start, uid), replacing the
     * previous one (the later of one uid in the batch wins; ifaces remapped
     * as for @flows). A uid in @flows (it ended) is deleted from "live" in
     * the same transaction, and a record here with that uid is not written. */
    const struct pt_flow_record *live;
    size_t n_live;
};

/* Write one second in one transaction, with its rollups and retention.
 * Returns 0, or PT_E_FULL when the batch could not fit even after growing
 * the map and dropping old data (the batch is lost; counted), or another
 * error (the batch is lost; counted): PT_E_BADARG for a point whose series
 * id pt_store_series_id() did not give, or a NULL array with a count.
 * -EROFS on a read-only handle. The store stays usable either way. */
int pt_store_write(struct pt_store *s, const struct pt_store_batch *b);

/* Roll up the pending (last, partial) minute and hour; call at the end of a
 * run. Writing may go on afterwards (a later write into the same minute
 * makes it pending again). -EROFS on a read-only handle. */
int pt_store_finish(struct pt_store *s);

struct pt_store_stats {
    uint64_t txns;           /* committed write transactions */
    uint64_t points;         /* 1 s points written */
    uint64_t flows;          /* flow records written */
    uint64_t live;           /* live flow records written (db "live"; each refresh counts) */
    uint64_t hosts;          /* device entries written (db "hosts"; each save counts) */
    uint64_t map_grows;      /* times the map was doubled */
    uint64_t map_full;       /* writes that found the map full at map_max */
    uint64_t dropped_old;    /* entries deleted to make room at map_max (1 s minute blocks,
                              * top lists, flow records) */
    uint64_t lost_batches;   /* batches not stored (map full or an error) */
    uint64_t retention_dels; /* entries deleted by retention (1 s minute blocks, rollups, top
                              * lists, flow records) */
    uint64_t map_size;       /* current map size, bytes */
};

/* Counters of this handle (writer; a reader's are 0 but map_size). Thread:
 * the writer's. */
void pt_store_stats(const struct pt_store *s, struct pt_store_stats *st);

/* ---- reading (any process, any thread, any handle) ----
 * A @to (or to_ns) of 0 means no upper bound. */

/* Id of series @name; -ENOENT when the store has none. */
int pt_store_series_find(struct pt_store *s, const char *name, uint32_t *id);

/* Call @cb for every series whose name starts with @prefix ("" = all), in
 * name order. A non-zero return from @cb stops the walk and is returned. */
int pt_store_series_list(struct pt_store *s, const char *prefix,
                         int (*cb)(const char *name, uint32_t id, void *arg), void *arg);

/* One point as read: at 1 s, sum = min = max = p95 = the value and n = 1. */
struct pt_store_value {
    uint64_t ts; /* epoch second (bucket start for 1 m / 1 h) */
    uint64_t sum, min, max, p95;
    uint32_t n;
};

/* Call @cb for each point of series @id at resolution @res with
 * @from <= ts < @to, in time order, in one read transaction. A non-zero
 * return from @cb stops the walk and is returned. */
int pt_store_series_read(struct pt_store *s, uint32_t id, enum pt_store_res res, uint64_t from,
                         uint64_t to, int (*cb)(const struct pt_store_value *v, void *arg),
                         void *arg);

/* Call @cb for each stored top list of @kind with @from <= second < @to at
 * @res (PT_RES_1S; PT_RES_1M holds each minute's merged list: entries
 * summed per host / per uid over the minute's 1 s lists, then cut as the
 * agg cuts a second's: hosts, the union of the top N by bytes, packets and
 * flows, ordered by bytes; flows, the top N by bytes), in time order.
 * @entries points at n struct pt_top_host (PT_TOP_HOSTS) or struct
 * pt_top_flow (PT_TOP_FLOWS), borrowed for the call. A non-zero return from
 * @cb stops the walk and is returned. PT_E_BADARG for PT_RES_1H. */
int pt_store_top_read(struct pt_store *s, enum pt_top_kind kind, enum pt_store_res res,
                      uint64_t from, uint64_t to,
                      int (*cb)(uint64_t sec, const void *entries, size_t n, void *arg), void *arg);

struct pt_store_flow_query {
    uint64_t from_ns, to_ns; /* end time range, [from, to) */
    bool by_host;
    uint8_t host[16]; /* IPv4 as ::ffff:a.b.c.d */
    bool by_port;
    uint16_t port;
    const char *uid; /* NULL, or only the flow with this uid */
};

/* Call @cb for each stored flow record matching @q (host and port: either
 * endpoint), in end-time order, in one read transaction. A query by host
 * walks flow_host, by port flow_port (both when given: the host index,
 * filtered); uid alone has no index and reads every record of the time
 * range. Records' ifaces are the store's bits (pt_store_ifnames()). @rec is
 * borrowed for the call. A non-zero return from @cb stops the walk and is
 * returned. */
int pt_store_flows_read(struct pt_store *s, const struct pt_store_flow_query *q,
                        int (*cb)(const struct pt_flow_record *rec, void *arg), void *arg);

/* Call @cb for each flow still open as the writer last saw it (db "live"),
 * matching @q's host, port and uid (its time range applies to the records'
 * start time, ts_ns), in start-time order, in one read transaction. Records carry
 * end_reason PT_FLOW_END_LIVE and their counts as of their last refresh;
 * ifaces are the store's bits, as for pt_store_flows_read(). A writer
 * clears "live" when it opens the store (a new run starts with an empty
 * flow table), so after the writer is gone readers see its last view until
 * the next writer opens. A store made before "live" existed reads as no
 * live flows (0, no call) until a writer has opened it. @rec is borrowed
 * for the call. A non-zero return from @cb stops the walk and is
 * returned. */
int pt_store_live_read(struct pt_store *s, const struct pt_store_flow_query *q,
                       int (*cb)(const struct pt_flow_record *rec, void *arg), void *arg);

/* ---- devices (db "hosts") ---- */

/* Write @n device entries (borrowed for the call) in one transaction, each
 * replacing the stored entry of its (kind, address). Entries are never
 * aged out (the device table is bounded; the store keeps every entry it
 * was given, as last given). The map grows as for pt_store_write(); a
 * batch that cannot fit is lost: PT_E_FULL. PT_E_BADARG for an entry whose
 * kind is not PT_DEV_MAC/PT_DEV_IP (nothing written). -EROFS on a
 * read-only handle. Thread: the writer's (the record thread is the
 * aggregation thread, which writes the store). */
int pt_store_hosts_put(struct pt_store *s, const struct pt_device *d, size_t n);

/* Call @cb for every stored device entry, in key order (MAC entries, then
 * IP entries, each by address), in one read transaction. @d is borrowed
 * for the call. A store made before "hosts" reads as empty (0, no call)
 * until a writer has opened it. Entries that do not decode are skipped
 * and counted in one warning. A non-zero return from @cb stops the walk
 * and is returned. */
int pt_store_hosts_read(struct pt_store *s, int (*cb)(const struct pt_device *d, void *arg),
                        void *arg);

/* Oldest and newest second holding a point of any series: the span of the
 * 1 s points, extended back by the 1 m buckets that lie wholly before the
 * oldest 1 s point and then by such 1 h buckets (data whose 1 s points have
 * aged out; such a bucket counts from its start). With no 1 s point at all,
 * the newest is the newest bucket's start. -ENOENT when the store holds no
 * point. */
int pt_store_span(struct pt_store *s, uint64_t *first, uint64_t *last);

/* Interface names of the store's records: names[i] for bit i (an empty
 * string when unused); *@n gets one past the highest bit in use. */
int pt_store_ifnames(struct pt_store *s, char names[32][64], unsigned *n);

/* Size of the environment's data file in bytes (for the bench). */
uint64_t pt_store_file_size(const struct pt_store *s);

#endif
