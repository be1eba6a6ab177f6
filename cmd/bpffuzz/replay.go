package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/bpffuzz/bpffuzz/corpus"
	"github.com/bpffuzz/bpffuzz/fuzz"
)

const replayUsage = `Usage: bpffuzz replay OBJECT PROGRAM FILE|DIR... [--maps FILE] [--json] [--record FILE] [--seed PCAP]

Runs corpus entries (go test fuzz v1 files, or directories of them) through
the program as the fuzz target does, with every default oracle, and prints
each entry's outcome: return value, errno, output size, finding. Exit 3 when
an oracle objected to an entry, 1 when it could not run.

--record FILE also writes every entry's input and outcome (output packet and
context included) with this kernel's release, for 'bpffuzz diff' to compare
with a record made on another kernel.

--seed PCAP gives the packets the entries' splice mutations read, as the fuzz
target's seeds (repeatable): a go test corpus replays as go test ran it only
with the seeds its fuzz target has (fuzz.Pcap).
`

// replayCmd runs corpus entries and prints their outcomes.
func replayCmd(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "")
	mapsFile := fs.String("maps", "", "")
	var seeds multiFlag
	fs.Var(&seeds, "seed", "")
	recordFile := fs.String("record", "", "")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) < 3 {
		return usagef("replay takes OBJECT, PROGRAM and corpus files or directories")
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
	entries, names, err := readEntries(pos[2:], stderr)
	if err != nil {
		return err
	}
	noteSplices(stderr, entries, len(seeds) > 0)
	out, prof, err := t.Replay(entries)
	if err != nil {
		return err
	}
	if *recordFile != "" {
		if err := writeRecord(*recordFile, t, names, out); err != nil {
			return err
		}
	}
	type row struct {
		Entry string `json:"entry"`
		fuzz.Outcome
		RetvalName string `json:"retval_name,omitempty"`
	}
	rows := make([]row, len(out))
	found := false
	for i, o := range out {
		rows[i] = row{Entry: names[i], Outcome: o, RetvalName: t.RetvalName(o.Retval)}
		found = found || o.Finding != ""
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		var summary any
		if prof != nil {
			summary = prof.Summary()
		}
		if err := enc.Encode(map[string]any{"entries": rows, "coverage": summary}); err != nil {
			return err
		}
	} else {
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ENTRY\tRETVAL\tERRNO\tOUT\tFINDING")
		for _, r := range rows {
			ret := fmt.Sprint(r.Retval)
			if r.RetvalName != "" {
				ret += " (" + r.RetvalName + ")"
			}
			if r.Skipped {
				ret = "skipped: outside what BPF_PROG_RUN accepts"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", r.Entry, ret, r.Errno, r.OutLen, r.Finding)
		}
		tw.Flush()
		if prof != nil {
			prof.WriteText(stdout)
		}
	}
	if found {
		return errFound
	}
	return nil
}

// readEntries reads corpus entries from files and directories of them, and
// names each by its path. A corrupt file in a directory is reported on
// stderr and skipped (never deleted); a named file that cannot be read is an
// error.
func readEntries(paths []string, stderr io.Writer) ([]corpus.Entry, []string, error) {
	var entries []corpus.Entry
	var names []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, nil, err
		}
		if !st.IsDir() {
			e, err := corpus.ReadEntry(p)
			if err != nil {
				return nil, nil, err
			}
			entries, names = append(entries, e), append(names, p)
			continue
		}
		d, err := corpus.ReadDirFiles(p)
		if err != nil {
			return nil, nil, err
		}
		for _, b := range d.Bad {
			fmt.Fprintf(stderr, "bpffuzz: skipping %v\n", b)
		}
		for _, f := range d.Files {
			entries = append(entries, f.Entry)
			names = append(names, f.Path)
		}
	}
	return entries, names, nil
}
