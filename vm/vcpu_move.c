#include "kernel/cpu.h"
#include "kernel/hvmetal.h"
#include "kernel/kick.h"
#include "kernel/panic.h"
#include "vcpu_move.h"
#include "vmx/vmcs.h"
#include "vmx/vmx_bits.h"
#include "vmx/vmx_cpu.h"

#define MOVE_RESEND	4096	/* pause loops before the old owner is kicked again */
#define MOVE_TRIES	64	/* kicks before it is given up on: HV_BUSY */

enum move_state { MOVE_ASKED, MOVE_DONE, MOVE_REFUSED };

/* Lives on the asking CPU's stack; the old owner sees it through its vcpu_move slot. */
struct vcpu_move {
	struct vcpu *v;
	uint32_t to;
	uint32_t state;		/* enum move_state (atomics) */
};

extern void vcpu_exit_entry(void);	/* vcpu_entry.asm */

void vcpu_moves_serve(struct percpu *cpu)
{
	struct vcpu_move *m;
	struct vcpu *v;

	percpu_clear_pending(cpu, PENDING_VCPU_MOVE);
	m = __atomic_exchange_n(&cpu->vcpu_move, NULL, __ATOMIC_ACQ_REL);
	if (!m)
		return;
	v = m->v;
	/* Only this CPU runs v or changes its owner while it owns it: these reads are exact. */
	if (__atomic_load_n(&v->owner, __ATOMIC_ACQUIRE) != cpu->index || v->running) {
		__atomic_store_n(&m->state, MOVE_REFUSED, __ATOMIC_RELEASE);
		return;
	}
	if (vmx_clear(v->vmcs_pa) != VMX_OK || (v->shadow_pa && vmx_clear(v->shadow_pa) != VMX_OK))
		panic("VMCLEAR of vCPU %u for a move failed", v->id);
	v->launched = 0;
	__atomic_store_n(&v->owner, m->to, __ATOMIC_RELEASE);
	__atomic_store_n(&m->state, MOVE_DONE, __ATOMIC_RELEASE);
}

/* Takes m back from from's slot if it is still there: true when from never saw it. */
static bool withdraw(struct percpu *from, struct vcpu_move *m)
{
	struct vcpu_move *expect = m;

	return __atomic_compare_exchange_n(&from->vcpu_move, &expect, NULL, false,
					   __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}

/* Asks from to hand v over: MOVE_DONE, MOVE_REFUSED, or MOVE_ASKED when it never answered. */
static uint32_t ask(struct percpu *me, struct percpu *from, struct vcpu_move *m)
{
	struct vcpu_move *none = NULL;
	uint32_t state;

	if (!__atomic_compare_exchange_n(&from->vcpu_move, &none, m, false,
					 __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		return MOVE_ASKED;	/* another move from that CPU is under way */
	percpu_set_pending(from, PENDING_VCPU_MOVE);
	for (uint32_t spins = 0;; spins++) {
		state = __atomic_load_n(&m->state, __ATOMIC_ACQUIRE);
		if (state != MOVE_ASKED)
			return state;
		if (spins == MOVE_TRIES * MOVE_RESEND ||
		    (spins % MOVE_RESEND == 0 && !kick_send(from))) {
			if (withdraw(from, m))
				return MOVE_ASKED;
			spins = 0;	/* from took it: it answers without waiting */
		}
		/* Two CPUs asking each other must not wait for each other. */
		if (__atomic_load_n(&me->pending, __ATOMIC_ACQUIRE) & PENDING_VCPU_MOVE)
			vcpu_moves_serve(me);
		cpu_pause();
	}
}

hv_return_t vcpu_adopt(struct vcpu *v)
{
	struct percpu *me = this_cpu();
	uint32_t from = __atomic_load_n(&v->owner, __ATOMIC_ACQUIRE);
	struct vcpu_move m = { .v = v, .to = me->index, .state = MOVE_ASKED };
	uint32_t state;

	if (from == me->index)
		return HV_SUCCESS;
	if (from >= hv.boot.cpu_count)
		return HV_BAD_ARGUMENT;	/* dead */
	state = ask(me, &hv.cpus[from], &m);
	if (state != MOVE_DONE)
		return __atomic_load_n(&v->owner, __ATOMIC_ACQUIRE) == VCPU_DEAD ? HV_BAD_ARGUMENT
										: HV_BUSY;
	/*
	 * Here now: this CPU's host state; a fresh VMLAUNCH; what this CPU's TLB may
	 * hold for the vCPU's VPID and EPT from an earlier stay is dropped at entry;
	 * the swapped MSRs are compared with this CPU's values again.
	 */
	vcpu_vmcs_get(v);
	vmx_write_host_state(me, (uintptr_t)vcpu_exit_entry);
	if (vmx_caps.vpid)
		vmx_invvpid_single((uint16_t)vmcs_read(VMCS_VPID));
	vcpu_vmcs_put();
	v->ept_gen = UINT64_MAX;
	v->cd_msr_gen = me->cd_msr_gen - 1;
	return HV_SUCCESS;
}
