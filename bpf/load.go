package bpf

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"syscall"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/rlimit"
)

// Options change an object before it is loaded. The zero value loads the
// program as the object describes it, with fresh, unpinned maps.
type Options struct {
	// Type overrides the program type, for sections whose name does not say
	// it (iproute2's "prog", "classifier" in some loaders). Programs loaded
	// for PROG_ARRAY slots whose type is unknown get it too. Default: the
	// type from the section name.
	Type ebpf.ProgramType
	// AttachType overrides the expected attach type (e.g.
	// ebpf.AttachCGroupInetEgress). Used only with Type.
	AttachType ebpf.AttachType
	// Variables sets global variables (.rodata, .data, .bss) before load, by
	// name. A name may pick a member of a struct variable: "config.port".
	// Values are Go integers (converted to the variable's size), []byte of
	// exactly the variable's size, or any value cilium/ebpf can marshal.
	Variables map[string]any
	// Maps fills maps after load, by map name.
	Maps map[string][]MapEntry
	// ProgArrays wires PROG_ARRAY maps for tail calls: map name → slot →
	// program name in the same object. The programs are loaded too.
	ProgArrays map[string]map[uint32]string
	// PinPath, if set, keeps maps declared with LIBBPF_PIN_BY_NAME pinned
	// under this bpffs directory (shared between loads). Default: pinning is
	// cleared, so a load never touches the host's bpffs.
	PinPath string
	// Rewrite, if set, is called on a private copy of the spec just before
	// load, with the names of the programs that will be loaded (the named
	// program first, then the PROG_ARRAY targets in name order). Package
	// cover uses it to instrument programs.
	Rewrite func(spec *ebpf.CollectionSpec, programs []string) error
	// LogLevel is the verifier log level for the load; the log is always
	// collected when the verifier rejects the program. Default: 0.
	LogLevel ebpf.LogLevel
}

// MapEntry is one key/value pair for Options.Maps. Key and Value are each
// []byte of the map's key or value size, an integer (stored in host byte
// order in the map's key or value size), map[string]any setting members of
// the key's or value's BTF struct by dotted path with the rest zero, or
// anything else cilium/ebpf's Map.Update accepts (e.g. a Go struct).
type MapEntry struct {
	Key, Value any
}

// Program is a loaded BPF program ready to run. It owns the kernel objects
// of its collection (maps and tail-call programs) and reusable run buffers.
type Program struct {
	// Name is the program's name in its object.
	Name string
	// Type and AttachType are as loaded, after Options.Type.
	Type       ebpf.ProgramType
	AttachType ebpf.AttachType
	// Spec is a copy of the loaded program's spec (instructions included).
	Spec *ebpf.ProgramSpec

	prog *ebpf.Program
	coll *ebpf.Collection
	kind runKind
	run  *runner
}

var memlock sync.Once

// removeMemlock lifts RLIMIT_MEMLOCK once, for kernels before 5.11 that
// charge BPF memory to it.
func removeMemlock() { memlock.Do(func() { _ = rlimit.RemoveMemlock() }) }

// Load loads the program named program from the ELF object at path.
func Load(path, program string, opts *Options) (*Program, error) {
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

// LoadSpec loads the named program of spec. spec is not modified. Only the
// named program and the programs named in Options.ProgArrays are loaded, so
// other programs of the object that the verifier would reject do not matter.
func LoadSpec(spec *ebpf.CollectionSpec, program string, opts *Options) (*Program, error) {
	if opts == nil {
		opts = &Options{}
	}
	spec = spec.Copy()
	ps := spec.Programs[program]
	if ps == nil {
		return nil, &NoProgramError{Name: program, Available: slices.Sorted(maps.Keys(spec.Programs))}
	}
	if opts.Type != ebpf.UnspecifiedProgram {
		ps.Type, ps.AttachType = opts.Type, opts.AttachType
	}
	if ok, why := Runnable(ps.Type, ps.AttachType); !ok {
		return nil, &NotRunnableError{Program: program, Type: ps.Type, Reason: why}
	}

	keep := map[string]bool{program: true}
	for mapName, slots := range opts.ProgArrays {
		ms := spec.Maps[mapName]
		if ms == nil {
			return nil, fmt.Errorf("prog array %s: no such map (the object has %v)", mapName, slices.Sorted(maps.Keys(spec.Maps)))
		}
		if ms.Type != ebpf.ProgramArray {
			return nil, fmt.Errorf("prog array %s: map is a %s, not a PROG_ARRAY", mapName, ms.Type)
		}
		for slot, name := range slots {
			target := spec.Programs[name]
			if target == nil {
				return nil, fmt.Errorf("prog array %s slot %d: %w", mapName, slot, &NoProgramError{Name: name, Available: slices.Sorted(maps.Keys(spec.Programs))})
			}
			if slot >= ms.MaxEntries {
				return nil, fmt.Errorf("prog array %s slot %d: the map has %d slots", mapName, slot, ms.MaxEntries)
			}
			if target.Type == ebpf.UnspecifiedProgram {
				target.Type, target.AttachType = ps.Type, ps.AttachType
			}
			keep[name] = true
		}
	}
	for name := range spec.Programs {
		if !keep[name] {
			delete(spec.Programs, name)
		}
	}
	if opts.PinPath == "" {
		for _, m := range spec.Maps {
			m.Pinning = ebpf.PinNone
		}
	}
	for name, v := range opts.Variables {
		if err := setVariable(spec, name, v); err != nil {
			return nil, err
		}
	}

	if opts.Rewrite != nil {
		loaded := []string{program}
		for _, name := range slices.Sorted(maps.Keys(keep)) {
			if name != program {
				loaded = append(loaded, name)
			}
		}
		if err := opts.Rewrite(spec, loaded); err != nil {
			return nil, fmt.Errorf("rewrite before load: %w", err)
		}
	}

	removeMemlock()
	coll, err := ebpf.NewCollectionWithOptions(spec, ebpf.CollectionOptions{
		Maps:     ebpf.MapOptions{PinPath: opts.PinPath},
		Programs: ebpf.ProgramOptions{LogLevel: opts.LogLevel},
	})
	if err != nil {
		return nil, loadError(program, err)
	}
	p := &Program{
		Name:       program,
		Type:       ps.Type,
		AttachType: ps.AttachType,
		Spec:       ps,
		prog:       coll.Programs[program],
		coll:       coll,
	}
	setup := *opts
	if setup.Maps, err = encodeMapEntries(spec, opts.Maps); err != nil {
		p.Close()
		return nil, err
	}
	if err := p.setup(&setup); err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

// LoadProgramSpec loads a single program spec, e.g. one built from asm
// instructions. Map references must already carry file descriptors.
func LoadProgramSpec(ps *ebpf.ProgramSpec, opts *ebpf.ProgramOptions) (*Program, error) {
	if ok, why := Runnable(ps.Type, ps.AttachType); !ok {
		return nil, &NotRunnableError{Program: ps.Name, Type: ps.Type, Reason: why}
	}
	if opts == nil {
		opts = &ebpf.ProgramOptions{}
	}
	removeMemlock()
	prog, err := ebpf.NewProgramWithOptions(ps, *opts)
	if err != nil {
		return nil, loadError(ps.Name, err)
	}
	kind, _ := classify(ps.Type, ps.AttachType)
	return &Program{Name: ps.Name, Type: ps.Type, AttachType: ps.AttachType, Spec: ps.Copy(),
		prog: prog, kind: kind, run: newRunner(kind)}, nil
}

func (p *Program) setup(opts *Options) error {
	if p.prog == nil {
		return fmt.Errorf("program %s was not loaded (program type %s)", p.Name, p.Type)
	}
	p.kind, _ = classify(p.Type, p.AttachType)
	p.run = newRunner(p.kind)
	for mapName, slots := range opts.ProgArrays {
		m := p.coll.Maps[mapName]
		for slot, name := range slots {
			target := p.coll.Programs[name]
			if target == nil {
				return fmt.Errorf("prog array %s slot %d: program %s was not loaded", mapName, slot, name)
			}
			if err := m.Update(slot, uint32(target.FD()), ebpf.UpdateAny); err != nil {
				return fmt.Errorf("prog array %s slot %d = %s: %w", mapName, slot, name, err)
			}
		}
	}
	for mapName, entries := range opts.Maps {
		m := p.coll.Maps[mapName]
		if m == nil {
			return fmt.Errorf("fill map %s: no such map (the object has %v)", mapName, slices.Sorted(maps.Keys(p.coll.Maps)))
		}
		for i, e := range entries {
			if err := m.Update(e.Key, e.Value, ebpf.UpdateAny); err != nil {
				return fmt.Errorf("fill map %s entry %d: %w", mapName, i, err)
			}
		}
	}
	return nil
}

func loadError(program string, err error) error {
	var ve *ebpf.VerifierError
	if errors.As(err, &ve) {
		if errors.Is(ve.Cause, syscall.EPERM) && len(ve.Log) == 0 {
			return fmt.Errorf("load program %s: %w", program, permission(ve.Cause))
		}
		return &LoadError{Program: program, Log: ve.Log, Err: err}
	}
	return fmt.Errorf("load program %s: %w", program, permission(err))
}

// Map returns one of the program's maps by name, or nil.
func (p *Program) Map(name string) *ebpf.Map {
	if p.coll == nil {
		return nil
	}
	return p.coll.Maps[name]
}

// Maps returns the program's maps by name. The map is the Program's; do not
// close its values.
func (p *Program) Maps() map[string]*ebpf.Map {
	if p.coll == nil {
		return nil
	}
	return p.coll.Maps
}

// Raw returns the loaded cilium/ebpf program, e.g. to pin it or read its
// info. It stays owned by p.
func (p *Program) Raw() *ebpf.Program { return p.prog }

// VerifierLog returns the verifier's log for a program of the load (the
// named one or a tail-call target), as asked for by Options.LogLevel; ""
// when none was asked for or the program was not loaded.
func (p *Program) VerifierLog(name string) string {
	if p.coll == nil {
		if name == p.Name && p.prog != nil {
			return p.prog.VerifierLog
		}
		return ""
	}
	if q := p.coll.Programs[name]; q != nil {
		return q.VerifierLog
	}
	return ""
}

// Close releases the program, its maps and its tail-call programs.
func (p *Program) Close() error {
	if p.coll != nil {
		p.coll.Close()
		return nil
	}
	if p.prog != nil {
		return p.prog.Close()
	}
	return nil
}
