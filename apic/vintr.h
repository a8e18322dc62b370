/*
 * The APIC bus of one VM: the set of local APICs and how a message (IPI, MSI,
 * IOAPIC redirection entry, 8259 INTR) reaches them (SDM vol. 3, 11.6, 11.11).
 *
 * Decisions where Apple is silent (copied into docs/apic.md):
 *  - Default APIC bus (timer input) clock: 1 GHz, as KVM.  A guest TSC rate of
 *    0 is taken as the bus rate.  vintr_set_bus_freq accepts 16 MHz..2 GHz
 *    (else HV_BAD_ARGUMENT) and only while no LAPIC is attached (HV_BUSY).
 *  - vintr_deliver takes xAPIC-format messages (8-bit destination, 0xff
 *    broadcast): IOAPIC, MSI.  vintr_send adds x2APIC format (32-bit
 *    destination, 0xffffffff broadcast) for IPIs from an x2APIC sender.
 *  - Lowest priority: the matching software-enabled LAPIC with the lowest PPR,
 *    ties to the lowest vCPU id; no focus processor.
 *  - INIT and STARTUP reach LAPICs only as IPIs (vlapic_write/wrmsr report
 *    them); from an MSI or a redirection entry they are dropped, as are SMI
 *    and ExtINT (the 8259 reaches the CPUs through vintr_lint only).
 *  - MSI (bhyve lapic_intr_msi): address bits 31:20 must be 0xFEE (else
 *    HV_BAD_ARGUMENT), bits 63:32 are ignored (no extended destination ID);
 *    destination addr[19:12], logical iff RH and DM are both set; data[10:8]
 *    delivery mode, data[7:0] vector; always edge.
 *  - vintr_ioapic_intr: a masked entry delivers nothing and succeeds; a level
 *    entry sets TMR, and its EOI goes to eoi_level / IOAPIC_EOI.
 *  - vintr_set_intr: the vector goes through the LAPIC's acceptance rules
 *    (dropped while the LAPIC is software- or hardware-disabled).
 */
#ifndef HVMETAL_VINTR_H
#define HVMETAL_VINTR_H

#include <stdbool.h>
#include <stdint.h>
#include <Hypervisor/hv_intr.h>
#include "apic/apic_bus.h"
#include "apic/vlapic.h"

#define VINTR_VCPUS		64		/* hvmetal's VM_VCPUS_MAX */
#define VINTR_BUS_HZ_DEFAULT	1000000000ull
#define VINTR_BUS_HZ_MIN	16000000ull
#define VINTR_BUS_HZ_MAX	2000000000ull

struct vintr {
	struct vlapic *lapic[VINTR_VCPUS];	/* NULL: no such vCPU (set/cleared by the integrator under its lock) */
	const struct apic_env *env;		/* kick */
	uint64_t bus_hz;			/* APIC timer input clock */
	uint64_t tsc_hz;			/* guest TSC rate */
	uint64_t tsc_per_bus;			/* 32.32 fixed point, rounded down; from the two above */
	uint64_t bus_per_tsc;			/* 32.32 fixed point, rounded up */
	void (*eoi_level)(void *arg, uint8_t vector);	/* level EOI to the in-kernel IOAPIC (may be NULL) */
	void *eoi_arg;
	uint64_t base_mask;			/* IA32_APIC_BASE address bits: the CPU's MAXPHYADDR, 4 KiB aligned */
};

void vintr_init(struct vintr *vi, const struct apic_env *env, uint64_t tsc_hz);
/* The guest's MAXPHYADDR (CPUID 0x80000008 EAX[7:0], 36..52; 52 until set): base bits above it #GP. */
void vintr_set_maxphyaddr(struct vintr *vi, unsigned bits);
hv_return_t vintr_set_bus_freq(struct vintr *vi, uint64_t hz);

/* Deliver one message; INIT/SIPI results are ORed into *eff (may be NULL). */
void vintr_send(struct vintr *vi, const struct apic_msg *m, bool x2apic, struct vlapic_effect *eff);
void vintr_deliver(struct vintr *vi, const struct apic_msg *m, struct vlapic_effect *eff);

hv_return_t vintr_msi(struct vintr *vi, uint64_t addr, uint64_t data);
hv_return_t vintr_ioapic_intr(struct vintr *vi, uint64_t rte);
hv_return_t vintr_set_intr(struct vintr *vi, uint32_t vcpu, uint8_t vector, hv_apic_intr_trigger_t trig);
/* A LINT pin of every LAPIC (pin 0: the 8259's INTR); pins > 1 are ignored. */
void vintr_lint(struct vintr *vi, unsigned pin, bool level);

/* Timer arithmetic in the VM's clocks (used by vlapic.c). */
uint64_t vintr_ticks(const struct vintr *vi, uint64_t counts, uint32_t divide);
uint64_t vintr_counts(const struct vintr *vi, uint64_t ticks, uint32_t divide);

#endif
