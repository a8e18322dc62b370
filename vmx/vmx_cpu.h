/* VMX root on each CPU and the control domain's VMCS. */
#ifndef HVMETAL_VMX_CPU_H
#define HVMETAL_VMX_CPU_H

#include <stdint.h>
#include "kernel/bootinfo.h"
#include "kernel/percpu.h"
#include "vmcs_policy.h"
#include "vmx_caps.h"

extern struct vmx_caps vmx_caps;
extern struct vmcs_policy vmcs_policy;	/* what clients may write in a vCPU's VMCS */

/* Reads CPUID and the VMX MSRs; NULL when hvmetal can run, else why not. */
const char *vmx_probe(void);
/* Builds the control domain's EPT and every CPU's VMXON region and VMCS. */
const char *vmx_setup(const struct boot_info *bi);
/*
 * On CPU cpu_index, in firmware context: VMXON, then VMLAUNCH into the control
 * domain, which resumes at guest_rip on guest_rsp with guest_rflags. Returns only
 * on failure (a negative code, logged); success continues in the guest.
 */
int vmx_cpu_launch(uint32_t cpu_index, uint64_t guest_rsp, uint64_t guest_rip,
		   uint64_t guest_rflags);

/* The host-state area of the current VMCS: exits land at rip on cpu's stack. */
void vmx_write_host_state(struct percpu *cpu, uint64_t rip);
/* hv_vcpu_get_exec_time's unit. */
uint64_t vmx_ticks_to_ns(uint64_t ticks);

#endif
