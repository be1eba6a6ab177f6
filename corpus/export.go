package corpus

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// ExportPacket is one packet to write to a capture, with the comment
// Wireshark shows for it.
type ExportPacket struct {
	Data    []byte
	Comment string
}

// maxComment caps a packet comment: a pcapng option holds at most 65535
// bytes, and a person reads the start.
const maxComment = 4096

// WritePcapng writes packets as an Ethernet pcapng file, each with its
// comment (opt_comment, Wireshark's frame.comment), through a temporary file
// and a rename. Timestamps are deterministic: packet i is at i milliseconds
// after the Unix epoch, so the same packets give the same file.
func WritePcapng(path string, pkts []ExportPacket) error {
	var buf bytes.Buffer
	if err := EncodePcapng(&buf, pkts); err != nil {
		return err
	}
	return WriteFileAtomic(path, buf.Bytes())
}

// EncodePcapng writes packets as an Ethernet pcapng stream to w; see
// WritePcapng.
func EncodePcapng(w io.Writer, pkts []ExportPacket) error {
	intf := pcapgo.DefaultNgInterface
	intf.LinkType = layers.LinkTypeEthernet
	intf.Name = "bpffuzz"
	intf.OS = ""
	opts := pcapgo.NgWriterOptions{SectionInfo: pcapgo.NgSectionInfo{Application: "bpffuzz"}}
	ng, err := pcapgo.NewNgWriterInterface(w, intf, opts)
	if err != nil {
		return fmt.Errorf("write pcapng: %w", err)
	}
	ts := time.Unix(0, 0).UTC()
	for i, p := range pkts {
		ci := gopacket.CaptureInfo{Timestamp: ts.Add(time.Duration(i) * time.Millisecond), CaptureLength: len(p.Data), Length: len(p.Data)}
		var po pcapgo.NgPacketOptions
		if c := p.Comment; c != "" {
			if len(c) > maxComment {
				c = strings.ToValidUTF8(c[:maxComment-3], "") + "..."
			}
			po.Comments = []string{c}
		}
		if err := ng.WritePacketWithOptions(ci, p.Data, po); err != nil {
			return fmt.Errorf("write pcapng packet %d: %w", i+1, err)
		}
	}
	if err := ng.Flush(); err != nil {
		return fmt.Errorf("write pcapng: %w", err)
	}
	return nil
}

// ExportEntry is a corpus entry to export to a capture.
type ExportEntry struct {
	// Name names the entry in the packet comment: its file name.
	Name string
	File
	// Comment, if set, is added to the packet comment: for a finding, the
	// oracle and its message.
	Comment string
}

// Packet returns the entry as a packet to export. The frame is the entry's
// Packet as stored: Ops are the fuzzer's mutations and Context is not part
// of a capture, so the comment says when they are set (the frame is then
// the unmutated seed). The comment starts with "bpffuzz entry NAME".
func (e ExportEntry) Packet() ExportPacket {
	parts := []string{"bpffuzz entry " + e.Name}
	if e.Comment != "" {
		parts = append(parts, cleanNote(e.Comment))
	}
	if e.Note != "" {
		parts = append(parts, e.Note)
	}
	if n := len(e.Entry.Ops); n > 0 {
		parts = append(parts, fmt.Sprintf("%d bytes of ops not applied: this is the unmutated seed packet", n))
	}
	if c := e.Entry.Context; len(c) > 0 {
		h := hex.EncodeToString(c)
		if len(c) > 64 {
			h = hex.EncodeToString(c[:64]) + "..."
		}
		parts = append(parts, fmt.Sprintf("context %d bytes %s", len(c), h))
	}
	return ExportPacket{Data: e.Entry.Packet, Comment: strings.Join(parts, "; ")}
}
