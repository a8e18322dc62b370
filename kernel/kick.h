/*
 * Kicks: NMIs hvmetal sends to its own CPUs to make them leave VMX non-root
 * (an INIT to deliver, a guest to stop, an EPT to flush). NMIs carry no source
 * and two pending ones merge into one, so kicks are not counted: a CPU has at
 * most one kick in flight (kick_inflight, set by the sender, cleared by the NMI
 * that arrives), and a kick asked for meanwhile rides on it, since the work it
 * stands for is in request flags the target reads after the exit. The control
 * domain's own NMI IPIs are such work too: hvmetal never replays them natively
 * but sets the target's PENDING_NMI and kicks it, so they can neither merge
 * with a kick nor cross one. Its other sources (counter overflow, the
 * platform's NMI reasons) are looked at directly: an NMI with any of those is
 * the control domain's even when it carried a kick too, and one with no kick
 * in flight is the control domain's.
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
#define APIC_BASE_PAGE		0x000ffffffffff000ull

/*
 * A kick to t, through this CPU's local APIC in the mode it is in now; false
 * when it could not be sent (the control domain disabled that APIC, or its ICR
 * never took the IPI), so callers never wait for it for ever.
 */
bool kick_send(struct percpu *t);
/* An NMI IPI of the control domain's to t: t's control domain gets it at its next entry. */
void kick_cd_nmi(struct percpu *t);
/* On cpu, for an NMI that just arrived: is it (also) the control domain's? */
bool kick_nmi_is_cds(struct percpu *cpu);

#endif
