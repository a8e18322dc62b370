/*
 * Host tests for the MMIO decoder: the stores MOV r/m32, r32 (89 /r),
 * MOV r/m32, imm32 (C7 /0) and MOV moffs32, EAX (A3), and the loads
 * MOV r32, r/m32 (8B /r) and MOV EAX, moffs32 (A1), in 64-, 32- and 16-bit
 * code.  Every encoding is
 * also tried with each shorter length (must fail: truncated) and from a heap
 * buffer of exactly its size (ASan catches a read past it).
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <setjmp.h>
#include <cmocka.h>

#include "cd/insn_decode.h"
#include "kernel/string.h"

#define M64	INSN_MODE64
#define M32	INSN_MODE32
#define M16	INSN_MODE16

static int
decode(const uint8_t *b, size_t n, enum insn_mode mode, struct insn_store *out)
{
	uint8_t *copy = malloc(n ? n : 1);
	int r;

	assert_non_null(copy);
	memcpy(copy, b, n);
	memset(out, 0xa5, sizeof(*out));
	r = insn_decode_store32(copy, n, mode, out);
	free(copy);
	return r;
}

/* A register store: decodes with length len, and not from fewer bytes. */
static void
expect_reg(const uint8_t *b, size_t n, enum insn_mode mode, unsigned len, unsigned reg)
{
	struct insn_store s;

	assert_int_equal(decode(b, n, mode, &s), 0);
	assert_int_equal(s.len, len);
	assert_false(s.has_imm);
	assert_int_equal(s.reg, reg);
	/* Trailing bytes (the next instruction) change nothing. */
	if (n == len) {
		uint8_t more[INSN_MAX_LEN + 4];

		memcpy(more, b, n);
		memset(more + n, 0x89, sizeof(more) - n);
		assert_int_equal(decode(more, sizeof(more), mode, &s), 0);
		assert_int_equal(s.len, len);
		assert_int_equal(s.reg, reg);
	}
	for (size_t k = 0; k < len; k++)
		assert_int_equal(decode(b, k, mode, &s), -1);
}

static void
expect_imm(const uint8_t *b, size_t n, enum insn_mode mode, unsigned len, uint32_t imm)
{
	struct insn_store s;

	assert_int_equal(decode(b, n, mode, &s), 0);
	assert_int_equal(s.len, len);
	assert_true(s.has_imm);
	assert_int_equal(s.imm, imm);
	for (size_t k = 0; k < len; k++)
		assert_int_equal(decode(b, k, mode, &s), -1);
}

static void
expect_reject(const uint8_t *b, size_t n, enum insn_mode mode)
{
	struct insn_store s;

	if (decode(b, n, mode, &s) != -1)
		fail_msg("accepted: %02x %02x %02x (n=%zu mode %d), len %u", b[0],
			 n > 1 ? b[1] : 0, n > 2 ? b[2] : 0, n, (int)mode, s.len);
}

static int
decode_load(const uint8_t *b, size_t n, enum insn_mode mode, struct insn_load *out)
{
	uint8_t *copy = malloc(n ? n : 1);
	int r;

	assert_non_null(copy);
	memcpy(copy, b, n);
	memset(out, 0xa5, sizeof(*out));
	r = insn_decode_load32(copy, n, mode, out);
	free(copy);
	return r;
}

/* A load: decodes with length len into reg, also with bytes after it, and not from fewer. */
static void
expect_load(const uint8_t *b, size_t n, enum insn_mode mode, unsigned len, unsigned reg)
{
	struct insn_load l;
	uint8_t more[INSN_MAX_LEN + 4];

	assert_int_equal(decode_load(b, n, mode, &l), 0);
	assert_int_equal(l.len, len);
	assert_int_equal(l.reg, reg);
	assert_int_equal(n, len);
	memcpy(more, b, n);
	memset(more + n, 0x8b, sizeof(more) - n);
	assert_int_equal(decode_load(more, sizeof(more), mode, &l), 0);
	assert_int_equal(l.len, len);
	assert_int_equal(l.reg, reg);
	for (size_t k = 0; k < len; k++)
		assert_int_equal(decode_load(b, k, mode, &l), -1);
}

static void
expect_load_reject(const uint8_t *b, size_t n, enum insn_mode mode)
{
	struct insn_load l;

	if (decode_load(b, n, mode, &l) != -1)
		fail_msg("load accepted: %02x %02x %02x (n=%zu mode %d), len %u", b[0],
			 n > 1 ? b[1] : 0, n > 2 ? b[2] : 0, n, (int)mode, l.len);
}

#define REG(mode, len, reg, ...) do {						\
	static const uint8_t b_[] = { __VA_ARGS__ };				\
	expect_reg(b_, sizeof(b_), mode, len, reg);				\
} while (0)
#define IMM(mode, len, imm, ...) do {						\
	static const uint8_t b_[] = { __VA_ARGS__ };				\
	expect_imm(b_, sizeof(b_), mode, len, imm);				\
} while (0)
#define LOAD(mode, len, reg, ...) do {						\
	static const uint8_t b_[] = { __VA_ARGS__ };				\
	expect_load(b_, sizeof(b_), mode, len, reg);				\
} while (0)
#define LOAD_REJECT(mode, ...) do {						\
	static const uint8_t b_[] = { __VA_ARGS__ };				\
	expect_load_reject(b_, sizeof(b_), mode);				\
} while (0)
#define REJECT(mode, ...) do {							\
	static const uint8_t b_[] = { __VA_ARGS__ };				\
	expect_reject(b_, sizeof(b_), mode);					\
} while (0)

static void
test_mov_reg_64(void **state)
{
	(void)state;
	REG(M64, 2, 0, 0x89, 0x02);			/* mov [rdx], eax */
	REG(M64, 2, 3, 0x89, 0x1a);			/* mov [rdx], ebx */
	REG(M64, 2, 7, 0x89, 0x3f);			/* mov [rdi], edi */
	REG(M64, 3, 8, 0x44, 0x89, 0x02);		/* mov [rdx], r8d */
	REG(M64, 3, 15, 0x44, 0x89, 0x3a);		/* mov [rdx], r15d */
	/* REX.B and REX.X pick the address registers, not the source. */
	REG(M64, 3, 1, 0x41, 0x89, 0x0a);		/* mov [r10], ecx */
	REG(M64, 4, 2, 0x42, 0x89, 0x14, 0x08);		/* mov [rax+r9], edx */
	REG(M64, 3, 0, 0x40, 0x89, 0x00);		/* empty REX */
	REG(M64, 3, 12, 0x45, 0x89, 0x20);		/* mov [r8], r12d */
}

static void
test_rex_w_rejected(void **state)
{
	(void)state;
	REJECT(M64, 0x48, 0x89, 0x02);			/* mov [rdx], rax */
	REJECT(M64, 0x4c, 0x89, 0x02);			/* mov [rdx], r8 */
	REJECT(M64, 0x4f, 0x89, 0x02);
	REJECT(M64, 0x48, 0xc7, 0x00, 1, 2, 3, 4);	/* mov qword [rax], imm32 */
}

static void
test_addressing_64(void **state)
{
	(void)state;
	REG(M64, 3, 0, 0x89, 0x42, 0x10);				/* [rdx+8] disp8 */
	REG(M64, 6, 0, 0x89, 0x82, 0x00, 0x10, 0x00, 0x00);		/* [rdx+disp32] */
	REG(M64, 6, 0, 0x89, 0x05, 0x78, 0x56, 0x34, 0x12);		/* [rip+disp32] */
	REG(M64, 3, 0, 0x89, 0x04, 0x24);				/* [rsp] SIB */
	REG(M64, 4, 0, 0x89, 0x44, 0x24, 0x08);				/* [rsp+8] */
	REG(M64, 7, 0, 0x89, 0x84, 0x24, 0, 1, 0, 0);			/* [rsp+disp32] */
	REG(M64, 7, 0, 0x89, 0x04, 0x25, 0x00, 0x03, 0xe0, 0xfe);	/* [disp32] abs */
	REG(M64, 7, 2, 0x89, 0x14, 0x8d, 0x10, 0, 0, 0);		/* [rcx*4+disp32] */
	REG(M64, 3, 0, 0x89, 0x45, 0x00, 0x90);				/* [rbp+0], then a nop */
	/* SIB base 5 with mod 1/2 is rbp + disp, not "no base". */
	REG(M64, 4, 0, 0x89, 0x44, 0x25, 0x08);
	REG(M64, 7, 0, 0x89, 0x84, 0x25, 0, 0, 0, 1);
	/* r13 as a base needs a disp8 like rbp. */
	REG(M64, 4, 6, 0x41, 0x89, 0x75, 0x00);
}

static void
test_mov_imm(void **state)
{
	(void)state;
	IMM(M64, 6, 0x12345678, 0xc7, 0x00, 0x78, 0x56, 0x34, 0x12);		/* [rax] */
	IMM(M64, 10, 0xfee00300, 0xc7, 0x80, 0x00, 0x03, 0, 0,
	    0x00, 0x03, 0xe0, 0xfe);						/* [rax+d32] */
	IMM(M64, 7, 0xffffffff, 0xc7, 0x40, 0x30, 0xff, 0xff, 0xff, 0xff);	/* [rax+30h] */
	IMM(M64, 11, 0x000c4500, 0xc7, 0x04, 0x25, 0x00, 0x03, 0xe0, 0xfe,
	    0x00, 0x45, 0x0c, 0x00);						/* ICR */
	IMM(M64, 10, 0x80000001, 0xc7, 0x05, 1, 2, 3, 4, 0x01, 0, 0, 0x80);	/* rip-rel */
	IMM(M64, 7, 0xa5, 0x41, 0xc7, 0x01, 0xa5, 0, 0, 0);			/* [r9] */
	IMM(M32, 6, 0xdeadbeef, 0xc7, 0x03, 0xef, 0xbe, 0xad, 0xde);
	/* C7 with a reg field other than 0 is not MOV (C7 F8 is XBEGIN). */
	REJECT(M64, 0xc7, 0x08, 1, 2, 3, 4);
	REJECT(M64, 0xc7, 0x38, 1, 2, 3, 4);
	/* Immediate cut short. */
	REJECT(M64, 0xc7, 0x00, 1, 2, 3);
	REJECT(M64, 0xc7, 0x80, 0, 3, 0, 0, 1, 2, 3);
}

static void
test_prefixes(void **state)
{
	(void)state;
	/* Segment overrides are harmless. */
	REG(M64, 3, 0, 0x2e, 0x89, 0x02);
	REG(M64, 3, 0, 0x3e, 0x89, 0x02);
	REG(M64, 3, 0, 0x26, 0x89, 0x02);
	REG(M64, 3, 0, 0x36, 0x89, 0x02);
	REG(M64, 3, 0, 0x64, 0x89, 0x02);
	REG(M64, 4, 9, 0x65, 0x44, 0x89, 0x0a);
	REG(M32, 3, 1, 0x65, 0x89, 0x0a);
	IMM(M64, 7, 0x11223344, 0x3e, 0xc7, 0x00, 0x44, 0x33, 0x22, 0x11);
	/* 66: a 16-bit store in 64- and 32-bit code. */
	REJECT(M64, 0x66, 0x89, 0x02);
	REJECT(M32, 0x66, 0x89, 0x02);
	REJECT(M64, 0x66, 0xc7, 0x00, 1, 2, 3, 4);
	REJECT(M64, 0x2e, 0x66, 0x89, 0x02);
	/* Other prefixes (LOCK, REP) are not accepted. */
	REJECT(M64, 0xf0, 0x89, 0x02);
	REJECT(M64, 0xf3, 0x89, 0x02);
	/* A REX that is not last before the opcode is not a REX. */
	REJECT(M64, 0x44, 0x2e, 0x89, 0x02);
	/* Prefixes alone. */
	REJECT(M64, 0x2e, 0x2e, 0x2e);
}

static void
test_too_long(void **state)
{
	uint8_t b[20];
	struct insn_store s;

	(void)state;
	/* 13 prefixes + 89 02 is 15 bytes: fine. */
	memset(b, 0x3e, sizeof(b));
	b[13] = 0x89;
	b[14] = 0x02;
	assert_int_equal(decode(b, 15, M64, &s), 0);
	assert_int_equal(s.len, 15);
	assert_int_equal(decode(b, sizeof(b), M64, &s), 0);
	/* 14 prefixes make it 16: no x86 instruction is that long. */
	memset(b, 0x3e, sizeof(b));
	b[14] = 0x89;
	b[15] = 0x02;
	assert_int_equal(decode(b, sizeof(b), M64, &s), -1);
	/* disp32 + imm32 after 6 prefixes is 16 bytes... */
	memset(b, 0x3e, sizeof(b));
	b[6] = 0xc7;
	b[7] = 0x80;
	assert_int_equal(decode(b, sizeof(b), M64, &s), -1);
	/* ...after 5 it is 15. */
	memset(b, 0x3e, sizeof(b));
	b[5] = 0xc7;
	b[6] = 0x80;
	assert_int_equal(decode(b, sizeof(b), M64, &s), 0);
	assert_int_equal(s.len, 15);
	/* A3 and an 8-byte address after 6 prefixes is 15 bytes, after 7 it is 16. */
	memset(b, 0x3e, sizeof(b));
	b[6] = 0xa3;
	assert_int_equal(decode(b, sizeof(b), M64, &s), 0);
	assert_int_equal(s.len, 15);
	b[6] = 0x3e;
	b[7] = 0xa3;
	assert_int_equal(decode(b, sizeof(b), M64, &s), -1);
}

static void
test_mode32(void **state)
{
	(void)state;
	REG(M32, 2, 0, 0x89, 0x02);
	REG(M32, 6, 0, 0x89, 0x05, 0x00, 0x03, 0xe0, 0xfe);	/* [disp32] absolute */
	REG(M32, 4, 0, 0x89, 0x44, 0x24, 0x08);
	REG(M32, 7, 0, 0x89, 0x04, 0x25, 0x00, 0x03, 0xe0, 0xfe);
	/* 40-4F are INC/DEC in 32-bit code, never REX. */
	REJECT(M32, 0x44, 0x89, 0x02);
	REJECT(M32, 0x48, 0x89, 0x02);
	/* 67: 16-bit addressing. */
	REG(M32, 5, 0, 0x67, 0x89, 0x06, 0x00, 0x03);		/* [disp16] */
	REG(M32, 3, 0, 0x67, 0x89, 0x07);			/* [bx] */
	REG(M32, 5, 0, 0x67, 0x89, 0x87, 0x00, 0x03);		/* [bx+disp16] */
	/* In 64-bit code 67 keeps 32-bit addressing with SIB and disp32. */
	REG(M64, 5, 0, 0x67, 0x89, 0x44, 0x24, 0x08);
	REG(M64, 7, 0, 0x67, 0x89, 0x05, 1, 2, 3, 4);
}

static void
test_mode16(void **state)
{
	(void)state;
	/* Without 66, 89 is a 16-bit store. */
	REJECT(M16, 0x89, 0x07);
	REJECT(M16, 0xc7, 0x06, 0x00, 0x03, 0x34, 0x12);
	/* With 66, a 32-bit one, with 16-bit addressing. */
	REG(M16, 3, 0, 0x66, 0x89, 0x07);				/* [bx] */
	REG(M16, 3, 2, 0x66, 0x89, 0x14);				/* [si] */
	REG(M16, 5, 0, 0x66, 0x89, 0x06, 0x00, 0x03);			/* [disp16] */
	REG(M16, 4, 0, 0x66, 0x89, 0x47, 0x10);				/* [bx+d8] */
	REG(M16, 5, 0, 0x66, 0x89, 0x87, 0x00, 0x03);			/* [bx+d16] */
	REG(M16, 4, 0, 0x66, 0x89, 0x46, 0x00);				/* [bp+0] */
	/* rm=4 is [si] in 16-bit addressing, not a SIB. */
	REG(M16, 3, 0, 0x66, 0x89, 0x04, 0x25);
	IMM(M16, 9, 0xfee00000, 0x66, 0xc7, 0x06, 0x00, 0x03,
	    0x00, 0x00, 0xe0, 0xfe);
	IMM(M16, 8, 0x01020304, 0x66, 0xc7, 0x47, 0x08, 4, 3, 2, 1);
	/* 66 67: 32-bit addressing in 16-bit code. */
	REG(M16, 6, 0, 0x66, 0x67, 0x89, 0x44, 0x24, 0x08);
	REG(M16, 8, 0, 0x67, 0x66, 0x89, 0x05, 0x00, 0x03, 0xe0, 0xfe);
	/* No REX in 16-bit code. */
	REJECT(M16, 0x66, 0x44, 0x89, 0x07);
}

static void
test_register_destination(void **state)
{
	(void)state;
	/* mod=3 writes a register, never memory. */
	REJECT(M64, 0x89, 0xc0);
	REJECT(M64, 0x89, 0xd8);
	REJECT(M64, 0x44, 0x89, 0xc7);
	REJECT(M32, 0x89, 0xff);
	REJECT(M16, 0x66, 0x89, 0xc3);
	REJECT(M64, 0xc7, 0xc0, 1, 2, 3, 4);
}

static void
test_other_opcodes(void **state)
{
	(void)state;
	REJECT(M64, 0x88, 0x02);				/* mov byte */
	REJECT(M64, 0x8b, 0x02);				/* load */
	REJECT(M64, 0xc6, 0x00, 0x12);				/* mov byte imm */
	REJECT(M64, 0x01, 0x02);				/* add */
	REJECT(M64, 0x87, 0x02);				/* xchg */
	REJECT(M64, 0xa2, 0x00, 0x03, 0xe0, 0xfe, 0, 0, 0, 0);	/* mov moffs, al */
	REJECT(M64, 0xa1, 0x00, 0x03, 0xe0, 0xfe, 0, 0, 0, 0);	/* mov eax, moffs */
	REJECT(M64, 0x0f, 0x11, 0x02);				/* movups */
	REJECT(M64, 0xff, 0x00);
	REJECT(M64, 0x90, 0x89, 0x02);				/* nop first */
	REJECT(M32, 0x8b, 0x02);
	REJECT(M16, 0x66, 0x8b, 0x07);
}

/* A3: the absolute address is as wide as the address size; the source is EAX. */
static void
test_moffs_64(void **state)
{
	(void)state;
	REG(M64, 9, 0, 0xa3, 0x00, 0x03, 0xe0, 0xfe, 0, 0, 0, 0);	/* mov [moffs64], eax */
	REG(M64, 6, 0, 0x67, 0xa3, 0x00, 0x03, 0xe0, 0xfe);		/* mov [moffs32], eax */
	REG(M64, 10, 0, 0x65, 0xa3, 0x00, 0x03, 0xe0, 0xfe, 0, 0, 0, 0);
	REG(M64, 7, 0, 0x3e, 0x67, 0xa3, 0x00, 0x03, 0xe0, 0xfe);
	/* REX without W changes nothing: no register field to extend. */
	REG(M64, 10, 0, 0x44, 0xa3, 0x00, 0x03, 0xe0, 0xfe, 0, 0, 0, 0);
	REG(M64, 10, 0, 0x41, 0xa3, 0x00, 0x03, 0xe0, 0xfe, 0, 0, 0, 0);
	REG(M64, 7, 0, 0x67, 0x40, 0xa3, 0x00, 0x03, 0xe0, 0xfe);
	/* REX.W and 66 make it a 64- or 16-bit store. */
	REJECT(M64, 0x48, 0xa3, 0x00, 0x03, 0xe0, 0xfe, 0, 0, 0, 0);
	REJECT(M64, 0x4c, 0xa3, 0x00, 0x03, 0xe0, 0xfe, 0, 0, 0, 0);
	REJECT(M64, 0x67, 0x48, 0xa3, 0x00, 0x03, 0xe0, 0xfe);
	REJECT(M64, 0x66, 0xa3, 0x00, 0x03, 0xe0, 0xfe, 0, 0, 0, 0);
	/* Without 67 a 4-byte address is cut short. */
	REJECT(M64, 0xa3, 0x00, 0x03, 0xe0, 0xfe);
	REJECT(M64, 0xa3, 0x00, 0x03, 0xe0, 0xfe, 0, 0, 0);
	REJECT(M64, 0xf0, 0xa3, 0x00, 0x03, 0xe0, 0xfe, 0, 0, 0, 0);
	REJECT(M64, 0xf3, 0xa3, 0x00, 0x03, 0xe0, 0xfe, 0, 0, 0, 0);
}

static void
test_moffs_32_16(void **state)
{
	(void)state;
	REG(M32, 5, 0, 0xa3, 0x00, 0x03, 0xe0, 0xfe);			/* [moffs32] */
	REG(M32, 4, 0, 0x67, 0xa3, 0x00, 0x03);				/* [moffs16] */
	REG(M32, 6, 0, 0x26, 0xa3, 0x00, 0x03, 0xe0, 0xfe);
	REJECT(M32, 0x66, 0xa3, 0x00, 0x03, 0xe0, 0xfe);
	REJECT(M32, 0x48, 0xa3, 0x00, 0x03, 0xe0, 0xfe);		/* dec eax first */
	REJECT(M32, 0xa3, 0x00, 0x03, 0xe0);
	/* 16-bit code: 66 for a 32-bit store, 67 for a 4-byte address. */
	REG(M16, 4, 0, 0x66, 0xa3, 0x00, 0x03);				/* [moffs16] */
	REG(M16, 7, 0, 0x66, 0x67, 0xa3, 0x00, 0x03, 0xe0, 0xfe);	/* [moffs32] */
	REG(M16, 7, 0, 0x67, 0x66, 0xa3, 0x00, 0x03, 0xe0, 0xfe);
	REJECT(M16, 0xa3, 0x00, 0x03);
	REJECT(M16, 0x67, 0xa3, 0x00, 0x03, 0xe0, 0xfe);
	REJECT(M16, 0x66, 0x67, 0xa3, 0x00, 0x03, 0xe0);
}

static void
test_load_64(void **state)
{
	(void)state;
	LOAD(M64, 2, 0, 0x8b, 0x02);				/* mov eax, [rdx] */
	LOAD(M64, 2, 3, 0x8b, 0x1a);				/* mov ebx, [rdx] */
	LOAD(M64, 2, 7, 0x8b, 0x3f);				/* mov edi, [rdi] */
	LOAD(M64, 3, 8, 0x44, 0x8b, 0x02);			/* mov r8d, [rdx] */
	LOAD(M64, 3, 15, 0x44, 0x8b, 0x3a);			/* mov r15d, [rdx] */
	/* REX.B and REX.X pick the address registers, not the destination. */
	LOAD(M64, 3, 1, 0x41, 0x8b, 0x0a);			/* mov ecx, [r10] */
	LOAD(M64, 4, 2, 0x42, 0x8b, 0x14, 0x08);		/* mov edx, [rax+r9] */
	LOAD(M64, 4, 6, 0x41, 0x8b, 0x75, 0x00);		/* mov esi, [r13+0] */
	LOAD(M64, 3, 0, 0x8b, 0x42, 0x10);			/* [rdx+10h] */
	LOAD(M64, 6, 0, 0x8b, 0x05, 0x78, 0x56, 0x34, 0x12);	/* [rip+disp32] */
	LOAD(M64, 4, 0, 0x8b, 0x44, 0x24, 0x08);		/* [rsp+8] */
	LOAD(M64, 7, 1, 0x8b, 0x0c, 0x25, 0x20, 0x03, 0xe0, 0xfe);	/* [disp32] abs */
	LOAD(M64, 7, 0, 0x8b, 0x84, 0x25, 0, 0, 0, 1);		/* [rbp+disp32] via SIB */
	LOAD(M64, 4, 9, 0x65, 0x44, 0x8b, 0x0a);		/* segment override */
	LOAD(M64, 7, 0, 0x67, 0x8b, 0x05, 1, 2, 3, 4);		/* 67: [eip+disp32] */
	/* REX.W and 66: a 64- or 16-bit load. */
	LOAD_REJECT(M64, 0x48, 0x8b, 0x02);
	LOAD_REJECT(M64, 0x4c, 0x8b, 0x02);
	LOAD_REJECT(M64, 0x66, 0x8b, 0x02);
	LOAD_REJECT(M64, 0x2e, 0x66, 0x8b, 0x02);
	/* LOCK and REP; a REX that is not last before the opcode. */
	LOAD_REJECT(M64, 0xf0, 0x8b, 0x02);
	LOAD_REJECT(M64, 0xf3, 0x8b, 0x02);
	LOAD_REJECT(M64, 0xf2, 0x8b, 0x02);
	LOAD_REJECT(M64, 0x44, 0x2e, 0x8b, 0x02);
	/* mod=3 reads a register, never memory. */
	LOAD_REJECT(M64, 0x8b, 0xc0);
	LOAD_REJECT(M64, 0x44, 0x8b, 0xc7);
}

static void
test_load_32_16(void **state)
{
	(void)state;
	LOAD(M32, 2, 0, 0x8b, 0x02);
	LOAD(M32, 2, 5, 0x8b, 0x2b);				/* mov ebp, [ebx] */
	LOAD(M32, 6, 0, 0x8b, 0x05, 0x00, 0x03, 0xe0, 0xfe);	/* [disp32] absolute */
	LOAD(M32, 5, 0, 0x67, 0x8b, 0x06, 0x00, 0x03);		/* 67: [disp16] */
	LOAD(M32, 3, 2, 0x67, 0x8b, 0x17);			/* 67: mov edx, [bx] */
	LOAD_REJECT(M32, 0x66, 0x8b, 0x02);
	LOAD_REJECT(M32, 0x44, 0x8b, 0x02);			/* inc esp first */
	LOAD_REJECT(M32, 0x8b, 0xff);
	/* 16-bit code: 66 for a 32-bit load, 67 for 32-bit addressing. */
	LOAD(M16, 3, 0, 0x66, 0x8b, 0x07);			/* mov eax, [bx] */
	LOAD(M16, 3, 3, 0x66, 0x8b, 0x1c);			/* mov ebx, [si] */
	LOAD(M16, 5, 0, 0x66, 0x8b, 0x06, 0x00, 0x03);		/* [disp16] */
	LOAD(M16, 4, 0, 0x66, 0x8b, 0x46, 0x00);		/* [bp+0] */
	LOAD(M16, 5, 0, 0x66, 0x8b, 0x87, 0x00, 0x03);		/* [bx+disp16] */
	LOAD(M16, 6, 0, 0x66, 0x67, 0x8b, 0x44, 0x24, 0x08);	/* [esp+8] */
	LOAD(M16, 8, 0, 0x67, 0x66, 0x8b, 0x05, 0x00, 0x03, 0xe0, 0xfe);
	LOAD_REJECT(M16, 0x8b, 0x07);
	LOAD_REJECT(M16, 0x66, 0x44, 0x8b, 0x07);
	LOAD_REJECT(M16, 0x66, 0x8b, 0xc3);
}

/* A1: as A3, the address is as wide as the address size; the destination is EAX. */
static void
test_load_moffs(void **state)
{
	(void)state;
	LOAD(M64, 9, 0, 0xa1, 0x20, 0x03, 0xe0, 0xfe, 0, 0, 0, 0);	/* mov eax, [moffs64] */
	LOAD(M64, 6, 0, 0x67, 0xa1, 0x20, 0x03, 0xe0, 0xfe);		/* mov eax, [moffs32] */
	LOAD(M64, 10, 0, 0x64, 0xa1, 0x20, 0x03, 0xe0, 0xfe, 0, 0, 0, 0);
	LOAD(M64, 10, 0, 0x44, 0xa1, 0x20, 0x03, 0xe0, 0xfe, 0, 0, 0, 0);	/* REX.R: still EAX */
	LOAD(M64, 7, 0, 0x67, 0x41, 0xa1, 0x20, 0x03, 0xe0, 0xfe);
	LOAD_REJECT(M64, 0x48, 0xa1, 0x20, 0x03, 0xe0, 0xfe, 0, 0, 0, 0);
	LOAD_REJECT(M64, 0x67, 0x48, 0xa1, 0x20, 0x03, 0xe0, 0xfe);
	LOAD_REJECT(M64, 0x66, 0xa1, 0x20, 0x03, 0xe0, 0xfe, 0, 0, 0, 0);
	LOAD_REJECT(M64, 0xf3, 0xa1, 0x20, 0x03, 0xe0, 0xfe, 0, 0, 0, 0);
	LOAD_REJECT(M64, 0xa1, 0x20, 0x03, 0xe0, 0xfe);		/* 4 of 8 address bytes */
	LOAD(M32, 5, 0, 0xa1, 0x20, 0x03, 0xe0, 0xfe);
	LOAD(M32, 4, 0, 0x67, 0xa1, 0x20, 0x03);
	LOAD(M32, 6, 0, 0x3e, 0xa1, 0x20, 0x03, 0xe0, 0xfe);
	LOAD_REJECT(M32, 0x66, 0xa1, 0x20, 0x03, 0xe0, 0xfe);
	LOAD_REJECT(M32, 0x48, 0xa1, 0x20, 0x03, 0xe0, 0xfe);
	LOAD(M16, 4, 0, 0x66, 0xa1, 0x20, 0x03);
	LOAD(M16, 7, 0, 0x66, 0x67, 0xa1, 0x20, 0x03, 0xe0, 0xfe);
	LOAD(M16, 7, 0, 0x67, 0x66, 0xa1, 0x20, 0x03, 0xe0, 0xfe);
	LOAD_REJECT(M16, 0xa1, 0x20, 0x03);
	LOAD_REJECT(M16, 0x67, 0xa1, 0x20, 0x03, 0xe0, 0xfe);
}

static void
test_load_other_opcodes(void **state)
{
	struct insn_load l;
	uint8_t b[20];

	(void)state;
	LOAD_REJECT(M64, 0x89, 0x02);				/* a store */
	LOAD_REJECT(M64, 0xc7, 0x00, 1, 2, 3, 4);
	LOAD_REJECT(M64, 0xa3, 0x20, 0x03, 0xe0, 0xfe, 0, 0, 0, 0);
	LOAD_REJECT(M64, 0x8a, 0x02);				/* mov al, [rdx] */
	LOAD_REJECT(M64, 0xa0, 0x20, 0x03, 0xe0, 0xfe, 0, 0, 0, 0);	/* mov al, moffs */
	LOAD_REJECT(M64, 0x0f, 0xb6, 0x02);			/* movzx */
	LOAD_REJECT(M64, 0x03, 0x02);				/* add */
	LOAD_REJECT(M64, 0x87, 0x02);				/* xchg */
	LOAD_REJECT(M64, 0x90, 0x8b, 0x02);			/* nop first */
	LOAD_REJECT(M64, 0x2e, 0x2e, 0x2e);			/* prefixes alone */
	/* 13 prefixes + 8b 02 is 15 bytes; 14 make it 16. */
	memset(b, 0x3e, sizeof(b));
	b[13] = 0x8b;
	b[14] = 0x02;
	assert_int_equal(decode_load(b, sizeof(b), M64, &l), 0);
	assert_int_equal(l.len, 15);
	memset(b, 0x3e, sizeof(b));
	b[14] = 0x8b;
	b[15] = 0x02;
	assert_int_equal(decode_load(b, sizeof(b), M64, &l), -1);
	/* A1 and an 8-byte address: 6 prefixes fit, 7 do not. */
	memset(b, 0x3e, sizeof(b));
	b[6] = 0xa1;
	assert_int_equal(decode_load(b, sizeof(b), M64, &l), 0);
	assert_int_equal(l.len, 15);
	b[6] = 0x3e;
	b[7] = 0xa1;
	assert_int_equal(decode_load(b, sizeof(b), M64, &l), -1);
}

static void
test_truncated(void **state)
{
	struct insn_store s;
	static const uint8_t one[] = { 0x89 };

	(void)state;
	assert_int_equal(decode(one, 0, M64, &s), -1);
	assert_int_equal(decode(one, 1, M64, &s), -1);
	REJECT(M64, 0x89, 0x05, 1, 2, 3);
	REJECT(M64, 0x89, 0x04);
	REJECT(M64, 0x89, 0x04, 0x25, 1, 2, 3);
	REJECT(M64, 0x89, 0x44, 0x24);
	REJECT(M64, 0x89, 0x82, 1, 2);
	REJECT(M64, 0x44);
	REJECT(M64, 0x44, 0x89);
	REJECT(M16, 0x66, 0x89, 0x06, 0x00);
	REJECT(M16, 0x66, 0x89, 0x87, 0x00);
	REJECT(M16, 0x66, 0x89, 0x47);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mov_reg_64),
		cmocka_unit_test(test_rex_w_rejected),
		cmocka_unit_test(test_addressing_64),
		cmocka_unit_test(test_mov_imm),
		cmocka_unit_test(test_prefixes),
		cmocka_unit_test(test_too_long),
		cmocka_unit_test(test_mode32),
		cmocka_unit_test(test_mode16),
		cmocka_unit_test(test_register_destination),
		cmocka_unit_test(test_other_opcodes),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_moffs_64),
		cmocka_unit_test(test_moffs_32_16),
		cmocka_unit_test(test_load_64),
		cmocka_unit_test(test_load_32_16),
		cmocka_unit_test(test_load_moffs),
		cmocka_unit_test(test_load_other_opcodes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
