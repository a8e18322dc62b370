#include "cd/cd_apic.h"
#include "cd/cd_exits.h"
#include "hypercall/hypercall.h"
#include "kernel/cpu.h"
#include "kernel/log.h"
#include "kernel/percpu.h"
#include "vmcs.h"
#include "vmx_bits.h"
#include "vmx_exit.h"

/*
 * The control domain exits only where it must. A reason missing here cannot
 * happen with the controls hvmetal sets, so reaching it is a bug: panic.
 * VMCALL never comes here: vmx_entry.asm sends it to hypercall_fast.
 */
static enum exit_action exit_nmi(struct vmx_exit *ex);
static enum exit_action exit_nmi_window(struct vmx_exit *ex);

static const vmx_exit_handler exit_handlers[EXIT_REASON_MAX + 1] = {
	[EXIT_REASON_EXCEPTION_NMI]	= exit_nmi,
	[EXIT_REASON_NMI_WINDOW]	= exit_nmi_window,
	[EXIT_REASON_TRIPLE_FAULT]	= cd_exit_triple_fault,
	[EXIT_REASON_INIT]		= cd_exit_init,
	[EXIT_REASON_TASK_SWITCH]	= cd_exit_task_switch,
	[EXIT_REASON_CPUID]		= cd_exit_cpuid,
	[EXIT_REASON_GETSEC]		= cd_exit_inject_ud,
	[EXIT_REASON_INVD]		= cd_exit_invd,
	[EXIT_REASON_VMCLEAR]		= cd_exit_inject_ud,
	[EXIT_REASON_VMLAUNCH]		= cd_exit_inject_ud,
	[EXIT_REASON_VMPTRLD]		= cd_exit_inject_ud,
	[EXIT_REASON_VMPTRST]		= cd_exit_inject_ud,
	[EXIT_REASON_VMREAD]		= cd_exit_inject_ud,
	[EXIT_REASON_VMRESUME]		= cd_exit_inject_ud,
	[EXIT_REASON_VMWRITE]		= cd_exit_inject_ud,
	[EXIT_REASON_VMXOFF]		= cd_exit_inject_ud,
	[EXIT_REASON_VMXON]		= cd_exit_inject_ud,
	[EXIT_REASON_CR_ACCESS]		= cd_exit_cr_access,
	[EXIT_REASON_WRMSR]		= cd_exit_wrmsr,
	[EXIT_REASON_EPT_VIOLATION]	= cd_exit_ept_violation,
	[EXIT_REASON_INVEPT]		= cd_exit_inject_ud,
	[EXIT_REASON_INVVPID]		= cd_exit_inject_ud,
	[EXIT_REASON_XSETBV]		= cd_exit_xsetbv,
	[EXIT_REASON_VMFUNC]		= cd_exit_inject_ud,
	[EXIT_REASON_ENCLS]		= cd_exit_inject_ud,
};

uint64_t vmx_gpr_read(const struct gpr_frame *g, unsigned n)
{
	const uint64_t by_number[16] = {
		g->rax, g->rcx, g->rdx, g->rbx, 0, g->rbp, g->rsi, g->rdi,
		g->r8, g->r9, g->r10, g->r11, g->r12, g->r13, g->r14, g->r15,
	};

	/* The guest's RSP is not in the frame: the VMCS holds it. */
	return (n & 15) == 4 ? vmcs_read(VMCS_GUEST_RSP) : by_number[n & 15];
}

void vmx_inject_exception(unsigned vector, int has_error, uint32_t error)
{
	uint32_t info = INTR_INFO_VALID | INTR_TYPE_HW_EXCEPTION | vector;

	if (has_error) {
		info |= INTR_INFO_DELIVER_ERR;
		vmcs_write(VMCS_ENTRY_EXCEPTION_ERROR, error);
	}
	vmcs_write(VMCS_ENTRY_INTR_INFO, info);
}

bool vmx_nmi_is_kick(struct percpu *cpu)
{
	uint32_t k = __atomic_load_n(&cpu->nmi_kicks, __ATOMIC_ACQUIRE);

	while (k && !__atomic_compare_exchange_n(&cpu->nmi_kicks, &k, k - 1, false,
						 __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		;
	return k != 0;
}

/* NMI exiting is on so that hvmetal's kicks reach it; every other NMI is the guest's. */
static enum exit_action exit_nmi(struct vmx_exit *ex)
{
	struct percpu *cpu = this_cpu();

	(void)ex;
	if (!vmx_nmi_is_kick(cpu))
		cpu->nmi_pending = 1;
	cpu_unblock_nmi(HOST_SEL_CS, HOST_SEL_DS);
	return EXIT_RESUME;
}

static enum exit_action exit_nmi_window(struct vmx_exit *ex)
{
	(void)ex;
	vmcs_write(VMCS_PROC_CTLS, vmcs_read(VMCS_PROC_CTLS) & ~PROC_NMI_WINDOW);
	return EXIT_RESUME;
}

/* The guest's NMI goes in as soon as it can take one; until then, NMI-window exiting. */
static void deliver_pending_nmi(struct percpu *cpu)
{
	if ((vmcs_read(VMCS_ENTRY_INTR_INFO) & INTR_INFO_VALID) ||
	    (vmcs_read(VMCS_GUEST_INTERRUPTIBILITY) &
	     (INTR_BLOCK_NMI | INTR_BLOCK_MOVSS | INTR_BLOCK_STI))) {
		vmcs_write(VMCS_PROC_CTLS, vmcs_read(VMCS_PROC_CTLS) | PROC_NMI_WINDOW);
		return;
	}
	cpu->nmi_pending = 0;
	vmcs_write(VMCS_ENTRY_INTR_INFO, INTR_INFO_VALID | INTR_TYPE_NMI | 2);
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

/*
 * The exits that can interrupt the delivery of an event (SDM 27.2.4); instruction
 * exits such as VMCALL never do, and skip the check.
 */
#define VECTORING_EXITS	((1ull << EXIT_REASON_EXCEPTION_NMI) | (1ull << EXIT_REASON_EXTERNAL_INTR) | \
			 (1ull << EXIT_REASON_TRIPLE_FAULT) | (1ull << EXIT_REASON_TASK_SWITCH) | \
			 (1ull << EXIT_REASON_APIC_ACCESS) | (1ull << EXIT_REASON_EPT_VIOLATION) | \
			 (1ull << EXIT_REASON_EPT_MISCONFIG))

static void __attribute__((noreturn)) unexpected_exit(struct vmx_exit *ex)
{
	log_printf("hvmetal: cpu %u: unexpected VM exit reason %u%s qualification %lx\n",
		   this_cpu()->index, EXIT_REASON_BASIC(ex->reason),
		   (ex->reason & EXIT_REASON_ENTRY_FAIL) ? " (VM-entry failure)" : "",
		   vmcs_read(VMCS_EXIT_QUALIFICATION));
	log_printf("  guest rip %016lx rsp %016lx rflags %lx cr0 %lx cr3 %lx cr4 %lx\n",
		   vmcs_read(VMCS_GUEST_RIP), vmcs_read(VMCS_GUEST_RSP),
		   vmcs_read(VMCS_GUEST_RFLAGS), vmcs_read(VMCS_GUEST_CR0),
		   vmcs_read(VMCS_GUEST_CR3), vmcs_read(VMCS_GUEST_CR4));
	log_printf("  guest-physical %lx linear %lx interruption info %lx\n",
		   vmcs_read(VMCS_GUEST_PHYS_ADDR), vmcs_read(VMCS_GUEST_LINEAR_ADDR),
		   vmcs_read(VMCS_EXIT_INTR_INFO));
	panic_dump_gprs(ex->gpr);
	panic("unhandled VM exit %u", EXIT_REASON_BASIC(ex->reason));
}

void vmx_exit_dispatch(struct gpr_frame *gpr)
{
	struct vmx_exit ex = {
		.gpr = gpr,
		.reason = (uint32_t)vmcs_read(VMCS_EXIT_REASON),
	};
	uint32_t basic = EXIT_REASON_BASIC(ex.reason);
	struct percpu *cpu = this_cpu();

	if ((ex.reason & EXIT_REASON_ENTRY_FAIL) || basic > EXIT_REASON_MAX ||
	    !exit_handlers[basic])
		unexpected_exit(&ex);
	if (basic < 64 && ((1ull << basic) & VECTORING_EXITS))
		vmx_reinject_vectoring_event();
	if (exit_handlers[basic](&ex) == EXIT_ADVANCE)
		vmx_skip_insn(vmcs_read(VMCS_EXIT_INSN_LEN));
	if (vmx_exit_tail_needed(cpu))
		vmx_exit_tail(gpr);
}

void vmx_exit_tail(struct gpr_frame *gpr)
{
	struct percpu *cpu = this_cpu();

	/* Another CPU sent this one an INIT (cd_apic.h): it restarts, and the kick is spent. */
	if (__atomic_load_n(&cpu->init_request, __ATOMIC_ACQUIRE))
		cd_init_and_wait_sipi(gpr);
	if (cpu->nmi_pending)
		deliver_pending_nmi(cpu);
}

void vmx_resume_failed(struct gpr_frame *gpr)
{
	log_printf("hvmetal: cpu %u: VMRESUME failed, VM-instruction error %lu\n",
		   this_cpu()->index, vmcs_read(VMCS_INSN_ERROR));
	panic_dump_gprs(gpr);
	panic("VMRESUME failed");
}
