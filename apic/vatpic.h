/*
 * The VM's 8259A pair (ATPIC) behind the hv_vm_atpic_* calls: the primary
 * at ports 0x20/0x21, the secondary at 0xa0/0xa1 cascaded on the primary's
 * IR2, and the chipset's edge/level control registers (ELCR) at
 * 0x4d0/0x4d1.  Pure: line changes, port accesses and the INTA cycle come
 * in as calls, the primary's INT output goes out through intr().
 * Host-tested.
 *
 * Decisions where Apple is silent (copied into docs/apic.md):
 * - The pair is wired as in a PC chipset (Intel ICH): always cascaded,
 *   x86 mode, edge or ELCR level per pin.  ICW1's SNGL, LTIM, ADI and
 *   A7-A5 bits, ICW3's value and ICW4's uPM/BUF/M-S bits are ignored, and
 *   ICW4 is always expected (the ICH requires IC4 = 1).  ICW4's AEOI and
 *   SFNM bits are honoured; SFNM has an effect on the primary only.
 * - ICW1 resets the chip: IMR, ISR and edge requests cleared, IR7 lowest
 *   priority, IRR read selected, special mask mode, poll and rotate-in-AEOI
 *   off; a line still high needs a new rising edge (the edge sense is
 *   reset).  Level requests stay: they follow their lines.  The chip raises
 *   INT only once ICW4 has completed the sequence (ready).
 * - Lines: assert/deassert take IRQ 0..15 except 2, the cascade input,
 *   which has no device line (HV_BAD_ARGUMENT, like any other number).  An
 *   edge request stays latched in IRR after its line falls, until INTA;
 *   a level request (ELCR bit set) is the line itself.  ELCR bits 0, 1, 2
 *   (primary) and 0, 5 (secondary: IRQ 8, 13) are read-only 0.
 * - The secondary's INT drives the primary's IR2 as an edge input.  During
 *   its own INTA the secondary drops INT, so a further request raises a new
 *   edge.  If the secondary's request vanishes after IR2 latched (its line
 *   fell, it was masked), the INTA finds it empty: spurious IRQ 15 (IR2 in
 *   service on the primary only).
 * - Special mask mode: an in-service bit that is masked neither blocks
 *   other levels nor is cleared by a non-specific EOI (8259A datasheet).
 *   SFNM: the primary's IR2 in service does not block IR2 itself.
 * - Poll (OCW3 P): the next read of either port of that chip is the INTA of
 *   that chip alone and returns 0x80 | IR level, or 0 if none.
 * - vatpic_pending() is true while INT is up and gives the vector an INTA
 *   would return now; with INT down it gives the primary's spurious IR7
 *   vector.  vatpic_accept(vector) is the INTA for that vector: it
 *   acknowledges the line the vector names if it still requests, unmasked;
 *   otherwise nothing (the spurious IR7 / IR15 case).  Call it with the
 *   vector vatpic_pending() gave, under the same lock.
 * - State: one hv_atpic_state per chip, kept as the model's own state.
 *   icw_num is the next ICW expected: 2, 3, 4, or 0 when none (ready or
 *   never initialized); last_request is the lines' levels as last seen
 *   (primary bit 2: the secondary's INT); intr_raised is the chip's INT
 *   output; elc is its ELCR byte.  put_state rejects bools other than 0/1,
 *   icw_num outside {0, 2, 3, 4}, ready with icw_num != 0, rd_cmd_reg > 1,
 *   irq_base with bits 2:0 set, lowprio > 7, read-only ELCR bits, a level
 *   pin whose request differs from its line, and intr_raised differing
 *   from what the state implies.
 * - intr() is called only when the primary's INT output changes, with the
 *   caller's lock held; it must not call back into the vatpic.
 */
#ifndef HVMETAL_VATPIC_H
#define HVMETAL_VATPIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <Hypervisor/hv_intr.h>

#define VATPIC_IRQS	16

struct vatpic {
	struct hv_atpic_state chip[2];	/* [0] primary, [1] secondary: Apple's state as it is */
	void (*intr)(void *arg, bool level);
	void *arg;
	bool intr_level;		/* INT as last reported to intr() */
};

/* Power-on: both chips uninitialized (no INT until ICW1..ICW4), IR7 lowest priority, all else 0. */
void vatpic_init(struct vatpic *p, void (*intr)(void *, bool), void *arg);

/* Line changes for IRQ 0..15 except 2 (HV_BAD_ARGUMENT). */
hv_return_t vatpic_assert(struct vatpic *p, int irq);
hv_return_t vatpic_deassert(struct vatpic *p, int irq);

/* Ports 0x20, 0x21, 0xa0, 0xa1, 0x4d0, 0x4d1; any other port is HV_BAD_ARGUMENT. */
hv_return_t vatpic_port_read(struct vatpic *p, int port, uint8_t *val);
hv_return_t vatpic_port_write(struct vatpic *p, int port, uint8_t val);

/* INT is up; *vector: what an INTA would return now (the spurious IR7 vector when INT is down). */
bool vatpic_pending(const struct vatpic *p, uint8_t *vector);
/* The INTA cycle for vector: IRR -> ISR (or auto-EOI), through the cascade. */
void vatpic_accept(struct vatpic *p, uint8_t vector);

void vatpic_get_state(const struct vatpic *p, bool primary, struct hv_atpic_state *s);
/* Checks the whole state first; on HV_BAD_ARGUMENT nothing has changed. */
hv_return_t vatpic_put_state(struct vatpic *p, bool primary, const struct hv_atpic_state *s);

#endif
