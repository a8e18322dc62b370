/*
 * APIC-acceleration path lengths (docs/apic.md), on a VM made with
 * HV_VM_ACCEL_APIC: an EOI by each way a guest can give one, an interrupt from
 * hv_vm_lapic_set_intr and from the APIC timer to the guest's EOI, and the
 * VM-wide calls. Each loop runs once more without the thing measured; the
 * difference is its cost, guest instructions told apart as in hvbench_vcpu.c.
 */
#include <efi.h>
#include <efilib.h>
#include <Hypervisor/hv.h>
#include <hvmetal/hvmetal.h>
#include "hvbench.h"
#include "kernel/cpu.h"
#include "kernel/log.h"
#include "kernel/string.h"
#include "libhv/libhv.h"

#define ITERS		64
#define TRIES		8
#define CODE		0x1000
#define ISR		0x1800
#define APIC_PAGE	0x20000		/* outside the guest's memory: DS = 0x2000 reaches it */
#define VECTOR		0x40
#define MSR_APIC_BASE	0x1b
#define MSR_EOI		0x80b
#define MSR_TPR		0x808

static hv_vcpuid_t vcpu;
static uint8_t *gmem;

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static uint64_t cap2ctrl(hv_vmx_capability_t cap, uint64_t want)
{
	uint64_t c = 0;

	hv_vmx_read_capability(cap, &c);
	return (want | (c & 0xffffffff)) & (c >> 32);
}

static uint64_t reg(hv_x86_reg_t r)
{
	uint64_t v = 0;

	hv_vcpu_read_register(vcpu, r, &v);
	return v;
}

/* The guest at CODE: insn, then OUT 0xe9 and a jump back; DS as given. */
static void guest(const uint8_t *insn, unsigned len, uint16_t ds)
{
	uint8_t tail[] = { 0xe6, 0xe9, 0xeb, (uint8_t)-(int)(len + 4) };

	memcpy(gmem + CODE, insn, len);
	memcpy(gmem + CODE + len, tail, sizeof(tail));
	hv_vmx_vcpu_write_vmcs(vcpu, VMCS_GUEST_DS, ds);
	hv_vmx_vcpu_write_vmcs(vcpu, VMCS_GUEST_DS_BASE, (uint64_t)ds << 4);
	hv_vcpu_write_register(vcpu, HV_X86_RIP, CODE);
}

/* What the VMM does before each run of a loop. */
enum prelude { NOTHING, SET_INTR, TIMER };

/*
 * ITERS rounds of "run to the OUT, step over it", with the VMM's own APIC-write
 * emulation for the xAPIC EOI: the fastest of TRIES, per round.
 */
static uint64_t rounds(enum prelude pre)
{
	uint64_t best = UINT64_MAX;

	for (int t = 0; t < TRIES; t++) {
		uint64_t t0 = tsc(), reason = 0, len = 0, q = 0;
		bool nse;

		for (int i = 0; i < ITERS; i++) {
			if (pre == SET_INTR)
				hv_vm_lapic_set_intr(vcpu, VECTOR, HV_APIC_EDGE_TRIGGER);
			else if (pre == TIMER)
				hv_vcpu_apic_write(vcpu, 0x380, 1, &nse);
			for (;;) {
				hv_vcpu_run(vcpu);
				hv_vmx_vcpu_read_vmcs(vcpu, VMCS_RO_EXIT_REASON, &reason);
				hv_vmx_vcpu_read_vmcs(vcpu, VMCS_RO_VMEXIT_INSTR_LEN, &len);
				if (reason == VMX_REASON_IRQ)
					continue;	/* the firmware's timer: this try is slower, the fastest counts */
				if (reason != VMX_REASON_APIC_ACCESS)
					break;
				hv_vmx_vcpu_read_vmcs(vcpu, VMCS_RO_EXIT_QUALIFIC, &q);
				hv_vcpu_apic_write(vcpu, q & 0xfff, (uint32_t)reg(HV_X86_RAX), &nse);
				hv_vcpu_write_register(vcpu, HV_X86_RIP, reg(HV_X86_RIP) + len);
			}
			if (reason != VMX_REASON_IO)
				return 0;
			hv_vcpu_write_register(vcpu, HV_X86_RIP, reg(HV_X86_RIP) + len);
		}
		best = min_u64(best, tsc() - t0 - tsc_overhead);
	}
	return best / ITERS;
}

/* Which way x2APIC accesses and interrupts go on this boot (vmx_hide = apicv gives the other). */
static const char *way(void)
{
	return cpuid(HVMETAL_CPUID_FEATURES, 0).ebx & HVMETAL_FEAT_APICV ? "(APIC virtualization)" :
									   "(exits to hvmetal)";
}

/* name, then the way in parentheses. */
static const char *with_way(char *buf, unsigned size, const char *name)
{
	log_snprintf(buf, size, "%s %s", name, way());
	return buf;
}

/* Cost of the measured loop over the base loop; extra: guest instructions the measured one runs more. */
static void report_diff(const char *name, uint64_t measured, uint64_t base, int64_t extra)
{
	if (!measured || !base) {
		log_printf("bench: %s: not measured (an exit went wrong)\n", name);
		return;
	}
	report(name, measured - base - (uint64_t)extra, "instructions");
}

static bool setup(void)
{
	static const uint8_t isr[] = { 0x0f, 0x30, 0xcf };	/* wrmsr (EOI: ECX, EAX, EDX preset); iret */
	uint16_t ivt[2] = { ISR, 0 };

	if (hv_vm_create(HV_VM_ACCEL_APIC) != HV_SUCCESS ||
	    hv_vm_allocate((void **)&gmem, 0x10000, HV_ALLOCATE_DEFAULT) != HV_SUCCESS ||
	    hv_vm_map(gmem, 0, 0x10000, HV_MEMORY_READ | HV_MEMORY_WRITE | HV_MEMORY_EXEC) != HV_SUCCESS ||
	    hv_vcpu_create(&vcpu, HV_VCPU_DEFAULT) != HV_SUCCESS)
		return false;
	memset(gmem, 0, 0x10000);
	memcpy(gmem + ISR, isr, sizeof(isr));
	memcpy(gmem + 4 * VECTOR, ivt, sizeof(ivt));
	hv_vmx_vcpu_write_vmcs(vcpu, VMCS_CTRL_PIN_BASED, cap2ctrl(HV_VMX_CAP_PINBASED, 0));
	hv_vmx_vcpu_write_vmcs(vcpu, VMCS_CTRL_CPU_BASED, cap2ctrl(HV_VMX_CAP_PROCBASED, CPU_BASED_HLT));
	hv_vmx_vcpu_write_vmcs(vcpu, VMCS_CTRL_CPU_BASED2, cap2ctrl(HV_VMX_CAP_PROCBASED2, CPU_BASED2_VIRTUAL_APIC));
	hv_vmx_vcpu_write_vmcs(vcpu, VMCS_CTRL_VMENTRY_CONTROLS, cap2ctrl(HV_VMX_CAP_ENTRY, 0));
	hv_vmx_vcpu_write_vmcs(vcpu, VMCS_GUEST_CS, 0);
	hv_vmx_vcpu_write_vmcs(vcpu, VMCS_GUEST_CS_BASE, 0);
	hv_vmx_vcpu_write_vmcs(vcpu, VMCS_GUEST_IDTR_LIMIT, 0x3ff);
	hv_vcpu_write_register(vcpu, HV_X86_RSP, 0xff0);
	hv_vcpu_write_register(vcpu, HV_X86_RFLAGS, 0x202);	/* interrupts on */
	return hv_vmx_vcpu_set_apic_address(vcpu, APIC_PAGE) == HV_SUCCESS;
}

/* The VM-wide calls, from the control domain to its return, libhv included. */
static void bench_calls(void)
{
	uint64_t t0, best_msi = UINT64_MAX, best_intr = UINT64_MAX;

	for (int t = 0; t < TRIES; t++) {
		t0 = tsc();
		for (int i = 0; i < ITERS; i++)
			hv_vm_lapic_msi(0xfee00000, 0x41);
		best_msi = min_u64(best_msi, tsc() - t0 - tsc_overhead);
		t0 = tsc();
		for (int i = 0; i < ITERS; i++)
			hv_vm_lapic_set_intr(vcpu, 0x41, HV_APIC_EDGE_TRIGGER);
		best_intr = min_u64(best_intr, tsc() - t0 - tsc_overhead);
	}
	report("hv_vm_lapic_msi (vCPU not running), libhv included", best_msi / ITERS, "instructions");
	report("hv_vm_lapic_set_intr (vCPU not running), libhv included", best_intr / ITERS, "instructions");
}

void bench_apic(void)
{
	static const uint8_t mov_eoi[] = { 0x66, 0xa3, 0xb0, 0x00 };	/* mov [0xb0], eax */
	static const uint8_t wrmsr[] = { 0x0f, 0x30 }, rdmsr[] = { 0x0f, 0x32 }, nops[] = { 0x90, 0x90 };
	uint64_t base, page, lsc, msr, nop, intr, timer, uva = 0;
	char name[160];
	bool nse;

	if (!setup()) {
		log_printf("bench: no HV_VM_ACCEL_APIC VM (or no APIC-access virtualization): APIC not measured\n");
		goto out;
	}
	hv_vcpu_write_register(vcpu, HV_X86_RAX, 0);
	/* An EOI through the xAPIC page: the store to RAM, then to the page (exit, hv_vcpu_apic_write). */
	guest(mov_eoi, sizeof(mov_eoi), 0);
	base = rounds(NOTHING);
	guest(mov_eoi, sizeof(mov_eoi), APIC_PAGE >> 4);
	page = rounds(NOTHING);
	report_diff("APIC EOI through the xAPIC page: exit to the VMM, hv_vcpu_apic_write, resume", page, base, 0);
	/* The same store, cached: hvmetal does it. */
	uva = (uint64_t)(uintptr_t)(gmem + CODE);
	hv_vcpu_apic_lsc_enter_r32(vcpu, false, CODE, sizeof(mov_eoi), 0, HV_X86_RAX, &uva, 1);
	lsc = rounds(NOTHING);
	report_diff("APIC EOI through the xAPIC page: load-store-cache hit in hvmetal", lsc, base, 0);
	hv_vcpu_apic_lsc_invalidate(vcpu);
	/* x2APIC: the EOI MSR (then a TPR read), against two NOPs in its place (one guest instruction more). */
	hv_vcpu_write_msr(vcpu, MSR_APIC_BASE, 0xfee00000 | 0xc00 | 0x100);
	hv_vcpu_apic_write(vcpu, 0xf0, 0x1ff, &nse);
	hv_vcpu_write_register(vcpu, HV_X86_RCX, MSR_EOI);
	hv_vcpu_write_register(vcpu, HV_X86_RDX, 0);
	guest(nops, sizeof(nops), 0);
	nop = rounds(NOTHING);
	guest(wrmsr, sizeof(wrmsr), 0);
	msr = rounds(NOTHING);
	report_diff(with_way(name, sizeof(name), "APIC EOI through the x2APIC MSR (WRMSR)"), msr, nop, -1);
	hv_vcpu_write_register(vcpu, HV_X86_RCX, MSR_TPR);
	guest(rdmsr, sizeof(rdmsr), 0);
	msr = rounds(NOTHING);
	report_diff(with_way(name, sizeof(name), "x2APIC TPR read (RDMSR)"), msr, nop, -1);
	hv_vcpu_write_register(vcpu, HV_X86_RCX, MSR_EOI);
	/* Interrupts: set_intr or a one-shot timer of 1 before each run; the handler is WRMSR (EOI) and IRET. */
	guest(nops, sizeof(nops), 0);
	intr = rounds(SET_INTR);
	report_diff(with_way(name, sizeof(name),
			     "interrupt: hv_vm_lapic_set_intr, delivery at entry, the guest's x2APIC EOI and IRET"),
		    intr, nop, 2);
	hv_vcpu_apic_write(vcpu, 0x3e0, 0xb, &nse);
	hv_vcpu_apic_write(vcpu, 0x320, VECTOR, &nse);
	timer = rounds(TIMER);
	report_diff(with_way(name, sizeof(name), "APIC timer interrupt: count written (hv_vcpu_apic_write), "
			     "expiry, delivery, EOI and IRET"), timer, nop, 2);
	bench_calls();
out:
	if (gmem) {
		hv_vcpu_destroy(vcpu);
		hv_vm_unmap(0, 0x10000);
		hv_vm_deallocate(gmem, 0x10000);
	}
	hv_vm_destroy();
}

/* ---- an IPI between vCPUs on two CPUs (a boot of its own with two CPUs) ---- */

#define SENDER		0x3000
#define STAMP		0x2100		/* the receiver's TSC at its handler */
#define TAKEN		0x2004		/* IPIs the receiver took */
#define SUM		0x2110		/* the sender's sum of handler TSC - send TSC */
#define IPIS		64

/*
 * Real mode. The receiver (vCPU 0, CPU 0): x2APIC on, OUT, idle in HLT; its
 * handler stamps the TSC, counts and EOIs. The sender (vCPU 1, CPU 1): x2APIC
 * on, then IPIS times: TSC, a fixed IPI to APIC ID 0, wait for the count, add
 * the receiver's stamp minus its own to SUM; then OUT.
 */
static const uint8_t receiver[] = {
	0x66, 0xb9, 0x1b, 0x00, 0x00, 0x00,		/* mov ecx, 0x1b */
	0x0f, 0x32, 0x0d, 0x00, 0x0c, 0x0f, 0x30,	/* rdmsr; or ax, 0xc00; wrmsr */
	0x66, 0xb9, 0x0f, 0x08, 0x00, 0x00,		/* mov ecx, 0x80f */
	0x66, 0xb8, 0xff, 0x01, 0x00, 0x00,		/* mov eax, 0x1ff */
	0x66, 0x31, 0xd2, 0x0f, 0x30,			/* xor edx, edx; wrmsr */
	0xe6, 0xe9,					/* out 0xe9, al */
	0xfb, 0xf4, 0xeb, 0xfc,				/* .idle: sti; hlt; jmp .idle */
};
static const uint8_t receiver_isr[] = {
	0x0f, 0x31,					/* rdtsc */
	0x66, 0xa3, STAMP & 0xff, STAMP >> 8,		/* mov [STAMP], eax */
	0x66, 0xff, 0x06, TAKEN & 0xff, TAKEN >> 8,	/* inc dword [TAKEN] */
	0x66, 0xb9, 0x0b, 0x08, 0x00, 0x00,		/* mov ecx, 0x80b */
	0x66, 0x31, 0xc0, 0x66, 0x31, 0xd2, 0x0f, 0x30,	/* xor eax, eax; xor edx, edx; wrmsr */
	0xcf,						/* iret */
};
static const uint8_t sender[] = {
	0x66, 0xb9, 0x1b, 0x00, 0x00, 0x00,		/* mov ecx, 0x1b */
	0x0f, 0x32, 0x0d, 0x00, 0x0c, 0x0f, 0x30,	/* rdmsr; or ax, 0xc00; wrmsr */
	0x66, 0xb9, 0x0f, 0x08, 0x00, 0x00,		/* mov ecx, 0x80f */
	0x66, 0xb8, 0xff, 0x01, 0x00, 0x00,		/* mov eax, 0x1ff */
	0x66, 0x31, 0xd2, 0x0f, 0x30,			/* xor edx, edx; wrmsr */
	0xbe, IPIS, 0x00,				/* mov si, IPIS */
	/* .send: */
	0x66, 0x8b, 0x1e, TAKEN & 0xff, TAKEN >> 8,	/* mov ebx, [TAKEN] */
	0x0f, 0x31, 0x66, 0x89, 0xc7,			/* rdtsc; mov edi, eax */
	0x66, 0xb9, 0x30, 0x08, 0x00, 0x00,		/* mov ecx, 0x830 */
	0x66, 0x31, 0xd2,				/* xor edx, edx */
	0x66, 0xb8, 0x41, 0x00, 0x00, 0x00,		/* mov eax, 0x41 */
	0x0f, 0x30,					/* wrmsr */
	/* .wait: */
	0x66, 0x39, 0x1e, TAKEN & 0xff, TAKEN >> 8,	/* cmp [TAKEN], ebx */
	0x74, 0xf9,					/* je .wait */
	0x66, 0xa1, STAMP & 0xff, STAMP >> 8,		/* mov eax, [STAMP] */
	0x66, 0x29, 0xf8,				/* sub eax, edi */
	0x66, 0x01, 0x06, SUM & 0xff, SUM >> 8,		/* add [SUM], eax */
	0x4e,						/* dec si */
	0x75, 0xcf,					/* jnz .send */
	0xe6, 0xe9, 0xf4,				/* out 0xe9, al; hlt */
};

static hv_vcpuid_t ipi_sender;
static volatile hv_return_t ipi_run;
static volatile int ipi_done;

static VOID EFIAPI ap_sender(VOID *arg)
{
	uint64_t reason = 0;

	(void)arg;
	ipi_run = hvmetal_vmcall(HVMETAL_HC_VCPU_ADOPT, libhv_vm(), ipi_sender, 0, 0);
	while (ipi_run == HV_SUCCESS) {
		ipi_run = hv_vcpu_run(ipi_sender);
		if (ipi_run == HV_SUCCESS)
			hv_vmx_vcpu_read_vmcs(ipi_sender, VMCS_RO_EXIT_REASON, &reason);
		if (reason != VMX_REASON_IRQ)
			break;
	}
	ipi_done = 1;
}

static bool real_mode_at(hv_vcpuid_t c, uint16_t cs)
{
	bool ok = true;

	ok &= hv_vmx_vcpu_write_vmcs(c, VMCS_CTRL_PIN_BASED, cap2ctrl(HV_VMX_CAP_PINBASED, 0)) == HV_SUCCESS;
	ok &= hv_vmx_vcpu_write_vmcs(c, VMCS_CTRL_CPU_BASED, cap2ctrl(HV_VMX_CAP_PROCBASED, CPU_BASED_HLT)) == HV_SUCCESS;
	ok &= hv_vmx_vcpu_write_vmcs(c, VMCS_CTRL_CPU_BASED2, cap2ctrl(HV_VMX_CAP_PROCBASED2, 0)) == HV_SUCCESS;
	ok &= hv_vmx_vcpu_write_vmcs(c, VMCS_CTRL_VMENTRY_CONTROLS, cap2ctrl(HV_VMX_CAP_ENTRY, 0)) == HV_SUCCESS;
	ok &= hv_vmx_vcpu_write_vmcs(c, VMCS_GUEST_CS, cs) == HV_SUCCESS;
	ok &= hv_vmx_vcpu_write_vmcs(c, VMCS_GUEST_CS_BASE, (uint64_t)cs << 4) == HV_SUCCESS;
	ok &= hv_vmx_vcpu_write_vmcs(c, VMCS_GUEST_IDTR_LIMIT, 0x3ff) == HV_SUCCESS;
	ok &= hv_vcpu_write_register(c, HV_X86_RIP, 0) == HV_SUCCESS;
	ok &= hv_vcpu_write_register(c, HV_X86_RFLAGS, 2) == HV_SUCCESS;
	ok &= hv_vcpu_write_register(c, HV_X86_RSP, cs ? 0xe00 : 0xff0) == HV_SUCCESS;
	return ok;
}

void bench_apic_ipi(EFI_MP_SERVICES_PROTOCOL *mp)
{
	uint16_t ivt[2] = { ISR, 0 };
	uint64_t reason = 0, len = 0;
	EFI_EVENT done = NULL;
	uint32_t taken = 0, sum = 0;
	char name[192];
	bool ok;

	if (hv_vm_create(HV_VM_ACCEL_APIC) != HV_SUCCESS ||
	    hv_vm_allocate((void **)&gmem, 0x10000, HV_ALLOCATE_DEFAULT) != HV_SUCCESS ||
	    hv_vm_map(gmem, 0, 0x10000, HV_MEMORY_READ | HV_MEMORY_WRITE | HV_MEMORY_EXEC) != HV_SUCCESS ||
	    hv_vcpu_create(&vcpu, HV_VCPU_DEFAULT) != HV_SUCCESS ||
	    hv_vcpu_create(&ipi_sender, HV_VCPU_DEFAULT) != HV_SUCCESS) {
		log_printf("bench: IPI: no HV_VM_ACCEL_APIC VM with two vCPUs\n");
		goto out;
	}
	memset(gmem, 0, 0x10000);
	memcpy(gmem + CODE, receiver, sizeof(receiver));
	memcpy(gmem + ISR, receiver_isr, sizeof(receiver_isr));
	memcpy(gmem + SENDER, sender, sizeof(sender));
	memcpy(gmem + 4 * 0x41, ivt, sizeof(ivt));
	ok = real_mode_at(vcpu, CODE >> 4) && real_mode_at(ipi_sender, SENDER >> 4);
	/* The receiver's code and handler are at CODE and ISR with CS = 0. */
	ok &= hv_vmx_vcpu_write_vmcs(vcpu, VMCS_GUEST_CS, 0) == HV_SUCCESS &&
	      hv_vmx_vcpu_write_vmcs(vcpu, VMCS_GUEST_CS_BASE, 0) == HV_SUCCESS &&
	      hv_vcpu_write_register(vcpu, HV_X86_RIP, CODE) == HV_SUCCESS;
	ok &= hv_vcpu_run(vcpu) == HV_SUCCESS;
	hv_vmx_vcpu_read_vmcs(vcpu, VMCS_RO_EXIT_REASON, &reason);
	hv_vmx_vcpu_read_vmcs(vcpu, VMCS_RO_VMEXIT_INSTR_LEN, &len);
	hv_vcpu_write_register(vcpu, HV_X86_RIP, reg(HV_X86_RIP) + len);
	if (!ok || reason != VMX_REASON_IO ||
	    EFI_ERROR(uefi_call_wrapper(BS->CreateEvent, 5, 0, 0, NULL, NULL, &done)) ||
	    EFI_ERROR(uefi_call_wrapper(mp->StartupThisAP, 7, mp, ap_sender, 1, done, 0, NULL, NULL))) {
		log_printf("bench: IPI: the guests did not start (reason %lu)\n", reason);
		goto out;
	}
	for (int i = 0; i < 1000 && !ipi_done; i++)
		hv_vcpu_run_until(vcpu, hv_tsc_clock() + 20000000);
	memcpy(&taken, gmem + TAKEN, 4);
	memcpy(&sum, gmem + SUM, 4);
	if (ipi_done && taken == IPIS)
		report(with_way(name, sizeof(name), "IPI between vCPUs on two CPUs (x2APIC ICR write to the handler's "
				"first instruction, receiver idle in HLT), TSC ticks of Bochs's shared clock"),
		       sum / IPIS, "ticks");
	else
		log_printf("bench: IPI: %u of %u taken, sender %s\n", taken, IPIS, ipi_done ? "done" : "stuck");
out:
	log_printf("bench: done\n");
}
