/*
 * Guest vCPUs: one VMCS each, owned by the control-domain CPU that created it
 * and run synchronously on that CPU (vcpu_run.c).  Everything the guest must
 * not share with the control domain lives here between runs: GPRs, CR2, debug
 * registers, XCR0 and the XSAVE area, the swapped MSRs.
 */
#ifndef HVMETAL_VCPU_H
#define HVMETAL_VCPU_H

#include <stdbool.h>
#include <stdint.h>
#include <Hypervisor/hv_error.h>
#include <hvmetal/abi.h>
#include "apic/lsc.h"
#include "apic/vlapic.h"
#include "ept/ept.h"
#include "kernel/panic.h"
#include "kernel/percpu.h"
#include "vm.h"
#include "vmx/vmcs.h"

struct vm;

/*
 * MSRs VM entry/exit does not switch but the guest uses without an MSR access
 * (SWAPGS, SYSCALL, RDTSCP, MPX): hvmetal swaps them on every run, so a guest
 * never sees or changes the control domain's values.
 */
enum vcpu_msr {
	VCPU_MSR_STAR, VCPU_MSR_LSTAR, VCPU_MSR_CSTAR, VCPU_MSR_SFMASK,
	VCPU_MSR_KGSBASE, VCPU_MSR_TSC_AUX, VCPU_MSR_BNDCFGS, VCPU_MSR_SWAPPED,
};

_Static_assert(VCPU_MSR_SWAPPED <= PERCPU_SWAPPED_MSRS, "percpu cd_msr holds them all");

/* Their numbers, by enum vcpu_msr. */
extern const uint32_t vcpu_swapped_msr[VCPU_MSR_SWAPPED];
/* 1 << enum vcpu_msr for those this CPU has (TSC_AUX needs RDTSCP, BNDCFGS MPX). */
extern uint32_t vcpu_swapped_mask;
/* The CPU has IA32_XFD (extended feature disable): runs clear it around XSAVE/XRSTOR. */
extern bool vcpu_has_xfd;
#define MSR_IA32_XFD	0x1c4

#define VCPU_DEAD		UINT32_MAX

#define VCPU_REQ_KICK		(1u << 0)	/* hv_vcpu_interrupt: end the run */
#define VCPU_REQ_TSC		(1u << 1)	/* hv_vm_sync_tsc: load tsc_offset */
#define VCPU_REQ_FLUSH_VPID	(1u << 2)	/* hv_vcpu_invalidate_tlb */
#define VCPU_REQ_INTR		(1u << 3)	/* its local APIC has news: look before the next entry */

struct vcpu {
	struct gpr_frame gpr;		/* the guest's, while hvmetal or the control domain runs */
	struct vm *vm;
	uint64_t vmcs_pa;
	uint8_t *msr_bitmap;		/* 4 KiB, 1 = exit */
	uint8_t *xsave;			/* the guest's XSAVE area (xstate_size bytes) */
	uint64_t shadow_pa;		/* shadow VMCS for a guest hypervisor, 0 without shadowing */
	uint8_t *vmread_bitmap;		/* 1 = the guest's VMREAD of that field exits */
	uint8_t *vmwrite_bitmap;
	uint32_t id;			/* hv_vcpuid_t: index in vm->vcpus */
	uint32_t owner;			/* control-domain CPU index; VCPU_DEAD when none (atomics) */
	uint32_t asid;			/* address space in use */
	struct ept *space;		/* its EPT (stable while the space exists) */
	uint64_t eptp;
	uint32_t launched;		/* VMLAUNCH done: enter with VMRESUME */
	uint32_t running;		/* 1 inside hv_vcpu_run (atomics) */
	uint32_t requests;		/* VCPU_REQ_*: work before the next entry (atomics) */
	uint32_t vmx_status;		/* RFLAGS.ZF/CF of the last failed VM entry, 0: none */
	uint32_t exit_reason;		/* the exit reason the VMM was given */
	bool timer_armed;		/* the preemption timer is on in the VMCS */
	uint64_t ept_gen;		/* generation of the space this vCPU last invalidated at */
	uint64_t cr2, dr[4], dr6, xcr0, tpr;
	uint64_t msr[VCPU_MSR_SWAPPED];
	uint32_t msr_native_write;	/* 1 << enum vcpu_msr: the guest may WRMSR it itself */
	uint32_t msr_differs;		/* 1 << enum vcpu_msr: not the control domain's value */
	uint32_t cd_msr_gen;		/* the owner's cd_msr_gen msr_differs was worked out at */
	uint64_t exec_ticks;		/* TSC ticks spent in the guest */
	struct vcpu *next_free;		/* on vm->free_vcpus after destroy */
	uint64_t tsc_offset;		/* hv_vm_sync_tsc's, for VCPU_REQ_TSC */
	/* HV_VM_ACCEL_APIC (vcpu_apic.c); the model under vm->apic->lock, the rest the owner's. */
	struct vlapic lapic;
	struct lsc lsc;			/* hv_vcpu_apic_lsc_*: the owner's */
	struct hvmetal_exit_info exit_info;	/* hv_vcpu_exit_info of the last run or APIC write */
	uint64_t apic_deadline;		/* host TSC its APIC timer fires at; HV_DEADLINE_FOREVER none */
	uint64_t idle_ticks;		/* TSC ticks halted in hvmetal (hv_vcpu_get_idle_time) */
	uint32_t own_proc;		/* PROC_* controls hvmetal set for itself (windows, TPR shadow) */
	uint32_t in_guest;		/* ACCEL_APIC: 1 from its last look at requests before an entry to the exit (atomics) */
	bool halted;			/* entered in the HLT activity state by hvmetal */
	bool nmi_blocked;		/* ACCEL_APIC: an NMI went in (or the VMM set blocking), no exit since showed it clear */
	uint64_t halt_rip;		/* the RIP it halted at */
	uint32_t apic_base_vmm;		/* HV_MSR_READ/WRITE of IA32_APIC_BASE that exit to the VMM */
	bool extint_req;		/* hv_vcpu_inject_extint: the 8259's vector at the next chance */
	/* APIC virtualization (vcpu_apicv.c), the owner's. */
	uint8_t *apicv_page;		/* the virtual-APIC page; NULL where not used */
	bool apicv_on;			/* the controls are on in the VMCS */
	bool apicv_open;		/* the MSR bitmap lets the CPU serve x2APIC MSRs */
	uint8_t apicv_tpr;		/* the page's TPR as last entered or stored */
	uint16_t apicv_status;		/* guest interrupt status as last entered or stored */
	uint32_t apicv_gen;		/* lapic.regs_gen the page holds */
	hv_apic_ctrl_t apicv_ctrl;	/* lapic.ctrl the bitmap was opened for */
	uint32_t apicv_vmm_proc2;	/* the VMM's virtualize-APIC-accesses bit, back at run end */
	uint32_t apicv_eoi_exit[8];	/* the EOI-exit bitmap in the VMCS */
};

_Static_assert(sizeof(struct vcpu) <= 4096, "a vCPU is one pool page");

/* Where the swapped MSR msr is in enum vcpu_msr, or -1 (also for those this CPU lacks). */
int vcpu_swapped_index(uint32_t msr);

/* Once at boot: sizes and masks of the CPU's XSAVE state. */
void vcpu_setup(void);	/* also gives each CPU a save area for the control domain's state */
/* On a locked VM, on the calling CPU. */
hv_return_t vcpu_create(struct vm *vm, uint64_t options, uint32_t *id);
void vcpu_destroy(struct vcpu *v);
/* At VM destroy: the pages of every vCPU the VM ever had go back to the pool. */
void vcpu_structs_free(struct vm *vm);

/* Register access for hv_vcpu_read_register/write_register; the VMCS must be loaded. */
hv_return_t vcpu_read_reg(struct vcpu *v, uint32_t reg, uint64_t *val);
hv_return_t vcpu_write_reg(struct vcpu *v, uint32_t reg, uint64_t val);
/* The XSAVE area (vcpu_xstate_size() bytes) is v->xsave; a new one is checked first. */
hv_return_t vcpu_write_fpstate(struct vcpu *v, const uint8_t *area);
hv_return_t vcpu_msr_access(struct vcpu *v, uint32_t msr, uint32_t op, uint64_t arg);
hv_return_t vcpu_read_msr(struct vcpu *v, uint32_t msr, uint64_t *val);
hv_return_t vcpu_write_msr(struct vcpu *v, uint32_t msr, uint64_t val);

/*
 * After a change to space e that removed or narrowed translations or took
 * tables out: every vCPU running on it elsewhere has dropped what it cached
 * before this returns the generation they all saw (for ept_free_pending); when
 * one could not be reached in a bounded time, the generation before (nothing
 * pending may go yet: a later sync frees it). Needs no lock: the VM must stay
 * alive (its vCPU pages do).
 */
uint64_t vcpu_sync_space(struct vm *vm, const struct ept *e);

/* The link pointer follows the VMCS-shadowing control (a client write to it). */
void vcpu_link_shadow(struct vcpu *v, uint64_t proc2);
hv_return_t vcpu_read_shadow(struct vcpu *v, uint32_t field, uint64_t *val);
hv_return_t vcpu_write_shadow(struct vcpu *v, uint32_t field, uint64_t val);
hv_return_t vcpu_shadow_access(struct vcpu *v, uint32_t field, uint64_t flags);

/* Guest TSC = host TSC + offset, on the loaded VMCS. */
void vcpu_apply_tsc_offset(uint64_t offset);
/* The loaded VMCS's TSC offset as the guest has it: 0 while TSC offsetting is off (a VMM's field write alone moves nothing). */
uint64_t vcpu_tsc_offset(void);
/* Every XCR0 component the CPU has: the XCR0 hvmetal switches extended state under. */
extern uint64_t xstate_supported;
/* Bytes of the XSAVE area hv_vcpu_read_fpstate gives. */
uint32_t vcpu_xstate_size(void);

void vcpu_vmptrld_failed(uint64_t pa) __attribute__((noreturn, cold));

/*
 * The vCPU (handle, id) if this CPU owns it, without the VM's lock: for calls
 * that touch only the vCPU.  A vCPU's page stays with its VM while the VM lives
 * (dead vCPUs say VCPU_DEAD), so its owner can be read here; the handle, checked
 * again after that read, proves the VM (and so the page) was alive then.  A vCPU
 * this CPU owns cannot go away under it, nor can its VM.
 */
static inline hv_return_t vcpu_owned(uint64_t handle, uint64_t id, struct vcpu **v)
{
	struct vm *vm = vm_peek(handle);
	uint32_t owner;

	if (!vm || id >= VM_VCPUS_MAX)
		return HV_BAD_ARGUMENT;
	*v = __atomic_load_n(&vm->vcpus[id], __ATOMIC_ACQUIRE);
	if (!*v)
		return HV_BAD_ARGUMENT;
	owner = __atomic_load_n(&(*v)->owner, __ATOMIC_ACQUIRE);
	if (vm_peek(handle) != vm || owner == VCPU_DEAD)
		return HV_BAD_ARGUMENT;
	return owner == this_cpu()->index ? HV_SUCCESS : HV_DENIED;
}

/* Makes v's VMCS current; vcpu_vmcs_put brings back the control domain's. */
static inline void vcpu_vmcs_get(struct vcpu *v)
{
	if (__builtin_expect(vmx_ptrld(v->vmcs_pa) != VMX_OK, 0))
		vcpu_vmptrld_failed(v->vmcs_pa);
}

static inline void vcpu_vmcs_put(void)
{
	uint64_t pa = this_cpu()->vmcs_pa;

	if (__builtin_expect(vmx_ptrld(pa) != VMX_OK, 0))
		vcpu_vmptrld_failed(pa);
}

#endif
