// Package live runs XDP programs in live frame mode
// (BPF_F_TEST_XDP_LIVE_FRAMES) in a throwaway network namespace and
// reports what the kernel did with the frames.
//
// A [Session] owns a namespace with a veth pair: the program receives on
// one end (veth0), so XDP_TX sends out of it and the frames arrive on the
// other end (veth1), where an XDP counter and a packet socket see them; a
// second packet socket on veth0 sees what XDP_PASS handed to the stack.
// Verdicts, redirects, redirect errors, exceptions and driver drops are
// counted by [bpf.LiveCounters]. Nothing touches a host interface unless
// Options.Ifname names one.
//
// Needs root (namespaces, veth, BPF tracing programs) and Linux 5.18+.
// Package live reads no environment variables.
package live
