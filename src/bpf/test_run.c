// SPDX-License-Identifier: MIT
/*
 * test_run.c - BPF_PROG_TEST_RUN (net/bpf/test_run.c): runs a program over a packet the
 * caller passes, with the kernel's buffer layout and checks, and hands back the verdict, the
 * packet as the program left it, the context and the mean duration of `repeat` runs.
 *
 * XDP programs see the packet at XDP_PACKET_HEADROOM in a page, as bpf_prog_test_run_xdp
 * lays it out; __sk_buff programs (socket filters, cgroup skb) see it after the Ethernet
 * header, which comes back zeroed, as bpf_prog_test_run_skb's eth_type_trans and push do.
 * The loopback device of the namespace is the only device a test run knows here: a context
 * naming another ifindex is -ENODEV.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "prog.h"

#define PAGE_SIZE	      4096u
#define ETH_HLEN	      14u
#ifndef XDP_PACKET_HEADROOM
#define XDP_PACKET_HEADROOM 256
#endif
#define NET_SKB_PAD	      64u
/* SKB_DATA_ALIGN(sizeof(struct skb_shared_info)) on x86-64 */
#define SKB_SHINFO_SIZE	      320u
#define LOOPBACK_IFINDEX      1u
#define GSO_LEGACY_MAX_SIZE   65536u
#define GSO_MAX_SEGS	      65535u
#define PACKET_HOST	      0u
#define PACKET_BROADCAST      1u
#define PACKET_MULTICAST      2u
#define PACKET_OTHERHOST      3u
#define ETH_P_802_3	      0x0001
#define ETH_P_802_2	      0x0004
#define ETH_P_802_3_MIN	      0x0600
#ifndef BPF_F_TEST_XDP_LIVE_FRAMES
#define BPF_F_TEST_XDP_LIVE_FRAMES (1u << 1)
#endif

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* bpf_ctx_init: the caller's context (zero tail rules), or NULL when none was passed. */
static int bpf_ctx_init(const union bpf_attr *attr, uint32_t max_size, void **ctxp)
{
	const void *data_in = u64_to_user_ptr(attr->test.ctx_in);
	uint32_t size = attr->test.ctx_size_in;
	void *ctx;
	int err;

	*ctxp = NULL;
	if (!attr->test.ctx_in && !attr->test.ctx_out)
		return 0;
	ctx = calloc(1, max_size);
	if (!ctx)
		return -ENOMEM;
	if (data_in) {
		err = bpf_check_uarg_tail_zero(data_in, max_size, size);
		if (!err && copy_from_user(ctx, data_in, size < max_size ? size : max_size))
			err = -EFAULT;
		if (err) {
			free(ctx);
			return err;
		}
	}
	*ctxp = ctx;
	return 0;
}

/* bpf_ctx_finish: the context back to ctx_out (-ENOSPC when it does not fit). */
static int bpf_ctx_finish(const union bpf_attr *attr, union bpf_attr *uattr, const void *ctx,
			  uint32_t size)
{
	uint32_t copy_size = size;
	int err = 0;

	if (!ctx || !attr->test.ctx_out)
		return 0;
	if (copy_size > attr->test.ctx_size_out) {
		copy_size = attr->test.ctx_size_out;
		err = -ENOSPC;
	}
	if (copy_to_user(u64_to_user_ptr(attr->test.ctx_out), ctx, copy_size) ||
	    copy_to_user(&uattr->test.ctx_size_out, &size, sizeof(size)))
		return -EFAULT;
	return err;
}

/* bpf_test_finish: data_out (clamped to data_size_out: -ENOSPC), sizes, retval, duration. */
static int bpf_test_finish(const union bpf_attr *attr, union bpf_attr *uattr, const void *data,
			   uint32_t size, uint32_t retval, uint32_t duration)
{
	uint32_t copy_size = size;
	int err = 0;

	if (attr->test.data_size_out && copy_size > attr->test.data_size_out) {
		copy_size = attr->test.data_size_out;
		err = -ENOSPC;
	}
	if (attr->test.data_out &&
	    copy_to_user(u64_to_user_ptr(attr->test.data_out), data, copy_size))
		return -EFAULT;
	if (copy_to_user(&uattr->test.data_size_out, &size, sizeof(size)) ||
	    copy_to_user(&uattr->test.retval, &retval, sizeof(retval)) ||
	    copy_to_user(&uattr->test.duration, &duration, sizeof(duration)))
		return -EFAULT;
	return err;
}

/* bpf_test_run: `repeat` runs (at least one); the mean duration in ns, capped at U32_MAX. */
static int bpf_test_run(struct bpf_prog *prog, struct nsbpf_vm_run *run, void *ctx,
			uint32_t repeat, uint32_t *retval, uint32_t *duration)
{
	uint64_t start, spent, ret = 0;
	int err = 0;

	if (!repeat)
		repeat = 1;
	start = now_ns();
	for (uint32_t i = 0; i < repeat && !err; i++)
		err = bpf_prog_run(prog, run, ctx, &ret);
	spent = (now_ns() - start) / repeat;
	*retval = (uint32_t)ret;
	*duration = spent > UINT32_MAX ? UINT32_MAX : (uint32_t)spent;
	/*
	 * A run the VM stopped is a program the kernel's verifier would have refused:
	 * report the fault rather than a made-up verdict.
	 */
	return err;
}

/* bpf_test_init: the caller's packet at @headroom of a zeroed buffer. */
static int bpf_test_init(const union bpf_attr *attr, uint32_t user_size, uint32_t size,
			 uint32_t headroom, uint32_t tailroom, uint8_t **datap)
{
	uint8_t *data;

	if (user_size < ETH_HLEN || user_size > PAGE_SIZE - headroom - tailroom)
		return -EINVAL;
	data = calloc(1, (size_t)size + headroom + tailroom);
	if (!data)
		return -ENOMEM;
	if (copy_from_user(data + headroom, u64_to_user_ptr(attr->test.data_in), user_size)) {
		free(data);
		return -EFAULT;
	}
	*datap = data;
	return 0;
}

static bool xdp_metalen_invalid(uint32_t metalen)
{
	return (metalen & 3) || metalen > 32;
}

int bpf_prog_test_run_xdp(struct bpf_state *st, struct bpf_prog *prog,
			  const union bpf_attr *attr, union bpf_attr *uattr)
{
	uint32_t headroom = XDP_PACKET_HEADROOM, tailroom = SKB_SHINFO_SIZE;
	uint32_t size = attr->test.data_size_in, max_data_sz, retval = 0, duration = 0;
	struct nsbpf_vm_run *run = NULL;
	struct bpf_xdp_ctx xctx;
	struct xdp_md *ctx;
	uint8_t *data = NULL;
	int err;

	(void)st;
	if (prog->expected_attach_type == BPF_XDP_DEVMAP ||
	    prog->expected_attach_type == BPF_XDP_CPUMAP)
		return -EINVAL;
	if (attr->test.flags & ~BPF_F_TEST_XDP_LIVE_FRAMES)
		return -EINVAL;
	if (attr->test.flags & BPF_F_TEST_XDP_LIVE_FRAMES)
		return -ENOTSUPP; /* no devices to transmit frames on */
	if (attr->test.batch_size)
		return -EINVAL;

	err = bpf_ctx_init(attr, sizeof(struct xdp_md), (void **)&ctx);
	if (err)
		return err;
	err = -EINVAL;
	if (ctx) {
		/* there can't be user data before the metadata */
		if (ctx->data_meta || ctx->data_end != size || ctx->data > ctx->data_end ||
		    xdp_metalen_invalid(ctx->data))
			goto out_free_ctx;
		headroom -= ctx->data; /* the metadata comes from the headroom */
	}
	max_data_sz = PAGE_SIZE - headroom - tailroom;
	if (size > max_data_sz)
		goto out_free_ctx; /* the kernel goes on with fragments: nsbpf has none */
	err = bpf_test_init(attr, size, max_data_sz, headroom, tailroom, &data);
	if (err)
		goto out_free_ctx;

	/* xdp_convert_md_to_buff */
	memset(&xctx, 0, sizeof(xctx));
	xctx.md.ingress_ifindex = LOOPBACK_IFINDEX;
	if (ctx) {
		err = -EINVAL;
		if (ctx->egress_ifindex || (!ctx->ingress_ifindex && ctx->rx_queue_index))
			goto out_free_data;
		err = -ENODEV;
		if (ctx->ingress_ifindex)
			goto out_free_data;
	}
	xctx.data_meta = (uintptr_t)data + headroom;
	xctx.data = xctx.data_meta + (ctx ? ctx->data : 0);
	xctx.data_end = xctx.data_meta + size;

	err = -ENOMEM;
	run = malloc(sizeof(*run));
	if (!run)
		goto out_free_data;
	nsbpf_vm_run_init(run);
	if (nsbpf_vm_run_add_region(run, &xctx, sizeof(xctx), NSBPF_VM_READ) ||
	    nsbpf_vm_run_add_region(run, (void *)(uintptr_t)xctx.data_meta, size, NSBPF_VM_RW))
		goto out_free_run;

	err = bpf_test_run(prog, run, &xctx, attr->test.repeat, &retval, &duration);
	/* xdp_convert_buff_to_md */
	if (ctx) {
		ctx->data = (uint32_t)(xctx.data - xctx.data_meta);
		ctx->data_end = (uint32_t)(xctx.data_end - xctx.data_meta);
	}
	if (err)
		goto out_free_run;
	err = bpf_test_finish(attr, uattr, (const void *)(uintptr_t)xctx.data_meta,
			      (uint32_t)(xctx.data_end - xctx.data_meta), retval, duration);
	if (!err)
		err = bpf_ctx_finish(attr, uattr, ctx, sizeof(struct xdp_md));

out_free_run:
	free(run);
out_free_data:
	free(data);
out_free_ctx:
	free(ctx);
	return err;
}

static bool range_is_zero(const void *buf, size_t from, size_t to)
{
	const uint8_t *p = buf;

	for (size_t i = from; i < to; i++)
		if (p[i])
			return false;
	return true;
}

#define offsetofend(type, member) (offsetof(type, member) + sizeof(((type *)0)->member))

/* convert___skb_to_skb: only the fields a caller may set (the rest must be zero). */
static int convert___skb_to_skb(struct __sk_buff *skb, const struct __sk_buff *in, uint32_t len)
{
	if (!len)
		return -EINVAL;
	if (!in) {
		skb->wire_len = len;
		return 0;
	}
	if (!range_is_zero(in, 0, offsetof(struct __sk_buff, mark)) ||
	    !range_is_zero(in, offsetofend(struct __sk_buff, mark),
			   offsetof(struct __sk_buff, priority)) ||
	    !range_is_zero(in, offsetofend(struct __sk_buff, ifindex),
			   offsetof(struct __sk_buff, cb)) ||
	    !range_is_zero(in, offsetofend(struct __sk_buff, cb),
			   offsetof(struct __sk_buff, tstamp)) ||
	    !range_is_zero(in, offsetofend(struct __sk_buff, gso_segs),
			   offsetof(struct __sk_buff, gso_size)) ||
	    !range_is_zero(in, offsetofend(struct __sk_buff, gso_size),
			   offsetof(struct __sk_buff, hwtstamp)) ||
	    !range_is_zero(in, offsetofend(struct __sk_buff, hwtstamp), sizeof(struct __sk_buff)))
		return -EINVAL;
	skb->mark = in->mark;
	skb->priority = in->priority;
	skb->ingress_ifindex = in->ingress_ifindex;
	skb->tstamp = in->tstamp;
	memcpy(skb->cb, in->cb, sizeof(skb->cb));
	if (!in->wire_len)
		skb->wire_len = len;
	else if (in->wire_len < len || in->wire_len > GSO_LEGACY_MAX_SIZE)
		return -EINVAL;
	else
		skb->wire_len = in->wire_len;
	if (in->gso_segs > GSO_MAX_SEGS)
		return -EINVAL;
	skb->gso_segs = in->gso_segs;
	skb->gso_size = in->gso_size;
	skb->hwtstamp = in->hwtstamp;
	return 0;
}

/* convert_skb_to___skb: what ctx_out reports. */
static void convert_skb_to___skb(const struct __sk_buff *skb, struct __sk_buff *out)
{
	if (!out)
		return;
	out->mark = skb->mark;
	out->priority = skb->priority;
	out->ingress_ifindex = skb->ingress_ifindex;
	out->ifindex = skb->ifindex;
	out->tstamp = skb->tstamp;
	memcpy(out->cb, skb->cb, sizeof(out->cb));
	out->wire_len = skb->wire_len;
	out->gso_segs = skb->gso_segs;
	out->hwtstamp = skb->hwtstamp;
}

/* eth_type_trans on a loopback device (address 00:00:00:00:00:00): pkt_type and protocol. */
static void eth_type_trans(const uint8_t *eth, struct __sk_buff *skb)
{
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	static const uint8_t zero[6];
	uint16_t proto = (uint16_t)(eth[12] << 8 | eth[13]);

	if (eth[0] & 1)
		skb->pkt_type = memcmp(eth, bcast, 6) ? PACKET_MULTICAST : PACKET_BROADCAST;
	else
		skb->pkt_type = memcmp(eth, zero, 6) ? PACKET_OTHERHOST : PACKET_HOST;
	if (proto >= ETH_P_802_3_MIN)
		skb->protocol = htons(proto);
	else if (eth[14] == 0xff && eth[15] == 0xff)
		skb->protocol = htons(ETH_P_802_3);
	else
		skb->protocol = htons(ETH_P_802_2);
}

int bpf_prog_test_run_skb(struct bpf_state *st, struct bpf_prog *prog,
			  const union bpf_attr *attr, union bpf_attr *uattr)
{
	uint32_t size = attr->test.data_size_in, retval = 0, duration = 0, len;
	struct nsbpf_vm_run *run = NULL;
	struct __sk_buff *ctx;
	struct bpf_skb_ctx *sctx = NULL;
	uint8_t *data, *l3;
	int err;

	(void)st;
	if (attr->test.flags || attr->test.cpu || attr->test.batch_size)
		return -EINVAL;
	err = bpf_test_init(attr, size, size, NET_SKB_PAD, SKB_SHINFO_SIZE, &data);
	if (err)
		return err;
	err = bpf_ctx_init(attr, sizeof(struct __sk_buff), (void **)&ctx);
	if (err)
		goto out_free_data;
	err = -ENODEV;
	if (ctx && ctx->ifindex > LOOPBACK_IFINDEX)
		goto out_free_ctx;

	err = -ENOMEM;
	sctx = calloc(1, sizeof(*sctx));
	run = malloc(sizeof(*run));
	if (!sctx || !run)
		goto out_free_run;
	l3 = data + NET_SKB_PAD + ETH_HLEN;
	len = size - ETH_HLEN;
	eth_type_trans(data + NET_SKB_PAD, &sctx->skb);
	sctx->skb.len = len;
	sctx->skb.ifindex = LOOPBACK_IFINDEX;
	sctx->data = (uintptr_t)l3;
	sctx->data_end = (uintptr_t)l3 + len;
	sctx->data_meta = sctx->data;
	err = convert___skb_to_skb(&sctx->skb, ctx, len);
	if (err)
		goto out_free_run;

	nsbpf_vm_run_init(run);
	run->ld_abs_data = l3;
	run->ld_abs_len = len;
	err = -ENOMEM;
	if (nsbpf_vm_run_add_region(run, sctx, sizeof(*sctx), NSBPF_VM_RW) ||
	    nsbpf_vm_run_add_region(run, l3, len, NSBPF_VM_READ))
		goto out_free_run;
	err = bpf_test_run(prog, run, sctx, attr->test.repeat, &retval, &duration);
	if (err)
		goto out_free_run;

	/* the Ethernet header goes back on, zeroed */
	memset(l3 - ETH_HLEN, 0, ETH_HLEN);
	convert_skb_to___skb(&sctx->skb, ctx);
	err = bpf_test_finish(attr, uattr, l3 - ETH_HLEN, len + ETH_HLEN, retval, duration);
	if (!err)
		err = bpf_ctx_finish(attr, uattr, ctx, sizeof(struct __sk_buff));

out_free_run:
	free(run);
	free(sctx);
out_free_ctx:
	free(ctx);
out_free_data:
	free(data);
	return err;
}

/* verify_user_bpf_flow_keys: of the caller's flow keys only `flags` may be set. */
static int verify_user_bpf_flow_keys(const struct bpf_flow_keys *keys)
{
	if (!range_is_zero(keys, 0, offsetof(struct bpf_flow_keys, flags)) ||
	    !range_is_zero(keys, offsetofend(struct bpf_flow_keys, flags), sizeof(*keys)))
		return -EINVAL;
	return 0;
}

/*
 * bpf_prog_test_run_flow_dissector: the program dissects the caller's frame from its network
 * header (after Ethernet), as bpf_flow_dissect() runs it: the keys start zeroed with the
 * protocol and offsets filled in, and the offsets the program leaves are clamped to the frame.
 * The keys are the output data.
 */
int bpf_prog_test_run_flow_dissector(struct bpf_state *st, struct bpf_prog *prog,
				     const union bpf_attr *attr, union bpf_attr *uattr)
{
	uint32_t size = attr->test.data_size_in, retval = 0, duration = 0, flags = 0;
	struct bpf_flow_dissector_ctx *fctx = NULL;
	struct nsbpf_vm_run *run = NULL;
	struct bpf_flow_keys *keys = NULL, *user_ctx;
	uint16_t proto;
	uint8_t *data;
	int err;

	(void)st;
	if (attr->test.flags || attr->test.cpu || attr->test.batch_size)
		return -EINVAL;
	if (size < ETH_HLEN)
		return -EINVAL;
	err = bpf_test_init(attr, size, size, 0, 0, &data);
	if (err)
		return err;
	err = bpf_ctx_init(attr, sizeof(struct bpf_flow_keys), (void **)&user_ctx);
	if (err)
		goto out_free_data;
	if (user_ctx) {
		err = verify_user_bpf_flow_keys(user_ctx);
		if (err)
			goto out_free_ctx;
		flags = user_ctx->flags;
	}

	err = -ENOMEM;
	fctx = calloc(1, sizeof(*fctx));
	keys = malloc(sizeof(*keys));
	run = malloc(sizeof(*run));
	if (!fctx || !keys || !run)
		goto out_free_run;
	memcpy(&proto, data + 12, sizeof(proto)); /* h_proto, network order as it stays */
	fctx->skb.data = (uintptr_t)data;
	fctx->skb.data_end = (uintptr_t)data + size;
	fctx->skb.skb.flow_keys = keys;
	fctx->has_skb = false;
	nsbpf_vm_run_init(run);
	if (nsbpf_vm_run_add_region(run, fctx, sizeof(*fctx), NSBPF_VM_READ) ||
	    nsbpf_vm_run_add_region(run, keys, sizeof(*keys), NSBPF_VM_RW) ||
	    nsbpf_vm_run_add_region(run, data, size, NSBPF_VM_READ))
		goto out_free_run;

	/* bpf_flow_dissect(), `repeat` times: the keys start over at each run */
	{
		uint64_t start = now_ns(), ret = 0, spent;
		uint32_t repeat = attr->test.repeat ? attr->test.repeat : 1;

		err = 0;
		for (uint32_t i = 0; i < repeat && !err; i++) {
			memset(keys, 0, sizeof(*keys));
			keys->n_proto = proto;
			keys->nhoff = ETH_HLEN;
			keys->thoff = ETH_HLEN;
			keys->flags = flags;
			err = bpf_prog_run(prog, run, fctx, &ret);
			if (keys->nhoff < ETH_HLEN)
				keys->nhoff = ETH_HLEN;
			if (keys->nhoff > size)
				keys->nhoff = (uint16_t)size;
			if (keys->thoff < keys->nhoff)
				keys->thoff = keys->nhoff;
			if (keys->thoff > size)
				keys->thoff = (uint16_t)size;
		}
		spent = (now_ns() - start) / repeat;
		retval = (uint32_t)ret;
		duration = spent > UINT32_MAX ? UINT32_MAX : (uint32_t)spent;
	}
	if (err)
		goto out_free_run;
	err = bpf_test_finish(attr, uattr, keys, sizeof(*keys), retval, duration);
	if (!err)
		err = bpf_ctx_finish(attr, uattr, user_ctx, sizeof(struct bpf_flow_keys));

out_free_run:
	free(run);
	free(keys);
	free(fctx);
out_free_ctx:
	free(user_ctx);
out_free_data:
	free(data);
	return err;
}

/*
 * BPF_PROG_SK_LOOKUP_RUN_ARRAY for one program: every program runs; one that passes with a
 * socket selected replaces the selection, and the verdict is SK_PASS if all passed or a
 * socket was selected. Without sockets here nothing can be selected, so it is SK_PASS exactly
 * when the program passed.
 */
static uint32_t sk_lookup_verdict(uint64_t ret)
{
	return ret == SK_PASS ? SK_PASS : SK_DROP;
}

/*
 * bpf_prog_test_run_sk_lookup: the program sees the lookup the caller's struct bpf_sk_lookup
 * describes (no packet data); the cookie of the socket it selected comes back in it.
 */
int bpf_prog_test_run_sk_lookup(struct bpf_state *st, struct bpf_prog *prog,
				const union bpf_attr *attr, union bpf_attr *uattr)
{
	uint32_t retval = 0, duration = 0;
	struct bpf_sk_lookup *user_ctx = NULL, *ctx = NULL;
	struct nsbpf_vm_run *run = NULL;
	int err;

	(void)st;
	if (attr->test.flags || attr->test.cpu || attr->test.batch_size)
		return -EINVAL;
	if (attr->test.data_in || attr->test.data_size_in || attr->test.data_out ||
	    attr->test.data_size_out)
		return -EINVAL;
	err = bpf_ctx_init(attr, sizeof(*user_ctx), (void **)&user_ctx);
	if (err)
		return err;
	if (!user_ctx)
		return -EINVAL;
	err = -EINVAL;
	if (user_ctx->sk)
		goto out;
	if (!range_is_zero(user_ctx, offsetofend(struct bpf_sk_lookup, local_port),
			   sizeof(*user_ctx)))
		goto out;
	if (user_ctx->local_port > UINT16_MAX) {
		err = -ERANGE;
		goto out;
	}
	if (user_ctx->family != AF_INET && user_ctx->family != AF_INET6) {
		err = -EAFNOSUPPORT;
		goto out;
	}

	err = -ENOMEM;
	ctx = calloc(1, sizeof(*ctx));
	run = malloc(sizeof(*run));
	if (!ctx || !run)
		goto out;
	/* what bpf_sk_lookup_kern keeps, as the program reads it */
	ctx->family = (uint16_t)user_ctx->family;
	ctx->protocol = (uint16_t)user_ctx->protocol;
	ctx->remote_port = user_ctx->remote_port;
	ctx->local_port = (uint16_t)user_ctx->local_port;
	if (ctx->family == AF_INET) {
		ctx->remote_ip4 = user_ctx->remote_ip4;
		ctx->local_ip4 = user_ctx->local_ip4;
	} else {
		memcpy(ctx->remote_ip6, user_ctx->remote_ip6, sizeof(ctx->remote_ip6));
		memcpy(ctx->local_ip6, user_ctx->local_ip6, sizeof(ctx->local_ip6));
	}
	nsbpf_vm_run_init(run);
	err = -ENOMEM;
	if (nsbpf_vm_run_add_region(run, ctx, sizeof(*ctx), NSBPF_VM_READ))
		goto out;
	err = bpf_test_run(prog, run, ctx, attr->test.repeat, &retval, &duration);
	if (err)
		goto out;
	retval = sk_lookup_verdict(retval);
	user_ctx->cookie = 0;
	err = bpf_test_finish(attr, uattr, NULL, 0, retval, duration);
	if (!err)
		err = bpf_ctx_finish(attr, uattr, user_ctx, sizeof(*user_ctx));
out:
	free(run);
	free(ctx);
	free(user_ctx);
	return err;
}
