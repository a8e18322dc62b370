#include "memmap.h"
#include "string.h"

#define PAGE	4096ull

void memmap_init(struct memmap *m)
{
	memset(m, 0, sizeof(*m));
}

int memmap_add_ram(struct memmap *m, uint64_t base, uint64_t size)
{
	uint64_t start = (base + PAGE - 1) & ~(PAGE - 1);
	uint64_t end = (base + size) & ~(PAGE - 1);
	uint32_t i, j;

	/* No whole page (also when rounding base up would pass 2^64). */
	if (size == 0 || base + size < base || base > ~0ull - (PAGE - 1) || end <= start)
		return 0;
	/* Absorb every range that touches or overlaps [start, end). */
	for (i = 0, j = 0; i < m->count; i++) {
		struct memmap_range *r = &m->range[i];

		if (r->base <= end && start <= r->base + r->size) {
			start = r->base < start ? r->base : start;
			end = r->base + r->size > end ? r->base + r->size : end;
			continue;
		}
		m->range[j++] = *r;
	}
	m->count = j;
	if (m->count == MEMMAP_MAX_RANGES)
		return -1;
	for (i = m->count; i > 0 && m->range[i - 1].base > start; i--)
		m->range[i] = m->range[i - 1];
	m->range[i] = (struct memmap_range){ start, end - start, MEMMAP_RAM };
	m->count++;
	return 0;
}

void memmap_set_hidden(struct memmap *m, uint64_t base, uint64_t size)
{
	m->hidden_base = base;
	m->hidden_size = size;
}

int memmap_uniform_kind(const struct memmap *m, uint64_t base, uint64_t size)
{
	uint64_t last = base + size - 1;

	for (uint32_t i = 0; i < m->count; i++) {
		const struct memmap_range *r = &m->range[i];
		uint64_t r_last = r->base + r->size - 1;

		if (r_last < base)
			continue;
		if (r->base > last)
			break;
		return (r->base <= base && r_last >= last) ? MEMMAP_RAM : -1;
	}
	return MEMMAP_OTHER;
}

bool memmap_overlaps_hidden(const struct memmap *m, uint64_t base, uint64_t size)
{
	return m->hidden_size && base < m->hidden_base + m->hidden_size &&
	       m->hidden_base < base + size;
}

bool memmap_is_cd_ram(const struct memmap *m, uint64_t gpa)
{
	uint64_t page = gpa & ~(PAGE - 1);

	return gpa + PAGE > gpa && memmap_uniform_kind(m, page, PAGE) == MEMMAP_RAM &&
	       !memmap_overlaps_hidden(m, page, PAGE);
}

uint64_t memmap_ram_top(const struct memmap *m)
{
	if (m->count == 0)
		return 0;
	return m->range[m->count - 1].base + m->range[m->count - 1].size;
}
