#include <hvmetal/abi.h>
#include "cd_apic.h"
#include "cd_exits.h"
#include "cd_launch.h"
#include "cd_msr.h"
#include "kernel/cpu.h"
#include "kernel/cr_rules.h"
#include "kernel/host.h"
#include "kernel/hvmetal.h"
#include "kernel/kick.h"
#include "kernel/log.h"
#include "kernel/xstate.h"
#include "vm/vcpu_move.h"
#include "vmx/vmcs.h"
#include "vmx/vmx_bits.h"
#include "vmx/vmx_cpu.h"

/* Bits VMX pins to one value; unrestricted guest frees CR0.PE and CR0.PG. */
static uint64_t cr0_forced(void)
{
	return ((vmx_caps.cr0_fixed0 & ~(CR0_PE | CR0_PG)) | ~vmx_caps.cr0_fixed1) & 0xffffffffull;
}

static uint64_t cr4_forced(void)
{
	return (vmx_caps.cr4_fixed0 | ~vmx_caps.cr4_fixed1) & 0xffffffffull;
}

void cd_write_cr_masks(void)
{
	vmcs_write(VMCS_CR0_MASK, cr0_forced());
	vmcs_write(VMCS_CR4_MASK, cr4_forced());
}

void cd_write_cr0(uint64_t val)
{
	uint64_t efer = vmcs_read(VMCS_GUEST_EFER);
	uint64_t entry = vmcs_read(VMCS_ENTRY_CTLS);

	vmcs_write(VMCS_CR0_SHADOW, val);
	vmcs_write(VMCS_GUEST_CR0, (val | (vmx_caps.cr0_fixed0 & ~(CR0_PE | CR0_PG))) &
				   vmx_caps.cr0_fixed1);
	/* A paging change the CPU did not see itself: keep EFER.LMA and the entry control in step. */
	if ((val & CR0_PG) && (efer & EFER_LME)) {
		efer |= EFER_LMA;
		entry |= ENTRY_IA32E;
	} else if (!(val & CR0_PG)) {
		efer &= ~EFER_LMA;
		entry &= ~ENTRY_IA32E;
	}
	vmcs_write(VMCS_GUEST_EFER, efer);
	vmcs_write(VMCS_ENTRY_CTLS, entry);
}

void cd_write_cr4(uint64_t val)
{
	vmcs_write(VMCS_CR4_SHADOW, val);
	vmcs_write(VMCS_GUEST_CR4, (val | vmx_caps.cr4_fixed0) & vmx_caps.cr4_fixed1);
}

/* CR0/CR4 as the caller sees them: its own bits where VMX forces ours. */
static uint64_t caller_cr(uint32_t guest_field, uint32_t shadow_field, uint64_t forced)
{
	return (vmcs_read(guest_field) & ~forced) | (vmcs_read(shadow_field) & forced);
}

static struct cr_state caller_cr_state(void)
{
	return (struct cr_state){
		.cr0 = caller_cr(VMCS_GUEST_CR0, VMCS_CR0_SHADOW, cr0_forced()),
		.cr3 = vmcs_read(VMCS_GUEST_CR3),
		.cr4 = caller_cr(VMCS_GUEST_CR4, VMCS_CR4_SHADOW, cr4_forced()),
		.efer = vmcs_read(VMCS_GUEST_EFER),
		.cs_l = vmcs_read(VMCS_GUEST_CS_AR) & (1u << 13),
	};
}

/* A control-register write hvmetal completed: the caller's TLB sees it, as natively. */
static void flush_caller_tlb(void)
{
	if (vmx_caps.vpid)
		vmx_invvpid_single(CD_VPID);
}

static enum exit_action refuse_gp(void)
{
	vmx_inject_exception(VEC_GP, 1, 0);
	return EXIT_RESUME;
}

static enum exit_action emulate_cr0(uint64_t val)
{
	struct cr_state s = caller_cr_state();

	if (!cr0_write_valid(&s, val))
		return refuse_gp();
	cd_write_cr0(val);
	flush_caller_tlb();
	return EXIT_ADVANCE;
}

static enum exit_action emulate_cr3(uint64_t val)
{
	struct cr_state s = caller_cr_state();
	/* Bit 63 (no flush) only under PCIDE; the rest above MAXPHYADDR is reserved. */
	uint64_t reserved = ~((1ull << hv.maxphyaddr) - 1) & ~((s.cr4 & CR4_PCIDE) ? 1ull << 63 : 0);

	if ((s.efer & EFER_LMA) ? (val & reserved) : (val >> 32))
		return refuse_gp();
	vmcs_write(VMCS_GUEST_CR3, val & ~(1ull << 63));
	flush_caller_tlb();
	return EXIT_ADVANCE;
}

static enum exit_action emulate_cr4(uint64_t val)
{
	struct cr_state s = caller_cr_state();

	/* CR4.VMXE is hvmetal's: the control domain sees VMX as absent. */
	if ((val & CR4_VMXE) || !cr4_write_valid(&s, val, vmx_caps.cr4_fixed1))
		return refuse_gp();
	cd_write_cr4(val);
	flush_caller_tlb();
	return EXIT_ADVANCE;
}

/*
 * MOV to CR0/CR4 exits when it touches a bit VMX forces; CR3 accesses, CLTS and
 * LMSW only on CPUs whose controls force those exits. Each is completed as the
 * CPU would; anything else the CPU could report is the caller's #UD.
 */
enum exit_action cd_exit_cr_access(struct vmx_exit *ex)
{
	uint64_t qual = vmcs_read(VMCS_EXIT_QUALIFICATION);
	unsigned cr = qual & 15, type = (qual >> 4) & 3, gpr = (qual >> 8) & 15;
	uint64_t cr0 = caller_cr(VMCS_GUEST_CR0, VMCS_CR0_SHADOW, cr0_forced());

	switch (type) {
	case 0:		/* MOV to CR */
		if (cr == 0)
			return emulate_cr0(vmx_gpr_read(ex->gpr, gpr));
		if (cr == 3)
			return emulate_cr3(vmx_gpr_read(ex->gpr, gpr));
		if (cr == 4)
			return emulate_cr4(vmx_gpr_read(ex->gpr, gpr));
		break;
	case 1:		/* MOV from CR */
		if (cr == 3) {
			vmx_gpr_write(ex->gpr, gpr, vmcs_read(VMCS_GUEST_CR3));
			return EXIT_ADVANCE;
		}
		break;
	case 2:		/* CLTS */
		return emulate_cr0(cr0 & ~CR0_TS);
	case 3:		/* LMSW: sets PE, MP, EM, TS from the source; never clears PE */
		return emulate_cr0((cr0 & ~0xeull) | ((qual >> 16) & 0xf));
	}
	return cd_exit_inject_ud(ex);
}

enum exit_action cd_exit_cpuid(struct vmx_exit *ex)
{
	uint32_t leaf = (uint32_t)ex->gpr->rax, sub = (uint32_t)ex->gpr->rcx;
	struct cpuid_regs r = { 0 };
	uint64_t cr4 = vmcs_read(VMCS_CR4_SHADOW);

	if (leaf == HVMETAL_CPUID_SIGNATURE) {
		r = (struct cpuid_regs){ HVMETAL_CPUID_FEATURES, HVMETAL_CPUID_SIG_EBX,
					 HVMETAL_CPUID_SIG_ECX, HVMETAL_CPUID_SIG_EDX };
	} else if (leaf == HVMETAL_CPUID_FEATURES) {
		r.eax = HVMETAL_ABI_VERSION;
		r.ebx = hv.features;
	} else if ((leaf & 0xffffff00u) != 0x40000000u) {
		r = cpuid(leaf, sub);
	}
	if (leaf == 1) {
		r.ecx &= ~(1u << 5);		/* VMX belongs to hvmetal */
		r.ecx |= 1u << 31;		/* hypervisor present */
		/* OSXSAVE mirrors the caller's CR4, not hvmetal's. */
		r.ecx = (r.ecx & ~(1u << 27)) | ((cr4 & CR4_OSXSAVE) ? 1u << 27 : 0);
		/* No debug store (BTS/PEBS records, DTES64, DS-CPL): cd_msr.c refuses DS_AREA. */
		r.edx &= ~(1u << 21);
		r.ecx &= ~((1u << 2) | (1u << 4));
	}
	/* No Intel PT: its output goes to host-physical addresses (cd_msr.c). */
	if (leaf == 7 && sub == 0)
		r.ebx &= ~(1u << 25);
	if (leaf == 0x14)
		r = (struct cpuid_regs){ 0 };
	ex->gpr->rax = r.eax;
	ex->gpr->rbx = r.ebx;
	ex->gpr->rcx = r.ecx;
	ex->gpr->rdx = r.edx;
	return EXIT_ADVANCE;
}

/* XSETBV runs in VMX root on the caller's behalf: check it as the CPU would, so
 * an invalid value is the caller's #GP and never a fault in hvmetal. */
enum exit_action cd_exit_xsetbv(struct vmx_exit *ex)
{
	uint64_t val = (ex->gpr->rdx << 32) | (uint32_t)ex->gpr->rax;
	struct cpuid_regs xs = cpuid(0xd, 0);
	uint64_t supported = ((uint64_t)xs.edx << 32) | xs.eax;

	if ((uint32_t)ex->gpr->rcx != 0 || !xcr0_valid(val, supported) ||
	    ((vmcs_read(VMCS_GUEST_SS_AR) >> 5) & 3)) {
		vmx_inject_exception(VEC_GP, 1, 0);
		return EXIT_RESUME;
	}
	xcr0_write(val);
	this_cpu()->cd_xcr0 = val;	/* a guest run puts it back (vcpu_run.c) */
	return EXIT_ADVANCE;
}

/* INVD would drop hvmetal's own dirty lines too: write them back instead. */
enum exit_action cd_exit_invd(struct vmx_exit *ex)
{
	(void)ex;
	__asm__ volatile("wbinvd" ::: "memory");
	return EXIT_ADVANCE;
}

enum exit_action cd_exit_inject_ud(struct vmx_exit *ex)
{
	(void)ex;
	vmx_inject_exception(VEC_UD, 0, 0);
	return EXIT_RESUME;
}

static struct log_limit task_switch_log;

/* Hardware task switches (32-bit task gates) are not virtualized. */
enum exit_action cd_exit_task_switch(struct vmx_exit *ex)
{
	(void)ex;
	log_limited(&task_switch_log,
		    "hvmetal: cpu %u: task switch (qualification %lx) refused with #GP\n",
		    this_cpu()->index, vmcs_read(VMCS_EXIT_QUALIFICATION));
	vmx_inject_exception(VEC_GP, 1, 0);
	return EXIT_RESUME;
}

/* The control domain shut down with a triple fault: reset the machine, as hardware does. */
enum exit_action cd_exit_triple_fault(struct vmx_exit *ex)
{
	(void)ex;
	log_printf("hvmetal: cpu %u: control domain triple fault at rip %lx: resetting\n",
		   this_cpu()->index, vmcs_read(VMCS_GUEST_RIP));
	outb(0xcf9, 0x02);
	outb(0xcf9, 0x06);	/* PCI reset control: hard reset */
	outb(0x64, 0xfe);	/* keyboard controller reset, for platforms without CF9 */
	cpu_halt_forever();
}

static void write_real_mode_seg(uint32_t sel_field, uint16_t sel, uint32_t ar)
{
	uint32_t n = (sel_field - VMCS_GUEST_ES_SEL) / 2;

	vmcs_write(sel_field, sel);
	vmcs_write(VMCS_GUEST_ES_LIMIT + 2 * n, 0xffff);
	vmcs_write(VMCS_GUEST_ES_AR + 2 * n, ar);
	vmcs_write(VMCS_GUEST_ES_BASE + 2 * n, (uint64_t)sel << 4);
}

/*
 * INIT to an AP (the firmware or an OS starting it): the CPU's INIT state, parked
 * in VMX root until the start-up IPI (see cd_apic.h), then real mode at its vector.
 */
void cd_init_and_wait_sipi(struct gpr_frame *gpr)
{
	uint8_t vector;

	vmcs_write(VMCS_GUEST_EFER, 0);
	cd_write_cr0(CR0_ET | CR0_CD | CR0_NW);
	cd_write_cr4(0);
	vmcs_write(VMCS_GUEST_CR3, 0);
	write_real_mode_seg(VMCS_GUEST_SS_SEL, 0, 0x93);
	write_real_mode_seg(VMCS_GUEST_DS_SEL, 0, 0x93);
	write_real_mode_seg(VMCS_GUEST_ES_SEL, 0, 0x93);
	write_real_mode_seg(VMCS_GUEST_FS_SEL, 0, 0x93);
	write_real_mode_seg(VMCS_GUEST_GS_SEL, 0, 0x93);
	write_real_mode_seg(VMCS_GUEST_LDTR_SEL, 0, 0x82);
	write_real_mode_seg(VMCS_GUEST_TR_SEL, 0, 0x8b);
	vmcs_write(VMCS_GUEST_GDTR_BASE, 0);
	vmcs_write(VMCS_GUEST_GDTR_LIMIT, 0xffff);
	vmcs_write(VMCS_GUEST_IDTR_BASE, 0);
	vmcs_write(VMCS_GUEST_IDTR_LIMIT, 0xffff);
	vmcs_write(VMCS_GUEST_RSP, 0);
	vmcs_write(VMCS_GUEST_RFLAGS, 2);
	vmcs_write(VMCS_GUEST_DR7, 0x400);
	vmcs_write(VMCS_GUEST_DEBUGCTL, 0);
	vmcs_write(VMCS_GUEST_PAT, 0x0007040600070406ull);
	vmcs_write(VMCS_GUEST_SYSENTER_CS, 0);
	vmcs_write(VMCS_GUEST_SYSENTER_ESP, 0);
	vmcs_write(VMCS_GUEST_SYSENTER_EIP, 0);
	vmcs_write(VMCS_GUEST_FS_BASE, 0);
	vmcs_write(VMCS_GUEST_GS_BASE, 0);
	vmcs_write(VMCS_GUEST_INTERRUPTIBILITY, 0);
	vmcs_write(VMCS_GUEST_PENDING_DBG, 0);
	vmcs_write(VMCS_ENTRY_INTR_INFO, 0);
	/* GPRs after INIT: EDX holds the processor signature, the rest are zero. */
	*gpr = (struct gpr_frame){ .rdx = cpuid(1, 0).eax };
	/* INIT resets XCR0 along with everything else. */
	if (host_state.cr4 & CR4_OSXSAVE)
		xcr0_write(1);
	this_cpu()->cd_xcr0 = 1;
	vmcs_write(VMCS_PROC_CTLS, vmcs_read(VMCS_PROC_CTLS) & ~PROC_NMI_WINDOW);
	vector = cd_apic_wait_sipi(this_cpu());
	/* INIT drops pending NMIs, and wait-for-SIPI takes none: those that came meanwhile are gone. */
	percpu_clear_pending(this_cpu(), PENDING_NMI);
	write_real_mode_seg(VMCS_GUEST_CS_SEL, vector << 8, 0x9b);
	vmcs_write(VMCS_GUEST_RIP, 0);
	vmcs_write(VMCS_GUEST_ACTIVITY, ACTIVITY_ACTIVE);
}

/* A real INIT (not one hvmetal turned into a request): the same, once it is announced. */
enum exit_action cd_exit_init(struct vmx_exit *ex)
{
	struct percpu *cpu = this_cpu();

	cpu->sipi_vector = 0;
	__atomic_store_n(&cpu->init_request, 1, __ATOMIC_RELEASE);
	cd_init_and_wait_sipi(ex->gpr);
	return EXIT_RESUME;
}

/* NMI exiting is on so that hvmetal's kicks reach it; every other NMI is the control domain's. */
static enum exit_action exit_nmi(struct vmx_exit *ex)
{
	struct percpu *cpu = this_cpu();

	(void)ex;
	if (kick_nmi_is_cds(cpu))
		percpu_set_pending(cpu, PENDING_NMI);
	cpu_unblock_nmi(HOST_SEL_CS, HOST_SEL_DS);
	return EXIT_RESUME;
}

static enum exit_action exit_nmi_window(struct vmx_exit *ex)
{
	(void)ex;
	vmcs_write(VMCS_PROC_CTLS, vmcs_read(VMCS_PROC_CTLS) & ~PROC_NMI_WINDOW);
	return EXIT_RESUME;
}

/* The guest's NMI goes in as soon as it can take one; until then, NMI-window exiting. */
static void deliver_pending_nmi(struct percpu *cpu)
{
	if ((vmcs_read(VMCS_ENTRY_INTR_INFO) & INTR_INFO_VALID) ||
	    (vmcs_read(VMCS_GUEST_INTERRUPTIBILITY) &
	     (INTR_BLOCK_NMI | INTR_BLOCK_MOVSS | INTR_BLOCK_STI))) {
		vmcs_write(VMCS_PROC_CTLS, vmcs_read(VMCS_PROC_CTLS) | PROC_NMI_WINDOW);
		return;
	}
	percpu_clear_pending(cpu, PENDING_NMI);
	vmcs_write(VMCS_ENTRY_INTR_INFO, INTR_INFO_VALID | INTR_TYPE_NMI | 2);
}

/*
 * The control domain exits only where it must. A reason missing here cannot
 * happen with the controls hvmetal sets, so reaching it is a bug: panic.
 * VMCALL never comes here: cd_entry.asm sends it to hypercall_fast.
 */

static const vmx_exit_handler exit_handlers[EXIT_REASON_MAX + 1] = {
	[EXIT_REASON_EXCEPTION_NMI]	= exit_nmi,
	[EXIT_REASON_NMI_WINDOW]	= exit_nmi_window,
	[EXIT_REASON_TRIPLE_FAULT]	= cd_exit_triple_fault,
	[EXIT_REASON_INIT]		= cd_exit_init,
	[EXIT_REASON_TASK_SWITCH]	= cd_exit_task_switch,
	[EXIT_REASON_CPUID]		= cd_exit_cpuid,
	[EXIT_REASON_GETSEC]		= cd_exit_inject_ud,
	[EXIT_REASON_INVD]		= cd_exit_invd,
	[EXIT_REASON_VMCLEAR]		= cd_exit_inject_ud,
	[EXIT_REASON_VMLAUNCH]		= cd_exit_inject_ud,
	[EXIT_REASON_VMPTRLD]		= cd_exit_inject_ud,
	[EXIT_REASON_VMPTRST]		= cd_exit_inject_ud,
	[EXIT_REASON_VMREAD]		= cd_exit_inject_ud,
	[EXIT_REASON_VMRESUME]		= cd_exit_inject_ud,
	[EXIT_REASON_VMWRITE]		= cd_exit_inject_ud,
	[EXIT_REASON_VMXOFF]		= cd_exit_inject_ud,
	[EXIT_REASON_VMXON]		= cd_exit_inject_ud,
	[EXIT_REASON_CR_ACCESS]		= cd_exit_cr_access,
	[EXIT_REASON_RDMSR]		= cd_exit_rdmsr,
	[EXIT_REASON_WRMSR]		= cd_exit_wrmsr,
	[EXIT_REASON_EPT_VIOLATION]	= cd_exit_ept_violation,
	[EXIT_REASON_INVEPT]		= cd_exit_inject_ud,
	[EXIT_REASON_INVVPID]		= cd_exit_inject_ud,
	[EXIT_REASON_XSETBV]		= cd_exit_xsetbv,
	[EXIT_REASON_VMFUNC]		= cd_exit_inject_ud,
	[EXIT_REASON_ENCLS]		= cd_exit_inject_ud,
};

/*
 * The exits that can interrupt the delivery of an event (SDM 27.2.4); instruction
 * exits such as VMCALL never do, and skip the check.
 */
#define VECTORING_EXITS	((1ull << EXIT_REASON_EXCEPTION_NMI) | (1ull << EXIT_REASON_EXTERNAL_INTR) | \
			 (1ull << EXIT_REASON_TRIPLE_FAULT) | (1ull << EXIT_REASON_TASK_SWITCH) | \
			 (1ull << EXIT_REASON_APIC_ACCESS) | (1ull << EXIT_REASON_EPT_VIOLATION) | \
			 (1ull << EXIT_REASON_EPT_MISCONFIG))

static struct log_limit unexpected_log;

/*
 * The control domain's state is hvmetal's to keep valid (every write it completes
 * is checked as the CPU would): a failed entry is hvmetal's own broken invariant.
 */
static void __attribute__((noreturn)) entry_failed(struct vmx_exit *ex)
{
	log_printf("hvmetal: cpu %u: VM entry failed, reason %u qualification %lx\n",
		   this_cpu()->index, EXIT_REASON_BASIC(ex->reason),
		   vmcs_read(VMCS_EXIT_QUALIFICATION));
	log_printf("  guest rip %016lx rsp %016lx rflags %lx cr0 %lx cr3 %lx cr4 %lx\n",
		   vmcs_read(VMCS_GUEST_RIP), vmcs_read(VMCS_GUEST_RSP),
		   vmcs_read(VMCS_GUEST_RFLAGS), vmcs_read(VMCS_GUEST_CR0),
		   vmcs_read(VMCS_GUEST_CR3), vmcs_read(VMCS_GUEST_CR4));
	log_printf("  guest-physical %lx linear %lx interruption info %lx\n",
		   vmcs_read(VMCS_GUEST_PHYS_ADDR), vmcs_read(VMCS_GUEST_LINEAR_ADDR),
		   vmcs_read(VMCS_EXIT_INTR_INFO));
	panic_dump_gprs(ex->gpr);
	panic("VM entry of the control domain failed");
}

void cd_exit_dispatch(struct gpr_frame *gpr)
{
	struct vmx_exit ex = {
		.gpr = gpr,
		.reason = (uint32_t)vmcs_read(VMCS_EXIT_REASON),
	};
	uint32_t basic = EXIT_REASON_BASIC(ex.reason);
	struct percpu *cpu = this_cpu();

	if (ex.reason & EXIT_REASON_ENTRY_FAIL)
		entry_failed(&ex);
	if (basic > EXIT_REASON_MAX || !exit_handlers[basic]) {
		/* An exit these controls should not cause (an unknown CPU's): the caller's #UD. */
		log_limited(&unexpected_log, "hvmetal: cpu %u: unexpected VM exit reason %u at rip %lx: #UD\n",
			    cpu->index, basic, vmcs_read(VMCS_GUEST_RIP));
		cd_exit_inject_ud(&ex);
		goto out;
	}
	if (basic < 64 && ((1ull << basic) & VECTORING_EXITS))
		vmx_reinject_vectoring_event();
	if (exit_handlers[basic](&ex) == EXIT_ADVANCE)
		vmx_skip_insn(vmcs_read(VMCS_EXIT_INSN_LEN));
out:
	if (percpu_work_pending(cpu))
		cd_exit_tail(gpr);
}

void cd_exit_tail(struct gpr_frame *gpr)
{
	struct percpu *cpu = this_cpu();

	/* Another CPU sent this one an INIT (cd_apic.h): it restarts, and the kick is spent. */
	if (__atomic_load_n(&cpu->init_request, __ATOMIC_ACQUIRE))
		cd_init_and_wait_sipi(gpr);
	if (__atomic_load_n(&cpu->pending, __ATOMIC_ACQUIRE) & PENDING_CD_EPT) {
		percpu_clear_pending(cpu, PENDING_CD_EPT);
		cd_ept_flush();
	}
	if (__atomic_load_n(&cpu->pending, __ATOMIC_ACQUIRE) & PENDING_VCPU_MOVE)
		vcpu_moves_serve(cpu);
	if (__atomic_load_n(&cpu->pending, __ATOMIC_ACQUIRE) & PENDING_NMI)
		deliver_pending_nmi(cpu);
}

void cd_resume_failed(struct gpr_frame *gpr)
{
	log_printf("hvmetal: cpu %u: VMRESUME failed, VM-instruction error %lu\n",
		   this_cpu()->index, vmcs_read(VMCS_INSN_ERROR));
	panic_dump_gprs(gpr);
	panic("VMRESUME failed");
}
