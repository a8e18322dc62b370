/* Runs one VMCALL at CPL 3, to prove hvmetal refuses hypercalls from user mode. */
#ifndef HVTEST_RING3_H
#define HVTEST_RING3_H

#include <stdint.h>

/* RAX after VMCALL(nr, a0 in RDI, a1 in RSI) executed at CPL 3. */
uint64_t ring3_vmcall(uint64_t nr, uint64_t a0, uint64_t a1);

#endif
