#include "apic/apicv.h"
#include "kernel/host.h"
#include "kernel/pool.h"
#include "kernel/string.h"
#include "vapic.h"
#include "vcpu_apicv.h"
#include "vm.h"
#include "vmx/vmcs.h"
#include "vmx/vmx_bits.h"
#include "vmx/vmx_cpu.h"

#define PROC2_APICV	(PROC2_X2APIC_MODE | PROC2_APIC_REG_VIRT | PROC2_VINTR_DELIVERY)
#define BITMAP_WRITE	2048		/* the write half for MSRs 0..0x1fff */
#define BITMAP_X2APIC	(0x800 / 8)	/* MSRs 0x800..0x8ff: 32 bytes in each half */

bool vcpu_apicv_create(struct vcpu *v)
{
	if (!vmx_caps.apicv)
		return true;
	v->apicv_page = pool_alloc_page(&host_pool);
	return v->apicv_page;
}

void vcpu_apicv_destroy(struct vcpu *v)
{
	if (v->apicv_page)
		pool_free_pages(&host_pool, v->apicv_page, 1);
}

/* The x2APIC range of the MSR bitmap: m's MSRs pass, the rest exit; NULL: all exit. */
static void bitmap_x2apic(struct vcpu *v, const struct apicv_msrs *m)
{
	for (unsigned i = 0; i < 8; i++) {
		uint32_t rd = m ? ~m->read[i] : ~0u, wr = m ? ~m->write[i] : ~0u;

		memcpy(v->msr_bitmap + BITMAP_X2APIC + 4 * i, &rd, 4);
		memcpy(v->msr_bitmap + BITMAP_WRITE + BITMAP_X2APIC + 4 * i, &wr, 4);
	}
}

/* The VMM's virtualize-APIC-accesses bit cannot be on with virtualize x2APIC mode: kept aside. */
static void controls_on(struct vcpu *v)
{
	uint32_t proc2 = (uint32_t)vmcs_read(VMCS_PROC2_CTLS);

	v->apicv_vmm_proc2 = proc2 & PROC2_VIRT_APIC_ACCESS;
	vmcs_write(VMCS_PROC_CTLS, vmcs_read(VMCS_PROC_CTLS) | PROC_TPR_SHADOW);
	v->own_proc |= PROC_TPR_SHADOW;
	vmcs_write(VMCS_PROC2_CTLS, (proc2 & ~PROC2_VIRT_APIC_ACCESS) | PROC2_APICV);
	vmcs_write(VMCS_VIRTUAL_APIC_ADDR, (uintptr_t)v->apicv_page);
	for (unsigned i = 0; i < 4; i++)
		vmcs_write(VMCS_EOI_EXIT0 + 2 * i, 0);
	memset(v->apicv_eoi_exit, 0, sizeof(v->apicv_eoi_exit));
	v->apicv_on = true;
}

static void controls_off(struct vcpu *v)
{
	vmcs_write(VMCS_PROC_CTLS, vmcs_read(VMCS_PROC_CTLS) & ~(uint64_t)PROC_TPR_SHADOW);
	vmcs_write(VMCS_PROC2_CTLS, (vmcs_read(VMCS_PROC2_CTLS) & ~(uint64_t)PROC2_APICV) | v->apicv_vmm_proc2);
	v->own_proc &= ~PROC_TPR_SHADOW;
	v->apicv_on = false;
}

/* The EOI-exit bitmap is TMR: a level vector's EOI exits, for the IOAPIC. */
static void eoi_exit_update(struct vcpu *v)
{
	const uint32_t *tmr = v->lapic.tmr;

	for (unsigned i = 0; i < 4; i++) {
		if (tmr[2 * i] == v->apicv_eoi_exit[2 * i] && tmr[2 * i + 1] == v->apicv_eoi_exit[2 * i + 1])
			continue;
		vmcs_write(VMCS_EOI_EXIT0 + 2 * i, tmr[2 * i] | (uint64_t)tmr[2 * i + 1] << 32);
		v->apicv_eoi_exit[2 * i] = tmr[2 * i];
		v->apicv_eoi_exit[2 * i + 1] = tmr[2 * i + 1];
	}
}

/* x2APIC, software-enabled, no AEOI vector pending (apic/apicv.h). */
static bool wanted(const struct vcpu *v)
{
	const struct vlapic *vl = &v->lapic;
	uint32_t aeoi = 0;

	if (!v->apicv_page || !vlapic_x2apic(vl) || !vlapic_sw_enabled(vl))
		return false;
	for (unsigned i = 0; i < 8; i++)
		aeoi |= vl->aeoi[i];
	return !aeoi;
}

/* Everything back as Apple's model has it: the controls, and the MSR bitmap closed. */
static __attribute__((noinline)) void apicv_off(struct vcpu *v)
{
	if (v->apicv_on)
		controls_off(v);
	if (v->apicv_open) {
		bitmap_x2apic(v, NULL);
		v->apicv_open = false;
	}
}

/* A virtualized entry (out of line: an xAPIC vCPU's entries only pay for wanted()). */
static __attribute__((noinline)) void apicv_enter(struct vcpu *v)
{
	struct vlapic *vl = &v->lapic;
	struct apicv_msrs m;
	bool news;

	news = !v->apicv_on || vl->regs_gen != v->apicv_gen;
	if (!v->apicv_on)
		controls_on(v);
	/* Open only while the controls are on: a passed-through MSR would otherwise reach the real APIC. */
	if (!v->apicv_open || v->apicv_ctrl != vl->ctrl) {
		apicv_msrs(vl, &m);
		bitmap_x2apic(v, &m);
		v->apicv_open = true;
		v->apicv_ctrl = vl->ctrl;
	}
	if (news) {
		apicv_load(vl, v->apicv_page);
		v->apicv_gen = vl->regs_gen;
	} else {
		apicv_load_hot(vl, v->apicv_page);
		news = apicv_post(vl, v->apicv_page);
	}
	if (news) {
		eoi_exit_update(v);
		v->apicv_status = apicv_intr_status(v->apicv_page);
		v->apicv_tpr = apicv_tpr(v->apicv_page);
		vmcs_write(VMCS_GUEST_INTR_STATUS, v->apicv_status);
	}
	/* A vector for a halted vCPU (hvmetal's idle, or the guest's own HLT) ends the HLT, as on the CPU. */
	if ((news || v->halted) && vlapic_pending(vl) >= 0 &&
	    (v->halted || vmcs_read(VMCS_GUEST_ACTIVITY) == ACTIVITY_HLT)) {
		vmcs_write(VMCS_GUEST_ACTIVITY, ACTIVITY_ACTIVE);
		v->halted = false;
	}
}

bool vcpu_apicv_entry(struct vcpu *v)
{
	if (!wanted(v)) {
		if (v->apicv_on | v->apicv_open)
			apicv_off(v);
		return false;
	}
	apicv_enter(v);
	return true;
}

void vcpu_apicv_exit(struct vcpu *v)
{
	uint16_t status = (uint16_t)vmcs_read(VMCS_GUEST_INTR_STATUS);
	uint8_t tpr = apicv_tpr(v->apicv_page);
	struct vapic *a = v->vm->apic;

	/* With self IPIs exiting, IRR and ISR on the page change only with RVI or SVI. */
	if (status == v->apicv_status && tpr == v->apicv_tpr)
		return;
	vapic_lock(a);
	/* A reset meanwhile (INIT from another CPU) made the page stale: the next entry loads it anew. */
	if (v->lapic.regs_gen == v->apicv_gen)
		apicv_store(&v->lapic, v->apicv_page);
	vapic_unlock(a);
	v->apicv_status = status;
	v->apicv_tpr = tpr;
}

void vcpu_apicv_run_end(struct vcpu *v)
{
	if (v->apicv_on)
		controls_off(v);
}
