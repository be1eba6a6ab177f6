package mutate

import (
	"encoding/binary"
	"slices"

	"github.com/bpffuzz/bpffuzz/internal/pkt"

	"github.com/bpffuzz/bpffuzz/internal/consume"
)

func init() {
	ops = []op{
		{"flip-bit", flipBit},
		{"interesting", interesting},
		{"dictionary", dictionary},
		{"dictionary", dictionary},
		// Five shares: a field written with what the program compares it
		// with passes one of the program's branches in one mutation, and
		// a parser is a chain of them (falls back to dictionary when the
		// program compares no loaded field).
		{"field", field},
		{"field", field},
		{"field", field},
		{"field", field},
		{"field", field},
		{"truncate", truncate},
		{"insert", insert},
		{"delete", deleteBytes},
		{"ethertype", ethertype},
		{"vlan-push", vlanPush},
		{"vlan-pop", vlanPop},
		{"ipv4-field", ipv4Field},
		{"ipv4-field", ipv4Field},
		{"ipv4-options", ipv4Options},
		{"ipv6-field", ipv6Field},
		{"ipv6-ext", ipv6Ext},
		{"ports", ports},
		{"ports", ports},
		{"tcp-flags", tcpFlags},
		{"tcp-options", tcpOptions},
		{"icmp", icmp},
		{"encap-push", encapPush},
		{"encap-pop", encapPop},
		{"splice", splice},
	}
}

// Names lists the mutations, in table order.
func Names() []string {
	var out []string
	for _, o := range ops {
		if !slices.Contains(out, o.name) {
			out = append(out, o.name)
		}
	}
	return out
}

func intn(d *consume.Decisions, n int) int {
	if n <= 0 {
		return 0
	}
	v, _ := d.Intn(n)
	return v
}

// innermost finds the innermost frame's layout and the offset it starts at.
func innermost(p []byte) (pkt.Layout, int) {
	l, off := pkt.Parse(p, 0), 0
	for i := 0; i < 3 && l.Inner != 0 && !l.InnerIsIP; i++ {
		off = l.Inner
		l = pkt.Parse(p, off)
	}
	return l, off
}

func flipBit(m *Mutator, s *state, d *consume.Decisions) bool {
	if len(s.p) == 0 {
		return false
	}
	i, bit := intn(d, len(s.p)), intn(d, 8)
	s.p[i] ^= 1 << bit
	return true
}

var interestingBytes = []byte{0x00, 0x01, 0x7f, 0x80, 0xff}

func interesting(m *Mutator, s *state, d *consume.Decisions) bool {
	if len(s.p) == 0 {
		return false
	}
	s.p[intn(d, len(s.p))] = interestingBytes[intn(d, len(interestingBytes))]
	return true
}

// dictionary writes a program constant at an offset the program loads
// from, or at a header field, or anywhere.
//
// A load offset in the bytecode is relative to whatever pointer the
// program holds: the frame's start for LD_ABS and for fixed headers, but
// most parsers load a protocol's fields at fixed offsets from its L3 or
// L4 header, whose place depends on the packet (VLAN tags, IP options).
// So an offset is tried from the frame's start and from the innermost L3
// and L4 headers alike.
func dictionary(m *Mutator, s *state, d *consume.Decisions) bool {
	if len(m.dict.Values) == 0 || len(s.p) == 0 {
		return interesting(m, s, d)
	}
	v := m.dict.Values[intn(d, len(m.dict.Values))]
	var at int
	switch intn(d, 3) {
	case 0:
		if len(m.dict.Offsets) > 0 {
			at = m.dict.Offsets[intn(d, len(m.dict.Offsets))]
			l, _ := innermost(s.p)
			if base := []int{0, l.L3, l.L4}[intn(d, 3)]; base > 0 {
				at += base
			}
			break
		}
		fallthrough
	case 1:
		l, _ := innermost(s.p)
		fields := []int{l.Etype, l.L3 + 9, l.L3 + 6, l.L3 + 8, l.L4, l.L4 + 2, l.L4 + 13, l.L4 + 8}
		at = fields[intn(d, len(fields))]
	default:
		at = intn(d, len(s.p))
	}
	if at < 0 || at+len(v) > len(s.p) {
		return false
	}
	copy(s.p[at:], v)
	return true
}

// field writes a constant the program compares a loaded field with, at
// the field's offset from the frame's start, from the innermost L3 or L4
// header, or from the L4 payload: the offset is relative to a pointer the
// program holds, and those are the pointers parsers hold. Only bases the
// field fits behind are drawn from. A zero constant is written half of the
// time as one instead: zero bytes are common in packets (padding, unused
// fields), so the side of a comparison with zero that the packet lacks is
// as often the nonzero one.
func field(m *Mutator, s *state, d *consume.Decisions) bool {
	if len(m.dict.Fields) == 0 || len(s.p) == 0 {
		return dictionary(m, s, d)
	}
	f := m.dict.Fields[intn(d, len(m.dict.Fields))]
	l, _ := innermost(s.p)
	// The frame's start, and the headers' (0 when the packet has none).
	var fit [4]int
	n := 0
	for _, base := range [...]int{0, l.L3, l.L4, payload(l, s.p)} {
		if base+f.Offset+len(f.Value) <= len(s.p) && !slices.Contains(fit[:n], base) {
			fit[n] = base
			n++
		}
	}
	if n == 0 {
		return false
	}
	at := fit[intn(d, n)] + f.Offset
	copy(s.p[at:], f.Value)
	if intn(d, 2) == 1 && !slices.ContainsFunc(f.Value, func(b byte) bool { return b != 0 }) {
		s.p[at] = 1
	}
	return true
}

// payload is where the L4 payload of l starts, 0 if unknown.
func payload(l pkt.Layout, p []byte) int {
	switch {
	case l.L4 == 0:
		return 0
	case l.Proto == 6 && l.L4+12 < len(p):
		return l.L4 + 4*int(p[l.L4+12]>>4)
	case l.Proto == 17 || l.Proto == 1 || l.Proto == 58:
		return l.L4 + 8
	}
	return 0
}

func truncate(m *Mutator, s *state, d *consume.Decisions) bool {
	if len(s.p) <= 1 {
		return false
	}
	l, _ := innermost(s.p)
	cuts := []int{pkt.EthLen, l.L3, l.L3 + 20, l.L4, l.L4 + 8, l.L4 + 20}
	at := cuts[intn(d, len(cuts))]
	if intn(d, 2) == 0 || at <= 0 || at >= len(s.p) {
		at = 1 + intn(d, len(s.p)-1)
	}
	s.p = s.p[:at]
	s.resized = true
	return true
}

func insert(m *Mutator, s *state, d *consume.Decisions) bool {
	n := 1 + intn(d, 16)
	at := intn(d, len(s.p)+1)
	s.p = slices.Insert(s.p, at, make([]byte, n)...)
	for i := at; i < at+n; i++ {
		b, _ := d.Byte()
		s.p[i] = b
	}
	s.resized = true
	return true
}

func deleteBytes(m *Mutator, s *state, d *consume.Decisions) bool {
	if len(s.p) < 2 {
		return false
	}
	at := intn(d, len(s.p)-1)
	n := 1 + intn(d, min(16, len(s.p)-at-1))
	s.p = slices.Delete(s.p, at, at+n)
	s.resized = true
	return true
}

var ethertypes = []uint16{0x0800, 0x86dd, 0x8100, 0x88a8, 0x0806, 0x8847, 0x88cc, 0x0000, 0xffff}

func ethertype(m *Mutator, s *state, d *consume.Decisions) bool {
	l, _ := innermost(s.p)
	if l.Etype == 0 || l.Etype+2 > len(s.p) {
		return false
	}
	binary.BigEndian.PutUint16(s.p[l.Etype:], ethertypes[intn(d, len(ethertypes))])
	return true
}

func vlanPush(m *Mutator, s *state, d *consume.Decisions) bool {
	l, _ := innermost(s.p)
	if l.Etype == 0 {
		return false
	}
	tpid := uint16(0x8100)
	if intn(d, 3) == 0 {
		tpid = 0x88a8
	}
	tci, _ := d.Uint16()
	tag := binary.BigEndian.AppendUint16(binary.BigEndian.AppendUint16(nil, tpid), tci)
	s.p = slices.Insert(s.p, l.Etype, tag...)
	s.resized = true
	return true
}

func vlanPop(m *Mutator, s *state, d *consume.Decisions) bool {
	if len(s.p) < 18 {
		return false
	}
	if et := binary.BigEndian.Uint16(s.p[12:]); et != 0x8100 && et != 0x88a8 {
		return false
	}
	s.p = slices.Delete(s.p, 12, 16)
	s.resized = true
	return true
}

func ipv4Field(m *Mutator, s *state, d *consume.Decisions) bool {
	l, _ := innermost(s.p)
	if l.IPv != 4 {
		return false
	}
	ip := s.p[l.L3:]
	v, _ := d.Uint16()
	switch intn(d, 9) {
	case 0:
		ip[8] = []byte{0, 1, 2, 64, 255}[int(v)%5] // TTL
	case 1:
		ip[9] = []byte{1, 2, 4, 6, 17, 41, 47, 50, 58, 132, byte(v)}[int(v)%11] // protocol
	case 2:
		ip[1] = byte(v) // TOS/ECN
	case 3:
		binary.BigEndian.PutUint16(ip[4:], v) // id
	case 4:
		binary.BigEndian.PutUint16(ip[6:], []uint16{0x2000, 0x4000, 0x0001, 0x2001, 0x1fff, v}[int(v)%6]) // MF, DF, offsets
	case 5:
		ip[0] = 0x40 | byte(v)&0xf // IHL
	case 6:
		binary.BigEndian.PutUint16(ip[2:], v) // total length
		return true
	case 7:
		copy(ip[12:], []byte{byte(v), byte(v >> 8), 0, 1})
	default:
		copy(ip[16:], [][]byte{{127, 0, 0, 1}, {255, 255, 255, 255}, {224, 0, 0, 1}, {10, 0, 0, 1}, {0, 0, 0, 0}}[int(v)%5])
	}
	return true
}

func ipv4Options(m *Mutator, s *state, d *consume.Decisions) bool {
	l, _ := innermost(s.p)
	if l.IPv != 4 || l.L4 == 0 {
		return false
	}
	opts := [][]byte{
		{1, 1, 1, 1},                           // NOPs
		{7, 7, 4, 0, 0, 0, 0, 0},               // record route
		{0x94, 4, 0, 0},                        // router alert
		{68, 12, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0}, // timestamp
		{0xff, 2, 0, 0},                        // unknown
	}
	o := opts[intn(d, len(opts))]
	ihl := int(s.p[l.L3]&0xf)*4 + len(o)
	if ihl > 60 {
		return false
	}
	s.p = slices.Insert(s.p, l.L4, o...)
	s.p[l.L3] = 0x40 | byte(ihl/4)
	s.resized = true
	return true
}

func ipv6Field(m *Mutator, s *state, d *consume.Decisions) bool {
	l, _ := innermost(s.p)
	if l.IPv != 6 {
		return false
	}
	ip := s.p[l.L3:]
	v, _ := d.Uint16()
	switch intn(d, 4) {
	case 0:
		ip[6] = []byte{0, 6, 17, 43, 44, 58, 59, 60, byte(v)}[int(v)%9]
	case 1:
		ip[7] = []byte{0, 1, 64, 255}[int(v)%4]
	case 2:
		ip[1], ip[2], ip[3] = ip[1]&0xf0|byte(v>>12), byte(v>>4), byte(v)
	default:
		ip[0], ip[1] = 0x60|byte(v>>12)&0xf, ip[1]&0x0f|byte(v)&0xf0
	}
	return true
}

// ipv6Ext pushes an extension header right after the fixed header.
func ipv6Ext(m *Mutator, s *state, d *consume.Decisions) bool {
	l, _ := innermost(s.p)
	if l.IPv != 6 {
		return false
	}
	nh := s.p[l.L3+6]
	kinds := []byte{0, 43, 44, 60}
	k := kinds[intn(d, len(kinds))]
	// Eight bytes: next header, length 0 (8 bytes), then PadN or fields.
	ext := []byte{nh, 0, 1, 4, 0, 0, 0, 0}
	switch k {
	case 43:
		ext = []byte{nh, 0, 4, 0, 0, 0, 0, 0} // routing type 4 (SRH) with no segments
	case 44:
		ext = []byte{nh, 0, 0, 0, 0, 0, 0, 1} // fragment, offset 0, no MF, id 1
		if intn(d, 2) == 0 {
			ext[3] = 1 // MF
		}
	}
	s.p = slices.Insert(s.p, l.L3+40, ext...)
	s.p[l.L3+6] = k
	s.resized = true
	return true
}

var commonPorts = []uint16{0, 7, 9, 22, 23, 53, 67, 80, 123, 179, 443, 1024, 4789, 6081, 8080, 8443, 65535}

func ports(m *Mutator, s *state, d *consume.Decisions) bool {
	l, _ := innermost(s.p)
	if (l.Proto != 6 && l.Proto != 17 && l.Proto != 132) || l.L4+4 > len(s.p) {
		return false
	}
	port := commonPorts[intn(d, len(commonPorts))]
	if len(m.dict.Values) > 0 && intn(d, 2) == 0 {
		if v := m.dict.Values[intn(d, len(m.dict.Values))]; len(v) == 2 {
			port = binary.BigEndian.Uint16(v)
		}
	}
	binary.BigEndian.PutUint16(s.p[l.L4+2*intn(d, 2):], port)
	return true
}

func tcpFlags(m *Mutator, s *state, d *consume.Decisions) bool {
	l, _ := innermost(s.p)
	if l.Proto != 6 || l.L4+14 > len(s.p) {
		return false
	}
	flags := []byte{0x02, 0x12, 0x10, 0x11, 0x04, 0x14, 0x18, 0x01, 0x03, 0x22, 0x29, 0x3f, 0x00, 0xff, 0xc2}
	s.p[l.L4+13] = flags[intn(d, len(flags))]
	return true
}

func tcpOptions(m *Mutator, s *state, d *consume.Decisions) bool {
	l, _ := innermost(s.p)
	if l.Proto != 6 || l.L4+20 > len(s.p) {
		return false
	}
	hl := int(s.p[l.L4+12]>>4) * 4
	if hl < 20 || l.L4+hl > len(s.p) {
		return false
	}
	sets := [][]byte{
		{2, 4, 5, 0xb4},                       // MSS 1460
		{2, 4, 5, 0xb4, 1, 3, 3, 7},           // MSS, NOP, window scale 7
		{4, 2, 1, 1},                          // SACK permitted
		{1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0}, // timestamps
		{},                                    // none
		{0xfe, 4, 0xf9, 0x89},                 // experimental (TFO)
		{5, 10, 0, 0, 0, 1, 0, 0, 0, 2, 1, 1}, // SACK block
		{2, 0, 0, 0},                          // option with length 0
	}
	o := sets[intn(d, len(sets))]
	s.p = slices.Replace(s.p, l.L4+20, l.L4+hl, o...)
	s.p[l.L4+12] = byte((20+len(o))/4)<<4 | s.p[l.L4+12]&0x0f
	s.resized = true
	return true
}

func icmp(m *Mutator, s *state, d *consume.Decisions) bool {
	l, _ := innermost(s.p)
	if (l.Proto != 1 && l.Proto != 58) || l.L4+2 > len(s.p) {
		return false
	}
	types := []byte{0, 3, 8, 11, 128, 129, 133, 134, 135, 136, 255}
	s.p[l.L4] = types[intn(d, len(types))]
	s.p[l.L4+1] = byte(intn(d, 16))
	return true
}

// encapPush wraps the frame in a tunnel.
func encapPush(m *Mutator, s *state, d *consume.Decisions) bool {
	if len(s.p) < pkt.EthLen {
		return false
	}
	inner := s.p
	// The outer headers are built in a reused buffer: Ethernet, then IPv4
	// with the protocol set below.
	eth := [...]byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00}
	ip := [...]byte{0x45, 0, 0, 0, 0, 1, 0x40, 0, 64, 0, 0, 0, 192, 0, 2, 100, 192, 0, 2, 200}
	hdr := append(append(m.hdr[:0], eth[:]...), ip[:]...)
	const protoAt = pkt.EthLen + 9
	switch intn(d, 4) {
	case 0: // VXLAN
		hdr[protoAt] = 17
		hdr = append(hdr, 0x30, 0x39, 0x12, 0xb5, 0, 0, 0, 0, 8, 0, 0, 0, 0, 0, 42, 0)
	case 1: // GENEVE
		hdr[protoAt] = 17
		hdr = append(hdr, 0x30, 0x39, 0x17, 0xc1, 0, 0, 0, 0, 0, 0, 0x65, 0x58, 0, 0, 42, 0)
	case 2: // GRE with transparent Ethernet bridging
		hdr[protoAt] = 47
		hdr = append(hdr, 0, 0, 0x65, 0x58)
	default: // IPIP / 6in4: the inner IP packet directly
		l := pkt.Parse(inner, 0)
		if l.L3 == 0 {
			return false
		}
		hdr[protoAt] = 4
		if l.IPv == 6 {
			hdr[protoAt] = 41
		}
		inner = inner[l.L3:]
	}
	m.hdr = hdr
	m.tmp = append(append(m.tmp[:0], hdr...), inner...)
	s.p = append(s.p[:0], m.tmp...)
	s.resized = true
	return true
}

// encapPop strips the outermost encapsulation.
func encapPop(m *Mutator, s *state, d *consume.Decisions) bool {
	l := pkt.Parse(s.p, 0)
	if l.Inner == 0 {
		return false
	}
	if l.InnerIsIP {
		// Keep the outer Ethernet header, with the inner IP's ethertype.
		et := uint16(0x0800)
		if s.p[l.Inner]>>4 == 6 {
			et = 0x86dd
		}
		m.tmp = append(append(m.tmp[:0], s.p[:l.Etype]...), byte(et>>8), byte(et))
		m.tmp = append(m.tmp, s.p[l.Inner:]...)
	} else {
		m.tmp = append(m.tmp[:0], s.p[l.Inner:]...)
	}
	s.p = append(s.p[:0], m.tmp...)
	s.resized = true
	return true
}

// splice joins this packet's headers with another packet's tail.
func splice(m *Mutator, s *state, d *consume.Decisions) bool {
	if len(s.peers) == 0 {
		return false
	}
	peer := s.peers[intn(d, len(s.peers))]
	if len(peer) == 0 {
		return false
	}
	l, _ := innermost(s.p)
	cut := l.L4
	if cut == 0 || cut > len(s.p) {
		cut = intn(d, len(s.p)+1)
	}
	from := intn(d, len(peer))
	s.p = append(s.p[:cut], peer[from:]...)
	s.resized = true
	return true
}
