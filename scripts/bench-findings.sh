#!/usr/bin/env bash
# bench-findings.sh [RUNS] [SECONDS] [GO_SECONDS] — the fuzzing benchmark
# (not a test). Needs root. Prints tables; exits 0 whatever it finds.
#
# 1. What BPF coverage feedback is worth, on the deepest planted bug
#    (xdp_tlv in examples/planted.c) seeded with ordinary traffic
#    (examples/testdata/sample.pcapng, which reaches none of it):
#    a. `bpffuzz fuzz`, RUNS runs (default 5) with coverage and RUNS
#       without, SECONDS each at most (default 120), one worker;
#    b. `go test -fuzz FuzzTLV` (examples/planted_test.go), RUNS runs with
#       coverage and RUNS with BPFFUZZ_NO_COVERAGE=1, GO_SECONDS each at
#       most (default 300), one worker. GO_SECONDS may instead be an
#       execution budget, as go test's -fuzztime takes it: "10000000x".
#    Per run: found or not, executions and seconds to the finding; then the
#    median per mode (a run that did not find it counts as "not found").
# 2. The other planted bugs: one run each with coverage and without, through
#    bpffuzz fuzz and go test -fuzz (SECONDS each at most).
# 3. False findings: every example program without a planted bug, SECONDS
#    each with all default oracles (there should be none; a finding is kept
#    in bench-findings-out/PROGRAM).
# PARTS="1a 1b 2 3" (the default) selects the parts to run; GOMODES="on off"
# (the default) the coverage modes of 1b, e.g. to run them side by side in
# two invocations; GOTARGET="Deep:xdp_deep" another fuzz test and program
# for 1b (default TLV:xdp_tlv).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
secs=${2:-120}
gosecs=${3:-300}
root=$(pwd)
go build -o bpffuzz ./cmd/bpffuzz
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
seed=examples/testdata/sample.pcapng
if [ -e examples/testdata/fuzz ]; then
	echo "bench-findings.sh: examples/testdata/fuzz exists; move it away first (this script writes and removes it)" >&2
	exit 1
fi

# engine NAME OBJECT PROGRAM FLAGS...: one bpffuzz fuzz run; prints
# "NAME PROGRAM found|- EXECS SECONDS ORACLES".
engine() {
	local name=$1 obj=$2 prog=$3
	shift 3
	local out rc=0
	rm -rf "$work/run" && mkdir -p "$work/run"
	out=$(cd "$work/run" && "$root/bpffuzz" fuzz "$root/$obj" "$prog" --seed "$root/$seed" --time "${secs}s" --workers 1 --json "$@" 2>/dev/null) || rc=$?
	local flat execs elapsed findings
	flat=$(echo "$out" | tr -d '\n ')
	execs=$(echo "$flat" | sed -n 's/.*"execs":\([0-9]*\).*/\1/p')
	elapsed=$(echo "$flat" | sed -n 's/.*"elapsed_ns":\([0-9]*\).*/\1/p')
	findings=$(echo "$flat" | sed -n 's/.*"findings":\[\([^]]*\)\].*/\1/p' | tr -d '"' | sed 's#[^,]*/##g')
	printf '%-24s %-13s %-6s %12s %8.1f  %s\n' "$name" "$prog" "$([ "$rc" = 3 ] && echo found || echo -)" "${execs:-?}" \
		"$(awk -v n="${elapsed:-0}" 'BEGIN{print n/1e9}')" "${findings:-}"
	if [ "$rc" = 3 ] && [ "$name" = clean ]; then
		# A finding on a program without a planted bug: keep it to look at.
		mkdir -p "$root/bench-findings-out"
		rm -rf "$root/bench-findings-out/$prog"
		cp -r "$work/run/testdata/findings" "$root/bench-findings-out/$prog"
		echo "  kept in bench-findings-out/$prog" >&2
	fi
}

# gofuzz NAME TARGET PROGRAM SECONDS ENV...: one go test -fuzz run of
# TARGET (examples/planted_test.go); same columns.
gofuzz() {
	local name=$1 target=$2 prog=$3 budget=$4
	shift 4
	local log=$work/gofuzz.log rc=0
	local fuzztime=${budget}s
	[[ $budget == *x ]] && fuzztime=$budget
	(cd examples && env "$@" BPFFUZZ_FINDINGS="$work/findings" go test -run '^$' -fuzz "^$target\$" -fuzztime "$fuzztime" \
		-parallel 1 -test.fuzzcachedir "$work/fuzzcache" >"$log" 2>&1) || rc=$?
	# How deep Go's corpus got: the BPF blocks its entries reach.
	local blocks=""
	if [ -d "$work/fuzzcache/$target" ]; then
		blocks=$("$root/bpffuzz" cover "$root/examples/planted.o" "$prog" "$work/fuzzcache/$target" --seed "$root/$seed" --json 2>/dev/null |
			tr -d '\n ' | sed -n 's/.*"blocks_hit":\([0-9]*\),"blocks_total":\([0-9]*\).*/corpus reaches \1\/\2 blocks/p') || true
	fi
	rm -rf "$work/fuzzcache" "$work/findings" "examples/testdata/fuzz/$target"
	rmdir examples/testdata/fuzz 2>/dev/null || true
	local last execs secs_to
	last=$(grep -E '^fuzz: elapsed:' "$log" | tail -1)
	execs=$(echo "$last" | sed -n 's/.*execs: \([0-9]*\).*/\1/p')
	secs_to=$(echo "$last" | sed -n 's/^fuzz: elapsed: \([0-9hms]*\),.*/\1/p')
	local found=-
	if [ "$rc" != 0 ] && grep -q 'Failing input written' "$log"; then
		found=found
		# Go's own time for the fuzz test; executions are from its last
		# status line (printed every 3 s), so they are a lower bound.
		secs_to=$(sed -n "s/^--- FAIL: $target (\([0-9.]*\)s)/\1/p" "$log" | head -1)
	fi
	if [ "$rc" != 0 ] && [ "$found" = - ]; then
		echo "go test -fuzz failed without a finding:" >&2
		tail -20 "$log" >&2
	fi
	printf '%-24s %-13s %-6s %12s %8s  %s\n' "$name" "$prog" "$found" "${execs:-?}" "${secs_to:-?}" \
		"$(grep -o 'bpffuzz finding: [a-z_-]*' "$log" | head -1 | sed 's/.*: //') $blocks"
}

# median FILE MODE: median executions of the found runs of MODE, with the
# count found; a run that did not find the bug ranks above every found one.
median() {
	awk -v mode="$2" '$1 == mode { n++; if ($3 == "found") { f++; v[f] = $4 } }
	END {
		if (n == 0) exit
		for (i = 1; i <= f; i++) for (j = i + 1; j <= f; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
		m = int((n + 1) / 2)
		printf "%-24s found in %d of %d runs; median executions to the finding: %s\n", mode, f, n, (m <= f ? v[m] : "not found")
	}' "$1"
}

# PARTS selects what runs (default all): e.g. PARTS="1b 3".
parts=${PARTS:-1a 1b 2 3}
want() { [[ " $parts " == *" $1 "* ]]; }

header() { printf '%-24s %-13s %-6s %12s %8s  %s\n' "MODE" "PROGRAM" "RESULT" "EXECS" "SECONDS" "ORACLE"; }

if want 1a; then
echo "== 1a. bpffuzz fuzz on xdp_tlv: $runs runs per mode, at most ${secs}s each"
header
for i in $(seq "$runs"); do
	engine "engine+coverage" examples/planted.o xdp_tlv
	engine "engine-no-coverage" examples/planted.o xdp_tlv --no-coverage
done | tee "$work/engine.txt"
median "$work/engine.txt" engine+coverage
median "$work/engine.txt" engine-no-coverage
fi

if want 1b; then
gotarget=${GOTARGET:-TLV:xdp_tlv}
goprog=${gotarget#*:}
gotarget=${gotarget%%:*}
echo "== 1b. go test -fuzz Fuzz$gotarget: $runs runs per mode, at most $gosecs$([[ $gosecs == *x ]] || echo s) each"
header
for i in $(seq "$runs"); do
	if [[ " ${GOMODES:-on off} " == *" on "* ]]; then gofuzz "gotest+coverage" "Fuzz$gotarget" "$goprog" "$gosecs" BPFFUZZ_NO_COVERAGE=0; fi
	if [[ " ${GOMODES:-on off} " == *" off "* ]]; then gofuzz "gotest-no-coverage" "Fuzz$gotarget" "$goprog" "$gosecs" BPFFUZZ_NO_COVERAGE=1; fi
done | tee "$work/gotest.txt"
median "$work/gotest.txt" gotest+coverage
median "$work/gotest.txt" gotest-no-coverage
fi

if want 2; then
echo "== 2. the other planted bugs (at most ${secs}s each), bpffuzz fuzz and go test -fuzz"
header
for t in Deep:xdp_deep Csum:tc_csum Trim:xdp_trim Mark:tc_mark; do
	p=${t#*:}
	engine "engine+coverage" examples/planted.o "$p"
	engine "engine-no-coverage" examples/planted.o "$p" --no-coverage
	gofuzz "gotest+coverage" "Fuzz${t%%:*}" "$p" "$secs" BPFFUZZ_NO_COVERAGE=0
	gofuzz "gotest-no-coverage" "Fuzz${t%%:*}" "$p" "$secs" BPFFUZZ_NO_COVERAGE=1
done
engine "engine+determinism" examples/planted.o xdp_sample --deterministic
engine "engine-no-determinism" examples/planted.o xdp_sample
gofuzz "gotest+determinism" FuzzSample xdp_sample "$secs" BPFFUZZ_NO_COVERAGE=0
fi

if want 3; then
echo "== 3. false findings: programs without a planted bug (${secs}s each, default oracles)"
header
engine "clean" examples/xdp_parser.o xdp_parser
engine "clean" examples/tc_rewrite.o tc_rewrite
engine "clean" examples/socket_filter.o sock_filter
engine "clean" examples/flow_dissector.o flow_dissect
engine "clean" examples/maps_config.o xdp_config --maps "$root"/examples/testdata/maps_config.json
engine "clean" examples/tail_call.o xdp_dispatch --maps "$root"/examples/testdata/tail_call.json
engine "clean" examples/xdp_frags.o xdp_frags
fi
