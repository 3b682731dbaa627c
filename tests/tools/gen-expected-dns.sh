#!/bin/sh
# gen-expected-dns.sh TESTDATA - reference DNS fields for tests/decode/test_dns.c.
#
# For each capture F below (a path under TESTDATA) it writes
# tests/expected/<category>/<file>.dns.tsv: one line per frame tshark
# dissects as DNS, tab-separated, multi-valued fields joined with ','.
# Exact command (IP reassembly off: the decoder does not reassemble, so the
# parser sees what tshark sees without it; TCP reassembly stays on):
#
#   tshark -n -r F -o ip.defragment:FALSE -o ipv6.defragment:FALSE -Y 'dns && !icmp && !icmpv6' \
#     -T fields -E separator=/t -E occurrence=a -E aggregator=, \
#     -e frame.number -e dns.id -e dns.flags.response -e dns.flags.opcode \
#     -e dns.flags.authoritative -e dns.flags.truncated -e dns.flags.recdesired \
#     -e dns.flags.recavail -e dns.flags.z -e dns.flags.authenticated \
#     -e dns.flags.checkdisable -e dns.flags.rcode -e dns.count.queries -e dns.count.answers \
#     -e dns.count.auth_rr -e dns.count.add_rr -e dns.qry.name -e dns.qry.type -e dns.qry.class \
#     -e dns.resp.name -e dns.resp.type -e dns.resp.ttl -e dns.a -e dns.aaaa -e dns.cname \
#     -e dns.ns -e dns.ptr.domain_name -e dns.mx.mail_exchange
#
# The first line of each output is a '#' comment naming those fields.
# DNS inside ICMP errors (quoted headers) is left out: the parser only sees
# transport payloads. Tested with tshark 4.0.17 (Debian 12). Deterministic.
set -eu

if [ $# -ne 1 ] || [ ! -d "$1/pcap" ]; then
    echo "usage: $0 TESTDATA   (the directory holding pcap/)" >&2
    exit 2
fi
TESTDATA=$(cd "$1" && pwd)
OUT=$(cd "$(dirname "$0")/../expected" && pwd)
export LC_ALL=C TZ=UTC

FIELDS="frame.number dns.id dns.flags.response dns.flags.opcode dns.flags.authoritative
dns.flags.truncated dns.flags.recdesired dns.flags.recavail dns.flags.z dns.flags.authenticated
dns.flags.checkdisable dns.flags.rcode dns.count.queries dns.count.answers dns.count.auth_rr
dns.count.add_rr dns.qry.name dns.qry.type dns.qry.class dns.resp.name dns.resp.type dns.resp.ttl
dns.a dns.aaaa dns.cname dns.ns dns.ptr.domain_name dns.mx.mail_exchange"

CAPTURES="dns/arkime_dns-udp.pcap dns/ndpi_dns.pcap dns/tcpdump_dns_tcp.pcap
dns/tcpdump_dns_udp.pcap dns/tcpdump_edns-opts.pcap dns/zeek_dns-two-responses.pcap
ipv6/zeek_ipv6-fragmented-dns.pcap linktype/tcpdump_LINKTYPE_RAW_ipv6.pcap
linktype/zeek_pcapng-multi-interface.pcapng malformed/ndpi_malformed_dns.pcap
malformed/tcpdump_dns_fwdptr.pcap malformed/tcpdump_ipv4_invalid_total_length.pcap
mixed/ndpi_1kxun.pcap mixed/zeek_wikipedia.pcap tls/sv_tls13_draft18.pcap
bench/mixed_merged_pcapplusplus.pcap"

args=""
for f in $FIELDS; do args="$args -e $f"; done

for c in $CAPTURES; do
    cat=$(dirname "$c")
    mkdir -p "$OUT/$cat"
    out="$OUT/$cat/$(basename "$c").dns.tsv"
    {
        echo "#$(echo $FIELDS | tr ' ' '\t')"
        # shellcheck disable=SC2086 # $args is a word list on purpose
        tshark -n -r "$TESTDATA/pcap/$c" -o ip.defragment:FALSE -o ipv6.defragment:FALSE \
            -Y 'dns && !icmp && !icmpv6' -T fields -E separator=/t -E occurrence=a \
            -E aggregator=, $args 2>/dev/null || true
    } >"$out.tmp"
    mv "$out.tmp" "$out"
    echo "gen-expected-dns: $out ($(($(wc -l <"$out") - 1)) frames)"
done
