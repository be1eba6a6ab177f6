package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"

	"github.com/bpffuzz/bpffuzz/corpus"
	"github.com/bpffuzz/bpffuzz/cover"
	"github.com/bpffuzz/bpffuzz/fuzz"
)

const coverUsage = `Usage: bpffuzz cover OBJECT PROGRAM FILE|DIR... [--html FILE] [--json] [--uncovered] [--maps FILE] [--seed PCAP]

Runs corpus entries (go test fuzz v1 files, or directories of them such as
testdata/fuzz/FuzzX) through the instrumented program and reports the BPF
program's own coverage: basic blocks and source lines (from the object's BTF
line info), in total and per function.

  --html FILE    write a page of the C source with covered lines in green and
                 uncovered ones in red (sources are looked up beside OBJECT)
  --json         print the summary as JSON: blocks_hit, blocks_total,
                 block_percent, lines_hit, lines_total, line_percent, and the
                 same per function
  --uncovered    also list the source lines no entry executed
  --maps FILE    map and variable setup, as for bpffuzz fuzz
  --seed PCAP    the packets the entries' splice mutations read, as the fuzz
                 target's seeds (repeatable): a go test corpus replays as go
                 test ran it only with the same seeds as fuzz.Pcap gave it

Blocks the instrumentation could not probe (a program near the verifier's
limits loads in a lighter mode) are not counted, and the summary says how
many there are.
`

// coverCmd replays a corpus with coverage and reports it.
func coverCmd(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("cover", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "")
	htmlOut := fs.String("html", "", "")
	uncovered := fs.Bool("uncovered", false, "")
	mapsFile := fs.String("maps", "", "")
	var seeds multiFlag
	fs.Var(&seeds, "seed", "")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) < 3 {
		return usagef("cover takes OBJECT, PROGRAM and corpus files or directories")
	}
	t := &fuzz.Target{Object: pos[0], Program: pos[1]}
	if len(seeds) > 0 {
		t.Seeds = fuzz.Pcap(seeds...)
	}
	if *mapsFile != "" {
		if t.Options, err = readSetup(*mapsFile); err != nil {
			return err
		}
	}
	entries, _, err := readEntries(pos[2:], stderr)
	if err != nil {
		return err
	}
	if len(entries) == 0 {
		return fmt.Errorf("no corpus entries in %v: seed a corpus first (bpffuzz seed, or bpffuzz fuzz --corpus DIR)", pos[2:])
	}
	noteSplices(stderr, entries, len(seeds) > 0)
	_, prof, err := t.Replay(entries)
	if err != nil {
		return err
	}
	if prof == nil {
		return errors.New("the program could not be instrumented, so there is no coverage to report (bpffuzz fuzz prints why)")
	}
	if *htmlOut != "" {
		var page bytes.Buffer
		title := fmt.Sprintf("%s %s: %d entries", filepath.Base(pos[0]), pos[1], len(entries))
		if err := prof.WriteHTML(&page, title, filepath.Dir(pos[0])); err != nil {
			return err
		}
		if err := corpus.WriteFileAtomic(*htmlOut, page.Bytes()); err != nil {
			return err
		}
	}
	if *asJSON {
		out := struct {
			cover.Summary
			Uncovered []cover.Line `json:"uncovered_lines,omitempty"`
		}{Summary: prof.Summary()}
		if *uncovered {
			out.Uncovered = prof.Uncovered()
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	if err := prof.WriteText(stdout); err != nil {
		return err
	}
	if *uncovered {
		for _, l := range prof.Uncovered() {
			fmt.Fprintf(stdout, "uncovered %s:%d  %s\n", l.File, l.Line, l.Text)
		}
	}
	if *htmlOut != "" {
		fmt.Fprintf(stdout, "wrote %s\n", *htmlOut)
	}
	return nil
}

// noteSplices says, when entries carry mutation ops and no seeds were
// given, that their splices read the other entries' packets: a go test
// corpus then replays as go test ran it only with its fuzz target's seeds.
func noteSplices(w io.Writer, entries []corpus.Entry, seeded bool) {
	if seeded {
		return
	}
	n := 0
	for _, e := range entries {
		if len(e.Ops) > 0 {
			n++
		}
	}
	if n > 0 {
		fmt.Fprintf(w, "bpffuzz: %d of %d entries carry mutation ops, whose splices read the other entries' packets here; "+
			"for a go test corpus pass its fuzz target's seeds (--seed PCAP) to run them as go test did\n", n, len(entries))
	}
}
