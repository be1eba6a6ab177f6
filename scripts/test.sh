#!/usr/bin/env bash
# test.sh — the project's test command (README, .ci/run): formatting, vet,
# and every test, kernel tests included. Run as root on Linux 5.15+.
#
# It installs what the tests need and is missing (bpftool for the bpftool
# agreement test), mounts bpffs if it is not mounted, then runs go test.
# Extra arguments go to go test (e.g. scripts/test.sh -run TestRules ./bpf).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
	echo "test.sh: kernel tests need root (or CAP_BPF, CAP_NET_ADMIN, CAP_PERFMON); run: sudo $0 $*" >&2
	exit 1
fi
if ! command -v bpftool >/dev/null; then
	echo "test.sh: installing bpftool (needed by the bpftool agreement test)"
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bpftool >/dev/null
fi
if ! mountpoint -q /sys/fs/bpf; then
	mount -t bpf bpf /sys/fs/bpf
fi

unformatted=$(gofmt -l $(git ls-files '*.go') 2>/dev/null || true)
if [ -n "$unformatted" ]; then
	echo "test.sh: gofmt would change:" >&2
	echo "$unformatted" >&2
	exit 1
fi
go vet ./...
if [ $# -eq 0 ]; then
	set -- ./...
fi
go test -count=1 "$@"
