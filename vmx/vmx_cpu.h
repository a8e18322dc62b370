/* The CPU's VT-x: capabilities read once, the VMCS field policy, host state, time. */
#ifndef HVMETAL_VMX_CPU_H
#define HVMETAL_VMX_CPU_H

#include <stdint.h>
#include "kernel/percpu.h"
#include "vmcs_policy.h"
#include "vmx_caps.h"

extern struct vmx_caps vmx_caps;
extern struct vmcs_policy vmcs_policy;	/* what clients may write in a vCPU's VMCS */

/* Reads CPUID and the VMX MSRs; NULL when hvmetal can run, else why not. */
const char *vmx_probe(uint32_t hide);
/* The host-state area of the current VMCS: exits land at rip on cpu's stack. */
void vmx_write_host_state(struct percpu *cpu, uint64_t rip);
/* hv_vcpu_get_exec_time's unit. */
uint64_t vmx_ticks_to_ns(uint64_t ticks);
/* The TSC's rate from CPUID 0x15/0x16; 0 when the CPU does not say. */
uint64_t vmx_tsc_hz(void);

#endif
