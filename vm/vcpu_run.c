/*
 * hv_vcpu_run: the guest runs synchronously on the calling CPU.  The control
 * domain's CR2, debug registers, XCR0, extended state and the MSRs the guest
 * owns are set aside once per call, not per exit; VM entry and exit switch the
 * rest.  Exits the VMM never sees (hvmetal's kicks, and under run_until the
 * control domain's interrupts and the preemption timer before the deadline)
 * are handled in the loop.
 */
#include <Hypervisor/hv.h>
#include <Hypervisor/hv_arch_vmx.h>
#include <hvmetal/abi.h>
#include "kernel/cpu.h"
#include "kernel/hvmetal.h"
#include "kernel/kick.h"
#include "kernel/xstate.h"
#include "vcpu.h"
#include "vcpu_apic.h"
#include "vcpu_move.h"
#include "vcpu_run.h"
#include "vm.h"
#include "vmx/vmcs.h"
#include "vmx/vmcs_policy.h"
#include "vmx/vmx_bits.h"
#include "vmx/vmx_cpu.h"
#include "vmx/vmx_exit.h"

#define RFLAGS_CF	(1u << 0)
#define RFLAGS_ZF	(1u << 6)
#define KICK_RESEND	4096	/* pause loops before a kick NMI is sent again */
#define KICK_TRIES	64	/* kicks before a target that never answers is given up */
#define APIC_MIN_SLICE	4096	/* TSC ticks a guest runs at least when its APIC timer is always due */

extern int vcpu_enter(struct gpr_frame *g, uint32_t launched);	/* vcpu_entry.asm */

/* What the control domain had in the registers a guest run borrows (XCR0: percpu). */
struct cd_saved {
	uint64_t cr2, dr[4], dr6, xfd, kgsbase;
	uint32_t msr_loaded;	/* 1 << enum vcpu_msr: the guest's value differs, loaded */
};

/*
 * The MSRs of enum vcpu_msr. KERNEL_GS_BASE changes under SWAPGS, so both sides'
 * values are read every run. The control domain's others are known per CPU
 * (percpu cd_msr, current as of cd_msr_gen: its writes to them exit, cd_msr.c),
 * and a guest changes its own only where the VMM lets it write them natively:
 * v->msr_differs says which of them differ from the control domain's, and a run
 * writes just those, and reads back just the native ones.
 */
static void swap_msrs_in(struct vcpu *v, struct cd_saved *cd, const struct percpu *cpu)
{
	uint32_t kgs = vcpu_swapped_msr[VCPU_MSR_KGSBASE];

	cd->kgsbase = rdmsr(kgs);
	if (v->msr[VCPU_MSR_KGSBASE] != cd->kgsbase)
		wrmsr(kgs, v->msr[VCPU_MSR_KGSBASE]);
	if (v->cd_msr_gen != cpu->cd_msr_gen) {
		v->msr_differs = 0;
		for (uint32_t m = vcpu_swapped_mask & ~(1u << VCPU_MSR_KGSBASE); m; m &= m - 1)
			if (v->msr[__builtin_ctz(m)] != cpu->cd_msr[__builtin_ctz(m)])
				v->msr_differs |= 1u << __builtin_ctz(m);
		v->cd_msr_gen = cpu->cd_msr_gen;
	}
	for (uint32_t m = v->msr_differs; m; m &= m - 1)
		wrmsr(vcpu_swapped_msr[__builtin_ctz(m)], v->msr[__builtin_ctz(m)]);
	cd->msr_loaded = v->msr_differs;
}

static void swap_msrs_out(struct vcpu *v, const struct cd_saved *cd, const struct percpu *cpu)
{
	uint32_t kgs = vcpu_swapped_msr[VCPU_MSR_KGSBASE];

	v->msr[VCPU_MSR_KGSBASE] = rdmsr(kgs);
	if (v->msr[VCPU_MSR_KGSBASE] != cd->kgsbase)
		wrmsr(kgs, cd->kgsbase);
	for (uint32_t m = v->msr_native_write & ~(1u << VCPU_MSR_KGSBASE); m; m &= m - 1) {
		unsigned i = __builtin_ctz(m);

		v->msr[i] = rdmsr(vcpu_swapped_msr[i]);
		v->msr_differs = (v->msr_differs & ~(1u << i)) |
				 (v->msr[i] != cpu->cd_msr[i] ? 1u << i : 0);
	}
	/* Where the CPU holds a value not the control domain's, its own goes back. */
	for (uint32_t m = cd->msr_loaded | v->msr_differs; m; m &= m - 1)
		wrmsr(vcpu_swapped_msr[__builtin_ctz(m)], cpu->cd_msr[__builtin_ctz(m)]);
}

static void switch_to_guest(struct vcpu *v, struct cd_saved *cd, struct percpu *cpu)
{
	cd->cr2 = read_cr2();
	for (unsigned i = 0; i < 4; i++)
		cd->dr[i] = read_dr(i);
	cd->dr6 = read_dr(6);
	/*
	 * XSAVE/XRSTOR move only what XCR0 enables: switch everything, then the guest's
	 * XCR0. A component the control domain armed in IA32_XFD would make XRSTOR #NM
	 * here: the guest runs with none armed (its XFD accesses exit to the VMM).
	 */
	cd->xfd = vcpu_has_xfd ? rdmsr(MSR_IA32_XFD) : 0;
	if (cd->xfd)
		wrmsr(MSR_IA32_XFD, 0);
	xcr0_write(xstate_supported);
	xstate_save(cpu->cd_xsave);
	swap_msrs_in(v, cd, cpu);
	write_cr2(v->cr2);
	for (unsigned i = 0; i < 4; i++)
		write_dr(i, v->dr[i]);
	write_dr(6, v->dr6);
	xstate_restore(v->xsave);
	xcr0_write(v->xcr0);
}

static void switch_to_cd(struct vcpu *v, const struct cd_saved *cd, struct percpu *cpu)
{
	v->cr2 = read_cr2();
	for (unsigned i = 0; i < 4; i++)
		v->dr[i] = read_dr(i);
	v->dr6 = read_dr(6);
	xcr0_write(xstate_supported);
	xstate_save(v->xsave);
	swap_msrs_out(v, cd, cpu);
	write_cr2(cd->cr2);
	for (unsigned i = 0; i < 4; i++)
		write_dr(i, cd->dr[i]);
	write_dr(6, cd->dr6);
	xstate_restore(cpu->cd_xsave);
	xcr0_write(cpu->cd_xcr0);
	if (cd->xfd)
		wrmsr(MSR_IA32_XFD, cd->xfd);
}

/*
 * Before each entry: the space's newest translations.  vcpu_run set running
 * and fenced before the first of these loads, and a change bumps the generation
 * and fences before vcpu_sync_space reads running: either that reader sees this
 * vCPU running and waits for it, or this load sees the new generation.
 */
static void sync_ept(struct vcpu *v)
{
	uint64_t gen = __atomic_load_n(&v->space->generation, __ATOMIC_ACQUIRE);

	if (gen != v->ept_gen) {
		vmx_invept(vmx_caps.ept_vpid & EPT_CAP_INVEPT_SINGLE ? INVEPT_SINGLE : INVEPT_ALL,
			   v->eptp);
		__atomic_store_n(&v->ept_gen, gen, __ATOMIC_RELEASE);
	}
}

/* Does what v->requests asks; true when hv_vcpu_interrupt wants the run to end. */
static bool take_requests(struct vcpu *v)
{
	uint32_t req = __atomic_exchange_n(&v->requests, 0, __ATOMIC_ACQ_REL);

	if (req & VCPU_REQ_FLUSH_VPID)
		vmx_invvpid_single((uint16_t)vmcs_read(VMCS_VPID));
	if (req & VCPU_REQ_TSC)
		vcpu_apply_tsc_offset(__atomic_load_n(&v->tsc_offset, __ATOMIC_ACQUIRE));
	return req & VCPU_REQ_KICK;
}

/*
 * The VMX-preemption timer for a deadline: false when it has passed. The pin
 * control is read only when a deadline was armed before (the client's pin
 * writes never carry the timer bit: the policy keeps it).
 */
static bool arm_deadline(struct vcpu *v, uint64_t deadline)
{
	uint64_t now, ticks;
	uint32_t pin;

	if (deadline == HV_DEADLINE_FOREVER) {
		if (v->timer_armed) {
			pin = (uint32_t)vmcs_read(VMCS_PIN_CTLS);
			vmcs_write(VMCS_PIN_CTLS, pin & ~PIN_PREEMPT_TIMER);
			v->timer_armed = false;
		}
		return true;
	}
	now = rdtsc();
	if (now >= deadline)
		return false;
	ticks = (deadline - now) >> (vmcs_policy.misc & 31);	/* the timer's TSC divider */
	vmcs_write(VMCS_PREEMPT_TIMER, ticks > UINT32_MAX ? UINT32_MAX : ticks);
	pin = (uint32_t)vmcs_read(VMCS_PIN_CTLS);
	if (!(pin & PIN_PREEMPT_TIMER))
		vmcs_write(VMCS_PIN_CTLS, pin | PIN_PREEMPT_TIMER);
	v->timer_armed = true;
	return true;
}

/*
 * The last look before an entry (APIC acceleration): in_guest set, then the
 * requests read, while a notifier sets its request, then reads in_guest
 * (vcpu_notify): either this sees the request, or the notifier sees in_guest
 * and kicks until the vCPU is out. A request seen here is taken and the local
 * APIC looked at once more; any later one comes with a kick (in_guest is set
 * by then). A notifier that sees in_guest clear need not wait, so two CPUs
 * notifying each other's vCPUs never wait on each other.
 */
static void enter_window(struct vcpu *v)
{
	__atomic_store_n(&v->in_guest, 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (__atomic_load_n(&v->requests, __ATOMIC_ACQUIRE) & VCPU_REQ_INTR) {
		__atomic_and_fetch(&v->requests, ~VCPU_REQ_INTR, __ATOMIC_ACQ_REL);
		vcpu_apic_entry(v);
	}
}

/* An entry of an ACCEL_APIC vCPU (vcpu_enter's result); time halted in the guest is idle time. */
static __attribute__((noinline)) int enter_accel(struct vcpu *v)
{
	uint64_t t0;
	int fail;

	enter_window(v);
	t0 = rdtsc();
	fail = vcpu_enter(&v->gpr, v->launched);
	t0 = rdtsc() - t0;
	__atomic_store_n(&v->in_guest, 0, __ATOMIC_RELEASE);
	if (v->halted)
		v->idle_ticks += t0;
	else
		v->exec_ticks += t0;
	return fail;
}

enum loop_step { STEP_REPORT, STEP_AGAIN, STEP_CONTINUE };

/* What an exit means for the loop; the VMM sees STEP_REPORT exits only. */
static enum loop_step classify_exit(uint32_t reason, bool until,
				    uint64_t deadline, struct percpu *cpu)
{
	uint32_t info;

	switch (EXIT_REASON_BASIC(reason)) {
	case VMX_REASON_EXC_NMI:
		info = (uint32_t)vmcs_read(VMCS_EXIT_INTR_INFO);
		if ((info & (INTR_INFO_VALID | INTR_TYPE_MASK)) != (INTR_INFO_VALID | INTR_TYPE_NMI))
			return STEP_REPORT;
		cpu_unblock_nmi(HOST_SEL_CS, HOST_SEL_DS);
		/* A move asked of this CPU is served here too: the running vCPU is refused. */
		if (__atomic_load_n(&cpu->pending, __ATOMIC_ACQUIRE) & PENDING_VCPU_MOVE)
			vcpu_moves_serve(cpu);
		/* The control domain's NMI, or a kick that brought it one (kick_cd_nmi), ends the run. */
		if (kick_nmi_is_cds(cpu))
			percpu_set_pending(cpu, PENDING_NMI);
		else if (!(__atomic_load_n(&cpu->pending, __ATOMIC_ACQUIRE) & PENDING_NMI))
			return STEP_CONTINUE;
		return until ? STEP_AGAIN : STEP_REPORT;
	case VMX_REASON_IRQ:
		return until ? STEP_AGAIN : STEP_REPORT;
	case VMX_REASON_VMX_TIMER_EXPIRED:
		/* Otherwise it was an APIC timer's (or early): the next entry fires what is due. */
		return until && rdtsc() >= deadline ? STEP_REPORT : STEP_CONTINUE;
	default:
		return STEP_REPORT;
	}
}

static hv_return_t run_loop(struct vcpu *v, struct gpr_frame *call)
{
	struct percpu *cpu = this_cpu();
	struct cd_saved cd;
	hv_return_t r = HV_SUCCESS;
	uint32_t reason = VMX_REASON_IRQ;
	bool until = (call->rcx & HVMETAL_RUN_MODE) == HVMETAL_RUN_UNTIL, accel = v->vm->apic;
	uint64_t deadline = call->rdx;

	vcpu_vmcs_get(v);
	/* The other fields mean something only with their code; RCX returns apic_value: no stale one. */
	v->exit_info.code = HV_VM_EXITINFO_VMX;
	v->exit_info.apic_value = 0;
	if (call->rcx & HVMETAL_RUN_SET_RIP)
		vmcs_write(VMCS_GUEST_RIP, call->r9);
	if (accel)
		vcpu_apic_run_start(v);
	switch_to_guest(v, &cd, cpu);
	for (;;) {
		enum vcpu_apic_exit apic;
		enum loop_step step;
		uint64_t t0, stop;
		int fail;

		/* One load sees every request other CPUs and the VMM left. */
		if (__atomic_load_n(&v->requests, __ATOMIC_ACQUIRE) && take_requests(v)) {
			reason = VMX_REASON_IRQ;	/* hv_vcpu_interrupt */
			break;
		}
		/* An NMI of the control domain's that came while in VMX root waits for no guest. */
		if (__atomic_load_n(&cpu->pending, __ATOMIC_ACQUIRE) & PENDING_NMI) {
			r = HVMETAL_RUN_AGAIN;
			break;
		}
		stop = until ? deadline : HV_DEADLINE_FOREVER;
		if (accel) {
			/* Before anything is injected: nothing of hvmetal's may be left in the entry field. */
			if (until && rdtsc() >= deadline) {
				reason = VMX_REASON_VMX_TIMER_EXPIRED;
				break;
			}
			vcpu_apic_entry(v);
			if (v->apic_deadline < stop)
				stop = v->apic_deadline;
		}
		if ((stop != HV_DEADLINE_FOREVER || v->timer_armed) && !arm_deadline(v, stop)) {
			if (!accel) {
				reason = VMX_REASON_VMX_TIMER_EXPIRED;	/* the run's deadline */
				break;
			}
			/*
			 * An APIC timer due again before the guest could run (its period
			 * shorter than a round of this loop), or the run's deadline passed
			 * since the look above: the guest gets a slice all the same (what
			 * was injected goes in), so no guest keeps hvmetal from entering
			 * it, nor its control domain from its interrupts (which exit that
			 * slice); the run's deadline ends the run at that slice's exit.
			 */
			arm_deadline(v, rdtsc() + APIC_MIN_SLICE);
		}
		sync_ept(v);
		if (accel) {
			fail = enter_accel(v);
		} else {
			t0 = rdtsc();
			fail = vcpu_enter(&v->gpr, v->launched);
			v->exec_ticks += rdtsc() - t0;
		}
		if (fail) {
			/* Bad controls: the caller learns ZF/CF from hv_vcpu_vmx_status. */
			v->vmx_status = fail == 1 ? RFLAGS_CF : RFLAGS_ZF;
			r = HV_ERROR;
			break;
		}
		reason = (uint32_t)vmcs_read(VMCS_EXIT_REASON);
		if (reason & EXIT_REASON_ENTRY_FAIL)
			break;	/* bad guest state: the VMM sees the failure exit, as on macOS */
		v->launched = 1;
		apic = accel ? vcpu_apic_exit(v, reason) : APIC_EXIT_NOT_MINE;
		if (apic == APIC_EXIT_REPORT)
			break;
		step = apic == APIC_EXIT_HANDLED ? STEP_CONTINUE : classify_exit(reason, until, deadline, cpu);
		if (step == STEP_REPORT)
			break;
		/* The VMM will not see this exit: an event it interrupted goes back in. */
		vmx_reinject_vectoring_event();
		if (step == STEP_AGAIN) {
			r = HVMETAL_RUN_AGAIN;
			break;
		}
	}
	v->exit_reason = reason;
	if (r == HV_SUCCESS) {
		call->rdx = reason;
		call->rsi = vmcs_read(VMCS_EXIT_QUALIFICATION);
		call->rdi = vmcs_read(VMCS_EXIT_INSN_LEN);
		call->r8 = vmcs_read(VMCS_GUEST_RIP);
		call->r9 = v->exit_info.code;
		call->rcx = v->exit_info.apic_value;
	} else if (r == HVMETAL_RUN_AGAIN) {
		/* Reads as hv_vcpu_interrupt's exit: a caller that stops here (a signal) reports it. */
		v->exit_reason = call->rdx = VMX_REASON_IRQ;
		v->exit_info.code = HV_VM_EXITINFO_VMX;
		call->rsi = call->rdi = call->rcx = 0;
		call->r8 = vmcs_read(VMCS_GUEST_RIP);
		call->r9 = HV_VM_EXITINFO_VMX;
	}
	if (v->own_proc)
		vcpu_apic_run_end(v);
	switch_to_cd(v, &cd, cpu);
	vcpu_vmcs_put();
	return r;
}

hv_return_t vcpu_run(struct vcpu *v, struct gpr_frame *call)
{
	hv_return_t r;

	__atomic_store_n(&v->running, 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);	/* running is seen before the generation is read */
	r = run_loop(v, call);
	__atomic_store_n(&v->running, 0, __ATOMIC_RELEASE);
	return r;
}

/* What a kick asked of v, with arg: the run ended for hv_vcpu_interrupt, the space's generation seen. */
static bool kick_taken(const struct vcpu *v, uint64_t arg)
{
	(void)arg;
	return !(__atomic_load_n(&v->requests, __ATOMIC_ACQUIRE) & VCPU_REQ_KICK);
}

static bool ept_synced(const struct vcpu *v, uint64_t gen)
{
	return __atomic_load_n(&v->ept_gen, __ATOMIC_ACQUIRE) == gen;
}

/*
 * Kicks v's owner until done(v, arg) or v stops running: true then. A kick that
 * lands in VMX root just before the entry is lost there, so it is sent again, at
 * most KICK_TRIES times: a target that never answers (the control domain turned
 * an APIC off) costs a bounded wait and a false, never a hang.
 */
static bool kick_until(struct vcpu *v, bool (*done)(const struct vcpu *v, uint64_t arg), uint64_t arg)
{
	for (uint32_t spins = 0; __atomic_load_n(&v->running, __ATOMIC_ACQUIRE) && !done(v, arg); spins++) {
		/* Read once: a vCPU destroyed meanwhile says VCPU_DEAD and runs nowhere. */
		uint32_t owner = __atomic_load_n(&v->owner, __ATOMIC_ACQUIRE);

		if (owner >= hv.boot.cpu_count)
			return true;
		if (spins == KICK_TRIES * KICK_RESEND)
			return false;
		if (spins % KICK_RESEND == 0 && !kick_send(&hv.cpus[owner]))
			return false;
		cpu_pause();
	}
	return true;
}

/* Seen, or not in (or entering) the guest: it will look before its next entry (enter_window_open). */
static bool intr_seen(const struct vcpu *v, uint64_t arg)
{
	(void)arg;
	return !(__atomic_load_n(&v->requests, __ATOMIC_ACQUIRE) & VCPU_REQ_INTR) ||
	       !__atomic_load_n(&v->in_guest, __ATOMIC_ACQUIRE);
}

void vcpu_notify(struct vcpu *v)
{
	/* Its owner looks before every entry: this CPU, when it owns v, is not running it. */
	if (__atomic_load_n(&v->owner, __ATOMIC_ACQUIRE) == this_cpu()->index)
		return;
	__atomic_or_fetch(&v->requests, VCPU_REQ_INTR, __ATOMIC_SEQ_CST);
	kick_until(v, intr_seen, 0);
}

bool vcpu_interrupt(struct vcpu *v)
{
	__atomic_or_fetch(&v->requests, VCPU_REQ_KICK, __ATOMIC_ACQ_REL);
	/* On the owner the vCPU is not running (this CPU is here): the request suffices. */
	return __atomic_load_n(&v->owner, __ATOMIC_ACQUIRE) == this_cpu()->index ||
	       kick_until(v, kick_taken, 0);
}

uint64_t vcpu_sync_space(struct vm *vm, const struct ept *e)
{
	uint64_t gen;
	bool synced = true;

	/* The caller's generation bump is visible before any running flag is read (sync_ept). */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	gen = __atomic_load_n(&e->generation, __ATOMIC_ACQUIRE);
	/* A vCPU made after this load invalidates at its first entry. */
	if (!__atomic_load_n(&vm->nvcpus, __ATOMIC_RELAXED))
		return gen;
	for (unsigned i = 0; i < VM_VCPUS_MAX; i++) {
		struct vcpu *v = __atomic_load_n(&vm->vcpus[i], __ATOMIC_ACQUIRE);

		if (v && __atomic_load_n(&v->space, __ATOMIC_ACQUIRE) == e &&
		    __atomic_load_n(&v->owner, __ATOMIC_ACQUIRE) != this_cpu()->index)
			synced &= kick_until(v, ept_synced, gen);
	}
	return synced ? gen : gen - 1;
}
