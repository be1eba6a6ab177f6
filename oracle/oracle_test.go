package oracle

import (
	"bytes"
	"encoding/hex"
	"syscall"
	"testing"

	"github.com/bpffuzz/bpffuzz/bpf"
	"github.com/bpffuzz/bpffuzz/internal/kerneltest"
	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
)

var udp4, _ = hex.DecodeString("020000000002020000000001080045000020000100004011f6c0c000020ac000020130390035000cc1d168692121")

func xdpExec(retval uint32, out []byte) *Execution {
	ctx := make([]byte, 24)
	ctx[4] = byte(len(out))
	return &Execution{Input: bpf.Input{Packet: udp4}, Packet: bytes.Clone(udp4),
		Result: bpf.Result{Retval: retval, Packet: out, Context: ctx}}
}

// TestFireAndQuiet: every oracle fires on a crafted bad case and stays
// quiet on the matching good one.
func TestFireAndQuiet(t *testing.T) {
	xdp := &Program{Type: ebpf.XDP, Helpers: map[asm.BuiltinFunc]bool{}}
	tc := &Program{Type: ebpf.SchedCLS, Helpers: map[asm.BuiltinFunc]bool{}}
	flow := &Program{Type: ebpf.FlowDissector, Helpers: map[asm.BuiltinFunc]bool{}}
	sock := &Program{Type: ebpf.SocketFilter, Helpers: map[asm.BuiltinFunc]bool{}}
	badCsum := bytes.Clone(udp4)
	badCsum[22]-- // TTL changed, checksum not
	modifiedIn := xdpExec(2, udp4)
	modifiedIn.Input.Packet = badCsum
	skbCtx := func(mutate func(b []byte)) *Execution {
		in, out := make([]byte, 192), make([]byte, 192)
		out[40] = 1 // ifindex 1 (lo)
		mutate(out)
		return &Execution{Input: bpf.Input{Packet: udp4}, Packet: bytes.Clone(udp4), Context: in,
			Result: bpf.Result{Packet: udp4, Context: out}}
	}
	for _, tc := range []struct {
		name      string
		o         Oracle
		p         *Program
		bad, good *Execution
	}{
		{"xdp action", Retval{}, xdp, xdpExec(7, udp4), xdpExec(4, udp4)},
		{"tc action", Retval{}, tc, &Execution{Result: bpf.Result{Retval: 9}}, &Execution{Result: bpf.Result{Retval: 0xffffffff}}},
		{"flow dissector verdict", Retval{}, flow, &Execution{Result: bpf.Result{Retval: 1}}, &Execution{Result: bpf.Result{Retval: 129}}},
		{"socket filter keep length", Retval{}, sock, &Execution{Packet: udp4, Result: bpf.Result{Retval: uint32(len(udp4))}}, &Execution{Packet: udp4, Result: bpf.Result{Retval: 0x40000}}},
		{"errno", Errno{}, xdp, &Execution{Err: syscall.EFAULT}, &Execution{}},
		{"enospc", Errno{}, xdp, &Execution{Err: syscall.ENOSPC}, &Execution{}},
		{"size without resize helper", Bounds{}, xdp, xdpExec(2, udp4[:40]), xdpExec(2, udp4)},
		{"input modified", Bounds{}, xdp, modifiedIn, xdpExec(2, udp4)},
		{"output checksum", Output{}, xdp, xdpExec(2, badCsum), xdpExec(2, udp4)},
		{"skb field not written back", Ctx{}, tc, skbCtx(func(b []byte) { b[4] = 1 }), skbCtx(func(b []byte) { b[8] = 5 })},
		{"skb ifindex", Ctx{}, tc, skbCtx(func(b []byte) { b[40] = 2 }), skbCtx(func(b []byte) {})},
		{"checksum complete", Checksum{}, tc, &Execution{Input: bpf.Input{Flags: bpf.FlagSKBChecksumComplete}, Err: syscall.EBADMSG}, &Execution{Input: bpf.Input{Flags: bpf.FlagSKBChecksumComplete}}},
	} {
		if err := tc.o.Check(tc.p, tc.bad); err == nil {
			t.Errorf("%s: %s stayed quiet on the bad case", tc.name, tc.o.Name())
		}
		if err := tc.o.Check(tc.p, tc.good); err != nil {
			t.Errorf("%s: %s fired on the good case: %v", tc.name, tc.o.Name(), err)
		}
	}
	// A resizing helper turns the size check off.
	resizer := &Program{Type: ebpf.XDP, Helpers: map[asm.BuiltinFunc]bool{asm.FnXdpAdjustTail: true}}
	if err := (Bounds{}).Check(resizer, xdpExec(2, udp4[:40])); err != nil {
		t.Errorf("bounds with adjust_tail: %v", err)
	}
	// Output is not judged on a malformed input or a drop.
	if err := (Output{}).Check(xdp, xdpExec(1, badCsum)); err != nil {
		t.Errorf("output on XDP_DROP: %v", err)
	}
	if err := Compare(xdpExec(2, udp4), xdpExec(1, udp4)); err == nil {
		t.Error("Compare missed a retval difference")
	}
	if err := Compare(xdpExec(2, udp4), xdpExec(2, udp4)); err != nil {
		t.Errorf("Compare flagged two equal runs: %v", err)
	}
	mc := CountersOnlyGrow("c")
	if mc.CheckMaps(map[string]map[string][]byte{"c": {"k": {5}}}, map[string]map[string][]byte{"c": {"k": {4}}}) == nil {
		t.Error("counter going down not flagged")
	}
	if err := mc.CheckMaps(map[string]map[string][]byte{"c": {"k": {5}}}, map[string]map[string][]byte{"c": {"k": {6}}}); err != nil {
		t.Errorf("counter going up flagged: %v", err)
	}
	for _, n := range Names() {
		if o, ok := ByName(n); !ok || o.Doc() == "" {
			t.Errorf("oracle %s has no doc", n)
		}
	}
}

// TestQuietOnRealRuns runs the example programs on many well-formed
// inputs; no default oracle may object.
func TestQuietOnRealRuns(t *testing.T) {
	kerneltest.Skip(t)
	for _, c := range []struct{ obj, prog string }{
		{"../examples/xdp_parser.o", "xdp_parser"}, {"../examples/tc_rewrite.o", "tc_rewrite"},
		{"../examples/socket_filter.o", "sock_filter"}, {"../examples/flow_dissector.o", "flow_dissect"},
		{"../bpf/testdata/types.o", "tc_write"},
	} {
		p, err := bpf.Load(c.obj, c.prog, nil)
		if err != nil {
			t.Fatal(err)
		}
		info := ProgramOf(p)
		for i := range 100 {
			pkt := bytes.Clone(udp4)
			pkt[22] = byte(2 + i)     // TTL
			pkt[30], pkt[31] = 192, 0 // 192.0.x.x destinations, some rewritten by tc_rewrite
			pkt[36] = byte(i)         // dport high byte
			ctx := bpf.SKBContext{Mark: uint32(i)}
			in := bpf.Input{Packet: pkt}
			if p.Type == ebpf.SchedCLS {
				in.Context = ctx
			}
			res, err := p.Run(in)
			e := &Execution{Input: in, Packet: bytes.Clone(pkt), Context: bpf.ContextBytes(in.Context, len(pkt)), Result: res, Err: err}
			for _, o := range Default() {
				if c.prog == "tc_write" && o.Name() == "retval" {
					continue // the fixture returns skb->len, which is no action: the retval oracle is right to object
				}
				if err := o.Check(info, e); err != nil {
					t.Errorf("%s input %d: %v", c.prog, i, err)
				}
			}
		}
		p.Close()
	}
}
