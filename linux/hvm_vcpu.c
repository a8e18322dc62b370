// SPDX-License-Identifier: GPL-2.0
/*
 * vCPUs: Apple's owning thread is the Linux thread that created the vCPU; hvmetal's
 * owner is a CPU. Before each call on a vCPU, with preemption off, the driver makes
 * the thread's current CPU the owner (VCPU_ADOPT) if the scheduler moved the thread:
 * a thread is never refused because it migrated. The run loop is the driver's: an
 * interrupt for Linux ends a run_until with HVMETAL_RUN_AGAIN, Linux takes it as the
 * VMCALL returns, the thread may be scheduled out, and the run goes on unless a
 * signal is pending; a guest that spins forever never holds a CPU from Linux.
 */
#include <linux/delay.h>
#include <linux/preempt.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/smp.h>
#include "hvm.h"

/* How long the release of a file waits for hvmetal to hand a vCPU over (1 ms steps). */
#define HVM_RELEASE_TRIES	10000

/* vCPU id of this VM: owned by the calling thread (HV_SUCCESS), another's, or none. */
hv_return_t hvm_vcpu_owned(struct hvm_vm *vm, u64 id)
{
	hv_return_t res = HV_SUCCESS;

	if (id >= HVM_VCPUS)
		return HV_BAD_ARGUMENT;
	spin_lock(&vm->vcpu_lock);
	if (!vm->vcpu[id].owner)
		res = HV_BAD_ARGUMENT;
	else if (vm->vcpu[id].owner != task_pid(current))
		res = HV_DENIED;
	spin_unlock(&vm->vcpu_lock);
	return res;
}

/* With preemption off: this CPU becomes the vCPU's owner in hvmetal if it is not yet. */
static hv_return_t hvm_vcpu_here(struct hvm_vm *vm, unsigned int id)
{
	struct hvm_vcpu *v = &vm->vcpu[id];
	int cpu = smp_processor_id();
	hv_return_t res;

	if (v->cpu == cpu)
		return HV_SUCCESS;
	res = hvm_call(HVMETAL_HC_VCPU_ADOPT, vm->handle, id, 0, 0, NULL);
	if (res == HV_SUCCESS) {
		v->cpu = cpu;
		atomic_long_inc(&hvm_stats.adopts);
	}
	return res;
}

/*
 * Call r on vCPU id where hvmetal has it: adopted to this CPU first if needed, with
 * preemption off from the adopt to the end of the call. HV_BUSY from the adopt
 * (the vCPU's old CPU has not answered yet) is tried again after letting others
 * run, until a fatal signal (a call), or for about 10 s (a release, which a fatal
 * signal must not cut short).
 */
static hv_return_t hvm_vcpu_call_retry(struct hvm_vm *vm, unsigned int id, struct hvm_regs *r,
				       bool release)
{
	unsigned int tries = 0;
	hv_return_t res;

	for (;;) {
		preempt_disable();
		res = hvm_vcpu_here(vm, id);
		if (res == HV_SUCCESS)
			hvm_vmcall(r);
		preempt_enable();
		if (res != HV_BUSY)
			break;
		if (release) {
			if (++tries == HVM_RELEASE_TRIES)
				break;
			msleep(1);
		} else {
			if (fatal_signal_pending(current))
				break;
			cond_resched();
		}
	}
	return res == HV_SUCCESS ? (hv_return_t)r->rax : res;
}

/* A call on a vCPU the caller owns (hvm_vcpu_owned said so). */
hv_return_t hvm_vcpu_call(struct hvm_vm *vm, unsigned int id, struct hvm_regs *r)
{
	return hvm_vcpu_call_retry(vm, id, r, false);
}

/* VCPU_CREATE: RDI vm, RSI options -> RDX id. The calling thread owns it, here. */
hv_return_t hvm_vcpu_create(struct hvm_vm *vm, struct hvm_regs *r)
{
	struct pid *pid = get_task_pid(current, PIDTYPE_PID);
	hv_return_t res;
	int cpu;
	u64 id;

	preempt_disable();
	cpu = smp_processor_id();
	hvm_vmcall(r);
	preempt_enable();
	res = (hv_return_t)r->rax;
	if (res != HV_SUCCESS) {
		put_pid(pid);
		return res;
	}
	id = r->rdx;
	spin_lock(&vm->vcpu_lock);
	if (id < HVM_VCPUS && !vm->vcpu[id].owner) {
		vm->vcpu[id].owner = pid;
		vm->vcpu[id].cpu = cpu;
		pid = NULL;
	}
	spin_unlock(&vm->vcpu_lock);
	if (pid) {
		/* hvmetal broke its ABI: an id out of range or one that is alive already. */
		WARN_ONCE(1, "hvmetal: VCPU_CREATE gave id %llu, which the driver cannot keep\n", id);
		put_pid(pid);
		return HV_ERROR;
	}
	atomic_long_inc(&hvm_stats.vcpus);
	return HV_SUCCESS;
}

/* Forgets vCPU id once hvmetal destroyed it. */
static void hvm_vcpu_forget(struct hvm_vm *vm, unsigned int id)
{
	struct pid *pid;

	spin_lock(&vm->vcpu_lock);
	pid = vm->vcpu[id].owner;
	vm->vcpu[id].owner = NULL;
	spin_unlock(&vm->vcpu_lock);
	put_pid(pid);
	atomic_long_dec(&hvm_stats.vcpus);
}

/* VCPU_DESTROY: RDI vm, RSI id (owned by the caller). */
hv_return_t hvm_vcpu_destroy(struct hvm_vm *vm, struct hvm_regs *r)
{
	unsigned int id = (unsigned int)r->rsi;
	hv_return_t res = hvm_vcpu_call(vm, id, r);

	if (res == HV_SUCCESS)
		hvm_vcpu_forget(vm, id);
	return res;
}

/*
 * VCPU_RUN: RDI vm, RSI id (owned), RDX deadline, RCX mode, R9 RIP; out RDX, RSI, RDI,
 * R8 (the exit), R9 (hv_vm_exitinfo_t) and RCX (the APIC value with
 * HV_VM_EXITINFO_APIC_ACCESS_READ), all handed back by hvm_ioctl_call. Runs again
 * after each HVMETAL_RUN_AGAIN (Linux has taken its interrupt by then) unless a
 * signal is pending: then the run ends as hv_vcpu_interrupt would end it, HV_SUCCESS
 * with the exit registers hvmetal gave (VMX_REASON_IRQ, 0, 0, RIP, HV_VM_EXITINFO_VMX),
 * and the signal is delivered on the way back to the process.
 *
 * A run may last: with APIC acceleration a guest's HLT idles inside hvmetal (the CPU
 * halts in the guest) until an interrupt for it. Linux's own interrupts (its tick, the
 * IPI that tells this thread of a signal) still end each VMCALL with
 * HVMETAL_RUN_AGAIN, so preemption is off for at most a tick at a time and a signal
 * ends an idle run within about one.
 */
hv_return_t hvm_vcpu_run(struct hvm_vm *vm, struct hvm_regs *r)
{
	unsigned int id = (unsigned int)r->rsi;
	struct hvm_regs in = *r;
	hv_return_t res;

	atomic_long_inc(&hvm_stats.running);
	for (;;) {
		*r = in;
		res = hvm_vcpu_call(vm, id, r);
		if (res != HVMETAL_RUN_AGAIN)
			break;
		atomic_long_inc(&hvm_stats.run_again);
		in.rcx &= ~(u64)HVMETAL_RUN_SET_RIP;	/* hvmetal has written RIP */
		if (signal_pending(current)) {
			res = HV_SUCCESS;
			break;
		}
		cond_resched();
	}
	atomic_long_dec(&hvm_stats.running);
	return res;
}

/*
 * The file is gone: destroys every vCPU of the VM, each adopted to this CPU first
 * (the owning thread may be dead or elsewhere). True when none is left.
 */
bool hvm_vcpus_release(struct hvm_vm *vm)
{
	bool all = true;
	unsigned int id;

	for (id = 0; id < HVM_VCPUS; id++) {
		struct hvm_regs r = { .rax = HVMETAL_HC_VCPU_DESTROY, .rdi = vm->handle, .rsi = id };
		hv_return_t res;

		if (!vm->vcpu[id].owner)
			continue;
		res = hvm_vcpu_call_retry(vm, id, &r, true);
		if (res == HV_SUCCESS) {
			hvm_vcpu_forget(vm, id);
		} else {
			pr_err("hvmetal: VM 0x%llx: vCPU %u could not be destroyed (0x%x)\n",
			       vm->handle, id, res);
			all = false;
		}
	}
	return all;
}
