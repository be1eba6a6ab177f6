package examples_test

import (
	"testing"

	"github.com/bpffuzz/bpffuzz/fuzz"
)

// FuzzTLV fuzzes the deepest planted bug (xdp_tlv in planted.c) from
// ordinary traffic, none of which reaches it. Without -fuzz it runs the
// seeds, which pass. scripts/bench-findings.sh runs it with -fuzz, with BPF
// coverage and without (BPFFUZZ_NO_COVERAGE=1), to measure what the
// coverage feedback is worth.
func FuzzTLV(f *testing.F) {
	t := fuzz.Target{Object: "planted.o", Program: "xdp_tlv", Seeds: fuzz.Pcap("testdata/sample.pcapng")}
	t.Fuzz(f)
}
