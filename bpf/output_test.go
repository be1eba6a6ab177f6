package bpf

import (
	"bytes"
	"syscall"
	"testing"
)

// Output buffers: programs that grow the packet get all of it back, up to
// the kernel's own limits, and the harness never causes ENOSPC.

const adjust = "testdata/adjust.o"

// negErrno is a helper's negative errno as BPF_PROG_RUN's 32-bit retval.
func negErrno(e syscall.Errno) uint32 { return uint32(-int32(e)) }

// runOK runs in and fails the test unless the kernel reported no error at
// all (in particular no ENOSPC for a too small output buffer).
func runOK(t *testing.T, p *Program, in Input) Result {
	t.Helper()
	res := mustRun(t, p, in)
	if res.Errno != 0 {
		t.Fatalf("run %s: Errno = %v, want 0", p.Name, res.Errno)
	}
	return res
}

// patterned is n bytes that differ from their neighbours, so a shifted or
// partial copy shows.
func patterned(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}

func TestXDPAdjustOutput(t *testing.T) {
	pkt := tcpFrame(t, 80)
	if len(pkt) != 64 {
		t.Fatalf("tcpFrame is %d bytes, the cases assume 64", len(pkt))
	}
	zero := func(n int) []byte { return make([]byte, n) }
	cat := func(bs ...[]byte) []byte { return bytes.Join(bs, nil) }
	for _, tc := range []struct {
		name   string
		vars   map[string]any
		retval uint32
		out    []byte     // whole expected data_out, or nil:
		outLen int        // then only its length, and that it ends with the input
		ctx    XDPContext // expected output MetaLen and LinearLen
	}{
		{name: "head -216", vars: map[string]any{"head_delta": int32(-216)}, retval: 2,
			out: cat(zero(216), pkt), ctx: XDPContext{LinearLen: 280}},
		{name: "head -217", vars: map[string]any{"head_delta": int32(-217)}, retval: negErrno(syscall.EINVAL),
			out: pkt, ctx: XDPContext{LinearLen: 64}},
		{name: "head +50", vars: map[string]any{"head_delta": 50}, retval: 2,
			out: pkt[50:], ctx: XDPContext{LinearLen: 14}},
		{name: "tail +3456", vars: map[string]any{"tail_delta": 3456}, retval: 2,
			out: cat(pkt, zero(3456)), ctx: XDPContext{LinearLen: 3520}},
		{name: "tail +3457", vars: map[string]any{"tail_delta": 3457}, retval: negErrno(syscall.EINVAL),
			out: pkt, ctx: XDPContext{LinearLen: 64}},
		{name: "meta -32", vars: map[string]any{"meta_delta": -32}, retval: 2,
			outLen: 96, ctx: XDPContext{MetaLen: 32, LinearLen: 64}},
		{name: "meta -8 head -208", vars: map[string]any{"meta_delta": -8, "head_delta": -208}, retval: 2,
			outLen: 8 + 208 + 64, ctx: XDPContext{MetaLen: 8, LinearLen: 272}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := load(t, adjust, "xdp_adjust", &Options{Variables: tc.vars})
			res := runOK(t, p, Input{Packet: pkt})
			if res.Retval != tc.retval {
				t.Errorf("retval = %d, want %d", res.Retval, tc.retval)
			}
			want := tc.outLen
			if tc.out != nil {
				want = len(tc.out)
			}
			if len(res.Packet) != want {
				t.Fatalf("data_out has %d bytes, want %d", len(res.Packet), want)
			}
			if tc.out != nil && !bytes.Equal(res.Packet, tc.out) {
				t.Errorf("data_out differs from the expected bytes:\n got % x\nwant % x", res.Packet, tc.out)
			}
			// Metadata and headroom go in front: the input ends the output.
			if tc.out == nil && !bytes.Equal(res.Packet[len(res.Packet)-len(pkt):], pkt) {
				t.Errorf("the input is not at the end of data_out")
			}
			c, ok := res.XDPContext()
			if !ok {
				t.Fatalf("no XDP output context")
			}
			if c.MetaLen != tc.ctx.MetaLen || c.LinearLen != tc.ctx.LinearLen {
				t.Errorf("output ctx meta %d linear %d, want meta %d linear %d", c.MetaLen, c.LinearLen, tc.ctx.MetaLen, tc.ctx.LinearLen)
			}
		})
	}
}

// TestXDPLargestOutput grows a multi-buffer frame to the largest output
// BPF_PROG_RUN can produce: 216 bytes of head growth in the linear part and
// a last fragment grown to a full page.
func TestXDPLargestOutput(t *testing.T) {
	const grow = 4000
	pkt := patterned(maxXDPDataIn - grow) // last fragment: 96 bytes
	p := load(t, adjust, "xdp_adjust", &Options{Variables: map[string]any{"head_delta": -216, "tail_delta": grow}})
	res := runOK(t, p, Input{Packet: pkt})
	if res.Retval != 2 {
		t.Fatalf("retval = %d, want XDP_PASS", res.Retval)
	}
	if len(res.Packet) != maxXDPDataOut {
		t.Fatalf("data_out has %d bytes, want %d", len(res.Packet), maxXDPDataOut)
	}
	want := bytes.Join([][]byte{make([]byte, 216), pkt, make([]byte, grow)}, nil)
	if !bytes.Equal(res.Packet, want) {
		t.Errorf("data_out is not 216 zero bytes, the input and %d zero bytes", grow)
	}
}

func TestSKBChangeTailOutput(t *testing.T) {
	pkt := tcpFrame(t, 80)
	for _, tc := range []struct {
		newLen uint32
		retval uint32
		outLen int
	}{
		{newLen: 40, retval: 0, outLen: 40},
		{newLen: 3712, retval: 0, outLen: 3712},
		{newLen: maxSKBDataOut, retval: 0, outLen: maxSKBDataOut},
		{newLen: maxSKBDataOut + 1, retval: negErrno(syscall.EINVAL), outLen: 64},
	} {
		t.Run("", func(t *testing.T) {
			p := load(t, adjust, "tc_change_tail", &Options{Variables: map[string]any{"new_len": tc.newLen}})
			res := runOK(t, p, Input{Packet: pkt})
			if res.Retval != tc.retval {
				t.Errorf("new_len %d: retval = %d, want %d", tc.newLen, res.Retval, tc.retval)
			}
			if len(res.Packet) != tc.outLen {
				t.Fatalf("new_len %d: data_out has %d bytes, want %d", tc.newLen, len(res.Packet), tc.outLen)
			}
			keep := min(len(pkt), tc.outLen)
			if !bytes.Equal(res.Packet[:keep], pkt[:keep]) {
				t.Errorf("new_len %d: data_out does not start with the input", tc.newLen)
			}
		})
	}
}

// TestXDPFrags runs frames larger than the linear area: the kernel puts the
// rest in fragments and the output comes back whole and in order (the
// buffer is large enough for the kernel's multi-buffer copy to be a plain
// copy).
func TestXDPFrags(t *testing.T) {
	jumbo := patterned(9000)
	for _, tc := range []struct {
		name, prog string
		in         Input
		retval     uint32
		linear     uint32
	}{
		{"buflen 9000", "xdp_buflen", Input{Packet: jumbo}, 9000, 3520},
		{"linlen 9000", "xdp_linlen", Input{Packet: jumbo}, 3520, 3520},
		{"linlen 3520", "xdp_linlen", Input{Packet: jumbo[:3520]}, 3520, 3520},
		{"linlen 3521", "xdp_linlen", Input{Packet: jumbo[:3521]}, 3520, 3520},
		{"buflen largest", "xdp_buflen", Input{Packet: patterned(maxXDPDataIn)}, maxXDPDataIn, 3520},
		{"linlen linear 100", "xdp_linlen", Input{Packet: jumbo, Context: XDPContext{LinearLen: 100}}, 100, 100},
		{"buflen linear 100", "xdp_buflen", Input{Packet: jumbo, Context: XDPContext{LinearLen: 100}}, 9000, 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := load(t, types, tc.prog, nil)
			res := runOK(t, p, tc.in)
			if res.Retval != tc.retval {
				t.Errorf("retval = %d, want %d", res.Retval, tc.retval)
			}
			if !bytes.Equal(res.Packet, tc.in.Packet) {
				t.Errorf("data_out (%d bytes) differs from data_in (%d bytes)", len(res.Packet), len(tc.in.Packet))
			}
			if c, _ := res.XDPContext(); c.LinearLen != tc.linear {
				t.Errorf("output ctx linear length = %d, want %d", c.LinearLen, tc.linear)
			}
		})
	}
}

// TestRepeatAccumulates checks that repeat runs the program on the same,
// already changed context and packet.
func TestRepeatAccumulates(t *testing.T) {
	t.Run("tc_write", func(t *testing.T) {
		p := load(t, types, "tc_write", nil)
		res := runOK(t, p, Input{Packet: tcpFrame(t, 80), Repeat: 5, Context: SKBContext{Mark: 1}})
		c, ok := res.SKBContext()
		if !ok || c.Mark != 6 || c.Priority != 10 || c.CB[0] != 15 {
			t.Errorf("after 5 runs: mark %d priority %d cb[0] %d (ok %v), want 6, 10, 15", c.Mark, c.Priority, c.CB[0], ok)
		}
	})
	t.Run("xdp_adjust", func(t *testing.T) {
		p := load(t, adjust, "xdp_adjust", &Options{Variables: map[string]any{"head_delta": -4}})
		pkt := tcpFrame(t, 80)
		res := runOK(t, p, Input{Packet: pkt, Repeat: 10})
		if res.Retval != 2 || len(res.Packet) != 104 {
			t.Fatalf("after 10 runs: retval %d, %d bytes, want 2 and 104", res.Retval, len(res.Packet))
		}
		if !bytes.Equal(res.Packet[40:], pkt) {
			t.Errorf("the input is not after the 40 bytes of headroom")
		}
	})
}

// TestSKBContextRoundTrip sets every __sk_buff field the kernel accepts and
// checks that all of them come back, with tc_write's changes.
func TestSKBContextRoundTrip(t *testing.T) {
	p := load(t, types, "tc_write", nil)
	pkt := tcpFrame(t, 80)
	in := SKBContext{Mark: 1, Priority: 2, IngressIfindex: 5, Ifindex: 1,
		CB: [5]uint32{10, 11, 12, 13, 14}, Tstamp: 100, WireLen: 100, GSOSegs: 3, GSOSize: 1400, Hwtstamp: 55}
	res := runOK(t, p, Input{Packet: pkt, Context: in})
	if res.Retval != uint32(len(pkt)) {
		t.Errorf("retval = %d, want skb->len %d", res.Retval, len(pkt))
	}
	got, ok := res.SKBContext()
	if !ok {
		t.Fatalf("no output __sk_buff (%d context bytes)", len(res.Context))
	}
	want := in
	want.Mark += 1
	want.Priority += 2
	want.CB[0] += 3
	if got != want {
		t.Errorf("output ctx\n got %+v\nwant %+v", got, want)
	}
	// A pointer to a context works the same.
	res = runOK(t, p, Input{Packet: pkt, Context: &in})
	if got, _ := res.SKBContext(); got != want {
		t.Errorf("output ctx for *SKBContext\n got %+v\nwant %+v", got, want)
	}
}

// TestResultAliasesBuffers documents Result's contract: Packet and Context
// are the Program's buffers, so the next Run overwrites them.
func TestResultAliasesBuffers(t *testing.T) {
	p := load(t, types, "xdp_linlen", nil)
	a, b := bytesOf(64, 0xaa), bytesOf(64, 0xbb)
	first := runOK(t, p, Input{Packet: a})
	kept := bytes.Clone(first.Packet)
	second := runOK(t, p, Input{Packet: b, Context: XDPContext{LinearLen: 20}})
	if &first.Packet[0] != &second.Packet[0] || &first.Context[0] != &second.Context[0] {
		t.Fatalf("Results of two runs do not share the Program's buffers")
	}
	if !bytes.Equal(first.Packet, b) {
		t.Errorf("the second run did not overwrite the first Result's packet")
	}
	if c, _ := first.XDPContext(); c.LinearLen != 20 {
		t.Errorf("the second run did not overwrite the first Result's context: linear %d", c.LinearLen)
	}
	if !bytes.Equal(kept, a) {
		t.Errorf("a copy taken before the second run changed")
	}
	if !bytes.Equal(a, bytesOf(64, 0xaa)) {
		t.Errorf("Run changed the caller's input packet")
	}
}
