// Package oracle holds the checks bpffuzz makes on every execution. Each
// oracle is a small type with a name and a doc that says what it asserts
// and when it is off. Oracles are pure: they see plain values, never the
// kernel.
//
//	name        default  asserts
//	retval      on       the return value is one the program type defines
//	errno       on       a run the harness validated gets no kernel error
//	bounds      on       output size within the type's limits; equal to the input without resizing helpers; input never modified
//	ctx         on       context fields outside the kernel's write-back set come back as they went in
//	output      on       a well-formed packet the program passes comes out well-formed (lengths, checksums)
//	checksum    on       with the checksum-complete flag, no EBADMSG (skb->csum kept in step)
//	determinism opt-in   the same input on the same map state gives the same result (run by the fuzz layer)
package oracle

import (
	"bytes"
	"fmt"
	"slices"

	"github.com/bpffuzz/bpffuzz/bpf"
	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
)

// Program is what the oracles know about the program under test.
type Program struct {
	Type       ebpf.ProgramType
	AttachType ebpf.AttachType
	// Helpers are the helper functions the program calls.
	Helpers map[asm.BuiltinFunc]bool
}

// ProgramOf describes a loaded program.
func ProgramOf(p *bpf.Program) *Program {
	o := &Program{Type: p.Type, AttachType: p.AttachType, Helpers: map[asm.BuiltinFunc]bool{}}
	if p.Spec != nil {
		for _, ins := range p.Spec.Instructions {
			switch {
			case ins.IsBuiltinCall():
				o.Helpers[asm.BuiltinFunc(ins.Constant)] = true
			case ins.IsKfuncCall():
				o.Helpers[kfuncMarker] = true
			}
		}
	}
	return o
}

func (p *Program) calls(fns ...asm.BuiltinFunc) bool {
	for _, f := range fns {
		if p.Helpers[f] {
			return true
		}
	}
	return false
}

// Execution is one run as the oracles see it.
type Execution struct {
	// Input is what was passed to Run.
	Input bpf.Input
	// Packet is a copy of the input packet taken before the run.
	Packet []byte
	// Context is the input context as the kernel received it, nil if none.
	Context []byte
	Result  bpf.Result
	// Err is Run's error: nil or a syscall.Errno.
	Err error
}

// Oracle checks one execution.
type Oracle interface {
	Name() string
	// Doc says what the oracle asserts and when it is off.
	Doc() string
	// Check returns nil when nothing is wrong, else a *Finding.
	Check(p *Program, e *Execution) error
}

// Finding is an oracle's objection.
type Finding struct {
	Oracle, Message string
}

func (f *Finding) Error() string { return f.Oracle + ": " + f.Message }

func finding(o Oracle, format string, args ...any) error {
	return &Finding{Oracle: o.Name(), Message: fmt.Sprintf(format, args...)}
}

var all = []Oracle{Retval{}, Errno{}, Bounds{}, Ctx{}, Output{}, Checksum{}, Determinism{}}

// Default returns the oracles on by default: sound for every correct
// program.
func Default() []Oracle {
	return []Oracle{Retval{}, Errno{}, Bounds{}, Ctx{}, Output{}, Checksum{}}
}

// Names lists every oracle, default or opt-in.
func Names() []string {
	var out []string
	for _, o := range all {
		out = append(out, o.Name())
	}
	return out
}

// ByName finds an oracle.
func ByName(name string) (Oracle, bool) {
	i := slices.IndexFunc(all, func(o Oracle) bool { return o.Name() == name })
	if i < 0 {
		return nil, false
	}
	return all[i], true
}

type funcOracle struct {
	name  string
	check func(e *Execution) error
}

func (f funcOracle) Name() string { return f.name }
func (f funcOracle) Doc() string  { return "a check written by the user" }
func (f funcOracle) Check(_ *Program, e *Execution) error {
	if err := f.check(e); err != nil {
		return &Finding{Oracle: f.name, Message: err.Error()}
	}
	return nil
}

// Func adapts a user check into an oracle.
func Func(name string, check func(e *Execution) error) Oracle { return funcOracle{name, check} }

// Determinism is run by the fuzz layer (Target.Deterministic): it runs
// every input a second time on the same map state, then 15 more times
// without resetting the maps, and compares each with Compare. As an Oracle
// in a list it checks nothing.
type Determinism struct{}

func (Determinism) Name() string { return "determinism" }
func (Determinism) Doc() string {
	return "The same input on the same map state gives the same return value, errno, output packet and output context (duration excluded), and so do 15 more runs without a map reset (state kept between runs shows). Opt-in, for programs meant to be stateless: helpers like ktime, prandom and socket cookies are nondeterministic by design."
}
func (Determinism) Check(*Program, *Execution) error { return nil }

// Compare reports how two runs of the same input differ.
func Compare(a, b *Execution) error {
	switch {
	case a.Result.Retval != b.Result.Retval:
		return fmt.Errorf("retval %d then %d", a.Result.Retval, b.Result.Retval)
	case a.Result.Errno != b.Result.Errno:
		return fmt.Errorf("errno %d then %d", a.Result.Errno, b.Result.Errno)
	case !bytes.Equal(a.Result.Packet, b.Result.Packet):
		return fmt.Errorf("output packets differ (%d then %d bytes)", len(a.Result.Packet), len(b.Result.Packet))
	case !bytes.Equal(a.Result.Context, b.Result.Context):
		return fmt.Errorf("output contexts differ")
	}
	return nil
}

// MapState is the contents of maps: map name → key bytes → value bytes.
type MapState map[string]map[string][]byte

// MapCheck sees the maps before and after every run.
type MapCheck interface {
	Name() string
	CheckMaps(before, after map[string]map[string][]byte) error
}

type countersGrow struct{ m string }

// CountersOnlyGrow checks that every value of map m, read as
// little-endian unsigned integers of its size (up to 8 bytes), never
// decreases in a run.
func CountersOnlyGrow(m string) MapCheck { return countersGrow{m} }

func (c countersGrow) Name() string { return "counters-grow:" + c.m }
func (c countersGrow) CheckMaps(before, after map[string]map[string][]byte) error {
	for k, v := range before[c.m] {
		w, ok := after[c.m][k]
		if !ok {
			return &Finding{Oracle: c.Name(), Message: fmt.Sprintf("key %x disappeared", k)}
		}
		if le(w) < le(v) {
			return &Finding{Oracle: c.Name(), Message: fmt.Sprintf("key %x went from %d to %d", k, le(v), le(w))}
		}
	}
	return nil
}

func le(b []byte) uint64 {
	var x uint64
	for i := min(len(b), 8) - 1; i >= 0; i-- {
		x = x<<8 | uint64(b[i])
	}
	return x
}
