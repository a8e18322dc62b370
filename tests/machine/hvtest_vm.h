#ifndef HVTEST_VM_H
#define HVTEST_VM_H

#include <efi.h>
#include <efilib.h>
#include <hvmetal/abi.h>
#include "boot/efi_mp.h"

/* mp, cpus: the MP services and how many CPUs, for the checks that need a second one. */
void test_vm_api(const struct hvmetal_info *info, EFI_MP_SERVICES_PROTOCOL *mp, unsigned cpus);

#endif
