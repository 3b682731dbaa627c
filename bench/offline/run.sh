#!/usr/bin/env bash
# run.sh PT_BIN - offline throughput and memory benchmark of `packettracer read`, with peers.
#
#  1. Builds gen and repeat (cc -O2) and writes their inputs into bench/offline/out/ (gitignored)
#     when they are missing or older than the tool:
#       mixed.pcap          gen                        (>= 2,000,000 packets, >= 200,000 flows;
#                                                       real DNS, but random TCP/443 and TCP/80
#                                                       payloads: no HTTP or TLS to parse)
#       real.pcap           repeat REAL_SRC            (>= 1,000,000 packets: copies of the real
#                                                       capture REAL_SRC, started 10 s apart, with
#                                                       shifted addresses and clamped gaps, so DNS,
#                                                       HTTP and TLS are real; see repeat.c;
#                                                       skipped if REAL_SRC is absent)
#       held-N.pcap         gen --flows-held N         (N one-packet UDP flows within 1 s)
#       held-SMALL.pcap     gen --flows-held SMALL     (baseline for the memory figure)
#  2. Throughput on each input (page cache warmed first), in RUNS rounds that run each tool
#     once (so the shared machine's busy spells fall on all of them alike); best of the rounds,
#     wall time and user+sys CPU measured separately (best of each); ndpiReader NDPI_RUNS times:
#       PT_BIN read --format csv F > /dev/null        (--workers 1 and --workers 2; mixed.pcap only)
#       PT_BIN read --no-app F > /dev/null            "off": JSON conn records, no app layer
#       PT_BIN read F > /dev/null                     "on": JSON, detection, parsers, app records
#                                                     (dns/http/ssl/dhcp/arp lines written too)
#       PT_BIN read --geoip C --geoip-asn A F         "on+geo": also GeoIP/ASN of every external
#                                                     address (GEOIP_DIR's GeoLite2 databases;
#                                                     skipped if absent)
#       tcpdump -r F -w /dev/null                     (parse + copy: a floor for file reading)
#       ndpiReader -i F -q                            (flow table + DPI; "skipped" if absent)
#     All `read` runs have one worker unless said, and "off"/"on" pass --geoip '' --geoip-asn ''
#     so a database in the default path does not change them. packets/s = packets in the file /
#     best wall time; ratios on/off (the app layer's cost), on/ndpi and pt/tcpdump.
#  3. Memory per flow held: PT_BIN read on held-N and held-SMALL; peak RSS is the
#     `peak_rss_bytes:` line of read's summary (getrusage ru_maxrss), or, if the line is missing,
#     GNU time's %M. bytes/flow = (peak(N) - peak(SMALL)) / (N - SMALL). ndpiReader the same way.
#
# Environment: RUNS (5), NDPI_RUNS (2), HELD (1000000), SMALL (1000), REAL_PACKETS (1000000),
# PT_READ_ARGS (extra args for read), PT_TESTDATA (../shared/testdata of the checkout),
# REAL_SRC ($PT_TESTDATA/pcap/bench/mixed_merged_pcapplusplus.pcap), GEOIP_DIR
# ($PT_TESTDATA/mmdb). Deterministic inputs; the timings are of course not. Nothing here runs in
# `make test`.
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
REAL_PACKETS=${REAL_PACKETS:-1000000}
PT_READ_ARGS=${PT_READ_ARGS:-}
PT_TESTDATA=${PT_TESTDATA:-$HERE/../../../shared/testdata}
REAL_SRC=${REAL_SRC:-$PT_TESTDATA/pcap/bench/mixed_merged_pcapplusplus.pcap}
GEOIP_DIR=${GEOIP_DIR:-$PT_TESTDATA/mmdb}
CC=${CC:-cc}
mkdir -p "$OUT"

# ---------------------------------------------------------------- inputs
for tool in gen repeat; do
    if [ ! -x "$OUT/$tool" ] || [ "$HERE/$tool.c" -nt "$OUT/$tool" ]; then
        echo "building $tool"
        "$CC" -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -o "$OUT/$tool" "$HERE/$tool.c" || exit 1
    fi
done

# make_input TOOL FILE ARGS...: generate FILE with TOOL unless it is newer than the tool (and,
# for repeat, than its source capture); keep the tool's stats line in FILE.stats.
make_input() {
    local tool=$1 f=$2 src=
    shift 2
    [ "$tool" = repeat ] && src=$1
    if [ ! -s "$f" ] || [ ! -s "$f.stats" ] || [ "$OUT/$tool" -nt "$f" ] ||
        { [ -n "$src" ] && [ "$src" -nt "$f" ]; }; then
        echo "generating $(basename "$f")"
        "$OUT/$tool" "$@" "$f" >"$f.stats" || { rm -f "$f" "$f.stats"; exit 1; }
    fi
}
MIXED=$OUT/mixed.pcap
REAL=$OUT/real.pcap
make_input gen "$MIXED" --packets 2000000 --flows 200000
make_input gen "$OUT/held-$HELD.pcap" --flows-held "$HELD"
make_input gen "$OUT/held-$SMALL.pcap" --flows-held "$SMALL"
if [ -r "$REAL_SRC" ]; then
    make_input repeat "$REAL" "$REAL_SRC" --packets "$REAL_PACKETS"
else
    echo "no $REAL_SRC (set PT_TESTDATA or REAL_SRC): skipping real.pcap"
    REAL=
fi
GEO=()
if [ -r "$GEOIP_DIR/GeoLite2-Country.mmdb" ] && [ -r "$GEOIP_DIR/GeoLite2-ASN.mmdb" ]; then
    GEO=(--geoip "$GEOIP_DIR/GeoLite2-Country.mmdb" --geoip-asn "$GEOIP_DIR/GeoLite2-ASN.mmdb")
fi
NOGEO=(--geoip '' --geoip-asn '')

stat_field() { # stat_field FILE KEY -> value from the generator's "key value ..." line
    tr ' ' '\n' <"$1.stats" | awk -v k="$2" 'p { print; exit } $0 == k { p = 1 }'
}

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
row() { # row NAME PACKETS: record NAME's bests, or its failure
    if [ "${RC[$1]:-1}" -ne 0 ] || [ -z "${BEST_WALL[$1]:-}" ]; then
        STATUS[$1]="FAILED (exit ${RC[$1]:-?}): $(head -c 200 "$TMP/$1.err" | tr '\n' ' ')"
        return
    fi
    STATUS[$1]=ok
    WALL[$1]=${BEST_WALL[$1]}
    CPU[$1]=${BEST_CPU[$1]}
    PPS[$1]=$(pps "$2" "${BEST_WALL[$1]}")
}

# ---------------------------------------------------------------- throughput
# throughput TAG FILE: the rounds on FILE; results under TAG_<run> (see the header).
# Rounds: every tool once per round, so a busy spell of this shared machine falls on all of
# them alike; best of RUNS rounds each. ndpiReader takes ~15x as long and its target is a 3x
# ratio: NDPI_RUNS runs after the rounds.
throughput() {
    local t=$1 f=$2 packets round
    packets=$(stat_field "$f" packets)
    echo "warming the page cache with $(basename "$f") ($(stat_field "$f" bytes) bytes)"
    cat "$f" >/dev/null
    for ((round = 0; round < RUNS; round++)); do
        if [ "$t" = mixed ]; then
            # shellcheck disable=SC2086
            once mixed_pt1 "$PT_BIN" read --format csv $PT_READ_ARGS "$f"
            # shellcheck disable=SC2086
            once mixed_pt2 "$PT_BIN" read --format csv --workers 2 $PT_READ_ARGS "$f"
        fi
        # shellcheck disable=SC2086
        once "${t}_off" "$PT_BIN" read --no-app "${NOGEO[@]}" $PT_READ_ARGS "$f"
        # shellcheck disable=SC2086
        once "${t}_on" "$PT_BIN" read "${NOGEO[@]}" $PT_READ_ARGS "$f"
        if [ ${#GEO[@]} -gt 0 ]; then
            # shellcheck disable=SC2086
            once "${t}_geo" "$PT_BIN" read "${GEO[@]}" $PT_READ_ARGS "$f"
        fi
        once "${t}_tcpdump" tcpdump -r "$f" -w /dev/null
    done
    for k in pt1 pt2 off on geo tcpdump; do
        [ -n "${RC[${t}_$k]:-}" ] && row "${t}_$k" "$packets"
    done
    [ ${#GEO[@]} -gt 0 ] || STATUS[${t}_geo]="skipped (no GeoLite2 databases in $GEOIP_DIR)"
    if [ "$NDPI_RUNS" -le 0 ]; then
        STATUS[${t}_ndpi]="skipped (NDPI_RUNS=$NDPI_RUNS)"
    elif command -v ndpiReader >/dev/null 2>&1; then
        for ((round = 0; round < NDPI_RUNS; round++)); do
            once "${t}_ndpi" ndpiReader -i "$f" -q
        done
        row "${t}_ndpi" "$packets"
    else
        STATUS[${t}_ndpi]="skipped (ndpiReader not installed)"
    fi
}
throughput mixed "$MIXED"
[ -n "$REAL" ] && throughput real "$REAL"

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
# report TAG FILE: the throughput table and ratios of one input
report() {
    local t=$1 f=$2 label k pt_packets packets
    packets=$(stat_field "$f" packets)
    echo
    echo "input: $(basename "$f"): $(cat "$f.stats")"
    pt_packets=$(sed -n 's/^packets: //p' "$TMP/${t}_on.err" 2>/dev/null | head -n 1)
    [ -n "$pt_packets" ] && [ "$pt_packets" != "$packets" ] &&
        echo "WARNING: packettracer reported packets: $pt_packets, the file has $packets"
    echo "on: $(grep '^app_records:' "$TMP/${t}_on.err" 2>/dev/null); off: flows" \
        "$(sed -n 's/^flows: //p' "$TMP/${t}_off.err" 2>/dev/null)"
    echo
    printf '%-38s %10s %10s %14s  %s\n' "throughput ($(basename "$f"))" "wall s" "cpu s" \
        "packets/s" "status"
    for k in pt1 pt2 off on geo tcpdump ndpi; do
        [ -z "${STATUS[${t}_$k]:-}" ] && continue
        case $k in
        pt1) label="read --format csv --workers 1" ;;
        pt2) label="read --format csv --workers 2" ;;
        off) label="read --no-app (off)" ;;
        on) label="read, app on (on)" ;;
        geo) label="read, app on + GeoIP/ASN (on+geo)" ;;
        tcpdump) label="tcpdump -r F -w /dev/null" ;;
        ndpi) label="ndpiReader -i F -q" ;;
        esac
        printf '%-38s %10s %10s %14s  %s\n' "$label" "${WALL[${t}_$k]:--}" "${CPU[${t}_$k]:--}" \
            "${PPS[${t}_$k]:--}" "${STATUS[${t}_$k]}"
    done
    echo
    printf '%-38s %10s\n' "ratio (packets/s; cpu: inverse of CPU s)" "value"
    printf '%-38s %10s\n' "on / off (target >= 0.6)" "$(ratio "${PPS[${t}_on]:-}" "${PPS[${t}_off]:-}")"
    printf '%-38s %10s\n' "on / off, cpu" "$(ratio "${CPU[${t}_off]:-}" "${CPU[${t}_on]:-}")"
    printf '%-38s %10s\n' "on+geo / off (target >= 0.6)" \
        "$(ratio "${PPS[${t}_geo]:-}" "${PPS[${t}_off]:-}")"
    printf '%-38s %10s\n' "on+geo / off, cpu" "$(ratio "${CPU[${t}_off]:-}" "${CPU[${t}_geo]:-}")"
    printf '%-38s %10s\n' "on / ndpiReader (target >= 3)" \
        "$(ratio "${PPS[${t}_on]:-}" "${PPS[${t}_ndpi]:-}")"
    printf '%-38s %10s\n' "on+geo / ndpiReader (target >= 3)" \
        "$(ratio "${PPS[${t}_geo]:-}" "${PPS[${t}_ndpi]:-}")"
    printf '%-38s %10s\n' "off / tcpdump" "$(ratio "${PPS[${t}_off]:-}" "${PPS[${t}_tcpdump]:-}")"
    if [ "$t" = mixed ]; then
        printf '%-38s %10s\n' "csv --workers 1 / ndpiReader" \
            "$(ratio "${PPS[mixed_pt1]:-}" "${PPS[mixed_ndpi]:-}")"
        printf '%-38s %10s\n' "csv --workers 1 / tcpdump" \
            "$(ratio "${PPS[mixed_pt1]:-}" "${PPS[mixed_tcpdump]:-}")"
        printf '%-38s %10s\n' "csv --workers 2 / tcpdump" \
            "$(ratio "${PPS[mixed_pt2]:-}" "${PPS[mixed_tcpdump]:-}")"
        printf '%-38s %10s\n' "csv --workers 2 / --workers 1" \
            "$(ratio "${PPS[mixed_pt2]:-}" "${PPS[mixed_pt1]:-}")"
    fi
}
echo
echo "host: $(nproc) CPUs, $(uname -r), best of $RUNS interleaved rounds (ndpiReader: $NDPI_RUNS runs)"
report mixed "$MIXED"
[ -n "$REAL" ] && report real "$REAL"
echo
printf '%-34s %14s %14s %12s\n' "memory (flows held)" "peak@$HELD" "peak@$SMALL" "bytes/flow"
printf '%-34s %14s %14s %12s\n' "packettracer read" "$PT_BIG" "$PT_SMALL" "$(per_flow "$PT_BIG" "$PT_SMALL")"
printf '%-34s %14s %14s %12s\n' "ndpiReader" "$ND_BIG" "$ND_SMALL" "$(per_flow "$ND_BIG" "$ND_SMALL")"

ok=1
for k in mixed_pt1 mixed_pt2 mixed_off mixed_on; do [ "${STATUS[$k]}" = ok ] || ok=0; done
if [ -n "$REAL" ]; then
    for k in real_off real_on; do [ "${STATUS[$k]}" = ok ] || ok=0; done
fi
[ $ok = 1 ] && [ "$PT_BIG" != FAILED ]
