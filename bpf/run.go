package bpf

import (
	"errors"
	"runtime"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Run flags (bpf_attr.test.flags) a caller may set in [Input.Flags].
const (
	// FlagSKBChecksumComplete (BPF_F_TEST_SKB_CHECKSUM_COMPLETE, Linux 6.11+)
	// seeds skb->csum as CHECKSUM_COMPLETE and makes the kernel verify it
	// after the run: a program that changes bytes without fixing the checksum
	// gets EBADMSG.
	FlagSKBChecksumComplete = 1 << 2
)

// Input is one run: the packet, the context and run options.
type Input struct {
	// Packet is the input data (data_in). For XDP with metadata, the first
	// XDPContext.MetaLen bytes are the metadata. Programs of the L3 types
	// (see [SeesL3]) see it from byte 14 on. sk_lookup, raw_tracepoint and
	// syscall programs take no packet.
	Packet []byte
	// Context is the input context; nil means the type's zero context (a
	// sk_lookup or syscall program needs one).
	Context Context
	// Repeat runs the program that many times on the same, mutated buffers;
	// the result is the last run's. 0 and 1 both mean once.
	Repeat uint32
	// Flags are BPF_PROG_RUN flags; see FlagSKBChecksumComplete.
	Flags uint32
}

// Result is the outcome of a run. Packet and Context alias buffers owned by
// the Program and are overwritten by its next Run: copy them to keep them.
type Result struct {
	// Retval is the low 32 bits of the program's R0.
	Retval uint32
	// Packet is the output packet (data_out), including XDP metadata. nil for
	// types without packet output (flow dissector: see FlowKeys).
	Packet []byte
	// Context is the output context as raw bytes: ctx_out, the syscall
	// program's rewritten argument struct, or struct bpf_flow_keys for a flow
	// dissector. Decode it with XDPContext, SKBContext, FlowKeys, SKLookup.
	Context []byte
	// Duration is the kernel's average time per repetition. It is not
	// deterministic.
	Duration time.Duration
	// Errno is the kernel's error for this run, 0 on success.
	Errno syscall.Errno
	// L3 is true when the program saw the packet from the network header: its
	// offset 0 was Packet[14] of the input, and the output's first 14 bytes
	// are zero (the kernel pushed back an empty Ethernet header).
	L3 bool

	kind runKind
}

// XDPContext decodes the output xdp_md. ok is false for other types.
func (r *Result) XDPContext() (c XDPContext, ok bool) {
	if r.kind != kindXDP || len(r.Context) < sizeofXDPMD {
		return c, false
	}
	return decodeXDPContext(r.Context), true
}

// SKBContext decodes the output __sk_buff fields the kernel writes back.
func (r *Result) SKBContext() (c SKBContext, ok bool) {
	if r.kind != kindSKB || len(r.Context) < sizeofSKBuff {
		return c, false
	}
	return decodeSKBContext(r.Context), true
}

// FlowKeys decodes a flow dissector's output.
func (r *Result) FlowKeys() (k FlowKeys, ok bool) {
	if r.kind != kindFlow || len(r.Context) < sizeofFlowKeys {
		return k, false
	}
	return decodeFlowKeys(r.Context), true
}

// SKLookupContext decodes the output bpf_sk_lookup.
func (r *Result) SKLookupContext() (c SKLookupContext, ok bool) {
	if r.kind != kindSKLook || len(r.Context) < sizeofSKLookup {
		return c, false
	}
	return decodeSKLookupContext(r.Context), true
}

// progRunAttr is union bpf_attr's test member (BPF_PROG_TEST_RUN), padded
// to 8 bytes. Bytes after batch_size must be zero.
type progRunAttr struct {
	progFD      uint32
	retval      uint32
	dataSizeIn  uint32
	dataSizeOut uint32
	dataIn      uint64
	dataOut     uint64
	repeat      uint32
	duration    uint32
	ctxSizeIn   uint32
	ctxSizeOut  uint32
	ctxIn       uint64
	ctxOut      uint64
	flags       uint32
	cpu         uint32
	batchSize   uint32
	_           uint32
}

const cmdProgTestRun = 10 // BPF_PROG_TEST_RUN

// runner holds the reused attribute and buffers of a Program.
type runner struct {
	attr    progRunAttr
	dataOut []byte
	ctxIn   []byte
	ctxOut  []byte
	ifaces  map[uint32]ifaceInfo // interface lookups of context checks
}

// ifaceInfo is a cached interface lookup.
type ifaceInfo struct {
	exists   bool
	name     string
	rxQueues int // -1: could not tell
	at       time.Time
}

// ifaceTTL is how long an interface lookup is reused: looking an index up
// costs a netlink dump and a sysfs glob, far more than a run, and contexts
// under fuzzing name the same few interfaces over and over.
const ifaceTTL = time.Second

// iface looks up an interface of this network namespace by index, through
// a cache of ifaceTTL.
func (p *Program) iface(ifindex uint32) ifaceInfo {
	r := p.run
	now := time.Now()
	if c, ok := r.ifaces[ifindex]; ok && now.Sub(c.at) < ifaceTTL {
		return c
	}
	c := ifaceInfo{rxQueues: -1, at: now}
	if name, err := interfaceName(ifindex); err == nil {
		c.exists, c.name, c.rxQueues = true, name, rxQueues(name)
	}
	if r.ifaces == nil || len(r.ifaces) > 64 {
		r.ifaces = map[uint32]ifaceInfo{}
	}
	r.ifaces[ifindex] = c
	return c
}

func newRunner(k runKind) *runner {
	r := &runner{}
	switch k {
	case kindXDP:
		r.dataOut = make([]byte, maxXDPDataOut)
		r.ctxOut = make([]byte, sizeofXDPMD)
	case kindSKB:
		r.dataOut = make([]byte, maxSKBDataOut)
		r.ctxOut = make([]byte, sizeofSKBuff)
	case kindFlow:
		r.dataOut = make([]byte, sizeofFlowKeys)
	case kindSKLook:
		r.ctxOut = make([]byte, sizeofSKLookup)
	}
	r.ctxIn = make([]byte, 256)
	return r
}

// Run runs the program once on in through BPF_PROG_RUN.
//
// Run validates in against the kernel's rules first and returns an
// [*InputError] without calling the kernel if the kernel would reject it. If
// the kernel fails the run, Run returns its errno (a [syscall.Errno], also in
// Result.Errno); EPERM is reported as [ErrPermission].
//
// Run is not safe for concurrent use: the Result aliases the Program's
// buffers. Load one Program per goroutine to run in parallel.
func (p *Program) Run(in Input) (Result, error) {
	if err := p.checkInput(&in); err != nil {
		return Result{kind: p.kind, L3: SeesL3(p.Type)}, err
	}
	if p.kind == kindRawTP || p.kind == kindSyscall {
		in.Repeat = 0 // both reject repeat, even repeat=1
	}
	return p.exec(in)
}

// exec runs in without the harness's checks: the kernel alone judges it.
func (p *Program) exec(in Input) (Result, error) {
	res := Result{kind: p.kind, L3: SeesL3(p.Type)}
	r := p.run
	a := &r.attr
	*a = progRunAttr{progFD: uint32(p.prog.FD())}

	n := len(in.Packet)
	if n > 0 {
		a.dataIn = uint64(uintptr(unsafe.Pointer(&in.Packet[0])))
		a.dataSizeIn = uint32(n)
	}
	if len(r.dataOut) > 0 {
		a.dataOut = uint64(uintptr(unsafe.Pointer(&r.dataOut[0])))
		a.dataSizeOut = uint32(len(r.dataOut))
	}

	ctx := in.Context
	if ctx == nil {
		ctx = p.defaultContext()
	}
	var ctxLen int
	if ctx != nil {
		ctxLen = ctx.contextSize()
		if cap(r.ctxIn) < ctxLen {
			r.ctxIn = make([]byte, ctxLen)
		}
		buf := r.ctxIn[:ctxLen]
		clear(buf)
		ctx.putContext(buf, n)
		if ctxLen > 0 {
			a.ctxIn = uint64(uintptr(unsafe.Pointer(&buf[0])))
			a.ctxSizeIn = uint32(ctxLen)
		}
		if len(r.ctxOut) > 0 {
			a.ctxOut = uint64(uintptr(unsafe.Pointer(&r.ctxOut[0])))
			a.ctxSizeOut = uint32(len(r.ctxOut))
		}
	}
	a.repeat = in.Repeat
	a.flags = in.Flags

	errno := progTestRun(a)
	runtime.KeepAlive(in.Packet)
	runtime.KeepAlive(ctx)

	res.Errno = errno
	if errno != 0 && errno != syscall.ENOSPC {
		if errno == syscall.EPERM {
			return res, permission(errno)
		}
		return res, errno
	}
	res.Retval = a.retval
	res.Duration = time.Duration(a.duration)
	switch p.kind {
	case kindFlow:
		res.Context = r.dataOut[:min(int(a.dataSizeOut), len(r.dataOut))]
	case kindSyscall:
		res.Context = r.ctxIn[:ctxLen]
	default:
		if len(r.dataOut) > 0 {
			res.Packet = r.dataOut[:min(int(a.dataSizeOut), len(r.dataOut))]
		}
		if a.ctxOut != 0 {
			res.Context = r.ctxOut[:min(int(a.ctxSizeOut), len(r.ctxOut))]
		}
	}
	if errno != 0 {
		return res, errno
	}
	return res, nil
}

func (p *Program) defaultContext() Context {
	switch p.kind {
	case kindXDP:
		return XDPContext{}
	case kindSKB:
		return SKBContext{}
	}
	return nil
}

// checkInput applies the kernel's rules on data size, flags and repeat per
// handler, then the context's own rules.
func (p *Program) checkInput(in *Input) error {
	n := len(in.Packet)
	noPacket := func() error {
		if n != 0 {
			return inputErr("packet", syscall.EINVAL, "%s programs take no packet", p.Type)
		}
		return nil
	}
	switch p.kind {
	case kindXDP:
		if in.Flags != 0 {
			return inputErr("flags", syscall.EINVAL, "XDP test runs take no flags (live frame mode is a separate run)")
		}
		// Sizes are checked with the metadata length, by the context.
		if in.Context == nil {
			if err := (XDPContext{}).check(p, n); err != nil {
				return err
			}
		}
	case kindSKB:
		if n < ethHdrLen || n > maxSKBDataIn {
			return inputErr("packet", syscall.EINVAL, "skb programs take %d to %d bytes, got %d", ethHdrLen, maxSKBDataIn, n)
		}
		if min := ipMinimum(in.Packet); n < min && skbShortIPRejected() {
			return inputErr("packet", syscall.EINVAL, "this kernel needs an IPv4 frame to have at least 34 bytes and an IPv6 frame 54 (ethertype %#04x, %d bytes)",
				uint16(in.Packet[12])<<8|uint16(in.Packet[13]), n)
		}
		if in.Flags&^FlagSKBChecksumComplete != 0 {
			return inputErr("flags", syscall.EINVAL, "skb test runs take only the checksum-complete flag, got %#x", in.Flags)
		}
		if in.Flags&FlagSKBChecksumComplete != 0 && !skbChecksumComplete() {
			return inputErr("flags", syscall.EINVAL, "the checksum-complete flag needs Linux 6.11 or newer")
		}
	case kindFlow:
		if n < ethHdrLen || n > maxFlowDataIn {
			return inputErr("packet", syscall.EINVAL, "flow dissectors take %d to %d bytes, got %d", ethHdrLen, maxFlowDataIn, n)
		}
	case kindSKLook:
		if err := noPacket(); err != nil {
			return err
		}
		if in.Context == nil {
			return inputErr("ctx", syscall.EINVAL, "sk_lookup programs need an SKLookupContext (family, protocol, addresses, ports)")
		}
	case kindRawTP:
		if err := noPacket(); err != nil {
			return err
		}
	case kindSyscall:
		if err := noPacket(); err != nil {
			return err
		}
		if in.Context == nil || in.Context.contextSize() == 0 {
			return inputErr("ctx", syscall.EINVAL, "syscall programs need a RawContext holding their argument struct")
		}
	case kindNF:
		if n < minNetfilterData {
			return inputErr("packet", syscall.EINVAL, "netfilter programs take at least %d bytes, got %d", minNetfilterData, n)
		}
	}
	if (p.kind == kindRawTP || p.kind == kindSyscall) && in.Repeat > 1 {
		return inputErr("repeat", syscall.EINVAL, "%s programs run once: the kernel rejects repeat", p.Type)
	}
	if in.Flags != 0 && p.kind != kindSKB && p.kind != kindXDP && p.kind != kindRawTP {
		return inputErr("flags", syscall.EINVAL, "%s test runs take no flags", p.Type)
	}
	if in.Context != nil {
		if err := in.Context.check(p, n); err != nil {
			return err
		}
	}
	return nil
}

// ipMinimum is the kernel's minimum skb data size for the frame's ethertype
// (upstream 12bec2bd4b76): 34 for IPv4, 54 for IPv6, 14 otherwise.
func ipMinimum(pkt []byte) int {
	if len(pkt) < ethHdrLen {
		return ethHdrLen
	}
	switch uint16(pkt[12])<<8 | uint16(pkt[13]) {
	case 0x0800:
		return ethHdrLen + 20
	case 0x86dd:
		return ethHdrLen + 40
	}
	return ethHdrLen
}

// progTestRun issues BPF_PROG_TEST_RUN. The buffers a points to must be
// kept alive by the caller.
func progTestRun(a *progRunAttr) syscall.Errno {
	for tries := 0; ; tries++ {
		_, _, errno := unix.Syscall(unix.SYS_BPF, cmdProgTestRun, uintptr(unsafe.Pointer(a)), unsafe.Sizeof(*a))
		// A pending signal aborts a long repeat loop with EINTR before
		// anything is copied out; the run is issued again.
		if errno != syscall.EINTR || tries == 3 {
			return errno
		}
	}
}

// IsInputError reports whether err is an input the kernel would reject.
func IsInputError(err error) bool {
	if err == nil {
		return false
	}
	if _, ok := err.(*InputError); ok {
		return true // the common case, without errors.As's allocation
	}
	var ie *InputError
	return errors.As(err, &ie)
}
