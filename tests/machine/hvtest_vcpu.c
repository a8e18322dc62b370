/* In-machine checks of Apple's vCPU and VMX API on hvmetal, with real-mode guests (guest16.asm). */
#include <efi.h>
#include <efilib.h>
#include <Hypervisor/hv.h>
#include <hvmetal/hvmetal.h>
#include "hvtest_vcpu.h"
#include "kernel/cpu.h"
#include "kernel/string.h"
#include "libhv/libhv.h"
#include "tap.h"
#include "trap.h"

#define GUEST_MEM	0x4000ull	/* guest-physical [0, 0x4000) is mapped; 0x9000 is not */
#define CODE		0x1000
#define MSR_KGSBASE	0xc0000102
#define MSR_LSTAR	0xc0000082
#define MSR_TSC_AUX	0xc0000103
#define XSTATE_BV	512	/* XSAVE header: which components the area holds */

#define GUEST(name) extern const uint8_t name[], name##_end[]
GUEST(guest_exits);
GUEST(guest_spin);
GUEST(guest_sse);
GUEST(guest_msr);
GUEST(guest_tsc_aux);
GUEST(guest_ept);
GUEST(guest_apic);
GUEST(guest_triple);
GUEST(guest_space);
GUEST(guest_touch);

static uint8_t *gmem;		/* the control domain's view of guest-physical 0 */
static hv_vcpuid_t vcpu;

static uint64_t vmcs(uint32_t field)
{
	uint64_t v = ~0ull;

	hv_vmx_vcpu_read_vmcs(vcpu, field, &v);
	return v;
}

static uint64_t reg(hv_x86_reg_t r)
{
	uint64_t v = ~0ull;

	hv_vcpu_read_register(vcpu, r, &v);
	return v;
}

static uint64_t cap2ctrl(hv_vmx_capability_t cap, uint64_t want)
{
	uint64_t c = 0;

	hv_vmx_read_capability(cap, &c);
	return (want | (c & 0xffffffff)) & (c >> 32);
}

/* Real mode at 0:CODE with the program copied there, as a DOS runner would set it up. */
static bool load(const uint8_t *start, const uint8_t *end)
{
	bool ok = true;

	memcpy(gmem + CODE, start, (size_t)(end - start));
	ok &= hv_vmx_vcpu_write_vmcs(vcpu, VMCS_GUEST_CS, 0) == HV_SUCCESS;
	ok &= hv_vmx_vcpu_write_vmcs(vcpu, VMCS_GUEST_CS_BASE, 0) == HV_SUCCESS;
	ok &= hv_vcpu_write_register(vcpu, HV_X86_RIP, CODE) == HV_SUCCESS;
	ok &= hv_vcpu_write_register(vcpu, HV_X86_RFLAGS, 2) == HV_SUCCESS;
	ok &= hv_vcpu_write_register(vcpu, HV_X86_RSP, 0xff0) == HV_SUCCESS;
	ok &= hv_vmx_vcpu_write_vmcs(vcpu, VMCS_GUEST_IDTR_LIMIT, 0x3ff) == HV_SUCCESS;
	return ok;
}

static bool setup_controls(void)
{
	bool ok = true;

	ok &= hv_vmx_vcpu_write_vmcs(vcpu, VMCS_CTRL_PIN_BASED, cap2ctrl(HV_VMX_CAP_PINBASED, 0)) == HV_SUCCESS;
	ok &= hv_vmx_vcpu_write_vmcs(vcpu, VMCS_CTRL_CPU_BASED, cap2ctrl(HV_VMX_CAP_PROCBASED,
			CPU_BASED_HLT | CPU_BASED_CR8_LOAD | CPU_BASED_CR8_STORE)) == HV_SUCCESS;
	ok &= hv_vmx_vcpu_write_vmcs(vcpu, VMCS_CTRL_CPU_BASED2, cap2ctrl(HV_VMX_CAP_PROCBASED2, 0)) == HV_SUCCESS;
	ok &= hv_vmx_vcpu_write_vmcs(vcpu, VMCS_CTRL_VMENTRY_CONTROLS, cap2ctrl(HV_VMX_CAP_ENTRY, 0)) == HV_SUCCESS;
	ok &= hv_vmx_vcpu_write_vmcs(vcpu, VMCS_CTRL_EXC_BITMAP, 0) == HV_SUCCESS;
	/* SSE for the guest: CR4.OSFXSR, plus the VMXE bit VMX keeps set. */
	ok &= hv_vcpu_write_register(vcpu, HV_X86_CR4, 0x2200) == HV_SUCCESS;
	return ok;
}

/*
 * Runs to the next exit a VMM handles: an external interrupt (the firmware's
 * timer) also ends hv_vcpu_run, and a VMM just runs again, as here.
 */
static uint64_t run(void)
{
	uint64_t reason;

	do {
		hv_return_t r = hv_vcpu_run(vcpu);

		if (r != HV_SUCCESS)
			return 0xdead0000u | (r & 0xffff);
		reason = vmcs(VMCS_RO_EXIT_REASON);
	} while (reason == VMX_REASON_IRQ);
	return reason;
}

static void skip(void)
{
	hv_vcpu_write_register(vcpu, HV_X86_RIP, reg(HV_X86_RIP) + vmcs(VMCS_RO_VMEXIT_INSTR_LEN));
}

static void test_exits(void)
{
	uint64_t reason, q;

	load(guest_exits, guest_exits_end);
	reason = run();
	q = vmcs(VMCS_RO_EXIT_QUALIFIC);
	tap_ok(reason == VMX_REASON_IO && (q >> 16) == 0xe9 && (q & 7) == 0 && !(q & 8) &&
	       vmcs(VMCS_RO_VMEXIT_INSTR_LEN) == 1 && (reg(HV_X86_RAX) & 0xff) == 'A' &&
	       reg(HV_X86_RIP) == CODE + 5,
	       "OUT 0xe9 exits: reason %lu, qualification %lx, length %lu, AL '%c'", reason, q,
	       vmcs(VMCS_RO_VMEXIT_INSTR_LEN), (char)reg(HV_X86_RAX));
	skip();
	reason = run();
	tap_ok(reason == VMX_REASON_CPUID && vmcs(VMCS_RO_VMEXIT_INSTR_LEN) == 2 && reg(HV_X86_RAX) == 0,
	       "CPUID exits: reason %lu, length %lu", reason, vmcs(VMCS_RO_VMEXIT_INSTR_LEN));
	skip();
	reason = run();
	tap_ok(reason == VMX_REASON_HLT && vmcs(VMCS_RO_VMEXIT_INSTR_LEN) == 1,
	       "HLT exits: reason %lu, length %lu", reason, vmcs(VMCS_RO_VMEXIT_INSTR_LEN));
}

/* Every hv_x86_reg_t: a value it can hold, written and read back. */
static void test_registers(void)
{
	unsigned good = 0, total = 0;
	uint64_t cr0 = reg(HV_X86_CR0), cr4 = reg(HV_X86_CR4);

	for (unsigned r = 0; r < HV_X86_REGISTERS_MAX; r++) {
		uint64_t want, got = 0, old = ~0ull;

		switch (r) {
		case HV_X86_RIP: want = 0x1234; break;
		case HV_X86_RFLAGS: want = 0x202; break;
		case HV_X86_CS: case HV_X86_SS: case HV_X86_DS: case HV_X86_ES:
		case HV_X86_FS: case HV_X86_GS: case HV_X86_LDTR: case HV_X86_TR:
			want = 0x18 + r; break;
		case HV_X86_IDT_LIMIT: case HV_X86_GDT_LIMIT: want = 0x3ff; break;
		case HV_X86_LDT_LIMIT: case HV_X86_TSS_LIMIT: want = 0xffff; break;
		case HV_X86_LDT_AR: want = 0x82; break;
		case HV_X86_TSS_AR: want = 0x8b; break;
		case HV_X86_CR0: want = cr0 | 0x2; break;	/* MP */
		case HV_X86_CR1: continue;			/* no such register: below */
		case HV_X86_CR4: want = cr4 | 0x80; break;	/* PGE */
		case HV_X86_DR4: case HV_X86_DR6: want = 0xffff0ff1; break;
		case HV_X86_DR5: case HV_X86_DR7: want = 0x401; break;
		case HV_X86_TPR: want = 9; break;
		case HV_X86_XCR0: want = 3; break;
		default: want = 0x1111111111111111ull * (r % 15 + 1) & 0x00007fffffffffffull; break;
		}
		total++;
		hv_vcpu_read_register(vcpu, r, &old);
		if (hv_vcpu_write_register(vcpu, r, want) == HV_SUCCESS &&
		    hv_vcpu_read_register(vcpu, r, &got) == HV_SUCCESS && got == want)
			good++;
		else
			tap_diag("register %u: wrote %lx read %lx", r, want, got);
		hv_vcpu_write_register(vcpu, r, old);
	}
	tap_ok(good == total, "%u of %u registers round-trip through write/read_register", good, total);
	tap_ok(hv_vcpu_write_register(vcpu, HV_X86_CR1, 0) == HV_BAD_ARGUMENT &&
	       hv_vcpu_write_register(vcpu, HV_X86_REGISTERS_MAX, 0) == HV_BAD_ARGUMENT &&
	       hv_vcpu_write_register(vcpu, HV_X86_XCR0, 0) == HV_BAD_ARGUMENT &&
	       hv_vcpu_write_register(vcpu, HV_X86_XCR0, 5) == HV_BAD_ARGUMENT &&
	       hv_vcpu_write_register(vcpu, HV_X86_TPR, 16) == HV_BAD_ARGUMENT &&
	       hv_vcpu_write_register(vcpu, HV_X86_DR6, 1ull << 32) == HV_BAD_ARGUMENT &&
	       hv_vcpu_write_register(vcpu, HV_X86_DR0, 1ull << 63) == HV_BAD_ARGUMENT &&
	       hv_vcpu_write_register(vcpu, HV_X86_CS, 0x10000) == HV_BAD_ARGUMENT &&
	       hv_vcpu_write_register(vcpu, HV_X86_CR0, 0) == HV_BAD_ARGUMENT,
	       "register values hvmetal could not load are refused (CR1, XCR0 0 and 5, TPR 16, DR6, DR0, CS, CR0 0)");
}

static void test_vmcs_policy(void)
{
	uint64_t v = 0, a0 = 0, a1 = 0;

	tap_ok(hv_vmx_vcpu_write_vmcs(vcpu, VMCS_CTRL_EPTP, 0x1000) == HV_BAD_ARGUMENT &&
	       hv_vmx_vcpu_read_vmcs(vcpu, VMCS_CTRL_EPTP, &v) == HV_BAD_ARGUMENT,
	       "the EPTP is hvmetal's: neither read nor written");
	tap_ok(hv_vmx_vcpu_write_vmcs(vcpu, VMCS_HOST_RIP, 0x1000) == HV_BAD_ARGUMENT &&
	       hv_vmx_vcpu_read_vmcs(vcpu, VMCS_HOST_CR3, &v) == HV_BAD_ARGUMENT,
	       "host-state fields are refused both ways");
	tap_ok(hv_vmx_vcpu_write_vmcs(vcpu, VMCS_CTRL_CPU_BASED2,
				     cap2ctrl(HV_VMX_CAP_PROCBASED2, 0) | CPU_BASED2_PML) == HV_BAD_ARGUMENT,
	       "asking for page-modification logging in the secondary controls is refused (hvmetal has no log page)");
	tap_ok(hv_vmx_vcpu_write_vmcs(vcpu, VMCS_RO_EXIT_REASON, 0) == HV_BAD_ARGUMENT &&
	       hv_vmx_vcpu_write_vmcs(vcpu, 0x1234, 0) == HV_BAD_ARGUMENT,
	       "read-only and unknown fields are refused");
	/* Issue 9, defect 4: shutdown and wait-for-SIPI would wedge the CPU (no kick ends them). */
	tap_ok(hv_vmx_vcpu_write_vmcs(vcpu, VMCS_GUEST_ACTIVITY_STATE, 3) == HV_BAD_ARGUMENT &&
	       hv_vmx_vcpu_write_vmcs(vcpu, VMCS_GUEST_ACTIVITY_STATE, 2) == HV_BAD_ARGUMENT &&
	       hv_vmx_vcpu_read_vmcs(vcpu, VMCS_GUEST_ACTIVITY_STATE, &v) == HV_SUCCESS && v == 0,
	       "activity states wait-for-SIPI and shutdown are refused, the vCPU stays active");
	v = 0;
	if (hv_vmx_vcpu_write_vmcs(vcpu, VMCS_CTRL_CPU_BASED2, 0) == HV_SUCCESS)
		hv_vmx_vcpu_read_vmcs(vcpu, VMCS_CTRL_CPU_BASED2, &v);
	tap_ok((v & (CPU_BASED2_EPT | CPU_BASED2_UNRESTRICTED)) == (CPU_BASED2_EPT | CPU_BASED2_UNRESTRICTED),
	       "writing 0 to the secondary controls still gives EPT and unrestricted guest (%lx)", v);
	tap_ok(hv_vmx_vcpu_get_cap_write_vmcs(vcpu, VMCS_CTRL_CPU_BASED2, &a0, &a1) == HV_SUCCESS &&
	       (a0 & CPU_BASED2_EPT) && !(a1 & CPU_BASED2_PML) &&
	       hv_vmx_vcpu_get_cap_write_vmcs(vcpu, VMCS_HOST_RIP, &a0, &a1) == HV_BAD_ARGUMENT,
	       "get_cap_write_vmcs reports EPT forced and page-modification logging unavailable");
	tap_ok(hv_vmx_get_msr_info(HV_VMX_INFO_MSR_IA32_ARCH_CAPABILITIES, &v) == HV_SUCCESS &&
	       hv_vmx_get_msr_info(HV_VMX_VALID_MSR_IA32_DEBUGCTL, &v) == HV_SUCCESS && v == 0 &&
	       hv_vmx_get_msr_info(77, &v) == HV_BAD_ARGUMENT,
	       "hv_vmx_get_msr_info answers what it knows and refuses the rest");
	tap_ok(hv_vmx_read_capability(HV_VMX_CAP_PINBASED, &v) == HV_SUCCESS && (v & 9) == 9 &&
	       hv_vmx_read_capability(HV_VMX_CAP_PREEMPTION_TIMER, &v) == HV_SUCCESS &&
	       hv_vmx_read_capability(99, &v) == HV_BAD_ARGUMENT,
	       "hv_vmx_read_capability: external-interrupt and NMI exiting forced; unknown is refused");
}

/*
 * One run from CODE with the control domain's XMM7 set just before the VMCALL and
 * read just after, in one asm block so that no compiled code can touch it in
 * between (libhv's run would be compiled code). The caller then writes RIP, which
 * replaces the RIP write libhv still holds from load().
 */
static hv_return_t run_watching_xmm7(const uint8_t before[16], uint8_t after[16],
				     uint64_t *reason, uint64_t *next_rip)
{
	register uint64_t r8 __asm__("r8") = 0, r9 __asm__("r9") = CODE;
	uint64_t rax = HVMETAL_HC_VCPU_RUN, rdi = libhv_vm(), rsi = vcpu;
	uint64_t rdx = HV_DEADLINE_FOREVER, rcx = HVMETAL_RUN_EVERY_EXIT | HVMETAL_RUN_SET_RIP;

	__asm__ volatile("movdqu %6, %%xmm7; vmcall; movdqu %%xmm7, %7"
			 : "+a"(rax), "+D"(rdi), "+S"(rsi), "+d"(rdx), "+c"(rcx), "+r"(r8)
			 : "m"(*(const uint8_t (*)[16])before), "m"(*(uint8_t (*)[16])after), "r"(r9)
			 : "xmm7", "memory", "cc");
	*reason = rdx;
	*next_rip = r8 + rdi;	/* RIP + instruction length */
	return (hv_return_t)rax;
}

static void test_fpstate(void)
{
	static uint8_t area[8192] __attribute__((aligned(64)));
	static const uint8_t q[16] = "guest-xmm7-value", rr[16] = "vmm-wrote-xmm1!!";
	static const uint8_t p[16] = "control-domain-7";
	uint8_t now[16] = { 0 };
	uint64_t reason = 0, next = 0;
	hv_return_t r, r2;

	memcpy(gmem + 0x2100, q, 16);
	load(guest_sse, guest_sse_end);
	r = run_watching_xmm7(p, now, &reason, &next);
	tap_ok(r == HV_SUCCESS && reason == VMX_REASON_IO && !memcmp(now, p, 16),
	       "the guest's XMM7 load leaves the control domain's XMM7 alone (%x, reason %lu)", r, reason);
	r = hv_vcpu_read_fpstate(vcpu, area, sizeof(area));
	tap_ok(r == HV_SUCCESS && !memcmp(area + 160 + 7 * 16, q, 16),
	       "hv_vcpu_read_fpstate shows the guest's XMM7 in the XSAVE layout (%x)", r);
	memcpy(area + 160 + 16, rr, 16);
	hv_vcpu_write_register(vcpu, HV_X86_RIP, next);
	r = hv_vcpu_write_fpstate(vcpu, area, sizeof(area));
	tap_ok(r == HV_SUCCESS && run() == VMX_REASON_IO && !memcmp(gmem + 0x2200, rr, 16),
	       "hv_vcpu_write_fpstate sets the guest's XMM1 (%x)", r);
	area[24 + 3] = 0x80;	/* MXCSR bit 31: reserved */
	r = hv_vcpu_write_fpstate(vcpu, area, sizeof(area));
	r2 = hv_vcpu_read_fpstate(vcpu, (void *)0x8000000000000000ull, sizeof(area));	/* non-canonical */
	tap_ok(r == HV_BAD_ARGUMENT && r2 == HV_BAD_ARGUMENT &&
	       hv_vcpu_write_fpstate(vcpu, area, 100) == HV_BAD_ARGUMENT,
	       "a reserved MXCSR bit, a short buffer or a bad pointer is refused (%x, %x)", r, r2);
}

/* The same with YMM7, whose upper half only XSAVE state (AVX) holds. */
static hv_return_t run_watching_ymm7(const uint8_t before[32], uint8_t after[32])
{
	register uint64_t r8 __asm__("r8") = 0, r9 __asm__("r9") = CODE;
	uint64_t rax = HVMETAL_HC_VCPU_RUN, rdi = libhv_vm(), rsi = vcpu;
	uint64_t rdx = HV_DEADLINE_FOREVER, rcx = HVMETAL_RUN_EVERY_EXIT | HVMETAL_RUN_SET_RIP;

	__asm__ volatile("vmovdqu %6, %%ymm7; vmcall; vmovdqu %%ymm7, %7"
			 : "+a"(rax), "+D"(rdi), "+S"(rsi), "+d"(rdx), "+c"(rcx), "+r"(r8)
			 : "m"(*(const uint8_t (*)[32])before), "m"(*(uint8_t (*)[32])after), "r"(r9)
			 : "xmm7", "memory", "cc");
	return (hv_return_t)rax;
}

/*
 * AVX state both ways: the control domain turns AVX on (XSETBV, which hvmetal
 * emulates), the VMM gives the guest its own YMM7 upper half through the
 * XSAVE area; a run leaves the control domain's YMM7 whole and the guest's as set.
 */
static void test_avx(void)
{
	static uint8_t area[8192] __attribute__((aligned(64)));
	static const uint8_t cd[32] = "control-domain-ymm7-both-halves";
	static const uint8_t mine[16] = "guest-ymm7-upper";
	uint8_t now[32] = { 0 };
	uint32_t lo, hi, ymm_off;
	uint64_t xcr0;

	if (!(cpuid(1, 0).ecx & (1u << 28)) || !(read_cr4() & CR4_OSXSAVE)) {
		tap_ok(0, "a CPU with AVX and CR4.OSXSAVE for the AVX checks");
		return;
	}
	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	xcr0 = ((uint64_t)hi << 32) | lo;
	__asm__ volatile("xsetbv" : : "a"((uint32_t)(xcr0 | 7)), "d"(hi), "c"(0));
	ymm_off = cpuid(0xd, 2).ebx;	/* where YMM_Hi128 lives in the standard layout */
	memcpy(gmem + 0x2100, "guest-xmm7-low!!", 16);
	load(guest_sse, guest_sse_end);
	hv_vcpu_read_fpstate(vcpu, area, sizeof(area));
	memcpy(area + ymm_off + 7 * 16, mine, 16);
	area[XSTATE_BV] |= 4;
	tap_ok(hv_vcpu_write_register(vcpu, HV_X86_XCR0, 7) == HV_SUCCESS &&
	       hv_vcpu_write_fpstate(vcpu, area, sizeof(area)) == HV_SUCCESS &&
	       run_watching_ymm7(cd, now) == HV_SUCCESS && !memcmp(now, cd, 32),
	       "a guest run leaves the control domain's YMM7, both halves, as it was");
	memset(area, 0, sizeof(area));
	tap_ok(hv_vcpu_read_fpstate(vcpu, area, sizeof(area)) == HV_SUCCESS &&
	       !memcmp(area + ymm_off + 7 * 16, mine, 16) && !memcmp(area + 160 + 7 * 16, "guest-xmm7-low!!", 16),
	       "and the guest's YMM7 is its own: upper half from the VMM, lower from its own load");
	hv_vcpu_write_register(vcpu, HV_X86_XCR0, 1);
	__asm__ volatile("xsetbv" : : "a"(lo), "d"(hi), "c"(0));
}

/* CR2 and the debug registers: each side keeps its own across a run. */
static void test_cr2_dr(void)
{
	uint64_t cd_cr2 = 0x1234000, cd_dr0 = 0x5678000, cr2, dr0, g_cr2 = 0, g_dr0 = 0;

	__asm__ volatile("mov %0, %%cr2; mov %1, %%dr0" : : "r"(cd_cr2), "r"(cd_dr0));
	load(guest_exits, guest_exits_end);
	hv_vcpu_write_register(vcpu, HV_X86_CR2, 0xabc000);
	hv_vcpu_write_register(vcpu, HV_X86_DR0, 0xdef000);
	run();
	__asm__ volatile("mov %%cr2, %0; mov %%dr0, %1" : "=r"(cr2), "=r"(dr0));
	hv_vcpu_read_register(vcpu, HV_X86_CR2, &g_cr2);
	hv_vcpu_read_register(vcpu, HV_X86_DR0, &g_dr0);
	tap_ok(cr2 == cd_cr2 && dr0 == cd_dr0 && g_cr2 == 0xabc000 && g_dr0 == 0xdef000,
	       "CR2 and DR0 stay each side's own across a run (control domain %lx/%lx, guest %lx/%lx)",
	       cr2, dr0, g_cr2, g_dr0);
	__asm__ volatile("mov %0, %%dr0" : : "r"(0ull));
}

/*
 * Issue 9, defect 5: MSRs the guest uses without an MSR access (here RDTSCP's
 * TSC_AUX) are its own even when the VMM never marked them: never the control
 * domain's.
 */
static void test_swapped_msrs(void)
{
	uint64_t saved = rdmsr(MSR_TSC_AUX), v = 0, reason, p2 = 0;

	if (!(cpuid(0x80000001, 0).edx & (1u << 27)))
		return;
	wrmsr(MSR_TSC_AUX, 0x5a5a);
	hv_vmx_vcpu_read_vmcs(vcpu, VMCS_CTRL_CPU_BASED2, &p2);
	hv_vmx_vcpu_write_vmcs(vcpu, VMCS_CTRL_CPU_BASED2, p2 | CPU_BASED2_RDTSCP);
	load(guest_tsc_aux, guest_tsc_aux_end);
	reason = run();
	tap_ok(reason == VMX_REASON_HLT && (uint32_t)reg(HV_X86_RCX) == 0 && rdmsr(MSR_TSC_AUX) == 0x5a5a,
	       "a guest's RDTSCP reads its own TSC_AUX (%lx), not the control domain's", reg(HV_X86_RCX));
	hv_vcpu_write_msr(vcpu, MSR_TSC_AUX, 7);
	load(guest_tsc_aux, guest_tsc_aux_end);
	reason = run();
	tap_ok(reason == VMX_REASON_HLT && (uint32_t)reg(HV_X86_RCX) == 7 &&
	       hv_vcpu_read_msr(vcpu, MSR_TSC_AUX, &v) == HV_SUCCESS && v == 7 && rdmsr(MSR_TSC_AUX) == 0x5a5a,
	       "the TSC_AUX the VMM wrote is the guest's (%lx); the control domain's stays", reg(HV_X86_RCX));
	hv_vmx_vcpu_write_vmcs(vcpu, VMCS_CTRL_CPU_BASED2, p2);
	wrmsr(MSR_TSC_AUX, saved);
}

static void test_msrs(void)
{
	uint64_t mine = 0xffff800012340000ull, saved = rdmsr(MSR_KGSBASE), v = 0, reason;

	wrmsr(MSR_KGSBASE, mine);
	tap_ok(hv_vcpu_enable_native_msr(vcpu, MSR_KGSBASE, true) == HV_SUCCESS &&
	       hv_vcpu_enable_native_msr(vcpu, 0x1b, true) == HV_BAD_ARGUMENT &&
	       hv_vcpu_set_msr_access(vcpu, 0x10, HV_MSR_WRITE) == HV_BAD_ARGUMENT,
	       "KERNEL_GS_BASE can go native; APIC_BASE and writes to TSC cannot");
	load(guest_msr, guest_msr_end);
	reason = run();
	hv_vcpu_read_msr(vcpu, MSR_KGSBASE, &v);
	tap_ok(reason == VMX_REASON_IO && rdmsr(MSR_KGSBASE) == mine && v == 0x12345678,
	       "a native MSR the guest writes is the guest's (%lx); the control domain's stays", v);
	skip();
	reason = run();
	tap_ok(reason == VMX_REASON_RDMSR && (uint32_t)reg(HV_X86_RCX) == 0xc0000080,
	       "RDMSR of a non-native MSR exits (reason %lu, ecx %lx)", reason, reg(HV_X86_RCX));
	tap_ok(hv_vcpu_write_msr(vcpu, MSR_LSTAR, 1ull << 63) == HV_BAD_ARGUMENT &&
	       hv_vcpu_write_msr(vcpu, MSR_LSTAR, 0xffffffff80001000ull) == HV_SUCCESS &&
	       hv_vcpu_read_msr(vcpu, MSR_LSTAR, &v) == HV_SUCCESS && v == 0xffffffff80001000ull &&
	       hv_vcpu_read_msr(vcpu, 0x1b, &v) == HV_BAD_ARGUMENT,
	       "hv_vcpu_write_msr refuses a non-canonical LSTAR, read_msr returns what was written");
	wrmsr(MSR_KGSBASE, saved);
}

/* hv_vmx_vcpu_set_apic_address: the guest's APIC page accesses become APIC-access exits. */
static void test_apic_address(void)
{
	uint64_t reason, q, cap = 0;

	hv_vmx_read_capability(HV_VMX_CAP_PROCBASED2, &cap);
	if (!((cap >> 32) & CPU_BASED2_VIRTUAL_APIC)) {
		/* A CPU without it (vmx_hide = apic_access): the field does not exist. */
		tap_ok(hv_vmx_vcpu_set_apic_address(vcpu, 0x8000) == HV_UNSUPPORTED,
		       "without APIC-access virtualization hv_vmx_vcpu_set_apic_address is HV_UNSUPPORTED");
		return;
	}

	tap_ok(hv_vmx_vcpu_set_apic_address(vcpu, 0x8001) == HV_BAD_ARGUMENT &&
	       hv_vmx_vcpu_set_apic_address(vcpu, 0x1000) == HV_BAD_ARGUMENT,
	       "hv_vmx_vcpu_set_apic_address refuses an unaligned gpa and one the VMM mapped");
	load(guest_apic, guest_apic_end);
	tap_ok(hv_vmx_vcpu_set_apic_address(vcpu, 0x8000) == HV_SUCCESS &&
	       hv_vmx_vcpu_write_vmcs(vcpu, VMCS_CTRL_CPU_BASED2,
				      cap2ctrl(HV_VMX_CAP_PROCBASED2, CPU_BASED2_VIRTUAL_APIC)) == HV_SUCCESS,
	       "hv_vmx_vcpu_set_apic_address(0x8000) with APIC-access virtualization on");
	reason = run();
	q = vmcs(VMCS_RO_EXIT_QUALIFIC);
	tap_ok(reason == VMX_REASON_APIC_ACCESS && (q & 0xfff) == 0x20 && ((q >> 12) & 0xf) == 0,
	       "a guest read of offset 0x20 is an APIC-access exit (reason %lu, qualification %lx)", reason, q);
	hv_vmx_vcpu_write_vmcs(vcpu, VMCS_CTRL_CPU_BASED2, cap2ctrl(HV_VMX_CAP_PROCBASED2, 0));
}

static void test_faults(void)
{
	uint64_t reason, q;

	load(guest_ept, guest_ept_end);
	reason = run();
	q = vmcs(VMCS_RO_EXIT_QUALIFIC);
	tap_ok(reason == VMX_REASON_EPT_VIOLATION && vmcs(VMCS_GUEST_PHYSICAL_ADDRESS) == 0x9000 &&
	       (q & 1) && !(q & 2),
	       "a read of unmapped guest-physical 0x9000 is an EPT violation (gpa %lx, qualification %lx)",
	       vmcs(VMCS_GUEST_PHYSICAL_ADDRESS), q);
	load(guest_triple, guest_triple_end);
	hv_vmx_vcpu_write_vmcs(vcpu, VMCS_GUEST_IDTR_LIMIT, 0);
	reason = run();
	tap_ok(reason == VMX_REASON_TRIPLE_FAULT, "INT3 with an empty IVT is a triple fault (reason %lu)", reason);
	load(guest_exits, guest_exits_end);
	hv_vcpu_write_register(vcpu, HV_X86_RFLAGS, 0);	/* bit 1 must be 1 */
	reason = run();
	tap_ok(reason == (0x80000000u | VMX_REASON_VMENTRY_GUEST),
	       "a VM entry with bad guest state comes back as the failure exit (%lx)", reason);
	load(guest_exits, guest_exits_end);
	tap_ok(run() == VMX_REASON_IO, "and the vCPU runs again once the state is fixed");
}

/* Bad controls fail the VM entry itself (VMfailValid): HV_ERROR and ZF, and the vCPU lives on. */
static void test_vmfail(void)
{
	uint32_t status = 0;
	hv_return_t r;

	tap_ok(hv_vcpu_vmx_status(vcpu, &status) == HV_ERROR,
	       "hv_vcpu_vmx_status before any failed VM entry: HV_ERROR, nothing to report");
	load(guest_exits, guest_exits_end);
	hv_vmx_vcpu_write_vmcs(vcpu, VMCS_CTRL_CR3_COUNT, 5);	/* the CPU takes at most 4 */
	r = hv_vcpu_run(vcpu);
	if (hv_vcpu_vmx_status(vcpu, &status) != HV_SUCCESS)
		status = ~0u;
	tap_ok(r == HV_ERROR && status == 0x40,
	       "a VM entry refused for bad controls is HV_ERROR, and hv_vcpu_vmx_status says ZF (%x, %x)",
	       r, status);
	hv_vmx_vcpu_write_vmcs(vcpu, VMCS_CTRL_CR3_COUNT, 0);
	load(guest_exits, guest_exits_end);
	tap_ok(run() == VMX_REASON_IO, "fixed, the vCPU runs again");
}

/* TSC: an offset from hv_tsc_clock, and one guest TSC for the whole VM. */
static void test_tsc(void)
{
	uint64_t tsc = 0, now;
	hv_return_t r;

	r = hv_vcpu_set_tsc_relative(vcpu, 1000000000000ll);
	hv_vcpu_read_msr(vcpu, 0x10, &tsc);
	now = hv_tsc_clock();
	/* Read just before now: 10^12 ahead of it, less the few instructions between. */
	tap_ok(r == HV_SUCCESS && tsc > now + 1000000000000ull - 1000000 && tsc < now + 1000000000000ull,
	       "hv_vcpu_set_tsc_relative: the guest TSC reads hv_tsc_clock() + 10^12 (%lu ahead)",
	       (uint64_t)(tsc - now));
	load(guest_exits, guest_exits_end);
	r = hv_vm_sync_tsc(5000000000000ull);
	run();
	hv_vcpu_read_msr(vcpu, 0x10, &tsc);
	tap_ok(r == HV_SUCCESS && tsc >= 5000000000000ull && tsc < 5000000000000ull + 100000000ull,
	       "hv_vm_sync_tsc: the guest TSC restarts from the given value (%lu past it)",
	       (uint64_t)(tsc - 5000000000000ull));
}

static void test_deadline(void)
{
	uint64_t deadline, reason = 0, count;
	hv_return_t r;

	load(guest_spin, guest_spin_end);
	memset(gmem + 0x2000, 0, 4);
	deadline = hv_tsc_clock() + 2000000;
	r = hv_vcpu_run_until(vcpu, deadline);
	hv_vmx_vcpu_read_vmcs(vcpu, VMCS_RO_EXIT_REASON, &reason);
	memcpy(&count, gmem + 0x2000, 4);
	count &= 0xffffffff;
	tap_ok(r == HV_SUCCESS && reason == VMX_REASON_VMX_TIMER_EXPIRED && hv_tsc_clock() >= deadline &&
	       count > 1000,
	       "hv_vcpu_run_until returns at its deadline (reason %lu, the guest counted %lu)", reason, count);
	tap_ok(hv_vcpu_interrupt(&vcpu, 1) == HV_SUCCESS && hv_vcpu_run_until(vcpu, HV_DEADLINE_FOREVER) == HV_SUCCESS &&
	       vmcs(VMCS_RO_EXIT_REASON) == VMX_REASON_IRQ,
	       "hv_vcpu_interrupt before a run makes that run return at once (VMX_REASON_IRQ)");
}

static void test_spaces(void)
{
	static uint8_t other[4096] __attribute__((aligned(4096)));
	hv_vm_space_t asid = 0;
	uint64_t a = 0, b = 0;

	gmem[0x2300] = 'D';
	other[0x300] = 'S';
	load(guest_space, guest_space_end);
	tap_ok(hv_vm_space_create(&asid) == HV_SUCCESS &&
	       hv_vm_map_space(asid, gmem, 0, 0x2000, HV_MEMORY_READ | HV_MEMORY_WRITE | HV_MEMORY_EXEC) == HV_SUCCESS &&
	       hv_vm_map_space(asid, other, 0x2000, 0x1000, HV_MEMORY_READ) == HV_SUCCESS,
	       "a second space maps the code and another page at 0x2000");
	if (run() == VMX_REASON_IO)
		a = reg(HV_X86_RAX) & 0xff;
	skip();
	hv_vcpu_set_space(vcpu, asid);
	hv_vcpu_write_register(vcpu, HV_X86_RIP, CODE);
	if (run() == VMX_REASON_IO)
		b = reg(HV_X86_RAX) & 0xff;
	tap_ok(a == 'D' && b == 'S', "hv_vcpu_set_space switches what the guest reads ('%c' then '%c')",
	       (char)a, (char)b);
	tap_ok(hv_vm_space_destroy(asid) == HV_BUSY && hv_vcpu_set_space(vcpu, 77) == HV_BAD_ARGUMENT,
	       "a space a vCPU uses cannot be destroyed (HV_BUSY); an unknown one cannot be set");
	hv_vcpu_set_space(vcpu, HV_VM_SPACE_DEFAULT);
	tap_ok(hv_vm_space_destroy(asid) == HV_SUCCESS, "once the vCPU leaves it, it can");
}

/* A guest hypervisor's VMCS: the VMM reads and writes it, opens fields, turns shadowing on. */
static void test_shadow_vmcs(void)
{
	uint64_t cap = 0, v = 0;
	bool have;

	hv_vmx_read_capability(HV_VMX_CAP_PROCBASED2, &cap);
	have = (cap >> 32) & CPU_BASED2_VMCS_SHADOW;
	tap_ok(have, "VMCS shadowing is offered (the CPU has it)");
	if (!have)
		return;
	tap_ok(hv_vmx_vcpu_write_shadow_vmcs(vcpu, VMCS_GUEST_RIP, 0x1234) == HV_SUCCESS &&
	       hv_vmx_vcpu_read_shadow_vmcs(vcpu, VMCS_GUEST_RIP, &v) == HV_SUCCESS && v == 0x1234 &&
	       hv_vmx_vcpu_write_shadow_vmcs(vcpu, VMCS_HOST_RIP, 0x5678) == HV_SUCCESS &&
	       hv_vmx_vcpu_read_shadow_vmcs(vcpu, VMCS_HOST_RIP, &v) == HV_SUCCESS && v == 0x5678 &&
	       reg(HV_X86_RIP) != 0x1234,
	       "the shadow VMCS is the guest hypervisor's: any field, its host state too, apart from the vCPU's own");
	tap_ok(hv_vmx_vcpu_read_shadow_vmcs(vcpu, 0x1234, &v) == HV_BAD_ARGUMENT &&
	       hv_vmx_vcpu_set_shadow_access(vcpu, 0x8000, HV_SHADOW_VMCS_READ) == HV_BAD_ARGUMENT &&
	       hv_vmx_vcpu_set_shadow_access(vcpu, VMCS_GUEST_RIP, 4) == HV_BAD_ARGUMENT &&
	       hv_vmx_vcpu_set_shadow_access(vcpu, VMCS_GUEST_RIP, HV_SHADOW_VMCS_READ | HV_SHADOW_VMCS_WRITE) == HV_SUCCESS,
	       "shadow access: an unknown field, an encoding past bit 14 or an unknown flag is refused");
	load(guest_exits, guest_exits_end);
	tap_ok(hv_vmx_vcpu_write_vmcs(vcpu, VMCS_CTRL_CPU_BASED2,
				     cap2ctrl(HV_VMX_CAP_PROCBASED2, CPU_BASED2_VMCS_SHADOW)) == HV_SUCCESS &&
	       run() == VMX_REASON_IO,
	       "with shadowing on the vCPU enters and runs (hvmetal linked the shadow VMCS)");
	hv_vmx_vcpu_write_vmcs(vcpu, VMCS_CTRL_CPU_BASED2, cap2ctrl(HV_VMX_CAP_PROCBASED2, 0));
	load(guest_exits, guest_exits_end);
	tap_ok(run() == VMX_REASON_IO, "and with it off again (link pointer back to none)");
}

/* ---- from another CPU ---- */

static volatile int ap_phase;
static hv_return_t ap_read_ret, ap_interrupt_ret, ap_adopt_busy;

/* What the Linux driver does when a vCPU's thread has moved: this CPU becomes its owner. */
static hv_return_t adopt(void)
{
	return hvmetal_vmcall(HVMETAL_HC_VCPU_ADOPT, libhv_vm(), vcpu, 0, 0);
}

/* CPU 1 turns its APIC to x2APIC mode (IA32_APIC_BASE.EXTD), which hvmetal lets through. */
static VOID EFIAPI ap_x2apic(VOID *arg)
{
	uint64_t base = rdmsr(0x1b);

	if (!(base & (1u << 10)))
		wrmsr(0x1b, base | (1u << 10));
	*(volatile int *)arg = (rdmsr(0x1b) >> 10) & 1;
}

/*
 * Issue 9, defect 2: with CPU 1 in x2APIC mode, its kicks go through the x2APIC
 * ICR (test_other_cpu), and INIT/SIPI and MP services keep working (the rest of
 * the suite, the storm among it, runs with CPU 1 so).
 */
static void test_x2apic_cpu1(EFI_MP_SERVICES_PROTOCOL *mp)
{
	volatile int on = 0;
	EFI_STATUS st;

	if (!(cpuid(1, 0).ecx & (1u << 21)))
		return;
	st = uefi_call_wrapper(mp->StartupThisAP, 7, mp, ap_x2apic, 1, NULL, 0, (void *)&on, NULL);
	tap_ok(!EFI_ERROR(st) && on == 1, "CPU 1 switches its APIC to x2APIC mode (%lx, %d)",
	       (uint64_t)st, on);
}

static VOID EFIAPI ap_kick(VOID *arg)
{
	volatile uint32_t *count = (volatile uint32_t *)(gmem + 0x2000);
	uint64_t dummy;

	(void)arg;
	ap_read_ret = hv_vcpu_read_register(vcpu, HV_X86_RAX, &dummy);
	ap_phase = 2;
	/* Wait until the guest is visibly running on the BSP, then force it out. */
	for (uint64_t t0 = rdtsc(); *count < 100000 && rdtsc() - t0 < 100000000ull; )
		cpu_pause();
	ap_adopt_busy = adopt();
	ap_interrupt_ret = hv_vcpu_interrupt(&vcpu, 1);
	ap_phase = 3;
}

static void test_other_cpu(EFI_MP_SERVICES_PROTOCOL *mp)
{
	EFI_EVENT done = NULL;
	EFI_STATUS st;
	uint64_t reason, nmis;
	uint32_t count;

	load(guest_spin, guest_spin_end);
	memset(gmem + 0x2000, 0, 4);
	ap_phase = 1;
	st = uefi_call_wrapper(BS->CreateEvent, 5, 0, 0, NULL, NULL, &done);
	if (!EFI_ERROR(st))
		st = uefi_call_wrapper(mp->StartupThisAP, 7, mp, ap_kick, 1, done, 0, NULL, NULL);
	if (EFI_ERROR(st)) {
		tap_ok(0, "CPU 1 runs a procedure while CPU 0 runs the guest (%lx)", (uint64_t)st);
		return;
	}
	/*
	 * run_until comes back only for exits the VMM must see: the firmware's timer
	 * interrupts are taken on the way (the MP services need them) and the guest
	 * spins on, so only CPU 1's hv_vcpu_interrupt can end this.
	 */
	nmis = trap_nmi_count;
	reason = hv_vcpu_run_until(vcpu, hv_tsc_clock() + 300000000ull) == HV_SUCCESS ?
		 vmcs(VMCS_RO_EXIT_REASON) : 0;
	memcpy(&count, gmem + 0x2000, 4);
	tap_diag("CPU 0 back from the guest: reason %lu, count %u, CPU 1 at step %d", reason, count, ap_phase);
	for (uint64_t t0 = rdtsc(); ap_phase != 3 && rdtsc() - t0 < 200000000ull; )
		cpu_pause();
	tap_ok(ap_read_ret == HV_DENIED, "a vCPU call from a CPU that does not own it is HV_DENIED (%x)",
	       ap_read_ret);
	tap_ok(ap_adopt_busy == HV_BUSY, "CPU 1 cannot take the vCPU while it runs on CPU 0: HV_BUSY (%x)",
	       ap_adopt_busy);
	tap_ok(ap_interrupt_ret == HV_SUCCESS && reason == VMX_REASON_IRQ && count >= 100000,
	       "hv_vcpu_interrupt from CPU 1 stops the guest spinning on CPU 0 (reason %lu after %u loops)",
	       reason, count);
	tap_ok(trap_nmi_count == nmis, "the kick NMI never reaches the control domain as its own (%lu)",
	       trap_nmi_count - nmis);
	uefi_call_wrapper(BS->CloseEvent, 1, done);
}

/* ---- issue 9, defect 14: the control domain's NMIs among hvmetal's kicks ---- */

#define NMI_ROUNDS	400
#define NMI_WAIT	50000000ull	/* TSC ticks an NMI may take to arrive */

static volatile int nmi_done, kicker_stop, nmi_round;
static volatile uint32_t nmi_lost, kicks;

static void send_nmi_ipi(uint32_t dest)
{
	uint64_t base = rdmsr(0x1b);
	volatile uint32_t *apic = (volatile uint32_t *)(uintptr_t)(base & ~0xfffull);

	if (base & (1u << 10)) {
		wrmsr(0x830, ((uint64_t)dest << 32) | (4u << 8));
		return;
	}
	apic[0x310 / 4] = dest << 24;
	apic[0x300 / 4] = 4u << 8;
}

/* On CPU 1: NMI IPIs to CPU 0 one at a time, each waited for, each with a kick from CPU 2. */
static VOID EFIAPI ap_nmi_sender(VOID *arg)
{
	uint32_t dest = *(uint32_t *)arg;

	for (int i = 0; i < NMI_ROUNDS; i++) {
		uint64_t before = trap_nmi_count, t0 = rdtsc();

		__atomic_store_n(&nmi_round, i + 1, __ATOMIC_RELEASE);
		send_nmi_ipi(dest);
		while (trap_nmi_count == before && rdtsc() - t0 < NMI_WAIT)
			cpu_pause();
		nmi_lost += trap_nmi_count == before;
	}
	nmi_done = 1;
}

/*
 * On CPU 2: at each of CPU 1's rounds, hv_vcpu_interrupt for the vCPU running on
 * CPU 0 (a kick NMI), a little later each round, so that over the rounds the
 * kick lands before, with and after the control domain's NMI.
 */
static VOID EFIAPI ap_kicker(VOID *arg)
{
	int seen = 0, r;

	(void)arg;
	while (!kicker_stop) {
		r = __atomic_load_n(&nmi_round, __ATOMIC_ACQUIRE);
		if (r == seen) {
			cpu_pause();
			continue;
		}
		seen = r;
		for (int i = 0; i < (r % 100) * 6; i++)
			cpu_pause();
		if (hv_vcpu_interrupt(&vcpu, 1) == HV_SUCCESS)
			kicks++;
	}
}

/*
 * CPU 1 sends CPU 0's control domain NMIs while CPU 2 kicks the guest CPU 0 runs,
 * so kick NMIs and the control domain's meet, and some coalesce, on CPU 0: each of
 * the control domain's must reach it once, none dropped as a kick, none
 * invented from a kick. (48047b4 counted kicks and dropped some.)
 */
static void test_nmis_among_kicks(EFI_MP_SERVICES_PROTOCOL *mp)
{
	uint32_t dest = cpuid(1, 0).ebx >> 24;
	EFI_EVENT sender = NULL, kicker = NULL;
	uint64_t nmis = trap_nmi_count, got;
	EFI_STATUS st;

	load(guest_spin, guest_spin_end);
	nmi_done = kicker_stop = nmi_round = 0;
	nmi_lost = kicks = 0;
	st = uefi_call_wrapper(BS->CreateEvent, 5, 0, 0, NULL, NULL, &sender);
	if (!EFI_ERROR(st))
		st = uefi_call_wrapper(BS->CreateEvent, 5, 0, 0, NULL, NULL, &kicker);
	if (!EFI_ERROR(st))
		st = uefi_call_wrapper(mp->StartupThisAP, 7, mp, ap_kicker, 2, kicker, 0, NULL, NULL);
	if (!EFI_ERROR(st))
		st = uefi_call_wrapper(mp->StartupThisAP, 7, mp, ap_nmi_sender, 1, sender, 0, &dest, NULL);
	if (EFI_ERROR(st)) {
		kicker_stop = 1;
		tap_ok(0, "CPU 1 sends NMIs and CPU 2 kicks while CPU 0 runs a guest (%lx)", (uint64_t)st);
		return;
	}
	for (uint64_t t0 = rdtsc(); !nmi_done && rdtsc() - t0 < NMI_ROUNDS * NMI_WAIT; )
		hv_vcpu_run_until(vcpu, hv_tsc_clock() + 20000000ull);
	kicker_stop = 1;
	for (uint64_t t0 = rdtsc(); rdtsc() - t0 < NMI_WAIT; )
		cpu_pause();
	got = trap_nmi_count - nmis;
	tap_ok(nmi_done && nmi_lost == 0 && got == NMI_ROUNDS && kicks > 0,
	       "%d NMIs from CPU 1 to CPU 0's control domain among %u kicks from CPU 2: %lu arrived, "
	       "%u not within the wait", NMI_ROUNDS, kicks, got, nmi_lost);
	uefi_call_wrapper(BS->CloseEvent, 1, sender);
	uefi_call_wrapper(BS->CloseEvent, 1, kicker);
}

/* ---- the vCPU moves to CPU 1 and back (HVMETAL_HC_VCPU_ADOPT) ---- */

static volatile hv_return_t ap_move_ret, ap_move_read, ap_move_run;
static volatile uint64_t ap_move_rbx, ap_move_reason;

/* CPU 1 takes the vCPU CPU 0 made and set up, reads it and runs it to its first exit. */
static VOID EFIAPI ap_move(VOID *arg)
{
	uint64_t rbx = 0, reason = 0;

	(void)arg;
	ap_move_ret = adopt();
	ap_move_read = hv_vcpu_read_register(vcpu, HV_X86_RBX, &rbx);
	do {
		ap_move_run = hv_vcpu_run(vcpu);
		if (ap_move_run == HV_SUCCESS)
			hv_vmx_vcpu_read_vmcs(vcpu, VMCS_RO_EXIT_REASON, &reason);
	} while (ap_move_run == HV_SUCCESS && reason == VMX_REASON_IRQ);
	ap_move_rbx = rbx;
	ap_move_reason = reason;
}

static void test_move(EFI_MP_SERVICES_PROTOCOL *mp)
{
	uint64_t dummy;
	EFI_STATUS st;
	hv_return_t r;

	load(guest_exits, guest_exits_end);
	hv_vcpu_write_register(vcpu, HV_X86_RBX, 0x1234abcd);
	ap_move_ret = ap_move_read = ap_move_run = HV_ERROR;
	st = uefi_call_wrapper(mp->StartupThisAP, 7, mp, ap_move, 1, NULL, 5000000, NULL, NULL);
	tap_ok(!EFI_ERROR(st) && ap_move_ret == HV_SUCCESS && ap_move_read == HV_SUCCESS &&
	       ap_move_rbx == 0x1234abcd && ap_move_run == HV_SUCCESS && ap_move_reason == VMX_REASON_IO,
	       "CPU 1 adopts the vCPU (VMCLEARed on CPU 0), sees its registers and runs it to its OUT "
	       "(%lx: %x %x %x, RBX %lx, reason %lu)", (uint64_t)st, ap_move_ret, ap_move_read,
	       ap_move_run, ap_move_rbx, ap_move_reason);
	r = hv_vcpu_read_register(vcpu, HV_X86_RAX, &dummy);
	tap_ok(r == HV_DENIED, "CPU 0 no longer owns it: HV_DENIED (%x)", r);
	r = adopt();
	tap_ok(r == HV_SUCCESS && (reg(HV_X86_RAX) & 0xff) == 'A' && reg(HV_X86_RIP) == CODE + 5,
	       "CPU 0 takes it back from CPU 1, in the state CPU 1 left it (%x)", r);
	skip();
	tap_ok(run() == VMX_REASON_CPUID && adopt() == HV_SUCCESS,
	       "and runs it on from there (VMLAUNCH again); adopting what it owns is a no-op");
}

/* ---- EPT changes from another CPU while the guest runs ---- */

#define MB2		0x200000ull
#define TOUCH_GPA	0x10000ull	/* guest_touch's 16 pages */
#define TOUCH_SIZE	0x10000ull
#define STRESS_ROUNDS	100		/* of four changes each */

static hv_vm_space_t stress_asid;
static uint8_t *stress_mem;		/* 2 MiB aligned: guest-physical [0, 2 MiB) of the space */
static volatile int stress_done;
static volatile unsigned stress_good, stress_bad;

static uint64_t pool_free_now(void)
{
	struct hvmetal_info info;

	return hvmetal_info(&info) == HV_SUCCESS ? info.pool_free : 0;
}

/*
 * CPU 1: each round splits the 2 MiB page the guest runs in and narrows a page
 * (protect), merges it back (a page table retired while the guest may walk it),
 * unmaps the 16 touched pages (split) and maps them again (merge).
 */
static VOID EFIAPI ap_stress(VOID *arg)
{
	uint64_t rwx = HV_MEMORY_READ | HV_MEMORY_WRITE | HV_MEMORY_EXEC;

	(void)arg;
	for (unsigned i = 0; i < STRESS_ROUNDS; i++) {
		uint64_t gpa = TOUCH_GPA + (i % 16) * 0x1000;
		hv_return_t r[4];

		r[0] = hv_vm_protect_space(stress_asid, gpa, 0x1000, HV_MEMORY_READ);
		r[1] = hv_vm_protect_space(stress_asid, gpa, 0x1000, rwx);
		r[2] = hv_vm_unmap_space(stress_asid, TOUCH_GPA, TOUCH_SIZE);
		r[3] = hv_vm_map_space(stress_asid, stress_mem + TOUCH_GPA, TOUCH_GPA, TOUCH_SIZE, rwx);
		for (unsigned k = 0; k < 4; k++) {
			if (r[k] == HV_SUCCESS)
				stress_good++;
			else
				stress_bad++;
		}
	}
	stress_done = 1;
}

/*
 * CPU 0 runs guest_touch in a space whose tables CPU 1 keeps splitting, merging,
 * unmapping and mapping: every change must wait for CPU 0 to drop what it cached
 * before a table page goes back to the pool.  Afterwards the pool is back where
 * it was and hvmetal's canary page and code are intact.
 */
static void test_ept_stress(EFI_MP_SERVICES_PROTOCOL *mp)
{
	uint64_t rwx = HV_MEMORY_READ | HV_MEMORY_WRITE | HV_MEMORY_EXEC;
	uint64_t baseline, after, violations = 0, other = 0, last_other = 0;
	struct hvmetal_translation t = { 0 };
	struct hvmetal_selfcheck sc = { 0 };
	void *mem = NULL;
	EFI_EVENT done = NULL;
	EFI_STATUS st = EFI_NOT_READY;
	uint32_t rounds = 0;

	if (hv_vm_allocate(&mem, 2 * MB2, HV_ALLOCATE_DEFAULT) != HV_SUCCESS) {
		tap_ok(0, "memory for the EPT stress");
		return;
	}
	stress_mem = (uint8_t *)(((uintptr_t)mem + MB2 - 1) & ~(MB2 - 1));
	memset(stress_mem, 0, 0x3000);
	load(guest_touch, guest_touch_end);
	memcpy(stress_mem + CODE, guest_touch, (size_t)(guest_touch_end - guest_touch));
	baseline = pool_free_now();
	if (hv_vm_space_create(&stress_asid) != HV_SUCCESS ||
	    hv_vm_map_space(stress_asid, stress_mem, 0, MB2, rwx) != HV_SUCCESS ||
	    hvmetal_vm_translate(stress_asid, CODE, &t) != HV_SUCCESS || t.page_size != MB2 ||
	    hv_vcpu_set_space(vcpu, stress_asid) != HV_SUCCESS) {
		tap_ok(0, "a space with a 2 MiB page for the EPT stress (page %lu)", t.page_size);
		return;
	}
	stress_done = 0;
	stress_good = stress_bad = 0;
	st = uefi_call_wrapper(BS->CreateEvent, 5, 0, 0, NULL, NULL, &done);
	if (!EFI_ERROR(st))
		st = uefi_call_wrapper(mp->StartupThisAP, 7, mp, ap_stress, 1, done, 0, NULL, NULL);
	/* Bounded: CPU 1's rounds take well under a second of guest time. */
	for (uint64_t t0 = rdtsc(); !EFI_ERROR(st) && !stress_done && rdtsc() - t0 < 3000000000ull; ) {
		uint64_t reason = hv_vcpu_run_until(vcpu, hv_tsc_clock() + 20000000ull) == HV_SUCCESS ?
				  vmcs(VMCS_RO_EXIT_REASON) : 0;

		if (reason == VMX_REASON_EPT_VIOLATION) {
			violations++;	/* a page CPU 1 took away for a moment: run again */
		} else if (reason != VMX_REASON_VMX_TIMER_EXPIRED) {
			other++;
			last_other = reason;
		}
	}
	memcpy(&rounds, stress_mem + 0x2000, 4);
	hv_vcpu_set_space(vcpu, HV_VM_SPACE_DEFAULT);
	hv_vm_space_destroy(stress_asid);
	after = pool_free_now();
	tap_diag("EPT stress: %u rounds of the guest, %lu EPT violations, %u/%u changes good",
		 rounds, violations, stress_good, stress_good + stress_bad);
	tap_ok(!EFI_ERROR(st) && stress_done && stress_good == 4 * STRESS_ROUNDS && stress_bad == 0,
	       "CPU 1 splits, merges, unmaps and maps the guest's pages %u times while CPU 0 runs it (%lx)",
	       4 * STRESS_ROUNDS, (uint64_t)st);
	tap_ok(rounds > 0 && violations > 0 && other == 0,
	       "the guest ran on through it, faulting only on pages taken away (%u rounds, %lu faults, "
	       "%lu other exits, last %lu)", rounds, violations, other, last_other);
	tap_ok(after == baseline && hvmetal_selfcheck(&sc) == HV_SUCCESS && sc.canary_intact &&
	       sc.code_intact, "afterwards the pool is back to its baseline (%lu -> %lu KiB free), "
	       "hvmetal's canary and code intact", baseline >> 10, after >> 10);
	if (done)
		uefi_call_wrapper(BS->CloseEvent, 1, done);
	hv_vm_deallocate(mem, 2 * MB2);
}

void test_vcpu_api(EFI_MP_SERVICES_PROTOCOL *mp, unsigned cpus)
{
	hv_vcpuid_t second = 0;
	uint64_t t = 0, idle = 1;
	hv_return_t r;

	if (hv_vm_create(HV_VM_DEFAULT) != HV_SUCCESS ||
	    hv_vm_allocate((void **)&gmem, 0x10000, HV_ALLOCATE_DEFAULT) != HV_SUCCESS) {
		tap_ok(0, "a VM and guest memory for the vCPU checks");
		return;
	}
	memset(gmem, 0, 0x10000);
	tap_ok(hv_vm_map(gmem, 0, GUEST_MEM, HV_MEMORY_READ | HV_MEMORY_WRITE | HV_MEMORY_EXEC) == HV_SUCCESS &&
	       hv_vcpu_create(&vcpu, HV_VCPU_DEFAULT) == HV_SUCCESS &&
	       hv_vcpu_create(&second, HV_VCPU_DEFAULT) == HV_SUCCESS && second != vcpu &&
	       hv_vcpu_create(&second, 0x100) == HV_BAD_ARGUMENT,
	       "hv_vcpu_create makes two vCPUs (%u, %u) and refuses unknown options", vcpu, second);
	tap_ok(setup_controls(), "controls from hv_vmx_read_capability, as hvdos computes them");
	test_exits();
	test_registers();
	test_vmcs_policy();
	test_fpstate();
	test_avx();
	test_cr2_dr();
	test_msrs();
	test_swapped_msrs();
	test_faults();
	test_apic_address();
	test_vmfail();
	test_tsc();
	test_deadline();
	test_spaces();
	test_shadow_vmcs();
	if (mp && cpus > 1) {
		test_x2apic_cpu1(mp);
		test_other_cpu(mp);
		if (cpus > 2)
			test_nmis_among_kicks(mp);
		test_move(mp);
		test_ept_stress(mp);
	}
	r = hv_vcpu_get_exec_time(vcpu, &t);
	load(guest_exits, guest_exits_end);
	tap_ok(r == HV_SUCCESS && t > 0 && hv_vcpu_get_idle_time(vcpu, &idle) == HV_SUCCESS && idle == 0 &&
	       hv_vcpu_flush(vcpu) == HV_UNSUPPORTED && hv_vcpu_invalidate_tlb(vcpu) == HV_SUCCESS &&
	       run() == VMX_REASON_IO,
	       "exec time %lu ns, idle 0; hv_vcpu_flush is HV_UNSUPPORTED as on macOS; a TLB flush, then a run", t);
	tap_ok(hv_vm_destroy() == HV_BUSY, "hv_vm_destroy with vCPUs left is HV_BUSY");
	tap_ok(hv_vcpu_destroy(second) == HV_SUCCESS && hv_vcpu_destroy(vcpu) == HV_SUCCESS &&
	       hv_vcpu_destroy(vcpu) == HV_BAD_ARGUMENT && hv_vcpu_run(vcpu) == HV_BAD_ARGUMENT &&
	       hv_vcpu_destroy(64) == HV_BAD_ARGUMENT,
	       "hv_vcpu_destroy; a destroyed or unknown vCPU is HV_BAD_ARGUMENT");
	tap_ok(hv_vm_destroy() == HV_SUCCESS, "then the VM goes");
	hv_vm_deallocate(gmem, 0x10000);
}
