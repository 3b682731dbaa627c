#!/bin/sh
# gen-expected-tcp.sh TESTDATA - regenerate the TCP health reference answers in tests/expected/.
#
# For every capture F = TESTDATA/pcap/<category>/<file> (*.pcap, *.pcapng) holding at least one
# TCP segment outside an ICMP quote, it writes tests/expected/<category>/<file>.tcp.tsv from
# tshark's sequence analysis. Exact command (one line per TCP segment, last occurrence of each
# field, so the innermost layer of a tunnelled frame):
#
#   tshark -n -r F -o ip.defragment:FALSE -o ipv6.defragment:FALSE \
#          -Y 'tcp and not icmp and not icmpv6' -T fields -E occurrence=l \
#          -e tcp.stream -e frame.protocols -e ip.src -e ipv6.src -e tcp.srcport \
#          -e ip.dst -e ipv6.dst -e tcp.dstport -e tcp.analysis.retransmission \
#          -e tcp.analysis.out_of_order -e tcp.analysis.duplicate_ack \
#          -e tcp.analysis.zero_window -e tcp.analysis.lost_segment \
#          -e tcp.analysis.initial_rtt -e tcp.flags.syn -e tcp.options.mss_val \
#          -e tcp.options.wscale.shift -e ip.ttl -e ipv6.hlim -e ip.dsfield.dscp \
#          -e ipv6.tclass.dscp -e frame.time_epoch
#
# reduced by the awk program below to one row per TCP stream and direction, in order of first
# appearance (tab-separated, '-' when unset):
#   stream src sport dst dport pkts retrans ooo dup_acks zero_win lost initial_rtt mss wscale ttl dscp
#   first_ts
# where the counts are the segments of that direction carrying the flag (tshark shows
# tcp.analysis.retransmission on fast and spurious retransmissions too), initial_rtt is the
# stream's (seconds, as tshark prints it), mss and wscale come from the direction's first SYN
# that carries the option, ttl (TTL or hop limit) and dscp from its first segment, first_ts is the
# time of that first segment (epoch seconds). The address family is the last "ip"/"ipv6" in
# frame.protocols. Segments without a stream number (a header tshark gave up on) are skipped.
#
# For every Arkime session file TESTDATA/pcap/<category>/<stem>.arkime.test.json beside a capture
# <stem>.pcap it also writes <stem>.pcap.arkime-tcp.tsv: per TCP session
#   src sport dst dport srcTTL dstTTL srcZero dstZero initRTT
# (Arkime's source is the originator; TTL lists joined with ','; initRTT in milliseconds).
#
# Deterministic; tested with tshark 4.0.17 (Debian 12). Run from anywhere.
set -eu

if [ $# -ne 1 ] || [ ! -d "$1/pcap" ]; then
    echo "usage: $0 TESTDATA   (the directory holding pcap/)" >&2
    exit 2
fi
TESTDATA=$(cd "$1" && pwd)
TOOLS=$(cd "$(dirname "$0")" && pwd)
OUT=$(cd "$TOOLS/../expected" && pwd)
export LC_ALL=C TZ=UTC

command -v tshark >/dev/null || { echo "gen-expected-tcp: tshark not found" >&2; exit 1; }
command -v python3 >/dev/null || { echo "gen-expected-tcp: python3 not found" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

REDUCE='
BEGIN { FS = "\t"; OFS = "\t" }
function last_l3(protos,   n, i, a, v) {
    n = split(protos, a, ":"); v = ""
    for (i = 1; i <= n; i++) if (a[i] == "ip" || a[i] == "ipv6") v = a[i]
    return v
}
function d(x) { return x == "" ? "-" : x }
$1 == "" { next }    # no stream: tshark gave up on a malformed header
{
    fam = last_l3($2)
    if (fam == "ipv6") { src = $4; dst = $7; ttl = $19; dscp = $21 }
    else { src = $3; dst = $6; ttl = $18; dscp = $20 }
    k = $1 SUBSEP src SUBSEP $5
    if (!(k in pkts)) {
        order[++n] = k; st[k] = $1; s[k] = src; sp[k] = $5; ds[k] = dst; dp[k] = $8
        ttl1[k] = ttl; dscp1[k] = dscp; mss[k] = ""; ws[k] = ""; t1[k] = $22
    }
    pkts[k]++
    if ($9 != "") rx[k]++
    if ($10 != "") ooo[k]++
    if ($11 != "") dup[k]++
    if ($12 != "") zw[k]++
    if ($13 != "") lost[k]++
    if ($14 != "" && !($1 in rtt)) rtt[$1] = $14
    if ($15 == "1" && $16 != "" && mss[k] == "") mss[k] = $16
    if ($15 == "1" && $17 != "" && ws[k] == "") ws[k] = $17
}
END {
    print "# stream\tsrc\tsport\tdst\tdport\tpkts\tretrans\tooo\tdup_acks\tzero_win\tlost\tinitial_rtt\tmss\twscale\tttl\tdscp\tfirst_ts"
    for (i = 1; i <= n; i++) {
        k = order[i]
        print st[k], s[k], sp[k], ds[k], dp[k], pkts[k], rx[k] + 0, ooo[k] + 0, dup[k] + 0, \
              zw[k] + 0, lost[k] + 0, d(rtt[st[k]]), d(mss[k]), d(ws[k]), d(ttl1[k]), d(dscp1[k]), \
              t1[k]
    }
}'

ncap=0
find "$TESTDATA/pcap" -type f \( -name '*.pcap' -o -name '*.pcapng' \) | sort >"$tmp/list"
while IFS= read -r f; do
    cat=$(basename "$(dirname "$f")")
    base=$(basename "$f")
    # tshark exits non-zero on a cut-short file but still prints what it read; keep it.
    tshark -n -r "$f" -o ip.defragment:FALSE -o ipv6.defragment:FALSE \
        -Y 'tcp and not icmp and not icmpv6' -T fields -E occurrence=l \
        -e tcp.stream -e frame.protocols -e ip.src -e ipv6.src -e tcp.srcport \
        -e ip.dst -e ipv6.dst -e tcp.dstport -e tcp.analysis.retransmission \
        -e tcp.analysis.out_of_order -e tcp.analysis.duplicate_ack \
        -e tcp.analysis.zero_window -e tcp.analysis.lost_segment \
        -e tcp.analysis.initial_rtt -e tcp.flags.syn -e tcp.options.mss_val \
        -e tcp.options.wscale.shift -e ip.ttl -e ipv6.hlim -e ip.dsfield.dscp \
        -e ipv6.tclass.dscp -e frame.time_epoch >"$tmp/fields" 2>/dev/null || true
    [ -s "$tmp/fields" ] || continue
    awk "$REDUCE" "$tmp/fields" >"$tmp/tsv"
    [ "$(wc -l <"$tmp/tsv")" -gt 1 ] || continue
    mkdir -p "$OUT/$cat"
    mv "$tmp/tsv" "$OUT/$cat/$base.tcp.tsv"
    ncap=$((ncap + 1))
done <"$tmp/list"

nark=0
find "$TESTDATA/pcap" -type f -name '*.arkime.test.json' | sort >"$tmp/alist"
while IFS= read -r j; do
    cat=$(basename "$(dirname "$j")")
    stem=$(basename "$j" .arkime.test.json)
    [ -f "$(dirname "$j")/$stem.pcap" ] || continue
    python3 - "$j" >"$tmp/ark" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
print("# src\tsport\tdst\tdport\tsrcTTL\tdstTTL\tsrcZero\tdstZero\tinitRTT")
for s in d.get("sessions3", []):
    b = s.get("body", {})
    if b.get("ipProtocol") != 6:
        continue
    f = b.get("tcpflags", {})
    ttl = lambda k: ",".join(str(x) for x in b.get(k, [])) or "-"
    print("\t".join(str(x) for x in (
        b["source"]["ip"], b["source"]["port"], b["destination"]["ip"], b["destination"]["port"],
        ttl("srcTTL"), ttl("dstTTL"), f.get("srcZero", "-"), f.get("dstZero", "-"),
        b.get("initRTT", "-"))))
EOF
    if [ "$(wc -l <"$tmp/ark")" -gt 1 ]; then
        cp "$tmp/ark" "$OUT/$cat/$stem.pcap.arkime-tcp.tsv"
        nark=$((nark + 1))
    fi
done <"$tmp/alist"

echo "gen-expected-tcp: $ncap captures with TCP, $nark Arkime session files -> $OUT"
