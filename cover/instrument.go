package cover

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
)

// MapName is the name of the coverage map Instrument adds to a collection.
const MapName = "bpffuzz_cover"

// Mode selects how many blocks get a probe.
type Mode int

const (
	// Full probes every basic block.
	Full Mode = iota
	// Light probes only the blocks a conditional jump leads to (both
	// outcomes of every branch), for programs near the verifier's limits.
	Light
)

func (m Mode) String() string {
	if m == Light {
		return "light"
	}
	return "full"
}

// Layout describes an instrumented collection: which coverage byte is
// which block.
type Layout struct {
	Mode Mode `json:"mode"`
	// Blocks are all blocks of all instrumented programs, indexed by ID.
	Blocks []Block `json:"blocks"`
	// Regions maps each instrumented program to its blocks: a tail-called
	// program has a region of its own in the same map.
	Regions map[string]Region `json:"regions"`
	// Unprobed counts blocks that got no probe (no free register, or Light
	// mode).
	Unprobed int `json:"unprobed"`
}

// Region is a program's range of block IDs, [Base, Base+Len).
type Region struct {
	Base int `json:"base"`
	Len  int `json:"len"`
}

// Probed returns how many blocks carry a probe.
func (l *Layout) Probed() int { return len(l.Blocks) - l.Unprobed }

// Instrument rewrites the named programs of spec in place and adds the
// coverage map (an mmapable array of one value, a byte per block) as
// MapName. Programs are numbered in the order given.
func Instrument(spec *ebpf.CollectionSpec, programs []string, mode Mode) (*Layout, error) {
	if _, ok := spec.Maps[MapName]; ok {
		return nil, fmt.Errorf("collection is already instrumented (has map %s)", MapName)
	}
	l := &Layout{Mode: mode, Regions: map[string]Region{}}
	for _, name := range programs {
		ps := spec.Programs[name]
		if ps == nil {
			return nil, fmt.Errorf("instrument: no program %s (have %v)", name, slices.Sorted(maps.Keys(spec.Programs)))
		}
		insns, blocks, err := instrumentProgram(ps.Instructions, len(l.Blocks), mode)
		if err != nil {
			return nil, fmt.Errorf("%w %s: %w", errInstrument, name, err)
		}
		ps.Instructions = insns
		l.Regions[name] = Region{Base: len(l.Blocks), Len: len(blocks)}
		for _, b := range blocks {
			if !b.Probed {
				l.Unprobed++
			}
		}
		l.Blocks = append(l.Blocks, blocks...)
	}
	size := max(len(l.Blocks), 1)
	spec.Maps[MapName] = &ebpf.MapSpec{
		Name:       "bpffuzz_cov",
		Type:       ebpf.Array,
		KeySize:    4,
		ValueSize:  uint32((size + 7) &^ 7),
		MaxEntries: 1,
		Flags:      1 << 10, // BPF_F_MMAPABLE
	}
	return l, nil
}

// errTooFar is a jump that no longer fits its 16-bit offset after probes
// were inserted.
var errTooFar = errors.New("a jump is too far after instrumentation")

// instrumentProgram returns insns with a probe at the start of every block
// (see the package doc) and the block list, IDs starting at base.
func instrumentProgram(insns asm.Instructions, base int, mode Mode) (asm.Instructions, []Block, error) {
	for _, ins := range insns {
		if ins.IsLoadFromMap() && ins.Reference() == MapName {
			return nil, nil, fmt.Errorf("program is already instrumented")
		}
	}
	g, err := buildCFG(insns)
	if err != nil {
		return nil, nil, err
	}
	live := g.liveIn()
	src := lineOf(insns)

	probe := make([]bool, len(g.blocks))
	if mode == Light {
		for _, b := range g.blocks {
			last := insns[b.end-1]
			if last.OpCode.Class().IsJump() && len(b.succ) == 2 {
				probe[b.succ[0]], probe[b.succ[1]] = true, true
			}
		}
	} else {
		for i := range probe {
			probe[i] = true
		}
	}

	// Labels for jump targets: the target block's first emitted instruction
	// carries the symbol (its function's name at a function start).
	label := func(bi int) string {
		if s := insns[g.blocks[bi].start].Symbol(); s != "" {
			return s
		}
		return fmt.Sprintf("bpffuzz_b%d", base+bi)
	}
	targeted := make([]bool, len(g.blocks))
	for _, b := range g.blocks {
		last := insns[b.end-1]
		if isBranch(last) {
			targeted[b.succ[0]] = true
		}
	}

	out := make(asm.Instructions, 0, len(insns)+3*len(g.blocks))
	blocks := make([]Block, len(g.blocks))
	for bi, b := range g.blocks {
		id := base + bi
		blocks[bi] = Block{ID: id, Func: g.funcs[b.fn].name, Start: b.start, End: b.end, Lines: lines(src, b.start, b.end)}
		first := insns[b.start]
		var head asm.Instructions
		if r, ok := freeReg(live[bi]); ok && probe[bi] {
			head = asm.Instructions{
				asm.LoadMapValue(r, 0, uint32(id)).WithReference(MapName),
				asm.StoreImm(r, 0, 1, asm.Byte),
			}
			blocks[bi].Probed = true
		}
		body := slices.Clone(insns[b.start:b.end])
		if len(head) > 0 {
			// The probe becomes the block's entry: it takes the symbol, the
			// BTF func info and (at function starts) the line info.
			if fn := btf.FuncMetadata(&first); fn != nil {
				head[0] = btf.WithFuncMetadata(head[0], fn)
				body[0] = btf.WithFuncMetadata(body[0], nil)
			}
			if first.Symbol() != "" {
				head[0] = head[0].WithSymbol(first.Symbol())
				body[0] = body[0].WithSymbol("")
				if src := first.Source(); src != nil {
					head[0] = head[0].WithSource(src)
				}
			}
		}
		if targeted[bi] && first.Symbol() == "" {
			if len(head) > 0 {
				head[0] = head[0].WithSymbol(label(bi))
			} else {
				body[0] = body[0].WithSymbol(label(bi))
			}
		}
		// Rewrite the block's jump, if any, to reference its target.
		if last := &body[len(body)-1]; isBranch(*last) {
			*last = last.WithReference(label(b.succ[0]))
			if last.OpCode.JumpOp() == asm.Ja && last.OpCode.Class() == asm.Jump32Class {
				last.Constant = -1
			} else {
				last.Offset = -1
			}
		}
		out = append(out, head...)
		out = append(out, body...)
	}
	if err := checkJumps(out); err != nil {
		return nil, nil, err
	}
	return out, blocks, nil
}

// isBranch reports whether ins is a jump with a target in its function
// (not a call or exit).
func isBranch(ins asm.Instruction) bool {
	if !ins.OpCode.Class().IsJump() {
		return false
	}
	op := ins.OpCode.JumpOp()
	return op != asm.Call && op != asm.Exit
}

// checkJumps verifies that every symbolic jump still fits its 16-bit
// offset once laid out.
func checkJumps(insns asm.Instructions) error {
	sym := map[string]asm.RawInstructionOffset{}
	iter := insns.Iterate()
	for iter.Next() {
		if s := iter.Ins.Symbol(); s != "" {
			sym[s] = iter.Offset
		}
	}
	iter = insns.Iterate()
	for iter.Next() {
		ins := iter.Ins
		if !isBranch(*ins) || ins.Reference() == "" {
			continue
		}
		t, ok := sym[ins.Reference()]
		if !ok {
			return fmt.Errorf("jump to unknown label %s", ins.Reference())
		}
		d := int64(t) - int64(iter.Offset) - 1
		if d < math.MinInt16 || d > math.MaxInt16 {
			if !(ins.OpCode.JumpOp() == asm.Ja && ins.OpCode.Class() == asm.Jump32Class) {
				return fmt.Errorf("%w (instruction %d, %d slots)", errTooFar, iter.Index, d)
			}
		}
	}
	return nil
}
