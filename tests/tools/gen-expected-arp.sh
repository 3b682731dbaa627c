#!/bin/sh
# gen-expected-arp.sh TESTDATA - tshark's reading of every ARP frame in the shared captures that
# hold any, for tests/enrich/test_arp.c.
#
# For each capture F = TESTDATA/pcap/<category>/<file> in the list below it writes
# tests/expected/<category>/<file>.arp.tsv: a '#' header line naming the columns, then one line
# per ARP frame, exactly what this command prints:
#
#   tshark -n -r F -Y arp -T fields -E separator=/t -E occurrence=f \
#       -e frame.number -e arp.opcode -e arp.src.hw_mac -e arp.src.proto_ipv4 \
#       -e arp.dst.hw_mac -e arp.dst.proto_ipv4 -e arp.isgratuitous
#
# arp.isgratuitous is 1 when the sender IP equals the target IP, empty otherwise.
# The list is the captures where `tshark -r F -Y arp` prints anything (checked over all of
# TESTDATA/pcap with tshark 4.0.17, Debian 12); a capture added later must be added here.
# Deterministic: same inputs and tshark version give byte-identical files.
set -eu

if [ $# -ne 1 ] || [ ! -d "$1/pcap" ]; then
    echo "usage: $0 TESTDATA   (the directory holding pcap/)" >&2
    exit 2
fi
TESTDATA=$(cd "$1" && pwd)
OUT=$(cd "$(dirname "$0")/../expected" && pwd)
export LC_ALL=C TZ=UTC

CAPTURES="
arp/arkime_cloudshark-arp.pcap
arp/zeek_arp-who-has.pcap
linktype/zeek_linux_dlt_sll2.pcap
vlan/tcpdump_802.1ad_QinQ.pcap
vlan/zeek_icmp_dot1q.pcap
vlan/zeek_q-in-q.pcap
mixed/zeek_wikipedia.pcap
malformed/tcpdump_arp-too-long-tha.pcap
tls/sv_tls13_draft18.pcap
bench/mixed_merged_pcapplusplus.pcap
"
FIELDS="frame.number arp.opcode arp.src.hw_mac arp.src.proto_ipv4 arp.dst.hw_mac
arp.dst.proto_ipv4 arp.isgratuitous"

args=""
for f in $FIELDS; do args="$args -e $f"; done
n=0
for rel in $CAPTURES; do
    f="$TESTDATA/pcap/$rel"
    out="$OUT/$rel.arp.tsv"
    mkdir -p "$(dirname "$out")"
    {
        printf '#'
        echo $FIELDS | tr ' ' '\t'
        # shellcheck disable=SC2086 # $args is a word list on purpose
        tshark -n -r "$f" -Y arp -T fields -E separator=/t -E occurrence=f $args 2>/dev/null ||
            true
    } >"$out.tmp"
    mv "$out.tmp" "$out"
    n=$((n + 1))
done
echo "gen-expected-arp: $n captures -> $OUT"
