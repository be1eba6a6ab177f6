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
// program's own state is untouched. Where no register is dead the probe
// saves R9 in a slot below the function's stack and restores it (see
// [InstrumentStack]); where that does not fit either, the block is left
// without a probe (reported in [Layout.Unprobed]).
//
// Critical branch edges get probes too: a conditional jump into a block
// that other paths also reach (typically a shared exit, as in
// "r0 = 7; if x == C goto out; r0 = 2; out: exit") would otherwise show
// nothing new when its condition becomes true. The taken side's probe is
// a stub after the function's last block that jumps on to the target; the
// fall-through side's sits between the jump and the next block. These
// entries of [Layout.Blocks] have [Block.Edge] set and are counted apart
// from blocks. Jumps are rewritten
// symbolically so cilium/ebpf recomputes their offsets; function symbols,
// BTF func info and line info move to the new first instruction.
//
// Reading coverage costs no syscall: the map is mapped into the process, so
// [Map.Hits] is a slice over kernel memory that [Map.Reset] clears.
package cover
