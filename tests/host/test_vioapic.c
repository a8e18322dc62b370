/*
 * The IOAPIC model (apic/vioapic.c) against the 82093AA datasheet: registers,
 * redirection-entry bits, edge and level delivery with remote IRR and EOI,
 * MMIO errors, state get/put, and a random run against a reference model.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>
#include "apic/vioapic.h"

#define REGSEL		(VIOAPIC_BASE + 0x00)
#define WIN		(VIOAPIC_BASE + 0x10)
#define LO(pin)		(0x10u + 2u * (pin))
#define HI(pin)		(0x11u + 2u * (pin))
#define LEVEL		(1u << 15)
#define MASKED		(1u << 16)
#define RIRR		(1u << 14)
#define MAX_MSGS	64

struct sink {
	struct apic_msg msg[MAX_MSGS];
	int n;
};

static void record(void *arg, const struct apic_msg *m)
{
	struct sink *s = arg;

	assert_true(s->n < MAX_MSGS);
	s->msg[s->n++] = *m;
}

static struct sink sink;
static struct vioapic io;

static int setup(void **state)
{
	(void)state;
	memset(&sink, 0, sizeof(sink));
	vioapic_init(&io, record, &sink);
	return 0;
}

static uint32_t rd(uint32_t index)
{
	uint32_t v = 0xdeadbeef;

	assert_int_equal(vioapic_mmio_write(&io, REGSEL, index), HV_SUCCESS);
	assert_int_equal(vioapic_mmio_read(&io, WIN, &v), HV_SUCCESS);
	return v;
}

static void wr(uint32_t index, uint32_t val)
{
	assert_int_equal(vioapic_mmio_write(&io, REGSEL, index), HV_SUCCESS);
	assert_int_equal(vioapic_mmio_write(&io, WIN, val), HV_SUCCESS);
}

/* Take the one message expected since the last call. */
static struct apic_msg one_msg(void)
{
	assert_int_equal(sink.n, 1);
	sink.n = 0;
	return sink.msg[0];
}

static void test_reset(void **state)
{
	(void)state;
	assert_int_equal(rd(0x00), 0);
	assert_int_equal(rd(0x01), 0x001f0011);		/* version 0x11, 32 entries */
	assert_int_equal(rd(0x02), 0);
	for (uint32_t pin = 0; pin < VIOAPIC_PINS; pin++) {
		assert_int_equal(rd(LO(pin)), MASKED);
		assert_int_equal(rd(HI(pin)), 0);
	}
	assert_int_equal(sink.n, 0);
}

static void test_id_ver_arb(void **state)
{
	(void)state;
	wr(0x00, 0xffffffff);
	assert_int_equal(rd(0x00), 0x0f000000);		/* only bits 27:24 */
	assert_int_equal(rd(0x02), 0x0f000000);		/* arbitration ID follows the ID */
	wr(0x00, 0x05000000);
	assert_int_equal(rd(0x00), 0x05000000);
	wr(0x01, 0);					/* read-only */
	wr(0x02, 0);
	assert_int_equal(rd(0x01), 0x001f0011);
	assert_int_equal(rd(0x02), 0x05000000);
}

static void test_ioregsel(void **state)
{
	uint32_t v;

	(void)state;
	assert_int_equal(vioapic_mmio_write(&io, REGSEL, 0xabcd1234), HV_SUCCESS);
	assert_int_equal(vioapic_mmio_read(&io, REGSEL, &v), HV_SUCCESS);
	assert_int_equal(v, 0x34);			/* bits 7:0 */
	/* Unknown indexes: read 0, writes change nothing. */
	for (uint32_t index = 0x03; index < 0x100; index++) {
		if (index >= 0x10 && index < 0x50)
			continue;
		wr(index, 0xffffffff);
		assert_int_equal(rd(index), 0);
	}
	assert_int_equal(rd(0x00), 0);
	for (uint32_t pin = 0; pin < VIOAPIC_PINS; pin++)
		assert_int_equal(rd(LO(pin)), MASKED);
}

static void test_rte_bits(void **state)
{
	(void)state;
	wr(LO(3), 0xffffffff);
	/* Delivery status (12), remote IRR (14) and 31:17 read 0. */
	assert_int_equal(rd(LO(3)), 0x0001afff);
	wr(HI(3), 0xffffffff);
	assert_int_equal(rd(HI(3)), 0xff000000);	/* 55:32 reserved */
	wr(LO(3), 0x000000a5);
	assert_int_equal(rd(LO(3)), 0xa5);
	assert_int_equal(rd(HI(3)), 0xff000000);	/* halves are independent */
	assert_int_equal(rd(LO(4)), MASKED);		/* and entries too */
	assert_int_equal(rd(LO(31)), MASKED);
	wr(HI(31), 0x12000000);
	assert_int_equal(rd(HI(31)), 0x12000000);
}

static void test_mmio_errors(void **state)
{
	uint32_t v = 7;

	(void)state;
	assert_int_equal(vioapic_mmio_read(&io, VIOAPIC_BASE - 4, &v), HV_BAD_ARGUMENT);
	assert_int_equal(vioapic_mmio_read(&io, VIOAPIC_BASE + 0x1000, &v), HV_BAD_ARGUMENT);
	assert_int_equal(vioapic_mmio_read(&io, 0, &v), HV_BAD_ARGUMENT);
	assert_int_equal(vioapic_mmio_read(&io, VIOAPIC_BASE + 0x11, &v), HV_BAD_ARGUMENT);
	assert_int_equal(vioapic_mmio_write(&io, VIOAPIC_BASE + 2, 0x10), HV_BAD_ARGUMENT);
	assert_int_equal(vioapic_mmio_write(&io, VIOAPIC_BASE + 0x1000, 0x10), HV_BAD_ARGUMENT);
	assert_int_equal(vioapic_mmio_write(&io, ~0ull - 3, 0x10), HV_BAD_ARGUMENT);
	assert_int_equal(v, 7);
	assert_int_equal(vioapic_mmio_read(&io, REGSEL, &v), HV_SUCCESS);
	assert_int_equal(v, 0);				/* the failed writes selected nothing */
	/* Other aligned offsets: no register there (no EOI register at +0x40 in version 0x11). */
	wr(LO(1), LEVEL | 0x41);
	assert_int_equal(vioapic_assert(&io, 1), HV_SUCCESS);
	(void)one_msg();
	assert_int_equal(vioapic_mmio_write(&io, VIOAPIC_BASE + 0x40, 0x41), HV_SUCCESS);
	assert_int_equal(vioapic_mmio_write(&io, VIOAPIC_BASE + 0x20, 0x41), HV_SUCCESS);
	assert_int_equal(vioapic_mmio_write(&io, VIOAPIC_BASE + 0xffc, 0x41), HV_SUCCESS);
	assert_int_equal(rd(LO(1)), LEVEL | RIRR | 0x41);
	assert_int_equal(vioapic_mmio_read(&io, VIOAPIC_BASE + 0x40, &v), HV_SUCCESS);
	assert_int_equal(v, 0);
	assert_int_equal(vioapic_mmio_read(&io, VIOAPIC_BASE + 0xffc, &v), HV_SUCCESS);
	assert_int_equal(v, 0);
}

static void test_bad_pins(void **state)
{
	int bad[] = { -1, 32, 33, 1000, -2147483647 - 1 };

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(vioapic_assert(&io, bad[i]), HV_BAD_ARGUMENT);
		assert_int_equal(vioapic_deassert(&io, bad[i]), HV_BAD_ARGUMENT);
		assert_int_equal(vioapic_pulse(&io, bad[i]), HV_BAD_ARGUMENT);
	}
	assert_int_equal(vioapic_assert(&io, 31), HV_SUCCESS);
	assert_int_equal(vioapic_assert(&io, 0), HV_SUCCESS);
}

static void test_message_fields(void **state)
{
	struct apic_msg m;

	(void)state;
	wr(HI(9), 0xa7000000);
	wr(LO(9), (1u << 11) | (1u << 8) | 0x61);	/* logical, lowest priority */
	assert_int_equal(vioapic_pulse(&io, 9), HV_SUCCESS);
	m = one_msg();
	assert_int_equal(m.dest, 0xa7);
	assert_int_equal(m.vector, 0x61);
	assert_int_equal(m.mode, APIC_DM_LOWPRI);
	assert_int_equal(m.shorthand, APIC_SH_NONE);
	assert_true(m.logical);
	assert_false(m.level);
	assert_true(m.assert);
	wr(LO(9), LEVEL | (4u << 8) | 0x02);		/* physical NMI, level */
	wr(HI(9), 0x03000000);
	assert_int_equal(vioapic_pulse(&io, 9), HV_SUCCESS);
	m = one_msg();
	assert_int_equal(m.dest, 3);
	assert_int_equal(m.mode, APIC_DM_NMI);
	assert_false(m.logical);
	assert_true(m.level);
}

static void test_edge(void **state)
{
	(void)state;
	wr(LO(4), 0x30);
	assert_int_equal(vioapic_assert(&io, 4), HV_SUCCESS);
	assert_int_equal(one_msg().vector, 0x30);
	assert_int_equal(vioapic_assert(&io, 4), HV_SUCCESS);	/* already high: no edge */
	assert_int_equal(sink.n, 0);
	assert_int_equal(rd(LO(4)), 0x30);			/* no remote IRR for edge */
	assert_int_equal(vioapic_deassert(&io, 4), HV_SUCCESS);
	assert_int_equal(sink.n, 0);
	assert_int_equal(vioapic_assert(&io, 4), HV_SUCCESS);
	assert_int_equal(one_msg().vector, 0x30);
	assert_int_equal(vioapic_pulse(&io, 4), HV_SUCCESS);	/* high already: the pulse only lowers it */
	assert_int_equal(sink.n, 0);
	assert_int_equal(vioapic_pulse(&io, 4), HV_SUCCESS);
	assert_int_equal(one_msg().vector, 0x30);
	/* Masked: the edge is lost, unmasking does not replay it. */
	wr(LO(4), MASKED | 0x30);
	assert_int_equal(vioapic_assert(&io, 4), HV_SUCCESS);
	wr(LO(4), 0x30);
	assert_int_equal(sink.n, 0);
	/* EOI does nothing for an edge pin. */
	vioapic_eoi(&io, 0x30);
	assert_int_equal(sink.n, 0);
	/* Other pins are independent. */
	wr(LO(5), 0x31);
	assert_int_equal(vioapic_assert(&io, 5), HV_SUCCESS);
	assert_int_equal(one_msg().vector, 0x31);
}

static void test_level_eoi(void **state)
{
	(void)state;
	wr(LO(10), LEVEL | 0x50);
	assert_int_equal(vioapic_assert(&io, 10), HV_SUCCESS);
	assert_int_equal(one_msg().vector, 0x50);
	assert_int_equal(rd(LO(10)), LEVEL | RIRR | 0x50);
	assert_int_equal(vioapic_assert(&io, 10), HV_SUCCESS);	/* remote IRR holds it */
	vioapic_eoi(&io, 0x51);					/* another vector */
	assert_int_equal(sink.n, 0);
	assert_int_equal(rd(LO(10)), LEVEL | RIRR | 0x50);
	vioapic_eoi(&io, 0x50);					/* still asserted: again */
	assert_int_equal(one_msg().vector, 0x50);
	assert_int_equal(rd(LO(10)), LEVEL | RIRR | 0x50);
	assert_int_equal(vioapic_deassert(&io, 10), HV_SUCCESS);
	assert_int_equal(rd(LO(10)), LEVEL | RIRR | 0x50);	/* deassert leaves remote IRR */
	vioapic_eoi(&io, 0x50);
	assert_int_equal(sink.n, 0);
	assert_int_equal(rd(LO(10)), LEVEL | 0x50);
	vioapic_eoi(&io, 0x50);					/* a stray EOI */
	assert_int_equal(sink.n, 0);
	/* A pulse on a level pin: one message, then the EOI finds the line low. */
	assert_int_equal(vioapic_pulse(&io, 10), HV_SUCCESS);
	assert_int_equal(one_msg().vector, 0x50);
	vioapic_eoi(&io, 0x50);
	assert_int_equal(sink.n, 0);
	assert_int_equal(rd(LO(10)), LEVEL | 0x50);
}

static void test_level_mask(void **state)
{
	(void)state;
	wr(LO(2), MASKED | LEVEL | 0x40);
	assert_int_equal(vioapic_assert(&io, 2), HV_SUCCESS);
	assert_int_equal(sink.n, 0);
	assert_int_equal(rd(LO(2)), MASKED | LEVEL | 0x40);
	wr(LO(2), LEVEL | 0x40);				/* unmask an asserted level pin */
	assert_int_equal(one_msg().vector, 0x40);
	/* Masking with remote IRR set keeps it; EOI while masked clears it without sending. */
	wr(LO(2), MASKED | LEVEL | 0x40);
	assert_int_equal(rd(LO(2)), MASKED | LEVEL | RIRR | 0x40);
	vioapic_eoi(&io, 0x40);
	assert_int_equal(sink.n, 0);
	assert_int_equal(rd(LO(2)), MASKED | LEVEL | 0x40);
	wr(LO(2), LEVEL | 0x40);
	assert_int_equal(one_msg().vector, 0x40);
	/* Rewriting the entry while remote IRR is set sends nothing new. */
	wr(LO(2), LEVEL | 0x40);
	wr(HI(2), 0x01000000);
	assert_int_equal(sink.n, 0);
}

static void test_rirr_read_only(void **state)
{
	(void)state;
	wr(LO(6), LEVEL | 0x60);
	wr(LO(6), LEVEL | RIRR | 0x60);				/* software cannot set it */
	assert_int_equal(rd(LO(6)), LEVEL | 0x60);
	assert_int_equal(vioapic_assert(&io, 6), HV_SUCCESS);
	(void)one_msg();
	wr(LO(6), LEVEL | 0x61);				/* nor clear it */
	assert_int_equal(rd(LO(6)), LEVEL | RIRR | 0x61);
	vioapic_eoi(&io, 0x60);					/* the EOI matches the entry's vector now */
	assert_int_equal(rd(LO(6)), LEVEL | RIRR | 0x61);
	vioapic_eoi(&io, 0x61);
	assert_int_equal(one_msg().vector, 0x61);
}

static void test_level_to_edge(void **state)
{
	(void)state;
	wr(LO(7), LEVEL | 0x70);
	assert_int_equal(vioapic_assert(&io, 7), HV_SUCCESS);
	(void)one_msg();
	wr(LO(7), MASKED | 0x70);				/* edge now: remote IRR goes */
	assert_int_equal(rd(LO(7)), MASKED | 0x70);
	wr(LO(7), MASKED | LEVEL | 0x70);
	assert_int_equal(rd(LO(7)), MASKED | LEVEL | 0x70);
	wr(LO(7), LEVEL | 0x70);				/* still asserted */
	assert_int_equal(one_msg().vector, 0x70);
}

static void test_polarity(void **state)
{
	(void)state;
	wr(LO(11), (1u << 13) | 0x22);				/* active low: assert still means active */
	assert_int_equal(rd(LO(11)), (1u << 13) | 0x22);
	assert_int_equal(vioapic_assert(&io, 11), HV_SUCCESS);
	assert_int_equal(one_msg().vector, 0x22);
	assert_int_equal(vioapic_deassert(&io, 11), HV_SUCCESS);
	assert_int_equal(sink.n, 0);
	wr(LO(12), (1u << 13) | LEVEL | 0x23);
	assert_int_equal(vioapic_assert(&io, 12), HV_SUCCESS);
	assert_int_equal(one_msg().vector, 0x23);
}

static void test_eoi_broadcast(void **state)
{
	(void)state;
	wr(LO(16), LEVEL | 0x80);
	wr(LO(17), LEVEL | 0x80);
	wr(LO(18), LEVEL | 0x81);
	assert_int_equal(vioapic_assert(&io, 16), HV_SUCCESS);
	assert_int_equal(vioapic_assert(&io, 17), HV_SUCCESS);
	assert_int_equal(vioapic_assert(&io, 18), HV_SUCCESS);
	assert_int_equal(sink.n, 3);
	sink.n = 0;
	assert_int_equal(vioapic_deassert(&io, 16), HV_SUCCESS);
	vioapic_eoi(&io, 0x80);					/* shared vector: both entries see it */
	assert_int_equal(one_msg().vector, 0x80);		/* pin 17 still high */
	assert_int_equal(rd(LO(16)), LEVEL | 0x80);
	assert_int_equal(rd(LO(17)), LEVEL | RIRR | 0x80);
	assert_int_equal(rd(LO(18)), LEVEL | RIRR | 0x81);
}

/* get_state into a zeroed struct, so whole structs (tail padding too) compare. */
static void get(const struct vioapic *from, struct hv_ioapic_state *s)
{
	memset(s, 0, sizeof(*s));
	vioapic_get_state(from, s);
}

static void program_sample(void)
{
	wr(0x00, 0x0a000000);
	wr(LO(0), 0x20);
	wr(HI(0), 0x01000000);
	wr(LO(3), LEVEL | 0x33);
	wr(LO(4), MASKED | LEVEL | 0x34);
	wr(LO(31), (1u << 11) | (1u << 13) | 0x3f);
	wr(HI(31), 0xff000000);
	assert_int_equal(vioapic_assert(&io, 3), HV_SUCCESS);
	assert_int_equal(vioapic_assert(&io, 4), HV_SUCCESS);
	assert_int_equal(vioapic_assert(&io, 31), HV_SUCCESS);
	assert_int_equal(vioapic_mmio_write(&io, REGSEL, 0x17), HV_SUCCESS);
	sink.n = 0;
}

static void test_state_round_trip(void **state)
{
	struct hv_ioapic_state a, b;
	struct vioapic other;
	struct sink other_sink = { .n = 0 };

	(void)state;
	program_sample();
	get(&io, &a);
	assert_int_equal(a.ioa_id, 0xa);
	assert_int_equal(a.ioregsel, 0x17);
	assert_int_equal(a.irr, (1u << 3) | (1u << 4) | (1u << 31));
	assert_true(a.rtbl[3] == (LEVEL | RIRR | 0x33));
	assert_true(a.rtbl[0] == (0x0100000000000000ull | 0x20));
	assert_true(a.rtbl[4] == (MASKED | LEVEL | 0x34));
	vioapic_init(&other, record, &other_sink);
	assert_int_equal(vioapic_put_state(&other, &a), HV_SUCCESS);
	assert_int_equal(other_sink.n, 0);	/* remote IRR set, pin 4 masked: nothing due */
	get(&other, &b);
	assert_memory_equal(&a, &b, sizeof(a));
	/* The restored model behaves like the original: pin 4's unmask, pin 3's EOI. */
	io = other;
	io.arg = &sink;
	wr(LO(4), LEVEL | 0x34);
	assert_int_equal(one_msg().vector, 0x34);
	vioapic_eoi(&io, 0x33);
	assert_int_equal(one_msg().vector, 0x33);
	assert_int_equal(rd(0x00), 0x0a000000);
}

static void test_put_delivers_due_level(void **state)
{
	struct hv_ioapic_state s;

	(void)state;
	vioapic_get_state(&io, &s);
	s.rtbl[5] = LEVEL | 0x55;
	s.rtbl[6] = 0x56;				/* edge pins are not replayed */
	s.irr = (1u << 5) | (1u << 6);
	assert_int_equal(vioapic_put_state(&io, &s), HV_SUCCESS);
	assert_int_equal(one_msg().vector, 0x55);
	assert_int_equal(rd(LO(5)), LEVEL | RIRR | 0x55);
}

static void test_put_rejects(void **state)
{
	struct hv_ioapic_state good, bad, after;
	const uint64_t bad_rte[] = {
		VIOAPIC_RTE_STATUS,
		1ull << 17, 1ull << 31,		/* reserved, low half */
		1ull << 32, 1ull << 55,		/* reserved, high half */
		RIRR | 0x20,			/* remote IRR on an edge entry */
	};

	(void)state;
	program_sample();
	get(&io, &good);
	bad = good;
	bad.ioa_id = 16;
	assert_int_equal(vioapic_put_state(&io, &bad), HV_BAD_ARGUMENT);
	bad = good;
	bad.ioregsel = 0x100;
	assert_int_equal(vioapic_put_state(&io, &bad), HV_BAD_ARGUMENT);
	for (size_t i = 0; i < sizeof(bad_rte) / sizeof(bad_rte[0]); i++) {
		bad = good;
		bad.rtbl[0] = 0;		/* an earlier good entry must not be applied */
		bad.rtbl[20] = bad_rte[i];
		assert_int_equal(vioapic_put_state(&io, &bad), HV_BAD_ARGUMENT);
	}
	get(&io, &after);
	assert_memory_equal(&good, &after, sizeof(good));
	assert_int_equal(sink.n, 0);
	bad = good;
	bad.ioa_id = 15;
	bad.ioregsel = 0xff;
	bad.rtbl[20] = ~0ull & ~VIOAPIC_RTE_STATUS & ~(0xffffffull << 32) & ~(0x7fffull << 17);
	assert_int_equal(vioapic_put_state(&io, &bad), HV_SUCCESS);	/* the limits themselves */
}

/*
 * Random run: pin changes, EOIs and entry writes checked against a
 * reference that keeps one flag per rule of the datasheet.
 */
struct ref_pin {
	bool line, level, masked, rirr;
	uint8_t vector;
};

static uint32_t rng = 12345;

static uint32_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 17;
	rng ^= rng << 5;
	return rng;
}

/* A level pin of the reference that is due now fires: remote IRR goes up. */
static void ref_level_due(struct ref_pin *c, uint8_t *exp, int *ne)
{
	if (c->level && c->line && !c->masked && !c->rirr) {
		c->rirr = true;
		exp[(*ne)++] = c->vector;
	}
}

static void test_random_vs_reference(void **state)
{
	struct ref_pin ref[VIOAPIC_PINS] = { 0 };
	int sent[2] = { 0 };

	(void)state;
	for (int pin = 0; pin < VIOAPIC_PINS; pin++) {
		ref[pin].masked = true;
		ref[pin].vector = (uint8_t)(0x20 + pin);
		wr(LO(pin), MASKED | (0x20u + pin));
	}
	for (int step = 0; step < 100000; step++) {
		uint32_t r = next();
		int pin = (int)(r % 8) * 4 + (int)((r >> 3) % 2);	/* pairs of pins sharing vectors */
		struct ref_pin *p = &ref[pin];
		uint8_t exp[VIOAPIC_PINS + 1], v;
		int ne = 0;

		sink.n = 0;
		switch ((r >> 8) % 6) {
		case 0:
			assert_int_equal(vioapic_assert(&io, pin), HV_SUCCESS);
			if (!p->level && !p->line && !p->masked)
				exp[ne++] = p->vector;
			p->line = true;
			break;
		case 1:
			assert_int_equal(vioapic_deassert(&io, pin), HV_SUCCESS);
			p->line = false;
			break;
		case 2:
			assert_int_equal(vioapic_pulse(&io, pin), HV_SUCCESS);
			if (!p->level && !p->line && !p->masked)
				exp[ne++] = p->vector;
			p->line = true;
			ref_level_due(p, exp, &ne);
			p->line = false;
			break;
		case 3:
			v = (uint8_t)(0x20 + (pin & ~1) + ((r >> 16) & 1));
			vioapic_eoi(&io, v);
			for (int q = 0; q < VIOAPIC_PINS; q++)
				if (ref[q].vector == v)
					ref[q].rirr = false;
			break;
		case 4:
			p->masked = (r >> 16) & 1;
			p->level = (r >> 17) & 1;
			if (!p->level)
				p->rirr = false;
			wr(LO(pin), (p->masked ? MASKED : 0) | (p->level ? LEVEL : 0) | p->vector);
			break;
		case 5:
			p->vector = (uint8_t)(0x20 + (pin & ~1) + ((r >> 16) & 1));
			wr(LO(pin), (p->masked ? MASKED : 0) | (p->level ? LEVEL : 0) | p->vector);
			break;
		}
		for (int q = 0; q < VIOAPIC_PINS; q++)
			ref_level_due(&ref[q], exp, &ne);
		assert_int_equal(sink.n, ne);
		for (int i = 0; i < ne; i++) {
			assert_int_equal(sink.msg[i].vector, exp[i]);
			sent[sink.msg[i].level]++;
		}
		for (int q = pin & ~1; q <= (pin | 1); q++)
			assert_int_equal(rd(LO(q)), (ref[q].masked ? MASKED : 0) | (ref[q].level ? LEVEL : 0) |
							    (ref[q].rirr ? RIRR : 0) | ref[q].vector);
	}
	assert_true(sent[0] > 1000 && sent[1] > 1000);	/* edge and level both exercised */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_reset, setup),
		cmocka_unit_test_setup(test_id_ver_arb, setup),
		cmocka_unit_test_setup(test_ioregsel, setup),
		cmocka_unit_test_setup(test_rte_bits, setup),
		cmocka_unit_test_setup(test_mmio_errors, setup),
		cmocka_unit_test_setup(test_bad_pins, setup),
		cmocka_unit_test_setup(test_message_fields, setup),
		cmocka_unit_test_setup(test_edge, setup),
		cmocka_unit_test_setup(test_level_eoi, setup),
		cmocka_unit_test_setup(test_level_mask, setup),
		cmocka_unit_test_setup(test_rirr_read_only, setup),
		cmocka_unit_test_setup(test_level_to_edge, setup),
		cmocka_unit_test_setup(test_polarity, setup),
		cmocka_unit_test_setup(test_eoi_broadcast, setup),
		cmocka_unit_test_setup(test_state_round_trip, setup),
		cmocka_unit_test_setup(test_put_delivers_due_level, setup),
		cmocka_unit_test_setup(test_put_rejects, setup),
		cmocka_unit_test_setup(test_random_vs_reference, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
