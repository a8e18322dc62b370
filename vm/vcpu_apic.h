/*
 * The run loop's side of APIC acceleration (HV_VM_ACCEL_APIC, docs/apic.md):
 * what a vCPU's local APIC holds goes into each VM entry, and the exits that
 * belong to the APIC (its page, its MSRs, HLT, interrupt windows) are handled
 * here, most of them without the VMM seeing them.  On the owner, VMCS loaded.
 */
#ifndef HVMETAL_VCPU_APIC_H
#define HVMETAL_VCPU_APIC_H

#include <stdint.h>
#include "vcpu.h"

enum vcpu_apic_exit {
	APIC_EXIT_NOT_MINE,	/* not an APIC matter: the loop decides */
	APIC_EXIT_HANDLED,	/* done in hvmetal: enter again */
	APIC_EXIT_REPORT,	/* the VMM sees it, with v->exit_info.code */
};

/*
 * At the start of a run: a vCPU hvmetal left halted stays so unless the VMM
 * moved it meanwhile (a new RIP, its own activity state): then it runs.
 */
void vcpu_apic_run_start(struct vcpu *v);
/* At the end of a run with own_proc set: hvmetal's own controls leave the VMCS the VMM sees. */
void vcpu_apic_run_end(struct vcpu *v);
/* Before each entry: due timers fire, the most urgent pending event goes in or
 * an interrupt window is asked for; v->apic_deadline is the timer's host TSC. */
void vcpu_apic_entry(struct vcpu *v);
enum vcpu_apic_exit vcpu_apic_exit(struct vcpu *v, uint32_t reason);
/*
 * hv_vcpu_read_msr/write_msr of a local-APIC MSR (IA32_APIC_BASE,
 * IA32_TSC_DEADLINE, x2APIC) on an HV_VM_ACCEL_APIC vCPU: the model's value;
 * false when msr is not one (or the VM has no APIC), else *r (HV_BAD_ARGUMENT
 * where the guest's access would #GP). VMCS loaded.
 */
bool vcpu_apic_msr(struct vcpu *v, uint32_t msr, bool write, uint64_t *val, hv_return_t *r);
/* IA32_APIC_BASE of a vCPU with the hypervisor's APIC: hv_vcpu_set_msr_access decides who handles it. */
bool vcpu_apic_base_msr(const struct vcpu *v, uint32_t msr);
/* The LSC's reader: bytes of a control-domain page (its physical address). */
bool vcpu_apic_lsc_read(void *ctx, uint64_t page, unsigned off, void *buf, unsigned len);
/* The guest's paging state and CS.base + rip, for the LSC; VMCS loaded. */
void vcpu_apic_lsc_paging(struct lsc_paging *pg);
/* What a local APIC write had the VMM see (INIT/SIPI targets, an IOAPIC EOI) as v's exit info. */
void vcpu_apic_set_effect(struct vcpu *v, const struct vlapic_effect *eff);
/* The guest TSC now (host TSC + the VMCS's offset). */
uint64_t vcpu_guest_tsc(void);

#endif
