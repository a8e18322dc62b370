/*
 * Host tests for per-guest EPT hierarchies.  Tables come from a real pool in
 * host memory (entry addresses are host pointers; mapped "host-physical"
 * addresses are just numbers).  Fixed cases pin down leaf sizes, table
 * counts, splits, merges and all-or-nothing failure; random sequences are
 * checked against a page-by-page model, including the exact number of tables
 * the canonical (largest leaves, no empty tables) form of the model needs.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <setjmp.h>
#include <cmocka.h>

#include "ept/ept.h"
#include "ept/ept_identity.h"

#define K4		0x1000ull
#define M2		0x200000ull
#define G1		0x40000000ull
#define PAGES_2M	(M2 / K4)
#define PAGES_1G	(G1 / K4)

#define RWX		(EPT_PERM_R | EPT_PERM_W | EPT_PERM_X)
#define PERM_ALL	(RWX | EPT_PERM_UX)
#define EPT_MT_MASK	(7ull << 3)

#define HOST_OFF	(32 * G1)	/* the usual gpa -> hpa offset: keeps 1G alignment */
#define LEAVES_ALL	(EPT_LEAF_2M | EPT_LEAF_1G)

/*
 * What a caller does: the change, then, once every CPU that may cache the old
 * tables has synced (here: at once), the pages it took out go back to the pool.
 */
static int
t_map(struct ept *e, uint64_t gpa, uint64_t hpa, uint64_t size, unsigned perms)
{
	int rc = ept_map(e, gpa, hpa, size, perms);

	ept_free_pending(e, e->generation);
	return rc;
}

static int
t_unmap(struct ept *e, uint64_t gpa, uint64_t size)
{
	int rc = ept_unmap(e, gpa, size);

	ept_free_pending(e, e->generation);
	return rc;
}

static int
t_protect(struct ept *e, uint64_t gpa, uint64_t size, unsigned perms)
{
	int rc = ept_protect(e, gpa, size, perms);

	ept_free_pending(e, e->generation);
	return rc;
}

struct env {
	struct pool pool;
	void *mem;
	size_t free0;		/* pool pages free before ept_init */
	struct ept e;
	uint64_t *held;		/* pages taken to starve the pool, linked through word 0 */
};

static size_t
pool_free(struct env *v)
{
	return pool_free_bytes(&v->pool) / PAGE_SIZE;
}

/* Pages the EPT holds, by the pool's count. */
static uint64_t
taken(struct env *v)
{
	return v->free0 - pool_free(v);
}

/* An EPT that may build the large leaves in 'leaves' (EPT_LEAF_*). */
static void
env_init_leaves(struct env *v, size_t pool_pages, uint64_t limit, unsigned leaves)
{
	size_t size = (pool_pages + 1) * PAGE_SIZE;	/* + the pool's bitmap */

	v->mem = aligned_alloc(PAGE_SIZE, size);
	assert_non_null(v->mem);
	assert_int_equal(pool_init(&v->pool, v->mem, size), 0);
	v->free0 = pool_free(v);
	v->held = NULL;
	assert_int_equal(ept_init(&v->e, &v->pool, limit, leaves), 0);
	assert_int_equal(v->e.table_pages, 1);
	assert_int_equal(taken(v), 1);
}

/* The usual CPU: 2 MiB and 1 GiB EPT pages. */
static void
env_init(struct env *v, size_t pool_pages, uint64_t limit)
{
	env_init_leaves(v, pool_pages, limit, LEAVES_ALL);
}

static void
env_fini(struct env *v)
{
	ept_destroy(&v->e);
	assert_int_equal(pool_free(v), v->free0);
	free(v->mem);
}

/* Leaves the pool exactly 'left' free pages. */
static void
starve(struct env *v, size_t left)
{
	while (pool_free(v) > left) {
		uint64_t *p = pool_alloc_page(&v->pool);

		assert_non_null(p);
		p[0] = (uintptr_t)v->held;
		v->held = p;
	}
	assert_int_equal(pool_free(v), left);
}

static void
unstarve(struct env *v)
{
	while (v->held) {
		uint64_t *p = v->held;

		v->held = (uint64_t *)(uintptr_t)p[0];
		pool_free_pages(&v->pool, p, 1);
	}
}

/* gpa maps to hpa with perms in a page of page_size. */
static void
expect(struct env *v, uint64_t gpa, uint64_t hpa, unsigned perms, uint64_t page_size)
{
	uint64_t h = 0, sz = 0;
	unsigned p = 0;

	assert_int_equal(ept_lookup(&v->e, gpa, &h, &p, &sz), 0);
	assert_int_equal(h, hpa);
	assert_int_equal(p, perms);
	assert_int_equal(sz, page_size);
}

static void
expect_none(struct env *v, uint64_t gpa)
{
	uint64_t h, sz;
	unsigned p;

	assert_int_equal(ept_lookup(&v->e, gpa, &h, &p, &sz), -1);
}

/* ---- fixed cases ---- */

static void
test_init_destroy(void **state)
{
	struct env v;
	struct ept e;

	(void)state;
	env_init(&v, 16, 8 * G1);
	expect_none(&v, 0);
	expect_none(&v, 8 * G1);
	assert_int_equal(v.e.generation, 0);
	env_fini(&v);

	env_init(&v, 16, 1ull << 48);
	assert_int_equal(ept_init(&e, &v.pool, (1ull << 48) + PAGE_SIZE, LEAVES_ALL), -1);
	assert_int_equal(ept_init(&e, &v.pool, G1 + 1, LEAVES_ALL), -1);
	starve(&v, 0);
	assert_int_equal(ept_init(&e, &v.pool, G1, LEAVES_ALL), -1);
	unstarve(&v);
	env_fini(&v);
}

static void
test_invalid_args(void **state)
{
	static const unsigned bad_perms[] = {
		0, EPT_PERM_W, EPT_PERM_W | EPT_PERM_X, EPT_PERM_W | EPT_PERM_UX,
		0x8, 0x80, 0x100, 0x800, RWX | 0x1000, 0x80000000u,
	};
	const uint64_t lim = 8 * G1, top = ~0ull & ~PAGE_MASK;
	struct env v;
	uint64_t taken0;

	(void)state;
	env_init(&v, 64, lim);
	assert_int_equal(t_map(&v.e, 0, HOST_OFF, G1, RWX), 0);
	taken0 = taken(&v);

	/* Alignment, size 0, wrap-around, beyond the limit. */
	assert_int_equal(t_map(&v.e, G1 + 8, HOST_OFF, K4, RWX), -EPT_EINVAL);
	assert_int_equal(t_map(&v.e, G1, HOST_OFF + 8, K4, RWX), -EPT_EINVAL);
	assert_int_equal(t_map(&v.e, G1, HOST_OFF, K4 + 8, RWX), -EPT_EINVAL);
	assert_int_equal(t_map(&v.e, G1, HOST_OFF, 0, RWX), -EPT_EINVAL);
	assert_int_equal(t_map(&v.e, top, HOST_OFF, 2 * K4, RWX), -EPT_EINVAL);
	assert_int_equal(t_map(&v.e, lim - K4, HOST_OFF, 2 * K4, RWX), -EPT_EINVAL);
	assert_int_equal(t_map(&v.e, lim, HOST_OFF, K4, RWX), -EPT_EINVAL);
	/* Host addresses past 52 bits, or wrapping. */
	assert_int_equal(t_map(&v.e, G1, (1ull << 52) - K4, 2 * K4, RWX), -EPT_EINVAL);
	assert_int_equal(t_map(&v.e, G1, top, 2 * K4, RWX), -EPT_EINVAL);
	for (size_t i = 0; i < sizeof(bad_perms) / sizeof(bad_perms[0]); i++) {
		assert_int_equal(t_map(&v.e, G1, HOST_OFF, K4, bad_perms[i]), -EPT_EINVAL);
		assert_int_equal(t_protect(&v.e, 0, K4, bad_perms[i]), -EPT_EINVAL);
	}

	assert_int_equal(t_unmap(&v.e, 8, K4), -EPT_EINVAL);
	assert_int_equal(t_unmap(&v.e, 0, K4 - 1), -EPT_EINVAL);
	assert_int_equal(t_unmap(&v.e, 0, 0), -EPT_EINVAL);
	assert_int_equal(t_unmap(&v.e, top, 2 * K4), -EPT_EINVAL);
	assert_int_equal(t_unmap(&v.e, 0, lim + K4), -EPT_EINVAL);
	assert_int_equal(t_protect(&v.e, K4, 8, EPT_PERM_R), -EPT_EINVAL);
	assert_int_equal(t_protect(&v.e, 0, 0, EPT_PERM_R), -EPT_EINVAL);
	assert_int_equal(t_protect(&v.e, top, 2 * K4, EPT_PERM_R), -EPT_EINVAL);
	assert_int_equal(t_protect(&v.e, lim - K4, 2 * K4, EPT_PERM_R), -EPT_EINVAL);

	/* Nothing changed. */
	expect(&v, 0, HOST_OFF, RWX, G1);
	expect_none(&v, G1);
	assert_int_equal(taken(&v), taken0);
	assert_int_equal(v.e.table_pages, taken0);
	assert_int_equal(v.e.generation, 0);

	/* The last page below the limit, and every allowed perm set, are fine. */
	assert_int_equal(t_map(&v.e, lim - K4, 0, K4, EPT_PERM_X), 0);
	expect(&v, lim - K4, 0, EPT_PERM_X, K4);
	assert_int_equal(t_protect(&v.e, lim - K4, K4, EPT_PERM_UX), 0);
	expect(&v, lim - K4, 0, EPT_PERM_UX, K4);
	assert_int_equal(t_protect(&v.e, lim - K4, K4, EPT_PERM_R | EPT_PERM_UX), 0);
	expect(&v, lim - K4, 0, EPT_PERM_R | EPT_PERM_UX, K4);
	assert_int_equal(t_protect(&v.e, lim - K4, K4, PERM_ALL), 0);
	expect(&v, lim - K4, 0, PERM_ALL, K4);
	env_fini(&v);
}

static void
test_lookup_offsets(void **state)
{
	struct env v;

	(void)state;
	env_init(&v, 64, 1ull << 48);
	assert_int_equal(t_map(&v.e, 3 * G1, HOST_OFF, G1, RWX), 0);
	assert_int_equal(t_map(&v.e, 5 * M2, HOST_OFF + 7 * M2, M2, EPT_PERM_R), 0);
	assert_int_equal(t_map(&v.e, 0x5000, 0xabc000, K4, EPT_PERM_R | EPT_PERM_W), 0);
	expect(&v, 3 * G1 + 0x12345678, HOST_OFF + 0x12345678, RWX, G1);
	expect(&v, 5 * M2 + 0x1ff123, HOST_OFF + 7 * M2 + 0x1ff123, EPT_PERM_R, M2);
	expect(&v, 0x5fff, 0xabcfff, EPT_PERM_R | EPT_PERM_W, K4);
	expect_none(&v, 0x4fff);
	expect_none(&v, 0x6000);
	expect_none(&v, 4 * G1);

	/* The top of a 256 TiB space needs its own PDPT, PD and PT. */
	assert_int_equal(t_map(&v.e, (1ull << 48) - K4, 0x1000, K4, RWX), 0);
	expect(&v, (1ull << 48) - 1, 0x1fff, RWX, K4);
	assert_int_equal(v.e.table_pages, 2 + 2 + 3);
	assert_int_equal(taken(&v), 7);
	expect_none(&v, 1ull << 48);
	env_fini(&v);
}

/* The README's table: tables for a 4K, 2M, 1G and 1G-of-scattered-4K map. */
static void
test_table_counts(void **state)
{
	struct env v;

	(void)state;
	env_init(&v, 1024, 8 * G1);
	assert_int_equal(t_map(&v.e, 5 * G1, HOST_OFF, K4, RWX), 0);
	assert_int_equal(v.e.table_pages, 4);	/* PML4, PDPT, PD, PT */
	assert_int_equal(t_unmap(&v.e, 0, 8 * G1), 0);
	assert_int_equal(v.e.table_pages, 1);

	assert_int_equal(t_map(&v.e, 5 * G1 + 3 * M2, HOST_OFF + M2, M2, RWX), 0);
	assert_int_equal(v.e.table_pages, 3);	/* PML4, PDPT, PD */
	expect(&v, 5 * G1 + 3 * M2, HOST_OFF + M2, RWX, M2);
	assert_int_equal(t_unmap(&v.e, 0, 8 * G1), 0);

	assert_int_equal(t_map(&v.e, 5 * G1, HOST_OFF, G1, RWX), 0);
	assert_int_equal(v.e.table_pages, 2);	/* PML4, PDPT */
	expect(&v, 5 * G1, HOST_OFF, RWX, G1);
	assert_int_equal(t_unmap(&v.e, 0, 8 * G1), 0);

	/* Every page somewhere else: PML4, PDPT, PD and 512 PTs. */
	for (uint64_t i = 0; i < PAGES_1G; i++)
		assert_int_equal(t_map(&v.e, 5 * G1 + i * K4, HOST_OFF + (i ^ 1) * K4, K4, RWX),
				 0);
	assert_int_equal(v.e.table_pages, 3 + 512);
	assert_int_equal(taken(&v), 515);
	expect(&v, 5 * G1, HOST_OFF + K4, RWX, K4);
	expect(&v, 6 * G1 - K4, HOST_OFF + G1 - 2 * K4, RWX, K4);
	assert_int_equal(t_unmap(&v.e, 5 * G1, G1), 0);
	assert_int_equal(v.e.table_pages, 1);
	assert_int_equal(taken(&v), 1);
	env_fini(&v);
}

/* Leaves are as large as the common alignment of gpa and hpa allows. */
static void
test_alignment(void **state)
{
	struct env v;

	(void)state;
	env_init(&v, 1024, 8 * G1);
	assert_int_equal(t_map(&v.e, G1, HOST_OFF + M2, G1, RWX), 0);
	assert_int_equal(v.e.table_pages, 3);
	expect(&v, G1, HOST_OFF + M2, RWX, M2);
	expect(&v, 2 * G1 - K4, HOST_OFF + M2 + G1 - K4, RWX, M2);
	assert_int_equal(t_unmap(&v.e, G1, G1), 0);

	assert_int_equal(t_map(&v.e, G1, HOST_OFF + K4, G1, RWX), 0);
	assert_int_equal(v.e.table_pages, 3 + 512);
	expect(&v, G1 + M2, HOST_OFF + K4 + M2, RWX, K4);
	assert_int_equal(t_unmap(&v.e, G1, G1), 0);
	assert_int_equal(v.e.table_pages, 1);

	/* [1G - 4K, 2G + 2M + 4K): a 4K, a 1G, a 2M and a 4K leaf. */
	assert_int_equal(t_map(&v.e, G1 - K4, HOST_OFF - K4, G1 + M2 + 2 * K4, RWX), 0);
	expect(&v, G1 - K4, HOST_OFF - K4, RWX, K4);
	expect(&v, G1, HOST_OFF, RWX, G1);
	expect(&v, 2 * G1, HOST_OFF + G1, RWX, M2);
	expect(&v, 2 * G1 + M2, HOST_OFF + G1 + M2, RWX, K4);
	expect_none(&v, G1 - 2 * K4);
	expect_none(&v, 2 * G1 + M2 + K4);
	assert_int_equal(v.e.table_pages, 2 + 2 + 2);	/* + PD, PT at 0 and at 2G */
	env_fini(&v);
}

/* A CPU whose EPT has no large pages: aligned contiguous ranges get 4 KiB leaves only. */
/*
 * hv_vm_map asks whether its whole range is free before anything else: on a CPU
 * without large EPT pages, 128 TiB once took 2^35 steps in VMX root (minutes, the
 * VM locked). It takes as long as the tables there are.
 */
static void
test_range_unmapped_huge(void **state)
{
	struct env v;

	(void)state;
	env_init_leaves(&v, 64, 1ull << 48, 0);
	assert_int_equal(ept_map(&v.e, 5 * G1 + 3 * K4, HOST_OFF + 3 * K4, K4, RWX), 0);
	assert_true(ept_range_unmapped(&v.e, 6 * G1, (1ull << 47) + K4));
	assert_true(ept_range_unmapped(&v.e, 0, 5 * G1 + 3 * K4));
	assert_false(ept_range_unmapped(&v.e, K4, (1ull << 48) - K4));
	assert_false(ept_range_unmapped(&v.e, 5 * G1 + 3 * K4, K4));
	env_fini(&v);
}

static void
test_leaves_4k_only(void **state)
{
	struct env v;

	(void)state;
	env_init_leaves(&v, 1024, 8 * G1, 0);
	assert_int_equal(t_map(&v.e, G1, HOST_OFF + G1, G1, RWX), 0);
	assert_int_equal(v.e.table_pages, 3 + 512);	/* PML4, PDPT, PD, 512 PTs */
	expect(&v, G1, HOST_OFF + G1, RWX, K4);
	expect(&v, G1 + 7 * M2 + 0x1234, HOST_OFF + G1 + 7 * M2 + 0x1234, RWX, K4);
	expect(&v, 2 * G1 - K4, HOST_OFF + 2 * G1 - K4, RWX, K4);
	/* Narrow and restore: no table folds into a leaf. */
	assert_int_equal(t_protect(&v.e, G1 + 5 * K4, K4, EPT_PERM_R), 0);
	assert_int_equal(t_protect(&v.e, G1 + 5 * K4, K4, RWX), 0);
	assert_int_equal(v.e.table_pages, 3 + 512);
	expect(&v, G1 + 5 * K4, HOST_OFF + G1 + 5 * K4, RWX, K4);
	/* Filling a 2 MiB hole page by page: still 4 KiB leaves. */
	assert_int_equal(t_map(&v.e, 4 * G1, HOST_OFF, M2 - K4, RWX), 0);
	assert_int_equal(t_map(&v.e, 4 * G1 + M2 - K4, HOST_OFF + M2 - K4, K4, RWX), 0);
	expect(&v, 4 * G1, HOST_OFF, RWX, K4);
	assert_int_equal(v.e.table_pages, 3 + 512 + 2);
	assert_int_equal(taken(&v), v.e.table_pages);
	assert_int_equal(t_unmap(&v.e, 0, 8 * G1), 0);
	assert_int_equal(v.e.table_pages, 1);
	env_fini(&v);

	/* 1 GiB alone is not used either: a split 1 GiB page would be 2 MiB pages. */
	env_init_leaves(&v, 1024, 8 * G1, EPT_LEAF_1G);
	assert_int_equal(t_map(&v.e, G1, HOST_OFF + G1, G1, RWX), 0);
	expect(&v, G1, HOST_OFF + G1, RWX, K4);
	env_fini(&v);
}

/* 2 MiB pages but no 1 GiB ones: a 1 GiB range is 512 2 MiB leaves, and they never merge. */
static void
test_leaves_2m_only(void **state)
{
	struct env v;

	(void)state;
	env_init_leaves(&v, 1024, 8 * G1, EPT_LEAF_2M);
	assert_int_equal(t_map(&v.e, G1, HOST_OFF + G1, G1, RWX), 0);
	assert_int_equal(v.e.table_pages, 3);	/* PML4, PDPT, PD */
	expect(&v, G1, HOST_OFF + G1, RWX, M2);
	expect(&v, 2 * G1 - K4, HOST_OFF + 2 * G1 - K4, RWX, M2);
	/* A split and its merge stop at 2 MiB. */
	assert_int_equal(t_protect(&v.e, G1 + 5 * K4, K4, EPT_PERM_R), 0);
	assert_int_equal(v.e.table_pages, 4);
	expect(&v, G1 + 6 * K4, HOST_OFF + G1 + 6 * K4, RWX, K4);
	assert_int_equal(t_protect(&v.e, G1 + 5 * K4, K4, RWX), 0);
	assert_int_equal(v.e.table_pages, 3);
	expect(&v, G1 + 5 * K4, HOST_OFF + G1 + 5 * K4, RWX, M2);
	/* Two halves mapped apart do not merge into 1 GiB. */
	assert_int_equal(t_map(&v.e, 4 * G1, HOST_OFF, G1 / 2, RWX), 0);
	assert_int_equal(t_map(&v.e, 4 * G1 + G1 / 2, HOST_OFF + G1 / 2, G1 / 2, RWX), 0);
	expect(&v, 4 * G1, HOST_OFF, RWX, M2);
	assert_int_equal(v.e.table_pages, 4);
	env_fini(&v);
}

static void
test_map_existing(void **state)
{
	struct env v;
	uint64_t taken0;

	(void)state;
	env_init(&v, 64, 8 * G1);
	assert_int_equal(t_map(&v.e, G1, HOST_OFF, G1, RWX), 0);
	assert_int_equal(t_map(&v.e, 3 * G1, HOST_OFF + 8 * G1, K4, EPT_PERM_R), 0);
	taken0 = taken(&v);

	/* Inside a 1G leaf, overlapping its last page, overlapping a 4K leaf. */
	assert_int_equal(t_map(&v.e, G1 + 5 * M2 + K4, 0, K4, RWX), -EPT_EEXIST);
	assert_int_equal(t_map(&v.e, 0, 0, G1 + K4, RWX), -EPT_EEXIST);
	assert_int_equal(t_map(&v.e, 2 * G1 + M2, HOST_OFF, G1, RWX), -EPT_EEXIST);
	assert_false(ept_range_unmapped(&v.e, G1 + 5 * M2 + K4, K4));
	assert_false(ept_range_unmapped(&v.e, 0, G1 + K4));
	assert_false(ept_range_unmapped(&v.e, 0, 0));
	assert_false(ept_range_unmapped(&v.e, 3 * G1, K4));
	assert_true(ept_range_unmapped(&v.e, 0, G1));
	assert_true(ept_range_unmapped(&v.e, 3 * G1 + K4, G1 - K4));
	assert_int_equal(t_map(&v.e, 3 * G1, HOST_OFF + 8 * G1, K4, EPT_PERM_R), -EPT_EEXIST);
	assert_int_equal(t_map(&v.e, 2 * G1, HOST_OFF, 2 * G1, RWX), -EPT_EEXIST);

	assert_int_equal(taken(&v), taken0);
	assert_int_equal(v.e.table_pages, taken0);
	assert_int_equal(v.e.generation, 0);
	expect(&v, G1, HOST_OFF, RWX, G1);
	expect(&v, 3 * G1, HOST_OFF + 8 * G1, EPT_PERM_R, K4);
	expect_none(&v, 0);
	expect_none(&v, 2 * G1 + M2);
	expect_none(&v, 3 * G1 + K4);
	env_fini(&v);
}

static void
test_holes(void **state)
{
	struct env v;

	(void)state;
	env_init(&v, 64, 8 * G1);
	assert_int_equal(t_unmap(&v.e, 0, 8 * G1), 0);
	assert_int_equal(t_protect(&v.e, 0, 8 * G1, EPT_PERM_R), 0);
	assert_int_equal(t_unmap(&v.e, 3 * K4, K4), 0);
	assert_int_equal(v.e.table_pages, 1);
	assert_int_equal(v.e.generation, 0);

	/* Holes on both sides and between two mappings. */
	assert_int_equal(t_map(&v.e, M2, HOST_OFF, K4, RWX), 0);
	assert_int_equal(t_map(&v.e, G1, HOST_OFF + G1, G1, RWX), 0);
	assert_int_equal(t_protect(&v.e, 0, 4 * G1, EPT_PERM_R), 0);
	expect(&v, M2, HOST_OFF, EPT_PERM_R, K4);
	expect(&v, G1 + K4, HOST_OFF + G1 + K4, EPT_PERM_R, G1);
	expect_none(&v, 0);
	expect_none(&v, 2 * G1);
	assert_int_equal(v.e.generation, 1);
	assert_int_equal(t_unmap(&v.e, 0, 4 * G1), 0);
	assert_int_equal(v.e.generation, 2);
	assert_int_equal(v.e.table_pages, 1);
	assert_int_equal(taken(&v), 1);
	expect_none(&v, M2);
	expect_none(&v, G1);
	env_fini(&v);
}

/* Protecting one page of a 1G leaf splits it; restoring the perms folds it back. */
static void
test_split_merge_protect(void **state)
{
	const uint64_t page = G1 + 3 * M2 + 5 * K4;
	struct env v;

	(void)state;
	env_init(&v, 64, 8 * G1);
	assert_int_equal(t_map(&v.e, G1, HOST_OFF, G1, RWX), 0);
	assert_int_equal(v.e.table_pages, 2);

	assert_int_equal(t_protect(&v.e, page, K4, EPT_PERM_R), 0);
	assert_int_equal(v.e.table_pages, 4);	/* + PD of 2M leaves, PT of 4K leaves */
	assert_int_equal(taken(&v), 4);
	assert_int_equal(v.e.generation, 1);
	expect(&v, page, HOST_OFF + 3 * M2 + 5 * K4, EPT_PERM_R, K4);
	expect(&v, page - K4, HOST_OFF + 3 * M2 + 4 * K4, RWX, K4);
	expect(&v, page + K4, HOST_OFF + 3 * M2 + 6 * K4, RWX, K4);
	expect(&v, G1 + 3 * M2, HOST_OFF + 3 * M2, RWX, K4);
	expect(&v, G1 + 2 * M2, HOST_OFF + 2 * M2, RWX, M2);
	expect(&v, G1 + 4 * M2, HOST_OFF + 4 * M2, RWX, M2);
	expect(&v, 2 * G1 - K4, HOST_OFF + G1 - K4, RWX, M2);

	/* Gaining perms needs no INVEPT, but the page size changes back. */
	assert_int_equal(t_protect(&v.e, page, K4, RWX), 0);
	assert_int_equal(v.e.table_pages, 2);
	assert_int_equal(taken(&v), 2);
	assert_int_equal(v.e.generation, 2);
	expect(&v, page, HOST_OFF + 3 * M2 + 5 * K4, RWX, G1);

	/* The same perms over part of a leaf: nothing to split, nothing to flush. */
	assert_int_equal(t_protect(&v.e, page, K4, RWX), 0);
	assert_int_equal(v.e.table_pages, 2);
	assert_int_equal(v.e.generation, 2);
	/* Gaining perms on part of a leaf still changes its page size. */
	assert_int_equal(t_protect(&v.e, page, K4, PERM_ALL), 0);
	assert_int_equal(v.e.table_pages, 4);
	assert_int_equal(v.e.generation, 3);
	expect(&v, page, HOST_OFF + 3 * M2 + 5 * K4, PERM_ALL, K4);
	assert_int_equal(t_protect(&v.e, page, K4, RWX), 0);
	assert_int_equal(v.e.table_pages, 2);
	assert_int_equal(v.e.generation, 4);

	/* A whole 2M leaf inside: only the PD. */
	assert_int_equal(t_protect(&v.e, G1 + 4 * M2, M2, EPT_PERM_R | EPT_PERM_X), 0);
	assert_int_equal(v.e.table_pages, 3);
	expect(&v, G1 + 4 * M2, HOST_OFF + 4 * M2, EPT_PERM_R | EPT_PERM_X, M2);
	/* Uniform perms over the whole 1G fold it back. */
	assert_int_equal(t_protect(&v.e, G1, G1, PERM_ALL), 0);
	assert_int_equal(v.e.table_pages, 2);
	expect(&v, G1 + 4 * M2, HOST_OFF + 4 * M2, PERM_ALL, G1);
	env_fini(&v);
}

/* Unmapping part of a large leaf splits it; emptied tables go back to the pool. */
static void
test_split_unmap(void **state)
{
	struct env v;

	(void)state;
	env_init(&v, 64, 8 * G1);
	assert_int_equal(t_map(&v.e, G1, HOST_OFF, G1, RWX), 0);
	assert_int_equal(t_unmap(&v.e, G1 + M2 - K4, 2 * K4), 0);
	assert_int_equal(v.e.table_pages, 2 + 1 + 2);	/* PD, two PTs */
	assert_int_equal(v.e.generation, 1);
	expect_none(&v, G1 + M2 - K4);
	expect_none(&v, G1 + M2);
	expect(&v, G1 + M2 - 2 * K4, HOST_OFF + M2 - 2 * K4, RWX, K4);
	expect(&v, G1 + M2 + K4, HOST_OFF + M2 + K4, RWX, K4);
	expect(&v, G1 + 2 * M2, HOST_OFF + 2 * M2, RWX, M2);

	/* Remapping the hole as it was folds everything back. */
	assert_int_equal(t_map(&v.e, G1 + M2 - K4, HOST_OFF + M2 - K4, 2 * K4, RWX), 0);
	assert_int_equal(v.e.table_pages, 2);
	assert_int_equal(v.e.generation, 2);
	expect(&v, G1 + M2, HOST_OFF + M2, RWX, G1);

	assert_int_equal(t_unmap(&v.e, G1 + 7 * M2, M2), 0);
	assert_int_equal(v.e.table_pages, 3);
	assert_int_equal(t_unmap(&v.e, G1, 7 * M2), 0);
	assert_int_equal(v.e.table_pages, 3);
	assert_int_equal(t_unmap(&v.e, G1 + 8 * M2, G1 - 8 * M2), 0);
	assert_int_equal(v.e.table_pages, 1);	/* the PD and PDPT emptied */
	assert_int_equal(taken(&v), 1);
	expect_none(&v, G1);
	env_fini(&v);
}

/* Filling a table piece by piece folds it into one leaf at the last piece. */
static void
test_merge_incremental(void **state)
{
	struct env v;

	(void)state;
	env_init(&v, 64, 8 * G1);
	for (uint64_t i = PAGES_2M; i-- > 1;)
		assert_int_equal(t_map(&v.e, 2 * G1 + i * K4, HOST_OFF + i * K4, K4, RWX), 0);
	assert_int_equal(v.e.table_pages, 4);
	assert_int_equal(v.e.generation, 0);
	assert_int_equal(t_map(&v.e, 2 * G1, HOST_OFF, K4, RWX), 0);
	assert_int_equal(v.e.table_pages, 3);
	assert_int_equal(v.e.generation, 1);	/* 4K -> 2M */
	expect(&v, 2 * G1 + K4, HOST_OFF + K4, RWX, M2);

	/* 2M pages 1 to 510 of the 1G. */
	for (uint64_t i = 1; i < G1 / M2 - 1; i++)
		assert_int_equal(t_map(&v.e, 2 * G1 + i * M2, HOST_OFF + i * M2, M2, RWX), 0);
	assert_int_equal(v.e.table_pages, 3);
	/* The last 2M as 4K pages: PT, then 2M, then 1G. */
	assert_int_equal(t_map(&v.e, 3 * G1 - M2, HOST_OFF + G1 - M2, M2 - K4, RWX), 0);
	assert_int_equal(v.e.table_pages, 4);
	assert_int_equal(t_map(&v.e, 3 * G1 - K4, HOST_OFF + G1 - K4, K4, RWX), 0);
	assert_int_equal(v.e.table_pages, 2);
	assert_int_equal(taken(&v), 2);
	expect(&v, 3 * G1 - K4, HOST_OFF + G1 - K4, RWX, G1);

	/* Contiguous but not 1G aligned in host memory: stays 2M leaves. */
	assert_int_equal(t_map(&v.e, 3 * G1, HOST_OFF + G1 + M2, G1 - M2, RWX), 0);
	assert_int_equal(t_map(&v.e, 4 * G1 - M2, HOST_OFF + 2 * G1, M2, RWX), 0);
	assert_int_equal(v.e.table_pages, 3);
	expect(&v, 3 * G1, HOST_OFF + G1 + M2, RWX, M2);
	/* Different perms in one 2M leaf out of 512: no 1G leaf. */
	assert_int_equal(t_map(&v.e, 5 * G1, HOST_OFF, G1 - M2, RWX), 0);
	assert_int_equal(t_map(&v.e, 6 * G1 - M2, HOST_OFF + G1 - M2, M2, EPT_PERM_R), 0);
	assert_int_equal(v.e.table_pages, 4);
	env_fini(&v);
}

/* ENOMEM: the pool one page short fails with nothing changed; exactly enough succeeds. */
static void
test_enomem_map(void **state)
{
	struct env v;

	(void)state;
	env_init(&v, 64, 8 * G1);
	assert_int_equal(t_map(&v.e, 0, HOST_OFF, K4, RWX), 0);
	/* [2M + 4K, 4G + 2M + 4K): a PT at 2M; 2M leaves; 1G leaves; a PD and a PT at 4G. */
	for (size_t left = 0; left < 3; left++) {
		starve(&v, left);
		assert_int_equal(t_map(&v.e, M2 + K4, HOST_OFF + M2 + K4, 4 * G1, RWX),
				 -EPT_ENOMEM);
		assert_int_equal(pool_free(&v), left);
		unstarve(&v);
		assert_int_equal(v.e.table_pages, 4);
		assert_int_equal(taken(&v), 4);
		assert_int_equal(v.e.generation, 0);
		expect(&v, 0, HOST_OFF, RWX, K4);
		expect_none(&v, M2 + K4);
		expect_none(&v, G1);
		expect_none(&v, 4 * G1);
	}
	starve(&v, 3);
	assert_int_equal(t_map(&v.e, M2 + K4, HOST_OFF + M2 + K4, 4 * G1, RWX), 0);
	assert_int_equal(pool_free(&v), 0);
	unstarve(&v);
	assert_int_equal(v.e.table_pages, 7);
	assert_int_equal(taken(&v), 7);
	expect(&v, M2 + K4, HOST_OFF + M2 + K4, RWX, K4);
	expect(&v, 2 * M2, HOST_OFF + 2 * M2, RWX, M2);
	expect(&v, G1, HOST_OFF + G1, RWX, G1);
	expect(&v, 4 * G1, HOST_OFF + 4 * G1, RWX, M2);
	expect(&v, 4 * G1 + M2, HOST_OFF + 4 * G1 + M2, RWX, K4);
	expect_none(&v, 4 * G1 + M2 + K4);
	env_fini(&v);
}

static void
test_enomem_protect(void **state)
{
	const uint64_t page = G1 + 3 * M2 + 5 * K4;
	struct env v;

	(void)state;
	env_init(&v, 64, 8 * G1);
	assert_int_equal(t_map(&v.e, G1, HOST_OFF, G1, RWX), 0);
	for (size_t left = 0; left < 2; left++) {
		starve(&v, left);
		assert_int_equal(t_protect(&v.e, page, K4, EPT_PERM_R), -EPT_ENOMEM);
		assert_int_equal(pool_free(&v), left);
		unstarve(&v);
		assert_int_equal(v.e.table_pages, 2);
		assert_int_equal(taken(&v), 2);
		assert_int_equal(v.e.generation, 0);
		expect(&v, page, HOST_OFF + 3 * M2 + 5 * K4, RWX, G1);
	}
	/* Perms it already has need no split, so no memory. */
	starve(&v, 0);
	assert_int_equal(t_protect(&v.e, page, K4, RWX), 0);
	unstarve(&v);
	starve(&v, 2);
	assert_int_equal(t_protect(&v.e, page, K4, EPT_PERM_R), 0);
	assert_int_equal(pool_free(&v), 0);
	unstarve(&v);
	assert_int_equal(v.e.table_pages, 4);
	expect(&v, page, HOST_OFF + 3 * M2 + 5 * K4, EPT_PERM_R, K4);
	env_fini(&v);
}

/* Pages a caller holds with ept_reserve serve its own unmaps with the pool dry, nothing else. */
static void
test_reserve(void **state)
{
	struct env v;
	uint64_t *res = NULL, *other = NULL;

	(void)state;
	env_init(&v, 64, 8 * G1);
	assert_int_equal(t_map(&v.e, 0, HOST_OFF, G1, RWX), 0);
	starve(&v, 1);
	assert_int_equal(ept_reserve(&v.e, &res, 2), -EPT_ENOMEM);
	assert_null(res);
	assert_int_equal(pool_free(&v), 1);	/* the page it took came back */
	unstarve(&v);
	assert_int_equal(ept_reserve(&v.e, &res, 2), 0);
	assert_int_equal(ept_reserve(&v.e, &other, 1), 0);
	assert_int_equal(taken(&v), 2 + 3);	/* root, PDPT, three held */
	starve(&v, 0);
	assert_int_equal(t_map(&v.e, G1 + K4, HOST_OFF + G1 + K4, K4, RWX), -EPT_ENOMEM);
	assert_int_equal(t_protect(&v.e, K4, K4, EPT_PERM_R), -EPT_ENOMEM);
	assert_int_equal(t_unmap(&v.e, G1 - K4, K4), -EPT_ENOMEM);	/* no reserve named */
	/* Another caller's single page is not enough, and stays with it. */
	assert_int_equal(ept_unmap_reserved(&v.e, G1 - K4, K4, &other), -EPT_ENOMEM);
	assert_non_null(other);
	expect(&v, K4, HOST_OFF + K4, RWX, G1);
	/* 1 GiB leaf to 4 KiB: a PD and a PT, both from the reserve. */
	assert_int_equal(ept_unmap_reserved(&v.e, G1 - K4, K4, &res), 0);
	assert_null(res);
	assert_int_equal(pool_free(&v), 0);
	expect_none(&v, G1 - K4);
	expect(&v, G1 - 2 * K4, HOST_OFF + G1 - 2 * K4, RWX, K4);
	expect(&v, 0, HOST_OFF, RWX, M2);
	assert_int_equal(v.e.table_pages, 4);
	unstarve(&v);
	/* A release with nothing held is harmless. */
	ept_release(&v.e, &res);
	ept_release(&v.e, &other);
	assert_null(other);
	assert_int_equal(taken(&v), 4);
	assert_int_equal(ept_reserve(&v.e, &res, 3), 0);
	assert_int_equal(taken(&v), 4 + 3);
	ept_release(&v.e, &res);
	assert_int_equal(taken(&v), 4);
	env_fini(&v);
}

static void
test_enomem_unmap(void **state)
{
	struct env v;

	(void)state;
	env_init(&v, 64, 8 * G1);
	assert_int_equal(t_map(&v.e, 0, HOST_OFF, 2 * G1, RWX), 0);
	/* Both ends inside 1G leaves: two PDs and two PTs. */
	for (size_t left = 0; left < 4; left++) {
		starve(&v, left);
		assert_int_equal(t_unmap(&v.e, G1 - K4, 2 * K4), -EPT_ENOMEM);
		assert_int_equal(pool_free(&v), left);
		unstarve(&v);
		assert_int_equal(v.e.table_pages, 2);
		assert_int_equal(v.e.generation, 0);
		expect(&v, G1 - K4, HOST_OFF + G1 - K4, RWX, G1);
		expect(&v, G1, HOST_OFF + G1, RWX, G1);
	}
	starve(&v, 4);
	assert_int_equal(t_unmap(&v.e, G1 - K4, 2 * K4), 0);
	unstarve(&v);
	assert_int_equal(v.e.table_pages, 6);
	assert_int_equal(v.e.generation, 1);
	expect_none(&v, G1 - K4);
	expect_none(&v, G1);
	expect(&v, G1 - 2 * K4, HOST_OFF + G1 - 2 * K4, RWX, K4);
	expect(&v, G1 + K4, HOST_OFF + G1 + K4, RWX, K4);
	/* Whole leaves need nothing. */
	starve(&v, 0);
	assert_int_equal(t_unmap(&v.e, 0, G1 - M2), 0);
	assert_int_equal(t_unmap(&v.e, 2 * G1 - M2, M2), 0);
	unstarve(&v);
	expect_none(&v, 0);
	expect(&v, G1 - M2, HOST_OFF + G1 - M2, RWX, K4);
	env_fini(&v);
}

/*
 * Tables a change takes out of the tree stay out of the pool until the caller
 * has synced every CPU and calls ept_free_pending with that generation; until
 * then a stale walk still finds their old entries (entry 0: not present).
 */
static void
test_pending_until_synced(void **state)
{
	struct env v;
	uint64_t *pd, *pt, *p, gen;

	(void)state;
	env_init(&v, 64, 8 * G1);
	assert_int_equal(t_map(&v.e, M2, HOST_OFF + M2, M2, RWX), 0);
	assert_int_equal(t_protect(&v.e, M2 + 5 * K4, K4, EPT_PERM_R), 0);
	assert_int_equal(v.e.table_pages, 4);
	pd = (uint64_t *)(uintptr_t)(((uint64_t *)(uintptr_t)(v.e.pml4[0] & EPT_ADDR_MASK))[0] &
				     EPT_ADDR_MASK);
	pt = (uint64_t *)(uintptr_t)(pd[1] & EPT_ADDR_MASK);

	/* The merge takes the page table out: pending, still counted, not in the pool. */
	gen = v.e.generation;
	assert_int_equal(ept_protect(&v.e, M2 + 5 * K4, K4, RWX), 0);
	assert_true(v.e.generation > gen);
	expect(&v, M2 + 5 * K4, HOST_OFF + M2 + 5 * K4, RWX, M2);
	assert_int_equal(v.e.table_pages, 4);
	assert_int_equal(taken(&v), 4);
	assert_int_equal(pt[0] & PERM_ALL, 0);
	for (unsigned i = 1; i < 512; i++)
		assert_int_equal(pt[i], (HOST_OFF + M2 + i * K4) | RWX | EPT_MT_WB);
	p = pool_alloc_page(&v.pool);
	assert_true(p != pt);
	pool_free_pages(&v.pool, p, 1);
	/* An older generation frees nothing; the current one frees it. */
	ept_free_pending(&v.e, gen);
	assert_int_equal(taken(&v), 4);
	ept_free_pending(&v.e, v.e.generation);
	assert_int_equal(v.e.table_pages, 3);
	assert_int_equal(taken(&v), 3);
	assert_null(v.e.pending);

	/* Unmaps that empty a PT and a PD, then the other PD and the PDPT; one free. */
	assert_int_equal(t_map(&v.e, 5 * G1, HOST_OFF, K4, RWX), 0);
	assert_int_equal(v.e.table_pages, 3 + 2);
	gen = v.e.generation;
	assert_int_equal(ept_unmap(&v.e, 5 * G1, K4), 0);
	expect_none(&v, 5 * G1);
	assert_int_equal(taken(&v), 5);
	assert_int_equal(ept_unmap(&v.e, M2, M2), 0);
	assert_int_equal(taken(&v), 5);
	ept_free_pending(&v.e, gen + 1);	/* the first unmap's caller, synced to its own */
	assert_int_equal(taken(&v), 5);
	ept_free_pending(&v.e, v.e.generation);
	assert_int_equal(v.e.table_pages, 1);
	assert_int_equal(taken(&v), 1);

	/* Destroy gives back what is still pending. */
	assert_int_equal(t_map(&v.e, 5 * G1, HOST_OFF, K4, RWX), 0);
	assert_int_equal(ept_unmap(&v.e, 5 * G1, K4), 0);
	assert_int_equal(taken(&v), 4);
	env_fini(&v);
}

/* ---- random sequences against a page-by-page model ---- */

#define R_LIMIT		(8 * G1)
#define R_PAGES		(R_LIMIT / K4)
#define R_POOL		4400	/* 8 GiB of 4K leaves: 4106 tables, + an op's splits */
#define R_FULL_EVERY	16

struct mpage {
	uint64_t hpa;
	unsigned perms;		/* 0: unmapped */
};

/* What a random sequence favours: fine ones fragment, coarse ones build 1G leaves. */
struct profile {
	uint64_t seed;
	unsigned leaves;	/* EPT_LEAF_*: the large leaves the EPT may build */
	unsigned fine;		/* % of range ends on 4K boundaries; % a page off one */
	unsigned scatter;	/* % of maps not at HOST_OFF */
	unsigned rwx;		/* % of maps and protects with RWX */
};

static const struct profile *prof;
static uint64_t rng;

static uint64_t
rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static uint64_t
rnd_below(uint64_t n)
{
	return rnd() % n;
}

static unsigned
rnd_perms(void)
{
	static const unsigned other[] = {
		EPT_PERM_R, EPT_PERM_R | EPT_PERM_W, EPT_PERM_R | EPT_PERM_X, PERM_ALL,
		EPT_PERM_X, EPT_PERM_UX, EPT_PERM_R | EPT_PERM_UX,
	};

	if (rnd_below(100) < prof->rwx)
		return RWX;
	return other[rnd_below(sizeof(other) / sizeof(other[0]))];
}

/* A point in [lo, hi] on a 4K, 2M or 1G boundary, or a page either side of one. */
static uint64_t
rnd_point(uint64_t lo, uint64_t hi)
{
	uint64_t grain = rnd_below(100) < prof->fine ? K4 : rnd_below(2) ? M2 : G1, first, a;

	first = (lo + grain - 1) & ~(grain - 1);
	if (first > hi) {
		first = lo;
		grain = K4;
	}
	a = first + rnd_below((hi - first) / grain + 1) * grain;
	if (rnd_below(100) >= prof->fine)
		return a;
	if (rnd_below(2) && a > lo)
		return a - K4;
	return a < hi ? a + K4 : a;
}

/* A range up to 8M, 256M or 3G long, mostly in [1G, 3G). */
static void
rnd_range(uint64_t *gpa, uint64_t *size)
{
	static const uint64_t reach[] = { 4 * M2, 128 * M2, 3 * G1 };
	uint64_t lo = 0, hi = R_LIMIT, end;

	if (rnd_below(100) < 60) {
		lo = G1;
		hi = 3 * G1;
	}
	*gpa = rnd_point(lo, hi - K4);
	end = *gpa + reach[rnd_below(3)];
	*size = rnd_point(*gpa + K4, end < hi ? end : hi) - *gpa;
}

/* Where a map puts gpa: mostly the fixed offset, so leaves can join. */
static uint64_t
rnd_hpa(uint64_t gpa)
{
	if (rnd_below(100) >= prof->scatter)
		return gpa + HOST_OFF;
	switch (rnd_below(3)) {
	case 0:
		return gpa + HOST_OFF + (2 * rnd_below(8) + 1) * M2;
	case 1:
		return gpa + HOST_OFF + (2 * rnd_below(256) + 1) * K4;
	default:
		return (rnd_below(1ull << 20) + 1) * G1 + rnd_below(PAGES_1G) * K4;
	}
}

/* The first hole in a random 2M or 1G block, up to the block's end: refills merge. */
static bool
rnd_hole(const struct mpage *m, uint64_t *gpa, uint64_t *size)
{
	uint64_t block = rnd_below(2) ? PAGES_2M : PAGES_1G;
	uint64_t p = rnd_below(R_PAGES / block) * block, end = p + block;

	while (p < end && m[p].perms)
		p++;
	if (p == end)
		return false;
	*gpa = p * K4;
	while (p < end && !m[p].perms)
		p++;
	*size = p * K4 - *gpa;
	return true;
}

/* All pages mapped, same perms, host-contiguous from an address aligned to their span. */
static bool
model_uniform(const struct mpage *m, uint64_t first, uint64_t n)
{
	if (!m[first].perms || (m[first].hpa & (n * K4 - 1)))
		return false;
	for (uint64_t i = 1; i < n; i++)
		if (m[first + i].perms != m[first].perms ||
		    m[first + i].hpa != m[first].hpa + i * K4)
			return false;
	return true;
}

static bool
model_any(const struct mpage *m, uint64_t first, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++)
		if (m[first + i].perms)
			return true;
	return false;
}

/* May a leaf sit at level, with the profile's leaf sizes? */
static bool
leaf_allowed(int level)
{
	return level == 0 || (level == 1 && (prof->leaves & EPT_LEAF_2M)) ||
	       (level == 2 && (prof->leaves & EPT_LEAF_2M) && (prof->leaves & EPT_LEAF_1G));
}

/* Tables of the canonical form: largest allowed leaves, no empty tables. */
static uint64_t
model_tables(const struct mpage *m)
{
	uint64_t tables = 1, below_pml4 = 0;

	for (uint64_t g = 0; g < R_PAGES; g += PAGES_1G) {
		if (!model_any(m, g, PAGES_1G))
			continue;
		below_pml4 = 1;
		if (leaf_allowed(2) && model_uniform(m, g, PAGES_1G))
			continue;
		tables++;
		for (uint64_t p = g; p < g + PAGES_1G; p += PAGES_2M)
			if (model_any(m, p, PAGES_2M) &&
			    !(leaf_allowed(1) && model_uniform(m, p, PAGES_2M)))
				tables++;
	}
	return tables + below_pml4;
}

struct walk {
	const struct mpage *m;
	uint64_t tables;
};

static bool
entry_leaf(uint64_t x, int level)
{
	return level == 0 || (x & EPT_LARGE);
}

/* Could table t become one leaf of the level above? */
static bool
foldable(const uint64_t *t, int level)
{
	uint64_t span = 1ull << (12 + 9 * level);

	if (!leaf_allowed(level + 1))
		return false;
	for (int i = 0; i < 512; i++) {
		if (!(t[i] & PERM_ALL) || !entry_leaf(t[i], level) ||
		    (t[i] & (PERM_ALL | EPT_MT_MASK)) != (t[0] & (PERM_ALL | EPT_MT_MASK)) ||
		    (t[i] & EPT_ADDR_MASK) != (t[0] & EPT_ADDR_MASK) + i * span)
			return false;
	}
	return !((t[0] & EPT_ADDR_MASK) % (512 * span));
}

/* Checks every entry of t against the model, counting tables. */
static void
walk_table(struct walk *w, const uint64_t *t, int level, uint64_t base)
{
	uint64_t span = 1ull << (12 + 9 * level);
	unsigned present = 0;

	w->tables++;
	for (int i = 0; i < 512; i++) {
		uint64_t va = base + i * span, x = t[i];

		if (!(x & PERM_ALL)) {
			assert_int_equal(x, 0);
			if (va < R_LIMIT)
				assert_false(model_any(w->m, va / K4, (va + span < R_LIMIT ?
								       span : R_LIMIT - va) / K4));
			continue;
		}
		present++;
		assert_true(va < R_LIMIT);
		if (!entry_leaf(x, level)) {
			assert_int_equal(x & ~EPT_ADDR_MASK, PERM_ALL);
			walk_table(w, (uint64_t *)(uintptr_t)(x & EPT_ADDR_MASK), level - 1, va);
			continue;
		}
		assert_true(leaf_allowed(level));
		assert_int_equal(x & ~(EPT_ADDR_MASK | PERM_ALL | EPT_MT_MASK | EPT_LARGE), 0);
		assert_int_equal(x & EPT_MT_MASK, EPT_MT_WB);
		assert_int_equal(x & EPT_ADDR_MASK & (span - 1), 0);
		for (uint64_t p = 0; p < span / K4; p++) {
			const struct mpage *mp = &w->m[va / K4 + p];

			assert_int_equal(mp->perms, x & PERM_ALL);
			assert_int_equal(mp->hpa, (x & EPT_ADDR_MASK) + p * K4);
		}
	}
	if (level < 3) {
		assert_true(present > 0);
		assert_false(foldable(t, level));
	}
}

/* Tables match the model page for page, are canonical, and are all counted. */
static void
check_full(struct env *v, const struct mpage *m)
{
	struct walk w = { .m = m };

	walk_table(&w, v->e.pml4, 3, 0);
	assert_int_equal(w.tables, v->e.table_pages);
	assert_int_equal(taken(v), v->e.table_pages);
	assert_int_equal(model_tables(m), v->e.table_pages);
}

/* Cheap per-op check: counts, and lookups at and around the range's ends. */
static void
check_quick(struct env *v, const struct mpage *m, uint64_t gpa, uint64_t size)
{
	const uint64_t probes[] = {
		gpa, gpa + size - K4, gpa - K4, gpa + size, gpa + rnd_below(size / K4) * K4,
		rnd_below(R_PAGES) * K4,
	};

	assert_int_equal(taken(v), v->e.table_pages);
	for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
		uint64_t a = probes[i], h, sz;
		unsigned p;

		if (a >= R_LIMIT) {
			expect_none(v, a);
			continue;
		}
		if (!m[a / K4].perms) {
			expect_none(v, a);
			continue;
		}
		assert_int_equal(ept_lookup(&v->e, a, &h, &p, &sz), 0);
		assert_int_equal(h, m[a / K4].hpa);
		assert_int_equal(p, m[a / K4].perms);
	}
}

static void
run_random(const struct profile *p, unsigned nops)
{
	struct mpage *m = calloc(R_PAGES, sizeof(*m));
	struct env v;
	unsigned counts[3][2] = { { 0 } };

	assert_non_null(m);
	prof = p;
	rng = p->seed;
	env_init_leaves(&v, R_POOL, R_LIMIT, p->leaves);
	for (unsigned n = 0; n < nops; n++) {
		unsigned kind = rnd_below(100) < 45 ? 0 : rnd_below(100) < 55 ? 1 : 2;
		unsigned perms = rnd_perms();
		uint64_t gpa, size, hpa, gen0 = v.e.generation, tables0 = v.e.table_pages;
		size_t left = rnd_below(8) == 0 ? rnd_below(4) : SIZE_MAX;
		bool flush = false;
		int want = 0, rc;

		if (kind != 0 || rnd_below(100) >= 40 || !rnd_hole(m, &gpa, &size))
			rnd_range(&gpa, &size);
		hpa = rnd_hpa(gpa);
		if (left != SIZE_MAX)
			starve(&v, left);

		if (kind == 0) {
			if (model_any(m, gpa / K4, size / K4))
				want = -EPT_EEXIST;
			rc = t_map(&v.e, gpa, hpa, size, perms);
		} else if (kind == 1) {
			rc = t_unmap(&v.e, gpa, size);
		} else {
			rc = t_protect(&v.e, gpa, size, perms);
		}

		if (left != SIZE_MAX) {
			if (rc == -EPT_ENOMEM)
				assert_int_equal(pool_free(&v), left);
			unstarve(&v);
		}
		if (left != SIZE_MAX && rc == -EPT_ENOMEM) {
			/* All or nothing: not a page kept; the checks below find no bit changed. */
			assert_int_equal(v.e.table_pages, tables0);
			counts[kind][1]++;
		} else {
			assert_int_equal(rc, want);
			counts[kind][0] += rc == 0;
		}
		for (uint64_t pg = gpa / K4; rc == 0 && pg < (gpa + size) / K4; pg++) {
			struct mpage *mp = &m[pg];

			if (kind == 0) {
				mp->hpa = hpa + (pg * K4 - gpa);
				mp->perms = perms;
			} else if (mp->perms) {
				flush |= kind == 1 || (mp->perms & ~perms);
				mp->perms = kind == 1 ? 0 : perms;
			}
		}
		/* Removed or restricted translations always bump the generation. */
		if (flush)
			assert_true(v.e.generation > gen0);
		if (rc)
			assert_int_equal(v.e.generation, gen0);
		check_quick(&v, m, gpa, size);
		if (n % R_FULL_EVERY == 0)
			check_full(&v, m);
	}
	check_full(&v, m);
	/*
	 * Each kind of op succeeded often and failed for lack of memory at least once;
	 * without large leaves nothing splits, so unmap and protect never need a table.
	 */
	for (int k = 0; k < 3; k++) {
		assert_true(counts[k][0] > nops / 10);
		if (k == 0 || p->leaves)
			assert_true(counts[k][1] > 0);
		else
			assert_int_equal(counts[k][1], 0);
	}

	/* Every page, by lookup. */
	for (uint64_t pg = 0; pg < R_PAGES; pg++) {
		uint64_t h, sz;
		unsigned perms;

		if (!m[pg].perms) {
			expect_none(&v, pg * K4);
			continue;
		}
		assert_int_equal(ept_lookup(&v.e, pg * K4, &h, &perms, &sz), 0);
		assert_int_equal(h, m[pg].hpa);
		assert_int_equal(perms, m[pg].perms);
	}

	assert_int_equal(t_unmap(&v.e, 0, R_LIMIT), 0);
	assert_int_equal(v.e.table_pages, 1);
	assert_int_equal(taken(&v), 1);
	env_fini(&v);
	free(m);
}

static void
test_random_fine(void **state)
{
	static const struct profile p = {
		.seed = 0x9e3779b97f4a7c15ull, .leaves = LEAVES_ALL, .fine = 45, .scatter = 35, .rwx = 45,
	};

	(void)state;
	run_random(&p, 2000);
}

static void
test_random_coarse(void **state)
{
	static const struct profile p = {
		.seed = 0x2545f4914f6cdd1dull, .leaves = LEAVES_ALL, .fine = 10, .scatter = 5, .rwx = 80,
	};

	(void)state;
	run_random(&p, 2000);
}

/* Coarse ranges on a CPU without large EPT pages, then with 2 MiB ones only. */
static void
test_random_4k_only(void **state)
{
	static const struct profile p = {
		.seed = 0x5851f42d4c957f2dull, .leaves = 0, .fine = 10, .scatter = 5, .rwx = 80,
	};

	(void)state;
	run_random(&p, 1000);
}

static void
test_random_2m_only(void **state)
{
	static const struct profile p = {
		.seed = 0x14057b7ef767814full, .leaves = EPT_LEAF_2M, .fine = 10, .scatter = 5, .rwx = 80,
	};

	(void)state;
	run_random(&p, 1000);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_destroy),
		cmocka_unit_test(test_invalid_args),
		cmocka_unit_test(test_lookup_offsets),
		cmocka_unit_test(test_table_counts),
		cmocka_unit_test(test_alignment),
		cmocka_unit_test(test_range_unmapped_huge),
		cmocka_unit_test(test_leaves_4k_only),
		cmocka_unit_test(test_leaves_2m_only),
		cmocka_unit_test(test_map_existing),
		cmocka_unit_test(test_holes),
		cmocka_unit_test(test_split_merge_protect),
		cmocka_unit_test(test_split_unmap),
		cmocka_unit_test(test_merge_incremental),
		cmocka_unit_test(test_enomem_map),
		cmocka_unit_test(test_enomem_protect),
		cmocka_unit_test(test_enomem_unmap),
		cmocka_unit_test(test_reserve),
		cmocka_unit_test(test_pending_until_synced),
		cmocka_unit_test(test_random_fine),
		cmocka_unit_test(test_random_coarse),
		cmocka_unit_test(test_random_4k_only),
		cmocka_unit_test(test_random_2m_only),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
