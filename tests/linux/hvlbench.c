/*
 * hvlbench: path lengths of hvmetal's calls measured from a Linux process, the way a
 * VMM on libhv for Linux makes them (make bench's Linux part, tests/linux/bench.sh).
 * Under Bochs with one CPU the TSC counts executed instructions, so each figure is
 * the exact number of instructions, the process's, Linux's (system call, hvmetal.ko),
 * hvmetal's and the guest's together, from before the call to after it returns.
 *
 * As hvbench.efi (tests/machine/hvbench_vcpu.c): rdtsc around a loop of ITERS, the
 * fastest of TRIES runs, less rdtsc's own cost. A run with an interrupt for Linux in
 * it (its handler's instructions counted too) is not one of them: a run counts only
 * when /proc/stat's interrupt total did not move across it (the local APIC timer is in
 * that total), and at most MAX_TRIES runs are made to find TRIES such runs.
 *
 * Prints "bench: <name>: <N> instructions" lines (scripts/bench.sh collects them) and
 * "hvlbench: ..." lines saying how many runs it needed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <Hypervisor/hv.h>
#include <hvmetal/abi.h>
#include <hvmetal/hvmetal_dev.h>

#define ITERS		64
#define TRIES		8
#define MAX_TRIES	200
#define CODE		0x1000
#define GUEST_RAM	0x10000

static uint64_t tsc_overhead;

/* As hvbench.h's: lfence; rdtsc. */
static inline uint64_t tsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("lfence; rdtsc" : "=a"(lo), "=d"(hi) : : "memory");
	return ((uint64_t)hi << 32) | lo;
}

/* Every interrupt this CPU took since boot: /proc/stat's "intr" total (0: unreadable). */
static uint64_t interrupts(void)
{
	static char buf[1 << 16];
	ssize_t n, len = 0;
	char *p;
	int fd = open("/proc/stat", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return 0;
	while (len < (ssize_t)sizeof(buf) - 1 &&
	       (n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += n;
	close(fd);
	buf[len] = 0;
	p = strstr(buf, "\nintr ");
	return p ? strtoull(p + 6, NULL, 10) : 0;
}

/* One loop of ITERS: its instruction count, or UINT64_MAX when it failed. */
typedef uint64_t (*loop_fn)(void *arg);

/*
 * The fastest run of fn among the first TRIES without an interrupt for Linux in them;
 * UINT64_MAX when none was found or a run failed.
 */
static uint64_t fastest(const char *name, loop_fn fn, void *arg)
{
	uint64_t best = UINT64_MAX;
	int clean = 0, t;

	for (t = 0; t < MAX_TRIES && clean < TRIES; t++) {
		uint64_t i0 = interrupts(), n = fn(arg), i1 = interrupts();

		if (n == UINT64_MAX) {
			printf("hvlbench: %s: a call failed\n", name);
			return UINT64_MAX;
		}
		if (!i0 || i0 != i1)
			continue;
		clean++;
		if (n < best)
			best = n;
	}
	printf("hvlbench: %s: %d runs without an interrupt of %d\n", name, clean, t);
	return best;
}

static void report(const char *name, uint64_t total)
{
	if (total == UINT64_MAX)
		printf("hvlbench: %s: not measured\n", name);
	else
		printf("bench: %s: %llu instructions\n", name,
		       (unsigned long long)((total - tsc_overhead) / ITERS));
	fflush(stdout);
}

/* (a) The null hypercall: one HVMETAL_IOC_CALL of VERSION per call. */
static uint64_t null_loop(void *arg)
{
	int fd = *(int *)arg;
	uint64_t t0, t1, bad = 0;

	t0 = tsc();
	for (int i = 0; i < ITERS; i++) {
		struct hvmetal_dev_call c = { .nr = HVMETAL_HC_VERSION };

		if (ioctl(fd, HVMETAL_IOC_CALL, &c) < 0 || c.rax != HVMETAL_RAX(HV_SUCCESS) ||
		    c.rdx != HVMETAL_ABI_VERSION)
			bad++;
	}
	t1 = tsc();
	return bad ? UINT64_MAX : t1 - t0;
}

/*
 * What the null hypercall's figure holds besides hvmetal: an ioctl the driver answers
 * without a VMCALL (VCPU_ADOPT is the driver's own: HV_UNSUPPORTED after copying the
 * struct in and out), and one it does not know (ENOTTY: the system call alone).
 */
static uint64_t refused_loop(void *arg)
{
	int fd = *(int *)arg;
	uint64_t t0, t1, bad = 0;

	t0 = tsc();
	for (int i = 0; i < ITERS; i++) {
		struct hvmetal_dev_call c = { .nr = HVMETAL_HC_VCPU_ADOPT };

		if (ioctl(fd, HVMETAL_IOC_CALL, &c) < 0 || c.rax != HVMETAL_RAX(HV_UNSUPPORTED))
			bad++;
	}
	t1 = tsc();
	return bad ? UINT64_MAX : t1 - t0;
}

static uint64_t enotty_loop(void *arg)
{
	int fd = *(int *)arg;
	uint64_t t0, t1, bad = 0;

	t0 = tsc();
	for (int i = 0; i < ITERS; i++)
		if (ioctl(fd, _IO(HVMETAL_IOC_MAGIC, 0x7f), 0) >= 0 || errno != ENOTTY)
			bad++;
	t1 = tsc();
	return bad ? UINT64_MAX : t1 - t0;
}

/* (b) The VMM's loop: run; read the exit's reason and length and RIP; RIP += length. */
struct exit_arg {
	hv_vcpuid_t vcpu;
	uint64_t want;		/* the exit reason the guest's instruction makes */
};

static uint64_t exit_loop(void *arg)
{
	struct exit_arg *a = arg;
	uint64_t t0, t1, reason, len, rip;
	unsigned bad = 0;

	if (hv_vcpu_write_register(a->vcpu, HV_X86_RIP, CODE) != HV_SUCCESS)
		return UINT64_MAX;
	t0 = tsc();
	for (int i = 0; i < ITERS; i++) {
		bad += hv_vcpu_run(a->vcpu) != HV_SUCCESS;
		bad += hv_vmx_vcpu_read_vmcs(a->vcpu, VMCS_RO_EXIT_REASON, &reason) != HV_SUCCESS;
		if (reason != a->want)
			continue;	/* VMX_REASON_IRQ: an interrupt for Linux (not a clean run) */
		bad += hv_vmx_vcpu_read_vmcs(a->vcpu, VMCS_RO_VMEXIT_INSTR_LEN, &len) != HV_SUCCESS;
		bad += hv_vcpu_read_register(a->vcpu, HV_X86_RIP, &rip) != HV_SUCCESS;
		bad += hv_vcpu_write_register(a->vcpu, HV_X86_RIP, rip + len) != HV_SUCCESS;
	}
	t1 = tsc();
	return bad ? UINT64_MAX : t1 - t0;
}

/* As hvbench_vcpu.c's cap2ctrl: the capability's must-be-1 bits, nothing else. */
static uint64_t cap2ctrl(hv_vmx_capability_t cap, uint64_t want)
{
	uint64_t c = 0;

	hv_vmx_read_capability(cap, &c);
	return (want | (c & 0xffffffff)) & (c >> 32);
}

/* A real-mode guest at CODE looping over one exiting instruction, as hvbench_vcpu.c's. */
static void bench_exit(const char *name, hv_vcpuid_t vcpu, uint8_t *gmem, const uint8_t *insn,
		       unsigned len, uint64_t want)
{
	struct exit_arg a = { .vcpu = vcpu, .want = want };

	memcpy(gmem + CODE, insn, len);
	gmem[CODE + len] = 0xeb;			/* jmp back to the instruction */
	gmem[CODE + len + 1] = (uint8_t)-(int)(len + 2);
	report(name, fastest(name, exit_loop, &a));
}

int main(void)
{
	static const uint8_t cpuid[] = { 0x0f, 0xa2 }, out[] = { 0xe6, 0xe9 };
	uint8_t *gmem = NULL;
	hv_vcpuid_t vcpu;
	uint64_t t0, t1;
	int fd;

	setvbuf(stdout, NULL, _IOLBF, 0);
	tsc_overhead = UINT64_MAX;
	for (int i = 0; i < 8; i++) {
		t0 = tsc();
		t1 = tsc();
		if (t1 - t0 < tsc_overhead)
			tsc_overhead = t1 - t0;
	}
	printf("hvlbench: rdtsc overhead %llu, interrupts so far %llu\n",
	       (unsigned long long)tsc_overhead, (unsigned long long)interrupts());
	fd = open(HVMETAL_DEV_PATH, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		printf("hvlbench: open %s: %s: nothing measured\n", HVMETAL_DEV_PATH,
		       strerror(errno));
		return 1;
	}
	report("null hypercall through /dev/hvmetal (ioctl, VERSION), whole",
	       fastest("null hypercall", null_loop, &fd));
	report("ioctl the driver refuses without a VMCALL (VCPU_ADOPT), whole",
	       fastest("refused call", refused_loop, &fd));
	report("ioctl of an unknown command (ENOTTY), whole",
	       fastest("unknown ioctl", enotty_loop, &fd));
	close(fd);

	if (hv_vm_create(HV_VM_DEFAULT) != HV_SUCCESS ||
	    hv_vm_allocate((void **)&gmem, GUEST_RAM, HV_ALLOCATE_DEFAULT) != HV_SUCCESS ||
	    hv_vm_map(gmem, 0, GUEST_RAM, HV_MEMORY_READ | HV_MEMORY_WRITE | HV_MEMORY_EXEC) !=
		    HV_SUCCESS ||
	    hv_vcpu_create(&vcpu, HV_VCPU_DEFAULT) != HV_SUCCESS) {
		printf("hvlbench: no VM or vCPU: exits not measured\n");
		return 1;
	}
	hv_vmx_vcpu_write_vmcs(vcpu, VMCS_CTRL_PIN_BASED, cap2ctrl(HV_VMX_CAP_PINBASED, 0));
	hv_vmx_vcpu_write_vmcs(vcpu, VMCS_CTRL_CPU_BASED, cap2ctrl(HV_VMX_CAP_PROCBASED, 0));
	hv_vmx_vcpu_write_vmcs(vcpu, VMCS_CTRL_CPU_BASED2, cap2ctrl(HV_VMX_CAP_PROCBASED2, 0));
	hv_vmx_vcpu_write_vmcs(vcpu, VMCS_CTRL_VMENTRY_CONTROLS, cap2ctrl(HV_VMX_CAP_ENTRY, 0));
	/*
	 * IF = 1: Bochs 2.7 never exits for an external interrupt into a guest entered
	 * with IF = 0 (docs/linux.md), and Linux's timer must come back to it. The
	 * interrupt still exits before the guest could take one.
	 */
	if (hv_vmx_vcpu_write_vmcs(vcpu, VMCS_GUEST_CS, 0) != HV_SUCCESS ||
	    hv_vmx_vcpu_write_vmcs(vcpu, VMCS_GUEST_CS_BASE, 0) != HV_SUCCESS ||
	    hv_vcpu_write_register(vcpu, HV_X86_RFLAGS, 0x202) != HV_SUCCESS) {
		printf("hvlbench: guest state refused: exits not measured\n");
		return 1;
	}
	bench_exit("guest CPUID exit -> VMM process -> resume (hv_vcpu_run), whole", vcpu, gmem,
		   cpuid, sizeof(cpuid), VMX_REASON_CPUID);
	bench_exit("guest OUT exit -> VMM process -> resume (hv_vcpu_run), whole", vcpu, gmem,
		   out, sizeof(out), VMX_REASON_IO);
	hv_vcpu_destroy(vcpu);
	hv_vm_unmap(0, GUEST_RAM);
	hv_vm_deallocate(gmem, GUEST_RAM);
	hv_vm_destroy();
	return 0;
}
