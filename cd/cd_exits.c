#include <hvmetal/abi.h>
#include "cd_apic.h"
#include "cd_exits.h"
#include "kernel/cpu.h"
#include "kernel/hvmetal.h"
#include "kernel/log.h"
#include "kernel/xstate.h"
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

enum exit_action cd_exit_cr_access(struct vmx_exit *ex)
{
	uint64_t qual = vmcs_read(VMCS_EXIT_QUALIFICATION);
	unsigned cr = qual & 15, type = (qual >> 4) & 3;
	uint64_t val = vmx_gpr_read(ex->gpr, (qual >> 8) & 15);

	if (type != 0 || (cr != 0 && cr != 4)) {
		/* Only MOV to CR0/CR4 can touch a masked bit; anything else is a bug. */
		panic("unexpected CR access exit, qualification %lx", qual);
	}
	if (cr == 0) {
		/* Reserved bits, or PG without PE, fault as on hardware. */
		if ((val >> 32) || ((val & CR0_PG) && !(val & CR0_PE)) ||
		    ((val & CR0_NW) && !(val & CR0_CD))) {
			vmx_inject_exception(VEC_GP, 1, 0);
			return EXIT_RESUME;
		}
		cd_write_cr0(val);
		return EXIT_ADVANCE;
	}
	/* CR4.VMXE is hvmetal's: the control domain sees VMX as absent. */
	if ((val & CR4_VMXE) || (val & ~vmx_caps.cr4_fixed1)) {
		vmx_inject_exception(VEC_GP, 1, 0);
		return EXIT_RESUME;
	}
	cd_write_cr4(val);
	return EXIT_ADVANCE;
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
	}
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

/* Hardware task switches (32-bit task gates) are not virtualized. */
enum exit_action cd_exit_task_switch(struct vmx_exit *ex)
{
	(void)ex;
	log_printf("hvmetal: cpu %u: task switch (qualification %lx) refused with #GP\n",
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
	/* INIT drops pending NMIs and NMI blocking along with everything else. */
	this_cpu()->nmi_pending = 0;
	vmcs_write(VMCS_PROC_CTLS, vmcs_read(VMCS_PROC_CTLS) & ~PROC_NMI_WINDOW);
	vector = cd_apic_wait_sipi(this_cpu());
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
