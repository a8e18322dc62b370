/*
 * Host tests for the physical memory map: adding, rounding, merging and
 * sorting RAM ranges, uniform-kind queries, the hidden region, and the
 * control-domain RAM predicate.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <setjmp.h>
#include <cmocka.h>

#include "kernel/memmap.h"

#define K4		0x1000ull
#define M1		0x100000ull
#define M2		0x200000ull
#define G1		0x40000000ull
#define TOP_PAGE	0xfffffffffffff000ull

static struct memmap map;

static int
reset(void **state)
{
	(void)state;
	/* Dirty first: memmap_init must clear everything. */
	for (size_t i = 0; i < sizeof(map); i++)
		((volatile uint8_t *)&map)[i] = 0xa5;
	memmap_init(&map);
	return 0;
}

static void
expect_range(uint32_t i, uint64_t base, uint64_t size)
{
	assert_true(i < map.count);
	assert_int_equal(map.range[i].base, base);
	assert_int_equal(map.range[i].size, size);
	assert_int_equal(map.range[i].kind, MEMMAP_RAM);
}

/* Sorted, non-empty, neither overlapping nor touching. */
static void
check_invariants(void)
{
	assert_true(map.count <= MEMMAP_MAX_RANGES);
	for (uint32_t i = 0; i < map.count; i++) {
		assert_true(map.range[i].size > 0);
		assert_int_equal(map.range[i].base % K4, 0);
		assert_int_equal(map.range[i].size % K4, 0);
		if (i)
			assert_true(map.range[i - 1].base + map.range[i - 1].size <
				    map.range[i].base);
	}
}

/* The common PC layout: low RAM, RAM to 3G, RAM above 4G. */
static void
pc_layout(void)
{
	assert_int_equal(memmap_add_ram(&map, 0, 0xa0000), 0);
	assert_int_equal(memmap_add_ram(&map, M1, 3 * G1 - M1), 0);
	assert_int_equal(memmap_add_ram(&map, 4 * G1, 2 * G1), 0);
	assert_int_equal(map.count, 3);
}

static void
test_init(void **state)
{
	(void)state;
	assert_int_equal(map.count, 0);
	assert_int_equal(map.hidden_base, 0);
	assert_int_equal(map.hidden_size, 0);
	assert_int_equal(memmap_ram_top(&map), 0);
	/* An empty map: everything is "other", nothing is control-domain RAM. */
	assert_int_equal(memmap_uniform_kind(&map, 0, G1), MEMMAP_OTHER);
	assert_false(memmap_is_cd_ram(&map, 0));
	assert_false(memmap_overlaps_hidden(&map, 0, ~0ull));
}

static void
test_add_sorted(void **state)
{
	(void)state;
	/* Out of order in, sorted out. */
	assert_int_equal(memmap_add_ram(&map, 0x50000, 0x10000), 0);
	assert_int_equal(memmap_add_ram(&map, 0x10000, 0x8000), 0);
	assert_int_equal(memmap_add_ram(&map, 0x90000, 0x1000), 0);
	assert_int_equal(memmap_add_ram(&map, 0x30000, 0x4000), 0);
	assert_int_equal(memmap_add_ram(&map, 0x1000, 0x1000), 0);
	assert_int_equal(map.count, 5);
	expect_range(0, 0x1000, 0x1000);
	expect_range(1, 0x10000, 0x8000);
	expect_range(2, 0x30000, 0x4000);
	expect_range(3, 0x50000, 0x10000);
	expect_range(4, 0x90000, 0x1000);
	check_invariants();
	assert_int_equal(memmap_ram_top(&map), 0x91000);
}

static void
test_add_overlap(void **state)
{
	(void)state;
	assert_int_equal(memmap_add_ram(&map, 0x1000, 0x2000), 0);
	assert_int_equal(memmap_add_ram(&map, 0x5000, 0x2000), 0);
	assert_int_equal(memmap_add_ram(&map, 0x10000, 0x1000), 0);
	/* Bridges the first two. */
	assert_int_equal(memmap_add_ram(&map, 0x2000, 0x4000), 0);
	assert_int_equal(map.count, 2);
	expect_range(0, 0x1000, 0x6000);
	expect_range(1, 0x10000, 0x1000);
	/* Contained: no change. */
	assert_int_equal(memmap_add_ram(&map, 0x3000, 0x1000), 0);
	assert_int_equal(map.count, 2);
	expect_range(0, 0x1000, 0x6000);
	/* Overlapping the start only. */
	assert_int_equal(memmap_add_ram(&map, 0xe000, 0x3000), 0);
	assert_int_equal(map.count, 2);
	expect_range(1, 0xe000, 0x3000);
	/* Swallowing everything. */
	assert_int_equal(memmap_add_ram(&map, 0, 0x20000), 0);
	assert_int_equal(map.count, 1);
	expect_range(0, 0, 0x20000);
	check_invariants();
}

static void
test_add_touching(void **state)
{
	(void)state;
	assert_int_equal(memmap_add_ram(&map, 0x4000, 0x1000), 0);
	/* Ends where the first begins. */
	assert_int_equal(memmap_add_ram(&map, 0x2000, 0x2000), 0);
	assert_int_equal(map.count, 1);
	expect_range(0, 0x2000, 0x3000);
	/* Begins where it ends. */
	assert_int_equal(memmap_add_ram(&map, 0x5000, 0x1000), 0);
	assert_int_equal(map.count, 1);
	expect_range(0, 0x2000, 0x4000);
	/* One page apart: stays separate; filling the gap joins all. */
	assert_int_equal(memmap_add_ram(&map, 0x7000, 0x1000), 0);
	assert_int_equal(map.count, 2);
	assert_int_equal(memmap_add_ram(&map, 0x6000, 0x1000), 0);
	assert_int_equal(map.count, 1);
	expect_range(0, 0x2000, 0x6000);
	check_invariants();
}

static void
test_add_unaligned(void **state)
{
	(void)state;
	/* Partial pages at either edge are dropped, never rounded outward. */
	assert_int_equal(memmap_add_ram(&map, 0x1234, 0x3000), 0);
	expect_range(0, 0x2000, 0x2000);
	assert_int_equal(memmap_add_ram(&map, 0x10fff, 0x1002), 0);
	expect_range(1, 0x11000, 0x1000);
	assert_int_equal(memmap_add_ram(&map, 0x20000, 0x1fff), 0);
	expect_range(2, 0x20000, 0x1000);
	assert_int_equal(map.count, 3);
	/* No whole page inside: nothing added. */
	assert_int_equal(memmap_add_ram(&map, 0x30001, 0xffe), 0);
	assert_int_equal(memmap_add_ram(&map, 0x40800, 0x1000), 0);
	assert_int_equal(memmap_add_ram(&map, 0x50000, 0xfff), 0);
	assert_int_equal(map.count, 3);
	/* Rounded inward, an unaligned range may no longer touch its neighbour. */
	assert_int_equal(memmap_add_ram(&map, 0x4001, 0x2000), 0);
	assert_int_equal(map.count, 4);
	expect_range(1, 0x5000, 0x1000);
	check_invariants();
	assert_false(memmap_is_cd_ram(&map, 0x1fff));
	assert_true(memmap_is_cd_ram(&map, 0x2000));
	assert_false(memmap_is_cd_ram(&map, 0x4000));
}

static void
test_add_empty_and_overflow(void **state)
{
	(void)state;
	assert_int_equal(memmap_add_ram(&map, 0x1000, 0), 0);
	assert_int_equal(memmap_add_ram(&map, 0, 0), 0);
	assert_int_equal(map.count, 0);
	/* base + size wraps: ignored. */
	assert_int_equal(memmap_add_ram(&map, TOP_PAGE, 0x2000), 0);
	assert_int_equal(memmap_add_ram(&map, 0x1000, ~0ull), 0);
	assert_int_equal(memmap_add_ram(&map, ~0ull, ~0ull), 0);
	/* Ending exactly at 2^64 also wraps to 0. */
	assert_int_equal(memmap_add_ram(&map, TOP_PAGE, K4), 0);
	/* Inside the last page, no whole page: rounding base up must not wrap to 0. */
	assert_int_equal(memmap_add_ram(&map, 0xffffffffffffff00ull, 0x80), 0);
	assert_int_equal(map.count, 0);
	assert_int_equal(memmap_ram_top(&map), 0);

	/* The highest range that can be represented. */
	assert_int_equal(memmap_add_ram(&map, TOP_PAGE - G1, G1), 0);
	expect_range(0, TOP_PAGE - G1, G1);
	assert_int_equal(memmap_ram_top(&map), TOP_PAGE);
	check_invariants();
}

static void
test_table_full(void **state)
{
	(void)state;
	/* 256 separate one-page ranges, two pages apart. */
	for (uint64_t i = 0; i < MEMMAP_MAX_RANGES; i++)
		assert_int_equal(memmap_add_ram(&map, 0x100000 + i * 0x2000, K4), 0);
	assert_int_equal(map.count, MEMMAP_MAX_RANGES);
	check_invariants();

	/* A new separate range does not fit, and the table is unchanged. */
	assert_int_equal(memmap_add_ram(&map, 0x10000000, K4), -1);
	assert_int_equal(memmap_add_ram(&map, 0, K4), -1);
	assert_int_equal(map.count, MEMMAP_MAX_RANGES);
	expect_range(0, 0x100000, K4);
	expect_range(MEMMAP_MAX_RANGES - 1, 0x100000 + 255 * 0x2000, K4);
	check_invariants();
	assert_false(memmap_is_cd_ram(&map, 0x10000000));

	/* Growing an existing range, or joining two, still works. */
	assert_int_equal(memmap_add_ram(&map, 0x100000 + 255 * 0x2000, 2 * K4), 0);
	assert_int_equal(map.count, MEMMAP_MAX_RANGES);
	expect_range(MEMMAP_MAX_RANGES - 1, 0x100000 + 255 * 0x2000, 2 * K4);
	assert_int_equal(memmap_add_ram(&map, 0x101000, K4), 0);
	assert_int_equal(map.count, MEMMAP_MAX_RANGES - 1);
	expect_range(0, 0x100000, 3 * K4);
	/* Which frees a slot. */
	assert_int_equal(memmap_add_ram(&map, 0x10000000, K4), 0);
	assert_int_equal(map.count, MEMMAP_MAX_RANGES);
	assert_int_equal(memmap_ram_top(&map), 0x10001000);
	assert_int_equal(memmap_add_ram(&map, 0x20000000, K4), -1);
	check_invariants();
}

static void
test_add_random(void **state)
{
	/* Against a page bitmap over 4 MiB: 1024 pages. */
	static bool shadow[1024];
	uint64_t seed = 12345;

	(void)state;
	for (int op = 0; op < 400; op++) {
		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		uint64_t base = (seed >> 20) % (1024 * K4);
		uint64_t size = (seed >> 44) % (24 * K4);

		assert_int_equal(memmap_add_ram(&map, base, size), 0);
		for (uint64_t pg = (base + K4 - 1) / K4; (pg + 1) * K4 <= base + size; pg++)
			if (pg < 1024)
				shadow[pg] = true;
		check_invariants();
	}
	for (uint64_t pg = 0; pg < 1024; pg++)
		assert_int_equal(memmap_uniform_kind(&map, pg * K4, K4),
				 shadow[pg] ? MEMMAP_RAM : MEMMAP_OTHER);
}

static void
test_uniform_kind(void **state)
{
	(void)state;
	pc_layout();
	/* Inside RAM. */
	assert_int_equal(memmap_uniform_kind(&map, 0, K4), MEMMAP_RAM);
	assert_int_equal(memmap_uniform_kind(&map, 0, 0xa0000), MEMMAP_RAM);
	assert_int_equal(memmap_uniform_kind(&map, 0x9f000, K4), MEMMAP_RAM);
	assert_int_equal(memmap_uniform_kind(&map, M1, M2), MEMMAP_RAM);
	assert_int_equal(memmap_uniform_kind(&map, G1, G1), MEMMAP_RAM);
	assert_int_equal(memmap_uniform_kind(&map, 3 * G1 - K4, K4), MEMMAP_RAM);
	assert_int_equal(memmap_uniform_kind(&map, 4 * G1, 2 * G1), MEMMAP_RAM);
	assert_int_equal(memmap_uniform_kind(&map, 0x1234, 1), MEMMAP_RAM);
	/* In holes. */
	assert_int_equal(memmap_uniform_kind(&map, 0xa0000, 0x60000), MEMMAP_OTHER);
	assert_int_equal(memmap_uniform_kind(&map, 3 * G1, G1), MEMMAP_OTHER);
	assert_int_equal(memmap_uniform_kind(&map, 0xfee00000, K4), MEMMAP_OTHER);
	assert_int_equal(memmap_uniform_kind(&map, 6 * G1, 1ull << 39), MEMMAP_OTHER);
	assert_int_equal(memmap_uniform_kind(&map, TOP_PAGE, K4), MEMMAP_OTHER);
	/* Straddling by a single byte or page. */
	assert_int_equal(memmap_uniform_kind(&map, 0x9f000, 0x1001), -1);
	assert_int_equal(memmap_uniform_kind(&map, 0xfffff, 2), -1);
	assert_int_equal(memmap_uniform_kind(&map, 0xa0000, 0x60001), -1);
	assert_int_equal(memmap_uniform_kind(&map, 3 * G1 - K4, 2 * K4), -1);
	assert_int_equal(memmap_uniform_kind(&map, 4 * G1 - 1, 2), -1);
	assert_int_equal(memmap_uniform_kind(&map, 6 * G1 - K4, 2 * K4), -1);
	/* Covering a hole between two RAM ranges, or all of them. */
	assert_int_equal(memmap_uniform_kind(&map, 2 * G1, 3 * G1), -1);
	assert_int_equal(memmap_uniform_kind(&map, 0, 1ull << 39), -1);
	assert_int_equal(memmap_uniform_kind(&map, 0, M1 + K4), -1);
	/* The hidden region is still RAM as far as kinds go. */
	memmap_set_hidden(&map, 2 * G1, M2);
	assert_int_equal(memmap_uniform_kind(&map, 2 * G1, M2), MEMMAP_RAM);
	assert_int_equal(memmap_ram_top(&map), 6 * G1);
}

static void
test_hidden_overlaps(void **state)
{
	(void)state;
	pc_layout();
	/* No hidden region: nothing overlaps it, even at address 0. */
	assert_false(memmap_overlaps_hidden(&map, 0, K4));
	assert_false(memmap_overlaps_hidden(&map, 0, 1ull << 40));

	memmap_set_hidden(&map, 2 * G1 + M1, M2);
	assert_int_equal(map.hidden_base, 2 * G1 + M1);
	assert_int_equal(map.hidden_size, M2);
	assert_true(memmap_overlaps_hidden(&map, 2 * G1 + M1, K4));
	assert_true(memmap_overlaps_hidden(&map, 2 * G1 + M1 + M2 - K4, K4));
	assert_true(memmap_overlaps_hidden(&map, 2 * G1 + M1 + M2 - 1, 1));
	assert_true(memmap_overlaps_hidden(&map, 2 * G1, M2));	/* straddles the start */
	assert_true(memmap_overlaps_hidden(&map, 2 * G1 + M2, M2));	/* straddles the end */
	assert_true(memmap_overlaps_hidden(&map, 2 * G1, G1));	/* contains it */
	assert_true(memmap_overlaps_hidden(&map, 0, 1ull << 39));
	/* Adjacent on either side: no overlap. */
	assert_false(memmap_overlaps_hidden(&map, 2 * G1 + M1 - K4, K4));
	assert_false(memmap_overlaps_hidden(&map, 2 * G1, M1));
	assert_false(memmap_overlaps_hidden(&map, 2 * G1 + M1 + M2, K4));
	assert_false(memmap_overlaps_hidden(&map, 2 * G1 + M1 + M2, G1));
	assert_false(memmap_overlaps_hidden(&map, 0, K4));
	assert_false(memmap_overlaps_hidden(&map, 4 * G1, G1));
}

static void
test_is_cd_ram(void **state)
{
	uint64_t hb = 2 * G1 + M1;

	(void)state;
	pc_layout();
	memmap_set_hidden(&map, hb, M2);
	/* RAM outside the hidden region, any byte of the page. */
	assert_true(memmap_is_cd_ram(&map, 0));
	assert_true(memmap_is_cd_ram(&map, 0x9ffff));
	assert_true(memmap_is_cd_ram(&map, M1));
	assert_true(memmap_is_cd_ram(&map, hb - 1));
	assert_true(memmap_is_cd_ram(&map, hb + M2));
	assert_true(memmap_is_cd_ram(&map, 3 * G1 - 1));
	assert_true(memmap_is_cd_ram(&map, 4 * G1));
	assert_true(memmap_is_cd_ram(&map, 6 * G1 - 8));
	/* Hidden pages, first to last byte. */
	assert_false(memmap_is_cd_ram(&map, hb));
	assert_false(memmap_is_cd_ram(&map, hb + 0x123));
	assert_false(memmap_is_cd_ram(&map, hb + M2 - 1));
	assert_false(memmap_is_cd_ram(&map, hb + M1));
	/* Holes and MMIO. */
	assert_false(memmap_is_cd_ram(&map, 0xa0000));
	assert_false(memmap_is_cd_ram(&map, 0xfffff));
	assert_false(memmap_is_cd_ram(&map, 3 * G1));
	assert_false(memmap_is_cd_ram(&map, 0xfee00000));
	assert_false(memmap_is_cd_ram(&map, 6 * G1));
	assert_false(memmap_is_cd_ram(&map, 1ull << 46));
	/* The last page of the address space: no wrap-around to page 0. */
	assert_false(memmap_is_cd_ram(&map, TOP_PAGE));
	assert_false(memmap_is_cd_ram(&map, ~0ull));
}

static void
test_is_cd_ram_top(void **state)
{
	(void)state;
	/* RAM up to the last page, which itself cannot be RAM. */
	assert_int_equal(memmap_add_ram(&map, 0, M1), 0);
	assert_int_equal(memmap_add_ram(&map, TOP_PAGE - 4 * K4, 4 * K4), 0);
	assert_int_equal(map.count, 2);
	assert_true(memmap_is_cd_ram(&map, TOP_PAGE - 1));
	assert_true(memmap_is_cd_ram(&map, TOP_PAGE - 4 * K4));
	assert_false(memmap_is_cd_ram(&map, TOP_PAGE));
	assert_false(memmap_is_cd_ram(&map, ~0ull));
	assert_false(memmap_is_cd_ram(&map, TOP_PAGE - 5 * K4));
	/* A hidden region near the top. */
	memmap_set_hidden(&map, TOP_PAGE - 2 * K4, K4);
	assert_false(memmap_is_cd_ram(&map, TOP_PAGE - 2 * K4));
	assert_true(memmap_is_cd_ram(&map, TOP_PAGE - K4));
	assert_true(memmap_is_cd_ram(&map, TOP_PAGE - 3 * K4));
	assert_true(memmap_is_cd_ram(&map, 0));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_init, reset),
		cmocka_unit_test_setup(test_add_sorted, reset),
		cmocka_unit_test_setup(test_add_overlap, reset),
		cmocka_unit_test_setup(test_add_touching, reset),
		cmocka_unit_test_setup(test_add_unaligned, reset),
		cmocka_unit_test_setup(test_add_empty_and_overflow, reset),
		cmocka_unit_test_setup(test_table_full, reset),
		cmocka_unit_test_setup(test_add_random, reset),
		cmocka_unit_test_setup(test_uniform_kind, reset),
		cmocka_unit_test_setup(test_hidden_overlaps, reset),
		cmocka_unit_test_setup(test_is_cd_ram, reset),
		cmocka_unit_test_setup(test_is_cd_ram_top, reset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
