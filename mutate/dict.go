package mutate

import (
	"encoding/binary"
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
	return d
}
