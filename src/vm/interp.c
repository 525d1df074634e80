// SPDX-License-Identifier: MIT
/*
 * interp.c - the interpreter: threaded dispatch over pre-decoded instructions.
 *
 * Each vm_op carries the address of its handler (a label below), so moving to the next
 * instruction is one indirect jump, with no decoding and no bounds check of the pc:
 * validation proved every jump lands on an instruction and no subprogram falls off its
 * end. What validation cannot prove is checked here: each load and store against the
 * stack and the caller's regions, call depth, and the instruction budget.
 *
 * Instruction counting costs nothing on straight-line code: the pc only moves forward by
 * one slot there, so the count is settled at each taken jump, call and exit from how far
 * the pc moved since the last one (an lddw counts as its two slots).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vm_internal.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the interpreter assumes a little-endian host (le* are truncations)"
#endif

struct frame {
	const struct vm_op *ret;
	const struct nsbpf_vm_prog *prog;
	uint64_t saved[4]; /* r6..r9; r10 is recomputed on return */
};

enum access_result {
	ACCESS_OK,
	ACCESS_OUT_OF_BOUNDS,
	ACCESS_MISALIGNED,
};

/*
 * The stack is checked first (most accesses go there): the running frame's 512 bytes and
 * its callers' frames (a callee may write through a pointer to its caller's stack), never
 * the unused frames below. Stack accesses must be naturally aligned, as the kernel's
 * verifier requires for stack slots; other regions accept any alignment, as the kernel
 * does on x86-64.
 */
static inline enum access_result check_access(const struct nsbpf_vm_run *run, uintptr_t addr,
					      uint32_t size, uint32_t flags, uintptr_t stack_lo,
					      uintptr_t stack_span)
{
	uintptr_t off = addr - stack_lo;

	if (off <= stack_span - size)
		return (addr & (size - 1)) ? ACCESS_MISALIGNED : ACCESS_OK;
	for (uint32_t i = 0; i < run->nr_regions; i++) {
		const struct nsbpf_vm_region *r = &run->regions[i];
		uintptr_t roff = addr - r->start;

		if (roff < r->len && size <= r->len - roff && (r->flags & flags) == flags)
			return ACCESS_OK;
	}
	return ACCESS_OUT_OF_BOUNDS;
}

static int fault(struct nsbpf_vm_run *run, const struct nsbpf_vm_prog *prog,
		 const struct vm_op *ip, uintptr_t addr, uint32_t size, uint32_t flags,
		 enum access_result why)
{
	const char *what = flags & NSBPF_VM_WRITE ? (flags & NSBPF_VM_READ ? "atomic" : "store") :
						    "load";

	vm_fail(run, -EFAULT, (uint32_t)(ip - prog->ops), addr, "%s %s of %u bytes at 0x%lx",
		why == ACCESS_MISALIGNED ? "misaligned" : "out-of-bounds", what, size,
		(unsigned long)addr);
	return -EFAULT;
}

static inline uint64_t load_be(const uint8_t *p, uint32_t size)
{
	uint64_t v = 0;

	for (uint32_t i = 0; i < size; i++)
		v = v << 8 | p[i];
	return v;
}

/*
 * With prog == NULL, stores the address of the handler table in *ret instead of running:
 * label addresses exist only inside this function, and a wrapper around it would cost
 * every run a second call.
 */
int vm_interp(const struct nsbpf_vm_prog *prog, struct nsbpf_vm_run *run,
	      const struct vm_op *entry, uint64_t r1, uint64_t r2, uint64_t *ret)
{
	static const void *const handlers[ISA_NR_OPS] = {
#define HANDLER(name, ...) [ISA_OP_##name] = &&op_##name,
		ISA_OPS(HANDLER)
#undef HANDLER
	};
	struct frame frames[NSBPF_VM_MAX_FRAMES];
	uint32_t nr_frames = 0; /* frames pushed by this invocation */
	const struct vm_op *ip = entry, *seg = entry;
	uint64_t budget, count = 0;
	uint32_t depth; /* frames in use below this invocation's first one */
	uint64_t reg[ISA_NR_REGS];
	uintptr_t addr, stack_lo, stack_top;
	enum access_result access;
	int err = 0;

	if (unlikely(!prog)) {
		*ret = (uintptr_t)handlers;
		return 0;
	}
	depth = run->depth;
	budget = run->insn_budget ? run->insn_budget - run->insn_count : UINT64_MAX;
	if (run->insn_budget && run->insn_count >= run->insn_budget)
		goto out_budget;
	/*
	 * Register by register: args was just written with 8-byte stores, and a wider copy
	 * would stall on store forwarding at every entry.
	 */
	reg[0] = 0;
	reg[1] = r1;
	reg[2] = r2;
	if (likely(!depth)) {
		reg[3] = reg[4] = reg[5] = 0;
	} else { /* a callback: nsbpf_vm_call_func() left r3..r5 in the run context */
		reg[3] = run->callback_args[0];
		reg[4] = run->callback_args[1];
		reg[5] = run->callback_args[2];
	}
	reg[6] = reg[7] = reg[8] = reg[9] = 0;
	stack_top = (uintptr_t)run->stack + sizeof(run->stack);
	reg[ISA_REG_FP] = stack_top - depth * NSBPF_VM_STACK_SIZE;
	stack_lo = reg[ISA_REG_FP] - NSBPF_VM_STACK_SIZE;

#define NEXT                              \
	do {                              \
		ip++;                     \
		goto *ip->handler;        \
	} while (0)
#define SETTLE_COUNT() (count += (uint64_t)(ip - seg) + 1)
#define JUMP(target)                               \
	do {                                       \
		SETTLE_COUNT();                    \
		ip = (target);                     \
		seg = ip;                          \
		if (unlikely(count > budget))      \
			goto out_budget;           \
		goto *ip->handler;                 \
	} while (0)
#define DST reg[ip->dst]
#define SRC reg[ip->src]
#define IMM64 ((uint64_t)(int64_t)ip->imm)
#define IMM32 ((uint32_t)ip->imm)

	goto *ip->handler;

	/* ALU: K forms use the sign-extended (64) or truncated (32) immediate. */
#define ALU_BOTH(NAME, EXPR64, EXPR32)                                      \
	op_ALU64_##NAME##_K : {                                             \
		uint64_t d = DST, s = IMM64;                                \
		DST = (EXPR64);                                             \
		NEXT;                                                       \
	}                                                                   \
	op_ALU64_##NAME##_X : {                                             \
		uint64_t d = DST, s = SRC;                                  \
		DST = (EXPR64);                                             \
		NEXT;                                                       \
	}                                                                   \
	op_ALU32_##NAME##_K : {                                             \
		uint32_t d = (uint32_t)DST, s = IMM32;                      \
		DST = (uint32_t)(EXPR32);                                   \
		NEXT;                                                       \
	}                                                                   \
	op_ALU32_##NAME##_X : {                                             \
		uint32_t d = (uint32_t)DST, s = (uint32_t)SRC;              \
		DST = (uint32_t)(EXPR32);                                   \
		NEXT;                                                       \
	}

	ALU_BOTH(ADD, d + s, d + s)
	ALU_BOTH(SUB, d - s, d - s)
	ALU_BOTH(MUL, d * s, d * s)
	ALU_BOTH(OR, d | s, d | s)
	ALU_BOTH(AND, d & s, d & s)
	ALU_BOTH(XOR, d ^ s, d ^ s)
	ALU_BOTH(LSH, d << (s & 63), d << (s & 31))
	ALU_BOTH(RSH, d >> (s & 63), d >> (s & 31))
	ALU_BOTH(ARSH, (uint64_t)((int64_t)d >> (s & 63)), (uint32_t)((int32_t)d >> (s & 31)))
	/* RFC 9669: x / 0 = 0, x % 0 = x; the signed forms wrap on INT_MIN / -1. */
	ALU_BOTH(DIV, s ? d / s : 0, s ? d / s : 0)
	ALU_BOTH(MOD, s ? d % s : d, s ? d % s : d)
	ALU_BOTH(SDIV, !s ? 0 : s == UINT64_MAX ? 0 - d : (uint64_t)((int64_t)d / (int64_t)s),
		 !s ? 0 : s == UINT32_MAX ? 0 - d : (uint32_t)((int32_t)d / (int32_t)s))
	ALU_BOTH(SMOD, !s ? d : s == UINT64_MAX ? 0 : (uint64_t)((int64_t)d % (int64_t)s),
		 !s ? d : s == UINT32_MAX ? 0 : (uint32_t)((int32_t)d % (int32_t)s))
	ALU_BOTH(MOV, ((void)d, s), ((void)d, s))
#undef ALU_BOTH

op_ALU64_NEG:
	DST = 0 - DST;
	NEXT;
op_ALU32_NEG:
	DST = (uint32_t)(0 - (uint32_t)DST);
	NEXT;
op_ALU64_MOVSX8:
	DST = (uint64_t)(int64_t)(int8_t)SRC;
	NEXT;
op_ALU64_MOVSX16:
	DST = (uint64_t)(int64_t)(int16_t)SRC;
	NEXT;
op_ALU64_MOVSX32:
	DST = (uint64_t)(int64_t)(int32_t)SRC;
	NEXT;
op_ALU32_MOVSX8:
	DST = (uint32_t)(int32_t)(int8_t)SRC;
	NEXT;
op_ALU32_MOVSX16:
	DST = (uint32_t)(int32_t)(int16_t)SRC;
	NEXT;
op_LE16:
	DST = (uint16_t)DST;
	NEXT;
op_LE32:
	DST = (uint32_t)DST;
	NEXT;
op_LE64:
	NEXT;
op_BE16:
op_BSWAP16:
	DST = __builtin_bswap16((uint16_t)DST);
	NEXT;
op_BE32:
op_BSWAP32:
	DST = __builtin_bswap32((uint32_t)DST);
	NEXT;
op_BE64:
op_BSWAP64:
	DST = __builtin_bswap64(DST);
	NEXT;

op_LDDW:
	DST = ip[1].imm64;
	ip++;
	NEXT;

	/* Jumps. */
op_JA:
	JUMP(ip + ip->off + 1);
op_JA32:
	JUMP(ip + ip->imm + 1);

#define JCC(NAME, OP, T64, T32)                                                   \
	op_JMP_##NAME##_K : if ((T64)DST OP(T64) IMM64) JUMP(ip + ip->off + 1); \
	NEXT;                                                                     \
	op_JMP_##NAME##_X : if ((T64)DST OP(T64) SRC) JUMP(ip + ip->off + 1);   \
	NEXT;                                                                     \
	op_JMP32_##NAME##_K : if ((T32)DST OP(T32) IMM32) JUMP(ip + ip->off + 1); \
	NEXT;                                                                     \
	op_JMP32_##NAME##_X : if ((T32)DST OP(T32) SRC) JUMP(ip + ip->off + 1); \
	NEXT;

	JCC(JEQ, ==, uint64_t, uint32_t)
	JCC(JNE, !=, uint64_t, uint32_t)
	JCC(JGT, >, uint64_t, uint32_t)
	JCC(JGE, >=, uint64_t, uint32_t)
	JCC(JLT, <, uint64_t, uint32_t)
	JCC(JLE, <=, uint64_t, uint32_t)
	JCC(JSET, &, uint64_t, uint32_t)
	JCC(JSGT, >, int64_t, int32_t)
	JCC(JSGE, >=, int64_t, int32_t)
	JCC(JSLT, <, int64_t, int32_t)
	JCC(JSLE, <=, int64_t, int32_t)
#undef JCC

	/* Memory. */
#define ACCESS(ADDR, SIZE, FLAGS)                                                    \
	do {                                                                         \
		addr = (ADDR);                                                       \
		access = check_access(run, addr, (SIZE), (FLAGS), stack_lo,          \
				      stack_top - stack_lo);                         \
		if (unlikely(access != ACCESS_OK)) {                                 \
			err = fault(run, prog, ip, addr, (SIZE), (FLAGS), access);   \
			goto out;                                                    \
		}                                                                    \
	} while (0)
#define LDX(NAME, T, EXT)                                                   \
	op_LDX##NAME : {                                                    \
		T v;                                                        \
		ACCESS(SRC + ip->off, sizeof(T), NSBPF_VM_READ);            \
		memcpy(&v, (const void *)addr, sizeof(T));                  \
		DST = (uint64_t)(EXT)v;                                     \
		NEXT;                                                       \
	}
	LDX(_B, uint8_t, uint64_t)
	LDX(_H, uint16_t, uint64_t)
	LDX(_W, uint32_t, uint64_t)
	LDX(_DW, uint64_t, uint64_t)
	LDX(S_B, int8_t, int64_t)
	LDX(S_H, int16_t, int64_t)
	LDX(S_W, int32_t, int64_t)
#undef LDX

#define STORE(NAME, T, VALUE)                                               \
	op_##NAME : {                                                       \
		T v = (T)(VALUE);                                           \
		ACCESS(DST + ip->off, sizeof(T), NSBPF_VM_WRITE);           \
		memcpy((void *)addr, &v, sizeof(T));                        \
		NEXT;                                                       \
	}
	STORE(ST_B, uint8_t, ip->imm)
	STORE(ST_H, uint16_t, ip->imm)
	STORE(ST_W, uint32_t, ip->imm)
	STORE(ST_DW, uint64_t, IMM64)
	STORE(STX_B, uint8_t, SRC)
	STORE(STX_H, uint16_t, SRC)
	STORE(STX_W, uint32_t, SRC)
	STORE(STX_DW, uint64_t, SRC)
#undef STORE

	/* Atomics need natural alignment everywhere, as in the kernel. */
#define ATOMIC_ACCESS(T)                                                              \
	do {                                                                          \
		ACCESS(DST + ip->off, sizeof(T), NSBPF_VM_RW);                        \
		if (unlikely(addr & (sizeof(T) - 1))) {                               \
			err = fault(run, prog, ip, addr, sizeof(T), NSBPF_VM_RW,      \
				    ACCESS_MISALIGNED);                               \
			goto out;                                                     \
		}                                                                     \
	} while (0)
#define ATOMIC_RMW(W, T, NAME, FN)                                                    \
	op_ATOMIC##W##_##NAME : ATOMIC_ACCESS(T);                                     \
	FN((T *)addr, (T)SRC, __ATOMIC_SEQ_CST);                                      \
	NEXT;                                                                         \
	op_ATOMIC##W##_FETCH_##NAME : ATOMIC_ACCESS(T);                               \
	SRC = (uint64_t)FN((T *)addr, (T)SRC, __ATOMIC_SEQ_CST);                      \
	NEXT;
	ATOMIC_RMW(64, uint64_t, ADD, __atomic_fetch_add)
	ATOMIC_RMW(64, uint64_t, OR, __atomic_fetch_or)
	ATOMIC_RMW(64, uint64_t, AND, __atomic_fetch_and)
	ATOMIC_RMW(64, uint64_t, XOR, __atomic_fetch_xor)
	ATOMIC_RMW(32, uint32_t, ADD, __atomic_fetch_add)
	ATOMIC_RMW(32, uint32_t, OR, __atomic_fetch_or)
	ATOMIC_RMW(32, uint32_t, AND, __atomic_fetch_and)
	ATOMIC_RMW(32, uint32_t, XOR, __atomic_fetch_xor)
#undef ATOMIC_RMW
op_ATOMIC64_XCHG:
	ATOMIC_ACCESS(uint64_t);
	SRC = __atomic_exchange_n((uint64_t *)addr, SRC, __ATOMIC_SEQ_CST);
	NEXT;
op_ATOMIC32_XCHG:
	ATOMIC_ACCESS(uint32_t);
	SRC = __atomic_exchange_n((uint32_t *)addr, (uint32_t)SRC, __ATOMIC_SEQ_CST);
	NEXT;
op_ATOMIC64_CMPXCHG : {
	uint64_t expected = reg[0];

	ATOMIC_ACCESS(uint64_t);
	__atomic_compare_exchange_n((uint64_t *)addr, &expected, SRC, false, __ATOMIC_SEQ_CST,
				    __ATOMIC_SEQ_CST);
	reg[0] = expected;
	NEXT;
}
op_ATOMIC32_CMPXCHG : {
	uint32_t expected = (uint32_t)reg[0];

	ATOMIC_ACCESS(uint32_t);
	__atomic_compare_exchange_n((uint32_t *)addr, &expected, (uint32_t)SRC, false,
				    __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
	reg[0] = expected;
	NEXT;
}
#undef ATOMIC_ACCESS

	/*
	 * Legacy packet loads: big-endian, from run->ld_abs_data; an offset outside the
	 * packet ends the program with r0 = 0, as the kernel's rewrite of them does.
	 */
#define LD_PKT(NAME, SIZE, OFFSET)                                                      \
	op_##NAME : {                                                                   \
		int32_t o = (int32_t)(OFFSET);                                          \
		if (o < 0 || !run->ld_abs_data || (uint32_t)o > run->ld_abs_len ||      \
		    (SIZE) > run->ld_abs_len - (uint32_t)o) {                           \
			reg[0] = 0;                                                     \
			nr_frames = 0;                                                  \
			goto out_exit;                                                  \
		}                                                                       \
		reg[0] = load_be(run->ld_abs_data + o, (SIZE));                         \
		NEXT;                                                                   \
	}
	LD_PKT(LDABS_B, 1, ip->imm)
	LD_PKT(LDABS_H, 2, ip->imm)
	LD_PKT(LDABS_W, 4, ip->imm)
	LD_PKT(LDIND_B, 1, (uint32_t)ip->imm + (uint32_t)SRC)
	LD_PKT(LDIND_H, 2, (uint32_t)ip->imm + (uint32_t)SRC)
	LD_PKT(LDIND_W, 4, (uint32_t)ip->imm + (uint32_t)SRC)
#undef LD_PKT

	/* Calls. */
	{
		const struct nsbpf_vm_helper *helper;
		uint64_t id;

op_CALLX:
		id = DST;
		if (unlikely(id >= prog->nr_helpers || !prog->helpers[id].fn)) {
			vm_fail(run, -ENOENT, (uint32_t)(ip - prog->ops), 0,
				"callx to unknown helper %llu", (unsigned long long)id);
			err = -ENOENT;
			goto out;
		}
		helper = &prog->helpers[id];
		goto call_helper;
op_CALL_HELPER:
		helper = &prog->helpers[ip->imm];
call_helper:
		if (unlikely(helper->kind == NSBPF_VM_HELPER_TAIL_CALL)) {
			const struct nsbpf_vm_prog *target = NULL;

			if (run->tail_calls < NSBPF_VM_MAX_TAIL_CALLS && prog->tail_call)
				target = prog->tail_call(run, reg[2], reg[3]);
			if (!target)
				NEXT; /* the kernel falls through to the next instruction */
			run->tail_calls++;
			prog = target;
			JUMP(target->ops);
		}
		run->prog = prog;
		run->depth = depth + nr_frames;
		/*
		 * Settle the count before the helper runs: callbacks it makes into the
		 * program are charged to the same budget, through run->insn_count.
		 */
		SETTLE_COUNT();
		run->insn_count += count;
		count = 0;
		seg = ip + 1;
		reg[0] = helper->fn(reg[1], reg[2], reg[3], reg[4], reg[5], run);
		if (unlikely(run->err)) {
			err = run->err;
			if (run->err_pc == VM_ERR_PC_UNKNOWN) /* failed in the helper itself */
				run->err_pc = (uint32_t)(ip - prog->ops);
			goto out_settled;
		}
		if (run->insn_budget) {
			if (run->insn_count >= run->insn_budget)
				goto out_budget;
			budget = run->insn_budget - run->insn_count;
		}
		NEXT;
	}

op_CALL_LOCAL:
	if (unlikely(depth + nr_frames + 1 >= NSBPF_VM_MAX_FRAMES)) {
		vm_fail(run, -E2BIG, (uint32_t)(ip - prog->ops), 0,
			"call stack of %u frames is too deep", depth + nr_frames + 2);
		err = -E2BIG;
		goto out;
	}
	frames[nr_frames].ret = ip + 1;
	frames[nr_frames].prog = prog;
	/* one by one, for the same store-forwarding reason as at entry */
	frames[nr_frames].saved[0] = reg[6];
	frames[nr_frames].saved[1] = reg[7];
	frames[nr_frames].saved[2] = reg[8];
	frames[nr_frames].saved[3] = reg[9];
	nr_frames++;
	reg[ISA_REG_FP] -= NSBPF_VM_STACK_SIZE;
	stack_lo -= NSBPF_VM_STACK_SIZE;
	JUMP(ip + ip->imm + 1);

op_EXIT:
	if (nr_frames) {
		nr_frames--;
		reg[6] = frames[nr_frames].saved[0];
		reg[7] = frames[nr_frames].saved[1];
		reg[8] = frames[nr_frames].saved[2];
		reg[9] = frames[nr_frames].saved[3];
		prog = frames[nr_frames].prog;
		reg[ISA_REG_FP] += NSBPF_VM_STACK_SIZE;
		stack_lo += NSBPF_VM_STACK_SIZE;
		JUMP(frames[nr_frames].ret);
	}
out_exit:
	SETTLE_COUNT();
	run->insn_count += count;
	*ret = reg[0];
	if (!depth) /* the outermost run is over: helpers lend no more memory */
		run->prog = NULL;
	return 0;

out_budget:
	run->insn_count += count;
	if (!depth)
		run->prog = NULL;
	vm_fail(run, -ELOOP, (uint32_t)(ip - prog->ops), 0,
		"instruction budget of %llu exhausted", (unsigned long long)run->insn_budget);
	return -ELOOP;

out:
	SETTLE_COUNT();
out_settled:
	run->insn_count += count;
	if (!depth)
		run->prog = NULL;
	return err;
}

const void *const *vm_interp_handlers(void)
{
	uint64_t table = 0;

	vm_interp(NULL, NULL, NULL, 0, 0, &table);
	return (const void *const *)(uintptr_t)table;
}
