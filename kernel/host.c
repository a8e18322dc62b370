#include "cpu.h"
#include "host.h"
#include "string.h"

#define PTE_P		(1ull << 0)
#define PTE_W		(1ull << 1)
#define PTE_PS		(1ull << 7)
#define TWO_MB		(2ull << 20)
#define ONE_GB		(1ull << 30)

#define IST_NMI		1
#define IST_DF		2
#define IST_MC		3

struct pool host_pool;
struct host_state host_state;

/* Exception entry points, one per vector 0..31, from host_idt.asm. */
extern const uint64_t host_exception_stubs[32];

/* Identity-maps [0, top) with 2 MiB pages: hvmetal reaches its pool and the
 * control domain's RAM at their physical addresses. */
static uint64_t build_page_tables(uint64_t top)
{
	uint64_t *pml4 = pool_alloc_page(&host_pool);

	if (!pml4)
		return 0;
	for (uint64_t gb = 0; gb < top / ONE_GB; gb++) {
		uint64_t *pdpt, *pd;
		unsigned i4 = gb / 512, i3 = gb % 512;

		if (!(pml4[i4] & PTE_P)) {
			if (!(pdpt = pool_alloc_page(&host_pool)))
				return 0;
			pml4[i4] = (uintptr_t)pdpt | PTE_P | PTE_W;
		}
		pdpt = (uint64_t *)(pml4[i4] & ~0xfffull);
		if (!(pd = pool_alloc_page(&host_pool)))
			return 0;
		pdpt[i3] = (uintptr_t)pd | PTE_P | PTE_W;
		for (unsigned i2 = 0; i2 < 512; i2++)
			pd[i2] = (gb * ONE_GB + i2 * TWO_MB) | PTE_P | PTE_W | PTE_PS;
	}
	return (uintptr_t)pml4;
}

static uint64_t build_idt(void)
{
	uint64_t *idt = pool_alloc_pages(&host_pool, HOST_IDT_VECTORS * 16 / PAGE_SIZE);

	if (!idt)
		return 0;
	for (unsigned v = 0; v < 32; v++) {
		uint64_t h = host_exception_stubs[v];
		uint64_t ist = v == 2 ? IST_NMI : v == 8 ? IST_DF : v == 18 ? IST_MC : 0;

		/* 64-bit interrupt gate, DPL 0, present. */
		idt[v * 2] = (h & 0xffff) | ((uint64_t)HOST_SEL_CS << 16) | (ist << 32) |
			     (0x8eull << 40) | ((h >> 16 & 0xffff) << 48);
		idt[v * 2 + 1] = h >> 32;
	}
	return (uintptr_t)idt;
}

int host_setup(const struct boot_info *bi)
{
	uint64_t top = memmap_ram_top(&bi->memmap);

	top = top < 4 * ONE_GB ? 4 * ONE_GB : (top + ONE_GB - 1) & ~(ONE_GB - 1);
	host_state.cr3 = build_page_tables(top);
	host_state.idt_base = build_idt();
	if (!host_state.cr3 || !host_state.idt_base)
		return -1;
	host_state.cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_PG;
	host_state.cr4 = CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT | CR4_VMXE;
	/* XSETBV is emulated by executing it in VMX root, which needs OSXSAVE there. */
	if (cpuid(1, 0).ecx & (1u << 26))
		host_state.cr4 |= CR4_OSXSAVE;
	host_state.efer = EFER_LME | EFER_LMA;
	host_state.pat = 0x0007040600070406ull;	/* the reset value */
	return 0;
}

static uint64_t stack_top(size_t pages)
{
	uint8_t *s = pool_alloc_pages(&host_pool, pages);

	return s ? (uintptr_t)s + pages * PAGE_SIZE : 0;
}

int host_cpu_setup(struct percpu *cpu)
{
	uint64_t tss = (uintptr_t)&cpu->tss;

	cpu->self = cpu;
	cpu->gdt[0] = 0;
	cpu->gdt[1] = 0x00af9b000000ffffull;	/* code: 64-bit, DPL 0 */
	cpu->gdt[2] = 0x00cf93000000ffffull;	/* data */
	/* 64-bit available TSS; the CPU takes TR from the VMCS, busy or not. */
	cpu->gdt[3] = (sizeof(cpu->tss) - 1) | ((tss & 0xffffff) << 16) | (0x89ull << 40) |
		      ((tss >> 24 & 0xff) << 56);
	cpu->gdt[4] = tss >> 32;
	memset(&cpu->tss, 0, sizeof(cpu->tss));
	cpu->tss.iomap_base = sizeof(cpu->tss);
	cpu->tss.ist[IST_NMI] = stack_top(HOST_IST_PAGES);
	cpu->tss.ist[IST_DF] = stack_top(HOST_IST_PAGES);
	cpu->tss.ist[IST_MC] = stack_top(HOST_IST_PAGES);
	cpu->stack_top = stack_top(HOST_STACK_PAGES);
	if (!cpu->tss.ist[IST_NMI] || !cpu->tss.ist[IST_DF] || !cpu->tss.ist[IST_MC] ||
	    !cpu->stack_top)
		return -1;
	return 0;
}
