#include "mb_walk.h"

#define CR0_PG		(1ull << 31)
#define CR4_PSE		(1ull << 4)
#define CR4_PAE		(1ull << 5)
#define EFER_LMA	(1ull << 10)
#define PTE_P		1ull
#define PTE_PS		(1ull << 7)
#define ADDR_MASK	0x000ffffffffff000ull

static bool entry(const uint8_t *ram, size_t ram_size, uint64_t pa, unsigned bytes, uint64_t *e)
{
	*e = 0;
	if (pa > ram_size || ram_size - pa < bytes)
		return false;
	for (unsigned i = 0; i < bytes; i++)
		*e |= (uint64_t)ram[pa + i] << (8 * i);
	return *e & PTE_P;
}

bool mb_walk(const uint8_t *ram, size_t ram_size, const struct mb_paging *p, uint64_t va, uint64_t *gpa)
{
	uint64_t e, table;
	int level;

	if (!(p->cr0 & CR0_PG)) {
		*gpa = va & 0xffffffffull;
		return true;
	}
	if (!(p->cr4 & CR4_PAE)) {		/* 32-bit paging */
		va &= 0xffffffffull;
		if (!entry(ram, ram_size, (p->cr3 & 0xfffff000ull) + ((va >> 22) << 2), 4, &e))
			return false;
		if ((p->cr4 & CR4_PSE) && (e & PTE_PS)) {
			*gpa = (e & 0xffc00000ull) | (va & 0x3fffff);
			return true;
		}
		if (!entry(ram, ram_size, (e & 0xfffff000ull) + (((va >> 12) & 0x3ff) << 2), 4, &e))
			return false;
		*gpa = (e & 0xfffff000ull) | (va & 0xfff);
		return true;
	}
	if (p->efer & EFER_LMA) {
		table = p->cr3 & ADDR_MASK;
		level = 4;
	} else {				/* PAE: the PDPTE from CR3's 32-byte table */
		va &= 0xffffffffull;
		if (!entry(ram, ram_size, (p->cr3 & 0xffffffe0ull) + ((va >> 30) << 3), 8, &e))
			return false;
		table = e & ADDR_MASK;
		level = 2;
	}
	for (; level >= 1; level--) {
		unsigned shift = 12 + 9 * (unsigned)(level - 1);

		if (!entry(ram, ram_size, table + (((va >> shift) & 0x1ff) << 3), 8, &e))
			return false;
		if (level > 1 && level < 4 && (e & PTE_PS)) {	/* 1 GiB or 2 MiB page */
			*gpa = (e & ADDR_MASK & ~((1ull << shift) - 1)) | (va & ((1ull << shift) - 1));
			return true;
		}
		table = e & ADDR_MASK;
	}
	*gpa = table | (va & 0xfff);
	return true;
}
