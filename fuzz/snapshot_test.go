package fuzz

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/bpffuzz/bpffuzz/internal/kerneltest"
	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"golang.org/x/sys/unix"
)

func TestMayWriteMemory(t *testing.T) {
	ret := asm.Instructions{asm.Mov.Imm(asm.R0, 0), asm.Return()}
	for _, c := range []struct {
		name  string
		insns asm.Instructions
		want  bool
	}{
		{"return", ret, false},
		{"stack store", append(asm.Instructions{asm.StoreImm(asm.R10, -4, 0, asm.Word)}, ret...), false},
		{"lookup", append(asm.Instructions{asm.FnMapLookupElem.Call()}, ret...), false},
		{"store through a pointer", append(asm.Instructions{asm.StoreMem(asm.R0, 0, asm.R1, asm.DWord)}, ret...), true},
		{"atomic add", append(asm.Instructions{asm.StoreXAdd(asm.R0, asm.R1, asm.DWord)}, ret...), true},
		{"map update", append(asm.Instructions{asm.FnMapUpdateElem.Call()}, ret...), true},
		{"load bytes into memory", append(asm.Instructions{asm.FnSkbLoadBytes.Call()}, ret...), true},
		{"tail call", append(asm.Instructions{asm.FnTailCall.Call()}, ret...), true},
	} {
		if got := mayWriteMemory(c.insns); got != c.want {
			t.Errorf("%s: mayWriteMemory = %v, want %v", c.name, got, c.want)
		}
	}
}

// TestSnapshotRestore changes maps of every restore path (mapped array,
// batched array, batched hash) and checks that restore brings them back.
func TestSnapshotRestore(t *testing.T) {
	kerneltest.Skip(t)
	u32 := func(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }
	u64 := func(v uint64) []byte { return binary.LittleEndian.AppendUint64(nil, v) }
	newMap := func(typ ebpf.MapType, flags uint32) *ebpf.Map {
		m, err := ebpf.NewMap(&ebpf.MapSpec{Type: typ, KeySize: 4, ValueSize: 8, MaxEntries: 8, Flags: flags})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { m.Close() })
		return m
	}
	maps := map[string]*ebpf.Map{
		"mapped": newMap(ebpf.Array, unix.BPF_F_MMAPABLE),
		"array":  newMap(ebpf.Array, 0),
		"hash":   newMap(ebpf.Hash, 0),
	}
	for _, m := range maps {
		for k := range uint32(3) {
			if err := m.Put(u32(k), u64(uint64(100+k))); err != nil {
				t.Fatal(err)
			}
		}
	}
	s, err := takeSnapshot(maps, []string{"mapped", "array", "hash"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	if s.maps[0].mem == nil || !s.maps[1].batch || !s.maps[2].batch {
		t.Fatalf("restore paths: mapped %v, array batch %v, hash batch %v", s.maps[0].mem != nil, s.maps[1].batch, s.maps[2].batch)
	}
	contents := func() map[string]map[string][]byte { return s.state() }
	want := contents()
	for round := range 3 {
		for name, m := range maps {
			if err := m.Put(u32(1), u64(7)); err != nil {
				t.Fatal(err)
			}
			if name == "hash" {
				m.Put(u32(6), u64(1)) // added
				m.Delete(u32(2))      // removed
			}
		}
		if err := s.restore(); err != nil {
			t.Fatal(err)
		}
		got := contents()
		for name := range maps {
			if len(got[name]) != len(want[name]) {
				t.Fatalf("round %d: %s has %d entries after restore, want %d", round, name, len(got[name]), len(want[name]))
			}
			for k, v := range want[name] {
				if !bytes.Equal(got[name][k], v) {
					t.Errorf("round %d: %s[%x] = %x after restore, want %x", round, name, k, got[name][k], v)
				}
			}
		}
	}
	// A clean restore costs no writes and still leaves the maps as they were.
	if err := s.restore(); err != nil {
		t.Fatal(err)
	}
}

// TestExecutorRestoresMaps checks that a program's map writes (xdp_parser
// counts verdicts in an array, made mmapable by the executor) do not leak
// into the next execution.
func TestExecutorRestoresMaps(t *testing.T) {
	x := benchExecutor(t, "../examples/xdp_parser.o", "xdp_parser", true)
	if len(x.snap.maps) != 1 || x.snap.maps[0].mem == nil {
		t.Fatalf("snapshot of xdp_parser: %d maps, want verdicts, mapped", len(x.snap.maps))
	}
	before := x.snap.state()
	if _, err := x.execute(benchEntry(64)); err != nil {
		t.Fatal(err)
	}
	if equalState(x.snap.state(), before) {
		t.Fatal("the run changed no verdict counter: nothing to restore")
	}
	if err := x.snap.restore(); err != nil {
		t.Fatal(err)
	}
	after := x.snap.state()
	for k, v := range before["verdicts"] {
		if !bytes.Equal(after["verdicts"][k], v) {
			t.Errorf("verdicts[%x] = %x after restore, want %x", k, after["verdicts"][k], v)
		}
	}
}

func equalState(a, b map[string]map[string][]byte) bool {
	for name, m := range a {
		for k, v := range m {
			if !bytes.Equal(b[name][k], v) {
				return false
			}
		}
	}
	return true
}
