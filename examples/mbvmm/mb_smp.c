/*
 * The application processors: created with the BSP, held in wait-for-SIPI
 * (not run) until the BSP's INIT and SIPI come back as exit info
 * (INIT_AP / STARTUP_AP, through the xAPIC page or the x2APIC ICR); a SIPI
 * starts each target in real mode at vector << 12, as a PC's AP starts, on
 * the thread that owns it.
 */
#include "mbvmm.h"

#define AR_CODE16	0x9b
#define AR_DATA16	0x93

/* Real mode at CS = vector << 8, IP 0, everything else as after INIT. */
static void sipi_state(struct mb_vcpu *c, uint64_t rip)
{
	for (unsigned s = 0; s < 6; s++)
		mb_segment(c, s, s == 1 ? (uint16_t)(rip >> 4) : 0, s == 1 ? rip : 0, 0xffff,
			s == 1 ? AR_CODE16 : AR_DATA16);
	mb_segment(c, 6, 0, 0, 0, AR_UNUSABLE);
	mb_segment(c, 7, 0, 0, 0xffff, AR_TSS_BUSY);
	mb_set_vmcs(c, VMCS_GUEST_GDTR_BASE, 0);
	mb_set_vmcs(c, VMCS_GUEST_GDTR_LIMIT, 0xffff);
	mb_set_vmcs(c, VMCS_GUEST_IDTR_BASE, 0);
	mb_set_vmcs(c, VMCS_GUEST_IDTR_LIMIT, 0xffff);
	mb_set_vmcs(c, VMCS_CTRL_CR0_SHADOW, CR0_ET);
	mb_set_vmcs(c, VMCS_GUEST_CR0, CR0_ET | CR0_NE);
	mb_set_vmcs(c, VMCS_CTRL_CR4_SHADOW, 0);
	mb_set_vmcs(c, VMCS_GUEST_CR4, CR4_VMXE);
	mb_set_vmcs(c, VMCS_GUEST_CR3, 0);
	mb_set_vmcs(c, VMCS_GUEST_IA32_EFER, 0);
	mb_set_vmcs(c, VMCS_CTRL_VMENTRY_CONTROLS, mb_vmcs(c, VMCS_CTRL_VMENTRY_CONTROLS) & ~(uint64_t)VMENTRY_GUEST_IA32E);
	mb_set_vmcs(c, VMCS_CTRL_VMENTRY_IRQ_INFO, 0);
	mb_set_reg(c, HV_X86_RFLAGS, 2);
	mb_set_reg(c, HV_X86_RIP, 0);
	mb_set_reg(c, HV_X86_RSP, 0);
}

/* A SIPI only starts an AP waiting for one; its owner puts the state (vCPUs are their thread's). */
static void sipi(struct mb_machine *m, struct mb_vcpu *ap, uint64_t rip)
{
	uint32_t wait = MB_VCPU_WAIT;

	if (__atomic_load_n(&ap->state, __ATOMIC_ACQUIRE) != MB_VCPU_WAIT)
		return;
	ap->sipi_rip = rip;
	if (__atomic_compare_exchange_n(&ap->state, &wait, MB_VCPU_SIPI, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		mb_wake_thread(m, ap->index % m->threads);
}

void mb_smp_take_sipi(struct mb_vcpu *c)
{
	uint32_t sipi = MB_VCPU_SIPI;

	if (__atomic_load_n(&c->state, __ATOMIC_ACQUIRE) != MB_VCPU_SIPI)
		return;
	sipi_state(c, c->sipi_rip);
	__atomic_compare_exchange_n(&c->state, &sipi, MB_VCPU_RUN, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}

enum mb_next mb_apic_effect(struct mb_machine *m, struct mb_vcpu *c)
{
	bool actv[MB_VCPUS_MAX] = { false };
	hv_vm_exitinfo_t info = HV_VM_EXITINFO_VMX;
	uint64_t rip = 0;

	hv_vcpu_exit_info(c->id, &info);
	if (info == HV_VM_EXITINFO_INIT_AP && hv_vcpu_exit_init_ap(c->id, actv, MB_VCPUS_MAX) == HV_SUCCESS) {
		for (unsigned i = 1; i < m->ncpus; i++) {
			if (!actv[i])
				continue;
			__atomic_store_n(&m->vcpu[i].state, MB_VCPU_WAIT, __ATOMIC_RELEASE);	/* waits for its SIPI */
			mb_wake_thread(m, i % m->threads);
		}
	} else if (info == HV_VM_EXITINFO_STARTUP_AP &&
		   hv_vcpu_exit_startup_ap(c->id, actv, MB_VCPUS_MAX, &rip) == HV_SUCCESS) {
		for (unsigned i = 1; i < m->ncpus; i++)
			if (actv[i])
				sipi(m, &m->vcpu[i], rip);
	}
	/* IOAPIC_EOI is not asked for (no HV_APIC_CTRL_IOAPIC_EOI): the hypervisor's IOAPIC has it. */
	return MB_RESUME;
}
