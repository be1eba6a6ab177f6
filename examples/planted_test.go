package examples_test

import (
	"testing"

	"github.com/bpffuzz/bpffuzz/fuzz"
)

// Fuzz targets for the planted bugs of planted.c, seeded with ordinary
// traffic that triggers none of them. Without -fuzz they run the seeds,
// which pass. scripts/bench-findings.sh runs them with -fuzz, with BPF
// coverage and without (BPFFUZZ_NO_COVERAGE=1).

func planted(program string) *fuzz.Target {
	return &fuzz.Target{Object: "planted.o", Program: program, Seeds: fuzz.Pcap("testdata/sample.pcapng")}
}

// FuzzTLV is the deepest planted bug: a dozen conditions in a row.
func FuzzTLV(f *testing.F)  { planted("xdp_tlv").Fuzz(f) }
func FuzzDeep(f *testing.F) { planted("xdp_deep").Fuzz(f) }
func FuzzCsum(f *testing.F) { planted("tc_csum").Fuzz(f) }
func FuzzTrim(f *testing.F) { planted("xdp_trim").Fuzz(f) }
func FuzzMark(f *testing.F) { planted("tc_mark").Fuzz(f) }

// FuzzSample needs the determinism oracle: its bug is state.
func FuzzSample(f *testing.F) {
	t := planted("xdp_sample")
	t.Deterministic = true
	t.Fuzz(f)
}
