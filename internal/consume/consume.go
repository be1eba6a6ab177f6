// Package consume turns fuzz bytes into structured decisions. It is the one
// place that uses github.com/AdaLogics/go-fuzz-headers.
//
// Byte contract: decisions are read front to back; Byte and Bool take one
// byte, Uint16 two and Uint32 four (little-endian), Intn one byte for n up
// to 256 and four above; Bytes takes a Uint32 length (modulo what is left)
// and then that many bytes; Slot takes the next SlotLen bytes (fewer at
// the end, padded with zeros). When the input runs out, every call returns
// ErrExhausted and the caller stops deciding: a fuzz input therefore always
// maps to the same decisions.
package consume

import (
	"encoding/binary"
	"errors"

	fuzz "github.com/AdaLogics/go-fuzz-headers"
)

// ErrExhausted is returned once the fuzz bytes are used up.
var ErrExhausted = errors.New("consume: out of fuzz bytes")

// Decisions reads decisions from fuzz bytes. The zero value has none.
type Decisions struct {
	data []byte
	pos  int
}

// New reads decisions from data, which it does not modify or keep beyond
// the Decisions' life.
func New(data []byte) *Decisions { return &Decisions{data: data} }

// Reset makes d read decisions from data from the start, so one Decisions
// serves every execution without allocating.
func (d *Decisions) Reset(data []byte) { d.data, d.pos = data, 0 }

// Byte returns the next byte. It is read here rather than through
// go-fuzz-headers, whose GetByte allocates an error at the end of the
// input, on the hot path of every execution; the contract is the same.
func (d *Decisions) Byte() (byte, error) {
	if d.pos >= len(d.data) {
		return 0, ErrExhausted
	}
	b := d.data[d.pos]
	d.pos++
	return b, nil
}

// Bool returns whether the next byte is odd.
func (d *Decisions) Bool() (bool, error) {
	b, err := d.Byte()
	return b&1 == 1, err
}

// Uint16 returns the next two bytes, little-endian.
func (d *Decisions) Uint16() (uint16, error) {
	lo, err := d.Byte()
	if err != nil {
		return 0, err
	}
	hi, err := d.Byte()
	return uint16(lo) | uint16(hi)<<8, err
}

// Uint32 returns the next four bytes, little-endian. (go-fuzz-headers'
// own GetUint32 is big-endian and allocates; this reads byte by byte.)
func (d *Decisions) Uint32() (uint32, error) {
	var b [4]byte
	for i := range b {
		v, err := d.Byte()
		if err != nil {
			return 0, err
		}
		b[i] = v
	}
	return binary.LittleEndian.Uint32(b[:]), nil
}

// Intn returns a value in [0, n). n must be positive.
func (d *Decisions) Intn(n int) (int, error) {
	if n <= 0 {
		panic("consume: Intn with n <= 0")
	}
	if n <= 256 {
		b, err := d.Byte()
		return int(b) % n, err
	}
	v, err := d.Uint32()
	return int(v % uint32(n)), err
}

// SlotLen is the size of a Slot.
const SlotLen = 4

// Slot returns the next SlotLen bytes as one value, little-endian; when
// fewer are left it takes those, as if zeros followed.
func (d *Decisions) Slot() (uint32, error) {
	if d.pos >= len(d.data) {
		return 0, ErrExhausted
	}
	var v uint32
	for i := range SlotLen {
		if d.pos < len(d.data) {
			v |= uint32(d.data[d.pos]) << (8 * i)
			d.pos++
		}
	}
	return v, nil
}

// Bytes returns a slice of the remaining input, of a length the input
// decides. It aliases the fuzz bytes.
func (d *Decisions) Bytes() ([]byte, error) {
	rest := d.data[min(d.pos, len(d.data)):]
	b, err := fuzz.NewConsumer(rest).GetBytes()
	if err != nil {
		d.pos = len(d.data) // it consumed what it could not use
		return nil, ErrExhausted
	}
	// b aliases rest: it ends where the consumer stopped.
	d.pos += cap(rest) - cap(b) + len(b)
	return b, nil
}
