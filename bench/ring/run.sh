#!/usr/bin/env bash
# run.sh BUILD_DIR - build bench/ring/ring_bench against BUILD_DIR/libpt.a and run it in a
# scratch directory under /var/tmp (removed afterwards), with BUILD_DIR/packettracer for
# `extract`. See ring_bench.c for what it measures. Extra arguments go to ring_bench
# (-w GIB written per ring run, -r rounds, -p producers, -f concurrent flows, -s seed; -L the
# live part only, at the -D MB/s rate or that of -r dd runs, -t seconds, -x one rate; -F a flood
# of one-packet flows from random sources instead of the mix; -n sync off in every ring run).
# Needs dd, tcpdump, about 16 GB free on /var/tmp, and 3 to 7 minutes (the disk decides).
set -eu
if [ $# -lt 1 ]; then
    echo "usage: $0 BUILD_DIR [ring_bench options]" >&2
    exit 2
fi
B=$(cd "$1" && pwd)
shift
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PKGS="libpcap liburcu-qsbr liburcu-cds libcrypto yaml-0.1 libnl-3.0 libnl-route-3.0 lmdb"
for t in dd tcpdump; do
    command -v "$t" >/dev/null || { echo "$0: $t not found" >&2; exit 1; }
done
mkdir -p "$B/bench"
# shellcheck disable=SC2046
cc -std=c11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -I"$ROOT/include" $(pkg-config --cflags $PKGS) \
    -o "$B/bench/ring_bench" "$HERE/ring_bench.c" "$B/libpt.a" $(pkg-config --libs $PKGS) \
    -lpthread -lm -ljemalloc
DIR=$(mktemp -d /var/tmp/pt-ring-bench.XXXXXX)
trap 'rm -rf "$DIR"' EXIT
echo "# bench/ring $(date -u +%FT%TZ) $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null)" \
    "on $(findmnt -no FSTYPE,SOURCE -T "$DIR" 2>/dev/null | tr -s ' ')"
"$B/bench/ring_bench" "$@" "$DIR" "$B/packettracer"
