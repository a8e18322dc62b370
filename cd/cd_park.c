/*
 * Where a CPU whose launch failed waits (issue 9, defect 8).
 * Left in the firmware it would run with full memory access on what the control
 * domain can rewrite (the firmware's code, stack, IDT and page tables): an NMI
 * would run whatever the control domain put behind the firmware's NMI gate. Here
 * it runs only on hvmetal's own page tables, GDT, TSS, IDT and stack, all in the
 * hidden region, with maskable interrupts off and, when VMXON works, in VMX root,
 * where INIT is blocked. An NMI goes through hvmetal's IDT and back to the wait.
 * In VMX root it is a CPU under hvmetal waiting for a start-up IPI, as after INIT:
 * the next one (the firmware resetting its APs, the OS starting them) launches it
 * from the INIT state, which is what VM entry judges afresh.
 */
#include "cd_launch.h"
#include "kernel/cpu.h"
#include "kernel/host.h"
#include "kernel/hvmetal.h"
#include "kernel/log.h"
#include "vmx/vmcs.h"

static __attribute__((noreturn)) void park_halt(struct percpu *cpu, volatile uint64_t *parked)
{
	bool vmx;

	/* hvmetal's own control registers, as on every VM exit. */
	write_cr0(host_state.cr0);
	write_cr4(host_state.cr4);
	vmx = vmx_on(cpu->vmxon_pa) == VMX_OK;
	log_printf("hvmetal: cpu %u: parked in hvmetal's memory, %s\n", cpu->index,
		   vmx ? "in VMX root (INIT blocked) until a start-up IPI starts it from the INIT state" :
			 "VMXON failed (an INIT would reach it)");
	__atomic_add_fetch(parked, 1, __ATOMIC_SEQ_CST);
	if (vmx)
		cd_launch_from_init(cpu);
	cpu_halt_forever();
}

void cd_park(uint32_t cpu_index, volatile uint64_t *parked)
{
	struct percpu *cpu = &hv.cpus[cpu_index];
	struct desc_ptr gdtr = { sizeof(cpu->gdt) - 1, (uintptr_t)cpu->gdt };
	struct desc_ptr idtr = { HOST_IDT_VECTORS * 16 - 1, host_state.idt_base };

	__asm__ volatile("cli" ::: "memory");
	/* An identity map, as the firmware's: this code and stack stay where they are. */
	write_cr3(host_state.cr3);
	__asm__ volatile("lgdt %0\n\t"
			 "lidt %1\n\t"
			 "pushq %2\n\t"
			 "lea 1f(%%rip), %%rax\n\t"
			 "pushq %%rax\n\t"
			 "lretq\n"
			 "1:\tmov %3, %%eax\n\t"
			 "mov %%eax, %%ds\n\t"
			 "mov %%eax, %%es\n\t"
			 "mov %%eax, %%ss\n\t"
			 "xor %%eax, %%eax\n\t"
			 "mov %%eax, %%fs\n\t"
			 "mov %%eax, %%gs\n\t"
			 "mov %4, %%eax\n\t"
			 "ltr %%ax"
			 : : "m"(gdtr), "m"(idtr), "i"(HOST_SEL_CS), "i"(HOST_SEL_DS), "i"(HOST_SEL_TR)
			 : "rax", "memory");
	wrmsr(MSR_IA32_GS_BASE, (uintptr_t)cpu);	/* this_cpu() for hvmetal's NMI handler */
	/* Off the firmware's stack for good. */
	__asm__ volatile("mov %0, %%rsp\n\t"
			 "call *%3"
			 : : "r"(cpu->stack_top), "D"(cpu), "S"(parked), "r"(park_halt) : "memory");
	__builtin_unreachable();
}
