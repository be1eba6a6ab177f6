package oracle

import (
	"bytes"
	"fmt"

	"github.com/bpffuzz/bpffuzz/bpf"
	"github.com/bpffuzz/bpffuzz/live"
	"github.com/cilium/ebpf"
)

// LiveRun is a live frame mode run as the live oracles see it: the normal
// test run of the same frame (in the same namespace, on the same ingress
// interface) and the report of the live run. Plain values: the oracles never
// touch the kernel.
type LiveRun struct {
	// Test is the normal run's result; TestErr its error.
	Test    bpf.Result
	TestErr error
	Report  *live.Report
}

// LiveOracle checks one live run.
type LiveOracle interface {
	Name() string
	Doc() string
	// CheckLive returns nil when nothing is wrong, else a *Finding.
	CheckLive(r *LiveRun) error
}

// LiveOracles returns the live oracles: both are on for every live run.
func LiveOracles() []LiveOracle { return []LiveOracle{LiveAgreement{}, PageRecycling{}} }

// CheckLive runs every live oracle and returns their findings.
func CheckLive(r *LiveRun) []*Finding {
	var out []*Finding
	for _, o := range LiveOracles() {
		if err := o.CheckLive(r); err != nil {
			if f, ok := err.(*Finding); ok {
				out = append(out, f)
			}
		}
	}
	return out
}

// LiveAgreement compares a live run with the test run of the same frame.
type LiveAgreement struct{}

func (LiveAgreement) Name() string { return "live-agreement" }
func (LiveAgreement) Doc() string {
	return "A live run does what the test run of the same frame says: no xdp:xdp_exception event, no failed redirect, no XDP_ABORTED; and while every frame gets a fresh page (repeat <= batch size): the verdicts counted are the test run's, XDP_TX and XDP_REDIRECT to the ingress interface put exactly one copy of the test run's output per frame on the peer, XDP_PASS hands one per frame to the stack, XDP_DROP shows nothing anywhere. Frames the driver dropped at transmit (xdp:xdp_devmap_xmit, a full veth ring) are not a finding, but are subtracted. Off when the test run failed."
}

func (o LiveAgreement) CheckLive(r *LiveRun) error {
	rep := r.Report
	if rep == nil || r.TestErr != nil {
		return nil
	}
	if rep.Exceptions > 0 {
		return liveFinding(o, "xdp:xdp_exception fired %d times in %d frames", rep.Exceptions, rep.Frames)
	}
	if rep.RedirectErrors > 0 {
		return liveFinding(o, "%d of %d redirects failed (%s): the target interface does not exist or cannot transmit XDP frames", rep.RedirectErrors, rep.RedirectErrors+rep.Redirects, live.Counts(rep.RedirectErrnos))
	}
	if n := rep.Verdicts["XDP_ABORTED"]; n > 0 {
		return liveFinding(o, "%d of %d frames returned XDP_ABORTED (live frame mode drops them without an xdp_exception event)", n, rep.Frames)
	}
	if rep.Frames > rep.BatchSize {
		return nil // later frames get recycled pages: PageRecycling compares those
	}
	return compareLive(o, r)
}

// PageRecycling exposes programs that depend on fresh packet contents.
type PageRecycling struct{}

func (PageRecycling) Name() string { return "page-recycling" }
func (PageRecycling) Doc() string {
	return "With more frames than the batch size, live frame mode reuses the pages of earlier frames without rewriting them, so a program that reads what it wrote on an earlier repetition behaves differently from its test run. Asserts that verdicts and outputs do not drift from the test run's: the same verdict for every frame, and on the peer (XDP_TX) or the stack (XDP_PASS) only copies of the test run's output. Off with repeat <= batch size, and when the test run failed."
}

func (o PageRecycling) CheckLive(r *LiveRun) error {
	rep := r.Report
	if rep == nil || r.TestErr != nil || rep.Frames <= rep.BatchSize {
		return nil
	}
	if err := compareLive(o, r); err != nil {
		f := err.(*Finding)
		f.Message += fmt.Sprintf("; after the first batch of %d frames pages are recycled without being rewritten: the program reads bytes it wrote on an earlier repetition", rep.BatchSize)
		return f
	}
	return nil
}

func liveFinding(o LiveOracle, format string, args ...any) error {
	return &Finding{Oracle: o.Name(), Message: fmt.Sprintf(format, args...)}
}

// compareLive checks verdicts, what arrived where, and the bytes against
// the test run.
func compareLive(o LiveOracle, r *LiveRun) error {
	rep := r.Report
	want := bpf.RetvalName(ebpf.XDP, ebpf.AttachNone, r.Test.Retval)
	if want == "" {
		want = fmt.Sprint(r.Test.Retval)
	}
	f := func(format string, args ...any) error { return liveFinding(o, format, args...) }
	if rep.Verdicts != nil && rep.Verdicts[want] != uint64(rep.Frames) {
		return f("the test run returned %s; the live run returned %s for %d frames", want, live.Counts(rep.Verdicts), rep.Frames)
	}
	if !rep.Namespace {
		return nil // on a host interface: nothing was counted at the far end
	}
	frames := uint64(rep.Frames)
	stack := func() uint64 { return rep.Stack.Packets + rep.Stack.Dropped }
	switch want {
	case "XDP_TX":
		if rep.Interface == "lo" {
			return nil // lo cannot transmit: its redirects fail, reported above
		}
		if sent := rep.PeerFrames + rep.XmitDrops; sent != frames {
			return f("the test run returned XDP_TX; %d of %d frames left the ingress interface (%d dropped by the driver)", rep.PeerFrames, frames, rep.XmitDrops)
		}
		if rep.PeerCapture != nil {
			return sameBytes(f, "peer", rep.PeerCapture, r.Test.Packet)
		}
	case "XDP_PASS":
		if rep.PeerFrames != 0 {
			return f("the test run returned XDP_PASS; %d frames left on the peer", rep.PeerFrames)
		}
		if rep.Stack != nil {
			if stack() != frames {
				return f("the test run returned XDP_PASS; the stack received %d of %d frames", rep.Stack.Packets, frames)
			}
			return sameBytes(f, "stack", rep.Stack, r.Test.Packet)
		}
	case "XDP_DROP", "XDP_ABORTED":
		if rep.PeerFrames != 0 || (rep.Stack != nil && rep.Stack.Packets != 0) {
			got := uint64(0)
			if rep.Stack != nil {
				got = rep.Stack.Packets
			}
			return f("the test run returned %s; %d frames left on the peer and the stack received %d", want, rep.PeerFrames, got)
		}
	}
	return nil
}

// sameBytes checks that every captured frame is the test run's output.
func sameBytes(f func(string, ...any) error, where string, c *live.Capture, want []byte) error {
	for i, got := range c.Sample {
		switch {
		case len(got) != len(want):
			return f("frame %d on the %s has %d bytes, the test run's output %d", i+1, where, len(got), len(want))
		case !bytes.Equal(got, want):
			at := 0
			for got[at] == want[at] {
				at++
			}
			return f("frame %d on the %s differs from the test run's output at byte %d (%#02x, the test run has %#02x)", i+1, where, at, got[at], want[at])
		}
	}
	return nil
}
