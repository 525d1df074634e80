/* SPDX-License-Identifier: MIT */
/*
 * vm_internal.h - what the VM's files share and nobody else sees: the pre-decoded
 * program, the validator's and interpreter's entry points.
 */
#ifndef NSBPF_VM_INTERNAL_H
#define NSBPF_VM_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "isa.h"
#include "nsbpf/vm.h"

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

/*
 * One pre-decoded instruction: the address of its handler in the interpreter (threaded
 * dispatch) and its operands. The second slot of an lddw holds the resolved 64-bit
 * immediate in place of a handler; validation guarantees nothing jumps there.
 */
struct vm_op {
	union {
		const void *handler;
		uint64_t imm64;
	};
	uint8_t dst;
	uint8_t src;
	int16_t off;
	int32_t imm;
};

_Static_assert(sizeof(struct vm_op) == 16, "vm_op must stay two words");

struct nsbpf_vm_prog {
	uint32_t len;
	struct vm_op *ops; /* len entries, owned */
	uint8_t *is_func;  /* len flags: instruction i starts a subprogram (0 included), owned */
	const struct nsbpf_vm_helper *helpers; /* borrowed from the env, must outlive us */
	uint32_t nr_helpers;
	const struct nsbpf_vm_prog *(*tail_call)(struct nsbpf_vm_run *run, uint64_t map,
						 uint64_t index);
	void *user;
};

/* Result of validation: the op of every instruction and where subprograms start. */
struct vm_validated {
	enum isa_op *op;  /* per instruction; ISA_OP_INVALID for lddw second halves */
	uint8_t *is_func; /* per instruction */
};

/* Checks every rule of a loadable program (see validate.c). -EINVAL with a log line. */
int vm_validate(const struct nsbpf_insn *insns, uint32_t len, const struct nsbpf_vm_env *env,
		struct vm_validated *out, char *log, size_t log_size);

/* The interpreter's handler address for each op (threaded dispatch). */
const void *const *vm_interp_handlers(void);

/*
 * Runs from `entry` in a fresh frame below the run->depth frames already in use, with r1
 * and r2 given and, for a callback (depth > 0), r3..r5 from run->callback_args. Returns 0
 * or a negative errno (details in run).
 */
int vm_interp(const struct nsbpf_vm_prog *prog, struct nsbpf_vm_run *run,
	      const struct vm_op *entry, uint64_t r1, uint64_t r2, uint64_t *ret);

/* err_pc of a failure reported by a helper, until the interpreter knows the call's pc */
#define VM_ERR_PC_UNKNOWN UINT32_MAX

/* Failure reports shared by the interpreter and the helpers' API. */
void vm_fail(struct nsbpf_vm_run *run, int err, uint32_t pc, uintptr_t addr, const char *fmt,
	     ...) __attribute__((format(printf, 5, 6)));

#endif /* NSBPF_VM_INTERNAL_H */
