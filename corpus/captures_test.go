package corpus

import (
	"bytes"
	"encoding/binary"
	"flag"
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

var update = flag.Bool("update", false, "rewrite golden files and generated fixtures")

// The capture fixtures in testdata/captures are generated here, byte for
// byte: TestCaptureFixtures fails when a committed file differs from what
// this code makes, and go test -update rewrites them. They cover the pcap
// and pcapng shapes the importer must read and the damage it must report.

var (
	macA = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x0a}
	macB = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x0b}
	ipA  = net.IP{192, 0, 2, 1}
	ipB  = net.IP{192, 0, 2, 2}
	ip6A = net.ParseIP("2001:db8::1")
	ip6B = net.ParseIP("2001:db8::2")
)

func serialize(ls ...gopacket.SerializableLayer) []byte {
	buf := gopacket.NewSerializeBuffer()
	for _, l := range ls {
		if u, ok := l.(*layers.UDP); ok {
			for _, n := range ls {
				if nl, ok := n.(gopacket.NetworkLayer); ok {
					u.SetNetworkLayerForChecksum(nl)
				}
			}
		}
	}
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		panic(err)
	}
	return slices.Clone(buf.Bytes())
}

func ip4UDP(payload string) []gopacket.SerializableLayer {
	return []gopacket.SerializableLayer{
		&layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: ipA, DstIP: ipB},
		&layers.UDP{SrcPort: 40000, DstPort: 53},
		gopacket.Payload(payload),
	}
}

func ip6UDP(payload string) []gopacket.SerializableLayer {
	return []gopacket.SerializableLayer{
		&layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolUDP, SrcIP: ip6A, DstIP: ip6B},
		&layers.UDP{SrcPort: 40000, DstPort: 53},
		gopacket.Payload(payload),
	}
}

func eth(t layers.EthernetType, rest ...gopacket.SerializableLayer) []byte {
	return serialize(append([]gopacket.SerializableLayer{&layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: t}}, rest...)...)
}

func ethARP() []byte {
	return eth(layers.EthernetTypeARP, &layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4,
		HwAddressSize: 6, ProtAddressSize: 4, Operation: layers.ARPRequest, SourceHwAddress: macA, SourceProtAddress: ipA,
		DstHwAddress: make([]byte, 6), DstProtAddress: ipB})
}

// sll is a Linux cooked v1 header (16 bytes) before payload.
func sll(proto uint16, payload []byte) []byte {
	h := make([]byte, 16)
	binary.BigEndian.PutUint16(h[0:], 0) // to us
	binary.BigEndian.PutUint16(h[2:], 1) // ARPHRD_ETHER
	binary.BigEndian.PutUint16(h[4:], 6)
	copy(h[6:], macA)
	binary.BigEndian.PutUint16(h[14:], proto)
	return append(h, payload...)
}

// sll2 is a Linux cooked v2 header (20 bytes) before payload.
func sll2(proto uint16, payload []byte) []byte {
	h := make([]byte, 20)
	binary.BigEndian.PutUint16(h[0:], proto)
	binary.BigEndian.PutUint32(h[4:], 2) // ifindex
	binary.BigEndian.PutUint16(h[8:], 1)
	h[11] = 6
	copy(h[12:], macA)
	return append(h, payload...)
}

// pcapFile builds a classic pcap file.
type pcapFile struct {
	bo   binary.ByteOrder
	buf  bytes.Buffer
	nsec bool
}

func newPcap(bo binary.ByteOrder, nsec bool, major, minor uint16, snaplen uint32, lt layers.LinkType) *pcapFile {
	p := &pcapFile{bo: bo, nsec: nsec}
	magic := uint32(0xa1b2c3d4)
	if nsec {
		magic = 0xa1b23c4d
	}
	h := make([]byte, 24)
	bo.PutUint32(h[0:], magic)
	bo.PutUint16(h[4:], major)
	bo.PutUint16(h[6:], minor)
	bo.PutUint32(h[16:], snaplen)
	bo.PutUint32(h[20:], uint32(lt))
	p.buf.Write(h)
	return p
}

// packet appends a record of captured data and wire length wire (0: the
// captured length).
func (p *pcapFile) packet(sec uint32, data []byte, wire int) *pcapFile {
	if wire == 0 {
		wire = len(data)
	}
	h := make([]byte, 16)
	p.bo.PutUint32(h[0:], 1700000000+sec)
	frac := uint32(250)
	if p.nsec {
		frac = 999999999 // only valid with nanosecond resolution
	}
	p.bo.PutUint32(h[4:], frac)
	p.bo.PutUint32(h[8:], uint32(len(data)))
	p.bo.PutUint32(h[12:], uint32(wire))
	p.buf.Write(h)
	p.buf.Write(data)
	return p
}

// ngFile builds a pcapng file block by block; each section has its own
// byte order.
type ngFile struct {
	bo  binary.ByteOrder
	buf bytes.Buffer
}

func ngOpt(bo binary.ByteOrder, code uint16, val []byte) []byte {
	b := make([]byte, 4, 4+len(val)+3)
	bo.PutUint16(b[0:], code)
	bo.PutUint16(b[2:], uint16(len(val)))
	b = append(b, val...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func ngOpts(bo binary.ByteOrder, opts ...[]byte) []byte {
	if len(opts) == 0 {
		return nil
	}
	return append(bytes.Join(opts, nil), make([]byte, 4)...) // opt_endofopt
}

// block appends a block; length, when not zero, overrides the true total
// length in the header (to corrupt it).
func (f *ngFile) block(typ uint32, body []byte, length uint32) *ngFile {
	for len(body)%4 != 0 {
		body = append(body, 0)
	}
	total := uint32(12 + len(body))
	if length == 0 {
		length = total
	}
	h := make([]byte, 8)
	f.bo.PutUint32(h[0:], typ)
	f.bo.PutUint32(h[4:], length)
	f.buf.Write(h)
	f.buf.Write(body)
	t := make([]byte, 4)
	f.bo.PutUint32(t, total)
	f.buf.Write(t)
	return f
}

func (f *ngFile) shb(bo binary.ByteOrder, major, minor uint16) *ngFile {
	f.bo = bo
	b := make([]byte, 16)
	bo.PutUint32(b[0:], 0x1a2b3c4d)
	bo.PutUint16(b[4:], major)
	bo.PutUint16(b[6:], minor)
	binary.LittleEndian.PutUint64(b[8:], ^uint64(0)) // section length unknown
	b = append(b, ngOpts(bo, ngOpt(bo, 4, []byte("bpffuzz corpus test")))...)
	return f.block(0x0a0d0d0a, b, 0)
}

func (f *ngFile) idb(lt layers.LinkType, snaplen uint32, opts ...[]byte) *ngFile {
	b := make([]byte, 8)
	f.bo.PutUint16(b[0:], uint16(lt))
	f.bo.PutUint32(b[4:], snaplen)
	return f.block(1, append(b, ngOpts(f.bo, opts...)...), 0)
}

func (f *ngFile) epb(iface uint32, data []byte, wire int, opts ...[]byte) *ngFile {
	if wire == 0 {
		wire = len(data)
	}
	b := make([]byte, 20)
	f.bo.PutUint32(b[0:], iface)
	f.bo.PutUint32(b[4:], 0x0005e2a1)
	f.bo.PutUint32(b[8:], 0x12345678)
	f.bo.PutUint32(b[12:], uint32(len(data)))
	f.bo.PutUint32(b[16:], uint32(wire))
	b = append(b, data...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return f.block(6, append(b, ngOpts(f.bo, opts...)...), 0)
}

func (f *ngFile) spb(data []byte, wire int) *ngFile {
	if wire == 0 {
		wire = len(data)
	}
	b := make([]byte, 4)
	f.bo.PutUint32(b, uint32(wire))
	return f.block(3, append(b, data...), 0)
}

// opb is the obsolete Packet Block (type 2) that old captures still hold.
func (f *ngFile) opb(iface uint16, data []byte) *ngFile {
	b := make([]byte, 20)
	f.bo.PutUint16(b[0:], iface)
	f.bo.PutUint32(b[12:], uint32(len(data)))
	f.bo.PutUint32(b[16:], uint32(len(data)))
	return f.block(2, append(b, data...), 0)
}

func (f *ngFile) isb(iface uint32) *ngFile {
	b := make([]byte, 12)
	f.bo.PutUint32(b, iface)
	return f.block(5, b, 0)
}

// fixtures returns the capture fixtures by file name.
func fixtures() map[string][]byte {
	le, be := binary.LittleEndian, binary.BigEndian
	udp4 := eth(layers.EthernetTypeIPv4, ip4UDP("query one")...)
	udp6 := eth(layers.EthernetTypeIPv6, ip6UDP("query six")...)
	big := eth(layers.EthernetTypeIPv4, ip4UDP(string(bytes.Repeat([]byte("x"), 400)))...)
	raw4 := serialize(ip4UDP("raw four")...)
	raw6 := serialize(ip6UDP("raw six")...)
	bigRaw4 := serialize(ip4UDP(string(bytes.Repeat([]byte("y"), 100)))...)
	wlan := []byte{0x08, 0x02, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 0x0a, 2, 0, 0, 0, 0, 0x0b, 0, 0}
	nflog := append([]byte{2, 0, 0, 0}, raw4...)
	ppp := append([]byte{0xff, 0x03, 0x00, 0x21}, raw4...)
	tsresolNsec := ngOpt(be, 9, []byte{9})

	m := map[string][]byte{}
	m["ethernet-be-nsec.pcap"] = newPcap(be, true, 2, 4, 96, layers.LinkTypeEthernet).
		packet(0, udp4, 0).
		packet(1, big[:96], len(big)). // cut by snaplen
		packet(2, udp4, 0).            // the same frame again
		packet(3, ethARP(), 0).
		buf.Bytes()
	m["raw-le-usec.pcap"] = newPcap(le, false, 2, 4, 65535, layers.LinkTypeRaw).
		packet(0, raw4, 0).
		packet(1, raw6, 0).
		packet(2, append([]byte{0x50}, raw4[1:]...), 0). // IP version 5
		packet(3, nil, 0).                               // nothing captured
		buf.Bytes()
	m["ipv4-228.pcap"] = newPcap(le, false, 2, 4, 65535, layers.LinkTypeIPv4).packet(0, raw4, 0).buf.Bytes()
	m["header-only.pcap"] = newPcap(le, false, 2, 4, 65535, layers.LinkTypeEthernet).buf.Bytes()

	ng := &ngFile{}
	// Section 1, little-endian: Ethernet, SLL, 802.11; an SPB; statistics.
	ng.shb(le, 1, 0).
		idb(layers.LinkTypeEthernet, 0, ngOpt(le, 2, []byte("eth0"))).
		idb(layers.LinkTypeLinuxSLL, 0).
		idb(layers.LinkTypeIEEE802_11, 0).
		epb(0, udp4, 0, ngOpt(le, 1, []byte("a comment"))).
		epb(1, sll(0x0800, raw4), 0).
		epb(2, wlan, 0).
		spb(ethARP(), 0).
		isb(0).
		block(0x00000bad, []byte("custom block, skipped"), 0)
	// Section 2, big-endian: SLL2 with nanosecond timestamps and a snaplen,
	// NULL, NFLOG, raw IPv6, OpenBSD LOOP.
	nullHdr := binary.LittleEndian.AppendUint32(nil, 2) // AF_INET, host order
	loopHdr := binary.BigEndian.AppendUint32(nil, 24)   // AF_INET6 (OpenBSD), network order
	ng.shb(be, 1, 0).
		idb(linkTypeSLL2, 64, tsresolNsec).
		idb(layers.LinkTypeNull, 0).
		idb(layers.LinkType(239), 0).
		idb(layers.LinkTypeIPv6, 0).
		idb(layers.LinkTypeLoop, 0).
		epb(0, sll2(0x86dd, raw6), 0).
		epb(0, sll2(0x0800, raw4)[:40], len(sll2(0x0800, raw4))). // cut by snaplen
		epb(1, append(nullHdr, raw4...), 0).
		epb(2, nflog, 0).
		epb(3, raw6, 0).
		epb(4, append(loopHdr, raw6...), 0).
		spb(sll2(0x0800, bigRaw4)[:64], len(sll2(0x0800, bigRaw4))) // SPB: the snaplen cuts it
	// Section 3, little-endian again: PPP, then Ethernet with an obsolete
	// Packet Block.
	ng.shb(le, 1, 0).
		idb(layers.LinkTypePPP, 0).
		idb(layers.LinkTypeEthernet, 0).
		epb(0, ppp, 0).
		opb(1, udp6)
	m["multi-section.pcapng"] = ng.buf.Bytes()

	m["empty.pcap"] = []byte{}
	m["not-a-capture.txt"] = []byte("this is not a capture\n")
	m["no-interface.pcapng"] = (&ngFile{}).shb(le, 1, 0).buf.Bytes()
	m["packet-before-interface.pcapng"] = (&ngFile{}).shb(be, 1, 0).epb(0, udp4, 0).buf.Bytes()
	m["version-2.0.pcapng"] = (&ngFile{}).shb(le, 2, 0).idb(layers.LinkTypeEthernet, 0).epb(0, udp4, 0).buf.Bytes()
	m["version-3.0.pcap"] = newPcap(le, false, 3, 0, 65535, layers.LinkTypeEthernet).packet(0, udp4, 0).buf.Bytes()
	m["corrupt-block.pcapng"] = (&ngFile{}).shb(le, 1, 0).idb(layers.LinkTypeEthernet, 0).
		epb(0, udp4, 0).
		epb(0, udp6, 0).
		block(6, make([]byte, 24), 0x7fff0000).buf.Bytes() // a block length far past the end
	cut := newPcap(le, false, 2, 4, 65535, layers.LinkTypeEthernet).packet(0, udp4, 0).packet(1, udp6, 0).buf.Bytes()
	m["cut-record.pcap"] = cut[:len(cut)-10]
	return m
}

const capturesDir = "testdata/captures"

func TestCaptureFixtures(t *testing.T) {
	m := fixtures()
	for name, data := range m {
		path := filepath.Join(capturesDir, name)
		if *update {
			if err := os.MkdirAll(capturesDir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("%s is not what fixtures() makes (%v); run go test -update ./corpus", path, err)
		}
	}
	files, _ := filepath.Glob(filepath.Join(capturesDir, "*"))
	for _, f := range files {
		if _, ok := m[filepath.Base(f)]; !ok && filepath.Base(f) != "README.md" {
			t.Errorf("%s is not made by fixtures(); remove it", f)
		}
	}
}
