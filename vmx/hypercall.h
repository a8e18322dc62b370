/* The control domain's VMCALL: hvmetal's hypercall ABI (include/hvmetal/abi.h). */
#ifndef HVMETAL_HYPERCALL_H
#define HVMETAL_HYPERCALL_H

#include "uaccess.h"
#include "vmx_exit.h"

enum exit_action hypercall_exit(struct vmx_exit *ex);
/* How the control domain's CPU reaches memory right now (its paging, its RAM). */
struct uaccess hypercall_uaccess(void);

#endif
