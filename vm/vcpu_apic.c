#include <Hypervisor/hv.h>
#include <Hypervisor/hv_arch_vmx.h>
#include "apic/vatpic.h"
#include "apic/vintr.h"
#include "apic/vlapic.h"
#include "kernel/cpu.h"
#include "kernel/kick.h"
#include "kernel/string.h"
#include "vapic.h"
#include "vcpu_apic.h"
#include "vcpu_apicv.h"
#include "vm.h"
#include "vmx/vmcs.h"
#include "vmx/vmx_bits.h"
#include "vmx/vmx_cpu.h"
#include "vmx/vmx_exit.h"

#define RFLAGS_TF		(1u << 8)
#define RFLAGS_IF		(1u << 9)
#define MSR_TSC_DEADLINE	0x6e0
#define MSR_X2APIC_FIRST	0x800
#define MSR_X2APIC_LAST		0x8ff
#define QUAL_APIC_OFFSET(q)	((uint32_t)(q) & 0xfff)
#define QUAL_APIC_TYPE(q)	(((q) >> 12) & 0xf)
#define APIC_ACCESS_READ	0	/* linear read (SDM table 28-6) */
#define APIC_ACCESS_WRITE	1	/* linear write */
#define NMI_VECTOR		2
#define MISC_ACTIVITY_HLT	(1ull << 6)	/* IA32_VMX_MISC: guests may enter halted */

bool vcpu_apic_lsc_read(void *ctx, uint64_t page, unsigned off, void *buf, unsigned len)
{
	(void)ctx;
	/* The page was the control domain's RAM when entered (uaccess); RAM stays RAM: only compared, never shown. */
	memcpy(buf, (const uint8_t *)(uintptr_t)page + off, len);
	return true;
}

void vcpu_apic_lsc_paging(struct lsc_paging *pg)
{
	*pg = (struct lsc_paging){
		.cr0 = vmcs_read(VMCS_GUEST_CR0), .cr3 = vmcs_read(VMCS_GUEST_CR3),
		.cr4 = vmcs_read(VMCS_GUEST_CR4), .efer = vmcs_read(VMCS_GUEST_EFER),
	};
}

/* GPR n of hv_x86_reg_t (HV_X86_RAX..HV_X86_R15); RSP lives in the VMCS. */
static uint64_t *lsc_gpr(struct vcpu *v, hv_x86_reg_t reg)
{
	struct gpr_frame *g = &v->gpr;

	switch (reg) {
	case HV_X86_RAX: return &g->rax;
	case HV_X86_RCX: return &g->rcx;
	case HV_X86_RDX: return &g->rdx;
	case HV_X86_RBX: return &g->rbx;
	case HV_X86_RSI: return &g->rsi;
	case HV_X86_RDI: return &g->rdi;
	case HV_X86_RBP: return &g->rbp;
	case HV_X86_R8: return &g->r8;
	case HV_X86_R9: return &g->r9;
	case HV_X86_R10: return &g->r10;
	case HV_X86_R11: return &g->r11;
	case HV_X86_R12: return &g->r12;
	case HV_X86_R13: return &g->r13;
	case HV_X86_R14: return &g->r14;
	case HV_X86_R15: return &g->r15;
	default: return NULL;	/* RSP */
	}
}

static uint32_t lsc_reg_read(struct vcpu *v, hv_x86_reg_t reg)
{
	uint64_t *r = lsc_gpr(v, reg);

	return (uint32_t)(r ? *r : vmcs_read(VMCS_GUEST_RSP));
}

/* A 32-bit load zero-extends into the register in 64-bit mode; elsewhere bits 63:32 are not visible. */
static void lsc_reg_write(struct vcpu *v, hv_x86_reg_t reg, uint32_t val)
{
	uint64_t *r = lsc_gpr(v, reg);

	if (r)
		*r = val;
	else
		vmcs_write(VMCS_GUEST_RSP, val);
}

uint64_t vcpu_guest_tsc(void)
{
	return rdtsc() + vcpu_tsc_offset();
}

/* The exiting control hvmetal sets for itself; an exit it causes the VMM did not ask for. */
static void want_window(struct vcpu *v, uint32_t bit)
{
	uint32_t proc = (uint32_t)vmcs_read(VMCS_PROC_CTLS);

	if (!(proc & bit)) {
		vmcs_write(VMCS_PROC_CTLS, proc | bit);
		v->own_proc |= bit;
	}
}

/*
 * An injected event ends HLT: hvmetal's own idle HLT, or one the guest executes
 * without HLT exiting (the CPU then saved the HLT activity state), whose RIP the
 * CPU has already moved past the HLT.
 */
static void inject(struct vcpu *v, uint32_t info)
{
	vmcs_write(VMCS_ENTRY_INTR_INFO, info);
	v->nmi_blocked |= (info & INTR_TYPE_MASK) == INTR_TYPE_NMI;
	if (v->halted || vmcs_read(VMCS_GUEST_ACTIVITY) == ACTIVITY_HLT) {
		vmcs_write(VMCS_GUEST_ACTIVITY, ACTIVITY_ACTIVE);
		v->halted = false;
	}
}

/*
 * Priority as on the bus: NMI, then the 8259's ExtINT (it bypasses the local
 * APIC's priority), then the local APIC's highest vector above PPR, unless the
 * CPU delivers those itself (apicv: APIC virtualization this entry).
 */
static void inject_pending(struct vcpu *v, struct vapic *a, bool apicv, uint32_t block)
{
	uint8_t ext = 0;
	bool extint;
	int vec;

	/* Wait-for-SIPI and shutdown (the VMM's activity states) take no event. */
	if (vmcs_read(VMCS_GUEST_ACTIVITY) > ACTIVITY_HLT)
		return;

	if (v->lapic.nmi_pending) {
		if (block & (INTR_BLOCK_NMI | INTR_BLOCK_STI | INTR_BLOCK_MOVSS)) {
			if (block & INTR_BLOCK_NMI)
				vlapic_nmi_blocked(&v->lapic);
			want_window(v, PROC_NMI_WINDOW);
			return;
		}
		vlapic_take_nmi(&v->lapic);
		inject(v, INTR_INFO_VALID | INTR_TYPE_NMI | NMI_VECTOR);
		return;
	}
	extint = (v->extint_req || vlapic_extint_pending(&v->lapic)) && vatpic_pending(&a->atpic, &ext);
	vec = extint ? ext : apicv ? -1 : vlapic_pending(&v->lapic);
	if (vec < 0)
		return;
	if (!(vmcs_read(VMCS_GUEST_RFLAGS) & RFLAGS_IF) || (block & (INTR_BLOCK_STI | INTR_BLOCK_MOVSS))) {
		want_window(v, PROC_INTR_WINDOW);
		return;
	}
	if (extint) {
		vatpic_accept(&a->atpic, ext);
		v->extint_req = false;
	} else {
		vlapic_accept(&v->lapic, (uint8_t)vec);
	}
	inject(v, INTR_INFO_VALID | INTR_TYPE_EXTERNAL | (uint32_t)vec);
}

/*
 * An event already going in (the VMM's, or one an exit interrupted) goes first:
 * it wakes a vCPU hvmetal keeps halted, as the CPU would (and only an
 * external interrupt or NMI may be injected into HLT), and what the local APIC
 * holds waits for the window after it.
 */
static void behind_entry_event(struct vcpu *v, bool apicv, uint32_t info)
{
	v->nmi_blocked |= (info & INTR_TYPE_MASK) == INTR_TYPE_NMI;
	if (v->halted) {
		vmcs_write(VMCS_GUEST_ACTIVITY, ACTIVITY_ACTIVE);
		v->halted = false;
	}
	if (v->lapic.nmi_pending)
		want_window(v, PROC_NMI_WINDOW);
	else if ((!apicv && vlapic_pending(&v->lapic) >= 0) || v->extint_req || vlapic_extint_pending(&v->lapic))
		want_window(v, PROC_INTR_WINDOW);
}

/*
 * The guest's interruptibility, its NMI blocking kept only where an NMI that
 * went in (or the VMM) explains it. Bochs 2.7 never clears virtual-NMI blocking
 * on VM entry (SF #1456, fixed in 2.8): after one guest's exit inside its NMI
 * handler, the next guest the CPU enters runs blocked and saves the blocking at
 * its exit, for good where it never IRETs, and passes it on again; NMIs for it
 * then wait for a window that never opens. A CPU never sets it unexplained.
 */
static uint32_t guest_block(struct vcpu *v)
{
	uint32_t block = (uint32_t)vmcs_read(VMCS_GUEST_INTERRUPTIBILITY);

	if (!(block & INTR_BLOCK_NMI)) {
		v->nmi_blocked = false;
	} else if (!v->nmi_blocked) {
		block &= ~INTR_BLOCK_NMI;
		vmcs_write(VMCS_GUEST_INTERRUPTIBILITY, block);
	}
	return block;
}

void vcpu_apic_run_end(struct vcpu *v)
{
	vcpu_apicv_run_end(v);
	/* Windows hvmetal asked for are not the VMM's: it never sees their bits or their exits. */
	vmcs_write(VMCS_PROC_CTLS, vmcs_read(VMCS_PROC_CTLS) & ~(uint64_t)v->own_proc);
	v->own_proc = 0;
}

void vcpu_apic_run_start(struct vcpu *v)
{
	if (!v->halted)
		return;
	if (vmcs_read(VMCS_GUEST_ACTIVITY) != ACTIVITY_HLT) {
		v->halted = false;
	} else if (vmcs_read(VMCS_GUEST_RIP) != v->halt_rip) {
		vmcs_write(VMCS_GUEST_ACTIVITY, ACTIVITY_ACTIVE);
		v->halted = false;
	}
}

void vcpu_apic_entry(struct vcpu *v)
{
	struct vapic *a = v->vm->apic;
	uint64_t host = rdtsc(), now = host + vcpu_tsc_offset(), deadline;
	uint32_t block, info;
	bool apicv;

	vapic_lock(a);
	vlapic_timer_check(&v->lapic, now);
	apicv = vcpu_apicv_entry(v);
	block = guest_block(v);
	info = (uint32_t)vmcs_read(VMCS_ENTRY_INTR_INFO);
	if (!(info & INTR_INFO_VALID))
		inject_pending(v, a, apicv, block);
	else
		behind_entry_event(v, apicv, info);
	deadline = vlapic_deadline(&v->lapic);
	vapic_unlock(a);
	/*
	 * In host TSC ticks, counted from now: a deadline the host TSC would reach
	 * only after wrapping (a guest TSC behind the host's, a deadline near 2^64)
	 * is never, not one already past (the loop would wait for it forever).
	 */
	if (deadline <= now)
		v->apic_deadline = host;
	else if (deadline == UINT64_MAX || deadline - now >= HV_DEADLINE_FOREVER - host)
		v->apic_deadline = HV_DEADLINE_FOREVER;
	else
		v->apic_deadline = host + (deadline - now);
}

/* A window exit hvmetal asked for is its own; one the VMM asked for too goes to it. */
static enum vcpu_apic_exit window_exit(struct vcpu *v, uint32_t bit)
{
	if (!(v->own_proc & bit))
		return APIC_EXIT_NOT_MINE;
	v->own_proc &= ~bit;
	vmcs_write(VMCS_PROC_CTLS, vmcs_read(VMCS_PROC_CTLS) & ~(uint64_t)bit);
	return APIC_EXIT_HANDLED;
}

/*
 * HLT with interrupts enabled idles in hvmetal: the guest re-enters in the HLT
 * activity state, so the CPU halts in it until an interrupt for the control
 * domain, a kick (an interrupt for the vCPU) or the preemption timer (its APIC
 * timer, the run's deadline) makes it exit.  With interrupts disabled nothing
 * could wake it: the VMM sees the HLT (Apple's clients take it as shutdown).
 */
static enum vcpu_apic_exit hlt_exit(struct vcpu *v)
{
	uint64_t rflags = vmcs_read(VMCS_GUEST_RFLAGS);

	/* Single-stepping (TF) through a HLT is the VMM's: the HLT state would need a pending #DB. */
	if (!(rflags & RFLAGS_IF) || (rflags & RFLAGS_TF) || !(vmcs_policy.misc & MISC_ACTIVITY_HLT))
		return APIC_EXIT_NOT_MINE;
	vmx_skip_insn((unsigned)vmcs_read(VMCS_EXIT_INSN_LEN));
	vmcs_write(VMCS_GUEST_ACTIVITY, ACTIVITY_HLT);
	v->halted = true;
	v->halt_rip = vmcs_read(VMCS_GUEST_RIP);
	return APIC_EXIT_HANDLED;
}

void vcpu_apic_set_effect(struct vcpu *v, const struct vlapic_effect *eff)
{
	v->exit_info = (struct hvmetal_exit_info){
		.code = eff->exitinfo, .targets = eff->targets, .vector = eff->vector,
		.ap_rip = (uint64_t)eff->vector << 12,
	};
}

/* Effects the VMM must see (INIT/SIPI, IOAPIC_EOI) become the run's exit info. */
static enum vcpu_apic_exit report_effect(struct vcpu *v, const struct vlapic_effect *eff)
{
	vcpu_apic_set_effect(v, eff);
	return APIC_EXIT_REPORT;
}

static bool apic_msr(uint32_t msr)
{
	return msr == MSR_IA32_APIC_BASE || msr == MSR_TSC_DEADLINE ||
	       (msr >= MSR_X2APIC_FIRST && msr <= MSR_X2APIC_LAST);
}

bool vcpu_apic_base_msr(const struct vcpu *v, uint32_t msr)
{
	return v->vm->apic && msr == MSR_IA32_APIC_BASE;
}

bool vcpu_apic_msr(struct vcpu *v, uint32_t msr, bool write, uint64_t *val, hv_return_t *r)
{
	struct vlapic_effect eff = { 0 };
	struct vapic *a = v->vm->apic;
	bool ok;

	if (!a || !apic_msr(msr))
		return false;
	vapic_lock(a);
	/* The VMM's own write: its effects (an INIT it sends) are done, not reported back to it. */
	ok = write ? vlapic_wrmsr(&v->lapic, msr, *val, vcpu_guest_tsc(), &eff) :
		     vlapic_rdmsr(&v->lapic, msr, val, vcpu_guest_tsc());
	vapic_unlock(a);
	*r = ok ? HV_SUCCESS : HV_BAD_ARGUMENT;
	return true;
}

/*
 * IA32_APIC_BASE, IA32_TSC_DEADLINE and the x2APIC MSRs are the local APIC's:
 * handled here, #GP where the model says the CPU would give one.  A write with
 * an effect for the VMM (an x2APIC ICR write of INIT or SIPI) is done, and the
 * VMM sees the WRMSR exit with the exit info, RIP on the instruction, as for
 * the same write through the page (docs/apic.md).
 */
static enum vcpu_apic_exit msr_exit(struct vcpu *v, bool write)
{
	struct gpr_frame *g = &v->gpr;
	uint32_t msr = (uint32_t)g->rcx;
	struct vlapic_effect eff = { 0 };
	struct vapic *a = v->vm->apic;
	uint64_t val = 0, base;
	bool ok;

	if (!apic_msr(msr) || ((v->lapic.ctrl & HV_APIC_CTRL_NO_TIMER) && vlapic_timer_msr(msr)) ||
	    (msr == MSR_IA32_APIC_BASE && (v->apic_base_vmm & (write ? HV_MSR_WRITE : HV_MSR_READ))))
		return APIC_EXIT_NOT_MINE;
	vapic_lock(a);
	base = vlapic_apic_base(&v->lapic);
	if (write)
		ok = vlapic_wrmsr(&v->lapic, msr, (uint32_t)g->rax | g->rdx << 32, vcpu_guest_tsc(), &eff);
	else
		ok = vlapic_rdmsr(&v->lapic, msr, &val, vcpu_guest_tsc());
	/* A moved xAPIC page is the VMM's to place (hv_vmx_vcpu_set_apic_address). */
	if (ok && write && (vlapic_apic_base(&v->lapic) ^ base) & ~0xfffull)
		eff.exitinfo = eff.exitinfo ? eff.exitinfo : HV_VM_EXITINFO_VMX;
	vapic_unlock(a);
	if (!ok) {
		vmx_inject_exception(VEC_GP, 1, 0);
		return APIC_EXIT_HANDLED;
	}
	if (eff.exitinfo)
		return report_effect(v, &eff);
	if (!write) {
		g->rax = (uint32_t)val;
		g->rdx = val >> 32;
	}
	vmx_skip_insn((unsigned)vmcs_read(VMCS_EXIT_INSN_LEN));
	return APIC_EXIT_HANDLED;
}

/*
 * The xAPIC page: a read is done here and reported with its value
 * (HV_VM_EXITINFO_APIC_ACCESS_READ: the VMM decodes, writes the register and
 * moves RIP); a write is the VMM's to decode (hv_vcpu_apic_write), an ordinary
 * VMX exit.  Either way RIP stays on the instruction, as Apple's clients expect.
 */
/*
 * A load-store-cache hit: hvmetal does the MOV the VMM described and retires
 * it, and the VMM sees nothing; a store with an effect for the VMM (INIT, SIPI,
 * IOAPIC_EOI) is done and reported as the same write through
 * hv_vcpu_apic_write would be, RIP on the instruction.
 */
static enum vcpu_apic_exit lsc_hit(struct vcpu *v, uint64_t qual)
{
	uint64_t rip = vmcs_read(VMCS_GUEST_RIP), now = vcpu_guest_tsc();
	unsigned ilen = (unsigned)vmcs_read(VMCS_EXIT_INSN_LEN);
	bool write = QUAL_APIC_TYPE(qual) == APIC_ACCESS_WRITE;
	struct vlapic_effect eff = { 0 };
	struct vapic *a = v->vm->apic;
	const struct lsc_entry *e;
	struct lsc_paging pg;
	uint32_t val;

	vcpu_apic_lsc_paging(&pg);
	e = lsc_lookup(&v->lsc, rip, ilen, (uint16_t)vmcs_read(VMCS_GUEST_CS_SEL), write, &pg,
		       vmcs_read(VMCS_GUEST_CS_BASE) + rip, vcpu_apic_lsc_read, NULL);
	if (!e)
		return APIC_EXIT_NOT_MINE;
	vapic_lock(a);
	if (!write) {
		lsc_reg_write(v, e->op.reg, vlapic_read(&v->lapic, QUAL_APIC_OFFSET(qual), now));
	} else {
		val = e->op.kind == LSC_STORE_IMM32 ? e->op.imm : lsc_reg_read(v, e->op.reg);
		vlapic_write(&v->lapic, QUAL_APIC_OFFSET(qual), val, now, &eff);
	}
	vapic_unlock(a);
	if (eff.exitinfo)
		return report_effect(v, &eff);
	vmx_skip_insn(ilen);
	return APIC_EXIT_HANDLED;
}

static enum vcpu_apic_exit apic_access_exit(struct vcpu *v)
{
	uint64_t qual = vmcs_read(VMCS_EXIT_QUALIFICATION);
	struct vapic *a = v->vm->apic;
	enum vcpu_apic_exit r;
	uint32_t value;

	if (QUAL_APIC_TYPE(qual) != APIC_ACCESS_READ && QUAL_APIC_TYPE(qual) != APIC_ACCESS_WRITE)
		return APIC_EXIT_NOT_MINE;
	r = lsc_hit(v, qual);
	if (r != APIC_EXIT_NOT_MINE || QUAL_APIC_TYPE(qual) == APIC_ACCESS_WRITE)
		return r;
	vapic_lock(a);
	value = vlapic_read(&v->lapic, QUAL_APIC_OFFSET(qual), vcpu_guest_tsc());
	vapic_unlock(a);
	v->exit_info = (struct hvmetal_exit_info){
		.code = HV_VM_EXITINFO_APIC_ACCESS_READ, .apic_value = value,
	};
	return APIC_EXIT_REPORT;
}

/* The CPU's EOI virtualization of a level vector (trap-like: RIP is past the WRMSR). */
static enum vcpu_apic_exit virtualized_eoi(struct vcpu *v)
{
	struct vlapic_effect eff = { 0 };
	struct vapic *a = v->vm->apic;

	vapic_lock(a);
	vlapic_eoi_done(&v->lapic, (uint8_t)vmcs_read(VMCS_EXIT_QUALIFICATION), &eff);
	vapic_unlock(a);
	return eff.exitinfo ? report_effect(v, &eff) : APIC_EXIT_HANDLED;
}

enum vcpu_apic_exit vcpu_apic_exit(struct vcpu *v, uint32_t reason)
{
	if (v->apicv_on)
		vcpu_apicv_exit(v);
	switch (EXIT_REASON_BASIC(reason)) {
	case EXIT_REASON_INTR_WINDOW:
		return window_exit(v, PROC_INTR_WINDOW);
	case EXIT_REASON_NMI_WINDOW:
		return window_exit(v, PROC_NMI_WINDOW);
	case EXIT_REASON_HLT:
		return hlt_exit(v);
	case EXIT_REASON_RDMSR:
		return msr_exit(v, false);
	case EXIT_REASON_WRMSR:
		return msr_exit(v, true);
	case EXIT_REASON_APIC_ACCESS:
		return apic_access_exit(v);
	case EXIT_REASON_VIRTUALIZED_EOI:
		return virtualized_eoi(v);
	default:
		return APIC_EXIT_NOT_MINE;
	}
}
