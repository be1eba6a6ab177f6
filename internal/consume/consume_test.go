package consume

import (
	"errors"
	"testing"
)

func TestContract(t *testing.T) {
	d := New([]byte{7, 1, 0x34, 0x12, 0x78, 0x56, 0x34, 0x12, 200, 9})
	if b, _ := d.Byte(); b != 7 {
		t.Errorf("Byte = %d", b)
	}
	if v, _ := d.Bool(); !v {
		t.Errorf("Bool = false for 1")
	}
	if v, _ := d.Uint16(); v != 0x1234 {
		t.Errorf("Uint16 = %#x", v)
	}
	if v, _ := d.Uint32(); v != 0x12345678 {
		t.Errorf("Uint32 = %#x", v)
	}
	if v, _ := d.Intn(100); v != 0 {
		t.Errorf("Intn(100) of 200 = %d", v)
	}
	if v, err := d.Intn(4); v != 1 || err != nil {
		t.Errorf("Intn(4) of 9 = %d, %v", v, err)
	}
	for _, f := range []func() error{
		func() error { _, err := d.Byte(); return err },
		func() error { _, err := d.Slot(); return err },
		func() error { _, err := d.Uint32(); return err },
		func() error { _, err := d.Intn(1000); return err },
		func() error { _, err := d.Bytes(); return err },
	} {
		if err := f(); !errors.Is(err, ErrExhausted) {
			t.Errorf("after the end: %v, want ErrExhausted", err)
		}
	}
}

func TestSlot(t *testing.T) {
	d := New([]byte{1, 2, 3, 4, 5, 6})
	if v, err := d.Slot(); v != 0x04030201 || err != nil {
		t.Errorf("Slot = %#x, %v", v, err)
	}
	if v, err := d.Slot(); v != 0x0605 || err != nil {
		t.Errorf("short Slot = %#x, %v (want the two bytes left, zero-padded)", v, err)
	}
	if _, err := d.Slot(); !errors.Is(err, ErrExhausted) {
		t.Errorf("Slot after the end: %v", err)
	}
}

// FuzzDecisions checks that decoding never panics and is deterministic.
func FuzzDecisions(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8})
	f.Fuzz(func(t *testing.T, data []byte) {
		read := func() []int {
			d := New(data)
			var out []int
			for i := 0; ; i++ {
				var v int
				var err error
				switch i % 5 {
				case 4:
					var u uint32
					u, err = d.Slot()
					v = int(u)
				case 0:
					v, err = d.Intn(1 + i*37)
				case 1:
					var u uint32
					u, err = d.Uint32()
					v = int(u)
				case 2:
					var b []byte
					b, err = d.Bytes()
					v = len(b)
				default:
					var b byte
					b, err = d.Byte()
					v = int(b)
				}
				if err != nil {
					return out
				}
				out = append(out, v)
			}
		}
		a, b := read(), read()
		if len(a) != len(b) {
			t.Fatalf("nondeterministic: %v vs %v", a, b)
		}
		for i := range a {
			if a[i] != b[i] {
				t.Fatalf("nondeterministic at %d", i)
			}
		}
	})
}
