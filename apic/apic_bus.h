/*
 * The APIC bus of one VM: what an IPI, an MSI, an IOAPIC redirection entry and
 * the 8259's INTR all become on their way to the local APICs (SDM vol. 3,
 * 11.6 and 11.11), and the one interface the pure models in apic/ have to the
 * rest of hvmetal.  Nothing here touches hardware: hvmetal implements
 * struct apic_env over its vCPUs, the host tests with fakes.
 */
#ifndef HVMETAL_APIC_BUS_H
#define HVMETAL_APIC_BUS_H

#include <stdbool.h>
#include <stdint.h>

/* Delivery modes (ICR, LVT, redirection entry and MSI data bits 10:8). */
enum apic_dm {
	APIC_DM_FIXED	= 0,
	APIC_DM_LOWPRI	= 1,
	APIC_DM_SMI	= 2,
	APIC_DM_NMI	= 4,
	APIC_DM_INIT	= 5,
	APIC_DM_STARTUP	= 6,
	APIC_DM_EXTINT	= 7,
};

/* ICR destination shorthands (bits 19:18). */
enum apic_shorthand {
	APIC_SH_NONE	= 0,
	APIC_SH_SELF	= 1,
	APIC_SH_ALL	= 2,
	APIC_SH_OTHERS	= 3,
};

/* One interrupt message. */
struct apic_msg {
	uint32_t dest;		/* APIC ID or logical mask; 0xff (xAPIC) / 0xffffffff broadcast */
	uint8_t vector;
	uint8_t mode;		/* enum apic_dm */
	uint8_t shorthand;	/* enum apic_shorthand; only IPIs have one */
	bool logical;		/* destination mode */
	bool level;		/* trigger mode: level sets TMR, its EOI goes to the IOAPIC */
	bool assert;		/* ICR level bit: an INIT with it clear is INIT level de-assert */
	uint32_t src;		/* sending vCPU, for the shorthands */
};

/* How the models reach the rest of hvmetal; every hook may be called with the VM's interrupt lock held. */
struct apic_env {
	void *ctx;
	/* vCPU `vcpu` has a new event (an interrupt, NMI, INIT): wake it if idle, make it exit if running elsewhere. */
	void (*kick)(void *ctx, uint32_t vcpu);
};

/*
 * Time: the models never read a clock.  A call that needs the time takes `now`,
 * the vCPU's guest TSC, and a timer reports its deadline in the same ticks; the
 * owner of the vCPU arms and checks it (hvmetal in its run loop, tests with a
 * fake clock).
 */

#endif
