#ifndef HVTEST_VCPU_H
#define HVTEST_VCPU_H

#include "boot/efi_mp.h"

/* vCPUs: every hv_vcpu_* / hv_vmx_* call and its errors; mp may be NULL (one CPU). */
void test_vcpu_api(EFI_MP_SERVICES_PROTOCOL *mp, unsigned cpus);

#endif
