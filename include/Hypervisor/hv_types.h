/*
 * hv_types.h - scalar types and option flags of the Hypervisor.framework
 * API (x86_64), with Apple's names and values.
 *
 * Apple declares the flag sets as anonymous enums next to a fixed-width
 * typedef; the typedef, not the enum, is what appears in the function
 * signatures.  The macOS 12 types (hv_vm_exitinfo_t, hv_apic_ctrl_t, ...)
 * use OS_ENUM(name, type, ...), which is "typedef enum : type" where the
 * compiler has fixed enum types and "enum {...}; typedef type name_t"
 * elsewhere; hvmetal spells out the second form (gcc before 13 has no fixed
 * enum types in C), so the typedefs have Apple's widths and the names are
 * int enumerators.
 */
#ifndef HYPERVISOR_HV_TYPES_H
#define HYPERVISOR_HV_TYPES_H

#include <Hypervisor/hv_base.h>

HV_EXTERN_C_BEGIN

/* hv_capability(): what to query. */
typedef uint64_t hv_capability_t;
enum {
	HV_CAP_VCPUMAX		= 0,	/* most vCPUs one VM may have */
	HV_CAP_ADDRSPACEMAX	= 1,	/* most guest address spaces */
};

/* A guest physical address space; the default one always exists. */
typedef unsigned hv_vm_space_t;
enum {
	HV_VM_SPACE_DEFAULT	= 0,
};

/* hv_vm_create() options. */
typedef uint64_t hv_vm_options_t;
enum {
	HV_VM_DEFAULT			= 0,
	HV_VM_SPECIFY_MITIGATIONS	= 1 << 0,
	HV_VM_MITIGATION_A_ENABLE	= 1 << 1,
	HV_VM_MITIGATION_B_ENABLE	= 1 << 2,
	HV_VM_MITIGATION_C_ENABLE	= 1 << 3,
	HV_VM_MITIGATION_D_ENABLE	= 1 << 4,
	HV_VM_MITIGATION_E_ENABLE	= 1 << 6,
	HV_VM_ACCEL_APIC		= 1 << 10, /* APIC, IOAPIC, PIC in hvmetal */
};

/* hv_vcpu_create() options. */
typedef uint64_t hv_vcpu_options_t;
enum {
	HV_VCPU_DEFAULT		= 0,
	HV_VCPU_ACCEL_RDPMC	= 1 << 0,	/* guest RDPMC without exits */
	HV_VCPU_TSC_RELATIVE	= 1 << 1,	/* TSC follows hv_tsc_clock() */
};

/* Guest memory permissions for hv_vm_map*() and hv_vm_protect*(). */
typedef uint64_t hv_memory_flags_t;
enum {
	HV_MEMORY_READ		= 1 << 0,
	HV_MEMORY_WRITE		= 1 << 1,
	HV_MEMORY_EXEC		= 1 << 2,	/* supervisor-mode execute */
	HV_MEMORY_UEXEC		= 1 << 3,	/* user-mode execute (MBEC) */
	HV_MEMORY_MAXPROT	= 1 << 4,	/* the MAXPROT_* bits are valid */
	HV_MEMORY_MAXPROT_READ	= 1 << 5,
	HV_MEMORY_MAXPROT_WRITE	= 1 << 6,
	HV_MEMORY_MAXPROT_EXEC	= 1 << 7,
	HV_MEMORY_MAXPROT_UEXEC	= 1 << 8,
};

/* hv_vcpu_set_msr_access(): guest access to a managed MSR. */
typedef uint32_t hv_msr_flags_t;
enum {
	HV_MSR_NONE	= 0,
	HV_MSR_READ	= 1 << 0,
	HV_MSR_WRITE	= 1 << 1,
};

/*
 * Port-I/O notifiers.  On macOS a matching guest OUT is turned into a Mach
 * message instead of a VM exit.  hvmetal has no Mach IPC: the port is kept
 * in the signature as a plain 32-bit name (natural_t, as on macOS) so that
 * callers compile unchanged, and Apple's message type (hv_ion_message_t,
 * built on mach_msg_header_t) is not provided.  See hv.h for what the
 * calls do.
 */
enum {
	kHV_ION_NONE		= 0,
	kHV_ION_ANY_VALUE	= 1 << 1,	/* match any value written */
	kHV_ION_ANY_SIZE	= 1 << 2,	/* match any access size */
	kHV_ION_EXIT_FULL	= 1 << 3,	/* exit when the queue is full */
};

typedef uint32_t hv_ion_flags_t;
enum {
	HV_ION_NONE		= kHV_ION_NONE,
	HV_ION_ANY_VALUE	= kHV_ION_ANY_VALUE,
	HV_ION_ANY_SIZE		= kHV_ION_ANY_SIZE,
	HV_ION_EXIT_FULL	= kHV_ION_EXIT_FULL,
};

typedef uint32_t mach_port_t;

/* vCPU IDs, caller virtual addresses, guest physical addresses. */
typedef unsigned hv_vcpuid_t;
typedef const void *hv_uvaddr_t;
typedef uint64_t hv_gpaddr_t;

/* hv_vcpu_exit_info(): what extra information the last exit carries. */
typedef uint32_t hv_vm_exitinfo_t;
enum {
	HV_VM_EXITINFO_VMX		= 1,	/* a plain VMX exit */
	HV_VM_EXITINFO_INIT_AP		= 2,	/* hv_vcpu_exit_init_ap() */
	HV_VM_EXITINFO_STARTUP_AP	= 3,	/* hv_vcpu_exit_startup_ap() */
	HV_VM_EXITINFO_IOAPIC_EOI	= 4,	/* hv_vcpu_exit_ioapic_eoi() */
	HV_VM_EXITINFO_INJECT_EXCP	= 5,	/* hv_vcpu_exit_inject_excp() */
	HV_VM_EXITINFO_SMI		= 6,	/* guest sent an SMI IPI */
	HV_VM_EXITINFO_APIC_ACCESS_READ	= 7,	/* hv_vcpu_exit_apic_access_read() */
};

/* hv_vcpu_apic_ctrl(): virtual-APIC behaviour. */
typedef uint64_t hv_apic_ctrl_t;
enum {
	HV_APIC_CTRL_DEFAULT		= 0,
	HV_APIC_CTRL_EOI_ICR_TPR	= 1 << 0, /* EOI/ICR/TPR MSRs in xAPIC mode */
	HV_APIC_CTRL_GUEST_IDLE		= 1 << 1, /* guest idle MSR */
	HV_APIC_CTRL_NO_TIMER		= 1 << 2, /* the caller runs the timer */
	HV_APIC_CTRL_IOAPIC_EOI		= 1 << 3, /* exit on IOAPIC-bound EOIs */
};

/* hv_vcpu_apic_trigger_lvt(): which LVT entry. */
typedef uint32_t hv_apic_lvt_flavor_t;
enum {
	HV_APIC_LVT_FLAVOR_TIMER	= 1,
};

/* hv_vm_lapic_set_intr(): trigger mode. */
typedef uint32_t hv_apic_intr_trigger_t;
enum {
	HV_APIC_EDGE_TRIGGER		= 0,
	HV_APIC_EDGE_TRIGGER_AEOI	= 1,	/* edge, auto-EOI */
	HV_APIC_LEVEL_TRIGGER		= 2,
};

HV_EXTERN_C_END

#endif /* HYPERVISOR_HV_TYPES_H */
