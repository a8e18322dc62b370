#include "kernel/cpu.h"
#include "kernel/percpu.h"
#include "vmcs.h"
#include "vmx_bits.h"
#include "vmx_exit.h"

uint64_t vmx_gpr_read(const struct gpr_frame *g, unsigned n)
{
	const uint64_t by_number[16] = {
		g->rax, g->rcx, g->rdx, g->rbx, 0, g->rbp, g->rsi, g->rdi,
		g->r8, g->r9, g->r10, g->r11, g->r12, g->r13, g->r14, g->r15,
	};

	/* The guest's RSP is not in the frame: the VMCS holds it. */
	return (n & 15) == 4 ? vmcs_read(VMCS_GUEST_RSP) : by_number[n & 15];
}

void vmx_gpr_write(struct gpr_frame *g, unsigned n, uint64_t val)
{
	uint64_t *by_number[16] = {
		&g->rax, &g->rcx, &g->rdx, &g->rbx, 0, &g->rbp, &g->rsi, &g->rdi,
		&g->r8, &g->r9, &g->r10, &g->r11, &g->r12, &g->r13, &g->r14, &g->r15,
	};

	if ((n & 15) == 4)
		vmcs_write(VMCS_GUEST_RSP, val);
	else
		*by_number[n & 15] = val;
}

void vmx_inject_exception(unsigned vector, int has_error, uint32_t error)
{
	uint32_t info = INTR_INFO_VALID | INTR_TYPE_HW_EXCEPTION | vector;

	/* Real mode has no error codes: VM entry refuses to deliver one with CR0.PE clear. */
	if (has_error && (vmcs_read(VMCS_GUEST_CR0) & CR0_PE)) {
		info |= INTR_INFO_DELIVER_ERR;
		vmcs_write(VMCS_ENTRY_EXCEPTION_ERROR, error);
	}
	vmcs_write(VMCS_ENTRY_INTR_INFO, info);
}

/*
 * An exit in the middle of delivering an event (an NMI exit, an EPT violation
 * while pushing a frame) must not lose that event: it goes back into the next
 * VM entry, before the handler decides anything.
 */
void vmx_reinject_vectoring_event(void)
{
	uint32_t info = (uint32_t)vmcs_read(VMCS_IDT_VECTORING_INFO);

	if (!(info & INTR_INFO_VALID))
		return;
	vmcs_write(VMCS_ENTRY_INTR_INFO, info & (INTR_INFO_VALID | INTR_INFO_DELIVER_ERR | 0x7ff));
	if (info & INTR_INFO_DELIVER_ERR)
		vmcs_write(VMCS_ENTRY_EXCEPTION_ERROR, vmcs_read(VMCS_IDT_VECTORING_ERROR));
	/* Software interrupts and exceptions restart with their own length. */
	vmcs_write(VMCS_ENTRY_INSN_LEN, vmcs_read(VMCS_EXIT_INSN_LEN));
}

