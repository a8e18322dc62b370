#include "vioapic.h"

#define IOAPIC_PAGE	0x1000
#define IOAPIC_REGSEL	0x00		/* MMIO offsets */
#define IOAPIC_WIN	0x10

#define IOAPIC_ID	0x00		/* register indexes */
#define IOAPIC_VER	0x01
#define IOAPIC_ARB	0x02
#define IOAPIC_RTBL	0x10		/* entry n: low half 0x10 + 2n, high half 0x11 + 2n */
#define IOAPIC_RTBL_END	(IOAPIC_RTBL + 2 * VIOAPIC_PINS)

#define ID_SHIFT	24		/* the ID sits in bits 27:24 */
#define ID_MAX		0xfu
#define REGSEL_MAX	0xffu

#define RTE_DEST	(0xffull << VIOAPIC_RTE_DEST_SHIFT)
#define RTE_WRITABLE	(RTE_DEST | VIOAPIC_RTE_MASK | VIOAPIC_RTE_LEVEL | VIOAPIC_RTE_POLARITY | \
			 VIOAPIC_RTE_LOGICAL | (7ull << VIOAPIC_RTE_MODE_SHIFT) | VIOAPIC_RTE_VECTOR)
#define RTE_DEFINED	(RTE_WRITABLE | VIOAPIC_RTE_RIRR)

static bool pin_ok(int pin)
{
	return pin >= 0 && pin < VIOAPIC_PINS;
}

static void send(struct vioapic *io, int pin)
{
	uint64_t e = io->rtbl[pin];
	struct apic_msg m = {
		.dest = (uint32_t)(e >> VIOAPIC_RTE_DEST_SHIFT),
		.vector = (uint8_t)(e & VIOAPIC_RTE_VECTOR),
		.mode = (uint8_t)((e >> VIOAPIC_RTE_MODE_SHIFT) & 7),
		.shorthand = APIC_SH_NONE,
		.logical = (e & VIOAPIC_RTE_LOGICAL) != 0,
		.level = (e & VIOAPIC_RTE_LEVEL) != 0,
		.assert = true,
	};

	/* A level message stays outstanding until the local APIC's EOI comes back. */
	if (m.level)
		io->rtbl[pin] |= VIOAPIC_RTE_RIRR;
	io->deliver(io->arg, &m);
}

/* A level pin sends while its line is active, it is unmasked and no message awaits an EOI. */
static void level_check(struct vioapic *io, int pin)
{
	uint64_t e = io->rtbl[pin];

	if ((e & (VIOAPIC_RTE_LEVEL | VIOAPIC_RTE_MASK | VIOAPIC_RTE_RIRR)) == VIOAPIC_RTE_LEVEL &&
	    (io->line & (1u << pin)))
		send(io, pin);
}

void vioapic_init(struct vioapic *io, void (*deliver)(void *, const struct apic_msg *), void *arg)
{
	for (int pin = 0; pin < VIOAPIC_PINS; pin++)
		io->rtbl[pin] = VIOAPIC_RTE_MASK;
	io->id = 0;
	io->ioregsel = 0;
	io->line = 0;
	io->deliver = deliver;
	io->arg = arg;
}

hv_return_t vioapic_assert(struct vioapic *io, int pin)
{
	bool rising;

	if (!pin_ok(pin))
		return HV_BAD_ARGUMENT;
	rising = !(io->line & (1u << pin));
	io->line |= 1u << pin;
	if (io->rtbl[pin] & VIOAPIC_RTE_LEVEL)
		level_check(io, pin);
	else if (rising && !(io->rtbl[pin] & VIOAPIC_RTE_MASK))
		send(io, pin);
	return HV_SUCCESS;
}

hv_return_t vioapic_deassert(struct vioapic *io, int pin)
{
	if (!pin_ok(pin))
		return HV_BAD_ARGUMENT;
	io->line &= ~(1u << pin);
	return HV_SUCCESS;
}

hv_return_t vioapic_pulse(struct vioapic *io, int pin)
{
	hv_return_t ret = vioapic_assert(io, pin);

	if (ret != HV_SUCCESS)
		return ret;
	return vioapic_deassert(io, pin);
}

static uint32_t id_read(const struct vioapic *io)
{
	return io->id << ID_SHIFT;
}

static void id_write(struct vioapic *io, uint32_t val)
{
	io->id = (val >> ID_SHIFT) & ID_MAX;
}

static uint32_t rtbl_read(const struct vioapic *io, uint32_t index)
{
	uint64_t e = io->rtbl[(index - IOAPIC_RTBL) / 2];

	return (index & 1) ? (uint32_t)(e >> 32) : (uint32_t)e;
}

static void rtbl_write(struct vioapic *io, uint32_t index, uint32_t val)
{
	int pin = (int)(index - IOAPIC_RTBL) / 2;
	uint64_t old = io->rtbl[pin], e;

	if (index & 1)
		e = (old & 0xffffffffull) | ((uint64_t)val << 32);
	else
		e = (old & ~0xffffffffull) | val;
	/* Remote IRR and delivery status are read-only; an edge entry has no remote IRR. */
	e = (e & RTE_WRITABLE) | (old & VIOAPIC_RTE_RIRR);
	if (!(e & VIOAPIC_RTE_LEVEL))
		e &= ~VIOAPIC_RTE_RIRR;
	io->rtbl[pin] = e;
	level_check(io, pin);
}

static uint32_t reg_read(const struct vioapic *io, uint32_t index)
{
	switch (index) {
	case IOAPIC_ID:
	case IOAPIC_ARB:	/* the arbitration ID is loaded from the ID */
		return id_read(io);
	case IOAPIC_VER:
		return VIOAPIC_VERSION;
	}
	if (index >= IOAPIC_RTBL && index < IOAPIC_RTBL_END)
		return rtbl_read(io, index);
	return 0;
}

static void reg_write(struct vioapic *io, uint32_t index, uint32_t val)
{
	switch (index) {
	case IOAPIC_ID:
		id_write(io, val);
		return;
	case IOAPIC_VER:
	case IOAPIC_ARB:
		return;
	}
	if (index >= IOAPIC_RTBL && index < IOAPIC_RTBL_END)
		rtbl_write(io, index, val);
}

/* The offset of a 32-bit access inside the IOAPIC page. */
static hv_return_t mmio_offset(uint64_t gpa, uint32_t *off)
{
	if (gpa < VIOAPIC_BASE || gpa - VIOAPIC_BASE >= IOAPIC_PAGE || (gpa & 3))
		return HV_BAD_ARGUMENT;
	*off = (uint32_t)(gpa - VIOAPIC_BASE);
	return HV_SUCCESS;
}

hv_return_t vioapic_mmio_read(struct vioapic *io, uint64_t gpa, uint32_t *val)
{
	uint32_t off;

	if (mmio_offset(gpa, &off) != HV_SUCCESS)
		return HV_BAD_ARGUMENT;
	switch (off) {
	case IOAPIC_REGSEL:
		*val = io->ioregsel;
		break;
	case IOAPIC_WIN:
		*val = reg_read(io, io->ioregsel);
		break;
	default:
		*val = 0;
	}
	return HV_SUCCESS;
}

hv_return_t vioapic_mmio_write(struct vioapic *io, uint64_t gpa, uint32_t val)
{
	uint32_t off;

	if (mmio_offset(gpa, &off) != HV_SUCCESS)
		return HV_BAD_ARGUMENT;
	switch (off) {
	case IOAPIC_REGSEL:
		io->ioregsel = val & REGSEL_MAX;
		break;
	case IOAPIC_WIN:
		reg_write(io, io->ioregsel, val);
		break;
	}
	return HV_SUCCESS;
}

void vioapic_eoi(struct vioapic *io, uint8_t vector)
{
	for (int pin = 0; pin < VIOAPIC_PINS; pin++) {
		uint64_t e = io->rtbl[pin];

		if (!(e & VIOAPIC_RTE_RIRR) || (e & VIOAPIC_RTE_VECTOR) != vector)
			continue;
		io->rtbl[pin] = e & ~VIOAPIC_RTE_RIRR;
		level_check(io, pin);
	}
}

void vioapic_get_state(const struct vioapic *io, struct hv_ioapic_state *s)
{
	for (int pin = 0; pin < VIOAPIC_PINS; pin++)
		s->rtbl[pin] = io->rtbl[pin];
	s->irr = io->line;
	s->ioa_id = io->id;
	s->ioregsel = io->ioregsel;
}

static bool rte_ok(uint64_t e)
{
	if (e & ~RTE_DEFINED)
		return false;
	return !(e & VIOAPIC_RTE_RIRR) || (e & VIOAPIC_RTE_LEVEL);
}

hv_return_t vioapic_put_state(struct vioapic *io, const struct hv_ioapic_state *s)
{
	if (s->ioa_id > ID_MAX || s->ioregsel > REGSEL_MAX)
		return HV_BAD_ARGUMENT;
	for (int pin = 0; pin < VIOAPIC_PINS; pin++)
		if (!rte_ok(s->rtbl[pin]))
			return HV_BAD_ARGUMENT;
	for (int pin = 0; pin < VIOAPIC_PINS; pin++)
		io->rtbl[pin] = s->rtbl[pin];
	io->line = s->irr;
	io->id = s->ioa_id;
	io->ioregsel = s->ioregsel;
	for (int pin = 0; pin < VIOAPIC_PINS; pin++)
		level_check(io, pin);
	return HV_SUCCESS;
}
