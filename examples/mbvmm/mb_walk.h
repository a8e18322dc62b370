/*
 * A guest linear address to guest-physical through the guest's own page
 * tables, in guest RAM (a byte array here): paging off, 32-bit (4 MiB pages
 * with PSE), PAE, and 4-level long mode with 2 MiB and 1 GiB pages. For
 * reading the instruction an MMIO exit stopped at. Pure.
 */
#ifndef MB_WALK_H
#define MB_WALK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mb_paging {
	uint64_t cr0, cr3, cr4, efer;
};

/* False when a table is outside RAM or an entry is not present. */
bool mb_walk(const uint8_t *ram, size_t ram_size, const struct mb_paging *p, uint64_t linear, uint64_t *gpa);

#endif
