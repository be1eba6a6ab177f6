#!/usr/bin/env bash
# demo.sh — build bpffuzz and run the bundled example programs on packets:
# the packets of a real capture through the XDP parser, a header rewrite with
# checksum fixes by a tc program, a socket filter, a flow dissector, a program
# configured through its globals and maps, and a tail-call dispatcher.
# Run as root (BPF_PROG_RUN needs CAP_BPF + CAP_NET_ADMIN + CAP_PERFMON).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
	echo "demo.sh: BPF_PROG_RUN needs root; run: sudo $0" >&2
	exit 1
fi
go build -o bpffuzz ./cmd/bpffuzz
say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }

# An IPv4/UDP frame to 192.0.2.1 port 53, and the same to TCP port 23.
udp=020000000002020000000001080045000020000100004011f6c0c000020ac000020130390035000cc1d168692121
tcp23=020000000002020000000001080045000028000100004006f6c3c000020ac00002019c4000170000000000000000500204008b7f0000

say ./bpffuzz list examples/xdp_parser.o
for n in 1 2 3 4; do
	say ./bpffuzz run examples/xdp_parser.o xdp_parser --pcap examples/testdata/sample.pcapng --packet $n
done
say ./bpffuzz run examples/xdp_parser.o xdp_parser --data-hex "$tcp23"
say ./bpffuzz run examples/tc_rewrite.o tc_rewrite --data-hex "$udp" --ctx mark=42
say ./bpffuzz run examples/socket_filter.o sock_filter --data-hex "$udp"
say ./bpffuzz run examples/flow_dissector.o flow_dissect --data-hex "$udp"
say ./bpffuzz run examples/maps_config.o xdp_config --data-hex "$udp" --var config.mode=1 --var config.port=53
say ./bpffuzz run examples/tail_call.o xdp_dispatch --data-hex "$udp" --prog-array jmp_table:0=xdp_ipv4 --prog-array jmp_table:1=xdp_ipv6 --json
