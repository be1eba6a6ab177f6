// SPDX-License-Identifier: GPL-2.0
/*
 * rejected.c — an object the compiler accepts but the verifier does not.
 *
 * xdp_rejected reads the first packet byte without first checking it
 * against data_end, so loading fails with "invalid access to packet".
 * xdp_fine, in the same object, is valid: the tests use it to check that a
 * loader reports the verifier log of the bad program (and, where programs
 * are loaded one by one, can still load the good one).
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int xdp_rejected(struct xdp_md *ctx)
{
	__u8 *data = (void *)(long)ctx->data;

	/* BUG (on purpose): no "if (data + 1 > data_end)" check. */
	return data[0];
}

SEC("xdp")
int xdp_fine(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
