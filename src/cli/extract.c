/* extract.c - `packettracer extract` and `packettracer status`: the pcap
 * ring's read side (include/pt/ring.h) from the command line.
 *
 * DESIGN
 * 1. extract maps its options one to one onto struct pt_ring_query; the
 *    operands, joined with spaces, are the BPF expression (as tcpdump takes
 *    it). The output goes to -w FILE or, with "-w -", to stdout (never to a
 *    terminal). A FILE left by a failed extraction is removed: a partial
 *    capture with exit status 1 is easy to mistake for a whole one.
 * 2. --flow UID looks the flow up in the store read-only: its finished
 *    record (pt_store_flows_read), else its live one (pt_store_live_read).
 *    The record holds the flow's endpoints, protocol and VLANs, from which
 *    flow_key_of() rebuilds the struct pt_flow_key that pt_flow_key_make()
 *    builds for its packets: the lower (address, port) endpoint first
 *    (ICMP: the lower address, the ports slots as key.c fills them). An
 *    ICMP request/response flow's key holds the echo id, which the record
 *    does not; the uid does (it hashes the key with the first packet's
 *    time), so the id is the one of 65536 whose key gives the record's uid.
 *    Every rebuilt key is checked against the uid that way. The time range
 *    is the flow's [first packet, last packet] (a live flow: from its
 *    first packet on), within --from/--to.
 * 3. status prints pt_ring_status_read(): a table of the ring's span and
 *    size, then the writer's counters by cause; or one JSON object.
 * Exit status: 0 ok (also when nothing matches), 1 runtime (no ring, a read
 * or write error, an unknown flow), 2 usage (a bad option or expression). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "pt/ring.h"
#include "query.h"

enum {
    OPT_FROM = PT_CLI_OPT_FROM,
    OPT_TO = PT_CLI_OPT_TO,
    OPT_HOST = PT_CLI_OPT_OWN,
    OPT_PORT,
    OPT_VLAN,
    OPT_FLOW,
    OPT_PCAPNG,
};

struct extract_opts {
    const char *dir, *out, *uid;
    struct pt_ring_query q;
    bool from_set, to_set, pcapng;
    char *bpf; /* owned */
};

static void extract_usage(FILE *out)
{
    fputs("usage: packettracer extract -d DIR [options] -w FILE|- [BPF expression]\n"
          "\n"
          "Write the packets kept in the ring of DIR (DIR/ring) that match every option given\n"
          "and the BPF expression (tcpdump syntax), in time order, as pcap with nanosecond\n"
          "timestamps. Works while the sensor writes.\n"
          "\n"
          "  -d, --datadir DIR     data directory (default " PT_CLI_DATADIR_DEFAULT ")\n"
          "  -w, --write FILE      write to FILE; - for stdout (not a terminal)\n"
          "      --from T          packets at or after T (default: the oldest kept)\n"
          "      --to T            ... and before T (default: the newest)\n"
          "      --host A          packets with IPv4/IPv6 address A as source or destination\n"
          "                        (of any IP layer: the outer or the inner one of a tunnel)\n"
          "      --port P          packets with TCP/UDP/SCTP port P, either end\n"
          "      --vlan V          packets carrying VLAN id V (any tag)\n"
          "      --flow UID        the packets of flow UID (see `packettracer flows`), from its\n"
          "                        first packet to its last, within --from/--to\n"
          "      --pcapng          write pcapng, with one interface per capture interface\n"
          "                        and link type, named as the sensor named them\n",
          out);
    pt_cli_usage_help_times(out);
    fputs("\npcap output takes the link type of the first packet; packets of another link\n"
          "type are skipped and counted (--pcapng keeps them all).\n"
          "Exit status: 0 ok (also when nothing matches), 1 no ring or a read/write error,\n"
          "2 bad usage or a bad BPF expression.\n",
          out);
}

/* The operands as one expression; NULL when there are none. */
static int bpf_join(int argc, char **argv, char **out)
{
    size_t len = 0;
    char *s;

    *out = NULL;
    if (optind >= argc)
        return 0;
    for (int i = optind; i < argc; i++)
        len += strlen(argv[i]) + 1;
    if (!(s = malloc(len)))
        return -ENOMEM;
    s[0] = '\0';
    for (int i = optind; i < argc; i++) {
        if (i > optind)
            strcat(s, " ");
        strcat(s, argv[i]);
    }
    *out = s;
    return 0;
}

static int extract_opt(struct extract_opts *o, int c, const char *arg, uint64_t now)
{
    uint64_t v;

    switch (c) {
    case 'd':
        o->dir = arg;
        return 0;
    case 'w':
        o->out = arg;
        return 0;
    case OPT_FROM:
        o->from_set = true;
        return pt_cli_parse_time("--from", arg, now, &o->q.from_ns) ? 0 : 2;
    case OPT_TO:
        o->to_set = true;
        return pt_cli_parse_time("--to", arg, now, &o->q.to_ns) ? 0 : 2;
    case OPT_HOST:
        if (!pt_cli_parse_host("--host", arg, o->q.host))
            return 2;
        o->q.by_host = true;
        return 0;
    case OPT_PORT:
        if (!pt_cli_parse_u64("--port", arg, 0, 65535, &v))
            return 2;
        o->q.port = (uint16_t)v;
        o->q.by_port = true;
        return 0;
    case OPT_VLAN:
        if (!pt_cli_parse_u64("--vlan", arg, 0, 4095, &v))
            return 2;
        o->q.vlan = (uint16_t)v;
        o->q.by_vlan = true;
        return 0;
    case OPT_FLOW:
        if (!pt_cli_parse_uid("--flow", arg))
            return 2;
        o->uid = arg;
        return 0;
    case OPT_PCAPNG:
        o->pcapng = true;
        return 0;
    default:
        extract_usage(stderr);
        return 2;
    }
}

/* -1 to go on, else the exit status. */
static int extract_parse(int argc, char **argv, struct extract_opts *o)
{
    static const struct option lo[] = {
        {"datadir", required_argument, NULL, 'd'},
        {"write", required_argument, NULL, 'w'},
        {"from", required_argument, NULL, OPT_FROM},
        {"to", required_argument, NULL, OPT_TO},
        {"host", required_argument, NULL, OPT_HOST},
        {"port", required_argument, NULL, OPT_PORT},
        {"vlan", required_argument, NULL, OPT_VLAN},
        {"flow", required_argument, NULL, OPT_FLOW},
        {"pcapng", no_argument, NULL, OPT_PCAPNG},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    uint64_t now = pt_cli_now_ns();
    int c, rc;

    o->dir = PT_CLI_DATADIR_DEFAULT;
    optind = 1;
    while ((c = getopt_long(argc, argv, "d:w:h", lo, NULL)) != -1) {
        if (c == 'h') {
            extract_usage(stdout);
            return 0;
        }
        if ((rc = extract_opt(o, c, optarg, now)) != 0)
            return rc;
    }
    if (!o->from_set)
        o->q.from_ns = 0;
    if (!o->to_set)
        o->q.to_ns = UINT64_MAX;
    if (o->q.from_ns >= o->q.to_ns) {
        fputs("packettracer extract: --from must be before --to\n", stderr);
        return 2;
    }
    if (!o->out) {
        fputs("packettracer extract: -w FILE (or -w - for stdout) is required\n", stderr);
        return 2;
    }
    if (strcmp(o->out, "-") == 0 && isatty(STDOUT_FILENO)) {
        fputs("packettracer extract: not writing a capture to a terminal (redirect it, or -w "
              "FILE)\n",
              stderr);
        return 2;
    }
    if (bpf_join(argc, argv, &o->bpf) < 0) {
        fputs("packettracer extract: out of memory\n", stderr);
        return 1;
    }
    o->q.bpf = o->bpf;
    return -1;
}

/* ---- --flow (DESIGN 2) ---- */

static bool rec_icmp(const struct pt_flow_record *r)
{
    return (r->ver == 4 && r->proto == 1) || (r->ver == 6 && r->proto == 58);
}

/* The key of @r's flow with @sp/@dp in the port slots as key.c fills them
 * for the originator's packets (ICMP: already direction-free). */
static void key_build(const struct pt_flow_record *r, struct pt_flow_key *k, uint16_t sp,
                      uint16_t dp, bool icmp)
{
    int cmp = memcmp(r->orig_h, r->resp_h, 16);
    bool sw = cmp > 0 || (cmp == 0 && !icmp && sp > dp);

    memset(k, 0, sizeof *k);
    k->ver = r->ver;
    k->proto = r->proto;
    k->vlan[0] = r->vlan;
    k->vlan[1] = r->inner_vlan;
    memcpy(k->addr[0], sw ? r->resp_h : r->orig_h, 16);
    memcpy(k->addr[1], sw ? r->orig_h : r->resp_h, 16);
    k->port[0] = icmp || !sw ? sp : dp;
    k->port[1] = icmp || !sw ? dp : sp;
}

static bool key_is_uid(const struct pt_flow_record *r, const struct pt_flow_key *k)
{
    char uid[20];

    pt_flow_uid(uid, k, r->ts_ns);
    return strncmp(uid, r->uid, sizeof uid) == 0;
}

/* The key pt_flow_key_make() builds for the packets of @r's flow; false
 * when no candidate gives the record's uid (@k then holds the plain one). */
static bool flow_key_of(const struct pt_flow_record *r, struct pt_flow_key *k)
{
    bool icmp = rec_icmp(r);

    key_build(r, k, r->orig_p, r->resp_p, icmp); /* ports; ICMP: type and code */
    if (key_is_uid(r, k))
        return true;
    if (icmp && r->orig_p < 256 && r->resp_p < 256) {
        /* request/response: (echo id, 0x8000 | the lower of the two types) */
        uint16_t t = 0x8000 | (r->orig_p < r->resp_p ? r->orig_p : r->resp_p);
        for (uint32_t id = 0; id <= 0xffff; id++) {
            key_build(r, k, (uint16_t)id, t, true);
            if (key_is_uid(r, k))
                return true;
        }
        key_build(r, k, 0, 0, true); /* no ICMP header decoded */
        if (key_is_uid(r, k))
            return true;
    }
    key_build(r, k, r->orig_p, r->resp_p, icmp);
    return false;
}

struct flow_find {
    struct pt_flow_record rec;
    bool found;
};

static int flow_found(const struct pt_flow_record *rec, void *arg)
{
    struct flow_find *f = arg;

    f->rec = *rec;
    f->found = true;
    return 1;
}

static struct pt_store *store_open(const char *dir)
{
    char path[4200], msg[512] = "";
    struct pt_store *s;
    struct stat st;
    int err = 0;

    snprintf(path, sizeof path, "%s/store", dir);
    if (stat(path, &st) != 0) {
        fprintf(stderr, "packettracer extract: --flow: no store in %s (%s: %s)\n", dir, path,
                strerror(errno));
        return NULL;
    }
    if (!(s = pt_store_open(dir, NULL, true, &err, msg, sizeof msg)))
        fprintf(stderr, "packettracer extract: --flow: cannot open the store in %s: %s\n", dir,
                msg[0] ? msg : pt_strerror(err));
    return s;
}

/* Turn --flow into the query's key and range: -1 to go on, else the exit
 * status. */
static int flow_resolve(struct extract_opts *o)
{
    struct pt_store_flow_query fq = {.uid = o->uid, .from_ns = o->q.from_ns};
    struct flow_find f = {0};
    struct pt_store *s;
    uint64_t from, to;
    int rc;

    if (!(s = store_open(o->dir)))
        return 1;
    rc = pt_store_flows_read(s, &fq, flow_found, &f);
    bool live = false;
    if (rc >= 0 && !f.found) {
        fq.from_ns = 0;
        rc = pt_store_live_read(s, &fq, flow_found, &f);
        live = f.found;
    }
    pt_store_close(s);
    if (rc < 0) {
        fprintf(stderr, "packettracer extract: --flow: reading the store: %s\n", pt_strerror(rc));
        return 1;
    }
    if (!f.found) {
        fprintf(stderr, "packettracer extract: --flow: no flow %s in the store of %s\n", o->uid,
                o->dir);
        return 1;
    }
    if (f.rec.ver != 4 && f.rec.ver != 6) {
        fprintf(stderr, "packettracer extract: --flow: flow %s has no IP version\n", o->uid);
        return 1;
    }
    if (!flow_key_of(&f.rec, &o->q.flow))
        fprintf(stderr,
                "packettracer extract: --flow: warning: the key rebuilt from flow %s's record "
                "does not give its uid; extracting by its addresses, ports and VLANs\n",
                o->uid);
    o->q.by_flow = true;
    from = f.rec.ts_ns;
    to = live || f.rec.last_ns == UINT64_MAX ? UINT64_MAX : f.rec.last_ns + 1;
    o->q.from_ns = o->q.from_ns > from ? o->q.from_ns : from;
    o->q.to_ns = o->q.to_ns < to ? o->q.to_ns : to;
    if (o->q.from_ns >= o->q.to_ns) {
        fprintf(stderr, "packettracer extract: --flow: flow %s has no packet within --from/--to\n",
                o->uid);
        return 1;
    }
    return -1;
}

/* ---- extract ---- */

int pt_cli_extract(int argc, char **argv)
{
    struct extract_opts o = {0};
    struct pt_ring_extract_stats st;
    char ring[4200], msg[512] = "";
    bool to_stdout;
    FILE *out;
    int rc;

    if ((rc = extract_parse(argc, argv, &o)) >= 0)
        goto done;
    if (o.uid && (rc = flow_resolve(&o)) >= 0)
        goto done;
    snprintf(ring, sizeof ring, "%s/ring", o.dir);
    to_stdout = strcmp(o.out, "-") == 0;
    if (!(out = to_stdout ? stdout : fopen(o.out, "wb"))) {
        fprintf(stderr, "packettracer extract: %s: %s\n", o.out, strerror(errno));
        rc = 1;
        goto done;
    }
    rc = pt_ring_extract(ring, &o.q, o.pcapng ? PT_RING_OUT_PCAPNG : PT_RING_OUT_PCAP, out, &st,
                         msg, sizeof msg);
    if (!to_stdout && fclose(out) != 0 && rc == 0) {
        rc = -errno;
        snprintf(msg, sizeof msg, "%s: %s", o.out, strerror(errno));
    }
    if (rc < 0) {
        fprintf(stderr, "packettracer extract: %s\n", msg[0] ? msg : pt_strerror(rc));
        struct stat sb; /* never a device or a FIFO (-w /dev/null as root) */
        if (!to_stdout && stat(o.out, &sb) == 0 && S_ISREG(sb.st_mode))
            unlink(o.out);
        rc = rc == -EINVAL ? 2 : 1;
        goto done;
    }
    fprintf(stderr, "packettracer extract: %llu packets written (%llu reads, %llu bytes read)\n",
            (unsigned long long)st.packets, (unsigned long long)st.blocks_read,
            (unsigned long long)st.bytes_read);
    if (st.skipped_linktype)
        fprintf(stderr,
                "packettracer extract: %llu packets of another link type than the first were "
                "skipped (--pcapng keeps them)\n",
                (unsigned long long)st.skipped_linktype);
    rc = to_stdout ? pt_cli_output_done("extract") : 0;
done:
    free(o.bpf);
    return rc;
}

/* ---- status (DESIGN 3) ---- */

static void status_usage(FILE *out)
{
    fputs("usage: packettracer status -d DIR [--format table|json]\n"
          "\n"
          "Print the state of the packet ring in DIR/ring: the time span it holds, its\n"
          "segments, bytes and packets, the size of its index, and the writer's counters by\n"
          "cause as of its last commit. Works while the sensor writes.\n"
          "\n"
          "  -d, --datadir DIR     data directory (default " PT_CLI_DATADIR_DEFAULT ")\n"
          "  -F, --format F        table (default) or json (one object)\n"
          "  -h, --help            this text\n"
          "\n"
          "Exit status: 0 ok, 1 no ring or a read error, 2 bad usage.\n",
          out);
}

static const char *u64s(char *buf, size_t len, uint64_t v)
{
    snprintf(buf, len, "%llu", (unsigned long long)v);
    return buf;
}

static void status_json(const char *ring, const struct pt_ring_status *s)
{
    const struct pt_ring_stats *w = &s->writer;
    char t[32];

    fputs("{\"ring\":", stdout);
    pt_cli_json_str(stdout, ring);
    if (s->packets) {
        printf(",\"oldest\":\"%s\"", pt_cli_time_rfc3339(t, sizeof t, s->oldest_ns / PT_CLI_NS));
        printf(",\"newest\":\"%s\"", pt_cli_time_rfc3339(t, sizeof t, s->newest_ns / PT_CLI_NS));
    } else {
        fputs(",\"oldest\":null,\"newest\":null", stdout);
    }
    printf(",\"oldest_ns\":%llu,\"newest_ns\":%llu,\"segments\":%llu,\"bytes\":%llu,"
           "\"disk_bytes\":%llu,\"packets\":%llu,\"index_bytes\":%llu",
           (unsigned long long)s->oldest_ns, (unsigned long long)s->newest_ns,
           (unsigned long long)s->segments, (unsigned long long)s->bytes,
           (unsigned long long)s->disk_bytes, (unsigned long long)s->packets,
           (unsigned long long)s->index_bytes);
    if (s->bytes)
        printf(",\"index_share\":%.4f", (double)s->index_bytes / (double)s->bytes);
    else
        fputs(",\"index_share\":null", stdout);
    printf(",\"counters\":{\"packets\":%llu,\"bytes\":%llu,\"wire_bytes\":%llu,"
           "\"lost_full_pkts\":%llu,\"lost_full_bytes\":%llu,\"lost_io_pkts\":%llu,"
           "\"lost_io_bytes\":%llu,\"cutoff_pkts\":%llu,\"cutoff_bytes\":%llu,"
           "\"cutoff_resets\":%llu,\"bad_time_pkts\":%llu,\"index_lost_keys\":%llu,"
           "\"segments_created\":%llu,\"segments_recycled\":%llu,\"segments_early\":%llu,"
           "\"index_commits\":%llu,\"index_errors\":%llu,\"write_errors\":%llu,"
           "\"reconciled_bytes\":%llu,\"degraded\":%s}}\n",
           (unsigned long long)w->packets, (unsigned long long)w->bytes,
           (unsigned long long)w->wire_bytes, (unsigned long long)w->lost_full_pkts,
           (unsigned long long)w->lost_full_bytes, (unsigned long long)w->lost_io_pkts,
           (unsigned long long)w->lost_io_bytes, (unsigned long long)w->cutoff_pkts,
           (unsigned long long)w->cutoff_bytes, (unsigned long long)w->cutoff_resets,
           (unsigned long long)w->bad_time_pkts, (unsigned long long)w->index_lost_keys,
           (unsigned long long)w->segments_created, (unsigned long long)w->segments_recycled,
           (unsigned long long)w->segments_early, (unsigned long long)w->index_commits,
           (unsigned long long)w->index_errors, (unsigned long long)w->write_errors,
           (unsigned long long)w->reconciled_bytes, w->degraded ? "true" : "false");
}

/* The counters by cause, as a table. */
static int status_causes(const struct pt_ring_stats *w)
{
    static const char *const hdr[] = {"CAUSE", "PACKETS", "BYTES", "MEANING"};
    struct {
        const char *cause;
        bool has_pkts;
        uint64_t pkts, bytes;
        const char *meaning;
    } rows[] = {
        {"committed", true, w->packets, w->bytes, "written to segments and indexed"},
        {"lost_full", true, w->lost_full_pkts, w->lost_full_bytes,
         "dropped: no free staging chunk (the writer fell behind)"},
        {"lost_io", true, w->lost_io_pkts, w->lost_io_bytes,
         "dropped: a write failed and nothing was left to recycle"},
        {"cutoff", true, w->cutoff_pkts, w->cutoff_bytes, "not kept: past the per-flow cutoff"},
        {"bad_time", true, w->bad_time_pkts, 0, "not kept: a time pcap cannot hold (after 2106)"},
        {"reconciled", false, 0, w->reconciled_bytes,
         "cut at open: written after the last commit (a crash)"},
    };
    struct pt_cli_table *t = pt_cli_table_create(4, hdr, "lrrl");
    char p[32], b[32];
    int rc = 0;

    if (!t)
        return -ENOMEM;
    for (size_t i = 0; i < PT_ARRAY_LEN(rows) && rc == 0; i++) {
        const char *cells[4] = {rows[i].cause,
                                rows[i].has_pkts ? u64s(p, sizeof p, rows[i].pkts) : "-",
                                u64s(b, sizeof b, rows[i].bytes), rows[i].meaning};
        rc = pt_cli_table_add(t, cells);
    }
    if (rc == 0)
        rc = pt_cli_table_flush(t, stdout);
    pt_cli_table_destroy(t);
    return rc;
}

static int status_table(const char *ring, const struct pt_ring_status *s)
{
    const struct pt_ring_stats *w = &s->writer;
    char a[48], b[48], c[48];

    printf("ring       %s\n", ring);
    if (s->packets) {
        printf("oldest     %s\n", pt_cli_time_rfc3339(a, sizeof a, s->oldest_ns / PT_CLI_NS));
        printf("newest     %s\n", pt_cli_time_rfc3339(a, sizeof a, s->newest_ns / PT_CLI_NS));
        printf("span       %s\n", pt_cli_duration_text(a, sizeof a, s->newest_ns - s->oldest_ns));
    } else {
        printf("oldest     -\nnewest     -\nspan       - (no packet yet)\n");
    }
    printf("segments   %llu\n", (unsigned long long)s->segments);
    printf("bytes      %s committed (%llu), %s on disk\n",
           pt_cli_fmt_unit(a, sizeof a, (double)s->bytes, PT_CLI_UNIT_BYTES),
           (unsigned long long)s->bytes,
           pt_cli_fmt_unit(b, sizeof b, (double)s->disk_bytes, PT_CLI_UNIT_BYTES));
    printf("packets    %llu\n", (unsigned long long)s->packets);
    if (s->bytes)
        snprintf(c, sizeof c, "%.2f%%", 100.0 * (double)s->index_bytes / (double)s->bytes);
    else
        snprintf(c, sizeof c, "-");
    printf("index      %s (%s of the ring's bytes)\n",
           pt_cli_fmt_unit(a, sizeof a, (double)s->index_bytes, PT_CLI_UNIT_BYTES), c);
    printf("state      %s\n\n",
           w->degraded ? "degraded: dropping packets for lack of space" : "ok");
    if (status_causes(w) < 0)
        return -EIO;
    printf("\nsegments   %llu created, %llu recycled (%llu of them early: disk full)\n",
           (unsigned long long)w->segments_created, (unsigned long long)w->segments_recycled,
           (unsigned long long)w->segments_early);
    printf("writes     %llu index commits, %llu index errors, %llu write errors\n",
           (unsigned long long)w->index_commits, (unsigned long long)w->index_errors,
           (unsigned long long)w->write_errors);
    if (w->cutoff_resets)
        printf("cutoff     %llu flows counted from zero again (their slot taken by another)\n",
               (unsigned long long)w->cutoff_resets);
    if (w->index_lost_keys)
        printf("WARNING    %llu keys not indexed (no memory): --host/--port/--vlan/--flow may "
               "miss packets\n",
               (unsigned long long)w->index_lost_keys);
    return 0;
}

int pt_cli_status(int argc, char **argv)
{
    static const struct option lo[] = {
        {"datadir", required_argument, NULL, 'd'},
        {"format", required_argument, NULL, 'F'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *dir = PT_CLI_DATADIR_DEFAULT;
    enum pt_cli_qformat fmt = PT_CLI_QFMT_TABLE;
    struct pt_ring_status s;
    char ring[4200], msg[512] = "";
    int c, rc;

    optind = 1;
    while ((c = getopt_long(argc, argv, "d:F:h", lo, NULL)) != -1) {
        switch (c) {
        case 'd':
            dir = optarg;
            break;
        case 'F':
            if (!pt_cli_parse_qformat(optarg, &fmt))
                return 2;
            if (fmt == PT_CLI_QFMT_CSV) {
                fputs("packettracer status: --format: table or json\n", stderr);
                return 2;
            }
            break;
        case 'h':
            status_usage(stdout);
            return 0;
        default:
            status_usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "packettracer status: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    snprintf(ring, sizeof ring, "%s/ring", dir);
    if ((rc = pt_ring_status_read(ring, &s, msg, sizeof msg)) < 0) {
        fprintf(stderr, "packettracer status: %s\n", msg[0] ? msg : pt_strerror(rc));
        return 1;
    }
    if (fmt == PT_CLI_QFMT_JSON)
        status_json(ring, &s);
    else if (status_table(ring, &s) < 0) {
        fputs("packettracer status: writing the output failed\n", stderr);
        return 1;
    }
    return pt_cli_output_done("status");
}
