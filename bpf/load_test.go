package bpf

import (
	"bytes"
	"encoding/binary"
	"errors"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bpffuzz/bpffuzz/internal/kerneltest"
	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/gopacket/gopacket/layers"
)

const (
	mapsConfig = "../examples/maps_config.o"
	tailCall   = "../examples/tail_call.o"
	pinned     = "testdata/pinned.o"
)

// srcKey is how maps_config's blocklist keys an IPv4 source address: the
// __u32 the program loads from the packet, i.e. the address bytes in
// network order read as a host (little-endian) integer.
func srcKey(ip string) uint32 { return binary.LittleEndian.Uint32(net.ParseIP(ip).To4()) }

// counters reads maps_config's counters map: packets, blocked, port, other.
func counters(t *testing.T, p *Program) [4]uint64 {
	t.Helper()
	var c [4]uint64
	for i := range c {
		if err := p.Map("counters").Lookup(uint32(i), &c[i]); err != nil {
			t.Fatalf("read counters[%d]: %v", i, err)
		}
	}
	return c
}

func TestMapsConfig(t *testing.T) {
	const (
		xdpDrop = 1
		xdpPass = 2
		xdpTX   = 3
	)
	port80, port81 := tcpFrame(t, 80), tcpFrame(t, 81) // from 192.0.2.10
	arp := frame(t, &layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: layers.EthernetTypeARP},
		&layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4,
			SourceHwAddress: macA, SourceProtAddress: []byte{192, 0, 2, 10}, DstHwAddress: make([]byte, 6), DstProtAddress: []byte{192, 0, 2, 1}})
	type run struct {
		pkt    []byte
		retval uint32
	}
	for _, tc := range []struct {
		name     string
		opts     *Options
		runs     []run
		counters [4]uint64 // packets, blocked, port, other
	}{
		{name: "default config", opts: nil,
			runs:     []run{{port80, xdpPass}, {port81, xdpPass}, {arp, xdpPass}},
			counters: [4]uint64{3, 0, 0, 3}},
		{name: "port mode", opts: &Options{Variables: map[string]any{"config.mode": 1, "config.port": 80}},
			runs:     []run{{port80, xdpDrop}, {port81, xdpPass}, {port80, xdpDrop}},
			counters: [4]uint64{3, 0, 2, 1}},
		{name: "port mode 81", opts: &Options{Variables: map[string]any{"config.mode": uint32(1), "config.port": uint16(81)}},
			runs:     []run{{port80, xdpPass}, {port81, xdpDrop}},
			counters: [4]uint64{2, 0, 1, 1}},
		{name: "drop unknown", opts: &Options{Variables: map[string]any{"config.drop_unknown": true}},
			runs:     []run{{arp, xdpDrop}, {port80, xdpPass}},
			counters: [4]uint64{2, 0, 0, 2}},
		{name: "blocklist", opts: &Options{
			Variables: map[string]any{"config.mode": 1, "config.port": 80},
			Maps:      map[string][]MapEntry{"blocklist": {{Key: srcKey("192.0.2.10"), Value: uint32(xdpTX)}}},
		}, runs: []run{{port80, xdpTX}, {port81, xdpTX}},
			counters: [4]uint64{2, 2, 0, 0}},
		{name: "blocklist as bytes and an int", opts: &Options{
			Maps: map[string][]MapEntry{"blocklist": {{Key: net.ParseIP("192.0.2.10").To4(), Value: 3}}},
		}, runs: []run{{port80, xdpTX}},
			counters: [4]uint64{1, 1, 0, 0}},
		{name: "blocklist other source", opts: &Options{
			Maps: map[string][]MapEntry{"blocklist": {{Key: srcKey("192.0.2.11"), Value: uint32(xdpTX)}}},
		}, runs: []run{{port80, xdpPass}},
			counters: [4]uint64{1, 0, 0, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := load(t, mapsConfig, "xdp_config", tc.opts)
			for i, r := range tc.runs {
				res := runOK(t, p, Input{Packet: r.pkt})
				if res.Retval != r.retval {
					t.Errorf("run %d: retval = %d, want %d", i, res.Retval, r.retval)
				}
			}
			if got := counters(t, p); got != tc.counters {
				t.Errorf("counters (packets, blocked, port, other) = %v, want %v", got, tc.counters)
			}
			// last_len in .bss is the linear length of the last packet.
			bss := p.Map(".bss")
			if bss == nil {
				t.Fatalf("no .bss map; maps: %v", slices.Sorted(maps.Keys(p.Maps())))
			}
			val := make([]byte, bss.ValueSize())
			if err := bss.Lookup(uint32(0), &val); err != nil {
				t.Fatalf("read .bss: %v", err)
			}
			last := tc.runs[len(tc.runs)-1].pkt
			if got := binary.LittleEndian.Uint64(val); got != uint64(len(last)) {
				t.Errorf(".bss last_len = %d, want %d", got, len(last))
			}
		})
	}
}

// TestOptionErrors checks options the loader refuses before the kernel sees
// the object; each error names what the object offers instead.
func TestOptionErrors(t *testing.T) {
	for _, tc := range []struct {
		name, object, prog string
		opts               Options
		want               []string
		is                 error
	}{
		{name: "unknown variable", object: mapsConfig, prog: "xdp_config",
			opts: Options{Variables: map[string]any{"nope": 1}},
			want: []string{"nope", "no such variable", "config", "last_len"}},
		{name: "unknown member", object: mapsConfig, prog: "xdp_config",
			opts: Options{Variables: map[string]any{"config.nope": 1}},
			want: []string{"config.nope", "no member nope", "mode, port, drop_unknown"}},
		{name: "member of a scalar", object: mapsConfig, prog: "xdp_config",
			opts: Options{Variables: map[string]any{"last_len.x": 1}},
			want: []string{"last_len.x", "not a struct"}},
		{name: "map value too large", object: mapsConfig, prog: "xdp_config",
			opts: Options{Maps: map[string][]MapEntry{"blocklist": {{Key: 1, Value: int64(1) << 32}}}},
			want: []string{"fill map blocklist entry 0 value", "4294967296 does not fit in 4 bytes"}},
		{name: "map key of the wrong size", object: mapsConfig, prog: "xdp_config",
			opts: Options{Maps: map[string][]MapEntry{"blocklist": {{Key: []byte{1, 2}, Value: 1}}}},
			want: []string{"fill map blocklist entry 0 key", "2 bytes given for a 4-byte value"}},
		{name: "members of a scalar map value", object: mapsConfig, prog: "xdp_config",
			opts: Options{Maps: map[string][]MapEntry{"blocklist": {{Key: 1, Value: map[string]any{"action": 1}}}}},
			want: []string{"fill map blocklist entry 0 value", "action: not a struct"}},
		{name: "unknown map", object: mapsConfig, prog: "xdp_config",
			opts: Options{Maps: map[string][]MapEntry{"nope": {{Key: 1, Value: 1}}}},
			want: []string{"fill map nope", "no such map", "blocklist"}},
		{name: "too large for u16", object: mapsConfig, prog: "xdp_config",
			opts: Options{Variables: map[string]any{"config.port": 70000}},
			want: []string{"config.port", "70000 does not fit in 2 bytes"}},
		{name: "too small for u16", object: mapsConfig, prog: "xdp_config",
			opts: Options{Variables: map[string]any{"config.port": -70000}},
			want: []string{"config.port", "does not fit in 2 bytes"}},
		{name: "negative below int16 for u16", object: mapsConfig, prog: "xdp_config",
			opts: Options{Variables: map[string]any{"config.port": -40000}},
			want: []string{"config.port", "-40000 does not fit in 2 bytes"}},
		{name: "negative below int32", object: adjust, prog: "xdp_adjust",
			opts: Options{Variables: map[string]any{"head_delta": int64(-3000000000)}},
			want: []string{"head_delta", "does not fit in 4 bytes"}},
		{name: "too large for int", object: adjust, prog: "xdp_adjust",
			opts: Options{Variables: map[string]any{"head_delta": uint64(1) << 32}},
			want: []string{"head_delta", "does not fit in 4 bytes"}},
		{name: "bytes of the wrong size", object: mapsConfig, prog: "xdp_config",
			opts: Options{Variables: map[string]any{"config": []byte{1, 2, 3}}},
			want: []string{"config", "3 bytes given for a 8-byte value"}},
		{name: "member of the wrong type", object: mapsConfig, prog: "xdp_config",
			opts: Options{Variables: map[string]any{"config.port": "80"}},
			want: []string{"config.port", "integer or []byte", "string"}},
		{name: "prog array missing program", object: tailCall, prog: "xdp_dispatch",
			opts: Options{ProgArrays: map[string]map[uint32]string{"jmp_table": {0: "xdp_nope"}}},
			want: []string{"jmp_table", "xdp_nope", "xdp_dispatch, xdp_ipv4, xdp_ipv6"}, is: ErrNoProgram},
		{name: "prog array not a prog array", object: mapsConfig, prog: "xdp_config",
			opts: Options{ProgArrays: map[string]map[uint32]string{"counters": {0: "xdp_config"}}},
			want: []string{"counters", "not a PROG_ARRAY"}},
		{name: "prog array missing map", object: tailCall, prog: "xdp_dispatch",
			opts: Options{ProgArrays: map[string]map[uint32]string{"jmp": {0: "xdp_ipv4"}}},
			want: []string{"jmp", "no such map", "jmp_table"}},
		{name: "prog array slot out of range", object: tailCall, prog: "xdp_dispatch",
			opts: Options{ProgArrays: map[string]map[uint32]string{"jmp_table": {4: "xdp_ipv4"}}},
			want: []string{"slot 4", "4 slots"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Load(tc.object, tc.prog, &tc.opts)
			if err == nil {
				p.Close()
				t.Fatalf("Load succeeded, want an error mentioning %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not mention %q: %v", w, err)
				}
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error is not %v: %v", tc.is, err)
			}
			if tc.is == ErrNoProgram {
				var np *NoProgramError
				if !errors.As(err, &np) || np.Name != "xdp_nope" {
					t.Errorf("error is not a *NoProgramError for xdp_nope: %#v", err)
				}
			}
		})
	}
}

func ipv6TCPFrame(t testing.TB, dport uint16) []byte {
	ip := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolTCP,
		SrcIP: net.ParseIP("2001:db8::1"), DstIP: net.ParseIP("2001:db8::2")}
	return frame(t, &layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: layers.EthernetTypeIPv6}, ip,
		&layers.TCP{SrcPort: 1234, DstPort: layers.TCPPort(dport), SYN: true, Window: 1024})
}

func TestTailCalls(t *testing.T) {
	const (
		xdpDrop = 1
		xdpPass = 2
		xdpTX   = 3
	)
	v4, v6 := tcpFrame(t, 80), ipv6TCPFrame(t, 80)
	other := bytesOf(64, 0) // ethertype 0
	for _, tc := range []struct {
		name             string
		slots            map[uint32]string
		v4, v6, ethOther uint32
	}{
		{"unwired", nil, xdpDrop, xdpDrop, xdpDrop},
		{"both slots", map[uint32]string{0: "xdp_ipv4", 1: "xdp_ipv6"}, xdpPass, xdpTX, xdpDrop},
		{"ipv6 slot only", map[uint32]string{1: "xdp_ipv6"}, xdpDrop, xdpTX, xdpDrop},
		{"slots swapped", map[uint32]string{0: "xdp_ipv6", 1: "xdp_ipv4"}, xdpTX, xdpPass, xdpDrop},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var opts *Options
			if tc.slots != nil {
				opts = &Options{ProgArrays: map[string]map[uint32]string{"jmp_table": tc.slots}}
			}
			p := load(t, tailCall, "xdp_dispatch", opts)
			for _, r := range []struct {
				name string
				pkt  []byte
				want uint32
			}{{"ipv4", v4, tc.v4}, {"ipv6", v6, tc.v6}, {"other", other, tc.ethOther}} {
				if res := runOK(t, p, Input{Packet: r.pkt}); res.Retval != r.want {
					t.Errorf("%s frame: retval = %d, want %d", r.name, res.Retval, r.want)
				}
			}
		})
	}
}

// bpffsEntries lists the top of /sys/fs/bpf, leaving out the directories
// kerneltest.BPFFS makes for tests that may run in parallel processes.
func bpffsEntries(t *testing.T) []string {
	t.Helper()
	ents, err := os.ReadDir("/sys/fs/bpf")
	if err != nil {
		t.Fatalf("list /sys/fs/bpf: %v", err)
	}
	var names []string
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), "bpffuzz-test-") {
			names = append(names, e.Name())
		}
	}
	return names
}

func TestPinnedMapUnpinned(t *testing.T) {
	kerneltest.Skip(t)
	before := bpffsEntries(t)
	p := load(t, pinned, "xdp_pinned", nil)
	if m := p.Map("pinned_map"); m == nil || m.IsPinned() {
		t.Fatalf("pinned_map is missing or pinned without Options.PinPath")
	}
	pkt := tcpFrame(t, 80)
	if res := runOK(t, p, Input{Packet: pkt}); res.Retval != 2 {
		t.Errorf("empty map: retval = %d, want 2", res.Retval)
	}
	if err := p.Map("pinned_map").Put(uint32(0), uint32(1)); err != nil {
		t.Fatal(err)
	}
	if res := runOK(t, p, Input{Packet: pkt}); res.Retval != 1 {
		t.Errorf("key 0 = 1: retval = %d, want 1", res.Retval)
	}
	// A second load gets a fresh map, not the first one's.
	q := load(t, pinned, "xdp_pinned", nil)
	if res := runOK(t, q, Input{Packet: pkt}); res.Retval != 2 {
		t.Errorf("second load: retval = %d, want 2 (a fresh map)", res.Retval)
	}
	if after := bpffsEntries(t); !slices.Equal(before, after) {
		t.Errorf("/sys/fs/bpf changed: before %v, after %v", before, after)
	}
}

func TestPinnedMapShared(t *testing.T) {
	dir := kerneltest.BPFFS(t)
	opts := &Options{PinPath: dir}
	p := load(t, pinned, "xdp_pinned", opts)
	q := load(t, pinned, "xdp_pinned", opts)
	if _, err := os.Stat(filepath.Join(dir, "pinned_map")); err != nil {
		t.Fatalf("the map is not pinned under PinPath: %v", err)
	}
	pkt := tcpFrame(t, 80)
	if res := runOK(t, q, Input{Packet: pkt}); res.Retval != 2 {
		t.Errorf("empty map: retval = %d, want 2", res.Retval)
	}
	if err := p.Map("pinned_map").Update(uint32(0), uint32(1), ebpf.UpdateAny); err != nil {
		t.Fatal(err)
	}
	if res := runOK(t, q, Input{Packet: pkt}); res.Retval != 1 {
		t.Errorf("second program after the first one's update: retval = %d, want 1", res.Retval)
	}
	// The pin outlives the first program.
	p.Close()
	if res := runOK(t, q, Input{Packet: pkt}); res.Retval != 1 {
		t.Errorf("after closing the first program: retval = %d, want 1", res.Retval)
	}
}

func TestLoadSpecKeepsSpec(t *testing.T) {
	kerneltest.Skip(t)
	read := func(path string) *ebpf.CollectionSpec {
		spec, err := ebpf.LoadCollectionSpec(path)
		if err != nil {
			t.Fatal(err)
		}
		return spec
	}
	closeAfter := func(p *Program, err error) *Program {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Close() })
		return p
	}

	cfg := read(mapsConfig)
	nProgs, nMaps := len(cfg.Programs), len(cfg.Maps)
	value := bytes.Clone(cfg.Variables["config"].Value)
	p := closeAfter(LoadSpec(cfg, "xdp_config", &Options{Variables: map[string]any{"config.mode": 1, "config.port": 80}}))
	if len(cfg.Programs) != nProgs || len(cfg.Maps) != nMaps || !bytes.Equal(cfg.Variables["config"].Value, value) {
		t.Errorf("LoadSpec changed the spec: %d programs, %d maps, config % x (was %d, %d, % x)",
			len(cfg.Programs), len(cfg.Maps), cfg.Variables["config"].Value, nProgs, nMaps, value)
	}
	if res := runOK(t, p, Input{Packet: tcpFrame(t, 80)}); res.Retval != 1 {
		t.Errorf("the loaded program did not get the variables: retval %d, want XDP_DROP", res.Retval)
	}
	// Loading the same spec again without options gets the object's config.
	p = closeAfter(LoadSpec(cfg, "xdp_config", nil))
	if res := runOK(t, p, Input{Packet: tcpFrame(t, 80)}); res.Retval != 2 {
		t.Errorf("second load from the same spec: retval %d, want XDP_PASS", res.Retval)
	}

	tc := read(tailCall)
	closeAfter(LoadSpec(tc, "xdp_dispatch", &Options{ProgArrays: map[string]map[uint32]string{"jmp_table": {0: "xdp_ipv4"}}}))
	if len(tc.Programs) != 3 {
		t.Errorf("LoadSpec removed programs from the spec: %d left, want 3", len(tc.Programs))
	}

	pin := read(pinned)
	closeAfter(LoadSpec(pin, "xdp_pinned", nil))
	if pin.Maps["pinned_map"].Pinning != ebpf.PinByName {
		t.Errorf("LoadSpec cleared the spec's pinning: %v", pin.Maps["pinned_map"].Pinning)
	}
}

func TestLoadProgramSpec(t *testing.T) {
	kerneltest.Skip(t)
	pkt := tcpFrame(t, 80)
	for _, typ := range []ebpf.ProgramType{ebpf.XDP, ebpf.SchedCLS, ebpf.SocketFilter} {
		t.Run(typ.String(), func(t *testing.T) {
			ps := &ebpf.ProgramSpec{Name: "ret3", Type: typ, License: "GPL",
				Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, 3), asm.Return()}}
			p, err := LoadProgramSpec(ps, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			if p.Name != "ret3" || p.Type != typ || p.Map("any") != nil || p.Maps() != nil {
				t.Errorf("program %q type %s, maps %v", p.Name, p.Type, p.Maps())
			}
			res := runOK(t, p, Input{Packet: pkt})
			if res.Retval != 3 {
				t.Errorf("retval = %d, want 3", res.Retval)
			}
			if !bytes.Equal(res.Packet[14:], pkt[14:]) {
				t.Errorf("output differs from input past the Ethernet header")
			}
			// The Program keeps its own copy of the spec.
			ps.Instructions[0] = asm.Mov.Imm(asm.R0, 4)
			if p.Spec.Instructions[0].Constant != 3 {
				t.Errorf("Program.Spec shares instructions with the caller's spec")
			}
		})
	}
	_, err := LoadProgramSpec(&ebpf.ProgramSpec{Type: ebpf.Kprobe, License: "GPL",
		Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, 0), asm.Return()}}, nil)
	if !errors.Is(err, ErrNotRunnable) {
		t.Errorf("kprobe spec: %v, want ErrNotRunnable", err)
	}
}

func TestBPFToBPFCalls(t *testing.T) {
	p := load(t, "testdata/bpf2bpf.o", "xdp_calls", nil)
	seq := make([]byte, 64)
	for i := range seq {
		seq[i] = byte(i)
	}
	for _, tc := range []struct {
		name string
		pkt  []byte
		want uint32
	}{
		{"64 x 01", bytesOf(64, 1), 0},
		{"14 x 01", bytesOf(14, 1), 2},
		{"03 then zeros", append([]byte{3}, make([]byte, 63)...), 3},
		{"00 01 .. 3f", seq, 0},
		{"16 zeros then ff", append(make([]byte, 16), bytesOf(48, 0xff)...), 0},
		{"15 x 01", bytesOf(15, 1), 3},
		{"ff in byte 15", append(make([]byte, 15), bytesOf(49, 0xff)...), 3},
	} {
		if res := runOK(t, p, Input{Packet: tc.pkt}); res.Retval != tc.want {
			t.Errorf("%s: retval = %d, want %d", tc.name, res.Retval, tc.want)
		}
	}
}
