/*
 * Where each hv_x86_reg_t of a vCPU lives: a slot of the saved GPR frame, a
 * guest-state VMCS field, or state hvmetal switches itself.  Pure: host-tested.
 */
#ifndef HVMETAL_VCPU_REGS_H
#define HVMETAL_VCPU_REGS_H

#include <stdbool.h>
#include <stdint.h>

enum reg_kind {
	REG_GPR,	/* index: uint64_t slot of struct gpr_frame */
	REG_VMCS,	/* field: guest-state VMCS encoding */
	REG_CR1,	/* does not exist: reads 0, writes refused */
	REG_CR2,
	REG_DR,		/* index: DR0..DR3 */
	REG_DR6,
	REG_XCR0,
	REG_TPR,
};

struct reg_loc {
	enum reg_kind kind;
	uint32_t index;
	uint32_t field;
};

/* False for a number that is no hv_x86_reg_t. */
bool vcpu_reg_loc(uint32_t reg, struct reg_loc *loc);

#endif
