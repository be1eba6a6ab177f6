package main

import (
	"bytes"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/bpffuzz/bpffuzz/corpus"
	"github.com/bpffuzz/bpffuzz/internal/kerneltest"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

const captures = "../../corpus/testdata/captures/"

// normalize makes output comparable with a golden file: the temporary
// directory becomes $TMP, times become DURATION.
func normalize(s, tmp string) string {
	s = strings.ReplaceAll(s, tmp, "$TMP")
	return regexp.MustCompile(`\d+(\.\d+)?(ns|µs|ms|s)\b`).ReplaceAllString(s, "DURATION")
}

func TestSeedCmd(t *testing.T) {
	tmp := t.TempDir()
	files, _ := filepath.Glob(captures + "*.pcap*")
	files = append(files, captures+"not-a-capture.txt")
	out, errs, code := runCLI(t, append([]string{"seed", "--out", tmp + "/FuzzX"}, files...)...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	golden(t, "seed", normalize(out, tmp))
	golden(t, "seed_stderr", normalize(errs, tmp))
	for _, l := range strings.Split(strings.TrimSpace(errs), "\n") {
		if !strings.HasPrefix(l, "bpffuzz: seed: "+captures) {
			t.Errorf("stderr line is not one error per file: %q", l)
		}
	}
	// Again with --dedupe --max and --json: nothing new.
	out, _, code = runCLI(t, "seed", files[0], "--out", tmp+"/FuzzX", "--dedupe", "--max", "1", "--json")
	var r corpus.SeedReport
	if code != 0 || json.Unmarshal([]byte(out), &r) != nil || r.Written != 0 || r.Present == 0 {
		t.Errorf("second seed --json: exit %d, %+v", code, r)
	}
	// No file readable: exit 1; usage errors: exit 2.
	_, _, code = runCLI(t, "seed", captures+"empty.pcap", "--out", tmp+"/FuzzY")
	if code != 1 {
		t.Errorf("only unreadable files: exit %d, want 1", code)
	}
	for _, args := range [][]string{{"seed", "--out", tmp}, {"seed", files[0]}, {"seed", files[0], "--out", tmp, "--max", "-1"}} {
		if _, _, code := runCLI(t, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}

func TestMergeAndExportCmd(t *testing.T) {
	tmp := t.TempDir()
	a, b := filepath.Join(tmp, "a"), filepath.Join(tmp, "b")
	for dir, pcap := range map[string]string{a: "ethernet-be-nsec.pcap", b: "multi-section.pcapng"} {
		if _, _, code := runCLI(t, "seed", captures+pcap, "--out", dir); code != 0 {
			t.Fatalf("seed %s: exit %d", pcap, code)
		}
	}
	corrupt := filepath.Join(b, "0000000000000000")
	if err := os.WriteFile(corrupt, []byte("go test fuzz v1\n[]byte(\"x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errs, code := runCLI(t, "merge", a, b, "--out", filepath.Join(tmp, "all"))
	if code != 0 {
		t.Fatalf("merge: exit %d: %s", code, errs)
	}
	golden(t, "merge", normalize(out+errs, tmp))
	if _, err := os.Stat(corrupt); err != nil {
		t.Errorf("corrupt file gone: %v", err)
	}

	// Export the merged corpus and a finding's directory.
	finding := filepath.Join(tmp, "findings", "xdp_x", "retval")
	if _, _, err := corpus.WriteFile(finding, corpus.File{Entry: corpus.Entry{Packet: []byte("finding packet"), Context: []byte{}, Ops: []byte{}}}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(finding, "report.txt"), []byte("bpffuzz finding: retval: returned 7, no XDP action\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	pcap := filepath.Join(tmp, "out.pcapng")
	out, errs, code = runCLI(t, "export", filepath.Join(tmp, "all"), filepath.Join(tmp, "findings"), "--pcap", pcap)
	if code != 0 {
		t.Fatalf("export: exit %d: %s", code, errs)
	}
	golden(t, "export", normalize(out, tmp))
	c, err := corpus.ReadFile(pcap)
	d, _ := corpus.ReadDirFiles(filepath.Join(tmp, "all"))
	if err != nil || len(c.Packets) != len(d.Files)+1 || string(c.Packets[len(c.Packets)-1].Data) != "finding packet" {
		t.Errorf("export reads back %v, %v; want %d packets", c, err, len(d.Files)+1)
	}
	if _, _, code := runCLI(t, "export", filepath.Join(tmp, "empty"), "--pcap", pcap); code != 1 {
		t.Errorf("export of nothing: exit %d, want 1", code)
	}
}

func TestMinimizeCmd(t *testing.T) {
	kerneltest.Skip(t)
	tmp := t.TempDir()
	dir := filepath.Join(tmp, "FuzzParser")
	if _, errs, code := runCLI(t, "seed", examples+"testdata/sample.pcapng", "../../../shared/pcaps/dns_udp.pcap",
		captures+"multi-section.pcapng", captures+"raw-le-usec.pcap", "--out", dir); code != 0 {
		t.Fatalf("seed: %s", errs)
	}
	corrupt := filepath.Join(dir, "0000000000000000")
	if err := os.WriteFile(corrupt, []byte("go test fuzz v1\nint(1)\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	before, _ := corpus.ReadDirFiles(dir)
	out, errs, code := runCLI(t, "minimize", examples+"xdp_parser.o", "xdp_parser", dir)
	if code != 0 {
		t.Fatalf("minimize: exit %d: %s", code, errs)
	}
	golden(t, "minimize", normalize(out+errs, tmp))
	lines := strings.Split(out, "\n")
	if len(lines) < 3 || strings.TrimPrefix(lines[1], "before") != strings.TrimPrefix(lines[2], "after ") {
		t.Errorf("coverage before and after differ:\n%s", out)
	}
	if now, _ := corpus.ReadDirFiles(dir); len(now.Files) != len(before.Files) {
		t.Errorf("minimize without --replace changed the corpus")
	}
	min, _ := corpus.ReadDirFiles(dir + ".min")
	if len(min.Files) == 0 || len(min.Files) >= len(before.Files) {
		t.Errorf("%d entries minimized to %d", len(before.Files), len(min.Files))
	}
	// The output directory now holds files: a second run refuses.
	if _, errs, code := runCLI(t, "minimize", examples+"xdp_parser.o", "xdp_parser", dir); code != 1 || !strings.Contains(errs, "already holds") {
		t.Errorf("minimize into a full directory: exit %d, %s", code, errs)
	}
	// --replace with a fresh --out prunes the corpus to the same set; the
	// corrupt file stays.
	out, errs, code = runCLI(t, "minimize", examples+"xdp_parser.o", "xdp_parser", dir, "--replace", "--out", filepath.Join(tmp, "min2"))
	if code != 0 {
		t.Fatalf("minimize --replace: exit %d: %s", code, errs)
	}
	now, _ := corpus.ReadDirFiles(dir)
	if len(now.Files) != len(min.Files) || len(now.Bad) != 1 {
		t.Errorf("after --replace: %d entries (want %d), %d bad (want 1)\n%s", len(now.Files), len(min.Files), len(now.Bad), out)
	}
	// merge --minimize adds nothing to a minimized corpus from its own
	// original entries.
	out, errs, code = runCLI(t, "merge", "--minimize", examples+"xdp_parser.o", "xdp_parser", dir+".min", "--out", filepath.Join(tmp, "min2"))
	if code != 0 || !strings.Contains(out, "0 entries written") {
		t.Errorf("merge --minimize: exit %d\n%s%s", code, out, errs)
	}
}

// vxlanSYN is the packet xdp_deep's planted bug needs (a VXLAN-encapsulated
// TCP SYN+URG to port 8443), with a payload behind it.
func vxlanSYN(payload int) []byte {
	ip := func(p layers.IPProtocol) *layers.IPv4 {
		return &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: p, SrcIP: net.IP{10, 0, 0, 1}, DstIP: net.IP{10, 0, 0, 2}}
	}
	mac := net.HardwareAddr{2, 0, 0, 0, 0, 1}
	buf := gopacket.NewSerializeBuffer()
	err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true},
		&layers.Ethernet{SrcMAC: mac, DstMAC: mac, EthernetType: layers.EthernetTypeIPv4},
		ip(layers.IPProtocolUDP), &layers.UDP{SrcPort: 5555, DstPort: 4789}, &layers.VXLAN{ValidIDFlag: true, VNI: 42},
		&layers.Ethernet{SrcMAC: mac, DstMAC: mac, EthernetType: layers.EthernetTypeIPv4},
		ip(layers.IPProtocolTCP), &layers.TCP{SrcPort: 1234, DstPort: 8443, SYN: true, URG: true, Window: 1024},
		gopacket.Payload(bytes.Repeat([]byte("x"), payload)))
	if err != nil {
		panic(err)
	}
	return buf.Bytes()
}

// TestMinimizeFindingCmd writes a finding of xdp_deep's planted bug the way
// bpffuzz fuzz lays it out, minimizes it, and exports the finding.
func TestMinimizeFindingCmd(t *testing.T) {
	kerneltest.Skip(t)
	tmp := t.TempDir()
	dir := filepath.Join(tmp, "findings", "xdp_deep", "retval")
	orig, _, err := corpus.WriteFile(dir, corpus.File{Entry: corpus.Entry{Packet: vxlanSYN(200), Context: []byte{}, Ops: []byte{}}})
	if err != nil {
		t.Fatal(err)
	}
	report := "bpffuzz finding: retval: 7 is not an XDP action\n\nreplay       bpffuzz replay x.o xdp_deep " + orig + "\n"
	if err := os.WriteFile(filepath.Join(dir, "report.txt"), []byte(report), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errs, code := runCLI(t, "minimize", examples+"planted.o", "xdp_deep", dir)
	if code != 0 {
		t.Fatalf("minimize finding: exit %d: %s", code, errs)
	}
	golden(t, "minimize_finding", normalize(out, tmp))
	d, _ := corpus.ReadDirFiles(dir)
	var small *corpus.DirFile
	for i, f := range d.Files {
		if f.Path != orig {
			small = &d.Files[i]
		}
	}
	if len(d.Files) != 2 || small == nil || len(small.Entry.Packet) != 104 || !strings.Contains(small.Note, "oracle retval") {
		t.Fatalf("finding directory holds %d files; minimized %+v", len(d.Files), small)
	}
	if _, _, code := runCLI(t, "replay", examples+"planted.o", "xdp_deep", small.Path); code != 3 {
		t.Errorf("replay of the minimized input: exit %d, want 3 (a finding)", code)
	}
	// An input without a finding says so.
	if _, errs, code := runCLI(t, "minimize", examples+"xdp_parser.o", "xdp_parser", orig); code != 1 || !strings.Contains(errs, "no oracle objects") {
		t.Errorf("minimize a non-finding: exit %d, %s", code, errs)
	}
	pcap := filepath.Join(tmp, "finding.pcapng")
	if out, errs, code := runCLI(t, "export", dir, "--pcap", pcap); code != 0 || !strings.Contains(out, "2 packets (2 from findings)") {
		t.Errorf("export finding: exit %d: %s%s", code, out, errs)
	}
}
