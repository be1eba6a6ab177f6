package corpus

import (
	"bytes"
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

// WritePcapng writes packets as an Ethernet pcapng file (atomically), each
// with its comment.
func WritePcapng(path string, pkts []ExportPacket) error {
	var buf bytes.Buffer
	w, err := pcapgo.NewNgWriter(&buf, layers.LinkTypeEthernet)
	if err != nil {
		return err
	}
	ts := time.Unix(0, 0).UTC()
	for i, p := range pkts {
		ci := gopacket.CaptureInfo{Timestamp: ts.Add(time.Duration(i) * time.Millisecond), CaptureLength: len(p.Data), Length: len(p.Data)}
		opts := pcapgo.NgPacketOptions{}
		if p.Comment != "" {
			opts.Comments = []string{p.Comment}
		}
		if err := w.WritePacketWithOptions(ci, p.Data, opts); err != nil {
			return err
		}
	}
	if err := w.Flush(); err != nil {
		return err
	}
	return WriteFileAtomic(path, buf.Bytes())
}
