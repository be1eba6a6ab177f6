// Package report describes runs for people: decoded layers, what a program
// changed in the packet and the context. The command line and fuzz
// findings share it.
package report

import (
	"bytes"
	"fmt"

	"github.com/bpffuzz/bpffuzz/bpf"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// Layers names the layers gopacket finds in a frame. For L3 program
// types the first 14 bytes are the kernel's zeroed Ethernet header, so
// decoding starts at the IP header.
func Layers(pkt []byte, l3 bool) []string {
	first := gopacket.Decoder(layers.LayerTypeEthernet)
	if l3 {
		if len(pkt) <= 14 {
			return nil
		}
		pkt = pkt[14:]
		switch pkt[0] >> 4 {
		case 4:
			first = layers.LayerTypeIPv4
		case 6:
			first = layers.LayerTypeIPv6
		default:
			return []string{"(not IP)"}
		}
	}
	dp := gopacket.NewPacket(pkt, first, gopacket.DecodeOptions{NoCopy: true})
	var names []string
	for _, l := range dp.Layers() {
		if l.LayerType() == gopacket.LayerTypeDecodeFailure {
			continue
		}
		names = append(names, l.LayerType().String())
	}
	if el := dp.ErrorLayer(); el != nil {
		names = append(names, fmt.Sprintf("(%d bytes not decoded: %v)", len(el.LayerContents()), el.Error()))
	}
	return names
}

// PacketChanges describes how the output differs from the input: size, and
// the changed byte ranges where the sizes match.
func PacketChanges(in, out []byte, l3 bool) []string {
	var ch []string
	if l3 && len(in) >= 14 && len(out) >= 14 {
		ch = append(ch, "bytes 0-13: Ethernet header zeroed by the kernel (the program saw the packet from the IP header)")
		in, out = in[14:], out[14:]
	}
	if len(in) != len(out) {
		return append(ch, fmt.Sprintf("size %d -> %d bytes", len(in), len(out)))
	}
	base := 0
	if l3 {
		base = 14
	}
	for i := 0; i < len(in); i++ {
		if in[i] == out[i] {
			continue
		}
		j := i
		for j+1 < len(in) && in[j+1] != out[j+1] {
			j++
		}
		if i == j {
			ch = append(ch, fmt.Sprintf("byte %d: %02x -> %02x", base+i, in[i], out[i]))
		} else {
			ch = append(ch, fmt.Sprintf("bytes %d-%d: %x -> %x", base+i, base+j, in[i:j+1], out[i:j+1]))
		}
		i = j
	}
	return ch
}

// ContextChanges lists the output context fields that differ from the
// input context (zero when none was given).
func ContextChanges(in bpf.Context, res *bpf.Result) map[string]string {
	ch := map[string]string{}
	diff := func(name string, a, b any) {
		if a != b {
			ch[name] = fmt.Sprintf("%v -> %v", a, b)
		}
	}
	if out, ok := res.SKBContext(); ok {
		var c bpf.SKBContext
		if v, ok := in.(bpf.SKBContext); ok {
			c = v
		}
		diff("mark", c.Mark, out.Mark)
		diff("priority", c.Priority, out.Priority)
		diff("ingress_ifindex", c.IngressIfindex, out.IngressIfindex)
		diff("ifindex", c.Ifindex, out.Ifindex)
		for i := range c.CB {
			diff(fmt.Sprintf("cb%d", i), c.CB[i], out.CB[i])
		}
		diff("tstamp", c.Tstamp, out.Tstamp)
		diff("wire_len", c.WireLen, out.WireLen)
		diff("gso_segs", c.GSOSegs, out.GSOSegs)
		diff("hwtstamp", c.Hwtstamp, out.Hwtstamp)
	}
	if out, ok := res.XDPContext(); ok {
		var c bpf.XDPContext
		if v, ok := in.(bpf.XDPContext); ok {
			c = v
		}
		if c.LinearLen == 0 && len(res.Packet) > 0 {
			c.LinearLen = uint32(min(len(res.Packet), 3520)) // the default: all of it
		}
		diff("meta_len", c.MetaLen, out.MetaLen)
		diff("linear_len", c.LinearLen, out.LinearLen)
	}
	if out, ok := res.SKLookupContext(); ok && out.Cookie != 0 {
		ch["cookie"] = fmt.Sprintf("0 -> %d (a socket was selected)", out.Cookie)
	}
	if raw, ok := in.(bpf.RawContext); ok && res.Context != nil && !bytes.Equal(raw, res.Context[:min(len(raw), len(res.Context))]) {
		ch["raw"] = fmt.Sprintf("%x -> %x", []byte(raw), res.Context)
	}
	if len(ch) == 0 {
		return nil
	}
	return ch
}
