/*
 * A VM's interrupt controllers inside hvmetal (HV_VM_ACCEL_APIC, docs/apic.md):
 * the models of apic/ (the vCPUs' local APICs, the IOAPIC, the 8259 pair) behind
 * one lock, and the notification that brings a vCPU to what they made pending.
 * Any control-domain CPU may drive them; a vCPU's owner injects what its local
 * APIC holds (vcpu_apic.c).
 */
#ifndef HVMETAL_VAPIC_H
#define HVMETAL_VAPIC_H

#include <stdint.h>
#include "apic/vatpic.h"
#include "apic/vintr.h"
#include "apic/vioapic.h"
#include "kernel/spinlock.h"

struct vm;

struct vapic {
	struct spinlock lock;		/* everything below; never held across a wait */
	struct vintr vi;		/* the bus: lapic[i] = &vm->vcpus[i]->lapic while it lives */
	struct vioapic ioapic;
	struct vatpic atpic;
	struct apic_env env;		/* ctx = this vapic */
	struct vm *vm;
	uint64_t to_notify;		/* vCPUs the models kicked under the lock, told after it */
};

/* At VM create (a pool page; the caller sets vm) and destroy; NULL when the pool is empty. */
struct vapic *vapic_create(void);
void vapic_destroy(struct vapic *a);
void vapic_lock(struct vapic *a);
/* Drops the lock, then notifies each vCPU kicked meanwhile (may wait, bounded, for another CPU). */
void vapic_unlock(struct vapic *a);

#endif
