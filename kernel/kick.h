/*
 * Kicks: NMIs hvmetal sends to its own CPUs to make them leave VMX non-root
 * (an INIT to deliver, a guest to stop, an EPT to re-sync). NMIs carry no
 * source and two pending ones merge into one, so a count would drift: a kick
 * is a generation bumped before the NMI, and an NMI that finds a newer one
 * than the CPU last saw is a kick, however many were sent. The control
 * domain's own NMI IPIs are bumped the same way where hvmetal replays its ICR
 * writes (cd_apic.c), and its other NMI sources (counter overflow, the
 * platform's NMI reasons) are looked at directly: an NMI with any of those is
 * the control domain's even when a kick came with it.
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
/*
 * An NMI to one CPU, from VMX root, through this CPU's x2APIC or its xAPIC at
 * apic_page, leaving the xAPIC's ICR as it was; false as above.
 */
bool kick_send_nmi(uint32_t apic_id, bool x2apic, uint64_t apic_page);
/* Marks an NMI IPI of the control domain's to t, before its ICR write is replayed. */
void kick_note_cd_nmi(struct percpu *t);
/* On cpu, for an NMI that just arrived: is it (also) the control domain's? */
bool kick_nmi_is_cds(struct percpu *cpu);

#endif
