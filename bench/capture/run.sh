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
#  4. Single-rate runs, one after the other on the same traffic (gen paced at RATE), in two
#     modes (WRITES, default "null disk"): "null" writes nothing anywhere, "disk" writes every
#     packet to a file on DISKDIR's filesystem (default /var/tmp, the one the data directory
#     of a sensor would be on):
#       packettracer run -i veth0 -d DIR       (flows on, TPACKET_V3 ring 1 MiB x 64, 1 worker;
#                                               null: --no-ring; disk: the pcap ring in DIR/ring)
#       netsniff-ng --in veth0 --out /dev/null (disk: --out DIR/netsniff.pcap) --silent
#       tcpdump -i veth0 -w /dev/null          (disk: -w DIR/tcpdump.pcap)
#       ceiling -i veth0                       (counts only: the ceiling; null mode only)
#     each in namespace a under GNU time (user+sys of the tool) and timeout(1) (a bound; the
#     tool is stopped with SIGINT right after the generator ends). For each: frames sent,
#     frames delivered to veth0 (its rx_packets delta), frames the tool saw, kernel drops (the
#     tool's own PACKET_STATISTICS figures: passed to its socket, dropped), frames it processed,
#     CPU ns per packet seen net of an idle run of the same tool, and ratios to the ceiling.
#  5. Zero-drop search (SEARCH=1, default): per tool, mode and size, the highest rate with no kernel
#     drop, every frame delivered to veth0 passed to the tool's socket and (packettracer with its
#     ring) no packet lost by the ring. A run at RATE first; if clean, the answer is ">= RATE"
#     (the generator is the limit); else STEPS (default 5) bisection steps between 0 and RATE.
# Environment: SIZES, FLOWS, DURATION (2 s per run), RATE, SEARCH (1), STEPS (5), TOOLS (pt netsniff
# tcpdump ceiling), WRITES (null disk), DISKDIR (/var/tmp). Every step is bounded (gen --seconds,
# timeout(1) on every tool). The disk files are deleted after each run and on exit.
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
WRITES=${WRITES:-null disk}
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
DISK=$(mktemp -d "${DISKDIR:-/var/tmp}/pt-bench-capture-XXXXXX") || exit 1
cleanup() {
    ip netns del "$A" 2>/dev/null
    ip netns del "$B" 2>/dev/null
    rm -rf "$TMP" "$DISK"
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

# tool_cmd NAME MODE: the capture command; tool_ready NAME: its "capturing" marker in TMP/NAME.*
tool_cmd() {
    case $1.$2 in
    pt.null) echo "$PT_BIN run -i veth0 -d $TMP/ptdata --no-ring" ;;
    pt.disk) echo "$PT_BIN run -i veth0 -d $DISK/ptdata" ;;
    netsniff.null) echo "netsniff-ng --in veth0 --out /dev/null --silent" ;;
    netsniff.disk) echo "netsniff-ng --in veth0 --out $DISK/netsniff.pcap --silent" ;;
    tcpdump.null) echo "tcpdump -i veth0 -w /dev/null" ;;
    tcpdump.disk) echo "tcpdump -i veth0 -w $DISK/tcpdump.pcap" ;;
    ceiling.*) echo "$OUT/ceiling -i veth0" ;;
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

# measure NAME MODE SIZE RATE: one run; sets SENT DELIV SEEN KPKTS DROPS CPU (s) OK (1 = got
# figures) and CLEAN (1 = no kernel drop and the kernel passed every delivered frame to the
# tool). RATE "idle" sends nothing: the tool's CPU for a run of the same length.
measure() {
    local name=$1 mode=$2 size=$3 rate=$4 tpid cpid r0 r1 u s
    rm -rf "$TMP/ptdata" "$TMP/$name".* "${DISK:?}"/*
    # shellcheck disable=SC2046
    ip netns exec "$A" /usr/bin/time -o "$TMP/$name.time" -f '%U %S' \
        timeout -s INT $((SECONDS_RUN + 20)) $(tool_cmd "$name" "$mode") >"$TMP/$name.out" 2>"$TMP/$name.err" &
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
    # pt's ring losses (writer behind, disk error) are losses too, though not the kernel's
    RINGLOST=-
    if [ "$name" = pt ] && [ "$mode" = disk ]; then
        RINGLOST=$(awk '/^ring_lost_(full|io)_packets:/ { n += $2; seen = 1 } END { print seen ? n : "-" }' "$TMP/pt.err")
        [ "$RINGLOST" != 0 ] && CLEAN=0
    fi
    rm -rf "${DISK:?}"/*
}

label() {
    case $1.$2 in
    pt.null) echo "packettracer run --no-ring" ;;
    pt.disk) echo "packettracer run (pcap ring)" ;;
    netsniff.null) echo "netsniff-ng --out /dev/null" ;;
    netsniff.disk) echo "netsniff-ng --out FILE" ;;
    tcpdump.null) echo "tcpdump -w /dev/null" ;;
    tcpdump.disk) echo "tcpdump -w FILE" ;;
    ceiling.*) echo "ceiling (TPACKET_V3, count)" ;;
    esac
}
nspp() { awk -v c="$1" -v n="$2" 'BEGIN { if (n > 0) printf "%.0f", c * 1e9 / n; else print "-" }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a != "" && a != "-" && b != "" && b != "-" && b > 0) printf "%.2f", a / b; else print "-" }'; }

echo "host: $(nproc) CPUs, $(uname -r); frames: UDP/IPv4, $FLOWS 5-tuples; $SECONDS_RUN s per run"
echo "disk files on $(df --output=source,fstype "$DISK" | tail -n 1 | tr -s ' ')"
echo "columns: sent (gen), delivered (veth0 rx_packets delta), kernel (passed to the tool's"
echo "socket, PACKET_STATISTICS), drops (kernel ring drops), ring lost (packets pt's pcap ring"
echo "lost: writer behind or disk error), seen (frames the tool processed), cpu s (tool"
echo "user+sys), idle s (the same tool, same length, no traffic), ns/pkt = (cpu - idle) / seen,"
echo "ns/ceil = that over the ceiling's."
declare -A RATE_OF PCT_OF CPUPP_OF IDLE_OF ZD_OF

# runs NAME: the "tool.mode" runs, the ceiling once (it writes nothing)
runs() {
    local t m
    for m in $WRITES; do
        for t in $TOOLS; do
            [ "$t" = ceiling ] && continue
            echo "$t.$m"
        done
    done
}
case " $TOOLS " in *" ceiling "*) CEIL=1 ;; *) CEIL=0 ;; esac

for r in $( [ "$CEIL" = 1 ] && echo ceiling.null) $(runs); do
    measure "${r%.*}" "${r#*.}" 60 idle
    IDLE_OF[$r]=$CPU
done
for size in $SIZES; do
    gen "$size" max
    alone=$GEN_PPS
    measure ceiling null "$size" max
    cap=$(awk -v s="$SENT" -v t="$SECONDS_RUN" 'BEGIN { printf "%.0f", s / t }')
    RATE_OF[$size]=${RATE:-$cap}
    rate=${RATE_OF[$size]}
    echo
    echo "== frame size $size bytes (+4 FCS on a wire): generator max $alone pps alone, $cap pps" \
        "with the ceiling reader capturing; runs below paced at $rate pps"
    printf '%-30s %8s %9s %8s %6s %5s %8s %7s %6s %6s %7s %7s\n' tool sent delivered kernel drops \
        "ring" seen seen% "cpu s" "idle s" ns/pkt ns/ceil
    # the ceiling first, so the others can be divided by it
    for r in $( [ "$CEIL" = 1 ] && echo ceiling.null) $(runs); do
        t=${r%.*} m=${r#*.}
        measure "$t" "$m" "$size" "$rate"
        pct=$(awk -v a="$SEEN" -v b="$SENT" 'BEGIN { if (a != "-" && b > 0) printf "%.2f", 100 * a / b; else print "-" }')
        ns=$([ "$OK" = 1 ] && nspp "$(awk -v c="$CPU" -v i="${IDLE_OF[$r]}" 'BEGIN { d = c - i; print (d > 0 ? d : 0) }')" "$SEEN" || echo -)
        PCT_OF[$r.$size]=$pct
        CPUPP_OF[$r.$size]=$ns
        printf '%-30s %8s %9s %8s %6s %5s %8s %7s %6s %6s %7s %7s\n' "$(label "$t" "$m")" "$SENT" "$DELIV" \
            "$KPKTS" "$DROPS" "$RINGLOST" "$SEEN" "$pct" "$CPU" "${IDLE_OF[$r]}" "$ns" \
            "$(ratio "$ns" "${CPUPP_OF[ceiling.null.$size]:-}")"
        [ "$OK" = 1 ] || echo "   (no figures from $t: $(head -c 300 "$TMP/$t.err" | tr '\n' ' '))"
    done
done

if [ "$SEARCH" = 1 ]; then
    echo
    echo "== highest zero-drop rate (no kernel drop, kernel == delivered, no ring loss), $STEPS" \
        "bisection steps below the generator rate"
    printf '%-30s' tool
    for size in $SIZES; do printf ' %16s' "${size} B pps"; done
    echo
    for r in $(runs) $( [ "$CEIL" = 1 ] && echo ceiling.null); do
        t=${r%.*} m=${r#*.}
        printf '%-30s' "$(label "$t" "$m")"
        for size in $SIZES; do
            rate=${RATE_OF[$size]}
            measure "$t" "$m" "$size" "$rate"
            if [ "$CLEAN" = 1 ]; then
                ZD_OF[$r.$size]=">=$(awk -v d="$DELIV" -v t="$SECONDS_RUN" 'BEGIN { printf "%.0f", d / t }')"
            else
                lo=0 hi=$rate
                for ((k = 0; k < STEPS; k++)); do
                    mid=$(((lo + hi) / 2))
                    measure "$t" "$m" "$size" "$mid"
                    if [ "$CLEAN" = 1 ]; then lo=$mid; else hi=$mid; fi
                done
                ZD_OF[$r.$size]=$lo
            fi
            printf ' %16s' "${ZD_OF[$r.$size]}"
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
for m in $WRITES; do
    for size in $SIZES; do
        printf '  %-4s %5s B: seen%% pt/ceiling %s; CPU per packet pt/ceiling %s, pt/netsniff-ng %s, pt/tcpdump %s\n' \
            "$m" "$size" "$(ratio "${PCT_OF[pt.$m.$size]:-}" "${PCT_OF[ceiling.null.$size]:-}")" \
            "$(ratio "${CPUPP_OF[pt.$m.$size]:-}" "${CPUPP_OF[ceiling.null.$size]:-}")" \
            "$(ratio "${CPUPP_OF[pt.$m.$size]:-}" "${CPUPP_OF[netsniff.$m.$size]:-}")" \
            "$(ratio "${CPUPP_OF[pt.$m.$size]:-}" "${CPUPP_OF[tcpdump.$m.$size]:-}")"
    done
done
echo "(netsniff-ng busy-polls its ring: its CPU is mostly spinning, idle or not)"
