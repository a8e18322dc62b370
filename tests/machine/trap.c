#include <stdint.h>
#include "kernel/string.h"
#include "trap.h"

extern char trap_handler_ud[], trap_handler_gp[], trap_handler_pf[], trap_handler_nmi[];

struct __attribute__((packed)) idtr {
	uint16_t limit;
	uint64_t base;
};

static uint64_t trap_idt[256 * 2] __attribute__((aligned(16)));
static struct idtr firmware_idtr;

static void set_gate(unsigned v, void *handler, uint16_t cs)
{
	uint64_t h = (uintptr_t)handler;

	trap_idt[v * 2] = (h & 0xffff) | ((uint64_t)cs << 16) | (0x8eull << 40) |
			  ((h >> 16 & 0xffff) << 48);
	trap_idt[v * 2 + 1] = h >> 32;
}

void trap_install(void)
{
	struct idtr mine = { sizeof(trap_idt) - 1, (uintptr_t)trap_idt };
	uint16_t cs;
	size_t n;

	__asm__ volatile("sidt %0; mov %%cs, %1" : "=m"(firmware_idtr), "=r"(cs));
	n = (size_t)firmware_idtr.limit + 1;
	memcpy(trap_idt, (void *)firmware_idtr.base, n < sizeof(trap_idt) ? n : sizeof(trap_idt));
	set_gate(6, trap_handler_ud, cs);
	set_gate(13, trap_handler_gp, cs);
	set_gate(14, trap_handler_pf, cs);
	set_gate(2, trap_handler_nmi, cs);
	__asm__ volatile("lidt %0" : : "m"(mine));
}

void trap_remove(void)
{
	__asm__ volatile("lidt %0" : : "m"(firmware_idtr));
}
