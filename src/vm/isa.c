// SPDX-License-Identifier: MIT
/*
 * isa.c - the instruction table of isa.h as data, and decoding an opcode to a table entry.
 *
 * Decoding is a lookup by opcode byte followed, for the few opcodes shared by several
 * instructions, by a match on the discriminating field.
 */
#include "isa.h"

#include <stddef.h>

const struct isa_op_desc isa_ops[ISA_NR_OPS] = {
#define ISA_DESC(name, code_, match_, value_, fields_, format_, mnemonic_) \
	[ISA_OP_##name] = { .code = code_,                             \
			    .match = match_,                           \
			    .match_value = value_,                     \
			    .fields = fields_,                         \
			    .format = format_,                         \
			    .mnemonic = mnemonic_ },
	ISA_OPS(ISA_DESC)
#undef ISA_DESC
};

const char *const isa_pseudo_names[ISA_PSEUDO_MAX + 1] = {
	[ISA_PSEUDO_MAP_FD] = "map_fd",
	[ISA_PSEUDO_MAP_VALUE] = "map_value",
	[ISA_PSEUDO_BTF_ID] = "btf_id",
	[ISA_PSEUDO_FUNC] = "func",
	[ISA_PSEUDO_MAP_IDX] = "map_idx",
	[ISA_PSEUDO_MAP_IDX_VALUE] = "map_idx_value",
};

static int32_t match_field(const struct nsbpf_insn *insn, enum isa_match match)
{
	switch (match) {
	case ISA_M_OFF:
		return insn->off;
	case ISA_M_IMM:
		return insn->imm;
	case ISA_M_SRC:
		return insn->src_reg;
	case ISA_M_NONE:
		break;
	}
	return 0;
}

enum isa_op isa_decode(const struct nsbpf_insn *insn)
{
	/*
	 * At most a handful of entries share an opcode byte and the table is small, so a
	 * linear scan is fine here: decoding happens once per instruction at load time.
	 */
	for (int op = 0; op < ISA_NR_OPS; op++) {
		const struct isa_op_desc *d = &isa_ops[op];

		if (d->code != insn->code)
			continue;
		if (d->match == ISA_M_NONE || match_field(insn, d->match) == d->match_value)
			return (enum isa_op)op;
	}
	return ISA_OP_INVALID;
}
