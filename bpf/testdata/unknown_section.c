// SPDX-License-Identifier: GPL-2.0
/*
 * unknown_section.c — an object with a section name that cilium/ebpf (and
 * libbpf) cannot map to a program type: iproute2's legacy default "prog".
 * The loader must report it clearly (or let the user force a type) while
 * still being able to use the well-formed program next to it.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

/* Returns 2 (TC_ACT_SHOT for tc, XDP_PASS for xdp) whatever the type. */
SEC("prog")
int iproute_prog(void *ctx)
{
	return 2;
}

SEC("xdp")
int xdp_ok(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
