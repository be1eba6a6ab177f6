//go:build ignore

// SPDX-License-Identifier: GPL-2.0
/*
 * maps_config.c — load-time configuration, maps and global variables.
 *
 * Program: xdp_config (SEC "xdp")
 *
 * Shows the three ways user space usually talks to an XDP program:
 *   config     a `volatile const` global in .rodata, set by the loader before
 *              the program is loaded (the verifier then sees it as constant);
 *              the Go side rewrites it through the variable name "config"
 *   blocklist  HASH map: IPv4 source address (network order) -> XDP action
 *   counters   ARRAY map of 4 __u64:
 *                [0] packets   every run
 *                [1] blocked   source address found in blocklist
 *                [2] port      dropped by the port rule (mode 1)
 *                [3] other     every other packet (passed or dropped as unknown)
 *   last_len   __u64 in .bss, set to the (linear) packet length on every run
 *
 * Logic:
 *   1. not IPv4, or too short for Ethernet + IPv4 header (IHL >= 5):
 *      XDP_DROP if config.drop_unknown, else XDP_PASS
 *   2. IPv4 source in blocklist: return the stored action as is
 *   3. config.mode == 1 and TCP/UDP destination port == config.port
 *      (host order): XDP_DROP
 *   4. otherwise XDP_PASS (including TCP/UDP too short for its header)
 *
 * Build:  scripts/build-bpf.sh examples
 * Run:    go run ./cmd/bpffuzz run examples/maps_config.o xdp_config --data-hex <frame>
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#define IP_OFFSET 0x1FFF /* fragment offset mask of iphdr.frag_off */

enum {
	MODE_PASSIVE = 0, /* never drop by port */
	MODE_PORT = 1,    /* drop TCP/UDP traffic to config.port */
};

/* Set by the loader before the program is loaded; lives in .rodata. */
volatile const struct config {
	__u32 mode;
	__u16 port;        /* destination port, host byte order */
	__u8 drop_unknown; /* non-zero: drop frames that are not IPv4 */
} config = {
	.mode = MODE_PASSIVE,
	.port = 80,
	.drop_unknown = 0,
};

/* Length of the last packet seen; lives in .bss. */
__u64 last_len = 0;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);   /* IPv4 source address, network byte order */
	__type(value, __u32); /* XDP action to return */
} blocklist SEC(".maps");

enum {
	CNT_PACKETS = 0,
	CNT_BLOCKED = 1,
	CNT_PORT = 2,
	CNT_OTHER = 3,
	CNT_MAX,
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, CNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

static __always_inline void count(__u32 idx)
{
	__u64 *val = bpf_map_lookup_elem(&counters, &idx);

	if (val)
		__sync_fetch_and_add(val, 1);
}

/* Destination port of the TCP/UDP header at l4 (network order), or 0. */
static __always_inline __be16 l4_dport(__u8 proto, void *l4, void *data_end)
{
	if (proto == IPPROTO_TCP) {
		struct tcphdr *th = l4;

		if ((void *)(th + 1) <= data_end)
			return th->dest;
	} else if (proto == IPPROTO_UDP) {
		struct udphdr *uh = l4;

		if ((void *)(uh + 1) <= data_end)
			return uh->dest;
	}
	return 0;
}

SEC("xdp")
int xdp_config(struct xdp_md *ctx)
{
	void *data_end = (void *)(long)ctx->data_end;
	void *data = (void *)(long)ctx->data;
	struct ethhdr *eth = data;
	struct iphdr *iph = (void *)(eth + 1);
	__u32 *action, saddr;
	__be16 dport;

	last_len = data_end - data;
	count(CNT_PACKETS);

	if ((void *)(iph + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP) ||
	    iph->ihl < 5) {
		count(CNT_OTHER);
		return config.drop_unknown ? XDP_DROP : XDP_PASS;
	}

	saddr = iph->saddr;
	action = bpf_map_lookup_elem(&blocklist, &saddr);
	if (action) {
		count(CNT_BLOCKED);
		return *action;
	}

	if (config.mode == MODE_PORT && !(iph->frag_off & bpf_htons(IP_OFFSET))) {
		dport = l4_dport(iph->protocol, (void *)iph + iph->ihl * 4, data_end);
		if (dport && bpf_ntohs(dport) == config.port) {
			count(CNT_PORT);
			return XDP_DROP;
		}
	}

	count(CNT_OTHER);
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
