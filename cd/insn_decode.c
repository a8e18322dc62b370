#include "insn_decode.h"

/* What the prefixes say about a 32-bit MOV. */
struct prefixes {
	unsigned len;		/* legacy prefixes and REX: the opcode is b[len] */
	unsigned rex;		/* the REX byte, 0 without one */
	bool addr16;		/* ModRM addressing is 16-bit */
	unsigned moffs;		/* bytes of an A1/A3 address */
};

/*
 * Segment overrides change nothing here; 66 and 67 change sizes; REX counts only in
 * 64-bit code, right before the opcode. -1 when the operand is not 32 bits wide,
 * when another prefix (LOCK, REP) comes first, or when no opcode follows.
 */
static int prefixes_32(const uint8_t *b, size_t n, enum insn_mode mode, struct prefixes *p)
{
	bool opsize = false, addrsize = false;
	unsigned i;

	for (i = 0; i < n; i++) {
		if (b[i] == 0x66)
			opsize = true;
		else if (b[i] == 0x67)
			addrsize = true;
		else if (b[i] != 0x2e && b[i] != 0x36 && b[i] != 0x3e && b[i] != 0x26 &&
			 b[i] != 0x64 && b[i] != 0x65)
			break;
	}
	p->rex = 0;
	if (mode == INSN_MODE64 && i < n && (b[i] & 0xf0) == 0x40)
		p->rex = b[i++];
	/* The operand is 32 bits wide only in these combinations. */
	if ((p->rex & 8) || (mode == INSN_MODE16 ? !opsize : opsize))
		return -1;
	if (i >= n)
		return -1;
	p->len = i;
	p->addr16 = mode == INSN_MODE16 ? !addrsize : mode == INSN_MODE32 && addrsize;
	/* A moffs is as wide as an address; 67 in 64-bit code makes it 32 bits, not 16. */
	p->moffs = mode == INSN_MODE64 ? (addrsize ? 4 : 8) : (p->addr16 ? 2 : 4);
	return 0;
}

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
		return -1;	/* a register operand is not an MMIO access */
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

/* Length of an A1/A3 MOV (prefixes, opcode, address); -1 when truncated. */
static int moffs_insn_len(const struct prefixes *p, size_t n)
{
	size_t len = p->len + 1 + p->moffs;

	return len <= n ? (int)len : -1;
}

/* ModRM's reg field, extended by REX.R. */
static unsigned modrm_reg(const uint8_t *modrm, unsigned rex)
{
	return ((modrm[0] >> 3) & 7) | ((rex & 4) << 1);
}

int insn_decode_store32(const uint8_t *b, size_t n, enum insn_mode mode, struct insn_store *out)
{
	struct prefixes p;
	unsigned op;
	int len, mlen;

	if (n > INSN_MAX_LEN)
		n = INSN_MAX_LEN;
	if (prefixes_32(b, n, mode, &p) < 0)
		return -1;
	op = p.len;
	if (b[op] == 0xa3) {
		len = moffs_insn_len(&p, n);
		if (len < 0)
			return -1;
		out->has_imm = false;
		out->reg = 0;		/* always EAX: REX.R and REX.B do not apply */
		out->imm = 0;
		out->len = len;
		return 0;
	}
	mlen = modrm_len(b + op + 1, n - op - 1, p.addr16);
	if (mlen < 0)
		return -1;
	if (b[op] == 0x89) {
		out->has_imm = false;
		out->reg = modrm_reg(b + op + 1, p.rex);
		out->imm = 0;
		out->len = op + 1 + mlen;
		return 0;
	}
	if (b[op] == 0xc7 && ((b[op + 1] >> 3) & 7) == 0) {
		unsigned at = op + 1 + mlen;

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

int insn_decode_load32(const uint8_t *b, size_t n, enum insn_mode mode, struct insn_load *out)
{
	struct prefixes p;
	unsigned op;
	int len, mlen;

	if (n > INSN_MAX_LEN)
		n = INSN_MAX_LEN;
	if (prefixes_32(b, n, mode, &p) < 0)
		return -1;
	op = p.len;
	if (b[op] == 0xa1) {
		len = moffs_insn_len(&p, n);
		if (len < 0)
			return -1;
		out->reg = 0;		/* always EAX, as for A3 */
		out->len = len;
		return 0;
	}
	if (b[op] != 0x8b)
		return -1;
	mlen = modrm_len(b + op + 1, n - op - 1, p.addr16);
	if (mlen < 0)
		return -1;
	out->reg = modrm_reg(b + op + 1, p.rex);
	out->len = op + 1 + mlen;
	return 0;
}
