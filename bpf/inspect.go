package bpf

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
)

// Object describes the contents of an ELF object without loading it.
type Object struct {
	Programs  []ProgramInfo  `json:"programs"`
	Maps      []MapInfo      `json:"maps"`
	Variables []VariableInfo `json:"variables"`
}

// ProgramInfo describes one program of an object.
type ProgramInfo struct {
	Name         string `json:"name"`
	Section      string `json:"section"`
	Type         string `json:"type"`
	AttachType   string `json:"attach_type,omitempty"`
	Instructions int    `json:"instructions"`
	// Runnable is whether BPF_PROG_RUN can run the program; Reason says why
	// not. It is the static answer of [Runnable].
	Runnable bool   `json:"runnable"`
	Reason   string `json:"reason,omitempty"`
	// SeesL3 is true for types that see the packet from the network header.
	SeesL3 bool `json:"sees_l3,omitempty"`
}

// MapInfo describes one map of an object.
type MapInfo struct {
	Name       string `json:"name"`
	Type       string `json:"type"`
	KeySize    uint32 `json:"key_size"`
	ValueSize  uint32 `json:"value_size"`
	MaxEntries uint32 `json:"max_entries"`
	Pinned     bool   `json:"pinned,omitempty"`
}

// VariableInfo describes one global variable of an object.
type VariableInfo struct {
	Name     string `json:"name"`
	Section  string `json:"section"`
	Size     uint32 `json:"size"`
	Constant bool   `json:"constant"`
	Type     string `json:"type,omitempty"`
}

// Inspect reads the ELF object at path and describes it.
func Inspect(path string) (*Object, error) {
	spec, err := ebpf.LoadCollectionSpec(path)
	if err != nil {
		return nil, fmt.Errorf("read object %s: %w", path, err)
	}
	return InspectSpec(spec), nil
}

// InspectSpec describes a collection spec. Lists are sorted by name.
func InspectSpec(spec *ebpf.CollectionSpec) *Object {
	o := &Object{Programs: []ProgramInfo{}, Maps: []MapInfo{}, Variables: []VariableInfo{}}
	for _, p := range spec.Programs {
		ok, why := Runnable(p.Type, p.AttachType)
		pi := ProgramInfo{
			Name: p.Name, Section: p.SectionName, Type: p.Type.String(),
			Instructions: len(p.Instructions), Runnable: ok, Reason: why, SeesL3: SeesL3(p.Type),
		}
		if p.AttachType != ebpf.AttachNone {
			pi.AttachType = p.AttachType.String()
		}
		o.Programs = append(o.Programs, pi)
	}
	for name, m := range spec.Maps {
		o.Maps = append(o.Maps, MapInfo{
			Name: name, Type: m.Type.String(), KeySize: m.KeySize, ValueSize: m.ValueSize,
			MaxEntries: m.MaxEntries, Pinned: m.Pinning != ebpf.PinNone,
		})
	}
	for name, v := range spec.Variables {
		vi := VariableInfo{Name: name, Section: v.SectionName, Size: v.Size(), Constant: v.Constant()}
		if v.Type != nil {
			vi.Type = typeName(v.Type.Type)
		}
		o.Variables = append(o.Variables, vi)
	}
	slices.SortFunc(o.Programs, func(a, b ProgramInfo) int { return cmp.Compare(a.Name, b.Name) })
	slices.SortFunc(o.Maps, func(a, b MapInfo) int { return cmp.Compare(a.Name, b.Name) })
	slices.SortFunc(o.Variables, func(a, b VariableInfo) int { return cmp.Compare(a.Name, b.Name) })
	return o
}

// typeName spells a BTF type the way C declares it: "const volatile struct
// config", "__u64".
func typeName(t btf.Type) string {
	prefix := ""
	for {
		switch q := t.(type) {
		case *btf.Const:
			prefix += "const "
			t = q.Type
			continue
		case *btf.Volatile:
			prefix += "volatile "
			t = q.Type
			continue
		case *btf.Restrict:
			t = q.Type
			continue
		case *btf.Struct:
			return prefix + "struct " + q.Name
		case *btf.Union:
			return prefix + "union " + q.Name
		case *btf.Enum:
			return prefix + "enum " + q.Name
		case *btf.Pointer:
			return prefix + typeName(q.Target) + " *"
		case *btf.Array:
			return fmt.Sprintf("%s%s[%d]", prefix, typeName(q.Type), q.Nelems)
		}
		if t == nil {
			return prefix + "void"
		}
		return prefix + t.TypeName()
	}
}
