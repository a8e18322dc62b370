#ifndef HVTEST_STORM_H
#define HVTEST_STORM_H

#include <efi.h>
#include "boot/efi_mp.h"

/* calls_per_cpu random hypercalls from each of cpus CPUs at once, then the checks. */
void test_storm(EFI_MP_SERVICES_PROTOCOL *mp, unsigned cpus, uint32_t calls_per_cpu);

#endif
