package netns

import (
	"encoding/binary"
	"fmt"
	"net"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// route is a NETLINK_ROUTE socket of the calling thread's namespace, for
// the few link requests this package makes.
type route struct {
	fd  int
	seq uint32
}

func dialRoute() (*route, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("open rtnetlink socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("bind rtnetlink socket: %w", err)
	}
	return &route{fd: fd}, nil
}

func (r *route) close() { unix.Close(r.fd) }

// attr appends a netlink attribute (4-byte aligned).
func attr(b []byte, typ uint16, payload []byte) []byte {
	l := unix.SizeofRtAttr + len(payload)
	b = binary.NativeEndian.AppendUint16(b, uint16(l))
	b = binary.NativeEndian.AppendUint16(b, typ)
	b = append(b, payload...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func strAttr(b []byte, typ uint16, s string) []byte { return attr(b, typ, append([]byte(s), 0)) }

func u32Attr(b []byte, typ uint16, v uint32) []byte {
	return attr(b, typ, binary.NativeEndian.AppendUint32(nil, v))
}

func ifinfo(index int32, flags, change uint32) []byte {
	m := unix.IfInfomsg{Family: unix.AF_UNSPEC, Index: index, Flags: flags, Change: change}
	return append([]byte(nil), (*[unix.SizeofIfInfomsg]byte)(unsafe.Pointer(&m))[:]...)
}

// request sends one message and waits for the kernel's acknowledgement.
func (r *route) request(typ uint16, flags uint16, body []byte) error {
	r.seq++
	h := unix.NlMsghdr{
		Len:   uint32(unix.SizeofNlMsghdr + len(body)),
		Type:  typ,
		Flags: unix.NLM_F_REQUEST | unix.NLM_F_ACK | flags,
		Seq:   r.seq,
	}
	msg := append((*[unix.SizeofNlMsghdr]byte)(unsafe.Pointer(&h))[:], body...)
	if err := unix.Sendto(r.fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return err
	}
	buf := make([]byte, 8192)
	for {
		n, _, err := unix.Recvfrom(r.fd, buf, 0)
		if err != nil {
			return err
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			return err
		}
		for _, m := range msgs {
			if m.Header.Seq != r.seq || m.Header.Type != syscall.NLMSG_ERROR {
				continue
			}
			if len(m.Data) < 4 {
				return fmt.Errorf("short netlink error message")
			}
			if e := int32(binary.NativeEndian.Uint32(m.Data)); e != 0 {
				return unix.Errno(-e)
			}
			return nil
		}
	}
}

// newVeth creates a veth pair (RTM_NEWLINK, kind "veth", VETH_INFO_PEER).
func (r *route) newVeth(name, peer string, mtu int) error {
	const vethInfoPeer = 1
	peerMsg := ifinfo(0, 0, 0)
	peerMsg = strAttr(peerMsg, unix.IFLA_IFNAME, peer)
	peerMsg = u32Attr(peerMsg, unix.IFLA_MTU, uint32(mtu))
	data := attr(nil, vethInfoPeer, peerMsg)
	info := strAttr(nil, unix.IFLA_INFO_KIND, "veth")
	info = attr(info, unix.IFLA_INFO_DATA, data)

	body := ifinfo(0, 0, 0)
	body = strAttr(body, unix.IFLA_IFNAME, name)
	body = u32Attr(body, unix.IFLA_MTU, uint32(mtu))
	body = attr(body, unix.IFLA_LINKINFO, info)
	return r.request(unix.RTM_NEWLINK, unix.NLM_F_CREATE|unix.NLM_F_EXCL, body)
}

// setUp sets IFF_UP on the interface with the given index.
func (r *route) setUp(index int) error {
	if err := r.request(unix.RTM_NEWLINK, 0, ifinfo(int32(index), unix.IFF_UP, unix.IFF_UP)); err != nil {
		return fmt.Errorf("bring interface %d up: %w", index, err)
	}
	return nil
}

// linkIndex looks an interface of the calling thread's namespace up by
// name. net.InterfaceByName asks the kernel through a netlink socket of the
// same thread, so it sees the namespace.
func (r *route) linkIndex(name string) (int, error) {
	ifc, err := net.InterfaceByName(name)
	if err != nil {
		return 0, fmt.Errorf("find interface %s: %w", name, err)
	}
	return ifc.Index, nil
}
