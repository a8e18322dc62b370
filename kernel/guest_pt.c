/*
 * Guest page-table walker (SDM vol. 3 chapter 4).
 *
 * 32-bit paging handles PSE-36: a 4 MiB PDE supplies physical bits
 * (M-1):32 in its bits (M-20):13, with M = min(MAXPHYADDR, 40).
 */
#include "guest_pt.h"

#define GUEST_PT_CR0_WP		(1ull << 16)
#define GUEST_PT_CR0_PG		(1ull << 31)
#define GUEST_PT_CR4_PSE	(1ull << 4)
#define GUEST_PT_CR4_PAE	(1ull << 5)
#define GUEST_PT_CR4_LA57	(1ull << 12)
#define GUEST_PT_CR4_SMEP	(1ull << 20)
#define GUEST_PT_CR4_SMAP	(1ull << 21)
#define GUEST_PT_EFER_LMA	(1ull << 10)
#define GUEST_PT_EFER_NXE	(1ull << 11)
#define GUEST_PT_RFLAGS_AC	(1ull << 18)

#define GUEST_PT_P		(1ull << 0)
#define GUEST_PT_RW		(1ull << 1)
#define GUEST_PT_US		(1ull << 2)
#define GUEST_PT_PS		(1ull << 7)
#define GUEST_PT_XD		(1ull << 63)

#define GUEST_PT_4M		(1ull << 22)

/* Access rights combined over every level of the walk (SDM 4.6.1). */
struct guest_pt_rights {
	bool user;	/* U/S=1 at every level */
	bool write;	/* R/W=1 at every level */
	bool nx;	/* XD=1 at some level */
};

/* Bits hi..lo inclusive; empty when lo > hi. */
static uint64_t
guest_pt_bits(unsigned hi, unsigned lo)
{
	if (lo > hi)
		return 0;
	return (~0ull >> (63 - hi)) & ~((1ull << lo) - 1);
}

static unsigned
guest_pt_maxphyaddr(const struct guest_paging *pg)
{
	/* Architecturally 36..52; clamping keeps every shift below defined. */
	if (pg->maxphyaddr < 32)
		return 32;
	if (pg->maxphyaddr > 52)
		return 52;
	return pg->maxphyaddr;
}

static void
guest_pt_accumulate(struct guest_pt_rights *r, uint64_t entry)
{
	r->user = r->user && (entry & GUEST_PT_US);
	r->write = r->write && (entry & GUEST_PT_RW);
	r->nx = r->nx || (entry & GUEST_PT_XD);
}

bool
guest_pt_canonical(uint64_t va, bool la57)
{
	uint64_t top = va >> (la57 ? 56 : 47);

	/* Bits 63:N-1 must all equal bit N-1. */
	return top == 0 || top == (~0ull >> (la57 ? 56 : 47));
}

/* 32-bit paging entries are 4 bytes; the callback reads aligned 8. */
static bool
guest_pt_read32(guest_pt_read_fn read, void *ctx, uint64_t gpa, uint32_t *val)
{
	uint64_t v;

	if (!read(ctx, gpa & ~7ull, &v))
		return false;
	*val = (uint32_t)(v >> ((gpa & 4) * 8));
	return true;
}

static enum guest_pt_result
guest_pt_walk32(const struct guest_paging *pg, guest_pt_read_fn read,
		void *ctx, uint32_t la, struct guest_pt_rights *r,
		struct guest_pt_walk *w)
{
	uint32_t pde, pte;
	unsigned m;

	if (!guest_pt_read32(read, ctx, (pg->cr3 & 0xfffff000u) |
	    ((la >> 22) << 2), &pde))
		return GUEST_PT_BAD_TABLE;
	if (!(pde & GUEST_PT_P))
		return GUEST_PT_NOT_PRESENT;
	guest_pt_accumulate(r, pde);

	/* Without CR4.PSE the PS bit is ignored and the PDE maps a table. */
	if ((pde & GUEST_PT_PS) && (pg->cr4 & GUEST_PT_CR4_PSE)) {
		m = guest_pt_maxphyaddr(pg);
		if (m > 40)
			m = 40;
		if (pde & guest_pt_bits(21, m - 19))
			return GUEST_PT_RESERVED;
		w->gpa = ((uint64_t)((pde >> 13) & ((1u << (m - 32)) - 1)) << 32) |
		    (pde & ~(uint32_t)(GUEST_PT_4M - 1)) | (la & (GUEST_PT_4M - 1));
		w->page_size = GUEST_PT_4M;
		return GUEST_PT_OK;
	}

	if (!guest_pt_read32(read, ctx, (pde & 0xfffff000u) |
	    (((la >> 12) & 0x3ff) << 2), &pte))
		return GUEST_PT_BAD_TABLE;
	if (!(pte & GUEST_PT_P))
		return GUEST_PT_NOT_PRESENT;
	guest_pt_accumulate(r, pte);
	w->gpa = (pte & 0xfffff000u) | (la & 0xfff);
	w->page_size = 4096;
	return GUEST_PT_OK;
}

/*
 * Walks 8-byte entries from 'level' (5 = PML5 .. 1 = PT) down.  'rsvd' is
 * the mode's reserved bits above the address, common to every level.
 */
static enum guest_pt_result
guest_pt_walk64(const struct guest_paging *pg, guest_pt_read_fn read,
		void *ctx, uint64_t table, uint64_t la, unsigned level,
		uint64_t rsvd, struct guest_pt_rights *r,
		struct guest_pt_walk *w)
{
	uint64_t addr = guest_pt_bits(guest_pt_maxphyaddr(pg) - 1, 12);
	uint64_t entry, bad, off;
	unsigned shift;

	if (!(pg->efer & GUEST_PT_EFER_NXE))
		rsvd |= GUEST_PT_XD;

	for (;; level--) {
		shift = 12 + 9 * (level - 1);
		if (!read(ctx, table + ((la >> shift) & 511) * 8, &entry))
			return GUEST_PT_BAD_TABLE;
		if (!(entry & GUEST_PT_P))
			return GUEST_PT_NOT_PRESENT;

		/*
		 * PML5E/PML4E cannot map pages.  A large page's address
		 * starts at bit 'shift'; bit 12 is PAT and the bits between
		 * are reserved.  In a PTE, bit 7 is PAT, not PS.
		 */
		bad = rsvd;
		if (level >= 4)
			bad |= GUEST_PT_PS;
		else if (level > 1 && (entry & GUEST_PT_PS))
			bad |= guest_pt_bits(shift - 1, 13);
		if (entry & bad)
			return GUEST_PT_RESERVED;
		guest_pt_accumulate(r, entry);

		if (level == 1 || (entry & GUEST_PT_PS)) {
			off = (1ull << shift) - 1;
			w->gpa = (entry & addr & ~off) | (la & off);
			w->page_size = 1ull << shift;
			return GUEST_PT_OK;
		}
		table = entry & addr;
	}
}

static enum guest_pt_result
guest_pt_walk_pae(const struct guest_paging *pg, guest_pt_read_fn read,
		  void *ctx, uint32_t la, struct guest_pt_rights *r,
		  struct guest_pt_walk *w)
{
	unsigned m = guest_pt_maxphyaddr(pg);
	uint64_t pdpte;

	/*
	 * The CPU loads the four PDPTEs at CR3 write (with EPT, VM entry
	 * loads them from the VMCS) and does not re-read them per walk;
	 * reading memory is right as long as the guest has not changed
	 * them since.
	 */
	if (!read(ctx, ((uint32_t)pg->cr3 & ~0x1fu) + (la >> 30) * 8, &pdpte))
		return GUEST_PT_BAD_TABLE;
	if (!(pdpte & GUEST_PT_P))
		return GUEST_PT_NOT_PRESENT;
	/* PDPTEs carry no R/W, U/S or XD: those bits are reserved. */
	if (pdpte & (guest_pt_bits(63, m) | guest_pt_bits(8, 5) |
	    guest_pt_bits(2, 1)))
		return GUEST_PT_RESERVED;

	/* Unlike 4-level paging, PAE reserves bits 62:52 too. */
	return guest_pt_walk64(pg, read, ctx, pdpte & guest_pt_bits(m - 1, 12),
	    la, 2, guest_pt_bits(62, m), r, w);
}

static enum guest_pt_result
guest_pt_walk_long(const struct guest_paging *pg, guest_pt_read_fn read,
		   void *ctx, uint64_t la, struct guest_pt_rights *r,
		   struct guest_pt_walk *w)
{
	unsigned m = guest_pt_maxphyaddr(pg);
	bool la57 = pg->cr4 & GUEST_PT_CR4_LA57;

	if (!guest_pt_canonical(la, la57))
		return GUEST_PT_NONCANONICAL;
	/* Bits 62:52 are ignored (or protection keys), not reserved. */
	return guest_pt_walk64(pg, read, ctx, pg->cr3 & guest_pt_bits(m - 1, 12),
	    la, la57 ? 5 : 4, guest_pt_bits(51, m), r, w);
}

/* SDM 4.6.1; XD can only be set here when EFER.NXE=1. */
static enum guest_pt_result
guest_pt_check(const struct guest_paging *pg, const struct guest_pt_rights *r,
	       unsigned access)
{
	bool write = access & GUEST_PT_WRITE;
	bool exec = access & GUEST_PT_EXEC;

	if (exec && r->nx)
		return GUEST_PT_PROTECTION;

	if (access & GUEST_PT_USER) {
		if (!r->user || (write && !r->write))
			return GUEST_PT_PROTECTION;
		return GUEST_PT_OK;
	}

	if (write && !r->write && (pg->cr0 & GUEST_PT_CR0_WP))
		return GUEST_PT_PROTECTION;
	if (r->user && exec && (pg->cr4 & GUEST_PT_CR4_SMEP))
		return GUEST_PT_PROTECTION;
	/* SMAP covers data accesses only; AC=1 lifts it for explicit ones. */
	if (r->user && !exec && (pg->cr4 & GUEST_PT_CR4_SMAP) &&
	    !(pg->rflags & GUEST_PT_RFLAGS_AC))
		return GUEST_PT_PROTECTION;
	return GUEST_PT_OK;
}

enum guest_pt_result
guest_pt_translate(const struct guest_paging *pg, guest_pt_read_fn read,
		   void *ctx, uint64_t gva, unsigned access,
		   struct guest_pt_walk *out)
{
	struct guest_pt_rights r = { .user = true, .write = true, .nx = false };
	struct guest_pt_walk w;
	enum guest_pt_result res;

	/* EFER.LMA requires CR0.PG, so without paging addresses are 32-bit. */
	if (!(pg->cr0 & GUEST_PT_CR0_PG)) {
		out->gpa = (uint32_t)gva;
		out->page_size = 0;
		return GUEST_PT_OK;
	}

	/* Outside IA-32e mode linear addresses are 32 bits. */
	if (!(pg->cr4 & GUEST_PT_CR4_PAE))
		res = guest_pt_walk32(pg, read, ctx, (uint32_t)gva, &r, &w);
	else if (!(pg->efer & GUEST_PT_EFER_LMA))
		res = guest_pt_walk_pae(pg, read, ctx, (uint32_t)gva, &r, &w);
	else
		res = guest_pt_walk_long(pg, read, ctx, gva, &r, &w);

	if (res == GUEST_PT_OK)
		res = guest_pt_check(pg, &r, access);
	if (res == GUEST_PT_OK)
		*out = w;
	return res;
}
