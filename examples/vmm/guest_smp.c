/*
 * Guest 3: two vCPUs on a VM with APIC acceleration (HV_VM_ACCEL_APIC), driven
 * the way OrbStack drives Apple's in-kernel APIC. The interrupt controllers live
 * in the hypervisor; the VMM only completes what comes out to it:
 *  - vCPU 0 (the BSP) uses its xAPIC page at 0xFEE00000: each access is an
 *    APIC-access exit. The VMM decodes the MOV, hands a write to
 *    hv_vcpu_apic_write (an ICR write that sends INIT or SIPI comes back as
 *    exit info INIT_AP / STARTUP_AP) and gives a read the value
 *    hv_vcpu_exit_apic_access_read has;
 *  - vCPU 1 (the AP) starts where the SIPI said, in real mode, and switches to
 *    x2APIC mode, whose MSRs the hypervisor handles without exits;
 *  - timers, IPIs, EOIs and HLT idling stay in the hypervisor; a fake device
 *    (an I/O port) answers with an IOAPIC pin and an MSI.
 * Each vCPU runs on the CPU (thread) that created it: on two CPUs when the
 * platform has a second one, else both here, taking turns by hv_vcpu_run_until.
 */
#include <stdatomic.h>
#include <string.h>
#include "platform.h"
#include "vmm.h"

/* Guest-physical layout; smp.asm has the same. */
#define RAM_SIZE	0x100000
#define GDT_GPA		0x1000
#define TSS_GPA		0x1100
#define IDT_GPA		0x1800
#define CPU_GPA(n)	(0x2000 + 0x40 * (n))	/* struct smp_counts of cpu n */
#define BSP_STACK	0x7000
#define CODE_GPA	0x8000			/* smp.asm; the AP's SIPI page */
#define APIC_GPA	0xfee00000ull
#define IOAPIC_GPA	0xfec00000ull

/* What each CPU of smp.asm counts, in its block at CPU_GPA(n). */
struct smp_counts {
	uint32_t ready, timer, ipi, ioapic, msi, done, id, x2apic, ipi_sent;
};

#define VCPUS		2
#define TICKS		10		/* timer interrupts each CPU takes (smp.asm) */
#define DEVICE_PORT	0xe0		/* OUT the APIC ID of the CPU to interrupt */
#define DEVICE_PIN(id)	(16 + (id))	/* the IOAPIC pin the device drives for it */
#define VEC_TIMER	0x30
#define VEC_IPI		0x40
#define VEC_WAKE	0x41
#define VEC_IOAPIC	0x50
#define VEC_MSI		0x51
#define VEC_SPURIOUS	0xff
#define MSI_ADDR(id)	(APIC_GPA | (uint64_t)(id) << 12)	/* physical destination */

#define SLICE_MS	10		/* a run_until on a CPU of its own: then look around */
#define TURN_MS		2		/* one CPU: each vCPU's turn */
#define TIMEOUT_MS	30000

/* GDT selectors and VMCS access rights of the BSP's flat 32-bit segments. */
#define SEL_CODE	0x08
#define SEL_DATA	0x10
#define SEL_TSS		0x18
#define GDT_LIMIT	(4 * 8 - 1)
#define TSS_LIMIT	0x67
#define IDT_LIMIT	(256 * 8 - 1)
#define AR_CODE32	0xc09b		/* execute/read, accessed; D = 1, 4 KiB granularity */
#define AR_DATA32	0xc093
#define AR_TSS_BUSY	0x008b
#define AR_UNUSABLE	0x10000
#define AR_CODE16	0x9b
#define AR_DATA16	0x93
#define AR_LDT		0x82

#define CR0_PE		(1ull << 0)
#define CR0_ET		(1ull << 4)
#define CR0_NE		(1ull << 5)
#define RFLAGS_IF	(1ull << 9)
#define MSR_APIC_BASE	0x1b

/* Exit qualifications: APIC access (SDM table 28-6) and I/O (28-5). */
#define APIC_OFFSET(q)	((uint32_t)(q) & 0xfff)
#define APIC_TYPE(q)	((unsigned)((q) >> 12) & 0xf)
#define APIC_READ	0		/* linear access for a data read */
#define APIC_WRITE	1
#define IO_IN		(1u << 3)
#define IO_PORT(q)	((uint16_t)((q) >> 16))

extern const uint8_t smp_guest[], smp_guest_end[], smp_bsp[];	/* smp.asm */
extern const uint8_t smp_bsp_timer[], smp_bsp_ipi[], smp_bsp_wake[], smp_bsp_ioapic[],
	smp_bsp_msi[], smp_bsp_spurious[];
extern const uint8_t smp_ap_timer[], smp_ap_ipi[], smp_ap_ioapic[], smp_ap_msi[],
	smp_ap_spurious[];

static enum vmm_next smp_exit(struct guest *v, uint32_t basic);

/* vCPU 1: its own guest record (the memory is vCPU 0's), owned by whoever created it. */
static const struct guest_ops ap_ops = {
	.name = "SMP guest vCPU 1",
	.exit = smp_exit,
};
static struct guest ap;

/*
 * Between vCPU 0's CPU and vCPU 1's: whether vCPU 1 exists (1) or could not be
 * made (-1), the SIPI's start address, whether vCPU 1 has finished and how, and
 * vCPU 0 telling it to stop.
 */
static atomic_int ap_created;
static atomic_bool ap_sipi, ap_finished, stop;
static uint64_t ap_rip;			/* written before ap_sipi */
static enum vmm_next ap_how;		/* written before ap_finished */
static bool ap_started;			/* vCPU 1's owner only: it runs from ap_rip */

/* A guest address of smp.asm's label. */
static uint32_t code_gpa(const uint8_t *label)
{
	return CODE_GPA + (uint32_t)(label - smp_guest);
}

/* ---- guest memory: the program, the BSP's GDT and IDT, the AP's IVT ---- */

static uint64_t idt_gate(uint32_t offset)
{
	/* A 32-bit interrupt gate, DPL 0, present. */
	return (offset & 0xffff) | (uint64_t)SEL_CODE << 16 | 0x8e00ull << 32 |
	       (uint64_t)(offset >> 16) << 48;
}

static void build_memory(uint8_t *ram)
{
	static const struct { uint8_t vector; const uint8_t *bsp, *ap; } handlers[] = {
		{ VEC_TIMER, smp_bsp_timer, smp_ap_timer },
		{ VEC_IPI, smp_bsp_ipi, smp_ap_ipi },
		{ VEC_WAKE, smp_bsp_wake, smp_ap_ipi },	/* never sent to the AP */
		{ VEC_IOAPIC, smp_bsp_ioapic, smp_ap_ioapic },
		{ VEC_MSI, smp_bsp_msi, smp_ap_msi },
		{ VEC_SPURIOUS, smp_bsp_spurious, smp_ap_spurious },
	};
	uint64_t *gdt = (uint64_t *)(ram + GDT_GPA), *idt = (uint64_t *)(ram + IDT_GPA);
	uint32_t *ivt = (uint32_t *)ram;

	memcpy(ram + CODE_GPA, smp_guest, (size_t)(smp_guest_end - smp_guest));
	gdt[0] = 0;
	gdt[1] = 0x00cf9b000000ffffull;	/* SEL_CODE: flat 32-bit code */
	gdt[2] = 0x00cf93000000ffffull;	/* SEL_DATA: flat data */
	gdt[3] = TSS_LIMIT | (uint64_t)TSS_GPA << 16 | 0x8bull << 40;	/* busy 32-bit TSS */
	/* Vectors without a handler stay not-present: exceptions exit anyway (bitmap). */
	for (unsigned i = 0; i < sizeof(handlers) / sizeof(handlers[0]); i++) {
		idt[handlers[i].vector] = idt_gate(code_gpa(handlers[i].bsp));
		/* Real mode: segment CODE_GPA >> 4, offset in it. */
		ivt[handlers[i].vector] = (uint32_t)(CODE_GPA >> 4) << 16 |
					  (uint32_t)(handlers[i].ap - smp_guest);
	}
}

/* ---- vCPU state ---- */

static void controls(struct guest *v)
{
	vmm_write_vmcs(v, VMCS_CTRL_PIN_BASED, vmm_controls(v, HV_VMX_CAP_PINBASED, 0));
	vmm_write_vmcs(v, VMCS_CTRL_CPU_BASED, vmm_controls(v, HV_VMX_CAP_PROCBASED,
			CPU_BASED_HLT | CPU_BASED_CR8_LOAD | CPU_BASED_CR8_STORE |
			CPU_BASED_SECONDARY_CTLS));
	/* Real mode (the AP) needs unrestricted guest, the APIC page "virtualize APIC accesses". */
	vmm_write_vmcs(v, VMCS_CTRL_CPU_BASED2, vmm_controls(v, HV_VMX_CAP_PROCBASED2,
			CPU_BASED2_EPT | CPU_BASED2_UNRESTRICTED | CPU_BASED2_VIRTUAL_APIC));
	vmm_write_vmcs(v, VMCS_CTRL_VMENTRY_CONTROLS, vmm_controls(v, HV_VMX_CAP_ENTRY, 0));
	/* The guest handles no exception: each one stops it, loudly. */
	vmm_write_vmcs(v, VMCS_CTRL_EXC_BITMAP, 0xffffffff);
	vmm_ok(v, hv_vmx_vcpu_set_apic_address(v->vcpu, APIC_GPA), "hv_vmx_vcpu_set_apic_address");
	vmm_write_vmcs(v, VMCS_GUEST_CR3, 0);
	vmm_write_vmcs(v, VMCS_GUEST_CR4, vmm_cr4(v, 0));
	vmm_write_vmcs(v, VMCS_GUEST_IA32_EFER, 0);
	vmm_write_reg(v, HV_X86_RFLAGS, 0x2);
}

/* vCPU 0: 32-bit protected mode, flat, at smp_bsp. */
static void bsp_state(struct guest *v)
{
	const struct vmm_segment code = { SEL_CODE, 0, 0xffffffff, AR_CODE32 };
	const struct vmm_segment data = { SEL_DATA, 0, 0xffffffff, AR_DATA32 };
	const struct vmm_segment ldtr = { 0, 0, 0, AR_UNUSABLE };
	const struct vmm_segment tr = { SEL_TSS, TSS_GPA, TSS_LIMIT, AR_TSS_BUSY };

	controls(v);
	vmm_write_segment(v, SEG_CS, &code);
	vmm_write_segment(v, SEG_DS, &data);
	vmm_write_segment(v, SEG_ES, &data);
	vmm_write_segment(v, SEG_SS, &data);
	vmm_write_segment(v, SEG_FS, &data);
	vmm_write_segment(v, SEG_GS, &data);
	vmm_write_segment(v, SEG_LDTR, &ldtr);
	vmm_write_segment(v, SEG_TR, &tr);
	vmm_write_vmcs(v, VMCS_GUEST_GDTR_BASE, GDT_GPA);
	vmm_write_vmcs(v, VMCS_GUEST_GDTR_LIMIT, GDT_LIMIT);
	vmm_write_vmcs(v, VMCS_GUEST_IDTR_BASE, IDT_GPA);
	vmm_write_vmcs(v, VMCS_GUEST_IDTR_LIMIT, IDT_LIMIT);
	vmm_write_vmcs(v, VMCS_GUEST_CR0, vmm_cr0(v, CR0_PE | CR0_ET | CR0_NE));
	vmm_write_reg(v, HV_X86_RIP, code_gpa(smp_bsp));
	vmm_write_reg(v, HV_X86_RSP, BSP_STACK);
}

/* vCPU 1 as INIT leaves a CPU: real mode, waiting for its SIPI (which sets CS:IP). */
static void ap_state(struct guest *v)
{
	const struct vmm_segment data = { 0, 0, 0xffff, AR_DATA16 };
	const struct vmm_segment ldtr = { 0, 0, 0xffff, AR_LDT };
	const struct vmm_segment tr = { 0, 0, 0xffff, AR_TSS_BUSY };

	controls(v);
	vmm_write_segment(v, SEG_DS, &data);
	vmm_write_segment(v, SEG_ES, &data);
	vmm_write_segment(v, SEG_SS, &data);
	vmm_write_segment(v, SEG_FS, &data);
	vmm_write_segment(v, SEG_GS, &data);
	vmm_write_segment(v, SEG_LDTR, &ldtr);
	vmm_write_segment(v, SEG_TR, &tr);
	vmm_write_vmcs(v, VMCS_GUEST_GDTR_BASE, 0);
	vmm_write_vmcs(v, VMCS_GUEST_GDTR_LIMIT, 0xffff);
	vmm_write_vmcs(v, VMCS_GUEST_IDTR_BASE, 0);
	vmm_write_vmcs(v, VMCS_GUEST_IDTR_LIMIT, 0x3ff);	/* the IVT the VMM wrote */
	vmm_write_vmcs(v, VMCS_GUEST_CR0, vmm_cr0(v, CR0_ET | CR0_NE));
	vmm_write_reg(v, HV_X86_RSP, 0);
}

/* The SIPI's page: CS = ap_rip >> 4 with that base, IP = 0 (as OrbStack starts its APs). */
static void ap_start(struct guest *v, uint64_t rip)
{
	const struct vmm_segment code = { (uint16_t)(rip >> 4), rip, 0xffff, AR_CODE16 };

	vmm_write_segment(v, SEG_CS, &code);
	vmm_write_reg(v, HV_X86_RIP, 0);
}

/* ---- the IOAPIC and the fake device ---- */

/* Pin -> vector, edge, fixed, physical destination APIC ID, unmasked. */
static bool ioapic_route(struct guest *g, unsigned pin, uint8_t vector, uint8_t dest)
{
	/* IOREGSEL (offset 0) picks an entry's dword, IOWIN (0x10) holds it; the high one first. */
	return vmm_ok(g, hv_vm_ioapic_write(IOAPIC_GPA, 0x11 + 2 * pin), "hv_vm_ioapic_write") &&
	       vmm_ok(g, hv_vm_ioapic_write(IOAPIC_GPA + 0x10, (uint32_t)dest << 24),
		      "hv_vm_ioapic_write") &&
	       vmm_ok(g, hv_vm_ioapic_write(IOAPIC_GPA, 0x10 + 2 * pin), "hv_vm_ioapic_write") &&
	       vmm_ok(g, hv_vm_ioapic_write(IOAPIC_GPA + 0x10, vector), "hv_vm_ioapic_write");
}

/* OUT DEVICE_PORT, AL = an APIC ID: "done, interrupt that CPU" — by its IOAPIC pin and by MSI. */
static enum vmm_next device_write(struct guest *v, uint64_t q)
{
	uint8_t id = (uint8_t)vmm_read_reg(v, HV_X86_RAX);

	v->stats.io++;
	if ((q & IO_IN) || id >= VCPUS) {
		plat_printf("vmm: error: %s: the device takes an OUT of an APIC ID below %u "
			    "(qualification 0x%llx, AL %u)\n", v->ops->name, VCPUS,
			    (unsigned long long)q, id);
		return VMM_ABORT;
	}
	if (!vmm_ok(v, hv_vm_ioapic_pulse_irq(DEVICE_PIN(id)), "hv_vm_ioapic_pulse_irq") ||
	    !vmm_ok(v, hv_vm_lapic_msi(MSI_ADDR(id), VEC_MSI), "hv_vm_lapic_msi"))
		return VMM_ABORT;
	plat_printf("vmm: %s: device: IOAPIC pin %u pulsed and an MSI (0x%llx, 0x%x) sent, "
		    "both for APIC ID %u\n", v->ops->name, DEVICE_PIN(id),
		    (unsigned long long)MSI_ADDR(id), VEC_MSI, id);
	vmm_skip_instruction(v);
	return VMM_RESUME;
}

/* ---- APIC-page accesses ---- */

/* A MOV between the APIC page and a register or an immediate. */
struct apic_mov {
	unsigned len;
	bool load;		/* APIC -> reg */
	bool has_imm;		/* store imm, not reg */
	hv_x86_reg_t reg;
	uint32_t imm;
};

/*
 * Decodes the instruction at CS:RIP, 32-bit code without paging (the BSP's):
 * 8B /r (load), 89 /r (store) and C7 /0 id (store imm32), ModRM and SIB
 * addressing, no prefixes — the forms smp.asm uses. Anything else is refused.
 */
static bool decode_mov(struct guest *v, struct apic_mov *m)
{
	static const hv_x86_reg_t gpr[8] = {
		HV_X86_RAX, HV_X86_RCX, HV_X86_RDX, HV_X86_RBX,
		HV_X86_RSP, HV_X86_RBP, HV_X86_RSI, HV_X86_RDI,
	};
	uint64_t rip = vmm_read_reg(v, HV_X86_RIP);
	uint64_t lin = vmm_read_vmcs(v, VMCS_GUEST_CS_BASE) + rip;
	bool code32 = vmm_read_vmcs(v, VMCS_GUEST_CS_AR) & (1u << 14);
	uint8_t b[15] = { 0 };
	unsigned mod, regf, rm;

	if (!code32 || lin >= v->ram_size) {
		plat_printf("vmm: error: %s: APIC access from %s code at 0x%llx: only 32-bit code "
			    "in RAM is decoded\n", v->ops->name, code32 ? "32-bit" : "16-bit",
			    (unsigned long long)lin);
		return false;
	}
	memcpy(b, v->ram + lin, v->ram_size - lin < sizeof(b) ? v->ram_size - lin : sizeof(b));
	*m = (struct apic_mov){ .len = 2, .load = b[0] == 0x8b, .has_imm = b[0] == 0xc7 };
	mod = b[1] >> 6;
	regf = (b[1] >> 3) & 7;
	rm = b[1] & 7;
	if ((b[0] != 0x8b && b[0] != 0x89 && b[0] != 0xc7) || mod == 3 ||
	    (m->has_imm && regf != 0)) {
		plat_printf("vmm: error: %s: APIC access by an instruction this VMM does not "
			    "decode (%02x %02x %02x) at 0x%llx\n", v->ops->name, b[0], b[1], b[2],
			    (unsigned long long)lin);
		return false;
	}
	if (rm == 4) {				/* SIB; base 5 with mod 0: disp32 */
		if (mod == 0 && (b[2] & 7) == 5)
			m->len += 4;
		m->len++;
	} else if (mod == 0 && rm == 5) {	/* disp32 alone */
		m->len += 4;
	}
	m->len += mod == 1 ? 1 : mod == 2 ? 4 : 0;
	if (m->has_imm) {
		memcpy(&m->imm, b + m->len, 4);
		m->len += 4;
	}
	m->reg = gpr[regf];
	return true;
}

/* The write had a side effect the VMM carries out: INIT or SIPI for vCPU 1. */
static bool apic_side_effect(struct guest *v)
{
	hv_vm_exitinfo_t info = HV_VM_EXITINFO_VMX;
	bool actv[VCPUS] = { false };
	uint64_t rip = 0;

	if (!vmm_ok(v, hv_vcpu_exit_info(v->vcpu, &info), "hv_vcpu_exit_info"))
		return false;
	switch (info) {
	case HV_VM_EXITINFO_INIT_AP:
		/* vCPU 1 has not run yet: nothing to reset. Its APIC waits for the SIPI. */
		if (!vmm_ok(v, hv_vcpu_exit_init_ap(v->vcpu, actv, VCPUS), "hv_vcpu_exit_init_ap"))
			return false;
		plat_printf("vmm: %s: INIT_AP: INIT for vCPU 0 %s, vCPU 1 %s\n", v->ops->name,
			    actv[0] ? "yes" : "no", actv[1] ? "yes (it waits for its SIPI)" : "no");
		return !actv[0];
	case HV_VM_EXITINFO_STARTUP_AP:
		if (!vmm_ok(v, hv_vcpu_exit_startup_ap(v->vcpu, actv, VCPUS, &rip),
			    "hv_vcpu_exit_startup_ap"))
			return false;
		if (actv[0] || !actv[1]) {
			plat_printf("vmm: error: %s: STARTUP_AP for vCPUs {%d, %d}: only vCPU 1 "
				    "is an AP here\n", v->ops->name, actv[0], actv[1]);
			return false;
		}
		plat_printf("vmm: %s: STARTUP_AP: vCPU 1 starts in real mode at %04llx:0000\n",
			    v->ops->name, (unsigned long long)(rip >> 4));
		ap_rip = rip;
		atomic_store(&ap_sipi, true);
		return true;
	default:
		plat_printf("vmm: error: %s: an APIC write with side effect %u, which this guest "
			    "never asks for\n", v->ops->name, (unsigned)info);
		return false;
	}
}

/*
 * An APIC-access exit: RIP is on the MOV. A read already has its value (exit info
 * APIC_ACCESS_READ); a write goes to hv_vcpu_apic_write. Then RIP moves past it.
 */
static enum vmm_next apic_access(struct guest *v, hv_vm_exitinfo_t info)
{
	uint64_t q = vmm_read_vmcs(v, VMCS_RO_EXIT_QUALIFIC);
	unsigned type = APIC_TYPE(q);
	struct apic_mov m;
	uint32_t value = 0;
	bool no_side_effect = true;

	v->stats.apic++;
	if (!decode_mov(v, &m))
		return VMM_ABORT;
	if (type == APIC_READ && m.load && info == HV_VM_EXITINFO_APIC_ACCESS_READ) {
		if (!vmm_ok(v, hv_vcpu_exit_apic_access_read(v->vcpu, &value),
			    "hv_vcpu_exit_apic_access_read"))
			return VMM_ABORT;
		vmm_write_reg(v, m.reg, value);
	} else if (type == APIC_WRITE && !m.load && info == HV_VM_EXITINFO_VMX) {
		value = m.has_imm ? m.imm : (uint32_t)vmm_read_reg(v, m.reg);
		if (!vmm_ok(v, hv_vcpu_apic_write(v->vcpu, APIC_OFFSET(q), value, &no_side_effect),
			    "hv_vcpu_apic_write") ||
		    (!no_side_effect && !apic_side_effect(v)))
			return VMM_ABORT;
	} else {
		plat_printf("vmm: error: %s: APIC access of type %u at offset 0x%x by a %s, exit "
			    "info %u: not handled\n", v->ops->name, type, APIC_OFFSET(q),
			    m.load ? "load" : "store", (unsigned)info);
		return VMM_ABORT;
	}
	vmm_write_reg(v, HV_X86_RIP, vmm_read_reg(v, HV_X86_RIP) + m.len);
	return VMM_RESUME;
}

/* ---- exits: the APIC's, the device's, HLT; the rest goes to vmm.c's table ---- */

static enum vmm_next smp_exit(struct guest *v, uint32_t basic)
{
	hv_vm_exitinfo_t info = HV_VM_EXITINFO_VMX;
	uint64_t q;

	if (!vmm_ok(v, hv_vcpu_exit_info(v->vcpu, &info), "hv_vcpu_exit_info"))
		return VMM_ABORT;
	if (basic == VMX_REASON_APIC_ACCESS)
		return apic_access(v, info);
	if (info != HV_VM_EXITINFO_VMX) {
		/* e.g. INIT_AP from an x2APIC ICR write: this guest's AP sends none. */
		plat_printf("vmm: error: %s: exit %u with exit info %u, which this guest never "
			    "causes\n", v->ops->name, basic, (unsigned)info);
		return VMM_ABORT;
	}
	switch (basic) {
	case VMX_REASON_HLT:
		v->stats.hlt++;
		/* With IF = 1 the hypervisor idles HLT itself; one that does not leaves it here. */
		if (vmm_read_reg(v, HV_X86_RFLAGS) & RFLAGS_IF) {
			vmm_skip_instruction(v);
			return VMM_RESUME;
		}
		v->ending = "HLT with interrupts off";
		return VMM_DONE;
	case VMX_REASON_IO:
		q = vmm_read_vmcs(v, VMCS_RO_EXIT_QUALIFIC);
		return IO_PORT(q) == DEVICE_PORT ? device_write(v, q) : VMM_PASS;
	case VMX_REASON_WRMSR:
		/* IA32_APIC_BASE is the hypervisor's: one that still exits is done (OrbStack). */
		if ((uint32_t)vmm_read_reg(v, HV_X86_RCX) == MSR_APIC_BASE) {
			v->stats.msr++;
			vmm_skip_instruction(v);
			return VMM_RESUME;
		}
		return VMM_PASS;
	default:
		return VMM_PASS;
	}
}

/* ---- running two vCPUs ---- */

/* Runs v until the deadline passes or it stops (VMM_DONE, VMM_ABORT). */
static enum vmm_next run_slice(struct guest *v, uint64_t until)
{
	enum vmm_next next;

	do
		next = vmm_run_until(v, until);
	while (next == VMM_RESUME && v->exit_reason != VMX_REASON_VMX_TIMER_EXPIRED &&
	       plat_clock() < until);
	return next;
}

/* vCPU 1 on this CPU: its record, the vCPU, its state. */
static bool ap_create(struct guest *bsp)
{
	memset(&ap, 0, sizeof(ap));
	ap.ops = &ap_ops;
	ap.ending = "?";
	ap.ram = bsp->ram;
	ap.ram_size = bsp->ram_size;
	if (!vmm_ok(&ap, hv_vcpu_create(&ap.vcpu, HV_VCPU_DEFAULT), "hv_vcpu_create"))
		return false;
	if (ap.vcpu != 1) {
		plat_printf("vmm: error: %s: hv_vcpu_create gave vCPU %u, not 1\n", ap.ops->name,
			    ap.vcpu);
		ap.failed = true;
	}
	vmm_write_vmcs(&ap, VMCS_GUEST_ACTIVITY_STATE, 0);
	vmm_write_vmcs(&ap, VMCS_GUEST_INTERRUPTIBILITY, 0);
	ap_state(&ap);
	if (ap.failed)
		vmm_ok(&ap, hv_vcpu_destroy(ap.vcpu), "hv_vcpu_destroy");
	return !ap.failed;
}

/* vCPU 1's turn of up to ms on its own CPU: nothing before its SIPI. */
static enum vmm_next ap_turn(unsigned ms)
{
	if (!ap_started) {
		if (!atomic_load(&ap_sipi))
			return VMM_RESUME;
		ap_start(&ap, ap_rip);
		ap_started = true;
		if (ap.failed)
			return VMM_ABORT;
	}
	return run_slice(&ap, plat_clock() + plat_clock_ms(ms));
}

static void ap_end(enum vmm_next how)
{
	vmm_ok(&ap, hv_vcpu_destroy(ap.vcpu), "hv_vcpu_destroy");
	ap_how = ap.failed ? VMM_ABORT : how;
	atomic_store(&ap_finished, true);
}

/* The second CPU's part: vCPU 1 from creation to its end, or until vCPU 0 says stop. */
static void ap_thread(void *bsp)
{
	enum vmm_next how = VMM_RESUME;

	if (!ap_create(bsp)) {
		atomic_store(&ap_created, -1);
		return;
	}
	atomic_store(&ap_created, 1);
	while (how == VMM_RESUME && !atomic_load(&stop)) {
		how = ap_turn(SLICE_MS);
		if (!ap_started)
			__builtin_ia32_pause();		/* waiting for the SIPI */
	}
	ap_end(how);
}

/* What the CPUs counted, from guest memory: true if each did all it should. */
static bool check_counts(struct guest *g)
{
	bool ok = true;

	for (unsigned n = 0; n < VCPUS; n++) {
		struct smp_counts c;

		memcpy(&c, g->ram + CPU_GPA(n), sizeof(c));
		if (c.timer != TICKS || c.ipi != 1 || c.ioapic != 1 || c.msi != 1 || c.id != n ||
		    c.x2apic != (uint32_t)(n == 1)) {
			plat_printf("vmm: error: %s: vCPU %u counted timer %u, IPI %u, IOAPIC %u, "
				    "MSI %u with APIC ID %u, x2APIC %u; wanted %u, 1, 1, 1, "
				    "%u, %u\n",
				    g->ops->name, n, c.timer, c.ipi, c.ioapic, c.msi, c.id,
				    c.x2apic, TICKS, n, n == 1);
			ok = false;
		}
	}
	if (ok)
		plat_printf("vmm: %s: checked in guest memory: vCPU 0 (xAPIC) and vCPU 1 (x2APIC) "
			    "each took %u timer interrupts, 1 IPI, 1 IOAPIC interrupt and 1 MSI\n",
			    g->ops->name, TICKS);
	return ok;
}

/*
 * vCPU 0 here, vCPU 1 on the second CPU if there is one; otherwise both here,
 * a turn each. Ends when vCPU 0 halts with interrupts off (after vCPU 1 did).
 */
static enum vmm_next smp_run(struct guest *g)
{
	uint64_t give_up = plat_clock() + plat_clock_ms(TIMEOUT_MS);
	bool two = plat_cpu_count() > 1 && plat_start_cpu(1, ap_thread, g);
	enum vmm_next how = VMM_RESUME;

	if (!two)
		atomic_store(&ap_created, ap_create(g) ? 1 : -1);
	while (!atomic_load(&ap_created))
		__builtin_ia32_pause();
	if (atomic_load(&ap_created) < 0)
		how = VMM_ABORT;
	else if (two)
		plat_printf("vmm: %s: two CPUs: vCPU 0 runs on this one, vCPU 1 on another "
			    "(each on the CPU that created it)\n", g->ops->name);
	else
		plat_printf("vmm: %s: one CPU: vCPU 0 and vCPU 1 take turns of %u ms "
			    "(hv_vcpu_run_until)\n", g->ops->name, TURN_MS);
	while (how == VMM_RESUME) {
		if (plat_clock() > give_up) {
			plat_printf("vmm: error: %s: not finished after %u ms\n", g->ops->name,
				    TIMEOUT_MS);
			how = VMM_ABORT;
			break;
		}
		how = run_slice(g, plat_clock() + plat_clock_ms(two ? SLICE_MS : TURN_MS));
		if (!two && !atomic_load(&ap_finished)) {
			enum vmm_next next = ap_turn(TURN_MS);

			if (next != VMM_RESUME)
				ap_end(next);
		}
		/* vCPU 0 waits for vCPU 1 to finish: if it cannot, neither can vCPU 0. */
		if (atomic_load(&ap_finished) && ap_how != VMM_DONE)
			how = VMM_ABORT;
	}
	atomic_store(&stop, true);
	if (two)
		plat_wait_cpus();
	else if (atomic_load(&ap_created) > 0 && !atomic_load(&ap_finished))
		ap_end(VMM_ABORT);
	if (atomic_load(&ap_created) > 0)
		vmm_summary(&ap, ap_how);
	if (how == VMM_DONE && ap_how != VMM_DONE) {
		plat_printf("vmm: error: %s: vCPU 0 finished, vCPU 1 did not\n", g->ops->name);
		g->failed = true;
	} else if (how == VMM_DONE && !check_counts(g)) {
		g->failed = true;
	}
	return how;
}

/* ---- setup ---- */

static bool smp_setup(struct guest *g)
{
	atomic_store(&ap_created, 0);
	atomic_store(&ap_sipi, false);
	atomic_store(&ap_finished, false);
	atomic_store(&stop, false);
	ap_started = false;
	ap_how = VMM_ABORT;

	/* The guest sends to APIC IDs 0 and 1: the vCPU ids (as OrbStack finds). */
	if (g->vcpu != 0) {
		plat_printf("vmm: error: %s: hv_vcpu_create gave vCPU %u, not 0\n", g->ops->name,
			    g->vcpu);
		return false;
	}
	g->ram = vmm_map(g, 0, RAM_SIZE);
	if (!g->ram)
		return false;
	g->ram_size = RAM_SIZE;
	build_memory(g->ram);
	bsp_state(g);
	/* As firmware would: the device's pins, one per CPU, to the same vector. */
	for (uint8_t id = 0; id < VCPUS; id++)
		if (!ioapic_route(g, DEVICE_PIN(id), VEC_IOAPIC, id))
			return false;
	return !g->failed;
}

const struct guest_ops guest_smp_ops = {
	.name = "SMP guest",
	.setup = smp_setup,
	.soft_int = NULL,
	.ept_fault = NULL,
	.exit = smp_exit,
	.run = smp_run,
};
