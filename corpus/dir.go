package corpus

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
)

// FileError is a corpus file that could not be read or parsed. bpffuzz
// reports it by path and leaves it where it is: it never deletes or
// rewrites a file it did not write.
type FileError struct {
	Path string
	Err  error
}

func (e *FileError) Error() string { return e.Path + ": " + e.Err.Error() }
func (e *FileError) Unwrap() error { return e.Err }

// ErrExists is wrapped by WriteFile's error when a file of the same name but
// other content is already in the directory (a damaged file, or a clash of
// the 64-bit names); that file is left alone.
var ErrExists = errors.New("a different file of the same name exists")

// DirFile is one parsed file of a corpus directory.
type DirFile struct {
	// Path is the file's path (the directory joined with its name).
	Path string
	File
}

// Dir is what a corpus directory holds.
type Dir struct {
	// Files are the entries that parsed, in name order.
	Files []DirFile
	// Bad are corpus files that do not parse (empty, or a first line of
	// "go test fuzz v1" and then something else), in name order. They are
	// left in place.
	Bad []*FileError
	// Other are paths of files that are not corpus files at all: dotfiles
	// and files whose first line is not "go test fuzz v1" (the report.txt and
	// packets.pcapng beside a finding's entry).
	Other []string
}

// ReadEntry reads and parses one corpus file. Its error is a *FileError.
func ReadEntry(path string) (Entry, error) {
	f, err := readFile(path)
	if err != nil {
		return Entry{}, err
	}
	return f.Entry, nil
}

func readFile(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &FileError{path, err}
	}
	f, err := ParseFile(data)
	if err != nil {
		return nil, &FileError{path, err}
	}
	return f, nil
}

// ReadDirFiles reads every file of a corpus directory (testdata/fuzz/FuzzX,
// a `go test -fuzz` cache directory, a finding's directory), in name order;
// subdirectories are ignored, as Go ignores them. A directory that does not
// exist is an empty corpus, as for Go. The error is for the directory
// itself; a file that does not parse is in Dir.Bad, never an error.
func ReadDirFiles(dir string) (*Dir, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return &Dir{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read corpus directory: %w", err)
	}
	d := &Dir{}
	for _, de := range ents {
		if de.IsDir() {
			continue
		}
		path := filepath.Join(dir, de.Name())
		if strings.HasPrefix(de.Name(), ".") {
			d.Other = append(d.Other, path)
			continue
		}
		data, err := os.ReadFile(path)
		if err != nil {
			d.Bad = append(d.Bad, &FileError{path, err})
			continue
		}
		if len(data) > 0 && !bytes.HasPrefix(data, []byte(header)) {
			d.Other = append(d.Other, path)
			continue
		}
		f, err := ParseFile(data)
		if err != nil {
			d.Bad = append(d.Bad, &FileError{path, err})
			continue
		}
		d.Files = append(d.Files, DirFile{Path: path, File: *f})
	}
	return d, nil
}

// ReadDir reads the entries of a corpus directory (see ReadDirFiles). errs
// holds a *FileError for each corpus file that does not parse (left in
// place), or the directory's own error; files that are not corpus files
// are skipped silently.
func ReadDir(dir string) (entries []Entry, errs []error) {
	d, err := ReadDirFiles(dir)
	if err != nil {
		return nil, []error{err}
	}
	for _, f := range d.Files {
		entries = append(entries, f.Entry)
	}
	for _, b := range d.Bad {
		errs = append(errs, b)
	}
	return entries, errs
}

// WriteEntry writes e into dir under its Go name (see WriteFile) and returns
// the path. A file already there with the same content is left as it is.
func WriteEntry(dir string, e Entry) (string, error) {
	path, _, err := WriteFile(dir, File{Entry: e})
	return path, err
}

// WriteFile writes f into the corpus directory dir (created if missing)
// under its Go name, FileName(f.Marshal()), and returns the path. written is
// false when the file was already there with the same content. A file of the
// same name and other content is left alone and reported with an error
// wrapping ErrExists.
//
// The bytes go to a temporary file first, which is then linked into place
// only if the name is free, so a crash never leaves half a file in dir, and
// an existing file is never replaced. The temporary file lives in dir's
// parent (for testdata/fuzz/FuzzX that is testdata/fuzz, which Go does not
// read), because `go test` fails on any unparsable file inside dir.
func WriteFile(dir string, f File) (path string, written bool, err error) {
	data := f.Marshal()
	path = filepath.Join(dir, FileName(data))
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return path, false, fmt.Errorf("create corpus directory: %w", err)
	}
	if old, err := os.ReadFile(path); err == nil {
		return path, false, sameContent(path, old, data)
	}
	tmp, err := writeTemp(filepath.Dir(filepath.Clean(dir)), "."+filepath.Base(filepath.Clean(dir))+".bpffuzz-*", data)
	if err != nil {
		return path, false, err
	}
	defer os.Remove(tmp)
	err = os.Link(tmp, path)
	switch {
	case err == nil:
		return path, true, nil
	case errors.Is(err, fs.ErrExist):
		// Written meanwhile, by go test -fuzz or another bpffuzz.
		old, rerr := os.ReadFile(path)
		if rerr != nil {
			return path, false, fmt.Errorf("write corpus file: %w", rerr)
		}
		return path, false, sameContent(path, old, data)
	case errors.Is(err, syscall.EXDEV), errors.Is(err, syscall.EPERM), errors.Is(err, syscall.ENOTSUP), errors.Is(err, syscall.EMLINK):
		// No hard links here (or dir is a mount point): a temporary file in
		// dir itself, renamed into place if the name is still free.
		written, err := renameNew(dir, path, data)
		return path, written, err
	}
	return path, false, fmt.Errorf("write corpus file: %w", err)
}

func sameContent(path string, old, data []byte) error {
	if bytes.Equal(old, data) {
		return nil
	}
	return &FileError{path, ErrExists}
}

func renameNew(dir, path string, data []byte) (written bool, err error) {
	tmp, err := writeTemp(dir, ".bpffuzz-*", data)
	if err != nil {
		return false, err
	}
	defer os.Remove(tmp)
	if _, err := os.Lstat(path); err == nil {
		old, rerr := os.ReadFile(path)
		if rerr != nil {
			return false, fmt.Errorf("write corpus file: %w", rerr)
		}
		return false, sameContent(path, old, data)
	}
	if err := os.Rename(tmp, path); err != nil {
		return false, fmt.Errorf("write corpus file: %w", err)
	}
	return true, nil
}

// writeFileHook, when set by a test, replaces the write of a temporary
// file's contents (to simulate a failure half-way).
var writeFileHook func(f *os.File, data []byte) error

// writeTemp writes data to a new temporary file in dir and returns its path.
// On error nothing is left behind.
func writeTemp(dir, pattern string, data []byte) (string, error) {
	f, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return "", fmt.Errorf("write corpus file: %w", err)
	}
	write := func(f *os.File, data []byte) error { _, err := f.Write(data); return err }
	if writeFileHook != nil {
		write = writeFileHook
	}
	err = write(f, data)
	if err == nil {
		err = f.Chmod(0o644)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("write corpus file: %w", err)
	}
	return f.Name(), nil
}

// WriteFileAtomic writes data to path through a temporary file in the same
// directory and a rename, so path holds either its old content or all of
// data, never part of it. Unlike WriteFile it replaces an existing file.
func WriteFileAtomic(path string, data []byte) error {
	tmp, err := writeTemp(filepath.Dir(path), "."+filepath.Base(path)+".bpffuzz-*", data)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
