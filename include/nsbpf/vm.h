/* SPDX-License-Identifier: MIT */
/*
 * nsbpf/vm.h - the eBPF virtual machine on its own.
 *
 * The VM validates, pre-decodes and interprets programs of the BPF instruction set as
 * RFC 9669 defines it (plus the legacy LD_ABS/LD_IND packet loads and `callx`). It knows
 * nothing of kernel objects: helpers, pseudo ld_imm64 sources, tail calls and the memory a
 * program may touch come in through `struct nsbpf_vm_env` and `struct nsbpf_vm_run`, which
 * the BPF layer (or any embedder) fills.
 *
 * Order of calls:
 *   1. nsbpf_vm_load()        validate + pre-decode; the result is immutable and may be
 *                             executed from several threads at once.
 *   2. nsbpf_vm_run_init()    once per run context (it owns the program's stack);
 *      nsbpf_vm_run_add_region() for the memory the program may read or write.
 *   3. nsbpf_vm_exec()        any number of times; one run context per thread.
 *   4. nsbpf_vm_prog_free().
 *
 * Every function returns 0 or a negative errno.
 */
#ifndef NSBPF_VM_H
#define NSBPF_VM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One instruction; the same layout as the kernel's struct bpf_insn. */
struct nsbpf_insn {
	uint8_t code;
	uint8_t dst_reg : 4;
	uint8_t src_reg : 4;
	int16_t off;
	int32_t imm;
};

#define NSBPF_VM_MAX_INSNS (1u << 20)	 /* the kernel's BPF_COMPLEXITY_LIMIT_INSNS */
#define NSBPF_VM_STACK_SIZE 512		 /* bytes per frame, as MAX_BPF_STACK */
#define NSBPF_VM_MAX_FRAMES 8		 /* as MAX_CALL_FRAMES */
#define NSBPF_VM_MAX_TAIL_CALLS 33	 /* as MAX_TAIL_CALL_CNT */
#define NSBPF_VM_MAX_REGIONS 32
#define NSBPF_VM_MAX_HELPERS 512

struct nsbpf_vm_prog;
struct nsbpf_vm_run;

/*
 * A helper: called with r1..r5, returns r0. It may stop the run with
 * nsbpf_vm_run_fail() and may grant the program access to memory it returns with
 * nsbpf_vm_run_add_region(). Pointers coming from the program must be checked with
 * nsbpf_vm_run_check_access() before the helper touches them.
 */
typedef uint64_t (*nsbpf_vm_helper_fn)(uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4,
				       uint64_t r5, struct nsbpf_vm_run *run);

enum nsbpf_vm_helper_kind {
	NSBPF_VM_HELPER_PLAIN = 0,
	/* bpf_tail_call(ctx, prog_array, index): the VM asks env->tail_call for the target. */
	NSBPF_VM_HELPER_TAIL_CALL = 1,
};

struct nsbpf_vm_helper {
	nsbpf_vm_helper_fn fn; /* NULL: no helper with this id */
	const char *name;
	enum nsbpf_vm_helper_kind kind;
};

/*
 * What a program can reach outside itself; filled by the embedder. Copied by
 * nsbpf_vm_load(), except `helpers` and `user`, which must outlive the program.
 */
struct nsbpf_vm_env {
	size_t sz; /* sizeof(struct nsbpf_vm_env): lets the struct grow */
	const struct nsbpf_vm_helper *helpers; /* indexed by helper id */
	uint32_t nr_helpers;
	/*
	 * Resolves an ld_imm64 whose src_reg is a pseudo source other than BPF_PSEUDO_FUNC
	 * (map fd/idx, map value, BTF id) to the 64-bit value the program sees, at load time.
	 * NULL: such instructions are rejected with -EINVAL.
	 */
	int (*resolve_imm64)(void *user, uint32_t insn_idx, uint8_t src_reg, int32_t imm,
			     int32_t next_imm, uint64_t *value);
	/*
	 * Tail call target for (prog_array value as the program holds it, index), or NULL
	 * (the call then falls through, as in the kernel). Called during nsbpf_vm_exec().
	 */
	const struct nsbpf_vm_prog *(*tail_call)(struct nsbpf_vm_run *run, uint64_t map,
						 uint64_t index);
	void *user;
	uint32_t flags; /* NSBPF_VM_F_* */
};

enum nsbpf_vm_env_flags {
	/*
	 * Reject, with -EACCES and "R<n> !read_ok", a program that may read a register
	 * before writing it, as the kernel's verifier does: at entry only r1 (the context)
	 * and r10 are set, and every call leaves r1..r5 unset and r0 set. The analysis
	 * joins paths (a register is set only if every path sets it), so it may refuse a
	 * rare program the kernel's path-by-path exploration accepts.
	 */
	NSBPF_VM_F_CHECK_REGS = 1,
};

/*
 * Validates `insns` and pre-decodes them into *prog. On -EINVAL, `log` (if not NULL)
 * receives one line naming the offending instruction index.
 */
int nsbpf_vm_load(const struct nsbpf_insn *insns, uint32_t nr_insns,
		  const struct nsbpf_vm_env *env, struct nsbpf_vm_prog **prog, char *log,
		  size_t log_size);
void nsbpf_vm_prog_free(struct nsbpf_vm_prog *prog);
uint32_t nsbpf_vm_prog_len(const struct nsbpf_vm_prog *prog);
/* The embedder's pointer from env->user. */
void *nsbpf_vm_prog_user(const struct nsbpf_vm_prog *prog);

enum nsbpf_vm_region_flags {
	NSBPF_VM_READ = 1,
	NSBPF_VM_WRITE = 2,
	NSBPF_VM_RW = 3,
};

struct nsbpf_vm_region {
	uintptr_t start;
	uint64_t len;
	uint32_t flags;
};

/*
 * One execution context: the program's stack (all frames), the memory regions it may
 * touch, an optional instruction budget, and the reason of the last failure. Not
 * shared between threads while a program runs. Fields are read-only to embedders
 * except where marked.
 */
struct nsbpf_vm_run {
	_Alignas(16) uint8_t stack[NSBPF_VM_STACK_SIZE * NSBPF_VM_MAX_FRAMES];
	struct nsbpf_vm_region regions[NSBPF_VM_MAX_REGIONS];
	uint32_t nr_regions;
	uint32_t nr_fixed_regions; /* the first ones, kept across runs */
	uint32_t nr_lent_regions;  /* after them: for the next exec only */
	/*
	 * embedder: instructions allowed per exec; 0 = no limit. Checked at taken jumps,
	 * calls and helper calls (every loop takes one), so a run may overshoot it by one
	 * straight-line stretch before it is stopped with -ELOOP.
	 */
	uint64_t insn_budget;
	/* embedder: packet for legacy LD_ABS/LD_IND (skb data); NULL = those loads fail */
	const uint8_t *ld_abs_data;
	uint32_t ld_abs_len;
	/* embedder: opaque pointer for helpers */
	void *user;
	/* The running program (changes on tail calls), for helpers; NULL between runs. */
	const struct nsbpf_vm_prog *prog;
	uint32_t tail_calls;
	uint32_t depth;	     /* frames in use below the running one, for nsbpf_vm_call_func */
	uint64_t callback_args[3]; /* r3..r5 of a callback being entered */
	uint64_t insn_count; /* instructions executed by the last exec (lddw counts 2) */
	/* Set when nsbpf_vm_exec() fails. */
	int err;
	uint32_t err_pc;
	uintptr_t err_addr;
	char err_msg[160];
};

/* Zeroes the run context: no regions but the stack, no budget. */
void nsbpf_vm_run_init(struct nsbpf_vm_run *run);
/*
 * Grants the program access to [start, start+len). Regions added outside nsbpf_vm_exec()
 * stay until cleared; regions a helper adds during a run are dropped when the next exec
 * starts. -E2BIG when the table is full.
 */
int nsbpf_vm_run_add_region(struct nsbpf_vm_run *run, const void *start, uint64_t len,
			    uint32_t flags);
/*
 * Grants [start, start+len) to the next nsbpf_vm_exec() only (memory a program gets for one
 * run, such as its global data); dropped when that exec returns. Outside a run. -E2BIG when
 * the table is full, -EBUSY inside a run.
 */
int nsbpf_vm_run_lend_region(struct nsbpf_vm_run *run, const void *start, uint64_t len,
			     uint32_t flags);
/* Takes back what was lent and not yet used (a run that will not happen after all). */
void nsbpf_vm_run_drop_lent_regions(struct nsbpf_vm_run *run);
/* Drops every region (keeping the stack); for reusing a run context with new memory. */
void nsbpf_vm_run_clear_regions(struct nsbpf_vm_run *run);
/* 0 if the program may access [addr, addr+len) with `flags`, else -EFAULT. */
int nsbpf_vm_run_check_access(const struct nsbpf_vm_run *run, uintptr_t addr, uint64_t len,
			      uint32_t flags);
/* From a helper: stop the run; nsbpf_vm_exec() returns `err` (negative). */
void nsbpf_vm_run_fail(struct nsbpf_vm_run *run, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * Runs `prog` with r1 and r2 preset (r1 is usually the context) and stores r0 in *ret.
 * Returns 0, or a negative errno with run->err_msg naming the pc:
 *   -EFAULT  a load or store outside every allowed region, or misaligned where the
 *            kernel requires alignment (stack, atomics);
 *   -E2BIG   calls nested deeper than NSBPF_VM_MAX_FRAMES;
 *   -ELOOP   the instruction budget ran out;
 *   -ENOENT  callx to a helper that does not exist;
 *   any error a helper passed to nsbpf_vm_run_fail().
 */
int nsbpf_vm_exec(const struct nsbpf_vm_prog *prog, struct nsbpf_vm_run *run, uint64_t r1,
		  uint64_t r2, uint64_t *ret);

/*
 * Calls a subprogram of the running program (the value an ld_imm64 BPF_PSEUDO_FUNC
 * gave it) with r1..r5, as helpers that take callbacks do. Only from a helper.
 */
int nsbpf_vm_call_func(struct nsbpf_vm_run *run, uint64_t func, const uint64_t args[5],
		       uint64_t *ret);

/* Text assembly in the syntax of uBPF / bpf_conformance test files. */
/*
 * Assembles `src` (one instruction per line, `#` comments, `label:` lines) into a new
 * array in *insns (free() it). On -EINVAL, `err` gets "line N: reason".
 */
int nsbpf_vm_asm(const char *src, struct nsbpf_insn **insns, uint32_t *nr_insns, char *err,
		 size_t err_size);
/*
 * Writes instruction `idx` of `insns` as text into buf (no newline). Returns the number of
 * instructions consumed (2 for lddw), or -EINVAL if the instruction cannot be decoded.
 */
int nsbpf_vm_disasm_insn(const struct nsbpf_insn *insns, uint32_t nr_insns, uint32_t idx,
			 char *buf, size_t buf_size);

#ifdef __cplusplus
}
#endif
#endif /* NSBPF_VM_H */
