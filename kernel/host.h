/* hvmetal's own execution environment: page tables, IDT, per-CPU GDT/TSS/stacks. */
#ifndef HVMETAL_HOST_H
#define HVMETAL_HOST_H

#include <stdint.h>
#include "bootinfo.h"
#include "percpu.h"
#include "pool.h"

#define HOST_IDT_VECTORS	256	/* hvmetal's IDT: 16 bytes a gate */

/* Register values the VMCS host-state area loads on every VM exit. */
struct host_state {
	uint64_t cr0, cr3, cr4;
	uint64_t idt_base;
	uint64_t efer, pat;
};

extern struct pool host_pool;
extern struct host_state host_state;

/* Builds the shared page tables and IDT; returns -1 when the pool is too small. */
int host_setup(const struct boot_info *bi);
/* Builds cpu's GDT, TSS and stacks. */
int host_cpu_setup(struct percpu *cpu);

#endif
