/*
 * The physical memory map hvmetal keeps from the firmware: which ranges are RAM
 * (write-back, copyable for hypercalls) and which are something else (MMIO,
 * firmware-reserved, holes: uncached, never copied), plus hvmetal's own region,
 * hidden from the control domain.
 */
#ifndef HVMETAL_MEMMAP_H
#define HVMETAL_MEMMAP_H

#include <stdbool.h>
#include <stdint.h>

#define MEMMAP_MAX_RANGES	256

enum memmap_kind {
	MEMMAP_OTHER = 0,	/* MMIO, reserved, hole: uncached */
	MEMMAP_RAM,		/* write-back memory the control domain owns */
};

struct memmap_range {
	uint64_t base, size;
	uint32_t kind;
};

struct memmap {
	uint32_t count;		/* ranges, sorted, merged, non-overlapping */
	struct memmap_range range[MEMMAP_MAX_RANGES];
	uint64_t hidden_base, hidden_size;	/* hvmetal's own memory */
};

void memmap_init(struct memmap *m);
/* Adds a RAM range (page-rounded inward); returns -1 when the table is full. */
int memmap_add_ram(struct memmap *m, uint64_t base, uint64_t size);
void memmap_set_hidden(struct memmap *m, uint64_t base, uint64_t size);

/* Kind of every byte of [base, base + size) if they all share one, else -1. */
int memmap_uniform_kind(const struct memmap *m, uint64_t base, uint64_t size);
/* True when [base, base + size) overlaps hvmetal's hidden region. */
bool memmap_overlaps_hidden(const struct memmap *m, uint64_t base, uint64_t size);
/* True when the page at gpa is RAM the control domain may hand to hvmetal. */
bool memmap_is_cd_ram(const struct memmap *m, uint64_t gpa);
/* End of the highest RAM range. */
uint64_t memmap_ram_top(const struct memmap *m);

#endif
