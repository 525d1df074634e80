// SPDX-License-Identifier: MIT
/*
 * test_env.c - helpers of the conformance suites and a one-shot run over input memory.
 * See test_env.h.
 */
#include "test_env.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t gather_bytes(uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e,
			     struct nsbpf_vm_run *run)
{
	(void)run;
	return ((uint64_t)(a & 0xff) << 32) | ((b & 0xff) << 24) | ((c & 0xff) << 16) |
	       ((d & 0xff) << 8) | (e & 0xff);
}

static uint64_t memfrob(uint64_t ptr, uint64_t len, uint64_t c, uint64_t d, uint64_t e,
			struct nsbpf_vm_run *run)
{
	(void)c, (void)d, (void)e;
	if (nsbpf_vm_run_check_access(run, ptr, len, NSBPF_VM_RW)) {
		nsbpf_vm_run_fail(run, -EFAULT, "memfrob: bad buffer");
		return 0;
	}
	for (uint64_t i = 0; i < len; i++)
		((uint8_t *)(uintptr_t)ptr)[i] ^= 42;
	return 0;
}

static uint64_t no_op(uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e,
		      struct nsbpf_vm_run *run)
{
	(void)a, (void)b, (void)c, (void)d, (void)e, (void)run;
	return 0;
}

static uint64_t sqrti(uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e,
		      struct nsbpf_vm_run *run)
{
	uint64_t lo = 0, hi = a < 2 ? a : (a >> 1) + 1;

	(void)b, (void)c, (void)d, (void)e, (void)run;
	/* integer square root by bisection: no floating point in a helper */
	while (lo < hi) {
		uint64_t mid = lo + (hi - lo + 1) / 2;

		if (mid <= a / mid)
			lo = mid;
		else
			hi = mid - 1;
	}
	return lo;
}

static uint64_t return_r1(uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e,
			  struct nsbpf_vm_run *run)
{
	(void)b, (void)c, (void)d, (void)e, (void)run;
	return a;
}

static const struct nsbpf_vm_helper test_helpers[] = {
	[0] = { gather_bytes, "gather_bytes", NSBPF_VM_HELPER_PLAIN },
	[1] = { memfrob, "memfrob", NSBPF_VM_HELPER_PLAIN },
	[2] = { no_op, "no_op", NSBPF_VM_HELPER_PLAIN },
	[3] = { sqrti, "sqrti", NSBPF_VM_HELPER_PLAIN },
	[5] = { return_r1, "unwind", NSBPF_VM_HELPER_PLAIN },
	[6] = { return_r1, "return_r1", NSBPF_VM_HELPER_PLAIN },
};

const struct nsbpf_vm_env test_env = {
	.sz = sizeof(struct nsbpf_vm_env),
	.helpers = test_helpers,
	.nr_helpers = sizeof(test_helpers) / sizeof(test_helpers[0]),
};

int test_env_run(const struct nsbpf_insn *insns, uint32_t nr_insns, void *mem, size_t mem_len,
		 uint64_t budget, uint64_t *r0, char *err, size_t err_size)
{
	struct nsbpf_vm_prog *prog = NULL;
	struct nsbpf_vm_run *run;
	int ret;

	ret = nsbpf_vm_load(insns, nr_insns, &test_env, &prog, err, err_size);
	if (ret)
		return ret;
	run = malloc(sizeof(*run));
	if (!run) {
		ret = -ENOMEM;
		goto out_free_prog;
	}
	nsbpf_vm_run_init(run);
	run->insn_budget = budget;
	if (mem && mem_len) {
		nsbpf_vm_run_add_region(run, mem, mem_len, NSBPF_VM_RW);
		/* legacy packet loads read the same memory, as in uBPF's harness */
		run->ld_abs_data = mem;
		run->ld_abs_len = mem_len;
	}
	ret = nsbpf_vm_exec(prog, run, (uintptr_t)mem, mem_len, r0);
	if (ret && err && err_size)
		snprintf(err, err_size, "%s", run->err_msg);
	free(run);
out_free_prog:
	nsbpf_vm_prog_free(prog);
	return ret;
}
