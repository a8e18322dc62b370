#include "cpu.h"
#include "hvmetal.h"
#include "kick.h"

#define APIC_ICR_LO		0x300
#define APIC_ICR_HI		0x310
#define ICR_NMI			(4u << 8)
#define ICR_PENDING		(1u << 12)

#define ICR_POLLS		100000	/* an xAPIC that never takes the IPI: give up */

bool kick_send_nmi(uint32_t apic_id, bool x2apic)
{
	volatile uint32_t *apic = (volatile uint32_t *)(uintptr_t)hv.lapic_page;
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
	__atomic_add_fetch(&t->nmi_kicks, 1, __ATOMIC_ACQ_REL);
	return kick_send_nmi(t->apic_id, base & APIC_BASE_X2APIC);
}

bool kick_consume(struct percpu *cpu)
{
	uint32_t k = __atomic_load_n(&cpu->nmi_kicks, __ATOMIC_ACQUIRE);

	while (k && !__atomic_compare_exchange_n(&cpu->nmi_kicks, &k, k - 1, false,
						 __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		;
	return k != 0;
}
