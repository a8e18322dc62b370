/*
 * An example VMM on Apple's Hypervisor API (x86): three guests run one after the
 * other — on one VM a DOS .COM program in real mode (guest_dos.c) and a 64-bit
 * long-mode guest (guest_long.c), then on a VM with APIC acceleration a guest
 * with two vCPUs (guest_smp.c). This file has what they share: guest memory,
 * the run loop with its exit table, and three tiny devices (a debug console on
 * port 0xe9, CPUID, one scratch MSR). Nothing in it is hvmetal's: it builds the
 * same against Hypervisor.framework on an Intel Mac.
 */
#include <string.h>
#include "platform.h"
#include "vmm.h"

#define CONSOLE_PORT		0xe9
#define SCRATCH_MSR		0x40000000	/* in the MSR range reserved for hypervisors */

#define EXIT_REASON_ENTRY_FAIL	(1u << 31)
#define EXIT_REASON_BASIC(r)	((r) & 0xffff)

/* I/O exit qualification (SDM vol. 3, table 28-5). */
#define IO_SIZE(q)		(((q) & 7) + 1)
#define IO_IN			(1u << 3)
#define IO_STRING		(1u << 4)
#define IO_REP			(1u << 5)
#define IO_PORT(q)		((uint16_t)((q) >> 16))

/* EPT violation qualification (table 28-7). */
#define EPT_READ		(1u << 0)
#define EPT_WRITE		(1u << 1)
#define EPT_FETCH		(1u << 2)
#define EPT_PRESENT		(7u << 3)	/* the page's R/W/X: 0 = nothing mapped */

#define CONSOLE_LINE		120
#define NOTED_PORTS		16

/* ---- errors ---- */

static const char *hv_error_name(hv_return_t r)
{
	switch (r) {
	case HV_SUCCESS: return "HV_SUCCESS";
	case HV_ERROR: return "HV_ERROR";
	case HV_BUSY: return "HV_BUSY";
	case HV_BAD_ARGUMENT: return "HV_BAD_ARGUMENT";
	case HV_NO_RESOURCES: return "HV_NO_RESOURCES";
	case HV_NO_DEVICE: return "HV_NO_DEVICE";
	case HV_DENIED: return "HV_DENIED";
	case HV_UNSUPPORTED: return "HV_UNSUPPORTED";
	default: return "unknown error";
	}
}

bool vmm_ok(struct guest *g, hv_return_t r, const char *what)
{
	if (r == HV_SUCCESS)
		return true;
	plat_printf("vmm: error: %s: %s: 0x%x (%s)\n", g->ops->name, what, (unsigned)r,
		    hv_error_name(r));
	g->failed = true;
	return false;
}

/* ---- vCPU state ---- */

uint64_t vmm_read_vmcs(struct guest *g, uint32_t field)
{
	uint64_t v = 0;
	hv_return_t r = hv_vmx_vcpu_read_vmcs(g->vcpu, field, &v);

	if (r != HV_SUCCESS) {
		plat_printf("vmm: error: %s: hv_vmx_vcpu_read_vmcs(0x%x): 0x%x (%s)\n",
			    g->ops->name, (unsigned)field, (unsigned)r, hv_error_name(r));
		g->failed = true;
		return 0;
	}
	return v;
}

void vmm_write_vmcs(struct guest *g, uint32_t field, uint64_t value)
{
	hv_return_t r = hv_vmx_vcpu_write_vmcs(g->vcpu, field, value);

	if (r != HV_SUCCESS) {
		plat_printf("vmm: error: %s: hv_vmx_vcpu_write_vmcs(0x%x, 0x%llx): 0x%x (%s)\n",
			    g->ops->name, (unsigned)field, (unsigned long long)value, (unsigned)r,
			    hv_error_name(r));
		g->failed = true;
	}
}

uint64_t vmm_read_reg(struct guest *g, hv_x86_reg_t reg)
{
	uint64_t v = 0;
	hv_return_t r = hv_vcpu_read_register(g->vcpu, reg, &v);

	if (r != HV_SUCCESS) {
		plat_printf("vmm: error: %s: hv_vcpu_read_register(%u): 0x%x (%s)\n", g->ops->name,
			    (unsigned)reg, (unsigned)r, hv_error_name(r));
		g->failed = true;
		return 0;
	}
	return v;
}

void vmm_write_reg(struct guest *g, hv_x86_reg_t reg, uint64_t value)
{
	hv_return_t r = hv_vcpu_write_register(g->vcpu, reg, value);

	if (r != HV_SUCCESS) {
		plat_printf("vmm: error: %s: hv_vcpu_write_register(%u, 0x%llx): 0x%x (%s)\n",
			    g->ops->name, (unsigned)reg, (unsigned long long)value, (unsigned)r,
			    hv_error_name(r));
		g->failed = true;
	}
}

static const char *control_name(hv_vmx_capability_t cap)
{
	switch (cap) {
	case HV_VMX_CAP_PINBASED: return "pin-based";
	case HV_VMX_CAP_PROCBASED: return "processor-based";
	case HV_VMX_CAP_PROCBASED2: return "secondary processor-based";
	case HV_VMX_CAP_ENTRY: return "VM-entry";
	case HV_VMX_CAP_EXIT: return "VM-exit";
	default: return "other";
	}
}

uint64_t vmm_controls(struct guest *g, hv_vmx_capability_t cap, uint64_t want)
{
	uint64_t c = 0, v;

	if (!vmm_ok(g, hv_vmx_read_capability(cap, &c), "hv_vmx_read_capability"))
		return 0;
	v = (want | (c & 0xffffffff)) & (c >> 32);
	if ((v & want) != want) {
		plat_printf("vmm: error: %s: %s controls: wanted bits 0x%llx are not available\n",
			    g->ops->name, control_name(cap), (unsigned long long)(want & ~v));
		g->failed = true;
	}
	return v;
}

static uint64_t fixed_cr(struct guest *g, hv_vmx_capability_t fixed0, hv_vmx_capability_t fixed1,
			 uint64_t want, const char *what)
{
	uint64_t f0 = 0, f1 = 0, v;

	if (!vmm_ok(g, hv_vmx_read_capability(fixed0, &f0), "hv_vmx_read_capability") ||
	    !vmm_ok(g, hv_vmx_read_capability(fixed1, &f1), "hv_vmx_read_capability"))
		return 0;
	/* Unrestricted guest (always on with EPT here) frees CR0.PE and CR0.PG. */
	if (fixed0 == HV_VMX_CAP_CR0_FIXED0)
		f0 &= ~0x80000001ull;
	v = (want | f0) & f1;
	if ((v & want) != want) {
		plat_printf("vmm: error: %s: %s: bits 0x%llx cannot be set\n", g->ops->name, what,
			    (unsigned long long)(want & ~v));
		g->failed = true;
	}
	return v;
}

uint64_t vmm_cr0(struct guest *g, uint64_t want)
{
	return fixed_cr(g, HV_VMX_CAP_CR0_FIXED0, HV_VMX_CAP_CR0_FIXED1, want, "CR0");
}

uint64_t vmm_cr4(struct guest *g, uint64_t want)
{
	return fixed_cr(g, HV_VMX_CAP_CR4_FIXED0, HV_VMX_CAP_CR4_FIXED1, want, "CR4");
}

void vmm_write_segment(struct guest *g, unsigned seg, const struct vmm_segment *s)
{
	/* Selector, limit, access rights and base fields are each in ES..TR order, 2 apart. */
	vmm_write_vmcs(g, VMCS_GUEST_ES + 2 * seg, s->selector);
	vmm_write_vmcs(g, VMCS_GUEST_ES_LIMIT + 2 * seg, s->limit);
	vmm_write_vmcs(g, VMCS_GUEST_ES_AR + 2 * seg, s->ar);
	vmm_write_vmcs(g, VMCS_GUEST_ES_BASE + 2 * seg, s->base);
}

void vmm_skip_instruction(struct guest *g)
{
	uint64_t len = vmm_read_vmcs(g, VMCS_RO_VMEXIT_INSTR_LEN);

	vmm_write_reg(g, HV_X86_RIP, vmm_read_reg(g, HV_X86_RIP) + len);
}

/* ---- guest memory ---- */

uint8_t *vmm_map(struct guest *g, uint64_t gpa, size_t size)
{
	struct guest_region *rg;
	void *uva = NULL;

	if (g->regions == GUEST_REGIONS) {
		plat_printf("vmm: error: %s: no room for another memory region\n", g->ops->name);
		g->failed = true;
		return NULL;
	}
	if (!vmm_ok(g, hv_vm_allocate(&uva, size, HV_ALLOCATE_DEFAULT), "hv_vm_allocate"))
		return NULL;
	memset(uva, 0, size);
	if (!vmm_ok(g, hv_vm_map(uva, gpa, size, HV_MEMORY_READ | HV_MEMORY_WRITE | HV_MEMORY_EXEC),
		    "hv_vm_map")) {
		hv_vm_deallocate(uva, size);
		return NULL;
	}
	rg = &g->region[g->regions++];
	rg->uva = uva;
	rg->gpa = gpa;
	rg->size = size;
	return uva;
}

static void unmap_all(struct guest *g)
{
	while (g->regions) {
		struct guest_region *rg = &g->region[--g->regions];

		vmm_ok(g, hv_vm_unmap(rg->gpa, rg->size), "hv_vm_unmap");
		vmm_ok(g, hv_vm_deallocate(rg->uva, rg->size), "hv_vm_deallocate");
	}
}

/* ---- devices ---- */

static char console_line[CONSOLE_LINE + 1];
static unsigned console_len;

static void console_flush(void)
{
	if (!console_len)
		return;
	console_line[console_len] = 0;
	plat_printf("guest: %s\n", console_line);
	console_len = 0;
}

void vmm_console_putc(char c)
{
	if (c == '\r')
		return;
	if (c == '\n') {
		console_flush();
		return;
	}
	if (console_len == CONSOLE_LINE)
		console_flush();
	console_line[console_len++] = c >= 0x20 && c < 0x7f ? c : '?';
}

static uint16_t noted_port[NOTED_PORTS];
static unsigned noted_ports;

/* Says once per port that the VMM does not emulate it. */
static void note_port(struct guest *g, uint16_t port)
{
	for (unsigned i = 0; i < noted_ports; i++)
		if (noted_port[i] == port)
			return;
	if (noted_ports < NOTED_PORTS)
		noted_port[noted_ports++] = port;
	plat_printf("vmm: %s: port 0x%x is not emulated: IN reads all ones, OUT is dropped "
		    "(said once)\n", g->ops->name, (unsigned)port);
}

/* The CPUID vendor and hypervisor signature: 12 bytes, no NUL in the registers. */
static const char vmm_signature[] = "hvmetalVMM!!";

/* What this VMM's virtual CPU says about itself: r = EAX, EBX, ECX, EDX. */
static void cpuid_answer(uint32_t leaf, uint32_t r[4])
{
	memset(r, 0, 4 * sizeof(r[0]));
	switch (leaf) {
	case 0:				/* max basic leaf; vendor in EBX, EDX, ECX */
		r[0] = 1;
		memcpy(&r[1], vmm_signature, 4);
		memcpy(&r[3], vmm_signature + 4, 4);
		memcpy(&r[2], vmm_signature + 8, 4);
		break;
	case 1:				/* family 6; FPU, TSC, MSR, PAE; "hypervisor present" */
		r[0] = 0x600;
		r[2] = 1u << 31;
		r[3] = (1u << 0) | (1u << 4) | (1u << 5) | (1u << 6);
		break;
	case 0x40000000:		/* hypervisor leaf: max leaf; signature in EBX, ECX, EDX */
		r[0] = 0x40000000;
		memcpy(&r[1], vmm_signature, 4);
		memcpy(&r[2], vmm_signature + 4, 4);
		memcpy(&r[3], vmm_signature + 8, 4);
		break;
	default:			/* nothing else exists */
		break;
	}
}

/* ---- exit handlers: each decides whether RIP moves on ---- */

typedef enum vmm_next (*exit_handler)(struct guest *g);

static enum vmm_next exit_exception(struct guest *g)
{
	uint32_t info = (uint32_t)vmm_read_vmcs(g, VMCS_RO_VMEXIT_IRQ_INFO);
	uint32_t idt = g->vectoring;
	enum vmm_next next;

	if ((info & IRQ_INFO_TYPE_MASK) == IRQ_INFO_NMI) {
		g->stats.irq++;		/* the host's NMI: it has been taken, go on */
		return VMM_RESUME;
	}
	/*
	 * INT n through an IVT with no entries (IDTR limit 0) raises #GP, which exits
	 * (every exception does); the IDT-vectoring information names the INT n whose
	 * delivery failed. The VMM does what the interrupt asked and moves past it.
	 */
	if ((idt & IRQ_INFO_VALID) && (idt & IRQ_INFO_TYPE_MASK) == IRQ_INFO_SOFT_IRQ &&
	    g->ops->soft_int) {
		uint8_t vector = idt & IRQ_INFO_VECTOR_MASK;

		if (!g->stats.soft_int++)
			plat_printf("vmm: %s: INT %xh reaches the VMM as exception %u (exit "
				    "interruption info 0x%x, IDT-vectoring info 0x%x)\n",
				    g->ops->name, vector, info & IRQ_INFO_VECTOR_MASK, info, idt);
		g->vectoring = 0;	/* done here: not delivered again */
		vmm_skip_instruction(g);
		next = g->ops->soft_int(g, vector);
		return g->failed ? VMM_ABORT : next;
	}
	plat_printf("vmm: error: %s: exception %u at rip 0x%llx (exit interruption info 0x%x, "
		    "IDT-vectoring info 0x%x)\n", g->ops->name, info & IRQ_INFO_VECTOR_MASK,
		    (unsigned long long)vmm_read_reg(g, HV_X86_RIP), info, idt);
	return VMM_ABORT;
}

/* An interrupt for the host: hv_vcpu_run returned so that it could be taken. */
static enum vmm_next exit_irq(struct guest *g)
{
	g->stats.irq++;
	return VMM_RESUME;
}

static enum vmm_next exit_triple_fault(struct guest *g)
{
	plat_printf("vmm: %s: triple fault at rip 0x%llx: the guest is dead, tearing it down\n",
		    g->ops->name, (unsigned long long)vmm_read_reg(g, HV_X86_RIP));
	g->ending = "triple fault";
	return VMM_DONE;
}

static enum vmm_next exit_cpuid(struct guest *g)
{
	uint32_t leaf = (uint32_t)vmm_read_reg(g, HV_X86_RAX), r[4];

	g->stats.cpuid++;
	cpuid_answer(leaf, r);
	plat_printf("vmm: %s: CPUID leaf 0x%x -> eax 0x%x ebx 0x%x ecx 0x%x edx 0x%x\n",
		    g->ops->name, leaf, r[0], r[1], r[2], r[3]);
	vmm_write_reg(g, HV_X86_RAX, r[0]);
	vmm_write_reg(g, HV_X86_RBX, r[1]);
	vmm_write_reg(g, HV_X86_RCX, r[2]);
	vmm_write_reg(g, HV_X86_RDX, r[3]);
	vmm_skip_instruction(g);
	return VMM_RESUME;
}

static enum vmm_next exit_hlt(struct guest *g)
{
	g->stats.hlt++;
	plat_printf("vmm: %s: HLT at rip 0x%llx: no interrupt will come, resuming after it\n",
		    g->ops->name, (unsigned long long)vmm_read_reg(g, HV_X86_RIP));
	vmm_skip_instruction(g);
	return VMM_RESUME;
}

static enum vmm_next exit_io(struct guest *g)
{
	uint64_t q = vmm_read_vmcs(g, VMCS_RO_EXIT_QUALIFIC);
	uint64_t rax = vmm_read_reg(g, HV_X86_RAX);
	uint16_t port = IO_PORT(q);
	unsigned size = IO_SIZE(q);
	uint64_t mask = size == 4 ? 0xffffffffull : (1ull << (8 * size)) - 1;

	g->stats.io++;
	if (q & (IO_STRING | IO_REP)) {
		plat_printf("vmm: error: %s: string I/O on port 0x%x is not emulated\n",
			    g->ops->name, (unsigned)port);
		return VMM_ABORT;
	}
	if (q & IO_IN) {
		/* The console reads back 0xe9 (Bochs's port 0xe9 does); other ports float high. */
		uint64_t v = port == CONSOLE_PORT ? CONSOLE_PORT : mask;

		if (port != CONSOLE_PORT)
			note_port(g, port);
		vmm_write_reg(g, HV_X86_RAX, size == 4 ? v : (rax & ~mask) | v);
	} else if (port == CONSOLE_PORT) {
		vmm_console_putc((char)rax);
	} else {
		note_port(g, port);
	}
	vmm_skip_instruction(g);
	return VMM_RESUME;
}

static uint64_t scratch_msr;

static enum vmm_next exit_rdmsr(struct guest *g)
{
	uint32_t msr = (uint32_t)vmm_read_reg(g, HV_X86_RCX);
	uint64_t v = 0;

	g->stats.msr++;
	if (msr == SCRATCH_MSR)
		v = scratch_msr;
	plat_printf("vmm: %s: RDMSR 0x%x -> 0x%llx%s\n", g->ops->name, msr, (unsigned long long)v,
		    msr == SCRATCH_MSR ? "" : " (not emulated)");
	vmm_write_reg(g, HV_X86_RAX, v & 0xffffffff);
	vmm_write_reg(g, HV_X86_RDX, v >> 32);
	vmm_skip_instruction(g);
	return VMM_RESUME;
}

static enum vmm_next exit_wrmsr(struct guest *g)
{
	uint32_t msr = (uint32_t)vmm_read_reg(g, HV_X86_RCX);
	uint64_t v = vmm_read_reg(g, HV_X86_RDX) << 32 | (vmm_read_reg(g, HV_X86_RAX) & 0xffffffff);

	g->stats.msr++;
	if (msr == SCRATCH_MSR)
		scratch_msr = v;
	plat_printf("vmm: %s: WRMSR 0x%x <- 0x%llx%s\n", g->ops->name, msr, (unsigned long long)v,
		    msr == SCRATCH_MSR ? "" : " (not emulated: dropped)");
	vmm_skip_instruction(g);
	return VMM_RESUME;
}

static enum vmm_next exit_ept_violation(struct guest *g)
{
	uint64_t gpa = vmm_read_vmcs(g, VMCS_GUEST_PHYSICAL_ADDRESS);
	uint64_t q = vmm_read_vmcs(g, VMCS_RO_EXIT_QUALIFIC);

	g->stats.ept++;
	plat_printf("vmm: %s: EPT violation at GPA 0x%llx qualification 0x%llx (%s%s%s, %s)\n",
		    g->ops->name, (unsigned long long)gpa, (unsigned long long)q,
		    q & EPT_READ ? "read" : "", q & EPT_WRITE ? "write" : "",
		    q & EPT_FETCH ? "fetch" : "",
		    q & EPT_PRESENT ? "not allowed" : "nothing mapped");
	/* RIP stays: once memory is there, the access runs again. */
	if (g->ops->ept_fault && g->ops->ept_fault(g, gpa, q))
		return VMM_RESUME;
	plat_printf("vmm: error: %s: no memory for GPA 0x%llx\n", g->ops->name,
		    (unsigned long long)gpa);
	return VMM_ABORT;
}

/* run_until's deadline passed: the caller decides what next. */
static enum vmm_next exit_deadline(struct guest *g)
{
	g->stats.deadline++;
	return VMM_RESUME;
}

/* The exits this VMM knows, by basic exit reason; any other one stops the guest. */
static const exit_handler exit_handlers[] = {
	[VMX_REASON_EXC_NMI]		= exit_exception,
	[VMX_REASON_IRQ]		= exit_irq,
	[VMX_REASON_TRIPLE_FAULT]	= exit_triple_fault,
	[VMX_REASON_CPUID]		= exit_cpuid,
	[VMX_REASON_HLT]		= exit_hlt,
	[VMX_REASON_IO]			= exit_io,
	[VMX_REASON_RDMSR]		= exit_rdmsr,
	[VMX_REASON_WRMSR]		= exit_wrmsr,
	[VMX_REASON_EPT_VIOLATION]	= exit_ept_violation,
	[VMX_REASON_VMX_TIMER_EXPIRED]	= exit_deadline,
};

#define EXIT_HANDLERS	(sizeof(exit_handlers) / sizeof(exit_handlers[0]))

static const char *const exit_names[] = {
	[VMX_REASON_EXC_NMI]		= "exception or NMI",
	[VMX_REASON_IRQ]		= "external interrupt",
	[VMX_REASON_TRIPLE_FAULT]	= "triple fault",
	[VMX_REASON_INIT]		= "INIT",
	[VMX_REASON_SIPI]		= "SIPI",
	[VMX_REASON_IRQ_WND]		= "interrupt window",
	[VMX_REASON_VIRTUAL_NMI_WND]	= "NMI window",
	[VMX_REASON_TASK]		= "task switch",
	[VMX_REASON_CPUID]		= "CPUID",
	[VMX_REASON_HLT]		= "HLT",
	[VMX_REASON_INVD]		= "INVD",
	[VMX_REASON_INVLPG]		= "INVLPG",
	[VMX_REASON_RDPMC]		= "RDPMC",
	[VMX_REASON_RDTSC]		= "RDTSC",
	[VMX_REASON_VMCALL]		= "VMCALL",
	[VMX_REASON_MOV_CR]		= "MOV CR",
	[VMX_REASON_MOV_DR]		= "MOV DR",
	[VMX_REASON_IO]			= "I/O",
	[VMX_REASON_RDMSR]		= "RDMSR",
	[VMX_REASON_WRMSR]		= "WRMSR",
	[VMX_REASON_VMENTRY_GUEST]	= "invalid guest state",
	[VMX_REASON_VMENTRY_MSR]	= "MSR loading",
	[VMX_REASON_MWAIT]		= "MWAIT",
	[VMX_REASON_MTF]		= "monitor trap flag",
	[VMX_REASON_MONITOR]		= "MONITOR",
	[VMX_REASON_PAUSE]		= "PAUSE",
	[VMX_REASON_VMENTRY_MC]		= "machine check",
	[VMX_REASON_GDTR_IDTR]		= "GDTR/IDTR access",
	[VMX_REASON_LDTR_TR]		= "LDTR/TR access",
	[VMX_REASON_APIC_ACCESS]	= "APIC access",
	[VMX_REASON_EPT_VIOLATION]	= "EPT violation",
	[VMX_REASON_EPT_MISCONFIG]	= "EPT misconfiguration",
	[VMX_REASON_RDTSCP]		= "RDTSCP",
	[VMX_REASON_VMX_TIMER_EXPIRED]	= "preemption timer",
	[VMX_REASON_WBINVD]		= "WBINVD",
	[VMX_REASON_XSETBV]		= "XSETBV",
	[VMX_REASON_RDRAND]		= "RDRAND",
	[VMX_REASON_RDSEED]		= "RDSEED",
};

static const char *exit_name(uint32_t basic)
{
	if (basic < sizeof(exit_names) / sizeof(exit_names[0]) && exit_names[basic])
		return exit_names[basic];
	if (basic >= VMX_REASON_VMCLEAR && basic <= VMX_REASON_VMON)
		return "VMX instruction";
	return "unnamed";
}

/* ---- the run loop ---- */

/* The event the exit interrupted goes in again at the next VM entry. */
static void redeliver(struct guest *g)
{
	const uint32_t keep = IRQ_INFO_VALID | IRQ_INFO_TYPE_MASK | IRQ_INFO_ERROR_VALID |
			      IRQ_INFO_VECTOR_MASK;
	uint32_t idt = g->vectoring, type = idt & IRQ_INFO_TYPE_MASK;

	if (!(idt & IRQ_INFO_VALID))
		return;
	vmm_write_vmcs(g, VMCS_CTRL_VMENTRY_IRQ_INFO, idt & keep);
	if (idt & IRQ_INFO_ERROR_VALID)
		vmm_write_vmcs(g, VMCS_CTRL_VMENTRY_EXC_ERROR,
			       vmm_read_vmcs(g, VMCS_RO_IDT_VECTOR_ERROR));
	if (type == IRQ_INFO_SOFT_IRQ || type == IRQ_INFO_PRIV_SOFT_EXC ||
	    type == IRQ_INFO_SOFT_EXC)
		vmm_write_vmcs(g, VMCS_CTRL_VMENTRY_INSTR_LEN,
			       vmm_read_vmcs(g, VMCS_RO_VMEXIT_INSTR_LEN));
}

/* The exit the vCPU just made, after hv_vcpu_run or hv_vcpu_run_until returned r. */
static enum vmm_next handle_exit(struct guest *g, hv_return_t r)
{
	uint32_t reason, basic;
	enum vmm_next next = VMM_PASS;

	if (!vmm_ok(g, r, "hv_vcpu_run"))
		return VMM_ABORT;
	reason = (uint32_t)vmm_read_vmcs(g, VMCS_RO_EXIT_REASON);
	basic = EXIT_REASON_BASIC(reason);
	g->exit_reason = basic;
	g->stats.exits++;
	if (reason & EXIT_REASON_ENTRY_FAIL) {
		uint64_t q = vmm_read_vmcs(g, VMCS_RO_EXIT_QUALIFIC);

		plat_printf("vmm: error: %s: VM entry failed: %s (exit reason 0x%x, "
			    "qualification 0x%llx)\n", g->ops->name, exit_name(basic),
			    reason, (unsigned long long)q);
		return VMM_ABORT;
	}
	g->vectoring = (uint32_t)vmm_read_vmcs(g, VMCS_RO_IDT_VECTOR_INFO);
	if (g->ops->exit)
		next = g->ops->exit(g, basic);
	if (next == VMM_PASS) {
		if (basic >= EXIT_HANDLERS || !exit_handlers[basic]) {
			plat_printf("vmm: error: %s: unexpected exit %u (%s) at rip 0x%llx, "
				    "qualification 0x%llx\n", g->ops->name, basic, exit_name(basic),
				    (unsigned long long)vmm_read_reg(g, HV_X86_RIP),
				    (unsigned long long)vmm_read_vmcs(g, VMCS_RO_EXIT_QUALIFIC));
			return VMM_ABORT;
		}
		next = exit_handlers[basic](g);
	}
	if (next == VMM_RESUME)
		redeliver(g);
	return g->failed ? VMM_ABORT : next;
}

static enum vmm_next run_loop(struct guest *g)
{
	enum vmm_next next;

	do
		next = handle_exit(g, hv_vcpu_run(g->vcpu));
	while (next == VMM_RESUME);
	return next;
}

enum vmm_next vmm_run_until(struct guest *g, uint64_t deadline)
{
	return handle_exit(g, hv_vcpu_run_until(g->vcpu, deadline));
}

void vmm_summary(const struct guest *g, enum vmm_next how)
{
	const struct guest_stats *s = &g->stats;

	plat_printf("vmm: %s: %u exits: io=%u cpuid=%u msr=%u hlt=%u int=%u ept=%u irq=%u "
		    "apic=%u deadline=%u; ended: %s\n", g->ops->name, s->exits, s->io, s->cpuid,
		    s->msr, s->hlt, s->soft_int, s->ept, s->irq, s->apic, s->deadline,
		    how == VMM_DONE ? g->ending : "aborted");
}

/* One guest on a vCPU of its own: set up, run, tear down. True if it ended as planned. */
static bool run_guest(struct guest *g, const struct guest_ops *ops)
{
	enum vmm_next how = VMM_ABORT;

	memset(g, 0, sizeof(*g));
	g->ops = ops;
	g->ending = "?";
	scratch_msr = 0;
	plat_printf("vmm: %s: starting\n", ops->name);
	if (!vmm_ok(g, hv_vcpu_create(&g->vcpu, HV_VCPU_DEFAULT), "hv_vcpu_create"))
		return false;
	/* A new vCPU: active, nothing blocking interrupts; the rest is the guest's own. */
	vmm_write_vmcs(g, VMCS_GUEST_ACTIVITY_STATE, 0);
	vmm_write_vmcs(g, VMCS_GUEST_INTERRUPTIBILITY, 0);
	if (!g->failed && ops->setup(g) && !g->failed)
		how = ops->run ? ops->run(g) : run_loop(g);
	console_flush();
	vmm_summary(g, how);
	vmm_ok(g, hv_vcpu_destroy(g->vcpu), "hv_vcpu_destroy");
	unmap_all(g);
	return how == VMM_DONE && g->exit_code == 0 && !g->failed;
}

/* The guests of one VM, created with these flags, run one after the other. */
struct vmm_vm {
	const char *name;	/* of the flags, for messages */
	hv_vm_options_t flags;
	const struct guest_ops *const *guests;
	unsigned count;
};

/* One VM and its guests. A process has one VM at a time (Apple's rule), so VMs come one by one. */
static bool run_vm(const struct vmm_vm *vm)
{
	static struct guest guest;
	hv_return_t r;
	bool ok = true;

	r = hv_vm_create(vm->flags);
	if (r != HV_SUCCESS) {
		plat_printf("vmm: error: hv_vm_create (%s): 0x%x (%s)\n", vm->name, (unsigned)r,
			    hv_error_name(r));
		return false;
	}
	for (unsigned i = 0; i < vm->count; i++)
		ok &= run_guest(&guest, vm->guests[i]);
	r = hv_vm_destroy();
	if (r != HV_SUCCESS) {
		plat_printf("vmm: error: hv_vm_destroy (%s): 0x%x (%s)\n", vm->name, (unsigned)r,
			    hv_error_name(r));
		ok = false;
	}
	return ok;
}

const char plat_name[] = "vmm";

int plat_main(int argc, char **argv)
{
	static const struct guest_ops *const plain[] = { &guest_dos_ops, &guest_long_ops };
	static const struct guest_ops *const apic[] = { &guest_smp_ops };
	static const struct vmm_vm vms[] = {
		{ "HV_VM_DEFAULT", HV_VM_DEFAULT, plain, 2 },
		{ "HV_VM_ACCEL_APIC", HV_VM_ACCEL_APIC, apic, 1 },
	};
	bool ok = true;

	(void)argc;
	(void)argv;
	plat_printf("vmm: an example VMM on Apple's Hypervisor API: three guests, two VMs\n");
	for (unsigned i = 0; i < sizeof(vms) / sizeof(vms[0]); i++) {
		plat_printf("vmm: VM %u: hv_vm_create(%s)\n", i + 1, vms[i].name);
		ok &= run_vm(&vms[i]);
	}
	if (!ok) {
		plat_printf("vmm: error: a guest did not run as planned (see above)\n");
		return 1;
	}
	plat_printf("vmm: done\n");
	return 0;
}
