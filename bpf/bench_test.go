package bpf

import (
	"fmt"
	"testing"

	"github.com/bpffuzz/bpffuzz/internal/benchpkt"
	"github.com/bpffuzz/bpffuzz/internal/kerneltest"
)

// BenchmarkRun is one BPF_PROG_RUN through Program.Run (checks, reused
// attribute and buffers): the limit the fuzzing paths are measured against.
// With -cpu 2 each goroutine runs its own loaded program.
func BenchmarkRun(b *testing.B) {
	for _, c := range []struct {
		object, program string
		size            int
	}{
		{"../examples/xdp_parser.o", "xdp_parser", 64},
		{"../examples/xdp_parser.o", "xdp_parser", 1500},
		{"../examples/tc_rewrite.o", "tc_rewrite", 64},
	} {
		b.Run(fmt.Sprintf("%s/%d", c.program, c.size), func(b *testing.B) {
			pkt := benchpkt.UDP(c.size)
			kerneltest.Skip(b)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				p, err := Load(c.object, c.program, nil)
				if err != nil {
					b.Error(err)
					return
				}
				defer p.Close()
				in := Input{Packet: pkt}
				for pb.Next() {
					if _, err := p.Run(in); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
