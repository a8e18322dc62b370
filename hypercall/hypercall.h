/* The control domain's VMCALL: hvmetal's hypercall ABI (include/hvmetal/abi.h). */
#ifndef HVMETAL_HYPERCALL_H
#define HVMETAL_HYPERCALL_H

#include <Hypervisor/hv_error.h>
#include "uaccess.h"
#include "vmx/vmx_exit.h"

/*
 * One call: arguments in RDI, RSI, RDX, RCX, R8, R9 of the caller's frame, which
 * holds only the registers the ABI uses (cd_entry.asm); handlers read every
 * argument before they write a result register.
 */
struct hcall {
	struct gpr_frame *gpr;	/* RAX holds the call number and its flags until the handler returns */
};

/* How the call's pointers are walked: GUEST_PT_USER under HVMETAL_HC_USER. */
static inline unsigned hcall_access(const struct hcall *c)
{
	return (unsigned)(c->gpr->rax >> 15) & GUEST_PT_USER;
}

typedef hv_return_t (*hcall_fn)(struct hcall *c);

/*
 * A VMCALL exit, from cd_entry.asm's fast path: serves the call and moves past
 * the VMCALL. Returns nonzero when cd_exit_tail must run on the full frame.
 */
int hypercall_fast(struct gpr_frame *g);
/* Copies a result out to the call's pointer: HV_SUCCESS or HV_BAD_ARGUMENT. */
hv_return_t hypercall_copy_out(const struct hcall *c, uint64_t gva, const void *src, size_t n);
/* Copies n bytes in from the call's pointer: HV_SUCCESS or HV_BAD_ARGUMENT. */
hv_return_t hypercall_copy_in(const struct hcall *c, void *dst, uint64_t gva, size_t n);
/* How the control domain's CPU reaches memory right now (its paging, its RAM), for access. */
struct uaccess hypercall_uaccess(unsigned access);

#endif
