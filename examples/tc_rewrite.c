//go:build ignore

// SPDX-License-Identifier: GPL-2.0
/*
 * tc_rewrite.c — destination NAT with incremental checksum updates (tc).
 *
 * Program: tc_rewrite (SEC "tc", BPF_PROG_TYPE_SCHED_CLS)
 *
 * For untagged IPv4 frames addressed to 192.0.2.1 (TEST-NET-1) it
 *   - rewrites the destination address to 198.51.100.1 (TEST-NET-2),
 *   - decrements the TTL,
 *   - fixes the IPv4 header checksum (bpf_l3_csum_replace) and the TCP/UDP
 *     checksum, whose pseudo header covers the address (bpf_l4_csum_replace
 *     with BPF_F_PSEUDO_HDR; a UDP checksum of 0, "none", stays 0 thanks to
 *     BPF_F_MARK_MANGLED_0),
 *   - swaps the source and destination MAC addresses.
 * Packet bytes are accessed with bpf_skb_load_bytes/bpf_skb_store_bytes only.
 *
 * Return values:
 *   TC_ACT_SHOT (2)  any IPv4 packet with TTL <= 1 (nothing is rewritten)
 *   TC_ACT_OK   (0)  everything else, rewritten or not
 *
 * tc programs see the frame from the Ethernet header (offset 0 = MAC dest).
 *
 * Build:  scripts/build-bpf.sh examples
 * Run:    go run ./cmd/bpffuzz run examples/tc_rewrite.o tc_rewrite --data-hex <frame>
 */
#include <stddef.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#define IP_OFFSET 0x1FFF /* fragment offset mask of iphdr.frag_off */

#define OLD_DADDR bpf_htonl(0xc0000201) /* 192.0.2.1 */
#define NEW_DADDR bpf_htonl(0xc6336401) /* 198.51.100.1 */

/* Offsets from the start of the frame. */
#define IP_OFF       ETH_HLEN
#define IP_CSUM_OFF  (IP_OFF + offsetof(struct iphdr, check))
#define IP_TTL_OFF   (IP_OFF + offsetof(struct iphdr, ttl))
#define IP_DADDR_OFF (IP_OFF + offsetof(struct iphdr, daddr))

SEC("tc")
int tc_rewrite(struct __sk_buff *skb)
{
	__be32 new_daddr = NEW_DADDR;
	struct ethhdr eth;
	struct iphdr iph;
	__u8 macs[2 * ETH_ALEN];
	__u32 l4_csum_off;
	__u16 old_ttl_word, new_ttl_word;

	if (bpf_skb_load_bytes(skb, 0, &eth, sizeof(eth)) < 0)
		return TC_ACT_OK;
	if (eth.h_proto != bpf_htons(ETH_P_IP))
		return TC_ACT_OK; /* not IPv4, or VLAN-tagged */
	if (bpf_skb_load_bytes(skb, IP_OFF, &iph, sizeof(iph)) < 0)
		return TC_ACT_OK;
	if (iph.version != 4 || iph.ihl < 5)
		return TC_ACT_OK;
	if (iph.ttl <= 1)
		return TC_ACT_SHOT;
	if (iph.daddr != OLD_DADDR)
		return TC_ACT_OK;

	/*
	 * L4 checksum first: it covers the destination address through the
	 * pseudo header. Non-first fragments carry no L4 header.
	 */
	if (!(iph.frag_off & bpf_htons(IP_OFFSET))) {
		l4_csum_off = IP_OFF + iph.ihl * 4;
		if (iph.protocol == IPPROTO_TCP) {
			l4_csum_off += offsetof(struct tcphdr, check);
			bpf_l4_csum_replace(skb, l4_csum_off, OLD_DADDR, NEW_DADDR,
					    BPF_F_PSEUDO_HDR | sizeof(new_daddr));
		} else if (iph.protocol == IPPROTO_UDP) {
			l4_csum_off += offsetof(struct udphdr, check);
			bpf_l4_csum_replace(skb, l4_csum_off, OLD_DADDR, NEW_DADDR,
					    BPF_F_PSEUDO_HDR | BPF_F_MARK_MANGLED_0 |
						    sizeof(new_daddr));
		}
	}

	/* Destination address, covered by the IPv4 header checksum. */
	bpf_l3_csum_replace(skb, IP_CSUM_OFF, OLD_DADDR, NEW_DADDR, sizeof(new_daddr));
	bpf_skb_store_bytes(skb, IP_DADDR_OFF, &new_daddr, sizeof(new_daddr), 0);

	/*
	 * TTL: the checksum is computed over 16-bit words, and TTL shares one
	 * with the protocol field, so replace that whole word.
	 */
	if (bpf_skb_load_bytes(skb, IP_TTL_OFF, &old_ttl_word, sizeof(old_ttl_word)) < 0)
		return TC_ACT_OK;
	new_ttl_word = old_ttl_word;
	((__u8 *)&new_ttl_word)[0]--;
	bpf_l3_csum_replace(skb, IP_CSUM_OFF, old_ttl_word, new_ttl_word,
			    sizeof(new_ttl_word));
	bpf_skb_store_bytes(skb, IP_TTL_OFF, &new_ttl_word, sizeof(new_ttl_word), 0);

	/* Swap MAC addresses: new dest = old source, new source = old dest. */
	__builtin_memcpy(macs, eth.h_source, ETH_ALEN);
	__builtin_memcpy(macs + ETH_ALEN, eth.h_dest, ETH_ALEN);
	bpf_skb_store_bytes(skb, 0, macs, sizeof(macs), 0);

	return TC_ACT_OK;
}

char _license[] SEC("license") = "GPL";
