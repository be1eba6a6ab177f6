package bpf

import (
	"bytes"
	"strings"
	"testing"

	"github.com/cilium/ebpf/btf"
)

// TestEncodeMapValue: map keys and values given by member name are laid
// out by the BTF struct, the rest zero.
func TestEncodeMapValue(t *testing.T) {
	u8 := &btf.Int{Name: "u8", Size: 1}
	u16 := &btf.Int{Name: "u16", Size: 2}
	u32 := &btf.Int{Name: "u32", Size: 4}
	addr := &btf.Struct{Name: "addr", Size: 8, Members: []btf.Member{
		{Name: "ip", Type: u32, Offset: 0}, {Name: "port", Type: u16, Offset: 32},
	}}
	val := &btf.Struct{Name: "val", Size: 16, Members: []btf.Member{
		{Name: "action", Type: u8, Offset: 0},
		{Name: "peer", Type: &btf.Typedef{Name: "peer_t", Type: addr}, Offset: 32},
		{Name: "mac", Type: &btf.Array{Type: u8, Index: u32, Nelems: 4}, Offset: 96},
	}}
	for _, c := range []struct {
		v    any
		want []byte
		err  string
	}{
		{v: map[string]any{"action": 2, "peer.port": 53, "mac": []byte{1, 2, 3, 4}},
			want: []byte{2, 0, 0, 0, 0, 0, 0, 0, 53, 0, 0, 0, 1, 2, 3, 4}},
		{v: map[string]any{"peer.ip": uint32(0x0a000001)}, want: []byte{0, 0, 0, 0, 1, 0, 0, 10, 0, 0, 0, 0, 0, 0, 0, 0}},
		{v: map[string]any{"action": 256}, err: "action: 256 does not fit in 1 bytes"},
		{v: map[string]any{"mac": []byte{1}}, err: "mac: 1 bytes given for a 4-byte member"},
		{v: map[string]any{"peer.nope": 1}, err: "no member nope (members: ip, port)"},
		{v: map[string]any{"action": "x"}, err: "action: want an integer or bytes, got string"},
		{v: bytes.Repeat([]byte{7}, 16), want: bytes.Repeat([]byte{7}, 16)},
		{v: []byte{1}, err: "1 bytes given for a 16-byte value"},
		{v: 5, err: "an integer cannot fill 16 bytes"},
	} {
		got, err := encodeMapValue(val, 16, c.v)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%v: error %v, want %q", c.v, err, c.err)
			}
			continue
		}
		if err != nil || !bytes.Equal(got.([]byte), c.want) {
			t.Errorf("%v: %x, %v; want %x", c.v, got, err, c.want)
		}
	}
	if _, err := encodeMapValue(nil, 4, map[string]any{"a": 1}); err == nil || !strings.Contains(err.Error(), "no BTF") {
		t.Errorf("members without BTF: %v", err)
	}
	if got, err := encodeMapValue(u32, 4, -1); err != nil || !bytes.Equal(got.([]byte), []byte{255, 255, 255, 255}) {
		t.Errorf("-1 in 4 bytes: %x, %v", got, err)
	}
}
