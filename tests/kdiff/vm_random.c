// SPDX-License-Identifier: MIT
/*
 * vm_random.c - differential test of the VM against the running kernel.
 *
 * A seeded generator builds random loop-free programs that the kernel's verifier accepts:
 * every ALU and ALU64 operation, forward conditional and unconditional jumps, stack loads,
 * stores and atomics, packet loads and stores, and lddw constants. Each one runs as an XDP
 * program through BPF_PROG_TEST_RUN and on the VM, and both must agree to the bit. The
 * test_run return value has only 32 bits, so the program's epilogue writes r0..r9 and its
 * stack slots into the packet, and the whole output packet is compared along with the
 * return value. Program i of seed s depends on nothing else, so `--repro s i` rebuilds it
 * alone, shows both runs and, if they differ, shrinks it to what the difference needs.
 *
 * Exit status: 0 all agree, 1 a mismatch (or too many programs the verifier refused, which
 * means the generator is wrong), 2 usage, 77 the kernel cannot run BPF programs here.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <linux/bpf.h>

#include "nsbpf/vm.h"

_Static_assert(sizeof(struct nsbpf_insn) == sizeof(struct bpf_insn),
	       "nsbpf_insn must keep the kernel's layout");

/*
 * The disassembler may not be in the library yet. A weak reference lets this test link
 * either way (CMake links the whole library so the reference finds it) and print raw hex
 * when it is missing.
 */
#pragma weak nsbpf_vm_disasm_insn

/* Opcode fields; spelled out here because the uapi headers installed may predate ISA v4. */
enum {
	CLS_LD = 0x00,
	CLS_LDX = 0x01,
	CLS_ST = 0x02,
	CLS_STX = 0x03,
	CLS_ALU = 0x04,
	CLS_JMP = 0x05,
	CLS_JMP32 = 0x06,
	CLS_ALU64 = 0x07,

	SRC_K = 0x00,
	SRC_X = 0x08,

	OP_ADD = 0x00,
	OP_SUB = 0x10,
	OP_MUL = 0x20,
	OP_DIV = 0x30,
	OP_OR = 0x40,
	OP_AND = 0x50,
	OP_LSH = 0x60,
	OP_RSH = 0x70,
	OP_NEG = 0x80,
	OP_MOD = 0x90,
	OP_XOR = 0xa0,
	OP_MOV = 0xb0,
	OP_ARSH = 0xc0,
	OP_END = 0xd0,

	J_JA = 0x00,
	J_JEQ = 0x10,
	J_JGT = 0x20,
	J_JGE = 0x30,
	J_JSET = 0x40,
	J_JNE = 0x50,
	J_JSGT = 0x60,
	J_JSGE = 0x70,
	J_EXIT = 0x90,
	J_JLT = 0xa0,
	J_JLE = 0xb0,
	J_JSLT = 0xc0,
	J_JSLE = 0xd0,

	SZ_W = 0x00,
	SZ_H = 0x08,
	SZ_B = 0x10,
	SZ_DW = 0x18,

	MODE_IMM = 0x00,
	MODE_MEM = 0x60,
	MODE_MEMSX = 0x80,
	MODE_ATOMIC = 0xc0,

	AT_FETCH = 0x01,
	AT_XCHG = 0xe0 | AT_FETCH,
	AT_CMPXCHG = 0xf0 | AT_FETCH,
};

/*
 * Packet layout, filled by the epilogue: r0..r9, then the body's stack slots, then a
 * scratch area the body reads and writes directly.
 */
#define NR_SLOTS    16
#define PKT_REGS    0
#define PKT_SLOTS   80
#define PKT_SCRATCH (PKT_SLOTS + 8 * NR_SLOTS)
#define SCRATCH_LEN 64
#define PKT_LEN	    (PKT_SCRATCH + SCRATCH_LEN)

/*
 * Stack layout (offsets from r10). The body never touches the first three areas: fp-8
 * keeps the packet pointer for the epilogue and the packet-access blocks, fp-16 is where
 * those blocks park the register they borrow, and the epilogue parks r0..r9 below that
 * while it copies them out through one register.
 */
#define STK_PKT	    (-8)
#define STK_BORROW  (-16)
#define STK_REGSAVE (-96)
#define STK_BODY    (STK_REGSAVE - 8 * NR_SLOTS)

#define MAX_INSNS  1024
#define MAX_BODY   160
#define MAX_LABELS 256
#define MAX_DEPTH  3

struct prog {
	struct nsbpf_insn insns[MAX_INSNS];
	uint32_t len;
	uint32_t body_start, epilogue_start;
	/*
	 * For each body instruction that starts a block, the block's length; 0 inside one.
	 * The minimizer takes blocks out whole: half a packet access would leave a pointer
	 * where the body expects a number, and half of a kernel-bug workaround (see
	 * gen_atomic) would bring the kernel bug back.
	 */
	uint8_t block_len[MAX_INSNS];
	uint8_t pkt_in[PKT_LEN];
};

/* The outcome of one run, the kernel's or the VM's. */
struct outcome {
	int err; /* 0, or the negative errno of test_run / the VM */
	uint32_t retval;
	uint32_t pkt_len;
	uint8_t pkt[PKT_LEN + 64];
	char msg[192];
};

/* splitmix64: tiny, good enough, and the same on every host. */
static uint64_t rnd(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint32_t below(uint64_t *s, uint32_t n)
{
	return (uint32_t)(rnd(s) % n);
}

static bool chance(uint64_t *s, uint32_t percent)
{
	return below(s, 100) < percent;
}

/*
 * Immediates and constants lean towards the values where implementations go wrong:
 * zero, all ones, the signed extremes, powers of two, values around 2^31 and 2^32.
 */
static int32_t rnd_imm(uint64_t *s)
{
	static const int32_t special[] = {
	    0,	  1,	  -1,	  2,	  INT32_MIN, INT32_MAX, INT32_MIN + 1, 0x80,	   0xff,
	    0x7f, 0x7fff, 0x8000, 0xffff, 0x10000,   -0x80,	-0x8000,       0x7f000000, -2,
	};

	switch (below(s, 4)) {
	case 0:
		return (int32_t)below(s, 33) - 16;
	case 1:
		return special[below(s, sizeof(special) / sizeof(special[0]))];
	case 2: {
		uint32_t v = 1u << below(s, 32);

		return (int32_t)(chance(s, 50) ? v : 0 - v);
	}
	default:
		return (int32_t)rnd(s);
	}
}

static uint64_t rnd_imm64(uint64_t *s)
{
	static const uint64_t special[] = {
	    0,
	    UINT64_MAX,
	    0x8000000000000000ull,
	    0x7fffffffffffffffull,
	    0x8000000000000001ull,
	    0xffffffffull,
	    0x100000000ull,
	    0x80000000ull,
	    0x7fffffffull,
	    0xffffffff80000000ull,
	    0xffffffff7fffffffull,
	    0x00000000ffff8000ull,
	    0x0000000100000001ull,
	};

	switch (below(s, 4)) {
	case 0:
		return special[below(s, sizeof(special) / sizeof(special[0]))];
	case 1:
		return (uint64_t)(int64_t)rnd_imm(s);
	case 2:
		return (uint64_t)rnd_imm(s) << 32 | (uint32_t)rnd_imm(s);
	default:
		return rnd(s);
	}
}

struct gen {
	uint64_t rng;
	struct prog *p;
	uint32_t body_limit;
	int32_t label_at[MAX_LABELS]; /* instruction index, -1 while not placed */
	uint32_t nr_labels;
	uint32_t pending[MAX_LABELS]; /* labels of forward jumps not placed yet */
	uint32_t nr_pending;
	struct {
		uint32_t insn, label;
	} fixups[MAX_LABELS];
	uint32_t nr_fixups;
};

static void emit(struct gen *g, uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm)
{
	struct nsbpf_insn *insn = &g->p->insns[g->p->len++];

	insn->code = code;
	insn->dst_reg = dst;
	insn->src_reg = src;
	insn->off = off;
	insn->imm = imm;
}

static void emit_lddw(struct gen *g, uint8_t dst, uint64_t v)
{
	emit(g, CLS_LD | MODE_IMM | SZ_DW, dst, 0, 0, (int32_t)(uint32_t)v);
	emit(g, 0, 0, 0, 0, (int32_t)(uint32_t)(v >> 32));
}

static uint32_t new_label(struct gen *g)
{
	g->label_at[g->nr_labels] = -1;
	return g->nr_labels++;
}

static void place(struct gen *g, uint32_t label)
{
	g->label_at[label] = (int32_t)g->p->len;
}

/* A jump instruction whose offset is filled in once `label` is placed. */
static void emit_jump(struct gen *g, uint8_t code, uint8_t dst, uint8_t src, int32_t imm,
		      uint32_t label)
{
	g->fixups[g->nr_fixups].insn = g->p->len;
	g->fixups[g->nr_fixups].label = label;
	g->nr_fixups++;
	g->p->block_len[g->p->len] = 1;
	emit(g, code, dst, src, 0, imm);
}

static uint8_t rnd_reg(struct gen *g)
{
	return (uint8_t)below(&g->rng, 10);
}

static void gen_alu(struct gen *g)
{
	static const uint8_t binops[] = {OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_OR,	 OP_AND,
					 OP_LSH, OP_RSH, OP_MOD, OP_XOR, OP_MOV, OP_ARSH};
	uint64_t *s = &g->rng;
	bool is64 = chance(s, 50);
	uint8_t cls = is64 ? CLS_ALU64 : CLS_ALU, dst = rnd_reg(g), src = rnd_reg(g);
	uint32_t width = is64 ? 64 : 32;

	switch (below(s, 16)) {
	case 0:
		emit(g, cls | OP_NEG, dst, 0, 0, 0);
		return;
	case 1: {
		/* movsx: 8/16/32 into 64 bits, 8/16 into 32 bits. */
		static const int16_t from[] = {8, 16, 32};

		emit(g, cls | OP_MOV | SRC_X, dst, src, from[below(s, is64 ? 3 : 2)], 0);
		return;
	}
	case 2: {
		/* le/be are ALU-class; bswap is their ALU64-class form (le only). */
		static const int32_t widths[] = {16, 32, 64};
		static const uint8_t codes[] = {CLS_ALU | OP_END | SRC_K, CLS_ALU | OP_END | SRC_X,
						CLS_ALU64 | OP_END | SRC_K};

		emit(g, codes[below(s, 3)], dst, 0, 0, widths[below(s, 3)]);
		return;
	}
	default:
		break;
	}

	uint8_t op = binops[below(s, sizeof(binops))];
	int16_t off = 0;

	/* sdiv/smod share the div/mod opcodes with off = 1. */
	if ((op == OP_DIV || op == OP_MOD) && chance(s, 50))
		off = 1;
	if (chance(s, 50)) {
		emit(g, cls | op | SRC_X, dst, src, off, 0);
		return;
	}
	int32_t imm = rnd_imm(s);

	/* The verifier refuses a constant divisor of zero and constant shifts >= the width. */
	if ((op == OP_DIV || op == OP_MOD) && imm == 0)
		imm = chance(s, 50) ? 1 : -1;
	if (op == OP_LSH || op == OP_RSH || op == OP_ARSH)
		imm = (int32_t)below(s, width);
	emit(g, cls | op | SRC_K, dst, 0, off, imm);
}

static const uint8_t mem_sizes[] = {SZ_B, SZ_H, SZ_W, SZ_DW};

static uint32_t size_bytes(uint8_t sz)
{
	switch (sz) {
	case SZ_B:
		return 1;
	case SZ_H:
		return 2;
	case SZ_W:
		return 4;
	default:
		return 8;
	}
}

/* A naturally aligned offset from r10 into the body's slots (the kernel insists). */
static int16_t rnd_stack_off(struct gen *g, uint32_t bytes)
{
	return (int16_t)(STK_BODY + (int32_t)(below(&g->rng, 8 * NR_SLOTS / bytes) * bytes));
}

static void gen_stack(struct gen *g)
{
	uint64_t *s = &g->rng;
	uint8_t sz = mem_sizes[below(s, 4)];
	int16_t off = rnd_stack_off(g, size_bytes(sz));

	switch (below(s, 4)) {
	case 0:
		emit(g, CLS_ST | MODE_MEM | sz, 10, 0, off, rnd_imm(s));
		break;
	case 1:
		emit(g, CLS_STX | MODE_MEM | sz, 10, rnd_reg(g), off, 0);
		break;
	default:
		/* Sign-extending loads exist for 1, 2 and 4 bytes. */
		if (sz != SZ_DW && chance(s, 40))
			emit(g, CLS_LDX | MODE_MEMSX | sz, rnd_reg(g), 10, off, 0);
		else
			emit(g, CLS_LDX | MODE_MEM | sz, rnd_reg(g), 10, off, 0);
		break;
	}
}

/*
 * x86's cmpxchg leaves the upper half of rax alone when the comparison succeeds, so the
 * kernel's verifier patches a zero-extension of r0 after every 32-bit cmpxchg whose r0 is
 * later read as 64 bits. It misses that read when it reaches it only on a path it prunes
 * (seen on Linux 6.18.44), and r0 then keeps its old upper half: a kernel bug, the VM is
 * right. A 64-bit read of r0 right after the cmpxchg, on every path, keeps this test on the
 * VM's bugs: `mov r0, r0` changes nothing and shows the VM's r0 as it was.
 */
static void emit_cmpxchg32_zext(struct gen *g)
{
	emit(g, CLS_ALU64 | OP_MOV | SRC_X, 0, 0, 0, 0);
}

/*
 * A fetching atomic on the stack gives its register what the verifier knows of the slot (a
 * spilled register's bounds), but the kernel's precision backtracking does not follow that
 * load back to the slot; it marks the atomic's old register operand precise instead (seen
 * on Linux 6.18.44). A later branch on the fetched value can then let the verifier prune a
 * path on which the slot held something else, and remove a branch it wrongly thinks dead: a
 * kernel bug, the VM is right. A non-fetching atomic on the same bytes just before leaves
 * the verifier knowing nothing of them (STACK_MISC), so it has nothing to be wrong about;
 * both sides still compute the same thing.
 */
static void gen_atomic(struct gen *g)
{
	static const int32_t ops[] = {OP_ADD, OP_OR, OP_AND, OP_XOR};
	uint64_t *s = &g->rng;
	bool is64 = chance(s, 50);
	uint8_t sz = is64 ? SZ_DW : SZ_W;
	int16_t off = rnd_stack_off(g, is64 ? 8 : 4);
	int32_t imm;

	switch (below(s, 5)) {
	case 0:
		imm = AT_XCHG;
		break;
	case 1:
		imm = AT_CMPXCHG;
		break;
	default:
		imm = ops[below(s, 4)] | (chance(s, 50) ? AT_FETCH : 0);
		break;
	}
	if (imm & AT_FETCH)
		emit(g, CLS_STX | MODE_ATOMIC | sz, 10, rnd_reg(g), off, ops[below(s, 4)]);
	emit(g, CLS_STX | MODE_ATOMIC | sz, 10, rnd_reg(g), off, imm);
	if (!is64 && imm == AT_CMPXCHG)
		emit_cmpxchg32_zext(g);
}

/*
 * Direct packet access: borrow a register, load the packet pointer saved at fp-8 into it,
 * access the scratch area at any (also unaligned) offset, and give the register its value
 * back. A pointer never survives the block, so the rest of the body deals in scalars only
 * and the verifier has nothing to object to.
 */
static void gen_packet(struct gen *g)
{
	uint64_t *s = &g->rng;
	uint8_t sz = mem_sizes[below(s, 4)], ptr = rnd_reg(g), other = rnd_reg(g);
	int16_t off = (int16_t)(PKT_SCRATCH + below(s, SCRATCH_LEN - size_bytes(sz) + 1));
	bool restore = true;

	emit(g, CLS_STX | MODE_MEM | SZ_DW, 10, ptr, STK_BORROW, 0);
	emit(g, CLS_LDX | MODE_MEM | SZ_DW, ptr, 10, STK_PKT, 0);
	switch (below(s, 3)) {
	case 0:
		emit(g, CLS_ST | MODE_MEM | sz, ptr, 0, off, rnd_imm(s));
		break;
	case 1:
		/* The stored register must not be the pointer: that would leak it. */
		if (other == ptr)
			other = (uint8_t)((other + 1) % 10);
		emit(g, CLS_STX | MODE_MEM | sz, ptr, other, off, 0);
		break;
	default:
		if (sz != SZ_DW && chance(s, 40))
			emit(g, CLS_LDX | MODE_MEMSX | sz, other, ptr, off, 0);
		else
			emit(g, CLS_LDX | MODE_MEM | sz, other, ptr, off, 0);
		/* Loading into the borrowed register itself already replaced the pointer. */
		restore = other != ptr;
		break;
	}
	if (restore)
		emit(g, CLS_LDX | MODE_MEM | SZ_DW, ptr, 10, STK_BORROW, 0);
}

static void gen_simple(struct gen *g)
{
	uint32_t r = below(&g->rng, 100), start = g->p->len;

	if (r < 55)
		gen_alu(g);
	else if (r < 61)
		emit_lddw(g, rnd_reg(g), rnd_imm64(&g->rng));
	else if (r < 81)
		gen_stack(g);
	else if (r < 90)
		gen_atomic(g);
	else
		gen_packet(g);
	g->p->block_len[start] = (uint8_t)(g->p->len - start);
}

static void emit_cond_jump(struct gen *g, uint32_t label)
{
	static const uint8_t ops[] = {J_JEQ,  J_JGT, J_JGE, J_JSET, J_JNE, J_JSGT,
				      J_JSGE, J_JLT, J_JLE, J_JSLT, J_JSLE};
	uint64_t *s = &g->rng;
	uint8_t code = (chance(s, 50) ? CLS_JMP : CLS_JMP32) | ops[below(s, sizeof(ops))];

	if (chance(s, 50))
		emit_jump(g, code | SRC_X, rnd_reg(g), rnd_reg(g), 0, label);
	else
		emit_jump(g, code | SRC_K, rnd_reg(g), 0, rnd_imm(s), label);
}

/* Room left for the largest block (a packet access or an if/else's jumps) plus slack. */
static bool body_full(const struct gen *g)
{
	return g->p->len + 8 > g->body_limit || g->nr_labels + 4 > MAX_LABELS ||
	       g->nr_fixups + 4 > MAX_LABELS;
}

/*
 * Blocks, if/then/else diamonds, and jumps forward to a label placed at some later block
 * boundary (or at the epilogue). Labels only ever sit between blocks, so no jump lands in
 * the middle of a packet access or an lddw. An unconditional jump appears only at the end
 * of a then-branch, so the code after it (the else-branch) is always the target of the
 * diamond's conditional jump: the verifier rejects unreachable instructions.
 */
static void gen_seq(struct gen *g, uint32_t depth, uint32_t nr_blocks)
{
	uint64_t *s = &g->rng;

	for (uint32_t k = 0; k < nr_blocks && !body_full(g); k++) {
		uint32_t r = below(s, 100);

		if (g->nr_pending && chance(s, 25)) {
			uint32_t i = below(s, g->nr_pending);

			place(g, g->pending[i]);
			g->pending[i] = g->pending[--g->nr_pending];
		}
		if (r < 10 && depth < MAX_DEPTH) {
			uint32_t l_else = new_label(g), l_end = new_label(g);

			emit_cond_jump(g, l_else);
			gen_seq(g, depth + 1, below(s, 6));
			if (chance(s, 60)) {
				if (chance(s, 50))
					emit_jump(g, CLS_JMP | J_JA, 0, 0, 0, l_end);
				else
					emit_jump(g, CLS_JMP32 | J_JA, 0, 0, 0, l_end);
				place(g, l_else);
				gen_seq(g, depth + 1, below(s, 6));
				place(g, l_end);
			} else {
				place(g, l_else);
			}
		} else if (r < 16) {
			uint32_t l = new_label(g);

			emit_cond_jump(g, l);
			g->pending[g->nr_pending++] = l;
		} else {
			gen_simple(g);
		}
	}
}

/*
 * Builds program `index` of `seed`. Layout:
 *
 *   prologue  r2 = ctx->data, r3 = ctx->data_end, bounds check, save r2 at fp-8,
 *             fill every body stack slot, give r0..r9 random constants
 *   body      random, no loops
 *   epilogue  park r0..r9 on the stack, copy them and the body's slots into the packet,
 *             return r0
 *   bad       return 0 (the bounds check failed; never happens with our packet)
 */
static void generate(uint64_t seed, uint64_t index, struct prog *p)
{
	struct gen g = {.p = p};
	uint32_t l_bad;

	g.rng = seed * 0x2545f4914f6cdd1dull ^ (index + 1) * 0x9e3779b97f4a7c15ull;
	rnd(&g.rng);
	memset(p, 0, sizeof(*p));
	for (uint32_t i = 0; i < PKT_LEN; i++)
		p->pkt_in[i] = (uint8_t)rnd(&g.rng);
	l_bad = new_label(&g);

	emit(&g, CLS_LDX | MODE_MEM | SZ_W, 2, 1, 0, 0); /* r2 = ctx->data */
	emit(&g, CLS_LDX | MODE_MEM | SZ_W, 3, 1, 4, 0); /* r3 = ctx->data_end */
	/* if (data + PKT_LEN > data_end) goto bad: every packet access after this is in bounds */
	emit(&g, CLS_ALU64 | OP_MOV | SRC_X, 4, 2, 0, 0);
	emit(&g, CLS_ALU64 | OP_ADD | SRC_K, 4, 0, 0, PKT_LEN);
	emit_jump(&g, CLS_JMP | J_JGT | SRC_X, 4, 3, 0, l_bad);
	emit(&g, CLS_STX | MODE_MEM | SZ_DW, 10, 2, STK_PKT, 0);
	for (int32_t off = STK_BODY; off < STK_REGSAVE; off += 8) {
		if (chance(&g.rng, 50)) {
			emit(&g, CLS_ST | MODE_MEM | SZ_DW, 10, 0, (int16_t)off, rnd_imm(&g.rng));
		} else {
			emit_lddw(&g, 2, rnd_imm64(&g.rng));
			emit(&g, CLS_STX | MODE_MEM | SZ_DW, 10, 2, (int16_t)off, 0);
		}
	}
	for (uint8_t r = 0; r < 10; r++) {
		switch (below(&g.rng, 3)) {
		case 0:
			emit_lddw(&g, r, rnd_imm64(&g.rng));
			break;
		case 1:
			emit(&g, CLS_ALU64 | OP_MOV | SRC_K, r, 0, 0, rnd_imm(&g.rng));
			break;
		default:
			emit(&g, CLS_ALU | OP_MOV | SRC_K, r, 0, 0, rnd_imm(&g.rng));
			break;
		}
	}

	p->body_start = p->len;
	g.body_limit = p->len + 8 + below(&g.rng, MAX_BODY - 8);
	while (!body_full(&g))
		gen_seq(&g, 0, 1 + below(&g.rng, 16));
	for (uint32_t i = 0; i < g.nr_pending; i++)
		place(&g, g.pending[i]);

	p->epilogue_start = p->len;
	for (uint8_t r = 0; r < 10; r++)
		emit(&g, CLS_STX | MODE_MEM | SZ_DW, 10, r, (int16_t)(STK_REGSAVE + 8 * r), 0);
	emit(&g, CLS_LDX | MODE_MEM | SZ_DW, 1, 10, STK_PKT, 0);
	for (uint8_t r = 0; r < 10; r++) {
		emit(&g, CLS_LDX | MODE_MEM | SZ_DW, 2, 10, (int16_t)(STK_REGSAVE + 8 * r), 0);
		emit(&g, CLS_STX | MODE_MEM | SZ_DW, 1, 2, (int16_t)(PKT_REGS + 8 * r), 0);
	}
	for (int32_t i = 0; i < NR_SLOTS; i++) {
		emit(&g, CLS_LDX | MODE_MEM | SZ_DW, 2, 10, (int16_t)(STK_BODY + 8 * i), 0);
		emit(&g, CLS_STX | MODE_MEM | SZ_DW, 1, 2, (int16_t)(PKT_SLOTS + 8 * i), 0);
	}
	emit(&g, CLS_JMP | J_EXIT, 0, 0, 0, 0); /* r0 is still the body's */
	place(&g, l_bad);
	emit(&g, CLS_ALU64 | OP_MOV | SRC_K, 0, 0, 0, 0);
	emit(&g, CLS_JMP | J_EXIT, 0, 0, 0, 0);

	for (uint32_t i = 0; i < g.nr_fixups; i++) {
		struct nsbpf_insn *insn = &p->insns[g.fixups[i].insn];
		int32_t delta = g.label_at[g.fixups[i].label] - (int32_t)g.fixups[i].insn - 1;

		if (insn->code == (CLS_JMP32 | J_JA))
			insn->imm = delta;
		else
			insn->off = (int16_t)delta;
	}
}

/* ---- the kernel side ---- */

static char verifier_log[1 << 22];

/*
 * Loads `insns` as an XDP program. Returns the fd, or a negative errno. With log_level 0, `log`
 * (if not NULL) receives the verifier's complaint only on failure (libbpf then retries with
 * logging); with 2 it receives every step of the verifier.
 */
static int kernel_load(const struct nsbpf_insn *insns, uint32_t len, char *log, size_t log_size,
		       uint32_t log_level)
{
	LIBBPF_OPTS(bpf_prog_load_opts, opts, .log_buf = log,
		    .log_size = log ? (uint32_t)log_size : 0, .log_level = log_level);
	int fd;

	if (log)
		log[0] = '\0';
	fd = bpf_prog_load(BPF_PROG_TYPE_XDP, "kdiff", "Dual MIT/GPL",
			   (const struct bpf_insn *)insns, len, &opts);
	return fd < 0 ? -errno : fd;
}

static int kernel_run(int fd, const struct prog *p, struct outcome *out)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = p->pkt_in, .data_size_in = PKT_LEN,
		    .data_out = out->pkt, .data_size_out = sizeof(out->pkt), .repeat = 1);

	memset(out, 0, sizeof(*out));
	if (bpf_prog_test_run_opts(fd, &opts)) {
		out->err = -errno;
		snprintf(out->msg, sizeof(out->msg), "BPF_PROG_TEST_RUN: %s", strerror(errno));
		return out->err;
	}
	out->retval = opts.retval;
	out->pkt_len = opts.data_size_out;
	return 0;
}

/* ---- the VM side ---- */

/*
 * The context the VM sees in place of struct xdp_md. The kernel's verifier rewrites the
 * program's 32-bit loads of xdp_md->data and ->data_end into 64-bit loads of the pointers
 * in its struct xdp_buff (convert_ctx_access, xdp_convert_ctx_access() for XDP). The VM
 * knows no program types, so the test does that rewrite itself: a context of two pointers,
 * and the two prologue loads turned into ldxdw at offsets 0 and 8.
 */
struct vm_ctx {
	uint64_t data;
	uint64_t data_end;
};

static void vm_convert_ctx(struct nsbpf_insn *insns)
{
	/* Prologue instructions 0 and 1: ldxw r2, [r1+0] and ldxw r3, [r1+4]. */
	insns[0].code = CLS_LDX | MODE_MEM | SZ_DW;
	insns[0].off = offsetof(struct vm_ctx, data);
	insns[1].code = CLS_LDX | MODE_MEM | SZ_DW;
	insns[1].off = offsetof(struct vm_ctx, data_end);
}

static struct nsbpf_insn vm_insns[MAX_INSNS];
static struct nsbpf_vm_run vm_run_ctx;

static int vm_run(const struct prog *p, struct outcome *out)
{
	struct nsbpf_vm_env env = {.sz = sizeof(env)};
	struct nsbpf_vm_prog *prog;
	struct vm_ctx ctx;
	uint64_t r0 = 0;
	int err;

	memset(out, 0, sizeof(*out));
	memcpy(vm_insns, p->insns, p->len * sizeof(vm_insns[0]));
	vm_convert_ctx(vm_insns);
	err = nsbpf_vm_load(vm_insns, p->len, &env, &prog, out->msg, sizeof(out->msg));
	if (err) {
		out->err = err;
		return err;
	}
	memcpy(out->pkt, p->pkt_in, PKT_LEN);
	out->pkt_len = PKT_LEN;
	ctx.data = (uintptr_t)out->pkt;
	ctx.data_end = (uintptr_t)out->pkt + PKT_LEN;
	nsbpf_vm_run_init(&vm_run_ctx);
	if (nsbpf_vm_run_add_region(&vm_run_ctx, &ctx, sizeof(ctx), NSBPF_VM_READ) ||
	    nsbpf_vm_run_add_region(&vm_run_ctx, out->pkt, PKT_LEN, NSBPF_VM_RW)) {
		nsbpf_vm_prog_free(prog);
		snprintf(out->msg, sizeof(out->msg), "cannot add VM regions");
		return out->err = -E2BIG;
	}
	vm_run_ctx.insn_budget = 1u << 20;
	err = nsbpf_vm_exec(prog, &vm_run_ctx, (uintptr_t)&ctx, 0, &r0);
	nsbpf_vm_prog_free(prog);
	if (err) {
		out->err = err;
		snprintf(out->msg, sizeof(out->msg), "exec: %s", vm_run_ctx.err_msg);
		return err;
	}
	/* test_run's retval is the program's return value truncated to 32 bits. */
	out->retval = (uint32_t)r0;
	return 0;
}

/* ---- reporting ---- */

/* One instruction a line: index, raw fields, and the disassembly when the library has it. */
static void print_prog(const struct prog *p)
{
	for (uint32_t i = 0; i < p->len; i++) {
		const struct nsbpf_insn *in = &p->insns[i];
		char text[128] = "";
		int n = 1;

		if (i == 0)
			printf("  ; prologue (ctx loads as the kernel sees them; the VM gets ldxdw "
			       "[r1+0] / [r1+8])\n");
		else if (i == p->body_start)
			printf("  ; body\n");
		else if (i == p->epilogue_start)
			printf("  ; epilogue\n");
		if (nsbpf_vm_disasm_insn) {
			n = nsbpf_vm_disasm_insn(p->insns, p->len, i, text, sizeof(text));
			if (n < 1) {
				snprintf(text, sizeof(text), "<cannot decode>");
				n = 1;
			}
		}
		for (int k = 0; k < n && i + k < p->len; k++) {
			in = &p->insns[i + k];
			printf("  %4u: %02x %x %x %6d %11d%s%s\n", i + k, in->code, in->dst_reg,
			       in->src_reg, in->off, in->imm, k == 0 && text[0] ? "    " : "",
			       k == 0 ? text : "");
		}
		i += (uint32_t)n - 1;
	}
}

static uint64_t get64(const uint8_t *b)
{
	uint64_t v;

	memcpy(&v, b, sizeof(v));
	return v;
}

/* Both outcomes side by side, the packet as the registers, stack slots and scratch it holds. */
static void print_outcomes(const struct outcome *k, const struct outcome *v)
{
	printf("  %-14s %-24s %-24s\n", "", "kernel", "nsbpf");
	if (k->err || v->err) {
		printf("  %-14s %-24d %-24d\n", "error", k->err, v->err);
		if (k->msg[0])
			printf("  kernel: %s\n", k->msg);
		if (v->msg[0])
			printf("  nsbpf:  %s\n", v->msg);
		return;
	}
	printf("  %-14s 0x%08" PRIx32 "               0x%08" PRIx32 "%s\n", "retval", k->retval,
	       v->retval, k->retval != v->retval ? "               <--" : "");
	printf("  %-14s %-24" PRIu32 " %-24" PRIu32 "%s\n", "packet length", k->pkt_len, v->pkt_len,
	       k->pkt_len != v->pkt_len ? " <--" : "");
	for (uint32_t off = 0; off < PKT_LEN; off += 8) {
		uint64_t a = get64(k->pkt + off), b = get64(v->pkt + off);
		char name[16];

		if (off < PKT_SLOTS)
			snprintf(name, sizeof(name), "r%u", (off - PKT_REGS) / 8);
		else if (off < PKT_SCRATCH)
			snprintf(name, sizeof(name), "fp%d", STK_BODY + (int)(off - PKT_SLOTS));
		else
			snprintf(name, sizeof(name), "pkt+%u", off);
		printf("  %-14s 0x%016" PRIx64 "       0x%016" PRIx64 "%s\n", name, a, b,
		       a != b ? "       <--" : "");
	}
}

static bool same(const struct outcome *k, const struct outcome *v)
{
	return !k->err && !v->err && k->retval == v->retval && k->pkt_len == v->pkt_len &&
	       !memcmp(k->pkt, v->pkt, k->pkt_len);
}

static void print_log_tail(const char *log)
{
	size_t n = strlen(log);
	const size_t max = 8192;

	if (n > max) {
		printf("  [... %zu bytes of the log left out ...]\n", n - max);
		log += n - max;
	}
	fputs(log, stdout);
	if (n && log[strlen(log) - 1] != '\n')
		putchar('\n');
}

/* ---- checks that the kernel can run what we generate ---- */

/*
 * Whether this kernel loads and test-runs XDP programs, and knows the ISA v4 instructions
 * (Linux 6.6) the generator emits. Returns 0, or 77 after printing why not.
 */
static int probe_kernel(void)
{
	static const struct nsbpf_insn basic[] = {
	    {.code = CLS_ALU64 | OP_MOV | SRC_K, .dst_reg = 0, .imm = 2},
	    {.code = CLS_JMP | J_EXIT},
	};
	static const struct nsbpf_insn v4[] = {
	    {.code = CLS_ALU64 | OP_MOV | SRC_K, .dst_reg = 0, .imm = 7},
	    {.code = CLS_ALU64 | OP_MOV | SRC_K, .dst_reg = 1, .imm = -2},
	    {.code = CLS_ALU64 | OP_DIV | SRC_X, .dst_reg = 0, .src_reg = 1, .off = 1},
	    {.code = CLS_ALU64 | OP_MOV | SRC_X, .dst_reg = 0, .src_reg = 0, .off = 8},
	    {.code = CLS_ALU64 | OP_END | SRC_K, .dst_reg = 0, .imm = 16},
	    {.code = CLS_STX | MODE_MEM | SZ_DW, .dst_reg = 10, .src_reg = 0, .off = -8},
	    {.code = CLS_LDX | MODE_MEMSX | SZ_B, .dst_reg = 0, .src_reg = 10, .off = -8},
	    {.code = CLS_JMP32 | J_JA, .imm = 0},
	    {.code = CLS_JMP | J_EXIT},
	};
	struct prog *p = calloc(1, sizeof(*p));
	struct outcome out;
	int fd, err;

	if (!p) {
		perror("calloc");
		return 1;
	}
	fd = kernel_load(basic, 2, NULL, 0, 0);
	if (fd < 0) {
		printf("SKIP: cannot load an XDP program (%s)%s\n", strerror(-fd),
		       fd == -EPERM || fd == -EACCES ? "; needs root or CAP_BPF+CAP_NET_ADMIN"
						     : "");
		free(p);
		return 77;
	}
	err = kernel_run(fd, p, &out);
	close(fd);
	if (err || out.retval != 2) {
		printf("SKIP: BPF_PROG_TEST_RUN of an XDP program does not work here (%s)\n",
		       err ? strerror(-err) : "wrong return value");
		free(p);
		return 77;
	}
	free(p);
	fd = kernel_load(v4, sizeof(v4) / sizeof(v4[0]), verifier_log, sizeof(verifier_log), 0);
	if (fd < 0) {
		printf("SKIP: the kernel's verifier lacks BPF ISA v4 instructions (Linux >= 6.6 "
		       "needed): %s\n",
		       strerror(-fd));
		print_log_tail(verifier_log);
		return 77;
	}
	close(fd);
	return 0;
}

/* ---- driver ---- */

struct stats {
	uint64_t compared, rejected, mismatches;
	uint64_t first_rejected;
};

enum verdict { V_SAME, V_REJECTED, V_DIFFERENT, V_KERNEL_ERROR };

/* Runs `p` on both sides. A program the kernel refuses leaves the verifier's log behind. */
static enum verdict compare(const struct prog *p, struct outcome *k, struct outcome *v,
			    int *load_err)
{
	int fd;

	fd = kernel_load(p->insns, p->len, verifier_log, sizeof(verifier_log), 0);
	*load_err = fd < 0 ? fd : 0;
	if (fd < 0)
		return V_REJECTED;
	kernel_run(fd, p, k);
	close(fd);
	if (k->err)
		return V_KERNEL_ERROR;
	vm_run(p, v);
	return same(k, v) ? V_SAME : V_DIFFERENT;
}

static void report(uint64_t seed, uint64_t index, const struct prog *p, enum verdict vd,
		   const struct outcome *k, const struct outcome *v, int load_err)
{
	printf("seed %" PRIu64 " program %" PRIu64 ": ", seed, index);
	switch (vd) {
	case V_REJECTED:
		printf("the kernel refused it (%s); a generator bug\n", strerror(-load_err));
		print_prog(p);
		printf("verifier log:\n");
		print_log_tail(verifier_log);
		return;
	case V_KERNEL_ERROR:
		printf("%s\n", k->msg);
		return;
	case V_SAME:
	case V_DIFFERENT:
		break;
	}
	printf("%s (%u instructions)\n", vd == V_SAME ? "kernel and nsbpf agree" : "MISMATCH",
	       p->len);
	print_prog(p);
	print_outcomes(k, v);
	if (vd == V_DIFFERENT)
		printf("reproduce with: nsbpf-kdiff-vm --repro %" PRIu64 " %" PRIu64 "\n", seed,
		       index);
}

/*
 * Shrinks a mismatching program for a report: turns the body's blocks into `ja +0` one at
 * a time, keeping each change after which the two sides still disagree, until no single
 * change keeps the mismatch. Replacing in place keeps every jump offset valid.
 */
static void minimize(struct prog *p, struct outcome *k, struct outcome *v)
{
	static const struct nsbpf_insn nop = {.code = CLS_JMP | J_JA};
	struct nsbpf_insn saved[8];
	bool progress = true;
	int load_err;

	while (progress) {
		progress = false;
		for (uint32_t i = p->body_start; i < p->epilogue_start; i++) {
			uint32_t n = p->block_len[i];

			if (!n || !memcmp(&p->insns[i], &nop, sizeof(nop)))
				continue;
			memcpy(saved, &p->insns[i], n * sizeof(saved[0]));
			for (uint32_t j = 0; j < n; j++)
				p->insns[i + j] = nop;
			if (compare(p, k, v, &load_err) == V_DIFFERENT)
				progress = true;
			else
				memcpy(&p->insns[i], saved, n * sizeof(saved[0]));
			i += n - 1;
		}
	}
	compare(p, k, v, &load_err);
}

/* The verifier's whole log for `p`, to see what it concluded when the kernel is the one wrong. */
static void print_verifier_log(const struct prog *p)
{
	int fd = kernel_load(p->insns, p->len, verifier_log, sizeof(verifier_log), 2);

	printf("\nverifier log (level 2) of the program above:\n");
	if (fd >= 0)
		close(fd);
	fputs(verifier_log, stdout);
}

/*
 * Generates, runs and compares one program; verbose shows it even when both agree, and
 * minimizes a mismatch.
 */
static enum verdict check_one(uint64_t seed, uint64_t index, bool verbose, bool show_reject,
			      bool log, struct prog *p)
{
	static struct outcome k, v;
	enum verdict vd;
	int load_err;

	generate(seed, index, p);
	vd = compare(p, &k, &v, &load_err);
	if (verbose || vd == V_DIFFERENT || vd == V_KERNEL_ERROR ||
	    (vd == V_REJECTED && show_reject))
		report(seed, index, p, vd, &k, &v, load_err);
	if (vd == V_DIFFERENT && verbose) {
		minimize(p, &k, &v);
		printf("\nthe same mismatch, with every body instruction it does not need turned "
		       "into ja +0:\n");
		print_prog(p);
		print_outcomes(&k, &v);
	}
	if (log)
		print_verifier_log(p);
	return vd;
}

static int usage(const char *argv0)
{
	fprintf(stderr,
		"usage: %s [--seed N] [--count N] [--verbose]\n"
		"       %s --repro SEED INDEX [--log]\n",
		argv0, argv0);
	return 2;
}

static bool parse_u64(const char *s, uint64_t *v)
{
	char *end;

	errno = 0;
	*v = strtoull(s, &end, 0);
	return !errno && *s && !*end;
}

int main(int argc, char **argv)
{
	uint64_t seed = 1, count = 10000, repro_index = 0, kernel_errors = 0;
	bool repro = false, verbose = false, log = false;
	struct stats st = {.first_rejected = UINT64_MAX};
	struct timespec t0, t1;
	struct prog *p;
	double secs;
	int err;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--seed") && i + 1 < argc) {
			if (!parse_u64(argv[++i], &seed))
				return usage(argv[0]);
		} else if (!strcmp(argv[i], "--count") && i + 1 < argc) {
			if (!parse_u64(argv[++i], &count))
				return usage(argv[0]);
		} else if (!strcmp(argv[i], "--verbose")) {
			verbose = true;
		} else if (!strcmp(argv[i], "--log")) {
			log = true;
		} else if (!strcmp(argv[i], "--repro") && i + 2 < argc) {
			if (!parse_u64(argv[i + 1], &seed) || !parse_u64(argv[i + 2], &repro_index))
				return usage(argv[0]);
			repro = true;
			i += 2;
		} else {
			return usage(argv[0]);
		}
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	err = probe_kernel();
	if (err)
		return err;
	p = malloc(sizeof(*p));
	if (!p) {
		perror("malloc");
		return 1;
	}
	if (!nsbpf_vm_disasm_insn)
		printf("(no disassembler in the library: programs are shown as raw fields)\n");

	if (repro) {
		enum verdict vd = check_one(seed, repro_index, true, true, log, p);

		free(p);
		return vd == V_SAME ? 0 : 1;
	}

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (uint64_t i = 0; i < count; i++) {
		/* Show the first few mismatches in full; the summary counts the rest. */
		enum verdict vd = check_one(seed, i, verbose, st.rejected == 0, false, p);

		switch (vd) {
		case V_SAME:
			st.compared++;
			break;
		case V_REJECTED:
			if (!st.rejected)
				st.first_rejected = i;
			st.rejected++;
			break;
		case V_DIFFERENT:
			st.compared++;
			st.mismatches++;
			if (st.mismatches >= 3 && !verbose) {
				printf("stopping after %" PRIu64 " mismatches\n", st.mismatches);
				count = i + 1;
			}
			break;
		case V_KERNEL_ERROR:
			kernel_errors++;
			break;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	free(p);

	printf("seed %" PRIu64 ": %" PRIu64 " programs, %" PRIu64 " compared, %" PRIu64
	       " mismatches, %" PRIu64 " rejected by the verifier",
	       seed, count, st.compared, st.mismatches, st.rejected);
	if (st.rejected)
		printf(" (first: program %" PRIu64 ")", st.first_rejected);
	if (kernel_errors)
		printf(", %" PRIu64 " kernel errors", kernel_errors);
	printf(", %.1f s\n", secs);

	if (st.mismatches || kernel_errors)
		return 1;
	/* More than 1% refused means the generator no longer knows the verifier's rules. */
	if (st.rejected * 100 > count) {
		printf("FAIL: too many programs refused by the verifier\n");
		return 1;
	}
	return 0;
}
