package corpus

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteFile(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "FuzzX")
	f := File{Entry: Entry{Packet: []byte("pkt"), Context: []byte{}, Ops: []byte{}}, Note: "a note"}
	path, written, err := WriteFile(dir, f)
	if err != nil || !written {
		t.Fatalf("first write: written %v, %v", written, err)
	}
	if filepath.Base(path) != FileName(f.Marshal()) {
		t.Errorf("named %s, want %s", filepath.Base(path), FileName(f.Marshal()))
	}
	got, _ := os.ReadFile(path)
	if !bytes.Equal(got, f.Marshal()) {
		t.Errorf("content %q", got)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o644 {
		t.Errorf("mode %v", st.Mode())
	}
	// The same content again: nothing written.
	if p2, written, err := WriteFile(dir, f); err != nil || written || p2 != path {
		t.Errorf("second write: %s written %v, %v", p2, written, err)
	}
	// A damaged file under the name: reported, never replaced or removed.
	damaged := []byte("go test fuzz v1\n[]byte(\"pk")
	if err := os.WriteFile(path, damaged, 0o644); err != nil {
		t.Fatal(err)
	}
	_, written, err = WriteFile(dir, f)
	var fe *FileError
	if !errors.Is(err, ErrExists) || !errors.As(err, &fe) || fe.Path != path || written {
		t.Errorf("write over a damaged file: written %v, %v", written, err)
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, damaged) {
		t.Errorf("damaged file changed to %q", got)
	}
	d, err := ReadDirFiles(dir)
	if err != nil || len(d.Bad) != 1 || d.Bad[0].Path != path || !errors.Is(d.Bad[0], ErrMalformed) || len(d.Files) != 0 {
		t.Errorf("ReadDirFiles: %+v, %v", d, err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("damaged file gone after reading the directory: %v", err)
	}
	assertNoTemp(t, parent)
	assertNoTemp(t, dir)
}

// TestWriteFileAtomic fails the write half-way: the corpus directory holds
// no file, nothing is left behind, and the next write succeeds.
func TestWriteFileAtomic(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "FuzzX")
	boom := errors.New("disk full half-way")
	writeFileHook = func(f *os.File, data []byte) error {
		f.Write(data[:len(data)/2])
		return boom
	}
	f := File{Entry: Entry{Packet: bytes.Repeat([]byte{0xaa}, 4096), Context: []byte{}, Ops: []byte{}}}
	_, written, err := WriteFile(dir, f)
	writeFileHook = nil
	if !errors.Is(err, boom) || written {
		t.Fatalf("failed write: written %v, %v", written, err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("%d files in the corpus directory after a failed write", len(ents))
	}
	assertNoTemp(t, parent)
	if _, written, err := WriteFile(dir, f); err != nil || !written {
		t.Errorf("write after the failure: written %v, %v", written, err)
	}

	// WriteFileAtomic keeps the old content when the write fails.
	path := filepath.Join(parent, "report.txt")
	if err := WriteFileAtomic(path, []byte("old\n")); err != nil {
		t.Fatal(err)
	}
	writeFileHook = func(f *os.File, data []byte) error { f.Write(data[:1]); return boom }
	err = WriteFileAtomic(path, []byte("new content\n"))
	writeFileHook = nil
	if !errors.Is(err, boom) {
		t.Errorf("failed atomic write: %v", err)
	}
	if got, _ := os.ReadFile(path); string(got) != "old\n" {
		t.Errorf("after a failed atomic write: %q", got)
	}
	if err := WriteFileAtomic(path, []byte("new\n")); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(path); string(got) != "new\n" {
		t.Errorf("after an atomic write: %q", got)
	}
	assertNoTemp(t, parent)
}

// assertNoTemp fails when a temporary file of WriteFile is left in dir.
func assertNoTemp(t *testing.T, dir string) {
	t.Helper()
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.Contains(e.Name(), ".bpffuzz-") {
			t.Errorf("temporary file %s left in %s", e.Name(), dir)
		}
	}
}

func TestReadDirFiles(t *testing.T) {
	dir := t.TempDir()
	good := mustWrite(t, dir, File{Entry: Entry{Packet: []byte("a"), Context: []byte{}, Ops: []byte{}}})
	for name, data := range map[string]string{
		"empty":        "",
		"bad-value":    "go test fuzz v1\n[]byte(\"a\")\n",
		"report.txt":   "bpffuzz finding: retval: ...\n",
		".hidden":      "go test fuzz v1\n",
		"packets.pcap": "\xd4\xc3\xb2\xa1",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	d, err := ReadDirFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Files) != 1 || d.Files[0].Path != good || len(d.Bad) != 2 || len(d.Other) != 3 {
		t.Errorf("files %d bad %v other %v", len(d.Files), d.Bad, d.Other)
	}
	for _, b := range d.Bad {
		if !strings.HasPrefix(b.Error(), b.Path+": ") {
			t.Errorf("error does not start with the path: %v", b)
		}
	}
	entries, errs := ReadDir(dir)
	if len(entries) != 1 || len(errs) != 2 {
		t.Errorf("ReadDir: %d entries, %v", len(entries), errs)
	}
	if d, err := ReadDirFiles(filepath.Join(dir, "missing")); err != nil || len(d.Files) != 0 {
		t.Errorf("missing directory: %+v, %v", d, err)
	}
	if _, err := ReadEntry(filepath.Join(dir, "bad-value")); !errors.Is(err, ErrMalformed) {
		t.Errorf("ReadEntry of a bad file: %v", err)
	}
}
