package cover

import (
	"cmp"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Profile accumulates coverage over many runs of one instrumented program.
type Profile struct {
	Layout *Layout
	// Counts[i] is how many runs hit block i.
	Counts []uint64
	// Runs is how many runs were added.
	Runs int
}

// NewProfile starts an empty profile for a layout.
func NewProfile(l *Layout) *Profile {
	return &Profile{Layout: l, Counts: make([]uint64, len(l.Blocks))}
}

// Add records one run's hits (Map.Hits).
func (p *Profile) Add(hits []byte) {
	p.Runs++
	for i, h := range hits[:min(len(hits), len(p.Counts))] {
		if h != 0 {
			p.Counts[i]++
		}
	}
}

// Summary is block and line coverage, in total and per function.
type Summary struct {
	Runs         int     `json:"runs"`
	BlocksHit    int     `json:"blocks_hit"`
	BlocksTotal  int     `json:"blocks_total"`
	BlockPercent float64 `json:"block_percent"`
	LinesHit     int     `json:"lines_hit"`
	LinesTotal   int     `json:"lines_total"`
	LinePercent  float64 `json:"line_percent"`
	Unprobed     int     `json:"unprobed_blocks"`
	// EdgesHit and EdgesTotal count the branch edges with a probe of
	// their own (Block.Edge).
	EdgesHit   int           `json:"edges_hit"`
	EdgesTotal int           `json:"edges_total"`
	Functions  []FuncSummary `json:"functions"`
}

// FuncSummary is the coverage of one function.
type FuncSummary struct {
	Name         string  `json:"name"`
	BlocksHit    int     `json:"blocks_hit"`
	BlocksTotal  int     `json:"blocks_total"`
	BlockPercent float64 `json:"block_percent"`
	LinesHit     int     `json:"lines_hit"`
	LinesTotal   int     `json:"lines_total"`
	LinePercent  float64 `json:"line_percent"`
}

func percent(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(int(1000*float64(a)/float64(b)+0.5)) / 10
}

// lineKey identifies a source line.
type lineKey struct {
	file string
	line int
}

// LineCoverage says, per source line that has instructions in a probed
// block, whether any run executed it.
func (p *Profile) LineCoverage() map[lineKey]bool {
	out := map[lineKey]bool{}
	for i, b := range p.Layout.Blocks {
		if !b.Probed {
			continue
		}
		for _, l := range b.Lines {
			k := lineKey{l.File, l.Line}
			out[k] = out[k] || p.Counts[i] > 0
		}
	}
	return out
}

// Uncovered returns the source lines with instructions in probed blocks that
// no run executed, sorted by file and line.
func (p *Profile) Uncovered() []Line {
	seen := map[lineKey]bool{}
	var out []Line
	for i, b := range p.Layout.Blocks {
		if !b.Probed || p.Counts[i] > 0 {
			continue
		}
		for _, l := range b.Lines {
			k := lineKey{l.File, l.Line}
			if !seen[k] {
				seen[k] = true
				out = append(out, l)
			}
		}
	}
	cov := p.LineCoverage()
	out = slices.DeleteFunc(out, func(l Line) bool { return cov[lineKey{l.File, l.Line}] })
	slices.SortFunc(out, func(a, b Line) int {
		if c := strings.Compare(a.File, b.File); c != 0 {
			return c
		}
		return a.Line - b.Line
	})
	return out
}

// Summary computes the summary. Blocks without a probe are not counted.
func (p *Profile) Summary() Summary {
	s := Summary{Runs: p.Runs, Unprobed: p.Layout.Unprobed}
	type acc struct {
		hit, total int
		lines      map[lineKey]bool
	}
	funcs := map[string]*acc{}
	var order []string
	for i, b := range p.Layout.Blocks {
		if b.Edge {
			s.EdgesTotal++
			if p.Counts[i] > 0 {
				s.EdgesHit++
			}
			continue
		}
		if !b.Probed {
			continue
		}
		a := funcs[b.Func]
		if a == nil {
			a = &acc{lines: map[lineKey]bool{}}
			funcs[b.Func] = a
			order = append(order, b.Func)
		}
		a.total++
		s.BlocksTotal++
		if p.Counts[i] > 0 {
			a.hit++
			s.BlocksHit++
		}
		for _, l := range b.Lines {
			k := lineKey{l.File, l.Line}
			a.lines[k] = a.lines[k] || p.Counts[i] > 0
		}
	}
	for _, hit := range p.LineCoverage() {
		s.LinesTotal++
		if hit {
			s.LinesHit++
		}
	}
	s.BlockPercent, s.LinePercent = percent(s.BlocksHit, s.BlocksTotal), percent(s.LinesHit, s.LinesTotal)
	for _, name := range order {
		a := funcs[name]
		f := FuncSummary{Name: name, BlocksHit: a.hit, BlocksTotal: a.total, BlockPercent: percent(a.hit, a.total)}
		for _, hit := range a.lines {
			f.LinesTotal++
			if hit {
				f.LinesHit++
			}
		}
		f.LinePercent = percent(f.LinesHit, f.LinesTotal)
		s.Functions = append(s.Functions, f)
	}
	return s
}

// WriteText prints a short summary table.
func (p *Profile) WriteText(w io.Writer) error {
	s := p.Summary()
	fmt.Fprintf(w, "%d runs: %d/%d blocks (%.1f%%), %d/%d lines (%.1f%%)", s.Runs, s.BlocksHit, s.BlocksTotal, s.BlockPercent, s.LinesHit, s.LinesTotal, s.LinePercent)
	if s.EdgesTotal > 0 {
		fmt.Fprintf(w, ", %d/%d branch edges", s.EdgesHit, s.EdgesTotal)
	}
	if s.Unprobed > 0 {
		fmt.Fprintf(w, ", %d blocks without a probe not counted", s.Unprobed)
	}
	fmt.Fprintln(w)
	width := 8
	for _, f := range s.Functions {
		width = max(width, len(f.Name))
	}
	fmt.Fprintf(w, "%-*s  %13s  %13s\n", width, "FUNCTION", "BLOCKS", "LINES")
	for _, f := range s.Functions {
		fmt.Fprintf(w, "%-*s  %4d/%-4d %3.0f%%  %4d/%-4d %3.0f%%\n", width, f.Name, f.BlocksHit, f.BlocksTotal, f.BlockPercent, f.LinesHit, f.LinesTotal, f.LinePercent)
	}
	return nil
}

// WriteJSON writes the summary as JSON.
func (p *Profile) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(p.Summary())
}

// WriteHTML writes a page showing each source file with covered lines in
// green and uncovered ones in red, like go tool cover -html. Source files
// are looked up relative to dir (the object's directory, since BTF records
// paths relative to where the object was compiled); a missing file is shown
// from the lines BTF carries.
func (p *Profile) WriteHTML(w io.Writer, title, dir string) error {
	cov := p.LineCoverage()
	btfText := map[lineKey]string{}
	files := map[string]bool{}
	for _, b := range p.Layout.Blocks {
		for _, l := range b.Lines {
			btfText[lineKey{l.File, l.Line}] = l.Text
			files[l.File] = true
		}
	}
	type row struct {
		N     int
		Text  string
		Class string
	}
	type file struct {
		Name    string
		Note    string
		Rows    []row
		Percent float64
	}
	var pages []file
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for f := range files {
			if !yield(f) {
				return
			}
		}
	}) {
		f := file{Name: name}
		hit, total := 0, 0
		src, err := os.ReadFile(filepath.Join(dir, name))
		var text []string
		if err == nil {
			text = strings.Split(strings.TrimRight(string(src), "\n"), "\n")
		} else {
			f.Note = "source not found; showing the lines BTF recorded"
			maxLine := 0
			for k := range btfText {
				if k.file == name {
					maxLine = max(maxLine, k.line)
				}
			}
			text = make([]string, maxLine)
			for k, t := range btfText {
				if k.file == name {
					text[k.line-1] = t
				}
			}
		}
		for i, t := range text {
			r := row{N: i + 1, Text: t}
			if c, ok := cov[lineKey{name, i + 1}]; ok {
				total++
				r.Class = "miss"
				if c {
					hit++
					r.Class = "hit"
				}
			}
			f.Rows = append(f.Rows, r)
		}
		f.Percent = percent(hit, total)
		pages = append(pages, f)
	}
	slices.SortFunc(pages, func(a, b file) int { return cmp.Compare(a.Name, b.Name) })
	return htmlPage.Execute(w, map[string]any{"Title": title, "Summary": p.Summary(), "Files": pages})
}

var htmlPage = template.Must(template.New("cover").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{{.Title}} coverage</title>
<style>
body { font-family: sans-serif; margin: 1em; }
pre { font-family: monospace; margin: 0; }
.hit { background: #c8f0c8; } .miss { background: #f5c6c6; }
.n { color: #888; display: inline-block; width: 4em; text-align: right; padding-right: 1em; user-select: none; }
table.sum td, table.sum th { padding: 0 1em; text-align: right; } table.sum td:first-child, table.sum th:first-child { text-align: left; }
</style></head><body>
<h1>{{.Title}}</h1>
<p>{{.Summary.Runs}} runs: {{.Summary.BlocksHit}}/{{.Summary.BlocksTotal}} blocks ({{.Summary.BlockPercent}}%),
{{.Summary.LinesHit}}/{{.Summary.LinesTotal}} lines ({{.Summary.LinePercent}}%).
<span class="hit">covered</span> <span class="miss">not covered</span></p>
<table class="sum"><tr><th>function</th><th>blocks</th><th>lines</th></tr>
{{range .Summary.Functions}}<tr><td>{{.Name}}</td><td>{{.BlocksHit}}/{{.BlocksTotal}} ({{.BlockPercent}}%)</td><td>{{.LinesHit}}/{{.LinesTotal}} ({{.LinePercent}}%)</td></tr>
{{end}}</table>
{{range .Files}}<h2>{{.Name}} ({{.Percent}}% of lines)</h2>{{if .Note}}<p><i>{{.Note}}</i></p>{{end}}
<pre>{{range .Rows}}<span class="{{.Class}}"><span class="n">{{.N}}</span>{{.Text}}</span>
{{end}}</pre>
{{end}}</body></html>
`))
