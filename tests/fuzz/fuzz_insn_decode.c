/*
 * Fuzzes the MOV store decoder (cd/insn_decode.c: 89, C7 and A3).  Input: a mode byte, then the
 * instruction bytes, handed over in a heap buffer of exactly their length so
 * that ASan catches a read past n.  Checks a success against a reference
 * decoder written from the SDM's tables, and that it holds for every shorter
 * n down to the reported length.  Bytes past the 15th are poisoned: an
 * instruction is never longer.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sanitizer/asan_interface.h>

#include "cd/insn_decode.h"

/* A broken invariant: say which, then abort (libFuzzer saves the input). */
#define CHECK(c)	do { if (!(c)) { fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, #c); \
				  abort(); } } while (0)

/* Length of ModRM..displacement; 0 for a register operand. */
static unsigned
ref_modrm_len(uint8_t modrm, uint8_t sib, bool addr16)
{
	static const unsigned disp16[4] = { 0, 1, 2, 0 }, disp32[4] = { 0, 1, 4, 0 };
	unsigned mod = modrm >> 6, rm = modrm & 7;

	if (mod == 3)
		return 0;
	if (addr16)
		return 1 + (mod == 0 && rm == 6 ? 2 : disp16[mod]);
	if (rm == 4)
		return 2 + (mod == 0 && (sib & 7) == 5 ? 4 : disp32[mod]);
	return 1 + (mod == 0 && rm == 5 ? 4 : disp32[mod]);
}

/* The reference: -1, or 0 with *out, over exactly n readable bytes. */
static int
ref_decode(const uint8_t *b, size_t n, enum insn_mode mode, struct insn_store *out)
{
	static const uint8_t legacy[] = { 0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65, 0x66, 0x67 };
	uint8_t buf[INSN_MAX_LEN + 8] = { 0 };
	bool has66, has67, a16;
	unsigned i = 0, rex = 0, mlen;

	if (n > INSN_MAX_LEN)
		n = INSN_MAX_LEN;
	memcpy(buf, b, n);
	while (i < n && memchr(legacy, buf[i], sizeof(legacy)))
		i++;
	has66 = memchr(buf, 0x66, i) != NULL;
	has67 = memchr(buf, 0x67, i) != NULL;
	/* 32-bit operands: the default outside 16-bit code, 66 inside it. */
	if (has66 != (mode == INSN_MODE16))
		return -1;
	/* 16-bit addresses: the default in 16-bit code, 67 in 32-bit code; never in 64-bit. */
	a16 = mode == INSN_MODE16 ? !has67 : mode == INSN_MODE32 && has67;
	if (mode == INSN_MODE64 && (buf[i] & 0xf0) == 0x40 && i < n)
		rex = buf[i++];
	if (rex & 8)		/* REX.W: a 64-bit store */
		return -1;
	if (buf[i] == 0xa3) {	/* MOV moffs, eAX: the offset is as wide as the address */
		unsigned moffs = mode == INSN_MODE64 ? (has67 ? 4 : 8) : a16 ? 2 : 4;

		if (i + 1 + moffs > n)
			return -1;
		*out = (struct insn_store){ .len = i + 1 + moffs, .reg = 0 };
		return 0;
	}
	mlen = ref_modrm_len(buf[i + 1], buf[i + 2], a16);
	if (mlen == 0)
		return -1;
	if (buf[i] == 0x89 && i + 1 + mlen <= n) {
		*out = (struct insn_store){ .len = i + 1 + mlen,
					    .reg = ((buf[i + 1] >> 3) & 7) | (rex & 4 ? 8 : 0) };
		return 0;
	}
	if (buf[i] == 0xc7 && !(buf[i + 1] & 0x38) && i + 5 + mlen <= n) {
		const uint8_t *p = buf + i + 1 + mlen;

		*out = (struct insn_store){ .len = i + 5 + mlen, .has_imm = true,
					    .imm = p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24 };
		return 0;
	}
	return -1;
}

static bool
same(const struct insn_store *a, const struct insn_store *b)
{
	return a->len == b->len && a->has_imm == b->has_imm && a->reg == b->reg &&
	       a->imm == b->imm;
}

/* Decodes from a buffer of exactly n bytes, all but the first 15 poisoned. */
static int
decode_exact(const uint8_t *b, size_t n, enum insn_mode mode, struct insn_store *out)
{
	uint8_t *copy = malloc(n ? n : 1);
	int rc;

	CHECK(copy);
	memcpy(copy, b, n);
	if (n > INSN_MAX_LEN)
		ASAN_POISON_MEMORY_REGION(copy + INSN_MAX_LEN, n - INSN_MAX_LEN);
	rc = insn_decode_store32(copy, n, mode, out);
	if (n > INSN_MAX_LEN)
		ASAN_UNPOISON_MEMORY_REGION(copy + INSN_MAX_LEN, n - INSN_MAX_LEN);
	free(copy);
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct insn_store got, want, again;
	enum insn_mode mode;
	int rc;

	if (size < 1)
		return 0;
	mode = (enum insn_mode)(data[0] % 3);
	data++;
	size--;

	rc = decode_exact(data, size, mode, &got);
	CHECK(rc == ref_decode(data, size, mode, &want));
	if (rc)
		return 0;
	CHECK(same(&got, &want));
	CHECK(got.len >= 2 && got.len <= size && got.len <= INSN_MAX_LEN && got.reg < 16);
	/* The instruction is all in its len bytes: any n from there on decodes alike. */
	for (size_t n = got.len; n < size && n <= INSN_MAX_LEN; n++) {
		CHECK(decode_exact(data, n, mode, &again) == 0);
		CHECK(same(&again, &got));
	}
	CHECK(decode_exact(data, got.len - 1, mode, &again) == -1);
	return 0;
}
