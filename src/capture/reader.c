/* reader.c - capture file input: classic pcap mapped and walked in place,
 * pcapng with our own block reader, pipes through libpcap.
 *
 * DESIGN: classic pcap files that are regular files are mapped (mmap) and
 * walked in place: no read(2) copy and no per-record fread, which was a fifth
 * of `read`'s time. Pages behind the cursor are dropped every DROP_STEP bytes
 * so a large file does not pile up in our resident set. The record checks
 * are libpcap's: a capture length above 262144 is a corrupt file, bytes
 * beyond the header's snapshot length are skipped, and a record cut short by
 * the end of the file is truncation. Anything else classic (a pipe, the
 * "modified" magic, an unknown version) goes through libpcap's
 * pcap_open_offline_with_tstamp_precision(NANO). libpcap's pcapng reader,
 * though, refuses files whose interfaces have different link types and never
 * says which interface a packet came from, both of which a multi-port sensor
 * capture has. pcapng is a simple block format, so we read it ourselves:
 *
 *   1. Section header block: byte order from its magic; a new section resets
 *      the interface list.
 *   2. Interface description block: link type, snaplen, if_name, if_tsresol,
 *      if_tsoffset.
 *   3. Enhanced/simple/obsolete packet blocks: one record each.
 *   4. Anything else is skipped by its length.
 *
 * Every length read from the file is checked against the block before use; a
 * block that lies about its size is PT_E_BADFILE, a file that ends inside a
 * block is PT_E_TRUNC. */
#include "pt/capture.h"

#include <errno.h>
#include <fcntl.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define NG_SHB        0x0A0D0D0Au
#define NG_IDB        0x00000001u
#define NG_PB         0x00000002u /* obsolete packet block */
#define NG_SPB        0x00000003u
#define NG_EPB        0x00000006u
#define NG_BOM        0x1A2B3C4Du
#define NG_MAX_BLOCK  (16u << 20) /* no sane block is larger */
#define NG_MAX_IFACES 4096

#define PCAP_MAGIC_US 0xa1b2c3d4u
#define PCAP_MAGIC_NS 0xa1b23c4du
#define PCAP_MAX_SNAP 262144u     /* libpcap's max_snaplen_for_dlt() for our link types */
#define DROP_STEP     (16u << 20) /* drop mapped pages behind the cursor this often */

struct ng_iface {
    int linktype;
    uint32_t snaplen;
    uint8_t tsresol;    /* raw if_tsresol byte; 6 (microseconds) by default */
    int64_t tsoffset_s; /* if_tsoffset */
    char name[64];
};

struct pt_reader {
    char path[256];
    pcap_t *pcap; /* classic pcap through libpcap */
    int pcap_link;

    const uint8_t *map; /* classic pcap, mapped */
    size_t map_len, off, dropped;
    uint32_t snaplen;
    int map_link;
    bool map_nano;

    FILE *f; /* pcapng */
    bool swap;
    uint8_t *buf;
    size_t bufcap;
    struct ng_iface *ifs; /* every section's interfaces, in file order */
    unsigned n_ifs, cap_ifs;
    unsigned if_base; /* first interface of the current section */
    char ifname[80];
};

static uint16_t rd16(const struct pt_reader *r, const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, 2);
    return r->swap ? __builtin_bswap16(v) : v;
}

static uint32_t rd32(const struct pt_reader *r, const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return r->swap ? __builtin_bswap32(v) : v;
}

static int open_pcap(struct pt_reader *r, char *msg, size_t msglen)
{
    char errbuf[PCAP_ERRBUF_SIZE];

    r->pcap = pcap_open_offline_with_tstamp_precision(r->path, PCAP_TSTAMP_PRECISION_NANO, errbuf);
    if (!r->pcap) {
        snprintf(msg, msglen, "%s: %s", r->path, errbuf);
        return PT_E_BADFILE;
    }
    r->pcap_link = pcap_datalink(r->pcap);
    return 0;
}

/* Map @fd when it is a regular classic pcap file we can walk ourselves;
 * -1 to let libpcap handle it. */
static int map_pcap(struct pt_reader *r, int fd, uint32_t magic)
{
    struct stat st;
    void *m;

    if (magic == PCAP_MAGIC_US || magic == PCAP_MAGIC_NS)
        r->swap = false;
    else if (magic == __builtin_bswap32(PCAP_MAGIC_US) || magic == __builtin_bswap32(PCAP_MAGIC_NS))
        r->swap = true;
    else
        return -1;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size < 24)
        return -1;
    m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (m == MAP_FAILED)
        return -1;
    r->map = m;
    r->map_len = (size_t)st.st_size;
    if (rd16(r, r->map + 4) != 2) { /* only version 2.x: leave the rest to libpcap */
        munmap(m, r->map_len);
        r->map = NULL;
        return -1;
    }
    madvise(m, r->map_len, MADV_SEQUENTIAL);
    r->map_nano = (r->swap ? __builtin_bswap32(magic) : magic) == PCAP_MAGIC_NS;
    r->snaplen = rd32(r, r->map + 16);
    if (r->snaplen == 0 || r->snaplen > PCAP_MAX_SNAP)
        r->snaplen = PCAP_MAX_SNAP;
    r->map_link = (int)(rd32(r, r->map + 20) & 0xffff); /* upper bits: FCS information */
    r->off = 24;
    return 0;
}

static int next_map(struct pt_reader *r, struct pt_reader_rec *rec, char *msg, size_t msglen)
{
    const uint8_t *h = r->map + r->off;
    size_t left = r->map_len - r->off;
    uint32_t caplen, frac;

    if (left == 0)
        return 0;
    if (left < 16) {
        snprintf(msg, msglen, "%s: truncated dump file; %zu bytes of a 16-byte record header",
                 r->path, left);
        return PT_E_TRUNC;
    }
    caplen = rd32(r, h + 8);
    if (caplen > PCAP_MAX_SNAP) {
        snprintf(msg, msglen, "%s: invalid packet capture length %u, bigger than maximum of %u",
                 r->path, caplen, PCAP_MAX_SNAP);
        return PT_E_BADFILE;
    }
    if (caplen > left - 16) {
        snprintf(msg, msglen,
                 "%s: truncated dump file; tried to read %u captured bytes, only got %zu", r->path,
                 caplen, left - 16);
        return PT_E_TRUNC;
    }
    frac = rd32(r, h + 4);
    rec->ts_ns = (uint64_t)rd32(r, h) * 1000000000ull + (r->map_nano ? frac : frac * 1000ull);
    /* As libpcap: bytes beyond the file's snapshot length are skipped. */
    rec->caplen = caplen < r->snaplen ? caplen : r->snaplen;
    rec->wirelen = rd32(r, h + 12);
    if (rec->wirelen < rec->caplen)
        rec->wirelen = rec->caplen;
    rec->data = h + 16;
    rec->linktype = r->map_link;
    rec->ifidx = 0;
    r->off += 16 + (size_t)caplen;
    /* The next record's header and first bytes: fetched while this one is
     * processed (the hardware prefetcher stops at page boundaries, and the
     * header load was most of this function's time). */
    if (r->off + 128 <= r->map_len) { /* not past the mapping (the last record: no need) */
        __builtin_prefetch(r->map + r->off);
        __builtin_prefetch(r->map + r->off + 64);
    }
    if (r->off - r->dropped >= 2 * DROP_STEP) { /* keep the previous step: @data may be there */
        size_t upto = (r->off - DROP_STEP) & ~(size_t)(DROP_STEP - 1);
        madvise((void *)(r->map + r->dropped), upto - r->dropped, MADV_DONTNEED);
        r->dropped = upto;
    }
    return 1;
}

struct pt_reader *pt_reader_open(const char *path, int *err, char *msg, size_t msglen)
{
    struct pt_reader *r = calloc(1, sizeof *r);
    uint32_t magic = 0;
    struct stat st;
    FILE *f;
    int rc;

    if (!r) {
        *err = -ENOMEM;
        snprintf(msg, msglen, "%s: out of memory", path);
        return NULL;
    }
    snprintf(r->path, sizeof r->path, "%s", path);
    f = fopen(path, "rb");
    if (!f) {
        *err = -errno;
        snprintf(msg, msglen, "%s: %s", path, strerror(errno));
        free(r);
        return NULL;
    }
    if (fstat(fileno(f), &st) == 0 && !S_ISREG(st.st_mode)) {
        /* A pipe or device: no peeking, no mapping. libpcap reads the
         * stream as it comes (pcapng then under libpcap's own limits). */
        char errbuf[PCAP_ERRBUF_SIZE];
        r->pcap = pcap_fopen_offline_with_tstamp_precision(f, PCAP_TSTAMP_PRECISION_NANO, errbuf);
        if (!r->pcap) {
            fclose(f);
            free(r);
            *err = PT_E_BADFILE;
            snprintf(msg, msglen, "%s: %s", path, errbuf);
            return NULL;
        }
        r->pcap_link = pcap_datalink(r->pcap);
        return r;
    }
    if (fread(&magic, 1, 4, f) != 4) {
        fclose(f);
        free(r);
        *err = PT_E_BADFILE;
        snprintf(msg, msglen, "%s: too short to be a capture file", path);
        return NULL;
    }
    if (magic == NG_SHB) {
        rewind(f);
        r->f = f;
        return r;
    }
    rc = map_pcap(r, fileno(f), magic);
    fclose(f); /* a mapping outlives its descriptor */
    if (rc == 0)
        return r;
    rc = open_pcap(r, msg, msglen);
    if (rc < 0) {
        free(r);
        *err = rc;
        return NULL;
    }
    return r;
}

static int next_pcap(struct pt_reader *r, struct pt_reader_rec *rec, char *msg, size_t msglen)
{
    struct pcap_pkthdr *h;
    const u_char *data;
    int rc = pcap_next_ex(r->pcap, &h, &data);

    if (rc == 1) {
        rec->data = data;
        rec->caplen = h->caplen;
        rec->wirelen = h->len;
        /* NANO precision: tv_usec holds nanoseconds. */
        rec->ts_ns = (uint64_t)h->ts.tv_sec * 1000000000ull + (uint64_t)h->ts.tv_usec;
        rec->linktype = r->pcap_link;
        rec->ifidx = 0;
        return 1;
    }
    if (rc == PCAP_ERROR_BREAK)
        return 0;
    snprintf(msg, msglen, "%s: %s", r->path, pcap_geterr(r->pcap));
    return strstr(pcap_geterr(r->pcap), "truncated") ? PT_E_TRUNC : PT_E_BADFILE;
}

/* Read exactly @n bytes; 1 ok, 0 clean EOF before any byte, PT_E_TRUNC. */
static int read_full(struct pt_reader *r, void *dst, size_t n)
{
    size_t got = fread(dst, 1, n, r->f);

    if (got == n)
        return 1;
    if (got == 0 && feof(r->f))
        return 0;
    return ferror(r->f) ? -EIO : PT_E_TRUNC;
}

static int ensure_buf(struct pt_reader *r, size_t n)
{
    uint8_t *nb;

    if (n <= r->bufcap)
        return 0;
    nb = realloc(r->buf, n);
    if (!nb)
        return -ENOMEM;
    r->buf = nb;
    r->bufcap = n;
    return 0;
}

/* Find option @code in an option list; returns its value and length. */
static const uint8_t *ng_option(const struct pt_reader *r, const uint8_t *p, const uint8_t *end,
                                uint16_t code, uint16_t *len)
{
    while (end - p >= 4) {
        uint16_t c = rd16(r, p), l = rd16(r, p + 2);
        size_t padded = ((size_t)l + 3u) & ~3u;
        if (c == 0 || (size_t)(end - p - 4) < l)
            return NULL;
        if (c == code) {
            *len = l;
            return p + 4;
        }
        if ((size_t)(end - p - 4) < padded)
            return NULL;
        p += 4 + padded;
    }
    return NULL;
}

static int ng_add_iface(struct pt_reader *r, const uint8_t *body, uint32_t blen)
{
    struct ng_iface *ifc;
    const uint8_t *v;
    uint16_t l;

    if (blen < 8)
        return PT_E_BADFILE;
    if (r->n_ifs == r->cap_ifs) {
        unsigned nc = r->cap_ifs ? r->cap_ifs * 2 : 8;
        struct ng_iface *n = NULL;
        if (nc > NG_MAX_IFACES || !(n = realloc(r->ifs, nc * sizeof *n)))
            return nc > NG_MAX_IFACES ? PT_E_BADFILE : -ENOMEM;
        r->ifs = n;
        r->cap_ifs = nc;
    }
    ifc = &r->ifs[r->n_ifs];
    memset(ifc, 0, sizeof *ifc);
    ifc->linktype = rd16(r, body);
    ifc->snaplen = rd32(r, body + 4);
    ifc->tsresol = 6;
    if ((v = ng_option(r, body + 8, body + blen, 9, &l)) && l >= 1)
        ifc->tsresol = v[0];
    if ((v = ng_option(r, body + 8, body + blen, 14, &l)) && l == 8) {
        /* A 64-bit value in the section's byte order; hosts here are
         * little-endian, so an unswapped section stores the low word first. */
        uint64_t lo = rd32(r, r->swap ? v + 4 : v), hi = rd32(r, r->swap ? v : v + 4);
        ifc->tsoffset_s = (int64_t)(hi << 32 | lo);
    }
    if ((v = ng_option(r, body + 8, body + blen, 2, &l)) && l > 0) {
        size_t n = l < sizeof ifc->name - 1 ? l : sizeof ifc->name - 1;
        memcpy(ifc->name, v, n);
        ifc->name[n] = '\0';
    }
    r->n_ifs++;
    return 0;
}

/* Convert a pcapng timestamp in interface units to ns since the epoch. */
static uint64_t ng_ts_ns(const struct ng_iface *ifc, uint64_t t)
{
    unsigned v = ifc->tsresol & 0x7f;
    unsigned __int128 ns;

    if (ifc->tsresol & 0x80) {
        if (v > 63)
            return 0;
        ns = (unsigned __int128)t * 1000000000u >> v;
    } else if (v <= 9) {
        static const uint64_t mul[] = {1000000000, 100000000, 10000000, 1000000, 100000,
                                       10000,      1000,      100,      10,      1};
        ns = (unsigned __int128)t * mul[v];
    } else {
        uint64_t div = 1;
        for (unsigned i = 9; i < v && i < 28; i++)
            div *= 10;
        ns = t / div;
    }
    ns += (unsigned __int128)((uint64_t)ifc->tsoffset_s * 1000000000ull);
    return (uint64_t)ns;
}

static int ng_packet(struct pt_reader *r, uint32_t type, const uint8_t *body, uint32_t blen,
                     struct pt_reader_rec *rec)
{
    uint32_t ifidx, caplen, wirelen, hdr;
    uint64_t ts = 0;

    if (type == NG_EPB || type == NG_PB) {
        if (blen < 20)
            return PT_E_BADFILE;
        if (type == NG_EPB)
            ifidx = rd32(r, body);
        else
            ifidx = rd16(r, body);
        ts = (uint64_t)rd32(r, body + 4) << 32 | rd32(r, body + 8);
        caplen = rd32(r, body + 12);
        wirelen = rd32(r, body + 16);
        hdr = 20;
    } else { /* SPB: caplen is what the block holds, up to the snaplen */
        if (blen < 4 || r->n_ifs == r->if_base)
            return PT_E_BADFILE;
        ifidx = 0;
        wirelen = rd32(r, body);
        hdr = 4;
        caplen = wirelen;
        if (caplen > blen - hdr)
            caplen = blen - hdr;
        if (r->ifs[r->if_base].snaplen && caplen > r->ifs[r->if_base].snaplen)
            caplen = r->ifs[r->if_base].snaplen;
    }
    if (ifidx >= r->n_ifs - r->if_base || caplen > blen - hdr)
        return PT_E_BADFILE;
    ifidx += r->if_base; /* unique across sections */
    rec->data = body + hdr;
    rec->caplen = caplen;
    rec->wirelen = wirelen < caplen ? caplen : wirelen;
    rec->ts_ns = type == NG_SPB ? 0 : ng_ts_ns(&r->ifs[ifidx], ts);
    rec->linktype = r->ifs[ifidx].linktype;
    rec->ifidx = ifidx;
    return 1;
}

static int next_ng(struct pt_reader *r, struct pt_reader_rec *rec, char *msg, size_t msglen)
{
    int rc;

    for (;;) {
        uint8_t head[8];
        uint32_t type, len, blen;
        uint8_t *body;

        rc = read_full(r, head, 8);
        if (rc <= 0) {
            if (rc < 0)
                snprintf(msg, msglen, "%s: file ends inside a pcapng block header", r->path);
            return rc;
        }
        memcpy(&type, head, 4);
        if (type == NG_SHB) {
            uint32_t bom;
            if ((rc = read_full(r, &bom, 4)) <= 0)
                goto trunc;
            if (bom != NG_BOM && bom != __builtin_bswap32(NG_BOM)) {
                snprintf(msg, msglen, "%s: bad pcapng byte-order magic", r->path);
                return PT_E_BADFILE;
            }
            r->swap = bom != NG_BOM;
            r->if_base = r->n_ifs; /* a new section: its interface ids restart at 0 */
            len = rd32(r, head + 4);
            if (len < 28 || len % 4 || len > NG_MAX_BLOCK)
                goto bad_len;
            if (ensure_buf(r, len) < 0)
                return -ENOMEM;
            if ((rc = read_full(r, r->buf, len - 12)) <= 0)
                goto trunc;
            continue;
        }
        type = rd32(r, head);
        len = rd32(r, head + 4);
        if (len < 12 || len % 4 || len > NG_MAX_BLOCK)
            goto bad_len;
        if (ensure_buf(r, len) < 0)
            return -ENOMEM;
        body = r->buf;
        if ((rc = read_full(r, body, len - 8)) <= 0)
            goto trunc;
        blen = len - 12;
        if (rd32(r, body + blen) != len)
            goto bad_len;
        if (type == NG_IDB) {
            if ((rc = ng_add_iface(r, body, blen)) < 0)
                goto bad_block;
            continue;
        }
        if (type == NG_EPB || type == NG_SPB || type == NG_PB) {
            if ((rc = ng_packet(r, type, body, blen, rec)) < 0)
                goto bad_block;
            return 1;
        }
    }
trunc:
    if (rc < 0 && rc != PT_E_TRUNC) { /* a read error, not the end of the file */
        snprintf(msg, msglen, "%s: %s", r->path, pt_strerror(rc));
        return rc;
    }
    snprintf(msg, msglen, "%s: truncated pcapng file: ends inside a block", r->path);
    return PT_E_TRUNC;
bad_len:
    snprintf(msg, msglen, "%s: corrupt pcapng block length", r->path);
    return PT_E_BADFILE;
bad_block:
    snprintf(msg, msglen, "%s: corrupt pcapng block (interface or lengths out of range)", r->path);
    return PT_E_BADFILE;
}

int pt_reader_next(struct pt_reader *r, struct pt_reader_rec *rec, char *msg, size_t msglen)
{
    if (r->map)
        return next_map(r, rec, msg, msglen);
    return r->pcap ? next_pcap(r, rec, msg, msglen) : next_ng(r, rec, msg, msglen);
}

const char *pt_reader_ifname(struct pt_reader *r, unsigned ifidx)
{
    const char *base = strrchr(r->path, '/');

    base = base ? base + 1 : r->path;
    if (r->pcap || r->map)
        return base; /* one interface: the file */
    if (ifidx < r->n_ifs && r->ifs[ifidx].name[0])
        return r->ifs[ifidx].name;
    snprintf(r->ifname, sizeof r->ifname, "%.60s#%u", base, ifidx);
    return r->ifname;
}

bool pt_reader_data_stable(const struct pt_reader *r)
{
    /* Pages dropped behind the cursor (MADV_DONTNEED on a private, read-only
     * file mapping) fault back in from the file on access: still valid. */
    return r->map != NULL;
}

void pt_reader_close(struct pt_reader *r)
{
    if (!r)
        return;
    if (r->pcap)
        pcap_close(r->pcap);
    if (r->map)
        munmap((void *)r->map, r->map_len);
    if (r->f)
        fclose(r->f);
    free(r->buf);
    free(r->ifs);
    free(r);
}
