/*
 * hvmetal's memory pool: a fixed range of pages reserved at boot (hidden from the
 * control domain by EPT) handed out one page or one contiguous run at a time.
 */
#ifndef HVMETAL_POOL_H
#define HVMETAL_POOL_H

#include <stddef.h>
#include <stdint.h>
#include "spinlock.h"

#define PAGE_SIZE	4096ull
#define PAGE_MASK	(PAGE_SIZE - 1)

struct pool {
	uintptr_t base;		/* first page handed out; set at init */
	size_t npages;		/* pages after base; set at init */
	uint64_t *bitmap;	/* 1 = in use; lives in the pool's first pages */
	size_t free_pages;	/* protected by lock */
	size_t hint;		/* first page index that may be free; protected by lock */
	struct spinlock lock;
};

/* Takes [mem, mem + size) (page aligned); returns -1 if too small for any page. */
int pool_init(struct pool *p, void *mem, size_t size);
/* Returns n zeroed, physically contiguous pages, or NULL when none are left. */
void *pool_alloc_pages(struct pool *p, size_t n);
void *pool_alloc_page(struct pool *p);
/* Frees n pages at addr; addr and n must be exactly what an alloc returned. */
void pool_free_pages(struct pool *p, void *addr, size_t n);
size_t pool_free_bytes(struct pool *p);
size_t pool_total_bytes(const struct pool *p);

#endif
