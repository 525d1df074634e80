/* SPDX-License-Identifier: MIT */
/*
 * isa.h - the BPF instruction set as one table.
 *
 * ISA_OPS lists every instruction the VM accepts, once: its opcode byte, the field that
 * tells it apart from others with the same opcode (off for sdiv/smod/movsx, imm for byte
 * swaps and atomics, src for calls), the operand fields it uses, how it is written in
 * text, and its mnemonic. The validator, the pre-decoder, the interpreter's dispatch
 * table, the assembler and the disassembler are all generated from it, so adding an
 * instruction is one line here plus its handler in interp.c.
 */
#ifndef NSBPF_VM_ISA_H
#define NSBPF_VM_ISA_H

#include <stdint.h>

#include "nsbpf/vm.h"

/* Instruction classes and fields (RFC 9669, section 3). */
#define ISA_CLASS(code) ((code)&0x07)
#define ISA_CLS_LD 0x00
#define ISA_CLS_LDX 0x01
#define ISA_CLS_ST 0x02
#define ISA_CLS_STX 0x03
#define ISA_CLS_ALU 0x04
#define ISA_CLS_JMP 0x05
#define ISA_CLS_JMP32 0x06
#define ISA_CLS_ALU64 0x07

/* ld_imm64 pseudo sources (src_reg of the first half), as in the kernel's uapi. */
#define ISA_PSEUDO_MAP_FD 1
#define ISA_PSEUDO_MAP_VALUE 2
#define ISA_PSEUDO_BTF_ID 3
#define ISA_PSEUDO_FUNC 4
#define ISA_PSEUDO_MAP_IDX 5
#define ISA_PSEUDO_MAP_IDX_VALUE 6
#define ISA_PSEUDO_MAX 6

#define ISA_NR_REGS 11
#define ISA_REG_FP 10

/* Which fields an instruction takes as operands; all others must be zero. */
enum isa_field {
	ISA_DST = 1,
	ISA_SRC = 2,
	ISA_OFF = 4,
	ISA_IMM = 8,
};

/* The field that tells instructions with one opcode byte apart. */
enum isa_match {
	ISA_M_NONE,
	ISA_M_OFF,
	ISA_M_IMM,
	ISA_M_SRC,
};

/* How an instruction is written in text. */
enum isa_format {
	ISA_FMT_ALU_K,	    /* add r1, 5 */
	ISA_FMT_ALU_X,	    /* add r1, r2 */
	ISA_FMT_ALU_UN,	    /* neg r1 / be16 r1 */
	ISA_FMT_JA,	    /* ja +3 */
	ISA_FMT_JA32,	    /* ja32 +3 (offset in imm) */
	ISA_FMT_JCC_K,	    /* jeq r1, 5, +3 */
	ISA_FMT_JCC_X,	    /* jeq r1, r2, +3 */
	ISA_FMT_CALL,	    /* call 5 */
	ISA_FMT_CALL_LOCAL, /* call local +3 */
	ISA_FMT_CALLX,	    /* callx r2 */
	ISA_FMT_EXIT,	    /* exit */
	ISA_FMT_LDDW,	    /* lddw r1, 0x1122334455667788 */
	ISA_FMT_LDX,	    /* ldxw r1, [r2+4] */
	ISA_FMT_ST,	    /* stw [r1+4], 5 */
	ISA_FMT_STX,	    /* stxw [r1+4], r2 */
	ISA_FMT_ATOMIC,	    /* lock fetch add [r1+4], r2 */
	ISA_FMT_LDABS,	    /* ldabsw 4 */
	ISA_FMT_LDIND,	    /* ldindw r1, 4 */
};

/* X(name, opcode, match, match value, operand fields, format, mnemonic) */
#define ISA_OPS(X) \
	X(ALU64_ADD_K, 0x07, ISA_M_NONE, 0, ISA_DST|ISA_IMM, ISA_FMT_ALU_K, "add") \
	X(ALU64_ADD_X, 0x0f, ISA_M_NONE, 0, ISA_DST|ISA_SRC, ISA_FMT_ALU_X, "add") \
	X(ALU64_SUB_K, 0x17, ISA_M_NONE, 0, ISA_DST|ISA_IMM, ISA_FMT_ALU_K, "sub") \
	X(ALU64_SUB_X, 0x1f, ISA_M_NONE, 0, ISA_DST|ISA_SRC, ISA_FMT_ALU_X, "sub") \
	X(ALU64_MUL_K, 0x27, ISA_M_NONE, 0, ISA_DST|ISA_IMM, ISA_FMT_ALU_K, "mul") \
	X(ALU64_MUL_X, 0x2f, ISA_M_NONE, 0, ISA_DST|ISA_SRC, ISA_FMT_ALU_X, "mul") \
	X(ALU64_DIV_K, 0x37, ISA_M_OFF, 0, ISA_DST|ISA_IMM, ISA_FMT_ALU_K, "div") \
	X(ALU64_DIV_X, 0x3f, ISA_M_OFF, 0, ISA_DST|ISA_SRC, ISA_FMT_ALU_X, "div") \
	X(ALU64_SDIV_K, 0x37, ISA_M_OFF, 1, ISA_DST|ISA_IMM, ISA_FMT_ALU_K, "sdiv") \
	X(ALU64_SDIV_X, 0x3f, ISA_M_OFF, 1, ISA_DST|ISA_SRC, ISA_FMT_ALU_X, "sdiv") \
	X(ALU64_OR_K, 0x47, ISA_M_NONE, 0, ISA_DST|ISA_IMM, ISA_FMT_ALU_K, "or") \
	X(ALU64_OR_X, 0x4f, ISA_M_NONE, 0, ISA_DST|ISA_SRC, ISA_FMT_ALU_X, "or") \
	X(ALU64_AND_K, 0x57, ISA_M_NONE, 0, ISA_DST|ISA_IMM, ISA_FMT_ALU_K, "and") \
	X(ALU64_AND_X, 0x5f, ISA_M_NONE, 0, ISA_DST|ISA_SRC, ISA_FMT_ALU_X, "and") \
	X(ALU64_LSH_K, 0x67, ISA_M_NONE, 0, ISA_DST|ISA_IMM, ISA_FMT_ALU_K, "lsh") \
	X(ALU64_LSH_X, 0x6f, ISA_M_NONE, 0, ISA_DST|ISA_SRC, ISA_FMT_ALU_X, "lsh") \
	X(ALU64_RSH_K, 0x77, ISA_M_NONE, 0, ISA_DST|ISA_IMM, ISA_FMT_ALU_K, "rsh") \
	X(ALU64_RSH_X, 0x7f, ISA_M_NONE, 0, ISA_DST|ISA_SRC, ISA_FMT_ALU_X, "rsh") \
	X(ALU64_MOD_K, 0x97, ISA_M_OFF, 0, ISA_DST|ISA_IMM, ISA_FMT_ALU_K, "mod") \
	X(ALU64_MOD_X, 0x9f, ISA_M_OFF, 0, ISA_DST|ISA_SRC, ISA_FMT_ALU_X, "mod") \
	X(ALU64_SMOD_K, 0x97, ISA_M_OFF, 1, ISA_DST|ISA_IMM, ISA_FMT_ALU_K, "smod") \
	X(ALU64_SMOD_X, 0x9f, ISA_M_OFF, 1, ISA_DST|ISA_SRC, ISA_FMT_ALU_X, "smod") \
	X(ALU64_XOR_K, 0xa7, ISA_M_NONE, 0, ISA_DST|ISA_IMM, ISA_FMT_ALU_K, "xor") \
	X(ALU64_XOR_X, 0xaf, ISA_M_NONE, 0, ISA_DST|ISA_SRC, ISA_FMT_ALU_X, "xor") \
	X(ALU64_MOV_K, 0xb7, ISA_M_NONE, 0, ISA_DST|ISA_IMM, ISA_FMT_ALU_K, "mov") \
	X(ALU64_MOV_X, 0xbf, ISA_M_OFF, 0, ISA_DST|ISA_SRC, ISA_FMT_ALU_X, "mov") \
	X(ALU64_ARSH_K, 0xc7, ISA_M_NONE, 0, ISA_DST|ISA_IMM, ISA_FMT_ALU_K, "arsh") \
	X(ALU64_ARSH_X, 0xcf, ISA_M_NONE, 0, ISA_DST|ISA_SRC, ISA_FMT_ALU_X, "arsh") \
	X(ALU64_NEG, 0x87, ISA_M_NONE, 0, ISA_DST, ISA_FMT_ALU_UN, "neg") \
	X(ALU64_MOVSX8, 0xbf, ISA_M_OFF, 8, ISA_DST|ISA_SRC, ISA_FMT_ALU_X, "movsx864") \
	X(ALU64_MOVSX16, 0xbf, ISA_M_OFF, 16, ISA_DST|ISA_SRC, ISA_FMT_ALU_X, "movsx1664") \
	X(ALU64_MOVSX32, 0xbf, ISA_M_OFF, 32, ISA_DST|ISA_SRC, ISA_FMT_ALU_X, "movsx3264") \
	X(ALU32_ADD_K, 0x04, ISA_M_NONE, 0, ISA_DST|ISA_IMM, ISA_FMT_ALU_K, "add32") \
	X(ALU32_ADD_X, 0x0c, ISA_M_NONE, 0, ISA_DST|ISA_SRC, ISA_FMT_ALU_X, "add32") \
	X(ALU32_SUB_K, 0x14, ISA_M_NONE, 0, ISA_DST|ISA_IMM, ISA_FMT_ALU_K, "sub32") \
	X(ALU32_SUB_X, 0x1c, ISA_M_NONE, 0, ISA_DST|ISA_SRC, ISA_FMT_ALU_X, "sub32") \
	X(ALU32_MUL_K, 0x24, ISA_M_NONE, 0, ISA_DST|ISA_IMM, ISA_FMT_ALU_K, "mul32") \
	X(ALU32_MUL_X, 0x2c, ISA_M_NONE, 0, ISA_DST|ISA_SRC, ISA_FMT_ALU_X, "mul32") \
	X(ALU32_DIV_K, 0x34, ISA_M_OFF, 0, ISA_DST|ISA_IMM, ISA_FMT_ALU_K, "div32") \
	X(ALU32_DIV_X, 0x3c, ISA_M_OFF, 0, ISA_DST|ISA_SRC, ISA_FMT_ALU_X, "div32") \
	X(ALU32_SDIV_K, 0x34, ISA_M_OFF, 1, ISA_DST|ISA_IMM, ISA_FMT_ALU_K, "sdiv32") \
	X(ALU32_SDIV_X, 0x3c, ISA_M_OFF, 1, ISA_DST|ISA_SRC, ISA_FMT_ALU_X, "sdiv32") \
	X(ALU32_OR_K, 0x44, ISA_M_NONE, 0, ISA_DST|ISA_IMM, ISA_FMT_ALU_K, "or32") \
	X(ALU32_OR_X, 0x4c, ISA_M_NONE, 0, ISA_DST|ISA_SRC, ISA_FMT_ALU_X, "or32") \
	X(ALU32_AND_K, 0x54, ISA_M_NONE, 0, ISA_DST|ISA_IMM, ISA_FMT_ALU_K, "and32") \
	X(ALU32_AND_X, 0x5c, ISA_M_NONE, 0, ISA_DST|ISA_SRC, ISA_FMT_ALU_X, "and32") \
	X(ALU32_LSH_K, 0x64, ISA_M_NONE, 0, ISA_DST|ISA_IMM, ISA_FMT_ALU_K, "lsh32") \
	X(ALU32_LSH_X, 0x6c, ISA_M_NONE, 0, ISA_DST|ISA_SRC, ISA_FMT_ALU_X, "lsh32") \
	X(ALU32_RSH_K, 0x74, ISA_M_NONE, 0, ISA_DST|ISA_IMM, ISA_FMT_ALU_K, "rsh32") \
	X(ALU32_RSH_X, 0x7c, ISA_M_NONE, 0, ISA_DST|ISA_SRC, ISA_FMT_ALU_X, "rsh32") \
	X(ALU32_MOD_K, 0x94, ISA_M_OFF, 0, ISA_DST|ISA_IMM, ISA_FMT_ALU_K, "mod32") \
	X(ALU32_MOD_X, 0x9c, ISA_M_OFF, 0, ISA_DST|ISA_SRC, ISA_FMT_ALU_X, "mod32") \
	X(ALU32_SMOD_K, 0x94, ISA_M_OFF, 1, ISA_DST|ISA_IMM, ISA_FMT_ALU_K, "smod32") \
	X(ALU32_SMOD_X, 0x9c, ISA_M_OFF, 1, ISA_DST|ISA_SRC, ISA_FMT_ALU_X, "smod32") \
	X(ALU32_XOR_K, 0xa4, ISA_M_NONE, 0, ISA_DST|ISA_IMM, ISA_FMT_ALU_K, "xor32") \
	X(ALU32_XOR_X, 0xac, ISA_M_NONE, 0, ISA_DST|ISA_SRC, ISA_FMT_ALU_X, "xor32") \
	X(ALU32_MOV_K, 0xb4, ISA_M_NONE, 0, ISA_DST|ISA_IMM, ISA_FMT_ALU_K, "mov32") \
	X(ALU32_MOV_X, 0xbc, ISA_M_OFF, 0, ISA_DST|ISA_SRC, ISA_FMT_ALU_X, "mov32") \
	X(ALU32_ARSH_K, 0xc4, ISA_M_NONE, 0, ISA_DST|ISA_IMM, ISA_FMT_ALU_K, "arsh32") \
	X(ALU32_ARSH_X, 0xcc, ISA_M_NONE, 0, ISA_DST|ISA_SRC, ISA_FMT_ALU_X, "arsh32") \
	X(ALU32_NEG, 0x84, ISA_M_NONE, 0, ISA_DST, ISA_FMT_ALU_UN, "neg32") \
	X(ALU32_MOVSX8, 0xbc, ISA_M_OFF, 8, ISA_DST|ISA_SRC, ISA_FMT_ALU_X, "movsx832") \
	X(ALU32_MOVSX16, 0xbc, ISA_M_OFF, 16, ISA_DST|ISA_SRC, ISA_FMT_ALU_X, "movsx1632") \
	X(LE16, 0xd4, ISA_M_IMM, 16, ISA_DST, ISA_FMT_ALU_UN, "le16") \
	X(LE32, 0xd4, ISA_M_IMM, 32, ISA_DST, ISA_FMT_ALU_UN, "le32") \
	X(LE64, 0xd4, ISA_M_IMM, 64, ISA_DST, ISA_FMT_ALU_UN, "le64") \
	X(BE16, 0xdc, ISA_M_IMM, 16, ISA_DST, ISA_FMT_ALU_UN, "be16") \
	X(BE32, 0xdc, ISA_M_IMM, 32, ISA_DST, ISA_FMT_ALU_UN, "be32") \
	X(BE64, 0xdc, ISA_M_IMM, 64, ISA_DST, ISA_FMT_ALU_UN, "be64") \
	X(BSWAP16, 0xd7, ISA_M_IMM, 16, ISA_DST, ISA_FMT_ALU_UN, "bswap16") \
	X(BSWAP32, 0xd7, ISA_M_IMM, 32, ISA_DST, ISA_FMT_ALU_UN, "bswap32") \
	X(BSWAP64, 0xd7, ISA_M_IMM, 64, ISA_DST, ISA_FMT_ALU_UN, "bswap64") \
	X(JA, 0x05, ISA_M_NONE, 0, ISA_OFF, ISA_FMT_JA, "ja") \
	X(JA32, 0x06, ISA_M_NONE, 0, ISA_IMM, ISA_FMT_JA32, "ja32") \
	X(JMP_JEQ_K, 0x15, ISA_M_NONE, 0, ISA_DST|ISA_OFF|ISA_IMM, ISA_FMT_JCC_K, "jeq") \
	X(JMP_JEQ_X, 0x1d, ISA_M_NONE, 0, ISA_DST|ISA_OFF|ISA_SRC, ISA_FMT_JCC_X, "jeq") \
	X(JMP_JGT_K, 0x25, ISA_M_NONE, 0, ISA_DST|ISA_OFF|ISA_IMM, ISA_FMT_JCC_K, "jgt") \
	X(JMP_JGT_X, 0x2d, ISA_M_NONE, 0, ISA_DST|ISA_OFF|ISA_SRC, ISA_FMT_JCC_X, "jgt") \
	X(JMP_JGE_K, 0x35, ISA_M_NONE, 0, ISA_DST|ISA_OFF|ISA_IMM, ISA_FMT_JCC_K, "jge") \
	X(JMP_JGE_X, 0x3d, ISA_M_NONE, 0, ISA_DST|ISA_OFF|ISA_SRC, ISA_FMT_JCC_X, "jge") \
	X(JMP_JSET_K, 0x45, ISA_M_NONE, 0, ISA_DST|ISA_OFF|ISA_IMM, ISA_FMT_JCC_K, "jset") \
	X(JMP_JSET_X, 0x4d, ISA_M_NONE, 0, ISA_DST|ISA_OFF|ISA_SRC, ISA_FMT_JCC_X, "jset") \
	X(JMP_JNE_K, 0x55, ISA_M_NONE, 0, ISA_DST|ISA_OFF|ISA_IMM, ISA_FMT_JCC_K, "jne") \
	X(JMP_JNE_X, 0x5d, ISA_M_NONE, 0, ISA_DST|ISA_OFF|ISA_SRC, ISA_FMT_JCC_X, "jne") \
	X(JMP_JSGT_K, 0x65, ISA_M_NONE, 0, ISA_DST|ISA_OFF|ISA_IMM, ISA_FMT_JCC_K, "jsgt") \
	X(JMP_JSGT_X, 0x6d, ISA_M_NONE, 0, ISA_DST|ISA_OFF|ISA_SRC, ISA_FMT_JCC_X, "jsgt") \
	X(JMP_JSGE_K, 0x75, ISA_M_NONE, 0, ISA_DST|ISA_OFF|ISA_IMM, ISA_FMT_JCC_K, "jsge") \
	X(JMP_JSGE_X, 0x7d, ISA_M_NONE, 0, ISA_DST|ISA_OFF|ISA_SRC, ISA_FMT_JCC_X, "jsge") \
	X(JMP_JLT_K, 0xa5, ISA_M_NONE, 0, ISA_DST|ISA_OFF|ISA_IMM, ISA_FMT_JCC_K, "jlt") \
	X(JMP_JLT_X, 0xad, ISA_M_NONE, 0, ISA_DST|ISA_OFF|ISA_SRC, ISA_FMT_JCC_X, "jlt") \
	X(JMP_JLE_K, 0xb5, ISA_M_NONE, 0, ISA_DST|ISA_OFF|ISA_IMM, ISA_FMT_JCC_K, "jle") \
	X(JMP_JLE_X, 0xbd, ISA_M_NONE, 0, ISA_DST|ISA_OFF|ISA_SRC, ISA_FMT_JCC_X, "jle") \
	X(JMP_JSLT_K, 0xc5, ISA_M_NONE, 0, ISA_DST|ISA_OFF|ISA_IMM, ISA_FMT_JCC_K, "jslt") \
	X(JMP_JSLT_X, 0xcd, ISA_M_NONE, 0, ISA_DST|ISA_OFF|ISA_SRC, ISA_FMT_JCC_X, "jslt") \
	X(JMP_JSLE_K, 0xd5, ISA_M_NONE, 0, ISA_DST|ISA_OFF|ISA_IMM, ISA_FMT_JCC_K, "jsle") \
	X(JMP_JSLE_X, 0xdd, ISA_M_NONE, 0, ISA_DST|ISA_OFF|ISA_SRC, ISA_FMT_JCC_X, "jsle") \
	X(JMP32_JEQ_K, 0x16, ISA_M_NONE, 0, ISA_DST|ISA_OFF|ISA_IMM, ISA_FMT_JCC_K, "jeq32") \
	X(JMP32_JEQ_X, 0x1e, ISA_M_NONE, 0, ISA_DST|ISA_OFF|ISA_SRC, ISA_FMT_JCC_X, "jeq32") \
	X(JMP32_JGT_K, 0x26, ISA_M_NONE, 0, ISA_DST|ISA_OFF|ISA_IMM, ISA_FMT_JCC_K, "jgt32") \
	X(JMP32_JGT_X, 0x2e, ISA_M_NONE, 0, ISA_DST|ISA_OFF|ISA_SRC, ISA_FMT_JCC_X, "jgt32") \
	X(JMP32_JGE_K, 0x36, ISA_M_NONE, 0, ISA_DST|ISA_OFF|ISA_IMM, ISA_FMT_JCC_K, "jge32") \
	X(JMP32_JGE_X, 0x3e, ISA_M_NONE, 0, ISA_DST|ISA_OFF|ISA_SRC, ISA_FMT_JCC_X, "jge32") \
	X(JMP32_JSET_K, 0x46, ISA_M_NONE, 0, ISA_DST|ISA_OFF|ISA_IMM, ISA_FMT_JCC_K, "jset32") \
	X(JMP32_JSET_X, 0x4e, ISA_M_NONE, 0, ISA_DST|ISA_OFF|ISA_SRC, ISA_FMT_JCC_X, "jset32") \
	X(JMP32_JNE_K, 0x56, ISA_M_NONE, 0, ISA_DST|ISA_OFF|ISA_IMM, ISA_FMT_JCC_K, "jne32") \
	X(JMP32_JNE_X, 0x5e, ISA_M_NONE, 0, ISA_DST|ISA_OFF|ISA_SRC, ISA_FMT_JCC_X, "jne32") \
	X(JMP32_JSGT_K, 0x66, ISA_M_NONE, 0, ISA_DST|ISA_OFF|ISA_IMM, ISA_FMT_JCC_K, "jsgt32") \
	X(JMP32_JSGT_X, 0x6e, ISA_M_NONE, 0, ISA_DST|ISA_OFF|ISA_SRC, ISA_FMT_JCC_X, "jsgt32") \
	X(JMP32_JSGE_K, 0x76, ISA_M_NONE, 0, ISA_DST|ISA_OFF|ISA_IMM, ISA_FMT_JCC_K, "jsge32") \
	X(JMP32_JSGE_X, 0x7e, ISA_M_NONE, 0, ISA_DST|ISA_OFF|ISA_SRC, ISA_FMT_JCC_X, "jsge32") \
	X(JMP32_JLT_K, 0xa6, ISA_M_NONE, 0, ISA_DST|ISA_OFF|ISA_IMM, ISA_FMT_JCC_K, "jlt32") \
	X(JMP32_JLT_X, 0xae, ISA_M_NONE, 0, ISA_DST|ISA_OFF|ISA_SRC, ISA_FMT_JCC_X, "jlt32") \
	X(JMP32_JLE_K, 0xb6, ISA_M_NONE, 0, ISA_DST|ISA_OFF|ISA_IMM, ISA_FMT_JCC_K, "jle32") \
	X(JMP32_JLE_X, 0xbe, ISA_M_NONE, 0, ISA_DST|ISA_OFF|ISA_SRC, ISA_FMT_JCC_X, "jle32") \
	X(JMP32_JSLT_K, 0xc6, ISA_M_NONE, 0, ISA_DST|ISA_OFF|ISA_IMM, ISA_FMT_JCC_K, "jslt32") \
	X(JMP32_JSLT_X, 0xce, ISA_M_NONE, 0, ISA_DST|ISA_OFF|ISA_SRC, ISA_FMT_JCC_X, "jslt32") \
	X(JMP32_JSLE_K, 0xd6, ISA_M_NONE, 0, ISA_DST|ISA_OFF|ISA_IMM, ISA_FMT_JCC_K, "jsle32") \
	X(JMP32_JSLE_X, 0xde, ISA_M_NONE, 0, ISA_DST|ISA_OFF|ISA_SRC, ISA_FMT_JCC_X, "jsle32") \
	X(CALL_HELPER, 0x85, ISA_M_SRC, 0, ISA_IMM, ISA_FMT_CALL, "call") \
	X(CALL_LOCAL, 0x85, ISA_M_SRC, 1, ISA_IMM, ISA_FMT_CALL_LOCAL, "call local") \
	X(CALLX, 0x8d, ISA_M_NONE, 0, ISA_DST, ISA_FMT_CALLX, "callx") \
	X(EXIT, 0x95, ISA_M_NONE, 0, 0, ISA_FMT_EXIT, "exit") \
	X(LDDW, 0x18, ISA_M_NONE, 0, ISA_DST|ISA_SRC|ISA_IMM, ISA_FMT_LDDW, "lddw") \
	X(LDX_W, 0x61, ISA_M_NONE, 0, ISA_DST|ISA_SRC|ISA_OFF, ISA_FMT_LDX, "ldxw") \
	X(LDX_H, 0x69, ISA_M_NONE, 0, ISA_DST|ISA_SRC|ISA_OFF, ISA_FMT_LDX, "ldxh") \
	X(LDX_B, 0x71, ISA_M_NONE, 0, ISA_DST|ISA_SRC|ISA_OFF, ISA_FMT_LDX, "ldxb") \
	X(LDX_DW, 0x79, ISA_M_NONE, 0, ISA_DST|ISA_SRC|ISA_OFF, ISA_FMT_LDX, "ldxdw") \
	X(LDXS_W, 0x81, ISA_M_NONE, 0, ISA_DST|ISA_SRC|ISA_OFF, ISA_FMT_LDX, "ldxsw") \
	X(LDXS_H, 0x89, ISA_M_NONE, 0, ISA_DST|ISA_SRC|ISA_OFF, ISA_FMT_LDX, "ldxsh") \
	X(LDXS_B, 0x91, ISA_M_NONE, 0, ISA_DST|ISA_SRC|ISA_OFF, ISA_FMT_LDX, "ldxsb") \
	X(ST_W, 0x62, ISA_M_NONE, 0, ISA_DST|ISA_OFF|ISA_IMM, ISA_FMT_ST, "stw") \
	X(ST_H, 0x6a, ISA_M_NONE, 0, ISA_DST|ISA_OFF|ISA_IMM, ISA_FMT_ST, "sth") \
	X(ST_B, 0x72, ISA_M_NONE, 0, ISA_DST|ISA_OFF|ISA_IMM, ISA_FMT_ST, "stb") \
	X(ST_DW, 0x7a, ISA_M_NONE, 0, ISA_DST|ISA_OFF|ISA_IMM, ISA_FMT_ST, "stdw") \
	X(STX_W, 0x63, ISA_M_NONE, 0, ISA_DST|ISA_SRC|ISA_OFF, ISA_FMT_STX, "stxw") \
	X(STX_H, 0x6b, ISA_M_NONE, 0, ISA_DST|ISA_SRC|ISA_OFF, ISA_FMT_STX, "stxh") \
	X(STX_B, 0x73, ISA_M_NONE, 0, ISA_DST|ISA_SRC|ISA_OFF, ISA_FMT_STX, "stxb") \
	X(STX_DW, 0x7b, ISA_M_NONE, 0, ISA_DST|ISA_SRC|ISA_OFF, ISA_FMT_STX, "stxdw") \
	X(ATOMIC64_ADD, 0xdb, ISA_M_IMM, 0, ISA_DST|ISA_SRC|ISA_OFF, ISA_FMT_ATOMIC, "lock add") \
	X(ATOMIC64_FETCH_ADD, 0xdb, ISA_M_IMM, 1, ISA_DST|ISA_SRC|ISA_OFF, ISA_FMT_ATOMIC, "lock fetch add") \
	X(ATOMIC64_OR, 0xdb, ISA_M_IMM, 64, ISA_DST|ISA_SRC|ISA_OFF, ISA_FMT_ATOMIC, "lock or") \
	X(ATOMIC64_FETCH_OR, 0xdb, ISA_M_IMM, 65, ISA_DST|ISA_SRC|ISA_OFF, ISA_FMT_ATOMIC, "lock fetch or") \
	X(ATOMIC64_AND, 0xdb, ISA_M_IMM, 80, ISA_DST|ISA_SRC|ISA_OFF, ISA_FMT_ATOMIC, "lock and") \
	X(ATOMIC64_FETCH_AND, 0xdb, ISA_M_IMM, 81, ISA_DST|ISA_SRC|ISA_OFF, ISA_FMT_ATOMIC, "lock fetch and") \
	X(ATOMIC64_XOR, 0xdb, ISA_M_IMM, 160, ISA_DST|ISA_SRC|ISA_OFF, ISA_FMT_ATOMIC, "lock xor") \
	X(ATOMIC64_FETCH_XOR, 0xdb, ISA_M_IMM, 161, ISA_DST|ISA_SRC|ISA_OFF, ISA_FMT_ATOMIC, "lock fetch xor") \
	X(ATOMIC64_XCHG, 0xdb, ISA_M_IMM, 225, ISA_DST|ISA_SRC|ISA_OFF, ISA_FMT_ATOMIC, "lock xchg") \
	X(ATOMIC64_CMPXCHG, 0xdb, ISA_M_IMM, 241, ISA_DST|ISA_SRC|ISA_OFF, ISA_FMT_ATOMIC, "lock cmpxchg") \
	X(ATOMIC32_ADD, 0xc3, ISA_M_IMM, 0, ISA_DST|ISA_SRC|ISA_OFF, ISA_FMT_ATOMIC, "lock add32") \
	X(ATOMIC32_FETCH_ADD, 0xc3, ISA_M_IMM, 1, ISA_DST|ISA_SRC|ISA_OFF, ISA_FMT_ATOMIC, "lock fetch add32") \
	X(ATOMIC32_OR, 0xc3, ISA_M_IMM, 64, ISA_DST|ISA_SRC|ISA_OFF, ISA_FMT_ATOMIC, "lock or32") \
	X(ATOMIC32_FETCH_OR, 0xc3, ISA_M_IMM, 65, ISA_DST|ISA_SRC|ISA_OFF, ISA_FMT_ATOMIC, "lock fetch or32") \
	X(ATOMIC32_AND, 0xc3, ISA_M_IMM, 80, ISA_DST|ISA_SRC|ISA_OFF, ISA_FMT_ATOMIC, "lock and32") \
	X(ATOMIC32_FETCH_AND, 0xc3, ISA_M_IMM, 81, ISA_DST|ISA_SRC|ISA_OFF, ISA_FMT_ATOMIC, "lock fetch and32") \
	X(ATOMIC32_XOR, 0xc3, ISA_M_IMM, 160, ISA_DST|ISA_SRC|ISA_OFF, ISA_FMT_ATOMIC, "lock xor32") \
	X(ATOMIC32_FETCH_XOR, 0xc3, ISA_M_IMM, 161, ISA_DST|ISA_SRC|ISA_OFF, ISA_FMT_ATOMIC, "lock fetch xor32") \
	X(ATOMIC32_XCHG, 0xc3, ISA_M_IMM, 225, ISA_DST|ISA_SRC|ISA_OFF, ISA_FMT_ATOMIC, "lock xchg32") \
	X(ATOMIC32_CMPXCHG, 0xc3, ISA_M_IMM, 241, ISA_DST|ISA_SRC|ISA_OFF, ISA_FMT_ATOMIC, "lock cmpxchg32") \
	X(LDABS_W, 0x20, ISA_M_NONE, 0, ISA_IMM, ISA_FMT_LDABS, "ldabsw") \
	X(LDABS_H, 0x28, ISA_M_NONE, 0, ISA_IMM, ISA_FMT_LDABS, "ldabsh") \
	X(LDABS_B, 0x30, ISA_M_NONE, 0, ISA_IMM, ISA_FMT_LDABS, "ldabsb") \
	X(LDIND_W, 0x40, ISA_M_NONE, 0, ISA_SRC|ISA_IMM, ISA_FMT_LDIND, "ldindw") \
	X(LDIND_H, 0x48, ISA_M_NONE, 0, ISA_SRC|ISA_IMM, ISA_FMT_LDIND, "ldindh") \
	X(LDIND_B, 0x50, ISA_M_NONE, 0, ISA_SRC|ISA_IMM, ISA_FMT_LDIND, "ldindb")

enum isa_op {
#define ISA_ENUM(name, ...) ISA_OP_##name,
	ISA_OPS(ISA_ENUM)
#undef ISA_ENUM
	ISA_NR_OPS,
	ISA_OP_INVALID = -1,
};

struct isa_op_desc {
	uint8_t code;
	uint8_t match;
	int32_t match_value;
	uint8_t fields;
	uint8_t format;
	const char *mnemonic;
};

extern const struct isa_op_desc isa_ops[ISA_NR_OPS];

/* Text names of the ld_imm64 pseudo sources (`lddw r1, map_fd 3`), by src_reg; NULL for 0. */
extern const char *const isa_pseudo_names[ISA_PSEUDO_MAX + 1];

/*
 * The instruction `insn` is, judged by opcode and discriminating field only; the other
 * fields are not checked (the validator does that). ISA_OP_INVALID if none.
 */
enum isa_op isa_decode(const struct nsbpf_insn *insn);

#endif /* NSBPF_VM_ISA_H */
