/* SPDX-License-Identifier: MIT */
/*
 * test_env.h - the VM environment that conformance-style runs use (the .data runner, the
 * bpf_conformance plugin, the fuzzer): the helpers those suites expect, and running a
 * program over one block of input memory as r1 (pointer) and r2 (length).
 */
#ifndef NSBPF_TESTS_TEST_ENV_H
#define NSBPF_TESTS_TEST_ENV_H

#include <stddef.h>
#include <stdint.h>

#include "nsbpf/vm.h"

/*
 * Helper ids of the conformance suites (uBPF's test harness): 0 gather_bytes,
 * 1 memfrob, 2 no_op, 3 sqrti, 4 strcmp_ext, 5 unwind (returns r1), 6 "return r1".
 */
extern const struct nsbpf_vm_env test_env;

/*
 * Loads insns, runs them once over mem (RW region, passed as r1/r2; NULL/0 for none)
 * with an instruction budget, and stores r0. On failure returns a negative errno and
 * writes the validator's or the interpreter's message to err.
 */
int test_env_run(const struct nsbpf_insn *insns, uint32_t nr_insns, void *mem, size_t mem_len,
		 uint64_t budget, uint64_t *r0, char *err, size_t err_size);

#endif /* NSBPF_TESTS_TEST_ENV_H */
