package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/bpffuzz/bpffuzz/corpus"
	"github.com/bpffuzz/bpffuzz/fuzz"
	"github.com/bpffuzz/bpffuzz/oracle"
)

const seedUsage = `Usage: bpffuzz seed PCAP... --out DIR [--max N] [--dedupe] [--json]

Turns every packet of pcap and pcapng files into a corpus entry in DIR (a
fuzz target's testdata/fuzz/FuzzX), in the go test fuzz v1 shape of the
target's inputs: the packet, an empty context, no ops. Raw IP, Linux SLL
and SLL2 and BSD loopback captures get an Ethernet header (the entry's
comment says so); other link types are skipped and counted. A file that
cannot be read gets a one-line error and the run goes on with the next.
Exit 1 when no file could be read at all.

  --out DIR   the corpus directory (created if missing)
  --max N     write at most N new entries
  --dedupe    skip packets already in DIR by content, whatever their file
  --json      print the summary as JSON
`

const mergeUsage = `Usage: bpffuzz merge DIR... --out DIR [--minimize OBJECT PROGRAM] [--maps FILE] [--json]

Writes the union of corpus directories (or single corpus files) into the
output directory, deduplicated by content. Files already in the output are
never changed or removed; corrupt input files are reported and skipped.

  --minimize OBJECT PROGRAM  write only the new entries that add BPF block
                             coverage or an outcome to the output (see
                             bpffuzz help minimize)
  --maps FILE                the program's setup, as for bpffuzz fuzz
`

const minimizeUsage = `Usage: bpffuzz minimize OBJECT PROGRAM CORPUS_DIR [--out DIR] [--replace] [--maps FILE] [--json]
       bpffuzz minimize OBJECT PROGRAM FINDING [--out DIR] [--maps FILE] [--oracle NAME]...

With a corpus directory: keeps the smallest set of entries found that has
the same BPF block coverage and every distinct outcome (return value,
errno, output size class, finding) as the whole corpus, preferring smaller
entries, and writes it to a new directory (default CORPUS_DIR.min, which
must not hold corpus files yet). The corpus is left as it is unless
--replace is given: then, once the new directory is complete and reads
back, the dropped entries' files are removed from CORPUS_DIR (corrupt and
non-corpus files stay), and the default output directory is removed.

With a finding (its corpus file, or its directory under
testdata/findings): shrinks the input to the shortest packet that the same
oracle still objects to, and writes it as a new corpus file beside the
finding (or in --out); the original is left as it is.

  --oracle NAME   also run this oracle (as bpffuzz fuzz --oracle did)
`

const exportUsage = `Usage: bpffuzz export CORPUS_DIR|FILE|FINDING... --pcap OUT.pcapng

Writes corpus entries, or findings (a finding's directory, or a findings
tree like testdata/findings), to a pcapng capture for Wireshark. Each
packet's comment names the entry, and for a finding its oracle and message.
An entry with ops is exported as its unmutated seed packet (the comment
says so). Corrupt corpus files are reported and skipped.
`

func seedCmd(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("seed", flag.ContinueOnError)
	out := fs.String("out", "", "")
	maxN := fs.Int("max", 0, "")
	dedupe := fs.Bool("dedupe", false, "")
	asJSON := fs.Bool("json", false, "")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(pos) == 0:
		return usagef("seed takes capture files (pcap or pcapng)")
	case *out == "":
		return usagef("seed needs --out DIR, the corpus directory (e.g. testdata/fuzz/FuzzX)")
	case *maxN < 0:
		return usagef("--max must be 0 (no cap) or more")
	}
	r, err := corpus.Seed(*out, pos, corpus.SeedOptions{Max: *maxN, Dedupe: *dedupe})
	if err != nil {
		return err
	}
	for _, f := range r.Files {
		if f.Error != "" {
			fmt.Fprintf(stderr, "bpffuzz: seed: %s: %s\n", f.Path, f.Error)
		}
	}
	for _, b := range r.Bad {
		fmt.Fprintf(stderr, "bpffuzz: seed: corrupt corpus file %s (left in place; fix or remove it)\n", b)
	}
	if *asJSON {
		if err := printJSON(stdout, r); err != nil {
			return err
		}
	} else {
		writeSeedReport(stdout, r)
	}
	if r.NothingRead() {
		return errReported
	}
	return nil
}

func writeSeedReport(w io.Writer, r *corpus.SeedReport) {
	fmt.Fprintf(w, "%8s %8s  %s\n", "PACKETS", "WRITTEN", "FILE")
	for _, f := range r.Files {
		status := ""
		if f.Error != "" {
			status = "  (" + f.Error + ")"
		}
		fmt.Fprintf(w, "%8d %8d  %s%s\n", f.Packets, f.Written, f.Path, status)
	}
	fmt.Fprintf(w, "%d files (%d with errors, %d unreadable), %d packets, %d entries written to %s\n",
		len(r.Files), r.FilesFailed, r.FilesUnreadable, r.Packets, r.Written, r.Dir)
	skipped := map[string]int{}
	for k, n := range r.Skipped {
		skipped[k] = n
	}
	skipped["already in the corpus"] = r.Present
	skipped["duplicate of an earlier packet"] = r.Duplicates
	skipped["over --max"] = r.OverMax
	var lines []string
	for _, k := range slices.Sorted(mapKeysOf(skipped)) {
		if skipped[k] > 0 {
			lines = append(lines, fmt.Sprintf("  %-40s %d", k, skipped[k]))
		}
	}
	if len(lines) == 0 {
		fmt.Fprintln(w, "skipped: none")
	} else {
		fmt.Fprintln(w, "skipped, by reason:")
		for _, l := range lines {
			fmt.Fprintln(w, l)
		}
	}
	if r.Truncated > 0 || r.Synthesized > 0 {
		fmt.Fprintf(w, "kept, noted in the entry: %d cut by snaplen, %d with a synthesized Ethernet header\n", r.Truncated, r.Synthesized)
	}
}

func mapKeysOf(m map[string]int) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// minimizeFlags are the program setup flags of minimize and merge.
type programFlags struct {
	maps    *string
	oracles multiFlag
}

func (p *programFlags) register(fs *flag.FlagSet) {
	p.maps = fs.String("maps", "", "")
	fs.Var(&p.oracles, "oracle", "")
}

func (p *programFlags) target(object, program string) (*fuzz.Target, error) {
	t := &fuzz.Target{Object: object, Program: program}
	if *p.maps != "" {
		o, err := readSetup(*p.maps)
		if err != nil {
			return nil, err
		}
		t.Options = o
	}
	if len(p.oracles) > 0 {
		t.Oracles = oracle.Default()
		for _, n := range p.oracles {
			o, ok := oracle.ByName(n)
			if !ok {
				return nil, usagef("unknown oracle %q (have %s)", n, strings.Join(oracle.Names(), ", "))
			}
			t.Oracles = append(t.Oracles, o)
		}
	}
	return t, nil
}

func mergeCmd(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("merge", flag.ContinueOnError)
	out := fs.String("out", "", "")
	asJSON := fs.Bool("json", false, "")
	var pf programFlags
	pf.register(fs)
	// --minimize OBJECT PROGRAM takes two values: take them out first.
	var minObj, minProg string
	for i := 0; i < len(args); i++ {
		if a := args[i]; a == "--minimize" || a == "-minimize" {
			if i+2 >= len(args) {
				return usagef("--minimize takes OBJECT and PROGRAM")
			}
			minObj, minProg = args[i+1], args[i+2]
			args = slices.Concat(args[:i], args[i+3:])
			break
		}
		if args[i] == "--" {
			break
		}
	}
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(pos) == 0:
		return usagef("merge takes corpus directories or files")
	case *out == "":
		return usagef("merge needs --out DIR")
	}
	var opts corpus.MergeOptions
	var minimized *fuzz.Minimized
	if minObj != "" {
		t, err := pf.target(minObj, minProg)
		if err != nil {
			return err
		}
		opts.Minimize = func(existing, cands []corpus.Entry) ([]int, error) {
			m, err := t.Minimize(slices.Concat(existing, cands), fuzz.MinimizeOptions{Fixed: len(existing)})
			if err != nil {
				return nil, err
			}
			minimized = m
			var keep []int
			for _, i := range m.Keep {
				if i >= len(existing) {
					keep = append(keep, i-len(existing))
				}
			}
			return keep, nil
		}
	}
	r, err := corpus.Merge(*out, pos, opts)
	if err != nil {
		return err
	}
	for _, in := range r.Inputs {
		if in.Error != "" {
			fmt.Fprintf(stderr, "bpffuzz: merge: %s: %s (skipped)\n", in.Path, in.Error)
		}
		for _, b := range in.Bad {
			fmt.Fprintf(stderr, "bpffuzz: merge: corrupt corpus file %s (skipped, left in place)\n", b)
		}
	}
	for _, b := range r.Bad {
		fmt.Fprintf(stderr, "bpffuzz: merge: %s (left in place)\n", b)
	}
	if *asJSON {
		return printJSON(stdout, map[string]any{"merge": r, "minimize": minimized})
	}
	fmt.Fprintf(stdout, "%8s %8s %4s  %s\n", "ENTRIES", "WRITTEN", "BAD", "INPUT")
	for _, in := range r.Inputs {
		fmt.Fprintf(stdout, "%8d %8d %4d  %s\n", in.Entries, in.Written, len(in.Bad), in.Path)
	}
	fmt.Fprintf(stdout, "%d entries written to %s; %d duplicates, %d already there", r.Written, r.Out, r.Duplicates, r.Present)
	if minimized != nil {
		fmt.Fprintf(stdout, ", %d adding no coverage or outcome not written", r.Minimized)
	}
	fmt.Fprintln(stdout)
	if minimized != nil {
		fmt.Fprintf(stdout, "coverage of output and inputs: %s; of the output now: %s\n", statsText(minimized.Before), statsText(minimized.After))
	}
	return nil
}

// printJSON prints v as indented JSON.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func statsText(s fuzz.CorpusStats) string {
	if s.Profile == nil {
		return fmt.Sprintf("%d outcomes (no block coverage)", s.Outcomes)
	}
	return fmt.Sprintf("%d/%d blocks, %d/%d lines, %d/%d branch edges, %d outcomes", s.BlocksHit, s.BlocksTotal, s.LinesHit, s.LinesTotal, s.EdgesHit, s.EdgesTotal, s.Outcomes)
}

func minimizeCmd(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("minimize", flag.ContinueOnError)
	out := fs.String("out", "", "")
	replace := fs.Bool("replace", false, "")
	asJSON := fs.Bool("json", false, "")
	var pf programFlags
	pf.register(fs)
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 3 {
		return usagef("minimize takes OBJECT, PROGRAM and a corpus directory or a finding, got %d arguments", len(pos))
	}
	t, err := pf.target(pos[0], pos[1])
	if err != nil {
		return err
	}
	st, err := os.Stat(pos[2])
	if err != nil {
		return err
	}
	if !st.IsDir() {
		return minimizeFinding(t, pos[2], *out, *asJSON, stdout)
	}
	if _, err := os.Stat(filepath.Join(pos[2], "report.txt")); err == nil {
		entry, err := findingEntry(pos[2])
		if err != nil {
			return err
		}
		return minimizeFinding(t, entry, *out, *asJSON, stdout)
	}
	return minimizeCorpus(t, pos[2], *out, *replace, *asJSON, stdout, stderr)
}

// findingEntry is the corpus file of a finding's directory: the one
// report.txt names, else the only one.
func findingEntry(dir string) (string, error) {
	d, err := corpus.ReadDirFiles(dir)
	if err != nil {
		return "", err
	}
	report, _ := os.ReadFile(filepath.Join(dir, "report.txt"))
	for _, f := range d.Files {
		if strings.Contains(string(report), filepath.Base(f.Path)) {
			return f.Path, nil
		}
	}
	if len(d.Files) == 1 {
		return d.Files[0].Path, nil
	}
	return "", fmt.Errorf("%s: %d corpus files and none named in report.txt; name the finding's file", dir, len(d.Files))
}

func minimizeFinding(t *fuzz.Target, path, out string, asJSON bool, stdout io.Writer) error {
	e, err := corpus.ReadEntry(path)
	if err != nil {
		return err
	}
	r, err := t.MinimizeFinding(e, fuzz.FindingOptions{})
	if errors.Is(err, fuzz.ErrNoFinding) {
		return fmt.Errorf("%s: %w on this kernel with this setup; check it with bpffuzz replay, and pass the --maps and --oracle the fuzz run had", path, err)
	}
	if err != nil {
		return err
	}
	if out == "" {
		out = filepath.Dir(path)
	}
	note := fmt.Sprintf("bpffuzz minimize: smallest input found for oracle %s, from %s", r.Oracle, filepath.Base(path))
	written, _, err := corpus.WriteFile(out, corpus.File{Entry: r.Entry, Note: note})
	if err != nil {
		return err
	}
	if asJSON {
		return printJSON(stdout, map[string]any{"finding": r, "file": written,
			"packet_before": len(r.Original.Packet), "packet_after": len(r.Entry.Packet),
			"context_before": len(r.Original.Context), "context_after": len(r.Entry.Context)})
	}
	fmt.Fprintf(stdout, "finding %s: %s\n", r.Oracle, r.Message)
	fmt.Fprintf(stdout, "packet %d -> %d bytes, context %d -> %d bytes, ops %d -> %d bytes (%d runs, %s)\n",
		len(r.Original.Packet), len(r.Entry.Packet), len(r.Original.Context), len(r.Entry.Context),
		len(r.Original.Ops), len(r.Entry.Ops), r.Execs, r.Elapsed.Round(time.Millisecond))
	fmt.Fprintf(stdout, "wrote %s\nreplay: bpffuzz replay %s %s %s\n", written, t.Object, t.Program, written)
	return nil
}

func minimizeCorpus(t *fuzz.Target, dir, out string, replace, asJSON bool, stdout, stderr io.Writer) error {
	d, err := corpus.ReadDirFiles(dir)
	if err != nil {
		return err
	}
	for _, b := range d.Bad {
		fmt.Fprintf(stderr, "bpffuzz: minimize: skipping %v (left in place)\n", b)
	}
	if len(d.Files) == 0 {
		return fmt.Errorf("%s holds no corpus files", dir)
	}
	scratch := out == ""
	if scratch {
		out = filepath.Clean(dir) + ".min"
	}
	if od, err := corpus.ReadDirFiles(out); err != nil {
		return err
	} else if len(od.Files)+len(od.Bad) > 0 {
		return fmt.Errorf("%s already holds corpus files; remove it or choose another --out", out)
	}
	entries := make([]corpus.Entry, len(d.Files))
	for i, f := range d.Files {
		entries[i] = f.Entry
	}
	m, err := t.Minimize(entries, fuzz.MinimizeOptions{})
	if err != nil {
		return err
	}
	kept := map[string]bool{}
	for _, i := range m.Keep {
		if _, _, err := corpus.WriteFile(out, d.Files[i].File); err != nil {
			return fmt.Errorf("write the minimized corpus (%s is untouched): %w", dir, err)
		}
		kept[d.Files[i].Path] = true
	}
	if err := syncDir(out); err != nil {
		return err
	}
	// The new directory must read back as the kept set before anything else.
	if err := sameEntries(out, d, m.Keep); err != nil {
		return fmt.Errorf("%v; %s is untouched", err, dir)
	}
	removed := 0
	if replace {
		for _, f := range d.Files {
			if kept[f.Path] {
				continue
			}
			if err := os.Remove(f.Path); err != nil {
				return fmt.Errorf("replace %s: %w (the complete minimized corpus is in %s)", dir, err, out)
			}
			removed++
		}
		if err := syncDir(dir); err != nil {
			return err
		}
		if err := sameEntries(dir, d, m.Keep); err != nil {
			return fmt.Errorf("replace %s: %v (the complete minimized corpus is in %s)", dir, err, out)
		}
		if scratch {
			if err := os.RemoveAll(out); err != nil {
				return err
			}
		}
	}
	if asJSON {
		return printJSON(stdout, map[string]any{"minimize": m, "out": out, "replaced": replace, "removed": removed})
	}
	fmt.Fprintf(stdout, "entries   %d -> %d (%d -> %d bytes)\n", m.Before.Entries, m.After.Entries, m.Before.Bytes, m.After.Bytes)
	if m.Before.Skipped > 0 {
		fmt.Fprintf(stdout, "dropped   %d entries outside what BPF_PROG_RUN accepts for %s\n", m.Before.Skipped, t.Program)
	}
	fmt.Fprintf(stdout, "before    %s\nafter     %s\n", statsText(m.Before), statsText(m.After))
	if m.Coverage != "" {
		fmt.Fprintf(stdout, "coverage  %s: only outcomes are preserved\n", m.Coverage)
	}
	if m.Restored > 0 {
		fmt.Fprintf(stdout, "restored  %d entries whose coverage depends on the rest of the corpus\n", m.Restored)
	}
	if len(m.Lost) > 0 {
		fmt.Fprintf(stdout, "lost      %s (the program's runs are not reproducible)\n", strings.Join(m.Lost, ", "))
	}
	fmt.Fprintf(stdout, "time      %s (%d runs)\n", m.Elapsed.Round(time.Millisecond), m.Execs)
	switch {
	case replace && scratch:
		fmt.Fprintf(stdout, "replaced  %s: %d files removed\n", dir, removed)
	case replace:
		fmt.Fprintf(stdout, "replaced  %s: %d files removed; the minimized corpus is also in %s\n", dir, removed, out)
	default:
		fmt.Fprintf(stdout, "wrote     %s (%s unchanged; --replace prunes it)\n", out, dir)
	}
	return nil
}

// sameEntries checks that dir's corpus files are exactly the entries keep
// selects from d.
func sameEntries(dir string, d *corpus.Dir, keep []int) error {
	got, err := corpus.ReadDirFiles(dir)
	if err != nil {
		return err
	}
	want := map[string]bool{}
	for _, i := range keep {
		want[string(corpus.Marshal(d.Files[i].Entry))] = true
	}
	have := map[string]bool{}
	for _, f := range got.Files {
		have[string(corpus.Marshal(f.Entry))] = true
	}
	if len(have) != len(want) {
		return fmt.Errorf("%s reads back with %d distinct entries, want %d", dir, len(have), len(want))
	}
	for k := range want {
		if !have[k] {
			return fmt.Errorf("%s reads back without a kept entry", dir)
		}
	}
	return nil
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

func exportCmd(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("export", flag.ContinueOnError)
	pcap := fs.String("pcap", "", "")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(pos) == 0:
		return usagef("export takes corpus directories, corpus files or findings")
	case *pcap == "":
		return usagef("export needs --pcap OUT.pcapng")
	}
	var pkts []corpus.ExportPacket
	findings := 0
	add := func(path string, f corpus.File, comment string) {
		pkts = append(pkts, corpus.ExportEntry{Name: filepath.Base(path), File: f, Comment: comment}.Packet())
		if comment != "" {
			findings++
		}
	}
	for _, p := range pos {
		st, err := os.Stat(p)
		if err != nil {
			return err
		}
		if !st.IsDir() {
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			f, err := corpus.ParseFile(data)
			if err != nil {
				return &corpus.FileError{Path: p, Err: err}
			}
			add(p, *f, findingComment(filepath.Dir(p)))
			continue
		}
		dirs := []string{p}
		if d, err := corpus.ReadDirFiles(p); err == nil && len(d.Files)+len(d.Bad) == 0 {
			// A findings tree: every directory in it with a report.
			dirs, err = findingDirs(p)
			if err != nil {
				return err
			}
		}
		for _, dir := range dirs {
			d, err := corpus.ReadDirFiles(dir)
			if err != nil {
				return err
			}
			for _, b := range d.Bad {
				fmt.Fprintf(stderr, "bpffuzz: export: skipping %v (left in place)\n", b)
			}
			comment := findingComment(dir)
			for _, f := range d.Files {
				add(f.Path, f.File, comment)
			}
		}
	}
	if len(pkts) == 0 {
		return fmt.Errorf("nothing to export: no corpus entries in %s", strings.Join(pos, ", "))
	}
	if err := corpus.WritePcapng(*pcap, pkts); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %d packets (%d from findings) to %s\n", len(pkts), findings, *pcap)
	return nil
}

// findingDirs returns the directories under root that hold a finding's
// report.txt, in lexical order.
func findingDirs(root string) ([]string, error) {
	var dirs []string
	err := filepath.WalkDir(root, func(path string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !de.IsDir() && de.Name() == "report.txt" {
			dirs = append(dirs, filepath.Dir(path))
		}
		return nil
	})
	return dirs, err
}

// findingComment is "finding ORACLE: MESSAGE" from the first line of dir's
// report.txt, or "" when dir is not a finding's directory.
func findingComment(dir string) string {
	f, err := os.Open(filepath.Join(dir, "report.txt"))
	if err != nil {
		return ""
	}
	defer f.Close()
	line, _ := bufio.NewReader(f).ReadString('\n')
	line = strings.TrimSpace(line)
	if s, ok := strings.CutPrefix(line, "bpffuzz finding: "); ok {
		return "finding " + s
	}
	return "finding in " + dir
}
