#!/usr/bin/env bash
# nightly.sh — one cell of the nightly fuzz matrix (.github/workflows/nightly.yml
# runs it; run it locally the same way): fuzz one target for a fixed time
# inside scripts/qemu-run.sh on one kernel, merge what it found into the
# corpus carried between nights (minimized against BPF coverage), and fail
# with the findings collected when there are any.
#
#   scripts/nightly.sh --kernel SPEC --target NAME [--time D] [--corpus DIR] [--out DIR]
#
# NAME is a line of TARGETS below: a bpffuzz target (OBJECT PROGRAM, fuzzed
# with bpffuzz fuzz) or a go test one (go:PACKAGE:FuzzName, fuzzed with the
# test binary's -test.fuzz). --corpus (default nightly/corpus/NAME) is read
# and updated in place: carry it with a cache or an artifact. --out (default
# nightly/out/KERNEL/NAME) gets the run's corpus, logs and findings/.
# Exit: 0 nothing found, 3 findings in OUT/findings, 1 the run failed.
set -euo pipefail
cd "$(dirname "$0")/.."

# name | object or go:package:FuzzName | program | seed capture
TARGETS='
xdp_parser|examples/xdp_parser.o|xdp_parser|examples/testdata/sample.pcapng
tc_rewrite|examples/tc_rewrite.o|tc_rewrite|examples/testdata/sample.pcapng
socket_filter|examples/socket_filter.o|socket_filter|examples/testdata/sample.pcapng
go-parser|go:./fuzz:FuzzParser||
'

kernel=debian-6.1 target= fuzztime=60s corpus= out=
while [ $# -gt 0 ]; do
	case $1 in
	--kernel) kernel=$2; shift 2 ;;
	--target) target=$2; shift 2 ;;
	--time) fuzztime=$2; shift 2 ;;
	--corpus) corpus=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	--list) echo "$TARGETS" | sed -n 's/|.*//p'; exit 0 ;;
	*) echo "nightly.sh: unknown argument $1 (see the comment at the top)" >&2; exit 2 ;;
	esac
done
line=$(echo "$TARGETS" | grep "^$target|" || true)
if [ -z "$target" ] || [ -z "$line" ]; then
	echo "nightly.sh: --target is one of: $(echo "$TARGETS" | sed -n 's/|.*//p' | tr '\n' ' ')" >&2
	exit 2
fi
IFS='|' read -r _ object program seed <<<"$line"
corpus=${corpus:-nightly/corpus/$target}
out=${out:-nightly/out/$kernel/$target}
mkdir -p "$corpus" "$out"
corpus=$(cd "$corpus" && pwd -P)
out=$(cd "$out" && pwd -P)
rm -rf "$out/run" "$out/findings"
mkdir -p "$out/run/corpus" "$out/findings" "$out/bin"
cp -r "$corpus/." "$out/run/corpus/"
before=$(find "$corpus" -type f | wc -l)
secs=$(echo "$fuzztime" | sed 's/s$//; s/^\([0-9]*\)m$/\1*60/' | bc)
step() { echo "--- nightly $kernel $target: $*"; }

step "build"
go build -o "$out/bin/bpffuzz" ./cmd/bpffuzz
run=(scripts/qemu-run.sh --kernel "$kernel" --timeout "$((secs + 300))s" --share "$out/run")

step "fuzz for $fuzztime inside $kernel ($before entries carried)"
start=$(date +%s)
set +e
case $object in
go:*)
	IFS=: read -r _ pkg fn <<<"$object"
	go test -c -fuzz="^$fn\$" -o "$out/bin/target.test" "$pkg"
	# Failing inputs go to the package's testdata/fuzz/FN (copied back).
	mark=$out/run/.start
	touch "$mark"
	(cd "$pkg" && "$OLDPWD/${run[0]}" "${run[@]:1}" -- "$out/bin/target.test" \
		-test.run='^$' -test.fuzz="^$fn\$" -test.fuzztime="$fuzztime" -test.fuzzcachedir="$out/run/corpus") 2>&1 | tee "$out/fuzz.log"
	rc=${PIPESTATUS[0]}
	find "$pkg/testdata/fuzz/$fn" -type f -newer "$mark" -exec cp {} "$out/findings/" \; 2>/dev/null
	;;
*)
	"${run[@]}" -- "$out/bin/bpffuzz" fuzz "$object" "$program" ${seed:+--seed "$seed"} \
		--time "$fuzztime" --corpus "$out/run/corpus" --findings "$out/findings" --keep-going 2>&1 | tee "$out/fuzz.log"
	rc=${PIPESTATUS[0]}
	;;
esac
set -e
echo "fuzzing exited $rc after $(($(date +%s) - start)) s"
new=$(find "$out/run/corpus" -type f | wc -l)

step "merge $new entries into $corpus"
if [[ $object != go:* ]] && "$out/bin/bpffuzz" help merge >/dev/null 2>&1; then
	"$out/bin/bpffuzz" merge "$out/run/corpus" --out "$corpus" --minimize "$object" "$program"
else
	# go test targets' entries are Go's own values, not bpffuzz entries: copy.
	cp -rn "$out/run/corpus/." "$corpus/"
fi
echo "corpus: $before entries before, $(find "$corpus" -type f | wc -l) after"

nf=$(find "$out/findings" -type f | wc -l)
if [ "$nf" -gt 0 ] || [ "$rc" = 3 ]; then
	step "FINDINGS: $nf files in $out/findings"
	find "$out/findings" -type f -name '*.txt' -exec cat {} \; | head -60
	exit 3
fi
case $rc in
0) step "nothing found" ;;
1) if [[ $object == go:* ]] && grep -q -- '--- FAIL' "$out/fuzz.log"; then
	step "FINDINGS: the fuzz test failed (see $out/fuzz.log)"
	exit 3
fi
	step "the run failed (exit $rc; see $out/fuzz.log)"; exit 1 ;;
*) step "the run failed (exit $rc; see $out/fuzz.log)"; exit 1 ;;
esac
