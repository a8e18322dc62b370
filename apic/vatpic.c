#include "vatpic.h"

#define PRIMARY		0
#define SECONDARY	1

#define PORT_CMD0	0x20
#define PORT_DATA0	0x21
#define PORT_CMD1	0xa0
#define PORT_DATA1	0xa1
#define PORT_ELCR0	0x4d0
#define PORT_ELCR1	0x4d1

#define CASCADE_PIN	2		/* the secondary's INT on the primary */
#define CASCADE_BIT	(1u << CASCADE_PIN)
#define SPURIOUS_PIN	7

#define ICW1		0x10		/* command port: bit 4 set */
#define OCW3		0x08		/* command port: bit 4 clear, bit 3 set; else OCW2 */
#define ICW4_AEOI	0x02
#define ICW4_SFNM	0x10
#define OCW3_ESMM	0x40
#define OCW3_SMM	0x20
#define OCW3_POLL	0x04
#define OCW3_RR		0x02
#define OCW3_RIS	0x01
#define POLL_HIT	0x80

/* OCW2 R, SL, EOI (bits 7:5) */
#define OCW2_ROTATE_AEOI_CLEAR	0x00
#define OCW2_EOI		0x20
#define OCW2_NOP		0x40
#define OCW2_SPECIFIC_EOI	0x60
#define OCW2_ROTATE_AEOI_SET	0x80
#define OCW2_ROTATE_EOI		0xa0
#define OCW2_SET_PRIORITY	0xc0
#define OCW2_ROTATE_SPECIFIC	0xe0

/* ELCR bits wired to edge: IRQ 0, 1, 2 and IRQ 8, 13. */
static const uint8_t elcr_fixed[2] = { 0x07, 0x21 };

static uint8_t bit(int pin)
{
	return (uint8_t)(1u << pin);
}

/* The i-th IR line in priority order: the one after lowprio comes first. */
static int prio_pin(const struct hv_atpic_state *c, int i)
{
	return (c->lowprio + 1 + i) & 7;
}

/* In-service levels that take part in priority: special mask mode hides the masked ones. */
static uint8_t isr_visible(const struct hv_atpic_state *c)
{
	return c->smm ? c->service & (uint8_t)~c->mask : c->service;
}

static int highest_isr(const struct hv_atpic_state *c)
{
	uint8_t isr = isr_visible(c);

	for (int i = 0; i < 8; i++)
		if (isr & bit(prio_pin(c, i)))
			return prio_pin(c, i);
	return -1;
}

/* The request the chip would signal: unmasked, above every level in service. */
static int highest_irr(const struct hv_atpic_state *c, bool primary)
{
	uint8_t req = c->request & (uint8_t)~c->mask, isr = isr_visible(c);

	for (int i = 0; i < 8; i++) {
		int pin = prio_pin(c, i);
		/* Special fully nested: the secondary in service does not lock out its own higher requests. */
		bool nested = primary && c->sfn && pin == CASCADE_PIN;

		if ((isr & bit(pin)) && !nested)
			return -1;
		if (req & bit(pin))
			return pin;
		if (isr & bit(pin))
			return -1;
	}
	return -1;
}

static bool chip_int(const struct hv_atpic_state *c, bool primary)
{
	return c->ready && highest_irr(c, primary) >= 0;
}

/* A line's new level: a rising edge latches a request, a level pin's request is its line. */
static void line_set(struct hv_atpic_state *c, int pin, bool high)
{
	if (high) {
		if (!(c->last_request & bit(pin)))
			c->request |= bit(pin);
		c->last_request |= bit(pin);
	} else {
		c->last_request &= (uint8_t)~bit(pin);
		if (c->elc & bit(pin))
			c->request &= (uint8_t)~bit(pin);
	}
}

/* Recompute both INT outputs after any change; report the primary's when it moves. */
static void update(struct vatpic *p)
{
	struct hv_atpic_state *pri = &p->chip[PRIMARY], *sec = &p->chip[SECONDARY];

	sec->intr_raised = chip_int(sec, false);
	line_set(pri, CASCADE_PIN, sec->intr_raised);
	pri->intr_raised = chip_int(pri, true);
	if (pri->intr_raised != p->intr_level) {
		p->intr_level = pri->intr_raised;
		p->intr(p->arg, p->intr_level);
	}
}

static void chip_reset(struct hv_atpic_state *c)
{
	*c = (struct hv_atpic_state){ .lowprio = 7 };
}

void vatpic_init(struct vatpic *p, void (*intr)(void *, bool), void *arg)
{
	chip_reset(&p->chip[PRIMARY]);
	chip_reset(&p->chip[SECONDARY]);
	p->intr = intr;
	p->arg = arg;
	p->intr_level = false;
}

static hv_return_t line_change(struct vatpic *p, int irq, bool high)
{
	if (irq < 0 || irq >= VATPIC_IRQS || irq == CASCADE_PIN)
		return HV_BAD_ARGUMENT;
	line_set(&p->chip[irq >> 3], irq & 7, high);
	update(p);
	return HV_SUCCESS;
}

hv_return_t vatpic_assert(struct vatpic *p, int irq)
{
	return line_change(p, irq, true);
}

hv_return_t vatpic_deassert(struct vatpic *p, int irq)
{
	return line_change(p, irq, false);
}

/* One chip's INTA: IRR -> ISR (unless auto-EOI); a line that stopped requesting gets nothing. */
static void ack(struct hv_atpic_state *c, int pin)
{
	if (!(c->request & (uint8_t)~c->mask & bit(pin)))
		return;
	if (!(c->elc & bit(pin)))
		c->request &= (uint8_t)~bit(pin);
	if (!c->aeoi)
		c->service |= bit(pin);
	else if (c->rotate)
		c->lowprio = (uint8_t)pin;
}

/* The secondary drops INT during its INTA: a request still there afterwards is a new edge on IR2. */
static void secondary_ack(struct vatpic *p, int pin)
{
	ack(&p->chip[SECONDARY], pin);
	p->chip[PRIMARY].last_request &= (uint8_t)~CASCADE_BIT;
}

bool vatpic_pending(const struct vatpic *p, uint8_t *vector)
{
	const struct hv_atpic_state *pri = &p->chip[PRIMARY], *sec = &p->chip[SECONDARY];
	int pin = pri->ready ? highest_irr(pri, true) : -1;

	if (pin < 0) {
		*vector = (uint8_t)(pri->irq_base + SPURIOUS_PIN);
		return false;
	}
	if (pin != CASCADE_PIN) {
		*vector = (uint8_t)(pri->irq_base + pin);
		return true;
	}
	pin = sec->ready ? highest_irr(sec, false) : -1;
	*vector = (uint8_t)(sec->irq_base + (pin < 0 ? SPURIOUS_PIN : pin));
	return true;
}

void vatpic_accept(struct vatpic *p, uint8_t vector)
{
	int pin = vector & 7;
	uint8_t base = vector & 0xf8;

	if (base == p->chip[PRIMARY].irq_base && pin != CASCADE_PIN) {
		ack(&p->chip[PRIMARY], pin);
	} else if (base == p->chip[SECONDARY].irq_base) {
		ack(&p->chip[PRIMARY], CASCADE_PIN);
		secondary_ack(p, pin);
	}
	update(p);
}

static void icw1(struct hv_atpic_state *c)
{
	c->ready = false;
	c->icw_num = 2;
	c->rd_cmd_reg = 0;
	c->aeoi = false;
	c->poll = false;
	c->rotate = false;
	c->sfn = false;
	c->request &= c->elc;
	c->service = 0;
	c->mask = 0;
	c->smm = false;
	c->lowprio = 7;
}

static void icw4(struct hv_atpic_state *c, uint8_t val)
{
	c->aeoi = val & ICW4_AEOI;
	c->sfn = val & ICW4_SFNM;
	c->icw_num = 0;
	c->ready = true;
}

static void eoi(struct hv_atpic_state *c, int pin, bool rotate)
{
	if (pin < 0)
		return;
	c->service &= (uint8_t)~bit(pin);
	if (rotate)
		c->lowprio = (uint8_t)pin;
}

static void ocw2(struct hv_atpic_state *c, uint8_t val)
{
	int pin = val & 7;

	switch (val & 0xe0) {
	case OCW2_EOI:
		eoi(c, highest_isr(c), false);
		break;
	case OCW2_ROTATE_EOI:
		eoi(c, highest_isr(c), true);
		break;
	case OCW2_SPECIFIC_EOI:
		eoi(c, pin, false);
		break;
	case OCW2_ROTATE_SPECIFIC:
		eoi(c, pin, true);
		break;
	case OCW2_SET_PRIORITY:
		c->lowprio = (uint8_t)pin;
		break;
	case OCW2_ROTATE_AEOI_SET:
		c->rotate = true;
		break;
	case OCW2_ROTATE_AEOI_CLEAR:
		c->rotate = false;
		break;
	case OCW2_NOP:
		break;
	}
}

static void ocw3(struct hv_atpic_state *c, uint8_t val)
{
	if (val & OCW3_ESMM)
		c->smm = val & OCW3_SMM;
	if (val & OCW3_POLL)
		c->poll = true;
	if (val & OCW3_RR)
		c->rd_cmd_reg = val & OCW3_RIS;
}

static void cmd_write(struct hv_atpic_state *c, uint8_t val)
{
	if (val & ICW1)
		icw1(c);
	else if (val & OCW3)
		ocw3(c, val);
	else
		ocw2(c, val);
}

static void data_write(struct hv_atpic_state *c, uint8_t val)
{
	switch (c->icw_num) {
	case 2:
		c->irq_base = val & 0xf8;
		c->icw_num = 3;
		break;
	case 3:		/* ICW3: the cascade is wired, its value changes nothing */
		c->icw_num = 4;
		break;
	case 4:
		icw4(c, val);
		break;
	default:	/* OCW1 */
		c->mask = val;
	}
}

static void elcr_write(struct hv_atpic_state *c, int chip, uint8_t val)
{
	c->elc = val & (uint8_t)~elcr_fixed[chip];
	/* Level pins request exactly while their lines are high; edge pins keep what they latched. */
	c->request = (uint8_t)((c->request & ~c->elc) | (c->last_request & c->elc));
}

/* A read after the poll command: that chip's INTA, as a status byte. */
static uint8_t poll_read(struct vatpic *p, int chip)
{
	struct hv_atpic_state *c = &p->chip[chip];
	int pin = c->ready ? highest_irr(c, chip == PRIMARY) : -1;

	c->poll = false;
	if (pin < 0)
		return 0;
	if (chip == SECONDARY)
		secondary_ack(p, pin);
	else
		ack(c, pin);
	return (uint8_t)(POLL_HIT | pin);
}

static uint8_t chip_read(struct vatpic *p, int chip, bool data_port)
{
	const struct hv_atpic_state *c = &p->chip[chip];

	if (c->poll)
		return poll_read(p, chip);
	if (data_port)
		return c->mask;
	return c->rd_cmd_reg ? c->service : c->request;
}

hv_return_t vatpic_port_read(struct vatpic *p, int port, uint8_t *val)
{
	switch (port) {
	case PORT_CMD0:
		*val = chip_read(p, PRIMARY, false);
		break;
	case PORT_DATA0:
		*val = chip_read(p, PRIMARY, true);
		break;
	case PORT_CMD1:
		*val = chip_read(p, SECONDARY, false);
		break;
	case PORT_DATA1:
		*val = chip_read(p, SECONDARY, true);
		break;
	case PORT_ELCR0:
		*val = p->chip[PRIMARY].elc;
		break;
	case PORT_ELCR1:
		*val = p->chip[SECONDARY].elc;
		break;
	default:
		return HV_BAD_ARGUMENT;
	}
	update(p);	/* a poll read is an INTA */
	return HV_SUCCESS;
}

hv_return_t vatpic_port_write(struct vatpic *p, int port, uint8_t val)
{
	switch (port) {
	case PORT_CMD0:
		cmd_write(&p->chip[PRIMARY], val);
		break;
	case PORT_DATA0:
		data_write(&p->chip[PRIMARY], val);
		break;
	case PORT_CMD1:
		cmd_write(&p->chip[SECONDARY], val);
		break;
	case PORT_DATA1:
		data_write(&p->chip[SECONDARY], val);
		break;
	case PORT_ELCR0:
		elcr_write(&p->chip[PRIMARY], PRIMARY, val);
		break;
	case PORT_ELCR1:
		elcr_write(&p->chip[SECONDARY], SECONDARY, val);
		break;
	default:
		return HV_BAD_ARGUMENT;
	}
	update(p);
	return HV_SUCCESS;
}

void vatpic_get_state(const struct vatpic *p, bool primary, struct hv_atpic_state *s)
{
	*s = p->chip[primary ? PRIMARY : SECONDARY];
}

/* The bools come from the caller's memory: look at their bytes before using them as bool. */
static bool bools_ok(const struct hv_atpic_state *s)
{
	static const size_t off[] = {
		offsetof(struct hv_atpic_state, ready), offsetof(struct hv_atpic_state, aeoi),
		offsetof(struct hv_atpic_state, poll), offsetof(struct hv_atpic_state, rotate),
		offsetof(struct hv_atpic_state, sfn), offsetof(struct hv_atpic_state, smm),
		offsetof(struct hv_atpic_state, intr_raised),
	};
	const unsigned char *b = (const unsigned char *)s;

	for (size_t i = 0; i < sizeof(off) / sizeof(off[0]); i++)
		if (b[off[i]] > 1)
			return false;
	return true;
}

static bool state_ok(const struct hv_atpic_state *s, int chip)
{
	if (!bools_ok(s))
		return false;
	if (s->icw_num == 1 || s->icw_num > 4 || (s->ready && s->icw_num != 0))
		return false;
	if (s->rd_cmd_reg > 1 || (s->irq_base & 7) || s->lowprio > 7 || (s->elc & elcr_fixed[chip]))
		return false;
	if ((s->request ^ s->last_request) & s->elc)
		return false;
	return s->intr_raised == chip_int(s, chip == PRIMARY);
}

hv_return_t vatpic_put_state(struct vatpic *p, bool primary, const struct hv_atpic_state *s)
{
	int chip = primary ? PRIMARY : SECONDARY;

	if (!state_ok(s, chip))
		return HV_BAD_ARGUMENT;
	p->chip[chip] = *s;
	update(p);
	return HV_SUCCESS;
}
