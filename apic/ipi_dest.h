/*
 * Which CPUs an IPI reaches: the local APIC's destination rules (SDM vol. 3,
 * 11.6.2 and 11.12.9) for xAPIC physical, flat and cluster logical modes, x2APIC
 * physical and cluster logical, broadcast and the shorthands. Pure; host-tested.
 */
#ifndef HVMETAL_IPI_DEST_H
#define HVMETAL_IPI_DEST_H

#include <stdbool.h>
#include <stdint.h>

#define APIC_LDR	0xd0	/* xAPIC register offsets hvmetal tracks */
#define APIC_DFR	0xe0

/* A possible target, as its own local APIC is programmed. */
struct ipi_target {
	uint32_t apic_id;	/* x2APIC ID (the xAPIC ID is its low 8 bits) */
	uint32_t ldr, dfr;	/* xAPIC logical destination and format registers */
	bool x2apic;		/* its APIC is in x2APIC mode: logical IDs are derived from the ID */
	bool self;		/* the target is the sending CPU */
};

/*
 * Does an IPI with this ICR low word and destination reach t? x2apic: the
 * destination is x2APIC's 32 bits (the sender is in x2APIC mode), not
 * xAPIC's 8 (an xAPIC sender, the IOAPIC, an MSI).
 */
bool ipi_dest_hits(uint32_t icr_lo, uint32_t dest, bool x2apic, const struct ipi_target *t);

#endif
