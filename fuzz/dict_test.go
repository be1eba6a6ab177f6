package fuzz

import "testing"

// TestDictionaryFromProgramAsWritten: the mutator's dictionary reads the
// program as written, not the instrumented one, whose probes cut its
// straight-line code (xdp_tlv's loaded-and-compared fields went from 29 to
// 1 before).
func TestDictionaryFromProgramAsWritten(t *testing.T) {
	var n [2]int
	for i, noCov := range []bool{false, true} {
		tg := &Target{Object: "../examples/planted.o", Program: "xdp_tlv", NoCoverage: noCov}
		x := benchExecutor(t, tg.Object, tg.Program, noCov)
		if !noCov && x.cov.Cover == nil {
			t.Fatal("xdp_tlv runs uninstrumented")
		}
		n[i] = len(x.mut.Dict().Fields)
	}
	if n[0] != n[1] || n[0] < 10 {
		t.Errorf("dictionary fields: %d instrumented, %d uninstrumented; want the same, at least 10", n[0], n[1])
	}
}
