#!/usr/bin/env bash
# demo.sh — build bpffuzz and fuzz two bundled example programs with planted
# bugs (examples/planted.c), seeded with an ordinary capture that triggers
# neither bug, and show what bpffuzz found:
#
#   xdp_deep  returns 7 (no XDP action) for a VXLAN-encapsulated TCP SYN+URG
#             to port 8443, deep in its parser;
#   tc_csum   rewrites the TTL of IPv4 packets with options and forgets the
#             header checksum.
#
# Each run stops at its first finding (a minute at most). The findings, the
# corpus the fuzzer grew and a coverage page are left in demo-out/.
# Run as root (BPF_PROG_RUN needs CAP_BPF + CAP_NET_ADMIN + CAP_PERFMON).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
	echo "demo.sh: BPF_PROG_RUN needs root; run: sudo $0" >&2
	exit 1
fi
if ! command -v go >/dev/null; then
	echo "demo.sh: Go 1.26 or newer is needed to build bpffuzz (https://go.dev/dl/)" >&2
	exit 1
fi
go build -o bpffuzz ./cmd/bpffuzz
out=demo-out
rm -rf "$out"
mkdir -p "$out"
say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }

# fuzz PROGRAM: fuzz it until the first finding; exit 3 means "found".
fuzz() {
	local prog=$1 rc=0
	say ./bpffuzz fuzz examples/planted.o "$prog" --seed examples/testdata/sample.pcapng --time 60s \
		--corpus "$out/corpus/$prog" --findings "$out/findings"
	./bpffuzz fuzz examples/planted.o "$prog" --seed examples/testdata/sample.pcapng --time 60s \
		--corpus "$out/corpus/$prog" --findings "$out/findings" || rc=$?
	case $rc in
	3) echo "(exit 3: a finding was written)" ;;
	0) echo "demo.sh: $prog: no finding within a minute (the machine may be very slow or busy)" >&2 ;;
	*) echo "demo.sh: bpffuzz fuzz failed (exit $rc)" >&2; exit "$rc" ;;
	esac
}

say ./bpffuzz list examples/planted.o
./bpffuzz list examples/planted.o

fuzz xdp_deep
fuzz tc_csum

say ls -R "$out/findings"
ls -R "$out/findings"

# Replay the xdp_deep finding: the go test fuzz v1 file alone reproduces it.
finding=$(find "$out/findings" -path '*xdp_deep*' -type f ! -name '*.txt' ! -name '*.pcap*' | head -1)
if [ -n "$finding" ]; then
	say ./bpffuzz replay examples/planted.o xdp_deep "$finding"
	./bpffuzz replay examples/planted.o xdp_deep "$finding" || true
fi

# The BPF program's own coverage of the corpus the fuzzer grew.
say ./bpffuzz cover examples/planted.o xdp_deep "$out/corpus/xdp_deep" --html "$out/cover-xdp_deep.html"
./bpffuzz cover examples/planted.o xdp_deep "$out/corpus/xdp_deep" --html "$out/cover-xdp_deep.html"

cat <<EOF

Done. In $out/:
  findings/<program>/<oracle>/   report.txt, the input as a go test fuzz v1 file,
                                 and input and output packets as a pcapng (open it in Wireshark)
  corpus/<program>/              the corpus the fuzzer grew (go test fuzz v1 files)
  cover-xdp_deep.html            the C source with the lines the corpus covers
EOF
