/*
 * mbvmm: a VMM that boots Multiboot kernels as QEMU's -kernel does, written
 * only against Apple's Hypervisor API with HV_VM_ACCEL_APIC (the machine a
 * test kernel expects: ../../../shared/MULTIBOOT-VMM.md). One VM; the files
 * here: the machine (mbvmm.c), its ports (mb_ports.c), the CPU's exits
 * (mb_cpu.c), MMIO (mb_mmio.c), the APs (mb_smp.c), the threads and their
 * run loop (mb_run.c), and the pure pieces (mb_load, mb_insn, mb_walk,
 * uart16550, fw_cfg, acpi_tables).
 */
#ifndef MBVMM_H
#define MBVMM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <Hypervisor/hv.h>
#include "examples/vmm/platform.h"
#include "fw_cfg.h"
#include "uart16550.h"

#define MB_VCPUS_MAX	8

/* What an exit handler tells the run loop. */
enum mb_next {
	MB_RESUME,	/* run the vCPU again */
	MB_DONE,	/* the guest ended (the exit port, HLT with interrupts off, shutdown) */
	MB_ABORT,	/* something the VMM cannot do: already said why */
};

/* Where a vCPU is: its owner thread runs it in MB_VCPU_RUN only. */
enum mb_vcpu_state {
	MB_VCPU_WAIT,	/* an AP before its SIPI (after INIT) */
	MB_VCPU_SIPI,	/* a SIPI came (sipi_rip): the owner puts the AP's start state */
	MB_VCPU_RUN,	/* the BSP, an AP started */
};

struct mb_vcpu {
	hv_vcpuid_t id;
	unsigned index;		/* = APIC ID = id */
	uint32_t exit_reason;	/* the current exit's basic reason */
	uint32_t state;		/* enum mb_vcpu_state (atomics: any thread's INIT and SIPI change it) */
	uint64_t sipi_rip;	/* where the SIPI starts it */
	uint64_t misc_enable;	/* IA32_MISC_ENABLE as the guest sees it */
	bool idle;		/* halted when its last turn ended: the next turn is short */
};

struct mb_machine {
	/* the command line's choices */
	unsigned ncpus;
	uint64_t ram_size;
	bool x2apic;		/* CPUID shows x2APIC */
	/* guest memory */
	uint8_t *ram;
	uint32_t entry;		/* the kernel's entry point */
	/* devices */
	struct uart16550 uart;
	uint8_t apic_page_ram[4096];	/* what the xAPIC page holds while no APIC answers there */
	struct fw_cfg fw_cfg;
	uint64_t pm_timer_base;	/* plat_clock() at power-on */
	/* how it ended */
	bool exited;		/* the exit port was written */
	int exit_status;	/* QEMU's: (code << 1) | 1 */
	/* the threads (mb_run.c): vCPU i is thread i % threads's */
	unsigned threads;
	unsigned created;	/* vCPUs created so far, in order (atomics) */
	uint32_t lock;		/* the devices' and the fields above's, around every exit handled */
	bool stop;		/* every thread ends its runs (atomics) */
	enum mb_next how;	/* why, from the thread that stopped it */
	struct mb_vcpu vcpu[MB_VCPUS_MAX];
};

/* The threads and their run loop (mb_run.c): how the guest ended. */
enum mb_next mb_run(struct mb_machine *m);
/* Ends the runs of thread t's vCPUs, so it looks at their states again. */
void mb_wake_thread(struct mb_machine *m, unsigned t);
/* vCPU c as it powers on, by its owner thread (mbvmm.c). */
void mb_vcpu_setup(struct mb_machine *m, struct mb_vcpu *c);

/* Port I/O exits (mb_ports.c). */
enum mb_next mb_exit_io(struct mb_machine *m, struct mb_vcpu *c);
/* CPUID, RDMSR/WRMSR, CR access, VMCALL (mb_cpu.c). */
enum mb_next mb_exit_cpuid(struct mb_machine *m, struct mb_vcpu *c);
enum mb_next mb_exit_msr(struct mb_machine *m, struct mb_vcpu *c, bool write);
enum mb_next mb_exit_cr(struct mb_machine *m, struct mb_vcpu *c);
enum mb_next mb_exit_vmcall(struct mb_machine *m, struct mb_vcpu *c);
/* xAPIC page accesses (APIC-access exits) and EPT violations (IOAPIC, holes) (mb_mmio.c). */
enum mb_next mb_exit_apic_access(struct mb_machine *m, struct mb_vcpu *c);
enum mb_next mb_exit_ept(struct mb_machine *m, struct mb_vcpu *c);
/*
 * What an APIC write did that the VMM must do: INIT and SIPI to the APs, which
 * may be other threads' (mb_smp.c); their owner starts them (mb_smp_take_sipi).
 */
enum mb_next mb_apic_effect(struct mb_machine *m, struct mb_vcpu *c);
void mb_smp_take_sipi(struct mb_vcpu *c);
/* IA32_APIC_BASE as the hypervisor's APIC has it. */
uint64_t mb_apic_base(struct mb_vcpu *c);
#define APIC_BASE_EN	(1ull << 11)
#define APIC_BASE_EXTD	(1ull << 10)
/* A #GP (error code 0) into the vCPU at the next entry; RIP stays on the instruction. */
void mb_inject_gp(struct mb_vcpu *c);

/* Guest segment registers (seg: ES, CS, SS, DS, FS, GS, LDTR, TR, the VMCS order) and the bits both entry states use. */
void mb_segment(struct mb_vcpu *c, unsigned seg, uint16_t sel, uint64_t base, uint32_t limit, uint32_t ar);
#define AR_TSS_BUSY	0x008b
#define AR_UNUSABLE	0x10000
#define CR0_ET		(1ull << 4)
#define CR0_NE		(1ull << 5)
#define CR4_VMXE	(1ull << 13)
/* The GPRs by their encoding in instructions (0 RAX .. 15 R15). */
extern const hv_x86_reg_t mb_gpr[16];

/* vCPU access that cannot fail on a vCPU this thread owns; a failure is a VMM bug, said loudly. */
uint64_t mb_vmcs(struct mb_vcpu *c, uint32_t field);
void mb_set_vmcs(struct mb_vcpu *c, uint32_t field, uint64_t value);
uint64_t mb_reg(struct mb_vcpu *c, hv_x86_reg_t reg);
void mb_set_reg(struct mb_vcpu *c, hv_x86_reg_t reg, uint64_t value);
void mb_skip(struct mb_vcpu *c);

#endif
