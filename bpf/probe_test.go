package bpf

import (
	"errors"
	"testing"

	"github.com/bpffuzz/bpffuzz/internal/kerneltest"
	"github.com/cilium/ebpf"
)

// TestProbe checks that every probe gives a definite answer as root and
// that the answers agree with what a real run shows.
func TestProbe(t *testing.T) {
	kerneltest.Skip(t)
	f := Probe()
	for name, err := range f.ProgRun {
		if err != nil && !errors.Is(err, ErrNotSupported) {
			t.Errorf("BPF_PROG_RUN %s: couldn't tell: %v", name, err)
		}
	}
	for name, err := range map[string]error{
		"live frames": f.XDPLiveFrames, "linear from ctx": f.XDPLinearFromContext,
		"checksum complete": f.SKBChecksumComplete, "short ip": f.ShortIPFrameRejection,
		"metadata limit": f.XDPMetadataLimitErr,
	} {
		if err != nil && !errors.Is(err, ErrNotSupported) {
			t.Errorf("%s: couldn't tell: %v", name, err)
		}
	}
	if f.ProgRun[ebpf.XDP.String()] != nil || f.ProgRun[ebpf.SchedCLS.String()] != nil {
		t.Errorf("XDP or tc BPF_PROG_RUN reported unsupported: %v", f.ProgRun)
	}
	switch f.XDPMetadataLimit {
	case 32, 216, 252:
	default:
		t.Errorf("metadata limit %d is none of the known 32, 216, 252", f.XDPMetadataLimit)
	}
	// A second call answers from the cache, identically.
	if g := Probe(); g.XDPMetadataLimit != f.XDPMetadataLimit || (g.SKBChecksumComplete == nil) != (f.SKBChecksumComplete == nil) {
		t.Errorf("probe answers changed: %+v then %+v", f, g)
	}
	// LWTSeg6Local lost its test_run handler in 6.18; loading one must then
	// fail to run with ENOTSUPP, which the probe predicts.
	if errors.Is(f.ProgRun[ebpf.LWTSeg6Local.String()], ErrNotSupported) {
		p, err := LoadProgramSpec(&ebpf.ProgramSpec{Type: ebpf.LWTSeg6Local, License: "GPL",
			Instructions: probeInsns(0)}, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		if _, err := p.Run(Input{Packet: make([]byte, 64)}); !errors.Is(err, errnoENOTSUPP) {
			t.Errorf("seg6local run: %v, want ENOTSUPP as probed", err)
		}
	}
}
