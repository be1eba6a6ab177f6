package mutate

import (
	"bytes"
	"encoding/hex"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/bpffuzz/bpffuzz/bpf"
	"github.com/bpffuzz/bpffuzz/internal/consume"
	"github.com/bpffuzz/bpffuzz/internal/pkt"
	"github.com/cilium/ebpf"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

var (
	udp4 = mustHex("020000000002020000000001080045000020000100004011f6c0c000020ac000020130390035000cc1d168692121")
	tcp4 = mustHex("020000000002020000000001080045000028000100004006f6c3c000020ac00002019c4000170000000000000000500204008b7f0000")
)

func seeds(t testing.TB) [][]byte {
	eth := &layers.Ethernet{SrcMAC: []byte{2, 0, 0, 0, 0, 1}, DstMAC: []byte{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv6}
	ip6 := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolUDP, SrcIP: make([]byte, 16), DstIP: make([]byte, 16)}
	ip6.SrcIP[15], ip6.DstIP[15] = 1, 2
	u := &layers.UDP{SrcPort: 1000, DstPort: 53}
	u.SetNetworkLayerForChecksum(ip6)
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, eth, ip6, u, gopacket.Payload("hello")); err != nil {
		t.Fatal(err)
	}
	vlan := append(append(append([]byte{}, tcp4[:12]...), 0x81, 0, 0, 100), tcp4[12:]...)
	return [][]byte{udp4, tcp4, buf.Bytes(), vlan}
}

func decisions(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func TestNoDecisionsNoChange(t *testing.T) {
	m := New(nil, Options{})
	for _, s := range seeds(t) {
		if got := m.Packet(nil, s, consume.New(nil), nil); !bytes.Equal(got, s) {
			t.Errorf("packet changed without decisions")
		}
	}
	if c := m.Context(ebpf.XDP, ebpf.AttachNone, nil, consume.New(nil), 60); c != nil {
		t.Errorf("context %v without seed or decisions", c)
	}
}

// TestSlots checks the layout of the decisions: empty slots change
// nothing, and one byte changed in one empty slot already draws from many
// mutations (so that Go's engine, which often changes a single byte, fills
// a slot with any mutation).
func TestSlots(t *testing.T) {
	m := New(&Dictionary{Values: [][]byte{{0x1e, 0x61}}}, Options{})
	empty := make([]byte, m.PacketDecisions())
	empty[0] = 0xff
	if p := m.Packet(nil, udp4, consume.New(empty), nil); !bytes.Equal(p, udp4) {
		t.Errorf("empty slots changed the packet")
	}
	distinct := map[string]bool{}
	for i := 1; i < len(empty); i++ {
		for _, v := range []byte{1, 0x80, 0xff} {
			ops := bytes.Clone(empty)
			ops[i] = v
			distinct[string(m.Packet(nil, udp4, consume.New(ops), nil))] = true
		}
	}
	changes, n := 3*(len(empty)-1), len(distinct)
	t.Logf("%d one-byte changes of empty slots, %d distinct packets", changes, n)
	if n < len(empty)-1 {
		t.Errorf("%d one-byte changes of empty slots gave %d distinct packets", changes, n)
	}
}

func TestDeterministic(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	a, b := New(&Dictionary{Values: [][]byte{{0, 23}}, Offsets: []int{36}}, Options{}), New(&Dictionary{Values: [][]byte{{0, 23}}, Offsets: []int{36}}, Options{})
	ss := seeds(t)
	for range 2000 {
		d := decisions(r, 1+r.IntN(64))
		s := ss[r.IntN(len(ss))]
		p1 := a.Packet(nil, s, consume.New(d), ss)
		p2 := b.Packet(nil, s, consume.New(d), ss)
		if !bytes.Equal(p1, p2) {
			t.Fatalf("same input, different packets")
		}
	}
}

// TestWellFormed: with broken checksums off, nearly all mutated packets of
// well-formed seeds still verify (the rest are deliberate truncations,
// total-length mutations and the like).
func TestWellFormed(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	m := New(nil, Options{BrokenChecksums: -1})
	ok, total := 0, 0
	for _, s := range seeds(t) {
		if err := pkt.Verify(s, 0, false); err != nil {
			t.Fatalf("seed does not verify: %v", err)
		}
		for range 1000 {
			p := m.Packet(nil, s, consume.New(decisions(r, 1+r.IntN(32))), nil)
			total++
			if pkt.Verify(p, 0, false) == nil {
				ok++
			}
		}
	}
	t.Logf("%d of %d mutated packets well-formed (%.0f%%)", ok, total, 100*float64(ok)/float64(total))
	if ok*100 < total*75 {
		t.Errorf("only %d of %d mutated packets are well-formed", ok, total)
	}
}

func TestMutations(t *testing.T) {
	m := New(&Dictionary{Values: [][]byte{{0x1f, 0x90}}}, Options{BrokenChecksums: -1})
	// apply makes one mutation with the given decisions, as a slot of
	// Packet does, lengths and checksums fixed.
	apply := func(name string, seed []byte, d ...byte) []byte {
		for i, o := range ops {
			if o.name == name {
				s := &state{p: bytes.Clone(seed), peers: [][]byte{udp4}}
				m.apply(s, consume.New(append([]byte{byte(i)}, d...)))
				if s.changed {
					pkt.Fix(s.p, 0, false, s.resized)
				}
				return s.p
			}
		}
		t.Fatalf("no mutation %s", name)
		return nil
	}
	if p := apply("vlan-push", tcp4, 0, 0, 100); len(p) != len(tcp4)+4 || (p[12] != 0x81 && p[12] != 0x88) || pkt.Verify(p, 0, false) != nil {
		t.Errorf("vlan-push: % x", p)
	}
	if p := apply("ipv4-field", tcp4, 0, 0, 0); p[22] == tcp4[22] || pkt.Verify(p, 0, false) != nil {
		t.Errorf("ipv4-field TTL: % x", p)
	}
	if p := apply("encap-push", tcp4, 0); pkt.Parse(p, 0).Inner == 0 || pkt.Verify(p, 0, false) != nil {
		t.Errorf("encap-push VXLAN: %v", pkt.Verify(p, 0, false))
	} else if q := apply("encap-pop", p); !bytes.Equal(q, tcp4) {
		t.Errorf("encap-pop did not restore the inner frame")
	}
	if p := apply("ipv4-options", udp4, 1); p[14] != 0x47 || pkt.Verify(p, 0, false) != nil {
		t.Errorf("ipv4-options: % x, %v", p[:20], pkt.Verify(p, 0, false))
	}
	if p := apply("tcp-flags", tcp4, 0); p[47] != 0x02 {
		t.Errorf("tcp-flags: %#x", p[47])
	}
	if p := apply("truncate", tcp4, 0, 1); len(p) != 14 {
		t.Errorf("truncate at the Ethernet header: %d bytes", len(p))
	}
}

func TestContextWithinRules(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	m := New(nil, Options{})
	for range 5000 {
		n := 14 + r.IntN(3000)
		d := consume.New(decisions(r, 32))
		switch c := m.Context(ebpf.XDP, ebpf.AttachNone, nil, d, n).(type) {
		case nil:
		case bpf.XDPContext:
			if c.MetaLen%4 != 0 || c.MetaLen > PortableMetaLimit || int(c.LinearLen) > n || c.RxQueueIndex != 0 || c.IngressIfindex > 1 {
				t.Fatalf("xdp ctx %+v for %d bytes", c, n)
			}
		default:
			t.Fatalf("xdp got %T", c)
		}
		for _, typ := range []ebpf.ProgramType{ebpf.SchedCLS, ebpf.SocketFilter} {
			c, _ := m.Context(typ, ebpf.AttachNone, nil, consume.New(decisions(r, 32)), n).(bpf.SKBContext)
			skbLen := n
			if bpf.SeesL3(typ) {
				skbLen -= 14
			}
			if (c.WireLen != 0 && (int(c.WireLen) < skbLen || c.WireLen > 65536)) || c.GSOSegs > 65535 || c.Ifindex > 1 {
				t.Fatalf("%s ctx %+v for %d bytes", typ, c, n)
			}
		}
	}
}

func TestDictionaryFrom(t *testing.T) {
	spec, err := ebpf.LoadCollectionSpec("../examples/xdp_parser.o")
	if err != nil {
		t.Fatal(err)
	}
	d := DictionaryFrom(spec.Programs["xdp_parser"].Instructions)
	has := func(b ...byte) bool {
		for _, v := range d.Values {
			if bytes.Equal(v, b) {
				return true
			}
		}
		return false
	}
	for _, want := range [][]byte{{0x17, 0x00}, {0x00, 0x17}, {0x08, 0x00}, {0x00, 0x08}, {0x81, 0x00}} {
		if !has(want...) {
			t.Errorf("dictionary lacks % x (has %d values)", want, len(d.Values))
		}
	}
	spec, err = ebpf.LoadCollectionSpec("../examples/socket_filter.o")
	if err != nil {
		t.Fatal(err)
	}
	if d := DictionaryFrom(spec.Programs["sock_filter"].Instructions); len(d.Offsets) == 0 {
		t.Errorf("no LD_ABS offsets from the socket filter")
	}
}

func FuzzPacket(f *testing.F) {
	f.Add(udp4, []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22})
	f.Add(tcp4, []byte{0, 20, 0, 0, 21, 0, 14, 9})
	f.Add([]byte{}, []byte{0, 5, 1, 2, 8, 4})
	m := New(&Dictionary{Values: [][]byte{{1}, {0, 53}, {1, 2, 3, 4}}, Offsets: []int{0, 12, 1000},
		Fields: []Field{{2, []byte{0x1e, 0x61}}, {8, []byte("BPFT")}, {300, []byte{1}}}}, Options{})
	f.Fuzz(func(t *testing.T, seed, ops []byte) {
		p := m.Packet(nil, seed, consume.New(ops), [][]byte{udp4, nil})
		if len(p) > 3712 {
			t.Fatalf("packet of %d bytes above MaxLen", len(p))
		}
		q := New(m.dict, Options{}).Packet(nil, seed, consume.New(ops), [][]byte{udp4, nil})
		if !bytes.Equal(p, q) {
			t.Fatal("not deterministic")
		}
		m.Context(ebpf.SchedCLS, ebpf.AttachNone, seed, consume.New(ops), len(p))
		m.Context(ebpf.XDP, ebpf.AttachNone, seed, consume.New(ops), len(p))
		m.Context(ebpf.SkLookup, ebpf.AttachSkLookup, seed, consume.New(ops), 0)
	})
}

func BenchmarkPacket(b *testing.B) {
	r := rand.New(rand.NewPCG(7, 8))
	m := New(nil, Options{})
	ds := make([][]byte, 256)
	for i := range ds {
		ds[i] = decisions(r, 24)
	}
	dst := make([]byte, 0, 4096)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		dst = m.Packet(dst, tcp4, consume.New(ds[i%len(ds)]), nil)
	}
}

// TestEncapPopShortInner is the crash the engine found: an IPIP header
// with nothing after it.
func TestEncapPopShortInner(t *testing.T) {
	p := append(append([]byte{}, udp4[:14]...), 0x45, 0, 0, 20, 0, 0, 0, 0, 64, 4, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8)
	m := New(nil, Options{})
	for b := range 256 {
		m.Packet(nil, p, consume.New([]byte{0, byte(b), 1, 2, 3}), nil)
	}
}

// TestDictionaryRelativeOffsets checks that a load offset from the bytecode
// is tried from the frame's start and from the L3 and L4 headers: a parser
// reads a protocol's fields at fixed offsets from its header, wherever that
// header is. (Any offset gets the value now and then; these get it often.)
func TestDictionaryRelativeOffsets(t *testing.T) {
	const off, v = 5, 0xa5
	m := New(&Dictionary{Values: [][]byte{{v}}, Offsets: []int{off}}, Options{BrokenChecksums: -1})
	l := pkt.Parse(udp4, 0)
	count := make([]int, len(udp4))
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		p := m.Packet(nil, udp4, consume.New(decisions(r, 6)), nil)
		if len(p) != len(udp4) {
			continue
		}
		for at := range p {
			if p[at] == v && udp4[at] != v {
				count[at]++
			}
		}
	}
	typical := slices.Clone(count)
	slices.Sort(typical)
	median := typical[len(typical)/2]
	for _, at := range []int{off, l.L3 + off, l.L4 + off} {
		if count[at] < 4*median+10 {
			t.Errorf("offset %d got the dictionary value %d times, a typical offset %d (L3 at %d, L4 at %d)", at, count[at], median, l.L3, l.L4)
		}
	}
}

// TestDictionaryFields checks the loaded-and-compared fields of xdp_tlv
// (examples/planted.c): its header and option tests, at their offsets
// from the UDP header, including those read through a pointer moved past
// earlier options.
func TestDictionaryFields(t *testing.T) {
	spec, err := ebpf.LoadCollectionSpec("../examples/planted.o")
	if err != nil {
		t.Fatal(err)
	}
	d := DictionaryFrom(spec.Programs["xdp_tlv"].Instructions)
	for _, want := range []Field{
		{2, []byte{0x1e, 0x61}}, // UDP destination port 7777
		{8, []byte("BPFT")},     // the magic, through hdr = udp + 8
		{12, []byte{2}},         // version
		{16, []byte{1}},         // option 1's type, through opt = hdr + 8
		{22, []byte{5}},         // the debug option's type
		{23, []byte{6}},         // and its length
	} {
		if !slices.ContainsFunc(d.Fields, func(f Field) bool { return f.Offset == want.Offset && bytes.Equal(f.Value, want.Value) }) {
			t.Errorf("no field % x at %d in %v", want.Value, want.Offset, d.Fields)
		}
	}
}

// TestFieldBases checks the field mutation: it writes at the field's
// offset from each base the field fits behind (frame, L3, L4, L4 payload)
// and at no other place, and writes a zero constant as one half of the time.
func TestFieldBases(t *testing.T) {
	l := pkt.Parse(udp4, 0)
	const off = 3
	m := New(&Dictionary{Fields: []Field{{off, []byte{0}}}}, Options{BrokenChecksums: -1})
	seed := bytes.Clone(udp4)
	for _, b := range []int{off, l.L3 + off, l.L4 + off, l.L4 + 8 + off} {
		seed[b] = 0x5a // neither zero nor one
	}
	wrote := map[int]map[byte]int{}
	for b := range 256 {
		for c := range 2 {
			s := &state{p: bytes.Clone(seed)}
			// Decisions: the field, the base, zero or one.
			if !field(m, s, consume.New([]byte{0, byte(b), byte(c)})) {
				t.Fatalf("field did not apply to a %d-byte packet", len(seed))
			}
			for at := range s.p {
				if s.p[at] != seed[at] {
					if wrote[at] == nil {
						wrote[at] = map[byte]int{}
					}
					wrote[at][s.p[at]]++
				}
			}
		}
	}
	for _, at := range []int{off, l.L3 + off, l.L4 + off, l.L4 + 8 + off} {
		if wrote[at][0] == 0 || wrote[at][1] == 0 {
			t.Errorf("offset %d: written %v, want both 0 and 1", at, wrote[at])
		}
		delete(wrote, at)
	}
	if len(wrote) != 0 {
		t.Errorf("written elsewhere: %v", wrote)
	}
	// A field that fits behind the frame, L3 and L4 but not the payload's
	// start applies on every draw, at one of the three.
	last := len(udp4) - 1 - l.L4
	m = New(&Dictionary{Fields: []Field{{last, []byte{7}}}}, Options{})
	for b := range 256 {
		s := &state{p: bytes.Clone(udp4)}
		if !field(m, s, consume.New([]byte{0, byte(b), 0})) {
			t.Fatalf("base draw %d: a field that fits behind three bases did not apply", b)
		}
		at := 0
		for at < len(udp4) && s.p[at] == udp4[at] {
			at++
		}
		if at != last && at != l.L3+last && at != l.L4+last {
			t.Fatalf("base draw %d: written at %d", b, at)
		}
	}
	// A field that fits behind no base does not apply.
	m = New(&Dictionary{Fields: []Field{{len(udp4), []byte{7}}}}, Options{})
	if field(m, &state{p: bytes.Clone(udp4)}, consume.New([]byte{0, 0, 0, 0})) {
		t.Errorf("a field past the packet's end applied")
	}
}
