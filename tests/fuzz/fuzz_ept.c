/*
 * Fuzzes guest EPT map/unmap/protect (ept/ept.c over kernel/pool.c) against a
 * model: a sorted list of mapped ranges.  Input: one byte for the space's
 * size, then 8 bytes per operation (see struct op_bytes).  After every
 * operation: its result is the model's (an -EPT_ENOMEM only when the pool
 * cannot hold the tables and then with nothing changed), lookups around the
 * range give the model's translation, permissions and page size, the table
 * count is that of the canonical form, and the pool holds exactly the tables
 * and the reserve.  At the end every table entry is checked against the model,
 * and ept_destroy hands the pool back to where it started.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ept/ept.h"
#include "ept/ept_identity.h"

/* A broken invariant: say which, then abort (libFuzzer saves the input). */
#define CHECK(c)	do { if (!(c)) { fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, #c); \
				  abort(); } } while (0)
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

#define K4		0x1000ull
#define M2		0x200000ull
#define G1		0x40000000ull
#define POOL_PAGES	256		/* small enough to run dry now and then */
#define MAX_OPS		48
#define MAX_RANGES	(4 * MAX_OPS + 4)
#define HOST_OFF	(32 * G1)
#define PERM_ALL	(EPT_PERM_R | EPT_PERM_W | EPT_PERM_X | EPT_PERM_UX)
#define HPA_END		((EPT_ADDR_MASK | PAGE_MASK) + 1)
/* The model and the checks: their branches are no guide for the fuzzer, and cost time. */
#define NO_COVERAGE	__attribute__((no_sanitize("coverage"), noinline))

/* One mapped range: [gpa, end) -> hpa, all with perms. Kept sorted and merged. */
struct range {
	uint64_t gpa, end, hpa;
	unsigned perms;
};

struct model {
	struct range r[MAX_RANGES];
	unsigned n;
	uint64_t limit;
};

enum { OP_MAP, OP_UNMAP, OP_PROTECT, OP_RESERVE, OP_RELEASE, OP_UNMAPPED, OP_KINDS };

/* Valid ones mostly; 0, write-only, an unknown bit and memory-type bits are invalid. */
static const unsigned perm_table[16] = {
	EPT_PERM_R | EPT_PERM_W | EPT_PERM_X, EPT_PERM_R | EPT_PERM_W | EPT_PERM_X,
	EPT_PERM_R, EPT_PERM_R | EPT_PERM_W, EPT_PERM_R | EPT_PERM_X, EPT_PERM_X,
	EPT_PERM_UX, EPT_PERM_R | EPT_PERM_UX, PERM_ALL, EPT_PERM_X | EPT_PERM_UX,
	EPT_PERM_R | EPT_PERM_W | EPT_PERM_X, EPT_PERM_R | EPT_PERM_W,
	0, EPT_PERM_W, EPT_PERM_R | 0x8, EPT_PERM_R | 0x800,
};

static const uint64_t grains[4] = { K4, M2, G1, K4 };

static uint8_t *pool_mem;
static struct pool pool;
static struct model model, trial;

/* ---- the model ---- */

static NO_COVERAGE bool
range_ok(const struct model *m, uint64_t gpa, uint64_t size)
{
	return size && !((gpa | size) & (K4 - 1)) && gpa + size > gpa && gpa + size <= m->limit;
}

static NO_COVERAGE bool
perms_ok(unsigned perms)
{
	return perms && !(perms & ~PERM_ALL) && (perms & (EPT_PERM_R | EPT_PERM_W)) != EPT_PERM_W;
}

/* The first range ending after gpa (m->n when none): ranges are sorted. */
static NO_COVERAGE unsigned
first_after(const struct model *m, uint64_t gpa)
{
	unsigned lo = 0, hi = m->n;

	while (lo < hi) {
		unsigned mid = (lo + hi) / 2;

		if (m->r[mid].end <= gpa)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static NO_COVERAGE bool
overlaps(const struct model *m, uint64_t gpa, uint64_t end)
{
	unsigned i = first_after(m, gpa);

	return i < m->n && m->r[i].gpa < end;
}

/* The range holding gpa, or NULL. */
static NO_COVERAGE const struct range *
find(const struct model *m, uint64_t gpa)
{
	unsigned i = first_after(m, gpa);

	return i < m->n && m->r[i].gpa <= gpa ? &m->r[i] : NULL;
}

static NO_COVERAGE void
insert(struct model *m, struct range x)
{
	unsigned i = m->n;

	CHECK(m->n < MAX_RANGES);
	for (; i > 0 && m->r[i - 1].gpa > x.gpa; i--)
		m->r[i] = m->r[i - 1];
	m->r[i] = x;
	m->n++;
}

/* Joins neighbours with the same perms and contiguous host addresses. */
static NO_COVERAGE void
normalize(struct model *m)
{
	unsigned j = 0;

	for (unsigned i = 0; i < m->n; i++) {
		struct range *last = j ? &m->r[j - 1] : NULL;

		if (last && last->end == m->r[i].gpa && last->perms == m->r[i].perms &&
		    last->hpa + (last->end - last->gpa) == m->r[i].hpa) {
			last->end = m->r[i].end;
			continue;
		}
		m->r[j++] = m->r[i];
	}
	m->n = j;
}

/*
 * Unmaps (perms 0) or reprotects [gpa, end) in the model; returns whether a
 * translation went away or lost a permission.
 */
static NO_COVERAGE bool
model_change(struct model *m, uint64_t gpa, uint64_t end, unsigned perms)
{
	struct model out = { .n = 0, .limit = m->limit };
	bool lost = false;

	for (unsigned i = 0; i < m->n; i++) {
		struct range x = m->r[i];
		uint64_t lo = x.gpa > gpa ? x.gpa : gpa, hi = x.end < end ? x.end : end;

		if (lo >= hi) {
			insert(&out, x);
			continue;
		}
		lost |= !perms || (x.perms & ~perms);
		if (x.gpa < lo)
			insert(&out, (struct range){ x.gpa, lo, x.hpa, x.perms });
		if (perms)
			insert(&out, (struct range){ lo, hi, x.hpa + (lo - x.gpa), perms });
		if (hi < x.end)
			insert(&out, (struct range){ hi, x.end, x.hpa + (hi - x.gpa), x.perms });
	}
	normalize(&out);
	*m = out;
	return lost;
}

/* Whether one range maps all of [lo, lo + span) from a span-aligned host address. */
static NO_COVERAGE bool
uniform(const struct model *m, uint64_t lo, uint64_t span)
{
	const struct range *x = find(m, lo);

	return x && x->end >= lo + span && !((x->hpa + (lo - x->gpa)) & (span - 1));
}

/* Page size the canonical tables map gpa with (gpa mapped). */
static NO_COVERAGE uint64_t
page_size(const struct model *m, uint64_t gpa)
{
	if (uniform(m, gpa & ~(G1 - 1), G1))
		return G1;
	if (uniform(m, gpa & ~(M2 - 1), M2))
		return M2;
	return K4;
}

/* Tables of the canonical form: root, PDPT, a PD per mixed 1G block, a PT per mixed 2M one. */
static NO_COVERAGE uint64_t
model_tables(const struct model *m)
{
	uint64_t tables = 1 + (m->n > 0), last_2m = ~0ull;

	for (uint64_t g = 0; g < m->limit; g += G1) {
		if (!overlaps(m, g, g + G1) || uniform(m, g, G1))
			continue;
		tables++;
		for (unsigned i = 0; i < m->n; i++) {
			uint64_t lo = m->r[i].gpa > g ? m->r[i].gpa : g;
			uint64_t hi = m->r[i].end < g + G1 ? m->r[i].end : g + G1;

			if (lo >= hi)
				continue;
			/*
			 * Touched 2M blocks, each counted once, less those mapped whole
			 * by one leaf: by this range, the only one that can (a range
			 * starting inside a block leaves its start to another).
			 */
			for (uint64_t b = lo & ~(M2 - 1); b < hi; b += M2) {
				if (b == last_2m)
					continue;
				last_2m = b;
				tables += !(m->r[i].gpa <= b && m->r[i].end >= b + M2 &&
					    !((m->r[i].hpa + (b - m->r[i].gpa)) & (M2 - 1)));
			}
		}
	}
	return tables;
}

/* ---- the tables ---- */

/*
 * The tables are walked in address order, so the model's ranges are met in
 * order too: next is the first range that may hold the entry being checked.
 */
struct walk {
	const struct model *m;
	uint64_t tables;
	unsigned next;
	uint64_t clear_to;	/* the model maps nothing from the last address asked up to here */
};

/* The first range ending after va (m->n when none), for va at or after the last one asked. */
static inline __attribute__((no_sanitize("coverage"))) const struct range *
walk_range(struct walk *w, uint64_t va)
{
	while (w->next < w->m->n && w->m->r[w->next].end <= va)
		w->next++;
	return w->next < w->m->n ? &w->m->r[w->next] : NULL;
}

static NO_COVERAGE bool
foldable(const uint64_t *t, unsigned level)
{
	uint64_t span = 1ull << (12 + 9 * level), first = t[0] & (EPT_ADDR_MASK | PERM_ALL);

	if (level > 1 || !(t[0] & PERM_ALL) || (level && !(t[0] & EPT_LARGE)) ||
	    ((t[0] & EPT_ADDR_MASK) & (512 * span - 1)))
		return false;
	for (unsigned i = 1; i < 512; i++)
		if ((t[i] & (EPT_ADDR_MASK | PERM_ALL | EPT_LARGE)) !=
		    ((first + i * span) | (t[0] & EPT_LARGE)))
			return false;
	return true;
}

/* Every entry of table t (of level, mapping from base) against the model. */
static NO_COVERAGE void
walk_table(struct walk *w, const uint64_t *t, unsigned level, uint64_t base)
{
	uint64_t span = 1ull << (12 + 9 * level);
	unsigned present = 0;

	w->tables++;
	for (unsigned i = 0; i < 512; i++) {
		uint64_t va = base + i * span, x = t[i];
		const struct range *r;

		if (!(x & PERM_ALL)) {
			CHECK(x == 0);
			if (va + span > w->clear_to) {
				r = walk_range(w, va);
				w->clear_to = r ? r->gpa : ~0ull;
				CHECK(w->clear_to >= va + span);
			}
			continue;
		}
		present++;
		CHECK(va < w->m->limit);
		if (level > 0 && !(x & EPT_LARGE)) {
			CHECK((x & ~EPT_ADDR_MASK) == PERM_ALL);
			walk_table(w, (const uint64_t *)(uintptr_t)(x & EPT_ADDR_MASK), level - 1, va);
			continue;
		}
		CHECK(level <= 2);
		CHECK((x & ~(EPT_ADDR_MASK | PERM_ALL | (7ull << 3) | EPT_LARGE)) == 0);
		CHECK((x & (7ull << 3)) == EPT_MT_WB && !(x & EPT_ADDR_MASK & (span - 1)));
		r = walk_range(w, va);
		CHECK(r && r->gpa <= va && r->end >= va + span && r->perms == (x & PERM_ALL) &&
		      r->hpa + (va - r->gpa) == (x & EPT_ADDR_MASK));
	}
	if (level < 3)
		CHECK(present > 0 && !foldable(t, level));
}

static NO_COVERAGE void
check_lookup(const struct ept *e, const struct model *m, uint64_t gpa)
{
	const struct range *r = gpa < m->limit ? find(m, gpa) : NULL;
	uint64_t hpa, size;
	unsigned perms;

	if (!r) {
		CHECK(ept_lookup(e, gpa, &hpa, &perms, &size) == -1);
		return;
	}
	CHECK(ept_lookup(e, gpa, &hpa, &perms, &size) == 0);
	CHECK(hpa == r->hpa + (gpa - r->gpa) && perms == r->perms && size == page_size(m, gpa));
}

/* ---- the input ---- */

/*
 * 8 bytes: kind; grains and nudges; gpa (16 bits, in grains); size (16 bits,
 * in grains); perms and hpa mode and starvation; a small number.
 */
struct op_bytes {
	uint8_t kind, shape, gpa[2], size[2], mode, n;
};

static uint64_t
op_gpa(const struct op_bytes *b)
{
	uint64_t gpa = ((uint64_t)b->gpa[0] | (uint64_t)b->gpa[1] << 8) * grains[b->shape & 3];

	gpa &= 16 * G1 - 1;		/* up to twice the largest space */
	if (b->shape & 0x10)
		gpa += K4;
	if (b->shape & 0x20)
		gpa -= K4;		/* may wrap: an invalid range */
	return gpa;
}

static uint64_t
op_size(const struct op_bytes *b)
{
	uint64_t grain = grains[(b->shape >> 2) & 3];
	uint64_t units = ((uint64_t)b->size[0] | (uint64_t)b->size[1] << 8) % (grain == G1 ? 4 : 128);
	uint64_t size = (units + 1) * grain;

	if (b->shape & 0x40)
		size -= K4;		/* may be 0 */
	if (b->shape & 0x80)
		size += b->n & 1 ? 1 : K4;	/* unaligned, or one page past a boundary */
	return size;
}

static uint64_t
op_hpa(const struct op_bytes *b, uint64_t gpa)
{
	switch ((b->mode >> 4) & 3) {
	case 0:
		return gpa + HOST_OFF;
	case 1:
		return gpa + HOST_OFF + b->n * M2;
	case 2:
		return gpa + HOST_OFF + b->n * K4;
	default:	/* near the end of what EPT can address; HPA_END itself is invalid */
		return HPA_END - b->n * M2;
	}
}

/*
 * Pages other users of the pool hold while an operation runs: until only 'left'
 * are free, the lowest free pages are marked in use, as that many
 * pool_alloc_page calls would leave the pool (bitmap, count, hint), without
 * zeroing a page each.  The pages taken are those bits; unstarve frees them.
 */
static uint64_t held_bits[(POOL_PAGES + 63) / 64];

static NO_COVERAGE void
starve(size_t left)
{
	spin_lock(&pool.lock);
	for (size_t i = pool.hint; i < pool.npages && pool.free_pages > left; i++) {
		if (pool.bitmap[i / 64] & (1ull << (i % 64)))
			continue;
		pool.bitmap[i / 64] |= 1ull << (i % 64);
		held_bits[i / 64] |= 1ull << (i % 64);
		pool.free_pages--;
		pool.hint = i + 1;
	}
	spin_unlock(&pool.lock);
}

static NO_COVERAGE void
unstarve(void)
{
	spin_lock(&pool.lock);
	for (size_t w = 0; w < ARRAY_SIZE(held_bits); w++) {
		while (held_bits[w]) {
			size_t i = w * 64 + (size_t)__builtin_ctzll(held_bits[w]);

			held_bits[w] &= held_bits[w] - 1;
			CHECK(pool.bitmap[w] & (1ull << (i % 64)));
			pool.bitmap[w] &= ~(1ull << (i % 64));
			pool.free_pages++;
			if (i < pool.hint)
				pool.hint = i;
		}
	}
	spin_unlock(&pool.lock);
}

/* Pages in the caller's unmap reserve, by its list. */
static NO_COVERAGE unsigned
reserve_len(const uint64_t *reserve)
{
	unsigned n = 0;

	for (const uint64_t *p = reserve; p; p = (const uint64_t *)(uintptr_t)p[0])
		n++;
	return n;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	pool_mem = aligned_alloc(PAGE_SIZE, (POOL_PAGES + 1) * PAGE_SIZE);
	CHECK(pool_mem);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ept e;
	size_t free0;
	unsigned reserved = 0;		/* what the reserve holds: ept_reserve adds, unmaps use */
	uint64_t *reserve = NULL;	/* the caller's reserve, as hc_vm.c keeps one per map */
	struct walk w = { .m = &model };

	if (size < 1)
		return 0;
	CHECK(pool_init(&pool, pool_mem, (POOL_PAGES + 1) * PAGE_SIZE) == 0);
	free0 = pool_free_bytes(&pool) / PAGE_SIZE;
	model.n = 0;
	model.limit = (1 + data[0] % 16) * (G1 / 2) - (data[0] >> 4) % 3 * K4;
	CHECK(ept_init(&e, &pool, model.limit, EPT_LEAF_2M | EPT_LEAF_1G) == 0);
	data++;
	size--;

	for (unsigned n = 0; n < MAX_OPS && size >= sizeof(struct op_bytes); n++) {
		struct op_bytes b;
		uint64_t gpa, len, hpa, gen0 = e.generation, tables0 = e.table_pages;
		unsigned reserve0 = reserve_len(reserve);
		size_t avail;
		unsigned kind, perms;
		bool lost = false, valid;
		int rc, want = 0;

		memcpy(&b, data, sizeof(b));
		data += sizeof(b);
		size -= sizeof(b);
		kind = b.kind % (OP_KINDS + 2);
		kind = kind >= OP_KINDS ? OP_MAP : kind;	/* maps weigh more */
		gpa = op_gpa(&b);
		len = op_size(&b);
		hpa = op_hpa(&b, gpa);
		/*
		 * 4K leaves over gigabytes only cost time: two 2M blocks of them and
		 * the rest (up to four page tables, across a 1G boundary if gpa is
		 * near one) take every path a longer run takes.
		 */
		if (((b.mode >> 4) & 3) == 2 && len > 2 * M2)
			len = 2 * M2 + (len & (M2 - 1));
		perms = perm_table[b.mode & 15];
		if ((b.mode >> 6) == 3)
			starve(b.n % 8);
		avail = pool_free_bytes(&pool) / PAGE_SIZE;
		valid = range_ok(&model, gpa, len);
		trial = model;

		switch (kind) {
		case OP_MAP:
			if (!valid || !perms_ok(perms) || (hpa & (K4 - 1)) || hpa + len < hpa ||
			    hpa + len > HPA_END)
				want = -EPT_EINVAL;
			else if (overlaps(&model, gpa, gpa + len))
				want = -EPT_EEXIST;
			else {
				insert(&trial, (struct range){ gpa, gpa + len, hpa, perms });
				normalize(&trial);
			}
			rc = ept_map(&e, gpa, hpa, len, perms);
			break;
		case OP_UNMAP:
			if (!valid)
				want = -EPT_EINVAL;
			else
				lost = model_change(&trial, gpa, gpa + len, 0);
			avail += reserved;
			rc = ept_unmap_reserved(&e, gpa, len, &reserve);
			break;
		case OP_PROTECT:
			if (!valid || !perms_ok(perms))
				want = -EPT_EINVAL;
			else
				lost = model_change(&trial, gpa, gpa + len, perms);
			rc = ept_protect(&e, gpa, len, perms);
			break;
		case OP_RESERVE:
			want = avail < b.n % 8 ? -EPT_ENOMEM : 0;
			rc = ept_reserve(&e, &reserve, b.n % 8);
			CHECK(rc == want);
			reserved = rc ? 0 : reserved + b.n % 8;
			break;
		case OP_RELEASE:
			ept_release(&e, &reserve);
			reserved = 0;
			rc = 0;
			break;
		default:
			CHECK(ept_range_unmapped(&e, gpa, len) ==
			      (valid && !overlaps(&model, gpa, gpa + len)));
			rc = 0;
			break;
		}

		if (rc == -EPT_ENOMEM && want == 0 && kind != OP_RESERVE) {
			/* Only when the pool cannot hold the tables the result needs; all or nothing. */
			CHECK(avail < model_tables(&trial));
			CHECK(e.table_pages == tables0 && e.generation == gen0);
			/* A failed unmap gives back what it took from the reserve (corpus/ept/unmap-enomem-keeps-reserve). */
			CHECK(reserve_len(reserve) == reserve0);
		} else {
			CHECK(rc == want);
			model = trial;
			CHECK(!lost || e.generation > gen0);
		}
		CHECK(e.generation >= gen0 && (rc == 0 || e.generation == gen0));
		unstarve();
		/* Every CPU has synced (there are none here): retired tables go back. */
		ept_free_pending(&e, e.generation);

		/* Only an unmap may use the reserve, for tables; the pool holds tables and reserve. */
		CHECK(reserve_len(reserve) == reserved ||
		      (kind == OP_UNMAP && reserve_len(reserve) < reserved));
		reserved = reserve_len(reserve);
		CHECK(e.table_pages == model_tables(&model));
		CHECK(free0 - pool_free_bytes(&pool) / PAGE_SIZE == e.table_pages + reserved);
		check_lookup(&e, &model, gpa);
		check_lookup(&e, &model, gpa + len - K4);
		check_lookup(&e, &model, gpa - K4);
		check_lookup(&e, &model, gpa + len);
		check_lookup(&e, &model, gpa + b.n * M2);
	}

	walk_table(&w, e.pml4, 3, 0);
	CHECK(w.tables == e.table_pages);
	ept_release(&e, &reserve);
	ept_destroy(&e);
	CHECK(pool_free_bytes(&pool) / PAGE_SIZE == free0);
	return 0;
}
