package netns

import (
	"net"
	"testing"
	"time"

	"github.com/bpffuzz/bpffuzz/internal/kerneltest"
	"golang.org/x/sys/unix"
)

// TestVethCarriesFrames sends a raw frame out of one end of a veth pair in
// a fresh namespace and captures it, byte for byte, on the other end.
func TestVethCarriesFrames(t *testing.T) {
	kerneltest.Skip(t)
	ns, err := New()
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	v, err := ns.AddVeth("bf0", "bf1", 1500)
	if err != nil {
		t.Fatal(err)
	}
	frame := make([]byte, 60)
	copy(frame, []byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x88, 0xb5, 'h', 'i'})
	var c *Capture
	err = ns.Do(func() error {
		ifs, err := net.Interfaces()
		if err != nil {
			return err
		}
		if len(ifs) != 3 {
			t.Errorf("namespace has %d interfaces, want lo and the pair: %v", len(ifs), ifs)
		}
		if c, err = Listen(v.PeerIndex, 10); err != nil {
			return err
		}
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		return unix.Sendto(fd, frame, 0, &unix.SockaddrLinklayer{Ifindex: v.Index, Halen: 6})
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Drain(1, 500*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if c.Count != 1 || string(c.Packets[0]) != string(frame) {
		t.Errorf("peer saw %d frames %x, want one: %x", c.Count, c.Packets, frame)
	}
	if _, err := net.InterfaceByName("bf0"); err == nil {
		t.Error("bf0 is visible in the test's own namespace")
	}
}
