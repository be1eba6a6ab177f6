package fuzz

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"

	"github.com/bpffuzz/bpffuzz/bpf"
	"github.com/bpffuzz/bpffuzz/corpus"
	"github.com/bpffuzz/bpffuzz/cover"
	"github.com/bpffuzz/bpffuzz/internal/consume"
	"github.com/bpffuzz/bpffuzz/internal/report"
	"github.com/bpffuzz/bpffuzz/mutate"
	"github.com/bpffuzz/bpffuzz/oracle"
	"github.com/cilium/ebpf/asm"
)

// errSkip marks an input the kernel would reject for this program type: it
// is not a run, and not a finding.
var errSkip = errors.New("input outside what BPF_PROG_RUN accepts")

// Finding is an execution an oracle or check objected to.
type Finding struct {
	// Oracle and Message say what is wrong.
	Oracle, Message string
	// Entry is the fuzz input; Input is the packet and context it became.
	Entry corpus.Entry
	// Packet and Output are copies of the input and output packets.
	Packet, Output []byte
	// InMeta and OutMeta are how many bytes of Packet and Output are XDP
	// metadata in front of the frame.
	InMeta, OutMeta int
	Retval          uint32
	Errno           syscall.Errno
	// Report is the text a person reads.
	Report string
}

func (f *Finding) Error() string { return f.Oracle + ": " + f.Message }

// executor runs fuzz inputs on one loaded program. It is not safe for
// concurrent use; the engine has one per worker.
type executor struct {
	t    *Target
	name string
	// corpusDir is where the entry of a finding is said to live, and how
	// to replay it: Go's testdata/fuzz/<name> for go test, the engine's
	// corpus directory for bpffuzz fuzz.
	corpusDir string
	engine    bool
	prog      *bpf.Program
	cov       *cover.Program
	hits      []byte // nil without coverage
	snap      *snapshot
	mut       *mutate.Mutator
	info      *oracle.Program
	oracles   []oracle.Oracle
	fallback  string
	peers     [][]byte

	// Reused on every execution, so that one allocates nothing.
	dec         consume.Decisions
	pkt, inCopy []byte
	ctxBytes    []byte
	exec        oracle.Execution
	lastCtx     bpf.Context // may point into the mutator: see contextValue
	last        bpf.Result  // the last run's result (aliases the program's buffers)
}

func (t *Target) newExecutor(name string) (*executor, error) {
	x := &executor{t: t, name: name}
	var err error
	load := func(opts *bpf.Options) error {
		var err error
		if t.NoCoverage || os.Getenv("BPFFUZZ_NO_COVERAGE") == "1" {
			x.prog, err = bpf.Load(t.Object, t.Program, opts)
		} else {
			x.cov, err = cover.Load(t.Object, t.Program, opts)
			if x.cov != nil {
				x.prog = x.cov.Program
				x.fallback = x.cov.Fallback
			}
		}
		return err
	}
	// Arrays are created mmapable, so restoring them costs no syscall; if
	// the kernel refuses that (old kernel, a map with special fields), the
	// program loads as written.
	var progs []asm.Instructions
	if load(loadOptions(t.Options, true, &progs)) != nil {
		x.cov, x.prog = nil, nil
		if err = load(loadOptions(t.Options, false, &progs)); err != nil {
			return nil, err
		}
	}
	t.loaded = x.prog
	names := writableMaps(progs, len(t.MapChecks) > 0)
	if x.snap, err = takeSnapshot(x.prog.Maps(), names); err != nil {
		x.close()
		return nil, err
	}
	insns := x.prog.Spec.Instructions
	if x.cov != nil && x.cov.Original != nil {
		insns = x.cov.Original // the dictionary reads the program as written
	}
	x.mut = mutate.New(mutate.DictionaryFrom(insns), t.Mutate)
	x.info = oracle.ProgramOf(x.prog)
	x.oracles = t.Oracles
	if x.oracles == nil {
		x.oracles = oracle.Default()
	}
	return x, nil
}

func (x *executor) close() {
	x.snap.close()
	if x.cov != nil {
		x.cov.Close()
	} else if x.prog != nil {
		x.prog.Close()
	}
}

// input turns an entry into the packet and context of one run, through
// the mutator. For XDP with metadata, MetaLen zero bytes go in front of
// the frame.
func (x *executor) input(e corpus.Entry) bpf.Input {
	d := &x.dec
	d.Reset(e.Ops)
	x.pkt = x.mut.Packet(x.pkt[:0], e.Packet, d, x.peers)
	ctx := x.mut.ContextReused(x.prog.Type, x.prog.AttachType, e.Context, d, len(x.pkt))
	if c, ok := ctx.(*bpf.XDPContext); ok && c.MetaLen > 0 {
		x.pkt = append(x.pkt, make([]byte, c.MetaLen)...)
		copy(x.pkt[c.MetaLen:], x.pkt)
		clear(x.pkt[:c.MetaLen])
	}
	x.lastCtx = ctx
	return bpf.Input{Packet: x.pkt, Context: ctx}
}

// determinismRuns is how many times Target.Deterministic runs an input
// again: after the first run's restored map state, and then without
// restoring, so that a program keeping state shows it.
const determinismRuns = 16

// execute runs one entry and checks it. x.hits is then the coverage of the
// run (Target.Fuzz feeds it to Go's fuzzer).
func (x *executor) execute(e corpus.Entry) (*Finding, error) {
	in := x.input(e)
	if err := x.snap.restore(); err != nil {
		return nil, err
	}
	var before map[string]map[string][]byte
	if len(x.t.MapChecks) > 0 {
		before = x.snap.state()
	}
	x.inCopy = append(x.inCopy[:0], in.Packet...)
	if x.cov != nil && x.cov.Cover != nil {
		x.cov.Cover.Reset()
	}
	res, err := x.prog.Run(in)
	if bpf.IsInputError(err) {
		return nil, errSkip
	}
	x.last = res
	if x.cov != nil && x.cov.Cover != nil {
		x.hits = x.cov.Cover.Hits()
	}
	ctxBytes := bpf.AppendContextBytes(x.ctxBytes, in.Context, len(in.Packet))
	if ctxBytes != nil {
		x.ctxBytes = ctxBytes
	}
	exec := &x.exec
	*exec = oracle.Execution{Input: in, Packet: x.inCopy, Context: ctxBytes, Result: res, Err: err}
	if f := x.check(exec, before); f != nil {
		return x.finding(e, exec, f), nil
	}
	if x.t.Deterministic {
		first := cloneExecution(exec)
		first.Context = bytes.Clone(exec.Context)
		if err := x.snap.restore(); err != nil {
			return nil, err
		}
		// Once after the same restored state, then again and again
		// without a restore: state the program keeps between runs (a
		// counter, a cache) shows as a run that differs.
		for i := 1; i <= determinismRuns; i++ {
			res2, err2 := x.prog.Run(in)
			second := &oracle.Execution{Input: in, Packet: x.inCopy, Context: first.Context, Result: res2, Err: err2}
			if err := oracle.Compare(first, second); err != nil {
				msg := err.Error()
				if i > 1 {
					msg = fmt.Sprintf("run %d without a map reset: %s", i+1, msg)
				}
				return x.finding(e, second, &oracle.Finding{Oracle: "determinism", Message: msg}), nil
			}
		}
	}
	return nil, nil
}

func (x *executor) check(e *oracle.Execution, before map[string]map[string][]byte) *oracle.Finding {
	for _, o := range x.oracles {
		if err := o.Check(x.info, e); err != nil {
			return asFinding(o.Name(), err)
		}
	}
	var in bpf.Input
	if len(x.t.Checks) > 0 || x.t.Reference != nil {
		in = e.Input
		in.Context = contextValue(in.Context) // user code sees values
	}
	for i, c := range x.t.Checks {
		if err := c(in, e.Result); err != nil {
			return &oracle.Finding{Oracle: fmt.Sprintf("check %d", i+1), Message: err.Error()}
		}
	}
	if x.t.Reference != nil && e.Err == nil {
		if want := x.t.Reference(in); want != e.Result.Retval {
			return &oracle.Finding{Oracle: "reference", Message: fmt.Sprintf("the program returned %s, the reference model %s",
				retvalString(x.prog, e.Result.Retval), retvalString(x.prog, want))}
		}
	}
	if len(x.t.MapChecks) > 0 {
		after := x.snap.state()
		for _, mc := range x.t.MapChecks {
			if err := mc.CheckMaps(before, after); err != nil {
				return asFinding(mc.Name(), err)
			}
		}
	}
	return nil
}

// contextValue turns the reused *bpf.XDPContext or *bpf.SKBContext the
// mutator hands out into a value, for anything that outlives the run or
// type-switches on values (user checks, reports).
func contextValue(c bpf.Context) bpf.Context {
	switch v := c.(type) {
	case *bpf.XDPContext:
		return *v
	case *bpf.SKBContext:
		return *v
	}
	return c
}

func asFinding(name string, err error) *oracle.Finding {
	var f *oracle.Finding
	if errors.As(err, &f) {
		return f
	}
	return &oracle.Finding{Oracle: name, Message: err.Error()}
}

func retvalString(p *bpf.Program, v uint32) string {
	if n := bpf.RetvalName(p.Type, p.AttachType, v); n != "" {
		return fmt.Sprintf("%d (%s)", v, n)
	}
	return fmt.Sprint(v)
}

func cloneExecution(e *oracle.Execution) *oracle.Execution {
	c := *e
	c.Input.Context = contextValue(e.Input.Context)
	c.Packet = bytes.Clone(e.Packet)
	c.Result.Packet = bytes.Clone(e.Result.Packet)
	c.Result.Context = bytes.Clone(e.Result.Context)
	return &c
}

// finding copies what the report needs out of the reused buffers.
func (x *executor) finding(e corpus.Entry, ex *oracle.Execution, f *oracle.Finding) *Finding {
	ex = cloneExecution(ex)
	ex.Context = bytes.Clone(ex.Context)
	fd := &Finding{
		Oracle: f.Oracle, Message: f.Message,
		Entry:  corpus.Entry{Packet: bytes.Clone(e.Packet), Context: bytes.Clone(e.Context), Ops: bytes.Clone(e.Ops)},
		Packet: bytes.Clone(ex.Packet), Output: bytes.Clone(ex.Result.Packet),
		Retval: ex.Result.Retval, Errno: ex.Result.Errno,
	}
	// XDP data starts with the metadata (in and out).
	if c, ok := ex.Input.Context.(bpf.XDPContext); ok && int(c.MetaLen) <= len(fd.Packet) {
		fd.InMeta = int(c.MetaLen)
	}
	if c, ok := ex.Result.XDPContext(); ok && int(c.MetaLen) <= len(fd.Output) {
		fd.OutMeta = int(c.MetaLen)
	}
	fd.Report = x.describe(fd, ex)
	return fd
}

// describe writes the report a person reads.
func (x *executor) describe(fd *Finding, ex *oracle.Execution) string {
	var b strings.Builder
	res := ex.Result
	fmt.Fprintf(&b, "bpffuzz finding: %s: %s\n", fd.Oracle, fd.Message)
	fmt.Fprintf(&b, "program   %s (%s) in %s\n", x.prog.Name, x.prog.Type, x.t.Object)
	fmt.Fprintf(&b, "retval    %s\n", retvalString(x.prog, res.Retval))
	if ex.Err != nil {
		fmt.Fprintf(&b, "error     %v\n", ex.Err)
	}
	if len(fd.Entry.Ops) > 0 {
		fmt.Fprintf(&b, "input     %d-byte seed packet mutated by %d bytes of ops into:\n", len(fd.Entry.Packet), len(fd.Entry.Ops))
	} else {
		fmt.Fprintf(&b, "input     %d bytes:\n", len(fd.Packet))
	}
	l3 := bpf.SeesL3(x.prog.Type)
	if ex.Input.Context != nil {
		fmt.Fprintf(&b, "context in %+v\n", ex.Input.Context)
	}
	inMeta, outMeta := fd.InMeta, fd.OutMeta
	if inMeta > 0 {
		fmt.Fprintf(&b, "  metadata %d bytes, then the frame\n", inMeta)
	}
	fmt.Fprintf(&b, "  layers  %s\n", strings.Join(report.Layers(fd.Packet[inMeta:], false), " / "))
	b.WriteString(indent(hex.Dump(fd.Packet)))
	if fd.Output != nil {
		fmt.Fprintf(&b, "output    %d bytes:\n", len(fd.Output))
		if outMeta > 0 {
			fmt.Fprintf(&b, "  metadata %d bytes, then the frame\n", outMeta)
		}
		fmt.Fprintf(&b, "  layers  %s\n", strings.Join(report.Layers(fd.Output[outMeta:], l3), " / "))
		for _, c := range report.PacketChanges(fd.Packet[inMeta:], fd.Output[outMeta:], l3) {
			fmt.Fprintf(&b, "  %s\n", c)
		}
		b.WriteString(indent(hex.Dump(fd.Output)))
	}
	if ch := report.ContextChanges(ex.Input.Context, &res); len(ch) > 0 {
		b.WriteString("context changed:\n")
		for _, k := range sortedKeys(ch) {
			fmt.Fprintf(&b, "  %s: %s\n", k, ch[k])
		}
	}
	return b.String()
}

func indent(s string) string {
	return "  " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n  ") + "\n"
}
