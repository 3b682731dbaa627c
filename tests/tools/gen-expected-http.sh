#!/bin/sh
# gen-expected-http.sh TESTDATA - tshark's view of every HTTP/1.x message in the shared captures,
# the reference for tests/decode/test_http.c.
#
# For every capture F = TESTDATA/pcap/<category>/<file> (*.pcap, *.pcapng) in which tshark finds
# HTTP, writes tests/expected/<category>/<file>.http.tsv: a header row, then one row per frame that
# completes an HTTP request or response (tshark reports a message in the frame that ends it, body
# included), in frame order. Exact command:
#
#   tshark -n -r F -o tcp.desegment_tcp_streams:TRUE -o http.desegment_headers:TRUE \
#          -o http.desegment_body:TRUE -o http.dechunk_body:TRUE -Y 'http.request or http.response' \
#          -T fields -E header=y -E separator=/t -E occurrence=a -E aggregator=, \
#          -e frame.number -e tcp.stream -e http.request.method -e http.request.uri \
#          -e http.request.version -e http.host -e http.user_agent -e http.referer \
#          -e http.response.version -e http.response.code -e http.response.phrase \
#          -e http.content_type -e http.content_length_header -e http.transfer_encoding \
#          -e http.content_encoding -e http.chunk_size
#
# (the -o values are tshark's defaults, spelled out so a user preference cannot change them).
# Empty column = field absent. Several values of one field in a frame are joined with ','
# (http.chunk_size lists every chunk, the final 0 included). Deterministic for a given tshark
# (tested with 4.0.17, Debian 12); the version is in tests/expected/VERSIONS.
set -eu

if [ $# -ne 1 ] || [ ! -d "$1/pcap" ]; then
    echo "usage: $0 TESTDATA   (the directory holding pcap/)" >&2
    exit 2
fi
TESTDATA=$(cd "$1" && pwd)
TOOLS=$(cd "$(dirname "$0")" && pwd)
OUT=$(cd "$TOOLS/../expected" && pwd)
export LC_ALL=C TZ=UTC

command -v tshark >/dev/null || { echo "gen-expected-http: tshark not found" >&2; exit 1; }

tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT INT TERM

n=0
for f in $(cd "$TESTDATA/pcap" && find . -type f \( -name '*.pcap' -o -name '*.pcapng' \) | sort); do
    f=${f#./}
    tshark -n -r "$TESTDATA/pcap/$f" -o tcp.desegment_tcp_streams:TRUE \
        -o http.desegment_headers:TRUE -o http.desegment_body:TRUE -o http.dechunk_body:TRUE \
        -Y 'http.request or http.response' \
        -T fields -E header=y -E separator=/t -E occurrence=a -E aggregator=, \
        -e frame.number -e tcp.stream -e http.request.method -e http.request.uri \
        -e http.request.version -e http.host -e http.user_agent -e http.referer \
        -e http.response.version -e http.response.code -e http.response.phrase \
        -e http.content_type -e http.content_length_header -e http.transfer_encoding \
        -e http.content_encoding -e http.chunk_size >"$tmp" 2>/dev/null || true
    if [ "$(wc -l <"$tmp")" -gt 1 ]; then
        mkdir -p "$OUT/$(dirname "$f")"
        cp "$tmp" "$OUT/$f.http.tsv"
        n=$((n + 1))
    fi
done
echo "gen-expected-http: $n captures with HTTP" >&2
