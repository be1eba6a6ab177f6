package cover

import (
	"bytes"
	"testing"

	"github.com/bpffuzz/bpffuzz/bpf"
	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
)

// shortcut is the shape block coverage cannot see into:
//
//	r0 = XDP_DROP; if pkt[0] == 0x42 goto out; r0 = XDP_PASS; out: exit
//
// The condition being true reaches no block the false case misses.
func shortcut(t *testing.T) *ebpf.CollectionSpec {
	insns := asm.Instructions{
		asm.LoadMem(asm.R2, asm.R1, 0, asm.Word).WithSymbol("shortcut"),
		asm.LoadMem(asm.R3, asm.R1, 4, asm.Word),
		asm.Mov.Imm(asm.R0, 2),
		asm.Mov.Reg(asm.R4, asm.R2),
		asm.Add.Imm(asm.R4, 1),
		asm.JGT.Reg(asm.R4, asm.R3, "out"),
		asm.LoadMem(asm.R5, asm.R2, 0, asm.Byte),
		asm.Mov.Imm(asm.R0, 1),
		asm.JEq.Imm(asm.R5, 0x42, "out"),
		asm.Mov.Imm(asm.R0, 2),
		asm.Return().WithSymbol("out"),
	}
	return &ebpf.CollectionSpec{Maps: map[string]*ebpf.MapSpec{}, Programs: map[string]*ebpf.ProgramSpec{
		"shortcut": {Name: "shortcut", Type: ebpf.XDP, License: "GPL", Instructions: resolve(t, insns)},
	}}
}

// TestEdgeProbes: the two jumps into the shared exit get probes of their
// own, so the input that takes the shortcut shows new coverage; verdicts
// stay the original program's.
func TestEdgeProbes(t *testing.T) {
	plain, p := loadBoth(t, shortcut(t), "shortcut")
	if p.Fallback != "" || p.Layout.Edges != 2 || p.Layout.Probed() != 4 {
		t.Fatalf("fallback %q, %d edges, %d blocks probed; want the 2 jumps into out as edges, 4 blocks", p.Fallback, p.Layout.Edges, p.Layout.Probed())
	}
	run := func(first byte) ([]byte, uint32) {
		pkt := make([]byte, 64)
		pkt[0] = first
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
			t.Fatalf("byte %#x: instrumented returned %d, original %d", first, got.Retval, want.Retval)
		}
		return bytes.Clone(p.Cover.Hits()), got.Retval
	}
	other, r0 := run(0)
	taken, r1 := run(0x42)
	if r0 != 2 || r1 != 1 {
		t.Fatalf("verdicts %d, %d; want XDP_PASS, XDP_DROP", r0, r1)
	}
	var newEdges, newBlocks int
	for i, b := range p.Layout.Blocks {
		if taken[i] != 0 && other[i] == 0 {
			if b.Edge {
				newEdges++
			} else {
				newBlocks++
			}
		}
	}
	if a, b := p.Layout.BlocksHit(other), p.Layout.BlocksHit(taken); a != 4 || b != 3 {
		t.Errorf("BlocksHit: %d and %d, want 4 (every block) and 3 (all but the skipped one)", a, b)
	}
	if newEdges != 1 || newBlocks != 0 {
		t.Fatalf("the shortcut adds %d edges and %d blocks to the other input's coverage; want 1 edge, no block", newEdges, newBlocks)
	}
	prof := NewProfile(p.Layout)
	prof.Add(other)
	prof.Add(taken)
	if s := prof.Summary(); s.BlocksTotal != 4 || s.BlocksHit != 4 || s.EdgesTotal != 2 || s.EdgesHit != 1 {
		t.Fatalf("summary: blocks %d/%d, edges %d/%d; want 4/4, 1/2", s.BlocksHit, s.BlocksTotal, s.EdgesHit, s.EdgesTotal)
	}
}
