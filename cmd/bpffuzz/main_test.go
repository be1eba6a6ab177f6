package main

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/bpffuzz/bpffuzz/bpf"
	"github.com/bpffuzz/bpffuzz/internal/kerneltest"
)

var update = flag.Bool("update", false, "rewrite golden files")

const (
	examples = "../../examples/"
	fixtures = "../../bpf/testdata/"
	// An IPv4/UDP frame to 192.0.2.1:53 (tc_rewrite rewrites it; sock_filter keeps it).
	udpToDoc = "0200000000020200000000010800" + "4500002400010000401100000a000001c0000201" + "3039003500100000" + "6869212100000000"
)

func runCLI(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = exitCode(run(args, &out, &errb), &errb)
	return out.String(), errb.String(), code
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from %s (go test -update rewrites it):\n%s", name, path, got)
	}
}

func TestList(t *testing.T) {
	for _, obj := range []string{"maps_config", "tail_call"} {
		out, errs, code := runCLI(t, "list", examples+obj+".o")
		if code != 0 {
			t.Fatalf("list %s: exit %d: %s", obj, code, errs)
		}
		golden(t, "list_"+obj, out)
	}
	out, _, code := runCLI(t, "list", fixtures+"types.o", "--json")
	var o bpf.Object
	if code != 0 || json.Unmarshal([]byte(out), &o) != nil {
		t.Fatalf("list --json: exit %d, %q", code, out)
	}
	for _, p := range o.Programs {
		if p.Name == "kprobe_prog" && (p.Runnable || !strings.Contains(p.Reason, "kprobe")) {
			t.Errorf("kprobe_prog listed as %+v", p)
		}
		if p.Name == "xdp_linlen" && !p.Runnable {
			t.Errorf("xdp_linlen not runnable: %+v", p)
		}
	}
}

func runJSON(t *testing.T, args ...string) runReport {
	t.Helper()
	kerneltest.Skip(t)
	out, errs, code := runCLI(t, append([]string{"run", "--json"}, args...)...)
	if code != 0 {
		t.Fatalf("run %v: exit %d: %s", args, code, errs)
	}
	var r runReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("run --json output: %v\n%s", err, out)
	}
	return r
}

func TestRunJSON(t *testing.T) {
	r := runJSON(t, examples+"tc_rewrite.o", "tc_rewrite", "--data-hex", udpToDoc, "--ctx", "mark=7")
	if r.RetvalName != "TC_ACT_OK" || r.Errno != 0 || r.DataOut == r.DataIn || r.CtxOut == "" {
		t.Errorf("tc_rewrite: %+v", r)
	}
	if !strings.Contains(r.DataOut, "c6336401") { // 198.51.100.1
		t.Errorf("destination not rewritten: %s", r.DataOut)
	}
	if len(r.Changed) == 0 || r.CtxChanged["ifindex"] != "0 -> 1" {
		t.Errorf("changes not reported: %v %v", r.Changed, r.CtxChanged)
	}
	if r.CtxChanged["mark"] != "" {
		t.Errorf("mark reported as changed: %v", r.CtxChanged)
	}

	r = runJSON(t, examples+"socket_filter.o", "sock_filter", "--data-hex", udpToDoc)
	if !r.L3 || r.Retval != 36 || !strings.HasPrefix(r.DataOut, strings.Repeat("00", 14)) {
		t.Errorf("sock_filter: %+v", r)
	}

	r = runJSON(t, examples+"flow_dissector.o", "flow_dissect", "--data-hex", udpToDoc)
	if r.FlowKeys == nil || r.FlowKeys.Dport != 53 || r.FlowKeys.Sport != 12345 || r.FlowKeys.IPProto != 17 {
		t.Errorf("flow keys: %+v", r.FlowKeys)
	}

	r = runJSON(t, fixtures+"types.o", "syscall_double", "--ctx-hex", "1500000000000000")
	if r.Retval != 5 || r.CtxOut != "150000002a000000" {
		t.Errorf("syscall: %+v", r)
	}

	r = runJSON(t, examples+"maps_config.o", "xdp_config", "--data-hex", udpToDoc, "--var", "config.mode=1", "--var", "config.port=53")
	if r.RetvalName != "XDP_DROP" {
		t.Errorf("xdp_config with mode 1 port 53: %s", r.RetvalName)
	}
	r = runJSON(t, examples+"tail_call.o", "xdp_dispatch", "--data-hex", udpToDoc, "--prog-array", "jmp_table:0=xdp_ipv4")
	if r.RetvalName != "XDP_PASS" {
		t.Errorf("tail call: %s", r.RetvalName)
	}
	r = runJSON(t, fixtures+"unknown_section.o", "iproute_prog", "--type", "xdp", "--data-hex", udpToDoc)
	if r.Retval != 2 {
		t.Errorf("--type xdp: %+v", r)
	}
	r = runJSON(t, fixtures+"types.o", "xdp_linlen", "--pcap", "../../../shared/pcaps/dns_udp.pcap", "--packet", "2")
	if r.Retval == 0 || r.DataIn == "" {
		t.Errorf("--pcap: %+v", r)
	}
}

func TestRunErrors(t *testing.T) {
	kerneltest.Skip(t)
	for _, tc := range []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"no args", []string{"run"}, 2, "OBJECT and PROGRAM"},
		{"unknown command", []string{"frobnicate"}, 2, "unknown command"},
		{"bad flag", []string{"run", "x.o", "p", "--nope"}, 2, "flag provided but not defined"},
		{"two inputs", []string{"run", "x.o", "p", "--data-hex", "00", "--data", "f"}, 2, "one of"},
		{"missing object", []string{"run", "missing.o", "p"}, 1, "missing.o"},
		{"missing program", []string{"run", fixtures + "types.o", "nope"}, 1, "xdp_linlen"},
		{"not runnable", []string{"run", fixtures + "types.o", "kprobe_prog"}, 1, "kprobe programs"},
		{"rejected", []string{"run", fixtures + "rejected.o", "xdp_rejected"}, 1, "invalid access to packet"},
		{"short packet", []string{"run", fixtures + "types.o", "tc_len", "--data-hex", "0000"}, 1, "14 to 3712 bytes"},
		{"bad ctx field", []string{"run", fixtures + "types.o", "tc_len", "--data-hex", udpToDoc, "--ctx", "len=3"}, 2, "mark"},
		{"ctx rule", []string{"run", fixtures + "types.o", "tc_len", "--data-hex", udpToDoc, "--ctx", "wire_len=3"}, 1, "ctx.wire_len"},
		{"kernel errno", []string{"run", fixtures + "types.o", "tc_len", "--data-hex", udpToDoc, "--ctx-hex", "01"}, 1, "EINVAL"},
		{"pcap packet out of range", []string{"run", fixtures + "types.o", "tc_len", "--pcap", "../../../shared/pcaps/dns_udp.pcap", "--packet", "9"}, 1, "no packet 9"},
		{"unknown variable", []string{"run", examples + "maps_config.o", "xdp_config", "--var", "nope=1"}, 1, "config"},
		{"unknown type", []string{"run", fixtures + "unknown_section.o", "iproute_prog", "--type", "bogus"}, 2, "--type"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, errs, code := runCLI(t, tc.args...)
			if code != tc.code || !strings.Contains(errs, tc.msg) {
				t.Errorf("exit %d (want %d), stderr %q (want it to mention %q)", code, tc.code, errs, tc.msg)
			}
			if strings.Contains(errs, "panic") || strings.Count(strings.TrimSpace(errs), "\n") > 20 {
				t.Errorf("error output is not a short message:\n%s", errs)
			}
		})
	}
}

// TestAgreesWithBpftool runs the same program and input through bpftool
// (Debian's package, libbpf's own runner) and through bpffuzz, and compares
// return value and output bytes.
func TestAgreesWithBpftool(t *testing.T) {
	kerneltest.Skip(t)
	bpftool, err := exec.LookPath("bpftool")
	if err != nil {
		if kerneltest.Required() {
			t.Fatal("bpftool is not installed (apt-get install bpftool); CI needs it")
		}
		t.Skip("skipping, bpftool is not installed (apt-get install bpftool)")
	}
	for _, tc := range []struct {
		object, program, data string
		vars                  map[string]any
	}{
		{examples + "xdp_parser.o", "xdp_parser", udpToDoc, nil},
		{examples + "xdp_parser.o", "xdp_parser", strings.Replace(udpToDoc, "4011", "0111", 1), nil}, // TTL 1
		{examples + "tc_rewrite.o", "tc_rewrite", udpToDoc, nil},
		{examples + "socket_filter.o", "sock_filter", udpToDoc, nil},
		{examples + "flow_dissector.o", "flow_dissect", udpToDoc, nil},
		{fixtures + "adjust.o", "xdp_adjust", udpToDoc, map[string]any{"head_delta": -40}},
		{fixtures + "adjust.o", "tc_change_tail", udpToDoc, map[string]any{"new_len": 2000}},
	} {
		t.Run(tc.program, func(t *testing.T) {
			data, _ := hex.DecodeString(tc.data)
			p, err := bpf.Load(tc.object, tc.program, &bpf.Options{Variables: tc.vars})
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			res, err := p.Run(bpf.Input{Packet: data})
			if err != nil {
				t.Fatal(err)
			}
			info, err := p.Raw().Info()
			if err != nil {
				t.Fatal(err)
			}
			id, _ := info.ID()
			dir := t.TempDir()
			in, out := filepath.Join(dir, "in"), filepath.Join(dir, "out")
			if err := os.WriteFile(in, data, 0o644); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(bpftool, "prog", "run", "id", strconv.Itoa(int(id)), "data_in", in, "data_out", out, "data_size_out", "20000")
			msg, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("bpftool: %v\n%s", err, msg)
			}
			m := regexp.MustCompile(`Return value: (\d+)`).FindSubmatch(msg)
			if m == nil {
				t.Fatalf("no return value in bpftool output:\n%s", msg)
			}
			retval, _ := strconv.ParseUint(string(m[1]), 10, 32)
			bpftoolOut, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			want := res.Packet
			if res.Packet == nil {
				want = res.Context // flow dissector: bpftool's data_out is the flow keys
			}
			if uint32(retval) != res.Retval || !bytes.Equal(bpftoolOut, want) {
				t.Errorf("bpftool: retval %d, %d bytes out; bpffuzz: retval %d, %d bytes out\nbpftool %x\nbpffuzz %x",
					retval, len(bpftoolOut), res.Retval, len(want), bpftoolOut, want)
			}
		})
	}
}
