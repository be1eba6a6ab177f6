package main

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/bpffuzz/bpffuzz/bpf"
	"github.com/bpffuzz/bpffuzz/internal/report"
)

// runReport is what `bpffuzz run` prints, as text or JSON.
type runReport struct {
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

func newReport(p *bpf.Program, in bpf.Input, res bpf.Result) *runReport {
	r := &runReport{
		Program: p.Name, Type: p.Type.String(), Retval: res.Retval,
		RetvalName: bpf.RetvalName(p.Type, p.AttachType, res.Retval),
		Errno:      int(res.Errno), ErrnoName: bpf.ErrnoName(res.Errno),
		DurationNS: res.Duration.Nanoseconds(), Repeat: max(in.Repeat, 1),
		DataIn: hex.EncodeToString(in.Packet), DataOut: hex.EncodeToString(res.Packet),
		CtxOut: hex.EncodeToString(res.Context), L3: res.L3,
		in: in.Packet, out: res.Packet,
	}
	if res.Packet != nil {
		r.Layers = report.Layers(res.Packet, res.L3)
		r.Changed = report.PacketChanges(in.Packet, res.Packet, res.L3)
	}
	r.CtxChanged = report.ContextChanges(in.Context, &res)
	if k, ok := res.FlowKeys(); ok {
		r.FlowKeys = &k
	}
	return r
}

func (r *runReport) writeJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

func (r *runReport) writeText(w io.Writer) {
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
