/*
 * The VM's IOAPIC: an 82093AA-style I/O APIC with 32 pins behind the
 * hv_vm_ioapic_* calls.  Pure: pin changes, MMIO and EOIs come in as calls,
 * interrupt messages go out through deliver().  Host-tested.
 *
 * Decisions where Apple is silent (copied into docs/apic.md):
 * - 32 pins (Apple's rtbl[32]); IOAPICVER reads 0x001F0011 (version 0x11,
 *   max redirection entry 31).  Version 0x11 has no EOI register: only
 *   IOREGSEL (+0x00) and IOWIN (+0x10) exist; other offsets in the page
 *   read 0 and ignore writes.
 * - MMIO takes the full guest-physical address of a 32-bit access.  A gpa
 *   outside [0xfec00000, 0xfec01000) or not 4-byte aligned is
 *   HV_BAD_ARGUMENT.  IOREGSEL keeps bits 7:0; an unknown index reads 0 and
 *   ignores writes.
 * - Pin levels are logical: assert means "active" whatever the polarity
 *   bit says (the API speaks of assert/deassert, not of voltages, like
 *   KVM's and QEMU's IOAPICs).  The polarity bit is stored, not used.
 * - Edge: a rising edge on an unmasked pin sends one message; while masked
 *   the edge is lost, and unmasking a high edge pin sends nothing.  Level:
 *   a message goes out whenever the line is active, the entry unmasked and
 *   remote IRR clear, then remote IRR is set; an EOI with the entry's vector
 *   clears it.  Changing an entry from level to edge clears remote IRR.
 * - Delivery status (bit 12) always reads 0: a message is delivered at once.
 *   Delivery modes pass through unchanged (also reserved ones; the local
 *   APIC decides); NMI/SMI/INIT/ExtINT entries programmed level behave as
 *   any level entry (as in KVM and bhyve).
 * - State: rtbl[] as the registers read (remote IRR included); irr = the
 *   pin levels (bit n: pin n asserted; remote IRR is already in rtbl bit 14,
 *   whatever hv_intr.h's comment says); ioa_id = the bare ID 0..15 (what the
 *   ID register holds in bits 27:24, as QEMU's IOAPIC keeps it); ioregsel as
 *   written.  put_state rejects an ID > 15, ioregsel > 0xff, reserved or
 *   delivery-status bits set, and remote IRR on an edge entry, changing
 *   nothing; after a put, level pins that need a message get one (as KVM
 *   re-injects asserted level pins on restore).
 * - deliver() is called with the caller's lock held and must not call back
 *   into the vioapic.
 */
#ifndef HVMETAL_VIOAPIC_H
#define HVMETAL_VIOAPIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <Hypervisor/hv_intr.h>
#include "apic_bus.h"

#define VIOAPIC_PINS	32
#define VIOAPIC_BASE	0xfec00000ull
#define VIOAPIC_VERSION	0x001f0011u

/* Redirection-table entry bits (82093AA, 3.2.4). */
#define VIOAPIC_RTE_VECTOR	0xffull
#define VIOAPIC_RTE_MODE_SHIFT	8		/* bits 10:8, enum apic_dm */
#define VIOAPIC_RTE_LOGICAL	(1ull << 11)
#define VIOAPIC_RTE_STATUS	(1ull << 12)	/* delivery status, read-only */
#define VIOAPIC_RTE_POLARITY	(1ull << 13)	/* 1: active low */
#define VIOAPIC_RTE_RIRR	(1ull << 14)	/* remote IRR, read-only */
#define VIOAPIC_RTE_LEVEL	(1ull << 15)
#define VIOAPIC_RTE_MASK	(1ull << 16)
#define VIOAPIC_RTE_DEST_SHIFT	56		/* bits 63:56 */

struct vioapic {
	uint64_t rtbl[VIOAPIC_PINS];	/* redirection entries as they read */
	uint32_t id;			/* IOAPIC ID, 0..15 */
	uint32_t ioregsel;		/* index register, 0..0xff */
	uint32_t line;			/* pin levels: bit n set while pin n is asserted */
	void (*deliver)(void *arg, const struct apic_msg *m);
	void *arg;
};

/* Reset: ID 0, every entry masked and otherwise 0, all pins low. */
void vioapic_init(struct vioapic *io, void (*deliver)(void *, const struct apic_msg *), void *arg);

/* Pin level changes; a pin outside 0..31 is HV_BAD_ARGUMENT. pulse = assert then deassert. */
hv_return_t vioapic_assert(struct vioapic *io, int pin);
hv_return_t vioapic_deassert(struct vioapic *io, int pin);
hv_return_t vioapic_pulse(struct vioapic *io, int pin);

/* A 32-bit guest access at the full guest-physical address gpa. */
hv_return_t vioapic_mmio_read(struct vioapic *io, uint64_t gpa, uint32_t *val);
hv_return_t vioapic_mmio_write(struct vioapic *io, uint64_t gpa, uint32_t val);

/* A local APIC's EOI of a level-triggered vector, broadcast to the IOAPIC. */
void vioapic_eoi(struct vioapic *io, uint8_t vector);

void vioapic_get_state(const struct vioapic *io, struct hv_ioapic_state *s);
/* Checks the whole state first; on HV_BAD_ARGUMENT nothing has changed. */
hv_return_t vioapic_put_state(struct vioapic *io, const struct hv_ioapic_state *s);

#endif
