// SPDX-License-Identifier: MIT
/*
 * plugin.c - nsbpf-conformance-plugin: runs one program for the bpf_conformance suite's
 * runner (github.com/Alan-Jowett/bpf_conformance), which starts a plugin once per test.
 *
 * Protocol: the program's bytes in hex (whitespace-separated pairs) on the first line of
 * stdin, or after `--program`; the input memory in hex as the next argument. The program
 * runs with r1 = memory, r2 = its length; r0 is printed in hex on stdout. A program that
 * fails to load or run exits 1 with the reason on stderr.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_env.h"

#define RUN_BUDGET 100000000ull

/* Decodes "b7 00 ..." (any whitespace; pairs may also be run together) into bytes. */
static int hex_decode(const char *text, uint8_t **out, size_t *len)
{
	size_t cap = strlen(text) / 2 + 1, n = 0;
	uint8_t *buf = malloc(cap);
	int hi = -1;

	if (!buf)
		return -ENOMEM;
	for (const char *p = text; *p; p++) {
		int v;

		if (*p >= '0' && *p <= '9')
			v = *p - '0';
		else if (*p >= 'a' && *p <= 'f')
			v = *p - 'a' + 10;
		else if (*p >= 'A' && *p <= 'F')
			v = *p - 'A' + 10;
		else if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
			continue;
		else
			goto err_free;
		if (hi < 0) {
			hi = v;
		} else {
			buf[n++] = (uint8_t)(hi << 4 | v);
			hi = -1;
		}
	}
	if (hi >= 0)
		goto err_free;
	*out = buf;
	*len = n;
	return 0;

err_free:
	free(buf);
	return -EINVAL;
}

static char *read_line(FILE *f)
{
	size_t cap = 0;
	char *line = NULL;

	if (getline(&line, &cap, f) < 0) {
		free(line);
		return NULL;
	}
	return line;
}

int main(int argc, char **argv)
{
	const char *program_text = NULL, *memory_text = "";
	char *stdin_line = NULL, err[256] = "";
	uint8_t *code = NULL, *mem = NULL;
	size_t code_len = 0, mem_len = 0;
	uint64_t r0 = 0;
	int i = 1, ret = 1;

	if (i < argc && !strcmp(argv[i], "--help")) {
		fprintf(stderr, "usage: %s [--program HEX] [MEMORY_HEX]\n", argv[0]);
		return 1;
	}
	if (i + 1 < argc && !strcmp(argv[i], "--program")) {
		program_text = argv[i + 1];
		i += 2;
	}
	if (i < argc && strncmp(argv[i], "--", 2))
		memory_text = argv[i++];
	if (i < argc) {
		fprintf(stderr, "unexpected argument: %s\n", argv[i]);
		return 1;
	}
	if (!program_text) {
		stdin_line = read_line(stdin);
		if (!stdin_line) {
			fprintf(stderr, "no program on stdin\n");
			return 1;
		}
		program_text = stdin_line;
	}
	if (hex_decode(program_text, &code, &code_len) || code_len % sizeof(struct nsbpf_insn)) {
		fprintf(stderr, "program is not a whole number of instructions in hex\n");
		goto out;
	}
	if (hex_decode(memory_text, &mem, &mem_len)) {
		fprintf(stderr, "memory is not hex\n");
		goto out;
	}
	if (test_env_run((const struct nsbpf_insn *)code, code_len / sizeof(struct nsbpf_insn),
			 mem_len ? mem : NULL, mem_len, RUN_BUDGET, &r0, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		goto out;
	}
	printf("%llx\n", (unsigned long long)r0);
	ret = 0;
out:
	free(code);
	free(mem);
	free(stdin_line);
	return ret;
}
