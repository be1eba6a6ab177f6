package fuzz

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bpffuzz/bpffuzz/corpus"
	"github.com/bpffuzz/bpffuzz/internal/kerneltest"
)

// TestDistill checks what go test -fuzz starts from: seeds that repeat an
// earlier seed's BPF path are left out, the union of the paths stays, and a
// seed the kernel refuses stays for Go's engine to report.
func TestDistill(t *testing.T) {
	kerneltest.Skip(t)
	seeds, err := sample()
	if err != nil {
		t.Fatal(err)
	}
	var all []corpus.Entry
	for _, s := range seeds {
		all = append(all, s, corpus.Entry{Packet: bytes.Clone(s.Packet)})
	}
	short := corpus.Entry{Packet: make([]byte, 5)} // too short for XDP
	all = append(all, short)

	x, err := parser.newExecutor("distill")
	if err != nil {
		t.Fatal(err)
	}
	defer x.close()
	union := func(es []corpus.Entry) []byte {
		var u []byte
		for _, e := range es {
			if _, err := x.execute(e); err != nil {
				continue
			}
			if u == nil {
				u = make([]byte, len(x.hits))
			}
			for i, h := range x.hits {
				if h != 0 {
					u[i] = 1
				}
			}
		}
		return u
	}
	out := x.distill(all)
	if len(out) > len(seeds)+1 {
		t.Errorf("distill kept %d of %d seeds, %d of them copies", len(out), len(all), len(seeds))
	}
	if !slices.ContainsFunc(out, func(e corpus.Entry) bool { return len(e.Packet) == 5 }) {
		t.Error("distill dropped the seed the kernel refuses")
	}
	for i := range out {
		for j := range i {
			if bytes.Equal(out[i].Packet, out[j].Packet) && bytes.Equal(out[i].Ops, out[j].Ops) {
				t.Errorf("distill kept seed %d twice", i)
			}
		}
	}
	if got, want := union(out), union(all); !bytes.Equal(got, want) {
		t.Errorf("distilled seeds reach other blocks than all seeds:\n got %v\nwant %v", got, want)
	}

	plain := parser
	plain.NoCoverage = true
	y, err := plain.newExecutor("distill")
	if err != nil {
		t.Fatal(err)
	}
	defer y.close()
	if got := y.distill(all); len(got) != len(all) {
		t.Errorf("without coverage distill kept %d of %d seeds, want all", len(got), len(all))
	}
}

// TestCheckCorpusForm: a corpus directory with a file in the older []byte
// form stops go test with the command that rewrites it; string files pass.
func TestCheckCorpusForm(t *testing.T) {
	dir := t.TempDir()
	if _, err := corpus.WriteEntry(dir, corpus.Entry{Packet: []byte{1, 2}, Context: []byte{}, Ops: []byte{}}); err != nil {
		t.Fatal(err)
	}
	if err := checkCorpusForm(dir); err != nil {
		t.Fatalf("string-form corpus: %v", err)
	}
	old := "go test fuzz v1\n[]byte(\"\\x01\")\n[]byte(\"\")\n[]byte(\"\")\n"
	if err := os.WriteFile(filepath.Join(dir, "0123456789abcdef"), []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	err := checkCorpusForm(dir)
	if err == nil || !strings.Contains(err.Error(), "bpffuzz merge "+dir) || !strings.Contains(err.Error(), "0123456789abcdef") {
		t.Fatalf("[]byte-form file: %v, want the file named and the merge command", err)
	}
	if err := checkCorpusForm(filepath.Join(dir, "missing")); err != nil {
		t.Fatalf("no corpus directory: %v", err)
	}
}
