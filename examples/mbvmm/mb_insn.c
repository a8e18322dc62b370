#include "mb_insn.h"

/* Bytes of ModRM + SIB + displacement for the given address size, or 0 past n. */
static unsigned modrm_len(const uint8_t *b, unsigned n, bool addr16)
{
	unsigned mod, rm, len = 1;

	if (n < 1)
		return 0;
	mod = b[0] >> 6;
	rm = b[0] & 7;
	if (mod == 3)
		return 1;
	if (addr16) {
		if (mod == 0 && rm == 6)
			len += 2;
		else
			len += mod == 1 ? 1 : mod == 2 ? 2 : 0;
		return len <= n ? len : 0;
	}
	if (rm == 4) {			/* SIB */
		if (n < 2)
			return 0;
		len++;
		if (mod == 0 && (b[1] & 7) == 5)
			len += 4;
	} else if (mod == 0 && rm == 5) {	/* disp32 (RIP-relative in 64-bit mode) */
		len += 4;
	}
	len += mod == 1 ? 1 : mod == 2 ? 4 : 0;
	return len <= n ? len : 0;
}

static uint64_t imm(const uint8_t *b, unsigned size)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < size; i++)
		v |= (uint64_t)b[i] << (8 * i);
	return v;
}

bool mb_decode_mov(const uint8_t *b, unsigned n, enum mb_cpu_mode mode, struct mb_mov *m)
{
	bool opsize = false, addrsize = false, rex_w = false, rex = false, rex_r = false;
	unsigned i = 0, osize, asize, ml, op;

	*m = (struct mb_mov){ 0 };
	for (; i < n && i < 14; i++) {
		op = b[i];
		if (op == 0x66)
			opsize = true;
		else if (op == 0x67)
			addrsize = true;
		else if (!(op == 0x26 || op == 0x2e || op == 0x36 || op == 0x3e || op == 0x64 || op == 0x65 ||
			   op == 0xf0 || op == 0xf2 || op == 0xf3))
			break;
	}
	if (mode == MB_MODE64 && i < n && (b[i] & 0xf0) == 0x40) {
		rex = true;
		rex_w = b[i] & 8;
		rex_r = b[i] & 4;
		i++;
	}
	if (i >= n)
		return false;
	osize = rex_w ? 8 : (mode == MB_MODE16) != opsize ? 2 : 4;
	asize = mode == MB_MODE64 ? (addrsize ? 4 : 8) : (mode == MB_MODE16) != addrsize ? 2 : 4;
	op = b[i++];
	switch (op) {
	case 0x88: case 0x89: case 0x8a: case 0x8b:
		ml = modrm_len(b + i, n - i, asize == 2);
		if (!ml || (b[i] >> 6) == 3)
			return false;
		m->write = !(op & 2);
		m->size = op & 1 ? osize : 1;
		m->reg_size = m->size;
		m->reg = ((b[i] >> 3) & 7) | (rex_r ? 8 : 0);
		m->high8 = m->size == 1 && !rex && m->reg >= 4;
		if (m->high8)
			m->reg -= 4;
		m->len = i + ml;
		return m->len <= 15;
	case 0xc6: case 0xc7:
		ml = modrm_len(b + i, n - i, asize == 2);
		if (!ml || (b[i] >> 6) == 3 || ((b[i] >> 3) & 7))
			return false;
		m->write = m->imm = true;
		m->size = op == 0xc6 ? 1 : osize;
		{
			unsigned isize = m->size == 8 ? 4 : m->size;	/* imm32, sign-extended for 64 bits */

			if (i + ml + isize > n)
				return false;
			m->value = imm(b + i + ml, isize);
			if (m->size == 8 && (m->value & 0x80000000u))
				m->value |= 0xffffffff00000000ull;
			m->len = i + ml + isize;
		}
		return m->len <= 15;
	case 0xa0: case 0xa1: case 0xa2: case 0xa3:
		if (i + asize > n)
			return false;
		m->write = op & 2;
		m->size = op & 1 ? osize : 1;
		m->reg_size = m->size;
		m->reg = 0;			/* AL, AX, EAX, RAX */
		m->len = i + asize;
		return m->len <= 15;
	case 0x0f:
		if (i >= n || (b[i] != 0xb6 && b[i] != 0xb7))
			return false;
		m->size = b[i] == 0xb6 ? 1 : 2;
		i++;
		ml = modrm_len(b + i, n - i, asize == 2);
		if (!ml || (b[i] >> 6) == 3)
			return false;
		m->zero_extend = true;
		m->reg_size = osize;
		m->reg = ((b[i] >> 3) & 7) | (rex_r ? 8 : 0);
		m->len = i + ml;
		return m->len <= 15;
	default:
		return false;
	}
}
