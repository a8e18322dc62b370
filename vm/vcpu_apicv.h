/*
 * The CPU's APIC virtualization for an HV_VM_ACCEL_APIC vCPU whose local APIC
 * is in x2APIC mode (apic/apicv.h says what the guest then does without an
 * exit, docs/apic.md which CPUs): the VMCS controls, the MSR bitmap's x2APIC
 * range and the virtual-APIC page, switched on and off entry by entry.
 * Invisible to the VMM: between runs its VMCS controls are its own.  On the
 * owner, VMCS loaded.
 */
#ifndef HVMETAL_VCPU_APICV_H
#define HVMETAL_VCPU_APICV_H

#include <stdbool.h>
#include "vcpu.h"

/* At vCPU create on an HV_VM_ACCEL_APIC VM; false: no page (the pool is empty). */
bool vcpu_apicv_create(struct vcpu *v);
void vcpu_apicv_destroy(struct vcpu *v);
/*
 * Before an entry, under the VM's interrupt lock: true when the CPU delivers
 * the local APIC's vectors this entry (the page holds them, a halted vCPU with
 * one deliverable is woken); false, and everything back as Apple's model has
 * it, when the vCPU is not one to virtualize.
 */
bool vcpu_apicv_entry(struct vcpu *v);
/* After each exit of a virtualized entry: what the CPU changed goes back to the model. */
void vcpu_apicv_exit(struct vcpu *v);
/* At the end of a run: the VMM's own controls back in the VMCS (its TPR-shadow bit is in own_proc). */
void vcpu_apicv_run_end(struct vcpu *v);

#endif
