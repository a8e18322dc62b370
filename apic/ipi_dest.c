#include "ipi_dest.h"

#define ICR_LOGICAL		(1u << 11)
#define ICR_SHORTHAND(lo)	(((lo) >> 18) & 3)
#define SHORTHAND_SELF		1
#define SHORTHAND_ALL		2
#define SHORTHAND_OTHERS	3
#define DFR_CLUSTER(dfr)	((((dfr) >> 28) & 0xf) == 0)

static bool physical_hits(uint32_t dest, bool x2apic, uint32_t id)
{
	if (x2apic)
		return dest == 0xffffffffu || dest == id;
	dest &= 0xff;
	return dest == 0xff || dest == (id & 0xff);
}

static bool logical_hits(uint32_t dest, bool x2apic, const struct ipi_target *t)
{
	uint32_t ldr;

	if (t->x2apic) {
		/*
		 * The logical ID is derived: cluster = ID[19:4], one bit of 16 = ID[3:0].
		 * The target's mode decides, as in KVM: an 8-bit destination (the
		 * IOAPIC's, an MSI's) names cluster 0, 0xff broadcast.
		 */
		if (dest == (x2apic ? 0xffffffffu : 0xffu))
			return true;
		return (dest >> 16) == (t->apic_id >> 4) && (dest & (1u << (t->apic_id & 15)));
	}
	dest &= 0xff;
	ldr = t->ldr >> 24;
	if (dest == 0xff)
		return true;
	if (DFR_CLUSTER(t->dfr))
		return (dest >> 4) == (ldr >> 4) && (dest & ldr & 0xf);
	return dest & ldr;	/* flat */
}

bool ipi_dest_hits(uint32_t icr_lo, uint32_t dest, bool x2apic, const struct ipi_target *t)
{
	switch (ICR_SHORTHAND(icr_lo)) {
	case SHORTHAND_SELF:
		return t->self;
	case SHORTHAND_ALL:
		return true;
	case SHORTHAND_OTHERS:
		return !t->self;
	}
	return (icr_lo & ICR_LOGICAL) ? logical_hits(dest, x2apic, t) :
					physical_hits(dest, x2apic, t->apic_id);
}
