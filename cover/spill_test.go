package cover

import (
	"testing"

	"github.com/bpffuzz/bpffuzz/bpf"
	"github.com/bpffuzz/bpffuzz/internal/kerneltest"
	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
)

// allLive builds an XDP program with blocks where R0-R9 are all live: it
// puts the first packet byte in R9 and on the stack, sets R0-R8, branches
// on R9, and sums every register (and the stack slot) on both sides.
func allLive(t *testing.T) *ebpf.CollectionSpec {
	insns := asm.Instructions{
		asm.LoadMem(asm.R2, asm.R1, 0, asm.Word).WithSymbol("all_live"),
		asm.LoadMem(asm.R3, asm.R1, 4, asm.Word),
		asm.Mov.Imm(asm.R0, 0),
		asm.Mov.Reg(asm.R4, asm.R2),
		asm.Add.Imm(asm.R4, 1),
		asm.JGT.Reg(asm.R4, asm.R3, "out"),
		asm.LoadMem(asm.R9, asm.R2, 0, asm.Byte),
		asm.StoreMem(asm.RFP, -8, asm.R9, asm.DWord),
	}
	for r := asm.R0; r <= asm.R8; r++ {
		insns = append(insns, asm.Mov.Imm(r, int32(r)+1))
	}
	sum := func() asm.Instructions {
		var s asm.Instructions
		for r := asm.R1; r <= asm.R9; r++ {
			s = append(s, asm.Add.Reg(asm.R0, r))
		}
		return s
	}
	insns = append(insns, asm.JGT.Imm(asm.R9, 127, "high"))
	insns = append(insns, sum()...) // every register live here
	insns = append(insns, asm.Ja.Label("tail"))
	insns = append(insns, asm.Add.Imm(asm.R0, 1).WithSymbol("high"))
	insns = append(insns, sum()...)
	insns = append(insns, sum()...)
	tail := append(sum(), asm.LoadMem(asm.R6, asm.RFP, -8, asm.DWord), asm.Add.Reg(asm.R0, asm.R6), asm.And.Imm(asm.R0, 3), asm.Return())
	tail[0] = tail[0].WithSymbol("tail")
	insns = append(insns, tail...)
	insns = append(insns, asm.Return().WithSymbol("out"))
	return &ebpf.CollectionSpec{Maps: map[string]*ebpf.MapSpec{}, Programs: map[string]*ebpf.ProgramSpec{
		"all_live": {Name: "all_live", Type: ebpf.XDP, License: "GPL", Instructions: resolve(t, insns)},
	}}
}

// loadBoth loads a one-program spec as it is and instrumented, closed at
// the end of the test.
func loadBoth(t *testing.T, spec *ebpf.CollectionSpec, name string) (*bpf.Program, *Program) {
	t.Helper()
	kerneltest.Skip(t)
	plain, err := bpf.LoadSpec(spec, name, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { plain.Close() })
	p, err := LoadSpec(spec, name, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return plain, p
}

// TestSpillWhenNoRegisterFree: blocks with every register live get a probe
// that spills R9 below the program's stack; the program computes the same
// results, and those blocks are recorded.
func TestSpillWhenNoRegisterFree(t *testing.T) {
	plain, p := loadBoth(t, allLive(t), "all_live")
	if p.Fallback != "" || p.Layout.Unprobed != 0 || p.Layout.Spilled == 0 {
		t.Fatalf("fallback %q, %d unprobed, %d spilled; want every block probed, some spilled", p.Fallback, p.Layout.Unprobed, p.Layout.Spilled)
	}
	var spilled []int
	for _, b := range p.Layout.Blocks {
		if b.Spilled {
			spilled = append(spilled, b.ID)
		}
	}
	seen := map[int]bool{}
	for v := range 256 {
		pkt := make([]byte, 64)
		pkt[0] = byte(v)
		want, err := plain.Run(bpf.Input{Packet: pkt})
		if err != nil {
			t.Fatal(err)
		}
		p.Cover.Reset()
		got, err := p.Run(bpf.Input{Packet: pkt})
		if err != nil {
			t.Fatal(err)
		}
		if got.Retval != want.Retval {
			t.Fatalf("byte %d: instrumented returns %d, original %d", v, got.Retval, want.Retval)
		}
		for _, id := range spilled {
			if p.Cover.Hits()[id] != 0 {
				seen[id] = true
			}
		}
	}
	if len(seen) != len(spilled) {
		t.Errorf("spilled blocks %v, recorded %v: every one should be hit by some input", spilled, seen)
	}
	t.Logf("%d blocks, %d with a spilled probe", len(p.Layout.Blocks), p.Layout.Spilled)
}

func TestStackDepths(t *testing.T) {
	for _, c := range []struct {
		log  string
		want []int
	}{
		{"verification time 360 usec\nstack depth 0+0+0\nprocessed 179 insns", []int{0, 0, 0}},
		{"stack depth 16\n", []int{16}},
		{"stack depth 8+504", []int{8, 504}},
		{"no stats here", nil},
		{"stack depth x+1", nil},
	} {
		got, ok := StackDepths(c.log)
		if ok != (c.want != nil) || len(got) != len(c.want) {
			t.Errorf("%q: %v %v, want %v", c.log, got, ok, c.want)
			continue
		}
		for i := range got {
			if got[i] != c.want[i] {
				t.Errorf("%q: %v, want %v", c.log, got, c.want)
			}
		}
	}
	for _, c := range []struct {
		depth int
		slot  int16
		ok    bool
	}{{0, -8, true}, {1, -16, true}, {8, -16, true}, {500, -512, true}, {504, -512, true}, {505, 0, false}} {
		slot, ok := spillSlot([]int{c.depth}, 0)
		if slot != c.slot || ok != c.ok {
			t.Errorf("depth %d: slot %d %v, want %d %v", c.depth, slot, ok, c.slot, c.ok)
		}
	}
}
