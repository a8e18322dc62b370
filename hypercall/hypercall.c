#include <Hypervisor/hv_error.h>
#include <hvmetal/abi.h>
#include "hc_apic.h"
#include "hc_vcpu.h"
#include "hc_vm.h"
#include "hypercall.h"
#include "kernel/cpu.h"
#include "kernel/host.h"
#include "kernel/hvmetal.h"
#include "uaccess.h"
#include "vmx/vmcs.h"
#include "vmx/vmx_bits.h"

static void *identity(uint64_t pa)
{
	return (void *)(uintptr_t)pa;
}

struct uaccess hypercall_uaccess(unsigned access)
{
	return (struct uaccess){
		.pg = {
			.cr0 = vmcs_read(VMCS_GUEST_CR0),
			.cr3 = vmcs_read(VMCS_GUEST_CR3),
			.cr4 = vmcs_read(VMCS_GUEST_CR4),
			.efer = vmcs_read(VMCS_GUEST_EFER),
			.rflags = vmcs_read(VMCS_GUEST_RFLAGS),
			.maxphyaddr = hv.maxphyaddr,
		},
		.map = &hv.boot.memmap,
		.phys = identity,
		.access = access,
	};
}

hv_return_t hypercall_copy_out(const struct hcall *c, uint64_t gva, const void *src, size_t n)
{
	struct uaccess ua = hypercall_uaccess(hcall_access(c));

	return uaccess_copy_out(&ua, gva, src, n) ? HV_BAD_ARGUMENT : HV_SUCCESS;
}

hv_return_t hypercall_copy_in(const struct hcall *c, void *dst, uint64_t gva, size_t n)
{
	struct uaccess ua = hypercall_uaccess(hcall_access(c));

	return uaccess_copy_in(&ua, dst, gva, n) ? HV_BAD_ARGUMENT : HV_SUCCESS;
}

static hv_return_t hc_version(struct hcall *c)
{
	c->gpr->rdx = HVMETAL_ABI_VERSION;
	return HV_SUCCESS;
}

static hv_return_t hc_info(struct hcall *c)
{
	struct hvmetal_info info = {
		.abi_version = HVMETAL_ABI_VERSION,
		.cpu_count = hv.cpus_launched,
		.features = hv.features,
		.region_base = hv.boot.region_base,
		.region_size = hv.boot.region_size,
		.pool_total = pool_total_bytes(&host_pool),
		.pool_free = pool_free_bytes(&host_pool),
	};

	if (c->gpr->rsi != sizeof(info))
		return HV_BAD_ARGUMENT;
	return hypercall_copy_out(c, c->gpr->rdi, &info, sizeof(info));
}

static hv_return_t hc_selfcheck(struct hcall *c)
{
	const uint64_t *canary = (const uint64_t *)(uintptr_t)hv.canary_page;
	struct hvmetal_selfcheck sc = {
		.canary_addr = hv.canary_page,
		.canary_value = hv.canary_value,
		.canary_intact = 1,
		.code_checksum = hvmetal_code_checksum(),
	};

	for (unsigned i = 0; i < PAGE_SIZE / 8; i++)
		if (canary[i] != hv.canary_value)
			sc.canary_intact = 0;
	sc.code_intact = sc.code_checksum == hv.code_checksum;
	return hypercall_copy_out(c, c->gpr->rdi, &sc, sizeof(sc));
}

static const hcall_fn hcalls[HVMETAL_HC_COUNT] = {
	[HVMETAL_HC_VERSION]	= hc_version,
	[HVMETAL_HC_INFO]	= hc_info,
	[HVMETAL_HC_SELFCHECK]	= hc_selfcheck,
	[HVMETAL_HC_CAPABILITY]	= hc_capability,
	[HVMETAL_HC_VM_CREATE]	= hc_vm_create,
	[HVMETAL_HC_VM_DESTROY]	= hc_vm_destroy,
	[HVMETAL_HC_VM_SPACE_CREATE] = hc_vm_space_create,
	[HVMETAL_HC_VM_SPACE_DESTROY] = hc_vm_space_destroy,
	[HVMETAL_HC_VM_MAP]	= hc_vm_map,
	[HVMETAL_HC_VM_UNMAP]	= hc_vm_unmap,
	[HVMETAL_HC_VM_PROTECT]	= hc_vm_protect,
	[HVMETAL_HC_VM_TRANSLATE] = hc_vm_translate,
	[HVMETAL_HC_VM_STATS]	= hc_vm_stats,
	[HVMETAL_HC_VM_SYNC_TSC] = hc_vm_sync_tsc,
	[HVMETAL_HC_VCPU_CREATE] = hc_vcpu_create,
	[HVMETAL_HC_VCPU_DESTROY] = hc_vcpu_destroy,
	[HVMETAL_HC_VCPU_SET_SPACE] = hc_vcpu_set_space,
	[HVMETAL_HC_VCPU_READ_REG] = hc_vcpu_read_reg,
	[HVMETAL_HC_VCPU_WRITE_REG] = hc_vcpu_write_reg,
	[HVMETAL_HC_VCPU_READ_FPSTATE] = hc_vcpu_read_fpstate,
	[HVMETAL_HC_VCPU_WRITE_FPSTATE] = hc_vcpu_write_fpstate,
	[HVMETAL_HC_VCPU_MSR_ACCESS] = hc_vcpu_msr_access,
	[HVMETAL_HC_VCPU_READ_MSR] = hc_vcpu_read_msr,
	[HVMETAL_HC_VCPU_WRITE_MSR] = hc_vcpu_write_msr,
	[HVMETAL_HC_VCPU_INVALIDATE_TLB] = hc_vcpu_invalidate_tlb,
	[HVMETAL_HC_VCPU_RUN]	= hc_vcpu_run,
	[HVMETAL_HC_VCPU_INTERRUPT] = hc_vcpu_interrupt,
	[HVMETAL_HC_VCPU_TIME]	= hc_vcpu_time,
	[HVMETAL_HC_VCPU_SET_TSC_OFFSET] = hc_vcpu_set_tsc_offset,
	[HVMETAL_HC_VCPU_VMX_STATUS] = hc_vcpu_vmx_status,
	[HVMETAL_HC_VMX_READ_VMCS] = hc_vmx_read_vmcs,
	[HVMETAL_HC_VMX_WRITE_VMCS] = hc_vmx_write_vmcs,
	[HVMETAL_HC_VMX_CAP_WRITE_VMCS] = hc_vmx_cap_write_vmcs,
	[HVMETAL_HC_VMX_READ_CAPABILITY] = hc_vmx_read_capability,
	[HVMETAL_HC_VMX_MSR_INFO] = hc_vmx_msr_info,
	[HVMETAL_HC_VMX_READ_SHADOW] = hc_vmx_read_shadow,
	[HVMETAL_HC_VMX_WRITE_SHADOW] = hc_vmx_write_shadow,
	[HVMETAL_HC_VMX_SHADOW_ACCESS] = hc_vmx_shadow_access,
	[HVMETAL_HC_VMX_SET_APIC_ADDRESS] = hc_vmx_set_apic_address,
	[HVMETAL_HC_VCPU_ADOPT]	= hc_vcpu_adopt,
	[HVMETAL_HC_VCPU_APIC_CTRL] = hc_vcpu_apic_ctrl,
	[HVMETAL_HC_VCPU_APIC_READ] = hc_vcpu_apic_read,
	[HVMETAL_HC_VCPU_APIC_WRITE] = hc_vcpu_apic_write,
	[HVMETAL_HC_VCPU_APIC_GET_STATE] = hc_vcpu_apic_get_state,
	[HVMETAL_HC_VCPU_APIC_PUT_STATE] = hc_vcpu_apic_put_state,
	[HVMETAL_HC_VCPU_APIC_TRIGGER_LVT] = hc_vcpu_apic_trigger_lvt,
	[HVMETAL_HC_VCPU_APIC_LSC] = hc_vcpu_apic_lsc,
	[HVMETAL_HC_VCPU_INJECT_EXTINT] = hc_vcpu_inject_extint,
	[HVMETAL_HC_VCPU_EXIT_INFO] = hc_vcpu_exit_info,
	[HVMETAL_HC_VMX_SET_APIC_ADDRESS_SPACE] = hc_vmx_set_apic_address_space,
	[HVMETAL_HC_VM_LAPIC_SET_INTR] = hc_vm_lapic_set_intr,
	[HVMETAL_HC_VM_LAPIC_MSI] = hc_vm_lapic_msi,
	[HVMETAL_HC_VM_IOAPIC_INTR] = hc_vm_ioapic_intr,
	[HVMETAL_HC_VM_APIC_BUS_FREQ] = hc_vm_apic_bus_freq,
	[HVMETAL_HC_VM_IOAPIC_IRQ] = hc_vm_ioapic_irq,
	[HVMETAL_HC_VM_IOAPIC_MMIO] = hc_vm_ioapic_mmio,
	[HVMETAL_HC_VM_IOAPIC_GET_STATE] = hc_vm_ioapic_get_state,
	[HVMETAL_HC_VM_IOAPIC_PUT_STATE] = hc_vm_ioapic_put_state,
	[HVMETAL_HC_VM_ATPIC_IRQ] = hc_vm_atpic_irq,
	[HVMETAL_HC_VM_ATPIC_PORT] = hc_vm_atpic_port,
	[HVMETAL_HC_VM_ATPIC_GET_STATE] = hc_vm_atpic_get_state,
	[HVMETAL_HC_VM_ATPIC_PUT_STATE] = hc_vm_atpic_put_state,
};

/* SS.DPL is the CPL; in virtual-8086 mode VM entry has made it 3. */
static unsigned caller_cpl(void)
{
	return (vmcs_read(VMCS_GUEST_SS_AR) >> 5) & 3;
}

int hypercall_fast(struct gpr_frame *g)
{
	/* Any bit above the number but HVMETAL_HC_USER leaves nr out of range. */
	uint64_t nr = g->rax & ~(uint64_t)HVMETAL_HC_USER;
	struct hcall c = { .gpr = g };

	_Static_assert(HVMETAL_HC_USER >> 15 == GUEST_PT_USER, "one shift makes the access flag");
	_Static_assert(HVMETAL_HC_COUNT <= HVMETAL_HC_NR_MASK + 1, "numbers fit below the flags");
	/* Only the control domain's kernel may call; user code gets a refusal, not service. */
	if (caller_cpl() != 0)
		g->rax = HVMETAL_RAX(HV_DENIED);
	else if (nr >= HVMETAL_HC_COUNT || !hcalls[nr])
		g->rax = HVMETAL_RAX(HV_UNSUPPORTED);
	else
		g->rax = HVMETAL_RAX(hcalls[nr](&c));
	vmx_skip_insn(vmcs_read(VMCS_EXIT_INSN_LEN));
	return percpu_work_pending(this_cpu());
}
