/*
 * The MOV forms test kernels use on MMIO (the APIC and IOAPIC pages, holes
 * below 4 GiB): 88/89/8A/8B, C6/C7 /0, A0-A3 (moffs) and MOVZX 0F B6/B7,
 * with the operand- and address-size prefixes, segment overrides and REX.
 * Decoded enough to do them: direction, size, register or immediate, and
 * the length (an EPT violation does not give it). Pure.
 */
#ifndef MB_INSN_H
#define MB_INSN_H

#include <stdbool.h>
#include <stdint.h>

enum mb_cpu_mode { MB_MODE16, MB_MODE32, MB_MODE64 };

struct mb_mov {
	bool write;		/* to memory */
	unsigned size;		/* bytes moved: 1, 2, 4 or 8 */
	unsigned reg;		/* GPR number (0 RAX .. 15 R15) of a register operand */
	bool high8;		/* the register is AH, CH, DH or BH (reg 0-3) */
	bool imm;		/* a store of the immediate instead */
	uint64_t value;		/* the immediate, sign-extended to size */
	bool zero_extend;	/* a load into a wider register, zero-extended (MOVZX) */
	unsigned reg_size;	/* bytes of the register a load writes */
	unsigned len;		/* instruction length */
};

/* bytes: up to 15 at RIP (n of them readable). False: not one of these forms. */
bool mb_decode_mov(const uint8_t *bytes, unsigned n, enum mb_cpu_mode mode, struct mb_mov *m);

#endif
