/*
 * Guest 2: 64-bit code started directly in long mode. The VMM builds what a boot
 * loader would have: page tables (an identity map of the first 4 GiB in 2 MiB
 * pages), a GDT with a 64-bit code segment and a TSS, and the CPU state VM entry
 * checks for an IA-32e mode guest. Only the first 2 MiB have memory behind them;
 * the guest's read of guest-physical 0x40000000 is an EPT violation, which the
 * VMM resolves by mapping a page there.
 */
#include <string.h>
#include "platform.h"
#include "vmm.h"

/* Guest-physical layout (all inside the 2 MiB of RAM at 0). */
#define RAM_SIZE	0x200000
#define PML4_GPA	0x1000
#define PDPT_GPA	0x2000
#define PD_GPA		0x3000		/* four page directories: 0x3000-0x6fff */
#define PDS		4
#define GDT_GPA		0x7000
#define TSS_GPA		0x7100
#define CODE_GPA	0x8000
#define STACK_TOP	0x80000
#define ON_DEMAND_GPA	0x40000000	/* no memory until the guest touches it */
#define PAGE		0x1000

#define PTE_P		(1ull << 0)
#define PTE_W		(1ull << 1)
#define PTE_PS		(1ull << 7)	/* a 2 MiB page in a page directory */

#define CR0_PE		(1ull << 0)
#define CR0_MP		(1ull << 1)
#define CR0_ET		(1ull << 4)
#define CR0_NE		(1ull << 5)
#define CR0_WP		(1ull << 16)
#define CR0_PG		(1ull << 31)
#define CR4_PAE		(1ull << 5)
#define EFER_LME	(1ull << 8)
#define EFER_LMA	(1ull << 10)

/* GDT selectors. */
#define SEL_CODE	0x08
#define SEL_DATA	0x10
#define SEL_TSS		0x18		/* 16 bytes: a system descriptor in long mode */
#define GDT_LIMIT	(5 * 8 - 1)
#define TSS_LIMIT	0x67		/* a 64-bit TSS is 104 bytes */

/* VMCS access rights: type | S << 4 | P << 7 | L << 13 | D/B << 14 | G << 15. */
#define AR_CODE64	0xa09b		/* execute/read, accessed; L = 1 */
#define AR_DATA		0xc093		/* read/write, accessed; 32-bit, 4 KiB granularity */
#define AR_TSS_BUSY	0x008b		/* busy 64-bit TSS */
#define AR_UNUSABLE	0x10000

extern const uint8_t long64[], long64_end[];	/* guests.asm */

static void build_page_tables(uint8_t *ram)
{
	uint64_t *pml4 = (uint64_t *)(ram + PML4_GPA);
	uint64_t *pdpt = (uint64_t *)(ram + PDPT_GPA);
	uint64_t *pd = (uint64_t *)(ram + PD_GPA);

	pml4[0] = PDPT_GPA | PTE_P | PTE_W;
	for (unsigned i = 0; i < PDS; i++)
		pdpt[i] = (PD_GPA + i * PAGE) | PTE_P | PTE_W;
	for (unsigned i = 0; i < PDS * 512; i++)
		pd[i] = ((uint64_t)i << 21) | PTE_P | PTE_W | PTE_PS;
}

static void build_gdt(uint8_t *ram)
{
	uint64_t *gdt = (uint64_t *)(ram + GDT_GPA);
	uint64_t tss = TSS_GPA;

	gdt[0] = 0;
	gdt[1] = 0x00af9b000000ffffull;	/* SEL_CODE: 64-bit code, DPL 0 */
	gdt[2] = 0x00cf93000000ffffull;	/* SEL_DATA: flat data */
	gdt[3] = TSS_LIMIT | (tss & 0xffffff) << 16 | 0x8bull << 40 | (tss >> 24 & 0xff) << 56;
	gdt[4] = tss >> 32;
}

static bool long_setup(struct guest *g)
{
	const struct vmm_segment code = { SEL_CODE, 0, 0xffffffff, AR_CODE64 };
	const struct vmm_segment data = { SEL_DATA, 0, 0xffffffff, AR_DATA };
	const struct vmm_segment ldtr = { 0, 0, 0, AR_UNUSABLE };
	const struct vmm_segment tr = { SEL_TSS, TSS_GPA, TSS_LIMIT, AR_TSS_BUSY };

	g->ram = vmm_map(g, 0, RAM_SIZE);
	if (!g->ram)
		return false;
	g->ram_size = RAM_SIZE;
	build_page_tables(g->ram);
	build_gdt(g->ram);
	memcpy(g->ram + CODE_GPA, long64, (size_t)(long64_end - long64));

	vmm_write_segment(g, SEG_CS, &code);
	vmm_write_segment(g, SEG_DS, &data);
	vmm_write_segment(g, SEG_ES, &data);
	vmm_write_segment(g, SEG_SS, &data);
	vmm_write_segment(g, SEG_FS, &data);
	vmm_write_segment(g, SEG_GS, &data);
	vmm_write_segment(g, SEG_LDTR, &ldtr);
	vmm_write_segment(g, SEG_TR, &tr);
	vmm_write_vmcs(g, VMCS_GUEST_GDTR_BASE, GDT_GPA);
	vmm_write_vmcs(g, VMCS_GUEST_GDTR_LIMIT, GDT_LIMIT);
	vmm_write_vmcs(g, VMCS_GUEST_IDTR_BASE, 0);	/* no IDT: an exception is a triple fault */
	vmm_write_vmcs(g, VMCS_GUEST_IDTR_LIMIT, 0);

	/* Paging on with PAE page tables and EFER.LME/LMA: long mode. CR4 keeps VMXE (fixed). */
	vmm_write_vmcs(g, VMCS_GUEST_CR0,
		       vmm_cr0(g, CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_PG));
	vmm_write_vmcs(g, VMCS_GUEST_CR3, PML4_GPA);
	vmm_write_vmcs(g, VMCS_GUEST_CR4, vmm_cr4(g, CR4_PAE));
	vmm_write_vmcs(g, VMCS_GUEST_IA32_EFER, EFER_LME | EFER_LMA);

	vmm_write_vmcs(g, VMCS_CTRL_PIN_BASED, vmm_controls(g, HV_VMX_CAP_PINBASED, 0));
	vmm_write_vmcs(g, VMCS_CTRL_CPU_BASED, vmm_controls(g, HV_VMX_CAP_PROCBASED,
			CPU_BASED_HLT | CPU_BASED_CR8_LOAD | CPU_BASED_CR8_STORE |
			CPU_BASED_SECONDARY_CTLS));
	vmm_write_vmcs(g, VMCS_CTRL_CPU_BASED2,
		       vmm_controls(g, HV_VMX_CAP_PROCBASED2, CPU_BASED2_EPT));
	/* "IA-32e mode guest" must match EFER.LMA; the guest's EFER comes from the VMCS. */
	vmm_write_vmcs(g, VMCS_CTRL_VMENTRY_CONTROLS, vmm_controls(g, HV_VMX_CAP_ENTRY,
			VMENTRY_GUEST_IA32E | VMENTRY_LOAD_EFER));
	vmm_write_vmcs(g, VMCS_CTRL_EXC_BITMAP, 0);	/* exceptions are the guest's */

	vmm_write_reg(g, HV_X86_RIP, CODE_GPA);
	vmm_write_reg(g, HV_X86_RFLAGS, 0x2);
	vmm_write_reg(g, HV_X86_RSP, STACK_TOP);
	return !g->failed;
}

/* The page at ON_DEMAND_GPA comes into being when the guest first touches it. */
static bool long_ept_fault(struct guest *g, uint64_t gpa, uint64_t qualification)
{
	static const char text[] = "This line is in a page the VMM mapped at GPA 0x40000000 "
				   "after the EPT violation\n";
	uint8_t *page;

	(void)qualification;
	if ((gpa & ~(uint64_t)(PAGE - 1)) != ON_DEMAND_GPA)
		return false;
	page = vmm_map(g, ON_DEMAND_GPA, PAGE);
	if (!page)
		return false;
	memcpy(page, text, sizeof(text));
	plat_printf("vmm: %s: mapped a page at GPA 0x%llx (hv_vm_map) with a line of text in it; "
		    "the read runs again\n", g->ops->name, (unsigned long long)ON_DEMAND_GPA);
	return true;
}

const struct guest_ops guest_long_ops = {
	.name = "long-mode guest",
	.setup = long_setup,
	.soft_int = NULL,
	.ept_fault = long_ept_fault,
};
