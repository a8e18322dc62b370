/*
 * The Multiboot VMM's page walker (examples/mbvmm/mb_walk.c) over tables
 * built here: each paging mode, each page size, and the misses.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <cmocka.h>
#include "examples/mbvmm/mb_walk.h"

#define RAM	(4u << 20)
#define PG	(1ull << 31)
#define PSE	(1ull << 4)
#define PAE	(1ull << 5)
#define LMA	(1ull << 10)

static uint8_t *ram;

static void put(uint64_t pa, uint64_t v, unsigned bytes)
{
	memcpy(ram + pa, &v, bytes);
}

static uint64_t walk(const struct mb_paging *p, uint64_t va)
{
	uint64_t gpa = ~0ull;

	return mb_walk(ram, RAM, p, va, &gpa) ? gpa : ~0ull;
}

static int setup(void **state)
{
	(void)state;
	ram = calloc(1, RAM);
	return ram ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	free(ram);
	return 0;
}

static void test_long_mode(void **state)
{
	struct mb_paging p = { .cr0 = PG | 1, .cr3 = 0x1000, .cr4 = PAE, .efer = LMA | (1 << 8) };

	(void)state;
	put(0x1000, 0x2003, 8);			/* PML4[0] -> PDPT */
	put(0x2000, 0x3003, 8);			/* PDPT[0] -> PD */
	put(0x2008, 0x40000083, 8);		/* PDPT[1]: a 1 GiB page at 1 GiB */
	put(0x3000, 0x4003, 8);			/* PD[0] -> PT */
	put(0x3008, 0x200083, 8);		/* PD[1]: 2 MiB page at 2 MiB */
	put(0x4000 + 5 * 8, 0x7000 | 3, 8);	/* PT[5]: 0x5000 -> 0x7000 */
	put(0x1000 + 511 * 8, 0x2003, 8);	/* PML4[511]: the top of the address space, same PDPT */
	assert_int_equal(walk(&p, 0x5123), 0x7123);
	assert_int_equal(walk(&p, 0x234567), 0x234567);
	assert_int_equal(walk(&p, 0x40001234), 0x40001234);
	assert_int_equal(walk(&p, 0xffffff8000005123ull), 0x7123);
	assert_int_equal(walk(&p, 0x6000), ~0ull);		/* PT[6] not present */
	assert_int_equal(walk(&p, 0x8000000000ull), ~0ull);	/* PML4[1] not present */
	put(0x3010, 0x7ff000 | 3, 8);		/* PD[2] -> a table past RAM */
	assert_int_equal(walk(&p, 0x400000), ~0ull);
}

static void test_pae(void **state)
{
	struct mb_paging p = { .cr0 = PG | 1, .cr3 = 0x1020, .cr4 = PAE };

	(void)state;
	put(0x1020 + 3 * 8, 0x3001, 8);		/* PDPTE[3] -> PD (only P in a PDPTE) */
	put(0x3000 + 511 * 8, 0x5000 | 3, 8);	/* PD[511] -> PT */
	put(0x3000 + 510 * 8, 0x400083, 8);	/* PD[510]: 2 MiB page */
	put(0x5000 + 0x1ff * 8, 0x9000 | 3, 8);
	assert_int_equal(walk(&p, 0xfffff123ull), 0x9123);
	assert_int_equal(walk(&p, 0xffc12345ull), 0x412345);
	assert_int_equal(walk(&p, 0x00001000ull), ~0ull);	/* PDPTE[0] not present */
}

static void test_32bit_and_off(void **state)
{
	struct mb_paging p = { .cr0 = PG | 1, .cr3 = 0x1000, .cr4 = PSE };

	(void)state;
	put(0x1000 + 1 * 4, 0x800083, 4);	/* PDE[1]: 4 MiB page at 8 MiB */
	put(0x1000 + 0 * 4, 0x2003, 4);		/* PDE[0] -> PT */
	put(0x2000 + 3 * 4, 0x6003, 4);
	assert_int_equal(walk(&p, 0x3456), 0x6456);
	assert_int_equal(walk(&p, 0x412345), 0x812345);
	p.cr4 = 0;				/* without PSE, PS is ignored: PDE[1] names a table */
	assert_int_equal(walk(&p, 0x400000 + 0x3456), ~0ull);
	p.cr0 = 1;				/* paging off: linear is physical, 32 bits */
	assert_int_equal(walk(&p, 0x123456789ull), 0x23456789);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_long_mode, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pae, setup, teardown),
		cmocka_unit_test_setup_teardown(test_32bit_and_off, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
