package corpus

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

const fileHeader = "go test fuzz v1"

// Marshal encodes an entry exactly as Go's fuzzing engine writes a corpus
// file for a target taking (packet, context, ops []byte).
func Marshal(e Entry) []byte {
	var b bytes.Buffer
	b.WriteString(fileHeader + "\n")
	for _, v := range [][]byte{e.Packet, e.Context, e.Ops} {
		fmt.Fprintf(&b, "[]byte(%q)\n", v)
	}
	return b.Bytes()
}

// FileName is the name Go gives a corpus file: the first 16 hex digits of
// the SHA-256 of its contents. Equal entries get equal names.
func FileName(data []byte) string {
	return fmt.Sprintf("%x", sha256.Sum256(data))[:16]
}

// Parse decodes a go test fuzz v1 file of bpffuzz's shape: three []byte
// values. It reads the literals Go writes, and parses, never evaluates:
// anything else is an error saying what was found.
func Parse(data []byte) (Entry, error) {
	lines := strings.Split(string(data), "\n")
	if len(lines) == 0 || strings.TrimSuffix(lines[0], "\r") != fileHeader {
		return Entry{}, fmt.Errorf("not a go test fuzz v1 file (first line must be %q)", fileHeader)
	}
	var vals [][]byte
	for n, line := range lines[1:] {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		v, err := parseBytes(line)
		if err != nil {
			return Entry{}, fmt.Errorf("line %d: %w", n+2, err)
		}
		vals = append(vals, v)
	}
	if len(vals) != 3 {
		return Entry{}, fmt.Errorf("bpffuzz entries have three []byte values (packet, context, ops), this file has %d", len(vals))
	}
	return Entry{Packet: vals[0], Context: vals[1], Ops: vals[2]}, nil
}

func parseBytes(line string) ([]byte, error) {
	inner, ok := strings.CutPrefix(line, "[]byte(")
	if !ok || !strings.HasSuffix(inner, ")") {
		kind := line
		if i := strings.IndexByte(line, '('); i > 0 {
			kind = line[:i]
		}
		return nil, fmt.Errorf("value %.40q is not a []byte literal (found %s)", line, kind)
	}
	lit := inner[:len(inner)-1]
	if len(lit) < 2 || (lit[0] != '"' && lit[0] != '`') {
		return nil, fmt.Errorf("[]byte value is not a string literal: %.40q", lit)
	}
	s, err := strconv.Unquote(lit)
	if err != nil {
		return nil, fmt.Errorf("bad string literal %.40q: %w", lit, err)
	}
	return []byte(s), nil
}

// ReadEntry reads one corpus file.
func ReadEntry(path string) (Entry, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Entry{}, err
	}
	e, err := Parse(data)
	if err != nil {
		return Entry{}, fmt.Errorf("%s: %w", path, err)
	}
	return e, nil
}

// ReadDir reads every corpus file in dir, in name order. Files that do not
// parse are reported by path in errs and skipped; nothing is deleted. A
// missing directory is an empty corpus.
func ReadDir(dir string) (entries []Entry, errs []error) {
	names, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, []error{err}
	}
	sort.Slice(names, func(i, j int) bool { return names[i].Name() < names[j].Name() })
	for _, n := range names {
		if n.IsDir() || strings.HasPrefix(n.Name(), ".") {
			continue
		}
		path := filepath.Join(dir, n.Name())
		data, err := os.ReadFile(path)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !bytes.HasPrefix(data, []byte(fileHeader)) {
			continue // report.txt, packets.pcapng and the like in a finding directory
		}
		e, err := Parse(data)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w (left in place)", path, err))
			continue
		}
		entries = append(entries, e)
	}
	return entries, errs
}

// WriteEntry writes e into dir under its Go name, unless a file of that
// name exists (it then has the same contents). It returns the path.
func WriteEntry(dir string, e Entry) (string, error) {
	data := Marshal(e)
	path := filepath.Join(dir, FileName(data))
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	return path, WriteFileAtomic(path, data)
}

// WriteFileAtomic writes data to a temporary file in path's directory and
// renames it into place, so a crash never leaves half a file.
func WriteFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Chmod(tmp, 0o644); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}
