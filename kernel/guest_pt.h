/*
 * Guest page-table walker: translates a guest linear address to a
 * guest-physical address the way the CPU would for the guest's current
 * paging state, including the permission checks of SDM vol. 3 4.6.
 *
 * The walker is read-only: it never sets accessed or dirty bits, so a
 * caller that completes an access on the guest's behalf must set them
 * itself if the guest is to see them.  Not modelled: protection keys,
 * CET shadow-stack pages, linear-address masking, and the implicit
 * supervisor accesses (descriptor tables) that ignore RFLAGS.AC for SMAP.
 */
#ifndef HVMETAL_GUEST_PT_H
#define HVMETAL_GUEST_PT_H

#include <stdbool.h>
#include <stdint.h>

struct guest_paging {		/* snapshot of the caller's paging state, read from the VMCS */
	uint64_t cr0, cr3, cr4, efer, rflags;
	unsigned maxphyaddr;	/* CPUID.80000008H:EAX[7:0], e.g. 39..52 */
};

/*
 * Reads 8 bytes of guest-physical memory at an 8-byte aligned gpa.  Returns
 * false when the page is not something the caller may reach (hidden, MMIO,
 * beyond RAM): the walk fails.
 */
typedef bool (*guest_pt_read_fn)(void *ctx, uint64_t gpa, uint64_t *val);

enum guest_pt_access {		/* bit flags; none set is a supervisor data read */
	GUEST_PT_WRITE = 1,
	GUEST_PT_USER = 2,	/* CPL 3 access */
	GUEST_PT_EXEC = 4,	/* instruction fetch; not combined with WRITE */
};

enum guest_pt_result {
	GUEST_PT_OK = 0,
	GUEST_PT_NOT_PRESENT,	/* some level has P=0 */
	GUEST_PT_PROTECTION,	/* present but access not allowed (W, U/S, NX, SMEP, SMAP) */
	GUEST_PT_RESERVED,	/* reserved bit set in a present entry */
	GUEST_PT_NONCANONICAL,	/* linear address not canonical for 4- or 5-level paging */
	GUEST_PT_BAD_TABLE,	/* read callback refused a table's address */
};

struct guest_pt_walk {		/* result of a successful walk */
	uint64_t gpa;
	uint64_t page_size;	/* 4K, 2M, 4M (32-bit PSE), or 1G; 0 when paging is off */
};

/*
 * Translates gva for an access of kind 'access' (enum guest_pt_access).
 * Entries are checked top-down as the CPU does: P first, then reserved
 * bits; permissions are checked once the whole walk has succeeded.
 * 'out' is written only on GUEST_PT_OK.
 */
enum guest_pt_result guest_pt_translate(const struct guest_paging *pg,
					guest_pt_read_fn read, void *ctx,
					uint64_t gva, unsigned access,
					struct guest_pt_walk *out);

/* True if va is canonical for 5-level (la57) or 4-level paging. */
bool guest_pt_canonical(uint64_t va, bool la57);

#endif /* HVMETAL_GUEST_PT_H */
