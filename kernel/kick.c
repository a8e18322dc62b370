#include "cpu.h"
#include "hvmetal.h"
#include "kick.h"

#define APIC_ICR_LO		0x300
#define APIC_ICR_HI		0x310
#define ICR_NMI			(4u << 8)
#define ICR_PENDING		(1u << 12)

#define MSR_PERF_GLOBAL_STATUS	0x38e
#define NMI_STATUS_PORT		0x61	/* system control port B: bits 7, 6 = SERR, IOCHK */
#define NMI_STATUS_REASONS	0xc0
#define ICR_POLLS		100000	/* an xAPIC that never takes the IPI: give up */

/* An NMI to one CPU, from VMX root, leaving the xAPIC's ICR as it was. */
static bool send_nmi(uint32_t apic_id, bool x2apic, uint64_t apic_page)
{
	volatile uint32_t *apic = (volatile uint32_t *)(uintptr_t)apic_page;
	uint32_t hi, polls = 0;

	if (x2apic) {
		wrmsr(MSR_X2APIC_ICR, ((uint64_t)apic_id << 32) | ICR_NMI);
		return true;
	}
	hi = apic[APIC_ICR_HI / 4];
	apic[APIC_ICR_HI / 4] = apic_id << 24;
	apic[APIC_ICR_LO / 4] = ICR_NMI;
	while ((apic[APIC_ICR_LO / 4] & ICR_PENDING) && ++polls < ICR_POLLS)
		cpu_pause();
	apic[APIC_ICR_HI / 4] = hi;
	return polls < ICR_POLLS;
}

bool kick_send(struct percpu *t)
{
	uint64_t base = rdmsr(MSR_IA32_APIC_BASE);

	/* The control domain turned this CPU's APIC off: no IPI can leave it. */
	if (!(base & APIC_BASE_ENABLE))
		return false;
	if (__atomic_exchange_n(&t->kick_inflight, 1, __ATOMIC_ACQ_REL))
		return true;	/* one is on its way: it does for this one too */
	if (send_nmi(t->apic_id, base & APIC_BASE_X2APIC, base & APIC_BASE_PAGE))
		return true;
	__atomic_store_n(&t->kick_inflight, 0, __ATOMIC_RELEASE);
	return false;
}

void kick_cd_nmi(struct percpu *t)
{
	percpu_set_pending(t, PENDING_NMI);
	if (t != this_cpu())
		kick_send(t);
}

/* An NMI source of the control domain's that no IPI shows: a counter overflow, SERR/IOCHK. */
static bool cd_nmi_source(void)
{
	/* The architectural PMU's version, read on the first NMI (every CPU finds the same). */
	static int pmu = -1;

	if (pmu < 0)
		pmu = cpuid(0, 0).eax >= 0xa ? (int)(cpuid(0xa, 0).eax & 0xff) : 0;
	if (pmu >= 2 && rdmsr(MSR_PERF_GLOBAL_STATUS))
		return true;
	return inb(NMI_STATUS_PORT) & NMI_STATUS_REASONS;
}

bool kick_nmi_is_cds(struct percpu *cpu)
{
	bool kick = __atomic_exchange_n(&cpu->kick_inflight, 0, __ATOMIC_ACQ_REL);

	/* No kick in flight: an NMI from elsewhere, the control domain's. */
	return !kick || cd_nmi_source();
}
