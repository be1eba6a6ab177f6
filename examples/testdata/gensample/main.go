// Command gensample writes examples/testdata/sample.pcapng, the capture the
// demo runs the example programs on. Run from the repository root:
//
//	go run ./examples/testdata/gensample
package main

import (
	"log"
	"net"
	"os"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

func main() {
	macA := net.HardwareAddr{0x02, 0, 0, 0, 0, 1}
	macB := net.HardwareAddr{0x02, 0, 0, 0, 0, 2}
	v4 := func(proto layers.IPProtocol, ttl uint8) *layers.IPv4 {
		return &layers.IPv4{Version: 4, IHL: 5, TTL: ttl, Protocol: proto, SrcIP: net.IP{192, 0, 2, 10}, DstIP: net.IP{192, 0, 2, 1}}
	}
	v6 := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolUDP,
		SrcIP: net.ParseIP("2001:db8::10"), DstIP: net.ParseIP("2001:db8::1")}
	eth := func(t layers.EthernetType) *layers.Ethernet {
		return &layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: t}
	}
	payload := gopacket.Payload("bpffuzz sample")
	packets := [][]gopacket.SerializableLayer{
		{eth(layers.EthernetTypeIPv4), v4(layers.IPProtocolTCP, 64), &layers.TCP{SrcPort: 40000, DstPort: 80, SYN: true, Window: 64240}, payload},
		{eth(layers.EthernetTypeIPv4), v4(layers.IPProtocolTCP, 64), &layers.TCP{SrcPort: 40001, DstPort: 23, SYN: true, Window: 64240}, payload},
		{eth(layers.EthernetTypeIPv6), v6, &layers.UDP{SrcPort: 5353, DstPort: 53}, payload},
		{eth(layers.EthernetTypeDot1Q), &layers.Dot1Q{VLANIdentifier: 100, Type: layers.EthernetTypeIPv4}, v4(layers.IPProtocolUDP, 1), &layers.UDP{SrcPort: 1000, DstPort: 9}, payload},
	}
	f, err := os.Create("examples/testdata/sample.pcapng")
	if err != nil {
		log.Fatal(err)
	}
	w, err := pcapgo.NewNgWriter(f, layers.LinkTypeEthernet)
	if err != nil {
		log.Fatal(err)
	}
	ts := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	for i, ls := range packets {
		for _, l := range ls {
			switch l := l.(type) {
			case *layers.TCP:
				_ = l.SetNetworkLayerForChecksum(ls[len(ls)-3].(gopacket.NetworkLayer))
			case *layers.UDP:
				_ = l.SetNetworkLayerForChecksum(ls[len(ls)-3].(gopacket.NetworkLayer))
			}
		}
		buf := gopacket.NewSerializeBuffer()
		if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
			log.Fatal(err)
		}
		data := buf.Bytes()
		ci := gopacket.CaptureInfo{Timestamp: ts.Add(time.Duration(i) * time.Millisecond), CaptureLength: len(data), Length: len(data)}
		if err := w.WritePacket(ci, data); err != nil {
			log.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		log.Fatal(err)
	}
	if err := f.Close(); err != nil {
		log.Fatal(err)
	}
}
