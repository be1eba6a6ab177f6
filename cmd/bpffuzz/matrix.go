package main

import (
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/bpffuzz/bpffuzz/corpus"
	"github.com/bpffuzz/bpffuzz/fuzz"
)

// A kernel matrix: `bpffuzz replay ... --record FILE` writes what every
// corpus entry did on this kernel, and `bpffuzz diff A B` lists the entries
// whose outcome differs between two such records (a kernel-vs-kernel
// differential oracle).

// recordVersion is the format of a record file; diff refuses others.
const recordVersion = 1

// record is one replay of a corpus on one kernel.
type record struct {
	Version int           `json:"version"`
	Kernel  string        `json:"kernel"`
	Object  string        `json:"object"`
	Program string        `json:"program"`
	Entries []recordEntry `json:"entries"`
}

// recordEntry is one entry's outcome. Byte fields are hex. Duration is left
// out: it is never the same twice.
type recordEntry struct {
	// Entry is the path it was read from; Key its file name (the hash of
	// its content), which diff matches entries by.
	Entry      string `json:"entry"`
	Key        string `json:"key"`
	Input      string `json:"input"`
	ContextIn  string `json:"ctx_in,omitempty"`
	Skipped    bool   `json:"skipped,omitempty"`
	Retval     uint32 `json:"retval"`
	RetvalName string `json:"retval_name,omitempty"`
	Errno      string `json:"errno,omitempty"`
	Output     string `json:"output,omitempty"`
	ContextOut string `json:"ctx_out,omitempty"`
	Finding    string `json:"finding,omitempty"`
}

// kernelRelease is uname -r.
func kernelRelease() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "unknown"
	}
	return unix.ByteSliceToString(u.Release[:])
}

// writeRecord writes the outcomes of a replay as a record file.
func writeRecord(path string, t *fuzz.Target, names []string, out []fuzz.Outcome) error {
	r := record{Version: recordVersion, Kernel: kernelRelease(), Object: filepath.Base(t.Object), Program: t.Program}
	for i, o := range out {
		e := recordEntry{
			Entry: names[i], Key: filepath.Base(names[i]),
			Input: hex.EncodeToString(o.Input), ContextIn: hex.EncodeToString(o.ContextIn),
			Skipped: o.Skipped, Finding: o.Finding,
		}
		if !o.Skipped {
			e.Retval, e.RetvalName, e.Errno = o.Retval, t.RetvalName(o.Retval), o.Errno
			e.Output, e.ContextOut = hex.EncodeToString(o.Output), hex.EncodeToString(o.ContextOut)
		}
		r.Entries = append(r.Entries, e)
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := corpus.WriteFileAtomic(path, append(b, '\n')); err != nil {
		return fmt.Errorf("write record: %w", err)
	}
	return nil
}

func readRecord(path string) (*record, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r record
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s is not a record (write one with bpffuzz replay OBJECT PROGRAM DIR --record FILE): %w", path, err)
	}
	if r.Version != recordVersion {
		return nil, fmt.Errorf("%s: record version %d, this bpffuzz reads %d: record it again with this bpffuzz", path, r.Version, recordVersion)
	}
	return &r, nil
}

const diffUsage = `Usage: bpffuzz diff A.json B.json [--json]

Compares two records written by 'bpffuzz replay OBJECT PROGRAM DIR --record
FILE' (usually on two kernels, e.g. the host and scripts/qemu-run.sh
--kernel debian-6.1) and lists each entry whose outcome differs: taken or
skipped, return value, errno, output packet, output context, finding. Entries
are matched by file name (the hash of their content); the duration is not
compared. Exit 3 when some entry differs, 0 when none does, 1 when a record
cannot be read or the two are of different programs.
`

// outcomeDiff is one entry whose outcome differs between records.
type outcomeDiff struct {
	Key string `json:"key"`
	// Fields are the names of the fields that differ ("only_in" when the
	// entry is in one record only).
	Fields []string     `json:"fields"`
	A      *recordEntry `json:"a,omitempty"`
	B      *recordEntry `json:"b,omitempty"`
}

func diffCmd(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("diff", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	asJSON := fs.Bool("json", false, "")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return usagef("diff takes two record files (bpffuzz replay ... --record FILE writes one)")
	}
	a, err := readRecord(pos[0])
	if err != nil {
		return err
	}
	b, err := readRecord(pos[1])
	if err != nil {
		return err
	}
	if a.Object != b.Object || a.Program != b.Program {
		return fmt.Errorf("%s records %s %s, %s records %s %s: compare records of the same program",
			pos[0], a.Object, a.Program, pos[1], b.Object, b.Program)
	}
	diffs := diffRecords(a, b)
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(map[string]any{"a": map[string]string{"file": pos[0], "kernel": a.Kernel},
			"b": map[string]string{"file": pos[1], "kernel": b.Kernel}, "entries": len(a.Entries), "differ": diffs}); err != nil {
			return err
		}
	} else {
		writeDiffs(stdout, a, b, pos[0], pos[1], diffs)
	}
	if len(diffs) > 0 {
		return errFound
	}
	return nil
}

// diffRecords lists the entries whose outcomes differ, in key order.
func diffRecords(a, b *record) []outcomeDiff {
	ia, ib := index(a), index(b)
	keys := make([]string, 0, len(ia)+len(ib))
	for k := range ia {
		keys = append(keys, k)
	}
	for k := range ib {
		if _, ok := ia[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var out []outcomeDiff
	for _, k := range keys {
		ea, eb := ia[k], ib[k]
		if ea == nil || eb == nil {
			out = append(out, outcomeDiff{Key: k, Fields: []string{"only_in"}, A: ea, B: eb})
			continue
		}
		var f []string
		add := func(name string, differ bool) {
			if differ {
				f = append(f, name)
			}
		}
		add("skipped", ea.Skipped != eb.Skipped)
		add("retval", ea.Retval != eb.Retval)
		add("errno", ea.Errno != eb.Errno)
		add("output", ea.Output != eb.Output)
		add("ctx_out", ea.ContextOut != eb.ContextOut)
		add("finding", ea.Finding != eb.Finding)
		if len(f) > 0 {
			out = append(out, outcomeDiff{Key: k, Fields: f, A: ea, B: eb})
		}
	}
	return out
}

func index(r *record) map[string]*recordEntry {
	m := make(map[string]*recordEntry, len(r.Entries))
	for i := range r.Entries {
		m[r.Entries[i].Key] = &r.Entries[i]
	}
	return m
}

func writeDiffs(w io.Writer, a, b *record, fa, fb string, diffs []outcomeDiff) {
	la, lb := a.Kernel, b.Kernel
	if la == lb {
		la, lb = fa, fb
	}
	fmt.Fprintf(w, "%s %s: %d of %d entries differ between %s (%s) and %s (%s)\n",
		a.Object, a.Program, len(diffs), max(len(a.Entries), len(b.Entries)), a.Kernel, fa, b.Kernel, fb)
	width := max(len(la), len(lb))
	for _, d := range diffs {
		e := d.A
		if e == nil {
			e = d.B
		}
		fmt.Fprintf(w, "\n%s (%s)\n", e.Entry, strings.Join(d.Fields, ", "))
		fmt.Fprintf(w, "  %-*s  %s\n", width, "input", shortHex(e.Input))
		if e.ContextIn != "" {
			fmt.Fprintf(w, "  %-*s  %s\n", width, "ctx in", shortHex(e.ContextIn))
		}
		for _, s := range []struct {
			label string
			e     *recordEntry
		}{{la, d.A}, {lb, d.B}} {
			fmt.Fprintf(w, "  %-*s  %s\n", width, s.label, outcomeText(s.e))
			if s.e != nil && !s.e.Skipped && (slices.Contains(d.Fields, "output") || slices.Contains(d.Fields, "ctx_out")) {
				if slices.Contains(d.Fields, "output") {
					fmt.Fprintf(w, "  %-*s    output  %s\n", width, "", shortHex(s.e.Output))
				}
				if slices.Contains(d.Fields, "ctx_out") {
					fmt.Fprintf(w, "  %-*s    ctx out %s\n", width, "", shortHex(s.e.ContextOut))
				}
			}
		}
	}
}

func outcomeText(e *recordEntry) string {
	switch {
	case e == nil:
		return "not in this record"
	case e.Skipped:
		return "skipped: outside what this kernel's BPF_PROG_RUN accepts"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "retval %d", e.Retval)
	switch {
	case e.RetvalName != "":
		fmt.Fprintf(&b, " (%s)", e.RetvalName)
	case int32(e.Retval) < 0:
		fmt.Fprintf(&b, " (%d as int32)", int32(e.Retval))
	}
	if e.Errno != "" {
		fmt.Fprintf(&b, ", errno %s", e.Errno)
	}
	if e.Output != "" {
		fmt.Fprintf(&b, ", %d-byte output", len(e.Output)/2)
	} else {
		b.WriteString(", no output")
	}
	if e.Finding != "" {
		fmt.Fprintf(&b, ", finding %s", e.Finding)
	}
	return b.String()
}

// shortHex shows up to 64 bytes of a hex string and the full length.
func shortHex(h string) string {
	if h == "" {
		return "(none)"
	}
	n := len(h) / 2
	if len(h) > 128 {
		h = h[:128] + "..."
	}
	return fmt.Sprintf("%s (%d bytes)", h, n)
}
