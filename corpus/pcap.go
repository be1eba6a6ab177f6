package corpus

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// Packet is one captured frame, as an Ethernet frame.
type Packet struct {
	// Index is the packet's 1-based position in its file (Wireshark's frame
	// number).
	Index int
	// Data is the frame from the Ethernet header on.
	Data []byte
	// LinkType is the capture's link type for this packet.
	LinkType layers.LinkType
	// Synthesized is true when the capture had no Ethernet header and one was
	// made up (zero MACs, the ethertype from the original header).
	Synthesized bool
	// Truncated is true when the capture cut the frame (snaplen).
	Truncated bool
	// WireLen is the frame's length on the wire, and CaptureLen the length
	// captured, both in the capture's link type (before any synthesized
	// header).
	WireLen, CaptureLen int
}

// ErrLinkType is wrapped by errors for packets whose link type has no
// Ethernet mapping (802.11, radiotap, PPP, ...).
var ErrLinkType = errors.New("link type has no Ethernet mapping")

// Capture is the content of one capture file.
type Capture struct {
	Packets []Packet
	// Skipped counts packets whose link type has no Ethernet mapping
	// (802.11, radiotap, PPP, NFLOG, ...), by link type ("IEEE802_11 (105)").
	Skipped map[string]int
	// Malformed counts packets of a mapped link type whose link header is
	// too short or names no IPv4/IPv6 payload, by link type.
	Malformed map[string]int
}

// ReadFile reads a pcap or pcapng file (either byte order, micro- or
// nanosecond timestamps, several sections, several interfaces with
// different link types, simple packet blocks). On an error after some
// packets, the Capture holds the packets read before the damage; the error
// is one line naming the file.
func ReadFile(path string) (*Capture, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	c, err := Read(f)
	if err != nil {
		return c, fmt.Errorf("read capture %s: %w", path, err)
	}
	return c, nil
}

// Read reads a pcap or pcapng stream. It returns a nil Capture only with an
// error (the stream is not a capture at all); a stream damaged part-way
// returns the packets before the damage and an error.
func Read(r io.Reader) (*Capture, error) {
	br := bufio.NewReader(r)
	magic, err := br.Peek(4)
	if len(magic) == 0 {
		return nil, fmt.Errorf("empty file")
	}
	if err != nil {
		return nil, fmt.Errorf("not a capture: file is shorter than 4 bytes")
	}
	c := &Capture{Skipped: map[string]int{}, Malformed: map[string]int{}}
	index := 0
	add := func(data []byte, lt layers.LinkType, capLen, wireLen int) {
		index++
		frame, synth, err := ToEthernet(data, lt)
		if err != nil {
			name := LinkTypeName(lt)
			if errors.Is(err, ErrLinkType) {
				c.Skipped[name]++
			} else {
				c.Malformed[name]++
			}
			return
		}
		c.Packets = append(c.Packets, Packet{Index: index, Data: frame, LinkType: lt, Synthesized: synth,
			Truncated: capLen < wireLen, WireLen: wireLen, CaptureLen: capLen})
	}
	if bytes.Equal(magic, []byte{0x0a, 0x0d, 0x0d, 0x0a}) {
		ng, err := pcapgo.NewNgReader(br, pcapgo.NgReaderOptions{WantMixedLinkType: true})
		if err != nil {
			return nil, fmt.Errorf("pcapng: %w", ngError(err))
		}
		for {
			data, ci, err := ng.ReadPacketData()
			if err == io.EOF {
				if index == 0 && ng.NInterfaces() == 0 {
					return c, errors.New("pcapng: no interface description block")
				}
				return c, nil
			}
			if err != nil {
				where := fmt.Sprintf("after packet %d", index)
				if index == 0 {
					where = "before the first packet"
				}
				return c, fmt.Errorf("pcapng: %s: %w", where, ngError(err))
			}
			lt, ok := layers.LinkType(0), false
			if len(ci.AncillaryData) > 0 {
				lt, ok = ci.AncillaryData[0].(layers.LinkType)
			}
			if !ok {
				return c, fmt.Errorf("pcapng: packet %d: no link type", index+1)
			}
			add(data, lt, ci.CaptureLength, ci.Length)
		}
	}
	if h, _ := br.Peek(24); len(h) == 24 && isPcapMagic(h) && !(h[0] == 0x1f && h[1] == 0x8b) {
		bo := binary.ByteOrder(binary.LittleEndian)
		if h[0] == 0xa1 { // a1 b2 c3 d4 or a1 b2 3c 4d: big-endian
			bo = binary.BigEndian
		}
		if major, minor := bo.Uint16(h[4:]), bo.Uint16(h[6:]); major != 2 || minor != 4 {
			return nil, fmt.Errorf("pcap: unknown version %d.%d (bpffuzz reads pcap 2.4)", major, minor)
		}
	}
	pr, err := pcapgo.NewReader(br)
	if err != nil {
		if len(magic) == 4 && !isPcapMagic(magic) {
			return nil, fmt.Errorf("not a pcap or pcapng file (magic %x)", magic)
		}
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			err = errors.New("file header is shorter than 24 bytes")
		}
		return nil, fmt.Errorf("pcap: %w", err)
	}
	for {
		data, ci, err := pr.ReadPacketData()
		if err == io.EOF {
			return c, nil
		}
		if err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) {
				err = errors.New("file ends inside a packet record")
			}
			return c, fmt.Errorf("pcap: packet %d: %w", index+1, err)
		}
		add(data, pr.LinkType(), ci.CaptureLength, ci.Length)
	}
}

func isPcapMagic(m []byte) bool {
	switch binary.LittleEndian.Uint32(m) {
	case 0xa1b2c3d4, 0xd4c3b2a1, 0xa1b23c4d, 0x4d3cb2a1:
		return true
	}
	return m[0] == 0x1f && m[1] == 0x8b // gzip, which pcapgo reads
}

// ngError says what a pcapng reader error means.
func ngError(err error) error {
	switch {
	case errors.Is(err, pcapgo.ErrNgVersionMismatch):
		return errors.New("unknown section version (bpffuzz reads pcapng 1.0)")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("corrupt or truncated block (the file ends inside it)")
	case strings.Contains(err.Error(), "have only 0 interfaces"), strings.Contains(err.Error(), "At least one Interface"):
		return errors.New("packet block before any interface description block")
	}
	return err
}

// Link types gopacket does not name.
const (
	linkTypeSLL2 layers.LinkType = 276
)

// ToEthernet turns a captured frame of link type lt into an Ethernet frame.
// Raw IP, Linux cooked (SLL, SLL2) and BSD loopback get a synthesized
// Ethernet header with zero MACs (synth is true). It returns an error
// wrapping ErrLinkType for other link types.
func ToEthernet(data []byte, lt layers.LinkType) (frame []byte, synth bool, err error) {
	switch lt {
	case layers.LinkTypeEthernet:
		return data, false, nil
	case layers.LinkTypeRaw, layers.LinkTypeIPv4, layers.LinkTypeIPv6, 12, 14:
		if len(data) == 0 {
			return nil, false, fmt.Errorf("empty raw IP packet")
		}
		switch data[0] >> 4 {
		case 4:
			return synthesize(0x0800, data), true, nil
		case 6:
			return synthesize(0x86dd, data), true, nil
		}
		return nil, false, fmt.Errorf("raw IP packet with version %d", data[0]>>4)
	case layers.LinkTypeLinuxSLL:
		if len(data) < 16 {
			return nil, false, fmt.Errorf("linux cooked header needs 16 bytes, got %d", len(data))
		}
		return synthesize(binary.BigEndian.Uint16(data[14:]), data[16:]), true, nil
	case linkTypeSLL2:
		if len(data) < 20 {
			return nil, false, fmt.Errorf("linux cooked v2 header needs 20 bytes, got %d", len(data))
		}
		return synthesize(binary.BigEndian.Uint16(data[0:]), data[20:]), true, nil
	case layers.LinkTypeNull, layers.LinkTypeLoop:
		if len(data) < 4 {
			return nil, false, fmt.Errorf("loopback header needs 4 bytes, got %d", len(data))
		}
		fam := binary.LittleEndian.Uint32(data)
		if lt == layers.LinkTypeLoop || fam > 0xffff {
			fam = binary.BigEndian.Uint32(data)
		}
		switch fam {
		case 2:
			return synthesize(0x0800, data[4:]), true, nil
		case 24, 28, 30:
			return synthesize(0x86dd, data[4:]), true, nil
		}
		return nil, false, fmt.Errorf("loopback address family %d", fam)
	}
	return nil, false, fmt.Errorf("%w: %s", ErrLinkType, LinkTypeName(lt))
}

// linkTypeNames are libpcap's LINKTYPE_ names (www.tcpdump.org/linktypes.html)
// for the link types captures commonly hold.
var linkTypeNames = map[layers.LinkType]string{
	0: "NULL", 1: "ETHERNET", 6: "IEEE802_5", 8: "SLIP", 9: "PPP", 10: "FDDI", 50: "PPP_HDLC", 51: "PPP_ETHER",
	100: "ATM_RFC1483", 101: "RAW", 104: "C_HDLC", 105: "IEEE802_11", 107: "FRELAY", 108: "LOOP",
	113: "LINUX_SLL", 117: "PFLOG", 119: "IEEE802_11_PRISM", 127: "IEEE802_11_RADIOTAP", 143: "DOCSIS",
	163: "IEEE802_11_AVS", 189: "USB_LINUX", 192: "PPI", 195: "IEEE802_15_4_WITHFCS", 201: "BLUETOOTH_HCI_H4_WITH_PHDR",
	220: "USB_LINUX_MMAPPED", 227: "CAN_SOCKETCAN", 228: "IPV4", 229: "IPV6", 231: "DBUS", 235: "DVB_CI",
	239: "NFLOG", 240: "NETANALYZER", 249: "USBPCAP", 253: "NETLINK", 263: "WATTSTOPPER_DLM", 271: "VSOCK",
	276: "LINUX_SLL2", 284: "DSA_TAG_DSA",
}

// LinkTypeName names a link type as libpcap does, with its number:
// "LINUX_SLL2 (276)", or "LINKTYPE 300 (300)" for one it does not know.
func LinkTypeName(lt layers.LinkType) string {
	if n, ok := linkTypeNames[lt]; ok {
		return fmt.Sprintf("%s (%d)", n, int(lt))
	}
	return fmt.Sprintf("LINKTYPE %d (%d)", int(lt), int(lt))
}

func synthesize(ethertype uint16, payload []byte) []byte {
	f := make([]byte, 14+len(payload))
	binary.BigEndian.PutUint16(f[12:], ethertype)
	copy(f[14:], payload)
	return f
}
