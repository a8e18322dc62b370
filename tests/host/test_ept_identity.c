/*
 * Host tests for the control domain's identity EPT.  Tables come from a real
 * pool in host memory (the "physical" addresses in the entries are host
 * pointers), and every result is checked against an independent model of
 * the memory map: identity address, memory type, permissions, and the
 * largest page size the configuration allows.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <setjmp.h>
#include <cmocka.h>

#include "ept/ept_identity.h"
#include "kernel/string.h"

#define K4		0x1000ull
#define M1		0x100000ull
#define M2		0x200000ull
#define G1		0x40000000ull
#define TOP39		(1ull << 39)

/* The layout: RAM 0-640K, 1M-3G, 4G-6G. */
static const struct {
	uint64_t base, end;
} ram[] = {
	{ 0, 0xa0000 },
	{ M1, 3 * G1 },
	{ 4 * G1, 6 * G1 },
};

/* 2 MiB of hvmetal, straddling the 2M boundary at 2G + 6M. */
#define HIDDEN_BASE	(2 * G1 + 5 * M1)
#define HIDDEN_SIZE	M2
#define DUMMY_PA	HIDDEN_BASE
#define TRAP_PAGE	0xfee00000ull

#define EPT_MT_MASK	(7ull << 3)
#define EPT_IPAT	(1ull << 6)

static struct memmap map;

struct env {
	struct pool pool;
	uint8_t *mem;
	size_t mem_size;
	struct ept_identity_cfg cfg;
	uint64_t pml4;
	size_t tables;		/* pages the build took from the pool */
};

static void
make_map(void)
{
	memmap_init(&map);
	for (size_t i = 0; i < sizeof(ram) / sizeof(ram[0]); i++)
		assert_int_equal(memmap_add_ram(&map, ram[i].base, ram[i].end - ram[i].base), 0);
	memmap_set_hidden(&map, HIDDEN_BASE, HIDDEN_SIZE);
}

/* A pool with exactly 'pages' usable pages. */
static void
make_pool(struct env *e, size_t pages)
{
	e->mem_size = (pages + 1) * PAGE_SIZE;
	e->mem = aligned_alloc(PAGE_SIZE, e->mem_size);
	assert_non_null(e->mem);
	assert_int_equal(pool_init(&e->pool, e->mem, e->mem_size), 0);
	assert_int_equal(pool_total_bytes(&e->pool), pages * PAGE_SIZE);
}

static void
build(struct env *e, size_t pool_pages, uint64_t top, bool use_1g, bool use_2m)
{
	size_t before;

	make_map();
	make_pool(e, pool_pages);
	e->cfg = (struct ept_identity_cfg){
		.map = &map, .top = top, .use_1g = use_1g, .use_2m = use_2m,
		.dummy_pa = DUMMY_PA, .trap_page = TRAP_PAGE,
	};
	before = pool_free_bytes(&e->pool);
	e->pml4 = ept_identity_build(&e->pool, &e->cfg);
	assert_int_not_equal(e->pml4, 0);
	assert_int_equal(e->pml4 & PAGE_MASK, 0);
	e->tables = (before - pool_free_bytes(&e->pool)) / PAGE_SIZE;
}

static void
destroy(struct env *e)
{
	free(e->mem);
}

/* ---- the model ---- */

static bool
model_ram(uint64_t a)
{
	for (size_t i = 0; i < sizeof(ram) / sizeof(ram[0]); i++)
		if (a >= ram[i].base && a < ram[i].end)
			return true;
	return false;
}

/* All RAM or all not-RAM, nothing hidden, no trap page. */
static bool
model_block_ok(uint64_t a, uint64_t span)
{
	for (size_t i = 0; i < sizeof(ram) / sizeof(ram[0]); i++) {
		bool overlaps = ram[i].base < a + span && a < ram[i].end;
		bool covers = ram[i].base <= a && a + span <= ram[i].end;

		if (overlaps && !covers)
			return false;
	}
	if (HIDDEN_BASE < a + span && a < HIDDEN_BASE + HIDDEN_SIZE)
		return false;
	return !(TRAP_PAGE >= a && TRAP_PAGE < a + span);
}

static uint64_t
model_size(const struct ept_identity_cfg *cfg, uint64_t gpa)
{
	if (cfg->use_1g && model_block_ok(gpa & ~(G1 - 1), G1))
		return G1;
	if (cfg->use_2m && model_block_ok(gpa & ~(M2 - 1), M2))
		return M2;
	return K4;
}

/* Checks the leaf for one gpa against the model. */
static void
check_gpa(const struct env *e, uint64_t gpa)
{
	uint64_t size = 0xbad, want_size = model_size(&e->cfg, gpa);
	uint64_t leaf = ept_identity_lookup(e->pml4, gpa, &size);
	bool hidden = gpa >= HIDDEN_BASE && gpa < HIDDEN_BASE + HIDDEN_SIZE;
	bool trap = (gpa & ~PAGE_MASK) == TRAP_PAGE;
	uint64_t want_pa, want_flags;

	if (hidden) {
		want_pa = DUMMY_PA;
		want_flags = EPT_RWX | EPT_MT_WB;
	} else {
		want_pa = gpa & ~(want_size - 1);
		want_flags = (trap ? EPT_R : EPT_RWX) |
			     (model_ram(gpa) ? EPT_MT_WB : EPT_MT_UC);
	}
	if (want_size > K4)
		want_flags |= EPT_LARGE;
	if (size != want_size || (leaf & EPT_ADDR_MASK) != want_pa ||
	    (leaf & ~EPT_ADDR_MASK) != want_flags)
		fail_msg("gpa %#lx: leaf %#lx size %#lx; want pa %#lx flags %#lx size %#lx",
			 (unsigned long)gpa, (unsigned long)leaf, (unsigned long)size,
			 (unsigned long)want_pa, (unsigned long)want_flags,
			 (unsigned long)want_size);
	/* Identity: the gpa resolves to itself (hidden pages to the dummy). */
	if (!hidden)
		assert_int_equal((leaf & EPT_ADDR_MASK) + (gpa & (size - 1)), gpa);
}

/* Every 4K page of [base, end). */
static void
check_pages(const struct env *e, uint64_t base, uint64_t end)
{
	for (uint64_t a = base; a < end; a += K4)
		check_gpa(e, a + ((a >> 12) & 0xff8));
}

static uint64_t rng_state;

static uint64_t
rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

/* Walks every table: counts them, checks non-leaf entries and pool bounds. */
static size_t
count_tables(const struct env *e, uint64_t table, int level)
{
	const uint64_t *t = (const uint64_t *)(uintptr_t)table;
	size_t n = 1;

	assert_true(table >= (uintptr_t)e->mem + PAGE_SIZE);
	assert_true(table + PAGE_SIZE <= (uintptr_t)e->mem + e->mem_size);
	for (int i = 0; i < 512; i++) {
		uint64_t ent = t[i];

		if (!ent)
			continue;
		if (level == 0 || (ent & EPT_LARGE)) {
			/* Large leaves only where allowed; low address bits clear. */
			assert_true(level <= 2);
			assert_true(level == 0 || (level == 1 && e->cfg.use_2m) ||
				    (level == 2 && e->cfg.use_1g));
			assert_int_equal(ent & EPT_ADDR_MASK & ((1ull << (12 + 9 * level)) - 1), 0);
			assert_int_equal(ent & EPT_IPAT, 0);
			continue;
		}
		/* Non-leaf: RWX, bits 7:3 reserved, nothing above the address. */
		assert_int_equal(ent & ~EPT_ADDR_MASK, EPT_RWX);
		n += count_tables(e, ent & EPT_ADDR_MASK, level - 1);
	}
	return n;
}

/* ---- probes shared by every configuration ---- */

static void
check_layout(const struct env *e)
{
	/* Low memory: RAM, the legacy hole, RAM again. */
	check_pages(e, 0, 4 * M1);
	/* Around and through the hidden region. */
	check_pages(e, HIDDEN_BASE - 2 * M1, HIDDEN_BASE + HIDDEN_SIZE + 2 * M1);
	/* The end of low RAM, the MMIO hole, the trap page, the start of high RAM. */
	check_pages(e, 3 * G1 - M2, 3 * G1 + M2);
	check_pages(e, TRAP_PAGE - M2, TRAP_PAGE + M2);
	check_pages(e, 4 * G1 - M2, 4 * G1 + M2);
	check_pages(e, 6 * G1 - M2, 6 * G1 + M2);
	/* Random gpas over the whole range. */
	rng_state = 0x243f6a8885a308d3ull;
	for (int i = 0; i < 20000; i++) {
		uint64_t gpa = rng() % e->cfg.top;

		/* Half of them below 8G, where the layout is. */
		if (i & 1)
			gpa &= 8 * G1 - 1;
		check_gpa(e, gpa);
	}
	/* Nothing at or beyond top. */
	for (uint64_t gpa = e->cfg.top; gpa < e->cfg.top + 4 * G1; gpa += G1 / 2) {
		uint64_t size = 0xbad;

		if (gpa >= TOP39)
			break;
		assert_int_equal(ept_identity_lookup(e->pml4, gpa, &size), 0);
		assert_int_equal(size, 0);
	}
	assert_int_equal(count_tables(e, e->pml4, 3), e->tables);
}

static void
expect_leaf(const struct env *e, uint64_t gpa, uint64_t pa, uint64_t flags, uint64_t size)
{
	uint64_t got_size = 0;
	uint64_t leaf = ept_identity_lookup(e->pml4, gpa, &got_size);

	assert_int_equal(got_size, size);
	assert_int_equal(leaf & EPT_ADDR_MASK, pa);
	assert_int_equal(leaf & (EPT_RWX | EPT_MT_MASK), flags);
}

/* ---- configurations ---- */

static void
test_1g_2m(void **state)
{
	struct env e;

	(void)state;
	build(&e, 64, TOP39, true, true);
	/* Explicit expectations first, then the model everywhere. */
	expect_leaf(&e, G1 + 0x123456, G1, EPT_RWX | EPT_MT_WB, G1);
	expect_leaf(&e, 4 * G1, 4 * G1, EPT_RWX | EPT_MT_WB, G1);
	expect_leaf(&e, 5 * G1 + G1 - 1, 5 * G1, EPT_RWX | EPT_MT_WB, G1);
	expect_leaf(&e, 6 * G1, 6 * G1, EPT_RWX | EPT_MT_UC, G1);
	expect_leaf(&e, TOP39 - 1, TOP39 - G1, EPT_RWX | EPT_MT_UC, G1);
	expect_leaf(&e, 0x9f000, 0x9f000, EPT_RWX | EPT_MT_WB, K4);
	expect_leaf(&e, 0xa0000, 0xa0000, EPT_RWX | EPT_MT_UC, K4);
	expect_leaf(&e, 0xfffff, 0xff000, EPT_RWX | EPT_MT_UC, K4);
	expect_leaf(&e, M1, M1, EPT_RWX | EPT_MT_WB, K4);
	expect_leaf(&e, M2, M2, EPT_RWX | EPT_MT_WB, M2);
	expect_leaf(&e, 2 * G1, 2 * G1, EPT_RWX | EPT_MT_WB, M2);
	expect_leaf(&e, HIDDEN_BASE - 1, HIDDEN_BASE - K4, EPT_RWX | EPT_MT_WB, K4);
	expect_leaf(&e, HIDDEN_BASE, DUMMY_PA, EPT_RWX | EPT_MT_WB, K4);
	expect_leaf(&e, HIDDEN_BASE + M1 + 0x10, DUMMY_PA, EPT_RWX | EPT_MT_WB, K4);
	expect_leaf(&e, HIDDEN_BASE + HIDDEN_SIZE, HIDDEN_BASE + HIDDEN_SIZE,
		    EPT_RWX | EPT_MT_WB, K4);
	expect_leaf(&e, HIDDEN_BASE + HIDDEN_SIZE + M2, HIDDEN_BASE + HIDDEN_SIZE + M1,
		    EPT_RWX | EPT_MT_WB, M2);
	expect_leaf(&e, 3 * G1, 3 * G1, EPT_RWX | EPT_MT_UC, M2);
	expect_leaf(&e, TRAP_PAGE - 1, TRAP_PAGE - M2, EPT_RWX | EPT_MT_UC, M2);
	expect_leaf(&e, TRAP_PAGE + 0x300, TRAP_PAGE, EPT_R | EPT_MT_UC, K4);
	expect_leaf(&e, TRAP_PAGE + K4, TRAP_PAGE + K4, EPT_RWX | EPT_MT_UC, K4);
	/*
	 * PML4 + PDPT + PDs for GiB 0, 2, 3 + PTs for [0, 2M), the two 2M
	 * pages the hidden region straddles, and the trap page's 2M page.
	 */
	assert_int_equal(e.tables, 1 + 1 + 3 + 4);
	check_layout(&e);
	destroy(&e);
}

static void
test_2m_only(void **state)
{
	struct env e;

	(void)state;
	build(&e, 1024, TOP39, false, true);
	expect_leaf(&e, G1 + 0x123456, G1, EPT_RWX | EPT_MT_WB, M2);
	expect_leaf(&e, 100 * G1, 100 * G1, EPT_RWX | EPT_MT_UC, M2);
	expect_leaf(&e, TRAP_PAGE, TRAP_PAGE, EPT_R | EPT_MT_UC, K4);
	expect_leaf(&e, HIDDEN_BASE + K4, DUMMY_PA, EPT_RWX | EPT_MT_WB, K4);
	/* A PD for every GiB below top, and the same 4 PTs. */
	assert_int_equal(e.tables, 1 + 1 + 512 + 4);
	check_layout(&e);
	destroy(&e);
}

static void
test_1g_only(void **state)
{
	struct env e;

	(void)state;
	build(&e, 2048, TOP39, true, false);
	expect_leaf(&e, G1, G1, EPT_RWX | EPT_MT_WB, G1);
	expect_leaf(&e, M2, M2, EPT_RWX | EPT_MT_WB, K4);
	expect_leaf(&e, 3 * G1, 3 * G1, EPT_RWX | EPT_MT_UC, K4);
	expect_leaf(&e, TRAP_PAGE, TRAP_PAGE, EPT_R | EPT_MT_UC, K4);
	/* GiB 0, 2 and 3 are all 4K pages: 512 PTs each. */
	assert_int_equal(e.tables, 1 + 1 + 3 + 3 * 512);
	check_layout(&e);
	destroy(&e);
}

static void
test_4k_only(void **state)
{
	struct env e;

	(void)state;
	/* 4K pages everywhere: keep top at 8 GiB (4096 PTs, 16 MiB of tables). */
	build(&e, 4200, 8 * G1, false, false);
	expect_leaf(&e, G1, G1, EPT_RWX | EPT_MT_WB, K4);
	expect_leaf(&e, 7 * G1, 7 * G1, EPT_RWX | EPT_MT_UC, K4);
	expect_leaf(&e, TRAP_PAGE, TRAP_PAGE, EPT_R | EPT_MT_UC, K4);
	expect_leaf(&e, HIDDEN_BASE + M1, DUMMY_PA, EPT_RWX | EPT_MT_WB, K4);
	assert_int_equal(e.tables, 1 + 1 + 8 + 8 * 512);
	check_layout(&e);
	destroy(&e);
}

static void
test_small_top(void **state)
{
	struct env e;

	(void)state;
	/* A 36-bit machine: 64 GiB; PDPT entries past it stay empty. */
	build(&e, 64, 1ull << 36, true, true);
	assert_int_equal(e.tables, 1 + 1 + 3 + 4);
	expect_leaf(&e, (1ull << 36) - G1, (1ull << 36) - G1, EPT_RWX | EPT_MT_UC, G1);
	check_layout(&e);
	destroy(&e);
}

static void
test_hidden_all_dummy(void **state)
{
	struct env e;
	uint64_t seen = 0;

	(void)state;
	build(&e, 64, TOP39, true, true);
	/* Every hidden page is the dummy, writable, cacheable, and 4K. */
	for (uint64_t a = HIDDEN_BASE; a < HIDDEN_BASE + HIDDEN_SIZE; a += K4) {
		uint64_t size = 0;
		uint64_t leaf = ept_identity_lookup(e.pml4, a + 0xabc, &size);

		assert_int_equal(size, K4);
		assert_int_equal(leaf & EPT_ADDR_MASK, DUMMY_PA);
		assert_int_equal(leaf & ~EPT_ADDR_MASK, EPT_RWX | EPT_MT_WB);
		seen++;
	}
	assert_int_equal(seen, HIDDEN_SIZE / K4);
	destroy(&e);
}

static void
test_pool_exhaustion(void **state)
{
	struct env e, f;

	(void)state;
	/* Learn exactly how many pages the build takes... */
	build(&e, 64, TOP39, true, true);
	destroy(&e);

	/* ...that many is enough... */
	make_map();
	make_pool(&f, e.tables);
	f.cfg = e.cfg;
	f.pml4 = ept_identity_build(&f.pool, &f.cfg);
	assert_int_not_equal(f.pml4, 0);
	assert_int_equal(pool_free_bytes(&f.pool), 0);
	destroy(&f);

	/* ...and any fewer is not, down to none at all. */
	for (size_t pages = e.tables - 1; pages >= 1; pages--) {
		make_pool(&f, pages);
		assert_int_equal(ept_identity_build(&f.pool, &e.cfg), 0);
		destroy(&f);
	}
	make_pool(&f, 1);
	assert_non_null(pool_alloc_page(&f.pool));
	assert_int_equal(ept_identity_build(&f.pool, &e.cfg), 0);
	destroy(&f);

	/* Same for the 2M-only layout, which runs out in the middle of the PDs. */
	make_pool(&f, 300);
	e.cfg.use_1g = false;
	assert_int_equal(ept_identity_build(&f.pool, &e.cfg), 0);
	destroy(&f);
}

/* Issue 9, defect 2: the trapped xAPIC page moves with IA32_APIC_BASE at run time. */
static void
test_move_trap(void **state)
{
	struct env e;
	uint64_t size = 0, leaf, moved = G1 + 3 * M1 + 5 * K4;	/* inside a 1G RAM leaf */
	size_t free_before;

	(void)state;
	build(&e, 64, TOP39, true, true);
	free_before = pool_free_bytes(&e.pool);
	assert_int_equal(ept_identity_set_trap(e.pml4, &e.pool, moved, true), 0);
	/* 1G -> 2M -> 4K: two table pages, the page read-only, its neighbours untouched. */
	assert_int_equal((free_before - pool_free_bytes(&e.pool)) / PAGE_SIZE, 2);
	leaf = ept_identity_lookup(e.pml4, moved, &size);
	assert_int_equal(size, K4);
	assert_int_equal(leaf, moved | EPT_R | EPT_MT_WB);
	for (uint64_t a = G1; a < 2 * G1; a += K4 * 97) {
		if (a == moved)
			continue;
		leaf = ept_identity_lookup(e.pml4, a, &size);
		assert_int_equal(leaf & EPT_ADDR_MASK, a & ~(size - 1));
		assert_int_equal(leaf & (EPT_RWX | EPT_MT_MASK), EPT_RWX | EPT_MT_WB);
	}
	/* The old page writable again, where it was (4K already: no new table). */
	free_before = pool_free_bytes(&e.pool);
	assert_int_equal(ept_identity_set_trap(e.pml4, &e.pool, TRAP_PAGE, false), 0);
	assert_int_equal(pool_free_bytes(&e.pool), free_before);
	leaf = ept_identity_lookup(e.pml4, TRAP_PAGE, &size);
	assert_int_equal(leaf, TRAP_PAGE | EPT_RWX | EPT_MT_UC);
	/* A dry pool refuses a split and changes nothing. */
	while (pool_alloc_page(&e.pool))
		;
	assert_int_equal(ept_identity_set_trap(e.pml4, &e.pool, 5 * G1, true), -1);
	leaf = ept_identity_lookup(e.pml4, 5 * G1, &size);
	assert_int_equal(size, G1);
	assert_int_equal(leaf & EPT_RWX, EPT_RWX);
	destroy(&e);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_1g_2m),
		cmocka_unit_test(test_2m_only),
		cmocka_unit_test(test_1g_only),
		cmocka_unit_test(test_4k_only),
		cmocka_unit_test(test_small_top),
		cmocka_unit_test(test_hidden_all_dummy),
		cmocka_unit_test(test_pool_exhaustion),
		cmocka_unit_test(test_move_trap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
