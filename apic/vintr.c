#include "vintr.h"

#define MSI_ADDR_BASE_MASK	0xfff00000u
#define MSI_ADDR_BASE		0xfee00000u
#define MSI_ADDR_DEST(a)	(((a) >> 12) & 0xff)
#define MSI_ADDR_RH		(1u << 3)
#define MSI_ADDR_DM		(1u << 2)

#define RTE_VECTOR(r)		((uint8_t)(r))
#define RTE_DM(r)		(((r) >> 8) & 7)
#define RTE_LOGICAL		(1ull << 11)
#define RTE_LEVEL		(1ull << 15)
#define RTE_MASKED		(1ull << 16)
#define RTE_DEST(r)		((uint32_t)((r) >> 56))

#define ICR_LOGICAL		(1u << 11)

/* a * 2^32 / b rounded down or up, without a 128-bit division; a, b > 0. */
static uint64_t vintr_ratio(uint64_t a, uint64_t b, bool up)
{
	uint64_t q, r;
	int i;

	for (i = 0; i < 32 && (b >> 32); i++) {	/* keep the remainder below 2^32 */
		a >>= 1;
		b >>= 1;
	}
	q = a / b;
	r = a % b;
	if (q >> 32)
		return UINT64_MAX;
	return (q << 32) + ((r << 32) + (up ? b - 1 : 0)) / b;
}

/*
 * Ticks round the rate down and the result up, counts the other way, so an
 * integer ratio is exact and a count read at its deadline is 0.
 */
static void vintr_rates(struct vintr *vi)
{
	uint64_t tsc = vi->tsc_hz ? vi->tsc_hz : vi->bus_hz;

	vi->tsc_per_bus = vintr_ratio(tsc, vi->bus_hz, false);
	vi->bus_per_tsc = vintr_ratio(vi->bus_hz, tsc, true);
}

void vintr_init(struct vintr *vi, const struct apic_env *env, uint64_t tsc_hz)
{
	*vi = (struct vintr){ .env = env, .bus_hz = VINTR_BUS_HZ_DEFAULT, .tsc_hz = tsc_hz };
	vintr_rates(vi);
	vintr_set_maxphyaddr(vi, 52);
}

void vintr_set_maxphyaddr(struct vintr *vi, unsigned bits)
{
	if (bits < 36 || bits > 52)
		bits = 52;
	vi->base_mask = ((1ull << bits) - 1) & ~0xfffull;
}

hv_return_t vintr_set_bus_freq(struct vintr *vi, uint64_t hz)
{
	unsigned i;

	if (hz < VINTR_BUS_HZ_MIN || hz > VINTR_BUS_HZ_MAX)
		return HV_BAD_ARGUMENT;
	for (i = 0; i < VINTR_VCPUS; i++)
		if (vi->lapic[i])
			return HV_BUSY;
	vi->bus_hz = hz;
	vintr_rates(vi);
	return HV_SUCCESS;
}

uint64_t vintr_ticks(const struct vintr *vi, uint64_t counts, uint32_t divide)
{
	unsigned __int128 t = (unsigned __int128)counts * divide * vi->tsc_per_bus;

	t = (t + 0xffffffffu) >> 32;
	return (t >> 64) ? UINT64_MAX : (uint64_t)t;
}

/* divide is a power of two: a shift, as the freestanding build has no 128-bit division. */
uint64_t vintr_counts(const struct vintr *vi, uint64_t ticks, uint32_t divide)
{
	unsigned __int128 c = (unsigned __int128)ticks * vi->bus_per_tsc >> (32 + __builtin_ctz(divide));

	return (c >> 64) ? UINT64_MAX : (uint64_t)c;
}

/* Lowest priority (SDM 11.6.2.4): lowest PPR among the software-enabled matches, ties to the lowest id. */
static struct vlapic *vintr_lowest(struct vintr *vi, uint32_t icr_lo, const struct apic_msg *m, bool x2apic)
{
	struct vlapic *best = NULL;
	struct ipi_target t;
	unsigned i;

	for (i = 0; i < VINTR_VCPUS; i++) {
		struct vlapic *vl = vi->lapic[i];

		if (!vl || !vlapic_sw_enabled(vl))
			continue;
		vlapic_target(vl, &t, m->src);
		if (!ipi_dest_hits(icr_lo, m->dest, x2apic, &t))
			continue;
		if (!best || vlapic_ppr(vl) < vlapic_ppr(best))
			best = vl;
	}
	return best;
}

static void vintr_effect(struct vlapic_effect *eff, const struct apic_msg *m, uint32_t vcpu)
{
	if (!eff)
		return;
	eff->exitinfo = m->mode == APIC_DM_INIT ? HV_VM_EXITINFO_INIT_AP : HV_VM_EXITINFO_STARTUP_AP;
	eff->targets |= 1ull << vcpu;
	if (m->mode == APIC_DM_STARTUP)
		eff->vector = m->vector;
}

void vintr_send(struct vintr *vi, const struct apic_msg *m, bool x2apic, struct vlapic_effect *eff)
{
	uint32_t icr_lo = ((uint32_t)m->shorthand << 18) | (m->logical ? ICR_LOGICAL : 0);
	struct ipi_target t;
	struct vlapic *vl;
	unsigned i;

	switch (m->mode) {
	case APIC_DM_FIXED:
	case APIC_DM_NMI:
	case APIC_DM_INIT:
	case APIC_DM_STARTUP:
		break;
	case APIC_DM_LOWPRI:
		vl = vintr_lowest(vi, icr_lo, m, x2apic);
		if (vl)
			vlapic_receive(vl, m, false);
		return;
	default:		/* SMI, ExtINT, reserved: dropped */
		return;
	}
	for (i = 0; i < VINTR_VCPUS; i++) {
		vl = vi->lapic[i];
		if (!vl)
			continue;
		vlapic_target(vl, &t, m->src);
		if (!ipi_dest_hits(icr_lo, m->dest, x2apic, &t))
			continue;
		if (vlapic_receive(vl, m, false) && (m->mode == APIC_DM_INIT || m->mode == APIC_DM_STARTUP))
			vintr_effect(eff, m, i);
	}
}

void vintr_deliver(struct vintr *vi, const struct apic_msg *m, struct vlapic_effect *eff)
{
	vintr_send(vi, m, false, eff);
}

/* Messages from devices carry only interrupts: no INIT/STARTUP. */
static void vintr_device(struct vintr *vi, const struct apic_msg *m)
{
	if (m->mode == APIC_DM_INIT || m->mode == APIC_DM_STARTUP)
		return;
	vintr_send(vi, m, false, NULL);
}

hv_return_t vintr_msi(struct vintr *vi, uint64_t addr, uint64_t data)
{
	struct apic_msg m = {
		.dest = MSI_ADDR_DEST(addr),
		.vector = (uint8_t)data,
		.mode = (data >> 8) & 7,
		.logical = (addr & (MSI_ADDR_RH | MSI_ADDR_DM)) == (MSI_ADDR_RH | MSI_ADDR_DM),
		.assert = true,
	};

	if ((addr & MSI_ADDR_BASE_MASK) != MSI_ADDR_BASE)
		return HV_BAD_ARGUMENT;
	vintr_device(vi, &m);
	return HV_SUCCESS;
}

hv_return_t vintr_ioapic_intr(struct vintr *vi, uint64_t rte)
{
	struct apic_msg m = {
		.dest = RTE_DEST(rte),
		.vector = RTE_VECTOR(rte),
		.mode = RTE_DM(rte),
		.logical = rte & RTE_LOGICAL,
		.level = rte & RTE_LEVEL,
		.assert = true,
	};

	if (!(rte & RTE_MASKED))
		vintr_device(vi, &m);
	return HV_SUCCESS;
}

hv_return_t vintr_set_intr(struct vintr *vi, uint32_t vcpu, uint8_t vector, hv_apic_intr_trigger_t trig)
{
	struct apic_msg m = {
		.dest = vcpu,
		.vector = vector,
		.mode = APIC_DM_FIXED,
		.level = trig == HV_APIC_LEVEL_TRIGGER,
		.assert = true,
		.src = vcpu,
	};

	if (vcpu >= VINTR_VCPUS || !vi->lapic[vcpu] || vector < 16 || trig > HV_APIC_LEVEL_TRIGGER)
		return HV_BAD_ARGUMENT;
	vlapic_receive(vi->lapic[vcpu], &m, trig == HV_APIC_EDGE_TRIGGER_AEOI);
	return HV_SUCCESS;
}

void vintr_lint(struct vintr *vi, unsigned pin, bool level)
{
	unsigned i;

	if (pin > 1)
		return;
	for (i = 0; i < VINTR_VCPUS; i++)
		if (vi->lapic[i])
			vlapic_lint(vi->lapic[i], pin, level);
}
