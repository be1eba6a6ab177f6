// SPDX-License-Identifier: GPL-2.0
/*
 * bpf2bpf.c — BPF-to-BPF calls and a bounded loop, so the tests exercise
 * objects with more than one function (subprograms, call relocations and
 * BTF func info for each of them).
 *
 * xdp_calls returns (sum of the first min(len, 16) packet bytes) % 4, which
 * is always a valid XDP action: 0 ABORTED, 1 DROP, 2 PASS, 3 TX.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define MAX_BYTES 16

/* Sum of the first min(len, MAX_BYTES) bytes of the packet. */
static __noinline __u32 sum_bytes(struct xdp_md *ctx)
{
	void *data_end = (void *)(long)ctx->data_end;
	__u8 *data = (void *)(long)ctx->data;
	__u32 sum = 0;

	/* Kept as a real loop for the verifier's bounded-loop support. */
#pragma clang loop unroll(disable)
	for (int i = 0; i < MAX_BYTES && (void *)(data + i + 1) <= data_end; i++)
		sum += data[i];
	return sum;
}

/* Maps an arbitrary value onto the XDP actions 0..3. */
static __noinline int pick_verdict(__u32 sum)
{
	return sum % 4;
}

SEC("xdp")
int xdp_calls(struct xdp_md *ctx)
{
	return pick_verdict(sum_bytes(ctx));
}

char _license[] SEC("license") = "GPL";
