// SPDX-License-Identifier: MIT
/*
 * fuzz_asm.c - fuzz target for the text assembler and the disassembler.
 *
 * The input up to its first NUL byte is assembly text for nsbpf_vm_asm() (when it holds a
 * bpf_conformance "-- asm" section, only that section, so the suite's files serve as
 * seeds). Whatever the text, the assembler must return a program or -EINVAL with
 * "line N: ..." naming a line that exists, and never crash or leak. A program it accepts
 * must disassemble instruction by instruction, and assembling that text again must give
 * back the same bytes; it is then loaded and run as test_env runs conformance programs.
 *
 * The bytes after the NUL are raw instructions for nsbpf_vm_disasm_insn(): each one it
 * accepts must assemble back to exactly its bytes, and the text must fit a buffer of its
 * exact length but not one byte less.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "nsbpf/vm.h"
#include "test_env.h"

#define TEXT_MAX 160 /* longer than any instruction's text */

#define require(cond)                                                                   \
	do {                                                                            \
		if (!(cond)) {                                                          \
			fprintf(stderr, "%s:%d: broken promise: %s\n", __FILE__, __LINE__, \
				#cond);                                                 \
			abort();                                                        \
		}                                                                       \
	} while (0)

static unsigned int count_lines(const char *s)
{
	unsigned int n = 1;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* Assembles `src`; on failure checks the message and returns the error. */
static int assemble(const char *src, struct nsbpf_insn **insns, uint32_t *nr)
{
	char err[128];
	unsigned int line;
	int ret;

	*insns = NULL;
	*nr = 0;
	memset(err, 'x', sizeof(err));
	ret = nsbpf_vm_asm(src, insns, nr, err, sizeof(err));
	if (!ret) {
		require(*insns);
		require(err[0] == '\0');
		return 0;
	}
	require(ret == -EINVAL);
	require(*insns == NULL);
	require(memchr(err, '\0', sizeof(err)));
	require(sscanf(err, "line %u: ", &line) == 1);
	require(line >= 1 && line <= count_lines(src));
	return ret;
}

/*
 * Disassembles insns[idx] into an exact-size heap block, checking that one byte less is
 * refused. Returns the number of instructions consumed and the text in *text (free it),
 * or the disassembler's error.
 */
static int disasm(const struct nsbpf_insn *insns, uint32_t nr, uint32_t idx, char **text)
{
	char buf[TEXT_MAX];
	size_t len;
	int n;

	*text = NULL;
	n = nsbpf_vm_disasm_insn(insns, nr, idx, buf, sizeof(buf));
	if (n < 0) {
		require(n == -EINVAL);
		return n;
	}
	require(n == 1 || n == 2);
	len = strlen(buf);
	require(len > 0 && len < sizeof(buf) - 1);
	require(!strchr(buf, '\n'));
	*text = malloc(len + 1);
	require(*text);
	require(nsbpf_vm_disasm_insn(insns, nr, idx, *text, len + 1) == n);
	require(!strcmp(*text, buf));
	if (len > 1) {
		char *small = malloc(len);

		require(small);
		require(nsbpf_vm_disasm_insn(insns, nr, idx, small, len) == -ENOSPC);
		free(small);
	}
	return n;
}

/* An assembled program: disassemble, reassemble, compare; then load and run it. */
static void check_program(const struct nsbpf_insn *insns, uint32_t nr)
{
	size_t size = (size_t)nr * TEXT_MAX + 1, used = 0;
	char *text = malloc(size);
	struct nsbpf_insn *again;
	uint32_t nr_again;
	uint8_t *mem;
	uint64_t r0;
	char err[256];

	require(text);
	text[0] = '\0';
	for (uint32_t i = 0; i < nr;) {
		char *line;
		int n = disasm(insns, nr, i, &line);

		/* everything the assembler writes, the disassembler can read */
		require(n > 0);
		used += (size_t)snprintf(text + used, size - used, "%s\n", line);
		free(line);
		i += (uint32_t)n;
	}
	require(assemble(text, &again, &nr_again) == 0);
	require(nr_again == nr);
	require(!memcmp(again, insns, nr * sizeof(*insns)));
	free(again);
	free(text);

	mem = malloc(64);
	require(mem);
	memset(mem, 0xa5, 64);
	test_env_run(insns, nr, mem, 64, 4096, &r0, err, sizeof(err));
	free(mem);
}

/* Raw instructions: whatever disassembles must assemble back to the same bytes. */
static void check_raw(const uint8_t *data, size_t size)
{
	uint32_t nr = (uint32_t)(size / sizeof(struct nsbpf_insn));
	struct nsbpf_insn *insns;

	if (!nr)
		return;
	insns = malloc(nr * sizeof(*insns));
	require(insns);
	memcpy(insns, data, nr * sizeof(*insns));
	for (uint32_t i = 0; i < nr; i++) {
		struct nsbpf_insn *back;
		uint32_t nr_back;
		char *text;
		int n = disasm(insns, nr, i, &text);

		if (n < 0)
			continue;
		if (assemble(text, &back, &nr_back)) {
			fprintf(stderr, "cannot assemble the disassembler's \"%s\"\n", text);
			require(0);
		}
		require(nr_back == (uint32_t)n);
		require(!memcmp(back, &insns[i], n * sizeof(*insns)));
		free(back);
		free(text);
	}
	free(insns);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, '\0', size);
	size_t text_len = nul ? (size_t)(nul - data) : size;
	char *src = malloc(text_len + 1);
	const char *section, *end;
	struct nsbpf_insn *insns;
	uint32_t nr;

	require(src);
	memcpy(src, data, text_len);
	src[text_len] = '\0';
	section = strstr(src, "-- asm\n");
	if (section) {
		section += strlen("-- asm\n");
		end = strstr(section, "\n--");
		if (end)
			src[end - src + 1] = '\0';
	} else {
		section = src;
	}
	if (!assemble(section, &insns, &nr)) {
		check_program(insns, nr);
		free(insns);
	}
	free(src);
	if (nul)
		check_raw(nul + 1, size - text_len - 1);
	return 0;
}
