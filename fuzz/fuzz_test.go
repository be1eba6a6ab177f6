package fuzz

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bpffuzz/bpffuzz/bpf"
	"github.com/bpffuzz/bpffuzz/corpus"
	"github.com/bpffuzz/bpffuzz/internal/kerneltest"
)

var sample = Pcap("../examples/testdata/sample.pcapng")

// parser is the example parser as a fuzz target; it has no planted bug, so
// every oracle must stay quiet on it.
var parser = Target{Object: "../examples/xdp_parser.o", Program: "xdp_parser", Seeds: sample}

func FuzzParser(f *testing.F) { parser.Fuzz(f) }

var rewrite = Target{Object: "../examples/tc_rewrite.o", Program: "tc_rewrite", Seeds: sample}

func FuzzRewrite(f *testing.F) { rewrite.Fuzz(f) }

func TestReplayQuiet(t *testing.T) {
	kerneltest.Skip(t)
	seeds, err := sample()
	if err != nil {
		t.Fatal(err)
	}
	for _, tg := range []*Target{&parser, &rewrite} {
		out, prof, err := tg.Replay(seeds)
		if err != nil {
			t.Fatal(err)
		}
		for i, o := range out {
			if o.Finding != "" {
				t.Errorf("%s seed %d: false finding: %s", tg.Program, i, o.Finding)
			}
		}
		if prof == nil || prof.Summary().BlocksHit == 0 {
			t.Errorf("%s: no coverage from the seeds", tg.Program)
		}
	}
}

// TestEngineFindsPlanted runs the in-process engine on planted bugs that
// need the context mutated (tc_mark) or the determinism oracle's runs
// without a map reset (xdp_sample), and checks the finding's files.
func TestEngineFindsPlanted(t *testing.T) {
	kerneltest.Skip(t)
	for _, tc := range []struct {
		program, oracle string
		deterministic   bool
		report          []string
	}{
		{"tc_mark", "retval", false, []string{"context in", "Mark:"}},
		{"xdp_sample", "determinism", true, []string{"without a map reset", "layers  Ethernet / IPv4"}},
	} {
		t.Run(tc.program, func(t *testing.T) {
			dir := t.TempDir()
			t.Setenv("BPFFUZZ_FINDINGS", filepath.Join(dir, "findings"))
			tg := &Target{Object: "../examples/planted.o", Program: tc.program, Seeds: sample, Deterministic: tc.deterministic}
			st, err := tg.Run(context.Background(), EngineOptions{Workers: 1, Duration: 60 * time.Second, CorpusDir: filepath.Join(dir, "corpus"), Seed: 1})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%d execs in %s (%.0f/s), corpus %d, blocks %d/%d", st.Execs, st.Elapsed, st.ExecsPerSec, st.Corpus, st.BlocksHit, st.BlocksTotal)
			if len(st.Findings) != 1 || !strings.HasSuffix(st.Findings[0], tc.oracle) {
				t.Fatalf("findings %v, want one by %s", st.Findings, tc.oracle)
			}
			fdir := st.Findings[0]
			report, err := os.ReadFile(filepath.Join(fdir, "report.txt"))
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range append([]string{tc.program, tc.oracle, "bpffuzz replay"}, tc.report...) {
				if !strings.Contains(string(report), want) {
					t.Errorf("report lacks %q:\n%s", want, report)
				}
			}
			if _, err := os.Stat(filepath.Join(fdir, "packets.pcapng")); err != nil {
				t.Error(err)
			}
			// The finding's input replays to the same finding, without the mutator.
			entries, errs := corpus.ReadDir(fdir)
			if len(errs) != 0 || len(entries) != 1 {
				t.Fatalf("finding dir entries: %v, %v", entries, errs)
			}
			out, _, err := tg.Replay(entries)
			if err != nil || out[0].Finding == "" {
				t.Fatalf("replay: %v %+v", err, out)
			}
		})
	}
}

func TestInputSkipped(t *testing.T) {
	kerneltest.Skip(t)
	out, _, err := parser.Replay([]corpus.Entry{{Packet: make([]byte, 5)}})
	if err != nil || !out[0].Skipped {
		t.Fatalf("a 5-byte XDP packet: %+v, %v", out, err)
	}
}

var _ = bpf.XDPContext{}

// TestReplaySplicesSeeds checks that with seeds an entry replays the same
// in any corpus: its splices read the seeds' packets, as under go test, not
// the packets of the entries it is replayed with.
func TestReplaySplicesSeeds(t *testing.T) {
	kerneltest.Skip(t)
	seeds, err := sample()
	if err != nil {
		t.Fatal(err)
	}
	var all []corpus.Entry
	for v := uint32(1); v <= 2000; v++ {
		ops := []byte{0xff, byte(v), byte(v >> 8), byte(v >> 16), byte(v >> 24)}
		all = append(all, corpus.Entry{Packet: seeds[int(v)%len(seeds)].Packet, Ops: ops})
	}
	var some []corpus.Entry
	for i := len(all) - 1; i >= 0; i -= 7 {
		some = append(some, all[i])
	}
	input := func(tg Target, entries []corpus.Entry) map[string][]byte {
		t.Helper()
		out, _, err := tg.Replay(entries)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string][]byte{}
		for i, o := range out {
			m[string(entries[i].Packet)+string(entries[i].Ops)] = o.Input
		}
		return m
	}
	tg := Target{Object: "../examples/xdp_parser.o", Program: "xdp_parser", Seeds: sample}
	full, part := input(tg, all), input(tg, some)
	tg.Seeds = Packets() // no packets to splice from
	alone := input(tg, some)
	spliced := 0
	for k, p := range part {
		if !bytes.Equal(p, full[k]) {
			t.Fatalf("entry % x: replayed among %d entries % x, among %d % x", k, len(all), full[k], len(some), p)
		}
		if !bytes.Equal(p, alone[k]) {
			spliced++
		}
	}
	if spliced == 0 {
		t.Errorf("none of %d entries spliced a seed's packet in", len(some))
	}
	t.Logf("%d of %d entries spliced", spliced, len(some))
}
