#!/bin/sh
# gen-appid-accuracy.sh TESTDATA - regenerate the application-detection tables in docs/ACCURACY.md.
#
# Builds the binary and the criterion tests, runs
#   PT_APPID_ACCURACY_DIR=$tmp PT_TESTDATA=TESTDATA PT_BIN=... PT_SRCDIR=$PWD \
#       build/release/test-all --filter '@(appid_ref|appid_pipeline)/*'
# (tests/decode/test_appid_ref.c writes ndpi.md and tshark.md there: pt_appid fed directly;
# tests/cli/test_appid_pipeline.c writes pipeline-ndpi.md and pipeline-tshark.md: the `app` of
# `packettracer read`'s conn records), and replaces the text between the "appid:begin" and
# "appid:end" markers of docs/ACCURACY.md with the first two, between "appid-pipeline:begin"
# and "appid-pipeline:end" with the other two.
# The references themselves come from tests/tools/gen-expected-appid.sh. Run from the checkout.
set -eu
[ $# -eq 1 ] && [ -d "$1/pcap" ] || { echo "usage: $0 TESTDATA" >&2; exit 2; }
TESTDATA=$(cd "$1" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
make -j2 build/release/packettracer build/release/test-all >/dev/null
PT_APPID_ACCURACY_DIR=$tmp PT_TESTDATA=$TESTDATA PT_BIN=$PWD/build/release/packettracer \
    PT_SRCDIR=$PWD build/release/test-all --filter '@(appid_ref|appid_pipeline)/*' >&2
cat "$tmp/ndpi.md" "$tmp/tshark.md" >"$tmp/direct.md"
cat "$tmp/pipeline-ndpi.md" "$tmp/pipeline-tshark.md" >"$tmp/pipeline.md"
python3 - "$tmp/direct.md" "$tmp/pipeline.md" docs/ACCURACY.md <<'PY'
import sys
doc = open(sys.argv[3]).read()
for tables, name in ((sys.argv[1], "appid"), (sys.argv[2], "appid-pipeline")):
    b, e = "<!-- %s:begin -->\n" % name, "<!-- %s:end -->" % name
    i, j = doc.index(b) + len(b), doc.index(e)
    doc = doc[:i] + open(tables).read() + doc[j:]
open(sys.argv[3], "w").write(doc)
PY
