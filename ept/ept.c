#include "ept.h"
#include "ept_identity.h"

#define EPT_ENTRIES	512
#define EPT_TOP_LEVEL	3	/* PML4; level 0 is the page table */
#define EPT_PERM_ALL	(EPT_PERM_R | EPT_PERM_W | EPT_PERM_X | EPT_PERM_UX)
#define EPT_MT_MASK	(7ull << 3)
/* What a leaf maps with, as opposed to where to and the CPU's accessed/dirty bits. */
#define EPT_ATTR	(EPT_PERM_ALL | EPT_MT_MASK)
/* A table entry grants everything: the leaves alone decide. */
#define EPT_TABLE	EPT_PERM_ALL
#define EPT_HPA_END	((EPT_ADDR_MASK | PAGE_MASK) + 1)

_Static_assert(EPT_PERM_R == EPT_R && EPT_PERM_W == EPT_W && EPT_PERM_X == EPT_X,
	       "perms are written into entries as they are");

enum ept_op_kind { EPT_OP_MAP, EPT_OP_UNMAP, EPT_OP_PROTECT };

/*
 * A change runs twice over the tables: a dry pass validates it and counts the
 * tables it creates, those are taken from the pool, then the second pass,
 * which cannot fail, applies it.
 */
struct ept_op {
	struct ept *e;
	enum ept_op_kind kind;
	uint64_t gpa, end;
	uint64_t hpa;		/* map: where gpa goes */
	uint64_t attr;		/* map, protect: the leaves' perms and memory type */
	bool dry;
	bool probe;		/* ept_range_unmapped: only looks for a mapped page */
	uint64_t need;		/* tables the change creates */
	uint64_t *spare;	/* second pass: those tables, linked through entry 0 */
	uint64_t **reserve;	/* unmap: the caller's reserve, or NULL */
	bool flush;		/* a translation was removed, restricted or resized */
};

static uint64_t ept_span(unsigned level)
{
	return 1ull << (12 + 9 * level);	/* level 0: 4 KiB ... level 3: 512 GiB */
}

/* May a leaf sit at level (0: 4 KiB, 1: 2 MiB, 2: 1 GiB)? */
static bool ept_leaf_ok(const struct ept *e, unsigned level)
{
	return level == 0 || (level == 1 && (e->leaves & EPT_LEAF_2M)) ||
	       (level == 2 && (e->leaves & EPT_LEAF_1G));
}

static unsigned ept_index(uint64_t gpa, unsigned level)
{
	return (gpa >> (12 + 9 * level)) & (EPT_ENTRIES - 1);
}

/* With mode-based execute control, a user-execute-only entry is present too. */
static bool ept_present(uint64_t x)
{
	return x & EPT_PERM_ALL;
}

static bool ept_is_leaf(uint64_t x, unsigned level)
{
	return level == 0 || (x & EPT_LARGE);
}

static uint64_t *ept_table(uint64_t x)
{
	return (uint64_t *)(uintptr_t)(x & EPT_ADDR_MASK);
}

static uint64_t *ept_pop(uint64_t **list)
{
	uint64_t *page = *list;

	*list = (uint64_t *)(uintptr_t)page[0];
	return page;
}

static void ept_push(uint64_t **list, uint64_t *page)
{
	page[0] = (uintptr_t)*list;
	*list = page;
}

static void ept_free_table(struct ept *e, uint64_t *t)
{
	pool_free_pages(e->pool, t, 1);
	e->table_pages--;
}

/* A table out of the tree: pending until every CPU that may cache it has synced. */
static void ept_retire(struct ept_op *op, uint64_t *t)
{
	ept_push(&op->e->pending, t);
	op->flush = true;
}

static bool ept_empty(const uint64_t *t)
{
	for (unsigned i = 0; i < EPT_ENTRIES; i++)
		if (ept_present(t[i]))
			return false;
	return true;
}

/* The leaf one level up that maps exactly what table t (of level) maps, or 0. */
static uint64_t ept_merged(const uint64_t *t, unsigned level)
{
	const uint64_t mask = EPT_ADDR_MASK | EPT_ATTR | EPT_LARGE;
	uint64_t first = t[0] & mask;

	if (!ept_present(first) || !ept_is_leaf(first, level) ||
	    (first & EPT_ADDR_MASK & (ept_span(level + 1) - 1)))
		return 0;
	for (unsigned i = 1; i < EPT_ENTRIES; i++)
		if ((t[i] & mask) != first + i * ept_span(level))
			return 0;
	return first | EPT_LARGE;
}

/* After a change under t[i]: an empty table is freed, a uniform one becomes a leaf. */
static void ept_settle(struct ept_op *op, uint64_t *t, unsigned i, unsigned level)
{
	uint64_t *sub = ept_table(t[i]);
	uint64_t leaf = 0;

	if (!ept_empty(sub)) {
		/* Only leaf sizes the CPU has; a PDPT never folds into a PML4 entry. */
		leaf = ept_leaf_ok(op->e, level) ? ept_merged(sub, level - 1) : 0;
		if (!leaf)
			return;
	}
	t[i] = leaf;
	ept_retire(op, sub);
}

static int ept_walk(struct ept_op *op, uint64_t *t, uint64_t fill, unsigned level,
		    uint64_t base);

/*
 * Gives entry i of t a table whose entries start from fill (0: empty; else a
 * leaf, the split of what t[i] mapped) and carries on in it.  The table is
 * complete before it is linked, so a walk on another CPU sees old or new.
 */
static int ept_descend(struct ept_op *op, uint64_t *t, unsigned i, unsigned level,
		       uint64_t base, uint64_t fill)
{
	uint64_t *sub;

	if (op->dry) {
		op->need++;
		return ept_walk(op, NULL, fill, level - 1, base);
	}
	sub = ept_pop(&op->spare);
	for (unsigned j = 0; j < EPT_ENTRIES; j++)
		sub[j] = fill ? fill + j * ept_span(level - 1) : 0;
	ept_walk(op, sub, 0, level - 1, base);
	op->e->table_pages++;
	t[i] = (uintptr_t)sub | EPT_TABLE;
	return 0;
}

/* Changes a leaf the range covers whole. */
static void ept_change_leaf(struct ept_op *op, uint64_t *x)
{
	if (op->kind == EPT_OP_UNMAP) {
		*x = 0;
		op->flush = true;
		return;
	}
	if (*x & EPT_PERM_ALL & ~op->attr)
		op->flush = true;
	*x = (*x & ~EPT_ATTR) | op->attr;
}

/*
 * Applies op to the part of its range under table t, of level, which maps
 * from base.  In the dry pass t is NULL for a table still to be made, whose
 * entries run from fill on as in ept_descend.
 */
static int ept_walk(struct ept_op *op, uint64_t *t, uint64_t fill, unsigned level,
		    uint64_t base)
{
	uint64_t span = ept_span(level);
	uint64_t lo = op->gpa > base ? op->gpa : base;
	uint64_t hi = op->end < base + EPT_ENTRIES * span ? op->end : base + EPT_ENTRIES * span;
	int rc = 0;

	for (unsigned i = ept_index(lo, level); !rc && i <= ept_index(hi - 1, level); i++) {
		uint64_t va = base + i * span;
		bool whole = op->gpa <= va && va + span <= op->end;
		uint64_t x = t ? t[i] : fill ? fill + i * span : 0;

		if (!ept_present(x)) {
			/* Nothing is mapped below: a probe need not build the tables in its head. */
			if (op->kind != EPT_OP_MAP || op->probe)
				continue;
			if (whole && ept_leaf_ok(op->e, level) && !((op->hpa - op->gpa) & (span - 1))) {
				if (!op->dry)
					t[i] = (op->hpa + (va - op->gpa)) | op->attr |
					       (level ? EPT_LARGE : 0);
				continue;
			}
			rc = ept_descend(op, t, i, level, va, 0);
		} else if (!ept_is_leaf(x, level) && op->dry && whole) {
			/* Tables are never empty: a map collides; nothing inside needs a split. */
			if (op->kind == EPT_OP_MAP)
				rc = -EPT_EEXIST;
		} else if (!ept_is_leaf(x, level)) {
			rc = ept_walk(op, ept_table(x), 0, level - 1, va);
			if (!op->dry)
				ept_settle(op, t, i, level);
		} else if (op->kind == EPT_OP_MAP) {
			rc = -EPT_EEXIST;
		} else if (op->kind == EPT_OP_PROTECT && (x & EPT_ATTR) == op->attr) {
			continue;
		} else if (!whole) {
			op->flush = true;	/* the page size changes */
			rc = ept_descend(op, t, i, level, va, level == 1 ? x & ~EPT_LARGE : x);
		} else if (!op->dry) {
			ept_change_leaf(op, &t[i]);
		}
	}
	return rc;
}

static void ept_drop_list(struct pool *pool, uint64_t **list)
{
	while (*list)
		pool_free_pages(pool, ept_pop(list), 1);
}

static int ept_run(struct ept_op *op)
{
	struct ept *e = op->e;
	int rc;

	op->dry = true;
	rc = ept_walk(op, e->pml4, 0, EPT_TOP_LEVEL, 0);
	if (rc)
		return rc;
	for (uint64_t n = 0, reserved = 0; n < op->need; n++) {
		uint64_t *page = pool_alloc_page(e->pool);

		if (!page && op->reserve && *op->reserve) {
			page = ept_pop(op->reserve);
			reserved++;
		}
		if (!page) {
			/* As many pages as it lent go back to the reserve, the rest to the pool. */
			for (; reserved; reserved--)
				ept_push(op->reserve, ept_pop(&op->spare));
			ept_drop_list(e->pool, &op->spare);
			return -EPT_ENOMEM;
		}
		ept_push(&op->spare, page);
	}
	op->dry = false;
	op->flush = false;
	ept_walk(op, e->pml4, 0, EPT_TOP_LEVEL, 0);
	if (op->flush)
		__atomic_store_n(&e->generation, e->generation + 1, __ATOMIC_RELEASE);
	return 0;
}

static bool ept_range_ok(const struct ept *e, uint64_t gpa, uint64_t size)
{
	return size && !((gpa | size) & PAGE_MASK) && gpa + size > gpa && gpa + size <= e->limit;
}

/* No access at all is spelled unmap; write without read is a misconfiguration. */
static bool ept_perms_ok(unsigned perms)
{
	return perms && !(perms & ~EPT_PERM_ALL) &&
	       (perms & (EPT_PERM_R | EPT_PERM_W)) != EPT_PERM_W;
}

int ept_init(struct ept *e, struct pool *pool, uint64_t limit, unsigned leaves)
{
	if ((limit & PAGE_MASK) || limit > 1ull << 48)
		return -1;
	e->pml4 = pool_alloc_page(pool);
	if (!e->pml4)
		return -1;
	e->pool = pool;
	e->limit = limit;
	e->table_pages = 1;
	e->generation = 0;
	e->pending = NULL;
	e->leaves = leaves & EPT_LEAF_2M ? leaves & (EPT_LEAF_2M | EPT_LEAF_1G) : 0;
	return 0;
}

static void ept_free_tree(struct ept *e, uint64_t *t, unsigned level)
{
	for (unsigned i = 0; level > 0 && i < EPT_ENTRIES; i++)
		if (ept_present(t[i]) && !ept_is_leaf(t[i], level))
			ept_free_tree(e, ept_table(t[i]), level - 1);
	ept_free_table(e, t);
}

void ept_destroy(struct ept *e)
{
	ept_free_pending(e, e->generation);
	ept_free_tree(e, e->pml4, EPT_TOP_LEVEL);
	e->pml4 = NULL;
}

void ept_free_pending(struct ept *e, uint64_t gen)
{
	if (gen != e->generation)
		return;
	while (e->pending)
		ept_free_table(e, ept_pop(&e->pending));
}

int ept_map(struct ept *e, uint64_t gpa, uint64_t hpa, uint64_t size, unsigned perms)
{
	struct ept_op op = {
		.e = e, .kind = EPT_OP_MAP, .gpa = gpa, .end = gpa + size, .hpa = hpa,
		.attr = perms | EPT_MT_WB,
	};

	if (!ept_range_ok(e, gpa, size) || !ept_perms_ok(perms) || (hpa & PAGE_MASK) ||
	    hpa + size < hpa || hpa + size > EPT_HPA_END)
		return -EPT_EINVAL;
	return ept_run(&op);
}

bool ept_range_unmapped(struct ept *e, uint64_t gpa, uint64_t size)
{
	/*
	 * A dry map: it stops at the first mapped page and changes nothing. Time goes
	 * with the tables there are, not with size: without large leaves a dry map
	 * would walk every 4 KiB of an empty 128 TiB (fuzz_hypercall's timeout).
	 */
	struct ept_op op = {
		.e = e, .kind = EPT_OP_MAP, .gpa = gpa, .end = gpa + size, .hpa = gpa,
		.attr = EPT_PERM_R | EPT_MT_WB, .dry = true, .probe = true,
	};

	return ept_range_ok(e, gpa, size) &&
	       ept_walk(&op, e->pml4, 0, EPT_TOP_LEVEL, 0) != -EPT_EEXIST;
}

int ept_unmap_reserved(struct ept *e, uint64_t gpa, uint64_t size, uint64_t **reserve)
{
	struct ept_op op = {
		.e = e, .kind = EPT_OP_UNMAP, .gpa = gpa, .end = gpa + size, .reserve = reserve,
	};

	if (!ept_range_ok(e, gpa, size))
		return -EPT_EINVAL;
	return ept_run(&op);
}

int ept_unmap(struct ept *e, uint64_t gpa, uint64_t size)
{
	return ept_unmap_reserved(e, gpa, size, NULL);
}

int ept_reserve(struct ept *e, uint64_t **reserve, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		uint64_t *page = pool_alloc_page(e->pool);

		if (!page) {
			ept_release(e, reserve);
			return -EPT_ENOMEM;
		}
		ept_push(reserve, page);
	}
	return 0;
}

void ept_release(struct ept *e, uint64_t **reserve)
{
	ept_drop_list(e->pool, reserve);
}

int ept_protect(struct ept *e, uint64_t gpa, uint64_t size, unsigned perms)
{
	struct ept_op op = {
		.e = e, .kind = EPT_OP_PROTECT, .gpa = gpa, .end = gpa + size,
		.attr = perms | EPT_MT_WB,
	};

	if (!ept_range_ok(e, gpa, size) || !ept_perms_ok(perms))
		return -EPT_EINVAL;
	return ept_run(&op);
}

int ept_lookup(const struct ept *e, uint64_t gpa, uint64_t *hpa, unsigned *perms,
	       uint64_t *page_size)
{
	const uint64_t *t = e->pml4;

	if (gpa >= e->limit)
		return -1;
	for (unsigned level = EPT_TOP_LEVEL;; level--) {
		uint64_t x = t[ept_index(gpa, level)];

		if (!ept_present(x))
			return -1;
		if (ept_is_leaf(x, level)) {
			*page_size = ept_span(level);
			*hpa = (x & EPT_ADDR_MASK) + (gpa & (*page_size - 1));
			*perms = x & EPT_PERM_ALL;
			return 0;
		}
		t = ept_table(x);
	}
}
