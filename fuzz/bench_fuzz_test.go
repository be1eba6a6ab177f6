package fuzz

import (
	"os"
	"strconv"
	"testing"

	"github.com/bpffuzz/bpffuzz/bpf"
	"github.com/bpffuzz/bpffuzz/internal/benchpkt"
	"github.com/bpffuzz/bpffuzz/internal/kerneltest"
)

// The two fuzz targets scripts/bench.sh runs under go test -fuzz, to
// measure the harness's own cost per execution: FuzzBenchHarness is a
// bpffuzz Target (mutator, map restore, coverage, default oracles);
// FuzzBenchBare a []byte target that only runs the program. Both live in
// this test binary, so Go's engine sees the same coverage counters for
// both. BPFFUZZ_BENCH_OBJECT, BPFFUZZ_BENCH_PROGRAM and BPFFUZZ_BENCH_SIZE
// choose the program and the seed packet's size (default: xdp_parser,
// 64 bytes). Without -fuzz each runs its seed once.

func benchTarget() (object, program string, size int) {
	object, program, size = "../examples/xdp_parser.o", "xdp_parser", 64
	if v := os.Getenv("BPFFUZZ_BENCH_OBJECT"); v != "" {
		object = v
	}
	if v := os.Getenv("BPFFUZZ_BENCH_PROGRAM"); v != "" {
		program = v
	}
	if n, err := strconv.Atoi(os.Getenv("BPFFUZZ_BENCH_SIZE")); err == nil {
		size = n
	}
	return
}

func FuzzBenchHarness(f *testing.F) {
	object, program, size := benchTarget()
	t := &Target{Object: object, Program: program, Seeds: Packets(benchpkt.UDP(size))}
	t.Fuzz(f)
}

func FuzzBenchBare(f *testing.F) {
	kerneltest.Skip(f)
	object, program, size := benchTarget()
	p, err := bpf.Load(object, program, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { p.Close() })
	f.Add(benchpkt.UDP(size))
	f.Fuzz(func(t *testing.T, packet []byte) {
		p.Run(bpf.Input{Packet: packet}) // inputs the kernel rejects are fine
	})
}
