#!/bin/sh
# gen-expected-geo.sh TESTDATA - expected GeoIP/ASN answers for tests/enrich/test_geoip.c.
#
# The reference is MaxMind's own: TESTDATA/mmdb/<name>.source.json holds the records that were
# compiled into TESTDATA/mmdb/<name>.mmdb (maxmind/MaxMind-DB source-data/). This script flattens
# each source into tests/expected/mmdb/<name>.mmdb.geo.tsv with one line per probe address:
#
#   address  edge  network  cc  reg_cc  asn  org
#
# For every network N of the source it probes four addresses: N's first and last address
# (edge "first"/"last") and the addresses just outside it (edge "below" = first - 1, "above" =
# last + 1; left out past the ends of the address space). The expected answer for an address is
# the record of the longest source network holding it, or none (network "-"). cc/reg_cc are
# country.iso_code/registered_country.iso_code, asn/org autonomous_system_number/_organization;
# "-" when absent. IPv4 addresses are written dotted (the test looks them up as ::ffff:a.b.c.d,
# i.e. in the database's IPv4 subtree). MaxMind's writer aliases three IPv6 prefixes to the IPv4
# tree: ::ffff:0:0/96 (IPv4 = bits 96-127), 2002::/16 (6to4, bits 16-47) and 2001::/32 (Teredo,
# bits 32-63); a probe there is answered from the IPv4 networks (network column: the IPv4 one).
# Exact command:
#
#   python3 (below) < TESTDATA/mmdb/<name>.source.json > tests/expected/mmdb/<name>.mmdb.geo.tsv
#
# Deterministic: lines follow the source order, then first/last/below/above.
set -eu
if [ $# -ne 1 ] || [ ! -d "$1/mmdb" ]; then
    echo "usage: $0 TESTDATA   (the directory holding mmdb/)" >&2
    exit 2
fi
TESTDATA=$(cd "$1" && pwd)
OUT=$(cd "$(dirname "$0")/../expected" && pwd)/mmdb
mkdir -p "$OUT"
export LC_ALL=C

for src in "$TESTDATA"/mmdb/*.source.json; do
    name=$(basename "$src" .source.json)
    python3 -c '
import ipaddress, json, sys

recs = []
for item in json.load(sys.stdin):
    for net, rec in item.items():
        recs.append((ipaddress.ip_network(net), rec))

aliases = [(ipaddress.ip_network("::ffff:0:0/96"), 0), (ipaddress.ip_network("2002::/16"), 80),
           (ipaddress.ip_network("2001::/32"), 64)]

def best(addr):
    hit = None
    for net, rec in recs:
        if net.version == addr.version and addr in net:
            if hit is None or net.prefixlen > hit[0].prefixlen:
                hit = (net, rec)
    return hit

def field(rec, *path):
    for p in path:
        if not isinstance(rec, dict) or p not in rec:
            return "-"
        rec = rec[p]
    return str(rec)

print("# address\tedge\tnetwork\tcc\treg_cc\tasn\torg")
top = {4: 2**32 - 1, 6: 2**128 - 1}
for net, _ in recs:
    lo, hi = int(net.network_address), int(net.broadcast_address)
    probes = [(lo, "first"), (hi, "last")]
    if lo > 0:
        probes.append((lo - 1, "below"))
    if hi < top[net.version]:
        probes.append((hi + 1, "above"))
    for value, edge in probes:
        addr = ipaddress.ip_address(value) if net.version == 6 else ipaddress.IPv4Address(value)
        look = addr
        for a, shift in aliases:
            if addr.version == 6 and addr in a:
                look = ipaddress.IPv4Address((int(addr) >> shift) & 0xffffffff)
        hit = best(look)
        if hit is None:
            row = [str(addr), edge, "-", "-", "-", "-", "-"]
        else:
            n, rec = hit
            row = [str(addr), edge, str(n), field(rec, "country", "iso_code"),
                   field(rec, "registered_country", "iso_code"),
                   field(rec, "autonomous_system_number"),
                   field(rec, "autonomous_system_organization")]
        if any("\t" in f or "\n" in f for f in row):
            sys.exit("gen-expected-geo: tab or newline in a field of %s" % addr)
        print("\t".join(row))
' < "$src" > "$OUT/$name.mmdb.geo.tsv"
    echo "gen-expected-geo: $OUT/$name.mmdb.geo.tsv ($(grep -vc '^#' "$OUT/$name.mmdb.geo.tsv") probes)"
done
