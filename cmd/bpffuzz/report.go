package main

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/bpffuzz/bpffuzz/bpf"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// report is what `bpffuzz run` prints, as text or JSON.
type report struct {
	Program    string            `json:"program"`
	Type       string            `json:"type"`
	Retval     uint32            `json:"retval"`
	RetvalName string            `json:"retval_name"`
	Errno      int               `json:"errno"`
	ErrnoName  string            `json:"errno_name,omitempty"`
	DurationNS int64             `json:"duration_ns"`
	Repeat     uint32            `json:"repeat"`
	DataIn     string            `json:"data_in"`
	DataOut    string            `json:"data_out"`
	CtxOut     string            `json:"ctx_out"`
	L3         bool              `json:"l3"`
	Layers     []string          `json:"layers,omitempty"`
	Changed    []string          `json:"changed,omitempty"`
	CtxChanged map[string]string `json:"ctx_changed,omitempty"`
	FlowKeys   *bpf.FlowKeys     `json:"flow_keys,omitempty"`

	in, out []byte
}

func newReport(p *bpf.Program, in bpf.Input, res bpf.Result) *report {
	r := &report{
		Program: p.Name, Type: p.Type.String(), Retval: res.Retval,
		RetvalName: bpf.RetvalName(p.Type, p.AttachType, res.Retval),
		Errno:      int(res.Errno), ErrnoName: bpf.ErrnoName(res.Errno),
		DurationNS: res.Duration.Nanoseconds(), Repeat: max(in.Repeat, 1),
		DataIn: hex.EncodeToString(in.Packet), DataOut: hex.EncodeToString(res.Packet),
		CtxOut: hex.EncodeToString(res.Context), L3: res.L3,
		in: in.Packet, out: res.Packet,
	}
	if res.Packet != nil {
		r.Layers = decodeLayers(res.Packet, res.L3)
		r.Changed = packetChanges(in.Packet, res.Packet, res.L3)
	}
	r.CtxChanged = contextChanges(in.Context, &res)
	if k, ok := res.FlowKeys(); ok {
		r.FlowKeys = &k
	}
	return r
}

// decodeLayers names the layers gopacket finds in a frame. For L3 program
// types the first 14 bytes are the kernel's zeroed Ethernet header, so
// decoding starts at the IP header.
func decodeLayers(pkt []byte, l3 bool) []string {
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

// packetChanges describes how the output differs from the input: size, and
// the changed byte ranges where the sizes match.
func packetChanges(in, out []byte, l3 bool) []string {
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

// contextChanges lists the output context fields that differ from the
// input context (zero when none was given).
func contextChanges(in bpf.Context, res *bpf.Result) map[string]string {
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

func (r *report) writeJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

func (r *report) writeText(w io.Writer) {
	name := ""
	if r.RetvalName != "" {
		name = " (" + r.RetvalName + ")"
	}
	fmt.Fprintf(w, "program   %s (%s)\n", r.Program, r.Type)
	fmt.Fprintf(w, "retval    %d%s\n", r.Retval, name)
	if r.Errno != 0 {
		fmt.Fprintf(w, "errno     %d (%s)\n", r.Errno, r.ErrnoName)
	} else {
		fmt.Fprintf(w, "errno     0\n")
	}
	rep := ""
	if r.Repeat > 1 {
		rep = fmt.Sprintf(" per run, %d runs", r.Repeat)
	}
	fmt.Fprintf(w, "duration  %dns%s\n", r.DurationNS, rep)
	if r.out != nil {
		state := "unchanged"
		if len(r.Changed) > 0 && !(r.L3 && len(r.Changed) == 1) {
			state = "changed"
		}
		fmt.Fprintf(w, "packet    %d bytes in, %d bytes out, %s\n", len(r.in), len(r.out), state)
		if len(r.Layers) > 0 {
			fmt.Fprintf(w, "layers    %s\n", strings.Join(r.Layers, " / "))
		}
		for _, c := range r.Changed {
			fmt.Fprintf(w, "  %s\n", c)
		}
		dump := hex.Dump(r.out)
		if len(r.out) > 512 {
			dump = hex.Dump(r.out[:512]) + fmt.Sprintf("... %d more bytes (--json has them all)\n", len(r.out)-512)
		}
		fmt.Fprint(w, indent(dump))
	}
	if r.FlowKeys != nil {
		k := r.FlowKeys
		fmt.Fprintf(w, "flow keys nhoff=%d thoff=%d n_proto=%#04x ip_proto=%d addr_proto=%#04x src=%v dst=%v sport=%d dport=%d frag=%v first_frag=%v encap=%v flags=%#x flow_label=%#x\n",
			k.Nhoff, k.Thoff, k.NProto, k.IPProto, k.AddrProto, k.Src, k.Dst, k.Sport, k.Dport, k.IsFrag, k.IsFirstFrag, k.IsEncap, k.Flags, k.FlowLabel)
	}
	if len(r.CtxChanged) > 0 {
		fmt.Fprintln(w, "context changed:")
		for _, k := range sortedStrings(mapKeys(r.CtxChanged)) {
			fmt.Fprintf(w, "  %s: %s\n", k, r.CtxChanged[k])
		}
	}
}

func indent(s string) string {
	return "  " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n  ") + "\n"
}

func mapKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func sortedStrings(s []string) []string {
	slices.Sort(s)
	return s
}
