/*
 * Just enough of an x86 decoder to finish a trapped 32-bit MMIO access, in
 * 64-bit, 32-bit or 16-bit code: the stores MOV r/m32, r32 (89 /r),
 * MOV r/m32, imm32 (C7 /0) and MOV moffs32, EAX (A3), and the loads
 * MOV r32, r/m32 (8B /r) and MOV EAX, moffs32 (A1). The target address comes
 * from the VM exit; decoding yields the length and the register or value.
 */
#ifndef HVMETAL_INSN_DECODE_H
#define HVMETAL_INSN_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define INSN_MAX_LEN	15

enum insn_mode { INSN_MODE16, INSN_MODE32, INSN_MODE64 };

struct insn_store {
	unsigned len;		/* bytes the instruction occupies */
	bool has_imm;		/* source is imm (C7) rather than register reg (89, A3) */
	unsigned reg;		/* source GPR in the SDM's numbering, 0..15 */
	uint32_t imm;
};

/*
 * A 32-bit load writes its destination zero-extended to 64 bits: in 64-bit code
 * the upper half of the GPR becomes 0, and in 32- and 16-bit code it is not
 * visible, so the caller writes the whole GPR as (uint64_t)value in every mode.
 */
struct insn_load {
	unsigned len;		/* bytes the instruction occupies */
	unsigned reg;		/* destination GPR in the SDM's numbering, 0..15 */
};

/* 0 on success, -1 for anything else (other opcodes, 16-bit stores, truncated bytes). */
int insn_decode_store32(const uint8_t *b, size_t n, enum insn_mode mode, struct insn_store *out);
/* The same for the loads: 0, or -1 for anything else. */
int insn_decode_load32(const uint8_t *b, size_t n, enum insn_mode mode, struct insn_load *out);

#endif
