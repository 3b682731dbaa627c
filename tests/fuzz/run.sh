#!/bin/sh
# run.sh SECONDS TESTDATA BIN... - time-boxed libFuzzer runs (make fuzz).
#
# Builds a seed corpus per target under build/fuzz/corpus-<name>/: for
# fuzz_reader, every capture file in TESTDATA/pcap under 64 KiB, whole; for
# the others, every packet of every capture (tests/fuzz/seed.c: 2-byte link
# type + frame); for fuzz_geo, the small databases of TESTDATA/mmdb; for fuzz_oui, the
# head of the IEEE registry CSVs. Then runs each BIN for SECONDS. Exits non-zero when a
# fuzzer finds a crash (its reproducer is left as build/fuzz/<name>-crash-*).
set -eu
[ $# -ge 3 ] || { echo "usage: $0 SECONDS TESTDATA BIN..." >&2; exit 2; }
secs=$1
data=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
out=build/fuzz
mkdir -p "$out"
${CC_SEED:-cc} -O1 -o "$out/seed" "$here/seed.c" -lpcap

status=0
for bin in "$@"; do
    name=$(basename "$bin")
    corpus="$out/corpus-$name"
    mkdir -p "$corpus"
    if [ "$name" = fuzz_reader ]; then
        find "$data/pcap" -type f \( -name '*.pcap' -o -name '*.pcapng' \) -size -64k \
            -exec cp {} "$corpus/" \;
    elif [ "$name" = fuzz_geo ]; then
        find "$data/mmdb" -type f -name '*.mmdb' -size -64k -exec cp {} "$corpus/" \;
    elif [ "$name" = fuzz_oui ]; then
        # 3 cut bytes (even quarters) + the first lines of each registry CSV
        for f in oui mam oui36 iab; do
            { printf '\100\200\300'; for g in oui mam oui36 iab; do
                head -n 40 "/usr/share/ieee-data/$g.csv" 2>/dev/null || true; done; } \
                > "$corpus/seed-$f"
        done
    else
        find "$data/pcap" -type f \( -name '*.pcap' -o -name '*.pcapng' \) -print0 |
            xargs -0 "$out/seed" "$corpus"
    fi
    echo "fuzz: $name for ${secs}s on $(ls "$corpus" | wc -l) seeds"
    if ! "$bin" -max_total_time="$secs" -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$out/$name-" "$corpus"; then
        echo "fuzz: $name FAILED (see $out/$name-*)" >&2
        status=1
    fi
done
exit $status
