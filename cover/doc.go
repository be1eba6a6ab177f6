// Package cover instruments BPF programs at the bytecode level so that the
// basic blocks a run takes can be read back from user space, maps the blocks
// to source lines through BTF line info, and feeds them to Go's fuzzer.
//
// Instrumentation (see [Instrument]) builds the control-flow graph of a
// program and of its bpf-to-bpf subprograms, numbers the basic blocks, and
// inserts at the start of each block two instructions that set that block's
// byte in a BPF_F_MMAPABLE array map:
//
//	rX = &cover[block]    // ld_imm64, BPF_PSEUDO_MAP_VALUE: no helper call
//	*(u8 *)(rX + 0) = 1
//
// rX is a register that liveness analysis proves dead at that point, so the
// program's own state is untouched. Where no register is dead the block is
// left without a probe (reported in [Layout.Unprobed]). Jumps are rewritten
// symbolically so cilium/ebpf recomputes their offsets; function symbols,
// BTF func info and line info move to the new first instruction.
//
// Reading coverage costs no syscall: the map is mapped into the process, so
// [Map.Hits] is a slice over kernel memory that [Map.Reset] clears.
package cover
