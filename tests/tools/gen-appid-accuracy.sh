#!/bin/sh
# gen-appid-accuracy.sh TESTDATA - regenerate the application-detection tables in docs/ACCURACY.md.
#
# Builds the criterion binary, runs
#   PT_APPID_ACCURACY_DIR=$tmp PT_TESTDATA=TESTDATA PT_SRCDIR=$PWD \
#       build/release/test-all --filter 'appid_ref/*'
# (tests/decode/test_appid_ref.c writes ndpi.md and tshark.md there), and replaces the text
# between the "appid:begin" and "appid:end" markers of docs/ACCURACY.md with them.
# The references themselves come from tests/tools/gen-expected-appid.sh. Run from the checkout.
set -eu
[ $# -eq 1 ] && [ -d "$1/pcap" ] || { echo "usage: $0 TESTDATA" >&2; exit 2; }
TESTDATA=$(cd "$1" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
make -j2 build/release/test-all >/dev/null
PT_APPID_ACCURACY_DIR=$tmp PT_TESTDATA=$TESTDATA PT_BIN=$PWD/build/release/packettracer \
    PT_SRCDIR=$PWD build/release/test-all --filter 'appid_ref/*' >&2
cat "$tmp/ndpi.md" "$tmp/tshark.md" >"$tmp/tables.md"
python3 - "$tmp/tables.md" docs/ACCURACY.md <<'PY'
import sys
tables = open(sys.argv[1]).read()
doc = open(sys.argv[2]).read()
b, e = "<!-- appid:begin -->\n", "<!-- appid:end -->"
i, j = doc.index(b) + len(b), doc.index(e)
open(sys.argv[2], "w").write(doc[:i] + tables + doc[j:])
PY
