// SPDX-License-Identifier: GPL-2.0
/*
 * hvmetal_bench.ko: what hvmetal itself executes for a null hypercall and for a guest
 * exit -> VMM -> resume round trip when Linux is the control domain (make bench's
 * Linux part, tests/linux/bench.sh). Not part of the driver: a bench that measures at
 * load time and never stays loaded.
 *
 * The same measurement as hvbench.efi's (tests/machine/hvbench_vcpu.c): under Bochs
 * with one CPU the TSC counts executed instructions; each loop of ITERS runs once with
 * VMCALL and once with NOP in its place, and the difference (less the guest's own two
 * instructions per exit) is what hvmetal executed, from the VM exit to VMRESUME. The
 * control domain's state is Linux's here, not the firmware's: Linux's STAR, LSTAR and
 * SFMASK differ from a new guest's (zeros), so hvmetal writes them on every run, both
 * ways (under the firmware only SFMASK differs: Bochs resets it to 0x20200). A last
 * figure gives the guest Linux's values to show what that costs.
 *
 * Raw VMCALLs, no /dev/hvmetal: the module makes its own VM and vCPU (VM_CREATE, one
 * kernel page mapped with VM_MAP from its kernel address, without HVMETAL_HC_USER;
 * VCPU_CREATE; controls through VMX_WRITE_VMCS), all on one CPU with preemption off
 * (a vCPU belongs to the CPU that created it), and each pair of loops runs with
 * interrupts off: nothing of Linux's is counted. Prints "bench: <name>: <N>
 * instructions" with pr_info (the console's default level shows it on the serial
 * port, where scripts/bench.sh reads it).
 */
#include <linux/gfp.h>
#include <linux/irqflags.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/smp.h>
#include <asm/cpufeature.h>
#include <asm/msr.h>
#include <asm/processor.h>
#include <Hypervisor/hv_error.h>
#include <Hypervisor/hv_types.h>
#include <Hypervisor/hv_vmx.h>
#include <hvmetal/abi.h>

#define ITERS		64
#define TRIES		8	/* the fastest of this many runs without an interrupt exit */
#define MAX_TRIES	64
#define CODE		0x1000	/* guest-physical: the one page mapped, the guest's code */
#define FOREVER		(~0ull)	/* HV_DEADLINE_FOREVER */

/* hvbench.h's tsc(): lfence; rdtsc. */
static inline u64 tsc(void)
{
	u32 lo, hi;

	asm volatile("lfence; rdtsc" : "=a"(lo), "=d"(hi) : : "memory");
	return ((u64)hi << 32) | lo;
}

/* VMCALL, or NOP for the calibration run: the same code either way (hvbench_vcpu.c's). */
#define HYPERCALL(insn, rax, rdi, rsi, rdx, rcx, r8, r9)			\
	asm volatile(insn : "+a"(rax), "+D"(rdi), "+S"(rsi), "+d"(rdx), "+c"(rcx), "+r"(r8) \
		     : "r"(r9) : "memory", "cc")

/* One call of up to six arguments; RAX back, *rdx (if not NULL) gets RDX. */
static u64 hc(u64 nr, u64 a0, u64 a1, u64 a2, u64 a3, u64 a4, u64 a5, u64 *rdx)
{
	register u64 r8 asm("r8") = a4, r9 asm("r9") = a5;
	u64 rax = nr, rdi = a0, rsi = a1, d = a2, rcx = a3;

	HYPERCALL("vmcall", rax, rdi, rsi, d, rcx, r8, r9);
	if (rdx)
		*rdx = d;
	return rax;
}

/* Null hypercall: VERSION. */
#define NULL_LOOP(name, insn)							\
static noinline u64 name(void)							\
{										\
	u64 t0 = tsc();								\
	for (int i = 0; i < ITERS; i++) {					\
		register u64 r8 asm("r8") = 0, r9 asm("r9") = 0;		\
		u64 rax = HVMETAL_HC_VERSION, rdi = 0, rsi = 0, rdx = 0, rcx = 0; \
		HYPERCALL(insn, rax, rdi, rsi, rdx, rcx, r8, r9);		\
	}									\
	return tsc() - t0;							\
}
NULL_LOOP(null_vmcall, "vmcall")
NULL_LOOP(null_nop, "nop")

/*
 * hvbench_vcpu.c's VMM loop: one VCPU_RUN per exit, which returns reason, length and
 * RIP and takes the new RIP along. *other counts exits of another reason than want:
 * an external interrupt that arrived while interrupts were off exits at every entry
 * (without the guest running) until they are on again, and such a run is not clean.
 * The count costs the same instructions with VMCALL and with NOP, so the difference
 * is still hvmetal's alone.
 */
#define EXIT_LOOP(name, insn)							\
static noinline u64 name(u64 vm, u64 vcpu, u64 rip, u64 want, u64 *other) \
{										\
	u64 t0 = tsc(), t1, n = 0;						\
	for (int i = 0; i < ITERS; i++) {					\
		register u64 r8 asm("r8") = 0, r9 asm("r9") = rip;		\
		u64 rax = HVMETAL_HC_VCPU_RUN, rdi = vm, rsi = vcpu;		\
		u64 rdx = FOREVER;						\
		u64 rcx = HVMETAL_RUN_EVERY_EXIT | HVMETAL_RUN_SET_RIP;		\
		HYPERCALL(insn, rax, rdi, rsi, rdx, rcx, r8, r9);		\
		rip = r8 + rdi;							\
		n += rdx != want;						\
	}									\
	t1 = tsc();								\
	*other = n;								\
	return t1 - t0;								\
}
EXIT_LOOP(exit_vmcall, "vmcall")
EXIT_LOOP(exit_nop, "nop")

static u64 min_u64(u64 a, u64 b)
{
	return a < b ? a : b;
}

static void report(const char *what, u64 value)
{
	pr_info("bench: %s: executed by hvmetal: %llu instructions\n", what, value);
}

/* hvbench_vcpu.c's cap2ctrl: the capability's must-be-1 bits and want, where allowed. */
static u64 cap2ctrl(hv_vmx_capability_t cap, u64 want)
{
	u64 c = 0;

	hc(HVMETAL_HC_VMX_READ_CAPABILITY, cap, 0, 0, 0, 0, 0, &c);
	return (want | (c & 0xffffffff)) & (c >> 32);
}

static bool write_vmcs(u64 vm, u64 vcpu, u32 field, u64 value)
{
	return hc(HVMETAL_HC_VMX_WRITE_VMCS, vm, vcpu, field, value, 0, 0, NULL) == HV_SUCCESS;
}

/* The guest's loop over one exiting instruction, at offset 0 of page (guest CODE). */
static void guest_loop(u8 *page, const u8 *insn, unsigned int len)
{
	memcpy(page, insn, len);
	page[len] = 0xeb;			/* jmp back to the instruction */
	page[len + 1] = (u8)-(int)(len + 2);
}

/* With preemption off, on the vCPU's CPU: prints the figure, or why there is none. */
static void bench_exit(const char *what, u64 vm, u64 vcpu, u8 *page, const u8 *insn,
		       unsigned int len, u64 want)
{
	u64 total = U64_MAX, cd = U64_MAX, c, n, other, ignored;
	unsigned long flags;
	int clean = 0, t;

	guest_loop(page, insn, len);
	for (t = 0; t < MAX_TRIES && clean < TRIES; t++) {
		local_irq_save(flags);
		c = exit_vmcall(vm, vcpu, CODE, want, &other);
		n = exit_nop(vm, vcpu, CODE, want, &ignored);
		local_irq_restore(flags);
		if (other)
			continue;
		clean++;
		total = min_u64(total, c);
		cd = min_u64(cd, n);
	}
	if (!clean) {
		pr_info("hvmetal_bench: %s: no run without an interrupt exit in %d\n", what, t);
		return;
	}
	/* The guest runs the jmp and its instruction: two per iteration, the first one only one. */
	report(what, (total - cd - (2 * ITERS - 1)) / ITERS);
}

/* Gives the vCPU Linux's STAR, LSTAR, CSTAR and SFMASK (VCPU_WRITE_MSR). */
static bool same_syscall_msrs(u64 vm, u64 vcpu)
{
	static const u32 msrs[] = { MSR_STAR, MSR_LSTAR, MSR_CSTAR, MSR_SYSCALL_MASK };
	u64 v[ARRAY_SIZE(msrs)], r;

	for (unsigned int i = 0; i < ARRAY_SIZE(msrs); i++)
		rdmsrl(msrs[i], v[i]);
	/* Linux on Intel leaves CSTAR alone (no 32-bit SYSCALL there): 0, as a new guest's. */
	pr_info("hvmetal_bench: Linux's STAR 0x%llx LSTAR 0x%llx CSTAR 0x%llx SFMASK 0x%llx\n",
		v[0], v[1], v[2], v[3]);
	for (unsigned int i = 0; i < ARRAY_SIZE(msrs); i++) {
		r = hc(HVMETAL_HC_VCPU_WRITE_MSR, vm, vcpu, msrs[i], v[i], 0, 0, NULL);
		if (r != HV_SUCCESS) {
			pr_info("hvmetal_bench: VCPU_WRITE_MSR 0x%x: 0x%llx\n", msrs[i], r);
			return false;
		}
	}
	return true;
}

/* hvmetal's CPUID signature: never a VMCALL without it (it would be #UD). */
static bool hvmetal_present(void)
{
	u32 a, b, c, d;

	if (!boot_cpu_has(X86_FEATURE_HYPERVISOR))
		return false;
	cpuid(HVMETAL_CPUID_SIGNATURE, &a, &b, &c, &d);
	return b == HVMETAL_CPUID_SIG_EBX && c == HVMETAL_CPUID_SIG_ECX &&
	       d == HVMETAL_CPUID_SIG_EDX && a >= HVMETAL_CPUID_FEATURES;
}

static int __init hvmetal_bench_init(void)
{
	static const u8 cpuid_insn[] = { 0x0f, 0xa2 }, out_insn[] = { 0xe6, 0xe9 };
	u64 calls = U64_MAX, nops = U64_MAX, vm = 0, vcpu = 0, r;
	unsigned long flags;
	bool mapped = false;	/* hvmetal maps page: it must not go back to Linux */
	u8 *page;

	if (!hvmetal_present()) {
		pr_info("hvmetal_bench: hvmetal absent: nothing measured\n");
		return -EAGAIN;
	}
	page = (u8 *)get_zeroed_page(GFP_KERNEL);
	if (!page)
		return -ENOMEM;
	get_cpu();	/* the vCPU is this CPU's from VCPU_CREATE to VCPU_DESTROY */

	for (int t = 0; t < TRIES; t++) {
		local_irq_save(flags);
		calls = min_u64(calls, null_vmcall());
		nops = min_u64(nops, null_nop());
		local_irq_restore(flags);
	}
	report("null hypercall", (calls - nops) / ITERS);

	r = hc(HVMETAL_HC_VM_CREATE, 0, 0, 0, 0, 0, 0, &vm);
	if (r != HV_SUCCESS) {
		pr_info("hvmetal_bench: VM_CREATE: 0x%llx: exits not measured\n", r);
		goto out;
	}
	/* A kernel address walked as CPL 0: no HVMETAL_HC_USER. */
	r = hc(HVMETAL_HC_VM_MAP, vm, 0, (u64)(uintptr_t)page, CODE, PAGE_SIZE,
	       HV_MEMORY_READ | HV_MEMORY_WRITE | HV_MEMORY_EXEC, NULL);
	if (r != HV_SUCCESS) {
		pr_info("hvmetal_bench: VM_MAP: 0x%llx: exits not measured\n", r);
		goto destroy_vm;
	}
	mapped = true;
	r = hc(HVMETAL_HC_VCPU_CREATE, vm, HV_VCPU_DEFAULT, 0, 0, 0, 0, &vcpu);
	if (r != HV_SUCCESS) {
		pr_info("hvmetal_bench: VCPU_CREATE: 0x%llx: exits not measured\n", r);
		goto unmap;
	}
	/*
	 * hvbench_vcpu.c's guest: the reset state with CS 0, base 0, and the controls'
	 * must-be-1 bits; RFLAGS.IF = 1 as the Linux process's guest (docs/linux.md: Bochs
	 * 2.7 never exits for an interrupt into a guest entered with IF = 0).
	 */
	if (!write_vmcs(vm, vcpu, VMCS_CTRL_PIN_BASED, cap2ctrl(HV_VMX_CAP_PINBASED, 0)) ||
	    !write_vmcs(vm, vcpu, VMCS_CTRL_CPU_BASED, cap2ctrl(HV_VMX_CAP_PROCBASED, 0)) ||
	    !write_vmcs(vm, vcpu, VMCS_CTRL_CPU_BASED2, cap2ctrl(HV_VMX_CAP_PROCBASED2, 0)) ||
	    !write_vmcs(vm, vcpu, VMCS_CTRL_VMENTRY_CONTROLS, cap2ctrl(HV_VMX_CAP_ENTRY, 0)) ||
	    !write_vmcs(vm, vcpu, VMCS_GUEST_CS, 0) ||
	    !write_vmcs(vm, vcpu, VMCS_GUEST_CS_BASE, 0) ||
	    !write_vmcs(vm, vcpu, VMCS_GUEST_RFLAGS, 0x202)) {
		pr_info("hvmetal_bench: VMX_WRITE_VMCS refused: exits not measured\n");
		goto destroy_vcpu;
	}
	bench_exit("guest CPUID exit -> VMM -> resume", vm, vcpu, page, cpuid_insn,
		   sizeof(cpuid_insn), VMX_REASON_CPUID);
	bench_exit("guest OUT exit -> VMM -> resume", vm, vcpu, page, out_insn,
		   sizeof(out_insn), VMX_REASON_IO);
	/*
	 * The same with the guest's SYSCALL MSRs equal to Linux's: what the MSR swap
	 * costs here that it does not under the firmware (whose are 0, as a new guest's).
	 */
	if (same_syscall_msrs(vm, vcpu))
		bench_exit("guest OUT exit -> VMM -> resume, guest's STAR/LSTAR/CSTAR/SFMASK = "
			   "Linux's", vm, vcpu, page, out_insn, sizeof(out_insn), VMX_REASON_IO);
destroy_vcpu:
	r = hc(HVMETAL_HC_VCPU_DESTROY, vm, vcpu, 0, 0, 0, 0, NULL);
	if (r != HV_SUCCESS)
		pr_info("hvmetal_bench: VCPU_DESTROY: 0x%llx\n", r);
unmap:
	r = hc(HVMETAL_HC_VM_UNMAP, vm, 0, CODE, PAGE_SIZE, 0, 0, NULL);
	if (r == HV_SUCCESS)
		mapped = false;
	else
		pr_info("hvmetal_bench: VM_UNMAP: 0x%llx\n", r);
destroy_vm:
	r = hc(HVMETAL_HC_VM_DESTROY, vm, 0, 0, 0, 0, 0, NULL);
	if (r == HV_SUCCESS)
		mapped = false;	/* its spaces and mappings went with it */
	else
		pr_info("hvmetal_bench: VM_DESTROY: 0x%llx\n", r);
out:
	put_cpu();
	/* A page hvmetal still maps (a destroy failed) stays out of Linux's hands. */
	if (!mapped)
		free_page((unsigned long)page);
	/*
	 * Never stays loaded: everything it made is gone, so init fails on purpose and
	 * insmod says "Resource temporarily unavailable"; the figures are in the log.
	 */
	return -EAGAIN;
}

module_init(hvmetal_bench_init);
MODULE_DESCRIPTION("hvmetal path lengths with Linux as the control domain (make bench)");
MODULE_LICENSE("GPL");
