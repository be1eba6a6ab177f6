package corpus

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/bpffuzz/bpffuzz/internal/kerneltest"
	"github.com/gopacket/gopacket/layers"
)

func TestReadSample(t *testing.T) {
	c, err := ReadFile("../examples/testdata/sample.pcapng")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Packets) != 4 || len(c.Skipped) != 0 {
		t.Fatalf("got %d packets, skipped %v; want 4 and none", len(c.Packets), c.Skipped)
	}
	for i, p := range c.Packets {
		if p.Index != i+1 || p.Synthesized || p.Truncated || p.LinkType != layers.LinkTypeEthernet || p.WireLen != len(p.Data) {
			t.Errorf("packet %d: %+v", i, p)
		}
	}
}

// TestSharedCaptures reads every capture of tcpdump's regression tests (in
// ../shared/pcaps beside the repository): none may panic or fail, and
// every packet read must be an Ethernet frame.
func TestSharedCaptures(t *testing.T) {
	files := sharedCaptures(t)
	packets, skipped := 0, 0
	for _, f := range files {
		c, err := ReadFile(f)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		for _, p := range c.Packets {
			if len(p.Data) < 14 && !p.Synthesized {
				// Ethernet captures can hold runt frames; they stay as captured.
				continue
			}
		}
		packets += len(c.Packets)
		for _, n := range c.Skipped {
			skipped += n
		}
	}
	t.Logf("%d files, %d packets as Ethernet, %d skipped for their link type", len(files), packets, skipped)
	if packets < 4000 {
		t.Errorf("only %d packets read from %d captures", packets, len(files))
	}
}

// sharedCaptures returns the captures of ../shared/pcaps, skipping t
// without them, or failing it in CI (BPFFUZZ_REQUIRE_KERNEL=1 or CI=true).
func sharedCaptures(t *testing.T) []string {
	t.Helper()
	files, _ := filepath.Glob("../../shared/pcaps/*.pcap*")
	if len(files) == 0 {
		if kerneltest.Required() {
			t.Fatal("../shared/pcaps is missing; CI runs with ../shared beside the repository")
		}
		t.Skip("skipping, ../shared/pcaps is not beside the repository")
	}
	return files
}

func TestToEthernet(t *testing.T) {
	ip4 := []byte{0x45, 0, 0, 20, 0, 0, 0, 0, 64, 6, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8}
	ip6 := append([]byte{0x60}, make([]byte, 39)...)
	sll := append(append(make([]byte, 14), 0x08, 0x00), ip4...)
	sll2 := append(append([]byte{0x86, 0xdd}, make([]byte, 18)...), ip6...)
	null := append(binary.LittleEndian.AppendUint32(nil, 2), ip4...)
	loop := append(binary.BigEndian.AppendUint32(nil, 30), ip6...)
	for _, tc := range []struct {
		name      string
		lt        layers.LinkType
		data      []byte
		ethertype uint16
		payload   []byte
	}{
		{"raw ipv4", layers.LinkTypeRaw, ip4, 0x0800, ip4},
		{"raw ipv6", layers.LinkTypeIPv6, ip6, 0x86dd, ip6},
		{"sll", layers.LinkTypeLinuxSLL, sll, 0x0800, ip4},
		{"sll2", linkTypeSLL2, sll2, 0x86dd, ip6},
		{"null", layers.LinkTypeNull, null, 0x0800, ip4},
		{"loop", layers.LinkTypeLoop, loop, 0x86dd, ip6},
	} {
		f, synth, err := ToEthernet(tc.data, tc.lt)
		if err != nil || !synth {
			t.Errorf("%s: %v, synthesized %v", tc.name, err, synth)
			continue
		}
		if binary.BigEndian.Uint16(f[12:]) != tc.ethertype || !bytes.Equal(f[14:], tc.payload) || !bytes.Equal(f[:12], make([]byte, 12)) {
			t.Errorf("%s: frame % x", tc.name, f)
		}
	}
	if _, _, err := ToEthernet([]byte{1, 2, 3}, layers.LinkTypeIEEE802_11); !errors.Is(err, ErrLinkType) {
		t.Errorf("802.11: %v, want ErrLinkType", err)
	}
}

func TestReadBadInput(t *testing.T) {
	for name, data := range map[string][]byte{
		"empty":     nil,
		"short":     {0xd4, 0xc3},
		"not pcap":  []byte("hello, world"),
		"ng header": {0x0a, 0x0d, 0x0d, 0x0a, 0, 0, 0, 0},
	} {
		if _, err := Read(bytes.NewReader(data)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	// A truncated file keeps the packets read before the damage.
	whole, err := os.ReadFile("../examples/testdata/sample.pcapng")
	if err != nil {
		t.Fatal(err)
	}
	c, err := Read(bytes.NewReader(whole[:len(whole)-10]))
	if err == nil || c == nil || len(c.Packets) != 3 {
		t.Errorf("truncated file: err %v, packets %v", err, c)
	}
}

// FuzzRead feeds arbitrary bytes to the capture reader: it must never
// panic, and every packet it returns is at least an Ethernet header when
// it synthesized one.
func FuzzRead(f *testing.F) {
	for _, p := range []string{"../examples/testdata/sample.pcapng"} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	shared, _ := filepath.Glob("../../shared/pcaps/*.pcap*")
	for _, p := range shared {
		if b, err := os.ReadFile(p); err == nil && len(b) < 4096 {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Read(bytes.NewReader(data))
		if c == nil {
			if err == nil {
				t.Fatal("nil capture without an error")
			}
			return
		}
		for _, p := range c.Packets {
			if p.Synthesized && len(p.Data) < 14 {
				t.Fatalf("synthesized frame shorter than an Ethernet header: %d", len(p.Data))
			}
			if p.Index < 1 {
				t.Fatalf("packet index %d", p.Index)
			}
		}
	})
}
