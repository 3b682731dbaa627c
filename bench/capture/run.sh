#!/usr/bin/env bash
# run.sh PT_BIN - live capture benchmark: packettracer run against netsniff-ng, tcpdump and a
# minimal TPACKET_V3 reader, on a veth test bed. Root only. Nothing here runs in `make test`.
#
#  1. Builds gen.c (the generator) and ceiling.c (the minimal reader) into build/bench-capture/.
#  2. Test bed: namespaces ptbc<pid>a (capture side, veth0) and ptbc<pid>b (generator side,
#     veth1); no IP address and IPv6 off on both ends, GRO off on veth0. The generator's frames
#     carry a destination MAC nobody owns, so namespace a only captures them. Traffic never
#     leaves the pair; the namespaces are deleted on exit (trap), whatever happened.
#  3. Generator rate, per frame size (SIZES, default "60 1514": 64-byte frames on the wire and
#     full 1500-byte IP packets; FLOWS distinct UDP 5-tuples, default 4096), DURATION seconds per run:
#       max_alone  gen unpaced with nothing capturing;
#       max_cap    gen unpaced with the ceiling reader capturing: on veth the sender's CPU also
#                  runs the receive path (tpacket_rcv into each ring), so this is the rate the
#                  box can feed a capture socket. RATE (default max_cap) is used below.
#  4. Single-rate runs, one after the other on the same traffic (gen paced at RATE):
#       packettracer run -i veth0 -d TMP      (flows on, default ring 1 MiB x 64, 1 worker)
#       netsniff-ng --in veth0 --out /dev/null --silent
#       tcpdump -i veth0 -w /dev/null
#       ceiling -i veth0                       (counts only: the ceiling)
#     each in namespace a under GNU time (user+sys of the tool) and timeout(1) (a bound; the
#     tool is stopped with SIGINT right after the generator ends). For each: frames sent,
#     frames delivered to veth0 (its rx_packets delta), frames the tool saw, kernel drops (the
#     tool's own PACKET_STATISTICS figures: passed to its socket, dropped), frames it processed,
#     CPU ns per packet seen net of an idle run of the same tool, and ratios to the ceiling.
#  5. Zero-drop search (SEARCH=1, default): per tool and size, the highest rate with no kernel
#     drop and every frame delivered to veth0 passed to the tool's socket. A run at RATE first; if clean, the answer is ">= RATE"
#     (the generator is the limit); else STEPS (default 5) bisection steps between 0 and RATE.
# Environment: SIZES, FLOWS, DURATION (2 s per run), RATE, SEARCH (1), STEPS (5), TOOLS (pt netsniff
# tcpdump ceiling). Every step is bounded (gen --seconds, timeout(1) on every tool).
set -u

if [ $# -ne 1 ]; then
    echo "usage: $0 PT_BIN" >&2
    exit 2
fi
PT_BIN=$(realpath "$1")
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=$(cd "$HERE/../.." && pwd)/build/bench-capture
SIZES=${SIZES:-60 1514}
FLOWS=${FLOWS:-4096}
SECONDS_RUN=${DURATION:-2}
SEARCH=${SEARCH:-1}
STEPS=${STEPS:-5}
TOOLS=${TOOLS:-pt netsniff tcpdump ceiling}
CC=${CC:-cc}
if [ "$(id -u)" -ne 0 ]; then
    echo "bench/capture: run as root (network namespaces, AF_PACKET)" >&2
    exit 1
fi
for t in ip timeout /usr/bin/time netsniff-ng tcpdump; do
    command -v "$t" >/dev/null 2>&1 || { echo "bench/capture: $t not found" >&2; exit 1; }
done

mkdir -p "$OUT"
for p in gen ceiling; do
    if [ ! -x "$OUT/$p" ] || [ "$HERE/$p.c" -nt "$OUT/$p" ]; then
        "$CC" -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -o "$OUT/$p" "$HERE/$p.c" || exit 1
    fi
done

A=ptbc$$a
B=ptbc$$b
TMP=$(mktemp -d /tmp/pt-bench-capture-XXXXXX)
cleanup() {
    ip netns del "$A" 2>/dev/null
    ip netns del "$B" 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ip netns add "$A" && ip netns add "$B" &&
    ip link add veth0 netns "$A" type veth peer name veth1 netns "$B" || exit 1
for side in "$A veth0" "$B veth1"; do
    # shellcheck disable=SC2086 # "NS IF": split on purpose
    set -- $side
    ip netns exec "$1" sysctl -qw "net.ipv6.conf.$2.disable_ipv6=1" && ip -n "$1" link set "$2" up || exit 1
done
ip netns exec "$A" ethtool -K veth0 gro off 2>/dev/null

rx_packets() { ip netns exec "$A" cat /sys/class/net/veth0/statistics/rx_packets; }

# gen SIZE RATE: run the generator in namespace b; prints its pps, sets GEN_SENT.
gen() {
    local args=(-i veth1 --size "$1" --flows "$FLOWS" --seconds "$SECONDS_RUN") line
    [ "$2" != max ] && args+=(--rate "$2")
    line=$(timeout $((SECONDS_RUN + 10)) ip netns exec "$B" "$OUT/gen" "${args[@]}")
    GEN_SENT=$(awk '{ print $2 }' <<<"$line")
    GEN_PPS=$(awk '{ print $6 }' <<<"$line")
}

# tool_cmd NAME: the capture command; tool_ready NAME: its "capturing" marker in TMP/NAME.*
tool_cmd() {
    case $1 in
    pt) echo "$PT_BIN run -i veth0 -d $TMP/ptdata" ;;
    netsniff) echo "netsniff-ng --in veth0 --out /dev/null --silent" ;;
    tcpdump) echo "tcpdump -i veth0 -w /dev/null" ;;
    ceiling) echo "$OUT/ceiling -i veth0" ;;
    esac
}
tool_ready() {
    case $1 in
    pt) [ -e "$TMP/ptdata/run.pid" ] ;;
    netsniff) grep -q 'Running!' "$TMP/$1.out" 2>/dev/null ;;
    tcpdump) grep -q 'listening on' "$TMP/$1.err" 2>/dev/null ;;
    ceiling) grep -q 'capturing on' "$TMP/$1.err" 2>/dev/null ;;
    esac
}
# tool_stats NAME: "seen kernel drops" from the tool's own final report: frames the tool
# processed, frames the kernel passed to its socket (drops included), kernel ring drops.
tool_stats() {
    case $1 in
    pt) sed -n 's/^interface veth0: packets \([0-9]*\) .* kernel_packets \([0-9]*\) kernel_drops \([0-9]*\) .*/\1 \2 \3/p' "$TMP/pt.err" ;;
    netsniff) tr '\r' '\n' <"$TMP/netsniff.out" | awk '/packets incoming/ { k = $1 }
        /packets passed filter/ { s = $1 } /failed filter \(out of space\)/ { d = $1 }
        END { if (s != "") print s, k, d + 0 }' ;;
    tcpdump) awk '/packets captured/ { s = $1 } /received by filter/ { k = $1 } /dropped by kernel/ { d = $1 }
        END { if (s != "") print s, k, d + 0 }' "$TMP/tcpdump.err" ;;
    ceiling) awk '/^packets/ { print $2, $4, $6 }' "$TMP/ceiling.out" ;;
    esac
}

# measure NAME SIZE RATE: one run; sets SENT DELIV SEEN KPKTS DROPS CPU (s) OK (1 = got
# figures) and CLEAN (1 = no kernel drop and the kernel passed every delivered frame to the
# tool). RATE "idle" sends nothing: the tool's CPU for a run of the same length.
measure() {
    local name=$1 size=$2 rate=$3 tpid cpid r0 r1 u s
    rm -rf "$TMP/ptdata" "$TMP/$name".*
    # shellcheck disable=SC2046
    ip netns exec "$A" /usr/bin/time -o "$TMP/$name.time" -f '%U %S' \
        timeout -s INT $((SECONDS_RUN + 20)) $(tool_cmd "$name") >"$TMP/$name.out" 2>"$TMP/$name.err" &
    tpid=$!
    for ((i = 0; i < 100; i++)); do
        tool_ready "$name" && break
        kill -0 "$tpid" 2>/dev/null || break
        sleep 0.05
    done
    sleep 0.2
    r0=$(rx_packets)
    if [ "$rate" = idle ]; then
        sleep "$SECONDS_RUN"
        GEN_SENT=0
    else
        gen "$size" "$rate"
    fi
    r1=$(rx_packets)
    sleep 0.2
    cpid=$(pgrep -P "$tpid" 2>/dev/null | head -n 1) # timeout(1), which passes SIGINT on
    [ -n "$cpid" ] && kill -INT "$cpid" 2>/dev/null
    wait "$tpid"
    SENT=$GEN_SENT
    DELIV=$((r1 - r0))
    read -r SEEN KPKTS DROPS <<<"$(tool_stats "$name")"
    read -r u s <"$TMP/$name.time" 2>/dev/null
    CPU=$(awk -v u="${u:-0}" -v s="${s:-0}" 'BEGIN { printf "%.2f", u + s }')
    OK=1
    [ -z "${SEEN:-}" ] && { OK=0; SEEN=-; KPKTS=-; DROPS=-; }
    CLEAN=0
    [ "$OK" = 1 ] && [ "$DROPS" = 0 ] && [ "$KPKTS" = "$DELIV" ] && CLEAN=1
}

label() {
    case $1 in
    pt) echo "packettracer run (flows on)" ;;
    netsniff) echo "netsniff-ng --out /dev/null" ;;
    tcpdump) echo "tcpdump -w /dev/null" ;;
    ceiling) echo "ceiling (TPACKET_V3, count)" ;;
    esac
}
nspp() { awk -v c="$1" -v n="$2" 'BEGIN { if (n > 0) printf "%.0f", c * 1e9 / n; else print "-" }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a != "" && a != "-" && b != "" && b != "-" && b > 0) printf "%.2f", a / b; else print "-" }'; }

echo "host: $(nproc) CPUs, $(uname -r); frames: UDP/IPv4, $FLOWS 5-tuples; $SECONDS_RUN s per run"
echo "columns: sent (gen), delivered (veth0 rx_packets delta), kernel (passed to the tool's"
echo "socket, PACKET_STATISTICS), drops (kernel ring drops), seen (frames the tool processed),"
echo "cpu s (tool user+sys), idle s (the same tool, same length, no traffic), ns/pkt = (cpu -"
echo "idle) / seen, ns/ceil = that over the ceiling's."
declare -A RATE_OF PCT_OF CPUPP_OF IDLE_OF ZD_OF
for t in $TOOLS; do
    measure "$t" 60 idle
    IDLE_OF[$t]=$CPU
done
for size in $SIZES; do
    gen "$size" max
    alone=$GEN_PPS
    measure ceiling "$size" max
    cap=$(awk -v s="$SENT" -v t="$SECONDS_RUN" 'BEGIN { printf "%.0f", s / t }')
    RATE_OF[$size]=${RATE:-$cap}
    rate=${RATE_OF[$size]}
    echo
    echo "== frame size $size bytes (+4 FCS on a wire): generator max $alone pps alone, $cap pps" \
        "with the ceiling reader capturing; runs below paced at $rate pps"
    printf '%-28s %8s %9s %8s %6s %8s %7s %6s %6s %7s %7s\n' tool sent delivered kernel drops seen \
        seen% "cpu s" "idle s" ns/pkt ns/ceil
    # the ceiling first, so the others can be divided by it
    for t in ceiling ${TOOLS/ceiling/}; do
        case " $TOOLS " in *" $t "*) ;; *) continue ;; esac
        measure "$t" "$size" "$rate"
        pct=$(awk -v a="$SEEN" -v b="$SENT" 'BEGIN { if (a != "-" && b > 0) printf "%.2f", 100 * a / b; else print "-" }')
        ns=$([ "$OK" = 1 ] && nspp "$(awk -v c="$CPU" -v i="${IDLE_OF[$t]}" 'BEGIN { d = c - i; print (d > 0 ? d : 0) }')" "$SEEN" || echo -)
        PCT_OF[$t.$size]=$pct
        CPUPP_OF[$t.$size]=$ns
        printf '%-28s %8s %9s %8s %6s %8s %7s %6s %6s %7s %7s\n' "$(label "$t")" "$SENT" "$DELIV" "$KPKTS" \
            "$DROPS" "$SEEN" "$pct" "$CPU" "${IDLE_OF[$t]}" "$ns" "$(ratio "$ns" "${CPUPP_OF[ceiling.$size]:-}")"
        [ "$OK" = 1 ] || echo "   (no figures from $t: $(head -c 300 "$TMP/$t.err" | tr '\n' ' '))"
    done
done

if [ "$SEARCH" = 1 ]; then
    echo
    echo "== highest zero-drop rate (no kernel drop, kernel == delivered), $STEPS bisection steps" \
        "below the generator rate"
    printf '%-30s' tool
    for size in $SIZES; do printf ' %16s' "${size} B pps"; done
    echo
    for t in $TOOLS; do
        printf '%-30s' "$(label "$t")"
        for size in $SIZES; do
            rate=${RATE_OF[$size]}
            measure "$t" "$size" "$rate"
            if [ "$CLEAN" = 1 ]; then
                ZD_OF[$t.$size]=">=$(awk -v d="$DELIV" -v t="$SECONDS_RUN" 'BEGIN { printf "%.0f", d / t }')"
            else
                lo=0 hi=$rate
                for ((k = 0; k < STEPS; k++)); do
                    mid=$(((lo + hi) / 2))
                    measure "$t" "$size" "$mid"
                    if [ "$CLEAN" = 1 ]; then lo=$mid; else hi=$mid; fi
                done
                ZD_OF[$t.$size]=$lo
            fi
            printf ' %16s' "${ZD_OF[$t.$size]}"
        done
        echo
    done
    echo "(\">=R\": clean at the generator's rate R, which is then the limit, not the tool)"
else
    echo
    echo "zero-drop search skipped (SEARCH=0): single-rate results only"
fi

echo
echo "ratios (single-rate runs)"
for size in $SIZES; do
    printf '  %5s B: seen%% pt/ceiling %s; CPU per packet pt/ceiling %s, pt/netsniff-ng %s, pt/tcpdump %s\n' \
        "$size" "$(ratio "${PCT_OF[pt.$size]:-}" "${PCT_OF[ceiling.$size]:-}")" \
        "$(ratio "${CPUPP_OF[pt.$size]:-}" "${CPUPP_OF[ceiling.$size]:-}")" \
        "$(ratio "${CPUPP_OF[pt.$size]:-}" "${CPUPP_OF[netsniff.$size]:-}")" \
        "$(ratio "${CPUPP_OF[pt.$size]:-}" "${CPUPP_OF[tcpdump.$size]:-}")"
done
echo "(netsniff-ng busy-polls its ring: its CPU is mostly spinning, idle or not)"
