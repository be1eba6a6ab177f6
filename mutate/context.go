package mutate

import (
	"net/netip"
	"syscall"

	"github.com/bpffuzz/bpffuzz/bpf"
	"github.com/bpffuzz/bpffuzz/internal/consume"
	"github.com/bpffuzz/bpffuzz/internal/pkt"
	"github.com/cilium/ebpf"
)

// PortableMetaLimit is the XDP metadata length every supported kernel
// accepts (Linux 6.1 allows 32 bytes).
const PortableMetaLimit = 32

// Context returns the context of one run for a program of type t: the
// seed context (kernel struct bytes, possibly empty) decoded, with fields
// changed by the decisions, always inside what BPF_PROG_RUN accepts for the
// type and a packet of pktLen bytes (the frame; for XDP, MetaLen bytes of
// metadata are put in front of it by the caller). It returns a value; nil
// means the type's default context.
func (m *Mutator) Context(t ebpf.ProgramType, at ebpf.AttachType, seed []byte, d *consume.Decisions, pktLen int) bpf.Context {
	switch c := m.ContextReused(t, at, seed, d, pktLen).(type) {
	case *bpf.XDPContext:
		return *c
	case *bpf.SKBContext:
		return *c
	case nil:
		return nil
	default:
		return c
	}
}

// ContextReused is Context for the hot path: for XDP and skb programs the
// context it returns is a *bpf.XDPContext or *bpf.SKBContext pointing into
// the Mutator, overwritten by the next call, so that no call allocates.
// Other types get values, as from Context. The decisions taken are the
// same as Context's.
func (m *Mutator) ContextReused(t ebpf.ProgramType, at ebpf.AttachType, seed []byte, d *consume.Decisions, pktLen int) bpf.Context {
	n, err := d.Intn(4)
	if err != nil {
		n = 0
	}
	switch {
	case t == ebpf.XDP && at != ebpf.AttachXDPDevMap && at != ebpf.AttachXDPCPUMap:
		if len(seed) == 0 && n == 0 {
			return nil
		}
		m.xdpCtx = m.xdp(bpf.DecodeXDPContext(seed), d, n, pktLen)
		return &m.xdpCtx
	case isSKB(t):
		if len(seed) == 0 && n == 0 {
			return nil
		}
		m.skbCtx = m.skb(t, bpf.DecodeSKBContext(seed), d, n, pktLen)
		return &m.skbCtx
	}
	ctx := bpf.DecodeContext(t, at, seed)
	switch c := ctx.(type) {
	case nil:
		if n == 0 {
			return nil
		}
		if t == ebpf.FlowDissector {
			return m.flow(bpf.FlowDissectorContext{}, d)
		}
		return nil
	case bpf.FlowDissectorContext:
		if n == 0 {
			return c
		}
		return m.flow(c, d)
	case bpf.SKLookupContext:
		return m.sklookup(c, d, n)
	}
	return ctx
}

func isSKB(t ebpf.ProgramType) bool {
	switch t {
	case ebpf.SocketFilter, ebpf.SchedCLS, ebpf.SchedACT, ebpf.CGroupSKB, ebpf.LWTIn, ebpf.LWTOut, ebpf.LWTXmit, ebpf.LWTSeg6Local:
		return true
	}
	return false
}

func (m *Mutator) value32(d *consume.Decisions) uint32 {
	if len(m.dict.Values) > 0 && intn(d, 2) == 0 {
		v := m.dict.Values[intn(d, len(m.dict.Values))]
		var x uint32
		for i := len(v) - 1; i >= 0; i-- {
			x = x<<8 | uint32(v[i])
		}
		return x
	}
	interesting := []uint32{0, 1, 2, 0x7fffffff, 0x80000000, 0xffffffff, 0x80000007, 0x800000ff}
	if intn(d, 2) == 0 {
		return interesting[intn(d, len(interesting))]
	}
	v, _ := d.Uint32()
	return v
}

func (m *Mutator) xdp(c bpf.XDPContext, d *consume.Decisions, n, pktLen int) bpf.XDPContext {
	for range n {
		switch intn(d, 3) {
		case 0:
			c.MetaLen = 4 * uint32(intn(d, PortableMetaLimit/4+1))
		case 1:
			c.LinearLen = 0
			if pktLen > pkt.EthLen && intn(d, 2) == 0 {
				c.LinearLen = uint32(pkt.EthLen + intn(d, pktLen-pkt.EthLen+1))
			}
		default:
			c.IngressIfindex = uint32(intn(d, 2))
		}
	}
	// Keep what the kernel accepts: queue 0, linear length within the frame.
	c.RxQueueIndex = 0
	if c.IngressIfindex > 1 {
		c.IngressIfindex = 1
	}
	if c.MetaLen%4 != 0 || c.MetaLen > PortableMetaLimit {
		c.MetaLen = 0
	}
	if int(c.LinearLen) > pktLen {
		c.LinearLen = 0
	}
	return c
}

func (m *Mutator) skb(t ebpf.ProgramType, c bpf.SKBContext, d *consume.Decisions, n, pktLen int) bpf.SKBContext {
	for range n {
		switch intn(d, 8) {
		case 0:
			c.Mark = m.value32(d)
		case 1:
			c.Priority = m.value32(d)
		case 2:
			c.CB[intn(d, len(c.CB))] = m.value32(d)
		case 3:
			c.WireLen = 0
			if intn(d, 2) == 0 {
				c.WireLen = uint32(pktLen + intn(d, 65536-pktLen+1))
			}
		case 4:
			c.GSOSegs = uint32(intn(d, 65536))
		case 5:
			c.GSOSize = m.value32(d)
		case 6:
			c.Tstamp = uint64(m.value32(d))
		default:
			c.Ifindex, c.IngressIfindex = uint32(intn(d, 2)), uint32(intn(d, 2))
		}
	}
	skbLen := pktLen
	if bpf.SeesL3(t) {
		skbLen -= pkt.EthLen
	}
	if c.WireLen != 0 && (int(c.WireLen) < skbLen || c.WireLen > 65536) {
		c.WireLen = 0
	}
	if c.GSOSegs > 65535 {
		c.GSOSegs = 65535
	}
	if c.Ifindex > 1 {
		c.Ifindex = 1
	}
	return c
}

func (m *Mutator) flow(c bpf.FlowDissectorContext, d *consume.Decisions) bpf.Context {
	c.Flags = uint32(intn(d, 8)) // the three BPF_FLOW_DISSECTOR_F_* bits
	return c
}

func (m *Mutator) sklookup(c bpf.SKLookupContext, d *consume.Decisions, n int) bpf.Context {
	for range n {
		switch intn(d, 4) {
		case 0:
			if c.Family == syscall.AF_INET {
				c.Family = syscall.AF_INET6
				c.RemoteIP, c.LocalIP = netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2")
			} else {
				c.Family = syscall.AF_INET
				c.RemoteIP, c.LocalIP = netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
			}
		case 1:
			c.Protocol = []uint32{syscall.IPPROTO_TCP, syscall.IPPROTO_UDP}[intn(d, 2)]
		case 2:
			c.LocalPort = commonPorts[intn(d, len(commonPorts))]
		default:
			c.RemotePort = commonPorts[intn(d, len(commonPorts))]
		}
	}
	c.Cookie = 0
	if c.Family != syscall.AF_INET && c.Family != syscall.AF_INET6 {
		c.Family = syscall.AF_INET
	}
	return c
}
