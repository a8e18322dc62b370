/*
 * A virtual window whose 4 KiB pages the caller places anywhere in physical
 * memory: page tables of our own (the firmware's top level copied, the window
 * in a free top-level slot), active only between window_enter and window_leave
 * with interrupts off.  Lets a test hand hvmetal a uva range that is not
 * physically contiguous.
 */
#ifndef HVTEST_WINDOW_H
#define HVTEST_WINDOW_H

#include <efi.h>
#include <stdint.h>

struct window {
	EFI_PHYSICAL_ADDRESS tables;
	uint64_t table_pages;
	uint64_t *pte;		/* one entry per window page: fill with hpa | WINDOW_RW */
	void *va;		/* the window's first byte */
	uint64_t old_cr3, flags;
};

#define WINDOW_RW	3ull	/* present, writable */

/* Up to 1 GiB of pages, all not present; 0, or -1 when out of memory or slots. */
int window_open(struct window *w, uint64_t pages);
void window_enter(struct window *w);
void window_leave(struct window *w);
void window_close(struct window *w);

#endif
