#!/usr/bin/env bash
# bench-findings.sh [SECONDS] — the fuzzing benchmark (not a test).
#
# 1. Planted bugs: runs `bpffuzz fuzz` on each program of examples/planted.c
#    from ordinary traffic (examples/testdata/sample.pcapng, which triggers
#    none of them), with BPF coverage and without, and prints per bug: found
#    or not, executions and seconds to the finding.
# 2. False findings: runs it on every example program without a planted bug
#    for SECONDS (default 60) with all default oracles, and prints the
#    findings (there should be none).
# Needs root. Prints a table; exits 0 whatever it finds.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
go build -o bpffuzz ./cmd/bpffuzz
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
seed=examples/testdata/sample.pcapng

run() { # name object program extra-flags...
	local name=$1 obj=$2 prog=$3; shift 3
	local out rc=0
	out=$(cd "$work" && "$OLDPWD/bpffuzz" fuzz "$OLDPWD/$obj" "$prog" --seed "$OLDPWD/$seed" --time "${secs}s" --workers 1 --json "$@" 2>/dev/null) || rc=$?
	local execs elapsed findings
	execs=$(echo "$out" | sed -n 's/.*"execs": \([0-9]*\).*/\1/p' | head -1)
	elapsed=$(echo "$out" | sed -n 's/.*"elapsed_ns": \([0-9]*\).*/\1/p' | head -1)
	findings=$(echo "$out" | tr -d '\n' | sed -n 's/.*"findings": \[\([^]]*\)\].*/\1/p' | tr -d ' "' | sed 's#[^,]*/##g')
	printf '%-22s %-9s %-9s %12s %8.1f  %s\n' "$name" "$prog" "$([ "$rc" = 3 ] && echo found || echo -)" "${execs:-?}" \
		"$(awk -v n="${elapsed:-0}" 'BEGIN{print n/1e9}')" "${findings:-}"
	rm -rf "$work"/testdata
}

printf '%-22s %-9s %-9s %12s %8s  %s\n' "CASE" "PROGRAM" "RESULT" "EXECS" "SECONDS" "ORACLE"
echo "== planted bugs, BPF coverage on / off (budget ${secs}s each)"
for p in xdp_deep tc_csum xdp_trim tc_mark; do
	run "planted+coverage" examples/planted.o "$p"
	run "planted-no-coverage" examples/planted.o "$p" --no-coverage
done
run "planted+determinism" examples/planted.o xdp_sample --deterministic
run "planted-no-determinism" examples/planted.o xdp_sample
echo "== false findings: programs without planted bugs (${secs}s each, default oracles)"
run "clean" examples/xdp_parser.o xdp_parser
run "clean" examples/tc_rewrite.o tc_rewrite
run "clean" examples/socket_filter.o sock_filter
run "clean" examples/flow_dissector.o flow_dissect
run "clean" examples/maps_config.o xdp_config
run "clean" examples/tail_call.o xdp_dispatch
run "clean" examples/xdp_frags.o xdp_frags
