/*
 * hv.h - Apple's Hypervisor.framework API for x86_64, as hvmetal offers it
 * to its control domain.  Including this file gives the whole API: error
 * codes, types, x86 registers, VMX names and calls, interrupt-controller
 * calls and hv_vm_allocate().
 *
 * Terms used below, in Apple's words mapped onto hvmetal:
 *   "the current task"   the control domain calling the API;
 *   "owning thread"      the control-domain CPU that created a vCPU.  Calls
 *                        marked "owner only" fail when made from another
 *                        CPU.
 *
 * Not declared here: the SME calls (hv_sme_config_get_max_svl_bytes(),
 * hv_vcpu_get_sme_state() and the other hv_*sme*() functions).  They exist
 * only on Apple silicon and take arm64 types (hv_vcpu_t, hv_sme_z_reg_t,
 * ...) that have no meaning on x86; hvmetal answers them with
 * HV_UNSUPPORTED.
 */
#ifndef HYPERVISOR_HV_H
#define HYPERVISOR_HV_H

#include <Hypervisor/hv_base.h>
#include <Hypervisor/hv_error.h>
#include <Hypervisor/hv_types.h>
#include <Hypervisor/hv_arch_x86.h>
#include <Hypervisor/hv_arch_vmx.h>
#include <Hypervisor/hv_vmx.h>
#include <Hypervisor/hv_intr.h>
#include <Hypervisor/hv_vm_allocate.h>

HV_EXTERN_C_BEGIN

/* --- VM and capabilities --------------------------------------------- */

/* Query an hv_capability_t (HV_CAP_VCPUMAX, HV_CAP_ADDRSPACEMAX). */
hv_return_t hv_capability(hv_capability_t capability, uint64_t *value);

/* Create the caller's VM; one per control domain. */
hv_return_t hv_vm_create(hv_vm_options_t flags);

/* Destroy the caller's VM; its vCPUs must be destroyed first. */
hv_return_t hv_vm_destroy(void);

/* Set the guest TSC of every vCPU to tsc at once. */
hv_return_t hv_vm_sync_tsc(uint64_t tsc);

/*
 * A clock that counts at the host TSC rate, offset by a constant; only
 * meaningful once the VM exists.
 */
uint64_t hv_tsc_clock(void);

/*
 * Port-I/O notifiers: on macOS a matching guest OUT (addr, size 1/2/4,
 * value, relaxed by HV_ION_ANY_*) sends a Mach message to mach_port
 * instead of exiting.  hvmetal has no Mach IPC, so both calls return
 * HV_UNSUPPORTED and such I/O exits to the caller like any other.
 */
hv_return_t hv_vm_add_pio_notifier(uint16_t addr, size_t size,
	uint32_t value, mach_port_t mach_port, hv_ion_flags_t flags);
hv_return_t hv_vm_remove_pio_notifier(uint16_t addr, size_t size,
	uint32_t value, mach_port_t mach_port, hv_ion_flags_t flags);

/* --- Guest memory ---------------------------------------------------- */

/*
 * Map size bytes of the caller's memory at uva to guest physical gpa, in
 * the default address space.  uva, gpa and size are page aligned.
 */
hv_return_t hv_vm_map(hv_uvaddr_t uva, hv_gpaddr_t gpa, size_t size,
	hv_memory_flags_t flags);
hv_return_t hv_vm_unmap(hv_gpaddr_t gpa, size_t size);
hv_return_t hv_vm_protect(hv_gpaddr_t gpa, size_t size,
	hv_memory_flags_t flags);

/*
 * Additional guest address spaces: as large as the CPU's EPT allows,
 * starting at guest physical 0, 4096-byte pages.
 */
hv_return_t hv_vm_space_create(hv_vm_space_t *asid);
hv_return_t hv_vm_space_destroy(hv_vm_space_t asid);
hv_return_t hv_vm_map_space(hv_vm_space_t asid, hv_uvaddr_t uva,
	hv_gpaddr_t gpa, size_t size, hv_memory_flags_t flags);
hv_return_t hv_vm_unmap_space(hv_vm_space_t asid, hv_gpaddr_t gpa,
	size_t size);
hv_return_t hv_vm_protect_space(hv_vm_space_t asid, hv_gpaddr_t gpa,
	size_t size, hv_memory_flags_t flags);

/* --- vCPUs ----------------------------------------------------------- */

/* Create a vCPU owned by the calling CPU; its ID comes back in *vcpu. */
hv_return_t hv_vcpu_create(hv_vcpuid_t *vcpu, hv_vcpu_options_t flags);

/* Owner only. */
hv_return_t hv_vcpu_destroy(hv_vcpuid_t vcpu);

/* Run the vCPU in address space asid from now on.  Owner only. */
hv_return_t hv_vcpu_set_space(hv_vcpuid_t vcpu, hv_vm_space_t asid);

/* Architectural registers (hv_arch_x86.h).  Owner only. */
hv_return_t hv_vcpu_read_register(hv_vcpuid_t vcpu, hv_x86_reg_t reg,
	uint64_t *value);
hv_return_t hv_vcpu_write_register(hv_vcpuid_t vcpu, hv_x86_reg_t reg,
	uint64_t value);

/*
 * x87/SSE/AVX state in the host CPU's XSAVE layout; size is the buffer
 * size in bytes.  Owner only.
 */
hv_return_t hv_vcpu_read_fpstate(hv_vcpuid_t vcpu, void *buffer,
	size_t size);
hv_return_t hv_vcpu_write_fpstate(hv_vcpuid_t vcpu, void *buffer,
	size_t size);

/*
 * MSRs.  "Native" MSRs are accessed by the guest without exits; "managed"
 * ones are kept by the hypervisor with hv_vcpu_set_msr_access() deciding
 * what the guest may do.  Owner only.
 */
hv_return_t hv_vcpu_enable_native_msr(hv_vcpuid_t vcpu, uint32_t msr,
	bool enable);
hv_return_t hv_vcpu_enable_managed_msr(hv_vcpuid_t vcpu, uint32_t msr,
	bool enable);
hv_return_t hv_vcpu_set_msr_access(hv_vcpuid_t vcpu, uint32_t msr,
	hv_msr_flags_t flags);
hv_return_t hv_vcpu_read_msr(hv_vcpuid_t vcpu, uint32_t msr,
	uint64_t *value);
hv_return_t hv_vcpu_write_msr(hv_vcpuid_t vcpu, uint32_t msr,
	uint64_t value);

/* Deprecated by Apple; has no effect and returns HV_UNSUPPORTED. */
hv_return_t hv_vcpu_flush(hv_vcpuid_t vcpu);

/* Flush the vCPU's cached guest translations.  Owner only. */
hv_return_t hv_vcpu_invalidate_tlb(hv_vcpuid_t vcpu);

/*
 * Run the vCPU until its next VM exit, including exits the hypervisor
 * handled itself.  Owner only.
 */
hv_return_t hv_vcpu_run(hv_vcpuid_t vcpu);

/* "No deadline" for hv_vcpu_run_until(). */
#define HV_DEADLINE_FOREVER	(~(uint64_t)0)

/*
 * Run the vCPU until an exit the caller must handle, or until the
 * absolute deadline (Apple: mach absolute time units) passes.  A deadline
 * other than HV_DEADLINE_FOREVER uses the VMX-preemption timer and gives
 * HV_UNSUPPORTED without one.  Owner only.
 */
hv_return_t hv_vcpu_run_until(hv_vcpuid_t vcpu, uint64_t deadline);

/* Force an exit on each listed vCPU; any CPU may call this. */
hv_return_t hv_vcpu_interrupt(hv_vcpuid_t *vcpus, unsigned int vcpu_count);

/* Cumulative guest execution time, in nanoseconds.  Owner only. */
hv_return_t hv_vcpu_get_exec_time(hv_vcpuid_t vcpu, uint64_t *time);

/* Cumulative time idled in the hypervisor (HLT etc.), ns.  Owner only. */
hv_return_t hv_vcpu_get_idle_time(hv_vcpuid_t vcpu, uint64_t *time);

/*
 * Make the guest TSC read as hv_tsc_clock() + offset (through the VMCS
 * TSC offset).
 */
hv_return_t hv_vcpu_set_tsc_relative(hv_vcpuid_t vcpu, int64_t offset);

/*
 * ZF and CF of RFLAGS after the last failed VM entry (VMfailInvalid /
 * VMfailValid); HV_ERROR when there is none to report.  Owner only.
 */
hv_return_t hv_vcpu_vmx_status(hv_vcpuid_t vcpu, uint32_t *status);

HV_EXTERN_C_END

#endif /* HYPERVISOR_HV_H */
