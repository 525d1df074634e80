// SPDX-License-Identifier: MIT
/*
 * validate.c - load-time checks of a program, before it is pre-decoded.
 *
 * This is not a verifier: it proves nothing about values or memory (the interpreter
 * checks every access at run time). It enforces what makes the instruction stream
 * well-formed, with the kernel's structural rules: every instruction is known, fields an
 * instruction does not use are zero, registers exist and r10 is never written, helpers
 * exist, jumps land on an instruction of their own subprogram and never on the second
 * half of an lddw, and each subprogram ends in exit or an unconditional jump, so the
 * interpreter can never run off the end of the program.
 */
#include <errno.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vm_internal.h"

struct validator {
	const struct nsbpf_insn *insns;
	uint32_t len;
	const struct nsbpf_vm_env *env;
	enum isa_op *op;
	uint8_t *is_func;
	uint8_t *is_lddw_tail;
	char *log;
	size_t log_size;
};

__attribute__((format(printf, 3, 4))) static int reject(struct validator *v, uint32_t idx,
							  const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!v->log || !v->log_size)
		return -EINVAL;
	n = snprintf(v->log, v->log_size, "insn %u: ", idx);
	if (n >= 0 && (size_t)n < v->log_size) {
		va_start(ap, fmt);
		vsnprintf(v->log + n, v->log_size - n, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* Whether executing `op` writes its dst register (r10 must never be written). */
static bool writes_dst(enum isa_op op)
{
	switch (isa_ops[op].format) {
	case ISA_FMT_ALU_K:
	case ISA_FMT_ALU_X:
	case ISA_FMT_ALU_UN:
	case ISA_FMT_LDX:
	case ISA_FMT_LDDW:
		return true;
	default:
		return false;
	}
}

/* Whether an atomic op writes its src register: the fetch forms and xchg (cmpxchg writes r0). */
static bool writes_src(const struct nsbpf_insn *insn, enum isa_op op)
{
	return isa_ops[op].format == ISA_FMT_ATOMIC && (insn->imm & 0x01) &&
	       op != ISA_OP_ATOMIC64_CMPXCHG && op != ISA_OP_ATOMIC32_CMPXCHG;
}

static const char *describe_opcode_miss(const struct nsbpf_insn *insn)
{
	for (int op = 0; op < ISA_NR_OPS; op++) {
		if (isa_ops[op].code != insn->code)
			continue;
		switch (isa_ops[op].match) {
		case ISA_M_OFF:
			return "invalid offset for this opcode";
		case ISA_M_IMM:
			return "invalid immediate for this opcode";
		case ISA_M_SRC:
			return "invalid src_reg for this opcode";
		default:
			break;
		}
	}
	return NULL;
}

static int check_fields(struct validator *v, uint32_t i, enum isa_op op)
{
	const struct nsbpf_insn *insn = &v->insns[i];
	const struct isa_op_desc *d = &isa_ops[op];
	uint8_t used = d->fields;

	/* The discriminating field is checked by the decoder; it is not "reserved". */
	if (d->match == ISA_M_OFF)
		used |= ISA_OFF;
	else if (d->match == ISA_M_IMM)
		used |= ISA_IMM;
	else if (d->match == ISA_M_SRC)
		used |= ISA_SRC;

	if (!(used & ISA_DST) && insn->dst_reg)
		return reject(v, i, "reserved field dst_reg must be zero (opcode 0x%02x)", insn->code);
	if (!(used & ISA_SRC) && insn->src_reg)
		return reject(v, i, "reserved field src_reg must be zero (opcode 0x%02x)", insn->code);
	if (!(used & ISA_OFF) && insn->off)
		return reject(v, i, "reserved field off must be zero (opcode 0x%02x)", insn->code);
	if (!(used & ISA_IMM) && insn->imm)
		return reject(v, i, "reserved field imm must be zero (opcode 0x%02x)", insn->code);

	if ((used & ISA_DST) && insn->dst_reg >= ISA_NR_REGS)
		return reject(v, i, "invalid register r%u", insn->dst_reg);
	/* lddw's src_reg is a pseudo source, checked by check_lddw(). */
	if ((d->fields & ISA_SRC) && d->format != ISA_FMT_LDDW && insn->src_reg >= ISA_NR_REGS)
		return reject(v, i, "invalid register r%u", insn->src_reg);
	if (writes_dst(op) && insn->dst_reg == ISA_REG_FP)
		return reject(v, i, "frame pointer r10 is read only");
	if (writes_src(insn, op) && insn->src_reg == ISA_REG_FP)
		return reject(v, i, "frame pointer r10 is read only");
	return 0;
}

static int check_lddw(struct validator *v, uint32_t i)
{
	const struct nsbpf_insn *insn = &v->insns[i], *tail;

	if (i + 1 >= v->len)
		return reject(v, i, "lddw is missing its second half");
	tail = &v->insns[i + 1];
	if (tail->code || tail->dst_reg || tail->src_reg || tail->off)
		return reject(v, i + 1, "invalid second half of lddw");
	if (insn->src_reg > ISA_PSEUDO_MAX)
		return reject(v, i, "invalid ld_imm64 source %u", insn->src_reg);
	if (insn->src_reg == ISA_PSEUDO_FUNC) {
		int64_t target = (int64_t)i + insn->imm + 1;

		if (tail->imm)
			return reject(v, i, "ld_imm64 of a function has a non-zero upper half");
		if (target < 0 || target >= v->len)
			return reject(v, i, "function address out of range: %lld", (long long)target);
		v->is_func[target] = 1;
	} else if (insn->src_reg && !(v->env && v->env->resolve_imm64)) {
		return reject(v, i, "ld_imm64 source %u needs a resolver", insn->src_reg);
	}
	v->is_lddw_tail[i + 1] = 1;
	return 0;
}

static int check_call(struct validator *v, uint32_t i, enum isa_op op)
{
	const struct nsbpf_insn *insn = &v->insns[i];

	if (op == ISA_OP_CALL_HELPER) {
		const struct nsbpf_vm_env *env = v->env;

		if (!env || insn->imm < 0 || (uint32_t)insn->imm >= env->nr_helpers ||
		    !env->helpers[insn->imm].fn)
			return reject(v, i, "unknown helper %d", insn->imm);
	} else if (op == ISA_OP_CALL_LOCAL) {
		int64_t target = (int64_t)i + insn->imm + 1;

		if (target < 0 || target >= v->len)
			return reject(v, i, "call to insn %lld out of range", (long long)target);
		v->is_func[target] = 1;
	}
	return 0;
}

/* Pass 1: each instruction on its own. */
static int check_insns(struct validator *v)
{
	for (uint32_t i = 0; i < v->len; i++) {
		const struct nsbpf_insn *insn = &v->insns[i];
		enum isa_op op;
		int err;

		if (v->is_lddw_tail[i]) {
			v->op[i] = ISA_OP_INVALID;
			continue;
		}
		op = isa_decode(insn);
		if (op == ISA_OP_INVALID) {
			const char *why = describe_opcode_miss(insn);

			if (why)
				return reject(v, i, "%s (opcode 0x%02x)", why, insn->code);
			return reject(v, i, "unknown opcode 0x%02x", insn->code);
		}
		v->op[i] = op;
		err = check_fields(v, i, op);
		if (!err && op == ISA_OP_LDDW)
			err = check_lddw(v, i);
		if (!err && (op == ISA_OP_CALL_HELPER || op == ISA_OP_CALL_LOCAL))
			err = check_call(v, i, op);
		if (err)
			return err;
	}
	return 0;
}

/* Whether insn i branches; if so, where its taken branch goes (possibly out of range). */
static bool branch_target(const struct nsbpf_insn *insn, uint32_t i, enum isa_op op,
			  int64_t *target)
{
	switch (isa_ops[op].format) {
	case ISA_FMT_JA:
	case ISA_FMT_JCC_K:
	case ISA_FMT_JCC_X:
		*target = (int64_t)i + insn->off + 1;
		return true;
	case ISA_FMT_JA32:
		*target = (int64_t)i + insn->imm + 1;
		return true;
	default:
		return false;
	}
}

static bool ends_subprog(enum isa_op op)
{
	return op == ISA_OP_EXIT || op == ISA_OP_JA || op == ISA_OP_JA32;
}

/* Pass 2: control flow stays inside each subprogram and never runs off its end. */
static int check_flow(struct validator *v)
{
	uint32_t start = 0, end = 0;
	int64_t target;

	/* before anything else: a subprogram starting mid-lddw would also "fall off" */
	for (uint32_t i = 0; i < v->len; i++)
		if (v->is_func[i] && v->is_lddw_tail[i])
			return reject(v, i, "subprogram starts inside an lddw");

	for (uint32_t i = 0; i < v->len; i++) {
		enum isa_op op = v->op[i];
		bool last = i + 1 == v->len || v->is_func[i + 1];

		if (v->is_func[i]) {
			start = i;
			end = i + 1;
			while (end < v->len && !v->is_func[end])
				end++;
		}
		if (op != ISA_OP_INVALID && branch_target(&v->insns[i], i, op, &target)) {
			if (target < start || target >= end)
				return reject(v, i, "jump out of range to insn %lld",
					      (long long)target);
			if (v->is_lddw_tail[target])
				return reject(v, i, "jump into the middle of lddw at insn %lld",
					      (long long)target);
		}
		if (last && (op == ISA_OP_INVALID || !ends_subprog(op)))
			return reject(v, i, "last instruction of a subprogram must be exit or ja "
					    "(execution would fall off the end)");
	}
	return 0;
}


/*
 * Register initialisation (NSBPF_VM_F_CHECK_REGS): a forward "must be set" analysis over
 * the control flow graph. Each instruction's entry state is the intersection of what its
 * predecessors leave set, iterated to a fixed point; then every read is checked against it.
 */
#define REG(n) ((uint16_t)1 << (n))
#define CALLER_SAVED (REG(1) | REG(2) | REG(3) | REG(4) | REG(5))

static bool is_plain_mov(enum isa_op op)
{
	switch (op) {
	case ISA_OP_ALU64_MOV_K:
	case ISA_OP_ALU32_MOV_K:
	case ISA_OP_ALU64_MOV_X:
	case ISA_OP_ALU32_MOV_X:
	case ISA_OP_ALU64_MOVSX8:
	case ISA_OP_ALU64_MOVSX16:
	case ISA_OP_ALU64_MOVSX32:
	case ISA_OP_ALU32_MOVSX8:
	case ISA_OP_ALU32_MOVSX16:
		return true;
	default:
		return false;
	}
}

/* The registers instruction i reads, and its effect on the set of initialised ones. */
static uint16_t reg_uses(const struct nsbpf_insn *insn, enum isa_op op)
{
	uint16_t dst = REG(insn->dst_reg), src = REG(insn->src_reg);

	switch (isa_ops[op].format) {
	case ISA_FMT_ALU_K:
		return is_plain_mov(op) ? 0 : dst;
	case ISA_FMT_ALU_X:
		return is_plain_mov(op) ? src : (uint16_t)(dst | src);
	case ISA_FMT_ALU_UN:
	case ISA_FMT_ST:
	case ISA_FMT_JCC_K:
	case ISA_FMT_CALLX:
		return dst;
	case ISA_FMT_LDX:
		return src;
	case ISA_FMT_STX:
	case ISA_FMT_JCC_X:
		return dst | src;
	case ISA_FMT_ATOMIC:
		if (op == ISA_OP_ATOMIC64_CMPXCHG || op == ISA_OP_ATOMIC32_CMPXCHG)
			return dst | src | REG(0);
		return dst | src;
	case ISA_FMT_EXIT:
		return REG(0);
	case ISA_FMT_LDABS: /* the kernel's legacy loads take the context from r6 */
		return REG(6);
	case ISA_FMT_LDIND:
		return src | REG(6);
	default:
		return 0;
	}
}

static uint16_t reg_transfer(const struct nsbpf_insn *insn, enum isa_op op, uint16_t in)
{
	switch (isa_ops[op].format) {
	case ISA_FMT_ALU_K:
	case ISA_FMT_ALU_X:
	case ISA_FMT_ALU_UN:
	case ISA_FMT_LDX:
	case ISA_FMT_LDDW:
		return in | REG(insn->dst_reg);
	case ISA_FMT_ATOMIC:
		if (op == ISA_OP_ATOMIC64_CMPXCHG || op == ISA_OP_ATOMIC32_CMPXCHG)
			return in | REG(0);
		return insn->imm & 0x01 ? (uint16_t)(in | REG(insn->src_reg)) : in;
	case ISA_FMT_CALL:
	case ISA_FMT_CALL_LOCAL:
	case ISA_FMT_CALLX:
	case ISA_FMT_LDABS:
	case ISA_FMT_LDIND:
		return (in & ~CALLER_SAVED) | REG(0);
	default:
		return in;
	}
}

/* Successors of instruction i within its subprogram; returns how many (0..2). */
static int successors(struct validator *v, uint32_t i, uint32_t next[2])
{
	enum isa_op op = v->op[i];
	int64_t target;
	int n = 0;

	if (op == ISA_OP_EXIT)
		return 0;
	if (branch_target(&v->insns[i], i, op, &target))
		next[n++] = (uint32_t)target;
	if (op == ISA_OP_JA || op == ISA_OP_JA32)
		return n;
	next[n++] = i + (op == ISA_OP_LDDW ? 2 : 1);
	return n;
}

static int reject_regs(struct validator *v, uint32_t i, uint16_t missing)
{
	int reg = __builtin_ctz(missing);

	reject(v, i, "R%d !read_ok", reg);
	return -EACCES;
}

static int check_regs(struct validator *v)
{
	/* one block, widest array first: this runs for every program a bpf() load makes */
	uint32_t *work = calloc(v->len, sizeof(uint32_t) + sizeof(uint16_t) + 2);
	uint16_t *in = (uint16_t *)(work + v->len);
	uint8_t *seen = (uint8_t *)(in + v->len), *queued = seen + v->len;
	uint32_t nr_work = 0;
	int err = -ENOMEM;

	if (!work)
		goto out;
	/* Subprograms other than the first receive their arguments in r1..r5. */
	for (uint32_t i = 0; i < v->len; i++) {
		if (!v->is_func[i])
			continue;
		in[i] = REG(ISA_REG_FP) | (i ? CALLER_SAVED : REG(1));
		seen[i] = queued[i] = 1;
		work[nr_work++] = i;
	}
	/* a stack of queued indices, each at most once: the sets only shrink, so it ends */
	while (nr_work) {
		uint32_t i = work[--nr_work], next[2];
		uint16_t out = reg_transfer(&v->insns[i], v->op[i], in[i]);
		int n = successors(v, i, next);

		queued[i] = 0;
		for (int k = 0; k < n; k++) {
			uint32_t s = next[k];
			uint16_t merged = seen[s] ? (uint16_t)(in[s] & out) : out;

			if (seen[s] && merged == in[s])
				continue;
			in[s] = merged;
			seen[s] = 1;
			if (!queued[s]) {
				queued[s] = 1;
				work[nr_work++] = s;
			}
		}
	}
	err = 0;
	for (uint32_t i = 0; i < v->len && !err; i++) {
		uint16_t missing;

		if (!seen[i] || v->op[i] == ISA_OP_INVALID)
			continue;
		missing = reg_uses(&v->insns[i], v->op[i]) & ~in[i];
		if (missing)
			err = reject_regs(v, i, missing);
	}
out:
	free(work);
	return err;
}

int vm_validate(const struct nsbpf_insn *insns, uint32_t len, const struct nsbpf_vm_env *env,
		struct vm_validated *out, char *log, size_t log_size)
{
	struct validator v = {
		.insns = insns, .len = len, .env = env, .log = log, .log_size = log_size,
	};
	int err;

	if (log && log_size)
		log[0] = '\0';
	if (!insns || len == 0) {
		if (log && log_size)
			snprintf(log, log_size, "program has no instructions");
		return -EINVAL;
	}
	if (len > NSBPF_VM_MAX_INSNS) {
		if (log && log_size)
			snprintf(log, log_size, "program of %u instructions exceeds %u", len,
				 NSBPF_VM_MAX_INSNS);
		return -E2BIG;
	}
	v.op = calloc(len, sizeof(*v.op));
	v.is_func = calloc(len, 1);
	v.is_lddw_tail = calloc(len, 1);
	if (!v.op || !v.is_func || !v.is_lddw_tail) {
		err = -ENOMEM;
		goto err_free;
	}
	v.is_func[0] = 1;
	err = check_insns(&v);
	if (err)
		goto err_free;
	err = check_flow(&v);
	if (err)
		goto err_free;
	if (env && env->sz >= offsetof(struct nsbpf_vm_env, flags) + sizeof(env->flags) &&
	    (env->flags & NSBPF_VM_F_CHECK_REGS)) {
		err = check_regs(&v);
		if (err)
			goto err_free;
	}
	free(v.is_lddw_tail);
	out->op = v.op;
	out->is_func = v.is_func;
	return 0;

err_free:
	free(v.op);
	free(v.is_func);
	free(v.is_lddw_tail);
	return err;
}
