#include <efi.h>
#include <efilib.h>
#include <hvmetal/hvmetal.h>
#include "hvtest_hostile.h"
#include "kernel/cpu.h"
#include "tap.h"
#include "trap.h"

#define MSR_APIC_BASE		0x1b
#define MSR_MISC_ENABLE		0x1a0
#define MSR_PEBS_ENABLE		0x3f1
#define MSR_VMX_BASIC		0x480
#define MSR_RTIT_OUTPUT_BASE	0x560
#define MSR_RTIT_CTL		0x570
#define MSR_DS_AREA		0x600

struct msr_access {
	uint32_t msr;
	uint64_t val;
};

static void do_rdmsr(void *arg)
{
	struct msr_access *a = arg;
	uint32_t lo, hi;

	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(a->msr));
	a->val = ((uint64_t)hi << 32) | lo;
}

static void do_wrmsr(void *arg)
{
	struct msr_access *a = arg;

	__asm__ volatile("wrmsr" : : "c"(a->msr), "a"((uint32_t)a->val),
			 "d"((uint32_t)(a->val >> 32)) : "memory");
}

static int try_rdmsr(uint32_t msr, uint64_t *val)
{
	struct msr_access a = { .msr = msr };
	int v = trap_call(do_rdmsr, &a);

	*val = a.val;
	return v;
}

static int try_wrmsr(uint32_t msr, uint64_t val)
{
	struct msr_access a = { .msr = msr, .val = val };

	return trap_call(do_wrmsr, &a);
}

static bool selfcheck_intact(void)
{
	struct hvmetal_selfcheck sc = { 0 };

	return hvmetal_selfcheck(&sc) == HV_SUCCESS && sc.canary_intact && sc.code_intact;
}

/*
 * Defect 1: MSRs outside the bitmap's ranges always exit. hvmetal's hypervisor
 * ranges are refused with #GP; any other is performed in VMX root and the caller
 * gets what the CPU gives (Bochs, unlike hardware, answers unknown MSRs with 0).
 */
static void test_msr_outside_bitmap(void)
{
	static const uint32_t refused[] = { 0x40000000, 0x400000ff, 0x4b564d01 };
	static const uint32_t native[] = { 0xc0011029, 0x12345678 };
	uint64_t v = 0;
	int r;

	for (unsigned i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		tap_ok(try_rdmsr(refused[i], &v) == 13, "RDMSR %x raises #GP, hvmetal survives", refused[i]);
		tap_ok(try_wrmsr(refused[i], 0) == 13, "WRMSR %x raises #GP, hvmetal survives", refused[i]);
	}
	for (unsigned i = 0; i < sizeof(native) / sizeof(native[0]); i++) {
		r = try_rdmsr(native[i], &v);
		tap_ok(r == TRAP_NONE || r == 13, "RDMSR %x: the CPU's answer (vector %d), hvmetal survives",
		       native[i], r);
		r = try_wrmsr(native[i], 0);
		tap_ok(r == TRAP_NONE || r == 13, "WRMSR %x: the CPU's answer (vector %d), hvmetal survives",
		       native[i], r);
	}
	tap_ok(selfcheck_intact(), "SELFCHECK intact after the MSR probes");
}

/* Defect 2: the xAPIC page cannot move onto hvmetal's memory. */
static void test_apic_base(uint64_t canary)
{
	uint64_t base = 0, after = 0;
	int v = try_rdmsr(MSR_APIC_BASE, &base);
	bool refused;

	tap_ok(v == TRAP_NONE, "RDMSR IA32_APIC_BASE (%lx)", base);
	/* In x2APIC mode no page is the APIC: its base is not decoded. */
	if (base & (1u << 10)) {
		tap_diag("x2APIC mode: no xAPIC page to place");
		return;
	}
	refused = try_wrmsr(MSR_APIC_BASE, (canary & ~0xfffull) | (base & 0xfff)) == 13;
	v = try_rdmsr(MSR_APIC_BASE, &after);
	tap_ok(refused && v == TRAP_NONE && after == base,
	       "IA32_APIC_BASE onto hvmetal's canary page raises #GP, base kept (%lx)", after);
	tap_ok(try_wrmsr(MSR_APIC_BASE, base) == TRAP_NONE &&
	       try_rdmsr(MSR_APIC_BASE, &after) == TRAP_NONE && after == base,
	       "rewriting IA32_APIC_BASE with its value is accepted");
	tap_ok(try_wrmsr(MSR_APIC_BASE, base | 0x200) == 13,
	       "a reserved bit of IA32_APIC_BASE raises the CPU's #GP");
	tap_ok(selfcheck_intact(), "SELFCHECK intact after the APIC base probes");
}

/* Defect 3: Intel PT, PEBS and DS_AREA would let the CPU write where the caller says. */
static void test_trace_msrs(uint64_t canary)
{
	struct cpuid_regs l1 = cpuid(1, 0), l7 = cpuid(7, 0);
	uint64_t v = 0;

	tap_ok(!(l7.ebx & (1u << 25)) && !(l1.edx & (1u << 21)) && !(l1.ecx & (1u << 2)),
	       "CPUID shows no Intel PT, no debug store, no DTES64");
	tap_ok(try_wrmsr(MSR_RTIT_OUTPUT_BASE, canary) == 13 && try_wrmsr(MSR_RTIT_CTL, 1) == 13 &&
	       try_rdmsr(MSR_RTIT_CTL, &v) == 13, "IA32_RTIT_* raise #GP");
	tap_ok(try_wrmsr(MSR_DS_AREA, canary) == 13, "WRMSR IA32_DS_AREA raises #GP");
	tap_ok(try_wrmsr(MSR_PEBS_ENABLE, 1) == 13, "WRMSR IA32_PEBS_ENABLE raises #GP");
	tap_ok(try_rdmsr(MSR_VMX_BASIC, &v) == 13, "RDMSR IA32_VMX_BASIC raises #GP (VMX is hvmetal's)");
	tap_ok(try_rdmsr(MSR_MISC_ENABLE, &v) == TRAP_NONE &&
	       try_wrmsr(MSR_MISC_ENABLE, v | (1ull << 34)) == 13 && try_wrmsr(MSR_MISC_ENABLE, v) == TRAP_NONE,
	       "IA32_MISC_ENABLE: setting XD-disable raises #GP, its value is accepted");
}

static void do_set_cr0(void *arg)
{
	write_cr0(*(uint64_t *)arg);
}

/*
 * Defect 9: a CR0 write hvmetal completes is checked as the CPU checks it. NE is
 * a bit VMX forces, so toggling it makes the write exit; clearing PG with it, in
 * 64-bit code, must be the CPU's #GP, not a VM entry that fails.
 */
static void test_cr0_rules(void)
{
	uint64_t cr0 = read_cr0(), v = cr0 ^ CR0_NE, off = (cr0 ^ CR0_NE) & ~CR0_PG;
	int r = trap_call(do_set_cr0, &off);

	tap_ok(r == 13 && read_cr0() == cr0, "MOV to CR0 clearing PG (and NE) in 64-bit code raises #GP (vector %d)", r);
	r = trap_call(do_set_cr0, &v);
	tap_ok(r == TRAP_NONE && read_cr0() == v, "MOV to CR0 toggling NE alone is completed (cr0 %lx)", read_cr0());
	r = trap_call(do_set_cr0, &cr0);
	tap_ok(r == TRAP_NONE && read_cr0() == cr0, "and toggled back (cr0 %lx)", read_cr0());
}

/*
 * Defect 14: an NMI IPI of the control domain's (here one to itself, through the
 * xAPIC ICR) reaches it exactly once; hvmetal's kicks never show up as one
 * (hvtest_vcpu.c checks that side).
 */
static void test_nmi_ipi(void)
{
	volatile uint32_t *apic = (volatile uint32_t *)(uintptr_t)(rdmsr(MSR_APIC_BASE) & ~0xfffull);
	uint64_t before = trap_nmi_count;

	if (rdmsr(MSR_APIC_BASE) & (1u << 10))
		return;		/* x2APIC: the xAPIC page is not the APIC */
	/* The "self" shorthand takes fixed vectors only: its own APIC ID, physical. */
	apic[0x310 / 4] = apic[0x20 / 4] & 0xff000000u;
	apic[0x300 / 4] = 4u << 8;			/* NMI */
	for (uint64_t t0 = rdtsc(); trap_nmi_count == before && rdtsc() - t0 < 10000000; )
		cpu_pause();
	for (uint64_t t0 = rdtsc(); rdtsc() - t0 < 1000000; )
		cpu_pause();
	tap_ok(trap_nmi_count == before + 1, "an NMI the control domain sends itself arrives once (%lu)",
	       trap_nmi_count - before);
}

static void do_store16(void *arg)
{
	__asm__ volatile("movw $0x1234, (%0)" : : "r"(arg) : "memory");
}

/*
 * Defect 2: the xAPIC page moves (IA32_APIC_BASE), and the trap moves with it:
 * stores to the new page are the APIC's (replayed), the old page is plain memory
 * again, and moving back restores both.
 */
static void test_apic_move(void)
{
	uint64_t base = rdmsr(MSR_APIC_BASE), home = base & ~0xfffull;
	EFI_PHYSICAL_ADDRESS page = 0xfe000000;	/* below 4 GiB: not RAM here, nor the APIC */
	volatile uint32_t *tpr;
	uint32_t old;
	int v;

	if ((base & (3u << 10)) != (1u << 11))
		return;		/* x2APIC or off: no xAPIC page to move */
	v = try_wrmsr(MSR_APIC_BASE, page | (base & 0xfff));
	tap_ok(v == TRAP_NONE && rdmsr(MSR_APIC_BASE) == (page | (base & 0xfff)),
	       "IA32_APIC_BASE moves the xAPIC page to %lx (vector %d)", (uint64_t)page, v);
	if (v != TRAP_NONE)
		return;
	tpr = (volatile uint32_t *)(uintptr_t)(page + 0x80);
	old = *tpr;
	*tpr = 0x30;
	v = trap_call(do_store16, (void *)tpr);
	tap_ok((*tpr & 0xff) == 0x30 && v == 13,
	       "at the new page a 32-bit TPR store is replayed (%x), a 16-bit one refused (vector %d)",
	       *tpr, v);
	*tpr = old;
	v = try_wrmsr(MSR_APIC_BASE, base);
	tap_ok(v == TRAP_NONE && rdmsr(MSR_APIC_BASE) == base, "and back home (vector %d)", v);
	tpr = (volatile uint32_t *)(uintptr_t)(home + 0x80);
	v = trap_call(do_store16, (void *)tpr);
	tap_ok(v == 13 && *tpr == old, "the home page is trapped again (vector %d, TPR %x)", v, *tpr);
	tap_ok(selfcheck_intact(), "SELFCHECK intact after the APIC moves");
}

void test_hostile_cd(const struct hvmetal_info *info)
{
	struct hvmetal_selfcheck sc = { 0 };

	(void)info;
	hvmetal_selfcheck(&sc);
	test_msr_outside_bitmap();
	test_apic_base(sc.canary_addr);
	test_trace_msrs(sc.canary_addr);
	test_cr0_rules();
	test_nmi_ipi();
	test_apic_move();
}
