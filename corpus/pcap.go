package corpus

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

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
	// WireLen is the frame's length on the wire.
	WireLen int
}

// ErrLinkType is wrapped by errors for packets whose link type has no
// Ethernet mapping (802.11, radiotap, PPP, ...).
var ErrLinkType = errors.New("link type has no Ethernet mapping")

// Capture is the content of one capture file.
type Capture struct {
	Packets []Packet
	// Skipped counts packets that could not become Ethernet frames, by
	// link type name.
	Skipped map[string]int
}

// ReadFile reads a pcap or pcapng file (either byte order, micro- or
// nanosecond timestamps, several interfaces).
func ReadFile(path string) (*Capture, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	c, err := Read(f)
	if err != nil {
		return nil, fmt.Errorf("read capture %s: %w", path, err)
	}
	return c, nil
}

// Read reads a pcap or pcapng stream.
func Read(r io.Reader) (*Capture, error) {
	br := bufio.NewReader(r)
	magic, err := br.Peek(4)
	if err != nil {
		return nil, fmt.Errorf("not a capture: file is shorter than 4 bytes")
	}
	c := &Capture{Skipped: map[string]int{}}
	index := 0
	add := func(data []byte, lt layers.LinkType, capLen, wireLen int) {
		index++
		frame, synth, err := ToEthernet(data, lt)
		if err != nil {
			c.Skipped[fmt.Sprintf("%s (%d)", lt, int(lt))]++
			return
		}
		c.Packets = append(c.Packets, Packet{Index: index, Data: frame, LinkType: lt, Synthesized: synth,
			Truncated: capLen < wireLen, WireLen: wireLen})
	}
	if bytes.Equal(magic, []byte{0x0a, 0x0d, 0x0d, 0x0a}) {
		ng, err := pcapgo.NewNgReader(br, pcapgo.NgReaderOptions{})
		if err != nil {
			return nil, fmt.Errorf("pcapng: %w", err)
		}
		for {
			data, ci, err := ng.ReadPacketData()
			if err == io.EOF {
				return c, nil
			}
			if err != nil {
				return c, fmt.Errorf("pcapng packet %d: %w", index+1, err)
			}
			lt := ng.LinkType()
			if ifc, err := ng.Interface(ci.InterfaceIndex); err == nil {
				lt = ifc.LinkType
			}
			add(data, lt, ci.CaptureLength, ci.Length)
		}
	}
	pr, err := pcapgo.NewReader(br)
	if err != nil {
		return nil, fmt.Errorf("not a pcap or pcapng file: %w", err)
	}
	for {
		data, ci, err := pr.ReadPacketData()
		if err == io.EOF {
			return c, nil
		}
		if err != nil {
			return c, fmt.Errorf("pcap packet %d: %w", index+1, err)
		}
		add(data, pr.LinkType(), ci.CaptureLength, ci.Length)
	}
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
	return nil, false, fmt.Errorf("%w: %s (%d)", ErrLinkType, lt, int(lt))
}

func synthesize(ethertype uint16, payload []byte) []byte {
	f := make([]byte, 14+len(payload))
	binary.BigEndian.PutUint16(f[12:], ethertype)
	copy(f[14:], payload)
	return f
}
