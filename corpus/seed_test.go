package corpus

import (
	"bytes"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// captureFixtures are the generated captures, in name order.
func captureFixtures(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(capturesDir, "*"))
	if err != nil {
		t.Fatal(err)
	}
	files = slices.DeleteFunc(files, func(f string) bool { return filepath.Base(f) == "README.md" })
	slices.Sort(files)
	if len(files) != len(fixtures()) {
		t.Fatalf("%d capture fixtures, fixtures() makes %d; run go test -update ./corpus", len(files), len(fixtures()))
	}
	return files
}

// TestSeedFixtures seeds every capture fixture and checks the report file
// by file, the counts by reason, and the entries' files and notes.
func TestSeedFixtures(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "FuzzX")
	r, err := Seed(dir, captureFixtures(t), SeedOptions{})
	if err != nil {
		t.Fatal(err)
	}
	type fileWant struct {
		packets, written int
		err              string
	}
	want := map[string]fileWant{
		"corrupt-block.pcapng":           {2, 2, "corrupt or truncated block"},
		"cut-record.pcap":                {1, 0, "file ends inside a packet record"},
		"empty.pcap":                     {0, 0, "empty file"},
		"ethernet-be-nsec.pcap":          {4, 2, ""},
		"header-only.pcap":               {0, 0, ""},
		"ipv4-228.pcap":                  {1, 1, ""},
		"multi-section.pcapng":           {13, 7, ""},
		"no-interface.pcapng":            {0, 0, "no interface description block"},
		"not-a-capture.txt":              {0, 0, "not a pcap or pcapng file"},
		"packet-before-interface.pcapng": {0, 0, "packet block before any interface"},
		"raw-le-usec.pcap":               {4, 2, ""},
		"version-2.0.pcapng":             {0, 0, "unknown section version"},
		"version-3.0.pcap":               {0, 0, "unknown version 3.0"},
	}
	if len(r.Files) != len(want) {
		t.Fatalf("%d files in the report, want %d", len(r.Files), len(want))
	}
	written := 0
	for _, f := range r.Files {
		w := want[filepath.Base(f.Path)]
		if f.Packets != w.packets || f.Written != w.written || (w.err == "") != (f.Error == "") || !strings.Contains(f.Error, w.err) {
			t.Errorf("%s: %d packets, %d written, error %q; want %d, %d, %q", f.Path, f.Packets, f.Written, f.Error, w.packets, w.written, w.err)
		}
		if strings.Contains(f.Error, "\n") || strings.Contains(f.Error, f.Path) {
			t.Errorf("%s: error is not one line without the path: %q", f.Path, f.Error)
		}
		written += f.Written
	}
	// 25 packets, files in name order: 14 written, 6 duplicates of an
	// earlier file (the same Ethernet frames recur), 2 malformed raw IP, 3
	// of link types without Ethernet (802.11, NFLOG, PPP).
	if r.Packets != 25 || r.Written != 14 || written != 14 || r.Duplicates != 6 || r.Present != 0 || r.OverMax != 0 {
		t.Errorf("packets %d written %d (files %d) duplicates %d present %d over max %d; want 25 14 14 6 0 0",
			r.Packets, r.Written, written, r.Duplicates, r.Present, r.OverMax)
	}
	if r.FilesFailed != 8 || r.FilesUnreadable != 6 || r.NothingRead() {
		t.Errorf("failed %d unreadable %d nothing read %v; want 8 6 false", r.FilesFailed, r.FilesUnreadable, r.NothingRead())
	}
	wantSkipped := map[string]int{
		"link type IEEE802_11 (105)": 1,
		"link type NFLOG (239)":      1,
		"link type PPP (9)":          1,
		"malformed RAW (101) header": 2,
	}
	if !maps.Equal(r.Skipped, wantSkipped) {
		t.Errorf("skipped %v, want %v", r.Skipped, wantSkipped)
	}
	// Cut by snaplen: the big frame, SLL2 IPv4, the SPB. Synthesized: raw
	// IPv4 and IPv6, IPv4 (228), SLL, SLL2 ×3, NULL, IPv6 (229), LOOP.
	if r.Truncated != 3 || r.Synthesized != 10 {
		t.Errorf("truncated %d synthesized %d, want 3 and 10", r.Truncated, r.Synthesized)
	}
	if got := r.Packets; got != r.Written+r.Duplicates+r.Present+r.OverMax+sum(r.Skipped) {
		t.Errorf("%d packets do not add up: %+v", got, r)
	}

	d, err := ReadDirFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Files) != 14 || len(d.Bad) != 0 || len(d.Other) != 0 {
		t.Fatalf("directory: %d files, %d bad, %d other", len(d.Files), len(d.Bad), len(d.Other))
	}
	notes := map[string]int{}
	for _, f := range d.Files {
		if filepath.Base(f.Path) != FileName(f.Marshal()) {
			t.Errorf("%s is not named by its content", f.Path)
		}
		if len(f.Entry.Context) != 0 || len(f.Entry.Ops) != 0 {
			t.Errorf("%s: context %x ops %x, want none", f.Path, f.Entry.Context, f.Entry.Ops)
		}
		for _, part := range strings.Split(f.Note, "; ") {
			switch {
			case part == "":
			case strings.HasPrefix(part, "bpffuzz seed: Ethernet header synthesized from "):
				notes["synthesized"]++
			case strings.Contains(part, "cut by snaplen: "):
				notes["cut"]++
			default:
				t.Errorf("%s: unexpected note %q", f.Path, part)
			}
		}
	}
	if notes["synthesized"] != 10 || notes["cut"] != 3 {
		t.Errorf("notes %v, want 10 synthesized and 3 cut", notes)
	}
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

func TestSeedAgainAndDedupe(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "FuzzX")
	caps := []string{filepath.Join(capturesDir, "raw-le-usec.pcap"), filepath.Join(capturesDir, "ipv4-228.pcap")}
	r, err := Seed(dir, caps, SeedOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// raw IPv4 from RAW (101) and from IPV4 (228) are the same frame with
	// other notes: two files by default.
	if r.Written != 3 {
		t.Fatalf("first run wrote %d, want 3", r.Written)
	}
	// Again: every file is there.
	r, err = Seed(dir, caps, SeedOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if r.Written != 0 || r.Present != 3 {
		t.Errorf("second run: written %d present %d, want 0 and 3", r.Written, r.Present)
	}
	// Dedupe compares content, whatever the note: into a fresh directory,
	// the IPV4 (228) packet is a duplicate of the RAW one.
	dir2 := filepath.Join(t.TempDir(), "FuzzY")
	r, err = Seed(dir2, caps, SeedOptions{Dedupe: true})
	if err != nil {
		t.Fatal(err)
	}
	if r.Written != 2 || r.Duplicates != 1 {
		t.Errorf("dedupe: written %d duplicates %d, want 2 and 1", r.Written, r.Duplicates)
	}
	// A corrupt file in the directory is reported with Dedupe and left.
	bad := filepath.Join(dir2, "0123456789abcdef")
	if err := os.WriteFile(bad, []byte("go test fuzz v1\n[]byte(\"unterminated)\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err = Seed(dir2, []string{filepath.Join(capturesDir, "ethernet-be-nsec.pcap")}, SeedOptions{Dedupe: true})
	if err != nil {
		t.Fatal(err)
	}
	if r.Written != 3 || len(r.Bad) != 1 || !strings.Contains(r.Bad[0], bad) {
		t.Errorf("written %d, bad %q; want 3 and the corrupt file", r.Written, r.Bad)
	}
	if _, err := os.Stat(bad); err != nil {
		t.Errorf("corrupt file gone: %v", err)
	}
}

func TestSeedMax(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "FuzzX")
	caps := []string{filepath.Join(capturesDir, "multi-section.pcapng")}
	r, err := Seed(dir, caps, SeedOptions{Max: 3})
	if err != nil {
		t.Fatal(err)
	}
	if r.Written != 3 || r.OverMax != 7 {
		t.Errorf("--max 3: written %d over max %d, want 3 and 7", r.Written, r.OverMax)
	}
	if files, _ := os.ReadDir(dir); len(files) != 3 {
		t.Errorf("%d files in the directory, want 3", len(files))
	}
	// The next run with the same cap writes the next three.
	r, err = Seed(dir, caps, SeedOptions{Max: 3})
	if err != nil {
		t.Fatal(err)
	}
	if r.Written != 3 || r.Present != 3 || r.OverMax != 4 {
		t.Errorf("second --max 3: written %d present %d over max %d, want 3 3 4", r.Written, r.Present, r.OverMax)
	}
}

func TestSeedUnwritableDirectory(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Seed(filepath.Join(file, "FuzzX"), []string{filepath.Join(capturesDir, "ipv4-228.pcap")}, SeedOptions{})
	if err == nil || !strings.Contains(err.Error(), "corpus directory") {
		t.Errorf("seed into a path under a file: %v", err)
	}
}

// TestSeedSharedCaptures seeds every capture of tcpdump's regression tests
// (../shared/pcaps): no panic, every file read to the end, and the counts
// add up.
func TestSeedSharedCaptures(t *testing.T) {
	files := sharedCaptures(t)
	dir := filepath.Join(t.TempDir(), "FuzzX")
	r, err := Seed(dir, files, SeedOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range r.Files {
		if f.Error != "" {
			t.Errorf("%s: %s", f.Path, f.Error)
		}
	}
	if r.Packets != r.Written+r.Duplicates+r.Present+r.OverMax+sum(r.Skipped) {
		t.Errorf("counts do not add up: %+v", r)
	}
	t.Logf("%d files, %d packets, %d entries written, %d duplicates, %d truncated, %d synthesized, skipped %v",
		len(r.Files), r.Packets, r.Written, r.Duplicates, r.Truncated, r.Synthesized, r.Skipped)
	d, err := ReadDirFiles(dir)
	if err != nil || len(d.Files) != r.Written || len(d.Bad) != 0 {
		t.Errorf("directory reads back %v files (%v bad, %v), want %d", len(d.Files), len(d.Bad), err, r.Written)
	}

	// Round trip: the export holds every distinct captured frame, the
	// Ethernet ones byte for byte as pcapgo reads them from the original.
	out := filepath.Join(t.TempDir(), "shared.pcapng")
	exportDir(t, dir, out)
	back, err := ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, p := range back.Packets {
		got[string(p.Data)] = true
	}
	all, ethernet := frames(t, files)
	missing, ethMissing := 0, 0
	for f := range all {
		if !got[f] {
			missing++
		}
	}
	for f := range ethernet {
		if !got[f] {
			ethMissing++
		}
	}
	if len(back.Packets) != r.Written || missing > 0 || ethMissing > 0 || len(got) != len(all) {
		t.Errorf("round trip: %d packets exported of %d entries; %d of %d distinct frames missing, %d of %d Ethernet frames",
			len(back.Packets), r.Written, missing, len(all), ethMissing, len(ethernet))
	}
	t.Logf("round trip: %d packets exported, %d distinct frames all present, %d distinct Ethernet frames (pcap files) byte-exact",
		len(back.Packets), len(all), len(ethernet))
}

func TestMerge(t *testing.T) {
	tmp := t.TempDir()
	a, b, out := filepath.Join(tmp, "a"), filepath.Join(tmp, "b"), filepath.Join(tmp, "out")
	e1 := Entry{Packet: []byte("one"), Context: []byte{}, Ops: []byte{}}
	e2 := Entry{Packet: []byte("two"), Context: []byte{1}, Ops: []byte{}}
	e3 := Entry{Packet: []byte("three"), Context: []byte{}, Ops: []byte{9}}
	e4 := Entry{Packet: []byte("four"), Context: []byte{}, Ops: []byte{}}
	mustWrite(t, a, File{Entry: e1})
	mustWrite(t, a, File{Entry: e2})
	mustWrite(t, b, File{Entry: e2, Note: "the same entry with a note"})
	mustWrite(t, b, File{Entry: e3})
	single := mustWrite(t, filepath.Join(tmp, "single"), File{Entry: e4})
	existing := mustWrite(t, out, File{Entry: e1, Note: "already merged"})
	corrupt := filepath.Join(b, "ffffffffffffffff")
	if err := os.WriteFile(corrupt, []byte("go test fuzz v1\nint(1)\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(b, "report.txt"), []byte("not a corpus file\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(existing)

	r, err := Merge(out, []string{a, b, single, filepath.Join(tmp, "missing")}, MergeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if r.Written != 3 || r.Present != 1 || r.Duplicates != 1 {
		t.Errorf("written %d present %d duplicates %d, want 3 1 1", r.Written, r.Present, r.Duplicates)
	}
	in := r.Inputs
	if len(in) != 4 || in[0].Entries != 2 || in[0].Written != 1 || in[1].Entries != 2 || in[1].Written != 1 ||
		len(in[1].Bad) != 1 || in[1].Other != 1 || in[2].Written != 1 || in[3].Error == "" {
		t.Errorf("inputs %+v", in)
	}
	if _, err := os.Stat(corrupt); err != nil {
		t.Errorf("corrupt input file removed: %v", err)
	}
	if after, _ := os.ReadFile(existing); !bytes.Equal(before, after) {
		t.Errorf("existing output file changed")
	}
	d, _ := ReadDirFiles(out)
	got := map[string]bool{}
	for _, f := range d.Files {
		got[string(f.Entry.Packet)] = true
	}
	if len(d.Files) != 4 || !got["one"] || !got["two"] || !got["three"] || !got["four"] {
		t.Errorf("output holds %v", got)
	}

	// Minimize chooses among the new entries; existing ones stay.
	out2 := filepath.Join(tmp, "out2")
	mustWrite(t, out2, File{Entry: e1})
	var sawExisting, sawCands int
	r, err = Merge(out2, []string{a, b}, MergeOptions{Minimize: func(existing, cands []Entry) ([]int, error) {
		sawExisting, sawCands = len(existing), len(cands)
		for i, c := range cands {
			if string(c.Packet) == "three" {
				return []int{i}, nil
			}
		}
		return nil, nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	if sawExisting != 1 || sawCands != 2 || r.Written != 1 || r.Minimized != 1 {
		t.Errorf("minimize saw %d existing, %d candidates; written %d minimized %d", sawExisting, sawCands, r.Written, r.Minimized)
	}
	_, err = Merge(filepath.Join(tmp, "out3"), []string{a}, MergeOptions{Minimize: func(_, _ []Entry) ([]int, error) { return []int{7}, nil }})
	if err == nil || !strings.Contains(err.Error(), "out of range") {
		t.Errorf("out-of-range index: %v", err)
	}
	wantErr := errors.New("boom")
	if _, err := Merge(filepath.Join(tmp, "out4"), []string{a}, MergeOptions{Minimize: func(_, _ []Entry) ([]int, error) { return nil, wantErr }}); !errors.Is(err, wantErr) {
		t.Errorf("minimize error: %v", err)
	}
	if files, _ := os.ReadDir(filepath.Join(tmp, "out4")); len(files) != 0 {
		t.Errorf("a failed minimize wrote %d files", len(files))
	}
}

func mustWrite(t *testing.T, dir string, f File) string {
	t.Helper()
	path, _, err := WriteFile(dir, f)
	if err != nil {
		t.Fatal(err)
	}
	return path
}
