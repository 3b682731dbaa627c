#!/bin/sh
# gen-expected-oui.sh TESTDATA [IEEE_DIR] - expected MAC vendors for tests/enrich/test_oui.c.
#
# For every capture F = TESTDATA/pcap/<category>/<file> with Ethernet addresses it writes
# tests/expected/<category>/<file>.oui.tsv: one line per distinct MAC (sorted),
#
#   mac  kind  bits  vendor  tshark_vendor
#
# The MACs and tshark's answer come from tshark 4.0.17:
#
#   tshark -n -r F -T fields -E separator=/t -e eth.src -e eth.src.oui_resolved
#          -e eth.dst -e eth.dst.oui_resolved
#
# (tshark_vendor is Wireshark's manuf name, "-" when it has none or when the frame had several
# Ethernet layers; it is a second opinion, not the reference). kind/bits/vendor are the IEEE registry's answer, computed below with Python's
# csv module from IEEE_DIR (default /usr/share/ieee-data, Debian ieee-data 20220827.1):
# ff:ff:ff:ff:ff:ff broadcast; I/G bit multicast; U/L bit local; else the longest block of
# oui36.csv + iab.csv (36 bits), mam.csv (28), oui.csv (24), first row winning for a block
# listed twice; vendor "-" when none. Deterministic for the same inputs and tool versions.
set -eu
if [ $# -lt 1 ] || [ ! -d "$1/pcap" ]; then
    echo "usage: $0 TESTDATA [IEEE_DIR]" >&2
    exit 2
fi
TESTDATA=$(cd "$1" && pwd)
IEEE=${2:-/usr/share/ieee-data}
OUT=$(cd "$(dirname "$0")/../expected" && pwd)
export LC_ALL=C TZ=UTC
command -v tshark >/dev/null || { echo "gen-expected-oui: tshark not found" >&2; exit 1; }

find "$TESTDATA/pcap" -type f \( -name '*.pcap' -o -name '*.pcapng' \) | sort | while read -r f; do
    rel=${f#"$TESTDATA/pcap/"}
    out="$OUT/$rel.oui.tsv"
    tshark -n -r "$f" -T fields -E separator=/t -e eth.src -e eth.src.oui_resolved \
        -e eth.dst -e eth.dst.oui_resolved 2>/dev/null |
        python3 -c '
import csv, sys
ieee = sys.argv[1]
tabs = {36: {}, 28: {}, 24: {}}
for name, bits in (("oui36.csv", 36), ("iab.csv", 36), ("mam.csv", 28), ("oui.csv", 24)):
    with open(ieee + "/" + name, newline="", encoding="utf-8") as fh:
        for row in list(csv.reader(fh))[1:]:
            tabs[bits].setdefault(int(row[1], 16), row[2])
seen = {}
for line in sys.stdin:
    f = line.rstrip("\n").split("\t")
    f += [""] * (4 - len(f))
    for mac, res in ((f[0], f[1]), (f[2], f[3])):
        macs = [m for m in mac.split(",") if m]
        # several Ethernet layers: their names are joined by commas that names also hold
        for m in macs:
            if m not in seen or not seen[m]:
                seen[m] = res if len(macs) == 1 else ""
for mac in sorted(seen):
    v = int(mac.replace(":", ""), 16)
    kind, bits, vendor = "unknown", 0, "-"
    if v == 0xffffffffffff:
        kind = "broadcast"
    elif (v >> 40) & 1:
        kind = "multicast"
    elif (v >> 40) & 2:
        kind = "local"
    else:
        for b in (36, 28, 24):
            if (v >> (48 - b)) in tabs[b]:
                kind, bits, vendor = "vendor", b, tabs[b][v >> (48 - b)]
                break
    print("\t".join([mac, kind, str(bits), vendor, seen[mac] or "-"]))
' "$IEEE" > "$out.tmp"
    if [ -s "$out.tmp" ]; then
        echo "# mac	kind	bits	vendor	tshark_vendor" | cat - "$out.tmp" > "$out"
    fi
    rm -f "$out.tmp"
done
echo "gen-expected-oui: $(find "$OUT" -name '*.oui.tsv' | wc -l) files"
