package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bpffuzz/bpffuzz/corpus"
	"github.com/bpffuzz/bpffuzz/internal/kerneltest"
)

// TestFuzzReplayCover: bpffuzz fuzz finds xdp_deep's planted bug from
// ordinary traffic and writes the finding; replay reproduces it from the
// corpus file alone; cover reports the corpus the fuzzer grew.
func TestFuzzReplayCover(t *testing.T) {
	kerneltest.Skip(t)
	dir := t.TempDir()
	corpusDir, findings := filepath.Join(dir, "corpus"), filepath.Join(dir, "findings")
	out, stderr, code := runCLI(t, "fuzz", examples+"planted.o", "xdp_deep", "--seed", examples+"testdata/sample.pcapng",
		"--time", "60s", "--workers", "1", "--corpus", corpusDir, "--findings", findings, "--json")
	if code != 3 {
		t.Fatalf("fuzz exit %d, want 3 (a finding)\n%s\n%s", code, out, stderr)
	}
	var st struct {
		Execs       int      `json:"execs"`
		BlocksHit   int      `json:"blocks_hit"`
		BlocksTotal int      `json:"blocks_total"`
		Findings    []string `json:"findings"`
	}
	if err := json.Unmarshal([]byte(out[strings.Index(out, "{"):]), &st); err != nil {
		t.Fatalf("fuzz --json: %v\n%s", err, out)
	}
	if len(st.Findings) != 1 || !strings.HasSuffix(st.Findings[0], filepath.Join("xdp_deep", "retval")) || st.BlocksTotal == 0 || st.BlocksHit == 0 {
		t.Fatalf("stats %+v", st)
	}
	fdir := st.Findings[0]
	report, err := os.ReadFile(filepath.Join(fdir, "report.txt"))
	if err != nil {
		t.Fatal(err)
	}
	// The layers line: the packet that finds xdp_deep is IPv4 carrying
	// VXLAN, though it may parse as a fragment (xdp_deep ignores the
	// fragment bits).
	for _, want := range []string{"retval: returned 7", "xdp_deep", "layers  Ethernet / IPv4 / ", "bpffuzz replay"} {
		if !strings.Contains(string(report), want) {
			t.Errorf("report.txt lacks %q:\n%s", want, report)
		}
	}
	if _, err := os.Stat(filepath.Join(fdir, "packets.pcapng")); err != nil {
		t.Error(err)
	}
	entries, _ := filepath.Glob(filepath.Join(fdir, "[0-9a-f]*"))
	if len(entries) != 1 {
		t.Fatalf("finding files %v, want one go test fuzz v1 file", entries)
	}

	out, stderr, code = runCLI(t, "replay", examples+"planted.o", "xdp_deep", entries[0])
	if code != 3 || !strings.Contains(out, "retval: returned 7") {
		t.Errorf("replay exit %d, want 3 with the finding\n%s\n%s", code, out, stderr)
	}

	page := filepath.Join(dir, "cover.html")
	out, stderr, code = runCLI(t, "cover", examples+"planted.o", "xdp_deep", corpusDir, "--json", "--uncovered", "--html", page)
	if code != 0 {
		t.Fatalf("cover exit %d\n%s\n%s", code, out, stderr)
	}
	var cov struct {
		BlocksHit    int     `json:"blocks_hit"`
		BlocksTotal  int     `json:"blocks_total"`
		BlockPercent float64 `json:"block_percent"`
		Functions    []struct {
			Name      string `json:"name"`
			BlocksHit int    `json:"blocks_hit"`
		} `json:"functions"`
	}
	if err := json.Unmarshal([]byte(out), &cov); err != nil {
		t.Fatalf("cover --json: %v\n%s", err, out)
	}
	if cov.BlocksTotal != st.BlocksTotal || cov.BlocksHit == 0 || len(cov.Functions) != 1 || cov.Functions[0].Name != "xdp_deep" {
		t.Errorf("cover %+v, fuzz stats %+v", cov, st)
	}
	html, err := os.ReadFile(page)
	if err != nil || !strings.Contains(string(html), "planted.c") {
		t.Errorf("cover --html: %v, page without the source file name", err)
	}
}

func TestFuzzCommandErrors(t *testing.T) {
	kerneltest.Skip(t)
	dir := t.TempDir()
	badMaps := filepath.Join(dir, "maps.json")
	os.WriteFile(badMaps, []byte(`{"maps": {"blocklist": [{"key": 1, "value": {"action": 1}}]}}`), 0o644)
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"fuzz", examples + "planted.o", "nope", "--time", "1s"}, 1, `no program "nope": the object has tc_csum`},
		{[]string{"fuzz", filepath.Join(dir, "missing.o"), "x", "--time", "1s"}, 1, "missing.o"},
		{[]string{"fuzz", examples + "maps_config.o", "xdp_config", "--maps", badMaps, "--time", "1s"}, 1, "action: not a struct"},
		{[]string{"fuzz", examples + "planted.o"}, 2, ""},
		{[]string{"cover", examples + "planted.o", "xdp_deep", dir}, 1, "no corpus entries"},
		{[]string{"cover", examples + "planted.o", "xdp_deep"}, 2, "cover takes OBJECT, PROGRAM and corpus"},
	} {
		out, stderr, code := runCLI(t, c.args...)
		if code != c.code || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, want %d with %q\n%s%s", c.args, code, c.code, c.want, out, stderr)
		}
	}
}

// TestCoverSeedNote checks that cover and replay say when entries with ops
// are replayed without the seeds their splices read, and not with --seed.
func TestCoverSeedNote(t *testing.T) {
	kerneltest.Skip(t)
	dir := t.TempDir()
	ops := []byte{0xff, 1, 2, 3, 4}
	if _, err := corpus.WriteEntry(dir, corpus.Entry{Packet: make([]byte, 64), Ops: ops}); err != nil {
		t.Fatal(err)
	}
	for _, cmd := range []string{"cover", "replay"} {
		_, stderr, code := runCLI(t, cmd, examples+"planted.o", "xdp_tlv", dir)
		if code != 0 || !strings.Contains(stderr, "1 of 1 entries carry mutation ops") || !strings.Contains(stderr, "--seed PCAP") {
			t.Errorf("%s without --seed: exit %d, stderr %q", cmd, code, stderr)
		}
		_, stderr, code = runCLI(t, cmd, examples+"planted.o", "xdp_tlv", dir, "--seed", examples+"testdata/sample.pcapng")
		if code != 0 || strings.Contains(stderr, "mutation ops") {
			t.Errorf("%s --seed: exit %d, stderr %q", cmd, code, stderr)
		}
	}
}
