/* What libhv's files share: the caller's VM (Apple's "current task" has one). */
#ifndef HVMETAL_LIBHV_H
#define HVMETAL_LIBHV_H

#include <stdbool.h>
#include <stdint.h>

/* The handle of the VM hv_vm_create made; 0 when there is none. */
uint64_t libhv_vm(void);

/*
 * hv_vcpu_exit_info's code and the APIC_ACCESS_READ value of vcpu's last run,
 * as VCPU_RUN returned them (hv_vcpu.c); false when libhv has none (the vCPU has
 * not run since it was made). An APIC write with a side effect replaces the code.
 */
bool libhv_exit_code(uint32_t vcpu, uint32_t *code, uint32_t *apic_value);
void libhv_set_exit_code(uint32_t vcpu, uint32_t code);

#endif
