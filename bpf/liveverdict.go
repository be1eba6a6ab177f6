package bpf

import (
	"errors"
	"fmt"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
)

// verdictEpilogue is the symbol of the counting block appended to the main
// function of a verdict-counting copy.
const verdictEpilogue = "bpffuzz_count_verdict"

// verdictCopy loads a copy of p whose main function counts its return value
// in slot min(r0, 8) of m before it returns: every exit of the main function
// becomes a jump to a block that does the count and then exits with the same
// r0. Subprograms are left alone (their exits return to the caller), so are
// the jumps (an exit and a ja are one instruction each, no offset moves).
// The copy shares p's maps, so it sees and changes the same state. A verdict
// that comes from a tail-called program is not counted.
func (p *Program) verdictCopy(m *ebpf.Map) (*Program, error) {
	if p.Spec == nil || len(p.Spec.Instructions) == 0 {
		return nil, errors.New("no instructions to instrument")
	}
	spec := p.Spec.Copy()
	insns := spec.Instructions
	end := len(insns)
	for i := 1; i < len(insns); i++ {
		if insns[i].Symbol() != "" {
			end = i
			break
		}
	}
	exits := 0
	for i := 0; i < end; i++ {
		if insns[i].OpCode.JumpOp() == asm.Exit {
			insns[i] = asm.Ja.Label(verdictEpilogue).WithSource(insns[i].Source())
			exits++
		}
	}
	if exits == 0 {
		return nil, errors.New("the main function has no exit")
	}
	for i := range insns {
		if !insns[i].IsLoadFromMap() {
			continue
		}
		if mp := p.Map(insns[i].Reference()); mp != nil {
			if err := insns[i].AssociateMap(mp); err != nil {
				return nil, err
			}
		}
	}
	epilogue := asm.Instructions{
		asm.Mov.Reg(asm.R6, asm.R0).WithSymbol(verdictEpilogue),
		asm.Mov.Reg32(asm.R8, asm.R0),
		asm.JLE.Imm(asm.R8, otherVerdictSlot, verdictEpilogue+"_slot"),
		asm.Mov.Imm(asm.R8, otherVerdictSlot),
		asm.Mov.Imm(asm.R0, 0).WithSymbol(verdictEpilogue + "_slot"),
	}
	epilogue = append(epilogue, addSlot(m, -1, nil)...)
	epilogue = append(epilogue, asm.Mov.Reg(asm.R0, asm.R6), asm.Return())
	out := make(asm.Instructions, 0, len(insns)+len(epilogue))
	out = append(out, insns[:end]...)
	out = append(out, epilogue...)
	out = append(out, insns[end:]...)
	spec.Instructions = out
	prog, err := ebpf.NewProgramWithOptions(spec, ebpf.ProgramOptions{})
	if err != nil {
		return nil, loadError(spec.Name, err)
	}
	kind, _ := classify(spec.Type, spec.AttachType)
	return &Program{Name: p.Name, Type: p.Type, AttachType: p.AttachType, Spec: p.Spec,
		prog: prog, kind: kind, run: newRunner(kind)}, nil
}

// attachVerdictCopy counts verdicts with an instrumented copy of p, for
// kernels or hosts where fexit programs cannot be loaded.
func (c *LiveCounters) attachVerdictCopy(p *Program) error {
	m, err := counterMap("bpffuzz_verdict", numVerdictSlots)
	if err != nil {
		return fmt.Errorf("verdicts not counted: %w", permission(err))
	}
	cp, err := p.verdictCopy(m)
	if err != nil {
		m.Close()
		return fmt.Errorf("verdicts not counted (instrumented copy of %s): %w", p.Name, err)
	}
	c.verdicts, c.copy, c.Target = m, cp, cp
	return nil
}
