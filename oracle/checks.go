package oracle

import (
	"bytes"
	"errors"
	"syscall"

	"github.com/bpffuzz/bpffuzz/bpf"
	"github.com/bpffuzz/bpffuzz/internal/pkt"
	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
)

// Retval checks the return value against the values the program type
// defines.
type Retval struct{}

func (Retval) Name() string { return "retval" }
func (Retval) Doc() string {
	return "The return value is one the program type defines: XDP 0-4; tc -1 (TC_ACT_UNSPEC) to 8; flow dissector BPF_OK, BPF_DROP, BPF_FLOW_DISSECTOR_CONTINUE; cgroup_skb 0-1 on ingress, 0-3 on egress; sk_lookup and netfilter 0-1; lwt BPF_OK, BPF_DROP, BPF_REDIRECT, BPF_LWT_REROUTE; socket filters: a keep length above the packet's length is flagged unless it is a usual keep-all constant (0xffff, 0x40000, 0x7fffffff, 0xffffffff) — a heuristic for filters whose snap length is a constant. Off for other types and for runs that failed."
}

// keepAll are the usual "whole packet" socket filter return values.
var keepAll = []uint32{0xffff, 0x40000, 0x7fffffff, 0xffffffff, 0xffffff, 0x10000}

func (o Retval) Check(p *Program, e *Execution) error {
	if e.Err != nil {
		return nil
	}
	v := e.Result.Retval
	ok := true
	switch p.Type {
	case ebpf.XDP:
		ok = v <= 4
	case ebpf.SchedCLS, ebpf.SchedACT:
		ok = v == 0xffffffff || v <= 8
	case ebpf.FlowDissector:
		ok = v == 0 || v == 2 || v == 129
	case ebpf.CGroupSKB:
		ok = v <= 1 || (p.AttachType == ebpf.AttachCGroupInetEgress && v <= 3)
	case ebpf.SkLookup, ebpf.Netfilter:
		ok = v <= 1
	case ebpf.LWTIn, ebpf.LWTOut, ebpf.LWTXmit, ebpf.LWTSeg6Local:
		ok = v == 0 || v == 2 || v == 7 || v == 128
	case ebpf.SocketFilter:
		l3 := uint32(max(len(e.Packet)-14, 0))
		if v > l3 && !contains(keepAll, v) {
			return finding(o, "socket filter keeps %d bytes of a %d-byte packet: neither the packet's length nor a usual keep-all value", v, l3)
		}
	}
	if !ok {
		name := bpf.RetvalName(p.Type, p.AttachType, v)
		if name == "" {
			name = "no action"
		}
		return finding(o, "returned %d (%s), which is not a %s action", v, name, p.Type)
	}
	return nil
}

func contains(s []uint32, v uint32) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// Errno flags kernel errors on runs the harness validated.
type Errno struct{}

func (Errno) Name() string { return "errno" }
func (Errno) Doc() string {
	return "A run whose input passed bpffuzz's validation of the kernel's rules gets no errno: ENOSPC cannot happen (output buffers are the kernel's maxima), EFAULT and ENOMEM point at the kernel, EINVAL means bpffuzz's model of the kernel and the kernel disagree. EBADMSG under the checksum-complete flag is the checksum oracle's. Always on."
}

func (o Errno) Check(p *Program, e *Execution) error {
	if e.Err == nil {
		return nil
	}
	errno, ok := e.Err.(syscall.Errno)
	if !ok && !errors.As(e.Err, &errno) {
		return nil
	}
	switch errno {
	case syscall.EBADMSG:
		if e.Input.Flags&bpf.FlagSKBChecksumComplete != 0 {
			return nil
		}
	case syscall.ENOSPC:
		return finding(o, "ENOSPC: the output did not fit buffers sized to the kernel's maxima (%d bytes out)", len(e.Result.Packet))
	case syscall.EINVAL:
		return finding(o, "EINVAL on an input bpffuzz validated: bpffuzz's model of the kernel's rules and this kernel disagree")
	}
	return finding(o, "the kernel failed the run with %s (%v)", bpf.ErrnoName(errno), errno)
}

// Bounds checks output sizes and that the input is not modified.
type Bounds struct{}

func (Bounds) Name() string { return "bounds" }
func (Bounds) Doc() string {
	return "The input packet is never modified. XDP output is at most 3736 linear bytes plus 17 fragments of 4096, and as long as the input unless the program calls adjust_head/tail/meta (or tail-calls); skb output is 1 to 16064 bytes, and as long as the input unless the program calls a helper that can resize (change_tail/head, adjust_room, change_proto, vlan push/pop, lwt encap, or tail-calls); L3 types' output starts with 14 zero bytes; a flow dissector's output is 56 bytes of keys. Checked on successful runs."
}

var (
	xdpResize = []asm.BuiltinFunc{asm.FnXdpAdjustHead, asm.FnXdpAdjustTail, asm.FnXdpAdjustMeta, asm.FnTailCall}
	skbResize = []asm.BuiltinFunc{asm.FnSkbChangeTail, asm.FnSkbChangeHead, asm.FnSkbAdjustRoom, asm.FnSkbChangeProto,
		asm.FnSkbVlanPush, asm.FnSkbVlanPop, asm.FnLwtPushEncap, asm.FnLwtSeg6StoreBytes, asm.FnLwtSeg6AdjustSrh,
		asm.FnLwtSeg6Action, asm.FnTailCall, asm.FnSkbChangeType}
)

func (o Bounds) Check(p *Program, e *Execution) error {
	if !bytes.Equal(e.Input.Packet, e.Packet) {
		return finding(o, "the input packet (data_in) was modified by the run")
	}
	if e.Err != nil {
		return nil
	}
	out, in := len(e.Result.Packet), len(e.Packet)
	kinky := p.hasKfuncs()
	switch {
	case p.Type == ebpf.XDP:
		if c, ok := e.Result.XDPContext(); ok && c.MetaLen+min(c.LinearLen, 3736) > 3736 {
			return finding(o, "XDP linear output of %d bytes (meta %d) is above 3736", c.MetaLen+c.LinearLen, c.MetaLen)
		}
		if out > 3736+17*4096 {
			return finding(o, "XDP output of %d bytes is above the kernel's maximum", out)
		}
		if out != in && !p.calls(xdpResize...) && !kinky {
			return finding(o, "output is %d bytes for a %d-byte input, but the program calls no helper that changes the size", out, in)
		}
	case bpf.SeesL3(p.Type) || p.Type == ebpf.SchedCLS || p.Type == ebpf.SchedACT:
		if out < 1 || out > 16064 {
			return finding(o, "skb output of %d bytes is outside 1..16064", out)
		}
		if out != in && !p.calls(skbResize...) && !kinky {
			return finding(o, "output is %d bytes for a %d-byte input, but the program calls no helper that changes the size", out, in)
		}
		if bpf.SeesL3(p.Type) && out >= 14 && !bytes.Equal(e.Result.Packet[:14], make([]byte, 14)) {
			return finding(o, "the first 14 output bytes of an L3 program are not zero")
		}
	case p.Type == ebpf.FlowDissector:
		if e.Result.Packet != nil || len(e.Result.Context) != 56 {
			return finding(o, "flow dissector output is %d bytes of keys, want 56", len(e.Result.Context))
		}
	}
	return nil
}

func (p *Program) hasKfuncs() bool { return p.Helpers[kfuncMarker] }

// kfuncMarker is set in Helpers by ProgramOf when the program calls
// kfuncs, whose effects the oracles cannot know.
const kfuncMarker = asm.BuiltinFunc(1<<31 - 1)

// Ctx checks the context round trip.
type Ctx struct{}

func (Ctx) Name() string { return "ctx" }
func (Ctx) Doc() string {
	return "Context fields the kernel does not write back come back as they went in: for __sk_buff every byte outside mark, priority, ingress_ifindex, ifindex, cb[], tstamp, wire_len, gso_segs and hwtstamp, plus ingress_ifindex, hwtstamp, a non-zero wire_len, and mark and priority for socket filters (read-only there); ifindex comes back as 1 for 0 or 1, else as given; for xdp_md ingress_ifindex, rx_queue_index, data_meta and egress_ifindex as given, with data <= data_end and data a multiple of 4; for bpf_sk_lookup every field but the cookie. Checked on successful runs."
}

// skbWriteBack are the __sk_buff byte ranges the kernel writes back.
var skbWriteBack = [][2]int{{8, 12}, {32, 44}, {48, 68}, {152, 168}, {184, 192}}

func (o Ctx) Check(p *Program, e *Execution) error {
	if e.Err != nil || e.Result.Context == nil {
		return nil
	}
	out := e.Result.Context
	// in is the input context zero-extended to the output's length; the
	// contexts are small, so a stack buffer holds them without allocating.
	var buf [256]byte
	var in []byte
	if len(out) <= len(buf) {
		in = buf[:len(out)]
	} else {
		in = make([]byte, len(out))
	}
	copy(in, e.Context)
	switch {
	case bpf.SeesL3(p.Type) || p.Type == ebpf.SchedCLS || p.Type == ebpf.SchedACT:
		if len(out) < 192 {
			return nil
		}
		// Compare the ranges between the written-back ones at once.
		from := 0
		for k := 0; k <= len(skbWriteBack); k++ {
			to, next := len(out), len(out)
			if k < len(skbWriteBack) {
				to, next = skbWriteBack[k][0], skbWriteBack[k][1]
			}
			if i := firstDiff(in[from:to], out[from:to]); i >= 0 {
				i += from
				return finding(o, "__sk_buff byte %d changed from %#02x to %#02x, but the kernel does not write it back", i, in[i], out[i])
			}
			from = next
		}
		ci, co := bpf.DecodeSKBContext(in), bpf.DecodeSKBContext(out)
		wantIf := ci.Ifindex
		if wantIf <= 1 {
			wantIf = 1
		}
		switch {
		case co.IngressIfindex != ci.IngressIfindex:
			return finding(o, "ingress_ifindex %d came back as %d", ci.IngressIfindex, co.IngressIfindex)
		case co.Ifindex != wantIf && !p.calls(asm.FnCloneRedirect):
			return finding(o, "ifindex %d came back as %d, want %d", ci.Ifindex, co.Ifindex, wantIf)
		case ci.WireLen != 0 && co.WireLen != ci.WireLen:
			return finding(o, "wire_len %d came back as %d", ci.WireLen, co.WireLen)
		case co.Hwtstamp != ci.Hwtstamp:
			return finding(o, "hwtstamp %d came back as %d", ci.Hwtstamp, co.Hwtstamp)
		case p.Type == ebpf.SocketFilter && (co.Mark != ci.Mark || co.Priority != ci.Priority):
			return finding(o, "a socket filter cannot write mark or priority, yet they changed")
		}
	case p.Type == ebpf.XDP:
		if len(out) < 24 {
			return nil
		}
		data, end := le(out[0:4]), le(out[4:8])
		switch {
		case le(out[12:16]) != le(in[12:16]) || le(out[16:20]) != le(in[16:20]):
			return finding(o, "ingress_ifindex or rx_queue_index changed")
		case le(out[8:12]) != 0 || le(out[20:24]) != 0:
			return finding(o, "data_meta or egress_ifindex came back non-zero")
		case data > end || data%4 != 0 || data > 252:
			return finding(o, "xdp_md data %d / data_end %d are inconsistent", data, end)
		}
	case p.Type == ebpf.SkLookup:
		if len(out) >= 72 && !bytes.Equal(out[8:], in[8:]) {
			return finding(o, "bpf_sk_lookup fields other than the cookie changed")
		}
	}
	return nil
}

// firstDiff is the first index where a and b (of equal length) differ,
// or -1.
func firstDiff(a, b []byte) int {
	if bytes.Equal(a, b) {
		return -1
	}
	for i := range a {
		if a[i] != b[i] {
			return i
		}
	}
	return -1
}

// xdpMetaLen is the metadata length of an XDP input context, given as a
// value or as a pointer (the fuzz engine reuses one context value).
func xdpMetaLen(c bpf.Context) (uint32, bool) {
	switch v := c.(type) {
	case bpf.XDPContext:
		return v.MetaLen, true
	case *bpf.XDPContext:
		return v.MetaLen, true
	}
	return 0, false
}

// Output checks that well-formed packets the program passes stay
// well-formed.
type Output struct{}

func (Output) Name() string { return "output" }
func (Output) Doc() string {
	return "When the input packet is well-formed (complete headers, lengths that fit, valid IPv4, TCP, UDP and ICMP checksums, for every encapsulated packet too) and the program passes or transmits it (XDP_PASS/TX/REDIRECT; TC_ACT_OK/PIPE/REDIRECT/UNSPEC; a socket filter keeping bytes; cgroup allow; lwt BPF_OK/BPF_REDIRECT), the output is well-formed by the same rules. Off for non-IP packets, malformed inputs and other verdicts."
}

func passes(p *Program, v uint32) bool {
	switch p.Type {
	case ebpf.XDP:
		return v >= 2 && v <= 4
	case ebpf.SchedCLS, ebpf.SchedACT:
		return v == 0 || v == 3 || v == 7 || v == 0xffffffff
	case ebpf.SocketFilter:
		return v != 0
	case ebpf.CGroupSKB:
		return v&1 == 1
	case ebpf.LWTIn, ebpf.LWTOut, ebpf.LWTXmit:
		return v == 0 || v == 7
	}
	return false
}

func (o Output) Check(p *Program, e *Execution) error {
	if e.Err != nil || e.Result.Packet == nil || !passes(p, e.Result.Retval) {
		return nil
	}
	in, out := e.Packet, e.Result.Packet
	l3 := bpf.SeesL3(p.Type)
	if p.Type == ebpf.XDP {
		// Skip the metadata in front of the frame.
		if meta, ok := xdpMetaLen(e.Input.Context); ok && int(meta) <= len(in) {
			in = in[meta:]
		}
		if c, ok := e.Result.XDPContext(); ok && int(c.MetaLen) <= len(out) {
			out = out[c.MetaLen:]
		}
	}
	if len(in) < 14 || len(out) < 14 || !pkt.WellFormed(in, offset(l3), l3) || pkt.Parse(in, 0).L3 == 0 && !l3 {
		return nil
	}
	if err := pkt.Verify(out, offset(l3), l3); err != nil {
		return finding(o, "the input was well-formed, the %s output is not: %v", bpf.RetvalName(p.Type, p.AttachType, e.Result.Retval), err)
	}
	return nil
}

func offset(l3 bool) int {
	if l3 {
		return 14
	}
	return 0
}

// Checksum reports EBADMSG under the checksum-complete flag.
type Checksum struct{}

func (Checksum) Name() string { return "checksum" }
func (Checksum) Doc() string {
	return "With BPF_F_TEST_SKB_CHECKSUM_COMPLETE (Linux 6.11+), the kernel verifies skb->csum after the run; EBADMSG means the program changed packet bytes without updating the checksum through the csum helpers. Only for runs with that flag."
}

func (o Checksum) Check(p *Program, e *Execution) error {
	if e.Input.Flags&bpf.FlagSKBChecksumComplete != 0 && errors.Is(e.Err, syscall.EBADMSG) {
		return finding(o, "EBADMSG: the program changed packet bytes without keeping skb->csum (CHECKSUM_COMPLETE) up to date")
	}
	return nil
}
