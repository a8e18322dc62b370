/*
 * hvmetal runs from a copy of its own image inside its hidden region, so that
 * nothing the firmware or a later OS frees or reuses can hold its code. The copy is
 * fixed up with the image's own R_X86_64_RELATIVE relocations (gnu-efi links at 0).
 */
#ifndef HVMETAL_RELOCATE_H
#define HVMETAL_RELOCATE_H

#include <stdint.h>

/* Copies the running image [base, base + size) to dst and relocates the copy. */
void relocate_image(void *dst, const void *base, uint64_t size);

/* The address of sym (in the running image) inside the copy at dst. */
static inline void *relocate_symbol(void *dst, const void *base, const void *sym)
{
	return (uint8_t *)dst + ((const uint8_t *)sym - (const uint8_t *)base);
}

/* The inverse: where a pointer into the copy points in the running image. */
static inline const void *relocate_back(const void *dst, const void *base, const void *p)
{
	return (const uint8_t *)base + ((const uint8_t *)p - (const uint8_t *)dst);
}

#endif
