/*
 * The late launch: hvmetal sets itself up in the firmware's context, then each
 * CPU does VMXON and VMLAUNCHes into a control domain that is exactly the
 * firmware at the instruction after the launch.
 */
#include <hvmetal/abi.h>
#include "cd_apic.h"
#include "cd_exits.h"
#include "cd_launch.h"
#include "cd_msr.h"
#include "apic/ipi_dest.h"
#include "ept/ept_identity.h"
#include "kernel/cpu.h"
#include "kernel/host.h"
#include "kernel/hvmetal.h"
#include "kernel/kick.h"
#include "kernel/log.h"
#include "kernel/string.h"
#include "kernel/xstate.h"
#include "vm/vcpu.h"
#include "vm/vm.h"
#include "vmx/vmcs.h"
#include "vmx/vmx_bits.h"
#include "vmx/vmx_cpu.h"


static uint64_t cd_eptp;		/* the control domain's EPT; set at setup */
static uint64_t msr_bitmap_pa;		/* the MSRs hvmetal keeps (cd_msr.c); the rest are the control domain's */

void cd_ept_flush(void)
{
	vmx_invept(vmx_caps.ept_vpid & EPT_CAP_INVEPT_SINGLE ? INVEPT_SINGLE : INVEPT_ALL, cd_eptp);
}

uint64_t cd_ept_root(void)
{
	return cd_eptp & EPT_ADDR_MASK;
}

/* cd_entry.asm */
extern void cd_exit_entry(void);
extern int cd_vmlaunch(void);
extern int cd_vmlaunch_regs(const struct gpr_frame *g);

/* What VMLAUNCH (cd_vmlaunch's codes: 1 VMfailInvalid, 2 VMfailValid) said on cpu. */
static void log_vmlaunch_failed(uint32_t cpu_index, int err, const char *from)
{
	log_printf("hvmetal: cpu %u: VMLAUNCH%s failed (%s, VM-instruction error %lu)\n", cpu_index,
		   from, err == 1 ? "VMfailInvalid" : "VMfailValid",
		   err == 2 ? vmcs_read(VMCS_INSN_ERROR) : 0);
}

/* Builds the control domain's EPT and every CPU's VMXON region and VMCS. */
static const char *cd_vmx_setup(const struct boot_info *bi)
{
	unsigned maxphy = hv.maxphyaddr = cpuid(0x80000000, 0).eax >= 0x80000008 ?
					  (cpuid(0x80000008, 0).eax & 0xff) : 36;
	uint64_t apic_page = cd_apic_page();
	void *dummy = pool_alloc_page(&host_pool);
	void *bitmap = pool_alloc_page(&host_pool);
	struct ept_identity_cfg cfg = {
		.map = &bi->memmap,
		.top = 1ull << (maxphy < 48 ? maxphy : 48),
		.use_1g = vmx_caps.ept_1g,
		.use_2m = vmx_caps.ept_2m,
		.dummy_pa = (uintptr_t)dummy,
		.trap_page = apic_page ? apic_page : ~0ull,
	};

	if (!dummy || !bitmap)
		return "hvmetal's memory pool is too small";
	msr_bitmap_pa = (uintptr_t)bitmap;
	cd_msr_bitmap_init(bitmap);
	cd_eptp = ept_identity_build(&host_pool, &cfg);
	if (!cd_eptp)
		return "hvmetal's memory pool is too small for the control domain's EPT";
	cd_eptp |= EPTP_WB_WALK4;
	for (uint32_t i = 0; i < bi->cpu_count; i++) {
		uint32_t *vmxon = pool_alloc_page(&host_pool);
		uint32_t *vmcs = pool_alloc_page(&host_pool);

		if (!vmxon || !vmcs)
			return "hvmetal's memory pool is too small for VMCS regions";
		vmxon[0] = vmcs[0] = vmx_caps.revision;
		hv.cpus[i].vmxon_pa = (uintptr_t)vmxon;
		hv.cpus[i].vmcs_pa = (uintptr_t)vmcs;
	}
	vcpu_setup();
	hv.features = HVMETAL_FEAT_EPT | HVMETAL_FEAT_UNRESTRICTED |
		      (vmx_caps.vpid ? HVMETAL_FEAT_VPID : 0) |
		      (vmx_caps.ept_2m ? HVMETAL_FEAT_EPT_2M : 0) |
		      (vmx_caps.ept_1g ? HVMETAL_FEAT_EPT_1G : 0) |
		      (vmx_caps.apicv ? HVMETAL_FEAT_APICV : 0);
	return 0;
}

const char *cd_setup(const struct boot_info *bi)
{
	const char *why = vmx_probe(bi->vmx_hide);

	if (why)
		return why;
	memcpy(&hv.boot, bi, sizeof(hv.boot));
	if (pool_init(&host_pool, (void *)bi->pool_base, bi->pool_size) < 0 ||
	    host_setup(&hv.boot) < 0 || hvmetal_canary_setup() < 0)
		return "hvmetal's memory pool is too small for its host page tables";
	hv.cpus = pool_alloc_pages(&host_pool, (bi->cpu_count * sizeof(struct percpu) +
						PAGE_SIZE - 1) / PAGE_SIZE);
	if (!hv.cpus)
		return "hvmetal's memory pool is too small for its per-CPU data";
	for (uint32_t i = 0; i < bi->cpu_count; i++) {
		hv.cpus[i].index = i;
		if (host_cpu_setup(&hv.cpus[i]) < 0)
			return "hvmetal's memory pool is too small for per-CPU stacks";
	}
	why = cd_vmx_setup(&hv.boot);
	if (why)
		return why;
	vm_init(&host_pool, 1ull << (hv.maxphyaddr < 48 ? hv.maxphyaddr : 48));
	hv.code_checksum = hvmetal_code_checksum();
	log_printf("hvmetal: pool %lu KiB free of %lu KiB after setup\n",
		   pool_free_bytes(&host_pool) >> 10, pool_total_bytes(&host_pool) >> 10);
	return 0;
}

/* Guest segment state from a selector, read from the firmware's GDT. */
struct seg {
	uint16_t sel;
	uint32_t limit, ar;
	uint64_t base;
};

#define AR_UNUSABLE	(1u << 16)

static struct seg seg_from_gdt(uint16_t sel, uint64_t gdt_base)
{
	struct seg s = { .sel = sel };
	const uint64_t *d;

	if ((sel & ~3) == 0 || (sel & 4)) {
		s.ar = AR_UNUSABLE;
		return s;
	}
	d = (const uint64_t *)(uintptr_t)(gdt_base + (sel & ~7));
	s.limit = (d[0] & 0xffff) | ((d[0] >> 32) & 0xf0000);
	if (d[0] & (1ull << 55))
		s.limit = (s.limit << 12) | 0xfff;
	s.base = ((d[0] >> 16) & 0xffffff) | (((d[0] >> 56) & 0xff) << 24);
	s.ar = (d[0] >> 40) & 0xf0ff;
	if (!(s.ar & 0x10))			/* system descriptor: 16 bytes in long mode */
		s.base |= d[1] << 32;
	else
		s.ar |= 1;			/* VM entry wants code/data marked accessed */
	return s;
}

static void write_guest_seg(uint32_t sel_field, struct seg s)
{
	/* Selector, limit, AR and base fields of one register are spaced alike. */
	uint32_t n = (sel_field - VMCS_GUEST_ES_SEL) / 2;

	vmcs_write(sel_field, s.sel);
	vmcs_write(VMCS_GUEST_ES_LIMIT + 2 * n, s.limit);
	vmcs_write(VMCS_GUEST_ES_AR + 2 * n, s.ar);
	vmcs_write(VMCS_GUEST_ES_BASE + 2 * n, s.base);
}

static void write_controls(uint64_t efer)
{
	uint32_t proc2 = PROC2_EPT | PROC2_UNRESTRICTED | PROC2_RDTSCP | PROC2_INVPCID |
			 PROC2_XSAVES | PROC2_USER_WAIT_PAUSE | (vmx_caps.vpid ? PROC2_VPID : 0);
	uint32_t entry = ENTRY_LOAD_EFER | ENTRY_LOAD_PAT | ENTRY_LOAD_DEBUG |
			 ((efer & EFER_LMA) ? ENTRY_IA32E : 0);

	vmcs_write(VMCS_PIN_CTLS, vmx_ctl_adjust(vmx_caps.pin, PIN_NMI_EXIT | PIN_VIRTUAL_NMI, 0));
	vmcs_write(VMCS_PROC_CTLS, vmx_ctl_adjust(vmx_caps.proc, PROC_MSR_BITMAPS | PROC_SECONDARY, 0));
	/* Optional controls the CPU lacks drop out: their instructions #UD natively too. */
	vmcs_write(VMCS_PROC2_CTLS, vmx_ctl_adjust(vmx_caps.proc2, proc2, 0));
	vmcs_write(VMCS_EXIT_CTLS, vmx_ctl_adjust(vmx_caps.exit, EXIT_HOST_ADDR64 | EXIT_SAVE_EFER |
			EXIT_LOAD_EFER | EXIT_SAVE_PAT | EXIT_LOAD_PAT | EXIT_SAVE_DEBUG, 0));
	vmcs_write(VMCS_ENTRY_CTLS, vmx_ctl_adjust(vmx_caps.entry, entry, 0));
	vmcs_write(VMCS_EXCEPTION_BITMAP, 0);
	vmcs_write(VMCS_CR3_TARGET_COUNT, 0);
	vmcs_write(VMCS_EXIT_MSR_STORE_COUNT, 0);
	vmcs_write(VMCS_EXIT_MSR_LOAD_COUNT, 0);
	vmcs_write(VMCS_ENTRY_MSR_LOAD_COUNT, 0);
	vmcs_write(VMCS_ENTRY_INTR_INFO, 0);
	vmcs_write(VMCS_MSR_BITMAP, msr_bitmap_pa);
	vmcs_write(VMCS_EPTP, cd_eptp);
	if (vmx_caps.vpid)
		vmcs_write(VMCS_VPID, CD_VPID);
	vmcs_write(VMCS_LINK_POINTER, ~0ull);
	cd_write_cr_masks();
}

/* The control domain continues exactly where the firmware was. */
static void write_guest_state(uint64_t cr0, uint64_t cr4, uint64_t rsp, uint64_t rip,
			      uint64_t rflags)
{
	struct desc_ptr gdtr = read_gdtr(), idtr = read_idtr();
	struct seg tr = seg_from_gdt(read_tr(), gdtr.base);

	/* EFER first: the CR0 write derives the IA-32e entry control from it. */
	vmcs_write(VMCS_GUEST_EFER, rdmsr(MSR_IA32_EFER));
	cd_write_cr0(cr0);
	cd_write_cr4(cr4);
	vmcs_write(VMCS_GUEST_CR3, read_cr3());
	write_guest_seg(VMCS_GUEST_ES_SEL, seg_from_gdt(read_es(), gdtr.base));
	write_guest_seg(VMCS_GUEST_CS_SEL, seg_from_gdt(read_cs(), gdtr.base));
	write_guest_seg(VMCS_GUEST_SS_SEL, seg_from_gdt(read_ss(), gdtr.base));
	write_guest_seg(VMCS_GUEST_DS_SEL, seg_from_gdt(read_ds(), gdtr.base));
	write_guest_seg(VMCS_GUEST_FS_SEL, seg_from_gdt(read_fs(), gdtr.base));
	write_guest_seg(VMCS_GUEST_GS_SEL, seg_from_gdt(read_gs(), gdtr.base));
	write_guest_seg(VMCS_GUEST_LDTR_SEL, seg_from_gdt(read_ldtr(), gdtr.base));
	/* Firmware without a TSS: VM entry still wants a usable busy 64-bit TR. */
	if (tr.ar & AR_UNUSABLE)
		tr = (struct seg){ .sel = 0, .limit = 0x67, .ar = 0x8b, .base = 0 };
	tr.ar |= 2;	/* busy */
	write_guest_seg(VMCS_GUEST_TR_SEL, tr);
	vmcs_write(VMCS_GUEST_FS_BASE, rdmsr(MSR_IA32_FS_BASE));
	vmcs_write(VMCS_GUEST_GS_BASE, rdmsr(MSR_IA32_GS_BASE));
	vmcs_write(VMCS_GUEST_GDTR_BASE, gdtr.base);
	vmcs_write(VMCS_GUEST_GDTR_LIMIT, gdtr.limit);
	vmcs_write(VMCS_GUEST_IDTR_BASE, idtr.base);
	vmcs_write(VMCS_GUEST_IDTR_LIMIT, idtr.limit);
	vmcs_write(VMCS_GUEST_DR7, read_dr7());
	vmcs_write(VMCS_GUEST_DEBUGCTL, rdmsr(MSR_IA32_DEBUGCTL));
	vmcs_write(VMCS_GUEST_PAT, rdmsr(MSR_IA32_PAT));
	vmcs_write(VMCS_GUEST_SYSENTER_CS, rdmsr(MSR_IA32_SYSENTER_CS));
	vmcs_write(VMCS_GUEST_SYSENTER_ESP, rdmsr(MSR_IA32_SYSENTER_ESP));
	vmcs_write(VMCS_GUEST_SYSENTER_EIP, rdmsr(MSR_IA32_SYSENTER_EIP));
	vmcs_write(VMCS_GUEST_RSP, rsp);
	vmcs_write(VMCS_GUEST_RIP, rip);
	vmcs_write(VMCS_GUEST_RFLAGS, rflags);
	vmcs_write(VMCS_GUEST_INTERRUPTIBILITY, 0);
	vmcs_write(VMCS_GUEST_ACTIVITY, ACTIVITY_ACTIVE);
	vmcs_write(VMCS_GUEST_PENDING_DBG, 0);
}

/* XGETBV needs CR4.OSXSAVE, which the firmware may have left clear. */
static uint64_t firmware_xcr0(void)
{
	uint64_t cr4 = read_cr4(), xcr0;

	if (!(cpuid(1, 0).ecx & (1u << 26)))
		return 1;
	write_cr4(cr4 | CR4_OSXSAVE);
	xcr0 = xcr0_read();
	write_cr4(cr4);
	return xcr0;
}

int cd_launch(uint32_t cpu_index, uint64_t guest_rsp, uint64_t guest_rip,
		   uint64_t guest_rflags)
{
	struct percpu *cpu = &hv.cpus[cpu_index];
	uint64_t cr0 = read_cr0(), cr4 = read_cr4();
	uint64_t fc = rdmsr(MSR_IA32_FEATURE_CONTROL);
	int err;

	if (!(fc & FEATURE_CONTROL_LOCK))
		wrmsr(MSR_IA32_FEATURE_CONTROL,
		      fc | FEATURE_CONTROL_LOCK | FEATURE_CONTROL_VMX_OUTSIDE_SMX);
	write_cr0((cr0 | vmx_caps.cr0_fixed0) & vmx_caps.cr0_fixed1);
	write_cr4((cr4 | vmx_caps.cr4_fixed0) & vmx_caps.cr4_fixed1);
	if (vmx_on(cpu->vmxon_pa) != VMX_OK) {
		err = -1;
		goto undo_cr;
	}
	if (vmx_clear(cpu->vmcs_pa) != VMX_OK || vmx_ptrld(cpu->vmcs_pa) != VMX_OK) {
		err = -2;
		goto off;
	}
	write_controls(rdmsr(MSR_IA32_EFER));
	vmx_write_host_state(cpu, (uintptr_t)cd_exit_entry);
	write_guest_state(cr0, cr4, guest_rsp, guest_rip, guest_rflags);
	cpu->apic_id = cpuid(0, 0).eax >= 0xb ? cpuid(0xb, 0).edx : cpuid(1, 0).ebx >> 24;
	if (cd_apic_launch(cpu) < 0) {
		err = -4;
		goto off;
	}
	cpu->cd_xcr0 = firmware_xcr0();
	/* Its values of the MSRs guests swap; from now on its writes to them exit (cd_msr.c). */
	for (uint32_t m = vcpu_swapped_mask & ~(1u << VCPU_MSR_KGSBASE); m; m &= m - 1)
		cpu->cd_msr[__builtin_ctz(m)] = rdmsr(vcpu_swapped_msr[__builtin_ctz(m)]);
	cpu->cd_msr_gen = 1;	/* a new vCPU's 0 makes it work out which differ */
#ifdef HVMETAL_TEST_FAIL_CPU
	/* A test image's (build/hvmetal-failap.efi): this CPU fails where VMLAUNCH can. */
	if (cpu_index == HVMETAL_TEST_FAIL_CPU) {
		err = -3;
		goto off;
	}
#endif
	cpu->launched = 1;
	__atomic_add_fetch(&hv.cpus_launched, 1, __ATOMIC_SEQ_CST);
	err = cd_vmlaunch();	/* returns only when VMLAUNCH failed */
	__atomic_sub_fetch(&hv.cpus_launched, 1, __ATOMIC_SEQ_CST);
	cpu->launched = 0;
	log_vmlaunch_failed(cpu_index, err, "");
	err = -3;
off:
	__asm__ volatile("vmxoff" ::: "cc", "memory");
undo_cr:
	write_cr4(cr4);
	write_cr0(cr0);
	log_printf("hvmetal: cpu %u: VMX launch failed (%d)\n", cpu_index, err);
	__atomic_add_fetch(&hv.cpus_failed, 1, __ATOMIC_SEQ_CST);
	return err;
}

int cd_launch_from_init(struct percpu *cpu)
{
	struct gpr_frame gpr;
	int err;

	if (vmx_clear(cpu->vmcs_pa) != VMX_OK || vmx_ptrld(cpu->vmcs_pa) != VMX_OK)
		return -2;
	write_controls(0);
	vmx_write_host_state(cpu, (uintptr_t)cd_exit_entry);
	/* Under hvmetal from here on: INIT and start-up IPIs to it are hvmetal's to deliver. */
	cpu->launched = 1;
	__atomic_add_fetch(&hv.cpus_launched, 1, __ATOMIC_SEQ_CST);
	__atomic_sub_fetch(&hv.cpus_failed, 1, __ATOMIC_SEQ_CST);
	cd_init_and_wait_sipi(&gpr);
	log_printf("hvmetal: cpu %u: a start-up IPI: launching from the INIT state\n", cpu->index);
	err = cd_vmlaunch_regs(&gpr);	/* returns only when VMLAUNCH failed */
	__atomic_add_fetch(&hv.cpus_failed, 1, __ATOMIC_SEQ_CST);
	__atomic_sub_fetch(&hv.cpus_launched, 1, __ATOMIC_SEQ_CST);
	cpu->launched = 0;
	log_vmlaunch_failed(cpu->index, err, " from the INIT state");
	return -3;
}
