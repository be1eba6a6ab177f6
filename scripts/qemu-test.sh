#!/usr/bin/env bash
# qemu-test.sh — the test suite on another kernel: go test with every test
# binary run inside a QEMU VM by scripts/qemu-run.sh (go test -exec).
#
#   scripts/qemu-test.sh [--kernel SPEC] [go test arguments; default ./...]
#
# SPEC is qemu-run.sh's (default debian-6.1, Debian bookworm's 6.1 kernel).
# bpftool, tshark (with dumpcap) and tcpdump go into the VM when installed here (tests use
# them), and ../shared when it is beside the repository (test captures).
# BPFFUZZ_REQUIRE_KERNEL and CI reach the tests inside, so a kernel test
# that cannot run fails there as it does here. Run as root.
set -euo pipefail
cd "$(dirname "$0")/.."

kernel=debian-6.1
if [ "${1:-}" = --kernel ]; then
	kernel=${2:?--kernel needs a SPEC}
	shift 2
fi
wrapper=("$PWD/scripts/qemu-run.sh" --kernel "$kernel")
for tool in bpftool tshark dumpcap tcpdump; do
	if command -v "$tool" >/dev/null; then
		wrapper+=(--with "$tool")
	fi
done
if [ -d ../shared ]; then
	wrapper+=(--share "$(cd ../shared && pwd)")
fi
if [ $# -eq 0 ]; then
	set -- ./...
fi
start=$(date +%s)
go test -count=1 -exec "${wrapper[*]}" "$@"
echo "qemu-test.sh: go test $* on $kernel took $(($(date +%s) - start)) s"
