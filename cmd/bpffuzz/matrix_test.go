package main

import (
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/bpffuzz/bpffuzz/bpf"
	"github.com/bpffuzz/bpffuzz/corpus"
	"github.com/bpffuzz/bpffuzz/internal/kerneltest"
)

const matrix = "testdata/matrix/"

// The adjust-*.json and tc-*.json records are real: written by replay
// --record on the 6.18 host and on Debian's 6.1 under scripts/qemu-run.sh
// (testdata/matrix/README.md).
func TestDiff(t *testing.T) {
	out, errs, code := runCLI(t, "diff", matrix+"adjust-6.18.json", matrix+"adjust-6.1.json")
	if code != 3 {
		t.Fatalf("diff of adjust records: exit %d (want 3, they differ): %s", code, errs)
	}
	golden(t, "diff_adjust", out)

	out, errs, code = runCLI(t, "diff", matrix+"tc-6.18.json", matrix+"tc-6.1.json")
	if code != 0 || !strings.Contains(out, "0 of 9 entries differ") {
		t.Errorf("diff of tc records: exit %d (want 0), %q %s", code, out, errs)
	}

	out, _, code = runCLI(t, "diff", "--json", matrix+"adjust-6.18.json", matrix+"adjust-6.1.json")
	var j struct {
		Entries int `json:"entries"`
		Differ  []outcomeDiff
	}
	if code != 3 || json.Unmarshal([]byte(out), &j) != nil {
		t.Fatalf("diff --json: exit %d, %q", code, out)
	}
	if j.Entries != 8 || len(j.Differ) != 8 {
		t.Fatalf("diff --json: %d entries, %d differ; want 8 and 8", j.Entries, len(j.Differ))
	}
	for _, d := range j.Differ {
		if d.A == nil || d.B == nil || d.A.Retval != 2 || int32(d.B.Retval) != -int32(syscall.EACCES) {
			t.Errorf("%s: want XDP_PASS on 6.18 and -EACCES on 6.1, got %+v and %+v", d.Key, d.A, d.B)
		}
	}
}

func TestDiffOnlyInOne(t *testing.T) {
	a, err := readRecord(matrix + "tc-6.18.json")
	if err != nil {
		t.Fatal(err)
	}
	b := *a
	b.Entries = b.Entries[1:]
	d := diffRecords(a, &b)
	if len(d) != 1 || d[0].Fields[0] != "only_in" || d[0].B != nil || d[0].Key != a.Entries[0].Key {
		t.Errorf("diff of a record and itself less one entry: %+v", d)
	}
}

func TestDiffErrors(t *testing.T) {
	dir := t.TempDir()
	old := filepath.Join(dir, "old.json")
	if err := os.WriteFile(old, []byte(`{"version": 0, "entries": []}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"one file", []string{"diff", matrix + "tc-6.18.json"}, 2, "two record files"},
		{"missing", []string{"diff", matrix + "tc-6.18.json", filepath.Join(dir, "nope.json")}, 1, "no such file"},
		{"not json", []string{"diff", matrix + "tc-6.18.json", matrix + "tc/1f4d6ef71a77ca37"}, 1, "is not a record (write one with bpffuzz replay"},
		{"old version", []string{"diff", old, matrix + "tc-6.18.json"}, 1, "record it again"},
		{"other program", []string{"diff", matrix + "tc-6.18.json", matrix + "adjust-6.1.json"}, 1, "compare records of the same program"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, errs, code := runCLI(t, tc.args...)
			if code != tc.code || !strings.Contains(errs, tc.want) {
				t.Errorf("exit %d (want %d), stderr %q (want it to mention %q)", code, tc.code, errs, tc.want)
			}
		})
	}
}

// TestReplayRecord records a corpus on this kernel and checks each entry
// against what the kernel's probes say it accepts.
func TestReplayRecord(t *testing.T) {
	kerneltest.Skip(t)
	dir := t.TempDir()
	rec := filepath.Join(dir, "tc.json")
	_, errs, code := runCLI(t, "replay", examples+"tc_rewrite.o", "tc_rewrite", matrix+"tc", "--record", rec)
	if code != 0 {
		t.Fatalf("replay --record: exit %d: %s", code, errs)
	}
	r, err := readRecord(rec)
	if err != nil {
		t.Fatal(err)
	}
	if r.Kernel != kernelRelease() || r.Program != "tc_rewrite" || r.Object != "tc_rewrite.o" || len(r.Entries) != 9 {
		t.Fatalf("record of kernel %q, %s %s, %d entries", r.Kernel, r.Object, r.Program, len(r.Entries))
	}
	shortRejected := bpf.HaveShortIPFrameCheck() == nil
	for _, e := range r.Entries {
		ce, err := corpus.ReadEntry(filepath.Join(matrix+"tc", e.Key))
		if err != nil {
			t.Fatal(err)
		}
		if e.Input != hex.EncodeToString(ce.Packet) {
			t.Errorf("%s: recorded input %s, the entry's packet is %x", e.Key, e.Input, ce.Packet)
		}
		if short := isShortIPFrame(ce.Packet); e.Skipped != (short && shortRejected) {
			t.Errorf("%s (%d bytes): skipped %v; short IP frame %v, kernel rejects short IP frames %v",
				e.Key, len(ce.Packet), e.Skipped, short, shortRejected)
		}
		if !e.Skipped && (e.Output == "" || e.ContextOut == "" || e.RetvalName != "TC_ACT_OK") {
			t.Errorf("%s: ran but recorded %+v", e.Key, e)
		}
	}

	// bpf_xdp_adjust_meta(-36) fits 6.18's metadata limit, not 6.1's 32.
	rec = filepath.Join(dir, "adjust.json")
	_, errs, code = runCLI(t, "replay", fixtures+"adjust.o", "xdp_adjust", matrix+"xdp", "--maps", matrix+"meta36.json", "--record", rec)
	if code != 0 && code != 3 {
		t.Fatalf("replay --record: exit %d: %s", code, errs)
	}
	if r, err = readRecord(rec); err != nil {
		t.Fatal(err)
	}
	limit, err := bpf.XDPMetadataLimit()
	if err != nil {
		t.Fatalf("probe the XDP metadata limit: %v", err)
	}
	for _, e := range r.Entries {
		switch {
		case limit >= 36 && (e.Retval != 2 || len(e.Output) != len(e.Input)+2*36):
			t.Errorf("%s: metadata limit %d, want XDP_PASS with 36 bytes of metadata in front: %+v", e.Key, limit, e)
		case limit < 36 && (int32(e.Retval) != -int32(syscall.EACCES) || e.Output != e.Input):
			t.Errorf("%s: metadata limit %d, want -EACCES and the packet unchanged: %+v", e.Key, limit, e)
		}
	}
}

// isShortIPFrame is an IPv4 frame shorter than 34 bytes or an IPv6 one
// shorter than 54: what kernels with the 2026 check reject.
func isShortIPFrame(p []byte) bool {
	if len(p) < 14 {
		return false
	}
	switch string(p[12:14]) {
	case "\x08\x00":
		return len(p) < 34
	case "\x86\xdd":
		return len(p) < 54
	}
	return false
}
