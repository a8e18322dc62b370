/* What hvbench's files share: the TSC (under Bochs, an instruction counter) and the report line. */
#ifndef HVBENCH_H
#define HVBENCH_H

#include <stdint.h>

static inline uint64_t tsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("lfence; rdtsc" : "=a"(lo), "=d"(hi) : : "memory");
	return ((uint64_t)hi << 32) | lo;
}

extern uint64_t tsc_overhead;	/* what two back-to-back tsc() calls read */

/* One "bench: name: value unit" line on COM1. */
void report(const char *name, uint64_t value, const char *unit);
/* The vCPU figures: exits and vCPU calls, on the VM that exists now. */
void bench_vcpu(void);
/* The APIC figures, on a VM of its own (made and destroyed here). */
void bench_apic(void);
/* With two CPUs: the latency of an IPI between vCPUs on them (its own boot). */
#include <efi.h>
#include "boot/efi_mp.h"
void bench_apic_ipi(EFI_MP_SERVICES_PROTOCOL *mp);

#endif
