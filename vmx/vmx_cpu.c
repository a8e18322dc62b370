#include "kernel/cpu.h"
#include "kernel/host.h"
#include "kernel/hvmetal.h"
#include "kernel/log.h"
#include "vmcs.h"
#include "vmcs_policy.h"
#include "vmx_bits.h"
#include "vmx_cpu.h"

struct vmx_caps vmx_caps;
struct vmcs_policy vmcs_policy;
static uint64_t tsc_hz;			/* from CPUID 0x15/0x16; 0: unknown */

/* The TSC's rate from CPUID (crystal clock ratio, else the base frequency); 0 if unknown. */
static uint64_t tsc_frequency(void)
{
	uint32_t max = cpuid(0, 0).eax;
	struct cpuid_regs r;

	if (max >= 0x15) {
		r = cpuid(0x15, 0);
		if (r.eax && r.ebx && r.ecx)
			return (uint64_t)r.ecx * r.ebx / r.eax;
	}
	if (max >= 0x16 && (cpuid(0x16, 0).eax & 0xffff))
		return (uint64_t)(cpuid(0x16, 0).eax & 0xffff) * 1000000;
	return 0;
}

uint64_t vmx_tsc_hz(void)
{
	return tsc_hz;
}

uint64_t vmx_ticks_to_ns(uint64_t ticks)
{
	if (!tsc_hz)
		return ticks;	/* documented: without a known rate, one tick counts as 1 ns */
	/* No 128-bit division: hvmetal links no compiler runtime. */
	return ticks / tsc_hz * 1000000000u + ticks % tsc_hz * 1000000000u / tsc_hz;
}

const char *vmx_probe(uint32_t hide)
{
	struct vmx_msrs m = { 0 };
	const char *why;
	bool true_ctls;

	m.cpuid_vmx = cpuid(1, 0).ecx & (1u << 5);
	if (!m.cpuid_vmx)
		return vmx_caps_check(&m, &vmx_caps);
	m.feature_control = rdmsr(MSR_IA32_FEATURE_CONTROL);
	m.basic = rdmsr(MSR_IA32_VMX_BASIC);
	true_ctls = m.basic & (1ull << 55);
	m.pin = rdmsr(true_ctls ? MSR_IA32_VMX_TRUE_PINBASED_CTLS : MSR_IA32_VMX_PINBASED_CTLS);
	m.proc = rdmsr(true_ctls ? MSR_IA32_VMX_TRUE_PROCBASED_CTLS : MSR_IA32_VMX_PROCBASED_CTLS);
	m.exit = rdmsr(true_ctls ? MSR_IA32_VMX_TRUE_EXIT_CTLS : MSR_IA32_VMX_EXIT_CTLS);
	m.entry = rdmsr(true_ctls ? MSR_IA32_VMX_TRUE_ENTRY_CTLS : MSR_IA32_VMX_ENTRY_CTLS);
	m.cr0_fixed0 = rdmsr(MSR_IA32_VMX_CR0_FIXED0);
	m.cr0_fixed1 = rdmsr(MSR_IA32_VMX_CR0_FIXED1);
	m.cr4_fixed0 = rdmsr(MSR_IA32_VMX_CR4_FIXED0);
	m.cr4_fixed1 = rdmsr(MSR_IA32_VMX_CR4_FIXED1);
	/* The secondary and EPT MSRs exist only when the primary controls say so. */
	if (m.proc & ((uint64_t)PROC_SECONDARY << 32)) {
		m.proc2 = rdmsr(MSR_IA32_VMX_PROCBASED_CTLS2);
		if (m.proc2 & (((uint64_t)PROC2_EPT | PROC2_VPID) << 32))
			m.ept_vpid = rdmsr(MSR_IA32_VMX_EPT_VPID_CAP);
	}
	vmx_msrs_hide(&m, hide);
	why = vmx_caps_check(&m, &vmx_caps);
	if (!why)
		vmcs_policy_init(&vmcs_policy, &vmx_caps, m.basic, rdmsr(MSR_IA32_VMX_MISC),
				 rdmsr(MSR_IA32_VMX_VMCS_ENUM), tsc_hz = tsc_frequency());
	return why;
}

void vmx_write_host_state(struct percpu *cpu, uint64_t rip)
{
	vmcs_write(VMCS_HOST_CR0, host_state.cr0);
	vmcs_write(VMCS_HOST_CR3, host_state.cr3);
	vmcs_write(VMCS_HOST_CR4, host_state.cr4);
	vmcs_write(VMCS_HOST_CS_SEL, HOST_SEL_CS);
	vmcs_write(VMCS_HOST_SS_SEL, HOST_SEL_DS);
	vmcs_write(VMCS_HOST_DS_SEL, HOST_SEL_DS);
	vmcs_write(VMCS_HOST_ES_SEL, HOST_SEL_DS);
	vmcs_write(VMCS_HOST_FS_SEL, 0);
	vmcs_write(VMCS_HOST_GS_SEL, 0);
	vmcs_write(VMCS_HOST_TR_SEL, HOST_SEL_TR);
	vmcs_write(VMCS_HOST_FS_BASE, 0);
	vmcs_write(VMCS_HOST_GS_BASE, (uintptr_t)cpu);
	vmcs_write(VMCS_HOST_TR_BASE, (uintptr_t)&cpu->tss);
	vmcs_write(VMCS_HOST_GDTR_BASE, (uintptr_t)cpu->gdt);
	vmcs_write(VMCS_HOST_IDTR_BASE, host_state.idt_base);
	vmcs_write(VMCS_HOST_SYSENTER_CS, 0);
	vmcs_write(VMCS_HOST_SYSENTER_ESP, 0);
	vmcs_write(VMCS_HOST_SYSENTER_EIP, 0);
	vmcs_write(VMCS_HOST_EFER, host_state.efer);
	vmcs_write(VMCS_HOST_PAT, host_state.pat);
	vmcs_write(VMCS_HOST_RSP, cpu->stack_top - 8);	/* the exit stubs want this alignment */
	vmcs_write(VMCS_HOST_RIP, rip);
}
