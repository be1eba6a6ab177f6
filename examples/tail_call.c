//go:build ignore

// SPDX-License-Identifier: GPL-2.0
/*
 * tail_call.c — dispatching to per-protocol programs with tail calls.
 *
 * Programs (all SEC "xdp"):
 *   xdp_dispatch  entry point; reads the EtherType and tail-calls
 *                   jmp_table[0] for IPv4 (0x0800)
 *                   jmp_table[1] for IPv6 (0x86dd)
 *                 and returns XDP_DROP when the tail call fails (empty slot),
 *                 for any other EtherType, and for frames under 14 bytes
 *   xdp_ipv4      returns XDP_PASS (meant for jmp_table[0])
 *   xdp_ipv6      returns XDP_TX   (meant for jmp_table[1])
 *
 * jmp_table is a PROG_ARRAY with 4 slots and is deliberately not initialised
 * in the object: user space decides which program goes into which slot (e.g.
 * put xdp_ipv4's fd at key 0 and xdp_ipv6's at key 1). With empty slots,
 * xdp_dispatch drops everything.
 *
 * Build:  scripts/build-bpf.sh examples
 * Run:    go run ./cmd/bpffuzz run examples/tail_call.o xdp_dispatch --data-hex <frame>
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

enum {
	SLOT_IPV4 = 0,
	SLOT_IPV6 = 1,
};

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 4);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} jmp_table SEC(".maps");

SEC("xdp")
int xdp_dispatch(struct xdp_md *ctx)
{
	void *data_end = (void *)(long)ctx->data_end;
	void *data = (void *)(long)ctx->data;
	struct ethhdr *eth = data;

	if ((void *)(eth + 1) > data_end)
		return XDP_DROP;

	switch (eth->h_proto) {
	case bpf_htons(ETH_P_IP):
		bpf_tail_call(ctx, &jmp_table, SLOT_IPV4);
		break;
	case bpf_htons(ETH_P_IPV6):
		bpf_tail_call(ctx, &jmp_table, SLOT_IPV6);
		break;
	}
	/* Only reached if there was no tail call, or it failed. */
	return XDP_DROP;
}

SEC("xdp")
int xdp_ipv4(struct xdp_md *ctx)
{
	return XDP_PASS;
}

SEC("xdp")
int xdp_ipv6(struct xdp_md *ctx)
{
	return XDP_TX;
}

char _license[] SEC("license") = "GPL";
