// SPDX-License-Identifier: MIT
/*
 * netns_test_run.c - kdiff scenario: BPF_PROG_TEST_RUN of the program types that attach to
 * network namespaces: flow dissector programs over frames (the keys they fill, the verdict,
 * the clamping of the offsets they leave, bpf_skb_load_bytes without an skb) and sk_lookup
 * programs over lookups (the verdict and the context that comes back), with the checks of the
 * inputs.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <bpf/bpf.h>
#include <linux/bpf.h>

#include "../transcript.h"

#define I(c, d, s, o, i)                                                                           \
	((struct bpf_insn){ .code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i) })
#define LDX(sz, d, s, o) I(BPF_LDX | BPF_MEM | (sz), d, s, o, 0)
#define STX(sz, d, s, o) I(BPF_STX | BPF_MEM | (sz), d, s, o, 0)
#define MOV(d, i)	 I(BPF_ALU64 | BPF_MOV | BPF_K, d, 0, 0, i)
#define MOVX(d, s)	 I(BPF_ALU64 | BPF_MOV | BPF_X, d, s, 0, 0)
#define ADD(d, i)	 I(BPF_ALU64 | BPF_ADD | BPF_K, d, 0, 0, i)
#define EXIT		 I(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)
#define FK(f)		 ((short)offsetof(struct bpf_flow_keys, f))
#define SKB(f)		 ((short)offsetof(struct __sk_buff, f))

static int load(enum bpf_prog_type type, const char *name, const struct bpf_insn *insns,
		size_t n)
{
	LIBBPF_OPTS(bpf_prog_load_opts, opts,
		    .expected_attach_type = type == BPF_PROG_TYPE_SK_LOOKUP ? BPF_SK_LOOKUP : 0);
	int fd = bpf_prog_load(type, name, "GPL", insns, n, &opts);

	tr_fd(fd, "bpf_prog_load(%s)", name);
	return fd;
}

/* IPv4: keys from the header (protocol, addresses), the transport header right after it. */
static int load_parse_ipv4(void)
{
	const struct bpf_insn insns[] = {
		LDX(BPF_DW, 6, 1, SKB(flow_keys)),
		LDX(BPF_W, 2, 1, SKB(data)),
		LDX(BPF_W, 3, 1, SKB(data_end)),
		MOVX(4, 2),
		ADD(4, 34),
		I(BPF_JMP | BPF_JGT | BPF_X, 4, 3, 12, 0),
		LDX(BPF_B, 5, 2, 23),
		STX(BPF_B, 6, 5, FK(ip_proto)),
		LDX(BPF_W, 5, 2, 26),
		STX(BPF_W, 6, 5, FK(ipv4_src)),
		LDX(BPF_W, 5, 2, 30),
		STX(BPF_W, 6, 5, FK(ipv4_dst)),
		MOV(5, 0x0008), /* htons(ETH_P_IP) */
		STX(BPF_H, 6, 5, FK(addr_proto)),
		MOV(5, 34),
		STX(BPF_H, 6, 5, FK(thoff)),
		MOV(0, BPF_OK),
		EXIT,
		MOV(0, BPF_DROP),
		EXIT,
	};

	return load(BPF_PROG_TYPE_FLOW_DISSECTOR, "fd_ipv4", insns, sizeof(insns) / sizeof(*insns));
}

/* bpf_skb_load_bytes: its result and the bytes it gave go into the keys. */
static int load_load_bytes(void)
{
	const struct bpf_insn insns[] = {
		LDX(BPF_DW, 7, 1, SKB(flow_keys)),
		MOV(2, 14),
		MOVX(3, 10),
		ADD(3, -8),
		MOV(4, 4),
		I(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_skb_load_bytes),
		STX(BPF_W, 7, 0, FK(ipv4_src)),
		LDX(BPF_W, 1, 10, -8),
		STX(BPF_W, 7, 1, FK(ipv4_dst)),
		MOV(0, BPF_OK),
		EXIT,
	};

	return load(BPF_PROG_TYPE_FLOW_DISSECTOR, "fd_load_bytes", insns,
		    sizeof(insns) / sizeof(*insns));
}

/* Offsets out of the frame: the kernel clamps them after the run. */
static int load_bad_offsets(void)
{
	const struct bpf_insn insns[] = {
		LDX(BPF_DW, 6, 1, SKB(flow_keys)),
		MOV(5, 1),
		STX(BPF_H, 6, 5, FK(nhoff)),
		MOV(5, 0xffff),
		STX(BPF_H, 6, 5, FK(thoff)),
		MOV(5, 0x1234),
		STX(BPF_H, 6, 5, FK(n_proto)),
		MOV(0, BPF_OK),
		EXIT,
	};

	return load(BPF_PROG_TYPE_FLOW_DISSECTOR, "fd_offsets", insns,
		    sizeof(insns) / sizeof(*insns));
}

/* SK_DROP for local port 80, SK_PASS otherwise. */
static int load_port_filter(void)
{
	const struct bpf_insn insns[] = {
		LDX(BPF_W, 2, 1, (short)offsetof(struct bpf_sk_lookup, local_port)),
		MOV(0, SK_PASS),
		I(BPF_JMP | BPF_JNE | BPF_K, 2, 0, 1, 80),
		MOV(0, SK_DROP),
		EXIT,
	};

	return load(BPF_PROG_TYPE_SK_LOOKUP, "sl_port80", insns, sizeof(insns) / sizeof(*insns));
}

static void print_hex(const char *what, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	size_t i;

	printf("  %s:", what);
	for (i = 0; i < len; i++)
		printf("%s%02x", i % 16 ? " " : "\n    ", p[i]);
	printf("\n");
}

/* A test run of a flow dissector; the keys it returns are printed whole. */
static void run_fd(int prog, const char *what, const void *frame, __u32 size,
		   struct bpf_flow_keys *ctx_in, __u32 flags)
{
	struct bpf_flow_keys keys, ctx_out;
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame, .data_size_in = size,
		    .data_out = &keys, .data_size_out = sizeof(keys), .flags = flags);
	int err;

	memset(&keys, 0xee, sizeof(keys));
	memset(&ctx_out, 0xee, sizeof(ctx_out));
	if (ctx_in) {
		opts.ctx_in = ctx_in;
		opts.ctx_size_in = sizeof(*ctx_in);
		opts.ctx_out = &ctx_out;
		opts.ctx_size_out = sizeof(ctx_out);
	}
	err = bpf_prog_test_run_opts(prog, &opts);
	tr_rc(err, "test_run(%s, %s)", tr_fdname(prog), what);
	if (err)
		return;
	printf("  retval %u, data_size_out %u\n", opts.retval, opts.data_size_out);
	print_hex("keys", &keys, sizeof(keys));
	if (ctx_in)
		print_hex("ctx_out", &ctx_out, opts.ctx_size_out);
}

static void flow_dissector(void)
{
	/* Ethernet, IPv4 (TCP, 10.0.0.1 -> 10.0.0.2), TCP ports 1234 -> 80 */
	static const unsigned char tcp4[54] = {
		0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x08, 0x00, 0x45, 0, 0, 40, 0, 0, 0x40,
		0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2, 0x04, 0xd2, 0, 80,
	};
	struct bpf_flow_keys ctx_in;
	int parse, bytes, offsets;

	tr_say("# flow dissector test runs");
	parse = load_parse_ipv4();
	bytes = load_load_bytes();
	offsets = load_bad_offsets();
	run_fd(parse, "tcp4", tcp4, sizeof(tcp4), NULL, 0);
	run_fd(parse, "a frame cut after 30 bytes", tcp4, 30, NULL, 0);
	run_fd(parse, "13 bytes", tcp4, 13, NULL, 0);
	run_fd(parse, "test flags 1", tcp4, sizeof(tcp4), NULL, 1);
	memset(&ctx_in, 0, sizeof(ctx_in));
	ctx_in.flags = BPF_FLOW_DISSECTOR_F_PARSE_1ST_FRAG;
	run_fd(parse, "ctx flags PARSE_1ST_FRAG", tcp4, sizeof(tcp4), &ctx_in, 0);
	ctx_in.nhoff = 14;
	run_fd(parse, "ctx with nhoff", tcp4, sizeof(tcp4), &ctx_in, 0);
	run_fd(bytes, "tcp4", tcp4, sizeof(tcp4), NULL, 0);
	run_fd(offsets, "tcp4", tcp4, sizeof(tcp4), NULL, 0);
	run_fd(offsets, "20 bytes", tcp4, 20, NULL, 0);
	tr_close(parse);
	tr_close(bytes);
	tr_close(offsets);
}

/* A test run of an sk_lookup program over @ctx (NULL: none); the context back. */
static void run_sl(int prog, const char *what, struct bpf_sk_lookup *ctx, const void *data)
{
	struct bpf_sk_lookup out;
	char pkt[64] = { 0 };
	LIBBPF_OPTS(bpf_test_run_opts, opts);
	int err;

	memset(&out, 0xee, sizeof(out));
	if (ctx) {
		opts.ctx_in = ctx;
		opts.ctx_size_in = sizeof(*ctx);
		opts.ctx_out = &out;
		opts.ctx_size_out = sizeof(out);
	}
	if (data) {
		opts.data_in = pkt;
		opts.data_size_in = sizeof(pkt);
	}
	err = bpf_prog_test_run_opts(prog, &opts);
	tr_rc(err, "test_run(%s, %s)", tr_fdname(prog), what);
	if (err)
		return;
	printf("  retval %u, data_size_out %u\n", opts.retval, opts.data_size_out);
	print_hex("ctx_out", &out, opts.ctx_size_out);
}

static void sk_lookup(void)
{
	struct bpf_sk_lookup ctx;
	int prog;

	tr_say("# sk_lookup test runs");
	prog = load_port_filter();
	memset(&ctx, 0, sizeof(ctx));
	ctx.family = AF_INET;
	ctx.protocol = IPPROTO_TCP;
	ctx.remote_ip4 = htonl(0x0a000001);
	ctx.remote_port = htons(1234);
	ctx.local_ip4 = htonl(0x0a000002);
	ctx.local_port = 80;
	run_sl(prog, "tcp4 to port 80", &ctx, NULL);
	ctx.local_port = 81;
	run_sl(prog, "tcp4 to port 81", &ctx, NULL);
	ctx.family = AF_INET6;
	ctx.remote_ip6[3] = htonl(1);
	ctx.local_ip6[3] = htonl(2);
	run_sl(prog, "tcp6 to port 81", &ctx, NULL);
	run_sl(prog, "no context", NULL, NULL);
	run_sl(prog, "with data", &ctx, "data");
	ctx.family = 99;
	run_sl(prog, "family 99", &ctx, NULL);
	ctx.family = AF_INET;
	ctx.local_port = 70000;
	run_sl(prog, "local port 70000", &ctx, NULL);
	ctx.local_port = 80;
	ctx.ingress_ifindex = 1;
	run_sl(prog, "ingress_ifindex set", &ctx, NULL);
	ctx.ingress_ifindex = 0;
	ctx.cookie = 1;
	run_sl(prog, "sk set", &ctx, NULL);
	tr_close(prog);
}

int main(void)
{
	tr_begin("netns_test_run");
	flow_dissector();
	sk_lookup();
	return tr_end();
}
