package cover

import "bytes"

//go:generate go run ./internal/genbridge -slots 4096 -o bridge_gen.go

// bridgeSink is what the generated cases increment, so that no case body
// is empty.
var bridgeSink uint64

// Feed makes the blocks recorded in hits visible to Go's coverage-guided
// fuzzer: for every block that ran, a distinct generated switch case runs,
// and under `go test -fuzz` each case has its own edge counter, so an input
// that reaches a new BPF block counts as new coverage and is kept.
//
// hits is a coverage map as Map.Hits returns it (byte i is 1 when block i
// ran). Blocks with IDs of Slots or more share slots modulo Slots: a
// heuristic that loses some signal on very large programs, never makes up
// any. Outside fuzzing Feed costs a scan of hits (bytes.IndexByte, not
// instrumented) plus a jump per block that ran.
func Feed(hits []byte) {
	for off := 0; off < len(hits); {
		i := bytes.IndexByte(hits[off:], 1)
		if i < 0 {
			return
		}
		feedSlot((off + i) % Slots)
		off += i + 1
	}
}
