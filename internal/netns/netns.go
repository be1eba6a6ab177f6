package netns

import (
	"errors"
	"fmt"
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

// NS is a network namespace created by [New].
type NS struct {
	fd int
}

// New creates an empty network namespace. Its loopback device is up, and
// IPv6 is disabled in it so that no interface sends neighbour discovery or
// router solicitations of its own: what leaves an interface there is what a
// test sent.
func New() (*NS, error) {
	var ns *NS
	err := onNewThread(func() error {
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			if errors.Is(err, unix.EPERM) {
				return fmt.Errorf("create network namespace: %w (needs root or CAP_SYS_ADMIN)", err)
			}
			return fmt.Errorf("create network namespace: %w", err)
		}
		fd, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("open new network namespace: %w", err)
		}
		ns = &NS{fd: fd}
		if err := setup(); err != nil {
			ns.Close()
			return err
		}
		return nil
	})
	return ns, err
}

// setup brings loopback up and switches IPv6 off in the current namespace.
func setup() error {
	for _, f := range []string{"/proc/sys/net/ipv6/conf/all/disable_ipv6", "/proc/sys/net/ipv6/conf/default/disable_ipv6"} {
		// A kernel without IPv6 has no such file: nothing to switch off.
		if err := os.WriteFile(f, []byte("1"), 0); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("disable IPv6 in the namespace: %w", err)
		}
	}
	c, err := dialRoute()
	if err != nil {
		return err
	}
	defer c.close()
	return c.setUp(1)
}

// Close removes the namespace and every interface in it (once no thread
// runs inside it any more).
func (ns *NS) Close() error {
	if ns == nil || ns.fd < 0 {
		return nil
	}
	err := unix.Close(ns.fd)
	ns.fd = -1
	return err
}

// Do runs fn on an OS thread that has entered the namespace. fn must not
// start goroutines that expect to be in the namespace: only its own
// thread is. Sockets, BPF links and netlink requests made by fn belong to
// the namespace.
func (ns *NS) Do(fn func() error) error {
	if ns == nil || ns.fd < 0 {
		return errors.New("network namespace is closed")
	}
	return onNewThread(func() error {
		if err := unix.Setns(ns.fd, unix.CLONE_NEWNET); err != nil {
			return fmt.Errorf("enter network namespace: %w", err)
		}
		return fn()
	})
}

// onNewThread runs fn on a goroutine locked to an OS thread that is never
// unlocked: the runtime ends the thread with the goroutine, so namespace
// changes die with it and never reach another goroutine.
func onNewThread(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer func() {
			if r := recover(); r != nil {
				errc <- fmt.Errorf("panic in network namespace: %v", r)
			}
		}()
		errc <- fn()
	}()
	return <-errc
}

// Veth is a veth pair in a namespace: frames sent out of one end arrive on
// the other.
type Veth struct {
	Name, PeerName   string
	Index, PeerIndex int
	MTU              int
}

// AddVeth creates a veth pair name/peer in the namespace with the given MTU
// on both ends and brings both up.
func (ns *NS) AddVeth(name, peer string, mtu int) (*Veth, error) {
	v := &Veth{Name: name, PeerName: peer, MTU: mtu}
	err := ns.Do(func() error {
		c, err := dialRoute()
		if err != nil {
			return err
		}
		defer c.close()
		if err := c.newVeth(name, peer, mtu); err != nil {
			return fmt.Errorf("create veth pair %s/%s: %w", name, peer, err)
		}
		if v.Index, err = c.linkIndex(name); err != nil {
			return err
		}
		if v.PeerIndex, err = c.linkIndex(peer); err != nil {
			return err
		}
		for _, i := range []int{v.PeerIndex, v.Index} {
			if err := c.setUp(i); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return v, nil
}
