#include <hvmetal/abi.h>
#include "cpu.h"
#include "host.h"
#include "hvmetal.h"
#include "log.h"
#include "string.h"
#include "vm/vm.h"
#include "vmx/vmx_cpu.h"

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

static int canary_setup(void)
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

const char *hvmetal_setup(const struct boot_info *bi)
{
	const char *why = vmx_probe();

	if (why)
		return why;
	memcpy(&hv.boot, bi, sizeof(hv.boot));
	if (pool_init(&host_pool, (void *)bi->pool_base, bi->pool_size) < 0 ||
	    host_setup(&hv.boot) < 0 || canary_setup() < 0)
		return "hvmetal's memory pool is too small for its host page tables";
	hv.cpus = pool_alloc_pages(&host_pool, (bi->cpu_count * sizeof(struct percpu) +
						PAGE_SIZE - 1) / PAGE_SIZE);
	if (!hv.cpus)
		return "hvmetal's memory pool is too small for its per-CPU data";
	for (uint32_t i = 0; i < bi->cpu_count; i++) {
		hv.cpus[i].index = i;
		if (host_cpu_setup(&hv.cpus[i]) < 0)
			return "hvmetal's memory pool is too small for per-CPU stacks";
	}
	why = vmx_setup(&hv.boot);
	if (why)
		return why;
	vm_init(&host_pool, 1ull << (hv.maxphyaddr < 48 ? hv.maxphyaddr : 48));
	hv.code_checksum = hvmetal_code_checksum();
	log_printf("hvmetal: pool %lu KiB free of %lu KiB after setup\n",
		   pool_free_bytes(&host_pool) >> 10, pool_total_bytes(&host_pool) >> 10);
	return 0;
}
