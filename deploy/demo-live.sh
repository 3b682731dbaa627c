#!/usr/bin/env bash
# demo-live.sh PT_BIN TESTDATA - the sensor live on a namespace test bed, fed real traffic.
#
#  1. Builds a test bed: namespaces ptdemo<pid>a (the sensor's side, a SPAN port) and
#     ptdemo<pid>b (the replayer's side), one veth pair veth0 (a) - veth1 (b). No IP address
#     and IPv6 off on both ends, so namespace a answers nothing; MTU 9000 so no replayed frame
#     is dropped as oversize; GRO off on veth0.
#  2. Starts `PT_BIN run -i veth0 -d DIR --duration 30` in namespace a (30 s is only a bound),
#     waits until DIR/run.pid exists.
#  3. Replays from namespace b with tcpreplay on veth1, only between the two namespaces:
#       TESTDATA/pcap/mixed/zeek_wikipedia.pcap  at twice its recorded speed (~3 s; 136 frames)
#       TESTDATA/pcap/vlan/zeek_q-in-q.pcap      at top speed (5 frames, QinQ 13/10)
#  4. Stops the sensor with SIGTERM (it flushes every flow), prints one line per flow from
#     DIR/flows.json and the sensor's final statistics, then what the store holds: bits/s
#     per protocol (`series --by proto`) and the top hosts (`top`).
#  5. Deletes both namespaces (the veths go with them) and DIR on exit, whatever happened.
# Root only. Every step is bounded: tcpreplay under timeout(1), the sensor reaped within 20 s.
set -u

if [ $# -ne 2 ]; then
    echo "usage: $0 PT_BIN TESTDATA" >&2
    exit 2
fi
PT_BIN=$1
TESTDATA=$2
if [ "$(id -u)" -ne 0 ]; then
    echo "demo-live: run as root (it creates network namespaces); 'make demo-offline' reads a file instead" >&2
    exit 1
fi
for t in ip tcpreplay timeout; do
    command -v "$t" >/dev/null 2>&1 || { echo "demo-live: $t not found (deploy/install-deps.sh)" >&2; exit 1; }
done
CAPS=("$TESTDATA/pcap/mixed/zeek_wikipedia.pcap" "$TESTDATA/pcap/vlan/zeek_q-in-q.pcap")
SPEED=("--multiplier=2" "--topspeed")
for f in "${CAPS[@]}"; do
    [ -r "$f" ] || { echo "demo-live: cannot read $f" >&2; exit 1; }
done

A=ptdemo$$a
B=ptdemo$$b
DIR=$(mktemp -d /tmp/pt-demo-XXXXXX)
PID=
cleanup() {
    if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then
        kill -TERM "$PID" 2>/dev/null
        sleep 1
        kill -KILL "$PID" 2>/dev/null
    fi
    ip netns del "$A" 2>/dev/null
    ip netns del "$B" 2>/dev/null
    rm -rf "$DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- 1. the bed
echo "== test bed: namespaces $A (sensor, veth0) and $B (replayer, veth1)"
ip netns add "$A" && ip netns add "$B" &&
    ip link add veth0 netns "$A" type veth peer name veth1 netns "$B" || exit 1
for side in "$A veth0" "$B veth1"; do
    # shellcheck disable=SC2086 # "NS IF": split on purpose
    set -- $side
    ip netns exec "$1" sysctl -qw "net.ipv6.conf.$2.disable_ipv6=1" &&
        ip -n "$1" link set "$2" mtu 9000 up || exit 1
done
ip netns exec "$A" ethtool -K veth0 gro off 2>/dev/null

# ---------------------------------------------------------------- 2. the sensor
echo "== $PT_BIN run -i veth0 -d $DIR (in $A)"
ip netns exec "$A" "$PT_BIN" run -i veth0 -d "$DIR" --duration 30 2>"$DIR/sensor.err" &
PID=$!
for ((i = 0; i < 100; i++)); do
    [ -e "$DIR/run.pid" ] && break
    kill -0 "$PID" 2>/dev/null || break
    sleep 0.05
done
if [ ! -e "$DIR/run.pid" ]; then
    echo "demo-live: the sensor did not start:" >&2
    cat "$DIR/sensor.err" >&2
    exit 1
fi

# ---------------------------------------------------------------- 3. the replay
for i in "${!CAPS[@]}"; do
    echo "== tcpreplay -i veth1 ${SPEED[$i]} $(basename "${CAPS[$i]}") (in $B)"
    timeout 60 ip netns exec "$B" tcpreplay -i veth1 "${SPEED[$i]}" "${CAPS[$i]}" 2>&1 |
        sed -n 's/^[[:space:]]*\(Actual: .*\)/   \1/p; s/^[[:space:]]*\(Failed packets: .*\)/   \1/p'
done

# ---------------------------------------------------------------- 4. stop, show
sleep 0.5
kill -TERM "$PID"
for ((i = 0; i < 200; i++)); do
    kill -0 "$PID" 2>/dev/null || break
    sleep 0.1
done
wait "$PID"
RC=$?
PID=
echo
echo "== flows ($DIR/flows.json: $(wc -l <"$DIR/flows.json" 2>/dev/null || echo 0) records)"
# One line per record: proto, endpoints, vlan, packets and IP bytes each way, state, history.
awk '
function str(k,   m) { if (match($0, "\"" k "\":\"[^\"]*\"")) { m = substr($0, RSTART, RLENGTH); sub("^\"" k "\":\"", "", m); sub("\"$", "", m); return m } return "" }
function num(k,   m) { if (match($0, "\"" k "\":-?[0-9.]+")) { m = substr($0, RSTART, RLENGTH); sub("^\"" k "\":", "", m); return m } return "" }
function ep(h, p) { return (h ~ /:/ ? "[" h "]" : h) (p != "" ? ":" p : "") }
BEGIN { printf "%-5s %-34s    %-34s %9s %12s %12s %-5s %s\n", "proto", "originator", "responder", "vlan", "orig pkt/B", "resp pkt/B", "state", "history" }
{
    v = num("vlan"); iv = num("inner_vlan"); vl = v == "" ? "-" : (iv == "" ? v : v "/" iv)
    printf "%-5s %-34s -> %-34s %9s %12s %12s %-5s %s\n", str("proto"), ep(str("id.orig_h"), num("id.orig_p")),
        ep(str("id.resp_h"), num("id.resp_p")), vl, num("orig_pkts") "/" num("orig_ip_bytes"),
        num("resp_pkts") "/" num("resp_ip_bytes"), str("conn_state"), str("history")
}' "$DIR/flows.json" 2>/dev/null | sort -k1,1 -k2,2
echo
echo "== the sensor's last status lines (one a second while it ran)"
grep 'pkt/s' "$DIR/sensor.err" | tail -n 3
echo
echo "== final statistics of the sensor (exit status $RC)"
sed -n '/^capturing on/,$p' "$DIR/sensor.err" | grep -v 'pkt/s'
echo
echo "== what the store remembers: $PT_BIN series -d $DIR --metric bps --by proto --from 0"
"$PT_BIN" series -d "$DIR" --metric bps --by proto --from 0 --step 1s || RC=1
echo
echo "== $PT_BIN top -d $DIR --from 0 -n 5"
"$PT_BIN" top -d "$DIR" --from 0 -n 5 || RC=1
exit "$RC"
