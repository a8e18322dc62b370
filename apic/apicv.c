#include "apicv.h"

/* Page offsets: x2APIC MSR 0x800 + n reads 8 bytes at n << 4 (SDM 30.5). */
#define OFF(msr)	(((msr) & 0xffu) << 4)
#define OFF_TPR		0x080u
#define OFF_ISR		0x100u
#define OFF_TMR		0x180u
#define OFF_IRR		0x200u
#define MSR_CCR		0x839u

static uint32_t *reg(uint8_t *page, uint32_t off)
{
	return (uint32_t *)(void *)(page + off);
}

static uint32_t reg_get(const uint8_t *page, uint32_t off)
{
	return *(const uint32_t *)(const void *)(page + off);
}

static void put64(uint8_t *page, uint32_t msr, uint64_t val)
{
	reg(page, OFF(msr))[0] = (uint32_t)val;
	reg(page, OFF(msr))[1] = (uint32_t)(val >> 32);
}

void apicv_msrs(const struct vlapic *vl, struct apicv_msrs *m)
{
	struct vlapic probe = *vl;	/* reads change nothing, but take a mutable model */
	uint64_t val;

	*m = (struct apicv_msrs){ 0 };
	for (uint32_t msr = 0x800; msr <= 0x8ff; msr++) {
		if (msr == MSR_CCR || ((vl->ctrl & HV_APIC_CTRL_NO_TIMER) && vlapic_timer_msr(msr)))
			continue;
		if (vlapic_rdmsr(&probe, msr, &val, 0))
			m->read[(msr & 0xff) >> 5] |= 1u << (msr & 31);
	}
	m->write[(APICV_MSR_TPR & 0xff) >> 5] |= 1u << (APICV_MSR_TPR & 31);
	if (!(vl->ctrl & HV_APIC_CTRL_IOAPIC_EOI))
		m->write[(APICV_MSR_EOI & 0xff) >> 5] |= 1u << (APICV_MSR_EOI & 31);
}

void apicv_load(struct vlapic *vl, uint8_t *page)
{
	static const uint32_t lvt_msr[VLAPIC_LVT_COUNT] = {
		[VLAPIC_LVT_LINT0] = 0x835, [VLAPIC_LVT_LINT1] = 0x836, [VLAPIC_LVT_TIMER] = 0x832,
		[VLAPIC_LVT_ERROR] = 0x837, [VLAPIC_LVT_PMC] = 0x834, [VLAPIC_LVT_THERMAL] = 0x833,
		[VLAPIC_LVT_CMCI] = 0x82f,
	};

	put64(page, 0x802, vl->vcpu);		/* x2APIC ID */
	put64(page, 0x803, VLAPIC_VERSION);
	put64(page, 0x808, vl->tpr);
	put64(page, 0x80a, vlapic_ppr(vl));
	put64(page, 0x80d, vl->ldr);
	put64(page, 0x80f, vl->svr);
	for (unsigned i = 0; i < 8; i++) {
		put64(page, 0x810 + i, vl->isr[i]);
		put64(page, 0x818 + i, vl->tmr[i]);
		put64(page, 0x820 + i, vl->irr[i]);
		vl->posted[i] = 0;
	}
	put64(page, 0x828, vl->esr);
	for (unsigned i = 0; i < VLAPIC_LVT_COUNT; i++)
		put64(page, lvt_msr[i], vl->lvt[i]);
	put64(page, 0x83e, vl->dcr_timer);
	apicv_load_hot(vl, page);
}

void apicv_load_hot(const struct vlapic *vl, uint8_t *page)
{
	put64(page, 0x830, (uint64_t)vl->icr_hi << 32 | vl->icr_lo);
	put64(page, 0x838, vl->icr_timer);
}

bool apicv_post(struct vlapic *vl, uint8_t *page)
{
	uint32_t any = 0;

	for (unsigned i = 0; i < 8; i++)
		any |= vl->posted[i];
	if (!any)
		return false;
	for (unsigned i = 0; i < 8; i++) {
		*reg(page, OFF_IRR + i * 16) |= vl->posted[i];
		*reg(page, OFF_TMR + i * 16) = vl->tmr[i];	/* acceptance sets or clears TMR */
		vl->posted[i] = 0;
	}
	return true;
}

void apicv_store(struct vlapic *vl, const uint8_t *page)
{
	for (unsigned i = 0; i < 8; i++) {
		vl->irr[i] = reg_get(page, OFF_IRR + i * 16) | vl->posted[i];
		vl->isr[i] = reg_get(page, OFF_ISR + i * 16);
	}
	vl->tpr = reg_get(page, OFF_TPR) & 0xff;
}

static unsigned highest(const uint8_t *page, uint32_t off)
{
	for (int i = 7; i >= 0; i--) {
		uint32_t w = reg_get(page, off + (uint32_t)i * 16);

		if (w)
			return (unsigned)i * 32 + 31 - (unsigned)__builtin_clz(w);
	}
	return 0;
}

uint16_t apicv_intr_status(const uint8_t *page)
{
	return (uint16_t)(highest(page, OFF_ISR) << 8 | highest(page, OFF_IRR));
}

uint8_t apicv_tpr(const uint8_t *page)
{
	return (uint8_t)reg_get(page, OFF_TPR);
}
