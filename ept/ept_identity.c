#include "ept_identity.h"

#define ENTRIES		512

static uint64_t level_span(unsigned level)
{
	return 1ull << (12 + 9 * level);	/* level 0: 4 KiB ... level 3: 512 GiB */
}

static bool leaf_allowed(const struct ept_identity_cfg *cfg, unsigned level)
{
	return level == 0 || (level == 1 && cfg->use_2m) || (level == 2 && cfg->use_1g);
}

static uint64_t leaf(uint64_t pa, int kind, unsigned level)
{
	return pa | EPT_RWX | (kind == MEMMAP_RAM ? EPT_MT_WB : EPT_MT_UC) |
	       (level ? EPT_LARGE : 0);
}

static int fill(struct pool *pool, const struct ept_identity_cfg *cfg, uint64_t *table,
		unsigned level, uint64_t base)
{
	uint64_t span = level_span(level);

	for (unsigned i = 0; i < ENTRIES && base + i * span < cfg->top; i++) {
		uint64_t a = base + i * span;
		bool hidden = memmap_overlaps_hidden(cfg->map, a, span);
		bool trap = cfg->trap_page - a < span;
		int kind = memmap_uniform_kind(cfg->map, a, span);

		if (level == 0) {
			/* The memory map is page-granular: a page has one kind. */
			table[i] = hidden ? leaf(cfg->dummy_pa, MEMMAP_RAM, 0) :
					    leaf(a, kind < 0 ? MEMMAP_OTHER : kind, 0);
			if (trap)
				table[i] &= ~(EPT_W | EPT_X);
			continue;
		}
		if (!hidden && !trap && kind >= 0 && leaf_allowed(cfg, level)) {
			table[i] = leaf(a, kind, level);
			continue;
		}
		uint64_t *sub = pool_alloc_page(pool);

		if (!sub || fill(pool, cfg, sub, level - 1, a) < 0)
			return -1;
		table[i] = (uintptr_t)sub | EPT_RWX;
	}
	return 0;
}

uint64_t ept_identity_build(struct pool *pool, const struct ept_identity_cfg *cfg)
{
	uint64_t *pml4 = pool_alloc_page(pool);

	if (!pml4 || fill(pool, cfg, pml4, 3, 0) < 0)
		return 0;
	return (uintptr_t)pml4;
}

uint64_t ept_identity_lookup(uint64_t pml4, uint64_t gpa, uint64_t *page_size)
{
	const uint64_t *table = (const uint64_t *)(uintptr_t)pml4;

	for (int level = 3; level >= 0; level--) {
		uint64_t e = table[(gpa >> (12 + 9 * level)) & (ENTRIES - 1)];

		if (!(e & EPT_RWX))
			break;
		if (level == 0 || (e & EPT_LARGE)) {
			*page_size = level_span(level);
			return e;
		}
		table = (const uint64_t *)(uintptr_t)(e & EPT_ADDR_MASK);
	}
	*page_size = 0;
	return 0;
}

int ept_identity_set_trap(uint64_t pml4, struct pool *pool, uint64_t gpa, bool trap)
{
	uint64_t *table = (uint64_t *)(uintptr_t)pml4;

	for (unsigned level = 3;; level--) {
		uint64_t *e = &table[(gpa >> (12 + 9 * level)) & (ENTRIES - 1)];

		if (!(*e & EPT_RWX))
			return -1;
		if (level == 0) {
			*e = trap ? *e & ~(EPT_W | EPT_X) : *e | EPT_RWX;
			return 0;
		}
		if (*e & EPT_LARGE) {
			/*
			 * The same translations in smaller leaves, filled before the one
			 * store that puts them in: a CPU walking meanwhile sees either.
			 */
			uint64_t *sub = pool_alloc_page(pool), span = level_span(level - 1);

			if (!sub)
				return -1;
			for (unsigned i = 0; i < ENTRIES; i++)
				sub[i] = (*e + i * span) & ~(level == 1 ? EPT_LARGE : 0);
			__atomic_store_n(e, (uintptr_t)sub | EPT_RWX, __ATOMIC_RELEASE);
		}
		table = (uint64_t *)(uintptr_t)(*e & EPT_ADDR_MASK);
	}
}

bool ept_identity_writable(uint64_t pml4, uint64_t gpa)
{
	uint64_t size;

	return ept_identity_lookup(pml4, gpa, &size) & EPT_W;
}
