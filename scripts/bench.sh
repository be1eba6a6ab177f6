#!/usr/bin/env bash
# bench.sh [--secs N] [--runs N] [--rss-minutes M] — the throughput benchmark
# (not a test). Needs root (or CAP_BPF + CAP_NET_ADMIN + CAP_PERFMON).
#
# For each program and packet size (XDP xdp_parser 64 B and 1500 B, tc
# tc_rewrite 64 B) and 1 and 2 workers, measured side by side on this
# machine, each --secs seconds (default 10), --runs times (default 1; the
# table shows medians):
#   raw        a BPF_PROG_RUN loop of the fixed packet (go test -bench
#              BenchmarkRun ./bpf; 2 workers = 2 goroutines, a program each)
#   fuzz       bpffuzz fuzz, default oracles, coverage off (-cov) and on (+cov)
#   gotest     go test -fuzz, -parallel = workers, at least 10 s: the bpffuzz
#              harness (FuzzBenchHarness) with BPF coverage (GT-HARN) and
#              without (GT-HARN-cov, BPFFUZZ_NO_COVERAGE=1), and a bare []byte
#              target that only runs the program (FuzzBenchBare). harness/bare
#              compares the harness without coverage with the bare target: the
#              harness's own cost per execution. All run with
#              -fuzzminimizetime 0: Go's engine otherwise minimizes every new
#              input it keeps, up to 60 s each, without counting those runs
#              (the harness's own Go code gives it more such inputs, and a
#              1500-byte input takes long to minimize), which measures the
#              minimizer, not the execution.
# Every rate is also printed as a ratio of raw. The last line is
#   bpffuzz/raw ratio: R      (XDP 64 B, one worker, coverage off)
#
# --rss-minutes M instead runs bpffuzz fuzz (XDP 64 B, coverage on, one
# worker) for M minutes and prints its RSS (VmRSS) every 30 seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
secs=10 runs=1 rss=""
while [ $# -gt 0 ]; do
	case $1 in
	--secs) secs=$2; shift 2 ;;
	--runs) runs=$2; shift 2 ;;
	--rss-minutes) rss=$2; shift 2 ;;
	*) echo "usage: $0 [--secs N] [--runs N] [--rss-minutes M]" >&2; exit 2 ;;
	esac
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go build -o "$work/bpffuzz" ./cmd/bpffuzz
for size in 64 1500; do
	go run ./internal/benchpkt/benchseed -size "$size" -o "$work/seed$size.pcapng"
done

machine() {
	echo "machine: $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), $(nproc) CPUs, Linux $(uname -r), $(go version | cut -d' ' -f3)"
	echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
}

if [ -n "$rss" ]; then
	machine
	(cd "$work" && exec "$work/bpffuzz" fuzz "$root/examples/xdp_parser.o" xdp_parser --seed "$work/seed64.pcapng" \
		--workers 1 --time "${rss}m" --json >"$work/rss.json" 2>/dev/null) &
	pid=$!
	sleep 1
	fpid=$(pgrep -P "$pid" -x bpffuzz || echo "$pid")
	echo "bpffuzz fuzz xdp_parser (64 B, coverage on, 1 worker) for ${rss} min; RSS every 30 s:"
	t=0
	while kill -0 "$fpid" 2>/dev/null; do
		r=$(awk '/VmRSS/{print $2}' "/proc/$fpid/status" 2>/dev/null || true)
		[ -n "$r" ] && printf '  %4ds  %6d kB\n' "$t" "$r"
		sleep 30
		t=$((t + 30))
	done
	wait "$pid" || true
	echo "execs/s: $(sed -n 's/.*"execs_per_sec": \([0-9.]*\).*/\1/p' "$work/rss.json" | cut -d. -f1)"
	echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
	exit 0
fi

# raw PROGRAM SIZE WORKERS: runs/s of the BPF_PROG_RUN loop.
raw() {
	local suffix=""
	[ "$3" -gt 1 ] && suffix="-$3"
	(cd bpf && go test -run '^$' -bench "^BenchmarkRun/$1/$2\$" -cpu "$3" -benchtime "${secs}s" .) |
		awk -v n="BenchmarkRun/$1/$2$suffix" '$1 == n { printf "%.0f\n", 1e9 / $3 }'
}

# fuzz OBJECT PROGRAM SIZE WORKERS [FLAGS]: bpffuzz fuzz execs/s.
fuzz() {
	local obj=$1 prog=$2 size=$3 w=$4; shift 4
	(cd "$work" && rm -rf testdata && "$work/bpffuzz" fuzz "$root/$obj" "$prog" --seed "$work/seed$size.pcapng" \
		--time "${secs}s" --workers "$w" --json "$@" 2>/dev/null || true) |
		sed -n 's/.*"execs_per_sec": \([0-9.]*\).*/\1/p' | cut -d. -f1
}

# gotest TARGET OBJECT PROGRAM SIZE WORKERS [ENV=VALUE]: go test -fuzz
# execs/s, from the engine's progress lines, leaving out its first 3
# seconds (baseline coverage, worker start).
gotest() {
	rm -rf "$work/fuzzcache" "$work/findings" fuzz/testdata/fuzz/"$1"
	(env BPFFUZZ_BENCH_OBJECT="$root/$2" BPFFUZZ_BENCH_PROGRAM="$3" BPFFUZZ_BENCH_SIZE="$4" BPFFUZZ_FINDINGS="$work/findings" ${6:-} \
		go test -run '^$' -fuzz "^$1\$" -fuzztime "$((secs > 10 ? secs : 10))s" -fuzzminimizetime 0 -parallel "$5" ./fuzz -test.fuzzcachedir "$work/fuzzcache" 2>&1 || true) |
		awk '/^fuzz: elapsed:/ {
			t = $3; sub(",", "", t); s = 0
			if (t ~ /m/) { split(t, a, "m"); s = a[1] * 60; t = a[2] }
			sub("s", "", t); s += t
			n = $5; sub(",", "", n)
			if (s >= 3 && !have) { t0 = s; n0 = n; have = 1 }
			t1 = s; n1 = n
		}
		END { if (have && t1 > t0) printf "%.0f\n", (n1 - n0) / (t1 - t0) }'
}

median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{v[NR] = $1} END { if (NR) print v[int((NR + 1) / 2)]; else print 0 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "?" }'; }

machine
echo "each measurement ${secs}s, ${runs} run(s), medians"
echo
printf '%-8s %2s %9s %9s %5s %9s %5s %9s %5s %11s %5s %9s %5s %12s\n' CASE W RAW/s "FUZZ-cov" ratio "FUZZ+cov" ratio "GT-HARN" ratio "GT-HARN-cov" ratio "GT-BARE" ratio "harness/bare"
final=""
for c in "xdp64 examples/xdp_parser.o xdp_parser 64" "xdp1500 examples/xdp_parser.o xdp_parser 1500" "tc64 examples/tc_rewrite.o tc_rewrite 64"; do
	set -- $c
	name=$1 obj=$2 prog=$3 size=$4
	for w in 1 2; do
		r="" f0="" f1="" gh="" gn="" gb=""
		for _ in $(seq "$runs"); do
			r="$r $(raw "$prog" "$size" "$w")"
			f0="$f0 $(fuzz "$obj" "$prog" "$size" "$w" --no-coverage)"
			f1="$f1 $(fuzz "$obj" "$prog" "$size" "$w")"
			gh="$gh $(gotest FuzzBenchHarness "$obj" "$prog" "$size" "$w")"
			gn="$gn $(gotest FuzzBenchHarness "$obj" "$prog" "$size" "$w" BPFFUZZ_NO_COVERAGE=1)"
			gb="$gb $(gotest FuzzBenchBare "$obj" "$prog" "$size" "$w")"
		done
		r=$(echo "$r" | median) f0=$(echo "$f0" | median) f1=$(echo "$f1" | median)
		gh=$(echo "$gh" | median) gn=$(echo "$gn" | median) gb=$(echo "$gb" | median)
		printf '%-8s %2d %9d %9d %5s %9d %5s %9d %5s %11d %5s %9d %5s %12s\n' "$name" "$w" "$r" "$f0" "$(ratio "$f0" "$r")" \
			"$f1" "$(ratio "$f1" "$r")" "$gh" "$(ratio "$gh" "$r")" "$gn" "$(ratio "$gn" "$r")" "$gb" "$(ratio "$gb" "$r")" "$(ratio "$gn" "$gb")"
		if [ "$name" = xdp64 ] && [ "$w" = 1 ]; then
			final=$(ratio "$f0" "$r")
		fi
	done
done
echo
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "bpffuzz/raw ratio: $final"
