/*
 * INIT and start-up IPIs between the control domain's CPUs, delivered by hvmetal.
 *
 * hvmetal sees them by trapping writes to the local APIC's ICR: the xAPIC page
 * is read-only in the control domain's EPT (stores are decoded and replayed),
 * the x2APIC ICR MSR is write-intercepted; every other APIC access runs natively.
 * An INIT for a CPU under hvmetal becomes a request and an NMI that makes the
 * target exit; it takes the CPU's INIT state and waits in VMX root until a
 * start-up IPI names its vector. A real INIT never reaches a CPU under hvmetal,
 * so neither the INIT VM exit nor the wait-for-SIPI activity state is needed
 * (Bochs 2.7 leaves an INIT pending after an INIT VM exit: that CPU could never
 * run guest code again).
 */
#ifndef HVMETAL_CD_APIC_H
#define HVMETAL_CD_APIC_H

#include <stdint.h>
#include "kernel/percpu.h"
#include "vmx/vmx_exit.h"

/* This CPU's xAPIC page, or 0 when its APIC is off or in x2APIC mode. */
uint64_t cd_apic_page(void);
/* At cpu's launch: its APIC page, LDR and DFR, and that page trapped; -1 when the pool is dry. */
int cd_apic_launch(struct percpu *cpu);

/* Parks cpu (after its INIT) until a start-up IPI for it arrives; returns the vector. */
uint8_t cd_apic_wait_sipi(struct percpu *cpu);

enum exit_action cd_exit_ept_violation(struct vmx_exit *ex);
/* MSR writes cd_msr.c hands on: 0 done, -1 the caller's #GP. */
int cd_apic_write_icr(uint64_t val);
int cd_apic_write_base(uint64_t val);

#endif
