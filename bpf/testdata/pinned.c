// SPDX-License-Identifier: GPL-2.0
/*
 * pinned.c — a program using a map with LIBBPF_PIN_BY_NAME pinning, so the
 * tests can check how the loader deals with pinned maps (the map would be
 * pinned as <pin root>/pinned_map, /sys/fs/bpf/pinned_map by default).
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pinned_map SEC(".maps");

/* Returns pinned_map[0] if present, else XDP_PASS. */
SEC("xdp")
int xdp_pinned(struct xdp_md *ctx)
{
	__u32 key = 0;
	__u32 *val;

	val = bpf_map_lookup_elem(&pinned_map, &key);
	if (val)
		return *val;
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
