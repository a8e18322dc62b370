/*
 * Host tests for copies to and from a caller's virtual addresses.  The
 * caller's physical memory is a 1 MiB host buffer holding real 4-level page
 * tables; the memory map says it is all RAM except one hidden page.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <setjmp.h>
#include <cmocka.h>

#include "hypercall/uaccess.h"
#include "kernel/string.h"

#define MEM_SIZE	0x100000ull
#define HIDDEN_PA	0x80000ull
#define OUTSIDE_PA	0x200000ull	/* beyond RAM: MMIO or a hole */
#define PG		0x1000ull

#define CR0_PE		(1ull << 0)
#define CR0_WP		(1ull << 16)
#define CR0_PG		(1ull << 31)
#define CR4_PAE		(1ull << 5)
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
#define XD		(1ull << 63)
#define DIR		(P | RW | US)

/* Tables. */
#define PML4		0x1000ull
#define PDPT		0x2000ull
#define PD		0x3000ull
#define PT		0x4000ull

/* Distinct indices at each level; bits 20:0 clear so PT index = page. */
#define GVA		((3ull << 39) | (5ull << 30) | (7ull << 21))
#define VA(page)	(GVA + (page) * PG)

/* Pages under GVA. */
enum {
	PAGE_A,			/* RW user, at 0x10000 */
	PAGE_B,			/* RW user, at 0x23000: not next to A physically */
	PAGE_RO,		/* read-only */
	PAGE_SUPER,		/* supervisor-only */
	PAGE_ABSENT,		/* P=0 */
	PAGE_HIDDEN,		/* maps the hidden page */
	PAGE_NX,		/* XD */
	PAGE_OUTSIDE,		/* maps a gpa outside RAM */
	PAGE_C,			/* RW user, after the bad ones */
	PAGE_RUN,		/* 17 RW pages at 0x40000, then one absent */
	PAGE_RUN_END = PAGE_RUN + 17,
};

static const uint64_t phys_of[] = {
	[PAGE_A] = 0x10000, [PAGE_B] = 0x23000, [PAGE_RO] = 0x30000,
	[PAGE_SUPER] = 0x31000, [PAGE_ABSENT] = 0x34000, [PAGE_HIDDEN] = HIDDEN_PA,
	[PAGE_NX] = 0x32000, [PAGE_OUTSIDE] = OUTSIDE_PA, [PAGE_C] = 0x33000,
};

#define RUN_PA		0x40000ull
/* The 2M region after GVA: a table in the hidden page; the next: outside RAM. */
#define GVA_HIDDEN_PT	(GVA + (1ull << 21))
#define GVA_OUTSIDE_PT	(GVA + (2ull << 21))
/* A 2M page over physical 0-2M: RAM, the hidden page, then no RAM. */
#define GVA_LARGE	(GVA + (3ull << 21))

static uint8_t *mem;
static struct memmap map;
static struct uaccess ua;

static void *
phys(uint64_t pa)
{
	/* uaccess must never reach for what the map says is not RAM. */
	if (pa >= MEM_SIZE || (pa & ~(PG - 1)) == HIDDEN_PA)
		fail_msg("phys(%#lx) called", (unsigned long)pa);
	return mem + pa;
}

static uint64_t *
entry(uint64_t table, unsigned index)
{
	return (uint64_t *)(mem + table) + index;
}

static uint8_t
pattern(uint64_t pa)
{
	return (uint8_t)(pa * 7 + (pa >> 8) * 13 + 1);
}

static int
setup(void **state)
{
	(void)state;
	mem = malloc(MEM_SIZE);
	assert_non_null(mem);
	/* Recognisable bytes everywhere, then the tables. */
	for (uint64_t pa = 0; pa < MEM_SIZE; pa++)
		mem[pa] = pattern(pa);
	memset(mem + PML4, 0, 4 * PG);
	*entry(PML4, 3) = PDPT | DIR;
	*entry(PDPT, 5) = PD | DIR;
	*entry(PD, 7) = PT | DIR;
	*entry(PD, 8) = HIDDEN_PA | DIR;
	*entry(PD, 9) = OUTSIDE_PA | DIR;
	*entry(PD, 10) = 0 | DIR | PS;
	*entry(PT, PAGE_A) = phys_of[PAGE_A] | DIR;
	*entry(PT, PAGE_B) = phys_of[PAGE_B] | DIR;
	*entry(PT, PAGE_RO) = phys_of[PAGE_RO] | P | US;
	*entry(PT, PAGE_SUPER) = phys_of[PAGE_SUPER] | P | RW;
	*entry(PT, PAGE_ABSENT) = phys_of[PAGE_ABSENT] | RW | US;
	*entry(PT, PAGE_HIDDEN) = HIDDEN_PA | DIR;
	*entry(PT, PAGE_NX) = phys_of[PAGE_NX] | DIR | XD;
	*entry(PT, PAGE_OUTSIDE) = OUTSIDE_PA | DIR;
	*entry(PT, PAGE_C) = phys_of[PAGE_C] | DIR;
	for (unsigned i = 0; i < 17; i++)
		*entry(PT, PAGE_RUN + i) = (RUN_PA + i * PG) | DIR;

	memmap_init(&map);
	assert_int_equal(memmap_add_ram(&map, 0, MEM_SIZE), 0);
	memmap_set_hidden(&map, HIDDEN_PA, PG);

	ua = (struct uaccess){
		.pg = {
			.cr0 = CR0_PE | CR0_PG | CR0_WP,
			.cr3 = PML4,
			.cr4 = CR4_PAE,
			.efer = EFER_LME | EFER_LMA | EFER_NXE,
			.rflags = 2,
			.maxphyaddr = 39,
		},
		.map = &map,
		.phys = phys,
	};
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	free(mem);
	return 0;
}

/* Every byte of [pa, pa + n) still holds its original pattern. */
static void
expect_untouched(uint64_t pa, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (mem[pa + i] != pattern(pa + i))
			fail_msg("pa %#lx changed", (unsigned long)(pa + i));
}

static void
fill(uint8_t *buf, size_t n, uint8_t seed)
{
	for (size_t i = 0; i < n; i++)
		buf[i] = (uint8_t)(seed + i * 31 + (i >> 8));
}

static void
test_copy_in(void **state)
{
	uint8_t buf[64];

	(void)state;
	assert_int_equal(uaccess_copy_in(&ua, buf, VA(PAGE_A) + 0x123, 16), 0);
	assert_memory_equal(buf, mem + phys_of[PAGE_A] + 0x123, 16);
	/* Across the page boundary: two physical pages far apart. */
	assert_int_equal(uaccess_copy_in(&ua, buf, VA(PAGE_B) - 24, 64), 0);
	assert_memory_equal(buf, mem + phys_of[PAGE_A] + PG - 24, 24);
	assert_memory_equal(buf + 24, mem + phys_of[PAGE_B], 40);
	/* Single bytes at either edge of a page. */
	assert_int_equal(uaccess_copy_in(&ua, buf, VA(PAGE_B) + PG - 1, 1), 0);
	assert_int_equal(buf[0], pattern(phys_of[PAGE_B] + PG - 1));
	assert_int_equal(uaccess_copy_in(&ua, buf, VA(PAGE_A), 1), 0);
	assert_int_equal(buf[0], pattern(phys_of[PAGE_A]));
	/* Reading leaves memory alone. */
	expect_untouched(phys_of[PAGE_A], PG);
	expect_untouched(phys_of[PAGE_B], PG);
}

static void
test_round_trip(void **state)
{
	uint8_t out[300], in[300];

	(void)state;
	fill(out, sizeof(out), 0x3c);
	assert_int_equal(uaccess_copy_out(&ua, VA(PAGE_B) - 100, out, sizeof(out)), 0);
	assert_memory_equal(mem + phys_of[PAGE_A] + PG - 100, out, 100);
	assert_memory_equal(mem + phys_of[PAGE_B], out + 100, 200);
	/* Only those bytes. */
	expect_untouched(phys_of[PAGE_A], PG - 100);
	expect_untouched(phys_of[PAGE_B] + 200, PG - 200);
	memset(in, 0, sizeof(in));
	assert_int_equal(uaccess_copy_in(&ua, in, VA(PAGE_B) - 100, sizeof(in)), 0);
	assert_memory_equal(in, out, sizeof(out));
}

static void
test_read_only(void **state)
{
	uint8_t buf[32];

	(void)state;
	fill(buf, sizeof(buf), 1);
	/* CR0.WP=1: even the supervisor cannot write a read-only page. */
	assert_int_equal(uaccess_copy_out(&ua, VA(PAGE_RO) + 8, buf, sizeof(buf)), -1);
	expect_untouched(phys_of[PAGE_RO], PG);
	/* Reading it is fine. */
	assert_int_equal(uaccess_copy_in(&ua, buf, VA(PAGE_RO) + 8, sizeof(buf)), 0);
	assert_memory_equal(buf, mem + phys_of[PAGE_RO] + 8, sizeof(buf));
	/* CR0.WP=0: a supervisor write goes through, as on the CPU. */
	ua.pg.cr0 &= ~CR0_WP;
	fill(buf, sizeof(buf), 2);
	assert_int_equal(uaccess_copy_out(&ua, VA(PAGE_RO) + 8, buf, sizeof(buf)), 0);
	assert_memory_equal(mem + phys_of[PAGE_RO] + 8, buf, sizeof(buf));
}

static void
test_supervisor_access(void **state)
{
	uint8_t buf[16];

	(void)state;
	/* Hypercalls come from CPL 0: supervisor pages are reachable... */
	fill(buf, sizeof(buf), 9);
	assert_int_equal(uaccess_copy_out(&ua, VA(PAGE_SUPER), buf, sizeof(buf)), 0);
	assert_memory_equal(mem + phys_of[PAGE_SUPER], buf, sizeof(buf));
	/* ...and with SMAP on and AC clear, user pages are not. */
	ua.pg.cr4 |= CR4_SMAP;
	assert_int_equal(uaccess_copy_in(&ua, buf, VA(PAGE_A), sizeof(buf)), -1);
	assert_int_equal(uaccess_copy_out(&ua, VA(PAGE_A), buf, sizeof(buf)), -1);
	expect_untouched(phys_of[PAGE_A], PG);
	assert_int_equal(uaccess_copy_in(&ua, buf, VA(PAGE_SUPER), sizeof(buf)), 0);
	ua.pg.rflags |= RFLAGS_AC;
	assert_int_equal(uaccess_copy_in(&ua, buf, VA(PAGE_A), sizeof(buf)), 0);
	assert_memory_equal(buf, mem + phys_of[PAGE_A], sizeof(buf));
}

/* HVMETAL_HC_USER: a driver's forwarded pointers are walked as CPL 3 accesses. */
static void
test_user_access(void **state)
{
	uint8_t buf[16];
	uint64_t gpa, extent;

	(void)state;
	ua.access = GUEST_PT_USER;
	ua.pg.cr4 |= CR4_SMAP;	/* SMAP is for supervisor accesses: it does not stop these */
	fill(buf, sizeof(buf), 5);
	assert_int_equal(uaccess_copy_out(&ua, VA(PAGE_A), buf, sizeof(buf)), 0);
	assert_memory_equal(mem + phys_of[PAGE_A], buf, sizeof(buf));
	assert_int_equal(uaccess_translate(&ua, VA(PAGE_A), &gpa, &extent), 0);
	assert_int_equal(gpa, phys_of[PAGE_A]);
	/* A kernel page named by a process is refused, whatever the direction. */
	assert_int_equal(uaccess_copy_in(&ua, buf, VA(PAGE_SUPER), sizeof(buf)), -1);
	assert_int_equal(uaccess_copy_out(&ua, VA(PAGE_SUPER), buf, sizeof(buf)), -1);
	assert_int_equal(uaccess_translate(&ua, VA(PAGE_SUPER), &gpa, &extent), -1);
	expect_untouched(phys_of[PAGE_SUPER], PG);
}

static void
test_unreachable_pages(void **state)
{
	static const unsigned bad[] = { PAGE_ABSENT, PAGE_HIDDEN, PAGE_OUTSIDE };
	uint8_t buf[40], sentinel[40];

	(void)state;
	memset(sentinel, 0xee, sizeof(sentinel));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint64_t va = VA(bad[i]) + 0x100;

		memset(buf, 0xee, sizeof(buf));
		assert_int_equal(uaccess_copy_in(&ua, buf, va, sizeof(buf)), -1);
		assert_memory_equal(buf, sentinel, sizeof(buf));
		fill(buf, sizeof(buf), 7);
		assert_int_equal(uaccess_copy_out(&ua, va, buf, sizeof(buf)), -1);
		assert_int_equal(uaccess_fetch(&ua, buf, va, sizeof(buf)), -1);
	}
	expect_untouched(phys_of[PAGE_ABSENT], PG);
	expect_untouched(HIDDEN_PA, PG);
	/* Page tables in the hidden page, or outside RAM, are not walked. */
	assert_int_equal(uaccess_copy_in(&ua, buf, GVA_HIDDEN_PT, 8), -1);
	assert_int_equal(uaccess_copy_in(&ua, buf, GVA_OUTSIDE_PT, 8), -1);
	/* Unmapped higher up, and not canonical. */
	assert_int_equal(uaccess_copy_in(&ua, buf, GVA + (1ull << 30), 8), -1);
	assert_int_equal(uaccess_copy_in(&ua, buf, 0x0000800000000000ull, 8), -1);
	assert_int_equal(uaccess_copy_in(&ua, buf, 0x8000000000000000ull, 8), -1);
}

static void
test_all_or_nothing(void **state)
{
	uint8_t buf[256], sentinel[256];

	(void)state;
	/* The first page is writable, the second read-only: nothing is written. */
	fill(buf, sizeof(buf), 0x55);
	assert_int_equal(uaccess_copy_out(&ua, VA(PAGE_RO) - 128, buf, sizeof(buf)), -1);
	expect_untouched(phys_of[PAGE_B], PG);
	expect_untouched(phys_of[PAGE_RO], PG);
	/* Writable, then absent. */
	assert_int_equal(uaccess_copy_out(&ua, VA(PAGE_ABSENT) - 16, buf, 32), -1);
	expect_untouched(phys_of[PAGE_SUPER], PG);
	/* Writable, then outside RAM. */
	assert_int_equal(uaccess_copy_out(&ua, VA(PAGE_OUTSIDE) - 200, buf, sizeof(buf)), -1);
	expect_untouched(phys_of[PAGE_NX], PG);
	/* Readable, then hidden: the destination is left as it was. */
	memset(buf, 0xee, sizeof(buf));
	memset(sentinel, 0xee, sizeof(sentinel));
	assert_int_equal(uaccess_copy_in(&ua, buf, VA(PAGE_HIDDEN) - 100, 200), -1);
	assert_memory_equal(buf, sentinel, sizeof(buf));
	/* Sixteen good pages, the seventeenth absent: none written. */
	{
		size_t n = UACCESS_MAX;
		uint8_t *big = malloc(n);
		uint64_t start = VA(PAGE_RUN + 1) + 0x800;

		assert_non_null(big);
		fill(big, n, 0x77);
		assert_int_equal(uaccess_copy_out(&ua, start, big, n), -1);
		expect_untouched(RUN_PA, 17 * PG);
		free(big);
	}
}

static void
test_sizes(void **state)
{
	size_t n = UACCESS_MAX;
	uint8_t *big = malloc(n + 1), *back = malloc(n + 1);
	uint64_t start = VA(PAGE_RUN) + 0x800;
	uint8_t one;

	(void)state;
	assert_non_null(big);
	assert_non_null(back);
	/* The largest copy spans 17 pages when it starts mid-page. */
	fill(big, n, 0x21);
	assert_int_equal(uaccess_copy_out(&ua, start, big, n), 0);
	assert_memory_equal(mem + RUN_PA + 0x800, big, n);
	expect_untouched(RUN_PA, 0x800);
	expect_untouched(RUN_PA + 0x800 + n, PG - 0x800);
	assert_int_equal(uaccess_copy_in(&ua, back, start, n), 0);
	assert_memory_equal(back, big, n);
	/* One byte more is refused, though every page is mapped. */
	fill(big, n + 1, 0x99);
	assert_int_equal(uaccess_copy_out(&ua, VA(PAGE_RUN), big, n + 1), -1);
	assert_int_equal(uaccess_copy_in(&ua, back, VA(PAGE_RUN), n + 1), -1);
	assert_int_equal(uaccess_copy_in(&ua, back, VA(PAGE_RUN), (size_t)-1), -1);
	/* Nothing to copy is an error too. */
	assert_int_equal(uaccess_copy_in(&ua, &one, VA(PAGE_A), 0), -1);
	assert_int_equal(uaccess_copy_out(&ua, VA(PAGE_A), &one, 0), -1);
	assert_int_equal(uaccess_fetch(&ua, &one, VA(PAGE_A), 0), -1);
	free(big);
	free(back);
}

static void
test_wrap_around(void **state)
{
	uint8_t buf[32];

	(void)state;
	/* Map the top page of the address space too: wrap is refused anyway. */
	*entry(PML4, 511) = PDPT | DIR;
	*entry(PDPT, 511) = PD | DIR;
	*entry(PD, 511) = PT | DIR;
	*entry(PT, 511) = phys_of[PAGE_C] | DIR;
	/* A range inside the top page is fine: no page walk may wrap to address 0. */
	assert_int_equal(uaccess_copy_in(&ua, buf, ~0ull - 31, 16), 0);
	assert_int_equal(uaccess_copy_in(&ua, buf, ~0ull - 15, 17), -1);
	assert_int_equal(uaccess_copy_in(&ua, buf, ~0ull, 2), -1);
	assert_int_equal(uaccess_copy_out(&ua, ~0ull - 7, buf, 32), -1);
	expect_untouched(phys_of[PAGE_C], PG);
	assert_int_equal(uaccess_copy_in(&ua, buf, ~0ull - 15, (size_t)-1), -1);
}

static void
test_fetch(void **state)
{
	uint8_t buf[32];

	(void)state;
	assert_int_equal(uaccess_fetch(&ua, buf, VA(PAGE_A) + 4, 15), 0);
	assert_memory_equal(buf, mem + phys_of[PAGE_A] + 4, 15);
	/* XD with EFER.NXE: readable, not executable. */
	assert_int_equal(uaccess_copy_in(&ua, buf, VA(PAGE_NX), 15), 0);
	assert_int_equal(uaccess_fetch(&ua, buf, VA(PAGE_NX), 15), -1);
	/* Across into a non-executable page. */
	memset(buf, 0xee, sizeof(buf));
	assert_int_equal(uaccess_fetch(&ua, buf, VA(PAGE_NX) - 8, 15), -1);
	assert_int_equal(buf[0], 0xee);
	/* Read-only and supervisor pages are executable; an absent one is not. */
	assert_int_equal(uaccess_fetch(&ua, buf, VA(PAGE_RO) + PG - 5, 15), 0);
	assert_memory_equal(buf, mem + phys_of[PAGE_RO] + PG - 5, 5);
	assert_memory_equal(buf + 5, mem + phys_of[PAGE_SUPER], 10);
	assert_int_equal(uaccess_fetch(&ua, buf, VA(PAGE_SUPER) + PG - 5, 15), -1);
	/* Without NXE the XD bit is reserved: nothing works. */
	ua.pg.efer &= ~EFER_NXE;
	assert_int_equal(uaccess_copy_in(&ua, buf, VA(PAGE_NX), 15), -1);
	assert_int_equal(uaccess_fetch(&ua, buf, VA(PAGE_NX), 15), -1);
	ua.pg.efer |= EFER_NXE;
	/* SMEP: the supervisor does not execute user pages. */
	ua.pg.cr4 |= CR4_SMEP;
	assert_int_equal(uaccess_fetch(&ua, buf, VA(PAGE_A), 15), -1);
	assert_int_equal(uaccess_copy_in(&ua, buf, VA(PAGE_A), 15), 0);
	assert_int_equal(uaccess_fetch(&ua, buf, VA(PAGE_SUPER), 15), 0);
	assert_memory_equal(buf, mem + phys_of[PAGE_SUPER], 15);
}

static void
test_large_page(void **state)
{
	uint8_t buf[64];

	(void)state;
	/* Within a 2M page each 4K page is checked against the map on its own. */
	assert_int_equal(uaccess_copy_in(&ua, buf, GVA_LARGE + 0x50ff0, 32), 0);
	assert_memory_equal(buf, mem + 0x50ff0, 32);
	assert_int_equal(uaccess_copy_in(&ua, buf, GVA_LARGE + HIDDEN_PA - 16, 32), -1);
	assert_int_equal(uaccess_copy_in(&ua, buf, GVA_LARGE + HIDDEN_PA + PG, 32), 0);
	assert_memory_equal(buf, mem + HIDDEN_PA + PG, 32);
	assert_int_equal(uaccess_copy_in(&ua, buf, GVA_LARGE + MEM_SIZE - 16, 32), -1);
	assert_int_equal(uaccess_copy_in(&ua, buf, GVA_LARGE + MEM_SIZE - 16, 16), 0);
	fill(buf, sizeof(buf), 3);
	assert_int_equal(uaccess_copy_out(&ua, GVA_LARGE + HIDDEN_PA - 8, buf, 16), -1);
	expect_untouched(HIDDEN_PA - PG, 2 * PG);
}

static void
test_paging_off(void **state)
{
	uint8_t buf[64], sentinel[64];

	(void)state;
	/* Protected mode without paging: linear is physical. */
	ua.pg.cr0 = CR0_PE;
	ua.pg.cr4 = 0;
	ua.pg.efer = 0;
	assert_int_equal(uaccess_copy_in(&ua, buf, 0x12340, sizeof(buf)), 0);
	assert_memory_equal(buf, mem + 0x12340, sizeof(buf));
	fill(buf, sizeof(buf), 0x44);
	assert_int_equal(uaccess_copy_out(&ua, 0x7fff0, buf, 16), 0);
	assert_memory_equal(mem + 0x7fff0, buf, 16);
	/* Into the hidden page, or past RAM: refused, nothing moved. */
	assert_int_equal(uaccess_copy_out(&ua, 0x7fff0, buf, 32), -1);
	assert_memory_equal(mem + 0x7fff0, buf, 16);
	expect_untouched(HIDDEN_PA, PG);
	memset(buf, 0xee, sizeof(buf));
	memset(sentinel, 0xee, sizeof(sentinel));
	assert_int_equal(uaccess_copy_in(&ua, buf, MEM_SIZE - 32, sizeof(buf)), -1);
	assert_memory_equal(buf, sentinel, sizeof(buf));
	assert_int_equal(uaccess_copy_in(&ua, buf, OUTSIDE_PA, 8), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_copy_in, setup, teardown),
		cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_only, setup, teardown),
		cmocka_unit_test_setup_teardown(test_supervisor_access, setup, teardown),
		cmocka_unit_test_setup_teardown(test_user_access, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unreachable_pages, setup, teardown),
		cmocka_unit_test_setup_teardown(test_all_or_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sizes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrap_around, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fetch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_large_page, setup, teardown),
		cmocka_unit_test_setup_teardown(test_paging_off, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
