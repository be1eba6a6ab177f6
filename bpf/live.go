package bpf

import (
	"fmt"
	"runtime"
	"syscall"
	"time"
	"unsafe"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// FlagXDPLiveFrames is BPF_F_TEST_XDP_LIVE_FRAMES (Linux 5.18+): the kernel
// carries out each XDP verdict instead of reporting it. [Program.RunLive]
// sets it; [Program.Run] rejects it.
const FlagXDPLiveFrames = 1 << 1

// Live frame mode limits (net/bpf/test_run.c).
const (
	// MaxLiveBatch is TEST_XDP_MAX_BATCH: a larger batch is E2BIG.
	MaxLiveBatch = 256
	// DefaultLiveBatch is the batch size the kernel uses for 0
	// (NAPI_POLL_WEIGHT).
	DefaultLiveBatch = 64
)

// LiveInput is one live frame mode run: the same frame, Repeat times.
type LiveInput struct {
	// Packet is the frame; with Context.MetaLen, its first MetaLen bytes
	// are metadata. At most XDPLiveFrameLimit bytes after the metadata.
	Packet []byte
	// Context sets the ingress interface (which XDP_TX transmits on and
	// XDP_PASS delivers to), its receive queue and the metadata length.
	// LinearLen must be 0: live frames have no fragments. The zero value
	// receives on the namespace's loopback device.
	Context XDPContext
	// Repeat is how many frames are run; 0 means 1.
	Repeat uint32
	// BatchSize is how many frames the kernel runs before it flushes
	// redirects and hands XDP_PASS frames to the stack, and the size of
	// its page pool; 0 means DefaultLiveBatch, at most MaxLiveBatch.
	BatchSize uint32
}

// LiveResult is what the kernel reports of a live run. It does not report
// verdicts (retval is always 0) nor output: count them with
// [LiveCounters], or see what arrived with a packet socket.
type LiveResult struct {
	// Frames is how many frames the run was asked for (Repeat, at least 1).
	Frames uint32
	// Duration is the kernel's average time per frame, redirects and
	// stack delivery included. It is not deterministic.
	Duration time.Duration
	// Elapsed is the wall time of the syscall.
	Elapsed time.Duration
	// Errno is the kernel's error, 0 on success.
	Errno syscall.Errno
}

// RunLive runs the program in live frame mode: the kernel builds Repeat
// frames from in.Packet in a page pool of BatchSize pages and carries out
// each verdict for real. XDP_TX transmits the frame on the ingress
// interface, XDP_REDIRECT redirects it, XDP_PASS hands it to the network
// stack of the calling thread's namespace, XDP_DROP and XDP_ABORTED free it.
// Pages are recycled between repetitions without being rewritten, so a
// program that writes the packet may see its own earlier writes.
//
// These are real side effects: run it in a namespace of its own (package
// live does) unless an interface is meant to send. Needs Linux 5.18+ and
// root or CAP_BPF + CAP_NET_ADMIN.
//
// RunLive validates in first and returns an [*InputError] without calling
// the kernel if the kernel would reject it. A kernel failure is returned
// as its errno (also in LiveResult.Errno). EINTR (a signal during a long
// run) is not retried, because frames already sent cannot be taken back:
// the run stopped after an unknown number of frames.
func (p *Program) RunLive(in LiveInput) (LiveResult, error) {
	res := LiveResult{Frames: max(in.Repeat, 1)}
	if err := p.checkLive(&in); err != nil {
		return res, err
	}
	a := &p.run.attr
	*a = progRunAttr{progFD: uint32(p.prog.FD()), repeat: in.Repeat, flags: FlagXDPLiveFrames, batchSize: in.BatchSize}
	a.dataIn = uint64(uintptr(unsafe.Pointer(&in.Packet[0])))
	a.dataSizeIn = uint32(len(in.Packet))
	// No data_out and no ctx_out: with a context the kernel rejects them
	// (EINVAL), and without one data_out only echoes the input.
	var ctx []byte
	if in.Context != (XDPContext{}) {
		ctx = make([]byte, sizeofXDPMD)
		in.Context.putContext(ctx, len(in.Packet))
		a.ctxIn = uint64(uintptr(unsafe.Pointer(&ctx[0])))
		a.ctxSizeIn = sizeofXDPMD
	}
	start := time.Now()
	errno := progTestRunOnce(a)
	res.Elapsed = time.Since(start)
	runtime.KeepAlive(in.Packet)
	runtime.KeepAlive(ctx)
	res.Errno = errno
	switch errno {
	case 0:
		res.Duration = time.Duration(a.duration)
		return res, nil
	case syscall.EPERM:
		return res, permission(errno)
	case syscall.EINTR:
		return res, fmt.Errorf("live run interrupted by a signal after an unknown number of frames: %w", errno)
	}
	return res, errno
}

// progTestRunOnce issues BPF_PROG_TEST_RUN once, without retrying EINTR.
func progTestRunOnce(a *progRunAttr) syscall.Errno {
	_, _, errno := unix.Syscall(unix.SYS_BPF, cmdProgTestRun, uintptr(unsafe.Pointer(a)), unsafe.Sizeof(*a))
	return errno
}

// checkLive applies the kernel's live frame mode rules
// (bpf_prog_test_run_xdp), then the context's own rules.
func (p *Program) checkLive(in *LiveInput) error {
	if p.kind != kindXDP {
		return inputErr("program", syscall.EINVAL, "live frame mode runs XDP programs; %s is a %s program", p.Name, p.Type)
	}
	if p.AttachType == ebpf.AttachXDPDevMap || p.AttachType == ebpf.AttachXDPCPUMap {
		return inputErr("program", syscall.EINVAL, "%s is a devmap/cpumap program, which BPF_PROG_RUN does not run", p.Name)
	}
	if in.BatchSize > MaxLiveBatch {
		return inputErr("batch_size", syscall.E2BIG, "batch size %d is above the kernel's maximum of %d", in.BatchSize, MaxLiveBatch)
	}
	if in.Context.LinearLen != 0 && int(in.Context.LinearLen) != len(in.Packet)-int(in.Context.MetaLen) {
		return inputErr("ctx.linear_len", syscall.EINVAL, "live frames have no fragments: leave the linear length 0 (the whole %d-byte frame)", len(in.Packet)-int(in.Context.MetaLen))
	}
	if err := in.Context.check(p, len(in.Packet)); err != nil {
		return err
	}
	n := len(in.Packet) - int(in.Context.MetaLen)
	if limit, err := XDPLiveFrameLimit(); err == nil && n > limit {
		return inputErr("packet", syscall.EINVAL, "a live frame takes at most %d bytes on this kernel (the page pool keeps its own header in each page), got %d; use a normal run for larger frames", limit, n)
	}
	return nil
}

// Frame size limits of live frame mode: 4096 - XDP_PACKET_HEADROOM (256) -
// tailroom (320) - sizeof(struct xdp_page_head), which shrank when it
// stopped embedding a struct xdp_frame.
const (
	liveFrameLimitOld = 3368 // Linux 6.1
	liveFrameLimitNew = 3408 // Linux 6.18
)

// XDPLiveFrameLimit probes the largest frame (without metadata) live frame
// mode accepts: 3368 bytes on Linux 6.1, 3408 on 6.18. The probe program
// drops its frame, so nothing leaves the host. It wraps ErrNotSupported
// when the kernel has no live frame mode.
func XDPLiveFrameLimit() (int, error) {
	return xdpProbe("xdp_live_frame_limit", func(prog *ebpf.Program) (int, error) {
		var last syscall.Errno
		for _, size := range []int{liveFrameLimitNew, liveFrameLimitOld} {
			// EINVAL: above this kernel's limit, or no live frame mode.
			last = probeRun(prog, make([]byte, size), nil, FlagXDPLiveFrames)
			if last == 0 {
				return size, nil
			}
			if last != syscall.EINVAL {
				break
			}
		}
		if last == syscall.EINVAL {
			return 0, fmt.Errorf("xdp live frames: %w", ErrNotSupported)
		}
		return 0, errnoOutcome("xdp live frame limit", last)
	})
}
