#!/bin/sh
# gen-expected-appid.sh TESTDATA - tshark's application protocol per TCP/UDP connection, the
# reference tests/decode/test_appid_ref.c compares pt_appid with.
#
# For every capture F = TESTDATA/pcap/<category>/<file> (*.pcap, *.pcapng; pcap/bench/ left out:
# it is a merge of the others) it writes tests/expected/<category>/<file>.appid.tsv from:
#
#   tshark -n -r F -o ip.defragment:FALSE -o ipv6.defragment:FALSE \
#          -Y "tcp.len > 0 or udp.length > 8" -T fields -E separator=/t \
#          -e frame.number -e ip.src -e ipv6.src -e ip.dst -e ipv6.dst \
#          -e tcp.srcport -e tcp.dstport -e udp.srcport -e udp.dstport -e frame.protocols
#
# (every frame that carries TCP/UDP payload, with its frame.protocols chain), then, per
# unordered 5-tuple of the OUTERMOST IP layer (the first value of each field, as
# tests/support/streams.h groups connections), one line:
#   proto TAB addrA TAB portA TAB addrB TAB portB TAB chain
# (frames whose transport header is quoted inside an ICMP error are left out) where chain is the part of frame.protocols after the first "tcp"/"udp" in the first of the
# connection's first 8 payload frames that has one other than "data" (e.g. "http:data",
# "nbdgm:smb:browser", "tls"), or "-" when tshark named nothing. Endpoint order and sorting
# as tests/tools/normalize.py conv (lower endpoint first). tshark names a protocol by port
# too (its "decode as" defaults), so the test reads its chain as a second opinion, not truth.
#
# It also normalises the other projects' per-flow answers shipped beside the captures into the
# same line format (lower endpoint first, sorted), label in the last column:
#   <file>.ndpi-appid.tsv    from <stem>.ndpi.out: the "[proto: ID/NAME]" NAME of each TCP, UDP,
#                            ICMP, ICMPV6 flow line ("TLS.Google", "NetBIOS.SMBv1"; the test
#                            takes the master, before '.'; proto icmp/icmpv6 rows are outside
#                            the comparison, listed only)
#   <file>.zeek-appid.tsv    from <stem>.zeek-conn.log: the `service` column ('-' when unset)
#   <file>.arkime-appid.tsv  from <stem>.arkime.test.json: each TCP/UDP session's `protocol`
#                            list joined with ','
# Deterministic; tested with tshark 4.0.17 (Debian 12).
set -eu

if [ $# -ne 1 ] || [ ! -d "$1/pcap" ]; then
    echo "usage: $0 TESTDATA   (the directory holding pcap/)" >&2
    exit 2
fi
TESTDATA=$(cd "$1" && pwd)
TOOLS=$(cd "$(dirname "$0")" && pwd)
OUT=$(cd "$TOOLS/../expected" && pwd)
export LC_ALL=C TZ=UTC
command -v tshark >/dev/null || { echo "gen-expected-appid: tshark not found" >&2; exit 1; }

find "$TESTDATA/pcap" -path "$TESTDATA/pcap/bench" -prune -o -type f \
    \( -name '*.pcap' -o -name '*.pcapng' \) -print | sort | while read -r f; do
    rel=${f#"$TESTDATA/pcap/"}
    cat=${rel%%/*}
    mkdir -p "$OUT/$cat"
    tshark -n -r "$f" -o ip.defragment:FALSE -o ipv6.defragment:FALSE \
        -Y "tcp.len > 0 or udp.length > 8" -T fields -E separator=/t \
        -e frame.number -e ip.src -e ipv6.src -e ip.dst -e ipv6.dst \
        -e tcp.srcport -e tcp.dstport -e udp.srcport -e udp.dstport -e frame.protocols \
        2>/dev/null | python3 -c '
import socket, sys

def key(a):
    for rank, fam in ((0, socket.AF_INET), (1, socket.AF_INET6)):
        try:
            return rank, socket.inet_pton(fam, a), socket.inet_ntop(fam, socket.inet_pton(fam, a))
        except OSError:
            pass
    raise ValueError(a)

def first(v):
    return v.split(",")[0] if v else ""

conns = {}
for line in sys.stdin:
    c = line.rstrip("\n").split("\t")
    if len(c) < 10:
        continue
    src = first(c[1]) or first(c[2])
    dst = first(c[3]) or first(c[4])
    chain = c[9].split(":")
    # the outermost transport: the first tcp/udp of the chain
    idx = [i for i, p in enumerate(chain) if p in ("tcp", "udp")]
    if not src or not dst or not idx:
        continue
    if "icmp" in chain[:idx[0]] or "icmpv6" in chain[:idx[0]]:
        continue  # a datagram quoted in an ICMP error, not a packet of the connection
    proto = chain[idx[0]]
    if proto == "tcp":
        sp, dp = first(c[5]), first(c[6])
    else:
        sp, dp = first(c[7]), first(c[8])
    if not sp or not dp:
        continue
    a = (key(src), int(sp))
    b = (key(dst), int(dp))
    lo, hi = (a, b) if (a[0][0], a[0][1], a[1]) <= (b[0][0], b[0][1], b[1]) else (b, a)
    k = (proto, lo[0][0], lo[0][1], lo[1], hi[0][0], hi[0][1], hi[1])
    e = conns.setdefault(k, {"n": 0, "chain": None, "text": (lo[0][2], lo[1], hi[0][2], hi[1])})
    e["n"] += 1
    rest = chain[idx[0] + 1:]
    if e["chain"] is None and e["n"] <= 8 and rest and rest != ["data"]:
        e["chain"] = ":".join(rest)

print("#proto\taddrA\tportA\taddrB\tportB\tchain")
for k in sorted(conns):
    e = conns[k]
    t = e["text"]
    print("%s\t%s\t%d\t%s\t%d\t%s" % (k[0], t[0], t[1], t[2], t[3], e["chain"] or "-"))
' >"$OUT/$cat/$(basename "$f").appid.tsv"
done

# The other projects' answers (no tool run: parsing only).
find "$TESTDATA/pcap" -type f \( -name '*.ndpi.out' -o -name '*.zeek-conn.log' \
    -o -name '*.arkime.test.json' \) | sort | python3 -c '
import json, os, re, socket, sys

out_dir = sys.argv[1]
root = sys.argv[2]

def key(a):
    for rank, fam in ((0, socket.AF_INET), (1, socket.AF_INET6)):
        try:
            b = socket.inet_pton(fam, a)
            return rank, b, socket.inet_ntop(fam, b)
        except OSError:
            pass
    raise ValueError(a)

def line(proto, a, ap, b, bp, label):
    ka, kb = (key(a), int(ap)), (key(b), int(bp))
    lo, hi = (ka, kb) if (ka[0][0], ka[0][1], ka[1]) <= (kb[0][0], kb[0][1], kb[1]) else (kb, ka)
    return ((proto, lo[0][0], lo[0][1], lo[1], hi[0][0], hi[0][1], hi[1], label),
            "%s\t%s\t%d\t%s\t%d\t%s" % (proto, lo[0][2], lo[1], hi[0][2], hi[1], label))

EP = r"(\[[0-9a-fA-F:.]+\]|[0-9.]+):(\d+)"
for path in sys.stdin.read().split("\n"):
    if not path:
        continue
    rows = []
    if path.endswith(".ndpi.out"):
        stem, kind = path[:-len(".ndpi.out")], "ndpi"
        for ln in open(path, errors="replace"):
            m = re.match(r"\s+\d+\s+(TCP|UDP|ICMP|ICMPV6) " + EP + r" <?-> " + EP + r" .*?\[proto: [0-9.]+/([^\]]+)\]", ln)
            if m:
                rows.append(line(m.group(1).lower(), m.group(2).strip("[]"), m.group(3),
                                 m.group(4).strip("[]"), m.group(5), m.group(6)))
    elif path.endswith(".zeek-conn.log"):
        stem, kind = path[:-len(".zeek-conn.log")], "zeek"
        fields = None
        for ln in open(path):
            ln = ln.rstrip("\n")
            if ln.startswith("#fields"):
                fields = ln.split("\t")[1:]
            elif not ln.startswith("#") and fields:
                r = dict(zip(fields, ln.split("\t")))
                if r["proto"] in ("tcp", "udp"):
                    rows.append(line(r["proto"], r["id.orig_h"], r["id.orig_p"], r["id.resp_h"],
                                     r["id.resp_p"], r["service"]))
    else:
        stem, kind = path[:-len(".arkime.test.json")], "arkime"
        for s in json.load(open(path)).get("sessions3", []):
            b = s.get("body", {})
            proto = {6: "tcp", 17: "udp"}.get(b.get("ipProtocol"))
            if proto:
                rows.append(line(proto, b["source"]["ip"], b["source"]["port"],
                                 b["destination"]["ip"], b["destination"]["port"],
                                 ",".join(b.get("protocol", []))))
    cap = [stem + ext for ext in (".pcap", ".pcapng") if os.path.exists(stem + ext)]
    if not cap:
        sys.exit("no capture for " + path)
    rel = os.path.relpath(cap[0], root)
    cat = rel.split("/")[0]
    os.makedirs(os.path.join(out_dir, cat), exist_ok=True)
    with open(os.path.join(out_dir, cat, os.path.basename(cap[0]) + "." + kind + "-appid.tsv"), "w") as f:
        f.write("#proto\taddrA\tportA\taddrB\tportB\tlabel\n")
        for k, text in sorted(rows):
            f.write(text + "\n")
' "$OUT" "$TESTDATA/pcap"
