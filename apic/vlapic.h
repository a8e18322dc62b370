/*
 * One virtual local APIC (SDM vol. 3, ch. 11): the xAPIC register page, the
 * x2APIC MSRs, IA32_APIC_BASE, IA32_TSC_DEADLINE, the timer, and the
 * IRR/ISR/TMR priority logic.  Pure: time comes in as `now` (guest TSC), the
 * rest of the VM is reached through struct vintr (vintr.h).
 *
 * Decisions where Apple and the SDM leave a choice (copied into docs/apic.md):
 *  - VER reads 0x00060014: version 0x14, 7 LVT entries (max LVT 6), no
 *    EOI-broadcast suppression, so SVR bit 12 is reserved (dropped on a page
 *    write, #GP in x2APIC).  SVR bit 9 (focus checking) is stored, no effect.
 *  - APR (0x90) and RRD (0xC0) read 0.  EOI reads 0.  Unknown, reserved or
 *    unaligned page offsets read 0 and ignore writes, with no ESR bit.
 *  - The page interface also serves the VMM (hv_vcpu_apic_read/write), so it
 *    works in x2APIC mode too (ID reads the x2APIC ID, ID/LDR/DFR writes are
 *    ignored there); while IA32_APIC_BASE.EN is clear it reads 0 and ignores
 *    writes, and the LAPIC accepts no messages at all.
 *  - IA32_APIC_BASE: bits 7:0, 9 and those at or above MAXPHYADDR
 *    (vintr_set_maxphyaddr; 52 until set) reserved (#GP); BSP read-only
 *    (written value ignored); EXTD without EN, x2APIC->xAPIC and
 *    disabled->x2APIC are #GP (SDM 11.12.5).  Clearing EN resets the LAPIC to
 *    its power-up state (ID back to the vCPU id, SVR 0xFF: software-disabled)
 *    keeping the base address and boot_state.  Entering x2APIC sets the ID to
 *    the vCPU id and LDR to the derived logical ID.  The caller notices a base
 *    address move by comparing vlapic_apic_base() before and after.
 *  - LVT timer mode 3 (reserved) written through the page is stored as
 *    one-shot; in x2APIC it is #GP.  LVT delivery status and remote IRR read 0.
 *  - Timer mode changes to or from TSC-deadline disarm the timer and zero the
 *    initial count and IA32_TSC_DEADLINE (KVM, SDM 11.5.4.1); one-shot <->
 *    periodic keeps the count running, the new mode applies at expiry.  A
 *    divide-configuration write while counting keeps the current count and
 *    counts the rest at the new rate.  A periodic timer checked late fires
 *    once and skips the missed periods.
 *  - HV_APIC_CTRL_NO_TIMER: timer registers are recorded, the timer is never
 *    armed and CCR reads 0; clearing it re-arms a TSC-deadline timer from
 *    IA32_TSC_DEADLINE, a one-shot/periodic count waits for the next initial
 *    count write.  HV_APIC_CTRL_EOI_ICR_TPR and _GUEST_IDLE are stored and
 *    reported, with no effect (Apple does not document their MSRs).
 *  - INIT (any boot_state) resets everything but the ID and IA32_APIC_BASE
 *    and sets boot_state SIPI; INIT level de-assert (level-triggered, level
 *    bit clear) is ignored.  STARTUP moves only SIPI-state targets to
 *    RUNNING.  Both are reported to the sender's caller (INIT_AP/STARTUP_AP);
 *    neither has an effect when no target took it.
 *  - Fixed IPIs are edge-triggered whatever the ICR trigger bit says (SDM:
 *    it only qualifies INIT de-assert).  A fixed or lowest-priority IPI with
 *    a vector < 16 is not sent and sets ESR bit 5 on the sender; a message
 *    received with one sets ESR bit 6 on the receiver (also the LVTs and the
 *    x2APIC SELF IPI).  SMI, ExtINT and the reserved mode 3 in the ICR are
 *    dropped.
 *  - An EOI whose vector has its TMR bit set goes to vi->eoi_level, or with
 *    HV_APIC_CTRL_IOAPIC_EOI becomes an IOAPIC_EOI effect instead.  AEOI
 *    vectors (HV_APIC_EDGE_TRIGGER_AEOI) go from IRR straight out, not to ISR.
 *  - Fixed LINT0/LINT1 interrupts are edge-triggered (no remote IRR); LINT in
 *    SMI/INIT mode is dropped.  The 8259 is seen only through LINT0 in ExtINT
 *    mode (vlapic_extint_pending), which follows the pin level.
 *  - State: apic_id is the ID register as the page reads it (xAPIC id<<24,
 *    x2APIC id), lvt[] in bhyve's order (LINT0, LINT1, TIMER, ERROR, PMC,
 *    THERMAL, CMCI), icr[0] low, icr[1] high, apic_gpa the IA32_APIC_BASE
 *    page address only (mode bits come from the MSR, which the VMM restores
 *    first), apic_controls the ctrl bits, ccr_timer computed at `now` (a
 *    running count reads at least 1: 0 means stopped).  put_state rebuilds
 *    the timer from the counts: the remaining ccr_timer counts start at
 *    `now`, and a current count of 0 leaves it stopped, periodic or not.  It rejects (HV_BAD_ARGUMENT, nothing changed):
 *    an x2APIC apic_id other than the vCPU id or xAPIC bits 23:0 set, a ver
 *    other than VER, apr != 0, LDR/DFR/TPR/SVR/LVT/DCR/ICR reserved or
 *    read-only bits, timer mode 3, ccr_timer > icr_timer (or non-zero in
 *    TSC-deadline mode or under NO_TIMER), tsc_deadline non-zero outside
 *    TSC-deadline mode,
 *    vectors 0-15 in ISR/TMR/IRR/AEOI, AEOI bits without IRR, unknown ESR
 *    bits, unknown ctrl bits, boot_state > 2, apic_gpa unaligned or past MAXPHYADDR.
 */
#ifndef HVMETAL_VLAPIC_H
#define HVMETAL_VLAPIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <Hypervisor/hv_intr.h>
#include "apic/apic_bus.h"
#include "apic/ipi_dest.h"

struct vintr;

#define VLAPIC_VERSION		0x00060014u	/* version 0x14, max LVT entry 6 */
#define VLAPIC_BASE_DEFAULT	0xfee00000ull
#define VLAPIC_BASE_BSP		(1ull << 8)
#define VLAPIC_BASE_EXTD	(1ull << 10)
#define VLAPIC_BASE_EN		(1ull << 11)
#define VLAPIC_SVR_ENABLE	(1u << 8)	/* SVR: APIC software enable */

/* LVT indices in struct vlapic and in hv_apic_state.lvt[] (bhyve's order). */
enum vlapic_lvt {
	VLAPIC_LVT_LINT0,
	VLAPIC_LVT_LINT1,
	VLAPIC_LVT_TIMER,
	VLAPIC_LVT_ERROR,
	VLAPIC_LVT_PMC,
	VLAPIC_LVT_THERMAL,
	VLAPIC_LVT_CMCI,
	VLAPIC_LVT_COUNT,
};

/* ESR bits the model sets (SDM 11.5.3). */
#define VLAPIC_ESR_SEND_ILLEGAL	(1u << 5)
#define VLAPIC_ESR_RECV_ILLEGAL	(1u << 6)

/* All of one LAPIC's state; embedded in the vCPU, guarded by the VM's interrupt lock. */
struct vlapic {
	struct vintr *vi;		/* set by vlapic_init */
	uint32_t vcpu;			/* vCPU id = initial APIC ID = x2APIC ID */
	uint32_t xapic_id;		/* xAPIC ID register bits 31:24 (writable) */
	uint64_t apic_base;		/* IA32_APIC_BASE */
	hv_apic_ctrl_t ctrl;
	uint32_t tpr, ldr, dfr, svr;
	uint32_t isr[8], tmr[8], irr[8], aeoi[8];
	uint32_t esr, esr_pending;
	uint32_t lvt[VLAPIC_LVT_COUNT];
	uint32_t icr_lo, icr_hi;
	uint32_t icr_timer, dcr_timer;
	uint32_t boot_state;		/* enum hv_boot_state */
	uint8_t lint_level;		/* LINT0/LINT1 pin levels, bits 0/1 */
	uint8_t nmi_pending;		/* NMIs latched, at most 2: one to deliver, one behind it (KVM's rule) */
	/* Timer: at guest TSC ref_tsc the count was ref_count; it expires at
	 * deadline (UINT64_MAX: not armed); period: ticks of a full count. */
	uint64_t tsc_deadline;		/* IA32_TSC_DEADLINE */
	uint64_t timer_ref_tsc, timer_deadline, timer_period;
	uint32_t timer_ref_count;
	/*
	 * APIC virtualization (apicv.h): vectors set in IRR since the owner last
	 * gave IRR to the CPU, and a count of every other change the owner must
	 * give it (bumped by writes, resets, state puts, TPR and control changes;
	 * not by x2APIC writes of ICR, initial count, SELF IPI or TSC deadline,
	 * whose effects are IRR vectors, a reset or registers apicv_load_hot gives).
	 */
	uint32_t posted[8];
	uint32_t regs_gen;
};

/* What a write did that the VMM must see (Apple's exit info). */
struct vlapic_effect {
	uint32_t exitinfo;	/* 0 none, or HV_VM_EXITINFO_INIT_AP / STARTUP_AP / IOAPIC_EOI */
	uint64_t targets;	/* vCPU bit mask, INIT_AP / STARTUP_AP */
	uint8_t vector;		/* SIPI vector (STARTUP_AP), EOI'd vector (IOAPIC_EOI) */
};

/* Power-on state: ID = id, base 0xFEE00000|EN (|BSP for id 0), boot_state RUNNING for id 0, INIT otherwise. */
void vlapic_init(struct vlapic *vl, struct vintr *vi, uint32_t id);

/* The xAPIC page (4-byte accesses at 16-byte aligned offsets). */
uint32_t vlapic_read(struct vlapic *vl, uint32_t offset, uint64_t now);
/* Returns no_side_effect: false when *eff (may be NULL) carries an exit info. */
bool vlapic_write(struct vlapic *vl, uint32_t offset, uint32_t val, uint64_t now, struct vlapic_effect *eff);

/* IA32_APIC_BASE (0x1B), IA32_TSC_DEADLINE (0x6E0), x2APIC 0x800-0x8FF; false: #GP. */
bool vlapic_rdmsr(struct vlapic *vl, uint32_t msr, uint64_t *val, uint64_t now);
bool vlapic_wrmsr(struct vlapic *vl, uint32_t msr, uint64_t val, uint64_t now, struct vlapic_effect *eff);

/* The CPU side: what to inject and telling the model it was injected. */
int vlapic_pending(const struct vlapic *vl);	/* highest deliverable fixed vector or -1 */
void vlapic_accept(struct vlapic *vl, uint8_t vector);
bool vlapic_take_nmi(struct vlapic *vl);
/* The CPU is in an NMI handler: it latches one NMI behind that one, not two. */
void vlapic_nmi_blocked(struct vlapic *vl);
bool vlapic_extint_pending(const struct vlapic *vl);
uint8_t vlapic_get_tpr(const struct vlapic *vl);	/* CR8: TPR[7:4] */
void vlapic_set_tpr(struct vlapic *vl, uint8_t cr8);

/* Timer: deadline in guest TSC (UINT64_MAX none); check fires it when due. */
uint64_t vlapic_deadline(const struct vlapic *vl);
void vlapic_timer_check(struct vlapic *vl, uint64_t now);
hv_return_t vlapic_trigger_lvt(struct vlapic *vl, hv_apic_lvt_flavor_t flavor);

void vlapic_set_ctrl(struct vlapic *vl, hv_apic_ctrl_t ctrl);
/*
 * The CPU's EOI virtualization took vector out of ISR: what an EOI does
 * besides (a level vector's EOI to the IOAPIC, or the IOAPIC_EOI effect).
 */
void vlapic_eoi_done(struct vlapic *vl, uint8_t vector, struct vlapic_effect *eff);
uint64_t vlapic_apic_base(const struct vlapic *vl);
void vlapic_get_state(const struct vlapic *vl, struct hv_apic_state *s, uint64_t now);
hv_return_t vlapic_put_state(struct vlapic *vl, const struct hv_apic_state *s, uint64_t now);

/* Bus side, for vintr.c; inline: the run loop asks before every entry (apicv). */
static inline bool vlapic_enabled(const struct vlapic *vl)	/* IA32_APIC_BASE.EN */
{
	return vl->apic_base & VLAPIC_BASE_EN;
}

static inline bool vlapic_sw_enabled(const struct vlapic *vl)	/* and SVR bit 8 */
{
	return vlapic_enabled(vl) && (vl->svr & VLAPIC_SVR_ENABLE);
}

/* The timer's MSRs (IA32_TSC_DEADLINE, LVT timer, initial and current count, divide): the VMM's under NO_TIMER. */
static inline bool vlapic_timer_msr(uint32_t msr)
{
	return msr == 0x6e0 || msr == 0x832 || msr == 0x838 || msr == 0x839 || msr == 0x83e;
}

static inline bool vlapic_x2apic(const struct vlapic *vl)
{
	return (vl->apic_base & (VLAPIC_BASE_EN | VLAPIC_BASE_EXTD)) == (VLAPIC_BASE_EN | VLAPIC_BASE_EXTD);
}
uint8_t vlapic_ppr(const struct vlapic *vl);
void vlapic_target(const struct vlapic *vl, struct ipi_target *t, uint32_t src);
/* A message this LAPIC is a destination of; returns true when it was taken
 * (fixed: into IRR; INIT: reset; STARTUP: SIPI state left). */
bool vlapic_receive(struct vlapic *vl, const struct apic_msg *m, bool aeoi);
void vlapic_lint(struct vlapic *vl, unsigned pin, bool level);

#endif
