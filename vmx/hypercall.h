/* The control domain's VMCALL: hvmetal's hypercall ABI (include/hvmetal/abi.h). */
#ifndef HVMETAL_HYPERCALL_H
#define HVMETAL_HYPERCALL_H

#include <Hypervisor/hv_error.h>
#include "uaccess.h"
#include "vmx_exit.h"

/* One call: arguments copied out of the frame before any handler runs. */
struct hcall {
	uint64_t arg[6];		/* RDI, RSI, RDX, RCX, R8, R9 */
	struct gpr_frame *gpr;		/* for the calls that return a scalar in RDX */
};

typedef hv_return_t (*hcall_fn)(struct hcall *c);

enum exit_action hypercall_exit(struct vmx_exit *ex);
/* Copies a result out to the caller's pointer: HV_SUCCESS or HV_BAD_ARGUMENT. */
hv_return_t hypercall_copy_out(uint64_t gva, const void *src, size_t n);
/* Copies n bytes in from the caller's pointer: HV_SUCCESS or HV_BAD_ARGUMENT. */
hv_return_t hypercall_copy_in(void *dst, uint64_t gva, size_t n);
/* How the control domain's CPU reaches memory right now (its paging, its RAM). */
struct uaccess hypercall_uaccess(void);

#endif
