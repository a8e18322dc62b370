#include "pool.h"
#include "string.h"

/* Pages are zeroed 8 bytes at a time: gnu-efi's memset goes byte by byte. */
static void zero_pages(void *p, size_t n)
{
	size_t words = n * PAGE_SIZE / 8;

	__asm__ volatile("rep stosq" : "+D"(p), "+c"(words) : "a"(0ull) : "memory");
}

static int bit_test(const uint64_t *bm, size_t i)
{
	return (bm[i / 64] >> (i % 64)) & 1;
}

static void bits_set(uint64_t *bm, size_t i, size_t n, int v)
{
	for (size_t k = i; k < i + n; k++) {
		if (v)
			bm[k / 64] |= 1ull << (k % 64);
		else
			bm[k / 64] &= ~(1ull << (k % 64));
	}
}

int pool_init(struct pool *p, void *mem, size_t size)
{
	size_t total = size / PAGE_SIZE;
	/* One bit per page, rounded up to whole pages, taken from the front. */
	size_t bm_pages = (total + PAGE_SIZE * 8 - 1) / (PAGE_SIZE * 8);

	if (((uintptr_t)mem & PAGE_MASK) || total <= bm_pages)
		return -1;
	p->bitmap = mem;
	p->base = (uintptr_t)mem + bm_pages * PAGE_SIZE;
	p->npages = total - bm_pages;
	p->free_pages = p->npages;
	p->hint = 0;
	p->lock.locked = 0;
	zero_pages(p->bitmap, bm_pages);
	return 0;
}

void *pool_alloc_pages(struct pool *p, size_t n)
{
	void *page = NULL;

	if (n == 0 || n > p->npages)
		return NULL;
	spin_lock(&p->lock);
	for (size_t i = p->hint; i + n <= p->npages && n <= p->free_pages; i++) {
		size_t run = 0;

		while (run < n && !bit_test(p->bitmap, i + run))
			run++;
		if (run < n) {
			i += run;	/* skip past the page in use */
			continue;
		}
		bits_set(p->bitmap, i, n, 1);
		p->free_pages -= n;
		/* For one page every page before i is in use: the next search starts after it. */
		if (n == 1 || i == p->hint)
			p->hint = i + n;
		page = (void *)(p->base + i * PAGE_SIZE);
		break;
	}
	spin_unlock(&p->lock);
	if (page)
		zero_pages(page, n);
	return page;
}

void *pool_alloc_page(struct pool *p)
{
	return pool_alloc_pages(p, 1);
}

void pool_free_pages(struct pool *p, void *addr, size_t n)
{
	size_t i = ((uintptr_t)addr - p->base) / PAGE_SIZE;

	spin_lock(&p->lock);
	bits_set(p->bitmap, i, n, 0);
	p->free_pages += n;
	if (i < p->hint)
		p->hint = i;
	spin_unlock(&p->lock);
}

size_t pool_free_bytes(struct pool *p)
{
	size_t n;

	spin_lock(&p->lock);
	n = p->free_pages;
	spin_unlock(&p->lock);
	return n * PAGE_SIZE;
}

size_t pool_total_bytes(const struct pool *p)
{
	return p->npages * PAGE_SIZE;
}
