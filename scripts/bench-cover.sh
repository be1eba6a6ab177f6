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
	k = ++n[prog, mode]; v[prog, mode, k] = $3; progs[prog] = 1
	for (i = 4; i <= NF; i++) if ($i == "prog-ns/op") pv[prog, mode, k] = $(i - 1)
}
function median(prog, mode, kernel,    k, i, j, t, a) {
	k = n[prog, mode]
	for (i = 1; i <= k; i++) a[i] = kernel ? pv[prog, mode, i] : v[prog, mode, i]
	for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
	return k % 2 ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
}
END {
	printf "%-14s %12s %12s %8s   %14s %14s\n", "PROGRAM", "PLAIN ns/op", "COVER ns/op", "RATIO", "PLAIN prog-ns", "COVER prog-ns"
	for (p in progs) {
		a = median(p, "plain", 0); b = median(p, "cover", 0)
		ka = median(p, "plain", 1); kb = median(p, "cover", 1)
		printf "%-14s %12.0f %12.0f %8.3f   %14.0f %14.0f\n", p, a, b, b / a, ka, kb
		sum += log(b / a); m++
	}
	printf "instrumented/plain ratio per execution (geometric mean over %d programs): %.3f\n", m, exp(sum / m)
}'
