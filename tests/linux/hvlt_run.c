/*
 * Guests running under Linux: a spinning guest killed mid-run (b), a spinning guest
 * that must not stop another process's sleep (d), a vCPU thread moved between CPUs
 * between and during runs (c), and the example VMM as a program (e).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cpuid.h>
#include "hvlt.h"

#define EXTRA_RAM	(4u << 20)	/* the spinning VMM maps this too: pins to count */

/*
 * A child VMM that runs the spinning guest with hv_vcpu_run_until(FOREVER), on cpu
 * (or anywhere: -1). Returns its pid once its memory is mapped and it is about to run.
 */
static pid_t spinner(int cpu)
{
	int p[2];
	pid_t pid;
	char c = 0;

	if (pipe(p))
		return -1;
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		struct guest g;
		void *extra = NULL;

		close(p[0]);
		if (cpu >= 0)
			pin_to(0, cpu);
		if (hv_vm_create(HV_VM_DEFAULT) != HV_SUCCESS ||
		    !guest_setup(&g, guest_spin, guest_spin_len) ||
		    hv_vm_allocate(&extra, EXTRA_RAM, HV_ALLOCATE_DEFAULT) != HV_SUCCESS ||
		    hv_vm_map(extra, 0x100000, EXTRA_RAM, HV_MEMORY_READ | HV_MEMORY_WRITE) !=
		    HV_SUCCESS)
			_exit(2);
		if (write(p[1], &c, 1) != 1)
			_exit(2);
		hv_vcpu_run_until(g.vcpu, HV_DEADLINE_FOREVER);
		_exit(3);	/* a signal ended the run without ending the process */
	}
	close(p[1]);
	if (pid > 0 && read(p[0], &c, 1) != 1) {
		waitpid(pid, NULL, 0);
		pid = -1;
	}
	close(p[0]);
	return pid;
}

/* (b) kill -9 mid-run: no VM, vCPU or pinned page outlives the process. */
void test_kill(void)
{
	struct hvmetal_dev_stats base, s;
	int status = -1;
	bool running;
	uint64_t t0;
	pid_t pid;

	if (!dev_stats(&base)) {
		ok(false, "stats before the kill test");
		return;
	}
	pid = spinner(-1);
	running = pid > 0 && wait_running(1, 3, 20000);
	memset(&s, 0xff, sizeof(s));
	dev_stats(&s);
	ok(running && s.pinned_pages == base.pinned_pages + (GUEST_RAM + EXTRA_RAM) / 4096,
	   "a VMM child maps %u KiB and runs a guest that spins forever (%llu pages pinned)",
	   (GUEST_RAM + EXTRA_RAM) >> 10, (unsigned long long)(s.pinned_pages - base.pinned_pages));
	if (pid <= 0)
		return;
	t0 = monotonic_ns();
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	ok(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
	   "SIGKILL mid-run ends it in %llu ms (status 0x%x)",
	   (unsigned long long)(monotonic_ns() - t0) / 1000000, (unsigned)status);
	memset(&s, 0xff, sizeof(s));
	dev_stats(&s);
	ok(s.vms == base.vms && s.vcpus == base.vcpus && !s.running,
	   "no VM or vCPU outlives it (%llu VMs, %llu vCPUs, %llu running)",
	   (unsigned long long)s.vms, (unsigned long long)s.vcpus, (unsigned long long)s.running);
	ok(s.pinned_pages == 0, "the driver's pinned page count is 0 (%llu)",
	   (unsigned long long)s.pinned_pages);
	ok(s.info.pool_free == base.info.pool_free,
	   "hvmetal's pool_free is back to its baseline (%llu, baseline %llu)",
	   (unsigned long long)s.info.pool_free, (unsigned long long)base.info.pool_free);
}

/* (d) A guest spinning forever on CPU 0 does not stop a sleep on CPU 0 from returning. */
void test_sleep(void)
{
	const unsigned ms = 100;
	struct hvmetal_dev_stats before, after;
	uint64_t t0, took;
	pid_t pid;

	pin_to(0, 0);
	pid = spinner(0);
	ok(pid > 0 && wait_running(1, 1, 20000), "a VMM child spins a guest on CPU 0 (run_until)");
	if (pid <= 0) {
		unpin();
		return;
	}
	dev_stats(&before);
	t0 = monotonic_ns();
	sleep_ms(ms);
	took = (monotonic_ns() - t0) / 1000000;
	dev_stats(&after);
	ok(took >= ms && took < ms + 2000, "nanosleep(%u ms) in another process on CPU 0 returns "
	   "after %llu ms", ms, (unsigned long long)took);
	ok(after.running == 1 && after.run_again > before.run_again,
	   "the guest kept running meanwhile (%llu runs again)",
	   (unsigned long long)(after.run_again - before.run_again));
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	unpin();
}

/* ---- (c) migration ---- */

#define MIGRATE_RUNS	100	/* runs with the thread moved between them */
#define DURING_RUNS	12	/* runs while another thread moves it */
#define DURING_MS	12	/* each about this long in the guest: three timer ticks */
#define PROBE_SPINS	250000	/* guest loop turns of the run that measures the speed */
#define R12_MARK	0x5eed1234cafef00dull

struct mover {
	pid_t tid;
	volatile bool stop;
	unsigned moves;
};

static void *mover(void *arg)
{
	struct mover *m = arg;

	unpin();	/* it was made on the vCPU thread's CPU: it must not wait for that one */
	while (!m->stop) {
		pin_to(m->tid, ++m->moves & 1);
		sleep_ms(2);
	}
	return NULL;
}

static uint32_t count_in_ram(const struct guest *g)
{
	uint32_t v;

	memcpy(&v, g->ram + GUEST_COUNT, sizeof(v));
	return v;
}

/* XMM0 in the standard XSAVE layout (legacy region), and the header's XSTATE_BV. */
#define XMM0		160
#define XSTATE_BV	512
#define XFEATURE_SSE	2

static void migrate_child(void)
{
	static uint8_t fp[64 << 10] __attribute__((aligned(64))), fp2[sizeof(fp)]
		__attribute__((aligned(64)));
	unsigned a, b, xsave_size = 0, d, bad = 0, cpus_seen = 0;
	struct hvmetal_dev_stats s0, s1, s2;
	struct mover m = { .tid = (pid_t)syscall(SYS_gettid) };
	uint64_t rbx = 0, r12 = 0, n = 0, t0, t1, exec0 = 0, exec1 = 0, spins;
	pthread_t thread;
	struct guest g;

	__cpuid_count(0xd, 0, a, b, xsave_size, d);
	pin_to(0, 0);
	if (hv_vm_create(HV_VM_DEFAULT) != HV_SUCCESS ||
	    !guest_setup(&g, guest_count, guest_count_len) ||
	    hv_vcpu_write_register(g.vcpu, HV_X86_R12, R12_MARK) != HV_SUCCESS ||
	    xsave_size > sizeof(fp) ||
	    hv_vcpu_read_fpstate(g.vcpu, fp, xsave_size) != HV_SUCCESS) {
		ok(false, "a vCPU for the migration tests");
		_exit(1);
	}
	memset(fp + XMM0, 0xa5, 16);
	fp[XSTATE_BV] |= XFEATURE_SSE;	/* else XRSTOR takes XMM0 from its init state */
	if (hv_vcpu_write_fpstate(g.vcpu, fp, xsave_size) != HV_SUCCESS)
		diag("hv_vcpu_write_fpstate failed");
	dev_stats(&s0);
	for (unsigned i = 0; i < MIGRATE_RUNS; i++) {
		pin_to(0, (int)(i & 1));
		if (sched_getcpu() != (int)(i & 1))
			bad++;
		if (!guest_run_to_out(&g, &rbx) || rbx != ++n || count_in_ram(&g) != n)
			bad++;
	}
	dev_stats(&s1);
	ok(!bad, "%u runs, the vCPU's thread moved between CPU 0 and 1 before each: every run "
	   "ends at the guest's OUT with its counter right (%u wrong)", MIGRATE_RUNS, bad);
	ok(s1.adopts - s0.adopts >= MIGRATE_RUNS - 1, "the vCPU followed its thread: %llu adopts",
	   (unsigned long long)(s1.adopts - s0.adopts));
	bad = 0;

	/* Emulators' clocks differ: the loop turns for DURING_MS are measured. */
	guest_set_spins(&g, PROBE_SPINS);
	hv_vcpu_get_exec_time(g.vcpu, &exec0);
	if (!guest_run_to_out(&g, &rbx) || rbx != ++n)
		bad++;
	hv_vcpu_get_exec_time(g.vcpu, &exec1);
	spins = (uint64_t)PROBE_SPINS * DURING_MS * 1000000 / (exec1 - exec0 + 1);
	spins = spins < PROBE_SPINS ? PROBE_SPINS : spins > 0x7fffffff ? 0x7fffffff : spins;
	guest_set_spins(&g, (uint32_t)spins);
	hv_vcpu_get_exec_time(g.vcpu, &exec0);
	t0 = monotonic_ns();
	pthread_create(&thread, NULL, mover, &m);
	for (unsigned i = 0; i < DURING_RUNS; i++) {
		if (!guest_run_to_out(&g, &rbx) || rbx != ++n || count_in_ram(&g) != n)
			bad++;
		cpus_seen |= 1u << (sched_getcpu() & 1);
	}
	t1 = monotonic_ns();
	hv_vcpu_get_exec_time(g.vcpu, &exec1);
	m.stop = true;
	pthread_join(thread, NULL);
	dev_stats(&s2);
	diag("%u runs took %llu ms, %llu ms of it in the guest", DURING_RUNS,
	     (unsigned long long)(t1 - t0) / 1000000, (unsigned long long)(exec1 - exec0) / 1000000);
	ok(!bad, "%u runs of %llu guest loop turns while another thread moved the vCPU's thread "
	   "every 2 ms (%u moves): every run ends at the guest's OUT, counter right (%u wrong)",
	   DURING_RUNS, (unsigned long long)spins, m.moves, bad);
	ok(s2.adopts > s1.adopts && cpus_seen == 3,
	   "meanwhile %llu adopts, %llu runs again, runs ended on both CPUs (mask %u)",
	   (unsigned long long)(s2.adopts - s1.adopts),
	   (unsigned long long)(s2.run_again - s1.run_again), cpus_seen);
	memset(fp2, 0, sizeof(fp2));
	bad = hv_vcpu_read_register(g.vcpu, HV_X86_R12, &r12) != HV_SUCCESS ||
	      hv_vcpu_read_fpstate(g.vcpu, fp2, xsave_size) != HV_SUCCESS;
	ok(!bad && r12 == R12_MARK && !memcmp(fp2 + XMM0, fp + XMM0, 16) && rbx == n,
	   "guest state intact after the moves: R12 0x%llx, XMM0, RBX %llu",
	   (unsigned long long)r12, (unsigned long long)rbx);
	guest_teardown(&g);
	ok(hv_vm_destroy() == HV_SUCCESS, "hv_vm_destroy after the migrations");
	_exit(0);
}

void test_migrate(void)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	int status = -1;
	pid_t pid;

	if (cpus < 2) {
		skip("a vCPU thread moved between CPUs: %ld CPU online", cpus);
		return;
	}
	fflush(stdout);
	pid = fork();
	if (pid == 0)
		migrate_child();
	if (pid > 0)
		waitpid(pid, &status, 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		ok(false, "the migration test's process ended with status 0x%x", (unsigned)status);
}

/* (e) The example VMM, unchanged, as a Linux program: its lines go to the console. */
void test_vmm(void)
{
	const char *path = vmm_path;
	int status = -1;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		execl(path, path, (char *)NULL);
		printf("hvltest: exec %s: %s\n", path, strerror(errno));
		_exit(127);
	}
	if (pid > 0)
		waitpid(pid, &status, 0);
	ok(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	   "the example VMM (%s) ran its guests as a Linux process (status 0x%x)", path,
	   (unsigned)status);
}
