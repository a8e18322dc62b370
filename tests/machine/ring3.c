#include "kernel/string.h"
#include "ring3.h"

#define PTE_P	1ull
#define PTE_W	2ull
#define PTE_U	4ull
#define PTE_PS	0x80ull

struct __attribute__((packed)) dtr {
	uint16_t limit;
	uint64_t base;
	uint8_t pad[6];
};

/* Read by ring3.asm at fixed offsets. */
struct ring3_env {
	struct dtr gdtr;	/* 0 */
	struct dtr idtr;	/* 16 */
	uint64_t cr3;		/* 32 */
	uint64_t user_stack;	/* 40 */
};

_Static_assert(sizeof(struct dtr) == 16, "ring3.asm offsets");

struct __attribute__((packed)) tss64 {
	uint32_t reserved0;
	uint64_t rsp[3];
	uint64_t ist[8];
	uint64_t reserved1;
	uint16_t reserved2, iomap;
};

extern uint64_t ring3_vmcall_asm(uint64_t nr, uint64_t a0, uint64_t a1, struct ring3_env *env);
extern char ring3_int80[];

static uint64_t pml4[512] __attribute__((aligned(4096)));
static uint64_t pdpt[512] __attribute__((aligned(4096)));
static uint64_t pd[4][512] __attribute__((aligned(4096)));
static uint64_t gdt[8];
static uint64_t idt[512] __attribute__((aligned(16)));
static struct tss64 tss;
static uint8_t kernel_stack[8192] __attribute__((aligned(16)));
static uint8_t user_stack[8192] __attribute__((aligned(16)));

uint64_t ring3_vmcall(uint64_t nr, uint64_t a0, uint64_t a1)
{
	struct ring3_env env;
	struct dtr fw_idt;
	uint64_t tss_base = (uintptr_t)&tss, h = (uintptr_t)ring3_int80, flags, ret;

	/* The first 4 GiB, identity-mapped and user-accessible: code, data and stacks live there. */
	pml4[0] = (uintptr_t)pdpt | PTE_P | PTE_W | PTE_U;
	for (unsigned g = 0; g < 4; g++) {
		pdpt[g] = (uintptr_t)pd[g] | PTE_P | PTE_W | PTE_U;
		for (unsigned i = 0; i < 512; i++)
			pd[g][i] = (((uint64_t)g << 30) + ((uint64_t)i << 21)) | PTE_P | PTE_W | PTE_U | PTE_PS;
	}
	gdt[1] = 0x00af9b000000ffffull;		/* kernel code */
	gdt[2] = 0x00cf93000000ffffull;		/* kernel data */
	gdt[3] = 0x00cff3000000ffffull;		/* user data, DPL 3 */
	gdt[4] = 0x00affb000000ffffull;		/* user code, DPL 3 */
	gdt[5] = (sizeof(tss) - 1) | ((tss_base & 0xffffff) << 16) | (0x89ull << 40) |
		 ((tss_base >> 24 & 0xff) << 56);
	gdt[6] = tss_base >> 32;
	memset(&tss, 0, sizeof(tss));
	tss.rsp[0] = (uintptr_t)kernel_stack + sizeof(kernel_stack);
	tss.iomap = sizeof(tss);
	/* The firmware's IDT, plus an INT 0x80 gate user mode may use to come back. */
	__asm__ volatile("sidt %0" : "=m"(fw_idt));
	memcpy(idt, (void *)fw_idt.base, (size_t)fw_idt.limit + 1 < sizeof(idt) ?
	       (size_t)fw_idt.limit + 1 : sizeof(idt));
	idt[0x80 * 2] = (h & 0xffff) | (0x08ull << 16) | (0xeeull << 40) | ((h >> 16 & 0xffff) << 48);
	idt[0x80 * 2 + 1] = h >> 32;
	env = (struct ring3_env){
		.gdtr = { sizeof(gdt) - 1, (uintptr_t)gdt, { 0 } },
		.idtr = { sizeof(idt) - 1, (uintptr_t)idt, { 0 } },
		.cr3 = (uintptr_t)pml4,
		.user_stack = (uintptr_t)user_stack + sizeof(user_stack),
	};
	__asm__ volatile("pushfq; pop %0; cli" : "=r"(flags) : : "memory");
	ret = ring3_vmcall_asm(nr, a0, a1, &env);
	__asm__ volatile("push %0; popfq" : : "r"(flags) : "memory", "cc");
	return ret;
}
