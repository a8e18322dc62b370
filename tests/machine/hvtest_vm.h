#ifndef HVTEST_VM_H
#define HVTEST_VM_H

#include <hvmetal/abi.h>

void test_vm_api(const struct hvmetal_info *info);

#endif
