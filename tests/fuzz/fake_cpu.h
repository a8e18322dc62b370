/*
 * The fake CPU of fuzz_hypercall, force-included (clang -include) into every
 * source that harness builds, before anything else.
 *
 * hvmetal's wrappers of privileged instructions (kernel/cpu.h, this_cpu() in
 * kernel/percpu.h, vmx/vmcs.h) are included here once under other names, so
 * they compile and are never called; their include guards keep the real
 * headers from being read again, and their own names are declared below as
 * plain functions, which tests/fuzz/fake_cpu.c implements: MSRs, CPUID, control
 * and debug registers, VMX instructions over a VMCS kept in its region, INVEPT
 * and INVVPID, XSAVE/XRSTOR/XSETBV, the TSC, port I/O.  kernel/xstate.h leaves
 * its wrappers out of host builds; they are declared here too.  spin_lock and
 * spin_unlock are replaced as well: the fake CPUs take turns at fixed points
 * (fake_cpu.c), so a lock found held is a lock leaked or held across one.
 * Nothing of hvmetal's own sources changes.
 */
#ifndef FUZZ_FAKE_CPU_H
#define FUZZ_FAKE_CPU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define rdmsr		real_rdmsr
#define wrmsr		real_wrmsr
#define cpuid		real_cpuid
#define read_cr0	real_read_cr0
#define read_cr2	real_read_cr2
#define read_cr3	real_read_cr3
#define read_cr4	real_read_cr4
#define write_cr0	real_write_cr0
#define write_cr2	real_write_cr2
#define write_cr3	real_write_cr3
#define write_cr4	real_write_cr4
#define read_dr		real_read_dr
#define write_dr	real_write_dr
#define read_dr7	real_read_dr7
#define read_rflags	real_read_rflags
#define rdtsc		real_rdtsc
#define outb		real_outb
#define inb		real_inb
#define cpu_pause	real_cpu_pause
#define cpu_unblock_nmi	real_cpu_unblock_nmi
#define cpu_halt_forever real_cpu_halt_forever
#define read_gdtr	real_read_gdtr
#define read_idtr	real_read_idtr
#define read_cs		real_read_cs
#define read_ss		real_read_ss
#define read_ds		real_read_ds
#define read_es		real_read_es
#define read_fs		real_read_fs
#define read_gs		real_read_gs
#define read_tr		real_read_tr
#define read_ldtr	real_read_ldtr
#define this_cpu	real_this_cpu
#define vmx_on		real_vmx_on
#define vmx_clear	real_vmx_clear
#define vmx_ptrld	real_vmx_ptrld
#define vmx_vmread	real_vmx_vmread
#define vmx_vmwrite	real_vmx_vmwrite
#define vmx_invept	real_vmx_invept
#define vmx_invvpid_single real_vmx_invvpid_single
#define vmcs_read	real_vmcs_read
#define vmcs_write	real_vmcs_write
#define spin_lock	real_spin_lock
#define spin_unlock	real_spin_unlock

#include "kernel/cpu.h"
#include "kernel/percpu.h"
#include "kernel/spinlock.h"
#include "kernel/xstate.h"
#include "vmx/vmcs.h"

#undef rdmsr
#undef wrmsr
#undef cpuid
#undef read_cr0
#undef read_cr2
#undef read_cr3
#undef read_cr4
#undef write_cr0
#undef write_cr2
#undef write_cr3
#undef write_cr4
#undef read_dr
#undef write_dr
#undef read_dr7
#undef read_rflags
#undef rdtsc
#undef outb
#undef inb
#undef cpu_pause
#undef cpu_unblock_nmi
#undef cpu_halt_forever
#undef read_gdtr
#undef read_idtr
#undef read_cs
#undef read_ss
#undef read_ds
#undef read_es
#undef read_fs
#undef read_gs
#undef read_tr
#undef read_ldtr
#undef this_cpu
#undef vmx_on
#undef vmx_clear
#undef vmx_ptrld
#undef vmx_vmread
#undef vmx_vmwrite
#undef vmx_invept
#undef vmx_invvpid_single
#undef vmcs_read
#undef vmcs_write
#undef spin_lock
#undef spin_unlock

/* kernel/cpu.h */
uint64_t rdmsr(uint32_t msr);
void wrmsr(uint32_t msr, uint64_t v);
struct cpuid_regs cpuid(uint32_t leaf, uint32_t subleaf);
uint64_t read_cr0(void);
uint64_t read_cr2(void);
uint64_t read_cr3(void);
uint64_t read_cr4(void);
void write_cr0(uint64_t v);
void write_cr2(uint64_t v);
void write_cr3(uint64_t v);
void write_cr4(uint64_t v);
uint64_t read_dr(unsigned n);
void write_dr(unsigned n, uint64_t v);
uint64_t read_dr7(void);
uint64_t read_rflags(void);
uint64_t rdtsc(void);
void outb(uint16_t port, uint8_t v);
uint8_t inb(uint16_t port);
void cpu_pause(void);
void cpu_unblock_nmi(uint16_t cs, uint16_t ss);
__attribute__((noreturn)) void cpu_halt_forever(void);
struct desc_ptr read_gdtr(void);
struct desc_ptr read_idtr(void);
uint16_t read_cs(void);
uint16_t read_ss(void);
uint16_t read_ds(void);
uint16_t read_es(void);
uint16_t read_fs(void);
uint16_t read_gs(void);
uint16_t read_tr(void);
uint16_t read_ldtr(void);

/* kernel/percpu.h */
struct percpu *this_cpu(void);

/* kernel/spinlock.h */
void spin_lock(struct spinlock *l);
void spin_unlock(struct spinlock *l);

/* kernel/xstate.h (host builds leave these out) */
void xstate_save(void *area);
void xstate_restore(const void *area);
uint64_t xcr0_read(void);
void xcr0_write(uint64_t val);

/* vmx/vmcs.h */
enum vmx_result vmx_on(uint64_t pa);
enum vmx_result vmx_clear(uint64_t pa);
enum vmx_result vmx_ptrld(uint64_t pa);
enum vmx_result vmx_vmread(uint64_t field, uint64_t *val);
enum vmx_result vmx_vmwrite(uint64_t field, uint64_t val);
void vmx_invept(uint64_t type, uint64_t eptp);
void vmx_invvpid_single(uint16_t vpid);
uint64_t vmcs_read(uint32_t field);
void vmcs_write(uint32_t field, uint64_t val);

#endif

/* ---- The fake machine, as tests/fuzz/fuzz_hypercall.c drives and checks it ---- */

#include <ucontext.h>
#include "kernel/panic.h"

/* A broken invariant: say which, then abort (libFuzzer saves the input). */
#define CHECK(c)	do { if (!(c)) fake_fail(__FILE__, __LINE__, #c); } while (0)
#define CHECKF(c, ...)	do { if (!(c)) { fake_note(__VA_ARGS__); fake_fail(__FILE__, __LINE__, #c); } } while (0)
__attribute__((noreturn)) void fake_fail(const char *file, int line, const char *what);
void fake_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define FAKE_CPUS	4
#define FAKE_PG		4096ull

/*
 * Physical memory, at the host addresses of the same value (hvmetal reaches it
 * one-to-one): 16 frames of control-domain RAM; a 2 MiB block of RAM whose
 * pages are those frames again (page i is frame i % 16), so that large pages of
 * the caller's and of guests can form while all RAM is 64 KiB to compare;
 * hvmetal's region: its image (nothing behind it: any access faults) and the
 * pool.  Everything else is not RAM and not mapped.
 */
#define FAKE_RAM	0x40000000ull
#define FAKE_FRAMES	16
#define FAKE_RAM_SIZE	(FAKE_FRAMES * FAKE_PG)
#define FAKE_BIG	0x40200000ull
#define FAKE_BIG_SIZE	0x200000ull
#define FAKE_REGION	0x40400000ull
#define FAKE_IMAGE_SIZE	0x10000ull
#define FAKE_POOL	(FAKE_REGION + FAKE_IMAGE_SIZE)
#define FAKE_POOL_MAX	512		/* pages, the bitmap's included */
#define FAKE_REGION_END	(FAKE_POOL + FAKE_POOL_MAX * FAKE_PG)

/* True when [pa, pa + n) is control-domain RAM (n > 0, no wrap). */
bool fake_cd_ram(uint64_t pa, uint64_t n);
/* Where control-domain RAM at pa lives: its frame's byte. */
uint8_t *fake_ram_byte(uint64_t pa);
/* True when the pool page at pa is handed out. */
bool fake_pool_page_used(uint64_t pa);

/* What the CPU has; chosen per input. */
struct fake_model {
	bool shadow, vpid, vapic, ept_2m, ept_1g, invept_single;
	bool rdtscp, mpx, xfd, arch_cap, hlt, vmwrite_any, tsc_known, apicv;
	unsigned xsave;			/* 0: x87 SSE AVX; 1: + MPX; 2: + AVX-512; 3: + AVX-512, AMX */
};

/* The registers a guest run borrows from the control domain, enum fake_msr order. */
enum fake_msr {
	FM_STAR, FM_LSTAR, FM_CSTAR, FM_SFMASK, FM_KGSBASE, FM_TSC_AUX, FM_BNDCFGS,
	FM_XFD, FM_NMSR,
};
#define FAKE_XSAVE_MAX	(3 * FAKE_PG)

struct fake_regs {
	uint64_t cr2, dr[4], dr6, xcr0;
	uint64_t msr[FM_NMSR];
	uint8_t ext[FAKE_XSAVE_MAX];	/* extended state, as XSAVE writes it */
};

/* Guest events (a RUN's script, an op for a CPU in a guest): an exit, or running on. */
enum fake_event {
	FE_HLT, FE_CPUID, FE_IRQ, FE_CD_NMI, FE_TIMER, FE_ENTRY_FAIL, FE_VMFAIL, FE_RUN_ON,
};
#define FE_VECTORING	0x8	/* the exit interrupted an event's delivery */
/*
 * APIC exits (FE_APIC | enum fake_apic_event): their details (offset, access
 * type, MSR, EDX:EAX, RFLAGS.IF) come from the bytes fake_guest_params gave
 * the CPU, 4 per exit, round robin.  A guest in the HLT activity state runs
 * no instruction: an instruction exit scripted for it becomes an interrupt.
 */
#define FE_APIC		0x10
enum fake_apic_event {
	FA_ACCESS, FA_RDMSR, FA_WRMSR, FA_HLT_IF, FA_HLT_NOIF, FA_INTR_WINDOW, FA_NMI_WINDOW,
	FA_FLAGS_IRQ,	/* the guest changed RFLAGS.IF and STI/MOV-SS blocking, then an interrupt */
};

/* What a running guest changes natively each time it runs (struct fake_cpu.effects). */
#define FX_SWAPGS	0x01
#define FX_MSRS		0x02	/* every MSR its bitmap lets it write */
#define FX_CR2		0x04
#define FX_DRS		0x08	/* unless MOV-DR exiting */
#define FX_EXT		0x10
#define FX_GPRS		0x20
#define FX_RIP		0x40

struct fake_run {		/* guest-physical [gpa, end) -> hpa, perms */
	uint64_t gpa, end, hpa;
	unsigned perms;
};
#define FAKE_RUNS	512
#define FAKE_TABLES	160
struct fake_ept_view {		/* a space's translations, merged, in order; its table pages */
	unsigned nruns, ntables;
	bool overflow;
	struct fake_run runs[FAKE_RUNS];
	uint64_t tables[FAKE_TABLES];
};
/*
 * Walks the EPT at pml4 as the CPU would, checking every table is a pool page
 * in use and every leaf maps control-domain RAM or apic_page (hvmetal's page
 * for a VM's APIC accesses; 0: none), write-back, never write without read.
 */
void fake_ept_view(uint64_t pml4, uint64_t apic_page, struct fake_ept_view *v);

enum fake_mode { FC_IDLE, FC_CALL, FC_GUEST };

struct fake_cpu {
	struct fake_regs r;		/* the registers now */
	uint64_t vmcs;			/* current VMCS, FAKE_NO_VMCS: none */
	unsigned locks;			/* spin locks held */
	uint32_t nmi;			/* NMIs waiting for a guest to take them */
	unsigned cd_nmis;		/* the control domain's NMIs to it since its last call ended */
	enum fake_mode mode;		/* control domain / a call in this CPU's fiber / in a guest */
	uint8_t script[8];		/* the guest's next exits (enum fake_event) */
	unsigned nscript;
	uint8_t effects;		/* FX_* */
	uint8_t resume;			/* the event a guest run on is resumed with */
	bool done;			/* the fiber's call finished; fake_take_done says so once */
	bool entered;			/* the call's guest ran at least once */
	struct gpr_frame *call;		/* the call's registers (the harness's) */
	struct fake_regs at_exit;	/* the guest's registers at its last exit */
	uint64_t counter;
	uint8_t param[20];		/* the details of its APIC exits (fake_guest_params) */
	unsigned pidx;
	unsigned drained;		/* exits taken with the script empty */
};

#define FAKE_NO_VMCS	(~0ull)

extern struct fake_model fake_model;
extern struct fake_cpu fake_cpus[FAKE_CPUS];
extern unsigned fake_ncpus;
extern uint64_t fake_tsc;

/* Once: maps the physical memory. Each input: the CPUs' MSRs, registers and VMX state. */
void fake_machine_init(void);
void fake_machine_reset(unsigned ncpus);
/* The CPU the code runs on now. */
unsigned fake_current(void);
void fake_set_current(unsigned cpu);

/* A VMCS field as the CPU keeps it, without VMREAD/VMWRITE's checks (exit information). */
uint64_t fake_vmcs_get(uint64_t pa, uint32_t field);
void fake_vmcs_set(uint64_t pa, uint32_t field, uint64_t val);
/* Every VMCS active on some CPU is still a pool page in use. */
void fake_check_active_vmcs(void);

/*
 * A call on cpu in its own fiber (VCPU_RUN, whose guest may run on while other
 * CPUs make calls): hypercall_fast(g).  True when it finished; else its guest
 * runs on (FC_GUEST) and fake_take_done says when it has finished.
 */
bool fake_start_call(unsigned cpu, struct gpr_frame *g, const uint8_t *script, unsigned n,
		     uint8_t effects);
bool fake_take_done(unsigned cpu);
/* A CPU in a guest leaves it with this exit (enum fake_event); NMIs it has pending go first. */
void fake_guest_event(unsigned cpu, uint8_t event);
/* The bytes cpu's next APIC exits take their details from (n <= 20). */
void fake_guest_params(unsigned cpu, const uint8_t *p, unsigned n);
/* An NMI IPI to cpu (a kick, or the control domain's). */
void fake_nmi(unsigned cpu);
/* Every running guest exits for good: every call in a fiber finishes. */
void fake_finish(void);
/* At the end of each op: what every running guest's CPU may cache is still true. */
void fake_observe(void);
