// Package bpf loads eBPF programs and runs them through the kernel's
// BPF_PROG_RUN command with typed input contexts.
//
// A [Program] is loaded once from an ELF object ([Load]), a
// [*ebpf.CollectionSpec] ([LoadSpec]) or a single [*ebpf.ProgramSpec]
// ([LoadProgramSpec]). [Options] set global variables, fill maps, wire
// PROG_ARRAY maps for tail calls and override the program type before the
// program reaches the verifier.
//
// [Program.Run] issues BPF_PROG_RUN itself (not through cilium/ebpf's
// Program.Run) with a reused attribute and output buffers sized to the
// kernel's maxima, so the harness never causes ENOSPC. Contexts are
// validated against the kernel's rules before the syscall: a context the
// kernel would reject is reported as an [*InputError] naming the field.
//
// [Program.RunLive] runs XDP programs in live frame mode
// (BPF_F_TEST_XDP_LIVE_FRAMES), where the kernel carries out the verdicts;
// [LiveCounters] count what it did. Package live runs it in a throwaway
// network namespace.
//
// Kernel needs: Linux 5.10 or newer for most program types, run as root or
// with CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON. Rules that changed between
// kernel releases (XDP metadata limit, short IP frames, checksum-complete
// flag) are probed once per process, see [Probe].
//
// Package bpf reads no environment variables.
package bpf
