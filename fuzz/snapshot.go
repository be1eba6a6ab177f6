package fuzz

import (
	"errors"
	"fmt"
	"strings"

	"github.com/bpffuzz/bpffuzz/cover"
	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
)

// snapshot is the state of the maps a program can write, taken after
// setup, and restored before every execution so that a run depends on its
// input alone.
type snapshot struct {
	maps []mapState
}

type mapState struct {
	name   string
	m      *ebpf.Map
	keys   [][]byte
	values [][]byte
	array  bool
}

// writableMaps returns the names of the maps the program's instructions
// reference that it can change: all referenced maps except read-only data
// (.rodata, .kconfig), PROG_ARRAYs and the coverage map. A program that
// calls no map helper and stores through no direct map value pointer
// changes none.
func writableMaps(insns asm.Instructions) []string {
	seen := map[string]bool{}
	var out []string
	for _, ins := range insns {
		if !ins.IsLoadFromMap() || ins.Reference() == "" {
			continue
		}
		name := ins.Reference()
		if seen[name] || name == cover.MapName || strings.HasPrefix(name, ".rodata") || name == ".kconfig" {
			continue
		}
		seen[name] = true
		out = append(out, name)
	}
	return out
}

// takeSnapshot reads the current contents of the named maps.
func takeSnapshot(maps map[string]*ebpf.Map, names []string) (*snapshot, error) {
	s := &snapshot{}
	for _, name := range names {
		m := maps[name]
		if m == nil {
			continue
		}
		switch m.Type() {
		case ebpf.ProgramArray, ebpf.PerfEventArray, ebpf.RingBuf:
			continue // not state a run reads back
		}
		ms := mapState{name: name, m: m, array: m.Type() == ebpf.Array}
		if m.Type() == ebpf.PerCPUArray || m.Type() == ebpf.PerCPUHash || m.Type() == ebpf.LRUCPUHash {
			return nil, fmt.Errorf("map %s: per-CPU maps cannot be restored yet; remove it from the run or open an issue", name)
		}
		it := m.Iterate()
		var k, v []byte
		for it.Next(&k, &v) {
			ms.keys = append(ms.keys, append([]byte(nil), k...))
			ms.values = append(ms.values, append([]byte(nil), v...))
		}
		if err := it.Err(); err != nil {
			return nil, fmt.Errorf("snapshot map %s: %w", name, err)
		}
		s.maps = append(s.maps, ms)
	}
	return s, nil
}

// restore writes the snapshot back: arrays value by value, hash maps by
// deleting keys added since and writing the saved entries.
func (s *snapshot) restore() error {
	for i := range s.maps {
		ms := &s.maps[i]
		if !ms.array {
			var k []byte
			var stale [][]byte
			it := ms.m.Iterate()
			var v []byte
			for it.Next(&k, &v) {
				if !ms.has(k) {
					stale = append(stale, append([]byte(nil), k...))
				}
			}
			for _, k := range stale {
				if err := ms.m.Delete(k); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
					return fmt.Errorf("restore map %s: %w", ms.name, err)
				}
			}
		}
		for j := range ms.keys {
			if err := ms.m.Update(ms.keys[j], ms.values[j], ebpf.UpdateAny); err != nil {
				return fmt.Errorf("restore map %s: %w", ms.name, err)
			}
		}
	}
	return nil
}

func (ms *mapState) has(k []byte) bool {
	for _, key := range ms.keys {
		if string(key) == string(k) {
			return true
		}
	}
	return false
}

// State returns the current contents of the snapshotted maps, for map
// oracles: map name → key (as a string of bytes) → value.
func (s *snapshot) state() map[string]map[string][]byte {
	out := map[string]map[string][]byte{}
	for _, ms := range s.maps {
		m := map[string][]byte{}
		var k, v []byte
		it := ms.m.Iterate()
		for it.Next(&k, &v) {
			m[string(k)] = append([]byte(nil), v...)
		}
		out[ms.name] = m
	}
	return out
}
