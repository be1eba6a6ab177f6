package fuzz

import (
	"bytes"
	"errors"
	"net"
	"slices"
	"testing"

	"github.com/bpffuzz/bpffuzz/corpus"
	"github.com/bpffuzz/bpffuzz/internal/kerneltest"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

func TestSelectCover(t *testing.T) {
	for _, tc := range []struct {
		name  string
		feats [][]int
		sizes []int
		fixed int
		want  []int
	}{
		// One entry covers everything: it alone is kept.
		{"superset", [][]int{{0}, {1}, {0, 1, 2}, {2}}, []int{1, 1, 9, 1}, 0, []int{2}},
		// Greedy picks the big one first, then the two small ones make
		// it redundant.
		{"redundant", [][]int{{0, 1, 2, 3}, {0, 1, 4}, {2, 3, 5}}, []int{5, 5, 5}, 0, []int{1, 2}},
		// Equal features: the smaller wins, then the earlier.
		{"smaller", [][]int{{0, 1}, {0, 1}, {0, 1}}, []int{30, 10, 10}, 0, []int{1}},
		// Fewer entries beat fewer bytes.
		{"fewer", [][]int{{0, 1, 2}, {0, 1}, {2}}, []int{9, 2, 3}, 0, []int{0}},
		// Greedy takes 0 then 2; 0 is then swapped for the smaller 1, which
		// has what only 0 had.
		{"swap", [][]int{{0, 1, 2}, {0, 1}, {2, 3}}, []int{9, 1, 1}, 0, []int{1, 2}},
		// Skipped entries (no features) are never kept; fixed ones always.
		{"fixed and skipped", [][]int{{0}, nil, {0, 1}, {1}}, []int{50, 1, 5, 1}, 1, []int{0, 3}},
		{"empty", nil, nil, 0, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nfeat := 0
			for _, fs := range tc.feats {
				for _, f := range fs {
					nfeat = max(nfeat, f+1)
				}
			}
			got := keptIndexes(selectCover(tc.feats, tc.sizes, nfeat, tc.fixed))
			if !slices.Equal(got, tc.want) {
				t.Errorf("kept %v, want %v", got, tc.want)
			}
			// Whatever is kept covers every feature.
			chosen := make([]bool, len(tc.feats))
			for _, i := range got {
				chosen[i] = true
			}
			if !slices.Equal(union(tc.feats, chosen, nfeat), union(tc.feats, nil, nfeat)) {
				t.Errorf("kept %v loses features", got)
			}
		})
	}
}

func TestOutcomeClass(t *testing.T) {
	for _, tc := range []struct {
		retval uint32
		errno  string
		out    int
		oracle string
		want   string
	}{
		{2, "", -1, "", "retval 2, errno 0, output none"},
		{1, "", 0, "", "retval 1, errno 0, output 0 bytes"},
		{2, "", 1, "", "retval 2, errno 0, output 1-1 bytes"},
		{2, "", 60, "", "retval 2, errno 0, output 32-63 bytes"},
		{2, "", 64, "", "retval 2, errno 0, output 64-127 bytes"},
		{7, "EINVAL", 64, "retval", "retval 7, errno EINVAL, output 64-127 bytes, finding retval"},
	} {
		if got := OutcomeClass(tc.retval, tc.errno, tc.out, tc.oracle); got != tc.want {
			t.Errorf("OutcomeClass(%d, %q, %d, %q) = %q, want %q", tc.retval, tc.errno, tc.out, tc.oracle, got, tc.want)
		}
	}
}

// TestMinimize minimizes a corpus of the sample capture, each packet also
// padded (same blocks, same outcome class, larger) and repeated, plus an
// input the kernel does not take: the kept set is smaller, has the same
// coverage and outcomes, and holds no padded copy.
func TestMinimize(t *testing.T) {
	kerneltest.Skip(t)
	seeds, err := sample()
	if err != nil {
		t.Fatal(err)
	}
	var entries []corpus.Entry
	for _, s := range seeds {
		padded := append(bytes.Clone(s.Packet), 0, 0) // same size class unless at a power of two
		entries = append(entries, corpus.Entry{Packet: padded}, s, s)
	}
	entries = append(entries, corpus.Entry{Packet: []byte{1, 2, 3}}) // shorter than an Ethernet header
	m, err := parser.Minimize(entries, MinimizeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, a := m.Before, m.After
	t.Logf("%d -> %d entries, blocks %d/%d -> %d/%d, outcomes %d -> %d, %d runs", b.Entries, a.Entries, b.BlocksHit, b.BlocksTotal, a.BlocksHit, a.BlocksTotal, b.Outcomes, a.Outcomes, m.Execs)
	if b.Entries != len(entries) || a.Entries != len(m.Keep) || a.Entries >= len(seeds)+1 || a.Entries == 0 {
		t.Errorf("entries %d -> %d (kept %v)", b.Entries, a.Entries, m.Keep)
	}
	if b.BlocksHit == 0 || a.BlocksHit != b.BlocksHit || a.LinesHit != b.LinesHit || a.Outcomes != b.Outcomes || len(m.Lost) > 0 || m.Restored != 0 {
		t.Errorf("coverage changed: before %+v after %+v lost %v restored %d", b, a, m.Lost, m.Restored)
	}
	if b.Skipped != 1 || a.Skipped != 0 {
		t.Errorf("skipped %d before, %d after; want 1 and 0", b.Skipped, a.Skipped)
	}
	// xdp_parser passes packets unchanged: a padded copy is worth keeping
	// only when the padding moves it to another output size class.
	for _, i := range m.Keep {
		if n := len(entries[i].Packet); i%3 == 0 && i < 3*len(seeds) && sizeClass(n) == sizeClass(n-2) {
			t.Errorf("kept padded entry %d (%d bytes) over its unpadded copy", i, n)
		}
	}

	// Fixed entries stay, whatever they cover.
	m, err = parser.Minimize(entries, MinimizeOptions{Fixed: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Keep) < 2 || m.Keep[0] != 0 || m.Keep[1] != 1 || m.After.BlocksHit != m.Before.BlocksHit {
		t.Errorf("with 2 fixed: kept %v, blocks %d of %d", m.Keep, m.After.BlocksHit, m.Before.BlocksHit)
	}
	if _, err := parser.Minimize(entries, MinimizeOptions{Fixed: len(entries) + 1}); err == nil {
		t.Error("more fixed entries than entries: no error")
	}
}

// vxlanSYN is the packet xdp_deep's planted bug needs: a VXLAN-encapsulated
// TCP SYN+URG to port 8443, with a payload behind it.
func vxlanSYN(payload int) []byte {
	ip := func(p layers.IPProtocol) *layers.IPv4 {
		return &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: p, SrcIP: net.IP{10, 0, 0, 1}, DstIP: net.IP{10, 0, 0, 2}}
	}
	mac := net.HardwareAddr{2, 0, 0, 0, 0, 1}
	buf := gopacket.NewSerializeBuffer()
	err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true},
		&layers.Ethernet{SrcMAC: mac, DstMAC: mac, EthernetType: layers.EthernetTypeIPv4},
		ip(layers.IPProtocolUDP),
		&layers.UDP{SrcPort: 5555, DstPort: 4789},
		&layers.VXLAN{ValidIDFlag: true, VNI: 42},
		&layers.Ethernet{SrcMAC: mac, DstMAC: mac, EthernetType: layers.EthernetTypeIPv4},
		ip(layers.IPProtocolTCP),
		&layers.TCP{SrcPort: 1234, DstPort: 8443, SYN: true, URG: true, Window: 1024},
		gopacket.Payload(bytes.Repeat([]byte("x"), payload)))
	if err != nil {
		panic(err)
	}
	return buf.Bytes()
}

// TestMinimizeFinding shrinks the input of xdp_deep's planted bug to the
// shortest packet that still returns 7: the headers down to the inner TCP
// header, 104 bytes.
func TestMinimizeFinding(t *testing.T) {
	kerneltest.Skip(t)
	deep := &Target{Object: "../examples/planted.o", Program: "xdp_deep"}
	in := corpus.Entry{Packet: vxlanSYN(300), Context: []byte{}, Ops: []byte{}}
	r, err := deep.MinimizeFinding(in, FindingOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: %d -> %d bytes in %d runs (%s)", r.Oracle, len(in.Packet), len(r.Entry.Packet), r.Execs, r.Elapsed)
	if r.Oracle != "retval" || len(r.Entry.Packet) != 104 || len(r.Entry.Ops) != 0 {
		t.Errorf("oracle %s, %d-byte packet, %d ops bytes; want retval, 104, 0", r.Oracle, len(r.Entry.Packet), len(r.Entry.Ops))
	}
	if !bytes.Equal(r.Entry.Packet, in.Packet[:104]) || !bytes.Equal(r.Original.Packet, in.Packet) {
		t.Error("the minimized packet is not the original's headers")
	}
	// The result replays as the same finding.
	out, _, err := deep.Replay([]corpus.Entry{r.Entry})
	if err != nil || len(out) != 1 || out[0].Retval != 7 || out[0].Finding == "" {
		t.Errorf("replay of the minimized input: %+v, %v", out, err)
	}
	// A budget stops early, with a valid (if larger) result.
	r2, err := deep.MinimizeFinding(in, FindingOptions{MaxExecs: 10})
	if err != nil || r2.Execs > 10 || len(r2.Entry.Packet) > len(in.Packet) {
		t.Errorf("with 10 runs: %v, %+v", err, r2)
	}
	// An input no oracle objects to.
	if _, err := deep.MinimizeFinding(corpus.Entry{Packet: vxlanSYN(0)[:60]}, FindingOptions{}); !errors.Is(err, ErrNoFinding) {
		t.Errorf("input without a finding: %v", err)
	}
}
