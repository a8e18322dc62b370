/*
 * Kicks: NMIs hvmetal sends to its own CPUs to make them leave VMX non-root
 * (an INIT to deliver, a guest to stop, an EPT to re-sync). Each is counted on
 * the target before it is sent, so the target can tell it from an NMI of the
 * control domain's and never hands it on.
 */
#ifndef HVMETAL_KICK_H
#define HVMETAL_KICK_H

#include <stdbool.h>
#include <stdint.h>
#include "percpu.h"

#define MSR_IA32_APIC_BASE	0x1b
#define MSR_X2APIC_ICR		0x830
#define APIC_BASE_X2APIC	(1ull << 10)
#define APIC_BASE_ENABLE	(1ull << 11)

/*
 * A kick to t, through this CPU's local APIC in the mode it is in now; false
 * when it could not be sent (the control domain disabled that APIC, or its ICR
 * never took the IPI), so callers never wait for it for ever.
 */
bool kick_send(struct percpu *t);
/* An NMI to one CPU, from VMX root, leaving the xAPIC's ICR as it was; false as above. */
bool kick_send_nmi(uint32_t apic_id, bool x2apic);
/* Consumes one of hvmetal's own kicks to cpu, if one is outstanding. */
bool kick_consume(struct percpu *cpu);

#endif
