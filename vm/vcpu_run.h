/* Running a vCPU (hv_vcpu_run / run_until) and forcing it out (hv_vcpu_interrupt). */
#ifndef HVMETAL_VCPU_RUN_H
#define HVMETAL_VCPU_RUN_H

#include <stdbool.h>
#include <stdint.h>
#include <Hypervisor/hv_error.h>
#include "kernel/panic.h"
#include "vcpu.h"

/*
 * VCPU_RUN (abi.h) on v, owned by this CPU, with the call's registers (mode
 * checked by the caller): the guest runs until an exit the call returns.
 * HV_SUCCESS with the exit in the caller's registers, HV_ERROR when
 * VMLAUNCH/VMRESUME failed (hv_vcpu_vmx_status), HVMETAL_RUN_AGAIN when
 * run_until stopped for the control domain's interrupt.
 */
hv_return_t vcpu_run(struct vcpu *v, struct gpr_frame *call);
/*
 * From any CPU, with the VM kept alive (vm_hold) but not locked: the next or
 * current run of v exits with VMX_REASON_IRQ. False when a running v could not
 * be reached in a bounded time; the request stands for its next exit.
 */
bool vcpu_interrupt(struct vcpu *v);
/*
 * From any CPU, no lock held: v's local APIC has something new (an interrupt,
 * an NMI, INIT): a running v looks at it before its next entry, a halted one
 * wakes. Waits, bounded, for a running v elsewhere to see it.
 */
void vcpu_notify(struct vcpu *v);

#endif
