#!/bin/sh
# gen-expected-mdns.sh TESTDATA - reference mDNS answers for tests/enrich/test_devices.c.
#
# For each capture F below it writes tests/expected/<category>/<file>.mdns.tsv: one line per
# frame tshark dissects as mDNS, tab-separated, multi-valued fields joined with ','.
# Exact command:
#
#   tshark -n -r F -Y mdns -T fields -E separator=/t -E occurrence=a -E aggregator=, \
#     -e frame.number -e dns.flags.response -e dns.flags.opcode -e dns.count.answers \
#     -e dns.qry.name -e dns.resp.name -e dns.resp.type -e dns.a -e dns.aaaa \
#     -e dns.ptr.domain_name
#
# The first line is a '#' comment naming the fields. Tested with tshark 4.0.17 (Debian 12).
set -eu

if [ $# -ne 1 ] || [ ! -d "$1/pcap" ]; then
    echo "usage: $0 TESTDATA   (the directory holding pcap/)" >&2
    exit 2
fi
TESTDATA=$(cd "$1" && pwd)
OUT=$(cd "$(dirname "$0")/../expected" && pwd)
export LC_ALL=C TZ=UTC

FIELDS="frame.number dns.flags.response dns.flags.opcode dns.count.answers dns.qry.name
dns.resp.name dns.resp.type dns.a dns.aaaa dns.ptr.domain_name"
CAPTURES="ipv6/arkime_v6-http.pcap mixed/ndpi_1kxun.pcap"

for f in $CAPTURES; do
    out="$OUT/$(dirname "$f")/$(basename "$f").mdns.tsv"
    args=""
    for x in $FIELDS; do args="$args -e $x"; done
    {
        printf '#%s\n' "$(echo $FIELDS | tr ' ' '\t')"
        # shellcheck disable=SC2086
        tshark -n -r "$TESTDATA/pcap/$f" -Y mdns -T fields -E separator=/t -E occurrence=a \
            -E aggregator=, $args 2>/dev/null
    } >"$out"
    echo "$out: $(($(wc -l <"$out") - 1)) rows"
done
