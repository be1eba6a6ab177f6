package bpf

import (
	"net"
	"testing"

	"github.com/bpffuzz/bpffuzz/internal/kerneltest"
	"github.com/cilium/ebpf"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// load loads a program from an object in testdata (or ../examples) and
// closes it when the test ends.
func load(t *testing.T, object, program string, opts *Options) *Program {
	t.Helper()
	kerneltest.Skip(t)
	p, err := Load(object, program, opts)
	if err != nil {
		t.Fatalf("load %s %s: %v", object, program, err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func mustRun(t *testing.T, p *Program, in Input) Result {
	t.Helper()
	res, err := p.Run(in)
	if err != nil {
		t.Fatalf("run %s: %v", p.Name, err)
	}
	return res
}

// frame builds an Ethernet frame with gopacket, lengths and checksums fixed.
func frame(t testing.TB, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	for _, l := range ls {
		if n, ok := l.(interface {
			SetNetworkLayerForChecksum(gopacket.NetworkLayer) error
		}); ok {
			for _, nl := range ls {
				if ip, ok := nl.(gopacket.NetworkLayer); ok {
					_ = n.SetNetworkLayerForChecksum(ip)
				}
			}
		}
	}
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

var (
	macA = net.HardwareAddr{0x02, 0, 0, 0, 0, 1}
	macB = net.HardwareAddr{0x02, 0, 0, 0, 0, 2}
)

func ethIPv4() *layers.Ethernet {
	return &layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: layers.EthernetTypeIPv4}
}

func ipv4(proto layers.IPProtocol, src, dst string) *layers.IPv4 {
	return &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: proto, SrcIP: net.ParseIP(src).To4(), DstIP: net.ParseIP(dst).To4()}
}

// tcpFrame is an IPv4/TCP frame of at least 64 bytes.
func tcpFrame(t testing.TB, dport uint16) []byte {
	return frame(t, ethIPv4(), ipv4(layers.IPProtocolTCP, "192.0.2.10", "192.0.2.1"),
		&layers.TCP{SrcPort: 40000, DstPort: layers.TCPPort(dport), SYN: true, Window: 1024}, gopacket.Payload(make([]byte, 10)))
}

func bytesOf(n int, b byte) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = b
	}
	return p
}

var _ = ebpf.XDP
