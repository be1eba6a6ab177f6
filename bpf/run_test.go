package bpf

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"syscall"
	"testing"

	"github.com/cilium/ebpf"
)

const types = "testdata/types.o"

// TestRunEachType runs one program of every runnable type for real.
func TestRunEachType(t *testing.T) {
	pkt := tcpFrame(t, 80)
	n := uint32(len(pkt))
	for _, tc := range []struct {
		prog   string
		in     Input
		retval uint32
		name   string
		check  func(t *testing.T, res Result)
	}{
		{prog: "xdp_linlen", in: Input{Packet: pkt}, retval: n, check: func(t *testing.T, res Result) {
			if !bytes.Equal(res.Packet, pkt) {
				t.Errorf("data_out differs from data_in")
			}
			c, ok := res.XDPContext()
			if !ok || c.LinearLen != n || c.MetaLen != 0 {
				t.Errorf("ctx out = %+v, %v", c, ok)
			}
		}},
		{prog: "xdp_ifindex", in: Input{Packet: pkt}, retval: 1},
		{prog: "tc_len", in: Input{Packet: pkt}, retval: n, check: func(t *testing.T, res Result) {
			if res.L3 || !bytes.Equal(res.Packet, pkt) {
				t.Errorf("tc output differs or claims L3")
			}
			c, _ := res.SKBContext()
			if c.Ifindex != 1 || c.WireLen != n {
				t.Errorf("ctx out = %+v, want ifindex 1 and wire_len %d", c, n)
			}
		}},
		{prog: "act_len", in: Input{Packet: pkt}, retval: n},
		{prog: "sf_len", in: Input{Packet: pkt}, retval: n - 14, name: "keep 50 bytes", check: checkL3},
		{prog: "cg_ingress", in: Input{Packet: pkt}, retval: 1, name: "allow", check: checkL3},
		{prog: "cg_egress", in: Input{Packet: pkt}, retval: 1, name: "allow"},
		{prog: "lwt_in_prog", in: Input{Packet: pkt}, retval: 0, name: "BPF_OK", check: checkL3},
		{prog: "lwt_out_prog", in: Input{Packet: pkt}, retval: 0, name: "BPF_OK"},
		{prog: "lwt_xmit_prog", in: Input{Packet: pkt}, retval: 0, name: "BPF_OK"},
		{prog: "flow_default", in: Input{Packet: pkt}, retval: 0, name: "BPF_OK", check: func(t *testing.T, res Result) {
			k, ok := res.FlowKeys()
			if !ok || k.Nhoff != 14 || k.Thoff != 14 || k.NProto != 0x0800 {
				t.Errorf("flow keys = %+v, %v", k, ok)
			}
			if res.Packet != nil {
				t.Errorf("flow dissector has no packet output, got %d bytes", len(res.Packet))
			}
		}},
		{prog: "sklookup_pass", retval: 1, name: "SK_PASS", in: Input{Context: SKLookupContext{
			Family: syscall.AF_INET, Protocol: syscall.IPPROTO_TCP,
			RemoteIP: netip.MustParseAddr("192.0.2.1"), RemotePort: 5555,
			LocalIP: netip.MustParseAddr("192.0.2.2"), LocalPort: 80,
		}}, check: func(t *testing.T, res Result) {
			c, ok := res.SKLookupContext()
			if !ok || c.LocalPort != 80 || c.RemotePort != 5555 || c.RemoteIP != netip.MustParseAddr("192.0.2.1") {
				t.Errorf("sk_lookup ctx out = %+v, %v", c, ok)
			}
		}},
		{prog: "rawtp_arg0", retval: 42, in: Input{Context: RawContext(binary.LittleEndian.AppendUint64(nil, 41))}},
		{prog: "syscall_double", retval: 5, in: Input{Context: RawContext{21, 0, 0, 0, 0, 0, 0, 0}}, check: func(t *testing.T, res Result) {
			if got := binary.LittleEndian.Uint32(res.Context[4:]); got != 42 {
				t.Errorf("syscall ctx out = %v, want out field 42", res.Context)
			}
		}},
	} {
		t.Run(tc.prog, func(t *testing.T) {
			p := load(t, types, tc.prog, nil)
			res := mustRun(t, p, tc.in)
			if res.Retval != tc.retval {
				t.Errorf("retval = %d, want %d", res.Retval, tc.retval)
			}
			if tc.name != "" {
				if got := RetvalName(p.Type, p.AttachType, res.Retval); got != tc.name {
					t.Errorf("retval name = %q, want %q", got, tc.name)
				}
			}
			if tc.check != nil {
				tc.check(t, res)
			}
		})
	}
}

func checkL3(t *testing.T, res Result) {
	t.Helper()
	if !res.L3 {
		t.Errorf("result does not say the program saw the packet from L3")
	}
	if !bytes.Equal(res.Packet[:14], make([]byte, 14)) {
		t.Errorf("L3 output's first 14 bytes = % x, want zero", res.Packet[:14])
	}
}

func TestNotRunnable(t *testing.T) {
	_, err := Load(types, "kprobe_prog", nil)
	var nr *NotRunnableError
	if !errors.As(err, &nr) || !errors.Is(err, ErrNotRunnable) || nr.Type != ebpf.Kprobe {
		t.Fatalf("Load kprobe: %v, want NotRunnableError", err)
	}
	t.Log(err)
}

func TestNoProgram(t *testing.T) {
	_, err := Load(types, "nope", nil)
	var np *NoProgramError
	if !errors.As(err, &np) || !errors.Is(err, ErrNoProgram) {
		t.Fatalf("Load missing program: %v", err)
	}
	if len(np.Available) < 10 || !bytes.Contains([]byte(err.Error()), []byte("xdp_linlen")) {
		t.Errorf("error does not list the programs: %v", err)
	}
}

func TestVerifierRejection(t *testing.T) {
	load(t, "testdata/rejected.o", "xdp_fine", nil) // the other program does not matter
	_, err := Load("testdata/rejected.o", "xdp_rejected", nil)
	var le *LoadError
	if !errors.As(err, &le) {
		t.Fatalf("Load rejected program: %v, want *LoadError", err)
	}
	msg := err.Error()
	if !bytes.Contains([]byte(msg), []byte("invalid access to packet")) || !bytes.Contains([]byte(msg), []byte("xdp_rejected")) {
		t.Errorf("message lacks the verifier's reason:\n%s", msg)
	}
	if len(le.Log) < 3 || len(bytes.Split([]byte(msg), []byte("\n"))) > tailLines+3 {
		t.Errorf("message is not the log's tail (%d log lines):\n%s", len(le.Log), msg)
	}
	var ve *ebpf.VerifierError
	if !errors.As(err, &ve) {
		t.Errorf("the *ebpf.VerifierError does not pass through")
	}
}

func TestTypeOverride(t *testing.T) {
	_, err := Load("testdata/unknown_section.o", "iproute_prog", nil)
	if !errors.Is(err, ErrNotRunnable) || !bytes.Contains([]byte(err.Error()), []byte("Options.Type")) {
		t.Fatalf("unknown section without a type: %v", err)
	}
	p := load(t, "testdata/unknown_section.o", "iproute_prog", &Options{Type: ebpf.SchedCLS})
	if p.Type != ebpf.SchedCLS {
		t.Errorf("type = %s", p.Type)
	}
	if res := mustRun(t, p, Input{Packet: tcpFrame(t, 1)}); res.Retval != 2 {
		t.Errorf("retval = %d, want 2", res.Retval)
	}
}
