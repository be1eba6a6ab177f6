package cover

import (
	"errors"
	"fmt"
	"slices"

	"github.com/bpffuzz/bpffuzz/bpf"
	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
)

// Program is a loaded program with its coverage.
type Program struct {
	*bpf.Program
	// Layout describes the blocks; nil when the program runs uninstrumented.
	Layout *Layout
	// Cover is the mapped coverage map; nil when uninstrumented.
	Cover *Map
	// Fallback says why the program runs with fewer probes or none, ""
	// when fully instrumented.
	Fallback string
	// Original is the program's instructions as written, before
	// instrumentation (what a mutator's dictionary reads: probes break the
	// program's own straight-line code).
	Original asm.Instructions
}

// Load loads a program like bpf.Load, instrumented for coverage. If the
// verifier rejects the fully instrumented program, Load retries in Light
// mode, then uninstrumented; Program.Fallback then says why. Errors that
// have nothing to do with instrumentation (no such program, no privilege,
// the original program rejected) are returned as bpf.Load returns them.
func Load(path, program string, opts *bpf.Options) (*Program, error) {
	spec, err := ebpf.LoadCollectionSpec(path)
	if err != nil {
		return nil, fmt.Errorf("read object %s: %w", path, err)
	}
	p, err := LoadSpec(spec, program, opts)
	if err != nil {
		return nil, fmt.Errorf("object %s: %w", path, err)
	}
	return p, nil
}

// LoadSpec is Load for a collection spec, which it does not modify.
func LoadSpec(spec *ebpf.CollectionSpec, program string, opts *bpf.Options) (*Program, error) {
	var o bpf.Options
	if opts != nil {
		o = *opts
	}
	var reasons []string
	var depths map[string][]int
	var orig asm.Instructions
	for _, mode := range []Mode{Full, Light} {
		var layout *Layout
		var wanted []string
		o.Rewrite = func(s *ebpf.CollectionSpec, programs []string) error {
			if opts != nil && opts.Rewrite != nil {
				if err := opts.Rewrite(s, programs); err != nil {
					return err
				}
			}
			if ps := s.Programs[program]; ps != nil {
				orig = slices.Clone(ps.Instructions)
			}
			var err error
			layout, err = InstrumentStack(s, programs, mode, depths)
			if err == nil && depths == nil && layout.needDepth > 0 {
				wanted = programs
				return errNeedDepths
			}
			return err
		}
		p, err := bpf.LoadSpec(spec, program, &o)
		if errors.Is(err, errNeedDepths) {
			// Some block has every register live: learn the stack depths
			// from the verifier, then instrument again with spills.
			if depths, err = stackDepths(spec, program, opts, wanted); err != nil {
				return nil, err
			}
			p, err = bpf.LoadSpec(spec, program, &o)
		}
		if err == nil {
			m, err := OpenMap(p.Map(MapName), len(layout.Blocks))
			if err != nil {
				p.Close()
				return nil, err
			}
			fb := ""
			if len(reasons) > 0 {
				fb = fmt.Sprintf("%s instrumentation: %s", mode, reasons[0])
			}
			return &Program{Program: p, Layout: layout, Cover: m, Fallback: fb, Original: orig}, nil
		}
		var le *bpf.LoadError
		if !errors.As(err, &le) && !isInstrumentError(err) {
			return nil, err // not about instrumentation
		}
		reasons = append(reasons, fmt.Sprintf("%s mode rejected: %s", mode, firstLine(err)))
	}
	// Neither mode loads: run uninstrumented, if the original loads at all.
	o.Rewrite = nil
	if opts != nil {
		o.Rewrite = opts.Rewrite
	}
	p, err := bpf.LoadSpec(spec, program, &o)
	if err != nil {
		return nil, err
	}
	return &Program{Program: p, Fallback: "running without coverage: " + reasons[len(reasons)-1], Original: p.Spec.Instructions}, nil
}

// errNeedDepths stops a load whose instrumentation needs the programs'
// stack depths.
var errNeedDepths = errors.New("instrumentation needs the stack depths")

// stackDepths loads the programs uninstrumented with the verifier's
// statistics and returns each one's stack depths per function. A program
// whose log has none is left out (its blocks then go without a probe).
func stackDepths(spec *ebpf.CollectionSpec, program string, opts *bpf.Options, programs []string) (map[string][]int, error) {
	var o bpf.Options
	if opts != nil {
		o = *opts
	}
	o.LogLevel |= ebpf.LogLevelStats
	p, err := bpf.LoadSpec(spec, program, &o)
	if err != nil {
		return nil, err
	}
	defer p.Close()
	depths := map[string][]int{}
	for _, name := range programs {
		if d, ok := StackDepths(p.VerifierLog(name)); ok {
			depths[name] = d
		}
	}
	return depths, nil
}

func isInstrumentError(err error) bool {
	return errors.Is(err, errTooFar) || errors.Is(err, errInstrument)
}

var errInstrument = errors.New("cannot instrument")

func firstLine(err error) string {
	s := err.Error()
	for i, c := range s {
		if c == '\n' {
			return s[:i]
		}
	}
	return s
}

// Close releases the program and unmaps its coverage.
func (p *Program) Close() error {
	if p.Cover != nil {
		p.Cover.Close()
	}
	return p.Program.Close()
}
