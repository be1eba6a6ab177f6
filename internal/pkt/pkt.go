// Package pkt finds the headers of a packet (Ethernet, VLAN, IPv4, IPv6 and
// its extension headers, TCP, UDP, ICMP, and VXLAN, GENEVE, GRE, IPIP and
// 6in4 encapsulations), fixes their lengths and checksums, and verifies
// them. It parses by hand, without allocating, for the per-execution path.
package pkt

import (
	"encoding/binary"
	"fmt"
)

// EthLen is the Ethernet header length.
const EthLen = 14

const ethLen = EthLen

var be = binary.BigEndian

// Layout is where the headers of a packet are, as far as they parse.
type Layout struct {
	Etype int // offset of the innermost ethertype field of this frame
	L3    int // IP header offset, 0 if none
	IPv   int // 4 or 6
	L4    int // L4 header offset, 0 if none
	Proto int // L4 protocol
	Frag  bool
	// Inner is the offset of an encapsulated frame (Ethernet for VXLAN,
	// GENEVE, GRE-TEB) or IP packet (IPIP, 6in4, GRE-IP), 0 if none.
	Inner     int
	InnerIsIP bool
}

// Parse finds the headers of the frame starting at off.
func Parse(p []byte, off int) Layout {
	var l Layout
	if len(p) < off+ethLen {
		return l
	}
	pos := off + 12
	for i := 0; i < 2 && pos+6 <= len(p); i++ {
		et := be.Uint16(p[pos:])
		if et != 0x8100 && et != 0x88a8 {
			break
		}
		pos += 4
	}
	l.Etype = pos
	if pos+2 > len(p) {
		return l
	}
	parseIP(&l, p, pos+2, be.Uint16(p[pos:]))
	return l
}

func parseIP(l *Layout, p []byte, at int, etype uint16) {
	switch etype {
	case 0x0800:
		if at+20 > len(p) || p[at]>>4 != 4 {
			return
		}
		ihl := int(p[at]&0xf) * 4
		l.L3, l.IPv = at, 4
		if ihl < 20 || at+ihl > len(p) {
			return
		}
		l.Proto = int(p[at+9])
		l.Frag = be.Uint16(p[at+6:])&0x3fff != 0
		l.L4 = at + ihl
	case 0x86dd:
		if at+40 > len(p) || p[at]>>4 != 6 {
			return
		}
		l.L3, l.IPv = at, 6
		nh, off := int(p[at+6]), at+40
		for i := 0; i < 4; i++ {
			switch nh {
			case 0, 43, 60:
				if off+8 > len(p) {
					return
				}
				nh, off = int(p[off]), off+(int(p[off+1])+1)*8
				continue
			case 44:
				if off+8 > len(p) {
					return
				}
				l.Frag = be.Uint16(p[off+2:])&0xfff9 != 0
				nh, off = int(p[off]), off+8
				continue
			}
			break
		}
		if off > len(p) {
			return
		}
		l.Proto, l.L4 = nh, off
	default:
		return
	}
	if l.Frag {
		return
	}
	// Encapsulations.
	switch l.Proto {
	case 17:
		if l.L4+8 > len(p) {
			return
		}
		switch be.Uint16(p[l.L4+2:]) {
		case 4789:
			if l.L4+16+ethLen <= len(p) {
				l.Inner = l.L4 + 16
			}
		case 6081:
			if l.L4+16 <= len(p) {
				optLen := int(p[l.L4+8]&0x3f) * 4
				if at := l.L4 + 16 + optLen; at+ethLen <= len(p) && be.Uint16(p[l.L4+10:]) == 0x6558 {
					l.Inner = at
				}
			}
		}
	case 47: // GRE, base header without options
		if l.L4+4 <= len(p) && be.Uint16(p[l.L4:])&0xb000 == 0 {
			switch be.Uint16(p[l.L4+2:]) {
			case 0x6558:
				l.Inner = l.L4 + 4
			case 0x0800, 0x86dd:
				if l.L4+4+20 <= len(p) {
					l.Inner, l.InnerIsIP = l.L4+4, true
				}
			}
		}
	case 4, 41:
		if l.L4+20 <= len(p) {
			l.Inner, l.InnerIsIP = l.L4, true
		}
	}
}

// Checksum is the Internet checksum of b, folded, starting from sum.
func Checksum(sum uint32, b []byte) uint16 {
	// Eight bytes a step, as two 32-bit words: folding a sum of 32-bit
	// words gives the same one's-complement sum as adding 16-bit ones
	// (2^16 is 1 modulo 2^16-1), in a quarter of the steps (which matters
	// most under go test -fuzz, where every loop test is instrumented).
	s := uint64(sum)
	for len(b) >= 8 {
		x := binary.BigEndian.Uint64(b)
		s += x>>32 + x&0xffffffff
		b = b[8:]
	}
	for len(b) >= 2 {
		s += uint64(be.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		s += uint64(b[0]) << 8
	}
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return ^uint16(s)
}

// Fix makes the lengths (when resized) and checksums of the frame at off
// and everything it encapsulates consistent, innermost first.
func Fix(p []byte, off int, ipOnly, resized bool) {
	var l Layout
	if ipOnly {
		if off >= len(p) {
			return
		}
		et := uint16(0x0800)
		if p[off]>>4 == 6 {
			et = 0x86dd
		}
		parseIP(&l, p, off, et)
	} else {
		l = Parse(p, off)
	}
	if l.L3 == 0 {
		return
	}
	if l.Inner != 0 {
		Fix(p, l.Inner, l.InnerIsIP, resized)
	}
	end := len(p)
	if l.IPv == 4 {
		ip := p[l.L3:]
		if resized {
			be.PutUint16(ip[2:], uint16(len(ip)))
		} else if t := int(be.Uint16(ip[2:])); t >= 20 && l.L3+t <= len(p) {
			end = l.L3 + t
		}
		ihl := int(ip[0]&0xf) * 4
		if ihl >= 20 && ihl <= len(ip) {
			ip[10], ip[11] = 0, 0
			be.PutUint16(ip[10:], Checksum(0, ip[:ihl]))
		}
	} else {
		ip := p[l.L3:]
		if resized {
			be.PutUint16(ip[4:], uint16(len(ip)-40))
		} else if t := int(be.Uint16(ip[4:])); l.L3+40+t <= len(p) {
			end = l.L3 + 40 + t
		}
	}
	if l.L4 == 0 || l.Frag || l.L4 > end {
		return
	}
	seg := p[l.L4:end]
	var sum uint32
	pseudo := func() {
		n := len(seg)
		if l.IPv == 4 {
			sum = uint32(be.Uint16(p[l.L3+12:])) + uint32(be.Uint16(p[l.L3+14:])) + uint32(be.Uint16(p[l.L3+16:])) + uint32(be.Uint16(p[l.L3+18:]))
		} else {
			for i := 8; i < 40; i += 2 {
				sum += uint32(be.Uint16(p[l.L3+i:]))
			}
		}
		sum += uint32(l.Proto) + uint32(n>>16) + uint32(n&0xffff)
	}
	switch l.Proto {
	case 6:
		if len(seg) < 20 {
			return
		}
		seg[16], seg[17] = 0, 0
		pseudo()
		be.PutUint16(seg[16:], Checksum(sum, seg))
	case 17:
		if len(seg) < 8 {
			return
		}
		if resized {
			be.PutUint16(seg[4:], uint16(len(seg)))
		}
		if l.IPv == 4 && be.Uint16(seg[6:]) == 0 {
			return // no checksum over IPv4: valid, leave it
		}
		seg[6], seg[7] = 0, 0
		pseudo()
		c := Checksum(sum, seg)
		if c == 0 {
			c = 0xffff
		}
		be.PutUint16(seg[6:], c)
	case 1:
		if len(seg) < 4 {
			return
		}
		seg[2], seg[3] = 0, 0
		be.PutUint16(seg[2:], Checksum(0, seg))
	case 58:
		if len(seg) < 4 || l.IPv != 6 {
			return
		}
		seg[2], seg[3] = 0, 0
		pseudo()
		be.PutUint16(seg[2:], Checksum(sum, seg))
	}
}

// ParseIP finds the headers of an IP packet starting at off (no Ethernet
// header), as programs of the L3 types see it.
func ParseIP(p []byte, off int) Layout {
	var l Layout
	if off >= len(p) {
		return l
	}
	et := uint16(0x0800)
	if p[off]>>4 == 6 {
		et = 0x86dd
	}
	parseIP(&l, p, off, et)
	return l
}

// Verify checks that the IP packet in the frame at off (or, with ipOnly,
// the IP packet at off) is well-formed: headers complete, IP length fields
// not beyond the data (Ethernet padding after them is allowed), UDP length
// equal to its IP payload, and IPv4 header, TCP, UDP (or zero over IPv4)
// and ICMP checksums valid, for every encapsulated packet too. Frames that
// carry no IP are not checked (nil). It returns the first problem.
func Verify(p []byte, off int, ipOnly bool) error {
	var pr problem
	if verify(p, off, ipOnly, &pr) {
		return nil
	}
	return pr.err()
}

// WellFormed reports whether Verify finds nothing wrong, without
// allocating: the oracles ask it of every input.
func WellFormed(p []byte, off int, ipOnly bool) bool {
	var pr problem
	return verify(p, off, ipOnly, &pr)
}

// problem is what verify found, formatted only when asked for.
type problem struct {
	format string
	args   [2]int
	n      int
	inner  int // how many encapsulations deep
}

func (pr *problem) set(format string, a ...int) bool {
	pr.format, pr.n = format, copy(pr.args[:], a)
	return false
}

func (pr *problem) err() error {
	args := make([]any, pr.n)
	for i := range args {
		args[i] = pr.args[i]
	}
	err := fmt.Errorf(pr.format, args...)
	for range pr.inner {
		err = fmt.Errorf("inner packet: %w", err)
	}
	return err
}

func verify(p []byte, off int, ipOnly bool, pr *problem) bool {
	var l Layout
	if ipOnly {
		l = ParseIP(p, off)
	} else {
		l = Parse(p, off)
	}
	if l.L3 == 0 {
		if !ipOnly && l.Etype != 0 && l.Etype+2 <= len(p) {
			if et := be.Uint16(p[l.Etype:]); et == 0x0800 || et == 0x86dd {
				return pr.set("ethertype %#04x but the IP header is incomplete", int(et))
			}
		}
		return true
	}
	end := len(p)
	if l.IPv == 4 {
		ip := p[l.L3:]
		ihl := int(ip[0]&0xf) * 4
		if ihl < 20 || ihl > len(ip) {
			return pr.set("IPv4 header length %d with %d bytes", ihl, len(ip))
		}
		t := int(be.Uint16(ip[2:]))
		if t < ihl || t > len(ip) {
			return pr.set("IPv4 total length %d, but %d bytes follow the Ethernet header", t, len(ip))
		}
		end = l.L3 + t
		if Checksum(0, ip[:ihl]) != 0 {
			return pr.set("IPv4 header checksum %#04x is wrong", int(be.Uint16(ip[10:])))
		}
	} else {
		t := int(be.Uint16(p[l.L3+4:]))
		if l.L3+40+t > len(p) {
			return pr.set("IPv6 payload length %d, but %d bytes follow the header", t, len(p)-l.L3-40)
		}
		end = l.L3 + 40 + t
	}
	if l.L4 == 0 {
		return pr.set("IPv%d headers incomplete", l.IPv)
	}
	if l.Frag {
		return true
	}
	if l.L4 > end {
		return pr.set("IPv%d extension headers run past the payload", l.IPv)
	}
	seg := p[l.L4:end]
	pseudo := func() uint32 {
		var sum uint32
		if l.IPv == 4 {
			for i := 12; i < 20; i += 2 {
				sum += uint32(be.Uint16(p[l.L3+i:]))
			}
		} else {
			for i := 8; i < 40; i += 2 {
				sum += uint32(be.Uint16(p[l.L3+i:]))
			}
		}
		return sum + uint32(l.Proto) + uint32(len(seg)>>16) + uint32(len(seg)&0xffff)
	}
	switch l.Proto {
	case 6:
		if len(seg) < 20 || int(seg[12]>>4)*4 < 20 || int(seg[12]>>4)*4 > len(seg) {
			return pr.set("TCP header incomplete or data offset wrong (%d bytes)", len(seg))
		}
		if Checksum(pseudo(), seg) != 0 {
			return pr.set("TCP checksum %#04x is wrong", int(be.Uint16(seg[16:])))
		}
	case 17:
		if len(seg) < 8 {
			return pr.set("UDP header incomplete (%d bytes)", len(seg))
		}
		if n := int(be.Uint16(seg[4:])); n != len(seg) {
			return pr.set("UDP length %d, but the IP payload is %d bytes", n, len(seg))
		}
		if !(l.IPv == 4 && be.Uint16(seg[6:]) == 0) && Checksum(pseudo(), seg) != 0 {
			return pr.set("UDP checksum %#04x is wrong", int(be.Uint16(seg[6:])))
		}
	// ICMP belongs to IPv4 and ICMPv6 to IPv6: the other IP version's
	// protocol 1 or 58 is just bytes, with no checksum to keep (an address
	// rewrite leaves an ICMPv6 checksum over an IPv4 pseudo header stale,
	// and no stack would look at it).
	case 1:
		if l.IPv == 4 && len(seg) >= 4 && Checksum(0, seg) != 0 {
			return pr.set("ICMP checksum is wrong")
		}
	case 58:
		if l.IPv == 6 && len(seg) >= 4 && Checksum(pseudo(), seg) != 0 {
			return pr.set("ICMPv6 checksum is wrong")
		}
	}
	if l.Inner != 0 && !verify(p[:end], l.Inner, l.InnerIsIP, pr) {
		pr.inner++
		return false
	}
	return true
}
