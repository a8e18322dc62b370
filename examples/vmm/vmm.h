/*
 * The example VMM: a guest, what differs between the guests (struct
 * guest_ops), and the helpers vmm.c gives the guest files. Apple's API only.
 */
#ifndef VMM_H
#define VMM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <Hypervisor/hv.h>

/* What an exit handler tells the run loop. */
enum vmm_next {
	VMM_RESUME,	/* run the guest again */
	VMM_DONE,	/* the guest finished (exit call, triple fault) */
	VMM_ABORT,	/* something the VMM cannot handle: already reported */
	VMM_PASS,	/* (a guest's exit hook) not mine: the common handler takes it */
};

struct guest;

/* One guest's own parts; the run loop and the devices are the same for all. */
struct guest_ops {
	const char *name;
	/* Memory, registers and controls of a freshly created vCPU. */
	bool (*setup)(struct guest *g);
	/* INT n the guest executed (it exits through an empty IVT); NULL: none expected. */
	enum vmm_next (*soft_int)(struct guest *g, uint8_t vector);
	/* An EPT violation at gpa: true when the guest may retry (memory mapped now). */
	bool (*ept_fault)(struct guest *g, uint64_t gpa, uint64_t qualification);
	/* Sees every exit first (basic exit reason); VMM_PASS leaves it to the table. NULL: none. */
	enum vmm_next (*exit)(struct guest *g, uint32_t basic);
	/* Runs the guest instead of the one-vCPU run loop (more vCPUs, deadlines). NULL: the loop. */
	enum vmm_next (*run)(struct guest *g);
};


/* Guest memory the VMM mapped: unmapped and freed when the guest goes. */
struct guest_region {
	uint8_t *uva;
	uint64_t gpa;
	size_t size;
};

#define GUEST_REGIONS	4

/* Exits by kind, for the summary line. */
struct guest_stats {
	uint32_t exits, io, cpuid, msr, hlt, soft_int, ept, irq, apic, deadline;
};

struct guest {
	const struct guest_ops *ops;
	hv_vcpuid_t vcpu;
	struct guest_region region[GUEST_REGIONS];
	unsigned regions;
	uint8_t *ram;		/* region 0: guest-physical 0 */
	size_t ram_size;
	/*
	 * The current exit's IDT-vectoring information: an event whose delivery the
	 * exit cut short. The run loop delivers it again at the next entry unless the
	 * handler completed it and cleared this.
	 */
	uint32_t vectoring;
	bool failed;		/* a vmm_* call failed (and said why): setup gives up */
	uint32_t exit_reason;	/* the current exit's basic reason */
	int exit_code;		/* what the guest asked to exit with (DOS AH=4Ch) */
	const char *ending;	/* how it ended, for the summary */
	struct guest_stats stats;
};

extern const struct guest_ops guest_dos_ops;
extern const struct guest_ops guest_long_ops;
extern const struct guest_ops guest_smp_ops;

/* plat_main (platform.h) runs the guests, one after the other, on two VMs: 0 when all went as planned. */

/*
 * Helpers for the guest files. Each failing call prints what failed and sets
 * g->failed; reads return 0 then.
 */
bool vmm_ok(struct guest *g, hv_return_t r, const char *what);
uint64_t vmm_read_vmcs(struct guest *g, uint32_t field);
void vmm_write_vmcs(struct guest *g, uint32_t field, uint64_t value);
uint64_t vmm_read_reg(struct guest *g, hv_x86_reg_t reg);
void vmm_write_reg(struct guest *g, hv_x86_reg_t reg, uint64_t value);

/*
 * A control word (cap: PINBASED, PROCBASED, PROCBASED2, ENTRY or EXIT):
 * (want | must-be-1) & may-be-1 from hv_vmx_read_capability. Wanted bits the CPU
 * cannot give are reported and set g->failed.
 */
uint64_t vmm_controls(struct guest *g, hv_vmx_capability_t cap, uint64_t want);
/* CR0 and CR4 with the bits VMX fixes (e.g. CR0.NE, CR4.VMXE); likewise checked. */
uint64_t vmm_cr0(struct guest *g, uint64_t want);
uint64_t vmm_cr4(struct guest *g, uint64_t want);

/* Moves RIP past the instruction that exited (its length from the VMCS): it has been emulated. */
void vmm_skip_instruction(struct guest *g);

/*
 * Runs g's vCPU until an exit the VMM must see or the deadline (plat_clock()
 * units) passes, and handles that exit: what the run loop does once.
 * g->exit_reason says which exit it was (VMX_REASON_VMX_TIMER_EXPIRED: the deadline).
 */
enum vmm_next vmm_run_until(struct guest *g, uint64_t deadline);

/* The guest's exit counts and how it ended, one line. */
void vmm_summary(const struct guest *g, enum vmm_next how);

/* Zeroed memory mapped read/write/execute at gpa; NULL on failure. */
uint8_t *vmm_map(struct guest *g, uint64_t gpa, size_t size);

/* One segment register's VMCS fields. */
struct vmm_segment {
	uint16_t selector;
	uint64_t base;
	uint32_t limit, ar;
};

/* seg: 0 ES, 1 CS, 2 SS, 3 DS, 4 FS, 5 GS, 6 LDTR, 7 TR (the VMCS order). */
void vmm_write_segment(struct guest *g, unsigned seg, const struct vmm_segment *s);

#define SEG_ES		0
#define SEG_CS		1
#define SEG_SS		2
#define SEG_DS		3
#define SEG_FS		4
#define SEG_GS		5
#define SEG_LDTR	6
#define SEG_TR		7

/*
 * A byte for the guest console (port 0xe9, DOS output): printed a line at a
 * time. One line buffer: one vCPU at a time may print.
 */
void vmm_console_putc(char c);

#endif
