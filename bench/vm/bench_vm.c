// SPDX-License-Identifier: MIT
/*
 * bench_vm.c - nsbpf-bench-vm: the nsbpf interpreter against DPDK's rte_bpf interpreter.
 *
 * Each program is written once as struct nsbpf_insn and copied field by field into
 * struct ebpf_insn (both have the kernel's struct bpf_insn layout), so the two engines run
 * the very same instructions on the very same context memory. Before anything is timed,
 * every program runs on each of its inputs in both engines and in a C model of it; any
 * disagreement prints FAIL and exits 1, which is all the CTest smoke test (--quick) looks
 * at. Timing: warm-up, then batches of many runs timed with CLOCK_MONOTONIC, alternating
 * engines batch by batch so that drift in clock speed or load hits both alike; the median
 * batch is reported. rte_bpf_exec() always interprets (rte_bpf_load() also JITs on x86-64,
 * but that code is only reachable through rte_bpf_get_jit()), so it is interpreter against
 * interpreter.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_bpf.h>
#include <rte_errno.h>
#include <rte_log.h>
#include <rte_version.h>

#include "nsbpf/vm.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

_Static_assert(sizeof(struct nsbpf_insn) == sizeof(struct ebpf_insn),
	       "nsbpf_insn and ebpf_insn must both be struct bpf_insn");

/* Instructions, spelled with the opcode names of DPDK's bpf_def.h. */
enum { R0, R1, R2, R3, R4, R5, R6, R7, R8, R9, R10 };

#define INSN(CODE, DST, SRC, OFF, IMM)                                                        \
	{                                                                                     \
		.code = (CODE), .dst_reg = (DST), .src_reg = (SRC), .off = (OFF), .imm = (IMM) \
	}
#define ALU64_K(OP, DST, IMM)	 INSN(EBPF_ALU64 | (OP) | BPF_K, DST, 0, 0, IMM)
#define ALU64_X(OP, DST, SRC)	 INSN(EBPF_ALU64 | (OP) | BPF_X, DST, SRC, 0, 0)
#define MOV_K(DST, IMM)		 ALU64_K(EBPF_MOV, DST, IMM)
#define MOV_X(DST, SRC)		 ALU64_X(EBPF_MOV, DST, SRC)
#define BE16(DST)		 INSN(BPF_ALU | EBPF_END | EBPF_TO_BE, DST, 0, 0, 16)
#define LDX(SIZE, DST, SRC, OFF) INSN(BPF_LDX | BPF_MEM | (SIZE), DST, SRC, OFF, 0)
/* lddw takes two slots: the low half of the constant in the first, the high in the second */
#define LDDW_LO(DST, K64) INSN(BPF_LD | BPF_IMM | EBPF_DW, DST, 0, 0, (int32_t)(uint32_t)(K64))
#define LDDW_HI(K64)	  INSN(0, 0, 0, 0, (int32_t)(uint32_t)((uint64_t)(K64) >> 32))
#define JMP_K(OP, DST, IMM, OFF) INSN(BPF_JMP | (OP) | BPF_K, DST, 0, OFF, IMM)
#define JMP_X(OP, DST, SRC, OFF) INSN(BPF_JMP | (OP) | BPF_X, DST, SRC, OFF, 0)
#define JA(OFF)			 INSN(BPF_JMP | BPF_JA, 0, 0, OFF, 0)
#define CALL_LOCAL(IMM)		 INSN(BPF_JMP | EBPF_CALL, 0, EBPF_PSEUDO_CALL, 0, IMM)
#define EXIT()			 INSN(BPF_JMP | EBPF_EXIT, 0, 0, 0, 0)
/* Branch or call offset from instruction `from` to instruction `to`. */
#define TO(from, to) ((to) - (from) - 1)

/* ---- (a) hash: a 200-instruction multiply-xorshift over ctx->value ---- */

struct value_ctx {
	uint64_t value;
};

#define HASH_MUL64  0xff51afd7ed558ccdull /* MurmurHash3's fmix64 constant, via lddw */
#define HASH_MUL32  0x2545f491		  /* an odd 31-bit constant, as mul's immediate */
#define HASH_ROUNDS 49			  /* 3 + 49 * 4 + exit = 200 instructions */
static const uint8_t hash_shift[] = { 33, 29, 31, 27, 30, 32, 28 };
static struct nsbpf_insn prog_hash[3 + HASH_ROUNDS * 4 + 1];

/*
 * Straight-line ALU64: each round is mov, rsh, xor, mul, alternating the multiplier
 * between a register (loaded once by lddw) and an immediate, so both operand forms of
 * the hottest opcodes are exercised.
 */
static void build_hash(void)
{
	static const struct nsbpf_insn head[] = {
		LDDW_LO(R8, HASH_MUL64),
		LDDW_HI(HASH_MUL64),
		LDX(EBPF_DW, R0, R1, offsetof(struct value_ctx, value)),
	};
	uint32_t n = 0;

	for (uint32_t i = 0; i < ARRAY_SIZE(head); i++)
		prog_hash[n++] = head[i];
	for (uint32_t i = 0; i < HASH_ROUNDS; i++) {
		const struct nsbpf_insn round[] = {
			MOV_X(R2, R0),
			ALU64_K(BPF_RSH, R2, hash_shift[i % ARRAY_SIZE(hash_shift)]),
			ALU64_X(BPF_XOR, R0, R2),
		};
		const struct nsbpf_insn mul_x = ALU64_X(BPF_MUL, R0, R8);
		const struct nsbpf_insn mul_k = ALU64_K(BPF_MUL, R0, HASH_MUL32);

		for (uint32_t j = 0; j < ARRAY_SIZE(round); j++)
			prog_hash[n++] = round[j];
		prog_hash[n++] = i & 1 ? mul_k : mul_x;
	}
	prog_hash[n++] = (struct nsbpf_insn)EXIT();
}

static uint64_t ref_hash(const void *ctx)
{
	uint64_t x = ((const struct value_ctx *)ctx)->value;

	for (uint32_t i = 0; i < HASH_ROUNDS; i++) {
		x ^= x >> hash_shift[i % ARRAY_SIZE(hash_shift)];
		x *= i & 1 ? (uint64_t)(int64_t)(int32_t)HASH_MUL32 : HASH_MUL64;
	}
	return x;
}

/* ---- (b) packet parser: Ethernet -> IPv4 -> UDP/TCP destination port ---- */

/*
 * The packet sits in the context itself: rte_bpf's validator only lets a program
 * dereference the context it was given, not a pointer loaded from it. The buffer is larger
 * than the 64-byte packet because that validator bounds the L4 load by the largest IPv4
 * header (60 bytes), not by the program's comparison with `len`; the program never reads
 * past `len`.
 */
#define PKT_LEN 64
#define PKT_BUF 128
struct pkt_ctx {
	uint32_t len; /* bytes of data[] that hold the packet */
	uint32_t pad;
	uint8_t data[PKT_BUF];
};
#define PKT(off) ((int16_t)(offsetof(struct pkt_ctx, data) + (off)))

/* Returns proto << 16 | destination port for UDP and TCP over IPv4, else 0. */
#define PARSE_OUT 33
static const struct nsbpf_insn prog_parse[] = {
	/*  0 */ LDX(BPF_W, R7, R1, offsetof(struct pkt_ctx, len)),
	/*  1 */ MOV_K(R0, 0),
	/*  2 */ JMP_K(BPF_JGT, R7, PKT_BUF, TO(2, PARSE_OUT)),
	/*  3 */ JMP_K(EBPF_JLT, R7, 14 + 20, TO(3, PARSE_OUT)),
	/*  4 */ LDX(BPF_H, R2, R1, PKT(12)), /* ethertype */
	/*  5 */ BE16(R2),
	/*  6 */ JMP_K(EBPF_JNE, R2, 0x0800, TO(6, PARSE_OUT)),
	/*  7 */ LDX(BPF_B, R2, R1, PKT(14)), /* version, IHL */
	/*  8 */ MOV_X(R3, R2),
	/*  9 */ ALU64_K(BPF_RSH, R3, 4),
	/* 10 */ JMP_K(EBPF_JNE, R3, 4, TO(10, PARSE_OUT)),
	/* 11 */ ALU64_K(BPF_AND, R2, 0xf),
	/* 12 */ ALU64_K(BPF_LSH, R2, 2),
	/* 13 */ JMP_K(EBPF_JLT, R2, 20, TO(13, PARSE_OUT)),
	/* 14 */ LDX(BPF_H, R3, R1, PKT(14 + 6)), /* flags, fragment offset */
	/* 15 */ BE16(R3),
	/* 16 */ JMP_K(BPF_JSET, R3, 0x1fff, TO(16, PARSE_OUT)), /* not the first fragment */
	/* 17 */ LDX(BPF_B, R4, R1, PKT(14 + 9)), /* protocol */
	/* 18 */ MOV_X(R8, R2),
	/* 19 */ ALU64_K(BPF_ADD, R8, 14), /* L4 offset */
	/* 20 */ MOV_K(R3, 8), /* UDP header */
	/* 21 */ JMP_K(BPF_JEQ, R4, 17, TO(21, 25)),
	/* 22 */ MOV_K(R3, 20), /* TCP header without options */
	/* 23 */ JMP_K(BPF_JEQ, R4, 6, TO(23, 25)),
	/* 24 */ JA(TO(24, PARSE_OUT)),
	/* 25 */ ALU64_X(BPF_ADD, R3, R8),
	/* 26 */ JMP_X(BPF_JGT, R3, R7, TO(26, PARSE_OUT)), /* L4 header truncated */
	/* 27 */ MOV_X(R2, R1),
	/* 28 */ ALU64_X(BPF_ADD, R2, R8),
	/* 29 */ LDX(BPF_H, R0, R2, PKT(2)), /* destination port */
	/* 30 */ BE16(R0),
	/* 31 */ ALU64_K(BPF_LSH, R4, 16),
	/* 32 */ ALU64_X(BPF_OR, R0, R4),
	/* 33 */ EXIT(),
};
_Static_assert(ARRAY_SIZE(prog_parse) == PARSE_OUT + 1, "PARSE_OUT must be the exit");

static uint16_t get_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint64_t ref_parse(const void *ctx)
{
	const struct pkt_ctx *c = ctx;
	const uint8_t *ip = c->data + 14;
	uint32_t ihl, l4, hdr;

	if (c->len > PKT_BUF || c->len < 14 + 20 || get_be16(c->data + 12) != 0x0800)
		return 0;
	ihl = (ip[0] & 0xf) * 4u;
	if (ip[0] >> 4 != 4 || ihl < 20 || (get_be16(ip + 6) & 0x1fff))
		return 0;
	if (ip[9] != 17 && ip[9] != 6)
		return 0;
	l4 = 14 + ihl;
	hdr = ip[9] == 17 ? 8 : 20;
	if (l4 + hdr > c->len)
		return 0;
	return (uint64_t)ip[9] << 16 | get_be16(c->data + l4 + 2);
}

static void put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* A frame of `len` bytes; for IPv4, the L4 ports sit after an IHL-sized header. */
static void build_pkt(struct pkt_ctx *c, uint16_t ethertype, uint8_t ver_ihl, uint16_t frag,
		      uint8_t proto, uint16_t dport, uint32_t len)
{
	uint8_t *ip = c->data + 14, *l4 = ip + (ver_ihl & 0xf) * 4;

	memset(c, 0, sizeof(*c));
	c->len = len;
	for (int i = 0; i < 12; i++) /* MAC addresses */
		c->data[i] = (uint8_t)(0x10 + i);
	put_be16(c->data + 12, ethertype);
	ip[0] = ver_ihl;
	put_be16(ip + 2, (uint16_t)(len - 14));
	put_be16(ip + 6, frag);
	ip[8] = 64;
	ip[9] = proto;
	memcpy(ip + 12, "\x0a\x00\x00\x01\x0a\x00\x00\x02", 8);
	if (l4 + 4 <= c->data + PKT_BUF) {
		put_be16(l4, 40000);
		put_be16(l4 + 2, dport);
	}
}

static struct pkt_ctx pkts[9];

static void build_pkts(void)
{
	/* pkts[0] is the timed one: UDP to VXLAN, every check taken. */
	build_pkt(&pkts[0], 0x0800, 0x45, 0, 17, 4789, PKT_LEN);
	build_pkt(&pkts[1], 0x0800, 0x45, 0x4000, 6, 443, PKT_LEN); /* TCP, DF set */
	build_pkt(&pkts[2], 0x0800, 0x46, 0, 17, 53, PKT_LEN);	    /* IP options */
	build_pkt(&pkts[3], 0x0800, 0x4f, 0, 6, 80, PKT_LEN);	    /* L4 past the end */
	build_pkt(&pkts[4], 0x0806, 0x45, 0, 17, 4789, PKT_LEN);    /* ARP */
	build_pkt(&pkts[5], 0x0800, 0x45, 0x2010, 17, 4789, PKT_LEN); /* later fragment */
	build_pkt(&pkts[6], 0x0800, 0x45, 0, 6, 443, 40);	    /* TCP header cut */
	build_pkt(&pkts[7], 0x86dd, 0x60, 0, 17, 4789, PKT_LEN);    /* IPv6 */
	build_pkt(&pkts[8], 0x0800, 0x45, 0, 17, 4789, 20);	    /* runt */
}

/* ---- (c) XDP_DROP ---- */

static const struct nsbpf_insn prog_drop[] = {
	MOV_K(R0, 1),
	EXIT(),
};

static uint64_t ref_drop(const void *ctx)
{
	(void)ctx;
	return 1;
}

/* ---- (d) bpf-to-bpf calls: main -> f1 -> f2 -> f3 -> f4, and the same inlined ---- */

/*
 * Each function keeps its argument in the callee-saved r6 across the next call and
 * combines it with the result, so the interpreter must really save and restore r6..r9.
 */
#define CALL_MUL 0x2545f491
static const struct nsbpf_insn prog_calls[] = {
	/* main */
	/*  0 */ LDX(EBPF_DW, R6, R1, offsetof(struct value_ctx, value)),
	/*  1 */ MOV_X(R1, R6),
	/*  2 */ CALL_LOCAL(TO(2, 5)),
	/*  3 */ ALU64_X(BPF_ADD, R0, R6),
	/*  4 */ EXIT(),
	/* f1 */
	/*  5 */ MOV_X(R6, R1),
	/*  6 */ ALU64_K(BPF_MUL, R1, 3),
	/*  7 */ CALL_LOCAL(TO(7, 10)),
	/*  8 */ ALU64_X(BPF_XOR, R0, R6),
	/*  9 */ EXIT(),
	/* f2 */
	/* 10 */ MOV_X(R6, R1),
	/* 11 */ ALU64_K(BPF_ADD, R1, 7),
	/* 12 */ CALL_LOCAL(TO(12, 15)),
	/* 13 */ ALU64_X(BPF_SUB, R0, R6),
	/* 14 */ EXIT(),
	/* f3 */
	/* 15 */ MOV_X(R6, R1),
	/* 16 */ ALU64_K(BPF_XOR, R1, 0x5a5a),
	/* 17 */ CALL_LOCAL(TO(17, 20)),
	/* 18 */ ALU64_X(BPF_ADD, R0, R6),
	/* 19 */ EXIT(),
	/* f4 */
	/* 20 */ MOV_X(R0, R1),
	/* 21 */ ALU64_K(BPF_MUL, R0, CALL_MUL),
	/* 22 */ EXIT(),
};

static const struct nsbpf_insn prog_inlined[] = {
	LDX(EBPF_DW, R6, R1, offsetof(struct value_ctx, value)), /* a: main, f1 */
	MOV_X(R7, R6),
	ALU64_K(BPF_MUL, R7, 3), /* b: f2 */
	MOV_X(R8, R7),
	ALU64_K(BPF_ADD, R8, 7), /* c: f3 */
	MOV_X(R0, R8),
	ALU64_K(BPF_XOR, R0, 0x5a5a), /* d: f4 */
	ALU64_K(BPF_MUL, R0, CALL_MUL),
	ALU64_X(BPF_ADD, R0, R8),
	ALU64_X(BPF_SUB, R0, R7),
	ALU64_X(BPF_XOR, R0, R6),
	ALU64_X(BPF_ADD, R0, R6),
	EXIT(),
};

static uint64_t ref_calls(const void *ctx)
{
	uint64_t a = ((const struct value_ctx *)ctx)->value, b = a * 3, c = b + 7;
	uint64_t d = c ^ 0x5a5a;

	return (((d * CALL_MUL + c) - b) ^ a) + a;
}

static struct value_ctx values[] = {
	{ 0x0123456789abcdefull }, /* the timed one */
	{ 0 },
	{ 1 },
	{ UINT64_MAX },
	{ 0x8000000000000000ull },
	{ 0xdeadbeefcafef00dull },
};

/* ---- the benchmark ---- */

struct bench_case {
	const char *name;
	const struct nsbpf_insn *insns;
	uint32_t nr_insns;
	void *inputs; /* nr_inputs contexts of ctx_size bytes; inputs[0] is timed */
	uint32_t nr_inputs;
	size_t ctx_size;
	uint64_t (*ref)(const void *ctx);
	bool rte_may_reject; /* a feature rte_bpf is known to lack */

	/* filled in as the run goes */
	struct nsbpf_vm_prog *prog;
	struct rte_bpf *rte;
	char rte_why[160];
	uint64_t r0;
	uint64_t insns_run;
	double ns_nsbpf, spread_nsbpf, ns_rte, spread_rte;
};

static struct bench_case cases[] = {
	{ .name = "hash (200 insns ALU64)", .insns = prog_hash, .nr_insns = ARRAY_SIZE(prog_hash),
	  .inputs = values, .nr_inputs = ARRAY_SIZE(values), .ctx_size = sizeof(values[0]),
	  .ref = ref_hash },
	{ .name = "parse eth/ipv4/udp", .insns = prog_parse, .nr_insns = ARRAY_SIZE(prog_parse),
	  .inputs = pkts, .nr_inputs = ARRAY_SIZE(pkts), .ctx_size = sizeof(pkts[0]),
	  .ref = ref_parse },
	{ .name = "xdp_drop (mov; exit)", .insns = prog_drop, .nr_insns = ARRAY_SIZE(prog_drop),
	  .inputs = pkts, .nr_inputs = 1, .ctx_size = sizeof(pkts[0]), .ref = ref_drop },
	{ .name = "calls (4 nested)", .insns = prog_calls, .nr_insns = ARRAY_SIZE(prog_calls),
	  .inputs = values, .nr_inputs = ARRAY_SIZE(values), .ctx_size = sizeof(values[0]),
	  .ref = ref_calls, .rte_may_reject = true },
	{ .name = "calls, inlined", .insns = prog_inlined, .nr_insns = ARRAY_SIZE(prog_inlined),
	  .inputs = values, .nr_inputs = ARRAY_SIZE(values), .ctx_size = sizeof(values[0]),
	  .ref = ref_calls },
};

static uint32_t nr_cases = ARRAY_SIZE(cases); /* after --only: cases[0..nr_cases) */
static struct nsbpf_vm_run *run;
static volatile uint64_t sink; /* keeps results alive */

static void *input(const struct bench_case *c, uint32_t i)
{
	return (uint8_t *)c->inputs + i * c->ctx_size;
}

static int nsbpf_on(const struct bench_case *c, void *ctx)
{
	/* Only the current context is reachable, as it would be for a real packet. */
	nsbpf_vm_run_clear_regions(run);
	return nsbpf_vm_run_add_region(run, ctx, c->ctx_size, NSBPF_VM_READ) ? -1 : 0;
}

/* Loads into both engines; rte_bpf's reason for refusing goes to c->rte_why. */
static int load(struct bench_case *c)
{
	struct rte_bpf_prm prm = {
		.nb_ins = c->nr_insns,
		.prog_arg = { .type = RTE_BPF_ARG_PTR, .size = c->ctx_size },
	};
	struct ebpf_insn *ins;
	char log[256], *msg = NULL;
	size_t msg_len = 0;
	FILE *f;
	int err;

	err = nsbpf_vm_load(c->insns, c->nr_insns, NULL, &c->prog, log, sizeof(log));
	if (err) {
		printf("FAIL %s: nsbpf_vm_load: %s: %s\n", c->name, strerror(-err), log);
		return -1;
	}

	ins = calloc(c->nr_insns, sizeof(*ins));
	if (!ins)
		return -1;
	for (uint32_t i = 0; i < c->nr_insns; i++) {
		ins[i].code = c->insns[i].code;
		ins[i].dst_reg = c->insns[i].dst_reg;
		ins[i].src_reg = c->insns[i].src_reg;
		ins[i].off = c->insns[i].off;
		ins[i].imm = c->insns[i].imm;
	}
	prm.ins = ins;
	/* The validator explains a refusal only in the log: catch it for the table. */
	f = open_memstream(&msg, &msg_len);
	if (f)
		rte_openlog_stream(f);
	c->rte = rte_bpf_load(&prm);
	err = rte_errno;
	if (f) {
		rte_openlog_stream(NULL);
		fclose(f);
	}
	/* rte_bpf keeps its own copy of the instructions */
	free(ins);
	if (!c->rte) {
		const char *line = msg && msg_len ? msg : "(nothing logged)\n";
		int more = -1; /* the validator goes on after the first error */

		for (const char *p = line; (p = strchr(p, '\n')); p++)
			more++;
		snprintf(c->rte_why, sizeof(c->rte_why), "rte_bpf_load: %s: %.*s", strerror(err),
			 (int)strcspn(line, ";\n"), line);
		if (more > 0)
			snprintf(c->rte_why + strlen(c->rte_why),
				 sizeof(c->rte_why) - strlen(c->rte_why), " (and %d more)", more);
	}
	free(msg);
	if (!c->rte && !c->rte_may_reject) {
		printf("FAIL %s: %s\n", c->name, c->rte_why);
		return -1;
	}
	return 0;
}

/* Every input through both engines and the C model; the agreement CTest relies on. */
static int check(struct bench_case *c)
{
	int bad = 0;

	for (uint32_t i = 0; i < c->nr_inputs; i++) {
		void *ctx = input(c, i);
		uint64_t want = c->ref(ctx), got = 0, rte = 0;
		int err;

		if (nsbpf_on(c, ctx))
			return -1;
		err = nsbpf_vm_exec(c->prog, run, (uintptr_t)ctx, 0, &got);
		if (err) {
			printf("FAIL %s input %u: nsbpf_vm_exec: %s\n", c->name, i, run->err_msg);
			bad = 1;
			continue;
		}
		if (i == 0) {
			c->r0 = got;
			c->insns_run = run->insn_count;
		}
		if (c->rte)
			rte = rte_bpf_exec(c->rte, ctx);
		if (got != want || (c->rte && rte != want)) {
			printf("FAIL %s input %u: nsbpf r0=%#llx rte_bpf r0=%#llx model=%#llx\n",
			       c->name, i, (unsigned long long)got,
			       c->rte ? (unsigned long long)rte : 0ull, (unsigned long long)want);
			bad = 1;
		}
	}
	return bad ? -1 : 0;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ns per run over n runs; the loops do nothing but call the engine and keep r0. */
static double time_nsbpf(const struct bench_case *c, void *ctx, uint64_t n)
{
	uint64_t t0, t1, acc = 0, r0 = 0;
	int err = 0;

	t0 = now_ns();
	for (uint64_t i = 0; i < n; i++) {
		err |= nsbpf_vm_exec(c->prog, run, (uintptr_t)ctx, 0, &r0);
		acc += r0;
	}
	t1 = now_ns();
	if (err) {
		printf("FAIL %s: nsbpf_vm_exec failed while timed: %s\n", c->name, run->err_msg);
		exit(1);
	}
	sink += acc;
	return (double)(t1 - t0) / (double)n;
}

static double time_rte(const struct bench_case *c, void *ctx, uint64_t n)
{
	uint64_t t0, t1, acc = 0;

	t0 = now_ns();
	for (uint64_t i = 0; i < n; i++)
		acc += rte_bpf_exec(c->rte, ctx);
	t1 = now_ns();
	sink += acc;
	return (double)(t1 - t0) / (double)n;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Median of v[0..n) (sorted in place); *spread gets the interquartile range over it. */
static double median(double *v, uint32_t n, double *spread)
{
	double m;

	qsort(v, n, sizeof(*v), cmp_double);
	m = n & 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
	*spread = m > 0 ? (v[(3 * n) / 4] - v[n / 4]) / m : 0;
	return m;
}

#define MAX_BATCHES 64

struct timing {
	uint32_t batches;
	uint64_t batch_ns; /* aimed-for length of one batch */
	uint64_t min_runs, warmup_runs;
};

static void measure(struct bench_case *c, const struct timing *t)
{
	double nsb[MAX_BATCHES], rte[MAX_BATCHES], slowest;
	void *ctx = input(c, 0);
	uint64_t runs;

	nsbpf_on(c, ctx);
	/* Warm caches and branch predictors, and size the batches from what it took. */
	slowest = time_nsbpf(c, ctx, t->warmup_runs);
	if (c->rte) {
		double r = time_rte(c, ctx, t->warmup_runs);

		slowest = r > slowest ? r : slowest;
	}
	runs = (uint64_t)((double)t->batch_ns / (slowest > 0.1 ? slowest : 0.1));
	if (runs < t->min_runs)
		runs = t->min_runs;

	for (uint32_t b = 0; b < t->batches; b++) {
		nsb[b] = time_nsbpf(c, ctx, runs);
		if (c->rte)
			rte[b] = time_rte(c, ctx, runs);
	}
	c->ns_nsbpf = median(nsb, t->batches, &c->spread_nsbpf);
	if (c->rte)
		c->ns_rte = median(rte, t->batches, &c->spread_rte);
}

static void print_table(bool quick, const struct timing *t)
{
	printf("\n%s: median of %u batches; ns/insn = ns per run / instructions executed\n",
	       quick ? "--quick (too short to mean anything)" : "ns per run", t->batches);
	printf("%-24s %5s %5s | %9s %5s %7s | %9s %5s %7s | %9s | %s\n", "program", "insns",
	       "exec", "nsbpf ns", "+-%", "ns/insn", "rte ns", "+-%", "ns/insn", "rte/nsbpf",
	       "r0");
	for (uint32_t i = 0; i < nr_cases; i++) {
		const struct bench_case *c = &cases[i];
		double per = (double)c->insns_run;

		printf("%-24s %5u %5llu | %9.1f %5.1f %7.2f | ", c->name, c->nr_insns,
		       (unsigned long long)c->insns_run, c->ns_nsbpf, 50 * c->spread_nsbpf,
		       c->ns_nsbpf / per);
		if (c->rte)
			printf("%9.1f %5.1f %7.2f | %9.2f | ", c->ns_rte, 50 * c->spread_rte,
			       c->ns_rte / per, c->ns_rte / c->ns_nsbpf);
		else
			printf("%9s %5s %7s | %9s | ", "n/a", "", "n/a", "n/a");
		printf("%#llx\n", (unsigned long long)c->r0);
	}
	printf("+-%% is half the interquartile range of the batches, in %% of the median.\n");
	for (uint32_t i = 0; i < nr_cases; i++)
		if (!cases[i].rte)
			printf("n/a for rte_bpf on \"%s\": %s\n", cases[i].name, cases[i].rte_why);
}

/* Keeps the scheduler from moving the timed loop between cores mid-batch. */
static void pin_to_this_cpu(void)
{
	int cpu = sched_getcpu();
	cpu_set_t set;

	if (cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (!sched_setaffinity(0, sizeof(set), &set))
		printf("pinned to cpu %d\n", cpu);
}

static void usage(const char *argv0)
{
	fprintf(stderr,
		"usage: %s [--quick] [--only WORD]\n"
		"  nsbpf's interpreter against DPDK rte_bpf's on the same programs.\n"
		"  --quick      a few runs only: checks that both engines agree\n"
		"  --only WORD  only the programs whose name contains WORD (for perf)\n",
		argv0);
}

int main(int argc, char **argv)
{
	struct timing t = {
		.batches = 25, .batch_ns = 4000000, .min_runs = 1000, .warmup_runs = 200000,
	};
	const char *only = NULL;
	bool quick = false;
	int fail = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--quick")) {
			quick = true;
		} else if (!strcmp(argv[i], "--only") && i + 1 < argc) {
			only = argv[++i];
		} else {
			usage(argv[0]);
			return 2;
		}
	}
	if (quick)
		t = (struct timing){ .batches = 3, .batch_ns = 0, .min_runs = 200,
				     .warmup_runs = 200 };

	for (uint32_t i = 0, n = nr_cases; i < n; i++)
		if (only && !strstr(cases[i].name, only))
			nr_cases--;
		else
			cases[i - (n - nr_cases)] = cases[i];
	if (!nr_cases) {
		fprintf(stderr, "no program's name contains \"%s\"\n", only);
		return 2;
	}

	printf("nsbpf-bench-vm: nsbpf_vm_exec() against %s rte_bpf_exec(), both interpreters\n",
	       rte_version());
	if (!quick)
		pin_to_this_cpu();

	/* One run context for all: it is large (every frame's stack) and reused. */
	run = malloc(sizeof(*run));
	if (!run)
		return 1;
	nsbpf_vm_run_init(run);
	build_hash();
	build_pkts();

	for (uint32_t i = 0; i < nr_cases; i++) {
		if (load(&cases[i]) || check(&cases[i])) {
			fail = 1;
			continue;
		}
	}
	if (fail) {
		printf("FAIL: the engines disagree or could not load a program\n");
		return 1;
	}
	printf("results agree: every input of every program gives the same r0 in nsbpf, "
	       "rte_bpf and a C model\n");

	for (uint32_t i = 0; i < nr_cases; i++)
		measure(&cases[i], &t);
	print_table(quick, &t);

	for (uint32_t i = 0; i < nr_cases; i++) {
		nsbpf_vm_prog_free(cases[i].prog);
		rte_bpf_destroy(cases[i].rte);
	}
	free(run);
	return 0;
}
