package bpf

import (
	"fmt"

	"github.com/cilium/ebpf"
)

// runKind groups program types by the test_run handler the kernel uses,
// which decides what an input looks like.
type runKind int

const (
	kindNone    runKind = iota // no test_run op
	kindSKB                    // bpf_prog_test_run_skb
	kindXDP                    // bpf_prog_test_run_xdp
	kindFlow                   // bpf_prog_test_run_flow_dissector
	kindSKLook                 // bpf_prog_test_run_sk_lookup
	kindRawTP                  // bpf_prog_test_run_raw_tp
	kindSyscall                // bpf_prog_test_run_syscall
	kindNF                     // bpf_prog_test_run_nf
	kindStruct                 // bpf_struct_ops_test_run (bpf_dummy_ops only)
)

// classify says which test_run handler runs a program, or why none does.
func classify(t ebpf.ProgramType, at ebpf.AttachType) (runKind, string) {
	switch t {
	case ebpf.SocketFilter, ebpf.SchedCLS, ebpf.SchedACT, ebpf.CGroupSKB,
		ebpf.LWTIn, ebpf.LWTOut, ebpf.LWTXmit:
		return kindSKB, ""
	case ebpf.LWTSeg6Local:
		// test_run was removed in 6.18 (ENOTSUPP); 6.1 still has it.
		return kindSKB, ""
	case ebpf.XDP:
		switch at {
		case ebpf.AttachXDPDevMap, ebpf.AttachXDPCPUMap:
			return kindNone, "XDP programs for devmap or cpumap entries are rejected by BPF_PROG_RUN (EINVAL); load it as a plain xdp program to test it"
		}
		return kindXDP, ""
	case ebpf.FlowDissector:
		return kindFlow, ""
	case ebpf.SkLookup:
		return kindSKLook, ""
	case ebpf.RawTracepoint:
		return kindRawTP, ""
	case ebpf.Syscall:
		return kindSyscall, ""
	case ebpf.Netfilter:
		return kindNF, ""
	case ebpf.StructOps:
		return kindStruct, ""
	case ebpf.Tracing:
		switch at {
		case ebpf.AttachTraceIter:
			return kindNone, "iterators run by reading an iterator link (BPF_ITER_CREATE), not through BPF_PROG_RUN"
		case ebpf.AttachTraceRawTp:
			return kindNone, "tp_btf programs are refused by BPF_PROG_RUN (EFAULT)"
		}
		return kindNone, "fentry/fexit/fmod_ret programs only run when attached, and BPF_PROG_RUN then calls the kernel's own bpf_fentry_test functions, not your input"
	case ebpf.Kprobe:
		return kindNone, "kprobe programs run when the probed kernel function runs; BPF_PROG_RUN has no handler for them (ENOTSUPP)"
	case ebpf.TracePoint, ebpf.PerfEvent, ebpf.RawTracepointWritable:
		return kindNone, fmt.Sprintf("%s programs run on kernel events; BPF_PROG_RUN has no handler for them (ENOTSUPP)", t)
	case ebpf.UnspecifiedProgram:
		return kindNone, "the section name does not say the program type; set it (Options.Type, or --type on the command line)"
	}
	return kindNone, fmt.Sprintf("the kernel has no BPF_PROG_RUN handler for %s programs (ENOTSUPP)", t)
}

// Runnable reports whether programs of type t with attach type at can run
// through BPF_PROG_RUN, and if not, why. It is a static answer from the
// kernel's sources; LWTSeg6Local is runnable only before Linux 6.18, which
// only [Probe] can tell.
func Runnable(t ebpf.ProgramType, at ebpf.AttachType) (bool, string) {
	k, why := classify(t, at)
	return k != kindNone, why
}

// SeesL3 reports whether programs of type t see the packet from the network
// header. For these types (socket filters, cgroup_skb, lwt_*) the kernel pulls
// the 14-byte Ethernet header before the run and pushes 14 zero bytes back
// afterwards, so offset 0 in the program is the IP header and the first 14
// bytes of the output packet are zero.
func SeesL3(t ebpf.ProgramType) bool {
	switch t {
	case ebpf.SocketFilter, ebpf.CGroupSKB, ebpf.LWTIn, ebpf.LWTOut, ebpf.LWTXmit, ebpf.LWTSeg6Local:
		return true
	}
	return false
}

var (
	xdpNames  = []string{"XDP_ABORTED", "XDP_DROP", "XDP_PASS", "XDP_TX", "XDP_REDIRECT"}
	tcNames   = []string{"TC_ACT_OK", "TC_ACT_RECLASSIFY", "TC_ACT_SHOT", "TC_ACT_PIPE", "TC_ACT_STOLEN", "TC_ACT_QUEUED", "TC_ACT_REPEAT", "TC_ACT_REDIRECT", "TC_ACT_TRAP"}
	lwtNames  = map[uint32]string{0: "BPF_OK", 2: "BPF_DROP", 7: "BPF_REDIRECT", 128: "BPF_LWT_REROUTE"}
	flowNames = map[uint32]string{0: "BPF_OK", 2: "BPF_DROP", 129: "BPF_FLOW_DISSECTOR_CONTINUE"}
)

// RetvalName names a program's return value where the program type gives it
// a name (XDP_PASS, TC_ACT_SHOT, BPF_OK, SK_PASS, ...), and returns "" where
// it does not.
func RetvalName(t ebpf.ProgramType, at ebpf.AttachType, v uint32) string {
	switch t {
	case ebpf.XDP:
		if v < uint32(len(xdpNames)) {
			return xdpNames[v]
		}
	case ebpf.SchedCLS, ebpf.SchedACT:
		if v == 0xffffffff {
			return "TC_ACT_UNSPEC"
		}
		if v < uint32(len(tcNames)) {
			return tcNames[v]
		}
	case ebpf.LWTIn, ebpf.LWTOut, ebpf.LWTXmit, ebpf.LWTSeg6Local:
		return lwtNames[v]
	case ebpf.FlowDissector:
		return flowNames[v]
	case ebpf.SkLookup:
		return map[uint32]string{0: "SK_DROP", 1: "SK_PASS"}[v]
	case ebpf.Netfilter:
		return map[uint32]string{0: "NF_DROP", 1: "NF_ACCEPT"}[v]
	case ebpf.CGroupSKB:
		// Egress may also return 2 and 3: bit 1 asks for congestion notification.
		return map[uint32]string{0: "drop", 1: "allow", 2: "drop+cn", 3: "allow+cn"}[v]
	case ebpf.SocketFilter:
		switch v {
		case 0:
			return "drop"
		case 0xffffffff:
			return "keep all"
		}
		return fmt.Sprintf("keep %d bytes", v)
	}
	return ""
}
