// Package mutate turns a seed packet and context plus fuzz decisions into
// the packet and context of one execution, structure-aware: it finds the
// Ethernet, VLAN, IPv4/IPv6, TCP/UDP/ICMP and VXLAN/GENEVE headers of the
// packet and changes their fields, pushes and pops layers, truncates and
// splices, writes constants taken from the program's own bytecode, and then
// fixes lengths and checksums (or, in a small fraction of runs, leaves them
// wrong on purpose). It never touches the kernel.
//
// Mutations (Options.MaxOps slots of decisions, each empty or one of these;
// see Packet):
//
//	flip-bit        flip one bit anywhere
//	interesting     set a byte to 0x00, 0x01, 0x7f, 0x80 or 0xff
//	dictionary      write a program constant at a load offset (from the frame,
//	                the L3 or the L4 header) or a header field
//	field           write the constant a loaded field is compared with at the
//	                field's offset (from the frame, L3, L4 or L4 payload)
//	truncate        cut the packet at a header boundary or anywhere
//	insert / delete insert or remove bytes
//	ethertype       set the (innermost) ethertype
//	vlan-push/pop   add or remove an 802.1Q / 802.1ad tag
//	ipv4-field      TTL, protocol, TOS, id, flags/fragment offset, IHL, addresses
//	ipv4-options    add an options block (NOP, RR, timestamp, router alert)
//	ipv6-field      next header, hop limit, flow label, traffic class
//	ipv6-ext        push a hop-by-hop, routing, fragment or destination header
//	ports           set a TCP/UDP port (common ports or dictionary values)
//	tcp-flags       set TCP flags
//	tcp-options     set the TCP options (MSS, window scale, SACK, timestamps)
//	icmp            set ICMP/ICMPv6 type and code
//	encap-push      wrap the packet in Ethernet/IPv4/UDP/VXLAN or GENEVE, GRE or IPIP
//	encap-pop       strip an outer encapsulation
//	splice          join this packet's headers with another seed's tail
//
// Decisions are read through internal/consume; the same seed, decisions
// and peers always give the same packet.
package mutate
