/* What boot/ hands the core: plain data, no firmware types. */
#ifndef HVMETAL_BOOTINFO_H
#define HVMETAL_BOOTINFO_H

#include <stdint.h>
#include "memmap.h"

#define HV_MAX_CPUS	64

struct boot_info {
	uint64_t region_base, region_size;	/* hvmetal's hidden memory: image copy + pool */
	uint64_t image_base, image_size;	/* the running copy of hvmetal.efi */
	uint64_t pool_base, pool_size;
	uint32_t cpu_count;			/* CPUs the firmware reports enabled */
	uint32_t vmx_hide;			/* VMX_HIDE_*: hvmetal.cfg's vmx_hide */
	struct memmap memmap;
};

#endif
