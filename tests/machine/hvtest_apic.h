/* In-machine checks of APIC acceleration (HV_VM_ACCEL_APIC, docs/apic.md). */
#ifndef HVTEST_APIC_H
#define HVTEST_APIC_H

#include "boot/efi_mp.h"

/* Every APIC call and its errors on real-mode guests; mp may be NULL (one CPU). */
void test_apic_api(EFI_MP_SERVICES_PROTOCOL *mp, unsigned cpus);

#endif
