package cover

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/bpffuzz/bpffuzz/bpf"
	"github.com/bpffuzz/bpffuzz/internal/kerneltest"
)

// programs are every runnable example and fixture program, with the
// options they need.
var programs = []struct {
	object, program string
	opts            *bpf.Options
	ctx             func(r *rand.Rand) bpf.Context
}{
	{"../examples/xdp_parser.o", "xdp_parser", nil, nil},
	{"../examples/tc_rewrite.o", "tc_rewrite", nil, nil},
	{"../examples/socket_filter.o", "sock_filter", nil, nil},
	{"../examples/flow_dissector.o", "flow_dissect", nil, nil},
	{"../examples/maps_config.o", "xdp_config", &bpf.Options{Variables: map[string]any{"config.mode": 1, "config.port": 53}}, nil},
	{"../examples/tail_call.o", "xdp_dispatch", &bpf.Options{ProgArrays: map[string]map[uint32]string{"jmp_table": {0: "xdp_ipv4", 1: "xdp_ipv6"}}}, nil},
	{"../examples/xdp_frags.o", "xdp_frags", nil, nil},
	{"../examples/planted.o", "xdp_tlv", nil, nil},
	{"../examples/planted.o", "xdp_deep", nil, nil},
	{"../examples/planted.o", "tc_csum", nil, nil},
	{"../bpf/testdata/bpf2bpf.o", "xdp_calls", nil, nil},
	{"../bpf/testdata/adjust.o", "xdp_adjust", &bpf.Options{Variables: map[string]any{"head_delta": -8, "tail_delta": 4}}, nil},
	{"../bpf/testdata/types.o", "tc_write", nil, func(r *rand.Rand) bpf.Context {
		return bpf.SKBContext{Mark: r.Uint32(), Priority: r.Uint32(), CB: [5]uint32{r.Uint32()}}
	}},
	{"../bpf/testdata/types.o", "xdp_meta_len", nil, func(r *rand.Rand) bpf.Context { return bpf.XDPContext{MetaLen: 4 * uint32(r.IntN(8))} }},
	{"../bpf/testdata/types.o", "sf_len", nil, nil},
	{"../bpf/testdata/types.o", "cg_ingress", nil, nil},
	{"../bpf/testdata/types.o", "lwt_xmit_prog", nil, nil},
}

// packets returns a mix of well-formed frames (the sample capture's) and
// random bytes, deterministic for a seed.
func packets(seed uint64, n int) [][]byte {
	r := rand.New(rand.NewPCG(seed, 0))
	base := [][]byte{
		hexFrame("020000000002020000000001080045000020000100004011f6c0c000020ac000020130390035000cc1d168692121"),
		hexFrame("020000000002020000000001080045000028000100004006f6c3c000020ac00002019c4000170000000000000000500204008b7f0000"),
	}
	out := append([][]byte{}, base...)
	for len(out) < n {
		p := bytes.Clone(base[r.IntN(len(base))])
		switch r.IntN(4) {
		case 0: // random bytes
			p = make([]byte, 14+r.IntN(200))
			for i := range p {
				p[i] = byte(r.Uint32())
			}
		case 1: // flip bytes
			for range 1 + r.IntN(4) {
				p[r.IntN(len(p))] = byte(r.Uint32())
			}
		case 2: // truncate
			p = p[:14+r.IntN(len(p)-13)]
		case 3: // IPv6 ethertype with random body
			binary.BigEndian.PutUint16(p[12:], 0x86dd)
			p = append(p, make([]byte, 40)...)
		}
		out = append(out, p)
	}
	return out
}

func hexFrame(s string) []byte {
	var b []byte
	fmt.Sscanf(s, "%x", &b)
	return b
}

type outcome struct {
	retval     uint32
	errno      string
	data, ctx  string
	inputError bool
}

func runOnce(t *testing.T, p *bpf.Program, in bpf.Input) outcome {
	t.Helper()
	res, err := p.Run(in)
	o := outcome{retval: res.Retval, errno: bpf.ErrnoName(res.Errno), data: string(res.Packet), ctx: string(res.Context), inputError: bpf.IsInputError(err)}
	return o
}

// TestSemanticsPreserved runs every example program, instrumented and not,
// on the same inputs and requires identical return value, output packet
// and output context.
func TestSemanticsPreserved(t *testing.T) {
	kerneltest.Skip(t)
	for _, tc := range programs {
		t.Run(tc.program, func(t *testing.T) {
			orig, err := bpf.Load(tc.object, tc.program, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			defer orig.Close()
			inst, err := Load(tc.object, tc.program, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			defer inst.Close()
			if inst.Layout == nil || inst.Fallback != "" {
				t.Fatalf("not fully instrumented: %s", inst.Fallback)
			}
			if inst.Layout.Unprobed > 0 {
				t.Errorf("%d of %d blocks have no probe", inst.Layout.Unprobed, len(inst.Layout.Blocks))
			}
			r := rand.New(rand.NewPCG(1, 2))
			seen := 0
			for i, pkt := range packets(uint64(i64(tc.program)), 300) {
				in := bpf.Input{Packet: pkt}
				if tc.ctx != nil {
					in.Context = tc.ctx(r)
					if c, ok := in.Context.(bpf.XDPContext); ok {
						in.Packet = append(make([]byte, c.MetaLen), pkt...)
					}
				}
				want := runOnce(t, orig, in)
				inst.Cover.Reset()
				got := runOnce(t, inst.Program, in)
				if got != want {
					t.Fatalf("input %d (% x): instrumented %+v, original %+v", i, pkt, got, want)
				}
				if !want.inputError && bytes.IndexByte(inst.Cover.Hits(), 1) < 0 {
					t.Fatalf("input %d ran but no block was recorded", i)
				}
				for _, h := range inst.Cover.Hits() {
					seen += int(h)
				}
			}
			t.Logf("%d blocks, %d block hits over the inputs", len(inst.Layout.Blocks), seen)
		})
	}
}

func i64(s string) int64 {
	var h int64
	for _, c := range s {
		h = h*31 + int64(c)
	}
	return h
}

// FuzzSemantics is TestSemanticsPreserved with inputs from the fuzzer: the
// first byte picks the program, the rest is the packet; the instrumented
// program must give the same return value, output packet, output context
// and input verdict as the original.
func FuzzSemantics(f *testing.F) {
	kerneltest.Skip(f)
	type pair struct{ orig, inst *Program }
	loaded := make([]*pair, len(programs))
	f.Cleanup(func() {
		for _, p := range loaded {
			if p != nil {
				p.orig.Close()
				p.inst.Close()
			}
		}
	})
	for i, pkt := range packets(7, 8) {
		f.Add(byte(i), pkt)
	}
	f.Fuzz(func(t *testing.T, which byte, pkt []byte) {
		i := int(which) % len(programs)
		tc := programs[i]
		if loaded[i] == nil {
			orig, err := bpf.Load(tc.object, tc.program, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			inst, err := Load(tc.object, tc.program, tc.opts)
			if err != nil {
				orig.Close()
				t.Fatal(err)
			}
			loaded[i] = &pair{&Program{Program: orig}, inst}
		}
		p := loaded[i]
		in := bpf.Input{Packet: pkt}
		want := runOnce(t, p.orig.Program, in)
		if p.inst.Cover != nil {
			p.inst.Cover.Reset()
		}
		got := runOnce(t, p.inst.Program, in)
		if got != want {
			t.Fatalf("%s on % x: instrumented %+v, original %+v", tc.program, pkt, got, want)
		}
	})
}
