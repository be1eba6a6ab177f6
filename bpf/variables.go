package bpf

import (
	"encoding/binary"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
)

// setVariable sets a global variable, or one member of a struct variable
// ("config.port"), in spec before load.
func setVariable(spec *ebpf.CollectionSpec, name string, v any) error {
	varName, path, _ := strings.Cut(name, ".")
	vs := spec.Variables[varName]
	if vs == nil {
		return fmt.Errorf("set variable %s: no such variable (the object has %v)", name, slices.Sorted(maps.Keys(spec.Variables)))
	}
	size := int(vs.Size())
	off := 0
	if path != "" {
		if vs.Type == nil {
			return fmt.Errorf("set variable %s: %s has no BTF type information, so its members are unknown", name, varName)
		}
		var err error
		off, size, err = memberOffset(vs.Type.Type, path)
		if err != nil {
			return fmt.Errorf("set variable %s: %w", name, err)
		}
	}
	if vs.Value == nil {
		vs.Value = make([]byte, vs.Size())
	}
	if off+size > len(vs.Value) {
		return fmt.Errorf("set variable %s: member at %d..%d is outside the %d-byte variable", name, off, off+size, len(vs.Value))
	}
	dst := vs.Value[off : off+size]
	if b, ok := v.([]byte); ok {
		if len(b) != size {
			return fmt.Errorf("set variable %s: %d bytes given for a %d-byte value", name, len(b), size)
		}
		copy(dst, b)
		return nil
	}
	if u, ok := asUint64(v); ok {
		if err := putInt(dst, u); err != nil {
			return fmt.Errorf("set variable %s: %w", name, err)
		}
		return nil
	}
	if path != "" {
		return fmt.Errorf("set variable %s: a member takes an integer or []byte, got %T", name, v)
	}
	return vs.Set(v)
}

// memberOffset walks a dotted path of struct/union members in BTF and
// returns the byte offset and size of the last one.
func memberOffset(t btf.Type, path string) (off, size int, err error) {
	for _, name := range strings.Split(path, ".") {
		t = btf.UnderlyingType(t)
		var members []btf.Member
		switch c := t.(type) {
		case *btf.Struct:
			members = c.Members
		case *btf.Union:
			members = c.Members
		default:
			return 0, 0, fmt.Errorf("%s: not a struct or union member (type %s)", name, t)
		}
		found := false
		var names []string
		for _, m := range members {
			names = append(names, m.Name)
			if m.Name != name {
				continue
			}
			if m.BitfieldSize != 0 {
				return 0, 0, fmt.Errorf("%s is a bitfield; set the whole variable as []byte", name)
			}
			off += int(m.Offset.Bytes())
			t = m.Type
			found = true
			break
		}
		if !found {
			return 0, 0, fmt.Errorf("no member %s (members: %s)", name, strings.Join(names, ", "))
		}
	}
	sz, err := btf.Sizeof(t)
	if err != nil {
		return 0, 0, err
	}
	return off, sz, nil
}

func asUint64(v any) (uint64, bool) {
	switch x := v.(type) {
	case int:
		return uint64(x), true
	case int8:
		return uint64(x), true
	case int16:
		return uint64(x), true
	case int32:
		return uint64(x), true
	case int64:
		return uint64(x), true
	case uint:
		return uint64(x), true
	case uint8:
		return uint64(x), true
	case uint16:
		return uint64(x), true
	case uint32:
		return uint64(x), true
	case uint64:
		return x, true
	case bool:
		if x {
			return 1, true
		}
		return 0, true
	}
	return 0, false
}

// putInt stores u in host byte order in dst (1, 2, 4 or 8 bytes), refusing
// values that do not fit.
func putInt(dst []byte, u uint64) error {
	size := len(dst)
	if size < 8 {
		// Accept values that fit unsigned or as a sign-extended negative.
		hi := u >> (8 * size)
		negative := hi == (^uint64(0))>>(8*size) && u>>(8*size-1)&1 == 1
		if hi != 0 && !negative {
			return fmt.Errorf("%d does not fit in %d bytes", int64(u), size)
		}
	}
	switch size {
	case 1:
		dst[0] = byte(u)
	case 2:
		binary.LittleEndian.PutUint16(dst, uint16(u))
	case 4:
		binary.LittleEndian.PutUint32(dst, uint32(u))
	case 8:
		binary.LittleEndian.PutUint64(dst, u)
	default:
		return fmt.Errorf("an integer cannot fill %d bytes; give []byte, or the members by name", size)
	}
	return nil
}

// encodeMapValue turns a map key or value given to Options.Maps into the
// map's bytes: []byte of exactly size bytes, an integer (host byte order,
// when size is 1, 2, 4 or 8), or map[string]any naming members of the
// key's or value's BTF struct by dotted path ({"action": 1, "addr.port":
// 53}) with the other bytes zero. Anything else is passed on to cilium/ebpf
// as is.
func encodeMapValue(t btf.Type, size int, v any) (any, error) {
	switch x := v.(type) {
	case []byte:
		if len(x) != size {
			return nil, fmt.Errorf("%d bytes given for a %d-byte value", len(x), size)
		}
		return x, nil
	case map[string]any:
		if t == nil {
			return nil, fmt.Errorf("members given by name, but the map has no BTF type information: give bytes")
		}
		out := make([]byte, size)
		for _, path := range slices.Sorted(maps.Keys(x)) {
			off, n, err := memberOffset(t, path)
			if err != nil {
				return nil, err
			}
			if off+n > size {
				return nil, fmt.Errorf("%s at %d..%d is outside the %d-byte value", path, off, off+n, size)
			}
			dst := out[off : off+n]
			switch m := x[path].(type) {
			case []byte:
				if len(m) != n {
					return nil, fmt.Errorf("%s: %d bytes given for a %d-byte member", path, len(m), n)
				}
				copy(dst, m)
			default:
				u, ok := asUint64(m)
				if !ok {
					return nil, fmt.Errorf("%s: want an integer or bytes, got %T", path, m)
				}
				if err := putInt(dst, u); err != nil {
					return nil, fmt.Errorf("%s: %w", path, err)
				}
			}
		}
		return out, nil
	}
	if u, ok := asUint64(v); ok {
		out := make([]byte, size)
		if err := putInt(out, u); err != nil {
			return nil, err
		}
		return out, nil
	}
	return v, nil
}

// encodeMapEntries encodes every Options.Maps key and value against the
// map specs (see encodeMapValue).
func encodeMapEntries(spec *ebpf.CollectionSpec, in map[string][]MapEntry) (map[string][]MapEntry, error) {
	out := make(map[string][]MapEntry, len(in))
	for name, entries := range in {
		ms := spec.Maps[name]
		if ms == nil {
			return nil, fmt.Errorf("fill map %s: no such map (the object has %v)", name, slices.Sorted(maps.Keys(spec.Maps)))
		}
		for i, e := range entries {
			k, err := encodeMapValue(ms.Key, int(ms.KeySize), e.Key)
			if err != nil {
				return nil, fmt.Errorf("fill map %s entry %d key: %w", name, i, err)
			}
			v, err := encodeMapValue(ms.Value, int(ms.ValueSize), e.Value)
			if err != nil {
				return nil, fmt.Errorf("fill map %s entry %d value: %w", name, i, err)
			}
			out[name] = append(out[name], MapEntry{Key: k, Value: v})
		}
	}
	return out, nil
}
