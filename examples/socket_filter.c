//go:build ignore

// SPDX-License-Identifier: GPL-2.0
/*
 * socket_filter.c — keep only DNS (UDP port 53) over IPv4.
 *
 * Program: sock_filter (SEC "socket", BPF_PROG_TYPE_SOCKET_FILTER)
 *
 * Uses the classic LD_ABS/LD_IND packet loads (load_byte/load_half), which
 * read relative to the network header and return values in host byte order.
 * An out-of-range LD_ABS/LD_IND load ends the program with return value 0,
 * i.e. truncated packets are dropped without explicit checks.
 *
 * Return values:
 *   skb->len  keep the whole packet: IPv4/UDP with source or destination 53
 *   0         drop: anything else (non-IPv4, other protocols, non-first
 *             fragments, IHL < 5, truncated headers)
 *
 * Offsets: for a socket filter run through BPF_PROG_RUN, the input still
 * starts with a 14-byte Ethernet header, but the kernel pulls it off before
 * running the program: offset 0 is the first byte of the IPv4 header, and
 * skb->len excludes the Ethernet header.
 *
 * Build:  scripts/build-bpf.sh examples
 * Run:    go run ./cmd/bpffuzz run examples/socket_filter.o sock_filter --data-hex <frame>
 */
#include <stddef.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

/* LD_ABS / LD_IND intrinsics, as in the kernel's samples/bpf. */
unsigned long long load_byte(void *skb, unsigned long long off) asm("llvm.bpf.load.byte");
unsigned long long load_half(void *skb, unsigned long long off) asm("llvm.bpf.load.half");

#define IP_OFFSET 0x1FFF /* fragment offset mask of iphdr.frag_off */
#define DNS_PORT  53

SEC("socket")
int sock_filter(struct __sk_buff *skb)
{
	__u32 ihl, l4, sport, dport;
	__u8 vihl;

	if (skb->protocol != bpf_htons(ETH_P_IP))
		return 0;

	vihl = load_byte(skb, 0);
	if ((vihl >> 4) != 4)
		return 0;
	ihl = vihl & 0x0f;
	if (ihl < 5)
		return 0;
	if (load_byte(skb, offsetof(struct iphdr, protocol)) != IPPROTO_UDP)
		return 0;
	if (load_half(skb, offsetof(struct iphdr, frag_off)) & IP_OFFSET)
		return 0; /* no UDP header in non-first fragments */

	l4 = ihl * 4;
	sport = load_half(skb, l4 + offsetof(struct udphdr, source));
	dport = load_half(skb, l4 + offsetof(struct udphdr, dest));
	if (sport == DNS_PORT || dport == DNS_PORT)
		return skb->len;
	return 0;
}

char _license[] SEC("license") = "GPL";
