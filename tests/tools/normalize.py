#!/usr/bin/env python3
"""normalize.py - turn tool output into the reference files under tests/expected/.

  normalize.py conv  < tshark-conv-output  > X.conv.tsv
  normalize.py zeek  < zeek-conn.log       > X.zeek-conn.tsv

conv: reads the text of
    tshark -n -r F -o ip.defragment:FALSE -o ipv6.defragment:FALSE -q -z conv,tcp -z conv,udp
and writes one line per unordered 5-tuple:
    proto TAB addrA TAB portA TAB addrB TAB portB TAB packets
  * proto is "tcp" or "udp".
  * Endpoint order: (addrA, portA) is the LOWER endpoint, where endpoints compare by
    (address family: IPv4 before IPv6, address in network byte order compared bytewise
    (memcmp of the inet_pton form), port as a number).
    tests/cli/test_reference.c orders our flows with the same rule.
  * Addresses are re-printed with inet_ntop (IPv4 dotted, IPv6 RFC 5952 compressed as glibc
    prints it), whatever form tshark used.
  * packets = frames "<-" + frames "->". Several tshark rows with the same unordered 5-tuple are
    SUMMED: tshark 4.0 keys TCP/UDP conversations by stream index, so a 5-tuple seen on two
    VLANs (or MPLS labels) is one row, and a reused 5-tuple (new SYN after a FIN) gives two rows.
    Our flow key includes the VLAN ids, so the test sums our records per 5-tuple as well.
  * Lines sorted by (proto, endpoint A, endpoint B) with the ordering above.
  * The first line is a comment starting with '#' naming the columns.

zeek: reads a Zeek conn.log (TSV with #fields header; btest masks timestamps) and writes the
columns below in the log's row order, addresses re-printed with inet_ntop; Zeek's unset '-'
is kept as '-'.
"""
import re
import socket
import sys

ZEEK_COLS = ["proto", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "conn_state",
             "history", "orig_pkts", "resp_pkts", "orig_ip_bytes", "resp_ip_bytes",
             "orig_bytes", "resp_bytes", "missed_bytes"]


def parse_addr(text):
    """Return (family_rank, packed bytes, canonical text) for an IPv4/IPv6 literal."""
    for rank, fam in ((0, socket.AF_INET), (1, socket.AF_INET6)):
        try:
            packed = socket.inet_pton(fam, text)
        except OSError:
            continue
        return rank, packed, socket.inet_ntop(fam, packed)
    raise ValueError("not an IP address: %r" % text)


def split_endpoint(ep):
    """'1.2.3.4:80' or '2001:db8::1:80' -> (addr, port). tshark prints no brackets."""
    addr, _, port = ep.rpartition(":")
    return addr, int(port)


def endpoint_key(addr, port):
    rank, packed, _ = parse_addr(addr)
    return (rank, packed, port)


ROW = re.compile(r"^(\S+)\s+<->\s+(\S+)\s+(\d+)\s+\d+\s+\S+\s+(\d+)\s+\d+\s+\S+\s+(\d+)\s+")


def conv(inp, out):
    proto = None
    totals = {}
    for line in inp:
        if line.startswith("TCP Conversations"):
            proto = "tcp"
            continue
        if line.startswith("UDP Conversations"):
            proto = "udp"
            continue
        m = ROW.match(line)
        if not m:
            if "<->" in line:
                sys.exit("normalize.py: cannot parse conv row: %r" % line)
            continue
        if proto is None:
            sys.exit("normalize.py: conv row before a table title: %r" % line)
        a, b = split_endpoint(m.group(1)), split_endpoint(m.group(2))
        left, right, total = int(m.group(3)), int(m.group(4)), int(m.group(5))
        if left + right != total:
            sys.exit("normalize.py: frames %d + %d != total %d in %r" % (left, right, total, line))
        ka, kb = endpoint_key(*a), endpoint_key(*b)
        if kb < ka:
            ka, kb = kb, ka
        key = (proto, ka, kb)
        totals[key] = totals.get(key, 0) + total
    out.write("#proto\taddrA\tportA\taddrB\tportB\tpackets\n")
    for (proto, ka, kb) in sorted(totals):
        fam = socket.AF_INET if ka[0] == 0 else socket.AF_INET6
        fbm = socket.AF_INET if kb[0] == 0 else socket.AF_INET6
        out.write("%s\t%s\t%d\t%s\t%d\t%d\n" % (proto, socket.inet_ntop(fam, ka[1]), ka[2],
                                               socket.inet_ntop(fbm, kb[1]), kb[2],
                                               totals[(proto, ka, kb)]))


def zeek(inp, out):
    fields = None
    out.write("#" + "\t".join(c.replace("id.", "") for c in ZEEK_COLS) + "\n")
    for line in inp:
        line = line.rstrip("\n")
        if line.startswith("#fields"):
            fields = line.split("\t")[1:]
            continue
        if line.startswith("#") or not line:
            continue
        if fields is None:
            sys.exit("normalize.py: conn.log row before #fields")
        rec = dict(zip(fields, line.split("\t")))
        rec["id.orig_h"] = parse_addr(rec["id.orig_h"])[2]
        rec["id.resp_h"] = parse_addr(rec["id.resp_h"])[2]
        out.write("\t".join(rec[c] for c in ZEEK_COLS) + "\n")


if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in ("conv", "zeek"):
        sys.exit("usage: normalize.py conv|zeek < input > output")
    (conv if sys.argv[1] == "conv" else zeek)(sys.stdin, sys.stdout)
