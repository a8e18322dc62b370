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
#define EXIT_BASIC(r)	((r) & 0xffff)
#define EXIT_FAILED	(1u << 31)
#define VECTORING_VALID	(1u << 31)
#define VECTORING_ERR	(1u << 11)
#define CMDLINE_MAX	1024
#define TURN_US		200		/* a vCPU's turn when several share this CPU */

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
static void vcpu_controls(const struct mb_machine *m, struct mb_vcpu *c)
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
	if (!m->x2apic)		/* x2APIC's EXTD is #GP where CPUID has no x2APIC: the write is the VMM's */
		hv_vcpu_set_msr_access(c->id, 0x1b, HV_MSR_READ);
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

/* ---- the run loop ---- */

static enum mb_next handle(struct mb_machine *m, struct mb_vcpu *c, uint32_t basic)
{
	switch (basic) {
	case VMX_REASON_IRQ:
		return MB_RESUME;
	case VMX_REASON_IO:
		return mb_exit_io(m, c);
	case VMX_REASON_CPUID:
		return mb_exit_cpuid(m, c);
	case VMX_REASON_RDMSR:
		return mb_exit_msr(m, c, false);
	case VMX_REASON_WRMSR:
		return mb_exit_msr(m, c, true);
	case VMX_REASON_MOV_CR:
		return mb_exit_cr(m, c);
	case VMX_REASON_VMCALL:
		return mb_exit_vmcall(m, c);
	case VMX_REASON_APIC_ACCESS:
		return mb_exit_apic_access(m, c);
	case VMX_REASON_EPT_VIOLATION:
		return mb_exit_ept(m, c);
	case VMX_REASON_HLT:		/* interrupts off: nothing will wake it (the hypervisor idles the rest) */
		plat_printf("mbvmm: vCPU %u halted with interrupts off at 0x%llx\n", c->index,
			    (unsigned long long)mb_reg(c, HV_X86_RIP));
		return MB_DONE;
	default:
		plat_printf("mbvmm: error: vCPU %u: exit reason %u at RIP 0x%llx: %s\n", c->index, (unsigned)basic,
			    (unsigned long long)mb_reg(c, HV_X86_RIP),
			    basic == VMX_REASON_TRIPLE_FAULT ? "triple fault" : "an exit the VMM does not handle");
		plat_printf("mbvmm: qualification 0x%llx, guest-physical 0x%llx, CR0 0x%llx, CR4 0x%llx, EFER 0x%llx, "
			    "entry controls 0x%llx\n", (unsigned long long)mb_vmcs(c, VMCS_RO_EXIT_QUALIFIC),
			    (unsigned long long)mb_vmcs(c, VMCS_GUEST_PHYSICAL_ADDRESS),
			    (unsigned long long)mb_vmcs(c, VMCS_GUEST_CR0), (unsigned long long)mb_vmcs(c, VMCS_GUEST_CR4),
			    (unsigned long long)mb_vmcs(c, VMCS_GUEST_IA32_EFER),
			    (unsigned long long)mb_vmcs(c, VMCS_CTRL_VMENTRY_CONTROLS));
		return MB_ABORT;
	}
}

/*
 * One vCPU until deadline (its turn) or an exit that ends the guest. An APIC
 * write with an effect (INIT, SIPI through the x2APIC ICR) comes as its
 * WRMSR exit with the exit info: the VMM does the effect and retires it.
 */
static enum mb_next run_turn(struct mb_machine *m, struct mb_vcpu *c, uint64_t deadline)
{
	for (;;) {
		hv_vm_exitinfo_t info = HV_VM_EXITINFO_VMX;
		uint32_t reason, vectoring;
		enum mb_next next;
		hv_return_t r = hv_vcpu_run_until(c->id, deadline);

		if (r != HV_SUCCESS) {
			plat_printf("mbvmm: error: vCPU %u: hv_vcpu_run_until: 0x%x\n", c->index, (unsigned)r);
			return MB_ABORT;
		}
		reason = (uint32_t)mb_vmcs(c, VMCS_RO_EXIT_REASON);
		if (reason & EXIT_FAILED) {
			plat_printf("mbvmm: error: vCPU %u: VM entry failed (reason 0x%x)\n", c->index, reason);
			return MB_ABORT;
		}
		c->exit_reason = EXIT_BASIC(reason);
		if (c->exit_reason == VMX_REASON_VMX_TIMER_EXPIRED)
			return MB_RESUME;
		hv_vcpu_exit_info(c->id, &info);
		if (c->exit_reason == VMX_REASON_WRMSR &&
		    (info == HV_VM_EXITINFO_INIT_AP || info == HV_VM_EXITINFO_STARTUP_AP)) {
			mb_skip(c);
			mb_apic_effect(m, c);
			continue;
		}
		/* An event the exit cut short goes in again, unless the handler puts its own. */
		vectoring = (uint32_t)mb_vmcs(c, VMCS_RO_IDT_VECTOR_INFO);
		if (vectoring & VECTORING_VALID) {
			if (vectoring & VECTORING_ERR)
				mb_set_vmcs(c, VMCS_CTRL_VMENTRY_EXC_ERROR, mb_vmcs(c, VMCS_RO_IDT_VECTOR_ERROR));
			mb_set_vmcs(c, VMCS_CTRL_VMENTRY_IRQ_INFO, vectoring & ~(1u << 12));
		}
		next = handle(m, c, c->exit_reason);
		if (next != MB_RESUME)
			return next;
	}
}

/*
 * Every vCPU on this thread, taking turns of TURN_US (one vCPU: no turns).
 * hv_vcpu_run_until keeps a turn in the guest (HLT idles in the hypervisor),
 * and the hypervisor's APIC delivers what one vCPU sends another at its turn.
 */
static enum mb_next run(struct mb_machine *m)
{
	uint64_t turn = plat_clock_ms(1) * TURN_US / 1000;

	for (;;) {
		for (unsigned i = 0; i < m->ncpus; i++) {
			struct mb_vcpu *c = &m->vcpu[i];
			enum mb_next next;

			if (!c->started)
				continue;
			next = run_turn(m, c, m->ncpus == 1 ? HV_DEADLINE_FOREVER : plat_clock() + turn);
			if (next != MB_RESUME)
				return next;
		}
	}
}

int plat_main(int argc, char **argv)
{
	static struct mb_machine m;
	struct options o = { 0 };
	struct mb_vcpu *bsp = &m.vcpu[0];
	enum mb_next how = MB_ABORT;
	unsigned created = 0;
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
	/* vCPU i is APIC ID i; all of them on this thread, the APs waiting for their SIPI. */
	for (; created < m.ncpus; created++) {
		struct mb_vcpu *c = &m.vcpu[created];

		if (hv_vcpu_create(&c->id, HV_VCPU_DEFAULT) != HV_SUCCESS) {
			plat_printf("mbvmm: error: hv_vcpu_create of vCPU %u failed\n", created);
			goto out;
		}
		c->index = created;
		vcpu_controls(&m, c);
	}
	bsp_state(bsp, m.entry);
	bsp->started = true;
	m.pm_timer_base = plat_clock();
	how = run(&m);
out:
	while (created)
		hv_vcpu_destroy(m.vcpu[--created].id);
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
