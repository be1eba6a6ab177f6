//go:build ignore

// SPDX-License-Identifier: GPL-2.0
/*
 * planted.c — example programs with planted bugs, for bpffuzz to find.
 *
 * Each program looks plausible and passes its happy-path tests; each hides
 * one bug of a kind real BPF programs have. The fuzzing benchmark
 * (scripts/bench-findings.sh) seeds them with ordinary traffic and measures
 * whether and how fast bpffuzz finds each bug.
 *
 *   xdp_deep     bad action deep in a parser: a VXLAN-encapsulated TCP SYN+URG
 *                to port 8443 makes it return 7, which is no XDP action.
 *   tc_csum      rewrites the TTL and forgets the IPv4 header checksum on one
 *                path (packets with IP options).
 *   xdp_trim     trims UDP padding with bpf_xdp_adjust_tail but leaves the IP
 *                and UDP length fields stale.
 *   tc_mark      a context field echoed into the verdict: returns skb->mark's
 *                low byte when a debug bit is set, which is no TC action.
 *   xdp_sample   state-dependent verdict in a program meant to be stateless:
 *                drops every 8th DNS query through a global counter.
 *   xdp_tlv      the deepest one, for the coverage benchmark: a control
 *                protocol on UDP port 7777 with a header (magic, version,
 *                flags, opcode) and options in a fixed order. A debug
 *                option (type 5) after options 1 and 2 returns 7, no XDP
 *                action. Reaching it takes a dozen conditions in a row,
 *                each on its own field; without coverage feedback a fuzzer
 *                has to hit them all at once.
 *
 * Build:  scripts/build-bpf.sh examples
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#define VXLAN_PORT 4789

struct vxlanhdr {
	__u8 flags;
	__u8 reserved1[3];
	__u8 vni[3];
	__u8 reserved2;
};

/* parse_ipv4 returns the L4 header after an IPv4 header at l3, or NULL. */
static __always_inline void *parse_ipv4(void *l3, void *data_end, __u8 *proto)
{
	struct iphdr *ip = l3;

	if ((void *)(ip + 1) > data_end || ip->ihl < 5)
		return NULL;
	*proto = ip->protocol;
	return (void *)ip + ip->ihl * 4;
}

SEC("xdp")
int xdp_deep(struct xdp_md *ctx)
{
	void *data_end = (void *)(long)ctx->data_end;
	void *data = (void *)(long)ctx->data;
	struct ethhdr *eth = data;
	struct udphdr *udp;
	struct vxlanhdr *vx;
	struct tcphdr *tcp;
	__u8 proto;
	void *l4;

	if ((void *)(eth + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	l4 = parse_ipv4(eth + 1, data_end, &proto);
	if (!l4 || proto != IPPROTO_UDP)
		return XDP_PASS;
	udp = l4;
	if ((void *)(udp + 1) > data_end || udp->dest != bpf_htons(VXLAN_PORT))
		return XDP_PASS;
	vx = (void *)(udp + 1);
	if ((void *)(vx + 1) > data_end || !(vx->flags & 0x08))
		return XDP_DROP; /* VXLAN without a valid VNI */
	eth = (void *)(vx + 1);
	if ((void *)(eth + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	l4 = parse_ipv4(eth + 1, data_end, &proto);
	if (!l4 || proto != IPPROTO_TCP)
		return XDP_PASS;
	tcp = l4;
	if ((void *)(tcp + 1) > data_end)
		return XDP_DROP;
	if (tcp->syn && tcp->urg && tcp->dest == bpf_htons(8443))
		return 7; /* BUG: "XDP_TX + flag" was never an action */
	return XDP_PASS;
}

SEC("tc")
int tc_csum(struct __sk_buff *skb)
{
	void *data_end = (void *)(long)skb->data_end;
	void *data = (void *)(long)skb->data;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	__u16 old, new;

	if ((void *)(ip + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
		return TC_ACT_OK;
	if (ip->ttl <= 1)
		return TC_ACT_SHOT;
	old = *(__u16 *)&ip->ttl;
	ip->ttl--;
	new = *(__u16 *)&ip->ttl;
	if (ip->ihl == 5) {
		/* Incremental checksum update (RFC 1624). */
		__u32 sum = (__u16)~ip->check + (__u16)~old + new;

		sum = (sum & 0xffff) + (sum >> 16);
		sum = (sum & 0xffff) + (sum >> 16);
		ip->check = ~sum;
	}
	/* BUG: with IP options (ihl > 5) the checksum is left stale. */
	return TC_ACT_OK;
}

SEC("xdp")
int xdp_trim(struct xdp_md *ctx)
{
	void *data_end = (void *)(long)ctx->data_end;
	void *data = (void *)(long)ctx->data;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	struct udphdr *udp = (void *)(ip + 1);
	int frame, want;

	if ((void *)(udp + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP) ||
	    ip->ihl != 5 || ip->protocol != IPPROTO_UDP)
		return XDP_PASS;
	frame = data_end - data;
	want = sizeof(*eth) + bpf_ntohs(ip->tot_len);
	if (want >= frame || want < (int)(sizeof(*eth) + sizeof(*ip) + sizeof(*udp)))
		return XDP_PASS;
	/* Drop the Ethernet padding behind the IP packet... */
	if (bpf_xdp_adjust_tail(ctx, want - frame - (frame - want > 4 ? 4 : 0)))
		return XDP_ABORTED;
	/* BUG: ...but by 4 bytes too many when the padding is longer than 4,
	 * and the IP and UDP lengths are not updated to match. */
	return XDP_PASS;
}

SEC("tc")
int tc_mark(struct __sk_buff *skb)
{
	/* Debug hook: a mark with bit 31 set asks for a forced verdict. */
	if (skb->mark & 0x80000000)
		return skb->mark & 0xff; /* BUG: unchecked, any value becomes the action */
	return TC_ACT_OK;
}

__u64 queries SEC(".bss");

SEC("xdp")
int xdp_sample(struct xdp_md *ctx)
{
	void *data_end = (void *)(long)ctx->data_end;
	void *data = (void *)(long)ctx->data;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	struct udphdr *udp = (void *)(ip + 1);

	if ((void *)(udp + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP) ||
	    ip->ihl != 5 || ip->protocol != IPPROTO_UDP || udp->dest != bpf_htons(53))
		return XDP_PASS;
	/* BUG: meant to sample statistics, but the verdict depends on how many
	 * queries came before. */
	if (++queries % 8 == 0)
		return XDP_DROP;
	return XDP_PASS;
}

#define TLV_PORT 7777
#define TLV_MAGIC 0x42504654 /* "BPFT" */

struct tlvhdr {
	__be32 magic;
	__u8 version;
	__u8 flags;
	__u8 opcode;
	__u8 reserved;
};

SEC("xdp")
int xdp_tlv(struct xdp_md *ctx)
{
	void *data_end = (void *)(long)ctx->data_end;
	void *data = (void *)(long)ctx->data;
	struct ethhdr *eth = data;
	struct tlvhdr *h;
	struct udphdr *udp;
	__u8 proto, seq;
	__u8 *opt;
	void *l4;

	if ((void *)(eth + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	l4 = parse_ipv4(eth + 1, data_end, &proto);
	if (!l4 || proto != IPPROTO_UDP)
		return XDP_PASS;
	udp = l4;
	if ((void *)(udp + 1) > data_end || udp->dest != bpf_htons(TLV_PORT))
		return XDP_PASS;
	h = (void *)(udp + 1);
	if ((void *)(h + 1) > data_end)
		return XDP_DROP;
	if (h->magic != bpf_htonl(TLV_MAGIC))
		return XDP_DROP;
	if (h->version != 2)
		return XDP_DROP;
	if (!(h->flags & 0x80)) /* not a request */
		return XDP_PASS;
	if (h->opcode != 0x11)
		return XDP_PASS;
	/* The options come in a fixed order: a 2-byte option 1, a 4-byte
	 * option 2, then whatever the request carries. */
	opt = (void *)(h + 1);
	if ((void *)(opt + 2) > data_end || opt[0] != 1)
		return XDP_PASS;
	if (opt[1] != 2)
		return XDP_DROP;
	opt += 2;
	if ((void *)(opt + 4) > data_end || opt[0] != 2)
		return XDP_PASS;
	if (opt[1] != 4)
		return XDP_DROP;
	seq = opt[2];
	opt += 4;
	if ((void *)(opt + 6) > data_end || opt[0] != 5)
		return XDP_TX; /* a plain request: answered in place */
	if (opt[1] != 6)
		return XDP_DROP;
	if (seq == 0)
		return XDP_DROP;
	return 7; /* BUG: the debug option's verdict was left in */
}

char _license[] SEC("license") = "GPL";
