/*
 * What the cases share: the device without libhv (raw calls, the stats ioctl), time,
 * and a small real-mode guest set up through libhv the way hvdos sets one up.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>
#include "hvlt.h"

const char *vmm_path = "/vmm";

int dev_open(void)
{
	return open(HVMETAL_DEV_PATH, O_RDWR | O_CLOEXEC);
}

hv_return_t dev_call(int fd, struct hvmetal_dev_call *c)
{
	if (ioctl(fd, HVMETAL_IOC_CALL, c) < 0) {
		diag("ioctl(HVMETAL_IOC_CALL, 0x%llx): %s", (unsigned long long)c->nr,
		     strerror(errno));
		return HV_ERROR;
	}
	return (hv_return_t)c->rax;
}

hv_return_t dev_call3(int fd, uint64_t nr, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t *rdx)
{
	struct hvmetal_dev_call c = { .nr = nr, .arg = { a0, a1, a2 } };
	hv_return_t r = dev_call(fd, &c);

	if (rdx)
		*rdx = c.rdx;
	return r;
}

bool dev_stats(struct hvmetal_dev_stats *s)
{
	int fd = dev_open(), err;

	if (fd < 0) {
		diag("open %s: %s", HVMETAL_DEV_PATH, strerror(errno));
		return false;
	}
	err = ioctl(fd, HVMETAL_IOC_STATS, s);
	close(fd);
	if (err < 0) {
		diag("ioctl(HVMETAL_IOC_STATS): %s", strerror(errno));
		return false;
	}
	if (s->info_result != HV_SUCCESS) {
		diag("hvmetal's INFO: 0x%x", (unsigned)s->info_result);
		return false;
	}
	return true;
}

uint64_t monotonic_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

void sleep_ms(unsigned ms)
{
	struct timespec t = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000 };

	while (nanosleep(&t, &t) && errno == EINTR)
		;
}

bool wait_running(uint64_t n, uint64_t again, unsigned timeout_ms)
{
	uint64_t end = monotonic_ns() + (uint64_t)timeout_ms * 1000000, base = 0;
	struct hvmetal_dev_stats s;
	bool first = true;

	while (dev_stats(&s)) {
		if (first)
			base = s.run_again;
		first = false;
		if (s.running >= n && s.run_again - base >= again)
			return true;
		if (monotonic_ns() > end) {
			diag("after %u ms: %llu vCPUs running, %llu runs again", timeout_ms,
			     (unsigned long long)s.running, (unsigned long long)(s.run_again - base));
			return false;
		}
		sleep_ms(1);
	}
	return false;
}

void pin_to(pid_t tid, int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(tid, sizeof(set), &set))
		diag("sched_setaffinity(%d, CPU %d): %s", (int)tid, cpu, strerror(errno));
}

void unpin(void)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	for (int i = 0; i < CPU_SETSIZE; i++)
		CPU_SET(i, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

const char *hv_name(hv_return_t r)
{
	switch (r) {
	case HV_SUCCESS: return "HV_SUCCESS";
	case HV_ERROR: return "HV_ERROR";
	case HV_BUSY: return "HV_BUSY";
	case HV_BAD_ARGUMENT: return "HV_BAD_ARGUMENT";
	case HV_NO_RESOURCES: return "HV_NO_RESOURCES";
	case HV_NO_DEVICE: return "HV_NO_DEVICE";
	case HV_DENIED: return "HV_DENIED";
	case HV_UNSUPPORTED: return "HV_UNSUPPORTED";
	default: return "?";
	}
}

/* ---- the guest ---- */

const uint8_t guest_spin[] = { 0xeb, 0xfe };		/* jmp $ */
const size_t guest_spin_len = sizeof(guest_spin);

const uint8_t guest_count[] = {
	0x66, 0xb9, 1, 0, 0, 0,				/*  0: mov ecx, spins */
	0x66, 0x49,					/*  6: dec ecx */
	0x75, 0xfc,					/*  8: jnz 6 */
	0x66, 0x43,					/* 10: inc ebx */
	0x66, 0x89, 0x1e, GUEST_COUNT & 0xff, GUEST_COUNT >> 8, /* 12: mov [GUEST_COUNT], ebx */
	0xe6, GUEST_PORT,				/* 17: out GUEST_PORT, al */
	0xeb, 0xeb,					/* 19: jmp 0 */
};
const size_t guest_count_len = sizeof(guest_count), guest_count_spins = 2;

static bool check(hv_return_t r, const char *what)
{
	if (r != HV_SUCCESS)
		diag("%s: 0x%x (%s)", what, (unsigned)r, hv_name(r));
	return r == HV_SUCCESS;
}

/* (want | must-be-1) & may-be-1 of a control capability. */
static uint64_t controls(hv_vmx_capability_t cap, uint64_t want)
{
	uint64_t c = 0;

	check(hv_vmx_read_capability(cap, &c), "hv_vmx_read_capability");
	return (want | (c & 0xffffffff)) & (c >> 32);
}

static uint64_t fixed(hv_vmx_capability_t cap0, hv_vmx_capability_t cap1, uint64_t want,
		      uint64_t free0)
{
	uint64_t f0 = 0, f1 = 0;

	check(hv_vmx_read_capability(cap0, &f0), "hv_vmx_read_capability");
	check(hv_vmx_read_capability(cap1, &f1), "hv_vmx_read_capability");
	return (want | (f0 & ~free0)) & f1;
}

bool guest_setup(struct guest *g, const uint8_t *code, size_t len)
{
	struct { uint32_t field; uint64_t value; } vmcs[] = {
		{ VMCS_GUEST_GDTR_BASE, 0 }, { VMCS_GUEST_GDTR_LIMIT, 0 },
		{ VMCS_GUEST_IDTR_BASE, 0 }, { VMCS_GUEST_IDTR_LIMIT, 0xffff },
		/* Unrestricted guest frees CR0.PE and PG: real mode with CR0.NE. */
		{ VMCS_GUEST_CR0, fixed(HV_VMX_CAP_CR0_FIXED0, HV_VMX_CAP_CR0_FIXED1, 0x20,
					0x80000001) },
		{ VMCS_GUEST_CR3, 0 },
		{ VMCS_GUEST_CR4, fixed(HV_VMX_CAP_CR4_FIXED0, HV_VMX_CAP_CR4_FIXED1, 0, 0) },
		{ VMCS_GUEST_IA32_EFER, 0 },
		{ VMCS_CTRL_PIN_BASED, controls(HV_VMX_CAP_PINBASED, 0) },
		{ VMCS_CTRL_CPU_BASED, controls(HV_VMX_CAP_PROCBASED, CPU_BASED_HLT |
			CPU_BASED_CR8_LOAD | CPU_BASED_CR8_STORE | CPU_BASED_SECONDARY_CTLS) },
		{ VMCS_CTRL_CPU_BASED2, controls(HV_VMX_CAP_PROCBASED2,
			CPU_BASED2_EPT | CPU_BASED2_UNRESTRICTED) },
		{ VMCS_CTRL_VMENTRY_CONTROLS, controls(HV_VMX_CAP_ENTRY, 0) },
		{ VMCS_CTRL_EXC_BITMAP, 0 },
		{ VMCS_GUEST_ACTIVITY_STATE, 0 }, { VMCS_GUEST_INTERRUPTIBILITY, 0 },
	};
	/* ES, CS, SS, DS, FS, GS, LDTR, TR: selector 0, base 0, 64 KiB. */
	static const uint32_t ar[8] = { 0x93, 0x9b, 0x93, 0x93, 0x93, 0x93, 0x82, 0x8b };
	void *ram = NULL;
	bool good;

	memset(g, 0, sizeof(*g));
	if (!check(hv_vm_allocate(&ram, GUEST_RAM, HV_ALLOCATE_DEFAULT), "hv_vm_allocate"))
		return false;
	g->ram = ram;
	memset(g->ram, 0, GUEST_RAM);
	memcpy(g->ram + GUEST_CODE, code, len);
	if (!check(hv_vm_map(ram, 0, GUEST_RAM, HV_MEMORY_READ | HV_MEMORY_WRITE | HV_MEMORY_EXEC),
		   "hv_vm_map"))
		return false;
	if (!check(hv_vcpu_create(&g->vcpu, HV_VCPU_DEFAULT), "hv_vcpu_create"))
		return false;
	good = true;
	for (unsigned s = 0; s < 8; s++) {
		good &= check(hv_vmx_vcpu_write_vmcs(g->vcpu, VMCS_GUEST_ES + 2 * s, 0), "selector");
		good &= check(hv_vmx_vcpu_write_vmcs(g->vcpu, VMCS_GUEST_ES_BASE + 2 * s, 0), "base");
		good &= check(hv_vmx_vcpu_write_vmcs(g->vcpu, VMCS_GUEST_ES_LIMIT + 2 * s, 0xffff),
			      "limit");
		good &= check(hv_vmx_vcpu_write_vmcs(g->vcpu, VMCS_GUEST_ES_AR + 2 * s, ar[s]), "AR");
	}
	for (unsigned i = 0; i < sizeof(vmcs) / sizeof(vmcs[0]); i++)
		good &= check(hv_vmx_vcpu_write_vmcs(g->vcpu, vmcs[i].field, vmcs[i].value),
			      "hv_vmx_vcpu_write_vmcs");
	good &= check(hv_vcpu_write_register(g->vcpu, HV_X86_RIP, GUEST_CODE), "RIP");
	/*
	 * IF = 1, though external interrupts exit before the guest could take one:
	 * Bochs 2.7 evaluates its interrupt mask while loading RFLAGS at VM entry,
	 * before it counts itself in the guest, so a guest entered with IF = 0 never
	 * exits for an external interrupt there and one spinning holds its CPU for
	 * good (real VT-x exits regardless of the guest's IF).
	 */
	good &= check(hv_vcpu_write_register(g->vcpu, HV_X86_RFLAGS, 0x202), "RFLAGS");
	good &= check(hv_vcpu_write_register(g->vcpu, HV_X86_RSP, 0xfff0), "RSP");
	good &= check(hv_vcpu_write_register(g->vcpu, HV_X86_RBX, 0), "RBX");
	return good;
}

void guest_set_spins(struct guest *g, uint32_t spins)
{
	memcpy(g->ram + GUEST_CODE + guest_count_spins, &spins, sizeof(spins));
}

bool guest_run_to_out(struct guest *g, uint64_t *rbx)
{
	uint64_t reason = 0, q = 0, len = 0, rip = 0;

	if (!check(hv_vcpu_run_until(g->vcpu, HV_DEADLINE_FOREVER), "hv_vcpu_run_until"))
		return false;
	if (!check(hv_vmx_vcpu_read_vmcs(g->vcpu, VMCS_RO_EXIT_REASON, &reason), "exit reason") ||
	    !check(hv_vmx_vcpu_read_vmcs(g->vcpu, VMCS_RO_EXIT_QUALIFIC, &q), "qualification") ||
	    !check(hv_vmx_vcpu_read_vmcs(g->vcpu, VMCS_RO_VMEXIT_INSTR_LEN, &len), "length") ||
	    !check(hv_vcpu_read_register(g->vcpu, HV_X86_RIP, &rip), "RIP"))
		return false;
	if (reason != VMX_REASON_IO || (q >> 16 & 0xffff) != GUEST_PORT || (q & 8)) {
		diag("exit reason %llu, qualification 0x%llx at RIP 0x%llx: not the guest's OUT",
		     (unsigned long long)reason, (unsigned long long)q, (unsigned long long)rip);
		return false;
	}
	return check(hv_vcpu_write_register(g->vcpu, HV_X86_RIP, rip + len), "RIP") &&
	       check(hv_vcpu_read_register(g->vcpu, HV_X86_RBX, rbx), "RBX");
}

void guest_teardown(struct guest *g)
{
	check(hv_vcpu_destroy(g->vcpu), "hv_vcpu_destroy");
	check(hv_vm_unmap(0, GUEST_RAM), "hv_vm_unmap");
	check(hv_vm_deallocate(g->ram, GUEST_RAM), "hv_vm_deallocate");
}
