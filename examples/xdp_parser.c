//go:build ignore

// SPDX-License-Identifier: GPL-2.0
/*
 * xdp_parser.c — a small, defensive XDP packet parser and filter.
 *
 * Program: xdp_parser (SEC "xdp")
 *
 * Walks Ethernet, up to two VLAN tags (802.1Q 0x8100 / 802.1ad 0x88a8),
 * IPv4 (honouring IHL) or IPv6 (fixed header plus at most one hop-by-hop,
 * routing or destination-options extension header), then TCP or UDP.
 *
 * Verdicts:
 *   XDP_DROP  a header the frame claims to carry is truncated or malformed
 *             (e.g. IPv4 IHL < 5, or a UDP packet shorter than 8 bytes)
 *   XDP_DROP  IPv4 with TTL <= 1
 *   XDP_DROP  TCP to port 23 (telnet)
 *   XDP_DROP  UDP to port 9 (discard)
 *   XDP_PASS  everything else, including non-IP frames and IPv4 fragments
 *             other than the first (they carry no L4 header)
 *
 * Every run increments verdicts[verdict] (an ARRAY map indexed by XDP action).
 *
 * Build:  scripts/build-bpf.sh examples
 * Run:    go run ./cmd/bpffuzz run examples/xdp_parser.o xdp_parser --data-hex <frame>
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

/* Fragment offset mask of iphdr.frag_off (host order); not exported by UAPI. */
#define IP_OFFSET 0x1FFF

/* An 802.1Q / 802.1ad tag as it follows the MAC addresses. */
struct vlan_hdr {
	__be16 h_vlan_TCI;
	__be16 h_vlan_encapsulated_proto;
};

/* Per-verdict run counters: key is the XDP action (0..4), value a count. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 5);
	__type(key, __u32);
	__type(value, __u64);
} verdicts SEC(".maps");

static __always_inline int is_vlan(__be16 proto)
{
	return proto == bpf_htons(ETH_P_8021Q) || proto == bpf_htons(ETH_P_8021AD);
}

static __always_inline int is_ipv6_ext(__u8 nexthdr)
{
	return nexthdr == IPPROTO_HOPOPTS || nexthdr == IPPROTO_ROUTING ||
	       nexthdr == IPPROTO_DSTOPTS;
}

/* Parse the frame and decide; contains no side effects. */
static __always_inline int parse(struct xdp_md *ctx)
{
	void *data_end = (void *)(long)ctx->data_end;
	void *data = (void *)(long)ctx->data;
	struct ethhdr *eth = data;
	void *l4;
	__be16 proto;
	__u8 ipproto;

	if ((void *)(eth + 1) > data_end)
		return XDP_DROP;
	proto = eth->h_proto;
	data = eth + 1;

	/* At most two tags (QinQ); the loop is fully unrolled. */
#pragma unroll
	for (int i = 0; i < 2; i++) {
		struct vlan_hdr *vh = data;

		if (!is_vlan(proto))
			break;
		if ((void *)(vh + 1) > data_end)
			return XDP_DROP;
		proto = vh->h_vlan_encapsulated_proto;
		data = vh + 1;
	}

	if (proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *iph = data;

		if ((void *)(iph + 1) > data_end)
			return XDP_DROP;
		if (iph->ihl < 5)
			return XDP_DROP;
		/* Options are covered by IHL; make sure they are really there. */
		l4 = data + iph->ihl * 4;
		if (l4 > data_end)
			return XDP_DROP;
		if (iph->ttl <= 1)
			return XDP_DROP;
		/* Only the first fragment carries the L4 header. */
		if (iph->frag_off & bpf_htons(IP_OFFSET))
			return XDP_PASS;
		ipproto = iph->protocol;
	} else if (proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6h = data;

		if ((void *)(ip6h + 1) > data_end)
			return XDP_DROP;
		ipproto = ip6h->nexthdr;
		l4 = ip6h + 1;

		if (is_ipv6_ext(ipproto)) {
			struct ipv6_opt_hdr *opt = l4;

			if ((void *)(opt + 1) > data_end)
				return XDP_DROP;
			ipproto = opt->nexthdr;
			/* hdrlen counts 8-octet units, not including the first 8. */
			l4 += (opt->hdrlen + 1) * 8;
			if (l4 > data_end)
				return XDP_DROP;
		}
	} else {
		return XDP_PASS;
	}

	if (ipproto == IPPROTO_TCP) {
		struct tcphdr *th = l4;

		if ((void *)(th + 1) > data_end)
			return XDP_DROP;
		if (th->dest == bpf_htons(23))
			return XDP_DROP;
	} else if (ipproto == IPPROTO_UDP) {
		struct udphdr *uh = l4;

		if ((void *)(uh + 1) > data_end)
			return XDP_DROP;
		if (uh->dest == bpf_htons(9))
			return XDP_DROP;
	}
	return XDP_PASS;
}

SEC("xdp")
int xdp_parser(struct xdp_md *ctx)
{
	__u32 verdict = parse(ctx);
	__u64 *count;

	count = bpf_map_lookup_elem(&verdicts, &verdict);
	if (count)
		__sync_fetch_and_add(count, 1);
	return verdict;
}

char _license[] SEC("license") = "GPL";
