/*
 * One EPT hierarchy per guest address space: 4 levels, 4 KiB base pages,
 * write-back memory.  The tables are kept canonical: a range is mapped with
 * the largest leaves the CPU allows (EPT_LEAF_*) that gpa/hpa alignment,
 * contiguity and uniform permissions allow, a table that could be a single
 * leaf is one, and an empty table is freed.  Every change is all or nothing.
 * Callers serialise changes to one struct ept.
 */
#ifndef HVMETAL_EPT_H
#define HVMETAL_EPT_H

#include <stdbool.h>
#include <stdint.h>
#include "kernel/pool.h"

/* Permissions are the leaf entry's bits; UX needs mode-based execute control. */
#define EPT_PERM_R	0x1u
#define EPT_PERM_W	0x2u
#define EPT_PERM_X	0x4u
#define EPT_PERM_UX	0x400u

/* Leaf sizes above 4 KiB the CPU's EPT has (IA32_VMX_EPT_VPID_CAP), for ept_init. */
#define EPT_LEAF_2M	0x1u
#define EPT_LEAF_1G	0x2u	/* only with EPT_LEAF_2M: a split 1 GiB page is 2 MiB pages */

/* Errors, returned negated. */
#define EPT_EINVAL	1
#define EPT_EEXIST	2
#define EPT_ENOMEM	3

struct ept {
	uint64_t *pml4;		/* root, from the pool */
	struct pool *pool;
	uint64_t limit;		/* guest-physical size: gpa + size <= limit <= 1ull << 48 */
	/*
	 * Bumped (atomic store) whenever a translation is removed, loses
	 * permissions or changes page size, and whenever a table page leaves the
	 * tree: vCPUs INVEPT before they run with a newer generation than they
	 * last saw, and callers make every CPU still caching the old tables do so
	 * before ept_free_pending.
	 */
	uint64_t generation;
	/*
	 * Table pages out of the tree that a CPU may still cache: they go back to
	 * the pool only in ept_free_pending, and count in table_pages until then.
	 * Linked through entry 0, which a stale walk reads as not present: a vCPU
	 * still walking a merged table may take one EPT violation for that entry's
	 * range before it syncs, never a translation the space did not have.
	 */
	uint64_t *pending;
	uint32_t table_pages;	/* page-table pages in use, root and pending ones included */
	uint32_t leaves;	/* EPT_LEAF_*: the large leaves it may build; set at init */
};

/*
 * 0, or -1 when the pool is empty or limit is unaligned or above 256 TiB.
 * Leaves: the EPT_LEAF_* sizes the CPU supports; no other large leaf is built.
 */
int ept_init(struct ept *e, struct pool *pool, uint64_t limit, unsigned leaves);
/* Frees every table, root and pending ones included: no CPU may use e any more. */
void ept_destroy(struct ept *e);
/*
 * The pending table pages go back to the pool if the generation is still gen,
 * the one every CPU that ran on e has now seen; after a newer change its
 * caller, who syncs that generation, frees them.
 */
void ept_free_pending(struct ept *e, uint64_t gen);

/*
 * Maps [gpa, gpa + size) to [hpa, hpa + size), write-back.  Perms must grant
 * something and not write without read (an EPT misconfiguration).
 * -EPT_EINVAL: bad alignment, range or perms; -EPT_EEXIST: a page in the
 * range is mapped; -EPT_ENOMEM: the pool lacks the tables.  Nothing changes
 * on error.
 */
int ept_map(struct ept *e, uint64_t gpa, uint64_t hpa, uint64_t size, unsigned perms);
/* True when no page of [gpa, gpa + size) is mapped and the range is valid; changes nothing. */
bool ept_range_unmapped(struct ept *e, uint64_t gpa, uint64_t size);
/* Unmaps what is mapped in the range; -EPT_EINVAL, or -EPT_ENOMEM to split, changes nothing. */
int ept_unmap(struct ept *e, uint64_t gpa, uint64_t size);
/*
 * A caller's reserve: pool pages only its own unmaps use, so that undoing part
 * of its map can always split a large page (a list it keeps, NULL when empty,
 * linked through entry 0).  ept_reserve adds n, or gives back the whole list
 * and fails with -EPT_ENOMEM if the pool lacks them; ept_release gives it back.
 */
int ept_reserve(struct ept *e, uint64_t **reserve, unsigned n);
void ept_release(struct ept *e, uint64_t **reserve);
/* ept_unmap taking the tables it needs from *reserve when the pool has none. */
int ept_unmap_reserved(struct ept *e, uint64_t gpa, uint64_t size, uint64_t **reserve);
/* Sets perms (as for ept_map) on every mapped page in the range; holes stay holes. */
int ept_protect(struct ept *e, uint64_t gpa, uint64_t size, unsigned perms);
/* 0 with the page's translation, perms and size (4K, 2M or 1G) when gpa is mapped, else -1. */
int ept_lookup(const struct ept *e, uint64_t gpa, uint64_t *hpa, unsigned *perms,
	       uint64_t *page_size);

#endif
