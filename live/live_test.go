package live_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/bpffuzz/bpffuzz/bpf"
	"github.com/bpffuzz/bpffuzz/internal/kerneltest"
	"github.com/bpffuzz/bpffuzz/live"
	"github.com/bpffuzz/bpffuzz/oracle"
)

const object = "../bpf/testdata/live.o"

// frame is a 64-byte Ethernet frame with an experimental ethertype, so
// nothing in the namespace's stack answers it.
func frame() []byte {
	b := make([]byte, 64)
	copy(b, []byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x88, 0xb5})
	for i := 15; i < len(b); i++ {
		b[i] = byte(i)
	}
	return b
}

// session loads program from live.o and starts a session for it.
func session(t *testing.T, program string, opts live.Options) (*bpf.Program, *live.Session) {
	t.Helper()
	kerneltest.Skip(t)
	p, err := bpf.Load(object, program, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	s, err := live.Start(p, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return p, s
}

// run runs one live input and the test run of the same frame, and returns
// both with the live oracles' findings.
func run(t *testing.T, s *live.Session, in live.Input) (*live.Report, []*oracle.Finding) {
	t.Helper()
	rep, err := s.Run(in)
	if err != nil {
		t.Fatalf("live run: %v", err)
	}
	test, testErr := s.Test(in.Packet)
	return rep, oracle.CheckLive(&oracle.LiveRun{Test: test, TestErr: testErr, Report: rep})
}

func TestTXArrivesOnPeer(t *testing.T) {
	_, s := session(t, "xdp_tx", live.Options{Keep: 2000})
	pkt := frame()
	rep, findings := run(t, s, live.Input{Packet: pkt, Repeat: 1000, BatchSize: 64})
	if rep.Verdicts["XDP_TX"] != 1000 || len(rep.Verdicts) != 1 {
		t.Errorf("verdicts %v, want XDP_TX 1000 (%s)", rep.Verdicts, rep.VerdictError)
	}
	if rep.PeerFrames != 1000 || rep.PeerBytes != 64000 {
		t.Errorf("peer counted %d frames, %d bytes; want 1000, 64000", rep.PeerFrames, rep.PeerBytes)
	}
	c := rep.PeerCapture
	if c.Packets != 1000 || c.Bytes != 64000 || c.Dropped != 0 || len(c.Sample) != 1000 {
		t.Errorf("peer capture: %d frames, %d bytes, %d dropped, %d kept; want 1000, 64000, 0, 1000", c.Packets, c.Bytes, c.Dropped, len(c.Sample))
	}
	for i, got := range c.Sample {
		if !bytes.Equal(got, pkt) {
			t.Fatalf("frame %d on the peer is %x, want %x", i, got, pkt)
		}
	}
	if rep.Stack.Packets != 0 || rep.Redirects != 1000 || rep.XmitSent != 1000 {
		t.Errorf("stack %d, redirects %d, xmit sent %d; want 0, 1000, 1000", rep.Stack.Packets, rep.Redirects, rep.XmitSent)
	}
	if len(findings) != 0 {
		t.Errorf("findings on a correct run: %v", findings)
	}
	if rep.PacketsPerSecond <= 0 {
		t.Errorf("packets/s %v", rep.PacketsPerSecond)
	}
}

func TestDropShowsNothing(t *testing.T) {
	_, s := session(t, "xdp_drop", live.Options{})
	rep, findings := run(t, s, live.Input{Packet: frame(), Repeat: 1000})
	if rep.Verdicts["XDP_DROP"] != 1000 || rep.PeerFrames != 0 || rep.PeerCapture.Packets != 0 || rep.Stack.Packets != 0 {
		t.Errorf("drop: verdicts %v, peer %d frames, %d captured, stack %d; want only 1000 drops",
			rep.Verdicts, rep.PeerFrames, rep.PeerCapture.Packets, rep.Stack.Packets)
	}
	if len(findings) != 0 {
		t.Errorf("findings on a correct run: %v", findings)
	}
}

func TestPassReachesStack(t *testing.T) {
	_, s := session(t, "xdp_pass", live.Options{})
	pkt := frame()
	rep, findings := run(t, s, live.Input{Packet: pkt, Repeat: 200, BatchSize: 256})
	if rep.Stack.Packets != 200 || rep.PeerFrames != 0 || !bytes.Equal(rep.Stack.Sample[0], pkt) {
		t.Errorf("pass: stack received %d frames, peer %d; want 200, 0", rep.Stack.Packets, rep.PeerFrames)
	}
	if len(findings) != 0 {
		t.Errorf("findings on a correct run: %v", findings)
	}
}

func TestRedirectToMissingInterface(t *testing.T) {
	_, s := session(t, "xdp_redirect_missing", live.Options{})
	rep, findings := run(t, s, live.Input{Packet: frame(), Repeat: 1000, BatchSize: 64})
	if rep.Errno != 0 || rep.Verdicts["XDP_REDIRECT"] != 1000 {
		t.Errorf("the run did not go on: errno %v, verdicts %v", rep.Errno, rep.Verdicts)
	}
	if rep.RedirectErrors != 1000 || rep.RedirectErrnos["EINVAL"] != 1000 || rep.Redirects != 0 || rep.PeerFrames != 0 {
		t.Errorf("redirect errors %d %v, redirects %d, peer %d; want 1000 EINVAL and nothing sent", rep.RedirectErrors, rep.RedirectErrnos, rep.Redirects, rep.PeerFrames)
	}
	if len(findings) != 1 || findings[0].Oracle != "live-agreement" || !strings.Contains(findings[0].Message, "EINVAL 1000") {
		t.Errorf("findings %v, want one live-agreement finding naming EINVAL", findings)
	}
}

func TestAbortedIsAFinding(t *testing.T) {
	_, s := session(t, "xdp_aborted", live.Options{})
	rep, findings := run(t, s, live.Input{Packet: frame(), Repeat: 100})
	if rep.Verdicts["XDP_ABORTED"] != 100 || len(findings) != 1 || !strings.Contains(findings[0].Message, "XDP_ABORTED") {
		t.Errorf("verdicts %v, findings %v; want 100 XDP_ABORTED and a finding", rep.Verdicts, findings)
	}
}

// TestPageRecycling runs a program that reads what it wrote on an earlier
// repetition, and one that writes the packet without depending on it,
// with more frames than the batch size.
func TestPageRecycling(t *testing.T) {
	pkt := frame()
	_, s := session(t, "xdp_seen_before", live.Options{})
	rep, findings := run(t, s, live.Input{Packet: pkt, Repeat: 64, BatchSize: 64})
	if rep.Verdicts["XDP_DROP"] != 64 || len(findings) != 0 {
		t.Errorf("xdp_seen_before, one batch of fresh pages: verdicts %v, findings %v; want 64 drops, none", rep.Verdicts, findings)
	}
	rep, findings = run(t, s, live.Input{Packet: pkt, Repeat: 1024, BatchSize: 64})
	if rep.Verdicts["XDP_TX"] == 0 || rep.PeerFrames != rep.Verdicts["XDP_TX"] {
		t.Errorf("xdp_seen_before: verdicts %v, %d frames on the peer; want some XDP_TX on recycled pages, all arriving", rep.Verdicts, rep.PeerFrames)
	}
	if len(findings) != 1 || findings[0].Oracle != "page-recycling" {
		t.Errorf("xdp_seen_before: findings %v, want one page-recycling finding", findings)
	} else {
		t.Logf("finding: %v", findings[0])
	}

	_, s = session(t, "xdp_tx_stamp", live.Options{})
	rep, findings = run(t, s, live.Input{Packet: pkt, Repeat: 1024, BatchSize: 64})
	if rep.Verdicts["XDP_TX"] != 1024 || rep.PeerFrames != 1024 || len(findings) != 0 {
		t.Errorf("xdp_tx_stamp: verdicts %v, peer %d, findings %v; want 1024 XDP_TX arriving, no finding", rep.Verdicts, rep.PeerFrames, findings)
	}
}

func TestLoopback(t *testing.T) {
	_, s := session(t, "xdp_pass", live.Options{Loopback: true})
	rep, findings := run(t, s, live.Input{Packet: frame(), Repeat: 10})
	if rep.Interface != "lo" || rep.Stack.Packets != 10 || len(findings) != 0 {
		t.Errorf("pass on lo: interface %s, stack %d, findings %v; want lo, 10, none", rep.Interface, rep.Stack.Packets, findings)
	}
	_, s = session(t, "xdp_tx", live.Options{Loopback: true})
	rep, _ = run(t, s, live.Input{Packet: frame(), Repeat: 10})
	if rep.RedirectErrors != 10 {
		t.Errorf("tx on lo: %d redirect errors, want 10 (lo cannot transmit XDP frames)", rep.RedirectErrors)
	}
}

func TestRejectedInput(t *testing.T) {
	_, s := session(t, "xdp_drop", live.Options{})
	for _, c := range []struct {
		in   live.Input
		want string
	}{
		{live.Input{Packet: make([]byte, 4000)}, "at most"},
		{live.Input{Packet: frame(), BatchSize: 300}, "batch size 300"},
	} {
		if _, err := s.Run(c.in); !bpf.IsInputError(err) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Run(%d bytes, batch %d): %v, want an input error mentioning %q", len(c.in.Packet), c.in.BatchSize, err, c.want)
		}
	}
	p, err := bpf.Load(object, "xdp_drop", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if _, err := live.Start(p, live.Options{Ifname: "bpffuzz-none0"}); err == nil || !strings.Contains(err.Error(), "bpffuzz-none0") {
		t.Errorf("missing --ifname: %v", err)
	}
}
