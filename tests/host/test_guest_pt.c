/*
 * Host tests for the guest page-table walker.  Page tables live in a fake
 * 64 KiB guest-physical memory; one page of it is hidden from the walker.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "kernel/guest_pt.h"

#define CR0_PE		(1ull << 0)
#define CR0_WP		(1ull << 16)
#define CR0_PG		(1ull << 31)
#define CR4_PSE		(1ull << 4)
#define CR4_PAE		(1ull << 5)
#define CR4_LA57	(1ull << 12)
#define CR4_SMEP	(1ull << 20)
#define CR4_SMAP	(1ull << 21)
#define EFER_LME	(1ull << 8)
#define EFER_LMA	(1ull << 10)
#define EFER_NXE	(1ull << 11)
#define RFLAGS_AC	(1ull << 18)

#define P		(1ull << 0)
#define RW		(1ull << 1)
#define US		(1ull << 2)
#define PS		(1ull << 7)
#define PAT_4K		(1ull << 7)
#define PAT_LARGE	(1ull << 12)
#define XD		(1ull << 63)
#define DIR		(P | RW | US)

#define W		GUEST_PT_WRITE
#define U		GUEST_PT_USER
#define X		GUEST_PT_EXEC

#define SZ_4K		0x1000ull
#define SZ_2M		0x200000ull
#define SZ_4M		0x400000ull
#define SZ_1G		0x40000000ull

#define MEM_SIZE	0x10000ull
#define HIDDEN_GPA	0xf000ull	/* inside MEM_SIZE, refused by the callback */
#define OUTSIDE_GPA	0x20000ull	/* beyond MEM_SIZE */

/* Table pages: long mode (index = level), PAE, and 32-bit paging. */
static const uint64_t long_table[6] = { 0, 0x4000, 0x3000, 0x2000, 0x1000, 0x5000 };
#define PAE_PDPT	0x6020ull	/* 32-byte aligned, not page aligned */
#define PAE_PD		0x3000ull
#define PAE_PT		0x4000ull
#define PD32		0x7000ull
#define PT32		0x8000ull

static uint64_t mem[MEM_SIZE / 8];
static unsigned reads;

static bool
fake_read(void *ctx, uint64_t gpa, uint64_t *val)
{
	assert_ptr_equal(ctx, mem);
	assert_int_equal(gpa % 8, 0);
	reads++;
	if (gpa >= MEM_SIZE || (gpa & ~(SZ_4K - 1)) == HIDDEN_GPA)
		return false;
	*val = mem[gpa / 8];
	return true;
}

static int
reset(void **state)
{
	(void)state;
	/* No <string.h>: with -Ikernel it would be the kernel's. */
	for (size_t i = 0; i < sizeof(mem) / sizeof(mem[0]); i++)
		mem[i] = 0;
	reads = 0;
	return 0;
}

static uint64_t *
entry64(uint64_t gpa)
{
	return &mem[gpa / 8];
}

/* 32-bit entries are stored little-endian within the 8-byte words. */
static void
set32(uint64_t gpa, uint32_t val)
{
	uint64_t *word = &mem[gpa / 8];
	unsigned shift = (gpa & 4) * 8;

	*word = (*word & ~(0xffffffffull << shift)) | ((uint64_t)val << shift);
}

static enum guest_pt_result
xlate(const struct guest_paging *pg, uint64_t gva, unsigned access,
      struct guest_pt_walk *w)
{
	w->gpa = w->page_size = 0xdeadbeef;
	return guest_pt_translate(pg, fake_read, mem, gva, access, w);
}

static void
expect_ok(const struct guest_paging *pg, uint64_t gva, unsigned access,
	  uint64_t gpa, uint64_t size)
{
	struct guest_pt_walk w;

	assert_int_equal(xlate(pg, gva, access, &w), GUEST_PT_OK);
	assert_int_equal(w.gpa, gpa);
	assert_int_equal(w.page_size, size);
}

static void
expect_fail(const struct guest_paging *pg, uint64_t gva, unsigned access,
	    enum guest_pt_result res)
{
	struct guest_pt_walk w;

	assert_int_equal(xlate(pg, gva, access, &w), res);
	/* The result is left alone on failure. */
	assert_int_equal(w.gpa, 0xdeadbeef);
	assert_int_equal(w.page_size, 0xdeadbeef);
}

static uint64_t
level_size(unsigned level)
{
	return 1ull << (12 + 9 * (level - 1));
}

/* ---- 4- and 5-level paging ---- */

static struct guest_paging
long_paging(bool la57)
{
	return (struct guest_paging){
		.cr0 = CR0_PE | CR0_PG | CR0_WP,
		.cr3 = long_table[la57 ? 5 : 4],
		.cr4 = CR4_PAE | (la57 ? CR4_LA57 : 0),
		.efer = EFER_LME | EFER_LMA | EFER_NXE,
		.rflags = 2,
		.maxphyaddr = 46,
	};
}

static uint64_t *
long_entry(unsigned level, uint64_t gva)
{
	unsigned shift = 12 + 9 * (level - 1);

	return entry64(long_table[level] + ((gva >> shift) & 511) * 8);
}

/* Maps gva with a leaf at 'leaf' (1 = 4K, 2 = 2M, 3 = 1G); tables are DIR. */
static void
map_long(unsigned top, uint64_t gva, unsigned leaf, uint64_t phys,
	 uint64_t flags)
{
	for (unsigned level = top; level > leaf; level--)
		*long_entry(level, gva) = long_table[level - 1] | DIR;
	*long_entry(leaf, gva) = phys | flags | (leaf > 1 ? PS : 0);
}

/* Distinct index at every level, so a wrong shift lands on an empty entry. */
#define GVA4	((0x0ffull << 39) | (0x1a5ull << 30) | (0x0c3ull << 21) | \
		 (0x17eull << 12) | 0x9ab)
#define GVA5	((0x0abull << 48) | (0x1f0ull << 39) | (0x0a5ull << 30) | \
		 (0x1c3ull << 21) | (0x07eull << 12) | 0x123)

static void
test_canonical(void **state)
{
	(void)state;
	assert_true(guest_pt_canonical(0, false));
	assert_true(guest_pt_canonical(0x00007fffffffffffull, false));
	assert_false(guest_pt_canonical(0x0000800000000000ull, false));
	assert_true(guest_pt_canonical(0x0000800000000000ull, true));
	assert_true(guest_pt_canonical(0xffff800000000000ull, false));
	assert_false(guest_pt_canonical(0xffff7fffffffffffull, false));
	assert_true(guest_pt_canonical(0xffff7fffffffffffull, true));
	assert_true(guest_pt_canonical(0x00ffffffffffffffull, true));
	assert_false(guest_pt_canonical(0x0100000000000000ull, true));
	assert_true(guest_pt_canonical(0xff00000000000000ull, true));
	assert_false(guest_pt_canonical(0xfe00000000000000ull, true));
	assert_false(guest_pt_canonical(0x8000000000000000ull, false));
	assert_true(guest_pt_canonical(~0ull, false));
	assert_true(guest_pt_canonical(~0ull, true));
}

static void
test_paging_off(void **state)
{
	struct guest_paging pg = { .cr0 = CR0_PE, .maxphyaddr = 46 };

	(void)state;
	expect_ok(&pg, 0x123456789abcull, 0, 0x56789abc, 0);
	expect_ok(&pg, 0xfffff, W | U | X, 0xfffff, 0);
	assert_int_equal(reads, 0);
}

static void
test_long4_4k(void **state)
{
	struct guest_paging pg = long_paging(false);
	uint64_t high = 0xffff800000000000ull | (0x17ull << 30) | 0x456;

	(void)state;
	map_long(4, GVA4, 1, 0x12345000, DIR);
	map_long(4, high, 1, 0x777000, DIR);
	expect_ok(&pg, GVA4, 0, 0x123459ab, SZ_4K);
	expect_ok(&pg, high, 0, 0x777456, SZ_4K);
	/* PAT (bit 7 of a PTE) is neither PS nor reserved. */
	*long_entry(1, GVA4) |= PAT_4K;
	expect_ok(&pg, GVA4, 0, 0x123459ab, SZ_4K);
	/* A neighbouring page is unmapped. */
	expect_fail(&pg, GVA4 + SZ_4K, 0, GUEST_PT_NOT_PRESENT);
}

static void
test_long4_2m(void **state)
{
	struct guest_paging pg = long_paging(false);
	uint64_t gva = (GVA4 & ~(SZ_2M - 1)) | 0x1abcde;

	(void)state;
	/* PAT bit 12 is not part of the address. */
	map_long(4, gva, 2, 0x40000000 | SZ_2M, DIR | PAT_LARGE);
	expect_ok(&pg, gva, 0, 0x40000000 | SZ_2M | 0x1abcde, SZ_2M);
	expect_ok(&pg, gva & ~(SZ_2M - 1), 0, 0x40000000 | SZ_2M, SZ_2M);
}

static void
test_long4_1g(void **state)
{
	struct guest_paging pg = long_paging(false);
	uint64_t gva = (GVA4 & ~(SZ_1G - 1)) | 0x2bcdef12;

	(void)state;
	map_long(4, gva, 3, 0x1c0000000ull, DIR | PAT_LARGE);
	expect_ok(&pg, gva, 0, 0x1c0000000ull + 0x2bcdef12, SZ_1G);
}

static void
test_long5(void **state)
{
	struct guest_paging pg = long_paging(true);
	uint64_t neg = 0xff00000000000000ull | (0x1ull << 30) | 0x42;
	uint64_t gva1g = GVA5 + 2 * SZ_1G;

	(void)state;
	map_long(5, GVA5, 1, 0xabc000, DIR);
	map_long(5, neg, 2, 0x600000, DIR);
	map_long(5, gva1g, 3, 0x80000000, DIR);
	expect_ok(&pg, GVA5, 0, 0xabc123, SZ_4K);
	expect_ok(&pg, neg, 0, 0x600042, SZ_2M);
	expect_ok(&pg, gva1g, 0, 0x80000000 | (gva1g & (SZ_1G - 1)), SZ_1G);

	/* The same address is not canonical for 4-level paging. */
	pg.cr4 &= ~CR4_LA57;
	expect_fail(&pg, GVA5, 0, GUEST_PT_NONCANONICAL);
}

static void
test_noncanonical(void **state)
{
	struct guest_paging pg = long_paging(false);

	(void)state;
	/* Checked before any table is touched, even an unreachable one. */
	pg.cr3 = OUTSIDE_GPA;
	expect_fail(&pg, 0x0000800000000000ull, 0, GUEST_PT_NONCANONICAL);
	expect_fail(&pg, 0xffff7fffffffffffull, X, GUEST_PT_NONCANONICAL);
	expect_fail(&pg, 0x8000000000000000ull, 0, GUEST_PT_NONCANONICAL);
	assert_int_equal(reads, 0);
	expect_fail(&pg, 0x00007fffffffffffull, 0, GUEST_PT_BAD_TABLE);

	pg = long_paging(true);
	pg.cr3 = OUTSIDE_GPA;
	expect_fail(&pg, 0x0100000000000000ull, 0, GUEST_PT_NONCANONICAL);
	expect_fail(&pg, 0xfeffffffffffffffull, 0, GUEST_PT_NONCANONICAL);
	expect_fail(&pg, 0x0000800000000000ull, 0, GUEST_PT_BAD_TABLE);
}

static void
test_long_not_present(void **state)
{
	struct guest_paging pg = long_paging(true);

	(void)state;
	for (unsigned level = 5; level >= 1; level--) {
		reset(NULL);
		map_long(5, GVA5, 1, 0xabc000, DIR);
		expect_ok(&pg, GVA5, 0, 0xabc123, SZ_4K);
		*long_entry(level, GVA5) &= ~P;
		expect_fail(&pg, GVA5, 0, GUEST_PT_NOT_PRESENT);
		/* With P=0 every other bit is the guest's, none reserved. */
		*long_entry(level, GVA5) = ~P;
		expect_fail(&pg, GVA5, 0, GUEST_PT_NOT_PRESENT);
	}
}

static void
test_long_reserved_maxphyaddr(void **state)
{
	struct guest_paging pg = long_paging(false);

	(void)state;
	pg.maxphyaddr = 40;
	for (unsigned level = 4; level >= 1; level--) {
		reset(NULL);
		map_long(4, GVA4, 1, 0x12345000, DIR);
		*long_entry(level, GVA4) |= 1ull << 40;
		expect_fail(&pg, GVA4, 0, GUEST_PT_RESERVED);
		*long_entry(level, GVA4) ^= (1ull << 40) | (1ull << 51);
		expect_fail(&pg, GVA4, 0, GUEST_PT_RESERVED);
	}

	/* Bit 39 is a valid address bit at MAXPHYADDR 40... */
	reset(NULL);
	map_long(4, GVA4, 1, (1ull << 39) | 0x12345000, DIR);
	expect_ok(&pg, GVA4, 0, (1ull << 39) | 0x123459ab, SZ_4K);
	/* ...and bit 51 one at MAXPHYADDR 52. */
	*long_entry(1, GVA4) |= 1ull << 51;
	pg.maxphyaddr = 52;
	expect_ok(&pg, GVA4, 0, (1ull << 51) | (1ull << 39) | 0x123459ab, SZ_4K);
	/* An out-of-range CPUID value is taken as the architectural 52. */
	pg.maxphyaddr = 64;
	expect_ok(&pg, GVA4, 0, (1ull << 51) | (1ull << 39) | 0x123459ab, SZ_4K);
	pg.maxphyaddr = 46;
	expect_fail(&pg, GVA4, 0, GUEST_PT_RESERVED);

	/* 2M and 1G leaves too. */
	reset(NULL);
	map_long(4, GVA4, 2, (1ull << 46) | SZ_2M, DIR);
	expect_fail(&pg, GVA4, 0, GUEST_PT_RESERVED);
	reset(NULL);
	map_long(4, GVA4, 3, (1ull << 46) | SZ_1G, DIR);
	expect_fail(&pg, GVA4, 0, GUEST_PT_RESERVED);
}

static void
test_long_reserved_ps(void **state)
{
	struct guest_paging pg4 = long_paging(false);
	struct guest_paging pg5 = long_paging(true);

	(void)state;
	map_long(4, GVA4, 1, 0x12345000, DIR);
	expect_ok(&pg4, GVA4, 0, 0x123459ab, SZ_4K);
	*long_entry(4, GVA4) |= PS;
	expect_fail(&pg4, GVA4, 0, GUEST_PT_RESERVED);

	map_long(5, GVA5, 1, 0xabc000, DIR);
	expect_ok(&pg5, GVA5, 0, 0xabc123, SZ_4K);
	*long_entry(5, GVA5) |= PS;
	expect_fail(&pg5, GVA5, 0, GUEST_PT_RESERVED);
	*long_entry(5, GVA5) &= ~PS;
	*long_entry(4, GVA5) |= PS;
	expect_fail(&pg5, GVA5, 0, GUEST_PT_RESERVED);
}

static void
test_long_reserved_large_pat(void **state)
{
	static const struct {
		unsigned level, bit;
		bool reserved;
	} cases[] = {
		{ 2, 12, false }, { 2, 13, true }, { 2, 17, true },
		{ 2, 20, true }, { 2, 21, false },
		{ 3, 12, false }, { 3, 13, true }, { 3, 21, true },
		{ 3, 29, true }, { 3, 30, false },
	};
	struct guest_paging pg = long_paging(false);

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		unsigned level = cases[i].level;
		uint64_t size = level_size(level);
		uint64_t bit = 1ull << cases[i].bit;

		reset(NULL);
		map_long(4, GVA4, level, 4 * SZ_1G, DIR | bit);
		if (cases[i].reserved) {
			expect_fail(&pg, GVA4, 0, GUEST_PT_RESERVED);
		} else {
			/* PAT (bit 12) is not an address bit; bit 21/30 is. */
			uint64_t base = 4 * SZ_1G | (cases[i].bit > 12 ? bit : 0);

			expect_ok(&pg, GVA4, 0, base | (GVA4 & (size - 1)), size);
		}
	}
}

static void
test_long_ignored_bits(void **state)
{
	struct guest_paging pg = long_paging(false);
	uint64_t ignored = 0x7ff0000000000000ull | (0x7ull << 9);

	(void)state;
	/* Bits 62:52 and 11:9 are available to software in 4-level paging. */
	map_long(4, GVA4, 1, 0x12345000, DIR);
	for (unsigned level = 4; level >= 1; level--)
		*long_entry(level, GVA4) |= ignored;
	expect_ok(&pg, GVA4, W | U, 0x123459ab, SZ_4K);
}

static void
test_long_xd_reserved_without_nxe(void **state)
{
	struct guest_paging pg = long_paging(false);

	(void)state;
	for (unsigned level = 4; level >= 1; level--) {
		reset(NULL);
		map_long(4, GVA4, 1, 0x12345000, DIR);
		*long_entry(level, GVA4) |= XD;
		pg.efer |= EFER_NXE;
		expect_ok(&pg, GVA4, 0, 0x123459ab, SZ_4K);
		pg.efer &= ~EFER_NXE;
		expect_fail(&pg, GVA4, 0, GUEST_PT_RESERVED);
		expect_fail(&pg, GVA4, X, GUEST_PT_RESERVED);
	}
}

static void
test_long_nx(void **state)
{
	struct guest_paging pg = long_paging(false);

	(void)state;
	map_long(4, GVA4, 1, 0x12345000, DIR);
	expect_ok(&pg, GVA4, X, 0x123459ab, SZ_4K);
	expect_ok(&pg, GVA4, X | U, 0x123459ab, SZ_4K);
	/* Without NXE nothing can be execute-disabled. */
	pg.efer &= ~EFER_NXE;
	expect_ok(&pg, GVA4, X, 0x123459ab, SZ_4K);
	pg.efer |= EFER_NXE;

	for (unsigned level = 4; level >= 1; level--) {
		*long_entry(level, GVA4) |= XD;
		expect_fail(&pg, GVA4, X, GUEST_PT_PROTECTION);
		expect_fail(&pg, GVA4, X | U, GUEST_PT_PROTECTION);
		expect_ok(&pg, GVA4, 0, 0x123459ab, SZ_4K);
		expect_ok(&pg, GVA4, W | U, 0x123459ab, SZ_4K);
		*long_entry(level, GVA4) &= ~XD;
	}
	/* 1G leaf. */
	reset(NULL);
	map_long(4, GVA4, 3, SZ_1G, DIR | XD);
	expect_fail(&pg, GVA4, X, GUEST_PT_PROTECTION);
	expect_ok(&pg, GVA4, 0, SZ_1G | (GVA4 & (SZ_1G - 1)), SZ_1G);
}

static void
test_long_write_protect(void **state)
{
	struct guest_paging pg = long_paging(false);

	(void)state;
	map_long(4, GVA4, 1, 0x12345000, DIR);
	expect_ok(&pg, GVA4, W, 0x123459ab, SZ_4K);
	expect_ok(&pg, GVA4, W | U, 0x123459ab, SZ_4K);

	/* R/W=0 at any one level makes the page read-only. */
	for (unsigned level = 4; level >= 1; level--) {
		*long_entry(level, GVA4) &= ~RW;
		pg.cr0 |= CR0_WP;
		expect_fail(&pg, GVA4, W, GUEST_PT_PROTECTION);
		expect_fail(&pg, GVA4, W | U, GUEST_PT_PROTECTION);
		expect_ok(&pg, GVA4, 0, 0x123459ab, SZ_4K);
		expect_ok(&pg, GVA4, U, 0x123459ab, SZ_4K);
		/* CR0.WP=0 lets the supervisor write, never the user. */
		pg.cr0 &= ~CR0_WP;
		expect_ok(&pg, GVA4, W, 0x123459ab, SZ_4K);
		expect_fail(&pg, GVA4, W | U, GUEST_PT_PROTECTION);
		*long_entry(level, GVA4) |= RW;
	}
}

static void
test_long_user(void **state)
{
	struct guest_paging pg = long_paging(false);

	(void)state;
	map_long(4, GVA4, 1, 0x12345000, DIR);
	expect_ok(&pg, GVA4, U, 0x123459ab, SZ_4K);

	/* U/S=0 at any one level makes it a supervisor page. */
	for (unsigned level = 4; level >= 1; level--) {
		*long_entry(level, GVA4) &= ~US;
		expect_fail(&pg, GVA4, U, GUEST_PT_PROTECTION);
		expect_fail(&pg, GVA4, U | W, GUEST_PT_PROTECTION);
		expect_fail(&pg, GVA4, U | X, GUEST_PT_PROTECTION);
		expect_ok(&pg, GVA4, 0, 0x123459ab, SZ_4K);
		expect_ok(&pg, GVA4, W, 0x123459ab, SZ_4K);
		expect_ok(&pg, GVA4, X, 0x123459ab, SZ_4K);
		*long_entry(level, GVA4) |= US;
	}
}

static void
test_long_smep(void **state)
{
	struct guest_paging pg = long_paging(false);

	(void)state;
	map_long(4, GVA4, 1, 0x12345000, DIR);
	expect_ok(&pg, GVA4, X, 0x123459ab, SZ_4K);
	pg.cr4 |= CR4_SMEP;
	expect_fail(&pg, GVA4, X, GUEST_PT_PROTECTION);
	/* SMEP is about fetches by the supervisor only. */
	expect_ok(&pg, GVA4, 0, 0x123459ab, SZ_4K);
	expect_ok(&pg, GVA4, W, 0x123459ab, SZ_4K);
	expect_ok(&pg, GVA4, X | U, 0x123459ab, SZ_4K);
	/* A supervisor page (U/S=0 at one level) is fine to execute. */
	*long_entry(2, GVA4) &= ~US;
	expect_ok(&pg, GVA4, X, 0x123459ab, SZ_4K);
}

static void
test_long_smap(void **state)
{
	struct guest_paging pg = long_paging(false);

	(void)state;
	map_long(4, GVA4, 1, 0x12345000, DIR);
	expect_ok(&pg, GVA4, 0, 0x123459ab, SZ_4K);
	expect_ok(&pg, GVA4, W, 0x123459ab, SZ_4K);

	pg.cr4 |= CR4_SMAP;
	expect_fail(&pg, GVA4, 0, GUEST_PT_PROTECTION);
	expect_fail(&pg, GVA4, W, GUEST_PT_PROTECTION);
	/* Not for fetches (that is SMEP) nor for user accesses. */
	expect_ok(&pg, GVA4, X, 0x123459ab, SZ_4K);
	expect_ok(&pg, GVA4, U, 0x123459ab, SZ_4K);
	expect_ok(&pg, GVA4, U | W, 0x123459ab, SZ_4K);

	/* RFLAGS.AC=1 allows explicit supervisor accesses. */
	pg.rflags |= RFLAGS_AC;
	expect_ok(&pg, GVA4, 0, 0x123459ab, SZ_4K);
	expect_ok(&pg, GVA4, W, 0x123459ab, SZ_4K);
	/* ...but not writes to a read-only page under CR0.WP. */
	*long_entry(1, GVA4) &= ~RW;
	expect_fail(&pg, GVA4, W, GUEST_PT_PROTECTION);
	pg.cr0 &= ~CR0_WP;
	expect_ok(&pg, GVA4, W, 0x123459ab, SZ_4K);

	/* Supervisor pages are not affected. */
	pg.rflags &= ~RFLAGS_AC;
	*long_entry(1, GVA4) &= ~US;
	expect_ok(&pg, GVA4, 0, 0x123459ab, SZ_4K);
	expect_ok(&pg, GVA4, W, 0x123459ab, SZ_4K);
}

static void
test_long_bad_table(void **state)
{
	struct guest_paging pg = long_paging(false);

	(void)state;
	map_long(4, GVA4, 1, 0x12345000, DIR);
	expect_ok(&pg, GVA4, 0, 0x123459ab, SZ_4K);

	pg.cr3 = OUTSIDE_GPA;
	expect_fail(&pg, GVA4, 0, GUEST_PT_BAD_TABLE);
	pg.cr3 = HIDDEN_GPA;
	expect_fail(&pg, GVA4, 0, GUEST_PT_BAD_TABLE);
	pg.cr3 = long_table[4];

	for (unsigned level = 4; level >= 2; level--) {
		uint64_t saved = *long_entry(level, GVA4);

		*long_entry(level, GVA4) = HIDDEN_GPA | DIR;
		expect_fail(&pg, GVA4, 0, GUEST_PT_BAD_TABLE);
		*long_entry(level, GVA4) = OUTSIDE_GPA | DIR;
		expect_fail(&pg, GVA4, 0, GUEST_PT_BAD_TABLE);
		*long_entry(level, GVA4) = saved;
	}

	/* The data page itself is not read: hidden or not, it translates. */
	*long_entry(1, GVA4) = HIDDEN_GPA | DIR;
	expect_ok(&pg, GVA4, 0, HIDDEN_GPA | 0x9ab, SZ_4K);
}

static void
test_long_check_order(void **state)
{
	struct guest_paging pg = long_paging(false);

	(void)state;
	map_long(4, GVA4, 1, 0x12345000, P);
	expect_fail(&pg, GVA4, U | W, GUEST_PT_PROTECTION);
	/* A reserved bit wins over a permission violation... */
	*long_entry(1, GVA4) |= 1ull << 50;
	expect_fail(&pg, GVA4, U | W, GUEST_PT_RESERVED);
	/* ...and ends the walk before a lower not-present entry. */
	*long_entry(1, GVA4) = 0;
	expect_fail(&pg, GVA4, 0, GUEST_PT_NOT_PRESENT);
	*long_entry(3, GVA4) |= 1ull << 50;
	expect_fail(&pg, GVA4, 0, GUEST_PT_RESERVED);
	/* The walk stops at the first bad level. */
	*long_entry(3, GVA4) = 0;
	reads = 0;
	expect_fail(&pg, GVA4, 0, GUEST_PT_NOT_PRESENT);
	assert_int_equal(reads, 2);
}

/* ---- PAE paging ---- */

static struct guest_paging
pae_paging(void)
{
	return (struct guest_paging){
		.cr0 = CR0_PE | CR0_PG | CR0_WP,
		.cr3 = PAE_PDPT | 0x1f,	/* bits 4:0 are not part of the address */
		.cr4 = CR4_PAE,
		.efer = EFER_NXE,
		.rflags = 2,
		.maxphyaddr = 46,
	};
}

static uint64_t *
pae_entry(unsigned level, uint32_t gva)
{
	switch (level) {
	case 3:
		return entry64(PAE_PDPT + (gva >> 30) * 8);
	case 2:
		return entry64(PAE_PD + ((gva >> 21) & 511) * 8);
	default:
		return entry64(PAE_PT + ((gva >> 12) & 511) * 8);
	}
}

static void
map_pae(uint32_t gva, unsigned leaf, uint64_t phys, uint64_t flags)
{
	*pae_entry(3, gva) = PAE_PD | P;
	if (leaf == 2) {
		*pae_entry(2, gva) = phys | flags | PS;
	} else {
		*pae_entry(2, gva) = PAE_PT | DIR;
		*pae_entry(1, gva) = phys | flags;
	}
}

#define GVA_PAE		0xc0a0b123u

static void
test_pae_4k(void **state)
{
	struct guest_paging pg = pae_paging();

	(void)state;
	map_pae(GVA_PAE, 1, 0x3456789000ull, DIR);
	expect_ok(&pg, GVA_PAE, 0, 0x3456789123ull, SZ_4K);
	/* Linear addresses are 32 bits outside IA-32e mode. */
	expect_ok(&pg, 0xabcd00000000ull | GVA_PAE, 0, 0x3456789123ull, SZ_4K);
	/* Another PDPTE is not present. */
	expect_fail(&pg, GVA_PAE - SZ_1G, 0, GUEST_PT_NOT_PRESENT);
	*pae_entry(1, GVA_PAE) &= ~P;
	expect_fail(&pg, GVA_PAE, 0, GUEST_PT_NOT_PRESENT);
	*pae_entry(1, GVA_PAE) |= P;
	*pae_entry(2, GVA_PAE) &= ~P;
	expect_fail(&pg, GVA_PAE, 0, GUEST_PT_NOT_PRESENT);
}

static void
test_pae_2m(void **state)
{
	struct guest_paging pg = pae_paging();

	(void)state;
	/* CR4.PSE does not matter for PAE large pages. */
	map_pae(GVA_PAE, 2, 0x8000000000ull | SZ_2M, DIR | PAT_LARGE);
	expect_ok(&pg, GVA_PAE, 0,
	    0x8000000000ull | SZ_2M | (GVA_PAE & (SZ_2M - 1)), SZ_2M);
	*pae_entry(2, GVA_PAE) |= 1ull << 13;
	expect_fail(&pg, GVA_PAE, 0, GUEST_PT_RESERVED);
	*pae_entry(2, GVA_PAE) ^= (1ull << 13) | (1ull << 20);
	expect_fail(&pg, GVA_PAE, 0, GUEST_PT_RESERVED);
}

static void
test_pae_pdpte(void **state)
{
	static const unsigned reserved[] = { 1, 2, 5, 6, 7, 8, 46, 52, 62, 63 };
	struct guest_paging pg = pae_paging();

	(void)state;
	map_pae(GVA_PAE, 1, 0x5000, DIR);
	/* PDPTEs have no R/W or U/S: rights come from the PDE and PTE. */
	expect_ok(&pg, GVA_PAE, U | W, 0x5123, SZ_4K);
	/* PWT, PCD and the ignored bits 11:9 are allowed. */
	*pae_entry(3, GVA_PAE) |= (1ull << 3) | (1ull << 4) | (7ull << 9);
	expect_ok(&pg, GVA_PAE, 0, 0x5123, SZ_4K);

	/* Bit 63 too: XD does not exist in a PDPTE even with NXE. */
	for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++) {
		*pae_entry(3, GVA_PAE) |= 1ull << reserved[i];
		expect_fail(&pg, GVA_PAE, 0, GUEST_PT_RESERVED);
		*pae_entry(3, GVA_PAE) &= ~(1ull << reserved[i]);
	}

	*pae_entry(3, GVA_PAE) &= ~P;
	expect_fail(&pg, GVA_PAE, 0, GUEST_PT_NOT_PRESENT);
}

static void
test_pae_reserved(void **state)
{
	struct guest_paging pg = pae_paging();

	(void)state;
	/* Unlike 4-level paging, bits 62:52 are reserved. */
	for (unsigned level = 2; level >= 1; level--) {
		reset(NULL);
		map_pae(GVA_PAE, 1, 0x5000, DIR);
		*pae_entry(level, GVA_PAE) |= 1ull << 55;
		expect_fail(&pg, GVA_PAE, 0, GUEST_PT_RESERVED);
		*pae_entry(level, GVA_PAE) ^= (1ull << 55) | (1ull << 62);
		expect_fail(&pg, GVA_PAE, 0, GUEST_PT_RESERVED);
		*pae_entry(level, GVA_PAE) ^= (1ull << 62) | (1ull << 46);
		expect_fail(&pg, GVA_PAE, 0, GUEST_PT_RESERVED);
		*pae_entry(level, GVA_PAE) ^= (1ull << 46) | (1ull << 45);
		if (level == 1)
			expect_ok(&pg, GVA_PAE, 0, (1ull << 45) | 0x5123, SZ_4K);
		else
			expect_fail(&pg, GVA_PAE, 0, GUEST_PT_BAD_TABLE);
	}
}

static void
test_pae_nx(void **state)
{
	struct guest_paging pg = pae_paging();

	(void)state;
	for (unsigned level = 2; level >= 1; level--) {
		reset(NULL);
		map_pae(GVA_PAE, 1, 0x5000, DIR);
		expect_ok(&pg, GVA_PAE, X, 0x5123, SZ_4K);
		*pae_entry(level, GVA_PAE) |= XD;
		expect_fail(&pg, GVA_PAE, X, GUEST_PT_PROTECTION);
		expect_fail(&pg, GVA_PAE, X | U, GUEST_PT_PROTECTION);
		expect_ok(&pg, GVA_PAE, W, 0x5123, SZ_4K);
		pg.efer &= ~EFER_NXE;
		expect_fail(&pg, GVA_PAE, 0, GUEST_PT_RESERVED);
		pg.efer |= EFER_NXE;
	}
}

static void
test_pae_permissions(void **state)
{
	struct guest_paging pg = pae_paging();

	(void)state;
	map_pae(GVA_PAE, 2, 0x400000, P | RW);
	expect_ok(&pg, GVA_PAE & ~(SZ_4K - 1), W, 0x400000 | 0xb000, SZ_2M);
	expect_fail(&pg, GVA_PAE, U, GUEST_PT_PROTECTION);

	*pae_entry(2, GVA_PAE) = 0x400000 | P | US | PS;
	expect_ok(&pg, GVA_PAE, U, 0x40b123, SZ_2M);
	expect_fail(&pg, GVA_PAE, U | W, GUEST_PT_PROTECTION);
	expect_fail(&pg, GVA_PAE, W, GUEST_PT_PROTECTION);
	pg.cr0 &= ~CR0_WP;
	expect_ok(&pg, GVA_PAE, W, 0x40b123, SZ_2M);

	expect_ok(&pg, GVA_PAE, X, 0x40b123, SZ_2M);
	pg.cr4 |= CR4_SMEP;
	expect_fail(&pg, GVA_PAE, X, GUEST_PT_PROTECTION);
	pg.cr4 |= CR4_SMAP;
	expect_fail(&pg, GVA_PAE, 0, GUEST_PT_PROTECTION);
	pg.rflags |= RFLAGS_AC;
	expect_ok(&pg, GVA_PAE, 0, 0x40b123, SZ_2M);
}

static void
test_pae_bad_table(void **state)
{
	struct guest_paging pg = pae_paging();

	(void)state;
	map_pae(GVA_PAE, 1, 0x5000, DIR);
	pg.cr3 = HIDDEN_GPA;
	expect_fail(&pg, GVA_PAE, 0, GUEST_PT_BAD_TABLE);
	pg.cr3 = OUTSIDE_GPA;
	expect_fail(&pg, GVA_PAE, 0, GUEST_PT_BAD_TABLE);
	pg = pae_paging();
	*pae_entry(3, GVA_PAE) = OUTSIDE_GPA | P;
	expect_fail(&pg, GVA_PAE, 0, GUEST_PT_BAD_TABLE);
	*pae_entry(3, GVA_PAE) = PAE_PD | P;
	*pae_entry(2, GVA_PAE) = HIDDEN_GPA | DIR;
	expect_fail(&pg, GVA_PAE, 0, GUEST_PT_BAD_TABLE);
}

/* ---- 32-bit paging ---- */

static struct guest_paging
paging32(uint64_t cr4)
{
	return (struct guest_paging){
		.cr0 = CR0_PE | CR0_PG | CR0_WP,
		.cr3 = PD32 | 0x18,	/* PWT/PCD are not part of the address */
		.cr4 = cr4,
		.efer = EFER_NXE,	/* no effect on 32-bit paging */
		.rflags = 2,
		.maxphyaddr = 40,
	};
}

static uint64_t
pde32(uint32_t gva)
{
	return PD32 + (gva >> 22) * 4;
}

static uint64_t
pte32(uint32_t gva)
{
	return PT32 + ((gva >> 12) & 0x3ff) * 4;
}

static void
test_32_4k(void **state)
{
	/* Adjacent entries share an 8-byte word: low and high halves. */
	uint32_t a = (2u << 22) | (0x205u << 12) | 0x321;
	uint32_t b = (3u << 22) | (4u << 12) | 0x654;
	struct guest_paging pg = paging32(0);

	(void)state;
	set32(pde32(a), PT32 | DIR);
	set32(pde32(b), PT32 | DIR);
	set32(pte32(a), 0xaaaaa000u | DIR);
	set32(pte32(b), 0xbbbbb000u | DIR);
	expect_ok(&pg, a, 0, 0xaaaaa321u, SZ_4K);
	expect_ok(&pg, b, 0, 0xbbbbb654u, SZ_4K);
	expect_ok(&pg, 0x500000000ull | a, 0, 0xaaaaa321u, SZ_4K);

	/* No reserved bits in 4K entries: PAT and ignored bits are fine. */
	set32(pte32(a), 0xffffffffu);
	expect_ok(&pg, a, U | W, 0xfffff321u, SZ_4K);

	set32(pte32(b), 0xbbbbb000u | RW | US);
	expect_fail(&pg, b, 0, GUEST_PT_NOT_PRESENT);
	set32(pde32(a), PT32 | RW | US);
	expect_fail(&pg, a, 0, GUEST_PT_NOT_PRESENT);
}

static void
test_32_4m(void **state)
{
	uint32_t gva = (0x2c1u << 22) | 0x3abcde;
	struct guest_paging pg = paging32(CR4_PSE);

	(void)state;
	set32(pde32(gva), 0x12c00000u | PAT_LARGE | PS | DIR);
	expect_ok(&pg, gva, 0, 0x12c00000u + 0x3abcde, SZ_4M);
	expect_ok(&pg, gva & ~(SZ_4M - 1), 0, 0x12c00000u, SZ_4M);
	expect_ok(&pg, gva | 0x3fffff, 0, 0x12ffffffu, SZ_4M);
}

static void
test_32_ps_without_pse(void **state)
{
	uint32_t gva = (0x2c1u << 22) | (0x155u << 12) | 0xcde;
	struct guest_paging pg = paging32(0);

	(void)state;
	/* Without CR4.PSE the PS bit is ignored: the PDE maps a table. */
	set32(pde32(gva), PT32 | PS | DIR);
	set32(pte32(gva), 0x99999000u | DIR);
	expect_ok(&pg, gva, 0, 0x99999cdeu, SZ_4K);
	/* With it, PT32's bit 15 becomes physical bit 34 through PSE-36. */
	pg.cr4 |= CR4_PSE;
	expect_ok(&pg, gva, 0, (1ull << 34) | (gva & (SZ_4M - 1)), SZ_4M);
}

static void
test_32_pse36(void **state)
{
	uint32_t gva = (0x3ffu << 22) | 0x123456;
	struct guest_paging pg = paging32(CR4_PSE);

	(void)state;
	/* PDE bits 20:13 are physical bits 39:32 at MAXPHYADDR >= 40. */
	set32(pde32(gva), 0xffc00000u | (0xabu << 13) | PS | DIR);
	expect_ok(&pg, gva, 0, 0xab00000000ull | 0xffc00000u | 0x123456, SZ_4M);
	pg.maxphyaddr = 52;
	expect_ok(&pg, gva, 0, 0xab00000000ull | 0xffc00000u | 0x123456, SZ_4M);
	/* Bit 21 is always reserved. */
	set32(pde32(gva), 0xffc00000u | (1u << 21) | PS | DIR);
	expect_fail(&pg, gva, 0, GUEST_PT_RESERVED);

	/* At MAXPHYADDR 36 only bits 16:13 carry address; 21:17 are reserved. */
	pg.maxphyaddr = 36;
	set32(pde32(gva), 0xffc00000u | (0xbu << 13) | PS | DIR);
	expect_ok(&pg, gva, 0, 0xb00000000ull | 0xffc00000u | 0x123456, SZ_4M);
	set32(pde32(gva), 0xffc00000u | (1u << 17) | PS | DIR);
	expect_fail(&pg, gva, 0, GUEST_PT_RESERVED);
	set32(pde32(gva), 0xffc00000u | (1u << 20) | PS | DIR);
	expect_fail(&pg, gva, 0, GUEST_PT_RESERVED);
}

static void
test_32_permissions(void **state)
{
	uint32_t gva = (7u << 22) | (9u << 12) | 0x10;
	struct guest_paging pg = paging32(0);

	(void)state;
	set32(pde32(gva), PT32 | DIR);
	set32(pte32(gva), 0x5000 | DIR);
	expect_ok(&pg, gva, U | W, 0x5010, SZ_4K);
	expect_ok(&pg, gva, X | U, 0x5010, SZ_4K);

	/* Read-only at the PDE. */
	set32(pde32(gva), PT32 | P | US);
	expect_fail(&pg, gva, W, GUEST_PT_PROTECTION);
	expect_fail(&pg, gva, U | W, GUEST_PT_PROTECTION);
	pg.cr0 &= ~CR0_WP;
	expect_ok(&pg, gva, W, 0x5010, SZ_4K);
	expect_fail(&pg, gva, U | W, GUEST_PT_PROTECTION);

	/* Supervisor at the PTE. */
	set32(pde32(gva), PT32 | DIR);
	set32(pte32(gva), 0x5000 | P | RW);
	expect_fail(&pg, gva, U, GUEST_PT_PROTECTION);
	expect_ok(&pg, gva, X, 0x5010, SZ_4K);

	/* SMEP and SMAP apply to 32-bit paging too. */
	set32(pte32(gva), 0x5000 | DIR);
	pg.cr4 |= CR4_SMEP;
	expect_fail(&pg, gva, X, GUEST_PT_PROTECTION);
	expect_ok(&pg, gva, 0, 0x5010, SZ_4K);
	pg.cr4 |= CR4_SMAP;
	expect_fail(&pg, gva, 0, GUEST_PT_PROTECTION);
	expect_fail(&pg, gva, W, GUEST_PT_PROTECTION);
	pg.rflags |= RFLAGS_AC;
	expect_ok(&pg, gva, W, 0x5010, SZ_4K);

	/* 4M page: U/S and R/W come from the PDE alone. */
	pg = paging32(CR4_PSE);
	set32(pde32(gva), 0x800000 | P | PS);
	expect_ok(&pg, gva, 0, 0x800000 | (gva & (SZ_4M - 1)), SZ_4M);
	expect_fail(&pg, gva, U, GUEST_PT_PROTECTION);
	expect_fail(&pg, gva, W, GUEST_PT_PROTECTION);
}

static void
test_32_bad_table(void **state)
{
	uint32_t gva = (7u << 22) | (9u << 12) | 0x10;
	struct guest_paging pg = paging32(0);

	(void)state;
	set32(pde32(gva), HIDDEN_GPA | DIR);
	expect_fail(&pg, gva, 0, GUEST_PT_BAD_TABLE);
	set32(pde32(gva), OUTSIDE_GPA | DIR);
	expect_fail(&pg, gva, 0, GUEST_PT_BAD_TABLE);
	pg.cr3 = HIDDEN_GPA;
	expect_fail(&pg, gva, 0, GUEST_PT_BAD_TABLE);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_canonical, reset),
		cmocka_unit_test_setup(test_paging_off, reset),
		cmocka_unit_test_setup(test_long4_4k, reset),
		cmocka_unit_test_setup(test_long4_2m, reset),
		cmocka_unit_test_setup(test_long4_1g, reset),
		cmocka_unit_test_setup(test_long5, reset),
		cmocka_unit_test_setup(test_noncanonical, reset),
		cmocka_unit_test_setup(test_long_not_present, reset),
		cmocka_unit_test_setup(test_long_reserved_maxphyaddr, reset),
		cmocka_unit_test_setup(test_long_reserved_ps, reset),
		cmocka_unit_test_setup(test_long_reserved_large_pat, reset),
		cmocka_unit_test_setup(test_long_ignored_bits, reset),
		cmocka_unit_test_setup(test_long_xd_reserved_without_nxe, reset),
		cmocka_unit_test_setup(test_long_nx, reset),
		cmocka_unit_test_setup(test_long_write_protect, reset),
		cmocka_unit_test_setup(test_long_user, reset),
		cmocka_unit_test_setup(test_long_smep, reset),
		cmocka_unit_test_setup(test_long_smap, reset),
		cmocka_unit_test_setup(test_long_bad_table, reset),
		cmocka_unit_test_setup(test_long_check_order, reset),
		cmocka_unit_test_setup(test_pae_4k, reset),
		cmocka_unit_test_setup(test_pae_2m, reset),
		cmocka_unit_test_setup(test_pae_pdpte, reset),
		cmocka_unit_test_setup(test_pae_reserved, reset),
		cmocka_unit_test_setup(test_pae_nx, reset),
		cmocka_unit_test_setup(test_pae_permissions, reset),
		cmocka_unit_test_setup(test_pae_bad_table, reset),
		cmocka_unit_test_setup(test_32_4k, reset),
		cmocka_unit_test_setup(test_32_4m, reset),
		cmocka_unit_test_setup(test_32_ps_without_pse, reset),
		cmocka_unit_test_setup(test_32_pse36, reset),
		cmocka_unit_test_setup(test_32_permissions, reset),
		cmocka_unit_test_setup(test_32_bad_table, reset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
