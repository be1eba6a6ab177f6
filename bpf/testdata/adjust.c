// SPDX-License-Identifier: GPL-2.0
/*
 * adjust.c — programs that change the size of the packet, so the tests can
 * check that BPF_PROG_RUN output (data_out, metadata) follows the changes.
 * The deltas are `volatile const` globals in .rodata, set by the loader.
 * See README.md for the exact contract.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

/* Arguments for bpf_xdp_adjust_{meta,head,tail}; 0 means "don't call". */
volatile const int head_delta = 0;
volatile const int tail_delta = 0;
volatile const int meta_delta = 0;

/* New length for bpf_skb_change_tail; 0 means "don't call". */
volatile const __u32 new_len = 0;

/* Applies meta, head and tail adjustments in that order. */
SEC("xdp")
int xdp_adjust(struct xdp_md *ctx)
{
	int err;

	if (meta_delta != 0) {
		err = bpf_xdp_adjust_meta(ctx, meta_delta);
		if (err)
			return err;
	}
	if (head_delta != 0) {
		err = bpf_xdp_adjust_head(ctx, head_delta);
		if (err)
			return err;
	}
	if (tail_delta != 0) {
		err = bpf_xdp_adjust_tail(ctx, tail_delta);
		if (err)
			return err;
	}
	return XDP_PASS;
}

SEC("tc")
int tc_change_tail(struct __sk_buff *skb)
{
	if (new_len != 0)
		return bpf_skb_change_tail(skb, new_len, 0);
	return TC_ACT_OK;
}

char _license[] SEC("license") = "GPL";
