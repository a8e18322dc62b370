/*
 * The APIC load-store cache (apic/lsc.c): keys, kinds, self-validation over
 * one or two code pages and the paging state, replacement, argument checks,
 * and a random sequence against a reference model.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>
#include "apic/lsc.h"

/* Fake code pages: handle PAGE(i) is page i; a page can be made unreadable. */
#define NPAGES		3
#define PAGE(i)		(0x7000000ull + (uint64_t)(i) * LSC_PAGE_SIZE)

static uint8_t mem[NPAGES][LSC_PAGE_SIZE];
static bool unreadable[NPAGES];
static unsigned reads;

static bool fake_read(void *ctx, uint64_t page, unsigned off, void *buf, unsigned len)
{
	uint64_t i = (page - PAGE(0)) / LSC_PAGE_SIZE;

	(void)ctx;
	reads++;
	if (page < PAGE(0) || i >= NPAGES || page % LSC_PAGE_SIZE || unreadable[i])
		return false;
	assert_true(off + len <= LSC_PAGE_SIZE && len > 0);
	memcpy(buf, &mem[i][off], len);
	return true;
}

#define CR0_PE		(1ull << 0)
#define CR0_WP		(1ull << 16)
#define CR0_CD		(1ull << 30)
#define CR0_PG		(1ull << 31)
#define CR4_PSE		(1ull << 4)
#define CR4_PAE		(1ull << 5)
#define CR4_LA57	(1ull << 12)
#define CR4_PCIDE	(1ull << 17)
#define CR4_SMEP	(1ull << 20)
#define EFER_LMA	(1ull << 10)
#define EFER_NXE	(1ull << 11)

static const struct lsc_paging long_mode = {
	.cr0 = CR0_PE | CR0_PG | CR0_WP, .cr3 = 0x1234000, .cr4 = CR4_PAE, .efer = EFER_LMA | (1 << 8),
};

static const struct lsc_code one = { .page = { PAGE(0) }, .pages = 1 };
static const struct lsc_code two = { .page = { PAGE(0), PAGE(1) }, .pages = 2 };

#define RIP	0xffffffff81000100ull
#define LIN	0xffffffff81000100ull	/* CS.base 0 */
#define CS	0x10

static struct lsc lsc;

static int setup(void **state)
{
	(void)state;
	memset(&lsc, 0, sizeof(lsc));
	memset(unreadable, 0, sizeof(unreadable));
	for (unsigned p = 0; p < NPAGES; p++)
		for (unsigned i = 0; i < LSC_PAGE_SIZE; i++)
			mem[p][i] = (uint8_t)(i * 7 + p * 31 + 1);
	reads = 0;
	return 0;
}

static struct lsc_op load(uint64_t rip, unsigned ilen, uint16_t cs, hv_x86_reg_t reg)
{
	return (struct lsc_op){ .rip = rip, .ilen = ilen, .cs = cs, .kind = LSC_LOAD_R32, .reg = reg };
}

static hv_return_t enter(const struct lsc_op *op, const struct lsc_code *code, uint64_t lin)
{
	return lsc_enter(&lsc, op, code, &long_mode, lin, fake_read, NULL);
}

static const struct lsc_entry *look(uint64_t rip, unsigned ilen, uint16_t cs, bool is_write,
				    const struct lsc_paging *pg, uint64_t lin)
{
	return lsc_lookup(&lsc, rip, ilen, cs, is_write, pg, lin, fake_read, NULL);
}

static unsigned valid_count(void)
{
	unsigned n = 0;

	for (unsigned i = 0; i < LSC_ENTRIES; i++)
		n += lsc.e[i].valid;
	return n;
}

/* A hit needs all of rip, ilen and cs; a miss on the key leaves the entry alone. */
static void test_key_parts(void **state)
{
	struct lsc_op op = load(RIP, 6, CS, HV_X86_RDX);
	const struct lsc_entry *e;

	(void)state;
	assert_int_equal(enter(&op, NULL, 0), HV_SUCCESS);
	e = look(RIP, 6, CS, false, NULL, 0);
	assert_non_null(e);
	assert_int_equal(e->op.kind, LSC_LOAD_R32);
	assert_int_equal(e->op.reg, HV_X86_RDX);
	assert_null(look(RIP + 1, 6, CS, false, NULL, 0));
	assert_null(look(RIP - 6, 6, CS, false, NULL, 0));
	assert_null(look(RIP ^ (1ull << 40), 6, CS, false, NULL, 0));	/* all 64 bits */
	assert_null(look(RIP, 5, CS, false, NULL, 0));
	assert_null(look(RIP, 7, CS, false, NULL, 0));
	assert_null(look(RIP, 6, CS + 8, false, NULL, 0));
	assert_null(look(RIP, 6, CS | 3, false, NULL, 0));
	assert_ptr_equal(look(RIP, 6, CS, false, NULL, 0), e);
	assert_int_equal(valid_count(), 1);
}

/* Loads serve reads, both stores serve writes; the wrong access drops the entry. */
static void test_kind_against_access(void **state)
{
	struct lsc_op ld = load(0x1000, 5, CS, HV_X86_RAX);
	struct lsc_op st = { .rip = 0x2000, .ilen = 6, .cs = CS, .kind = LSC_STORE_R32, .reg = HV_X86_R15 };
	struct lsc_op im = { .rip = 0x3000, .ilen = 10, .cs = CS, .kind = LSC_STORE_IMM32,
			     .imm = 0xdeadbeef, .reg = HV_X86_RCX };
	const struct lsc_entry *e;

	(void)state;
	assert_int_equal(enter(&ld, NULL, 0), HV_SUCCESS);
	assert_int_equal(enter(&st, NULL, 0), HV_SUCCESS);
	assert_int_equal(enter(&im, NULL, 0), HV_SUCCESS);

	e = look(0x2000, 6, CS, true, NULL, 0);
	assert_non_null(e);
	assert_int_equal(e->op.kind, LSC_STORE_R32);
	assert_int_equal(e->op.reg, HV_X86_R15);
	e = look(0x3000, 10, CS, true, NULL, 0);
	assert_non_null(e);
	assert_int_equal(e->op.kind, LSC_STORE_IMM32);
	assert_int_equal(e->op.imm, 0xdeadbeef);
	assert_int_equal(e->op.reg, 0);		/* reg means nothing for imm32 */

	assert_null(look(0x1000, 5, CS, true, NULL, 0));	/* write at a load */
	assert_null(look(0x1000, 5, CS, false, NULL, 0));	/* dropped */
	assert_null(look(0x2000, 6, CS, false, NULL, 0));	/* read at a store */
	assert_null(look(0x2000, 6, CS, true, NULL, 0));
	assert_null(look(0x3000, 10, CS, false, NULL, 0));
	assert_null(look(0x3000, 10, CS, true, NULL, 0));
	assert_int_equal(valid_count(), 0);
}

/* One page: the ilen bytes at the entry's offset are compared at every hit. */
static void test_bytes_one_page(void **state)
{
	struct lsc_op op = load(RIP, 6, CS, HV_X86_RBX);
	unsigned off = LIN & (LSC_PAGE_SIZE - 1);

	(void)state;
	assert_int_equal(enter(&op, &one, LIN), HV_SUCCESS);
	assert_int_equal(lsc.e[0].checked, true);
	assert_memory_equal(lsc.e[0].bytes, &mem[0][off], 6);
	assert_non_null(look(RIP, 6, CS, false, &long_mode, LIN));
	/* Bytes just outside [off, off + 6) do not matter. */
	mem[0][off - 1] ^= 0xff;
	mem[0][off + 6] ^= 0xff;
	assert_non_null(look(RIP, 6, CS, false, &long_mode, LIN));
	/* The last byte does; restoring it does not bring the entry back. */
	mem[0][off + 5] ^= 0x01;
	assert_null(look(RIP, 6, CS, false, &long_mode, LIN));
	mem[0][off + 5] ^= 0x01;
	assert_null(look(RIP, 6, CS, false, &long_mode, LIN));
	assert_int_equal(valid_count(), 0);
}

/* Two pages: the bytes before the boundary come from page[0], the rest from page[1]. */
static void test_bytes_crossing(void **state)
{
	uint64_t lin = 0x7ffc;		/* 4 bytes in page[0], 3 in page[1] */
	struct lsc_op op = load(0x400ffc, 7, CS, HV_X86_RSI);

	(void)state;
	assert_int_equal(enter(&op, &two, lin), HV_SUCCESS);
	assert_memory_equal(lsc.e[0].bytes, &mem[0][0xffc], 4);
	assert_memory_equal(lsc.e[0].bytes + 4, &mem[1][0], 3);
	reads = 0;
	assert_non_null(look(0x400ffc, 7, CS, false, &long_mode, lin));
	assert_int_equal(reads, 2);
	mem[1][3] ^= 0xff;				/* past the instruction */
	assert_non_null(look(0x400ffc, 7, CS, false, &long_mode, lin));
	mem[1][2] ^= 0x40;				/* its last byte */
	assert_null(look(0x400ffc, 7, CS, false, &long_mode, lin));

	mem[1][2] ^= 0x40;
	assert_int_equal(enter(&op, &two, lin), HV_SUCCESS);
	assert_non_null(look(0x400ffc, 7, CS, false, &long_mode, lin));
	mem[0][0xffc] ^= 0x01;				/* its first byte */
	assert_null(look(0x400ffc, 7, CS, false, &long_mode, lin));

	/* Ending exactly at the boundary is one page. */
	op = load(0x500ffa, 6, CS, HV_X86_RDI);
	assert_int_equal(enter(&op, &one, 0x8ffa), HV_SUCCESS);
	assert_memory_equal(lsc.e[0].bytes, &mem[0][0xffa], 6);
	assert_non_null(look(0x500ffa, 6, CS, false, &long_mode, 0x8ffa));
}

/* A page that cannot be read at a hit drops the entry. */
static void test_unreadable_at_hit(void **state)
{
	struct lsc_op op = load(0x400ffc, 7, CS, HV_X86_RSI);

	(void)state;
	assert_int_equal(enter(&op, &two, 0xffc), HV_SUCCESS);
	unreadable[1] = true;
	assert_null(look(0x400ffc, 7, CS, false, &long_mode, 0xffc));
	unreadable[1] = false;
	assert_null(look(0x400ffc, 7, CS, false, &long_mode, 0xffc));
}

/* Each compared paging bit drops the entry; permission and cache bits do not. */
static void test_paging_state(void **state)
{
	static const struct { int reg; uint64_t bit; bool compared; } bits[] = {
		{ 0, CR0_PE, true }, { 0, CR0_PG, true }, { 0, CR0_WP, false }, { 0, CR0_CD, false },
		{ 1, 1ull << 12, true }, { 1, 1ull << 40, true }, { 1, 1ull << 3, true },
		{ 2, CR4_PSE, true }, { 2, CR4_PAE, true }, { 2, CR4_LA57, true }, { 2, CR4_PCIDE, true },
		{ 2, CR4_SMEP, false }, { 2, 1ull << 7, false },
		{ 3, EFER_LMA, true }, { 3, EFER_NXE, false }, { 3, 1ull << 8, false },
	};
	struct lsc_op op = load(RIP, 6, CS, HV_X86_RAX);

	(void)state;
	for (unsigned i = 0; i < sizeof(bits) / sizeof(bits[0]); i++) {
		struct lsc_paging pg = long_mode;
		uint64_t *r = bits[i].reg == 0 ? &pg.cr0 : bits[i].reg == 1 ? &pg.cr3 :
			      bits[i].reg == 2 ? &pg.cr4 : &pg.efer;

		assert_int_equal(enter(&op, &one, LIN), HV_SUCCESS);
		*r ^= bits[i].bit;
		if (bits[i].compared) {
			assert_null(look(RIP, 6, CS, false, &pg, LIN));
			assert_null(look(RIP, 6, CS, false, &long_mode, LIN));
		} else {
			assert_non_null(look(RIP, 6, CS, false, &pg, LIN));
		}
	}
}

/* With CR4.PCIDE the PCID (CR3 bits 11:0) is not part of the translation. */
static void test_pcid(void **state)
{
	struct lsc_paging pg = long_mode, other;
	struct lsc_op op = load(RIP, 6, CS, HV_X86_RAX);

	(void)state;
	pg.cr4 |= CR4_PCIDE;
	pg.cr3 |= 0x005;
	assert_int_equal(lsc_enter(&lsc, &op, &one, &pg, LIN, fake_read, NULL), HV_SUCCESS);
	other = pg;
	other.cr3 = (pg.cr3 & ~0xfffull) | 0x7ff;
	assert_non_null(look(RIP, 6, CS, false, &other, LIN));
	other.cr3 ^= 1ull << 12;
	assert_null(look(RIP, 6, CS, false, &other, LIN));
}

/* A different linear address (CS.base moved) drops a checked entry. */
static void test_linear_rip(void **state)
{
	struct lsc_op op = load(RIP, 6, CS, HV_X86_RAX);

	(void)state;
	assert_int_equal(enter(&op, &one, LIN), HV_SUCCESS);
	assert_null(look(RIP, 6, CS, false, &long_mode, LIN + 0x10000));
	assert_null(look(RIP, 6, CS, false, &long_mode, LIN));
}

/* Without pages nothing is checked: no reads, any paging state, no reader needed. */
static void test_unchecked(void **state)
{
	struct lsc_op op = load(RIP, 6, CS, HV_X86_RAX);
	struct lsc_code none = { .pages = 0 };

	(void)state;
	assert_int_equal(lsc_enter(&lsc, &op, &none, NULL, 0, NULL, NULL), HV_SUCCESS);
	assert_int_equal(lsc.e[0].checked, false);
	memset(mem, 0, sizeof(mem));
	assert_non_null(lsc_lookup(&lsc, RIP, 6, CS, false, NULL, 0, NULL, NULL));
	assert_non_null(look(RIP, 6, CS, false, &long_mode, 0x1234));
	assert_int_equal(reads, 0);
}

/* Same key in place, then empty slots lowest first, then round robin over full slots. */
static void test_replacement(void **state)
{
	struct lsc_op op;

	(void)state;
	for (unsigned i = 0; i < LSC_ENTRIES; i++) {
		op = load(0x1000 * (i + 1), 3, CS, HV_X86_RAX);
		assert_int_equal(enter(&op, NULL, 0), HV_SUCCESS);
		assert_int_equal(lsc.e[i].op.rip, 0x1000 * (i + 1));
	}
	/* Re-entering a key replaces it where it is, with the new operation. */
	op = (struct lsc_op){ .rip = 0x3000, .ilen = 3, .cs = CS, .kind = LSC_STORE_IMM32, .imm = 9 };
	assert_int_equal(enter(&op, NULL, 0), HV_SUCCESS);
	assert_int_equal(lsc.e[2].op.kind, LSC_STORE_IMM32);
	assert_int_equal(valid_count(), LSC_ENTRIES);
	assert_int_equal(lsc.next, 0);
	/* Full: slot 0, then 1, ... */
	op = load(0x9000, 3, CS, HV_X86_RAX);
	assert_int_equal(enter(&op, NULL, 0), HV_SUCCESS);
	assert_int_equal(lsc.e[0].op.rip, 0x9000);
	assert_null(look(0x1000, 3, CS, false, NULL, 0));
	op = load(0xa000, 3, CS, HV_X86_RAX);
	assert_int_equal(enter(&op, NULL, 0), HV_SUCCESS);
	assert_int_equal(lsc.e[1].op.rip, 0xa000);
	assert_non_null(look(0x3000, 3, CS, true, NULL, 0));
	/* A dropped entry's slot is reused before the round robin moves. */
	assert_null(look(0x5000, 3, CS, true, NULL, 0));	/* drops slot 4 */
	op = load(0xb000, 3, CS, HV_X86_RAX);
	assert_int_equal(enter(&op, NULL, 0), HV_SUCCESS);
	assert_int_equal(lsc.e[4].op.rip, 0xb000);
	assert_int_equal(lsc.next, 2);
	/* The round robin wraps. */
	for (unsigned i = 0; i < LSC_ENTRIES; i++) {
		op = load(0x100000 + i, 3, CS, HV_X86_RAX);
		assert_int_equal(enter(&op, NULL, 0), HV_SUCCESS);
		assert_int_equal(lsc.e[(2 + i) % LSC_ENTRIES].op.rip, 0x100000 + i);
	}
	assert_int_equal(lsc.next, 2);
}

/* Every refused enter is HV_BAD_ARGUMENT and leaves the cache as it was. */
static void test_validation(void **state)
{
	static const unsigned bad_ilen[] = { 0, 16, 255, 256 + 6, ~0u };
	static const hv_x86_reg_t bad_reg[] = {
		HV_X86_RIP, HV_X86_RFLAGS, HV_X86_CS, HV_X86_CR0, HV_X86_TPR, HV_X86_XCR0,
		HV_X86_REGISTERS_MAX, (hv_x86_reg_t)1000,
	};
	static const unsigned bad_kind[] = { 0, 4, 0x101 };
	struct lsc_op op = load(0x1000, 6, CS, HV_X86_RAX), ok = op;
	struct lsc_code three = { .page = { PAGE(0), PAGE(1) }, .pages = 3 };
	struct lsc before;

	(void)state;
	assert_int_equal(enter(&ok, NULL, 0), HV_SUCCESS);
	memcpy(&before, &lsc, sizeof(before));
#define REFUSED(call) do {							\
		assert_int_equal((call), HV_BAD_ARGUMENT);			\
		assert_memory_equal(&lsc, &before, sizeof(before));		\
	} while (0)
	for (unsigned i = 0; i < sizeof(bad_ilen) / sizeof(bad_ilen[0]); i++) {
		op = ok;
		op.ilen = bad_ilen[i];
		REFUSED(enter(&op, NULL, 0));
	}
	for (unsigned i = 0; i < sizeof(bad_reg) / sizeof(bad_reg[0]); i++) {
		op = ok;
		op.reg = bad_reg[i];
		REFUSED(enter(&op, NULL, 0));
		op.kind = LSC_STORE_R32;
		REFUSED(enter(&op, NULL, 0));
	}
	for (unsigned i = 0; i < sizeof(bad_kind) / sizeof(bad_kind[0]); i++) {
		op = ok;
		op.kind = bad_kind[i];
		REFUSED(enter(&op, NULL, 0));
	}
	op = ok;
	op.rip = 0x2000;
	REFUSED(enter(&op, &three, 0x100));
	REFUSED(enter(&op, &two, 0x100));		/* two pages, no crossing */
	REFUSED(enter(&op, &one, 0xffd));		/* one page, crossing */
#undef REFUSED
}

/* The rest of the argument checks, and the valid edges. */
static void test_validation_edges(void **state)
{
	struct lsc_op op = load(0x1000, 6, CS, HV_X86_RAX);
	struct lsc before;

	(void)state;
	memcpy(&before, &lsc, sizeof(before));
	assert_int_equal(lsc_enter(&lsc, &op, &one, &long_mode, 0x100, NULL, NULL), HV_BAD_ARGUMENT);
	assert_int_equal(lsc_enter(&lsc, &op, &one, NULL, 0x100, fake_read, NULL), HV_BAD_ARGUMENT);
	unreadable[0] = true;
	assert_int_equal(enter(&op, &one, 0x100), HV_BAD_ARGUMENT);
	unreadable[0] = false;
	unreadable[1] = true;
	assert_int_equal(enter(&op, &two, 0xffd), HV_BAD_ARGUMENT);
	unreadable[1] = false;
	assert_memory_equal(&lsc, &before, sizeof(before));

	/* ilen 1 and 15, RAX through R15 (RSP too), imm32 ignoring reg. */
	op.ilen = 1;
	assert_int_equal(enter(&op, NULL, 0), HV_SUCCESS);
	op.ilen = 15;
	assert_int_equal(enter(&op, &two, 0xff2), HV_SUCCESS);	/* 0xff2 + 15 = 0x1001 */
	for (hv_x86_reg_t r = HV_X86_RAX; r <= HV_X86_R15; r++) {
		op = load(0x2000 + r, 4, CS, r);
		assert_int_equal(enter(&op, NULL, 0), HV_SUCCESS);
		assert_int_equal(look(0x2000 + r, 4, CS, false, NULL, 0)->op.reg, r);
	}
	op = (struct lsc_op){ .rip = 0x3000, .ilen = 10, .cs = 0, .kind = LSC_STORE_IMM32,
			      .reg = HV_X86_REGISTERS_MAX };
	assert_int_equal(enter(&op, NULL, 0), HV_SUCCESS);
}

static void test_invalidate(void **state)
{
	(void)state;
	for (unsigned i = 0; i < LSC_ENTRIES + 3; i++) {
		struct lsc_op op = load(0x1000 * (i + 1), 3, CS, HV_X86_RAX);

		assert_int_equal(enter(&op, NULL, 0), HV_SUCCESS);
	}
	assert_int_equal(valid_count(), LSC_ENTRIES);
	lsc_invalidate(&lsc);
	assert_int_equal(valid_count(), 0);
	assert_int_equal(lsc.next, 0);
	for (unsigned i = 0; i < LSC_ENTRIES + 3; i++)
		assert_null(look(0x1000 * (i + 1), 3, CS, false, NULL, 0));
}

/* ---- a random sequence against a reference model ---- */

struct ref_entry {
	bool valid, checked, load;
	uint64_t rip, lin, page[2];
	unsigned ilen, npages, kind;
	uint16_t cs;
	hv_x86_reg_t reg;
	uint32_t imm;
	uint8_t bytes[16];
	bool pe, pg, pse, pae, la57, pcide, lma;
	uint64_t cr3;
};

static struct ref_entry ref[LSC_ENTRIES];
static unsigned ref_next, ref_drops;
static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(uint64_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng % n;
}

/* Byte by byte: linear_rip's page offset, then into the next handle. */
static bool ref_read(const uint64_t *page, uint64_t lin, unsigned ilen, uint8_t *out)
{
	for (unsigned i = 0; i < ilen; i++) {
		uint64_t a = (lin & (LSC_PAGE_SIZE - 1)) + i;
		uint64_t p = page[a / LSC_PAGE_SIZE];
		uint64_t idx = (p - PAGE(0)) / LSC_PAGE_SIZE;

		if (unreadable[idx])
			return false;
		out[i] = mem[idx][a % LSC_PAGE_SIZE];
	}
	return true;
}

static void ref_paging(struct ref_entry *e, const struct lsc_paging *pg)
{
	e->pe = pg->cr0 & CR0_PE;
	e->pg = pg->cr0 & CR0_PG;
	e->pse = pg->cr4 & CR4_PSE;
	e->pae = pg->cr4 & CR4_PAE;
	e->la57 = pg->cr4 & CR4_LA57;
	e->pcide = pg->cr4 & CR4_PCIDE;
	e->lma = pg->efer & EFER_LMA;
	e->cr3 = e->pcide ? pg->cr3 >> 12 : pg->cr3;
}

static hv_return_t ref_enter(const struct lsc_op *op, const struct lsc_code *code,
			     const struct lsc_paging *pg, uint64_t lin)
{
	struct ref_entry n = { .valid = true, .rip = op->rip, .ilen = op->ilen, .cs = op->cs,
			       .kind = op->kind, .lin = lin };
	bool crosses = (lin % LSC_PAGE_SIZE) + op->ilen > LSC_PAGE_SIZE;
	unsigned slot = LSC_ENTRIES;

	if (op->ilen == 0 || op->ilen > 15 || op->kind < 1 || op->kind > 3)
		return HV_BAD_ARGUMENT;
	if (op->kind != LSC_STORE_IMM32 && (op->reg < 2 || op->reg > 17))
		return HV_BAD_ARGUMENT;
	if (code->pages > 2 || (code->pages == 1 && crosses) || (code->pages == 2 && !crosses))
		return HV_BAD_ARGUMENT;
	n.reg = op->kind == LSC_STORE_IMM32 ? 0 : op->reg;
	n.imm = op->kind == LSC_STORE_IMM32 ? op->imm : 0;
	n.checked = code->pages != 0;
	n.npages = code->pages;
	n.page[0] = code->page[0];
	n.page[1] = code->page[1];
	ref_paging(&n, pg);
	if (n.checked && !ref_read(n.page, lin, op->ilen, n.bytes))
		return HV_BAD_ARGUMENT;
	for (unsigned i = 0; i < LSC_ENTRIES && slot == LSC_ENTRIES; i++)
		if (ref[i].valid && ref[i].rip == op->rip && ref[i].ilen == op->ilen && ref[i].cs == op->cs)
			slot = i;
	for (unsigned i = 0; i < LSC_ENTRIES && slot == LSC_ENTRIES; i++)
		if (!ref[i].valid)
			slot = i;
	if (slot == LSC_ENTRIES) {
		slot = ref_next;
		ref_next = (ref_next + 1) % LSC_ENTRIES;
	}
	ref[slot] = n;
	return HV_SUCCESS;
}

static int ref_lookup(uint64_t rip, unsigned ilen, uint16_t cs, bool is_write,
		      const struct lsc_paging *pg, uint64_t lin)
{
	for (int i = 0; i < LSC_ENTRIES; i++) {
		struct ref_entry *e = &ref[i], now = *e;
		uint8_t bytes[16];

		if (!e->valid || e->rip != rip || e->ilen != ilen || e->cs != cs)
			continue;
		ref_paging(&now, pg);
		if (is_write != (e->kind != LSC_LOAD_R32) ||
		    (e->checked && (lin != e->lin || now.pe != e->pe || now.pg != e->pg ||
				    now.pse != e->pse || now.pae != e->pae || now.la57 != e->la57 ||
				    now.pcide != e->pcide || now.lma != e->lma || now.cr3 != e->cr3 ||
				    !ref_read(e->page, e->lin, e->ilen, bytes) ||
				    memcmp(bytes, e->bytes, e->ilen)))) {
			e->valid = false;
			ref_drops++;
			return -1;
		}
		return i;
	}
	return -1;
}

static void random_paging(struct lsc_paging *pg)
{
	static const uint64_t cr0[] = { CR0_PE | CR0_PG, CR0_PE | CR0_PG | CR0_WP, CR0_PE, 0 };
	static const uint64_t cr3[] = { 0x1000, 0x1005, 0x2000, 0x1000 | (1ull << 52) };
	static const uint64_t cr4[] = { CR4_PAE, CR4_PAE | CR4_PCIDE, CR4_PAE | CR4_SMEP, CR4_PSE,
					CR4_PAE | CR4_LA57 };
	static const uint64_t efer[] = { EFER_LMA | (1 << 8), EFER_LMA | EFER_NXE | (1 << 8), 0 };

	pg->cr0 = cr0[rnd(4)];
	pg->cr3 = cr3[rnd(4)];
	pg->cr4 = cr4[rnd(5)];
	pg->efer = efer[rnd(3)];
}

static void test_random_against_reference(void **state)
{
	static const uint64_t rips[] = { 0x1000, 0x1ffd, 0xfffff000, 0xffffffff81000000ull };
	static const uint64_t lins[] = { 0x0ff0, 0x0ffd, 0x1ff8, 0x0002, 0x2ff9 };
	struct lsc_paging pg;
	unsigned hits = 0, refused = 0;

	(void)state;
	memset(ref, 0, sizeof(ref));
	ref_next = 0;
	random_paging(&pg);
	for (unsigned step = 0; step < 60000; step++) {
		unsigned what = (unsigned)rnd(89);
		uint64_t rip = rips[rnd(4)], lin = lins[rnd(5)];
		unsigned ilen = (unsigned)rnd(20) < 18 ? 1 + (unsigned)rnd(15) : (unsigned)rnd(2) * 16;
		uint16_t cs = (uint16_t)(0x8 << rnd(2));

		ilen = rnd(2) ? 4 + (unsigned)rnd(3) : ilen;	/* more key collisions */
		bool sane = rnd(8) != 0;	/* mostly good arguments, some of anything */

		if (what < 35) {
			struct lsc_op op = { .rip = rip, .ilen = ilen, .cs = cs,
					     .kind = sane ? 1 + (unsigned)rnd(3) : (unsigned)rnd(5),
					     .reg = (hv_x86_reg_t)(sane ? 2 + rnd(16) : rnd(20)),
					     .imm = (uint32_t)rnd(1ull << 32) };
			bool crosses = (lin % LSC_PAGE_SIZE) + ilen > LSC_PAGE_SIZE;
			struct lsc_code code = { .page = { PAGE(rnd(NPAGES)), PAGE(rnd(NPAGES)) },
						 .pages = sane ? (rnd(3) ? 1u + crosses : 0u) : (unsigned)rnd(4) };
			hv_return_t want = ref_enter(&op, &code, &pg, lin);

			assert_int_equal(lsc_enter(&lsc, &op, &code, &pg, lin, fake_read, NULL), want);
			refused += want != HV_SUCCESS;
		} else if (what < 80) {
			const struct ref_entry *r = &ref[rnd(LSC_ENTRIES)];
			bool is_write = rnd(2);

			if (sane && r->valid) {		/* a key that is there, as a guest repeats */
				rip = r->rip;
				ilen = r->ilen;
				cs = r->cs;
				lin = r->checked && rnd(8) ? r->lin : lin;
			}
			int want = ref_lookup(rip, ilen, cs, is_write, &pg, lin);
			const struct lsc_entry *e = look(rip, ilen, cs, is_write, &pg, lin);

			if (want < 0) {
				assert_null(e);
			} else {
				assert_ptr_equal(e, &lsc.e[want]);
				assert_int_equal(e->op.kind, ref[want].kind);
				assert_int_equal(e->op.reg, ref[want].reg);
				assert_int_equal(e->op.imm, ref[want].imm);
				hits++;
			}
		} else if (what < 84) {
			uint8_t *b = &mem[rnd(NPAGES)][rnd(2) ? rnd(16) : LSC_PAGE_SIZE - 16 + rnd(16)];

			*b ^= (uint8_t)(1 + rnd(255));
		} else if (what < 87) {
			random_paging(&pg);
		} else if (what < 88) {
			unreadable[rnd(NPAGES)] ^= true;
		} else {
			lsc_invalidate(&lsc);
			memset(ref, 0, sizeof(ref));
			ref_next = 0;
		}
		for (unsigned i = 0; i < LSC_ENTRIES; i++) {
			assert_int_equal(lsc.e[i].valid, ref[i].valid);
			if (ref[i].valid)
				assert_int_equal(lsc.e[i].op.rip, ref[i].rip);
		}
		assert_int_equal(lsc.next, ref_next);
	}
	print_message("hits %u refused %u drops %u\n", hits, refused, ref_drops);
	/* The sequence exercised every outcome. */
	assert_true(hits > 1000);
	assert_true(refused > 1000);
	assert_true(ref_drops > 1000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_key_parts, setup),
		cmocka_unit_test_setup(test_kind_against_access, setup),
		cmocka_unit_test_setup(test_bytes_one_page, setup),
		cmocka_unit_test_setup(test_bytes_crossing, setup),
		cmocka_unit_test_setup(test_unreadable_at_hit, setup),
		cmocka_unit_test_setup(test_paging_state, setup),
		cmocka_unit_test_setup(test_pcid, setup),
		cmocka_unit_test_setup(test_linear_rip, setup),
		cmocka_unit_test_setup(test_unchecked, setup),
		cmocka_unit_test_setup(test_replacement, setup),
		cmocka_unit_test_setup(test_validation, setup),
		cmocka_unit_test_setup(test_validation_edges, setup),
		cmocka_unit_test_setup(test_invalidate, setup),
		cmocka_unit_test_setup(test_random_against_reference, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
