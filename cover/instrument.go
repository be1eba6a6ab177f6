package cover

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

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
	// Unprobed counts blocks that got no probe (Light mode, or no free
	// register and no room to spill one).
	Unprobed int `json:"unprobed"`
	// Spilled counts probes that save and restore a live register through
	// the stack, and needDepth the blocks that wanted such a probe but
	// were instrumented without the functions' stack depths.
	Spilled int `json:"spilled"`
	// Edges counts the entries of Blocks that are branch edges (see
	// Block.Edge), not blocks.
	Edges     int `json:"edges"`
	needDepth int
}

// Region is a program's range of block IDs, [Base, Base+Len).
type Region struct {
	Base int `json:"base"`
	Len  int `json:"len"`
}

// Probed returns how many blocks carry a probe (edges left out).
func (l *Layout) Probed() int { return len(l.Blocks) - l.Unprobed - l.Edges }

// BlocksHit counts the blocks (not edges) whose byte is set in hits.
func (l *Layout) BlocksHit(hits []byte) int {
	n := 0
	for i, h := range hits[:min(len(hits), len(l.Blocks))] {
		if h != 0 && !l.Blocks[i].Edge {
			n++
		}
	}
	return n
}

// Instrument rewrites the named programs of spec in place and adds the
// coverage map (an mmapable array of one value, a byte per block) as
// MapName. Programs are numbered in the order given. A block where every
// register is live gets no probe; see InstrumentStack.
func Instrument(spec *ebpf.CollectionSpec, programs []string, mode Mode) (*Layout, error) {
	return InstrumentStack(spec, programs, mode, nil)
}

// InstrumentStack is Instrument with each program's stack depths, per
// function in instruction order, as the verifier reports them ("stack depth
// 16+8" with BPF_LOG_STATS; see StackDepths). A block where every register
// is live then gets a probe that spills a register to a slot just below the
// function's stack, as long as the function's stack stays within 512
// bytes.
func InstrumentStack(spec *ebpf.CollectionSpec, programs []string, mode Mode, depths map[string][]int) (*Layout, error) {
	if _, ok := spec.Maps[MapName]; ok {
		return nil, fmt.Errorf("collection is already instrumented (has map %s)", MapName)
	}
	l := &Layout{Mode: mode, Regions: map[string]Region{}}
	for _, name := range programs {
		ps := spec.Programs[name]
		if ps == nil {
			return nil, fmt.Errorf("instrument: no program %s (have %v)", name, slices.Sorted(maps.Keys(spec.Programs)))
		}
		insns, blocks, err := instrumentProgram(ps.Instructions, len(l.Blocks), mode, depths[name])
		if err != nil {
			return nil, fmt.Errorf("%w %s: %w", errInstrument, name, err)
		}
		ps.Instructions = insns
		l.Regions[name] = Region{Base: len(l.Blocks), Len: len(blocks)}
		for _, b := range blocks {
			if b.Edge {
				l.Edges++
			}
			if b.Spilled {
				l.Spilled++
			}
			if b.needDepth {
				l.needDepth++
			}
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
// (see the package doc) and the block list, IDs starting at base. depths
// are the stack depths of insns' functions (nil: unknown, no spills).
func instrumentProgram(insns asm.Instructions, base int, mode Mode, depths []int) (asm.Instructions, []Block, error) {
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
	if len(depths) != len(g.funcs) {
		depths = nil // not this program's functions: no spills
	}

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

	edges := planEdges(g, insns, live, mode)
	edgeID := base + len(g.blocks)
	for _, e := range edges {
		targeted[e.to] = true // a fall-through edge's probe jumps there
	}

	out := make(asm.Instructions, 0, len(insns)+3*len(g.blocks)+4*len(edges))
	blocks := make([]Block, len(g.blocks), len(g.blocks)+len(edges))
	var trampolines asm.Instructions // taken edges of the current function
	edgeBlock := func(e edge, id int) Block {
		b := g.blocks[e.from]
		return Block{ID: id, Func: g.funcs[b.fn].name, Start: b.end - 1, End: b.end, Probed: true, Edge: true, Taken: e.taken}
	}
	for bi, b := range g.blocks {
		id := base + bi
		blocks[bi] = Block{ID: id, Func: g.funcs[b.fn].name, Start: b.start, End: b.end, Lines: lines(src, b.start, b.end)}
		first := insns[b.start]
		var head asm.Instructions
		if r, ok := freeReg(live[bi]); ok && probe[bi] {
			head = setByte(r, id)
			blocks[bi].Probed = true
		} else if probe[bi] && depths == nil {
			blocks[bi].needDepth = true
		} else if slot, ok := spillSlot(depths, b.fn); probe[bi] && ok {
			// R9 is saved in its own 8-byte slot: an 8-byte spill keeps
			// the verifier's full knowledge of the register (pointer,
			// bounds), so the rest of the block verifies as before.
			head = asm.Instructions{
				asm.StoreMem(asm.R10, slot, asm.R9, asm.DWord),
				asm.LoadMapValue(asm.R9, 0, uint32(id)).WithReference(MapName),
				asm.StoreImm(asm.R9, 0, 1, asm.Byte),
				asm.LoadMem(asm.R9, asm.R10, slot, asm.DWord),
			}
			blocks[bi].Probed, blocks[bi].Spilled = true, true
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
		// Rewrite the block's jump, if any, to reference its target (or the
		// probe of the edge to it).
		var fall asm.Instructions
		if last := &body[len(body)-1]; isBranch(*last) {
			target := label(b.succ[0])
			if e, ok := edges[edgeKey{bi, true}]; ok {
				sym := fmt.Sprintf("bpffuzz_e%d", edgeID)
				tp := setByte(e.reg, edgeID)
				tp[0] = tp[0].WithSymbol(sym)
				trampolines = append(trampolines, tp...)
				trampolines = append(trampolines, asm.Ja.Label(target))
				blocks = append(blocks, edgeBlock(e, edgeID))
				edgeID++
				target = sym
			}
			*last = last.WithReference(target)
			if last.OpCode.JumpOp() == asm.Ja && last.OpCode.Class() == asm.Jump32Class {
				last.Constant = -1
			} else {
				last.Offset = -1
			}
			if e, ok := edges[edgeKey{bi, false}]; ok {
				// The probe ends in a jump to the next block, which it
				// would reach anyway: a loop header reached by falling
				// through a plain instruction is a back-edge 6.1's verifier
				// rejects ("back-edge from insn"), one reached by a jump
				// is a loop it accepts.
				fall = append(setByte(e.reg, edgeID), asm.Ja.Label(label(e.to)))
				blocks = append(blocks, edgeBlock(e, edgeID))
				edgeID++
			}
		}
		out = append(out, head...)
		out = append(out, body...)
		out = append(out, fall...)
		if bi+1 == len(g.blocks) || g.blocks[bi+1].fn != b.fn {
			// Taken edges' probes go after the function's last block,
			// which ends in an exit or a jump: only their jumps reach them.
			out = append(out, trampolines...)
			trampolines = trampolines[:0]
		}
	}
	if err := checkJumps(out); err != nil {
		return nil, nil, err
	}
	return out, blocks, nil
}

// edgeKey names an edge out of a block ending in a conditional jump: the
// jump taken, or not taken (falling through).
type edgeKey struct {
	from  int
	taken bool
}

type edge struct {
	from, to int
	taken    bool
	reg      asm.Register
}

// planEdges picks the edges that get a probe of their own (Full mode): the
// critical ones, out of a conditional jump into a block that other paths
// reach too. Block probes cannot tell such an edge apart from the other
// ways into its target: in
//
//	r0 = 7; if r1 == 8443 goto out; r0 = 2; out: exit
//
// the condition being true adds no block, only the edge to out. Other edges
// are implied by the block they lead to. An edge gets a probe only when a
// register is free at its target's entry: edges never spill.
func planEdges(g *cfg, insns asm.Instructions, live []regs, mode Mode) map[edgeKey]edge {
	if mode != Full {
		return nil
	}
	preds := make([]int, len(g.blocks))
	for _, fn := range g.funcs {
		preds[g.blockAt[fn.start]]++ // entered by a call or the kernel
	}
	for _, b := range g.blocks {
		for _, s := range b.succ {
			preds[s]++
		}
	}
	edges := map[edgeKey]edge{}
	for bi, b := range g.blocks {
		last := insns[b.end-1]
		if !isBranch(last) || len(b.succ) != 2 || b.succ[0] == b.succ[1] {
			continue
		}
		for i, taken := range []bool{true, false} {
			to := b.succ[i]
			if preds[to] < 2 {
				continue
			}
			if r, ok := freeReg(live[to]); ok {
				edges[edgeKey{bi, taken}] = edge{from: bi, to: to, taken: taken, reg: r}
			}
		}
	}
	return edges
}

// setByte is a probe: it sets coverage byte id through r.
func setByte(r asm.Register, id int) asm.Instructions {
	return asm.Instructions{
		asm.LoadMapValue(r, 0, uint32(id)).WithReference(MapName),
		asm.StoreImm(r, 0, 1, asm.Byte),
	}
}

// spillSlot is the stack offset of the 8-byte spill slot just below the
// stack of function fn, if it is known and the slot fits in 512 bytes.
func spillSlot(depths []int, fn int) (int16, bool) {
	if fn >= len(depths) {
		return 0, false
	}
	depth := depths[fn]
	off := (depth+7)&^7 + 8
	if depth < 0 || off > 512 {
		return 0, false
	}
	return int16(-off), true
}

// StackDepths parses the per-function stack depths from a verifier log
// with BPF_LOG_STATS ("stack depth 16+0+8"), in instruction order.
func StackDepths(log string) ([]int, bool) {
	const key = "stack depth "
	i := strings.LastIndex(log, key)
	if i < 0 {
		return nil, false
	}
	line, _, _ := strings.Cut(log[i+len(key):], "\n")
	var out []int
	for _, f := range strings.Split(strings.TrimSpace(line), "+") {
		n, err := strconv.Atoi(f)
		if err != nil || n < 0 {
			return nil, false
		}
		out = append(out, n)
	}
	return out, true
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
