// SPDX-License-Identifier: MIT
/*
 * fuzz_vm.c - fuzz target for the VM: arbitrary bytes become a program for
 * nsbpf_vm_load() and, whenever one loads, it runs under an instruction budget over a
 * small memory region. Whatever the bytes, the VM must reject or run them without
 * crashing, leaking or touching memory it was not given; the sanitizers see the latter
 * because the instructions and every buffer a program may reach are heap blocks of their
 * exact size. Beyond that the target checks what the API promises: load errors name an
 * instruction that exists, run errors come from the documented set with a message, and
 * the same input run again from the same state gives the same result.
 *
 * Input layout (bytes past the end read as zero):
 *   [0]   size of the memory region passed as r1/r2, 0..255 bytes (0: r1 = r2 = 0)
 *   [1]   options, OPT_* below
 *   [2]   instruction budget in units of 64 instructions, plus one unit
 *   [3]   seed of the initial contents of the memory
 *   [4..] instructions, 8 bytes each in struct nsbpf_insn layout; a partial one is dropped
 *
 * Helpers are test_env's (ids 0..6) and ids 7..10 below, which reach what the conformance
 * helpers do not: tail calls, callbacks, memory lent by a helper, helpers that fail.
 * ld_imm64 pseudo sources resolve through resolve(); a negative imm makes it fail.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "isa.h"
#include "nsbpf/vm.h"
#include "test_env.h"

#define HDR_SIZE 4
#define BUDGET_UNIT 64
#define MAP_SIZE 64   /* what a resolved map value points into */
#define GRANT_SIZE 32 /* what H_GRANT lends */

enum {
	OPT_READ_ONLY = 1, /* the memory region is read-only */
	OPT_PACKET = 2,	   /* the memory is also the packet of LD_ABS/LD_IND */
	OPT_RERUN = 4,	   /* exec a second time in the same run context */
};

/* Helper ids past test_env's. */
enum {
	H_TAIL_CALL = 7, /* bpf_tail_call(ctx, map, index): index 0 = self, 1 = `other` */
	H_CALLBACK,	 /* calls function r1 (r2 & 3) + 1 times with (r3, r4, r5) */
	H_GRANT,	 /* lends GRANT_SIZE bytes with flags r1 & 3, returns their address */
	H_FAIL,		 /* r1 odd: fails the run with -EPERM */
	NR_HELPERS,
};

#define require(cond)                                                                   \
	do {                                                                            \
		if (!(cond)) {                                                          \
			fprintf(stderr, "%s:%d: broken promise: %s\n", __FILE__, __LINE__, \
				#cond);                                                 \
			abort();                                                        \
		}                                                                       \
	} while (0)

/* State of the current input, for the helpers and env callbacks. */
static struct {
	const struct nsbpf_vm_prog *self;
	const struct nsbpf_vm_prog *other;
	uint8_t *map;
	uint8_t *grant;
} cur;

static uint64_t h_callback(uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4, uint64_t r5,
			   struct nsbpf_vm_run *run)
{
	const uint64_t args[5] = { r3, r4, r5, 0, 0 };
	uint64_t sum = 0, ret;

	/* as bpf_loop does: stop at the first failure, which the run then reports */
	for (uint64_t i = 0; i <= (r2 & 3); i++) {
		int err = nsbpf_vm_call_func(run, r1, args, &ret);

		if (err)
			return (uint64_t)(int64_t)err;
		sum += ret;
	}
	return sum;
}

static uint64_t h_grant(uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4, uint64_t r5,
			struct nsbpf_vm_run *run)
{
	(void)r2, (void)r3, (void)r4, (void)r5;
	if (nsbpf_vm_run_add_region(run, cur.grant, GRANT_SIZE, (uint32_t)r1 & NSBPF_VM_RW))
		return 0;
	return (uintptr_t)cur.grant;
}

static uint64_t h_fail(uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4, uint64_t r5,
		       struct nsbpf_vm_run *run)
{
	(void)r3, (void)r4, (void)r5;
	if (r1 & 1)
		nsbpf_vm_run_fail(run, -EPERM, "fuzz_fail %llu", (unsigned long long)r2);
	return r1;
}

static uint64_t h_unused(uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4, uint64_t r5,
			 struct nsbpf_vm_run *run)
{
	(void)r1, (void)r2, (void)r3, (void)r4, (void)r5, (void)run;
	/* a tail-call helper's function is never called: the VM asks env->tail_call */
	require(0);
	return 0;
}

static const struct nsbpf_vm_prog *tail_call(struct nsbpf_vm_run *run, uint64_t map,
					     uint64_t index)
{
	(void)run, (void)map;
	return index == 0 ? cur.self : index == 1 ? cur.other : NULL;
}

static int resolve(void *user, uint32_t insn_idx, uint8_t src_reg, int32_t imm,
		   int32_t next_imm, uint64_t *value)
{
	(void)user, (void)insn_idx;
	if (imm < 0)
		return -ENOENT;
	if (src_reg == ISA_PSEUDO_MAP_VALUE || src_reg == ISA_PSEUDO_MAP_IDX_VALUE)
		*value = (uintptr_t)cur.map + (uint32_t)next_imm % MAP_SIZE;
	else
		*value = (uint64_t)src_reg << 32 | (uint32_t)imm;
	return 0;
}

static struct nsbpf_vm_helper helpers[NR_HELPERS];
static struct nsbpf_vm_env env = {
	.sz = sizeof(struct nsbpf_vm_env),
	.helpers = helpers,
	.nr_helpers = NR_HELPERS,
	.resolve_imm64 = resolve,
	.tail_call = tail_call,
};

/* The tail-call target `other`: tail-calls back to the caller (index 0), then r0 = 7. */
static const struct nsbpf_insn other_insns[] = {
	{ .code = 0xb7, .dst_reg = 2 },		  /* mov r2, 0 */
	{ .code = 0xb7, .dst_reg = 3 },		  /* mov r3, 0 */
	{ .code = 0x85, .imm = H_TAIL_CALL },	  /* call tail_call */
	{ .code = 0xb7, .dst_reg = 0, .imm = 7 }, /* mov r0, 7 */
	{ .code = 0x95 },			  /* exit */
};

static void init_once(void)
{
	struct nsbpf_vm_prog *other;

	if (cur.other)
		return;
	require(test_env.nr_helpers <= H_TAIL_CALL);
	memcpy(helpers, test_env.helpers, test_env.nr_helpers * sizeof(helpers[0]));
	helpers[H_TAIL_CALL] = (struct nsbpf_vm_helper){ h_unused, "tail_call",
							NSBPF_VM_HELPER_TAIL_CALL };
	helpers[H_CALLBACK] = (struct nsbpf_vm_helper){ h_callback, "callback",
						       NSBPF_VM_HELPER_PLAIN };
	helpers[H_GRANT] = (struct nsbpf_vm_helper){ h_grant, "grant", NSBPF_VM_HELPER_PLAIN };
	helpers[H_FAIL] = (struct nsbpf_vm_helper){ h_fail, "fail", NSBPF_VM_HELPER_PLAIN };
	require(nsbpf_vm_load(other_insns, sizeof(other_insns) / sizeof(other_insns[0]), &env,
			      &other, NULL, 0) == 0);
	/* kept for the life of the process */
	cur.other = other;
}

/* A load error is -EINVAL (or the resolver's) with one line naming a real instruction. */
static void check_load_error(int err, const char *log, uint32_t nr)
{
	unsigned int idx;
	size_t len = strlen(log);

	require(err == -EINVAL || err == -ENOENT);
	require(len > 0 && log[len - 1] != '\n');
	if (!nr) {
		require(strstr(log, "no instructions"));
		return;
	}
	require(sscanf(log, "insn %u: ", &idx) == 1);
	require(idx < nr);
}

struct outcome {
	int err;
	uint64_t r0;
	uint64_t insn_count;
	uint32_t err_pc;
};

struct input {
	uint8_t mem_len;
	uint8_t opts;
	uint64_t budget;
	uint8_t seed;
};

static void fill(uint8_t *p, size_t len, uint8_t seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(seed + i * 37);
}

/*
 * A fresh run context over freshly filled memory, as the input describes. Returns how many
 * regions it added: those stay across execs.
 */
static uint32_t prepare(struct nsbpf_vm_run *run, const struct input *in, uint8_t *mem)
{
	nsbpf_vm_run_init(run);
	run->insn_budget = in->budget;
	fill(mem, in->mem_len, in->seed);
	fill(cur.map, MAP_SIZE, (uint8_t)~in->seed);
	fill(cur.grant, GRANT_SIZE, (uint8_t)(in->seed ^ 0x5a));
	if (in->mem_len)
		require(!nsbpf_vm_run_add_region(run, mem, in->mem_len,
						 in->opts & OPT_READ_ONLY ? NSBPF_VM_READ :
									    NSBPF_VM_RW));
	require(!nsbpf_vm_run_add_region(run, cur.map, MAP_SIZE, NSBPF_VM_RW));
	if (in->opts & OPT_PACKET) {
		run->ld_abs_data = mem;
		run->ld_abs_len = in->mem_len;
	}
	return in->mem_len ? 2 : 1;
}

static struct outcome exec(const struct nsbpf_vm_prog *prog, struct nsbpf_vm_run *run,
			   const struct input *in, uint8_t *mem, uint32_t fixed)
{
	struct outcome o = { 0 };

	o.err = nsbpf_vm_exec(prog, run, (uintptr_t)mem, in->mem_len, &o.r0);
	o.insn_count = run->insn_count;
	o.err_pc = run->err_pc;
	switch (o.err) {
	case 0:
		require(run->err == 0);
		break;
	case -EFAULT: /* out of bounds, misaligned, or memfrob's bad buffer */
	case -E2BIG:  /* calls too deep */
	case -ELOOP:  /* budget */
	case -ENOENT: /* callx to nothing */
	case -EPERM:  /* H_FAIL */
		require(run->err == o.err);
		require(run->err_msg[0]);
		break;
	default:
		require(!"unexpected error from nsbpf_vm_exec");
	}
	if (o.err == -ELOOP)
		require(run->insn_count >= in->budget);
	require(memchr(run->err_msg, '\0', sizeof(run->err_msg)));
	require(run->prog == NULL);
	/* the embedder's regions stay; a helper's grants come on top, until the next exec */
	require(run->nr_fixed_regions == fixed);
	require(run->nr_regions >= fixed && run->nr_regions <= NSBPF_VM_MAX_REGIONS);
	return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t hdr[HDR_SIZE] = { 0 };
	struct input in;
	size_t nr = size > HDR_SIZE ? (size - HDR_SIZE) / sizeof(struct nsbpf_insn) : 0;
	struct nsbpf_insn *insns = NULL;
	struct nsbpf_vm_prog *prog = NULL;
	struct nsbpf_vm_run *run = NULL;
	uint8_t *mem = NULL, *mem_after = NULL, *map_after = NULL;
	struct outcome first, again;
	uint32_t fixed;
	char log[256];
	int err;

	init_once();
	memcpy(hdr, data, size < HDR_SIZE ? size : HDR_SIZE);
	in.mem_len = hdr[0];
	in.opts = hdr[1];
	in.budget = (uint64_t)(hdr[2] + 1) * BUDGET_UNIT;
	in.seed = hdr[3];

	/* exact-size copies: reading past the program or the memory is a sanitizer report */
	if (nr) {
		insns = malloc(nr * sizeof(*insns));
		require(insns);
		memcpy(insns, data + HDR_SIZE, nr * sizeof(*insns));
	}
	cur.map = malloc(MAP_SIZE);
	cur.grant = malloc(GRANT_SIZE);
	require(cur.map && cur.grant);

	memset(log, 0, sizeof(log));
	err = nsbpf_vm_load(insns, (uint32_t)nr, &env, &prog, log, sizeof(log));
	if (err) {
		require(prog == NULL);
		check_load_error(err, log, (uint32_t)nr);
		goto out;
	}
	require(prog && nsbpf_vm_prog_len(prog) == nr);
	require(nsbpf_vm_prog_user(prog) == NULL);
	cur.self = prog;

	run = malloc(sizeof(*run));
	mem = in.mem_len ? malloc(in.mem_len) : NULL;
	mem_after = malloc(in.mem_len + 1);
	map_after = malloc(MAP_SIZE);
	require(run && (mem || !in.mem_len) && mem_after && map_after);

	fixed = prepare(run, &in, mem);
	first = exec(prog, run, &in, mem, fixed);
	if (in.mem_len)
		memcpy(mem_after, mem, in.mem_len);
	memcpy(map_after, cur.map, MAP_SIZE);
	if (in.opts & OPT_RERUN) {
		/* same context, stack left as it was, grants dropped: only the promises hold */
		fill(cur.grant, GRANT_SIZE, 0);
		exec(prog, run, &in, mem, fixed);
	}

	/* the same input from the same state must give the same result */
	fixed = prepare(run, &in, mem);
	again = exec(prog, run, &in, mem, fixed);
	require(again.err == first.err);
	require(again.r0 == first.r0);
	require(again.insn_count == first.insn_count);
	if (first.err)
		require(again.err_pc == first.err_pc);
	require(!in.mem_len || !memcmp(mem_after, mem, in.mem_len));
	require(!memcmp(map_after, cur.map, MAP_SIZE));

out:
	cur.self = NULL;
	nsbpf_vm_prog_free(prog);
	free(insns);
	free(run);
	free(mem);
	free(mem_after);
	free(map_after);
	free(cur.map);
	free(cur.grant);
	cur.map = cur.grant = NULL;
	return 0;
}
