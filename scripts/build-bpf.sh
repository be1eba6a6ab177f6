#!/usr/bin/env bash
# build-bpf.sh DIR — compile every DIR/*.c into DIR/<name>.o (BPF ELF objects).
#
# The toolchain is pinned so that the committed objects are reproducible:
# clang and llvm-strip must both be exactly $LLVM_VERSION, with Debian 12's
# libbpf-dev headers. Debug paths are
# rewritten to "." and DWARF is stripped (.BTF and .BTF.ext are kept), so the
# output is byte-identical no matter where the repository is checked out.
#
# Used by `go generate` (see examples/doc.go and bpf/gen.go).
set -euo pipefail

LLVM_VERSION=14.0.6
CLANG=clang-14
STRIP=llvm-strip-14

die() { echo "build-bpf.sh: $*" >&2; exit 1; }

[ $# -eq 1 ] || die "usage: $0 DIR"
[ -d "$1" ] || die "no such directory: $1"

# check_version TOOL: TOOL --version must report exactly $LLVM_VERSION.
check_version() {
	local have
	have=$("$1" --version 2>/dev/null | grep -oE 'version [0-9]+\.[0-9]+\.[0-9]+' | head -n1 | cut -d' ' -f2) || true
	[ "$have" = "$LLVM_VERSION" ] ||
		die "$1 $LLVM_VERSION is required (found: ${have:-none}); on Debian 12 run: apt-get install clang-14 llvm-14"
}
check_version "$CLANG"
check_version "$STRIP"
# The programs include libbpf's headers (bpf_helpers.h, bpf_endian.h).
[ -f /usr/include/bpf/bpf_helpers.h ] ||
	die "libbpf's headers are missing (/usr/include/bpf/bpf_helpers.h); on Debian 12 run: apt-get install libbpf-dev"

cd "$1"
dir=$(pwd -P)
shopt -s nullglob
for src in *.c; do
	obj=${src%.c}.o
	echo "  BPF  $1/$obj"
	"$CLANG" -O2 -g -target bpf -Wall -Werror \
		-I . -I /usr/include/x86_64-linux-gnu \
		-fdebug-prefix-map="$dir"=. \
		-c "$src" -o "$obj"
	"$STRIP" -g "$obj"
done
