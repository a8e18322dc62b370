/* Running a vCPU (hv_vcpu_run / run_until) and forcing it out (hv_vcpu_interrupt). */
#ifndef HVMETAL_VCPU_RUN_H
#define HVMETAL_VCPU_RUN_H

#include <stdbool.h>
#include <stdint.h>
#include <Hypervisor/hv_error.h>
#include "vcpu.h"

/* The exit the VMM is told about, returned in registers by VCPU_RUN. */
struct vcpu_exit {
	uint64_t reason, qualification, insn_len, rip;
};

/* What VCPU_RUN asks for. */
struct vcpu_run_args {
	bool until;		/* run_until: stop only for the VMM's exits or the deadline */
	bool set_rip;		/* the VMM's deferred RIP write (libhv) goes in first */
	uint64_t deadline, rip;
};

/*
 * On the owning CPU with v->running set.  HV_SUCCESS with *out, HV_ERROR when
 * VMLAUNCH/VMRESUME failed (hv_vcpu_vmx_status), HVMETAL_RUN_AGAIN when run_until
 * stopped for the control domain's interrupt.
 */
hv_return_t vcpu_run(struct vcpu *v, const struct vcpu_run_args *args, struct vcpu_exit *out);
/* From any CPU, on a locked VM: the next or current run of v exits with VMX_REASON_IRQ. */
void vcpu_interrupt(struct vcpu *v);

#endif
