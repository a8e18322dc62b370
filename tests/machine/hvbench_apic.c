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
#include "kernel/log.h"
#include "kernel/string.h"

#define ITERS		64
#define TRIES		8
#define CODE		0x1000
#define ISR		0x1800
#define APIC_PAGE	0x20000		/* outside the guest's memory: DS = 0x2000 reaches it */
#define VECTOR		0x40
#define MSR_APIC_BASE	0x1b
#define MSR_EOI		0x80b

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
	static const uint8_t wrmsr[] = { 0x0f, 0x30 }, nops[] = { 0x90, 0x90 };
	uint64_t base, page, lsc, msr, nop, intr, timer, uva = 0;
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
	/* x2APIC: the EOI MSR in hvmetal, against two NOPs in its place (one guest instruction more). */
	hv_vcpu_write_msr(vcpu, MSR_APIC_BASE, 0xfee00000 | 0xc00 | 0x100);
	hv_vcpu_apic_write(vcpu, 0xf0, 0x1ff, &nse);
	hv_vcpu_write_register(vcpu, HV_X86_RCX, MSR_EOI);
	hv_vcpu_write_register(vcpu, HV_X86_RDX, 0);
	guest(nops, sizeof(nops), 0);
	nop = rounds(NOTHING);
	guest(wrmsr, sizeof(wrmsr), 0);
	msr = rounds(NOTHING);
	report_diff("APIC EOI through the x2APIC MSR: WRMSR exit handled in hvmetal", msr, nop, -1);
	/* Interrupts: set_intr or a one-shot timer of 1 before each run; the handler is WRMSR (EOI) and IRET. */
	guest(nops, sizeof(nops), 0);
	intr = rounds(SET_INTR);
	report_diff("interrupt: hv_vm_lapic_set_intr, injection, the guest's x2APIC EOI and IRET", intr, nop, 2);
	hv_vcpu_apic_write(vcpu, 0x3e0, 0xb, &nse);
	hv_vcpu_apic_write(vcpu, 0x320, VECTOR, &nse);
	timer = rounds(TIMER);
	report_diff("APIC timer interrupt: count written (hv_vcpu_apic_write), expiry, injection, EOI and IRET",
		    timer, nop, 2);
	bench_calls();
out:
	if (gmem) {
		hv_vcpu_destroy(vcpu);
		hv_vm_unmap(0, 0x10000);
		hv_vm_deallocate(gmem, 0x10000);
	}
	hv_vm_destroy();
}
