// SPDX-License-Identifier: GPL-2.0
/*
 * types.c — one trivial program per program type / section, for the tests
 * of package bpf. Each returns something observable about its context so
 * the tests can check how BPF_PROG_RUN input is mapped onto it.
 * See README.md for the exact contract of every program.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

/* ---- XDP ---------------------------------------------------------------- */

/* Length of the linear part of the frame. */
SEC("xdp")
int xdp_linlen(struct xdp_md *ctx)
{
	return (void *)(long)ctx->data_end - (void *)(long)ctx->data;
}

SEC("xdp")
int xdp_ifindex(struct xdp_md *ctx)
{
	return ctx->ingress_ifindex;
}

/* Total length of a possibly multi-buffer frame. */
SEC("xdp.frags")
int xdp_buflen(struct xdp_md *ctx)
{
	return bpf_xdp_get_buff_len(ctx);
}

/* Length of the metadata area in front of the frame. */
SEC("xdp")
int xdp_meta_len(struct xdp_md *ctx)
{
	return (void *)(long)ctx->data - (void *)(long)ctx->data_meta;
}

/* ---- tc (sched_cls / sched_act) ----------------------------------------- */

SEC("tc")
int tc_len(struct __sk_buff *skb)
{
	return skb->len;
}

/* Modifies the writable __sk_buff fields that BPF_PROG_RUN copies back. */
SEC("tc")
int tc_write(struct __sk_buff *skb)
{
	skb->mark += 1;
	skb->priority += 2;
	skb->cb[0] += 3;
	return skb->len;
}

SEC("tc")
int tc_pkt_type(struct __sk_buff *skb)
{
	return skb->pkt_type;
}

SEC("tc")
int tc_ifindex(struct __sk_buff *skb)
{
	return skb->ifindex;
}

SEC("tc")
int tc_wire_len(struct __sk_buff *skb)
{
	return skb->wire_len;
}

SEC("action")
int act_len(struct __sk_buff *skb)
{
	return skb->len;
}

/* ---- other skb-based types ---------------------------------------------- */

SEC("socket")
int sf_len(struct __sk_buff *skb)
{
	return skb->len;
}

SEC("cgroup_skb/ingress")
int cg_ingress(struct __sk_buff *skb)
{
	return 1; /* allow */
}

SEC("cgroup_skb/egress")
int cg_egress(struct __sk_buff *skb)
{
	return 1; /* allow */
}

SEC("lwt_in")
int lwt_in_prog(struct __sk_buff *skb)
{
	return BPF_OK;
}

SEC("lwt_out")
int lwt_out_prog(struct __sk_buff *skb)
{
	return BPF_OK;
}

SEC("lwt_xmit")
int lwt_xmit_prog(struct __sk_buff *skb)
{
	return BPF_OK;
}

/* Accepts every packet and leaves the flow keys as the kernel set them. */
SEC("flow_dissector")
int flow_default(struct __sk_buff *skb)
{
	return BPF_OK;
}

/* ---- non-packet types --------------------------------------------------- */

SEC("sk_lookup")
int sklookup_pass(struct bpf_sk_lookup *ctx)
{
	return SK_PASS;
}

SEC("raw_tp/sys_enter")
int rawtp_arg0(struct bpf_raw_tracepoint_args *ctx)
{
	return (int)ctx->args[0] + 1;
}

/* Context of syscall_double, passed in and out through ctx_in/ctx_out. */
struct args {
	int in;
	int out;
};

/* SEC("syscall") programs are always loaded as sleepable. */
SEC("syscall")
int syscall_double(struct args *ctx)
{
	ctx->out = ctx->in * 2;
	return 5;
}

/* A type BPF_PROG_RUN does not support. */
SEC("kprobe/do_nanosleep")
int kprobe_prog(void *ctx)
{
	return 0;
}

char _license[] SEC("license") = "GPL";
