/* extract.c - the ring's read side, part two: pt_ring_extract(), the packets
 * of a time range, host, port, VLAN, flow and BPF expression, as pcap or
 * pcapng.
 *
 * DESIGN
 * 1. Plan, in one read transaction of the index (read_internal.h): the
 *    segments whose span meets [from, to) (segs); in each, the parts of
 *    blocks (format.h "Parts") that the key lists of the query's host,
 *    port, VLAN and flow hash all name (one get per key and segment; the
 *    lists are ascending, so intersecting is a merge), in blocks whose span
 *    meets the range; without a key, every block whose span meets it,
 *    whole. Each run of neighbouring parts is one read. Every block and its
 *    parts are checked against the segment's committed valid_len before
 *    anything is read, and the interface names come along for pcapng. The
 *    transaction then ends: the rest reads files only, and the writer is
 *    held back no longer than the plan takes.
 * 2. The filter is compiled once per link type of the planned segments,
 *    with pcap_open_dead() at the largest snaplen, before any output is
 *    written. On a link type where the expression can match nothing,
 *    libpcap 1.10 refuses it ("expression rejects all packets"), and some
 *    expressions do not apply to some link types ("vlan" on raw IP): that
 *    link type's packets are all rejected. An expression that compiles for
 *    none of them is -EINVAL with libpcap's message.
 * 3. Reading. Candidates (blocks, or runs of parts: a part carries its
 *    block's span, a bound for its packets) are sorted by their first
 *    packet time and read one at a time with pread() (never past
 *    valid_len), the next ones (up to 64 or 32 MiB) announced with
 *    POSIX_FADV_WILLNEED so that the disk reads them in parallel while we
 *    walk this one. Each record is bounds-checked against what was read (a
 *    record that overruns it, a time outside the block's span, a whole
 *    block whose record count disagrees with the index, a file shorter
 *    than the index says: PT_E_BADFILE / PT_E_TRUNC with a message), then
 *    kept when its time is in range, its decoded layers carry the query's
 *    keys exactly (the index is per part, and flow hashes collide), and the
 *    filter accepts it. A kept packet is a reference into its read buffer,
 *    which lives until its last kept packet is written.
 * 4. Order: a min-heap of references by (time, segment seq, file offset),
 *    which is write order for ties. After block i is read, every
 *    reference older than block i+1's first time is written: no block not
 *    yet read can hold an older packet. Memory is therefore the kept
 *    packets of blocks whose spans overlap, not the whole result.
 * 5. Output: pcap with the nanosecond magic, snaplen the largest of the
 *    planned segments', link type of the first packet written (packets of
 *    another link type are skipped and counted); or pcapng: a section
 *    header, an interface block per (interface, link type) as they first
 *    appear (if_name from meta "iface", if_tsresol 9), enhanced packet
 *    blocks. Host byte order, like the segments.
 * 6. A segment the writer recycles after the plan has lost its packets:
 *    skipped, with a warning in the log. Its file is gone when we open it,
 *    or, opened before, it may be rewritten under us: the writer renames a
 *    recycled file to the new segment's name before it writes a byte into
 *    it (writer.c DESIGN 3), so after every read the name is looked up
 *    again (stat, same inode), and a read is trusted only when the name
 *    was still there after it. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pt/decode.h"
#include "read_internal.h"

#define NSEC            1000000000ull
#define BLK_MAX         (1u << 30)  /* larger than any staging chunk */
#define PREFETCH_BLOCKS 64u         /* read-ahead window: blocks ... */
#define PREFETCH_BYTES  (32u << 20) /* ... and bytes */
#define IFNAME_MAX      64

/* pcapng */
#define NG_SHB        0x0A0D0D0Au
#define NG_IDB        0x00000001u
#define NG_EPB        0x00000006u
#define NG_BOM        0x1A2B3C4Du
#define NG_OPT_END    0
#define NG_IF_NAME    2
#define NG_IF_TSRESOL 9

struct seg {
    uint64_t seq;
    struct ring_seg_rec r;
    int fd;           /* -1: not open (yet, or any more) */
    uint32_t pending; /* planned blocks not read yet */
    int filt;         /* index in ex.filt, -1 without a filter */
    bool gone;        /* recycled under us (DESIGN 6) */
    dev_t dev;        /* the file opened (DESIGN 6) */
    ino_t ino;
};

/* What to read: a whole block, or a run of its parts (format.h "Parts"). */
struct cand {
    uint64_t first_ns, last_ns, off; /* the block's span (bounds for its parts) */
    uint32_t len, packets, blk;      /* packets: the block's, checked when whole */
    uint32_t seg;                    /* index in ex.segs */
    uint16_t iface;
    bool whole;
};

/* A block read into memory, kept while references point into it. */
struct buf {
    uint32_t refs;
    uint8_t data[];
};

/* A kept packet waiting for its turn (DESIGN 4). */
struct ref {
    uint64_t ts, seq, off; /* time, then write order */
    struct buf *b;
    uint32_t pos; /* its record header in b->data */
    uint32_t seg;
    uint16_t iface;
};

struct filt {
    int linktype;
    bool none; /* rejects every packet of this link type */
    bool bad;  /* ... because the expression does not compile for it */
    struct bpf_program prog;
};

struct ifname {
    uint16_t iface;
    char name[IFNAME_MAX];
};

struct idb {
    uint16_t iface;
    uint32_t linktype;
};

struct ex {
    const char *dir;
    const struct pt_ring_query *q;
    char *msg;
    size_t msglen;
    struct pt_ring_extract_stats *st;
    struct seg *segs;
    size_t n_segs, cap_segs;
    struct cand *cands;
    size_t n_cands, cap_cands;
    struct filt *filt;
    size_t n_filt, cap_filt;
    struct ref *heap;
    size_t n_heap, cap_heap;
    struct ifname *names;
    size_t n_names, cap_names;
    struct idb *idbs;
    size_t n_idbs, cap_idbs;
    struct pt_decode_stats *dst;
    bool decode;       /* the query names keys: decode each packet */
    size_t pf;         /* candidates before this one have been prefetched */
    uint64_t pf_bytes; /* bytes of the prefetched candidates not read yet */
    /* output */
    FILE *out;
    enum pt_ring_out_format fmt;
    bool started; /* pcap: the file header is out */
    uint32_t out_link, snaplen;
};

/* Room for element @n of the array @v of *@cap elements of @size bytes:
 * @v itself, or @v reallocated to twice as many (*@cap updated), or NULL
 * (@v unchanged) when memory is short. */
static void *grow(void *v, size_t n, size_t *cap, size_t size)
{
    size_t want = *cap ? *cap * 2 : 16;

    if (n < *cap)
        return v;
    if (!(v = realloc(v, want * size)))
        return NULL;
    *cap = want;
    return v;
}

/* GROW(array, n, cap): 0, or -ENOMEM with the array unchanged. */
#define GROW(a, n, cap)                                                                            \
    __extension__({                                                                                \
        void *nv_ = grow((a), (n), &(cap), sizeof *(a));                                           \
        if (nv_)                                                                                   \
            (a) = nv_;                                                                             \
        nv_ ? 0 : -ENOMEM;                                                                         \
    })

static const char *seg_name(char buf[32], uint64_t seq)
{
    snprintf(buf, 32, RING_SEG_NAME_FMT, (unsigned long long)seq);
    return buf;
}

/* ---- plan (DESIGN 1) ---- */

static bool span_meets(const struct pt_ring_query *q, uint64_t first, uint64_t last)
{
    return first < q->to_ns && last >= q->from_ns;
}

static int plan_segs(struct ex *x, struct ring_rd *rd)
{
    struct ring_seg_rec r;
    MDB_cursor *c;
    MDB_val k, d;
    uint64_t seq;
    char nm[32];
    int rc;

    if ((rc = mdb_cursor_open(rd->txn, rd->segs, &c)) != 0)
        return ring_rd_err(rc);
    for (rc = mdb_cursor_get(c, &k, &d, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &k, &d, MDB_NEXT)) {
        if (ring_rd_seg(&k, &d, &seq, &r) < 0) {
            snprintf(x->msg, x->msglen, "%s: a segs record of %zu bytes (expected %zu)", x->dir,
                     d.mv_size, sizeof r);
            rc = PT_E_BADFILE;
            goto out;
        }
        if (r.blocks == 0 || r.packets == 0 || !span_meets(x->q, r.first_ns, r.last_ns))
            continue;
        if (r.snaplen == 0 || r.snaplen > PT_RING_SNAPLEN || r.valid_len < RING_PCAP_HDR) {
            snprintf(x->msg, x->msglen, "%s/%s: bad segs record (snaplen %u, valid_len %llu)",
                     x->dir, seg_name(nm, seq), r.snaplen, (unsigned long long)r.valid_len);
            rc = PT_E_BADFILE;
            goto out;
        }
        if ((rc = GROW(x->segs, x->n_segs, x->cap_segs)) < 0)
            goto out;
        x->segs[x->n_segs++] = (struct seg){.seq = seq, .r = r, .fd = -1, .filt = -1};
    }
    rc = rc == MDB_NOTFOUND ? 0 : ring_rd_err(rc);
out:
    mdb_cursor_close(c);
    return rc;
}

/* Keep in @list (*@n ascending block numbers, or all of them when @first)
 * those in the key list of (@seq, @kind, @val). */
static int key_filter(struct ex *x, struct ring_rd *rd, uint64_t seq, uint8_t kind, const void *val,
                      size_t vlen, uint32_t **list, size_t *n, size_t *cap, bool first)
{
    uint8_t kb[8 + 1 + 16];
    MDB_val k = {9 + vlen, kb}, d;
    size_t m = 0, j = 0;
    char nm[32];
    int rc;

    ring_rd_put64(kb, seq);
    kb[8] = kind;
    memcpy(kb + 9, val, vlen);
    if ((rc = mdb_get(rd->txn, rd->keys, &k, &d)) != 0) {
        *n = 0;
        return rc == MDB_NOTFOUND ? 0 : ring_rd_err(rc);
    }
    const uint8_t *p = d.mv_data, *end = p + d.mv_size;
    uint32_t b = 0, v;
    for (size_t i = 0; p < end; i++) {
        if (!ring_varint_get(&p, end, &v) || (i && (v == 0 || v > UINT32_MAX - b))) {
            snprintf(x->msg, x->msglen, "%s/%s: a malformed key list (%zu bytes)", x->dir,
                     seg_name(nm, seq), d.mv_size);
            return PT_E_BADFILE;
        }
        b = i ? b + v : v;
        if (first) {
            if ((rc = GROW(*list, m, *cap)) < 0)
                return rc;
            (*list)[m++] = b;
            continue;
        }
        while (j < *n && (*list)[j] < b)
            j++;
        if (j < *n && (*list)[j] == b)
            (*list)[m++] = b;
    }
    *n = m;
    return 0;
}

/* The candidate block numbers of segment @s by the query's keys. */
static int plan_keys(struct ex *x, struct ring_rd *rd, const struct seg *s, uint32_t **list,
                     size_t *n, size_t *cap)
{
    const struct pt_ring_query *q = x->q;
    uint8_t v16[2], h32[4];
    bool first = true;
    int rc = 0;

    if (q->by_host) {
        uint8_t a[16];
        uint8_t alen = ring_host_key(q->host, a);
        rc = key_filter(x, rd, s->seq, RING_KEY_HOST, a, alen, list, n, cap, first);
        first = false;
    }
    if (rc == 0 && q->by_port && (first || *n)) {
        v16[0] = (uint8_t)(q->port >> 8), v16[1] = (uint8_t)q->port;
        rc = key_filter(x, rd, s->seq, RING_KEY_PORT, v16, 2, list, n, cap, first);
        first = false;
    }
    if (rc == 0 && q->by_vlan && (first || *n)) {
        v16[0] = (uint8_t)(q->vlan >> 8), v16[1] = (uint8_t)q->vlan;
        rc = key_filter(x, rd, s->seq, RING_KEY_VLAN, v16, 2, list, n, cap, first);
        first = false;
    }
    if (rc == 0 && q->by_flow && (first || *n)) {
        ring_rd_put32(h32, pt_flow_hash(&q->flow));
        rc = key_filter(x, rd, s->seq, RING_KEY_FLOW, h32, 4, list, n, cap, first);
    }
    return rc;
}

/* Block @blk's record @d of segment @si, checked: its span, bytes and parts
 * within the committed bytes. @part gets the begin offset of each part and
 * the block's length after the last (parts + 1 entries). */
static int blk_parse(struct ex *x, size_t si, uint32_t blk, const MDB_val *d,
                     struct ring_blk_rec *b, uint32_t part[RING_PARTS + 1])
{
    const struct seg *s = &x->segs[si];
    char nm[32];
    uint32_t np;

    if (d->mv_size < sizeof *b)
        goto bad_size;
    memcpy(b, d->mv_data, sizeof *b);
    np = b->parts ? b->parts : 1;
    if (np > RING_PARTS || d->mv_size != sizeof *b + 4ull * (np - 1))
        goto bad_size;
    if (b->off < RING_PCAP_HDR || b->len < RING_REC_HDR || b->len > BLK_MAX ||
        b->off > s->r.valid_len || b->len > s->r.valid_len - b->off || blk >= s->r.blocks) {
        snprintf(x->msg, x->msglen,
                 "%s/%s: block %u (%u bytes at %llu) lies beyond the committed %llu bytes of %u "
                 "blocks",
                 x->dir, seg_name(nm, s->seq), blk, b->len, (unsigned long long)b->off,
                 (unsigned long long)s->r.valid_len, s->r.blocks);
        return PT_E_BADFILE;
    }
    part[0] = 0;
    memcpy(part + 1, (const uint8_t *)d->mv_data + sizeof *b, 4ull * (np - 1));
    part[np] = b->len;
    for (uint32_t i = 1; i <= np; i++) {
        if (part[i] < part[i - 1] || part[i] > b->len) {
            snprintf(x->msg, x->msglen, "%s/%s: block %u: part %u begins at %u, out of order",
                     x->dir, seg_name(nm, s->seq), blk, i, part[i]);
            return PT_E_BADFILE;
        }
    }
    b->parts = np;
    return 0;
bad_size:
    snprintf(x->msg, x->msglen, "%s/%s: a blocks record of %zu bytes", x->dir, seg_name(nm, s->seq),
             d->mv_size);
    return PT_E_BADFILE;
}

/* Read bytes [@from, @to) of block @b (@blk of segment @si). */
static int cand_add(struct ex *x, size_t si, uint32_t blk, const struct ring_blk_rec *b,
                    uint32_t from, uint32_t to)
{
    int rc;

    if (to <= from)
        return 0; /* an empty part */
    if ((rc = GROW(x->cands, x->n_cands, x->cap_cands)) < 0)
        return rc;
    x->cands[x->n_cands++] = (struct cand){.first_ns = b->first_ns,
                                           .last_ns = b->last_ns,
                                           .off = b->off + from,
                                           .len = to - from,
                                           .packets = b->packets,
                                           .blk = blk,
                                           .seg = (uint32_t)si,
                                           .iface = b->iface,
                                           .whole = from == 0 && to == b->len};
    x->segs[si].pending++;
    return 0;
}

/* Block @blk of segment @si (@d its record) when its span meets the range:
 * the parts @units[0 .. @n) (part numbers of this block, ascending), each
 * run of neighbours one read; all of it when @units is NULL. */
static int plan_block(struct ex *x, size_t si, uint32_t blk, const MDB_val *d,
                      const uint32_t *units, size_t n)
{
    struct ring_blk_rec b;
    uint32_t part[RING_PARTS + 1];
    char nm[32];
    int rc;

    if ((rc = blk_parse(x, si, blk, d, &b, part)) < 0)
        return rc;
    if (b.packets == 0 || !span_meets(x->q, b.first_ns, b.last_ns))
        return 0;
    if (!units)
        return cand_add(x, si, blk, &b, 0, b.len);
    for (size_t i = 0, j; i < n; i = j) {
        uint32_t p = units[i] % RING_PARTS;
        for (j = i + 1; j < n && units[j] == units[j - 1] + 1; j++)
            ;
        uint32_t q = units[j - 1] % RING_PARTS; /* the run's last part */
        if (q >= b.parts) {
            snprintf(x->msg, x->msglen, "%s/%s: a key names part %u of block %u, of %u parts",
                     x->dir, seg_name(nm, x->segs[si].seq), q, blk, b.parts);
            return PT_E_BADFILE;
        }
        if ((rc = cand_add(x, si, blk, &b, part[p], part[q + 1])) < 0)
            return rc;
    }
    return 0;
}

static int plan_blocks(struct ex *x, struct ring_rd *rd, size_t si)
{
    const struct pt_ring_query *q = x->q;
    uint64_t seq = x->segs[si].seq;
    uint32_t *list = NULL;
    size_t n = 0, cap = 0;
    uint8_t kb[12];
    MDB_cursor *c = NULL;
    MDB_val k = {12, kb}, d;
    int rc, mrc;

    ring_rd_put64(kb, seq);
    if (q->by_host || q->by_port || q->by_vlan || q->by_flow) {
        if ((rc = plan_keys(x, rd, &x->segs[si], &list, &n, &cap)) < 0)
            goto out;
        /* the parts of one block are neighbours in the list */
        for (size_t i = 0, j; i < n && rc == 0; i = j) {
            uint32_t blk = list[i] / RING_PARTS;
            for (j = i + 1; j < n && list[j] / RING_PARTS == blk; j++)
                ;
            ring_rd_put32(kb + 8, blk);
            mrc = mdb_get(rd->txn, rd->blocks, &k, &d);
            if (mrc == 0)
                rc = plan_block(x, si, blk, &d, list + i, j - i);
            else if (mrc != MDB_NOTFOUND) /* a key naming no block: nothing to read */
                rc = ring_rd_err(mrc);
        }
        goto out;
    }
    ring_rd_put32(kb + 8, 0);
    if ((mrc = mdb_cursor_open(rd->txn, rd->blocks, &c)) != 0) {
        rc = ring_rd_err(mrc);
        goto out;
    }
    rc = 0;
    for (mrc = mdb_cursor_get(c, &k, &d, MDB_SET_RANGE); mrc == 0 && rc == 0;
         mrc = mdb_cursor_get(c, &k, &d, MDB_NEXT)) {
        if (k.mv_size != 12 || ring_rd_be64(k.mv_data) != seq)
            break;
        rc = plan_block(x, si, ring_rd_be32((const uint8_t *)k.mv_data + 8), &d, NULL, 0);
    }
    if (rc == 0 && mrc != 0 && mrc != MDB_NOTFOUND)
        rc = ring_rd_err(mrc);
    mdb_cursor_close(c);
out:
    free(list);
    return rc;
}

/* meta "iface" + u16 BE -> name, for pcapng. */
static int plan_names(struct ex *x, struct ring_rd *rd)
{
    MDB_cursor *c;
    MDB_val k = {5, "iface"}, d;
    int rc;

    if ((rc = mdb_cursor_open(rd->txn, rd->meta, &c)) != 0)
        return ring_rd_err(rc);
    for (rc = mdb_cursor_get(c, &k, &d, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(c, &k, &d, MDB_NEXT)) {
        if (k.mv_size < 5 || memcmp(k.mv_data, "iface", 5) != 0)
            break;
        if (k.mv_size != 7)
            continue;
        if ((rc = GROW(x->names, x->n_names, x->cap_names)) < 0)
            goto out;
        struct ifname *nm = &x->names[x->n_names++];
        const uint8_t *kp = k.mv_data;
        size_t len = d.mv_size < IFNAME_MAX - 1 ? d.mv_size : IFNAME_MAX - 1;
        nm->iface = (uint16_t)(kp[5] << 8 | kp[6]);
        memcpy(nm->name, d.mv_data, len);
        nm->name[len] = '\0';
    }
    rc = rc == MDB_NOTFOUND || rc == 0 ? 0 : ring_rd_err(rc);
out:
    mdb_cursor_close(c);
    return rc;
}

static int plan(struct ex *x)
{
    struct ring_rd rd;
    int rc;

    if ((rc = ring_rd_open(&rd, x->dir, x->msg, x->msglen)) < 0)
        return rc;
    if (rd.empty)
        goto out;
    if ((rc = plan_segs(x, &rd)) < 0)
        goto out;
    for (size_t i = 0; i < x->n_segs; i++) {
        if ((rc = plan_blocks(x, &rd, i)) < 0)
            goto out;
        if (x->segs[i].r.snaplen > x->snaplen)
            x->snaplen = x->segs[i].r.snaplen;
    }
    if (x->fmt == PT_RING_OUT_PCAPNG)
        rc = plan_names(x, &rd);
out:
    if (rc < 0 && !x->msg[0])
        snprintf(x->msg, x->msglen, "%s: reading the index: %s", x->dir, pt_strerror(rc));
    ring_rd_close(&rd);
    return rc;
}

/* ---- filter (DESIGN 2) ---- */

/* pcap_open_dead() takes a DLT_ value; the segments hold LINKTYPE_ values
 * (those pt_decode() takes). They differ for raw IP alone. */
static int link_dlt(uint32_t linktype)
{
    switch (linktype & 0xffff) {
    case PT_LINK_RAW:
    case PT_LINK_RAW_DLT14:
        return DLT_RAW;
    default:
        return (int)(linktype & 0xffff);
    }
}

/* The filter for @linktype (compiled once): its index in x->filt. */
static int filt_compile(struct ex *x, uint32_t linktype, int *idx)
{
    struct filt *f;
    pcap_t *p;
    int rc;

    for (size_t i = 0; i < x->n_filt; i++) {
        if (x->filt[i].linktype == (int)linktype) {
            *idx = (int)i;
            return 0;
        }
    }
    if ((rc = GROW(x->filt, x->n_filt, x->cap_filt)) < 0)
        return rc;
    if (!(p = pcap_open_dead(link_dlt(linktype), (int)PT_RING_SNAPLEN)))
        return -ENOMEM;
    f = &x->filt[x->n_filt];
    memset(f, 0, sizeof *f);
    f->linktype = (int)linktype;
    if (pcap_compile(p, &f->prog, x->q->bpf, 1, PCAP_NETMASK_UNKNOWN) < 0) {
        const char *e = pcap_geterr(p);
        f->none = true;
        f->bad = !strstr(e, "rejects all packets");
        if (f->bad && !x->msg[0])
            snprintf(x->msg, x->msglen, "bad filter expression \"%s\": %s", x->q->bpf, e);
    }
    pcap_close(p);
    *idx = (int)x->n_filt++;
    return 0;
}

/* DESIGN 2. An expression that compiles for none of the link types is
 * bad; one that compiles for some (an Ethernet "vlan 100" on a ring that
 * also holds raw IP segments) rejects the packets of the others. */
static int filters(struct ex *x)
{
    bool good = false;
    int idx, rc;

    if (!x->q->bpf || !x->q->bpf[0])
        return 0;
    /* nothing to filter: still tell a bad expression */
    if (x->n_segs == 0 && (rc = filt_compile(x, PT_LINK_ETHERNET, &idx)) < 0)
        return rc;
    for (size_t i = 0; i < x->n_segs; i++)
        if ((rc = filt_compile(x, x->segs[i].r.linktype, &x->segs[i].filt)) < 0)
            return rc;
    for (size_t i = 0; i < x->n_filt; i++)
        good |= !x->filt[i].bad;
    if (!good)
        return -EINVAL;
    x->msg[0] = '\0';
    return 0;
}

/* ---- matching (DESIGN 3) ---- */

static bool has_ports(uint8_t proto)
{
    return proto == 6 || proto == 17 || proto == 132;
}

static bool keys_match(const struct pt_ring_query *q, const struct pt_pkt *p)
{
    bool host = !q->by_host, port = !q->by_port, vlan = !q->by_vlan, flow = !q->by_flow;
    struct pt_flow_key k;
    bool sw;

    if (!vlan)
        vlan = p->vlan == q->vlan;
    for (unsigned i = 0; i < p->n_l3 && i < PT_MAX_LAYERS; i++) {
        const struct pt_l3 *l = &p->l3[i];
        if (!host)
            host = !memcmp(l->src, q->host, 16) || !memcmp(l->dst, q->host, 16);
        if (!port && (l->flags & PT_L3_L4) && has_ports(l->proto))
            port = l->sport == q->port || l->dport == q->port;
        for (unsigned j = 0; !vlan && j < l->n_vlan && j < PT_MAX_VLAN; j++)
            vlan = l->vlan[j] == q->vlan;
        if (!flow && pt_flow_key_make(&k, l, &sw))
            flow = !memcmp(&k, &q->flow, sizeof k);
    }
    return host && port && vlan && flow;
}

static bool pkt_match(struct ex *x, const struct seg *s, const uint8_t *data, uint32_t caplen,
                      uint32_t wirelen, uint64_t ts, uint16_t iface)
{
    const struct pt_ring_query *q = x->q;

    if (ts < q->from_ns || ts >= q->to_ns)
        return false;
    if (x->decode) {
        struct pt_pkt p;
        memset(&p, 0, sizeof p);
        p.data = data;
        p.caplen = caplen;
        p.wirelen = wirelen < caplen ? caplen : wirelen;
        p.ts_ns = ts;
        p.linktype = (int)(s->r.linktype & 0xffff);
        p.iface = iface;
        p.hw_vlan = PT_VLAN_NONE; /* the writer put stripped tags back into the frame */
        pt_decode(&p, x->dst);
        if (!keys_match(q, &p))
            return false;
    }
    if (s->filt >= 0) {
        const struct filt *f = &x->filt[s->filt];
        struct pcap_pkthdr h = {.caplen = caplen, .len = wirelen < caplen ? caplen : wirelen};
        h.ts.tv_sec = (time_t)(ts / NSEC);
        h.ts.tv_usec = (suseconds_t)(ts % NSEC / 1000);
        if (f->none || pcap_offline_filter(&f->prog, &h, data) == 0)
            return false;
    }
    return true;
}

/* ---- the heap of kept packets (DESIGN 4) ---- */

static bool ref_less(const struct ref *a, const struct ref *b)
{
    if (a->ts != b->ts)
        return a->ts < b->ts;
    if (a->seq != b->seq)
        return a->seq < b->seq;
    return a->off < b->off;
}

static int heap_push(struct ex *x, const struct ref *r)
{
    size_t i;
    int rc;

    if ((rc = GROW(x->heap, x->n_heap, x->cap_heap)) < 0)
        return rc;
    for (i = x->n_heap++; i > 0 && ref_less(r, &x->heap[(i - 1) / 2]); i = (i - 1) / 2)
        x->heap[i] = x->heap[(i - 1) / 2];
    x->heap[i] = *r;
    return 0;
}

static struct ref heap_pop(struct ex *x)
{
    struct ref top = x->heap[0], last = x->heap[--x->n_heap];
    size_t i = 0, n = x->n_heap;

    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && ref_less(&x->heap[c + 1], &x->heap[c]))
            c++;
        if (!ref_less(&x->heap[c], &last))
            break;
        x->heap[i] = x->heap[c];
        i = c;
    }
    if (n)
        x->heap[i] = last;
    return top;
}

static void buf_put(struct buf *b)
{
    if (--b->refs == 0)
        free(b);
}

/* ---- output (DESIGN 5) ---- */

static int out_write(struct ex *x, const void *p, size_t n)
{
    if (n && fwrite(p, 1, n, x->out) != n) {
        int e = errno ? errno : EIO;
        snprintf(x->msg, x->msglen, "writing the output: %s", strerror(e));
        return -e;
    }
    return 0;
}

static int out_pcap_header(struct ex *x, uint32_t linktype)
{
    uint32_t h[6] = {
        RING_PCAP_MAGIC_NS, 0, 0, 0, x->snaplen ? x->snaplen : PT_RING_SNAPLEN, linktype};
    uint16_t ver[2] = {2, 4};

    memcpy(&h[1], ver, 4);
    x->out_link = linktype;
    x->started = true;
    return out_write(x, h, sizeof h);
}

static int out_shb(struct ex *x)
{
    uint8_t b[28];
    uint32_t w[3] = {NG_SHB, 28, NG_BOM};
    uint16_t v[2] = {1, 0};
    int64_t len = -1;

    memcpy(b, w, 12);
    memcpy(b + 12, v, 4);
    memcpy(b + 16, &len, 8);
    memcpy(b + 24, &w[1], 4);
    x->started = true;
    return out_write(x, b, sizeof b);
}

static const char *iface_name(const struct ex *x, uint16_t iface)
{
    for (size_t i = 0; i < x->n_names; i++)
        if (x->names[i].iface == iface)
            return x->names[i].name;
    return NULL;
}

/* The pcapng interface id of (@iface, @linktype); a new interface block
 * the first time. */
static int out_idb(struct ex *x, uint16_t iface, uint32_t linktype, uint32_t snaplen, uint32_t *id)
{
    const char *name;
    uint8_t b[20 + 4 + IFNAME_MAX + 8 + 4 + 4];
    size_t n = 0, nl;
    uint32_t u32;
    uint16_t u16[2];
    int rc;

    for (size_t i = 0; i < x->n_idbs; i++) {
        if (x->idbs[i].iface == iface && x->idbs[i].linktype == linktype) {
            *id = (uint32_t)i;
            return 0;
        }
    }
    if ((rc = GROW(x->idbs, x->n_idbs, x->cap_idbs)) < 0)
        return rc;
    memset(b, 0, sizeof b);
    u32 = NG_IDB;
    memcpy(b, &u32, 4);
    u16[0] = (uint16_t)linktype;
    u16[1] = 0;
    memcpy(b + 8, u16, 4);
    memcpy(b + 12, &snaplen, 4);
    n = 16;
    if ((name = iface_name(x, iface)) != NULL && (nl = strlen(name)) > 0) {
        u16[0] = NG_IF_NAME;
        u16[1] = (uint16_t)nl;
        memcpy(b + n, u16, 4);
        memcpy(b + n + 4, name, nl);
        n += 4 + ((nl + 3) & ~(size_t)3);
    }
    u16[0] = NG_IF_TSRESOL;
    u16[1] = 1;
    memcpy(b + n, u16, 4);
    b[n + 4] = 9; /* 10^-9 s */
    n += 8;
    n += 4; /* opt_endofopt: zeros */
    u32 = (uint32_t)(n + 4);
    memcpy(b + 4, &u32, 4);
    memcpy(b + n, &u32, 4);
    n += 4;
    if ((rc = out_write(x, b, n)) < 0)
        return rc;
    x->idbs[x->n_idbs] = (struct idb){.iface = iface, .linktype = linktype};
    *id = (uint32_t)x->n_idbs++;
    return 0;
}

static int out_packet(struct ex *x, const struct ref *r)
{
    const struct seg *s = &x->segs[r->seg];
    const uint8_t *rec = r->b->data + r->pos;
    static const uint8_t zero[4];
    uint32_t caplen, wirelen, id, w[7];
    int rc;

    memcpy(&caplen, rec + 8, 4);
    memcpy(&wirelen, rec + 12, 4);
    if (x->fmt == PT_RING_OUT_PCAP) {
        if (!x->started && (rc = out_pcap_header(x, s->r.linktype)) < 0)
            return rc;
        if (s->r.linktype != x->out_link) {
            x->st->skipped_linktype++;
            return 0;
        }
        if ((rc = out_write(x, rec, RING_REC_HDR + (size_t)caplen)) < 0)
            return rc;
        x->st->packets++;
        return 0;
    }
    if ((rc = out_idb(x, r->iface, s->r.linktype, s->r.snaplen, &id)) < 0)
        return rc;
    size_t pad = (4 - caplen % 4) % 4;
    w[0] = NG_EPB;
    w[1] = (uint32_t)(32 + caplen + pad);
    w[2] = id;
    w[3] = (uint32_t)(r->ts >> 32);
    w[4] = (uint32_t)r->ts;
    w[5] = caplen;
    w[6] = wirelen;
    if ((rc = out_write(x, w, sizeof w)) < 0 ||
        (rc = out_write(x, rec + RING_REC_HDR, caplen)) < 0 || (rc = out_write(x, zero, pad)) < 0 ||
        (rc = out_write(x, &w[1], 4)) < 0)
        return rc;
    x->st->packets++;
    return 0;
}

/* Write every kept packet older than @wm. */
static int drain(struct ex *x, uint64_t wm, bool all)
{
    while (x->n_heap && (all || x->heap[0].ts < wm)) {
        struct ref r = heap_pop(x);
        int rc = out_packet(x, &r);
        buf_put(r.b);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* ---- reading (DESIGN 3) ---- */

static void seg_gone(struct ex *x, struct seg *s)
{
    char nm[32];

    pt_log(PT_LOG_WARN, "ring: %s/%s was recycled during the extraction: its packets are gone",
           x->dir, seg_name(nm, s->seq));
    s->gone = true;
}

static int seg_open(struct ex *x, struct seg *s)
{
    char path[PATH_MAX + 32], nm[32];
    struct stat sb;

    snprintf(path, sizeof path, "%s/%s", x->dir, seg_name(nm, s->seq));
    do
        s->fd = open(path, O_RDONLY | O_CLOEXEC);
    while (s->fd < 0 && errno == EINTR);
    if (s->fd >= 0 && fstat(s->fd, &sb) == 0) {
        s->dev = sb.st_dev;
        s->ino = sb.st_ino;
        return 0;
    }
    if (s->fd < 0 && errno == ENOENT) { /* DESIGN 6 */
        seg_gone(x, s);
        return 0;
    }
    int e = errno;
    snprintf(x->msg, x->msglen, "%s: %s", path, strerror(e));
    return -e;
}

/* DESIGN 6: is the file read still the segment's? (After a read: the
 * writer renames a file before it rewrites it.) */
static bool seg_still(struct ex *x, const struct seg *s)
{
    char path[PATH_MAX + 32], nm[32];
    struct stat sb;

    snprintf(path, sizeof path, "%s/%s", x->dir, seg_name(nm, s->seq));
    return stat(path, &sb) == 0 && sb.st_dev == s->dev && sb.st_ino == s->ino;
}

static int block_read(struct ex *x, struct seg *s, const struct cand *c, uint8_t *dst)
{
    char nm[32];
    size_t got = 0;

    while (got < c->len) {
        ssize_t n = pread(s->fd, dst + got, c->len - got, (off_t)(c->off + got));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;
            snprintf(x->msg, x->msglen, "%s/%s: %s", x->dir, seg_name(nm, s->seq), strerror(e));
            return -e;
        }
        if (n == 0) {
            snprintf(x->msg, x->msglen,
                     "%s/%s: truncated: the file ends at byte %llu, inside block %u that the index "
                     "commits (bytes %llu..%llu)",
                     x->dir, seg_name(nm, s->seq), (unsigned long long)(c->off + got), c->blk,
                     (unsigned long long)c->off, (unsigned long long)(c->off + c->len));
            return PT_E_TRUNC;
        }
        got += (size_t)n;
    }
    x->st->blocks_read++;
    x->st->bytes_read += c->len;
    return 0;
}

static int bad_record(struct ex *x, const struct seg *s, const struct cand *c, uint32_t pos,
                      const char *what)
{
    char nm[32];

    snprintf(x->msg, x->msglen, "%s/%s: malformed record at byte %llu (block %u): %s", x->dir,
             seg_name(nm, s->seq), (unsigned long long)(c->off + pos), c->blk, what);
    return PT_E_BADFILE;
}

/* Walk the records of block @c in @b; keep the matching ones. */
static int block_walk(struct ex *x, struct seg *s, const struct cand *c, struct buf *b)
{
    uint32_t pos = 0, n = 0, h[4];
    char what[128];
    int rc;

    while (pos < c->len) {
        if (c->len - pos < RING_REC_HDR)
            return bad_record(x, s, c, pos, "a record header cut by the end of the block");
        memcpy(h, b->data + pos, sizeof h);
        if (h[2] > s->r.snaplen || h[2] > c->len - pos - RING_REC_HDR) {
            snprintf(what, sizeof what,
                     "%u captured bytes, past the end of the block or the snaplen %u", h[2],
                     s->r.snaplen);
            return bad_record(x, s, c, pos, what);
        }
        if (h[1] >= NSEC)
            return bad_record(x, s, c, pos, "nanoseconds above 999999999");
        uint64_t ts = (uint64_t)h[0] * NSEC + h[1];
        if (ts < c->first_ns || ts > c->last_ns)
            return bad_record(x, s, c, pos, "a time outside the block's span in the index");
        n++;
        if (pkt_match(x, s, b->data + pos + RING_REC_HDR, h[2], h[3], ts, c->iface)) {
            struct ref r = {.ts = ts,
                            .seq = s->seq,
                            .off = c->off + pos,
                            .b = b,
                            .pos = pos,
                            .seg = c->seg,
                            .iface = c->iface};
            if ((rc = heap_push(x, &r)) < 0)
                return rc;
            b->refs++;
        }
        pos += RING_REC_HDR + h[2];
    }
    if (c->whole && n != c->packets) { /* parts: their records are not counted */
        snprintf(what, sizeof what, "the block holds %u records, the index says %u", n, c->packets);
        return bad_record(x, s, c, 0, what);
    }
    return 0;
}

static int block_do(struct ex *x, const struct cand *c)
{
    struct seg *s = &x->segs[c->seg];
    struct buf *b = NULL;
    int rc = 0;

    if (s->filt >= 0 && x->filt[s->filt].none)
        goto done; /* the filter takes nothing of this link type: no need to read */
    if (!s->gone && s->fd < 0 && (rc = seg_open(x, s)) < 0)
        return rc;
    if (s->gone)
        goto done;
    if (!(b = malloc(sizeof *b + c->len)))
        return -ENOMEM;
    b->refs = 1; /* ours, while walking */
    rc = block_read(x, s, c, b->data);
    if (!seg_still(x, s)) { /* what was read may be the next segment's: DESIGN 6 */
        seg_gone(x, s);
        rc = 0;
    } else if (rc == 0) {
        rc = block_walk(x, s, c, b);
    }
    buf_put(b);
done:
    if (--s->pending == 0 && s->fd >= 0) {
        close(s->fd);
        s->fd = -1;
    }
    return rc;
}

static int cand_cmp(const void *pa, const void *pb)
{
    const struct cand *a = pa, *b = pb;

    if (a->first_ns != b->first_ns)
        return a->first_ns < b->first_ns ? -1 : 1;
    if (a->seg != b->seg) /* segs are in seq order */
        return a->seg < b->seg ? -1 : 1;
    return a->off < b->off ? -1 : a->off > b->off;
}

/* DESIGN 3: ask the kernel to read the candidates [x->pf, ...) ahead
 * (POSIX_FADV_WILLNEED queues them all at once), up to PREFETCH_BLOCKS and
 * PREFETCH_BYTES past block @i, so cold blocks scattered over the ring are
 * read in parallel rather than one seek at a time. */
static int prefetch(struct ex *x, size_t i)
{
    int rc;

    if (i && x->pf_bytes >= x->cands[i - 1].len)
        x->pf_bytes -= x->cands[i - 1].len;
    while (x->pf < x->n_cands && x->pf - i < PREFETCH_BLOCKS && x->pf_bytes < PREFETCH_BYTES) {
        const struct cand *c = &x->cands[x->pf++];
        struct seg *s = &x->segs[c->seg];
        x->pf_bytes += c->len;
        if (s->filt >= 0 && x->filt[s->filt].none)
            continue;
        if (!s->gone && s->fd < 0 && (rc = seg_open(x, s)) < 0)
            return rc;
        if (!s->gone)
            (void)posix_fadvise(s->fd, (off_t)c->off, (off_t)c->len, POSIX_FADV_WILLNEED);
    }
    return 0;
}

static int run(struct ex *x)
{
    int rc;

    if (x->n_cands > 1)
        qsort(x->cands, x->n_cands, sizeof *x->cands, cand_cmp);
    if (x->fmt == PT_RING_OUT_PCAPNG && (rc = out_shb(x)) < 0)
        return rc;
    for (size_t i = 0; i < x->n_cands; i++) {
        if ((rc = prefetch(x, i)) < 0)
            return rc;
        if ((rc = block_do(x, &x->cands[i])) < 0)
            return rc;
        if (i + 1 < x->n_cands && (rc = drain(x, x->cands[i + 1].first_ns, false)) < 0)
            return rc;
    }
    if ((rc = drain(x, 0, true)) < 0)
        return rc;
    if (!x->started && (rc = out_pcap_header(x, x->n_segs ? x->segs[0].r.linktype
                                                          : (uint32_t)PT_LINK_ETHERNET)) < 0)
        return rc;
    if (fflush(x->out) != 0 || ferror(x->out)) {
        int e = errno ? errno : EIO;
        snprintf(x->msg, x->msglen, "writing the output: %s", strerror(e));
        return -e;
    }
    return 0;
}

/* ---- entry ---- */

static int query_check(const struct pt_ring_query *q, char *msg, size_t msglen)
{
    if (q->from_ns >= q->to_ns) {
        snprintf(msg, msglen, "empty time range: from %llu is not before to %llu",
                 (unsigned long long)q->from_ns, (unsigned long long)q->to_ns);
        return -EINVAL;
    }
    if (q->by_vlan && q->vlan > 4095) {
        snprintf(msg, msglen, "VLAN id %u: not in 0..4095", q->vlan);
        return -EINVAL;
    }
    if (q->by_flow && q->flow.ver != 4 && q->flow.ver != 6) {
        snprintf(msg, msglen, "flow key of IP version %u", q->flow.ver);
        return -EINVAL;
    }
    return 0;
}

static void ex_free(struct ex *x)
{
    for (size_t i = 0; i < x->n_segs; i++)
        if (x->segs[i].fd >= 0)
            close(x->segs[i].fd);
    for (size_t i = 0; i < x->n_filt; i++)
        pcap_freecode(&x->filt[i].prog);
    for (size_t i = 0; i < x->n_heap; i++)
        buf_put(x->heap[i].b);
    free(x->segs);
    free(x->cands);
    free(x->filt);
    free(x->heap);
    free(x->names);
    free(x->idbs);
    free(x->dst);
}

int pt_ring_extract(const char *ring_dir, const struct pt_ring_query *q,
                    enum pt_ring_out_format fmt, FILE *out, struct pt_ring_extract_stats *st,
                    char *msg, size_t msglen)
{
    struct pt_ring_extract_stats dummy_st;
    char dummy[8];
    struct ex x = {.dir = ring_dir, .q = q, .out = out, .fmt = fmt};
    int rc;

    if (!msg || !msglen) {
        msg = dummy;
        msglen = sizeof dummy;
    }
    msg[0] = '\0';
    x.msg = msg;
    x.msglen = msglen;
    x.st = st ? st : &dummy_st;
    memset(x.st, 0, sizeof *x.st);
    if (!ring_dir || !q || !out || (fmt != PT_RING_OUT_PCAP && fmt != PT_RING_OUT_PCAPNG)) {
        snprintf(msg, msglen, "bad arguments");
        return -EINVAL;
    }
    if ((rc = query_check(q, msg, msglen)) < 0)
        return rc;
    x.decode = q->by_host || q->by_port || q->by_vlan || q->by_flow;
    if (x.decode) {
        if (!(x.dst = malloc(sizeof *x.dst))) {
            rc = -ENOMEM;
            goto out;
        }
        pt_decode_stats_init(x.dst);
    }
    if ((rc = plan(&x)) < 0 || (rc = filters(&x)) < 0)
        goto out;
    rc = run(&x);
out:
    if (rc == -ENOMEM && !msg[0])
        snprintf(msg, msglen, "out of memory");
    ex_free(&x);
    return rc;
}
