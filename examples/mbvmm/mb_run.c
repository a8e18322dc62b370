/*
 * The run loop: a thread per control-domain CPU, up to one per vCPU; vCPU i
 * belongs to thread i % threads, which creates it (vCPUs are their creating
 * thread's), runs it and destroys it. A thread with several running vCPUs
 * gives each a turn of TURN_US (hv_vcpu_run_until), a short one to a vCPU
 * that was halted, and one spinning in a PAUSE loop gives its turn up; with
 * one, that vCPU runs until an exit the VMM must see. What one vCPU sends
 * another (IPIs, IOAPIC lines, timers) the hypervisor delivers, kicking the
 * target wherever it runs: no thread of the VMM takes part. Exits are handled
 * under the machine's lock (the devices are shared); a guest's end stops
 * every thread.
 */
#include "mbvmm.h"

#define EXIT_BASIC(r)	((r) & 0xffff)
#define EXIT_FAILED	(1u << 31)
#define VECTORING_VALID	(1u << 31)
#define VECTORING_ERR	(1u << 11)
#define TURN_US		200		/* a vCPU's turn when several share a thread */
#define IDLE_TURN_US	10		/* ... when it was halted at the end of its last one */
#define PLE_GAP		128		/* PAUSE-loop exiting, KVM's defaults (TSC ticks) */
#define PLE_WINDOW	4096
#define ACTIVITY_HLT	1

static void lock(struct mb_machine *m)
{
	while (__atomic_exchange_n(&m->lock, 1, __ATOMIC_ACQUIRE))
		while (__atomic_load_n(&m->lock, __ATOMIC_RELAXED))
			__builtin_ia32_pause();
}

static void unlock(struct mb_machine *m)
{
	__atomic_store_n(&m->lock, 0, __ATOMIC_RELEASE);
}

static bool stopping(struct mb_machine *m)
{
	return __atomic_load_n(&m->stop, __ATOMIC_ACQUIRE);
}

/* Ends every vCPU's run on thread t, wherever it is (a vCPU not running gets it at its next run). */
void mb_wake_thread(struct mb_machine *m, unsigned t)
{
	hv_vcpuid_t ids[MB_VCPUS_MAX];
	unsigned n = 0;

	for (unsigned i = t; i < __atomic_load_n(&m->created, __ATOMIC_ACQUIRE); i += m->threads)
		ids[n++] = m->vcpu[i].id;
	if (n)
		hv_vcpu_interrupt(ids, n);
}

/* The first thread to end the machine says how; every other thread is woken to see it. */
static void stop_all(struct mb_machine *m, unsigned self, enum mb_next how)
{
	lock(m);
	if (!m->stop) {
		m->how = how;
		__atomic_store_n(&m->stop, true, __ATOMIC_RELEASE);
	}
	unlock(m);
	for (unsigned t = 0; t < m->threads; t++)
		if (t != self)
			mb_wake_thread(m, t);
}

static enum mb_next handle(struct mb_machine *m, struct mb_vcpu *c, uint32_t basic)
{
	switch (basic) {
	case VMX_REASON_IO:
		return mb_exit_io(m, c);
	case VMX_REASON_CPUID:
		return mb_exit_cpuid(m, c);
	case VMX_REASON_RDMSR:
		return mb_exit_msr(m, c, false);
	case VMX_REASON_WRMSR:
		return mb_exit_msr(m, c, true);
	case VMX_REASON_MOV_CR:
		return mb_exit_cr(m, c);
	case VMX_REASON_VMCALL:
		return mb_exit_vmcall(m, c);
	case VMX_REASON_APIC_ACCESS:
		return mb_exit_apic_access(m, c);
	case VMX_REASON_EPT_VIOLATION:
		return mb_exit_ept(m, c);
	case VMX_REASON_HLT:		/* interrupts off: nothing will wake it (the hypervisor idles the rest) */
		plat_printf("mbvmm: vCPU %u halted with interrupts off at 0x%llx\n", c->index,
			    (unsigned long long)mb_reg(c, HV_X86_RIP));
		return MB_DONE;
	default:
		plat_printf("mbvmm: error: vCPU %u: exit reason %u at RIP 0x%llx: %s\n", c->index, (unsigned)basic,
			    (unsigned long long)mb_reg(c, HV_X86_RIP),
			    basic == VMX_REASON_TRIPLE_FAULT ? "triple fault" : "an exit the VMM does not handle");
		plat_printf("mbvmm: qualification 0x%llx, guest-physical 0x%llx, CR0 0x%llx, CR4 0x%llx, EFER 0x%llx, "
			    "entry controls 0x%llx\n", (unsigned long long)mb_vmcs(c, VMCS_RO_EXIT_QUALIFIC),
			    (unsigned long long)mb_vmcs(c, VMCS_GUEST_PHYSICAL_ADDRESS),
			    (unsigned long long)mb_vmcs(c, VMCS_GUEST_CR0), (unsigned long long)mb_vmcs(c, VMCS_GUEST_CR4),
			    (unsigned long long)mb_vmcs(c, VMCS_GUEST_IA32_EFER),
			    (unsigned long long)mb_vmcs(c, VMCS_CTRL_VMENTRY_CONTROLS));
		return MB_ABORT;
	}
}

/* Exits that can cut an event's delivery short (SDM 27.2.4): the others never have IDT-vectoring info. */
static bool may_interrupt_delivery(uint32_t basic)
{
	switch (basic) {
	case VMX_REASON_EXC_NMI:
	case VMX_REASON_IRQ:
	case VMX_REASON_TRIPLE_FAULT:
	case VMX_REASON_TASK:
	case VMX_REASON_VMX_TIMER_EXPIRED:
	case VMX_REASON_APIC_ACCESS:
	case VMX_REASON_EPT_VIOLATION:
	case VMX_REASON_EPT_MISCONFIG:
		return true;
	default:
		return false;
	}
}

/*
 * One vCPU until deadline (its turn), a wake-up (hv_vcpu_interrupt: the
 * thread looks at its vCPUs and the machine again) or an exit that ends the
 * guest. An APIC write the hypervisor did that has an effect (INIT, SIPI
 * through the x2APIC ICR or a cached page store) comes as its exit with the
 * exit info, RIP on the instruction: the VMM does the effect and retires it.
 */
static enum mb_next run_turn(struct mb_machine *m, struct mb_vcpu *c, uint64_t deadline)
{
	for (;;) {
		hv_vm_exitinfo_t info = HV_VM_EXITINFO_VMX;
		uint32_t reason, vectoring;
		enum mb_next next;
		hv_return_t r = hv_vcpu_run_until(c->id, deadline);

		if (r != HV_SUCCESS) {
			plat_printf("mbvmm: error: vCPU %u: hv_vcpu_run_until: 0x%x\n", c->index, (unsigned)r);
			return MB_ABORT;
		}
		reason = (uint32_t)mb_vmcs(c, VMCS_RO_EXIT_REASON);
		if (reason & EXIT_FAILED) {
			plat_printf("mbvmm: error: vCPU %u: VM entry failed (reason 0x%x)\n", c->index, reason);
			return MB_ABORT;
		}
		c->exit_reason = EXIT_BASIC(reason);
		/* An event the exit cut short goes in again, unless the handler puts its own. */
		vectoring = may_interrupt_delivery(c->exit_reason) ? (uint32_t)mb_vmcs(c, VMCS_RO_IDT_VECTOR_INFO) : 0;
		if (vectoring & VECTORING_VALID) {
			if (vectoring & VECTORING_ERR)
				mb_set_vmcs(c, VMCS_CTRL_VMENTRY_EXC_ERROR, mb_vmcs(c, VMCS_RO_IDT_VECTOR_ERROR));
			mb_set_vmcs(c, VMCS_CTRL_VMENTRY_IRQ_INFO, vectoring & ~(1u << 12));
		}
		/* The turn is over, or the guest spins on another vCPU's work (PAUSE loop): give it up. */
		if (c->exit_reason == VMX_REASON_VMX_TIMER_EXPIRED || c->exit_reason == VMX_REASON_IRQ ||
		    c->exit_reason == VMX_REASON_PAUSE)
			return MB_RESUME;
		hv_vcpu_exit_info(c->id, &info);
		/* The hypervisor did the write (an x2APIC ICR, a page store its load-store cache took). */
		if ((c->exit_reason == VMX_REASON_WRMSR || c->exit_reason == VMX_REASON_APIC_ACCESS) &&
		    (info == HV_VM_EXITINFO_INIT_AP || info == HV_VM_EXITINFO_STARTUP_AP)) {
			mb_skip(c);
			mb_apic_effect(m, c);
			continue;
		}
		lock(m);
		next = handle(m, c, c->exit_reason);
		unlock(m);
		if (next != MB_RESUME)
			return next;
	}
}

/*
 * vCPUs that share a thread: one spinning (PAUSE) on another's work gives its
 * turn up instead of spinning it out, where the CPU has PAUSE-loop exiting.
 */
static void share_thread(struct mb_vcpu *c)
{
	uint64_t cap = 0;

	if (hv_vmx_read_capability(HV_VMX_CAP_PROCBASED2, &cap) != HV_SUCCESS ||
	    !((cap >> 32) & CPU_BASED2_PAUSE_LOOP))
		return;
	mb_set_vmcs(c, VMCS_CTRL_PLE_GAP, PLE_GAP);
	mb_set_vmcs(c, VMCS_CTRL_PLE_WINDOW, PLE_WINDOW);
	mb_set_vmcs(c, VMCS_CTRL_CPU_BASED2, mb_vmcs(c, VMCS_CTRL_CPU_BASED2) | CPU_BASED2_PAUSE_LOOP);
}

/* Thread t's vCPUs, created in APIC ID order across the threads (vCPU ids are handed out in order). */
static unsigned create(struct mb_machine *m, unsigned t)
{
	unsigned mine = 0;

	for (unsigned i = t; i < m->ncpus; i += m->threads) {
		struct mb_vcpu *c = &m->vcpu[i];

		while (!stopping(m) && __atomic_load_n(&m->created, __ATOMIC_ACQUIRE) != i)
			__builtin_ia32_pause();
		if (stopping(m))
			return mine;
		if (hv_vcpu_create(&c->id, HV_VCPU_DEFAULT) != HV_SUCCESS) {
			plat_printf("mbvmm: error: hv_vcpu_create of vCPU %u failed\n", i);
			stop_all(m, t, MB_ABORT);
			return mine;
		}
		if (c->id != i) {	/* the APIC ID is the id: CPUID and the tables say i */
			plat_printf("mbvmm: error: vCPU %u got id %u\n", i, (unsigned)c->id);
			hv_vcpu_destroy(c->id);
			stop_all(m, t, MB_ABORT);
			return mine;
		}
		c->index = i;
		mb_vcpu_setup(m, c);
		if (m->ncpus > m->threads)
			share_thread(c);
		mine++;
		__atomic_store_n(&m->created, i + 1, __ATOMIC_RELEASE);
	}
	return mine;
}

/*
 * Thread t: its vCPUs in turns until the machine stops. A thread whose vCPUs
 * all wait for a SIPI spins for it (pause): the BSP sends it early.
 */
static void thread_loop(struct mb_machine *m, unsigned t)
{
	uint64_t turn = plat_clock_ms(1) * TURN_US / 1000, idle_turn = plat_clock_ms(1) * IDLE_TURN_US / 1000;
	unsigned mine = create(m, t), running;

	while (!stopping(m)) {
		running = 0;
		for (unsigned k = 0; k < mine; k++) {
			struct mb_vcpu *c = &m->vcpu[t + k * m->threads];

			mb_smp_take_sipi(c);
			running += __atomic_load_n(&c->state, __ATOMIC_ACQUIRE) == MB_VCPU_RUN;
		}
		if (!running)
			__builtin_ia32_pause();
		for (unsigned k = 0; k < mine && running && !stopping(m); k++) {
			struct mb_vcpu *c = &m->vcpu[t + k * m->threads];
			enum mb_next next;

			if (__atomic_load_n(&c->state, __ATOMIC_ACQUIRE) != MB_VCPU_RUN)
				continue;
			if (running == 1) {
				next = run_turn(m, c, HV_DEADLINE_FOREVER);
			} else {
				/* A halted vCPU takes what is pending at its entry: a short turn does. */
				next = run_turn(m, c, plat_clock() + (c->idle ? idle_turn : turn));
				c->idle = mb_vmcs(c, VMCS_GUEST_ACTIVITY_STATE) == ACTIVITY_HLT;
			}
			if (next != MB_RESUME)
				stop_all(m, t, next);
		}
	}
	while (mine)
		hv_vcpu_destroy(m->vcpu[t + --mine * m->threads].id);
}

struct thread_arg {
	struct mb_machine *m;
	unsigned t;
};

static void thread_entry(void *arg)
{
	struct thread_arg *a = arg;

	thread_loop(a->m, a->t);
}

enum mb_next mb_run(struct mb_machine *m)
{
	static struct thread_arg args[MB_VCPUS_MAX];
	unsigned cpus = plat_cpu_count();

	m->threads = m->ncpus < cpus ? m->ncpus : cpus;
	for (unsigned t = 1; t < m->threads; t++) {
		args[t] = (struct thread_arg){ m, t };
		if (!plat_start_cpu(t, thread_entry, &args[t])) {
			plat_printf("mbvmm: error: no thread on CPU %u\n", t);
			stop_all(m, 0, MB_ABORT);	/* the threads started see it before they create anything */
			break;
		}
	}
	plat_printf("mbvmm: %u vCPUs on %u CPUs of %u\n", m->ncpus, m->threads, cpus);
	thread_loop(m, 0);
	plat_wait_cpus();
	return m->how;
}
