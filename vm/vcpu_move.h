/*
 * Moving a vCPU to another control-domain CPU (HVMETAL_HC_VCPU_ADOPT).  A VMCS
 * must be VMCLEARed on the CPU where it is active before another CPU loads it,
 * so the new CPU asks the old one, which does it between two of its own calls
 * on the vCPU: at its next exit (a kick makes one) it clears the VMCS and hands
 * the vCPU over.  Neither side waits unboundedly or under a lock.
 */
#ifndef HVMETAL_VCPU_MOVE_H
#define HVMETAL_VCPU_MOVE_H

#include <Hypervisor/hv_error.h>
#include "kernel/percpu.h"
#include "vcpu.h"

/*
 * Makes the calling CPU v's owner: HV_SUCCESS (also when it already was),
 * HV_BUSY when v is running on its owner or the owner did not answer in a
 * bounded time, HV_BAD_ARGUMENT when v died meanwhile.  The caller holds v's VM.
 */
hv_return_t vcpu_adopt(struct vcpu *v);
/* On cpu, between its calls (no vCPU of its is mid-call): hands over what was asked. */
void vcpu_moves_serve(struct percpu *cpu);

#endif
