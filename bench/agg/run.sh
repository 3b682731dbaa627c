#!/usr/bin/env bash
# run.sh LIBPT_BUILD_DIR - build and run bench/agg/agg_bench in a scratch directory
# (removed afterwards). See agg_bench.c for what it measures. Extra arguments: flow counts.
set -eu
if [ $# -lt 1 ]; then
    echo "usage: $0 BUILD_DIR [N...]" >&2
    exit 2
fi
B=$1
shift
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PKGS="libpcap liburcu-qsbr liburcu-cds libcrypto yaml-0.1 libnl-3.0 libnl-route-3.0 lmdb"
mkdir -p "$B/bench"
# shellcheck disable=SC2046
cc -std=c11 -D_GNU_SOURCE -O2 -g -I"$ROOT/include" $(pkg-config --cflags $PKGS) \
    -o "$B/bench/agg_bench" "$HERE/agg_bench.c" "$B/libpt.a" $(pkg-config --libs $PKGS) \
    -lpthread -lm -ljemalloc
DIR=$(mktemp -d /var/tmp/pt-agg-bench.XXXXXX)
trap 'rm -rf "$DIR"' EXIT
echo "# bench/agg $(date -u +%FT%TZ) $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null)"
"$B/bench/agg_bench" "$DIR" "$@"
