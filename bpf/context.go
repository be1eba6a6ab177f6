package bpf

import (
	"encoding/binary"
	"net"
	"net/netip"
	"path/filepath"
	"syscall"

	"github.com/cilium/ebpf"
)

// Context is the input context of a run: one of [XDPContext], [SKBContext],
// [FlowDissectorContext], [SKLookupContext] or [RawContext], or a pointer to
// one (a pointer lets a caller reuse one context value without an allocation
// per run).
type Context interface {
	// contextSize is the number of bytes the context is marshalled to.
	contextSize() int
	// putContext writes the context into b, which has contextSize bytes and
	// is zero, for a packet of n bytes.
	putContext(b []byte, n int)
	// check returns an *InputError if the kernel would reject the context for
	// program p and a packet of n bytes.
	check(p *Program, n int) error
}

var le = binary.LittleEndian // BPF contexts are in host byte order; bpffuzz runs on little-endian hosts

// Sizes of the kernel's context structs, from include/uapi/linux/bpf.h.
const (
	sizeofXDPMD      = 24
	sizeofSKBuff     = 192
	sizeofFlowKeys   = 56
	sizeofSKLookup   = 72
	maxRawTPCtx      = 12 * 8 // MAX_BPF_FUNC_ARGS u64 arguments
	maxSyscallCtx    = 65535  // U16_MAX
	maxCtxSize       = 4096   // PAGE_SIZE: a larger ctx_size_in is E2BIG
	ethHdrLen        = 14
	maxSKBDataIn     = 3712                                   // 4096 - NET_SKB_PAD(64) - aligned skb_shared_info(320)
	maxSKBDataOut    = 16064                                  // BPF_SKB_MAX_LEN: change_tail/change_head growth limit
	maxXDPLinear     = 3520                                   // 4096 - XDP_PACKET_HEADROOM(256) - tailroom(320)
	maxXDPFrags      = 17                                     // MAX_SKB_FRAGS
	xdpFragSize      = 4096                                   // PAGE_SIZE
	maxXDPDataIn     = maxXDPLinear + maxXDPFrags*xdpFragSize // 73152; one more is ENOMEM
	maxXDPLinearOut  = 3736                                   // meta + data after adjust_head/adjust_meta growth of 216
	maxXDPDataOut    = maxXDPLinearOut + maxXDPFrags*xdpFragSize
	maxFlowDataIn    = 4096
	minNetfilterData = 20 // sizeof(struct iphdr)
)

// XDPContext is struct xdp_md for XDP programs. The zero value runs the
// whole packet as linear data without metadata on the loopback device.
type XDPContext struct {
	// IngressIfindex is the receiving interface; 0 means none (the kernel
	// then uses loopback's queue, and the program reads ingress_ifindex 1).
	// Non-zero must name an existing interface in the caller's namespace.
	IngressIfindex uint32
	// RxQueueIndex is the receive queue; non-zero needs IngressIfindex, and
	// must be below that device's number of receive queues.
	RxQueueIndex uint32
	// MetaLen is how many leading bytes of the input packet are XDP metadata
	// (xdp_md.data). A multiple of 4, at most 32 on Linux 6.1, 216 on 6.18.13+.
	MetaLen uint32
	// LinearLen is the packet's linear length after the metadata
	// (xdp_md.data_end - data); the rest goes into fragments of 4096 bytes.
	// 0 means all of it, capped by the kernel at 3520 bytes. As output it is
	// the linear length after the run.
	LinearLen uint32
}

func (c XDPContext) contextSize() int { return sizeofXDPMD }

func (c XDPContext) putContext(b []byte, n int) {
	end := uint32(n)
	if c.LinearLen != 0 {
		end = c.MetaLen + c.LinearLen
	}
	le.PutUint32(b[0:], c.MetaLen)
	le.PutUint32(b[4:], end)
	le.PutUint32(b[12:], c.IngressIfindex)
	le.PutUint32(b[16:], c.RxQueueIndex)
}

func (c XDPContext) check(p *Program, n int) error {
	if p.kind != kindXDP {
		return wrongContext(p, "XDPContext")
	}
	if c.MetaLen%4 != 0 {
		return inputErr("ctx.meta_len", syscall.EINVAL, "metadata length %d must be a multiple of 4", c.MetaLen)
	}
	if limit := xdpMetaLimit(); c.MetaLen > uint32(limit) {
		return inputErr("ctx.meta_len", syscall.EINVAL, "metadata length %d is above this kernel's limit of %d bytes", c.MetaLen, limit)
	}
	if int(c.MetaLen) > n {
		return inputErr("ctx.meta_len", syscall.EINVAL, "metadata length %d is longer than the %d-byte packet", c.MetaLen, n)
	}
	data := n - int(c.MetaLen)
	if data < ethHdrLen {
		return inputErr("packet", syscall.EINVAL, "XDP needs at least %d bytes after the metadata, got %d", ethHdrLen, data)
	}
	if data > maxXDPDataIn {
		return inputErr("packet", syscall.ENOMEM, "XDP takes at most %d bytes after the metadata (%d linear + %d fragments of %d), got %d",
			maxXDPDataIn, maxXDPLinear, maxXDPFrags, xdpFragSize, data)
	}
	if int(c.LinearLen) > data {
		return inputErr("ctx.linear_len", syscall.EINVAL, "linear length %d is longer than the %d bytes after the metadata", c.LinearLen, data)
	}
	if c.LinearLen != 0 && int(c.LinearLen) != data && !xdpLinearFromCtx() {
		return inputErr("ctx.linear_len", syscall.EINVAL, "this kernel needs the linear length to be the whole packet (%d); a shorter one needs Linux 6.1.161+ or 6.5+", data)
	}
	if c.RxQueueIndex != 0 && c.IngressIfindex == 0 {
		return inputErr("ctx.rx_queue_index", syscall.EINVAL, "rx queue %d needs ingress_ifindex", c.RxQueueIndex)
	}
	if c.IngressIfindex != 0 {
		ifc := p.iface(c.IngressIfindex)
		if !ifc.exists {
			return inputErr("ctx.ingress_ifindex", syscall.ENODEV, "no interface with index %d in this network namespace", c.IngressIfindex)
		}
		if name, q := ifc.name, ifc.rxQueues; q >= 0 && c.RxQueueIndex >= uint32(q) {
			return inputErr("ctx.rx_queue_index", syscall.EINVAL, "interface %s has %d receive queues, queue %d does not exist", name, q, c.RxQueueIndex)
		}
	}
	return nil
}

func decodeXDPContext(b []byte) XDPContext {
	data, end := le.Uint32(b[0:]), le.Uint32(b[4:])
	return XDPContext{MetaLen: data, LinearLen: end - data, IngressIfindex: le.Uint32(b[12:]), RxQueueIndex: le.Uint32(b[16:])}
}

// SKBContext holds the fields of struct __sk_buff that BPF_PROG_RUN lets a
// caller set for skb programs (socket filters, tc, cgroup_skb, lwt). The
// kernel rejects a non-zero value in any other field with EINVAL. The zero
// value runs on loopback with nothing set.
type SKBContext struct {
	Mark     uint32 // offset 8
	Priority uint32 // offset 32
	// IngressIfindex is not validated by the kernel.
	IngressIfindex uint32 // offset 36
	// Ifindex is the device the skb is on: 0 or 1 is loopback; any other
	// value must exist in the caller's namespace (ENODEV).
	Ifindex uint32    // offset 40
	CB      [5]uint32 // offset 48
	Tstamp  uint64    // offset 152
	// WireLen is 0 or between the skb length and 65536. The skb length is
	// the packet length for tc, and 14 less for the types that see the
	// packet from the network header.
	WireLen uint32 // offset 160
	// GSOSegs is at most 65535.
	GSOSegs uint32 // offset 164
	// GSOSize is not validated and not written back.
	GSOSize  uint32 // offset 176
	Hwtstamp uint64 // offset 184
}

func (c SKBContext) contextSize() int { return sizeofSKBuff }

func (c SKBContext) putContext(b []byte, _ int) {
	le.PutUint32(b[8:], c.Mark)
	le.PutUint32(b[32:], c.Priority)
	le.PutUint32(b[36:], c.IngressIfindex)
	le.PutUint32(b[40:], c.Ifindex)
	for i, v := range c.CB {
		le.PutUint32(b[48+4*i:], v)
	}
	le.PutUint64(b[152:], c.Tstamp)
	le.PutUint32(b[160:], c.WireLen)
	le.PutUint32(b[164:], c.GSOSegs)
	le.PutUint32(b[176:], c.GSOSize)
	le.PutUint64(b[184:], c.Hwtstamp)
}

func (c SKBContext) check(p *Program, n int) error {
	if p.kind != kindSKB {
		return wrongContext(p, "SKBContext")
	}
	skbLen := n
	if SeesL3(p.Type) {
		skbLen = n - ethHdrLen
	}
	if c.WireLen != 0 && (int(c.WireLen) < skbLen || c.WireLen > 65536) {
		return inputErr("ctx.wire_len", syscall.EINVAL, "wire_len %d must be 0 or between the skb length %d and 65536", c.WireLen, skbLen)
	}
	if c.GSOSegs > 65535 {
		return inputErr("ctx.gso_segs", syscall.EINVAL, "gso_segs %d is above 65535", c.GSOSegs)
	}
	if c.Ifindex > 1 {
		if !p.iface(c.Ifindex).exists {
			return inputErr("ctx.ifindex", syscall.ENODEV, "no interface with index %d in this network namespace (0 and 1 mean loopback)", c.Ifindex)
		}
	}
	return nil
}

func decodeSKBContext(b []byte) SKBContext {
	var c SKBContext
	c.Mark = le.Uint32(b[8:])
	c.Priority = le.Uint32(b[32:])
	c.IngressIfindex = le.Uint32(b[36:])
	c.Ifindex = le.Uint32(b[40:])
	for i := range c.CB {
		c.CB[i] = le.Uint32(b[48+4*i:])
	}
	c.Tstamp = le.Uint64(b[152:])
	c.WireLen = le.Uint32(b[160:])
	c.GSOSegs = le.Uint32(b[164:])
	c.GSOSize = le.Uint32(b[176:])
	c.Hwtstamp = le.Uint64(b[184:])
	return c
}

// Flow dissector flags (bpf_flow_keys.flags).
const (
	FlowDissectorParse1stFrag    = 1 << 0 // BPF_FLOW_DISSECTOR_F_PARSE_1ST_FRAG
	FlowDissectorStopAtFlowLabel = 1 << 1 // BPF_FLOW_DISSECTOR_F_STOP_AT_FLOW_LABEL
	FlowDissectorStopAtEncap     = 1 << 2 // BPF_FLOW_DISSECTOR_F_STOP_AT_ENCAP
	flowKeysFlagsOff             = 48
)

// FlowDissectorContext is the input of a flow dissector: only the flags of
// struct bpf_flow_keys may be set. The program's output, the dissected flow
// keys, comes back in [Result.FlowKeys].
type FlowDissectorContext struct {
	Flags uint32
}

func (c FlowDissectorContext) contextSize() int { return sizeofFlowKeys }

func (c FlowDissectorContext) putContext(b []byte, _ int) {
	le.PutUint32(b[flowKeysFlagsOff:], c.Flags)
}

func (c FlowDissectorContext) check(p *Program, n int) error {
	if p.kind != kindFlow {
		return wrongContext(p, "FlowDissectorContext")
	}
	return nil
}

// FlowKeys is struct bpf_flow_keys as a flow dissector leaves it. Ports and
// protocol numbers are in host byte order here.
type FlowKeys struct {
	Nhoff, Thoff uint16
	AddrProto    uint16 // ETH_P_IP or ETH_P_IPV6 when addresses were set
	IsFrag       bool
	IsFirstFrag  bool
	IsEncap      bool
	IPProto      uint8
	NProto       uint16
	Sport, Dport uint16
	// Src and Dst are read as IPv4 or IPv6 addresses by AddrProto; they are
	// invalid (zero netip.Addr) for other values.
	Src, Dst  netip.Addr
	Flags     uint32
	FlowLabel uint32
}

func decodeFlowKeys(b []byte) FlowKeys {
	be := binary.BigEndian
	k := FlowKeys{
		Nhoff:       le.Uint16(b[0:]),
		Thoff:       le.Uint16(b[2:]),
		AddrProto:   le.Uint16(b[4:]),
		IsFrag:      b[6] != 0,
		IsFirstFrag: b[7] != 0,
		IsEncap:     b[8] != 0,
		IPProto:     b[9],
		NProto:      be.Uint16(b[10:]),
		Sport:       be.Uint16(b[12:]),
		Dport:       be.Uint16(b[14:]),
		Flags:       le.Uint32(b[48:]),
		FlowLabel:   be.Uint32(b[52:]),
	}
	switch k.AddrProto {
	case 0x0800:
		k.Src = netip.AddrFrom4([4]byte(b[16:20]))
		k.Dst = netip.AddrFrom4([4]byte(b[20:24]))
	case 0x86dd:
		k.Src = netip.AddrFrom16([16]byte(b[16:32]))
		k.Dst = netip.AddrFrom16([16]byte(b[32:48]))
	}
	return k
}

// SKLookupContext is struct bpf_sk_lookup for sk_lookup programs, which need
// one. The kernel refuses any other family than AF_INET and AF_INET6
// (EAFNOSUPPORT) and a non-zero cookie or ingress_ifindex (EINVAL).
type SKLookupContext struct {
	Family   uint32 // syscall.AF_INET or syscall.AF_INET6
	Protocol uint32 // syscall.IPPROTO_TCP or IPPROTO_UDP
	// RemoteIP and LocalIP go to the ip4 or ip6 fields by their own family.
	RemoteIP, LocalIP     netip.Addr
	RemotePort, LocalPort uint16
	// Cookie is output only: the cookie of the socket the program selected.
	Cookie uint64
}

func (c SKLookupContext) contextSize() int { return sizeofSKLookup }

func (c SKLookupContext) putContext(b []byte, _ int) {
	le.PutUint64(b[0:], c.Cookie)
	le.PutUint32(b[8:], c.Family)
	le.PutUint32(b[12:], c.Protocol)
	putAddr(b[16:20], b[20:36], c.RemoteIP)
	binary.BigEndian.PutUint16(b[36:], c.RemotePort)
	putAddr(b[40:44], b[44:60], c.LocalIP)
	le.PutUint32(b[60:], uint32(c.LocalPort))
}

func putAddr(ip4, ip6 []byte, a netip.Addr) {
	switch {
	case a.Is4():
		v := a.As4()
		copy(ip4, v[:])
	case a.Is6():
		v := a.As16()
		copy(ip6, v[:])
	}
}

func (c SKLookupContext) check(p *Program, n int) error {
	if p.kind != kindSKLook {
		return wrongContext(p, "SKLookupContext")
	}
	if c.Family != syscall.AF_INET && c.Family != syscall.AF_INET6 {
		return inputErr("ctx.family", syscall.EAFNOSUPPORT, "family %d must be AF_INET (2) or AF_INET6 (10)", c.Family)
	}
	if c.Cookie != 0 {
		return inputErr("ctx.cookie", syscall.EINVAL, "the socket cookie is output only and must be 0")
	}
	return nil
}

func decodeSKLookupContext(b []byte) SKLookupContext {
	c := SKLookupContext{
		Cookie:     le.Uint64(b[0:]),
		Family:     le.Uint32(b[8:]),
		Protocol:   le.Uint32(b[12:]),
		RemotePort: binary.BigEndian.Uint16(b[36:]),
		LocalPort:  uint16(le.Uint32(b[60:])),
	}
	if c.Family == syscall.AF_INET6 {
		c.RemoteIP = netip.AddrFrom16([16]byte(b[20:36]))
		c.LocalIP = netip.AddrFrom16([16]byte(b[44:60]))
	} else {
		c.RemoteIP = netip.AddrFrom4([4]byte(b[16:20]))
		c.LocalIP = netip.AddrFrom4([4]byte(b[40:44]))
	}
	return c
}

// RawContext is a context passed as bytes: the u64 argument array of a
// raw_tracepoint program, the argument struct of a syscall program, the
// arguments of a struct_ops test, or any type's context when the caller wants
// the kernel alone to judge it (e.g. to fuzz the kernel's own checks).
type RawContext []byte

func (c RawContext) contextSize() int { return len(c) }

func (c RawContext) putContext(b []byte, _ int) { copy(b, c) }

func (c RawContext) check(p *Program, n int) error {
	limit := maxCtxSize
	switch p.kind {
	case kindRawTP:
		limit = maxRawTPCtx
	case kindSyscall:
		limit = maxSyscallCtx
	}
	if len(c) > limit {
		errno := syscall.E2BIG
		if p.kind == kindRawTP || p.kind == kindSyscall {
			errno = syscall.EINVAL
		}
		return inputErr("ctx", errno, "%s programs take at most %d context bytes, got %d", p.Type, limit, len(c))
	}
	return nil
}

func wrongContext(p *Program, got string) error {
	want := map[runKind]string{
		kindSKB: "SKBContext", kindXDP: "XDPContext", kindFlow: "FlowDissectorContext",
		kindSKLook: "SKLookupContext",
	}[p.kind]
	if want == "" {
		want = "RawContext"
	}
	// The kernel reads the bytes as its own struct: a longer context has
	// non-zero bytes past its end (E2BIG); a shorter one sets fields it
	// forbids or reads as garbage (EINVAL).
	errno := syscall.EINVAL
	if size := p.contextStructSize(); size > 0 && got != "RawContext" && contextSizeOf(got) > size {
		errno = syscall.E2BIG
	}
	return inputErr("ctx", errno, "%s given for %s program %s; it takes a %s", got, p.Type, p.Name, want)
}

func (p *Program) contextStructSize() int {
	return map[runKind]int{kindSKB: sizeofSKBuff, kindXDP: sizeofXDPMD, kindFlow: sizeofFlowKeys, kindSKLook: sizeofSKLookup}[p.kind]
}

func contextSizeOf(typeName string) int {
	return map[string]int{"SKBContext": sizeofSKBuff, "XDPContext": sizeofXDPMD, "FlowDissectorContext": sizeofFlowKeys, "SKLookupContext": sizeofSKLookup}[typeName]
}

func interfaceName(ifindex uint32) (string, error) {
	ifc, err := net.InterfaceByIndex(int(ifindex))
	if err != nil {
		return "", err
	}
	return ifc.Name, nil
}

// rxQueues counts a device's receive queues from sysfs, or returns -1 if it
// can't tell (the kernel then judges).
func rxQueues(name string) int {
	m, err := filepath.Glob(filepath.Join("/sys/class/net", name, "queues", "rx-*"))
	if err != nil || len(m) == 0 {
		return -1
	}
	return len(m)
}

// ContextBytes returns c as the kernel receives it for a packet of n
// bytes (nil for a nil context). Oracles compare output contexts with it.
func ContextBytes(c Context, n int) []byte {
	if c == nil {
		return nil
	}
	b := make([]byte, c.contextSize())
	c.putContext(b, n)
	return b
}

// AppendContextBytes is ContextBytes appended to dst[:0], for a caller
// that reuses one buffer: it allocates only when dst is too small.
func AppendContextBytes(dst []byte, c Context, n int) []byte {
	if c == nil {
		return nil
	}
	size := c.contextSize()
	if cap(dst) < size {
		dst = make([]byte, size)
	}
	b := dst[:size]
	clear(b)
	c.putContext(b, n)
	return b
}

// DecodeXDPContext is DecodeContext for an XDP program, returning the
// value itself: no allocation. A shorter b is zero-extended.
func DecodeXDPContext(b []byte) XDPContext {
	var buf [sizeofXDPMD]byte
	copy(buf[:], b)
	return decodeXDPContext(buf[:])
}

// DecodeSKBContext is DecodeContext for an skb program (see
// SKBContext), returning the value itself: no allocation. A shorter b is
// zero-extended.
func DecodeSKBContext(b []byte) SKBContext {
	var buf [sizeofSKBuff]byte
	copy(buf[:], b)
	return decodeSKBContext(buf[:])
}

// DecodeContext reads a context of program type t from the kernel struct
// bytes b (as ContextBytes or a corpus entry holds them; a shorter b is
// zero-extended). Empty b gives nil, the type's default context. Types
// without a typed context get a RawContext.
func DecodeContext(t ebpf.ProgramType, at ebpf.AttachType, b []byte) Context {
	if len(b) == 0 {
		return nil
	}
	k, _ := classify(t, at)
	pad := func(size int) []byte {
		if len(b) >= size {
			return b[:size]
		}
		return append(append(make([]byte, 0, size), b...), make([]byte, size-len(b))...)
	}
	switch k {
	case kindXDP:
		return decodeXDPContext(pad(sizeofXDPMD))
	case kindSKB:
		return decodeSKBContext(pad(sizeofSKBuff))
	case kindFlow:
		return FlowDissectorContext{Flags: le.Uint32(pad(sizeofFlowKeys)[flowKeysFlagsOff:])}
	case kindSKLook:
		return decodeSKLookupContext(pad(sizeofSKLookup))
	}
	return RawContext(b)
}
