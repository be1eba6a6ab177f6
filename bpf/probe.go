package bpf

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"syscall"
	"unsafe"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/features"
)

// Probes answer what the running kernel's BPF_PROG_RUN accepts, by trying
// it. Each has three outcomes: nil (supported), an error wrapping
// ErrNotSupported (not supported), or another error (couldn't tell, e.g. no
// privilege). Only the first two are cached for the life of the process.

var probeCache struct {
	sync.Mutex
	results map[string]probeResult
}

type probeResult struct {
	value int
	err   error
}

func cached(name string, probe func() (int, error)) (int, error) {
	probeCache.Lock()
	defer probeCache.Unlock()
	if r, ok := probeCache.results[name]; ok {
		return r.value, r.err
	}
	v, err := probe()
	if err == nil || errors.Is(err, ErrNotSupported) {
		if probeCache.results == nil {
			probeCache.results = map[string]probeResult{}
		}
		probeCache.results[name] = probeResult{v, err}
	}
	return v, err
}

// probeProgram loads "r0 = ret; exit" as type t.
func probeProgram(t ebpf.ProgramType, at ebpf.AttachType, flags uint32, ret int32) (*ebpf.Program, error) {
	removeMemlock()
	prog, err := ebpf.NewProgramWithOptions(&ebpf.ProgramSpec{
		Type: t, AttachType: at, Flags: flags, License: "GPL",
		Instructions: probeInsns(ret),
	}, ebpf.ProgramOptions{})
	if err != nil {
		return nil, permission(err)
	}
	return prog, nil
}

func probeInsns(ret int32) asm.Instructions {
	return asm.Instructions{asm.Mov.Imm(asm.R0, ret), asm.Return()}
}

// probeRun runs prog with data and ctx and returns the kernel's errno.
func probeRun(prog *ebpf.Program, data, ctx []byte, flags uint32) syscall.Errno {
	a := progRunAttr{progFD: uint32(prog.FD()), flags: flags}
	if len(data) > 0 {
		a.dataIn, a.dataSizeIn = uint64(uintptr(unsafe.Pointer(&data[0]))), uint32(len(data))
	}
	if len(ctx) > 0 {
		a.ctxIn, a.ctxSizeIn = uint64(uintptr(unsafe.Pointer(&ctx[0]))), uint32(len(ctx))
	}
	errno := progTestRun(&a)
	runtime.KeepAlive(data)
	runtime.KeepAlive(ctx)
	return errno
}

func errnoOutcome(what string, errno syscall.Errno, unsupported ...syscall.Errno) error {
	if errno == 0 {
		return nil
	}
	for _, u := range unsupported {
		if errno == u {
			return fmt.Errorf("%s: %w (%s)", what, ErrNotSupported, errnoName(errno))
		}
	}
	if errno == syscall.EPERM {
		return fmt.Errorf("%s: %w", what, ErrPermission)
	}
	return fmt.Errorf("%s: couldn't tell: %s", what, errnoName(errno))
}

// HaveProgRun probes whether BPF_PROG_RUN runs programs of type t on this
// kernel (LWTSeg6Local lost its handler in 6.18; Netfilter gained one in 6.4).
func HaveProgRun(t ebpf.ProgramType) error {
	_, err := cached("prog_run/"+t.String(), func() (int, error) {
		if err := features.HaveProgramType(t); err != nil {
			return 0, err
		}
		var (
			at    ebpf.AttachType
			flags uint32
			ret   int32
			data  = make([]byte, 64)
			ctx   []byte
		)
		switch t {
		case ebpf.CGroupSKB:
			at = ebpf.AttachCGroupInetIngress
		case ebpf.SkLookup:
			at, data, ret = ebpf.AttachSkLookup, nil, 1
			ctx = make([]byte, sizeofSKLookup)
			le.PutUint32(ctx[8:], syscall.AF_INET)
			le.PutUint32(ctx[12:], syscall.IPPROTO_TCP)
		case ebpf.RawTracepoint:
			data = nil
		case ebpf.Syscall:
			flags, data, ctx = 1<<4 /* BPF_F_SLEEPABLE */, nil, make([]byte, 8)
		case ebpf.Netfilter:
			at, ret = ebpf.AttachNetfilter, 1
			data[0] = 0x45
		}
		if ok, why := Runnable(t, at); !ok {
			return 0, fmt.Errorf("%s: %w: %s", t, ErrNotSupported, why)
		}
		prog, err := probeProgram(t, at, flags, ret)
		if err != nil {
			return 0, fmt.Errorf("%s: couldn't tell: %w", t, err)
		}
		defer prog.Close()
		return 0, errnoOutcome(t.String()+" BPF_PROG_RUN", probeRun(prog, data, ctx, 0), errnoENOTSUPP)
	})
	return err
}

func xdpProbe(name string, fn func(prog *ebpf.Program) (int, error)) (int, error) {
	return cached(name, func() (int, error) {
		prog, err := probeProgram(ebpf.XDP, ebpf.AttachNone, 0, 1 /* XDP_DROP */)
		if err != nil {
			return 0, fmt.Errorf("%s: couldn't tell: %w", name, err)
		}
		defer prog.Close()
		return fn(prog)
	})
}

func xdpMD(meta, end uint32) []byte {
	b := make([]byte, sizeofXDPMD)
	le.PutUint32(b[0:], meta)
	le.PutUint32(b[4:], end)
	return b
}

// XDPMetadataLimit probes the largest XDP metadata length (xdp_md.data) the
// kernel accepts: 32 on Linux 6.1, 252 on 6.18.2, 216 on 6.18.13 and later.
func XDPMetadataLimit() (int, error) {
	return xdpProbe("xdp_meta_limit", func(prog *ebpf.Program) (int, error) {
		var last syscall.Errno
		for _, meta := range []uint32{252, 216, 32} {
			data := make([]byte, meta+64)
			last = probeRun(prog, data, xdpMD(meta, meta+64), 0)
			if last == 0 {
				return int(meta), nil
			}
			if last != syscall.EINVAL {
				break
			}
		}
		if last == syscall.EINVAL {
			return 0, fmt.Errorf("xdp metadata: %w", ErrNotSupported)
		}
		return 0, errnoOutcome("xdp metadata limit", last)
	})
}

// HaveXDPLinearFromContext probes whether xdp_md.data_end may be shorter
// than the packet, the rest going to fragments (Linux 6.1.161+, 6.5+).
func HaveXDPLinearFromContext() error {
	_, err := xdpProbe("xdp_linear_from_ctx", func(prog *ebpf.Program) (int, error) {
		return 0, errnoOutcome("xdp linear length from ctx", probeRun(prog, make([]byte, 64), xdpMD(0, 63), 0), syscall.EINVAL)
	})
	return err
}

// HaveXDPLiveFrames probes BPF_F_TEST_XDP_LIVE_FRAMES (Linux 5.18+). The
// probe program drops its one frame, so nothing leaves the host.
func HaveXDPLiveFrames() error {
	_, err := xdpProbe("xdp_live_frames", func(prog *ebpf.Program) (int, error) {
		return 0, errnoOutcome("xdp live frames", probeRun(prog, make([]byte, 64), nil, 1<<1), syscall.EINVAL)
	})
	return err
}

func skbProbe(name string, data []byte, flags uint32, unsupported syscall.Errno) error {
	_, err := cached(name, func() (int, error) {
		prog, err := probeProgram(ebpf.SchedCLS, ebpf.AttachNone, 0, 0)
		if err != nil {
			return 0, fmt.Errorf("%s: couldn't tell: %w", name, err)
		}
		defer prog.Close()
		return 0, errnoOutcome(name, probeRun(prog, data, nil, flags), unsupported)
	})
	return err
}

// HaveSKBChecksumComplete probes BPF_F_TEST_SKB_CHECKSUM_COMPLETE (6.11+).
func HaveSKBChecksumComplete() error {
	return skbProbe("skb_checksum_complete", make([]byte, 64), FlagSKBChecksumComplete, syscall.EINVAL)
}

// HaveShortIPFrameCheck probes whether the kernel rejects skb frames whose
// ethertype says IPv4 or IPv6 but that are shorter than that header
// (upstream 12bec2bd4b76, April 2026, backported to stable kernels). nil
// means the kernel does reject them.
func HaveShortIPFrameCheck() error {
	frame := make([]byte, ethHdrLen)
	frame[12] = 0x08
	_, err := cached("skb_short_ip", func() (int, error) {
		prog, err := probeProgram(ebpf.SchedCLS, ebpf.AttachNone, 0, 0)
		if err != nil {
			return 0, fmt.Errorf("short ip check: couldn't tell: %w", err)
		}
		defer prog.Close()
		switch errno := probeRun(prog, frame, nil, 0); errno {
		case syscall.EINVAL:
			return 0, nil
		case 0:
			return 0, fmt.Errorf("short ip frame check: %w", ErrNotSupported)
		default:
			return 0, errnoOutcome("short ip frame check", errno)
		}
	})
	return err
}

// The harness's own checks use the probes; when a probe couldn't tell, they
// are permissive and let the kernel judge.

func xdpMetaLimit() int {
	if v, err := XDPMetadataLimit(); err == nil {
		return v
	}
	return 252
}

func xdpLinearFromCtx() bool { return !errors.Is(HaveXDPLinearFromContext(), ErrNotSupported) }

func skbShortIPRejected() bool { return HaveShortIPFrameCheck() == nil }

func skbChecksumComplete() bool {
	return !errors.Is(HaveSKBChecksumComplete(), ErrNotSupported)
}

// Features is the outcome of every probe, for `bpffuzz list` and reports.
type Features struct {
	ProgRun               map[string]error
	XDPLiveFrames         error
	XDPLinearFromContext  error
	XDPMetadataLimit      int
	XDPMetadataLimitErr   error
	SKBChecksumComplete   error
	ShortIPFrameRejection error
}

// ProbeTypes are the program types Probe checks for BPF_PROG_RUN support.
var ProbeTypes = []ebpf.ProgramType{
	ebpf.SocketFilter, ebpf.SchedCLS, ebpf.SchedACT, ebpf.XDP, ebpf.CGroupSKB,
	ebpf.LWTIn, ebpf.LWTOut, ebpf.LWTXmit, ebpf.LWTSeg6Local, ebpf.FlowDissector,
	ebpf.SkLookup, ebpf.RawTracepoint, ebpf.Syscall, ebpf.Netfilter,
}

// Probe runs all probes.
func Probe() Features {
	f := Features{ProgRun: map[string]error{}}
	for _, t := range ProbeTypes {
		f.ProgRun[t.String()] = HaveProgRun(t)
	}
	f.XDPLiveFrames = HaveXDPLiveFrames()
	f.XDPLinearFromContext = HaveXDPLinearFromContext()
	f.XDPMetadataLimit, f.XDPMetadataLimitErr = XDPMetadataLimit()
	f.SKBChecksumComplete = HaveSKBChecksumComplete()
	f.ShortIPFrameRejection = HaveShortIPFrameCheck()
	return f
}
