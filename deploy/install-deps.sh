#!/bin/sh
# Install every Debian 12 package the build, tests, fuzzing and benchmarks
# need. Idempotent: packages already present are left alone. Run as root.
set -eu

PKGS="build-essential pkg-config time clang llvm libclang-rt-14-dev clang-format
libpcap-dev liburcu-dev libjemalloc-dev liblmdb-dev lmdb-utils libmaxminddb-dev
libnl-3-dev libnl-route-3-dev libssl-dev libyaml-dev libcriterion-dev
tshark tcpdump libndpi-bin tcpreplay netsniff-ng iproute2 util-linux ethtool ieee-data
python3 git"

missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
        missing="$missing $p"
done
if [ -z "$missing" ]; then
    echo "install-deps: all packages present"
    exit 0
fi
echo "install-deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
# wireshark-common asks whether non-root users may capture: answer no.
echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing
