package fuzz

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"syscall"
	"unsafe"

	"github.com/bpffuzz/bpffuzz/bpf"
	"github.com/bpffuzz/bpffuzz/cover"
	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"golang.org/x/sys/unix"
)

// snapshot is the state of the maps a program can write, taken after
// setup, and restored before every execution so that a run depends on its
// input alone.
//
// Restoring is on the hot path, so it is as cheap as the map allows:
//   - arrays the engine created with BPF_F_MMAPABLE (see mmapableArrays)
//     are compared and copied in mapped memory: no syscall;
//   - other arrays and hash maps are read with one BPF_MAP_LOOKUP_BATCH
//     and compared; only a map that changed is written back, with one
//     BPF_MAP_UPDATE_BATCH (and one BPF_MAP_DELETE_BATCH for keys the run
//     added);
//   - maps the kernel cannot batch fall back to iterating and updating
//     entry by entry.
type snapshot struct {
	maps []mapState
}

type mapState struct {
	name   string
	m      *ebpf.Map
	keys   [][]byte
	values [][]byte
	array  bool

	// mem is the mmapped array; saved its contents at snapshot time.
	mem, saved []byte

	// Batch restore: index maps a saved key to its position; cur* hold
	// one batch lookup; saved* the saved entries, flat, for the update.
	batch                bool
	index                map[string]int
	curKeys, curValues   []byte
	savedKeys, savedVals []byte
	stale                []byte
	cursor               [8]byte
	keySize, valueSize   int
}

// writableMaps returns the names of the maps the programs' instructions
// (uninstrumented: the target and what it tail-calls) reference that they
// can change: all referenced maps except read-only data
// (.rodata, .kconfig), PROG_ARRAYs and the coverage map — and none at all
// when the program can write no memory but its stack (see mayWriteMemory).
// keepAll keeps every referenced map (map checks read them all).
func writableMaps(progs []asm.Instructions, keepAll bool) []string {
	write := keepAll
	for _, insns := range progs {
		write = write || mayWriteMemory(insns)
	}
	if !write {
		return nil
	}
	seen := map[string]bool{}
	var out []string
	for _, ins := range slices.Concat(progs...) {
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

// readOnlyHelpers are helpers that change no map and write through none
// of their pointer arguments (they may change the packet or the skb, which
// is not state that outlives a run).
var readOnlyHelpers = map[asm.BuiltinFunc]bool{
	asm.FnMapLookupElem: true, asm.FnKtimeGetNs: true, asm.FnKtimeGetBootNs: true, asm.FnKtimeGetCoarseNs: true,
	asm.FnTracePrintk: true, asm.FnGetPrandomU32: true, asm.FnGetSmpProcessorId: true, asm.FnGetNumaNodeId: true,
	asm.FnSkbStoreBytes: true, asm.FnL3CsumReplace: true, asm.FnL4CsumReplace: true, asm.FnCsumDiff: true,
	asm.FnCsumUpdate: true, asm.FnCsumLevel: true, asm.FnRedirect: true, asm.FnRedirectMap: true,
	asm.FnXdpAdjustHead: true, asm.FnXdpAdjustMeta: true, asm.FnXdpAdjustTail: true,
	asm.FnSkbChangeTail: true, asm.FnSkbChangeHead: true, asm.FnSkbAdjustRoom: true, asm.FnSkbChangeProto: true,
	asm.FnSkbChangeType: true, asm.FnSkbVlanPush: true, asm.FnSkbVlanPop: true, asm.FnSkbPullData: true,
	asm.FnGetHashRecalc: true, asm.FnSetHash: true, asm.FnSetHashInvalid: true, asm.FnGetSocketCookie: true,
	asm.FnSkbCgroupId: true, asm.FnXdpGetBuffLen: true, asm.FnXdpStoreBytes: true,
}

// mayWriteMemory reports whether the program can write memory other than
// its stack, and so possibly a map: a store or atomic through any register
// but the frame pointer, a helper outside readOnlyHelpers, a kfunc or a
// tail call. It is a heuristic on the safe side: a store to the packet or
// the context counts too, since telling them apart needs the verifier's
// register types.
func mayWriteMemory(insns asm.Instructions) bool {
	for _, ins := range insns {
		switch {
		case ins.IsBuiltinCall():
			if !readOnlyHelpers[asm.BuiltinFunc(ins.Constant)] {
				return true
			}
		case ins.IsKfuncCall():
			return true
		}
		switch ins.OpCode.Class() {
		case asm.StClass, asm.StXClass:
			if ins.Dst != asm.R10 {
				return true
			}
		}
	}
	return false
}

// loadOptions returns opts with a Rewrite step (after the user's, before
// coverage instrumentation) that records the instructions of every program
// loaded (the target and the programs its prog arrays hold) into insns,
// and, with mmapable, creates the plain arrays with BPF_F_MMAPABLE so that
// restoring them needs no syscall. Pinned maps and read-only data keep
// their flags, and so do all maps when the options pin (a pinned map must
// keep its flags).
func loadOptions(opts *bpf.Options, mmapable bool, insns *[]asm.Instructions) *bpf.Options {
	var o bpf.Options
	if opts != nil {
		o = *opts
	}
	mmapable = mmapable && o.PinPath == ""
	user := o.Rewrite
	o.Rewrite = func(s *ebpf.CollectionSpec, programs []string) error {
		if user != nil {
			if err := user(s, programs); err != nil {
				return err
			}
		}
		*insns = (*insns)[:0]
		for _, name := range programs {
			if ps := s.Programs[name]; ps != nil {
				*insns = append(*insns, ps.Instructions)
			}
		}
		for name, ms := range s.Maps {
			if !mmapable || ms.Type != ebpf.Array || ms.Pinning != ebpf.PinNone ||
				strings.HasPrefix(name, ".rodata") || name == ".kconfig" || ms.Flags&unix.BPF_F_RDONLY_PROG != 0 {
				continue
			}
			ms.Flags |= unix.BPF_F_MMAPABLE
		}
		return nil
	}
	return &o
}

// maxBatchBytes caps the buffers of a batch restore; bigger maps are
// restored entry by entry.
const maxBatchBytes = 16 << 20

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
			s.close()
			return nil, fmt.Errorf("map %s: per-CPU maps cannot be restored yet; remove it from the run or open an issue", name)
		}
		it := m.Iterate()
		var k, v []byte
		for it.Next(&k, &v) {
			ms.keys = append(ms.keys, append([]byte(nil), k...))
			ms.values = append(ms.values, append([]byte(nil), v...))
		}
		if err := it.Err(); err != nil {
			s.close()
			return nil, fmt.Errorf("snapshot map %s: %w", name, err)
		}
		ms.prepare()
		s.maps = append(s.maps, ms)
	}
	return s, nil
}

// prepare sets up the cheapest restore the map allows.
func (ms *mapState) prepare() {
	m := ms.m
	if ms.array && m.Flags()&unix.BPF_F_MMAPABLE != 0 {
		size := int((m.ValueSize()+7)&^7) * int(m.MaxEntries())
		page := os.Getpagesize()
		mem, err := unix.Mmap(m.FD(), 0, (size+page-1)/page*page, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
		if err == nil {
			ms.mem = mem[:size]
			ms.saved = bytes.Clone(ms.mem)
			return
		}
	}
	switch m.Type() {
	case ebpf.Array, ebpf.Hash, ebpf.LRUHash:
	default:
		return
	}
	ms.keySize, ms.valueSize = int(m.KeySize()), int(m.ValueSize())
	n := int(m.MaxEntries())
	if n == 0 || n*(ms.keySize+ms.valueSize) > maxBatchBytes {
		return
	}
	ms.curKeys = make([]byte, n*ms.keySize)
	ms.curValues = make([]byte, n*ms.valueSize)
	ms.stale = make([]byte, 0, n*ms.keySize)
	ms.index = make(map[string]int, len(ms.keys))
	for i, k := range ms.keys {
		ms.index[string(k)] = i
		ms.savedKeys = append(ms.savedKeys, k...)
		ms.savedVals = append(ms.savedVals, ms.values[i]...)
	}
	// Batch operations need Linux 5.6 (arrays and hash maps); use them
	// only if a lookup works here.
	if _, err := ms.lookupBatch(); err == nil {
		ms.batch = true
	}
}

// restore writes the snapshot back.
func (s *snapshot) restore() error {
	for i := range s.maps {
		ms := &s.maps[i]
		var err error
		switch {
		case ms.mem != nil:
			if !bytes.Equal(ms.mem, ms.saved) {
				copy(ms.mem, ms.saved)
			}
		case ms.batch:
			if err = ms.restoreBatch(); err != nil {
				// Whatever the kernel did not like about the batch, the
				// entry by entry restore still works.
				ms.batch = false
				err = ms.restoreSlow()
			}
		default:
			err = ms.restoreSlow()
		}
		if err != nil {
			return fmt.Errorf("restore map %s: %w", ms.name, err)
		}
	}
	return nil
}

// restoreBatch reads the map in one batch and writes it back only if it
// differs from the snapshot.
func (ms *mapState) restoreBatch() error {
	n, err := ms.lookupBatch()
	if err != nil {
		return err
	}
	ks, vs := ms.keySize, ms.valueSize
	dirty := n != len(ms.keys)
	ms.stale = ms.stale[:0]
	for j := range n {
		k := ms.curKeys[j*ks : (j+1)*ks]
		i, ok := ms.index[string(k)]
		if !ok {
			ms.stale = append(ms.stale, k...)
			dirty = true
			continue
		}
		if !bytes.Equal(ms.curValues[j*vs:(j+1)*vs], ms.values[i]) {
			dirty = true
		}
	}
	if !dirty {
		return nil
	}
	if len(ms.stale) > 0 {
		if err := ms.batchOp(cmdMapDeleteBatch, ms.stale, nil, len(ms.stale)/ks); err != nil {
			return err
		}
	}
	if len(ms.keys) > 0 {
		return ms.batchOp(cmdMapUpdateBatch, ms.savedKeys, ms.savedVals, len(ms.keys))
	}
	return nil
}

// restoreSlow is the restore for maps without batch operations: arrays
// value by value, hash maps by deleting keys added since and writing the
// saved entries.
func (ms *mapState) restoreSlow() error {
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
				return err
			}
		}
	}
	for j := range ms.keys {
		if err := ms.m.Update(ms.keys[j], ms.values[j], ebpf.UpdateAny); err != nil {
			return err
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

// mapBatchAttr is union bpf_attr's batch member (BPF_MAP_*_BATCH).
type mapBatchAttr struct {
	inBatch   uint64
	outBatch  uint64
	keys      uint64
	values    uint64
	count     uint32
	mapFD     uint32
	elemFlags uint64
	flags     uint64
}

const (
	cmdMapLookupBatch = 24 // BPF_MAP_LOOKUP_BATCH
	cmdMapUpdateBatch = 26 // BPF_MAP_UPDATE_BATCH
	cmdMapDeleteBatch = 27 // BPF_MAP_DELETE_BATCH
)

// lookupBatch reads the whole map into curKeys and curValues in one call
// (the buffers hold max_entries) and returns how many entries it read.
func (ms *mapState) lookupBatch() (int, error) {
	a := mapBatchAttr{
		outBatch: uint64(uintptr(unsafe.Pointer(&ms.cursor[0]))),
		keys:     uint64(uintptr(unsafe.Pointer(&ms.curKeys[0]))),
		values:   uint64(uintptr(unsafe.Pointer(&ms.curValues[0]))),
		count:    uint32(len(ms.curKeys) / ms.keySize),
		mapFD:    uint32(ms.m.FD()),
	}
	errno := batchSyscall(cmdMapLookupBatch, &a)
	// ENOENT: the lookup reached the end of the map, which it always does
	// here; the entries read so far are valid.
	if errno != 0 && errno != syscall.ENOENT {
		return 0, fmt.Errorf("batch lookup: %w", errno)
	}
	return int(a.count), nil
}

func (ms *mapState) batchOp(cmd uintptr, keys, values []byte, n int) error {
	a := mapBatchAttr{keys: uint64(uintptr(unsafe.Pointer(&keys[0]))), count: uint32(n), mapFD: uint32(ms.m.FD())}
	if values != nil {
		a.values = uint64(uintptr(unsafe.Pointer(&values[0])))
	}
	if errno := batchSyscall(cmd, &a); errno != 0 {
		return fmt.Errorf("batch update or delete: %w", errno)
	}
	return nil
}

// batchSyscall issues a map batch command. The buffers a points to are
// fields of a live mapState, kept alive by the caller.
func batchSyscall(cmd uintptr, a *mapBatchAttr) syscall.Errno {
	_, _, errno := unix.Syscall(unix.SYS_BPF, cmd, uintptr(unsafe.Pointer(a)), unsafe.Sizeof(*a))
	return errno
}

// close unmaps the mapped arrays.
func (s *snapshot) close() {
	if s == nil {
		return
	}
	for i := range s.maps {
		if s.maps[i].mem != nil {
			unix.Munmap(s.maps[i].mem[:cap(s.maps[i].mem)])
			s.maps[i].mem = nil
		}
	}
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
