#!/bin/sh
# gen-expected-rtp.sh BUILD_TEST_ALL - regenerate tshark's RTP stream statistics for the synthetic
# captures of tests/flow/test_rtp.c into tests/expected/rtp/<case>.txt.
#
# The shared test data holds no RTP capture, so the test writes its own (RTP streams with known
# timing, 10.0.0.1:40000 <-> 10.0.0.2:50000). This script has the test binary write them into a
# temporary directory (PT_RTP_PCAP_DIR; the suite's assertions on the expected files may fail while
# they are missing, which is why its exit status is ignored here), then runs, for each capture F:
#
#   tshark -q -o rtp.heuristic_rtp:TRUE -z rtp,streams -r F
#
# and keeps what it prints. test_rtp.c reads each stream's row (SSRC, source port, Lost, Mean
# Jitter, Max Jitter) and checks that its own model of the definitions gives the same numbers,
# then that PacketTracer's records give the model's. Expected numbers (tshark 4.0.17, Debian 12),
# Max Jitter / Mean Jitter in ms, Lost:
#   const    g711U 40000->50000 and g711A 50000->40000: 0.000 / 0.000, 0 lost
#   alt      g711U 9.778 / 7.514, JPEG (90 kHz, +-2.000333 ms) 3.385 / 2.250, 0 lost
#   loss     g711U (sequence 65500 wrapping to 43, 3 dropped): 3 lost
#   ssrc     two rows for port 40000, one per SSRC
#   dynamic  DynamicRTP-Type-96: 0.000 / 0.000 (no clock known); g711U back with jitter
#   marker   g711U with 2 marker packets and one comfort noise packet: 5.867 / 4.387
#   reorder  g711U, one duplicate, one reordered pair, one stray before the first timestamp:
#            5.065 / 3.050, -2 lost (42 received, 40 expected)
# (the files below are the authority; these lines are a summary).
#
# Deterministic. Run from the checkout: tests/tools/gen-expected-rtp.sh build/release/test-all
set -eu

if [ $# -ne 1 ] || [ ! -x "$1" ]; then
    echo "usage: $0 BUILD/test-all   (from the top of the checkout)" >&2
    exit 2
fi
bin=$1
out=tests/expected/rtp
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

PT_RTP_PCAP_DIR=$dir PT_SRCDIR=$PWD "$bin" --filter 'flow_rtp/*' >/dev/null 2>&1 || true
mkdir -p "$out"
for name in const alt loss ssrc dynamic marker reorder; do
    f=$dir/$name.pcap
    tshark -q -o rtp.heuristic_rtp:TRUE -z rtp,streams -r "$f" >"$out/$name.txt"
    echo "$out/$name.txt"
done
