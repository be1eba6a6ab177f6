package cover

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bpffuzz/bpffuzz/bpf"
	"github.com/bpffuzz/bpffuzz/internal/kerneltest"
	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
)

// jumpOver builds "if r1 (data) == 0 goto far; N blocks of filler; far:
// return 2". filler(i) gives the instructions of block i.
func jumpOver(t *testing.T, n int, filler func(i int) asm.Instructions) *ebpf.CollectionSpec {
	insns := asm.Instructions{
		asm.LoadMem(asm.R2, asm.R1, 0, asm.Word),
		asm.Mov.Imm(asm.R0, 1),
		asm.JEq.Imm(asm.R2, 0, "far"),
	}
	for i := range n {
		insns = append(insns, filler(i)...)
	}
	insns = append(insns, asm.Return(), asm.Mov.Imm(asm.R0, 2).WithSymbol("far"), asm.Return())
	return &ebpf.CollectionSpec{Maps: map[string]*ebpf.MapSpec{}, Programs: map[string]*ebpf.ProgramSpec{
		"big": {Name: "big", Type: ebpf.XDP, License: "GPL", Instructions: resolve(t, insns)},
	}}
}

func TestLargeProgram(t *testing.T) {
	kerneltest.Skip(t)
	// 3000 conditional blocks: a program of about 6000 instructions.
	spec := jumpOver(t, 3000, func(i int) asm.Instructions {
		return asm.Instructions{asm.JEq.Imm(asm.R0, int32(i+100), "far"), asm.Add.Imm(asm.R0, 0)}
	})
	p, err := LoadSpec(spec, "big", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if p.Fallback != "" || len(p.Layout.Blocks) < 3000 {
		t.Fatalf("fallback %q, %d blocks", p.Fallback, len(p.Layout.Blocks))
	}
	res, err := p.Run(bpf.Input{Packet: make([]byte, 64)})
	if err != nil || res.Retval != 1 {
		t.Fatalf("run: %v, retval %d", err, res.Retval)
	}
	if hits := bytes.Count(p.Cover.Hits(), []byte{1}); hits < 3000 {
		t.Errorf("%d blocks recorded on the long path, want all", hits)
	}
}

// TestFallbackLight: a jump over 12000 unconditional blocks fits its 16-bit
// offset only without their probes, so Full fails and Light (which probes
// only branch outcomes) loads.
func TestFallbackLight(t *testing.T) {
	kerneltest.Skip(t)
	spec := jumpOver(t, 12000, func(int) asm.Instructions {
		ja := asm.Ja.Label("")
		ja.Offset = 0
		return asm.Instructions{ja}
	})
	p, err := LoadSpec(spec, "big", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if p.Layout == nil || p.Layout.Mode != Light || !strings.Contains(p.Fallback, "too far") {
		t.Fatalf("want light mode after a too-far jump; fallback %q, layout %v", p.Fallback, p.Layout != nil)
	}
	for _, pkt := range [][]byte{make([]byte, 64)} {
		res, err := p.Run(bpf.Input{Packet: pkt})
		if err != nil || res.Retval != 1 {
			t.Fatalf("run: %v, retval %d", err, res.Retval)
		}
	}
	if p.Layout.Probed() != 2 {
		t.Errorf("light mode probed %d blocks, want the 2 outcomes of the one branch", p.Layout.Probed())
	}
	if p.Layout.Unprobed != len(p.Layout.Blocks)-2 {
		t.Errorf("unprobed = %d of %d", p.Layout.Unprobed, len(p.Layout.Blocks))
	}
}

// TestFallbackNone: a jump over 12000 conditional blocks is too far in both
// modes; the program then runs without coverage, and says why.
func TestFallbackNone(t *testing.T) {
	kerneltest.Skip(t)
	spec := jumpOver(t, 12000, func(i int) asm.Instructions {
		return asm.Instructions{asm.JEq.Imm(asm.R0, int32(i+100), "far")}
	})
	p, err := LoadSpec(spec, "big", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if p.Layout != nil || p.Cover != nil || !strings.Contains(p.Fallback, "without coverage") {
		t.Fatalf("want an uninstrumented program; fallback %q", p.Fallback)
	}
	if res, err := p.Run(bpf.Input{Packet: make([]byte, 64)}); err != nil || res.Retval != 1 {
		t.Fatalf("run: %v, retval %d", err, res.Retval)
	}
}

// TestNotAboutInstrumentation: errors of the original program come back
// unchanged, not as a fallback.
func TestNotAboutInstrumentation(t *testing.T) {
	kerneltest.Skip(t)
	if _, err := Load("../bpf/testdata/rejected.o", "xdp_rejected", nil); err == nil || !strings.Contains(err.Error(), "invalid access to packet") {
		t.Errorf("rejected program: %v", err)
	}
	if _, err := Load("../bpf/testdata/types.o", "nope", nil); err == nil || !strings.Contains(err.Error(), "xdp_linlen") {
		t.Errorf("missing program: %v", err)
	}
}

// TestTailCallRegions: each tail-called program has its own region, and
// only the taken program's region records hits.
func TestTailCallRegions(t *testing.T) {
	kerneltest.Skip(t)
	p, err := Load("../examples/tail_call.o", "xdp_dispatch", &bpf.Options{ProgArrays: map[string]map[uint32]string{"jmp_table": {0: "xdp_ipv4", 1: "xdp_ipv6"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	regionHit := func(name string) bool {
		r := p.Layout.Regions[name]
		return bytes.IndexByte(p.Cover.Hits()[r.Base:r.Base+r.Len], 1) >= 0
	}
	for _, tc := range []struct {
		ethertype  []byte
		want, not  string
		wantRetval uint32
	}{
		{[]byte{0x08, 0x00}, "xdp_ipv4", "xdp_ipv6", 2},
		{[]byte{0x86, 0xdd}, "xdp_ipv6", "xdp_ipv4", 3},
	} {
		pkt := make([]byte, 64)
		copy(pkt[12:], tc.ethertype)
		p.Cover.Reset()
		res, err := p.Run(bpf.Input{Packet: pkt})
		if err != nil || res.Retval != tc.wantRetval {
			t.Fatalf("run: %v, retval %d", err, res.Retval)
		}
		if !regionHit("xdp_dispatch") || !regionHit(tc.want) || regionHit(tc.not) {
			t.Errorf("ethertype % x: regions hit: dispatch %v, %s %v, %s %v", tc.ethertype,
				regionHit("xdp_dispatch"), tc.want, regionHit(tc.want), tc.not, regionHit(tc.not))
		}
	}
}

// TestEveryExampleLoads loads every program of every example object (the
// tail-call targets among them) and of the bpf-to-bpf test object,
// instrumented in full: none may need the light mode or run uninstrumented,
// and each must run. (TestLargeProgram is the large one.)
func TestEveryExampleLoads(t *testing.T) {
	kerneltest.Skip(t)
	objs, err := filepath.Glob("../examples/*.o")
	if err != nil || len(objs) == 0 {
		t.Fatalf("no example objects: %v", err)
	}
	loaded := 0
	for _, obj := range append(objs, "../bpf/testdata/bpf2bpf.o") {
		spec, err := ebpf.LoadCollectionSpec(obj)
		if err != nil {
			t.Fatal(err)
		}
		for name, ps := range spec.Programs {
			t.Run(filepath.Base(obj)+"/"+name, func(t *testing.T) {
				p, err := Load(obj, name, nil)
				if err != nil {
					t.Fatalf("%s program: %v", ps.Type, err)
				}
				defer p.Close()
				loaded++
				if p.Layout == nil || p.Fallback != "" {
					t.Fatalf("not fully instrumented: %s", p.Fallback)
				}
				if _, err := p.Run(bpf.Input{Packet: make([]byte, 64)}); err != nil && !bpf.IsInputError(err) {
					t.Errorf("run: %v", err)
				}
			})
		}
	}
	if loaded < 15 {
		t.Errorf("%d programs loaded, want every example's", loaded)
	}
	t.Logf("%d programs loaded instrumented in full", loaded)
}
