#!/bin/sh
# gen-expected.sh TESTDATA - regenerate the reference answers in tests/expected/.
#
# For every capture F = TESTDATA/pcap/<category>/<file> (*.pcap, *.pcapng; pcap/bench/ included) it
# writes tests/expected/<category>/<file>.conv.tsv and <file>.count. <file> keeps its extension:
# malformed/tcpdump_empty.pcap and tcpdump_empty.pcapng are two captures. For every Zeek conn.log
# baseline TESTDATA/pcap/<category>/<stem>.zeek-conn.log it writes <file>.zeek-conn.tsv, where
# <file> is the capture <stem>.pcap (or else <stem>.pcapng) beside it. Exact commands:
#
#   conv.tsv:  tshark -n -r F -o ip.defragment:FALSE -o ipv6.defragment:FALSE -q -z conv,tcp -z conv,udp
#              | tests/tools/normalize.py conv
#   count:     capture         = the capture's path relative to TESTDATA
#              packets         = tcpdump --count -r F       (the "N packets" line on stdout)
#              tcpdump_lines   = tcpdump -n -r F 2>/dev/null | wc -l
#                                (printed lines; larger than packets when tcpdump prints hex dumps,
#                                 e.g. CDP in pcap/bench/, so the test uses "packets")
#              tcpdump_exit    = exit status of `tcpdump -n -r F -w /dev/null`
#              tcpdump_error   = its stderr minus the "reading from file" line, path replaced by the
#                                base name, '-' when empty (e.g. "pcap_loop: truncated dump file ...")
#   zeek-conn: tests/tools/normalize.py zeek < F.zeek-conn.log
#
# normalize.py documents the line format, the endpoint ordering and why rows are summed.
# Deterministic: same inputs and tool versions give byte-identical outputs; the tool versions are
# recorded in tests/expected/VERSIONS. Tested with tshark 4.0.17 and tcpdump 4.99.3 (Debian 12).
# Run from anywhere; `make expected` runs it with the Makefile's TESTDATA.
set -eu

if [ $# -ne 1 ] || [ ! -d "$1/pcap" ]; then
    echo "usage: $0 TESTDATA   (the directory holding pcap/)" >&2
    exit 2
fi
TESTDATA=$(cd "$1" && pwd)
TOOLS=$(cd "$(dirname "$0")" && pwd)
OUT=$(cd "$TOOLS/../expected" && pwd)
export LC_ALL=C TZ=UTC

command -v tshark >/dev/null || { echo "gen-expected: tshark not found" >&2; exit 1; }
command -v tcpdump >/dev/null || { echo "gen-expected: tcpdump not found" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

{
    echo "# tool versions used by tests/tools/gen-expected.sh"
    tshark --version 2>/dev/null | head -n 1
    tcpdump --version 2>&1 | head -n 2
} >"$tmp/VERSIONS"
mv "$tmp/VERSIONS" "$OUT/VERSIONS"

ncap=0
find "$TESTDATA/pcap" -type f \( -name '*.pcap' -o -name '*.pcapng' \) | sort >"$tmp/list"
while IFS= read -r f; do
    cat=$(basename "$(dirname "$f")")
    base=$(basename "$f")
    name=$base
    mkdir -p "$OUT/$cat"

    # tshark exits non-zero on a cut-short file but still prints the tables; keep them.
    tshark -n -r "$f" -o ip.defragment:FALSE -o ipv6.defragment:FALSE -q \
        -z conv,tcp -z conv,udp >"$tmp/conv" 2>"$tmp/conv.err" || true
    "$TOOLS/normalize.py" conv <"$tmp/conv" >"$OUT/$cat/$name.conv.tsv"

    packets=$(tcpdump --count -r "$f" 2>/dev/null | sed -n 's/^\([0-9][0-9]*\) packets\{0,1\}$/\1/p')
    lines=$(tcpdump -n -r "$f" 2>/dev/null | wc -l | tr -d ' ')
    rc=0
    tcpdump -n -r "$f" -w /dev/null 2>"$tmp/td.err" || rc=$?
    err=$(grep -v '^reading from file' "$tmp/td.err" | sed "s|$f|$base|g" | tr '\n' ' ' | sed 's/ *$//')
    {
        echo "# see tests/tools/gen-expected.sh"
        printf 'capture\tpcap/%s/%s\n' "$cat" "$base"
        printf 'packets\t%s\n' "${packets:?tcpdump --count gave no count for $f}"
        printf 'tcpdump_lines\t%s\n' "$lines"
        printf 'tcpdump_exit\t%s\n' "$rc"
        printf 'tcpdump_error\t%s\n' "${err:--}"
    } >"$OUT/$cat/$name.count"
    ncap=$((ncap + 1))
done <"$tmp/list"

nzeek=0
find "$TESTDATA/pcap" -type f -name '*.zeek-conn.log' | sort >"$tmp/zlist"
while IFS= read -r f; do
    cat=$(basename "$(dirname "$f")")
    stem=${f%.zeek-conn.log}
    if [ -f "$stem.pcap" ]; then name=$(basename "$stem.pcap")
    elif [ -f "$stem.pcapng" ]; then name=$(basename "$stem.pcapng")
    else echo "gen-expected: no capture for $f" >&2; exit 1
    fi
    "$TOOLS/normalize.py" zeek <"$f" >"$OUT/$cat/$name.zeek-conn.tsv"
    nzeek=$((nzeek + 1))
done <"$tmp/zlist"

echo "gen-expected: $ncap captures, $nzeek zeek conn.log baselines -> $OUT"
