package fuzz

import (
	"os/exec"
	"slices"
	"testing"
)

// FuzzGoCounters checks, when it is fuzzing, that goCounters found Go's
// own counters: after clearing them, running a few branches lights some up
// again (had it found other memory, nothing would). TestGoCounters runs it
// under go test -fuzz.
func FuzzGoCounters(f *testing.F) {
	f.Add([]byte("seed"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if !isFuzzing() {
			return
		}
		c := goCounters()
		if c == nil {
			t.Fatal("goCounters: no .go.fuzzcntrs section found in a binary built for fuzzing")
		}
		clear(c)
		n := 0
		for _, v := range b {
			if v&1 == 0 {
				n++
			}
		}
		if n > len(b) {
			t.Fatal("unreachable")
		}
		if !slices.ContainsFunc(c, func(v byte) bool { return v != 0 }) {
			t.Fatalf("goCounters: %d bytes stay zero while Go code runs: not Go's counters", len(c))
		}
	})
}

func TestGoCounters(t *testing.T) {
	if goCounters() != nil {
		t.Fatal("goCounters found counters in a test binary not built for fuzzing")
	}
	if testing.Short() {
		t.Skip("builds the package for fuzzing (-short skips it)")
	}
	gotool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("needs the go command to build a fuzzing binary (not in PATH)")
	}
	cmd := exec.Command(gotool, "test", "-run", "^$", "-fuzz", "^FuzzGoCounters$", "-fuzztime", "200x",
		"-parallel", "1", "-test.fuzzcachedir", t.TempDir(), ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go test -fuzz FuzzGoCounters: %v\n%s", err, out)
	}
}
