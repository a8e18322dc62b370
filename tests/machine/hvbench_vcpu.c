/*
 * Exit and vCPU path lengths. Each loop also runs once with NOP in place of
 * VMCALL: the difference is exactly what hvmetal executed (VM exit to VMRESUME),
 * the rest being the control domain's own instructions and the guest's.
 */
#include <efi.h>
#include <efilib.h>
#include <Hypervisor/hv.h>
#include <hvmetal/hvmetal.h>
#include "hvbench.h"
#include "kernel/log.h"
#include "kernel/string.h"
#include "libhv/libhv.h"

#define ITERS	64
#define CODE	0x1000

/* VMCALL, or NOP for the calibration run: the same code either way. */
#define HYPERCALL(insn, rax, rdi, rsi, rdx, rcx, r8, r9)			\
	__asm__ volatile(insn : "+a"(rax), "+D"(rdi), "+S"(rsi), "+d"(rdx), "+c"(rcx), "+r"(r8) \
			 : "r"(r9) : "memory", "cc")

/* Null hypercall: VERSION. */
#define NULL_LOOP(name, insn)							\
static uint64_t name(void)							\
{										\
	uint64_t t0 = tsc();							\
	for (int i = 0; i < ITERS; i++) {					\
		register uint64_t r8 __asm__("r8") = 0, r9 __asm__("r9") = 0;	\
		uint64_t rax = HVMETAL_HC_VERSION, rdi = 0, rsi = 0, rdx = 0, rcx = 0; \
		HYPERCALL(insn, rax, rdi, rsi, rdx, rcx, r8, r9);		\
	}									\
	return tsc() - t0;							\
}
NULL_LOOP(null_vmcall, "vmcall")
NULL_LOOP(null_nop, "nop")

/*
 * The VMM loop libhv makes of "run; read the exit; RIP += length": one VCPU_RUN
 * per exit, which returns reason, length and RIP and takes the new RIP along.
 */
#define EXIT_LOOP(name, insn)							\
static uint64_t name(uint64_t vm, uint64_t vcpu, uint64_t rip)			\
{										\
	uint64_t t0 = tsc();							\
	for (int i = 0; i < ITERS; i++) {					\
		register uint64_t r8 __asm__("r8") = 0, r9 __asm__("r9") = rip; \
		uint64_t rax = HVMETAL_HC_VCPU_RUN, rdi = vm, rsi = vcpu;	\
		uint64_t rdx = HV_DEADLINE_FOREVER;				\
		uint64_t rcx = HVMETAL_RUN_EVERY_EXIT | HVMETAL_RUN_SET_RIP;	\
		HYPERCALL(insn, rax, rdi, rsi, rdx, rcx, r8, r9);		\
		rip = r8 + rdi;							\
	}									\
	return tsc() - t0;							\
}
EXIT_LOOP(exit_vmcall, "vmcall")
EXIT_LOOP(exit_nop, "nop")

static uint64_t cap2ctrl(hv_vmx_capability_t cap, uint64_t want)
{
	uint64_t c = 0;

	hv_vmx_read_capability(cap, &c);
	return (want | (c & 0xffffffff)) & (c >> 32);
}

/* A real-mode guest at CODE looping over one exiting instruction. */
static bool guest_loop(hv_vcpuid_t vcpu, uint8_t *gmem, const uint8_t *insn, unsigned len)
{
	memcpy(gmem + CODE, insn, len);
	gmem[CODE + len] = 0xeb;			/* jmp back to the instruction */
	gmem[CODE + len + 1] = (uint8_t)-(int)(len + 2);
	return hv_vmx_vcpu_write_vmcs(vcpu, VMCS_GUEST_CS, 0) == HV_SUCCESS &&
	       hv_vmx_vcpu_write_vmcs(vcpu, VMCS_GUEST_CS_BASE, 0) == HV_SUCCESS;
}

/* The fastest of TRIES runs of each loop: a firmware timer interrupt landing in one is not counted. */
#define TRIES	8

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static void report_exit(const char *what, uint64_t vm, hv_vcpuid_t vcpu)
{
	uint64_t total = UINT64_MAX, cd = UINT64_MAX;
	char label[96];

	for (int t = 0; t < TRIES; t++) {
		total = min_u64(total, exit_vmcall(vm, vcpu, CODE));
		cd = min_u64(cd, exit_nop(vm, vcpu, CODE));
	}

	/* The guest runs the jmp and its instruction: two per iteration, the first one only one. */
	log_snprintf(label, sizeof(label), "%s: whole round trip", what);
	report(label, (total - tsc_overhead) / ITERS, "instructions");
	log_snprintf(label, sizeof(label), "%s: executed by hvmetal", what);
	report(label, (total - cd - (2 * ITERS - 1)) / ITERS, "instructions");
}

void bench_vcpu(void)
{
	static const uint8_t cpuid[] = { 0x0f, 0xa2 }, out[] = { 0xe6, 0xe9 };
	uint64_t t0, t1, v = 0, vm = libhv_vm(), sum = 0, calls = UINT64_MAX, nops = UINT64_MAX;
	hv_vcpuid_t vcpu;
	uint8_t *gmem = 0;

	for (int t = 0; t < TRIES; t++) {
		calls = min_u64(calls, null_vmcall());
		nops = min_u64(nops, null_nop());
	}
	report("null hypercall: executed by hvmetal", (calls - nops) / ITERS, "instructions");
	if (hv_vm_allocate((void **)&gmem, 0x10000, HV_ALLOCATE_DEFAULT) != HV_SUCCESS ||
	    hv_vm_map(gmem, 0, 0x10000, HV_MEMORY_READ | HV_MEMORY_WRITE | HV_MEMORY_EXEC) != HV_SUCCESS ||
	    hv_vcpu_create(&vcpu, HV_VCPU_DEFAULT) != HV_SUCCESS) {
		log_printf("bench: no vCPU: exits not measured\n");
		return;
	}
	hv_vmx_vcpu_write_vmcs(vcpu, VMCS_CTRL_PIN_BASED, cap2ctrl(HV_VMX_CAP_PINBASED, 0));
	hv_vmx_vcpu_write_vmcs(vcpu, VMCS_CTRL_CPU_BASED, cap2ctrl(HV_VMX_CAP_PROCBASED, 0));
	hv_vmx_vcpu_write_vmcs(vcpu, VMCS_CTRL_CPU_BASED2, cap2ctrl(HV_VMX_CAP_PROCBASED2, 0));
	hv_vmx_vcpu_write_vmcs(vcpu, VMCS_CTRL_VMENTRY_CONTROLS, cap2ctrl(HV_VMX_CAP_ENTRY, 0));
	if (guest_loop(vcpu, gmem, cpuid, sizeof(cpuid)))
		report_exit("guest CPUID exit -> VMM -> resume", vm, vcpu);
	if (guest_loop(vcpu, gmem, out, sizeof(out)))
		report_exit("guest OUT exit -> VMM -> resume", vm, vcpu);
	for (int i = 0; i < ITERS; i++) {
		t0 = tsc();
		hv_vcpu_read_register(vcpu, HV_X86_RBX, &v);
		t1 = tsc();
		sum += t1 - t0 - tsc_overhead;
	}
	report("hv_vcpu_read_register (RBX), libhv included", sum / ITERS, "instructions");
	sum = 0;
	for (int i = 0; i < ITERS; i++) {
		t0 = tsc();
		hv_vmx_vcpu_read_vmcs(vcpu, VMCS_GUEST_RFLAGS, &v);
		t1 = tsc();
		sum += t1 - t0 - tsc_overhead;
	}
	report("hv_vmx_vcpu_read_vmcs (GUEST_RFLAGS), libhv included", sum / ITERS, "instructions");
	hv_vcpu_destroy(vcpu);
	hv_vm_unmap(0, 0x10000);
	hv_vm_deallocate(gmem, 0x10000);
}
