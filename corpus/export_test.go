package corpus

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bpffuzz/bpffuzz/internal/kerneltest"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// needTool returns the path of a Debian tool a test uses, skipping the
// test without it, or failing it when kernel tests are required (CI, where
// .ci/run installs it).
func needTool(t *testing.T, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if kerneltest.Required() {
			t.Fatalf("%s is not installed (apt-get install %s); CI needs it", name, pkg)
		}
		t.Skipf("skipping, %s is not installed (apt-get install %s)", name, pkg)
	}
	return p
}

// exportDir exports every entry of a corpus directory to a pcapng file, as
// bpffuzz export does, and returns the entries in export order.
func exportDir(t *testing.T, dir, out string) []DirFile {
	t.Helper()
	d, err := ReadDirFiles(dir)
	if err != nil || len(d.Bad) > 0 {
		t.Fatalf("read %s: %v %v", dir, err, d.Bad)
	}
	var pkts []ExportPacket
	for _, f := range d.Files {
		pkts = append(pkts, ExportEntry{Name: filepath.Base(f.Path), File: f.File}.Packet())
	}
	if err := WritePcapng(out, pkts); err != nil {
		t.Fatal(err)
	}
	return d.Files
}

// frames returns the distinct frames of captures as ToEthernet makes them,
// and the distinct frames of their Ethernet packets read by pcapgo alone.
func frames(t *testing.T, paths []string) (all, ethernet map[string]bool) {
	t.Helper()
	all, ethernet = map[string]bool{}, map[string]bool{}
	for _, p := range paths {
		c, _ := ReadFile(p)
		if c == nil {
			continue
		}
		for _, pkt := range c.Packets {
			all[string(pkt.Data)] = true
		}
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		if r, err := pcapgo.NewReader(f); err == nil && r.LinkType() == layers.LinkTypeEthernet {
			for {
				data, _, err := r.ReadPacketData()
				if err != nil {
					break
				}
				ethernet[string(data)] = true
			}
		}
		f.Close()
	}
	return all, ethernet
}

// TestExportRoundTrip: captures → Seed → corpus → export pcapng gives back
// the same packets, the Ethernet ones byte for byte as pcapgo reads them
// from the original, each with a comment naming its entry.
func TestExportRoundTrip(t *testing.T) {
	tmp := t.TempDir()
	dir := filepath.Join(tmp, "FuzzX")
	caps := captureFixtures(t)
	r, err := Seed(dir, caps, SeedOptions{Dedupe: true})
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(tmp, "out.pcapng")
	files := exportDir(t, dir, out)
	back, err := ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(back.Packets) != r.Written || len(files) != r.Written {
		t.Fatalf("exported %d packets of %d entries, want %d", len(back.Packets), len(files), r.Written)
	}
	all, ethernet := frames(t, caps)
	got := map[string]bool{}
	for i, p := range back.Packets {
		if !bytes.Equal(p.Data, files[i].Entry.Packet) {
			t.Errorf("packet %d differs from entry %s", i+1, files[i].Path)
		}
		got[string(p.Data)] = true
	}
	if len(got) != len(all) {
		t.Errorf("%d distinct packets exported, the captures have %d", len(got), len(all))
	}
	for f := range all {
		if !got[f] {
			t.Errorf("captured frame missing from the export: %x", f)
		}
	}
	if len(ethernet) == 0 {
		t.Fatal("no Ethernet pcap among the fixtures")
	}
	for f := range ethernet {
		if !got[f] {
			t.Errorf("Ethernet frame not exported byte for byte: %x", f)
		}
	}
	// The same entries give the same file.
	out2 := filepath.Join(tmp, "again.pcapng")
	exportDir(t, dir, out2)
	a, _ := os.ReadFile(out)
	b, _ := os.ReadFile(out2)
	if !bytes.Equal(a, b) {
		t.Error("exporting the same entries twice gives different files")
	}
}

// TestExportTshark reads an export with Wireshark's tshark: the frames as
// libwiretap reads them are the entries' packets, and each comment names
// its entry (and the finding).
func TestExportTshark(t *testing.T) {
	tshark := needTool(t, "tshark", "tshark")
	tmp := t.TempDir()
	dir := filepath.Join(tmp, "FuzzX")
	if _, err := Seed(dir, captureFixtures(t), SeedOptions{}); err != nil {
		t.Fatal(err)
	}
	d, err := ReadDirFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	var pkts []ExportPacket
	for i, f := range d.Files {
		e := ExportEntry{Name: filepath.Base(f.Path), File: f.File}
		if i == 0 {
			e.Comment = "finding retval: returned 4 (XDP_REDIRECT)"
			e.Entry.Context = []byte{1, 0, 0, 0}
			e.Entry.Ops = []byte{5, 6}
		}
		pkts = append(pkts, e.Packet())
	}
	out := filepath.Join(tmp, "out.pcapng")
	if err := WritePcapng(out, pkts); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(tshark, "-r", out, "-T", "fields", "-E", "separator=|", "-e", "frame.comment", "-e", "frame.cap_len")
	msg, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	lines := strings.Split(strings.TrimRight(string(msg), "\n"), "\n")
	if len(lines) != len(d.Files) {
		t.Fatalf("tshark reads %d packets, want %d:\n%s", len(lines), len(d.Files), msg)
	}
	for i, l := range lines {
		comment, _, _ := strings.Cut(l, "|")
		name := filepath.Base(d.Files[i].Path)
		if !strings.HasPrefix(comment, "bpffuzz entry "+name) {
			t.Errorf("packet %d: comment %q does not name %s", i+1, comment, name)
		}
		if d.Files[i].Note != "" && !strings.Contains(comment, d.Files[i].Note) {
			t.Errorf("packet %d: comment %q lacks the note %q", i+1, comment, d.Files[i].Note)
		}
	}
	for _, want := range []string{"finding retval: returned 4 (XDP_REDIRECT)", "2 bytes of ops not applied", "context 4 bytes 01000000"} {
		if !strings.Contains(lines[0], want) {
			t.Errorf("first comment %q lacks %q", lines[0], want)
		}
	}
	// The bytes as Wireshark reads them, through a pcap it writes.
	conv := filepath.Join(tmp, "conv.pcap")
	if msg, err := exec.Command(tshark, "-r", out, "-F", "pcap", "-w", conv).CombinedOutput(); err != nil {
		t.Fatalf("tshark -w: %v\n%s", err, msg)
	}
	f, err := os.Open(conv)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pr, err := pcapgo.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var got [][]byte
	for {
		data, _, err := pr.ReadPacketData()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, data)
	}
	want := make([][]byte, len(d.Files))
	for i, f := range d.Files {
		want[i] = f.Entry.Packet
	}
	if !slices.EqualFunc(got, want, bytes.Equal) {
		t.Errorf("Wireshark reads other bytes than were exported (%d vs %d packets)", len(got), len(want))
	}
}
