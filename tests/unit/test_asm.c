// SPDX-License-Identifier: MIT
/*
 * test_asm.c - the assembler and the disassembler: every entry of the isa_ops table
 * round-trips through text, the syntax forms of the conformance files encode to the bytes
 * the ISA specifies, labels resolve in slots (lddw taking two), and each kind of bad input
 * is refused with its line number.
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

#include "isa.h"
#include "nsbpf/vm.h"
#include "test_env.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define INSN(c, d, s, o, i) \
	{ .code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i) }

static void assemble_ok(const char *src, struct nsbpf_insn **insns, uint32_t *nr)
{
	char err[256] = "";
	int ret = nsbpf_vm_asm(src, insns, nr, err, sizeof(err));

	if (ret)
		fail_msg("asm of \"%s\" failed with %d: %s", src, ret, err);
}

/* The instructions `src` assembles to must be exactly `expect`. */
static void check_asm(const char *src, const struct nsbpf_insn *expect, uint32_t nr_expect)
{
	struct nsbpf_insn *insns;
	uint32_t nr;

	assemble_ok(src, &insns, &nr);
	assert_int_equal(nr, nr_expect);
	for (uint32_t i = 0; i < nr; i++) {
		if (memcmp(&insns[i], &expect[i], sizeof(insns[i])))
			fail_msg("\"%s\" insn %u: got %02x %u %u %d %d, want %02x %u %u %d %d", src,
				 i, insns[i].code, insns[i].dst_reg, insns[i].src_reg, insns[i].off,
				 insns[i].imm, expect[i].code, expect[i].dst_reg, expect[i].src_reg,
				 expect[i].off, expect[i].imm);
	}
	free(insns);
}

static void check_asm_error(const char *src, const char *expect)
{
	struct nsbpf_insn *insns = NULL;
	char err[256] = "";
	uint32_t nr = 0;
	int ret;

	ret = nsbpf_vm_asm(src, &insns, &nr, err, sizeof(err));
	if (ret != -EINVAL || strcmp(err, expect))
		fail_msg("\"%.60s\": got %d \"%s\", want -EINVAL \"%s\"", src, ret, err, expect);
	assert_null(insns);
}

/* Operand values that reach every field's extremes. */
static const struct {
	uint8_t dst, src;
	int16_t off;
	int32_t imm;
} variants[] = {
	{ 1, 2, 4, 5 },
	{ 10, 0, -1, -1 },
	{ 0, 10, INT16_MIN, INT32_MIN },
	{ 9, 9, INT16_MAX, INT32_MAX },
	{ 3, 7, -32767, 0x12345678 },
	{ 5, 6, 0, (int32_t)0xffff0000 },
	{ 4, 3, 17, 65535 },
	{ 2, 1, -2, -65536 },
};

static void roundtrip(const struct nsbpf_insn *insns, uint32_t nr, const char *what)
{
	struct nsbpf_insn *back;
	char text[128], err[256] = "";
	uint32_t nr_back;
	int n, ret;

	n = nsbpf_vm_disasm_insn(insns, nr, 0, text, sizeof(text));
	if (n != (int)nr)
		fail_msg("%s: disasm returned %d, want %u", what, n, nr);
	ret = nsbpf_vm_asm(text, &back, &nr_back, err, sizeof(err));
	if (ret)
		fail_msg("%s: \"%s\" does not assemble: %s", what, text, err);
	if (nr_back != nr || memcmp(back, insns, nr * sizeof(*insns)))
		fail_msg("%s: \"%s\" assembles to other bytes", what, text);
	free(back);
}

static void test_roundtrip_every_op(void **state)
{
	(void)state;
	for (int op = 0; op < ISA_NR_OPS; op++) {
		const struct isa_op_desc *d = &isa_ops[op];

		for (size_t v = 0; v < ARRAY_SIZE(variants); v++) {
			struct nsbpf_insn insns[2] = { { .code = d->code } };
			char what[64];

			if (d->fields & ISA_DST)
				insns[0].dst_reg = variants[v].dst;
			if (d->fields & ISA_SRC && d->format != ISA_FMT_LDDW)
				insns[0].src_reg = variants[v].src;
			if (d->fields & ISA_OFF)
				insns[0].off = variants[v].off;
			if (d->fields & ISA_IMM)
				insns[0].imm = variants[v].imm;
			if (d->match == ISA_M_OFF)
				insns[0].off = (int16_t)d->match_value;
			else if (d->match == ISA_M_IMM)
				insns[0].imm = d->match_value;
			else if (d->match == ISA_M_SRC)
				insns[0].src_reg = (uint8_t)d->match_value;
			snprintf(what, sizeof(what), "%s variant %zu", d->mnemonic, v);
			if (d->format != ISA_FMT_LDDW) {
				roundtrip(insns, 1, what);
				continue;
			}
			/* every ld_imm64 source, with and without an upper half */
			for (uint8_t src = 0; src <= ISA_PSEUDO_MAX; src++) {
				insns[0].src_reg = src;
				insns[1].imm = variants[v].imm;
				roundtrip(insns, 2, what);
				insns[1].imm = 0;
				roundtrip(insns, 2, what);
			}
		}
	}
}

static void test_disasm_text(void **state)
{
	static const struct {
		struct nsbpf_insn insns[2];
		const char *text;
	} cases[] = {
		{ { INSN(0x07, 1, 0, 0, 5) }, "add r1, 5" },
		{ { INSN(0x61, 1, 2, 4, 0) }, "ldxw r1, [r2+4]" },
		{ { INSN(0x7b, 10, 1, -8, 0) }, "stxdw [r10-8], r1" },
		{ { INSN(0x62, 1, 0, 0, 5) }, "stw [r1], 5" },
		{ { INSN(0x15, 1, 0, 3, 0) }, "jeq r1, 0, +3" },
		{ { INSN(0x05, 0, 0, -2, 0) }, "ja -2" },
		{ { INSN(0x06, 0, 0, 0, 7) }, "ja32 +7" },
		{ { INSN(0x85, 0, 0, 0, 5) }, "call 5" },
		{ { INSN(0x85, 0, 1, 0, 4) }, "call local +4" },
		{ { INSN(0x8d, 2, 0, 0, 0) }, "callx r2" },
		{ { INSN(0x95, 0, 0, 0, 0) }, "exit" },
		{ { INSN(0x54, 1, 0, 0, 0xff00ff) }, "and32 r1, 0xff00ff" },
		{ { INSN(0xb7, 1, 0, 0, -1) }, "mov r1, -1" },
		{ { INSN(0xbf, 1, 2, 16, 0) }, "movsx1664 r1, r2" },
		{ { INSN(0xdb, 1, 2, 8, 0xe1) }, "lock xchg [r1+8], r2" },
		{ { INSN(0xc3, 1, 2, 0, 0x51) }, "lock fetch and32 [r1], r2" },
		{ { INSN(0x40, 0, 3, 0, 12) }, "ldindw r3, 12" },
		{ { INSN(0x18, 1, 0, 0, 0x55667788), INSN(0, 0, 0, 0, 0x11223344) },
		  "lddw r1, 0x1122334455667788" },
		{ { INSN(0x18, 1, 1, 0, 3), INSN(0, 0, 0, 0, 0) }, "lddw r1, map_fd 3" },
		{ { INSN(0x18, 2, 2, 0, 3), INSN(0, 0, 0, 0, 16) }, "lddw r2, map_value 3, 16" },
		{ { INSN(0x18, 2, 4, 0, -3), INSN(0, 0, 0, 0, 0) }, "lddw r2, func -3" },
	};
	char text[128];

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		uint32_t nr = cases[i].insns[0].code == 0x18 ? 2 : 1;
		int n = nsbpf_vm_disasm_insn(cases[i].insns, nr, 0, text, sizeof(text));

		assert_int_equal(n, (int)nr);
		assert_string_equal(text, cases[i].text);
	}
}

static void test_disasm_rejects(void **state)
{
	static const struct nsbpf_insn bad[] = {
		INSN(0x07, 1, 3, 0, 5),	 /* add r1, 5 with a src_reg */
		INSN(0x0f, 1, 2, 0, 9),	 /* add r1, r2 with an imm */
		INSN(0x07, 11, 0, 0, 5), /* r11 */
		INSN(0xff, 0, 0, 0, 0),	 /* no such opcode */
		INSN(0x37, 1, 0, 2, 5),	 /* div with off 2 */
		INSN(0xd4, 1, 0, 0, 8),	 /* le8 */
		INSN(0x85, 0, 3, 0, 1),	 /* call with src 3 */
		INSN(0x95, 0, 0, 1, 0),	 /* exit with an offset */
	};
	const struct nsbpf_insn lddw_bad_tail[] = { INSN(0x18, 1, 0, 0, 1),
						    INSN(0x07, 0, 0, 0, 0) };
	const struct nsbpf_insn lddw_bad_src[] = { INSN(0x18, 1, 7, 0, 1), INSN(0, 0, 0, 0, 0) };
	const struct nsbpf_insn exit_insn = INSN(0x95, 0, 0, 0, 0);
	char text[128];

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		assert_int_equal(nsbpf_vm_disasm_insn(&bad[i], 1, 0, text, sizeof(text)), -EINVAL);
	/* an lddw needs its second half, and a plain one */
	assert_int_equal(nsbpf_vm_disasm_insn(lddw_bad_tail, 1, 0, text, sizeof(text)), -EINVAL);
	assert_int_equal(nsbpf_vm_disasm_insn(lddw_bad_tail, 2, 0, text, sizeof(text)), -EINVAL);
	assert_int_equal(nsbpf_vm_disasm_insn(lddw_bad_src, 2, 0, text, sizeof(text)), -EINVAL);
	/* the second half alone is no instruction */
	assert_int_equal(nsbpf_vm_disasm_insn(lddw_bad_src, 2, 1, text, sizeof(text)), -EINVAL);
	assert_int_equal(nsbpf_vm_disasm_insn(&exit_insn, 1, 1, text, sizeof(text)), -EINVAL);
	assert_int_equal(nsbpf_vm_disasm_insn(&exit_insn, 1, 0, text, 4), -ENOSPC);
	assert_int_equal(nsbpf_vm_disasm_insn(&exit_insn, 1, 0, text, 5), 1);
}

/* Each syntax form of the conformance files, against the encoding RFC 9669 gives. */
static void test_encodings(void **state)
{
	static const struct {
		const char *src;
		struct nsbpf_insn insn;
	} cases[] = {
		{ "mov %r0, 1", INSN(0xb7, 0, 0, 0, 1) },
		{ "mov r0, 1", INSN(0xb7, 0, 0, 0, 1) },
		{ "mov r9, r10", INSN(0xbf, 9, 10, 0, 0) },
		{ "mov32 r1, 0xffffffff", INSN(0xb4, 1, 0, 0, -1) },
		{ "mov r1, -2147483648", INSN(0xb7, 1, 0, 0, INT32_MIN) },
		{ "add32 %r1, %r2", INSN(0x0c, 1, 2, 0, 0) },
		{ "neg %r1", INSN(0x87, 1, 0, 0, 0) },
		{ "neg32 %r1", INSN(0x84, 1, 0, 0, 0) },
		{ "be16 %r1", INSN(0xdc, 1, 0, 0, 16) },
		{ "le64 %r1", INSN(0xd4, 1, 0, 0, 64) },
		{ "bswap16 %r1", INSN(0xd7, 1, 0, 0, 16) },
		{ "swap16 %r1", INSN(0xd7, 1, 0, 0, 16) },
		{ "swap64 %r3", INSN(0xd7, 3, 0, 0, 64) },
		{ "sdiv %r1, 3", INSN(0x37, 1, 0, 1, 3) },
		{ "smod32 %r1, %r2", INSN(0x9c, 1, 2, 1, 0) },
		{ "smod32 %r1, -7", INSN(0x94, 1, 0, 1, -7) },
		{ "movsx864 %r1, %r2", INSN(0xbf, 1, 2, 8, 0) },
		{ "movsx1632 %r1, %r2", INSN(0xbc, 1, 2, 16, 0) },
		{ "movsx3264 %r1, %r2", INSN(0xbf, 1, 2, 32, 0) },
		{ "ldxw %r1, [%r2+4]", INSN(0x61, 1, 2, 4, 0) },
		{ "ldxsb %r0, [%r10-1]", INSN(0x91, 0, 10, -1, 0) },
		{ "ldxdw %r0, [%r1]", INSN(0x79, 0, 1, 0, 0) },
		{ "ldxh r0, [ r1 + 0x2 ]", INSN(0x69, 0, 1, 2, 0) },
		{ "stw [%r1+2], 5", INSN(0x62, 1, 0, 2, 5) },
		{ "stdw [%r1-2], -5", INSN(0x7a, 1, 0, -2, -5) },
		{ "stxdw [%r10-8], %r1", INSN(0x7b, 10, 1, -8, 0) },
		{ "stxb [r2], r3", INSN(0x73, 2, 3, 0, 0) },
		{ "lock add [%r10-8], %r1", INSN(0xdb, 10, 1, -8, 0x00) },
		{ "lock fetch add32 [%r10-4], %r1", INSN(0xc3, 10, 1, -4, 0x01) },
		{ "lock or [%r1], %r2", INSN(0xdb, 1, 2, 0, 0x40) },
		{ "lock fetch xor32 [%r1], %r2", INSN(0xc3, 1, 2, 0, 0xa1) },
		{ "lock xchg [%r10-8], %r1", INSN(0xdb, 10, 1, -8, 0xe1) },
		{ "lock fetch xchg [%r10-8], %r1", INSN(0xdb, 10, 1, -8, 0xe1) },
		{ "lock cmpxchg32 [%r10-8], %r1", INSN(0xc3, 10, 1, -8, 0xf1) },
		{ "ja +3", INSN(0x05, 0, 0, 3, 0) },
		{ "ja -1", INSN(0x05, 0, 0, -1, 0) },
		{ "ja32 +70000", INSN(0x06, 0, 0, 0, 70000) },
		{ "jeq %r1, 5, +3", INSN(0x15, 1, 0, 3, 5) },
		{ "jeq %r1, %r2, +3", INSN(0x1d, 1, 2, 3, 0) },
		{ "jslt32 %r1, %r2, -2", INSN(0xce, 1, 2, -2, 0) },
		{ "jset32 r1, 0x80000000, +1", INSN(0x46, 1, 0, 1, INT32_MIN) },
		{ "call 5", INSN(0x85, 0, 0, 0, 5) },
		{ "call helper 5", INSN(0x85, 0, 0, 0, 5) },
		{ "call %r2", INSN(0x8d, 2, 0, 0, 0) },
		{ "call helper %r2", INSN(0x8d, 2, 0, 0, 0) },
		{ "callx %r2", INSN(0x8d, 2, 0, 0, 0) },
		{ "call local +2", INSN(0x85, 0, 1, 0, 2) },
		{ "exit", INSN(0x95, 0, 0, 0, 0) },
		{ "ldabsw 4", INSN(0x20, 0, 0, 0, 4) },
		{ "ldabsh 0x10", INSN(0x28, 0, 0, 0, 16) },
		{ "ldindb %r1, 4", INSN(0x50, 0, 1, 0, 4) },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		check_asm(cases[i].src, &cases[i].insn, 1);
}

static void test_lddw(void **state)
{
	const struct nsbpf_insn hex[] = { INSN(0x18, 1, 0, 0, 0x55667788),
					  INSN(0, 0, 0, 0, 0x11223344) };
	const struct nsbpf_insn neg[] = { INSN(0x18, 2, 0, 0, -2), INSN(0, 0, 0, 0, -1) };
	const struct nsbpf_insn big[] = { INSN(0x18, 3, 0, 0, -1), INSN(0, 0, 0, 0, -1) };
	const struct nsbpf_insn dec[] = { INSN(0x18, 4, 0, 0, 0), INSN(0, 0, 0, 0, 1) };
	const struct nsbpf_insn min[] = { INSN(0x18, 4, 0, 0, 0), INSN(0, 0, 0, 0, INT32_MIN) };
	const struct nsbpf_insn map_fd[] = { INSN(0x18, 1, 1, 0, 3), INSN(0, 0, 0, 0, 0) };
	const struct nsbpf_insn map_value[] = { INSN(0x18, 1, 2, 0, 7), INSN(0, 0, 0, 0, 16) };
	const struct nsbpf_insn map_idx[] = { INSN(0x18, 5, 5, 0, 0), INSN(0, 0, 0, 0, 0) };

	(void)state;
	check_asm("lddw %r1, 0x1122334455667788", hex, 2);
	check_asm("lddw %r2, -2", neg, 2);
	check_asm("lddw %r3, 18446744073709551615", big, 2);
	check_asm("lddw %r3, 0xffffffffffffffff", big, 2);
	check_asm("lddw r4, 4294967296", dec, 2);
	check_asm("lddw r4, -9223372036854775808", min, 2);
	check_asm("lddw r1, map_fd 3", map_fd, 2);
	check_asm("lddw r1, map_value 7, 16", map_value, 2);
	check_asm("lddw r5, map_idx 0", map_idx, 2);
}

/* The exact bytes, not just the fields: the bit-field layout is the kernel's. */
static void test_raw_bytes(void **state)
{
	static const uint8_t expect[] = {
		0xb7, 0x01, 0x00, 0x00, 0x2a, 0x00, 0x00, 0x00, /* mov r1, 42 */
		0x61, 0x21, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, /* ldxw r1, [r2+4] */
		0x7b, 0x1a, 0xf8, 0xff, 0x00, 0x00, 0x00, 0x00, /* stxdw [r10-8], r1 */
		0xc3, 0x1a, 0xfc, 0xff, 0x01, 0x00, 0x00, 0x00, /* lock fetch add32 */
		0x18, 0x01, 0x00, 0x00, 0x88, 0x77, 0x66, 0x55, /* lddw, first half */
		0x00, 0x00, 0x00, 0x00, 0x44, 0x33, 0x22, 0x11, /* lddw, second half */
		0x5e, 0x12, 0xfe, 0xff, 0x00, 0x00, 0x00, 0x00, /* jne32 r2, r1, -2 */
		0x95, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* exit */
	};
	struct nsbpf_insn *insns;
	uint32_t nr;

	(void)state;
	assemble_ok("mov r1, 42\n"
		    "ldxw r1, [r2+4]\n"
		    "stxdw [r10-8], r1\n"
		    "lock fetch add32 [r10-4], r1\n"
		    "lddw r1, 0x1122334455667788\n"
		    "jne32 r2, r1, -2\n"
		    "exit\n",
		    &insns, &nr);
	assert_int_equal(nr * sizeof(*insns), sizeof(expect));
	assert_memory_equal(insns, expect, sizeof(expect));
	free(insns);
}

static void test_lines(void **state)
{
	const struct nsbpf_insn expect[] = {
		INSN(0xb7, 0, 0, 0, 1), INSN(0x07, 0, 0, 0, 2), INSN(0x05, 0, 0, 0, 0),
		INSN(0x95, 0, 0, 0, 0),
	};

	(void)state;
	check_asm("# a comment line\n"
		  "\n"
		  "   \t mov %r0, 1   # trailing comment\n"
		  "add r0,2\r\n"
		  "here: ja here2\n"
		  "here2:\n"
		  "\texit\n"
		  "# the end, no newline",
		  expect, ARRAY_SIZE(expect));
}

static void test_labels(void **state)
{
	/*
	 * 0 ja fwd (+3: skips the lddw's two slots)   4 fwd: jeq r0, 0, back
	 * 1 mov r0, 0                                   5 ja32 end
	 * 2 lddw (2 slots)                              6 back: call local fn
	 *                                               7 end: exit
	 *                                               8 fn: exit
	 */
	const struct nsbpf_insn expect[] = {
		INSN(0x05, 0, 0, 3, 0),	 INSN(0xb7, 0, 0, 0, 0), INSN(0x18, 1, 0, 0, 1),
		INSN(0, 0, 0, 0, 0),	 INSN(0x15, 0, 0, 1, 0), INSN(0x06, 0, 0, 0, 1),
		INSN(0x85, 0, 1, 0, 1), INSN(0x95, 0, 0, 0, 0), INSN(0x95, 0, 0, 0, 0),
	};
	const struct nsbpf_insn self[] = { INSN(0x05, 0, 0, -1, 0) };
	const struct nsbpf_insn func[] = { INSN(0x18, 1, 4, 0, 3), INSN(0, 0, 0, 0, 0),
					   INSN(0x95, 0, 0, 0, 0), INSN(0x95, 0, 0, 0, 0),
					   INSN(0x95, 0, 0, 0, 0) };

	(void)state;
	check_asm("ja fwd\n"
		  "mov r0, 0\n"
		  "lddw r1, 1\n"
		  "fwd: jeq r0, 0, back\n"
		  "ja32 end\n"
		  "back:\n"
		  "call local fn\n"
		  "end:\n"
		  "exit\n"
		  "fn:\n"
		  "exit\n",
		  expect, ARRAY_SIZE(expect));
	check_asm("l: ja l", self, 1);
	check_asm("lddw r1, func f\nexit\nexit\nf: exit", func, ARRAY_SIZE(func));
}

/* `exit` names the first exit unless a label of that name exists. */
static void test_exit_label(void **state)
{
	const struct nsbpf_insn implicit[] = { INSN(0x55, 1, 0, 0, 0), INSN(0x95, 0, 0, 0, 0),
					       INSN(0x95, 0, 0, 0, 0), INSN(0x05, 0, 0, -3, 0) };
	const struct nsbpf_insn explicit[] = { INSN(0x05, 0, 0, 1, 0), INSN(0x95, 0, 0, 0, 0),
					       INSN(0x95, 0, 0, 0, 0) };

	(void)state;
	check_asm("jne r1, 0, exit\nexit\nexit\nja exit", implicit, ARRAY_SIZE(implicit));
	check_asm("ja exit\nexit\nexit:\nexit", explicit, ARRAY_SIZE(explicit));
}

static void test_errors(void **state)
{
	static const struct {
		const char *src, *err;
	} cases[] = {
		{ "mov r0, 1\nfoo r1\nexit", "line 2: unknown mnemonic 'foo'" },
		{ "lock frob [r1], r2", "line 1: unknown mnemonic 'lock frob'" },
		{ "call runtime 5", "line 1: 'call' takes 1 operand, got 2" },
		{ "mov r11, 1", "line 1: invalid register 'r11'" },
		{ "\n\nadd %r15, %r1", "line 3: invalid register '%r15'" },
		{ "ldxw r1, [r12+4]", "line 1: invalid register 'r12'" },
		{ "add r1", "line 1: 'add' takes 2 operands, got 1" },
		{ "neg r1, r2", "line 1: 'neg' takes 1 operand, got 2" },
		{ "exit r0", "line 1: 'exit' takes 0 operands, got 1" },
		{ "jeq r1, 0", "line 1: 'jeq' takes 3 operands, got 2" },
		{ "lock add [r1]", "line 1: 'lock add' takes 2 operands, got 1" },
		{ "lddw r1", "line 1: 'lddw' takes 2 operands, got 1" },
		{ "exit\nja nowhere", "line 2: unknown label 'nowhere'" },
		{ "call local f\nexit", "line 1: unknown label 'f'" },
		{ "x:\nexit\nx:\nexit\ny:\ny:",
		  "line 3: duplicate label 'x' (first defined on line 1)" },
		{ "1x: exit", "line 1: invalid label name '1x'" },
		{ "mov r0, 0x100000000", "line 1: immediate '0x100000000' out of 32-bit range" },
		{ "mov r0, 4294967296", "line 1: immediate '4294967296' out of 32-bit range" },
		{ "mov r0, -2147483649", "line 1: immediate '-2147483649' out of 32-bit range" },
		{ "lddw r0, 0x10000000000000000",
		  "line 1: number '0x10000000000000000' out of 64-bit range" },
		{ "lddw r0, -9223372036854775809",
		  "line 1: immediate '-9223372036854775809' out of 64-bit range" },
		{ "ldxw r0, [r1+32768]", "line 1: offset '+32768' out of 16-bit range" },
		{ "stw [r1-32769], 1", "line 1: offset '-32769' out of 16-bit range" },
		{ "ja +32768", "line 1: offset '+32768' out of 16-bit range" },
		{ "mov r0, 12z", "line 1: invalid number '12z'" },
		{ "mov r0, --1", "line 1: invalid number '--1'" },
		{ "mov r0, - 1", "line 1: 'mov' takes 2 operands, got 3" },
		{ "mov r0, r", "line 1: invalid number 'r'" },
		{ "ldxw r0, r1", "line 1: expected a memory operand [rN+off], got 'r1'" },
		{ "stw [r1+2, 5", "line 1: missing ']' in '[r1+2, 5'" },
		{ "stw [r1]x, 5", "line 1: unexpected 'x' after ']'" },
		{ "ldxw r0, [+4]", "line 1: malformed memory operand '[+4]'" },
		{ "ldxw r0, [r1+]", "line 1: invalid number '+'" },
		{ "mov r0,, 1", "line 1: empty operand" },
		{ "mov r0, 1,", "line 1: trailing ','" },
		{ "mov, r0, 1", "line 1: unexpected ',' after 'mov'" },
		{ "movsx864 r1, 5", "line 1: expected a register, got '5'" },
		{ "add 1, r1", "line 1: expected a register, got '1'" },
		{ "lddw r1, bogus 3", "line 1: unknown lddw source 'bogus'" },
		{ "ja 3x", "line 1: invalid number '3x'" },
		{ "ja @x", "line 1: invalid jump target '@x'" },
		{ "jeq r1, 0, +1, +2, +3, +4, +5, +6", "line 1: too many operands" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		check_asm_error(cases[i].src, cases[i].err);
}

/* `first`, then `filler` instructions, then the label `far` on an exit. */
static char *far_source(const char *first, size_t filler)
{
	static const char pad[] = "mov r0, 0\n";
	char *src = malloc(strlen(first) + filler * (sizeof(pad) - 1) + 16), *p = src;

	assert_non_null(src);
	p += sprintf(p, "%s\n", first);
	for (size_t i = 0; i < filler; i++)
		p += sprintf(p, "%s", pad);
	sprintf(p, "far: exit\n");
	return src;
}

/* A label more than 32767 slots away does not fit a jump's offset; ja32 reaches it. */
static void test_far_label(void **state)
{
	struct nsbpf_insn *insns;
	uint32_t nr;
	char *src;

	(void)state;
	src = far_source("ja far", 40000);
	check_asm_error(src, "line 1: label 'far' is 40000 instructions away, beyond a 16-bit "
			     "offset");
	free(src);

	src = far_source("jeq r1, 0, far", 32767);
	assemble_ok(src, &insns, &nr);
	assert_int_equal(insns[0].off, INT16_MAX);
	free(insns);
	free(src);

	src = far_source("ja32 far", 40000);
	assemble_ok(src, &insns, &nr);
	assert_int_equal(nr, 40002);
	assert_int_equal(insns[0].code, 0x06);
	assert_int_equal(insns[0].imm, 40000);
	free(insns);
	free(src);
}

static void test_api_edges(void **state)
{
	struct nsbpf_insn *insns = NULL;
	char err[64];
	uint32_t nr = 99;

	(void)state;
	assert_int_equal(nsbpf_vm_asm(NULL, &insns, &nr, err, sizeof(err)), -EINVAL);
	assert_int_equal(nsbpf_vm_asm("exit", NULL, &nr, err, sizeof(err)), -EINVAL);
	/* an error still reports without a message buffer */
	assert_int_equal(nsbpf_vm_asm("foo", &insns, &nr, NULL, 0), -EINVAL);
	/* a message is cut to the buffer, never overrun */
	assert_int_equal(nsbpf_vm_asm("foo", &insns, &nr, err, 8), -EINVAL);
	assert_string_equal(err, "line 1:");
	/* nothing but comments: no instructions, still an array to free */
	assert_int_equal(nsbpf_vm_asm("# nothing\n\n", &insns, &nr, err, sizeof(err)), 0);
	assert_int_equal(nr, 0);
	assert_non_null(insns);
	free(insns);
}

/* Assembled programs run as written: labels, lddw slots and calls end to end. */
static void test_assembled_runs(void **state)
{
	static const char src[] = "	mov r6, 0\n"
				  "	lddw r7, 0x100000000\n"
				  "loop:\n"
				  "	jge r6, 10, done\n"
				  "	mov r1, r6\n"
				  "	call local square\n"
				  "	add r7, r0\n"
				  "	add r6, 1\n"
				  "	ja loop\n"
				  "done:\n"
				  "	mov r0, r7\n"
				  "	exit\n"
				  "square:\n"
				  "	mov r0, r1\n"
				  "	mul r0, r1\n"
				  "	exit\n";
	struct nsbpf_insn *insns;
	char err[256] = "";
	uint64_t r0 = 0;
	uint32_t nr;

	(void)state;
	assemble_ok(src, &insns, &nr);
	assert_int_equal(test_env_run(insns, nr, NULL, 0, 100000, &r0, err, sizeof(err)), 0);
	assert_int_equal(r0, 0x100000000ull + 285); /* 0^2 + ... + 9^2 */
	free(insns);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_every_op),
		cmocka_unit_test(test_disasm_text),
		cmocka_unit_test(test_disasm_rejects),
		cmocka_unit_test(test_encodings),
		cmocka_unit_test(test_lddw),
		cmocka_unit_test(test_raw_bytes),
		cmocka_unit_test(test_lines),
		cmocka_unit_test(test_labels),
		cmocka_unit_test(test_exit_label),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_far_label),
		cmocka_unit_test(test_api_edges),
		cmocka_unit_test(test_assembled_runs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
