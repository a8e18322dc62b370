/*
 * Host tests for the page pool: init, single and contiguous allocations,
 * zeroing, exhaustion, free/realloc, fragmentation and accounting, and a
 * long randomized run checked against a shadow model.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <setjmp.h>
#include <cmocka.h>

#include "kernel/pool.h"
#include "kernel/string.h"

#define BITS_PER_BM_PAGE	(PAGE_SIZE * 8)

struct fixture {
	struct pool pool;
	uint8_t *mem;
	size_t size;
};

static uint8_t *
region(size_t size)
{
	uint8_t *mem = aligned_alloc(PAGE_SIZE, size);

	assert_non_null(mem);
	/* Garbage everywhere: init and alloc must clear what they hand out. */
	memset(mem, 0xa5, size);
	return mem;
}

static bool
page_is_zero(const uint8_t *p)
{
	for (size_t i = 0; i < PAGE_SIZE; i++)
		if (p[i])
			return false;
	return true;
}

/* The page index (from base) of a pointer the pool returned; checks bounds. */
static size_t
index_of(const struct pool *p, const void *addr)
{
	uintptr_t a = (uintptr_t)addr;

	assert_int_equal(a & PAGE_MASK, 0);
	assert_true(a >= p->base);
	assert_true(a < p->base + p->npages * PAGE_SIZE);
	return (a - p->base) / PAGE_SIZE;
}

static int
setup_64(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->size = 64 * PAGE_SIZE;
	f->mem = region(f->size);
	assert_int_equal(pool_init(&f->pool, f->mem, f->size), 0);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	free(f->mem);
	free(f);
	return 0;
}

/* ---- init ---- */

static void
test_init_layout(void **state)
{
	struct fixture *f = *state;
	struct pool *p = &f->pool;

	/* 64 pages: one bitmap page at the front, 63 handed out. */
	assert_int_equal(p->base, (uintptr_t)f->mem + PAGE_SIZE);
	assert_int_equal(p->npages, 63);
	assert_int_equal(pool_total_bytes(p), 63 * PAGE_SIZE);
	assert_int_equal(pool_free_bytes(p), 63 * PAGE_SIZE);
}

static void
test_init_rejects(void **state)
{
	struct pool p;
	uint8_t *mem = region(8 * PAGE_SIZE);

	(void)state;
	/* Not page aligned. */
	assert_int_equal(pool_init(&p, mem + 8, 7 * PAGE_SIZE), -1);
	assert_int_equal(pool_init(&p, mem + PAGE_SIZE / 2, 4 * PAGE_SIZE), -1);
	/* Nothing, or only room for the bitmap. */
	assert_int_equal(pool_init(&p, mem, 0), -1);
	assert_int_equal(pool_init(&p, mem, PAGE_SIZE - 1), -1);
	assert_int_equal(pool_init(&p, mem, PAGE_SIZE), -1);
	assert_int_equal(pool_init(&p, mem, 2 * PAGE_SIZE - 1), -1);
	/* Bitmap plus one page is the smallest pool. */
	assert_int_equal(pool_init(&p, mem, 2 * PAGE_SIZE), 0);
	assert_int_equal(pool_total_bytes(&p), PAGE_SIZE);
	assert_ptr_equal(pool_alloc_page(&p), mem + PAGE_SIZE);
	assert_null(pool_alloc_page(&p));
	free(mem);
}

static void
test_init_partial_page(void **state)
{
	struct pool p;
	uint8_t *mem = region(11 * PAGE_SIZE);

	(void)state;
	/* A trailing partial page is not used. */
	assert_int_equal(pool_init(&p, mem, 10 * PAGE_SIZE + 100), 0);
	assert_int_equal(pool_total_bytes(&p), 9 * PAGE_SIZE);
	for (int i = 0; i < 9; i++) {
		uint8_t *page = pool_alloc_page(&p);

		assert_non_null(page);
		assert_true(page + PAGE_SIZE <= mem + 10 * PAGE_SIZE);
	}
	assert_null(pool_alloc_page(&p));
	free(mem);
}

static void
test_init_two_bitmap_pages(void **state)
{
	/* One bitmap page covers 32768 pages; one more page needs a second. */
	size_t total = BITS_PER_BM_PAGE + 1;
	size_t size = total * PAGE_SIZE;
	uint8_t *mem = aligned_alloc(PAGE_SIZE, size);
	struct pool p;
	uint8_t *first, *last;

	(void)state;
	assert_non_null(mem);
	memset(mem, 0xff, 2 * PAGE_SIZE);	/* stale bitmap */
	assert_int_equal(pool_init(&p, mem, size), 0);
	assert_int_equal(p.base, (uintptr_t)mem + 2 * PAGE_SIZE);
	assert_int_equal(pool_total_bytes(&p), (total - 2) * PAGE_SIZE);
	/* Bits in the second bitmap page work: take everything but the last page. */
	first = pool_alloc_pages(&p, total - 3);
	assert_ptr_equal(first, mem + 2 * PAGE_SIZE);
	last = pool_alloc_page(&p);
	assert_ptr_equal(last, mem + (total - 1) * PAGE_SIZE);
	assert_null(pool_alloc_page(&p));
	assert_int_equal(pool_free_bytes(&p), 0);
	pool_free_pages(&p, last, 1);
	assert_ptr_equal(pool_alloc_page(&p), last);
	free(mem);
}

/* ---- alloc / free ---- */

static void
test_alloc_single(void **state)
{
	struct fixture *f = *state;
	struct pool *p = &f->pool;
	uint8_t *a = pool_alloc_page(p), *b = pool_alloc_page(p);

	assert_non_null(a);
	assert_non_null(b);
	assert_ptr_not_equal(a, b);
	index_of(p, a);
	index_of(p, b);
	assert_true(page_is_zero(a));
	assert_true(page_is_zero(b));
	assert_int_equal(pool_free_bytes(p), 61 * PAGE_SIZE);
	/* Writing one page leaves the other alone. */
	memset(a, 0x11, PAGE_SIZE);
	assert_true(page_is_zero(b));
}

static void
test_alloc_contiguous(void **state)
{
	struct fixture *f = *state;
	struct pool *p = &f->pool;
	uint8_t *one = pool_alloc_page(p);
	uint8_t *run = pool_alloc_pages(p, 7);
	uint8_t *after = pool_alloc_page(p);
	size_t r;

	assert_non_null(one);
	assert_non_null(run);
	assert_non_null(after);
	r = index_of(p, run);
	index_of(p, run + 6 * PAGE_SIZE);
	for (int i = 0; i < 7; i++)
		assert_true(page_is_zero(run + i * PAGE_SIZE));
	/* Nothing else lands inside the run. */
	assert_true(index_of(p, one) < r || index_of(p, one) >= r + 7);
	assert_true(index_of(p, after) < r || index_of(p, after) >= r + 7);
	assert_int_equal(pool_free_bytes(p), (63 - 9) * PAGE_SIZE);
}

static void
test_alloc_zeroed_after_free(void **state)
{
	struct fixture *f = *state;
	struct pool *p = &f->pool;
	uint8_t *run = pool_alloc_pages(p, 3);

	assert_non_null(run);
	memset(run, 0x5a, 3 * PAGE_SIZE);
	pool_free_pages(p, run, 3);
	/* The same pages come back (first fit from the freed hint), cleared. */
	assert_ptr_equal(pool_alloc_pages(p, 3), run);
	for (int i = 0; i < 3; i++)
		assert_true(page_is_zero(run + i * PAGE_SIZE));
}

static void
test_alloc_bad_sizes(void **state)
{
	struct fixture *f = *state;
	struct pool *p = &f->pool;

	assert_null(pool_alloc_pages(p, 0));
	assert_null(pool_alloc_pages(p, 64));
	assert_null(pool_alloc_pages(p, (size_t)-1));
	assert_int_equal(pool_free_bytes(p), 63 * PAGE_SIZE);
	/* The whole pool in one run. */
	assert_ptr_equal(pool_alloc_pages(p, 63), (void *)p->base);
	assert_int_equal(pool_free_bytes(p), 0);
	assert_null(pool_alloc_page(p));
}

static void
test_exhaustion(void **state)
{
	struct fixture *f = *state;
	struct pool *p = &f->pool;
	uint8_t *pages[63];

	for (int i = 0; i < 63; i++) {
		pages[i] = pool_alloc_page(p);
		assert_non_null(pages[i]);
		for (int j = 0; j < i; j++)
			assert_ptr_not_equal(pages[i], pages[j]);
		assert_int_equal(pool_free_bytes(p), (62 - i) * PAGE_SIZE);
	}
	assert_null(pool_alloc_page(p));
	assert_null(pool_alloc_pages(p, 2));
	assert_int_equal(pool_free_bytes(p), 0);
	assert_int_equal(pool_total_bytes(p), 63 * PAGE_SIZE);

	/* Free one in the middle: exactly that one comes back. */
	pool_free_pages(p, pages[40], 1);
	assert_int_equal(pool_free_bytes(p), PAGE_SIZE);
	assert_null(pool_alloc_pages(p, 2));
	assert_ptr_equal(pool_alloc_page(p), pages[40]);
	assert_null(pool_alloc_page(p));

	/* Two free pages that are not adjacent make no 2-page run. */
	pool_free_pages(p, pages[10], 1);
	pool_free_pages(p, pages[12], 1);
	assert_null(pool_alloc_pages(p, 2));
	assert_int_equal(pool_free_bytes(p), 2 * PAGE_SIZE);
	pool_free_pages(p, pages[11], 1);
	assert_ptr_equal(pool_alloc_pages(p, 3), pages[10] < pages[12] ? pages[10] : pages[12]);
	assert_int_equal(pool_free_bytes(p), 0);
}

static void
test_fragmentation(void **state)
{
	struct fixture *f = *state;
	struct pool *p = &f->pool;
	uint8_t *a = pool_alloc_pages(p, 20);
	uint8_t *b = pool_alloc_pages(p, 5);
	uint8_t *c = pool_alloc_pages(p, 38);
	uint8_t *again;

	assert_non_null(a);
	assert_non_null(b);
	assert_non_null(c);
	assert_int_equal(pool_free_bytes(p), 0);
	memset(a, 0xaa, 20 * PAGE_SIZE);
	memset(c, 0xcc, 38 * PAGE_SIZE);

	pool_free_pages(p, b, 5);
	assert_int_equal(pool_free_bytes(p), 5 * PAGE_SIZE);
	/* A hole of 5 holds no run of 6... */
	assert_null(pool_alloc_pages(p, 6));
	/* ...but gives back exactly 5, in place. */
	again = pool_alloc_pages(p, 5);
	assert_ptr_equal(again, b);
	assert_int_equal(pool_free_bytes(p), 0);

	/* Smaller requests fill the hole from its start. */
	pool_free_pages(p, b, 5);
	assert_ptr_equal(pool_alloc_pages(p, 2), b);
	assert_ptr_equal(pool_alloc_pages(p, 3), b + 2 * PAGE_SIZE);
	assert_null(pool_alloc_page(p));

	/* The neighbours were never touched. */
	for (size_t i = 0; i < 20 * PAGE_SIZE; i++)
		assert_int_equal(a[i], 0xaa);
	for (size_t i = 0; i < 38 * PAGE_SIZE; i++)
		assert_int_equal(c[i], 0xcc);

	/* A run freed next to a free hole merges with it. */
	pool_free_pages(p, c, 38);
	pool_free_pages(p, b + 2 * PAGE_SIZE, 3);
	assert_ptr_equal(pool_alloc_pages(p, 41), b + 2 * PAGE_SIZE);
}

static void
test_hint_below_free(void **state)
{
	struct fixture *f = *state;
	struct pool *p = &f->pool;
	uint8_t *a = pool_alloc_pages(p, 4);
	uint8_t *b = pool_alloc_pages(p, 4);

	assert_non_null(a);
	assert_non_null(b);
	/* Freeing a high run after a low one must not hide the low one. */
	pool_free_pages(p, a, 4);
	pool_free_pages(p, b, 4);
	assert_ptr_equal(pool_alloc_pages(p, 8), a);
	pool_free_pages(p, a, 8);
	/* A run that does not fit at the lowest free page is found further up. */
	assert_ptr_equal(pool_alloc_page(p), a);
	assert_ptr_equal(pool_alloc_pages(p, 62), a + PAGE_SIZE);
	assert_int_equal(pool_free_bytes(p), 0);
}

/* ---- randomized against a shadow model ---- */

#define RND_PAGES	256
#define RND_OPS		20000
#define RND_MAX_RUN	9

struct live {
	uint8_t *addr;
	size_t n;
	uint8_t tag;
};

static uint64_t rng_state;

static uint32_t
rng(void)
{
	/* xorshift64*: fixed seed, same sequence on every run. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 0x2545f4914f6cdd1dull) >> 32);
}

static bool
shadow_has_run(const uint8_t *used, size_t npages, size_t n)
{
	size_t run = 0;

	for (size_t i = 0; i < npages; i++) {
		run = used[i] ? 0 : run + 1;
		if (run >= n)
			return true;
	}
	return false;
}

static void
test_random(void **state)
{
	size_t size = (RND_PAGES + 1) * PAGE_SIZE;
	uint8_t *mem = region(size);
	uint8_t used[RND_PAGES] = { 0 };
	struct live live[RND_PAGES];
	size_t nlive = 0, nused = 0, allocs = 0, fails = 0;
	struct pool p;

	(void)state;
	rng_state = 0x9e3779b97f4a7c15ull;
	assert_int_equal(pool_init(&p, mem, size), 0);
	assert_int_equal(p.npages, RND_PAGES);

	for (int op = 0; op < RND_OPS; op++) {
		/* Phases that fill the pool up to failure, then drain it. */
		bool filling = op % 2000 < 1000;
		bool do_alloc = nlive == 0 || rng() % 100 < (filling ? 80u : 30u);

		if (do_alloc) {
			size_t n = 1 + rng() % (rng() % 4 ? 3 : RND_MAX_RUN);
			uint8_t *a = pool_alloc_pages(&p, n);
			uint8_t tag = (uint8_t)(1 + op % 255);

			if (!a) {
				/* NULL only when no run of n free pages exists. */
				assert_false(shadow_has_run(used, RND_PAGES, n));
				fails++;
				continue;
			}
			size_t idx = index_of(&p, a);

			assert_true(idx + n <= RND_PAGES);
			for (size_t k = 0; k < n; k++) {
				/* No overlap with any live allocation. */
				assert_int_equal(used[idx + k], 0);
				used[idx + k] = 1;
				assert_true(page_is_zero(a + k * PAGE_SIZE));
			}
			memset(a, tag, n * PAGE_SIZE);
			live[nlive++] = (struct live){ a, n, tag };
			nused += n;
			allocs++;
		} else {
			size_t pick = rng() % nlive;
			struct live l = live[pick];
			size_t idx = index_of(&p, l.addr);

			/* Nobody else wrote into it while it was live. */
			for (size_t k = 0; k < l.n * PAGE_SIZE; k++)
				if (l.addr[k] != l.tag)
					fail_msg("page %zu byte %zu: %#x, want %#x",
						 idx + k / PAGE_SIZE, k % PAGE_SIZE,
						 l.addr[k], l.tag);
			for (size_t k = 0; k < l.n; k++)
				used[idx + k] = 0;
			pool_free_pages(&p, l.addr, l.n);
			live[pick] = live[--nlive];
			nused -= l.n;
		}
		assert_int_equal(pool_free_bytes(&p), (RND_PAGES - nused) * PAGE_SIZE);
		assert_int_equal(pool_total_bytes(&p), RND_PAGES * PAGE_SIZE);
	}
	/* The mix really exercised both paths. */
	assert_true(allocs > RND_OPS / 3);
	assert_true(fails > 0);

	/* Free everything: the whole pool is one run again. */
	while (nlive) {
		nlive--;
		pool_free_pages(&p, live[nlive].addr, live[nlive].n);
	}
	assert_int_equal(pool_free_bytes(&p), RND_PAGES * PAGE_SIZE);
	assert_ptr_equal(pool_alloc_pages(&p, RND_PAGES), (void *)p.base);
	free(mem);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_init_layout, setup_64, teardown),
		cmocka_unit_test(test_init_rejects),
		cmocka_unit_test(test_init_partial_page),
		cmocka_unit_test(test_init_two_bitmap_pages),
		cmocka_unit_test_setup_teardown(test_alloc_single, setup_64, teardown),
		cmocka_unit_test_setup_teardown(test_alloc_contiguous, setup_64, teardown),
		cmocka_unit_test_setup_teardown(test_alloc_zeroed_after_free, setup_64, teardown),
		cmocka_unit_test_setup_teardown(test_alloc_bad_sizes, setup_64, teardown),
		cmocka_unit_test_setup_teardown(test_exhaustion, setup_64, teardown),
		cmocka_unit_test_setup_teardown(test_fragmentation, setup_64, teardown),
		cmocka_unit_test_setup_teardown(test_hint_below_free, setup_64, teardown),
		cmocka_unit_test(test_random),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
