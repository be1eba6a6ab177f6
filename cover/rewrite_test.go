package cover

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/bpffuzz/bpffuzz/bpf"
	"github.com/bpffuzz/bpffuzz/internal/consume"
	"github.com/bpffuzz/bpffuzz/internal/kerneltest"
	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
)

var scalarRegs = []asm.Register{asm.R0, asm.R4, asm.R5, asm.R7, asm.R8, asm.R9}

// randomProgram builds a valid XDP program from fuzz decisions: straight
// ALU code on scalar registers, packet and stack loads, and forward
// conditional jumps (so it always terminates), returning a register.
func randomProgram(data []byte) asm.Instructions {
	d := consume.New(data)
	insns := asm.Instructions{
		asm.LoadMem(asm.R2, asm.R1, 0, asm.Word), // data
		asm.LoadMem(asm.R3, asm.R1, 4, asm.Word), // data_end
		asm.Mov.Reg(asm.R1, asm.R2),
		asm.Add.Imm(asm.R1, 64),
		asm.JGT.Reg(asm.R1, asm.R3, "out"),
	}
	for i, r := range scalarRegs {
		insns = append(insns, asm.Mov.Imm(r, int32(i*7)))
	}
	for off := int16(-64); off < 0; off += 8 {
		// asm.StoreImm refuses DWord; the kernel takes it (imm sign-extended).
		insns = append(insns, asm.Instruction{OpCode: asm.StoreImmOp(asm.DWord), Dst: asm.R10, Offset: off, Constant: int64(off)})
	}
	labels := 0
	n, _ := d.Intn(64)
	place := map[int][]string{}
	alu := []asm.ALUOp{asm.Add, asm.Sub, asm.Mul, asm.Div, asm.Or, asm.And, asm.LSh, asm.RSh, asm.Mod, asm.Xor, asm.Mov, asm.ArSh}
	for i := 0; i < n; i++ {
		var ins asm.Instruction
		kind, err := d.Intn(5)
		if err != nil {
			n = i
			break
		}
		dst := scalarRegs[pick(d, len(scalarRegs))]
		src := scalarRegs[pick(d, len(scalarRegs))]
		imm, _ := d.Uint32()
		op := alu[pick(d, len(alu))]
		switch kind {
		case 0:
			if op == asm.LSh || op == asm.RSh || op == asm.ArSh {
				imm %= 64
			}
			ins = op.Imm(dst, int32(imm))
		case 1:
			if op == asm.LSh || op == asm.RSh || op == asm.ArSh {
				op = asm.Add
			}
			ins = op.Reg(dst, src)
		case 2:
			ins = asm.LoadMem(dst, asm.R2, int16(imm%64), asm.Byte)
		case 3:
			ins = asm.LoadMem(dst, asm.R10, -8*int16(1+imm%8), asm.DWord)
		case 4:
			skip := 1 + pick(d, 8)
			name := "l" + string(rune('a'+labels%26)) + strings.Repeat("x", labels/26)
			labels++
			jop := []asm.JumpOp{asm.JEq, asm.JNE, asm.JGT, asm.JLT, asm.JSGE, asm.JSet}[pick(d, 6)]
			ins = jop.Imm(dst, int32(imm%300), name)
			place[i+skip] = append(place[i+skip], name)
		}
		insns = append(insns, withLabels(ins, place[i])...)
	}
	// Labels past the body land on the return.
	var tail []string
	for pos, names := range place {
		if pos >= n {
			tail = append(tail, names...)
		}
	}
	ret := asm.Mov.Reg(asm.R0, scalarRegs[pick(d, len(scalarRegs))])
	insns = append(insns, withLabels(ret, tail)...)
	insns = append(insns, asm.Return(), asm.Mov.Imm(asm.R0, 2).WithSymbol("out"), asm.Return())
	return insns
}

// withLabels gives ins the first label and puts "ja +0" carriers for the
// others in front, since an instruction holds one symbol.
func withLabels(ins asm.Instruction, names []string) asm.Instructions {
	if len(names) == 0 {
		return asm.Instructions{ins}
	}
	var out asm.Instructions
	for _, n := range names[1:] {
		out = append(out, asm.Ja.Label("").WithSymbol(n))
		out[len(out)-1].Offset = 0
	}
	return append(out, ins.WithSymbol(names[0]))
}

func pick(d *consume.Decisions, n int) int {
	v, _ := d.Intn(n)
	return v
}

// resolve turns the generator's symbolic jumps into raw offsets, as
// programs loaded from an ELF object have them.
func resolve(t testing.TB, insns asm.Instructions) asm.Instructions {
	var buf bytes.Buffer
	if err := insns.Marshal(&buf, binary.LittleEndian); err != nil {
		t.Fatal(err)
	}
	var out asm.Instructions
	for r := bytes.NewReader(buf.Bytes()); r.Len() > 0; {
		var ins asm.Instruction
		if err := ins.Unmarshal(r, binary.LittleEndian, "linux"); err != nil {
			t.Fatal(err)
		}
		out = append(out, ins)
	}
	return out
}

// FuzzInstrument is the rewriter's own fuzz test: random valid programs
// are instrumented, both versions are loaded by the kernel and run on the
// same packets, and their return values must agree while the coverage map
// records at least the entry block.
func FuzzInstrument(f *testing.F) {
	f.Add([]byte{10, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 4, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13})
	f.Add(bytes.Repeat([]byte{4, 3, 200, 1, 0, 0, 0, 0, 2}, 12))
	f.Add(bytes.Repeat([]byte{2, 1, 5, 9, 0, 3, 3, 1}, 20))
	f.Fuzz(func(t *testing.T, data []byte) {
		kerneltest.Skip(t)
		insns := resolve(t, randomProgram(data))
		spec := &ebpf.CollectionSpec{Maps: map[string]*ebpf.MapSpec{}, Programs: map[string]*ebpf.ProgramSpec{
			"fz": {Name: "fz", Type: ebpf.XDP, License: "GPL", Instructions: insns},
		}}
		orig, err := bpf.LoadSpec(spec, "fz", nil)
		if err != nil {
			var le *bpf.LoadError
			if errors.As(err, &le) {
				return // the generator made something the verifier refuses
			}
			t.Fatal(err)
		}
		defer orig.Close()
		inst, err := LoadSpec(spec, "fz", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer inst.Close()
		if inst.Fallback != "" {
			t.Fatalf("instrumented program rejected: %s\n%v", inst.Fallback, insns)
		}
		for i, pkt := range packets(uint64(len(data)), 8) {
			if len(pkt) < 64 {
				pkt = append(pkt, make([]byte, 64-len(pkt))...)
			}
			want, err1 := orig.Run(bpf.Input{Packet: pkt})
			inst.Cover.Reset()
			got, err2 := inst.Run(bpf.Input{Packet: pkt})
			if err1 != nil || err2 != nil {
				t.Fatalf("run: %v / %v", err1, err2)
			}
			if got.Retval != want.Retval {
				t.Fatalf("packet %d: instrumented retval %d, original %d\n%v", i, got.Retval, want.Retval, insns)
			}
			if inst.Cover.Hits()[0] != 1 {
				t.Fatalf("entry block not recorded")
			}
		}
	})
}

func TestRandomProgramsLoad(t *testing.T) {
	kerneltest.Skip(t)
	loaded := 0
	for i := range 200 {
		data := make([]byte, 400)
		for j := range data {
			data[j] = byte(i*131 + j*17 + j*j)
		}
		spec := &ebpf.CollectionSpec{Maps: map[string]*ebpf.MapSpec{}, Programs: map[string]*ebpf.ProgramSpec{
			"fz": {Name: "fz", Type: ebpf.XDP, License: "GPL", Instructions: resolve(t, randomProgram(data))},
		}}
		if p, err := bpf.LoadSpec(spec, "fz", nil); err == nil {
			loaded++
			p.Close()
		}
	}
	if loaded < 150 {
		t.Errorf("only %d of 200 generated programs pass the verifier: the rewriter fuzz test would test little", loaded)
	}
}
