package bpf

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"syscall"
	"testing"

	"github.com/bpffuzz/bpffuzz/internal/kerneltest"
	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// The example programs behave as examples/README.md and their sources say.

const examples = "../examples/"

const (
	xdpAborted = 0
	xdpDrop    = 1
	xdpPass    = 2
	xdpTX      = 3
)

func eth(typ layers.EthernetType) *layers.Ethernet {
	return &layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: typ}
}

func ipv6(next layers.IPProtocol) *layers.IPv6 {
	return &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: next,
		SrcIP: net.ParseIP("2001:db8::1"), DstIP: net.ParseIP("2001:db8::2")}
}

func tcp(dport uint16) *layers.TCP {
	return &layers.TCP{SrcPort: 1234, DstPort: layers.TCPPort(dport), SYN: true, Window: 1024}
}

func udp(sport, dport uint16) *layers.UDP {
	return &layers.UDP{SrcPort: layers.UDPPort(sport), DstPort: layers.UDPPort(dport)}
}

var payload = gopacket.Payload("hello, bpf")

// hopByHop is a 16-byte hop-by-hop options header (hdrlen 1), so a parser
// that ignores hdrlen lands in the middle of it.
func hopByHop() *layers.IPv6HopByHop {
	h := &layers.IPv6HopByHop{}
	// One 14-byte experimental option (type 0x1e: skip if unknown) fills it
	// exactly, so gopacket adds no padding.
	h.Options = []*layers.IPv6HopByHopOption{{OptionType: 0x1e, OptionLength: 12, OptionData: make([]byte, 12)}}
	return h
}

// unpadded cuts the Ethernet padding gopacket adds to frames under 60
// bytes off an IPv4 frame, leaving exactly the IP packet's total length.
func unpadded(b []byte) []byte { return b[:14+int(binary.BigEndian.Uint16(b[16:]))] }

func withTTL(ip *layers.IPv4, ttl uint8) *layers.IPv4 { ip.TTL = ttl; return ip }

func TestXDPParser(t *testing.T) {
	v4 := func(p layers.IPProtocol) *layers.IPv4 { return ipv4(p, "10.0.0.1", "10.0.0.2") }
	v6hbh := func(dport uint16) []byte {
		ip := ipv6(layers.IPProtocolIPv6HopByHop)
		ip.HopByHop = hopByHop()
		ip.HopByHop.NextHeader = layers.IPProtocolTCP
		b := frame(t, eth(layers.EthernetTypeIPv6), ip, tcp(dport))
		if b[14+6] != byte(layers.IPProtocolIPv6HopByHop) || b[14+40+1] != 1 {
			t.Fatalf("the hop-by-hop frame is not as intended: % x", b)
		}
		return b
	}
	vlan := func(dport uint16) []byte {
		return frame(t, eth(layers.EthernetTypeDot1Q), &layers.Dot1Q{VLANIdentifier: 100, Type: layers.EthernetTypeIPv4},
			v4(layers.IPProtocolTCP), tcp(dport))
	}
	qinq := func(dport uint16) []byte {
		return frame(t, eth(layers.EthernetTypeQinQ),
			&layers.Dot1Q{VLANIdentifier: 10, Type: layers.EthernetTypeDot1Q},
			&layers.Dot1Q{VLANIdentifier: 20, Type: layers.EthernetTypeIPv4},
			v4(layers.IPProtocolTCP), tcp(dport))
	}
	fragment := func(offset uint16, dport uint16) []byte {
		ip := v4(layers.IPProtocolTCP)
		ip.FragOffset = offset
		ip.Flags = layers.IPv4MoreFragments
		return frame(t, eth(layers.EthernetTypeIPv4), ip, tcp(dport))
	}
	tcp23 := frame(t, eth(layers.EthernetTypeIPv4), v4(layers.IPProtocolTCP), tcp(23))
	ihl4 := bytes.Clone(tcp23)
	ihl4[14] = 0x44
	withOptions := func(dport uint16) []byte {
		ip := v4(layers.IPProtocolTCP)
		ip.Options = []layers.IPv4Option{{OptionType: 1}, {OptionType: 1}, {OptionType: 1}, {OptionType: 1}} // 4 NOPs: IHL 6
		b := frame(t, eth(layers.EthernetTypeIPv4), ip, tcp(dport))
		if b[14] != 0x46 {
			t.Fatalf("IPv4 header with options has IHL %d", b[14]&0xf)
		}
		return b
	}

	cases := []struct {
		name string
		pkt  []byte
		want uint32
	}{
		{"ipv4 tcp 23", tcp23, xdpDrop},
		{"ipv4 tcp 80", frame(t, eth(layers.EthernetTypeIPv4), v4(layers.IPProtocolTCP), tcp(80)), xdpPass},
		{"ipv4 udp 9", frame(t, eth(layers.EthernetTypeIPv4), v4(layers.IPProtocolUDP), udp(1234, 9), payload), xdpDrop},
		{"ipv4 udp 53", frame(t, eth(layers.EthernetTypeIPv4), v4(layers.IPProtocolUDP), udp(1234, 53), payload), xdpPass},
		{"ipv4 ttl 1", frame(t, eth(layers.EthernetTypeIPv4), withTTL(v4(layers.IPProtocolTCP), 1), tcp(80)), xdpDrop},
		{"ipv4 ttl 2", frame(t, eth(layers.EthernetTypeIPv4), withTTL(v4(layers.IPProtocolTCP), 2), tcp(80)), xdpPass},
		{"ipv4 cut in ip header", tcp23[:14+19], xdpDrop},
		{"ipv4 cut in tcp header", frame(t, eth(layers.EthernetTypeIPv4), v4(layers.IPProtocolTCP), tcp(80))[:14+20+19], xdpDrop},
		{"ipv4 udp cut in udp header", frame(t, eth(layers.EthernetTypeIPv4), v4(layers.IPProtocolUDP), udp(1234, 53))[:14+20+7], xdpDrop},
		{"ipv4 ihl 4", ihl4, xdpDrop},
		{"ipv4 options tcp 23", withOptions(23), xdpDrop},
		{"ipv4 options tcp 80", withOptions(80), xdpPass},
		{"ipv4 first fragment tcp 23", fragment(0, 23), xdpDrop},
		{"ipv4 later fragment", fragment(100, 23), xdpPass},
		{"vlan tcp 80", vlan(80), xdpPass},
		{"vlan tcp 23", vlan(23), xdpDrop},
		{"qinq tcp 80", qinq(80), xdpPass},
		{"qinq tcp 23", qinq(23), xdpDrop},
		{"vlan cut in tag", vlan(80)[:16], xdpDrop},
		{"ipv6 tcp 23", frame(t, eth(layers.EthernetTypeIPv6), ipv6(layers.IPProtocolTCP), tcp(23)), xdpDrop},
		{"ipv6 tcp 80", frame(t, eth(layers.EthernetTypeIPv6), ipv6(layers.IPProtocolTCP), tcp(80)), xdpPass},
		{"ipv6 udp 9", frame(t, eth(layers.EthernetTypeIPv6), ipv6(layers.IPProtocolUDP), udp(1234, 9)), xdpDrop},
		{"ipv6 hop-by-hop tcp 23", v6hbh(23), xdpDrop},
		{"ipv6 hop-by-hop tcp 80", v6hbh(80), xdpPass},
		{"ipv6 hop-by-hop cut", v6hbh(80)[:14+40+10], xdpDrop},
		{"ipv6 cut", frame(t, eth(layers.EthernetTypeIPv6), ipv6(layers.IPProtocolTCP), tcp(80))[:14+39], xdpDrop},
		{"arp", frame(t, eth(layers.EthernetTypeARP), gopacket.Payload(make([]byte, 28))), xdpPass},
	}
	p := load(t, examples+"xdp_parser.o", "xdp_parser", nil)
	var tally [5]uint64
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := runOK(t, p, Input{Packet: tc.pkt})
			tally[res.Retval%5]++
			if res.Retval != tc.want {
				t.Errorf("verdict = %d (%s), want %d (%s)", res.Retval, RetvalName(p.Type, p.AttachType, res.Retval),
					tc.want, RetvalName(p.Type, p.AttachType, tc.want))
			}
			if !bytes.Equal(res.Packet, tc.pkt) {
				t.Errorf("the parser changed the packet")
			}
		})
	}
	for verdict, want := range tally {
		var got uint64
		if err := p.Map("verdicts").Lookup(uint32(verdict), &got); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("verdicts[%d] = %d, want %d", verdict, got, want)
		}
	}
}

// decodeIPv4 decodes an Ethernet/IPv4 frame with gopacket.
func decodeIPv4(t *testing.T, b []byte) (*layers.Ethernet, *layers.IPv4, gopacket.Packet) {
	t.Helper()
	pkt := gopacket.NewPacket(b, layers.LayerTypeEthernet, gopacket.Default)
	if el := pkt.ErrorLayer(); el != nil {
		t.Fatalf("decode output: %v", el.Error())
	}
	e, _ := pkt.Layer(layers.LayerTypeEthernet).(*layers.Ethernet)
	ip, _ := pkt.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
	if e == nil || ip == nil {
		t.Fatalf("output is not Ethernet/IPv4: %v", pkt)
	}
	return e, ip, pkt
}

// recomputed serializes the decoded layers again with fresh checksums and
// returns the IPv4 and L4 checksums gopacket computes for them.
func recomputed(t *testing.T, pkt gopacket.Packet) (ipSum, l4Sum uint16) {
	t.Helper()
	var ls []gopacket.SerializableLayer
	for _, l := range pkt.Layers() {
		switch l := l.(type) {
		case *layers.Ethernet:
			c := *l
			ls = append(ls, &c)
		case *layers.IPv4:
			c := *l
			ls = append(ls, &c)
		case *layers.TCP:
			c := *l
			ls = append(ls, &c)
		case *layers.UDP:
			c := *l
			ls = append(ls, &c)
		default:
			ls = append(ls, gopacket.Payload(l.LayerContents()))
		}
	}
	again := frame(t, ls...)
	_, ip, p := decodeIPv4(t, again)
	switch l4 := p.TransportLayer().(type) {
	case *layers.TCP:
		return ip.Checksum, l4.Checksum
	case *layers.UDP:
		return ip.Checksum, l4.Checksum
	}
	t.Fatalf("no TCP or UDP in the re-serialized output")
	return 0, 0
}

func l4Checksum(t *testing.T, pkt gopacket.Packet) uint16 {
	t.Helper()
	switch l4 := pkt.TransportLayer().(type) {
	case *layers.TCP:
		return l4.Checksum
	case *layers.UDP:
		return l4.Checksum
	}
	t.Fatalf("no TCP or UDP layer")
	return 0
}

func TestTCRewrite(t *testing.T) {
	const tcOK, tcShot = 0, 2
	p := load(t, examples+"tc_rewrite.o", "tc_rewrite", nil)
	csumComplete := HaveSKBChecksumComplete()
	to := func(dst string, ttl uint8, proto layers.IPProtocol) *layers.IPv4 {
		return withTTL(ipv4(proto, "10.0.0.1", dst), ttl)
	}
	udpNoSum := frame(t, eth(layers.EthernetTypeIPv4), to("192.0.2.1", 64, layers.IPProtocolUDP), udp(1234, 4000), payload)
	udpNoSum[14+20+6], udpNoSum[14+20+7] = 0, 0 // UDP checksum 0: none

	for _, tc := range []struct {
		name      string
		pkt       []byte
		retval    uint32
		rewritten bool
	}{
		{"udp", frame(t, eth(layers.EthernetTypeIPv4), to("192.0.2.1", 64, layers.IPProtocolUDP), udp(1234, 4000), payload), tcOK, true},
		{"tcp", frame(t, eth(layers.EthernetTypeIPv4), to("192.0.2.1", 64, layers.IPProtocolTCP), tcp(80), payload), tcOK, true},
		{"tcp ttl 2", frame(t, eth(layers.EthernetTypeIPv4), to("192.0.2.1", 2, layers.IPProtocolTCP), tcp(80)), tcOK, true},
		{"udp without checksum", udpNoSum, tcOK, true},
		{"ttl 1", frame(t, eth(layers.EthernetTypeIPv4), to("192.0.2.1", 1, layers.IPProtocolTCP), tcp(80)), tcShot, false},
		{"ttl 1 other destination", frame(t, eth(layers.EthernetTypeIPv4), to("192.0.2.2", 1, layers.IPProtocolTCP), tcp(80)), tcShot, false},
		{"other destination", frame(t, eth(layers.EthernetTypeIPv4), to("192.0.2.2", 64, layers.IPProtocolUDP), udp(1234, 4000), payload), tcOK, false},
		{"ipv6", frame(t, eth(layers.EthernetTypeIPv6), ipv6(layers.IPProtocolTCP), tcp(80)), tcOK, false},
	} {
		check := func(t *testing.T, res Result) {
			t.Helper()
			if res.Retval != tc.retval {
				t.Errorf("retval = %d, want %d", res.Retval, tc.retval)
			}
			if !tc.rewritten {
				if !bytes.Equal(res.Packet, tc.pkt) {
					t.Errorf("packet changed:\n got % x\nwant % x", res.Packet, tc.pkt)
				}
				return
			}
			if len(res.Packet) != len(tc.pkt) {
				t.Fatalf("output has %d bytes, want %d", len(res.Packet), len(tc.pkt))
			}
			inEth, inIP, inPkt := decodeIPv4(t, tc.pkt)
			outEth, outIP, outPkt := decodeIPv4(t, res.Packet)
			if !bytes.Equal(outEth.SrcMAC, inEth.DstMAC) || !bytes.Equal(outEth.DstMAC, inEth.SrcMAC) {
				t.Errorf("MACs %s -> %s, want swapped %s -> %s", outEth.SrcMAC, outEth.DstMAC, inEth.DstMAC, inEth.SrcMAC)
			}
			if !outIP.DstIP.Equal(net.ParseIP("198.51.100.1")) || !outIP.SrcIP.Equal(inIP.SrcIP) {
				t.Errorf("addresses %s -> %s, want %s -> 198.51.100.1", outIP.SrcIP, outIP.DstIP, inIP.SrcIP)
			}
			if outIP.TTL != inIP.TTL-1 {
				t.Errorf("TTL = %d, want %d", outIP.TTL, inIP.TTL-1)
			}
			if !bytes.Equal(outPkt.TransportLayer().LayerPayload(), inPkt.TransportLayer().LayerPayload()) {
				t.Errorf("L4 payload changed")
			}
			ipSum, l4Sum := recomputed(t, outPkt)
			if outIP.Checksum != ipSum {
				t.Errorf("IPv4 checksum = %#04x, recomputed %#04x", outIP.Checksum, ipSum)
			}
			if l4Checksum(t, inPkt) == 0 {
				if got := l4Checksum(t, outPkt); got != 0 {
					t.Errorf("UDP checksum 0 (none) became %#04x", got)
				}
			} else if got := l4Checksum(t, outPkt); got != l4Sum {
				t.Errorf("L4 checksum = %#04x, recomputed %#04x", got, l4Sum)
			}
		}
		t.Run(tc.name, func(t *testing.T) {
			check(t, runOK(t, p, Input{Packet: tc.pkt}))
		})
		t.Run(tc.name+" checksum complete", func(t *testing.T) {
			res, err := p.Run(Input{Packet: tc.pkt, Flags: FlagSKBChecksumComplete})
			if csumComplete != nil {
				var ie *InputError
				if !errors.As(err, &ie) || ie.Field != "flags" {
					t.Fatalf("kernel without checksum-complete (%v): Run = %v, want an InputError for flags", csumComplete, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("with CHECKSUM_COMPLETE the kernel says %v (Errno %d): the helpers left skb->csum inconsistent", err, res.Errno)
			}
			check(t, res)
		})
	}
}

func TestSocketFilter(t *testing.T) {
	p := load(t, examples+"socket_filter.o", "sock_filter", nil)
	v4 := func(p layers.IPProtocol) *layers.IPv4 { return ipv4(p, "10.0.0.1", "10.0.0.2") }
	laterFragment := v4(layers.IPProtocolUDP)
	laterFragment.FragOffset = 100
	for _, tc := range []struct {
		name string
		pkt  []byte
		keep bool
	}{
		{"udp to 53", unpadded(frame(t, eth(layers.EthernetTypeIPv4), v4(layers.IPProtocolUDP), udp(40000, 53))), true},
		{"udp from 53", unpadded(frame(t, eth(layers.EthernetTypeIPv4), v4(layers.IPProtocolUDP), udp(53, 40000), payload)), true},
		{"udp to 53 padded", frame(t, eth(layers.EthernetTypeIPv4), v4(layers.IPProtocolUDP), udp(40000, 53)), true},
		{"udp to 54", unpadded(frame(t, eth(layers.EthernetTypeIPv4), v4(layers.IPProtocolUDP), udp(40000, 54))), false},
		{"tcp to 53", frame(t, eth(layers.EthernetTypeIPv4), v4(layers.IPProtocolTCP), tcp(53)), false},
		{"later fragment to 53", frame(t, eth(layers.EthernetTypeIPv4), laterFragment, udp(40000, 53)), false},
		{"udp cut", frame(t, eth(layers.EthernetTypeIPv4), v4(layers.IPProtocolUDP), udp(40000, 53))[:14+20+3], false},
		{"ipv6 udp to 53", frame(t, eth(layers.EthernetTypeIPv6), ipv6(layers.IPProtocolUDP), udp(40000, 53)), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := runOK(t, p, Input{Packet: tc.pkt})
			want := uint32(0)
			if tc.keep {
				want = uint32(len(tc.pkt) - 14)
			}
			if res.Retval != want {
				t.Errorf("retval = %d, want %d (%d-byte frame)", res.Retval, want, len(tc.pkt))
			}
			checkL3(t, res)
			if !bytes.Equal(res.Packet[14:], tc.pkt[14:]) {
				t.Errorf("the filter changed the packet")
			}
		})
	}
	// Frame C of the README is 42 bytes and kept as 28.
	c := unpadded(frame(t, eth(layers.EthernetTypeIPv4), v4(layers.IPProtocolUDP), udp(40000, 53)))
	if res := runOK(t, p, Input{Packet: c}); len(c) != 42 || res.Retval != 28 {
		t.Errorf("frame C: %d bytes, retval %d, want 42 and 28", len(c), res.Retval)
	}
}

func TestFlowDissector(t *testing.T) {
	const bpfOK, bpfDrop = 0, 2
	p := load(t, examples+"flow_dissector.o", "flow_dissect", nil)
	v4 := func(proto layers.IPProtocol) *layers.IPv4 { return ipv4(proto, "10.0.0.1", "10.0.0.2") }
	firstFrag := v4(layers.IPProtocolTCP)
	firstFrag.Flags = layers.IPv4MoreFragments
	laterFrag := v4(layers.IPProtocolTCP)
	laterFrag.FragOffset = 100
	ip6 := ipv6(layers.IPProtocolUDP)
	ip6.FlowLabel = 0x12345
	a4, b4 := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	a6, b6 := netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2")
	frag := frame(t, eth(layers.EthernetTypeIPv4), firstFrag, tcp(80))
	for _, tc := range []struct {
		name   string
		in     Input
		retval uint32
		keys   FlowKeys // compared whole when retval is BPF_OK
	}{
		{"ipv4 tcp", Input{Packet: frame(t, eth(layers.EthernetTypeIPv4), v4(layers.IPProtocolTCP), tcp(80))}, bpfOK,
			FlowKeys{Nhoff: 14, Thoff: 34, AddrProto: 0x0800, IPProto: 6, NProto: 0x0800, Sport: 1234, Dport: 80, Src: a4, Dst: b4}},
		{"ipv4 udp", Input{Packet: frame(t, eth(layers.EthernetTypeIPv4), v4(layers.IPProtocolUDP), udp(5353, 53), payload)}, bpfOK,
			FlowKeys{Nhoff: 14, Thoff: 34, AddrProto: 0x0800, IPProto: 17, NProto: 0x0800, Sport: 5353, Dport: 53, Src: a4, Dst: b4}},
		{"ipv6 udp", Input{Packet: frame(t, eth(layers.EthernetTypeIPv6), ip6, udp(5353, 53), payload)}, bpfOK,
			FlowKeys{Nhoff: 14, Thoff: 54, AddrProto: 0x86dd, IPProto: 17, NProto: 0x86dd, Sport: 5353, Dport: 53, Src: a6, Dst: b6, FlowLabel: 0x12345}},
		{"ipv4 first fragment", Input{Packet: frag}, bpfOK,
			FlowKeys{Nhoff: 14, Thoff: 34, AddrProto: 0x0800, IsFrag: true, IsFirstFrag: true, IPProto: 6, NProto: 0x0800, Src: a4, Dst: b4}},
		{"ipv4 first fragment parsed", Input{Packet: frag, Context: FlowDissectorContext{Flags: FlowDissectorParse1stFrag}}, bpfOK,
			FlowKeys{Nhoff: 14, Thoff: 34, AddrProto: 0x0800, IsFrag: true, IsFirstFrag: true, IPProto: 6, NProto: 0x0800,
				Sport: 1234, Dport: 80, Src: a4, Dst: b4, Flags: FlowDissectorParse1stFrag}},
		{"ipv4 later fragment", Input{Packet: frame(t, eth(layers.EthernetTypeIPv4), laterFrag, tcp(80)),
			Context: FlowDissectorContext{Flags: FlowDissectorParse1stFrag}}, bpfOK,
			FlowKeys{Nhoff: 14, Thoff: 34, AddrProto: 0x0800, IsFrag: true, IPProto: 6, NProto: 0x0800, Src: a4, Dst: b4, Flags: FlowDissectorParse1stFrag}},
		{"ipv4 tcp cut", Input{Packet: frame(t, eth(layers.EthernetTypeIPv4), v4(layers.IPProtocolTCP), tcp(80))[:14+20+10]}, bpfDrop, FlowKeys{}},
		{"ipv4 cut", Input{Packet: frame(t, eth(layers.EthernetTypeIPv4), v4(layers.IPProtocolTCP), tcp(80))[:14+10]}, bpfDrop, FlowKeys{}},
		{"arp", Input{Packet: frame(t, eth(layers.EthernetTypeARP), gopacket.Payload(make([]byte, 28)))}, bpfDrop, FlowKeys{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := runOK(t, p, tc.in)
			if res.Retval != tc.retval {
				t.Fatalf("retval = %d (%s), want %d", res.Retval, RetvalName(p.Type, p.AttachType, res.Retval), tc.retval)
			}
			k, ok := res.FlowKeys()
			if !ok {
				t.Fatalf("no flow keys in the result (%d context bytes)", len(res.Context))
			}
			if tc.retval == bpfOK && k != tc.keys {
				t.Errorf("flow keys\n got %+v\nwant %+v", k, tc.keys)
			}
		})
	}
}

func TestXDPFragsExample(t *testing.T) {
	p := load(t, examples+"xdp_frags.o", "xdp_frags", nil)
	withTrailer := func(n int, trailer ...byte) []byte {
		b := patterned(n)
		copy(b[n-len(trailer):], trailer)
		return b
	}
	deadbeef := []byte{0xde, 0xad, 0xbe, 0xef}
	linearEnd := patterned(9000)
	copy(linearEnd[3516:], deadbeef) // the end of the linear part, not of the frame
	for _, tc := range []struct {
		name string
		pkt  []byte
		want uint32
	}{
		{"9000 ending de ad be ef", withTrailer(9000, deadbeef...), xdpDrop},
		{"9000 ending de ad be ee", withTrailer(9000, 0xde, 0xad, 0xbe, 0xee), xdpPass},
		{"9000 with de ad be ef at the linear end", linearEnd, xdpPass},
		// bpf_xdp_load_bytes refuses offsets above 0xffff (-EFAULT), so the
		// program aborts on frames of 65540 bytes and more.
		{"65539 ending de ad be ef", withTrailer(65539, deadbeef...), xdpDrop},
		{"65540 ending de ad be ef", withTrailer(65540, deadbeef...), xdpAborted},
		{"largest ending de ad be ef", withTrailer(maxXDPDataIn, deadbeef...), xdpAborted},
		{"frame F", append(frame(t, eth(layers.EthernetTypeIPv4))[:14:14], deadbeef...), xdpDrop},
		{"64 bytes", tcpFrame(t, 80), xdpPass},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := runOK(t, p, Input{Packet: tc.pkt})
			if res.Retval != tc.want {
				t.Errorf("retval = %d, want %d", res.Retval, tc.want)
			}
			if !bytes.Equal(res.Packet, tc.pkt) {
				t.Errorf("data_out (%d bytes) differs from data_in (%d bytes)", len(res.Packet), len(tc.pkt))
			}
		})
	}
	// Below 14 bytes the harness refuses the input, as the kernel would: that
	// way to XDP_ABORTED cannot be reached through BPF_PROG_RUN.
	if _, err := p.Run(Input{Packet: deadbeef}); !IsInputError(err) {
		t.Errorf("4-byte frame: %v, want an InputError", err)
	}
}

// TestChecksumCompleteCatchesStaleChecksum is the control for the
// checksum-complete runs of TestTCRewrite: a program that changes the IPv4
// destination with bpf_skb_store_bytes and fixes no checksum fails the run
// with EBADMSG, so a clean tc_rewrite run means its checksums are consistent.
func TestChecksumCompleteCatchesStaleChecksum(t *testing.T) {
	kerneltest.Skip(t)
	p, err := LoadProgramSpec(&ebpf.ProgramSpec{Name: "stale_csum", Type: ebpf.SchedCLS, License: "GPL",
		Instructions: asm.Instructions{
			asm.StoreImm(asm.R10, -4, 0x016433c6, asm.Word), // 198.51.100.1, stored little-endian
			asm.Mov.Imm(asm.R2, 14+16),                      // IPv4 destination
			asm.Mov.Reg(asm.R3, asm.R10),
			asm.Add.Imm(asm.R3, -4),
			asm.Mov.Imm(asm.R4, 4),
			asm.Mov.Imm(asm.R5, 0), // no BPF_F_RECOMPUTE_CSUM
			asm.FnSkbStoreBytes.Call(),
			asm.Return(),
		}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	pkt := frame(t, eth(layers.EthernetTypeIPv4), ipv4(layers.IPProtocolUDP, "10.0.0.1", "192.0.2.1"), udp(1234, 4000), payload)
	res := runOK(t, p, Input{Packet: pkt}) // fine without the flag
	if res.Retval != 0 || !bytes.Equal(res.Packet[30:34], []byte{198, 51, 100, 1}) {
		t.Fatalf("store_bytes: retval %d, destination % x", res.Retval, res.Packet[30:34])
	}
	res, err = p.Run(Input{Packet: pkt, Flags: FlagSKBChecksumComplete})
	if ferr := HaveSKBChecksumComplete(); ferr != nil {
		if !IsInputError(err) {
			t.Fatalf("kernel without checksum-complete (%v): Run = %v, want an InputError", ferr, err)
		}
		return
	}
	if !errors.Is(err, syscall.EBADMSG) || res.Errno != syscall.EBADMSG {
		t.Errorf("stale checksum with CHECKSUM_COMPLETE: err %v, Errno %d, want EBADMSG", err, res.Errno)
	}
}
