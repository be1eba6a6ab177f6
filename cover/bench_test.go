package cover

import (
	"testing"
	"time"

	"github.com/bpffuzz/bpffuzz/bpf"
	"github.com/bpffuzz/bpffuzz/internal/kerneltest"
)

// BenchmarkExec measures one execution of example programs uninstrumented
// ("plain": BPF_PROG_RUN) and instrumented ("cover": BPF_PROG_RUN of the
// program with its probes, then reading and resetting the mapped coverage
// map, as the fuzzer does per execution). prog-ns/op is the kernel's own
// measure of the program alone (BPF_PROG_RUN's duration). scripts/
// bench-cover.sh prints the ratios; the goal is cover ≤ 1.25 × plain.
func BenchmarkExec(b *testing.B) {
	kerneltest.Skip(b)
	udp := hexFrame("020000000002020000000001080045000020000100004011f6c0c000020ac000020130390035000cc1d168692121")
	// A request xdp_tlv parses to its last option (it answers XDP_TX).
	tlv := hexFrame("0200000000020200000000010800" + "4500002a00010000401100000a0000010a000002" +
		"d431" + "1e61" + "0016" + "0000" + "42504654" + "02" + "80" + "11" + "00" + "0102" + "02040100")
	for _, c := range []struct {
		obj, prog string
		opts      *bpf.Options
		pkt       []byte
	}{
		{"../examples/xdp_parser.o", "xdp_parser", nil, udp},
		{"../examples/tc_rewrite.o", "tc_rewrite", nil, udp},
		{"../examples/flow_dissector.o", "flow_dissect", nil, udp},
		{"../examples/planted.o", "xdp_tlv", nil, tlv},
		{"../examples/tail_call.o", "xdp_dispatch", &bpf.Options{ProgArrays: map[string]map[uint32]string{"jmp_table": {0: "xdp_ipv4", 1: "xdp_ipv6"}}}, udp},
	} {
		in := bpf.Input{Packet: c.pkt}
		b.Run(c.prog+"/plain", func(b *testing.B) {
			p, err := bpf.Load(c.obj, c.prog, c.opts)
			if err != nil {
				b.Fatal(err)
			}
			defer p.Close()
			b.ReportAllocs()
			var prog time.Duration
			for b.Loop() {
				res, err := p.Run(in)
				if err != nil {
					b.Fatal(err)
				}
				prog += res.Duration
			}
			b.ReportMetric(float64(prog.Nanoseconds())/float64(b.N), "prog-ns/op")
		})
		b.Run(c.prog+"/cover", func(b *testing.B) {
			p, err := Load(c.obj, c.prog, c.opts)
			if err != nil {
				b.Fatal(err)
			}
			defer p.Close()
			if p.Cover == nil {
				b.Fatalf("not instrumented: %s", p.Fallback)
			}
			b.ReportAllocs()
			hit := 0
			var prog time.Duration
			for b.Loop() {
				res, err := p.Run(in)
				if err != nil {
					b.Fatal(err)
				}
				prog += res.Duration
				for _, h := range p.Cover.Hits() {
					hit += int(h)
				}
				p.Cover.Reset()
			}
			b.ReportMetric(float64(hit)/float64(b.N), "blocks/op")
			b.ReportMetric(float64(prog.Nanoseconds())/float64(b.N), "prog-ns/op")
		})
	}
}
