/* The core's global state, and the self-check's canary and code checksum. */
#ifndef HVMETAL_CORE_H
#define HVMETAL_CORE_H

#include <stdint.h>
#include "bootinfo.h"
#include "percpu.h"

struct hvmetal {
	struct boot_info boot;		/* copied in at setup, read-only after */
	struct percpu *cpus;		/* boot.cpu_count entries, from the pool */
	uint64_t canary_page;		/* a pool page of canary words, for SELFCHECK */
	uint64_t canary_value;
	uint64_t code_checksum;		/* of hvmetal's .text at setup */
	uint32_t features;		/* HVMETAL_FEAT_* in use */
	uint32_t maxphyaddr;		/* CPUID.80000008H:EAX[7:0] */
	volatile uint32_t cpus_launched;
	uint32_t cpus_failed;		/* CPUs whose launch failed and that wait parked (cd/cd_park.c) */
};

extern struct hvmetal hv;

/* A pool page of random canary words, for SELFCHECK; 0 or -1 when the pool is dry. */
int hvmetal_canary_setup(void);

uint64_t hvmetal_code_checksum(void);

#endif
