#include "vmx_bits.h"
#include "vmx_caps.h"

static struct vmx_ctl split(uint64_t msr)
{
	return (struct vmx_ctl){ (uint32_t)msr, (uint32_t)(msr >> 32) };
}

uint32_t vmx_ctl_adjust(struct vmx_ctl c, uint32_t want, uint32_t *missing)
{
	if (missing)
		*missing = want & ~c.may1;
	return (want | c.must1) & c.may1;
}

void vmx_msrs_hide(struct vmx_msrs *m, uint32_t hide)
{
	if (hide & VMX_HIDE_VPID)
		m->proc2 &= ~((uint64_t)PROC2_VPID << 32);
	if (hide & VMX_HIDE_APIC_ACCESS)
		m->proc2 &= ~((uint64_t)PROC2_VIRT_APIC_ACCESS << 32);
	if (hide & VMX_HIDE_APICV)
		m->proc2 &= ~((uint64_t)(PROC2_X2APIC_MODE | PROC2_APIC_REG_VIRT | PROC2_VINTR_DELIVERY) << 32);
	if (hide & VMX_HIDE_EPT_1G)
		m->ept_vpid &= ~EPT_CAP_1G;
}

const char *vmx_caps_check(const struct vmx_msrs *m, struct vmx_caps *caps)
{
	if (!m->cpuid_vmx)
		return "no VT-x: CPUID.1:ECX.VMX is 0 (no Intel VMX, or a hypervisor that hides it)";
	if ((m->feature_control & FEATURE_CONTROL_LOCK) &&
	    !(m->feature_control & FEATURE_CONTROL_VMX_OUTSIDE_SMX))
		return "VMX is disabled and locked by the firmware (IA32_FEATURE_CONTROL): enable VT-x in the firmware setup";
	caps->feature_control_unlocked = !(m->feature_control & FEATURE_CONTROL_LOCK);

	caps->revision = m->basic & 0x7fffffff;
	if (m->basic & (1ull << 48))
		return "VMX structures limited to 32-bit physical addresses (IA32_VMX_BASIC[48])";
	if (((m->basic >> 50) & 0xf) != 6)
		return "VMCS memory type is not write-back (IA32_VMX_BASIC[53:50])";
	caps->pin = split(m->pin);
	caps->proc = split(m->proc);
	caps->proc2 = split(m->proc2);
	caps->exit = split(m->exit);
	caps->entry = split(m->entry);
	caps->cr0_fixed0 = m->cr0_fixed0;
	caps->cr0_fixed1 = m->cr0_fixed1;
	caps->cr4_fixed0 = m->cr4_fixed0;
	caps->cr4_fixed1 = m->cr4_fixed1;
	caps->ept_vpid = m->ept_vpid;

	if (!vmx_ctl_allows(caps->proc, PROC_SECONDARY))
		caps->proc2 = (struct vmx_ctl){ 0, 0 };
	if (!vmx_ctl_allows(caps->proc, PROC_MSR_BITMAPS))
		return "no MSR bitmaps: every control-domain MSR access would exit";
	if (!vmx_ctl_allows(caps->proc2, PROC2_EPT))
		return "no EPT (extended page tables): hvmetal needs EPT to isolate its memory";
	if (!vmx_ctl_allows(caps->proc2, PROC2_UNRESTRICTED))
		return "no unrestricted guest: the control domain's CPUs start in real mode";
	if (!(m->ept_vpid & EPT_CAP_WALK4) || !(m->ept_vpid & EPT_CAP_WB))
		return "EPT lacks 4-level walks or write-back paging structures";
	/* Without them the identity map of a 2^MAXPHYADDR space takes gigabytes of tables. */
	if (!(m->ept_vpid & EPT_CAP_2M))
		return "EPT lacks 2 MiB pages: the control domain's identity map would not fit in memory";
	if (!(m->ept_vpid & EPT_CAP_INVEPT) || !(m->ept_vpid & EPT_CAP_INVEPT_ALL))
		return "no INVEPT all-context: stale EPT translations could not be flushed";
	if (!vmx_ctl_allows(caps->exit, EXIT_HOST_ADDR64 | EXIT_SAVE_EFER | EXIT_LOAD_EFER) ||
	    !vmx_ctl_allows(caps->entry, ENTRY_IA32E | ENTRY_LOAD_EFER))
		return "VM exit/entry cannot switch IA32_EFER or enter a 64-bit host";
	if (!vmx_ctl_allows(caps->pin, PIN_NMI_EXIT | PIN_VIRTUAL_NMI) ||
	    !vmx_ctl_allows(caps->proc, PROC_NMI_WINDOW))
		return "no virtual NMIs: INIT/SIPI between control-domain CPUs cannot be virtualized";
	caps->ept_2m = m->ept_vpid & EPT_CAP_2M;
	caps->ept_1g = m->ept_vpid & EPT_CAP_1G;
	caps->apicv = vmx_ctl_allows(caps->proc, PROC_TPR_SHADOW) &&
		      vmx_ctl_allows(caps->proc2, PROC2_X2APIC_MODE | PROC2_APIC_REG_VIRT | PROC2_VINTR_DELIVERY);
	caps->vpid = vmx_ctl_allows(caps->proc2, PROC2_VPID) &&
		     (m->ept_vpid & VPID_CAP_INVVPID) && (m->ept_vpid & VPID_CAP_SINGLE);
	return 0;
}
