package fuzz

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/bpffuzz/bpffuzz/corpus"
	"github.com/bpffuzz/bpffuzz/internal/benchpkt"
	"github.com/bpffuzz/bpffuzz/internal/kerneltest"
)

// benchCases are the programs and packet sizes of scripts/bench.sh.
var benchCases = []struct {
	name, object, program string
	size                  int
}{
	{"xdp64", "../examples/xdp_parser.o", "xdp_parser", 64},
	{"xdp1500", "../examples/xdp_parser.o", "xdp_parser", 1500},
	{"tc64", "../examples/tc_rewrite.o", "tc_rewrite", 64},
}

// benchOps are fuzz decisions like the engine's: 1 to 48 random bytes.
func benchOps(n int) [][]byte {
	r := rand.New(rand.NewPCG(1, 2))
	out := make([][]byte, n)
	for i := range out {
		out[i] = make([]byte, 1+r.IntN(48))
		for j := range out[i] {
			out[i][j] = byte(r.Uint32())
		}
	}
	return out
}

func benchEntry(size int) corpus.Entry { return corpus.Entry{Packet: benchpkt.UDP(size)} }

func benchExecutor(tb testing.TB, object, program string, noCoverage bool) *executor {
	tb.Helper()
	kerneltest.Skip(tb)
	t := &Target{Object: object, Program: program, NoCoverage: noCoverage}
	x, err := t.newExecutor("bench")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(x.close)
	x.engine = true
	return x
}

// BenchmarkExecute is one engine execution with the default oracles:
// mutate, restore maps, BPF_PROG_RUN, coverage, oracles. "plain" runs the
// seed packet unmutated (empty ops), "mutated" with engine-like ops.
func BenchmarkExecute(b *testing.B) {
	ops := benchOps(1024)
	for _, c := range benchCases {
		for _, cov := range []string{"nocover", "cover"} {
			for _, mode := range []string{"plain", "mutated"} {
				b.Run(fmt.Sprintf("%s/%s/%s", c.name, cov, mode), func(b *testing.B) {
					x := benchExecutor(b, c.object, c.program, cov == "nocover")
					e := corpus.Entry{Packet: benchpkt.UDP(c.size)}
					b.ReportAllocs()
					for i := 0; b.Loop(); i++ {
						if mode == "mutated" {
							e.Ops = ops[i%len(ops)]
						}
						fd, err := x.execute(e)
						if err != nil && err != errSkip {
							b.Fatal(err)
						}
						if fd != nil {
							b.Fatal(fd.Report)
						}
					}
				})
			}
		}
	}
}

// TestExecuteAllocs checks that an execution allocates nothing in the
// steady state, with and without coverage and mutation.
func TestExecuteAllocs(t *testing.T) {
	ops := benchOps(256)
	for _, c := range benchCases {
		for _, noCov := range []bool{true, false} {
			x := benchExecutor(t, c.object, c.program, noCov)
			e := corpus.Entry{Packet: benchpkt.UDP(c.size)}
			i := 0
			run := func() {
				e.Ops = ops[i%len(ops)]
				i++
				if fd, err := x.execute(e); fd != nil || (err != nil && err != errSkip) {
					t.Fatalf("%s: %v %v", c.name, fd, err)
				}
			}
			for range 2 * len(ops) { // warm the reused buffers
				run()
			}
			if n := testing.AllocsPerRun(len(ops), run); n != 0 {
				t.Errorf("%s (no coverage %v): %.1f allocations per execution, want 0", c.name, noCov, n)
			}
		}
	}
}
