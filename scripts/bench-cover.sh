#!/usr/bin/env bash
# bench-cover.sh [COUNT] — what BPF coverage costs per execution (a
# benchmark, not a test). Runs cover's BenchmarkExec COUNT times (default 10;
# plain and instrumented runs interleave), and prints per program the median
# ns/op uninstrumented and instrumented (the run, then reading and resetting
# the mapped coverage map) and their ratio. Goal: ratio ≤ 1.25. Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-10}
out=$(go test -run '^$' -bench '^BenchmarkExec$' -benchtime 200000x -count "$count" ./cover)
echo "$out" | grep -E '^(goos|goarch|cpu):' || true
echo "$out" | awk '
/^BenchmarkExec\// {
	split($1, f, "/"); prog = f[2]; mode = f[3]; sub(/-[0-9]+$/, "", mode)
	v[prog, mode, ++n[prog, mode]] = $3; progs[prog] = 1
}
function median(prog, mode,    k, i, j, t, a) {
	k = n[prog, mode]
	for (i = 1; i <= k; i++) a[i] = v[prog, mode, i]
	for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
	return k % 2 ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
}
END {
	printf "%-14s %12s %12s %8s\n", "PROGRAM", "PLAIN ns/op", "COVER ns/op", "RATIO"
	for (p in progs) {
		a = median(p, "plain"); b = median(p, "cover")
		printf "%-14s %12.0f %12.0f %8.3f\n", p, a, b, b / a
		sum += log(b / a); m++
	}
	printf "instrumented/plain ratio (geometric mean over %d programs): %.3f\n", m, exp(sum / m)
}'
