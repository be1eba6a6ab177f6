package fuzz

import (
	"bufio"
	"debug/elf"
	"os"
	"strconv"
	"strings"
	"sync"
	"unsafe"
)

// goCounters returns Go's own coverage counters under go test -fuzz: the
// 8-bit edge counters the compiler's libfuzzer instrumentation keeps in the
// test binary's .go.fuzzcntrs section, which Go's engine reads after every
// call of the fuzz function. nil when the binary has none (not built for
// fuzzing) or they cannot be found.
//
// Target.Fuzz clears them after each execution and only then feeds the BPF
// blocks, so that Go keeps an input for new BPF coverage alone. Without
// that, the harness's own Go code (the mutator, packet parsing, oracles)
// counts as coverage: measured on xdp_deep, about 160 of Go's "new
// interesting" inputs in 30 s with BPF coverage off, all from Go paths,
// which bury the few that reach a new BPF block.
var goCounters = sync.OnceValue(func() []byte {
	f, err := elf.Open("/proc/self/exe")
	if err != nil {
		return nil
	}
	defer f.Close()
	s := f.Section(".go.fuzzcntrs")
	if s == nil || s.Size == 0 {
		return nil
	}
	maps, err := readMaps()
	if err != nil {
		return nil
	}
	addr := uintptr(s.Addr)
	if f.Type == elf.ET_DYN {
		// A position-independent binary: add where it was loaded.
		base, ok := maps.base()
		if !ok {
			return nil
		}
		addr += base
	}
	// Clearing the wrong memory would be far worse than not clearing:
	// the section must lie in one writable mapping.
	if !maps.writable(addr, uintptr(s.Size)) {
		return nil
	}
	// The section is static memory of the binary, never moved or freed:
	// turning its address into a pointer is safe.
	p := *(*unsafe.Pointer)(unsafe.Pointer(&addr))
	return unsafe.Slice((*byte)(p), int(s.Size))
})

// mapping is one line of /proc/self/maps.
type mapping struct {
	start, end, offset uintptr
	perms, path        string
}

type mappings []mapping

func readMaps() (mappings, error) {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return nil, err
	}
	m, err := os.Open("/proc/self/maps")
	if err != nil {
		return nil, err
	}
	defer m.Close()
	var ms mappings
	sc := bufio.NewScanner(m)
	for sc.Scan() {
		// 00400000-00452000 r-xp 00000000 fd:01 12345 /path/to/exe
		f := strings.Fields(sc.Text())
		if len(f) < 5 {
			continue
		}
		lo, hi, _ := strings.Cut(f[0], "-")
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		off, err3 := strconv.ParseUint(f[2], 16, 64)
		if err1 != nil || err2 != nil || err3 != nil {
			continue
		}
		path := ""
		if len(f) >= 6 {
			path = f[5]
		}
		if path != "" && path != exe {
			continue // another file's mapping
		}
		ms = append(ms, mapping{uintptr(start), uintptr(end), uintptr(off), f[1], path})
	}
	return ms, sc.Err()
}

// base is the address the executable's first mapping (file offset 0)
// starts at.
func (ms mappings) base() (uintptr, bool) {
	for _, m := range ms {
		if m.path != "" && m.offset == 0 {
			return m.start, true
		}
	}
	return 0, false
}

// writable reports whether [addr, addr+n) lies in one writable mapping of
// the executable (or an anonymous one, where a large .bss continues).
func (ms mappings) writable(addr, n uintptr) bool {
	for _, m := range ms {
		if addr >= m.start && addr+n <= m.end {
			return strings.HasPrefix(m.perms, "rw")
		}
	}
	return false
}
