/*
 * hv_arch_x86.h - architectural x86 registers of a vCPU, as named by
 * hv_vcpu_read_register() / hv_vcpu_write_register().
 *
 * The order (and therefore every value, 0 to 51) is Apple's ABI.
 */
#ifndef HYPERVISOR_HV_ARCH_X86_H
#define HYPERVISOR_HV_ARCH_X86_H

#include <Hypervisor/hv_base.h>

HV_EXTERN_C_BEGIN

typedef enum {
	/* instruction pointer, flags, general-purpose registers */
	HV_X86_RIP,		/*  0 */
	HV_X86_RFLAGS,
	HV_X86_RAX,
	HV_X86_RCX,
	HV_X86_RDX,
	HV_X86_RBX,
	HV_X86_RSI,
	HV_X86_RDI,
	HV_X86_RSP,
	HV_X86_RBP,
	HV_X86_R8,		/* 10 */
	HV_X86_R9,
	HV_X86_R10,
	HV_X86_R11,
	HV_X86_R12,
	HV_X86_R13,
	HV_X86_R14,
	HV_X86_R15,

	/* segment selectors */
	HV_X86_CS,		/* 18 */
	HV_X86_SS,
	HV_X86_DS,
	HV_X86_ES,
	HV_X86_FS,
	HV_X86_GS,

	/* descriptor tables, LDT and task register */
	HV_X86_IDT_BASE,	/* 24 */
	HV_X86_IDT_LIMIT,
	HV_X86_GDT_BASE,
	HV_X86_GDT_LIMIT,
	HV_X86_LDTR,
	HV_X86_LDT_BASE,
	HV_X86_LDT_LIMIT,
	HV_X86_LDT_AR,
	HV_X86_TR,
	HV_X86_TSS_BASE,
	HV_X86_TSS_LIMIT,
	HV_X86_TSS_AR,

	/* control registers */
	HV_X86_CR0,		/* 36 */
	HV_X86_CR1,
	HV_X86_CR2,
	HV_X86_CR3,
	HV_X86_CR4,

	/* debug registers */
	HV_X86_DR0,		/* 41 */
	HV_X86_DR1,
	HV_X86_DR2,
	HV_X86_DR3,
	HV_X86_DR4,
	HV_X86_DR5,
	HV_X86_DR6,
	HV_X86_DR7,

	HV_X86_TPR,		/* 49: CR8 / APIC task priority */
	HV_X86_XCR0,		/* 50 */

	HV_X86_REGISTERS_MAX,	/* 51: number of registers, not one */
} hv_x86_reg_t;

HV_STATIC_ASSERT(sizeof(hv_x86_reg_t) == 4, "hv_x86_reg_t is 32 bits");
HV_STATIC_ASSERT(HV_X86_REGISTERS_MAX == 51, "Apple's register count");

HV_EXTERN_C_END

#endif /* HYPERVISOR_HV_ARCH_X86_H */
