/*
 * The virtual-APIC page of one local APIC under the CPU's APIC virtualization
 * (SDM vol. 3, ch. 30): what hvmetal uses, where the CPU has them, for a vCPU
 * whose local APIC is in x2APIC mode ("virtualize x2APIC mode",
 * APIC-register virtualization, virtual-interrupt delivery).  The guest then
 * reads its x2APIC registers from the page, writes TPR and EOI, and takes
 * interrupts, with no exit; the model (vlapic) stays the truth between exits.
 * Pure: the page is a 4 KiB array here.
 *
 * Who holds what: from apicv_load (before an entry) to apicv_store (after the
 * exit) the CPU owns IRR, ISR and TPR on the page; vectors other CPUs accept
 * meanwhile collect in vl->posted (and in vl->irr) and go in with
 * apicv_post.  Anything else that changes the model bumps vl->regs_gen: a
 * change of it during a guest run can only be a reset (INIT from another
 * CPU), and then the page is stale and not stored back.
 *
 * Decisions (docs/apic.md):
 *  - The page serves a guest read of an x2APIC MSR only where the model
 *    answers that RDMSR without a #GP, except the current count (0x839, it
 *    runs) and, under HV_APIC_CTRL_NO_TIMER, the timer registers (the VMM's);
 *    every other read exits as before.
 *  - Writes the CPU does without an exit: TPR (0x808), and EOI (0x80B) unless
 *    HV_APIC_CTRL_IOAPIC_EOI (those EOIs exit as before, so the VMM sees the
 *    WRMSR with RIP on it).  The SELF IPI and every other write exit to
 *    hvmetal (a self IPI with vector < 16 must set ESR, which the CPU does not).
 *  - The EOI-exit bitmap is TMR: a level vector's EOI exits (trap-like) and
 *    goes to the IOAPIC as before; an edge vector's needs no exit.
 *  - A vCPU with an AEOI vector pending, a software-disabled APIC or in xAPIC
 *    mode is not virtualized for that entry (the CPU would put the vector in
 *    ISR, deliver it while disabled, or need the APIC page's writes that
 *    Apple's clients decode themselves).
 */
#ifndef HVMETAL_APICV_H
#define HVMETAL_APICV_H

#include <stdbool.h>
#include <stdint.h>
#include "apic/vlapic.h"

#define APICV_PAGE_SIZE		4096u
#define APICV_MSR_TPR		0x808u
#define APICV_MSR_EOI		0x80bu

/* x2APIC MSRs by bit n = MSR 0x800 + n: the ones the guest reads from the page, and writes through the CPU. */
struct apicv_msrs {
	uint32_t read[8], write[8];
};

/* For vl in x2APIC mode, with its control bits. */
void apicv_msrs(const struct vlapic *vl, struct apicv_msrs *m);
/* The whole page from the model; empties vl->posted. */
void apicv_load(struct vlapic *vl, uint8_t *page);
/* The registers the guest writes often (ICR, initial count), at every entry: they bump no regs_gen. */
void apicv_load_hot(const struct vlapic *vl, uint8_t *page);
/* Vectors posted since into the page's IRR (and TMR); false when there were none. */
bool apicv_post(struct vlapic *vl, uint8_t *page);
/* What the CPU changed (IRR, ISR, TPR) back into the model; posted vectors stay pending. */
void apicv_store(struct vlapic *vl, const uint8_t *page);
/* The guest interrupt status the page implies: SVI (highest ISR) << 8 | RVI (highest IRR). */
uint16_t apicv_intr_status(const uint8_t *page);
/* The page's TPR (offset 0x80). */
uint8_t apicv_tpr(const uint8_t *page);

#endif
