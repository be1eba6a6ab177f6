package fuzz

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unsafe"

	"github.com/bpffuzz/bpffuzz/bpf"
	"github.com/bpffuzz/bpffuzz/corpus"
	"github.com/bpffuzz/bpffuzz/cover"
	"github.com/bpffuzz/bpffuzz/internal/kerneltest"
	"github.com/bpffuzz/bpffuzz/mutate"
	"github.com/bpffuzz/bpffuzz/oracle"
)

// Check is a user-written check of one run: it returns an error when the
// program did something wrong.
type Check func(in bpf.Input, res bpf.Result) error

// Target is one program to fuzz and how.
//
//	var target = fuzz.Target{Object: "testdata/fw.o", Program: "xdp_fw", Seeds: fuzz.Pcap("testdata/traffic.pcap")}
//	func FuzzFirewall(f *testing.F) { target.Fuzz(f) }
//
// The zero value of every optional field is a sensible default.
type Target struct {
	// Object is the ELF object's path; Program the program's name in it.
	Object, Program string
	// Options set variables, fill maps and wire prog arrays before load.
	Options *bpf.Options
	// Seeds are the inputs to start from, besides the corpus in
	// testdata/fuzz/<FuzzName>.
	Seeds Seeds
	// Oracles check every run; nil means oracle.Default().
	Oracles []oracle.Oracle
	// Checks are the target's own checks, reported as oracle "check".
	Checks []Check
	// Reference, if set, is a model of the program in Go: its verdict for
	// an input must equal the program's return value (differential
	// testing, reported as oracle "reference").
	Reference func(in bpf.Input) uint32
	// MapChecks see the maps before and after every run.
	MapChecks []oracle.MapCheck
	// Deterministic asks for every run to be repeated and compared (for
	// programs meant to be stateless): once after the same restored map
	// state, then 15 more times without a restore, so that state kept in
	// maps or globals between runs shows.
	Deterministic bool
	// NoCoverage runs the program uninstrumented: Go's fuzzer then sees no
	// BPF coverage. BPFFUZZ_NO_COVERAGE=1 in the environment does the same
	// for every target (to measure what coverage feedback is worth).
	NoCoverage bool
	// KeepGoCoverage lets go test -fuzz also count the coverage of the
	// harness's own Go code (mutator, oracles, checks) as new. By default,
	// when the program is instrumented, Go's engine sees the BPF blocks
	// alone: the harness's paths would otherwise flood its corpus.
	KeepGoCoverage bool
	// Mutate tunes the structure-aware mutator.
	Mutate mutate.Options

	loaded *bpf.Program // the last program loaded, for its type
}

// Seeds produces seed entries.
type Seeds func() ([]corpus.Entry, error)

// Pcap seeds from every packet of pcap and pcapng files.
func Pcap(paths ...string) Seeds {
	return func() ([]corpus.Entry, error) {
		var out []corpus.Entry
		for _, p := range paths {
			c, err := corpus.ReadFile(p)
			if err != nil {
				return nil, err
			}
			for _, pkt := range c.Packets {
				out = append(out, corpus.Entry{Packet: pkt.Data})
			}
		}
		return out, nil
	}
}

// Packets seeds from packets given in Go.
func Packets(pkts ...[]byte) Seeds {
	return func() ([]corpus.Entry, error) {
		out := make([]corpus.Entry, len(pkts))
		for i, p := range pkts {
			out[i] = corpus.Entry{Packet: p}
		}
		return out, nil
	}
}

// Fuzz runs the target under go test: seeds and the corpus as subtests,
// and with -fuzz, Go's engine steered by the BPF program's coverage.
//
// The program is loaded once per process (the coordinator and every fuzz
// worker). Without privilege the fuzz test is skipped, or fails when
// BPFFUZZ_REQUIRE_KERNEL=1 or CI=true.
func (t *Target) Fuzz(f *testing.F) {
	f.Helper()
	kerneltest.Skip(f)
	x, err := t.newExecutor(fuzzName(f))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(x.close)
	if x.fallback != "" {
		f.Logf("bpffuzz: %s: %s", t.Program, x.fallback)
	}
	fuzzing := isFuzzing()
	if t.Seeds != nil {
		seeds, err := t.Seeds()
		if err != nil {
			f.Fatal(err)
		}
		x.setPeers(seeds)
		var all []corpus.Entry
		for _, s := range seeds {
			if fuzzing && len(s.Ops) == 0 {
				// Go's mutators change the bytes a value has far more
				// often than they grow an empty one: the seed goes in
				// with empty mutation slots, each of which a change by
				// Go's engine fills with one mutation.
				s.Ops = x.neutralOps()
			}
			all = append(all, s)
		}
		if fuzzing {
			all = x.distill(all)
		}
		for _, s := range all {
			f.Add(string(s.Packet), string(s.Context), string(s.Ops))
		}
	}
	if fuzzing {
		noGoMinimize()
	}
	var counters []byte
	if fuzzing && x.cov != nil && x.cov.Cover != nil && !t.KeepGoCoverage {
		counters = goCounters()
	}
	if err := checkCorpusForm(filepath.Join("testdata", "fuzz", fuzzName(f))); err != nil {
		f.Fatal(err)
	}
	// Strings, not []byte: Go's mutator keeps every []byte argument it
	// mutates in one scratch buffer, so that in a chain of mutations a
	// mutation of one []byte argument overwrites another (the packet then
	// holds the ops, or the ops the packet: internal/fuzz mutator.go, Go
	// 1.26). A string argument is copied out of it. The executor only reads
	// the bytes.
	f.Fuzz(func(tt *testing.T, packet, ctx, ops string) {
		e := corpus.Entry{Packet: bytesOf(packet), Context: bytesOf(ctx), Ops: bytesOf(ops)}
		fd, err := x.execute(e)
		// Go's engine sees the BPF blocks this input took (and, with
		// KeepGoCoverage, the harness's own Go paths).
		clear(counters)
		if err == nil && x.hits != nil {
			cover.Feed(x.hits)
		}
		if errors.Is(err, errSkip) {
			tt.Skip()
		}
		if err != nil {
			tt.Fatal(err)
		}
		if fd == nil {
			return
		}
		// While Go's engine minimizes a failure it runs the target many
		// times; the finding directory is per oracle and rewritten, so the
		// last (smallest) failing input is what stays.
		dir, werr := x.writeFinding(fd, !fuzzing)
		if werr != nil {
			tt.Logf("bpffuzz: could not write the finding: %v", werr)
		}
		tt.Fatalf("%s\nfinding written to %s", fd.Report, dir)
	})
}

// distill keeps, for fuzzing, the seeds that reach BPF blocks or edges no
// earlier seed reached, and those that fail. Go's engine gives every
// corpus entry the same share of its time, round robin: seeds that only
// repeat another seed's path would take that time from the entries that
// reach deeper. Without coverage every seed stays. (Without -fuzz every
// seed runs, as a test.)
func (x *executor) distill(seeds []corpus.Entry) []corpus.Entry {
	if x.cov == nil || x.cov.Cover == nil {
		return seeds
	}
	var seen []byte
	var out []corpus.Entry
	for _, s := range seeds {
		fd, err := x.execute(s)
		if err != nil || fd != nil || x.hits == nil {
			out = append(out, s) // Go's engine reports it in its first pass
			continue
		}
		if seen == nil {
			seen = make([]byte, len(x.hits))
		}
		if newBlocks(x.hits, seen) {
			out = append(out, s)
			for i, h := range x.hits {
				seen[i] |= h
			}
		}
	}
	return out
}

// setPeers makes the packets of from what splice mutations read: the
// seeds under go test (and in Replay when the target has seeds, so that an
// entry with ops makes the same packet in any corpus it is in), the
// starting corpus in the engine and in corpus tools.
func (x *executor) setPeers(from []corpus.Entry) {
	x.peers = x.peers[:0]
	for _, e := range from {
		x.peers = append(x.peers, e.Packet)
	}
}

// bytesOf is s as a byte slice, without a copy; it must not be written.
func bytesOf(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// checkCorpusForm fails when the fuzz test's corpus directory holds files
// of []byte values, which bpffuzz wrote before Target.Fuzz took strings:
// Go's engine would stop at the first with "mismatched types". The entries
// are not lost: bpffuzz reads both forms, and merge rewrites them.
func checkCorpusForm(dir string) error {
	names, err := os.ReadDir(dir)
	if err != nil {
		return nil // no corpus yet, or Go's own reader says why
	}
	var old []string
	for _, n := range names {
		data, err := os.ReadFile(filepath.Join(dir, n.Name()))
		if err != nil {
			continue
		}
		if f, err := corpus.ParseFile(data); err == nil && f.Bytes {
			old = append(old, n.Name())
		}
	}
	if len(old) == 0 {
		return nil
	}
	return fmt.Errorf("bpffuzz: %d files in %s hold []byte values (%s...), the form bpffuzz wrote before fuzz targets took strings; "+
		"go test takes only strings now. Rewrite them, keeping every entry:\n"+
		"\tbpffuzz merge %s --out %s.new && rm -r %s && mv %s.new %s",
		len(old), dir, old[0], dir, dir, dir, dir, dir)
}

// neutralOps are ops that change nothing: checksums fixed, every mutation
// slot empty, and a few context decisions that keep the seed's context.
func (x *executor) neutralOps() []byte {
	ops := make([]byte, x.mut.PacketDecisions()+4)
	ops[0] = 0xff
	return ops
}

func fuzzName(f *testing.F) string {
	name := f.Name()
	if i := strings.IndexByte(name, '/'); i >= 0 {
		name = name[:i]
	}
	return name
}

// isFuzzing reports whether this test binary runs with -test.fuzz.
func isFuzzing() bool {
	fl := flag.Lookup("test.fuzz")
	return fl != nil && fl.Value.String() != ""
}

// noGoMinimize turns off Go's minimization of new inputs, unless the user
// asked for it with -fuzzminimizetime. Go's minimizer keeps what its
// coverage sees and rewrites the rest of each byte string to '0': a packet
// that reached a new BPF block comes back as an Ethernet type followed by
// '0' bytes, which the structure-aware mutator can no longer take further.
// (Measured on xdp_deep: after 90 s every corpus entry Go kept was such a
// husk.) Findings are minimized by bpffuzz minimize instead, which keeps
// the oracle that fired.
func noGoMinimize() {
	set := false
	flag.Visit(func(f *flag.Flag) {
		set = set || f.Name == "test.fuzzminimizetime"
	})
	if !set && flag.Lookup("test.fuzzminimizetime") != nil {
		_ = flag.Set("test.fuzzminimizetime", "0")
	}
}

// findingsDir is where findings go: BPFFUZZ_FINDINGS, or
// testdata/findings/<name> in the package directory.
func findingsDir(name string) string {
	if d := os.Getenv("BPFFUZZ_FINDINGS"); d != "" {
		return filepath.Join(d, name)
	}
	return filepath.Join("testdata", "findings", name)
}
