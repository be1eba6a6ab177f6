package corpus

import (
	"errors"
	"fmt"
	"os"
)

// MergeOptions controls Merge. The zero value writes every distinct entry.
type MergeOptions struct {
	// Minimize, if set, chooses which new entries to write: it gets the
	// entries already in the output directory and the deduplicated new ones,
	// and returns the indexes into candidates to keep (a minimizer keeps a
	// smallest set with the union's coverage). nil, the default, keeps every
	// new entry. bpffuzz has no minimizer yet: this is where one plugs in.
	// Existing files are never removed, whatever it returns.
	Minimize func(existing, candidates []Entry) (keep []int, err error)
}

// MergeInput is what Merge found in one input.
type MergeInput struct {
	Path string `json:"path"`
	// Entries counts the corpus files that parsed.
	Entries int `json:"entries"`
	// Written counts the new files in the output from this input.
	Written int `json:"written"`
	// Bad lists the input's corpus files that do not parse ("path: error"),
	// skipped and left in place.
	Bad []string `json:"bad,omitempty"`
	// Other counts files that are not corpus files (a finding's report.txt).
	Other int `json:"other"`
	// Error is why the input could not be read at all.
	Error string `json:"error,omitempty"`
}

// MergeReport is what Merge did.
type MergeReport struct {
	Out    string       `json:"out"`
	Inputs []MergeInput `json:"inputs"`
	// Present counts input entries already in the output directory (by
	// content: packet, context and ops).
	Present int `json:"already_present"`
	// Duplicates counts input entries an earlier input (or an earlier file
	// of the same input) already had.
	Duplicates int `json:"duplicates"`
	// Written counts new files in the output directory.
	Written int `json:"written"`
	// Minimized counts distinct new entries MergeOptions.Minimize dropped.
	Minimized int `json:"minimized"`
	// Bad lists the output directory's own corpus files that do not parse;
	// left in place.
	Bad []string `json:"bad_out_files,omitempty"`
}

// Merge writes the union of corpus directories (or single corpus files) into
// the directory out, deduplicated by content, for corpora from several
// machines or nightly runs. Entries are written as WriteFile writes them
// (Go's format and names, notes kept); out's existing files are never
// changed or removed. Unreadable inputs and corrupt files are reported in
// the MergeReport and skipped. The error is for out, or from Minimize.
func Merge(out string, inputs []string, opts MergeOptions) (*MergeReport, error) {
	r := &MergeReport{Out: out}
	od, err := ReadDirFiles(out)
	if err != nil {
		return nil, err
	}
	have := map[string]bool{}
	var existing []Entry
	for _, f := range od.Files {
		have[f.Entry.key()] = true
		existing = append(existing, f.Entry)
	}
	for _, b := range od.Bad {
		r.Bad = append(r.Bad, b.Error())
	}

	type candidate struct {
		file  File
		input int
	}
	var cands []candidate
	seen := map[string]bool{}
	for i, in := range inputs {
		mi := MergeInput{Path: in}
		var files []File
		st, err := os.Stat(in)
		switch {
		case err != nil:
			mi.Error = err.Error()
		case st.IsDir():
			d, err := ReadDirFiles(in)
			if err != nil {
				mi.Error = err.Error()
				break
			}
			for _, f := range d.Files {
				files = append(files, f.File)
			}
			for _, b := range d.Bad {
				mi.Bad = append(mi.Bad, b.Error())
			}
			mi.Other = len(d.Other)
		default:
			f, err := readFile(in)
			if err != nil {
				mi.Bad = append(mi.Bad, err.Error())
				break
			}
			files = append(files, *f)
		}
		mi.Entries = len(files)
		for _, f := range files {
			k := f.Entry.key()
			switch {
			case have[k]:
				r.Present++
			case seen[k]:
				r.Duplicates++
			default:
				seen[k] = true
				cands = append(cands, candidate{f, i})
			}
		}
		r.Inputs = append(r.Inputs, mi)
	}

	keep := make([]bool, len(cands))
	if opts.Minimize == nil {
		for i := range keep {
			keep[i] = true
		}
	} else {
		entries := make([]Entry, len(cands))
		for i, c := range cands {
			entries[i] = c.file.Entry
		}
		idx, err := opts.Minimize(existing, entries)
		if err != nil {
			return r, fmt.Errorf("minimize: %w", err)
		}
		for _, i := range idx {
			if i < 0 || i >= len(cands) {
				return r, fmt.Errorf("minimize: index %d out of range [0, %d)", i, len(cands))
			}
			keep[i] = true
		}
	}
	for i, c := range cands {
		if !keep[i] {
			r.Minimized++
			continue
		}
		path, written, err := WriteFile(out, c.file)
		switch {
		case errors.Is(err, ErrExists):
			r.Bad = append(r.Bad, fmt.Sprintf("%s: %v, left in place", path, ErrExists))
		case err != nil:
			return r, err
		case written:
			r.Written++
			r.Inputs[c.input].Written++
		default:
			// The same file, with a note the content key ignores.
			r.Present++
		}
	}
	return r, nil
}
