package mutate

import (
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/bpffuzz/bpffuzz/internal/pkt"
	"github.com/cilium/ebpf/asm"
)

// Dictionary holds values a program compares against and offsets it loads
// from, taken from its bytecode.
type Dictionary struct {
	// Values are the immediates of comparisons, as 1, 2 or 4 bytes, in
	// little- and big-endian order.
	Values [][]byte
	// Offsets are packet offsets the program loads from: LD_ABS/LD_IND
	// immediates, and (a heuristic) small offsets of byte and half-word
	// loads.
	Offsets []int
	// Fields are what the program compares with a constant right after
	// loading it: the load's offset from its pointer and the constant as
	// the bytes in memory that make the comparison come out the other way
	// (for an equality, the constant itself).
	Fields []Field
}

// Field is one loaded-and-compared field (see Dictionary.Fields).
type Field struct {
	Offset int
	Value  []byte
}

// DictionaryFrom extracts a dictionary from a program's instructions.
func DictionaryFrom(insns asm.Instructions) *Dictionary {
	d := &Dictionary{}
	seen := map[string]bool{}
	add := func(b []byte) {
		if !seen[string(b)] {
			seen[string(b)] = true
			d.Values = append(d.Values, b)
		}
	}
	offs := map[int]bool{}
	for _, ins := range insns {
		op := ins.OpCode
		switch cls := op.Class(); {
		case cls.IsJump():
			j := op.JumpOp()
			if j == asm.Call || j == asm.Exit || j == asm.Ja || op.Source() != asm.ImmSource {
				continue
			}
			v := uint32(ins.Constant)
			switch {
			case v <= 0xff:
				add([]byte{byte(v)})
				if v > 1 {
					// A 16-bit field compared in host order after a load:
					// both byte orders.
					add([]byte{byte(v), 0})
					add([]byte{0, byte(v)})
				}
			case v <= 0xffff:
				add(binary.LittleEndian.AppendUint16(nil, uint16(v)))
				add(binary.BigEndian.AppendUint16(nil, uint16(v)))
			default:
				add(binary.LittleEndian.AppendUint32(nil, v))
				add(binary.BigEndian.AppendUint32(nil, v))
			}
		case cls == asm.LdClass && (op.Mode() == asm.AbsMode || op.Mode() == asm.IndMode):
			offs[int(ins.Constant)] = true
			offs[int(ins.Constant)+pkt.EthLen] = true // the same offset seen from the Ethernet header
		case cls == asm.LdXClass && (op.Size() == asm.Byte || op.Size() == asm.Half) && ins.Offset >= 0 && ins.Offset < 128:
			offs[int(ins.Offset)] = true
		}
	}
	for o := range offs {
		d.Offsets = append(d.Offsets, o)
	}
	slices.Sort(d.Offsets)
	d.Fields = fieldsFrom(insns)
	return d
}

// loaded is what a register holds, as far as fieldsFrom follows it: a
// field loaded from memory at off, of size bytes, byte-swapped or not.
type loaded struct {
	offs    []int
	size    int
	swapped bool
	ok      bool
}

// moved is how far a register was moved from the pointers it came from,
// nearest first.
type moved [2]int64

// fieldsFrom finds fields the program loads and then compares with a
// constant, within straight-line code (what registers hold is forgotten at
// every jump target and call). Parsers test each header field this way;
// writing the constant at the field's offset from the right header is the
// mutation that takes the program past the test. A pointer moved by a
// constant (opt = hdr + 16) remembers how far it moved from the pointers
// it came from (two back): a field read through it is also tried at that
// distance more, since any of those pointers may be the header's start.
func fieldsFrom(insns asm.Instructions) []Field {
	targets := map[asm.RawInstructionOffset]bool{}
	for it := insns.Iterate(); it.Next(); {
		ins := it.Ins
		if j := ins.OpCode.JumpOp(); ins.OpCode.Class().IsJump() && j != asm.Call && j != asm.Exit {
			targets[it.Offset+1+asm.RawInstructionOffset(ins.Offset)] = true
		}
	}
	var out []Field
	seen := map[string]bool{}
	add := func(l loaded, v int64) {
		b := binary.LittleEndian.AppendUint64(nil, uint64(v))[:l.size]
		if l.swapped {
			slices.Reverse(b)
		}
		for _, off := range l.offs {
			k := fmt.Sprint(off, b)
			if !seen[k] {
				seen[k] = true
				out = append(out, Field{Offset: off, Value: b})
			}
		}
	}
	var regs [11]loaded
	var delta [11]moved
	for it := insns.Iterate(); it.Next(); {
		ins := it.Ins
		if targets[it.Offset] {
			regs, delta = [11]loaded{}, [11]moved{}
		}
		op := ins.OpCode
		dst, src := int(ins.Dst), int(ins.Src)
		if dst >= len(regs) || src >= len(regs) {
			continue
		}
		switch cls := op.Class(); {
		case cls == asm.LdXClass && op.Mode() == asm.MemMode:
			size := op.Size().Sizeof()
			l := loaded{size: size, ok: size <= 4}
			for _, d := range append([]int64{0}, delta[src][:]...) {
				if off := d + int64(ins.Offset); off >= 0 && off < 256 && !slices.Contains(l.offs, int(off)) {
					l.offs = append(l.offs, int(off))
				}
			}
			l.ok = l.ok && len(l.offs) > 0
			regs[dst], delta[dst] = l, moved{}
		case cls.IsALU():
			l, d := regs[dst], delta[dst]
			regs[dst], delta[dst] = loaded{}, moved{}
			switch {
			case op.ALUOp() == asm.Mov && op.Source() == asm.RegSource:
				regs[dst], delta[dst] = regs[src], delta[src]
			case op.ALUOp() == asm.Add && op.Source() == asm.ImmSource && cls == asm.ALU64Class:
				delta[dst] = moved{ins.Constant, d[0] + ins.Constant}
			case op.ALUOp() == asm.Swap && l.ok && int(ins.Constant) == 8*l.size:
				if op.Endianness() == asm.BE {
					l.swapped = !l.swapped
				}
				regs[dst] = l
			case op.ALUOp() == asm.And && op.Source() == asm.ImmSource && l.ok:
				add(l, ins.Constant) // every bit the test looks at set
			}
		case cls.IsJump():
			switch j := op.JumpOp(); {
			case j == asm.Call:
				for r := asm.R0; r <= asm.R5; r++ {
					regs[r], delta[r] = loaded{}, moved{}
				}
			case j == asm.Exit || j == asm.Ja || op.Source() != asm.ImmSource || !regs[dst].ok:
			case j == asm.JEq || j == asm.JNE || j == asm.JSet:
				add(regs[dst], ins.Constant)
			default: // an ordering: one side of the boundary and the other
				add(regs[dst], ins.Constant)
				add(regs[dst], ins.Constant+1)
			}
		case cls == asm.LdClass:
			regs[dst], delta[dst] = loaded{}, moved{}
		}
	}
	return out
}
