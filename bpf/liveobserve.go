package bpf

import (
	"errors"
	"fmt"
	"os"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"
)

// A live run does not return verdicts, so LiveCounters counts what the
// kernel did with the frames from two sides:
//
//   - the program's return values: by an fexit program on the program
//     under test (needs the program's BTF, which clang -g objects have,
//     and permission to load tracing programs), or, where fexit cannot be
//     loaded, by an instrumented copy of the program that counts r0 before
//     each exit of its main function (see verdictCopy);
//   - raw tracepoint programs on xdp:xdp_redirect, xdp:xdp_redirect_err,
//     xdp:xdp_exception and xdp:xdp_devmap_xmit count redirects (XDP_TX
//     included: live mode turns it into a redirect to the ingress
//     interface), failed redirects by errno, exceptions, and frames the
//     target driver sent or dropped. They count only events of one thread
//     (the one that called Start), so other XDP traffic on the host does not
//     show up. Raw tracepoints need no tracefs mount.
//
// The programs are built with cilium/ebpf's assembler: nothing to compile.

// Counter slots of the tracepoint counters map.
const (
	slotRedirect     = iota // xdp_redirect events
	slotRedirectErr         // xdp_redirect_err events
	slotException           // xdp_exception events
	slotXmitSent            // sum of xdp_devmap_xmit "sent"
	slotXmitDrops           // sum of xdp_devmap_xmit "drops"
	slotXmitErr             // xdp_devmap_xmit events with err != 0
	slotErrnoBase    = 16   // + errno: redirect errors by errno
	maxCountedErrno  = 127
	numTraceSlots    = slotErrnoBase + maxCountedErrno + 1
	numVerdictSlots  = 9 // return values 0..7, and 8 for anything larger
	otherVerdictSlot = numVerdictSlots - 1
)

// LiveCounts is what LiveCounters saw since Start.
type LiveCounts struct {
	// Verdicts counts return values of the program under test: index 0-4
	// are XDP_ABORTED to XDP_REDIRECT, 5-7 those values, 8 anything
	// larger. nil when the fexit counter could not attach (see
	// LiveCounters.VerdictErr).
	Verdicts []uint64
	// Redirects counts successful redirects, XDP_TX included.
	Redirects uint64
	// RedirectErrors counts failed redirects; ByErrno splits them by errno.
	RedirectErrors uint64
	ByErrno        map[unix.Errno]uint64
	// Exceptions counts xdp:xdp_exception events.
	Exceptions uint64
	// XmitSent and XmitDrops are the frames target drivers sent and
	// dropped at flush time (xdp:xdp_devmap_xmit); XmitErrors counts
	// flushes that failed.
	XmitSent, XmitDrops, XmitErrors uint64
}

// LiveCounters are the counting programs for one Program. Close detaches
// them.
type LiveCounters struct {
	// Target is the program to run: the Program itself when its verdicts
	// are counted by fexit or not at all, else the instrumented copy (which
	// shares its maps). It is owned by the counters.
	Target *Program
	// VerdictMethod is "fexit" or "instrumented copy"; "" when verdicts are
	// not counted, and VerdictErr says why.
	VerdictMethod string
	VerdictErr    error

	copy                 *Program
	cfg, trace, verdicts *ebpf.Map
	progs                []*ebpf.Program
	links                []link.Link
}

// NewLiveCounters attaches the counters to p. It needs root (or CAP_BPF +
// CAP_PERFMON). The counters count nothing until Start.
func (p *Program) NewLiveCounters() (*LiveCounters, error) {
	removeMemlock()
	c := &LiveCounters{Target: p}
	var err error
	if c.cfg, err = ebpf.NewMap(&ebpf.MapSpec{Name: "bpffuzz_cfg", Type: ebpf.Array, KeySize: 4, ValueSize: 4, MaxEntries: 1}); err != nil {
		return nil, fmt.Errorf("create live counters: %w", permission(err))
	}
	if c.trace, err = counterMap("bpffuzz_trace", numTraceSlots); err != nil {
		c.Close()
		return nil, fmt.Errorf("create live counters: %w", permission(err))
	}
	for _, tp := range []struct {
		name string
		body func(ctx asm.Register) asm.Instructions
		need bool
	}{
		{"xdp_redirect", func(asm.Register) asm.Instructions { return addSlot(c.trace, slotRedirect, nil) }, true},
		{"xdp_redirect_map", func(asm.Register) asm.Instructions { return addSlot(c.trace, slotRedirect, nil) }, false},
		{"xdp_redirect_err", redirectErrBody(c.trace), true},
		{"xdp_redirect_map_err", redirectErrBody(c.trace), false},
		{"xdp_exception", func(asm.Register) asm.Instructions { return addSlot(c.trace, slotException, nil) }, true},
		{"xdp_devmap_xmit", devmapXmitBody(c.trace), true},
	} {
		err := c.attachRawTP(tp.name, tp.body)
		if err != nil && (tp.need || !errors.Is(err, os.ErrNotExist)) {
			c.Close()
			return nil, fmt.Errorf("attach live counter to tracepoint xdp:%s: %w", tp.name, err)
		}
	}
	if err := c.attachVerdicts(p); err == nil {
		c.VerdictMethod = "fexit"
	} else if err2 := c.attachVerdictCopy(p); err2 == nil {
		c.VerdictMethod = "instrumented copy"
	} else {
		c.VerdictErr = errors.Join(err, err2)
	}
	return c, nil
}

// Start zeroes the counts and makes the counters count events of the
// calling OS thread only. The caller must be locked to its thread
// (runtime.LockOSThread) until it has read the counts.
func (c *LiveCounters) Start() error {
	if err := zeroArray(c.trace, numTraceSlots); err != nil {
		return fmt.Errorf("reset live counters: %w", err)
	}
	if c.verdicts != nil {
		if err := zeroArray(c.verdicts, numVerdictSlots); err != nil {
			return fmt.Errorf("reset verdict counters: %w", err)
		}
	}
	return c.cfg.Put(uint32(0), uint32(unix.Gettid()))
}

// Read returns the counts since Start.
func (c *LiveCounters) Read() (LiveCounts, error) {
	var out LiveCounts
	slots, err := readArray(c.trace, numTraceSlots)
	if err != nil {
		return out, fmt.Errorf("read live counters: %w", err)
	}
	out.Redirects, out.RedirectErrors, out.Exceptions = slots[slotRedirect], slots[slotRedirectErr], slots[slotException]
	out.XmitSent, out.XmitDrops, out.XmitErrors = slots[slotXmitSent], slots[slotXmitDrops], slots[slotXmitErr]
	for e := 0; e <= maxCountedErrno; e++ {
		if n := slots[slotErrnoBase+e]; n > 0 {
			if out.ByErrno == nil {
				out.ByErrno = map[unix.Errno]uint64{}
			}
			out.ByErrno[unix.Errno(e)] = n
		}
	}
	if c.verdicts != nil {
		if out.Verdicts, err = readArray(c.verdicts, numVerdictSlots); err != nil {
			return out, fmt.Errorf("read verdict counters: %w", err)
		}
	}
	return out, nil
}

// counterMap is an array map of one entry holding n u64 counters: one
// entry, so that programs address it directly (BPF_PSEUDO_MAP_VALUE) with no
// helper call per event.
func counterMap(name string, n int) (*ebpf.Map, error) {
	return ebpf.NewMap(&ebpf.MapSpec{Name: name, Type: ebpf.Array, KeySize: 4, ValueSize: uint32(8 * n), MaxEntries: 1})
}

// zeroArray zeroes the n counters of a counterMap.
func zeroArray(m *ebpf.Map, n int) error { return m.Put(uint32(0), make([]uint64, n)) }

// readArray reads the n counters of a counterMap.
func readArray(m *ebpf.Map, n int) ([]uint64, error) {
	vals := make([]uint64, n)
	if err := m.Lookup(uint32(0), vals); err != nil {
		return nil, err
	}
	return vals, nil
}

// Close detaches and frees the counters.
func (c *LiveCounters) Close() error {
	var errs []error
	for _, l := range c.links {
		errs = append(errs, l.Close())
	}
	for _, p := range c.progs {
		errs = append(errs, p.Close())
	}
	for _, m := range []*ebpf.Map{c.cfg, c.trace, c.verdicts} {
		if m != nil {
			errs = append(errs, m.Close())
		}
	}
	if c.copy != nil {
		errs = append(errs, c.copy.Close())
	}
	c.links, c.progs, c.copy = nil, nil, nil
	return errors.Join(errs...)
}

// threadFilter loads the current thread id into R7 and exits unless it is
// the one Start stored. The context stays in R6.
func threadFilter(cfg *ebpf.Map) asm.Instructions {
	return asm.Instructions{
		asm.Mov.Reg(asm.R6, asm.R1),
		asm.FnGetCurrentPidTgid.Call(),
		asm.Mov.Reg32(asm.R7, asm.R0), // the low 32 bits: the thread id
		asm.LoadMapValue(asm.R1, cfg.FD(), 0),
		asm.LoadMem(asm.R1, asm.R1, 0, asm.Word),
		asm.JNE.Reg(asm.R1, asm.R7, "exit"),
	}
}

// addSlot adds value (a register, or 1 when nil) to counter slot of a
// counterMap; slot < 0 means the slot computed into R8 (bounded by the
// caller). It uses R0 and R1.
func addSlot(m *ebpf.Map, slot int32, value *asm.Register) asm.Instructions {
	off := int16(0)
	insns := asm.Instructions{asm.LoadMapValue(asm.R0, m.FD(), 0)}
	if slot >= 0 {
		off = int16(8 * slot)
	} else {
		insns = append(insns, asm.LSh.Imm(asm.R8, 3), asm.Add.Reg(asm.R0, asm.R8))
	}
	if value == nil {
		insns = append(insns, asm.Mov.Imm(asm.R1, 1))
	} else {
		insns = append(insns, asm.Mov.Reg(asm.R1, *value))
	}
	add := asm.StoreXAdd(asm.R0, asm.R1, asm.DWord)
	add.Offset = off
	return append(insns, add)
}

// redirectErrBody counts a failed redirect, and its errno: the tracepoint's
// fourth argument is the negative error.
func redirectErrBody(m *ebpf.Map) func(asm.Register) asm.Instructions {
	return func(ctx asm.Register) asm.Instructions {
		insns := addSlot(m, slotRedirectErr, nil)
		insns = append(insns,
			asm.LoadMem(asm.R8, ctx, 3*8, asm.DWord),
			asm.Mov.Imm32(asm.R9, 0), // errno = -err
			asm.Sub.Reg32(asm.R9, asm.R8),
			asm.Mov.Reg32(asm.R8, asm.R9),
			asm.JLE.Imm(asm.R8, maxCountedErrno, "errno_ok"),
			asm.Mov.Imm(asm.R8, maxCountedErrno),
			asm.Add.Imm(asm.R8, slotErrnoBase).WithSymbol("errno_ok"),
		)
		return append(insns, addSlot(m, -1, nil)...)
	}
}

// devmapXmitBody adds the sent and drops arguments (third and fourth) and
// counts a non-zero err (fifth).
func devmapXmitBody(m *ebpf.Map) func(asm.Register) asm.Instructions {
	return func(ctx asm.Register) asm.Instructions {
		sent, drops := asm.R8, asm.R9
		insns := asm.Instructions{
			asm.LoadMem(asm.R8, ctx, 2*8, asm.DWord),
			asm.Mov.Reg32(asm.R8, asm.R8),
			asm.LoadMem(asm.R9, ctx, 3*8, asm.DWord),
			asm.Mov.Reg32(asm.R9, asm.R9),
		}
		insns = append(insns, addSlot(m, slotXmitSent, &sent)...)
		insns = append(insns, addSlot(m, slotXmitDrops, &drops)...)
		insns = append(insns,
			asm.LoadMem(asm.R8, ctx, 4*8, asm.DWord),
			asm.Mov.Reg32(asm.R8, asm.R8),
			asm.JEq.Imm(asm.R8, 0, "exit"),
		)
		return append(insns, addSlot(m, slotXmitErr, nil)...)
	}
}

func (c *LiveCounters) attachRawTP(name string, body func(ctx asm.Register) asm.Instructions) error {
	insns := threadFilter(c.cfg)
	insns = append(insns, body(asm.R6)...)
	insns = append(insns, asm.Mov.Imm(asm.R0, 0).WithSymbol("exit"), asm.Return())
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Name: "bpffuzz_tp", Type: ebpf.RawTracepoint, License: "GPL", Instructions: insns,
	})
	if err != nil {
		return permission(err)
	}
	l, err := link.AttachRawTracepoint(link.RawTracepointOptions{Name: name, Program: prog})
	if err != nil {
		prog.Close()
		return err
	}
	c.progs = append(c.progs, prog)
	c.links = append(c.links, l)
	return nil
}

// attachVerdicts attaches the fexit verdict counter to p.
func (c *LiveCounters) attachVerdicts(p *Program) error {
	fn := p.Name
	if p.Spec != nil && p.Spec.Name != "" {
		fn = p.Spec.Name
	}
	m, err := counterMap("bpffuzz_verdict", numVerdictSlots)
	if err != nil {
		return fmt.Errorf("verdicts not counted: %w", permission(err))
	}
	// fexit context: the target's arguments (one: the xdp_md pointer),
	// then its return value.
	insns := asm.Instructions{
		asm.LoadMem(asm.R8, asm.R1, 8, asm.DWord),
		asm.Mov.Reg32(asm.R8, asm.R8),
		asm.JLE.Imm(asm.R8, otherVerdictSlot, "slot_ok"),
		asm.Mov.Imm(asm.R8, otherVerdictSlot),
		asm.Mov.Imm(asm.R0, 0).WithSymbol("slot_ok"),
	}
	insns = append(insns, addSlot(m, -1, nil)...)
	insns = append(insns, asm.Mov.Imm(asm.R0, 0), asm.Return())
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Name: "bpffuzz_verdict", Type: ebpf.Tracing, AttachType: ebpf.AttachTraceFExit,
		AttachTarget: p.prog, AttachTo: fn, License: "GPL", Instructions: insns,
	})
	if err != nil {
		m.Close()
		return fmt.Errorf("verdicts not counted (fexit on %s needs the program's BTF): %w", fn, permission(err))
	}
	l, err := link.AttachTracing(link.TracingOptions{Program: prog})
	if err != nil {
		prog.Close()
		m.Close()
		return fmt.Errorf("verdicts not counted (attach fexit to %s): %w", fn, err)
	}
	c.verdicts = m
	c.progs = append(c.progs, prog)
	c.links = append(c.links, l)
	return nil
}

// PeerCounter is an XDP program on the far end of a veth pair that counts
// the frames arriving there and passes them on to the stack (and packet
// sockets), or drops them. A veth end transmits XDP frames (XDP_TX, redirects) only when
// its peer has an XDP program or GRO enabled, so live runs on veth need it.
type PeerCounter struct {
	counts *ebpf.Map
	prog   *ebpf.Program
	link   link.Link
}

// AttachPeerCounter attaches a PeerCounter to the interface with the given
// index. Call it inside the interface's network namespace. With pass the
// counted frames go on to the stack (XDP_PASS), else they are dropped
// (XDP_DROP), which costs far less per frame.
func AttachPeerCounter(ifindex int, pass bool) (*PeerCounter, error) {
	removeMemlock()
	m, err := counterMap("bpffuzz_peer", 2)
	if err != nil {
		return nil, fmt.Errorf("create peer counter: %w", permission(err))
	}
	one := asm.R9
	length := asm.R8
	insns := asm.Instructions{
		asm.LoadMem(asm.R2, asm.R1, 0, asm.Word), // data
		asm.LoadMem(asm.R3, asm.R1, 4, asm.Word), // data_end
		asm.Mov.Reg(asm.R8, asm.R3),
		asm.Sub.Reg(asm.R8, asm.R2),
		asm.Mov.Imm(asm.R9, 1),
	}
	insns = append(insns, addSlot(m, 0, &one)...)
	insns = append(insns, addSlot(m, 1, &length)...)
	verdict := int32(1) // XDP_DROP
	if pass {
		verdict = 2 // XDP_PASS
	}
	insns = append(insns, asm.Mov.Imm(asm.R0, verdict), asm.Return())
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{Name: "bpffuzz_peer", Type: ebpf.XDP, License: "GPL", Instructions: insns})
	if err != nil {
		m.Close()
		return nil, fmt.Errorf("load peer counter: %w", permission(err))
	}
	l, err := link.AttachXDP(link.XDPOptions{Program: prog, Interface: ifindex})
	if err != nil {
		prog.Close()
		m.Close()
		return nil, fmt.Errorf("attach peer counter to interface %d: %w", ifindex, err)
	}
	return &PeerCounter{counts: m, prog: prog, link: l}, nil
}

// Read returns the frames and bytes counted since the last Reset.
func (pc *PeerCounter) Read() (frames, bytes uint64, err error) {
	v, err := readArray(pc.counts, 2)
	if err != nil {
		return 0, 0, fmt.Errorf("read peer counter: %w", err)
	}
	return v[0], v[1], nil
}

// Reset zeroes the counts.
func (pc *PeerCounter) Reset() error {
	if err := zeroArray(pc.counts, 2); err != nil {
		return fmt.Errorf("reset peer counter: %w", err)
	}
	return nil
}

// Close detaches the program.
func (pc *PeerCounter) Close() error {
	return errors.Join(pc.link.Close(), pc.prog.Close(), pc.counts.Close())
}
