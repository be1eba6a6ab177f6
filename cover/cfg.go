package cover

import (
	"fmt"
	"slices"

	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
)

// Block is one basic block of a program.
type Block struct {
	// ID is the block's index in the coverage map, unique within a Layout.
	ID int `json:"id"`
	// Func is the name of the function (the program or a bpf-to-bpf
	// subprogram) the block belongs to.
	Func string `json:"func"`
	// Start and End are the block's instructions as indices into the
	// original program's instruction list, End exclusive.
	Start int `json:"start"`
	End   int `json:"end"`
	// Lines are the source lines of the block's instructions, from BTF line
	// info, in instruction order without repeats.
	Lines []Line `json:"lines,omitempty"`
	// Probed is false when the block has no probe: Light mode skips it, or
	// no register was free and the stack had no room for a spill.
	Probed bool `json:"probed"`
	// Spilled is true when the probe borrows a live register, saved in a
	// stack slot below the function's own stack and restored after.
	Spilled bool `json:"spilled,omitempty"`
	// Edge marks the probe of a branch edge rather than a block: the
	// conditional jump ending the block at Start (End is Start+1) taken or
	// not, into a block other paths reach too. Edges have no lines; block
	// counts leave them out.
	Edge bool `json:"edge,omitempty"`
	// Taken says which edge: the jump taken (true) or falling through.
	Taken bool `json:"taken,omitempty"`

	needDepth bool // wanted a spill, but the stack depths were unknown
}

// Line is a source location from BTF line info.
type Line struct {
	File string `json:"file"`
	Line int    `json:"line"`
	// Text is the source line as BTF recorded it.
	Text string `json:"-"`
}

// function is a contiguous range of a program's instructions.
type function struct {
	name       string
	start, end int // instruction indices, end exclusive
}

// cfg is the control-flow graph of one program (all its functions).
type cfg struct {
	insns  asm.Instructions
	raw    []asm.RawInstructionOffset // raw offset of each instruction
	funcs  []function
	blocks []block
	// blockAt maps an instruction index to the block starting there.
	blockAt map[int]int
}

type block struct {
	fn         int
	start, end int
	succ       []int // successor block indices within the same function
}

// buildCFG splits insns into functions (at instructions carrying a symbol,
// which is how cilium/ebpf marks the program and its subprograms) and basic
// blocks (at jump targets, after jumps and exits).
func buildCFG(insns asm.Instructions) (*cfg, error) {
	g := &cfg{insns: insns, raw: make([]asm.RawInstructionOffset, len(insns)), blockAt: map[int]int{}}
	byRaw := map[asm.RawInstructionOffset]int{}
	var off asm.RawInstructionOffset
	for i := range insns {
		g.raw[i] = off
		byRaw[off] = i
		off += asm.RawInstructionOffset(insns[i].Width())
	}
	for i, ins := range insns {
		if i == 0 || ins.Symbol() != "" {
			if n := len(g.funcs); n > 0 {
				g.funcs[n-1].end = i
			}
			name := ins.Symbol()
			if name == "" {
				name = "main"
			}
			g.funcs = append(g.funcs, function{name: name, start: i})
		}
	}
	if len(g.funcs) == 0 {
		return nil, fmt.Errorf("empty program")
	}
	g.funcs[len(g.funcs)-1].end = len(insns)

	// Leaders: function starts, jump targets, instructions after a jump or exit.
	leader := make([]bool, len(insns)+1)
	targets := make([]int, len(insns)) // -1: none
	for fi, fn := range g.funcs {
		leader[fn.start] = true
		for i := fn.start; i < fn.end; i++ {
			targets[i] = -1
			ins := insns[i]
			if !ins.OpCode.Class().IsJump() {
				continue
			}
			op := ins.OpCode.JumpOp()
			if op == asm.Call || op == asm.Exit {
				if op == asm.Exit {
					leader[i+1] = true
				}
				continue
			}
			delta := int64(ins.Offset)
			if op == asm.Ja && ins.OpCode.Class() == asm.Jump32Class {
				delta = ins.Constant // gotol
			}
			t, ok := byRaw[asm.RawInstructionOffset(int64(g.raw[i])+1+delta)]
			if !ok || t < fn.start || t >= fn.end {
				return nil, fmt.Errorf("function %s: jump at instruction %d leaves the function or lands inside an instruction", g.funcs[fi].name, i)
			}
			if ins.Reference() != "" {
				return nil, fmt.Errorf("function %s: instruction %d is a symbolic jump; instrument programs as loaded from an object", g.funcs[fi].name, i)
			}
			targets[i] = t
			leader[t] = true
			leader[i+1] = true
		}
	}
	for fi, fn := range g.funcs {
		for i := fn.start; i < fn.end; {
			j := i + 1
			for j < fn.end && !leader[j] {
				j++
			}
			g.blockAt[i] = len(g.blocks)
			g.blocks = append(g.blocks, block{fn: fi, start: i, end: j})
			i = j
		}
	}
	for bi := range g.blocks {
		b := &g.blocks[bi]
		last := insns[b.end-1]
		fallthrough_ := true
		if last.OpCode.Class().IsJump() {
			switch op := last.OpCode.JumpOp(); {
			case op == asm.Exit:
				fallthrough_ = false
			case op == asm.Call:
			default:
				b.succ = append(b.succ, g.blockAt[targets[b.end-1]])
				fallthrough_ = op != asm.Ja
			}
		}
		if fallthrough_ && b.end < g.funcs[b.fn].end {
			b.succ = append(b.succ, g.blockAt[b.end])
		}
	}
	return g, nil
}

// lineOf gives every instruction its source line: BTF line info marks
// only the instruction where a line starts, and holds until the next mark.
func lineOf(insns asm.Instructions) []*btf.Line {
	out := make([]*btf.Line, len(insns))
	var cur *btf.Line
	for i, ins := range insns {
		if l, ok := ins.Source().(*btf.Line); ok {
			cur = l
		}
		if ins.Symbol() != "" && insns[i].Source() == nil {
			cur = nil // a new function starts without line info
		}
		out[i] = cur
	}
	return out
}

// lines collects the source lines of instructions [start, end).
func lines(src []*btf.Line, start, end int) []Line {
	var out []Line
	for i := start; i < end; i++ {
		l := src[i]
		if l == nil {
			continue
		}
		ln := Line{File: l.FileName(), Line: int(l.LineNumber()), Text: l.Line()}
		if slices.ContainsFunc(out, func(o Line) bool { return o.File == ln.File && o.Line == ln.Line }) {
			continue
		}
		out = append(out, ln)
	}
	return out
}
