// SPDX-License-Identifier: MIT
/*
 * vm.c - loading (validate, resolve, pre-decode) and the run context of the VM.
 *
 * A loaded program is immutable: each instruction becomes a vm_op holding the address of
 * its interpreter handler, and ld_imm64 pseudo values are resolved once here, so the
 * interpreter never decodes an opcode nor calls back for a constant. Everything that
 * changes during a run lives in the caller's struct nsbpf_vm_run.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vm_internal.h"

static int resolve_lddw(const struct nsbpf_insn *insns, uint32_t i,
			const struct nsbpf_vm_env *env, struct vm_op *ops, char *log,
			size_t log_size)
{
	const struct nsbpf_insn *insn = &insns[i];
	uint64_t value;
	int err;

	switch (insn->src_reg) {
	case 0:
		value = (uint32_t)insn->imm | ((uint64_t)(uint32_t)insns[i + 1].imm << 32);
		break;
	case ISA_PSEUDO_FUNC:
		/* The function's address is its pre-decoded entry, as the kernel hands
		 * out the address of a subprogram's image. */
		value = (uintptr_t)&ops[i + insn->imm + 1];
		break;
	default:
		err = env->resolve_imm64(env->user, i, insn->src_reg, insn->imm, insns[i + 1].imm,
					 &value);
		if (err) {
			if (log && log_size)
				snprintf(log, log_size, "insn %u: cannot resolve ld_imm64 source %u",
					 i, insn->src_reg);
			return err < 0 ? err : -EINVAL;
		}
		break;
	}
	ops[i + 1].imm64 = value;
	return 0;
}

int nsbpf_vm_load(const struct nsbpf_insn *insns, uint32_t nr_insns,
		  const struct nsbpf_vm_env *env, struct nsbpf_vm_prog **progp, char *log,
		  size_t log_size)
{
	const void *const *handlers = vm_interp_handlers();
	struct vm_validated val = { 0 };
	struct nsbpf_vm_prog *prog;
	int err;

	if (!progp)
		return -EINVAL;
	*progp = NULL;
	if (env && env->sz < offsetof(struct nsbpf_vm_env, user) + sizeof(env->user))
		return -EINVAL;
	err = vm_validate(insns, nr_insns, env, &val, log, log_size);
	if (err)
		return err;

	prog = calloc(1, sizeof(*prog));
	if (!prog) {
		err = -ENOMEM;
		goto err_free_val;
	}
	prog->ops = calloc(nr_insns, sizeof(*prog->ops));
	if (!prog->ops) {
		err = -ENOMEM;
		goto err_free_prog;
	}
	prog->len = nr_insns;
	prog->is_func = val.is_func;
	val.is_func = NULL;
	if (env) {
		prog->helpers = env->helpers;
		prog->nr_helpers = env->nr_helpers;
		prog->tail_call = env->tail_call;
		prog->user = env->user;
	}

	for (uint32_t i = 0; i < nr_insns; i++) {
		const struct nsbpf_insn *insn = &insns[i];
		struct vm_op *op = &prog->ops[i];

		if (val.op[i] == ISA_OP_INVALID) /* lddw second half: filled below */
			continue;
		op->handler = handlers[val.op[i]];
		op->dst = insn->dst_reg;
		op->src = insn->src_reg;
		op->off = insn->off;
		op->imm = insn->imm;
		if (val.op[i] == ISA_OP_LDDW) {
			err = resolve_lddw(insns, i, env, prog->ops, log, log_size);
			if (err)
				goto err_free_ops;
		}
	}
	free(val.op);
	*progp = prog;
	return 0;

err_free_ops:
	free(prog->ops);
	free(prog->is_func);
err_free_prog:
	free(prog);
err_free_val:
	free(val.op);
	free(val.is_func);
	return err;
}

void nsbpf_vm_prog_free(struct nsbpf_vm_prog *prog)
{
	if (!prog)
		return;
	free(prog->ops);
	free(prog->is_func);
	free(prog);
}

uint32_t nsbpf_vm_prog_len(const struct nsbpf_vm_prog *prog)
{
	return prog->len;
}

void *nsbpf_vm_prog_user(const struct nsbpf_vm_prog *prog)
{
	return prog->user;
}

void nsbpf_vm_run_init(struct nsbpf_vm_run *run)
{
	memset(run, 0, sizeof(*run));
}

int nsbpf_vm_run_add_region(struct nsbpf_vm_run *run, const void *start, uint64_t len,
			    uint32_t flags)
{
	struct nsbpf_vm_region *r;

	if (flags & ~(uint32_t)NSBPF_VM_RW)
		return -EINVAL;
	if ((uintptr_t)start + len < (uintptr_t)start)
		return -EINVAL;
	if (run->nr_regions >= NSBPF_VM_MAX_REGIONS)
		return -E2BIG;
	r = &run->regions[run->nr_regions++];
	r->start = (uintptr_t)start;
	r->len = len;
	r->flags = flags;
	/* Outside a run the embedder is setting up memory that stays; inside, a helper
	 * lends memory for this run only. */
	if (!run->prog)
		run->nr_fixed_regions = run->nr_regions;
	return 0;
}

int nsbpf_vm_run_lend_region(struct nsbpf_vm_run *run, const void *start, uint64_t len,
			     uint32_t flags)
{
	uint32_t fixed = run->nr_fixed_regions;
	int err;

	if (run->prog)
		return -EBUSY;
	/* what was lent before and not yet used stays lent */
	run->nr_regions = fixed + run->nr_lent_regions;
	err = nsbpf_vm_run_add_region(run, start, len, flags);
	/* add_region counted it as fixed: it is not */
	run->nr_fixed_regions = fixed;
	if (!err)
		run->nr_lent_regions++;
	return err;
}

void nsbpf_vm_run_drop_lent_regions(struct nsbpf_vm_run *run)
{
	run->nr_lent_regions = 0;
	run->nr_regions = run->nr_fixed_regions;
}

void nsbpf_vm_run_clear_regions(struct nsbpf_vm_run *run)
{
	run->nr_regions = 0;
	run->nr_fixed_regions = 0;
	run->nr_lent_regions = 0;
}

int nsbpf_vm_run_check_access(const struct nsbpf_vm_run *run, uintptr_t addr, uint64_t len,
			      uint32_t flags)
{
	uintptr_t top = (uintptr_t)run->stack + sizeof(run->stack);
	/* the calling frame and its callers, as the interpreter allows */
	uintptr_t lo = top - (uintptr_t)(run->depth + 1) * NSBPF_VM_STACK_SIZE;

	if (addr + len < addr)
		return -EFAULT;
	if (addr >= lo && addr + len <= top)
		return 0;
	for (uint32_t i = 0; i < run->nr_regions; i++) {
		const struct nsbpf_vm_region *r = &run->regions[i];

		if (addr >= r->start && addr - r->start <= r->len && len <= r->len - (addr - r->start) &&
		    (r->flags & flags) == flags)
			return 0;
	}
	return -EFAULT;
}

void vm_fail(struct nsbpf_vm_run *run, int err, uint32_t pc, uintptr_t addr, const char *fmt,
	     ...)
{
	va_list ap;
	int n;

	run->err = err;
	run->err_pc = pc;
	run->err_addr = addr;
	n = snprintf(run->err_msg, sizeof(run->err_msg), "pc %u: ", pc);
	if (n < 0 || (size_t)n >= sizeof(run->err_msg))
		return;
	va_start(ap, fmt);
	vsnprintf(run->err_msg + n, sizeof(run->err_msg) - n, fmt, ap);
	va_end(ap);
}

void nsbpf_vm_run_fail(struct nsbpf_vm_run *run, int err, const char *fmt, ...)
{
	va_list ap;

	run->err = err < 0 ? err : -EINVAL;
	run->err_addr = 0;
	/* the interpreter fills in the pc of the call when it sees the failure */
	run->err_pc = VM_ERR_PC_UNKNOWN;
	va_start(ap, fmt);
	vsnprintf(run->err_msg, sizeof(run->err_msg), fmt, ap);
	va_end(ap);
}

int nsbpf_vm_exec(const struct nsbpf_vm_prog *prog, struct nsbpf_vm_run *run, uint64_t r1,
		  uint64_t r2, uint64_t *ret)
{
	int err;

	/* vm_interp() clears run->prog when the run ends. */
	run->nr_regions = run->nr_fixed_regions + run->nr_lent_regions;
	run->prog = prog;
	run->tail_calls = 0;
	run->depth = 0;
	run->insn_count = 0;
	run->err = 0;
	err = vm_interp(prog, run, prog->ops, r1, r2, ret);
	run->nr_lent_regions = 0;
	return err;
}

int nsbpf_vm_call_func(struct nsbpf_vm_run *run, uint64_t func, const uint64_t args[5],
		       uint64_t *ret)
{
	const struct nsbpf_vm_prog *prog = run->prog;
	uintptr_t base = (uintptr_t)prog->ops, idx;
	uint32_t depth;
	int err;

	if (func < base || func >= base + (uintptr_t)prog->len * sizeof(struct vm_op) ||
	    (func - base) % sizeof(struct vm_op))
		return -EINVAL;
	idx = (func - base) / sizeof(struct vm_op);
	if (!prog->is_func[idx])
		return -EINVAL;
	if (run->depth + 1 >= NSBPF_VM_MAX_FRAMES)
		return -E2BIG;
	/* the callback's own helper calls move run->depth; the caller's frame is ours */
	depth = run->depth;
	run->depth = depth + 1;
	run->callback_args[0] = args[2];
	run->callback_args[1] = args[3];
	run->callback_args[2] = args[4];
	err = vm_interp(prog, run, &prog->ops[idx], args[0], args[1], ret);
	run->depth = depth;
	run->prog = prog;
	return err;
}
