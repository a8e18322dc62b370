/* What every VM-exit handler uses: the exit, its outcome, event injection, GPRs. */
#ifndef HVMETAL_VMX_EXIT_H
#define HVMETAL_VMX_EXIT_H

#include <stdint.h>
#include <stdbool.h>
#include "kernel/panic.h"
#include "kernel/percpu.h"
#include "vmcs.h"
#include "vmx_bits.h"

struct vmx_exit {
	struct gpr_frame *gpr;	/* the guest's registers, written back on resume */
	uint32_t reason;	/* full exit reason; handlers read the qualification if they need it */
};

/* What the handler wants done before VMRESUME. */
enum exit_action {
	EXIT_RESUME,		/* fault-like or fully handled: RIP stays */
	EXIT_ADVANCE,		/* the instruction completed: skip it */
};

typedef enum exit_action (*vmx_exit_handler)(struct vmx_exit *ex);

/* Moves the guest past an instruction of len bytes, as completing it would. */
static inline void vmx_skip_insn(unsigned len)
{
	uint64_t intr = vmcs_read(VMCS_GUEST_INTERRUPTIBILITY);

	vmcs_write(VMCS_GUEST_RIP, vmcs_read(VMCS_GUEST_RIP) + len);
	/* Completing an instruction ends STI and MOV-SS blocking, as on hardware. */
	if (intr & (INTR_BLOCK_STI | INTR_BLOCK_MOVSS))
		vmcs_write(VMCS_GUEST_INTERRUPTIBILITY, intr & ~(INTR_BLOCK_STI | INTR_BLOCK_MOVSS));
}
/* An event whose delivery the exit interrupted goes into the next VM entry. */
void vmx_reinject_vectoring_event(void);
/* Queues a hardware exception for the next VM entry. */
void vmx_inject_exception(unsigned vector, int has_error, uint32_t error);
/* GPR n in the SDM's encoding (0 RAX, 1 RCX, ... 4 RSP ... 15 R15). */
uint64_t vmx_gpr_read(const struct gpr_frame *g, unsigned n);
void vmx_gpr_write(struct gpr_frame *g, unsigned n, uint64_t val);

#endif
