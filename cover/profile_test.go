package cover

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/bpffuzz/bpffuzz/bpf"
	"github.com/bpffuzz/bpffuzz/corpus"
	"github.com/bpffuzz/bpffuzz/internal/kerneltest"
)

func TestProfile(t *testing.T) {
	kerneltest.Skip(t)
	p, err := Load("../examples/xdp_parser.o", "xdp_parser", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c, err := corpus.ReadFile("../examples/testdata/sample.pcapng")
	if err != nil {
		t.Fatal(err)
	}
	prof := NewProfile(p.Layout)
	for _, pkt := range c.Packets {
		p.Cover.Reset()
		if _, err := p.Run(bpf.Input{Packet: pkt.Data}); err != nil {
			t.Fatal(err)
		}
		prof.Add(p.Cover.Hits())
	}
	s := prof.Summary()
	if s.Runs != 4 || s.BlocksHit == 0 || s.BlocksHit >= s.BlocksTotal || s.LinesTotal == 0 || s.LinesHit == 0 {
		t.Fatalf("summary %+v", s)
	}
	if len(s.Functions) == 0 || s.Functions[0].Name != "xdp_parser" {
		t.Errorf("functions %+v", s.Functions)
	}
	// More traffic never lowers coverage, and the same runs again change no percentage.
	before := s
	for _, pkt := range c.Packets {
		p.Cover.Reset()
		p.Run(bpf.Input{Packet: pkt.Data})
		prof.Add(p.Cover.Hits())
	}
	if after := prof.Summary(); after.BlocksHit != before.BlocksHit || after.Runs != 8 {
		t.Errorf("repeating the runs changed coverage: %+v then %+v", before, after)
	}

	var text, js, html bytes.Buffer
	prof.WriteText(&text)
	if !strings.Contains(text.String(), "xdp_parser") || !strings.Contains(text.String(), "blocks") {
		t.Errorf("text:\n%s", text.String())
	}
	prof.WriteJSON(&js)
	var m map[string]any
	if err := json.Unmarshal(js.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"blocks_hit", "blocks_total", "block_percent", "functions"} {
		if _, ok := m[k]; !ok {
			t.Errorf("json lacks %s", k)
		}
	}
	if err := prof.WriteHTML(&html, "xdp_parser", "../examples"); err != nil {
		t.Fatal(err)
	}
	h := html.String()
	if !strings.Contains(h, `class="hit"`) || !strings.Contains(h, `class="miss"`) || !strings.Contains(h, "parse_ipv4") && !strings.Contains(h, "iphdr") {
		t.Errorf("html does not mark the C source")
	}
	if strings.Contains(h, "source not found") {
		t.Errorf("html did not find ../examples/xdp_parser.c")
	}
}
