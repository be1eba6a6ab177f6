package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/bpffuzz/bpffuzz/internal/kerneltest"
)

// liveFrame is a 64-byte Ethernet frame with an experimental ethertype.
var liveFrame = "020000000002020000000001" + "88b5" + strings.Repeat("00", 50)

func TestRunLive(t *testing.T) {
	kerneltest.Skip(t)
	out, errs, code := runCLI(t, "run", fixtures+"live.o", "xdp_tx", "--live", "--repeat", "500", "--batch-size", "64", "--data-hex", liveFrame)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{"packets/s", "XDP_TX 500", "redirects   500 ok, 0 failed", "exceptions  0", "peer        500 frames, 32000 bytes on veth1", "findings    none"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}

	out, errs, code = runCLI(t, "run", "--json", "--live", fixtures+"live.o", "xdp_redirect_missing", "--repeat", "100", "--data-hex", liveFrame)
	var r liveJSON
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("--json output: %v\n%s%s", err, out, errs)
	}
	if code != 3 || r.RedirectErrors != 100 || r.RedirectErrnos["EINVAL"] != 100 || len(r.Findings) != 1 || r.TestRetvalName != "XDP_REDIRECT" {
		t.Errorf("redirect to a missing interface: exit %d, %+v", code, r)
	}

	out, _, code = runCLI(t, "run", fixtures+"live.o", "xdp_seen_before", "--live", "--repeat", "1024", "--data-hex", liveFrame)
	if code != 3 || !strings.Contains(out, "page-recycling") {
		t.Errorf("xdp_seen_before: exit %d (want 3 for a finding):\n%s", code, out)
	}
	out, _, code = runCLI(t, "run", fixtures+"live.o", "xdp_drop", "--live", "--repeat", "1000", "--no-capture", "--data-hex", liveFrame)
	if code != 0 || !strings.Contains(out, "XDP_DROP 1000") || !strings.Contains(out, "no packet socket") {
		t.Errorf("--no-capture: exit %d:\n%s", code, out)
	}
}

func TestRunLiveErrors(t *testing.T) {
	kerneltest.Skip(t)
	big := liveFrame[:28] + strings.Repeat("00", 4000)
	for _, tc := range []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"no frame", []string{"--live"}, 2, "needs one frame"},
		{"ctx", []string{"--live", "--data-hex", liveFrame, "--ctx", "ingress_ifindex=1"}, 2, "--ifname"},
		{"batch too big", []string{"--live", "--data-hex", liveFrame, "--batch-size", "257"}, 1, "--batch-size 256 or less"},
		{"frame too large", []string{"--live", "--data-hex", big}, 1, "a live frame takes at most"},
		{"missing interface", []string{"--live", "--data-hex", liveFrame, "--ifname", "bpffuzz-none0"}, 1, "bpffuzz-none0"},
		{"not XDP", []string{"--live", "--data-hex", liveFrame, "--type", "tc"}, 1, "XDP programs"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"run", fixtures + "live.o", "xdp_drop"}, tc.args...)
			_, errs, code := runCLI(t, args...)
			if code != tc.code || !strings.Contains(errs, tc.msg) {
				t.Errorf("exit %d (want %d), stderr %q (want it to mention %q)", code, tc.code, errs, tc.msg)
			}
		})
	}
}
