package pkt

import (
	"math/rand/v2"
	"testing"
)

// TestChecksumWords checks the eight-bytes-a-step Checksum against the
// plain sum of 16-bit words, for every length up to 80 and many contents.
func TestChecksumWords(t *testing.T) {
	ref := func(sum uint32, b []byte) uint16 {
		for ; len(b) >= 2; b = b[2:] {
			sum += uint32(b[0])<<8 | uint32(b[1])
		}
		if len(b) == 1 {
			sum += uint32(b[0]) << 8
		}
		for sum>>16 != 0 {
			sum = sum&0xffff + sum>>16
		}
		return ^uint16(sum)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for n := range 81 {
		for i := range 200 {
			b := make([]byte, n)
			for j := range b {
				switch i % 3 {
				case 0:
					b[j] = byte(r.Uint32())
				case 1:
					b[j] = 0xff
				}
			}
			sum := r.Uint32() & 0x3ffff
			if i%2 == 0 {
				sum = 0
			}
			if got, want := Checksum(sum, b), ref(sum, b); got != want {
				t.Fatalf("Checksum(%#x, %x) = %#04x, want %#04x", sum, b, got, want)
			}
		}
	}
}
