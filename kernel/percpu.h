/* Per-CPU state of hvmetal. Host GS base points at this CPU's struct percpu. */
#ifndef HVMETAL_PERCPU_H
#define HVMETAL_PERCPU_H

#include <stddef.h>
#include <stdint.h>

struct tss64 {
	uint32_t reserved0;
	uint64_t rsp[3];
	uint64_t ist[8];	/* ist[0] is reserved */
	uint64_t reserved1;
	uint16_t reserved2, iomap_base;
} __attribute__((packed));

#define HOST_GDT_ENTRIES	5	/* null, code64, data, tss (2 slots) */
#define HOST_SEL_CS		0x08
#define HOST_SEL_DS		0x10
#define HOST_SEL_TR		0x18

#define PENDING_NMI		(1u << 0)	/* an NMI of the control domain's to inject */
#define PENDING_CD_EPT		(1u << 1)	/* its EPT changed: INVEPT before resuming it */
#define PENDING_VCPU_MOVE	(1u << 2)	/* another CPU asks for a vCPU of this one's (vm/vcpu_move.h) */

struct vcpu_move;

#define PERCPU_SWAPPED_MSRS	8

#define HOST_STACK_PAGES	4	/* exit handling stack */
#define HOST_IST_PAGES		2	/* NMI, #DF, #MC each */

struct percpu {
	struct percpu *self;		/* gs:0, so asm can find the struct */
	uint32_t index;			/* set at setup, constant after */
	uint32_t launched;		/* 1 once this CPU runs the control domain in VMX non-root */
	uint64_t vmxon_pa;		/* VMXON region, from the pool */
	uint64_t vmcs_pa;		/* control-domain VMCS, from the pool */
	uint64_t stack_top;		/* host RSP on VM exit */
	uint32_t pending;		/* PENDING_*: work before this CPU resumes the control domain (atomics) */
	uint32_t apic_id;		/* x2APIC ID, read at launch */
	uint32_t apic_ldr, apic_dfr;	/* xAPIC LDR/DFR: read at launch, then as stores replay */
	uint64_t apic_page;		/* its xAPIC page, trapped in the CD's EPT; 0: x2APIC or off */
	uint32_t init_request;		/* 1: an INIT was sent here; set by the sender (atomics) */
	uint32_t sipi_wait;		/* 1 while parked after INIT (atomics) */
	uint32_t sipi_vector;		/* SIPI_VALID | vector, written by the sender */
	/* 1 from a kick's sending to its NMI's arrival: one kick NMI in flight at most. */
	uint32_t kick_inflight;
	struct vcpu_move *vcpu_move;	/* the move asked of this CPU, NULL: none (atomics) */
	void *cd_xsave;			/* the control domain's extended state while a guest runs */
	/* Its values of the MSRs guests swap (vm/vcpu.h), KERNEL_GS_BASE aside: its writes exit. */
	uint64_t cd_msr[PERCPU_SWAPPED_MSRS];
	uint32_t cd_msr_gen;		/* bumped at each change of cd_msr; starts at 1 */
	uint64_t cd_xcr0;		/* its XCR0: read at launch, then every XSETBV exits */
	uint64_t gdt[HOST_GDT_ENTRIES];
	struct tss64 tss;
} __attribute__((aligned(64)));

_Static_assert(offsetof(struct percpu, self) == 0, "asm reads gs:0");

static inline struct percpu *this_cpu(void)
{
	struct percpu *p;

	__asm__ volatile("mov %%gs:0, %0" : "=r"(p));
	return p;
}

static inline void percpu_set_pending(struct percpu *cpu, uint32_t bits)
{
	__atomic_or_fetch(&cpu->pending, bits, __ATOMIC_ACQ_REL);
}

static inline void percpu_clear_pending(struct percpu *cpu, uint32_t bits)
{
	__atomic_and_fetch(&cpu->pending, ~bits, __ATOMIC_ACQ_REL);
}

/* After any exit: is there an INIT to take, an NMI to give the control domain, its EPT to flush? */
static inline int percpu_work_pending(struct percpu *cpu)
{
	return __atomic_load_n(&cpu->init_request, __ATOMIC_ACQUIRE) |
	       __atomic_load_n(&cpu->pending, __ATOMIC_ACQUIRE);
}

#endif
