// SPDX-License-Identifier: MIT
/*
 * asm.c - the text assembler: uBPF / bpf_conformance assembly to instructions.
 *
 * Each line is `label:`, an instruction, or both, with `#` starting a comment. Mnemonics
 * come from the isa_ops[] table (a handful of extra spellings aside), and the table's text
 * format says which operands an instruction takes; so the assembler has no opcode list of
 * its own and accepts exactly what the VM knows. Registers are written `%rN` or `rN`.
 *
 * Labels are resolved once every line has been read: jumps (and `call local`, `lddw func`)
 * may point forward. A target is relative, counted in instruction slots from the next
 * one, with lddw taking two slots; a reference to `exit` that no label defines means the
 * first exit instruction, as in bpf_conformance's test files.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vm_internal.h"


/* Mnemonic words plus the most operands any form takes (`lddw r1, map_value 3, 16`). */
#define ASM_MAX_TOKENS 8
#define ASM_MAX_MNEMONIC_WORDS 3

/* Spellings the conformance files use besides the table's own. */
static const struct {
	const char *spelling;
	const char *mnemonic;
} asm_aliases[] = {
	{ "swap16", "bswap16" },
	{ "swap32", "bswap32" },
	{ "swap64", "bswap64" },
	{ "call helper", "call" },
	/* xchg and cmpxchg always fetch; writing it out changes nothing */
	{ "lock fetch xchg", "lock xchg" },
	{ "lock fetch xchg32", "lock xchg32" },
	{ "lock fetch cmpxchg", "lock cmpxchg" },
	{ "lock fetch cmpxchg32", "lock cmpxchg32" },
};

/* How many operands each text format takes; lddw is checked on its own. */
static const uint8_t format_operands[] = {
	[ISA_FMT_ALU_K] = 2,	  [ISA_FMT_ALU_X] = 2, [ISA_FMT_ALU_UN] = 1, [ISA_FMT_JA] = 1,
	[ISA_FMT_JA32] = 1,	  [ISA_FMT_JCC_K] = 3, [ISA_FMT_JCC_X] = 3,  [ISA_FMT_CALL] = 1,
	[ISA_FMT_CALL_LOCAL] = 1, [ISA_FMT_CALLX] = 1, [ISA_FMT_EXIT] = 0,   [ISA_FMT_LDDW] = 2,
	[ISA_FMT_LDX] = 2,	  [ISA_FMT_ST] = 2,    [ISA_FMT_STX] = 2,    [ISA_FMT_ATOMIC] = 2,
	[ISA_FMT_LDABS] = 1,	  [ISA_FMT_LDIND] = 2,
};

struct asm_label {
	const char *name;
	uint32_t idx;
	unsigned int line;
};

/* A label reference waiting for pass 2; `imm` says which field takes the distance. */
struct asm_fixup {
	const char *label;
	uint32_t idx;
	unsigned int line;
	bool imm;
};

struct asm_ctx {
	struct nsbpf_insn *insns;
	uint32_t len;
	size_t cap;
	struct asm_label *labels;
	size_t nr_labels, cap_labels;
	struct asm_fixup *fixups;
	size_t nr_fixups, cap_fixups;
	int64_t first_exit; /* -1 until an exit is seen */
	unsigned int line;
	char *err;
	size_t err_size;
};

/* The tokens of one line; `commas[i]` counts the commas right before token i. */
struct asm_line {
	char *tok[ASM_MAX_TOKENS];
	unsigned int commas[ASM_MAX_TOKENS];
	unsigned int nr;
};

/* A parsed number: sign and magnitude, so that each field can apply its own range. */
struct asm_number {
	bool neg;
	uint64_t mag;
};

__attribute__((format(printf, 2, 3))) static int asm_error(struct asm_ctx *ctx,
							   const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!ctx->err || !ctx->err_size)
		return -EINVAL;
	n = snprintf(ctx->err, ctx->err_size, "line %u: ", ctx->line);
	if (n >= 0 && (size_t)n < ctx->err_size) {
		va_start(ap, fmt);
		vsnprintf(ctx->err + n, ctx->err_size - n, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* `array` with room for `need` elements, realloc()ed if short; NULL when out of memory. */
static void *reserve(void *array, size_t *cap, size_t need, size_t elem_size)
{
	size_t new_cap = *cap ? *cap : 16;

	if (need <= *cap)
		return array;
	while (new_cap < need)
		new_cap *= 2;
	array = realloc(array, new_cap * elem_size);
	if (array)
		*cap = new_cap;
	return array;
}

/* Appends `nr` zeroed slots and returns the first, or NULL with the error in *err. */
static struct nsbpf_insn *emit(struct asm_ctx *ctx, uint32_t nr, int *err)
{
	struct nsbpf_insn *insns, *insn;

	if (ctx->len + nr > NSBPF_VM_MAX_INSNS) {
		asm_error(ctx, "program exceeds %u instructions", NSBPF_VM_MAX_INSNS);
		*err = -E2BIG;
		return NULL;
	}
	insns = reserve(ctx->insns, &ctx->cap, ctx->len + nr, sizeof(*insns));
	if (!insns) {
		*err = -ENOMEM;
		return NULL;
	}
	ctx->insns = insns;
	insn = &insns[ctx->len];
	memset(insn, 0, nr * sizeof(*insn));
	ctx->len += nr;
	return insn;
}

static bool is_label_name(const char *s)
{
	if (!isalpha((unsigned char)*s) && *s != '_' && *s != '.')
		return false;
	for (s++; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '.')
			return false;
	return true;
}

/*
 * Splits a line (comment already cut) into tokens in place. Whitespace and commas
 * separate tokens; a `[...]` memory operand is one token even with spaces inside.
 */
static int tokenize(struct asm_ctx *ctx, char *p, struct asm_line *out)
{
	unsigned int commas = 0;

	out->nr = 0;
	while (*p) {
		if (isspace((unsigned char)*p)) {
			*p++ = '\0';
			continue;
		}
		if (*p == ',') {
			commas++;
			*p++ = '\0';
			continue;
		}
		if (out->nr == ASM_MAX_TOKENS)
			return asm_error(ctx, "too many operands");
		if (commas > 1)
			return asm_error(ctx, "empty operand");
		out->tok[out->nr] = p;
		out->commas[out->nr++] = commas;
		commas = 0;
		if (*p == '[') {
			p = strchr(p, ']');
			if (!p)
				return asm_error(ctx, "missing ']' in '%s'", out->tok[out->nr - 1]);
			p++;
			if (*p && *p != ',' && !isspace((unsigned char)*p))
				return asm_error(ctx, "unexpected '%c' after ']'", *p);
		} else {
			while (*p && *p != ',' && !isspace((unsigned char)*p))
				p++;
		}
	}
	if (commas)
		return asm_error(ctx, "trailing ','");
	return 0;
}

static bool looks_like_reg(const char *tok)
{
	if (*tok == '%')
		tok++;
	return tok[0] == 'r' && isdigit((unsigned char)tok[1]);
}

static int parse_reg(struct asm_ctx *ctx, const char *tok, uint8_t *reg)
{
	const char *p = tok;
	unsigned long n;
	char *end;

	if (*p == '%')
		p++;
	if (p[0] != 'r' || !isdigit((unsigned char)p[1]))
		return asm_error(ctx, "expected a register, got '%s'", tok);
	errno = 0;
	n = strtoul(p + 1, &end, 10);
	if (*end || errno || n >= ISA_NR_REGS)
		return asm_error(ctx, "invalid register '%s'", tok);
	*reg = (uint8_t)n;
	return 0;
}

/* Decimal or 0x hex, optionally signed; the caller checks the range. */
static int parse_number(struct asm_ctx *ctx, const char *tok, struct asm_number *num)
{
	const char *p = tok;
	int base = 10;
	char *end;

	num->neg = *p == '-';
	if (*p == '-' || *p == '+')
		p++;
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X') && isxdigit((unsigned char)p[2]))
		base = 16;
	/* strtoull() would take leading spaces and a second sign; a digit must come first */
	if (!isdigit((unsigned char)*p))
		return asm_error(ctx, "invalid number '%s'", tok);
	errno = 0;
	num->mag = strtoull(p, &end, base);
	if (*end)
		return asm_error(ctx, "invalid number '%s'", tok);
	if (errno == ERANGE)
		return asm_error(ctx, "number '%s' out of 64-bit range", tok);
	return 0;
}

/*
 * A 32-bit immediate, signed or unsigned: 0xffffffff and -1 are the same bits, as the
 * conformance files write masks in hex and small constants in signed decimal.
 */
static int parse_imm32(struct asm_ctx *ctx, const char *tok, int32_t *imm)
{
	struct asm_number num;
	int err;

	err = parse_number(ctx, tok, &num);
	if (err)
		return err;
	if (num.neg ? num.mag > 0x80000000ull : num.mag > 0xffffffffull)
		return asm_error(ctx, "immediate '%s' out of 32-bit range", tok);
	*imm = (int32_t)(uint32_t)(num.neg ? 0 - num.mag : num.mag);
	return 0;
}

static int parse_off16(struct asm_ctx *ctx, const char *tok, int16_t *off)
{
	struct asm_number num;
	int err;

	err = parse_number(ctx, tok, &num);
	if (err)
		return err;
	if (num.neg ? num.mag > 0x8000 : num.mag > 0x7fff)
		return asm_error(ctx, "offset '%s' out of 16-bit range", tok);
	*off = (int16_t)(num.neg ? -(int32_t)num.mag : (int32_t)num.mag);
	return 0;
}

static int parse_imm64(struct asm_ctx *ctx, const char *tok, uint64_t *imm)
{
	struct asm_number num;
	int err;

	err = parse_number(ctx, tok, &num);
	if (err)
		return err;
	if (num.neg && num.mag > 0x8000000000000000ull)
		return asm_error(ctx, "immediate '%s' out of 64-bit range", tok);
	*imm = num.neg ? 0 - num.mag : num.mag;
	return 0;
}

/* `[rN]`, `[rN+off]` or `[rN-off]`, spaces allowed inside the brackets. */
static int parse_mem(struct asm_ctx *ctx, const char *tok, uint8_t *reg, int16_t *off)
{
	char buf[64], *sign;
	size_t n = 0;
	int err;

	for (const char *p = tok + 1; *p != ']'; p++) {
		if (isspace((unsigned char)*p))
			continue;
		if (n + 1 == sizeof(buf))
			return asm_error(ctx, "malformed memory operand '%s'", tok);
		buf[n++] = *p;
	}
	buf[n] = '\0';
	sign = strpbrk(buf, "+-");
	*off = 0;
	if (sign) {
		err = parse_off16(ctx, sign, off);
		if (err)
			return err;
		*sign = '\0';
	}
	if (!buf[0])
		return asm_error(ctx, "malformed memory operand '%s'", tok);
	return parse_reg(ctx, buf, reg);
}

static int expect_mem(struct asm_ctx *ctx, const char *tok, uint8_t *reg, int16_t *off)
{
	if (tok[0] != '[')
		return asm_error(ctx, "expected a memory operand [rN+off], got '%s'", tok);
	return parse_mem(ctx, tok, reg, off);
}

/*
 * A jump or call target: a signed number is the distance itself, a name is a label
 * resolved in pass 2. `imm` selects the 32-bit field over the 16-bit offset.
 */
static int parse_target(struct asm_ctx *ctx, const char *tok, uint32_t idx, bool imm,
			struct nsbpf_insn *insn)
{
	struct asm_fixup *fixups, *f;

	if (tok[0] == '+' || tok[0] == '-' || isdigit((unsigned char)tok[0]))
		return imm ? parse_imm32(ctx, tok, &insn->imm) : parse_off16(ctx, tok, &insn->off);
	if (!is_label_name(tok))
		return asm_error(ctx, "invalid jump target '%s'", tok);
	fixups = reserve(ctx->fixups, &ctx->cap_fixups, ctx->nr_fixups + 1, sizeof(*fixups));
	if (!fixups)
		return -ENOMEM;
	ctx->fixups = fixups;
	f = &fixups[ctx->nr_fixups++];
	f->label = tok;
	f->idx = idx;
	f->line = ctx->line;
	f->imm = imm;
	return 0;
}

static int define_label(struct asm_ctx *ctx, char *name)
{
	struct asm_label *labels, *l;

	if (!is_label_name(name))
		return asm_error(ctx, "invalid label name '%s'", name);
	labels = reserve(ctx->labels, &ctx->cap_labels, ctx->nr_labels + 1, sizeof(*labels));
	if (!labels)
		return -ENOMEM;
	ctx->labels = labels;
	l = &labels[ctx->nr_labels++];
	l->name = name;
	l->idx = ctx->len;
	l->line = ctx->line;
	return 0;
}

/* The discriminating field's value, which the operands never supply. */
static void set_match(struct nsbpf_insn *insn, const struct isa_op_desc *d)
{
	switch (d->match) {
	case ISA_M_OFF:
		insn->off = (int16_t)d->match_value;
		break;
	case ISA_M_IMM:
		insn->imm = d->match_value;
		break;
	case ISA_M_SRC:
		insn->src_reg = (uint8_t)d->match_value;
		break;
	case ISA_M_NONE:
		break;
	}
}

/* `lddw rN, VALUE` or `lddw rN, KIND IMM[, NEXT_IMM]` with KIND a pseudo source name. */
static int encode_lddw(struct asm_ctx *ctx, const struct isa_op_desc *d, char **opnd,
		       unsigned int nr)
{
	struct nsbpf_insn *insn;
	uint32_t idx = ctx->len;
	uint8_t dst, src = 0;
	uint64_t value = 0;
	int32_t next_imm = 0;
	int err;

	if (nr < 2 || nr > 4)
		return asm_error(ctx, "'lddw' takes 2 operands, got %u", nr);
	err = parse_reg(ctx, opnd[0], &dst);
	if (err)
		return err;
	if (nr == 2) {
		err = parse_imm64(ctx, opnd[1], &value);
		if (err)
			return err;
	} else {
		for (src = 1; src <= ISA_PSEUDO_MAX; src++)
			if (!strcmp(opnd[1], isa_pseudo_names[src]))
				break;
		if (src > ISA_PSEUDO_MAX)
			return asm_error(ctx, "unknown lddw source '%s'", opnd[1]);
		if (nr == 4) {
			err = parse_imm32(ctx, opnd[3], &next_imm);
			if (err)
				return err;
		}
	}

	insn = emit(ctx, 2, &err);
	if (!insn)
		return err;
	insn[0].code = d->code;
	insn[0].dst_reg = dst;
	insn[0].src_reg = src;
	if (src == 0) {
		insn[0].imm = (int32_t)(uint32_t)value;
		insn[1].imm = (int32_t)(uint32_t)(value >> 32);
		return 0;
	}
	insn[1].imm = next_imm;
	/* a function's address is a target like a local call's, so it may name a label */
	if (src == ISA_PSEUDO_FUNC)
		return parse_target(ctx, opnd[2], idx, true, &ctx->insns[idx]);
	return parse_imm32(ctx, opnd[2], &ctx->insns[idx].imm);
}

/* Fills the fields the text format of `op` names from the operands. */
static int encode(struct asm_ctx *ctx, enum isa_op op, const char *spelling, char **opnd,
		  unsigned int nr)
{
	const struct isa_op_desc *d = &isa_ops[op];
	struct nsbpf_insn tmp = { .code = d->code }, *insn;
	uint32_t idx = ctx->len;
	uint8_t dst = 0, src = 0; /* registers apart: the insn's fields are bit-fields */
	int err = 0;

	if (d->format == ISA_FMT_LDDW)
		return encode_lddw(ctx, d, opnd, nr);
	if (nr != format_operands[d->format])
		return asm_error(ctx, "'%s' takes %u operand%s, got %u", spelling,
				 format_operands[d->format],
				 format_operands[d->format] == 1 ? "" : "s", nr);

	switch (d->format) {
	case ISA_FMT_ALU_K:
		err = parse_reg(ctx, opnd[0], &dst) ?: parse_imm32(ctx, opnd[1], &tmp.imm);
		break;
	case ISA_FMT_ALU_X:
		err = parse_reg(ctx, opnd[0], &dst) ?: parse_reg(ctx, opnd[1], &src);
		break;
	case ISA_FMT_ALU_UN:
	case ISA_FMT_CALLX:
		err = parse_reg(ctx, opnd[0], &dst);
		break;
	case ISA_FMT_JA:
		err = parse_target(ctx, opnd[0], idx, false, &tmp);
		break;
	case ISA_FMT_JA32:
	case ISA_FMT_CALL_LOCAL:
		err = parse_target(ctx, opnd[0], idx, true, &tmp);
		break;
	case ISA_FMT_JCC_K:
		err = parse_reg(ctx, opnd[0], &dst) ?: parse_imm32(ctx, opnd[1], &tmp.imm) ?:
		      parse_target(ctx, opnd[2], idx, false, &tmp);
		break;
	case ISA_FMT_JCC_X:
		err = parse_reg(ctx, opnd[0], &dst) ?: parse_reg(ctx, opnd[1], &src) ?:
		      parse_target(ctx, opnd[2], idx, false, &tmp);
		break;
	case ISA_FMT_CALL:
	case ISA_FMT_LDABS:
		err = parse_imm32(ctx, opnd[0], &tmp.imm);
		break;
	case ISA_FMT_EXIT:
		if (ctx->first_exit < 0)
			ctx->first_exit = idx;
		break;
	case ISA_FMT_LDX:
		err = parse_reg(ctx, opnd[0], &dst) ?: expect_mem(ctx, opnd[1], &src, &tmp.off);
		break;
	case ISA_FMT_ST:
		err = expect_mem(ctx, opnd[0], &dst, &tmp.off) ?:
		      parse_imm32(ctx, opnd[1], &tmp.imm);
		break;
	case ISA_FMT_STX:
	case ISA_FMT_ATOMIC:
		err = expect_mem(ctx, opnd[0], &dst, &tmp.off) ?: parse_reg(ctx, opnd[1], &src);
		break;
	case ISA_FMT_LDIND:
		err = parse_reg(ctx, opnd[0], &src) ?: parse_imm32(ctx, opnd[1], &tmp.imm);
		break;
	}
	if (err)
		return err;
	tmp.dst_reg = dst;
	tmp.src_reg = src;
	set_match(&tmp, d);

	insn = emit(ctx, 1, &err);
	if (!insn)
		return err;
	*insn = tmp;
	return 0;
}

/* The table entries spelled `mnemonic`; several when K and X forms share one. */
static enum isa_op pick_op(const char *mnemonic, char **opnd, unsigned int nr)
{
	enum isa_op found = ISA_OP_INVALID;

	/* `call %r2` is the register call, spelled `callx` in the table */
	if (!strcmp(mnemonic, "call") && nr == 1 && looks_like_reg(opnd[0]))
		mnemonic = "callx";
	for (int op = 0; op < ISA_NR_OPS; op++) {
		const struct isa_op_desc *d = &isa_ops[op];
		bool x_form = d->format == ISA_FMT_ALU_X || d->format == ISA_FMT_JCC_X;
		bool k_form = d->format == ISA_FMT_ALU_K || d->format == ISA_FMT_JCC_K;

		if (strcmp(d->mnemonic, mnemonic))
			continue;
		found = (enum isa_op)op;
		/* with a register as second operand it is the X form, else the K form */
		if (!(x_form || k_form) || nr < 2 || x_form == looks_like_reg(opnd[1]))
			return found;
	}
	/* only one form exists (movsx has no K form): its operand check reports the misfit */
	return found;
}

static bool is_mnemonic(const char *spelling)
{
	for (int op = 0; op < ISA_NR_OPS; op++)
		if (!strcmp(isa_ops[op].mnemonic, spelling))
			return true;
	return false;
}

/* Whether `word` begins a mnemonic of several words (`lock`, `call`). */
static bool starts_mnemonic(const char *word)
{
	size_t n = strlen(word);

	for (int op = 0; op < ISA_NR_OPS; op++)
		if (!strncmp(isa_ops[op].mnemonic, word, n) && isa_ops[op].mnemonic[n] == ' ')
			return true;
	return false;
}

/*
 * The longest run of leading words that spells a mnemonic (`lock fetch add32` before
 * `lock`); its canonical spelling goes to buf and the word count is returned, 0 if none.
 */
static unsigned int match_mnemonic(const struct asm_line *l, char *buf, size_t size)
{
	for (unsigned int k = ASM_MAX_MNEMONIC_WORDS; k > 0; k--) {
		size_t n = 0;
		bool ok = k <= l->nr;

		for (unsigned int i = 0; ok && i < k; i++) {
			size_t w = strlen(l->tok[i]);

			ok = (i == 0 || !l->commas[i]) && n + w + 2 <= size;
			if (ok) {
				if (i)
					buf[n++] = ' ';
				memcpy(buf + n, l->tok[i], w + 1);
				n += w;
			}
		}
		if (!ok)
			continue;
		for (size_t a = 0; a < sizeof(asm_aliases) / sizeof(asm_aliases[0]); a++) {
			if (!strcmp(buf, asm_aliases[a].spelling)) {
				snprintf(buf, size, "%s", asm_aliases[a].mnemonic);
				return k;
			}
		}
		if (is_mnemonic(buf))
			return k;
	}
	return 0;
}

static int assemble_line(struct asm_ctx *ctx, char *text)
{
	char mnemonic[32];
	struct asm_line l;
	unsigned int words;
	enum isa_op op;
	size_t n;
	int err;

	err = tokenize(ctx, text, &l);
	if (err || !l.nr)
		return err;
	n = strlen(l.tok[0]);
	if (l.tok[0][n - 1] == ':') {
		if (l.nr > 1 && l.commas[1])
			return asm_error(ctx, "unexpected ',' after label");
		l.tok[0][n - 1] = '\0';
		err = define_label(ctx, l.tok[0]);
		if (err || l.nr == 1)
			return err;
		memmove(l.tok, l.tok + 1, (l.nr - 1) * sizeof(l.tok[0]));
		memmove(l.commas, l.commas + 1, (l.nr - 1) * sizeof(l.commas[0]));
		l.nr--;
	}

	words = match_mnemonic(&l, mnemonic, sizeof(mnemonic));
	if (!words && l.nr > 1 && !l.commas[1] && starts_mnemonic(l.tok[0]))
		return asm_error(ctx, "unknown mnemonic '%s %s'", l.tok[0], l.tok[1]);
	if (!words)
		return asm_error(ctx, "unknown mnemonic '%s'", l.tok[0]);
	if (words < l.nr && l.commas[words])
		return asm_error(ctx, "unexpected ',' after '%s'", mnemonic);
	op = pick_op(mnemonic, l.tok + words, l.nr - words);
	return encode(ctx, op, mnemonic, l.tok + words, l.nr - words);
}

static int cmp_label(const void *a, const void *b)
{
	const struct asm_label *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	if (c)
		return c;
	return (x->line > y->line) - (x->line < y->line);
}

static const struct asm_label *find_label(const struct asm_ctx *ctx, const char *name)
{
	size_t lo = 0, hi = ctx->nr_labels;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(name, ctx->labels[mid].name);

		if (!c)
			return &ctx->labels[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

/* Pass 2: duplicate labels, then every reference turned into a relative distance. */
static int resolve_labels(struct asm_ctx *ctx)
{
	const struct asm_label *dup = NULL;

	if (ctx->nr_labels)
		qsort(ctx->labels, ctx->nr_labels, sizeof(*ctx->labels), cmp_label);
	/* report the duplicate defined earliest in the text, as a one-pass reader would */
	for (size_t i = 1; i < ctx->nr_labels; i++) {
		if (!strcmp(ctx->labels[i].name, ctx->labels[i - 1].name) &&
		    (!dup || ctx->labels[i].line < dup->line))
			dup = &ctx->labels[i];
	}
	if (dup) {
		ctx->line = dup->line;
		return asm_error(ctx, "duplicate label '%s' (first defined on line %u)", dup->name,
				 (dup - 1)->line);
	}

	for (size_t i = 0; i < ctx->nr_fixups; i++) {
		const struct asm_fixup *f = &ctx->fixups[i];
		const struct asm_label *l = find_label(ctx, f->label);
		struct nsbpf_insn *insn = &ctx->insns[f->idx];
		int64_t target, rel;

		ctx->line = f->line;
		if (l)
			target = l->idx;
		else if (!strcmp(f->label, "exit") && ctx->first_exit >= 0)
			target = ctx->first_exit;
		else
			return asm_error(ctx, "unknown label '%s'", f->label);
		rel = target - ((int64_t)f->idx + 1);
		if (!f->imm && (rel < INT16_MIN || rel > INT16_MAX))
			return asm_error(ctx, "label '%s' is %lld instructions away, %s", f->label,
					 (long long)rel, "beyond a 16-bit offset");
		if (f->imm)
			insn->imm = (int32_t)rel;
		else
			insn->off = (int16_t)rel;
	}
	return 0;
}

int nsbpf_vm_asm(const char *src, struct nsbpf_insn **insns, uint32_t *nr_insns, char *err,
		 size_t err_size)
{
	struct asm_ctx ctx = { .first_exit = -1, .err = err, .err_size = err_size };
	char *text, *line, *next;
	int ret = 0;

	if (err && err_size)
		err[0] = '\0';
	if (!src || !insns || !nr_insns)
		return -EINVAL;
	/* tokens and label names point into this copy until the end */
	text = strdup(src);
	if (!text)
		return -ENOMEM;

	for (line = text; line; line = next) {
		char *hash;

		ctx.line++;
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		hash = strchr(line, '#');
		if (hash)
			*hash = '\0';
		ret = assemble_line(&ctx, line);
		if (ret)
			goto out;
	}
	ret = resolve_labels(&ctx);
	if (ret)
		goto out;
	/* an empty program still gets an array of its own, so callers can always free it */
	if (!ctx.insns) {
		ctx.insns = calloc(1, sizeof(*ctx.insns));
		if (!ctx.insns) {
			ret = -ENOMEM;
			goto out;
		}
	}
	*insns = ctx.insns;
	*nr_insns = ctx.len;
	ctx.insns = NULL;
out:
	free(ctx.insns);
	free(ctx.labels);
	free(ctx.fixups);
	free(text);
	return ret;
}
