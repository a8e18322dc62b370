/*
 * Copies between hvmetal and a caller's virtual addresses, the way the caller's
 * CPU would reach them: its page tables (every mode, every permission), then the
 * memory map (RAM the control domain owns; never hvmetal's pages, never MMIO).
 * Every page is checked before any byte moves, so a failed copy changes nothing.
 */
#ifndef HVMETAL_UACCESS_H
#define HVMETAL_UACCESS_H

#include <stddef.h>
#include <stdint.h>
#include "kernel/guest_pt.h"
#include "kernel/memmap.h"

#define UACCESS_MAX	65536	/* longest argument a hypercall copies */

struct uaccess {
	struct guest_paging pg;		/* the caller's paging state at the VMCALL */
	const struct memmap *map;
	void *(*phys)(uint64_t pa);	/* where hvmetal sees physical address pa */
	unsigned access;		/* GUEST_PT_USER: every walk is a CPL 3 access */
};

/* 0, or -1 when any byte of [gva, gva + n) is out of the caller's reach. */
int uaccess_copy_in(const struct uaccess *ua, void *dst, uint64_t gva, size_t n);
int uaccess_copy_out(const struct uaccess *ua, uint64_t gva, const void *src, size_t n);
/*
 * Where gva is for a read (a user one with GUEST_PT_USER): its guest-physical address and how many bytes
 * from there on stay physically contiguous RAM of the caller inside the same page
 * of its page tables (so a 2 MiB or 1 GiB page is translated once). 0, or -1.
 */
int uaccess_translate(const struct uaccess *ua, uint64_t gva, uint64_t *gpa, uint64_t *extent);
/* As copy_in, for instruction bytes: the pages must be executable. */
int uaccess_fetch(const struct uaccess *ua, void *dst, uint64_t gva, size_t n);

#endif
