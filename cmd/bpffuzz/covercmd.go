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

const coverUsage = `Usage: bpffuzz cover OBJECT PROGRAM FILE|DIR... [--html FILE] [--json] [--uncovered] [--maps FILE]

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
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) < 3 {
		return usagef("cover takes OBJECT, PROGRAM and corpus files or directories")
	}
	t := &fuzz.Target{Object: pos[0], Program: pos[1]}
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
