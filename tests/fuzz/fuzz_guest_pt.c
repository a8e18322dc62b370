/*
 * Fuzzes the guest page-table walker and copies through it
 * (kernel/guest_pt.c, hypercall/uaccess.c, kernel/memmap.c).
 *
 * Input: a header (struct header: paging mode bits, CR3, MAXPHYADDR, an
 * address, a length, what to do, which frames the memory map calls RAM and
 * where hvmetal's hidden region lies, and where each frame sits in physical
 * memory), then 8-byte writes into NFRAMES 4 KiB frames (struct poke) over a
 * recognisable pattern: page-table entries, mostly.  Each frame is a heap
 * block of its own, so ASan catches any access that crosses out of one.
 *
 * Checks: guest_pt_translate gives exactly what a reference walk written from
 * the SDM gives, for the access asked and for every page of the copy; a copy
 * succeeds exactly when every page is reachable and control-domain RAM, and
 * then moves exactly the reference's bytes; a failed copy changes nothing;
 * nothing outside the frames, outside RAM or in the hidden region is ever
 * touched (phys() aborts); uaccess_translate's extent is all reachable RAM.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hypercall/uaccess.h"
#include "kernel/guest_pt.h"
#include "kernel/memmap.h"

/* A broken invariant: say which, then abort (libFuzzer saves the input). */
#define CHECK(c)	do { if (!(c)) { fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, #c); \
				  abort(); } } while (0)

/* Bookkeeping whose branches are no guide for the fuzzer and cost time in long loops. */
#define NO_COVERAGE	__attribute__((no_sanitize("coverage"), noinline))

#define NFRAMES		8
#define PG		4096ull
#define BITS(hi, lo)	((~0ull >> (63 - (hi))) & ~((1ull << (lo)) - 1))

#define CR0_WP		(1ull << 16)
#define CR0_PG		(1ull << 31)
#define CR4_PSE		(1ull << 4)
#define CR4_PAE		(1ull << 5)
#define CR4_LA57	(1ull << 12)
#define CR4_SMEP	(1ull << 20)
#define CR4_SMAP	(1ull << 21)
#define EFER_LMA	(1ull << 10)
#define EFER_NXE	(1ull << 11)
#define RFLAGS_AC	(1ull << 18)

#define P		(1ull << 0)
#define RW		(1ull << 1)
#define US		(1ull << 2)
#define PS		(1ull << 7)
#define XD		(1ull << 63)

enum what { DO_COPY_IN, DO_COPY_OUT, DO_FETCH, DO_TRANSLATE };

struct header {
	uint8_t cr0;		/* bit 0: PG, 1: WP */
	uint8_t cr4;		/* bit 0: PSE, 1: PAE, 2: LA57, 3: SMEP, 4: SMAP */
	uint8_t efer;		/* bit 0: LMA, 1: NXE, 2: RFLAGS.AC */
	uint8_t maxphyaddr;	/* 36 + this % 17 */
	uint8_t cr3_frame;	/* CR3 = that frame's address | cr3_low & 0xfff */
	uint8_t cr3_low[2];
	uint8_t gva[8];
	uint8_t len[2];		/* 1 + this (13 bits; 16 with what's bit 3), + UACCESS_MAX with bit 2 */
	uint8_t what;		/* enum what in bits 1:0; bits 6:4 the walk's access */
	uint8_t ram;		/* bit k: frame k is RAM in the memory map */
	uint8_t ram_slack[2];	/* bytes added around each RAM frame: rounded away */
	uint8_t hidden_frame, hidden_off[2], hidden_size;	/* 512-byte units; 0: none */
	uint8_t pfn[NFRAMES][4];	/* where each frame is: pfn & 0xffffffff */
};

/* Puts value at 8-byte slot 'slot' (mod 512) of frame 'frame' (mod NFRAMES). */
struct poke {
	uint8_t frame, slot[2], value[8];
};

struct mem {
	uint64_t pa[NFRAMES];
	uint8_t *frame[NFRAMES];
	bool ram[NFRAMES];		/* the memory map says RAM */
	uint64_t hidden_base, hidden_size;
};

static struct mem mem;
static struct memmap map;
static uint8_t snapshot[NFRAMES][PG];

/* ---- the fake physical memory and what may be reached ---- */

/* The frame holding pa (the first, where two share an address), or -1. */
static NO_COVERAGE int
frame_of(uint64_t pa)
{
	for (int k = 0; k < NFRAMES; k++)
		if (mem.pa[k] == (pa & ~(PG - 1)))
			return k;
	return -1;
}

/* Control-domain RAM: some frame there is RAM, and none of the page is hidden. */
static NO_COVERAGE bool
cd_ram(uint64_t pa)
{
	uint64_t page = pa & ~(PG - 1);
	bool ram = false;

	for (int k = 0; k < NFRAMES; k++)
		ram |= mem.ram[k] && mem.pa[k] == page;
	return ram && !(mem.hidden_size && page < mem.hidden_base + mem.hidden_size &&
			mem.hidden_base < page + PG);
}

/* uaccess's view of memory: only ever for control-domain RAM. */
static void *
phys(uint64_t pa)
{
	CHECK(cd_ram(pa) && frame_of(pa) >= 0);
	return mem.frame[frame_of(pa)] + (pa & (PG - 1));
}

/* guest_pt's table reads in the direct comparison: any frame. */
static bool
read_any(void *ctx, uint64_t gpa, uint64_t *val)
{
	int k = frame_of(gpa);

	(void)ctx;
	CHECK(!(gpa & 7));
	if (k < 0)
		return false;
	memcpy(val, mem.frame[k] + (gpa & (PG - 1)), 8);
	return true;
}

/* ---- the reference walk ---- */

struct ref {
	bool ram_only;		/* tables must be control-domain RAM (as uaccess reads them) */
	bool user, write, nx;
};

static bool
ref_read(struct ref *r, uint64_t pa, unsigned size, uint64_t *val)
{
	int k = frame_of(pa);

	*val = 0;
	if (k < 0 || (r->ram_only && !cd_ram(pa)))
		return false;
	memcpy(val, mem.frame[k] + (pa & (PG - 1)), size);
	return true;
}

static void
ref_rights(struct ref *r, uint64_t entry)
{
	r->user &= !!(entry & US);
	r->write &= !!(entry & RW);
	r->nx |= !!(entry & XD);
}

/* 32-bit paging (SDM 4.3): 4-byte entries, 4 MiB pages with PSE-36. */
static enum guest_pt_result
ref_walk32(struct ref *r, const struct guest_paging *pg, uint32_t la, struct guest_pt_walk *w)
{
	unsigned m = pg->maxphyaddr < 40 ? pg->maxphyaddr : 40;
	uint64_t pde, pte;

	if (!ref_read(r, (pg->cr3 & 0xfffff000u) + (la >> 22) * 4, 4, &pde))
		return GUEST_PT_BAD_TABLE;
	if (!(pde & P))
		return GUEST_PT_NOT_PRESENT;
	if ((pg->cr4 & CR4_PSE) && (pde & PS)) {
		if (pde & BITS(21, m - 19))
			return GUEST_PT_RESERVED;
		ref_rights(r, pde);
		w->gpa = ((pde >> 13) & BITS(m - 33, 0)) << 32 | (pde & 0xffc00000u) |
			 (la & 0x3fffff);
		w->page_size = 4ull << 20;
		return GUEST_PT_OK;
	}
	ref_rights(r, pde);
	if (!ref_read(r, (pde & 0xfffff000u) + ((la >> 12) & 0x3ff) * 4, 4, &pte))
		return GUEST_PT_BAD_TABLE;
	if (!(pte & P))
		return GUEST_PT_NOT_PRESENT;
	ref_rights(r, pte);
	w->gpa = (pte & 0xfffff000u) | (la & 0xfff);
	w->page_size = PG;
	return GUEST_PT_OK;
}

/*
 * 8-byte entries, 'level' levels down to the page (SDM 4.4, 4.5): reserved
 * are the bits from MAXPHYADDR up to 'top', XD without EFER.NXE, PS in a
 * PML5E or PML4E, and in a large page the bits between PAT and its address.
 */
static enum guest_pt_result
ref_walk8(struct ref *r, const struct guest_paging *pg, uint64_t table, uint64_t la,
	  unsigned level, unsigned top, struct guest_pt_walk *w)
{
	unsigned m = pg->maxphyaddr;
	uint64_t above = BITS(top, m) | (pg->efer & EFER_NXE ? 0 : XD);

	for (;; level--) {
		unsigned shift = 3 + 9 * level;
		uint64_t e;

		if (!ref_read(r, table + ((la >> shift) & 511) * 8, 8, &e))
			return GUEST_PT_BAD_TABLE;
		if (!(e & P))
			return GUEST_PT_NOT_PRESENT;
		if ((e & above) || (level >= 4 && (e & PS)) ||
		    (level > 1 && level < 4 && (e & PS) && (e & BITS(shift - 1, 13))))
			return GUEST_PT_RESERVED;
		ref_rights(r, e);
		if (level == 1 || (e & PS)) {
			w->gpa = (e & BITS(m - 1, shift)) | (la & BITS(shift - 1, 0));
			w->page_size = 1ull << shift;
			return GUEST_PT_OK;
		}
		table = e & BITS(m - 1, 12);
	}
}

/* SDM 4.6: after a complete walk. */
static enum guest_pt_result
ref_rights_ok(const struct ref *r, const struct guest_paging *pg, unsigned access)
{
	bool write = access & GUEST_PT_WRITE, exec = access & GUEST_PT_EXEC;

	if (exec && r->nx)
		return GUEST_PT_PROTECTION;
	if (access & GUEST_PT_USER)
		return r->user && (!write || r->write) ? GUEST_PT_OK : GUEST_PT_PROTECTION;
	if (write && !r->write && (pg->cr0 & CR0_WP))
		return GUEST_PT_PROTECTION;
	if (r->user && exec && (pg->cr4 & CR4_SMEP))
		return GUEST_PT_PROTECTION;
	if (r->user && !exec && (pg->cr4 & CR4_SMAP) && !(pg->rflags & RFLAGS_AC))
		return GUEST_PT_PROTECTION;
	return GUEST_PT_OK;
}

static enum guest_pt_result
ref_translate(const struct guest_paging *pg, bool ram_only, uint64_t va, unsigned access,
	      struct guest_pt_walk *w)
{
	struct ref r = { .ram_only = ram_only, .user = true, .write = true };
	unsigned m = pg->maxphyaddr;
	enum guest_pt_result res;
	uint64_t pdpte;

	if (!(pg->cr0 & CR0_PG)) {
		*w = (struct guest_pt_walk){ .gpa = (uint32_t)va };
		return GUEST_PT_OK;
	}
	if (!(pg->cr4 & CR4_PAE)) {
		res = ref_walk32(&r, pg, (uint32_t)va, w);
	} else if (!(pg->efer & EFER_LMA)) {
		/* PAE: four PDPTEs with no rights of their own, then 2 levels. */
		if (!ref_read(&r, ((uint32_t)pg->cr3 & ~0x1fu) + ((uint32_t)va >> 30) * 8, 8, &pdpte))
			return GUEST_PT_BAD_TABLE;
		if (!(pdpte & P))
			return GUEST_PT_NOT_PRESENT;
		if (pdpte & (BITS(63, m) | BITS(8, 5) | BITS(2, 1)))
			return GUEST_PT_RESERVED;
		res = ref_walk8(&r, pg, pdpte & BITS(m - 1, 12), (uint32_t)va, 2, 62, w);
	} else {
		bool la57 = pg->cr4 & CR4_LA57;
		int64_t sext = la57 ? (int64_t)(va << 7) >> 7 : (int64_t)(va << 16) >> 16;

		if ((uint64_t)sext != va)
			return GUEST_PT_NONCANONICAL;
		res = ref_walk8(&r, pg, pg->cr3 & BITS(m - 1, 12), va, la57 ? 5 : 4, 51, w);
	}
	return res == GUEST_PT_OK ? ref_rights_ok(&r, pg, access) : res;
}

/* ---- the checks ---- */

/* guest_pt_translate against the reference, any frame readable as a table. */
static void
check_walk(const struct guest_paging *pg, uint64_t va, unsigned access)
{
	struct guest_pt_walk got = { 0x5a5a, 0x5a5a }, want = { 0 };
	enum guest_pt_result rc = guest_pt_translate(pg, read_any, NULL, va, access, &got);

	CHECK(rc == ref_translate(pg, false, va, access, &want));
	if (rc == GUEST_PT_OK)
		CHECK(got.gpa == want.gpa && got.page_size == want.page_size);
	else
		CHECK(got.gpa == 0x5a5a && got.page_size == 0x5a5a);
}

/* Where each page of [va, va + n) is for a copy, as uaccess must see it; false if any is out of reach. */
static bool
ref_plan(const struct guest_paging *pg, uint64_t va, size_t n, unsigned access, uint64_t *gpa,
	 size_t *npages)
{
	size_t count = ((va & (PG - 1)) + n + PG - 1) / PG;

	if (n == 0 || n > UACCESS_MAX || va + n < va)
		return false;
	for (size_t i = 0; i < count; i++) {
		struct guest_pt_walk w;
		uint64_t page_va = i ? (va & ~(PG - 1)) + i * PG : va;

		check_walk(pg, page_va, access);
		if (ref_translate(pg, true, page_va, access, &w) != GUEST_PT_OK || !cd_ram(w.gpa))
			return false;
		gpa[i] = w.gpa;
	}
	*npages = count;
	return true;
}

/* A recognisable pattern: no two nearby pages or offsets alike. */
static NO_COVERAGE void
fill(uint8_t *p, size_t n, uint8_t seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 7 + (i >> 12) * 29 + seed);
}

static NO_COVERAGE void
save(void)
{
	for (int k = 0; k < NFRAMES; k++)
		memcpy(snapshot[k], mem.frame[k], PG);
}

static NO_COVERAGE bool
unchanged(void)
{
	for (int k = 0; k < NFRAMES; k++)
		if (memcmp(snapshot[k], mem.frame[k], PG))
			return false;
	return true;
}

/* A copy in, out or fetch of n bytes at va. */
static void
check_copy(const struct uaccess *ua, enum what what, uint64_t va, size_t n)
{
	static const unsigned access[] = { 0, GUEST_PT_WRITE, GUEST_PT_EXEC };
	static uint8_t buf[2 * UACCESS_MAX], want[2 * UACCESS_MAX];
	uint64_t gpa[UACCESS_MAX / PG + 2];
	size_t npages = 0, done = 0;
	bool ok = ref_plan(&ua->pg, va, n, access[what], gpa, &npages);
	int rc;

	fill(buf, n, 7);
	fill(want, n, 7);
	save();
	if (what == DO_COPY_OUT)
		rc = uaccess_copy_out(ua, va, buf, n);
	else if (what == DO_FETCH)
		rc = uaccess_fetch(ua, buf, va, n);
	else
		rc = uaccess_copy_in(ua, buf, va, n);
	CHECK(rc == (ok ? 0 : -1));
	if (!ok) {
		CHECK(unchanged() && !memcmp(buf, want, n));
		return;
	}
	/* The reference copy: page by page, into the snapshot or out of the frames. */
	for (size_t i = 0; i < npages && done < n; i++) {
		int k = frame_of(gpa[i]);
		size_t off = gpa[i] & (PG - 1), chunk = PG - off < n - done ? PG - off : n - done;

		if (what == DO_COPY_OUT)
			memcpy(snapshot[k] + off, want + done, chunk);
		else
			memcpy(want + done, mem.frame[k] + off, chunk);
		done += chunk;
	}
	CHECK(done == n && unchanged() && !memcmp(buf, want, n));
}

/* uaccess_translate: the reference's address, and an extent that is all reachable RAM. */
static void
check_translate(const struct uaccess *ua, uint64_t va)
{
	struct guest_pt_walk w;
	uint64_t gpa = 1, extent = 1, size;
	int rc = uaccess_translate(ua, va, &gpa, &extent);

	check_walk(&ua->pg, va, 0);
	if (ref_translate(&ua->pg, true, va, 0, &w) != GUEST_PT_OK) {
		CHECK(rc == -1);
		return;
	}
	size = w.page_size ? w.page_size : PG;
	if (rc < 0) {
		CHECK(!cd_ram(w.gpa));
		return;
	}
	CHECK(gpa == w.gpa && extent >= 1 && extent <= size - (gpa & (size - 1)));
	/* Either the whole rest of the page, or the rest of its first 4 KiB. */
	CHECK(extent == size - (gpa & (size - 1)) || extent == PG - (gpa & (PG - 1)));
	for (uint64_t a = gpa & ~(PG - 1); a < gpa + extent; a += PG)
		CHECK(cd_ram(a));
}

/* ---- the input ---- */

static NO_COVERAGE uint64_t
le(const uint8_t *b, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)b[i] << (8 * i);
	return v;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	for (int k = 0; k < NFRAMES; k++) {
		mem.frame[k] = malloc(PG);
		CHECK(mem.frame[k]);
	}
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct header h;
	struct uaccess ua = { .map = &map, .phys = phys };
	uint64_t va, slack, below;
	enum what what;
	size_t n;

	if (size < sizeof(h))
		return 0;
	memcpy(&h, data, sizeof(h));
	data += sizeof(h);
	size -= sizeof(h);

	memmap_init(&map);
	slack = le(h.ram_slack, 2) & (PG - 1);
	for (int k = 0; k < NFRAMES; k++) {
		fill(mem.frame[k], PG, (uint8_t)(k * 13 + 1));
		mem.pa[k] = le(h.pfn[k], 4) * PG;
		mem.ram[k] = h.ram >> k & 1;
		/* Slack short of a page on either side rounds away. */
		below = mem.pa[k] ? slack & 0xff : 0;
		if (mem.ram[k])
			CHECK(memmap_add_ram(&map, mem.pa[k] - below, PG + slack) == 0);
	}
	for (; size >= sizeof(struct poke); data += sizeof(struct poke), size -= sizeof(struct poke)) {
		const struct poke *p = (const void *)data;

		memcpy(mem.frame[p->frame % NFRAMES] + (le(p->slot, 2) % 512) * 8, p->value, 8);
	}
	mem.hidden_base = mem.pa[h.hidden_frame % NFRAMES] + le(h.hidden_off, 2) % PG;
	mem.hidden_size = h.hidden_size * 512ull;
	memmap_set_hidden(&map, mem.hidden_base, mem.hidden_size);

	ua.pg = (struct guest_paging){
		.cr0 = (h.cr0 & 1 ? CR0_PG : 0) | (h.cr0 & 2 ? CR0_WP : 0),
		.cr3 = mem.pa[h.cr3_frame % NFRAMES] | (le(h.cr3_low, 2) & 0xfff),
		.cr4 = (h.cr4 & 1 ? CR4_PSE : 0) | (h.cr4 & 2 ? CR4_PAE : 0) |
		       (h.cr4 & 4 ? CR4_LA57 : 0) | (h.cr4 & 8 ? CR4_SMEP : 0) |
		       (h.cr4 & 16 ? CR4_SMAP : 0),
		.efer = (h.efer & 1 ? EFER_LMA : 0) | (h.efer & 2 ? EFER_NXE : 0),
		.rflags = h.efer & 4 ? RFLAGS_AC : 0,
		.maxphyaddr = 36 + h.maxphyaddr % 17,
	};
	va = le(h.gva, 8);
	/* Mostly up to 8 KiB (three pages); up to the limit, or past it, now and then. */
	n = 1 + (le(h.len, 2) & (h.what & 8 ? 0xffff : 0x1fff)) + (h.what & 4 ? UACCESS_MAX : 0);
	what = (enum what)(h.what & 3);

	/* Any access the walker knows: write, user, exec (not with write). */
	check_walk(&ua.pg, va, (h.what >> 4) & 7 & ~((h.what >> 4) & 4 ? GUEST_PT_WRITE : 0));
	if (what == DO_TRANSLATE)
		check_translate(&ua, va);
	else
		check_copy(&ua, what, va, n);
	return 0;
}
