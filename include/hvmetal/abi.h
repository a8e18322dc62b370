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

/* Apple's VM and memory API (hv_vm_*, hv_capability); vm = handle from VM_CREATE */
#define HVMETAL_HC_CAPABILITY		0x0010	/* RDI = hv_capability_t -> RDX = value */
#define HVMETAL_HC_VM_CREATE		0x0011	/* RDI = hv_vm_options_t -> RDX = vm */
#define HVMETAL_HC_VM_DESTROY		0x0012	/* RDI = vm */
#define HVMETAL_HC_VM_SPACE_CREATE	0x0013	/* RDI = vm -> RDX = asid */
#define HVMETAL_HC_VM_SPACE_DESTROY	0x0014	/* RDI = vm, RSI = asid */
#define HVMETAL_HC_VM_MAP		0x0015	/* RDI = vm, RSI = asid, RDX = uva, RCX = gpa, R8 = size, R9 = flags */
#define HVMETAL_HC_VM_UNMAP		0x0016	/* RDI = vm, RSI = asid, RDX = gpa, RCX = size */
#define HVMETAL_HC_VM_PROTECT		0x0017	/* RDI = vm, RSI = asid, RDX = gpa, RCX = size, R8 = flags */
#define HVMETAL_HC_VM_TRANSLATE		0x0018	/* RDI = vm, RSI = asid, RDX = gpa, RCX = struct hvmetal_translation * */
#define HVMETAL_HC_VM_STATS		0x0019	/* RDI = vm, RSI = struct hvmetal_vm_stats * */
#define HVMETAL_HC_COUNT		0x001a

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

/* Where a guest-physical address of a VM's space lands (for tests and debugging). */
struct hvmetal_translation {
	uint64_t hpa;			/* host-physical address */
	uint64_t page_size;		/* 4096, 2 MiB or 1 GiB: the EPT leaf that maps it */
	uint64_t flags;			/* HV_MEMORY_READ/WRITE/EXEC */
};

struct hvmetal_vm_stats {
	uint64_t spaces;		/* address spaces, the default one included */
	uint64_t table_pages;		/* EPT table pages over all spaces */
	uint64_t pool_free;		/* bytes free in hvmetal's pool */
};

#endif
