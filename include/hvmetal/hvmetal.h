/* Control-domain side of hvmetal's own calls (the hv_* API sits on top of these). */
#ifndef HVMETAL_CLIENT_H
#define HVMETAL_CLIENT_H

#include <stdbool.h>
#include <stdint.h>
#include <Hypervisor/hv_error.h>
#include <hvmetal/abi.h>

/* What VCPU_RUN returns besides RAX (see abi.h). */
struct hvmetal_run_exit {
	uint64_t reason, qualification, insn_len, rip;
	uint64_t exitinfo;		/* hv_vm_exitinfo_t */
	uint64_t apic_value;		/* with HV_VM_EXITINFO_APIC_ACCESS_READ */
};

#if defined(HVMETAL_HOST_TEST) || defined(HVMETAL_LINUX)
/*
 * The transport is a function: host builds of libhv talk to a fake the test
 * provides; on Linux, libhv/hvmetal_linux.c makes each call an ioctl on /dev/hvmetal.
 */
hv_return_t hvmetal_vmcall(uint64_t nr, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t *rdx);
hv_return_t hvmetal_vmcall6(uint64_t nr, uint64_t a0, uint64_t a1, uint64_t a2,
			    uint64_t a3, uint64_t a4, uint64_t a5);
hv_return_t hvmetal_vmcall_rdx_rcx(uint64_t nr, uint64_t a0, uint64_t a1, uint64_t a2,
				   uint64_t a3, uint64_t *rdx, uint64_t *rcx);
hv_return_t hvmetal_vcpu_run(uint64_t vm, uint64_t vcpu, uint64_t deadline, uint64_t mode,
			     uint64_t rip, struct hvmetal_run_exit *ex);
#else
/* One VMCALL; *rdx (if not NULL) gets RDX after the call. */
static inline hv_return_t hvmetal_vmcall(uint64_t nr, uint64_t a0, uint64_t a1, uint64_t a2,
					 uint64_t *rdx)
{
	uint64_t rax = nr, d = a2;

	__asm__ volatile("vmcall" : "+a"(rax), "+d"(d) : "D"(a0), "S"(a1) : "memory", "cc");
	if (rdx)
		*rdx = d;
	return (hv_return_t)rax;
}

/* VMCALL with all six argument registers. */
static inline hv_return_t hvmetal_vmcall6(uint64_t nr, uint64_t a0, uint64_t a1, uint64_t a2,
					  uint64_t a3, uint64_t a4, uint64_t a5)
{
	register uint64_t r8 __asm__("r8") = a4, r9 __asm__("r9") = a5;
	uint64_t rax = nr;

	__asm__ volatile("vmcall" : "+a"(rax), "+d"(a2), "+c"(a3), "+r"(r8), "+r"(r9)
			 : "D"(a0), "S"(a1) : "memory", "cc");
	return (hv_return_t)rax;
}

/* A call that answers in RDX and RCX (VMX_CAP_WRITE_VMCS, VCPU_APIC_WRITE). */
static inline hv_return_t hvmetal_vmcall_rdx_rcx(uint64_t nr, uint64_t a0, uint64_t a1,
						 uint64_t a2, uint64_t a3, uint64_t *rdx, uint64_t *rcx)
{
	uint64_t rax = nr, d = a2, c = a3;

	__asm__ volatile("vmcall" : "+a"(rax), "+d"(d), "+c"(c) : "D"(a0), "S"(a1) : "memory", "cc");
	*rdx = d;
	*rcx = c;
	return (hv_return_t)rax;
}

/* VCPU_RUN (R9 = RIP with HVMETAL_RUN_SET_RIP): the exit comes back in RDX, RSI, RDI, R8, R9, RCX. */
static inline hv_return_t hvmetal_vcpu_run(uint64_t vm, uint64_t vcpu, uint64_t deadline,
					   uint64_t mode, uint64_t rip, struct hvmetal_run_exit *ex)
{
	register uint64_t r8 __asm__("r8") = 0, r9 __asm__("r9") = rip;
	uint64_t rax = HVMETAL_HC_VCPU_RUN, rdi = vm, rsi = vcpu, rdx = deadline, rcx = mode;

	__asm__ volatile("vmcall" : "+a"(rax), "+D"(rdi), "+S"(rsi), "+d"(rdx), "+c"(rcx), "+r"(r8),
			 "+r"(r9) : : "memory", "cc");
	ex->reason = rdx;
	ex->qualification = rsi;
	ex->insn_len = rdi;
	ex->rip = r8;
	ex->exitinfo = r9;
	ex->apic_value = rcx;
	return (hv_return_t)rax;
}
#endif

/* True when CPUID says hvmetal runs this CPU (never executes VMCALL). */
bool hvmetal_present(void);
hv_return_t hvmetal_version(uint32_t *version);
hv_return_t hvmetal_info(struct hvmetal_info *info);
hv_return_t hvmetal_selfcheck(struct hvmetal_selfcheck *sc);
/* For tests and debugging, on the current VM (libhv's hv_vm_create). */
hv_return_t hvmetal_vm_translate(uint32_t asid, uint64_t gpa, struct hvmetal_translation *t);
hv_return_t hvmetal_vm_stats(struct hvmetal_vm_stats *st);

#endif
