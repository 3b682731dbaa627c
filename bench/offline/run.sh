#!/usr/bin/env bash
# run.sh PT_BIN - offline throughput and memory benchmark of `packettracer read`, with peers.
#
#  1. Builds gen (cc -O2) and writes its inputs into bench/offline/out/ (gitignored) when they
#     are missing or older than gen.c:
#       mixed.pcap          gen                        (>= 2,000,000 packets, >= 200,000 flows)
#       held-N.pcap         gen --flows-held N         (N one-packet UDP flows within 1 s)
#       held-SMALL.pcap     gen --flows-held SMALL     (baseline for the memory figure)
#  2. Throughput on mixed.pcap (page cache warmed first), in RUNS rounds that run each tool
#     once (so the shared machine's busy spells fall on all of them alike); best of the rounds,
#     wall time and user+sys CPU measured separately (best of each); ndpiReader NDPI_RUNS times:
#       PT_BIN read --format csv F > /dev/null        (--workers 1 and --workers 2)
#       tcpdump -r F -w /dev/null                     (parse + copy: a floor for file reading)
#       ndpiReader -i F -q                            (flow table + DPI; "skipped" if absent)
#     packets/s = packets in the file / best wall time; ratios pt/ndpi and pt/tcpdump.
#  3. Memory per flow held: PT_BIN read on held-N and held-SMALL; peak RSS is the
#     `peak_rss_bytes:` line of read's summary (getrusage ru_maxrss), or, if the line is missing,
#     GNU time's %M. bytes/flow = (peak(N) - peak(SMALL)) / (N - SMALL). ndpiReader the same way.
#
# Environment: RUNS (5), NDPI_RUNS (2), HELD (1000000), SMALL (1000), PT_READ_ARGS (extra args for read).
# Deterministic inputs; the timings are of course not. Nothing here runs in `make test`.
set -u

if [ $# -ne 1 ]; then
    echo "usage: $0 PT_BIN" >&2
    exit 2
fi
PT_BIN=$1
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=$HERE/out
RUNS=${RUNS:-5}
NDPI_RUNS=${NDPI_RUNS:-2}
HELD=${HELD:-1000000}
SMALL=${SMALL:-1000}
PT_READ_ARGS=${PT_READ_ARGS:-}
CC=${CC:-cc}
mkdir -p "$OUT"

# ---------------------------------------------------------------- inputs
if [ ! -x "$OUT/gen" ] || [ "$HERE/gen.c" -nt "$OUT/gen" ]; then
    echo "building gen"
    "$CC" -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -o "$OUT/gen" "$HERE/gen.c" || exit 1
fi

# make_input FILE GEN-ARGS...: generate FILE unless it is newer than gen; keep gen's stats line.
make_input() {
    local f=$1
    shift
    if [ ! -s "$f" ] || [ ! -s "$f.stats" ] || [ "$OUT/gen" -nt "$f" ]; then
        echo "generating $(basename "$f")"
        "$OUT/gen" "$@" "$f" >"$f.stats" || { rm -f "$f" "$f.stats"; exit 1; }
    fi
}
MIXED=$OUT/mixed.pcap
make_input "$MIXED" --packets 2000000 --flows 200000
make_input "$OUT/held-$HELD.pcap" --flows-held "$HELD"
make_input "$OUT/held-$SMALL.pcap" --flows-held "$SMALL"

stat_field() { # stat_field FILE KEY -> value from gen's "key value ..." line
    tr ' ' '\n' <"$1.stats" | awk -v k="$2" 'p { print; exit } $0 == k { p = 1 }'
}
PACKETS=$(stat_field "$MIXED" packets)
FLOWS=$(stat_field "$MIXED" flows)
SIZE=$(stat_field "$MIXED" bytes)

# ---------------------------------------------------------------- timing helpers
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

HAVE_GNU_TIME=0
/usr/bin/time -f %e true >/dev/null 2>&1 && HAVE_GNU_TIME=1

# once NAME CMD...: run CMD once (stdout to /dev/null, stderr kept in $TMP/NAME.err) and keep
# the best wall time and the best user+sys CPU seen so far for NAME in BEST_WALL[NAME] and
# BEST_CPU[NAME]; RC[NAME] is the status of the last run (a failed run leaves the bests alone).
declare -A BEST_WALL BEST_CPU RC
once() {
    local name=$1 w u s kb cpu
    shift
    if [ $HAVE_GNU_TIME = 1 ]; then
        /usr/bin/time -o "$TMP/t" -f '%e %U %S %M' "$@" >/dev/null 2>"$TMP/$name.err"
        RC[$name]=$?
        read -r w u s kb <"$TMP/t"
    else
        local TIMEFORMAT='%R %U %S'
        { time "$@" >/dev/null 2>"$TMP/$name.err"; } 2>"$TMP/t"
        RC[$name]=$?
        read -r w u s <"$TMP/t"
    fi
    [ "${RC[$name]}" -ne 0 ] && return
    cpu=$(awk -v u="$u" -v s="$s" 'BEGIN { printf "%.3f", u + s }')
    if [ -z "${BEST_WALL[$name]:-}" ] ||
        awk -v a="$w" -v b="${BEST_WALL[$name]}" 'BEGIN { exit !(a < b) }'; then
        BEST_WALL[$name]=$w
    fi
    if [ -z "${BEST_CPU[$name]:-}" ] ||
        awk -v a="$cpu" -v b="${BEST_CPU[$name]}" 'BEGIN { exit !(a < b) }'; then
        BEST_CPU[$name]=$cpu
    fi
}

pps() { awk -v p="$1" -v t="$2" 'BEGIN { if (t > 0) printf "%.0f", p / t; else print "-" }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a != "" && b != "" && b > 0) printf "%.2f", a / b; else print "-" }'; }

declare -A WALL CPU PPS STATUS
row() { # row NAME: record NAME's bests, or its failure
    if [ "${RC[$1]:-1}" -ne 0 ] || [ -z "${BEST_WALL[$1]:-}" ]; then
        STATUS[$1]="FAILED (exit ${RC[$1]:-?}): $(head -c 200 "$TMP/$1.err" | tr '\n' ' ')"
        return
    fi
    STATUS[$1]=ok
    WALL[$1]=${BEST_WALL[$1]}
    CPU[$1]=${BEST_CPU[$1]}
    PPS[$1]=$(pps "$PACKETS" "${BEST_WALL[$1]}")
}

# ---------------------------------------------------------------- throughput
echo "warming the page cache with $(basename "$MIXED") ($SIZE bytes)"
cat "$MIXED" >/dev/null

# Rounds: every tool once per round, so a busy spell of this shared machine
# falls on all of them alike; best of RUNS rounds each. ndpiReader takes
# ~15x as long and its target is a 3x ratio: NDPI_RUNS runs after the rounds.
for ((round = 0; round < RUNS; round++)); do
    # shellcheck disable=SC2086
    once pt1 "$PT_BIN" read --format csv $PT_READ_ARGS "$MIXED"
    # shellcheck disable=SC2086
    once pt2 "$PT_BIN" read --format csv --workers 2 $PT_READ_ARGS "$MIXED"
    once tcpdump tcpdump -r "$MIXED" -w /dev/null
done
row pt1
row pt2
row tcpdump
PT_PACKETS=$(sed -n 's/^packets: //p' "$TMP/pt1.err" | head -n 1)
if command -v ndpiReader >/dev/null 2>&1; then
    for ((round = 0; round < NDPI_RUNS; round++)); do
        once ndpi ndpiReader -i "$MIXED" -q
    done
    row ndpi
else
    STATUS[ndpi]="skipped (ndpiReader not installed)"
fi

# ---------------------------------------------------------------- memory per flow held
# peak RSS in bytes of one run of CMD: the peak_rss_bytes: line if the command prints one,
# else GNU time's maximum resident set size.
peak_rss() {
    local name=$1 v kb=0 rc
    shift
    if [ $HAVE_GNU_TIME = 1 ]; then
        /usr/bin/time -o "$TMP/t" -f '%M' "$@" >/dev/null 2>"$TMP/$name.err"
        rc=$?
        kb=$(tail -n 1 "$TMP/t")
    else
        "$@" >/dev/null 2>"$TMP/$name.err"
        rc=$?
    fi
    [ "$rc" -ne 0 ] && { echo "FAILED"; return; }
    v=$(sed -n 's/^peak_rss_bytes: //p' "$TMP/$name.err" | head -n 1)
    if [ -n "$v" ]; then
        echo "$v"
    elif [ "${kb:-0}" -gt 0 ]; then
        echo $((kb * 1024))
    else
        echo "FAILED"
    fi
}
per_flow() { # per_flow BIG SMALL
    case "$1$2" in *FAILED*) echo "-"; return ;; esac
    awk -v a="$1" -v b="$2" -v n="$HELD" -v m="$SMALL" 'BEGIN { printf "%.0f", (a - b) / (n - m) }'
}
# shellcheck disable=SC2086
PT_BIG=$(peak_rss ptheld "$PT_BIN" read --format csv $PT_READ_ARGS "$OUT/held-$HELD.pcap")
# shellcheck disable=SC2086
PT_SMALL=$(peak_rss ptsmall "$PT_BIN" read --format csv $PT_READ_ARGS "$OUT/held-$SMALL.pcap")
if command -v ndpiReader >/dev/null 2>&1 && [ $HAVE_GNU_TIME = 1 ]; then
    ND_BIG=$(peak_rss ndheld ndpiReader -i "$OUT/held-$HELD.pcap" -q)
    ND_SMALL=$(peak_rss ndsmall ndpiReader -i "$OUT/held-$SMALL.pcap" -q)
else
    ND_BIG=FAILED ND_SMALL=FAILED
fi

# ---------------------------------------------------------------- report
echo
echo "input: $(basename "$MIXED"): $PACKETS packets, $FLOWS flows, $SIZE bytes ($(cat "$MIXED.stats"))"
[ -n "${PT_PACKETS:-}" ] && [ "$PT_PACKETS" != "$PACKETS" ] &&
    echo "WARNING: packettracer reported packets: $PT_PACKETS, the file has $PACKETS"
echo "host: $(nproc) CPUs, $(uname -r), best of $RUNS interleaved rounds (ndpiReader: $NDPI_RUNS runs)"
echo
printf '%-34s %10s %10s %14s  %s\n' "throughput (mixed.pcap)" "wall s" "cpu s" "packets/s" "status"
for k in pt1 pt2 tcpdump ndpi; do
    case $k in
    pt1) label="packettracer read --workers 1" ;;
    pt2) label="packettracer read --workers 2" ;;
    tcpdump) label="tcpdump -r F -w /dev/null" ;;
    ndpi) label="ndpiReader -i F -q" ;;
    esac
    printf '%-34s %10s %10s %14s  %s\n' "$label" "${WALL[$k]:--}" "${CPU[$k]:--}" \
        "${PPS[$k]:--}" "${STATUS[$k]}"
done
echo
printf '%-34s %10s\n' "ratio (packets/s)" "value"
printf '%-34s %10s\n' "pt --workers 1 / ndpiReader" "$(ratio "${PPS[pt1]:-}" "${PPS[ndpi]:-}")"
printf '%-34s %10s\n' "pt --workers 2 / ndpiReader" "$(ratio "${PPS[pt2]:-}" "${PPS[ndpi]:-}")"
printf '%-34s %10s\n' "pt --workers 1 / tcpdump" "$(ratio "${PPS[pt1]:-}" "${PPS[tcpdump]:-}")"
printf '%-34s %10s\n' "pt --workers 2 / tcpdump" "$(ratio "${PPS[pt2]:-}" "${PPS[tcpdump]:-}")"
printf '%-34s %10s\n' "pt --workers 2 / pt --workers 1" "$(ratio "${PPS[pt2]:-}" "${PPS[pt1]:-}")"
echo
printf '%-34s %14s %14s %12s\n' "memory (flows held)" "peak@$HELD" "peak@$SMALL" "bytes/flow"
printf '%-34s %14s %14s %12s\n' "packettracer read" "$PT_BIG" "$PT_SMALL" "$(per_flow "$PT_BIG" "$PT_SMALL")"
printf '%-34s %14s %14s %12s\n' "ndpiReader" "$ND_BIG" "$ND_SMALL" "$(per_flow "$ND_BIG" "$ND_SMALL")"

[ "${STATUS[pt1]}" = ok ] && [ "${STATUS[pt2]}" = ok ] && [ "$PT_BIG" != FAILED ]
