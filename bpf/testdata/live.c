//go:build ignore

// SPDX-License-Identifier: GPL-2.0
/*
 * live.c — XDP programs for live frame mode (BPF_F_TEST_XDP_LIVE_FRAMES),
 * where the kernel carries out the verdict. The tests run them inside a
 * network namespace on one end of a veth pair and look at the other end.
 * See README.md for the exact contract of every program.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

/* Interface index xdp_redirect_missing redirects to; the default names no
 * interface in a fresh namespace. */
volatile const __u32 redirect_ifindex = 0x7ffffff0;

/* Offset of the marker byte of xdp_seen_before and xdp_tx_stamp: the
 * first byte after the Ethernet header. */
#define MARK_OFF 14

SEC("xdp")
int xdp_tx(struct xdp_md *ctx)
{
	return XDP_TX;
}

SEC("xdp")
int xdp_drop(struct xdp_md *ctx)
{
	return XDP_DROP;
}

SEC("xdp")
int xdp_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

SEC("xdp")
int xdp_aborted(struct xdp_md *ctx)
{
	return XDP_ABORTED;
}

/* Redirects every frame to redirect_ifindex. */
SEC("xdp")
int xdp_redirect_missing(struct xdp_md *ctx)
{
	return bpf_redirect(redirect_ifindex, 0);
}

/*
 * Depends on fresh packet contents: a frame whose marker byte is not 0xee
 * gets the marker and is dropped; a frame that already carries it goes out
 * with XDP_TX. A fresh input never carries it (unless the caller put it
 * there), so a test run always drops; in live frame mode a recycled page
 * still holds the marker written on an earlier repetition, so the frames
 * after the first batch go out.
 */
SEC("xdp")
int xdp_seen_before(struct xdp_md *ctx)
{
	__u8 *data = (void *)(long)ctx->data;
	__u8 *end = (void *)(long)ctx->data_end;

	if (data + MARK_OFF + 1 > end)
		return XDP_ABORTED;
	if (data[MARK_OFF] == 0xee)
		return XDP_TX;
	data[MARK_OFF] = 0xee;
	return XDP_DROP;
}

/*
 * Writes the packet but does not depend on what it held: sets the marker
 * byte to 0xee and transmits. Every repetition, fresh page or recycled,
 * sends the same bytes.
 */
SEC("xdp")
int xdp_tx_stamp(struct xdp_md *ctx)
{
	__u8 *data = (void *)(long)ctx->data;
	__u8 *end = (void *)(long)ctx->data_end;

	if (data + MARK_OFF + 1 > end)
		return XDP_ABORTED;
	data[MARK_OFF] = 0xee;
	return XDP_TX;
}

char _license[] SEC("license") = "GPL";
