package bpf

import (
	"errors"
	"runtime"
	"syscall"
	"testing"
	"unsafe"

	"github.com/bpffuzz/bpffuzz/internal/netns"
)

// execLive sends in to the kernel in live frame mode without any check,
// with data_out and ctx_out when asked for.
func execLive(p *Program, in LiveInput, dataOut, ctxOut bool) syscall.Errno {
	a := progRunAttr{progFD: uint32(p.prog.FD()), repeat: in.Repeat, flags: FlagXDPLiveFrames, batchSize: in.BatchSize}
	if len(in.Packet) > 0 {
		a.dataIn, a.dataSizeIn = uint64(uintptr(unsafe.Pointer(&in.Packet[0]))), uint32(len(in.Packet))
	}
	ctx := make([]byte, sizeofXDPMD)
	out := make([]byte, 4096)
	if in.Context != (XDPContext{}) {
		in.Context.putContext(ctx, len(in.Packet))
		a.ctxIn, a.ctxSizeIn = uint64(uintptr(unsafe.Pointer(&ctx[0]))), sizeofXDPMD
	}
	if dataOut {
		a.dataOut, a.dataSizeOut = uint64(uintptr(unsafe.Pointer(&out[0]))), uint32(len(out))
	}
	if ctxOut {
		a.ctxOut, a.ctxSizeOut = uint64(uintptr(unsafe.Pointer(&out[0]))), sizeofXDPMD
	}
	errno := progTestRunOnce(&a)
	runtime.KeepAlive(in.Packet)
	runtime.KeepAlive(ctx)
	runtime.KeepAlive(out)
	return errno
}

// inNamespace runs fn in a fresh network namespace with a veth pair
// (ifindex of its first end), so live frames never leave the test.
func inNamespace(t *testing.T, fn func(ifindex int)) {
	t.Helper()
	ns, err := netns.New()
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	v, err := ns.AddVeth("veth0", "veth1", 3400)
	if err != nil {
		t.Fatal(err)
	}
	if err := ns.Do(func() error { fn(v.Index); return nil }); err != nil {
		t.Fatal(err)
	}
}

// TestLiveRulesAgreeWithKernel checks every live frame mode rule RunLive
// enforces against the kernel: RunLive must reject the input with an
// *InputError carrying the errno, and the same input sent unchecked must
// fail with exactly that errno. Accepted inputs must pass both.
func TestLiveRulesAgreeWithKernel(t *testing.T) {
	drop := load(t, "testdata/live.o", "xdp_drop", nil)
	tc := load(t, "testdata/types.o", "tc_len", nil)
	limit, err := XDPLiveFrameLimit()
	if err != nil {
		t.Fatalf("probe live frame limit: %v", err)
	}
	if limit != liveFrameLimitNew && limit != liveFrameLimitOld {
		t.Fatalf("live frame limit %d is neither %d nor %d", limit, liveFrameLimitOld, liveFrameLimitNew)
	}
	metaLimit, err := XDPMetadataLimit()
	if err != nil {
		t.Fatalf("probe metadata limit: %v", err)
	}
	inNamespace(t, func(ifindex int) {
		veth := uint32(ifindex)
		cases := []struct {
			name  string
			prog  *Program
			in    LiveInput
			errno syscall.Errno
			field string
		}{
			{"64 bytes", drop, LiveInput{Packet: make([]byte, 64)}, 0, ""},
			{"on veth", drop, LiveInput{Packet: make([]byte, 64), Context: XDPContext{IngressIfindex: veth}}, 0, ""},
			{"frame at limit", drop, LiveInput{Packet: make([]byte, limit)}, 0, ""},
			{"frame above limit", drop, LiveInput{Packet: make([]byte, limit+1)}, syscall.EINVAL, "packet"},
			{"frame at limit after metadata", drop, LiveInput{Packet: make([]byte, limit+metaLimit), Context: XDPContext{MetaLen: uint32(metaLimit)}}, 0, ""},
			{"frame above limit after metadata", drop, LiveInput{Packet: make([]byte, limit+5), Context: XDPContext{MetaLen: 4}}, syscall.EINVAL, "packet"},
			{"13 bytes", drop, LiveInput{Packet: make([]byte, 13)}, syscall.EINVAL, "packet"},
			{"batch 256", drop, LiveInput{Packet: make([]byte, 64), Repeat: 300, BatchSize: MaxLiveBatch}, 0, ""},
			{"batch 257", drop, LiveInput{Packet: make([]byte, 64), BatchSize: MaxLiveBatch + 1}, syscall.E2BIG, "batch_size"},
			{"missing interface", drop, LiveInput{Packet: make([]byte, 64), Context: XDPContext{IngressIfindex: 4000}}, syscall.ENODEV, "ctx.ingress_ifindex"},
			{"not XDP", tc, LiveInput{Packet: make([]byte, 64)}, syscall.EINVAL, "program"},
		}
		for _, c := range cases {
			_, err := c.prog.RunLive(c.in)
			var ie *InputError
			switch {
			case c.errno == 0 && err != nil:
				t.Errorf("%s: RunLive: %v", c.name, err)
			case c.errno != 0 && (!errors.As(err, &ie) || ie.Errno != c.errno || ie.Field != c.field):
				t.Errorf("%s: RunLive returned %v, want an input error on %s with %s", c.name, err, c.field, errnoName(c.errno))
			}
			if got := execLive(c.prog, c.in, false, false); got != c.errno {
				t.Errorf("%s: the kernel returned %s, the rule says %s", c.name, errnoName(got), errnoName(c.errno))
			}
		}
		// Outputs: RunLive never asks for them. The kernel rejects them
		// with a context, and without one data_out only echoes the input.
		withCtx := LiveInput{Packet: make([]byte, 64), Context: XDPContext{IngressIfindex: veth}}
		if got := execLive(drop, withCtx, true, false); got != syscall.EINVAL {
			t.Errorf("data_out with a context: kernel returned %s, want EINVAL", errnoName(got))
		}
		if got := execLive(drop, withCtx, false, true); got != syscall.EINVAL {
			t.Errorf("ctx_out with a context: kernel returned %s, want EINVAL", errnoName(got))
		}
	})
}

// TestLiveRejectedByRun checks that the normal run refuses the live flag
// instead of passing it to the kernel with output buffers.
func TestLiveRejectedByRun(t *testing.T) {
	p := load(t, "testdata/live.o", "xdp_drop", nil)
	_, err := p.Run(Input{Packet: make([]byte, 64), Flags: FlagXDPLiveFrames})
	if !IsInputError(err) {
		t.Errorf("Run with the live flag: %v, want an input error", err)
	}
}

// TestVerdictCopy checks that the instrumented copy counts exactly the
// verdicts of the program, and behaves like it.
func TestVerdictCopy(t *testing.T) {
	for _, c := range []struct {
		object, program string
		opts            *Options
		want            uint32
	}{
		{"testdata/live.o", "xdp_drop", nil, 1},
		{"testdata/live.o", "xdp_seen_before", nil, 1},
		{"testdata/bpf2bpf.o", "xdp_calls", nil, 0}, // subprograms keep their exits
		{"../examples/maps_config.o", "xdp_config", &Options{Variables: map[string]any{"config.mode": 1, "config.port": 53}}, 2},
	} {
		p := load(t, c.object, c.program, c.opts)
		lc, err := p.NewLiveCounters()
		if err != nil {
			t.Fatal(err)
		}
		defer lc.Close()
		if lc.VerdictErr != nil {
			t.Fatalf("%s: %v", c.program, lc.VerdictErr)
		}
		pkt := make([]byte, 64)
		want, err := p.Run(Input{Packet: pkt})
		if err != nil {
			t.Fatal(err)
		}
		got, err := lc.Target.Run(Input{Packet: pkt})
		if err != nil {
			t.Fatal(err)
		}
		if got.Retval != want.Retval || string(got.Packet) != string(want.Packet) {
			t.Errorf("%s: copy returned %d %x, program %d %x", c.program, got.Retval, got.Packet, want.Retval, want.Packet)
		}
		if lc.VerdictMethod == "instrumented copy" {
			runtime.LockOSThread()
			if err := lc.Start(); err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 3; i++ {
				if _, err := lc.Target.Run(Input{Packet: pkt}); err != nil {
					t.Fatal(err)
				}
			}
			counts, err := lc.Read()
			runtime.UnlockOSThread()
			if err != nil {
				t.Fatal(err)
			}
			slot := min(want.Retval, otherVerdictSlot)
			for i, n := range counts.Verdicts {
				if (i == int(slot) && n != 3) || (i != int(slot) && n != 0) {
					t.Errorf("%s: verdict counts %v, want 3 in slot %d", c.program, counts.Verdicts, slot)
					break
				}
			}
		}
	}
}
