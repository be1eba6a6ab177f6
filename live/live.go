package live

import (
	"errors"
	"fmt"
	"net"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/bpffuzz/bpffuzz/bpf"
	"github.com/bpffuzz/bpffuzz/internal/netns"
	"golang.org/x/sys/unix"
)

// Interface names and MTU of the namespace's veth pair. The MTU fits the
// largest live frame (3408 bytes with its Ethernet header) and stays below
// what veth allows with an XDP program attached to the peer.
const (
	Ingress = "veth0"
	Peer    = "veth1"
	MTU     = 3400
)

// Options configure a Session. The zero value makes a namespace.
type Options struct {
	// Ifname runs the program on this existing interface of the caller's
	// namespace instead of a namespace of its own: XDP_TX then really
	// transmits there. Nothing is captured on it (it carries other
	// traffic); verdicts and tracepoint counts still are.
	Ifname string
	// Loopback receives on the namespace's loopback device instead of a
	// veth end. lo cannot transmit XDP frames: XDP_TX and redirects to it
	// fail (counted as redirect errors). XDP_PASS frames are captured.
	Loopback bool
	// NoCapture opens no packet sockets and drops frames at the peer once
	// counted, for the highest rate (a traffic generator): the report then
	// has counts but no bytes, and nothing on what XDP_PASS delivered.
	NoCapture bool
	// Keep is how many frames of each capture keep their bytes in the
	// report; 0 means 16.
	Keep int
	// Quiet is how long to wait for more frames at the peer after a run
	// before calling the count final; 0 means 100ms.
	Quiet time.Duration
}

// Session runs one program in live frame mode, repeatedly.
type Session struct {
	prog    *bpf.Program
	opts    Options
	ns      *netns.NS
	veth    *netns.Veth
	ifindex int
	ifname  string

	counters    *bpf.LiveCounters
	peer        *bpf.PeerCounter
	peerCapture *netns.Capture
	stack       *netns.Capture
}

// Start prepares a session for p: the namespace, the veth pair, the peer's
// counter and captures, and the verdict and tracepoint counters.
func Start(p *bpf.Program, opts Options) (_ *Session, err error) {
	if opts.Keep == 0 {
		opts.Keep = 16
	}
	if opts.Quiet == 0 {
		opts.Quiet = 100 * time.Millisecond
	}
	if err := bpf.HaveXDPLiveFrames(); errors.Is(err, bpf.ErrNotSupported) {
		return nil, fmt.Errorf("live frame mode: %w (needs Linux 5.18+)", err)
	}
	s := &Session{prog: p, opts: opts}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	if opts.Ifname != "" {
		ifc, err := net.InterfaceByName(opts.Ifname)
		if err != nil {
			return nil, fmt.Errorf("interface %s: %w (see ip link for the interfaces of this namespace)", opts.Ifname, err)
		}
		s.ifindex, s.ifname = ifc.Index, ifc.Name
	} else {
		if s.ns, err = netns.New(); err != nil {
			return nil, err
		}
		s.ifindex, s.ifname = 1, "lo"
		if !opts.Loopback {
			if s.veth, err = s.ns.AddVeth(Ingress, Peer, MTU); err != nil {
				return nil, err
			}
			s.ifindex, s.ifname = s.veth.Index, Ingress
		}
	}
	err = s.do(func() error {
		var err error
		if s.counters, err = p.NewLiveCounters(); err != nil {
			return err
		}
		if s.ns == nil {
			return nil // a host interface: nothing captured
		}
		if s.veth != nil {
			if s.peer, err = bpf.AttachPeerCounter(s.veth.PeerIndex, !opts.NoCapture); err != nil {
				return err
			}
		}
		if opts.NoCapture {
			return nil
		}
		if s.veth == nil {
			s.stack, err = netns.Listen(s.ifindex, opts.Keep)
			return err
		}
		if s.peerCapture, err = netns.Listen(s.veth.PeerIndex, opts.Keep); err != nil {
			return err
		}
		s.stack, err = netns.Listen(s.veth.Index, opts.Keep)
		return err
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// Ifindex is the index of the interface the program receives on, in the
// session's namespace.
func (s *Session) Ifindex() int { return s.ifindex }

// do runs fn on a locked OS thread in the session's namespace.
func (s *Session) do(fn func() error) error {
	if s.ns != nil {
		return s.ns.Do(fn)
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		errc <- fn()
	}()
	return <-errc
}

// Close removes the namespace and detaches everything.
func (s *Session) Close() error {
	var errs []error
	for _, c := range []*netns.Capture{s.peerCapture, s.stack} {
		errs = append(errs, c.Close()) // nil-safe
	}
	if s.peer != nil {
		errs = append(errs, s.peer.Close())
	}
	if s.counters != nil {
		errs = append(errs, s.counters.Close())
	}
	errs = append(errs, s.ns.Close())
	return errors.Join(errs...)
}

// Test runs packet once through the normal BPF_PROG_RUN, in the session's
// namespace and with the same ingress interface as a live run, so that the
// two can be compared. The result is a copy: it does not alias the
// program's buffers.
func (s *Session) Test(packet []byte) (bpf.Result, error) {
	var res bpf.Result
	var runErr error
	err := s.do(func() error {
		res, runErr = s.prog.Run(bpf.Input{Packet: packet, Context: bpf.XDPContext{IngressIfindex: uint32(s.ifindex)}})
		return nil
	})
	if err != nil {
		return res, err
	}
	res.Packet = append([]byte(nil), res.Packet...)
	res.Context = append([]byte(nil), res.Context...)
	return res, runErr
}

// Input is one live run.
type Input struct {
	// Packet is the frame, sent Repeat times.
	Packet []byte
	// Repeat is how many frames to run; 0 means 1.
	Repeat uint32
	// BatchSize is the kernel's batch and page pool size; 0 means 64.
	BatchSize uint32
}

// Capture is what a packet socket saw.
type Capture struct {
	// Packets and Bytes count the frames received.
	Packets uint64 `json:"packets"`
	Bytes   uint64 `json:"bytes"`
	// Dropped counts frames the socket dropped for lack of buffer space.
	Dropped uint64 `json:"dropped"`
	// Sample holds the first Options.Keep frames.
	Sample [][]byte `json:"-"`
}

// Report is what one live run did.
type Report struct {
	Program   string `json:"program"`
	Interface string `json:"interface"`
	Namespace bool   `json:"namespace"`
	Frames    uint32 `json:"frames"`
	BatchSize uint32 `json:"batch_size"`
	Size      int    `json:"size"`
	// Elapsed is the syscall's wall time; PacketsPerSecond is Frames over
	// it; KernelPerFrame is the kernel's own average.
	Elapsed          time.Duration `json:"elapsed_ns"`
	KernelPerFrame   time.Duration `json:"kernel_ns_per_frame"`
	PacketsPerSecond float64       `json:"packets_per_second"`
	// Verdicts counts return values by name (XDP_DROP, ...; "other" for
	// values above 7). nil when they could not be counted: VerdictError
	// says why.
	Verdicts      map[string]uint64 `json:"verdicts,omitempty"`
	VerdictMethod string            `json:"verdict_method,omitempty"`
	VerdictError  string            `json:"verdict_error,omitempty"`
	// Redirects counts redirects that succeeded (XDP_TX is one), and
	// RedirectErrors those that failed, with their errnos.
	Redirects      uint64            `json:"redirects"`
	RedirectErrors uint64            `json:"redirect_errors"`
	RedirectErrnos map[string]uint64 `json:"redirect_errnos,omitempty"`
	// Exceptions counts xdp:xdp_exception events.
	Exceptions uint64 `json:"exceptions"`
	// XmitSent and XmitDrops are the frames the target driver sent and
	// dropped (xdp:xdp_devmap_xmit).
	XmitSent  uint64 `json:"xmit_sent"`
	XmitDrops uint64 `json:"xmit_drops"`
	// PeerFrames and PeerBytes are counted by the XDP program on the
	// peer: every frame that left the ingress interface. PeerCapture and
	// Stack are packet sockets on the peer and on the ingress interface
	// (what XDP_PASS handed to the stack). All nil/0 with Options.Ifname;
	// with Options.Loopback only Stack is set; with Options.NoCapture the
	// captures are nil.
	PeerFrames  uint64   `json:"peer_frames"`
	PeerBytes   uint64   `json:"peer_bytes"`
	PeerCapture *Capture `json:"peer_capture,omitempty"`
	Stack       *Capture `json:"stack,omitempty"`
	// Errno is the kernel's error for the run, 0 on success.
	Errno unix.Errno `json:"errno"`
}

var verdictNames = []string{"XDP_ABORTED", "XDP_DROP", "XDP_PASS", "XDP_TX", "XDP_REDIRECT", "5", "6", "7", "other"}

// Run runs in and reports what happened. An input the kernel would reject
// is an *bpf.InputError and no report; a kernel error after the run started
// comes with the report of what happened until then.
func (s *Session) Run(in Input) (*Report, error) {
	r := &Report{
		Program: s.prog.Name, Interface: s.ifname, Namespace: s.ns != nil,
		Frames: max(in.Repeat, 1), BatchSize: in.BatchSize, Size: len(in.Packet),
	}
	if r.BatchSize == 0 {
		r.BatchSize = bpf.DefaultLiveBatch
	}
	var (
		res    bpf.LiveResult
		runErr error
		counts bpf.LiveCounts
	)
	err := s.do(func() error {
		for _, c := range []*netns.Capture{s.peerCapture, s.stack} {
			if c != nil {
				if err := c.Reset(); err != nil {
					return err
				}
			}
		}
		if s.peer != nil {
			if err := s.peer.Reset(); err != nil {
				return err
			}
		}
		if err := s.counters.Start(); err != nil {
			return err
		}
		res, runErr = s.counters.Target.RunLive(bpf.LiveInput{
			Packet: in.Packet, Context: bpf.XDPContext{IngressIfindex: uint32(s.ifindex)},
			Repeat: in.Repeat, BatchSize: in.BatchSize,
		})
		var err error
		counts, err = s.counters.Read()
		return err
	})
	if err != nil {
		return nil, err
	}
	if bpf.IsInputError(runErr) {
		return nil, runErr
	}
	r.Errno = res.Errno
	r.Elapsed, r.KernelPerFrame = res.Elapsed, res.Duration
	if res.Elapsed > 0 && res.Errno == 0 {
		r.PacketsPerSecond = float64(r.Frames) / res.Elapsed.Seconds()
	}
	if counts.Verdicts != nil {
		r.VerdictMethod = s.counters.VerdictMethod
		r.Verdicts = map[string]uint64{}
		for i, n := range counts.Verdicts {
			if n > 0 {
				r.Verdicts[verdictNames[i]] = n
			}
		}
	} else if s.counters.VerdictErr != nil {
		r.VerdictError = s.counters.VerdictErr.Error()
	}
	r.Redirects, r.RedirectErrors, r.Exceptions = counts.Redirects, counts.RedirectErrors, counts.Exceptions
	r.XmitSent, r.XmitDrops = counts.XmitSent, counts.XmitDrops
	for e, n := range counts.ByErrno {
		if r.RedirectErrnos == nil {
			r.RedirectErrnos = map[string]uint64{}
		}
		name := bpf.ErrnoName(e)
		if name == "" {
			name = fmt.Sprintf("errno %d", int(e))
		}
		r.RedirectErrnos[name] += n
	}
	if s.ns != nil {
		if err := s.collect(r, counts); err != nil {
			return nil, err
		}
	}
	return r, runErr
}

// collect waits for the frames in flight to reach the peer, then reads the
// peer's counter and both captures.
func (s *Session) collect(r *Report, counts bpf.LiveCounts) error {
	last, since := uint64(0), time.Now()
	for s.peer != nil {
		frames, bytes, err := s.peer.Read()
		if err != nil {
			return err
		}
		r.PeerFrames, r.PeerBytes = frames, bytes
		if frames >= counts.XmitSent || time.Since(since) > s.opts.Quiet {
			break
		}
		if frames != last {
			last, since = frames, time.Now()
		}
		time.Sleep(time.Millisecond)
	}
	for _, c := range []struct {
		capture *netns.Capture
		want    uint64
		out     **Capture
	}{
		{s.peerCapture, r.PeerFrames, &r.PeerCapture},
		{s.stack, 0, &r.Stack},
	} {
		if c.capture == nil {
			continue
		}
		quiet := s.opts.Quiet
		if c.want == 0 {
			quiet /= 4 // nothing known to be on the way: a short look
		}
		drops, err := c.capture.Drain(c.want, quiet)
		if err != nil {
			return err
		}
		*c.out = &Capture{Packets: c.capture.Count, Bytes: c.capture.Bytes, Dropped: drops, Sample: c.capture.Packets}
	}
	return nil
}

// Counts formats counts by name, largest first: "XDP_TX 512, XDP_DROP 512".
func Counts(m map[string]uint64) string {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Slice(names, func(i, j int) bool {
		if m[names[i]] != m[names[j]] {
			return m[names[i]] > m[names[j]]
		}
		return names[i] < names[j]
	})
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%s %d", n, m[n])
	}
	return strings.Join(parts, ", ")
}
