/* capture.h - capture workers and packet sources.
 *
 * A worker is the per-packet stage: it decodes a frame and accounts it to the
 * flow table. Live capture (TPACKET_V3 ring blocks) and offline reading
 * (`packettracer read`) drive the *same* worker code: a source hands the
 * worker a batch ("block") of frames, the worker walks it calling
 * pt_worker_packet() for each frame, then reports a quiescent state once per
 * block (pt_worker_block_done()).
 *
 * Ownership: a worker owns its decode statistics and its pt_flow_worker
 * handle; it is used by exactly one thread, which must be registered with
 * urcu-qsbr (pt_worker_thread_enter()/leave()).
 *
 * Offline input: pt_reader maps classic pcap files (micro- and nanosecond,
 * either byte order) and walks them in place, with libpcap's record checks;
 * it reads pcapng with its own block reader, because libpcap refuses pcapng
 * files whose interfaces have different link types and does not report the
 * interface of a packet. A pipe or device (not a regular file) is read by
 * libpcap as a stream, pcap or pcapng, under libpcap's limits. */
#ifndef PT_CAPTURE_H
#define PT_CAPTURE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "pt/common.h"
#include "pt/decode.h"
#include "pt/flow.h"

#define PT_MAX_IFACES 32 /* interfaces a run can name (flow records keep a 32-bit mask) */

/* Interface names of a run; index = pt_pkt.iface. Owned by the run. */
struct pt_iface_table {
    unsigned n;
    char name[PT_MAX_IFACES][64];
};

/* Find or add @name; returns its index, or -1 when the table is full. */
int pt_iface_table_add(struct pt_iface_table *t, const char *name);

struct pt_worker;

/* Create worker @id attached to flow table @ft (pt_flow_worker_get(ft, id)).
 * Returns NULL and sets *@err on failure. Thread: any, before use. */
struct pt_worker *pt_worker_create(unsigned id, struct pt_flow_table *ft, int *err);
void pt_worker_destroy(struct pt_worker *w);

/* Register the calling thread as the worker's QSBR reader (once per thread),
 * and unregister it. */
void pt_worker_thread_enter(struct pt_worker *w);
void pt_worker_thread_leave(struct pt_worker *w);

/* Decode @p (input fields set) and account it to the flow table.
 * Thread: the worker's own, online. No allocation, no syscall. */
void pt_worker_packet(struct pt_worker *w, struct pt_pkt *p);

/* End of one block of frames: announce a quiescent state (no flow pointer is
 * held across this call). */
void pt_worker_block_done(struct pt_worker *w);

/* Decode statistics of the worker (borrowed; read with PT_CNT_GET). */
const struct pt_decode_stats *pt_worker_decode_stats(const struct pt_worker *w);

/* ---- offline capture files ---- */

struct pt_reader;

/* One record of a capture file. @data is borrowed until the next call. */
struct pt_reader_rec {
    const uint8_t *data;
    uint32_t caplen, wirelen;
    uint64_t ts_ns;
    int linktype;   /* of the interface the record belongs to */
    unsigned ifidx; /* pcapng interface id, 0 for pcap */
};

/* Open @path (pcap or pcapng, detected by magic). Returns NULL and sets *@err
 * (negative errno, PT_E_BADFILE) and a message in @msg on failure. */
struct pt_reader *pt_reader_open(const char *path, int *err, char *msg, size_t msglen);

/* Next record: 1 with @rec filled, 0 at a clean end of file, or a negative
 * error (PT_E_TRUNC for a file cut inside a record, PT_E_BADFILE for a
 * corrupt block) with a message in @msg. After an error the reader is done. */
int pt_reader_next(struct pt_reader *r, struct pt_reader_rec *rec, char *msg, size_t msglen);

/* Name of interface @ifidx: the pcapng if_name, else "FILE#N" (pcapng) or
 * the file name (classic pcap, one interface). Borrowed until the next call. */
const char *pt_reader_ifname(struct pt_reader *r, unsigned ifidx);

void pt_reader_close(struct pt_reader *r);

/* ---- offline pipeline (`packettracer read`) ---- */

struct pt_offline_opts {
    const char *const *files;
    unsigned n_files;
    unsigned workers;           /* >= 1; with > 1, frames go to workers by flow hash */
    struct pt_flow_config flow; /* .workers is set from @workers */
    pt_flow_emit_fn emit;       /* receives every finished flow, in a deterministic order */
    void *emit_arg;
};

struct pt_offline_result {
    uint64_t frames, bytes;           /* records read from the files */
    uint64_t flows;                   /* flow records emitted */
    struct pt_decode_stats decode;    /* summed over workers */
    struct pt_flow_worker_stats flow; /* summed over workers */
    struct pt_iface_table ifaces;
    int file_err; /* first file error (0 when every file read cleanly) */
    char file_msg[256];
};

/* Run the offline pipeline over every file in order. Flow records are
 * emitted through opts->emit as flows end (by packet time) and at the end.
 * Returns 0 when every file was read cleanly; otherwise the first error, with
 * res->file_msg set, after every complete record was processed and every
 * flow emitted. */
int pt_offline_run(const struct pt_offline_opts *opts, struct pt_offline_result *res);

#endif
