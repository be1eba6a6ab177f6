package corpus

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// SeedOptions controls Seed. The zero value writes an entry for every
// packet.
type SeedOptions struct {
	// Max caps the entries written (new files) in one run; 0, the default,
	// means no cap.
	Max int
	// Dedupe compares entries by content (packet, context and ops, not the
	// note) with every entry already in the directory and earlier in the
	// run, and drops the duplicates. By default entries are compared as Go
	// names them, by file: an identical file is written once, but a packet
	// already in the corpus under another file (another note, or written by
	// someone else) is written again. Dedupe also reports the directory's
	// corrupt files, which it reads.
	Dedupe bool
}

// SeedFile is what Seed did with one capture file.
type SeedFile struct {
	Path string `json:"path"`
	// Packets counts the packets read, skipped ones included.
	Packets int `json:"packets"`
	// Written counts the new corpus files from this capture.
	Written int `json:"written"`
	// Error is the one-line reason the file could not be read, or could be
	// read only up to some packet; empty when it was read to the end.
	Error string `json:"error,omitempty"`
}

// SeedReport is what Seed did.
type SeedReport struct {
	// Dir is the corpus directory.
	Dir   string     `json:"dir"`
	Files []SeedFile `json:"files"`
	// FilesFailed counts files with an Error; FilesUnreadable those of them
	// that gave no packet at all (not a capture, empty, unknown version).
	FilesFailed     int `json:"files_failed"`
	FilesUnreadable int `json:"files_unreadable"`
	// Packets counts the packets read, skipped ones included.
	Packets int `json:"packets"`
	// Written counts new corpus files.
	Written int `json:"written"`
	// Present counts packets whose file (with Dedupe: whose entry) was in
	// the directory before the run.
	Present int `json:"already_present"`
	// Duplicates counts packets whose file (with Dedupe: whose entry) an
	// earlier packet of the run already gave.
	Duplicates int `json:"duplicates"`
	// OverMax counts new entries not written because of SeedOptions.Max.
	OverMax int `json:"over_max"`
	// Truncated counts packets cut by the capture's snaplen, kept as
	// captured (the entry's note says so).
	Truncated int `json:"truncated"`
	// Synthesized counts packets that got an Ethernet header (raw IP, SLL,
	// SLL2, loopback; the entry's note says so).
	Synthesized int `json:"synthesized"`
	// Skipped counts packets that became no entry, by reason:
	// "link type IEEE802_11 (105)" for a link type without Ethernet mapping,
	// "malformed LINUX_SLL (113) header" for a header too short or not IP.
	Skipped map[string]int `json:"skipped"`
	// Bad lists corpus files of the directory that do not parse (read with
	// Dedupe) and files whose name clashes with an entry of other content;
	// all are left in place.
	Bad []string `json:"bad_corpus_files,omitempty"`
}

// NothingRead reports whether no input file gave a capture at all (every
// one was unreadable); bpffuzz seed then exits 1.
func (r *SeedReport) NothingRead() bool {
	return len(r.Files) > 0 && r.FilesUnreadable == len(r.Files)
}

// Seed turns every packet of the pcap and pcapng files into a corpus entry
// in dir (the fuzz target's testdata/fuzz/FuzzX), Context and Ops empty, in
// the `go test fuzz v1` format under Go's file names (see WriteFile). Files
// that cannot be read, or only up to some packet, are reported in the
// SeedReport and the rest still run; packets read before damage are kept.
// The error is for the corpus directory only: it cannot be read or written.
//
// An entry whose Ethernet header was synthesized, or whose frame was cut by
// snaplen, carries a note saying so as a trailing comment on its packet line
// (Go's reader ignores comments: go/parser parses each line).
func Seed(dir string, captures []string, opts SeedOptions) (*SeedReport, error) {
	r := &SeedReport{Dir: dir, Skipped: map[string]int{}}
	seen := map[string]bool{}    // names (or, with Dedupe, content keys) of this run
	present := map[string]bool{} // with Dedupe: content keys in dir before the run
	if opts.Dedupe {
		d, err := ReadDirFiles(dir)
		if err != nil {
			return nil, err
		}
		for _, f := range d.Files {
			present[f.Entry.key()] = true
		}
		for _, b := range d.Bad {
			r.Bad = append(r.Bad, b.Error())
		}
	}
	for _, path := range captures {
		c, err := ReadFile(path)
		sf := SeedFile{Path: path}
		if err != nil {
			sf.Error = strings.TrimPrefix(err.Error(), "read capture "+path+": ")
			r.FilesFailed++
		}
		if c == nil {
			r.Files = append(r.Files, sf)
			continue
		}
		for lt, n := range c.Skipped {
			r.Skipped["link type "+lt] += n
			sf.Packets += n
		}
		for lt, n := range c.Malformed {
			r.Skipped["malformed "+lt+" header"] += n
			sf.Packets += n
		}
		sf.Packets += len(c.Packets)
		for _, p := range c.Packets {
			if p.Truncated {
				r.Truncated++
			}
			if p.Synthesized {
				r.Synthesized++
			}
			f := File{Entry: Entry{Packet: p.Data, Context: []byte{}, Ops: []byte{}}, Note: seedNote(p)}
			data := f.Marshal()
			name := FileName(data)
			id := name
			if opts.Dedupe {
				id = f.Entry.key()
				if present[id] {
					r.Present++
					continue
				}
			}
			if seen[id] {
				r.Duplicates++
				continue
			}
			seen[id] = true
			if opts.Max > 0 && r.Written >= opts.Max {
				if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
					r.Present++
				} else {
					r.OverMax++
				}
				continue
			}
			path, written, err := WriteFile(dir, f)
			var fe *FileError
			switch {
			case errors.As(err, &fe) && errors.Is(err, ErrExists):
				r.Bad = append(r.Bad, fmt.Sprintf("%s: %v, left in place (packet %d of %s)", path, ErrExists, p.Index, sf.Path))
			case err != nil:
				return r, err
			case written:
				r.Written++
				sf.Written++
			default:
				r.Present++
			}
		}
		r.Files = append(r.Files, sf)
	}
	for _, f := range r.Files {
		r.Packets += f.Packets
		if f.Error != "" && f.Packets == 0 {
			r.FilesUnreadable++
		}
	}
	return r, nil
}

// seedNote says how a captured packet differs from the frame on the wire.
func seedNote(p Packet) string {
	var notes []string
	if p.Synthesized {
		notes = append(notes, "bpffuzz seed: Ethernet header synthesized from "+LinkTypeName(p.LinkType))
	}
	if p.Truncated {
		prefix := "bpffuzz seed: "
		if p.Synthesized {
			prefix = ""
		}
		notes = append(notes, fmt.Sprintf("%scut by snaplen: %d of %d bytes captured", prefix, p.CaptureLen, p.WireLen))
	}
	return strings.Join(notes, "; ")
}
