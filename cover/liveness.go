package cover

import "github.com/cilium/ebpf/asm"

// regs is a set of registers R0..R10 as a bit mask.
type regs uint16

func reg(r asm.Register) regs { return 1 << r }

const (
	argRegs    = regs(1<<asm.R1 | 1<<asm.R2 | 1<<asm.R3 | 1<<asm.R4 | 1<<asm.R5)
	callerRegs = argRegs | 1<<asm.R0
	allRegs    = regs(1<<11 - 1)
)

// useDef returns the registers an instruction reads and writes.
//
// Calls are taken conservatively: every helper, kfunc and bpf-to-bpf call
// reads R1-R5 and clobbers R0-R5. LD_ABS/LD_IND read R6 (the context) and
// clobber R0-R5, as the kernel defines them.
func useDef(ins asm.Instruction) (use, def regs) {
	op := ins.OpCode
	src := func() regs {
		if op.Source() == asm.RegSource {
			return reg(ins.Src)
		}
		return 0
	}
	switch cls := op.Class(); {
	case cls.IsALU():
		switch op.ALUOp() {
		case asm.Mov:
			return src(), reg(ins.Dst)
		case asm.Neg, asm.Swap:
			return reg(ins.Dst), reg(ins.Dst)
		}
		return reg(ins.Dst) | src(), reg(ins.Dst)
	case cls.IsJump():
		switch op.JumpOp() {
		case asm.Call:
			return argRegs, callerRegs
		case asm.Exit:
			return reg(asm.R0), 0
		case asm.Ja:
			return 0, 0
		}
		return reg(ins.Dst) | src(), 0
	case cls == asm.LdClass:
		switch op.Mode() {
		case asm.AbsMode:
			return reg(asm.R6), callerRegs
		case asm.IndMode:
			return reg(asm.R6) | reg(ins.Src), callerRegs
		}
		return 0, reg(ins.Dst) // ld_imm64
	case cls == asm.LdXClass:
		return reg(ins.Src), reg(ins.Dst)
	case cls == asm.StClass:
		return reg(ins.Dst), 0
	case cls == asm.StXClass:
		if op.Mode() != asm.AtomicMode {
			return reg(ins.Dst) | reg(ins.Src), 0
		}
		a := op.AtomicOp()
		switch {
		case a == asm.CmpXchg:
			return reg(ins.Dst) | reg(ins.Src) | reg(asm.R0), reg(asm.R0)
		case a&0x1_0000 != 0 && a&0xf000 == 0x0000: // load-acquire: dst = *(src + off)
			return reg(ins.Src), reg(ins.Dst)
		case a&0x1_0000 != 0: // store-release: *(dst + off) = src
			return reg(ins.Dst) | reg(ins.Src), 0
		case a&0x100 != 0: // fetch variants and xchg write the old value to src
			return reg(ins.Dst) | reg(ins.Src), reg(ins.Src)
		}
		return reg(ins.Dst) | reg(ins.Src), 0
	}
	// Unknown class: assume it reads and writes everything.
	return allRegs, allRegs
}

// liveIn computes, for every block, the registers live at its first
// instruction, by the usual backward fixed point per function.
func (g *cfg) liveIn() []regs {
	in := make([]regs, len(g.blocks))
	for changed := true; changed; {
		changed = false
		for bi := len(g.blocks) - 1; bi >= 0; bi-- {
			b := g.blocks[bi]
			var live regs
			for _, s := range b.succ {
				live |= in[s]
			}
			for i := b.end - 1; i >= b.start; i-- {
				use, def := useDef(g.insns[i])
				live = live&^def | use
			}
			if live != in[bi] {
				in[bi] = live
				changed = true
			}
		}
	}
	return in
}

// freeReg picks a register from R0-R9 that is not live, preferring the
// callee-saved R6-R9 (so the probe does not depend on call clobbering).
func freeReg(live regs) (asm.Register, bool) {
	for _, r := range []asm.Register{asm.R9, asm.R8, asm.R7, asm.R6, asm.R5, asm.R4, asm.R3, asm.R2, asm.R1, asm.R0} {
		if live&reg(r) == 0 {
			return r, true
		}
	}
	return 0, false
}
