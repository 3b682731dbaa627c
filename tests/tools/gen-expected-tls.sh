#!/bin/sh
# gen-expected-tls.sh TESTDATA - reference TLS handshake fields for tests/decode/test_tls.c.
#
# For every capture F listed below it writes tests/expected/<category>/<file>.tls.tsv: one row per
# TCP connection (tshark's tcp.stream) that carries a ClientHello or a ServerHello, from the first
# ClientHello, the first ServerHello and the first certificate of the first Certificate message of
# that connection. Exact commands (LC_ALL=C TZ=UTC, tshark 4.0.17, OpenSSL 3.0):
#
#   client: tshark -n -r F -Y 'tcp && tls.handshake.type==1' -T fields -E aggregator='|'
#             -e tcp.stream -e ip.src -e ipv6.src -e tcp.srcport -e ip.dst -e ipv6.dst -e tcp.dstport
#             -e tls.handshake.version -e tls.handshake.extensions_server_name
#             -e tls.handshake.extensions_alpn_str -e tls.handshake.extensions.supported_version
#             -e tls.handshake.ja3_full -e tls.handshake.ja3
#   server: tshark -n -r F -Y 'tcp && tls.handshake.type==2' -T fields -E aggregator='|'
#             -e tcp.stream -e tls.handshake.version -e tls.handshake.extensions.supported_version
#             -e tls.handshake.ciphersuite -e tls.handshake.extensions_alpn_str
#             -e tls.handshake.ja3s_full -e tls.handshake.ja3s -e tls.handshake.random
#           (a HelloRetryRequest, i.e. random = SHA-256("HelloRetryRequest"), is skipped: the
#           parser reports the ServerHello that follows it)
#   cert:   tshark -n -r F -Y 'tcp && tls.handshake.type==11' -T fields -E aggregator='|'
#             -e tcp.stream -e tls.handshake.certificate
#           then the first certificate's DER through
#           openssl x509 -inform DER -noout -subject -issuer -nameopt RFC2253 -startdate -enddate
#             -ext subjectAltName
#           (RFC2253 is the X509_NAME_print_ex flag set Zeek's x509.log uses).
#
# Columns (tab separated, '-' when absent, lists joined with '|'):
#   client server       "addr port" of the ClientHello sender / receiver (ServerHello: reversed)
#   sni ch_version versions alpn ja3_full ja3
#   sh_version sv cipher alpn_chosen ja3s_full ja3s      versions and cipher in tshark's 0x%04x
#   subject issuer not_before not_after san_dns san_ip    times as seconds since the epoch
# Rows are in tcp.stream order. Deterministic for fixed inputs and tool versions.
set -eu

if [ $# -ne 1 ] || [ ! -d "$1/pcap" ]; then
    echo "usage: $0 TESTDATA   (the directory holding pcap/)" >&2
    exit 2
fi
TESTDATA=$(cd "$1" && pwd)
TOOLS=$(cd "$(dirname "$0")" && pwd)
OUT=$(cd "$TOOLS/../expected" && pwd)
export LC_ALL=C TZ=UTC

command -v tshark >/dev/null || { echo "gen-expected-tls: tshark not found" >&2; exit 1; }
command -v openssl >/dev/null || { echo "gen-expected-tls: openssl not found" >&2; exit 1; }

CAPTURES="
tls/arkime_tls-split-client-hello.pcap
tls/arkime_tls13.pcap
tls/ndpi_443-curl.pcap
tls/ndpi_ja3_lots_of_cipher_suites.pcap
tls/ndpi_tls_missing_ch_frag.pcap
tls/sv_tls-duplicate-hello.pcap
tls/sv_tls13_draft18.pcap
tls/sv_tls13_draft22.pcap
tls/sv_tls13_draft28.pcap
ipv6/ndpi_http_ipv6.pcap
mixed/ndpi_1kxun.pcap
bench/mixed_merged_pcapplusplus.pcap
"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

for rel in $CAPTURES; do
    f="$TESTDATA/pcap/$rel"
    tshark -n -r "$f" -Y 'tcp && tls.handshake.type==1' -T fields -E aggregator='|' \
        -e tcp.stream -e ip.src -e ipv6.src -e tcp.srcport -e ip.dst -e ipv6.dst -e tcp.dstport \
        -e tls.handshake.version -e tls.handshake.extensions_server_name \
        -e tls.handshake.extensions_alpn_str -e tls.handshake.extensions.supported_version \
        -e tls.handshake.ja3_full -e tls.handshake.ja3 >"$tmp/client" 2>/dev/null
    tshark -n -r "$f" -Y 'tcp && tls.handshake.type==2' -T fields -E aggregator='|' \
        -e tcp.stream -e ip.src -e ipv6.src -e tcp.srcport -e ip.dst -e ipv6.dst -e tcp.dstport \
        -e tls.handshake.version -e tls.handshake.extensions.supported_version \
        -e tls.handshake.ciphersuite -e tls.handshake.extensions_alpn_str \
        -e tls.handshake.ja3s_full -e tls.handshake.ja3s -e tls.handshake.random \
        >"$tmp/server" 2>/dev/null
    tshark -n -r "$f" -Y 'tcp && tls.handshake.type==11' -T fields -E aggregator='|' \
        -e tcp.stream -e tls.handshake.certificate >"$tmp/cert" 2>/dev/null
    mkdir -p "$OUT/$(dirname "$rel")"
    python3 - "$tmp" >"$OUT/$rel.tls.tsv" <<'EOF'
import datetime, subprocess, sys

tmp = sys.argv[1]

def rows(name):
    with open(f"{tmp}/{name}") as fh:
        return [l.rstrip("\n").split("\t") for l in fh if l.strip()]

def first(v):
    return v.split("|")[0] if v else ""

def ep(r, a4, a6, port):
    return f"{first(r[a4]) or first(r[a6])} {first(r[port])}"

def dash(v):
    return v if v else "-"

conns = {}
for r in rows("client"):
    s = int(r[0])
    if s in conns and "ja3" in conns[s]:
        continue
    c = conns.setdefault(s, {})
    c.update(client=ep(r, 1, 2, 3), server=ep(r, 4, 5, 6), ch_version=first(r[7]), sni=first(r[8]),
             alpn=r[9], versions=r[10], ja3_full=first(r[11]), ja3=first(r[12]))
HRR = "cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c"
for r in rows("server"):
    s = int(r[0])
    if (s in conns and "ja3s" in conns[s]) or first(r[13]) == HRR:
        continue
    c = conns.setdefault(s, {})
    c.setdefault("client", ep(r, 4, 5, 6))
    c.setdefault("server", ep(r, 1, 2, 3))
    c.update(sh_version=first(r[7]), sv=first(r[8]), cipher=first(r[9]), alpn_chosen=first(r[10]),
             ja3s_full=first(r[11]), ja3s=first(r[12]))

def when(t):
    return str(int(datetime.datetime.strptime(t, "%b %d %H:%M:%S %Y GMT")
                   .replace(tzinfo=datetime.timezone.utc).timestamp()))

for r in rows("cert"):
    s = int(r[0])
    if s not in conns or "subject" in conns[s] or len(r) < 2 or not r[1]:
        continue
    der = bytes.fromhex(r[1].split("|")[0].replace(":", ""))
    out = subprocess.run(["openssl", "x509", "-inform", "DER", "-noout", "-subject", "-issuer",
                          "-nameopt", "RFC2253", "-startdate", "-enddate", "-ext",
                          "subjectAltName"], input=der, capture_output=True, check=True).stdout
    c = conns[s]
    dns, ips = [], []
    for line in out.decode("latin-1").splitlines():
        if line.startswith("subject="):
            c["subject"] = line[len("subject="):]
        elif line.startswith("issuer="):
            c["issuer"] = line[len("issuer="):]
        elif line.startswith("notBefore="):
            c["not_before"] = when(line[len("notBefore="):])
        elif line.startswith("notAfter="):
            c["not_after"] = when(line[len("notAfter="):])
        elif line.startswith("    "):
            for item in line.strip().split(", "):
                if item.startswith("DNS:"):
                    dns.append(item[4:])
                elif item.startswith("IP Address:"):
                    ips.append(item[len("IP Address:"):])
    c["san_dns"] = "|".join(dns)
    c["san_ip"] = "|".join(ips)

cols = ["client", "server", "sni", "ch_version", "versions", "alpn", "ja3_full", "ja3",
        "sh_version", "sv", "cipher", "alpn_chosen", "ja3s_full", "ja3s", "subject", "issuer",
        "not_before", "not_after", "san_dns", "san_ip"]
print("\t".join(cols))
for s in sorted(conns):
    print("\t".join(dash(conns[s].get(k, "")) for k in cols))
EOF
    echo "gen-expected-tls: $rel: $(($(wc -l <"$OUT/$rel.tls.tsv") - 1)) connections"
done
