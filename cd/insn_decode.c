#include "insn_decode.h"

/* Bytes of ModRM + SIB + displacement after the opcode; -1 when truncated or a register operand. */
static int modrm_len(const uint8_t *b, size_t n, bool addr16)
{
	unsigned mod, rm;
	int len = 1;

	if (n < 1)
		return -1;
	mod = b[0] >> 6;
	rm = b[0] & 7;
	if (mod == 3)
		return -1;	/* a register destination is not an MMIO store */
	if (addr16) {
		if (mod == 1)
			len += 1;
		else if (mod == 2 || (mod == 0 && rm == 6))
			len += 2;
		return (size_t)len <= n ? len : -1;
	}
	if (rm == 4) {			/* SIB follows */
		if (n < 2)
			return -1;
		len += 1;
		if (mod == 0 && (b[1] & 7) == 5)
			len += 4;	/* no base: disp32 */
	}
	if (mod == 1)
		len += 1;
	else if (mod == 2 || (mod == 0 && rm == 5))
		len += 4;	/* disp32, RIP-relative in 64-bit mode */
	return (size_t)len <= n ? len : -1;
}

int insn_decode_store32(const uint8_t *b, size_t n, enum insn_mode mode, struct insn_store *out)
{
	bool opsize = false, addrsize = false;
	unsigned rex = 0, i = 0;
	int mlen;

	if (n > INSN_MAX_LEN)
		n = INSN_MAX_LEN;
	/* Legacy prefixes: segment overrides change nothing here; 66 and 67 change sizes. */
	for (; i < n; i++) {
		if (b[i] == 0x66)
			opsize = true;
		else if (b[i] == 0x67)
			addrsize = true;
		else if (b[i] != 0x2e && b[i] != 0x36 && b[i] != 0x3e && b[i] != 0x26 &&
			 b[i] != 0x64 && b[i] != 0x65)
			break;
	}
	if (mode == INSN_MODE64 && i < n && (b[i] & 0xf0) == 0x40)
		rex = b[i++];
	/* The store is 32 bits wide only in these combinations. */
	if ((rex & 8) || (mode == INSN_MODE16 ? !opsize : opsize))
		return -1;
	if (i + 1 >= n)
		return -1;
	mlen = modrm_len(b + i + 1, n - i - 1, mode == INSN_MODE16 ? !addrsize :
						 mode == INSN_MODE32 && addrsize);
	if (mlen < 0)
		return -1;
	if (b[i] == 0x89) {
		out->has_imm = false;
		out->reg = ((b[i + 1] >> 3) & 7) | ((rex & 4) << 1);
		out->imm = 0;
		out->len = i + 1 + mlen;
		return 0;
	}
	if (b[i] == 0xc7 && ((b[i + 1] >> 3) & 7) == 0) {
		unsigned at = i + 1 + mlen;

		if (at + 4 > n)
			return -1;
		out->has_imm = true;
		out->reg = 0;
		out->imm = b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) | ((uint32_t)b[at + 3] << 24);
		out->len = at + 4;
		return 0;
	}
	return -1;
}
