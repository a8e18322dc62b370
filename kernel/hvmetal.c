#include "cpu.h"
#include "host.h"
#include "hvmetal.h"

struct hvmetal hv;

/* gnu-efi's linker script brackets the code with these. */
extern const uint8_t _text[], _etext[];

uint64_t hvmetal_code_checksum(void)
{
	uint64_t h = 0xcbf29ce484222325ull;	/* FNV-1a */

	for (const uint8_t *p = _text; p < _etext; p++)
		h = (h ^ *p) * 0x100000001b3ull;
	return h;
}

int hvmetal_canary_setup(void)
{
	uint64_t *page = pool_alloc_page(&host_pool);

	if (!page)
		return -1;
	hv.canary_value = rdtsc() * 0x9e3779b97f4a7c15ull | 1;
	for (unsigned i = 0; i < PAGE_SIZE / 8; i++)
		page[i] = hv.canary_value;
	hv.canary_page = (uintptr_t)page;
	return 0;
}
