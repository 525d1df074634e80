// SPDX-License-Identifier: MIT
/*
 * disasm.c - one instruction back to text, in the syntax asm.c reads.
 *
 * The mnemonic and the operand layout come from the isa_ops[] table. Registers are
 * written `rN`, jump distances with an explicit sign (`+3`), and only instructions whose
 * every bit shows in the text are accepted: reserved fields must be zero, so assembling
 * the output gives back the same bytes.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>

#include "vm_internal.h"

/* An operand that names a register; lddw's src_reg is a pseudo source instead. */
static bool reg_ok(const struct nsbpf_insn *insn, const struct isa_op_desc *d)
{
	if ((d->fields & ISA_DST) && insn->dst_reg >= ISA_NR_REGS)
		return false;
	if (d->format == ISA_FMT_LDDW)
		return insn->src_reg <= ISA_PSEUDO_MAX;
	return !(d->fields & ISA_SRC) || insn->src_reg < ISA_NR_REGS;
}

/* Whether every field the text of `d` does not show is zero. */
static bool reserved_zero(const struct nsbpf_insn *insn, const struct isa_op_desc *d)
{
	uint8_t shown = d->fields;

	if (d->match == ISA_M_OFF)
		shown |= ISA_OFF;
	else if (d->match == ISA_M_IMM)
		shown |= ISA_IMM;
	else if (d->match == ISA_M_SRC)
		shown |= ISA_SRC;
	return ((shown & ISA_DST) || !insn->dst_reg) && ((shown & ISA_SRC) || !insn->src_reg) &&
	       ((shown & ISA_OFF) || !insn->off) && ((shown & ISA_IMM) || !insn->imm);
}

/*
 * Small constants in decimal, the rest as the 32-bit pattern in hex: masks read better
 * that way, and the assembler takes both spellings for the same bits.
 */
static const char *fmt_imm(char *buf, size_t size, int32_t imm)
{
	if (imm >= -0xffff && imm <= 0xffff)
		snprintf(buf, size, "%d", imm);
	else
		snprintf(buf, size, "0x%x", (uint32_t)imm);
	return buf;
}

static const char *fmt_mem(char *buf, size_t size, uint8_t reg, int16_t off)
{
	if (off)
		snprintf(buf, size, "[r%u%+d]", reg, off);
	else
		snprintf(buf, size, "[r%u]", reg);
	return buf;
}

static int fmt_lddw(const struct nsbpf_insn *insn, char *buf, size_t size)
{
	const struct nsbpf_insn *tail = insn + 1;
	char imm[16];

	if (!insn->src_reg)
		return snprintf(buf, size, "lddw r%u, 0x%llx", insn->dst_reg,
				(unsigned long long)((uint64_t)(uint32_t)tail->imm << 32 |
						     (uint32_t)insn->imm));
	/* a function is a target relative to the next slot, like a local call */
	if (insn->src_reg == ISA_PSEUDO_FUNC)
		snprintf(imm, sizeof(imm), "%+d", insn->imm);
	else
		fmt_imm(imm, sizeof(imm), insn->imm);
	if (tail->imm)
		return snprintf(buf, size, "lddw r%u, %s %s, %d", insn->dst_reg,
				isa_pseudo_names[insn->src_reg], imm, tail->imm);
	return snprintf(buf, size, "lddw r%u, %s %s", insn->dst_reg,
			isa_pseudo_names[insn->src_reg], imm);
}

int nsbpf_vm_disasm_insn(const struct nsbpf_insn *insns, uint32_t nr_insns, uint32_t idx,
			 char *buf, size_t buf_size)
{
	const struct nsbpf_insn *insn;
	const struct isa_op_desc *d;
	const char *m;
	char a[32], b[32];
	enum isa_op op;
	int n;

	if (!insns || !buf || !buf_size || idx >= nr_insns)
		return -EINVAL;
	insn = &insns[idx];
	op = isa_decode(insn);
	if (op == ISA_OP_INVALID)
		return -EINVAL;
	d = &isa_ops[op];
	m = d->mnemonic;
	if (!reserved_zero(insn, d) || !reg_ok(insn, d))
		return -EINVAL;

	switch (d->format) {
	case ISA_FMT_ALU_K:
		n = snprintf(buf, buf_size, "%s r%u, %s", m, insn->dst_reg,
			     fmt_imm(a, sizeof(a), insn->imm));
		break;
	case ISA_FMT_ALU_X:
		n = snprintf(buf, buf_size, "%s r%u, r%u", m, insn->dst_reg, insn->src_reg);
		break;
	case ISA_FMT_ALU_UN:
	case ISA_FMT_CALLX:
		n = snprintf(buf, buf_size, "%s r%u", m, insn->dst_reg);
		break;
	case ISA_FMT_JA:
		n = snprintf(buf, buf_size, "%s %+d", m, insn->off);
		break;
	case ISA_FMT_JA32:
	case ISA_FMT_CALL_LOCAL:
		n = snprintf(buf, buf_size, "%s %+d", m, insn->imm);
		break;
	case ISA_FMT_JCC_K:
		n = snprintf(buf, buf_size, "%s r%u, %s, %+d", m, insn->dst_reg,
			     fmt_imm(a, sizeof(a), insn->imm), insn->off);
		break;
	case ISA_FMT_JCC_X:
		n = snprintf(buf, buf_size, "%s r%u, r%u, %+d", m, insn->dst_reg, insn->src_reg,
			     insn->off);
		break;
	case ISA_FMT_CALL:
		/* helper ids are names, never masks: always decimal */
		n = snprintf(buf, buf_size, "%s %d", m, insn->imm);
		break;
	case ISA_FMT_EXIT:
		n = snprintf(buf, buf_size, "%s", m);
		break;
	case ISA_FMT_LDDW: {
		const struct nsbpf_insn *tail = insn + 1;

		if (idx + 1 >= nr_insns || tail->code || tail->dst_reg || tail->src_reg ||
		    tail->off)
			return -EINVAL;
		n = fmt_lddw(insn, buf, buf_size);
		break;
	}
	case ISA_FMT_LDX:
		n = snprintf(buf, buf_size, "%s r%u, %s", m, insn->dst_reg,
			     fmt_mem(a, sizeof(a), insn->src_reg, insn->off));
		break;
	case ISA_FMT_ST:
		n = snprintf(buf, buf_size, "%s %s, %s", m,
			     fmt_mem(a, sizeof(a), insn->dst_reg, insn->off),
			     fmt_imm(b, sizeof(b), insn->imm));
		break;
	case ISA_FMT_STX:
	case ISA_FMT_ATOMIC:
		n = snprintf(buf, buf_size, "%s %s, r%u", m,
			     fmt_mem(a, sizeof(a), insn->dst_reg, insn->off), insn->src_reg);
		break;
	case ISA_FMT_LDABS:
		n = snprintf(buf, buf_size, "%s %s", m, fmt_imm(a, sizeof(a), insn->imm));
		break;
	case ISA_FMT_LDIND:
		n = snprintf(buf, buf_size, "%s r%u, %s", m, insn->src_reg,
			     fmt_imm(a, sizeof(a), insn->imm));
		break;
	default:
		return -EINVAL;
	}
	if (n < 0 || (size_t)n >= buf_size)
		return -ENOSPC;
	return d->format == ISA_FMT_LDDW ? 2 : 1;
}
