/*
 * Host test of the public Hypervisor.framework headers (include/Hypervisor).
 *
 * Checks, at compile time where possible and again at run time, that the
 * names, values, types, struct layouts and function signatures are Apple's
 * (macOS 11.3 SDK headers, macOS 12+ hv.h/hv_types.h/hv_intr.h, Apple's
 * current reference), and that VMCS encodings and exit reasons are
 * Intel's (SDM vol. 3, appendices B and C).
 *
 * Nothing here calls the API: the test links only cmocka.  Signatures are
 * compared with __typeof__, which never references the symbols.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <Hypervisor/hv.h>
#include <Hypervisor/Hypervisor.h>	/* umbrella: must coexist with hv.h */
#include <hvmetal/abi.h>

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define SAME_TYPE(a, b)	__builtin_types_compatible_p(a, b)

/* --- Compile-time checks -------------------------------------------- */

/*
 * Return codes: Apple's hv_return_t is mach_error_t, a signed 32-bit int, and
 * the codes are int enumerators whose bits spell 0xfae940xx (negative).
 */
#define BITS(x)	((uint32_t)(x))
_Static_assert(sizeof(hv_return_t) == 4, "hv_return_t size");
_Static_assert((hv_return_t)-1 < 0, "hv_return_t is signed");
_Static_assert(SAME_TYPE(__typeof__(HV_ERROR), int), "codes are int enumerators");
_Static_assert(SAME_TYPE(__typeof__(HV_SUCCESS), int), "codes are int enumerators");
_Static_assert(HV_SUCCESS == 0, "HV_SUCCESS");
_Static_assert(HV_ERROR < 0 && HV_UNSUPPORTED < 0, "error codes are negative");
_Static_assert(BITS(HV_ERROR) == 0xfae94001U, "HV_ERROR");
_Static_assert(BITS(HV_BUSY) == 0xfae94002U, "HV_BUSY");
_Static_assert(BITS(HV_BAD_ARGUMENT) == 0xfae94003U, "HV_BAD_ARGUMENT");
_Static_assert(BITS(HV_NO_RESOURCES) == 0xfae94005U, "HV_NO_RESOURCES");
_Static_assert(BITS(HV_NO_DEVICE) == 0xfae94006U, "HV_NO_DEVICE");
_Static_assert(BITS(HV_DENIED) == 0xfae94007U, "HV_DENIED");
_Static_assert(BITS(HV_FAULT) == 0xfae94008U, "HV_FAULT");
_Static_assert(BITS(HV_UNSUPPORTED) == 0xfae9400fU, "HV_UNSUPPORTED");
/* Mach layout: system 0x3e (bits 31:26), subsystem 0xba5 (25:14), code. */
_Static_assert((BITS(HV_ERROR) >> 26) == 0x3e && ((BITS(HV_ERROR) >> 14) & 0xfff) == 0xba5,
	"err_local | err_sub(0xba5)");
/* The hypercall ABI: RAX holds the code zero-extended, as before the change. */
_Static_assert(HVMETAL_RAX(HV_BAD_ARGUMENT) == 0x00000000fae94003ULL, "RAX bits");
_Static_assert(HVMETAL_RAX(HV_SUCCESS) == 0, "RAX success");
_Static_assert(SAME_TYPE(__typeof__(HVMETAL_RAX(HV_ERROR)), uint64_t), "RAX type");

/* Scalar types, exactly as Apple declares them. */
_Static_assert(SAME_TYPE(hv_return_t, int), "hv_return_t is mach_error_t");
_Static_assert(SAME_TYPE(hv_capability_t, uint64_t), "hv_capability_t");
_Static_assert(SAME_TYPE(hv_vm_space_t, unsigned), "hv_vm_space_t");
_Static_assert(SAME_TYPE(hv_vm_options_t, uint64_t), "hv_vm_options_t");
_Static_assert(SAME_TYPE(hv_vcpu_options_t, uint64_t), "hv_vcpu_options_t");
_Static_assert(SAME_TYPE(hv_memory_flags_t, uint64_t), "hv_memory_flags_t");
_Static_assert(SAME_TYPE(hv_msr_flags_t, uint32_t), "hv_msr_flags_t");
_Static_assert(SAME_TYPE(hv_ion_flags_t, uint32_t), "hv_ion_flags_t");
_Static_assert(SAME_TYPE(mach_port_t, uint32_t), "mach_port_t");
_Static_assert(SAME_TYPE(hv_vcpuid_t, unsigned), "hv_vcpuid_t");
_Static_assert(SAME_TYPE(hv_uvaddr_t, const void *), "hv_uvaddr_t");
_Static_assert(SAME_TYPE(hv_gpaddr_t, uint64_t), "hv_gpaddr_t");
_Static_assert(SAME_TYPE(hv_vm_exitinfo_t, uint32_t), "hv_vm_exitinfo_t");
_Static_assert(SAME_TYPE(hv_apic_ctrl_t, uint64_t), "hv_apic_ctrl_t");
_Static_assert(SAME_TYPE(hv_apic_lvt_flavor_t, uint32_t), "lvt flavor");
_Static_assert(SAME_TYPE(hv_apic_intr_trigger_t, uint32_t), "trigger");
_Static_assert(SAME_TYPE(hv_shadow_flags_t, uint64_t), "hv_shadow_flags_t");
_Static_assert(SAME_TYPE(hv_vmx_msr_info_t, uint64_t), "hv_vmx_msr_info_t");
_Static_assert(SAME_TYPE(hv_allocate_flags_t, uint64_t), "allocate flags");
_Static_assert(sizeof(hv_x86_reg_t) == 4, "hv_x86_reg_t size");
_Static_assert(sizeof(hv_vmx_capability_t) == 4, "hv_vmx_capability_t");

/*
 * Underlying types, as Apple's declarations give them (clang and gcc pick
 * unsigned int for an enum without negative values; Apple's Swift overlay
 * shows hv_x86_reg_t and hv_vmx_capability_t with a UInt32 raw value).
 */
_Static_assert(SAME_TYPE(hv_x86_reg_t, unsigned int), "hv_x86_reg_t: enum, unsigned int");
_Static_assert((hv_x86_reg_t)-1 > 0, "hv_x86_reg_t is unsigned");
_Static_assert(SAME_TYPE(hv_vmx_capability_t, unsigned int), "hv_vmx_capability_t: enum");
_Static_assert(sizeof(enum hv_boot_state) == 4 && (enum hv_boot_state)-1 > 0,
	"enum hv_boot_state: uint32_t-sized, unsigned");
_Static_assert(SAME_TYPE(__typeof__(((struct hv_apic_state *)0)->boot_state),
	enum hv_boot_state), "boot_state field");
/*
 * OS_ENUM(name, type, ...) is "typedef enum : type {...} name_t" where the
 * compiler has fixed enum types, else "enum {...}; typedef type name_t".
 * hvmetal takes the second form (gcc before 13 has no fixed enum types in
 * C): Apple's width for the typedef, int enumerators.
 */
_Static_assert(sizeof(hv_vm_exitinfo_t) == 4 && sizeof(hv_apic_ctrl_t) == 8 &&
	sizeof(hv_apic_lvt_flavor_t) == 4 && sizeof(hv_apic_intr_trigger_t) == 4,
	"OS_ENUM widths");
_Static_assert(SAME_TYPE(__typeof__(HV_VM_EXITINFO_VMX), int) &&
	SAME_TYPE(__typeof__(HV_APIC_CTRL_IOAPIC_EOI), int) &&
	SAME_TYPE(__typeof__(HV_APIC_LEVEL_TRIGGER), int), "OS_ENUM enumerators");
/* Anonymous-enum constants are int (Swift: Int). */
_Static_assert(SAME_TYPE(__typeof__(HV_MEMORY_EXEC), int) &&
	SAME_TYPE(__typeof__(HV_VM_ACCEL_APIC), int) &&
	SAME_TYPE(__typeof__(HV_VCPU_TSC_RELATIVE), int) &&
	SAME_TYPE(__typeof__(HV_CAP_VCPUMAX), int) &&
	SAME_TYPE(__typeof__(HV_MSR_WRITE), int) &&
	SAME_TYPE(__typeof__(HV_ION_ANY_SIZE), int) &&
	SAME_TYPE(__typeof__(VMCS_GUEST_RIP), int) &&
	SAME_TYPE(__typeof__(VMCS_MAX), int) &&
	SAME_TYPE(__typeof__(VMX_REASON_APIC_ACCESS), int), "int enumerators");
/* #define'd with 1u: unsigned int (Swift: UInt32); ull ones 64-bit (UInt64). */
_Static_assert(SAME_TYPE(__typeof__(PIN_BASED_NMI), unsigned int) &&
	SAME_TYPE(__typeof__(CPU_BASED_HLT), unsigned int) &&
	SAME_TYPE(__typeof__(CPU_BASED_SECONDARY_CTLS), unsigned int) &&
	SAME_TYPE(__typeof__(CPU_BASED2_VIRTUAL_APIC), unsigned int) &&
	SAME_TYPE(__typeof__(VMENTRY_GUEST_IA32E), unsigned int) &&
	SAME_TYPE(__typeof__(VMEXIT_HOST_IA32E), unsigned int) &&
	SAME_TYPE(__typeof__(VMX_EPT_VPID_SUPPORT_AD), unsigned int) &&
	SAME_TYPE(__typeof__(IRQ_INFO_VALID), unsigned int) &&
	SAME_TYPE(__typeof__(IRQ_INFO_VECTOR_MASK), unsigned int), "unsigned bits");
_Static_assert(SAME_TYPE(__typeof__(VMX_BASIC_TRUE_CTLS), unsigned long long) &&
	SAME_TYPE(__typeof__(GUEST_INTRBILITY_NMI_BLOCKING), unsigned long long),
	"64-bit bits");
/* Apple: enum { HV_DEADLINE_FOREVER = (~0ull) }, a 64-bit all-ones value. */
_Static_assert(SAME_TYPE(__typeof__(HV_DEADLINE_FOREVER), uint64_t), "deadline type");
/* #define HV_*_STATE_EXT_VER (100): int. */
_Static_assert(SAME_TYPE(__typeof__(HV_APIC_STATE_EXT_VER), int), "ext ver type");

/* Flag and option values. */
_Static_assert(HV_MEMORY_READ == 1 && HV_MEMORY_WRITE == 2 &&
	HV_MEMORY_EXEC == 4 && HV_MEMORY_UEXEC == 8, "memory flags");
_Static_assert(HV_MEMORY_MAXPROT == 0x10 && HV_MEMORY_MAXPROT_READ == 0x20 &&
	HV_MEMORY_MAXPROT_WRITE == 0x40 && HV_MEMORY_MAXPROT_EXEC == 0x80 &&
	HV_MEMORY_MAXPROT_UEXEC == 0x100, "maxprot flags");
_Static_assert(HV_CAP_VCPUMAX == 0 && HV_CAP_ADDRSPACEMAX == 1, "caps");
_Static_assert(HV_VM_SPACE_DEFAULT == 0, "default space");
_Static_assert(HV_VM_DEFAULT == 0 && HV_VM_SPECIFY_MITIGATIONS == 1 &&
	HV_VM_MITIGATION_A_ENABLE == 2 && HV_VM_MITIGATION_B_ENABLE == 4 &&
	HV_VM_MITIGATION_C_ENABLE == 8 && HV_VM_MITIGATION_D_ENABLE == 0x10 &&
	HV_VM_MITIGATION_E_ENABLE == 0x40 && HV_VM_ACCEL_APIC == 0x400,
	"vm options");
_Static_assert(HV_VCPU_DEFAULT == 0 && HV_VCPU_ACCEL_RDPMC == 1 &&
	HV_VCPU_TSC_RELATIVE == 2, "vcpu options");
_Static_assert(HV_MSR_NONE == 0 && HV_MSR_READ == 1 && HV_MSR_WRITE == 2,
	"msr flags");
_Static_assert(kHV_ION_NONE == 0 && kHV_ION_ANY_VALUE == 2 &&
	kHV_ION_ANY_SIZE == 4 && kHV_ION_EXIT_FULL == 8, "kHV_ION");
_Static_assert(HV_ION_NONE == 0 && HV_ION_ANY_VALUE == 2 &&
	HV_ION_ANY_SIZE == 4 && HV_ION_EXIT_FULL == 8, "HV_ION");
_Static_assert(HV_VM_EXITINFO_VMX == 1 && HV_VM_EXITINFO_INIT_AP == 2 &&
	HV_VM_EXITINFO_STARTUP_AP == 3 && HV_VM_EXITINFO_IOAPIC_EOI == 4 &&
	HV_VM_EXITINFO_INJECT_EXCP == 5 && HV_VM_EXITINFO_SMI == 6 &&
	HV_VM_EXITINFO_APIC_ACCESS_READ == 7, "exitinfo");
_Static_assert(HV_APIC_CTRL_DEFAULT == 0 && HV_APIC_CTRL_EOI_ICR_TPR == 1 &&
	HV_APIC_CTRL_GUEST_IDLE == 2 && HV_APIC_CTRL_NO_TIMER == 4 &&
	HV_APIC_CTRL_IOAPIC_EOI == 8, "apic ctrl");
_Static_assert(HV_APIC_LVT_FLAVOR_TIMER == 1, "lvt flavor");
_Static_assert(HV_APIC_EDGE_TRIGGER == 0 && HV_APIC_EDGE_TRIGGER_AEOI == 1 &&
	HV_APIC_LEVEL_TRIGGER == 2, "triggers");
_Static_assert(HV_DEADLINE_FOREVER == UINT64_MAX, "deadline forever");
_Static_assert(HV_ALLOCATE_DEFAULT == 0, "allocate default");
_Static_assert(HV_SHADOW_VMCS_NONE == 0 && HV_SHADOW_VMCS_READ == 1 &&
	HV_SHADOW_VMCS_WRITE == 2, "shadow flags");
_Static_assert(HV_APIC_STATE_EXT_VER == 100 && HV_IOAPIC_STATE_EXT_VER == 100 &&
	HV_ATPIC_STATE_EXT_VER == 100, "state versions");
_Static_assert(HV_BS_INIT == 0 && HV_BS_SIPI == 1 && HV_BS_RUNNING == 2,
	"boot states");

/* VMX capability IDs. */
_Static_assert(HV_VMX_CAP_PINBASED == 0 && HV_VMX_CAP_PROCBASED == 1 &&
	HV_VMX_CAP_PROCBASED2 == 2 && HV_VMX_CAP_ENTRY == 3 &&
	HV_VMX_CAP_EXIT == 4 && HV_VMX_CAP_BASIC == 5 &&
	HV_VMX_CAP_TRUE_PINBASED == 6 && HV_VMX_CAP_TRUE_PROCBASED == 7 &&
	HV_VMX_CAP_TRUE_ENTRY == 8 && HV_VMX_CAP_TRUE_EXIT == 9 &&
	HV_VMX_CAP_MISC == 10 && HV_VMX_CAP_CR0_FIXED0 == 11 &&
	HV_VMX_CAP_CR0_FIXED1 == 12 && HV_VMX_CAP_CR4_FIXED0 == 13 &&
	HV_VMX_CAP_CR4_FIXED1 == 14 && HV_VMX_CAP_VMCS_ENUM == 15 &&
	HV_VMX_CAP_EPT_VPID_CAP == 16 && HV_VMX_CAP_PREEMPTION_TIMER == 32,
	"vmx capability ids");
_Static_assert(HV_VMX_INFO_MSR_IA32_ARCH_CAPABILITIES == 0 &&
	HV_VMX_INFO_MSR_IA32_PERF_CAPABILITIES == 1 &&
	HV_VMX_VALID_MSR_IA32_PERFEVNTSEL == 2 &&
	HV_VMX_VALID_MSR_IA32_FIXED_CTR_CTRL == 3 &&
	HV_VMX_VALID_MSR_IA32_PERF_GLOBAL_CTRL == 4 &&
	HV_VMX_VALID_MSR_IA32_PERF_GLOBAL_STATUS == 5 &&
	HV_VMX_VALID_MSR_IA32_DEBUGCTL == 6 &&
	HV_VMX_VALID_MSR_IA32_SPEC_CTRL == 7 &&
	HV_VMX_NEED_MSR_IA32_SPEC_CTRL == 8, "msr info ids");

/* Register order: a few anchors (the full table is checked at run time). */
_Static_assert(HV_X86_RIP == 0 && HV_X86_RFLAGS == 1 && HV_X86_RAX == 2,
	"register order");
_Static_assert(HV_X86_R15 == 17 && HV_X86_CS == 18 && HV_X86_GS == 23,
	"register order");
_Static_assert(HV_X86_CR0 == 36 && HV_X86_CR3 == 39 && HV_X86_DR7 == 48,
	"register order");
_Static_assert(HV_X86_TPR == 49 && HV_X86_XCR0 == 50 &&
	HV_X86_REGISTERS_MAX == 51, "register order");

/* VMCS encodings: Intel SDM vol. 3 appendix B. */
_Static_assert(VMCS_VPID == 0x0000, "VPID");
_Static_assert(VMCS_GUEST_ES == 0x0800 && VMCS_GUEST_TR == 0x080e, "sel");
_Static_assert(VMCS_HOST_CS == 0x0c02, "host CS");
_Static_assert(VMCS_CTRL_IO_BITMAP_A == 0x2000, "I/O bitmap A");
_Static_assert(VMCS_CTRL_MSR_BITMAPS == 0x2004, "MSR bitmaps");
_Static_assert(VMCS_CTRL_TSC_OFFSET == 0x2010, "TSC offset");
_Static_assert(VMCS_CTRL_APIC_ACCESS == 0x2014, "APIC-access address");
_Static_assert(VMCS_CTRL_EPTP == 0x201a, "EPTP");
_Static_assert(VMCS_GUEST_PHYSICAL_ADDRESS == 0x2400, "guest-physical");
_Static_assert(VMCS_GUEST_LINK_POINTER == 0x2800, "link pointer");
_Static_assert(VMCS_GUEST_IA32_EFER == 0x2806, "guest EFER");
_Static_assert(VMCS_HOST_IA32_EFER == 0x2c02, "host EFER");
_Static_assert(VMCS_CTRL_PIN_BASED == 0x4000, "pin-based");
_Static_assert(VMCS_CTRL_CPU_BASED == 0x4002, "primary proc-based");
_Static_assert(VMCS_CTRL_EXC_BITMAP == 0x4004, "exception bitmap");
_Static_assert(VMCS_CTRL_VMEXIT_CONTROLS == 0x400c, "exit controls");
_Static_assert(VMCS_CTRL_VMENTRY_CONTROLS == 0x4012, "entry controls");
_Static_assert(VMCS_CTRL_VMENTRY_IRQ_INFO == 0x4016, "entry intr info");
_Static_assert(VMCS_CTRL_CPU_BASED2 == 0x401e, "secondary proc-based");
_Static_assert(VMCS_RO_INSTR_ERROR == 0x4400, "VM-instruction error");
_Static_assert(VMCS_RO_EXIT_REASON == 0x4402, "exit reason");
_Static_assert(VMCS_RO_VMEXIT_IRQ_INFO == 0x4404, "exit intr info");
_Static_assert(VMCS_RO_IDT_VECTOR_INFO == 0x4408, "IDT-vectoring info");
_Static_assert(VMCS_RO_VMEXIT_INSTR_LEN == 0x440c, "instruction length");
_Static_assert(VMCS_GUEST_CS_AR == 0x4816, "guest CS AR");
_Static_assert(VMCS_GUEST_INTERRUPTIBILITY == 0x4824, "interruptibility");
_Static_assert(VMCS_GUEST_IGNORE_IRQ == VMCS_GUEST_INTERRUPTIBILITY, "alias");
_Static_assert(VMCS_GUEST_ACTIVITY_STATE == 0x4826, "activity state");
_Static_assert(VMCS_GUEST_VMX_TIMER_VALUE == 0x482e, "preemption timer");
_Static_assert(VMCS_CTRL_CR0_MASK == 0x6000, "CR0 mask");
_Static_assert(VMCS_CTRL_CR4_SHADOW == 0x6006, "CR4 shadow");
_Static_assert(VMCS_RO_EXIT_QUALIFIC == 0x6400, "exit qualification");
_Static_assert(VMCS_RO_GUEST_LIN_ADDR == 0x640a, "guest-linear");
_Static_assert(VMCS_GUEST_CR0 == 0x6800, "guest CR0");
_Static_assert(VMCS_GUEST_CR3 == 0x6802, "guest CR3");
_Static_assert(VMCS_GUEST_RSP == 0x681c, "guest RSP");
_Static_assert(VMCS_GUEST_RIP == 0x681e, "guest RIP");
_Static_assert(VMCS_GUEST_RFLAGS == 0x6820, "guest RFLAGS");
_Static_assert(VMCS_GUEST_SSP == 0x682a, "guest SSP");
_Static_assert(VMCS_HOST_CR3 == 0x6c02, "host CR3");
_Static_assert(VMCS_HOST_RSP == 0x6c14 && __VMCS_HOST_RSP == 0x6c14, "host RSP");
_Static_assert(VMCS_HOST_RIP == 0x6c16, "host RIP");
_Static_assert(VMCS_MAX == 0x6d00 && VMCS_INVALID == VMCS_MAX, "VMCS_MAX");

/* Exit reasons: Intel SDM vol. 3 appendix C. */
_Static_assert(VMX_REASON_EXC_NMI == 0, "exception or NMI");
_Static_assert(VMX_REASON_IRQ == 1, "external interrupt");
_Static_assert(VMX_REASON_TRIPLE_FAULT == 2, "triple fault");
_Static_assert(VMX_REASON_IRQ_WND == 7, "interrupt window");
_Static_assert(VMX_REASON_CPUID == 10, "CPUID");
_Static_assert(VMX_REASON_HLT == 12, "HLT");
_Static_assert(VMX_REASON_VMCALL == 18, "VMCALL");
_Static_assert(VMX_REASON_MOV_CR == 28, "CR access");
_Static_assert(VMX_REASON_IO == 30, "I/O instruction");
_Static_assert(VMX_REASON_RDMSR == 31 && VMX_REASON_WRMSR == 32, "MSRs");
_Static_assert(VMX_REASON_VMENTRY_GUEST == 33, "invalid guest state");
_Static_assert(VMX_REASON_APIC_ACCESS == 44, "APIC access");
_Static_assert(VMX_REASON_EPT_VIOLATION == 48, "EPT violation");
_Static_assert(VMX_REASON_EPT_MISCONFIG == 49, "EPT misconfiguration");
_Static_assert(VMX_REASON_VMX_TIMER_EXPIRED == 52, "preemption timer");
_Static_assert(VMX_REASON_XSETBV == 55, "XSETBV");
_Static_assert(VMX_REASON_TPAUSE == 68, "TPAUSE");

/* Control bits: Intel SDM vol. 3 section 25.6 / 25.7 / 25.8. */
_Static_assert(PIN_BASED_INTR == 0x1 && PIN_BASED_NMI == 0x8 &&
	PIN_BASED_VIRTUAL_NMI == 0x20 && PIN_BASED_PREEMPTION_TIMER == 0x40 &&
	PIN_BASED_POSTED_INTR == 0x80, "pin-based");
_Static_assert(CPU_BASED_IRQ_WND == 0x4 && CPU_BASED_HLT == 0x80 &&
	CPU_BASED_TPR_SHADOW == 0x200000 && CPU_BASED_UNCOND_IO == 0x1000000 &&
	CPU_BASED_IO_BITMAPS == 0x2000000 && CPU_BASED_MSR_BITMAPS == 0x10000000 &&
	CPU_BASED_SECONDARY_CTLS == 0x80000000U, "primary proc-based");
_Static_assert(CPU_BASED2_VIRTUAL_APIC == 0x1 && CPU_BASED2_EPT == 0x2 &&
	CPU_BASED2_RDTSCP == 0x8 && CPU_BASED2_VPID == 0x20 &&
	CPU_BASED2_UNRESTRICTED == 0x80 && CPU_BASED2_INVPCID == 0x1000 &&
	CPU_BASED2_XSAVES_XRSTORS == 0x100000 &&
	CPU_BASED2_EPT_MODE_BASED_EXEC == 0x400000 &&
	CPU_BASED2_ENCLV_EXIT_MAP == 0x10000000, "secondary proc-based");
_Static_assert(VMEXIT_SAVE_DBG_CONTROLS == 0x4 && VMEXIT_HOST_IA32E == 0x200 &&
	VMEXIT_ACK_INTR == 0x8000 && VMEXIT_LOAD_EFER == 0x200000 &&
	VMEXIT_SAVE_VMX_TIMER == 0x400000 && VMEXIT_LOAD_PKRS == 0x20000000,
	"exit controls");
_Static_assert(VMENTRY_LOAD_DBG_CONTROLS == 0x4 &&
	VMENTRY_GUEST_IA32E == 0x200 && VMENTRY_LOAD_EFER == 0x8000 &&
	VMENTRY_LOAD_CET_STATE == 0x100000 && VMENTRY_LOAD_PKRS == 0x400000,
	"entry controls");
_Static_assert(VMX_BASIC_TRUE_CTLS == (1ULL << 55), "VMX_BASIC_TRUE_CTLS");
_Static_assert(VMX_EPT_VPID_SUPPORT_EXONLY == 0x1 &&
	VMX_EPT_VPID_SUPPORT_AD == 0x200000 &&
	VMX_EPT_VPID_ADV_VMEXIT_INFO == 0x400000, "EPT/VPID cap bits");
_Static_assert(IRQ_INFO_VECTOR_MASK == 0xff && IRQ_INFO_EXT_IRQ == 0 &&
	IRQ_INFO_NMI == 0x200 && IRQ_INFO_HARD_EXC == 0x300 &&
	IRQ_INFO_SOFT_IRQ == 0x400 && IRQ_INFO_PRIV_SOFT_EXC == 0x500 &&
	IRQ_INFO_SOFT_EXC == 0x600 && IRQ_INFO_TYPE_MASK == 0x700 &&
	IRQ_INFO_ERROR_VALID == 0x800 && IRQ_INFO_VALID == 0x80000000U,
	"interruption information");
_Static_assert(GUEST_INTRBILITY_STI_BLOCKING == 1 &&
	GUEST_INTRBILITY_MOVSS_BLOCKING == 2 &&
	GUEST_INTRBILITY_SMI_BLOCKING == 4 &&
	GUEST_INTRBILITY_NMI_BLOCKING == 8, "interruptibility bits");

/* MSR numbers. */
_Static_assert(HV_MSR_IA32_TSC == 0x10 && HV_MSR_IA32_SPEC_CTRL == 0x48 &&
	HV_MSR_IA32_PMC7 == 0xc8 && HV_MSR_IA32_SYSENTER_CS == 0x174 &&
	HV_MSR_IA32_DEBUGCTL == 0x1d9 && HV_MSR_IA32_A_PMC7 == 0x4c8 &&
	HV_MSR_LASTBRANCH_31_FROM_IP == 0x69f &&
	HV_MSR_LASTBRANCH_INFO_31 == 0xddf, "low MSRs");
_Static_assert(HV_MSR_IA32_EFER == 0xc0000080U &&
	HV_MSR_IA32_LSTAR == 0xc0000082U && HV_MSR_IA32_FMASK == 0xc0000084U &&
	HV_MSR_IA32_FS_BASE == 0xc0000100U &&
	HV_MSR_IA32_KERNEL_GS_BASE == 0xc0000102U &&
	HV_MSR_IA32_TSC_AUX == 0xc0000103U, "AMD64 MSRs");

/* hv_apic_state (240 bytes) and hv_apic_state_ext_t (248). */
_Static_assert(offsetof(struct hv_apic_state, apic_gpa) == 0, "apic");
_Static_assert(offsetof(struct hv_apic_state, apic_controls) == 8, "apic");
_Static_assert(offsetof(struct hv_apic_state, tsc_deadline) == 16, "apic");
_Static_assert(offsetof(struct hv_apic_state, apic_id) == 24, "apic");
_Static_assert(offsetof(struct hv_apic_state, ver) == 28, "apic");
_Static_assert(offsetof(struct hv_apic_state, tpr) == 32, "apic");
_Static_assert(offsetof(struct hv_apic_state, apr) == 36, "apic");
_Static_assert(offsetof(struct hv_apic_state, ldr) == 40, "apic");
_Static_assert(offsetof(struct hv_apic_state, dfr) == 44, "apic");
_Static_assert(offsetof(struct hv_apic_state, svr) == 48, "apic");
_Static_assert(offsetof(struct hv_apic_state, isr) == 52, "apic");
_Static_assert(offsetof(struct hv_apic_state, tmr) == 84, "apic");
_Static_assert(offsetof(struct hv_apic_state, irr) == 116, "apic");
_Static_assert(offsetof(struct hv_apic_state, esr) == 148, "apic");
_Static_assert(offsetof(struct hv_apic_state, lvt) == 152, "apic");
_Static_assert(offsetof(struct hv_apic_state, icr) == 180, "apic");
_Static_assert(offsetof(struct hv_apic_state, icr_timer) == 188, "apic");
_Static_assert(offsetof(struct hv_apic_state, dcr_timer) == 192, "apic");
_Static_assert(offsetof(struct hv_apic_state, ccr_timer) == 196, "apic");
_Static_assert(offsetof(struct hv_apic_state, esr_pending) == 200, "apic");
_Static_assert(offsetof(struct hv_apic_state, boot_state) == 204, "apic");
_Static_assert(offsetof(struct hv_apic_state, aeoi) == 208, "apic");
_Static_assert(sizeof(struct hv_apic_state) == 240, "apic size");
_Static_assert(offsetof(hv_apic_state_ext_t, version) == 0, "apic ext");
_Static_assert(offsetof(hv_apic_state_ext_t, state) == 8, "apic ext");
_Static_assert(sizeof(hv_apic_state_ext_t) == 248, "apic ext size");

/* hv_ioapic_state (272) and hv_ioapic_state_ext_t (280). */
_Static_assert(offsetof(struct hv_ioapic_state, rtbl) == 0, "ioapic");
_Static_assert(offsetof(struct hv_ioapic_state, irr) == 256, "ioapic");
_Static_assert(offsetof(struct hv_ioapic_state, ioa_id) == 260, "ioapic");
_Static_assert(offsetof(struct hv_ioapic_state, ioregsel) == 264, "ioapic");
_Static_assert(sizeof(struct hv_ioapic_state) == 272, "ioapic size");
_Static_assert(offsetof(hv_ioapic_state_ext_t, state) == 8, "ioapic ext");
_Static_assert(sizeof(hv_ioapic_state_ext_t) == 280, "ioapic ext size");

/* hv_atpic_state (16, byte aligned) and hv_atpic_state_ext_t (20). */
_Static_assert(offsetof(struct hv_atpic_state, ready) == 0, "atpic");
_Static_assert(offsetof(struct hv_atpic_state, icw_num) == 1, "atpic");
_Static_assert(offsetof(struct hv_atpic_state, rd_cmd_reg) == 2, "atpic");
_Static_assert(offsetof(struct hv_atpic_state, aeoi) == 3, "atpic");
_Static_assert(offsetof(struct hv_atpic_state, poll) == 4, "atpic");
_Static_assert(offsetof(struct hv_atpic_state, rotate) == 5, "atpic");
_Static_assert(offsetof(struct hv_atpic_state, sfn) == 6, "atpic");
_Static_assert(offsetof(struct hv_atpic_state, irq_base) == 7, "atpic");
_Static_assert(offsetof(struct hv_atpic_state, request) == 8, "atpic");
_Static_assert(offsetof(struct hv_atpic_state, service) == 9, "atpic");
_Static_assert(offsetof(struct hv_atpic_state, mask) == 10, "atpic");
_Static_assert(offsetof(struct hv_atpic_state, smm) == 11, "atpic");
_Static_assert(offsetof(struct hv_atpic_state, last_request) == 12, "atpic");
_Static_assert(offsetof(struct hv_atpic_state, lowprio) == 13, "atpic");
_Static_assert(offsetof(struct hv_atpic_state, intr_raised) == 14, "atpic");
_Static_assert(offsetof(struct hv_atpic_state, elc) == 15, "atpic");
_Static_assert(sizeof(struct hv_atpic_state) == 16, "atpic size");
_Static_assert(_Alignof(struct hv_atpic_state) == 1, "atpic align");
_Static_assert(offsetof(hv_atpic_state_ext_t, state) == 4, "atpic ext");
_Static_assert(sizeof(hv_atpic_state_ext_t) == 20, "atpic ext size");

/* Function signatures: Apple's parameter types and const-ness. */
#define CHECK_SIG(fn, type) \
	_Static_assert(SAME_TYPE(__typeof__(&fn), type), #fn " signature")

CHECK_SIG(hv_capability, hv_return_t (*)(hv_capability_t, uint64_t *));
CHECK_SIG(hv_vm_create, hv_return_t (*)(hv_vm_options_t));
CHECK_SIG(hv_vm_destroy, hv_return_t (*)(void));
CHECK_SIG(hv_vm_space_create, hv_return_t (*)(hv_vm_space_t *));
CHECK_SIG(hv_vm_space_destroy, hv_return_t (*)(hv_vm_space_t));
CHECK_SIG(hv_vm_map, hv_return_t (*)(hv_uvaddr_t, hv_gpaddr_t, size_t,
	hv_memory_flags_t));
CHECK_SIG(hv_vm_unmap, hv_return_t (*)(hv_gpaddr_t, size_t));
CHECK_SIG(hv_vm_protect, hv_return_t (*)(hv_gpaddr_t, size_t,
	hv_memory_flags_t));
CHECK_SIG(hv_vm_map_space, hv_return_t (*)(hv_vm_space_t, hv_uvaddr_t,
	hv_gpaddr_t, size_t, hv_memory_flags_t));
CHECK_SIG(hv_vm_unmap_space, hv_return_t (*)(hv_vm_space_t, hv_gpaddr_t,
	size_t));
CHECK_SIG(hv_vm_protect_space, hv_return_t (*)(hv_vm_space_t, hv_gpaddr_t,
	size_t, hv_memory_flags_t));
CHECK_SIG(hv_vm_sync_tsc, hv_return_t (*)(uint64_t));
CHECK_SIG(hv_vm_add_pio_notifier, hv_return_t (*)(uint16_t, size_t,
	uint32_t, mach_port_t, hv_ion_flags_t));
CHECK_SIG(hv_vm_remove_pio_notifier, hv_return_t (*)(uint16_t, size_t,
	uint32_t, mach_port_t, hv_ion_flags_t));
CHECK_SIG(hv_vcpu_create, hv_return_t (*)(hv_vcpuid_t *, hv_vcpu_options_t));
CHECK_SIG(hv_vcpu_destroy, hv_return_t (*)(hv_vcpuid_t));
CHECK_SIG(hv_vcpu_set_space, hv_return_t (*)(hv_vcpuid_t, hv_vm_space_t));
CHECK_SIG(hv_vcpu_read_register, hv_return_t (*)(hv_vcpuid_t, hv_x86_reg_t,
	uint64_t *));
CHECK_SIG(hv_vcpu_write_register, hv_return_t (*)(hv_vcpuid_t, hv_x86_reg_t,
	uint64_t));
CHECK_SIG(hv_vcpu_read_fpstate, hv_return_t (*)(hv_vcpuid_t, void *, size_t));
CHECK_SIG(hv_vcpu_write_fpstate, hv_return_t (*)(hv_vcpuid_t, void *, size_t));
CHECK_SIG(hv_vcpu_enable_native_msr, hv_return_t (*)(hv_vcpuid_t, uint32_t,
	bool));
CHECK_SIG(hv_vcpu_enable_managed_msr, hv_return_t (*)(hv_vcpuid_t, uint32_t,
	bool));
CHECK_SIG(hv_vcpu_set_msr_access, hv_return_t (*)(hv_vcpuid_t, uint32_t,
	hv_msr_flags_t));
CHECK_SIG(hv_vcpu_read_msr, hv_return_t (*)(hv_vcpuid_t, uint32_t,
	uint64_t *));
CHECK_SIG(hv_vcpu_write_msr, hv_return_t (*)(hv_vcpuid_t, uint32_t,
	uint64_t));
CHECK_SIG(hv_vcpu_flush, hv_return_t (*)(hv_vcpuid_t));
CHECK_SIG(hv_vcpu_invalidate_tlb, hv_return_t (*)(hv_vcpuid_t));
CHECK_SIG(hv_vcpu_run, hv_return_t (*)(hv_vcpuid_t));
CHECK_SIG(hv_vcpu_run_until, hv_return_t (*)(hv_vcpuid_t, uint64_t));
CHECK_SIG(hv_vcpu_interrupt, hv_return_t (*)(hv_vcpuid_t *, unsigned int));
CHECK_SIG(hv_vcpu_get_exec_time, hv_return_t (*)(hv_vcpuid_t, uint64_t *));
CHECK_SIG(hv_vcpu_get_idle_time, hv_return_t (*)(hv_vcpuid_t, uint64_t *));
CHECK_SIG(hv_tsc_clock, uint64_t (*)(void));
CHECK_SIG(hv_vcpu_set_tsc_relative, hv_return_t (*)(hv_vcpuid_t, int64_t));
CHECK_SIG(hv_vcpu_vmx_status, hv_return_t (*)(hv_vcpuid_t, uint32_t *));

CHECK_SIG(hv_vmx_vcpu_read_vmcs, hv_return_t (*)(hv_vcpuid_t, uint32_t,
	uint64_t *));
CHECK_SIG(hv_vmx_vcpu_write_vmcs, hv_return_t (*)(hv_vcpuid_t, uint32_t,
	uint64_t));
CHECK_SIG(hv_vmx_vcpu_get_cap_write_vmcs, hv_return_t (*)(hv_vcpuid_t,
	uint32_t, uint64_t *, uint64_t *));
CHECK_SIG(hv_vmx_vcpu_read_shadow_vmcs, hv_return_t (*)(hv_vcpuid_t,
	uint32_t, uint64_t *));
CHECK_SIG(hv_vmx_vcpu_write_shadow_vmcs, hv_return_t (*)(hv_vcpuid_t,
	uint32_t, uint64_t));
CHECK_SIG(hv_vmx_vcpu_set_shadow_access, hv_return_t (*)(hv_vcpuid_t,
	uint32_t, hv_shadow_flags_t));
CHECK_SIG(hv_vmx_read_capability, hv_return_t (*)(hv_vmx_capability_t,
	uint64_t *));
CHECK_SIG(hv_vmx_get_msr_info, hv_return_t (*)(hv_vmx_msr_info_t,
	uint64_t *));
CHECK_SIG(hv_vmx_vcpu_set_apic_address, hv_return_t (*)(hv_vcpuid_t,
	hv_gpaddr_t));
CHECK_SIG(hv_vmx_vcpu_set_apic_address_space, hv_return_t (*)(hv_vcpuid_t,
	hv_vm_space_t, hv_gpaddr_t));

CHECK_SIG(hv_vm_allocate, hv_return_t (*)(void **, size_t,
	hv_allocate_flags_t));
CHECK_SIG(hv_vm_deallocate, hv_return_t (*)(void *, size_t));

CHECK_SIG(hv_vcpu_apic_ctrl, hv_return_t (*)(hv_vcpuid_t, hv_apic_ctrl_t));
CHECK_SIG(hv_vcpu_apic_read, hv_return_t (*)(hv_vcpuid_t, uint32_t,
	uint32_t *));
CHECK_SIG(hv_vcpu_apic_write, hv_return_t (*)(hv_vcpuid_t, uint32_t,
	uint32_t, bool *));
CHECK_SIG(hv_vcpu_apic_get_state, hv_return_t (*)(hv_vcpuid_t,
	hv_apic_state_ext_t *));
CHECK_SIG(hv_vcpu_apic_put_state, hv_return_t (*)(hv_vcpuid_t,
	const hv_apic_state_ext_t *));
CHECK_SIG(hv_vcpu_apic_trigger_lvt, hv_return_t (*)(hv_vcpuid_t,
	hv_apic_lvt_flavor_t));
CHECK_SIG(hv_vcpu_apic_lsc_enter_r32, hv_return_t (*)(hv_vcpuid_t, bool,
	uint64_t, unsigned, uint16_t, hv_x86_reg_t, uint64_t *, unsigned));
CHECK_SIG(hv_vcpu_apic_lsc_enter_imm32, hv_return_t (*)(hv_vcpuid_t,
	uint64_t, unsigned, uint16_t, uint32_t, uint64_t *, unsigned));
CHECK_SIG(hv_vcpu_apic_lsc_invalidate, hv_return_t (*)(hv_vcpuid_t));
CHECK_SIG(hv_vm_lapic_set_intr, hv_return_t (*)(hv_vcpuid_t, uint8_t,
	hv_apic_intr_trigger_t));
CHECK_SIG(hv_vm_lapic_msi, hv_return_t (*)(uint64_t, uint64_t));
CHECK_SIG(hv_vm_set_apic_bus_freq, hv_return_t (*)(uint64_t));
CHECK_SIG(hv_vcpu_inject_extint, hv_return_t (*)(hv_vcpuid_t));
CHECK_SIG(hv_vcpu_exit_info, hv_return_t (*)(hv_vcpuid_t, hv_vm_exitinfo_t *));
CHECK_SIG(hv_vcpu_exit_init_ap, hv_return_t (*)(hv_vcpuid_t, bool *,
	unsigned));
CHECK_SIG(hv_vcpu_exit_startup_ap, hv_return_t (*)(hv_vcpuid_t, bool *,
	unsigned, uint64_t *));
CHECK_SIG(hv_vcpu_exit_ioapic_eoi, hv_return_t (*)(hv_vcpuid_t, uint8_t *));
CHECK_SIG(hv_vcpu_exit_apic_access_read, hv_return_t (*)(hv_vcpuid_t,
	uint32_t *));
CHECK_SIG(hv_vcpu_exit_inject_excp, hv_return_t (*)(hv_vcpuid_t, uint8_t *,
	bool *, uint32_t *, bool *));
CHECK_SIG(hv_vm_ioapic_assert_irq, hv_return_t (*)(int));
CHECK_SIG(hv_vm_ioapic_deassert_irq, hv_return_t (*)(int));
CHECK_SIG(hv_vm_ioapic_pulse_irq, hv_return_t (*)(int));
CHECK_SIG(hv_vm_ioapic_read, hv_return_t (*)(hv_gpaddr_t, uint32_t *));
CHECK_SIG(hv_vm_ioapic_write, hv_return_t (*)(hv_gpaddr_t, uint32_t));
CHECK_SIG(hv_vm_ioapic_get_state, hv_return_t (*)(hv_ioapic_state_ext_t *));
CHECK_SIG(hv_vm_ioapic_put_state,
	hv_return_t (*)(const hv_ioapic_state_ext_t *));
CHECK_SIG(hv_vm_send_ioapic_intr, hv_return_t (*)(uint64_t));
CHECK_SIG(hv_vm_atpic_assert_irq, hv_return_t (*)(int));
CHECK_SIG(hv_vm_atpic_deassert_irq, hv_return_t (*)(int));
CHECK_SIG(hv_vm_atpic_port_read, hv_return_t (*)(int, uint8_t *));
CHECK_SIG(hv_vm_atpic_port_write, hv_return_t (*)(int, uint8_t));
CHECK_SIG(hv_vm_atpic_get_state, hv_return_t (*)(hv_atpic_state_ext_t *,
	bool));
CHECK_SIG(hv_vm_atpic_put_state,
	hv_return_t (*)(const hv_atpic_state_ext_t *, bool));

/* --- Run-time checks ------------------------------------------------- */

struct named_value {
	const char *name;
	uint64_t value;
	uint64_t expected;
};

#define NV(name, expected)	{ #name, (uint64_t)(name), (expected) }

static void check_named_values(const struct named_value *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (v[i].value != v[i].expected)
			print_error("%s = %#llx, expected %#llx\n", v[i].name,
				(unsigned long long)v[i].value,
				(unsigned long long)v[i].expected);
		assert_int_equal(v[i].value, v[i].expected);
	}
}

static void test_return_codes(void **state)
{
	static const struct named_value codes[] = {
		NV(BITS(HV_SUCCESS), 0),
		NV(BITS(HV_ERROR), 0xfae94001),
		NV(BITS(HV_BUSY), 0xfae94002),
		NV(BITS(HV_BAD_ARGUMENT), 0xfae94003),
		NV(BITS(HV_NO_RESOURCES), 0xfae94005),
		NV(BITS(HV_NO_DEVICE), 0xfae94006),
		NV(BITS(HV_DENIED), 0xfae94007),
		NV(BITS(HV_FAULT), 0xfae94008),
		NV(BITS(HV_UNSUPPORTED), 0xfae9400f),
	};
	volatile uint64_t rax = 0xfae94001ULL;	/* as a hypercall leaves it */
	hv_return_t ret = (hv_return_t)rax;
	int as_int = ret;
	char text[16];

	(void)state;
	check_named_values(codes, ARRAY_SIZE(codes));

	/* What macOS callers do with a result: int, "< 0", %x, switch. */
	assert_int_equal(ret, HV_ERROR);
	assert_true(as_int < 0);
	assert_true(HV_SUCCESS >= 0);
	snprintf(text, sizeof(text), "%x", ret);
	assert_string_equal(text, "fae94001");
	assert_int_equal((int64_t)ret, -0x516bfffLL);
	/* Back into RAX: zero-extended, never sign-extended. */
	assert_int_equal(HVMETAL_RAX(ret), 0xfae94001ULL);
	assert_int_equal(HVMETAL_RAX(HV_UNSUPPORTED), 0xfae9400fULL);
	switch (ret) {
	case HV_SUCCESS:
		fail();
		break;
	case HV_ERROR:
		break;
	default:
		fail();
	}
}

static void test_x86_register_order(void **state)
{
	static const struct named_value regs[] = {
		NV(HV_X86_RIP, 0), NV(HV_X86_RFLAGS, 1), NV(HV_X86_RAX, 2),
		NV(HV_X86_RCX, 3), NV(HV_X86_RDX, 4), NV(HV_X86_RBX, 5),
		NV(HV_X86_RSI, 6), NV(HV_X86_RDI, 7), NV(HV_X86_RSP, 8),
		NV(HV_X86_RBP, 9), NV(HV_X86_R8, 10), NV(HV_X86_R9, 11),
		NV(HV_X86_R10, 12), NV(HV_X86_R11, 13), NV(HV_X86_R12, 14),
		NV(HV_X86_R13, 15), NV(HV_X86_R14, 16), NV(HV_X86_R15, 17),
		NV(HV_X86_CS, 18), NV(HV_X86_SS, 19), NV(HV_X86_DS, 20),
		NV(HV_X86_ES, 21), NV(HV_X86_FS, 22), NV(HV_X86_GS, 23),
		NV(HV_X86_IDT_BASE, 24), NV(HV_X86_IDT_LIMIT, 25),
		NV(HV_X86_GDT_BASE, 26), NV(HV_X86_GDT_LIMIT, 27),
		NV(HV_X86_LDTR, 28), NV(HV_X86_LDT_BASE, 29),
		NV(HV_X86_LDT_LIMIT, 30), NV(HV_X86_LDT_AR, 31),
		NV(HV_X86_TR, 32), NV(HV_X86_TSS_BASE, 33),
		NV(HV_X86_TSS_LIMIT, 34), NV(HV_X86_TSS_AR, 35),
		NV(HV_X86_CR0, 36), NV(HV_X86_CR1, 37), NV(HV_X86_CR2, 38),
		NV(HV_X86_CR3, 39), NV(HV_X86_CR4, 40),
		NV(HV_X86_DR0, 41), NV(HV_X86_DR1, 42), NV(HV_X86_DR2, 43),
		NV(HV_X86_DR3, 44), NV(HV_X86_DR4, 45), NV(HV_X86_DR5, 46),
		NV(HV_X86_DR6, 47), NV(HV_X86_DR7, 48),
		NV(HV_X86_TPR, 49), NV(HV_X86_XCR0, 50),
		NV(HV_X86_REGISTERS_MAX, 51),
	};

	(void)state;
	check_named_values(regs, ARRAY_SIZE(regs));
	/* One entry per value, none skipped. */
	assert_int_equal(ARRAY_SIZE(regs), HV_X86_REGISTERS_MAX + 1);
}

/* Intel's encoding: width in bits 14:13, type in bits 11:10. */
enum { W16 = 0, W64 = 1, W32 = 2, WNAT = 3 };
enum { T_CTL = 0, T_RO = 1, T_GUEST = 2, T_HOST = 3 };

struct vmcs_field {
	const char *name;
	uint32_t encoding;
	unsigned width;
	unsigned type;
};

#define F(name, w, t)	{ #name, (name), (w), (t) }

/* Every field encoding hv_arch_vmx.h declares, by Intel's categories. */
static const struct vmcs_field vmcs_fields[] = {
	/* 16-bit control fields */
	F(VMCS_VPID, W16, T_CTL),
	F(VMCS_CTRL_POSTED_INT_N_VECTOR, W16, T_CTL),
	F(VMCS_CTRL_EPTP_INDEX, W16, T_CTL),
	/* 16-bit guest-state fields */
	F(VMCS_GUEST_ES, W16, T_GUEST),
	F(VMCS_GUEST_CS, W16, T_GUEST),
	F(VMCS_GUEST_SS, W16, T_GUEST),
	F(VMCS_GUEST_DS, W16, T_GUEST),
	F(VMCS_GUEST_FS, W16, T_GUEST),
	F(VMCS_GUEST_GS, W16, T_GUEST),
	F(VMCS_GUEST_LDTR, W16, T_GUEST),
	F(VMCS_GUEST_TR, W16, T_GUEST),
	F(VMCS_GUEST_INT_STATUS, W16, T_GUEST),
	F(VMCS_GUESTPML_INDEX, W16, T_GUEST),
	/* 16-bit host-state fields */
	F(VMCS_HOST_ES, W16, T_HOST),
	F(VMCS_HOST_CS, W16, T_HOST),
	F(VMCS_HOST_SS, W16, T_HOST),
	F(VMCS_HOST_DS, W16, T_HOST),
	F(VMCS_HOST_FS, W16, T_HOST),
	F(VMCS_HOST_GS, W16, T_HOST),
	F(VMCS_HOST_TR, W16, T_HOST),
	/* 64-bit control fields */
	F(VMCS_CTRL_IO_BITMAP_A, W64, T_CTL),
	F(VMCS_CTRL_IO_BITMAP_B, W64, T_CTL),
	F(VMCS_CTRL_MSR_BITMAPS, W64, T_CTL),
	F(VMCS_CTRL_VMEXIT_MSR_STORE_ADDR, W64, T_CTL),
	F(VMCS_CTRL_VMEXIT_MSR_LOAD_ADDR, W64, T_CTL),
	F(VMCS_CTRL_VMENTRY_MSR_LOAD_ADDR, W64, T_CTL),
	F(VMCS_CTRL_EXECUTIVE_VMCS_PTR, W64, T_CTL),
	F(VMCS_CTRL_PML_ADDR, W64, T_CTL),
	F(VMCS_CTRL_TSC_OFFSET, W64, T_CTL),
	F(VMCS_CTRL_VIRTUAL_APIC, W64, T_CTL),
	F(VMCS_CTRL_APIC_ACCESS, W64, T_CTL),
	F(VMCS_CTRL_POSTED_INT_DESC_ADDR, W64, T_CTL),
	F(VMCS_CTRL_VMFUNC_CTRL, W64, T_CTL),
	F(VMCS_CTRL_EPTP, W64, T_CTL),
	F(VMCS_CTRL_EOI_EXIT_BITMAP_0, W64, T_CTL),
	F(VMCS_CTRL_EOI_EXIT_BITMAP_1, W64, T_CTL),
	F(VMCS_CTRL_EOI_EXIT_BITMAP_2, W64, T_CTL),
	F(VMCS_CTRL_EOI_EXIT_BITMAP_3, W64, T_CTL),
	F(VMCS_CTRL_EPTP_LIST_ADDR, W64, T_CTL),
	F(VMCS_CTRL_VMREAD_BITMAP_ADDR, W64, T_CTL),
	F(VMCS_CTRL_VMWRITE_BITMAP_ADDR, W64, T_CTL),
	F(VMCS_CTRL_VIRT_EXC_INFO_ADDR, W64, T_CTL),
	F(VMCS_CTRL_XSS_EXITING_BITMAP, W64, T_CTL),
	F(VMCS_CTRL_ENCLS_EXITING_BITMAP, W64, T_CTL),
	F(VMCS_CTRL_SPP_TABLE, W64, T_CTL),
	F(VMCS_CTRL_TSC_MULTIPLIER, W64, T_CTL),
	F(VMCS_CTRL_ENCLV_EXITING_BITMAP, W64, T_CTL),
	/* 64-bit read-only data field */
	F(VMCS_GUEST_PHYSICAL_ADDRESS, W64, T_RO),
	/* 64-bit guest-state fields */
	F(VMCS_GUEST_LINK_POINTER, W64, T_GUEST),
	F(VMCS_GUEST_IA32_DEBUGCTL, W64, T_GUEST),
	F(VMCS_GUEST_IA32_PAT, W64, T_GUEST),
	F(VMCS_GUEST_IA32_EFER, W64, T_GUEST),
	F(VMCS_GUEST_IA32_PERF_GLOBAL_CTRL, W64, T_GUEST),
	F(VMCS_GUEST_PDPTE0, W64, T_GUEST),
	F(VMCS_GUEST_PDPTE1, W64, T_GUEST),
	F(VMCS_GUEST_PDPTE2, W64, T_GUEST),
	F(VMCS_GUEST_PDPTE3, W64, T_GUEST),
	F(VMCS_GUEST_IA32_BNDCFGS, W64, T_GUEST),
	F(VMCS_GUEST_IA32_RTIT_CTL, W64, T_GUEST),
	F(VMCS_GUEST_IA32_PKRS, W64, T_GUEST),
	/* 64-bit host-state fields */
	F(VMCS_HOST_IA32_PAT, W64, T_HOST),
	F(VMCS_HOST_IA32_EFER, W64, T_HOST),
	F(VMCS_HOST_IA32_PERF_GLOBAL_CTRL, W64, T_HOST),
	F(VMCS_HOST_IA32_PKRS, W64, T_HOST),
	/* 32-bit control fields */
	F(VMCS_CTRL_PIN_BASED, W32, T_CTL),
	F(VMCS_CTRL_CPU_BASED, W32, T_CTL),
	F(VMCS_CTRL_EXC_BITMAP, W32, T_CTL),
	F(VMCS_CTRL_PF_ERROR_MASK, W32, T_CTL),
	F(VMCS_CTRL_PF_ERROR_MATCH, W32, T_CTL),
	F(VMCS_CTRL_CR3_COUNT, W32, T_CTL),
	F(VMCS_CTRL_VMEXIT_CONTROLS, W32, T_CTL),
	F(VMCS_CTRL_VMEXIT_MSR_STORE_COUNT, W32, T_CTL),
	F(VMCS_CTRL_VMEXIT_MSR_LOAD_COUNT, W32, T_CTL),
	F(VMCS_CTRL_VMENTRY_CONTROLS, W32, T_CTL),
	F(VMCS_CTRL_VMENTRY_MSR_LOAD_COUNT, W32, T_CTL),
	F(VMCS_CTRL_VMENTRY_IRQ_INFO, W32, T_CTL),
	F(VMCS_CTRL_VMENTRY_EXC_ERROR, W32, T_CTL),
	F(VMCS_CTRL_VMENTRY_INSTR_LEN, W32, T_CTL),
	F(VMCS_CTRL_TPR_THRESHOLD, W32, T_CTL),
	F(VMCS_CTRL_CPU_BASED2, W32, T_CTL),
	F(VMCS_CTRL_PLE_GAP, W32, T_CTL),
	F(VMCS_CTRL_PLE_WINDOW, W32, T_CTL),
	/* 32-bit read-only data fields */
	F(VMCS_RO_INSTR_ERROR, W32, T_RO),
	F(VMCS_RO_EXIT_REASON, W32, T_RO),
	F(VMCS_RO_VMEXIT_IRQ_INFO, W32, T_RO),
	F(VMCS_RO_VMEXIT_IRQ_ERROR, W32, T_RO),
	F(VMCS_RO_IDT_VECTOR_INFO, W32, T_RO),
	F(VMCS_RO_IDT_VECTOR_ERROR, W32, T_RO),
	F(VMCS_RO_VMEXIT_INSTR_LEN, W32, T_RO),
	F(VMCS_RO_VMX_INSTR_INFO, W32, T_RO),
	/* 32-bit guest-state fields */
	F(VMCS_GUEST_ES_LIMIT, W32, T_GUEST),
	F(VMCS_GUEST_CS_LIMIT, W32, T_GUEST),
	F(VMCS_GUEST_SS_LIMIT, W32, T_GUEST),
	F(VMCS_GUEST_DS_LIMIT, W32, T_GUEST),
	F(VMCS_GUEST_FS_LIMIT, W32, T_GUEST),
	F(VMCS_GUEST_GS_LIMIT, W32, T_GUEST),
	F(VMCS_GUEST_LDTR_LIMIT, W32, T_GUEST),
	F(VMCS_GUEST_TR_LIMIT, W32, T_GUEST),
	F(VMCS_GUEST_GDTR_LIMIT, W32, T_GUEST),
	F(VMCS_GUEST_IDTR_LIMIT, W32, T_GUEST),
	F(VMCS_GUEST_ES_AR, W32, T_GUEST),
	F(VMCS_GUEST_CS_AR, W32, T_GUEST),
	F(VMCS_GUEST_SS_AR, W32, T_GUEST),
	F(VMCS_GUEST_DS_AR, W32, T_GUEST),
	F(VMCS_GUEST_FS_AR, W32, T_GUEST),
	F(VMCS_GUEST_GS_AR, W32, T_GUEST),
	F(VMCS_GUEST_LDTR_AR, W32, T_GUEST),
	F(VMCS_GUEST_TR_AR, W32, T_GUEST),
	F(VMCS_GUEST_INTERRUPTIBILITY, W32, T_GUEST),
	F(VMCS_GUEST_ACTIVITY_STATE, W32, T_GUEST),
	F(VMCS_GUEST_SMBASE, W32, T_GUEST),
	F(VMCS_GUEST_IA32_SYSENTER_CS, W32, T_GUEST),
	F(VMCS_GUEST_VMX_TIMER_VALUE, W32, T_GUEST),
	/* 32-bit host-state field */
	F(VMCS_HOST_IA32_SYSENTER_CS, W32, T_HOST),
	/* natural-width control fields */
	F(VMCS_CTRL_CR0_MASK, WNAT, T_CTL),
	F(VMCS_CTRL_CR4_MASK, WNAT, T_CTL),
	F(VMCS_CTRL_CR0_SHADOW, WNAT, T_CTL),
	F(VMCS_CTRL_CR4_SHADOW, WNAT, T_CTL),
	F(VMCS_CTRL_CR3_VALUE0, WNAT, T_CTL),
	F(VMCS_CTRL_CR3_VALUE1, WNAT, T_CTL),
	F(VMCS_CTRL_CR3_VALUE2, WNAT, T_CTL),
	F(VMCS_CTRL_CR3_VALUE3, WNAT, T_CTL),
	/* natural-width read-only data fields */
	F(VMCS_RO_EXIT_QUALIFIC, WNAT, T_RO),
	F(VMCS_RO_IO_RCX, WNAT, T_RO),
	F(VMCS_RO_IO_RSI, WNAT, T_RO),
	F(VMCS_RO_IO_RDI, WNAT, T_RO),
	F(VMCS_RO_IO_RIP, WNAT, T_RO),
	F(VMCS_RO_GUEST_LIN_ADDR, WNAT, T_RO),
	/* natural-width guest-state fields */
	F(VMCS_GUEST_CR0, WNAT, T_GUEST),
	F(VMCS_GUEST_CR3, WNAT, T_GUEST),
	F(VMCS_GUEST_CR4, WNAT, T_GUEST),
	F(VMCS_GUEST_ES_BASE, WNAT, T_GUEST),
	F(VMCS_GUEST_CS_BASE, WNAT, T_GUEST),
	F(VMCS_GUEST_SS_BASE, WNAT, T_GUEST),
	F(VMCS_GUEST_DS_BASE, WNAT, T_GUEST),
	F(VMCS_GUEST_FS_BASE, WNAT, T_GUEST),
	F(VMCS_GUEST_GS_BASE, WNAT, T_GUEST),
	F(VMCS_GUEST_LDTR_BASE, WNAT, T_GUEST),
	F(VMCS_GUEST_TR_BASE, WNAT, T_GUEST),
	F(VMCS_GUEST_GDTR_BASE, WNAT, T_GUEST),
	F(VMCS_GUEST_IDTR_BASE, WNAT, T_GUEST),
	F(VMCS_GUEST_DR7, WNAT, T_GUEST),
	F(VMCS_GUEST_RSP, WNAT, T_GUEST),
	F(VMCS_GUEST_RIP, WNAT, T_GUEST),
	F(VMCS_GUEST_RFLAGS, WNAT, T_GUEST),
	F(VMCS_GUEST_DEBUG_EXC, WNAT, T_GUEST),
	F(VMCS_GUEST_SYSENTER_ESP, WNAT, T_GUEST),
	F(VMCS_GUEST_SYSENTER_EIP, WNAT, T_GUEST),
	F(VMCS_GUEST_IA32_S_CET, WNAT, T_GUEST),
	F(VMCS_GUEST_SSP, WNAT, T_GUEST),
	F(VMCS_GUEST_IA32_INTR_SSP_TABLE_ADDR, WNAT, T_GUEST),
	/* natural-width host-state fields */
	F(VMCS_HOST_CR0, WNAT, T_HOST),
	F(VMCS_HOST_CR3, WNAT, T_HOST),
	F(VMCS_HOST_CR4, WNAT, T_HOST),
	F(VMCS_HOST_FS_BASE, WNAT, T_HOST),
	F(VMCS_HOST_GS_BASE, WNAT, T_HOST),
	F(VMCS_HOST_TR_BASE, WNAT, T_HOST),
	F(VMCS_HOST_GDTR_BASE, WNAT, T_HOST),
	F(VMCS_HOST_IDTR_BASE, WNAT, T_HOST),
	F(VMCS_HOST_IA32_SYSENTER_ESP, WNAT, T_HOST),
	F(VMCS_HOST_IA32_SYSENTER_EIP, WNAT, T_HOST),
	F(VMCS_HOST_RSP, WNAT, T_HOST),
	F(VMCS_HOST_RIP, WNAT, T_HOST),
	F(VMCS_HOST_IA32_S_CET, WNAT, T_HOST),
	F(VMCS_HOST_SSP, WNAT, T_HOST),
	F(VMCS_HOST_IA32_INTR_SSP_TABLE_ADDR, WNAT, T_HOST),
};

static void test_vmcs_encodings(void **state)
{
	(void)state;
	assert_int_equal(ARRAY_SIZE(vmcs_fields), 166);

	for (size_t i = 0; i < ARRAY_SIZE(vmcs_fields); i++) {
		const struct vmcs_field *f = &vmcs_fields[i];

		if (((f->encoding >> 13) & 3) != f->width ||
		    ((f->encoding >> 10) & 3) != f->type ||
		    (f->encoding & 1) != 0)
			print_error("%s = %#x has the wrong width/type/access\n",
				f->name, f->encoding);
		assert_int_equal((f->encoding >> 13) & 3, f->width);
		assert_int_equal((f->encoding >> 10) & 3, f->type);
		assert_int_equal(f->encoding & 1, 0);	/* "full" access */
		assert_int_equal(f->encoding >> 15, 0);	/* reserved bits */
		assert_true(f->encoding < VMCS_MAX);

		/* Within one category, fields are listed in index order. */
		if (i > 0 && (vmcs_fields[i - 1].encoding & 0x6c00) ==
		    (f->encoding & 0x6c00))
			assert_true(vmcs_fields[i - 1].encoding < f->encoding);
		for (size_t j = 0; j < i; j++)
			assert_int_not_equal(vmcs_fields[j].encoding, f->encoding);
	}
}

static void test_exit_reasons(void **state)
{
	static const struct named_value reasons[] = {
		NV(VMX_REASON_EXC_NMI, 0), NV(VMX_REASON_IRQ, 1),
		NV(VMX_REASON_TRIPLE_FAULT, 2), NV(VMX_REASON_INIT, 3),
		NV(VMX_REASON_SIPI, 4), NV(VMX_REASON_IO_SMI, 5),
		NV(VMX_REASON_OTHER_SMI, 6), NV(VMX_REASON_IRQ_WND, 7),
		NV(VMX_REASON_VIRTUAL_NMI_WND, 8), NV(VMX_REASON_TASK, 9),
		NV(VMX_REASON_CPUID, 10), NV(VMX_REASON_GETSEC, 11),
		NV(VMX_REASON_HLT, 12), NV(VMX_REASON_INVD, 13),
		NV(VMX_REASON_INVLPG, 14), NV(VMX_REASON_RDPMC, 15),
		NV(VMX_REASON_RDTSC, 16), NV(VMX_REASON_RSM, 17),
		NV(VMX_REASON_VMCALL, 18), NV(VMX_REASON_VMCLEAR, 19),
		NV(VMX_REASON_VMLAUNCH, 20), NV(VMX_REASON_VMPTRLD, 21),
		NV(VMX_REASON_VMPTRST, 22), NV(VMX_REASON_VMREAD, 23),
		NV(VMX_REASON_VMRESUME, 24), NV(VMX_REASON_VMWRITE, 25),
		NV(VMX_REASON_VMOFF, 26), NV(VMX_REASON_VMON, 27),
		NV(VMX_REASON_MOV_CR, 28), NV(VMX_REASON_MOV_DR, 29),
		NV(VMX_REASON_IO, 30), NV(VMX_REASON_RDMSR, 31),
		NV(VMX_REASON_WRMSR, 32), NV(VMX_REASON_VMENTRY_GUEST, 33),
		NV(VMX_REASON_VMENTRY_MSR, 34), NV(VMX_REASON_MWAIT, 36),
		NV(VMX_REASON_MTF, 37), NV(VMX_REASON_MONITOR, 39),
		NV(VMX_REASON_PAUSE, 40), NV(VMX_REASON_VMENTRY_MC, 41),
		NV(VMX_REASON_TPR_THRESHOLD, 43),
		NV(VMX_REASON_APIC_ACCESS, 44),
		NV(VMX_REASON_VIRTUALIZED_EOI, 45),
		NV(VMX_REASON_GDTR_IDTR, 46), NV(VMX_REASON_LDTR_TR, 47),
		NV(VMX_REASON_EPT_VIOLATION, 48),
		NV(VMX_REASON_EPT_MISCONFIG, 49),
		NV(VMX_REASON_EPT_INVEPT, 50), NV(VMX_REASON_RDTSCP, 51),
		NV(VMX_REASON_VMX_TIMER_EXPIRED, 52),
		NV(VMX_REASON_INVVPID, 53), NV(VMX_REASON_WBINVD, 54),
		NV(VMX_REASON_XSETBV, 55), NV(VMX_REASON_APIC_WRITE, 56),
		NV(VMX_REASON_RDRAND, 57), NV(VMX_REASON_INVPCID, 58),
		NV(VMX_REASON_VMFUNC, 59), NV(VMX_REASON_ENCLS, 60),
		NV(VMX_REASON_RDSEED, 61), NV(VMX_REASON_PML_FULL, 62),
		NV(VMX_REASON_XSAVES, 63), NV(VMX_REASON_XRSTORS, 64),
		NV(VMX_REASON_SPP_EVENT, 66), NV(VMX_REASON_UMWAIT, 67),
		NV(VMX_REASON_TPAUSE, 68),
	};

	(void)state;
	assert_int_equal(ARRAY_SIZE(reasons), 65);
	check_named_values(reasons, ARRAY_SIZE(reasons));
	for (size_t i = 1; i < ARRAY_SIZE(reasons); i++)
		assert_true(reasons[i - 1].value < reasons[i].value);
}

static void test_control_bits_are_unsigned_32(void **state)
{
	/*
	 * Bit 31 must widen to 0x80000000, not 0xffffffff80000000, when a
	 * caller builds a 64-bit VMCS value: the bits are unsigned.
	 */
	uint64_t secondary = CPU_BASED_SECONDARY_CTLS;
	uint64_t valid = IRQ_INFO_VALID;
	uint64_t efer = HV_MSR_IA32_EFER;
	/* The usual capability arithmetic: must-be-1 low, may-be-1 high. */
	uint64_t cap = 0x000000ff00000016ULL;	/* must 0x16, may 0xff */
	uint64_t want = PIN_BASED_NMI | PIN_BASED_VIRTUAL_NMI;
	uint64_t ctl = (want | (cap & 0xffffffff)) & (cap >> 32);

	(void)state;
	assert_int_equal(secondary, 0x80000000ULL);
	assert_int_equal(valid, 0x80000000ULL);
	assert_int_equal(efer, 0xc0000080ULL);
	assert_int_equal(ctl, 0x3eULL);
	assert_int_equal(IRQ_INFO_VALID | IRQ_INFO_HARD_EXC | 14U, 0x8000030eU);
}

static void test_intr_state_structs(void **state)
{
	hv_apic_state_ext_t apic;
	hv_ioapic_state_ext_t ioapic;
	hv_atpic_state_ext_t atpic;

	(void)state;
	memset(&apic, 0xa5, sizeof(apic));
	apic.version = HV_APIC_STATE_EXT_VER;
	apic.state.boot_state = HV_BS_RUNNING;
	apic.state.aeoi[7] = 0x80000000U;
	assert_int_equal(apic.version, 100);
	assert_int_equal(sizeof(apic), 248);
	/* aeoi[7] is the last 4 bytes of the structure. */
	assert_int_equal(*(uint32_t *)((char *)&apic + 244), 0x80000000U);
	assert_int_equal(*(uint32_t *)((char *)&apic + 8 + 204), HV_BS_RUNNING);

	memset(&ioapic, 0, sizeof(ioapic));
	ioapic.version = HV_IOAPIC_STATE_EXT_VER;
	ioapic.state.rtbl[31] = 0x10000ULL;	/* masked */
	ioapic.state.ioregsel = 0x10;
	assert_int_equal(ioapic.version, 100);
	assert_int_equal(sizeof(ioapic), 280);
	assert_int_equal(*(uint64_t *)((char *)&ioapic + 8 + 248), 0x10000ULL);
	assert_int_equal(*(uint32_t *)((char *)&ioapic + 8 + 264), 0x10);

	memset(&atpic, 0, sizeof(atpic));
	atpic.version = HV_ATPIC_STATE_EXT_VER;
	atpic.state.irq_base = 0x08;
	atpic.state.elc = 0x20;
	assert_int_equal(atpic.version, 100);
	assert_int_equal(sizeof(atpic), 20);
	assert_int_equal(((unsigned char *)&atpic)[4 + 7], 0x08);
	assert_int_equal(((unsigned char *)&atpic)[4 + 15], 0x20);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_return_codes),
		cmocka_unit_test(test_x86_register_order),
		cmocka_unit_test(test_vmcs_encodings),
		cmocka_unit_test(test_exit_reasons),
		cmocka_unit_test(test_control_bits_are_unsigned_32),
		cmocka_unit_test(test_intr_state_structs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
