// SPDX-License-Identifier: MIT
/*
 * test_vm.c - unit tests of the VM's public API, one behaviour per test.
 *
 * Programs are written inline as struct nsbpf_insn arrays with the macros below, so each
 * test shows exactly the instructions it depends on. The tests cover what a conformance
 * suite cannot reach: the validator's diagnostics, memory regions and their lifetime,
 * helpers that fail or grant memory, tail calls, bpf-to-bpf calls and callbacks, the
 * instruction budget, ld_imm64 pseudo sources and the legacy packet loads.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "nsbpf/vm.h"
#include "test_env.h"
#include "vm_internal.h"

/* Instruction builders; names follow the kernel's BPF_* macros. */
/*
 * Brace initializers, so they can fill static arrays; `(struct nsbpf_insn)X` where an
 * expression is needed.
 */
#define INSN(c, d, s, o, i) { .code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i) }
#define MOV64_IMM(d, i) INSN(0xb7, d, 0, 0, i)
#define MOV64_REG(d, s) INSN(0xbf, d, s, 0, 0)
#define ADD64_IMM(d, i) INSN(0x07, d, 0, 0, i)
#define ADD64_REG(d, s) INSN(0x0f, d, s, 0, 0)
#define SUB64_REG(d, s) INSN(0x1f, d, s, 0, 0)
#define MUL64_IMM(d, i) INSN(0x27, d, 0, 0, i)
#define LDX_B(d, s, o) INSN(0x71, d, s, o, 0)
#define LDX_DW(d, s, o) INSN(0x79, d, s, o, 0)
#define ST_B(d, o, i) INSN(0x72, d, 0, o, i)
#define ST_DW(d, o, i) INSN(0x7a, d, 0, o, i)
#define STX_B(d, s, o) INSN(0x73, d, s, o, 0)
#define STX_DW(d, s, o) INSN(0x7b, d, s, o, 0)
#define JA(o) INSN(0x05, 0, 0, o, 0)
#define JEQ_IMM(d, i, o) INSN(0x15, d, 0, o, i)
#define JLT_IMM(d, i, o) INSN(0xa5, d, 0, o, i)
#define CALL(id) INSN(0x85, 0, 0, 0, id)
#define CALL_LOCAL(rel) INSN(0x85, 0, 1, 0, rel)
#define CALLX(d) INSN(0x8d, d, 0, 0, 0)
#define EXIT() INSN(0x95, 0, 0, 0, 0)
#define LDDW(d, src, lo, hi) INSN(0x18, d, src, 0, lo), INSN(0x00, 0, 0, 0, hi)
#define LDABS_B(i) INSN(0x30, 0, 0, 0, i)
#define LDABS_H(i) INSN(0x28, 0, 0, 0, i)
#define LDABS_W(i) INSN(0x20, 0, 0, 0, i)
#define LDIND_W(s, i) INSN(0x40, 0, s, 0, i)
#define ATOMIC64(d, s, o, op) INSN(0xdb, d, s, o, op)

#define N(a) ((uint32_t)(sizeof(a) / sizeof((a)[0])))

/* Helper ids of unit_env. */
enum {
	H_FAIL,		/* r1 != 0: nsbpf_vm_run_fail(r1, "helper says <r2>") */
	H_FAIL_SILENT,	/* fails with -EIO and no message */
	H_GET_MEM,	/* grants a 16-byte buffer with flags r1, returns its address */
	H_TAIL_CALL,	/* bpf_tail_call */
	H_CALLBACK,	/* calls function r1 with (r2, r3) via nsbpf_vm_call_func */
	H_COUNT,	/* counts its calls, returns r1 + 1 */
	H_CHECK_ACCESS, /* nsbpf_vm_run_check_access(r1, r2, r3) */
	H_LOOP,		/* calls function r1 with (i) for i in 0..r2, as bpf_loop; sums r0 */
	H_HOLE,		/* no helper: fn is NULL */
	NR_HELPERS,
};

/* What the helpers and env callbacks record; reached through run->user or env->user. */
struct ctx {
	uint8_t granted[16];
	int calls;
	int tail_calls_asked;
	uint64_t tail_map, tail_index;
	const struct nsbpf_vm_prog *tail_target;
	int callback_err;
	uint64_t callback_func_delta; /* added to the function value before calling it */
	int resolves;
	int resolve_err;
	uint32_t resolve_idx;
	uint8_t resolve_src;
	int32_t resolve_imm, resolve_next_imm;
};

static uint64_t h_fail(uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4, uint64_t r5,
		       struct nsbpf_vm_run *run)
{
	(void)r3, (void)r4, (void)r5;
	if (r1)
		nsbpf_vm_run_fail(run, (int)r1, "helper says %d", (int)r2);
	return 7;
}

static uint64_t h_fail_silent(uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4, uint64_t r5,
			      struct nsbpf_vm_run *run)
{
	(void)r1, (void)r2, (void)r3, (void)r4, (void)r5;
	nsbpf_vm_run_fail(run, -EIO, "%s", "");
	return 0;
}

static uint64_t h_get_mem(uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4, uint64_t r5,
			  struct nsbpf_vm_run *run)
{
	struct ctx *c = run->user;

	(void)r2, (void)r3, (void)r4, (void)r5;
	if (nsbpf_vm_run_add_region(run, c->granted, sizeof(c->granted), (uint32_t)r1))
		return 0;
	return (uintptr_t)c->granted;
}

static uint64_t h_tail_call(uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4, uint64_t r5,
			    struct nsbpf_vm_run *run)
{
	(void)r1, (void)r2, (void)r3, (void)r4, (void)r5, (void)run;
	fail_msg("the VM must not call the function of a tail-call helper");
	return 0;
}

static uint64_t h_callback(uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4, uint64_t r5,
			   struct nsbpf_vm_run *run)
{
	struct ctx *c = run->user;
	const uint64_t args[5] = { r2, r3, 0, 0, 0 };
	uint64_t ret = 0;

	(void)r4, (void)r5;
	c->callback_err = nsbpf_vm_call_func(run, r1 + c->callback_func_delta, args, &ret);
	return c->callback_err ? 0xdead : ret;
}

static uint64_t h_count(uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4, uint64_t r5,
			struct nsbpf_vm_run *run)
{
	struct ctx *c = run->user;

	(void)r2, (void)r3, (void)r4, (void)r5;
	c->calls++;
	return r1 + 1;
}

static uint64_t h_check_access(uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4, uint64_t r5,
			       struct nsbpf_vm_run *run)
{
	(void)r4, (void)r5;
	return (uint64_t)(int64_t)nsbpf_vm_run_check_access(run, r1, r2, (uint32_t)r3);
}

static uint64_t h_loop(uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4, uint64_t r5,
		       struct nsbpf_vm_run *run)
{
	struct ctx *c = run->user;
	uint64_t sum = 0;

	(void)r3, (void)r4, (void)r5;
	for (uint64_t i = 0; i < r2; i++) {
		const uint64_t args[5] = { i, 0, 0, 0, 0 };
		uint64_t ret;

		c->callback_err = nsbpf_vm_call_func(run, r1, args, &ret);
		if (c->callback_err)
			return 0xdead;
		sum += ret;
	}
	return sum;
}

static const struct nsbpf_vm_helper unit_helpers[NR_HELPERS] = {
	[H_FAIL] = { h_fail, "fail", NSBPF_VM_HELPER_PLAIN },
	[H_FAIL_SILENT] = { h_fail_silent, "fail_silent", NSBPF_VM_HELPER_PLAIN },
	[H_GET_MEM] = { h_get_mem, "get_mem", NSBPF_VM_HELPER_PLAIN },
	[H_TAIL_CALL] = { h_tail_call, "tail_call", NSBPF_VM_HELPER_TAIL_CALL },
	[H_CALLBACK] = { h_callback, "callback", NSBPF_VM_HELPER_PLAIN },
	[H_COUNT] = { h_count, "count", NSBPF_VM_HELPER_PLAIN },
	[H_CHECK_ACCESS] = { h_check_access, "check_access", NSBPF_VM_HELPER_PLAIN },
	[H_LOOP] = { h_loop, "loop", NSBPF_VM_HELPER_PLAIN },
};

static const struct nsbpf_vm_prog *tail_call_cb(struct nsbpf_vm_run *run, uint64_t map,
						uint64_t index)
{
	struct ctx *c = run->user;

	c->tail_calls_asked++;
	c->tail_map = map;
	c->tail_index = index;
	return c->tail_target;
}

static int resolve_cb(void *user, uint32_t insn_idx, uint8_t src_reg, int32_t imm,
		      int32_t next_imm, uint64_t *value)
{
	struct ctx *c = user;

	c->resolves++;
	c->resolve_idx = insn_idx;
	c->resolve_src = src_reg;
	c->resolve_imm = imm;
	c->resolve_next_imm = next_imm;
	if (c->resolve_err)
		return c->resolve_err;
	*value = 0xabc00000000ull + ((uint64_t)src_reg << 16) + (uint64_t)imm;
	return 0;
}

/* The environment most tests use: the helpers above, no resolver, the tail-call hook. */
static const struct nsbpf_vm_env unit_env = {
	.sz = sizeof(struct nsbpf_vm_env),
	.helpers = unit_helpers,
	.nr_helpers = NR_HELPERS,
	.tail_call = tail_call_cb,
};

/* A run context per test, on the heap: it holds 4 KiB of stack. */
struct fixture {
	struct nsbpf_vm_run run;
	struct ctx ctx;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	nsbpf_vm_run_init(&f->run);
	f->run.user = &f->ctx;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	free(*state);
	return 0;
}

static struct nsbpf_vm_prog *load_ok(const struct nsbpf_insn *insns, uint32_t n,
				     const struct nsbpf_vm_env *env)
{
	struct nsbpf_vm_prog *prog = NULL;
	char log[256] = "";
	int err = nsbpf_vm_load(insns, n, env, &prog, log, sizeof(log));

	if (err)
		fail_msg("load failed (%d): %s", err, log);
	assert_non_null(prog);
	assert_int_equal(nsbpf_vm_prog_len(prog), n);
	return prog;
}

/* Loads, runs once with r1/r2 and returns exec's result; r0 in *ret. */
static int run_prog(struct fixture *f, const struct nsbpf_insn *insns, uint32_t n, uint64_t r1,
		    uint64_t r2, uint64_t *ret)
{
	struct nsbpf_vm_prog *prog = load_ok(insns, n, &unit_env);
	int err = nsbpf_vm_exec(prog, &f->run, r1, r2, ret);

	nsbpf_vm_prog_free(prog);
	return err;
}

static void add_region(struct nsbpf_vm_run *run, const void *p, uint64_t len, uint32_t flags)
{
	assert_int_equal(nsbpf_vm_run_add_region(run, p, len, flags), 0);
}

/* ---- validation ---- */

struct reject_case {
	const char *what;
	const struct nsbpf_insn *insns;
	uint32_t n;
	const struct nsbpf_vm_env *env;
	uint32_t idx;	     /* the instruction the log must name */
	const char *reason;  /* a substring of the log */
};

#define PROG(...)                                                   \
	.insns = (const struct nsbpf_insn[]){ __VA_ARGS__ },        \
	.n = sizeof((const struct nsbpf_insn[]){ __VA_ARGS__ }) /   \
	     sizeof(struct nsbpf_insn)

static const struct reject_case reject_cases[] = {
	{ "unknown opcode", PROG(MOV64_IMM(0, 0), INSN(0xff, 0, 0, 0, 0), EXIT()), &unit_env,
	  1, "unknown opcode 0xff" },
	{ "opcode without its discriminating value",
	  PROG(MOV64_IMM(0, 0), INSN(0x37, 0, 0, 2, 1), EXIT()), &unit_env, 1,
	  "invalid offset" },
	{ "bad dst register", PROG(MOV64_IMM(0, 0), MOV64_IMM(11, 0), EXIT()), &unit_env, 1,
	  "invalid register r11" },
	{ "bad src register", PROG(MOV64_IMM(0, 0), MOV64_REG(0, 12), EXIT()), &unit_env, 1,
	  "invalid register r12" },
	{ "r10 written by mov", PROG(MOV64_IMM(0, 0), MOV64_IMM(10, 0), EXIT()), &unit_env, 1,
	  "r10 is read only" },
	{ "r10 written by ldx", PROG(MOV64_IMM(0, 0), LDX_DW(10, 10, -8), EXIT()), &unit_env, 1,
	  "r10 is read only" },
	{ "r10 written by atomic fetch",
	  PROG(MOV64_IMM(0, 0), MOV64_IMM(0, 0), ATOMIC64(1, 10, 0, 0x01), EXIT()), &unit_env,
	  2, "r10 is read only" },
	{ "reserved src_reg", PROG(MOV64_IMM(0, 0), INSN(0xb7, 1, 3, 0, 0), EXIT()), &unit_env,
	  1, "reserved field src_reg" },
	{ "reserved off", PROG(MOV64_IMM(0, 0), INSN(0x07, 1, 0, 4, 0), EXIT()), &unit_env, 1,
	  "reserved field off" },
	{ "reserved imm of exit", PROG(MOV64_IMM(0, 0), INSN(0x95, 0, 0, 0, 1)), &unit_env, 1,
	  "reserved field imm" },
	{ "reserved dst_reg of ja", PROG(INSN(0x05, 2, 0, 0, 0), MOV64_IMM(0, 0), EXIT()),
	  &unit_env, 0, "reserved field dst_reg" },
	{ "jump past the end", PROG(MOV64_IMM(0, 0), JA(5), EXIT()), &unit_env, 1,
	  "jump out of range" },
	{ "jump before the start", PROG(MOV64_IMM(0, 0), JEQ_IMM(0, 0, -4), EXIT()), &unit_env,
	  1, "jump out of range to insn -2" },
	{ "jump into another subprogram",
	  PROG(CALL_LOCAL(2), JA(2), EXIT(), MOV64_IMM(0, 1), EXIT()), &unit_env, 1,
	  "jump out of range" },
	{ "jump into lddw", PROG(JA(1), LDDW(0, 0, 1, 2), EXIT()), &unit_env, 0,
	  "middle of lddw" },
	{ "fall off the end", PROG(MOV64_IMM(0, 0), MOV64_IMM(0, 1)), &unit_env, 1,
	  "fall off the end" },
	{ "conditional jump last", PROG(MOV64_IMM(0, 0), JEQ_IMM(0, 0, -2)), &unit_env, 1,
	  "fall off the end" },
	{ "subprogram falls off", PROG(CALL_LOCAL(1), EXIT(), MOV64_IMM(0, 1)), &unit_env, 2,
	  "fall off the end" },
	{ "lddw missing half", PROG(MOV64_IMM(0, 0), INSN(0x18, 0, 0, 0, 1)), &unit_env, 1,
	  "missing its second half" },
	{ "lddw bad second half", PROG(INSN(0x18, 0, 0, 0, 1), INSN(0x00, 1, 0, 0, 0), EXIT()),
	  &unit_env, 1, "second half of lddw" },
	{ "ld_imm64 unknown source", PROG(MOV64_IMM(0, 0), LDDW(0, 7, 1, 0), EXIT()), &unit_env,
	  1, "invalid ld_imm64 source 7" },
	{ "unknown helper id", PROG(MOV64_IMM(0, 0), CALL(NR_HELPERS), EXIT()), &unit_env, 1,
	  "unknown helper 9" },
	{ "helper slot without a function", PROG(MOV64_IMM(0, 0), CALL(H_HOLE), EXIT()),
	  &unit_env, 1, "unknown helper 8" },
	{ "negative helper id", PROG(MOV64_IMM(0, 0), CALL(-1), EXIT()), &unit_env, 1,
	  "unknown helper -1" },
	{ "helper without an env", PROG(MOV64_IMM(0, 0), CALL(0), EXIT()), NULL, 1,
	  "unknown helper 0" },
	{ "pseudo map fd without resolver",
	  PROG(MOV64_IMM(0, 0), MOV64_IMM(0, 0), LDDW(1, 1, 3, 0), EXIT()), &unit_env, 2,
	  "needs a resolver" },
	{ "pseudo map value without env", PROG(LDDW(1, 2, 3, 0), EXIT()), NULL, 0,
	  "needs a resolver" },
	{ "call local out of range", PROG(MOV64_IMM(0, 0), CALL_LOCAL(5), EXIT()), &unit_env, 1,
	  "out of range" },
	{ "pseudo func out of range", PROG(LDDW(1, 4, 9, 0), EXIT()), &unit_env, 0,
	  "function address out of range" },
};

static void test_validation_errors_name_the_insn(void **state)
{
	(void)state;
	for (size_t i = 0; i < N(reject_cases); i++) {
		const struct reject_case *rc = &reject_cases[i];
		struct nsbpf_vm_prog *prog = (struct nsbpf_vm_prog *)1;
		char log[256], prefix[32];
		int err;

		memset(log, 'x', sizeof(log));
		err = nsbpf_vm_load(rc->insns, rc->n, rc->env, &prog, log, sizeof(log));
		if (err != -EINVAL)
			fail_msg("%s: expected -EINVAL, got %d (%s)", rc->what, err, log);
		assert_null(prog);
		snprintf(prefix, sizeof(prefix), "insn %u: ", rc->idx);
		if (strncmp(log, prefix, strlen(prefix)) || !strstr(log, rc->reason))
			fail_msg("%s: log \"%s\" should start with \"%s\" and mention \"%s\"",
				 rc->what, log, prefix, rc->reason);
		/* one line, no trailing newline */
		assert_null(strchr(log, '\n'));
		/* the same rejection with no log buffer at all */
		assert_int_equal(nsbpf_vm_load(rc->insns, rc->n, rc->env, &prog, NULL, 0), -EINVAL);
	}
}

/*
 * A jump to instruction -1 is out of range like any other.
 * (A regression: -1 once doubled as "not a jump"; found by fuzz/vm, input kept in
 * fuzz/corpus/vm/regress_jump_to_minus_one.bin.)
 */
static void test_jump_to_insn_minus_one(void **state)
{
	const struct nsbpf_insn ja[] = { MOV64_IMM(0, 0), JA(-3), EXIT() };
	const struct nsbpf_insn jcc[] = { MOV64_IMM(0, 0), JEQ_IMM(0, 0, -3), EXIT() };
	const struct nsbpf_insn ja32[] = { MOV64_IMM(0, 0), INSN(0x06, 0, 0, 0, -3), EXIT() };
	const struct nsbpf_insn *progs[] = { ja, jcc, ja32 };
	struct nsbpf_vm_prog *prog = NULL;
	char log[128];

	(void)state;
	for (size_t i = 0; i < N(progs); i++) {
		assert_int_equal(nsbpf_vm_load(progs[i], 3, &unit_env, &prog, log, sizeof(log)),
				 -EINVAL);
		assert_null(prog);
		assert_int_equal(strncmp(log, "insn 1: ", 8), 0);
	}
}

static void test_validation_log_truncates(void **state)
{
	const struct nsbpf_insn insns[] = { MOV64_IMM(0, 0), INSN(0xff, 0, 0, 0, 0), EXIT() };
	struct nsbpf_vm_prog *prog;
	char log[8];

	(void)state;
	memset(log, 'x', sizeof(log));
	assert_int_equal(nsbpf_vm_load(insns, N(insns), &unit_env, &prog, log, sizeof(log)),
			 -EINVAL);
	assert_string_equal(log, "insn 1:");
}

static void test_empty_program(void **state)
{
	const struct nsbpf_insn insns[] = { EXIT() };
	struct nsbpf_vm_prog *prog;
	char log[128];

	(void)state;
	assert_int_equal(nsbpf_vm_load(insns, 0, &unit_env, &prog, log, sizeof(log)), -EINVAL);
	assert_non_null(strstr(log, "no instructions"));
	assert_null(prog);
	assert_int_equal(nsbpf_vm_load(NULL, 1, &unit_env, &prog, log, sizeof(log)), -EINVAL);
	assert_int_equal(nsbpf_vm_load(insns, 1, &unit_env, NULL, log, sizeof(log)), -EINVAL);
}

static void test_too_many_insns(void **state)
{
	struct fixture *f = *state;
	struct nsbpf_insn *insns = calloc(NSBPF_VM_MAX_INSNS + 1, sizeof(*insns));
	struct nsbpf_vm_prog *prog;
	char log[128];
	uint64_t r0 = 1;

	assert_non_null(insns);
	for (uint32_t i = 0; i < NSBPF_VM_MAX_INSNS; i++)
		insns[i] = (struct nsbpf_insn)MOV64_IMM(0, 0);
	insns[NSBPF_VM_MAX_INSNS - 1] = (struct nsbpf_insn)EXIT();
	insns[NSBPF_VM_MAX_INSNS] = (struct nsbpf_insn)EXIT();
	assert_int_equal(nsbpf_vm_load(insns, NSBPF_VM_MAX_INSNS + 1, &unit_env, &prog, log,
				       sizeof(log)),
			 -E2BIG);
	assert_null(prog);
	assert_non_null(strstr(log, "exceeds"));

	/* exactly the limit loads, and runs through every instruction */
	prog = load_ok(insns, NSBPF_VM_MAX_INSNS, &unit_env);
	assert_int_equal(nsbpf_vm_exec(prog, &f->run, 0, 0, &r0), 0);
	assert_int_equal(r0, 0);
	assert_int_equal(f->run.insn_count, NSBPF_VM_MAX_INSNS);
	nsbpf_vm_prog_free(prog);
	free(insns);
}

static void test_env_size_checked(void **state)
{
	const struct nsbpf_insn insns[] = { MOV64_IMM(0, 0), EXIT() };
	struct nsbpf_vm_env small = unit_env;
	struct nsbpf_vm_prog *prog;

	(void)state;
	small.sz = offsetof(struct nsbpf_vm_env, user);
	assert_int_equal(nsbpf_vm_load(insns, N(insns), &small, &prog, NULL, 0), -EINVAL);
	/* no env at all is fine for a program that needs none */
	prog = load_ok(insns, N(insns), NULL);
	assert_null(nsbpf_vm_prog_user(prog));
	nsbpf_vm_prog_free(prog);
}

/* ---- memory regions ---- */

static void test_read_only_region_rejects_stores(void **state)
{
	struct fixture *f = *state;
	uint8_t *buf = calloc(1, 8);
	const struct nsbpf_insn load[] = { LDX_B(0, 1, 3), EXIT() };
	const struct nsbpf_insn store[] = { MOV64_IMM(0, 0), ST_B(1, 3, 9), EXIT() };
	uint64_t r0 = 0;

	assert_non_null(buf);
	buf[3] = 0x5a;
	add_region(&f->run, buf, 8, NSBPF_VM_READ);
	assert_int_equal(run_prog(f, load, N(load), (uintptr_t)buf, 0, &r0), 0);
	assert_int_equal(r0, 0x5a);
	assert_int_equal(run_prog(f, store, N(store), (uintptr_t)buf, 0, &r0), -EFAULT);
	assert_int_equal(f->run.err, -EFAULT);
	assert_int_equal(f->run.err_pc, 1);
	assert_int_equal(f->run.err_addr, (uintptr_t)buf + 3);
	assert_non_null(strstr(f->run.err_msg, "pc 1"));
	assert_int_equal(buf[3], 0x5a);
	free(buf);
}

static void test_write_only_region_rejects_loads(void **state)
{
	struct fixture *f = *state;
	uint8_t *buf = calloc(1, 8);
	const struct nsbpf_insn store[] = { ST_B(1, 7, 9), MOV64_IMM(0, 1), EXIT() };
	const struct nsbpf_insn load[] = { LDX_B(0, 1, 7), EXIT() };
	uint64_t r0 = 0;

	assert_non_null(buf);
	add_region(&f->run, buf, 8, NSBPF_VM_WRITE);
	assert_int_equal(run_prog(f, store, N(store), (uintptr_t)buf, 0, &r0), 0);
	assert_int_equal(buf[7], 9);
	assert_int_equal(run_prog(f, load, N(load), (uintptr_t)buf, 0, &r0), -EFAULT);
	assert_int_equal(f->run.err_pc, 0);
	free(buf);
}

static void test_region_exact_fit_and_one_past(void **state)
{
	struct fixture *f = *state;
	/* heap-allocated at its exact size, so a sanitizer sees any access past it */
	uint64_t *buf = malloc(sizeof(*buf));
	const struct nsbpf_insn fits[] = {
		LDX_DW(0, 1, 0), ADD64_IMM(0, 1), STX_DW(1, 0, 0), EXIT(),
	};
	const struct nsbpf_insn past_end[] = { MOV64_IMM(0, 0), LDX_DW(0, 1, 1), EXIT() };
	const struct nsbpf_insn byte_past_end[] = { MOV64_IMM(0, 0), LDX_B(0, 1, 8), EXIT() };
	const struct nsbpf_insn before_start[] = { MOV64_IMM(0, 0), ST_B(1, -1, 0), EXIT() };
	uint64_t r0 = 0;

	assert_non_null(buf);
	*buf = 41;
	add_region(&f->run, buf, sizeof(*buf), NSBPF_VM_RW);
	assert_int_equal(run_prog(f, fits, N(fits), (uintptr_t)buf, 0, &r0), 0);
	assert_int_equal(r0, 42);
	assert_int_equal(*buf, 42);

	assert_int_equal(run_prog(f, past_end, N(past_end), (uintptr_t)buf, 0, &r0), -EFAULT);
	assert_int_equal(f->run.err_pc, 1);
	assert_int_equal(f->run.err_addr, (uintptr_t)buf + 1);

	assert_int_equal(run_prog(f, byte_past_end, N(byte_past_end), (uintptr_t)buf, 0, &r0),
			 -EFAULT);
	assert_int_equal(f->run.err_pc, 1);
	assert_int_equal(f->run.err_addr, (uintptr_t)buf + 8);

	assert_int_equal(run_prog(f, before_start, N(before_start), (uintptr_t)buf, 0, &r0),
			 -EFAULT);
	assert_int_equal(f->run.err_pc, 1);
	assert_int_equal(f->run.err_addr, (uintptr_t)buf - 1);
	assert_int_equal(*buf, 42);
	free(buf);
}

static void test_stack_bounds_and_alignment(void **state)
{
	struct fixture *f = *state;
	const struct nsbpf_insn top[] = { ST_DW(10, -8, 5), LDX_DW(0, 10, -8), EXIT() };
	const struct nsbpf_insn above[] = { MOV64_IMM(0, 0), LDX_B(0, 10, 0), EXIT() };
	const struct nsbpf_insn misaligned[] = { MOV64_IMM(0, 0), ST_DW(10, -12, 1), EXIT() };
	uint64_t r0 = 0;

	assert_int_equal(run_prog(f, top, N(top), 0, 0, &r0), 0);
	assert_int_equal(r0, 5);
	assert_int_equal(run_prog(f, above, N(above), 0, 0, &r0), -EFAULT);
	assert_int_equal(f->run.err_pc, 1);
	assert_int_equal(f->run.err_addr, (uintptr_t)f->run.stack + sizeof(f->run.stack));
	assert_int_equal(run_prog(f, misaligned, N(misaligned), 0, 0, &r0), -EFAULT);
	assert_non_null(strstr(f->run.err_msg, "misaligned"));
}

/* Regions the embedder adds between runs stay until cleared, whenever they are added. */
static void test_regions_outside_exec_persist(void **state)
{
	struct fixture *f = *state;
	uint8_t *a = calloc(1, 4), *b = calloc(1, 4);
	const struct nsbpf_insn insns[] = { LDX_B(0, 1, 0), EXIT() };
	uint64_t r0 = 0;

	assert_non_null(a);
	assert_non_null(b);
	a[0] = 0x77;
	b[0] = 0x88;
	add_region(&f->run, a, 4, NSBPF_VM_RW);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(run_prog(f, insns, N(insns), (uintptr_t)a, 0, &r0), 0);
		assert_int_equal(r0, 0x77);
	}
	/* added after a run has happened: just as permanent */
	assert_int_equal(run_prog(f, insns, N(insns), (uintptr_t)b, 0, &r0), -EFAULT);
	add_region(&f->run, b, 4, NSBPF_VM_READ);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(run_prog(f, insns, N(insns), (uintptr_t)b, 0, &r0), 0);
		assert_int_equal(r0, 0x88);
		assert_int_equal(run_prog(f, insns, N(insns), (uintptr_t)a, 0, &r0), 0);
		assert_int_equal(r0, 0x77);
	}
	assert_int_equal(f->run.nr_regions, 2);
	free(a);
	free(b);
}

/* Lent memory is the next exec's only; the fixed regions stay; what is dropped is gone. */
static void test_lent_regions_last_one_exec(void **state)
{
	struct fixture *f = *state;
	uint8_t *fixed = calloc(1, 4), *lent = calloc(1, 4);
	const struct nsbpf_insn insns[] = { LDX_B(0, 1, 0), EXIT() };
	uint64_t r0 = 0;

	assert_non_null(fixed);
	assert_non_null(lent);
	fixed[0] = 0x11;
	lent[0] = 0x22;
	add_region(&f->run, fixed, 4, NSBPF_VM_READ);
	assert_int_equal(nsbpf_vm_run_lend_region(&f->run, lent, 4, NSBPF_VM_READ), 0);
	assert_int_equal(run_prog(f, insns, N(insns), (uintptr_t)lent, 0, &r0), 0);
	assert_int_equal(r0, 0x22);
	/* the next exec does not have it, and still has the fixed one */
	assert_int_equal(run_prog(f, insns, N(insns), (uintptr_t)lent, 0, &r0), -EFAULT);
	assert_int_equal(run_prog(f, insns, N(insns), (uintptr_t)fixed, 0, &r0), 0);
	assert_int_equal(r0, 0x11);
	/* lent, then taken back before any exec */
	assert_int_equal(nsbpf_vm_run_lend_region(&f->run, lent, 4, NSBPF_VM_READ), 0);
	nsbpf_vm_run_drop_lent_regions(&f->run);
	assert_int_equal(run_prog(f, insns, N(insns), (uintptr_t)lent, 0, &r0), -EFAULT);
	assert_int_equal(f->run.nr_fixed_regions, 1);
	free(fixed);
	free(lent);
}

static void test_region_table(void **state)
{
	struct fixture *f = *state;
	static uint8_t bytes[NSBPF_VM_MAX_REGIONS + 1];
	const struct nsbpf_insn insns[] = { LDX_B(0, 1, 0), EXIT() };
	uint64_t r0 = 0;

	assert_int_equal(nsbpf_vm_run_add_region(&f->run, bytes, 1, 4), -EINVAL);
	assert_int_equal(nsbpf_vm_run_add_region(&f->run, (void *)(uintptr_t)-8, 16,
						 NSBPF_VM_READ),
			 -EINVAL);
	for (uint32_t i = 0; i < NSBPF_VM_MAX_REGIONS; i++)
		assert_int_equal(nsbpf_vm_run_add_region(&f->run, &bytes[i], 1, NSBPF_VM_READ), 0);
	assert_int_equal(nsbpf_vm_run_add_region(&f->run, &bytes[NSBPF_VM_MAX_REGIONS], 1,
						 NSBPF_VM_READ),
			 -E2BIG);
	bytes[NSBPF_VM_MAX_REGIONS - 1] = 3;
	assert_int_equal(run_prog(f, insns, N(insns),
				  (uintptr_t)&bytes[NSBPF_VM_MAX_REGIONS - 1], 0, &r0),
			 0);
	assert_int_equal(r0, 3);

	nsbpf_vm_run_clear_regions(&f->run);
	assert_int_equal(f->run.nr_regions, 0);
	assert_int_equal(run_prog(f, insns, N(insns), (uintptr_t)&bytes[0], 0, &r0), -EFAULT);
}

static void test_check_access(void **state)
{
	struct fixture *f = *state;
	struct nsbpf_vm_run *run = &f->run;
	uint8_t *ro = malloc(16), *rw = malloc(16);
	uintptr_t stack = (uintptr_t)run->stack, stack_end = stack + sizeof(run->stack);

	assert_non_null(ro);
	assert_non_null(rw);
	add_region(run, ro, 16, NSBPF_VM_READ);
	add_region(run, rw, 16, NSBPF_VM_RW);

	assert_int_equal(nsbpf_vm_run_check_access(run, (uintptr_t)ro, 16, NSBPF_VM_READ), 0);
	assert_int_equal(nsbpf_vm_run_check_access(run, (uintptr_t)ro, 16, NSBPF_VM_WRITE),
			 -EFAULT);
	assert_int_equal(nsbpf_vm_run_check_access(run, (uintptr_t)ro + 1, 16, NSBPF_VM_READ),
			 -EFAULT);
	assert_int_equal(nsbpf_vm_run_check_access(run, (uintptr_t)ro - 1, 2, NSBPF_VM_READ),
			 -EFAULT);
	assert_int_equal(nsbpf_vm_run_check_access(run, (uintptr_t)rw + 8, 8, NSBPF_VM_RW), 0);
	assert_int_equal(nsbpf_vm_run_check_access(run, (uintptr_t)rw + 8, 9, NSBPF_VM_RW),
			 -EFAULT);
	/*
	 * Outside any call, the outermost frame's 512 bytes are accessible; the frames
	 * below it are not in use, and nothing past the top is stack.
	 */
	assert_int_equal(nsbpf_vm_run_check_access(run, stack_end - NSBPF_VM_STACK_SIZE,
						   NSBPF_VM_STACK_SIZE, NSBPF_VM_RW),
			 0);
	assert_int_equal(nsbpf_vm_run_check_access(run, stack_end - NSBPF_VM_STACK_SIZE - 1, 1,
						   NSBPF_VM_READ),
			 -EFAULT);
	assert_int_equal(nsbpf_vm_run_check_access(run, stack, 8, NSBPF_VM_READ), -EFAULT);
	assert_int_equal(nsbpf_vm_run_check_access(run, stack_end - 1, 2, NSBPF_VM_READ),
			 -EFAULT);
	/* a length that wraps the address space */
	assert_int_equal(nsbpf_vm_run_check_access(run, (uintptr_t)rw, UINT64_MAX, NSBPF_VM_READ),
			 -EFAULT);
	free(ro);
	free(rw);
}

static void test_helper_check_access(void **state)
{
	struct fixture *f = *state;
	uint8_t *ro = malloc(16);
	/* r0 = check(ro, 16, READ) + 2 * check(ro, 16, WRITE) (negative errno each) */
	const struct nsbpf_insn insns[] = {
		MOV64_REG(6, 1),
		MOV64_IMM(2, 16),
		MOV64_IMM(3, NSBPF_VM_READ),
		CALL(H_CHECK_ACCESS),
		MOV64_REG(7, 0),
		MOV64_REG(1, 6),
		MOV64_IMM(2, 16),
		MOV64_IMM(3, NSBPF_VM_WRITE),
		CALL(H_CHECK_ACCESS),
		ADD64_REG(0, 0),
		ADD64_REG(0, 7),
		EXIT(),
	};
	uint64_t r0 = 0;

	assert_non_null(ro);
	add_region(&f->run, ro, 16, NSBPF_VM_READ);
	assert_int_equal(run_prog(f, insns, N(insns), (uintptr_t)ro, 0, &r0), 0);
	assert_int_equal((int64_t)r0, -2 * EFAULT);
	free(ro);
}

/* ---- helpers ---- */

static void test_helper_fail(void **state)
{
	struct fixture *f = *state;
	uint64_t *buf = calloc(1, sizeof(*buf));
	const struct nsbpf_insn insns[] = {
		MOV64_REG(6, 1), MOV64_IMM(1, -EPERM), MOV64_IMM(2, 99), CALL(H_FAIL),
		ST_DW(6, 0, 1), /* must not run */
		EXIT(),
	};
	uint64_t r0 = 0;

	assert_non_null(buf);
	add_region(&f->run, buf, sizeof(*buf), NSBPF_VM_RW);
	assert_int_equal(run_prog(f, insns, N(insns), (uintptr_t)buf, 0, &r0), -EPERM);
	assert_int_equal(f->run.err, -EPERM);
	assert_string_equal(f->run.err_msg, "helper says 99");
	assert_int_equal(*buf, 0);
	free(buf);
}

static void test_helper_fail_positive_and_silent(void **state)
{
	struct fixture *f = *state;
	const struct nsbpf_insn positive[] = {
		MOV64_IMM(1, 5), MOV64_IMM(2, 1), CALL(H_FAIL), EXIT(),
	};
	const struct nsbpf_insn silent[] = { MOV64_IMM(0, 0), CALL(H_FAIL_SILENT), EXIT() };
	const struct nsbpf_insn ok[] = { MOV64_IMM(1, 0), CALL(H_FAIL), EXIT() };
	uint64_t r0 = 0;

	/* a positive error is not an errno: the run fails with -EINVAL */
	assert_int_equal(run_prog(f, positive, N(positive), 0, 0, &r0), -EINVAL);
	/* without a message: the error and the pc of the call still come through */
	assert_int_equal(run_prog(f, silent, N(silent), 0, 0, &r0), -EIO);
	assert_int_equal(f->run.err, -EIO);
	assert_int_equal(f->run.err_pc, 1);
	/* and a failed run leaves no error behind for the next one */
	assert_int_equal(run_prog(f, ok, N(ok), 0, 0, &r0), 0);
	assert_int_equal(r0, 7);
	assert_int_equal(f->run.err, 0);
}

/*
 * A failing helper's run reports the pc of its call, like any other failure, not what an
 * earlier failure of the same context left in err_pc.
 */
static void test_helper_fail_sets_err_pc(void **state)
{
	struct fixture *f = *state;
	const struct nsbpf_insn fault[] = { MOV64_IMM(0, 0), LDX_B(0, 0, 0), EXIT() };
	const struct nsbpf_insn insns[] = {
		MOV64_IMM(0, 0), MOV64_IMM(1, -EPERM), MOV64_IMM(2, 1), CALL(H_FAIL), EXIT(),
	};
	uint64_t r0 = 0;

	assert_int_equal(run_prog(f, fault, N(fault), 0, 0, &r0), -EFAULT);
	assert_int_equal(f->run.err_pc, 1);
	assert_int_equal(run_prog(f, insns, N(insns), 0, 0, &r0), -EPERM);
	assert_int_equal(f->run.err_pc, 3);
}

static void test_helper_grants_memory_until_next_exec(void **state)
{
	struct fixture *f = *state;
	/* r0 = ((u8 *)get_mem(READ))[5] */
	const struct nsbpf_insn read[] = {
		MOV64_IMM(1, NSBPF_VM_READ), CALL(H_GET_MEM), LDX_B(0, 0, 5), EXIT(),
	};
	/* writing to read-only granted memory faults */
	const struct nsbpf_insn write[] = {
		MOV64_IMM(1, NSBPF_VM_READ), CALL(H_GET_MEM), ST_B(0, 5, 1), EXIT(),
	};
	/* reads the same memory through r1 without asking for it */
	const struct nsbpf_insn direct[] = { LDX_B(0, 1, 5), EXIT() };
	uint64_t r0 = 0;

	f->ctx.granted[5] = 0x3c;
	assert_int_equal(run_prog(f, direct, N(direct), (uintptr_t)f->ctx.granted, 0, &r0),
			 -EFAULT);
	assert_int_equal(run_prog(f, read, N(read), 0, 0, &r0), 0);
	assert_int_equal(r0, 0x3c);
	assert_int_equal(f->run.nr_regions, 1);
	/* the grant ends with the run that received it */
	assert_int_equal(run_prog(f, direct, N(direct), (uintptr_t)f->ctx.granted, 0, &r0),
			 -EFAULT);
	assert_int_equal(f->run.nr_regions, 0);
	assert_int_equal(run_prog(f, write, N(write), 0, 0, &r0), -EFAULT);
	assert_int_equal(f->run.err_pc, 2);
	assert_int_equal(f->ctx.granted[5], 0x3c);
}

static void test_helper_grant_keeps_fixed_regions(void **state)
{
	struct fixture *f = *state;
	uint8_t *fixed = calloc(1, 4);
	/* r0 = get_mem(READ)[5] + fixed[2] */
	const struct nsbpf_insn insns[] = {
		MOV64_REG(6, 1), MOV64_IMM(1, NSBPF_VM_READ), CALL(H_GET_MEM), LDX_B(0, 0, 5),
		LDX_B(7, 6, 2), ADD64_REG(0, 7), EXIT(),
	};
	uint64_t r0 = 0;

	assert_non_null(fixed);
	fixed[2] = 0x10;
	f->ctx.granted[5] = 0x01;
	add_region(&f->run, fixed, 4, NSBPF_VM_READ);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(run_prog(f, insns, N(insns), (uintptr_t)fixed, 0, &r0), 0);
		assert_int_equal(r0, 0x11);
		assert_int_equal(f->run.nr_regions, 2);
	}
	free(fixed);
}

static void test_callx(void **state)
{
	struct fixture *f = *state;
	const struct nsbpf_insn known[] = {
		MOV64_IMM(1, 41), MOV64_IMM(5, H_COUNT), CALLX(5), EXIT(),
	};
	const struct nsbpf_insn hole[] = {
		MOV64_IMM(0, 0), MOV64_IMM(5, H_HOLE), CALLX(5), EXIT(),
	};
	const struct nsbpf_insn beyond[] = {
		MOV64_IMM(0, 0), MOV64_IMM(5, -1), CALLX(5), EXIT(),
	};
	uint64_t r0 = 0;

	assert_int_equal(run_prog(f, known, N(known), 0, 0, &r0), 0);
	assert_int_equal(r0, 42);
	assert_int_equal(f->ctx.calls, 1);
	assert_int_equal(run_prog(f, hole, N(hole), 0, 0, &r0), -ENOENT);
	assert_int_equal(f->run.err_pc, 2);
	assert_int_equal(run_prog(f, beyond, N(beyond), 0, 0, &r0), -ENOENT);
}

/* ---- tail calls ---- */

/* Counts its own starts in the stack slot at r10-8 and tail-calls (map 77, index 3). */
static const struct nsbpf_insn self_tail_call[] = {
	LDX_DW(0, 10, -8),
	ADD64_IMM(0, 1),
	STX_DW(10, 0, -8),
	MOV64_IMM(2, 77),
	MOV64_IMM(3, 3),
	CALL(H_TAIL_CALL),
	LDX_DW(0, 10, -8),
	EXIT(),
};

static void test_tail_call_limit(void **state)
{
	struct fixture *f = *state;
	struct nsbpf_vm_prog *prog = load_ok(self_tail_call, N(self_tail_call), &unit_env);
	uint64_t r0 = 0;

	f->ctx.tail_target = prog;
	assert_int_equal(nsbpf_vm_exec(prog, &f->run, 0, 0, &r0), 0);
	/* the first start, then 33 tail calls; the 34th falls through */
	assert_int_equal(r0, 1 + NSBPF_VM_MAX_TAIL_CALLS);
	assert_int_equal(f->run.tail_calls, NSBPF_VM_MAX_TAIL_CALLS);
	assert_int_equal(f->ctx.tail_calls_asked, NSBPF_VM_MAX_TAIL_CALLS);
	assert_int_equal(f->ctx.tail_map, 77);
	assert_int_equal(f->ctx.tail_index, 3);
	/* every start runs 6 instructions up to the call; the last one 8 */
	assert_int_equal(f->run.insn_count, 6 * NSBPF_VM_MAX_TAIL_CALLS + 8);

	/* the limit is per exec: a new exec may tail-call 33 times again */
	memset(f->run.stack, 0, sizeof(f->run.stack));
	assert_int_equal(nsbpf_vm_exec(prog, &f->run, 0, 0, &r0), 0);
	assert_int_equal(r0, 1 + NSBPF_VM_MAX_TAIL_CALLS);
	nsbpf_vm_prog_free(prog);
}

static void test_tail_call_no_target_falls_through(void **state)
{
	struct fixture *f = *state;
	uint64_t r0 = 0;

	f->ctx.tail_target = NULL;
	assert_int_equal(run_prog(f, self_tail_call, N(self_tail_call), 0, 0, &r0), 0);
	assert_int_equal(r0, 1);
	assert_int_equal(f->ctx.tail_calls_asked, 1);
	assert_int_equal(f->run.tail_calls, 0);
}

static void test_tail_call_to_other_program(void **state)
{
	struct fixture *f = *state;
	/* keeps r1 (the context) and the stack, as the kernel does */
	const struct nsbpf_insn caller[] = {
		ST_DW(10, -16, 1000), MOV64_IMM(2, 0), MOV64_IMM(3, 0), CALL(H_TAIL_CALL),
		MOV64_IMM(0, -1), EXIT(),
	};
	const struct nsbpf_insn callee[] = {
		LDX_DW(0, 10, -16), ADD64_REG(0, 1), EXIT(),
	};
	struct nsbpf_vm_prog *a = load_ok(caller, N(caller), &unit_env);
	struct nsbpf_vm_prog *b = load_ok(callee, N(callee), &unit_env);
	uint64_t r0 = 0;

	f->ctx.tail_target = b;
	assert_int_equal(nsbpf_vm_exec(a, &f->run, 24, 0, &r0), 0);
	assert_int_equal(r0, 1024);
	assert_int_equal(f->run.tail_calls, 1);
	nsbpf_vm_prog_free(a);
	nsbpf_vm_prog_free(b);
}

/* ---- bpf-to-bpf calls ---- */

/*
 * `frames` subprograms, each adding 1 to r0 and calling the next: frame k is
 * { add r0, 1; call +1; exit } and the last one { add r0, 1; exit }.
 */
static uint32_t call_chain(struct nsbpf_insn *insns, uint32_t frames)
{
	uint32_t n = 0;

	for (uint32_t k = 0; k < frames; k++) {
		insns[n++] = (struct nsbpf_insn)ADD64_IMM(0, 1);
		if (k + 1 < frames)
			insns[n++] = (struct nsbpf_insn)CALL_LOCAL(1);
		insns[n++] = (struct nsbpf_insn)EXIT();
	}
	return n;
}

static void test_call_depth(void **state)
{
	struct fixture *f = *state;
	struct nsbpf_insn insns[3 * (NSBPF_VM_MAX_FRAMES + 1)];
	uint32_t n;
	uint64_t r0 = 0;

	n = call_chain(insns, NSBPF_VM_MAX_FRAMES);
	assert_int_equal(run_prog(f, insns, n, 0, 0, &r0), 0);
	assert_int_equal(r0, NSBPF_VM_MAX_FRAMES);

	n = call_chain(insns, NSBPF_VM_MAX_FRAMES + 1);
	assert_int_equal(run_prog(f, insns, n, 0, 0, &r0), -E2BIG);
	assert_int_equal(f->run.err, -E2BIG);
	/* the call in the 8th frame, which would open the 9th */
	assert_int_equal(f->run.err_pc, 3 * (NSBPF_VM_MAX_FRAMES - 1) + 1);
}

static void test_call_frames_have_own_stack(void **state)
{
	struct fixture *f = *state;
	/*
	 * main: [r10-8] = 111; r6 = r10; call f;
	 *       r0 = [r10-8] + (r6 - f's r10) * 1000 + (r6 - r10)
	 * f:    [r10-8] = 222; r6 = 0; r0 = r10
	 * 111 + 512000 means f had its own frame, left main's slot alone and r6 survived.
	 */
	const struct nsbpf_insn insns[] = {
		ST_DW(10, -8, 111),   /* 0 */
		MOV64_REG(6, 10),     /* 1 */
		CALL_LOCAL(9),	      /* 2 -> 12 */
		MOV64_REG(7, 0),      /* 3 */
		MOV64_REG(8, 6),      /* 4 */
		SUB64_REG(8, 7),      /* 5 */
		MUL64_IMM(8, 1000),   /* 6 */
		LDX_DW(0, 10, -8),    /* 7 */
		ADD64_REG(0, 8),      /* 8 */
		SUB64_REG(6, 10),     /* 9 */
		ADD64_REG(0, 6),      /* 10 */
		EXIT(),		      /* 11 */
		ST_DW(10, -8, 222),   /* 12: f */
		MOV64_IMM(6, 0),      /* 13 */
		MOV64_REG(0, 10),     /* 14 */
		EXIT(),		      /* 15 */
	};
	uint64_t r0 = 0;

	assert_int_equal(run_prog(f, insns, N(insns), 0, 0, &r0), 0);
	assert_int_equal(r0, 111 + NSBPF_VM_STACK_SIZE * 1000);
	/* f's slot lies one frame further down the shared stack */
	assert_int_equal(*(uint64_t *)&f->run.stack[sizeof(f->run.stack) - NSBPF_VM_STACK_SIZE - 8],
			 222);
}

/* ---- instruction budget ---- */

/* r0 counts to 10: 1 + 10 * 2 + 1 = 22 instructions. */
static const struct nsbpf_insn loop10[] = {
	MOV64_IMM(0, 0),
	ADD64_IMM(0, 1),
	JLT_IMM(0, 10, -2),
	EXIT(),
};

static void test_insn_count_exact(void **state)
{
	struct fixture *f = *state;
	/* an lddw counts as two */
	const struct nsbpf_insn straight[] = {
		MOV64_IMM(0, 1), LDDW(1, 0, 2, 0), ADD64_REG(0, 1), JA(0), EXIT(),
	};
	uint64_t r0 = 0;

	assert_int_equal(run_prog(f, straight, N(straight), 0, 0, &r0), 0);
	assert_int_equal(r0, 3);
	assert_int_equal(f->run.insn_count, 6);

	assert_int_equal(run_prog(f, loop10, N(loop10), 0, 0, &r0), 0);
	assert_int_equal(r0, 10);
	assert_int_equal(f->run.insn_count, 22);

	/* a budget of exactly the count is enough */
	f->run.insn_budget = 22;
	assert_int_equal(run_prog(f, loop10, N(loop10), 0, 0, &r0), 0);
	assert_int_equal(f->run.insn_count, 22);
}

static void test_insn_budget_eloop(void **state)
{
	struct fixture *f = *state;
	/* loops forever */
	const struct nsbpf_insn forever[] = { MOV64_IMM(0, 0), ADD64_IMM(0, 1), JA(-2), EXIT() };
	uint64_t r0 = 0;

	f->run.insn_budget = 1000;
	assert_int_equal(run_prog(f, forever, N(forever), 0, 0, &r0), -ELOOP);
	assert_int_equal(f->run.err, -ELOOP);
	assert_true(f->run.insn_count > 1000);
	/* the overrun is at most the straight run between two checks */
	assert_true(f->run.insn_count <= 1000 + 3);
	assert_non_null(strstr(f->run.err_msg, "budget"));

	f->run.insn_budget = 10;
	assert_int_equal(run_prog(f, loop10, N(loop10), 0, 0, &r0), -ELOOP);
	assert_true(f->run.insn_count > 10);

	/* the budget is per exec, not cumulative */
	f->run.insn_budget = 30;
	for (int i = 0; i < 3; i++) {
		assert_int_equal(run_prog(f, loop10, N(loop10), 0, 0, &r0), 0);
		assert_int_equal(f->run.insn_count, 22);
	}
}

/* ---- ld_imm64 ---- */

static void test_ld_imm64_plain(void **state)
{
	struct fixture *f = *state;
	const struct nsbpf_insn insns[] = { LDDW(0, 0, 0x55667788, 0x11223344), EXIT() };
	const struct nsbpf_insn neg[] = { LDDW(0, 0, -1, 0), EXIT() };
	uint64_t r0 = 0;

	assert_int_equal(run_prog(f, insns, N(insns), 0, 0, &r0), 0);
	assert_int_equal(r0, 0x1122334455667788ull);
	/* the low half is not sign-extended */
	assert_int_equal(run_prog(f, neg, N(neg), 0, 0, &r0), 0);
	assert_int_equal(r0, 0xffffffffull);
}

static void test_ld_imm64_resolver(void **state)
{
	struct fixture *f = *state;
	struct nsbpf_vm_env env = unit_env;
	const struct nsbpf_insn insns[] = {
		MOV64_IMM(0, 0),
		LDDW(0, ISA_PSEUDO_MAP_VALUE, 12, 34),
		EXIT(),
	};
	struct nsbpf_vm_prog *prog;
	uint64_t r0 = 0;

	env.resolve_imm64 = resolve_cb;
	env.user = &f->ctx;
	prog = load_ok(insns, N(insns), &env);
	assert_ptr_equal(nsbpf_vm_prog_user(prog), &f->ctx);
	assert_int_equal(f->ctx.resolves, 1);
	assert_int_equal(f->ctx.resolve_idx, 1);
	assert_int_equal(f->ctx.resolve_src, ISA_PSEUDO_MAP_VALUE);
	assert_int_equal(f->ctx.resolve_imm, 12);
	assert_int_equal(f->ctx.resolve_next_imm, 34);
	/* resolved once, at load time */
	for (int i = 0; i < 2; i++) {
		assert_int_equal(nsbpf_vm_exec(prog, &f->run, 0, 0, &r0), 0);
		assert_int_equal(r0, 0xabc00000000ull + (ISA_PSEUDO_MAP_VALUE << 16) + 12);
	}
	assert_int_equal(f->ctx.resolves, 1);
	nsbpf_vm_prog_free(prog);
}

static void test_ld_imm64_resolver_error(void **state)
{
	struct fixture *f = *state;
	struct nsbpf_vm_env env = unit_env;
	const struct nsbpf_insn insns[] = {
		MOV64_IMM(0, 0), MOV64_IMM(0, 0), LDDW(1, ISA_PSEUDO_MAP_FD, 5, 0), EXIT(),
	};
	struct nsbpf_vm_prog *prog = NULL;
	char log[128] = "";

	env.resolve_imm64 = resolve_cb;
	env.user = &f->ctx;
	f->ctx.resolve_err = -EBADF;
	assert_int_equal(nsbpf_vm_load(insns, N(insns), &env, &prog, log, sizeof(log)), -EBADF);
	assert_null(prog);
	assert_int_equal(strncmp(log, "insn 2: ", 8), 0);
	/* a resolver that returns a positive value still fails the load */
	f->ctx.resolve_err = 1;
	assert_int_equal(nsbpf_vm_load(insns, N(insns), &env, &prog, log, sizeof(log)), -EINVAL);
	assert_null(prog);
}

/* ---- callbacks: BPF_PSEUDO_FUNC + nsbpf_vm_call_func ---- */

static void test_call_func_from_helper(void **state)
{
	struct fixture *f = *state;
	/*
	 * main: [r10-8] = 1000; r0 = callback(&cb, 5, 7) + [r10-8]
	 * cb(a, b): [r10-8] = 0; r0 = a * 3 + b
	 * cb runs in a frame of its own, so main's slot still holds 1000 afterwards.
	 */
	const struct nsbpf_insn insns[] = {
		ST_DW(10, -8, 1000),		/* 0 */
		LDDW(1, ISA_PSEUDO_FUNC, 7, 0), /* 1, 2: cb at 1 + 7 + 1 = 9 */
		MOV64_IMM(2, 5),		/* 3 */
		MOV64_IMM(3, 7),		/* 4 */
		CALL(H_CALLBACK),		/* 5 */
		LDX_DW(1, 10, -8),		/* 6 */
		ADD64_REG(0, 1),		/* 7 */
		EXIT(),				/* 8 */
		ST_DW(10, -8, 0),		/* 9: cb */
		MOV64_REG(0, 1),		/* 10 */
		MUL64_IMM(0, 3),		/* 11 */
		ADD64_REG(0, 2),		/* 12 */
		EXIT(),				/* 13 */
	};
	uint64_t r0 = 0;

	assert_int_equal(run_prog(f, insns, N(insns), 0, 0, &r0), 0);
	assert_int_equal(f->ctx.callback_err, 0);
	assert_int_equal(r0, 5 * 3 + 7 + 1000);
}

static void test_call_func_invalid(void **state)
{
	struct fixture *f = *state;
	const struct nsbpf_insn insns[] = {
		LDDW(1, ISA_PSEUDO_FUNC, 3, 0), /* 0, 1: cb at 0 + 3 + 1 = 4 */
		CALL(H_CALLBACK),		/* 2 */
		EXIT(),				/* 3: not a function entry */
		MOV64_IMM(0, 9),		/* 4: cb */
		EXIT(),				/* 5 */
	};
	const uint64_t deltas[] = {
		1,				  /* not the start of an instruction */
		(uint64_t)-sizeof(struct vm_op),  /* insn 3 */
		sizeof(struct vm_op) * 2,	  /* insn 6: past the end */
		(uint64_t)-(1ull << 40),	  /* nowhere near the program */
	};
	uint64_t r0 = 0;

	f->ctx.callback_func_delta = 0;
	assert_int_equal(run_prog(f, insns, N(insns), 0, 0, &r0), 0);
	assert_int_equal(f->ctx.callback_err, 0);
	assert_int_equal(r0, 9);
	for (size_t i = 0; i < N(deltas); i++) {
		f->ctx.callback_func_delta = deltas[i];
		f->ctx.callback_err = 0;
		assert_int_equal(run_prog(f, insns, N(insns), 0, 0, &r0), 0);
		assert_int_equal(f->ctx.callback_err, -EINVAL);
		assert_int_equal(r0, 0xdead);
	}
}

/*
 * A callback that faults fails the whole run, though the helper returns normally; err_pc
 * is the faulting instruction, as err_msg says.
 */
static void test_call_func_propagates_fault(void **state)
{
	struct fixture *f = *state;
	const struct nsbpf_insn insns[] = {
		LDDW(1, ISA_PSEUDO_FUNC, 3, 0), /* 0, 1: cb at 4 */
		CALL(H_CALLBACK),		/* 2 */
		EXIT(),				/* 3 */
		LDX_B(0, 0, 0),			/* 4: cb: load from address 0 */
		EXIT(),				/* 5 */
	};
	uint64_t r0 = 0;

	f->ctx.callback_func_delta = 0;
	assert_int_equal(run_prog(f, insns, N(insns), 0, 0, &r0), -EFAULT);
	assert_int_equal(f->ctx.callback_err, -EFAULT);
	assert_non_null(strstr(f->run.err_msg, "pc 4:"));
	assert_int_equal(f->run.err_pc, 4);
}

/*
 * A helper that calls a callback many times, as bpf_loop does, must be able to do so
 * however often the callback itself calls helpers: each call starts from the helper's own
 * frame.
 */
static void test_call_func_repeatedly(void **state)
{
	struct fixture *f = *state;
	const struct nsbpf_insn insns[] = {
		LDDW(1, ISA_PSEUDO_FUNC, 4, 0), /* 0, 1: cb at 5 */
		MOV64_IMM(2, 10),		/* 2 */
		CALL(H_LOOP),			/* 3 */
		EXIT(),				/* 4 */
		CALL(H_COUNT),			/* 5: cb(i) = i + 1 */
		EXIT(),				/* 6 */
	};
	uint64_t r0 = 0;

	assert_int_equal(run_prog(f, insns, N(insns), 0, 0, &r0), 0);
	assert_int_equal(f->ctx.callback_err, 0);
	assert_int_equal(f->ctx.calls, 10);
	assert_int_equal(r0, 55);
}

/*
 * The budget covers everything an exec runs, callbacks included.
 */
static void test_insn_budget_covers_callbacks(void **state)
{
	struct fixture *f = *state;
	const struct nsbpf_insn insns[] = {
		LDDW(1, ISA_PSEUDO_FUNC, 8, 0), /* 0, 1: cb at 9 */
		MOV64_IMM(2, 1),		/* 2 */
		CALL(H_LOOP),			/* 3 */
		MOV64_IMM(6, 0),		/* 4 */
		ADD64_IMM(6, 1),		/* 5 */
		JLT_IMM(6, 30, -2),		/* 6 */
		MOV64_REG(0, 6),		/* 7 */
		EXIT(),				/* 8 */
		MOV64_IMM(0, 0),		/* 9: cb, 62 instructions; main runs 67 */
		ADD64_IMM(0, 1),		/* 10 */
		JLT_IMM(0, 30, -2),		/* 11 */
		EXIT(),				/* 12 */
	};
	uint64_t r0 = 0;

	/* without a budget: the exact count of both */
	assert_int_equal(run_prog(f, insns, N(insns), 0, 0, &r0), 0);
	assert_int_equal(r0, 30);
	assert_int_equal(f->run.insn_count, 62 + 67);

	f->run.insn_budget = 100;
	assert_int_equal(run_prog(f, insns, N(insns), 0, 0, &r0), -ELOOP);
}

/* ---- legacy packet loads ---- */

static void test_ld_abs_ind(void **state)
{
	struct fixture *f = *state;
	static const uint8_t pkt[] = { 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88 };
	const struct nsbpf_insn insns[] = {
		LDABS_B(0),	   MOV64_REG(6, 0), LDABS_H(1), MUL64_IMM(6, 1 << 16),
		ADD64_REG(6, 0),   LDABS_W(4),	    MOV64_IMM(7, 32),
		MOV64_REG(8, 6),   INSN(0x6f, 8, 7, 0, 0), /* r8 <<= 32 */
		ADD64_REG(0, 8),   EXIT(),
	};
	const struct nsbpf_insn ind[] = { MOV64_IMM(1, 3), LDIND_W(1, 1), EXIT() };
	const struct nsbpf_insn last_fits[] = { LDABS_W(4), EXIT() };
	const struct nsbpf_insn one_past[] = {
		MOV64_IMM(0, 99), LDABS_W(5), MOV64_IMM(0, 99), EXIT(),
	};
	const struct nsbpf_insn ind_neg[] = {
		MOV64_IMM(1, -1), LDIND_W(1, 0), MOV64_IMM(0, 99), EXIT(),
	};
	uint64_t r0 = 0;

	f->run.ld_abs_data = pkt;
	f->run.ld_abs_len = sizeof(pkt);
	assert_int_equal(run_prog(f, insns, N(insns), 0, 0, &r0), 0);
	assert_int_equal(r0, 0x00112233ull << 32 | 0x55667788ull);
	assert_int_equal(run_prog(f, ind, N(ind), 0, 0, &r0), 0);
	assert_int_equal(r0, 0x55667788);
	assert_int_equal(run_prog(f, last_fits, N(last_fits), 0, 0, &r0), 0);
	assert_int_equal(r0, 0x55667788);
	/* out of the packet: the program ends at once with r0 = 0 */
	assert_int_equal(run_prog(f, one_past, N(one_past), 0, 0, &r0), 0);
	assert_int_equal(r0, 0);
	assert_int_equal(f->run.insn_count, 2);
	assert_int_equal(run_prog(f, ind_neg, N(ind_neg), 0, 0, &r0), 0);
	assert_int_equal(r0, 0);
	/* and so with no packet at all */
	f->run.ld_abs_data = NULL;
	f->run.ld_abs_len = 0;
	assert_int_equal(run_prog(f, last_fits, N(last_fits), 0, 0, &r0), 0);
	assert_int_equal(r0, 0);
}

static void test_ld_abs_in_subprogram_ends_program(void **state)
{
	struct fixture *f = *state;
	/* an out-of-packet load in a callee ends the whole program, not just the frame */
	const struct nsbpf_insn insns[] = {
		CALL_LOCAL(2), MOV64_IMM(0, 99), EXIT(),
		LDABS_B(100), /* 3: f */
		EXIT(),
	};
	static const uint8_t pkt[] = { 1, 2 };
	uint64_t r0 = 1;

	f->run.ld_abs_data = pkt;
	f->run.ld_abs_len = sizeof(pkt);
	assert_int_equal(run_prog(f, insns, N(insns), 0, 0, &r0), 0);
	assert_int_equal(r0, 0);
}

/* ---- independence of programs and run contexts ---- */

static void test_independent_runs(void **state)
{
	struct fixture *f = *state;
	struct nsbpf_vm_run *other = calloc(1, sizeof(*other));
	uint64_t *a = calloc(1, 8), *b = calloc(1, 8);
	/* [r1] += r2; r0 = [r1] */
	const struct nsbpf_insn add[] = {
		LDX_DW(0, 1, 0), ADD64_REG(0, 2), STX_DW(1, 0, 0), EXIT(),
	};
	struct nsbpf_vm_prog *p_add = load_ok(add, N(add), &unit_env);
	struct nsbpf_vm_prog *p_loop = load_ok(loop10, N(loop10), &unit_env);
	uint64_t r0 = 0;

	assert_non_null(other);
	assert_non_null(a);
	assert_non_null(b);
	nsbpf_vm_run_init(other);
	add_region(&f->run, a, 8, NSBPF_VM_RW);
	add_region(other, b, 8, NSBPF_VM_RW);
	other->insn_budget = 5;

	for (int i = 1; i <= 3; i++) {
		assert_int_equal(nsbpf_vm_exec(p_add, &f->run, (uintptr_t)a, 10, &r0), 0);
		assert_int_equal(r0, 10 * i);
		assert_int_equal(nsbpf_vm_exec(p_add, other, (uintptr_t)b, 1, &r0), 0);
		assert_int_equal(r0, i);
		/* the budget of one context does not apply to the other */
		assert_int_equal(nsbpf_vm_exec(p_loop, other, 0, 0, &r0), -ELOOP);
		assert_int_equal(nsbpf_vm_exec(p_loop, &f->run, 0, 0, &r0), 0);
		assert_int_equal(r0, 10);
		assert_int_equal(f->run.err, 0);
	}
	/* each context reaches only its own memory */
	assert_int_equal(nsbpf_vm_exec(p_add, other, (uintptr_t)a, 1, &r0), -EFAULT);
	assert_int_equal(nsbpf_vm_exec(p_add, &f->run, (uintptr_t)b, 1, &r0), -EFAULT);
	assert_int_equal(*a, 30);
	assert_int_equal(*b, 3);
	/* nothing runs any more */
	assert_null(f->run.prog);

	nsbpf_vm_prog_free(p_add);
	nsbpf_vm_prog_free(p_loop);
	free(other);
	free(a);
	free(b);
}

static void test_test_env_helpers(void **state)
{
	/* the shared conformance env: helper 0 gathers the low bytes of r1..r5 */
	const struct nsbpf_insn insns[] = {
		MOV64_IMM(1, 1), MOV64_IMM(2, 2), MOV64_IMM(3, 3), MOV64_IMM(4, 4),
		MOV64_IMM(5, 5), CALL(0), EXIT(),
	};
	uint64_t r0 = 0;
	char err[128];

	(void)state;
	assert_int_equal(test_env_run(insns, N(insns), NULL, 0, 100, &r0, err, sizeof(err)), 0);
	assert_int_equal(r0, 0x0102030405ull);
}


/*
 * NSBPF_VM_F_CHECK_REGS: reads of registers no path has set are refused with -EACCES, as
 * the kernel's verifier does ("R2 !read_ok"); without the flag the same programs load.
 */
static void test_check_regs(void **state)
{
	struct nsbpf_vm_env env = unit_env;
	const struct nsbpf_insn uninit_r2[] = { MOV64_REG(0, 2), EXIT() };
	const struct nsbpf_insn no_r0[] = { MOV64_IMM(1, 0), EXIT() };
	/* r1..r5 are unset after a call, r0 is set */
	const struct nsbpf_insn after_call[] = { CALL(H_COUNT), MOV64_REG(0, 1), EXIT() };
	/* r3 set on one path only */
	const struct nsbpf_insn one_path[] = { JEQ_IMM(1, 0, 1), MOV64_IMM(3, 1),
					       MOV64_REG(0, 3), EXIT() };
	const struct nsbpf_insn both_paths[] = { MOV64_IMM(3, 2), JEQ_IMM(1, 0, 1), MOV64_IMM(3, 1),
						 MOV64_REG(0, 3), EXIT() };
	/* a loop: r4 is set before it, and stays set around the back edge */
	const struct nsbpf_insn loop[] = { MOV64_IMM(4, 3), ADD64_IMM(4, -1), JEQ_IMM(4, 0, 1),
					   JA(-3), MOV64_REG(0, 4), EXIT() };
	/* a subprogram gets r1..r5 as arguments; r0 is set by the call */
	const struct nsbpf_insn subprog[] = { MOV64_IMM(2, 5), CALL_LOCAL(1), EXIT(),
					      MOV64_REG(0, 2), EXIT() };
	struct nsbpf_vm_prog *prog = NULL;
	char log[128];

	(void)state;
	env.flags = NSBPF_VM_F_CHECK_REGS;
	assert_int_equal(nsbpf_vm_load(uninit_r2, N(uninit_r2), &env, &prog, log, sizeof(log)),
			 -EACCES);
	assert_string_equal(log, "insn 0: R2 !read_ok");
	assert_int_equal(nsbpf_vm_load(no_r0, N(no_r0), &env, &prog, log, sizeof(log)), -EACCES);
	assert_string_equal(log, "insn 1: R0 !read_ok");
	assert_int_equal(nsbpf_vm_load(after_call, N(after_call), &env, &prog, log, sizeof(log)),
			 -EACCES);
	assert_string_equal(log, "insn 1: R1 !read_ok");
	assert_int_equal(nsbpf_vm_load(one_path, N(one_path), &env, &prog, log, sizeof(log)),
			 -EACCES);
	assert_string_equal(log, "insn 2: R3 !read_ok");

	assert_int_equal(nsbpf_vm_load(both_paths, N(both_paths), &env, &prog, log, sizeof(log)), 0);
	nsbpf_vm_prog_free(prog);
	assert_int_equal(nsbpf_vm_load(loop, N(loop), &env, &prog, log, sizeof(log)), 0);
	nsbpf_vm_prog_free(prog);
	assert_int_equal(nsbpf_vm_load(subprog, N(subprog), &env, &prog, log, sizeof(log)), 0);
	nsbpf_vm_prog_free(prog);

	/* the same programs load when the check is off */
	env.flags = 0;
	assert_int_equal(nsbpf_vm_load(uninit_r2, N(uninit_r2), &env, &prog, log, sizeof(log)), 0);
	nsbpf_vm_prog_free(prog);
	assert_int_equal(nsbpf_vm_load(after_call, N(after_call), &env, &prog, log, sizeof(log)), 0);
	nsbpf_vm_prog_free(prog);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_validation_errors_name_the_insn),
		T(test_check_regs),
		T(test_jump_to_insn_minus_one),
		T(test_validation_log_truncates),
		T(test_empty_program),
		T(test_too_many_insns),
		T(test_env_size_checked),
		T(test_read_only_region_rejects_stores),
		T(test_write_only_region_rejects_loads),
		T(test_region_exact_fit_and_one_past),
		T(test_stack_bounds_and_alignment),
		T(test_regions_outside_exec_persist),
		T(test_lent_regions_last_one_exec),
		T(test_region_table),
		T(test_check_access),
		T(test_helper_check_access),
		T(test_helper_fail),
		T(test_helper_fail_positive_and_silent),
		T(test_helper_fail_sets_err_pc),
		T(test_helper_grants_memory_until_next_exec),
		T(test_helper_grant_keeps_fixed_regions),
		T(test_callx),
		T(test_tail_call_limit),
		T(test_tail_call_no_target_falls_through),
		T(test_tail_call_to_other_program),
		T(test_call_depth),
		T(test_call_frames_have_own_stack),
		T(test_insn_count_exact),
		T(test_insn_budget_eloop),
		T(test_ld_imm64_plain),
		T(test_ld_imm64_resolver),
		T(test_ld_imm64_resolver_error),
		T(test_call_func_from_helper),
		T(test_call_func_invalid),
		T(test_call_func_propagates_fault),
		T(test_call_func_repeatedly),
		T(test_insn_budget_covers_callbacks),
		T(test_ld_abs_ind),
		T(test_ld_abs_in_subprogram_ends_program),
		T(test_independent_runs),
		T(test_test_env_helpers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
