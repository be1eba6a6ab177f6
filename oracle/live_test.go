package oracle

import (
	"errors"
	"strings"
	"testing"

	"github.com/bpffuzz/bpffuzz/bpf"
	"github.com/bpffuzz/bpffuzz/live"
)

// TestLiveOracles checks that each live oracle fires on the report it is
// about and stays quiet on a correct one. The reports are written by hand:
// the kernel's side is tested in package live.
func TestLiveOracles(t *testing.T) {
	out := []byte{1, 2, 3}
	tx := func(r live.Report) *LiveRun {
		if r.Frames == 0 {
			r.Frames, r.BatchSize = 64, 64
		}
		r.Namespace, r.Interface = true, "veth0"
		if r.Stack == nil {
			r.Stack = &live.Capture{}
		}
		if r.PeerCapture == nil {
			r.PeerCapture = &live.Capture{Packets: uint64(r.Frames), Sample: [][]byte{out}}
		}
		return &LiveRun{Test: bpf.Result{Retval: 3, Packet: out}, Report: &r}
	}
	for _, c := range []struct {
		name string
		run  *LiveRun
		want string // oracle name, "" for no finding
	}{
		{"tx ok", tx(live.Report{Verdicts: map[string]uint64{"XDP_TX": 64}, PeerFrames: 64}), ""},
		{"tx with driver drops", tx(live.Report{Verdicts: map[string]uint64{"XDP_TX": 64}, PeerFrames: 60, XmitDrops: 4}), ""},
		{"tx missing frames", tx(live.Report{Verdicts: map[string]uint64{"XDP_TX": 64}, PeerFrames: 10}), "live-agreement"},
		{"tx wrong bytes", tx(live.Report{Verdicts: map[string]uint64{"XDP_TX": 64}, PeerFrames: 64,
			PeerCapture: &live.Capture{Packets: 64, Sample: [][]byte{{1, 2, 4}}}}), "live-agreement"},
		{"exception", tx(live.Report{Exceptions: 1, PeerFrames: 64}), "live-agreement"},
		{"redirect error", tx(live.Report{RedirectErrors: 3, RedirectErrnos: map[string]uint64{"EINVAL": 3}}), "live-agreement"},
		{"verdict drift", tx(live.Report{Frames: 128, BatchSize: 64, Verdicts: map[string]uint64{"XDP_TX": 100, "XDP_DROP": 28}, PeerFrames: 100}), "page-recycling"},
		{"output drift", tx(live.Report{Frames: 128, BatchSize: 64, Verdicts: map[string]uint64{"XDP_TX": 128}, PeerFrames: 128,
			PeerCapture: &live.Capture{Packets: 128, Sample: [][]byte{out, {1, 2, 9}}}}), "page-recycling"},
		{"no drift", tx(live.Report{Frames: 128, BatchSize: 64, Verdicts: map[string]uint64{"XDP_TX": 128}, PeerFrames: 128}), ""},
		{"drop shows frames", &LiveRun{Test: bpf.Result{Retval: 1}, Report: &live.Report{Namespace: true, Frames: 8, BatchSize: 64,
			PeerFrames: 8, PeerCapture: &live.Capture{}, Stack: &live.Capture{}}}, "live-agreement"},
		{"drop without captures", &LiveRun{Test: bpf.Result{Retval: 1}, Report: &live.Report{Namespace: true, Frames: 8, BatchSize: 64,
			PeerFrames: 8}}, "live-agreement"},
		{"drop on a host interface", &LiveRun{Test: bpf.Result{Retval: 1}, Report: &live.Report{Frames: 8, BatchSize: 64}}, ""},
		{"test run failed", &LiveRun{TestErr: errors.New("x"), Report: &live.Report{Exceptions: 5}}, ""},
	} {
		fs := CheckLive(c.run)
		switch {
		case c.want == "" && len(fs) != 0:
			t.Errorf("%s: unexpected findings %v", c.name, fs)
		case c.want != "" && (len(fs) != 1 || fs[0].Oracle != c.want):
			t.Errorf("%s: findings %v, want one from %s", c.name, fs, c.want)
		}
		for _, f := range fs {
			if strings.TrimSpace(f.Message) == "" {
				t.Errorf("%s: empty message", c.name)
			}
		}
	}
}
