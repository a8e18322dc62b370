#include <stddef.h>
#include <Hypervisor/hv_arch_x86.h>
#include "kernel/panic.h"
#include "vcpu_regs.h"
#include "vmx/vmx_bits.h"

#define GPR(name)	{ REG_GPR, offsetof(struct gpr_frame, name) / 8, 0 }
#define VMCS(f)		{ REG_VMCS, 0, f }

static const struct reg_loc regs[HV_X86_REGISTERS_MAX] = {
	[HV_X86_RIP]		= VMCS(VMCS_GUEST_RIP),
	[HV_X86_RFLAGS]		= VMCS(VMCS_GUEST_RFLAGS),
	[HV_X86_RAX]		= GPR(rax),
	[HV_X86_RCX]		= GPR(rcx),
	[HV_X86_RDX]		= GPR(rdx),
	[HV_X86_RBX]		= GPR(rbx),
	[HV_X86_RSI]		= GPR(rsi),
	[HV_X86_RDI]		= GPR(rdi),
	[HV_X86_RSP]		= VMCS(VMCS_GUEST_RSP),
	[HV_X86_RBP]		= GPR(rbp),
	[HV_X86_R8]		= GPR(r8),
	[HV_X86_R9]		= GPR(r9),
	[HV_X86_R10]		= GPR(r10),
	[HV_X86_R11]		= GPR(r11),
	[HV_X86_R12]		= GPR(r12),
	[HV_X86_R13]		= GPR(r13),
	[HV_X86_R14]		= GPR(r14),
	[HV_X86_R15]		= GPR(r15),
	[HV_X86_CS]		= VMCS(VMCS_GUEST_CS_SEL),
	[HV_X86_SS]		= VMCS(VMCS_GUEST_SS_SEL),
	[HV_X86_DS]		= VMCS(VMCS_GUEST_DS_SEL),
	[HV_X86_ES]		= VMCS(VMCS_GUEST_ES_SEL),
	[HV_X86_FS]		= VMCS(VMCS_GUEST_FS_SEL),
	[HV_X86_GS]		= VMCS(VMCS_GUEST_GS_SEL),
	[HV_X86_IDT_BASE]	= VMCS(VMCS_GUEST_IDTR_BASE),
	[HV_X86_IDT_LIMIT]	= VMCS(VMCS_GUEST_IDTR_LIMIT),
	[HV_X86_GDT_BASE]	= VMCS(VMCS_GUEST_GDTR_BASE),
	[HV_X86_GDT_LIMIT]	= VMCS(VMCS_GUEST_GDTR_LIMIT),
	[HV_X86_LDTR]		= VMCS(VMCS_GUEST_LDTR_SEL),
	[HV_X86_LDT_BASE]	= VMCS(VMCS_GUEST_LDTR_BASE),
	[HV_X86_LDT_LIMIT]	= VMCS(VMCS_GUEST_LDTR_LIMIT),
	[HV_X86_LDT_AR]		= VMCS(VMCS_GUEST_LDTR_AR),
	[HV_X86_TR]		= VMCS(VMCS_GUEST_TR_SEL),
	[HV_X86_TSS_BASE]	= VMCS(VMCS_GUEST_TR_BASE),
	[HV_X86_TSS_LIMIT]	= VMCS(VMCS_GUEST_TR_LIMIT),
	[HV_X86_TSS_AR]		= VMCS(VMCS_GUEST_TR_AR),
	[HV_X86_CR0]		= VMCS(VMCS_GUEST_CR0),
	[HV_X86_CR1]		= { REG_CR1, 0, 0 },
	[HV_X86_CR2]		= { REG_CR2, 0, 0 },
	[HV_X86_CR3]		= VMCS(VMCS_GUEST_CR3),
	[HV_X86_CR4]		= VMCS(VMCS_GUEST_CR4),
	[HV_X86_DR0]		= { REG_DR, 0, 0 },
	[HV_X86_DR1]		= { REG_DR, 1, 0 },
	[HV_X86_DR2]		= { REG_DR, 2, 0 },
	[HV_X86_DR3]		= { REG_DR, 3, 0 },
	/* DR4 and DR5 are the old aliases of DR6 and DR7 (CR4.DE = 0). */
	[HV_X86_DR4]		= { REG_DR6, 0, 0 },
	[HV_X86_DR5]		= VMCS(VMCS_GUEST_DR7),
	[HV_X86_DR6]		= { REG_DR6, 0, 0 },
	[HV_X86_DR7]		= VMCS(VMCS_GUEST_DR7),
	[HV_X86_TPR]		= { REG_TPR, 0, 0 },
	[HV_X86_XCR0]		= { REG_XCR0, 0, 0 },
};

bool vcpu_reg_loc(uint32_t reg, struct reg_loc *loc)
{
	if (reg >= HV_X86_REGISTERS_MAX)
		return false;
	*loc = regs[reg];
	return true;
}
