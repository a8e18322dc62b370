/*
 * The 8259A pair model (apic/vatpic.c) against the 8259A datasheet and the
 * way PC guests program it: Linux's and SeaBIOS's init, priorities, EOIs,
 * AEOI, rotation, special mask, poll, ELCR, the cascade, spurious IRQ 7/15,
 * the INT output, state get/put, and a random run against a reference.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>
#include "apic/vatpic.h"

#define CMD0	0x20
#define DATA0	0x21
#define CMD1	0xa0
#define DATA1	0xa1
#define ELCR0	0x4d0
#define ELCR1	0x4d1

#define READ_IRR	0x0a
#define READ_ISR	0x0b
#define POLL		0x0c
#define EOI		0x20
#define SEOI(pin)	(0x60 | (pin))

static struct vatpic pic;
static int intr_calls;

static void intr(void *arg, bool level)
{
	(void)arg;
	assert_true(level != (intr_calls & 1));	/* strictly alternating: only changes are reported */
	intr_calls++;
}

static int setup(void **state)
{
	(void)state;
	intr_calls = 0;
	vatpic_init(&pic, intr, NULL);
	return 0;
}

static void out(int port, uint8_t val)
{
	assert_int_equal(vatpic_port_write(&pic, port, val), HV_SUCCESS);
}

static uint8_t in(int port)
{
	uint8_t v = 0x5a;

	assert_int_equal(vatpic_port_read(&pic, port, &v), HV_SUCCESS);
	return v;
}

static void up(int irq)
{
	assert_int_equal(vatpic_assert(&pic, irq), HV_SUCCESS);
}

static void down(int irq)
{
	assert_int_equal(vatpic_deassert(&pic, irq), HV_SUCCESS);
}

static bool intr_up(void)
{
	return intr_calls & 1;
}

/* Linux's init_8259A(): master at 0x30, slave at 0x38; both masks open here. */
static void linux_init(bool auto_eoi)
{
	out(DATA0, 0xff);
	out(DATA1, 0xff);
	out(CMD0, 0x11);
	out(DATA0, 0x30);
	out(DATA0, 0x04);
	out(DATA0, auto_eoi ? 0x03 : 0x01);
	out(CMD1, 0x11);
	out(DATA1, 0x38);
	out(DATA1, 0x02);
	out(DATA1, 0x01);
	out(DATA0, 0x00);
	out(DATA1, 0x00);
}

/* The INTA cycle as a vCPU does it: the vector pending() gives, then accept(). */
static uint8_t inta(void)
{
	uint8_t v;

	assert_true(vatpic_pending(&pic, &v));
	vatpic_accept(&pic, v);
	return v;
}

static uint8_t isr(int cmd)
{
	out(cmd, READ_ISR);
	return in(cmd);
}

static uint8_t irr(int cmd)
{
	out(cmd, READ_IRR);
	return in(cmd);
}

static void assert_idle(void)
{
	uint8_t v;

	assert_false(vatpic_pending(&pic, &v));
	assert_false(intr_up());
}

static void test_power_on(void **state)
{
	struct hv_atpic_state s;
	uint8_t v;

	(void)state;
	vatpic_get_state(&pic, true, &s);
	assert_false(s.ready);
	assert_int_equal(s.icw_num, 0);
	assert_int_equal(s.lowprio, 7);
	up(1);					/* not initialized: no INT */
	up(9);
	assert_false(vatpic_pending(&pic, &v));
	assert_int_equal(v, 7);			/* base 0 + IR7 */
	assert_int_equal(intr_calls, 0);
}

static void test_linux_init(void **state)
{
	struct hv_atpic_state s;

	(void)state;
	linux_init(false);
	out(DATA0, 0xfb);			/* Linux probes the mask register */
	assert_int_equal(in(DATA0), 0xfb);
	out(DATA0, 0x00);
	vatpic_get_state(&pic, true, &s);
	assert_true(s.ready);
	assert_int_equal(s.icw_num, 0);
	assert_int_equal(s.irq_base, 0x30);
	assert_false(s.aeoi);
	vatpic_get_state(&pic, false, &s);
	assert_true(s.ready);
	assert_int_equal(s.irq_base, 0x38);
	assert_int_equal(intr_calls, 0);
	up(1);
	assert_true(intr_up());
	assert_int_equal(inta(), 0x31);
	assert_false(intr_up());
	assert_int_equal(isr(CMD0), 0x02);
	assert_int_equal(irr(CMD0), 0x00);
	out(CMD0, SEOI(1));			/* Linux: specific EOI */
	assert_int_equal(isr(CMD0), 0x00);
	/* A slave IRQ: Linux EOIs the slave, then the cascade on the master. */
	up(12);
	assert_int_equal(inta(), 0x3c);
	assert_int_equal(isr(CMD0), 0x04);
	assert_int_equal(isr(CMD1), 0x10);
	out(CMD1, SEOI(4));
	out(CMD0, SEOI(2));
	assert_int_equal(isr(CMD0), 0x00);
	assert_int_equal(isr(CMD1), 0x00);
	assert_idle();
}

static void test_seabios_init(void **state)
{
	(void)state;
	out(CMD0, 0x11);			/* SeaBIOS interleaves the two chips */
	out(CMD1, 0x11);
	out(DATA0, 0x08);
	out(DATA1, 0x70);
	out(DATA0, 0x04);
	out(DATA1, 0x02);
	out(DATA0, 0x01);
	out(DATA1, 0x01);
	out(DATA0, 0xfb);
	out(DATA1, 0xff);
	up(14);
	assert_int_equal(intr_calls, 0);	/* masked on the slave */
	out(DATA1, 0xbf);
	assert_true(intr_up());
	assert_int_equal(inta(), 0x76);
	assert_int_equal(isr(CMD0), 0x04);
	assert_int_equal(isr(CMD1), 0x40);
	out(CMD1, EOI);				/* SeaBIOS: non-specific, slave then master */
	out(CMD0, EOI);
	assert_int_equal(isr(CMD0) | isr(CMD1), 0);
	up(0);					/* masked on the master: 0xfb */
	assert_idle();
	out(DATA0, 0xfa);
	assert_int_equal(inta(), 0x08);
}

static void test_fully_nested_priority(void **state)
{
	(void)state;
	linux_init(false);
	up(5);
	up(3);
	up(9);
	assert_int_equal(irr(CMD0), 0x2c);	/* IR5, IR3, IR2 (cascade) */
	assert_int_equal(inta(), 0x39);		/* IRQ 9 sits at IR2: above IR3 */
	assert_false(intr_up());		/* IR3, IR5 wait */
	up(0);					/* above IR2: nests */
	assert_true(intr_up());
	assert_int_equal(inta(), 0x30);
	assert_int_equal(isr(CMD0), 0x05);
	out(CMD0, EOI);				/* clears the highest: IR0 */
	assert_int_equal(isr(CMD0), 0x04);
	assert_false(intr_up());
	out(CMD1, EOI);
	out(CMD0, EOI);
	assert_int_equal(inta(), 0x33);
	assert_false(intr_up());		/* IR5 is below IR3 in service */
	out(CMD0, SEOI(3));
	assert_int_equal(inta(), 0x35);
	up(1);					/* nests above IR5 */
	assert_int_equal(inta(), 0x31);
	assert_int_equal(isr(CMD0), 0x22);
	out(CMD0, SEOI(5));			/* specific EOI out of order */
	assert_int_equal(isr(CMD0), 0x02);
	out(CMD0, EOI);
	assert_int_equal(isr(CMD0), 0x00);
	out(CMD0, EOI);				/* nothing in service: harmless */
	assert_idle();
}

static void test_same_level_blocked(void **state)
{
	(void)state;
	linux_init(false);
	up(4);
	assert_int_equal(inta(), 0x34);
	down(4);
	up(4);					/* a new edge while IR4 is in service */
	assert_int_equal(irr(CMD0), 0x10);
	assert_false(intr_up());
	out(CMD0, EOI);
	assert_int_equal(inta(), 0x34);
}

static void test_aeoi(void **state)
{
	struct hv_atpic_state s;

	(void)state;
	linux_init(true);
	vatpic_get_state(&pic, true, &s);
	assert_true(s.aeoi);
	up(3);
	up(6);
	assert_int_equal(inta(), 0x33);
	assert_int_equal(isr(CMD0), 0x00);	/* no in-service bit */
	assert_true(intr_up());			/* so IR6 follows at once */
	assert_int_equal(inta(), 0x36);
	assert_idle();
	/* Rotate in AEOI mode: the acknowledged level becomes the lowest. */
	out(CMD0, 0x80);
	up(1);
	assert_int_equal(inta(), 0x31);
	vatpic_get_state(&pic, true, &s);
	assert_true(s.rotate);
	assert_int_equal(s.lowprio, 1);
	up(0);
	up(4);
	assert_int_equal(inta(), 0x34);		/* IR4 now above IR0 */
	assert_int_equal(inta(), 0x30);
	out(CMD0, 0x00);			/* rotate in AEOI off */
	up(5);
	assert_int_equal(inta(), 0x35);
	vatpic_get_state(&pic, true, &s);
	assert_false(s.rotate);
	assert_int_equal(s.lowprio, 0);		/* kept from the last rotation */
}

static void test_rotation(void **state)
{
	struct hv_atpic_state s;

	(void)state;
	linux_init(false);
	up(3);
	assert_int_equal(inta(), 0x33);
	out(CMD0, 0xa0);			/* rotate on non-specific EOI */
	vatpic_get_state(&pic, true, &s);
	assert_int_equal(s.lowprio, 3);
	assert_int_equal(s.service, 0);
	up(1);
	up(4);
	assert_int_equal(inta(), 0x34);		/* order now 4 5 6 7 0 1 2 3 */
	assert_false(intr_up());		/* IR1 is below IR4 */
	out(CMD0, 0xe4);			/* rotate on specific EOI of IR4 */
	vatpic_get_state(&pic, true, &s);
	assert_int_equal(s.lowprio, 4);
	assert_int_equal(inta(), 0x31);
	out(CMD0, EOI);
	out(CMD0, 0xc0 | 6);			/* set priority: IR6 lowest, IR7 highest */
	up(7);
	up(0);
	assert_int_equal(inta(), 0x37);
	out(CMD0, EOI);
	assert_int_equal(inta(), 0x30);
	out(CMD0, EOI);
	out(CMD0, 0xa0);			/* rotate with nothing in service: no change */
	vatpic_get_state(&pic, true, &s);
	assert_int_equal(s.lowprio, 6);
	out(CMD0, 0x40);			/* OCW2 no-op */
	vatpic_get_state(&pic, true, &s);
	assert_int_equal(s.lowprio, 6);
	assert_idle();
}

static void test_special_mask(void **state)
{
	(void)state;
	linux_init(false);
	up(3);
	assert_int_equal(inta(), 0x33);
	up(5);
	assert_false(intr_up());		/* blocked by IR3 in service */
	out(CMD0, 0x68);			/* set special mask mode */
	assert_false(intr_up());		/* IR3 unmasked: still blocks */
	out(DATA0, 0x08);			/* mask IR3: lower levels open */
	assert_true(intr_up());
	assert_int_equal(inta(), 0x35);
	assert_int_equal(isr(CMD0), 0x28);
	out(CMD0, EOI);				/* skips masked IR3: clears IR5 */
	assert_int_equal(isr(CMD0), 0x08);
	out(CMD0, EOI);				/* nothing visible in service */
	assert_int_equal(isr(CMD0), 0x08);
	out(CMD0, 0x48);			/* reset special mask mode */
	up(6);
	assert_false(intr_up());		/* IR3 in service blocks again */
	out(CMD0, SEOI(3));
	assert_int_equal(inta(), 0x36);
	out(CMD0, 0x08);			/* OCW3 without ESMM: SMM unchanged (off) */
	out(DATA0, 0x00);
	up(7);
	assert_false(intr_up());
}

static void test_poll(void **state)
{
	(void)state;
	linux_init(false);
	out(DATA0, 0xff);			/* polling works with INT masked off */
	out(CMD0, POLL);
	assert_int_equal(in(CMD0), 0x00);	/* nothing */
	out(DATA0, 0x00);
	up(6);
	up(4);
	out(CMD0, POLL);
	assert_int_equal(in(DATA0), 0x84);	/* either port; acknowledges IR4 */
	assert_int_equal(isr(CMD0), 0x10);
	assert_int_equal(irr(CMD0), 0x40);
	assert_int_equal(in(CMD0), 0x40);	/* one read per poll command: IRR again */
	out(CMD0, EOI);
	/* Polling the pair: the master reports IR2, then the slave its line. */
	up(13);
	out(CMD0, POLL);
	assert_int_equal(in(CMD0), 0x82);
	out(CMD1, POLL);
	assert_int_equal(in(CMD1), 0x85);
	assert_int_equal(isr(CMD1), 0x20);
	out(CMD1, EOI);
	out(CMD0, EOI);
	assert_int_equal(inta(), 0x36);		/* IR6 was still waiting; no spurious IRQ 15 */
	out(CMD0, EOI);
	assert_idle();
}

static void test_read_register_select(void **state)
{
	(void)state;
	linux_init(false);
	up(5);
	assert_int_equal(in(CMD0), 0x20);	/* IRR after init */
	out(CMD0, READ_ISR);
	assert_int_equal(in(CMD0), 0x00);
	out(CMD0, 0x08);			/* RR = 0: selection kept */
	assert_int_equal(in(CMD0), 0x00);
	assert_int_equal(inta(), 0x35);
	assert_int_equal(in(CMD0), 0x20);
	assert_int_equal(in(CMD0), 0x20);	/* reading changes nothing */
	out(CMD0, READ_IRR);
	assert_int_equal(in(CMD0), 0x00);
	out(DATA0, 0x5a);
	assert_int_equal(in(DATA0), 0x5a);
}

static void test_elcr(void **state)
{
	(void)state;
	linux_init(false);
	out(ELCR0, 0xff);
	out(ELCR1, 0xff);
	assert_int_equal(in(ELCR0), 0xf8);	/* IRQ 0, 1, 2 edge only */
	assert_int_equal(in(ELCR1), 0xde);	/* IRQ 8, 13 edge only */
	out(ELCR0, 0x00);
	out(ELCR1, 0x0c);			/* IRQ 10, 11 level */
	up(10);
	assert_int_equal(inta(), 0x3a);
	assert_int_equal(irr(CMD1), 0x04);	/* a level request stays while the line is high */
	out(CMD1, EOI);
	assert_false(intr_up());		/* master IR2 still in service */
	out(CMD0, EOI);
	assert_int_equal(inta(), 0x3a);		/* again: the line is still high */
	down(10);
	assert_int_equal(irr(CMD1), 0x00);
	out(CMD1, EOI);
	out(CMD0, EOI);
	assert_idle();
	/* An edge request stays latched after its line falls. */
	up(9);
	down(9);
	assert_int_equal(irr(CMD1), 0x02);
	assert_int_equal(inta(), 0x39);
	out(CMD1, EOI);
	out(CMD0, EOI);
	assert_idle();
	/* Switching a high line to level makes it request; back to edge keeps the latch. */
	up(5);
	assert_int_equal(inta(), 0x35);
	out(CMD0, EOI);
	assert_idle();
	out(ELCR0, 0x20);
	assert_int_equal(inta(), 0x35);
	out(CMD0, EOI);
	out(ELCR0, 0x00);
	assert_int_equal(inta(), 0x35);
	out(CMD0, EOI);
	assert_idle();
}

static void test_spurious_irq15(void **state)
{
	uint8_t v;

	(void)state;
	linux_init(false);
	out(ELCR1, 0x08);			/* IRQ 11 level */
	up(11);
	assert_true(intr_up());
	down(11);				/* gone before the INTA */
	assert_true(intr_up());			/* master IR2 is latched */
	assert_true(vatpic_pending(&pic, &v));
	assert_int_equal(v, 0x3f);		/* slave IR7: spurious IRQ 15 */
	vatpic_accept(&pic, v);
	assert_int_equal(isr(CMD0), 0x04);	/* the master did acknowledge IR2 */
	assert_int_equal(isr(CMD1), 0x00);
	out(CMD0, SEOI(2));
	assert_idle();
	/* The same with a slave mask instead of a falling line. */
	up(9);
	out(DATA1, 0x02);
	assert_true(vatpic_pending(&pic, &v));
	assert_int_equal(v, 0x3f);
	/* A real IRQ 15 is acknowledged for what it is. */
	vatpic_accept(&pic, v);
	out(CMD0, SEOI(2));
	up(15);
	assert_int_equal(inta(), 0x3f);
	assert_int_equal(isr(CMD1), 0x80);
}

static void test_spurious_irq7(void **state)
{
	uint8_t v;

	(void)state;
	linux_init(false);
	up(4);
	assert_true(intr_up());
	out(DATA0, 0x10);			/* masked before the INTA */
	assert_false(intr_up());
	assert_false(vatpic_pending(&pic, &v));
	assert_int_equal(v, 0x37);
	vatpic_accept(&pic, v);			/* a late INTA: spurious IRQ 7 */
	assert_int_equal(isr(CMD0), 0x00);
	assert_int_equal(irr(CMD0), 0x10);	/* IR4 still latched, still masked */
	vatpic_accept(&pic, 0x34);		/* nor does a masked line get acknowledged */
	assert_int_equal(isr(CMD0), 0x00);
	assert_int_equal(irr(CMD0), 0x10);
	up(7);
	assert_int_equal(inta(), 0x37);		/* a real IRQ 7 */
	assert_int_equal(isr(CMD0), 0x80);
	vatpic_accept(&pic, 0x99);		/* not a vector of this pair: ignored */
	assert_int_equal(isr(CMD0), 0x80);
}

static void test_sfnm(void **state)
{
	(void)state;
	for (int sfnm = 0; sfnm <= 1; sfnm++) {
		setup(NULL);
		linux_init(false);
		out(CMD0, 0x11);
		out(DATA0, 0x30);
		out(DATA0, 0x04);
		out(DATA0, sfnm ? 0x11 : 0x01);
		up(12);
		assert_int_equal(inta(), 0x3c);
		up(9);				/* above IRQ 12 on the slave */
		assert_int_equal(intr_up(), sfnm);
		if (sfnm) {
			assert_int_equal(inta(), 0x39);
			assert_int_equal(isr(CMD1), 0x12);
		}
		up(3);				/* below IR2 in service: blocked either way */
		up(0);
		assert_int_equal(inta(), 0x30);
	}
}

static void test_secondary_aeoi(void **state)
{
	(void)state;
	linux_init(false);
	out(CMD1, 0x11);
	out(DATA1, 0x38);
	out(DATA1, 0x02);
	out(DATA1, 0x03);			/* slave in AEOI */
	up(8);
	up(10);
	assert_int_equal(inta(), 0x38);
	assert_int_equal(isr(CMD1), 0x00);
	out(CMD0, SEOI(2));
	assert_int_equal(inta(), 0x3a);		/* the slave's INT rose again after its INTA */
	out(CMD0, SEOI(2));
	assert_idle();
}

static void test_icw_sequence(void **state)
{
	struct hv_atpic_state s;
	int calls;

	(void)state;
	linux_init(false);
	out(ELCR0, 0x20);
	up(3);
	up(5);
	assert_int_equal(inta(), 0x33);
	out(CMD0, 0x68);
	out(CMD0, 0xc0 | 2);
	out(DATA0, 0x40);
	up(4);					/* an edge request, latched */
	assert_int_equal(irr(CMD0), 0x30);
	calls = intr_calls;
	/* ICW1 with LTIM, SNGL, ADI set and IC4 clear: the wiring stays a PC's. */
	out(CMD0, 0x1e);
	vatpic_get_state(&pic, true, &s);
	assert_false(s.ready);
	assert_int_equal(s.icw_num, 2);
	assert_int_equal(s.mask, 0);
	assert_int_equal(s.service, 0);
	assert_int_equal(s.request, 0x20);	/* edge IR3 dropped, level IR5 kept */
	assert_int_equal(s.lowprio, 7);
	assert_false(s.smm);
	assert_int_equal(s.rd_cmd_reg, 0);
	assert_int_equal(intr_calls, calls);	/* INT stays down until ready */
	out(DATA0, 0x47);			/* ICW2: low bits ignored */
	out(DATA0, 0x00);			/* ICW3: any value */
	vatpic_get_state(&pic, true, &s);
	assert_int_equal(s.irq_base, 0x40);
	assert_int_equal(s.icw_num, 4);		/* ICW4 still expected */
	assert_false(s.ready);
	out(DATA0, 0x00);			/* ICW4 with uPM clear: still x86 */
	vatpic_get_state(&pic, true, &s);
	assert_true(s.ready);
	assert_int_equal(s.mask, 0);
	assert_int_equal(inta(), 0x45);
	down(5);
	out(CMD0, EOI);
	up(3);					/* high since before ICW1: no new edge */
	assert_idle();
	down(3);
	up(3);
	assert_int_equal(inta(), 0x43);
}

static void test_intr_transitions(void **state)
{
	(void)state;
	linux_init(false);
	up(1);
	up(3);
	up(4);
	assert_int_equal(intr_calls, 1);	/* one rise for three requests */
	assert_int_equal(inta(), 0x31);
	assert_int_equal(intr_calls, 2);
	out(CMD0, EOI);
	assert_int_equal(intr_calls, 3);
	out(DATA0, 0xff);
	assert_int_equal(intr_calls, 4);
	out(DATA0, 0xfe);
	out(DATA0, 0xfd);
	assert_int_equal(intr_calls, 4);
	out(DATA0, 0x00);
	assert_int_equal(intr_calls, 5);
	out(CMD0, 0x11);			/* re-init drops INT */
	assert_int_equal(intr_calls, 6);
}

static void test_bad_arguments(void **state)
{
	const int ports[] = { 0, 0x1f, 0x22, 0x9f, 0xa2, 0x4cf, 0x4d2, -1, 0x10020 };
	const int irqs[] = { -1, 2, 16, 255, -2147483647 - 1 };
	uint8_t v = 0x77;

	(void)state;
	for (size_t i = 0; i < sizeof(ports) / sizeof(ports[0]); i++) {
		assert_int_equal(vatpic_port_read(&pic, ports[i], &v), HV_BAD_ARGUMENT);
		assert_int_equal(vatpic_port_write(&pic, ports[i], 0x11), HV_BAD_ARGUMENT);
	}
	assert_int_equal(v, 0x77);
	for (size_t i = 0; i < sizeof(irqs) / sizeof(irqs[0]); i++) {
		assert_int_equal(vatpic_assert(&pic, irqs[i]), HV_BAD_ARGUMENT);
		assert_int_equal(vatpic_deassert(&pic, irqs[i]), HV_BAD_ARGUMENT);
	}
	assert_int_equal(vatpic_assert(&pic, 15), HV_SUCCESS);
	assert_int_equal(vatpic_assert(&pic, 0), HV_SUCCESS);
}

static void get(bool primary, struct hv_atpic_state *s)
{
	memset(s, 0, sizeof(*s));
	vatpic_get_state(&pic, primary, s);
}

static void busy_pair(void)
{
	linux_init(false);
	out(ELCR1, 0x08);
	up(11);
	up(4);
	assert_int_equal(inta(), 0x3b);
	out(CMD0, 0xc0 | 5);
	out(CMD1, READ_ISR);
	out(CMD0, 0x68);
	out(DATA0, 0x02);
	up(1);
}

/* The same steps on any pair; the states after them. */
static void drive(struct hv_atpic_state *s0, struct hv_atpic_state *s1)
{
	uint8_t v;

	intr_calls = pic.intr_level;
	vatpic_pending(&pic, &v);
	vatpic_accept(&pic, v);
	out(CMD1, EOI);
	out(CMD0, SEOI(2));
	out(DATA0, 0x00);
	down(11);
	up(12);
	vatpic_pending(&pic, &v);
	vatpic_accept(&pic, v);
	out(CMD0, SEOI(1));
	vatpic_pending(&pic, &v);
	vatpic_accept(&pic, v);
	get(true, s0);
	get(false, s1);
}

static void test_state_round_trip(void **state)
{
	struct hv_atpic_state a0, a1, b0, b1;
	struct vatpic saved;

	(void)state;
	busy_pair();
	get(true, &a0);
	get(false, &a1);
	assert_int_equal(a1.service, 0x08);
	assert_int_equal(a1.last_request, 0x08);
	assert_int_equal(a0.request, 0x12);
	assert_int_equal(a0.elc, 0);
	assert_int_equal(a1.elc, 0x08);
	assert_int_equal(a0.lowprio, 5);
	assert_true(a0.smm);
	assert_int_equal(a1.rd_cmd_reg, 1);
	assert_int_equal(a0.intr_raised, intr_up());
	saved = pic;
	setup(NULL);
	assert_int_equal(vatpic_put_state(&pic, false, &a1), HV_SUCCESS);
	assert_int_equal(vatpic_put_state(&pic, true, &a0), HV_SUCCESS);
	get(true, &b0);
	get(false, &b1);
	assert_memory_equal(&a0, &b0, sizeof(a0));
	assert_memory_equal(&a1, &b1, sizeof(a1));
	assert_int_equal(pic.intr_level, a0.intr_raised);
	/* The restored pair goes on like the saved one. */
	drive(&b0, &b1);
	pic = saved;
	drive(&a0, &a1);
	assert_memory_equal(&a0, &b0, sizeof(a0));
	assert_memory_equal(&a1, &b1, sizeof(a1));
	assert_int_equal(a1.service, 0x10);	/* drive() did reach IRQ 12 */
}

static void test_put_rejects(void **state)
{
	struct hv_atpic_state good0, good1, bad, after;
	uint8_t *raw = (uint8_t *)&bad;

	(void)state;
	busy_pair();
	get(true, &good0);
	get(false, &good1);
#define REJECT(primary, good, change) do {						\
		bad = good;								\
		change;									\
		assert_int_equal(vatpic_put_state(&pic, primary, &bad), HV_BAD_ARGUMENT); \
	} while (0)
	REJECT(true, good0, bad.icw_num = 1);
	REJECT(true, good0, bad.icw_num = 5);
	REJECT(true, good0, bad.icw_num = 2);			/* ready with ICWs pending */
	REJECT(true, good0, bad.rd_cmd_reg = 2);
	REJECT(true, good0, bad.irq_base = 0x31);
	REJECT(true, good0, bad.lowprio = 8);
	REJECT(true, good0, bad.elc = 0x04);			/* IRQ 2 has no ELCR bit */
	REJECT(false, good1, bad.elc = 0x28);			/* nor IRQ 13 */
	REJECT(false, good1, bad.last_request = 0);		/* level IRQ 11 requests with its line low */
	REJECT(true, good0, bad.intr_raised = !good0.intr_raised);
	REJECT(true, good0, raw[offsetof(struct hv_atpic_state, smm)] = 2);
	REJECT(true, good0, raw[offsetof(struct hv_atpic_state, ready)] = 0xff);
	REJECT(false, good1, raw[offsetof(struct hv_atpic_state, intr_raised)] = 3);
#undef REJECT
	get(true, &after);
	assert_memory_equal(&good0, &after, sizeof(after));
	get(false, &after);
	assert_memory_equal(&good1, &after, sizeof(after));
	/* Mid-initialization states are fine. */
	bad = good0;
	bad.ready = false;
	bad.icw_num = 3;
	bad.intr_raised = false;
	bad.service = 0;
	assert_int_equal(vatpic_put_state(&pic, true, &bad), HV_SUCCESS);
	assert_false(intr_up());
	out(DATA0, 0x04);
	out(DATA0, 0x01);
	assert_true(intr_up());
}

/*
 * Random run: a PC guest in fully nested mode (the slave's IRQs sit at the
 * master's IR2), IRQs 3-7 switched between edge and level, checked against
 * a flat model: the pending IRQ is the first requested, unmasked one in the
 * order 0 1 8..15 3..7, unless an in-service IRQ comes first (any slave IRQ
 * in service stands for all of them).
 */
static const int order[15] = { 0, 1, 8, 9, 10, 11, 12, 13, 14, 15, 3, 4, 5, 6, 7 };

struct ref {
	bool line[16], req[16], isr[16], level[16];
	uint8_t mask0;
};

static uint32_t rng = 4242;

static uint32_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 17;
	rng ^= rng << 5;
	return rng;
}

static int ref_pending(const struct ref *r)
{
	bool slave_busy = false;

	for (int i = 8; i < 16; i++)
		slave_busy |= r->isr[i];
	for (int i = 0; i < 15; i++) {
		int irq = order[i];

		if (r->isr[irq] || (irq >= 8 && slave_busy))
			return -1;
		if (r->req[irq] && !(irq < 8 && (r->mask0 & (1u << irq))))
			return irq;
	}
	return -1;
}

/* The in-service IRQ that comes first in priority order. */
static int ref_highest_isr(const struct ref *r)
{
	for (int i = 0; i < 15; i++)
		if (r->isr[order[i]])
			return order[i];
	return -1;
}

static void ref_eoi(struct ref *r, int irq, bool specific)
{
	if (irq >= 8) {
		out(CMD1, specific ? SEOI(irq & 7) : EOI);
		out(CMD0, specific ? SEOI(2) : EOI);
	} else {
		out(CMD0, specific ? SEOI(irq) : EOI);
	}
	r->isr[irq] = false;
}

static void test_random_vs_reference(void **state)
{
	struct ref r = { 0 };
	uint8_t elcr = 0;
	int intas[2] = { 0 };

	(void)state;
	linux_init(false);
	for (int step = 0; step < 100000; step++) {
		uint32_t x = next();
		int irq = (int)(x % 15), pend;
		uint8_t v;

		irq += irq >= 2;			/* 0..15 without 2 */
		switch ((x >> 4) % 7) {
		case 0:
		case 1:
			up(irq);
			if (!r.line[irq] || r.level[irq])
				r.req[irq] = true;
			r.line[irq] = true;
			break;
		case 2:
			down(irq);
			r.line[irq] = false;
			if (r.level[irq])
				r.req[irq] = false;
			break;
		case 3:
			pend = ref_pending(&r);
			assert_int_equal(vatpic_pending(&pic, &v), pend >= 0);
			assert_int_equal(intr_up(), pend >= 0);
			if (pend < 0)
				break;
			assert_int_equal(v, 0x30 + (pend & 8) + (pend & 7));
			vatpic_accept(&pic, v);
			intas[pend >= 8]++;
			r.isr[pend] = true;
			if (!r.level[pend])
				r.req[pend] = false;
			break;
		case 4:
			pend = ref_highest_isr(&r);
			if (pend >= 0)
				ref_eoi(&r, pend, (x >> 8) & 1);
			break;
		case 5:
			/* A specific EOI of any in-service IRQ, in or out of order. */
			if (r.isr[irq])
				ref_eoi(&r, irq, true);
			break;
		case 6:
			if ((x >> 8) & 1) {
				r.mask0 = (uint8_t)((x >> 9) & 0xf8);
				out(DATA0, r.mask0);
			} else {
				elcr = (uint8_t)((x >> 9) & 0xf8);
				for (int i = 3; i < 8; i++) {
					r.level[i] = elcr & (1u << i);
					if (r.level[i])
						r.req[i] = r.line[i];
				}
				out(ELCR0, elcr);
			}
			break;
		}
		pend = ref_pending(&r);
		assert_int_equal(intr_up(), pend >= 0);
	}
	assert_true(intas[0] > 1000 && intas[1] > 1000);	/* both chips were exercised */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_power_on, setup),
		cmocka_unit_test_setup(test_linux_init, setup),
		cmocka_unit_test_setup(test_seabios_init, setup),
		cmocka_unit_test_setup(test_fully_nested_priority, setup),
		cmocka_unit_test_setup(test_same_level_blocked, setup),
		cmocka_unit_test_setup(test_aeoi, setup),
		cmocka_unit_test_setup(test_rotation, setup),
		cmocka_unit_test_setup(test_special_mask, setup),
		cmocka_unit_test_setup(test_poll, setup),
		cmocka_unit_test_setup(test_read_register_select, setup),
		cmocka_unit_test_setup(test_elcr, setup),
		cmocka_unit_test_setup(test_spurious_irq15, setup),
		cmocka_unit_test_setup(test_spurious_irq7, setup),
		cmocka_unit_test_setup(test_sfnm, setup),
		cmocka_unit_test_setup(test_secondary_aeoi, setup),
		cmocka_unit_test_setup(test_icw_sequence, setup),
		cmocka_unit_test_setup(test_intr_transitions, setup),
		cmocka_unit_test_setup(test_bad_arguments, setup),
		cmocka_unit_test_setup(test_state_round_trip, setup),
		cmocka_unit_test_setup(test_put_rejects, setup),
		cmocka_unit_test_setup(test_random_vs_reference, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
