package pkt

import (
	"bytes"
	"encoding/hex"
	"testing"
)

var udp4, _ = hex.DecodeString("020000000002020000000001080045000020000100004011f6c0c000020ac000020130390035000cc1d168692121")

func TestVerify(t *testing.T) {
	if err := Verify(udp4, 0, false); err != nil {
		t.Fatal(err)
	}
	bad := bytes.Clone(udp4)
	bad[24] ^= 1 // IPv4 checksum
	if Verify(bad, 0, false) == nil {
		t.Error("bad IPv4 checksum verified")
	}
	bad = bytes.Clone(udp4)
	bad[44] ^= 1 // UDP payload: checksum now wrong
	if Verify(bad, 0, false) == nil {
		t.Error("bad UDP checksum verified")
	}
	Fix(bad, 0, false, false)
	if err := Verify(bad, 0, false); err != nil {
		t.Errorf("after Fix: %v", err)
	}
	if Verify(udp4[:30], 0, false) == nil {
		t.Error("cut IPv4 header verified")
	}
	// Protocol 58 in IPv4 is not ICMPv6: its "checksum" is not checked
	// (tc_rewrite rewrote such a packet's address and the output oracle
	// flagged the stale bytes, a false finding).
	icmp6in4 := bytes.Clone(udp4)
	icmp6in4[23] = 58
	Fix(icmp6in4, 0, false, false)
	icmp6in4[36] ^= 0xff
	if err := Verify(icmp6in4, 0, false); err != nil {
		t.Errorf("IPv4 protocol 58: %v", err)
	}
	// L3 view: the kernel zeroes the Ethernet header.
	l3 := bytes.Clone(udp4)
	clear(l3[:14])
	if err := Verify(l3, 14, true); err != nil {
		t.Errorf("L3 view: %v", err)
	}
}

// FuzzHeaders: Parse, Verify and Fix never panic on any bytes, Fix is
// idempotent, and a packet Fix resized verifies whenever its headers
// parse completely.
func FuzzHeaders(f *testing.F) {
	f.Add(udp4)
	f.Add(udp4[:20])
	f.Fuzz(func(t *testing.T, p []byte) {
		Parse(p, 0)
		ParseIP(p, 14)
		Verify(p, 0, false)
		Verify(p, 14, true)
		a := bytes.Clone(p)
		Fix(a, 0, false, true)
		b := bytes.Clone(a)
		Fix(b, 0, false, true)
		if !bytes.Equal(a, b) {
			t.Fatalf("Fix is not idempotent")
		}
	})
}
