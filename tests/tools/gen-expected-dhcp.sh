#!/bin/sh
# gen-expected-dhcp.sh TESTDATA - tshark's reading of every DHCP message in the shared captures
# that hold any, for tests/decode/test_dhcp.c.
#
# For each capture F = TESTDATA/pcap/<category>/<file> in the list below it writes
# tests/expected/<category>/<file>.dhcp.tsv: a '#' header line naming the columns, then one line
# per DHCP frame, exactly what this command prints:
#
#   tshark -n -r F -Y dhcp -T fields -E separator=/t -E occurrence=a -E aggregator=, \
#       -e frame.number -e dhcp.type -e dhcp.id -e dhcp.hw.mac_addr -e dhcp.option.dhcp \
#       -e dhcp.option.hostname -e dhcp.option.requested_ip_address -e dhcp.ip.your \
#       -e dhcp.option.dhcp_server_id -e dhcp.option.ip_address_lease_time \
#       -e dhcp.option.router -e dhcp.option.domain_name_server -e dhcp.option.vendor_class_id \
#       -e dhcp.option.request_list_item -e dhcp.fqdn.name -e dhcp.option.domain_name \
#       -e dhcp.option.message -e dhcp.option.option_overload -e dhcp.ip.client
#
# Multi-valued fields are comma-joined. dhcp.hw.mac_addr lists chaddr first, then the MAC inside
# option 61 when its type is 1 (Ethernet). Empty = absent (or not dissected: a truncated
# message has no dhcp.type).
#
# The list is the captures where `tshark -r F -Y dhcp` prints anything (checked over all of
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
dhcp/arkime_wireshark-dhcp.pcap
dhcp/tcpdump_dhcp-rfc3004.pcap
dhcp/zeek_dhcp.pcap
dhcp/zeek_dhcp_discover_param_req_and_client_id.pcap
mixed/ndpi_1kxun.pcap
malformed/ndpi_dhcp-fuzz.pcapng
malformed/tcpdump_bootp_asan.pcap
"
FIELDS="frame.number dhcp.type dhcp.id dhcp.hw.mac_addr dhcp.option.dhcp dhcp.option.hostname
dhcp.option.requested_ip_address dhcp.ip.your dhcp.option.dhcp_server_id
dhcp.option.ip_address_lease_time dhcp.option.router dhcp.option.domain_name_server
dhcp.option.vendor_class_id dhcp.option.request_list_item dhcp.fqdn.name dhcp.option.domain_name
dhcp.option.message dhcp.option.option_overload dhcp.ip.client"

args=""
for f in $FIELDS; do args="$args -e $f"; done
n=0
for rel in $CAPTURES; do
    f="$TESTDATA/pcap/$rel"
    out="$OUT/$rel.dhcp.tsv"
    mkdir -p "$(dirname "$out")"
    {
        printf '#'
        echo $FIELDS | tr ' ' '\t'
        # shellcheck disable=SC2086 # $args is a word list on purpose
        tshark -n -r "$f" -Y dhcp -T fields -E separator=/t -E occurrence=a -E aggregator=, \
            $args 2>/dev/null || true
    } >"$out.tmp"
    mv "$out.tmp" "$out"
    n=$((n + 1))
done
echo "gen-expected-dhcp: $n captures -> $OUT"
