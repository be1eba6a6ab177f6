#!/usr/bin/env bash
# bench-live.sh [RUNS] [OPS] — live frame mode throughput (not a test).
# Needs root. Prints a table; exits 0 whatever it measures.
#
# For XDP_DROP and XDP_TX (bpf/testdata/live.o) at batch sizes 1, 64 and
# 256, 64-byte frames, 65536 frames per BPF_PROG_RUN call, in a namespace
# of its own with a veth pair whose peer counts and drops what arrives:
#   bpffuzz  live.Session with NoCapture (what `bpffuzz run --live
#            --no-capture` does): verdict and tracepoint counters on, reset
#            and read per call, waiting for the peer;
#   raw      the same BPF_PROG_RUN syscall in a bare loop, nothing else.
# Each is run RUNS times (default 5) of OPS calls (default 20); the table
# shows the median packets/s. The machine is shared: look at the spread.
#
# xdp-trafficgen (xdp-tools) is tried on the same setup if installed; 1.3.1
# (Debian 12) fails to load on Linux 6.18, whose xdp_redirect_map_err
# tracepoint is gone, and the script says so.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${1:-5}
OPS=${2:-20}

out=$(mktemp)
trap 'rm -f "$out"' EXIT
go test ./live -run '^$' -bench '^(BenchmarkLive|BenchmarkRawLoop)$' -benchtime "${OPS}x" -count "$RUNS" | tee "$out" >&2

echo
echo "median packets/s of $RUNS runs x $OPS calls x 65536 frames (64 bytes)"
awk '
/^Benchmark(Live|RawLoop)\// {
	split($1, f, "/"); kind = (f[1] ~ /RawLoop/) ? "raw" : "bpffuzz"
	prog = f[2]; batch = f[3]; sub(/-[0-9]+$/, "", batch); sub(/batch=/, "", batch)
	for (i = 1; i <= NF; i++) if ($(i+1) == "pkts/s") v = $i
	key = prog SUBSEP batch SUBSEP kind; n[key]++; val[key, n[key]] = v
	progs[prog] = 1; batches[batch] = 1
}
function median(key,   i, j, t, m, a) {
	m = n[key]; for (i = 1; i <= m; i++) a[i] = val[key, i]
	for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
	return (m % 2) ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2
}
END {
	printf "%-10s %6s %14s %14s %8s\n", "program", "batch", "bpffuzz", "raw loop", "ratio"
	split("xdp_drop xdp_tx", ps, " "); split("1 64 256", bs, " ")
	for (p = 1; p <= 2; p++) for (b = 1; b <= 3; b++) {
		a = median(ps[p] SUBSEP bs[b] SUBSEP "bpffuzz"); r = median(ps[p] SUBSEP bs[b] SUBSEP "raw")
		printf "%-10s %6s %14.0f %14.0f %8.2f\n", ps[p], bs[b], a, r, (r > 0) ? a / r : 0
	}
}' "$out"

echo
if ! command -v xdp-trafficgen >/dev/null; then
	echo "xdp-trafficgen: not installed (apt-get install xdp-tools)"
	exit 0
fi
ns=bpffuzz-bench-$$
ip netns add "$ns"
trap 'rm -f "$out"; ip netns del "$ns" 2>/dev/null || true' EXIT
ip -n "$ns" link add veth0 mtu 3400 type veth peer veth1 mtu 3400
ip -n "$ns" link set veth0 up
ip -n "$ns" link set veth1 up
ip -n "$ns" link set dev veth1 xdpdrv obj bpf/testdata/live.o sec xdp program xdp_drop
if msg=$(timeout 60 ip netns exec "$ns" xdp-trafficgen udp veth0 -n 5000000 2>&1); then
	echo "xdp-trafficgen udp, 5M frames on the same veth pair:"
	echo "$msg" | tail -n 5
else
	echo "xdp-trafficgen could not run here; its last words:"
	echo "$msg" | tail -n 3
fi
