/*
 * Guest 1: a DOS .COM program in real mode, set up the way hvdos runs one: the
 * real-mode megabyte at guest-physical 0, the program at PSP:0100 with
 * CS = DS = ES = SS, every exception exiting and an empty IVT (IDTR limit 0), so
 * that each INT 21h comes out to the VMM, which does the DOS call itself.
 */
#include <string.h>
#include "platform.h"
#include "vmm.h"

#define RAM_SIZE	0x100000	/* the real-mode megabyte */
#define PSP_SEG		0x0070		/* the program's segment: linear 0x700 */
#define COM_OFFSET	0x100		/* a .COM starts after its 256-byte PSP */
#define STRING_MAX	0x1000		/* longest AH=09h string the VMM looks through */

#define CR0_NE		0x20		/* the only CR0 bit a real-mode guest needs */

extern const uint8_t dos_com[], dos_com_end[];	/* guests.asm */

static bool dos_setup(struct guest *g)
{
	const struct vmm_segment code = { PSP_SEG, PSP_SEG * 16, 0xffff, 0x9b };
	const struct vmm_segment data = { PSP_SEG, PSP_SEG * 16, 0xffff, 0x93 };
	const struct vmm_segment ldtr = { 0, 0, 0xffff, 0x82 };
	const struct vmm_segment tr = { 0, 0, 0xffff, 0x8b };
	uint8_t *psp;

	g->ram = vmm_map(g, 0, RAM_SIZE);
	if (!g->ram)
		return false;
	g->ram_size = RAM_SIZE;
	psp = g->ram + PSP_SEG * 16;
	psp[0] = 0xcd;			/* INT 20h at PSP:0, where the program's RET would go */
	psp[1] = 0x20;
	psp[0x81] = '\r';		/* an empty command tail */
	memcpy(psp + COM_OFFSET, dos_com, (size_t)(dos_com_end - dos_com));

	vmm_write_segment(g, SEG_CS, &code);
	vmm_write_segment(g, SEG_DS, &data);
	vmm_write_segment(g, SEG_ES, &data);
	vmm_write_segment(g, SEG_SS, &data);
	vmm_write_segment(g, SEG_FS, &data);
	vmm_write_segment(g, SEG_GS, &data);
	vmm_write_segment(g, SEG_LDTR, &ldtr);
	vmm_write_segment(g, SEG_TR, &tr);
	vmm_write_vmcs(g, VMCS_GUEST_GDTR_BASE, 0);
	vmm_write_vmcs(g, VMCS_GUEST_GDTR_LIMIT, 0);
	vmm_write_vmcs(g, VMCS_GUEST_IDTR_BASE, 0);
	vmm_write_vmcs(g, VMCS_GUEST_IDTR_LIMIT, 0);	/* no IVT: INT n raises #GP */

	/* CR0 = 0x20 and CR4 = 0x2000 (VMXE) on any CPU hvdos has met. */
	vmm_write_vmcs(g, VMCS_GUEST_CR0, vmm_cr0(g, CR0_NE));
	vmm_write_vmcs(g, VMCS_GUEST_CR3, 0);
	vmm_write_vmcs(g, VMCS_GUEST_CR4, vmm_cr4(g, 0));
	vmm_write_vmcs(g, VMCS_GUEST_IA32_EFER, 0);

	vmm_write_vmcs(g, VMCS_CTRL_PIN_BASED, vmm_controls(g, HV_VMX_CAP_PINBASED, 0));
	vmm_write_vmcs(g, VMCS_CTRL_CPU_BASED, vmm_controls(g, HV_VMX_CAP_PROCBASED,
			CPU_BASED_HLT | CPU_BASED_CR8_LOAD | CPU_BASED_CR8_STORE |
			CPU_BASED_SECONDARY_CTLS));
	/* Real mode under VMX needs unrestricted guest, which needs EPT. */
	vmm_write_vmcs(g, VMCS_CTRL_CPU_BASED2, vmm_controls(g, HV_VMX_CAP_PROCBASED2,
			CPU_BASED2_EPT | CPU_BASED2_UNRESTRICTED));
	vmm_write_vmcs(g, VMCS_CTRL_VMENTRY_CONTROLS, vmm_controls(g, HV_VMX_CAP_ENTRY, 0));
	vmm_write_vmcs(g, VMCS_CTRL_EXC_BITMAP, 0xffffffff);

	/* As DOS starts a .COM: IP 0x100, SP at the top of the segment with a 0 word pushed. */
	vmm_write_reg(g, HV_X86_RIP, COM_OFFSET);
	vmm_write_reg(g, HV_X86_RFLAGS, 0x2);
	vmm_write_reg(g, HV_X86_RSP, 0xfffe);
	return !g->failed;
}

/* AH=09h: the string at DS:DX up to its '$'. */
static bool print_dollar_string(struct guest *g)
{
	uint64_t addr = vmm_read_vmcs(g, VMCS_GUEST_DS_BASE);

	addr += vmm_read_reg(g, HV_X86_RDX) & 0xffff;

	for (uint64_t end = addr + STRING_MAX; addr < end && addr < g->ram_size; addr++) {
		if (g->ram[addr] == '$')
			return true;
		vmm_console_putc((char)g->ram[addr]);
	}
	plat_printf("vmm: error: %s: INT 21h AH=09h: no '$' ends the string\n", g->ops->name);
	return false;
}

static enum vmm_next dos_int(struct guest *g, uint8_t vector)
{
	uint64_t rax = vmm_read_reg(g, HV_X86_RAX);
	uint8_t ah = (uint8_t)(rax >> 8), al = (uint8_t)rax;

	if (vector == 0x20) {
		g->ending = "INT 20h";
		return VMM_DONE;
	}
	if (vector != 0x21) {
		plat_printf("vmm: error: %s: INT %xh is not a DOS service\n", g->ops->name, vector);
		return VMM_ABORT;
	}
	switch (ah) {
	case 0x02:			/* write the character in DL; AL = it */
		al = (uint8_t)vmm_read_reg(g, HV_X86_RDX);
		vmm_console_putc((char)al);
		vmm_write_reg(g, HV_X86_RAX, (rax & ~0xffull) | al);
		return VMM_RESUME;
	case 0x09:			/* write the '$'-terminated string at DS:DX; AL = '$' */
		if (!print_dollar_string(g))
			return VMM_ABORT;
		vmm_write_reg(g, HV_X86_RAX, (rax & ~0xffull) | '$');
		return VMM_RESUME;
	case 0x4c:			/* exit with the code in AL */
		plat_printf("vmm: %s: INT 21h AH=4Ch: exit code %u\n", g->ops->name, al);
		g->exit_code = al;
		g->ending = "INT 21h AH=4Ch";
		return VMM_DONE;
	default:
		plat_printf("vmm: error: %s: INT 21h AH=%xh is not emulated\n", g->ops->name, ah);
		return VMM_ABORT;
	}
}

const struct guest_ops guest_dos_ops = {
	.name = "real-mode guest",
	.setup = dos_setup,
	.soft_int = dos_int,
	.ept_fault = NULL,
};
