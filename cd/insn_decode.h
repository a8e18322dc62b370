/*
 * Just enough of an x86 decoder to finish a trapped MMIO store: MOV r/m32, r32
 * (89 /r), MOV r/m32, imm32 (C7 /0) and MOV moffs32, EAX (A3), in 64-bit, 32-bit
 * or 16-bit code. The target address comes from the VM exit; decoding yields the
 * length and the value.
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

/* 0 on success, -1 for anything else (other opcodes, 16-bit stores, truncated bytes). */
int insn_decode_store32(const uint8_t *b, size_t n, enum insn_mode mode, struct insn_store *out);

#endif
