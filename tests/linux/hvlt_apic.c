/*
 * APIC acceleration through the driver (docs/linux.md, docs/apic.md): a VM made with
 * HV_VM_ACCEL_APIC by a process. Its real-mode guest turns x2APIC mode on and idles
 * with STI; HLT (inside hvmetal: the CPU halts in the guest); a second thread of the
 * process sends it an interrupt with hv_vm_lapic_set_intr while the vCPU's thread is
 * in hv_vcpu_run_until, and the guest's handler counts and exits with an OUT. Also:
 * a signal ends an idle run, the exit info, the vCPU calls refused to other threads,
 * the VM-wide calls from any thread (the IOAPIC's version register), a state round
 * trip, state buffers the process never touched, pointers to nothing.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <hvmetal/hvmetal_dev.h>
#include "hvlt.h"

#define PAGE		4096u
#define VECTOR		0x40
#define ISR		0x24	/* the handler's offset in guest_apic */
#define WATCHDOG_MS	30000	/* a run not back by then is ended with hv_vcpu_interrupt */

/*
 * Like tests/machine/guest16.asm's guest_x2apic: IA32_APIC_BASE.EN|EXTD, SVR enabled
 * (spurious vector 0xff), OUT; then STI; HLT forever. The handler of VECTOR counts at
 * GUEST_COUNT, OUTs (the VMM sees that it ran) and EOIs through the x2APIC MSR.
 */
static const uint8_t guest_apic[] = {
	0x66, 0xb9, 0x1b, 0, 0, 0,		/* 00: mov ecx, 0x1b (IA32_APIC_BASE) */
	0x0f, 0x32,				/* 06: rdmsr */
	0x0d, 0x00, 0x0c,			/* 08: or ax, 0xc00 (EN | EXTD) */
	0x0f, 0x30,				/* 0b: wrmsr */
	0x66, 0xb9, 0x0f, 0x08, 0, 0,		/* 0d: mov ecx, 0x80f (SVR) */
	0x66, 0xb8, 0xff, 0x01, 0, 0,		/* 13: mov eax, 0x1ff */
	0x66, 0x31, 0xd2,			/* 19: xor edx, edx */
	0x0f, 0x30,				/* 1c: wrmsr */
	0xe6, GUEST_PORT,			/* 1e: out GUEST_PORT, al */
	0xfb,					/* 20: sti */
	0xf4,					/* 21: hlt */
	0xeb, 0xfc,				/* 22: jmp 20 */
	/* ISR: */
	0x66, 0xff, 0x06, GUEST_COUNT & 0xff, GUEST_COUNT >> 8, /* 24: inc dword [GUEST_COUNT] */
	0xe6, GUEST_PORT,			/* 29: out GUEST_PORT, al */
	0x66, 0x50, 0x66, 0x51, 0x66, 0x52,	/* 2b: push eax, ecx, edx */
	0x66, 0xb9, 0x0b, 0x08, 0, 0,		/* 31: mov ecx, 0x80b (EOI) */
	0x66, 0x31, 0xc0,			/* 37: xor eax, eax */
	0x66, 0x31, 0xd2,			/* 3a: xor edx, edx */
	0x0f, 0x30,				/* 3d: wrmsr */
	0x66, 0x5a, 0x66, 0x59, 0x66, 0x58,	/* 3f: pop edx, ecx, eax */
	0xcf,					/* 45: iret */
};

/* What the second thread does while the vCPU's thread runs the idle guest. */
enum helper_job { JOB_SIGNAL, JOB_INTERRUPT };

struct helper {
	enum helper_job job;
	pthread_t vcpu_thread;
	hv_vcpuid_t vcpu;
	volatile bool run_done;
	bool idle_seen, watchdog;
	int cpu;			/* where the helper made its calls */
	int vcpu_cpu;			/* where the run ended */
	hv_return_t set_intr, ioapic_sel, ioapic_read, apic_read;
	uint32_t ioapic_ver, apic_ver;
};

static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
	(void)sig;
	got_signal = 1;
}

static void *helper(void *arg)
{
	struct helper *h = arg;
	uint64_t end;

	/* With two CPUs, the other one than the vCPU's: hvmetal must kick a halted CPU. */
	if (sysconf(_SC_NPROCESSORS_ONLN) > 1)
		pin_to(0, 1);
	else
		unpin();
	/* The run went through two timer ticks of Linux's: the guest idles in hvmetal. */
	h->idle_seen = wait_running(1, 2, 20000);
	sleep_ms(20);
	if (h->job == JOB_SIGNAL) {
		pthread_kill(h->vcpu_thread, SIGUSR1);
	} else {
		/* Owner-only vCPU calls are refused here; VM-wide ones pass. */
		h->apic_read = hv_vcpu_apic_read(h->vcpu, 0x30, &h->apic_ver);
		h->ioapic_sel = hv_vm_ioapic_write(0xfec00000, 1);	/* IOREGSEL: version */
		h->ioapic_read = hv_vm_ioapic_read(0xfec00010, &h->ioapic_ver);
		h->set_intr = hv_vm_lapic_set_intr(h->vcpu, VECTOR, HV_APIC_EDGE_TRIGGER);
	}
	h->cpu = sched_getcpu();
	end = monotonic_ns() + (uint64_t)WATCHDOG_MS * 1000000;
	while (!h->run_done && monotonic_ns() < end)
		sleep_ms(5);
	if (!h->run_done) {
		h->watchdog = true;
		diag("the run did not come back in %u ms: hv_vcpu_interrupt", WATCHDOG_MS);
		hv_vcpu_interrupt(&h->vcpu, 1);
	}
	return NULL;
}

/* One hv_vcpu_run_until(FOREVER) with the helper doing job meanwhile. */
static hv_return_t run_with_helper(struct helper *h, enum helper_job job, struct guest *g,
				   uint64_t *reason)
{
	pthread_t t;
	hv_return_t r;

	h->job = job;
	h->vcpu_thread = pthread_self();
	h->vcpu = g->vcpu;
	h->run_done = false;
	pthread_create(&t, NULL, helper, h);
	r = hv_vcpu_run_until(g->vcpu, HV_DEADLINE_FOREVER);
	h->run_done = true;
	h->vcpu_cpu = sched_getcpu();
	pthread_join(t, NULL);
	*reason = ~0ull;
	hv_vmx_vcpu_read_vmcs(g->vcpu, VMCS_RO_EXIT_REASON, reason);
	return r;
}

static uint32_t guest_count_now(const struct guest *g)
{
	uint32_t v;

	memcpy(&v, g->ram + GUEST_COUNT, sizeof(v));
	return v;
}

/* Without HV_VM_ACCEL_APIC: the calls pass the driver and hvmetal says HV_UNSUPPORTED. */
static void not_accel(void)
{
	hv_apic_state_ext_t st = { .version = HV_APIC_STATE_EXT_VER };
	hv_vm_exitinfo_t code = ~0u;
	hv_return_t r1, r2, r3, r4, r5;
	hv_vcpuid_t c = 0;
	uint32_t v = 0;

	if (hv_vm_create(HV_VM_DEFAULT) != HV_SUCCESS ||
	    hv_vcpu_create(&c, HV_VCPU_DEFAULT) != HV_SUCCESS) {
		ok(false, "a VM without APIC acceleration");
		return;
	}
	r1 = hv_vcpu_apic_read(c, 0x30, &v);
	r2 = hv_vm_lapic_set_intr(c, VECTOR, HV_APIC_EDGE_TRIGGER);
	r3 = hv_vm_ioapic_read(0xfec00010, &v);
	r4 = hv_vcpu_apic_get_state(c, &st);
	r5 = hv_vcpu_apic_get_state(c, NULL);
	ok(r1 == HV_UNSUPPORTED && r2 == HV_UNSUPPORTED && r3 == HV_UNSUPPORTED &&
	   r4 == HV_UNSUPPORTED && r5 == HV_UNSUPPORTED,
	   "a VM without HV_VM_ACCEL_APIC: apic_read, lapic_set_intr, ioapic_read, apic_get_state "
	   "(NULL too) are HV_UNSUPPORTED (%s %s %s %s %s)", hv_name(r1), hv_name(r2),
	   hv_name(r3), hv_name(r4), hv_name(r5));
	r1 = hv_vcpu_exit_info(c, &code);
	ok(r1 == HV_SUCCESS && code == HV_VM_EXITINFO_VMX,
	   "and hv_vcpu_exit_info (VCPU_EXIT_INFO) says HV_VM_EXITINFO_VMX (%s, %u)",
	   hv_name(r1), (unsigned)code);
	if (hv_vcpu_destroy(c) != HV_SUCCESS || hv_vm_destroy() != HV_SUCCESS)
		diag("the VM without APIC acceleration did not go");
}

/* State buffers: a round trip, a buffer the process never touched, pointers to nothing. */
static void states(struct guest *g)
{
	hv_apic_state_ext_t st = { .version = HV_APIC_STATE_EXT_VER }, st2;
	hv_ioapic_state_ext_t *io;
	hv_apic_state_ext_t *fresh;
	uint8_t *pages, *gone;
	hv_return_t r1, r2, r3, r4, r5;
	uint32_t tpr = ~0u;

	r1 = hv_vcpu_apic_get_state(g->vcpu, &st);
	ok(r1 == HV_SUCCESS && st.state.boot_state == HV_BS_RUNNING && st.state.svr == 0x1ff &&
	   st.state.apic_id == 0, "hv_vcpu_apic_get_state: %s, vCPU 0 running, SVR %x, ID %u",
	   hv_name(r1), st.state.svr, st.state.apic_id);
	st2 = st;
	st2.state.tpr = 0x30;
	r1 = hv_vcpu_apic_put_state(g->vcpu, &st2);
	r2 = hv_vcpu_apic_read(g->vcpu, 0x80, &tpr);
	r3 = hv_vcpu_apic_put_state(g->vcpu, &st);
	memset(&st2, 0, sizeof(st2));
	st2.version = HV_APIC_STATE_EXT_VER;
	r4 = hv_vcpu_apic_get_state(g->vcpu, &st2);
	ok(r1 == HV_SUCCESS && r2 == HV_SUCCESS && tpr == 0x30 && r3 == HV_SUCCESS &&
	   r4 == HV_SUCCESS && st2.state.tpr == st.state.tpr && st2.state.svr == st.state.svr,
	   "put_state with TPR 0x30 reads back as %x; the old state put back round-trips "
	   "(%s %s %s %s)", tpr, hv_name(r1), hv_name(r2), hv_name(r3), hv_name(r4));

	/* The version in a touched page, the rest in one the process never touched. */
	pages = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	gone = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (pages == MAP_FAILED || gone == MAP_FAILED) {
		ok(false, "mmap for the state buffers");
		return;
	}
	munmap(gone, PAGE);
	fresh = (hv_apic_state_ext_t *)(pages + PAGE - 8);
	fresh->version = HV_APIC_STATE_EXT_VER;
	r1 = hv_vcpu_apic_get_state(g->vcpu, fresh);
	ok(r1 == HV_SUCCESS && fresh->state.svr == 0x1ff,
	   "get_state into a buffer half in a page the process never touched: %s, SVR %x",
	   hv_name(r1), fresh->state.svr);
	io = (hv_ioapic_state_ext_t *)(pages + 2 * PAGE - sizeof(*io));
	io->version = HV_IOAPIC_STATE_EXT_VER;
	r2 = hv_vm_ioapic_get_state(io);
	ok(r2 == HV_SUCCESS && io->state.rtbl[0] == 0x10000,
	   "hv_vm_ioapic_get_state: %s, pin 0 masked (0x%llx)", hv_name(r2),
	   (unsigned long long)io->state.rtbl[0]);

	r1 = hv_vcpu_apic_get_state(g->vcpu, (hv_apic_state_ext_t *)gone);
	r2 = hv_vcpu_apic_put_state(g->vcpu, (const hv_apic_state_ext_t *)gone);
	r3 = hv_vcpu_apic_get_state(g->vcpu, NULL);
	r4 = hv_vm_ioapic_get_state((hv_ioapic_state_ext_t *)gone);
	r5 = hv_vm_atpic_get_state(NULL, true);
	ok(r1 == HV_BAD_ARGUMENT && r2 == HV_BAD_ARGUMENT && r3 == HV_BAD_ARGUMENT &&
	   r4 == HV_BAD_ARGUMENT && r5 == HV_BAD_ARGUMENT,
	   "state pointers to unmapped memory or NULL: HV_BAD_ARGUMENT, no crash "
	   "(%s %s %s %s %s)", hv_name(r1), hv_name(r2), hv_name(r3), hv_name(r4), hv_name(r5));
	munmap(pages, 2 * PAGE);
}

static uint64_t pinned_pages(void)
{
	struct hvmetal_dev_stats s = { 0 };
	int fd = open(HVMETAL_DEV_PATH, O_RDWR | O_CLOEXEC);

	if (fd < 0 || ioctl(fd, HVMETAL_IOC_STATS, &s) < 0)
		s.pinned_pages = ~0ull;
	if (fd >= 0)
		close(fd);
	return s.pinned_pages;
}

/*
 * The load-store cache through the driver: an entry's code page is pinned until
 * the VM goes (hvmetal compares its bytes at every hit), so freeing it cannot
 * hand the comparison another process's memory.
 */
static void lsc(struct guest *g)
{
	uint8_t *code = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint8_t *gone = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint64_t uva[1], p0, p1, p2;
	hv_return_t r1, r2, r3, r4, r5;

	if (code == MAP_FAILED || gone == MAP_FAILED) {
		ok(false, "mmap for the code pages");
		return;
	}
	memset(code, 0x90, PAGE);
	munmap(gone, PAGE);
	p0 = pinned_pages();
	uva[0] = (uint64_t)(uintptr_t)code;
	r1 = hv_vcpu_apic_lsc_enter_imm32(g->vcpu, 0x100, 4, 0, 0, uva, 1);
	p1 = pinned_pages();
	r2 = hv_vcpu_apic_lsc_enter_r32(g->vcpu, true, 0x200, 4, 0, HV_X86_RAX, uva, 1);
	p2 = pinned_pages();
	uva[0] = (uint64_t)(uintptr_t)gone;
	r3 = hv_vcpu_apic_lsc_enter_imm32(g->vcpu, 0x100, 4, 0, 0, uva, 1);
	uva[0] = (uint64_t)(uintptr_t)code + 8;
	r4 = hv_vcpu_apic_lsc_enter_imm32(g->vcpu, 0x100, 4, 0, 0, uva, 1);
	r5 = hv_vcpu_apic_lsc_invalidate(g->vcpu);
	ok(r1 == HV_SUCCESS && r2 == HV_SUCCESS && p1 == p0 + 1 && p2 == p1 && r3 == HV_BAD_ARGUMENT &&
	   r4 == HV_BAD_ARGUMENT && r5 == HV_SUCCESS,
	   "load-store-cache entries: the code page pinned once (%llu more), an unmapped or unaligned "
	   "page HV_BAD_ARGUMENT, invalidate (%s %s %s %s %s)", (unsigned long long)(p1 - p0),
	   hv_name(r1), hv_name(r2), hv_name(r3), hv_name(r4), hv_name(r5));
	munmap(code, PAGE);
}

static void apic_child(void)
{
	struct sigaction sa = { .sa_handler = on_signal };
	struct helper h = { 0 };
	hv_vm_exitinfo_t code = ~0u;
	uint64_t rbx = 0, reason = 0, rip = 0, idle0 = 0, idle1 = 0, t0;
	uint16_t ivt[2] = { GUEST_CODE + ISR, 0 };
	struct guest g;
	hv_return_t r;
	bool pass;

	sigaction(SIGUSR1, &sa, NULL);
	pin_to(0, 0);	/* the vCPU's thread; the helper takes CPU 1 if there is one */
	not_accel();
	if (hv_vm_create(HV_VM_ACCEL_APIC) != HV_SUCCESS ||
	    !guest_setup(&g, guest_apic, sizeof(guest_apic))) {
		ok(false, "an HV_VM_ACCEL_APIC VM from a process");
		_exit(1);
	}
	memcpy(g.ram + 4 * VECTOR, ivt, sizeof(ivt));
	/* The calls first: the message's arguments may be evaluated before ok()'s condition. */
	pass = guest_run_to_out(&g, &rbx) && hv_vcpu_exit_info(g.vcpu, &code) == HV_SUCCESS &&
	       code == HV_VM_EXITINFO_VMX;
	ok(pass, "an HV_VM_ACCEL_APIC VM: the guest turns x2APIC on by WRMSR and OUTs "
	   "(exit info %u)", (unsigned)code);

	/* Idle in hvmetal; a signal to the vCPU's thread ends the run. */
	got_signal = 0;
	t0 = monotonic_ns();
	r = run_with_helper(&h, JOB_SIGNAL, &g, &reason);
	code = ~0u;
	hv_vcpu_exit_info(g.vcpu, &code);
	hv_vcpu_read_register(g.vcpu, HV_X86_RIP, &rip);
	ok(r == HV_SUCCESS && h.idle_seen && !h.watchdog && got_signal &&
	   reason == VMX_REASON_IRQ && code == HV_VM_EXITINFO_VMX,
	   "STI; HLT idles through Linux's ticks (runs again); a signal ends the idle run after "
	   "%llu ms: %s, reason %llu, exit info %u, RIP 0x%llx",
	   (unsigned long long)(monotonic_ns() - t0) / 1000000, hv_name(r),
	   (unsigned long long)reason, (unsigned)code, (unsigned long long)rip);

	/* Idle again; an interrupt from the other thread wakes it. */
	hv_vcpu_get_idle_time(g.vcpu, &idle0);
	t0 = monotonic_ns();
	r = run_with_helper(&h, JOB_INTERRUPT, &g, &reason);
	hv_vcpu_get_idle_time(g.vcpu, &idle1);
	ok(h.apic_read == HV_DENIED,
	   "hv_vcpu_apic_read from a thread that is not the vCPU's: HV_DENIED (%s)",
	   hv_name(h.apic_read));
	ok(h.ioapic_sel == HV_SUCCESS && h.ioapic_read == HV_SUCCESS &&
	   h.ioapic_ver == 0x001f0011,
	   "hv_vm_ioapic_read from another thread: version register 0x%08x (%s)",
	   h.ioapic_ver, hv_name(h.ioapic_read));
	ok(r == HV_SUCCESS && h.idle_seen && !h.watchdog && h.set_intr == HV_SUCCESS &&
	   reason == VMX_REASON_IO && guest_count_now(&g) == 1 &&
	   (sysconf(_SC_NPROCESSORS_ONLN) < 2 || h.cpu != h.vcpu_cpu),
	   "hv_vm_lapic_set_intr from another thread (CPU %d) while the vCPU idles in "
	   "hv_vcpu_run_until (CPU %d): %s, the guest's handler ran (count %u, reason %llu) "
	   "after %llu ms", h.cpu, h.vcpu_cpu, hv_name(h.set_intr), guest_count_now(&g),
	   (unsigned long long)reason, (unsigned long long)(monotonic_ns() - t0) / 1000000);
	code = ~0u;
	r = hv_vcpu_exit_info(g.vcpu, &code);
	ok(r == HV_SUCCESS && code == HV_VM_EXITINFO_VMX,
	   "hv_vcpu_exit_info after that run: HV_VM_EXITINFO_VMX (%s, %u)", hv_name(r),
	   (unsigned)code);
	ok(idle1 > idle0, "hv_vcpu_get_idle_time grew by %llu ns over the idle run",
	   (unsigned long long)(idle1 - idle0));

	/* The handler's OUT retired: it EOIs, irets and idles again. */
	hv_vcpu_read_register(g.vcpu, HV_X86_RIP, &rip);
	hv_vcpu_write_register(g.vcpu, HV_X86_RIP, rip + 2);
	states(&g);
	lsc(&g);
	guest_teardown(&g);
	ok(hv_vm_destroy() == HV_SUCCESS, "the HV_VM_ACCEL_APIC VM goes");
	_exit(0);
}

void test_apic(void)
{
	int status = -1;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid == 0)
		apic_child();
	if (pid > 0)
		waitpid(pid, &status, 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		ok(false, "the APIC test's process ended with status 0x%x", (unsigned)status);
}
