//go:build ignore

// SPDX-License-Identifier: GPL-2.0
/*
 * xdp_frags.c — reading beyond the linear part of a multi-buffer XDP frame.
 *
 * Program: xdp_frags (SEC "xdp.frags", i.e. loaded with BPF_F_XDP_HAS_FRAGS)
 *
 * With jumbo frames or GRO, an XDP frame can span several buffers, and
 * ctx->data_end only bounds the first one. bpf_xdp_get_buff_len() returns
 * the length of the whole frame and bpf_xdp_load_bytes() copies from any
 * offset in it, crossing fragment boundaries as needed.
 *
 * The program inspects the last 4 bytes of the whole frame:
 *   XDP_ABORTED  frame under 14 bytes, or the load fails (offsets > 0xffff)
 *   XDP_DROP     trailer is de ad be ef (0xdeadbeef in network order)
 *   XDP_PASS     otherwise
 *
 * Build:  scripts/build-bpf.sh examples
 * Run:    go run ./cmd/bpffuzz run examples/xdp_frags.o xdp_frags --data-hex <frame>
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#define TRAILER 0xdeadbeef

SEC("xdp.frags")
int xdp_frags(struct xdp_md *ctx)
{
	__u32 len = bpf_xdp_get_buff_len(ctx);
	__be32 trailer;

	if (len < ETH_HLEN)
		return XDP_ABORTED;
	if (bpf_xdp_load_bytes(ctx, len - sizeof(trailer), &trailer, sizeof(trailer)) < 0)
		return XDP_ABORTED;
	return trailer == bpf_htonl(TRAILER) ? XDP_DROP : XDP_PASS;
}

char _license[] SEC("license") = "GPL";
