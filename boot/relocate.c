#include "kernel/string.h"
#include "relocate.h"

#define DT_NULL		0
#define DT_RELA		7
#define DT_RELASZ	8
#define DT_RELAENT	9
#define R_X86_64_RELATIVE 8

struct elf64_dyn {
	int64_t tag;
	uint64_t val;
};

struct elf64_rela {
	uint64_t offset, info;
	int64_t addend;
};

extern const struct elf64_dyn _DYNAMIC[];

void relocate_image(void *dst, const void *base, uint64_t size)
{
	uint64_t rela = 0, relasz = 0, relaent = sizeof(struct elf64_rela);
	uint64_t delta = (uintptr_t)dst - (uintptr_t)base;

	memcpy(dst, base, size);
	for (const struct elf64_dyn *d = _DYNAMIC; d->tag != DT_NULL; d++) {
		if (d->tag == DT_RELA)
			rela = d->val;
		else if (d->tag == DT_RELASZ)
			relasz = d->val;
		else if (d->tag == DT_RELAENT)
			relaent = d->val;
	}
	/* The running image is already relocated to base: move every pointer by delta. */
	for (uint64_t off = 0; rela && off + relaent <= relasz; off += relaent) {
		const struct elf64_rela *r = (const void *)((const uint8_t *)base + rela + off);

		if ((r->info & 0xffffffff) == R_X86_64_RELATIVE)
			*(uint64_t *)((uint8_t *)dst + r->offset) += delta;
	}
}
