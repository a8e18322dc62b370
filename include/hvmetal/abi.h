/*
 * hvmetal hypercall ABI, version 1 (see docs/abi.md).
 *
 * The control domain issues VMCALL at CPL 0 with the call number in RAX and
 * arguments in RDI, RSI, RDX, RCX, R8, R9. hvmetal returns an hv_return_t in RAX
 * (Apple's codes) and, for calls that say so, one scalar in RDX. Every other
 * register is preserved. Pointers are control-domain virtual addresses: hvmetal
 * translates them through the caller's page tables and EPT; a pointer hvmetal
 * cannot reach is HV_BAD_ARGUMENT.
 */
#ifndef HVMETAL_ABI_H
#define HVMETAL_ABI_H

#include <stdint.h>

#define HVMETAL_ABI_VERSION		1

/* CPUID leaves hvmetal answers in the control domain */
#define HVMETAL_CPUID_SIGNATURE		0x40000000u	/* EAX = max leaf, EBX:ECX:EDX = "hvmetal\0\0\0\0\0" */
#define HVMETAL_CPUID_FEATURES		0x40000001u	/* EAX = ABI version, EBX = HVMETAL_FEAT_* */
#define HVMETAL_CPUID_SIG_EBX		0x656d7668u	/* "hvme" */
#define HVMETAL_CPUID_SIG_ECX		0x006c6174u	/* "tal\0" */
#define HVMETAL_CPUID_SIG_EDX		0x00000000u

/* VMX features hvmetal uses (INFO.features, CPUID 0x40000001 EBX) */
#define HVMETAL_FEAT_EPT		(1u << 0)
#define HVMETAL_FEAT_UNRESTRICTED	(1u << 1)
#define HVMETAL_FEAT_VPID		(1u << 2)
#define HVMETAL_FEAT_EPT_2M		(1u << 3)
#define HVMETAL_FEAT_EPT_1G		(1u << 4)

/* Hypercall numbers (RAX) */
#define HVMETAL_HC_VERSION		0x0000	/* -> RDX = HVMETAL_ABI_VERSION */
#define HVMETAL_HC_INFO			0x0001	/* RDI = struct hvmetal_info *, RSI = its size */
#define HVMETAL_HC_SELFCHECK		0x0002	/* RDI = struct hvmetal_selfcheck * */
#define HVMETAL_HC_COUNT		0x0003

struct hvmetal_info {
	uint32_t abi_version;
	uint32_t cpu_count;		/* CPUs running the control domain under hvmetal */
	uint32_t features;		/* HVMETAL_FEAT_* */
	uint32_t reserved;
	uint64_t region_base;		/* hvmetal's memory: hidden from the control domain */
	uint64_t region_size;
	uint64_t pool_total;		/* bytes in hvmetal's page pool */
	uint64_t pool_free;
};

/* Integrity of hvmetal's memory, for tests: a page of canary words inside the
 * hidden region and a checksum of hvmetal's code, both taken at boot. */
struct hvmetal_selfcheck {
	uint64_t canary_addr;		/* physical address of the canary page */
	uint64_t canary_value;		/* the word repeated across it */
	uint32_t canary_intact;		/* 1 when every word still holds canary_value */
	uint32_t code_intact;		/* 1 when the code checksum matches the boot one */
	uint64_t code_checksum;
};

#endif
