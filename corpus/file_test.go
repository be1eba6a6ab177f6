package corpus

import (
	"bytes"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// goReader parses a corpus file the way Go's own reader does
// (internal/fuzz unmarshalCorpusFile and parseCorpusValue, restricted to
// string and []byte values): each line through go/parser, the call's
// argument a string literal. It is the reference ParseFile must agree with;
// it also returns each value's type.
func goReader(data []byte) ([][]byte, []string, error) {
	if len(data) == 0 {
		return nil, nil, errors.New("empty")
	}
	lines := bytes.Split(data, []byte("\n"))
	if len(lines) < 2 {
		return nil, nil, errors.New("no values")
	}
	if strings.TrimSuffix(string(lines[0]), "\r") != header {
		return nil, nil, errors.New("version")
	}
	var (
		vals  [][]byte
		types []string
	)
	for _, line := range lines[1:] {
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		expr, err := parser.ParseExprFrom(token.NewFileSet(), "(test)", line, 0)
		if err != nil {
			return nil, nil, err
		}
		call, ok := expr.(*ast.CallExpr)
		if !ok || len(call.Args) != 1 {
			return nil, nil, errors.New("not a call with one argument")
		}
		typ := "string"
		if id, ok := call.Fun.(*ast.Ident); !ok || id.Name != "string" {
			at, ok := call.Fun.(*ast.ArrayType)
			if !ok || at.Len != nil {
				return nil, nil, errors.New("not a string or []T conversion")
			}
			if id, ok := at.Elt.(*ast.Ident); !ok || id.Name != "byte" {
				return nil, nil, errors.New("not []byte")
			}
			typ = "[]byte"
		}
		lit, ok := call.Args[0].(*ast.BasicLit)
		if !ok || lit.Kind != token.STRING {
			return nil, nil, errors.New("not a string literal")
		}
		s, err := strconv.Unquote(lit.Value)
		if err != nil {
			return nil, nil, err
		}
		vals = append(vals, []byte(s))
		types = append(types, typ)
	}
	return vals, types, nil
}

var fileSeeds = []string{
	"go test fuzz v1\n[]byte(\"\\x00\\x01\")\n[]byte(\"\")\n[]byte(\"\")\n",
	"go test fuzz v1\r\n[]byte(`raw`) // a note\r\n\r\n[]byte(\"\")\r\n[]byte(\"\\xff\")\r\n",
	"go test fuzz v1\n[]byte(\"a\"...,) /* c1 */ // c2\n[]byte(\"\")\n[]byte(\"\")\n",
	"go test fuzz v1\n[]byte(\"a\")\n[]byte(\"\")\n",
	"go test fuzz v1\n[]byte(\"a\")\n[]byte(\"\")\n[]byte(\"\")\n[]byte(\"\")\n",
	"go test fuzz v1\nstring(\"a\")\n[]byte(\"\")\n[]byte(\"\")\n",
	"go test fuzz v1\nstring(\"a\") // n\nstring(`\\x00`)\nstring(\"\\xff\",)\n",
	"go test fuzz v1\n[]byte{1, 2}\n[]byte(\"\")\n[]byte(\"\")\n",
	"go test fuzz v1\n[]uint8(\"a\")\n[]byte(\"\")\n[]byte(\"\")\n",
	"go test fuzz v1\nmath.Float64frombits(0x1)\n",
	"go test fuzz v2\n[]byte(\"\")\n",
	"go test fuzz v1\n[]byte(\"\\z\")\n[]byte(\"\")\n[]byte(\"\")\n",
	"go test fuzz v1\n[]byte(\"a\" + \"b\")\n[]byte(\"\")\n[]byte(\"\")\n",
	"",
}

// FuzzParseFile checks the corpus file parser: error exactly when the
// result is nil, every error wraps ErrMalformed, it accepts exactly the
// files Go's reader accepts as three string or three []byte values, with
// the same values, and Marshal → ParseFile gives back the entry and the
// note.
func FuzzParseFile(f *testing.F) {
	for _, s := range fileSeeds {
		f.Add([]byte(s))
	}
	for _, p := range []string{goWritten, goWrittenBytes} {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add(File{Entry: Entry{Packet: []byte("p\x00\xff"), Context: []byte{1}, Ops: []byte{}}, Note: "bpffuzz seed: note"}.Marshal())
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := ParseFile(data)
		if (got == nil) == (err == nil) {
			t.Fatalf("ParseFile: result %v with error %v", got, err)
		}
		ref, types, rerr := goReader(data)
		refOK := rerr == nil && len(ref) == 3 && types[0] == types[1] && types[1] == types[2]
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			if refOK {
				t.Fatalf("ParseFile rejects what Go's reader accepts (%q): %v", ref, err)
			}
			return
		}
		if !refOK {
			t.Fatalf("ParseFile accepts what Go's reader rejects (%v, %d values): %+v", rerr, len(ref), got)
		}
		if want := (Entry{Packet: ref[0], Context: ref[1], Ops: ref[2]}); !sameEntry(got.Entry, want) {
			t.Fatalf("ParseFile gives %+v, Go's reader %+v", got.Entry, want)
		}
		if got.Bytes != (types[0] == "[]byte") {
			t.Fatalf("ParseFile: Bytes %v for %s values", got.Bytes, types[0])
		}
		if got.Note != cleanNote(got.Note) {
			t.Fatalf("note %q is not clean", got.Note)
		}
		again, err := ParseFile(got.Marshal())
		if err != nil {
			t.Fatalf("Marshal output does not parse: %v\n%s", err, got.Marshal())
		}
		if !sameEntry(again.Entry, got.Entry) || again.Note != got.Note {
			t.Fatalf("round trip: %+v, want %+v", again, got)
		}
		if vals, types, err := goReader(got.Marshal()); err != nil || len(vals) != 3 || types[0] != "string" {
			t.Fatalf("Go's reader does not take Marshal output as string values: %v %v", err, types)
		}
	})
}

func sameEntry(a, b Entry) bool {
	return bytes.Equal(a.Packet, b.Packet) && bytes.Equal(a.Context, b.Context) && bytes.Equal(a.Ops, b.Ops)
}

func TestParseFileErrors(t *testing.T) {
	for _, tc := range []struct{ data, msg string }{
		{"", "empty file"},
		{"go test fuzz v2\n[]byte(\"\")\n", "first line"},
		{"go test fuzz v1\n[]byte(\"a\")\n", "1 values"},
		{"go test fuzz v1\nstring(\"a\")\n[]byte(\"\")\n[]byte(\"\")\n", "a []byte value after a string one"},
		{"go test fuzz v1\nint(1)\nstring(\"\")\nstring(\"\")\n", "a int value"},
		{"go test fuzz v1\n[]byte{1}\n[]byte(\"\")\n[]byte(\"\")\n", "[]byte{...}"},
		{"go test fuzz v1\n[]byte(\"a\")\n[]byte(\"\")\n[]byte(\"\")\n[]byte(\"\")\n", "fourth value"},
		{"go test fuzz v1\n[]byte(\"\\z\")\n[]byte(\"\")\n[]byte(\"\")\n", "line 2"},
	} {
		_, err := ParseFile([]byte(tc.data))
		if err == nil || !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%q: error %v, want one wrapping ErrMalformed and saying %q", tc.data, err, tc.msg)
		}
	}
}

// goWritten is a file `go test -fuzz` wrote (see testdata/gowritten/README.md);
// goWrittenBytes one it wrote for []byte arguments, the older form.
const (
	goWritten      = "testdata/gowritten/FuzzX/6158955ea9418555"
	goWrittenBytes = "testdata/gowritten/FuzzXBytes/dd5fdb3dd9b6e2c3"
)

// TestGoWrittenFile checks byte compatibility with Go's marshaller on a
// file Go wrote: bpffuzz parses it, marshals the entry to the same bytes,
// and gives it the same name. A file of []byte values still parses.
func TestGoWrittenFile(t *testing.T) {
	checkGoFile(t, goWritten)
	data, err := os.ReadFile(goWrittenBytes)
	if err != nil {
		t.Fatal(err)
	}
	if f, err := ParseFile(data); err != nil || !f.Bytes {
		t.Errorf("%s: %+v, %v; want an entry with Bytes set", goWrittenBytes, f, err)
	}
}

func checkGoFile(t *testing.T, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := ParseFile(data)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if got := Marshal(f.Entry); !bytes.Equal(got, data) {
		t.Errorf("Marshal differs from Go's file %s:\ngo:      %q\nbpffuzz: %q", path, data, got)
	}
	if got := FileName(data); got != filepath.Base(path) {
		t.Errorf("FileName %s, Go named it %s", got, filepath.Base(path))
	}
}

// TestGoWritesWhatMarshalWrites runs `go test -fuzz` on a fuzz test with
// bpffuzz's input shape in a temporary module, and checks the corpus file
// Go writes for the failure it finds against Marshal and FileName, and
// that a file bpffuzz wrote replays under plain `go test`.
func TestGoWritesWhatMarshalWrites(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping, runs go test -fuzz (-short)")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("skipping, no go command on PATH")
	}
	dir := t.TempDir()
	src, err := os.ReadFile("testdata/gowritten/fuzz_test.go.txt")
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, s string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", "module example.com/gowritten\n\ngo 1.26\n")
	write("x_test.go", string(src))
	goCmd := func(args ...string) ([]byte, error) {
		cmd := exec.Command(goBin, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOFLAGS=", "GOWORK=off")
		return cmd.CombinedOutput()
	}
	out, err := goCmd("test", "-run=^$", "-fuzz=FuzzX", "-fuzztime=30s", "-fuzzminimizetime=1x", ".")
	if err == nil {
		t.Fatalf("go test -fuzz found no failure:\n%s", out)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "testdata/fuzz/FuzzX/*"))
	if len(files) != 1 {
		t.Fatalf("go test -fuzz wrote %d corpus files:\n%s", len(files), out)
	}
	checkGoFile(t, files[0])
	if err := os.Remove(files[0]); err != nil {
		t.Fatal(err)
	}

	// A bpffuzz file with a note, and one without, run as Go's seed corpus:
	// the fuzz target fails on the first and passes the second.
	fuzzDir := filepath.Join(dir, "testdata/fuzz/FuzzX")
	bad := File{Entry: Entry{Packet: []byte("\x00\xff\"\\\u00e9 pkt"), Context: []byte{}, Ops: []byte{7}}, Note: "bpffuzz seed: Ethernet header synthesized from RAW (101)"}
	good := File{Entry: Entry{Packet: []byte("ok"), Context: []byte{1, 2}, Ops: []byte{}}}
	badPath, _, err := WriteFile(fuzzDir, bad)
	if err != nil {
		t.Fatal(err)
	}
	goodPath, _, err := WriteFile(fuzzDir, good)
	if err != nil {
		t.Fatal(err)
	}
	out, err = goCmd("test", "-run=FuzzX/"+filepath.Base(goodPath), ".")
	if err != nil {
		t.Errorf("go test does not pass bpffuzz's file %s: %v\n%s", goodPath, err, out)
	}
	out, err = goCmd("test", "-run=FuzzX/"+filepath.Base(badPath), ".")
	if err == nil || !strings.Contains(string(out), fmt.Sprintf("ops %d", len(bad.Entry.Ops))) {
		t.Errorf("go test does not run bpffuzz's file %s with its values: %v\n%s", badPath, err, out)
	}
}
