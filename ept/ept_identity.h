/*
 * The control domain's EPT: guest-physical = host-physical over the whole
 * physical address space, except hvmetal's own pages, which all map one dummy
 * page. RAM is write-back, everything else uncached; the largest page that
 * covers a uniform range is used.
 */
#ifndef HVMETAL_EPT_IDENTITY_H
#define HVMETAL_EPT_IDENTITY_H

#include <stdbool.h>
#include <stdint.h>
#include "kernel/memmap.h"
#include "kernel/pool.h"

#define EPT_R		(1ull << 0)
#define EPT_W		(1ull << 1)
#define EPT_X		(1ull << 2)
#define EPT_RWX		(EPT_R | EPT_W | EPT_X)
#define EPT_MT_UC	(0ull << 3)
#define EPT_MT_WB	(6ull << 3)
#define EPT_LARGE	(1ull << 7)
#define EPT_ADDR_MASK	0x000ffffffffff000ull

struct ept_identity_cfg {
	const struct memmap *map;
	uint64_t top;		/* map [0, top): 1 << MAXPHYADDR, at most 256 TiB */
	bool use_1g, use_2m;	/* large pages the CPU's EPT supports */
	uint64_t dummy_pa;	/* the page hidden addresses read and write */
	uint64_t trap_page;	/* mapped read-only, so stores exit (the xAPIC page); ~0: none */
};

/* Returns the PML4's address (identity: physical), or 0 when the pool ran out. */
uint64_t ept_identity_build(struct pool *pool, const struct ept_identity_cfg *cfg);

/*
 * At run time, on tables built above: the page at gpa becomes read-only (trap),
 * or gets its write access back (!trap), splitting the large leaf that covers
 * it with pool pages. 0, or -1 when the pool is dry or nothing maps gpa.
 * The caller invalidates the EPT's translations on every CPU that uses it.
 */
int ept_identity_set_trap(uint64_t pml4, struct pool *pool, uint64_t gpa, bool trap);

/* Does the leaf mapping gpa allow writes (false too when nothing maps it)? */
bool ept_identity_writable(uint64_t pml4, uint64_t gpa);

/* Walks tables built above: the leaf entry mapping gpa and its page size (0: none). */
uint64_t ept_identity_lookup(uint64_t pml4, uint64_t gpa, uint64_t *page_size);

#endif
