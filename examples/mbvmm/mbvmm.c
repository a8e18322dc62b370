/*
 * mbvmm [-smp N] [-m MIB] [-cpu x2apic|xapic] [-append ARGS] [-initrd ENVFILE] KERNEL
 *
 * Boots a Multiboot v1 kernel the way QEMU's -kernel does, on one VM with
 * Apple's in-kernel APIC (HV_VM_ACCEL_APIC): the kernel and its multiboot
 * information in RAM at GPA 0, ACPI tables for the PM timer, the vCPU in
 * 32-bit protected mode at the entry point with EBX on the information. The
 * guest's exit port ends the run with QEMU's status, (code << 1) | 1.
 */
#include <string.h>
#include "acpi_tables.h"
#include "mb_load.h"
#include "mbvmm.h"

#define DEFAULT_MIB	128
#define APIC_GPA	0xfee00000ull
#define SEL_CODE	0x08
#define SEL_DATA	0x10
#define AR_CODE32	0xc09b
#define AR_DATA32	0xc093
#define CR0_PE		(1ull << 0)
#define CMDLINE_MAX	1024

const char plat_name[] = "mbvmm";

/*
 * MSRs the guest reads and writes itself (Apple's list of native ones: the
 * hypervisor keeps them apart from the control domain's); TSC_AUX only
 * where the CPU has RDTSCP. EFER and PAT are the VMCS's (mb_cpu.c).
 */
static const uint32_t native_msrs[] = {
	0x174, 0x175, 0x176, 0xc0000081, 0xc0000082, 0xc0000083, 0xc0000084,
	0xc0000100, 0xc0000101, 0xc0000102, 0xc0000103,
};

/* ---- vCPU access ---- */

static void say_failed(struct mb_vcpu *c, const char *what, uint32_t which, hv_return_t r)
{
	plat_printf("mbvmm: error: vCPU %u: %s(0x%x) failed: 0x%x\n", c->index, what, (unsigned)which, (unsigned)r);
}

uint64_t mb_vmcs(struct mb_vcpu *c, uint32_t field)
{
	uint64_t v = 0;
	hv_return_t r = hv_vmx_vcpu_read_vmcs(c->id, field, &v);

	if (r != HV_SUCCESS)
		say_failed(c, "hv_vmx_vcpu_read_vmcs", field, r);
	return v;
}

void mb_set_vmcs(struct mb_vcpu *c, uint32_t field, uint64_t value)
{
	hv_return_t r = hv_vmx_vcpu_write_vmcs(c->id, field, value);

	if (r != HV_SUCCESS)
		say_failed(c, "hv_vmx_vcpu_write_vmcs", field, r);
}

uint64_t mb_reg(struct mb_vcpu *c, hv_x86_reg_t reg)
{
	uint64_t v = 0;
	hv_return_t r = hv_vcpu_read_register(c->id, reg, &v);

	if (r != HV_SUCCESS)
		say_failed(c, "hv_vcpu_read_register", reg, r);
	return v;
}

void mb_set_reg(struct mb_vcpu *c, hv_x86_reg_t reg, uint64_t value)
{
	hv_return_t r = hv_vcpu_write_register(c->id, reg, value);

	if (r != HV_SUCCESS)
		say_failed(c, "hv_vcpu_write_register", reg, r);
}

uint64_t mb_apic_base(struct mb_vcpu *c)
{
	uint64_t v = 0;
	hv_return_t r = hv_vcpu_read_msr(c->id, 0x1b, &v);

	if (r != HV_SUCCESS)
		say_failed(c, "hv_vcpu_read_msr", 0x1b, r);
	return v;
}

void mb_skip(struct mb_vcpu *c)
{
	mb_set_reg(c, HV_X86_RIP, mb_reg(c, HV_X86_RIP) + mb_vmcs(c, VMCS_RO_VMEXIT_INSTR_LEN));
}

/* (want | must-be-1) & may-be-1 of a control word. */
static uint64_t control(hv_vmx_capability_t cap, uint64_t want)
{
	uint64_t v = 0;

	hv_vmx_read_capability(cap, &v);
	return (want | (v & 0xffffffff)) & (v >> 32);
}

/* ---- the command line (no libc in a UEFI program: its few string helpers) ---- */

static bool same(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return *a == *b;
}

/* A decimal number; 0 for anything else. */
static unsigned long number(const char *s)
{
	unsigned long n = 0;

	for (; *s >= '0' && *s <= '9' && n < 1000000; s++)
		n = n * 10 + (unsigned long)(*s - '0');
	return *s ? 0 : n;
}

/* Appends s at *len in buf (CMDLINE_MAX bytes), cut short where it does not fit. */
static void append(char *buf, size_t *len, const char *s)
{
	while (*s && *len < CMDLINE_MAX - 1)
		buf[(*len)++] = *s++;
	buf[*len] = 0;
}

struct options {
	const char *kernel, *initrd, *append;
};

static bool parse(int argc, char **argv, struct mb_machine *m, struct options *o)
{
	m->ncpus = 1;
	m->ram_size = (uint64_t)DEFAULT_MIB << 20;
	m->x2apic = true;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (same(a, "-smp") && v) {
			m->ncpus = (unsigned)number(v);
		} else if (same(a, "-m") && v) {
			m->ram_size = (uint64_t)number(v) << 20;
		} else if (same(a, "-cpu") && v && (same(v, "x2apic") || same(v, "xapic"))) {
			m->x2apic = same(v, "x2apic");
		} else if (same(a, "-append") && v) {
			o->append = v;
		} else if (same(a, "-initrd") && v) {
			o->initrd = v;
		} else if (a[0] != '-' && !o->kernel) {
			o->kernel = a;
			continue;
		} else {
			plat_printf("mbvmm: error: unknown or incomplete option '%s'\n", a);
			return false;
		}
		i++;
	}
	if (!o->kernel || m->ncpus < 1 || m->ncpus > MB_VCPUS_MAX || m->ram_size < (2u << 20) ||
	    m->ram_size > (3ull << 30)) {
		plat_printf("mbvmm: usage: mbvmm [-smp 1..%u] [-m 2..3072] [-cpu x2apic|xapic] [-append ARGS] "
			    "[-initrd ENVFILE] KERNEL\n", MB_VCPUS_MAX);
		return false;
	}
	return true;
}

/* "NAME ARGS": argv[0] is the kernel's file name, as QEMU gives it. */
static void command_line(char *buf, const struct options *o)
{
	const char *name = o->kernel, *s;
	size_t len = 0;

	for (s = o->kernel; *s; s++)
		if (*s == '/' || *s == '\\')
			name = s + 1;
	buf[0] = 0;
	append(buf, &len, name);
	if (o->append) {
		append(buf, &len, " ");
		append(buf, &len, o->append);
	}
}

/* ---- the machine ---- */

static void uart_out(void *ctx, char c)
{
	static char line[160];
	static unsigned len;

	(void)ctx;
	if (c != '\n' && c != '\r' && len < sizeof(line) - 1) {
		line[len++] = c;
		return;
	}
	if (c == '\r')
		return;
	line[len] = 0;
	plat_printf("%s\n", line);
	len = 0;
}

static bool load(struct mb_machine *m, const struct options *o)
{
	uint8_t *kernel = NULL, *env = NULL;
	size_t ksize = 0, esize = 0;
	struct mb_image img;
	char cmdline[CMDLINE_MAX];
	const char *why;

	if (!plat_read_file(o->kernel, &kernel, &ksize)) {
		plat_printf("mbvmm: error: cannot read the kernel '%s'\n", o->kernel);
		return false;
	}
	if (o->initrd && !plat_read_file(o->initrd, &env, &esize)) {
		plat_printf("mbvmm: error: cannot read the environment file '%s'\n", o->initrd);
		return false;
	}
	command_line(cmdline, o);
	why = mb_load(kernel, ksize, m->ram, m->ram_size, &img);
	if (!why)
		why = mb_info(m->ram, m->ram_size, &img, cmdline, env ? env : (const uint8_t *)"", esize,
			      o->initrd ? o->initrd : "");
	if (!why && acpi_tables_build(m->ram, m->ram_size))
		why = "no room for the ACPI tables";
	if (why) {
		plat_printf("mbvmm: error: %s: %s\n", o->kernel, why);
		return false;
	}
	plat_printf("mbvmm: %s: loaded up to 0x%x, entry 0x%x, command line '%s'\n", o->kernel, img.end,
		    img.entry, cmdline);
	m->entry = img.entry;
	return true;
}

void mb_segment(struct mb_vcpu *c, unsigned seg, uint16_t sel, uint64_t base, uint32_t limit, uint32_t ar)
{
	mb_set_vmcs(c, VMCS_GUEST_ES + 2 * seg, sel);
	mb_set_vmcs(c, VMCS_GUEST_ES_LIMIT + 2 * seg, limit);
	mb_set_vmcs(c, VMCS_GUEST_ES_AR + 2 * seg, ar);
	mb_set_vmcs(c, VMCS_GUEST_ES_BASE + 2 * seg, base);
}

/* Controls, masks and native MSRs of every vCPU. */
static void vcpu_controls(struct mb_vcpu *c)
{
	mb_set_vmcs(c, VMCS_CTRL_PIN_BASED, control(HV_VMX_CAP_PINBASED, 0));
	mb_set_vmcs(c, VMCS_CTRL_CPU_BASED, control(HV_VMX_CAP_PROCBASED,
		    CPU_BASED_HLT | CPU_BASED_CR8_LOAD | CPU_BASED_CR8_STORE | CPU_BASED_SECONDARY_CTLS |
		    CPU_BASED_TSC_OFFSET));
	mb_set_vmcs(c, VMCS_CTRL_CPU_BASED2, control(HV_VMX_CAP_PROCBASED2,
		    CPU_BASED2_EPT | CPU_BASED2_UNRESTRICTED | CPU_BASED2_VIRTUAL_APIC | CPU_BASED2_RDTSCP));
	mb_set_vmcs(c, VMCS_CTRL_VMENTRY_CONTROLS, control(HV_VMX_CAP_ENTRY, 0));
	mb_set_vmcs(c, VMCS_CTRL_EXC_BITMAP, 0);
	/* The guest owns CR0 and CR4 but NE and VMXE, which VMX fixes: it sees its own there. */
	mb_set_vmcs(c, VMCS_CTRL_CR0_MASK, CR0_NE);
	mb_set_vmcs(c, VMCS_CTRL_CR4_MASK, CR4_VMXE);
	hv_vmx_vcpu_set_apic_address(c->id, APIC_GPA);
	hv_vcpu_set_msr_access(c->id, 0x10, HV_MSR_READ);	/* TSC: reads native, writes emulated */
	hv_vcpu_set_msr_access(c->id, 0x1b, HV_MSR_READ);	/* APIC base: writes are the VMM's (mb_cpu.c) */
	c->misc_enable = 0x1801;				/* fast strings; no BTS, no PEBS */
	for (unsigned i = 0; i < sizeof(native_msrs) / sizeof(native_msrs[0]); i++)
		if (hv_vcpu_enable_native_msr(c->id, native_msrs[i], true) != HV_SUCCESS)
			plat_printf("mbvmm: MSR 0x%x cannot be native: its accesses raise #GP\n", native_msrs[i]);
}

/* The Multiboot entry state: flat 32-bit protected mode, paging off, IF = 0. */
static void bsp_state(struct mb_vcpu *c, uint32_t entry)
{
	for (unsigned s = 0; s < 6; s++)
		mb_segment(c, s, s == 1 ? SEL_CODE : SEL_DATA, 0, 0xffffffff, s == 1 ? AR_CODE32 : AR_DATA32);
	mb_segment(c, 6, 0, 0, 0, AR_UNUSABLE);
	mb_segment(c, 7, 0, 0, 0x67, AR_TSS_BUSY);
	mb_set_vmcs(c, VMCS_GUEST_GDTR_BASE, 0);
	mb_set_vmcs(c, VMCS_GUEST_GDTR_LIMIT, 0xffff);
	mb_set_vmcs(c, VMCS_GUEST_IDTR_BASE, 0);
	mb_set_vmcs(c, VMCS_GUEST_IDTR_LIMIT, 0xffff);
	mb_set_vmcs(c, VMCS_CTRL_CR0_SHADOW, CR0_PE | CR0_ET);
	mb_set_vmcs(c, VMCS_GUEST_CR0, CR0_PE | CR0_ET | CR0_NE);
	mb_set_vmcs(c, VMCS_CTRL_CR4_SHADOW, 0);
	mb_set_vmcs(c, VMCS_GUEST_CR4, CR4_VMXE);
	mb_set_vmcs(c, VMCS_GUEST_CR3, 0);
	mb_set_vmcs(c, VMCS_GUEST_IA32_EFER, 0);
	mb_set_reg(c, HV_X86_RFLAGS, 2);
	mb_set_reg(c, HV_X86_RIP, entry);
	mb_set_reg(c, HV_X86_RAX, MB_BOOT_MAGIC);
	mb_set_reg(c, HV_X86_RBX, MB_INFO_GPA);
}

/* vCPU i (APIC ID i) as it powers on: the BSP at the kernel's entry, an AP waiting for its SIPI. */
void mb_vcpu_setup(struct mb_machine *m, struct mb_vcpu *c)
{
	vcpu_controls(c);
	if (c->index == 0) {
		bsp_state(c, m->entry);
		c->state = MB_VCPU_RUN;
	}
}

int plat_main(int argc, char **argv)
{
	static struct mb_machine m;
	struct options o = { 0 };
	enum mb_next how = MB_ABORT;
	void *ram = NULL;

	if (!parse(argc, argv, &m, &o))
		return 2;
	if (hv_vm_create(HV_VM_ACCEL_APIC) != HV_SUCCESS) {
		plat_printf("mbvmm: error: hv_vm_create(HV_VM_ACCEL_APIC) failed\n");
		return 2;
	}
	if (hv_vm_allocate(&ram, m.ram_size, HV_ALLOCATE_DEFAULT) != HV_SUCCESS ||
	    hv_vm_map(ram, 0, m.ram_size, HV_MEMORY_READ | HV_MEMORY_WRITE | HV_MEMORY_EXEC) != HV_SUCCESS) {
		plat_printf("mbvmm: error: %u MiB of guest RAM could not be allocated and mapped\n",
			    (unsigned)(m.ram_size >> 20));
		goto out;
	}
	m.ram = ram;
	memset(m.ram, 0, m.ram_size);
	uart_init(&m.uart, uart_out, NULL);
	fw_cfg_init(&m.fw_cfg, (uint16_t)m.ncpus);
	if (!load(&m, &o))
		goto out;
	m.pm_timer_base = plat_clock();
	how = mb_run(&m);
out:
	if (ram) {
		hv_vm_unmap(0, m.ram_size);
		hv_vm_deallocate(ram, m.ram_size);
	}
	hv_vm_destroy();
	if (how == MB_ABORT)
		return 2;
	plat_printf("mbvmm: the guest %s: status %d\n", m.exited ? "wrote the exit port" : "stopped",
		    m.exited ? m.exit_status : 0);
	return m.exited ? m.exit_status : 0;
}
