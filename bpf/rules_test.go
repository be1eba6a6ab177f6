package bpf

import (
	"errors"
	"net/netip"
	"syscall"
	"testing"
)

// TestRulesAgreeWithKernel checks every input rule the harness enforces
// against the kernel itself: for each case, Run must reject the input with
// an *InputError carrying the errno, and the same input sent to the kernel
// unchecked must fail with exactly that errno. Accepted inputs must pass
// both. The kernel is the reference; nothing here is modelled.
func TestRulesAgreeWithKernel(t *testing.T) {
	metaLimit, err := XDPMetadataLimit()
	if err != nil {
		t.Fatalf("probe metadata limit: %v", err)
	}
	shortIP := HaveShortIPFrameCheck() == nil
	ipv4Frame := func(n int) []byte {
		b := make([]byte, n)
		b[12] = 0x08
		return b
	}
	ipv6Frame := func(n int) []byte {
		b := make([]byte, n)
		b[12], b[13] = 0x86, 0xdd
		return b
	}
	pkt := make([]byte, 64)
	sk := func(c SKLookupContext) Context {
		if c.Family == 0 {
			c.Family = syscall.AF_INET
		}
		c.Protocol = syscall.IPPROTO_TCP
		c.LocalIP = netip.MustParseAddr("127.0.0.1")
		return c
	}
	errnoIf := func(cond bool, e syscall.Errno) syscall.Errno {
		if cond {
			return e
		}
		return 0
	}
	cases := []struct {
		name, prog string
		in         Input
		errno      syscall.Errno
	}{
		{"xdp 13 bytes", "xdp_linlen", Input{Packet: make([]byte, 13)}, syscall.EINVAL},
		{"xdp 14 bytes", "xdp_linlen", Input{Packet: make([]byte, 14)}, 0},
		{"xdp 9000 bytes", "xdp_linlen", Input{Packet: make([]byte, 9000)}, 0},
		{"xdp 73152 bytes", "xdp_buflen", Input{Packet: make([]byte, maxXDPDataIn)}, 0},
		{"xdp 73153 bytes", "xdp_buflen", Input{Packet: make([]byte, maxXDPDataIn+1)}, syscall.ENOMEM},
		{"xdp meta unaligned", "xdp_linlen", Input{Packet: pkt, Context: XDPContext{MetaLen: 3}}, syscall.EINVAL},
		{"xdp meta at limit", "xdp_meta_len", Input{Packet: make([]byte, 64+metaLimit), Context: XDPContext{MetaLen: uint32(metaLimit)}}, 0},
		{"xdp meta above limit", "xdp_meta_len", Input{Packet: make([]byte, 68+metaLimit), Context: XDPContext{MetaLen: uint32(metaLimit + 4)}}, syscall.EINVAL},
		{"xdp 13 bytes after meta", "xdp_linlen", Input{Packet: make([]byte, 17), Context: XDPContext{MetaLen: 4}}, syscall.EINVAL},
		{"xdp linear shorter", "xdp_linlen", Input{Packet: pkt, Context: XDPContext{LinearLen: 20}}, 0},
		{"xdp linear longer", "xdp_linlen", Input{Packet: pkt, Context: XDPContext{LinearLen: 65}}, syscall.EINVAL},
		{"xdp rxq without ifindex", "xdp_linlen", Input{Packet: pkt, Context: XDPContext{RxQueueIndex: 1}}, syscall.EINVAL},
		{"xdp lo rxq 1", "xdp_linlen", Input{Packet: pkt, Context: XDPContext{IngressIfindex: 1, RxQueueIndex: 1}}, syscall.EINVAL},
		{"xdp lo rxq 0", "xdp_ifindex", Input{Packet: pkt, Context: XDPContext{IngressIfindex: 1}}, 0},
		{"xdp missing ifindex", "xdp_linlen", Input{Packet: pkt, Context: XDPContext{IngressIfindex: 99999}}, syscall.ENODEV},
		{"xdp flags", "xdp_linlen", Input{Packet: pkt, Flags: 1}, syscall.EINVAL},
		{"xdp sklookup ctx", "xdp_linlen", Input{Packet: pkt, Context: sk(SKLookupContext{})}, syscall.E2BIG},

		{"skb 13 bytes", "tc_len", Input{Packet: make([]byte, 13)}, syscall.EINVAL},
		{"skb 14 bytes other ethertype", "tc_len", Input{Packet: make([]byte, 14)}, 0},
		{"skb 3712 bytes", "tc_len", Input{Packet: make([]byte, 3712)}, 0},
		{"skb 3713 bytes", "tc_len", Input{Packet: make([]byte, 3713)}, syscall.EINVAL},
		{"skb ipv4 33 bytes", "tc_len", Input{Packet: ipv4Frame(33)}, errnoIf(shortIP, syscall.EINVAL)},
		{"skb ipv4 34 bytes", "tc_len", Input{Packet: ipv4Frame(34)}, 0},
		{"skb ipv6 53 bytes", "tc_len", Input{Packet: ipv6Frame(53)}, errnoIf(shortIP, syscall.EINVAL)},
		{"skb ipv6 54 bytes", "tc_len", Input{Packet: ipv6Frame(54)}, 0},
		{"skb all allowed fields", "tc_write", Input{Packet: pkt, Context: SKBContext{Mark: 1, Priority: 2, IngressIfindex: 5, Ifindex: 1,
			CB: [5]uint32{10, 11, 12, 13, 14}, Tstamp: 100, WireLen: 100, GSOSegs: 3, GSOSize: 1400, Hwtstamp: 55}}, 0},
		{"skb wire_len below len", "tc_len", Input{Packet: pkt, Context: SKBContext{WireLen: 63}}, syscall.EINVAL},
		{"skb wire_len len", "tc_len", Input{Packet: pkt, Context: SKBContext{WireLen: 64}}, 0},
		{"skb wire_len 65536", "tc_len", Input{Packet: pkt, Context: SKBContext{WireLen: 65536}}, 0},
		{"skb wire_len 65537", "tc_len", Input{Packet: pkt, Context: SKBContext{WireLen: 65537}}, syscall.EINVAL},
		{"socket filter wire_len 49", "sf_len", Input{Packet: pkt, Context: SKBContext{WireLen: 49}}, syscall.EINVAL},
		{"socket filter wire_len 50", "sf_len", Input{Packet: pkt, Context: SKBContext{WireLen: 50}}, 0},
		{"skb gso_segs 65535", "tc_len", Input{Packet: pkt, Context: SKBContext{GSOSegs: 65535}}, 0},
		{"skb gso_segs 65536", "tc_len", Input{Packet: pkt, Context: SKBContext{GSOSegs: 65536}}, syscall.EINVAL},
		{"skb gso_size unchecked", "tc_len", Input{Packet: pkt, Context: SKBContext{GSOSize: 0xffffffff}}, 0},
		{"skb missing ifindex", "tc_len", Input{Packet: pkt, Context: SKBContext{Ifindex: 99999}}, syscall.ENODEV},
		{"skb ingress_ifindex unchecked", "tc_len", Input{Packet: pkt, Context: SKBContext{IngressIfindex: 99999}}, 0},
		{"skb non-linear flag", "tc_len", Input{Packet: pkt, Flags: 1 << 3}, syscall.EINVAL},
		{"skb checksum complete", "tc_len", Input{Packet: pkt, Flags: FlagSKBChecksumComplete}, errnoIf(!skbChecksumComplete(), syscall.EINVAL)},
		{"skb xdp ctx", "tc_len", Input{Packet: pkt, Context: XDPContext{}}, syscall.EINVAL},

		{"flow 13 bytes", "flow_default", Input{Packet: make([]byte, 13)}, syscall.EINVAL},
		{"flow 4096 bytes", "flow_default", Input{Packet: make([]byte, 4096)}, 0},
		{"flow 4097 bytes", "flow_default", Input{Packet: make([]byte, 4097)}, syscall.EINVAL},
		{"flow flags", "flow_default", Input{Packet: pkt, Context: FlowDissectorContext{Flags: FlowDissectorParse1stFrag}}, 0},
		{"flow run flags", "flow_default", Input{Packet: pkt, Flags: 1}, syscall.EINVAL},

		{"sk_lookup no ctx", "sklookup_pass", Input{}, syscall.EINVAL},
		{"sk_lookup packet", "sklookup_pass", Input{Packet: pkt, Context: sk(SKLookupContext{})}, syscall.EINVAL},
		{"sk_lookup family 3", "sklookup_pass", Input{Context: sk(SKLookupContext{Family: 3})}, syscall.EAFNOSUPPORT},
		{"sk_lookup cookie", "sklookup_pass", Input{Context: sk(SKLookupContext{Cookie: 1})}, syscall.EINVAL},
		{"sk_lookup ipv6", "sklookup_pass", Input{Context: SKLookupContext{Family: syscall.AF_INET6, Protocol: syscall.IPPROTO_UDP,
			RemoteIP: netip.MustParseAddr("2001:db8::1"), LocalIP: netip.MustParseAddr("2001:db8::2"), LocalPort: 53}}, 0},

		{"raw_tp repeat", "rawtp_arg0", Input{Repeat: 2, Context: RawContext(make([]byte, 8))}, syscall.EINVAL},
		{"raw_tp packet", "rawtp_arg0", Input{Packet: pkt, Context: RawContext(make([]byte, 8))}, syscall.EINVAL},
		{"raw_tp ctx 96", "rawtp_arg0", Input{Context: RawContext(make([]byte, 96))}, 0},
		{"raw_tp ctx 104", "rawtp_arg0", Input{Context: RawContext(make([]byte, 104))}, syscall.EINVAL},
		{"syscall no ctx", "syscall_double", Input{}, syscall.EINVAL},
		{"syscall packet", "syscall_double", Input{Packet: pkt, Context: RawContext(make([]byte, 8))}, syscall.EINVAL},
		{"syscall repeat", "syscall_double", Input{Repeat: 2, Context: RawContext(make([]byte, 8))}, syscall.EINVAL},
	}
	progs := map[string]*Program{}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := progs[c.prog]
			if p == nil {
				p = load(t, types, c.prog, nil)
				t.Cleanup(func() { delete(progs, c.prog) })
				progs[c.prog] = p
			}
			_, harnessErr := p.Run(c.in)
			_, kernelErr := p.exec(c.in)
			var kernelErrno syscall.Errno
			if kernelErr != nil && !errors.As(kernelErr, &kernelErrno) {
				t.Fatalf("kernel run: %v", kernelErr)
			}
			if kernelErrno != c.errno {
				t.Fatalf("kernel says %v, the test expects %v: the research notes are out of date for this kernel", errnoName(kernelErrno), errnoName(c.errno))
			}
			var ie *InputError
			switch {
			case c.errno == 0 && harnessErr != nil:
				t.Errorf("harness rejects an input the kernel accepts: %v", harnessErr)
			case c.errno != 0 && !errors.As(harnessErr, &ie):
				t.Errorf("harness passed an input the kernel rejects with %v (harness error: %v)", errnoName(c.errno), harnessErr)
			case c.errno != 0 && ie.Errno != c.errno:
				t.Errorf("harness predicts %v, kernel returns %v: %v", errnoName(ie.Errno), errnoName(c.errno), ie)
			}
			if ie != nil {
				t.Log(ie)
			}
		})
	}
}
