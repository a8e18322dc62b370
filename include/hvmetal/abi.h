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

/*
 * The result in RAX: the 32 bits of the hv_return_t, zero-extended (bits 63:32
 * are 0; HV_BAD_ARGUMENT is RAX = 0x00000000fae94003).  hv_return_t is a
 * signed int (Apple's mach_error_t), so it is widened only through this.
 */
#define HVMETAL_RAX(ret)		((uint64_t)(uint32_t)(ret))

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
#define HVMETAL_FEAT_APICV		(1u << 5)	/* HV_VM_ACCEL_APIC x2APIC vCPUs use the CPU's APIC virtualization */

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
#define HVMETAL_HC_VM_SYNC_TSC		0x001a	/* RDI = vm, RSI = guest TSC for every vCPU */

/*
 * vCPUs (hv_vcpu_*, hv_vmx_*): RDI = vm, RSI = vcpu.  A vCPU belongs to the CPU
 * that created it; every call but INTERRUPT from another CPU is HV_DENIED.
 */
#define HVMETAL_HC_VCPU_CREATE		0x0020	/* RSI = hv_vcpu_options_t -> RDX = vcpu */
#define HVMETAL_HC_VCPU_DESTROY		0x0021
#define HVMETAL_HC_VCPU_SET_SPACE	0x0022	/* RDX = asid */
#define HVMETAL_HC_VCPU_READ_REG	0x0023	/* RDX = hv_x86_reg_t -> RDX = value */
#define HVMETAL_HC_VCPU_WRITE_REG	0x0024	/* RDX = hv_x86_reg_t, RCX = value */
#define HVMETAL_HC_VCPU_READ_FPSTATE	0x0025	/* RDX = buffer, RCX = size */
#define HVMETAL_HC_VCPU_WRITE_FPSTATE	0x0026	/* RDX = buffer, RCX = size */
#define HVMETAL_HC_VCPU_MSR_ACCESS	0x0027	/* RDX = msr, RCX = HVMETAL_MSR_*, R8 = hv_msr_flags_t or enable */
#define HVMETAL_HC_VCPU_READ_MSR	0x0028	/* RDX = msr -> RDX = value */
#define HVMETAL_HC_VCPU_WRITE_MSR	0x0029	/* RDX = msr, RCX = value */
#define HVMETAL_HC_VCPU_INVALIDATE_TLB	0x002a
#define HVMETAL_HC_VCPU_RUN		0x002b	/* RDX = deadline, RCX = HVMETAL_RUN_* -> see below */
#define HVMETAL_HC_VCPU_INTERRUPT	0x002c	/* from any CPU */
#define HVMETAL_HC_VCPU_TIME		0x002d	/* RDX = HVMETAL_TIME_* -> RDX = nanoseconds */
#define HVMETAL_HC_VCPU_SET_TSC_OFFSET	0x002e	/* RDX = guest TSC - host TSC */
#define HVMETAL_HC_VCPU_VMX_STATUS	0x002f	/* -> RDX = ZF/CF of the last failed VM entry */
#define HVMETAL_HC_VMX_READ_VMCS	0x0030	/* RDX = field -> RDX = value */
#define HVMETAL_HC_VMX_WRITE_VMCS	0x0031	/* RDX = field, RCX = value */
#define HVMETAL_HC_VMX_CAP_WRITE_VMCS	0x0032	/* RDX = field -> RDX = allowed_0, RCX = allowed_1 */
#define HVMETAL_HC_VMX_READ_CAPABILITY	0x0033	/* RDI = hv_vmx_capability_t -> RDX = value */
#define HVMETAL_HC_VMX_MSR_INFO		0x0034	/* RDI = hv_vmx_msr_info_t -> RDX = value */
#define HVMETAL_HC_VMX_READ_SHADOW	0x0035	/* RDX = field -> RDX = value */
#define HVMETAL_HC_VMX_WRITE_SHADOW	0x0036	/* RDX = field, RCX = value */
#define HVMETAL_HC_VMX_SHADOW_ACCESS	0x0037	/* RDX = field, RCX = hv_shadow_flags_t */
#define HVMETAL_HC_VMX_SET_APIC_ADDRESS	0x0038	/* RDX = guest-physical address of the APIC page */
#define HVMETAL_HC_VCPU_ADOPT		0x0039	/* RDI = vm, RSI = vcpu: the calling CPU becomes its owner */

/*
 * APIC acceleration (VMs created with HV_VM_ACCEL_APIC, docs/apic.md); on any
 * other VM these are HV_UNSUPPORTED.  vCPU calls: RDI = vm, RSI = vcpu, owner only.
 */
#define HVMETAL_HC_VCPU_APIC_CTRL	0x003a	/* RDX = hv_apic_ctrl_t */
#define HVMETAL_HC_VCPU_APIC_READ	0x003b	/* RDX = offset -> RDX = value */
#define HVMETAL_HC_VCPU_APIC_WRITE	0x003c	/* RDX = offset, RCX = value -> RDX = no_side_effect, RCX = hv_vm_exitinfo_t */
#define HVMETAL_HC_VCPU_APIC_GET_STATE	0x003d	/* RDX = hv_apic_state_ext_t * */
#define HVMETAL_HC_VCPU_APIC_PUT_STATE	0x003e	/* RDX = const hv_apic_state_ext_t * */
#define HVMETAL_HC_VCPU_APIC_TRIGGER_LVT 0x003f	/* RDX = hv_apic_lvt_flavor_t */
#define HVMETAL_HC_VCPU_APIC_LSC	0x0040	/* RDX = const struct hvmetal_lsc_entry *, or 0: invalidate all */
#define HVMETAL_HC_VCPU_INJECT_EXTINT	0x0041
#define HVMETAL_HC_VCPU_EXIT_INFO	0x0042	/* RDX = struct hvmetal_exit_info * */
#define HVMETAL_HC_VMX_SET_APIC_ADDRESS_SPACE 0x0043	/* RDX = gpa, RCX = asid */
/* VM-wide, from any CPU: RDI = vm. */
#define HVMETAL_HC_VM_LAPIC_SET_INTR	0x0044	/* RSI = vcpu, RDX = vector, RCX = hv_apic_intr_trigger_t */
#define HVMETAL_HC_VM_LAPIC_MSI		0x0045	/* RSI = address, RDX = data */
#define HVMETAL_HC_VM_IOAPIC_INTR	0x0046	/* RSI = redirection-entry-shaped message */
#define HVMETAL_HC_VM_APIC_BUS_FREQ	0x0047	/* RSI = Hz */
#define HVMETAL_HC_VM_IOAPIC_IRQ	0x0048	/* RSI = pin, RDX = HVMETAL_IRQ_* */
#define HVMETAL_HC_VM_IOAPIC_MMIO	0x0049	/* RSI = gpa, RDX = HVMETAL_IO_*, RCX = value -> RDX = value */
#define HVMETAL_HC_VM_IOAPIC_GET_STATE	0x004a	/* RSI = hv_ioapic_state_ext_t * */
#define HVMETAL_HC_VM_IOAPIC_PUT_STATE	0x004b	/* RSI = const hv_ioapic_state_ext_t * */
#define HVMETAL_HC_VM_ATPIC_IRQ		0x004c	/* RSI = irq, RDX = HVMETAL_IRQ_ASSERT / DEASSERT */
#define HVMETAL_HC_VM_ATPIC_PORT	0x004d	/* RSI = port, RDX = HVMETAL_IO_*, RCX = value -> RDX = value */
#define HVMETAL_HC_VM_ATPIC_GET_STATE	0x004e	/* RSI = hv_atpic_state_ext_t *, RDX = is_primary */
#define HVMETAL_HC_VM_ATPIC_PUT_STATE	0x004f	/* RSI = const hv_atpic_state_ext_t *, RDX = is_primary */
#define HVMETAL_HC_COUNT		0x0050

/*
 * Or'ed into RAX: the call's pointer arguments are user addresses of the
 * caller's current process, checked as CPL 3 accesses (U/S on every level):
 * a kernel driver forwarding a process's call cannot be made to touch kernel
 * memory.  Any other bit above the call number is HV_UNSUPPORTED.
 */
#define HVMETAL_HC_USER			0x10000
#define HVMETAL_HC_NR_MASK		0xffff

/* VCPU_MSR_ACCESS operations */
#define HVMETAL_MSR_NATIVE		0	/* R8 = enable: hv_vcpu_enable_native_msr */
#define HVMETAL_MSR_MANAGED		1	/* R8 = enable: hv_vcpu_enable_managed_msr */
#define HVMETAL_MSR_ACCESS		2	/* R8 = hv_msr_flags_t: hv_vcpu_set_msr_access */

/*
 * VCPU_RUN: RCX = HVMETAL_RUN_EVERY_EXIT (hv_vcpu_run) or HVMETAL_RUN_UNTIL
 * (hv_vcpu_run_until, RDX = deadline in TSC ticks or HV_DEADLINE_FOREVER),
 * plus HVMETAL_RUN_SET_RIP to write R9 to the guest RIP first (libhv defers
 * the VMM's RIP writes to the next run: one call per exit instead of two).
 * Returns RAX = hv_return_t and, on HV_SUCCESS, the exit the VMM sees: RDX =
 * exit reason, RSI = exit qualification, RDI = VM-exit instruction length,
 * R8 = guest RIP, R9 = hv_vm_exitinfo_t (hv_vcpu_exit_info), RCX = the APIC
 * register's value when R9 is HV_VM_EXITINFO_APIC_ACCESS_READ.  RAX = HVMETAL_RUN_AGAIN: an interrupt for the control
 * domain ended a run_until; the caller takes it and calls again (RDX..R8 then
 * hold VMX_REASON_IRQ, 0, 0 and the guest RIP: a caller that ends the run
 * there instead, for a signal, reports them as hv_vcpu_interrupt would).
 */
#define HVMETAL_RUN_EVERY_EXIT		0
#define HVMETAL_RUN_UNTIL		1
#define HVMETAL_RUN_MODE		0xff
#define HVMETAL_RUN_SET_RIP		0x100
#define HVMETAL_RUN_AGAIN		0x00000001u

/* The operations of the APIC calls above */
#define HVMETAL_IRQ_DEASSERT		0
#define HVMETAL_IRQ_ASSERT		1
#define HVMETAL_IRQ_PULSE		2
#define HVMETAL_IO_READ			0
#define HVMETAL_IO_WRITE		1

/* VCPU_TIME */
#define HVMETAL_TIME_EXEC		0
#define HVMETAL_TIME_IDLE		1

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

/*
 * VCPU_EXIT_INFO: what Apple's hv_vcpu_exit_* accessors return about the last
 * run or APIC write.  code is hv_vm_exitinfo_t; the other fields are meaningful
 * for the code that fills them.
 */
struct hvmetal_exit_info {
	uint32_t code;
	uint32_t apic_value;		/* APIC_ACCESS_READ: the register's value */
	uint64_t targets;		/* INIT_AP, STARTUP_AP: bit i = vCPU i */
	uint64_t ap_rip;		/* STARTUP_AP: SIPI vector << 12 */
	uint8_t vector;			/* IOAPIC_EOI: the vector; INJECT_EXCP: the exception */
	uint8_t excp_valid;		/* INJECT_EXCP: the error code is valid */
	uint8_t excp_restart;		/* INJECT_EXCP: re-execute the instruction */
	uint8_t reserved;
	uint32_t excp_code;
};

/* VCPU_APIC_LSC: one load-store-cache entry (hv_vcpu_apic_lsc_enter_*). */
#define HVMETAL_LSC_LOAD_R32		0
#define HVMETAL_LSC_STORE_R32		1
#define HVMETAL_LSC_STORE_IMM32		2
struct hvmetal_lsc_entry {
	uint64_t rip;
	uint32_t ilen;
	uint16_t cs;
	uint8_t kind;			/* HVMETAL_LSC_* */
	uint8_t count;			/* valid entries in uva, 0..2 */
	uint32_t reg;			/* hv_x86_reg_t, the r32 kinds */
	uint32_t imm;			/* STORE_IMM32 */
	uint64_t uva[2];		/* the caller's pages holding the instruction bytes */
};

struct hvmetal_vm_stats {
	uint64_t spaces;		/* address spaces, the default one included */
	uint64_t table_pages;		/* EPT table pages over all spaces */
	uint64_t pool_free;		/* bytes free in hvmetal's pool */
};

#endif
