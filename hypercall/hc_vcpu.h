/* Hypercalls behind Apple's vCPU and VMX API: hv_vcpu_*, hv_vmx_*, hv_vm_sync_tsc. */
#ifndef HVMETAL_HC_VCPU_H
#define HVMETAL_HC_VCPU_H

#include "hypercall.h"

hv_return_t hc_vcpu_create(struct hcall *c);
hv_return_t hc_vcpu_destroy(struct hcall *c);
hv_return_t hc_vcpu_set_space(struct hcall *c);
hv_return_t hc_vcpu_read_reg(struct hcall *c);
hv_return_t hc_vcpu_write_reg(struct hcall *c);
hv_return_t hc_vcpu_read_fpstate(struct hcall *c);
hv_return_t hc_vcpu_write_fpstate(struct hcall *c);
hv_return_t hc_vcpu_msr_access(struct hcall *c);
hv_return_t hc_vcpu_read_msr(struct hcall *c);
hv_return_t hc_vcpu_write_msr(struct hcall *c);
hv_return_t hc_vcpu_invalidate_tlb(struct hcall *c);
hv_return_t hc_vcpu_interrupt(struct hcall *c);
hv_return_t hc_vcpu_adopt(struct hcall *c);
hv_return_t hc_vcpu_time(struct hcall *c);
hv_return_t hc_vcpu_set_tsc_offset(struct hcall *c);
hv_return_t hc_vcpu_vmx_status(struct hcall *c);
hv_return_t hc_vmx_read_vmcs(struct hcall *c);
hv_return_t hc_vmx_write_vmcs(struct hcall *c);
hv_return_t hc_vmx_cap_write_vmcs(struct hcall *c);
hv_return_t hc_vmx_read_capability(struct hcall *c);
hv_return_t hc_vmx_msr_info(struct hcall *c);
hv_return_t hc_vmx_read_shadow(struct hcall *c);
hv_return_t hc_vmx_write_shadow(struct hcall *c);
hv_return_t hc_vmx_shadow_access(struct hcall *c);
hv_return_t hc_vmx_set_apic_address(struct hcall *c);
hv_return_t hc_vmx_set_apic_address_space(struct hcall *c);
hv_return_t hc_vm_sync_tsc(struct hcall *c);

/*
 * VCPU_RUN: on the owning CPU, the guest runs until an exit the call returns
 * (vm/vcpu_run.h); the mode in RCX is checked here.
 */
hv_return_t hc_vcpu_run(struct hcall *c);

#endif
