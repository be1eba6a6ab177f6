package corpus

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"go/scanner"
	"go/token"
	"strconv"
	"strings"
	"unicode"
)

// header is the first line of every file in Go's corpus format
// (internal/fuzz encVersion1).
const header = "go test fuzz v1"

// ErrMalformed is wrapped by every error ParseFile returns: the bytes are not
// a bpffuzz entry in the `go test fuzz v1` format.
var ErrMalformed = errors.New("not a bpffuzz corpus entry")

// File is one corpus file: the entry, and the note bpffuzz wrote beside it.
type File struct {
	Entry Entry
	// Note is the text of the comments on the file's value lines, joined
	// with "; " (bpffuzz seed notes a synthesized Ethernet header or a frame
	// cut by snaplen this way); empty when there are none. Go's reader
	// ignores comments (it parses each line with go/parser), so a noted file
	// still replays under plain `go test`.
	Note string
	// Bytes reports that the values are []byte literals, the form bpffuzz
	// wrote before fuzz targets took strings. bpffuzz reads both forms;
	// Go's engine takes only the form of the target's arguments.
	Bytes bool
}

// Marshal returns f in the `go test fuzz v1` format. Without a note the
// bytes are exactly what Go's own marshaller writes for three string
// values (`string(%q)` per line), the arguments of Target.Fuzz, so Go and
// bpffuzz give the file the same name. A note goes after the packet line
// as a `//` comment, cleaned by the same rule ParseFile applies
// (non-printable runes become spaces, runs of spaces one).
//
// (Strings, not []byte: Go's mutator keeps the []byte arguments it mutates
// in one scratch buffer, so that in a chain of mutations one []byte
// argument overwrites another; internal/fuzz, mutator.go, Go 1.26. A
// string argument is copied out of it.)
func (f File) Marshal() []byte {
	var b bytes.Buffer
	b.WriteString(header + "\n")
	fmt.Fprintf(&b, "string(%q)", f.Entry.Packet)
	if note := cleanNote(f.Note); note != "" {
		b.WriteString(" // " + note)
	}
	fmt.Fprintf(&b, "\nstring(%q)\nstring(%q)\n", f.Entry.Context, f.Entry.Ops)
	return b.Bytes()
}

// Marshal returns e as a `go test fuzz v1` file, byte for byte what Go's
// marshaller writes for the values (packet, context, ops string).
func Marshal(e Entry) []byte { return File{Entry: e}.Marshal() }

// FileName returns the file name Go gives corpus file contents data: the
// first 16 hex digits of its SHA-256 (internal/fuzz writeToCorpus). Equal
// files get equal names, so a duplicate is written once.
func FileName(data []byte) string {
	return fmt.Sprintf("%x", sha256.Sum256(data))[:16]
}

// key identifies an entry by content alone, whatever its note: the Go name
// of its note-less file.
func (e Entry) key() string { return FileName(Marshal(e)) }

// Parse parses a corpus file into its entry, dropping any note; see
// ParseFile.
func Parse(data []byte) (Entry, error) {
	f, err := ParseFile(data)
	if err != nil {
		return Entry{}, err
	}
	return f.Entry, nil
}

// ParseFile parses a corpus file in the `go test fuzz v1` format holding a
// bpffuzz entry: exactly three string values (packet, context, ops), or
// three []byte values (File.Bytes). It accepts what Go's reader accepts for
// such values (interpreted string or raw string literals, comments, CRLF
// line ends, blank lines) and parses the literals without evaluating
// anything. Other value types, and a mix of the two, are rejected with an
// error naming the type. The error wraps ErrMalformed and is non-nil
// exactly when the result is nil.
func ParseFile(data []byte) (*File, error) {
	f, err := parseFile(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return f, nil
}

func parseFile(data []byte) (*File, error) {
	if len(data) == 0 {
		return nil, errors.New("empty file")
	}
	lines := bytes.Split(data, []byte("\n"))
	if len(lines) < 2 {
		return nil, fmt.Errorf("want the line %q and three values", header)
	}
	if v := strings.TrimSuffix(string(lines[0]), "\r"); v != header {
		return nil, fmt.Errorf("first line is %.40q, want %q", v, header)
	}
	var (
		vals  [][]byte
		types []string
		notes []string
	)
	for i, line := range lines[1:] {
		line = bytes.TrimSpace(line) // as Go does: \r, blanks and blank lines go
		if len(line) == 0 {
			continue
		}
		v, typ, lineNotes, err := parseValue(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %v", i+2, err)
		}
		if len(vals) == 3 {
			return nil, fmt.Errorf("line %d: a fourth value; %s", i+2, threeValues)
		}
		if len(types) > 0 && typ != types[0] {
			return nil, fmt.Errorf("line %d: a %s value after a %s one; %s", i+2, typ, types[0], threeValues)
		}
		vals = append(vals, v)
		types = append(types, typ)
		notes = append(notes, lineNotes...)
	}
	if len(vals) != 3 {
		return nil, fmt.Errorf("%d values; %s", len(vals), threeValues)
	}
	return &File{
		Entry: Entry{Packet: vals[0], Context: vals[1], Ops: vals[2]},
		Note:  cleanNote(strings.Join(notes, "; ")),
		Bytes: types[0] == "[]byte",
	}, nil
}

const threeValues = "bpffuzz entries are three string values (packet, context, ops), or three []byte values"

// parseValue parses one value line, `string(LITERAL)` or `[]byte(LITERAL)`,
// by its tokens, and returns the value and its type. It follows the grammar
// go/parser.ParseExpr gives such a line, as Go's reader uses it: comments
// anywhere, a trailing comma or `...` after the argument, and only the
// semicolon the scanner inserts at the end.
func parseValue(line []byte) (val []byte, typ string, notes []string, err error) {
	var (
		s    scanner.Scanner
		errs scanner.ErrorList
		toks []tok
	)
	fset := token.NewFileSet()
	file := fset.AddFile("", fset.Base(), len(line))
	s.Init(file, line, func(pos token.Position, msg string) { errs.Add(pos, msg) }, scanner.ScanComments)
	for {
		_, t, lit := s.Scan()
		if t == token.COMMENT {
			notes = append(notes, commentText(lit))
			continue
		}
		if t == token.EOF {
			break
		}
		toks = append(toks, tok{t, lit})
		if len(toks) > 16 {
			break // longer than any value line; the grammar check says why
		}
	}
	if errs.Len() > 0 {
		return nil, "", nil, fmt.Errorf("column %d: %s", errs[0].Pos.Column, errs[0].Msg)
	}
	// The semicolon inserted at the end of the line (literal "\n").
	if n := len(toks); n > 0 && toks[n-1].t == token.SEMICOLON && toks[n-1].lit == "\n" {
		toks = toks[:n-1]
	}
	typ = valueType(toks)
	var rest []tok
	switch typ {
	case "string": // string ( STRING [...] [,] )
		rest = toks[2:]
	case "[]byte": // [ ] byte ( STRING [...] [,] )
		switch toks[3].t {
		case token.LPAREN:
		case token.LBRACE:
			return nil, "", nil, errors.New("[]byte{...} literal; Go's reader takes only []byte(\"...\")")
		default:
			return nil, "", nil, fmt.Errorf("want []byte(\"...\"), found %q after []byte", toks[3].t)
		}
		rest = toks[4:]
	default:
		return nil, "", nil, fmt.Errorf("a %s value; %s", typ, threeValues)
	}
	if len(rest) == 0 || rest[0].t != token.STRING {
		return nil, "", nil, fmt.Errorf("want a string literal in %s(...)", typ)
	}
	lit := rest[0].lit
	rest = rest[1:]
	if len(rest) > 0 && rest[0].t == token.ELLIPSIS {
		rest = rest[1:]
	}
	if len(rest) > 0 && rest[0].t == token.COMMA {
		rest = rest[1:]
	}
	if len(rest) != 1 || rest[0].t != token.RPAREN {
		return nil, "", nil, fmt.Errorf("want %s(\"...\") with one string literal and nothing after it", typ)
	}
	v, err := strconv.Unquote(lit)
	if err != nil {
		return nil, "", nil, fmt.Errorf("string literal: %v", err)
	}
	return []byte(v), typ, notes, nil
}

type tok struct {
	t   token.Token
	lit string
}

// valueType names the type a value line converts to, for error messages:
// "[]byte" for a []byte( conversion.
func valueType(toks []tok) string {
	switch {
	case len(toks) >= 4 && toks[0].t == token.LBRACK && toks[1].t == token.RBRACK && toks[2].t == token.IDENT:
		if toks[2].lit == "byte" && (toks[3].t == token.LPAREN || toks[3].t == token.LBRACE) {
			return "[]byte"
		}
		return "[]" + toks[2].lit
	case len(toks) >= 3 && toks[0].t == token.IDENT && toks[0].lit == "math" && toks[1].t == token.PERIOD:
		return "float (math." + toks[2].lit + ")"
	case len(toks) >= 2 && toks[0].t == token.IDENT && toks[1].t == token.LPAREN:
		return toks[0].lit
	}
	return "malformed"
}

// commentText is a comment without its delimiters.
func commentText(lit string) string {
	if s, ok := strings.CutPrefix(lit, "//"); ok {
		return s
	}
	return strings.TrimSuffix(strings.TrimPrefix(lit, "/*"), "*/")
}

// cleanNote makes a note fit on one comment line: non-printable runes
// become spaces, and runs of spaces one. It is idempotent.
func cleanNote(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == unicode.ReplacementChar || !unicode.IsPrint(r) {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(s, " "))
	return strings.Join(strings.Fields(s), " ")
}
