//go:build ignore

// SPDX-License-Identifier: GPL-2.0
/*
 * flow_dissector.c — a minimal BPF flow dissector for IPv4/IPv6 + TCP/UDP.
 *
 * Program: flow_dissect (SEC "flow_dissector", BPF_PROG_TYPE_FLOW_DISSECTOR)
 *
 * Starts at keys->nhoff with the EtherType in keys->n_proto (BPF_PROG_RUN
 * sets nhoff = 14 and n_proto from the Ethernet header of the input) and
 * fills struct bpf_flow_keys (skb->flow_keys):
 *   addr_proto        ETH_P_IP / ETH_P_IPV6 (host order)
 *   ipv4_src/dst or ipv6_src/dst, ip_proto, thoff (start of L4)
 *   flow_label        IPv6 only
 *   is_frag / is_first_frag  IPv4 fragments
 *   sport / dport     TCP and UDP (network order); not for fragments,
 *                     except the first one when the caller passes
 *                     BPF_FLOW_DISSECTOR_F_PARSE_1ST_FRAG
 * IPv6 extension headers are not followed: ip_proto then names the
 * extension header and no ports are reported.
 *
 * Return values:
 *   BPF_OK   (0)  dissected (also for L4 protocols other than TCP/UDP)
 *   BPF_DROP (2)  malformed or truncated, or an unsupported EtherType
 *
 * Headers are read with direct packet access when they lie in the linear
 * part of the packet, else copied with bpf_skb_load_bytes. Both are needed:
 * the kernel's eth_get_headlen() path and BPF_PROG_RUN invoke the dissector
 * without an skb, where bpf_skb_load_bytes always fails, while real skbs may
 * keep headers outside the linear area.
 *
 * Build:  scripts/build-bpf.sh examples
 * Run:    go run ./cmd/bpffuzz run examples/flow_dissector.o flow_dissect --data-hex <frame>
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

#define IP_MF     0x2000 /* "more fragments" flag of iphdr.frag_off */
#define IP_OFFSET 0x1FFF /* fragment offset mask of iphdr.frag_off */

/*
 * Return a pointer to size bytes at packet offset off: into the packet if
 * they are in its linear part, else into buf after copying them there.
 * Returns NULL if the packet is too short.
 */
static __always_inline void *get_header(struct __sk_buff *skb, __u16 off, __u16 size, void *buf)
{
	void *data_end = (void *)(long)skb->data_end;
	void *data = (void *)(long)skb->data;
	void *hdr;

	/* Keeps data + off + size within the verifier's 64 KiB packet range. */
	if (off > 0xffff - size)
		return NULL;
	hdr = data + off;
	if (hdr + size <= data_end)
		return hdr;
	if (bpf_skb_load_bytes(skb, off, buf, size) < 0)
		return NULL;
	return buf;
}

/* Fill sport/dport from the TCP or UDP header at keys->thoff. */
static __always_inline int parse_ports(struct __sk_buff *skb, struct bpf_flow_keys *keys)
{
	if (keys->ip_proto == IPPROTO_TCP) {
		struct tcphdr buf, *th;

		th = get_header(skb, keys->thoff, sizeof(buf), &buf);
		if (!th || th->doff < 5)
			return BPF_DROP;
		keys->sport = th->source;
		keys->dport = th->dest;
	} else if (keys->ip_proto == IPPROTO_UDP) {
		struct udphdr buf, *uh;

		uh = get_header(skb, keys->thoff, sizeof(buf), &buf);
		if (!uh)
			return BPF_DROP;
		keys->sport = uh->source;
		keys->dport = uh->dest;
	}
	return BPF_OK;
}

static __always_inline int parse_ipv4(struct __sk_buff *skb, struct bpf_flow_keys *keys)
{
	struct iphdr buf, *iph;
	__be16 frag_off;

	iph = get_header(skb, keys->nhoff, sizeof(buf), &buf);
	if (!iph || iph->version != 4 || iph->ihl < 5)
		return BPF_DROP;

	keys->addr_proto = ETH_P_IP;
	keys->ipv4_src = iph->saddr;
	keys->ipv4_dst = iph->daddr;
	keys->ip_proto = iph->protocol;
	keys->thoff = keys->nhoff + iph->ihl * 4;
	frag_off = iph->frag_off;

	if (frag_off & bpf_htons(IP_MF | IP_OFFSET)) {
		keys->is_frag = 1;
		/* Later fragments carry no L4 header at all. */
		if (frag_off & bpf_htons(IP_OFFSET))
			return BPF_OK;
		keys->is_first_frag = 1;
		if (!(keys->flags & BPF_FLOW_DISSECTOR_F_PARSE_1ST_FRAG))
			return BPF_OK;
	}
	return parse_ports(skb, keys);
}

static __always_inline int parse_ipv6(struct __sk_buff *skb, struct bpf_flow_keys *keys)
{
	struct ipv6hdr buf, *ip6h;

	ip6h = get_header(skb, keys->nhoff, sizeof(buf), &buf);
	if (!ip6h || ip6h->version != 6)
		return BPF_DROP;

	keys->addr_proto = ETH_P_IPV6;
	__builtin_memcpy(keys->ipv6_src, &ip6h->saddr, sizeof(ip6h->saddr));
	__builtin_memcpy(keys->ipv6_dst, &ip6h->daddr, sizeof(ip6h->daddr));
	keys->flow_label = *(__be32 *)ip6h & bpf_htonl(0x000fffff);
	keys->ip_proto = ip6h->nexthdr;
	keys->thoff = keys->nhoff + sizeof(*ip6h);

	return parse_ports(skb, keys);
}

SEC("flow_dissector")
int flow_dissect(struct __sk_buff *skb)
{
	struct bpf_flow_keys *keys = skb->flow_keys;

	switch (keys->n_proto) {
	case bpf_htons(ETH_P_IP):
		return parse_ipv4(skb, keys);
	case bpf_htons(ETH_P_IPV6):
		return parse_ipv6(skb, keys);
	default:
		return BPF_DROP;
	}
}

char _license[] SEC("license") = "GPL";
