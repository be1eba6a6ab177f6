package netns

import (
	"errors"
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// Capture is an AF_PACKET socket on one interface that sees the frames
// arriving there (not the ones the interface sends).
type Capture struct {
	fd   int
	keep int
	buf  []byte

	// Packets are the first Keep frames received, in order.
	Packets [][]byte
	// Count and Bytes count every frame received, kept or not.
	Count, Bytes uint64
}

// rcvBuf is the socket buffer asked for (SO_RCVBUFFORCE), so that bursts
// of a live run are not dropped before they are read.
const rcvBuf = 64 << 20

// Listen opens a capture on the interface with the given index. It must be
// called inside the interface's namespace ([NS.Do]); the capture may then
// be read from any goroutine. keep is how many frames' bytes to keep.
func Listen(ifindex, keep int) (*Capture, error) {
	proto := int(htons(unix.ETH_P_ALL))
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, proto)
	if err != nil {
		return nil, fmt.Errorf("open packet socket: %w", err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, rcvBuf); err != nil {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, rcvBuf)
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: uint16(proto), Ifindex: ifindex}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("bind packet socket to interface %d: %w", ifindex, err)
	}
	return &Capture{fd: fd, keep: keep, buf: make([]byte, 1<<16)}, nil
}

// Close closes the socket.
func (c *Capture) Close() error {
	if c == nil || c.fd < 0 {
		return nil
	}
	err := unix.Close(c.fd)
	c.fd = -1
	return err
}

// Reset discards what has been received so far and zeroes the counts.
func (c *Capture) Reset() error {
	for {
		_, _, err := unix.Recvfrom(c.fd, c.buf, 0)
		if errors.Is(err, unix.EAGAIN) {
			break
		}
		if err != nil {
			return fmt.Errorf("read packet socket: %w", err)
		}
	}
	_, _ = unix.GetsockoptTpacketStats(c.fd, unix.SOL_PACKET, unix.PACKET_STATISTICS) // reading resets them
	c.Packets, c.Count, c.Bytes = nil, 0, 0
	return nil
}

// Drain reads frames until want have been counted, or until none has
// arrived for quiet. It returns how many the socket dropped for lack of
// buffer space since the last Reset or Drain.
func (c *Capture) Drain(want uint64, quiet time.Duration) (drops uint64, err error) {
	last := time.Now()
	for c.Count < want || want == 0 {
		n, from, err := unix.Recvfrom(c.fd, c.buf, 0)
		if errors.Is(err, unix.EAGAIN) {
			if time.Since(last) >= quiet {
				break
			}
			fds := []unix.PollFd{{Fd: int32(c.fd), Events: unix.POLLIN}}
			if _, err := unix.Poll(fds, int(max(quiet/time.Millisecond/4, 1))); err != nil && !errors.Is(err, unix.EINTR) {
				return 0, fmt.Errorf("poll packet socket: %w", err)
			}
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("read packet socket: %w", err)
		}
		last = time.Now()
		if ll, ok := from.(*unix.SockaddrLinklayer); ok && ll.Pkttype == unix.PACKET_OUTGOING {
			continue
		}
		c.Count++
		c.Bytes += uint64(n)
		if len(c.Packets) < c.keep {
			c.Packets = append(c.Packets, append([]byte(nil), c.buf[:n]...))
		}
	}
	st, err := unix.GetsockoptTpacketStats(c.fd, unix.SOL_PACKET, unix.PACKET_STATISTICS)
	if err != nil {
		return 0, fmt.Errorf("read packet socket statistics: %w", err)
	}
	return uint64(st.Drops), nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }
